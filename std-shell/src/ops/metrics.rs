//! What a running veil counts, as a Prometheus/OpenMetrics page.
//!
//! One set of metrics per process ([`metrics`]), as a Prometheus client's
//! default registry: a process runs one miner, one validator or one
//! beacon server (the sandbox runs several miners, and counts them
//! together). Labels come from fixed sets only — a route from the routes
//! veil serves plus `other`, a status code, a reason from [`Reason`] —
//! never a hotkey, a key or anything a caller chose, so no caller can grow
//! the page.
//!
//! | metric | labels | what |
//! |---|---|---|
//! | `veil_requests_total` | `route`, `status` | HTTP requests answered (axon, beacon server) |
//! | `veil_answer_seconds` | | a miner's answers, from admission to answer |
//! | `veil_listener_connections` | `listener` | connections open now (`main`: the service's port; `metrics`) |
//! | `veil_listener_connections_max` | `listener` | the cap on them |
//! | `veil_listener_closed_total` | `listener`, `why` | connections the listener closed: `evicted`, `expired`, `refused` |
//! | `veil_uploads_total` | `outcome` | objects uploaded: `stored`, `retried`, `spooled`, `flushed` |
//! | `veil_spool_depth` | | objects waiting in the spool |
//! | `veil_cycles_total` | `outcome` | validator cycles: `done`, `failed` |
//! | `veil_submissions_total` | `verdict`, `reason` | submissions the validator `accepted` or `refused`, and why |
//! | `veil_reveal_verdicts_total` | `verdict` | the reveal's verdicts: `verified`, `failed`, `unavailable` |
//! | `veil_beacon_fetches_total` | `outcome` | beacons fetched from relays: `ok`, `not_yet`, `error` |
//! | `veil_chain_actions_total` | `action`, `outcome` | axon served, commitment posted, weights set, metagraph read |

use core::sync::atomic::AtomicI64;
use std::sync::LazyLock;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// The `Content-Type` of [`render`]'s page.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The routes veil serves, as labels; anything else is `other`.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum Route {
    /// The miner's synapse (`/IdentitySynapse`).
    Synapse,
    /// `/healthz`.
    Health,
    /// The beacon server's `/info` and `/{chain}/info`.
    BeaconInfo,
    /// The beacon server's `/public/…` and `/{chain}/public/…`.
    BeaconPublic,
    /// Anything else.
    Other,
}

impl Route {
    fn label(self) -> &'static str {
        match self {
            Self::Synapse => "synapse",
            Self::Health => "healthz",
            Self::BeaconInfo => "beacon_info",
            Self::BeaconPublic => "beacon_public",
            Self::Other => "other",
        }
    }
}

/// Why the validator refused a submission: the check that failed first
/// (`phase4::validator::checks`).
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum Reason {
    /// The record's shape.
    Shape,
    /// The key is not this challenge's and this miner's.
    Key,
    /// The type was not requested, or repeats.
    Type,
    /// The signature does not verify.
    Signature,
    /// The object is not in the store, or the store failed.
    Object,
    /// The object is larger than the cap.
    Size,
    /// Not a ciphertext of this chain, or sealed to a round that does not
    /// fit.
    Seal,
    /// The answer was refused whole (no answer, a bad status, bad JSON).
    Answer,
}

