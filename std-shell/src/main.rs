//! The `veil` binary: parses the command line, calls the library, prints.
//!
//! Contract (SPEC.md, "CLI contract"): exit 0 on success; 1 on any failure of
//! content, cryptography, verification, overflow, I/O; 2 only for
//! command-line syntax errors. On failure exactly one line goes to stderr and
//! nothing to stdout.

extern crate alloc;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use veil::drand::cache::BeaconCache;
use veil::drand::client::ClientOptions;
use veil::drand::devnet::{self, Devnet};
use veil::drand::{self, Clock, DrandClient, Relay, SystemClock};
use veil::io::{Output, open_input};
use veil::registry::subtensor::{SubtensorOptions, SubtensorRegistry};
use veil::registry::{self, CommitmentBook, CommitmentRegistry, LocalRegistry, Published};
use veil::store::s3::S3Config;
use veil::store::spool::{self, Spool, Upload, Uploader};
use veil::store::{self, ObjectMeta, ObjectStore, RetryPolicy};
use veil::timelock::{self, DecryptOptions, KeySource};
use veil::{args, chains, keys};
use veil_core::commitment::ReadCommitment;
use veil_core::format::Format;
use veil_core::sign::{PublicKey, Signature};
use veil_core::ss58;
use veil_core::{Beacon, Chain};

#[derive(Parser)]
#[command(
    name = "veil",
    version,
    about = "Seal data until a drand round; carry it between Bittensor miners and validators"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// drand round math.
    #[command(subcommand)]
    Round(RoundCommand),
    /// drand beacons.
    #[command(subcommand)]
    Beacon(BeaconCommand),
    /// Seal IN (default stdin) until a drand round.
    Encrypt {
        /// The round to seal to.
        #[arg(
            long,
            value_name = "R",
            allow_hyphen_values = true,
            required_unless_present = "at",
            conflicts_with = "at"
        )]
        round: Option<String>,
        /// Seal to the first round emitted at or after this unix time.
        #[arg(long, value_name = "UNIX_SECONDS", allow_hyphen_values = true)]
        at: Option<String>,
        /// age (drand tle, tlock-js), tle (PyPI timelock, bittensor-drand),
        /// tle-v03 (timelock crate 0.3.0) or bittensor (SCALE envelope).
        #[arg(long, value_name = "FORMAT", default_value = "age")]
        format: String,
        /// ASCII-armor the age output.
        #[arg(long)]
        armor: bool,
        #[command(flatten)]
        chain: ChainArg,
        /// Write here (atomically) instead of stdout.
        #[arg(short = 'o', long = "output", value_name = "OUT")]
        output: Option<PathBuf>,
        /// The plaintext (default stdin).
        #[arg(value_name = "IN")]
        input: Option<PathBuf>,
    },
    /// Open a sealed IN (default stdin); the format is detected.
    Decrypt {
        /// The round's beacon signature, hex.
        #[arg(
            long,
            value_name = "HEX",
            allow_hyphen_values = true,
            required_unless_present = "relay",
            conflicts_with = "relay"
        )]
        signature: Option<String>,
        /// Fetch the round's beacon from this drand relay (a base URL or a
        /// chain URL ending in the chain hash); repeat to fail over in order.
        #[arg(long, value_name = "URL")]
        relay: Vec<String>,
        /// With --relay: sleep until the round is emitted instead of failing
        /// with "too early".
        #[arg(long, requires = "relay")]
        wait: bool,
        /// The round sealed to: needed to verify the beacon of a raw TLE;
        /// must match the round an age or bittensor file carries.
        #[arg(long, value_name = "R", allow_hyphen_values = true)]
        round: Option<String>,
        #[command(flatten)]
        chain: ChainArg,
        /// Write here (all or nothing) instead of stdout.
        #[arg(short = 'o', long = "output", value_name = "OUT")]
        output: Option<PathBuf>,
        /// The ciphertext (default stdin).
        #[arg(value_name = "IN")]
        input: Option<PathBuf>,
    },
    /// Print the SS58 address of a hotkey.
    Address {
        #[command(flatten)]
        key: KeyArgs,
    },
    /// Sign a message with a hotkey (sr25519, context "substrate"); prints
    /// 128 lowercase hex characters.
    Sign {
        #[command(flatten)]
        key: KeyArgs,
        #[command(flatten)]
        message: MessageArgs,
    },
    /// Verify a signature: exit 0 when valid, 1 when invalid or malformed.
    /// A signature over <Bytes>MESSAGE</Bytes> is accepted too.
    Verify {
        /// The signer's SS58 address.
        #[arg(long, value_name = "SS58", allow_hyphen_values = true)]
        address: String,
        #[command(flatten)]
        message: MessageArgs,
        /// 128 hex characters (0x allowed).
        #[arg(long, value_name = "HEX", allow_hyphen_values = true)]
        signature: String,
    },
    /// GRAIL read commitments.
    #[command(subcommand)]
    Commitment(CommitmentCommand),
    /// Object stores: a directory (default), S3/R2 from the R2_* environment,
    /// or a public bucket URL.
    #[command(subcommand)]
    Store(StoreCommand),
    /// Run a MIID Phase 4 miner: serve IdentitySynapse over the bittensor
    /// axon protocol; prints `listening http://ADDR hotkey SS58` once bound.
    Miner(Box<MinerArgs>),
    /// Run MIID Phase 4 validator cycles: query the miners, check every
    /// submission, write results JSON; prints each results file's path.
    Validator(Box<ValidatorArgs>),
    /// Post-validation: once the target round of a results file is
    /// emitted, open every accepted submission and check it; writes the
    /// reveal JSON, the HTML report and the reputation file. Resumable.
    Reveal(Box<RevealArgs>),
    /// The whole Phase 4 flow on this machine, nothing to set up: a devnet
    /// beacon, a local store, N miners and a validator over loopback, then
    /// the reveal; prints a summary and where the report is.
    Sandbox(Box<SandboxArgs>),
    /// Describe a sealed IN as JSON without decrypting it.
    Inspect {
        /// The ciphertext (default stdin).
        #[arg(value_name = "IN")]
        input: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum RoundCommand {
    /// Print the first round emitted at or after UNIX_SECONDS (seal to it and
    /// the data never opens before that time).
    At {
        /// Unix time, seconds.
        #[arg(value_name = "UNIX_SECONDS", allow_hyphen_values = true)]
        unix_seconds: String,
        #[command(flatten)]
        chain: ChainArg,
    },
    /// Print the emission time (unix seconds) of ROUND.
    Time {
        /// Round number (1 or more).
        #[arg(value_name = "ROUND", allow_hyphen_values = true)]
        round: String,
        #[command(flatten)]
        chain: ChainArg,
    },
}

#[derive(Subcommand)]
enum BeaconCommand {
    /// Fetch a beacon from drand relays, verified; prints its JSON.
    Fetch {
        /// The round to fetch.
        #[arg(
            long,
            value_name = "R",
            allow_hyphen_values = true,
            required_unless_present = "latest",
            conflicts_with = "latest"
        )]
        round: Option<String>,
        /// The latest round the relays serve.
        #[arg(long)]
        latest: bool,
        /// A drand relay (base URL or chain URL); repeat to fail over in
        /// order. Default: the public drand relays.
        #[arg(long, value_name = "URL")]
        relay: Vec<String>,
        #[command(flatten)]
        chain: ChainArg,
    },
    /// Serve a devnet drand chain (bls-unchained-g1-rfc9380) over drand's
    /// HTTP API; prints `listening http://ADDR/{chainhash}` once bound.
    Serve {
        /// Address to listen on (port 0 picks a free port).
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
        listen: String,
        /// Seconds between rounds (1 or more; default 3 for a new devnet).
        #[arg(long, value_name = "S", allow_hyphen_values = true)]
        period: Option<String>,
        /// Keep the devnet in this file (created 0600 when missing), so a
        /// restart serves the same chain. Without it the key is ephemeral.
        #[arg(long, value_name = "FILE")]
        key: Option<PathBuf>,
        /// Write the chain's drand /info JSON here once bound (for --chain).
        #[arg(long, value_name = "FILE")]
        info_out: Option<PathBuf>,
    },
    /// Verify a beacon: exit 0 when valid, 1 when invalid or malformed.
    Verify {
        /// The beacon's round.
        #[arg(long, value_name = "R", allow_hyphen_values = true)]
        round: String,
        /// The beacon's signature, hex.
        #[arg(long, value_name = "HEX", allow_hyphen_values = true)]
        signature: String,
        /// The previous round's signature, hex (chained chains only).
        #[arg(long, value_name = "HEX", allow_hyphen_values = true)]
        previous_signature: Option<String>,
        #[command(flatten)]
        chain: ChainArg,
    },
}

