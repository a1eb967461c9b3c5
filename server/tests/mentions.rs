//! Mentions through a real server (protocol v5): `@name` of a member in a
//! message's text lists them in its `mentions`, live and in history; the
//! mentioned user's unread mention count goes up in `welcome` and `rooms`,
//! survives a restart and clears when their marker passes the message.
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use cove_common::client::{Events, Session};
use cove_common::proto::{ChatMessage, RoomInfo};
use cove_common::{Request, RoomName, ServerMessage, Target};
use support::*;

fn general() -> Target {
    Target::Room(RoomName::general())
}

async fn say(s: &Session, ev: &mut Events, to: Target, text: &str) -> u64 {
    let c = format!("c{}", text.len() * 1000 + text.chars().count());
    say_acked(s, ev, to, text, &c).await
}

async fn live(ev: &mut Events, id: u64) -> ChatMessage {
    match expect(
        ev,
        "the message",
        |m| matches!(m, ServerMessage::Message(c) if c.id == id),
    )
    .await
    {
        ServerMessage::Message(m) => m,
        _ => unreachable!(),
    }
}

fn mentions_in(rooms: &[RoomInfo], name: &str) -> (u32, u32) {
    let r = rooms.iter().find(|r| r.name.as_str() == name).unwrap();
    (r.unread, r.mentions)
}

#[tokio::test]
async fn members_are_mentioned_and_their_count_lasts_until_read() {
    let mut srv = TestServer::start().await;
    let (alice, mut a_ev, _) = register(&srv.addr, "alice").await;
    let (bob, mut b_ev, _) = register(&srv.addr, "bob").await;
    drop(register(&srv.addr, "carol").await);
    let den = RoomName::new("den").unwrap();
    for (s, ev) in [(&alice, &mut a_ev), (&bob, &mut b_ev)] {
        let id = s.send(Request::Join { room: den.clone() }).await.unwrap();
        expect(ev, "joined", |m| m.answers() == Some(id)).await;
    }

    let text = "@ALICE and @carol. not x@alice.org nor @nobody, @alice again";
    let m = say(&bob, &mut b_ev, general(), text).await;
    let got = live(&mut a_ev, m).await;
    let names: Vec<&str> = got.mentions.iter().map(|u| u.as_str()).collect();
    assert_eq!(names, ["alice", "carol"], "as registered, each once");
    // Carol is not in #den: she is not mentioned there.
    let d = say(&bob, &mut b_ev, Target::Room(den.clone()), "@carol @alice").await;
    let got = live(&mut a_ev, d).await;
    assert_eq!(got.mentions, [user("alice")]);
    // Her own mention of herself is not unread to her.
    say(
        &alice,
        &mut a_ev,
        Target::Room(den.clone()),
        "note to @alice",
    )
    .await;
    let plain = say(&bob, &mut b_ev, general(), "no mention").await;

    let (_c, _c_ev, w) = login(&srv.addr, "carol").await;
    assert_eq!(mentions_in(&w.rooms, "general"), (2, 1));
    srv.restart().await;
    let (alice, mut a_ev, w) = login(&srv.addr, "alice").await;
    assert_eq!(
        mentions_in(&w.rooms, "general"),
        (2, 1),
        "survives a restart"
    );
    assert_eq!(
        mentions_in(&w.rooms, "den"),
        (0, 0),
        "her own message read the den"
    );
    let (history, _) = history_page(&alice, &mut a_ev, general(), None, 5).await;
    assert_eq!(
        history.iter().find(|h| h.id == m).unwrap().mentions.len(),
        2
    );

    // Reading up to the mention clears it. (The unread count after a
    // restart stays as it was until a marker at a newer message: see
    // docs/protocol.md, "Read markers".)
    let id = alice
        .send(Request::Read {
            with: general(),
            up_to: m,
        })
        .await
        .unwrap();
    let r = expect(&mut a_ev, "read", |x| x.answers() == Some(id)).await;
    assert!(
        matches!(
            r,
            ServerMessage::Read {
                up_to,
                mentions: 0,
                ..
            } if up_to == m
        ),
        "{r:?}"
    );
    let id = alice.send(Request::ListRooms).await.unwrap();
    let ServerMessage::Rooms { rooms, .. } =
        expect(&mut a_ev, "rooms", |x| x.answers() == Some(id)).await
    else {
        unreachable!()
    };
    assert_eq!(mentions_in(&rooms, "general").1, 0);
    assert!(plain > m);
}

#[tokio::test]
async fn a_direct_mention_counts_in_direct_unread() {
    let srv = TestServer::start().await;
    let (_alice, _a_ev, _) = register(&srv.addr, "alice").await;
    let (bob, mut b_ev, _) = register(&srv.addr, "bob").await;
    let dm = Target::User(user("alice"));
    say(&bob, &mut b_ev, dm.clone(), "hey @alice").await;
    say(&bob, &mut b_ev, dm, "still there?").await;
    let (_a2, _a2_ev, w) = login(&srv.addr, "alice").await;
    let d = &w.direct_unread[0];
    assert_eq!((d.user.as_str(), d.unread, d.mentions), ("bob", 2, 1));
}
