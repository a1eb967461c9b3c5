//! The history writer: [`HistoryService`], the handle on which
//! [`AppendJob`]s are queued, and the one thread (`Writer`) that owns the
//! open [`HistoryFile`]s. The thread takes the queued jobs in batches,
//! writes each user's new entries with one `write(2)`, stores a job for all
//! its recipients or for none, completes the jobs, and fsyncs the written
//! files together a little later (group commit, from several threads at
//! once). A failed fsync is retried from the file's copy of its unsynced
//! bytes, and a run of failures is logged in summary.
//!
//! Files idle for [`IDLE_CLOSE`] are closed, so the server holds no file
//! open for writing while nothing is being said (the kernel refuses to
//! remount a file system read-only while any file on it is open for
//! writing). What a closed file needs to be reopened cheaply (its length and
//! its segment, a [`Resume`]) is remembered, so closing costs no new segment.
//! Past its budget of open files the writer closes the least recently
//! written eighth, never all at once.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::boxes::{Boxes, boxes_dir};
use super::file::HistoryFile;
use super::open_files::{OpenFiles, path_in};
use super::queue::{QUEUE_BYTES, QueueRoom, QueueSpace};
use super::syncer::SyncPool;
use super::{FastMap, FastSet, HISTORY_DIR};
use crate::store::StoreError;
use crate::store::users::UserId;
use shared::SharedRuns;

/// Longest time between a write and its fsync (group commit).
pub const SYNC_INTERVAL: Duration = Duration::from_millis(100);
/// After a failed fsync or repair, the next try comes this much later than a
/// normal group commit would.
const SYNC_RETRY: Duration = Duration::from_millis(900);
/// While history writes keep failing, the log says so at most this often.
const FAILURE_REPORT: Duration = Duration::from_secs(10);
/// Most jobs the writer takes off its queue at once.
const BATCH_JOBS: usize = 8192;
/// The writer stops taking jobs once they hold this many bytes of entries
/// (each entry counted once per recipient): what one batch adds to memory
/// before it is written.
const BATCH_BYTES: usize = 32 << 20;
/// Written bytes kept for fsync retries beyond which the writer starts an
/// fsync at once and waits for it, bounding that memory when writes outrun
/// the disk. Since the fsyncs run beside the writer, this is what lets the
/// writer run ahead of them: 32 MiB is a few hundred milliseconds of writes
/// at full load (at 128 MiB the server's peak RSS grew by about 90 MiB for
/// no gain in throughput).
const UNSYNCED_LIMIT: usize = 32 << 20;
/// Threads fsyncing history files at once at a group commit.
const SYNC_THREADS: usize = 8;
/// A history file not written for this long is closed.
pub const IDLE_CLOSE: Duration = Duration::from_secs(5);

/// One message to append to several users' histories.
#[derive(Debug)]
pub struct AppendJob {
    /// Each recipient with their history public key.
    pub users: Arc<[(UserId, [u8; 32])]>,
    /// The entry (JSON of a
    /// [`ChatMessage`](cove_common::proto::ChatMessage)), shared by all.
    pub entry: Arc<[u8]>,
    /// The room it takes in the queue, given back once it is done.
    pub space: QueueSpace,
}

enum Command {
    Append(AppendJob, oneshot::Sender<Result<(), StoreError>>),
    /// Delete a user's file, after the jobs queued before.
    Delete(UserId, oneshot::Sender<Result<(), StoreError>>),
    Stop(mpsc::Sender<()>),
    /// Tests only: the writer finishes the jobs queued before this one, then
    /// waits until the sender is dropped (a disk that stopped answering).
    #[cfg(test)]
    Stall(mpsc::Receiver<()>),
}

/// The history writer: one thread owning the open files. It takes the jobs
/// queued at a wake-up (up to `BATCH_BYTES`), writes each user's new
/// entries with one `write(2)`, completes the jobs (their messages may now
/// be acknowledged), and fsyncs written files about [`SYNC_INTERVAL`] later,
/// or sooner once `UNSYNCED_LIMIT` bytes wait (group commit).
pub struct HistoryService {
    dir: PathBuf,
    tx: Mutex<Option<mpsc::Sender<Command>>>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    healthy: Arc<AtomicBool>,
    room: QueueRoom,
}

impl std::fmt::Debug for HistoryService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HistoryService")
            .field("dir", &self.dir)
            .finish()
    }
}

