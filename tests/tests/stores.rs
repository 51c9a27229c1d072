//! The object stores against one conformance suite, and the dual-credential
//! rules against a real S3 server.
//!
//! * The local directory store runs the suite directly.
//! * The S3 store runs it against **moto in server mode with auth enforced**
//!   (PyPI `moto[server]`, installed by `scripts/setup-peers`): two IAM users,
//!   a read-only one and a read-write one, exactly GRAIL's read pair and
//!   write pair. Multipart is exercised with 5 MiB parts.
//! * The public-bucket store runs it against moto without auth (anonymous
//!   requests, as a public-write bucket allows).
//!
//! Then: writes with the read pair are denied (single and multipart), wrong
//! secrets and unknown keys are refused with S3's codes, a store built from
//! a commitment is read-only, errors never carry a write credential, and an
//! upload cut off mid-stream by a dying server is spooled and recovered, by
//! a new process, with no loss.

extern crate alloc;

use alloc::sync::Arc;
use core::sync::atomic::{AtomicU64, Ordering};
use core::time::Duration;
use std::time::SystemTime;

use veil::store::local::LocalStore;
use veil::store::public::PublicStore;
use veil::store::s3::{EndpointOverrides, S3Config, S3Options, S3Store};
use veil::store::spool::{Spool, Upload, Uploader};
use veil::store::{ErrorKind, ObjectStore, RetryPolicy, put_bytes};
use veil_tests::Scratch;
use veil_tests::moto::{Keys, Moto};

/// The 32-hex bucket name GRAIL requires (= the R2 account id).
const ACCOUNT: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";

fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        attempts: 2,
        base: Duration::from_millis(50),
        max: Duration::from_millis(200),
    }
}

fn s3_options() -> S3Options {
    S3Options {
        part_size: 5 * 1024 * 1024,
        list_page: 2,
        retry: fast_retry(),
        connect_timeout: Duration::from_secs(2),
        attempt_timeout: Duration::from_secs(20),
        read_timeout: Duration::from_secs(10),
    }
}

/// Deterministic bytes, different for each seed.
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| {
            let i = i as u64;
            (i.wrapping_mul(2_654_435_761) >> 7).to_le_bytes()[0] ^ seed
        })
        .collect()
}

fn secs(t: SystemTime) -> i64 {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap(),
        Err(_) => -1,
    }
}

