//! [`HistoryFile`]: one history file open for appending. Opening walks the
//! frame headers ([`walk`](super::walk::walk), which the reader also uses to step over
//! damage), cuts a torn tail and keeps damaged stretches as they are; an append
//! writes its bundles (and a new segment frame when one is due) in one
//! `write(2)`; fsync, rollback and repair keep the file exactly what its
//! writer wrote. Closing leaves a [`Resume`]: given back at the next
//! opening, it skips the scan and continues the segment. The layout of the
//! frames is in [`super::format`].
//!
//! # Crash safety
//! Each batch of records goes out in one `write(2)`. A crash can leave only a
//! prefix of the last batch: whole frames followed by at most one partial
//! frame. Opening for append cuts that partial frame; everything before it
//! stays. A frame that is complete but inconsistent is damage, not a torn
//! write: it is left as it is (never cut or overwritten), reads step over
//! it to the next consistent frame, and new frames are appended after it,
//! so damage costs the frames it touches and nothing written later.
//! A new (empty) file's directory is fsynced before its first append, so
//! its name is as durable as the entries acknowledged in it.
//!
//! # Disk trouble
//! A `write(2)` that fails (disk full, read-only file system, I/O error) may
//! have written part of the batch: the file is cut back to its last whole
//! frame before the error is reported, and if even that fails the cut is
//! retried before anything else is appended, so later records never follow
//! a torn one. The bytes written since the last good fsync are kept in
//! memory: when an fsync fails (after which the kernel may have dropped
//! those pages) they are written again from that copy and fsynced again; until
//! that succeeds the file takes no new records.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use cove_common::crypto::{EtmKey, random_bytes};
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroizing;

use super::format::{
    KIND_SEGMENT, RECORD_LABEL, Run, SEGMENT_BYTES, SEGMENT_HEADER, SharedRun, bundles, push_frame,
    push_run, segment_seal_key,
};
use super::walk::walk;
use crate::store::{StoreError, open_private_append, sync_dir};

/// Capacity kept for a file's unsynced bytes after an fsync, so a busy
/// user's appends do not allocate afresh every group commit; beyond it the
/// buffer shrinks. At most the writer's `OPEN_FILES` times this stays
/// allocated, and only until the files go idle.
const UNSYNCED_KEEP: usize = 256 * 1024;

/// An fsync for another thread to run: see [`HistoryFile::start_sync`].
pub(super) struct SyncRequest {
    /// The file to fsync.
    pub(super) file: Arc<File>,
    /// Tests only: report a failure instead (from `fail_syncs`).
    #[cfg(test)]
    pub(super) fail: bool,
}

/// The segment bundles are being written under: its frame's offset and its
/// data key.
#[derive(Clone)]
struct Segment {
    offset: u64,
    data_key: Zeroizing<[u8; 32]>,
    key: EtmKey,
}

impl Segment {
    fn new(offset: u64, data_key: Zeroizing<[u8; 32]>) -> Self {
        let key = EtmKey::derive(data_key.as_ref(), b"", RECORD_LABEL);
        Self {
            offset,
            data_key,
            key,
        }
    }
}

/// What the writer remembers of a file it closed cleanly: its length, so
/// that reopening it unchanged needs no scan, and its segment, so that the
/// next append continues it instead of starting a new one (a key agreement
/// and about 125 bytes, which at human pace would be paid by nearly every
/// message). The data key stays in memory as long as this does; it is
/// wiped when dropped.
#[derive(Clone)]
pub(super) struct Resume {
    len: u64,
    segment: Option<(u64, Zeroizing<[u8; 32]>)>,
}

/// fsyncs the directory holding `path`, making its creation durable.
fn sync_parent(path: &Path) -> Result<(), StoreError> {
    match path.parent() {
        Some(dir) => sync_dir(dir),
        None => Ok(()),
    }
}

