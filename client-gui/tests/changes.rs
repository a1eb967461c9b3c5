//! Edits, deletions, replies and reactions in the real app, against a
//! real server, with a headless session for the other person: what Alice
//! does with the mouse and keyboard reaches Bob as the protocol says, and
//! what Bob does shows in Alice's app as it happens.
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use cove_client::CoveApp;
use cove_common::client::{Events, Session};
use cove_common::proto::{ChangeKind, Quote};
use cove_common::{ClientMsgId, Emoji, MessageText, Request, RoomName, ServerMessage, Target};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use support::{
    PASSWORD, World, bury_in_chatter, next_message, say_in_general, shows, sign_in_trusting,
    stepping_until, type_into, wait_for,
};

fn general() -> Target {
    Target::Room(RoomName::general())
}

/// Sends a request as another person and waits for its ack.
fn request(w: &World, (s, events): &mut (Session, Events), request: Request) {
    let id = w.rt.block_on(s.send(request)).unwrap();
    let reply = next_message(w, events, "the answer", |m| m.answers() == Some(id));
    assert!(matches!(reply, ServerMessage::Ack { .. }), "{reply:?}");
}

/// Nothing of the user's is on its way any more.
fn settled(h: &mut Harness<'_, CoveApp>) -> bool {
    let chat = h.state().chat().unwrap();
    chat.pending.is_empty() && chat.pending_changes.is_empty()
}

fn type_and_send(h: &mut Harness<'_, CoveApp>, text: &str) {
    h.get_by_label("Message # general").type_text(text);
    h.step();
    h.key_press(egui::Key::Enter);
    h.step();
}

/// Alice edits her message from its menu, reacts to Bob's and takes the
/// reaction back by its chip, replies to Bob, and deletes her message
/// after confirming; Bob sees each change, and each of his shows in her
/// app as it happens.
#[test]
fn edit_react_reply_and_delete_against_a_real_server() {
    let w = World::new();
    let mut h = w.app();
    sign_in_trusting(&mut h, "alice", true);
    let mut bob = w.client("bob", true);
    let lunch = say_in_general(&w, &mut bob, "lunch at noon?", 1);
    wait_for(&mut h, "bob's message", |h| shows(h, "lunch at noon?"));

    type_into(&mut h, "Message # general", "sure, see yuo there");
    h.key_press(egui::Key::Enter);
    let mine = match stepping_until(
        &mut h,
        &mut bob.1,
        "alice's message",
        |m| matches!(m, ServerMessage::Message(m) if m.text_str() == "sure, see yuo there"),
    ) {
        ServerMessage::Message(m) => m.id,
        _ => unreachable!(),
    };
    wait_for(&mut h, "the ack", settled);

    // Edit, from the right-click menu.
    h.get_by_label("sure, see yuo there").click_secondary();
    h.run();
    h.get_by_label("Edit").click();
    h.run();
    assert!(shows(&h, "Editing message — Esc to cancel"));
    for _ in 0..9 {
        h.key_press(egui::Key::Backspace);
    }
    type_and_send(&mut h, "you there!");
    let edit = stepping_until(
        &mut h,
        &mut bob.1,
        "the edit",
        |m| matches!(m, ServerMessage::Change(c) if c.message_id == mine),
    );
    assert!(
        matches!(&edit, ServerMessage::Change(c) if c.from.as_str() == "alice"
            && matches!(&c.what, ChangeKind::Edit { text } if text.as_str() == "sure, see you there!")),
        "{edit:?}"
    );
    wait_for(&mut h, "the edit stored", settled);
    assert!(shows(&h, "sure, see you there!") && shows(&h, "(edited)"));

    // React from the toolbar; Bob joins in; Alice takes hers back by the
    // chip.
    h.get_by_label("lunch at noon?").hover();
    h.run();
    h.get_by_label("React").click();
    h.run();
    h.get_by_label("👍 thumbs up").click();
    h.run();
    let react = stepping_until(
        &mut h,
        &mut bob.1,
        "alice's reaction",
        |m| matches!(m, ServerMessage::Change(c) if c.message_id == lunch),
    );
    assert!(
        matches!(&react, ServerMessage::Change(c)
            if matches!(&c.what, ChangeKind::React { emoji, remove: false } if emoji.as_str() == "👍")),
        "{react:?}"
    );
    wait_for(&mut h, "the reaction stored", settled);
    assert!(shows(&h, "👍 1"));
    request(
        &w,
        &mut bob,
        Request::React {
            client_id: ClientMsgId::new("r1").unwrap(),
            with: general(),
            message_id: lunch,
            emoji: Emoji::new("👍").unwrap(),
            remove: false,
        },
    );
    wait_for(&mut h, "bob's reaction", |h| shows(h, "👍 2"));
    h.get_by_label("👍 2").click();
    let back = stepping_until(
        &mut h,
        &mut bob.1,
        "alice taking hers back",
        |m| matches!(m, ServerMessage::Change(c) if matches!(c.what, ChangeKind::React { remove: true, .. })),
    );
    assert!(matches!(&back, ServerMessage::Change(c) if c.from.as_str() == "alice"));
    wait_for(&mut h, "one left", |h| shows(h, "👍 1") && settled(h));

    // Reply from the toolbar.
    h.get_by_label("lunch at noon?").hover();
    h.run();
    h.get_by_label("Reply").click();
    h.run();
    assert!(shows(&h, "Replying to bob: lunch at noon?"));
    type_and_send(&mut h, "agreed");
    let reply = stepping_until(
        &mut h,
        &mut bob.1,
        "the reply",
        |m| matches!(m, ServerMessage::Message(m) if m.text_str() == "agreed"),
    );
    let ServerMessage::Message(reply) = reply else {
        unreachable!()
    };
    assert_eq!(
        reply.reply_to,
        Some(Quote {
            id: lunch,
            from: bob.0.username().clone(),
            text: Some("lunch at noon?".into()),
        })
    );
    wait_for(&mut h, "the reply stored", settled);
    assert!(shows(&h, "bob: lunch at noon?"), "the quote");

    // Bob edits his message: it shows edited; the quote keeps its words.
    request(
        &w,
        &mut bob,
        Request::Edit {
            client_id: ClientMsgId::new("e1").unwrap(),
            with: general(),
            message_id: lunch,
            text: MessageText::new("lunch at one?").unwrap(),
        },
    );
    wait_for(&mut h, "bob's edit", |h| shows(h, "lunch at one?"));
    assert!(shows(&h, "bob: lunch at noon?"));

    // Delete, from the toolbar, once confirmed.
    h.get_by_label("sure, see you there!").hover();
    h.run();
    h.get_by_label("Delete").click();
    h.run();
    h.get_by_label("Delete for everyone").click();
    h.run();
    let gone = stepping_until(
        &mut h,
        &mut bob.1,
        "the deletion",
        |m| matches!(m, ServerMessage::Change(c) if c.message_id == mine),
    );
    assert!(matches!(&gone, ServerMessage::Change(c) if c.what == ChangeKind::Delete));
    wait_for(&mut h, "the deletion stored", settled);
    assert!(shows(&h, "message deleted"));
    assert!(!shows(&h, "sure, see you there!"));

    // What the server now has, as a fresh login shows it.
    drop(h);
    let mut again = w.app();
    // The app remembers the name, and the server is trusted already.
    type_into(&mut again, "Password", PASSWORD);
    again.get_by_label("Sign in").click();
    wait_for(&mut again, "chat screen", |h| shows(h, "connected"));
    wait_for(&mut again, "the history", |h| shows(h, "agreed"));
    assert!(shows(&again, "message deleted"));
    assert!(shows(&again, "lunch at one?") && shows(&again, "(edited)"));
    assert!(shows(&again, "👍 1"), "bob's reaction is still there");
    assert!(shows(&again, "bob: lunch at noon?"));
}

