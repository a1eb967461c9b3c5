//! The state's side of edits, deletions, replies and reactions.
use cove_common::{ErrorCode, RoomName, ServerMessage};

use super::*;
use crate::state::Entry;
use crate::state::tests::{general, msg, room, u};

fn emoji(e: &str) -> Emoji {
    Emoji::new(e).unwrap()
}

fn text(t: &str) -> MessageText {
    MessageText::new(t).unwrap()
}

fn change(id: u64, from: &str, to: Target, message_id: u64, what: ChangeKind) -> ServerMessage {
    ServerMessage::Change(Change {
        id,
        ts: id,
        from: u(from),
        to,
        message_id,
        what,
    })
}

fn react_by(
    id: u64,
    from: &str,
    to: Target,
    message_id: u64,
    e: &str,
    remove: bool,
) -> ServerMessage {
    change(
        id,
        from,
        to,
        message_id,
        ChangeKind::React {
            emoji: emoji(e),
            remove,
        },
    )
}

/// The loaded message `id` of `with`.
fn message(s: &ChatState, with: &Target, id: u64) -> ChatMessage {
    s.conversations[with]
        .messages()
        .find(|m| m.id == id)
        .unwrap()
        .clone()
}

fn infos(s: &ChatState, with: &Target) -> Vec<String> {
    s.conversations[with]
        .entries
        .iter()
        .filter_map(|e| match e {
            Entry::Info { text, .. } => Some(text.clone()),
            _ => None,
        })
        .collect()
}

fn page(with: &Target, messages: Vec<ChatMessage>) -> ServerMessage {
    ServerMessage::History {
        id: 0,
        with: with.clone(),
        messages,
        more: false,
        unreadable: 0,
        cursor: None,
    }
}

/// Live changes land on the loaded message of their conversation: an
/// edit replaces the text, reactions count their users (the user's own
/// marked mine), a deletion leaves a tombstone and empties the quotes
/// of its replies; a change of a message not loaded is ignored.
#[test]
fn change_events_apply_to_the_loaded_message() {
    let mut s = ChatState::new(u("meg"), vec![room("general", 0)]);
    s.apply(ServerMessage::Message(msg(10, "bob", general(), "hi al")));
    let mut reply = msg(11, "cat", general(), "hello bob");
    reply.reply_to = Some(quote_of(&msg(10, "bob", general(), "hi al")));
    s.apply(ServerMessage::Message(reply));

    s.apply(change(
        20,
        "bob",
        general(),
        10,
        ChangeKind::Edit {
            text: text("hi all"),
        },
    ));
    let m = message(&s, &general(), 10);
    assert_eq!((m.text_str(), m.edited), ("hi all", Some(20)));

    s.apply(react_by(21, "cat", general(), 10, "👍", false));
    s.apply(react_by(22, "meg", general(), 10, "👍", false));
    s.apply(react_by(23, "meg", general(), 10, "👍", false));
    s.apply(react_by(24, "cat", general(), 10, "🎉", false));
    let r = message(&s, &general(), 10).reactions;
    assert_eq!(r.len(), 2, "in the order first used");
    assert_eq!(
        (r[0].emoji.as_str(), r[0].count, r[0].mine),
        ("👍", 2, true)
    );
    assert_eq!(r[0].users, [u("cat"), u("meg")], "each once");
    assert_eq!(
        (r[1].emoji.as_str(), r[1].count, r[1].mine),
        ("🎉", 1, false)
    );

    s.apply(react_by(25, "meg", general(), 10, "👍", true));
    s.apply(react_by(26, "cat", general(), 10, "🎉", true));
    s.apply(react_by(27, "cat", general(), 10, "🎉", true));
    let r = message(&s, &general(), 10).reactions;
    assert_eq!(r.len(), 1, "an emoji nobody uses any more goes");
    assert_eq!((r[0].count, r[0].mine), (1, false));
    assert_eq!(r[0].users, [u("cat")]);

    // Not loaded: nothing to change, and nothing is made up.
    s.apply(change(
        28,
        "bob",
        general(),
        99,
        ChangeKind::Edit { text: text("?") },
    ));
    assert!(!s.conversations[&general()].has(99));

    s.apply(change(29, "bob", general(), 10, ChangeKind::Delete));
    let m = message(&s, &general(), 10);
    assert_eq!((m.text, m.deleted), (None, Some(29)));
    assert!(m.reactions.is_empty());
    let quote = message(&s, &general(), 11).reply_to.unwrap();
    assert_eq!((quote.from, quote.text), (u("bob"), None));
    // A later change of a deleted message changes nothing.
    s.apply(react_by(30, "cat", general(), 10, "👍", false));
    assert!(message(&s, &general(), 10).reactions.is_empty());
    assert_eq!(
        s.conversations[&general()].unread,
        0,
        "changes are not news"
    );
}

