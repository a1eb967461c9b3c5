//! The keyboard in the real app, against a real server: Alt+Up/Alt+Down
//! walk the side list; Ctrl+K's quick switcher filters rooms and people,
//! Up/Down choose, Enter goes, Esc closes; Esc closes the settings and
//! the "New room" dialog.
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use cove_client::CoveApp;
use cove_common::{ClientMsgId, MessageText, RoomName, Target, Username};
use egui::{Key, Modifiers};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use support::{
    World, join_rust_and_return, next_message, shows, sign_in_trusting, type_into, wait_for,
};

fn current(h: &Harness<'_, CoveApp>) -> Target {
    h.state().chat().unwrap().current.clone()
}

fn room(name: &str) -> Target {
    Target::Room(RoomName::new(name).unwrap())
}

fn bob() -> Target {
    Target::User(Username::new("bob").unwrap())
}

fn press(h: &mut Harness<'_, CoveApp>, m: Modifiers, k: Key) {
    h.key_press_modifiers(m, k);
    h.run();
}

/// Alice, in #general and #rust, with a direct conversation with bob.
fn alice_with_three_conversations(w: &World) -> Harness<'static, CoveApp> {
    let mut h = w.app();
    sign_in_trusting(&mut h, "alice", true);
    join_rust_and_return(&mut h);
    let (bob, mut events) = w.client("bob", true);
    let id =
        w.rt.block_on(bob.say(
            Target::User(Username::new("alice").unwrap()),
            MessageText::new("hi").unwrap(),
            ClientMsgId::new("b1").unwrap(),
        ))
        .unwrap();
    next_message(w, &mut events, "the ack", |m| m.answers() == Some(id));
    wait_for(&mut h, "bob in the side list", |h| shows(h, "@ bob"));
    h
}

#[test]
fn alt_up_and_down_walk_the_side_list() {
    let w = World::new();
    let mut h = alice_with_three_conversations(&w);
    assert_eq!(current(&h), room("general"));
    press(&mut h, Modifiers::ALT, Key::ArrowDown);
    assert_eq!(current(&h), room("rust"));
    press(&mut h, Modifiers::ALT, Key::ArrowDown);
    assert_eq!(current(&h), bob());
    press(&mut h, Modifiers::ALT, Key::ArrowDown);
    assert_eq!(current(&h), bob(), "the end of the list");
    press(&mut h, Modifiers::ALT, Key::ArrowUp);
    assert_eq!(current(&h), room("rust"));
    // Up alone is the message box's (editing the last message), not a move.
    press(&mut h, Modifiers::NONE, Key::ArrowUp);
    assert_eq!(current(&h), room("rust"));
}

#[test]
fn ctrl_k_filters_chooses_and_goes_and_esc_closes() {
    let w = World::new();
    let mut h = alice_with_three_conversations(&w);
    press(&mut h, Modifiers::COMMAND, Key::K);
    assert!(shows(&h, "Go to a conversation"));
    // The field has the keyboard: typing filters at once.
    h.get_by_label("Room or person:").type_text("BO");
    h.run();
    assert_eq!(
        h.query_all_by_label("# rust").count(),
        1,
        "#rust only in the side list: not offered"
    );
    // (The side list's row says "@ bob  (1)": his message is unread.)
    assert_eq!(h.query_all_by_label("@ bob").count(), 1, "bob offered");
    press(&mut h, Modifiers::NONE, Key::Enter);
    assert_eq!(current(&h), bob());
    assert!(!shows(&h, "Go to a conversation"), "closed after going");

    // Everything offered; Down chooses the second (#rust).
    press(&mut h, Modifiers::COMMAND, Key::K);
    press(&mut h, Modifiers::NONE, Key::ArrowDown);
    press(&mut h, Modifiers::NONE, Key::Enter);
    assert_eq!(current(&h), room("rust"));

    // Esc closes without going anywhere.
    press(&mut h, Modifiers::COMMAND, Key::K);
    type_into(&mut h, "Room or person:", "gen");
    press(&mut h, Modifiers::NONE, Key::Escape);
    assert!(!shows(&h, "Go to a conversation"));
    assert_eq!(current(&h), room("rust"));
}

#[test]
fn esc_closes_the_settings_and_the_new_room_dialog() {
    let w = World::new();
    let mut h = w.app();
    sign_in_trusting(&mut h, "alice", true);
    h.get_by_label("Settings…").click();
    h.run();
    assert!(shows(&h, "Notifications"));
    press(&mut h, Modifiers::NONE, Key::Escape);
    assert!(!shows(&h, "Notifications"), "settings closed");
    h.get_by_label("New room…").click();
    h.run();
    assert!(h.query_by_label("Room name").is_some());
    press(&mut h, Modifiers::NONE, Key::Escape);
    assert!(h.query_by_label("Room name").is_none(), "dialog closed");
}
