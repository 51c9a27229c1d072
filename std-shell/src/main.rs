//! The `veil` binary: parses the command line, calls the library, prints.
//!
//! Contract (SPEC.md, "CLI contract"): exit 0 on success; 1 on any failure of
//! content, cryptography, verification, overflow, I/O; 2 only for
//! command-line syntax errors. On failure exactly one line goes to stderr and
//! nothing to stdout.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use veil::io::{Output, open_input};
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
        #[arg(long, value_name = "HEX", allow_hyphen_values = true)]
        signature: String,
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
            round,
            chain,
            output,
            input,
        } => {
            let opts = DecryptOptions {
                chain: chain.resolve()?,
                key: KeySource::Signature(args::parse_signature_hex("--signature", &signature)?),
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
        std::process::exit(1);
    }));

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
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("veil: {}", one_line(&format!("{e:#}")));
            ExitCode::FAILURE
        }
    }
}
