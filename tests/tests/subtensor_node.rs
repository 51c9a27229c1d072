//! The in-process subtensor node (`veil_tests::subtensor`): its SCALE
//! encoding and keys against the research notes (§5), and its JSON-RPC
//! behaviour against a plain tokio-tungstenite client.

use core::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::{Bytes, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use veil_tests::subtensor::{
    Field, Node, Storage, commitment_of_key, commitment_of_prefix, hex, registration,
    scale_compact, twox64, twox128, unhex,
};

/// The dev account "Alice" (sr25519 public key).
const ALICE: &str = "d43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d";
/// The root key of the Substrate dev phrase ("bottom drive obey …", no
/// derivation path; SS58 5DfhGyQd…): the account of the notes' worked example.
const DEV_ROOT: &str = "46ebddef8cd9bb167dc30878d7113b7e168e6f0646beffd77d69d39bad76b47a";
/// The notes' `CommitmentOf` prefix.
const PREFIX: &str = "0xca407206ec1ab726b2636c4b145ac287419a60ae8b01e6dcaebd7317e43c69bf";
const TIMEOUT: Duration = Duration::from_secs(10);

fn account(text: &str) -> [u8; 32] {
    unhex(text)
        .expect("hex")
        .try_into()
        .expect("a 32-byte account")
}

/// A 128-character GRAIL-style credential string.
fn grail_text(i: u8) -> Vec<u8> {
    let c = char::from(b'a' + i);
    format!(
        "{:<32}{:<32}{:<64}",
        format!("account{c}"),
        format!("key{c}"),
        format!("secret{c}")
    )
    .into_bytes()
}

struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_id: u64,
}

impl Client {
    async fn connect(url: &str) -> Self {
        let (ws, _) = tokio::time::timeout(TIMEOUT, tokio_tungstenite::connect_async(url))
            .await
            .expect("connect in time")
            .expect("connect");
        Self { ws, next_id: 0 }
    }

    async fn send_text(&mut self, text: String) {
        self.ws.send(Message::text(text)).await.expect("send");
    }

    async fn recv(&mut self) -> Message {
        tokio::time::timeout(TIMEOUT, self.ws.next())
            .await
            .expect("an answer in time")
            .expect("connection open")
            .expect("a frame")
    }

    async fn recv_json(&mut self) -> Value {
        match self.recv().await {
            Message::Text(t) => serde_json::from_str(t.as_str()).expect("JSON answer"),
            other => panic!("expected a text frame, got {other:?}"),
        }
    }

    fn request(&mut self, method: &str, params: &Value) -> (Value, String) {
        self.next_id += 1;
        let id = json!(self.next_id);
        let text = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        (id, text.to_string())
    }

    /// The whole response to `method(params)`, its id checked.
    async fn call(&mut self, method: &str, params: Value) -> Value {
        let (id, text) = self.request(method, &params);
        self.send_text(text).await;
        let answer = self.recv_json().await;
        assert_eq!(answer["jsonrpc"], "2.0", "{answer}");
        assert_eq!(answer["id"], id, "{answer}");
        answer
    }

    /// The result of `method(params)`, which must succeed.
    async fn ok(&mut self, method: &str, params: Value) -> Value {
        let answer = self.call(method, params).await;
        assert!(answer.get("error").is_none(), "{method}: {answer}");
        answer["result"].clone()
    }

    /// The (code, message) of `method(params)`, which must fail.
    async fn err(&mut self, method: &str, params: Value) -> (i64, String) {
        let answer = self.call(method, params).await;
        assert!(answer.get("result").is_none(), "{method}: {answer}");
        error_of(&answer)
    }
}

fn error_of(answer: &Value) -> (i64, String) {
    let e = &answer["error"];
    (
        e["code"].as_i64().expect("error code"),
        e["message"].as_str().expect("error message").to_owned(),
    )
}

fn netuid_prefix(netuid: u16) -> String {
    let mut p = commitment_of_prefix().to_vec();
    p.extend_from_slice(&netuid.to_le_bytes());
    hex(&p)
}

/// (key, value) pairs, ascending by key.
type Entries = Vec<(Vec<u8>, Vec<u8>)>;

