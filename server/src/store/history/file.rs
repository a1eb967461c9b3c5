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
//! Writes, fsyncs, cuts and repairs go through an
//! [`Appender`](super::appender::Appender): a failed write is cut back, a
//! failed fsync is answered by writing the unsynced bytes again from memory.

use std::path::Path;
use std::time::Instant;

use cove_common::crypto::{EtmKey, random_bytes};
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroizing;

use super::appender::{Appender, SyncRequest};
#[cfg(test)]
use super::format::SharedRun;
use super::format::{
    KIND_SEGMENT, LinkedRun, RECORD_LABEL, Run, SEGMENT_BYTES, SEGMENT_HEADER, bundles, push_frame,
    push_run, segment_seal_key,
};
use super::walk::walk;
use crate::store::{StoreError, open_private_append, sync_dir};

/// The segment bundles are being written under: its frame's offset, its
/// data key, and the bytes of the boxes linked under it (which its bound,
/// [`SEGMENT_BYTES`], counts with its frames).
#[derive(Clone)]
struct Segment {
    offset: u64,
    data_key: Zeroizing<[u8; 32]>,
    key: EtmKey,
    linked: u64,
}

impl Segment {
    fn new(offset: u64, data_key: Zeroizing<[u8; 32]>, linked: u64) -> Self {
        let key = EtmKey::derive(data_key.as_ref(), b"", RECORD_LABEL);
        Self {
            offset,
            data_key,
            key,
            linked,
        }
    }

    /// Bytes it covers if a frame starts at `offset`.
    fn covers(&self, offset: u64) -> u64 {
        offset - self.offset + self.linked
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
    segment: Option<(u64, Zeroizing<[u8; 32]>, u64)>,
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
pub struct HistoryFile {
    /// The file's bytes, their fsyncs and repairs. Read by the writer
    /// thread (to know what to fsync, cut back or close); changed only
    /// through `HistoryFile`'s methods (and by tests, which set
    /// `fail_syncs`).
    pub(super) out: Appender,
    pub(super) last_write: Instant,
    public: [u8; 32],
    segment: Option<Segment>,
}

impl std::fmt::Debug for HistoryFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HistoryFile")
            .field("path", &self.out.path)
            .field("len", &self.out.len)
            .field("synced", &self.out.synced)
            .field("needs_repair", &self.out.needs_repair())
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
                k.segment
                    .map(|(offset, key, linked)| Segment::new(offset, key, linked)),
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
            out: Appender::new(path, file, len),
            last_write: Instant::now(),
            public,
            segment,
        })
    }

    /// What reopening this file needs to skip the scan and continue its
    /// segment; meaningful once the file is clean ([`HistoryFile::is_clean`]).
    pub(super) fn resume(&self) -> Resume {
        Resume {
            len: self.out.len,
            segment: self
                .segment
                .as_ref()
                .map(|s| (s.offset, s.data_key.clone(), s.linked)),
        }
    }

    /// Appends entries, all in one `write(2)`, as bundles of about
    /// `BUNDLE_TARGET` bytes. A new segment starts when there is none (the
    /// first append after opening a file whose segment is not known) or the
    /// current one already covers [`SEGMENT_BYTES`]. If the write fails, the
    /// file is cut back to where it was, so nothing partial stays behind.
    pub fn append(&mut self, entries: &[&[u8]]) -> Result<(), StoreError> {
        self.append_runs(bundles(entries).map(Run::Own))
    }

    /// Like [`HistoryFile::append`], for runs sealed once for every user
    /// they go to and stored in a boxes file (see [`LinkedRun`]).
    pub(crate) fn append_linked(&mut self, runs: &[LinkedRun]) -> Result<(), StoreError> {
        self.append_runs(runs.iter().map(Run::Linked))
    }

    /// Tests only: appends shared bundles (kind 4), the form the writer
    /// wrote before linked bundles, which readers still read.
    #[cfg(test)]
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
        let before = self.segment.clone();
        let public = self.public;
        let mut segment = self.segment.take();
        let written = self.out.append(|buf, origin| {
            let at = |buf: &Vec<u8>| origin + buf.len() as u64;
            for run in runs {
                let offset = at(buf);
                let mut seg = match segment.take() {
                    Some(s) if s.covers(offset) <= SEGMENT_BYTES => s,
                    _ => push_segment(buf, offset, &public),
                };
                let offset = at(buf);
                push_run(buf, &seg.key, seg.offset, offset, &run);
                seg.linked += run.linked_len();
                segment = Some(seg);
            }
        });
        self.last_write = Instant::now();
        self.segment = if written.is_ok() { segment } else { before };
        written
    }

    /// fsyncs the file; see [`Appender::sync`].
    pub fn sync(&mut self) -> Result<(), StoreError> {
        self.out.sync()
    }

    /// Cuts the file back to `len` (a length it had earlier), forgetting
    /// what was appended since (and its segment, if that came after).
    pub fn rollback(&mut self, len: u64) {
        self.out.rollback(len);
        if self.segment.as_ref().is_some_and(|s| s.offset >= len) {
            self.segment = None;
        }
    }

    /// Whether the file must be repaired before it takes records.
    pub fn needs_repair(&self) -> bool {
        self.out.needs_repair()
    }

    /// Whether the file may be closed; see [`Appender::is_clean`].
    pub(super) fn is_clean(&self) -> bool {
        self.out.is_clean()
    }

    /// See [`Appender::is_syncing`].
    pub(super) fn is_syncing(&self) -> bool {
        self.out.is_syncing()
    }

    /// See [`Appender::start_sync`].
    pub(super) fn start_sync(&mut self) -> Option<SyncRequest> {
        self.out.start_sync()
    }

    /// See [`Appender::sync_done`].
    pub(super) fn sync_done(&mut self, result: std::io::Result<()>) -> Result<(), StoreError> {
        self.out.sync_done(result)
    }
}

/// Appends a new segment frame at `offset` to `buf` for the history key
/// `public`, returning it.
fn push_segment(buf: &mut Vec<u8>, offset: u64, public: &[u8; 32]) -> Segment {
    let e = StaticSecret::from(random_bytes::<32>());
    let e_pub = PublicKey::from(&e).to_bytes();
    let shared = Zeroizing::new(e.diffie_hellman(&PublicKey::from(*public)).to_bytes());
    let data_key = Zeroizing::new(random_bytes::<32>());
    let mut body = e_pub.to_vec();
    segment_seal_key(&shared, &e_pub, public).seal_append(
        SEGMENT_HEADER,
        data_key.as_ref(),
        &mut body,
    );
    push_frame(buf, KIND_SEGMENT, &body);
    Segment::new(offset, data_key, 0)
}

#[cfg(test)]
mod tests;
