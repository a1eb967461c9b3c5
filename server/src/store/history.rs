//! Per-user chat histories: `chat_histories/<user id>.hist`, append-only,
//! readable only with the user's password.
//!
//! # File format
//! A file is a sequence of frames, each `kind (1) || len (4, BE) || body ||
//! len (4, BE)`; the trailing copy of the length lets a reader walk the file
//! backwards, so the newest page costs the same however long the file is.
//!
//! - A *segment* frame (kind 1) starts each run of appends: its body is a
//!   fresh ephemeral X25519 public key `E` (32 bytes) and a random 32-byte
//!   data key sealed under `HKDF(DH(e, H), salt = E || H, "cove v1 history
//!   segment")`, where `H` is the user's history public key. The server can
//!   therefore write for a user who is offline, knowing only `H`.
//! - A *record* frame (kind 2) holds one entry (a JSON [`ChatMessage`]): the
//!   offset of its segment frame (8 bytes, BE), then a sealed box under
//!   `HKDF(data key, "cove v1 history records")` whose MAC also covers the
//!   segment offset and the record's own offset, so records cannot be moved
//!   or spliced between files.
//!
//! Reading needs `DH(h, E)`, i.e. the history private key `h`, which is
//! stored only wrapped under the user's password (see
//! [`crate::credentials`]).
//!
//! # Crash safety
//! Each batch of records goes out in one `write(2)`. A crash can leave only a
//! prefix of the last batch: whole frames followed by at most one partial
//! frame. Opening for append cuts that partial frame; everything before it
//! stays. A frame that is complete but inconsistent is corruption, not a torn
//! write: the file is moved aside (never overwritten) and a new one begun.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cove_common::crypto::{EtmKey, random_bytes};
use cove_common::proto::{ChatMessage, MessageId};
use tokio::sync::oneshot;
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroizing;

use super::users::UserId;
use super::{StoreError, open_private_append};
use crate::credentials::HistorySecret;

/// The histories folder inside the data directory.
pub const HISTORY_DIR: &str = "chat_histories";
/// Longest time between a write and its fsync (group commit).
pub const SYNC_INTERVAL: Duration = Duration::from_millis(100);

const KIND_SEGMENT: u8 = 1;
const KIND_RECORD: u8 = 2;
const HEAD: u64 = 5;
const TAIL: u64 = 4;
/// No frame body is larger than this (a message is at most ~16 KiB of JSON).
const MAX_BODY: u64 = 1 << 20;
const SEGMENT_LABEL: &str = "cove v1 history segment";
const SEGMENT_HEADER: &[u8] = b"cove v1 segment";
const RECORD_LABEL: &str = "cove v1 history records";
const RECORD_HEADER: &[u8] = b"cove v1 record";
/// History files kept open by the writer.
const OPEN_FILES: usize = 512;

fn record_header(segment: u64, offset: u64) -> [u8; 30] {
    let mut h = [0u8; 30];
    h[..14].copy_from_slice(RECORD_HEADER);
    h[14..22].copy_from_slice(&segment.to_be_bytes());
    h[22..].copy_from_slice(&offset.to_be_bytes());
    h
}

fn segment_seal_key(shared: &[u8; 32], e_pub: &[u8; 32], h_pub: &[u8; 32]) -> EtmKey {
    let mut salt = [0u8; 64];
    salt[..32].copy_from_slice(e_pub);
    salt[32..].copy_from_slice(h_pub);
    EtmKey::derive(shared, &salt, SEGMENT_LABEL)
}

fn push_frame(buf: &mut Vec<u8>, kind: u8, body: &[u8]) {
    let len = (body.len() as u32).to_be_bytes();
    buf.push(kind);
    buf.extend_from_slice(&len);
    buf.extend_from_slice(body);
    buf.extend_from_slice(&len);
}

