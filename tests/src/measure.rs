//! What a run of a command costs: its wall time and its peak resident
//! memory, read by the kernel's accounting (`getrusage(RUSAGE_CHILDREN)`
//! of a small Python parent that runs the command and nothing else), so
//! the figure is the command's own, whatever else the test process holds.

use core::time::Duration;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Instant;

/// One measured run.
#[derive(Debug)]
pub struct Measured {
    /// What the command printed and how it ended.
    pub output: Output,
    /// Its peak resident set, KiB.
    pub peak_kib: u64,
    /// Its wall time.
    pub wall: Duration,
}

impl Measured {
    /// The peak resident set in MiB (for messages and figures).
    #[must_use]
    pub fn peak_mib(&self) -> f64 {
        // u64 → f64 is exact far past any RSS.
        #[expect(clippy::cast_precision_loss, reason = "KiB counts are far below 2^52")]
        let kib = self.peak_kib as f64;
        kib / 1024.0
    }
}

const WRAPPER: &str = "import resource, subprocess, sys\n\
r = subprocess.run(sys.argv[1:])\n\
sys.stderr.write('\\nveil-measure maxrss_kib=%d\\n' % resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n\
sys.exit(r.returncode if r.returncode >= 0 else 128 - r.returncode)\n";

/// Runs `program args…` in `dir` with `env` added, through the measuring
/// parent, and returns its output with its peak memory and wall time (the
/// wrapper's own line is taken off stderr).
///
/// # Panics
///
/// When `python3` cannot be started or does not report the figure.
pub fn run(program: &Path, args: &[&str], dir: &Path, env: &[(&str, &str)]) -> Measured {
    let mut cmd = Command::new("python3");
    cmd.current_dir(dir)
        .arg("-c")
        .arg(WRAPPER)
        .arg(program)
        .args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let started = Instant::now();
    let mut output = cmd.output().expect("python3 runs the measured command");
    let wall = started.elapsed();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let (rest, line) = stderr
        .rsplit_once("\nveil-measure maxrss_kib=")
        .expect("the measuring parent reports the peak");
    let peak_kib = line.trim().parse().expect("a KiB count");
    output.stderr = rest.as_bytes().to_vec();
    Measured {
        output,
        peak_kib,
        wall,
    }
}
