//! Edits, deletions, replies and reactions on the chat screen, driven as
//! a person drives it (right-click or hover a message, pick an action,
//! type, press Enter or Esc), with a prepared state standing in for the
//! server: each test checks the request the app would send, then answers
//! it as the server does.
#![allow(clippy::unwrap_used, missing_docs)]

use cove_client::state::{ChatState, RequestId};
use cove_client::ui::chat::{ChatAction, ChatView};
use cove_common::proto::{ChatMessage, Quote, Reaction, RoomInfo};
use cove_common::{
    ClientMsgId, Emoji, MessageText, Request, RoomName, ServerMessage, Target, Username,
};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

fn general() -> Target {
    Target::Room(RoomName::general())
}

fn u(name: &str) -> Username {
    Username::new(name).unwrap()
}

fn msg(id: u64, from: &str, text: &str) -> ChatMessage {
    ChatMessage::new(
        id,
        1_763_800_000_000 + id * 1_000,
        u(from),
        general(),
        MessageText::new(text).unwrap(),
    )
}

fn page(messages: Vec<ChatMessage>, more: bool) -> ServerMessage {
    ServerMessage::History {
        id: 1,
        with: general(),
        messages: messages.into_iter().rev().collect(),
        more,
        unreadable: 0,
        cursor: None,
    }
}

/// Meg's view of #general with these messages (oldest first) loaded.
fn room_with(messages: Vec<ChatMessage>, more: bool) -> ChatState {
    moderated_room_with(messages, more, None)
}

/// The same, with Meg's role in the room.
fn moderated_room_with(
    messages: Vec<ChatMessage>,
    more: bool,
    role: Option<cove_common::proto::Role>,
) -> ChatState {
    let info = RoomInfo {
        name: RoomName::general(),
        members: 3,
        online: 3,
        unread: 0,
        mentions: 0,
        private: false,
        topic: None,
        role,
    };
    let mut s = ChatState::new(u("meg"), vec![info]);
    s.apply(page(messages, more));
    s
}

/// The chat screen with its state, doing with each action what the app
/// does.
struct Screen {
    view: ChatView,
    state: ChatState,
}

impl Screen {
    fn show(&mut self, ui: &mut egui::Ui) {
        for action in self.view.show(ui, &self.state, None) {
            let s = &mut self.state;
            match action {
                ChatAction::Submit(text) => {
                    s.say(
                        s.current.clone(),
                        MessageText::new(text.trim_end()).unwrap(),
                    );
                }
                ChatAction::Reply { quote, text } => {
                    s.reply(s.current.clone(), MessageText::new(text).unwrap(), quote);
                }
                ChatAction::Edit { with, id, text } => {
                    s.edit(with, id, MessageText::new(text.trim_end()).unwrap());
                }
                ChatAction::Delete { with, id } => {
                    s.delete(with, id);
                }
                ChatAction::React {
                    with,
                    id,
                    emoji,
                    remove,
                } => {
                    s.react(with, id, emoji, remove);
                }
                ChatAction::JumpTo(id) => s.jump_to(s.current.clone(), id),
                ChatAction::LoadOlder => s.load_older(),
                _ => {}
            }
        }
    }
}

fn screen(state: ChatState) -> Harness<'static, Screen> {
    // Rows are measured as they are first drawn: a frame or two more
    // after lines arrive.
    let mut h = Harness::builder()
        .with_size([1000.0, 700.0])
        .with_max_steps(24)
        .build_ui_state(
            |ui, s: &mut Screen| s.show(ui),
            Screen {
                view: ChatView::default(),
                state,
            },
        );
    h.run();
    h
}

/// The requests the screen queued, leaving reads and member lists aside.
fn sent(h: &mut Harness<'_, Screen>) -> Vec<(RequestId, Request)> {
    h.state_mut()
        .state
        .take_outbox()
        .into_iter()
        .filter(|(_, r)| !matches!(r, Request::Read { .. } | Request::Members { .. }))
        .collect()
}

fn ack(h: &mut Harness<'_, Screen>, id: RequestId, client_id: ClientMsgId, at: u64) {
    h.state_mut().state.on_reply(
        id,
        ServerMessage::Ack {
            id: 0,
            client_id,
            message_id: at,
            ts: at,
        },
    );
    h.run();
}

fn shows(h: &Harness<'_, Screen>, label: &str) -> bool {
    h.query_by_label(label).is_some()
}