/// How the end of a file looks.
enum Scan {
    /// Every frame is whole.
    Clean(u64),
    /// Whole frames up to this offset, then the start of one frame.
    Torn(u64),
    /// A complete frame that is not consistent, at this offset.
    Corrupt(u64),
}

/// Walks frame headers from the start (bodies are skipped, not read).
fn scan(file: &File, path: &Path) -> Result<Scan, StoreError> {
    let file_len = file.metadata().map_err(StoreError::io(path))?.len();
    let mut pos = 0u64;
    let mut head = [0u8; HEAD as usize];
    let mut tail = [0u8; TAIL as usize];
    while pos < file_len {
        if file_len - pos < HEAD {
            return Ok(Scan::Torn(pos));
        }
        file.read_exact_at(&mut head, pos)
            .map_err(StoreError::io(path))?;
        let kind = head[0];
        let len = u64::from(u32::from_be_bytes([head[1], head[2], head[3], head[4]]));
        if !matches!(kind, KIND_SEGMENT | KIND_RECORD) || len > MAX_BODY {
            return Ok(Scan::Corrupt(pos));
        }
        let end = pos + HEAD + len + TAIL;
        if end > file_len {
            return Ok(Scan::Torn(pos));
        }
        file.read_exact_at(&mut tail, end - TAIL)
            .map_err(StoreError::io(path))?;
        if u64::from(u32::from_be_bytes(tail)) != len {
            return Ok(Scan::Corrupt(pos));
        }
        pos = end;
    }
    Ok(Scan::Clean(pos))
}

/// A history file open for appending. Only the [`HistoryService`] thread
/// writes, so there is one writer per file.
pub struct HistoryFile {
    path: PathBuf,
    file: File,
    len: u64,
    public: [u8; 32],
    segment: Option<(u64, EtmKey)>,
}

impl std::fmt::Debug for HistoryFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HistoryFile")
            .field("path", &self.path)
            .field("len", &self.len)
            .finish()
    }
}

impl HistoryFile {
    /// Opens (or creates) a history for appending under `public`, cutting a
    /// torn tail left by a crash.
    pub fn open_append(path: &Path, public: [u8; 32]) -> Result<HistoryFile, StoreError> {
        let mut file = open_private_append(path)?;
        let len = match scan(&file, path)? {
            Scan::Clean(len) => len,
            Scan::Torn(len) => {
                tracing::warn!(path = %path.display(), at = len, "cutting a torn record left by a crash");
                file.set_len(len).map_err(StoreError::io(path))?;
                file.sync_all().map_err(StoreError::io(path))?;
                len
            }
            Scan::Corrupt(at) => {
                let aside = path.with_extension(format!("corrupt-{}", crate::hub::now_ms()));
                tracing::error!(path = %path.display(), at, moved_to = %aside.display(),
                    "history file is corrupt; keeping it aside and starting a new one");
                drop(file);
                std::fs::rename(path, &aside).map_err(StoreError::io(path))?;
                file = open_private_append(path)?;
                0
            }
        };
        Ok(HistoryFile {
            path: path.to_path_buf(),
            file,
            len,
            public,
            segment: None,
        })
    }

