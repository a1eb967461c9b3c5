//! The app's part in notifications: a message arriving while the window is
//! in the background goes to the [`Notifier`] if [`note_for`] says so;
//! muting and the notification choices are saved in the settings, per
//! server and account.

use cove_common::{ServerMessage, Target};

use super::CoveApp;
use crate::notify::prefs::account_key;
use crate::notify::{Kinds, Notifier, note_for};
use crate::state::ChatState;

impl CoveApp {
    /// Replaces the desktop notifier (tests pass a
    /// [`crate::notify::Recorder`]).
    pub fn set_notifier(&mut self, notifier: Box<dyn Notifier>) {
        self.notifier = notifier;
    }

    /// Before `msg` is applied: a notification, if it calls for one.
    pub(super) fn notify_about(&mut self, msg: &ServerMessage, ctx: &egui::Context) {
        let (Some(chat), ServerMessage::Message(m)) = (&self.chat, msg) else {
            return;
        };
        let focused = ctx.input(|i| i.viewport().focused) != Some(false);
        if let Some(note) = note_for(m, chat, self.settings.notify.kinds, focused) {
            self.notifier.notify(note);
        }
    }

    fn account(&self, chat: &ChatState) -> String {
        account_key(&self.settings.server, chat.me.as_str())
    }

    /// After login: the conversations this account muted.
    pub(super) fn load_mutes(&self, chat: &mut ChatState) {
        for with in self.settings.notify.muted_for(&self.account(chat)) {
            chat.set_muted(with, true);
        }
    }

    /// Mutes or unmutes a conversation, and remembers it.
    pub(super) fn mute(&mut self, chat: &mut ChatState, with: Target, mute: bool) {
        let account = self.account(chat);
        self.settings.notify.set_muted(&account, &with, mute);
        chat.set_muted(with, mute);
        self.settings.save(&self.opts.config_dir);
    }

    /// The kinds of message that notify, chosen in the settings.
    pub(super) fn set_kinds(&mut self, kinds: Kinds) {
        self.settings.notify.kinds = kinds;
        self.settings.save(&self.opts.config_dir);
    }
}
