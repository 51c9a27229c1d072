//! What operators see of a running veil (`veil::ops`):
//!
//! - a sandbox serves `/metrics` on `--metrics.port`; the page is parsed by
//!   the Prometheus project's own OpenMetrics parser (Python's
//!   `prometheus_client`) and counts the flow it ran — answers, uploads,
//!   cycles, submissions, reveal verdicts — with labels from fixed sets
//!   only (no hotkey anywhere on the page); its miners answer `/healthz`;
//! - a `veil miner` logs one JSON line (`--log-format json`) per refused
//!   request at its default level, never its seed; counts them by route
//!   and status; and on SIGTERM drains and exits 0.

use core::time::Duration;
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::Instant;

use serde_json::Value;
use veil_tests::bittensor::VeilMiner;
use veil_tests::phase4::http_request;
use veil_tests::{Scratch, veil_bin};

/// A port nobody listens on now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The page at `127.0.0.1:port/metrics`, once it answers.
fn scrape(port: u16) -> Option<String> {
    std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    let r = http_request(port, "GET", "/metrics", &[], b"");
    assert_eq!(
        r.header("content-type"),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    (r.status == 200).then(|| String::from_utf8_lossy(&r.body).into_owned())
}

/// The value of the sample `line_start` (name and labels, as printed).
fn sample(page: &str, line_start: &str) -> Option<f64> {
    page.lines()
        .find_map(|l| l.strip_prefix(line_start)?.trim().parse().ok())
}

/// The page parsed by `prometheus_client.openmetrics.parser`: each family's
/// type and its samples as `[name, labels, value]`.
fn parse_with_prometheus_client(page: &str) -> Option<Value> {
    let py = veil_tests::peers_python("prometheus-client (PyPI; .peers/py or $VEIL_PEER_PYTHON)")?;
    let script = r#"
import json, sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
out = {}
for f in text_string_to_metric_families(sys.stdin.read()):
    out[f.name] = {"type": f.type, "samples": [[s.name, s.labels, s.value] for s in f.samples]}
print(json.dumps(out))
"#;
    let mut child = Command::new(py)
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python");
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), page.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "prometheus_client refused the page: {}\n{page}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

fn family_sum(families: &Value, family: &str, sample_name: &str, labels: &[(&str, &str)]) -> f64 {
    families[family]["samples"]
        .as_array()
        .unwrap_or_else(|| panic!("no family {family} in {families}"))
        .iter()
        .filter(|s| s[0] == sample_name)
        .filter(|s| labels.iter().all(|(k, v)| s[1][*k] == *v))
        .map(|s| s[2].as_f64().unwrap())
        .sum()
}

#[test]
fn a_sandbox_serves_a_metrics_page_prometheus_parses() {
    let scratch = Scratch::new("ops-metrics");
    let port = free_port();
    let out = scratch.path().join("sb");
    let stdout = scratch.path().join("sandbox.stdout");
    let mut child = Command::new(veil_bin())
        .args(["sandbox", "--miners", "2", "--variations", "3"])
        .args(["--cycles", "2", "--period", "6"])
        .args(["--metrics.port", &port.to_string()])
        .arg("--out")
        .arg(&out)
        .stdout(std::fs::File::create(&stdout).unwrap())
        .stderr(Stdio::piped())
        .spawn()
        .expect("veil sandbox");
    // Between the two cycles: the first one revealed, the process alive.
    let started = Instant::now();
    let page = loop {
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "no revealed cycle on the page in 90 s"
        );
        if let Some(page) = scrape(port)
            && sample(&page, "veil_reveal_verdicts_total{verdict=\"verified\"}")
                .is_some_and(|v| v >= 6.0)
        {
            break page;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    // Its miners answer the health probe on their own port.
    let printed = std::fs::read_to_string(&stdout).unwrap();
    let miner_ports: Vec<u16> = printed
        .lines()
        .filter(|l| l.starts_with("miner "))
        .filter_map(|l| {
            l.rsplit_once("127.0.0.1:")?
                .1
                .split(' ')
                .next()?
                .parse()
                .ok()
        })
        .collect();
    assert_eq!(miner_ports.len(), 2, "{printed}");
    for p in miner_ports {
        let r = http_request(p, "GET", "/healthz", &[], b"");
        assert_eq!(r.status, 200);
        assert_eq!(r.json()["status"], "ok");
    }
    let status = child.wait().unwrap();
    assert!(status.success(), "veil sandbox failed: {printed}");

    // No hotkey (or anything else a caller chose) is a label.
    for hotkey in printed
        .split_whitespace()
        .filter(|w| w.len() == 48 && w.starts_with('5'))
    {
        assert!(!page.contains(hotkey), "{hotkey} on the page:\n{page}");
    }
    let Some(families) = parse_with_prometheus_client(&page) else {
        return;
    };
    eprintln!("the metrics page of a sandbox cycle:\n{page}");
    for (family, kind) in [
        ("veil_requests", "counter"),
        ("veil_answer_seconds", "histogram"),
        ("veil_listener_connections", "gauge"),
        ("veil_uploads", "counter"),
        ("veil_spool_depth", "gauge"),
        ("veil_cycles", "counter"),
        ("veil_submissions", "counter"),
        ("veil_reveal_verdicts", "counter"),
        ("veil_beacon_fetches", "counter"),
    ] {
        assert_eq!(families[family]["type"], kind, "{family}: {families}");
    }
    // The first cycle: 2 miners × 3 variations, each answered, uploaded,
    // accepted and verified.
    let answers = family_sum(
        &families,
        "veil_requests",
        "veil_requests_total",
        &[("route", "synapse"), ("status", "200")],
    );
    assert!(answers >= 2.0, "{answers}");
    assert!(
        family_sum(
            &families,
            "veil_answer_seconds",
            "veil_answer_seconds_count",
            &[]
        ) >= 2.0
    );
    assert!(
        family_sum(
            &families,
            "veil_uploads",
            "veil_uploads_total",
            &[("outcome", "stored")]
        ) >= 6.0
    );
    assert!(
        family_sum(
            &families,
            "veil_cycles",
            "veil_cycles_total",
            &[("outcome", "done")]
        ) >= 1.0
    );
    assert!(
        family_sum(
            &families,
            "veil_submissions",
            "veil_submissions_total",
            &[("verdict", "accepted")]
        ) >= 6.0
    );
    assert_eq!(
        family_sum(
            &families,
            "veil_reveal_verdicts",
            "veil_reveal_verdicts_total",
            &[("verdict", "failed")]
        ),
        0.0
    );
    assert!(
        family_sum(
            &families,
            "veil_beacon_fetches",
            "veil_beacon_fetches_total",
            &[("outcome", "ok")]
        ) >= 1.0
    );
}

#[test]
fn a_miner_logs_each_refusal_in_json_counts_it_and_drains_on_sigterm() {
    let scratch = Scratch::new("ops-miner");
    let metrics = free_port();
    let seed = "5a".repeat(32);
    let store = scratch.subdir("store");
    let mut miner = VeilMiner::start(
        &scratch,
        &seed,
        &store,
        &[
            "--chain",
            "quicknet",
            "--allow-any",
            "--log-format",
            "json",
            "--metrics.port",
            &metrics.to_string(),
        ],
    );
    let health = http_request(miner.port(), "GET", "/healthz", &[], b"");
    assert_eq!(health.status, 200);
    assert_eq!(health.json()["status"], "ok");
    let unsigned = http_request(miner.port(), "POST", "/IdentitySynapse", &[], b"{}");
    assert_eq!(unsigned.status, 400, "{:?}", unsigned.text());
    let lost = http_request(miner.port(), "GET", "/wp-login.php", &[], b"");
    assert_eq!(lost.status, 404);

    let page = scrape(metrics).expect("the metrics page");
    for (line, want) in [
        ("veil_requests_total{route=\"synapse\",status=\"400\"}", 1.0),
        ("veil_requests_total{route=\"other\",status=\"404\"}", 1.0),
        ("veil_requests_total{route=\"healthz\",status=\"200\"}", 1.0),
    ] {
        assert_eq!(sample(&page, line), Some(want), "{line} in\n{page}");
    }
    assert!(!page.contains("wp-login"), "{page}");

    // SIGTERM: the miner stops accepting, finishes, exits 0.
    let pid = miner.pid().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let stopping = Instant::now();
    let status = loop {
        if let Some(status) = miner.exit_status() {
            break status;
        }
        assert!(
            stopping.elapsed() < Duration::from_secs(20),
            "still running 20 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}: {}", miner.log());

    let log = std::fs::read_to_string(miner.stderr_path()).unwrap();
    assert!(!log.contains(&seed), "the seed is in the logs:\n{log}");
    let lines: Vec<Value> = log
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let refused: Vec<&Value> = lines.iter().filter(|l| l["message"] == "refused").collect();
    assert_eq!(refused.len(), 2, "one line per refusal:\n{log}");
    assert!(refused.iter().all(|l| l["level"] == "INFO"), "{log}");
    assert_eq!(refused[0]["status"], 400, "{log}");
    assert_eq!(refused[1]["status"], 404, "{log}");
    assert!(refused.iter().all(|l| l["timestamp"].is_string()), "{log}");
}

/// `veil` run in `dir` with `env` added (and nothing of the test's own
/// logging variables).
fn veil_in(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = Command::new(veil_bin());
    cmd.current_dir(dir)
        .args(args)
        .env_remove("VEIL_LOG")
        .env_remove("RUST_LOG")
        .env_remove("VEIL_CHAIN");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("veil")
}

fn stdout_line(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn settings_come_from_flags_then_environment_then_an_env_file() {
    use std::os::unix::fs::PermissionsExt as _;
    let scratch = Scratch::new("ops-envfile");
    let dir = scratch.path();
    let env_file = dir.join(".env");
    // fastnet's genesis is 1677685200, quicknet's 1692803367, default's
    // 1595431050 (drand's /info of each chain).
    std::fs::write(
        &env_file,
        "# settings\nexport VEIL_CHAIN=fastnet\nR2_SECRET_ACCESS_KEY='not-for-logs'\n",
    )
    .unwrap();
    std::fs::set_permissions(&env_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let round_one = ["round", "time", "1"];
    assert_eq!(stdout_line(&veil_in(dir, &round_one, &[])), "1677685200");
    let env_wins = veil_in(dir, &round_one, &[("VEIL_CHAIN", "quicknet")]);
    assert_eq!(stdout_line(&env_wins), "1692803367");
    let flag_wins = veil_in(
        dir,
        &["round", "time", "1", "--chain", "default"],
        &[("VEIL_CHAIN", "quicknet")],
    );
    assert_eq!(stdout_line(&flag_wins), "1595431050");

    // Each file read is logged by the names it set, never a value.
    let logged = veil_in(dir, &["--logging.info", "round", "time", "1"], &[]);
    let stderr = String::from_utf8_lossy(&logged.stderr);
    assert!(stderr.contains("settings read from a file"), "{stderr}");
    assert!(stderr.contains("R2_SECRET_ACCESS_KEY"), "{stderr}");
    assert!(!stderr.contains("not-for-logs"), "{stderr}");

    // A file others may write is not read (a warning says so).
    std::fs::set_permissions(&env_file, std::fs::Permissions::from_mode(0o620)).unwrap();
    let shared = veil_in(dir, &round_one, &[]);
    assert_eq!(stdout_line(&shared), "1692803367", "the default chain");
    assert!(
        String::from_utf8_lossy(&shared.stderr).contains("writable by group or others"),
        "{}",
        String::from_utf8_lossy(&shared.stderr)
    );

    // --env-file names one; a missing one is a one-line failure.
    let named = dir.join("veil.env");
    std::fs::write(&named, "VEIL_CHAIN=default\n").unwrap();
    std::fs::set_permissions(&named, std::fs::Permissions::from_mode(0o600)).unwrap();
    let given = veil_in(
        dir,
        &["round", "time", "1", "--env-file", named.to_str().unwrap()],
        &[],
    );
    assert_eq!(stdout_line(&given), "1595431050");
    let missing = veil_in(dir, &["--env-file", "nope.env", "round", "time", "1"], &[]);
    assert_eq!(missing.status.code(), Some(1));
    let err = String::from_utf8_lossy(&missing.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("--env-file") && err.contains("nope.env"),
        "{err}"
    );

    // --config veil.toml comes last: the environment wins over it, its keys
    // are the flags' names, a secret (or any unknown key) is refused.
    std::fs::remove_file(&env_file).unwrap();
    let toml = dir.join("veil.toml");
    std::fs::write(&toml, "chain = \"fastnet\"\n").unwrap();
    std::fs::set_permissions(&toml, std::fs::Permissions::from_mode(0o600)).unwrap();
    let toml_arg = toml.to_str().unwrap();
    let from_toml = veil_in(dir, &["round", "time", "1", "--config", toml_arg], &[]);
    assert_eq!(stdout_line(&from_toml), "1677685200");
    let env_first = veil_in(
        dir,
        &["round", "time", "1", "--config", toml_arg],
        &[("VEIL_CHAIN", "default")],
    );
    assert_eq!(stdout_line(&env_first), "1595431050");
    std::fs::write(&toml, "R2_WRITE_SECRET_ACCESS_KEY = \"not-for-errors\"\n").unwrap();
    let secret = veil_in(dir, &["round", "time", "1", "--config", toml_arg], &[]);
    assert_eq!(secret.status.code(), Some(1));
    let err = String::from_utf8_lossy(&secret.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(
        err.contains("unknown key R2_WRITE_SECRET_ACCESS_KEY"),
        "{err}"
    );
    assert!(!err.contains("not-for-errors"), "{err}");

    // --help names each setting's variable.
    let help = stdout_line(&veil_in(dir, &["miner", "--help"], &[]));
    for env in [
        "[env: NETUID=]",
        "[env: VEIL_METRICS_PORT=]",
        "[env: VEIL_STORE=]",
    ] {
        assert!(help.contains(env), "{env} in\n{help}");
    }
}

#[test]
fn tle_users_flags_and_the_built_in_relays() {
    let scratch = Scratch::new("ops-tle");
    let dir = scratch.path();
    // quicknet's chain hash (drand's /info) stands for the chain.
    let quicknet = "52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971";
    let sealed = dir.join("old.age");
    let sealed_arg = sealed.to_str().unwrap();
    stdout_line(&veil_in(
        dir,
        &[
            "encrypt", "-r", "1000", "-a", "-c", quicknet, "-o", sealed_arg,
        ],
        &[],
    ));
    let text = std::fs::read_to_string(&sealed).unwrap();
    assert!(
        text.starts_with("-----BEGIN AGE ENCRYPTED FILE-----"),
        "{text}"
    );

    // -D: the first round emitted a year from now.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let later = dir.join("later.age");
    let later_arg = later.to_str().unwrap();
    stdout_line(&veil_in(
        dir,
        &["encrypt", "-D", "1y", "-o", later_arg],
        &[],
    ));
    let described = stdout_line(&veil_in(dir, &["inspect", later.to_str().unwrap()], &[]));
    let round = serde_json::from_str::<Value>(&described).unwrap()["round"]
        .as_u64()
        .unwrap_or_else(|| panic!("{described}"));
    let expected = |t: u64| -> u64 {
        stdout_line(&veil_in(dir, &["round", "at", &t.to_string()], &[]))
            .parse()
            .unwrap()
    };
    let year = 365 * 86_400;
    assert!(
        (expected(now + year)..=expected(now + year + 5)).contains(&round),
        "{round}"
    );

    // Without --signature or --relay, decrypt asks drand's public relays:
    // in a network namespace without routes it names them and fails in
    // one line (nothing leaves the machine).
    if !Command::new("unshare")
        .args(["-rn", "true"])
        .status()
        .is_ok_and(|s| s.success())
    {
        eprintln!("NOTE: unshare -rn is not allowed here; the offline decrypt is not tried");
        return;
    }
    let out = Command::new("unshare")
        .args(["-rn"])
        .arg(veil_bin())
        .arg("decrypt")
        .arg(&sealed)
        .env("VEIL_CACHE_DIR", dir.join("cache"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    for relay in ["api.drand.sh", "drand.cloudflare.com"] {
        assert!(err.contains(relay), "{relay} in {err}");
    }
}

/// Waits up to `limit` for `child` to exit; its status.
fn exit_within(child: &mut std::process::Child, limit: Duration) -> std::process::ExitStatus {
    let started = Instant::now();
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        assert!(started.elapsed() < limit, "still running after {limit:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn sigterm(pid: u32) {
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .unwrap()
            .success()
    );
}

#[test]
fn sigterm_lets_the_answer_in_progress_finish_and_abandons_a_cycle_whole() {
    const VALIDATOR: &str = "6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b";
    let scratch = Scratch::new("ops-drain");
    let store = scratch.subdir("store");
    let started = scratch.path().join("generator-started");
    let validator_hotkey = veil_tests::bittensor::ss58_of_seed(VALIDATOR);
    // A generator that takes 3 s: it says it started, then copies the base
    // image as the one variation asked for.
    let cmd = format!(
        r#"j=$(cat); o=$(printf '%s' "$j" | sed 's/.*"out_dir":"\([^"]*\)".*/\1/'); b=$(printf '%s' "$j" | sed 's/.*"base_image":"\([^"]*\)".*/\1/'); touch {s}; sleep 3; cp "$b" "$o/0.png""#,
        s = started.display()
    );
    let mut miner = VeilMiner::start(
        &scratch,
        &"6a".repeat(32),
        &store,
        &[
            "--chain",
            "quicknet",
            "--allow",
            &validator_hotkey,
            "--generator-cmd",
            &cmd,
        ],
    );
    let results = scratch.path().join("results");
    let validator = |miner_arg: &str, cycles: &str| {
        Command::new(veil_bin())
            .current_dir(scratch.path())
            .args(["validator", "--chain", "quicknet", "--variations", "1"])
            .args(["--timeout", "30", "--retries", "0", "--cycles", cycles])
            .args(["--miner", miner_arg])
            .arg("--store")
            .arg(format!("dir:{}", store.display()))
            .arg("--out")
            .arg(&results)
            .env("VEIL_SEED", VALIDATOR)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut v = validator(
        &format!("127.0.0.1:{}:{}", miner.port(), miner.hotkey()),
        "1",
    );
    let waiting = Instant::now();
    while !started.exists() {
        assert!(
            waiting.elapsed() < Duration::from_secs(30),
            "the generator never started: {}",
            miner.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // SIGTERM while the miner generates: it answers, then exits 0.
    sigterm(miner.pid());
    let status = exit_within(&mut v, Duration::from_secs(60));
    let out = v.wait_with_output().unwrap();
    assert!(status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let path = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let cycle: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(
        cycle["responses"]["0"]["s3_submissions"]
            .as_array()
            .map(Vec::len),
        Some(1),
        "the answer in progress was cut: {cycle}"
    );
    let stopping = Instant::now();
    let status = loop {
        if let Some(s) = miner.exit_status() {
            break s;
        }
        assert!(
            stopping.elapsed() < Duration::from_secs(20),
            "{}",
            miner.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}: {}", miner.log());

    // A validator stopped mid-cycle (its miner never answers) exits 0 at
    // once and writes nothing of that cycle.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    let before = std::fs::read_dir(&results).unwrap().count();
    let mut v = validator(&format!("127.0.0.1:{silent_port}:{}", miner.hotkey()), "0");
    // Its connection is accepted, and never answered.
    let _held = silent.accept().unwrap();
    sigterm(v.id());
    let status = exit_within(&mut v, Duration::from_secs(10));
    let out = v.wait_with_output().unwrap();
    assert!(status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("abandoned"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read_dir(&results).unwrap().count(), before);
}

#[test]
fn plain_s3_takes_the_aws_credential_chain() {
    let scratch = Scratch::new("ops-aws-chain");
    let Some(moto) = veil_tests::moto::Moto::start(&scratch, "aws-chain-bucket", true) else {
        return;
    };
    let (reader, writer) = (moto.reader.clone().unwrap(), moto.writer.clone().unwrap());
    let dir = scratch.path();
    let store = "s3://aws-chain-bucket";
    let base: Vec<(&str, String)> = vec![
        ("AWS_ENDPOINT_URL", moto.endpoint.clone()),
        ("R2_FORCE_PATH_STYLE", "true".to_owned()),
        ("AWS_REGION", "us-east-1".to_owned()),
        // No instance-metadata probe, and nothing of this machine's own.
        ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
        ("AWS_CONFIG_FILE", dir.join("none").display().to_string()),
        (
            "AWS_SHARED_CREDENTIALS_FILE",
            dir.join("none").display().to_string(),
        ),
        ("HOME", dir.display().to_string()),
    ];
    let run = |args: &[&str], extra: &[(&str, String)], stdin: &[u8]| {
        let mut cmd = Command::new(veil_bin());
        cmd.current_dir(dir).args(args).env_clear();
        cmd.env("PATH", std::env::var_os("PATH").unwrap_or_default());
        for (k, v) in base.iter().chain(extra) {
            cmd.env(k, v);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), stdin).unwrap();
        child.wait_with_output().unwrap()
    };
    // The environment's keys: the writer's.
    let env_keys = [
        ("AWS_ACCESS_KEY_ID", writer.access_key_id.clone()),
        ("AWS_SECRET_ACCESS_KEY", writer.secret_access_key.clone()),
    ];
    let put = run(
        &["store", "put", "greeting", "--store", store],
        &env_keys,
        b"hello over the chain",
    );
    assert!(
        put.status.success(),
        "{}",
        String::from_utf8_lossy(&put.stderr)
    );
    // A profile file: the reader's, which may read and not write.
    let profile = dir.join("credentials");
    std::fs::write(
        &profile,
        format!(
            "[veil-reader]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            reader.access_key_id, reader.secret_access_key
        ),
    )
    .unwrap();
    let profile_keys = [
        ("AWS_SHARED_CREDENTIALS_FILE", profile.display().to_string()),
        ("AWS_PROFILE", "veil-reader".to_owned()),
    ];
    let got = run(
        &["store", "get", "greeting", "--store", store],
        &profile_keys,
        b"",
    );
    assert!(
        got.status.success(),
        "{}",
        String::from_utf8_lossy(&got.stderr)
    );
    assert_eq!(got.stdout, b"hello over the chain");
    let denied = run(
        &["store", "put", "other", "--store", store],
        &profile_keys,
        b"x",
    );
    assert_eq!(denied.status.code(), Some(1));
    let err = String::from_utf8_lossy(&denied.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(!err.contains(&reader.secret_access_key), "{err}");
    // No credentials anywhere: one line, at once (no metadata probe).
    let started = Instant::now();
    let none = run(&["store", "get", "greeting", "--store", store], &[], b"");
    assert_eq!(none.status.code(), Some(1));
    let err = String::from_utf8_lossy(&none.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("no credentials: "), "{err}");
    assert!(err.contains("AWS_ACCESS_KEY_ID"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
}
