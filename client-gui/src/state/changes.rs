//! Edits, deletions and reactions (protocol v5), as the app keeps them.
//!
//! The loaded messages hold what the server said: pages give each message
//! with every change applied, `change` events change a loaded message
//! live (one that is not loaded is left alone: its page will come with
//! the change applied).
//!
//! The user's own changes are requests answered by `ack`. Until it comes
//! a change waits in [`ChatState::pending_changes`] and the screen shows
//! the message as if it were made ([`ChatState::shown`]), as chat apps
//! do, without touching the message itself: a refusal then only drops the
//! pending change (and says why in the conversation), with nothing to
//! undo; the `ack` applies it to the message for good. A change whose
//! connection was lost is re-sent once after the next login under the
//! same client id (the server answers a repeat with the first outcome and
//! does nothing twice); when the session ends for good it is dropped and
//! the conversation says so.

use std::borrow::Cow;

use cove_common::limits::QUOTE_MAX_CHARS;
use cove_common::proto::{Change, ChangeKind, ChatMessage, MessageId, Quote, Reaction};
use cove_common::{ClientMsgId, Emoji, MessageText, Request, Target, Username};

use super::ChatState;
use super::requests::Purpose;

/// An edit, deletion or reaction of the user's, not yet acknowledged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingChange {
    /// The client's id for it (re-sent with the same id).
    pub client_id: ClientMsgId,
    /// The message's conversation.
    pub with: Target,
    /// The message.
    pub message_id: MessageId,
    /// What the user changed.
    pub what: ChangeKind,
    /// The connection was lost before the answer: re-sent after the next
    /// login.
    pub interrupted: bool,
}

impl PendingChange {
    /// What the user tried, for "Could not … ".
    fn verb(&self) -> &'static str {
        match &self.what {
            ChangeKind::Edit { .. } => "edit your message",
            ChangeKind::Delete => "delete your message",
            ChangeKind::React { remove: false, .. } => "add your reaction",
            ChangeKind::React { remove: true, .. } => "take back your reaction",
        }
    }
}

/// How a reply quotes `m`: its author and the start of its text, as the
/// server quotes it ([`QUOTE_MAX_CHARS`] characters).
pub fn quote_of(m: &ChatMessage) -> Quote {
    Quote {
        id: m.id,
        from: m.from.clone(),
        text: m
            .text
            .as_ref()
            .map(|t| t.as_str().chars().take(QUOTE_MAX_CHARS).collect()),
    }
}

impl ChatState {
    /// Replaces the text of the user's message `id` in `with`.
    pub fn edit(&mut self, with: Target, id: MessageId, text: MessageText) -> ClientMsgId {
        self.change(with, id, ChangeKind::Edit { text })
    }

    /// Deletes the message `id` in `with`: the user's own, or anyone's in a
    /// room they own or moderate.
    pub fn delete(&mut self, with: Target, id: MessageId) -> ClientMsgId {
        self.change(with, id, ChangeKind::Delete)
    }

    /// Adds the user's reaction `emoji` to the message `id` in `with`, or
    /// takes it back.
    pub fn react(
        &mut self,
        with: Target,
        id: MessageId,
        emoji: Emoji,
        remove: bool,
    ) -> ClientMsgId {
        self.change(with, id, ChangeKind::React { emoji, remove })
    }

    fn change(&mut self, with: Target, message_id: MessageId, what: ChangeKind) -> ClientMsgId {
        let client_id = self.new_client_id();
        let p = PendingChange {
            client_id: client_id.clone(),
            with,
            message_id,
            what,
            interrupted: false,
        };
        if let Some(reason) = self.ended.clone() {
            // No connection will come to send it on.
            self.info_in(p.with.clone(), format!("Could not {}: {reason}.", p.verb()));
            return client_id;
        }
        self.send_change(&p);
        self.pending_changes.push(p);
        client_id
    }

