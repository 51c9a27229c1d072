//! The devnet beacon: a one-node drand chain (`bls-unchained-g1-rfc9380`)
//! served over drand's HTTP v1 API, so that everything runs offline.
//!
//! The key file (JSON, written `0600`) keeps the secret key, the genesis
//! time and the period, so a restart serves the same chain (the same chain
//! hash) and old ciphertexts still open. Rounds are answered only once their
//! time has come: `425 Too Early` before, as drand relays answer.

use alloc::collections::VecDeque;
use alloc::sync::Arc;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use axum::Router;

use crate::ops::metrics::{Route, metrics};
use axum::extract::{Path as UrlPath, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;
use veil_core::devnet::DevnetKey;
use veil_core::encoding::Hex;
use veil_core::hash::sha256;
use veil_core::{Chain, ChainTime, Round};
use zeroize::Zeroizing;

use crate::Error;
use crate::clock::Clock;
use crate::keys::read_secret_file;
use crate::limits::{DEVNET_SIGNED_CACHE, DEVNET_SIGNERS};

/// The shortest period a devnet accepts, in seconds.
pub const MIN_PERIOD: u32 = 1;
/// The default period, in seconds.
pub const DEFAULT_PERIOD: u32 = 3;
/// The beacon id in the devnet's `/info`.
pub const BEACON_ID: &str = "veil-devnet";

/// A devnet: its key and the chain it signs.
pub struct Devnet {
    key: DevnetKey,
    chain: Chain,
}

/// The key file; its strings are wiped when it is dropped.
#[derive(Serialize, Deserialize, zeroize::Zeroize, zeroize::ZeroizeOnDrop)]
struct KeyFile {
    scheme: String,
    secret_key: String,
    genesis_time: u64,
    period: u32,
    group_hash: String,
}

impl Devnet {
    /// A fresh devnet whose round 1 is emitted at `genesis`.
    ///
    /// # Errors
    ///
    /// [`Error::Value`] for a period below [`MIN_PERIOD`].
    pub fn generate(genesis: u64, period: u32) -> Result<Self, Error> {
        let key = DevnetKey::generate(&mut rand_core::OsRng);
        let mut group_hash = [0u8; 32];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut group_hash);
        Self::from_parts(key, genesis, period, group_hash)
    }

    fn from_parts(
        key: DevnetKey,
        genesis: u64,
        period: u32,
        group_hash: [u8; 32],
    ) -> Result<Self, Error> {
        let period = core::num::NonZeroU32::new(period)
            .filter(|p| p.get() >= MIN_PERIOD)
            .ok_or_else(|| Error::value("--period", format!("must be at least {MIN_PERIOD}")))?;
        let chain = key.chain(ChainTime::new(genesis, period), group_hash, BEACON_ID)?;
        Ok(Self { key, chain })
    }

    /// Loads the devnet kept in `path`, or creates one there (genesis now,
    /// file mode `0600`). A `period` that disagrees with an existing file is
    /// refused: the period is part of the chain.
    ///
    /// # Errors
    ///
    /// [`Error::Read`]/[`Error::Write`] for file problems, [`Error::Content`]
    /// for a damaged key file or one readable by others.
    pub fn load_or_create(path: &Path, period: Option<u32>, now: u64) -> Result<Self, Error> {
        match std::fs::metadata(path) {
            Ok(_) => {
                let d = Self::load(path)?;
                let have = d.chain.time().period().get();
                if let Some(p) = period
                    && p != have
                {
                    return Err(Error::value(
                        "--period",
                        format!(
                            "{} keeps a devnet with period {have}s, not {p}s",
                            path.display()
                        ),
                    ));
                }
                Ok(d)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let d = Self::generate(now, period.unwrap_or(DEFAULT_PERIOD))?;
                d.save(path)?;
                Ok(d)
            }
            Err(source) => Err(Error::Read {
                path: path.to_owned(),
                source,
            }),
        }
    }

    fn load(path: &Path) -> Result<Self, Error> {
        let bytes = read_secret_file(path)?;
        let bad = |why: &str| Error::Content(format!("{}: {why}", path.display()));
        let f: KeyFile =
            serde_json::from_slice(&bytes).map_err(|_| bad("not a devnet key file"))?;
        if f.scheme != "bls-unchained-g1-rfc9380" {
            return Err(bad("unknown scheme"));
        }
        let sk = Zeroizing::new(
            veil_core::encoding::decode_array::<32>(&f.secret_key)
                .map_err(|_| bad("secret_key must be 32 bytes of hex"))?,
        );
        let key =
            DevnetKey::from_bytes(&sk).map_err(|_| bad("secret_key is not a valid scalar"))?;
        let group_hash = veil_core::encoding::decode_array::<32>(&f.group_hash)
            .map_err(|_| bad("group_hash must be 32 bytes of hex"))?;
        Self::from_parts(key, f.genesis_time, f.period, group_hash)
    }

    /// Writes the key file, `0600`, never over an existing file.
    ///
    /// # Errors
    ///
    /// [`Error::Write`].
    pub fn save(&self, path: &Path) -> Result<(), Error> {
        let f = KeyFile {
            scheme: "bls-unchained-g1-rfc9380".into(),
            secret_key: Hex(&self.key.to_bytes()[..]).to_string(),
            genesis_time: self.chain.time().genesis(),
            period: self.chain.time().period().get(),
            group_hash: Hex(self.chain.group_hash()).to_string(),
        };
        let text = Zeroizing::new(serde_json::to_string_pretty(&f).map_err(|e| Error::Write {
            path: path.to_owned(),
            source: std::io::Error::other(e),
        })?);
        crate::fs::write_private_new(path, text.as_bytes())
    }

    /// The devnet's chain.
    pub const fn chain(&self) -> &Chain {
        &self.chain
    }

    /// The chain's drand `/info` JSON (v1 field names).
    pub fn info_json(&self) -> String {
        self.chain.info_json().to_string()
    }

    /// The beacon of `round`, as drand serves it.
    pub fn beacon_json(&self, round: Round) -> String {
        let sig = self.key.sign_round(round);
        serde_json::json!({
            "round": round.get(),
            "randomness": Hex(&sha256(&sig)).to_string(),
            "signature": Hex(&sig).to_string(),
        })
        .to_string()
    }

    /// The HTTP API of the devnet, answering by `clock`: the v1 routes
    /// under `/{chainhash}/` and, for the one chain it has, at the root too.
    pub fn router(self, clock: Arc<dyn Clock>) -> Router {
        let info = self.info_json();
        let hash = Hex(self.chain.hash()).to_string();
        let state = Arc::new(Served {
            devnet: self,
            clock,
            info,
            hash,
            signed: Mutex::new(Signed::default()),
            signing: Semaphore::new(DEVNET_SIGNERS),
        });
        Router::new()
            .route("/chains", get(chains))
            .route(
                "/info",
                get(|s: State<Arc<Served>>| async move { s.info() }),
            )
            .route(
                "/public/latest",
                get(|State(s): State<Arc<Served>>| async move { s.latest().await }),
            )
            .route(
                "/public/{round}",
                get(
                    |State(s): State<Arc<Served>>, UrlPath(r): UrlPath<String>| async move {
                        s.round(&r).await
                    },
                ),
            )
            .route(
                "/{hash}/info",
                get(
                    |s: State<Arc<Served>>, UrlPath(h): UrlPath<String>| async move {
                        s.check_chain(&h).map_or_else(|r| *r, |()| s.info())
                    },
                ),
            )
            .route(
                "/{hash}/public/latest",
                get(
                    |State(s): State<Arc<Served>>, UrlPath(h): UrlPath<String>| async move {
                        match s.check_chain(&h) {
                            Ok(()) => s.latest().await,
                            Err(r) => *r,
                        }
                    },
                ),
            )
            .route(
                "/{hash}/public/{round}",
                get(
                    |State(s): State<Arc<Served>>,
                     UrlPath((h, r)): UrlPath<(String, String)>| async move {
                        match s.check_chain(&h) {
                            Ok(()) => s.round(&r).await,
                            Err(resp) => *resp,
                        }
                    },
                ),
            )
            .with_state(state)
            .layer(axum::middleware::from_fn(counted))
            .route(
                crate::ops::endpoint::HEALTH_PATH,
                get(crate::ops::endpoint::healthz),
            )
    }
}

