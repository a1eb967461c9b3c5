//! Keyboard-only use and labels in the real app, against a real server:
//! Tab walks the start screen and the chat screen in reading order and
//! Enter/Space press the focused button (a whole sign-in without the
//! mouse); every control of the start screen, the chat screen and the
//! settings has a name a screen reader can say; a fingerprint's eight
//! groups are never wrapped with the last one alone on its line.
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use cove_client::CoveApp;
use cove_common::{ClientMsgId, MessageText, RoomName, Target};
use egui::accesskit::Role;
use egui::{Key, Modifiers};
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use support::{World, next_message, shows, sign_in_trusting, wait_for};

/// The name and role of the widget with the keyboard focus.
fn focused(h: &Harness<'_, CoveApp>) -> Option<(String, Role)> {
    h.query_by(|n| n.is_focused()).map(|n| {
        let node = n.accesskit_node();
        (node.label().unwrap_or_default(), node.role())
    })
}

fn focused_name(h: &Harness<'_, CoveApp>) -> String {
    focused(h).map(|(name, _)| name).unwrap_or_default()
}

/// Presses `key` and lets the app settle (a spinner never settles: then
/// as many frames as a test's harness allows).
fn press(h: &mut Harness<'_, CoveApp>, key: Key) {
    h.key_press(key);
    h.run_ok();
}

/// Types `text` into the focused field.
fn typed(h: &mut Harness<'_, CoveApp>, text: &str) {
    h.event(egui::Event::Text(text.into()));
    h.run_ok();
}

/// Presses Tab until the control named `name` has the focus; how many
/// presses that took.
fn tab_to(h: &mut Harness<'_, CoveApp>, name: &str) -> usize {
    let mut seen = Vec::new();
    for n in 1..=60 {
        press(h, Key::Tab);
        let now = focused_name(h);
        if now == name {
            return n;
        }
        seen.push(now);
    }
    panic!("Tab never reached {name:?}; it went through {seen:?}");
}

/// The names Tab goes through, from nothing focused, until it comes back
/// to the first one.
fn tab_cycle(h: &mut Harness<'_, CoveApp>) -> Vec<String> {
    h.event(egui::Event::Key {
        key: Key::Escape,
        physical_key: None,
        pressed: true,
        repeat: false,
        modifiers: Modifiers::NONE,
    });
    h.run_ok();
    let mut names: Vec<String> = Vec::new();
    for _ in 0..80 {
        press(h, Key::Tab);
        let now = focused_name(h);
        if names.first() == Some(&now) {
            return names;
        }
        names.push(now);
    }
    panic!("Tab did not come round: {names:?}");
}

/// Where `name` comes in `order`.
fn at(order: &[String], name: &str) -> usize {
    order
        .iter()
        .position(|n| n == name)
        .unwrap_or_else(|| panic!("{name:?} not reached by Tab: {order:?}"))
}

#[test]
fn tab_walks_the_start_screen_and_enter_and_space_press_buttons() {
    let w = World::new();
    let mut h = w.app();
    h.state_mut().login_form().username.clear();
    let order = tab_cycle(&mut h);
    let mut expected = vec!["Log in", "Register", "Server", "Username", "Password"];
    if cfg!(feature = "host") {
        expected.push("Host a chat on this computer");
    }
    expected.push("Sign in");
    assert_eq!(order, expected);

    // A whole registration without the mouse: Space on "Register", the
    // fields typed into as Tab reaches them, Enter on the button.
    press(&mut h, Key::Escape);
    tab_to(&mut h, "Register");
    press(&mut h, Key::Space);
    assert!(shows(&h, "Create account"), "Space pressed Register");
    tab_to(&mut h, "Username");
    typed(&mut h, "alice");
    tab_to(&mut h, "Password");
    typed(&mut h, support::PASSWORD);
    tab_to(&mut h, "Confirm password");
    typed(&mut h, support::PASSWORD);
    tab_to(&mut h, "Create account");
    press(&mut h, Key::Enter);
    wait_for(&mut h, "trust prompt", |h| shows(h, "Trust this server"));
    tab_to(&mut h, "Trust this server");
    press(&mut h, Key::Enter);
    wait_for(&mut h, "chat screen", |h| shows(h, "connected"));
}

