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
//! - A *bundle* frame (kind 3) holds the entries (JSON [`ChatMessage`]s)
//!   one append brought for this user, oldest first: the offset of its
//!   segment frame (8 bytes, BE), then a sealed box under `HKDF(data key,
//!   "cove v1 history records")` of `len (4, BE) || entry` repeated. Its MAC
//!   also covers the label `cove v1 bundle`, the segment offset and the
//!   bundle's own offset, so bundles cannot be moved or spliced between
//!   files. One box per append, not per entry: under load a user's history
//!   gains dozens of messages per append, and each box costs an IV, an AES
//!   start and an HMAC finalisation on top of its bytes.
//! - A *record* frame (kind 2) is the older form of a bundle holding one
//!   entry, its plaintext the entry itself and its label `cove v1 record`.
//!   Files written before bundles hold these; they are still read.
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
//!
//! # Disk trouble
//! A `write(2)` that fails (disk full, read-only file system, I/O error) may
//! have written part of the batch: the file is cut back to its last whole
//! frame before the error is reported, and if even that fails the cut is
//! retried before anything else is appended, so later records never follow
//! a torn one. The bytes written since the last good fsync are kept in
//! memory: when an fsync fails (after which the kernel may have dropped
//! those pages) they are written again from that copy and fsynced again; until
//! that succeeds the file takes no new records. Files idle for
//! [`IDLE_CLOSE`] are closed, so the server holds no file open for writing
//! while nothing is being said (the kernel refuses to remount a file system
//! read-only while any file on it is open for writing).

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cove_common::crypto::{EtmKey, IV_LEN, TAG_LEN, random_bytes};
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
const KIND_BUNDLE: u8 = 3;
const HEAD: u64 = 5;
const TAIL: u64 = 4;
/// No frame body is larger than this (a message is at most ~16 KiB of JSON).
const MAX_BODY: u64 = 1 << 20;
const SEGMENT_LABEL: &str = "cove v1 history segment";
const SEGMENT_HEADER: &[u8] = b"cove v1 segment";
const RECORD_LABEL: &str = "cove v1 history records";
const RECORD_HEADER: &[u8; 14] = b"cove v1 record";
const BUNDLE_HEADER: &[u8; 14] = b"cove v1 bundle";
/// A bundle's plaintext is cut at about this size, so reading one page of
/// history never decrypts much more than that page.
const BUNDLE_TARGET: usize = 64 * 1024;
/// Capacity kept for a file's unsynced bytes after an fsync, so a busy
/// user's appends do not allocate afresh every group commit; beyond it the
/// buffer shrinks. At most [`OPEN_FILES`] times this stays allocated, and
/// only until the files go idle.
const UNSYNCED_KEEP: usize = 256 * 1024;
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

fn known_kind(kind: u8) -> bool {
    matches!(kind, KIND_SEGMENT | KIND_RECORD | KIND_BUNDLE)
}

/// What a record's or bundle's tag covers besides its box.
fn record_header(label: &[u8; 14], segment: u64, offset: u64) -> [u8; 30] {
    let mut h = [0u8; 30];
    h[..14].copy_from_slice(label);
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

/// Appends a bundle frame at `offset` in the file holding `entries`,
/// building and sealing it inside `buf` (no plaintext copy elsewhere).
fn push_bundle(buf: &mut Vec<u8>, key: &EtmKey, segment: u64, offset: u64, entries: &[&[u8]]) {
    let plain: usize = entries.iter().map(|e| 4 + e.len()).sum();
    let len = ((8 + IV_LEN + plain + TAG_LEN) as u32).to_be_bytes();
    buf.push(KIND_BUNDLE);
    buf.extend_from_slice(&len);
    buf.extend_from_slice(&segment.to_be_bytes());
    let iv_at = buf.len();
    buf.extend_from_slice(&[0; IV_LEN]);
    for entry in entries {
        buf.extend_from_slice(&(entry.len() as u32).to_be_bytes());
        buf.extend_from_slice(entry);
    }
    let Some((iv, plaintext)) = buf[iv_at..].split_first_chunk_mut::<IV_LEN>() else {
        unreachable!("the IV was just pushed");
    };
    let tag = key.seal_in_place(
        &record_header(BUNDLE_HEADER, segment, offset),
        iv,
        plaintext,
    );
    buf.extend_from_slice(&tag);
    buf.extend_from_slice(&len);
}

/// Splits `entries` into runs of about [`BUNDLE_TARGET`] bytes (at least one
/// entry each).
fn bundles<'e, 'a>(entries: &'e [&'a [u8]]) -> impl Iterator<Item = &'e [&'a [u8]]> {
    let mut rest = entries;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut size = 0;
        let n = rest
            .iter()
            .take_while(|e| {
                size += 4 + e.len();
                size <= BUNDLE_TARGET
            })
            .count()
            .max(1);
        let (run, tail) = rest.split_at(n);
        rest = tail;
        Some(run)
    })
}