/// Counts each request by route and status; logs refusals (`info`) and
/// answers (`debug`: a relay answers many).
async fn counted(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let path = request.uri().path();
    let route = if path == "/info" || path.ends_with("/info") {
        Route::BeaconInfo
    } else if path.starts_with("/public/") || path.contains("/public/") {
        Route::BeaconPublic
    } else {
        Route::Other
    };
    let shown = crate::text::peer_line(path);
    let response = next.run(request).await;
    let status = response.status().as_u16();
    metrics().request(route, status);
    if status >= 400 && status != 425 {
        tracing::info!(status, path = %shown, "refused");
    } else {
        tracing::debug!(status, path = %shown, "answered");
    }
    response
}

/// A devnet's HTTP state.
struct Served {
    devnet: Devnet,
    clock: Arc<dyn Clock>,
    info: String,
    hash: String,
    /// Beacons already signed: a round asked again costs no pairing-group
    /// work.
    signed: Mutex<Signed>,
    /// Signatures made at once, off the async workers: a flood of requests
    /// for unsigned rounds queues here instead of stalling the server.
    signing: Semaphore,
}

/// The last [`DEVNET_SIGNED_CACHE`] beacons signed, oldest first out.
#[derive(Default)]
struct Signed {
    by_round: HashMap<u64, Arc<str>>,
    order: VecDeque<u64>,
}

