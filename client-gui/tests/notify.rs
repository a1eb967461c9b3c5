//! Desktop notifications and muted conversations in the real app, against
//! a real server, with a recording notifier in place of the desktop's: a
//! direct message or a mention notifies only while the window is in the
//! background, never the user's own words nor a muted conversation; the
//! settings turn kinds on and off; a mute is remembered for the account.
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};

use cove_client::CoveApp;
use cove_client::notify::{Note, Recorder};
use cove_common::client::{Events, Session};
use cove_common::{ClientMsgId, MessageText, RoomName, Target, Username};
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use support::{
    World, app_recording, next_message, set_focused, shows, sign_in_trusting, titles_asked,
    type_into, wait_for,
};

fn user(name: &str) -> Target {
    Target::User(Username::new(name).unwrap())
}

static SENT: AtomicUsize = AtomicUsize::new(0);

/// `from` sends `text` to `to` and waits for the server's ack.
fn send(w: &World, (s, events): &mut (Session, Events), to: Target, text: &str) {
    let id =
        w.rt.block_on(s.say(
            to,
            MessageText::new(text).unwrap(),
            ClientMsgId::new(format!("c{}", SENT.fetch_add(1, Ordering::Relaxed))).unwrap(),
        ))
        .unwrap();
    next_message(w, events, "the ack", |m| m.answers() == Some(id));
}

/// Steps the app until it holds a message with `text`.
fn arrived(h: &mut Harness<'_, CoveApp>, text: &str) {
    wait_for(h, text, |h| {
        h.state()
            .chat()
            .unwrap()
            .conversations
            .values()
            .any(|c| c.messages().any(|m| m.text_str() == text))
    });
    h.run();
}

fn note(title: &str, body: &str) -> Note {
    Note {
        title: title.into(),
        body: body.into(),
    }
}

#[test]
fn direct_messages_notify_in_the_background_only_and_never_when_muted_or_own() {
    let w = World::new();
    let (mut h, rec): (_, Recorder) = app_recording(&w, "alice");
    sign_in_trusting(&mut h, "alice", true);
    let mut bob = w.client("bob", true);

    set_focused(&mut h, Some(false));
    send(&w, &mut bob, user("alice"), "hello alice");
    arrived(&mut h, "hello alice");
    assert_eq!(rec.notes(), [note("Direct message", "bob: hello alice")]);

    // In the foreground: none.
    set_focused(&mut h, Some(true));
    send(&w, &mut bob, user("alice"), "are you there?");
    arrived(&mut h, "are you there?");
    assert_eq!(rec.notes().len(), 1, "focused: no notification");

    // Alice's own words, from her other session: none.
    set_focused(&mut h, Some(false));
    let mut alice2 = w.client("alice", false);
    send(&w, &mut alice2, user("bob"), "from my phone");
    arrived(&mut h, "from my phone");
    assert_eq!(rec.notes().len(), 1, "own message: no notification");

    // A mention in a room notifies; a plain room message does not (off by
    // default).
    send(
        &w,
        &mut bob,
        Target::Room(RoomName::general()),
        "@alice lunch?",
    );
    arrived(&mut h, "@alice lunch?");
    send(
        &w,
        &mut bob,
        Target::Room(RoomName::general()),
        "anyone for lunch",
    );
    arrived(&mut h, "anyone for lunch");
    assert_eq!(
        rec.notes()[1..],
        [note("#general", "bob: @alice lunch?")],
        "the mention only"
    );

    // One unread direct message: in the window's title.
    let mut titles = Vec::new();
    send(&w, &mut bob, user("alice"), "one more");
    wait_for(&mut h, "the title", |h| {
        titles.extend(titles_asked(h));
        titles.last().is_some_and(|t| t == "Cove (1)")
    });
    assert_eq!(rec.notes().len(), 3);

    // Muted from the side list's menu: the mark shows, bob's unread
    // message leaves the title, and he notifies no more.
    h.get_by_label_contains("@ bob").click_secondary();
    h.run();
    h.get_by_label("Mute").click();
    wait_for(&mut h, "the muted mark", |h| {
        titles.extend(titles_asked(h));
        shows(h, "@ bob  (1) 🔕")
    });
    h.run();
    titles.extend(titles_asked(&h));
    assert_eq!(
        titles.last().map(String::as_str),
        Some("Cove"),
        "{titles:?}"
    );
    send(&w, &mut bob, user("alice"), "psst");
    arrived(&mut h, "psst");
    assert_eq!(rec.notes().len(), 3, "muted: no notification");

    // Unmuted from the conversation's header.
    h.get_by_label_contains("@ bob").click();
    wait_for(&mut h, "bob's conversation", |h| shows(h, "Unmute"));
    h.get_by_label("Unmute this conversation").click();
    wait_for(&mut h, "unmuted", |h| !shows(h, "🔕"));
    send(&w, &mut bob, user("alice"), "back again");
    arrived(&mut h, "back again");
    assert_eq!(rec.notes().len(), 4, "unmuted: notifies again");
}

