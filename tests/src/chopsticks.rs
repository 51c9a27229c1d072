//! A real subtensor runtime on loopback: `../shared/chain/raonet.json`
//! (spec 218) executed by chopsticks, and polkadot.js (`chain.mjs`) as an
//! independent client: it sets subnets up as the sudo key, registers
//! neurons, reads storage, and decodes the extrinsics veil signs.
//!
//! The runtime refuses 127.0.0.1 as an axon address, so a test that serves
//! an axon runs in a network namespace of its own ([`in_netns`]) where
//! [`AXON_IP`] is a loopback address: no code maps addresses.

use core::time::Duration;
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::{peer_missing, peers_required};

/// A documentation address (RFC 5737) made a loopback address in the
/// test's network namespace.
pub const AXON_IP: &str = "203.0.113.7";

/// `//Alice`, the sudo key the tests give the runtime.
pub const ALICE: &str = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";

/// The chain peer's folder (`tests/peers/chain`, with its node_modules).
pub fn chain_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("VEIL_PEER_CHAIN_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("peers/chain"),
        PathBuf::from,
    );
    if dir
        .join("node_modules/@acala-network/chopsticks/package.json")
        .exists()
    {
        Some(dir)
    } else {
        peer_missing("chopsticks and polkadot.js (npm, tests/peers/chain)");
        None
    }
}

/// Runs `node chain.mjs ARGS` and parses its one JSON line.
///
/// # Panics
///
/// When the harness fails.
#[track_caller]
pub fn harness(dir: &Path, args: &[&str]) -> Value {
    let out = Command::new("node")
        .arg(dir.join("chain.mjs"))
        .args(args)
        .output()
        .expect("start node");
    assert!(
        out.status.success(),
        "chain.mjs {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(line).unwrap_or_else(|e| panic!("chain.mjs {args:?}: {e}: {stdout}"))
}

/// A chopsticks process serving the spec-218 runtime.
pub struct Chopsticks {
    child: Child,
    /// `ws://127.0.0.1:PORT`.
    pub url: String,
    /// The chain peer's folder.
    pub dir: PathBuf,
}

impl Chopsticks {
    /// Starts chopsticks on a free port with the shared genesis, a
    /// slot-aligned timestamp (block 1 panics otherwise), `//Alice` as sudo
    /// and funded, blocks built as extrinsics arrive. `None` (after saying
    /// why) when the peer or the shared runtime is missing.
    ///
    /// # Panics
    ///
    /// When it does not start within 60 s.
    pub fn start(scratch: &Path) -> Option<Self> {
        let genesis = crate::shared_file("chain/raonet.json")?;
        let dir = chain_dir()?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock")
            .as_millis();
        let now = now_ms / 3000 * 3000;
        let config = scratch.join("chopsticks.yml");
        std::fs::write(
            &config,
            format!(
                "genesis: {genesis}\nhost: 127.0.0.1\nport: {port}\nbuild-block-mode: Instant\n\
                 import-storage:\n  Timestamp:\n    Now: {now}\n  Aura:\n    CurrentSlot: {slot}\n  \
                 Sudo:\n    Key: {ALICE}\n  System:\n    Account:\n      - [[{ALICE}], {{providers: 1, data: {{free: '1000000000000000000'}}}}]\n",
                genesis = genesis.display(),
                slot = now / 3000,
            ),
        )
        .expect("write config");
        let log = std::fs::File::create(scratch.join("chopsticks.log")).expect("log");
        let mut child = Command::new("node")
            .arg(dir.join("node_modules/@acala-network/chopsticks/chopsticks.cjs"))
            .arg("-c")
            .arg(&config)
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("start chopsticks");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut said = false;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if !said && line.contains("listening on") {
                    let _ = tx.send(());
                    said = true;
                }
            }
        });
        let started = Instant::now();
        if rx.recv_timeout(Duration::from_secs(60)).is_err() {
            let _ = child.kill();
            panic!(
                "chopsticks did not start within 60 s: {}",
                std::fs::read_to_string(scratch.join("chopsticks.log")).unwrap_or_default()
            );
        }
        eprintln!(
            "chopsticks listening after {:.1} s",
            started.elapsed().as_secs_f64()
        );
        Some(Self {
            child,
            url: format!("ws://127.0.0.1:{port}"),
            dir,
        })
    }

    /// `node chain.mjs CMD URL ARGS…`.
    ///
    /// # Panics
    ///
    /// When the harness fails.
    #[track_caller]
    pub fn harness(&self, cmd: &str, args: &[&str]) -> Value {
        let mut all = vec![cmd, self.url.as_str()];
        all.extend_from_slice(args);
        harness(&self.dir, &all)
    }

    /// A storage value as polkadot.js reads it (JSON).
    ///
    /// # Panics
    ///
    /// When the harness fails.
    #[track_caller]
    pub fn read(&self, pallet: &str, item: &str, keys: &Value) -> Value {
        self.harness("read", &[pallet, item, &keys.to_string()])["value"].clone()
    }

    /// Stops the node (a test of a node going away).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Chopsticks {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Runs the current test again inside a new network namespace where `lo`
/// is up and carries [`AXON_IP`]; returns `true` in the inner run (the
/// caller then does the work) and `false` in the outer one, after the inner
/// run passed.
///
/// # Panics
///
/// In the outer run, when the inner run failed, or when no namespace can
/// be made and the peers are required.
#[track_caller]
pub fn in_netns(test: &str) -> bool {
    if std::env::var_os("VEIL_IN_NETNS").is_some() {
        let up = Command::new("ip")
            .args(["link", "set", "lo", "up"])
            .status();
        let addr = Command::new("ip")
            .args(["addr", "add", &format!("{AXON_IP}/32"), "dev", "lo"])
            .status();
        assert!(
            up.is_ok_and(|s| s.success()) && addr.is_ok_and(|s| s.success()),
            "cannot set up lo in the test's network namespace"
        );
        return true;
    }
    let exe = std::env::current_exe().expect("test binary");
    let probe = Command::new("unshare").args(["-n", "true"]).status();
    if !probe.is_ok_and(|s| s.success()) {
        assert!(
            !peers_required(),
            "cannot make a network namespace (unshare -n) but VEIL_REQUIRE_PEERS=1"
        );
        eprintln!("NOTE: no network namespace (unshare -n needs CAP_SYS_ADMIN); skipping {test}");
        return false;
    }
    let status = Command::new("unshare")
        .arg("-n")
        .arg(exe)
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env("VEIL_IN_NETNS", "1")
        .status()
        .expect("run the test in a network namespace");
    assert!(status.success(), "{test} failed in its network namespace");
    false
}
