//! The real app, driven headless with egui_kittest against a real server on
//! 127.0.0.1:0. The network runs in the background, so each test steps the
//! UI until what it waits for is on screen (or fails after a deadline).
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use std::time::Duration;

use cove_common::proto::NoticeKind;
use cove_common::{ClientMsgId, MessageText, RoomName, ServerMessage, Target, Username};
use egui_kittest::kittest::Queryable;
use support::{PASSWORD, World, next_message, shows, sign_in, type_into, wait_for};

#[test]
fn register_chat_join_and_exit() {
    let w = World::new();
    let mut h = w.app();
    sign_in(&mut h, "alice", PASSWORD, true);
    wait_for(&mut h, "trust prompt", |h| shows(h, "Trust this server"));
    assert!(shows(&h, "First connection to"));
    h.get_by_label("Trust this server").click();
    wait_for(&mut h, "chat screen", |h| h.state().chat().is_some());
    wait_for(&mut h, "room list", |h| {
        shows(h, "# general") && shows(h, "Signed in as alice")
    });

    // A second user, headless.
    let (bob, mut bob_events) = w.client("bob", true);
    wait_for(&mut h, "bob in the member list", |h| shows(h, "bob"));

    type_into(&mut h, "Message # general", "hello bob");
    h.key_press(egui::Key::Enter);
    h.step();
    let m = next_message(&w, &mut bob_events, "alice's message", |m| {
        matches!(m, ServerMessage::Message(_))
    });
    let ServerMessage::Message(m) = m else {
        unreachable!()
    };
    assert_eq!((m.from.as_str(), m.text_str()), ("alice", "hello bob"));

    // Bob answers; alice sees it.
    w.rt.block_on(bob.say(
        Target::Room(RoomName::general()),
        MessageText::new("hi alice").unwrap(),
        ClientMsgId::new("b1").unwrap(),
    ))
    .unwrap();
    wait_for(&mut h, "bob's reply", |h| shows(h, "hi alice"));

    // /join a room.
    type_into(&mut h, "Message # general", "/join rust");
    h.key_press(egui::Key::Enter);
    wait_for(&mut h, "the new room", |h| shows(h, "# rust"));
    assert_eq!(
        h.state().chat().unwrap().current,
        Target::Room(RoomName::new("rust").unwrap())
    );

    // #exit: bob is told, and the app closes.
    type_into(&mut h, "Message # rust", "#exit");
    h.key_press(egui::Key::Enter);
    h.step();
    let n = next_message(
        &w,
        &mut bob_events,
        "exit notice",
        |m| matches!(m, ServerMessage::Notice(n) if matches!(n.kind, NoticeKind::Exited { .. })),
    );
    let ServerMessage::Notice(n) = n else {
        unreachable!()
    };
    assert_eq!(n.text, "alice left the chat");
    wait_for(&mut h, "the window to close", |h| h.state().is_closed());
}

#[test]
fn wrong_password_shows_the_error() {
    let w = World::new();
    drop(w.client("carol", true));
    let mut h = w.app();
    sign_in(&mut h, "carol", "not the password", false);
    wait_for(&mut h, "trust prompt", |h| shows(h, "Trust this server"));
    h.get_by_label("Trust this server").click();
    wait_for(&mut h, "the error", |h| {
        shows(h, "Wrong username or password")
    });
    assert!(h.state().chat().is_none());
}

