//! The GRAIL read commitment on chain: `Commitments.set_commitment(netuid,
//! {fields: [Raw128(commitment)]})`, signed by the hotkey it names, read back
//! from `Commitments.CommitmentOf(netuid, hotkey)`.
//!
//! Posting is idempotent: when the chain already holds the same commitment
//! nothing is sent. The pallet limits how often a hotkey may post: spec 218
//! allows one commitment per `RateLimit` blocks (a constant, 100) after
//! `LastCommitment(netuid, hotkey)`; today's runtime gives each hotkey a byte
//! budget per epoch. A refusal for the limit comes back as
//! [`Posted::RateLimited`] with the block to retry at when the runtime says
//! it, so a caller can wait rather than fail.

use subxt::dynamic::{self, Value};
use subxt::utils::AccountId32;
use veil_core::commitment::ReadCommitment;
use veil_core::sign::Keypair;
use veil_core::subtensor::Registration;

use super::client::{Subtensor, try_read};
use crate::Error;

/// What [`Subtensor::publish_commitment`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Posted {
    /// The chain already held it: nothing was sent.
    Unchanged,
    /// Posted, and read back from the chain.
    Written,
    /// The pallet's rate limit refused it; retry at this block (when known).
    RateLimited(Option<u64>),
}

const PALLET: &str = "Commitments";

impl Subtensor {
    /// The read commitment `hotkey` holds on `netuid`, if any (its 128
    /// characters).
    ///
    /// # Errors
    ///
    /// When the node fails or the stored value is malformed.
    pub async fn commitment_of(
        &self,
        netuid: u16,
        hotkey: &[u8; 32],
    ) -> Result<Option<String>, Error> {
        let at = self.at().await?;
        self.within("CommitmentOf", async {
            let value = at
                .storage()
                .try_fetch(
                    dynamic::storage::<(u16, AccountId32), Value>(PALLET, "CommitmentOf"),
                    (netuid, AccountId32(*hotkey)),
                )
                .await
                .map_err(|e| self.fail(format!("CommitmentOf: {e}")))?;
            let Some(value) = value else {
                return Ok(None);
            };
            let registration = Registration::decode(value.bytes())
                .map_err(|e| self.fail(format!("CommitmentOf: {e}")))?;
            registration
                .read_commitment()
                .ok()
                .map(|c| c.encode().map(|s| s.as_str().to_owned()))
                .transpose()
                .map_err(|e| self.fail(format!("CommitmentOf: {e}")))
        })
        .await
    }

    /// Posts `commitment` for `key`'s hotkey on `netuid` unless the chain
    /// already holds it, then reads it back.
    ///
    /// # Errors
    ///
    /// [`Error::Content`]: the hotkey is not registered on the subnet, the
    /// node refused or failed, or the value read back differs.
    pub async fn publish_commitment(
        &self,
        netuid: u16,
        key: &Keypair,
        commitment: &ReadCommitment<'_>,
    ) -> Result<Posted, Error> {
        let hotkey = key.public().to_bytes();
        let text = commitment
            .encode()
            .map_err(|e| self.fail(format!("commitment: {e}")))?;
        let text = text.as_str();
        if self.commitment_of(netuid, &hotkey).await?.as_deref() == Some(text) {
            return Ok(Posted::Unchanged);
        }
        let raw: [u8; 128] = text
            .as_bytes()
            .try_into()
            .map_err(|_| self.fail("a read commitment is 128 characters"))?;
        let call = dynamic::tx(
            PALLET,
            "set_commitment",
            vec![
                Value::u128(u128::from(netuid)),
                Value::named_composite([(
                    "fields",
                    Value::unnamed_composite([Value::unnamed_variant(
                        "Raw128",
                        [Value::from_bytes(raw)],
                    )]),
                )]),
            ],
        );
        match self.submit("set_commitment", &call, key).await {
            Ok(_) => {}
            Err(e)
                if e.to_string().contains("RateLimitExceeded")
                    || e.to_string().contains("SpaceLimitExceeded") =>
            {
                return Ok(Posted::RateLimited(
                    self.commitment_retry_block(netuid, &hotkey)
                        .await
                        .ok()
                        .flatten(),
                ));
            }
            Err(e) => return Err(e),
        }
        match self.commitment_of(netuid, &hotkey).await? {
            Some(back) if back == text => Ok(Posted::Written),
            _ => Err(self.fail(format!(
                "set_commitment was included but CommitmentOf(netuid {netuid}) does not hold it"
            ))),
        }
    }

    /// The block at which `hotkey` may post again under spec 218's limit
    /// (`LastCommitment + RateLimit`), when the runtime has it.
    async fn commitment_retry_block(
        &self,
        netuid: u16,
        hotkey: &[u8; 32],
    ) -> Result<Option<u64>, Error> {
        let at = self.at().await?;
        let limit: Option<u32> = at
            .constants()
            .entry(dynamic::constant::<u32>(PALLET, "RateLimit"))
            .ok();
        let Some(limit) = limit else { return Ok(None) };
        let last: Option<u32> = try_read(
            self,
            &at,
            (PALLET, "LastCommitment"),
            (netuid, AccountId32(*hotkey)),
        )
        .await?;
        Ok(last.map(|block| u64::from(block) + u64::from(limit)))
    }
}