/// A history file open for appending. Only the
/// [`HistoryService`](super::HistoryService) thread writes, so there is one
/// writer per file.
///
/// The `pub(super)` fields are read by that thread (to know what to fsync,
/// cut back or close); only `HistoryFile`'s own methods change them (and
/// tests, which set `fail_syncs`).
pub struct HistoryFile {
    path: PathBuf,
    /// Shared with the sync threads, which fsync it while this thread
    /// goes on appending.
    file: Arc<File>,
    /// End of the last whole frame written.
    pub(super) len: u64,
    /// End of what the last successful fsync made durable.
    pub(super) synced: u64,
    /// The bytes from `synced` to `len`, kept until they are fsynced so that
    /// a failed fsync can be answered by writing them again.
    pub(super) unsynced: Vec<u8>,
    /// A failed write could not be cut back, or an fsync failed: the file
    /// must be repaired (see [`HistoryFile::repair`]) before the next append.
    needs_repair: bool,
    /// An fsync running on another thread ([`HistoryFile::start_sync`]):
    /// what it makes durable once it succeeds.
    syncing: Option<u64>,
    pub(super) last_write: Instant,
    public: [u8; 32],
    segment: Option<Segment>,
    #[cfg(test)]
    pub(super) fail_syncs: u32,
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

    /// Like [`HistoryFile::open_append`]; if the file is still exactly as
    /// long as when this writer closed it cleanly (`known`), the scan is
    /// skipped and appends continue its segment.
    pub(super) fn open_known(
        path: &Path,
        public: [u8; 32],
        known: Option<Resume>,
    ) -> Result<HistoryFile, StoreError> {
        let file = open_private_append(path)?;
        let current = file.metadata().map_err(StoreError::io(path))?.len();
        if current == 0 {
            // Perhaps just created: its name must be durable before anything
            // written to it is acknowledged (an fdatasync of the file alone
            // does not make a new directory entry durable).
            sync_parent(path)?;
        }
        let (len, segment) = match known {
            Some(k) if k.len == current => (
                k.len,
                k.segment.map(|(offset, key)| Segment::new(offset, key)),
            ),
            _ => {
                let w = walk(&file, path, current, false)?;
                for (from, to) in &w.damaged {
                    // Kept as they are: reads step over them, and appends
                    // go after them.
                    tracing::error!(path = %path.display(), from, to,
                        "damaged stretch in a history file; its messages cannot be read");
                }
                if w.torn {
                    tracing::warn!(path = %path.display(), at = w.end, "cutting a torn record left by a crash");
                    file.set_len(w.end).map_err(StoreError::io(path))?;
                    file.sync_all().map_err(StoreError::io(path))?;
                }
                (w.end, None)
            }
        };
        Ok(HistoryFile {
            path: path.to_path_buf(),
            file: Arc::new(file),
            len,
            synced: len,
            unsynced: Vec::new(),
            needs_repair: false,
            syncing: None,
            last_write: Instant::now(),
            public,
            segment,
            #[cfg(test)]
            fail_syncs: 0,
        })
    }

    /// What reopening this file needs to skip the scan and continue its
    /// segment; meaningful once the file is clean ([`HistoryFile::is_clean`]).
    pub(super) fn resume(&self) -> Resume {
        Resume {
            len: self.len,
            segment: self
                .segment
                .as_ref()
                .map(|s| (s.offset, s.data_key.clone())),
        }
    }

    /// Appends a new segment frame at `offset` to `buf`, returning it.
    fn push_segment(&self, buf: &mut Vec<u8>, offset: u64) -> Segment {
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
        push_frame(buf, KIND_SEGMENT, &body);
        Segment::new(offset, data_key)
    }

    /// Appends entries, all in one `write(2)`, as bundles of about
    /// `BUNDLE_TARGET` bytes. A new segment starts when there is none (the
    /// first append after opening a file whose segment is not known) or the
    /// current one already covers [`SEGMENT_BYTES`]. If the write fails, the
    /// file is cut back to where it was, so nothing partial stays behind.
    pub fn append(&mut self, entries: &[&[u8]]) -> Result<(), StoreError> {
        self.append_runs(bundles(entries).map(Run::Own))
    }

    /// Like [`HistoryFile::append`], for runs already sealed once for
    /// every user they go to (see [`SharedRun`]).
    pub(crate) fn append_shared(&mut self, runs: &[SharedRun]) -> Result<(), StoreError> {
        self.append_runs(runs.iter().map(Run::Shared))
    }

