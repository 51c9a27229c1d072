//! A real browser as a peer: Debian's chromium, headless, driven by
//! playwright-core (npm, pinned by `tests/peers/browser/package-lock.json`)
//! through `tests/peers/browser/report_check.mjs`, renders the self-contained
//! HTML report veil writes and says what it saw ([`render`]).
//!
//! `scripts/setup-peers` installs both and `scripts/test` points
//! `$VEIL_PEER_BROWSER_DIR` at the peer directory and `$VEIL_CHROMIUM` at the
//! browser (default `/usr/bin/chromium`); without them [`render`] notes the
//! peer is missing (a failure under `VEIL_REQUIRE_PEERS=1`).

use core::time::Duration;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;

use crate::bittensor::run_limited;
use crate::{Scratch, peer_missing};

/// How long one `report_check.mjs` run may take before it is killed and the
/// test fails. The script gives up by itself after 60 s; a render takes ~2 s
/// on an idle machine.
pub const RUN_LIMIT: Duration = Duration::from_secs(120);

/// The browser used when `$VEIL_CHROMIUM` is unset: Debian's `chromium`.
pub const DEFAULT_CHROMIUM: &str = "/usr/bin/chromium";

/// What the browser saw once the report's `load` event fired.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rendered {
    /// `document.title`.
    pub title: String,
    /// Every `<img>` of the document, in document order.
    pub images: Vec<RenderedImage>,
    /// The `<tr>` elements of `table#summary tbody`, in document order.
    pub rows: Vec<RenderedRow>,
    /// The text of each console message of type `error` or `warning`
    /// (including the browser's own, e.g. `Failed to load resource: …`).
    pub console: Vec<String>,
    /// The message of each uncaught exception.
    pub page_errors: Vec<String>,
    /// Every URL the page requested that is not a `data:` URL, the report's
    /// own `file:` URL first. `http(s)` requests are recorded, then aborted:
    /// the browser never reaches the network.
    pub requests: Vec<String>,
}

/// One `<img>` as rendered.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenderedImage {
    /// Its `data-kind` attribute, if present and not empty.
    pub kind: Option<String>,
    /// Its `alt` text (empty when absent).
    pub alt: String,
    /// `img.complete`. Chromium reports a broken image as complete too: check
    /// [`natural_width`](Self::natural_width) to tell that it decoded.
    pub complete: bool,
    /// `img.naturalWidth`: 0 when the image did not decode.
    #[serde(rename = "naturalWidth")]
    pub natural_width: u32,
    /// `img.naturalHeight`: 0 when the image did not decode.
    #[serde(rename = "naturalHeight")]
    pub natural_height: u32,
    /// The scheme of its source URL, without the colon (`data`, `file`,
    /// `http`, …; empty when it has no source).
    pub src_scheme: String,
}

/// One row of the report's summary table.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenderedRow {
    /// Its `data-uid` attribute.
    pub uid: Option<String>,
    /// Its `data-hotkey` attribute.
    pub hotkey: Option<String>,
    /// The text of each of its `<td>`/`<th>` cells, trimmed.
    pub cells: Vec<String>,
}

/// The peer directory and the browser, or `None` after [`peer_missing`].
fn installed() -> Option<(PathBuf, PathBuf)> {
    let Some(dir) = std::env::var_os("VEIL_PEER_BROWSER_DIR").map(PathBuf::from) else {
        peer_missing("the browser peer ($VEIL_PEER_BROWSER_DIR unset)");
        return None;
    };
    if !dir
        .join("node_modules/playwright-core/package.json")
        .exists()
    {
        peer_missing(&format!(
            "playwright-core (npm; {}/node_modules)",
            dir.display()
        ));
        return None;
    }
    let chromium = std::env::var_os("VEIL_CHROMIUM")
        .filter(|v| !v.is_empty())
        .map_or_else(|| PathBuf::from(DEFAULT_CHROMIUM), PathBuf::from);
    if !chromium.exists() {
        peer_missing(&format!(
            "chromium (Debian package; {}, or $VEIL_CHROMIUM)",
            chromium.display()
        ));
        return None;
    }
    Some((dir, chromium))
}

/// Renders `report` (an HTML file) in headless chromium and returns what the
/// browser saw, saving a full-page PNG screenshot at `screenshot` if given.
///
/// `None` when the browser peer is not installed and `VEIL_REQUIRE_PEERS` is
/// unset (with a NOTE on stderr).
///
/// # Panics
///
/// When the peer is required but missing, a path cannot be made absolute,
/// `report_check.mjs` fails (with its stderr) or runs over [`RUN_LIMIT`], or
/// prints something other than its JSON document.
pub fn render(report: &Path, screenshot: Option<&Path>) -> Option<Rendered> {
    let (dir, chromium) = installed()?;
    // The script runs in the peer directory: hand it absolute paths.
    let absolute = |p: &Path| {
        std::path::absolute(p).unwrap_or_else(|e| panic!("absolute path of {}: {e}", p.display()))
    };
    let scratch = Scratch::new("browser");
    let mut cmd = Command::new("node");
    cmd.current_dir(&dir)
        .env("VEIL_CHROMIUM", &chromium)
        .arg("report_check.mjs")
        .arg(absolute(report));
    if let Some(png) = screenshot {
        cmd.arg(absolute(png));
    }
    let out = run_limited(&mut cmd, &scratch, "report_check", RUN_LIMIT);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "report_check.mjs {} failed ({}): {stderr}",
        report.display(),
        out.status
    );
    let rendered = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "report_check.mjs printed no report JSON ({e}): {:?}\n{stderr}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    Some(rendered)
}
