//! Search in the real app, against a real server: typing a query in the
//! top bar shows the matching message with its conversation; clicking the
//! result opens that conversation, loads it back to the message (older
//! than the newest page the app loads) and scrolls to it.
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use cove_common::client::{Events, Session};
use cove_common::{ClientMsgId, MessageText, RoomName, ServerMessage, Target};
use egui_kittest::kittest::Queryable;
use support::{World, next_message, shows, sign_in_trusting, type_into, wait_for};

/// Sends and waits for the ack, so the messages are stored in this order.
fn say(w: &World, (s, events): &mut (Session, Events), text: &str, n: usize) -> u64 {
    let id =
        w.rt.block_on(s.say(
            Target::Room(RoomName::general()),
            MessageText::new(text).unwrap(),
            ClientMsgId::new(format!("m{n}")).unwrap(),
        ))
        .unwrap();
    match next_message(w, events, "the ack", |m| m.answers() == Some(id)) {
        ServerMessage::Ack { message_id, .. } => message_id,
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_search_result_opens_its_conversation_at_the_message() {
    let w = World::new();
    drop(w.client("alice", true));
    // The match, then more messages than the app's newest page (100) and
    // the older page (200) it may load on its own when the view starts at
    // the top, from twelve people so that none of them is slowed by the
    // server's send pace.
    let mut bob = w.client("bob", true);
    let mut others: Vec<_> = [
        "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory", "niaj",
        "olivia",
    ]
    .iter()
    .map(|n| w.client(n, true))
    .collect();
    let target = say(&w, &mut bob, "find Zoë here", 0);
    let mut n = 1;
    for round in 0..28 {
        say(&w, &mut bob, &format!("filler {round} from bob"), n);
        n += 1;
        for other in &mut others {
            say(&w, other, &format!("filler {round} from someone"), n);
            n += 1;
        }
    }

    let mut h = w.app();
    sign_in_trusting(&mut h, "alice", false);
    wait_for(&mut h, "the newest messages", |h| {
        shows(h, "filler 27 from bob")
    });
    assert!(!shows(&h, "find Zoë here"), "older than the newest page");
    let general = Target::Room(RoomName::general());
    let loaded = |h: &egui_kittest::Harness<'_, cove_client::CoveApp>| {
        h.state().chat().unwrap().conversations[&general].has(target)
    };
    assert!(!loaded(&h), "not loaded until the result is opened");

    type_into(&mut h, "Search messages", "ZOË");
    h.key_press(egui::Key::Enter);
    wait_for(&mut h, "the result", |h| shows(h, "find Zoë here"));
    assert!(
        shows(&h, "# general · bob"),
        "with its conversation and author"
    );

    h.get_by_label_contains("find Zoë here").click();
    wait_for(&mut h, "the message in its conversation", |h| {
        // Once in the results panel, once as the line itself: loaded and
        // scrolled to.
        h.query_all_by_label("find Zoë here").count() == 1
            && h.query_all_by_label_contains("find Zoë here").count() == 2
    });
    assert!(loaded(&h));
    assert!(
        shows(&h, "filler 0 from bob"),
        "its neighbours are on screen"
    );
    assert!(
        !shows(&h, "filler 27 from bob"),
        "scrolled away from the end"
    );
}
