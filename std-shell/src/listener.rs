//! Serving HTTP/1 on a listener that holds a flood: every connection must
//! send a complete request header within [`ListenerLimits::header_timeout`]
//! and within [`ListenerLimits::max_header_bytes`]; the number of open
//! connections is capped below the process's descriptor limit; at the cap,
//! the oldest connection *without a complete request* is closed to admit a
//! new one, taken from the address that holds the most such connections.
//!
//! A connection that has sent a complete request is never evicted, and a
//! new connection is always admitted while any connection is still waiting
//! for its header: however many half-open connections an address holds,
//! a caller that sends a whole request is answered. Idle keep-alive
//! connections count as waiting (they hold no request), so they are closed
//! by the same timeout.
//!
//! The miner's axon and the devnet beacon both serve through here.

use alloc::sync::Arc;
use core::future::Future;
use core::net::IpAddr;
use core::time::Duration;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};

use crate::limits::{
    DEFAULT_MAX_CONNECTIONS, DESCRIPTOR_RESERVE, HEADER_TIMEOUT, MAX_HEADER_BYTES,
};
use crate::ops::metrics::metrics;

/// How a listener bounds its connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListenerLimits {
    /// A complete request header must arrive within this, counted from the
    /// connection's accept or from the end of its previous answer.
    pub header_timeout: Duration,
    /// Largest request header (hyper's read buffer; at least 8 KiB).
    pub max_header_bytes: usize,
    /// Most connections open at once.
    pub max_connections: usize,
    /// The listener's name in the metrics: `main` (a service's own port)
    /// or `metrics`.
    pub name: &'static str,
}

impl Default for ListenerLimits {
    /// [`HEADER_TIMEOUT`], [`MAX_HEADER_BYTES`], and
    /// [`DEFAULT_MAX_CONNECTIONS`] or fewer when the descriptor limit
    /// ([`descriptor_limit`]) leaves less room.
    fn default() -> Self {
        let by_descriptors =
            descriptor_limit().map_or(usize::MAX, |n| n.saturating_sub(DESCRIPTOR_RESERVE).max(16));
        Self {
            header_timeout: HEADER_TIMEOUT,
            max_header_bytes: MAX_HEADER_BYTES,
            max_connections: DEFAULT_MAX_CONNECTIONS.min(by_descriptors),
            name: "main",
        }
    }
}

/// The soft limit on open file descriptors of this process, when the
/// system says (Linux: `/proc/self/limits`).
pub fn descriptor_limit() -> Option<usize> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// One open connection, as the table knows it.
struct Conn {
    ip: IpAddr,
    /// `Some(since)` while no complete request is in progress.
    waiting_since: Option<Instant>,
    close: Arc<Notify>,
}

/// Every open connection.
#[derive(Default)]
struct Table {
    conns: HashMap<u64, Conn>,
    next_id: u64,
}

impl Table {
    /// Admits a connection from `ip`, evicting a waiting one at the cap;
    /// `None` when the table is full of connections serving requests.
    fn admit(&mut self, ip: IpAddr, max: usize, name: &'static str) -> Option<(u64, Arc<Notify>)> {
        if self.conns.len() >= max.max(1) {
            let victim = self.victim()?;
            if let Some(c) = self.conns.remove(&victim) {
                c.close.notify_one();
                metrics().closed(name, "evicted");
            }
        }
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        let close = Arc::new(Notify::new());
        self.conns.insert(
            id,
            Conn {
                ip,
                waiting_since: Some(Instant::now()),
                close: Arc::clone(&close),
            },
        );
        Some((id, close))
    }

    /// The oldest waiting connection of the address with the most waiting
    /// connections.
    fn victim(&self) -> Option<u64> {
        let mut per_ip: HashMap<IpAddr, usize> = HashMap::new();
        for c in self.conns.values().filter(|c| c.waiting_since.is_some()) {
            *per_ip.entry(c.ip).or_default() += 1;
        }
        let (&ip, _) = per_ip.iter().max_by_key(|(_, n)| **n)?;
        self.conns
            .iter()
            .filter_map(|(id, c)| Some((id, c.waiting_since?, c.ip)))
            .filter(|(_, _, i)| *i == ip)
            .min_by_key(|(_, since, _)| *since)
            .map(|(id, _, _)| *id)
    }

    fn set_waiting(&mut self, id: u64, waiting: bool) {
        if let Some(c) = self.conns.get_mut(&id) {
            c.waiting_since = waiting.then(Instant::now);
        }
    }

