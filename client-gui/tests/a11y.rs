//! What a screen reader finds in the real app: each message is one list
//! item named "author, time: text"; controls without a visible label (the
//! side list's fields) still have a name; buttons are buttons.
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use cove_common::{ClientMsgId, MessageText, RoomName, Target};
use egui::accesskit::Role;
use egui_kittest::kittest::{NodeT, Queryable};
use support::{World, next_message, shows, sign_in_trusting, wait_for};

#[test]
fn each_message_is_one_list_item_with_author_time_and_text() {
    let w = World::new();
    let mut h = w.app();
    sign_in_trusting(&mut h, "alice", true);
    let (bob, mut events) = w.client("bob", true);
    for (i, text) in ["hello there", "second line"].into_iter().enumerate() {
        let id =
            w.rt.block_on(bob.say(
                Target::Room(RoomName::general()),
                MessageText::new(text).unwrap(),
                ClientMsgId::new(format!("m{i}")).unwrap(),
            ))
            .unwrap();
        next_message(&w, &mut events, "ack", |m| m.answers() == Some(id));
    }
    wait_for(&mut h, "the messages", |h| shows(h, "second line"));
    h.run();
    let items: Vec<String> = h
        .query_all_by_role(Role::ListItem)
        .filter_map(|n| n.accesskit_node().label())
        .collect();
    let ours: Vec<&String> = items.iter().filter(|l| l.starts_with("bob, ")).collect();
    assert_eq!(ours.len(), 2, "{items:?}");
    // "bob, 14:02: hello there": the time as the screen shows it.
    let first = ours[0];
    let time = &first["bob, ".len()..first.len() - ": hello there".len()];
    assert!(first.ends_with(": hello there"), "{first}");
    assert!(
        time.len() == 5 && time.as_bytes()[2] == b':',
        "a time like 14:02: {first}"
    );
    assert!(ours[1].ends_with(": second line"));
    // Found by name, as a screen reader's search would.
    assert!(h.query_by_label_contains(": hello there").is_some());

    // Fields that show only a hint are named.
    let join = h.get_by_label("Join a room by name");
    assert_eq!(join.accesskit_node().role(), Role::TextInput);
    assert!(h.query_by_label("Message someone by name").is_some());
    // The header's toggle and the top bar's buttons are buttons.
    assert!(
        h.query_by_role_and_label(Role::Button, "Mute this conversation")
            .is_some()
    );
    assert!(
        h.query_by_role_and_label(Role::Button, "Settings…")
            .is_some()
    );
}
