//! Notifications on the chat screen: the "Mute"/"Unmute" toggle (in a
//! conversation's header and its side-list menu), the muted mark in the
//! side list, and the "Notifications" part of the settings window.

use cove_common::Target;
use egui::RichText;

use super::chat::ChatAction;
use super::entry::NOTICE;
use crate::notify::Kinds;
use crate::state::ChatState;

/// What follows a muted conversation's name in the side list.
pub const MUTED_MARK: &str = " 🔕";

/// The toggle's words for a conversation that is (or is not) muted.
fn toggle_text(muted: bool) -> &'static str {
    if muted { "Unmute" } else { "Mute" }
}

/// A "Mute"/"Unmute" button for `with` (the conversation's header).
pub(super) fn mute_button(
    ui: &mut egui::Ui,
    state: &ChatState,
    with: &Target,
    actions: &mut Vec<ChatAction>,
) {
    let muted = state.is_muted(with);
    let hint = if muted {
        "Muted: no notifications, not counted in the window's title"
    } else {
        "Stop notifications from this conversation"
    };
    // Named for a screen reader apart from the side list's menu item.
    let name = format!("{} this conversation", toggle_text(muted));
    let button = ui.small_button(toggle_text(muted)).on_hover_text(hint);
    if button.accessible_name(name).clicked() {
        actions.push(ChatAction::Mute {
            with: with.clone(),
            mute: !muted,
        });
    }
}

/// The side list's menu item for `with` (right click on its name).
pub(super) fn mute_item(
    ui: &mut egui::Ui,
    state: &ChatState,
    with: &Target,
    actions: &mut Vec<ChatAction>,
) {
    let muted = state.is_muted(with);
    if ui.button(toggle_text(muted)).clicked() {
        actions.push(ChatAction::Mute {
            with: with.clone(),
            mute: !muted,
        });
        ui.close();
    }
}

/// The settings window's "Notifications" part: which messages notify
/// while the window is in the background.
pub(super) fn settings_part(ui: &mut egui::Ui, kinds: Kinds, actions: &mut Vec<ChatAction>) {
    ui.heading("Notifications");
    ui.label(
        RichText::new("Shown on the desktop while Cove's window is in the background.")
            .small()
            .color(NOTICE),
    );
    let mut k = kinds;
    ui.checkbox(&mut k.direct, "Direct messages");
    ui.checkbox(&mut k.mentions, "Messages that mention me");
    ui.checkbox(&mut k.every, "Every message in my rooms");
    if k != kinds {
        actions.push(ChatAction::Notify(k));
    }
}