#[derive(Subcommand)]
enum CommitmentCommand {
    /// Print the 128-character commitment of a bucket's read-only key pair.
    Encode {
        /// The bucket, which GRAIL requires to equal the R2 account id.
        #[arg(long, value_name = "B", allow_hyphen_values = true)]
        bucket: String,
        /// The read-only access key id.
        #[arg(long, value_name = "K", allow_hyphen_values = true)]
        read_access_key_id: String,
        /// The read-only secret access key.
        #[arg(long, value_name = "S", allow_hyphen_values = true)]
        read_secret_access_key: String,
    },
    /// Print a commitment's fields as JSON.
    Decode {
        /// The 128-character commitment.
        #[arg(value_name = "STR", allow_hyphen_values = true)]
        commitment: String,
    },
    /// Publish our read commitment (from the R2_* environment) to the local
    /// registry, after checking it: a read pair distinct from the write
    /// pair, bucket = account id, and (unless --no-probe) a read pair that
    /// can list the bucket but not write to it. Writes only when changed.
    Publish {
        /// The registry file.
        #[arg(long, value_name = "FILE")]
        registry: PathBuf,
        /// Our hotkey's SS58 address.
        #[arg(long, value_name = "SS58", allow_hyphen_values = true)]
        hotkey: String,
        /// Skip the live check of the read pair against the bucket.
        #[arg(long)]
        no_probe: bool,
    },
    /// Print the commitments a registry holds, as JSON (bucket and read key
    /// id per hotkey; entries that cannot be read are listed with why).
    List {
        /// A local registry file.
        #[arg(
            long,
            value_name = "FILE",
            required_unless_present = "subtensor",
            conflicts_with = "subtensor"
        )]
        registry: Option<PathBuf>,
        /// A subtensor node's WebSocket JSON-RPC URL (ws:// or wss://).
        #[arg(long, value_name = "URL", requires = "netuid")]
        subtensor: Option<String>,
        /// The subnet (with --subtensor).
        #[arg(long, value_name = "N")]
        netuid: Option<String>,
        /// Keep only these hotkeys (the metagraph); repeatable.
        #[arg(long, value_name = "SS58", allow_hyphen_values = true)]
        hotkey: Vec<String>,
    },
}

#[derive(Args)]
struct StoreArg {
    /// dir:PATH or a path (local directory), s3://BUCKET or s3/r2 (S3/R2
    /// with the R2_* environment), or public:URL (anonymous; anyone can
    /// overwrite such objects).
    #[arg(long, value_name = "STORE", default_value = "veil-store")]
    store: String,
}

impl StoreArg {
    fn open(&self) -> Result<alloc::sync::Arc<dyn ObjectStore>> {
        if self.store.starts_with("public:") {
            // Printed once the command succeeds: a failure is one line.
            PUBLIC_STORE_USED.store(true, core::sync::atomic::Ordering::Relaxed);
        }
        let env = |name: &str| std::env::var(name).ok();
        Ok(store::from_spec(&self.store, &env, RetryPolicy::default())?)
    }
}

/// Set when a public bucket was used, so `main` prints the warning.
static PUBLIC_STORE_USED: core::sync::atomic::AtomicBool =
    core::sync::atomic::AtomicBool::new(false);

#[derive(Subcommand)]
enum StoreCommand {
    /// Upload IN (default stdin) under KEY; prints {"key", "size"}.
    Put {
        /// The object key.
        #[arg(value_name = "KEY", allow_hyphen_values = true)]
        key: String,
        /// The object (default stdin).
        #[arg(value_name = "IN")]
        input: Option<PathBuf>,
        #[command(flatten)]
        store: StoreArg,
        /// When the upload keeps failing, keep the object in this spool
        /// directory for `veil store flush` (the command still fails: the
        /// object is not stored yet).
        #[arg(long, value_name = "DIR")]
        spool: Option<PathBuf>,
    },
    /// Download KEY.
    Get {
        /// The object key.
        #[arg(value_name = "KEY", allow_hyphen_values = true)]
        key: String,
        #[command(flatten)]
        store: StoreArg,
        /// Refuse objects larger than this.
        #[arg(long, value_name = "N", default_value = "1073741824")]
        max_bytes: String,
        /// Write here (all or nothing) instead of stdout.
        #[arg(short = 'o', long = "output", value_name = "OUT")]
        output: Option<PathBuf>,
    },
    /// Print {"key", "size", "last_modified"} of KEY; exit 1 when absent.
    Head {
        /// The object key.
        #[arg(value_name = "KEY", allow_hyphen_values = true)]
        key: String,
        #[command(flatten)]
        store: StoreArg,
    },
    /// Print one JSON line per object under PREFIX.
    List {
        /// The key prefix (default: everything).
        #[arg(value_name = "PREFIX", default_value = "", allow_hyphen_values = true)]
        prefix: String,
        #[command(flatten)]
        store: StoreArg,
    },
    /// Delete KEY (absent keys too).
    Delete {
        /// The object key.
        #[arg(value_name = "KEY", allow_hyphen_values = true)]
        key: String,
        #[command(flatten)]
        store: StoreArg,
    },
    /// Upload what a spool holds; prints {"uploaded", "remaining"}; exit 1
    /// while objects remain.
    Flush {
        /// The spool directory.
        #[arg(long, value_name = "DIR")]
        spool: PathBuf,
        #[command(flatten)]
        store: StoreArg,
    },
}

/// Where the hotkey comes from. Without --seed or --seed-file, the bittensor
/// wallet named by --wallet.* (or BT_WALLET_NAME/HOTKEY/PATH, or "default").
#[derive(Args)]
struct KeyArgs {
    /// The secret as hex: a 32-byte mini secret or a 64-byte secret key.
    #[arg(long, value_name = "HEX", allow_hyphen_values = true, conflicts_with_all = ["seed_file", "wallet_name", "wallet_hotkey", "wallet_path"])]
    seed: Option<String>,
    /// A file holding the hex seed (must not be readable by others).
    #[arg(long, value_name = "F", conflicts_with_all = ["wallet_name", "wallet_hotkey", "wallet_path"])]
    seed_file: Option<PathBuf>,
    /// Wallet name.
    #[arg(long = "wallet.name", value_name = "N")]
    wallet_name: Option<String>,
    /// Hotkey name.
    #[arg(long = "wallet.hotkey", value_name = "H")]
    wallet_hotkey: Option<String>,
    /// Wallets directory.
    #[arg(long = "wallet.path", value_name = "P")]
    wallet_path: Option<PathBuf>,
}