/// The shared conformance suite. `ns` keeps runs apart in a shared bucket;
/// `large` is the size of the streamed object (over the S3 part size, so S3
/// goes multipart).
async fn conformance(store: &dyn ObjectStore, ns: &str, large: usize) {
    let k = |s: &str| format!("{ns}/{s}");
    let t0 = secs(SystemTime::now());

    // Absent objects.
    assert_eq!(store.head(&k("missing")).await.unwrap(), None);
    assert_eq!(
        store.get(&k("missing"), 1 << 20).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
    store.delete(&k("missing")).await.unwrap();

    // Put, head, get, cap.
    put_bytes(store, &k("a/one"), b"hello world").await.unwrap();
    let meta = store.head(&k("a/one")).await.unwrap().expect("stored");
    assert_eq!((meta.key.as_str(), meta.size), (k("a/one").as_str(), 11));
    let modified = secs(meta.last_modified);
    assert!(
        (t0 - 5..=secs(SystemTime::now()) + 5).contains(&modified),
        "last-modified {modified} vs now {t0}"
    );
    assert_eq!(store.get(&k("a/one"), 11).await.unwrap(), b"hello world");
    let e = store.get(&k("a/one"), 10).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TooLarge, "{e}");

    // Overwrite replaces; empty objects exist.
    put_bytes(store, &k("a/one"), b"second").await.unwrap();
    assert_eq!(store.get(&k("a/one"), 100).await.unwrap(), b"second");
    put_bytes(store, &k("a/empty"), b"").await.unwrap();
    assert_eq!(store.head(&k("a/empty")).await.unwrap().unwrap().size, 0);
    assert_eq!(store.get(&k("a/empty"), 0).await.unwrap(), b"");

    // Keys with characters that need care in URLs and paths.
    let odd = k("b/space and+plus=eq%pct/ü.png.tlock");
    put_bytes(store, &odd, b"odd").await.unwrap();
    assert_eq!(store.get(&odd, 3).await.unwrap(), b"odd");

    // Listing by prefix: sorted, exact keys, plain string prefixes.
    put_bytes(store, &k("b/x1"), b"1").await.unwrap();
    put_bytes(store, &k("bz"), b"z").await.unwrap();
    let keys = |v: Vec<veil::store::ObjectMeta>| v.into_iter().map(|m| m.key).collect::<Vec<_>>();
    assert_eq!(
        keys(store.list(&k("b/")).await.unwrap()),
        vec![odd.clone(), k("b/x1")]
    );
    assert_eq!(
        keys(store.list(&k("b")).await.unwrap()),
        vec![odd.clone(), k("b/x1"), k("bz")]
    );
    assert_eq!(keys(store.list(&k("b/x")).await.unwrap()), vec![k("b/x1")]);
    assert!(store.list(&k("nothing")).await.unwrap().is_empty());
    let all = store.list(&format!("{ns}/")).await.unwrap();
    assert_eq!(all.len(), 5, "{all:?}");
    assert_eq!(all.iter().find(|m| m.key == k("a/one")).unwrap().size, 6);

    // A large body, streamed from a reader in small pieces.
    let big = pattern(large, 7);
    let mut reader = tokio::io::BufReader::with_capacity(4096, big.as_slice());
    let n = store.put(&k("big"), &mut reader).await.unwrap();
    assert_eq!(n, large as u64);
    assert_eq!(
        store.head(&k("big")).await.unwrap().unwrap().size,
        large as u64
    );
    assert!(store.get(&k("big"), large as u64).await.unwrap() == big);

    // Ranges: the head, a middle, the last 8 bytes, past the end.
    let end = large as u64;
    assert_eq!(store.get_range(&k("big"), 0, 9).await.unwrap(), big[..9]);
    assert_eq!(
        store.get_range(&k("big"), 1000, 300).await.unwrap(),
        big[1000..1300]
    );
    assert_eq!(
        store.get_range(&k("big"), end - 8, 8).await.unwrap(),
        big[large - 8..]
    );
    assert_eq!(
        store.get_range(&k("big"), end - 3, 8).await.unwrap(),
        big[large - 3..],
        "a range past the end is cut at the end"
    );
    assert!(
        store
            .get_range(&k("big"), end + 10, 8)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.get_range(&k("big"), 0, 0).await.unwrap().is_empty());
    assert_eq!(
        store
            .get_range(&k("missing"), 0, 8)
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );

    // Keys that could escape or confuse are refused before any I/O.
    for bad in ["../escape", "/abs", "a//b", "a/./b", "a\nb", ""] {
        let e = put_bytes(store, bad, b"x").await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidKey, "{bad:?}: {e}");
        let e = store.get(bad, 10).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidKey, "{bad:?}: {e}");
    }
    assert_eq!(
        store.list("../").await.unwrap_err().kind(),
        ErrorKind::InvalidKey
    );

    // Delete.
    for key in [k("a/one"), k("a/empty"), odd, k("b/x1"), k("bz"), k("big")] {
        store.delete(&key).await.unwrap();
        assert_eq!(store.head(&key).await.unwrap(), None, "{key}");
    }
    assert!(store.list(&format!("{ns}/")).await.unwrap().is_empty());
}

