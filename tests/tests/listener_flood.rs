//! The listener holds a flood (`std-shell/src/listener.rs`): 1,000
//! connections from 127.0.0.1, each dribbling a request header that never
//! ends (64 KiB), against `veil miner` running under a 1,024-descriptor
//! limit. While the flood lasts a signed request from the same address is
//! still answered (a `veil validator` cycle); the miner's peak RSS stays
//! under 128 MB; every flooding connection is closed by the miner within
//! 30 s. The devnet beacon server (`veil beacon serve`) serves through the
//! same listener and keeps answering under a smaller flood.

extern crate alloc;

use alloc::sync::Arc;
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use core::time::Duration;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use veil_tests::bittensor::{self, VeilMiner};
use veil_tests::phase4::http_request;
use veil_tests::{Scratch, devnet, success, veil};

const MINER_SEED: &str = "7171717171717171717171717171717171717171717171717171717171717171";
const VALIDATOR_SEED: &str = "7272727272727272727272727272727272727272727272727272727272727272";
/// Connections held open at once.
const FLOOD: usize = 1000;
/// What each sends of a header that never ends.
const HEADER_BYTES: usize = 64 * 1024;
const CHUNK: usize = 1024;
/// How long the flood goes on (each closed connection is reopened).
const FLOOD_FOR: Duration = Duration::from_secs(20);
/// Every flooding connection must be closed by the server within this.
const CLOSED_WITHIN: Duration = Duration::from_secs(30);
const RSS_LIMIT_KB: u64 = 128 * 1024;

/// Raises this process's soft descriptor limit to hold the flood's client
/// ends (the hard limit allows it on CI machines; `prlimit` from
/// util-linux).
fn raise_own_descriptor_limit(want: usize) {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let (soft, hard) = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| {
            let mut f = l.split_whitespace().skip(3);
            Some((f.next()?.parse::<usize>().ok()?, f.next()?.to_owned()))
        })
        .unwrap_or((0, String::new()));
    if soft >= want {
        return;
    }
    let ok = Command::new("prlimit")
        .arg("--pid")
        .arg(std::process::id().to_string())
        .arg(format!("--nofile={want}:{hard}"))
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "cannot raise this test's descriptor limit to {want} (soft {soft}, hard {hard})"
    );
}

/// A field of `/proc/{pid}/status`, in kB.
fn status_kb(pid: u32, field: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn open_descriptors(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, Iterator::count)
}

/// What the flood saw.
#[derive(Default)]
struct Tally {
    opened: AtomicUsize,
    closed_by_server: AtomicUsize,
    /// The longest a connection stayed open, milliseconds.
    longest_ms: AtomicU64,
}

/// One flooding client: opens a connection, dribbles a header that never
/// ends (`pause` between 1 KiB chunks), and when the server closes it,
/// opens another, until `stop`. Returns once its last connection is closed
/// by the server, or after `CLOSED_WITHIN` (which the test then reports).
async fn flood_one(port: u16, pause: Duration, stop: Arc<AtomicBool>, tally: Arc<Tally>) {
    loop {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let Ok(mut conn) = TcpStream::connect(("127.0.0.1", port)).await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        tally.opened.fetch_add(1, Ordering::Relaxed);
        let opened = Instant::now();
        let head = b"POST /IdentitySynapse HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Flood: ";
        let mut closed = conn.write_all(head).await.is_err();
        let mut sent = head.len();
        let mut buf = [0u8; 512];
        while !closed && opened.elapsed() < CLOSED_WITHIN {
            if sent < HEADER_BYTES {
                let n = CHUNK.min(HEADER_BYTES - sent);
                closed = conn.write_all(&[b'a'; CHUNK][..n]).await.is_err();
                sent += n;
            }
            // Whatever the server says (a 408 or 431, or nothing), a read
            // of 0 bytes or an error means it closed the connection.
            if let Ok(Ok(0) | Err(_)) = tokio::time::timeout(pause, conn.read(&mut buf)).await {
                closed = true;
            }
        }
        let held = u64::try_from(opened.elapsed().as_millis()).unwrap_or(u64::MAX);
        tally.longest_ms.fetch_max(held, Ordering::Relaxed);
        if !closed {
            return; // never closed by the server: longest_ms says so
        }
        tally.closed_by_server.fetch_add(1, Ordering::Relaxed);
    }
}

/// Starts `n` flooding clients against `port`: half dribble fast enough to
/// reach the header cap, half so slowly that the header timeout closes them.
fn start_flood(
    rt: &tokio::runtime::Runtime,
    port: u16,
    n: usize,
    stop: &Arc<AtomicBool>,
    tally: &Arc<Tally>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..n)
        .map(|i| {
            let pause = if i % 2 == 0 {
                Duration::from_millis(100)
            } else {
                Duration::from_millis(400)
            };
            rt.spawn(flood_one(port, pause, Arc::clone(stop), Arc::clone(tally)))
        })
        .collect()
}

fn address(seed: &str) -> String {
    let out = success(veil(&["address", "--seed", seed]), "veil address");
    String::from_utf8(out).unwrap().trim().to_owned()
}

/// One `veil validator` cycle against the miner: it must be answered.
fn signed_cycle(dir: &Scratch, miner: &VeilMiner, store: &Path) -> serde_json::Value {
    let target = format!("127.0.0.1:{}:{}", miner.port(), miner.hotkey());
    let args = ["--timeout", "20", "--retries", "0", "--variations", "2"];
    bittensor::run_validator(dir, VALIDATOR_SEED, &target, store, &args, &|| miner.log())
        .pop()
        .expect("one results file")
}