fn copy_err(e: &StoreError) -> StoreError {
    match e {
        StoreError::Io { path, source } => StoreError::Io {
            path: path.clone(),
            source: std::io::Error::new(source.kind(), source.to_string()),
        },
        StoreError::Read { path, source } => StoreError::Read {
            path: path.clone(),
            source: std::io::Error::new(source.kind(), source.to_string()),
        },
        StoreError::Tampered { path } => StoreError::Tampered { path: path.clone() },
        StoreError::Corrupt { path, reason } => StoreError::Corrupt {
            path: path.clone(),
            reason: reason.clone(),
        },
        StoreError::Passphrase { path, reason } => StoreError::Passphrase {
            path: path.clone(),
            reason,
        },
    }
}

impl HistoryService {
    /// Starts the writer for `<data_dir>/chat_histories`.
    /// At most `open_files` files are kept open (see
    /// [`crate::fds::history_files_budget`]).
    pub fn start(data_dir: &Path, open_files: usize) -> Result<HistoryService, StoreError> {
        Self::start_in(data_dir.join(HISTORY_DIR), open_files)
    }

    /// Starts a writer for the files of `dir` (created if missing): the
    /// histories, or the changes files beside them
    /// ([`CHANGES_DIR`](super::CHANGES_DIR)).
    pub fn start_in(dir: PathBuf, open_files: usize) -> Result<HistoryService, StoreError> {
        crate::store::ensure_private_dir(&dir)?;
        let (tx, rx) = mpsc::channel();
        let thread_dir = dir.clone();
        let healthy = Arc::new(AtomicBool::new(true));
        let writer_healthy = healthy.clone();
        let thread = std::thread::Builder::new()
            .name("cove-history".into())
            .spawn(move || Writer::new(thread_dir, writer_healthy, open_files).run(&rx))
            .map_err(StoreError::io(&dir))?;
        Ok(HistoryService {
            dir,
            tx: Mutex::new(Some(tx)),
            thread: Mutex::new(Some(thread)),
            healthy,
            room: QueueRoom::new(QUEUE_BYTES),
        })
    }

    /// False from the first failed write, open or fsync until a later write
    /// succeeds with every file repaired: while it is false, callers should
    /// wait for the write before showing a message to anyone.
    pub fn healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    /// The history file of `user`.
    pub fn path_of(&self, user: &UserId) -> PathBuf {
        path_in(&self.dir, user)
    }

    /// Waits for room in the queue for an entry of `bytes` bytes; the job
    /// carries it ([`AppendJob::space`]).
    pub async fn reserve(&self, bytes: usize) -> QueueSpace {
        self.room.reserve(bytes).await
    }

    /// Queues a job; the receiver completes after the `write(2)` calls.
    pub fn append(&self, job: AppendJob) -> oneshot::Receiver<Result<(), StoreError>> {
        let (done, rx) = oneshot::channel();
        let guard = self.tx.lock().unwrap_or_else(|e| e.into_inner());
        match guard.as_ref() {
            Some(tx) => {
                if let Err(mpsc::SendError(Command::Append(_, done))) =
                    tx.send(Command::Append(job, done))
                {
                    let _ = done.send(Err(StoreError::corrupt(
                        &self.dir,
                        "history writer stopped",
                    )));
                }
            }
            None => {
                let _ = done.send(Err(StoreError::corrupt(
                    &self.dir,
                    "history writer stopped",
                )));
            }
        }
        rx
    }

    /// Completes once every job queued before it is written: what a reader
    /// opening a file afterwards will find in it. (An empty job, which the
    /// writer completes with the batch it comes in, after that batch's
    /// writes.)
    pub fn barrier(&self) -> oneshot::Receiver<Result<(), StoreError>> {
        self.append(AppendJob {
            users: Arc::new([]),
            entry: Arc::new([]),
            space: QueueSpace::untracked(),
        })
    }

    /// Deletes `user`'s file once every job queued before is written (an
    /// account deleted): the caller makes sure no later job names them.
    pub fn delete(&self, user: UserId) -> oneshot::Receiver<Result<(), StoreError>> {
        let (done, rx) = oneshot::channel();
        let guard = self.tx.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(tx) = guard.as_ref() {
            let _ = tx.send(Command::Delete(user, done));
        }
        rx
    }