    /// Appends entries, all in one `write(2)`. A new segment is started on
    /// the first append after opening.
    pub fn append(&mut self, entries: &[&[u8]]) -> Result<(), StoreError> {
        let mut buf = Vec::with_capacity(entries.iter().map(|e| e.len() + 80).sum::<usize>() + 140);
        let mut pos = self.len;
        let new_segment = self.segment.is_none();
        if new_segment {
            let e = StaticSecret::from(random_bytes::<32>());
            let e_pub = PublicKey::from(&e).to_bytes();
            let shared = Zeroizing::new(e.diffie_hellman(&PublicKey::from(self.public)).to_bytes());
            let data_key = Zeroizing::new(random_bytes::<32>());
            let mut body = e_pub.to_vec();
            segment_seal_key(&shared, &e_pub, &self.public).seal_append(
                SEGMENT_HEADER,
                data_key.as_ref(),
                &mut body,
            );
            push_frame(&mut buf, KIND_SEGMENT, &body);
            self.segment = Some((pos, EtmKey::derive(data_key.as_ref(), b"", RECORD_LABEL)));
            pos = self.len + buf.len() as u64;
        }
        let Some((seg, key)) = &self.segment else {
            return Err(StoreError::corrupt(&self.path, "no segment"));
        };
        let mut body = Vec::new();
        for entry in entries {
            body.clear();
            body.extend_from_slice(&seg.to_be_bytes());
            key.seal_append(&record_header(*seg, pos), entry, &mut body);
            push_frame(&mut buf, KIND_RECORD, &body);
            pos = self.len + buf.len() as u64;
        }
        if let Err(e) = self.file.write_all(&buf) {
            // Roll back a partial write so the file stays well-formed.
            let _ = self.file.set_len(self.len);
            if new_segment {
                self.segment = None;
            }
            return Err(StoreError::Io {
                path: self.path.clone(),
                source: e,
            });
        }
        self.len = pos;
        Ok(())
    }

    /// fsyncs the file.
    pub fn sync(&mut self) -> Result<(), StoreError> {
        self.file.sync_data().map_err(StoreError::io(&self.path))
    }
}

/// Reads one user's history, newest first, with their history key.
pub struct HistoryReader<'a> {
    path: PathBuf,
    file: Option<File>,
    end: u64,
    secret: &'a HistorySecret,
}