impl Reason {
    /// The label value.
    pub fn label(self) -> &'static str {
        match self {
            Self::Shape => "shape",
            Self::Key => "key",
            Self::Type => "type",
            Self::Signature => "signature",
            Self::Object => "object",
            Self::Size => "size",
            Self::Seal => "seal",
            Self::Answer => "answer",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteStatus {
    route: &'static str,
    status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Listener {
    listener: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Closed {
    listener: &'static str,
    why: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Verdict {
    verdict: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Submission {
    verdict: &'static str,
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ChainAction {
    action: &'static str,
    outcome: &'static str,
}

/// Every metric of this process.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RouteStatus, Counter>,
    answer_seconds: Histogram,
    connections: Family<Listener, Gauge<i64, AtomicI64>>,
    connections_max: Family<Listener, Gauge<i64, AtomicI64>>,
    closed: Family<Closed, Counter>,
    uploads: Family<Outcome, Counter>,
    spool_depth: Gauge<i64, AtomicI64>,
    cycles: Family<Outcome, Counter>,
    submissions: Family<Submission, Counter>,
    verdicts: Family<Verdict, Counter>,
    beacons: Family<Outcome, Counter>,
    chain: Family<ChainAction, Counter>,
}

/// This process's metrics.
pub fn metrics() -> &'static Metrics {
    static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);
    &METRICS
}

/// The page: every metric in the OpenMetrics text format ([`CONTENT_TYPE`]);
/// a family with no sample yet (no chain action in a run without a chain)
/// is left out.
pub fn render() -> String {
    let mut page = String::new();
    // Writing into a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut page, &metrics().registry);
    page
}

/// A status code as a label from a fixed set.
fn status_label(status: u16) -> &'static str {
    match status {
        200 => "200",
        204 => "204",
        400 => "400",
        401 => "401",
        403 => "403",
        404 => "404",
        405 => "405",
        408 => "408",
        413 => "413",
        429 => "429",
        500 => "500",
        503 => "503",
        _ if status < 300 => "2xx",
        _ if status < 400 => "3xx",
        _ if status < 500 => "4xx",
        _ => "5xx",
    }
}

impl Metrics {
    fn new() -> Self {
        let m = Self {
            registry: Registry::default(),
            requests: Family::default(),
            // 1 ms to about 2 min.
            answer_seconds: Histogram::new(
                prometheus_client::metrics::histogram::exponential_buckets(0.001, 2.0, 18),
            ),
            connections: Family::default(),
            connections_max: Family::default(),
            closed: Family::default(),
            uploads: Family::default(),
            spool_depth: Gauge::default(),
            cycles: Family::default(),
            submissions: Family::default(),
            verdicts: Family::default(),
            beacons: Family::default(),
            chain: Family::default(),
        };
        let mut r = Registry::default();
        r.register(
            "veil_requests",
            "HTTP requests answered, by route and status",
            m.requests.clone(),
        );
        r.register(
            "veil_answer_seconds",
            "Time a miner took to answer an admitted request",
            m.answer_seconds.clone(),
        );
        r.register(
            "veil_listener_connections",
            "Connections open now",
            m.connections.clone(),
        );
        r.register(
            "veil_listener_connections_max",
            "The most connections the listener keeps open",
            m.connections_max.clone(),
        );
        r.register(
            "veil_listener_closed",
            "Connections the listener closed: evicted at the cap, expired without a request, refused when full",
            m.closed.clone(),
        );
        r.register(
            "veil_uploads",
            "Objects uploaded: stored at once, retried, spooled, flushed from the spool",
            m.uploads.clone(),
        );
        r.register(
            "veil_spool_depth",
            "Objects waiting in the upload spool",
            m.spool_depth.clone(),
        );
        r.register(
            "veil_cycles",
            "Validator cycles, by outcome",
            m.cycles.clone(),
        );
        r.register(
            "veil_submissions",
            "Submissions the validator accepted or refused, by reason",
            m.submissions.clone(),
        );
        r.register(
            "veil_reveal_verdicts",
            "The reveal's verdicts on submissions",
            m.verdicts.clone(),
        );
        r.register(
            "veil_beacon_fetches",
            "Beacons fetched from drand relays, by outcome",
            m.beacons.clone(),
        );
        r.register(
            "veil_chain_actions",
            "Chain actions (serve_axon, post_commitment, set_weights, metagraph), by outcome",
            m.chain.clone(),
        );
        Self { registry: r, ..m }
    }

    /// A request to `route` answered with `status`.
    pub fn request(&self, route: Route, status: u16) {
        self.requests
            .get_or_create(&RouteStatus {
                route: route.label(),
                status: status_label(status),
            })
            .inc();
    }

    /// A miner's answer took `seconds`.
    pub fn answered(&self, seconds: f64) {
        self.answer_seconds.observe(seconds);
    }

    /// The listener `name` holds `open` connections of at most `max`.
    pub fn connections(&self, name: &'static str, open: usize, max: usize) {
        let l = Listener { listener: name };
        self.connections
            .get_or_create(&l)
            .set(i64::try_from(open).unwrap_or(i64::MAX));
        self.connections_max
            .get_or_create(&l)
            .set(i64::try_from(max).unwrap_or(i64::MAX));
    }

    /// The listener `name` closed a connection: `evicted`, `expired` or
    /// `refused`.
    pub fn closed(&self, name: &'static str, why: &'static str) {
        self.closed
            .get_or_create(&Closed {
                listener: name,
                why,
            })
            .inc();
    }

    /// An upload: `stored`, `retried`, `spooled` or `flushed`.
    pub fn upload(&self, outcome: &'static str) {
        self.uploads.get_or_create(&Outcome { outcome }).inc();
    }

    /// The spool holds `depth` objects.
    pub fn spool_depth(&self, depth: usize) {
        self.spool_depth
            .set(i64::try_from(depth).unwrap_or(i64::MAX));
    }

    /// A validator cycle ended: `done` or `failed`.
    pub fn cycle(&self, outcome: &'static str) {
        self.cycles.get_or_create(&Outcome { outcome }).inc();
    }

    /// `n` submissions accepted.
    pub fn accepted(&self, n: usize) {
        self.submissions
            .get_or_create(&Submission {
                verdict: "accepted",
                reason: "",
            })
            .inc_by(n as u64);
    }

    /// A submission (or a whole answer) refused for `reason`.
    pub fn refused(&self, reason: Reason) {
        self.submissions
            .get_or_create(&Submission {
                verdict: "refused",
                reason: reason.label(),
            })
            .inc();
    }

    /// `n` reveal verdicts: `verified`, `failed` or `unavailable`.
    pub fn verdicts(&self, verdict: &'static str, n: usize) {
        self.verdicts
            .get_or_create(&Verdict { verdict })
            .inc_by(n as u64);
    }

    /// A beacon fetch from the relays: `ok`, `not_yet` or `error`.
    pub fn beacon_fetch(&self, outcome: &'static str) {
        self.beacons.get_or_create(&Outcome { outcome }).inc();
    }

    /// A chain action and its outcome (`ok`, `unchanged`, `rate_limited`,
    /// `error`).
    pub fn chain_action(&self, action: &'static str, outcome: &'static str) {
        self.chain
            .get_or_create(&ChainAction { action, outcome })
            .inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_names_every_family_and_ends_as_openmetrics_does() {
        let m = metrics();
        m.request(Route::Synapse, 200);
        m.request(Route::Other, 999);
        m.refused(Reason::Signature);
        m.answered(0.25);
        let page = render();
        for name in [
            "veil_requests_total{route=\"synapse\",status=\"200\"}",
            "veil_requests_total{route=\"other\",status=\"5xx\"}",
            "veil_submissions_total{verdict=\"refused\",reason=\"signature\"}",
            "veil_answer_seconds_bucket",
            "# TYPE veil_spool_depth gauge",
            "# TYPE veil_requests counter",
        ] {
            assert!(page.contains(name), "{name} in\n{page}");
        }
        assert!(page.ends_with("# EOF\n"), "{page}");
    }
}