    /// Tests only: stalls the writer after the jobs queued so far until the
    /// returned guard is dropped, as a disk that stopped answering would.
    #[cfg(test)]
    pub(crate) fn stall(&self) -> mpsc::Sender<()> {
        let (guard, rx) = mpsc::channel();
        if let Some(tx) = self.tx.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            let _ = tx.send(Command::Stall(rx));
        }
        guard
    }

    /// Writes and fsyncs everything queued, then stops the writer. Blocks.
    pub fn flush_and_stop(&self) {
        let tx = self.tx.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(tx) = tx {
            let (ack_tx, ack_rx) = mpsc::channel();
            if tx.send(Command::Stop(ack_tx)).is_ok() {
                let _ = ack_rx.recv();
            }
        }
        if let Some(t) = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = t.join();
        }
    }
}

impl Drop for HistoryService {
    fn drop(&mut self) {
        self.flush_and_stop();
    }
}

/// The state of the writer thread.
struct Writer {
    files: OpenFiles,
    /// Where the boxes of linked bundles go.
    boxes: Boxes,
    /// Files written since their last fsync was started (or needing
    /// repair).
    dirty: FastSet<UserId>,
    /// When the oldest write not yet being fsynced happened.
    oldest_write: Option<Instant>,
    /// The threads running fsyncs.
    syncs: SyncPool,
    /// When idle files were last looked for.
    idle_checked: Instant,
    healthy: Arc<AtomicBool>,
    /// Since when writes fail, if they do.
    failing: Option<Failing>,
    /// [`UNSYNCED_LIMIT`], smaller in tests.
    unsynced_limit: usize,
}

/// `first` and the jobs queued behind it, up to [`BATCH_JOBS`] jobs or
/// [`BATCH_BYTES`] bytes of entries.
fn take_batch(first: Option<Command>, rx: &mpsc::Receiver<Command>) -> Vec<Command> {
    let mut batch = Vec::new();
    let mut bytes = 0;
    let mut next = first;
    while let Some(c) = next.take() {
        if let Command::Append(job, _) = &c {
            bytes += job.entry.len() * job.users.len();
        }
        #[cfg(test)]
        let stall = matches!(c, Command::Stall(_));
        #[cfg(not(test))]
        let stall = false;
        batch.push(c);
        if stall || batch.len() >= BATCH_JOBS || bytes >= BATCH_BYTES {
            break;
        }
        next = rx.try_recv().ok();
    }
    batch
}

/// A run of failed writes, for the log.
struct Failing {
    first: Instant,
    reported: Instant,
    writes: u64,
    messages: u64,
}

impl Writer {
    fn new(dir: PathBuf, healthy: Arc<AtomicBool>, open_files: usize) -> Self {
        Self {
            syncs: SyncPool::start(SYNC_THREADS, &dir),
            boxes: Boxes::new(boxes_dir(&dir)),
            files: OpenFiles::new(dir, open_files),
            dirty: FastSet::default(),
            oldest_write: None,
            idle_checked: Instant::now(),
            healthy,
            failing: None,
            unsynced_limit: UNSYNCED_LIMIT,
        }
    }

    fn run(mut self, rx: &mpsc::Receiver<Command>) {
        loop {
            let wait = match self.oldest_write {
                Some(t) => Some(SYNC_INTERVAL.saturating_sub(t.elapsed())),
                // Running fsyncs are collected at least this often.
                None if self.syncs.in_flight() > 0 => Some(SYNC_INTERVAL),
                None if !self.files.is_empty() => Some(IDLE_CLOSE / 2),
                None => None,
            };
            let first = match wait {
                Some(wait) => match rx.recv_timeout(wait) {
                    Ok(c) => Some(c),
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => break,
                },
                None => match rx.recv() {
                    Ok(c) => Some(c),
                    Err(_) => break,
                },
            };
            if let Some(ack) = self.write_and_commit(take_batch(first, rx)) {
                self.sync_all();
                let _ = ack.send(());
                return;
            }
            self.collect_syncs();
            if self.idle_checked.elapsed() >= IDLE_CLOSE / 2 {
                self.idle_checked = Instant::now();
                self.files
                    .close_where(&self.dirty, |f| f.last_write.elapsed() >= IDLE_CLOSE);
                if self.boxes.last_write.elapsed() >= IDLE_CLOSE {
                    self.boxes.close();
                }
            }
        }
        self.sync_all();
    }

