//! The peak memory and wall time of a child process, without unsafe code:
//! the command runs under a small `python3` wrapper that waits for it and
//! reads `getrusage(RUSAGE_CHILDREN).ru_maxrss` (the peak resident set of
//! the waited-for child, in KiB on Linux).
//!
//! The wrapper also enforces the time limit: past it, the child is killed
//! (by `subprocess.run`'s timeout) and the run reports `timed_out`.
//!
//! ```no_run
//! # use std::process::Command;
//! # use core::time::Duration;
//! let mut cmd = Command::new(veil_tests::veil_bin());
//! cmd.args(["reveal", "--results", "results.json"]);
//! let run = veil_tests::measure::run(&cmd, Duration::from_secs(60));
//! eprintln!("{}", run.summary("veil reveal"));
//! ```

use core::time::Duration;
use std::process::{Command, Output, Stdio};
use std::time::Instant;

/// What the wrapper prints last on stderr.
const MARK: &str = "veil-measure: ";

/// The wrapper: `python3 -c WRAPPER LIMIT_S PROGRAM ARGS…`.
const WRAPPER: &str = r#"
import resource, subprocess, sys, time
limit = float(sys.argv[1])
t0 = time.monotonic()
timed_out = 0
try:
    code = subprocess.run(sys.argv[2:], timeout=limit).returncode
except subprocess.TimeoutExpired:
    code, timed_out = 124, 1
wall = time.monotonic() - t0
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
sys.stderr.write("\nveil-measure: maxrss_kib=%d wall_s=%.3f timed_out=%d\n" % (rss, wall, timed_out))
sys.exit(code if code >= 0 else 128 - code)
"#;

/// A finished, measured run.
#[derive(Debug)]
pub struct Measured {
    /// Its status (the wrapper exits with the child's code; 128 + N when
    /// signal N killed it, 124 after the time limit), stdout, and stderr
    /// without the wrapper's line.
    pub output: Output,
    /// The child's peak resident set, KiB.
    pub peak_rss_kib: u64,
    /// From start to exit, as the wrapper timed it.
    pub wall: Duration,
    /// Whether the time limit killed it.
    pub timed_out: bool,
}

impl Measured {
    /// One line: `{what}: peak RSS 123.4 MiB, wall 12.34 s, exit 0`.
    pub fn summary(&self, what: &str) -> String {
        let mib = self.peak_rss_kib as f64 / 1024.0;
        format!(
            "{what}: peak RSS {mib:.1} MiB ({} KiB), wall {:.2} s, {}{}",
            self.peak_rss_kib,
            self.wall.as_secs_f64(),
            self.output
                .status
                .code()
                .map_or_else(|| "killed".to_owned(), |c| format!("exit {c}")),
            if self.timed_out {
                " (killed at the time limit)"
            } else {
                ""
            }
        )
    }
}

/// The python that runs the wrapper: `$VEIL_MEASURE_PYTHON`, else `python3`.
fn python() -> String {
    std::env::var("VEIL_MEASURE_PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

/// Runs `cmd` (its program, arguments, environment changes and working
/// directory; stdin closed, stdout and stderr captured) under the wrapper,
/// killing it after `limit`.
///
/// # Panics
///
/// When python3 cannot be started or its report is missing.
pub fn run(cmd: &Command, limit: Duration) -> Measured {
    let mut wrapped = Command::new(python());
    wrapped
        .arg("-c")
        .arg(WRAPPER)
        .arg(format!("{:.3}", limit.as_secs_f64()))
        .arg(cmd.get_program())
        .args(cmd.get_args())
        .stdin(Stdio::null());
    for (name, value) in cmd.get_envs() {
        match value {
            Some(v) => wrapped.env(name, v),
            None => wrapped.env_remove(name),
        };
    }
    if let Some(dir) = cmd.get_current_dir() {
        wrapped.current_dir(dir);
    }
    let started = Instant::now();
    let mut output = wrapped
        .output()
        .unwrap_or_else(|e| panic!("cannot run {} (the measuring wrapper): {e}", python()));
    let elapsed = started.elapsed();
    let text = String::from_utf8_lossy(&output.stderr).into_owned();
    let at = text.rfind(MARK).unwrap_or_else(|| {
        panic!(
            "the measuring wrapper printed no report ({}): {text}",
            output.status
        )
    });
    let report = text[at + MARK.len()..].trim().to_owned();
    let field = |name: &str| {
        report
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
            .unwrap_or_else(|| panic!("{name} missing from the wrapper's report {report:?}"))
            .to_owned()
    };
    let peak_rss_kib = field("maxrss_kib").parse().expect("maxrss_kib is a number");
    let wall = field("wall_s")
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map_or(elapsed, Duration::from_secs_f64);
    let timed_out = field("timed_out") == "1";
    // The wrapper's line and the newline written before it.
    let keep = text[..at].strip_suffix('\n').unwrap_or(&text[..at]).len();
    output.stderr.truncate(keep);
    Measured {
        output,
        peak_rss_kib,
        wall,
        timed_out,
    }
}
