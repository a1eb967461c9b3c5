//! Message ids: microseconds since the epoch, bumped to stay strictly
//! increasing, and kept increasing across restarts by a reservation stored
//! in the data directory ([`IdReservation`]).
//!
//! Ids are issued below a stored bound: the clock reserves
//! [`RESERVE_AHEAD_US`] ahead and stores the new bound once less than half
//! of it is left, so the disk is written about once every five minutes of
//! ids, never per message. After a restart the first id is above the stored
//! bound, so a clock that stepped back while the server was down cannot
//! make new ids sort below stored ones (which would make paging by `before`
//! skip messages).

use std::sync::Mutex;

use cove_common::proto::MessageId;
use cove_common::time::now_us;

use crate::store::StoreError;
use crate::store::ids::IdReservation;
use crate::sync::lock;

/// How far ahead of the newest id the stored bound is kept: ten minutes.
pub const RESERVE_AHEAD_US: u64 = 10 * 60 * 1_000_000;

#[derive(Debug)]
struct Issued {
    /// The last id handed out.
    last: u64,
    /// Every id handed out is at most this; stored on disk.
    reserved: u64,
}

/// Hands out message ids in strictly increasing order, across restarts.
#[derive(Debug)]
pub struct IdClock {
    issued: Mutex<Issued>,
    file: IdReservation,
    now: fn() -> u64,
}

impl IdClock {
    /// Opens the clock of a data directory: the first id will be above every
    /// id this directory ever issued, whatever the clock says now.
    pub fn open(file: IdReservation) -> Result<Self, StoreError> {
        Self::open_with(file, now_us)
    }

    /// [`IdClock::open`] with another source of microseconds (tests).
    pub fn open_with(file: IdReservation, now: fn() -> u64) -> Result<Self, StoreError> {
        let stored = match file.load() {
            Ok(bound) => bound.unwrap_or(0),
            Err(e @ StoreError::Corrupt { .. }) => {
                // Refusing to start over one damaged small file would be worse
                // than what it guards against (a clock that also stepped back).
                tracing::warn!(error = %e, "message id reservation unreadable; starting from the clock");
                0
            }
            Err(e) => return Err(e),
        };
        let last = stored.max(now());
        let mut reserved = last + RESERVE_AHEAD_US;
        if let Err(e) = file.save(reserved) {
            // A server whose disk refuses writes can still serve what is
            // stored; the first send tries again, and fails with `storage`
            // if the disk still refuses.
            tracing::warn!(error = %e, "cannot store the message id reservation");
            reserved = last;
        }
        Ok(Self {
            issued: Mutex::new(Issued { last, reserved }),
            file,
            now,
        })
    }

    /// Runs `f` with the next id while holding the clock, so that whatever
    /// `f` queues is queued in id order. Fails only if the id would pass the
    /// stored bound and the new bound cannot be stored.
    pub fn issue<R>(&self, f: impl FnOnce(MessageId) -> R) -> Result<R, StoreError> {
        let mut issued = lock(&self.issued);
        let id = (self.now)().max(issued.last + 1);
        if id + RESERVE_AHEAD_US / 2 > issued.reserved {
            let reserved = id + RESERVE_AHEAD_US;
            match self.file.save(reserved) {
                Ok(()) => issued.reserved = reserved,
                // Still inside the old reservation: carry on, try again with
                // the next id.
                Err(e) if id <= issued.reserved => {
                    tracing::warn!(error = %e, "cannot store the message id reservation");
                }
                Err(e) => return Err(e),
            }
        }
        issued.last = id;
        Ok(f(id))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    use std::sync::atomic::{AtomicU64, Ordering};

    #[test]
    fn ids_strictly_increase_even_within_one_microsecond() {
        let dir = tempfile::tempdir().unwrap();
        let clock = IdClock::open(IdReservation::in_dir(dir.path())).unwrap();
        let ids: Vec<MessageId> = (0..1000).map(|_| clock.issue(|id| id).unwrap()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        assert!(ids[0] >= now_us() - 60_000_000);
    }

    static FAKE_NOW: AtomicU64 = AtomicU64::new(0);
    fn fake_now() -> u64 {
        FAKE_NOW.load(Ordering::SeqCst)
    }

    #[test]
    fn ids_keep_increasing_when_the_clock_steps_back_across_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let file = IdReservation::in_dir(dir.path());
        let t = 1_763_800_000_000_000;
        FAKE_NOW.store(t, Ordering::SeqCst);
        let clock = IdClock::open_with(file.clone(), fake_now).unwrap();
        let before: Vec<MessageId> = (0..3).map(|_| clock.issue(|id| id).unwrap()).collect();
        // Twenty minutes of ids: the reservation is renewed on the way.
        FAKE_NOW.store(t + 2 * RESERVE_AHEAD_US, Ordering::SeqCst);
        let newest = clock.issue(|id| id).unwrap();
        assert!(file.load().unwrap().unwrap() > newest);
        drop(clock);

        // The server restarts with its clock an hour behind.
        FAKE_NOW.store(t - 3_600_000_000, Ordering::SeqCst);
        let clock = IdClock::open_with(file, fake_now).unwrap();
        let after = clock.issue(|id| id).unwrap();
        assert!(after > newest, "{after} must sort after {newest}");
        assert!(before.iter().all(|b| *b < after));
    }
}
