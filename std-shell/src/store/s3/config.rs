//! Where an S3/R2 bucket is and which keys reach it: the `R2_*`
//! environment (GRAIL's names), or another participant's commitment.

use core::fmt;

use aws_sdk_s3::config::Credentials;

use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::Error;

/// An access key pair. Neither half is shown by `Debug`; both are zeroized
/// on drop. For a write pair even the key id is kept out of messages.
#[derive(Clone, Zeroize, ZeroizeOnDrop, PartialEq, Eq)]
pub struct KeyPair {
    access_key_id: String,
    secret_access_key: String,
}

impl fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyPair(<redacted>)")
    }
}

impl KeyPair {
    /// A key pair.
    #[must_use]
    pub fn new(access_key_id: &str, secret_access_key: &str) -> Self {
        Self {
            access_key_id: access_key_id.to_owned(),
            secret_access_key: secret_access_key.to_owned(),
        }
    }

    /// The access key id.
    #[must_use]
    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }

    /// The secret access key.
    #[must_use]
    pub fn secret_access_key(&self) -> &str {
        &self.secret_access_key
    }

    pub(super) fn credentials(&self) -> Credentials {
        Credentials::new(
            self.access_key_id.clone(),
            self.secret_access_key.clone(),
            None,
            None,
            "veil",
        )
    }
}

/// Where and how to reach one bucket, with which keys.
#[derive(Clone, Debug)]
pub struct S3Config {
    /// The endpoint URL.
    pub endpoint: String,
    /// The signing region.
    pub region: String,
    /// Path-style addressing (`ENDPOINT/BUCKET/KEY`) instead of virtual hosts.
    pub force_path_style: bool,
    /// The bucket.
    pub bucket: String,
    /// The R2 account id, when known (GRAIL requires bucket = account id).
    pub account_id: Option<String>,
    /// The read pair (in the single-pair fallback, a copy of the write pair).
    pub read: KeyPair,
    /// The write pair; `None` for a read-only store.
    pub write: Option<KeyPair>,
    single_pair: bool,
}

/// Endpoint settings that apply to every bucket reached (ours and other
/// participants'): the `R2_ENDPOINT_URL`, `R2_REGION` and
/// `R2_FORCE_PATH_STYLE` overrides.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EndpointOverrides {
    /// `R2_ENDPOINT_URL`.
    pub endpoint: Option<String>,
    /// `R2_REGION`.
    pub region: Option<String>,
    /// `R2_FORCE_PATH_STYLE`.
    pub force_path_style: bool,
}

impl EndpointOverrides {
    /// Reads the overrides from the environment.
    ///
    /// # Errors
    ///
    /// [`Error::Value`] for an `R2_FORCE_PATH_STYLE` that is not a boolean or
    /// an endpoint that is not an `http(s)://` URL.
    pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let endpoint = nonempty(env("R2_ENDPOINT_URL"));
        if endpoint
            .as_ref()
            .is_some_and(|e| !(e.starts_with("http://") || e.starts_with("https://")))
        {
            return Err(Error::value(
                "R2_ENDPOINT_URL",
                "must start with http:// or https://",
            ));
        }
        let force_path_style =
            match nonempty(env("R2_FORCE_PATH_STYLE")).map(|v| v.to_ascii_lowercase()) {
                None => false,
                Some(v) if matches!(v.as_str(), "1" | "true" | "yes" | "on") => true,
                Some(v) if matches!(v.as_str(), "0" | "false" | "no" | "off") => false,
                Some(_) => {
                    return Err(Error::value(
                        "R2_FORCE_PATH_STYLE",
                        "expected true or false",
                    ));
                }
            };
        Ok(Self {
            endpoint,
            region: nonempty(env("R2_REGION")),
            force_path_style,
        })
    }

    fn resolve(&self, account_id: Option<&str>) -> Result<(String, String), Error> {
        let endpoint = match (&self.endpoint, account_id) {
            (Some(e), _) => e.trim_end_matches('/').to_owned(),
            (None, Some(a)) => {
                if a.is_empty() || !a.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                    return Err(Error::value(
                        "R2_ACCOUNT_ID",
                        "must be letters, digits and '-'",
                    ));
                }
                format!("https://{a}.r2.cloudflarestorage.com")
            }
            (None, None) => {
                return Err(Error::value(
                    "R2_ACCOUNT_ID",
                    "not set (needed for the R2 endpoint unless R2_ENDPOINT_URL is set)",
                ));
            }
        };
        let region = self
            .region
            .clone()
            .unwrap_or_else(|| "us-east-1".to_owned());
        Ok((endpoint, region))
    }
}

