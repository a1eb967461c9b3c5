//! Room in the history writer's queue. Entries wait in the queue between
//! the send that made them and the batch that writes them; [`QueueRoom`]
//! bounds the bytes they hold to [`QUEUE_BYTES`], and a sender waits for
//! room ([`QueueRoom::reserve`]) before its message is made, so a disk that
//! falls behind slows the senders (their connections stop being read, and
//! TCP pushes back) instead of growing the server's memory.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Bytes of entries the queue holds at most.
pub const QUEUE_BYTES: usize = 64 << 20;

/// The queue's room, shared by every sender.
#[derive(Debug, Clone)]
pub struct QueueRoom(Arc<Semaphore>);

/// Room taken for one job, given back when the job is done (written or
/// failed) and dropped.
#[derive(Debug, Default)]
pub struct QueueSpace(
    // Held only to be dropped with the job.
    #[allow(dead_code)] Option<OwnedSemaphorePermit>,
);

impl QueueSpace {
    /// No room counted: for jobs that bypass the queue's bound (tools and
    /// tests).
    pub fn untracked() -> Self {
        Self(None)
    }
}

impl QueueRoom {
    /// A queue holding at most `bytes` bytes of entries.
    pub fn new(bytes: usize) -> Self {
        Self(Arc::new(Semaphore::new(bytes)))
    }

    /// Waits until `bytes` more fit (an entry larger than the whole queue
    /// waits for an empty queue).
    pub async fn reserve(&self, bytes: usize) -> QueueSpace {
        let n = u32::try_from(bytes.clamp(1, QUEUE_BYTES)).unwrap_or(u32::MAX);
        // The semaphore is never closed, so this cannot fail; were it to,
        // the job would simply not be counted.
        QueueSpace(self.0.clone().acquire_many_owned(n).await.ok())
    }

    /// Bytes of room left now.
    pub fn available(&self) -> usize {
        self.0.available_permits()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_sender_waits_until_a_job_is_done() {
        let room = QueueRoom::new(100);
        let first = room.reserve(80).await;
        assert_eq!(room.available(), 20);
        let waiting = tokio::spawn({
            let room = room.clone();
            async move { room.reserve(50).await }
        });
        tokio::task::yield_now().await;
        assert!(
            !waiting.is_finished(),
            "no room until the first job is done"
        );
        drop(first);
        let second = waiting.await.unwrap();
        assert_eq!(room.available(), 50);
        drop(second);
        assert_eq!(room.available(), 100);
        drop(QueueSpace::untracked());
    }
}
