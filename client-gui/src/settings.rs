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
    /// Light, dark, or as the system says.
    pub theme: ThemeChoice,
    /// UI zoom factor: the text size chosen in the settings
    /// ([`TextSize`]), or as Ctrl +/- left it.
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
            theme: ThemeChoice::System,
            zoom: 1.0,
            host_port: 7878,
            notify: NotifyPrefs::default(),
        }
    }
}

/// The theme chosen in the settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ThemeChoice {
    /// Follow the system's light or dark mode (dark when the system does
    /// not say).
    System,
    /// Always light.
    Light,
    /// Always dark.
    Dark,
}

impl ThemeChoice {
    /// All of them, in the order the settings offer them.
    pub const ALL: [ThemeChoice; 3] = [Self::System, Self::Light, Self::Dark];

    /// Its name in the settings.
    pub fn label(self) -> &'static str {
        match self {
            Self::System => "Follow the system",
            Self::Light => "Light",
            Self::Dark => "Dark",
        }
    }

    /// What egui is told.
    pub fn preference(self) -> egui::ThemePreference {
        match self {
            Self::System => egui::ThemePreference::System,
            Self::Light => egui::ThemePreference::Light,
            Self::Dark => egui::ThemePreference::Dark,
        }
    }

    /// The choice egui's preference is.
    pub fn of(preference: egui::ThemePreference) -> Self {
        match preference {
            egui::ThemePreference::System => Self::System,
            egui::ThemePreference::Light => Self::Light,
            egui::ThemePreference::Dark => Self::Dark,
        }
    }
}

/// The text sizes offered in the settings: each a zoom factor of the
/// whole window (egui scales text and everything around it together).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextSize {
    /// Smaller than egui's own size.
    Small,
    /// egui's own size.
    Normal,
    /// Larger.
    Large,
    /// Larger still.
    Larger,
}

impl TextSize {
    /// All of them, smallest first.
    pub const ALL: [TextSize; 4] = [Self::Small, Self::Normal, Self::Large, Self::Larger];

    /// The zoom factor it sets.
    pub fn zoom(self) -> f32 {
        match self {
            Self::Small => 0.9,
            Self::Normal => 1.0,
            Self::Large => 1.15,
            Self::Larger => 1.3,
        }
    }

    /// Its name in the settings.
    pub fn label(self) -> &'static str {
        match self {
            Self::Small => "Small",
            Self::Normal => "Normal",
            Self::Large => "Large",
            Self::Larger => "Larger",
        }
    }

    /// The size a zoom factor is, if it is one of them (Ctrl +/- zooms
    /// by other steps).
    pub fn of_zoom(zoom: f32) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|s| (s.zoom() - zoom).abs() < 0.005)
    }
}

/// The zoom factors the app accepts from its settings file.
pub const ZOOM_RANGE: std::ops::RangeInclusive<f32> = 0.5..=3.0;

impl Settings {
    /// The zoom factor to start with: the saved one, within
    /// [`ZOOM_RANGE`] (a damaged file cannot make the window unusable).
    pub fn start_zoom(&self) -> f32 {
        if self.zoom.is_finite() {
            self.zoom.clamp(*ZOOM_RANGE.start(), *ZOOM_RANGE.end())
        } else {
            1.0
        }
    }

    fn path(config_dir: &Path) -> PathBuf {
        config_dir.join("settings.json")
    }

    /// Loads settings (defaults if missing or unreadable).
    pub fn load(config_dir: &Path) -> Self {
        std::fs::read(Self::path(config_dir))
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .map(upgrade)
            .and_then(|v| serde_json::from_value(v).ok())
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

/// Reads files written before the theme could follow the system: their
/// `dark: true/false` becomes `theme: "dark"/"light"` (a user who had
/// picked one keeps it; only new settings follow the system).
fn upgrade(mut v: serde_json::Value) -> serde_json::Value {
    if let Some(map) = v.as_object_mut()
        && !map.contains_key("theme")
        && let Some(dark) = map.remove("dark").and_then(|d| d.as_bool())
    {
        let theme = if dark { "dark" } else { "light" };
        map.insert("theme".into(), theme.into());
    }
    v
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
            theme: ThemeChoice::Light,
            zoom: 1.25,
            host_port: 9000,
            ..Settings::default()
        };
        s.save(dir.path());
        assert_eq!(Settings::load(dir.path()), s);
        let raw = std::fs::read_to_string(dir.path().join("settings.json")).unwrap();
        assert!(!raw.contains("password"));
    }

    /// Files from before the system theme keep the theme they chose; a
    /// file without either follows the system.
    #[test]
    fn old_files_with_dark_still_load() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("settings.json");
        for (json, theme) in [
            (r#"{"username": "bob", "dark": true}"#, ThemeChoice::Dark),
            (r#"{"username": "bob", "dark": false}"#, ThemeChoice::Light),
            (r#"{"username": "bob"}"#, ThemeChoice::System),
            (
                r#"{"username": "bob", "theme": "light"}"#,
                ThemeChoice::Light,
            ),
        ] {
            std::fs::write(&file, json).unwrap();
            let s = Settings::load(dir.path());
            assert_eq!((s.username.as_str(), s.theme), ("bob", theme), "{json}");
        }
        Settings::load(dir.path()).save(dir.path());
        let raw = std::fs::read_to_string(&file).unwrap();
        assert!(raw.contains(r#""theme": "light""#), "{raw}");
        assert!(!raw.contains("dark"), "{raw}");
    }

    #[test]
    fn text_sizes_are_zoom_factors() {
        for size in TextSize::ALL {
            assert_eq!(TextSize::of_zoom(size.zoom()), Some(size));
        }
        assert_eq!(TextSize::of_zoom(1.0), Some(TextSize::Normal));
        assert_eq!(TextSize::of_zoom(1.1), None, "a Ctrl +/- step");
        let zooms: Vec<f32> = TextSize::ALL.iter().map(|s| s.zoom()).collect();
        assert!(zooms.windows(2).all(|w| w[0] < w[1]), "smallest first");
    }

    #[test]
    fn the_start_zoom_is_kept_within_bounds() {
        let with = |zoom| Settings {
            zoom,
            ..Settings::default()
        };
        assert_eq!(with(1.15).start_zoom(), 1.15);
        assert_eq!(with(40.0).start_zoom(), 3.0);
        assert_eq!(with(0.0).start_zoom(), 0.5);
        assert_eq!(with(f32::NAN).start_zoom(), 1.0);
    }
}
