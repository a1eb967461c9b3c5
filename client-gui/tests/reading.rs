//! Messages that read like a chat app's (issue 16): links that open in
//! the browser, light markup, the "New messages" line, the text size.
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use cove_client::state::ChatState;
use cove_client::ui::chat::ChatView;
use cove_common::proto::{ChatMessage, RoomInfo};
use cove_common::{MessageText, RoomName, ServerMessage, Target, Username};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use support::{World, say_in_general, shows, sign_in_trusting, type_into, wait_for};

/// `#general` with bob's messages `texts`, a minute apart, oldest first.
fn room_with(texts: &[&str]) -> ChatState {
    let general = RoomInfo {
        name: RoomName::general(),
        members: 2,
        online: 1,
        unread: 0,
        mentions: 0,
        private: false,
        topic: None,
        role: None,
    };
    let mut s = ChatState::new(Username::new("alice").unwrap(), vec![general]);
    let messages = texts
        .iter()
        .enumerate()
        .rev()
        .map(|(i, t)| {
            ChatMessage::new(
                i as u64 + 1,
                1_763_800_000_000 + i as u64 * 60_000,
                Username::new("bob").unwrap(),
                Target::Room(RoomName::general()),
                MessageText::new(*t).unwrap(),
            )
        })
        .collect();
    s.apply(ServerMessage::History {
        id: 1,
        with: Target::Room(RoomName::general()),
        messages,
        more: false,
        unreadable: 0,
        cursor: None,
    });
    s
}

fn view_of(s: ChatState) -> Harness<'static, ChatView> {
    Harness::builder()
        .with_size([1000.0, 700.0])
        .build_ui_state(
            move |ui, v: &mut ChatView| {
                v.show(ui, &s, None);
            },
            ChatView::default(),
        )
}

/// The addresses the frames since the last call asked to open, over
/// `steps` frames.
fn opened(h: &mut Harness<'_, ChatView>, steps: usize) -> Vec<String> {
    let mut urls = Vec::new();
    for _ in 0..steps {
        h.step();
        for c in &h.output().platform_output.commands {
            if let egui::OutputCommand::OpenUrl(o) = c {
                urls.push(o.url.clone());
            }
        }
    }
    urls
}

/// A link in a message is shown without the punctuation after it and,
/// clicked, asks for its address to be opened (eframe hands it to the
/// browser); a bare `www.` host opens as https.
#[test]
fn clicking_a_link_opens_its_address() {
    let mut h = view_of(room_with(&[
        "docs at https://example.org/guide_(v2), then lunch",
        "or www.rust-lang.org!",
    ]));
    h.run();
    // The text reads as typed, and the link is a link of its own.
    assert!(
        h.query_by_label("docs at https://example.org/guide_(v2), then lunch")
            .is_some()
    );
    assert!(
        h.query_by_role_and_label(egui::Role::Link, "https://example.org/guide_(v2)")
            .is_some()
    );
    assert_eq!(opened(&mut h, 2), Vec::<String>::new(), "nothing yet");
    h.get_by_label("https://example.org/guide_(v2)").click();
    assert_eq!(opened(&mut h, 3), ["https://example.org/guide_(v2)"]);
    h.get_by_label("www.rust-lang.org").click();
    assert_eq!(opened(&mut h, 3), ["https://www.rust-lang.org"]);
}

/// The link covers its own words only: clicking the words before it
/// opens nothing.
#[test]
fn clicking_beside_a_link_opens_nothing() {
    let mut h = view_of(room_with(&["https://example.org and then many more words"]));
    h.run();
    let text = h
        .get_by_label("https://example.org and then many more words")
        .rect();
    let link = h.get_by_label("https://example.org").rect();
    assert!(link.width() < text.width() / 2.0, "{link:?} in {text:?}");
    let beside = egui::pos2(text.right() - 5.0, text.center().y);
    h.event(egui::Event::PointerMoved(beside));
    for pressed in [true, false] {
        h.event(egui::Event::PointerButton {
            pos: beside,
            button: egui::PointerButton::Primary,
            pressed,
            modifiers: egui::Modifiers::default(),
        });
    }
    assert_eq!(opened(&mut h, 3), Vec::<String>::new());
}

