//! Retries of transient store failures: jittered exponential backoff, the
//! same for every backend (the SDK's own retries are off).

use core::future::Future;
use core::time::Duration;

use super::StoreError;

/// How to retry transient failures: `attempts` tries in all, waiting
/// `base · 2^i` (capped at `max`, with up to 50 % random jitter) between them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Tries in all (1 means no retry).
    pub attempts: u32,
    /// The first wait.
    pub base: Duration,
    /// The longest wait.
    pub max: Duration,
}

impl Default for RetryPolicy {
    /// Four tries over about 3.5 s.
    fn default() -> Self {
        Self {
            attempts: 4,
            base: Duration::from_millis(500),
            max: Duration::from_secs(8),
        }
    }
}

impl RetryPolicy {
    /// The wait after failed try `i` (0-based), jittered.
    fn backoff(&self, i: u32) -> Duration {
        use rand_core::RngCore as _;
        let exp = self
            .base
            .saturating_mul(1u32.checked_shl(i.min(16)).unwrap_or(u32::MAX))
            .min(self.max);
        let jitter = f64::from(rand_core::OsRng.next_u32() % 1000) / 2000.0;
        exp.mul_f64(1.0 + jitter).min(self.max.max(self.base))
    }

    /// Runs `op` until it succeeds, fails with a non-transient error, or the
    /// tries run out (the last error is returned).
    ///
    /// # Errors
    ///
    /// The last [`StoreError`].
    pub async fn run<T, F, Fut>(&self, what: &str, mut op: F) -> Result<T, StoreError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, StoreError>>,
    {
        let attempts = self.attempts.max(1);
        let mut i = 0;
        loop {
            match op().await {
                Ok(v) => return Ok(v),
                Err(e) if e.is_transient() && i + 1 < attempts => {
                    let wait = self.backoff(i);
                    tracing::info!(%e, ?wait, attempt = i + 1, "{what}: transient failure, retrying");
                    tokio::time::sleep(wait).await;
                    i += 1;
                }
                Err(e) if i > 0 => {
                    return Err(StoreError::new(
                        e.kind,
                        format!("{e} (after {} tries)", i + 1),
                    ));
                }
                Err(e) => return Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::ErrorKind;
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn retries_only_transient_failures() {
        let policy = RetryPolicy {
            attempts: 3,
            base: Duration::from_millis(10),
            max: Duration::from_millis(40),
        };
        let mut calls = 0;
        let r: Result<(), _> = policy
            .run("op", || {
                calls += 1;
                async { Err(StoreError::new(ErrorKind::Transient, "flaky")) }
            })
            .await;
        assert_eq!(calls, 3);
        assert_eq!(r.unwrap_err().to_string(), "flaky (after 3 tries)");

        let mut calls = 0;
        let r: Result<(), _> = policy
            .run("op", || {
                calls += 1;
                async { Err(StoreError::new(ErrorKind::Denied, "no")) }
            })
            .await;
        assert_eq!((calls, r.unwrap_err().to_string()), (1, "no".to_owned()));

        let mut calls = 0;
        let r = policy
            .run("op", || {
                calls += 1;
                let n = calls;
                async move {
                    if n < 2 {
                        Err(StoreError::new(ErrorKind::Transient, "once"))
                    } else {
                        Ok(n)
                    }
                }
            })
            .await;
        assert_eq!(r.unwrap(), 2);
        for i in 0..20 {
            let w = policy.backoff(i);
            assert!(w >= policy.base.min(policy.max) && w <= policy.max, "{w:?}");
        }
    }
}
