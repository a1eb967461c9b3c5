//! Edits, deletions, replies and reactions through a real server (protocol
//! v5): each delivered live to the other members and the author's other
//! sessions, stored, and applied to history pages and searches, also after
//! a restart (when the server no longer remembers the message and finds it
//! in the user's history); the typed errors for someone else's message, a
//! message never received, an unknown one and one emoji too many; and
//! re-sent changes that do nothing twice.
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use cove_common::client::{Events, Session};
use cove_common::limits::REACTIONS_PER_MESSAGE_MAX;
use cove_common::proto::{Change, ChangeKind, ChatMessage};
use cove_common::{
    ClientMsgId, Emoji, ErrorCode, MessageText, Request, RoomName, SearchText, ServerMessage,
    Target,
};
use support::*;

fn general() -> Target {
    Target::Room(RoomName::general())
}
fn cid(s: &str) -> ClientMsgId {
    ClientMsgId::new(s).unwrap()
}
fn text(s: &str) -> MessageText {
    MessageText::new(s).unwrap()
}
fn emoji(s: &str) -> Emoji {
    Emoji::new(s).unwrap()
}

/// Sends `text` to `to` and returns its message id once acked.
async fn say(s: &Session, ev: &mut Events, to: Target, t: &str, c: &str) -> u64 {
    say_acked(s, ev, to, t, c).await
}

/// Sends a request answered by `ack`: the acked id, or the error code.
async fn ask(s: &Session, ev: &mut Events, request: Request) -> Result<u64, ErrorCode> {
    let id = s.send(request).await.unwrap();
    match expect(ev, "ack or error", |m| m.answers() == Some(id)).await {
        ServerMessage::Ack { message_id, .. } => Ok(message_id),
        ServerMessage::Error { code, .. } => Err(code),
        other => panic!("{other:?}"),
    }
}

fn edit(c: &str, with: Target, message_id: u64, t: &str) -> Request {
    Request::Edit {
        client_id: cid(c),
        with,
        message_id,
        text: text(t),
    }
}
fn delete(c: &str, with: Target, message_id: u64) -> Request {
    Request::Delete {
        client_id: cid(c),
        with,
        message_id,
    }
}
fn react(c: &str, message_id: u64, e: &str, remove: bool) -> Request {
    Request::React {
        client_id: cid(c),
        with: general(),
        message_id,
        emoji: emoji(e),
        remove,
    }
}

/// The next `change` pushed to this session.
async fn next_change(ev: &mut Events) -> Change {
    match expect(ev, "a change", |m| matches!(m, ServerMessage::Change(_))).await {
        ServerMessage::Change(c) => c,
        _ => unreachable!(),
    }
}

/// Message `id` as a history page of `with` returns it.
async fn in_history(s: &Session, ev: &mut Events, with: Target, id: u64) -> ChatMessage {
    let (messages, _) = history_page(s, ev, with, Some(id + 1), 1).await;
    let m = messages
        .into_iter()
        .next()
        .expect("the message is in history");
    assert_eq!(m.id, id);
    m
}

