//! Typing indicators and read markers as the app keeps them.
//!
//! Others' typing is kept per conversation with the time it expires
//! ([`TYPING_EXPIRY_MS`] after their last `typing`, or at once when their
//! message arrives); the user's own typing is sent at most every
//! [`TYPING_REPEAT_MS`] per conversation. Read markers are the server's:
//! the app says `read` when the newest message of the conversation shown
//! is on screen (at most every [`READ_REPEAT_MS`]), and takes the unread
//! counts of its other conversations from the server's `read` events, so
//! a conversation read on another device stops showing a badge here.
//!
//! Times are milliseconds since the epoch, passed in, so tests choose them.

use cove_common::limits::{READ_REPEAT_MS, TYPING_EXPIRY_MS, TYPING_REPEAT_MS};
use cove_common::proto::MessageId;
use cove_common::{Request, Target, Username};

use super::requests::Purpose;
use super::{ChatState, Conversation, Status};

impl ChatState {
    /// `user` is typing in `with` (a `typing` event), as of `now`.
    pub(super) fn someone_typing(&mut self, with: Target, user: Username, now: u64) {
        // The server never sends one's own; a stray one is not shown.
        if user == self.me {
            return;
        }
        let typing = self.typing.entry(with).or_default();
        typing.retain(|(u, _)| *u != user);
        typing.push((user, now + TYPING_EXPIRY_MS));
    }

    /// `user`'s message arrived in `with`: they stopped typing there.
    pub(super) fn stopped_typing(&mut self, with: &Target, user: &Username) {
        if let Some(typing) = self.typing.get_mut(with) {
            typing.retain(|(u, _)| u != user);
        }
    }

    /// Who is typing in `with` at `now`, in the order they started.
    pub fn typing_in(&self, with: &Target, now: u64) -> Vec<&Username> {
        self.typing.get(with).map_or_else(Vec::new, |t| {
            t.iter()
                .filter(|(_, until)| *until > now)
                .map(|(u, _)| u)
                .collect()
        })
    }

    /// Whether anyone is shown typing anywhere at `now` (the screen then
    /// needs redrawing when it expires, input or not).
    pub fn anyone_typing(&self, now: u64) -> bool {
        self.typing
            .values()
            .any(|t| t.iter().any(|(_, until)| *until > now))
    }

    /// The line shown under the conversation `with` at `now`: "bob is
    /// typing…", "bob and carol are typing…", "3 people are typing…".
    pub fn typing_line(&self, with: &Target, now: u64) -> Option<String> {
        match self.typing_in(with, now)[..] {
            [] => None,
            [a] => Some(format!("{a} is typing…")),
            [a, b] => Some(format!("{a} and {b} are typing…")),
            ref all => Some(format!("{} people are typing…", all.len())),
        }
    }

    /// The user is typing in the conversation shown: the server is told,
    /// at most every [`TYPING_REPEAT_MS`] per conversation, and only while
    /// online (a late indicator would be wrong).
    pub fn typing(&mut self, now: u64) {
        if self.status != Status::Online {
            return;
        }
        let with = self.current.clone();
        if self
            .typing_sent
            .get(&with)
            .is_some_and(|t| now < t + TYPING_REPEAT_MS)
        {
            return;
        }
        self.typing_sent.insert(with.clone(), now);
        // Answered only when refused: not remembered as a question.
        let id = self.next_request_id();
        self.outbox.push((id, Request::Typing { with }));
    }

    /// The newest message of the conversation shown is on screen at
    /// `now`: the server is told it was read, at most every
    /// [`READ_REPEAT_MS`] per conversation.
    pub fn seen_newest(&mut self, now: u64) {
        if self.status != Status::Online {
            return;
        }
        let with = self.current.clone();
        let Some(conv) = self.conversations.get_mut(&with) else {
            return;
        };
        let Some(newest) = conv.newest_id() else {
            return;
        };
        if newest <= conv.read_up_to || now < conv.read_sent_at + READ_REPEAT_MS {
            return;
        }
        conv.read_sent_at = now;
        // The server moves it there (or further, never back).
        conv.read_up_to = newest;
        self.ask(
            Purpose::Read { with: with.clone() },
            Request::Read {
                with,
                up_to: newest,
            },
        );
    }

    /// A read marker of the user's from the server: the reply to a `read`,
    /// or one of their other sessions read. The server's count replaces
    /// the app's, except in the conversation shown, which is being read.
    pub(super) fn read_marker(
        &mut self,
        with: Target,
        up_to: MessageId,
        unread: u32,
        mentions: u32,
    ) {
        let shown = with == self.current;
        let conv = self
            .conversations
            .entry(with)
            .or_insert_with(Conversation::unloaded);
        conv.read_up_to = conv.read_up_to.max(up_to);
        if !shown {
            conv.unread = unread;
            conv.mentions = mentions;
        }
    }

