//! Request authentication of the bittensor 10.x axon/dendrite protocol,
//! sans-IO: the headers a dendrite sends, the message it signs, and the
//! nonce rules an axon applies.
//!
//! ```text
//! POST /{SynapseName}
//!   bt_header_dendrite_hotkey     SS58 of the caller
//!   bt_header_dendrite_nonce      time_ns() at the caller, decimal
//!   bt_header_dendrite_uuid       one per dendrite process
//!   bt_header_dendrite_signature  0x + 128 hex: sr25519 over the message below
//!   bt_header_dendrite_version    major·10⁶ + minor·10³ + patch (optional)
//!   computed_body_hash            sha3-256 hex of the hashed fields
//!   timeout                       seconds, decimal (optional)
//!
//! signed message = "{nonce}.{dendrite_hotkey}.{axon_hotkey}.{uuid}.{body_hash}"
//! ```
//!
//! The axon rebuilds the message with its **own** hotkey, so a request
//! signed for another axon fails. MIID's synapse has no hashed fields, so
//! its body hash is the constant [`EMPTY_BODY_HASH`] and the body itself is
//! not authenticated by the protocol (the records inside it carry their own
//! signatures).
//!
//! Where veil is stricter than the reference axon (and a real 10.5 dendrite
//! still passes): a missing signature is always refused; the nonce must be
//! fresh on every request, whatever the version header says, and not too
//! far in the future; the sender's `timeout` widens the freshness window
//! only up to [`NoncePolicy::max_timeout_ms`]. Because every accepted nonce
//! is fresh, an axon may forget a caller's last nonce once it is older than
//! the window without ever accepting a replay ([`NoncePolicy::forgettable`]).

use core::fmt;

use crate::bittensor::sign::{self, PublicKey, SignError, Signature};
use crate::bittensor::ss58;
use crate::limits::{MAX_AXON_UUID_LEN, MAX_SS58_LEN};

/// sha3-256 of the empty string: the body hash of a synapse without
/// required hash fields (MIID's `IdentitySynapse`).
pub const EMPTY_BODY_HASH: &str =
    "a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a";

/// The protocol version veil's dendrite announces (bittensor 10.5.0).
pub const DENDRITE_VERSION: u64 = 10_005_000;

/// Headers, by their wire names (lowercase; HTTP header names are
/// case-insensitive).
pub mod header {
    /// The caller's SS58 hotkey.
    pub const DENDRITE_HOTKEY: &str = "bt_header_dendrite_hotkey";
    /// The caller's nonce (nanoseconds).
    pub const DENDRITE_NONCE: &str = "bt_header_dendrite_nonce";
    /// The caller's process uuid.
    pub const DENDRITE_UUID: &str = "bt_header_dendrite_uuid";
    /// `0x` + 128 hex characters.
    pub const DENDRITE_SIGNATURE: &str = "bt_header_dendrite_signature";
    /// The caller's protocol version as an integer.
    pub const DENDRITE_VERSION: &str = "bt_header_dendrite_version";
    /// The caller's IP (informational).
    pub const DENDRITE_IP: &str = "bt_header_dendrite_ip";
    /// The target's SS58 hotkey (informational: the axon uses its own).
    pub const AXON_HOTKEY: &str = "bt_header_axon_hotkey";
    /// The target's IP (informational).
    pub const AXON_IP: &str = "bt_header_axon_ip";
    /// The target's port (informational).
    pub const AXON_PORT: &str = "bt_header_axon_port";
    /// The axon's answer status, on responses.
    pub const AXON_STATUS_CODE: &str = "bt_header_axon_status_code";
    /// The axon's answer message, on responses.
    pub const AXON_STATUS_MESSAGE: &str = "bt_header_axon_status_message";
    /// Seconds the axon spent, on responses.
    pub const AXON_PROCESS_TIME: &str = "bt_header_axon_process_time";
    /// The body hash the signature covers.
    pub const COMPUTED_BODY_HASH: &str = "computed_body_hash";
    /// The caller's timeout, decimal seconds.
    pub const TIMEOUT: &str = "timeout";
    /// The synapse name.
    pub const NAME: &str = "name";
}