/// A change of a direct conversation is filed as its messages are:
/// under the other user, whoever made it.
#[test]
fn direct_changes_are_filed_under_the_other_user() {
    let mut s = ChatState::new(u("meg"), vec![room("general", 0)]);
    let bob = Target::User(u("bob"));
    s.apply(ServerMessage::Message(msg(
        5,
        "bob",
        Target::User(u("meg")),
        "psst",
    )));
    s.apply(ServerMessage::Message(msg(6, "meg", bob.clone(), "what")));
    s.apply(change(
        7,
        "bob",
        Target::User(u("meg")),
        5,
        ChangeKind::Edit {
            text: text("psst!"),
        },
    ));
    // From the user's other device.
    s.apply(react_by(8, "meg", bob.clone(), 5, "😮", false));
    s.apply(change(9, "meg", bob.clone(), 6, ChangeKind::Delete));
    let m = message(&s, &bob, 5);
    assert_eq!(m.text_str(), "psst!");
    assert!(m.reactions[0].mine);
    assert!(message(&s, &bob, 6).deleted.is_some());
}

/// Pages carry messages as they now stand, and replace what was
/// loaded, except that nothing seen live is undone by an older page.
#[test]
fn pages_bring_edits_deletions_reactions_and_quotes() {
    let mut s = ChatState::new(u("meg"), vec![room("general", 0)]);
    s.apply(ServerMessage::Message(msg(10, "bob", general(), "hi")));
    s.apply(ServerMessage::Message(msg(11, "cat", general(), "bye")));
    s.apply(ServerMessage::Message(msg(12, "cat", general(), "later")));
    let edited = ChatMessage {
        edited: Some(50),
        reactions: vec![Reaction {
            emoji: emoji("🎉"),
            count: 12,
            users: (0..10).map(|i| u(&format!("user{i}"))).collect(),
            mine: true,
        }],
        ..msg(10, "bob", general(), "hi all")
    };
    let deleted = ChatMessage {
        text: None,
        deleted: Some(51),
        ..msg(11, "cat", general(), "x")
    };
    let reply = ChatMessage {
        reply_to: Some(Quote {
            id: 11,
            from: u("cat"),
            text: None,
        }),
        ..msg(13, "bob", general(), "why?")
    };
    s.apply(page(&general(), vec![reply, deleted, edited]));
    let m = message(&s, &general(), 10);
    assert_eq!((m.text_str(), m.edited), ("hi all", Some(50)));
    assert_eq!(m.reactions[0].count, 12);
    assert!(message(&s, &general(), 11).deleted.is_some());
    let q = message(&s, &general(), 13).reply_to.unwrap();
    assert_eq!((q.id, q.text), (11, None));

    // Someone not named (of the 12) takes theirs back; the user too.
    s.apply(react_by(60, "zed", general(), 10, "🎉", true));
    s.apply(react_by(61, "meg", general(), 10, "🎉", true));
    let r = &message(&s, &general(), 10).reactions[0];
    assert_eq!((r.count, r.mine), (10, false));

    // Deleted and edited live since: an older page undoes neither.
    s.apply(change(70, "cat", general(), 12, ChangeKind::Delete));
    s.apply(change(
        71,
        "bob",
        general(),
        10,
        ChangeKind::Edit {
            text: text("newest"),
        },
    ));
    s.apply(page(
        &general(),
        vec![
            msg(12, "cat", general(), "later"),
            edited_at(10, "hi all", 50),
        ],
    ));
    assert!(message(&s, &general(), 12).deleted.is_some());
    assert_eq!(message(&s, &general(), 10).text_str(), "newest");
}