#[test]
fn tab_walks_the_chat_screen_in_reading_order_and_space_presses() {
    let w = World::new();
    let mut h = w.app();
    sign_in_trusting(&mut h, "alice", true);
    let order = tab_cycle(&mut h);
    // The top bar, the side list, the message box, the conversation's
    // header: each reachable, in that order.
    let names = [
        "Search messages",
        "Settings…",
        "# general",
        "Join a room by name",
        "Join",
        "New room…",
        "Message someone by name",
        "Message",
        "Attach a file",
        "Message # general",
        "Mute this conversation",
    ];
    let places: Vec<usize> = names.iter().map(|n| at(&order, n)).collect();
    assert!(
        places.windows(2).all(|w| w[0] < w[1]),
        "{names:?} in this order, not {order:?}"
    );
    // The message box, reached by Tab, takes what is typed.
    tab_to(&mut h, "Message # general");
    assert_eq!(focused(&h).map(|(_, r)| r), Some(Role::MultilineTextInput));
    // Tab leaves the message box (it does not type a tab into it).
    press(&mut h, Key::Tab);
    assert_ne!(focused_name(&h), "Message # general");
    assert_eq!(h.state().chat().unwrap().current, general());
    // Space on the header's toggle mutes, Enter on Settings… opens them.
    tab_to(&mut h, "Mute this conversation");
    press(&mut h, Key::Space);
    wait_for(&mut h, "muted", |h| shows(h, "Unmute this conversation"));
    tab_to(&mut h, "Settings…");
    press(&mut h, Key::Enter);
    assert!(shows(&h, "Notifications"), "Enter opened the settings");
}

#[test]
fn tab_reaches_a_message_and_its_actions() {
    let w = World::new();
    let mut h = w.app();
    sign_in_trusting(&mut h, "alice", true);
    let (bob, mut events) = w.client("bob", true);
    let id =
        w.rt.block_on(bob.say(
            general(),
            MessageText::new("anyone there?").unwrap(),
            ClientMsgId::new("b1").unwrap(),
        ))
        .unwrap();
    next_message(&w, &mut events, "the ack", |m| m.answers() == Some(id));
    wait_for(&mut h, "the message", |h| shows(h, "anyone there?"));
    h.run_ok();
    h.remove_cursor();
    press(&mut h, Key::Escape);
    // Tab stops at the message, named as a screen reader says it.
    let mut n = 0;
    while !focused_name(&h).ends_with(": anyone there?") {
        press(&mut h, Key::Tab);
        n += 1;
        assert!(n < 40, "Tab never reached the message");
    }
    assert_eq!(focused(&h).unwrap().1, Role::ListItem);
    // Its toolbar shows without a pointer, and Tab goes through it.
    assert!(h.query_by_label("React").is_some(), "the toolbar shows");
    tab_to(&mut h, "Reply");
    press(&mut h, Key::Enter);
    assert!(shows(&h, "Replying to bob"), "Enter pressed Reply");
    // Off the message, its toolbar goes.
    press(&mut h, Key::Escape);
    tab_to(&mut h, "Settings…");
    assert!(h.query_by_label("React").is_none());
}

fn general() -> Target {
    Target::Room(RoomName::general())
}

/// Roles of things a person operates.
const CONTROLS: [Role; 12] = [
    Role::Button,
    Role::DefaultButton,
    Role::TextInput,
    Role::MultilineTextInput,
    Role::SearchInput,
    Role::PasswordInput,
    Role::CheckBox,
    Role::RadioButton,
    Role::ComboBox,
    Role::Link,
    Role::MenuItem,
    Role::Slider,
];

/// Every control on screen with no name, or a name without a letter (a
/// lone "×" or "📎" says nothing to a screen reader): role and name.
fn unnamed(h: &Harness<'_, CoveApp>) -> Vec<(Role, String)> {
    h.query_all_by(|n| CONTROLS.contains(&n.role()))
        .map(|n| {
            let node = n.accesskit_node();
            (node.role(), node.label().unwrap_or_default())
        })
        .filter(|(_, name)| !name.chars().any(char::is_alphabetic))
        .collect()
}

/// How many controls are on screen (so an empty walk fails).
fn controls(h: &Harness<'_, CoveApp>) -> usize {
    h.query_all_by(|n| CONTROLS.contains(&n.role())).count()
}

