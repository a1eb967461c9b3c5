//! Mentions and rooms with owners (protocol v5) in the real app, against a
//! real server: the mention badge and highlight; a teacher creating a
//! private room, inviting a student whose own app shows the invitation and
//! joins, making them a moderator and then removing them (their room goes
//! away, with a note).
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use cove_client::CoveApp;
use cove_common::proto::Role;
use cove_common::{ClientMsgId, MessageText, Request, RoomName, ServerMessage, Target};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use support::{
    World, join_rust_and_return, next_message, shows, sign_in_trusting, type_into, wait_for,
};

fn room(name: &str) -> Target {
    Target::Room(RoomName::new(name).unwrap())
}

fn mentions_in(h: &Harness<'_, CoveApp>, t: &Target) -> u32 {
    h.state()
        .chat()
        .unwrap()
        .conversations
        .get(t)
        .map_or(0, |c| c.mentions)
}

/// Bob mentions Alice in #rust while she reads #general: "@1" shows by
/// #rust; a message naming someone else adds none. Opening #rust clears
/// the badge and shows the message, marked as mentioning her.
#[test]
fn a_mention_shows_a_badge_until_read_and_the_message_highlighted() {
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
    for (i, text) in ["@alice can you look?", "@bob talks to himself"]
        .into_iter()
        .enumerate()
    {
        let id =
            w.rt.block_on(bob.say(
                room("rust"),
                MessageText::new(text).unwrap(),
                ClientMsgId::new(format!("m{i}")).unwrap(),
            ))
            .unwrap();
        next_message(&w, &mut bob_events, "ack", |m| m.answers() == Some(id));
    }
    wait_for(&mut h, "the unread count", |h| shows(h, "# rust  (2)"));
    assert!(shows(&h, "@1"), "one of the two mentions Alice");
    assert_eq!(mentions_in(&h, &room("rust")), 1);

    h.get_by_label("# rust  (2)").click();
    wait_for(&mut h, "the message", |h| shows(h, "@alice can you look?"));
    assert!(!shows(&h, "@1"), "read: the badge is gone");
    let chat = h.state().chat().unwrap();
    let marked: Vec<&str> = chat.conversations[&room("rust")]
        .messages()
        .filter(|m| chat.mentions_me(m))
        .map(|m| m.text_str())
        .collect();
    assert_eq!(marked, ["@alice can you look?"], "highlighted as a whole");

    // Typing "@b" offers the members whose names start so; a click
    // completes the name, which mentions Bob.
    type_into(&mut h, "Message # rust", "thanks @b");
    wait_for(&mut h, "the offer", |h| h.query_by_label("@bob").is_some());
    h.get_by_label("@bob").click();
    h.run();
    type_into(&mut h, "Message # rust", "for the ping");
    h.key_press(egui::Key::Enter);
    let mut got = None;
    wait_for(&mut h, "bob mentioned", |_| {
        while let Ok(cove_common::client::Event::Message(ServerMessage::Message(m))) =
            bob_events.try_recv()
        {
            got = Some(m);
        }
        got.is_some()
    });
    let m = got.unwrap();
    assert_eq!(m.text_str(), "thanks @bob for the ping");
    assert_eq!(m.mentions, [bob.username().clone()]);
}

/// The teacher creates a private room with a topic, invites Ann, whose
/// app shows the invitation; she joins. The teacher makes her a moderator,
/// then removes her: the room leaves Ann's list with a note.
#[test]
fn a_private_room_invitation_join_role_and_removal() {
    let w = World::new();
    let mut teacher = w.app_in("teacher");
    sign_in_trusting(&mut teacher, "teacher", true);
    let mut ann = w.app_in("ann");
    sign_in_trusting(&mut ann, "ann", true);

    teacher.get_by_label("New room…").click();
    teacher.run();
    type_into(&mut teacher, "Room name", "class");
    type_into(&mut teacher, "Topic", "Maths, period 3");
    teacher
        .get_by_label("Private: only people I invite can join")
        .click();
    teacher.run();
    teacher.get_by_label("Create").click();
    wait_for(&mut teacher, "the new room", |h| {
        h.state().chat().unwrap().current == room("class")
            && shows(h, "Maths, period 3")
            && shows(h, "🔒 private")
            && !shows(h, "Room name")
    });
    wait_for(&mut teacher, "the owner's badge", |h| {
        h.query_by_label("owner").is_some()
    });

    type_into(&mut teacher, "Invite:", "ann");
    teacher.get_by_label("Invite").click();
    wait_for(&mut teacher, "the invitation sent", |h| {
        shows(h, "Invited ann to #class.")
    });

    wait_for(&mut ann, "the invitation", |h| {
        shows(h, "Invited to #class by teacher")
    });
    // The side list's own "Join" (a room by name) comes first.
    ann.query_all_by_label("Join").last().unwrap().click();
    wait_for(&mut ann, "in #class", |h| {
        let chat = h.state().chat().unwrap();
        chat.current == room("class") && chat.invitations.is_empty()
    });
    assert!(shows(&ann, "Maths, period 3"), "the topic under its name");

    // The teacher's member list gets Ann; a right click makes her a
    // moderator.
    wait_for(&mut teacher, "ann in the members", |h| {
        h.query_by_label("ann").is_some()
    });
    teacher.get_by_label("ann").click_secondary();
    teacher.run();
    teacher.get_by_label("Make moderator").click();
    // (Each app runs only while the test steps it.)
    wait_for(&mut teacher, "the mod badge", |h| {
        h.query_by_label("mod").is_some()
    });
    wait_for(&mut ann, "ann a moderator", |h| {
        h.state()
            .chat()
            .unwrap()
            .my_role(&RoomName::new("class").unwrap())
            == Role::Moderator
    });
    // A moderator may invite: the field shows in her header.
    wait_for(&mut ann, "the invite field", |h| {
        h.query_by_label("Invite:").is_some()
    });

    teacher.get_by_label("ann").click_secondary();
    teacher.run();
    teacher.get_by_label("Remove from room").click();
    wait_for(&mut teacher, "done", |h| {
        shows(h, "Removed ann from #class.")
    });
    wait_for(&mut ann, "the room gone", |h| {
        shows(h, "You were removed from #class by teacher")
            && h.state()
                .chat()
                .unwrap()
                .room(&RoomName::new("class").unwrap())
                .is_none()
    });
    assert_eq!(
        ann.state().chat().unwrap().current,
        Target::Room(RoomName::general())
    );
    assert!(!shows(&ann, "# class"));
}

/// Creating a room whose name is taken: the dialog stays open and says
/// why, where the user is looking.
#[test]
fn a_taken_room_name_is_refused_in_the_dialog() {
    let w = World::new();
    let mut h = w.app();
    sign_in_trusting(&mut h, "alice", true);
    h.get_by_label("New room…").click();
    h.run();
    type_into(&mut h, "Room name", "general");
    h.get_by_label("Create").click();
    wait_for(&mut h, "the refusal", |h| {
        shows(h, "Could not create #general: ")
    });
    assert!(h.query_by_label("Room name").is_some(), "the dialog stays");
    assert_eq!(
        h.state().chat().unwrap().current,
        Target::Room(RoomName::general())
    );
}