fn edited_at(id: u64, t: &str, at: u64) -> ChatMessage {
    ChatMessage {
        edited: Some(at),
        ..msg(id, "bob", general(), t)
    }
}

/// The only change request in the outbox, with its request id.
fn asked(s: &mut ChatState) -> (crate::state::RequestId, Request) {
    let mut out: Vec<_> = s
        .take_outbox()
        .into_iter()
        .filter(|(_, r)| {
            matches!(
                r,
                Request::Edit { .. } | Request::Delete { .. } | Request::React { .. }
            )
        })
        .collect();
    assert_eq!(out.len(), 1, "{out:?}");
    out.pop().unwrap()
}

fn ack(client_id: &ClientMsgId, ts: u64) -> ServerMessage {
    ServerMessage::Ack {
        id: 0,
        client_id: client_id.clone(),
        message_id: ts,
        ts,
    }
}

/// The user's edit is shown at once, stored on its ack; a refused one
/// is no longer shown and its conversation says why, wherever the
/// user is.
#[test]
fn own_edits_show_at_once_and_are_acked_or_refused() {
    let rust = Target::Room(RoomName::new("rust").unwrap());
    let mut s = ChatState::new(u("meg"), vec![room("general", 0), room("rust", 0)]);
    s.apply(ServerMessage::Message(msg(10, "meg", rust.clone(), "helo")));
    s.apply(ServerMessage::Message(msg(11, "bob", rust.clone(), "yo")));
    let cid = s.edit(rust.clone(), 10, text("hello"));
    let (id, request) = asked(&mut s);
    assert!(matches!(
        &request,
        Request::Edit { client_id, with, message_id: 10, text }
            if *client_id == cid && *with == rust && text.as_str() == "hello"
    ));
    let stored = message(&s, &rust, 10);
    assert_eq!(stored.text_str(), "helo", "stored as the server has it");
    let shown = s.shown(&stored);
    assert_eq!((shown.text_str(), shown.edited.is_some()), ("hello", true));
    s.on_reply(id, ack(&cid, 500));
    assert!(s.pending_changes.is_empty());
    let m = message(&s, &rust, 10);
    assert_eq!((m.text_str(), m.edited), ("hello", Some(500)));

    // Refused while the user looks at another conversation.
    s.open(general());
    let cid = s.delete(rust.clone(), 11);
    let (id, _) = asked(&mut s);
    assert!(s.shown(&message(&s, &rust, 11)).deleted.is_some());
    s.on_reply(
        id,
        ServerMessage::error(
            Some(0),
            ErrorCode::NotAuthor,
            "only its author can edit or delete a message",
        ),
    );
    assert!(!s.pending_changes.iter().any(|p| p.client_id == cid));
    assert!(s.shown(&message(&s, &rust, 11)).deleted.is_none());
    assert_eq!(
        infos(&s, &rust),
        ["Could not delete your message: only its author can edit or delete a message."]
    );
    assert!(s.conversations[&general()].entries.is_empty());

    // Rate limited, and an unknown message: each said once, plainly.
    s.react(rust.clone(), 11, emoji("👍"), false);
    let (id, _) = asked(&mut s);
    s.on_reply(
        id,
        ServerMessage::error(Some(0), ErrorCode::RateLimited, "slow down"),
    );
    s.react(rust.clone(), 99, emoji("👍"), true);
    let (id, _) = asked(&mut s);
    s.on_reply(
        id,
        ServerMessage::error(Some(0), ErrorCode::NoSuchMessage, "no message 99"),
    );
    assert_eq!(
        infos(&s, &rust)[1..],
        [
            "Could not add your reaction: slow down.",
            "Could not take back your reaction: no message 99."
        ]
    );
    assert!(s.pending_changes.is_empty());
}

