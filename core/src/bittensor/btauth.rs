//! bittensor 11's request signing, `btauth/1` (`bittensor.http_auth`),
//! sans-IO: the headers, the signed payload, and the checks a receiver
//! applies. Facts from bittensor 11.3.0's `http_auth.py`.
//!
//! ```text
//! X-Bittensor-Version    1
//! X-Bittensor-Hotkey     SS58 of the sender
//! X-Bittensor-Receiver   SS58 of the receiver (veil requires it)
//! X-Bittensor-Nonce      unix time of the sender, nanoseconds, decimal
//! X-Bittensor-Crypto     only for a scheme other than sr25519 (veil takes sr25519 only)
//! X-Bittensor-Signature  0x + 128 hex: sr25519 ("substrate" context) over the payload
//!
//! payload = "btauth/1\nsr25519\n{METHOD}\n{path?query}\n{sha256(body) hex}\n{nonce}\n{sender}\n{receiver}"
//! ```
//!
//! Unlike the 10.x axon protocol the body is authenticated (its SHA-256 is
//! signed), and binding the receiver keeps one signed request from being
//! replayed to every other miner. A receiver refuses a nonce more than
//! [`MAX_AGE_NS`] old or more than [`ALLOWED_SKEW_NS`] in the future, and
//! one it has seen from the same sender (that store is the shell's).

use core::fmt;

use rand_core::{CryptoRng, RngCore};

use super::sign::{Keypair, PublicKey, Signature};
use super::ss58;
use crate::encoding::{self, Hex};
use crate::limits::{MAX_BTAUTH_PATH_LEN, MAX_BTAUTH_PAYLOAD_LEN};

/// The protocol tag that opens every payload.
pub const PROTOCOL: &str = "btauth/1";

/// The version header's only value.
pub const VERSION: &str = "1";

/// The one scheme veil speaks.
pub const SCHEME: &str = "sr25519";

/// The oldest nonce accepted: 10 s before now.
pub const MAX_AGE_NS: u64 = 10_000_000_000;

/// The furthest a nonce may be ahead of the receiver's clock: 2 s.
pub const ALLOWED_SKEW_NS: u64 = 2_000_000_000;

/// Header names (HTTP header names are case-insensitive).
pub mod header {
    /// `1`.
    pub const VERSION: &str = "x-bittensor-version";
    /// The sender's SS58 hotkey.
    pub const HOTKEY: &str = "x-bittensor-hotkey";
    /// The receiver's SS58 hotkey.
    pub const RECEIVER: &str = "x-bittensor-receiver";
    /// The sender's nonce, nanoseconds.
    pub const NONCE: &str = "x-bittensor-nonce";
    /// The signature scheme, when not sr25519.
    pub const CRYPTO: &str = "x-bittensor-crypto";
    /// `0x` + 128 hex characters.
    pub const SIGNATURE: &str = "x-bittensor-signature";

    /// Every header of the family (a request carrying any of them is a
    /// btauth request).
    pub const ALL: [&str; 6] = [VERSION, HOTKEY, RECEIVER, NONCE, CRYPTO, SIGNATURE];
}

/// Why a btauth request was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BtAuthError {
    /// A header is missing or malformed; the texts say which and how.
    Malformed(&'static str, &'static str),
    /// A scheme other than sr25519.
    UnsupportedScheme,
    /// No `X-Bittensor-Receiver`, or another receiver than this one.
    WrongReceiver,
    /// The nonce is older than [`MAX_AGE_NS`].
    Stale,
    /// The nonce is more than [`ALLOWED_SKEW_NS`] in the future.
    FromTheFuture,
    /// The signature does not verify under the sender's hotkey.
    BadSignature,
    /// The method or path is longer than veil signs.
    TooLong,
}

impl BtAuthError {
    /// The HTTP status: 400 for a malformed request, 401 for the rest (as
    /// MIID's bittensor-11 server answers).
    pub const fn status(&self) -> u16 {
        match self {
            Self::Malformed(..) | Self::TooLong => 400,
            Self::UnsupportedScheme
            | Self::WrongReceiver
            | Self::Stale
            | Self::FromTheFuture
            | Self::BadSignature => 401,
        }
    }
}

impl fmt::Display for BtAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(h, why) => write!(f, "{h}: {why}"),
            Self::UnsupportedScheme => f.write_str("only sr25519 is accepted"),
            Self::WrongReceiver => {
                f.write_str("the request is not signed for this receiver (X-Bittensor-Receiver)")
            }
            Self::Stale => f.write_str("nonce is older than the 10s freshness window"),
            Self::FromTheFuture => f.write_str("nonce is more than 2s in the future"),
            Self::BadSignature => {
                f.write_str("signature does not verify against the claimed hotkey")
            }
            Self::TooLong => f.write_str("method or path too long"),
        }
    }
}