#[test]
fn the_miner_answers_a_signed_request_through_a_flood() {
    raise_own_descriptor_limit(FLOOD + 512);
    let dir = Scratch::new("flood-miner");
    let store = dir.subdir("store");
    let validator = address(VALIDATOR_SEED);
    let miner = VeilMiner::start_limited(
        &dir,
        MINER_SEED,
        &format!("dir:{}", store.display()),
        &["--chain", "quicknet", "--allow", &validator],
        Some(1024),
    );
    let pid = miner.pid();
    let idle_fds = open_descriptors(pid);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    let started = Instant::now();
    let clients = start_flood(&rt, miner.port(), FLOOD, &stop, &tally);

    // RSS, sampled through the flood.
    let sampling = Arc::new(AtomicBool::new(true));
    let peak_rss = Arc::new(AtomicU64::new(0));
    let sampler = {
        let (sampling, peak_rss) = (Arc::clone(&sampling), Arc::clone(&peak_rss));
        std::thread::spawn(move || {
            let mut most_fds = 0;
            while sampling.load(Ordering::Relaxed) {
                peak_rss.fetch_max(status_kb(pid, "VmRSS:"), Ordering::Relaxed);
                most_fds = most_fds.max(open_descriptors(pid));
                std::thread::sleep(Duration::from_millis(200));
            }
            most_fds
        })
    };

    // Let the flood fill the table, then ask as a validator would.
    std::thread::sleep(Duration::from_secs(4));
    let flooding = tally.opened.load(Ordering::Relaxed);
    let asked = Instant::now();
    let results = signed_cycle(&dir, &miner, &store);
    let answered_in = asked.elapsed();
    let r = &results["responses"]["0"];
    assert!(r["error"].is_null(), "{r}\n{}", miner.log());
    assert_eq!(r["status_code"], 200, "{r}\n{}", miner.log());
    assert_eq!(r["s3_submissions"].as_array().unwrap().len(), 2, "{r}");

    let remaining = FLOOD_FOR.saturating_sub(started.elapsed());
    std::thread::sleep(remaining);
    stop.store(true, Ordering::Relaxed);
    let stopped = Instant::now();
    rt.block_on(async {
        for c in clients {
            let _ = c.await;
        }
    });
    let drained_in = stopped.elapsed();
    sampling.store(false, Ordering::Relaxed);
    let most_fds = sampler.join().unwrap();
    let peak_hwm = status_kb(pid, "VmHWM:");
    let opened = tally.opened.load(Ordering::Relaxed);
    let closed = tally.closed_by_server.load(Ordering::Relaxed);
    let longest = Duration::from_millis(tally.longest_ms.load(Ordering::Relaxed));
    eprintln!(
        "flood: {FLOOD} clients, {opened} connections opened ({flooding} in the first 4 s), \
         {closed} closed by the miner, longest held {longest:?}; signed request answered in \
         {answered_in:?}; miner peak RSS {} MB (VmHWM {} MB), at most {most_fds} descriptors \
         open; flood drained {drained_in:?} after it stopped",
        peak_rss.load(Ordering::Relaxed) / 1024,
        peak_hwm / 1024,
    );
    assert!(
        flooding >= FLOOD,
        "the flood did not open {FLOOD} connections: {flooding}"
    );
    assert_eq!(closed, opened, "a connection was never closed by the miner");
    assert!(
        longest < CLOSED_WITHIN,
        "a connection stayed open {longest:?}"
    );
    assert!(
        peak_hwm < RSS_LIMIT_KB,
        "the miner's peak RSS is {peak_hwm} kB, over {RSS_LIMIT_KB} kB"
    );
    assert!(
        most_fds < 1024,
        "{most_fds} descriptors under a 1,024 limit"
    );
    // Everything the flood opened is closed again.
    let settle = Instant::now();
    while open_descriptors(pid) > idle_fds + 4 && settle.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        open_descriptors(pid) <= idle_fds + 4,
        "{} descriptors open after the flood, {idle_fds} before",
        open_descriptors(pid)
    );
}

#[test]
fn the_devnet_beacon_keeps_answering_through_a_flood() {
    raise_own_descriptor_limit(512);
    let dir = Scratch::new("flood-devnet");
    let server = devnet::Server::start(&dir);
    let port: u16 = server
        .url
        .trim_start_matches("http://127.0.0.1:")
        .split('/')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("a port in the URL");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    let clients = start_flood(&rt, port, 200, &stop, &tally);
    std::thread::sleep(Duration::from_secs(2));
    let path = format!("/{}/info", server.info.hash);
    let info = http_request(port, "GET", &path, &[], b"");
    assert_eq!(info.status, 200, "{}", server.stderr());
    let latest = http_request(
        port,
        "GET",
        &format!("/{}/public/latest", server.info.hash),
        &[],
        b"",
    );
    assert_eq!(latest.status, 200, "{}", server.stderr());
    std::thread::sleep(Duration::from_secs(3));
    stop.store(true, Ordering::Relaxed);
    rt.block_on(async {
        for c in clients {
            let _ = c.await;
        }
    });
    let opened = tally.opened.load(Ordering::Relaxed);
    let longest = Duration::from_millis(tally.longest_ms.load(Ordering::Relaxed));
    assert_eq!(
        tally.closed_by_server.load(Ordering::Relaxed),
        opened,
        "a connection was never closed by the beacon server"
    );
    assert!(
        longest < CLOSED_WITHIN,
        "a connection stayed open {longest:?}"
    );
}