#[tokio::test]
async fn local_directory_store_conforms_and_stays_inside_its_root() {
    let scratch = Scratch::new("store-local");
    let root = scratch.path().join("root");
    let store = LocalStore::open(&root).unwrap();
    conformance(&store, "suite", 3 * 1024 * 1024 + 5).await;
    // Nothing was written beside the root, and no temporary file is left.
    let beside: Vec<_> = std::fs::read_dir(scratch.path()).unwrap().collect();
    assert_eq!(beside.len(), 1);
    assert_eq!(
        std::fs::read_dir(root.join(".veil-tmp")).unwrap().count(),
        0
    );
    // The temporary directory is not listed, and a symlink out of the root
    // is never followed.
    put_bytes(&store, "x/y", b"1").await.unwrap();
    assert_eq!(store.list("").await.unwrap().len(), 1);
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(scratch.path(), root.join("link")).unwrap();
        let e = put_bytes(&store, "link/escaped", b"x").await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidKey, "{e}");
        assert!(!scratch.path().join("escaped").exists());
        assert!(
            store
                .list("")
                .await
                .unwrap()
                .iter()
                .all(|m| !m.key.starts_with("link"))
        );
        let e = store.list("link/").await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidKey, "{e}");
        let e = store.get("link/x", 10).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidKey, "{e}");
    }
}

fn config(moto: &Moto, read: &Keys, write: Option<&Keys>) -> S3Config {
    let env = |name: &str| -> Option<String> {
        match name {
            "R2_ACCOUNT_ID" => Some(ACCOUNT.to_owned()),
            "R2_ENDPOINT_URL" => Some(moto.endpoint.clone()),
            "R2_FORCE_PATH_STYLE" => Some("true".to_owned()),
            "R2_READ_ACCESS_KEY_ID" => Some(read.access_key_id.clone()),
            "R2_READ_SECRET_ACCESS_KEY" => Some(read.secret_access_key.clone()),
            "R2_WRITE_ACCESS_KEY_ID" => write.map(|w| w.access_key_id.clone()),
            "R2_WRITE_SECRET_ACCESS_KEY" => write.map(|w| w.secret_access_key.clone()),
            _ => None,
        }
    };
    S3Config::from_env(&env, None).unwrap()
}

fn authed_moto(scratch: &Scratch) -> Option<(Moto, Keys, Keys)> {
    let moto = Moto::start(scratch, ACCOUNT, true)?;
    let reader = moto.reader.clone().expect("reader keys");
    let writer = moto.writer.clone().expect("writer keys");
    Some((moto, reader, writer))
}

#[tokio::test]
async fn s3_store_conforms_against_moto_with_auth() {
    let scratch = Scratch::new("store-s3");
    let Some((moto, reader, writer)) = authed_moto(&scratch) else {
        return;
    };
    let store = S3Store::new(&config(&moto, &reader, Some(&writer)), s3_options()).unwrap();
    // 11 MiB + 3: three parts of 5, 5 and 1 MiB.
    conformance(&store, "suite", 11 * 1024 * 1024 + 3).await;
}

#[tokio::test]
async fn public_bucket_store_conforms_against_anonymous_moto() {
    let scratch = Scratch::new("store-public");
    let Some(moto) = Moto::start(&scratch, "public-bucket", false) else {
        return;
    };
    let store =
        PublicStore::new(&format!("{}/{}", moto.endpoint, moto.bucket), fast_retry()).unwrap();
    conformance(&store, "suite", 2 * 1024 * 1024 + 1).await;
}

