//! The commitments registry: subtensor's `Commitments.CommitmentOf` read over
//! JSON-RPC on WebSocket (against an in-process node serving storage built to
//! the documented SCALE layout, `veil_tests::subtensor`), the local registry
//! file, and `veil commitment publish|list` and `veil store` on the command
//! line against moto with auth (credentials never in files or logs).

extern crate alloc;

use alloc::collections::BTreeSet;
use alloc::sync::Arc;
use core::time::Duration;
use std::process::Command;

use veil::registry::subtensor::{SubtensorOptions, SubtensorRegistry};
use veil::registry::{CommitmentBook, CommitmentRegistry, LocalRegistry};
use veil_core::ss58;
use veil_tests::moto::Moto;
use veil_tests::subtensor::{Field, Node, Storage, registration};
use veil_tests::{Scratch, veil_bin};

const NETUID: u16 = 7;

fn account(i: u8) -> [u8; 32] {
    let mut a = [i; 32];
    a[0] = 0xa0 ^ i;
    a
}

fn hotkey(i: u8) -> String {
    ss58::encode(ss58::BITTENSOR_PREFIX, &account(i))
        .as_str()
        .to_owned()
}

fn commitment_text(i: u8, version: u8) -> String {
    let bucket = format!("{:032x}", u128::from(i) * 0x1111_1111 + u128::from(version));
    format!(
        "{bucket}{:<32}{:<64}",
        format!("READKEY{i}V{version}"),
        format!("readsecret-{i}-{version}-{}", "s".repeat(20))
    )
}

fn raw128(text: &str) -> Vec<u8> {
    registration(0, 4_000_000, &[Field::Raw(text.as_bytes().to_vec())])
}

