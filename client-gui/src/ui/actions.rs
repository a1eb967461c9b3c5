//! What the user does on the chat screen: the [`ChatAction`]s the app
//! carries out, and what the screen does by itself with a message the
//! user acted on (starting a reply or an edit in the message box, opening
//! the reaction picker, asking to confirm a deletion).

use cove_common::proto::{MessageId, Quote};
use cove_common::{ClientMsgId, Emoji, Password, RoomName, Target};
use egui::RichText;

use super::attachment::FileAct;
use super::chat::ChatView;
use super::entry::FAILED;
use super::message::MessageAct;
use super::reactions::Picker;
use crate::state::{ChatState, RoomAct, quote_of};

/// What the user did on the chat screen this frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatAction {
    /// Submit the input line (text or command).
    Submit(String),
    /// Show another conversation.
    Open(Target),
    /// Join or create a room by name.
    Join(String),
    /// Start a direct conversation by name.
    Direct(String),
    /// Scrolled to the top: load older messages.
    LoadOlder,
    /// Send a refused message again.
    Retry(ClientMsgId),
    /// Forget a refused message.
    Discard(ClientMsgId),
    /// Light, dark, or as the system says.
    Theme(crate::settings::ThemeChoice),
    /// Forget the pinned key of the server at this address: the next
    /// connection asks to trust it again. The server in use is forgotten
    /// with logging out (see `ui::servers`).
    ForgetServer(String),
    /// Show text (and everything with it) at this size.
    TextSize(crate::settings::TextSize),
    /// Mute or unmute a conversation (no notifications, not counted in
    /// the window's title).
    Mute {
        /// The conversation.
        with: Target,
        /// Mute (else unmute).
        mute: bool,
    },
    /// The kinds of message that notify, as chosen in the settings.
    Notify(crate::notify::Kinds),
    /// The user typed in the input box (not a command).
    Typing,
    /// The newest message of the conversation shown is on screen.
    SeenNewest,
    /// Search the user's history for this text.
    Search(String),
    /// The next page of the search.
    SearchMore,
    /// Close the search panel.
    CloseSearch,
    /// Open a search result's conversation at it.
    OpenResult(MessageId),
    /// Send a new text for the user's message `id` of `with`.
    Edit {
        /// The message's conversation.
        with: Target,
        /// The message.
        id: MessageId,
        /// The new text, as typed.
        text: String,
    },
    /// Delete the user's message `id` of `with` (confirmed).
    Delete {
        /// The message's conversation.
        with: Target,
        /// The message.
        id: MessageId,
    },
    /// Add the user's reaction to the message `id` of `with`, or take it
    /// back.
    React {
        /// The message's conversation.
        with: Target,
        /// The message.
        id: MessageId,
        /// The emoji.
        emoji: Emoji,
        /// Take it back.
        remove: bool,
    },
    /// Send the input line as a reply, in the conversation shown, to the
    /// message `quote` names.
    Reply {
        /// The original, quoted.
        quote: Quote,
        /// What was typed.
        text: String,
    },
    /// Show the message `id` of the conversation shown (the original of a
    /// reply), loading older messages until it is there.
    JumpTo(MessageId),
    /// Create a room the user will own, as typed in the "New room" dialog.
    NewRoom {
        /// Its name, as typed.
        name: String,
        /// Invite-only.
        private: bool,
        /// Its topic, as typed (empty for none).
        topic: String,
    },
    /// Invite someone to a room, by the name typed.
    Invite {
        /// The room.
        room: RoomName,
        /// The name, as typed.
        user: String,
    },
    /// Set a room's topic as typed (empty clears it).
    SetTopic {
        /// The room.
        room: RoomName,
        /// The topic, as typed.
        topic: String,
    },
    /// Remove, ban, change a role, or decline an invitation.
    Room {
        /// The room.
        room: RoomName,
        /// What.
        act: RoomAct,
    },
    /// Accept an invitation (join the room).
    Accept(RoomName),
    /// Forget the note about a room the user was removed from.
    DismissRemoval(usize),
    /// Change the password.
    ChangePassword {
        /// The password now.
        old: Secret,
        /// The new one.
        new: Secret,
        /// Sign out the account's other sessions.
        sign_out_others: bool,
    },
    /// Delete the account (confirmed), with its password.
    DeleteAccount(Secret),
    /// Sign out and go back to the start screen, without quitting.
    LogOut,
    /// Send, fetch or save a file (protocol v6).
    Files(FileAct),
}

