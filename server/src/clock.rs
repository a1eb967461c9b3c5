//! Message ids: microseconds since the epoch, bumped to stay strictly
//! increasing, so ids keep growing across restarts without storing a
//! counter.

use std::sync::Mutex;

use cove_common::proto::MessageId;
use cove_common::time::now_us;

use crate::sync::lock;

/// Hands out message ids in strictly increasing order.
#[derive(Debug, Default)]
pub struct IdClock {
    last: Mutex<u64>,
}

impl IdClock {
    /// Runs `f` with the next id while holding the clock, so that whatever
    /// `f` queues is queued in id order.
    pub fn issue<R>(&self, f: impl FnOnce(MessageId) -> R) -> R {
        let mut last = lock(&self.last);
        let id = now_us().max(*last + 1);
        *last = id;
        f(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_strictly_increase_even_within_one_microsecond() {
        let clock = IdClock::default();
        let ids: Vec<MessageId> = (0..1000).map(|_| clock.issue(|id| id)).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        assert!(ids[0] >= now_us() - 60_000_000);
    }
}