/// Why a request was refused. [`AxonError::status`] is the HTTP status the
/// reference axon answers with (or the closest sensible one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AxonError {
    /// A required header is absent.
    MissingHeader(&'static str),
    /// A header's value is malformed; the text says how.
    BadHeader(&'static str, &'static str),
    /// No signature header, or an empty one.
    MissingSignature,
    /// The signature does not verify for this axon.
    BadSignature,
    /// The nonce is older than the freshness window.
    StaleNonce,
    /// The nonce is not newer than the caller's last accepted one.
    ReplayedNonce,
    /// The nonce is further in the future than clock skew explains.
    FutureNonce,
}

impl AxonError {
    /// The HTTP status: 400 for malformed headers, 401 for authentication.
    pub const fn status(&self) -> u16 {
        match self {
            Self::MissingHeader(_) | Self::BadHeader(..) => 400,
            Self::MissingSignature
            | Self::BadSignature
            | Self::StaleNonce
            | Self::ReplayedNonce
            | Self::FutureNonce => 401,
        }
    }
}

impl fmt::Display for AxonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingHeader(h) => write!(f, "missing header {h}"),
            Self::BadHeader(h, why) => write!(f, "header {h}: {why}"),
            Self::MissingSignature => f.write_str("Missing Signature"),
            Self::BadSignature => f.write_str("Signature mismatch"),
            Self::StaleNonce => f.write_str("Nonce is too old"),
            Self::ReplayedNonce => f.write_str("Nonce is too old, a newer one was last processed"),
            Self::FutureNonce => f.write_str("Nonce is too far in the future"),
        }
    }
}

impl core::error::Error for AxonError {}

pub use crate::limits::MAX_AXON_MESSAGE_LEN as MAX_MESSAGE_LEN;

/// The text a dendrite signs.
pub type Message = heapless::String<MAX_MESSAGE_LEN>;

/// `{nonce}.{dendrite_hotkey}.{axon_hotkey}.{uuid}.{body_hash}`.
///
/// # Errors
///
/// [`AxonError::BadHeader`] when a part is malformed (an address that is not
/// SS58 text, a uuid outside `[0-9A-Za-z-]{1,64}`, a body hash that is not
/// 64 hex characters).
pub fn signing_message(
    nonce: u64,
    dendrite_hotkey: &str,
    axon_hotkey: &str,
    uuid: &str,
    body_hash: &str,
) -> Result<Message, AxonError> {
    check_address(dendrite_hotkey, header::DENDRITE_HOTKEY)?;
    check_address(axon_hotkey, header::AXON_HOTKEY)?;
    check_uuid(uuid)?;
    check_body_hash(body_hash)?;
    let mut m = Message::new();
    fmt::Write::write_fmt(
        &mut m,
        format_args!("{nonce}.{dendrite_hotkey}.{axon_hotkey}.{uuid}.{body_hash}"),
    )
    .map_err(|_| AxonError::BadHeader(header::DENDRITE_HOTKEY, "too long"))?;
    Ok(m)
}

fn check_address(s: &str, h: &'static str) -> Result<(), AxonError> {
    if s.is_empty() || s.len() > MAX_SS58_LEN || !s.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(AxonError::BadHeader(h, "not an SS58 address"));
    }
    Ok(())
}

fn check_uuid(s: &str) -> Result<(), AxonError> {
    if s.is_empty()
        || s.len() > MAX_AXON_UUID_LEN
        || !s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err(AxonError::BadHeader(
            header::DENDRITE_UUID,
            "must be 1 to 64 characters of [0-9A-Za-z-]",
        ));
    }
    Ok(())
}

fn check_body_hash(s: &str) -> Result<(), AxonError> {
    if s.len() != 64 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(AxonError::BadHeader(
            header::COMPUTED_BODY_HASH,
            "must be 64 hex characters",
        ));
    }
    Ok(())
}