fn input(h: &Harness<'_, Screen>) -> String {
    h.state().view.compose.input.clone()
}

/// Right-click, Edit: the text goes into the message box under "Editing
/// message — Esc to cancel"; Enter saves it, the message shows the new
/// text with "(edited)". Esc gives back what was typed before; Up in an
/// empty box edits the last message of the user's.
#[test]
fn edit_a_message_from_its_menu_and_with_up() {
    let mut h = screen(room_with(
        vec![
            msg(1, "bob", "lunch at noon?"),
            msg(2, "meg", "sure, see yuo there"),
        ],
        false,
    ));
    h.get_by_label("sure, see yuo there").click_secondary();
    h.run();
    h.get_by_label("Edit").click();
    h.run();
    assert!(shows(&h, "Editing message — Esc to cancel"));
    assert_eq!(input(&h), "sure, see yuo there");
    // The cursor is at the end, as in every chat app.
    for _ in 0..9 {
        h.key_press(egui::Key::Backspace);
    }
    h.get_by_label("Message # general").type_text("you there!");
    h.run();
    h.key_press(egui::Key::Enter);
    h.run();
    let out = sent(&mut h);
    let [
        (
            id,
            Request::Edit {
                client_id,
                message_id: 2,
                text,
                with,
            },
        ),
    ] = &out[..]
    else {
        panic!("{out:?}")
    };
    assert_eq!((text.as_str(), with), ("sure, see you there!", &general()));
    assert!(!shows(&h, "Editing message — Esc to cancel"));
    // Shown at once, before the server answers.
    assert!(shows(&h, "sure, see you there!"));
    assert!(shows(&h, "(edited)"));
    ack(&mut h, *id, client_id.clone(), 10);
    assert!(shows(&h, "sure, see you there!") && shows(&h, "(edited)"));

    // A draft waits while another edit happens, and Esc cancels.
    h.get_by_label("Message # general").focus();
    h.run();
    h.get_by_label("Message # general")
        .type_text("half a thought");
    h.run();
    h.get_by_label("sure, see you there!").click_secondary();
    h.run();
    h.get_by_label("Edit").click();
    h.run();
    assert_eq!(input(&h), "sure, see you there!");
    h.key_press(egui::Key::Escape);
    h.run();
    assert!(!shows(&h, "Editing message — Esc to cancel"));
    assert_eq!(input(&h), "half a thought");
    assert!(sent(&mut h).is_empty(), "nothing sent");

    // Up in the empty box edits the last message of the user's.
    h.state_mut().view.compose.input.clear();
    h.get_by_label("Message # general").focus();
    h.run();
    h.key_press(egui::Key::ArrowUp);
    h.run();
    assert!(shows(&h, "Editing message — Esc to cancel"));
    assert_eq!(input(&h), "sure, see you there!");
    // Sent unchanged: nothing to send.
    h.key_press(egui::Key::Enter);
    h.run();
    assert!(sent(&mut h).is_empty());
    assert!(!shows(&h, "Editing message — Esc to cancel"));
}

/// Hover, Delete: the app asks first; Cancel keeps the message, "Delete
/// for everyone" sends the deletion and leaves a tombstone. Others'
/// messages offer no Edit or Delete.
#[test]
fn delete_a_message_after_confirming() {
    let mut h = screen(room_with(
        vec![msg(1, "bob", "who took my mug"), msg(2, "meg", "not me")],
        false,
    ));
    h.get_by_label("who took my mug").hover();
    h.run();
    assert!(shows(&h, "Reply") && shows(&h, "React"));
    assert!(!shows(&h, "Edit") && !shows(&h, "Delete"), "bob's message");

    h.get_by_label("not me").hover();
    h.run();
    h.get_by_label("Delete").click();
    h.run();
    assert!(shows(&h, "Delete this message?"));
    h.get_by_label("Cancel").click();
    h.run();
    assert!(!shows(&h, "Delete this message?"));
    assert!(sent(&mut h).is_empty(), "one misclick deletes nothing");

    h.get_by_label("not me").hover();
    h.run();
    h.get_by_label("Delete").click();
    h.run();
    h.get_by_label("Delete for everyone").click();
    h.run();
    let out = sent(&mut h);
    let [
        (
            id,
            Request::Delete {
                client_id,
                message_id: 2,
                ..
            },
        ),
    ] = &out[..]
    else {
        panic!("{out:?}")
    };
    assert!(shows(&h, "message deleted"));
    assert!(!shows(&h, "not me"));
    ack(&mut h, *id, client_id.clone(), 10);
    assert!(shows(&h, "message deleted"));
    // A tombstone offers nothing to do.
    h.get_by_label("message deleted").hover();
    h.run();
    assert!(!shows(&h, "Reply"));
}