async fn search_ids(s: &Session, ev: &mut Events, t: &str) -> Vec<u64> {
    let id = s
        .send(Request::Search {
            text: SearchText::new(t).unwrap(),
            with: None,
            limit: None,
            cursor: None,
        })
        .await
        .unwrap();
    match expect(ev, "search", |m| m.answers() == Some(id)).await {
        ServerMessage::Search { messages, .. } => messages.iter().map(|m| m.id).collect(),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn an_edit_reaches_everyone_and_every_page_also_after_a_restart() {
    let mut srv = TestServer::start().await;
    let (alice, mut a_ev, _) = register(&srv.addr, "alice").await;
    let (_alice2, mut a2_ev, _) = login(&srv.addr, "alice").await;
    let (bob, mut b_ev, _) = register(&srv.addr, "bob").await;
    let m = say(&alice, &mut a_ev, general(), "helo all", "m1").await;

    let change_id = ask(&alice, &mut a_ev, edit("e1", general(), m, "hello all"))
        .await
        .unwrap();
    for ev in [&mut b_ev, &mut a2_ev] {
        let c = next_change(ev).await;
        assert_eq!(
            (c.id, c.message_id, c.from.as_str()),
            (change_id, m, "alice")
        );
        assert_eq!(c.to, general());
        assert!(matches!(c.what, ChangeKind::Edit { ref text } if text.as_str() == "hello all"));
    }
    for (s, ev) in [(&alice, &mut a_ev), (&bob, &mut b_ev)] {
        let got = in_history(s, ev, general(), m).await;
        assert_eq!(got.text_str(), "hello all");
        assert!(got.edited.is_some());
    }
    // Search finds the new text, not the old.
    assert_eq!(search_ids(&bob, &mut b_ev, "hello all").await, [m]);
    assert!(search_ids(&bob, &mut b_ev, "helo").await.is_empty());

    srv.restart().await;
    let (bob, mut b_ev, _) = login(&srv.addr, "bob").await;
    assert_eq!(
        in_history(&bob, &mut b_ev, general(), m).await.text_str(),
        "hello all"
    );
    // The server forgot its recent messages: alice's next edit finds the
    // message in her own history.
    let (alice, mut a_ev, _) = login(&srv.addr, "alice").await;
    ask(&alice, &mut a_ev, edit("e2", general(), m, "hello, all"))
        .await
        .unwrap();
    let c = next_change(&mut b_ev).await;
    assert_eq!(c.message_id, m);
    assert_eq!(
        in_history(&bob, &mut b_ev, general(), m).await.text_str(),
        "hello, all"
    );
}

#[tokio::test]
async fn only_the_author_edits_or_deletes() {
    let srv = TestServer::start().await;
    let (alice, mut a_ev, _) = register(&srv.addr, "alice").await;
    let (bob, mut b_ev, _) = register(&srv.addr, "bob").await;
    let m = say(&alice, &mut a_ev, general(), "mine", "m1").await;
    let e = ask(&bob, &mut b_ev, edit("e1", general(), m, "yours")).await;
    assert_eq!(e, Err(ErrorCode::NotAuthor));
    let d = ask(&bob, &mut b_ev, delete("d1", general(), m)).await;
    assert_eq!(d, Err(ErrorCode::NotAuthor));
    assert_eq!(
        in_history(&bob, &mut b_ev, general(), m).await.text_str(),
        "mine"
    );
    // A message that does not exist, or in another conversation.
    let e = ask(&alice, &mut a_ev, edit("e2", general(), m + 1_000_000, "x")).await;
    assert_eq!(e, Err(ErrorCode::NoSuchMessage));
    let e = ask(
        &alice,
        &mut a_ev,
        edit("e3", Target::User(user("bob")), m, "x"),
    )
    .await;
    assert_eq!(e, Err(ErrorCode::NoSuchMessage));
}

#[tokio::test]
async fn a_deleted_message_leaves_a_tombstone_and_no_text_anywhere() {
    let mut srv = TestServer::start().await;
    let (alice, mut a_ev, _) = register(&srv.addr, "alice").await;
    let (bob, mut b_ev, _) = register(&srv.addr, "bob").await;
    let dm = Target::User(user("bob"));
    let m = say(
        &alice,
        &mut a_ev,
        dm.clone(),
        "the password is hunter2",
        "m1",
    )
    .await;
    let reply = {
        let id = bob
            .send(Request::Send {
                client_id: cid("r1"),
                to: Target::User(user("alice")),
                text: Some(text("got it")),
                reply_to: Some(m),
                file: None,
            })
            .await
            .unwrap();
        acked_message_id(&mut b_ev, id).await
    };
    ask(&alice, &mut a_ev, delete("d1", dm.clone(), m))
        .await
        .unwrap();
    let c = next_change(&mut b_ev).await;
    assert!(matches!(c.what, ChangeKind::Delete));
    assert_eq!(c.to, dm, "named as alice addressed it");

    srv.restart().await;
    let (bob, mut b_ev, _) = login(&srv.addr, "bob").await;
    let got = in_history(&bob, &mut b_ev, Target::User(user("alice")), m).await;
    assert_eq!(got.text, None);
    assert!(got.deleted.is_some());
    assert!(search_ids(&bob, &mut b_ev, "hunter2").await.is_empty());
    // The reply stays; its quote of the deleted message loses its text.
    let r = in_history(&bob, &mut b_ev, Target::User(user("alice")), reply).await;
    let q = r.reply_to.unwrap();
    assert_eq!((q.id, q.text), (m, None));
    // A deleted message cannot be changed, reacted to or replied to.
    let (alice, mut a_ev, _) = login(&srv.addr, "alice").await;
    let e = ask(&alice, &mut a_ev, edit("e1", dm.clone(), m, "x")).await;
    assert_eq!(e, Err(ErrorCode::NoSuchMessage));
    let id = alice
        .send(Request::Send {
            client_id: cid("r2"),
            to: dm,
            text: Some(text("?")),
            reply_to: Some(m),
            file: None,
        })
        .await
        .unwrap();
    let e = expect(&mut a_ev, "error", |x| x.answers() == Some(id)).await;
    assert!(matches!(
        e,
        ServerMessage::Error {
            code: ErrorCode::NoSuchMessage,
            ..
        }
    ));
}

#[tokio::test]
async fn a_reply_quotes_its_original_live_and_in_history() {
    let srv = TestServer::start().await;
    let (alice, mut a_ev, _) = register(&srv.addr, "alice").await;
    let (bob, mut b_ev, _) = register(&srv.addr, "bob").await;
    let long = format!("lunch at noon? {}", "x".repeat(200));
    let m = say(&alice, &mut a_ev, general(), &long, "m1").await;
    let id = bob
        .send(Request::Send {
            client_id: cid("r1"),
            to: general(),
            text: Some(text("yes")),
            reply_to: Some(m),
            file: None,
        })
        .await
        .unwrap();
    let reply = acked_message_id(&mut b_ev, id).await;
    let live = expect(
        &mut a_ev,
        "the reply",
        |x| matches!(x, ServerMessage::Message(c) if c.id == reply),
    )
    .await;
    let ServerMessage::Message(live) = live else {
        unreachable!()
    };
    let q = live.reply_to.unwrap();
    assert_eq!((q.id, q.from.as_str()), (m, "alice"));
    let quoted = q.text.unwrap();
    assert_eq!(quoted.chars().count(), cove_common::limits::QUOTE_MAX_CHARS);
    assert!(long.starts_with(&quoted));
    let stored = in_history(&alice, &mut a_ev, general(), reply).await;
    assert_eq!(stored.reply_to.unwrap().text.unwrap(), quoted);
}

#[tokio::test]
async fn reactions_count_each_user_once_and_resends_do_nothing_twice() {
    let srv = TestServer::start().await;
    let (alice, mut a_ev, _) = register(&srv.addr, "alice").await;
    let (bob, mut b_ev, _) = register(&srv.addr, "bob").await;
    let (carol, mut c_ev, _) = register(&srv.addr, "carol").await;
    let m = say(&alice, &mut a_ev, general(), "ship it", "m1").await;

    let first = ask(&bob, &mut b_ev, react("r1", m, "👍", false))
        .await
        .unwrap();
    let again = ask(&bob, &mut b_ev, react("r1", m, "👍", false))
        .await
        .unwrap();
    assert_eq!(first, again, "a resend gets the first ack");
    ask(&bob, &mut b_ev, react("r2", m, "👍", false))
        .await
        .unwrap();
    ask(&carol, &mut c_ev, react("r1", m, "👍", false))
        .await
        .unwrap();
    ask(&carol, &mut c_ev, react("r2", m, "🎉", false))
        .await
        .unwrap();
    ask(&carol, &mut c_ev, react("r3", m, "🎉", true))
        .await
        .unwrap();
    // Taking back what is not there changes nothing either.
    ask(&carol, &mut c_ev, react("r4", m, "😮", true))
        .await
        .unwrap();
    // Alice saw four changes: bob's second 👍 and carol's 😮 changed
    // nothing and went to nobody.
    let mut seen = Vec::new();
    for _ in 0..4 {
        let c = next_change(&mut a_ev).await;
        let ChangeKind::React { emoji, remove } = c.what else {
            panic!("{c:?}")
        };
        seen.push((c.from.to_string(), emoji.to_string(), remove));
    }
    let want = [
        ("bob", "👍", false),
        ("carol", "👍", false),
        ("carol", "🎉", false),
        ("carol", "🎉", true),
    ]
    .map(|(a, b, c)| (a.to_owned(), b.to_owned(), c));
    assert_eq!(seen, want);
    let id = alice.send(Request::Ping).await.unwrap();
    let next = expect(&mut a_ev, "pong or a change", |x| {
        matches!(x, ServerMessage::Change(_)) || x.answers() == Some(id)
    })
    .await;
    assert!(matches!(next, ServerMessage::Pong { .. }), "{next:?}");

    let got = in_history(&alice, &mut a_ev, general(), m).await;
    assert_eq!(got.reactions.len(), 1, "{:?}", got.reactions);
    let r = &got.reactions[0];
    assert_eq!((r.emoji.as_str(), r.count, r.mine), ("👍", 2, false));
    assert_eq!(r.users, [user("bob"), user("carol")]);
    let seen_by_bob = in_history(&bob, &mut b_ev, general(), m).await;
    assert!(seen_by_bob.reactions[0].mine);
}

#[tokio::test]
async fn a_message_holds_at_most_twenty_different_emojis() {
    let srv = TestServer::start().await;
    let (alice, mut a_ev, _) = register(&srv.addr, "alice").await;
    let m = say(&alice, &mut a_ev, general(), "vote", "m1").await;
    let many = [
        "😀", "😁", "😂", "🤣", "😃", "😄", "😅", "😆", "😉", "😊", "😋", "😎", "😍", "😘", "🥰",
        "😗", "😙", "😚", "🙂", "🤗", "🤩",
    ];
    assert_eq!(many.len(), REACTIONS_PER_MESSAGE_MAX + 1);
    for (i, e) in many.iter().take(REACTIONS_PER_MESSAGE_MAX).enumerate() {
        ask(&alice, &mut a_ev, react(&format!("r{i}"), m, e, false))
            .await
            .unwrap();
    }
    let e = ask(&alice, &mut a_ev, react("late", m, many[20], false)).await;
    assert_eq!(e, Err(ErrorCode::BadRequest));
    // One already there still works.
    ask(&alice, &mut a_ev, react("again", m, many[0], false))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_member_who_joined_later_cannot_touch_or_quote_what_came_before() {
    let srv = TestServer::start().await;
    let (alice, mut a_ev, _) = register(&srv.addr, "alice").await;
    let rust = Target::Room(RoomName::new("rust").unwrap());
    let join = |s: &Session| {
        let s = s.clone();
        async move {
            s.send(Request::Join {
                room: RoomName::new("rust").unwrap(),
            })
            .await
            .unwrap()
        }
    };
    let j = join(&alice).await;
    expect(&mut a_ev, "joined", |m| m.answers() == Some(j)).await;
    let secret = say(&alice, &mut a_ev, rust.clone(), "before bob came", "m1").await;
    let (bob, mut b_ev, _) = register(&srv.addr, "bob").await;
    let j = join(&bob).await;
    expect(&mut b_ev, "joined", |m| m.answers() == Some(j)).await;
    let r = Request::React {
        client_id: cid("r1"),
        with: rust.clone(),
        message_id: secret,
        emoji: emoji("👀"),
        remove: false,
    };
    assert_eq!(ask(&bob, &mut b_ev, r).await, Err(ErrorCode::NoSuchMessage));
    let id = bob
        .send(Request::Send {
            client_id: cid("q1"),
            to: rust.clone(),
            text: Some(text("what did you say?")),
            reply_to: Some(secret),
            file: None,
        })
        .await
        .unwrap();
    let e = expect(&mut b_ev, "error", |x| x.answers() == Some(id)).await;
    assert!(matches!(
        e,
        ServerMessage::Error {
            code: ErrorCode::NoSuchMessage,
            ..
        }
    ));
    // What came after the join is fair game.
    let later = say(&alice, &mut a_ev, rust.clone(), "welcome bob", "m2").await;
    let r = Request::React {
        client_id: cid("r2"),
        with: rust,
        message_id: later,
        emoji: emoji("👋"),
        remove: false,
    };
    ask(&bob, &mut b_ev, r).await.unwrap();
}