/// A u64 in decimal, digits only.
fn parse_decimal(s: &str, h: &'static str) -> Result<u64, AxonError> {
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AxonError::BadHeader(h, "must be a decimal integer"));
    }
    s.parse()
        .map_err(|_| AxonError::BadHeader(h, "out of range"))
}

/// Decimal seconds (`30`, `30.0`, `12.5`) as milliseconds; extra fraction
/// digits are truncated.
///
/// # Errors
///
/// [`AxonError::BadHeader`] for anything else (signs, exponents, `nan`) or
/// a value above a day.
pub fn parse_timeout_ms(s: &str) -> Result<u64, AxonError> {
    const BAD: AxonError = AxonError::BadHeader(header::TIMEOUT, "must be decimal seconds");
    const DAY_MS: u64 = 86_400_000;
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if whole.is_empty() || whole.len() > 9 || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return Err(BAD);
    }
    if frac.len() > 32 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return Err(BAD);
    }
    let secs: u64 = whole.parse().map_err(|_| BAD)?;
    let mut ms: u64 = 0;
    let mut scale = 100;
    for b in frac.bytes().take(3) {
        ms = ms.saturating_add(u64::from(b.saturating_sub(b'0')).saturating_mul(scale));
        scale /= 10;
    }
    let total = secs.saturating_mul(1000).saturating_add(ms);
    if total > DAY_MS {
        return Err(AxonError::BadHeader(header::TIMEOUT, "more than a day"));
    }
    Ok(total)
}

/// The authentication headers of one request, parsed and shape-checked
/// (not yet verified).
#[derive(Clone, Copy, Debug)]
pub struct DendriteHeaders<'a> {
    /// The caller's SS58 text, as sent.
    pub hotkey: &'a str,
    /// The caller's key.
    pub key: PublicKey,
    /// The caller's nonce, nanoseconds.
    pub nonce: u64,
    /// The caller's uuid.
    pub uuid: &'a str,
    /// The signature over [`signing_message`].
    pub signature: Signature,
    /// The announced protocol version, when sent.
    pub version: Option<u64>,
    /// The body hash the signature covers.
    pub body_hash: &'a str,
    /// The caller's timeout in milliseconds, when sent.
    pub timeout_ms: Option<u64>,
}

impl<'a> DendriteHeaders<'a> {
    /// Reads the headers through `get` (a lookup by lowercase name that
    /// returns the value as text, or `None` when absent or not text).
    ///
    /// # Errors
    ///
    /// [`AxonError::MissingSignature`] when there is no signature;
    /// [`AxonError::MissingHeader`] or [`AxonError::BadHeader`] otherwise.
    pub fn parse(get: impl Fn(&str) -> Option<&'a str>) -> Result<Self, AxonError> {
        let need = |h: &'static str| get(h).ok_or(AxonError::MissingHeader(h));
        let hotkey = need(header::DENDRITE_HOTKEY)?;
        check_address(hotkey, header::DENDRITE_HOTKEY)?;
        let (_, key) = ss58::decode(hotkey)
            .map_err(|_| AxonError::BadHeader(header::DENDRITE_HOTKEY, "not an SS58 address"))?;
        let key = PublicKey::from_bytes(&key)
            .map_err(|_| AxonError::BadHeader(header::DENDRITE_HOTKEY, "not an sr25519 key"))?;
        let nonce = parse_decimal(need(header::DENDRITE_NONCE)?, header::DENDRITE_NONCE)?;
        let uuid = need(header::DENDRITE_UUID)?;
        check_uuid(uuid)?;
        let body_hash = need(header::COMPUTED_BODY_HASH)?;
        check_body_hash(body_hash)?;
        let signature = match get(header::DENDRITE_SIGNATURE).map(str::trim) {
            None | Some("" | "0x" | "None") => return Err(AxonError::MissingSignature),
            Some(s) => Signature::from_hex(s).map_err(|_| {
                AxonError::BadHeader(
                    header::DENDRITE_SIGNATURE,
                    "must be 0x + 128 hex characters",
                )
            })?,
        };
        let version = get(header::DENDRITE_VERSION)
            .map(|v| parse_decimal(v, header::DENDRITE_VERSION))
            .transpose()?;
        let timeout_ms = get(header::TIMEOUT).map(parse_timeout_ms).transpose()?;
        Ok(Self {
            hotkey,
            key,
            nonce,
            uuid,
            signature,
            version,
            body_hash,
            timeout_ms,
        })
    }