    fn append_runs<'e, 'a>(
        &mut self,
        runs: impl Iterator<Item = Run<'e, 'a>>,
    ) -> Result<(), StoreError>
    where
        'a: 'e,
    {
        if self.needs_repair {
            self.repair()?;
        }
        // The frames are built at the end of `unsynced`, which keeps them
        // until they are fsynced anyway: written bytes are copied once.
        let start = self.unsynced.len();
        let mut buf = std::mem::take(&mut self.unsynced);
        let at = |buf: &Vec<u8>| self.len + (buf.len() - start) as u64;
        let before = self.segment.clone();
        let mut segment = self.segment.take();
        for run in runs {
            let offset = at(&buf);
            let seg = match segment {
                Some(s) if offset - s.offset <= SEGMENT_BYTES => s,
                _ => self.push_segment(&mut buf, offset),
            };
            let offset = at(&buf);
            push_run(&mut buf, &seg.key, seg.offset, offset, &run);
            segment = Some(seg);
        }
        self.unsynced = buf;
        self.segment = segment;
        self.last_write = Instant::now();
        if let Err(e) = (&*self.file).write_all(&self.unsynced[start..]) {
            self.unsynced.truncate(start);
            // Part of the batch may be in the file: cut it off so the file
            // ends with a whole frame. If even that fails (a read-only file
            // system), no append happens until it succeeds.
            if let Err(cut) = self.file.set_len(self.len) {
                tracing::error!(path = %self.path.display(), error = %cut,
                    "cannot cut a failed write back; the file takes no records until it can");
                self.needs_repair = true;
            }
            self.segment = before;
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
                Err(e) => self.sync_failed(&e),
            }
        }
        self.repair()
    }

    /// After a failed fsync the kernel may have dropped the written pages:
    /// the file must be repaired from its copy before it takes records.
    fn sync_failed(&mut self, e: &std::io::Error) {
        tracing::error!(path = %self.path.display(), error = %e,
            bytes = self.unsynced.len(),
            "history fsync failed; writing the unsynced records again");
        self.needs_repair = true;
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
        // An fsync started before the cut covers nothing past it, and bytes
        // appended at the cut later are not covered by it.
        self.syncing = self.syncing.map(|upto| upto.min(len));
        self.len = len;
        if self.segment.as_ref().is_some_and(|s| s.offset >= len) {
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

    /// Whether everything written is fsynced, no fsync is running and
    /// nothing needs repair: the file may be closed.
    pub(super) fn is_clean(&self) -> bool {
        !self.needs_repair && self.synced == self.len && self.syncing.is_none()
    }

    /// Whether an fsync started by [`HistoryFile::start_sync`] has not
    /// been reported back yet.
    pub(super) fn is_syncing(&self) -> bool {
        self.syncing.is_some()
    }

    /// Starts an fsync to run on another thread: the file (shared) and what
    /// it will make durable. `None` if there is nothing to sync, one is
    /// already running, or the file needs repair (which runs here, with
    /// [`HistoryFile::sync`]). Report the outcome with
    /// [`HistoryFile::sync_done`].
    pub(super) fn start_sync(&mut self) -> Option<SyncRequest> {
        if self.needs_repair || self.syncing.is_some() || self.synced == self.len {
            return None;
        }
        self.syncing = Some(self.len);
        #[cfg(test)]
        let fail = self.fail_syncs > 0;
        #[cfg(test)]
        {
            self.fail_syncs = self.fail_syncs.saturating_sub(1);
        }
        Some(SyncRequest {
            file: self.file.clone(),
            #[cfg(test)]
            fail,
        })
    }

    /// The outcome of the fsync started by [`HistoryFile::start_sync`]. On
    /// success, what it covered is durable and its copy is dropped; on
    /// failure (after which the kernel may have dropped the written pages)
    /// the file is repaired at once from its copy, and an error means that
    /// failed too.
    pub(super) fn sync_done(&mut self, result: std::io::Result<()>) -> Result<(), StoreError> {
        let Some(upto) = self.syncing.take() else {
            return Ok(());
        };
        match result {
            Ok(()) => {
                if upto > self.synced {
                    let covered = usize::try_from(upto - self.synced).unwrap_or(usize::MAX);
                    self.unsynced.drain(..covered.min(self.unsynced.len()));
                    self.synced = upto;
                    if self.unsynced.is_empty() {
                        self.unsynced.shrink_to(UNSYNCED_KEEP);
                    }
                }
                Ok(())
            }
            Err(e) => {
                self.sync_failed(&e);
                self.repair()
            }
        }
    }

    /// Makes the file exactly what this writer wrote: cut back to the last
    /// fsynced length, write the bytes since then again from memory, fsync.
    fn repair(&mut self) -> Result<(), StoreError> {
        let result = self
            .file
            .set_len(self.synced)
            .and_then(|()| (&*self.file).write_all(&self.unsynced))
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

#[cfg(test)]
mod tests;
