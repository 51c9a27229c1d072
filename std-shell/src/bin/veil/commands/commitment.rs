//! `veil commitment encode|decode|publish|list`: GRAIL read commitments.

use std::path::PathBuf;

use anyhow::Result;
use clap::Subcommand;
use veil::registry::{self, CommitmentBook, LocalRegistry, Published};
use veil::store::s3::S3Config;
use veil_core::commitment::ReadCommitment;

use super::{Ctx, runtime};
use crate::cli::{KeyArgs, RegistryArgs, SubtensorArgs};
use veil::chain::commitment::Posted;

#[derive(Subcommand)]
pub(crate) enum Command {
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
    /// Publish our read commitment (from the R2_* environment), after
    /// checking it: a read pair distinct from the write pair, bucket =
    /// account id, and (unless --no-probe) a read pair that can list the
    /// bucket but not write to it. To a registry file (--registry, with
    /// --hotkey), or on chain (a subtensor and --netuid: posted as
    /// `Commitments.set_commitment`, signed by the hotkey, and read back).
    /// Writes only when changed.
    Publish {
        /// The registry file.
        #[arg(long, value_name = "FILE", requires = "hotkey", conflicts_with_all = ["subtensor", "network", "chain_endpoint"])]
        registry: Option<PathBuf>,
        /// Our hotkey's SS58 address (with --registry).
        #[arg(long, value_name = "SS58", allow_hyphen_values = true)]
        hotkey: Option<String>,
        /// The subnet (on chain).
        #[arg(long, value_name = "N", env = "NETUID")]
        netuid: Option<String>,
        #[command(flatten)]
        chain: SubtensorArgs,
        #[command(flatten)]
        key: KeyArgs,
        /// Skip the live check of the read pair against the bucket.
        #[arg(long)]
        no_probe: bool,
    },
    /// Print the commitments a registry holds, as JSON (bucket and read key
    /// id per hotkey; entries that cannot be read are listed with why).
    List {
        /// A local registry file, or a subtensor and --netuid.
        #[command(flatten)]
        source: RegistryArgs,
        /// Keep only these hotkeys (the metagraph); repeatable.
        #[arg(long, value_name = "SS58", allow_hyphen_values = true)]
        hotkey: Vec<String>,
    },
}

pub(crate) fn run(command: Command, ctx: &mut Ctx) -> Result<()> {
    match command {
        Command::Encode {
            bucket,
            read_access_key_id,
            read_secret_access_key,
        } => {
            let c = ReadCommitment {
                bucket: &bucket,
                read_access_key_id: &read_access_key_id,
                read_secret_access_key: &read_secret_access_key,
            };
            ctx.line(c.encode().map_err(veil_core::Error::from)?)
        }
        Command::Decode { commitment } => {
            let c = ReadCommitment::parse(&commitment).map_err(veil_core::Error::from)?;
            ctx.line(serde_json::json!({
                "bucket": c.bucket,
                "read_access_key_id": c.read_access_key_id,
                "read_secret_access_key": c.read_secret_access_key,
            }))
        }
        Command::Publish {
            registry,
            hotkey,
            netuid,
            chain,
            key,
            no_probe,
        } => {
            let env = |name: &str| std::env::var(name).ok();
            let config = S3Config::from_env(&env, None)?;
            let rt = runtime()?;
            if let Some(registry) = registry {
                let hotkey = hotkey.unwrap_or_default();
                let commitment = rt.block_on(registry::check_publishable(&config, !no_probe))?;
                let status = LocalRegistry::new(&registry).publish(&hotkey, &commitment)?;
                let c = commitment.read();
                return ctx.line(serde_json::json!({
                    "hotkey": hotkey,
                    "bucket": c.bucket,
                    "read_access_key_id": c.read_access_key_id,
                    "status": match status { Published::Written => "written", Published::Unchanged => "unchanged" },
                }));
            }
            let Some(netuid) = netuid else {
                anyhow::bail!("give --registry FILE --hotkey SS58, or a subtensor and --netuid N");
            };
            let netuid = veil::args::parse_netuid("--netuid", &netuid)?;
            let keypair = key.keypair()?;
            let commitment = rt.block_on(registry::check_publishable(&config, !no_probe))?;
            let posted = rt.block_on(async {
                let chain = chain.connect().await?;
                Ok::<_, anyhow::Error>(
                    chain
                        .publish_commitment(netuid, &keypair, &commitment.read())
                        .await?,
                )
            })?;
            let c = commitment.read();
            let status = match posted {
                Posted::Written => "written".to_owned(),
                Posted::Unchanged => "unchanged".to_owned(),
                Posted::RateLimited(Some(block)) => {
                    anyhow::bail!(
                        "the commitments rate limit refuses a new commitment until block {block}"
                    )
                }
                Posted::RateLimited(None) => {
                    anyhow::bail!("the commitments rate limit refuses a new commitment this epoch")
                }
            };
            ctx.line(serde_json::json!({
                "hotkey": veil::keys::address_of(&keypair.public()),
                "netuid": netuid,
                "bucket": c.bucket,
                "read_access_key_id": c.read_access_key_id,
                "status": status,
            }))
        }
        Command::List { source, hotkey } => {
            let Some(source) = source.open()? else {
                anyhow::bail!("give --registry FILE, or a subtensor and --netuid N");
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
                    (
                        k.clone(),
                        serde_json::json!({"bucket": r.bucket, "read_access_key_id": r.read_access_key_id}),
                    )
                })
                .collect();
            ctx.line(serde_json::json!({"commitments": entries, "skipped": found.skipped}))
        }
    }
}
