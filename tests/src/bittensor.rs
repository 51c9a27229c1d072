//! The real bittensor 10.5 Python stack (PyPI `bittensor==10.5.0`) as an
//! interop peer for veil's miner and validator, through the scripts in
//! `tests/peers/bittensor/`:
//!
//! - [`PyAxonMiner`]: `axon_miner.py`, a MIID-style miner on a real
//!   `bt.Axon` (blacklist, signature and nonce checks, body-hash check), on a
//!   loopback port, killed on drop;
//! - [`dendrite_query`]: `dendrite_query.py`, a real `bt.Dendrite` sending
//!   MIID's `IdentitySynapse` to an axon and verifying the returned image
//!   signatures with bittensor-wallet;
//! - [`VeilMiner`]: `veil miner` as a child process, killed on drop.
//!
//! The scripts run on the bittensor virtualenv's python
//! (`$VEIL_PEER_BITTENSOR_PYTHON`, else `.peers/bittensor/bin/python`,
//! installed by `scripts/setup-peers`); without it [`python`] notes the peer
//! is missing (a failure under `VEIL_REQUIRE_PEERS=1`).

use core::net::Ipv4Addr;
use core::sync::atomic::{AtomicUsize, Ordering};
use core::time::Duration;
use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Instant;

use crate::devnet::KillOnDrop;
use crate::{Scratch, peer_missing, veil_bin};

/// How long a server (the Python axon, `veil miner`) may take to print its
/// `listening` line. Importing bittensor takes ~1 s on an idle machine; CI
/// runs it beside parallel compiles and tests, and the bound only costs time
/// on failure.
pub const STARTUP: Duration = Duration::from_secs(60);
/// How long one run of a script or of `veil validator` may take before it is
/// killed and the test fails.
pub const RUN_LIMIT: Duration = Duration::from_secs(300);
/// How many ports are tried when the Python axon exits at start (the port
/// picked was taken in between).
pub(crate) const ATTEMPTS: usize = 3;
/// Numbers the runs' output files within a process.
static QUERIES: AtomicUsize = AtomicUsize::new(0);

/// A number for the next run's output files, unique within the process.
pub fn next_run() -> usize {
    QUERIES.fetch_add(1, Ordering::Relaxed)
}

/// The quicknet signature of round 1000 (drand's public beacon; the same one
/// `../shared/vectors/drand_beacons.json` lists, from subtensor's
/// `pallets/drand` tests and tlock-rs's and ideal-lab's timelock tests).
pub const QUICKNET_ROUND_1000_SIGNATURE: &str = "b44679b9a59af2ec876b1a6b1ad52ea9b1615fc3982b19576350f93447cb1125e342b73a8dd2bacbe47e4b6b63ed5e39";
/// quicknet's genesis (unix seconds); its period is 3 s.
pub const QUICKNET_GENESIS: u64 = 1_692_803_367;

/// The unix time of quicknet round `round` (genesis + (round − 1) · 3 s).
pub fn quicknet_round_time(round: u64) -> u64 {
    QUICKNET_GENESIS + (round - 1) * 3
}

/// The bittensor virtualenv's python, if installed.
fn python_path() -> Option<PathBuf> {
    crate::venv_python("VEIL_PEER_BITTENSOR_PYTHON", "bittensor")
}

/// The bittensor virtualenv's python, or `None` after [`peer_missing`].
pub fn python() -> Option<PathBuf> {
    let found = python_path();
    if found.is_none() {
        peer_missing("bittensor 10.5 (PyPI; .peers/bittensor or $VEIL_PEER_BITTENSOR_PYTHON)");
    }
    found
}

fn required_python() -> PathBuf {
    python_path().expect("bittensor python missing: check bittensor::python() first")
}

/// `tests/peers/bittensor/<name>`.
pub fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("peers/bittensor")
        .join(name)
}