#[test]
fn every_control_of_the_main_screens_has_a_name() {
    let w = World::new();
    let mut h = w.app();
    h.run_ok();
    assert!(controls(&h) >= 6);
    assert_eq!(unnamed(&h), [], "the start screen");
    h.get_by_label("Register").click();
    h.run_ok();
    assert_eq!(unnamed(&h), [], "the start screen, registering");

    sign_in_trusting(&mut h, "alice", true);
    // A room open with a message with a link, a reply being written and
    // the message's toolbar shown (the pointer on it).
    let (bob, mut events) = w.client("bob", true);
    let id =
        w.rt.block_on(bob.say(
            general(),
            MessageText::new("see https://example.com *now*").unwrap(),
            ClientMsgId::new("b1").unwrap(),
        ))
        .unwrap();
    next_message(&w, &mut events, "the ack", |m| m.answers() == Some(id));
    wait_for(&mut h, "the message", |h| shows(h, "example.com"));
    let row = h
        .query_all_by(|n| {
            n.role() == Role::Label && n.value().is_some_and(|v| v.starts_with("see https"))
        })
        .next()
        .unwrap()
        .rect();
    h.hover_at(row.center());
    h.run_ok();
    assert!(controls(&h) >= 12);
    assert_eq!(unnamed(&h), [], "the chat screen");
    h.get_by_label("Reply").click();
    h.run_ok();
    assert!(shows(&h, "Replying to"));
    assert_eq!(unnamed(&h), [], "the chat screen, replying");
    // The reaction picker: each emoji named too ("👍 thumbs up").
    h.hover_at(row.center());
    h.run_ok();
    h.get_by_label("React").click();
    h.run_ok();
    assert!(shows(&h, "Add a reaction"));
    assert_eq!(unnamed(&h), [], "the reaction picker");
    press(&mut h, Key::Escape);
    h.get_by_label("Settings…").click();
    h.run_ok();
    assert!(shows(&h, "Notifications"));
    assert_eq!(unnamed(&h), [], "the settings");
}

/// The groups on each line the fingerprint `fp` is drawn on, as the
/// label's rows say (egui reports each laid-out row of a label to a
/// screen reader).
fn rows_of(h: &Harness<'_, CoveApp>, fp: &str) -> Vec<usize> {
    all_rows_of(h, fp)
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("{fp} not shown"))
}

/// [`rows_of`] for each label showing `fp`.
fn all_rows_of(h: &Harness<'_, CoveApp>, fp: &str) -> Vec<Vec<usize>> {
    let first = fp.split(' ').next().unwrap();
    let last = fp.rsplit(' ').next().unwrap();
    h.query_all_by(|n| {
        n.role() == Role::Label
            && n.value()
                .is_some_and(|v| v.starts_with(first) && v.ends_with(last))
    })
    .map(|node| {
        let rows: Vec<usize> = node
            .children()
            .filter(|c| c.accesskit_node().role() == Role::TextRun)
            .map(|c| {
                let text = c.accesskit_node().value().unwrap_or_default();
                text.split_whitespace().count()
            })
            .collect();
        assert!(!rows.is_empty(), "{fp}: no rows reported");
        rows
    })
    .collect()
}

/// Whole lines of four or all eight on one.
fn balanced(rows: &[usize]) -> bool {
    rows == [8] || rows == [4, 4]
}

#[test]
fn a_fingerprint_wraps_as_two_lines_of_four_or_not_at_all() {
    let w = World::new();
    let mut h = w.app();
    support::sign_in(&mut h, "alice", support::PASSWORD, true);
    wait_for(&mut h, "trust prompt", |h| shows(h, "Trust this server"));
    let fp = h.state_mut().login_form().trust.clone().unwrap().1;
    assert_eq!(fp.split(' ').count(), 8);
    // The prompt's large print does not fit its 360 points on one line.
    // Named as one line all the same (what a screen reader says, what a
    // search finds).
    assert!(h.query_by_label(&fp).is_some());
    let rows = rows_of(&h, &fp);
    assert!(balanced(&rows), "the trust prompt: {rows:?}");
    assert_eq!(rows, [4, 4]);
    // A narrow window: still whole halves (or quarters), never a group
    // alone.
    h.set_size(egui::vec2(330.0, 700.0));
    h.run_ok();
    let rows = rows_of(&h, &fp);
    assert!(
        rows.iter().all(|&r| r == rows[0]) && rows[0] >= 2,
        "narrow: {rows:?}"
    );
    h.set_size(egui::vec2(1000.0, 700.0));
    h.run_ok();
    h.get_by_label("Trust this server").click();
    wait_for(&mut h, "chat screen", |h| shows(h, "connected"));

    // Settings → Servers: the server in use and the pinned list.
    h.get_by_label("Settings…").click();
    h.run_ok();
    let all = all_rows_of(&h, &fp);
    assert_eq!(all.len(), 2, "in use and pinned: {all:?}");
    for rows in all {
        assert!(balanced(&rows), "the settings: {rows:?}");
    }
}
