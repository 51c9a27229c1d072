//! The moto harness (tests/src/moto.rs) itself: the real moto[server] 5.2.5
//! (PyPI) starts, in auth mode with two distinct key pairs (moto_setup.py has
//! already verified that enforcement is on), and without auth as a public
//! bucket that takes anonymous path-style requests.

use core::net::Ipv4Addr;
use core::time::Duration;
use std::io::{Read, Write};
use std::net::TcpStream;

use veil_tests::Scratch;
use veil_tests::moto::Moto;

/// One raw HTTP/1.1 request on its own connection; returns (status, body).
fn http(port: u16, method: &str, path: &str, body: &[u8]) -> (u16, Vec<u8>) {
    let mut s = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).expect("connect to moto");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    // No form Content-Type: moto (Flask) would store a form-encoded body as empty.
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
         Content-Type: application/octet-stream\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(body).unwrap();
    let mut response = Vec::new();
    s.read_to_end(&mut response).expect("read moto's answer");
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end: {}", String::from_utf8_lossy(&response)));
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let status = head
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP/1.1 status line: {head}"));
    let body = response[split + 4..].to_vec();
    // moto answers with Content-Length (never chunked); hold it to that.
    if let Some(len) = head.lines().find_map(|l| {
        l.to_ascii_lowercase()
            .strip_prefix("content-length:")
            .map(|v| v.trim().parse::<usize>().unwrap())
    }) {
        assert_eq!(body.len(), len, "{head}");
    }
    (status, body)
}

#[test]
fn auth_mode_gives_distinct_reader_and_writer_keys() {
    let scratch = Scratch::new("moto-auth");
    let Some(moto) = Moto::start(&scratch, "veil-auth", true) else {
        return;
    };
    assert_eq!(moto.endpoint, format!("http://127.0.0.1:{}", moto.port()));
    assert_eq!(moto.bucket, "veil-auth");
    let reader = moto.reader.clone().expect("reader keys in auth mode");
    let writer = moto.writer.clone().expect("writer keys in auth mode");
    for keys in [&reader, &writer] {
        assert!(
            keys.access_key_id.starts_with("AKIA") && keys.access_key_id.len() == 20,
            "{keys:?}"
        );
        assert!(keys.secret_access_key.len() >= 40, "{keys:?}");
    }
    assert_ne!(reader.access_key_id, writer.access_key_id);
    assert_ne!(reader.secret_access_key, writer.secret_access_key);
}

#[test]
fn no_auth_mode_is_a_public_bucket_and_kill_stops_it() {
    let scratch = Scratch::new("moto-public");
    let Some(mut moto) = Moto::start(&scratch, "veil-public", false) else {
        return;
    };
    assert!(moto.reader.is_none() && moto.writer.is_none());
    let port = moto.port();
    let path = format!("/{}/phase4/miner-1/image.tle", moto.bucket);
    let data: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();

    let (status, body) = http(port, "PUT", &path, &data);
    assert_eq!(
        status,
        200,
        "PUT: {}\n{}",
        String::from_utf8_lossy(&body),
        moto.log()
    );
    let (status, body) = http(port, "GET", &path, b"");
    assert_eq!(
        status,
        200,
        "GET: {}\n{}",
        String::from_utf8_lossy(&body),
        moto.log()
    );
    assert!(
        body == data,
        "GET returned {} bytes, not the {} put",
        body.len(),
        data.len()
    );

    let (status, _) = http(port, "GET", &format!("/{}/absent", moto.bucket), b"");
    assert_eq!(status, 404);

    moto.kill();
    assert!(
        TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err(),
        "moto still accepts connections after kill()"
    );
}
