//! The bound on history pages read at once: each read holds a
//! [`ReadSlot`] while it runs on a blocking thread, and a burst of
//! requests for deep pages waits for a slot instead of taking every
//! blocking thread.
//!
//! In tests a probe counts the reads holding a slot (with the most seen at
//! once) and can hold them inside their slot, as a slow disk would, so a
//! test sees how many run together.

use tokio::sync::{AcquireError, Semaphore, SemaphorePermit};

/// The slots for history reads.
#[derive(Debug)]
pub(super) struct ReadSlots {
    slots: Semaphore,
    #[cfg(test)]
    pub(super) probe: probe::ReadProbe,
}

/// One read's slot, given back when dropped.
#[derive(Debug)]
pub(super) struct ReadSlot<'a> {
    // Held only to be dropped with the slot.
    _permit: SemaphorePermit<'a>,
    #[cfg(test)]
    probe: &'a probe::ReadProbe,
}

impl ReadSlots {
    /// `n` reads at once.
    pub(super) fn new(n: usize) -> Self {
        Self {
            slots: Semaphore::new(n),
            #[cfg(test)]
            probe: probe::ReadProbe::default(),
        }
    }

    /// Waits for a free slot.
    pub(super) async fn acquire(&self) -> Result<ReadSlot<'_>, AcquireError> {
        let permit = self.slots.acquire().await?;
        #[cfg(test)]
        self.probe.enter().await;
        Ok(ReadSlot {
            _permit: permit,
            #[cfg(test)]
            probe: &self.probe,
        })
    }
}

#[cfg(test)]
impl Drop for ReadSlot<'_> {
    fn drop(&mut self) {
        self.probe.leave();
    }
}

#[cfg(test)]
pub(crate) mod probe {
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Reads holding a slot now and at most, and whether they are held.
    #[derive(Debug, Default)]
    pub struct ReadProbe {
        now: AtomicUsize,
        most: AtomicUsize,
        held: tokio::sync::watch::Sender<bool>,
    }

    impl ReadProbe {
        pub(super) async fn enter(&self) {
            let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
            self.most.fetch_max(now, Ordering::SeqCst);
            let mut held = self.held.subscribe();
            // The sender lives as long as the probe, so this cannot fail.
            let _ = held.wait_for(|h| !h).await;
        }

        pub(super) fn leave(&self) {
            self.now.fetch_sub(1, Ordering::SeqCst);
        }

        /// Holds reads inside their slots (a disk that stopped), or lets
        /// them go.
        pub fn hold(&self, held: bool) {
            self.held.send_replace(held);
        }

        /// Reads holding a slot now.
        pub fn now(&self) -> usize {
            self.now.load(Ordering::SeqCst)
        }

        /// The most reads that held a slot at once.
        pub fn most(&self) -> usize {
            self.most.load(Ordering::SeqCst)
        }
    }
}