impl<'a> HistoryReader<'a> {
    /// Opens a history for reading; a missing file is an empty history.
    pub fn open(path: &Path, secret: &'a HistorySecret) -> Result<HistoryReader<'a>, StoreError> {
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(HistoryReader {
                    path: path.to_path_buf(),
                    file: None,
                    end: 0,
                    secret,
                });
            }
            Err(e) => return Err(StoreError::io(path)(e)),
        };
        let end = Self::whole_frames_end(&file, path)?;
        Ok(HistoryReader {
            path: path.to_path_buf(),
            file: Some(file),
            end,
            secret,
        })
    }

    /// The end of the last whole frame. The tail is normally clean; a batch
    /// being written right now (or a torn one) makes it inconsistent, and
    /// then the frame headers are walked from the start.
    fn whole_frames_end(file: &File, path: &Path) -> Result<u64, StoreError> {
        let len = file.metadata().map_err(StoreError::io(path))?.len();
        if len == 0 {
            return Ok(0);
        }
        if len >= HEAD + TAIL {
            let mut tail = [0u8; 4];
            file.read_exact_at(&mut tail, len - TAIL)
                .map_err(StoreError::io(path))?;
            let body = u64::from(u32::from_be_bytes(tail));
            if body <= MAX_BODY && len >= HEAD + body + TAIL {
                let start = len - HEAD - body - TAIL;
                let mut head = [0u8; HEAD as usize];
                file.read_exact_at(&mut head, start)
                    .map_err(StoreError::io(path))?;
                let hl = u64::from(u32::from_be_bytes([head[1], head[2], head[3], head[4]]));
                if matches!(head[0], KIND_SEGMENT | KIND_RECORD) && hl == body {
                    return Ok(len);
                }
            }
        }
        match scan(file, path)? {
            Scan::Clean(end) | Scan::Torn(end) => Ok(end),
            Scan::Corrupt(at) => Err(StoreError::corrupt(
                path,
                format!("bad frame at offset {at}"),
            )),
        }
    }

    fn frame_before(&self, file: &File, end: u64) -> Result<(u64, u8, Vec<u8>), StoreError> {
        let bad =
            |what: &str| StoreError::corrupt(&self.path, format!("{what} before offset {end}"));
        if end < HEAD + TAIL {
            return Err(bad("truncated frame"));
        }
        let mut tail = [0u8; 4];
        file.read_exact_at(&mut tail, end - TAIL)
            .map_err(StoreError::io(&self.path))?;
        let len = u64::from(u32::from_be_bytes(tail));
        if len > MAX_BODY || end < HEAD + len + TAIL {
            return Err(bad("bad frame length"));
        }
        let start = end - HEAD - len - TAIL;
        let mut frame = vec![0u8; (HEAD + len) as usize];
        file.read_exact_at(&mut frame, start)
            .map_err(StoreError::io(&self.path))?;
        let hl = u64::from(u32::from_be_bytes([frame[1], frame[2], frame[3], frame[4]]));
        if hl != len || !matches!(frame[0], KIND_SEGMENT | KIND_RECORD) {
            return Err(bad("inconsistent frame"));
        }
        let kind = frame[0];
        frame.drain(..HEAD as usize);
        Ok((start, kind, frame))
    }

    fn segment_key(&self, file: &File, offset: u64) -> Result<EtmKey, StoreError> {
        let mut head = [0u8; HEAD as usize];
        file.read_exact_at(&mut head, offset)
            .map_err(StoreError::io(&self.path))?;
        let len = u64::from(u32::from_be_bytes([head[1], head[2], head[3], head[4]]));
        if head[0] != KIND_SEGMENT || !(32..=MAX_BODY).contains(&len) {
            return Err(StoreError::corrupt(
                &self.path,
                format!("no segment at offset {offset}"),
            ));
        }
        let mut body = vec![0u8; len as usize];
        file.read_exact_at(&mut body, offset + HEAD)
            .map_err(StoreError::io(&self.path))?;
        let mut e_pub = [0u8; 32];
        e_pub.copy_from_slice(&body[..32]);
        let shared = Zeroizing::new(
            self.secret
                .secret()
                .diffie_hellman(&PublicKey::from(e_pub))
                .to_bytes(),
        );
        let data_key = segment_seal_key(&shared, &e_pub, &self.secret.public())
            .open(SEGMENT_HEADER, &body[32..])
            .map_err(|_| StoreError::Tampered {
                path: self.path.clone(),
            })?;
        let data_key = Zeroizing::new(data_key);
        Ok(EtmKey::derive(&data_key, b"", RECORD_LABEL))
    }

    /// Up to `limit` entries accepted by `filter` with ids below `before`
    /// (all if `None`), newest first, and whether older ones remain. Reads
    /// backwards from the end and stops as soon as the page is full.
    pub fn page(
        &self,
        before: Option<MessageId>,
        limit: usize,
        filter: impl Fn(&ChatMessage) -> bool,
    ) -> Result<(Vec<ChatMessage>, bool), StoreError> {
        let Some(file) = &self.file else {
            return Ok((Vec::new(), false));
        };
        let mut keys: HashMap<u64, EtmKey> = HashMap::new();
        let mut out = Vec::new();
        let mut end = self.end;
        while end > 0 {
            let (start, kind, mut body) = self.frame_before(file, end)?;
            end = start;
            if kind == KIND_SEGMENT {
                continue;
            }
            if body.len() < 8 {
                return Err(StoreError::corrupt(
                    &self.path,
                    format!("short record at {start}"),
                ));
            }
            let seg = u64::from_be_bytes(body[..8].try_into().unwrap_or_default());
            if seg >= start {
                return Err(StoreError::corrupt(
                    &self.path,
                    format!("bad segment link at {start}"),
                ));
            }
            let key = match keys.entry(seg) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(self.segment_key(file, seg)?)
                }
            };
            let entry = key
                .open_in_place(&record_header(seg, start), &mut body[8..])
                .map_err(|_| StoreError::Tampered {
                    path: self.path.clone(),
                })?;
            let msg: ChatMessage = serde_json::from_slice(entry)
                .map_err(|e| StoreError::corrupt(&self.path, format!("record at {start}: {e}")))?;
            if before.is_some_and(|b| msg.id >= b) || !filter(&msg) {
                continue;
            }
            if out.len() == limit {
                return Ok((out, true));
            }
            out.push(msg);
        }
        Ok((out, false))
    }
}

