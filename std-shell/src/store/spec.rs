//! Which store a `--store` argument, a results record or a commitment
//! names, and how a store is recorded (never a secret).

use alloc::sync::Arc;

use super::{ObjectStore, RetryPolicy, local, public, s3};

/// Parses a store argument: `dir:PATH` or a plain path (a local directory),
/// `s3://BUCKET` (S3/R2 from the `R2_*` environment, this bucket; plain S3
/// with the AWS credential chain when no `R2_*` key pair is set), `s3` or
/// `r2` (S3/R2, bucket from the environment), `public:URL` (anonymous HTTP).
///
/// # Errors
///
/// [`crate::Error::Value`] naming `--store`, or a configuration error.
pub fn from_spec(
    spec: &str,
    env: &dyn Fn(&str) -> Option<String>,
    retry: RetryPolicy,
) -> Result<Arc<dyn ObjectStore>, crate::Error> {
    if let Some(url) = spec.strip_prefix("public:") {
        return Ok(Arc::new(public::PublicStore::new(url, retry)?));
    }
    let bucket = match spec {
        "s3" | "r2" => Some(None),
        _ => spec
            .strip_prefix("s3://")
            .map(|b| Some(b.trim_end_matches('/'))),
    };
    let options = s3::S3Options {
        retry,
        ..s3::S3Options::default()
    };
    if let Some(Some(bucket)) = bucket
        && s3::aws_chain::no_r2_pair(env)
    {
        return Ok(Arc::new(s3::S3Store::with_aws_chain(bucket, env, options)?));
    }
    if let Some(bucket) = bucket {
        let config = s3::S3Config::from_env(env, bucket)?;
        return Ok(Arc::new(s3::S3Store::new(&config, options)?));
    }
    if spec.contains("://") {
        return Err(crate::Error::value(
            "--store",
            "expected dir:PATH, a path, s3://BUCKET, s3, r2 or public:URL",
        ));
    }
    let path = spec.strip_prefix("dir:").unwrap_or(spec);
    Ok(Arc::new(local::LocalStore::open(std::path::Path::new(
        path,
    ))?))
}

/// How a store spec is recorded in results (never a secret): a directory
/// by its absolute path (so a reveal elsewhere can open it), a public URL
/// without userinfo or query (either could carry a token), anything else
/// as given.
pub fn record_spec(spec: &str) -> String {
    let dir = spec.strip_prefix("dir:");
    if dir.is_some() || !spec.contains(':') {
        let p = dir.unwrap_or(spec);
        let abs = std::fs::canonicalize(p).unwrap_or_else(|_| std::path::PathBuf::from(p));
        return format!("dir:{}", abs.display());
    }
    match spec.strip_prefix("public:").map(reqwest::Url::parse) {
        Some(Ok(mut url)) => {
            url.set_query(None);
            let _ = url.set_username("");
            let _ = url.set_password(None);
            format!("public:{url}")
        }
        _ => spec.to_owned(),
    }
}

/// The read-only store of the bucket a GRAIL commitment names (its read
/// pair), with the endpoint overrides of the `R2_*` environment.
///
/// # Errors
///
/// A malformed override or commitment, or a client that cannot be built.
pub fn for_commitment(
    commitment: &veil_core::commitment::ReadCommitment<'_>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Arc<dyn ObjectStore>, crate::Error> {
    let overrides = s3::EndpointOverrides::from_env(env)?;
    let config = s3::S3Config::for_commitment(commitment, &overrides)?;
    Ok(Arc::new(s3::S3Store::new(
        &config,
        s3::S3Options::default(),
    )?))
}
