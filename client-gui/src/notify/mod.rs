//! Desktop notifications: a [`Notifier`] shows a note (title and body) on
//! the desktop. [`Desktop`] does it over D-Bus (the freedesktop
//! notification service, through `notify-rust` and zbus, pure Rust) on a
//! thread of its own, so a slow or missing bus never holds up a frame;
//! [`Recorder`] keeps them for tests. [`policy`] decides which messages
//! notify and [`prefs`] holds the user's choices and muted conversations.

pub mod policy;
pub mod prefs;

use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};

pub use policy::{Note, note_for};
pub use prefs::{Kinds, NotifyPrefs};

/// Shows notifications. Must not block: it is called from the UI thread.
pub trait Notifier: Send {
    /// Shows `note` (or drops it if that cannot be done now).
    fn notify(&mut self, note: Note);
}

/// How many notifications may wait for the bus before more are dropped.
const QUEUE: usize = 16;

/// The desktop's notification service, over the D-Bus session bus. The
/// first note starts a thread that sends each one; a failure (no session
/// bus, no notification daemon) is logged once, and the app goes on.
#[derive(Debug, Default)]
pub struct Desktop {
    tx: Option<SyncSender<Note>>,
}

impl Desktop {
    fn start() -> Option<SyncSender<Note>> {
        let (tx, rx) = sync_channel::<Note>(QUEUE);
        let spawned = std::thread::Builder::new()
            .name("notifications".into())
            .spawn(move || {
                let mut warned = false;
                for note in rx {
                    let shown = notify_rust::Notification::new()
                        .appname("Cove")
                        .summary(&note.title)
                        .body(&note.body)
                        .show();
                    match shown {
                        Ok(_) => {}
                        Err(e) if !warned => {
                            warned = true;
                            tracing::warn!("desktop notifications are unavailable: {e}");
                        }
                        Err(e) => tracing::debug!("notification not shown: {e}"),
                    }
                }
            });
        match spawned {
            Ok(_) => Some(tx),
            Err(e) => {
                tracing::warn!("could not start the notification thread: {e}");
                None
            }
        }
    }
}

impl Notifier for Desktop {
    fn notify(&mut self, note: Note) {
        let tx = self.tx.get_or_insert_with(|| {
            Self::start().unwrap_or_else(|| sync_channel(0).0) // a closed channel: drops
        });
        match tx.try_send(note) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => tracing::debug!("notification dropped: queue full"),
            Err(TrySendError::Disconnected(_)) => {}
        }
    }
}

/// Keeps the notes it is given, for tests: clones share the list.
#[derive(Debug, Clone, Default)]
pub struct Recorder {
    notes: Arc<Mutex<Vec<Note>>>,
}

impl Recorder {
    /// The notes shown so far.
    pub fn notes(&self) -> Vec<Note> {
        self.notes.lock().map(|n| n.clone()).unwrap_or_default()
    }
}

impl Notifier for Recorder {
    fn notify(&mut self, note: Note) {
        if let Ok(mut n) = self.notes.lock() {
            n.push(note);
        }
    }
}