#[tokio::test]
async fn dual_credentials_hold_against_moto_with_auth() {
    let scratch = Scratch::new("store-dual");
    let Some((moto, reader, writer)) = authed_moto(&scratch) else {
        return;
    };
    let ours = S3Store::new(&config(&moto, &reader, Some(&writer)), s3_options()).unwrap();
    put_bytes(&ours, "dual/object", b"sealed bytes")
        .await
        .unwrap();

    // A store built from our commitment (read pair only) reads, never writes.
    let commitment_text = format!(
        "{ACCOUNT}{:<32}{:<64}",
        reader.access_key_id, reader.secret_access_key
    );
    let commitment = veil_core::commitment::ReadCommitment::parse(&commitment_text).unwrap();
    let overrides = EndpointOverrides {
        endpoint: Some(moto.endpoint.clone()),
        region: None,
        force_path_style: true,
    };
    let theirs = S3Store::new(
        &S3Config::for_commitment(&commitment, &overrides).unwrap(),
        s3_options(),
    )
    .unwrap();
    assert_eq!(
        theirs.get("dual/object", 100).await.unwrap(),
        b"sealed bytes"
    );
    assert_eq!(theirs.head("dual/object").await.unwrap().unwrap().size, 12);
    assert_eq!(theirs.list("dual/").await.unwrap().len(), 1);
    let e = put_bytes(&theirs, "dual/other", b"x").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ReadOnly, "{e}");
    assert_eq!(
        theirs.delete("dual/object").await.unwrap_err().kind(),
        ErrorKind::ReadOnly
    );

    // Writing with the read pair is denied by the server: single put,
    // multipart and delete. Denials are not retried.
    let misuse = S3Store::new(&config(&moto, &reader, Some(&reader)), s3_options()).unwrap();
    let e = put_bytes(&misuse, "dual/by-reader", b"x")
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Denied, "{e}");
    assert!(e.to_string().contains("AccessDenied"), "{e}");
    assert!(
        !e.to_string().contains("tries"),
        "a denial is not retried: {e}"
    );
    let big = pattern(6 * 1024 * 1024, 1);
    let e = put_bytes(&misuse, "dual/by-reader-multipart", &big)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Denied, "{e}");
    assert_eq!(
        misuse.delete("dual/object").await.unwrap_err().kind(),
        ErrorKind::Denied
    );
    assert_eq!(ours.head("dual/by-reader").await.unwrap(), None);
    assert_eq!(ours.head("dual/by-reader-multipart").await.unwrap(), None);
    assert!(ours.head("dual/object").await.unwrap().is_some());

    // Wrong secrets and unknown keys are refused, with S3's codes, and no
    // write credential ever appears in an error.
    let wrong_secret = Keys {
        access_key_id: writer.access_key_id.clone(),
        secret_access_key: format!("{}x", writer.secret_access_key),
    };
    let bad = S3Store::new(
        &config(&moto, &wrong_secret, Some(&wrong_secret)),
        s3_options(),
    )
    .unwrap();
    let e1 = put_bytes(&bad, "dual/x", b"x").await.unwrap_err();
    assert_eq!(e1.kind(), ErrorKind::Denied, "{e1}");
    assert!(e1.to_string().contains("SignatureDoesNotMatch"), "{e1}");
    let e2 = bad.get("dual/object", 100).await.unwrap_err();
    assert_eq!(e2.kind(), ErrorKind::Denied, "{e2}");
    let unknown = Keys {
        access_key_id: "AKIAUNKNOWNUNKNOWN00".to_owned(),
        secret_access_key: "not-a-real-secret-not-a-real-secret-0000".to_owned(),
    };
    let nobody = S3Store::new(&config(&moto, &unknown, Some(&unknown)), s3_options()).unwrap();
    let e3 = put_bytes(&nobody, "dual/x", b"x").await.unwrap_err();
    assert_eq!(e3.kind(), ErrorKind::Denied, "{e3}");
    assert!(e3.to_string().contains("InvalidAccessKeyId"), "{e3}");
    // A failure with the real write pair (a bucket that does not exist).
    let mut elsewhere = config(&moto, &reader, Some(&writer));
    elsewhere.bucket = "no-such-bucket-here".to_owned();
    let elsewhere = S3Store::new(&elsewhere, s3_options()).unwrap();
    let e4 = put_bytes(&elsewhere, "x", b"x").await.unwrap_err();
    for e in [&e1, &e2, &e3, &e4] {
        let text = format!("{e} {e:?}");
        for secret in [
            &writer.secret_access_key,
            &writer.access_key_id,
            &wrong_secret.secret_access_key,
        ] {
            assert!(
                !text.contains(secret.as_str()),
                "a write credential leaked: {text}"
            );
        }
    }
    assert!(!format!("{ours:?}").contains(&writer.access_key_id));

    // GRAIL's single-pair fallback: only the write pair, which reads too.
    let env = |name: &str| -> Option<String> {
        match name {
            "R2_ACCOUNT_ID" => Some(ACCOUNT.to_owned()),
            "R2_ENDPOINT_URL" => Some(moto.endpoint.clone()),
            "R2_FORCE_PATH_STYLE" => Some("1".to_owned()),
            "R2_WRITE_ACCESS_KEY_ID" => Some(writer.access_key_id.clone()),
            "R2_WRITE_SECRET_ACCESS_KEY" => Some(writer.secret_access_key.clone()),
            _ => None,
        }
    };
    let single = S3Config::from_env(&env, None).unwrap();
    assert!(single.is_single_pair());
    let single_store = S3Store::new(&single, s3_options()).unwrap();
    assert_eq!(
        single_store.get("dual/object", 100).await.unwrap(),
        b"sealed bytes"
    );
    put_bytes(&single_store, "dual/single", b"y").await.unwrap();

    // Publishing: the read pair must be read-only, distinct, bucket = account.
    let ok = veil::registry::check_publishable(&config(&moto, &reader, Some(&writer)), true)
        .await
        .unwrap();
    assert_eq!(ok.text(), commitment_text);
    let refuse = |c: S3Config| async move {
        veil::registry::check_publishable(&c, true)
            .await
            .unwrap_err()
            .to_string()
    };
    let e = refuse(single).await;
    assert!(e.contains("single-pair"), "{e}");
    let e = refuse(config(&moto, &writer, Some(&reader))).await;
    assert!(e.contains("can write to the bucket"), "{e}");
    assert!(
        ours.list("veil-probe/").await.unwrap().is_empty(),
        "the probe object is removed"
    );
    let mut other_bucket = config(&moto, &reader, Some(&writer));
    other_bucket.bucket = "somethingelse".to_owned();
    let e = refuse(other_bucket).await;
    assert!(e.contains("differs from the account id"), "{e}");
    let wrong_read = Keys {
        access_key_id: reader.access_key_id.clone(),
        secret_access_key: format!("{}x", reader.secret_access_key),
    };
    let e = refuse(config(&moto, &wrong_read, Some(&writer))).await;
    assert!(e.contains("cannot list"), "{e}");
    let e = refuse(config(&moto, &writer, Some(&writer))).await;
    assert!(e.contains("is the write key pair"), "{e}");
    assert!(!e.contains(&writer.secret_access_key));
}

