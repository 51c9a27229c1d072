//! The checks before our read commitment may be published, and its
//! encoding.

use subtle::ConstantTimeEq as _;
use veil_core::commitment::ReadCommitment;

use super::Commitment;
use crate::Error;
use crate::store::ObjectStore as _;
use crate::store::s3::{S3Config, S3Options, S3Store};
use crate::store::{ErrorKind, RetryPolicy, put_bytes};

/// Checks that our configuration may publish a read commitment, and builds
/// it: a read pair distinct from the write pair (not GRAIL's single-pair
/// fallback), the bucket named after the account id (GRAIL reads the bucket
/// from the account-id field), and, when `probe` is set, a read pair that
/// can list the bucket but cannot write to it (a commitment is public: a
/// read pair with write rights would let anyone overwrite our objects).
///
/// # Errors
///
/// A one-line [`Error`] naming the rule broken; never a credential.
pub async fn check_publishable(config: &S3Config, probe: bool) -> Result<Commitment, Error> {
    if config.is_single_pair() {
        return Err(Error::Content(
            "refusing to publish: only a write key pair is configured (GRAIL's single-pair fallback); set R2_READ_ACCESS_KEY_ID and R2_READ_SECRET_ACCESS_KEY to a read-only pair".to_owned(),
        ));
    }
    if let Some(w) = &config.write {
        let same: bool = w
            .access_key_id()
            .as_bytes()
            .ct_eq(config.read.access_key_id().as_bytes())
            .into();
        if same {
            return Err(Error::Content(
                "refusing to publish: the read key pair is the write key pair".to_owned(),
            ));
        }
    }
    let account = config.account_id.as_deref().ok_or_else(|| {
        Error::Content(
            "refusing to publish: R2_ACCOUNT_ID is not set (a commitment names the account)"
                .to_owned(),
        )
    })?;
    if config.bucket != account {
        return Err(Error::Content(format!(
            "refusing to publish: the bucket {:?} differs from the account id {account:?}; GRAIL requires the bucket to be named after the account id",
            config.bucket
        )));
    }
    let commitment = Commitment::from_read(&ReadCommitment {
        bucket: account,
        read_access_key_id: config.read.access_key_id(),
        read_secret_access_key: config.read.secret_access_key(),
    })?;
    if probe {
        probe_read_only(config).await?;
    }
    Ok(commitment)
}

/// Lists with the read pair (must work), then tries to write a probe object
/// with it (must be denied; if it is not, the probe is deleted and
/// publishing refused).
async fn probe_read_only(config: &S3Config) -> Result<(), Error> {
    use rand_core::RngCore as _;
    let options = S3Options {
        retry: RetryPolicy {
            attempts: 2,
            ..RetryPolicy::default()
        },
        ..S3Options::default()
    };
    let mut as_writer = config.clone();
    as_writer.write = Some(config.read.clone());
    let store = S3Store::new(&as_writer, options)?;
    store.list("veil-probe/").await.map_err(|e| {
        Error::Content(format!(
            "refusing to publish: the read key pair cannot list the bucket: {e}"
        ))
    })?;
    let mut nonce = [0u8; 8];
    rand_core::OsRng.fill_bytes(&mut nonce);
    let key = format!("veil-probe/{}", hex::encode(nonce));
    match put_bytes(&store, &key, b"veil: read-only probe").await {
        Ok(()) => {
            let _ = store.delete(&key).await;
            Err(Error::Content(
                "refusing to publish: the read key pair can write to the bucket; publishing it would let anyone overwrite our objects".to_owned(),
            ))
        }
        Err(e) if e.kind() == ErrorKind::Denied => Ok(()),
        Err(e) => Err(Error::Content(format!(
            "refusing to publish: cannot tell whether the read key pair is read-only: {e}"
        ))),
    }
}