#[test]
fn the_settings_choose_the_kinds_and_a_mute_is_remembered() {
    let w = World::new();
    let (mut h, rec) = app_recording(&w, "alice");
    sign_in_trusting(&mut h, "alice", true);
    let mut bob = w.client("bob", true);
    set_focused(&mut h, Some(false));

    h.get_by_label("Settings…").click();
    h.run();
    h.get_by_label("Every message in my rooms").click();
    h.run();
    h.get_by_label("Direct messages").click();
    h.run();
    send(&w, &mut bob, Target::Room(RoomName::general()), "hi all");
    arrived(&mut h, "hi all");
    send(&w, &mut bob, user("alice"), "hi you");
    arrived(&mut h, "hi you");
    assert_eq!(rec.notes(), [note("#general", "bob: hi all")]);

    // Mute #general from its header; the next app on this computer
    // remembers it for this account.
    h.key_press(egui::Key::Escape);
    h.run();
    h.get_by_label("Mute this conversation").click();
    wait_for(&mut h, "the mark", |h| shows(h, "# general 🔕"));
    drop(h);
    let (mut h, rec) = app_recording(&w, "alice");
    // The start screen remembers the name; the password is typed again.
    type_into(&mut h, "Password", support::PASSWORD);
    h.get_by_label("Sign in").click();
    wait_for(&mut h, "the chat screen", |h| shows(h, "connected"));
    wait_for(&mut h, "the mark", |h| shows(h, "# general 🔕"));
    set_focused(&mut h, Some(false));
    send(
        &w,
        &mut bob,
        Target::Room(RoomName::general()),
        "still there?",
    );
    arrived(&mut h, "still there?");
    assert_eq!(rec.notes(), [], "muted, and every-message was kept on");
    h.get_by_label("Settings…").click();
    h.run();
    assert!(
        h.get_by_label("Every message in my rooms")
            .accesskit_node()
            .toggled()
            == Some(egui::accesskit::Toggled::True),
        "the kinds are remembered"
    );
}

/// Steps the app until it holds a message with `text`: the requests for
/// attention sent on the way, and the window titles asked for.
fn arrived_asking(h: &mut Harness<'_, CoveApp>, text: &str) -> (usize, Vec<String>) {
    let (mut asked, mut titles) = (0, Vec::new());
    let mut look = |h: &mut Harness<'_, CoveApp>| {
        asked += support::attention_asked(h);
        titles.extend(titles_asked(h));
    };
    wait_for(h, text, |h| {
        look(h);
        h.state()
            .chat()
            .unwrap()
            .conversations
            .values()
            .any(|c| c.messages().any(|m| m.text_str() == text))
    });
    for _ in 0..3 {
        h.step();
        look(h);
    }
    (asked, titles)
}

#[test]
fn a_direct_message_in_the_background_asks_for_attention_once() {
    let w = World::new();
    let (mut h, _rec) = app_recording(&w, "alice");
    sign_in_trusting(&mut h, "alice", true);
    let mut bob = w.client("bob", true);

    // Looked at: the title counts it, nothing flashes.
    set_focused(&mut h, Some(true));
    send(&w, &mut bob, user("alice"), "hi while you look");
    let (asked, titles) = arrived_asking(&mut h, "hi while you look");
    assert_eq!(asked, 0, "focused: no request");
    assert_eq!(titles, ["Cove (1)"]);

    // In the background: one request, and the title counts both.
    set_focused(&mut h, Some(false));
    send(&w, &mut bob, user("alice"), "hi in the background");
    let (asked, titles) = arrived_asking(&mut h, "hi in the background");
    assert_eq!(asked, 1, "one request for attention");
    assert_eq!(titles, ["Cove (2)"]);

    // A room message without a mention: counted, no request.
    send(&w, &mut bob, Target::Room(RoomName::general()), "plain");
    let (asked, _) = arrived_asking(&mut h, "plain");
    assert_eq!(asked, 0, "a plain room message: no request");
}
