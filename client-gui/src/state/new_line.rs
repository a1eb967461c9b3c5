//! The "New messages" line: when a conversation with unread messages is
//! opened, the line goes above the first of them, and stays there while
//! the user is in the conversation (messages arriving meanwhile do not
//! move it); opening another conversation takes it away, so coming back to
//! one read already shows none.
//!
//! The first unread message is the first from others after the user's
//! read marker when the app knows it (its own `read`s, the server's
//! `read` events); else, counting back from the newest message, the
//! conversation's unread count of others' messages (the server counts
//! the messages after the marker, which the user's own messages move).
//! When the conversation is not loaded yet, the line is placed when its
//! messages arrive; when the first unread message is older than what is
//! loaded, when enough older messages have arrived.

use cove_common::Target;
use cove_common::proto::MessageId;

use super::ChatState;

/// Where the "New messages" line goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLine {
    /// The conversation it is in.
    pub with: Target,
    /// The first unread message, once found among those loaded.
    pub first: Option<MessageId>,
    /// How many messages were unread when the conversation was opened.
    unread: u32,
    /// The user's read marker then (0: not known).
    read_up_to: MessageId,
    /// The newest message loaded then, if any: the count goes back from it.
    newest: Option<MessageId>,
}

impl ChatState {
    /// The message above which the "New messages" line is drawn in the
    /// conversation shown, if any.
    pub fn new_line_at(&self) -> Option<MessageId> {
        self.new_line
            .as_ref()
            .filter(|l| l.with == self.current)
            .and_then(|l| l.first)
    }

    /// `with` is being opened (another conversation was shown) with
    /// `unread` messages not read: the line goes above the first of them,
    /// or nowhere if there are none.
    pub(super) fn mark_new(&mut self, with: &Target, unread: u32) {
        self.new_line = (unread > 0).then(|| {
            let conv = self.conversations.get(with);
            NewLine {
                with: with.clone(),
                first: None,
                unread,
                read_up_to: conv.map_or(0, |c| c.read_up_to),
                newest: conv.and_then(|c| c.newest_id()),
            }
        });
        self.place_new_line();
    }

    /// A message from someone else arrived live in `with`. While the line
    /// waits for the conversation's first page, counting back from the
    /// newest message must count this one too (the page may bring it
    /// again, or not: it is loaded either way).
    pub(super) fn new_line_arrival(&mut self, with: &Target) {
        if let Some(line) = &mut self.new_line
            && line.with == *with
            && line.first.is_none()
            && line.newest.is_none()
            && line.read_up_to == 0
        {
            line.unread += 1;
        }
    }

    /// Finds the line's first unread message among those loaded, if it is
    /// not known yet (called again whenever messages are loaded).
    pub(super) fn place_new_line(&mut self) {
        let Some(line) = &self.new_line else {
            return;
        };
        if line.first.is_some() {
            return;
        }
        let Some(conv) = self.conversations.get(&line.with) else {
            return;
        };
        if !conv.loaded {
            return;
        }
        let mut others = conv.messages().filter(|m| m.from != self.me);
        let all_loaded = !conv.more_history;
        let first = if line.read_up_to > 0 {
            // Known only if what is loaded reaches down to the marker.
            let reaches = conv.oldest_id().is_some_and(|o| o <= line.read_up_to) || all_loaded;
            others
                .find(|m| m.id > line.read_up_to)
                .map(|m| m.id)
                .filter(|_| reaches)
        } else {
            let newest = line.newest;
            let back: Vec<MessageId> = others
                .rev()
                .filter(|m| newest.is_none_or(|n| m.id <= n))
                .map(|m| m.id)
                .take(usize::try_from(line.unread).unwrap_or(usize::MAX))
                .collect();
            let counted = back.len() == usize::try_from(line.unread).unwrap_or(usize::MAX);
            back.last().copied().filter(|_| counted || all_loaded)
        };
        if let Some(line) = &mut self.new_line {
            line.first = first;
        }
    }
}

#[cfg(test)]
mod tests {
    use cove_common::proto::{ChatMessage, RoomInfo};
    use cove_common::{MessageText, RoomName, ServerMessage, Username};

    use super::*;

    fn room(name: &str, unread: u32) -> RoomInfo {
        RoomInfo {
            name: RoomName::new(name).unwrap_or_else(|_| unreachable!()),
            members: 2,
            online: 2,
            unread,
            mentions: 0,
            private: false,
            topic: None,
            role: None,
        }
    }

    fn user(name: &str) -> Username {
        Username::new(name).unwrap_or_else(|_| unreachable!())
    }

