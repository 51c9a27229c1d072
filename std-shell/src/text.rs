//! Text on one line: every message veil prints, logs or records goes
//! through here, so stderr carries exactly one line per failure and nothing
//! a peer sent can break a log or results line.

use crate::limits::MAX_PEER_TEXT_CHARS;

/// `text` on one line: control characters (line breaks included) become
/// spaces and runs of whitespace collapse to one.
#[must_use]
pub fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text
        .split(|c: char| c.is_control() || c.is_whitespace())
        .filter(|w| !w.is_empty())
    {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// An error and its sources, on one line: `outer: inner: innermost`, each
/// cause said once (a source whose text the message already holds is not
/// repeated, as libraries often include their source in their own text).
#[must_use]
pub fn error_chain(e: &dyn core::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let next = s.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = s.source();
    }
    one_line(&text)
}

/// Text that came from a peer (a miner's key or reason, a node's error),
/// made safe for one log or results line: [`one_line`], and at most
/// [`MAX_PEER_TEXT_CHARS`] characters.
#[must_use]
pub fn peer_line(text: &str) -> String {
    let line = one_line(text);
    match line.char_indices().nth(MAX_PEER_TEXT_CHARS) {
        Some((cut, _)) => line[..cut].to_owned(),
        None => line,
    }
}

/// Untrusted text quoted for an error message: escaped (`{:?}`), on one
/// line, at most 64 characters of it, then `…`.
#[must_use]
pub fn quoted(text: &str) -> String {
    const MAX: usize = 64;
    let mut cut: String = text.chars().take(MAX).collect();
    if cut.len() < text.len() {
        cut.push('…');
    }
    format!("{cut:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_collapses_controls_and_whitespace() {
        assert_eq!(one_line("  a\n\tb \r\n c\u{7}d  "), "a b c d");
        assert_eq!(one_line(""), "");
    }

    #[test]
    fn peer_line_is_bounded_on_a_char_boundary() {
        let long = "é".repeat(MAX_PEER_TEXT_CHARS + 10);
        let line = peer_line(&long);
        assert_eq!(line.chars().count(), MAX_PEER_TEXT_CHARS);
        assert_eq!(peer_line("a\nb"), "a b");
    }

    #[test]
    fn error_chain_says_each_cause_once() {
        #[derive(Debug)]
        struct Outer(std::io::Error);
        impl core::fmt::Display for Outer {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                write!(f, "reading x: {}", self.0)
            }
        }
        impl core::error::Error for Outer {
            fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let e = Outer(std::io::Error::other("disk on fire"));
        assert_eq!(error_chain(&e), "reading x: disk on fire");
    }

    #[test]
    fn quoted_is_bounded_and_escaped() {
        assert_eq!(quoted("a\"b"), "\"a\\\"b\"");
        assert!(quoted(&"x".repeat(100)).ends_with("…\""));
    }
}
