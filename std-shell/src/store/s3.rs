//! S3 and Cloudflare R2 through aws-sdk-s3, with GRAIL's dual credentials.
//!
//! A participant owns one bucket and two key pairs: a **write** pair it keeps
//! private, and a **read** pair it publishes in its on-chain commitment.
//! [`S3Store`] uploads and deletes with the write pair and reads (`get`,
//! `head`, `list`) with the read pair, so a read pair that secretly had write
//! rights would be caught by the store's own traffic rather than by a stranger.
//! A store built from a commitment ([`S3Config::for_commitment`]) holds no
//! write pair at all and refuses writes with [`ErrorKind::ReadOnly`].
//!
//! Configuration comes from GRAIL's environment names ([`S3Config::from_env`]):
//! `R2_ACCOUNT_ID`, `R2_BUCKET_ID`, `R2_READ_ACCESS_KEY_ID`,
//! `R2_READ_SECRET_ACCESS_KEY`, `R2_WRITE_ACCESS_KEY_ID`,
//! `R2_WRITE_SECRET_ACCESS_KEY`, and the overrides `R2_ENDPOINT_URL`,
//! `R2_REGION` (default `us-east-1`, as GRAIL) and `R2_FORCE_PATH_STYLE`. The
//! endpoint defaults to `https://{account_id}.r2.cloudflarestorage.com`.
//! With only the write pair set, GRAIL's single-pair fallback applies: the
//! write pair reads too, and [`S3Config::is_single_pair`] says so (such a
//! configuration must never publish a commitment).
//!
//! The SDK's own retries are off; [`RetryPolicy`] retries
//! transient failures the same way for every backend. Request checksums are
//! only sent where S3 requires them (R2 and older S3-compatible servers
//! reject some of the SDK's newer defaults).

use core::fmt;
use core::time::Duration;

use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{
    BehaviorVersion, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
pub mod aws_chain;
mod config;

pub use config::{EndpointOverrides, KeyPair, S3Config};

use super::{
    Body, ErrorKind, MAX_LIST_ENTRIES, ObjectMeta, ObjectStore, Redactor, RetryPolicy, StoreError,
    check_key, check_prefix, fill,
};
use crate::Error;

/// S3's smallest multipart part (all but the last).
pub const MIN_PART_SIZE: usize = 5 * 1024 * 1024;

/// Tuning of an [`S3Store`].
#[derive(Clone, Copy, Debug)]
pub struct S3Options {
    /// Bodies up to this size go in one `PutObject`; larger ones in parts of
    /// this size (at least [`MIN_PART_SIZE`]; R2 wants equal parts).
    pub part_size: usize,
    /// Keys per `ListObjectsV2` page (1 to 1000).
    pub list_page: i32,
    /// Retries of transient failures.
    pub retry: RetryPolicy,
    /// TCP connect timeout (GRAIL: 3 s).
    pub connect_timeout: Duration,
    /// Timeout of one attempt of one request, up to its response headers
    /// (so it bounds the upload of one part).
    pub attempt_timeout: Duration,
    /// The longest a response body may stall between two reads (GRAIL: 30 s).
    pub read_timeout: Duration,
}

impl Default for S3Options {
    fn default() -> Self {
        Self {
            // 8 MiB within 120 s: parts go up on links down to ~0.6 Mbit/s.
            part_size: 8 * 1024 * 1024,
            list_page: 1000,
            retry: RetryPolicy::default(),
            connect_timeout: Duration::from_secs(3),
            attempt_timeout: Duration::from_secs(120),
            read_timeout: Duration::from_secs(30),
        }
    }
}

/// One bucket over S3: write pair for writes, read pair for reads.
pub struct S3Store {
    bucket: String,
    endpoint: String,
    reader: aws_sdk_s3::Client,
    writer: Option<aws_sdk_s3::Client>,
    options: S3Options,
    redactor: Redactor,
}

impl fmt::Debug for S3Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Store")
            .field("bucket", &self.bucket)
            .field("endpoint", &self.endpoint)
            .field("writable", &self.writer.is_some())
            .finish_non_exhaustive()
    }
}

fn client(config: &S3Config, keys: &KeyPair, options: &S3Options) -> aws_sdk_s3::Client {
    client_with(
        &config.region,
        &config.endpoint,
        config.force_path_style,
        keys.credentials(),
        options,
    )
}