impl core::error::Error for BtAuthError {}

/// A signed payload's text.
pub type Payload = heapless::String<MAX_BTAUTH_PAYLOAD_LEN>;

/// The payload signed for one request. `method` is uppercased; `path`
/// includes the query exactly as sent.
///
/// # Errors
///
/// [`BtAuthError::TooLong`] for a method or path beyond the bounds.
pub fn payload(
    method: &str,
    path: &str,
    body_sha256: &[u8; 32],
    nonce_ns: u64,
    sender: &str,
    receiver: &str,
) -> Result<Payload, BtAuthError> {
    if method.len() > 16 || path.len() > MAX_BTAUTH_PATH_LEN {
        return Err(BtAuthError::TooLong);
    }
    let mut p = Payload::new();
    let upper = MethodUpper(method);
    fmt::Write::write_fmt(
        &mut p,
        format_args!(
            "{PROTOCOL}\n{SCHEME}\n{upper}\n{path}\n{}\n{nonce_ns}\n{sender}\n{receiver}",
            Hex(body_sha256)
        ),
    )
    .map_err(|_| BtAuthError::TooLong)?;
    Ok(p)
}

/// A method, uppercased as it is written.
struct MethodUpper<'a>(&'a str);

impl fmt::Display for MethodUpper<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            fmt::Write::write_char(f, c.to_ascii_uppercase())?;
        }
        Ok(())
    }
}

/// The headers of a btauth request, parsed (nothing verified yet).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BtAuthHeaders<'a> {
    /// The sender's SS58 hotkey, as sent.
    pub hotkey: &'a str,
    /// Its key.
    pub key: PublicKey,
    /// The receiver named, if any.
    pub receiver: Option<&'a str>,
    /// The nonce, nanoseconds.
    pub nonce_ns: u64,
    /// The signature.
    pub signature: Signature,
}

impl<'a> BtAuthHeaders<'a> {
    /// Reads the headers through `get` (a lookup by lowercase name).
    ///
    /// # Errors
    ///
    /// [`BtAuthError::Malformed`] naming the header, or
    /// [`BtAuthError::UnsupportedScheme`].
    pub fn parse(get: impl Fn(&str) -> Option<&'a str>) -> Result<Self, BtAuthError> {
        let required = |name: &'static str| {
            get(name)
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .ok_or(BtAuthError::Malformed(name, "missing"))
        };
        if required(header::VERSION)? != VERSION {
            return Err(BtAuthError::Malformed(
                header::VERSION,
                "missing or unsupported (expected 1)",
            ));
        }
        if let Some(scheme) = get(header::CRYPTO).map(str::trim)
            && !(scheme.eq_ignore_ascii_case(SCHEME) || scheme == "1")
        {
            return Err(BtAuthError::UnsupportedScheme);
        }
        let hotkey = required(header::HOTKEY)?;
        let (_, key) = ss58::decode(hotkey)
            .map_err(|_| BtAuthError::Malformed(header::HOTKEY, "not an SS58 address"))?;
        let key = PublicKey::from_bytes(&key)
            .map_err(|_| BtAuthError::Malformed(header::HOTKEY, "not an sr25519 key"))?;
        let nonce = required(header::NONCE)?;
        if nonce.len() > 20 || !nonce.bytes().all(|b| b.is_ascii_digit()) {
            return Err(BtAuthError::Malformed(
                header::NONCE,
                "not a decimal number of nanoseconds",
            ));
        }
        let nonce_ns = nonce.parse::<u64>().map_err(|_| {
            BtAuthError::Malformed(header::NONCE, "not a decimal number of nanoseconds")
        })?;
        let sig = required(header::SIGNATURE)?;
        let signature = encoding::decode_array::<64>(sig)
            .map(Signature::from_bytes)
            .map_err(|_| BtAuthError::Malformed(header::SIGNATURE, "not 64 bytes of hex"))?;
        Ok(Self {
            hotkey,
            key,
            receiver: get(header::RECEIVER).map(str::trim),
            nonce_ns,
            signature,
        })
    }

    /// Checks the request for the receiver `self_hotkey` at `now_ns`: the
    /// receiver is named and is us, the nonce is fresh, and the signature
    /// covers this method, path and body. (Replays are the caller's store
    /// to refuse, after this succeeds.)
    ///
    /// # Errors
    ///
    /// [`BtAuthError::WrongReceiver`], [`BtAuthError::Stale`],
    /// [`BtAuthError::FromTheFuture`], [`BtAuthError::BadSignature`] or
    /// [`BtAuthError::TooLong`].
    pub fn verify(
        &self,
        method: &str,
        path: &str,
        body_sha256: &[u8; 32],
        self_hotkey: &str,
        now_ns: u64,
    ) -> Result<(), BtAuthError> {
        if self.receiver != Some(self_hotkey) {
            return Err(BtAuthError::WrongReceiver);
        }
        if now_ns.saturating_sub(self.nonce_ns) > MAX_AGE_NS {
            return Err(BtAuthError::Stale);
        }
        if self.nonce_ns.saturating_sub(now_ns) > ALLOWED_SKEW_NS {
            return Err(BtAuthError::FromTheFuture);
        }
        let p = payload(
            method,
            path,
            body_sha256,
            self.nonce_ns,
            self.hotkey,
            self_hotkey,
        )?;
        self.key
            .verify(p.as_bytes(), &self.signature)
            .map_err(|_| BtAuthError::BadSignature)
    }
}

