//! Where time comes from: the system clock in production, a settable one in
//! tests, so that nothing depends on how busy the machine is. This is the
//! only place the shell reads wall time; everything else takes a
//! [`Clock`].

use core::time::Duration;
use std::time::{SystemTime, UNIX_EPOCH};

/// A source of wall time.
pub trait Clock: Send + Sync {
    /// Now, in unix seconds.
    fn now(&self) -> u64;

    /// Now, in nanoseconds since the unix epoch (the unit of the axon's
    /// nonces). By default [`Clock::now`] in nanoseconds.
    fn now_ns(&self) -> u64 {
        self.now().saturating_mul(1_000_000_000)
    }
}

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl SystemClock {
    fn since_epoch() -> Duration {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
    }
}

impl Clock for SystemClock {
    fn now(&self) -> u64 {
        Self::since_epoch().as_secs()
    }

    fn now_ns(&self) -> u64 {
        u64::try_from(Self::since_epoch().as_nanos()).unwrap_or(u64::MAX)
    }
}

/// The time until unix second `at` by `clock`, or zero when it has passed.
pub fn until(clock: &dyn Clock, at: u64) -> Duration {
    Duration::from_secs(at.saturating_sub(clock.now()))
}