fn client_with(
    region: &str,
    endpoint: &str,
    force_path_style: bool,
    credentials: impl aws_sdk_s3::config::ProvideCredentials + 'static,
    options: &S3Options,
) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .endpoint_url(endpoint)
        .force_path_style(force_path_style)
        .credentials_provider(credentials)
        .retry_config(RetryConfig::disabled())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(options.connect_timeout)
                .operation_attempt_timeout(options.attempt_timeout)
                .read_timeout(options.read_timeout)
                .build(),
        )
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
        .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

impl S3Store {
    /// An object's body, at most `cap` bytes (more is
    /// [`ErrorKind::TooLarge`]; a transfer that breaks is transient), in a
    /// buffer made for the `expected` bytes (a declared length or a range's).
    async fn read_body(
        &self,
        what: &str,
        mut body: ByteStream,
        cap: u64,
        expected: u64,
    ) -> Result<Vec<u8>, StoreError> {
        let mut data = Vec::with_capacity(usize::try_from(expected.min(cap)).unwrap_or(0));
        while let Some(chunk) = body.try_next().await.map_err(|e| {
            StoreError::new(
                ErrorKind::Transient,
                self.redactor.scrub(&format!("{what}: {e}")),
            )
        })? {
            if (data.len() + chunk.len()) as u64 > cap {
                return Err(StoreError::new(
                    ErrorKind::TooLarge,
                    format!("{what}: the object is more than {cap} bytes"),
                ));
            }
            data.extend_from_slice(&chunk);
        }
        Ok(data)
    }

    /// A store over `config`'s bucket.
    ///
    /// # Errors
    ///
    /// [`Error::Value`] for a part size under [`MIN_PART_SIZE`] or a list
    /// page outside 1..=1000.
    pub fn new(config: &S3Config, options: S3Options) -> Result<Self, Error> {
        if options.part_size < MIN_PART_SIZE {
            return Err(Error::value(
                "part size",
                format!("at least {MIN_PART_SIZE} bytes"),
            ));
        }
        if !(1..=1000).contains(&options.list_page) {
            return Err(Error::value("list page", "1 to 1000 keys"));
        }
        let mut redactor = Redactor::default();
        redactor.add(config.read.secret_access_key());
        if let Some(w) = &config.write {
            redactor.add(w.secret_access_key());
            redactor.add(w.access_key_id());
        }
        Ok(Self {
            bucket: config.bucket.clone(),
            endpoint: config.endpoint.clone(),
            reader: client(config, &config.read, &options),
            writer: config.write.as_ref().map(|w| client(config, w, &options)),
            options,
            redactor,
        })
    }

    /// Plain S3 with the AWS credential chain ([`aws_chain`]): one identity
    /// reads and writes `bucket`.
    ///
    /// # Errors
    ///
    /// As [`S3Store::new`], or a malformed endpoint or override.
    pub fn with_aws_chain(
        bucket: &str,
        env: &dyn Fn(&str) -> Option<String>,
        options: S3Options,
    ) -> Result<Self, Error> {
        if bucket.is_empty() {
            return Err(Error::value("--store", "s3://BUCKET names no bucket"));
        }
        let target = aws_chain::AwsTarget::from_env(env)?;
        let client = client_with(
            &target.region,
            &target.endpoint,
            target.force_path_style,
            aws_chain::credentials(env),
            &options,
        );
        Ok(Self {
            bucket: bucket.to_owned(),
            endpoint: target.endpoint,
            reader: client.clone(),
            writer: Some(client),
            options,
            redactor: Redactor::default(),
        })
    }

    fn writer(&self, op: &str, key: &str) -> Result<&aws_sdk_s3::Client, StoreError> {
        self.writer.as_ref().ok_or_else(|| {
            StoreError::new(
                ErrorKind::ReadOnly,
                format!(
                    "{op} {}/{key}: this store holds only a read key pair",
                    self.bucket
                ),
            )
        })
    }