    /// Checks the signature for the axon whose SS58 address is `axon_hotkey`.
    ///
    /// # Errors
    ///
    /// [`AxonError::BadSignature`].
    pub fn verify(&self, axon_hotkey: &str) -> Result<(), AxonError> {
        let msg = signing_message(
            self.nonce,
            self.hotkey,
            axon_hotkey,
            self.uuid,
            self.body_hash,
        )?;
        self.key
            .verify(msg.as_bytes(), &self.signature)
            .map_err(|_: SignError| AxonError::BadSignature)
    }
}

/// Signs a request: the `0x`-prefixed signature header value.
pub fn sign_request(
    keypair: &sign::Keypair,
    message: &Message,
    rng: &mut (impl rand_core::CryptoRng + rand_core::RngCore),
) -> heapless::String<130> {
    let sig = keypair.sign(message.as_bytes(), rng).to_hex();
    let mut out = heapless::String::new();
    let _ = out.push_str("0x");
    let _ = out.push_str(&sig);
    out
}

/// The axon's nonce rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NoncePolicy {
    /// Always-allowed age, on top of the caller's timeout (reference: 4 s).
    pub grace_ms: u64,
    /// The most of the caller's `timeout` that widens the window (the
    /// reference trusts any value; MIID sends 1200 s).
    pub max_timeout_ms: u64,
    /// How far ahead of this axon's clock a nonce may be (clock skew).
    pub max_future_ms: u64,
}

impl Default for NoncePolicy {
    fn default() -> Self {
        Self {
            grace_ms: 4_000,
            // MIID's validators send 1200 s; a little more is room to grow.
            max_timeout_ms: 1_500_000,
            max_future_ms: 30_000,
        }
    }
}

impl NoncePolicy {
    fn window_ns(&self, timeout_ms: Option<u64>) -> u64 {
        let t = timeout_ms.unwrap_or(0).min(self.max_timeout_ms);
        self.grace_ms.saturating_add(t).saturating_mul(1_000_000)
    }

    /// Checks `nonce` from a caller whose last accepted nonce (for the same
    /// hotkey and uuid) is `last`, at `now_ns`.
    ///
    /// # Errors
    ///
    /// [`AxonError::ReplayedNonce`], [`AxonError::StaleNonce`] or
    /// [`AxonError::FutureNonce`].
    pub fn check(
        &self,
        nonce: u64,
        timeout_ms: Option<u64>,
        now_ns: u64,
        last: Option<u64>,
    ) -> Result<(), AxonError> {
        if last.is_some_and(|l| nonce <= l) {
            return Err(AxonError::ReplayedNonce);
        }
        if nonce <= now_ns.saturating_sub(self.window_ns(timeout_ms)) {
            return Err(AxonError::StaleNonce);
        }
        if nonce > now_ns.saturating_add(self.max_future_ms.saturating_mul(1_000_000)) {
            return Err(AxonError::FutureNonce);
        }
        Ok(())
    }

