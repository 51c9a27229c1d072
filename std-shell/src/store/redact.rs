//! Secrets kept out of messages: text from elsewhere (a service's error, a
//! library's error chain) is scrubbed before it reaches an error or a log.

use alloc::sync::Arc;
use core::fmt;

use zeroize::Zeroizing;

/// Scrubs secrets out of text that came from elsewhere (a service's error
/// message, a library's error chain) before it reaches an error or a log.
#[derive(Clone, Default)]
pub struct Redactor {
    needles: Vec<Arc<Zeroizing<String>>>,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Redactor({} secrets)", self.needles.len())
    }
}

impl Redactor {
    /// Adds a secret to scrub (ignored when shorter than 4 characters, which
    /// could not be told apart from ordinary text).
    pub fn add(&mut self, secret: &str) {
        if secret.len() >= 4 {
            self.needles
                .push(Arc::new(Zeroizing::new(secret.to_owned())));
        }
    }

    /// `text` with every secret replaced by `<redacted>`, on one line.
    #[must_use]
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.replace(['\n', '\r'], " ");
        for n in &self.needles {
            if out.contains(n.as_str()) {
                out = out.replace(n.as_str(), "<redacted>");
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_scrubs_every_secret_and_newline() {
        let mut r = Redactor::default();
        r.add("AKIAWRITE");
        r.add("s3cr3t/with+chars");
        r.add("ab");
        let s = r.scrub("denied for AKIAWRITE\nsig s3cr3t/with+chars; ab stays");
        assert_eq!(s, "denied for <redacted> sig <redacted>; ab stays");
    }
}