#[test]
fn changed_server_key_warns_and_sends_no_password() {
    let w = World::new();
    drop(w.client("dave", true));
    // Pin another key for this address, as if the server had been replaced.
    let config = w.dir.path().join("config");
    std::fs::create_dir_all(&config).unwrap();
    let other = cove_common::ServerIdentity::generate().public_key();
    std::fs::write(
        config.join("known_servers.json"),
        format!(r#"{{"{}":"{}"}}"#, w.addr, other.to_hex()),
    )
    .unwrap();
    let mut h = w.app();
    sign_in(&mut h, "dave", PASSWORD, false);
    wait_for(&mut h, "the warning", |h| {
        shows(h, "presented a different key")
    });
    assert!(shows(&h, "your password was not sent"));
    // The right password was never sent: no session exists.
    for _ in 0..10 {
        h.step();
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(h.state().chat().is_none());
}

#[test]
fn history_of_rooms_and_direct_messages_is_there_after_login() {
    let w = World::new();
    let (gina, _ge) = w.client("gina", true);
    let (hank, mut he) = w.client("hank", true);
    for (s, to, text, id) in [
        (
            &gina,
            Target::Room(RoomName::general()),
            "an old room message",
            "g1",
        ),
        (
            &hank,
            Target::User(Username::new("gina").unwrap()),
            "an old secret",
            "h1",
        ),
    ] {
        w.rt.block_on(s.say(
            to,
            MessageText::new(text).unwrap(),
            ClientMsgId::new(id).unwrap(),
        ))
        .unwrap();
    }
    next_message(&w, &mut he, "hank's ack", |m| {
        matches!(m, ServerMessage::Ack { .. })
    });
    drop(gina);

    // A fresh app (nothing cached locally) logs in as gina.
    let mut h = w.app();
    sign_in(&mut h, "gina", PASSWORD, false);
    wait_for(&mut h, "trust prompt", |h| shows(h, "Trust this server"));
    h.get_by_label("Trust this server").click();
    wait_for(&mut h, "room history", |h| shows(h, "an old room message"));
    // Unread since protocol v4: the server counts it from gina's read
    // marker in that conversation.
    wait_for(&mut h, "the direct conversation", |h| {
        shows(h, "@ hank  (1)")
    });
    h.get_by_label("@ hank  (1)").click();
    wait_for(&mut h, "direct history", |h| shows(h, "an old secret"));
}

#[cfg(feature = "host")]
#[test]
fn host_a_chat_on_this_computer_then_log_in_to_it() {
    let w = World::new();
    let mut h = w.app();
    h.get_by_label("Host a chat on this computer").click();
    h.step();
    h.state_mut().login_form().host_listen = "127.0.0.1:0".into();
    h.get_by_label("Register").click();
    h.step();
    type_into(&mut h, "Username", "ivy");
    type_into(&mut h, "Password", PASSWORD);
    type_into(&mut h, "Confirm password", PASSWORD);
    h.get_by_label("Start hosting and sign in").click();
    // Our own server is trusted without a prompt.
    wait_for(&mut h, "chat on the hosted server", |h| {
        h.state().chat().is_some()
    });
    let (addr, fingerprint) = h.state_mut().login_form().hosting.clone().unwrap();
    assert_eq!(fingerprint.split(' ').count(), 8);
    // The host keeps seeing what to tell others.
    wait_for(&mut h, "hosting details", |h| shows(h, &fingerprint));
    // Someone else can join it, and sees the same fingerprint.
    let port = addr.rsplit(':').next().unwrap();
    let pending =
        w.rt.block_on(cove_common::client::connect(&format!("127.0.0.1:{port}")))
            .unwrap();
    assert_eq!(pending.server_key().fingerprint(), fingerprint);
    // Its data lives in the app's server data directory.
    assert!(w.dir.path().join("hosted").join("users.json").exists());
}

/// A build without the `host` feature does not offer hosting, and joining a
/// server works as ever.
#[cfg(not(feature = "host"))]
#[test]
fn without_the_host_feature_hosting_is_not_offered() {
    let w = World::new();
    let mut h = w.app();
    h.run();
    assert!(shows(&h, "Sign in"));
    assert!(!shows(&h, "Host a chat on this computer"));
    sign_in(&mut h, "noor", PASSWORD, true);
    wait_for(&mut h, "trust prompt", |h| shows(h, "Trust this server"));
    h.get_by_label("Trust this server").click();
    wait_for(&mut h, "chat", |h| h.state().chat().is_some());
}

#[test]
fn closing_the_window_leaves_like_exit() {
    let w = World::new();
    let (_kim, mut ke) = w.client("kim", true);
    let mut h = w.app();
    sign_in(&mut h, "lou", PASSWORD, true);
    wait_for(&mut h, "trust prompt", |h| shows(h, "Trust this server"));
    h.get_by_label("Trust this server").click();
    wait_for(&mut h, "chat screen", |h| h.state().chat().is_some());
    // The window manager's close button.
    h.input_mut()
        .viewports
        .entry(egui::ViewportId::ROOT)
        .or_default()
        .events
        .push(egui::ViewportEvent::Close);
    h.step();
    let n = next_message(
        &w,
        &mut ke,
        "exit notice",
        |m| matches!(m, ServerMessage::Notice(n) if matches!(n.kind, NoticeKind::Exited { .. })),
    );
    let ServerMessage::Notice(n) = n else {
        unreachable!()
    };
    assert_eq!(n.text, "lou left the chat");
    wait_for(&mut h, "the window to close", |h| h.state().is_closed());
}

#[test]
fn connection_loss_shows_status_reconnects_and_resends_pending() {
    let mut w = World::new();
    let mut h = w.app();
    sign_in(&mut h, "max", PASSWORD, true);
    wait_for(&mut h, "trust prompt", |h| shows(h, "Trust this server"));
    h.get_by_label("Trust this server").click();
    wait_for(&mut h, "chat screen", |h| shows(h, "connected"));

    w.stop_server();
    wait_for(&mut h, "the reconnecting status", |h| {
        shows(h, "reconnecting")
    });
    type_into(&mut h, "Message # general", "written while offline");
    h.key_press(egui::Key::Enter);
    h.step();
    wait_for(&mut h, "the pending message", |h| shows(h, "sending"));
    assert_eq!(h.state().chat().unwrap().pending.len(), 1);

    w.start_server();
    wait_for(&mut h, "reconnected and acknowledged", |h| {
        h.state().chat().is_some_and(|c| c.pending.is_empty())
    });
    assert!(shows(&h, "written while offline"));
    // Stored and shown exactly once, as the server acknowledged it.
    let chat = h.state().chat().unwrap();
    let copies = chat.conversations[&Target::Room(RoomName::general())]
        .entries
        .iter()
        .filter(|e| matches!(e, cove_client::state::Entry::Message(m) if m.text_str() == "written while offline"))
        .count();
    assert_eq!(copies, 1);
}
