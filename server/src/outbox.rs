//! The queue between the hub and one connection's writer.
//!
//! Broadcasts are encoded once and shared ([`Bytes`] is reference-counted);
//! each connection's writer seals them under its own keys. The queue is
//! bounded: a client that stops reading fills it, and is then kicked instead
//! of growing the server's memory or slowing anyone else down.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use bytes::Bytes;
use tokio::sync::{Notify, mpsc};

/// One item for a connection's writer.
#[derive(Debug)]
pub enum Outgoing {
    /// An encoded [`cove_common::ServerMessage`] to seal and send.
    Frame(Bytes),
    /// Send this last frame, flush and close.
    Close(Bytes),
}

/// Ends a logged-in session from another one, with a goodbye: a password
/// change with `sign_out_others`, or the account's deletion.
#[derive(Debug, Default)]
pub struct SignOut {
    kick: Kick,
    reason: std::sync::Mutex<Option<&'static str>>,
}

impl SignOut {
    /// Asks the session to say `reason` in its `bye` and close.
    pub fn sign_out(&self, reason: &'static str) {
        *self.reason.lock().unwrap_or_else(|e| e.into_inner()) = Some(reason);
        self.kick.kick();
    }

    /// Resolves with the reason once signed out.
    pub async fn signed_out(&self) -> &'static str {
        self.kick.kicked().await;
        self.reason
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .unwrap_or("signed out")
    }
}

/// Tells a connection's tasks to stop, from anywhere.
#[derive(Debug, Default)]
pub struct Kick {
    kicked: AtomicBool,
    notify: Notify,
}

impl Kick {
    /// Asks the connection to close.
    pub fn kick(&self) {
        self.kicked.store(true, Ordering::Release);
        self.notify.notify_waiters();
    }

    /// Whether [`Kick::kick`] was called.
    pub fn is_kicked(&self) -> bool {
        self.kicked.load(Ordering::Acquire)
    }

    /// Resolves once kicked.
    pub async fn kicked(&self) {
        loop {
            let notified = self.notify.notified();
            if self.is_kicked() {
                return;
            }
            notified.await;
        }
    }
}

/// The sending side of a connection's queue.
#[derive(Debug, Clone)]
pub struct Outbox {
    tx: mpsc::Sender<Outgoing>,
    kick: Arc<Kick>,
    queued: Arc<QueuedBytes>,
}

/// Bytes queued for one connection and not yet taken by its writer, against
/// a cap: the count of items alone would let a client that stops reading
/// pin thousands of the largest messages.
#[derive(Debug)]
pub struct QueuedBytes {
    bytes: AtomicUsize,
    cap: usize,
}

impl QueuedBytes {
    /// Called by the writer for each item it takes off the queue.
    pub fn taken(&self, item: &Outgoing) {
        self.bytes.fetch_sub(item.len(), Ordering::AcqRel);
    }

    /// Bytes queued now.
    pub fn now(&self) -> usize {
        self.bytes.load(Ordering::Acquire)
    }
}

impl Outgoing {
    /// The encoded message's length.
    pub fn len(&self) -> usize {
        match self {
            Outgoing::Frame(b) | Outgoing::Close(b) => b.len(),
        }
    }

    /// Whether the message is empty (never, for a real message).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What the connection's writer receives: the queue and its byte count.
#[derive(Debug)]
pub struct OutboxReceiver {
    /// The queued items.
    pub rx: mpsc::Receiver<Outgoing>,
    /// Their bytes, to be counted down as they are taken.
    pub queued: Arc<QueuedBytes>,
}

impl Outbox {
    /// A queue holding at most `capacity` items and `capacity_bytes` bytes
    /// of messages, and its receiving end.
    pub fn new(capacity: usize, capacity_bytes: usize, kick: Arc<Kick>) -> (Self, OutboxReceiver) {
        let (tx, rx) = mpsc::channel(capacity);
        let queued = Arc::new(QueuedBytes {
            bytes: AtomicUsize::new(0),
            cap: capacity_bytes,
        });
        (
            Self {
                tx,
                kick,
                queued: queued.clone(),
            },
            OutboxReceiver { rx, queued },
        )
    }

    /// Queues a frame without waiting; a full queue (in items or bytes)
    /// means the client is not reading, and it is kicked.
    pub fn push(&self, frame: Bytes) {
        self.send(Outgoing::Frame(frame));
    }

    /// Queues a final frame and asks the writer to close after it.
    pub fn close_with(&self, frame: Bytes) {
        self.send(Outgoing::Close(frame));
    }

    fn send(&self, item: Outgoing) {
        let len = item.len();
        if self.queued.bytes.fetch_add(len, Ordering::AcqRel) + len > self.queued.cap {
            self.queued.bytes.fetch_sub(len, Ordering::AcqRel);
            self.kick.kick();
            return;
        }
        if self.tx.try_send(item).is_err() {
            self.queued.bytes.fetch_sub(len, Ordering::AcqRel);
            self.kick.kick();
        }
    }

    /// The connection's kick switch.
    pub fn kick_handle(&self) -> &Arc<Kick> {
        &self.kick
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn full_queue_kicks_instead_of_growing() {
        let kick = Arc::new(Kick::default());
        let (out, mut rx) = Outbox::new(2, 1 << 20, kick.clone());
        out.push(Bytes::from_static(b"1"));
        out.push(Bytes::from_static(b"2"));
        assert!(!kick.is_kicked());
        out.push(Bytes::from_static(b"3"));
        assert!(kick.is_kicked());
        kick.kicked().await; // resolves at once
        assert!(matches!(rx.rx.recv().await, Some(Outgoing::Frame(b)) if &b[..] == b"1"));
    }

    #[tokio::test]
    async fn a_queue_is_capped_in_bytes_too() {
        let kick = Arc::new(Kick::default());
        let (out, mut rx) = Outbox::new(16_384, 64 * 1024, kick.clone());
        let big = Bytes::from(vec![b'x'; 16 * 1024]);
        for _ in 0..4 {
            out.push(big.clone());
        }
        assert!(!kick.is_kicked(), "64 KiB fit");
        assert_eq!(rx.queued.now(), 64 * 1024);
        // What the writer takes no longer counts.
        let item = rx.rx.recv().await.unwrap();
        rx.queued.taken(&item);
        out.push(big.clone());
        assert!(!kick.is_kicked());
        out.push(big);
        assert!(
            kick.is_kicked(),
            "the fifth 16 KiB message queued is one too many"
        );
        assert_eq!(rx.queued.now(), 64 * 1024, "the refused one is not counted");
    }
}
