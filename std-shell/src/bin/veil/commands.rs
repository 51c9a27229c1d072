//! One file per command: its arguments and its `run`, wiring the library
//! to the command line. What they share: the output context, the async
//! runtime, the stop signal.

pub(crate) mod beacon;
pub(crate) mod commitment;
pub(crate) mod decrypt;
pub(crate) mod encrypt;
pub(crate) mod inspect;
pub(crate) mod metagraph;
pub(crate) mod miner;
pub(crate) mod reveal;
pub(crate) mod round;
pub(crate) mod sandbox;
pub(crate) mod signing;
pub(crate) mod store;
pub(crate) mod validator;

use std::io::Write;

use anyhow::{Context as _, Result};

use crate::cli::Command;

/// What a command leaves for `main`: its stdout (printed only when it
/// succeeds, so a failure prints nothing there) and warnings for stderr.
#[derive(Default)]
pub(crate) struct Ctx {
    /// The command's stdout.
    pub(crate) out: Vec<u8>,
    warnings: Vec<&'static str>,
}

impl Ctx {
    /// A warning printed once the command succeeds (a failure is one line).
    pub(crate) fn warn(&mut self, text: &'static str) {
        if !self.warnings.contains(&text) {
            self.warnings.push(text);
        }
    }

    /// The warnings, in order.
    pub(crate) fn warnings(&self) -> &[&'static str] {
        &self.warnings
    }

    /// One line of stdout.
    pub(crate) fn line(&mut self, text: impl core::fmt::Display) -> Result<()> {
        writeln!(self.out, "{text}")?;
        Ok(())
    }
}

/// Runs `command`.
pub(crate) fn run(command: Command, ctx: &mut Ctx) -> Result<()> {
    match command {
        Command::Round(c) => round::run(c, ctx),
        Command::Beacon(c) => beacon::run(c, ctx),
        Command::Encrypt(a) => encrypt::run(a),
        Command::Decrypt(a) => decrypt::run(a),
        Command::Address(a) => signing::address(a, ctx),
        Command::Sign(a) => signing::sign(a, ctx),
        Command::Verify(a) => signing::verify(a),
        Command::Commitment(c) => commitment::run(c, ctx),
        Command::Store(c) => store::run(c, ctx),
        Command::Miner(a) => miner::run(*a, ctx),
        Command::Validator(a) => validator::run(*a, ctx),
        Command::Reveal(a) => reveal::run(*a, ctx),
        Command::Sandbox(a) => sandbox::run(*a, ctx),
        Command::Inspect(a) => inspect::run(a, ctx),
        Command::Metagraph(a) => metagraph::run(a, ctx),
    }
}

/// A tokio runtime for the commands that use the network.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Resolves on SIGINT or SIGTERM.
pub(crate) async fn shutdown_signal() {
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

/// A line straight to stdout, flushed: for long-running commands, whose
/// news cannot wait for the end.
pub(crate) fn say_now(text: impl core::fmt::Display) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{text}")?;
    stdout.flush()?;
    Ok(())
}

/// Whether stderr is a terminal (progress is drawn only there).
pub(crate) fn stderr_is_terminal() -> bool {
    use std::io::IsTerminal as _;
    std::io::stderr().is_terminal()
}

/// `--jobs`: objects opened at once (default: the cores).
pub(crate) fn jobs(text: Option<&str>) -> Result<usize> {
    Ok(match text {
        Some(n) => veil::args::parse_count("--jobs", n)?.max(1),
        None => veil::phase4::reveal::default_jobs(),
    })
}