impl KeyArgs {
    fn keypair(self) -> Result<veil_core::sign::Keypair> {
        Ok(match (self.seed, self.seed_file) {
            (Some(hex), _) => keys::keypair_from_seed_hex("--seed", &hex)?,
            (None, Some(path)) => keys::keypair_from_seed_file(&path)?,
            (None, None) => keys::keypair_from_wallet(&keys::WalletRef::resolve(
                self.wallet_name,
                self.wallet_hotkey,
                self.wallet_path,
            ))?,
        })
    }
}

/// The message: its UTF-8 bytes exactly (a leading 0x is not decoded), or hex.
#[derive(Args)]
#[group(required = true, multiple = false)]
struct MessageArgs {
    /// The message text; its UTF-8 bytes are signed exactly.
    #[arg(long, value_name = "STR", allow_hyphen_values = true)]
    message: Option<String>,
    /// The message as hex bytes.
    #[arg(long, value_name = "HEX", allow_hyphen_values = true)]
    message_hex: Option<String>,
}

impl MessageArgs {
    fn bytes(self) -> Result<Vec<u8>> {
        match (self.message, self.message_hex) {
            (Some(text), _) => Ok(text.into_bytes()),
            (None, Some(hex)) => {
                let digits = hex
                    .strip_prefix("0x")
                    .or_else(|| hex.strip_prefix("0X"))
                    .unwrap_or(&hex);
                Ok(::hex::decode(digits).map_err(|e| veil::Error::value("--message-hex", e))?)
            }
            (None, None) => unreachable_args(),
        }
    }
}

#[derive(Args)]
struct MinerArgs {
    /// Address to listen on (port 0: any free port).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8091")]
    listen: String,
    #[command(flatten)]
    key: KeyArgs,
    #[command(flatten)]
    store: StoreArg,
    /// Where objects wait when the store keeps failing (uploaded later,
    /// never reported until stored).
    #[arg(long, value_name = "DIR", default_value = "veil-spool")]
    spool: PathBuf,
    #[command(flatten)]
    chain: ChainArg,
    /// Timelock format of the sealed images (MIID's graders read bittensor).
    #[arg(long, value_name = "FORMAT", default_value = "bittensor")]
    format: String,
    /// A validator hotkey allowed to query; repeatable.
    #[arg(long = "allow", value_name = "SS58", allow_hyphen_values = true)]
    allow: Vec<String>,
    /// Allow the hotkeys of this metagraph file with at least --min-stake.
    #[arg(long, value_name = "FILE")]
    metagraph: Option<PathBuf>,
    /// Stake (TAO) a metagraph hotkey needs to be allowed.
    #[arg(
        long,
        value_name = "TAO",
        default_value = "1000",
        requires = "metagraph"
    )]
    min_stake: String,
    /// Allow any caller with a valid signature (testing only).
    #[arg(long, conflicts_with_all = ["allow", "metagraph"])]
    allow_any: bool,
    /// An external generator (JSON on stdin, PNGs out; see the docs)
    /// instead of the built-in transforms.
    #[arg(long, value_name = "CMD")]
    generator_cmd: Option<String>,
    /// Seconds the external generator may take per variation.
    #[arg(long, value_name = "S", default_value = "600")]
    generator_timeout: String,
    /// Largest request body accepted, bytes.
    #[arg(long, value_name = "N", default_value = "33554432")]
    max_body: String,
    /// Variations worked on at once (default: the number of CPUs).
    #[arg(long, value_name = "N")]
    concurrency: Option<String>,
    /// Seal to rounds already emitted instead of refusing the request
    /// (testing with public beacons only: anyone can open such images).
    #[arg(long)]
    allow_emitted_rounds: bool,
}

#[derive(Args)]
struct ValidatorArgs {
    #[command(flatten)]
    key: KeyArgs,
    /// A folder of base images (png, jpg, jpeg). Default: the samples
    /// shipped with veil.
    #[arg(long, value_name = "DIR")]
    images: Option<PathBuf>,
    /// A miner to query, HOST:PORT:SS58; repeatable (uids 0, 1, ... in order).
    #[arg(
        long = "miner",
        value_name = "HOST:PORT:SS58",
        required_unless_present = "metagraph"
    )]
    miners: Vec<String>,
    /// Query the serving neurons of this metagraph file instead.
    #[arg(long, value_name = "FILE", conflicts_with = "miners")]
    metagraph: Option<PathBuf>,
    /// Where the miners' objects are (used for miners without a commitment).
    #[command(flatten)]
    store: StoreArg,
    /// Read each miner's bucket from its commitment in this registry file.
    #[arg(long, value_name = "FILE", conflicts_with = "subtensor")]
    registry: Option<PathBuf>,
    /// ... or from subtensor's Commitments over this JSON-RPC URL.
    #[arg(long, value_name = "URL", requires = "netuid")]
    subtensor: Option<String>,
    /// The subnet (with --subtensor).
    #[arg(long, value_name = "N")]
    netuid: Option<String>,
    #[command(flatten)]
    chain: ChainArg,
    /// The timelock format miners are expected to use (recorded).
    #[arg(long, value_name = "FORMAT", default_value = "bittensor")]
    format: String,
    /// Where results go.
    #[arg(long, value_name = "DIR", default_value = "veil-results")]
    out: PathBuf,
    /// The reputation file of the previous reveal (weights come from it).
    #[arg(long, value_name = "FILE")]
    reputation: Option<PathBuf>,
    /// Where the weights are written (default: OUT/weights.json).
    #[arg(long, value_name = "FILE")]
    weights_out: Option<PathBuf>,
    /// Seconds to wait for each miner's answer.
    #[arg(long, value_name = "S", default_value = "120")]
    timeout: String,
    /// Seconds between the last possible answer and the target round.
    #[arg(long, value_name = "S", default_value = "60")]
    reveal_buffer: String,
    /// Extra attempts on timeouts, connection errors and 5xx.
    #[arg(long, value_name = "N", default_value = "2")]
    retries: String,
    /// Variations asked of each miner (1 to 16).
    #[arg(long, value_name = "K", default_value = "5")]
    variations: String,
    /// Cycles to run (0: until stopped).
    #[arg(long, value_name = "N", default_value = "1")]
    cycles: String,
    /// Seconds from the start of one cycle to the start of the next.
    #[arg(long, value_name = "S", default_value = "0")]
    period: String,
    /// Miners queried at once.
    #[arg(long, value_name = "N", default_value = "64")]
    concurrency: String,
}

#[derive(Args)]
struct RevealArgs {
    /// The results file of a validator cycle.
    #[arg(long, value_name = "FILE")]
    results: PathBuf,
    /// Fetch the round's beacon from this drand relay (or a devnet);
    /// repeat to fail over in order. Default: the public drand relays.
    #[arg(long, value_name = "URL")]
    relay: Vec<String>,
    /// The round's beacon signature, hex, instead of fetching it (it is
    /// verified against the chain of the results).
    #[arg(
        long,
        value_name = "HEX",
        allow_hyphen_values = true,
        conflicts_with = "relay"
    )]
    signature: Option<String>,
    /// Read every miner's objects from this store instead of the one the
    /// results name (miners with a commitment are read from its bucket).
    #[arg(long, value_name = "STORE")]
    store: Option<String>,
    /// Read commitments (the miners' buckets and read keys) from this
    /// registry file.
    #[arg(long, value_name = "FILE", conflicts_with = "subtensor")]
    registry: Option<PathBuf>,
    /// ... or from subtensor's Commitments over this JSON-RPC URL.
    #[arg(long, value_name = "URL", requires = "netuid")]
    subtensor: Option<String>,
    /// The subnet (with --subtensor).
    #[arg(long, value_name = "N")]
    netuid: Option<String>,
    /// Where the reveal JSON, the report and the journal go (default: the
    /// results file's folder).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// The reputation file to update (default: OUT/reputation.json); give
    /// the same to `veil validator --reputation`.
    #[arg(long, value_name = "FILE")]
    reputation: Option<PathBuf>,
    /// Objects opened at once (default: the number of CPUs).
    #[arg(long, value_name = "N")]
    jobs: Option<String>,
    /// Objects downloaded at once.
    #[arg(long, value_name = "N", default_value = "16")]
    downloads: String,
}

