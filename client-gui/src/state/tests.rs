//! The state's own tests, and what the other state tests share
//! (names, rooms and messages made up for them).

use super::*;
use cove_common::proto::Notice;
use cove_common::{MessageText, Request};

pub(crate) fn u(s: &str) -> Username {
    Username::new(s).unwrap()
}

pub(crate) fn room(name: &str, unread: u32) -> RoomInfo {
    RoomInfo {
        name: RoomName::new(name).unwrap(),
        members: 2,
        online: 1,
        unread,
        mentions: 0,
        private: false,
        topic: None,
        role: None,
    }
}

pub(crate) fn msg(id: u64, from: &str, to: Target, text: &str) -> ChatMessage {
    ChatMessage::new(id, id, u(from), to, MessageText::new(text).unwrap())
}

pub(crate) fn general() -> Target {
    Target::Room(RoomName::general())
}

#[test]
fn messages_sorted_deduplicated_and_counted_unread() {
    let mut s = ChatState::new(u("meg"), vec![room("general", 0), room("rust", 2)]);
    let rust = Target::Room(RoomName::new("rust").unwrap());
    assert_eq!(s.conversations[&rust].unread, 2);
    s.apply(ServerMessage::Message(msg(20, "bob", general(), "second")));
    s.apply(ServerMessage::Message(msg(10, "bob", general(), "first")));
    s.apply(ServerMessage::Message(msg(10, "bob", general(), "first")));
    s.apply(ServerMessage::Message(msg(
        30,
        "bob",
        rust.clone(),
        "elsewhere",
    )));
    let texts: Vec<_> = s.conversations[&general()]
        .entries
        .iter()
        .map(|e| match e {
            Entry::Message(m) => m.text_str(),
            _ => "?",
        })
        .collect();
    assert_eq!(texts, ["first", "second"]);
    assert_eq!(s.conversations[&general()].unread, 0);
    assert_eq!(s.conversations[&rust].unread, 3);
    s.open(rust.clone());
    assert_eq!(s.conversations[&rust].unread, 0);
}

#[test]
fn pending_until_acked_and_resent_once_after_a_lost_connection() {
    let mut s = ChatState::new(u("meg"), vec![room("general", 0)]);
    let cid = s.say(general(), MessageText::new("hi").unwrap());
    assert_eq!(s.pending_in(&general()).count(), 1);
    let out = s.take_outbox();
    assert!(matches!(&out[..], [(_, Request::Send { client_id, .. })] if *client_id == cid));
    assert!(
        s.take_resends().is_empty(),
        "on its way: nothing to re-send"
    );
    s.on_unanswered(&[out[0].0]);
    assert_eq!(s.take_resends().len(), 1);
    assert!(s.take_resends().is_empty(), "re-sent only once");
    s.apply(ServerMessage::Ack {
        id: 1,
        client_id: cid,
        message_id: 99,
        ts: 99,
    });
    assert!(s.pending.is_empty());
    assert!(
        matches!(&s.conversations[&general()].entries[0], Entry::Message(m) if m.id == 99 && m.from.as_str() == "meg")
    );
    assert_ne!(s.new_client_id(), s.new_client_id());
}

#[test]
fn direct_messages_open_a_conversation_with_the_sender() {
    let mut s = ChatState::new(u("meg"), vec![room("general", 0)]);
    s.apply(ServerMessage::Message(msg(
        5,
        "bob",
        Target::User(u("meg")),
        "psst",
    )));
    assert_eq!(s.directs, vec![u("bob")]);
    assert_eq!(s.conversations[&Target::User(u("bob"))].unread, 1);
}

