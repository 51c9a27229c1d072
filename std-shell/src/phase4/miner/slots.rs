//! The miner's work slots (a generator run, a base image's decoding): a
//! bound on all of them at once, and a smaller one per caller, so one
//! caller's requests cannot keep every slot — a GPU's, say — from the
//! others. Slots are granted in arrival order.

use alloc::sync::Arc;
use std::collections::HashMap;
use std::sync::Mutex;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The slots, shared by all requests.
#[derive(Debug)]
pub(crate) struct Slots {
    all: Arc<Semaphore>,
    per_caller: usize,
    /// One semaphore per caller with work in progress or waiting, and how
    /// many slots it holds or awaits: entries leave when that reaches
    /// zero, so the map holds at most as many callers as there are
    /// requests in flight.
    callers: Mutex<HashMap<[u8; 32], CallerSlots>>,
}

/// One caller's semaphore, and how many slots it holds or awaits.
type CallerSlots = (Arc<Semaphore>, usize);

/// A slot held; given back when dropped.
#[derive(Debug)]
pub(crate) struct Slot {
    slots: Arc<Slots>,
    caller: [u8; 32],
    mine: Option<OwnedSemaphorePermit>,
    all: Option<OwnedSemaphorePermit>,
}

impl Slots {
    /// `total` slots, at most `per_caller` of them (clamped to 1..=total)
    /// for one caller at once.
    pub(crate) fn new(total: usize, per_caller: usize) -> Self {
        let total = total.max(1);
        Self {
            all: Arc::new(Semaphore::new(total)),
            per_caller: per_caller.clamp(1, total),
            callers: Mutex::new(HashMap::new()),
        }
    }

    /// Waits for a slot for `caller` (its public key); `None` when the
    /// miner is shutting down.
    pub(crate) async fn acquire(self: &Arc<Self>, caller: [u8; 32]) -> Option<Slot> {
        let own = {
            let mut callers = self.callers.lock().ok()?;
            let (own, users) = callers
                .entry(caller)
                .or_insert_with(|| (Arc::new(Semaphore::new(self.per_caller)), 0));
            *users += 1;
            Arc::clone(own)
        };
        // From here on, dropping `slot` (even while waiting) counts it out.
        let mut slot = Slot {
            slots: Arc::clone(self),
            caller,
            mine: None,
            all: None,
        };
        slot.mine = Some(own.acquire_owned().await.ok()?);
        slot.all = Some(Arc::clone(&self.all).acquire_owned().await.ok()?);
        Some(slot)
    }

    /// Callers with a slot held or awaited (tests).
    #[cfg(test)]
    fn callers(&self) -> usize {
        self.callers.lock().map_or(0, |c| c.len())
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        drop(self.all.take());
        drop(self.mine.take());
        let Ok(mut callers) = self.slots.callers.lock() else {
            return;
        };
        if let Some((_, users)) = callers.get_mut(&self.caller) {
            *users = users.saturating_sub(1);
            if *users == 0 {
                callers.remove(&self.caller);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::time::Duration;

    #[tokio::test]
    async fn one_caller_cannot_take_every_slot() {
        let slots = Arc::new(Slots::new(4, 2));
        let greedy = [1u8; 32];
        let a = slots.acquire(greedy).await.unwrap();
        let b = slots.acquire(greedy).await.unwrap();
        // Its third waits, although two slots are free...
        let third = tokio::time::timeout(Duration::from_millis(50), slots.acquire(greedy)).await;
        assert!(third.is_err(), "a caller got more than its share");
        // ...which another caller gets at once.
        let other = tokio::time::timeout(Duration::from_millis(50), slots.acquire([2u8; 32]))
            .await
            .expect("another caller is not kept waiting")
            .unwrap();
        drop(a);
        let c = tokio::time::timeout(Duration::from_millis(50), slots.acquire(greedy))
            .await
            .expect("a slot given back is the caller's again")
            .unwrap();
        drop((b, c, other));
        assert_eq!(slots.callers(), 0, "idle callers are forgotten");
    }

    #[tokio::test]
    async fn the_total_bounds_all_callers() {
        let slots = Arc::new(Slots::new(2, 2));
        let held: Vec<Slot> = vec![
            slots.acquire([1u8; 32]).await.unwrap(),
            slots.acquire([2u8; 32]).await.unwrap(),
        ];
        let third = tokio::time::timeout(Duration::from_millis(50), slots.acquire([3u8; 32])).await;
        assert!(third.is_err());
        drop(held);
        assert_eq!(slots.callers(), 0);
    }
}
