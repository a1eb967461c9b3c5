//! A person's avatar: a small disc with the first letter of their name,
//! in a colour of their own, at the head of each run of their messages.
//!
//! The colour comes from the name alone (FNV-1a over the lower-cased
//! name, into a fixed palette), so it is the same in every run of the
//! app, on every computer, for `Bob` and `bob` alike. The palette's
//! colours are mid-dark, so that the white letter reads on them and they
//! stand out on both the dark and the light theme.

use egui::{Color32, FontId, Sense, Ui, vec2};

/// The colours avatars are drawn in (Material's 700 shades, about).
const PALETTE: [Color32; 12] = [
    Color32::from_rgb(0xd3, 0x2f, 0x2f), // red
    Color32::from_rgb(0xc2, 0x18, 0x5b), // pink
    Color32::from_rgb(0x7b, 0x1f, 0xa2), // purple
    Color32::from_rgb(0x51, 0x2d, 0xa8), // deep purple
    Color32::from_rgb(0x30, 0x3f, 0x9f), // indigo
    Color32::from_rgb(0x19, 0x76, 0xd2), // blue
    Color32::from_rgb(0x00, 0x79, 0x6b), // teal
    Color32::from_rgb(0x38, 0x8e, 0x3c), // green
    Color32::from_rgb(0x55, 0x8b, 0x2f), // olive
    Color32::from_rgb(0xe6, 0x51, 0x00), // orange
    Color32::from_rgb(0x5d, 0x40, 0x37), // brown
    Color32::from_rgb(0x45, 0x5a, 0x64), // blue grey
];

/// FNV-1a, 32 bits: a fixed function, unlike the standard library's
/// randomly seeded hasher.
fn fnv1a(bytes: impl IntoIterator<Item = u8>) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in bytes {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// The index in [`PALETTE`] of `name`'s colour.
fn palette_index(name: &str) -> usize {
    let lower = name.chars().flat_map(char::to_lowercase);
    let h = fnv1a(lower.flat_map(|c| {
        let mut buf = [0; 4];
        let n = c.encode_utf8(&mut buf).len();
        buf.into_iter().take(n)
    }));
    // u32 into usize: lossless on every platform the app builds for.
    h as usize % PALETTE.len()
}

/// `name`'s colour.
pub(super) fn colour(name: &str) -> Color32 {
    PALETTE[palette_index(name)]
}

/// The letter shown: the name's first, in upper case.
fn initial(name: &str) -> String {
    name.chars()
        .next()
        .map(|c| c.to_uppercase().collect())
        .unwrap_or_default()
}

/// The avatar's size: a line of body text high.
pub(super) fn size(ui: &Ui) -> egui::Vec2 {
    let d = ui.text_style_height(&egui::TextStyle::Body).max(12.0);
    vec2(d, d)
}

/// Draws `name`'s avatar (decoration only: the name beside it says who).
pub(super) fn avatar(ui: &mut Ui, name: &str) {
    let (rect, _) = ui.allocate_exact_size(size(ui), Sense::hover());
    if !ui.is_rect_visible(rect) {
        return;
    }
    let painter = ui.painter();
    painter.circle_filled(rect.center(), rect.width() / 2.0, colour(name));
    painter.text(
        rect.center(),
        egui::Align2::CENTER_CENTER,
        initial(name),
        FontId::proportional(rect.height() * 0.62),
        Color32::WHITE,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_is_the_standard_function() {
        // The reference values of FNV-1a 32.
        assert_eq!(fnv1a(*b""), 0x811c_9dc5);
        assert_eq!(fnv1a(*b"a"), 0xe40c_292c);
        assert_eq!(fnv1a(*b"foobar"), 0xbf9c_f968);
    }

    /// The same colour in every run and every case: fixed values, so a
    /// change of function (or a seeded hasher) shows here.
    #[test]
    fn a_name_has_a_fixed_colour_whatever_its_case() {
        let fixed: Vec<usize> = ["alice", "bob", "carol", "dave"]
            .iter()
            .map(|n| palette_index(n))
            .collect();
        assert_eq!(fixed, [11, 8, 2, 7]);
        assert_eq!(colour("Bob"), colour("bob"));
        assert_eq!(colour("ALICE"), colour("alice"));
    }

    #[test]
    fn names_spread_over_the_palette() {
        let used: std::collections::HashSet<usize> = (0..100)
            .map(|i| palette_index(&format!("user{i}")))
            .collect();
        assert_eq!(used.len(), PALETTE.len(), "every colour is used");
    }

    #[test]
    fn the_letter_is_the_first_in_upper_case() {
        assert_eq!(initial("bob"), "B");
        assert_eq!(initial("émile"), "É");
        assert_eq!(initial(""), "");
    }

    /// White on every colour has at least the contrast WCAG asks of large
    /// text (3:1), and every colour stands apart from both themes'
    /// backgrounds.
    #[test]
    fn the_palette_reads_in_both_themes() {
        fn luminance(c: Color32) -> f32 {
            let lin = |v: u8| {
                let v = f32::from(v) / 255.0;
                if v <= 0.039_28 {
                    v / 12.92
                } else {
                    ((v + 0.055) / 1.055).powf(2.4)
                }
            };
            0.2126 * lin(c.r()) + 0.7152 * lin(c.g()) + 0.0722 * lin(c.b())
        }
        let contrast = |a: Color32, b: Color32| {
            let (x, y) = (luminance(a), luminance(b));
            (x.max(y) + 0.05) / (x.min(y) + 0.05)
        };
        let dark = egui::Visuals::dark().panel_fill;
        let light = egui::Visuals::light().panel_fill;
        for c in PALETTE {
            assert!(contrast(c, Color32::WHITE) >= 3.0, "{c:?} against white");
            assert!(contrast(c, dark) >= 1.5, "{c:?} on the dark theme");
            assert!(contrast(c, light) >= 3.0, "{c:?} on the light theme");
        }
    }
}