    fn message(id: MessageId, from: &str, to: &Target) -> ChatMessage {
        ChatMessage::new(
            id,
            1_763_800_000_000 + id,
            user(from),
            to.clone(),
            MessageText::new(format!("message {id}")).unwrap_or_else(|_| unreachable!()),
        )
    }

    fn page(with: &Target, messages: Vec<ChatMessage>, more: bool) -> ServerMessage {
        ServerMessage::History {
            id: 1,
            with: with.clone(),
            messages: messages.into_iter().rev().collect(),
            more,
            unreadable: 0,
            cursor: None,
        }
    }

    fn rust() -> Target {
        Target::Room(RoomName::new("rust").unwrap_or_else(|_| unreachable!()))
    }

    /// alice in #general, #rust loaded with messages 1..=4, all read.
    fn state() -> ChatState {
        let mut s = ChatState::new(user("alice"), vec![room("general", 0), room("rust", 0)]);
        let r = rust();
        s.apply(page(
            &r,
            vec![
                message(1, "bob", &r),
                message(2, "bob", &r),
                message(3, "carol", &r),
                message(4, "dave", &r),
            ],
            false,
        ));
        s
    }

    #[test]
    fn messages_arriving_elsewhere_put_the_line_above_the_first_of_them() {
        let mut s = state();
        let r = rust();
        for id in 5..8 {
            s.apply(ServerMessage::Message(message(id, "bob", &r)));
        }
        assert_eq!(s.conversations[&r].unread, 3);
        s.show(r.clone());
        assert_eq!(s.new_line_at(), Some(5));
        // More arriving while it is shown does not move it.
        s.apply(ServerMessage::Message(message(8, "carol", &r)));
        assert_eq!(s.new_line_at(), Some(5));
        // Clicking it again keeps it.
        s.show(r.clone());
        assert_eq!(s.new_line_at(), Some(5));
        // Away and back, read: no line.
        s.show(Target::Room(RoomName::general()));
        assert_eq!(s.new_line_at(), None);
        s.show(r);
        assert_eq!(s.new_line_at(), None);
    }

    #[test]
    fn the_read_marker_places_the_line_when_known() {
        let mut s = state();
        let r = rust();
        // Read up to 2 on another device: 3 and 4 are unread.
        s.apply(ServerMessage::Read {
            id: None,
            with: r.clone(),
            up_to: 2,
            unread: 2,
            mentions: 0,
        });
        s.show(r);
        assert_eq!(s.new_line_at(), Some(3));
    }

    #[test]
    fn a_conversation_not_loaded_yet_gets_its_line_when_its_page_arrives() {
        let mut s = ChatState::new(user("alice"), vec![room("general", 0), room("rust", 2)]);
        let r = rust();
        s.show(r.clone());
        assert_eq!(s.new_line_at(), None, "nothing loaded");
        let (id, _) = s
            .take_outbox()
            .into_iter()
            .find(|(_, q)| matches!(q, cove_common::Request::History { .. }))
            .unwrap_or_else(|| unreachable!());
        s.on_reply(
            id,
            page(
                &r,
                vec![
                    message(10, "bob", &r),
                    message(11, "alice", &r),
                    message(12, "bob", &r),
                    message(13, "carol", &r),
                ],
                true,
            ),
        );
        assert_eq!(s.new_line_at(), Some(12));
    }

    /// At login the room shown has 2 unread; a third arrives live before
    /// its first page: the line still goes above the first of the three.
    #[test]
    fn a_message_arriving_before_the_first_page_is_counted() {
        let mut s = ChatState::new(user("alice"), vec![room("general", 0), room("rust", 2)]);
        let r = rust();
        s.show(r.clone());
        s.apply(ServerMessage::Message(message(14, "bob", &r)));
        assert_eq!(s.new_line_at(), None, "not loaded");
        s.apply(page(
            &r,
            vec![
                message(11, "bob", &r),
                message(12, "bob", &r),
                message(13, "carol", &r),
                message(14, "bob", &r),
            ],
            true,
        ));
        assert_eq!(s.new_line_at(), Some(12));
    }

    #[test]
    fn more_unread_than_loaded_waits_for_older_messages() {
        let mut s = ChatState::new(user("alice"), vec![room("general", 0), room("rust", 5)]);
        let r = rust();
        s.apply(page(
            &r,
            vec![message(20, "bob", &r), message(21, "bob", &r)],
            true,
        ));
        s.show(r.clone());
        assert_eq!(s.new_line_at(), None, "the first unread is not loaded");
        s.apply(page(
            &r,
            vec![
                message(16, "bob", &r),
                message(17, "bob", &r),
                message(18, "bob", &r),
                message(19, "bob", &r),
            ],
            true,
        ));
        assert_eq!(s.new_line_at(), Some(17));
    }
}
