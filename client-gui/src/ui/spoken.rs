//! What a screen reader reads for each message: one accessibility node per
//! message row, named "alice, 14:02: hello" (with "edited", "deleted",
//! the message answered and the reactions), so the list can be read
//! message by message instead of as loose words.

use cove_common::proto::ChatMessage;

use super::entry::{local, quote_line};

/// A message row's accessible name.
pub fn label(m: &ChatMessage) -> String {
    let when = local(m.ts).format("%H:%M");
    let mut out = format!("{}, {when}: ", m.from);
    match &m.text {
        Some(t) if m.deleted.is_none() => out.push_str(t.as_str()),
        _ => out.push_str("deleted message"),
    }
    if m.edited.is_some() && m.deleted.is_none() {
        out.push_str(" (edited)");
    }
    if let Some(q) = &m.reply_to {
        out.push_str(&format!(", in reply to {}", quote_line(q)));
    }
    for r in &m.reactions {
        out.push_str(&format!(", {} {}", r.emoji.as_str(), r.count));
    }
    out
}

/// The row builder for message `m`: a list item named by [`label`],
/// which Tab stops at (then its toolbar shows, and Tab goes on through
/// Reply, React… as a pointer over the row would show them).
pub fn row(builder: egui::UiBuilder, m: &ChatMessage) -> egui::UiBuilder {
    builder
        .accessibility_role(egui::accesskit::Role::ListItem)
        .accessibility_label(label(m))
        .sense(egui::Sense::focusable_noninteractive())
}
