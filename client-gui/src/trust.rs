//! Pinned server keys, like SSH's `known_hosts`: the first time the app
//! connects to an address it shows the server's fingerprint and asks; the
//! answer is stored, and a different key at a pinned address is refused.
//!
//! The pins fail closed: a file that cannot be read or does not parse is an
//! error, never an empty list, because an empty list would turn an impostor
//! at a pinned address into an ordinary first-contact prompt.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cove_common::ServerKey;
use cove_common::files::atomic_write;

/// What the pins say about a key presented at an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// This exact key is pinned for the address.
    Trusted,
    /// Nothing is pinned for the address yet.
    Unknown,
    /// Another key is pinned: possibly an attack, or a reinstalled server.
    Changed {
        /// The key pinned before.
        pinned: ServerKey,
    },
}

/// Why the pins could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PinsError {
    /// The file exists but could not be read.
    #[error("{} cannot be read: {source}", path.display())]
    Unreadable {
        /// The pin file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a map of addresses to server keys.
    #[error("{} is damaged: {reason}", path.display())]
    Damaged {
        /// The pin file.
        path: PathBuf,
        /// What is wrong, in words.
        reason: String,
    },
}

/// The pin file (`known_servers.json` in the config directory).
#[derive(Debug, Clone)]
pub struct KnownServers {
    path: PathBuf,
    pins: BTreeMap<String, ServerKey>,
}

impl KnownServers {
    /// The pin file's name in the config directory.
    pub const FILE: &'static str = "known_servers.json";

    /// Loads the pins: none if the file does not exist, an error if it
    /// exists but cannot be read or holds anything but valid pins.
    pub fn load(config_dir: &Path) -> Result<Self, PinsError> {
        let path = config_dir.join(Self::FILE);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Self {
                    path,
                    pins: BTreeMap::new(),
                });
            }
            Err(source) => return Err(PinsError::Unreadable { path, source }),
        };
        let damaged = |reason: String| PinsError::Damaged {
            path: path.clone(),
            reason,
        };
        let raw: BTreeMap<String, String> =
            serde_json::from_slice(&bytes).map_err(|e| damaged(e.to_string()))?;
        let mut pins = BTreeMap::new();
        for (addr, hex) in raw {
            let key = ServerKey::from_hex(&hex)
                .ok_or_else(|| damaged(format!("the key pinned for {addr} is not a key")))?;
            pins.insert(addr, key);
        }
        Ok(Self { path, pins })
    }

    /// Judges `key` presented at `addr`.
    pub fn check(&self, addr: &str, key: &ServerKey) -> Verdict {
        match self.pins.get(addr) {
            None => Verdict::Unknown,
            Some(pinned) if pinned == key => Verdict::Trusted,
            Some(pinned) => Verdict::Changed { pinned: *pinned },
        }
    }

    /// The pinned servers, by address, each with its fingerprint (what
    /// the settings show).
    pub fn list(&self) -> Vec<(String, String)> {
        self.pins
            .iter()
            .map(|(addr, key)| (addr.clone(), key.fingerprint()))
            .collect()
    }

    /// Pins `key` for `addr` and saves the file (atomically, mode 0600).
    pub fn pin(&mut self, addr: &str, key: &ServerKey) -> std::io::Result<()> {
        self.pins.insert(addr.to_owned(), *key);
        self.save()
    }

    /// Removes the pin of `addr` and saves the file: the next connection
    /// there is a first contact again. False if nothing was pinned there.
    pub fn forget(&mut self, addr: &str) -> std::io::Result<bool> {
        if self.pins.remove(addr).is_none() {
            return Ok(false);
        }
        self.save().map(|()| true)
    }

    fn save(&self) -> std::io::Result<()> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let hex: BTreeMap<&str, String> = self
            .pins
            .iter()
            .map(|(a, k)| (a.as_str(), k.to_hex()))
            .collect();
        let json = serde_json::to_vec_pretty(&hex).map_err(std::io::Error::other)?;
        atomic_write(&self.path, &json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cove_common::ServerIdentity;

    #[test]
    fn pin_then_check_survives_reload() {
        let dir = tempfile::tempdir().unwrap();
        let a = ServerIdentity::generate().public_key();
        let b = ServerIdentity::generate().public_key();
        let mut k = KnownServers::load(dir.path()).unwrap();
        assert_eq!(k.check("h:1", &a), Verdict::Unknown);
        k.pin("h:1", &a).unwrap();
        let k = KnownServers::load(dir.path()).unwrap();
        assert_eq!(k.check("h:1", &a), Verdict::Trusted);
        assert_eq!(k.check("h:1", &b), Verdict::Changed { pinned: a });
        assert_eq!(k.check("h:2", &a), Verdict::Unknown);
        assert_eq!(k.list(), vec![("h:1".to_owned(), a.fingerprint())]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let meta = std::fs::metadata(dir.path().join(KnownServers::FILE)).unwrap();
            assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        }
    }

    #[test]
    fn forgetting_a_pin_makes_the_server_unknown_again() {
        let dir = tempfile::tempdir().unwrap();
        let a = ServerIdentity::generate().public_key();
        let b = ServerIdentity::generate().public_key();
        let mut k = KnownServers::load(dir.path()).unwrap();
        k.pin("h:1", &a).unwrap();
        k.pin("h:2", &b).unwrap();
        assert!(k.forget("h:1").unwrap());
        assert!(!k.forget("h:1").unwrap(), "already forgotten");
        let k = KnownServers::load(dir.path()).unwrap();
        assert_eq!(k.check("h:1", &a), Verdict::Unknown);
        assert_eq!(k.check("h:2", &b), Verdict::Trusted);
    }

    /// A file that does not parse, or a pin that is not a key, is an error:
    /// never an empty list that would make every server "unknown".
    #[test]
    fn damaged_pins_are_an_error_not_an_empty_list() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(KnownServers::FILE);
        let key = ServerIdentity::generate().public_key();
        for bad in [
            "{\"h:1\": \"".to_owned(),
            "[]".to_owned(),
            format!("{{\"h:1\": \"{}\", \"h:2\": \"abc\"}}", key.to_hex()),
        ] {
            std::fs::write(&file, &bad).unwrap();
            let err = KnownServers::load(dir.path()).unwrap_err();
            assert!(matches!(err, PinsError::Damaged { .. }), "{bad}: {err}");
            assert!(err.to_string().contains("known_servers.json is damaged"));
        }
        // A directory where the file should be cannot be read.
        std::fs::remove_file(&file).unwrap();
        std::fs::create_dir(&file).unwrap();
        assert!(matches!(
            KnownServers::load(dir.path()),
            Err(PinsError::Unreadable { .. })
        ));
    }
}