/// Reactions of the user's show at once and toggle back.
#[test]
fn own_reactions_show_at_once_and_count_once() {
    let mut s = ChatState::new(u("meg"), vec![room("general", 0)]);
    s.apply(page(
        &general(),
        vec![ChatMessage {
            reactions: vec![Reaction {
                emoji: emoji("👍"),
                count: 1,
                users: vec![u("bob")],
                mine: false,
            }],
            ..msg(10, "bob", general(), "lunch?")
        }],
    ));
    let cid = s.react(general(), 10, emoji("👍"), false);
    let (id, request) = asked(&mut s);
    assert!(matches!(request, Request::React { remove: false, .. }));
    let r = s.shown(&message(&s, &general(), 10)).reactions[0].clone();
    assert_eq!((r.count, r.mine), (2, true));
    s.on_reply(id, ack(&cid, 20));
    let r = &message(&s, &general(), 10).reactions[0];
    assert_eq!((r.count, r.mine), (2, true));
    assert_eq!(r.users, [u("bob"), u("meg")]);

    let cid = s.react(general(), 10, emoji("👍"), true);
    let (id, request) = asked(&mut s);
    assert!(matches!(request, Request::React { remove: true, .. }));
    assert_eq!(s.shown(&message(&s, &general(), 10)).reactions[0].count, 1);
    s.on_reply(id, ack(&cid, 21));
    let r = &message(&s, &general(), 10).reactions[0];
    assert_eq!((r.count, r.mine), (1, false));
}

/// A change whose connection dropped is re-sent once after the next
/// login, under its client id; when the session ends for good it is
/// dropped and its conversation says so.
#[test]
fn interrupted_changes_are_resent_after_login_or_dropped_at_the_end() {
    let mut s = ChatState::new(u("meg"), vec![room("general", 0)]);
    s.apply(ServerMessage::Message(msg(10, "meg", general(), "hi")));
    let cid = s.edit(general(), 10, text("hi all"));
    let (id, _) = asked(&mut s);
    s.on_unanswered(&[id]);
    assert_eq!(s.shown(&message(&s, &general(), 10)).text_str(), "hi all");
    s.logged_in_again(cove_common::client::Welcome {
        session: cove_common::proto::SessionInfo {
            username: u("meg"),
            server_time: 0,
            max_file_bytes: 0,
        },
        rooms: vec![room("general", 0)],
        directs: Vec::new(),
        direct_unread: Vec::new(),
        invitations: Vec::new(),
    });
    let (id, request) = asked(&mut s);
    assert!(matches!(request, Request::Edit { client_id, .. } if client_id == cid));
    s.on_unanswered(&[id]);
    s.ended("the server's key changed".into());
    assert!(s.pending_changes.is_empty());
    assert_eq!(
        infos(&s, &general()),
        ["Could not edit your message: the server's key changed."]
    );
    assert_eq!(message(&s, &general(), 10).text_str(), "hi");
    // Made afterwards: never sent.
    s.delete(general(), 10);
    assert!(s.take_outbox().is_empty());
    assert_eq!(infos(&s, &general()).len(), 2);
}

/// A reply carries the id of its original, and once stored shows the
/// quote; Up edits the user's newest message still there.
#[test]
fn replies_carry_their_quote_and_up_finds_the_last_own_message() {
    let mut s = ChatState::new(u("meg"), vec![room("general", 0)]);
    let long = "a".repeat(150);
    s.apply(ServerMessage::Message(msg(10, "bob", general(), &long)));
    s.apply(ServerMessage::Message(msg(11, "meg", general(), "mine")));
    let original = message(&s, &general(), 10);
    let quote = quote_of(&original);
    assert_eq!(
        quote.text.as_ref().unwrap().chars().count(),
        QUOTE_MAX_CHARS
    );
    let cid = s.reply(general(), text("agreed"), quote.clone());
    let sent: Vec<_> = s.take_outbox();
    assert!(matches!(
        &sent[..],
        [(
            _,
            Request::Send {
                reply_to: Some(10),
                ..
            }
        )]
    ));
    assert_eq!(s.pending[0].reply_to.as_ref(), Some(&quote));
    s.apply(ack(&cid, 12));
    assert_eq!(message(&s, &general(), 12).reply_to, Some(quote));
    assert_eq!(s.last_own_message(&general()).unwrap().id, 12);
    s.delete(general(), 12);
    assert_eq!(
        s.last_own_message(&general()).unwrap().id,
        11,
        "one being deleted is skipped"
    );
}
