//! [`Appender`]: an append-only file that never acknowledges less than it
//! wrote. Each append is one `write(2)`; a failed write is cut back to the
//! last whole append; the bytes written since the last good fsync are kept
//! in memory, so that when an fsync fails (after which the kernel may have
//! dropped those pages) they are written again from that copy and fsynced
//! again; until that succeeds the file takes nothing new. A history file
//! ([`super::file::HistoryFile`]) and a file of shared boxes
//! ([`super::boxes`]) are both written through one.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::store::StoreError;

/// Capacity kept for a file's unsynced bytes after an fsync, so a busy
/// user's appends do not allocate afresh every group commit; beyond it the
/// buffer shrinks. At most the writer's open files times this stays
/// allocated, and only until the files go idle.
const UNSYNCED_KEEP: usize = 256 * 1024;

/// An fsync for another thread to run: see [`Appender::start_sync`].
pub(super) struct SyncRequest {
    /// The file to fsync.
    pub(super) file: Arc<File>,
    /// Tests only: report a failure instead (from `fail_syncs`).
    #[cfg(test)]
    pub(super) fail: bool,
}

/// See the module documentation.
pub(super) struct Appender {
    pub(super) path: PathBuf,
    /// Shared with the sync threads, which fsync it while the writer goes
    /// on appending.
    file: Arc<File>,
    /// End of the last whole append.
    pub(super) len: u64,
    /// End of what the last successful fsync made durable.
    pub(super) synced: u64,
    /// The bytes from `synced` to `len`, kept until they are fsynced so that
    /// a failed fsync can be answered by writing them again.
    pub(super) unsynced: Vec<u8>,
    /// A failed write could not be cut back, or an fsync failed: the file
    /// must be repaired (see [`Appender::repair`]) before the next append.
    needs_repair: bool,
    /// An fsync running on another thread ([`Appender::start_sync`]): what
    /// it makes durable once it succeeds.
    syncing: Option<u64>,
    #[cfg(test)]
    pub(super) fail_syncs: u32,
}

impl Appender {
    /// Appends go after `len`, which the caller found to end the file's
    /// last whole append (and is durable).
    pub(super) fn new(path: &Path, file: File, len: u64) -> Self {
        Self {
            path: path.to_path_buf(),
            file: Arc::new(file),
            len,
            synced: len,
            unsynced: Vec::new(),
            needs_repair: false,
            syncing: None,
            #[cfg(test)]
            fail_syncs: 0,
        }
    }

    /// Appends what `build` pushes onto the buffer, in one `write(2)`.
    /// `build` gets the buffer and the file offset of the buffer's first
    /// byte, so the offset of what it pushes next is that plus the
    /// buffer's length. On error nothing of it stays in the file (or the
    /// file is repaired before its next append).
    pub(super) fn append(
        &mut self,
        build: impl FnOnce(&mut Vec<u8>, u64),
    ) -> Result<(), StoreError> {
        if self.needs_repair {
            self.repair()?;
        }
        // Built at the end of `unsynced`, which keeps the bytes until they
        // are fsynced anyway: written bytes are copied once.
        let start = self.unsynced.len();
        build(&mut self.unsynced, self.synced);
        if let Err(e) = (&*self.file).write_all(&self.unsynced[start..]) {
            self.unsynced.truncate(start);
            // Part of it may be in the file: cut it off so the file ends
            // with a whole append. If even that fails (a read-only file
            // system), no append happens until it succeeds.
            if let Err(cut) = self.file.set_len(self.len) {
                tracing::error!(path = %self.path.display(), error = %cut,
                    "cannot cut a failed write back; the file takes nothing until it can");
                self.needs_repair = true;
            }
            return Err(StoreError::Io {
                path: self.path.clone(),
                source: e,
            });
        }
        self.len = self.synced + self.unsynced.len() as u64;
        Ok(())
    }

    /// fsyncs the file. If the fsync fails, what was written since the last
    /// good one is written again from memory and fsynced once more; an
    /// error means that failed too, and the file takes nothing new until a
    /// later [`Appender::sync`] or append repairs it.
    pub(super) fn sync(&mut self) -> Result<(), StoreError> {
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
    /// the file must be repaired from its copy before it takes more.
    fn sync_failed(&mut self, e: &std::io::Error) {
        tracing::error!(path = %self.path.display(), error = %e,
            bytes = self.unsynced.len(),
            "history fsync failed; writing the unsynced bytes again");
        self.needs_repair = true;
    }

    /// Cuts the file back to `len` (a length it had earlier), forgetting
    /// what was appended since. If the cut fails, the file is repaired
    /// before it takes more.
    pub(super) fn rollback(&mut self, len: u64) {
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
        if let Err(e) = self.file.set_len(len) {
            tracing::error!(path = %self.path.display(), error = %e,
                "cannot cut a history back; the file takes nothing until it can");
            self.needs_repair = true;
        }
    }

    /// Whether the file must be repaired before it takes more.
    pub(super) fn needs_repair(&self) -> bool {
        self.needs_repair
    }

    /// Whether everything written is fsynced, no fsync is running and
    /// nothing needs repair: the file may be closed.
    pub(super) fn is_clean(&self) -> bool {
        !self.needs_repair && self.synced == self.len && self.syncing.is_none()
    }

    /// Whether an fsync started by [`Appender::start_sync`] has not been
    /// reported back yet.
    pub(super) fn is_syncing(&self) -> bool {
        self.syncing.is_some()
    }

    /// Starts an fsync to run on another thread: the file (shared) and what
    /// it will make durable. `None` if there is nothing to sync, one is
    /// already running, or the file needs repair (which runs here, with
    /// [`Appender::sync`]). Report the outcome with [`Appender::sync_done`].
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

    /// The outcome of the fsync started by [`Appender::start_sync`]. On
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
