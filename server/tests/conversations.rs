//! Typing indicators and read markers (protocol v4) end to end: a real
//! server, real sessions, restarts.
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use std::time::Duration;

use cove_common::client::{Event, Events, Session};
use cove_common::proto::{DirectUnread, RoomInfo};
use cove_common::{ErrorCode, Request, RoomName, ServerMessage, Target};
use support::*;

fn room(name: &str) -> Target {
    Target::Room(RoomName::new(name).unwrap())
}

fn general() -> Target {
    Target::Room(RoomName::general())
}

fn unread_of(rooms: &[RoomInfo], name: &str) -> u32 {
    rooms
        .iter()
        .find(|r| r.name.as_str() == name)
        .unwrap_or_else(|| panic!("no room {name} in {rooms:?}"))
        .unread
}

/// Sends `text` to `to` and returns the stored message's id.
async fn say(session: &Session, events: &mut Events, to: Target, text: &str) -> u64 {
    let client_id = format!("c-{}", text.replace(' ', "_"));
    say_acked(session, events, to, text, &client_id).await
}

/// Every message before the first one matching `pred` (which is consumed).
async fn before<F>(events: &mut Events, what: &str, mut pred: F) -> Vec<ServerMessage>
where
    F: FnMut(&ServerMessage) -> bool,
{
    let mut seen = Vec::new();
    loop {
        match tokio::time::timeout(WAIT, events.recv()).await {
            Ok(Some(Event::Message(m))) if pred(&m) => return seen,
            Ok(Some(Event::Message(m))) => seen.push(m),
            other => panic!("waiting for {what}: {other:?}"),
        }
    }
}

fn is_typing(m: &ServerMessage) -> bool {
    matches!(m, ServerMessage::Typing { .. })
}

/// Waits for the answer to request `id` (a reply or an error).
async fn answer(events: &mut Events, id: u64) -> ServerMessage {
    expect(events, "an answer", |m| m.answers() == Some(id)).await
}

async fn join(session: &Session, events: &mut Events, name: &str) {
    let id = session
        .send(Request::Join {
            room: RoomName::new(name).unwrap(),
        })
        .await
        .unwrap();
    answer(events, id).await;
}

async fn read(session: &Session, events: &mut Events, with: Target, up_to: u64) -> (u64, u32) {
    let id = session.send(Request::Read { with, up_to }).await.unwrap();
    match answer(events, id).await {
        ServerMessage::Read {
            id: Some(_),
            up_to,
            unread,
            ..
        } => (up_to, unread),
        other => panic!("read answered with {other:?}"),
    }
}

/// Alice types in #den: Bob (a member) sees it, with her name; neither
/// Alice's other session nor Carol (not a member) does. In a direct
/// conversation Bob sees it under his conversation with Alice.
#[tokio::test]
async fn typing_reaches_the_other_members_only() {
    let s = TestServer::start().await;
    let (alice, mut alice_ev, _) = register(&s.addr, "alice").await;
    let (_alice2, mut alice2_ev, _) = login(&s.addr, "alice").await;
    let (bob, mut bob_ev, _) = register(&s.addr, "bob").await;
    let (_carol, mut carol_ev, _) = register(&s.addr, "carol").await;
    join(&alice, &mut alice_ev, "den").await;
    join(&bob, &mut bob_ev, "den").await;

    alice
        .send(Request::Typing { with: room("den") })
        .await
        .unwrap();
    let m = expect(&mut bob_ev, "alice typing", is_typing).await;
    let ServerMessage::Typing { with, user: who } = m else {
        unreachable!()
    };
    assert_eq!((with, who.as_str()), (room("den"), "alice"));

    // A message to everyone marks the end of what each one got.
    say(&alice, &mut alice_ev, general(), "barrier").await;
    let is_barrier =
        |m: &ServerMessage| matches!(m, ServerMessage::Message(c) if c.text_str() == "barrier");
    let carol_got = before(&mut carol_ev, "the barrier", is_barrier).await;
    assert!(
        !carol_got.iter().any(is_typing),
        "carol is not in #den: {carol_got:?}"
    );
    let alice2_got = before(&mut alice2_ev, "the barrier", is_barrier).await;
    assert!(
        !alice2_got.iter().any(is_typing),
        "never one's own typing: {alice2_got:?}"
    );

    alice
        .send(Request::Typing {
            with: Target::User(user("BOB")),
        })
        .await
        .unwrap();
    let m = expect(&mut bob_ev, "alice typing to bob", is_typing).await;
    let ServerMessage::Typing { with, user: who } = m else {
        unreachable!()
    };
    assert_eq!(with, Target::User(user("alice")));
    assert_eq!(who.as_str(), "alice");
}

