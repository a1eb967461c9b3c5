//! [`DataDirLock`]: one process at a time in a data directory. Two
//! servers, or a server and an operator command, writing one `users.json`
//! and the same histories would each overwrite what the other wrote; the
//! second is refused instead. An advisory `flock` on `<data dir>/lock`,
//! released by the kernel when the holder exits, however it exits, so a
//! crash leaves no stale lock behind.

use std::fs::File;
use std::path::{Path, PathBuf};

use rustix::fs::{FlockOperation, flock};

use super::StoreError;

/// The lock file's name in the data directory.
pub const LOCK_FILE: &str = "lock";

/// Held while a process uses a data directory.
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
}

/// Why a data directory could not be locked.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process holds it.
    #[error("{0} is in use by another cove-server process; stop it first")]
    InUse(PathBuf),
    /// The lock file could not be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl DataDirLock {
    /// Takes the lock of `data_dir`, or says who holds it.
    pub fn acquire(data_dir: &Path) -> Result<DataDirLock, LockError> {
        let path = data_dir.join(LOCK_FILE);
        // Created (private) if missing, then held open read-only: `flock`
        // needs no write access, and a file held open for writing would
        // keep the file system from being remounted read-only, which the
        // server otherwise rides out (scripts/disk-trouble.sh).
        drop(super::open_private_append(&path)?);
        let file = File::open(&path).map_err(StoreError::io(&path))?;
        match flock(&file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => Ok(DataDirLock { _file: file }),
            Err(rustix::io::Errno::WOULDBLOCK) => Err(LockError::InUse(data_dir.to_owned())),
            Err(e) => Err(StoreError::io(&path)(e.into()).into()),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_second_holder_is_refused_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let first = DataDirLock::acquire(dir.path()).unwrap();
        assert!(matches!(
            DataDirLock::acquire(dir.path()),
            Err(LockError::InUse(_))
        ));
        drop(first);
        DataDirLock::acquire(dir.path()).unwrap();
    }

    #[test]
    fn the_lock_file_is_held_open_read_only() {
        use std::os::fd::AsRawFd;
        let dir = tempfile::tempdir().unwrap();
        let lock = DataDirLock::acquire(dir.path()).unwrap();
        // What /proc says of the descriptor: opened without write access.
        let fd = lock._file.as_raw_fd();
        let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")).unwrap();
        let flags = info
            .lines()
            .find_map(|l| l.strip_prefix("flags:"))
            .map(|f| u32::from_str_radix(f.trim(), 8).unwrap())
            .unwrap();
        assert_eq!(
            flags & 0o3,
            0,
            "O_RDONLY, not O_WRONLY or O_RDWR: {flags:o}"
        );
    }
}