/// Five commitments on netuid 81, plus neighbours that must not be listed.
fn five_commitments() -> (Storage, Entries) {
    let mut storage = Storage::default();
    let mut expected = Vec::new();
    for i in 0..5u8 {
        let acct = [i.wrapping_mul(37).wrapping_add(11); 32];
        let value = registration(0, 100 + u32::from(i), &[Field::Raw(grail_text(i))]);
        storage.commit(81, acct, value.clone());
        expected.push((commitment_of_key(81, &acct), value));
    }
    storage.commit(
        80,
        [1; 32],
        registration(0, 1, &[Field::Raw(b"x".to_vec())]),
    );
    storage.commit(
        82,
        [2; 32],
        registration(0, 2, &[Field::Raw(b"y".to_vec())]),
    );
    storage.insert(twox128(b"System").to_vec(), vec![1, 2, 3]);
    expected.sort();
    (storage, expected)
}

// ---------------------------------------------------------------- encoding --

#[test]
fn twox_matches_known_substrate_prefixes() {
    // `System.Account` = 26aa394eea5630e07c48ae0c9558cef7 ‖ b99d880ec681799c0cf30e8886371da9
    assert_eq!(
        hex(&twox128(b"System")),
        "0x26aa394eea5630e07c48ae0c9558cef7"
    );
    assert_eq!(
        hex(&twox128(b"Account")),
        "0xb99d880ec681799c0cf30e8886371da9"
    );
}

#[test]
fn commitment_of_prefix_matches_the_notes() {
    assert_eq!(hex(&commitment_of_prefix()), PREFIX);
}

#[test]
fn worked_example_key_matches_the_notes() {
    // The notes' "dev account" (`…69bf` + `5100` + `504d8899f6c69245` +
    // `46ebdd…b47a`) is the root key of the Substrate dev phrase, not Alice.
    let dev = account(DEV_ROOT);
    let key = commitment_of_key(81, &dev);
    assert_eq!(key.len(), 74);
    assert_eq!(hex(&key[..32]), PREFIX);
    assert_eq!(hex(&key[32..34]), "0x5100");
    assert_eq!(hex(&key[34..42]), "0x504d8899f6c69245");
    assert_eq!(key[34..42], twox64(&dev));
    assert_eq!(key[42..], dev);
}

#[test]
fn alice_key_matches_published_twox64_concat() {
    // Twox64Concat(Alice) = 518366b5b1bc7c99 ‖ Alice, as in Substrate's and
    // the bittensor SDK's own tests (the latter: netuid 2 `CommitmentOf`).
    let alice = account(ALICE);
    assert_eq!(hex(&twox64(&alice)), "0x518366b5b1bc7c99");
    assert_eq!(
        hex(&commitment_of_key(2, &alice)),
        format!("{PREFIX}0200518366b5b1bc7c99{ALICE}")
    );
    let key = commitment_of_key(81, &alice);
    assert_eq!(key.len(), 74);
    assert_eq!(hex(&key[32..34]), "0x5100");
    assert_eq!(key[42..], alice);
}

#[test]
fn grail_registration_is_142_bytes() {
    let text = grail_text(0);
    assert_eq!(text.len(), 128);
    let value = registration(0, 7, &[Field::Raw(text.clone())]);
    assert_eq!(value.len(), 142);
    assert_eq!(value[..8], [0; 8], "deposit u64 LE");
    assert_eq!(value[8..12], [7, 0, 0, 0], "block u32 LE");
    assert_eq!(value[12..14], [0x04, 0x81], "compact(1), Raw128");
    assert_eq!(value[14..], text[..]);
}

#[test]
fn scale_compact_modes() {
    let cases: [(u64, &str); 10] = [
        (0, "0x00"),
        (1, "0x04"),
        (63, "0xfc"),
        (64, "0x0101"),
        (16383, "0xfdff"),
        (16384, "0x02000100"),
        ((1 << 30) - 1, "0xfeffffff"),
        (1 << 30, "0x0300000040"),
        (1 << 32, "0x070000000001"),
        (u64::MAX, "0x13ffffffffffffffff"),
    ];
    for (n, want) in cases {
        assert_eq!(hex(&scale_compact(n)), want, "compact({n})");
    }
}

