//! `message_ids`: the bound below which every message id issued so far
//! lies, so ids keep increasing across restarts even if the clock stepped
//! back meanwhile. The file holds one decimal number and a newline, written
//! atomically; the id clock (the `clock` module) reserves ids ahead of use and
//! rewrites it only when a reservation runs low.

use std::fs;
use std::path::{Path, PathBuf};

use super::{StoreError, atomic_write};

/// The file's name in the data directory.
pub const IDS_FILE: &str = "message_ids";

/// Where the reservation of one data directory lives.
#[derive(Debug, Clone)]
pub struct IdReservation {
    path: PathBuf,
}

impl IdReservation {
    /// The reservation file of `data_dir`.
    pub fn in_dir(data_dir: &Path) -> Self {
        Self {
            path: data_dir.join(IDS_FILE),
        }
    }

    /// The stored bound, or `None` for a data directory that has none yet.
    /// A file that does not hold a number is reported, not guessed at.
    pub fn load(&self) -> Result<Option<u64>, StoreError> {
        let text = match fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(StoreError::io(&self.path)(e)),
        };
        text.trim()
            .parse()
            .map(Some)
            .map_err(|_| StoreError::corrupt(&self.path, "not a message id"))
    }

    /// Stores a new bound, atomically and durably.
    pub fn save(&self, bound: u64) -> Result<(), StoreError> {
        atomic_write(&self.path, format!("{bound}\n").as_bytes())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_bound_survives_and_garbage_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let r = IdReservation::in_dir(dir.path());
        assert_eq!(r.load().unwrap(), None);
        r.save(1_763_800_000_000_123).unwrap();
        assert_eq!(r.load().unwrap(), Some(1_763_800_000_000_123));
        fs::write(dir.path().join(IDS_FILE), "12x\n").unwrap();
        assert!(matches!(r.load(), Err(StoreError::Corrupt { .. })));
    }
}
