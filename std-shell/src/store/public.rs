//! Anonymous HTTP to a public bucket: what MIID miners do today
//! (`PUT https://{bucket}.s3.{region}.amazonaws.com/{key}`, no credentials).
//!
//! Opt-in only. Such a bucket lets **anyone** overwrite or delete any object,
//! and the keys become guessable once a results file or a log reveals them;
//! [`PublicStore::new`] logs a warning saying so, and the CLI prints it.
//! Reads are anonymous `GET`/`HEAD`, listing is an anonymous
//! `ListObjectsV2`. The base URL may be virtual-host style
//! (`https://bucket.s3.us-east-1.amazonaws.com`) or path style
//! (`http://host:port/bucket`).

use core::fmt;
use core::time::Duration;

use quick_xml::events::Event;
use reqwest::{StatusCode, Url};

use super::{
    Body, ErrorKind, MAX_LIST_ENTRIES, ObjectMeta, ObjectStore, RetryPolicy, StoreError, check_key,
    check_prefix, fill,
};
use crate::Error;

use crate::limits::MAX_LIST_PAGE_BYTES;
pub use crate::limits::MAX_PUBLIC_PUT;

/// A public bucket reached anonymously.
pub struct PublicStore {
    base: Url,
    http: reqwest::Client,
    retry: RetryPolicy,
}

impl fmt::Debug for PublicStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicStore")
            .field("base", &self.base.as_str())
            .finish_non_exhaustive()
    }
}

impl PublicStore {
    /// A store at `base` (an `http(s)://` URL without query or fragment).
    ///
    /// # Errors
    ///
    /// [`Error::Value`] for anything else.
    pub fn new(base: &str, retry: RetryPolicy) -> Result<Self, Error> {
        let mut url = Url::parse(base).map_err(|e| Error::value("public bucket URL", e))?;
        if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
            return Err(Error::value(
                "public bucket URL",
                "expected an http(s):// URL",
            ));
        }
        if url.query().is_some()
            || url.fragment().is_some()
            || !url.username().is_empty()
            || url.password().is_some()
        {
            return Err(Error::value(
                "public bucket URL",
                "no query, fragment or credentials allowed",
            ));
        }
        // Path segments are appended below; drop a trailing empty one.
        if let Ok(mut segs) = url.path_segments_mut() {
            segs.pop_if_empty();
        }
        tracing::warn!(
            base = url.as_str(),
            "public bucket: objects are uploaded anonymously, and anyone can overwrite or delete them"
        );
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| Error::Content(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            base: url,
            http,
            retry,
        })
    }

    /// The warning the CLI prints when this store is chosen.
    pub const WARNING: &'static str = "warning: public bucket: objects go up anonymously, and anyone can overwrite or delete them";

    fn url_of(&self, key: &str) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut segs) = url.path_segments_mut() {
            segs.extend(key.split('/'));
        }
        url
    }

    fn what(op: &str, key: &str) -> String {
        format!("{op} {key} (public bucket)")
    }
}

/// Maps a network failure: everything reqwest reports is worth a retry
/// except a request it could not build.
fn net_error(what: &str, e: reqwest::Error) -> StoreError {
    let kind = if e.is_builder() {
        ErrorKind::Other
    } else {
        ErrorKind::Transient
    };
    // Without the URL: it only repeats the key, and keeps the line short.
    StoreError::new(kind, format!("{what}: {}", e.without_url()))
}

/// Sends `req`, mapping a network failure.
async fn send(what: &str, req: reqwest::RequestBuilder) -> Result<reqwest::Response, StoreError> {
    req.send().await.map_err(|e| net_error(what, e))
}

fn status_error(what: &str, status: StatusCode) -> StoreError {
    let kind = match status.as_u16() {
        404 => ErrorKind::NotFound,
        401 | 403 => ErrorKind::Denied,
        408 | 429 | 500..=599 => ErrorKind::Transient,
        _ => ErrorKind::Other,
    };
    StoreError::new(kind, format!("{what}: HTTP {status}"))
}