/// A port that was free a moment ago (within the axon's 1025..65534).
pub(crate) fn free_port() -> u16 {
    loop {
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|l| l.local_addr())
            .expect("bind 127.0.0.1:0")
            .port();
        if (1025..65535).contains(&port) {
            return port;
        }
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// The last lines of a log file.
pub(crate) fn tail(path: &Path) -> String {
    let text = read(path);
    let lines: Vec<&str> = text.lines().collect();
    let from = lines.len().saturating_sub(40);
    format!(
        "--- last lines of {} ---\n{}",
        path.display(),
        lines[from..].join("\n")
    )
}

/// Runs `cmd` (stdin closed, output into files in `scratch` named after
/// `tag`), killing it after `limit`.
///
/// # Panics
///
/// When it cannot start or runs over `limit`.
pub fn run_limited(cmd: &mut Command, scratch: &Scratch, tag: &str, limit: Duration) -> Output {
    let out_path = scratch.path().join(format!("{tag}.stdout"));
    let err_path = scratch.path().join(format!("{tag}.stderr"));
    let mut child = KillOnDrop(
        cmd.stdin(Stdio::null())
            .stdout(File::create(&out_path).expect("create stdout file"))
            .stderr(File::create(&err_path).expect("create stderr file"))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}")),
    );
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.0.try_wait().expect("poll child") {
            break status;
        }
        assert!(
            started.elapsed() < limit,
            "{tag} still running after {limit:?}: {cmd:?}\n{}",
            tail(&err_path)
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    Output {
        status,
        stdout: std::fs::read(&out_path).unwrap_or_default(),
        stderr: std::fs::read(&err_path).unwrap_or_default(),
    }
}

/// Writes a 16×16 RGB PNG (pixels derived from `text`) to `path`, with the
/// peer's own pure-python encoder (`tiny_png.py`).
///
/// # Panics
///
/// When the bittensor python is missing or the script fails.
pub fn write_png(path: &Path, text: &str) {
    let out = Command::new(required_python())
        .arg(script("tiny_png.py"))
        .arg(path)
        .arg(text)
        .stdin(Stdio::null())
        .output()
        .expect("run tiny_png.py");
    assert!(
        out.status.success(),
        "tiny_png.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The SS58 address of a 32-byte mini secret, by bittensor-wallet
/// (`Keypair.create_from_seed`).
///
/// # Panics
///
/// When the bittensor python is missing or rejects the seed.
pub fn ss58_of_seed(seed_hex: &str) -> String {
    let out = Command::new(required_python())
        .args([
            "-c",
            "import sys\nfrom bittensor_wallet import Keypair\n\
             print(Keypair.create_from_seed(sys.argv[1]).ss58_address)",
            seed_hex,
        ])
        .stdin(Stdio::null())
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "bittensor_wallet Keypair.create_from_seed failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .trim()
        .to_owned()
}

/// `axon_miner.py`: a MIID-style miner on a real `bt.Axon` at
/// `127.0.0.1:port`, killed on drop.
pub struct PyAxonMiner {
    child: KillOnDrop,
    port: u16,
    hotkey: String,
    record: PathBuf,
    stderr: PathBuf,
}

pub(crate) enum Started {
    Ready(KillOnDrop, String),
    /// The script exited before its `listening` line (e.g. the port was taken).
    Died(String),
}

impl PyAxonMiner {
    /// Starts `axon_miner.py --seed SEED --port P --store-dir STORE --allow …
    /// --record FILE` on a free loopback port, logging into `scratch`, and
    /// waits for its `listening 127.0.0.1:P hotkey SS58` line.
    ///
    /// `None` when bittensor is not installed and `VEIL_REQUIRE_PEERS` is
    /// unset (with a NOTE on stderr).
    ///
    /// # Panics
    ///
    /// When bittensor is required but missing, or the axon does not start.
    pub fn start(
        scratch: &Scratch,
        seed_hex: &str,
        store_dir: &Path,
        allow: &[&str],
    ) -> Option<Self> {
        Self::start_with(scratch, seed_hex, store_dir, allow, &[])
    }

    /// As [`PyAxonMiner::start`], with more arguments for `axon_miner.py`
    /// (`--seal miid`, `--capture`).
    ///
    /// # Panics
    ///
    /// As [`PyAxonMiner::start`].
    pub fn start_with(
        scratch: &Scratch,
        seed_hex: &str,
        store_dir: &Path,
        allow: &[&str],
        extra: &[&str],
    ) -> Option<Self> {
        let python = python()?;
        let mut failures = Vec::new();
        loop {
            let port = free_port();
            let stdout = scratch.path().join(format!("axon-{port}.stdout"));
            let stderr = scratch.path().join(format!("axon-{port}.stderr"));
            let record = scratch.path().join(format!("axon-{port}.record.jsonl"));
            let mut cmd = Command::new(&python);
            // Its private wallet directory (tempfile.mkdtemp) goes inside the
            // scratch directory, so even a SIGKILLed run leaves nothing behind.
            cmd.env("TMPDIR", scratch.path())
                .arg(script("axon_miner.py"))
                .args(["--seed", seed_hex, "--port", &port.to_string()])
                .arg("--store-dir")
                .arg(store_dir)
                .arg("--record")
                .arg(&record);
            for hotkey in allow {
                cmd.args(["--allow", hotkey]);
            }
            cmd.args(extra);
            match spawn_listening(&mut cmd, &stdout, &stderr, "axon_miner.py") {
                Started::Ready(child, line) => {
                    let want = format!("listening 127.0.0.1:{port} hotkey ");
                    let hotkey = line
                        .strip_prefix(&want)
                        .unwrap_or_else(|| panic!("axon_miner.py: unexpected line {line:?}"))
                        .to_owned();
                    return Some(Self {
                        child,
                        port,
                        hotkey,
                        record,
                        stderr,
                    });
                }
                Started::Died(why) => {
                    failures.push(why);
                    assert!(
                        failures.len() < ATTEMPTS,
                        "axon_miner.py failed to start {ATTEMPTS} times:\n{}",
                        failures.join("\n")
                    );
                }
            }
        }
    }

    /// The loopback port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its hotkey (SS58), as it printed.
    pub fn hotkey(&self) -> &str {
        &self.hotkey
    }

    /// `HOST:PORT:SS58`, as `veil validator --miner` takes it.
    pub fn miner_arg(&self) -> String {
        format!("127.0.0.1:{}:{}", self.port, self.hotkey)
    }

    /// The `--record` file: one JSON line per request that reached the
    /// blacklist, `{"hotkey","nonce","uuid","version","timeout","outcome"}`
    /// with outcome `blacklisted`, `verified` or `refused: …`.
    pub fn record_path(&self) -> &Path {
        &self.record
    }

    /// The `--record` lines so far, parsed.
    ///
    /// # Panics
    ///
    /// When a line is not JSON.
    pub fn records(&self) -> Vec<serde_json::Value> {
        read(&self.record)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("record line {l:?}: {e}")))
            .collect()
    }

    /// The last lines of what it logged on stderr (bittensor's logging).
    pub fn log(&self) -> String {
        tail(&self.stderr)
    }

    /// Whether it is still running.
    ///
    /// # Panics
    ///
    /// When the child cannot be polled.
    pub fn is_running(&mut self) -> bool {
        self.child
            .0
            .try_wait()
            .expect("poll axon_miner.py")
            .is_none()
    }
}

impl Drop for PyAxonMiner {
    /// SIGTERM first, so the script stops its server and removes its wallet;
    /// the child's own drop then reaps it (or SIGKILLs it after 5 s).
    fn drop(&mut self) {
        let pid = self.child.0.id().to_string();
        let termed = Command::new("kill")
            .args(["-TERM", &pid])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        let since = Instant::now();
        while termed && since.elapsed() < Duration::from_secs(5) {
            if !matches!(self.child.0.try_wait(), Ok(None)) {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Spawns `cmd` with stdout/stderr into files and waits for its first stdout
/// line (which must start with `listening `).
pub(crate) fn spawn_listening(
    cmd: &mut Command,
    stdout: &Path,
    stderr: &Path,
    what: &str,
) -> Started {
    let mut child = KillOnDrop(
        cmd.env("PYTHONUNBUFFERED", "1")
            .stdin(Stdio::null())
            .stdout(File::create(stdout).expect("create stdout file"))
            .stderr(File::create(stderr).expect("create stderr file"))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what}: {e}")),
    );
    let started = Instant::now();
    loop {
        if let Some((line, _)) = read(stdout).split_once('\n') {
            assert!(
                line.starts_with("listening "),
                "{what}: unexpected first line {line:?}\n{}",
                tail(stderr)
            );
            return Started::Ready(child, line.to_owned());
        }
        if let Some(status) = child.0.try_wait().expect("poll child") {
            return Started::Died(format!("{what} exited ({status})\n{}", tail(stderr)));
        }
        assert!(
            started.elapsed() < STARTUP,
            "{what} printed nothing in {STARTUP:?}\n{}",
            tail(stderr)
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// `veil miner --listen 127.0.0.1:0 …` as a child process, killed on drop.
pub struct VeilMiner {
    child: KillOnDrop,
    port: u16,
    hotkey: String,
    stderr: PathBuf,
}

impl VeilMiner {
    /// Starts `veil miner --listen 127.0.0.1:0 --seed SEED --store
    /// dir:STORE ARGS…` (`args`: e.g. `--chain quicknet`, `--allow SS58`)
    /// and waits for its `listening http://127.0.0.1:PORT hotkey SS58` line.
    ///
    /// # Panics
    ///
    /// When it exits, prints something else, or nothing in [`STARTUP`].
    pub fn start(scratch: &Scratch, seed_hex: &str, store_dir: &Path, args: &[&str]) -> Self {
        Self::start_with_store(
            scratch,
            seed_hex,
            &format!("dir:{}", store_dir.display()),
            args,
        )
    }

    /// As [`VeilMiner::start`], with any `--store` spec (`public:URL`, …).
    ///
    /// # Panics
    ///
    /// As [`VeilMiner::start`].
    pub fn start_with_store(scratch: &Scratch, seed_hex: &str, store: &str, args: &[&str]) -> Self {
        Self::start_limited(scratch, seed_hex, store, args, None)
    }

    /// As [`VeilMiner::start_with_store`]; with `nofile`, the miner runs
    /// under that limit on open descriptors (`prlimit --nofile=N:N`).
    ///
    /// # Panics
    ///
    /// As [`VeilMiner::start`].
    pub fn start_limited(
        scratch: &Scratch,
        seed_hex: &str,
        store: &str,
        args: &[&str],
        nofile: Option<u32>,
    ) -> Self {
        let n = QUERIES.fetch_add(1, Ordering::Relaxed);
        let stdout = scratch.path().join(format!("veil-miner-{n}.stdout"));
        let stderr = scratch.path().join(format!("veil-miner-{n}.stderr"));
        let mut cmd = match nofile {
            Some(limit) => {
                let mut c = Command::new("prlimit");
                c.arg(format!("--nofile={limit}:{limit}")).arg(veil_bin());
                c
            }
            None => Command::new(veil_bin()),
        };
        // Run in the scratch directory, so defaults such as the spool
        // (`veil-spool`) land there, never in the checkout.
        cmd.current_dir(scratch.path())
            .args(["miner", "--listen", "127.0.0.1:0"])
            .env("VEIL_SEED", seed_hex)
            .arg("--store")
            .arg(store)
            .args(args);
        match spawn_listening(&mut cmd, &stdout, &stderr, "veil miner") {
            Started::Ready(child, line) => {
                let rest = line
                    .strip_prefix("listening http://127.0.0.1:")
                    .unwrap_or_else(|| panic!("veil miner: unexpected line {line:?}"));
                let (port, hotkey) = rest
                    .split_once(" hotkey ")
                    .unwrap_or_else(|| panic!("veil miner: no hotkey in {line:?}"));
                let port: u16 = port
                    .parse()
                    .unwrap_or_else(|e| panic!("veil miner: port in {line:?}: {e}"));
                assert_ne!(port, 0, "veil miner printed port 0: {line:?}");
                Self {
                    child,
                    port,
                    hotkey: hotkey.to_owned(),
                    stderr,
                }
            }
            Started::Died(why) => panic!("{why}"),
        }
    }

    /// The port it bound.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its hotkey, as it printed.
    pub fn hotkey(&self) -> &str {
        &self.hotkey
    }

    /// What it said on stderr so far (last lines).
    pub fn log(&self) -> String {
        tail(&self.stderr)
    }

    /// The file its stderr goes to.
    pub fn stderr_path(&self) -> &Path {
        &self.stderr
    }

    /// Its process id (`prlimit` runs it in its own process: the same id).
    pub fn pid(&self) -> u32 {
        self.child.0.id()
    }

    /// Whether it is still running.
    ///
    /// # Panics
    ///
    /// When the child cannot be polled.
    pub fn is_running(&mut self) -> bool {
        self.child.0.try_wait().expect("poll veil miner").is_none()
    }

    /// How it exited, once it has.
    ///
    /// # Panics
    ///
    /// When the child cannot be polled.
    pub fn exit_status(&mut self) -> Option<std::process::ExitStatus> {
        self.child.0.try_wait().expect("poll veil miner")
    }
}

/// One `dendrite_query.py` run: a real `bt.Dendrite` sending `repeat`
/// IdentitySynapse queries to one axon.
#[derive(Clone, Debug)]
pub struct Query<'a> {
    /// The dendrite's 32-byte mini secret, hex.
    pub seed_hex: &'a str,
    /// The axon's ip.
    pub axon_host: &'a str,
    /// The axon's port.
    pub axon_port: u16,
    /// The axon's hotkey (SS58): signed into the request, and the key the
    /// returned image signatures are verified with.
    pub axon_hotkey: &'a str,
    /// The base image file (sent base64).
    pub image: &'a Path,
    /// `image_filename`.
    pub filename: &'a str,
    /// `target_drand_round`.
    pub round: u64,
    /// `reveal_timestamp`.
    pub reveal_ts: u64,
    /// `challenge_id`.
    pub challenge_id: &'a str,
    /// The dendrite's timeout, seconds (also the synapse's `timeout`).
    pub timeout_s: f64,
    /// `variation_requests`: (type, intensity).
    pub variations: &'a [(&'a str, &'a str)],
    /// An ImageRequest document to send instead (`--request`): its
    /// variation requests, daily seed and instructions as they are;
    /// `variations` must then be empty.
    pub request: Option<&'a Path>,
    /// How many queries the same Dendrite sends, one after the other.
    pub repeat: u32,
}

/// Runs `dendrite_query.py` for `q` and returns its JSON report:
/// `{"dendrite_hotkey","dendrite_uuid","results":[{"status_code",
/// "status_message","is_success","process_time","nonce","submissions":[…],
/// "signatures_valid":[bool…]}…]}`.
///
/// # Panics
///
/// When the bittensor python is missing, the script fails or runs over
/// [`RUN_LIMIT`], or prints no JSON.
pub fn dendrite_query(scratch: &Scratch, q: &Query<'_>) -> serde_json::Value {
    let mut cmd = Command::new(required_python());
    cmd.arg(script("dendrite_query.py"))
        .args(["--seed", q.seed_hex, "--axon-host", q.axon_host])
        .args(["--axon-port", &q.axon_port.to_string()])
        .args(["--axon-hotkey", q.axon_hotkey])
        .arg("--image")
        .arg(q.image)
        .args(["--filename", q.filename])
        .args(["--round", &q.round.to_string()])
        .args(["--reveal-ts", &q.reveal_ts.to_string()])
        .args(["--challenge-id", q.challenge_id])
        .args(["--timeout", &q.timeout_s.to_string()])
        .args(["--repeat", &q.repeat.to_string()]);
    if let Some(request) = q.request {
        cmd.arg("--request").arg(request);
    }
    for (kind, intensity) in q.variations {
        cmd.arg("--variation").arg(format!("{kind}:{intensity}"));
    }
    let tag = format!("dendrite-{}", QUERIES.fetch_add(1, Ordering::Relaxed));
    let out = run_limited(&mut cmd, scratch, &tag, RUN_LIMIT);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "dendrite_query.py failed ({}): {stderr}",
        out.status
    );
    let text = String::from_utf8(out.stdout).expect("dendrite_query.py: utf-8 stdout");
    assert_eq!(
        text.matches('\n').count(),
        1,
        "dendrite_query.py: not one line on stdout: {text:?}\n{stderr}"
    );
    let v: serde_json::Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("dendrite_query.py printed no JSON ({e}): {text:?}"));
    assert_eq!(
        v["results"].as_array().map(Vec::len),
        usize::try_from(q.repeat).ok(),
        "dendrite_query.py: one result per query: {v}"
    );
    v
}

/// One `veil validator` run against one miner (`HOST:PORT:SS58`), storing
/// nothing outside `scratch`: a base image `images/face-0001.png`, the
/// miners' objects read from `dir:STORE`, results into `results/`, on
/// quicknet unless `args` names a `--chain`; `args` adds the rest
/// (`--cycles`, `--timeout`, `--transport`, …). Returns the results files
/// it printed, parsed, in order, each checked to be `veil/results/v2`;
/// `log` is the miner's log, for failure messages.
///
/// # Panics
///
/// When the validator fails, runs over [`RUN_LIMIT`], or prints a path
/// that holds no results.
pub fn run_validator(
    scratch: &Scratch,
    seed_hex: &str,
    miner: &str,
    store: &Path,
    args: &[&str],
    log: &dyn Fn() -> String,
) -> Vec<serde_json::Value> {
    let spec = format!("dir:{}", store.display());
    validator_files(scratch, seed_hex, &[miner], &spec, args, log)
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p)
                .unwrap_or_else(|e| panic!("results {} not written: {e}", p.display()));
            let v: serde_json::Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("results {} is not JSON: {e}", p.display()));
            assert_eq!(v["schema"], "veil/results/v2", "{}", p.display());
            v
        })
        .collect()
}