/// The entries of a bundle's plaintext, oldest first; `None` if the
/// lengths do not add up.
fn bundle_entries(mut plain: &[u8]) -> Option<Vec<&[u8]>> {
    let mut out = Vec::new();
    while !plain.is_empty() {
        let (len, rest) = plain.split_first_chunk::<4>()?;
        let len = usize::try_from(u32::from_be_bytes(*len)).ok()?;
        if len > rest.len() {
            return None;
        }
        let (entry, rest) = rest.split_at(len);
        out.push(entry);
        plain = rest;
    }
    (!out.is_empty()).then_some(out)
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
        if !known_kind(kind) || len > MAX_BODY {
            return Ok(Scan::Corrupt(pos));
        }
        let end = pos + HEAD + len + TAIL;
        if end > file_len {
            return Ok(if ends_with_whole_frame(file, path, pos, file_len)? {
                Scan::Corrupt(pos)
            } else {
                Scan::Torn(pos)
            });
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

/// Whether the file ends with a whole frame starting at or after `pos`
/// (judged by its trailing length and kind byte). A crash cuts a write
/// short, so a torn tail never ends that way, except by a 2^-32 chance; a
/// frame whose leading length was altered does. Telling the two apart keeps
/// a flipped length byte from passing as a torn tail and being cut off.
fn ends_with_whole_frame(
    file: &File,
    path: &Path,
    pos: u64,
    file_len: u64,
) -> Result<bool, StoreError> {
    if file_len - pos < HEAD + TAIL {
        return Ok(false);
    }
    let mut tail = [0u8; TAIL as usize];
    file.read_exact_at(&mut tail, file_len - TAIL)
        .map_err(StoreError::io(path))?;
    let len = u64::from(u32::from_be_bytes(tail));
    if len > MAX_BODY || file_len - pos < HEAD + len + TAIL {
        return Ok(false);
    }
    let start = file_len - HEAD - len - TAIL;
    let mut kind = [0u8; 1];
    file.read_exact_at(&mut kind, start)
        .map_err(StoreError::io(path))?;
    Ok(known_kind(kind[0]))
}

/// A history file open for appending. Only the [`HistoryService`] thread
/// writes, so there is one writer per file.
pub struct HistoryFile {
    path: PathBuf,
    file: File,
    /// End of the last whole frame written.
    len: u64,
    /// End of what the last successful fsync made durable.
    synced: u64,
    /// The bytes from `synced` to `len`, kept until they are fsynced so that
    /// a failed fsync can be answered by writing them again.
    unsynced: Vec<u8>,
    /// A failed write could not be cut back, or an fsync failed: the file
    /// must be repaired (see [`HistoryFile::repair`]) before the next append.
    needs_repair: bool,
    last_write: Instant,
    public: [u8; 32],
    segment: Option<(u64, EtmKey)>,
    #[cfg(test)]
    fail_syncs: u32,
}

impl std::fmt::Debug for HistoryFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HistoryFile")
            .field("path", &self.path)
            .field("len", &self.len)
            .field("synced", &self.synced)
            .field("needs_repair", &self.needs_repair)
            .finish()
    }
}

