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
//! writing).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::HISTORY_DIR;
use super::file::HistoryFile;
use super::queue::{QUEUE_BYTES, QueueRoom, QueueSpace};
use crate::store::StoreError;
use crate::store::users::UserId;

/// Longest time between a write and its fsync (group commit).
pub const SYNC_INTERVAL: Duration = Duration::from_millis(100);
/// History files kept open by the writer.
const OPEN_FILES: usize = 512;
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
/// Written bytes kept for fsync retries beyond which the writer fsyncs at
/// once instead of waiting for [`SYNC_INTERVAL`], bounding that memory when
/// writes outrun the group commit.
const UNSYNCED_LIMIT: usize = 128 << 20;
/// Threads fsyncing history files at once at a group commit.
const SYNC_THREADS: usize = 8;
/// A history file not written for this long is closed.
pub const IDLE_CLOSE: Duration = Duration::from_secs(5);
/// Lengths of cleanly closed files remembered, so reopening one that has not
/// changed needs no scan.
const KNOWN_LENGTHS: usize = 65_536;

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
    pub fn start(data_dir: &Path) -> Result<HistoryService, StoreError> {
        let dir = data_dir.join(HISTORY_DIR);
        crate::store::ensure_private_dir(&dir)?;
        let (tx, rx) = mpsc::channel();
        let thread_dir = dir.clone();
        let healthy = Arc::new(AtomicBool::new(true));
        let writer_healthy = healthy.clone();
        let thread = std::thread::Builder::new()
            .name("cove-history".into())
            .spawn(move || Writer::new(thread_dir, writer_healthy).run(&rx))
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

fn path_in(dir: &Path, user: &UserId) -> PathBuf {
    dir.join(format!("{}.hist", user.as_str()))
}

/// The state of the writer thread.
struct Writer {
    dir: PathBuf,
    files: HashMap<UserId, HistoryFile>,
    /// Files written since their last good fsync (or needing repair).
    dirty: HashSet<UserId>,
    /// When the oldest unsynced write happened.
    oldest_write: Option<Instant>,
    /// Lengths of files closed cleanly, to reopen them without a scan.
    known: HashMap<UserId, u64>,
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
    fn new(dir: PathBuf, healthy: Arc<AtomicBool>) -> Self {
        Self {
            dir,
            files: HashMap::new(),
            dirty: HashSet::new(),
            oldest_write: None,
            known: HashMap::new(),
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
                let _ = ack.send(());
                return;
            }
            if self.idle_checked.elapsed() >= IDLE_CLOSE / 2 {
                self.idle_checked = Instant::now();
                self.close_where(|f| f.last_write.elapsed() >= IDLE_CLOSE);
            }
        }
        self.sync_dirty();
    }

    /// Writes a batch, then fsyncs if a group commit is due: its interval
    /// has passed, the batch asked to stop, or the unsynced bytes kept for
    /// retries reached their limit. Returns a stop request.
    fn write_and_commit(&mut self, batch: Vec<Command>) -> Option<mpsc::Sender<()>> {
        let stop = self.write_batch(batch);
        if stop.is_some()
            || self
                .oldest_write
                .is_some_and(|t| t.elapsed() >= SYNC_INTERVAL)
            || self.unsynced_bytes() >= self.unsynced_limit
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
        #[cfg(test)]
        let mut stall: Option<mpsc::Receiver<()>> = None;
        for cmd in batch {
            match cmd {
                Command::Append(job, done) => {
                    jobs.push(job);
                    dones.push(done);
                }
                Command::Stop(ack) => stop = Some(ack),
                #[cfg(test)]
                Command::Stall(rx) => stall = Some(rx),
            }
        }
        let mut failed: HashMap<UserId, StoreError> = HashMap::new();
        let mut job_failed = vec![false; jobs.len()];
        // Per user: their length before this batch, their key, and the
        // jobs written.
        let mut written: HashMap<UserId, (u64, [u8; 32], Vec<usize>)> = HashMap::new();
        loop {
            // What each user should hold: the standing jobs going to them.
            let mut want: HashMap<&UserId, ([u8; 32], Vec<usize>)> = HashMap::new();
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
            for user in order {
                if written.contains_key(user) {
                    continue;
                }
                let Some((public, idx)) = want.remove(user) else {
                    continue;
                };
                let refs: Vec<&[u8]> = idx.iter().map(|&i| &jobs[i].entry[..]).collect();
                match self.append(user, public, &refs) {
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

    /// The user's open file, opening it if needed.
    fn file(&mut self, user: &UserId, public: [u8; 32]) -> Result<&mut HistoryFile, StoreError> {
        if !self.files.contains_key(user) {
            if self.files.len() >= OPEN_FILES {
                self.sync_dirty();
                self.close_where(|_| true);
            }
            let known = self.known.remove(user);
            let f = HistoryFile::open_known(&path_in(&self.dir, user), public, known)?;
            self.files.insert(user.clone(), f);
        }
        self.files
            .get_mut(user)
            .ok_or_else(|| StoreError::corrupt(&self.dir, "history file vanished"))
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
    fn append(
        &mut self,
        user: &UserId,
        public: [u8; 32],
        entries: &[&[u8]],
    ) -> Result<u64, StoreError> {
        let f = self.file(user, public)?;
        let before = f.len;
        let result = f.append(entries).map(|()| before);
        if result.is_ok() || f.len != f.synced || f.needs_repair() {
            // Written, or holding unsynced records or a failed cut: fsync
            // (or repair) it at the next sync.
            self.dirty.insert(user.clone());
            self.oldest_write.get_or_insert_with(Instant::now);
        } else {
            // Nothing to keep: reopen (and re-check) it next time.
            self.files.remove(user);
        }
        result
    }

    /// Bytes written and not yet fsynced, all files together: the copies
    /// kept for a failed fsync.
    fn unsynced_bytes(&self) -> usize {
        self.dirty
            .iter()
            .filter_map(|u| self.files.get(u))
            .map(|f| f.unsynced.len())
            .sum()
    }

    /// fsyncs every written file; a file whose fsync (and repair) failed
    /// stays dirty and is tried again at the next sync.
    fn sync_dirty(&mut self) {
        let dirty = &self.dirty;
        let mut to_sync: Vec<(&UserId, &mut HistoryFile)> = self
            .files
            .iter_mut()
            .filter(|(user, _)| dirty.contains(*user))
            .collect();
        // An fdatasync mostly waits for the journal and the disk, and
        // fdatasyncs running at the same time share one journal commit: so
        // the files are synced from several threads at once, not one by one.
        let per_thread = to_sync.len().div_ceil(SYNC_THREADS).max(1);
        let results: Vec<(UserId, Result<(), StoreError>)> = std::thread::scope(|scope| {
            let threads: Vec<_> = to_sync
                .chunks_mut(per_thread)
                .map(|chunk| {
                    scope.spawn(move || {
                        chunk
                            .iter_mut()
                            .map(|(user, f)| ((*user).clone(), f.sync()))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            threads
                .into_iter()
                .flat_map(|t| t.join().unwrap_or_default())
                .collect()
        });
        let mut failed = None;
        let mut failures = 0;
        // Files no longer open cannot be synced; a file whose sync did not
        // report back (its thread died) stays dirty.
        self.dirty.retain(|user| self.files.contains_key(user));
        for (user, result) in results {
            match result {
                Ok(()) => {
                    self.dirty.remove(&user);
                }
                Err(e) => {
                    failures += 1;
                    failed.get_or_insert(e);
                }
            }
        }
        let ok = failed.is_none();
        if let Some(e) = failed {
            self.healthy.store(false, Ordering::Relaxed);
            self.report_failure(&e, failures, 0);
        }
        self.oldest_write = if self.dirty.is_empty() {
            None
        } else if ok {
            Some(Instant::now())
        } else {
            // Try again in about a second, not at every group commit.
            Some(Instant::now() + SYNC_RETRY)
        };
    }

    /// Closes the clean files matching `pred`, remembering their lengths.
    /// Files with unsynced records or needing repair stay open.
    fn close_where(&mut self, pred: impl Fn(&HistoryFile) -> bool) {
        let dirty = &self.dirty;
        let known = &mut self.known;
        if known.len() >= KNOWN_LENGTHS {
            known.clear();
        }
        self.files.retain(|user, f| {
            if dirty.contains(user) || !f.is_clean() || !pred(f) {
                return true;
            }
            known.insert(user.clone(), f.len);
            false
        });
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::super::test_support::{lose_unsynced, msg, read_all};
    use super::*;
    use crate::credentials::HistorySecret;
    use crate::store::history::HistoryPage;
    use crate::store::history::HistoryReader;
    use cove_common::crypto::random_bytes;

    #[test]
    fn writer_retries_a_failed_fsync_and_reports_trouble_until_it_works() {
        let dir = tempfile::tempdir().unwrap();
        let healthy = Arc::new(AtomicBool::new(true));
        let mut w = Writer::new(dir.path().to_path_buf(), healthy.clone());
        let user = UserId::generate();
        let secret = HistorySecret::from_bytes(random_bytes());
        let path = path_in(dir.path(), &user);
        w.append(&user, secret.public(), &[&msg(1, "room", "one")])
            .unwrap();
        w.sync_dirty();
        let synced = std::fs::metadata(&path).unwrap().len();
        w.append(&user, secret.public(), &[&msg(2, "room", "two")])
            .unwrap();
        lose_unsynced(&path, synced);
        // The fsync fails, and so does the one after writing again.
        w.files.get_mut(&user).unwrap().fail_syncs = 2;
        w.sync_dirty();
        assert!(
            !healthy.load(Ordering::Relaxed),
            "a failed fsync is reported"
        );
        assert!(w.dirty.contains(&user), "and tried again later");
        // It is not closed while it holds records not yet on disk.
        w.close_where(|_| true);
        assert!(w.files.contains_key(&user));
        // Next round the disk works: the records are rewritten and synced.
        w.sync_dirty();
        assert!(w.dirty.is_empty());
        assert_eq!(read_all(&path, &secret), ["two", "one"]);
        // A successful write clears the trouble.
        let (done, _rx) = oneshot::channel();
        let job = AppendJob {
            users: vec![(user.clone(), secret.public())].into(),
            entry: msg(3, "room", "three").into(),
            space: QueueSpace::untracked(),
        };
        assert!(w.write_batch(vec![Command::Append(job, done)]).is_none());
        assert!(healthy.load(Ordering::Relaxed));
        w.sync_dirty();
        assert_eq!(read_all(&path, &secret), ["three", "two", "one"]);
    }

    fn job(users: &[(UserId, [u8; 32])], entry: Vec<u8>) -> Command {
        let (done, _rx) = oneshot::channel();
        Command::Append(
            AppendJob {
                users: users.to_vec().into(),
                entry: entry.into(),
                space: QueueSpace::untracked(),
            },
            done,
        )
    }

    #[test]
    fn a_batch_stops_at_its_byte_budget() {
        let users: Vec<(UserId, [u8; 32])> =
            (0..16).map(|_| (UserId::generate(), [7; 32])).collect();
        // Each job is 16 recipients × 256 KiB = 4 MiB of history to write.
        let (tx, rx) = mpsc::channel();
        for _ in 0..100 {
            tx.send(job(&users, vec![b'x'; 256 * 1024])).unwrap();
        }
        let first = rx.try_recv().ok();
        let batch = take_batch(first, &rx);
        assert_eq!(batch.len(), BATCH_BYTES.div_ceil(4 << 20));
        // Small jobs are taken up to the count limit, the rest left queued.
        let (tx, rx) = mpsc::channel();
        for _ in 0..BATCH_JOBS + 5 {
            tx.send(job(&users[..1], b"{}".to_vec())).unwrap();
        }
        assert_eq!(take_batch(rx.try_recv().ok(), &rx).len(), BATCH_JOBS);
        assert_eq!(take_batch(rx.try_recv().ok(), &rx).len(), 5);
    }

    /// Many files are fsynced together; one whose fsync fails stays dirty
    /// (to be repaired) while every other one is synced.
    #[test]
    fn a_group_commit_syncs_every_file_but_the_failing_one() {
        let dir = tempfile::tempdir().unwrap();
        let healthy = Arc::new(AtomicBool::new(true));
        let mut w = Writer::new(dir.path().to_path_buf(), healthy.clone());
        let secret = HistorySecret::from_bytes(random_bytes());
        let users: Vec<UserId> = (0..40).map(|_| UserId::generate()).collect();
        for (i, user) in users.iter().enumerate() {
            w.append(user, secret.public(), &[&msg(i as u64, "room", "hi")])
                .unwrap();
        }
        assert_eq!(w.dirty.len(), 40);
        assert!(w.unsynced_bytes() > 0);
        w.files.get_mut(&users[17]).unwrap().fail_syncs = 2;
        w.sync_dirty();
        assert_eq!(w.dirty.iter().collect::<Vec<_>>(), [&users[17]]);
        assert!(!healthy.load(Ordering::Relaxed));
        for (i, user) in users.iter().enumerate() {
            let f = &w.files[user];
            assert_eq!(f.synced == f.len, i != 17, "file {i}");
        }
        w.sync_dirty();
        assert!(w.dirty.is_empty());
        assert_eq!(w.unsynced_bytes(), 0);
    }

    /// When written bytes outrun the group commit, the writer fsyncs at
    /// once rather than hold more than its limit for retries.
    #[test]
    fn too_many_unsynced_bytes_bring_the_group_commit_forward() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = Writer::new(dir.path().to_path_buf(), Arc::new(AtomicBool::new(true)));
        let secret = HistorySecret::from_bytes(random_bytes());
        let users = [(UserId::generate(), secret.public())];
        let text = "y".repeat(3_000);
        let batch = |from: u64| {
            (from..from + 10)
                .map(|i| job(&users, msg(i, "room", &text)))
                .collect()
        };
        // About 30 KB: below the limit, so kept until the interval passes.
        w.unsynced_limit = 64 * 1024;
        assert!(w.write_and_commit(batch(0)).is_none());
        assert_eq!(w.dirty.len(), 1, "not synced yet");
        assert!(w.unsynced_bytes() > 30_000);
        // Past the limit: synced now, long before the interval is up.
        w.write_and_commit(batch(10));
        w.write_and_commit(batch(20));
        assert!(w.dirty.is_empty(), "synced early");
        assert_eq!(w.unsynced_bytes(), 0);
        assert!(w.oldest_write.is_none_or(|t| t.elapsed() < SYNC_INTERVAL));
    }

    #[tokio::test]
    async fn a_message_failing_for_one_recipient_is_stored_for_none() {
        let dir = tempfile::tempdir().unwrap();
        let healthy = Arc::new(AtomicBool::new(true));
        let mut w = Writer::new(dir.path().to_path_buf(), healthy.clone());
        let (a, b) = (UserId::generate(), UserId::generate());
        let secret = HistorySecret::from_bytes(random_bytes());
        let public = secret.public();
        // a's history is a normal file with one record already.
        w.append(&a, public, &[&msg(1, "room", "one")]).unwrap();
        // Every write to b's history fails with ENOSPC.
        std::os::unix::fs::symlink("/dev/full", path_in(dir.path(), &b)).unwrap();
        let job = |users: Vec<UserId>, id: u64, text: &str| {
            let (done, rx) = oneshot::channel();
            let users: Vec<_> = users.into_iter().map(|u| (u, public)).collect();
            let job = AppendJob {
                users: users.into(),
                entry: msg(id, "room", text).into(),
                space: QueueSpace::untracked(),
            };
            (Command::Append(job, done), rx)
        };
        // In one batch: a message to a only, one to a and b, one to a only.
        let (c2, r2) = job(vec![a.clone()], 2, "two");
        let (c3, r3) = job(vec![a.clone(), b.clone()], 3, "three");
        let (c4, r4) = job(vec![a.clone()], 4, "four");
        w.write_batch(vec![c2, c3, c4]);
        assert!(r2.await.unwrap().is_ok());
        assert!(matches!(
            r3.await.unwrap(),
            Err(StoreError::Io { source, .. }) if source.kind() == std::io::ErrorKind::StorageFull
        ));
        assert!(r4.await.unwrap().is_ok());
        assert!(!healthy.load(Ordering::Relaxed));
        // "three" failed, so a does not have it either.
        w.sync_dirty();
        let path = path_in(dir.path(), &a);
        assert_eq!(read_all(&path, &secret), ["four", "two", "one"]);
        // And the file is whole: it reopens with no torn or stray frame and
        // takes more records.
        drop(w);
        let mut f = HistoryFile::open_append(&path, public).unwrap();
        f.append(&[&msg(5, "room", "five")]).unwrap();
        assert_eq!(read_all(&path, &secret), ["five", "four", "two", "one"]);
    }

    #[tokio::test]
    async fn service_writes_before_completing_and_flushes_on_stop() {
        let dir = tempfile::tempdir().unwrap();
        let svc = HistoryService::start(dir.path()).unwrap();
        let a = (
            UserId::generate(),
            HistorySecret::from_bytes(random_bytes()),
        );
        let b = (
            UserId::generate(),
            HistorySecret::from_bytes(random_bytes()),
        );
        let users: Arc<[(UserId, [u8; 32])]> =
            vec![(a.0.clone(), a.1.public()), (b.0.clone(), b.1.public())].into();
        let mut waits = Vec::new();
        for i in 0..50 {
            waits.push(svc.append(AppendJob {
                users: users.clone(),
                entry: msg(i, "room", &format!("n{i}")).into(),
                space: QueueSpace::untracked(),
            }));
        }
        for w in waits {
            w.await.unwrap().unwrap();
        }
        // Completed jobs are readable at once, by each recipient.
        for (id, secret) in [&a, &b] {
            let r = HistoryReader::open(&svc.path_of(id), secret).unwrap();
            let HistoryPage {
                messages: page,
                more,
                ..
            } = r.page(None, 100, |_| true).unwrap();
            assert_eq!(page.len(), 50);
            assert_eq!(page[0].text.as_str(), "n49");
            assert!(!more);
        }
        svc.flush_and_stop();
        let rx = svc.append(AppendJob {
            users,
            entry: msg(99, "room", "late").into(),
            space: QueueSpace::untracked(),
        });
        assert!(rx.await.unwrap().is_err());
    }
}
