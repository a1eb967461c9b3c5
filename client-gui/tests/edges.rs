//! The app at the edges, against a real server: a message the server
//! refuses, a connection that drops while others talk, pins that cannot be
//! read.
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use cove_client::state::{Entry, Status};
use cove_common::{ClientMsgId, MessageText, Request, RoomName, ServerMessage, Target, Username};
use egui_kittest::kittest::Queryable;
use support::{
    PASSWORD, Proxy, World, next_message, shows, sign_in, sign_in_trusting, type_into, wait_for,
};

fn say(h: &mut egui_kittest::Harness<'_, cove_client::CoveApp>, input: &str, line: &str) {
    type_into(h, input, line);
    h.key_press(egui::Key::Enter);
    h.step();
}

/// A direct message to a user who does not exist is refused with
/// `no_such_user`. It is written while offline and the refusal arrives
/// after the reconnect, while another conversation is open: it shows as
/// failed in its own conversation only, with the server's reason; Retry
/// sends it again (and once the user exists, it is delivered); Discard
/// forgets it.
#[test]
fn a_refused_message_fails_in_its_own_conversation_with_retry_and_discard() {
    let w = World::new();
    let proxy = Proxy::start(&w);
    let mut h = w.app_via(&proxy.addr);
    sign_in_trusting(&mut h, "nina", true);

    proxy.cut();
    wait_for(&mut h, "the reconnecting status", |h| {
        shows(h, "reconnecting")
    });
    say(&mut h, "Message # general", "/msg ghost boo");
    wait_for(&mut h, "the pending message", |h| {
        shows(h, "@ ghost") && shows(h, "sending")
    });
    h.get_by_label("# general").click();
    h.step();
    proxy.restore();
    wait_for(&mut h, "the refusal", |h| {
        h.state().chat().unwrap().pending.iter().any(|p| p.failed())
    });
    for _ in 0..3 {
        h.step();
    }
    let chat = h.state().chat().unwrap();
    assert_eq!(chat.current, Target::Room(RoomName::general()));
    assert!(
        !shows(&h, "there is no user called ghost"),
        "the reason is not shown in the open conversation"
    );
    let general = &chat.conversations[&Target::Room(RoomName::general())];
    assert!(
        !general
            .entries
            .iter()
            .any(|e| matches!(e, Entry::Info { .. }))
    );
    assert!(shows(&h, "@ ghost  · 1 not sent"), "the sidebar says where");

    h.get_by_label("@ ghost  · 1 not sent").click();
    wait_for(&mut h, "the failed message and why", |h| {
        shows(h, "not sent") && shows(h, "The server refused it: there is no user called ghost.")
    });
    assert!(shows(&h, "boo"));

    // Retry while ghost still does not exist: refused again, not lost.
    h.get_by_label("Retry").click();
    h.step();
    wait_for(&mut h, "the second refusal", |h| {
        h.state().chat().unwrap().pending[0].failed() && shows(h, "Retry")
    });
    // Once ghost exists, Retry delivers it.
    let (_ghost, mut ghost_events) = w.client("ghost", true);
    h.get_by_label("Retry").click();
    h.step();
    let m = next_message(&w, &mut ghost_events, "the retried message", |m| {
        matches!(m, ServerMessage::Message(_))
    });
    let ServerMessage::Message(m) = m else {
        unreachable!()
    };
    assert_eq!((m.from.as_str(), m.text_str()), ("nina", "boo"));
    wait_for(&mut h, "the acknowledgement", |h| {
        h.state().chat().unwrap().pending.is_empty()
    });
    assert!(!shows(&h, "not sent"));
    let delivered = h.state().chat().unwrap().conversations
        [&Target::User(Username::new("ghost").unwrap())]
        .entries
        .iter()
        .filter(|e| matches!(e, Entry::Message(m) if m.text_str() == "boo"))
        .count();
    assert_eq!(delivered, 1);
    // Stored once: the refused tries left nothing in ghost's history.
    let (ghost, mut ge) = w.client("ghost", false);
    w.rt.block_on(ghost.send(Request::History {
        with: Target::User(Username::new("nina").unwrap()),
        before: None,
        limit: 10,
        cursor: None,
    }))
    .unwrap();
    let page = next_message(&w, &mut ge, "ghost's history", |m| {
        matches!(m, ServerMessage::History { .. })
    });
    let ServerMessage::History { messages, .. } = page else {
        unreachable!()
    };
    assert_eq!(messages.len(), 1);

    // Another refused message, discarded.
    say(&mut h, "Message @ ghost", "/msg nobody hello?");
    // Both refusals (the conversation's history, then the message) are in:
    // nothing moves the button while it is clicked.
    wait_for(&mut h, "the refusals", |h| {
        shows(
            h,
            "Could not load the messages: there is no user called nobody.",
        ) && shows(h, "The server refused it: there is no user called nobody.")
    });
    h.get_by_label("Discard").click();
    h.step();
    wait_for(&mut h, "the message gone", |h| !shows(h, "hello?"));
    assert!(h.state().chat().unwrap().pending.is_empty());
}