/// A TCP proxy that can die mid-stream: it forwards to `upstream` until
/// `kill()`, which drops every connection and stops listening.
struct Proxy {
    port: u16,
    task: tokio::task::JoinHandle<()>,
    forwarded: Arc<AtomicU64>,
}

impl Proxy {
    async fn start(port: u16, upstream: u16, cut_after: Option<u64>) -> Self {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let forwarded = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&forwarded);
        let (dead_tx, dead_rx) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            loop {
                let mut dead = dead_rx.clone();
                let (mut client, _) = tokio::select! {
                    a = listener.accept() => a.unwrap(),
                    _ = dead.changed() => break,
                };
                let counter = Arc::clone(&counter);
                let dead_tx = dead_tx.clone();
                let mut dead = dead_rx.clone();
                conns.spawn(async move {
                    let Ok(mut server) =
                        tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await
                    else {
                        return;
                    };
                    let (mut cr, mut cw) = client.split();
                    let (mut sr, mut sw) = server.split();
                    let up = async {
                        let mut buf = vec![0u8; 16 * 1024];
                        loop {
                            let n = tokio::io::AsyncReadExt::read(&mut cr, &mut buf)
                                .await
                                .unwrap_or(0);
                            if n == 0 {
                                break;
                            }
                            let total = counter.fetch_add(n as u64, Ordering::SeqCst) + n as u64;
                            if cut_after.is_some_and(|c| total > c) {
                                // The server "dies": everything stops now.
                                let _ = dead_tx.send(true);
                                break;
                            }
                            if tokio::io::AsyncWriteExt::write_all(&mut sw, &buf[..n])
                                .await
                                .is_err()
                            {
                                break;
                            }
                        }
                    };
                    let down = tokio::io::copy(&mut sr, &mut cw);
                    tokio::select! {
                        () = up => {},
                        _ = down => {},
                        _ = dead.changed() => {},
                    }
                });
            }
            conns.abort_all();
        });
        Self {
            port,
            task,
            forwarded,
        }
    }

    async fn kill(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

#[tokio::test]
async fn an_upload_cut_off_mid_stream_is_spooled_and_recovered_after_a_restart() {
    let scratch = Scratch::new("store-spool");
    let Some((moto, reader, writer)) = authed_moto(&scratch) else {
        return;
    };
    let direct = S3Store::new(&config(&moto, &reader, Some(&writer)), s3_options()).unwrap();

    // The miner talks to the bucket through a proxy that dies 1 MiB into the
    // upload of an 11 MiB object (multipart).
    let proxy = Proxy::start(0, moto.port(), Some(1024 * 1024)).await;
    let port = proxy.port;
    let via_proxy = |moto: &Moto| {
        let mut c = config(moto, &reader, Some(&writer));
        c.endpoint = format!("http://127.0.0.1:{port}");
        Arc::new(S3Store::new(&c, s3_options()).unwrap()) as Arc<dyn ObjectStore>
    };
    let spool_dir = scratch.path().join("spool");
    let big = pattern(11 * 1024 * 1024, 42);
    let small = b"a small sealed image".to_vec();
    {
        let uploader = Uploader::new(via_proxy(&moto), Spool::open(&spool_dir, 1 << 30).unwrap());
        let outcome = uploader.upload("spool/big.png.tlock", &big).await.unwrap();
        assert_eq!(outcome, Upload::Spooled, "the server died mid-upload");
        assert!(proxy.forwarded.load(Ordering::SeqCst) > 1024 * 1024);
        // The server stays down: the next upload is spooled too.
        assert_eq!(
            uploader
                .upload("spool/small.png.tlock", &small)
                .await
                .unwrap(),
            Upload::Spooled
        );
        assert_eq!(uploader.spool().entries().unwrap().len(), 2);
        // Nothing partial reached the bucket.
        assert_eq!(direct.head("spool/big.png.tlock").await.unwrap(), None);
        assert_eq!(direct.head("spool/small.png.tlock").await.unwrap(), None);
        let report = uploader.flush().await.unwrap();
        assert_eq!((report.uploaded.len(), report.remaining), (0, 2));
        // The process "crashes" here: the uploader is dropped.
    }
    proxy.kill().await;
    // The spool holds objects and keys only: no credential reached the disk.
    for entry in std::fs::read_dir(spool_dir.join(veil::store::spool::SPOOL_SUBDIR)).unwrap() {
        let entry = entry.unwrap();
        if !entry.file_type().unwrap().is_file() {
            continue;
        }
        let bytes = std::fs::read(entry.path()).unwrap();
        for secret in [
            &writer.secret_access_key,
            &writer.access_key_id,
            &reader.secret_access_key,
        ] {
            assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()));
        }
    }

    // The server comes back on the same address; a new process opens the
    // same spool and its background task uploads everything.
    let proxy = Proxy::start(port, moto.port(), None).await;
    let uploader = Arc::new(Uploader::new(
        via_proxy(&moto),
        Spool::open(&spool_dir, 1 << 30).unwrap(),
    ));
    let flusher = uploader.spawn_flusher(Duration::from_millis(100));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !uploader.spool().entries().unwrap().is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the spool was not flushed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    flusher.abort();
    assert!(direct.get("spool/big.png.tlock", 1 << 30).await.unwrap() == big);
    assert_eq!(
        direct.get("spool/small.png.tlock", 1 << 20).await.unwrap(),
        small
    );
    // And a new upload now goes straight through.
    assert_eq!(
        uploader
            .upload("spool/after.png.tlock", b"later")
            .await
            .unwrap(),
        Upload::Stored
    );
    assert_eq!(
        direct.get("spool/after.png.tlock", 10).await.unwrap(),
        b"later"
    );
    proxy.kill().await;
}

