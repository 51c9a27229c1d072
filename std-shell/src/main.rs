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
use veil::{args, chains};
use veil_core::format::Format;
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
