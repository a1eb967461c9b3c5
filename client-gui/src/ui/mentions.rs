//! Mentions as the screen shows them (protocol v5): `@name` in a message's
//! text in an accent colour (found by the server's own rule,
//! [`cove_common::mentions::mentions`]; the text is drawn by [`super::rich`]), a message that mentions the user
//! on a tinted background with a bar at its left, and a conversation's
//! count of unread mentions as a badge of its own in the side list.

use cove_common::Username;
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
pub(super) fn tint(ui: &egui::Ui) -> Color32 {
    let a = accent(ui);
    Color32::from_rgba_unmultiplied(a.r(), a.g(), a.b(), 28)
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

/// Characters of a name (as [`cove_common::mentions`] reads them).
fn name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')
}

/// The start of a name typed after an `@` at the end of `input` (where
/// the caret is while typing), if that `@` may start a mention.
fn typed_name(input: &str) -> Option<&str> {
    let at = input.rfind('@')?;
    let prefix = &input[at + 1..];
    let starts = input[..at]
        .chars()
        .next_back()
        .is_none_or(|c| !name_char(c));
    (starts && !prefix.is_empty() && prefix.chars().all(name_char)).then_some(prefix)
}

/// While `@` and the start of a name are typed, offers the members of the
/// conversation whose names start so (at most five, from the member list
/// the app has); a click completes the name. Returns whether it did, so
/// the box takes the focus back.
pub(super) fn complete(
    ui: &mut egui::Ui,
    input: &mut String,
    state: &crate::state::ChatState,
) -> bool {
    let Some(prefix) = typed_name(input) else {
        return false;
    };
    let lower = prefix.to_ascii_lowercase();
    let members: Vec<&Username> = match &state.current {
        cove_common::Target::Room(_) => state
            .current_members()
            .map(|l| l.members.iter().map(|m| &m.username).collect())
            .unwrap_or_default(),
        cove_common::Target::User(peer) => vec![peer],
    };
    let offered: Vec<&Username> = members
        .into_iter()
        .filter(|u| **u != state.me)
        .filter(|u| {
            let name = u.as_str().to_ascii_lowercase();
            name.starts_with(&lower) && name != lower
        })
        .take(5)
        .collect();
    if offered.is_empty() {
        return false;
    }
    let mut chosen = None;
    ui.horizontal(|ui| {
        ui.label(RichText::new("Mention:").small().color(accent(ui)));
        for u in offered {
            if ui.small_button(format!("@{u}")).clicked() {
                chosen = Some(u.as_str().to_owned());
            }
        }
    });
    let Some(name) = chosen else {
        return false;
    };
    input.truncate(input.len() - prefix.len());
    input.push_str(&name);
    input.push(' ');
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_completed_only_after_an_at_that_starts_a_mention() {
        assert_eq!(typed_name("hi @bo"), Some("bo"));
        assert_eq!(typed_name("@c"), Some("c"));
        assert_eq!(typed_name("mail x@bo"), None, "inside a word");
        assert_eq!(typed_name("hi @"), None);
        assert_eq!(typed_name("hi @bob there"), None, "finished");
    }
}