fn nonempty(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// Reads one key pair; both halves or neither. Names the missing variable,
/// never a value.
fn pair(env: &dyn Fn(&str) -> Option<String>, kind: &str) -> Result<Option<KeyPair>, Error> {
    let id_var = format!("R2_{kind}_ACCESS_KEY_ID");
    let secret_var = format!("R2_{kind}_SECRET_ACCESS_KEY");
    let id = nonempty(env(&id_var));
    let secret = nonempty(env(&secret_var)).map(zeroize::Zeroizing::new);
    match (id, secret) {
        (Some(id), Some(secret)) => Ok(Some(KeyPair::new(&id, &secret))),
        (None, None) => Ok(None),
        (Some(_), None) => Err(Error::Content(format!(
            "{id_var} is set but {secret_var} is not"
        ))),
        (None, Some(_)) => Err(Error::Content(format!(
            "{secret_var} is set but {id_var} is not"
        ))),
    }
}

impl S3Config {
    /// Our bucket from GRAIL's environment names (see the module docs).
    /// `bucket` overrides `R2_BUCKET_ID`, which defaults to the account id.
    ///
    /// # Errors
    ///
    /// A one-line [`Error`] naming the missing or malformed variable.
    pub fn from_env(
        env: &dyn Fn(&str) -> Option<String>,
        bucket: Option<&str>,
    ) -> Result<Self, Error> {
        let overrides = EndpointOverrides::from_env(env)?;
        let account_id = nonempty(env("R2_ACCOUNT_ID"));
        let bucket = bucket
            .map(str::to_owned)
            .or_else(|| nonempty(env("R2_BUCKET_ID")))
            .or_else(|| account_id.clone())
            .ok_or_else(|| Error::value("R2_BUCKET_ID", "not set (nor R2_ACCOUNT_ID)"))?;
        let (endpoint, region) = overrides.resolve(account_id.as_deref())?;
        let read = pair(env, "READ")?;
        let write = pair(env, "WRITE")?;
        let (read, single_pair) = match (read, &write) {
            (Some(r), _) => (r, false),
            (None, Some(w)) => {
                tracing::warn!(
                    "R2 read keys not set: using the write keys for reads too (single-pair fallback; nothing can be published)"
                );
                (w.clone(), true)
            }
            (None, None) => {
                return Err(Error::Content(
                    "no R2 credentials: set R2_READ_ACCESS_KEY_ID/R2_READ_SECRET_ACCESS_KEY (read-only) and R2_WRITE_ACCESS_KEY_ID/R2_WRITE_SECRET_ACCESS_KEY".to_owned(),
                ));
            }
        };
        Ok(Self {
            endpoint,
            region,
            force_path_style: overrides.force_path_style,
            bucket,
            account_id,
            read,
            write,
            single_pair,
        })
    }

    /// A read-only configuration for another participant's bucket, from its
    /// commitment: bucket = account id, so the R2 endpoint follows from it
    /// unless `overrides` set one.
    ///
    /// # Errors
    ///
    /// When the endpoint cannot be derived.
    pub fn for_commitment(
        commitment: &veil_core::commitment::ReadCommitment<'_>,
        overrides: &EndpointOverrides,
    ) -> Result<Self, Error> {
        let (endpoint, region) = overrides.resolve(Some(commitment.bucket))?;
        Ok(Self {
            endpoint,
            region,
            force_path_style: overrides.force_path_style,
            bucket: commitment.bucket.to_owned(),
            account_id: Some(commitment.bucket.to_owned()),
            read: KeyPair::new(
                commitment.read_access_key_id,
                commitment.read_secret_access_key,
            ),
            write: None,
            single_pair: false,
        })
    }

    /// Whether only a write pair was given (GRAIL's fallback): reads use it
    /// too, and there is no read pair to publish.
    #[must_use]
    pub const fn is_single_pair(&self) -> bool {
        self.single_pair
    }
}