/// The headers of a request signed by `keypair` for `receiver`, as
/// `(name, value)` pairs (values as bittensor writes them: `0x` + lowercase
/// hex for the signature).
///
/// # Errors
///
/// [`BtAuthError::TooLong`] for a method or path beyond the bounds.
pub fn sign(
    keypair: &Keypair,
    method: &str,
    path: &str,
    body_sha256: &[u8; 32],
    nonce_ns: u64,
    receiver: &str,
    rng: &mut (impl CryptoRng + RngCore),
) -> Result<SignedHeaders, BtAuthError> {
    let sender = ss58::encode(ss58::BITTENSOR_PREFIX, &keypair.public().to_bytes());
    let p = payload(method, path, body_sha256, nonce_ns, &sender, receiver)?;
    let signature = keypair.sign(p.as_bytes(), rng);
    Ok(SignedHeaders {
        sender,
        nonce_ns,
        receiver: heapless::String::try_from(receiver).map_err(|_| BtAuthError::TooLong)?,
        signature,
    })
}

/// What [`sign`] produced, to put on the request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedHeaders {
    sender: ss58::Address,
    nonce_ns: u64,
    receiver: heapless::String<{ crate::limits::MAX_SS58_LEN }>,
    signature: Signature,
}

impl SignedHeaders {
    /// The header values, each with its name.
    pub fn pairs(&self) -> [(&'static str, HeaderValue); 5] {
        let mut sig = HeaderValue::new();
        let _ = sig.push_str("0x");
        let _ = sig.push_str(&self.signature.to_hex());
        let mut nonce = HeaderValue::new();
        let _ = fmt::Write::write_fmt(&mut nonce, format_args!("{}", self.nonce_ns));
        let text = |s: &str| HeaderValue::try_from(s).unwrap_or_default();
        [
            (header::VERSION, text(VERSION)),
            (header::HOTKEY, text(&self.sender)),
            (header::RECEIVER, text(&self.receiver)),
            (header::NONCE, nonce),
            (header::SIGNATURE, sig),
        ]
    }
}

/// One header value of a signed request (the signature, 130 characters,
/// is the longest).
pub type HeaderValue = heapless::String<160>;

#[cfg(test)]
mod tests {
    use super::*;

    // Sender seed [1; 32], receiver seed [2; 32], nonce 1700000000000000000,
    // POST /IdentitySynapse, body {"a":1}: bittensor 11.3.0's
    // http_auth.sign produced this (a deterministic signature).
    const SENDER: &str = "5CcyqxXnJucaCnQQvvUg5EPzj1uoNAxACZvzArHw5aVDvgNH";
    const RECEIVER: &str = "5CfCr47V5Dte6bwxNBE8K9oNnQd9fiay6aDEEkgYtFv7w4Fq";
    const NONCE: u64 = 1_700_000_000_000_000_000;
    const BODY_SHA256: [u8; 32] =
        hex_literal::hex!("015abd7f5cc57a2dd94b7590f04ad8084273905ee33ec5cebeae62276a97f862");
    const SIGNATURE: &str = "0xe647a256aeae267b2b93b9491f060aedcc13ac260437f103fe263a8e88240a7a87c36f49bc1bdcc90689ab5685943b0b4ba26274fed17d6388f7cb3e8a3cc585";

    fn headers(name: &str) -> Option<&'static str> {
        match name {
            header::VERSION => Some("1"),
            header::HOTKEY => Some(SENDER),
            header::RECEIVER => Some(RECEIVER),
            header::NONCE => Some("1700000000000000000"),
            header::SIGNATURE => Some(SIGNATURE),
            _ => None,
        }
    }

