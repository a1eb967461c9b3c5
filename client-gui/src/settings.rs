//! What the app remembers between runs: never the password.

use std::path::{Path, PathBuf};

use cove_common::files::atomic_write;
use serde::{Deserialize, Serialize};

use crate::notify::NotifyPrefs;

/// Remembered choices.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// The last server address used.
    pub server: String,
    /// The last username used.
    pub username: String,
    /// Dark theme (else light).
    pub dark: bool,
    /// UI zoom factor.
    pub zoom: f32,
    /// The port offered for hosting.
    pub host_port: u16,
    /// Notifications: which kinds, and the muted conversations.
    pub notify: NotifyPrefs,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            server: cove_common::DEFAULT_LISTEN.to_owned(),
            username: String::new(),
            dark: true,
            zoom: 1.0,
            host_port: 7878,
            notify: NotifyPrefs::default(),
        }
    }
}

impl Settings {
    fn path(config_dir: &Path) -> PathBuf {
        config_dir.join("settings.json")
    }

    /// Loads settings (defaults if missing or unreadable).
    pub fn load(config_dir: &Path) -> Self {
        std::fs::read(Self::path(config_dir))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// Saves settings atomically (a crash leaves the old file or the new
    /// one, never a truncated one). Failures are not worth bothering the
    /// user about: the settings are conveniences.
    pub fn save(&self, config_dir: &Path) {
        if std::fs::create_dir_all(config_dir).is_ok()
            && let Ok(json) = serde_json::to_vec_pretty(self)
            && let Err(e) = atomic_write(&Self::path(config_dir), &json)
        {
            tracing::warn!("could not save the settings: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_without_password() {
        let dir = tempfile::tempdir().unwrap();
        let s = Settings {
            server: "10.0.0.2:7878".into(),
            username: "alice".into(),
            dark: false,
            zoom: 1.25,
            host_port: 9000,
            ..Settings::default()
        };
        s.save(dir.path());
        assert_eq!(Settings::load(dir.path()), s);
        let raw = std::fs::read_to_string(dir.path().join("settings.json")).unwrap();
        assert!(!raw.contains("password"));
    }
}