#[derive(Args)]
struct SandboxArgs {
    /// Miners run in this process.
    #[arg(long, value_name = "N", default_value = "3")]
    miners: String,
    /// Variations asked of each miner (1 to 16).
    #[arg(long, value_name = "K", default_value = "5")]
    variations: String,
    /// Cycles to run.
    #[arg(long, value_name = "C", default_value = "1")]
    cycles: String,
    /// Where everything goes.
    #[arg(long, value_name = "DIR", default_value = "veil-sandbox")]
    out: PathBuf,
    /// Seconds from the start of one cycle to the start of the next.
    #[arg(long, value_name = "S", default_value = "0")]
    period: String,
    /// Also query this miner, HOST:PORT:SS58 (it must allow any validator
    /// and seal to the sandbox's chain); repeatable.
    #[arg(long = "remote-miner", value_name = "HOST:PORT:SS58")]
    remote_miners: Vec<String>,
    /// Use these drand relays (with --chain) instead of the devnet.
    #[arg(long, value_name = "URL")]
    relay: Vec<String>,
    #[command(flatten)]
    chain: ChainArg,
    /// Store the objects here (dir:PATH, s3://BUCKET, public:URL) instead
    /// of OUT/store.
    #[arg(long, value_name = "STORE")]
    store: Option<String>,
    /// Seconds each miner has to answer.
    #[arg(long, value_name = "S", default_value = "5")]
    timeout: String,
    /// Objects opened at once in the reveal (default: the number of CPUs).
    #[arg(long, value_name = "N")]
    jobs: Option<String>,
}

#[derive(Args)]
struct ChainArg {
    /// A built-in chain (quicknet, quicknet-t, default/mainnet, fastnet,
    /// testnet-unchained) or the path of a drand /info JSON file.
    #[arg(long, value_name = "C", default_value = chains::DEFAULT_CHAIN.name())]
    chain: String,
}

impl ChainArg {
    fn resolve(&self) -> Result<Chain> {
        Ok(chains::resolve(&self.chain)?)
    }
}

fn run(cli: Cli, out: &mut impl Write) -> Result<()> {
    match cli.command {
        Command::Encrypt {
            round,
            at,
            format,
            armor,
            chain,
            output,
            input,
        } => {
            let format =
                Format::from_name(&format).map_err(|e| veil::Error::value("--format", e))?;
            let chain = chain.resolve()?;
            let round = match (round, at) {
                (Some(r), _) => args::parse_round("--round", &r)?,
                (None, Some(t)) => {
                    let t = args::parse_u64("--at", &t)?;
                    chain
                        .time()
                        .reveal_round(t)
                        .map_err(veil_core::Error::from)
                        .with_context(|| format!("--at {t}"))?
                }
                (None, None) => unreachable_args()?,
            };
            let mut input = open_input(input.as_deref())?;
            let mut sink = Output::create(output.as_deref())?;
            timelock::encrypt(
                &chain,
                round,
                format,
                armor,
                &mut input,
                &mut sink,
                &mut rand_core::OsRng,
            )?;
            sink.commit()?;
        }
        Command::Decrypt {
            signature,
            relay,
            wait,
            round,
            chain,
            output,
            input,
        } => {
            let chain = chain.resolve()?;
            let key = match signature {
                Some(sig) => KeySource::Signature(args::parse_signature_hex("--signature", &sig)?),
                None => {
                    let client = drand_client(&chain, &relay)?;
                    let rt = runtime()?;
                    KeySource::Fetch(Box::new(move |round| {
                        let beacon = rt.block_on(async {
                            if wait {
                                client.wait_for_round(round, &SystemClock).await
                            } else {
                                client.beacon(round, &SystemClock).await
                            }
                        })?;
                        Ok(beacon.signature)
                    }))
                }
            };
            let opts = DecryptOptions {
                chain,
                key,
                round: round
                    .map(|r| args::parse_round("--round", &r))
                    .transpose()?,
            };
            let mut input = open_input(input.as_deref())?;
            let mut sink = Output::create(output.as_deref())?;
            timelock::decrypt(&opts, &mut input, &mut sink)?;
            sink.commit()?;
        }
        Command::Address { key } => {
            let kp = key.keypair()?;
            writeln!(
                out,
                "{}",
                ss58::encode(ss58::BITTENSOR_PREFIX, &kp.public().to_bytes())
            )?;
        }
        Command::Sign { key, message } => {
            let kp = key.keypair()?;
            let sig = kp.sign(&message.bytes()?, &mut rand_core::OsRng);
            writeln!(out, "{}", sig.to_hex())?;
        }
        Command::Verify {
            address,
            message,
            signature,
        } => {
            let (_, key) =
                ss58::decode(address.trim()).map_err(|e| veil::Error::value("--address", e))?;
            let pk = PublicKey::from_bytes(&key).map_err(|e| veil::Error::value("--address", e))?;
            let sig = Signature::from_hex(signature.trim())
                .map_err(|e| veil::Error::value("--signature", e))?;
            pk.verify(&message.bytes()?, &sig)
                .map_err(veil_core::Error::from)
                .with_context(|| format!("signature by {}", address.trim()))?;
        }
        Command::Commitment(CommitmentCommand::Encode {
            bucket,
            read_access_key_id,
            read_secret_access_key,
        }) => {
            let c = ReadCommitment {
                bucket: &bucket,
                read_access_key_id: &read_access_key_id,
                read_secret_access_key: &read_secret_access_key,
            };
            writeln!(out, "{}", c.encode().map_err(veil_core::Error::from)?)?;
        }
        Command::Commitment(CommitmentCommand::Decode { commitment }) => {
            let c = ReadCommitment::parse(&commitment).map_err(veil_core::Error::from)?;
            let json = serde_json::json!({
                "bucket": c.bucket,
                "read_access_key_id": c.read_access_key_id,
                "read_secret_access_key": c.read_secret_access_key,
            });
            writeln!(out, "{json}")?;
        }
        Command::Commitment(CommitmentCommand::Publish {
            registry,
            hotkey,
            no_probe,
        }) => {
            let env = |name: &str| std::env::var(name).ok();
            let config = S3Config::from_env(&env, None)?;
            let commitment =
                runtime()?.block_on(registry::check_publishable(&config, !no_probe))?;
            let status = LocalRegistry::new(&registry).publish(&hotkey, &commitment)?;
            let c = commitment.read();
            let json = serde_json::json!({
                "hotkey": hotkey,
                "bucket": c.bucket,
                "read_access_key_id": c.read_access_key_id,
                "status": match status { Published::Written => "written", Published::Unchanged => "unchanged" },
            });
            writeln!(out, "{json}")?;
        }
        Command::Commitment(CommitmentCommand::List {
            registry,
            subtensor,
            netuid,
            hotkey,
        }) => {
            let Some(source) =
                commitment_registry(registry.as_deref(), subtensor.as_deref(), netuid.as_deref())?
            else {
                anyhow::bail!("give --registry FILE or --subtensor URL --netuid N");
            };
            let book = CommitmentBook::new(source);
            if !hotkey.is_empty() {
                book.set_hotkeys(Some(hotkey.into_iter().collect()));
            }
            let found = runtime()?.block_on(book.refresh())?;
            let entries: serde_json::Map<String, serde_json::Value> = found
                .entries
                .iter()
                .map(|(k, c)| {
                    let r = c.read();
                    (k.clone(), serde_json::json!({"bucket": r.bucket, "read_access_key_id": r.read_access_key_id}))
                })
                .collect();
            let json = serde_json::json!({"commitments": entries, "skipped": found.skipped});
            writeln!(out, "{json}")?;
        }
        Command::Store(cmd) => store_command(cmd, out)?,
        Command::Miner(args) => roles::miner(*args)?,
        Command::Validator(args) => roles::validator(*args)?,
        Command::Reveal(args) => jobs::reveal(*args, out)?,
        Command::Sandbox(args) => jobs::sandbox(*args)?,
        Command::Inspect { input } => {
            let report = timelock::inspect(&mut open_input(input.as_deref())?)?;
            writeln!(out, "{}", serde_json::to_string(&report)?)?;
        }
        Command::Round(RoundCommand::At {
            unix_seconds,
            chain,
        }) => {
            let t = args::parse_u64("UNIX_SECONDS", &unix_seconds)?;
            let round = chain
                .resolve()?
                .time()
                .reveal_round(t)
                .map_err(veil_core::Error::from)
                .with_context(|| format!("no round is emitted at or after {t}"))?;
            writeln!(out, "{round}")?;
        }
        Command::Round(RoundCommand::Time { round, chain }) => {
            let round = args::parse_round("ROUND", &round)?;
            let t = chain
                .resolve()?
                .time()
                .time_of(round)
                .map_err(veil_core::Error::from)
                .with_context(|| format!("emission time of round {round}"))?;
            writeln!(out, "{t}")?;
        }
        Command::Beacon(BeaconCommand::Fetch {
            round,
            latest,
            relay,
            chain,
        }) => {
            let chain = chain.resolve()?;
            let round = round
                .map(|r| args::parse_round("--round", &r))
                .transpose()?;
            let client = drand_client(&chain, &relay)?;
            let beacon = runtime()?.block_on(async {
                match round {
                    Some(r) => client.beacon(r, &SystemClock).await,
                    None if latest => client.latest().await,
                    None => Err(veil::Error::value("--round", "give --round or --latest")),
                }
            })?;
            writeln!(out, "{}", beacon.to_json())?;
        }
        Command::Beacon(BeaconCommand::Serve {
            listen,
            period,
            key,
            info_out,
        }) => serve(
            &listen,
            period.as_deref(),
            key.as_deref(),
            info_out.as_deref(),
        )?,
        Command::Beacon(BeaconCommand::Verify {
            round,
            signature,
            previous_signature,
            chain,
        }) => {
            let round = args::parse_round("--round", &round)?;
            let signature = args::parse_signature_hex("--signature", &signature)?;
            let previous = previous_signature
                .as_deref()
                .map(|p| args::parse_signature_hex("--previous-signature", p))
                .transpose()?;
            let chain = chain.resolve()?;
            chain
                .verify_beacon(&Beacon {
                    round,
                    signature: &signature,
                    previous_signature: previous.as_deref(),
                })
                .map_err(veil_core::Error::from)
                .with_context(|| format!("round {round}"))?;
        }
    }
    Ok(())
}

