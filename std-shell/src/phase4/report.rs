//! The HTML report of a reveal: one self-contained page per cycle (every
//! image inlined as a `data:` URI, no script, no request leaves the page),
//! with the base image, a summary table of the miners, and each miner's
//! revealed variations as thumbnails with their type, verdict and reason.
//!
//! Everything a miner controls (keys, types, reasons) is HTML-escaped, and
//! the page's Content-Security-Policy allows only inline styles and
//! `data:` images, so a hostile string can neither run nor fetch anything.

use core::fmt::Write as _;
use std::path::Path;

use super::images::{self, ImageLimits};
use super::records::{BaseRecord, Checked, MinerOutcome};
use crate::limits::MAX_THUMBNAIL_FILE;

/// Longest side of the base image as shown, pixels.
const BASE_SIDE: u32 = 320;

/// What the page shows.
#[derive(Debug)]
pub struct Page<'a> {
    /// The reveal's output folder (thumbnails are read under it).
    pub out_dir: &'a Path,
    /// The challenge.
    pub challenge_id: &'a str,
    /// The target round.
    pub round: u64,
    /// The chain's hash, hex.
    pub chain_hash: &'a str,
    /// The base image.
    pub base: Option<&'a BaseRecord>,
    /// The miners, by uid.
    pub miners: &'a [MinerOutcome],
}

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem;color:#1d2330;background:#f7f8fa}
h1{font-size:1.4rem;margin:0 0 .3rem}h2{font-size:1.1rem;margin:2rem 0 .5rem}
.meta{color:#5a6272;font-size:.9rem;word-break:break-all}
.top{display:flex;gap:2rem;align-items:flex-start;flex-wrap:wrap;margin:1rem 0}
figure{margin:0;background:#fff;border:1px solid #dde1e8;border-radius:6px;padding:.5rem;width:200px}
figure img{display:block;max-width:192px;max-height:192px;margin:auto}
figure.base{width:auto}figure.base img{max-width:320px;max-height:320px}
figcaption{font-size:.8rem;margin-top:.4rem;word-break:break-word}
.grid{display:flex;flex-wrap:wrap;gap:.8rem}
.none{width:192px;height:120px;display:flex;align-items:center;justify-content:center;background:#eef0f4;color:#8a92a3;font-size:.8rem;text-align:center}
table{border-collapse:collapse;background:#fff}th,td{border:1px solid #dde1e8;padding:.3rem .6rem;font-size:.9rem;text-align:right}
th{background:#eef0f4}td.k{text-align:left;font-family:ui-monospace,monospace;font-size:.8rem}
.verified{color:#176f2c;font-weight:600}.failed{color:#b3261e;font-weight:600}.unavailable{color:#8a6100;font-weight:600}
";

/// The page, as one HTML document.
pub fn render(page: &Page<'_>) -> String {
    let mut h = String::with_capacity(64 * 1024);
    let cid = escape(page.challenge_id);
    let total = |f: fn(&MinerOutcome) -> usize| page.miners.iter().map(f).sum::<usize>();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>veil reveal: {cid}</title><style>{STYLE}</style></head><body>\n\
         <h1>Reveal of {cid}</h1>\n\
         <p class=\"meta\">drand round {round} of chain {chain}. {m} miners; {acc} submissions accepted by the validator, \
         {rev} revealed, <span class=\"verified\">{ver} verified</span>, <span class=\"failed\">{fail} failed</span>.</p>\n",
        round = page.round,
        chain = escape(page.chain_hash),
        m = page.miners.len(),
        acc = total(|m| m.accepted),
        rev = total(|m| m.revealed),
        ver = total(|m| m.verified),
        fail = total(|m| m.failed),
    );
    h.push_str("<div class=\"top\">");
    if let Some(base) = page.base {
        let shown = base
            .path
            .as_deref()
            .and_then(|p| crate::fs::read_file_capped(p, ImageLimits::default().max_bytes).ok())
            .and_then(|bytes| images::decode(&bytes, &ImageLimits::default()).ok())
            .and_then(|img| images::thumbnail_jpeg(&img, BASE_SIDE).ok());
        let _ = write!(h, "<figure class=\"base\">");
        match shown {
            Some(jpeg) => {
                let _ = write!(
                    h,
                    "<img data-kind=\"base\" alt=\"base image {name}\" src=\"data:image/jpeg;base64,{b64}\">",
                    name = escape(&base.filename),
                    b64 = images::encode_base64(&jpeg)
                );
            }
            None => h.push_str("<div class=\"none\">base image copy not found</div>"),
        }
        let _ = write!(
            h,
            "<figcaption>base image <b>{}</b><br><span class=\"meta\">sha256 {}</span></figcaption></figure>",
            escape(&base.filename),
            escape(&base.sha256)
        );
    }
    summary_table(&mut h, page.miners);
    h.push_str("</div>\n");
    for m in page.miners {
        miner_section(&mut h, page, m);
    }
    h.push_str("</body></html>\n");
    h
}

fn summary_table(h: &mut String, miners: &[MinerOutcome]) {
    h.push_str(
        "<table id=\"summary\"><thead><tr><th>uid</th><th>hotkey</th><th>answer</th>\
         <th>requested</th><th>sealed</th><th>accepted</th><th>revealed</th><th>verified</th>\
         <th>failed</th></tr></thead><tbody>\n",
    );
    for m in miners {
        let answer = match (&m.error, m.status_code) {
            (Some(e), Some(s)) => format!("{s}: {e}"),
            (Some(e), None) => e.clone(),
            (None, Some(s)) => s.to_string(),
            (None, None) => String::new(),
        };
        let _ = writeln!(
            h,
            "<tr data-uid=\"{uid}\" data-hotkey=\"{hk}\"><td>{uid}</td><td class=\"k\">{hk}</td>\
             <td class=\"k\">{answer}</td><td>{req}</td><td>{rep}</td><td>{acc}</td><td>{rev}</td>\
             <td class=\"verified\">{ver}</td><td class=\"failed\">{fail}</td></tr>",
            uid = m.uid,
            hk = escape(&m.hotkey),
            answer = escape(&answer),
            req = m.requested,
            rep = m.reported,
            acc = m.accepted,
            rev = m.revealed,
            ver = m.verified,
            fail = m.failed,
        );
    }
    h.push_str("</tbody></table>");
}

fn miner_section(h: &mut String, page: &Page<'_>, m: &MinerOutcome) {
    let _ = write!(
        h,
        "<section data-uid=\"{uid}\"><h2>uid {uid} <span class=\"meta\">{hk}</span></h2>",
        uid = m.uid,
        hk = escape(&m.hotkey)
    );
    if m.images.is_empty() {
        let _ = writeln!(
            h,
            "<p class=\"meta\">No submission accepted{}.</p></section>",
            m.error
                .as_ref()
                .map(|e| format!(": {}", escape(e)))
                .unwrap_or_default()
        );
        return;
    }
    h.push_str("<div class=\"grid\">");
    for c in &m.images {
        h.push_str("<figure>");
        thumbnail(h, page, c, "variation");
        if let Some(second) = &c.angle2 {
            thumbnail(h, page, second, "angle2");
        }
        let _ = write!(
            h,
            "<figcaption><b>{kind}</b> <span class=\"{verdict}\">{verdict}</span>{reason}",
            kind = escape(&c.variation_type),
            verdict = c.verdict.as_str(),
            reason = c
                .reason
                .as_ref()
                .map(|r| format!("<br>{}", escape(r)))
                .unwrap_or_default()
        );
        if let Some(note) = &c.changed_after_acceptance {
            let _ = write!(
                h,
                "<br><span class=\"meta\" data-kind=\"changed\">changed after acceptance: {}</span>",
                escape(note)
            );
        }
        if let Some(u) = &c.screen_replay_uav {
            let cues = [
                ("moiré / pixel grid", u.moire_pixel_grid),
                ("screen glare", u.screen_glare_hotspots),
                ("keystone distortion", u.perspective_keystone_distortion),
                ("gamma / contrast shift", u.gamma_contrast_shift),
                ("edge / crop cues", u.edge_crop_cues),
            ]
            .iter()
            .map(|(name, seen)| format!("{name}: {}", if *seen { "yes" } else { "no" }))
            .collect::<Vec<_>>()
            .join(", ");
            let _ = write!(
                h,
                "<br><span class=\"meta\" data-kind=\"uav\">capture of <b>{seed}</b> on a {device}, \
                 {camera}, {date}; {cues}</span>",
                seed = escape(&u.seed_image),
                device = escape(&u.device_photographed),
                camera = escape(&u.camera_used),
                date = escape(&u.date),
                cues = escape(&cues),
            );
        }
        h.push_str("</figcaption></figure>");
    }
    h.push_str("</div></section>\n");
}

/// One image's thumbnail, inlined. Its path is rebuilt from uid, index and
/// angle, never read from the journal: the page inlines only files the
/// reveal wrote.
fn thumbnail(h: &mut String, page: &Page<'_>, c: &Checked, kind: &str) {
    let stem = if c.angle == 2 {
        format!("{}-{}-a2", c.uid, c.index)
    } else {
        format!("{}-{}", c.uid, c.index)
    };
    let thumb = c
        .thumbnail
        .as_ref()
        .map(|_| {
            page.out_dir
                .join(format!("reveal-{}", page.challenge_id))
                .join("thumbs")
                .join(format!("{stem}.jpg"))
        })
        .and_then(|p| crate::fs::read_file_capped(&p, MAX_THUMBNAIL_FILE).ok());
    match thumb {
        Some(jpeg) => {
            let _ = write!(
                h,
                "<img data-kind=\"{kind}\" alt=\"uid {uid} {what}\" src=\"data:image/jpeg;base64,{b64}\">",
                uid = c.uid,
                what = escape(&c.variation_type),
                b64 = images::encode_base64(&jpeg)
            );
        }
        None => h.push_str("<div class=\"none\">not revealed</div>"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_neutralizes_markup() {
        assert_eq!(
            escape("<script>alert('x')</script> & \"q\"\n"),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot; "
        );
    }
}
