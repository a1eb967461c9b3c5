//! Which characters a message may hold beyond the limits of
//! [`crate::limits`]: what counts as visible, and the bidirectional
//! formatting controls that are refused.
//!
//! A message must show something: a text made only of whitespace or of
//! characters that render as nothing (zero-width spaces, joiners, variation
//! selectors, fillers) is refused, as Unicode's Default_Ignorable_Code_Point
//! property (DerivedCoreProperties.txt) lists them. The bidi embedding,
//! override and isolate controls are refused outright: they reorder the text
//! around them, which lets a message display as something other than what
//! it says (the "Trojan Source" trick, CVE-2021-42574). The implicit marks
//! LRM, RLM and ALM stay allowed: right-to-left writing needs them and they
//! reorder nothing beyond their neighbours.

/// Code points that render as nothing: Unicode 16's
/// Default_Ignorable_Code_Point ranges.
const INVISIBLE: &[(u32, u32)] = &[
    (0x00AD, 0x00AD),   // soft hyphen
    (0x034F, 0x034F),   // combining grapheme joiner
    (0x061C, 0x061C),   // Arabic letter mark
    (0x115F, 0x1160),   // Hangul choseong and jungseong fillers
    (0x17B4, 0x17B5),   // Khmer inherent vowels
    (0x180B, 0x180F),   // Mongolian variation selectors and vowel separator
    (0x200B, 0x200F),   // zero-width space, joiners, LRM, RLM
    (0x202A, 0x202E),   // bidi embeddings and overrides
    (0x2060, 0x206F),   // word joiner, invisible operators, isolates, deprecated
    (0x3164, 0x3164),   // Hangul filler
    (0xFE00, 0xFE0F),   // variation selectors
    (0xFEFF, 0xFEFF),   // zero-width no-break space (BOM)
    (0xFFA0, 0xFFA0),   // halfwidth Hangul filler
    (0xFFF0, 0xFFF8),   // unassigned specials
    (0x1BCA0, 0x1BCA3), // shorthand format controls
    (0x1D173, 0x1D17A), // musical symbol format controls
    (0xE0000, 0xE0FFF), // tags and variation selectors supplement
];

/// Whether `c` is shown as something: not whitespace and not a character
/// that renders as nothing.
pub fn is_visible(c: char) -> bool {
    let cp = c as u32;
    !c.is_whitespace()
        && !c.is_control()
        && !INVISIBLE.iter().any(|&(lo, hi)| (lo..=hi).contains(&cp))
}

/// Whether `c` is a bidi embedding, override or isolate control (U+202A to
/// U+202E, U+2066 to U+2069), which messages may not contain.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invisible_and_whitespace_are_not_visible() {
        for c in [
            ' ',
            '\n',
            '\t',
            '\u{00A0}',
            '\u{3000}',
            '\u{200B}',
            '\u{200D}',
            '\u{2060}',
            '\u{FEFF}',
            '\u{FE0F}',
            '\u{3164}',
            '\u{E0041}',
            '\u{00AD}',
        ] {
            assert!(!is_visible(c), "U+{:04X}", c as u32);
        }
        for c in ['a', 'é', '你', 'م', '👋', '\u{2800}', '.', '€'] {
            assert!(is_visible(c), "U+{:04X}", c as u32);
        }
    }

    #[test]
    fn bidi_overrides_and_isolates_are_controls_marks_are_not() {
        for c in [
            '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}', '\u{2066}', '\u{2067}',
            '\u{2068}', '\u{2069}',
        ] {
            assert!(is_bidi_control(c), "U+{:04X}", c as u32);
        }
        for c in ['\u{200E}', '\u{200F}', '\u{061C}', 'a'] {
            assert!(!is_bidi_control(c), "U+{:04X}", c as u32);
        }
    }
}
