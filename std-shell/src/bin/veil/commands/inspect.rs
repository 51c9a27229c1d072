//! `veil inspect`: describe a sealed IN without decrypting it.

use std::path::PathBuf;

use anyhow::Result;
use veil::io::open_input;
use veil::timelock;

use super::Ctx;

#[derive(clap::Args)]
pub(crate) struct Args {
    /// The ciphertext (default stdin).
    #[arg(value_name = "IN")]
    input: Option<PathBuf>,
}

pub(crate) fn run(a: Args, ctx: &mut Ctx) -> Result<()> {
    let report = timelock::inspect(&mut open_input(a.input.as_deref())?)?;
    ctx.line(serde_json::to_string(&report)?)
}