impl Signed {
    fn get(&self, round: Round) -> Option<Arc<str>> {
        self.by_round.get(&round.get()).cloned()
    }

    fn put(&mut self, round: Round, json: Arc<str>) {
        if self.by_round.insert(round.get(), json).is_none() {
            self.order.push_back(round.get());
            while self.order.len() > DEVNET_SIGNED_CACHE {
                if let Some(old) = self.order.pop_front() {
                    self.by_round.remove(&old);
                }
            }
        }
    }
}

fn json(body: String) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn status(code: StatusCode, text: &'static str) -> Response {
    (code, text).into_response()
}

async fn chains(State(s): State<Arc<Served>>) -> Response {
    json(serde_json::json!([s.hash]).to_string())
}

impl Served {
    fn check_chain(&self, hash: &str) -> Result<(), Box<Response>> {
        if hash.eq_ignore_ascii_case(&self.hash) {
            Ok(())
        } else {
            Err(Box::new(status(StatusCode::NOT_FOUND, "unknown chain")))
        }
    }

    fn info(&self) -> Response {
        json(self.info.clone())
    }

    async fn latest(self: Arc<Self>) -> Response {
        let time = self.devnet.chain.time();
        let now = self.clock.now();
        // drand's round_at says round 1 before genesis; it is not out yet.
        match time.round_at(now).ok().filter(|_| now >= time.genesis()) {
            Some(r) => self.beacon(r).await,
            None => too_early(),
        }
    }

    async fn round(self: Arc<Self>, text: &str) -> Response {
        let Some(round) = text
            .parse::<u64>()
            .ok()
            .filter(|_| text.bytes().all(|b| b.is_ascii_digit()))
        else {
            return status(StatusCode::BAD_REQUEST, "round must be a decimal integer");
        };
        let Ok(round) = Round::new(round) else {
            return status(StatusCode::NOT_FOUND, "there is no round 0");
        };
        match self.devnet.chain.time().time_of(round) {
            Ok(at) if at <= self.clock.now() => self.beacon(round).await,
            Ok(_) => too_early(),
            Err(_) => status(StatusCode::NOT_FOUND, "round out of range"),
        }
    }

    /// The beacon of an emitted `round`: from the cache, else signed on a
    /// blocking thread (a bounded few at once) and cached.
    async fn beacon(self: Arc<Self>, round: Round) -> Response {
        if let Some(j) = self.signed.lock().ok().and_then(|s| s.get(round)) {
            return json(j.to_string());
        }
        let Ok(_permit) = self.signing.acquire().await else {
            return status(StatusCode::SERVICE_UNAVAILABLE, "stopping");
        };
        // Another request may have signed it while this one waited.
        if let Some(j) = self.signed.lock().ok().and_then(|s| s.get(round)) {
            return json(j.to_string());
        }
        let me = Arc::clone(&self);
        let Ok(signed) =
            tokio::task::spawn_blocking(move || Arc::<str>::from(me.devnet.beacon_json(round)))
                .await
        else {
            return status(StatusCode::INTERNAL_SERVER_ERROR, "internal error");
        };
        if let Ok(mut cache) = self.signed.lock() {
            cache.put(round, Arc::clone(&signed));
        }
        json(signed.to_string())
    }
}