/// A second `typing` for one conversation within 2 s is refused with
/// `rate_limited` (echoing its id) and not passed on; another conversation
/// is not affected, and after 2 s the first is accepted again. Typing where
/// one may not gets the usual errors.
#[tokio::test]
async fn typing_is_rate_limited_per_conversation() {
    let s = TestServer::start().await;
    let (alice, mut alice_ev, _) = register(&s.addr, "alice").await;
    let (_bob, mut bob_ev, _) = register(&s.addr, "bob").await;

    alice
        .send(Request::Typing { with: general() })
        .await
        .unwrap();
    expect(&mut bob_ev, "first typing", is_typing).await;
    let again = alice
        .send(Request::Typing { with: general() })
        .await
        .unwrap();
    match answer(&mut alice_ev, again).await {
        ServerMessage::Error { code, .. } => assert_eq!(code, ErrorCode::RateLimited),
        other => panic!("a flood is refused, not {other:?}"),
    }
    // Another conversation has its own pace.
    alice
        .send(Request::Typing {
            with: Target::User(user("bob")),
        })
        .await
        .unwrap();
    let m = expect(&mut bob_ev, "typing in the direct conversation", is_typing).await;
    assert!(
        matches!(
            m,
            ServerMessage::Typing {
                with: Target::User(_),
                ..
            }
        ),
        "{m:?}"
    );

    for (with, code) in [
        (room("nowhere"), ErrorCode::NoSuchRoom),
        (Target::User(user("nobody")), ErrorCode::NoSuchUser),
    ] {
        let id = alice.send(Request::Typing { with }).await.unwrap();
        match answer(&mut alice_ev, id).await {
            ServerMessage::Error { code: c, .. } => assert_eq!(c, code),
            other => panic!("{other:?}"),
        }
    }

    tokio::time::sleep(Duration::from_millis(2_100)).await;
    alice
        .send(Request::Typing { with: general() })
        .await
        .unwrap();
    let m = expect(&mut bob_ev, "typing after the interval", is_typing).await;
    assert!(matches!(m, ServerMessage::Typing { with, .. } if with == general()));
}

/// Typing leaves nothing in anyone's history, before or after a restart.
#[tokio::test]
async fn typing_is_not_stored() {
    let mut s = TestServer::start().await;
    let (alice, _alice_ev, _) = register(&s.addr, "alice").await;
    let (bob, mut bob_ev, _) = register(&s.addr, "bob").await;
    alice
        .send(Request::Typing {
            with: Target::User(user("bob")),
        })
        .await
        .unwrap();
    expect(&mut bob_ev, "typing", is_typing).await;
    let (page, _) = history_page(&bob, &mut bob_ev, Target::User(user("alice")), None, 50).await;
    assert!(page.is_empty(), "{page:?}");
    drop((alice, bob, bob_ev));
    s.restart().await;
    let (bob, mut bob_ev, welcome) = login(&s.addr, "bob").await;
    assert!(welcome.directs.is_empty(), "typing makes no conversation");
    let (page, _) = history_page(&bob, &mut bob_ev, Target::User(user("alice")), None, 50).await;
    assert!(page.is_empty(), "{page:?}");
}

/// Bob was away while Alice wrote 5 messages in #general and 2 to him: his
/// welcome counts them; he reads 3 of #general and the direct ones; after
/// a restart his welcome still says 2 and 0, and so does the room list.
#[tokio::test]
async fn read_markers_and_unread_survive_a_restart() {
    let mut s = TestServer::start().await;
    let (alice, mut alice_ev, _) = register(&s.addr, "alice").await;
    drop(register(&s.addr, "bob").await);
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(say(&alice, &mut alice_ev, general(), &format!("m{i}")).await);
    }
    let dm = Target::User(user("bob"));
    say(&alice, &mut alice_ev, dm.clone(), "d1").await;
    let last_dm = say(&alice, &mut alice_ev, dm, "d2").await;

    let (bob, mut bob_ev, welcome) = login(&s.addr, "bob").await;
    assert_eq!(unread_of(&welcome.rooms, "general"), 5);
    assert_eq!(
        welcome.direct_unread,
        vec![DirectUnread {
            user: user("alice"),
            unread: 2,
            mentions: 0
        }]
    );
    // Alice's own messages are not unread to her.
    let (_a2, _a2_ev, alice_welcome) = login(&s.addr, "alice").await;
    assert_eq!(unread_of(&alice_welcome.rooms, "general"), 0);
    assert!(alice_welcome.direct_unread.is_empty());

    assert_eq!(
        read(&bob, &mut bob_ev, general(), ids[2]).await,
        (ids[2], 2)
    );
    let alice_dm = Target::User(user("Alice"));
    assert_eq!(
        read(&bob, &mut bob_ev, alice_dm, last_dm).await,
        (last_dm, 0)
    );
    drop((alice, alice_ev, bob, bob_ev, _a2, _a2_ev));

    s.restart().await;
    let (bob, mut bob_ev, welcome) = login(&s.addr, "bob").await;
    assert_eq!(unread_of(&welcome.rooms, "general"), 2);
    assert!(
        welcome.direct_unread.is_empty(),
        "{:?}",
        welcome.direct_unread
    );
    let id = bob.send(Request::ListRooms).await.unwrap();
    let ServerMessage::Rooms { rooms, .. } = answer(&mut bob_ev, id).await else {
        panic!("rooms");
    };
    assert_eq!(unread_of(&rooms, "general"), 2);
    // Counting goes on after the restart.
    let (alice, mut alice_ev, _) = login(&s.addr, "alice").await;
    let newest = say(&alice, &mut alice_ev, general(), "after").await;
    assert!(newest > ids[4]);
    // A message from before the restart is not remembered with its place:
    // the marker moves, the count stays (too high, never too low).
    assert_eq!(
        read(&bob, &mut bob_ev, general(), ids[3]).await,
        (ids[3], 3)
    );
    assert_eq!(
        read(&bob, &mut bob_ev, general(), newest).await,
        (newest, 0)
    );
}

