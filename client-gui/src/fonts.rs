//! Every script: egui's own fonts (Ubuntu Light, Hack, monochrome Noto
//! Emoji) draw Latin, Greek, Cyrillic and most emoji; for the rest, the
//! system's fonts are found with `fontdb` and added after egui's, one face
//! per script: CJK (Chinese, Japanese, Korean), Arabic, Hebrew,
//! Devanagari, colour emoji (only for emoji the monochrome font lacks) and
//! DejaVu Sans as the last resort. Only the chosen faces are read, once;
//! scanning the system's fonts takes a moment, so the app does it on a
//! thread of its own after the window opens ([`load_in_background`]).
//! Debian's `fonts-noto-cjk`, `fonts-noto-core` and
//! `fonts-noto-color-emoji` cover them all.

use std::sync::Arc;
use std::time::Instant;

use egui::{FontData, FontDefinitions, FontFamily};

/// One script egui's own fonts lack, and the families that cover it, best
/// first.
#[derive(Debug, Clone, Copy)]
pub struct Script {
    /// The name the face is added under ("cove-cjk").
    pub name: &'static str,
    /// Families to look for, best first.
    pub families: &'static [&'static str],
}

/// The scripts, in the order they are tried after egui's fonts.
pub const SCRIPTS: [Script; 6] = [
    Script {
        name: "cove-cjk",
        // One face of the collection has all of Han, kana and Hangul.
        families: &[
            "Noto Sans CJK SC",
            "Noto Sans CJK JP",
            "Source Han Sans SC",
            "WenQuanYi Zen Hei",
            "Droid Sans Fallback",
        ],
    },
    Script {
        name: "cove-arabic",
        families: &["Noto Sans Arabic", "Noto Naskh Arabic"],
    },
    Script {
        name: "cove-hebrew",
        families: &["Noto Sans Hebrew"],
    },
    Script {
        name: "cove-devanagari",
        families: &["Noto Sans Devanagari", "Lohit Devanagari"],
    },
    Script {
        name: "cove-emoji",
        families: &["Noto Color Emoji", "Twemoji", "Twitter Color Emoji"],
    },
    Script {
        name: "cove-fallback",
        families: &["DejaVu Sans", "Noto Sans"],
    },
];

/// The faces found for [`SCRIPTS`], read once.
#[derive(Default)]
pub struct Loaded {
    /// Each script's name, the family found, and the face.
    pub faces: Vec<(&'static str, String, FontData)>,
    /// The scripts no system font was found for.
    pub missing: Vec<&'static str>,
}

impl std::fmt::Debug for Loaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loaded")
            .field(
                "faces",
                &self.faces.iter().map(|(_, fam, _)| fam).collect::<Vec<_>>(),
            )
            .field("missing", &self.missing)
            .finish()
    }
}

/// Finds and reads the system faces for [`SCRIPTS`].
pub fn load() -> Loaded {
    let start = Instant::now();
    let mut db = fontdb::Database::new();
    db.load_system_fonts();
    let scanned = start.elapsed();
    let mut out = Loaded::default();
    for script in SCRIPTS {
        match read_face(&db, script.families) {
            Some((family, data)) => out.faces.push((script.name, family, data)),
            None => out.missing.push(script.name),
        }
    }
    tracing::info!(
        "fonts: {} system faces scanned in {scanned:?}, {} read in {:?} in all; none found for {:?}",
        db.len(),
        out.faces.len(),
        start.elapsed(),
        out.missing,
    );
    out
}

/// The regular face of the first of `families` installed, read.
fn read_face(db: &fontdb::Database, families: &[&str]) -> Option<(String, FontData)> {
    families.iter().find_map(|family| {
        let query = fontdb::Query {
            families: &[fontdb::Family::Name(family)],
            ..fontdb::Query::default()
        };
        let id = db.query(&query)?;
        let (source, index) = db.face_source(id)?;
        let bytes = match source {
            fontdb::Source::File(path) => std::fs::read(&path)
                .inspect_err(|e| tracing::warn!("font {}: {e}", path.display()))
                .ok()?,
            fontdb::Source::Binary(b) | fontdb::Source::SharedFile(_, b) => (*b).as_ref().to_vec(),
        };
        Some((
            (*family).to_owned(),
            FontData::from_blob(Arc::new(bytes), index),
        ))
    })
}

/// egui's fonts, then `loaded`'s as fallbacks in both families.
pub fn definitions(loaded: Loaded) -> FontDefinitions {
    let mut defs = FontDefinitions::default();
    for (name, _, data) in loaded.faces {
        defs.font_data.insert(name.to_owned(), Arc::new(data));
        for family in [FontFamily::Proportional, FontFamily::Monospace] {
            defs.families
                .entry(family)
                .or_default()
                .push(name.to_owned());
        }
    }
    defs
}

/// Finds the system fonts on a thread and gives them to `ctx` when read:
/// the first frames draw with egui's fonts only.
pub fn load_in_background(ctx: egui::Context) {
    let spawned = std::thread::Builder::new()
        .name("fonts".into())
        .spawn(move || {
            ctx.set_fonts(definitions(load()));
            ctx.request_repaint();
        });
    if let Err(e) = spawned {
        tracing::warn!("could not start looking for system fonts: {e}");
    }
}