impl HistoryFile {
    /// Opens (or creates) a history for appending under `public`, cutting a
    /// torn tail left by a crash.
    pub fn open_append(path: &Path, public: [u8; 32]) -> Result<HistoryFile, StoreError> {
        Self::open_known(path, public, None)
    }

    /// Like [`HistoryFile::open_append`]; if the file is still exactly
    /// `known` bytes long (its length when this writer last closed it
    /// cleanly), the scan is skipped.
    fn open_known(
        path: &Path,
        public: [u8; 32],
        known: Option<u64>,
    ) -> Result<HistoryFile, StoreError> {
        let mut file = open_private_append(path)?;
        let current = file.metadata().map_err(StoreError::io(path))?.len();
        let state = match known {
            Some(k) if k == current => Scan::Clean(k),
            _ => scan(&file, path)?,
        };
        let len = match state {
            Scan::Clean(len) => len,
            Scan::Torn(len) => {
                tracing::warn!(path = %path.display(), at = len, "cutting a torn record left by a crash");
                file.set_len(len).map_err(StoreError::io(path))?;
                file.sync_all().map_err(StoreError::io(path))?;
                len
            }
            Scan::Corrupt(at) => {
                let aside = path.with_extension(format!("corrupt-{}", cove_common::time::now_ms()));
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
            synced: len,
            unsynced: Vec::new(),
            needs_repair: false,
            last_write: Instant::now(),
            public,
            segment: None,
            #[cfg(test)]
            fail_syncs: 0,
        })
    }