/// Five good commitments on `NETUID`, three bad ones, and one on another
/// subnet.
fn chain_storage() -> Storage {
    let mut s = Storage::default();
    for i in 1..=5 {
        s.commit(NETUID, account(i), raw128(&commitment_text(i, 0)));
    }
    // A timelocked commitment only: no read commitment in it.
    s.commit(
        NETUID,
        account(6),
        registration(
            0,
            1,
            &[Field::TimelockEncrypted {
                encrypted: vec![1, 2, 3],
                reveal_round: 99,
            }],
        ),
    );
    // A tag the pallet does not define.
    s.commit(
        NETUID,
        account(7),
        vec![0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 4, 137],
    );
    // Raw128 that is not a commitment (control characters).
    s.commit(
        NETUID,
        account(8),
        registration(0, 1, &[Field::Raw(vec![7u8; 128])]),
    );
    // Another subnet.
    s.commit(NETUID + 1, account(9), raw128(&commitment_text(9, 0)));
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subtensor_commitments_are_read_over_json_rpc_and_refreshed() {
    let node = Node::start(chain_storage()).await;
    let options = SubtensorOptions {
        page: 2,
        timeout: Duration::from_secs(5),
    };
    let registry = SubtensorRegistry::new(&node.url, NETUID, options).unwrap();

    let all = registry.fetch().await.unwrap();
    let got: Vec<_> = all.entries.keys().cloned().collect();
    let want: BTreeSet<_> = (1..=5).map(hotkey).collect();
    assert_eq!(got.into_iter().collect::<BTreeSet<_>>(), want);
    for i in 1..=5 {
        let c = &all.entries[&hotkey(i)];
        assert_eq!(c.text(), commitment_text(i, 0));
        assert_eq!(c.read().read_access_key_id, format!("READKEY{i}V0"));
    }
    assert_eq!(all.skipped.len(), 3, "{:?}", all.skipped);
    for i in 6..=8 {
        assert!(
            all.skipped.iter().any(|s| s.starts_with(&hotkey(i))),
            "{:?}",
            all.skipped
        );
    }
    // Five good + three bad keys in pages of two: four full pages, one empty.
    let calls = node.calls();
    assert_eq!(calls[0], "chain_getFinalizedHead");
    assert_eq!(
        calls.iter().filter(|c| *c == "state_getKeysPaged").count(),
        5,
        "{calls:?}"
    );
    assert_eq!(
        calls
            .iter()
            .filter(|c| *c == "state_queryStorageAt")
            .count(),
        4,
        "{calls:?}"
    );

    // The book keeps only the metagraph's hotkeys, picks up changes, and
    // keeps the last good set when the node fails or goes away.
    let book = Arc::new(CommitmentBook::new(Arc::new(registry)));
    book.set_hotkeys(Some(
        [hotkey(1), hotkey(2), hotkey(9)].into_iter().collect(),
    ));
    let set = book.refresh().await.unwrap();
    assert_eq!(set.entries.keys().cloned().collect::<Vec<_>>(), {
        let mut v = vec![hotkey(1), hotkey(2)];
        v.sort();
        v
    });
    node.storage()
        .lock()
        .unwrap()
        .commit(NETUID, account(2), raw128(&commitment_text(2, 1)));
    book.refresh().await.unwrap();
    assert_eq!(book.get(&hotkey(2)).unwrap().text(), commitment_text(2, 1));

    node.set_failing(true);
    let e = book.refresh().await.unwrap_err().to_string();
    assert!(e.contains("node unavailable"), "{e}");
    assert_eq!(book.get(&hotkey(2)).unwrap().text(), commitment_text(2, 1));
    node.set_failing(false);

    let refresher = book.spawn_refresher(Duration::from_millis(50));
    node.storage().lock().unwrap().uncommit(NETUID, &account(1));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while book.get(&hotkey(1)).is_some() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the refresher did not pick up the change"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    refresher.abort();

    // The CLI reads the same, filtered to the hotkeys given.
    let url = node.url.clone();
    let (h2, h3) = (hotkey(2), hotkey(3));
    let out = tokio::task::spawn_blocking(move || {
        Command::new(veil_bin())
            .args([
                "commitment",
                "list",
                "--subtensor",
                &url,
                "--netuid",
                "7",
                "--hotkey",
                &h2,
                "--hotkey",
                &h3,
            ])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let c = json["commitments"].as_object().unwrap();
    assert_eq!(c.len(), 2);
    assert_eq!(c[&hotkey(3)]["read_access_key_id"], "READKEY3V0");
    assert_eq!(c[&hotkey(2)]["bucket"], commitment_text(2, 1)[..32]);
    // The list never prints read secrets (they are public, but not needed).
    assert!(!String::from_utf8_lossy(&out.stdout).contains("readsecret"));

    node.stop().await;
    assert!(book.refresh().await.is_err());
    assert_eq!(book.snapshot().entries.len(), 1, "the last good set stays");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_nodes_are_bounded() {
    // A page size over what nodes allow is refused before any traffic.
    assert!(
        SubtensorRegistry::new(
            "ws://127.0.0.1:1",
            1,
            SubtensorOptions {
                page: 1001,
                ..SubtensorOptions::default()
            }
        )
        .is_err()
    );
    assert!(SubtensorRegistry::new("http://127.0.0.1:1", 1, SubtensorOptions::default()).is_err());
    // A dead endpoint fails with one line, quickly.
    let dead = SubtensorRegistry::new(
        "ws://127.0.0.1:9",
        1,
        SubtensorOptions {
            page: 10,
            timeout: Duration::from_secs(2),
        },
    )
    .unwrap();
    let e = dead.fetch().await.unwrap_err().to_string();
    assert!(e.contains("cannot connect") && !e.contains('\n'), "{e}");
    // An oversized value is skipped, not decoded.
    let mut s = Storage::default();
    let mut huge = raw128(&commitment_text(1, 0));
    huge.extend(core::iter::repeat_n(0u8, 9000));
    s.commit(3, account(1), huge);
    s.commit(3, account(2), raw128(&commitment_text(2, 0)));
    let node = Node::start(s).await;
    let r = SubtensorRegistry::new(&node.url, 3, SubtensorOptions::default()).unwrap();
    let got = r.fetch().await.unwrap();
    assert_eq!(got.entries.len(), 1);
    assert!(got.skipped[0].contains("oversized"), "{:?}", got.skipped);
    node.stop().await;
}

#[tokio::test]
async fn the_local_registry_writes_only_changes_and_skips_bad_entries() {
    let scratch = Scratch::new("registry-local");
    let path = scratch.path().join("reg/commitments.json");
    let reg = LocalRegistry::new(&path);
    assert!(
        reg.fetch().await.unwrap().entries.is_empty(),
        "a missing file is an empty registry"
    );
    let c1 = veil::registry::Commitment::parse(&commitment_text(1, 0)).unwrap();
    assert_eq!(
        reg.publish(&hotkey(1), &c1).unwrap(),
        veil::registry::Published::Written
    );
    let mtime = std::fs::metadata(&path).unwrap().modified().unwrap();
    assert_eq!(
        reg.publish(&hotkey(1), &c1).unwrap(),
        veil::registry::Published::Unchanged
    );
    assert_eq!(std::fs::metadata(&path).unwrap().modified().unwrap(), mtime);
    let c2 = veil::registry::Commitment::parse(&commitment_text(1, 1)).unwrap();
    assert_eq!(
        reg.publish(&hotkey(1), &c2).unwrap(),
        veil::registry::Published::Written
    );
    assert!(reg.publish("not-an-address", &c2).is_err());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    // Hand-edited bad entries are skipped with a reason.
    let mut json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    json["commitments"]["5Bad"] = serde_json::json!(commitment_text(2, 0));
    json["commitments"][hotkey(3)] = serde_json::json!("too short");
    std::fs::write(&path, json.to_string()).unwrap();
    let got = reg.fetch().await.unwrap();
    assert_eq!(got.entries.len(), 1);
    assert_eq!(got.entries[&hotkey(1)].text(), commitment_text(1, 1));
    assert_eq!(got.skipped.len(), 2, "{:?}", got.skipped);
    std::fs::write(&path, b"{not json").unwrap();
    assert!(
        reg.fetch()
            .await
            .unwrap_err()
            .to_string()
            .contains("not a commitments registry")
    );
}

/// Runs `veil ARGS` with `env` and `VEIL_LOG=trace`, returning (status ok,
/// stdout, stderr).
fn veil_env(args: &[&str], env: &[(&str, String)]) -> (bool, String, String) {
    let mut cmd = Command::new(veil_bin());
    cmd.args(args).env("VEIL_LOG", "trace");
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("R2_")) {
        cmd.env_remove(k);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn cli_publish_and_store_against_moto_keep_write_credentials_out_of_files_and_logs() {
    const ACCOUNT: &str = "f0e1d2c3b4a5968778695a4b3c2d1e0f";
    let scratch = Scratch::new("cli-publish");
    let Some(moto) = Moto::start(&scratch, ACCOUNT, true) else {
        return;
    };
    let (reader, writer) = (moto.reader.clone().unwrap(), moto.writer.clone().unwrap());
    let base = vec![
        ("R2_ACCOUNT_ID", ACCOUNT.to_owned()),
        ("R2_ENDPOINT_URL", moto.endpoint.clone()),
        ("R2_FORCE_PATH_STYLE", "true".to_owned()),
        ("R2_READ_ACCESS_KEY_ID", reader.access_key_id.clone()),
        (
            "R2_READ_SECRET_ACCESS_KEY",
            reader.secret_access_key.clone(),
        ),
        ("R2_WRITE_ACCESS_KEY_ID", writer.access_key_id.clone()),
        (
            "R2_WRITE_SECRET_ACCESS_KEY",
            writer.secret_access_key.clone(),
        ),
    ];
    let registry = scratch.path().join("registry.json");
    let reg = registry.to_str().unwrap();
    let me = hotkey(1);
    let mut stderr_all = String::new();

    let (ok, out, err) = veil_env(
        &["commitment", "publish", "--registry", reg, "--hotkey", &me],
        &base,
    );
    assert!(ok, "{err}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["status"], "written");
    assert_eq!(json["bucket"], ACCOUNT);
    assert_eq!(json["read_access_key_id"], reader.access_key_id.as_str());
    stderr_all += &err;
    let (ok, out, err) = veil_env(
        &["commitment", "publish", "--registry", reg, "--hotkey", &me],
        &base,
    );
    assert!(ok, "{err}");
    assert!(out.contains("\"unchanged\""), "{out}");
    stderr_all += &err;
    let (ok, out, _) = veil_env(&["commitment", "list", "--registry", reg], &[]);
    assert!(ok);
    assert!(
        out.contains(&me) && out.contains(&reader.access_key_id),
        "{out}"
    );

    // Refusals: single-pair fallback, bucket != account id, a "read" pair
    // that can write. The registry is left as it was.
    let before = std::fs::read(&registry).unwrap();
    let single: Vec<_> = base
        .iter()
        .filter(|(k, _)| !k.starts_with("R2_READ"))
        .cloned()
        .collect();
    let (ok, out, err) = veil_env(
        &[
            "commitment",
            "publish",
            "--registry",
            reg,
            "--hotkey",
            &hotkey(2),
        ],
        &single,
    );
    assert!(!ok && out.is_empty());
    assert!(err.lines().last().unwrap().contains("single-pair"), "{err}");
    stderr_all += &err;
    let mut other = base.clone();
    other.push(("R2_BUCKET_ID", "another-bucket".to_owned()));
    let (ok, _, err) = veil_env(
        &[
            "commitment",
            "publish",
            "--registry",
            reg,
            "--hotkey",
            &hotkey(2),
        ],
        &other,
    );
    assert!(!ok && err.contains("differs from the account id"), "{err}");
    let mut swapped = base.clone();
    swapped[3].1 = writer.access_key_id.clone();
    swapped[4].1 = writer.secret_access_key.clone();
    swapped[5].1 = reader.access_key_id.clone();
    swapped[6].1 = reader.secret_access_key.clone();
    let (ok, _, err) = veil_env(
        &[
            "commitment",
            "publish",
            "--registry",
            reg,
            "--hotkey",
            &hotkey(2),
        ],
        &swapped,
    );
    assert!(!ok && err.contains("can write to the bucket"), "{err}");
    assert_eq!(std::fs::read(&registry).unwrap(), before);

    // The store commands with the write pair, logging at trace.
    let input = scratch.path().join("object.bin");
    std::fs::write(&input, b"sealed object bytes").unwrap();
    let key = "submissions/c1/x/y.png.tlock";
    let (ok, out, err) = veil_env(
        &[
            "store",
            "put",
            key,
            input.to_str().unwrap(),
            "--store",
            "s3",
        ],
        &base,
    );
    assert!(ok, "{err}");
    assert!(out.contains("\"size\":19"), "{out}");
    stderr_all += &err;
    let (ok, out, err) = veil_env(&["store", "head", key, "--store", "s3"], &base);
    assert!(ok && out.contains("\"size\":19"), "{out} {err}");
    let (ok, out, err) = veil_env(&["store", "get", key, "--store", "s3"], &base);
    assert!(ok && out == "sealed object bytes", "{out} {err}");
    let (ok, out, _) = veil_env(&["store", "list", "submissions/", "--store", "s3"], &base);
    assert!(ok && out.lines().count() == 1, "{out}");
    let mut wrong = base.clone();
    wrong[6].1 = format!("{}0", writer.secret_access_key);
    let (ok, out, err) = veil_env(
        &[
            "store",
            "put",
            key,
            input.to_str().unwrap(),
            "--store",
            "s3",
        ],
        &wrong,
    );
    assert!(!ok && out.is_empty());
    assert!(
        err.lines()
            .last()
            .unwrap()
            .contains("SignatureDoesNotMatch"),
        "{err}"
    );
    stderr_all += &err;
    let (ok, _, err) = veil_env(&["store", "delete", key, "--store", "s3"], &base);
    assert!(ok, "{err}");
    stderr_all += &err;
    let (ok, _, err) = veil_env(&["store", "head", key, "--store", "s3"], &base);
    assert!(!ok && err.contains("no such object"), "{err}");

    // Nothing the write pair consists of reached a file or a log line.
    let registry_text = std::fs::read_to_string(&registry).unwrap();
    for secret in [&writer.secret_access_key, &writer.access_key_id] {
        assert!(
            !registry_text.contains(secret.as_str()),
            "write credential in the registry file"
        );
        assert!(
            !stderr_all.contains(secret.as_str()),
            "write credential in the logs:\n{stderr_all}"
        );
    }
    assert!(
        stderr_all.contains("DEBUG") || stderr_all.contains("INFO") || stderr_all.contains("WARN"),
        "trace logging was on"
    );
}