fn meta_json(m: &ObjectMeta) -> serde_json::Value {
    let secs = m
        .last_modified
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    serde_json::json!({"key": m.key, "size": m.size, "last_modified": secs})
}

fn store_command(cmd: StoreCommand, out: &mut impl Write) -> Result<()> {
    let rt = runtime()?;
    match cmd {
        StoreCommand::Put {
            key,
            input,
            store,
            spool,
        } => {
            let store = store.open()?;
            let Some(dir) = spool else {
                // Streamed: memory stays bounded by one part whatever the size.
                let size = rt.block_on(async {
                    let mut body: Box<dyn tokio::io::AsyncRead + Send + Unpin> = match &input {
                        Some(p) if p.as_os_str() != "-" => {
                            Box::new(tokio::fs::File::open(p).await.map_err(|source| {
                                veil::Error::Read {
                                    path: p.clone(),
                                    source,
                                }
                            })?)
                        }
                        _ => Box::new(tokio::io::stdin()),
                    };
                    store.put(&key, &mut body).await.map_err(veil::Error::Store)
                })?;
                writeln!(out, "{}", serde_json::json!({"key": key, "size": size}))?;
                return Ok(());
            };
            let mut body =
                veil::io::read_capped(&mut open_input(input.as_deref())?, spool::MAX_SPOOLED)?;
            let size = body.len();
            {
                {
                    let uploader =
                        Uploader::new(store, Spool::open(&dir, spool::DEFAULT_SPOOL_CAP)?);
                    if rt.block_on(uploader.upload(&key, &body))? == Upload::Spooled {
                        anyhow::bail!(
                            "upload of {key} failed; the object is kept in the spool {} (veil store flush uploads it)",
                            dir.display()
                        );
                    }
                }
            }
            zeroize::Zeroize::zeroize(&mut body);
            writeln!(out, "{}", serde_json::json!({"key": key, "size": size}))?;
        }
        StoreCommand::Get {
            key,
            store,
            max_bytes,
            output,
        } => {
            let max = args::parse_u64("--max-bytes", &max_bytes)?;
            let store = store.open()?;
            let data = rt
                .block_on(store.get(&key, max))
                .map_err(veil::Error::Store)?;
            match output {
                Some(path) => {
                    let mut sink = Output::create(Some(&path))?;
                    sink.write_all(&data)?;
                    sink.commit()?;
                }
                None => out.write_all(&data)?,
            }
        }
        StoreCommand::Head { key, store } => {
            let store = store.open()?;
            let meta = rt
                .block_on(store.head(&key))
                .map_err(veil::Error::Store)?
                .with_context(|| format!("{key}: no such object in {}", store.describe()))?;
            writeln!(out, "{}", meta_json(&meta))?;
        }
        StoreCommand::List { prefix, store } => {
            let store = store.open()?;
            for m in rt
                .block_on(store.list(&prefix))
                .map_err(veil::Error::Store)?
            {
                writeln!(out, "{}", meta_json(&m))?;
            }
        }
        StoreCommand::Delete { key, store } => {
            let store = store.open()?;
            rt.block_on(store.delete(&key))
                .map_err(veil::Error::Store)?;
        }
        StoreCommand::Flush { spool, store } => {
            let uploader = Uploader::new(
                store.open()?,
                Spool::open(&spool, spool::DEFAULT_SPOOL_CAP)?,
            );
            let report = rt.block_on(uploader.flush())?;
            if report.remaining > 0 {
                anyhow::bail!(
                    "{} uploaded, {} still in the spool: {}",
                    report.uploaded.len(),
                    report.remaining,
                    report.errors.first().map_or("", String::as_str)
                );
            }
            writeln!(
                out,
                "{}",
                serde_json::json!({"uploaded": report.uploaded, "remaining": 0})
            )?;
        }
    }
    Ok(())
}

/// A tokio runtime for the commands that use the network.
fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// The commitments registry named by `--registry FILE` or `--subtensor URL
/// --netuid N` (the file wins when both are given), if any.
fn commitment_registry(
    registry: Option<&std::path::Path>,
    subtensor: Option<&str>,
    netuid: Option<&str>,
) -> Result<Option<alloc::sync::Arc<dyn CommitmentRegistry>>> {
    Ok(match (registry, subtensor) {
        (Some(path), _) => Some(alloc::sync::Arc::new(LocalRegistry::new(path))),
        (None, Some(url)) => {
            let netuid = args::parse_u64("--netuid", netuid.unwrap_or(""))?;
            let netuid =
                u16::try_from(netuid).map_err(|_| veil::Error::value("--netuid", "0 to 65535"))?;
            Some(alloc::sync::Arc::new(SubtensorRegistry::new(
                url,
                netuid,
                SubtensorOptions::default(),
            )?))
        }
        (None, None) => None,
    })
}

