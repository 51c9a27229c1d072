//! `veil beacon serve` as a child process on a loopback port, for the
//! tests that need a live drand chain.

use core::time::Duration;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::{Scratch, veil_bin};

/// How long the server may take to bind and print its URL.
pub const STARTUP: Duration = Duration::from_secs(20);
/// The longest a test waits for a round to be emitted.
pub const LONGEST_WAIT: Duration = Duration::from_secs(10);

/// The chain as `veil beacon serve` published it in `--info-out`.
pub struct Info {
    /// The file.
    pub path: String,
    /// The chain hash, hex.
    pub hash: String,
    /// The public key, hex.
    pub public_key: String,
    /// Genesis, unix seconds.
    pub genesis: u64,
    /// Seconds between rounds.
    pub period: u64,
}

impl Info {
    /// Reads and checks an `--info-out` file.
    ///
    /// # Panics
    ///
    /// When it is missing or not a devnet /info.
    pub fn read(path: &Path) -> Self {
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("--info-out {} not written: {e}", path.display()));
        let v: serde_json::Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("--info-out is not JSON ({e}): {text}"));
        let text_field = |key: &str| {
            v[key]
                .as_str()
                .unwrap_or_else(|| panic!("info {key:?} is not a string: {text}"))
                .to_owned()
        };
        let number = |key: &str| {
            v[key]
                .as_u64()
                .unwrap_or_else(|| panic!("info {key:?} is not a number: {text}"))
        };
        assert_eq!(v["schemeID"], "bls-unchained-g1-rfc9380", "{text}");
        let info = Self {
            path: path.to_str().unwrap().to_owned(),
            hash: text_field("hash"),
            public_key: text_field("public_key"),
            genesis: number("genesis_time"),
            period: number("period"),
        };
        assert_eq!(info.period, 1, "--period 1 not honoured: {text}");
        info
    }

    /// drand's round_at: the round current at unix second `t`.
    pub fn round_at(&self, t: u64) -> u64 {
        t.saturating_sub(self.genesis) / self.period + 1
    }

    /// drand's time_of: when `round` is emitted, unix seconds.
    pub fn time_of(&self, round: u64) -> u64 {
        self.genesis + (round - 1) * self.period
    }

    /// Sleeps until `round` has been emitted (with a little slack for the
    /// server's clock reading), at most [`LONGEST_WAIT`].
    /// # Panics
    ///
    /// When the round is more than [`LONGEST_WAIT`] away.
    pub fn wait_for(&self, round: u64) {
        let due = Duration::from_secs(self.time_of(round)) + Duration::from_millis(250);
        let now = now();
        if let Some(left) = due.checked_sub(now) {
            assert!(
                left <= LONGEST_WAIT,
                "round {round} is {left:?} away (genesis {})",
                self.genesis
            );
            std::thread::sleep(left);
        }
    }
}

/// Unix time now.
///
/// # Panics
///
/// Before 1970.
pub fn now() -> Duration {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap()
}

/// A child process, killed on drop.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `veil beacon serve` on an ephemeral loopback port, killed on drop.
pub struct Server {
    _child: KillOnDrop,
    stderr: PathBuf,
    /// `http://ADDR/{chainhash}`, as printed.
    pub url: String,
    /// The chain it serves.
    pub info: Info,
}

impl Server {
    /// Starts a server keeping its key in `dir` (period 1 s).
    ///
    /// # Panics
    ///
    /// When it does not start or prints something unexpected.
    pub fn start(dir: &Scratch) -> Self {
        let key = dir.path().join("devnet-key.json");
        let info = dir.path().join("info.json");
        let stdout = dir.path().join("serve.stdout");
        let stderr = dir.path().join("serve.stderr");
        let mut child = KillOnDrop(
            Command::new(veil_bin())
                .args([
                    "beacon",
                    "serve",
                    "--listen",
                    "127.0.0.1:0",
                    "--period",
                    "1",
                ])
                .arg("--key")
                .arg(&key)
                .arg("--info-out")
                .arg(&info)
                .stdin(Stdio::null())
                .stdout(File::create(&stdout).unwrap())
                .stderr(File::create(&stderr).unwrap())
                .spawn()
                .expect("start veil beacon serve"),
        );
        let said = || std::fs::read_to_string(&stderr).unwrap_or_default();
        let started = Instant::now();
        let line = loop {
            let printed = std::fs::read_to_string(&stdout).unwrap_or_default();
            if let Some((line, _)) = printed.split_once('\n') {
                break line.to_owned();
            }
            if let Some(status) = child.0.try_wait().unwrap() {
                panic!("veil beacon serve exited ({status}): {}", said());
            }
            assert!(
                started.elapsed() < STARTUP,
                "veil beacon serve printed nothing in {STARTUP:?}: {}",
                said()
            );
            std::thread::sleep(Duration::from_millis(25));
        };
        let url = line
            .strip_prefix("listening ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}: {}", said()));
        let (base, hash) = url.rsplit_once('/').unwrap();
        assert!(
            base.starts_with("http://127.0.0.1:")
                && !base.ends_with(":0")
                && hash.len() == 64
                && hash
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
            "not http://ADDR/{{chainhash}}: {line:?}"
        );
        // The CLI contract: --info-out is written by the time the line is.
        let info = Info::read(&info);
        assert_eq!(hash, info.hash, "URL and info.json disagree");
        Self {
            _child: child,
            url: url.to_owned(),
            stderr,
            info,
        }
    }

    /// What the server said on stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Asserts success, with the server's stderr on failure.
    #[track_caller]
    ///
    /// # Panics
    ///
    /// When `out` is a failure.
    pub fn ok(&self, out: Output, what: &str) -> Vec<u8> {
        assert!(
            out.status.success(),
            "{what} failed ({:?}): {}\nserver stderr: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr),
            self.stderr()
        );
        out.stdout
    }
}

/// A beacon printed as JSON `{round, signature, randomness}`; hex lowercased.
#[track_caller]
///
/// # Panics
///
/// When `stdout` is not such JSON.
pub fn beacon(stdout: &[u8], what: &str) -> (u64, String, String) {
    let v: serde_json::Value = serde_json::from_slice(stdout).unwrap_or_else(|e| {
        panic!(
            "{what} printed no JSON ({e}): {}",
            String::from_utf8_lossy(stdout)
        )
    });
    let hex = |key: &str| {
        v[key]
            .as_str()
            .unwrap_or_else(|| panic!("{what}: {key:?} is not a string: {v}"))
            .to_ascii_lowercase()
    };
    let round = v["round"]
        .as_u64()
        .unwrap_or_else(|| panic!("{what}: round is not a number: {v}"));
    (round, hex("signature"), hex("randomness"))
}
