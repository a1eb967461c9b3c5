//! Pinned server keys, like SSH's `known_hosts`: the first time the app
//! connects to an address it shows the server's fingerprint and asks; the
//! answer is stored, and a different key at a pinned address is refused.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cove_common::ServerKey;

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

/// The pin file (`known_servers.json` in the config directory).
#[derive(Debug, Clone)]
pub struct KnownServers {
    path: PathBuf,
    pins: BTreeMap<String, String>,
}

impl KnownServers {
    /// Loads the pins (none if the file is missing or unreadable).
    pub fn load(config_dir: &Path) -> Self {
        let path = config_dir.join("known_servers.json");
        let pins = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        Self { path, pins }
    }

    /// Judges `key` presented at `addr`.
    pub fn check(&self, addr: &str, key: &ServerKey) -> Verdict {
        match self.pins.get(addr).and_then(|h| ServerKey::from_hex(h)) {
            None => Verdict::Unknown,
            Some(pinned) if pinned == *key => Verdict::Trusted,
            Some(pinned) => Verdict::Changed { pinned },
        }
    }

    /// Pins `key` for `addr` and saves the file.
    pub fn pin(&mut self, addr: &str, key: &ServerKey) -> std::io::Result<()> {
        self.pins.insert(addr.to_owned(), key.to_hex());
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let json = serde_json::to_vec_pretty(&self.pins).map_err(std::io::Error::other)?;
        let tmp = self.path.with_extension("json.tmp");
        std::fs::write(&tmp, json)?;
        std::fs::rename(&tmp, &self.path)
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
        let mut k = KnownServers::load(dir.path());
        assert_eq!(k.check("h:1", &a), Verdict::Unknown);
        k.pin("h:1", &a).unwrap();
        let k = KnownServers::load(dir.path());
        assert_eq!(k.check("h:1", &a), Verdict::Trusted);
        assert_eq!(k.check("h:1", &b), Verdict::Changed { pinned: a });
        assert_eq!(k.check("h:2", &a), Verdict::Unknown);
    }
}