#[test]
fn field_encodings() {
    assert_eq!(Field::None.encode(), [0]);
    assert_eq!(Field::Raw(Vec::new()).encode(), [1]);
    assert_eq!(Field::Raw(b"ab".to_vec()).encode(), [3, b'a', b'b']);
    for (field, tag) in [
        (Field::BlakeTwo256([9; 32]), 130),
        (Field::Sha256([9; 32]), 131),
        (Field::Keccak256([9; 32]), 132),
        (Field::ShaThree256([9; 32]), 133),
    ] {
        let enc = field.encode();
        assert_eq!(enc.len(), 33);
        assert_eq!(enc[0], tag);
        assert_eq!(enc[1..], [9; 32]);
    }
    let tle = Field::TimelockEncrypted {
        encrypted: vec![0xee; 100],
        reveal_round: 0x0102_0304_0506_0708,
    }
    .encode();
    assert_eq!(tle[..3], [134, 0x91, 0x01], "tag, compact(100)");
    assert_eq!(tle[3..103], [0xee; 100]);
    assert_eq!(tle[103..], 0x0102_0304_0506_0708u64.to_le_bytes());
    assert_eq!(Field::ResetBondsFlag.encode(), [135]);
    let big = Field::BigRaw(vec![5; 512]).encode();
    assert_eq!(big[..3], [136, 0x01, 0x08], "tag, compact(512)");
    assert_eq!(big.len(), 3 + 512);
    let three = registration(
        5,
        1,
        &[Field::None, Field::ResetBondsFlag, Field::Raw(vec![1])],
    );
    assert_eq!(hex(&three), "0x0500000000000000010000000c00870201");
}

#[test]
#[should_panic(expected = "at most 128 bytes")]
fn raw_over_128_bytes_has_no_encoding() {
    let _ = Field::Raw(vec![0; 129]).encode();
}

#[test]
fn hex_round_trips() {
    assert_eq!(hex(&[0x00, 0xab, 0xff]), "0x00abff");
    assert_eq!(unhex("0x00ABff"), Some(vec![0x00, 0xab, 0xff]));
    assert_eq!(unhex("0x"), Some(Vec::new()));
    assert_eq!(unhex("0xabc"), None);
    assert_eq!(unhex("0xzz"), None);
}

// -------------------------------------------------------------------- node --

#[tokio::test]
async fn pages_through_commitments_and_reads_them() {
    let (storage, expected) = five_commitments();
    let node = Node::start(storage).await;
    assert!(node.url.starts_with("ws://127.0.0.1:"), "{}", node.url);
    let mut client = Client::connect(&node.url).await;

    let head = client.ok("chain_getFinalizedHead", json!([])).await;
    assert_eq!(head, hex(&node.head()));
    assert_eq!(head.as_str().map(str::len), Some(66));
    assert_eq!(client.ok("chain_getBlockHash", json!([])).await, head);
    assert_eq!(client.ok("chain_getBlockHash", json!([null])).await, head);

    let prefix = netuid_prefix(81);
    let mut keys: Vec<Value> = Vec::new();
    let mut pages = 0;
    loop {
        let start = keys.last().cloned().unwrap_or(Value::Null);
        let page = client
            .ok("state_getKeysPaged", json!([prefix, 2, start, head]))
            .await;
        let page = page.as_array().expect("a key list").clone();
        pages += 1;
        assert!(page.len() <= 2);
        let done = page.len() < 2;
        keys.extend(page);
        if done {
            break;
        }
    }
    assert_eq!(pages, 3, "2 + 2 + 1");
    let want_keys: Vec<Value> = expected.iter().map(|(k, _)| json!(hex(k))).collect();
    assert_eq!(keys, want_keys, "every key, ascending");

    // Without `at`, and with a start key before the prefix.
    let all = client
        .ok("state_getKeysPaged", json!([prefix, 1000, "0x00"]))
        .await;
    assert_eq!(all, json!(want_keys));
    let none = client
        .ok(
            "state_getKeysPaged",
            json!([prefix, 10, want_keys[4], null]),
        )
        .await;
    assert_eq!(none, json!([]));

    let at = client.ok("state_queryStorageAt", json!([keys, head])).await;
    let sets = at.as_array().expect("change sets");
    assert_eq!(sets.len(), 1);
    assert_eq!(sets[0]["block"], head);
    let changes = sets[0]["changes"].as_array().expect("changes");
    assert_eq!(changes.len(), 5);
    for ((key, value), change) in expected.iter().zip(changes) {
        assert_eq!(*change, json!([hex(key), hex(value)]));
    }
    let missing = hex(&commitment_of_key(81, &[0xfe; 32]));
    let mixed = client
        .ok("state_queryStorageAt", json!([[missing, keys[2]], null]))
        .await;
    assert_eq!(
        mixed[0]["changes"],
        json!([[missing, null], [keys[2], hex(&expected[2].1)]]),
        "request order, null when absent"
    );

    let one = client.ok("state_getStorage", json!([keys[0], head])).await;
    assert_eq!(one, json!(hex(&expected[0].1)));
    assert_eq!(
        client.ok("state_getStorage", json!([missing])).await,
        Value::Null
    );

    let calls = node.calls();
    assert_eq!(
        calls[..3],
        [
            "chain_getFinalizedHead",
            "chain_getBlockHash",
            "chain_getBlockHash"
        ]
    );
    assert_eq!(
        calls.iter().filter(|c| *c == "state_getKeysPaged").count(),
        5
    );
    assert_eq!(calls.last().map(String::as_str), Some("state_getStorage"));
    node.stop().await;
}