    /// Appends entries, all in one `write(2)`, as bundles of about
    /// `BUNDLE_TARGET` bytes. A new segment is started on the first append
    /// after opening. If the write fails, the file is cut back to where it
    /// was, so nothing partial stays behind.
    pub fn append(&mut self, entries: &[&[u8]]) -> Result<(), StoreError> {
        if self.needs_repair {
            self.repair()?;
        }
        // The frames are built at the end of `unsynced`, which keeps them
        // until they are fsynced anyway: written bytes are copied once.
        let start = self.unsynced.len();
        let at = |buf: &Vec<u8>| self.len + (buf.len() - start) as u64;
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
            push_frame(&mut self.unsynced, KIND_SEGMENT, &body);
            self.segment = Some((
                self.len,
                EtmKey::derive(data_key.as_ref(), b"", RECORD_LABEL),
            ));
        }
        let Some((seg, key)) = &self.segment else {
            return Err(StoreError::corrupt(&self.path, "no segment"));
        };
        for run in bundles(entries) {
            let offset = at(&self.unsynced);
            push_bundle(&mut self.unsynced, key, *seg, offset, run);
        }
        self.last_write = Instant::now();
        if let Err(e) = self.file.write_all(&self.unsynced[start..]) {
            self.unsynced.truncate(start);
            // Part of the batch may be in the file: cut it off so the file
            // ends with a whole frame. If even that fails (a read-only file
            // system), no append happens until it succeeds.
            if let Err(cut) = self.file.set_len(self.len) {
                tracing::error!(path = %self.path.display(), error = %cut,
                    "cannot cut a failed write back; the file takes no records until it can");
                self.needs_repair = true;
            }
            if new_segment {
                self.segment = None;
            }
            return Err(StoreError::Io {
                path: self.path.clone(),
                source: e,
            });
        }
        self.len = at(&self.unsynced);
        Ok(())
    }

    /// fsyncs the file. If the fsync fails, the records written since the
    /// last good one are written again from memory and fsynced once more;
    /// an error means that failed too, and the file takes no new records
    /// until a later [`HistoryFile::sync`] or append repairs it.
    pub fn sync(&mut self) -> Result<(), StoreError> {
        if !self.needs_repair {
            match self.sync_data() {
                Ok(()) => {
                    self.mark_synced();
                    return Ok(());
                }
                Err(e) => {
                    tracing::error!(path = %self.path.display(), error = %e,
                        bytes = self.unsynced.len(),
                        "history fsync failed; writing the unsynced records again");
                    self.needs_repair = true;
                }
            }
        }
        self.repair()
    }

    /// Cuts the file back to `len` (a length it had earlier), forgetting
    /// what was appended since. If the cut fails, the file is repaired
    /// before it takes records.
    pub fn rollback(&mut self, len: u64) {
        if len >= self.len {
            return;
        }
        let keep = len.saturating_sub(self.synced);
        self.unsynced
            .truncate(usize::try_from(keep).unwrap_or(usize::MAX));
        self.synced = self.synced.min(len);
        self.len = len;
        if self.segment.as_ref().is_some_and(|(at, _)| *at >= len) {
            self.segment = None;
        }
        if let Err(e) = self.file.set_len(len) {
            tracing::error!(path = %self.path.display(), error = %e,
                "cannot cut a history back; the file takes no records until it can");
            self.needs_repair = true;
        }
    }

    /// Whether the file must be repaired before it takes records.
    pub fn needs_repair(&self) -> bool {
        self.needs_repair
    }

    /// Whether everything written is fsynced and nothing needs repair.
    fn is_clean(&self) -> bool {
        !self.needs_repair && self.synced == self.len
    }

    /// Makes the file exactly what this writer wrote: cut back to the last
    /// fsynced length, write the bytes since then again from memory, fsync.
    fn repair(&mut self) -> Result<(), StoreError> {
        let result = self
            .file
            .set_len(self.synced)
            .and_then(|()| self.file.write_all(&self.unsynced))
            .and_then(|()| self.sync_data());
        match result {
            Ok(()) => {
                tracing::info!(path = %self.path.display(), "history file repaired");
                self.needs_repair = false;
                self.mark_synced();
                Ok(())
            }
            Err(e) => Err(StoreError::Io {
                path: self.path.clone(),
                source: e,
            }),
        }
    }

    /// Everything written is durable: the unsynced copy is dropped, its
    /// buffer kept (up to [`UNSYNCED_KEEP`]) for the next appends.
    fn mark_synced(&mut self) {
        self.synced = self.len;
        self.unsynced.clear();
        self.unsynced.shrink_to(UNSYNCED_KEEP);
    }

    fn sync_data(&mut self) -> std::io::Result<()> {
        #[cfg(test)]
        if self.fail_syncs > 0 {
            self.fail_syncs -= 1;
            return Err(std::io::Error::other("injected fsync failure"));
        }
        self.file.sync_data()
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
                if known_kind(head[0]) && hl == body {
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
        if hl != len || !known_kind(frame[0]) {
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
            let label = match kind {
                KIND_BUNDLE => BUNDLE_HEADER,
                KIND_RECORD => RECORD_HEADER,
                _ => continue,
            };
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
            let plain = key
                .open_in_place(&record_header(label, seg, start), &mut body[8..])
                .map_err(|_| StoreError::Tampered {
                    path: self.path.clone(),
                })?;
            let entries = if kind == KIND_RECORD {
                vec![&plain[..]]
            } else {
                bundle_entries(plain).ok_or_else(|| {
                    StoreError::corrupt(&self.path, format!("bad bundle at {start}"))
                })?
            };
            for entry in entries.into_iter().rev() {
                let msg: ChatMessage = serde_json::from_slice(entry).map_err(|e| {
                    StoreError::corrupt(&self.path, format!("record at {start}: {e}"))
                })?;
                if before.is_some_and(|b| msg.id >= b) || !filter(&msg) {
                    continue;
                }
                if out.len() == limit {
                    return Ok((out, true));
                }
                out.push(msg);
            }
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
        batch.push(c);
        if batch.len() >= BATCH_JOBS || bytes >= BATCH_BYTES {
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
        for cmd in batch {
            match cmd {
                Command::Append(job, done) => {
                    jobs.push(job);
                    dones.push(done);
                }
                Command::Stop(ack) => stop = Some(ack),
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
        if result.is_ok() || f.len != f.synced || f.needs_repair {
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

    /// Each frame's kind and body length, from the start.
    fn frames(path: &Path) -> Vec<(u8, usize)> {
        let bytes = std::fs::read(path).unwrap();
        let mut out = Vec::new();
        let mut at = 0;
        while at < bytes.len() {
            let len = u32::from_be_bytes(bytes[at + 1..at + 5].try_into().unwrap()) as usize;
            out.push((bytes[at], len));
            at += 5 + len + 4;
        }
        out
    }

    #[test]
    fn an_append_is_one_bundle_or_several_of_bounded_size() {
        let (_d, path, secret) = setup();
        let mut f = HistoryFile::open_append(&path, secret.public()).unwrap();
        f.append(&[&msg(1, "room", "one"), &msg(2, "room", "two")])
            .unwrap();
        assert_eq!(
            frames(&path).iter().map(|f| f.0).collect::<Vec<_>>(),
            [KIND_SEGMENT, KIND_BUNDLE],
            "two entries, one box"
        );
        let big: Vec<Vec<u8>> = (3..403)
            .map(|id| msg(id, "room", &format!("{id:0>1000}")))
            .collect();
        let refs: Vec<&[u8]> = big.iter().map(|e| &e[..]).collect();
        f.append(&refs).unwrap();
        let bundles: Vec<usize> = frames(&path)
            .into_iter()
            .filter(|f| f.0 == KIND_BUNDLE)
            .map(|f| f.1)
            .collect();
        assert!(bundles.len() > 400 * 1000 / BUNDLE_TARGET, "{bundles:?}");
        assert!(
            bundles
                .iter()
                .all(|&len| len <= 8 + IV_LEN + BUNDLE_TARGET + TAG_LEN),
            "{bundles:?}"
        );
        let r = HistoryReader::open(&path, &secret).unwrap();
        let (page, more) = r.page(None, 1000, |_| true).unwrap();
        let ids: Vec<u64> = page.iter().map(|m| m.id).collect();
        assert_eq!(ids, (1..403).rev().collect::<Vec<_>>());
        assert!(!more);
    }

    #[test]
    fn a_bundle_relabelled_as_a_single_record_is_refused() {
        let (_d, path, secret) = setup();
        let mut f = HistoryFile::open_append(&path, secret.public()).unwrap();
        f.append(&[&msg(1, "room", "one")]).unwrap();
        drop(f);
        let mut bytes = std::fs::read(&path).unwrap();
        let at = 5 + frames(&path)[0].1 + 4;
        assert_eq!(bytes[at], KIND_BUNDLE);
        bytes[at] = KIND_RECORD;
        std::fs::write(&path, &bytes).unwrap();
        let r = HistoryReader::open(&path, &secret).unwrap();
        assert!(matches!(
            r.page(None, 10, |_| true),
            Err(StoreError::Tampered { .. })
        ));
    }

    /// A file written before bundles, one record frame per entry (made by
    /// the writer of 2026-11-23 with the history key `[5; 32]`), is read and
    /// appended to.
    #[test]
    fn files_of_single_records_are_still_read_and_appended_to() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("u.hist");
        let fixture =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/history-v1-single-records.hist");
        std::fs::copy(fixture, &path).unwrap();
        let kinds: Vec<u8> = frames(&path).into_iter().map(|f| f.0).collect();
        assert_eq!(
            kinds,
            [
                KIND_SEGMENT,
                KIND_RECORD,
                KIND_RECORD,
                KIND_RECORD,
                KIND_SEGMENT,
                KIND_RECORD
            ]
        );
        let secret = HistorySecret::from_bytes([5; 32]);
        let read = || {
            let r = HistoryReader::open(&path, &secret).unwrap();
            let (page, _) = r.page(None, 10, |_| true).unwrap();
            page.iter()
                .map(|m| m.text.as_str().to_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(read(), ["four", "three", "two", "one"]);
        let mut f = HistoryFile::open_append(&path, secret.public()).unwrap();
        f.append(&[&msg(5, "general", "five")]).unwrap();
        drop(f);
        assert_eq!(read(), ["five", "four", "three", "two", "one"]);
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

    fn read_all(path: &Path, secret: &HistorySecret) -> Vec<String> {
        let r = HistoryReader::open(path, secret).unwrap();
        let (page, _) = r.page(None, 1000, |_| true).unwrap();
        page.iter().map(|m| m.text.as_str().to_owned()).collect()
    }

    /// Overwrites `from..` of the file with zeros: what the disk may hold
    /// after a failed fsync let the kernel drop the written pages.
    fn lose_unsynced(path: &Path, from: u64) {
        let len = std::fs::metadata(path).unwrap().len();
        let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
        f.write_all_at(&vec![0u8; (len - from) as usize], from)
            .unwrap();
    }

    #[test]
    fn failed_fsync_writes_the_unsynced_records_again() {
        let (_d, path, secret) = setup();
        let mut f = HistoryFile::open_append(&path, secret.public()).unwrap();
        f.append(&[&msg(1, "room", "one")]).unwrap();
        f.sync().unwrap();
        let synced = std::fs::metadata(&path).unwrap().len();
        f.append(&[&msg(2, "room", "two"), &msg(3, "room", "three")])
            .unwrap();
        lose_unsynced(&path, synced);
        f.fail_syncs = 1;
        // The fsync fails; the records are written again and fsynced.
        f.sync().unwrap();
        assert!(!f.needs_repair());
        assert_eq!(read_all(&path, &secret), ["three", "two", "one"]);
    }

    #[test]
    fn file_whose_repair_fails_takes_no_records_until_repaired() {
        let (_d, path, secret) = setup();
        let mut f = HistoryFile::open_append(&path, secret.public()).unwrap();
        f.append(&[&msg(1, "room", "one")]).unwrap();
        f.sync().unwrap();
        let synced = std::fs::metadata(&path).unwrap().len();
        f.append(&[&msg(2, "room", "two")]).unwrap();
        lose_unsynced(&path, synced);
        // The fsync and the fsync after rewriting both fail: reported.
        f.fail_syncs = 2;
        assert!(matches!(f.sync(), Err(StoreError::Io { .. })));
        assert!(f.needs_repair());
        // Still failing: an append is refused and writes nothing.
        f.fail_syncs = 1;
        assert!(f.append(&[&msg(3, "room", "three")]).is_err());
        assert!(f.needs_repair());
        // The disk works again: the next append repairs first.
        f.append(&[&msg(4, "room", "four")]).unwrap();
        assert!(!f.needs_repair());
        f.sync().unwrap();
        assert_eq!(read_all(&path, &secret), ["four", "two", "one"]);
        // And the file reopens cleanly, with no torn or stray frames.
        drop(f);
        let mut f = HistoryFile::open_append(&path, secret.public()).unwrap();
        f.append(&[&msg(5, "room", "five")]).unwrap();
        assert_eq!(read_all(&path, &secret), ["five", "four", "two", "one"]);
    }

    #[test]
    fn failed_write_is_reported_and_advances_nothing() {
        let (d, _path, secret) = setup();
        // Every write(2) to /dev/full fails with ENOSPC.
        let path = d.path().join("full.hist");
        std::os::unix::fs::symlink("/dev/full", &path).unwrap();
        let mut f = HistoryFile::open_append(&path, secret.public()).unwrap();
        let err = f.append(&[&msg(1, "room", "one")]).unwrap_err();
        assert!(
            matches!(&err, StoreError::Io { source, .. } if source.kind() == std::io::ErrorKind::StorageFull),
            "{err}"
        );
        assert_eq!(f.len, 0);
        assert!(f.unsynced.is_empty());
        // A device cannot be cut back, so the file is marked for repair and
        // refuses records instead of writing after a possibly torn one.
        assert!(f.needs_repair());
        assert!(f.append(&[&msg(2, "room", "two")]).is_err());
    }

    #[test]
    fn reopening_with_a_known_length_skips_the_scan_only_if_unchanged() {
        let (_d, path, secret) = setup();
        let mut f = HistoryFile::open_append(&path, secret.public()).unwrap();
        f.append(&[&msg(1, "room", "one")]).unwrap();
        let len = f.len;
        drop(f);
        // Grown behind the writer's back (a torn frame): the known length
        // no longer matches, so the file is scanned and cut.
        let g = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        (&g).write_all(&[2, 0, 0, 1, 0, 7]).unwrap();
        drop(g);
        let f = HistoryFile::open_known(&path, secret.public(), Some(len)).unwrap();
        assert_eq!(f.len, len);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), len);
    }

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
