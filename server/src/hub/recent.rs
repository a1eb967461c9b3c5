//! The messages most recently sent on this server (since it started), by
//! id: who wrote each, in which conversation, and the start of its text.
//! An `edit`, `delete`, `react` or reply names a message by id; most name
//! a recent one, found here without reading anyone's history (older ones
//! are looked up in the user's own history, see [`super::changes`]).

use std::collections::{HashMap, VecDeque};

use cove_common::Username;
use cove_common::limits::QUOTE_MAX_CHARS;
use cove_common::proto::{FileId, MessageId};

use crate::store::users::UserId;

use super::unread::Pair;

/// Messages remembered: at about 200 bytes each, some 13 MB.
pub const RECENT_MESSAGES: usize = 65_536;

/// A conversation, the same for everyone in it (unlike
/// [`ConvKey`](super::unread::ConvKey), which names a direct conversation
/// by the other user).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Conversation {
    /// A room, by name key.
    Room(String),
    /// A direct conversation.
    Direct(Pair),
}

/// One remembered message.
#[derive(Debug, Clone)]
pub(super) struct Recent {
    pub(super) from: Username,
    pub(super) conversation: Conversation,
    /// The start of its text as it now reads, for reply quotes.
    pub(super) quote: String,
    pub(super) deleted: bool,
    /// The file it carries, freed when it is deleted.
    pub(super) file: Option<FileId>,
}

/// The start of a text, as a reply quotes it.
pub(super) fn quote_of(text: &str) -> String {
    text.chars().take(QUOTE_MAX_CHARS).collect()
}

/// The last [`RECENT_MESSAGES`] messages, by id.
#[derive(Debug, Default)]
pub(super) struct RecentMessages {
    order: VecDeque<MessageId>,
    by_id: HashMap<MessageId, Recent>,
}

impl RecentMessages {
    /// Remembers a message as it is sent, forgetting the oldest past the
    /// bound.
    pub(super) fn insert(&mut self, id: MessageId, m: Recent) {
        if self.order.len() >= RECENT_MESSAGES
            && let Some(old) = self.order.pop_front()
        {
            self.by_id.remove(&old);
        }
        self.order.push_back(id);
        self.by_id.insert(id, m);
    }

    pub(super) fn get(&self, id: MessageId) -> Option<&Recent> {
        self.by_id.get(&id)
    }

    pub(super) fn get_mut(&mut self, id: MessageId) -> Option<&mut Recent> {
        self.by_id.get_mut(&id)
    }
}

/// Where a member of a room joined it, in message ids: messages of the
/// room up to this id were sent before they were a member, so they never
/// received them. Only joins since the server started are known; members
/// from before joined before every message [`RecentMessages`] holds.
#[derive(Debug, Default)]
pub(super) struct JoinedAt(HashMap<UserId, MessageId>);

impl JoinedAt {
    pub(super) fn set(&mut self, user: UserId, last_before: MessageId) {
        self.0.insert(user, last_before);
    }

    pub(super) fn remove(&mut self, user: &UserId) {
        self.0.remove(user);
    }

    /// Whether `user` was a member when message `id` was sent.
    pub(super) fn received(&self, user: &UserId, id: MessageId) -> bool {
        self.0.get(user).is_none_or(|&j| id > j)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn recent(text: &str) -> Recent {
        Recent {
            from: Username::new("alice").unwrap(),
            conversation: Conversation::Room("general".into()),
            quote: quote_of(text),
            deleted: false,
            file: None,
        }
    }

    #[test]
    fn keeps_the_newest_up_to_the_bound() {
        let mut r = RecentMessages::default();
        for id in 0..(RECENT_MESSAGES as u64 + 5) {
            r.insert(id, recent("x"));
        }
        assert!(r.get(4).is_none());
        assert!(r.get(5).is_some());
        assert_eq!(r.by_id.len(), RECENT_MESSAGES);
    }

    #[test]
    fn a_quote_is_the_first_hundred_characters() {
        let long = "é".repeat(150);
        assert_eq!(quote_of(&long).chars().count(), QUOTE_MAX_CHARS);
        assert_eq!(quote_of("short"), "short");
    }

    #[test]
    fn a_member_received_only_what_came_after_their_join() {
        let (mut j, u) = (JoinedAt::default(), UserId::generate());
        assert!(j.received(&u, 1), "members from before the start");
        j.set(u.clone(), 100);
        assert!(!j.received(&u, 100) && j.received(&u, 101));
        j.remove(&u);
        assert!(j.received(&u, 1));
    }
}
