//! Everything the server keeps on disk: its keys ([`keys`]), the account
//! database ([`users`], with accounts named by [`user_id`] and each room's
//! [`rooms`] rules), the per-user chat histories ([`history`]) and the
//! message id reservation ([`ids`]); [`lock`] keeps a data directory to
//! one process.
//!
//! Every directory is created with mode 0700 and every file with 0600.
//! Whole-file writes are atomic (temporary file, fsync, rename, fsync of the
//! directory): a crash at any instant leaves the old file or the new one.

pub mod blobs;
pub mod history;
pub mod ids;
pub mod keys;
pub mod lock;
pub mod rooms;
pub mod user_id;
pub mod users;

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Why storage failed. Every variant names the file concerned.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The operating system refused a read or write.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The operating system refused a read.
    #[error("{path}: cannot read: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A file's authentication tag does not verify: it was altered, or it
    /// belongs to another key. The file is left untouched.
    #[error(
        "{path}: the file was modified or belongs to another server (authentication failed); it is left untouched"
    )]
    Tampered {
        /// The file.
        path: PathBuf,
    },
    /// A file is not in the expected format.
    #[error("{path}: unreadable ({reason})")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The key file is protected by a passphrase and none (or another) was
    /// given.
    #[error("{path}: {reason}")]
    Passphrase {
        /// The key file.
        path: PathBuf,
        /// What is wrong.
        reason: &'static str,
    },
}

impl StoreError {
    pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
        move |source| StoreError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// A read of `path` that failed.
    pub(crate) fn read(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
        move |source| StoreError::Read {
            path: path.to_path_buf(),
            source,
        }
    }

    /// What went wrong, in words fit for a client: the kind of trouble,
    /// never a path.
    pub fn public_reason(&self) -> &'static str {
        use std::io::ErrorKind;
        match self {
            StoreError::Io { source, .. } => match source.kind() {
                ErrorKind::StorageFull | ErrorKind::QuotaExceeded | ErrorKind::FileTooLarge => {
                    "the server's disk is full"
                }
                ErrorKind::ReadOnlyFilesystem => "the server's disk is read-only",
                _ => "the server cannot write to its disk",
            },
            StoreError::Read { .. } => "the server cannot read its disk",
            StoreError::Tampered { .. } | StoreError::Corrupt { .. } => {
                "the server's stored data is damaged"
            }
            StoreError::Passphrase { .. } => "the server's keys are locked",
        }
    }

    pub(crate) fn corrupt(path: &Path, reason: impl Into<String>) -> StoreError {
        StoreError::Corrupt {
            path: path.to_path_buf(),
            reason: reason.into(),
        }
    }
}

/// Creates `dir` (and parents) with mode 0700 if missing, and tightens the
/// mode of an existing one.
pub fn ensure_private_dir(dir: &Path) -> Result<(), StoreError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(StoreError::io(dir))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(StoreError::io(dir))
}

/// Creates the data directory and its `chat_histories/` folder.
pub fn ensure_data_dir(data_dir: &Path) -> Result<(), StoreError> {
    ensure_private_dir(data_dir)?;
    ensure_private_dir(&data_dir.join(history::HISTORY_DIR))
}

/// Opens a file for reading and appending, creating it with mode 0600.
pub(crate) fn open_private_append(path: &Path) -> Result<File, StoreError> {
    OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)
        .map_err(StoreError::io(path))
}

/// Replaces `path` with `bytes` atomically and durably.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let dir = path
        .parent()
        .ok_or_else(|| StoreError::corrupt(path, "no parent directory"))?;
    let name = path
        .file_name()
        .ok_or_else(|| StoreError::corrupt(path, "no file name"))?;
    let tmp = dir.join(format!(".{}.tmp", name.to_string_lossy()));
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(StoreError::io(&tmp))?;
    let written = f
        .write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(StoreError::io(&tmp));
    drop(f);
    if let Err(e) = written {
        // A disk that filled up must not also keep our half-written
        // temporary file: remove it so its space comes back at once.
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    if let Err(e) = fs::rename(&tmp, path) {
        let _ = fs::remove_file(&tmp);
        return Err(StoreError::io(path)(e));
    }
    sync_dir(dir)
}

/// fsyncs a directory, making a rename or file creation in it durable.
pub fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(StoreError::io(dir))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn atomic_write_replaces_and_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.json");
        atomic_write(&p, b"one").unwrap();
        atomic_write(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        let mode = fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // No temporary file is left behind.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn failed_atomic_write_keeps_the_old_file_and_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.json");
        atomic_write(&p, b"one").unwrap();
        // The temporary file's writes land on /dev/full: every write(2)
        // fails with ENOSPC, as on a full disk.
        let tmp = dir.path().join(".f.json.tmp");
        std::os::unix::fs::symlink("/dev/full", &tmp).unwrap();
        let err = atomic_write(&p, b"two").unwrap_err();
        assert!(
            matches!(&err, StoreError::Io { source, .. } if source.kind() == std::io::ErrorKind::StorageFull),
            "{err}"
        );
        assert_eq!(fs::read(&p).unwrap(), b"one");
        assert!(fs::symlink_metadata(&tmp).is_err(), "temporary file left");
        // Space is back: the next write works.
        atomic_write(&p, b"three").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"three");
    }

    #[test]
    fn data_dir_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("a/b");
        ensure_data_dir(&d).unwrap();
        for p in [d.clone(), d.join(history::HISTORY_DIR)] {
            assert_eq!(
                fs::metadata(&p).unwrap().permissions().mode() & 0o777,
                0o700
            );
        }
    }

    #[test]
    fn a_failed_read_is_not_called_a_failed_write() {
        let read = StoreError::read(Path::new("h.hist"))(std::io::Error::other("EIO"));
        assert_eq!(read.public_reason(), "the server cannot read its disk");
        let write = StoreError::io(Path::new("h.hist"))(std::io::Error::other("EIO"));
        assert_eq!(write.public_reason(), "the server cannot write to its disk");
    }
}