/// As [`run_validator`], against several miners and any `--store` spec;
/// the results files it printed.
///
/// # Panics
///
/// As [`run_validator`].
pub fn validator_files(
    scratch: &Scratch,
    seed_hex: &str,
    miners: &[&str],
    store: &str,
    args: &[&str],
    log: &dyn Fn() -> String,
) -> Vec<PathBuf> {
    let images = scratch.path().join("images");
    std::fs::create_dir_all(&images).expect("images folder");
    let base = images.join("face-0001.png");
    if !base.exists() {
        write_png(&base, "validator seed image");
    }
    let mut cmd = Command::new(veil_bin());
    cmd.current_dir(scratch.path())
        .args(["validator"])
        .env("VEIL_SEED", seed_hex)
        .arg("--images")
        .arg(&images)
        .args(["--store", store])
        .arg("--out")
        .arg(scratch.path().join("results"));
    for m in miners {
        cmd.args(["--miner", m]);
    }
    if !args.contains(&"--chain") {
        cmd.args(["--chain", "quicknet"]);
    }
    cmd.args(args);
    let tag = format!("veil-validator-{}", next_run());
    let out = run_limited(&mut cmd, scratch, &tag, RUN_LIMIT);
    let stdout = String::from_utf8(out.stdout.clone()).expect("utf-8 stdout");
    assert!(
        out.status.success(),
        "veil validator failed ({}): {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        log()
    );
    stdout.lines().map(|l| scratch.path().join(l)).collect()
}