fn too_early() -> Response {
    status(
        StatusCode::from_u16(425).unwrap_or(StatusCode::NOT_FOUND),
        "too early",
    )
}

#[cfg(test)]
mod tests {
    use core::sync::atomic::{AtomicU64, Ordering};

    use super::*;

    struct At(AtomicU64);
    impl Clock for At {
        fn now(&self) -> u64 {
            self.0.load(Ordering::Relaxed)
        }
    }

    #[test]
    fn key_file_round_trip_keeps_the_chain() {
        let dir = std::env::temp_dir().join(format!("veil-devnet-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("key.json");
        let a = Devnet::load_or_create(&path, Some(2), 1_000).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let b = Devnet::load_or_create(&path, None, 5_000).unwrap();
        assert_eq!(a.chain().hash(), b.chain().hash());
        assert_eq!(b.chain().time().genesis(), 1_000);
        assert!(Devnet::load_or_create(&path, Some(3), 5_000).is_err());
        // The published /info describes the same chain, hash included.
        let parsed = Chain::from_info_json(a.info_json().as_bytes()).unwrap();
        assert_eq!(parsed.hash(), a.chain().hash());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn rounds_only_once_their_time_has_come() {
        let d = Devnet::generate(1_000, 3).unwrap();
        let clock = Arc::new(At(AtomicU64::new(1_000 + 3 * 4)));
        let s = Arc::new(Served {
            info: d.info_json(),
            hash: Hex(d.chain().hash()).to_string(),
            devnet: d,
            clock: clock.clone(),
            signed: Mutex::new(Signed::default()),
            signing: Semaphore::new(DEVNET_SIGNERS),
        });
        let round = |r: &'static str| Arc::clone(&s).round(r);
        assert_eq!(round("5").await.status(), StatusCode::OK);
        assert_eq!(round("6").await.status().as_u16(), 425);
        assert_eq!(round("0").await.status(), StatusCode::NOT_FOUND);
        assert_eq!(round("x").await.status(), StatusCode::BAD_REQUEST);
        assert_eq!(round("+5").await.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            round("99999999999999999999").await.status(),
            StatusCode::BAD_REQUEST
        );
        clock.0.store(1_000 + 3 * 5, Ordering::Relaxed);
        assert_eq!(round("6").await.status(), StatusCode::OK);
        clock.0.store(999, Ordering::Relaxed);
        assert_eq!(Arc::clone(&s).latest().await.status().as_u16(), 425);
        assert_eq!(
            s.check_chain("00").unwrap_err().status(),
            StatusCode::NOT_FOUND
        );
        // Every served beacon verifies on the devnet's chain, and the ones
        // served are cached, as signed.
        let b = d_beacon(&s, 5);
        assert!(
            super::super::FetchedBeacon::parse(b.as_bytes(), s.devnet.chain(), Round::new(5).ok())
                .is_ok()
        );
        let cached = s.signed.lock().unwrap().get(Round::new(5).unwrap());
        assert_eq!(cached.as_deref(), Some(b.as_str()));
    }

    #[test]
    fn the_signed_cache_is_bounded() {
        let mut c = Signed::default();
        for r in 1..=(DEVNET_SIGNED_CACHE as u64 + 10) {
            c.put(Round::new(r).unwrap(), Arc::from("x"));
        }
        assert_eq!(c.by_round.len(), DEVNET_SIGNED_CACHE);
        assert!(c.get(Round::new(1).unwrap()).is_none());
        assert!(
            c.get(Round::new(DEVNET_SIGNED_CACHE as u64 + 10).unwrap())
                .is_some()
        );
    }

    fn d_beacon(s: &Served, r: u64) -> String {
        s.devnet.beacon_json(Round::new(r).unwrap())
    }
}