#[tokio::test]
async fn count_over_1000_is_refused() {
    let (storage, _) = five_commitments();
    let node = Node::start(storage).await;
    let mut client = Client::connect(&node.url).await;
    let prefix = netuid_prefix(81);
    let (code, message) = client
        .err("state_getKeysPaged", json!([prefix, 1001, null, null]))
        .await;
    assert_eq!(code, 4002);
    assert!(message.contains("count exceeds maximum value"), "{message}");
    let page = client.ok("state_getKeysPaged", json!([prefix, 1000])).await;
    assert_eq!(page.as_array().map(Vec::len), Some(5));
    assert_eq!(
        client.ok("state_getKeysPaged", json!([prefix, 0])).await,
        json!([])
    );
}

#[tokio::test]
async fn head_follows_storage_and_old_heads_are_unknown() {
    let (storage, expected) = five_commitments();
    let node = Node::start(storage).await;
    let mut client = Client::connect(&node.url).await;
    let prefix = netuid_prefix(81);
    let old = client.ok("chain_getFinalizedHead", Value::Null).await;
    assert_eq!(client.ok("chain_getFinalizedHead", json!([])).await, old);

    let bogus = hex(&[7; 32]);
    for (method, params) in [
        ("state_getKeysPaged", json!([prefix, 10, null, bogus])),
        (
            "state_queryStorageAt",
            json!([[hex(&expected[0].0)], bogus]),
        ),
        ("state_getStorage", json!([hex(&expected[0].0), bogus])),
    ] {
        assert_eq!(
            client.err(method, params).await,
            (-32000, "unknown block".to_owned()),
            "{method}"
        );
    }

    node.storage().lock().expect("storage lock").commit(
        81,
        [0xaa; 32],
        registration(0, 9, &[Field::None]),
    );
    let new = client.ok("chain_getFinalizedHead", json!([])).await;
    assert_ne!(new, old);
    let (code, message) = client
        .err("state_getKeysPaged", json!([prefix, 10, null, old]))
        .await;
    assert_eq!((code, message.as_str()), (-32000, "unknown block"));
    let page = client
        .ok("state_getKeysPaged", json!([prefix, 10, null, new]))
        .await;
    assert_eq!(page.as_array().map(Vec::len), Some(6));

    node.storage()
        .lock()
        .expect("storage lock")
        .uncommit(81, &[0xaa; 32]);
    let newer = client.ok("chain_getFinalizedHead", json!([])).await;
    assert_ne!(newer, new);
}

#[tokio::test]
async fn set_failing_fails_every_call() {
    let (storage, _) = five_commitments();
    let node = Node::start(storage).await;
    let mut client = Client::connect(&node.url).await;
    node.set_failing(true);
    for (method, params) in [
        ("chain_getFinalizedHead", json!([])),
        ("state_getKeysPaged", json!([netuid_prefix(81), 2])),
        ("state_getStorage", json!(["0x00"])),
        ("no_suchMethod", json!([])),
    ] {
        assert_eq!(
            client.err(method, params).await,
            (-32000, "node unavailable".to_owned()),
            "{method}"
        );
    }
    node.set_failing(false);
    client.ok("chain_getFinalizedHead", json!([])).await;
    assert_eq!(node.calls().len(), 5);
    node.clear_calls();
    assert!(node.calls().is_empty());
}