fn http_time(headers: &reqwest::header::HeaderMap) -> std::time::SystemTime {
    use aws_sdk_s3::primitives::{DateTime, DateTimeFormat};
    headers
        .get(reqwest::header::LAST_MODIFIED)
        .and_then(|v| v.to_str().ok())
        .and_then(|s| DateTime::from_str(s, DateTimeFormat::HttpDate).ok())
        .and_then(|t| std::time::SystemTime::try_from(t).ok())
        .unwrap_or(std::time::UNIX_EPOCH)
}

/// Reads a response body, refusing more than `max` bytes.
async fn capped_body(
    what: &str,
    mut resp: reqwest::Response,
    max: u64,
) -> Result<Vec<u8>, StoreError> {
    let too_large = || {
        StoreError::new(
            ErrorKind::TooLarge,
            format!("{what}: the object is over the {max}-byte cap"),
        )
    };
    if resp.content_length().is_some_and(|n| n > max) {
        return Err(too_large());
    }
    let mut out = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| net_error(what, e))? {
        if (out.len() + chunk.len()) as u64 > max {
            return Err(too_large());
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// One `ListObjectsV2` page: the objects, and the continuation token when
/// the listing is truncated.
fn parse_list_page(xml: &[u8]) -> Result<(Vec<ObjectMeta>, Option<String>), String> {
    use aws_sdk_s3::primitives::{DateTime, DateTimeFormat};
    let mut reader = quick_xml::Reader::from_reader(xml);
    let mut path: Vec<Vec<u8>> = Vec::new();
    let mut text = String::new();
    let mut objects = Vec::new();
    let (mut key, mut size, mut modified) = (None::<String>, None::<u64>, None);
    let (mut truncated, mut token) = (false, None);
    loop {
        match reader
            .read_event()
            .map_err(|e| format!("malformed listing: {e}"))?
        {
            Event::Start(e) => {
                path.push(e.local_name().as_ref().to_vec());
                text.clear();
            }
            Event::Text(t) => {
                text.push_str(&t.decode().map_err(|e| format!("malformed listing: {e}"))?);
            }
            Event::GeneralRef(r) => {
                if let Some(c) = r
                    .resolve_char_ref()
                    .map_err(|e| format!("malformed listing: {e}"))?
                {
                    text.push(c);
                } else {
                    let name = r.decode().map_err(|e| format!("malformed listing: {e}"))?;
                    let c = match name.as_ref() {
                        "amp" => '&',
                        "lt" => '<',
                        "gt" => '>',
                        "quot" => '"',
                        "apos" => '\'',
                        other => {
                            return Err(format!("malformed listing: unknown entity &{other};"));
                        }
                    };
                    text.push(c);
                }
            }
            Event::End(_) => {
                let name = path.pop().unwrap_or_default();
                let parent = path.last().map(Vec::as_slice);
                match (parent, name.as_slice()) {
                    (Some(b"Contents"), b"Key") => key = Some(core::mem::take(&mut text)),
                    (Some(b"Contents"), b"Size") => size = text.trim().parse().ok(),
                    (Some(b"Contents"), b"LastModified") => {
                        modified = DateTime::from_str(text.trim(), DateTimeFormat::DateTime)
                            .ok()
                            .and_then(|t| std::time::SystemTime::try_from(t).ok());
                    }
                    (_, b"Contents") => {
                        let k = key
                            .take()
                            .ok_or("malformed listing: an entry without a key")?;
                        objects.push(ObjectMeta {
                            key: k,
                            size: size.take().unwrap_or(0),
                            last_modified: modified.take().unwrap_or(std::time::UNIX_EPOCH),
                            etag: None,
                        });
                    }
                    (Some(b"ListBucketResult"), b"IsTruncated") => {
                        truncated = text.trim() == "true"
                    }
                    (Some(b"ListBucketResult"), b"NextContinuationToken") => {
                        token = Some(core::mem::take(&mut text));
                    }
                    _ => {}
                }
                text.clear();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok((objects, if truncated { token } else { None }))
}

#[async_trait::async_trait]
impl ObjectStore for PublicStore {
    fn describe(&self) -> String {
        format!("public bucket {}", self.base)
    }

    async fn put(&self, key: &str, body: Body<'_>) -> Result<u64, StoreError> {
        check_key(key)?;
        let what = Self::what("put", key);
        let mut buf = Vec::new();
        let n = fill(body, &mut buf, MAX_PUBLIC_PUT + 1)
            .await
            .map_err(|e| StoreError::io(format!("{what}: reading the body"), &e))?;
        if n > MAX_PUBLIC_PUT {
            return Err(StoreError::new(
                ErrorKind::TooLarge,
                format!("{what}: over {MAX_PUBLIC_PUT} bytes, the most one anonymous PUT carries"),
            ));
        }
        let body = bytes::Bytes::from(buf);
        let url = self.url_of(key);
        self.retry
            .run("put", || async {
                let put = self
                    .http
                    .put(url.clone())
                    .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                    .body(body.clone());
                let resp = send(&what, put).await?;
                // MIID counts 200 and 204 as stored.
                match resp.status() {
                    StatusCode::OK | StatusCode::NO_CONTENT | StatusCode::CREATED => Ok(()),
                    s => Err(status_error(&what, s)),
                }
            })
            .await?;
        Ok(n as u64)
    }

    async fn get(&self, key: &str, max_bytes: u64) -> Result<Vec<u8>, StoreError> {
        check_key(key)?;
        let what = Self::what("get", key);
        let url = self.url_of(key);
        self.retry
            .run("get", || async {
                let resp = send(&what, self.http.get(url.clone())).await?;
                if !resp.status().is_success() {
                    return Err(status_error(&what, resp.status()));
                }
                capped_body(&what, resp, max_bytes).await
            })
            .await
    }

    async fn get_range(&self, key: &str, start: u64, len: u64) -> Result<Vec<u8>, StoreError> {
        check_key(key)?;
        if len == 0 {
            return Ok(Vec::new());
        }
        let what = Self::what("get", key);
        let url = self.url_of(key);
        let range = super::range_header(start, len);
        self.retry
            .run("get", || async {
                let req = self
                    .http
                    .get(url.clone())
                    .header(reqwest::header::RANGE, range.as_str());
                let resp = send(&what, req).await?;
                match resp.status() {
                    // A server that ignores ranges sends it whole: cut it
                    // out, within the range's end.
                    StatusCode::OK => {
                        let whole = capped_body(&what, resp, start.saturating_add(len)).await?;
                        Ok(super::range_of(&whole, start, len).to_vec())
                    }
                    StatusCode::PARTIAL_CONTENT => capped_body(&what, resp, len).await,
                    StatusCode::RANGE_NOT_SATISFIABLE => Ok(Vec::new()),
                    s => Err(status_error(&what, s)),
                }
            })
            .await
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectMeta>, StoreError> {
        check_key(key)?;
        let what = Self::what("head", key);
        let url = self.url_of(key);
        self.retry
            .run("head", || async {
                let resp = send(&what, self.http.head(url.clone())).await?;
                match resp.status() {
                    s if s.is_success() => Ok(Some(ObjectMeta {
                        key: key.to_owned(),
                        // reqwest's content_length() is the body's, empty for HEAD.
                        size: resp
                            .headers()
                            .get(reqwest::header::CONTENT_LENGTH)
                            .and_then(|v| v.to_str().ok())
                            .and_then(|v| v.parse().ok())
                            .unwrap_or(0),
                        last_modified: http_time(resp.headers()),
                        etag: resp
                            .headers()
                            .get(reqwest::header::ETAG)
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_owned),
                    })),
                    StatusCode::NOT_FOUND => Ok(None),
                    s => Err(status_error(&what, s)),
                }
            })
            .await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, StoreError> {
        check_prefix(prefix)?;
        let what = format!("list {prefix:?} (public bucket)");
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        let mut seen_tokens = std::collections::HashSet::new();
        loop {
            let mut url = self.base.clone();
            if let Ok(mut segs) = url.path_segments_mut() {
                segs.push("");
            }
            {
                let mut q = url.query_pairs_mut();
                q.append_pair("list-type", "2")
                    .append_pair("prefix", prefix);
                if let Some(t) = &token {
                    q.append_pair("continuation-token", t);
                }
            }
            let xml = self
                .retry
                .run("list", || async {
                    let resp = send(&what, self.http.get(url.clone())).await?;
                    if !resp.status().is_success() {
                        return Err(status_error(&what, resp.status()));
                    }
                    capped_body(&what, resp, MAX_LIST_PAGE_BYTES as u64).await
                })
                .await?;
            let (objects, next) = parse_list_page(&xml)
                .map_err(|e| StoreError::new(ErrorKind::Other, format!("{what}: {e}")))?;
            for o in objects {
                if out.len() == MAX_LIST_ENTRIES {
                    return Err(StoreError::new(
                        ErrorKind::TooLarge,
                        format!("{what}: more than {MAX_LIST_ENTRIES} objects"),
                    ));
                }
                out.push(o);
            }
            match next {
                None => break,
                Some(t)
                    if seen_tokens.len() < MAX_LIST_ENTRIES && seen_tokens.insert(t.clone()) =>
                {
                    token = Some(t);
                }
                Some(_) => {
                    return Err(StoreError::new(
                        ErrorKind::Other,
                        format!("{what}: the server's paging does not end"),
                    ));
                }
            }
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        check_key(key)?;
        let what = Self::what("delete", key);
        let url = self.url_of(key);
        self.retry
            .run("delete", || async {
                let resp = send(&what, self.http.delete(url.clone())).await?;
                match resp.status() {
                    s if s.is_success() || s == StatusCode::NOT_FOUND => Ok(()),
                    s => Err(status_error(&what, s)),
                }
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_become_encoded_path_segments() {
        let s = PublicStore::new(
            "https://b.s3.us-east-1.amazonaws.com/",
            RetryPolicy::default(),
        )
        .unwrap();
        assert_eq!(
            s.url_of("submissions/c 1/a+b/x%y.png.tlock").as_str(),
            "https://b.s3.us-east-1.amazonaws.com/submissions/c%201/a+b/x%25y.png.tlock"
        );
        let s = PublicStore::new("http://127.0.0.1:9/bucket", RetryPolicy::default()).unwrap();
        assert_eq!(s.url_of("a/b").as_str(), "http://127.0.0.1:9/bucket/a/b");
        for bad in ["ftp://x/", "http://u:p@x/", "http://x/?q=1", "not a url"] {
            assert!(
                PublicStore::new(bad, RetryPolicy::default()).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn list_pages_parse_with_entities_and_tokens() {
        let xml = br#"<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>b</Name><Prefix>a/</Prefix><KeyCount>2</KeyCount><MaxKeys>2</MaxKeys>
  <IsTruncated>true</IsTruncated><NextContinuationToken>tok&amp;1</NextContinuationToken>
  <Contents><Key>a/x&amp;y&#33;</Key><LastModified>2026-11-22T07:00:00.000Z</LastModified><Size>12</Size></Contents>
  <Contents><Key>a/z</Key><Size>0</Size></Contents>
</ListBucketResult>"#;
        let (objects, token) = parse_list_page(xml).unwrap();
        assert_eq!(token.as_deref(), Some("tok&1"));
        assert_eq!(objects.len(), 2);
        assert_eq!((objects[0].key.as_str(), objects[0].size), ("a/x&y!", 12));
        let secs = objects[0]
            .last_modified
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert_eq!(secs, 1_795_330_800);
        assert_eq!(objects[1].key, "a/z");
        assert!(parse_list_page(b"<a><Contents><Size>1</Size></Contents></a>").is_err());
        assert!(parse_list_page(b"<a>&bogus;</a>").is_err());
    }
}
