//! Every script: with the system fonts the app finds (Debian's
//! `fonts-noto-cjk`, `fonts-noto-core`, `fonts-noto-color-emoji`), a line
//! in Chinese, Japanese, Korean, Arabic, Hebrew, Hindi and an emoji lays
//! out without one replacement glyph; egui's own fonts alone cannot. The
//! test says why and passes when those fonts are not installed (CI
//! installs them; see `.ci/run`).
#![allow(clippy::unwrap_used, missing_docs)]

use cove_client::fonts::{self, Loaded};
use egui::{FontDefinitions, FontId};

const SAMPLE: &str = "你好 こんにちは 안녕하세요 مرحبا שלום नमस्ते 👋🏽";

/// The characters of `text` that no font of `defs` has.
fn missing(defs: FontDefinitions, text: &str) -> Vec<char> {
    let ctx = egui::Context::default();
    ctx.set_fonts(defs);
    // Fonts set take effect at the next pass.
    let mut out = ctx.run_ui(egui::RawInput::default(), |_| {});
    out.textures_delta.clear();
    let font = FontId::proportional(14.0);
    ctx.fonts_mut(|f| {
        text.chars()
            .filter(|c| !c.is_whitespace() && !f.has_glyph(&font, *c))
            .collect()
    })
}

#[test]
fn a_line_in_every_script_has_a_glyph_for_every_character() {
    let start = std::time::Instant::now();
    let loaded: Loaded = fonts::load();
    // How long the app's font thread takes (scan and read), for the record.
    println!("fonts::load took {:?}", start.elapsed());
    // The colour emoji font is not needed (egui's has 👋); the others are.
    let needed: Vec<_> = loaded
        .missing
        .iter()
        .filter(|n| **n != "cove-emoji" && **n != "cove-fallback")
        .collect();
    if !needed.is_empty() {
        println!(
            "SKIPPED: no system font for {needed:?}; install fonts-noto-cjk fonts-noto-core \
             fonts-noto-color-emoji"
        );
        return;
    }
    println!("{loaded:?}");
    let without = missing(FontDefinitions::default(), SAMPLE);
    assert!(
        without.contains(&'你') && without.contains(&'م') && without.contains(&'न'),
        "egui's own fonts lack these scripts: {without:?}"
    );
    assert_eq!(
        missing(fonts::definitions(loaded), SAMPLE),
        Vec::<char>::new()
    );
}

#[test]
fn egui_s_monochrome_emoji_stay_first() {
    let defs = fonts::definitions(Loaded::default());
    let proportional = &defs.families[&egui::FontFamily::Proportional];
    assert_eq!(
        proportional,
        &FontDefinitions::default().families[&egui::FontFamily::Proportional]
    );
    let loaded = fonts::load();
    let names: Vec<&str> = loaded.faces.iter().map(|(n, _, _)| *n).collect();
    let defs = fonts::definitions(loaded);
    let proportional = &defs.families[&egui::FontFamily::Proportional];
    let emoji = proportional.iter().position(|n| n == "NotoEmoji-Regular");
    for n in names {
        let at = proportional.iter().position(|p| p == n);
        assert!(
            at > emoji,
            "{n} comes after egui's emoji font: {proportional:?}"
        );
    }
}