/// A drand client pinned to `chain` over `relays` (the public relays when
/// none is given), caching verified beacons on disk.
fn drand_client(chain: &Chain, relays: &[String]) -> Result<DrandClient> {
    let urls: Vec<&str> = if relays.is_empty() {
        drand::DEFAULT_RELAYS.to_vec()
    } else {
        relays.iter().map(String::as_str).collect()
    };
    let relays = urls
        .iter()
        .map(|u| Relay::parse(u, chain.hash()))
        .collect::<Result<Vec<_>, _>>()?;
    let cache = BeaconCache::default_root().map(|root| BeaconCache::new(&root, chain));
    Ok(DrandClient::new(
        chain.clone(),
        relays,
        cache,
        ClientOptions::default(),
    )?)
}

/// `veil beacon serve`: prints the chain URL once bound (straight to
/// stdout: this command runs until it is stopped) and serves until SIGINT
/// or SIGTERM.
fn serve(
    listen: &str,
    period: Option<&str>,
    key: Option<&std::path::Path>,
    info_out: Option<&std::path::Path>,
) -> Result<()> {
    let period = period
        .map(|p| args::parse_u64("--period", p))
        .transpose()?
        .map(|p| u32::try_from(p).map_err(|_| veil::Error::value("--period", "too large")))
        .transpose()?;
    let now = SystemClock.now();
    let devnet = match key {
        Some(path) => Devnet::load_or_create(path, period, now)?,
        None => Devnet::generate(now, period.unwrap_or(devnet::DEFAULT_PERIOD))?,
    };
    let rt = runtime()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        let addr = listener.local_addr().context("listening address")?;
        if let Some(path) = info_out {
            let mut sink = Output::create(Some(path))?;
            sink.write_all(devnet.info_json().as_bytes())
                .map_err(veil::Error::io("writing --info-out"))?;
            sink.commit()?;
        }
        let hash = veil_core::encoding::Hex(devnet.chain().hash()).to_string();
        {
            let mut stdout = std::io::stdout().lock();
            writeln!(stdout, "listening http://{addr}/{hash}")?;
            stdout.flush()?;
        }
        let app = devnet.router(alloc::sync::Arc::new(SystemClock));
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown_signal())
            .await
            .context("serving")
    })
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// clap enforces `--round` or `--at`; this keeps the match total without a panic.
fn unreachable_args<T>() -> Result<T> {
    anyhow::bail!("one of --round or --at is required")
}

/// One line: newlines and other control characters in a message become
/// spaces, so that stderr carries exactly one line whatever went wrong.
fn one_line(msg: &str) -> String {
    let line: String = msg
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    line.trim().to_owned()
}

mod roles {
    //! `veil miner` and `veil validator`: wiring the library's roles to
    //! the command line.

    use super::*;
    use alloc::sync::Arc;
    use core::time::Duration;
    use std::collections::HashSet;
    use veil::axon::{self, Allow, AxonConfig, AxonTarget};
    use veil::generator::{Builtin, External, Generator};
    use veil::images::{self, ImageLimits};
    use veil::miner::{Miner, MinerConfig};
    use veil::validator::{Metagraph, MinerEntry, Validator, ValidatorConfig};
    use veil::weights::FileSink;

    /// Seconds, at most a day (no schedule here needs more, and the
    /// arithmetic on them then never overflows).
    pub(super) fn secs(what: &'static str, text: &str) -> Result<Duration> {
        let n = args::parse_u64(what, text)?;
        if n > 86_400 {
            return Err(veil::Error::value(what, "at most 86400 seconds").into());
        }
        Ok(Duration::from_secs(n))
    }

    pub(super) fn count(what: &'static str, text: &str) -> Result<usize> {
        usize::try_from(args::parse_u64(what, text)?)
            .map_err(|_| veil::Error::value(what, "too large").into())
    }

    fn hotkey_bytes(what: &'static str, ss58_text: &str) -> Result<[u8; 32]> {
        let (_, key) = ss58::decode(ss58_text).map_err(|e| veil::Error::value(what, e))?;
        PublicKey::from_bytes(&key).map_err(|e| veil::Error::value(what, e))?;
        Ok(key)
    }

    pub(super) fn miner(a: MinerArgs) -> Result<()> {
        let keypair = Arc::new(a.key.keypair()?);
        let chain = a.chain.resolve()?;
        let format = Format::from_name(&a.format).map_err(|e| veil::Error::value("--format", e))?;
        let allow = if a.allow_any {
            Allow::Any
        } else {
            let mut set = HashSet::new();
            for h in &a.allow {
                set.insert(hotkey_bytes("--allow", h)?);
            }
            if let Some(path) = &a.metagraph {
                let min: f64 = a
                    .min_stake
                    .parse()
                    .ok()
                    .filter(|v: &f64| v.is_finite() && *v >= 0.0)
                    .ok_or_else(|| veil::Error::value("--min-stake", "a number of TAO"))?;
                for h in Metagraph::load(path)?.staked(min) {
                    set.insert(hotkey_bytes("--metagraph hotkey", h)?);
                }
            }
            if set.is_empty() {
                anyhow::bail!(
                    "no validator may query this miner: give --allow SS58, --metagraph FILE, or --allow-any"
                );
            }
            Allow::Hotkeys(set)
        };
        let limits = ImageLimits::default();
        let generator: Arc<dyn Generator> = match &a.generator_cmd {
            Some(cmd) => Arc::new(External::new(
                cmd.clone(),
                secs("--generator-timeout", &a.generator_timeout)?,
                limits,
            )),
            None => Arc::new(Builtin),
        };
        let concurrency = match &a.concurrency {
            Some(n) => count("--concurrency", n)?.max(1),
            None => std::thread::available_parallelism().map_or(2, usize::from),
        };
        let config = AxonConfig {
            allow,
            max_body: count("--max-body", &a.max_body)?,
            ..AxonConfig::default()
        };
        let store = a.store.open()?;
        let rt = runtime()?;
        rt.block_on(async move {
            let spool = Spool::open(&a.spool, spool::DEFAULT_SPOOL_CAP)?;
            let uploader = Arc::new(Uploader::new(store, spool));
            let _flusher = uploader.spawn_flusher(Duration::from_secs(30));
            let miner = Arc::new(Miner::new(
                Arc::clone(&keypair),
                MinerConfig {
                    chain,
                    format,
                    limits,
                    concurrency,
                    allow_emitted_rounds: a.allow_emitted_rounds,
                },
                uploader,
                generator,
                Arc::new(SystemClock),
            ));
            let listener = tokio::net::TcpListener::bind(&a.listen)
                .await
                .with_context(|| format!("cannot listen on {}", a.listen))?;
            let addr = listener.local_addr().context("listening address")?;
            {
                let mut stdout = std::io::stdout().lock();
                writeln!(stdout, "listening http://{addr} hotkey {}", miner.hotkey())?;
                stdout.flush()?;
            }
            let app = axon::router(&keypair.public(), config, miner);
            axum::serve(listener, app)
                .with_graceful_shutdown(shutdown_signal())
                .await
                .context("serving")
        })
    }