    /// Writes a batch, then starts a group commit if one is due (its
    /// interval has passed). Past the limit of unsynced bytes kept for
    /// retries, it also waits for the fsyncs, holding back the next batch.
    /// Returns a stop request.
    fn write_and_commit(&mut self, batch: Vec<Command>) -> Option<mpsc::Sender<()>> {
        let stop = self.write_batch(batch);
        if self.unsynced_bytes() >= self.unsynced_limit {
            self.sync_all();
        } else if self
            .oldest_write
            .is_some_and(|t| t.elapsed() >= SYNC_INTERVAL)
        {
            self.sync_dirty();
        }
        stop
    }

    /// Writes a batch of jobs and completes them; returns a stop request.
    ///
    /// A job is stored in all of its recipients' histories or in none: when
    /// a recipient's write fails, the jobs going to that recipient fail, and
    /// the other recipients' files are cut back and written again without
    /// them (which may fail in turn, until nothing new fails). So a sender
    /// told that a message failed never finds it in anybody's history, and
    /// sending it again does not store it twice.
    fn write_batch(&mut self, batch: Vec<Command>) -> Option<mpsc::Sender<()>> {
        let mut jobs: Vec<AppendJob> = Vec::new();
        let mut dones = Vec::new();
        let mut stop = None;
        let mut deletes = Vec::new();
        #[cfg(test)]
        let mut stall: Option<mpsc::Receiver<()>> = None;
        for cmd in batch {
            match cmd {
                Command::Append(job, done) => {
                    jobs.push(job);
                    dones.push(done);
                }
                Command::Delete(user, done) => deletes.push((user, done)),
                Command::Stop(ack) => stop = Some(ack),
                #[cfg(test)]
                Command::Stall(rx) => stall = Some(rx),
            }
        }
        let mut failed: FastMap<UserId, StoreError> = FastMap::default();
        let mut job_failed = vec![false; jobs.len()];
        // Per user: their length before this batch, their key, and the
        // jobs written.
        let mut written: FastMap<UserId, (u64, [u8; 32], Vec<usize>)> = FastMap::default();
        loop {
            // What each user should hold: the standing jobs going to them.
            let mut want: FastMap<&UserId, ([u8; 32], Vec<usize>)> = FastMap::default();
            let mut order: Vec<&UserId> = Vec::new();
            for (i, job) in jobs.iter().enumerate() {
                if job_failed[i] {
                    continue;
                }
                for (user, public) in job.users.iter() {
                    want.entry(user)
                        .or_insert_with(|| {
                            order.push(user);
                            (*public, Vec::new())
                        })
                        .1
                        .push(i);
                }
            }
            // Users holding jobs that have failed since: cut them back.
            let stale: Vec<UserId> = written
                .iter()
                .filter(|(u, (_, _, done))| want.get(u).is_none_or(|(_, w)| w != done))
                .map(|(u, _)| u.clone())
                .collect();
            for user in stale {
                if let Some((mark, public, _)) = written.remove(&user) {
                    self.rollback(&user, public, mark);
                }
            }
            let mut new_failure = false;
            let mut shared = SharedRuns::new(want.values().map(|(_, idx)| idx.as_slice()), &jobs);
            for user in order {
                if written.contains_key(user) {
                    continue;
                }
                let Some((public, idx)) = want.remove(user) else {
                    continue;
                };
                let appended = match shared.get(&idx, &jobs, &mut self.boxes) {
                    Some(Ok(runs)) => self.append_with(user, public, |f| f.append_linked(runs)),
                    Some(Err(e)) => Err(e),
                    None => {
                        let refs: Vec<&[u8]> = idx.iter().map(|&i| &jobs[i].entry[..]).collect();
                        self.append_with(user, public, |f| f.append(&refs))
                    }
                };
                match appended {
                    Ok(mark) => {
                        written.insert(user.clone(), (mark, public, idx));
                    }
                    Err(e) => {
                        failed.insert(user.clone(), e);
                        new_failure = true;
                    }
                }
            }
            if !new_failure {
                break;
            }
            for (i, job) in jobs.iter().enumerate() {
                if !job_failed[i] && job.users.iter().any(|(u, _)| failed.contains_key(u)) {
                    job_failed[i] = true;
                }
            }
        }
        let wrote = !written.is_empty();
        let waiting = jobs.into_iter().map(|j| j.users).zip(dones);
        let mut refused = 0;
        for (users, done) in waiting {
            let err = users.iter().find_map(|(u, _)| failed.get(u)).map(copy_err);
            refused += u64::from(err.is_some());
            let _ = done.send(err.map_or(Ok(()), Err));
        }
        // After the batch's writes, which may still have gone to them.
        for (user, done) in deletes {
            self.dirty.remove(&user);
            let _ = done.send(self.files.delete(&user));
        }
        #[cfg(test)]
        if let Some(rx) = stall {
            // Blocks until the guard is dropped (recv then fails).
            let _ = rx.recv();
        }
        if let Some(e) = failed.values().next() {
            self.healthy.store(false, Ordering::Relaxed);
            self.report_failure(e, failed.len() as u64, refused);
        } else if wrote && !self.files.values().any(HistoryFile::needs_repair) {
            self.healthy.store(true, Ordering::Relaxed);
            if let Some(since) = self.failing.take() {
                tracing::warn!(
                    failed_writes = since.writes,
                    refused_messages = since.messages,
                    after_s = since.first.elapsed().as_secs(),
                    "history writes work again"
                );
            }
        }
        stop
    }

