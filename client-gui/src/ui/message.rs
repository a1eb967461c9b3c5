//! One message as the conversation shows it since protocol v5: the quote
//! of the message it answers (click to go there), its text with
//! "(edited)", or the tombstone of a deleted one, its reaction chips; and
//! what can be done with it, from the toolbar shown while the pointer is
//! over it or from its right-click menu: Reply, React, Edit and Delete
//! (the last two on the user's own messages).

use cove_common::proto::{ChatMessage, MessageId};
use cove_common::{Emoji, Username};
use egui::RichText;

use super::entry::{NOTICE, quote_line};

/// What the user did with a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum MessageAct {
    /// Reply to it.
    Reply,
    /// Open the reaction picker for it.
    React,
    /// Edit it (the user's own).
    Edit,
    /// Delete it (the user's own), once confirmed.
    Delete,
    /// Add the user's reaction `emoji`, or take it back.
    Toggle {
        /// The emoji.
        emoji: Emoji,
        /// Take it back.
        remove: bool,
    },
    /// Go to the original of the reply, the message `id`.
    Original(MessageId),
    /// Copy its text to the clipboard.
    Copy,
    /// Something with its file (protocol v6).
    File(super::attachment::FileAct),
}

/// The message's column: quote, text or tombstone, reactions.
pub(super) fn body(
    ui: &mut egui::Ui,
    m: &ChatMessage,
    me: &Username,
    act: &mut Option<MessageAct>,
) {
    if let Some(q) = &m.reply_to
        && m.deleted.is_none()
    {
        quote(ui, &quote_line(q), q.id, act);
    }
    match &m.text {
        // A file without a caption (protocol v6).
        None if m.deleted.is_none() => {}
        None => {
            ui.label(RichText::new("message deleted").italics().color(NOTICE));
        }
        // Markup, `@name`s (protocol v5) and links; "(edited)" after it.
        Some(text) => super::rich::message_text(ui, text.as_str(), me, m.edited.is_some()),
    }
    if !m.reactions.is_empty() {
        super::reactions::chips(ui, &m.reactions, me, act);
    }
}

/// The compact quote of the message a reply answers: a bar, its author
/// and the start of its text, one line; clicking it goes there.
fn quote(ui: &mut egui::Ui, line: &str, id: MessageId, act: &mut Option<MessageAct>) {
    ui.scope(|ui| {
        // As tight as a line of text: the quote belongs to the message.
        ui.spacing_mut().button_padding.y = 0.0;
        ui.spacing_mut().interact_size.y = 0.0;
        ui.horizontal(|ui| {
            let (bar, _) = ui.allocate_exact_size(egui::vec2(3.0, 14.0), egui::Sense::hover());
            ui.painter().rect_filled(bar, 1.0, NOTICE);
            let resp = ui
                .add(
                    egui::Button::new(RichText::new(line).small().color(NOTICE))
                        .frame(false)
                        .truncate(),
                )
                .on_hover_cursor(egui::CursorIcon::PointingHand)
                .on_hover_text("Show the original message");
            if resp.clicked() {
                *act = Some(MessageAct::Original(id));
            }
        });
    });
}

/// Whose a message is, to the user: what they may do to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Whose {
    /// Their own: edit and delete.
    Mine,
    /// Someone else's in a room they own or moderate: delete.
    Moderated,
    /// Someone else's.
    Other,
}

/// The actions a message offers: Reply and React to any message still
/// there, Edit to the user's own, Delete to their own and, in a room they
/// own or moderate, to anyone's.
fn items(m: &ChatMessage, whose: Whose) -> &'static [(&'static str, MessageAct)] {
    const ALL: &[(&str, MessageAct)] = &[
        ("Reply", MessageAct::Reply),
        ("React", MessageAct::React),
        ("Edit", MessageAct::Edit),
        ("Delete", MessageAct::Delete),
    ];
    const MODERATED: &[(&str, MessageAct)] = &[
        ("Reply", MessageAct::Reply),
        ("React", MessageAct::React),
        ("Delete", MessageAct::Delete),
    ];
    match (m.deleted.is_some(), whose) {
        (true, _) => &[],
        (false, Whose::Mine) => ALL,
        (false, Whose::Moderated) => MODERATED,
        (false, Whose::Other) => &ALL[..2],
    }
}

/// The small toolbar over the top right corner of the message's row, while
/// the pointer is over the row or the keyboard is on it (the row or one of
/// the toolbar's buttons, or leaving the row by Tab this frame, which then
/// lands on the first button) and no menu is open.
pub(super) fn toolbar(
    ui: &mut egui::Ui,
    row_ui: &egui::Ui,
    m: &ChatMessage,
    whose: Whose,
    act: &mut Option<MessageAct>,
) {
    let items = items(m, whose);
    // The row as wide as the list, however short its text.
    let (drawn, room) = (row_ui.min_rect(), row_ui.max_rect());
    let row = egui::Rect::from_min_max(drawn.min, egui::pos2(room.right(), drawn.bottom()));
    let resp = row_ui.response();
    let keys = resp.id.with("toolbar_keys");
    let in_bar = ui.ctx().data(|d| d.get_temp::<bool>(keys)).unwrap_or(false);
    if resp.has_focus() {
        // Where the keyboard is, as a pointer's hover shows it.
        let stroke = ui.visuals().selection.stroke;
        ui.painter()
            .rect_stroke(row, 3.0, stroke, egui::StrokeKind::Inside);
    }
    let keyboard = resp.has_focus() || resp.lost_focus() || in_bar;
    if items.is_empty()
        || !(keyboard || ui.rect_contains_pointer(row))
        || egui::Popup::is_any_open(ui.ctx())
    {
        return;
    }
    let at = egui::Rect::from_min_size(
        egui::pos2(row.right() - 230.0, row.top()),
        egui::vec2(226.0, 20.0),
    );
    let mut bar = ui.new_child(
        egui::UiBuilder::new()
            .max_rect(at)
            .layout(egui::Layout::right_to_left(egui::Align::Min)),
    );
    egui::Frame::popup(bar.style())
        .inner_margin(egui::Margin::symmetric(4, 1))
        .show(&mut bar, |ui| {
            ui.spacing_mut().item_spacing.x = 2.0;
            // Right to left: the list is laid out from its end.
            let mut focused = false;
            for (label, a) in items.iter().rev() {
                let button = ui.small_button(*label);
                focused |= button.has_focus();
                if button.clicked() {
                    *act = Some(a.clone());
                }
            }
            ui.ctx().data_mut(|d| d.insert_temp(keys, focused));
        });
}

/// The message's right-click menu, on its whole row.
pub(super) fn context_menu(
    row: &egui::Response,
    m: &ChatMessage,
    whose: Whose,
    act: &mut Option<MessageAct>,
) {
    let items = items(m, whose);
    if items.is_empty() {
        return;
    }
    row.container_context_menu(|ui| {
        for (label, a) in items {
            if ui.button(*label).clicked() {
                *act = Some(a.clone());
                ui.close();
            }
        }
        // The whole text, however long, which selecting by hand is not.
        if ui.button("Copy text").clicked() {
            *act = Some(MessageAct::Copy);
            ui.close();
        }
    });
}