    #[test]
    fn the_payload_is_bittensors() {
        let p = payload(
            "post",
            "/IdentitySynapse",
            &BODY_SHA256,
            NONCE,
            SENDER,
            RECEIVER,
        )
        .unwrap();
        assert_eq!(
            p.as_str(),
            "btauth/1\nsr25519\nPOST\n/IdentitySynapse\n015abd7f5cc57a2dd94b7590f04ad8084273905ee33ec5cebeae62276a97f862\n1700000000000000000\n5CcyqxXnJucaCnQQvvUg5EPzj1uoNAxACZvzArHw5aVDvgNH\n5CfCr47V5Dte6bwxNBE8K9oNnQd9fiay6aDEEkgYtFv7w4Fq"
        );
    }

    #[test]
    fn a_bittensor_signature_verifies_for_its_receiver_only() {
        let h = BtAuthHeaders::parse(headers).unwrap();
        let now = NONCE + 1_000_000_000;
        h.verify("POST", "/IdentitySynapse", &BODY_SHA256, RECEIVER, now)
            .unwrap();
        assert_eq!(
            h.verify("POST", "/IdentitySynapse", &BODY_SHA256, SENDER, now),
            Err(BtAuthError::WrongReceiver)
        );
        let mut tampered = BODY_SHA256;
        tampered[0] ^= 1;
        assert_eq!(
            h.verify("POST", "/IdentitySynapse", &tampered, RECEIVER, now),
            Err(BtAuthError::BadSignature)
        );
        assert_eq!(
            h.verify("POST", "/IdentitySynapse?x=1", &BODY_SHA256, RECEIVER, now),
            Err(BtAuthError::BadSignature)
        );
        // Freshness: exactly 10 s old passes, a nanosecond more does not.
        h.verify(
            "POST",
            "/IdentitySynapse",
            &BODY_SHA256,
            RECEIVER,
            NONCE + MAX_AGE_NS,
        )
        .unwrap();
        assert_eq!(
            h.verify(
                "POST",
                "/IdentitySynapse",
                &BODY_SHA256,
                RECEIVER,
                NONCE + MAX_AGE_NS + 1
            ),
            Err(BtAuthError::Stale)
        );
        assert_eq!(
            h.verify(
                "POST",
                "/IdentitySynapse",
                &BODY_SHA256,
                RECEIVER,
                NONCE - ALLOWED_SKEW_NS - 1
            ),
            Err(BtAuthError::FromTheFuture)
        );
    }

    #[test]
    fn malformed_and_foreign_headers_are_refused() {
        let with = |name: &'static str, value: Option<&'static str>| {
            BtAuthHeaders::parse(move |n| if n == name { value } else { headers(n) })
        };
        assert!(matches!(
            with(header::VERSION, Some("2")),
            Err(BtAuthError::Malformed(header::VERSION, _))
        ));
        assert_eq!(
            with(header::CRYPTO, Some("ed25519")),
            Err(BtAuthError::UnsupportedScheme)
        );
        assert!(with(header::CRYPTO, Some("SR25519")).is_ok());
        for bad in ["+17", " ", "1.5", "99999999999999999999"] {
            assert!(with(header::NONCE, Some(bad)).is_err(), "{bad:?}");
        }
        assert!(with(header::SIGNATURE, Some("0x00")).is_err());
        assert!(with(header::HOTKEY, Some("nope")).is_err());
        let no_receiver = with(header::RECEIVER, None).unwrap();
        assert_eq!(
            no_receiver.verify("POST", "/IdentitySynapse", &BODY_SHA256, RECEIVER, NONCE),
            Err(BtAuthError::WrongReceiver)
        );
    }

    #[test]
    fn veil_signs_what_it_verifies() {
        use rand_chacha::ChaCha20Rng;
        use rand_core::SeedableRng;
        let kp = Keypair::from_mini_secret(&[1; 32]).unwrap();
        let signed = sign(
            &kp,
            "POST",
            "/IdentitySynapse",
            &BODY_SHA256,
            NONCE,
            RECEIVER,
            &mut ChaCha20Rng::seed_from_u64(5),
        )
        .unwrap();
        let pairs = signed.pairs();
        let h =
            BtAuthHeaders::parse(|n| pairs.iter().find(|(k, _)| *k == n).map(|(_, v)| v.as_str()))
                .unwrap();
        assert_eq!(h.hotkey, SENDER);
        h.verify("POST", "/IdentitySynapse", &BODY_SHA256, RECEIVER, NONCE)
            .unwrap();
    }
}