    /// Maps an SDK failure to a one-line, scrubbed [`StoreError`].
    fn error<E>(&self, op: &str, key: &str, err: &SdkError<E>) -> StoreError
    where
        E: ProvideErrorMetadata + core::error::Error + 'static,
    {
        let what = format!("{op} {}/{key}", self.bucket);
        let (kind, detail) = match err {
            SdkError::TimeoutError(_) => (ErrorKind::Transient, "timed out".to_owned()),
            SdkError::DispatchFailure(d) => {
                let cause = d.as_connector_error().map_or_else(
                    || "connection failed".to_owned(),
                    |c| aws_sdk_s3::error::DisplayErrorContext(c).to_string(),
                );
                // The AWS chain found nothing: waiting cures nothing.
                if cause.contains("no credentials found in chain") {
                    return StoreError::new(
                        ErrorKind::Denied,
                        format!("{what}: {}", aws_chain::NO_CREDENTIALS),
                    );
                }
                (
                    ErrorKind::Transient,
                    format!("cannot reach {}: {cause}", self.endpoint),
                )
            }
            SdkError::ResponseError(_) => (ErrorKind::Transient, "malformed response".to_owned()),
            SdkError::ServiceError(s) => {
                let status = s.raw().status().as_u16();
                let code = err.code().unwrap_or("");
                let kind = match (code, status) {
                    ("NoSuchKey" | "NotFound" | "NoSuchBucket", _) | (_, 404) => {
                        ErrorKind::NotFound
                    }
                    (
                        "AccessDenied"
                        | "SignatureDoesNotMatch"
                        | "InvalidAccessKeyId"
                        | "AllAccessDisabled",
                        _,
                    )
                    | (_, 401 | 403) => ErrorKind::Denied,
                    ("SlowDown" | "RequestTimeout" | "InternalError" | "ServiceUnavailable", _)
                    | (_, 408 | 429 | 500..=599) => ErrorKind::Transient,
                    _ => ErrorKind::Other,
                };
                let code = if code.is_empty() { "error" } else { code };
                let message = err.message().map(|m| format!(": {m}")).unwrap_or_default();
                (kind, format!("{code}{message} (HTTP {status})"))
            }
            _ => (ErrorKind::Other, "cannot build the request".to_owned()),
        };
        StoreError::new(kind, self.redactor.scrub(&format!("{what}: {detail}")))
    }

    async fn put_single(&self, key: &str, bytes: &[u8]) -> Result<(), StoreError> {
        let w = self.writer("put", key)?;
        self.options
            .retry
            .run("put", || async {
                w.put_object()
                    .bucket(&self.bucket)
                    .key(key)
                    .content_type("application/octet-stream")
                    .body(ByteStream::from(bytes.to_vec()))
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| self.error("put", key, &e))
            })
            .await
    }

    async fn put_multipart(
        &self,
        key: &str,
        first: Vec<u8>,
        body: Body<'_>,
    ) -> Result<u64, StoreError> {
        let w = self.writer("put", key)?;
        let created = self
            .options
            .retry
            .run("create multipart upload", || async {
                w.create_multipart_upload()
                    .bucket(&self.bucket)
                    .key(key)
                    .content_type("application/octet-stream")
                    .send()
                    .await
                    .map_err(|e| self.error("create multipart upload", key, &e))
            })
            .await?;
        let upload_id = created
            .upload_id()
            .filter(|id| !id.is_empty())
            .ok_or_else(|| {
                StoreError::new(
                    ErrorKind::Other,
                    format!(
                        "create multipart upload {}/{key}: no upload id in the answer",
                        self.bucket
                    ),
                )
            })?;
        let result = self.upload_parts(w, key, upload_id, first, body).await;
        if let Err(e) = &result {
            // An unfinished upload holds storage until aborted (a bucket
            // lifecycle rule should abort what this cannot).
            if let Err(abort) = w
                .abort_multipart_upload()
                .bucket(&self.bucket)
                .key(key)
                .upload_id(upload_id)
                .send()
                .await
            {
                let abort = self.error("abort multipart upload", key, &abort);
                tracing::warn!(%abort, after = %e, "cannot abort a failed multipart upload");
            }
        }
        result
    }

    async fn upload_parts(
        &self,
        w: &aws_sdk_s3::Client,
        key: &str,
        upload_id: &str,
        first: Vec<u8>,
        body: Body<'_>,
    ) -> Result<u64, StoreError> {
        let mut parts = Vec::new();
        let mut total = 0u64;
        let mut buf = first;
        let mut number = 1i32;
        loop {
            let part = self
                .options
                .retry
                .run("upload part", || async {
                    w.upload_part()
                        .bucket(&self.bucket)
                        .key(key)
                        .upload_id(upload_id)
                        .part_number(number)
                        .body(ByteStream::from(buf.clone()))
                        .send()
                        .await
                        .map_err(|e| self.error("upload part", key, &e))
                })
                .await?;
            parts.push(
                CompletedPart::builder()
                    .part_number(number)
                    .set_e_tag(part.e_tag().map(str::to_owned))
                    .build(),
            );
            total += buf.len() as u64;
            let n = fill(body, &mut buf, self.options.part_size)
                .await
                .map_err(|e| {
                    StoreError::io(format!("put {}/{key}: reading the body", self.bucket), &e)
                })?;
            if n == 0 {
                break;
            }
            number = number
                .checked_add(1)
                .filter(|&n| n <= 10_000)
                .ok_or_else(|| {
                    StoreError::new(
                        ErrorKind::TooLarge,
                        format!("put {}/{key}: more than 10,000 parts", self.bucket),
                    )
                })?;
        }
        let done = CompletedMultipartUpload::builder()
            .set_parts(Some(parts))
            .build();
        let completed = self
            .options
            .retry
            .run("complete multipart upload", || async {
                w.complete_multipart_upload()
                    .bucket(&self.bucket)
                    .key(key)
                    .upload_id(upload_id)
                    .multipart_upload(done.clone())
                    .send()
                    .await
                    .map_err(|e| self.error("complete multipart upload", key, &e))
            })
            .await;
        match completed {
            Ok(_) => Ok(total),
            // A retried completion whose first answer was lost finds the
            // upload gone: the object is there if it has the right size.
            Err(e) if e.kind() == ErrorKind::NotFound => match self.head(key).await {
                Ok(Some(meta)) if meta.size == total => Ok(total),
                _ => Err(e),
            },
            Err(e) => Err(e),
        }
    }
}