/// A password on its way from a form to the network: compared by value in
/// tests, never shown (`Password` redacts itself in `Debug`).
#[derive(Debug, Clone)]
pub struct Secret(pub Password);

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.0.expose() == other.0.expose()
    }
}

impl Eq for Secret {}

impl ChatView {
    /// What the user did with the message `id` of the conversation shown.
    pub(super) fn on_message(
        &mut self,
        ctx: &egui::Context,
        state: &ChatState,
        id: MessageId,
        act: MessageAct,
        actions: &mut Vec<ChatAction>,
    ) {
        let with = state.current.clone();
        let Some(m) = state
            .current_conversation()
            .and_then(|c| c.messages().rev().find(|m| m.id == id))
        else {
            return;
        };
        let m = state.shown(m);
        match act {
            MessageAct::Reply => self.compose.reply(with, quote_of(&m)),
            MessageAct::Edit => self.compose.edit(with, &m),
            MessageAct::Delete => self.confirm_delete = Some((with, id)),
            MessageAct::React => {
                let at = ctx.pointer_latest_pos().unwrap_or_default();
                self.picker = Some(Picker::new(with, id, at));
            }
            MessageAct::Toggle { emoji, remove } => actions.push(ChatAction::React {
                with,
                id,
                emoji,
                remove,
            }),
            MessageAct::Copy => ctx.copy_text(m.text_str().to_owned()),
            MessageAct::File(FileAct::AskSave(file)) => {
                self.save = Some(super::attach::SaveForm::new(file));
            }
            MessageAct::File(FileAct::View(file, name)) => {
                super::picture::open_viewer(ctx, file, name);
            }
            MessageAct::File(f) => actions.push(ChatAction::Files(f)),
            MessageAct::Original(original) => {
                // Clicked again later, it scrolls there again.
                self.jumped = None;
                actions.push(ChatAction::JumpTo(original));
            }
        }
    }

    /// The reaction picker and the confirmation of a deletion, over the
    /// screen.
    pub(super) fn overlays(
        &mut self,
        ctx: &egui::Context,
        state: &ChatState,
        actions: &mut Vec<ChatAction>,
    ) {
        if let Some(picker) = &mut self.picker {
            let (chosen, keep) = picker.show(ctx);
            let (with, id) = (picker.with.clone(), picker.id);
            if let Some(emoji) = chosen {
                // Picking one of the user's reactions takes it back, as a
                // click on its chip does.
                let remove = state
                    .conversations
                    .get(&with)
                    .and_then(|c| c.messages().rev().find(|m| m.id == id))
                    .is_some_and(|m| {
                        state
                            .shown(m)
                            .reactions
                            .iter()
                            .any(|r| r.emoji == emoji && r.mine)
                    });
                actions.push(ChatAction::React {
                    with,
                    id,
                    emoji,
                    remove,
                });
            }
            if !keep {
                self.picker = None;
            }
        }
        if let Some((with, id)) = self.confirm_delete.clone() {
            let modal = egui::Modal::new(egui::Id::unique("confirm_delete")).show(ctx, |ui| {
                ui.set_width(320.0);
                ui.heading("Delete this message?");
                ui.label("It is deleted for everyone in the conversation. This cannot be undone.");
                ui.add_space(8.0);
                let mut answer = None;
                ui.horizontal(|ui| {
                    if ui
                        .button(RichText::new("Delete for everyone").color(FAILED))
                        .clicked()
                    {
                        answer = Some(true);
                    }
                    if ui.button("Cancel").clicked() {
                        answer = Some(false);
                    }
                });
                answer
            });
            match modal.inner {
                Some(true) => {
                    actions.push(ChatAction::Delete { with, id });
                    self.confirm_delete = None;
                }
                Some(false) => self.confirm_delete = None,
                None if modal.should_close() => self.confirm_delete = None,
                None => {}
            }
        }
    }
}