#[tokio::test]
async fn protocol_errors() {
    let node = Node::start(Storage::default()).await;
    let mut client = Client::connect(&node.url).await;

    let (code, message) = client.err("author_submitExtrinsic", json!(["0x00"])).await;
    assert_eq!((code, message.as_str()), (-32601, "Method not found"));

    for (method, params) in [
        ("state_getKeysPaged", json!([])),
        ("state_getKeysPaged", json!(["0xzz", 2])),
        ("state_getKeysPaged", json!(["0x00", -1])),
        ("state_getKeysPaged", json!(["0x00", "2"])),
        ("state_queryStorageAt", json!(["0x00"])),
        ("state_getStorage", json!([])),
        ("state_getStorage", json!(["0x00", "0x1234"])),
        ("chain_getFinalizedHead", json!(["extra"])),
        ("chain_getBlockHash", json!({"hash": 1})),
    ] {
        assert_eq!(client.err(method, params).await.0, -32602, "{method}");
    }

    client.send_text("{not json".to_owned()).await;
    let answer = client.recv_json().await;
    assert_eq!(answer["id"], Value::Null);
    assert_eq!(error_of(&answer).0, -32700);

    client
        .send_text(r#"{"id": 1, "method": 5}"#.to_owned())
        .await;
    assert_eq!(error_of(&client.recv_json().await).0, -32600);

    // A string id is echoed; a notification gets no answer.
    client
        .send_text(r#"{"jsonrpc":"2.0","method":"chain_getFinalizedHead"}"#.to_owned())
        .await;
    client
        .send_text(
            r#"{"jsonrpc":"2.0","id":"abc","method":"chain_getFinalizedHead","params":[]}"#
                .to_owned(),
        )
        .await;
    let answer = client.recv_json().await;
    assert_eq!(answer["id"], "abc");
    assert_eq!(answer["result"], hex(&node.head()));

    // Block numbers: the head's is the mutation count (0 here).
    assert_eq!(
        client.ok("chain_getBlockHash", json!([0])).await,
        hex(&node.head())
    );
    assert_eq!(
        client.ok("chain_getBlockHash", json!([5])).await,
        Value::Null
    );
}

#[tokio::test]
async fn ping_pipelining_and_batches() {
    let node = Node::start(Storage::default()).await;
    let mut client = Client::connect(&node.url).await;

    client
        .ws
        .send(Message::Ping(Bytes::from_static(b"hello")))
        .await
        .expect("ping");
    match client.recv().await {
        Message::Pong(p) => assert_eq!(&p[..], b"hello"),
        other => panic!("expected a pong, got {other:?}"),
    }

    let mut ids = Vec::new();
    for _ in 0..5 {
        let (id, text) = client.request("chain_getFinalizedHead", &json!([]));
        client.send_text(text).await;
        ids.push(id);
    }
    for id in ids {
        let answer = client.recv_json().await;
        assert_eq!(answer["id"], id, "answers in request order");
        assert_eq!(answer["result"], hex(&node.head()));
    }

    client
        .send_text(
            json!([
                {"jsonrpc": "2.0", "id": 1, "method": "chain_getFinalizedHead"},
                {"jsonrpc": "2.0", "id": 2, "method": "nope"},
            ])
            .to_string(),
        )
        .await;
    let batch = client.recv_json().await;
    assert_eq!(batch[0]["id"], 1);
    assert_eq!(batch[1]["error"]["code"], -32601);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_connections() {
    let (storage, expected) = five_commitments();
    let node = Node::start(storage).await;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let url = node.url.clone();
        let prefix = netuid_prefix(81);
        let want: Vec<Value> = expected.iter().map(|(k, _)| json!(hex(k))).collect();
        tasks.spawn(async move {
            let mut client = Client::connect(&url).await;
            for _ in 0..10 {
                let keys = client.ok("state_getKeysPaged", json!([prefix, 100])).await;
                assert_eq!(keys, json!(want));
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("client task");
    }
    assert_eq!(node.calls().len(), 80);
}

#[tokio::test]
async fn stop_closes_the_listener_and_connections() {
    let node = Node::start(Storage::default()).await;
    let url = node.url.clone();
    let mut client = Client::connect(&url).await;
    client.ok("chain_getFinalizedHead", json!([])).await;
    node.stop().await;

    let end = tokio::time::timeout(TIMEOUT, async {
        loop {
            match client.ws.next().await {
                None | Some(Err(_)) => break,
                Some(Ok(Message::Close(_))) => {}
                Some(Ok(other)) => panic!("unexpected {other:?}"),
            }
        }
    })
    .await;
    assert!(end.is_ok(), "the connection was not closed");
    assert!(
        tokio_tungstenite::connect_async(&url).await.is_err(),
        "the listener still accepts"
    );
}

#[tokio::test]
async fn drop_stops_the_node() {
    let node = Node::start(Storage::default()).await;
    let url = node.url.clone();
    drop(node);
    // The abort is asynchronous: give the runtime a moment.
    let mut refused = false;
    for _ in 0..50 {
        let attempt = tokio::time::timeout(
            Duration::from_secs(1),
            tokio_tungstenite::connect_async(&url),
        )
        .await;
        if matches!(attempt, Ok(Err(_))) {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(refused, "the listener outlived the node");
}