    /// Closes every connection that has waited longer than `timeout`.
    fn sweep(&mut self, timeout: Duration, name: &'static str) {
        let now = Instant::now();
        self.conns.retain(|_, c| {
            let expired = c
                .waiting_since
                .is_some_and(|s| now.saturating_duration_since(s) > timeout);
            if expired {
                c.close.notify_one();
                metrics().closed(name, "expired");
            }
            !expired
        });
    }
}

/// Serves `app` on `listener` within `limits` until `shutdown` resolves;
/// then stops accepting, lets requests in progress finish, and returns.
///
/// # Errors
///
/// Never in practice: accept errors (a full descriptor table, say) are
/// logged and retried after a pause.
pub async fn serve(
    listener: TcpListener,
    app: axum::Router,
    limits: ListenerLimits,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let table = Arc::new(Mutex::new(Table::default()));
    let (stop_tx, stop_rx) = watch::channel(false);
    let sweeper = {
        let table = Arc::clone(&table);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(500));
            loop {
                tick.tick().await;
                if let Ok(mut t) = table.lock() {
                    t.sweep(limits.header_timeout, limits.name);
                }
            }
        })
    };
    let mut shutdown = core::pin::pin!(shutdown);
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            () = &mut shutdown => break,
            // Reap finished connection tasks so the set stays small.
            Some(_) = tasks.join_next(), if !tasks.is_empty() => continue,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed; pausing");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let admitted = table
            .lock()
            .ok()
            .and_then(|mut t| t.admit(peer.ip(), limits.max_connections, limits.name));
        let Some((id, close)) = admitted else {
            tracing::debug!(%peer, "every connection is serving a request: refused");
            metrics().closed(limits.name, "refused");
            drop(stream);
            continue;
        };
        if let Ok(t) = table.lock() {
            metrics().connections(limits.name, t.conns.len(), limits.max_connections);
        }
        let table = Arc::clone(&table);
        let app = app.clone();
        let mut stop = stop_rx.clone();
        tasks.spawn(async move {
            let marks = Arc::clone(&table);
            let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
                let app = app.clone();
                let marks = Arc::clone(&marks);
                if let Ok(mut t) = marks.lock() {
                    t.set_waiting(id, false);
                }
                async move {
                    let response = tower::ServiceExt::oneshot(app, req).await;
                    if let Ok(mut t) = marks.lock() {
                        t.set_waiting(id, true);
                    }
                    response
                }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                .max_buf_size(limits.max_header_bytes.max(8192))
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service);
            let mut conn = core::pin::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                () = close.notified() => {}
                _ = stop.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
            if let Ok(mut t) = table.lock() {
                t.conns.remove(&id);
                metrics().connections(limits.name, t.conns.len(), limits.max_connections);
            }
        });
    }
    let _ = stop_tx.send(true);
    sweeper.abort();
    while tasks.join_next().await.is_some() {}
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, last])
    }

    #[test]
    fn at_the_cap_the_oldest_waiting_connection_of_the_busiest_address_goes() {
        let mut t = Table::default();
        let (a1, a1_close) = t.admit(ip(1), 4, "test").unwrap();
        let (_a2, _) = t.admit(ip(1), 4, "test").unwrap();
        let (b1, _) = t.admit(ip(2), 4, "test").unwrap();
        let (s, _) = t.admit(ip(3), 4, "test").unwrap();
        // b1 and s have sent whole requests: they are never evicted.
        t.set_waiting(b1, false);
        t.set_waiting(s, false);
        let (_new, _) = t.admit(ip(2), 4, "test").unwrap();
        assert!(
            !t.conns.contains_key(&a1),
            "the oldest of the busiest address"
        );
        assert_eq!(t.conns.len(), 4);
        // The evicted connection was told to close.
        let notified = a1_close.notified();
        futures_util::pin_mut!(notified);
        assert!(futures_util::FutureExt::now_or_never(notified).is_some());
        assert!(t.conns.contains_key(&b1) && t.conns.contains_key(&s));
    }

    #[test]
    fn a_table_full_of_requests_refuses_and_idle_ones_expire() {
        let mut t = Table::default();
        let (x, _) = t.admit(ip(1), 1, "test").unwrap();
        t.set_waiting(x, false);
        assert!(t.admit(ip(2), 1, "test").is_none(), "nothing to evict");
        t.set_waiting(x, true);
        t.sweep(Duration::ZERO, "test");
        std::thread::sleep(Duration::from_millis(2));
        t.sweep(Duration::ZERO, "test");
        assert!(t.conns.is_empty());
    }
}
