//! The deployment files (`deploy/`), checked as far as this machine can
//! without a docker daemon:
//!
//! - `deploy/compose.yaml`, parsed by PyYAML: every service's command runs
//!   on loopback as compose would run it (service names mapped to
//!   127.0.0.1, ports and volumes to the test's own), the beacon, both
//!   miners and one validator cycle that accepts every variation; the
//!   Dockerfile's HEALTHCHECK command probes the running miner;
//! - `deploy/systemd/veil-miner.service` passes `systemd-analyze verify`;
//! - `deploy/pm2/ecosystem.config.js` starts `veil miner` under pm2 (npm),
//!   which answers `/healthz` and `/metrics`, then stops it with pm2.

use core::time::Duration;
use std::collections::HashMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use serde_json::Value;
use veil_tests::bittensor::python;
use veil_tests::devnet::KillOnDrop;
use veil_tests::phase4::http_request;
use veil_tests::{Scratch, peer_missing, peers_required, veil_bin};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// `deploy/compose.yaml` as JSON, read by PyYAML.
fn compose() -> Option<Value> {
    let py = python()?;
    let out = Command::new(py)
        .args([
            "-c",
            "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))",
        ])
        .arg(repo().join("deploy/compose.yaml"))
        .output()
        .expect("python");
    assert!(
        out.status.success(),
        "PyYAML refused compose.yaml: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

fn wait_for(what: &str, limit: Duration, mut ready: impl FnMut() -> bool) {
    let started = Instant::now();
    while !ready() {
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Never true: panics with the service's stderr once it has written an
/// error line (a service that died says why).
fn panic_if_exited(dir: &Path, name: &str) -> bool {
    let log = std::fs::read_to_string(dir.join(format!("{name}.stderr"))).unwrap_or_default();
    assert!(!log.contains("veil: "), "{name}: {log}");
    false
}

fn healthy(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        && http_request(port, "GET", "/healthz", &[], b"").status == 200
}

/// A service's command with compose's names mapped to this test's (each
/// argument by the first entry it contains).
fn mapped(args: &Value, map: &[(String, String)]) -> Vec<String> {
    args.as_array()
        .expect("command is a list")
        .iter()
        .map(|a| {
            let a = a.as_str().expect("a string");
            // The first entry that matches, once: a path's prefix, a host
            // or a port.
            map.iter()
                .find(|(from, _)| a.contains(from.as_str()))
                .map_or_else(
                    || a.to_owned(),
                    |(from, to)| a.replacen(from.as_str(), to, 1),
                )
        })
        .collect()
}

fn spawn_service(
    name: &str,
    service: &Value,
    map: &[(String, String)],
    dir: &Path,
    extra_env: &[(&str, String)],
) -> KillOnDrop {
    let args = mapped(&service["command"], map);
    let mut cmd = Command::new(veil_bin());
    cmd.args(&args)
        .current_dir(dir)
        .env_remove("VEIL_LOG")
        .env_remove("RUST_LOG")
        .stdout(std::fs::File::create(dir.join(format!("{name}.stdout"))).unwrap())
        .stderr(std::fs::File::create(dir.join(format!("{name}.stderr"))).unwrap());
    if let Some(env) = service["environment"].as_object() {
        for (k, v) in env {
            let v = mapped(&Value::Array(vec![v.clone()]), map).remove(0);
            cmd.env(k, v);
        }
    }
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    KillOnDrop(cmd.spawn().unwrap_or_else(|e| panic!("{name}: {e}")))
}

#[test]
fn the_compose_services_run_on_loopback() {
    let Some(compose) = compose() else {
        return;
    };
    let scratch = Scratch::new("deploy-compose");
    let dir = scratch.path();
    let services = &compose["services"];
    for name in ["beacon", "miner-1", "miner-2", "validator"] {
        assert!(services[name]["command"].is_array(), "{name} in {compose}");
    }
    let (beacon, m1, m2) = (free_port(), free_port(), free_port());
    let devnet = dir.join("devnet");
    let store = dir.join("store");
    std::fs::create_dir_all(&devnet).unwrap();
    std::fs::create_dir_all(&store).unwrap();
    let base = |state: &str| -> Vec<(String, String)> {
        let state_dir = dir.join(state);
        std::fs::create_dir_all(&state_dir).unwrap();
        vec![
            ("/devnet".into(), devnet.display().to_string()),
            ("dir:/store".into(), format!("dir:{}", store.display())),
            ("/var/lib/veil".into(), state_dir.display().to_string()),
            ("0.0.0.0:8080".into(), format!("127.0.0.1:{beacon}")),
            ("miner-1:8091".into(), format!("127.0.0.1:{m1}")),
            ("miner-2:8091".into(), format!("127.0.0.1:{m2}")),
            ("0.0.0.0".into(), "127.0.0.1".into()),
        ]
    };
    let port_map = |map: &mut Vec<(String, String)>, listen: u16| {
        map.insert(0, ("0.0.0.0:8091".into(), format!("127.0.0.1:{listen}")));
        // Each service's metrics on a port of its own.
        let metrics = free_port();
        map.push(("9100".into(), metrics.to_string()));
    };
    let mut bmap = base("beacon");
    port_map(&mut bmap, 0);
    let _beacon = spawn_service("beacon", &services["beacon"], &bmap, dir, &[]);
    wait_for("the beacon's info file", Duration::from_secs(30), || {
        devnet.join("info.json").exists() || panic_if_exited(dir, "beacon")
    });
    wait_for("the beacon's /healthz", Duration::from_secs(30), || {
        healthy(beacon)
    });

    let mut miners = Vec::new();
    for (name, port) in [("miner-1", m1), ("miner-2", m2)] {
        let mut map = base(name);
        port_map(&mut map, port);
        miners.push(spawn_service(name, &services[name], &map, dir, &[]));
        wait_for(
            &format!("{name}'s /healthz"),
            Duration::from_secs(60),
            || healthy(port),
        );
    }

    // The image's HEALTHCHECK, run as docker would, against a miner.
    let dockerfile = std::fs::read_to_string(repo().join("deploy/Dockerfile")).unwrap();
    let check = dockerfile
        .split("HEALTHCHECK")
        .nth(1)
        .and_then(|rest| rest.split("CMD ").nth(1))
        .and_then(|rest| rest.lines().next())
        .expect("a HEALTHCHECK CMD in the Dockerfile");
    let check: Vec<String> = serde_json::from_str(check).expect("exec form (JSON)");
    let probe = |port: u16| {
        Command::new(&check[0])
            .args(&check[1..])
            .env("VEIL_HEALTH_PORT", port.to_string())
            .stderr(Stdio::null())
            .status()
            .unwrap()
            .success()
    };
    assert!(probe(m1), "the HEALTHCHECK fails on a healthy miner");
    assert!(
        !probe(free_port()),
        "the HEALTHCHECK passes with nothing listening"
    );

    // One validator cycle (compose runs them forever: --cycles 0).
    let mut vmap = base("validator");
    port_map(&mut vmap, 0);
    let mut validator = services["validator"].clone();
    let args: Vec<Value> = validator["command"]
        .as_array()
        .unwrap()
        .iter()
        .scan(false, |after_cycles, a| {
            let out = if *after_cycles {
                Value::from("1")
            } else {
                a.clone()
            };
            *after_cycles = a == "--cycles";
            Some(out)
        })
        .collect();
    validator["command"] = Value::Array(args);
    let mut v = spawn_service("validator", &validator, &vmap, dir, &[]);
    let started = Instant::now();
    let status = loop {
        if let Some(s) = v.0.try_wait().unwrap() {
            break s;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the validator's cycle took over 2 minutes"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let log = std::fs::read_to_string(dir.join("validator.stderr")).unwrap_or_default();
    assert!(status.success(), "validator: {log}");
    let results_dir = dir.join("validator/results");
    let results: Vec<PathBuf> = std::fs::read_dir(&results_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("results-"))
        })
        .collect();
    assert_eq!(results.len(), 1, "{results:?}");
    let results: Value = serde_json::from_slice(&std::fs::read(&results[0]).unwrap()).unwrap();
    let responses = results["responses"].as_object().unwrap();
    assert_eq!(responses.len(), 2, "{results}");
    for (uid, r) in responses {
        assert_eq!(
            r["s3_submissions"].as_array().map(Vec::len),
            Some(5),
            "uid {uid}: {r}"
        );
    }
    // The daemon logs are JSON lines (VEIL_LOG_FORMAT in compose).
    for line in log.lines().filter(|l| !l.trim().is_empty()) {
        let l: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(l["level"].is_string(), "{line}");
    }
    assert!(log.contains("cycle done"), "{log}");
}

#[test]
fn the_systemd_unit_verifies() {
    let analyze = Path::new("/usr/bin/systemd-analyze");
    if !analyze.exists() {
        if peers_required() {
            panic!("systemd-analyze is missing (Debian's systemd)");
        }
        eprintln!("NOTE: systemd-analyze not installed; the unit is not verified");
        return;
    }
    let scratch = Scratch::new("deploy-systemd");
    let unit = std::fs::read_to_string(repo().join("deploy/systemd/veil-miner.service")).unwrap();
    assert!(
        unit.contains("ExecStart=/usr/local/bin/veil miner"),
        "{unit}"
    );
    for hardening in [
        "User=veil",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "StateDirectory=veil",
        "CacheDirectory=veil",
        "TimeoutStopSec=",
    ] {
        assert!(unit.contains(hardening), "{hardening} in the unit");
    }
    // Verified with this build's binary where the unit installs veil.
    let here = scratch.path().join("veil-miner.service");
    std::fs::write(
        &here,
        unit.replace("/usr/local/bin/veil", &veil_bin().display().to_string()),
    )
    .unwrap();
    let out = Command::new(analyze)
        .arg("verify")
        .arg(&here)
        .output()
        .unwrap();
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "systemd-analyze verify: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The stop timeout outlasts the longest drain (an answer's 300 s cap).
    let stop: u64 = unit
        .lines()
        .find_map(|l| l.strip_prefix("TimeoutStopSec="))
        .and_then(|v| v.trim().parse().ok())
        .expect("TimeoutStopSec in seconds");
    assert!(stop > 300, "{stop}");
}

#[test]
fn pm2_starts_probes_and_stops_a_miner() {
    let pm2 = repo().join("tests/peers/pm2/node_modules/.bin/pm2");
    if !pm2.exists() {
        peer_missing("pm2 (npm; tests/peers/pm2, scripts/setup-peers)");
        return;
    }
    let scratch = Scratch::new("deploy-pm2");
    let (port, metrics) = (free_port(), free_port());
    let state = scratch.subdir("state");
    let store = scratch.subdir("store");
    let env: HashMap<&str, String> = [
        ("PM2_HOME", scratch.path().join("pm2").display().to_string()),
        ("VEIL_BIN", veil_bin().display().to_string()),
        ("VEIL_MINER_LISTEN", format!("127.0.0.1:{port}")),
        ("VEIL_METRICS_PORT", metrics.to_string()),
        ("VEIL_STATE_DIR", state.display().to_string()),
        ("VEIL_STORE", format!("dir:{}", store.display())),
        ("VEIL_SEED", "44".repeat(32)),
        (
            "VEIL_ALLOW",
            "5HBcPkCPJuNzWBstouENkvnpsyEqo1dn9Sj4Q1oihXGro6Jg".to_owned(),
        ),
    ]
    .into_iter()
    .collect();
    let run = |args: &[&str]| {
        let out = Command::new(&pm2)
            .args(args)
            .envs(&env)
            .current_dir(scratch.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pm2 {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let ecosystem = repo().join("deploy/pm2/ecosystem.config.js");
    let ecosystem = ecosystem.to_str().unwrap();
    // pm2 kill at the end, whatever happens in between.
    struct Kill<'a>(&'a dyn Fn(&[&str]) -> String);
    impl Drop for Kill<'_> {
        fn drop(&mut self) {
            let _ = std::panic::catch_unwind(core::panic::AssertUnwindSafe(|| (self.0)(&["kill"])));
        }
    }
    let _kill = Kill(&run);
    run(&["start", ecosystem, "--only", "veil-miner"]);
    wait_for("the miner under pm2", Duration::from_secs(60), || {
        healthy(port)
    });
    let page = http_request(metrics, "GET", "/metrics", &[], b"");
    assert_eq!(page.status, 200);
    assert!(page.text().ends_with("# EOF\n"), "{}", page.text());
    let listed = run(&["jlist"]);
    let apps: Value = serde_json::from_str(listed.trim()).unwrap();
    assert_eq!(apps[0]["name"], "veil-miner", "{apps}");
    assert_eq!(apps[0]["pm2_env"]["status"], "online", "{apps}");
    // Its spool went where the ecosystem file said.
    assert!(state.join("veil-spool").is_dir());
    run(&["stop", "veil-miner"]);
    wait_for("the miner to stop", Duration::from_secs(30), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err()
    });
    let apps: Value = serde_json::from_str(run(&["jlist"]).trim()).unwrap();
    assert_eq!(apps[0]["pm2_env"]["status"], "stopped", "{apps}");
}
