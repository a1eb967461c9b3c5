//! Mentions as the screen shows them (protocol v5): `@name` in a message's
//! text in an accent colour (found by the server's own rule,
//! [`cove_common::mentions::mentions`]), a message that mentions the user
//! on a tinted background with a bar at its left, and a conversation's
//! count of unread mentions as a badge of its own in the side list.

use cove_common::Username;
use egui::text::{LayoutJob, TextFormat};
use egui::{Color32, RichText};

/// The accent of mentions: amber, darker on a light background so that
/// it stays readable in both themes.
pub(super) fn accent(ui: &egui::Ui) -> Color32 {
    if ui.visuals().dark_mode {
        Color32::from_rgb(0xff, 0xb0, 0x40)
    } else {
        Color32::from_rgb(0xa8, 0x55, 0x00)
    }
}

/// Behind a message that mentions the user: the accent, faint enough for
/// any text colour to stay readable on it.
fn tint(ui: &egui::Ui) -> Color32 {
    let a = accent(ui);
    Color32::from_rgba_unmultiplied(a.r(), a.g(), a.b(), 28)
}

/// A message's text with its `@name`s in the accent colour (and the
/// user's own name on a tint, as it calls them).
pub(super) fn text_job(ui: &egui::Ui, text: &str, me: &Username) -> LayoutJob {
    let font = egui::TextStyle::Body.resolve(ui.style());
    // The label's own colour, as for a text without mentions.
    let plain = TextFormat::simple(font.clone(), Color32::PLACEHOLDER);
    let name = TextFormat::simple(font, accent(ui));
    let mine = TextFormat {
        background: tint(ui),
        ..name.clone()
    };
    let mut job = LayoutJob::default();
    let mut at = 0;
    for (range, who) in cove_common::mentions::mentions(text) {
        job.append(&text[at..range.start], 0.0, plain.clone());
        let f = if who.eq_ignore_ascii_case(me.as_str()) {
            mine.clone()
        } else {
            name.clone()
        };
        job.append(&text[range.clone()], 0.0, f);
        at = range.end;
    }
    job.append(&text[at..], 0.0, plain);
    job
}

/// Draws `add` on the tint of a message that mentions the user, with a
/// bar in the accent colour at its left edge.
pub(super) fn mentioned<R>(ui: &mut egui::Ui, add: impl FnOnce(&mut egui::Ui) -> R) -> R {
    let accent = accent(ui);
    let shown = egui::Frame::new()
        .fill(tint(ui))
        .corner_radius(3.0)
        .inner_margin(egui::Margin {
            left: 6,
            right: 0,
            top: 1,
            bottom: 1,
        })
        .show(ui, add);
    let r = shown.response.rect;
    let bar = egui::Rect::from_min_max(r.min, egui::pos2(r.min.x + 3.0, r.max.y));
    ui.painter().rect_filled(bar, 1.0, accent);
    shown.inner
}

/// The count of unread mentions as a badge ("@2", "@99+"), beside a
/// conversation's name; nothing when there are none.
pub(super) fn badge(ui: &mut egui::Ui, count: u32) {
    if count == 0 {
        return;
    }
    // The server counts at most 99 (MENTIONS_COUNTED_MAX): "99+".
    let max = cove_common::limits::MENTIONS_COUNTED_MAX;
    let text = if usize::try_from(count).unwrap_or(usize::MAX) >= max {
        format!("@{max}+")
    } else {
        format!("@{count}")
    };
    let hover = if count == 1 {
        "1 unread message mentions you".to_owned()
    } else {
        format!("{count} unread messages mention you")
    };
    ui.label(RichText::new(text).strong().color(accent(ui)))
        .on_hover_text(hover);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The spans coloured are those the server's rule finds, and the
    /// text is kept whole.
    #[test]
    fn mentions_are_coloured_and_the_text_kept() {
        let ctx = egui::Context::default();
        let mut spans = Vec::new();
        let mut out = ctx.run_ui(egui::RawInput::default(), |ui| {
            let me = Username::new("meg").unwrap_or_else(|_| unreachable!());
            let job = text_job(ui, "hi @Meg and @bob, mail x@bob.org", &me);
            assert_eq!(job.text, "hi @Meg and @bob, mail x@bob.org");
            let a = accent(ui);
            spans = job
                .sections
                .iter()
                .filter(|s| s.format.color == a)
                .map(|s| {
                    (
                        job.text[s.byte_range.start.0..s.byte_range.end.0].to_owned(),
                        s.format.background != Color32::TRANSPARENT,
                    )
                })
                .collect();
        });
        // No painter here to hand the font atlas to.
        out.textures_delta.clear();
        assert_eq!(
            spans,
            [("@Meg".to_owned(), true), ("@bob".to_owned(), false)]
        );
    }
}
