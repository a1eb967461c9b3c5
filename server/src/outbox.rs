//! The queue between the hub and one connection's writer.
//!
//! Broadcasts are encoded once and shared ([`Bytes`] is reference-counted);
//! each connection's writer seals them under its own keys. The queue is
//! bounded: a client that stops reading fills it, and is then kicked instead
//! of growing the server's memory or slowing anyone else down.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

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
}

impl Outbox {
    /// A queue holding at most `capacity` items, and its receiving end.
    pub fn new(capacity: usize, kick: Arc<Kick>) -> (Self, mpsc::Receiver<Outgoing>) {
        let (tx, rx) = mpsc::channel(capacity);
        (Self { tx, kick }, rx)
    }

    /// Queues a frame without waiting; a full queue means the client is not
    /// reading, and it is kicked.
    pub fn push(&self, frame: Bytes) {
        if self.tx.try_send(Outgoing::Frame(frame)).is_err() {
            self.kick.kick();
        }
    }

    /// Queues a final frame and asks the writer to close after it.
    pub fn close_with(&self, frame: Bytes) {
        if self.tx.try_send(Outgoing::Close(frame)).is_err() {
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
        let (out, mut rx) = Outbox::new(2, kick.clone());
        out.push(Bytes::from_static(b"1"));
        out.push(Bytes::from_static(b"2"));
        assert!(!kick.is_kicked());
        out.push(Bytes::from_static(b"3"));
        assert!(kick.is_kicked());
        kick.kicked().await; // resolves at once
        assert!(matches!(rx.recv().await, Some(Outgoing::Frame(b)) if &b[..] == b"1"));
    }
}