    /// Whether `m` mentions the user: the server lists whom a message
    /// mentions (protocol v5), and never counts one's own words.
    pub fn mentions_me(&self, m: &cove_common::proto::ChatMessage) -> bool {
        m.from != self.me && m.mentions.contains(&self.me)
    }

    /// A `read` that got no answer (the connection dropped): said again
    /// once the newest message is seen after the reconnect.
    pub(super) fn read_unanswered(&mut self, with: &Target) {
        if let Some(conv) = self.conversations.get_mut(with) {
            conv.read_up_to = 0;
            conv.read_sent_at = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use cove_common::{Request, ServerMessage};

    use super::*;
    use crate::state::tests::{general, msg, room, u};

    fn bob_typing() -> ServerMessage {
        ServerMessage::Typing {
            with: general(),
            user: u("bob"),
        }
    }

    #[test]
    fn typing_lines_name_up_to_two_and_expire() {
        let mut s = ChatState::new(u("meg"), vec![room("general", 0)]);
        let t0 = 1_000_000;
        s.someone_typing(general(), u("bob"), t0);
        assert_eq!(
            s.typing_line(&general(), t0).as_deref(),
            Some("bob is typing…")
        );
        s.someone_typing(general(), u("carol"), t0 + 1_000);
        assert_eq!(
            s.typing_line(&general(), t0 + 1_000).as_deref(),
            Some("bob and carol are typing…")
        );
        s.someone_typing(general(), u("dave"), t0 + 2_000);
        assert_eq!(
            s.typing_line(&general(), t0 + 2_000).as_deref(),
            Some("3 people are typing…")
        );
        // Bob's expires first; the others' later.
        let later = t0 + TYPING_EXPIRY_MS;
        assert_eq!(
            s.typing_line(&general(), later).as_deref(),
            Some("carol and dave are typing…")
        );
        assert_eq!(
            s.typing_line(&general(), t0 + 2_000 + TYPING_EXPIRY_MS),
            None
        );
        assert!(!s.anyone_typing(t0 + 2_000 + TYPING_EXPIRY_MS));
        // Never oneself.
        s.someone_typing(general(), u("meg"), later);
        assert_eq!(s.typing_in(&general(), later).len(), 2);
    }

    #[test]
    fn a_message_ends_its_senders_typing() {
        let mut s = ChatState::new(u("meg"), vec![room("general", 0)]);
        s.apply(bob_typing());
        assert!(
            s.typing_line(&general(), cove_common::time::now_ms())
                .is_some()
        );
        s.apply(ServerMessage::Message(msg(5, "bob", general(), "hi")));
        assert_eq!(s.typing_line(&general(), cove_common::time::now_ms()), None);
    }

    #[test]
    fn own_typing_is_sent_at_most_every_few_seconds() {
        let mut s = ChatState::new(u("meg"), vec![room("general", 0)]);
        let typing = |s: &mut ChatState| {
            s.take_outbox()
                .iter()
                .filter(|(_, r)| matches!(r, Request::Typing { .. }))
                .count()
        };
        let t0 = 5_000_000;
        s.typing(t0);
        s.typing(t0 + 1_000);
        s.typing(t0 + TYPING_REPEAT_MS - 1);
        assert_eq!(typing(&mut s), 1);
        s.typing(t0 + TYPING_REPEAT_MS);
        assert_eq!(typing(&mut s), 1);
        // Nothing while offline.
        s.status = Status::Reconnecting { reason: "x".into() };
        s.typing(t0 + 10 * TYPING_REPEAT_MS);
        assert_eq!(typing(&mut s), 0);
    }

    #[test]
    fn reading_is_said_once_per_newest_message_and_throttled() {
        let mut s = ChatState::new(u("meg"), vec![room("general", 0)]);
        let reads = |s: &mut ChatState| -> Vec<u64> {
            s.take_outbox()
                .into_iter()
                .filter_map(|(_, r)| match r {
                    Request::Read { up_to, .. } => Some(up_to),
                    _ => None,
                })
                .collect()
        };
        let t0 = 9_000_000;
        s.seen_newest(t0);
        assert!(reads(&mut s).is_empty(), "nothing to read yet");
        s.apply(ServerMessage::Message(msg(10, "bob", general(), "a")));
        s.seen_newest(t0);
        s.seen_newest(t0 + 10);
        assert_eq!(reads(&mut s), [10]);
        s.apply(ServerMessage::Message(msg(11, "bob", general(), "b")));
        s.seen_newest(t0 + 10);
        assert!(reads(&mut s).is_empty(), "throttled");
        s.seen_newest(t0 + READ_REPEAT_MS);
        assert_eq!(reads(&mut s), [11]);
    }

    /// Another session of the user read #rust: its badge here takes the
    /// server's count; the conversation shown keeps none.
    #[test]
    fn read_events_set_the_badges_of_other_conversations() {
        let mut s = ChatState::new(u("meg"), vec![room("general", 0), room("rust", 4)]);
        let rust = Target::Room(cove_common::RoomName::new("rust").unwrap());
        assert_eq!(s.conversations[&rust].unread, 4);
        s.apply(ServerMessage::Read {
            id: None,
            with: rust.clone(),
            up_to: 40,
            unread: 1,
            mentions: 0,
        });
        assert_eq!(s.conversations[&rust].unread, 1);
        assert_eq!(s.conversations[&rust].read_up_to, 40);
        s.apply(ServerMessage::Message(msg(5, "bob", general(), "x")));
        s.apply(ServerMessage::Read {
            id: None,
            with: general(),
            up_to: 1,
            unread: 3,
            mentions: 0,
        });
        assert_eq!(s.conversations[&general()].unread, 0, "shown");
        // The user's own message (sent from another session) moves the
        // server's marker: not unread here either.
        s.apply(ServerMessage::Message(msg(50, "meg", rust.clone(), "mine")));
        assert_eq!(s.conversations[&rust].unread, 0);
    }

    fn mentioning(id: u64, from: &str, to: Target, who: &[&str]) -> ServerMessage {
        let mut m = msg(id, from, to, "@meg look");
        m.mentions = who.iter().map(|w| u(w)).collect();
        ServerMessage::Message(m)
    }

    /// Mentions have their own count beside the unread one: the server's
    /// (welcome, `read`), plus those arriving in a conversation not shown;
    /// opening it, reading elsewhere or writing there clears it.
    #[test]
    fn mentions_are_counted_apart_and_cleared_when_read() {
        let rust_info = cove_common::proto::RoomInfo {
            mentions: 2,
            ..room("rust", 5)
        };
        let mut s = ChatState::new(u("meg"), vec![room("general", 0), rust_info]);
        let rust = Target::Room(cove_common::RoomName::new("rust").unwrap());
        assert_eq!(s.conversations[&rust].mentions, 2);
        s.apply(mentioning(10, "bob", rust.clone(), &["meg"]));
        s.apply(mentioning(11, "bob", rust.clone(), &["carol"]));
        // A repeat of a message already there counts nothing.
        s.apply(mentioning(10, "bob", rust.clone(), &["meg"]));
        assert_eq!(
            (
                s.conversations[&rust].unread,
                s.conversations[&rust].mentions
            ),
            (7, 3)
        );
        // Not in the conversation shown: it is being read.
        s.apply(mentioning(12, "bob", general(), &["meg"]));
        assert_eq!(s.conversations[&general()].mentions, 0);
        // Another session read part of #rust.
        s.apply(ServerMessage::Read {
            id: None,
            with: rust.clone(),
            up_to: 10,
            unread: 1,
            mentions: 1,
        });
        assert_eq!(s.conversations[&rust].mentions, 1);
        s.open(rust.clone());
        assert_eq!(s.conversations[&rust].mentions, 0);
        s.open(general());
        s.apply(mentioning(13, "bob", rust.clone(), &["meg"]));
        assert_eq!(s.conversations[&rust].mentions, 1);
        // The user writes there (another session): all read.
        s.apply(ServerMessage::Message(msg(14, "meg", rust.clone(), "ok")));
        assert_eq!(s.conversations[&rust].mentions, 0);
    }

    #[test]
    fn direct_mentions_come_from_the_welcome() {
        let mut s = ChatState::new(u("meg"), vec![room("general", 0)]);
        s.directs = vec![u("bob")];
        s.set_direct_unread(&[cove_common::proto::DirectUnread {
            user: u("bob"),
            unread: 3,
            mentions: 1,
        }]);
        assert_eq!(s.conversations[&Target::User(u("bob"))].mentions, 1);
        // One's own message never mentions oneself.
        let mut own = msg(5, "meg", general(), "@meg");
        own.mentions = vec![u("meg")];
        assert!(!s.mentions_me(&own));
    }
}
