//! One room's or direct conversation's lines, in time order, each message
//! once.

use std::collections::HashSet;

use cove_common::HistoryCursor;
use cove_common::proto::{ChatMessage, MessageId, Notice};

/// One line of a conversation.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    /// A delivered message.
    Message(ChatMessage),
    /// A system notice (joins, leaves, "alice left the chat").
    Notice(Notice),
    /// A line from the app itself (help, errors).
    Info {
        /// When it was added (ms since the epoch).
        ts: u64,
        /// The text.
        text: String,
    },
}

impl Entry {
    /// When it happened (ms since the epoch).
    pub(crate) fn ts(&self) -> u64 {
        self.order().0
    }

    /// Where the entry sorts: by time, and within one millisecond messages
    /// by their id (the server's order; many messages can share a
    /// millisecond, and history pages arrive newest first), then the
    /// other lines in the order they came.
    pub(crate) fn order(&self) -> (u64, u64) {
        match self {
            Entry::Message(m) => (m.ts, m.id),
            Entry::Notice(n) => (n.ts, u64::MAX),
            Entry::Info { ts, .. } => (*ts, u64::MAX),
        }
    }
}

/// One room's or direct conversation's lines.
#[derive(Debug, Default, Clone)]
pub struct Conversation {
    /// Lines, oldest first.
    pub entries: Vec<Entry>,
    ids: HashSet<MessageId>,
    /// Whether the server has older messages than those loaded.
    pub more_history: bool,
    /// Whether a request for older messages is in flight.
    pub loading: bool,
    /// Where the page below the oldest message loaded starts, as the server
    /// said (`None` until it said, or once what it pointed below is gone:
    /// then `before` alone asks for that page).
    pub older: Option<HistoryCursor>,
    /// Whether a page of its history arrived, so what is loaded is the
    /// conversation up to now (after a reconnect it is caught up from its
    /// newest message, where an unloaded one is loaded afresh).
    pub loaded: bool,
    /// Messages not read yet: the server's count (welcome, `read`
    /// events), plus those that arrived since while another conversation
    /// was shown.
    pub unread: u32,
    /// Of the unread messages, those that mention the user (since protocol
    /// v5): the server's count, plus those that arrived since while another
    /// conversation was shown. Shown as its own badge, because a mention
    /// asks for the user's attention where a busy room's count does not.
    pub mentions: u32,
    /// The newest message id the user has read here, as far as the app
    /// knows (its own `read`, the server's `read` events, its own
    /// messages).
    pub read_up_to: MessageId,
    /// When the app last said `read` here (ms since the epoch).
    pub read_sent_at: u64,
}

impl Conversation {
    /// A conversation whose history is still to be fetched.
    pub fn unloaded() -> Self {
        Self {
            more_history: true,
            ..Self::default()
        }
    }

    /// The oldest message id loaded.
    pub fn oldest_id(&self) -> Option<MessageId> {
        self.entries.iter().find_map(|e| match e {
            Entry::Message(m) => Some(m.id),
            _ => None,
        })
    }

    /// The newest message id loaded.
    pub fn newest_id(&self) -> Option<MessageId> {
        self.entries.iter().rev().find_map(|e| match e {
            Entry::Message(m) => Some(m.id),
            _ => None,
        })
    }

    /// Whether the message `id` is loaded.
    pub fn has(&self, id: MessageId) -> bool {
        self.ids.contains(&id)
    }

    /// The ids of the messages loaded, oldest first.
    #[cfg(test)]
    pub fn message_ids(&self) -> Vec<MessageId> {
        self.entries
            .iter()
            .filter_map(|e| match e {
                Entry::Message(m) => Some(m.id),
                _ => None,
            })
            .collect()
    }

    /// The loaded message `id`, to change it.
    pub(super) fn message_mut(&mut self, id: MessageId) -> Option<&mut ChatMessage> {
        if !self.ids.contains(&id) {
            return None;
        }
        self.entries.iter_mut().rev().find_map(|e| match e {
            Entry::Message(m) if m.id == id => Some(m),
            _ => None,
        })
    }

    /// The loaded messages, oldest first.
    pub fn messages(&self) -> impl DoubleEndedIterator<Item = &ChatMessage> {
        self.entries.iter().filter_map(|e| match e {
            Entry::Message(m) => Some(m),
            _ => None,
        })
    }

    /// Puts a message of a history page in place: since protocol v5 a
    /// page gives each message as it now stands (edited, deleted,
    /// reacted to), so one already loaded takes the page's version, as
    /// far as it is not older than what arrived live
    /// ([`super::changes::merge`]).
    pub(super) fn merge(&mut self, m: ChatMessage) {
        match self.message_mut(m.id) {
            Some(old) => super::changes::merge(old, m),
            None => {
                self.insert(Entry::Message(m));
            }
        }
    }

    /// Inserts in time order; a message already present is ignored.
    pub fn insert(&mut self, entry: Entry) -> bool {
        if let Entry::Message(m) = &entry
            && !self.ids.insert(m.id)
        {
            return false;
        }
        let key = entry.order();
        let at = self.entries.partition_point(|e| e.order() <= key);
        self.entries.insert(at, entry);
        true
    }

    /// Forgets every line before the message `id`, so that what is loaded
    /// stays one unbroken stretch of the conversation (the lines dropped
    /// come back as older pages when the reader scrolls up).
    pub fn drop_before(&mut self, id: MessageId) {
        let Some(at) = self
            .entries
            .iter()
            .position(|e| matches!(e, Entry::Message(m) if m.id == id))
        else {
            return;
        };
        for e in self.entries.drain(..at) {
            if let Entry::Message(m) = e {
                self.ids.remove(&m.id);
            }
        }
        self.more_history = true;
        self.older = None;
    }
}
