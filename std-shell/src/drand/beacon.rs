//! A verified beacon as the shell holds it, and drand's beacon JSON both
//! ways: [`FetchedBeacon::parse`] reads what a relay (or the cache) serves,
//! [`FetchedBeacon::to_json`] writes what the devnet and the cache serve.

use serde::Deserialize;
use veil_core::encoding::{self, Hex};
use veil_core::ibe::RoundKey;
use veil_core::limits::G2_COMPRESSED_LEN;
use veil_core::{Beacon, Chain, Round, VerifiedBeacon};

use crate::limits::MAX_DRAND_RESPONSE;

/// A beacon verified against a chain. It can only be made by verifying one
/// ([`FetchedBeacon::parse`], [`FetchedBeacon::verify`]), so holding one
/// means its signature is the round's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchedBeacon {
    /// Its round.
    pub round: Round,
    /// The signature (48 or 96 bytes).
    pub signature: Vec<u8>,
    /// The previous signature (chained chains only).
    pub previous_signature: Option<Vec<u8>>,
    /// `sha256(signature)`.
    pub randomness: [u8; 32],
    verified: VerifiedBeacon,
}

#[derive(Deserialize)]
struct BeaconJson {
    round: u64,
    signature: String,
    #[serde(default)]
    previous_signature: Option<String>,
    #[serde(default)]
    randomness: Option<String>,
}

fn hex_field(name: &str, s: &str) -> Result<Vec<u8>, String> {
    encoding::decode_vec(s, G2_COMPRESSED_LEN).map_err(|e| format!("{name}: {e}"))
}

impl FetchedBeacon {
    /// Verifies `signature` (and `previous`, on chained chains) as `chain`'s
    /// beacon of `round`.
    ///
    /// # Errors
    ///
    /// The core's beacon error: wrong length, chaining, or a signature
    /// that is not the round's.
    pub fn verify(
        chain: &Chain,
        round: Round,
        signature: &[u8],
        previous: Option<&[u8]>,
    ) -> Result<Self, veil_core::BeaconError> {
        let verified = chain.verify_beacon(&Beacon {
            round,
            signature,
            previous_signature: previous,
        })?;
        Ok(Self {
            round,
            signature: signature.to_vec(),
            previous_signature: chain
                .scheme()
                .is_chained()
                .then(|| previous.map(<[u8]>::to_vec))
                .flatten(),
            randomness: *verified.randomness(),
            verified,
        })
    }

    /// Parses and verifies drand's beacon JSON (`{round, signature[,
    /// previous_signature][, randomness]}`) against `chain`; `want` is the
    /// round asked for, if any.
    ///
    /// # Errors
    ///
    /// A one-line reason: too large, not JSON, another round, bad hex, a
    /// randomness that is not `sha256(signature)`, or a signature that does
    /// not verify.
    pub fn parse(bytes: &[u8], chain: &Chain, want: Option<Round>) -> Result<Self, String> {
        if bytes.len() > MAX_DRAND_RESPONSE {
            return Err("response too large".into());
        }
        let j: BeaconJson =
            serde_json::from_slice(bytes).map_err(|e| format!("not a beacon: {e}"))?;
        let round = Round::new(j.round).map_err(|e| e.to_string())?;
        if let Some(w) = want
            && w != round
        {
            return Err(format!("asked for round {w}, got round {round}"));
        }
        let signature = hex_field("signature", &j.signature)?;
        let previous = j
            .previous_signature
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(|s| hex_field("previous_signature", s))
            .transpose()?;
        let beacon = Self::verify(chain, round, &signature, previous.as_deref())
            .map_err(|e| format!("round {round}: {e}"))?;
        if let Some(r) = &j.randomness
            && hex_field("randomness", r)? != beacon.randomness
        {
            return Err(format!(
                "round {round}: randomness is not sha256(signature)"
            ));
        }
        Ok(beacon)
    }

    /// drand's JSON: `{round, signature, randomness[, previous_signature]}`.
    pub fn to_json(&self) -> String {
        let mut v = serde_json::json!({
            "round": self.round.get(),
            "signature": Hex(&self.signature).to_string(),
            "randomness": Hex(&self.randomness).to_string(),
        });
        if let Some(p) = &self.previous_signature {
            v["previous_signature"] = Hex(p).to_string().into();
        }
        v.to_string()
    }

    /// The timelock key of the round (the verified signature).
    pub fn round_key(&self) -> RoundKey {
        RoundKey::from_verified(&self.verified)
    }
}
