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
//!
//! When a group commit covers many files (a message to a room of
//! thousands is written to thousands of files), one `syncfs(2)` of the
//! histories' file system replaces their fdatasyncs: one call and one flush
//! instead of one per file, each of which writes its inode on its own
//! (measured: with 2,000 files per commit, the fdatasyncs took a third of
//! the server's CPU). `syncfs` reports a write-back error of any file since
//! the directory was opened (Linux 5.8 and later; on older kernels it is
//! not used), which is why the directory stays open (read-only, which does
//! not keep the file system from being remounted read-only) for the
//! server's life; the error does not say which file, so every file of that
//! commit is then repaired as after a failed fsync.

use std::fs::File;
use std::path::Path;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use super::appender::SyncRequest;
use crate::store::users::UserId;

/// Whose file an fsync is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Owner {
    /// A user's history file.
    History(UserId),
    /// The boxes file being written ([`super::boxes`]).
    Boxes,
}

/// An fsync's outcome, for the file of `owner`.
pub(super) struct Synced {
    pub(super) owner: Owner,
    pub(super) result: std::io::Result<()>,
}

enum Job {
    /// One file's fdatasync.
    File { owner: Owner, request: SyncRequest },
    /// One `syncfs` for all these files.
    All {
        fs: Arc<File>,
        files: Vec<(Owner, SyncRequest)>,
    },
}

/// Group commits of at least this many files use one `syncfs`.
pub(super) const SYNCFS_FILES: usize = 32;

/// Threads running fsyncs; see the module documentation.
pub(super) struct SyncPool {
    jobs: Option<mpsc::Sender<Job>>,
    /// The histories' directory, open for `syncfs`; `None` where `syncfs`
    /// would not report write-back errors.
    fs: Option<Arc<File>>,
    done: mpsc::Receiver<Synced>,
    threads: Vec<JoinHandle<()>>,
    in_flight: usize,
    /// Tests only: held, it stops every fsync before it starts.
    #[cfg(test)]
    pub(super) gate: Arc<Mutex<()>>,
}

impl SyncPool {
    /// Starts `threads` sync threads for the files in `dir`.
    pub(super) fn start(threads: usize, dir: &Path) -> Self {
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
                            for synced in run(job) {
                                if done.send(synced).is_err() {
                                    return;
                                }
                            }
                        }
                    })
                    .map_err(|e| tracing::error!(error = %e, "cannot start an fsync thread"))
                    .ok()
            })
            .collect();
        let fs = syncfs_reports_errors()
            .then(|| File::open(dir).ok())
            .flatten()
            .map(Arc::new);
        Self {
            jobs: Some(jobs),
            fs,
            done,
            threads,
            in_flight: 0,
            #[cfg(test)]
            gate,
        }
    }

    /// Queues the fsyncs of a group commit: one per file, or one `syncfs`
    /// for them all when there are [`SYNCFS_FILES`] or more. If no sync
    /// thread runs, they run here and their outcomes are returned at once.
    pub(super) fn submit(&mut self, files: Vec<(Owner, SyncRequest)>) -> Vec<Synced> {
        let count = files.len();
        let jobs: Vec<Job> = match &self.fs {
            Some(fs) if count >= SYNCFS_FILES => vec![Job::All {
                fs: fs.clone(),
                files,
            }],
            _ => files
                .into_iter()
                .map(|(owner, request)| Job::File { owner, request })
                .collect(),
        };
        let mut now = Vec::new();
        for job in jobs {
            let Some(tx) = self.jobs.as_ref().filter(|_| !self.threads.is_empty()) else {
                now.extend(run(job));
                continue;
            };
            let files = job.files();
            match tx.send(job) {
                Ok(()) => self.in_flight += files,
                Err(mpsc::SendError(job)) => now.extend(run(job)),
            }
        }
        now
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

impl Job {
    /// How many files' outcomes it brings.
    fn files(&self) -> usize {
        match self {
            Job::File { .. } => 1,
            Job::All { files, .. } => files.len(),
        }
    }
}

fn run(job: Job) -> Vec<Synced> {
    match job {
        Job::File { owner, request } => {
            let result = sync(&request);
            vec![Synced { owner, result }]
        }
        Job::All { fs, files } => {
            #[cfg(test)]
            SYNCFS_CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let result = rustix::fs::syncfs(&*fs).map_err(std::io::Error::from);
            files
                .into_iter()
                .map(|(owner, request)| {
                    let result = match &result {
                        Ok(()) => injected(&request),
                        Err(e) => Err(std::io::Error::new(e.kind(), e.to_string())),
                    };
                    Synced { owner, result }
                })
                .collect()
        }
    }
}

/// Tests only: `syncfs` calls made.
#[cfg(test)]
static SYNCFS_CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Tests only: a failure injected through `fail_syncs`.
fn injected(request: &SyncRequest) -> std::io::Result<()> {
    #[cfg(test)]
    if request.fail {
        return Err(std::io::Error::other("injected fsync failure"));
    }
    let _ = request;
    Ok(())
}

/// Whether `syncfs` reports write-back errors: Linux 5.8 and later.
fn syncfs_reports_errors() -> bool {
    let uname = rustix::system::uname();
    let release = uname.release().to_string_lossy();
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    let major: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let minor: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    (major, minor) >= (5, 8)
}

fn sync(request: &SyncRequest) -> std::io::Result<()> {
    injected(request)?;
    request.file.sync_data()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::sync::atomic::Ordering;

    use super::*;

    fn request(dir: &Path, name: &str, fail: bool) -> SyncRequest {
        let file = File::create(dir.join(name)).unwrap();
        SyncRequest {
            file: Arc::new(file),
            fail,
        }
    }

    /// Few files: one fdatasync each. Many: one syncfs for all, each file
    /// getting its outcome (here one injected failure among them).
    #[test]
    fn a_commit_of_many_files_is_one_syncfs_with_an_outcome_per_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut pool = SyncPool::start(2, dir.path());
        assert!(pool.fs.is_some(), "this kernel reports syncfs errors");
        let wait_all = |pool: &mut SyncPool| {
            let mut out = Vec::new();
            while pool.in_flight() > 0 {
                out.extend(pool.wait_done(Duration::from_secs(10)));
            }
            out
        };
        let before = SYNCFS_CALLS.load(Ordering::Relaxed);
        let few: Vec<_> = (0..3)
            .map(|i| {
                (
                    Owner::History(UserId::generate()),
                    request(dir.path(), &format!("a{i}"), false),
                )
            })
            .collect();
        assert!(pool.submit(few).is_empty());
        assert_eq!(wait_all(&mut pool).len(), 3);
        let many: Vec<_> = (0..40)
            .map(|i| {
                (
                    Owner::History(UserId::generate()),
                    request(dir.path(), &format!("b{i}"), i == 17),
                )
            })
            .collect();
        let failing = many[17].0.clone();
        assert!(pool.submit(many).is_empty());
        let outcomes = wait_all(&mut pool);
        assert_eq!(outcomes.len(), 40);
        for o in &outcomes {
            assert_eq!(o.result.is_err(), o.owner == failing);
        }
        // Other tests may run syncfs meanwhile: at least this one did.
        assert!(SYNCFS_CALLS.load(Ordering::Relaxed) > before);
    }
}