#[test]
fn notices_go_to_rooms_and_ask_for_members() {
    let mut s = ChatState::new(u("meg"), vec![room("general", 0)]);
    let n = Notice::new(3, NoticeKind::Exited { user: u("alice") });
    s.apply(ServerMessage::Notice(n.clone()));
    assert!(
        matches!(&s.conversations[&general()].entries[0], Entry::Notice(n) if n.text == "alice left the chat")
    );
    let asked = |s: &mut ChatState| {
        s.take_outbox()
            .into_iter()
            .filter(|(_, r)| matches!(r, Request::Members { room } if *room == RoomName::general()))
            .count()
    };
    assert_eq!(asked(&mut s), 1);
    // One list on its way is enough, however many notices come.
    s.apply(ServerMessage::Notice(n));
    assert_eq!(asked(&mut s), 0);
}

#[test]
fn join_and_leave_update_rooms() {
    let mut s = ChatState::new(u("meg"), vec![room("general", 0)]);
    s.apply(ServerMessage::Joined {
        id: 1,
        room: room("books", 0),
    });
    let books = Target::Room(RoomName::new("books").unwrap());
    assert_eq!(s.current, books);
    assert_eq!(s.rooms.len(), 2);
    s.apply(ServerMessage::Left {
        id: 2,
        room: RoomName::new("books").unwrap(),
    });
    assert_eq!(s.rooms.len(), 1);
    assert_eq!(s.current, general());
}

#[test]
fn history_prepends_and_records_more() {
    let mut s = ChatState::new(u("meg"), vec![room("general", 0)]);
    s.apply(ServerMessage::Message(msg(50, "bob", general(), "live")));
    s.apply(ServerMessage::History {
        id: 1,
        with: general(),
        messages: vec![
            msg(40, "bob", general(), "b"),
            msg(30, "bob", general(), "a"),
        ],
        more: false,
        unreadable: 0,
        cursor: None,
    });
    let conv = &s.conversations[&general()];
    assert_eq!(conv.oldest_id(), Some(30));
    assert!(!conv.more_history);
    assert_eq!(conv.entries.len(), 3);
}

/// A page (newest first) of messages sent within one millisecond is
/// shown oldest first, like everything else.
#[test]
fn messages_of_one_millisecond_keep_the_servers_order() {
    let mut s = ChatState::new(u("meg"), vec![room("general", 0)]);
    let at = |id: u64, text: &str| ChatMessage {
        ts: 1_000,
        ..msg(id, "bob", general(), text)
    };
    s.apply(ServerMessage::Message(at(13, "live")));
    s.apply(ServerMessage::History {
        id: 1,
        with: general(),
        messages: vec![at(12, "c"), at(11, "b"), at(10, "a")],
        more: false,
        unreadable: 0,
        cursor: None,
    });
    let texts: Vec<&str> = s.conversations[&general()]
        .entries
        .iter()
        .map(|e| match e {
            Entry::Message(m) => m.text_str(),
            _ => "",
        })
        .collect();
    assert_eq!(texts, ["a", "b", "c", "live"]);
    assert_eq!(s.conversations[&general()].oldest_id(), Some(10));
}

/// Since protocol v3 a member list may be cut; the state keeps the
/// room's size, and a cut room list never drops a room of the user's.
#[test]
fn capped_lists_keep_their_totals_and_the_users_rooms() {
    let mut s = ChatState::new(u("meg"), vec![room("general", 0), room("rust", 0)]);
    let members = (0..1_000)
        .map(|i| Member {
            username: u(&format!("user{i:04}")),
            online: i < 10,
            role: None,
        })
        .collect();
    s.apply(ServerMessage::Members {
        id: 1,
        room: RoomName::general(),
        members,
        total: 5_321,
        banned: Vec::new(),
    });
    let list = s.current_members().unwrap();
    assert_eq!((list.members.len(), list.total), (1_000, 5_321));
    assert_eq!(list.not_listed(), 4_321);
    // A rooms reply cut before "rust" updates general and keeps rust.
    s.apply(ServerMessage::Rooms {
        id: 2,
        rooms: vec![RoomInfo {
            members: 7,
            ..room("general", 0)
        }],
        total: 900,
    });
    let names: Vec<&str> = s.rooms.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["general", "rust"]);
    assert_eq!(s.rooms[0].members, 7);
}
