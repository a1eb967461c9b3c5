//! Shared boxes: the sealed boxes of linked bundles (see
//! [`super::format`]), each stored once in `shared/<n>.boxes` beside the
//! history files it is linked from, instead of once per recipient. A boxes
//! file is the boxes one after another, nothing else: each link names its
//! box's place and tag, and the tag is checked under the box's key.
//!
//! The writer appends to one boxes file at a time. A file is continued
//! only by the writer that created it (a new server start makes a new
//! file), so a box a crash left half written is never overwritten by
//! another one that a link could then mistake for it. The file is written
//! before the links to its boxes, and fsynced with them at the group
//! commit (through an [`Appender`], with the same repair of failed fsyncs
//! as history files), before any message in it is acknowledged. It is
//! closed when idle like a history file, and continued when the writer
//! reopens it at the length it left it.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::appender::{Appender, SyncRequest};
use super::format::{BoxAt, MAX_BODY};
use crate::store::{StoreError, ensure_private_dir, open_private_append, sync_dir};

/// The folder of boxes files, inside a histories folder.
pub(super) const BOXES_DIR: &str = "shared";
/// Past this size a boxes file is left for a new one once all it holds is
/// fsynced (until then boxes still go to it, so a failed fsync can still be
/// repaired from the copy it keeps).
const BOX_FILE_BYTES: u64 = 256 << 20;

/// The boxes file numbered `n` in the boxes folder `dir`.
fn file_path(dir: &Path, n: u64) -> PathBuf {
    dir.join(format!("{n:016x}.boxes"))
}

/// The boxes folder for the history files in `histories`.
pub(super) fn boxes_dir(histories: &Path) -> PathBuf {
    histories.join(BOXES_DIR)
}

/// The writer's boxes files: the one being appended to, if open.
pub(super) struct Boxes {
    dir: PathBuf,
    /// The next file number to create; `None` until the folder was looked
    /// at (at the first box).
    next: Option<u64>,
    open: Option<(u64, Appender)>,
    /// The file last closed cleanly, with its length: continued if it
    /// still has that length when the next box comes.
    closed: Option<(u64, u64)>,
    pub(super) last_write: Instant,
}