fn system_time(t: Option<&aws_sdk_s3::primitives::DateTime>) -> std::time::SystemTime {
    t.and_then(|t| std::time::SystemTime::try_from(*t).ok())
        .unwrap_or(std::time::UNIX_EPOCH)
}

fn size(n: Option<i64>) -> u64 {
    n.and_then(|n| u64::try_from(n).ok()).unwrap_or(0)
}

#[async_trait::async_trait]
impl ObjectStore for S3Store {
    fn describe(&self) -> String {
        format!("bucket {} at {}", self.bucket, self.endpoint)
    }

    async fn put(&self, key: &str, body: Body<'_>) -> Result<u64, StoreError> {
        check_key(key)?;
        self.writer("put", key)?;
        tracing::debug!(bucket = %self.bucket, key, "s3 put");
        let read_err = |e: std::io::Error| {
            StoreError::io(format!("put {}/{key}: reading the body", self.bucket), &e)
        };
        let mut first = Vec::new();
        let n = fill(body, &mut first, self.options.part_size)
            .await
            .map_err(read_err)?;
        if n < self.options.part_size {
            self.put_single(key, &first).await?;
            return Ok(n as u64);
        }
        // Exactly one part's worth so far: one more byte decides.
        let mut probe = Vec::new();
        let more = fill(body, &mut probe, 1).await.map_err(read_err)?;
        if more == 0 {
            self.put_single(key, &first).await?;
            return Ok(n as u64);
        }
        let mut rest = probe.as_slice();
        let mut chained = tokio::io::AsyncReadExt::chain(&mut rest, body);
        self.put_multipart(key, first, &mut chained).await
    }

    async fn get(&self, key: &str, max_bytes: u64) -> Result<Vec<u8>, StoreError> {
        check_key(key)?;
        tracing::debug!(bucket = %self.bucket, key, "s3 get");
        let what = format!("get {}/{key}", self.bucket);
        let too_large = |size: &str| {
            StoreError::new(
                ErrorKind::TooLarge,
                format!("{what}: the object is {size} bytes, over the {max_bytes}-byte cap"),
            )
        };
        // The body is read inside the retry: a transfer cut off midway is
        // tried again from the start.
        self.options
            .retry
            .run("get", || async {
                let out = self
                    .reader
                    .get_object()
                    .bucket(&self.bucket)
                    .key(key)
                    .send()
                    .await
                    .map_err(|e| self.error("get", key, &e))?;
                let declared = size(out.content_length());
                if declared > max_bytes {
                    return Err(too_large(&declared.to_string()));
                }
                self.read_body(&what, out.body, max_bytes, declared).await
            })
            .await
    }

