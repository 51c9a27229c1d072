//! The operators' endpoints: `/healthz` (on a service's main port) and
//! `/metrics` (on its own port, loopback by default: the page says how busy
//! the service is and why it refuses, which is nobody else's business).

use core::future::Future;
use core::net::SocketAddr;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header::CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;

use super::metrics::{self, Route};
use crate::Error;
use crate::listener::{self, ListenerLimits};

/// The path of the health probe.
pub const HEALTH_PATH: &str = "/healthz";

/// `200 {"status":"ok"}`: the service is up and answering.
pub async fn healthz() -> Response {
    metrics::metrics().request(Route::Health, 200);
    let mut r = (StatusCode::OK, r#"{"status":"ok"}"#).into_response();
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

/// The metrics page.
async fn page() -> Response {
    let mut r = (StatusCode::OK, metrics::render()).into_response();
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static(metrics::CONTENT_TYPE),
    );
    r
}

/// `GET /metrics` (and `/healthz`), 404 for the rest.
pub fn metrics_router() -> Router {
    Router::new()
        .route("/metrics", get(page))
        .route(HEALTH_PATH, get(healthz))
}

/// Binds `addr` for the metrics page.
///
/// # Errors
///
/// The address cannot be bound (in use, not ours), naming it.
pub async fn bind_metrics(addr: SocketAddr) -> Result<TcpListener, Error> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| Error::Content(format!("--metrics.port: cannot listen on {addr}: {e}")))
}

/// Serves the metrics page on `listener` until `shutdown` resolves.
///
/// # Errors
///
/// As [`listener::serve`].
pub async fn serve_metrics(
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "metrics page at /metrics");
    }
    listener::serve(
        listener,
        metrics_router(),
        ListenerLimits {
            max_connections: 64,
            name: "metrics",
            ..ListenerLimits::default()
        },
        shutdown,
    )
    .await
}