/// A moderator (or the owner) deletes someone else's message from its
/// menu; they cannot edit it.
#[test]
fn a_moderator_deletes_someone_elses_message() {
    let mut h = screen(moderated_room_with(
        vec![msg(1, "bob", "buy cheap watches")],
        false,
        Some(cove_common::proto::Role::Moderator),
    ));
    h.get_by_label("buy cheap watches").hover();
    h.run();
    assert!(!shows(&h, "Edit"), "not theirs to edit");
    h.get_by_label("Delete").click();
    h.run();
    h.get_by_label("Delete for everyone").click();
    h.run();
    let out = sent(&mut h);
    assert!(
        matches!(&out[..], [(_, Request::Delete { message_id: 1, .. })]),
        "{out:?}"
    );
}

/// "Copy text" in a message's menu puts its whole text on the clipboard.
#[test]
fn copy_a_whole_message_from_its_menu() {
    let long = format!("the plan: {}", "step by step ".repeat(20));
    let mut h = screen(room_with(vec![msg(1, "bob", &long)], false));
    h.get_by_label(long.as_str()).click_secondary();
    h.run();
    h.get_by_label("Copy text").click();
    h.step();
    let copied = h
        .output()
        .platform_output
        .commands
        .iter()
        .any(|c| matches!(c, egui::OutputCommand::CopyText(t) if *t == long));
    assert!(copied, "{:?}", h.output().platform_output.commands);
}

/// A refused edit is no longer shown, and the conversation says why.
#[test]
fn a_refused_edit_says_why() {
    let mut h = screen(room_with(vec![msg(2, "meg", "first try")], false));
    h.get_by_label("first try").click_secondary();
    h.run();
    h.get_by_label("Edit").click();
    h.run();
    h.get_by_label("Message # general").type_text(" again");
    h.key_press(egui::Key::Enter);
    h.run();
    let (id, _) = sent(&mut h).pop().unwrap();
    assert!(shows(&h, "first try again"));
    h.state_mut().state.on_reply(
        id,
        ServerMessage::error(
            Some(3),
            cove_common::ErrorCode::NoSuchMessage,
            "no message 2 in this conversation",
        ),
    );
    h.run();
    assert!(shows(&h, "first try") && !shows(&h, "first try again"));
    assert!(shows(
        &h,
        "Could not edit your message: no message 2 in this conversation."
    ));
}

/// Reply: a bar says to whom, the message sent carries `reply_to`; a
/// reply shows the quote of its original, and a click on the quote loads
/// older messages until the original is there and shows it.
#[test]
fn reply_and_jump_to_the_original() {
    let mut reply = msg(300, "cat", "yes, with tests");
    reply.reply_to = Some(Quote {
        id: 5,
        from: u("bob"),
        text: Some("shall we ship the release on friday".into()),
    });
    let mut newer: Vec<ChatMessage> = (200..260)
        .map(|i| msg(i, "dan", &format!("chatter {i}")))
        .collect();
    newer.push(reply);
    let mut h = screen(room_with(newer, true));
    h.get_by_label("chatter 259").hover();
    h.run();
    h.get_by_label("Reply").click();
    h.run();
    assert!(shows(&h, "Replying to dan: chatter 259"));
    h.get_by_label("Message # general").type_text("agreed");
    h.key_press(egui::Key::Enter);
    h.run();
    let out = sent(&mut h);
    assert!(
        matches!(&out[..], [(_, Request::Send { reply_to: Some(259), text: Some(text), .. })] if text.as_str() == "agreed"),
        "{out:?}"
    );
    assert!(!shows(&h, "Replying to dan: chatter 259"));

    // The quote of cat's reply: its original is not loaded.
    assert!(!h.state().state.current_conversation().unwrap().has(5));
    h.get_by_label("bob: shall we ship the release on friday")
        .click();
    h.run();
    let out = sent(&mut h);
    let [
        (
            id,
            Request::History {
                before: Some(200), ..
            },
        ),
    ] = &out[..]
    else {
        panic!("{out:?}")
    };
    // The page in between first, then the one holding the original.
    h.state_mut().state.on_reply(
        *id,
        page(
            (100..200)
                .map(|i| msg(i, "dan", &format!("older {i}")))
                .collect(),
            true,
        ),
    );
    h.run();
    let out = sent(&mut h);
    let [
        (
            id,
            Request::History {
                before: Some(100), ..
            },
        ),
    ] = &out[..]
    else {
        panic!("{out:?}")
    };
    let mut oldest: Vec<ChatMessage> = (1..100)
        .map(|i| msg(i, "dan", &format!("old {i}")))
        .collect();
    oldest[4] = msg(5, "bob", "shall we ship the release on friday");
    h.state_mut().state.on_reply(*id, page(oldest, false));
    h.run();
    assert!(
        shows(&h, "shall we ship the release on friday"),
        "scrolled to the original"
    );
    assert!(!shows(&h, "chatter 259"), "away from the end");
    assert!(sent(&mut h).is_empty(), "no more pages than needed");
}

