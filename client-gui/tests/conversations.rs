//! Typing indicators and unread badges in the real app, against a real
//! server, with headless sessions for the other people (and for the
//! user's other device).
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use std::time::{Duration, Instant};

use cove_common::limits::TYPING_EXPIRY_MS;
use cove_common::{ClientMsgId, MessageText, Request, RoomName, ServerMessage, Target};
use egui_kittest::kittest::Queryable;
use support::{
    World, join_rust_and_return, next_message, shows, sign_in_trusting, stepping_until, type_into,
    wait_for,
};

fn general() -> Target {
    Target::Room(RoomName::general())
}

fn rust() -> Target {
    Target::Room(RoomName::new("rust").unwrap())
}

/// Bob, then Carol, type in #general: the app says so under the
/// conversation, Bob's line ends with his message, Carol's expires by
/// itself after about 6 s. What Alice types reaches Bob as `typing`, and
/// never shows in her own app.
#[test]
fn typing_indicators_appear_and_expire() {
    let w = World::new();
    let mut h = w.app();
    sign_in_trusting(&mut h, "alice", true);
    let (bob, mut bob_events) = w.client("bob", true);
    let (carol, _carol_events) = w.client("carol", true);
    wait_for(&mut h, "bob and carol listed", |h| {
        shows(h, "bob") && shows(h, "carol")
    });

    w.rt.block_on(bob.send(Request::Typing { with: general() }))
        .unwrap();
    wait_for(&mut h, "bob typing", |h| shows(h, "bob is typing…"));
    w.rt.block_on(carol.send(Request::Typing { with: general() }))
        .unwrap();
    wait_for(&mut h, "both typing", |h| {
        shows(h, "bob and carol are typing…")
    });
    let carol_typed = Instant::now();

    // Bob's message ends his indicator.
    w.rt.block_on(bob.say(
        general(),
        MessageText::new("done typing").unwrap(),
        ClientMsgId::new("b1").unwrap(),
    ))
    .unwrap();
    wait_for(&mut h, "bob's message", |h| {
        shows(h, "done typing") && shows(h, "carol is typing…")
    });
    assert!(!shows(&h, "bob and carol"));

    // Carol's expires by itself, without any input to the app.
    wait_for(&mut h, "carol's indicator to expire", |h| {
        !shows(h, "is typing…")
    });
    let lasted = carol_typed.elapsed();
    assert!(
        lasted >= Duration::from_millis(TYPING_EXPIRY_MS - 1_000),
        "expired after {lasted:?}"
    );

    // Alice types: Bob hears of it; her own app shows nothing.
    type_into(&mut h, "Message # general", "hel");
    let m = stepping_until(
        &mut h,
        &mut bob_events,
        "alice typing",
        |m| matches!(m, ServerMessage::Typing { user, .. } if user.as_str() == "alice"),
    );
    assert!(
        matches!(&m, ServerMessage::Typing { with, user } if *with == general() && user.as_str() == "alice"),
        "{m:?}"
    );
    for _ in 0..10 {
        h.step();
    }
    assert!(!shows(&h, "is typing…"));
}

/// Bob writes twice in #rust while Alice reads #general: the app shows
/// "(2)" by #rust. Alice reads #rust on her other device: the badge goes.
/// Another message brings "(1)"; opening #rust in the app tells the server
/// it was read, which her other device hears.
#[test]
fn the_unread_badge_clears_when_read_on_another_session() {
    let w = World::new();
    let mut h = w.app();
    sign_in_trusting(&mut h, "alice", true);
    join_rust_and_return(&mut h);

    let (bob, mut bob_events) = w.client("bob", true);
    let join =
        w.rt.block_on(bob.send(Request::Join {
            room: RoomName::new("rust").unwrap(),
        }))
        .unwrap();
    next_message(&w, &mut bob_events, "joined", |m| m.answers() == Some(join));
    let mut last = 0;
    for i in 0..2 {
        let id =
            w.rt.block_on(bob.say(
                rust(),
                MessageText::new(format!("rusty {i}")).unwrap(),
                ClientMsgId::new(format!("r{i}")).unwrap(),
            ))
            .unwrap();
        let ack = next_message(&w, &mut bob_events, "ack", |m| m.answers() == Some(id));
        let ServerMessage::Ack { message_id, .. } = ack else {
            panic!("{ack:?}")
        };
        last = message_id;
    }
    wait_for(&mut h, "the badge", |h| shows(h, "# rust  (2)"));

    // Her other device reads #rust.
    let (other, mut other_events) = w.client("alice", false);
    let read =
        w.rt.block_on(other.send(Request::Read {
            with: rust(),
            up_to: last,
        }))
        .unwrap();
    next_message(&w, &mut other_events, "the read reply", |m| {
        m.answers() == Some(read)
    });
    wait_for(&mut h, "the badge to clear", |h| {
        shows(h, "# rust") && !shows(h, "# rust  (")
    });

    // One more; the app opens #rust and says it was read.
    w.rt.block_on(bob.say(
        rust(),
        MessageText::new("one more").unwrap(),
        ClientMsgId::new("r9").unwrap(),
    ))
    .unwrap();
    wait_for(&mut h, "a new badge", |h| shows(h, "# rust  (1)"));
    h.get_by_label("# rust  (1)").click();
    let m = stepping_until(&mut h, &mut other_events, "the app's read", |m| {
        matches!(m, ServerMessage::Read { .. })
    });
    assert!(
        matches!(&m, ServerMessage::Read { id: None, with, unread: 0, .. } if *with == rust()),
        "{m:?}"
    );
}
