//! [`SyncPool`]: threads that fsync history files for the writer, so that
//! the writer goes on writing (and its jobs' messages get acknowledged)
//! while earlier writes reach the disk. An fdatasync mostly waits for the
//! journal and the disk, and fdatasyncs running at the same time share one
//! journal commit, so several threads sync at once.
//!
//! The writer hands over a file (shared, see
//! [`HistoryFile::start_sync`](super::file::HistoryFile::start_sync)) and
//! later collects the outcome; at most one fsync per file runs at a time,
//! so the queue holds at most one job per open file.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use super::file::SyncRequest;
use crate::store::users::UserId;

/// An fsync's outcome, for the file of `user`.
pub(super) struct Synced {
    pub(super) user: UserId,
    pub(super) result: std::io::Result<()>,
}

struct Job {
    user: UserId,
    request: SyncRequest,
}

/// Threads running fsyncs; see the module documentation.
pub(super) struct SyncPool {
    jobs: Option<mpsc::Sender<Job>>,
    done: mpsc::Receiver<Synced>,
    threads: Vec<JoinHandle<()>>,
    in_flight: usize,
    /// Tests only: held, it stops every fsync before it starts.
    #[cfg(test)]
    pub(super) gate: Arc<Mutex<()>>,
}

impl SyncPool {
    /// Starts `threads` sync threads.
    pub(super) fn start(threads: usize) -> Self {
        let (jobs, rx) = mpsc::channel::<Job>();
        let (done_tx, done) = mpsc::channel();
        let rx = Arc::new(Mutex::new(rx));
        #[cfg(test)]
        let gate = Arc::new(Mutex::new(()));
        let threads = (0..threads.max(1))
            .filter_map(|i| {
                let rx = rx.clone();
                let done = done_tx.clone();
                #[cfg(test)]
                let gate = gate.clone();
                std::thread::Builder::new()
                    .name(format!("cove-fsync-{i}"))
                    .spawn(move || {
                        loop {
                            // The lock is held only to take a job, not
                            // while syncing it.
                            let job = rx.lock().unwrap_or_else(|e| e.into_inner()).recv();
                            let Ok(job) = job else {
                                return;
                            };
                            #[cfg(test)]
                            drop(gate.lock().unwrap_or_else(|e| e.into_inner()));
                            if done.send(run(job)).is_err() {
                                return;
                            }
                        }
                    })
                    .map_err(|e| tracing::error!(error = %e, "cannot start an fsync thread"))
                    .ok()
            })
            .collect();
        Self {
            jobs: Some(jobs),
            done,
            threads,
            in_flight: 0,
            #[cfg(test)]
            gate,
        }
    }

    /// Queues an fsync of `user`'s file. If no sync thread runs, the fsync
    /// runs here and its outcome is returned at once.
    pub(super) fn submit(&mut self, user: UserId, request: SyncRequest) -> Option<Synced> {
        let job = Job { user, request };
        let Some(tx) = self.jobs.as_ref().filter(|_| !self.threads.is_empty()) else {
            return Some(run(job));
        };
        match tx.send(job) {
            Ok(()) => {
                self.in_flight += 1;
                None
            }
            Err(mpsc::SendError(job)) => Some(run(job)),
        }
    }

    /// Fsyncs queued or running.
    pub(super) fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// An outcome, if one is ready.
    pub(super) fn try_done(&mut self) -> Option<Synced> {
        let done = self.done.try_recv().ok()?;
        self.in_flight -= 1;
        Some(done)
    }

    /// The next outcome, waiting up to `timeout`; `None` if nothing is in
    /// flight or the time ran out.
    pub(super) fn wait_done(&mut self, timeout: Duration) -> Option<Synced> {
        if self.in_flight == 0 {
            return None;
        }
        let done = self.done.recv_timeout(timeout).ok()?;
        self.in_flight -= 1;
        Some(done)
    }
}

impl Drop for SyncPool {
    fn drop(&mut self) {
        self.jobs = None;
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn run(Job { user, request }: Job) -> Synced {
    let result = sync(&request);
    Synced { user, result }
}

fn sync(request: &SyncRequest) -> std::io::Result<()> {
    #[cfg(test)]
    if request.fail {
        return Err(std::io::Error::other("injected fsync failure"));
    }
    request.file.sync_data()
}