impl Boxes {
    /// Boxes files in `dir`; nothing is created before the first box.
    pub(super) fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            next: None,
            open: None,
            closed: None,
            last_write: Instant::now(),
        }
    }

    /// Stores `sealed` (a box, `iv || ciphertext || tag`), returning its
    /// place. It is durable after the next fsync of the open file.
    pub(super) fn put(&mut self, sealed: &[u8]) -> Result<BoxAt, StoreError> {
        let len = u32::try_from(sealed.len())
            .ok()
            .filter(|&l| u64::from(l) <= MAX_BODY)
            .ok_or_else(|| StoreError::corrupt(&self.dir, "box too large"))?;
        let (n, file) = self.file()?;
        let offset = file.len;
        file.append(|buf, _| buf.extend_from_slice(sealed))?;
        self.last_write = Instant::now();
        Ok(BoxAt {
            file: n,
            offset,
            len,
        })
    }

    /// The open file, opened or created as needed.
    fn file(&mut self) -> Result<(u64, &mut Appender), StoreError> {
        if self
            .open
            .as_ref()
            .is_some_and(|(_, f)| f.len >= BOX_FILE_BYTES && f.is_clean())
        {
            self.open = None;
        }
        if self.open.is_none() {
            let opened = match self.closed.take() {
                Some((n, len)) if len < BOX_FILE_BYTES => self.reopen(n, len)?,
                _ => None,
            };
            let (n, f) = match opened {
                Some(f) => f,
                None => self.create()?,
            };
            self.open = Some((n, f));
        }
        match &mut self.open {
            Some((n, f)) => Ok((*n, f)),
            None => Err(StoreError::corrupt(&self.dir, "boxes file vanished")),
        }
    }

    /// File `n` again, if it still has the length it was closed at.
    fn reopen(&self, n: u64, len: u64) -> Result<Option<(u64, Appender)>, StoreError> {
        let path = file_path(&self.dir, n);
        let Ok(file) = open_private_append(&path) else {
            return Ok(None);
        };
        let now = file.metadata().map_err(StoreError::io(&path))?.len();
        Ok((now == len).then(|| (n, Appender::new(&path, file, len))))
    }

    /// A new, empty file whose name is durable before anything in it is
    /// acknowledged.
    fn create(&mut self) -> Result<(u64, Appender), StoreError> {
        let n = match self.next {
            Some(n) => n,
            None => {
                ensure_private_dir(&self.dir)?;
                if let Some(parent) = self.dir.parent() {
                    sync_dir(parent)?;
                }
                self.highest()?.map_or(0, |h| h + 1)
            }
        };
        self.next = Some(n + 1);
        let path = file_path(&self.dir, n);
        let file = open_private_append(&path)?;
        let len = file.metadata().map_err(StoreError::io(&path))?.len();
        sync_dir(&self.dir)?;
        if len != 0 {
            // Not ours (made by hand?): never append after unknown bytes.
            return self.create();
        }
        Ok((n, Appender::new(&path, file, 0)))
    }

    /// The highest file number in the folder.
    fn highest(&self) -> Result<Option<u64>, StoreError> {
        let entries = std::fs::read_dir(&self.dir).map_err(StoreError::read(&self.dir))?;
        let mut highest = None;
        for entry in entries {
            let entry = entry.map_err(StoreError::read(&self.dir))?;
            let name = entry.file_name();
            let n = name
                .to_str()
                .and_then(|s| s.strip_suffix(".boxes"))
                .and_then(|s| u64::from_str_radix(s, 16).ok());
            highest = highest.max(n);
        }
        Ok(highest)
    }

    /// The open file, if any, for the group commit.
    pub(super) fn open_file(&mut self) -> Option<&mut Appender> {
        self.open.as_mut().map(|(_, f)| f)
    }

    /// Closes the open file if it is clean, remembering where it ended.
    pub(super) fn close(&mut self) {
        if self.open.as_ref().is_some_and(|(_, f)| f.is_clean())
            && let Some((n, f)) = self.open.take()
        {
            self.closed = Some((n, f.len));
        }
    }

    /// Bytes written to the open file and not yet fsynced.
    pub(super) fn unsynced_len(&self) -> usize {
        self.open.as_ref().map_or(0, |(_, f)| f.unsynced.len())
    }

    /// Starts an fsync of the open file; see [`Appender::start_sync`].
    pub(super) fn start_sync(&mut self) -> Option<SyncRequest> {
        self.open_file()?.start_sync()
    }
}

/// Boxes files open for reading, for one reader.
pub(super) struct BoxReader {
    dir: PathBuf,
    files: std::collections::HashMap<u64, Option<File>>,
}

impl BoxReader {
    pub(super) fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            files: std::collections::HashMap::new(),
        }
    }

    /// The box at `at`, or `None` if no boxes file holds it (missing, or
    /// shorter: read as damage). Only a failing read is an error.
    pub(super) fn read(&mut self, at: BoxAt) -> Result<Option<Vec<u8>>, StoreError> {
        if u64::from(at.len) > MAX_BODY {
            return Ok(None);
        }
        let dir = &self.dir;
        let file = self.files.entry(at.file).or_insert_with(|| {
            let path = file_path(dir, at.file);
            File::open(&path)
                .inspect_err(|e| {
                    tracing::error!(path = %path.display(), error = %e,
                        "a boxes file cannot be opened; the messages linked to it cannot be read");
                })
                .ok()
        });
        let Some(file) = file else {
            return Ok(None);
        };
        let mut buf = vec![0u8; at.len as usize];
        match file.read_exact_at(&mut buf, at.offset) {
            Ok(()) => Ok(Some(buf)),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(None),
            Err(e) => Err(StoreError::read(&file_path(&self.dir, at.file))(e)),
        }
    }
}