    /// Whether a stored last nonce can be dropped at `now_ns`: no nonce at or
    /// below it could pass the freshness check any more, whatever timeout a
    /// caller sends.
    pub fn forgettable(&self, last: u64, now_ns: u64) -> bool {
        last <= now_ns.saturating_sub(self.window_ns(Some(self.max_timeout_ms)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;
    use sha3::{Digest, Sha3_256};

    /// Address-shaped text (its checksum is not checked by the message).
    const ALICE: &str = "5GrwvaEF5zXb26Fz9rcQpDWS5KQ8Ue5ESXAXAAsCm9uFSEu6";

    #[test]
    fn empty_body_hash_is_sha3_of_nothing() {
        let d: [u8; 32] = Sha3_256::digest(b"").into();
        assert_eq!(
            crate::encoding::decode_array::<32>(EMPTY_BODY_HASH).unwrap(),
            d
        );
    }

    fn kp(seed: u8) -> sign::Keypair {
        sign::Keypair::from_mini_secret(&[seed; 32]).unwrap()
    }

    fn addr(k: &sign::Keypair) -> ss58::Address {
        ss58::encode(ss58::BITTENSOR_PREFIX, &k.public().to_bytes())
    }

    #[test]
    fn message_layout() {
        let m = signing_message(
            1_795_312_666_771_149_424,
            ALICE,
            ALICE,
            "1d2422c8-e618-11f1-8be6-02fc00000001",
            EMPTY_BODY_HASH,
        )
        .unwrap();
        assert_eq!(
            m.as_str(),
            "1795312666771149424.5GrwvaEF5zXb26Fz9rcQpDWS5KQ8Ue5ESXAXAAsCm9uFSEu6.\
             5GrwvaEF5zXb26Fz9rcQpDWS5KQ8Ue5ESXAXAAsCm9uFSEu6.\
             1d2422c8-e618-11f1-8be6-02fc00000001.\
             a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a"
        );
        assert!(signing_message(1, ALICE, ALICE, "a.b", EMPTY_BODY_HASH).is_err());
        assert!(signing_message(1, ALICE, ALICE, "u", "00").is_err());
        assert!(signing_message(1, "x.y", ALICE, "u", EMPTY_BODY_HASH).is_err());
    }

    fn headers<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<&'a str> + 'a {
        move |name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| *v)
    }

    #[test]
    fn signed_request_verifies_only_for_its_axon() {
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        let caller = kp(1);
        let axon = kp(2);
        let (ca, aa) = (addr(&caller), addr(&axon));
        let nonce = "1795312666771149424";
        let msg =
            signing_message(1_795_312_666_771_149_424, &ca, &aa, "u-1", EMPTY_BODY_HASH).unwrap();
        let sig = sign_request(&caller, &msg, &mut rng);
        let pairs = [
            (header::DENDRITE_HOTKEY, ca.as_str()),
            (header::DENDRITE_NONCE, nonce),
            (header::DENDRITE_UUID, "u-1"),
            (header::DENDRITE_SIGNATURE, sig.as_str()),
            (header::DENDRITE_VERSION, "10005000"),
            (header::COMPUTED_BODY_HASH, EMPTY_BODY_HASH),
            (header::TIMEOUT, "12.5"),
        ];
        let h = DendriteHeaders::parse(headers(&pairs)).unwrap();
        assert_eq!(h.timeout_ms, Some(12_500));
        assert_eq!(h.version, Some(10_005_000));
        h.verify(&aa).unwrap();
        // Signed for another axon.
        assert_eq!(h.verify(&ca), Err(AxonError::BadSignature));
        // Any header the signature covers, changed.
        for (name, value) in [
            (header::DENDRITE_NONCE, "1795312666771149425"),
            (header::DENDRITE_UUID, "u-2"),
            (
                header::COMPUTED_BODY_HASH,
                "b7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a",
            ),
        ] {
            let mut p = pairs;
            for kv in &mut p {
                if kv.0 == name {
                    kv.1 = value;
                }
            }
            let h = DendriteHeaders::parse(headers(&p)).unwrap();
            assert_eq!(h.verify(&aa), Err(AxonError::BadSignature), "{name}");
        }
    }

    #[test]
    fn missing_or_malformed_headers() {
        let sig = alloc::format!("0x{}", "00".repeat(64));
        let who = addr(&kp(3));
        let full = [
            (header::DENDRITE_HOTKEY, who.as_str()),
            (header::DENDRITE_NONCE, "5"),
            (header::DENDRITE_UUID, "u"),
            (header::DENDRITE_SIGNATURE, sig.as_str()),
            (header::COMPUTED_BODY_HASH, EMPTY_BODY_HASH),
        ];
        DendriteHeaders::parse(headers(&full)).unwrap();
        for drop in 0..full.len() {
            let p: heapless::Vec<_, 8> = full
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != drop)
                .map(|(_, kv)| *kv)
                .collect();
            let e = DendriteHeaders::parse(headers(&p)).unwrap_err();
            if full[drop].0 == header::DENDRITE_SIGNATURE {
                assert_eq!(e, AxonError::MissingSignature);
                assert_eq!(e.status(), 401);
            } else {
                assert_eq!(e, AxonError::MissingHeader(full[drop].0));
                assert_eq!(e.status(), 400);
            }
        }
        for empty in ["", "0x", "None"] {
            let mut p = full;
            p[3].1 = empty;
            assert_eq!(
                DendriteHeaders::parse(headers(&p)).unwrap_err(),
                AxonError::MissingSignature
            );
        }
        for (i, bad) in [
            (0, "not-an-address"),
            (1, "-5"),
            (1, "18446744073709551616"),
            (2, "u.v"),
            (3, "0x1234"),
            (4, "zz"),
        ] {
            let mut p = full;
            p[i].1 = bad;
            assert!(
                matches!(
                    DendriteHeaders::parse(headers(&p)),
                    Err(AxonError::BadHeader(..))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn timeouts() {
        assert_eq!(parse_timeout_ms("30"), Ok(30_000));
        assert_eq!(parse_timeout_ms("30.0"), Ok(30_000));
        assert_eq!(parse_timeout_ms("0.0019"), Ok(1));
        assert_eq!(parse_timeout_ms("1200.25"), Ok(1_200_250));
        for bad in ["", ".5", "-1", "1e3", "nan", "inf", "1.2.3", "86401", " 1"] {
            assert!(parse_timeout_ms(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn nonce_rules() {
        let p = NoncePolicy::default();
        let now = 1_800_000_000_000_000_000u64;
        let s = 1_000_000_000u64;
        assert_eq!(p.check(now, None, now, None), Ok(()));
        // 3 s old without a timeout: fresh; 5 s old: stale; with a 30 s
        // timeout, 33 s old is fresh and 35 s old is stale.
        assert_eq!(p.check(now - 3 * s, None, now, None), Ok(()));
        assert_eq!(
            p.check(now - 5 * s, None, now, None),
            Err(AxonError::StaleNonce)
        );
        assert_eq!(p.check(now - 33 * s, Some(30_000), now, None), Ok(()));
        assert_eq!(
            p.check(now - 35 * s, Some(30_000), now, None),
            Err(AxonError::StaleNonce)
        );
        // A huge timeout is capped.
        assert_eq!(
            p.check(now - 7200 * s, Some(86_400_000), now, None),
            Err(AxonError::StaleNonce)
        );
        // Monotonic per caller.
        assert_eq!(
            p.check(now, None, now, Some(now)),
            Err(AxonError::ReplayedNonce)
        );
        assert_eq!(p.check(now + 1, None, now, Some(now)), Ok(()));
        // Not from the future.
        assert_eq!(p.check(now + 29 * s, None, now, None), Ok(()));
        assert_eq!(
            p.check(now + 3600 * s, None, now, None),
            Err(AxonError::FutureNonce)
        );
        // Extremes never overflow.
        assert!(p.check(u64::MAX, Some(u64::MAX), 0, None).is_err());
        assert!(p.check(0, Some(u64::MAX), u64::MAX, Some(0)).is_err());
        assert_eq!(p.check(1, None, 0, None), Ok(()));
        // Forgetting a last nonce never lets a replay through: whatever was
        // forgettable is also stale for every timeout.
        for last in [now - 1_505 * s, now - 1_504 * s] {
            assert!(p.forgettable(last, now));
            assert!(p.check(last, Some(u64::MAX), now, None).is_err());
        }
        assert!(!p.forgettable(now - 1_503 * s, now));
    }
}