/// The app's connection drops while the server runs on and another user
/// writes in the open room, in another room and directly to us: back
/// online, the app shows the missed messages in the open room and counts
/// the others as unread (once each, though the server's welcome counts
/// them too).
#[test]
fn after_a_dropped_connection_the_app_shows_what_it_missed() {
    let w = World::new();
    let proxy = Proxy::start(&w);
    let (olga, mut oe) = w.client("olga", true);
    let mut h = w.app_via(&proxy.addr);
    sign_in_trusting(&mut h, "pete", true);
    say(&mut h, "Message # general", "/join books");
    wait_for(&mut h, "the new room", |h| shows(h, "Message # books"));
    h.get_by_label("# general").click();
    h.step();
    w.rt.block_on(olga.send(Request::Join {
        room: RoomName::new("books").unwrap(),
    }))
    .unwrap();
    next_message(&w, &mut oe, "olga in books", |m| {
        matches!(m, ServerMessage::Joined { .. })
    });

    proxy.cut();
    wait_for(&mut h, "the reconnecting status", |h| {
        shows(h, "reconnecting")
    });
    let general = Target::Room(RoomName::general());
    let books = Target::Room(RoomName::new("books").unwrap());
    let pete = Target::User(Username::new("pete").unwrap());
    for (i, (to, text)) in [
        (&general, "missed in general 1"),
        (&general, "missed in general 2"),
        (&books, "missed in books"),
        (&pete, "missed secret"),
    ]
    .into_iter()
    .enumerate()
    {
        w.rt.block_on(olga.say(
            to.clone(),
            MessageText::new(text).unwrap(),
            ClientMsgId::new(format!("o{i}")).unwrap(),
        ))
        .unwrap();
        next_message(&w, &mut oe, "olga's ack", |m| {
            matches!(m, ServerMessage::Ack { .. })
        });
    }
    h.step();
    assert!(
        matches!(
            h.state().chat().unwrap().status,
            Status::Reconnecting { .. }
        ),
        "the app was away while olga wrote"
    );

    proxy.restore();
    wait_for(&mut h, "the missed messages in the open room", |h| {
        shows(h, "missed in general 1") && shows(h, "missed in general 2")
    });
    wait_for(&mut h, "the unread counts", |h| {
        shows(h, "# books  (1)") && shows(h, "@ olga  (1)")
    });
    h.get_by_label("# books  (1)").click();
    wait_for(&mut h, "the missed message in books", |h| {
        shows(h, "missed in books")
    });
    h.get_by_label("@ olga  (1)").click();
    wait_for(&mut h, "the missed direct message", |h| {
        shows(h, "missed secret")
    });
}

/// A pin file that does not parse stops every connection with a clear
/// message, before anything is sent: no first-contact prompt (which an
/// impostor would get if the damaged file counted as empty).
#[test]
fn damaged_pins_refuse_to_connect_without_a_trust_prompt() {
    let w = World::new();
    let config = w.dir.path().join("config");
    std::fs::create_dir_all(&config).unwrap();
    let pins = config.join("known_servers.json");
    std::fs::write(&pins, "{\"10.0.0.1:7878\": \"79c7d5").unwrap();
    let mut h = w.app();
    sign_in(&mut h, "quinn", PASSWORD, true);
    wait_for(&mut h, "the refusal", |h| shows(h, "Cove will not connect"));
    assert!(shows(&h, "known_servers.json is damaged"));
    assert!(shows(&h, "Repair the file, or delete it"));
    for _ in 0..10 {
        h.step();
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(!shows(&h, "Trust this server"));
    assert!(!shows(&h, "First connection to"));
    assert!(h.state().chat().is_none());
    // Nothing was sent (the name is still free) and the file is untouched.
    drop(w.client("quinn", true));
    assert_eq!(
        std::fs::read_to_string(&pins).unwrap(),
        "{\"10.0.0.1:7878\": \"79c7d5"
    );
}

/// The connection drops with a message still unsent, and the reconnect
/// finds the server presenting another key: the app refuses it, and the
/// session has ended for good. The message is then shown as not sent, with
/// why, Retry and Discard, not "sending" forever.
#[test]
fn a_message_pending_when_the_session_ends_for_good_is_shown_not_sent() {
    let w = World::new();
    let proxy = Proxy::start(&w);
    let mut h = w.app_via(&proxy.addr);
    sign_in_trusting(&mut h, "quinn", true);

    proxy.cut();
    wait_for(&mut h, "the reconnecting status", |h| {
        shows(h, "reconnecting")
    });
    say(&mut h, "Message # general", "words in the dark");
    wait_for(&mut h, "the pending message", |h| shows(h, "sending"));
    // The address now presents another key, as an impostor would.
    let other = cove_common::ServerIdentity::generate().public_key();
    std::fs::write(
        w.dir.path().join("config").join("known_servers.json"),
        format!(r#"{{"{}":"{}"}}"#, proxy.addr, other.to_hex()),
    )
    .unwrap();
    proxy.restore();
    wait_for(&mut h, "the refusal of the changed key", |h| {
        shows(h, "offline: the server's key changed")
    });
    wait_for(&mut h, "the message shown as not sent", |h| {
        shows(h, "not sent") && shows(h, "Not sent: the server's key changed.")
    });
    assert!(!shows(&h, "sending"), "nothing is left sending");
    assert!(shows(&h, "words in the dark"));
    assert!(h.state().chat().unwrap().pending[0].failed());

    // Retry finds no connection: the message stays not sent.
    h.get_by_label("Retry").click();
    for _ in 0..5 {
        h.step();
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    wait_for(&mut h, "the retry to fail again", |h| {
        shows(h, "Not sent: the server's key changed.")
    });
    h.get_by_label("Discard").click();
    h.step();
    assert!(h.state().chat().unwrap().pending.is_empty());
    h.step();
    assert!(!shows(&h, "words in the dark"));
}