/// A marker never moves back: reading an older message leaves it, and
/// the user's other sessions hear nothing of it. An id beyond the newest
/// message counts as the newest.
#[tokio::test]
async fn read_markers_only_move_forward() {
    let s = TestServer::start().await;
    let (alice, mut alice_ev, _) = register(&s.addr, "alice").await;
    let (bob, mut bob_ev, _) = register(&s.addr, "bob").await;
    let (_bob2, mut bob2_ev, _) = login(&s.addr, "bob").await;
    let first = say(&alice, &mut alice_ev, general(), "one").await;
    let second = say(&alice, &mut alice_ev, general(), "two").await;
    assert_eq!(
        read(&bob, &mut bob_ev, general(), second).await,
        (second, 0)
    );
    expect(&mut bob2_ev, "the forward read", |m| {
        matches!(m, ServerMessage::Read { .. })
    })
    .await;
    assert_eq!(read(&bob, &mut bob_ev, general(), first).await, (second, 0));
    assert_eq!(
        read(&bob, &mut bob_ev, general(), u64::MAX).await,
        (second, 0)
    );
    say(&alice, &mut alice_ev, general(), "barrier").await;
    let got = before(
        &mut bob2_ev,
        "the barrier",
        |m| matches!(m, ServerMessage::Message(c) if c.text_str() == "barrier"),
    )
    .await;
    assert!(
        !got.iter().any(|m| matches!(m, ServerMessage::Read { .. })),
        "a marker that did not move is not pushed: {got:?}"
    );
    // Where one may not read.
    let id = bob
        .send(Request::Read {
            with: room("secret"),
            up_to: 1,
        })
        .await
        .unwrap();
    assert!(matches!(
        answer(&mut bob_ev, id).await,
        ServerMessage::Error {
            code: ErrorCode::NoSuchRoom,
            ..
        }
    ));
}

/// Bob reads on one session; his other session gets the marker and the
/// count at once (without a request id); Alice's sessions get nothing.
#[tokio::test]
async fn read_markers_sync_to_the_users_other_sessions() {
    let s = TestServer::start().await;
    let (alice, mut alice_ev, _) = register(&s.addr, "alice").await;
    let (bob, mut bob_ev, _) = register(&s.addr, "bob").await;
    let (_bob2, mut bob2_ev, _) = login(&s.addr, "bob").await;
    join(&alice, &mut alice_ev, "den").await;
    join(&bob, &mut bob_ev, "den").await;
    let a = say(&alice, &mut alice_ev, room("den"), "a").await;
    say(&alice, &mut alice_ev, room("den"), "b").await;
    assert_eq!(read(&bob, &mut bob_ev, room("den"), a).await, (a, 1));
    let m = expect(&mut bob2_ev, "the read event", |m| {
        matches!(m, ServerMessage::Read { .. })
    })
    .await;
    assert!(
        matches!(&m, ServerMessage::Read { id: None, with, up_to, unread: 1, .. } if *with == room("den") && *up_to == a),
        "{m:?}"
    );
    say(&bob, &mut bob_ev, general(), "barrier").await;
    let got = before(
        &mut alice_ev,
        "the barrier",
        |m| matches!(m, ServerMessage::Message(c) if c.text_str() == "barrier"),
    )
    .await;
    assert!(
        !got.iter().any(|m| matches!(m, ServerMessage::Read { .. })),
        "{got:?}"
    );
}

/// Joining a room starts its count at the join: what was said before is
/// not unread to the newcomer.
#[tokio::test]
async fn joining_a_room_starts_with_nothing_unread() {
    let s = TestServer::start().await;
    let (alice, mut alice_ev, _) = register(&s.addr, "alice").await;
    join(&alice, &mut alice_ev, "den").await;
    say(&alice, &mut alice_ev, room("den"), "before bob").await;
    let (bob, mut bob_ev, _) = register(&s.addr, "bob").await;
    let id = bob
        .send(Request::Join {
            room: RoomName::new("den").unwrap(),
        })
        .await
        .unwrap();
    let ServerMessage::Joined { room: info, .. } = answer(&mut bob_ev, id).await else {
        panic!("joined");
    };
    assert_eq!(info.unread, 0);
    drop(bob);
    say(&alice, &mut alice_ev, room("den"), "for bob").await;
    let (_bob, _bob_ev, welcome) = login(&s.addr, "bob").await;
    assert_eq!(unread_of(&welcome.rooms, "den"), 1);
}
