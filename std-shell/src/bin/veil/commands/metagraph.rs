//! `veil metagraph --netuid N`: a subnet's metagraph read from subtensor,
//! printed as JSON in the shape of a metagraph file.

use anyhow::Result;
use clap::Args as ClapArgs;

use super::{Ctx, runtime};
use crate::cli::SubtensorArgs;

#[derive(ClapArgs)]
pub(crate) struct Args {
    /// The subnet.
    #[arg(long, value_name = "N", env = "NETUID")]
    netuid: String,
    #[command(flatten)]
    chain: SubtensorArgs,
}

pub(crate) fn run(a: Args, ctx: &mut Ctx) -> Result<()> {
    let netuid = veil::args::parse_netuid("--netuid", &a.netuid)?;
    let graph = runtime()?.block_on(async {
        let chain = a.chain.connect().await?;
        Ok::<_, anyhow::Error>(chain.metagraph(netuid).await?)
    })?;
    ctx.line(serde_json::json!({
        "netuid": graph.netuid,
        "block": graph.block,
        "neurons": graph.metagraph.neurons,
    }))
}