/// A reply to a message older than what the app loads by itself: clicking
/// its quote loads the conversation back to the original and shows it.
#[test]
fn a_quote_opens_its_original_loading_older_messages() {
    let w = World::new();
    drop(w.client("alice", true));
    // The original, then more than the app loads by itself.
    let mut bob = w.client("bob", true);
    let original = say_in_general(&w, &mut bob, "shall we ship on friday", 0);
    bury_in_chatter(&w, &mut bob, 1);
    // Bob answers himself: the others joined after the original, so the
    // server would not let them quote it.
    request(
        &w,
        &mut bob,
        Request::Send {
            client_id: ClientMsgId::new("reply").unwrap(),
            to: general(),
            text: Some(MessageText::new("yes, with tests").unwrap()),
            reply_to: Some(original),
            file: None,
        },
    );

    let mut h = w.app();
    sign_in_trusting(&mut h, "alice", false);
    wait_for(&mut h, "the reply", |h| {
        shows(h, "yes, with tests") && shows(h, "bob: shall we ship on friday")
    });
    let loaded = |h: &Harness<'_, CoveApp>| {
        h.state().chat().unwrap().conversations[&general()].has(original)
    };
    assert!(!loaded(&h), "older than what the app loads by itself");

    // Rows are measured as they are first drawn: let the list settle
    // where it is before clicking.
    h.run_steps(10);
    h.get_by_label("bob: shall we ship on friday").click();
    // The original's own line, not the quote.
    wait_for(&mut h, "the original on screen", |h| {
        h.query_by_label("shall we ship on friday").is_some()
    });
    assert!(loaded(&h));
    assert!(
        shows(&h, "filler 0 from bob"),
        "its neighbours are on screen"
    );
    assert!(!shows(&h, "yes, with tests"), "scrolled away from the end");
}