    /// The store a miner's objects are read from, and how the results
    /// record it (never a secret).
    fn miner_store(
        hotkey: &str,
        book: Option<&CommitmentBook>,
        shared: &Arc<dyn ObjectStore>,
        shared_spec: &str,
    ) -> (Result<Arc<dyn ObjectStore>, String>, serde_json::Value) {
        if let Some(c) = book.and_then(|b| b.get(hotkey)) {
            let bucket = c.read().bucket.to_owned();
            let env = |name: &str| std::env::var(name).ok();
            // A malformed commitment costs that miner this cycle, never the
            // validator.
            let store = store::for_commitment(&c.read(), &env)
                .map_err(|e| format!("the bucket of its commitment: {e}"));
            let describe = store.as_ref().map_or_else(Clone::clone, |s| s.describe());
            let record =
                serde_json::json!({"kind": "commitment", "bucket": bucket, "describe": describe});
            return (store, record);
        }
        (
            Ok(Arc::clone(shared)),
            serde_json::json!({"kind": "store", "spec": shared_spec, "describe": shared.describe()}),
        )
    }

    /// Prints results paths as each cycle ends (not at exit: the validator
    /// may run for days).
    pub(super) fn validator(a: ValidatorArgs) -> Result<()> {
        let keypair = Arc::new(a.key.keypair()?);
        let chain = a.chain.resolve()?;
        let format = Format::from_name(&a.format).map_err(|e| veil::Error::value("--format", e))?;
        let limits = ImageLimits::default();
        let base_images = match &a.images {
            Some(dir) => images::load_dir(dir, &limits)?,
            None => images::samples(),
        };
        let targets: Vec<(u32, AxonTarget)> = match &a.metagraph {
            Some(path) => Metagraph::load(path)?.targets()?,
            None => a
                .miners
                .iter()
                .enumerate()
                .map(|(i, m)| {
                    AxonTarget::parse(m)
                        .map(|t| (u32::try_from(i).unwrap_or(u32::MAX), t))
                        .map_err(|e| veil::Error::value("--miner", e).into())
                })
                .collect::<Result<_>>()?,
        };
        let shared = a.store.open()?;
        let shared_spec = store::record_spec(&a.store.store);
        if targets.is_empty() {
            anyhow::bail!("no miner to query: the metagraph lists no serving neuron");
        }
        let registry = commitment_registry(
            a.registry.as_deref(),
            a.subtensor.as_deref(),
            a.netuid.as_deref(),
        )?;
        std::fs::create_dir_all(&a.out).map_err(|source| veil::Error::Write {
            path: a.out.clone(),
            source,
        })?;
        let weights_out = a
            .weights_out
            .clone()
            .unwrap_or_else(|| a.out.join("weights.json"));
        let config = ValidatorConfig {
            chain,
            format,
            timeout: secs("--timeout", &a.timeout)?,
            reveal_buffer: secs("--reveal-buffer", &a.reveal_buffer)?,
            retries: u32::try_from(args::parse_u64("--retries", &a.retries)?)
                .map_err(|_| veil::Error::value("--retries", "too large"))?,
            variations: count("--variations", &a.variations)?,
            out_dir: a.out.clone(),
            max_object: veil::validator::DEFAULT_MAX_OBJECT,
            concurrency: count("--concurrency", &a.concurrency)?,
            reputation: a.reputation.clone(),
        };
        let cycles = args::parse_u64("--cycles", &a.cycles)?;
        let period = secs("--period", &a.period)?;
        let validator = Validator::new(
            keypair,
            config,
            base_images,
            Arc::new(FileSink::new(&weights_out)),
            Arc::new(SystemClock),
        )?;
        let rt = runtime()?;
        rt.block_on(async {
            let book = match registry {
                Some(r) => {
                    let book = CommitmentBook::new(r);
                    book.set_hotkeys(Some(
                        targets.iter().map(|(_, t)| t.hotkey.clone()).collect(),
                    ));
                    Some(book)
                }
                None => None,
            };
            // One signal listener for the whole run: a stop during a cycle
            // ends it (no results for that cycle), between cycles ends the wait.
            let (stop_tx, mut stop) = tokio::sync::watch::channel(false);
            tokio::spawn(async move {
                shutdown_signal().await;
                let _ = stop_tx.send(true);
            });
            let mut done = 0u64;
            loop {
                let started = tokio::time::Instant::now();
                if let Some(book) = &book
                    && let Err(e) = book.refresh().await
                {
                    tracing::warn!(%e, "commitments not refreshed; using the last good set");
                }
                let mut miners = Vec::with_capacity(targets.len());
                for (uid, target) in &targets {
                    let (store, store_record) =
                        miner_store(&target.hotkey, book.as_ref(), &shared, &shared_spec);
                    miners.push(MinerEntry {
                        uid: *uid,
                        target: target.clone(),
                        store,
                        store_record,
                    });
                }
                let report = tokio::select! {
                    r = validator.run_cycle(&miners) => r?,
                    _ = stop.changed() => return Ok(()),
                };
                {
                    let mut stdout = std::io::stdout().lock();
                    writeln!(stdout, "{}", report.results.display())?;
                    stdout.flush()?;
                }
                done += 1;
                if cycles != 0 && done >= cycles {
                    return Ok(());
                }
                tokio::select! {
                    () = tokio::time::sleep_until(started + period) => {}
                    _ = stop.changed() => return Ok(()),
                }
            }
        })
    }
}

mod jobs {
    //! `veil reveal` and `veil sandbox`.

    use super::*;
    use alloc::sync::Arc;
    use core::time::Duration;
    use veil::axon::AxonTarget;
    use veil::images::ImageLimits;
    use veil::reveal::{self, BeaconSource, Progress, Quiet, RevealConfig, Stores};
    use veil::sandbox::{self, SandboxConfig, Say};

    use super::roles::{count, secs};

    fn jobs(text: Option<&str>) -> Result<usize> {
        Ok(match text {
            Some(n) => count("--jobs", n)?.max(1),
            None => reveal::default_jobs(),
        })
    }

    /// Notes on stderr, when it is a terminal.
    struct Stderr;

    impl Progress for Stderr {
        fn note(&self, line: &str) {
            eprintln!("veil reveal: {line}");
        }
    }

    pub(super) fn reveal(a: RevealArgs, out: &mut impl Write) -> Result<()> {
        let results = reveal::Results::load(&a.results)?;
        let out_dir = match &a.out {
            Some(dir) => dir.clone(),
            None => a
                .results
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .map_or_else(|| PathBuf::from("."), std::path::Path::to_path_buf),
        };
        std::fs::create_dir_all(&out_dir).map_err(|source| veil::Error::Write {
            path: out_dir.clone(),
            source,
        })?;
        let config = RevealConfig {
            reputation: a
                .reputation
                .clone()
                .unwrap_or_else(|| out_dir.join("reputation.json")),
            out_dir,
            jobs: jobs(a.jobs.as_deref())?,
            downloads: count("--downloads", &a.downloads)?.max(1),
            limits: ImageLimits::default(),
            max_object: veil::validator::DEFAULT_MAX_OBJECT,
            progress: stderr_is_terminal(),
        };
        let beacon = match &a.signature {
            Some(sig) => BeaconSource::Signature(args::parse_signature_hex("--signature", sig)?),
            None => BeaconSource::Relays(Arc::new(drand_client(&results.chain, &a.relay)?)),
        };
        let fixed = match &a.store {
            Some(spec) => Some(
                StoreArg {
                    store: spec.clone(),
                }
                .open()?,
            ),
            None => None,
        };
        let registry = commitment_registry(
            a.registry.as_deref(),
            a.subtensor.as_deref(),
            a.netuid.as_deref(),
        )?;
        let rt = runtime()?;
        let report = rt.block_on(async {
            let book = match registry {
                Some(r) => {
                    let book = CommitmentBook::new(r);
                    book.set_hotkeys(Some(
                        results.miners.iter().map(|m| m.hotkey.clone()).collect(),
                    ));
                    book.refresh().await?;
                    Some(book)
                }
                None => None,
            };
            let stores = Stores::new(book, fixed);
            let progress: &dyn Progress = if stderr_is_terminal() {
                &Stderr
            } else {
                &Quiet
            };
            reveal::reveal(&results, &config, &beacon, &stores, &SystemClock, progress).await
        })?;
        if report.resumed > 0 {
            writeln!(
                out,
                "resumed: {} of {} objects were checked by an earlier run",
                report.resumed, report.objects
            )?;
        }
        writeln!(
            out,
            "challenge {} (round {}): {} objects",
            report.challenge_id, report.round, report.objects
        )?;
        for line in reveal::summary_lines(&report) {
            writeln!(out, "{line}")?;
        }
        writeln!(out, "reveal     {}", report.reveal.display())?;
        writeln!(out, "report     {}", report.report.display())?;
        writeln!(
            out,
            "reputation {} ({})",
            report.reputation.display(),
            if report.reputation_applied {
                "updated"
            } else {
                "this challenge was already counted"
            }
        )?;
        Ok(())
    }