    async fn get_range(&self, key: &str, start: u64, len: u64) -> Result<Vec<u8>, StoreError> {
        check_key(key)?;
        if len == 0 {
            return Ok(Vec::new());
        }
        tracing::debug!(bucket = %self.bucket, key, start, len, "s3 get range");
        let what = format!("get {}/{key}", self.bucket);
        let range = super::range_header(start, len);
        self.options
            .retry
            .run("get", || async {
                let sent = self
                    .reader
                    .get_object()
                    .bucket(&self.bucket)
                    .key(key)
                    .range(range.as_str())
                    .send()
                    .await;
                let out = match sent {
                    Ok(out) => out,
                    // Past the end: nothing there.
                    Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 416) => {
                        return Ok(Vec::new());
                    }
                    Err(e) => return Err(self.error("get", key, &e)),
                };
                // A whole object (a service that ignores ranges) is cut
                // down to the range; never more than the range's end is read.
                let whole = out.content_range().is_none();
                let cap = if whole {
                    start.saturating_add(len)
                } else {
                    len
                };
                let data = self.read_body(&what, out.body, cap, len).await?;
                Ok(if whole {
                    super::range_of(&data, start, len).to_vec()
                } else {
                    data
                })
            })
            .await
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectMeta>, StoreError> {
        check_key(key)?;
        let r = self
            .options
            .retry
            .run("head", || async {
                match self
                    .reader
                    .head_object()
                    .bucket(&self.bucket)
                    .key(key)
                    .send()
                    .await
                {
                    Ok(o) => Ok(Some(o)),
                    Err(e) => {
                        let e = self.error("head", key, &e);
                        if e.kind() == ErrorKind::NotFound {
                            Ok(None)
                        } else {
                            Err(e)
                        }
                    }
                }
            })
            .await?;
        Ok(r.map(|o| ObjectMeta {
            key: key.to_owned(),
            size: size(o.content_length()),
            last_modified: system_time(o.last_modified()),
            etag: o.e_tag().map(str::to_owned),
        }))
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, StoreError> {
        check_prefix(prefix)?;
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        let mut seen_tokens = std::collections::HashSet::new();
        loop {
            let page = self
                .options
                .retry
                .run("list", || async {
                    self.reader
                        .list_objects_v2()
                        .bucket(&self.bucket)
                        .prefix(prefix)
                        .max_keys(self.options.list_page)
                        .set_continuation_token(token.clone())
                        .send()
                        .await
                        .map_err(|e| self.error("list", prefix, &e))
                })
                .await?;
            for o in page.contents() {
                let Some(key) = o.key() else { continue };
                if out.len() == MAX_LIST_ENTRIES {
                    return Err(StoreError::new(
                        ErrorKind::TooLarge,
                        format!(
                            "list {}: more than {MAX_LIST_ENTRIES} objects under {prefix:?}",
                            self.bucket
                        ),
                    ));
                }
                out.push(ObjectMeta {
                    key: key.to_owned(),
                    size: size(o.size()),
                    last_modified: system_time(o.last_modified()),
                    etag: o.e_tag().map(str::to_owned),
                });
            }
            token = page.next_continuation_token().map(str::to_owned);
            if page.is_truncated() != Some(true) {
                break;
            }
            // A server repeating a token (or paging forever through empty
            // pages) must not keep the loop going.
            match &token {
                Some(t)
                    if seen_tokens.len() < MAX_LIST_ENTRIES && seen_tokens.insert(t.clone()) => {}
                _ => {
                    return Err(StoreError::new(
                        ErrorKind::Other,
                        format!("list {}: the server's paging does not end", self.bucket),
                    ));
                }
            }
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        check_key(key)?;
        let w = self.writer("delete", key)?;
        self.options
            .retry
            .run("delete", || async {
                match w.delete_object().bucket(&self.bucket).key(key).send().await {
                    Ok(_) => Ok(()),
                    Err(e) => {
                        let e = self.error("delete", key, &e);
                        if e.kind() == ErrorKind::NotFound {
                            Ok(())
                        } else {
                            Err(e)
                        }
                    }
                }
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| map.get(k).cloned()
    }

    const ACCOUNT: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn grail_environment_with_both_pairs() {
        let c = S3Config::from_env(
            &env(&[
                ("R2_ACCOUNT_ID", ACCOUNT),
                ("R2_READ_ACCESS_KEY_ID", "rid"),
                ("R2_READ_SECRET_ACCESS_KEY", "rsecret"),
                ("R2_WRITE_ACCESS_KEY_ID", "wid"),
                ("R2_WRITE_SECRET_ACCESS_KEY", "wsecret"),
            ]),
            None,
        )
        .unwrap();
        assert_eq!(
            c.endpoint,
            format!("https://{ACCOUNT}.r2.cloudflarestorage.com")
        );
        assert_eq!(
            (c.region.as_str(), c.bucket.as_str()),
            ("us-east-1", ACCOUNT)
        );
        assert!(!c.force_path_style && !c.is_single_pair());
        assert_eq!(c.read.access_key_id(), "rid");
        assert_eq!(c.write.as_ref().unwrap().access_key_id(), "wid");
        let debug = format!("{c:?}");
        for secret in ["rsecret", "wsecret", "wid"] {
            assert!(!debug.contains(secret), "{debug}");
        }
    }

    #[test]
    fn overrides_single_pair_and_half_pairs() {
        let c = S3Config::from_env(
            &env(&[
                ("R2_ACCOUNT_ID", ACCOUNT),
                ("R2_BUCKET_ID", "other"),
                ("R2_WRITE_ACCESS_KEY_ID", "wid"),
                ("R2_WRITE_SECRET_ACCESS_KEY", "wsecret"),
                ("R2_ENDPOINT_URL", "http://127.0.0.1:9000/"),
                ("R2_REGION", "auto"),
                ("R2_FORCE_PATH_STYLE", "True"),
            ]),
            None,
        )
        .unwrap();
        assert!(c.is_single_pair());
        assert_eq!(c.read, *c.write.as_ref().unwrap());
        assert_eq!(
            (
                c.endpoint.as_str(),
                c.region.as_str(),
                c.bucket.as_str(),
                c.force_path_style
            ),
            ("http://127.0.0.1:9000", "auto", "other", true)
        );

        let e = S3Config::from_env(
            &env(&[("R2_ACCOUNT_ID", ACCOUNT), ("R2_READ_ACCESS_KEY_ID", "rid")]),
            None,
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            e,
            "R2_READ_ACCESS_KEY_ID is set but R2_READ_SECRET_ACCESS_KEY is not"
        );
        let e = S3Config::from_env(&env(&[("R2_ACCOUNT_ID", ACCOUNT)]), None)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("no R2 credentials"), "{e}");
        let e = S3Config::from_env(
            &env(&[("R2_ACCOUNT_ID", ACCOUNT), ("R2_FORCE_PATH_STYLE", "maybe")]),
            None,
        )
        .unwrap_err()
        .to_string();
        assert_eq!(e, "R2_FORCE_PATH_STYLE: expected true or false");
        let e = S3Config::from_env(
            &env(&[
                ("R2_ACCOUNT_ID", "bad/host"),
                ("R2_WRITE_ACCESS_KEY_ID", "w"),
                ("R2_WRITE_SECRET_ACCESS_KEY", "s"),
            ]),
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("R2_ACCOUNT_ID"), "{e}");
    }

    #[test]
    fn a_commitment_gives_a_read_only_config_on_the_account_endpoint() {
        let text = format!("{ACCOUNT}{:<32}{:<64}", "rid", "rsecret");
        let c = veil_core::commitment::ReadCommitment::parse(&text).unwrap();
        let cfg = S3Config::for_commitment(&c, &EndpointOverrides::default()).unwrap();
        assert_eq!(
            cfg.endpoint,
            format!("https://{ACCOUNT}.r2.cloudflarestorage.com")
        );
        assert!(cfg.write.is_none());
        assert_eq!(cfg.read.secret_access_key(), "rsecret");
    }
}