/// One message to append to several users' histories.
#[derive(Debug, Clone)]
pub struct AppendJob {
    /// Each recipient with their history public key.
    pub users: Arc<[(UserId, [u8; 32])]>,
    /// The entry (JSON of a [`ChatMessage`]), shared by all.
    pub entry: Arc<[u8]>,
}

enum Command {
    Append(AppendJob, oneshot::Sender<Result<(), StoreError>>),
    Stop(mpsc::Sender<()>),
}

/// The history writer: one thread owning the open files. It takes every job
/// queued at a wake-up, writes each user's new entries with one `write(2)`,
/// completes the jobs (their messages may now be acknowledged), and fsyncs
/// written files at most [`SYNC_INTERVAL`] later (group commit).
pub struct HistoryService {
    dir: PathBuf,
    tx: Mutex<Option<mpsc::Sender<Command>>>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
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
        super::ensure_private_dir(&dir)?;
        let (tx, rx) = mpsc::channel();
        let thread_dir = dir.clone();
        let thread = std::thread::Builder::new()
            .name("cove-history".into())
            .spawn(move || writer_loop(&thread_dir, &rx))
            .map_err(StoreError::io(&dir))?;
        Ok(HistoryService {
            dir,
            tx: Mutex::new(Some(tx)),
            thread: Mutex::new(Some(thread)),
        })
    }

    /// The history file of `user`.
    pub fn path_of(&self, user: &UserId) -> PathBuf {
        path_in(&self.dir, user)
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

/// One user's entries waiting to be written: their public key and entries.
type Pending = ([u8; 32], Vec<Arc<[u8]>>);

fn writer_loop(dir: &Path, rx: &mpsc::Receiver<Command>) {
    let mut files: HashMap<UserId, HistoryFile> = HashMap::new();
    let mut dirty: HashSet<UserId> = HashSet::new();
    let mut oldest_write: Option<Instant> = None;
    loop {
        let first = match oldest_write {
            Some(t) => match rx.recv_timeout(SYNC_INTERVAL.saturating_sub(t.elapsed())) {
                Ok(c) => Some(c),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => break,
            },
            None => match rx.recv() {
                Ok(c) => Some(c),
                Err(_) => break,
            },
        };
        let mut batch: Vec<Command> = first.into_iter().collect();
        while batch.len() < 8192 {
            match rx.try_recv() {
                Ok(c) => batch.push(c),
                Err(_) => break,
            }
        }
        let mut per_user: HashMap<UserId, Pending> = HashMap::new();
        let mut order: Vec<UserId> = Vec::new();
        let mut waiting = Vec::new();
        let mut stop = None;
        for cmd in batch {
            match cmd {
                Command::Append(job, done) => {
                    for (user, public) in job.users.iter() {
                        let slot = per_user.entry(user.clone()).or_insert_with(|| {
                            order.push(user.clone());
                            (*public, Vec::new())
                        });
                        slot.1.push(job.entry.clone());
                    }
                    waiting.push((job.users, done));
                }
                Command::Stop(ack) => stop = Some(ack),
            }
        }
        let mut failed: HashMap<UserId, StoreError> = HashMap::new();
        for user in order {
            let Some((public, entries)) = per_user.remove(&user) else {
                continue;
            };
            if !files.contains_key(&user) {
                if files.len() >= OPEN_FILES {
                    sync_all(&mut files, &mut dirty);
                    files.clear();
                }
                match HistoryFile::open_append(&path_in(dir, &user), public) {
                    Ok(f) => {
                        files.insert(user.clone(), f);
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "cannot open history");
                        failed.insert(user, e);
                        continue;
                    }
                }
            }
            let refs: Vec<&[u8]> = entries.iter().map(|e| &e[..]).collect();
            if let Some(f) = files.get_mut(&user) {
                match f.append(&refs) {
                    Ok(()) => {
                        dirty.insert(user);
                        oldest_write.get_or_insert_with(Instant::now);
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "history write failed");
                        files.remove(&user);
                        failed.insert(user, e);
                    }
                }
            }
        }
        for (users, done) in waiting {
            let err = users.iter().find_map(|(u, _)| failed.get(u)).map(copy_err);
            let _ = done.send(err.map_or(Ok(()), Err));
        }
        if stop.is_some() || oldest_write.is_some_and(|t| t.elapsed() >= SYNC_INTERVAL) {
            sync_all(&mut files, &mut dirty);
            oldest_write = None;
        }
        if let Some(ack) = stop {
            let _ = ack.send(());
            return;
        }
    }
    sync_all(&mut files, &mut dirty);
}