    fn send_change(&mut self, p: &PendingChange) {
        let (client_id, with, message_id) = (p.client_id.clone(), p.with.clone(), p.message_id);
        let request = match p.what.clone() {
            ChangeKind::Edit { text } => Request::Edit {
                client_id,
                with,
                message_id,
                text,
            },
            ChangeKind::Delete => Request::Delete {
                client_id,
                with,
                message_id,
            },
            ChangeKind::React { emoji, remove } => Request::React {
                client_id,
                with,
                message_id,
                emoji,
                remove,
            },
        };
        self.ask(
            Purpose::Change {
                client_id: p.client_id.clone(),
            },
            request,
        );
    }

    /// `m` as the screen shows it: with the user's changes still on their
    /// way applied, in the order made.
    pub fn shown<'a>(&self, m: &'a ChatMessage) -> Cow<'a, ChatMessage> {
        let mut shown = Cow::Borrowed(m);
        for p in self.pending_changes.iter().filter(|p| p.message_id == m.id) {
            let edited = m.edited.unwrap_or(m.ts);
            apply(shown.to_mut(), &self.me, edited, &p.what, &self.me);
        }
        shown
    }

    /// The user's newest message in `with` that is not deleted, as shown
    /// (Up in an empty message box edits it).
    pub fn last_own_message(&self, with: &Target) -> Option<Cow<'_, ChatMessage>> {
        let conv = self.conversations.get(with)?;
        conv.messages()
            .rev()
            .filter(|m| m.from == self.me)
            .map(|m| self.shown(m))
            .find(|m| m.deleted.is_none())
    }

    /// A `change` event: applied to the message if it is loaded, in the
    /// conversation it belongs to (filed as a message is).
    pub(super) fn on_change(&mut self, c: Change) {
        let with = c.to.conversation_for(&c.from, &self.me);
        self.apply_change(&with, c.message_id, &c.from, c.ts, &c.what);
    }

    fn apply_change(
        &mut self,
        with: &Target,
        id: MessageId,
        from: &Username,
        ts: u64,
        what: &ChangeKind,
    ) {
        let me = self.me.clone();
        let Some(conv) = self.conversations.get_mut(with) else {
            return;
        };
        let Some(m) = conv.message_mut(id) else {
            return;
        };
        apply(m, from, ts, what, &me);
        if matches!(what, ChangeKind::Delete) {
            // As pages show them: a quote of a deleted message keeps its
            // author but loses its text.
            for m in conv.entries.iter_mut().filter_map(|e| match e {
                super::Entry::Message(m) => Some(m),
                _ => None,
            }) {
                if let Some(q) = m.reply_to.as_mut().filter(|q| q.id == id) {
                    q.text = None;
                }
            }
        }
    }

    /// The server stored the user's change `client_id` at `ts`. Returns
    /// whether it was one.
    pub(super) fn change_acked(&mut self, client_id: &ClientMsgId, ts: u64) -> bool {
        let Some(i) = self
            .pending_changes
            .iter()
            .position(|p| &p.client_id == client_id)
        else {
            return false;
        };
        let p = self.pending_changes.remove(i);
        let me = self.me.clone();
        self.apply_change(&p.with, p.message_id, &me, ts, &p.what);
        true
    }

    /// The server refused the change `client_id`: it is no longer shown,
    /// and its conversation says why.
    pub(super) fn change_refused(&mut self, client_id: &ClientMsgId, message: &str) {
        if let Some(i) = self
            .pending_changes
            .iter()
            .position(|p| &p.client_id == client_id)
        {
            let p = self.pending_changes.remove(i);
            self.info_in(
                p.with.clone(),
                format!("Could not {}: {message}.", p.verb()),
            );
        }
    }

    /// The connection was lost before the change `client_id` was
    /// answered: it waits for the next login, unless the session ended
    /// for good.
    pub(super) fn change_interrupted(&mut self, client_id: &ClientMsgId) {
        if let Some(reason) = self.ended.clone() {
            if let Some(i) = self
                .pending_changes
                .iter()
                .position(|p| &p.client_id == client_id)
            {
                let p = self.pending_changes.remove(i);
                self.info_in(p.with.clone(), format!("Could not {}: {reason}.", p.verb()));
            }
            return;
        }
        if let Some(p) = self
            .pending_changes
            .iter_mut()
            .find(|p| &p.client_id == client_id)
        {
            p.interrupted = true;
        }
    }

    /// Logged in again: the interrupted changes go out once more, under
    /// their client ids.
    pub(super) fn resend_changes(&mut self) {
        let again: Vec<PendingChange> = self
            .pending_changes
            .iter_mut()
            .filter(|p| p.interrupted)
            .map(|p| {
                p.interrupted = false;
                p.clone()
            })
            .collect();
        for p in &again {
            self.send_change(p);
        }
    }

    /// The session ended for good: changes not yet stored never will be.
    /// Those whose request is still out may yet be answered (then they
    /// apply); the others are dropped, saying so.
    pub(super) fn changes_ended(&mut self, reason: &str) {
        let (lost, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut self.pending_changes)
            .into_iter()
            .partition(|p| p.interrupted);
        self.pending_changes = kept;
        for p in lost {
            self.info_in(p.with.clone(), format!("Could not {}: {reason}.", p.verb()));
        }
    }
}