/// A quote whose original was deleted says so.
#[test]
fn a_quote_of_a_deleted_message_says_so() {
    let mut reply = msg(3, "cat", "what did he say");
    reply.reply_to = Some(Quote {
        id: 2,
        from: u("bob"),
        text: None,
    });
    let deleted = ChatMessage {
        text: None,
        deleted: Some(1),
        ..msg(2, "bob", "x")
    };
    let h = screen(room_with(vec![deleted, reply], false));
    assert!(shows(&h, "bob: deleted message"));
    assert!(shows(&h, "message deleted"));
}

/// React opens the picker; a pick sends the reaction, a chip "👍 1" shows
/// it; a click on the chip takes it back. Others' reactions count on the
/// same chip.
#[test]
fn react_and_take_it_back() {
    let mut lunch = msg(1, "bob", "pizza?");
    lunch.reactions = vec![Reaction {
        emoji: Emoji::new("🎉").unwrap(),
        count: 2,
        users: vec![u("cat"), u("dan")],
        mine: false,
    }];
    let mut h = screen(room_with(vec![lunch], false));
    assert!(shows(&h, "🎉 2"));
    h.get_by_label("pizza?").click_secondary();
    h.run();
    h.get_by_label("React").click();
    h.run();
    assert!(shows(&h, "Add a reaction"));
    h.get_by_label("👍 thumbs up").click();
    h.run();
    assert!(!shows(&h, "Add a reaction"), "closed once picked");
    let out = sent(&mut h);
    let [
        (
            id,
            Request::React {
                client_id,
                message_id: 1,
                emoji,
                remove: false,
                ..
            },
        ),
    ] = &out[..]
    else {
        panic!("{out:?}")
    };
    assert_eq!(emoji.as_str(), "👍");
    assert!(shows(&h, "👍 1"), "shown at once");
    ack(&mut h, *id, client_id.clone(), 10);
    assert!(shows(&h, "👍 1"));

    // Someone else adds the same: one chip, counted.
    h.state_mut()
        .state
        .apply(ServerMessage::Change(cove_common::proto::Change {
            id: 11,
            ts: 11,
            from: u("cat"),
            to: general(),
            message_id: 1,
            what: cove_common::proto::ChangeKind::React {
                emoji: Emoji::new("👍").unwrap(),
                remove: false,
            },
        }));
    h.run();
    assert!(shows(&h, "👍 2"));

    // Joining in on the 🎉 by its chip, then taking the 👍 back.
    h.get_by_label("🎉 2").click();
    h.run();
    let out = sent(&mut h);
    assert!(
        matches!(&out[..], [(_, Request::React { remove: false, .. })]),
        "{out:?}"
    );
    assert!(shows(&h, "🎉 3"));
    h.get_by_label("👍 2").click();
    h.run();
    let out = sent(&mut h);
    let [
        (
            _,
            Request::React {
                emoji,
                remove: true,
                ..
            },
        ),
    ] = &out[..]
    else {
        panic!("{out:?}")
    };
    assert_eq!(emoji.as_str(), "👍");
    assert!(shows(&h, "👍 1"));

    // The picker's search finds more than the usual few.
    h.get_by_label("pizza?").click_secondary();
    h.run();
    h.get_by_label("React").click();
    h.run();
    h.get_by_label("Search emoji").type_text("rocket");
    h.run();
    h.get_by_label("🚀 rocket").click();
    h.run();
    let out = sent(&mut h);
    assert!(
        matches!(&out[..], [(_, Request::React { emoji, .. })] if emoji.as_str() == "🚀"),
        "{out:?}"
    );
}
