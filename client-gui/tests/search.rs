//! Search in the real app, against a real server: typing a query in the
//! top bar shows the matching message with its conversation; clicking the
//! result opens that conversation, loads it back to the message (older
//! than the newest page the app loads) and scrolls to it.
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use cove_common::{RoomName, Target};
use egui_kittest::kittest::Queryable;
use support::{
    World, bury_in_chatter, say_in_general, shows, sign_in_trusting, type_into, wait_for,
};

#[test]
fn a_search_result_opens_its_conversation_at_the_message() {
    let w = World::new();
    drop(w.client("alice", true));
    // The match, then more than the app loads by itself when the view
    // starts at the top.
    let mut bob = w.client("bob", true);
    let target = say_in_general(&w, &mut bob, "find Zoë here", 0);
    bury_in_chatter(&w, &mut bob, 1);

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
        // Once in the results panel, once as the line itself and once as
        // its row's accessible name ("bob, 14:02: find Zoë here"): loaded
        // and scrolled to.
        h.query_all_by_label("find Zoë here").count() == 1
            && h.query_all_by_label_contains("find Zoë here").count() == 3
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
