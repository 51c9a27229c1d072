//! `veil store put|get|head|list|delete|flush`: object stores.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::{Context as _, Result};
use clap::Subcommand;
use veil::io::{Output, open_input};
use veil::limits::{DEFAULT_SPOOL_CAP, MAX_SPOOLED};
use veil::store::ObjectMeta;
use veil::store::spool::{Spool, Upload, Uploader};
use veil::{Error, args};

use super::{Ctx, runtime};
use crate::cli::StoreArg;

#[derive(Subcommand)]
pub(crate) enum Command {
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
        /// When the upload keeps failing, keep the object in the spool
        /// (veil-spool, a private folder made inside DIR) for `veil store
        /// flush` (the command still fails: the object is not stored yet).
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
        /// The folder holding the spool (veil-spool) to flush.
        #[arg(long, value_name = "DIR")]
        spool: PathBuf,
        #[command(flatten)]
        store: StoreArg,
    },
}

fn meta_json(m: &ObjectMeta) -> serde_json::Value {
    let secs = m
        .last_modified
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    serde_json::json!({"key": m.key, "size": m.size, "last_modified": secs})
}

pub(crate) fn run(command: Command, ctx: &mut Ctx) -> Result<()> {
    let rt = runtime()?;
    match command {
        Command::Put {
            key,
            input,
            store,
            spool,
        } => {
            let store = store.open(ctx)?;
            let Some(dir) = spool else {
                // Streamed: memory stays bounded by one part whatever the size.
                let size = rt.block_on(async {
                    let mut body: Box<dyn tokio::io::AsyncRead + Send + Unpin> = match &input {
                        Some(p) if p.as_os_str() != "-" => {
                            Box::new(tokio::fs::File::open(p).await.map_err(|source| {
                                Error::Read {
                                    path: p.clone(),
                                    source,
                                }
                            })?)
                        }
                        _ => Box::new(tokio::io::stdin()),
                    };
                    store.put(&key, &mut body).await.map_err(Error::Store)
                })?;
                return ctx.line(serde_json::json!({"key": key, "size": size}));
            };
            let mut body = veil::fs::read_capped(&mut open_input(input.as_deref())?, MAX_SPOOLED)?;
            let size = body.len();
            let uploader = Uploader::new(store, Spool::open(&dir, DEFAULT_SPOOL_CAP)?);
            if rt.block_on(uploader.upload(&key, &body))? == Upload::Spooled {
                anyhow::bail!(
                    "upload of {key} failed; the object is kept in the spool {} (veil store flush uploads it)",
                    dir.display()
                );
            }
            zeroize::Zeroize::zeroize(&mut body);
            ctx.line(serde_json::json!({"key": key, "size": size}))
        }
        Command::Get {
            key,
            store,
            max_bytes,
            output,
        } => {
            let max = args::parse_u64("--max-bytes", &max_bytes)?;
            let store = store.open(ctx)?;
            let data = rt.block_on(store.get(&key, max)).map_err(Error::Store)?;
            match output {
                Some(path) => {
                    let mut sink = Output::create(Some(&path))?;
                    sink.write_all(&data)?;
                    sink.commit()?;
                }
                None => ctx.out.write_all(&data)?,
            }
            Ok(())
        }
        Command::Head { key, store } => {
            let store = store.open(ctx)?;
            let meta = rt
                .block_on(store.head(&key))
                .map_err(Error::Store)?
                .with_context(|| format!("{key}: no such object in {}", store.describe()))?;
            ctx.line(meta_json(&meta))
        }
        Command::List { prefix, store } => {
            let store = store.open(ctx)?;
            for m in rt.block_on(store.list(&prefix)).map_err(Error::Store)? {
                ctx.line(meta_json(&m))?;
            }
            Ok(())
        }
        Command::Delete { key, store } => {
            let store = store.open(ctx)?;
            rt.block_on(store.delete(&key)).map_err(Error::Store)?;
            Ok(())
        }
        Command::Flush { spool, store } => {
            let uploader = Uploader::new(store.open(ctx)?, Spool::open(&spool, DEFAULT_SPOOL_CAP)?);
            let report = rt.block_on(uploader.flush())?;
            if report.remaining > 0 {
                anyhow::bail!(
                    "{} uploaded, {} still in the spool: {}",
                    report.uploaded.len(),
                    report.remaining,
                    report.errors.first().map_or("", String::as_str)
                );
            }
            ctx.line(serde_json::json!({"uploaded": report.uploaded, "remaining": 0}))
        }
    }
}
