//! The `veil` binary: parses the command line, calls the library, prints.
//!
//! Contract (SPEC.md, "CLI contract"): exit 0 on success; 1 on any failure of
//! content, cryptography, verification, overflow, I/O; 2 only for
//! command-line syntax errors. On failure exactly one line goes to stderr and
//! nothing to stdout.
//!
//! This file sets up logging and the panic hook, parses, and renders the
//! outcome; the commands are in `commands/`, one per file.

extern crate alloc;

mod cli;
mod commands;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser as _;
use veil::text::one_line;

use crate::cli::Cli;
use crate::commands::Ctx;

/// A panic is a bug; even then, one line and exit 1, never a backtrace.
fn set_panic_hook() {
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
}

/// Logs on stderr as the command line, the environment and the command
/// ask (`veil::ops::logs`).
fn init_logging(cli: &Cli) -> anyhow::Result<()> {
    let args = cli.logging.resolve()?;
    let filter = veil::ops::logs::filter(&args, cli.command.log_defaults(), &|k| {
        std::env::var(k).ok()
    })?;
    Ok(veil::ops::logs::init(filter, args.format)?)
}

/// What a settings file (`--env-file FILE` or `./.env`, then `--config
/// FILE`) gave, read before the command line is parsed so that its
/// variables count as the environment does (flags first, then the
/// environment, then the `.env` file, then the config file).
struct SettingsFile {
    path: std::path::PathBuf,
    set: Vec<String>,
    skipped: Vec<String>,
}

/// The value of `--{flag} V` or `--{flag}=V` on the command line.
fn raw_flag(flag: &str) -> Option<std::path::PathBuf> {
    let mut argv = std::env::args_os().skip(1);
    let long = format!("--{flag}");
    let eq = format!("--{flag}=");
    let mut given = None;
    while let Some(a) = argv.next() {
        if a == "--" {
            break;
        }
        if a == long.as_str() {
            given = argv.next().map(std::path::PathBuf::from);
        } else if let Some(v) = a.to_str().and_then(|a| a.strip_prefix(eq.as_str())) {
            given = Some(v.into());
        }
    }
    given
}

/// Sets each of `pairs` not already set. Runs first thing in `main`, while
/// the process has one thread.
fn apply(path: std::path::PathBuf, pairs: Vec<(String, String)>) -> SettingsFile {
    let (mut set, mut skipped) = (Vec::new(), Vec::new());
    for (name, value) in pairs {
        if std::env::var_os(&name).is_some() {
            skipped.push(name);
        } else {
            // SAFETY: nothing else runs yet (`main` calls this before any
            // thread or runtime starts), so no other thread reads the
            // environment while it changes.
            #[expect(unsafe_code, reason = "set_var before any thread starts")]
            unsafe {
                std::env::set_var(&name, value);
            }
            set.push(name);
        }
    }
    SettingsFile { path, set, skipped }
}

/// Reads the env file, then the config file, each filling what is unset.
fn load_settings() -> anyhow::Result<Vec<SettingsFile>> {
    let mut read = Vec::new();
    let (path, explicit) = match raw_flag("env-file") {
        Some(p) => (p, true),
        None => (std::path::PathBuf::from(".env"), false),
    };
    if explicit || std::fs::symlink_metadata(&path).is_ok() {
        match veil::ops::envfile::read(&path) {
            Ok(pairs) => read.push(apply(path, pairs)),
            Err(e) if !explicit => eprintln!("veil: warning: {e}"),
            Err(e) => return Err(anyhow::anyhow!("--env-file: {e}")),
        }
    }
    if let Some(path) = raw_flag("config") {
        let pairs = veil::ops::config_file::read(&path)
            .map_err(|e| anyhow::anyhow!("--config: {e}"))?
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        read.push(apply(path, pairs));
    }
    Ok(read)
}

/// Parses the command line; a syntax error is one line and exit 2.
fn parse() -> Result<Cli, ExitCode> {
    let e = match Cli::try_parse() {
        Ok(cli) => return Ok(cli),
        Err(e) => e,
    };
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = e.print();
            return Err(ExitCode::SUCCESS);
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            eprintln!("veil: a subcommand is required (see veil --help)");
            return Err(ExitCode::from(2));
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
    Err(ExitCode::from(2))
}

fn main() -> ExitCode {
    set_panic_hook();
    let settings = match load_settings() {
        Ok(f) => f,
        Err(e) => {
            eprintln!("veil: {}", veil::text::error_chain(e.as_ref()));
            return ExitCode::FAILURE;
        }
    };
    let cli = match parse() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    if let Err(e) = init_logging(&cli) {
        eprintln!("veil: {}", veil::text::error_chain(e.as_ref()));
        return ExitCode::FAILURE;
    }
    for f in settings {
        // Names only: the values are often keys.
        tracing::info!(
            file = %f.path.display(),
            set = %f.set.join(","),
            already_set = %f.skipped.join(","),
            "settings read from a file"
        );
    }
    // stdout is buffered so that a failure leaves nothing on it.
    let mut ctx = Ctx::default();
    let result = commands::run(cli.command, &mut ctx).and_then(|()| {
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(&ctx.out)?;
        stdout.flush()?;
        Ok(())
    });
    match result {
        Ok(()) => {
            for warning in ctx.warnings() {
                eprintln!("veil: {warning}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            // Each cause once: veil's errors often hold their source's text.
            eprintln!("veil: {}", veil::text::error_chain(e.as_ref()));
            ExitCode::FAILURE
        }
    }
}