    /// Logs failed writes: the first at once, then a summary at most every
    /// [`FAILURE_REPORT`], not one line per message and recipient.
    fn report_failure(&mut self, e: &StoreError, writes: u64, messages: u64) {
        let now = Instant::now();
        match &mut self.failing {
            None => {
                tracing::error!(error = %e, failed_writes = writes, refused_messages = messages,
                    "history write failed; messages get a storage error until writes work again");
                self.failing = Some(Failing {
                    first: now,
                    reported: now,
                    writes,
                    messages,
                });
            }
            Some(f) => {
                f.writes += writes;
                f.messages += messages;
                if now.duration_since(f.reported) >= FAILURE_REPORT {
                    f.reported = now;
                    tracing::error!(error = %e, failed_writes = f.writes,
                        refused_messages = f.messages, since_s = f.first.elapsed().as_secs(),
                        "history writes still failing");
                }
            }
        }
    }

    /// The user's open file, opening it if needed (after closing others if
    /// the budget is reached).
    fn file(&mut self, user: &UserId, public: [u8; 32]) -> Result<&mut HistoryFile, StoreError> {
        if self.files.get(user).is_none() && self.files.is_full() {
            // Only clean files close: if too few are, commit and wait for
            // it. If none is even then (the disk fails), one file more than
            // the budget rather than no write at all.
            if self.files.closable(&self.dirty) < self.files.eviction_share() {
                self.sync_all();
            }
            self.files.close_oldest(&self.dirty);
        }
        self.files.open(user, public)
    }

    /// Cuts a user's file back to `len`, dropping what this batch appended.
    fn rollback(&mut self, user: &UserId, public: [u8; 32], len: u64) {
        // The file may have been closed since (too many open files).
        match self.file(user, public) {
            Ok(f) => {
                f.rollback(len);
                self.dirty.insert(user.clone());
                self.oldest_write.get_or_insert_with(Instant::now);
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot cut back a history written for a failed message");
            }
        }
    }

    /// Appends one user's entries, opening their file if needed. Returns the
    /// file's length before, for [`Writer::rollback`].
    /// Appends `entries` to `user`'s file, sealed for them alone.
    #[cfg(test)]
    fn append(
        &mut self,
        user: &UserId,
        public: [u8; 32],
        entries: &[&[u8]],
    ) -> Result<u64, StoreError> {
        self.append_with(user, public, |f| f.append(entries))
    }

    /// Appends to `user`'s file with `append`, returning the file's length
    /// before.
    fn append_with(
        &mut self,
        user: &UserId,
        public: [u8; 32],
        append: impl FnOnce(&mut HistoryFile) -> Result<(), StoreError>,
    ) -> Result<u64, StoreError> {
        let f = self.file(user, public)?;
        let before = f.out.len;
        let result = append(f).map(|()| before);
        if result.is_ok() || f.out.len != f.out.synced || f.needs_repair() {
            // Written, or holding unsynced records or a failed cut: fsync
            // (or repair) it at the next sync.
            self.dirty.insert(user.clone());
            self.oldest_write.get_or_insert_with(Instant::now);
        } else {
            // Nothing to keep: reopen (and re-check) it next time.
            self.files.forget(user);
        }
        result
    }
}

mod commit;
mod shared;
#[cfg(test)]
mod shared_tests;
#[cfg(test)]
mod tests;
