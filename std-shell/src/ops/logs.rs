//! Logs on stderr, as operators ask for them.
//!
//! Which events show, first match wins:
//!
//! 1. `--logging.trace|debug|info` (bittensor's flags): that level for
//!    veil's own events;
//! 2. `VEIL_LOG`, else `RUST_LOG`: an env filter (`info`,
//!    `veil::axon=debug,info`, …), as tracing-subscriber reads it;
//! 3. the command's default ([`Defaults`]): `info` for the daemons
//!    (`miner`, `validator`, `beacon serve`), `warn` for `reveal` and
//!    `sandbox`, nothing for the one-shot commands, whose failure is their
//!    one line.
//!
//! Whatever is asked, other crates' events stop at `warn`: the HTTP, S3 and
//! signing layers below print request headers (signatures, session tokens)
//! at `debug` and `trace`, and no log of veil's carries a secret.
//!
//! `--log-format json` writes one JSON object per line (timestamp, level,
//! target, fields), for log shippers.

use core::str::FromStr;

use tracing_subscriber::Layer as _;
use tracing_subscriber::filter::{EnvFilter, LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::Error;

/// The environment variables read for a filter, in order.
pub const FILTER_ENV: [&str; 2] = ["VEIL_LOG", "RUST_LOG"];

/// The crates whose events follow the filter; every other crate's stop at
/// `warn`.
const OWN_TARGETS: [&str; 2] = ["veil", "veil_core"];

/// A command's default level when nothing is asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Defaults {
    /// Long-running services: one line per request, cycle, upload retry,
    /// spool flush and chain action.
    Daemon,
    /// `reveal`, `sandbox`: only what went wrong on the way.
    Batch,
    /// One-shot commands: nothing but the one-line error on failure.
    OneShot,
}

impl Defaults {
    fn level(self) -> LevelFilter {
        match self {
            Self::Daemon => LevelFilter::INFO,
            Self::Batch => LevelFilter::WARN,
            Self::OneShot => LevelFilter::OFF,
        }
    }
}

/// How a log line is written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// `2026-12-05T11:20:27.123Z  INFO veil::axon::server: answered route=…`
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

impl FromStr for LogFormat {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            _ => Err(Error::value("--log-format", "must be text or json")),
        }
    }
}

/// What the command line asked of the logs.
#[derive(Clone, Copy, Debug, Default)]
pub struct LogArgs {
    /// `--logging.trace|debug|info`, the most verbose given.
    pub level: Option<LevelFilter>,
    /// `--log-format`.
    pub format: LogFormat,
}

/// The filter for `args`, the environment read through `env`, and the
/// command's `defaults` (module docs).
///
/// # Errors
///
/// A filter in `VEIL_LOG`/`RUST_LOG` that does not parse, naming the
/// variable.
pub fn filter(
    args: &LogArgs,
    defaults: Defaults,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<EnvFilter, Error> {
    if let Some(level) = args.level {
        return Ok(own_level(level));
    }
    for name in FILTER_ENV {
        if let Some(value) = env(name).filter(|v| !v.trim().is_empty()) {
            return EnvFilter::builder()
                .parse(&value)
                .map_err(|e| Error::value(name, crate::text::one_line(&e.to_string())));
        }
    }
    Ok(own_level(defaults.level()))
}

/// `level` for veil's own events, `warn` at most for the rest.
fn own_level(level: LevelFilter) -> EnvFilter {
    let mut f = EnvFilter::default().add_directive(level.min(LevelFilter::WARN).into());
    for t in OWN_TARGETS {
        if let Ok(d) = format!("{t}={level}").parse() {
            f = f.add_directive(d);
        }
    }
    f
}

/// Installs the logger for this process: `filter` (see [`filter`]), other
/// crates capped at `warn`, lines in `format` on stderr.
///
/// # Errors
///
/// A logger was already installed.
pub fn init(filter: EnvFilter, format: LogFormat) -> Result<(), Error> {
    let mut cap = Targets::new().with_default(LevelFilter::WARN);
    for t in OWN_TARGETS {
        cap = cap.with_target(t, LevelFilter::TRACE);
    }
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(false);
    let installed = match format {
        LogFormat::Text => tracing_subscriber::registry()
            .with(fmt.with_filter(filter))
            .with(cap)
            .try_init(),
        LogFormat::Json => tracing_subscriber::registry()
            .with(fmt.json().flatten_event(true).with_filter(filter))
            .with(cap)
            .try_init(),
    };
    installed.map_err(|e| Error::Content(format!("logging: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn flags_then_environment_then_defaults() {
        let none = env_of(&[]);
        let daemon = filter(&LogArgs::default(), Defaults::Daemon, &none).unwrap();
        assert_eq!(daemon.max_level_hint(), Some(LevelFilter::INFO));
        let one_shot = filter(&LogArgs::default(), Defaults::OneShot, &none).unwrap();
        assert_eq!(one_shot.max_level_hint(), Some(LevelFilter::OFF));
        let batch = filter(&LogArgs::default(), Defaults::Batch, &none).unwrap();
        assert_eq!(batch.max_level_hint(), Some(LevelFilter::WARN));

        let env = env_of(&[("RUST_LOG", "debug"), ("VEIL_LOG", "veil=trace")]);
        let asked = filter(&LogArgs::default(), Defaults::OneShot, &env).unwrap();
        assert_eq!(
            asked.max_level_hint(),
            Some(LevelFilter::TRACE),
            "VEIL_LOG first"
        );
        let rust_log = env_of(&[("RUST_LOG", "debug")]);
        let asked = filter(&LogArgs::default(), Defaults::OneShot, &rust_log).unwrap();
        assert_eq!(asked.max_level_hint(), Some(LevelFilter::DEBUG));

        let flag = LogArgs {
            level: Some(LevelFilter::DEBUG),
            format: LogFormat::Json,
        };
        let asked = filter(&flag, Defaults::Daemon, &env).unwrap();
        assert_eq!(
            asked.max_level_hint(),
            Some(LevelFilter::DEBUG),
            "the flag wins"
        );
    }

    #[test]
    fn a_bad_filter_names_its_variable() {
        let env = env_of(&[("VEIL_LOG", "veil=loud")]);
        let e = filter(&LogArgs::default(), Defaults::Daemon, &env)
            .unwrap_err()
            .to_string();
        assert!(e.contains("VEIL_LOG"), "{e}");
        assert!(!e.contains('\n'), "{e}");
        assert_eq!("json".parse::<LogFormat>().unwrap(), LogFormat::Json);
        assert!("yaml".parse::<LogFormat>().is_err());
    }
}