fn sync_all(files: &mut HashMap<UserId, HistoryFile>, dirty: &mut HashSet<UserId>) {
    for user in dirty.drain() {
        if let Some(f) = files.get_mut(&user)
            && let Err(e) = f.sync()
        {
            tracing::error!(error = %e, "history fsync failed");
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use cove_common::proto::Target;
    use cove_common::{MessageText, RoomName, Username};

    fn msg(id: u64, room: &str, text: &str) -> Vec<u8> {
        serde_json::to_vec(&ChatMessage {
            id,
            ts: id,
            from: Username::new("alice").unwrap(),
            to: Target::Room(RoomName::new(room).unwrap()),
            text: MessageText::new(text).unwrap(),
        })
        .unwrap()
    }

    fn setup() -> (tempfile::TempDir, PathBuf, HistorySecret) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("u.hist");
        (dir, path, HistorySecret::from_bytes(random_bytes()))
    }

    fn texts(v: &[ChatMessage]) -> Vec<&str> {
        v.iter().map(|m| m.text.as_str()).collect()
    }

    #[test]
    fn pages_newest_first_across_segments() {
        let (_d, path, secret) = setup();
        for round in 0..3u64 {
            let mut f = HistoryFile::open_append(&path, secret.public()).unwrap();
            let entries: Vec<Vec<u8>> = (0..4)
                .map(|i| {
                    let id = round * 10 + i;
                    msg(
                        id,
                        if i % 2 == 0 { "even" } else { "odd" },
                        &format!("m{id}"),
                    )
                })
                .collect();
            let refs: Vec<&[u8]> = entries.iter().map(|e| &e[..]).collect();
            f.append(&refs).unwrap();
        }
        let r = HistoryReader::open(&path, &secret).unwrap();
        let (page, more) = r.page(None, 3, |_| true).unwrap();
        assert_eq!(texts(&page), ["m23", "m22", "m21"]);
        assert!(more);
        let (page, more) = r.page(Some(21), 100, |_| true).unwrap();
        assert_eq!(
            texts(&page),
            ["m20", "m13", "m12", "m11", "m10", "m3", "m2", "m1", "m0"]
        );
        assert!(!more);
        let (page, _) = r
            .page(None, 100, |m| {
                m.to == Target::Room(RoomName::new("odd").unwrap())
            })
            .unwrap();
        assert_eq!(texts(&page), ["m23", "m21", "m13", "m11", "m3", "m1"]);
    }

    #[test]
    fn no_plaintext_and_wrong_key_cannot_read() {
        let (_d, path, secret) = setup();
        let mut f = HistoryFile::open_append(&path, secret.public()).unwrap();
        f.append(&[&msg(1, "walruses", "the axolotl sings")])
            .unwrap();
        let raw = std::fs::read(&path).unwrap();
        let text = String::from_utf8_lossy(&raw);
        assert!(!text.contains("axolotl") && !text.contains("walruses") && !text.contains("alice"));
        let other = HistorySecret::from_bytes(random_bytes());
        let r = HistoryReader::open(&path, &other).unwrap();
        assert!(matches!(
            r.page(None, 10, |_| true),
            Err(StoreError::Tampered { .. })
        ));
    }

    #[test]
    fn torn_tail_is_cut_and_appends_continue() {
        let (_d, path, secret) = setup();
        let mut f = HistoryFile::open_append(&path, secret.public()).unwrap();
        f.append(&[&msg(1, "room", "one"), &msg(2, "room", "two")])
            .unwrap();
        drop(f);
        let full = std::fs::metadata(&path).unwrap().len();
        // A crash in the middle of the next batch: a third frame cut short.
        let mut f = HistoryFile::open_append(&path, secret.public()).unwrap();
        f.append(&[&msg(3, "room", "three")]).unwrap();
        drop(f);
        let with_third = std::fs::metadata(&path).unwrap().len();
        let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        file.set_len(with_third - 10).unwrap();
        drop(file);
        // Readers ignore the partial frame even before repair.
        let r = HistoryReader::open(&path, &secret).unwrap();
        assert!(r.page(None, 10, |_| true).is_ok());
        let mut f = HistoryFile::open_append(&path, secret.public()).unwrap();
        f.append(&[&msg(4, "room", "four")]).unwrap();
        let r = HistoryReader::open(&path, &secret).unwrap();
        let (page, _) = r.page(None, 10, |_| true).unwrap();
        // The torn segment header survived whole, its record did not.
        assert_eq!(texts(&page), ["four", "two", "one"]);
        assert!(std::fs::metadata(&path).unwrap().len() > full);
    }

    #[test]
    fn flipped_byte_in_a_record_is_detected() {
        let (_d, path, secret) = setup();
        let mut f = HistoryFile::open_append(&path, secret.public()).unwrap();
        f.append(&[&msg(1, "room", "one"), &msg(2, "room", "two")])
            .unwrap();
        drop(f);
        let mut raw = std::fs::read(&path).unwrap();
        let n = raw.len();
        raw[n - 20] ^= 1; // inside the last record's tag
        std::fs::write(&path, &raw).unwrap();
        let r = HistoryReader::open(&path, &secret).unwrap();
        assert!(matches!(
            r.page(None, 10, |_| true),
            Err(StoreError::Tampered { .. })
        ));
    }

    #[test]
    fn corrupt_file_is_moved_aside_not_overwritten() {
        let (d, path, secret) = setup();
        let mut f = HistoryFile::open_append(&path, secret.public()).unwrap();
        f.append(&[&msg(1, "room", "one")]).unwrap();
        drop(f);
        let mut raw = std::fs::read(&path).unwrap();
        raw[0] = 9; // a bad kind byte in a complete frame
        std::fs::write(&path, &raw).unwrap();
        let mut f = HistoryFile::open_append(&path, secret.public()).unwrap();
        f.append(&[&msg(2, "room", "two")]).unwrap();
        let kept: Vec<_> = std::fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().contains("corrupt"))
            .collect();
        assert_eq!(kept.len(), 1);
        assert_eq!(std::fs::read(&kept[0]).unwrap(), raw);
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
            }));
        }
        for w in waits {
            w.await.unwrap().unwrap();
        }
        // Completed jobs are readable at once, by each recipient.
        for (id, secret) in [&a, &b] {
            let r = HistoryReader::open(&svc.path_of(id), secret).unwrap();
            let (page, more) = r.page(None, 100, |_| true).unwrap();
            assert_eq!(page.len(), 50);
            assert_eq!(page[0].text.as_str(), "n49");
            assert!(!more);
        }
        svc.flush_and_stop();
        let rx = svc.append(AppendJob {
            users,
            entry: msg(99, "room", "late").into(),
        });
        assert!(rx.await.unwrap().is_err());
    }
}