/// Applies one change by `from` at `ts` to `m`, as seen by `me`.
fn apply(m: &mut ChatMessage, from: &Username, ts: u64, what: &ChangeKind, me: &Username) {
    if m.deleted.is_some() {
        // Nothing changes a deleted message any more.
        return;
    }
    match what {
        ChangeKind::Edit { text } => {
            m.text = Some(text.clone());
            m.edited = Some(ts);
        }
        ChangeKind::Delete => {
            m.text = None;
            m.deleted = Some(ts);
            m.reactions.clear();
        }
        ChangeKind::React { emoji, remove } => {
            react(&mut m.reactions, emoji, from, from == me, *remove);
        }
    }
}

/// Adds `who`'s reaction `emoji` to `reactions`, or takes it back.
///
/// A page names at most 10 users per emoji; `mine` tells exactly whether
/// the user is among them, so the user's own reactions never count twice.
/// Someone else not named may be among the unnamed: a reaction of theirs is
/// counted as new (the server passes on a repeated reaction too, which
/// then counts once too often until the next page: a repeat is rare, a
/// new one is the rule), and a taking back is counted off only when they
/// could be there.
fn react(reactions: &mut Vec<Reaction>, emoji: &Emoji, who: &Username, mine: bool, remove: bool) {
    let at = reactions.iter().position(|r| &r.emoji == emoji);
    match (at, remove) {
        (None, false) => reactions.push(Reaction {
            emoji: emoji.clone(),
            count: 1,
            users: vec![who.clone()],
            mine,
        }),
        (None, true) => {}
        (Some(i), false) => {
            let r = &mut reactions[i];
            if r.users.contains(who) || (mine && r.mine) {
                return;
            }
            r.count += 1;
            r.users.push(who.clone());
            r.mine |= mine;
        }
        (Some(i), true) => {
            let r = &mut reactions[i];
            let named = r.users.contains(who);
            let maybe_unnamed = if mine {
                r.mine
            } else {
                r.count as usize > r.users.len()
            };
            if !named && !maybe_unnamed {
                return;
            }
            r.count = r.count.saturating_sub(1);
            r.users.retain(|u| u != who);
            if mine {
                r.mine = false;
            }
            if r.count == 0 {
                reactions.remove(i);
            }
        }
    }
}

/// Puts the page's version `new` of a loaded message in `old`'s place.
///
/// A page is the message as it stood when the server read it; a change
/// that arrived live may be newer than that (the page was read before it
/// was made), so a deletion is never undone, and an older edit's text
/// never replaces a newer one's.
pub(super) fn merge(old: &mut ChatMessage, new: ChatMessage) {
    if old.deleted.is_some() {
        return;
    }
    if new.deleted.is_some() {
        *old = new;
        return;
    }
    if new.edited >= old.edited {
        old.text = new.text;
        old.edited = new.edited;
    }
    old.reactions = new.reactions;
    // A page is where the sender's own message first shows its file (an
    // `ack` does not carry it).
    if new.file.is_some() {
        old.file = new.file;
    }
    match (&mut old.reply_to, new.reply_to) {
        // The original was deleted since the page was read.
        (Some(q), Some(_)) if q.text.is_none() => {}
        (q, n) => *q = n,
    }
}

#[cfg(test)]
mod tests;