#[tokio::test]
async fn spool_entries_are_checked_addressed_and_never_roll_back_newer_objects() {
    let scratch = Scratch::new("spool-rules");
    let spool_dir = scratch.path().join("spool");
    let store: Arc<dyn ObjectStore> =
        Arc::new(LocalStore::open(&scratch.path().join("store")).unwrap());
    let here = store.describe();
    let spool = Spool::open(&spool_dir, 1 << 20).unwrap();
    let spool_dir = spool.dir().to_owned();
    assert_eq!(spool_dir, scratch.path().join("spool").join("veil-spool"));
    spool.push("k/one", &here, b"original bytes").await.unwrap();
    spool.push("k/two", &here, b"fine").await.unwrap();
    spool
        .push(
            "k/elsewhere",
            "bucket b at https://elsewhere.invalid",
            b"not ours",
        )
        .await
        .unwrap();
    spool.push("k/newer", &here, b"old bytes").await.unwrap();
    // Flip a byte of the first entry's data.
    for e in std::fs::read_dir(&spool_dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "data")
            && std::fs::read(&p).unwrap() == b"original bytes"
        {
            std::fs::write(&p, b"0riginal bytes").unwrap();
        }
    }
    let uploader = Uploader::new(Arc::clone(&store), spool);
    // A direct upload of newer bytes drops the older spooled object, so a
    // later flush cannot roll the key back.
    assert_eq!(
        uploader.upload("k/newer", b"new bytes").await.unwrap(),
        Upload::Stored
    );
    let report = uploader.flush().await.unwrap();
    assert_eq!(report.uploaded, vec!["k/two".to_owned()]);
    assert_eq!(store.get("k/newer", 100).await.unwrap(), b"new bytes");
    // The entry for another store stays; the damaged one is moved aside.
    assert_eq!(report.remaining, 1);
    assert_eq!(report.errors.len(), 2, "{:?}", report.errors);
    assert!(
        report.errors.iter().any(|e| e.contains("damaged")),
        "{:?}",
        report.errors
    );
    assert!(
        report
            .errors
            .iter()
            .any(|e| e.contains("spooled for bucket b")),
        "{:?}",
        report.errors
    );
    assert_eq!(store.head("k/one").await.unwrap(), None);
    assert_eq!(store.head("k/elsewhere").await.unwrap(), None);
    let left: Vec<_> = uploader
        .spool()
        .entries()
        .unwrap()
        .into_iter()
        .map(|e| e.key)
        .collect();
    assert_eq!(left, vec!["k/elsewhere".to_owned()]);
    assert_eq!(
        std::fs::read_dir(spool_dir.join("damaged"))
            .unwrap()
            .count(),
        2
    );
    // A denied write is returned, not spooled forever.
    let read_only: Arc<dyn ObjectStore> =
        Arc::new(LocalStore::open(&scratch.path().join("ro")).unwrap());
    let e = Uploader::new(
        read_only,
        Spool::open(&scratch.path().join("spool2"), 1 << 20).unwrap(),
    )
    .upload("../bad", b"x")
    .await
    .unwrap_err();
    assert!(e.to_string().contains("invalid object key"), "{e}");
    // The cap holds: a push past it is refused, not silently dropped.
    let small = Spool::open(&scratch.path().join("small"), 10).unwrap();
    small.push("a", &here, b"12345").await.unwrap();
    assert!(small.push("b", &here, b"123456").await.is_err());
    small.push("a", &here, b"1234567890").await.unwrap(); // replacing frees the old size
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processes_sharing_a_local_store_do_not_disturb_each_other() {
    let scratch = Scratch::new("store-shared");
    let root = scratch.path().join("root");
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..4u8 {
        let root = root.clone();
        tasks.spawn(async move {
            for i in 0..10u8 {
                // Each write opens the store afresh, as a new process would.
                let store = LocalStore::open(&root).unwrap();
                let data = pattern(64 * 1024 + usize::from(i), w);
                put_bytes(&store, &format!("w{w}/obj{i}"), &data)
                    .await
                    .unwrap();
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
    let store = LocalStore::open(&root).unwrap();
    let all = store.list("").await.unwrap();
    assert_eq!(all.len(), 40);
    for w in 0..4u8 {
        for i in 0..10u8 {
            let got = store.get(&format!("w{w}/obj{i}"), 1 << 20).await.unwrap();
            assert!(got == pattern(64 * 1024 + usize::from(i), w));
        }
    }
}