/// Markers read as markup are not shown; those inside words stay; a
/// fenced block of code is a block of its own under the text before it.
#[test]
fn markup_is_shown_without_its_markers() {
    let mut h = view_of(room_with(&[
        "*bold* _italic_ `code` and snake_case_name 2*3*4",
        "look:\n```\nlet x = 1;\n```\nthat's it",
    ]));
    h.run();
    assert!(
        h.query_by_label("bold italic code and snake_case_name 2*3*4")
            .is_some()
    );
    let before = h.get_by_label("look:").rect();
    let code = h.get_by_label("let x = 1;").rect();
    let after = h.get_by_label("that's it").rect();
    assert!(before.bottom() <= code.top(), "{before:?} above {code:?}");
    assert!(code.bottom() <= after.top(), "{code:?} above {after:?}");
    assert!(
        (before.left() - code.left()).abs() < 10.0,
        "in the text's column: {before:?}, {code:?}"
    );
}

/// Bob writes in `#general` while Alice is in `#rust`: opening `#general`
/// shows "New messages" between what she had read and the first of his
/// new messages; it stays while she reads on, and is gone once she comes
/// back after reading.
#[test]
fn the_new_messages_line_marks_the_first_unread_message() {
    let w = World::new();
    let mut h = w.app();
    sign_in_trusting(&mut h, "alice", true);
    let mut bob = w.client("bob", true);
    let read = say_in_general(&w, &mut bob, "said before", 0);
    wait_for(&mut h, "the message read", |h| {
        let chat = h.state().chat().unwrap();
        chat.conversations[&Target::Room(RoomName::general())].read_up_to >= read
    });
    assert!(!shows(&h, "New messages"), "nothing new while reading");

    type_into(&mut h, "Message # general", "/join rust");
    h.key_press(egui::Key::Enter);
    let rust = Target::Room(RoomName::new("rust").unwrap());
    wait_for(&mut h, "#rust", |h| {
        h.state().chat().unwrap().current == rust
    });
    say_in_general(&w, &mut bob, "first new", 1);
    say_in_general(&w, &mut bob, "second new", 2);
    wait_for(&mut h, "the badge", |h| shows(h, "# general  (2)"));

    h.get_by_label("# general  (2)").click();
    wait_for(&mut h, "the line", |h| {
        shows(h, "New messages") && shows(h, "second new")
    });
    let y = |h: &Harness<'_, _>, label: &str| h.get_by_label(label).rect();
    let (old, line, first) = (
        y(&h, "said before"),
        y(&h, "New messages"),
        y(&h, "first new"),
    );
    assert!(old.bottom() <= line.top(), "{old:?} above {line:?}");
    assert!(line.bottom() <= first.top(), "{line:?} above {first:?}");

    // It stays while she is here, where it was.
    say_in_general(&w, &mut bob, "third new", 3);
    wait_for(&mut h, "the third", |h| shows(h, "third new"));
    let line = y(&h, "New messages");
    assert!(line.bottom() <= y(&h, "first new").top());
    assert!(y(&h, "said before").bottom() <= line.top());

    // Away and back: read, no line.
    h.get_by_label("# rust").click();
    wait_for(&mut h, "#rust", |h| {
        h.state().chat().unwrap().current == rust
    });
    // Drawn as #rust: "# general" is then only in the side list.
    h.run();
    h.get_by_label("# general").click();
    wait_for(&mut h, "#general", |h| {
        h.state().chat().unwrap().current == Target::Room(RoomName::general())
    });
    h.run();
    assert!(shows(&h, "third new"));
    assert!(!shows(&h, "New messages"));
}

/// The text size in the settings zooms the window at once, is saved, and
/// is the size the app starts with next time.
#[test]
fn the_text_size_is_applied_saved_and_restored() {
    let w = World::new();
    let mut h = w.app();
    sign_in_trusting(&mut h, "alice", true);
    assert_eq!(h.ctx.zoom_factor(), 1.0);
    // A heading's height on the screen, in pixels (widgets are measured
    // in points, which the zoom makes larger).
    let body =
        |h: &Harness<'_, _>| h.get_by_label("Rooms").rect().height() * h.ctx.pixels_per_point();
    let normal = body(&h);

    h.get_by_label("Settings…").click();
    h.run();
    h.get_by_label("Large").click();
    h.run();
    assert_eq!(h.ctx.zoom_factor(), 1.15);
    let large = body(&h);
    assert!(large > normal * 1.1, "text grew: {normal} → {large}");
    let saved = std::fs::read_to_string(w.dir.path().join("config/settings.json")).unwrap();
    let saved: serde_json::Value = serde_json::from_str(&saved).unwrap();
    assert_eq!(saved["zoom"].as_f64().map(|z| z as f32), Some(1.15));
    drop(h);

    // The next start, with the same settings.
    let mut again = w.app();
    again.run();
    assert_eq!(again.ctx.zoom_factor(), 1.15);
}