    /// The sandbox's story, straight to stdout as it happens.
    struct Stdout;

    impl Say for Stdout {
        fn line(&self, text: &str) {
            let mut stdout = std::io::stdout().lock();
            let _ = writeln!(stdout, "{text}");
            let _ = stdout.flush();
        }
    }

    pub(super) fn sandbox(a: SandboxArgs) -> Result<()> {
        let started = std::time::Instant::now();
        let relay = if a.relay.is_empty() {
            None
        } else {
            Some((a.chain.resolve()?, a.relay.clone()))
        };
        let store = match &a.store {
            Some(spec) => Some((
                store::record_spec(spec),
                StoreArg {
                    store: spec.clone(),
                }
                .open()?,
            )),
            None => None,
        };
        let config = SandboxConfig {
            miners: count("--miners", &a.miners)?,
            variations: count("--variations", &a.variations)?,
            cycles: args::parse_u64("--cycles", &a.cycles)?.max(1),
            period: secs("--period", &a.period)?,
            out_dir: a.out.clone(),
            remote_miners: a
                .remote_miners
                .iter()
                .map(|m| AxonTarget::parse(m).map_err(|e| veil::Error::value("--remote-miner", e)))
                .collect::<Result<_, _>>()?,
            relay,
            store,
            timeout: secs("--timeout", &a.timeout)?.max(Duration::from_secs(1)),
            jobs: jobs(a.jobs.as_deref())?,
        };
        if config.miners == 0 && config.remote_miners.is_empty() {
            anyhow::bail!("no miner: give --miners 1 or more, or --remote-miner");
        }
        if config.miners > 64 {
            return Err(veil::Error::value("--miners", "at most 64").into());
        }
        let say = Stdout;
        say.line(&format!(
            "veil sandbox: {} miners, {} variations each, {} cycle(s), in {}",
            config.miners + config.remote_miners.len(),
            config.variations,
            config.cycles,
            config.out_dir.display()
        ));
        let rt = runtime()?;
        let cycles = rt.block_on(async {
            tokio::select! {
                r = sandbox::run(config, &say) => r.map_err(anyhow::Error::from),
                () = shutdown_signal() => Err(anyhow::anyhow!("stopped")),
            }
        })?;
        let mut short = Vec::new();
        for (i, c) in cycles.iter().enumerate() {
            say.line("");
            say.line(&format!(
                "cycle {} summary: challenge {}, round {}",
                i + 1,
                c.reveal.challenge_id,
                c.reveal.round
            ));
            for line in reveal::summary_lines(&c.reveal) {
                say.line(&line);
            }
            say.line(&format!("  results    {}", c.results.display()));
            say.line(&format!("  reveal     {}", c.reveal.reveal.display()));
            say.line(&format!("  report     {}", c.reveal.report.display()));
            for m in c
                .reveal
                .miners
                .iter()
                .filter(|m| c.local_uids.contains(&m.uid))
            {
                if m.verified < m.requested {
                    short.push(format!(
                        "uid {} verified {} of {}",
                        m.uid, m.verified, m.requested
                    ));
                }
            }
        }
        let total: usize = cycles
            .iter()
            .flat_map(|c| c.reveal.miners.iter())
            .map(|m| m.verified)
            .sum();
        say.line("");
        if short.is_empty() {
            say.line(&format!(
                "done in {:.1} s: every variation of the sandbox's miners was revealed and verified ({total} in all)",
                started.elapsed().as_secs_f64()
            ));
            Ok(())
        } else {
            anyhow::bail!(
                "the sandbox's own miners fell short (a bug): {}",
                short.join("; ")
            )
        }
    }
}

/// Whether stderr is a terminal (progress is drawn only there).
fn stderr_is_terminal() -> bool {
    use std::io::IsTerminal as _;
    std::io::stderr().is_terminal()
}

fn main() -> ExitCode {
    // A panic is a bug; even then, one line and exit 1, never a backtrace.
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        eprintln!(
            "veil: internal error (a bug, please report): {}",
            one_line(&msg)
        );
        // On the main thread the command is over. Elsewhere (a miner's
        // worker on one hostile request) the task's owner sees the failure
        // and the server goes on.
        if std::thread::current().name() == Some("main") {
            std::process::exit(1);
        }
    }));

    // Logs (relay decisions, waits) go to stderr only when asked for with
    // VEIL_LOG=error|warn|info|debug|trace: by default a failure is one line.
    if let Some(level) = std::env::var("VEIL_LOG")
        .ok()
        .and_then(|l| l.parse::<tracing::Level>().ok())
    {
        use tracing_subscriber::layer::SubscriberExt as _;
        use tracing_subscriber::util::SubscriberInitExt as _;
        // veil's own events at the level asked for; other crates' at most
        // at warn (the HTTP and signing layers below would print request
        // headers at debug and trace).
        let level = tracing_subscriber::filter::LevelFilter::from_level(level);
        let filter = tracing_subscriber::filter::Targets::new()
            .with_target("veil", level)
            .with_target("veil_core", level)
            .with_default(level.min(tracing_subscriber::filter::LevelFilter::WARN));
        tracing_subscriber::registry()
            .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
            .with(filter)
            .init();
    }

    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
                    let _ = e.print();
                    return ExitCode::SUCCESS;
                }
                ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                    eprintln!("veil: a subcommand is required (see veil --help)");
                    return ExitCode::from(2);
                }
                _ => {}
            }
            // clap explains the problem above its usage block; keep the
            // explanation, drop the usage, and join it into one line.
            let rendered = e.render().to_string();
            let what: Vec<&str> = rendered
                .lines()
                .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect();
            let what = what.join(" ");
            let what = what.strip_prefix("error: ").unwrap_or(&what);
            eprintln!("veil: {} (see veil --help)", one_line(what));
            return ExitCode::from(2);
        }
    };

    // Buffer stdout so that a failure leaves nothing on it.
    let mut out = Vec::new();
    let result = run(cli, &mut out).and_then(|()| {
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(&out)?;
        stdout.flush()?;
        Ok(())
    });
    match result {
        Ok(()) => {
            if PUBLIC_STORE_USED.load(core::sync::atomic::Ordering::Relaxed) {
                eprintln!("veil: {}", store::public::PublicStore::WARNING);
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("veil: {}", one_line(&format!("{e:#}")));
            ExitCode::FAILURE
        }
    }
}
