//! The chat screen alone, driven headless with a prepared state.
#![allow(clippy::unwrap_used, missing_docs)]

use cove_client::state::{ChatState, Entry, RequestId};
use cove_client::ui::chat::{ChatAction, ChatView};
use cove_common::proto::{ChatMessage, Member, RoomInfo};
use cove_common::{
    ErrorCode, HistoryCursor, MessageText, Request, RoomName, ServerMessage, Target, Username,
};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

/// A room whose `n` messages arrive as one history page, newest first, as
/// after a login; every fifth message wraps onto several lines.
fn loaded_room(n: u64) -> ChatState {
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
    s.apply(page(0..n, false));
    s
}

/// A history page of the messages numbered `ids`, newest first.
fn page(ids: std::ops::Range<u64>, more: bool) -> ServerMessage {
    let messages = ids
        .rev()
        .map(|i| {
            ChatMessage::new(
                i + 1,
                1_763_800_000_000 + i * 1_000,
                Username::new("bob").unwrap(),
                Target::Room(RoomName::general()),
                MessageText::new(if i % 5 == 0 {
                    format!("line {i} {}", "that wraps across the pane ".repeat(12))
                } else {
                    format!("line {i}")
                })
                .unwrap(),
            )
        })
        .collect();
    ServerMessage::History {
        id: 1,
        with: Target::Room(RoomName::general()),
        messages,
        more,
        unreadable: 0,
        cursor: None,
    }
}

/// The chat screen alone, showing `s`.
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

/// Opening a room shows its newest message, whatever the heights of the
/// rows above it turn out to be once they are measured.
#[test]
fn a_loaded_room_opens_at_its_newest_message() {
    let mut h = view_of(loaded_room(120));
    h.run();
    assert!(
        h.query_by_label("line 119").is_some(),
        "the newest message is not on screen"
    );
    assert!(h.query_by_label("line 118").is_some());
}

/// The second and later lines of a long message start under its first
/// line, not at the left edge under the time.
#[test]
fn continuation_lines_align_with_the_text() {
    let mut h = view_of(loaded_room(20));
    h.run();
    let long = format!("line 15 {}", "that wraps across the pane ".repeat(12));
    let wrapped = h.get_by_label(&long).rect();
    let short = h.get_by_label("line 16").rect();
    assert!(wrapped.height() > 2.0 * short.height(), "it wraps");
    assert!(
        (wrapped.min.x - short.min.x).abs() < 1.0,
        "wrapped text starts at {}, a one-line text at {}",
        wrapped.min.x,
        short.min.x
    );
}

/// A run of messages from one person within a few minutes shows their name
/// once, with every text aligned; after a pause, or another person, the
/// name comes again.
#[test]
fn a_run_of_messages_from_one_person_shows_the_name_once() {
    let t0 = 1_763_800_000_000;
    let m = |id, from: &str, ts, text: &str| {
        ChatMessage::new(
            id,
            ts,
            Username::new(from).unwrap(),
            Target::Room(RoomName::general()),
            MessageText::new(text).unwrap(),
        )
    };
    let mut s = loaded_room(0);
    s.apply(ServerMessage::History {
        id: 1,
        with: Target::Room(RoomName::general()),
        messages: vec![
            m(5, "carol", t0 + 700_000, "and me"),
            m(4, "bob", t0 + 600_000, "after a break"),
            m(3, "bob", t0 + 120_000, "third"),
            m(2, "bob", t0 + 60_000, "second"),
            m(1, "bob", t0, "first"),
        ],
        more: false,
        unreadable: 0,
        cursor: None,
    });
    let mut h = view_of(s);
    h.run();
    assert_eq!(
        h.query_all_by_label("bob").count(),
        2,
        "the run, then after the break"
    );
    assert_eq!(h.query_all_by_label("carol").count(), 1);
    let x = |h: &Harness<'_, ChatView>, t: &str| h.get_by_label(t).rect().min.x;
    let (a, b) = (x(&h, "first"), x(&h, "third"));
    assert!((a - b).abs() < 1.0, "aligned: {a} against {b}");
}

/// A window in the background reads nothing: the newest message on screen
/// counts as read only once the window has the focus.
#[test]
fn only_a_focused_window_marks_the_newest_message_read() {
    let s = loaded_room(30);
    let mut h = Harness::builder()
        .with_size([1000.0, 700.0])
        .build_ui_state(
            move |ui, (view, seen): &mut (ChatView, usize)| {
                let actions = view.show(ui, &s, None);
                *seen += actions
                    .iter()
                    .filter(|a| **a == ChatAction::SeenNewest)
                    .count();
            },
            (ChatView::default(), 0usize),
        );
    h.input_mut()
        .viewports
        .entry(egui::ViewportId::ROOT)
        .or_default()
        .focused = Some(false);
    // The harness ran one frame while building, before the focus was set.
    h.state_mut().1 = 0;
    h.run();
    assert!(h.query_by_label("line 29").is_some(), "the newest is shown");
    assert_eq!(h.state().1, 0, "unfocused: not read");
    h.input_mut()
        .viewports
        .entry(egui::ViewportId::ROOT)
        .or_default()
        .focused = Some(true);
    h.run_steps(2);
    assert!(h.state().1 > 0, "focused: read");
}

/// The chat screen with its state, doing what the app does when the view
/// asks for older messages or sees the newest one.
struct Screen {
    view: ChatView,
    state: ChatState,
    pages_asked: usize,
    actions: Vec<ChatAction>,
}

impl Screen {
    fn new(state: ChatState) -> Self {
        Self {
            view: ChatView::default(),
            state,
            pages_asked: 0,
            actions: Vec::new(),
        }
    }

    fn show(&mut self, ui: &mut egui::Ui) {
        for action in self.view.show(ui, &self.state, None) {
            if action == ChatAction::LoadOlder {
                self.pages_asked += 1;
                self.state.load_older();
            }
            if action == ChatAction::SeenNewest {
                self.state.seen_newest(cove_common::time::now_ms());
                continue;
            }
            self.actions.push(action);
        }
    }
}

fn wheel(h: &mut Harness<'_, Screen>, pages: f32) {
    h.event(egui::Event::PointerMoved(egui::pos2(500.0, 300.0)));
    for _ in 0..10 {
        h.event(egui::Event::MouseWheel {
            unit: egui::MouseWheelUnit::Page,
            delta: egui::vec2(0.0, pages),
            modifiers: egui::Modifiers::default(),
            phase: egui::TouchPhase::Move,
            source: egui::MouseWheelSource::Unknown,
        });
        h.step();
    }
    h.run();
}

/// A room shown before its newest page has arrived (as right after
/// logging in): when the page lands, the view goes to its end and does not
/// take the frame in which the new rows start at the top for the reader
/// scrolling up.
#[test]
fn a_room_shown_before_its_page_arrives_asks_for_nothing_older() {
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
    let state = ChatState::new(Username::new("alice").unwrap(), vec![general]);
    let mut h = Harness::builder()
        .with_size([1000.0, 700.0])
        .build_ui_state(|ui, s: &mut Screen| s.show(ui), Screen::new(state));
    h.run();
    h.state_mut().state.apply(page(0..100, true));
    h.run_steps(12);
    assert!(h.query_by_label("line 99").is_some(), "at the newest");
    assert_eq!(h.state().pages_asked, 0, "nothing older asked for");
}

/// Scrolling to the top asks for one older page; when it arrives the view
/// stays on the lines the reader was at, so it does not ask for the next
/// page by itself.
#[test]
fn an_older_page_lands_above_what_is_being_read() {
    let mut state = loaded_room(0);
    state.apply(page(200..260, true));
    let mut h = Harness::builder()
        .with_size([1000.0, 700.0])
        .build_ui_state(|ui, s: &mut Screen| s.show(ui), Screen::new(state));
    h.run();
    assert_eq!(h.state().pages_asked, 0, "at the bottom nothing is asked");
    wheel(&mut h, 5.0);
    assert_eq!(h.state().pages_asked, 1, "the top asks for one page");
    assert!(h.query_by_label("line 201").is_some(), "at the top");
    h.state_mut().state.apply(page(100..200, true));
    // Long enough for the wheel's overscroll to spring back.
    for _ in 0..60 {
        h.step();
    }
    assert!(
        h.query_by_label("line 201").is_some(),
        "the view stayed on the line it showed"
    );
    assert!(
        h.query_by_label("line 101").is_none(),
        "not thrown to the new top"
    );
    assert_eq!(
        h.state().pages_asked,
        1,
        "no second page asked for by itself"
    );
}

/// An older page that the server refuses is not asked for again while the
/// reader stays at the top (no request every frame), but scrolling away
/// and back up asks again.
#[test]
fn a_refused_older_page_is_asked_again_by_scrolling_up_again() {
    let mut state = loaded_room(0);
    state.apply(page(200..260, true));
    let mut h = Harness::builder()
        .with_size([1000.0, 700.0])
        .build_ui_state(|ui, s: &mut Screen| s.show(ui), Screen::new(state));
    h.run();
    wheel(&mut h, 5.0);
    assert_eq!(h.state().pages_asked, 1);
    let (id, request) = h.state_mut().state.take_outbox().pop().unwrap();
    assert!(matches!(
        request,
        Request::History {
            before: Some(201),
            ..
        }
    ));
    h.state_mut().state.on_reply(
        id,
        ServerMessage::error(Some(9), ErrorCode::Internal, "internal error"),
    );
    for _ in 0..30 {
        h.step();
    }
    assert_eq!(h.state().pages_asked, 1, "not again by itself");
    let conv = h.state().state.current_conversation().unwrap();
    assert!(!conv.loading);
    assert!(conv.entries.iter().any(|e| matches!(
        e,
        Entry::Info { text, .. } if text == "Could not load the messages: internal error."
    )));
    wheel(&mut h, -1.0);
    wheel(&mut h, 5.0);
    assert_eq!(h.state().pages_asked, 2, "scrolling up again asks again");
}

/// `page` saying where the next one starts.
fn with_cursor(page: ServerMessage, next: &str) -> ServerMessage {
    let ServerMessage::History {
        id,
        with,
        messages,
        more,
        unreadable,
        ..
    } = page
    else {
        unreachable!()
    };
    ServerMessage::History {
        id,
        with,
        messages,
        more,
        unreadable,
        cursor: Some(HistoryCursor::new(next).unwrap()),
    }
}

/// The cursors of the history requests in the outbox, with their ids.
fn history_asks(state: &mut ChatState) -> Vec<(RequestId, Option<HistoryCursor>)> {
    state
        .take_outbox()
        .into_iter()
        .filter_map(|(id, r)| match r {
            Request::History { cursor, .. } => Some((id, cursor)),
            _ => None,
        })
        .collect()
}

/// Scrolling to the top asks for an older page from the last page's
/// cursor. When that page comes back empty but says `more` (protocol v4:
/// the server read its budget without meeting this room), the next page is
/// asked for at once from the new cursor, while the reader stays at the
/// top, and only once: not a request every frame.
#[test]
fn an_empty_older_page_with_more_asks_for_the_next_from_its_cursor() {
    let mut state = loaded_room(0);
    state.apply(with_cursor(page(200..260, true), "c1"));
    let mut h = Harness::builder()
        .with_size([1000.0, 700.0])
        .build_ui_state(|ui, s: &mut Screen| s.show(ui), Screen::new(state));
    h.run();
    wheel(&mut h, 5.0);
    assert_eq!(h.state().pages_asked, 1);
    let asks = history_asks(&mut h.state_mut().state);
    assert_eq!(asks.len(), 1);
    assert_eq!(asks[0].1, Some(HistoryCursor::new("c1").unwrap()));
    h.state_mut()
        .state
        .on_reply(asks[0].0, with_cursor(page(0..0, true), "c2"));
    for _ in 0..30 {
        h.step();
    }
    let asks = history_asks(&mut h.state_mut().state);
    assert_eq!(asks.len(), 1, "asked again, once: {asks:?}");
    assert_eq!(asks[0].1, Some(HistoryCursor::new("c2").unwrap()));
    assert_eq!(h.state().pages_asked, 1, "by the state, not by the view");
    h.state_mut()
        .state
        .on_reply(asks[0].0, with_cursor(page(150..200, true), "c3"));
    for _ in 0..60 {
        h.step();
    }
    assert!(
        history_asks(&mut h.state_mut().state).is_empty(),
        "a page with messages ends the run"
    );
    assert!(h.query_by_label("line 201").is_some(), "still where it was");
}

/// Refused messages show why, with Retry and Discard, and each button
/// stays bound to its own message when a line arrives above them: a click
/// by widget id (as assistive technology clicks) on the second message's
/// Discard never discards the first, which position-based ids would hand
/// the second's ids to once it moved down a row.
#[test]
fn the_buttons_of_a_failed_message_stay_its_own_when_lines_arrive_above() {
    let mut state = loaded_room(3);
    let refuse = |state: &mut ChatState, text: &str| {
        let cid = state.say(
            Target::Room(RoomName::general()),
            MessageText::new(text).unwrap(),
        );
        let (id, _) = state.take_outbox().pop().unwrap();
        state.on_reply(
            id,
            ServerMessage::error(Some(4), ErrorCode::NotMember, "you are not in #general"),
        );
        cid
    };
    let first = refuse(&mut state, "are you there");
    let second = refuse(&mut state, "hello again");
    let mut h = Harness::builder()
        .with_size([1000.0, 700.0])
        .build_ui_state(|ui, s: &mut Screen| s.show(ui), Screen::new(state));
    h.run();
    assert_eq!(h.query_all_by_label("not sent").count(), 2);
    assert_eq!(
        h.query_all_by_label("The server refused it: you are not in #general.")
            .count(),
        2
    );
    let discards: Vec<_> = h.query_all_by_label("Discard").collect();
    assert_eq!(discards.len(), 2);
    discards[1].click_accesskit();
    h.state_mut().state.info("a line that arrived meanwhile");
    h.run();
    assert_eq!(h.state().actions, [ChatAction::Discard(second)]);
    // A pointer click, as a person makes it.
    h.query_all_by_label("Retry").next().unwrap().click();
    h.run();
    assert_eq!(h.state().actions.last(), Some(&ChatAction::Retry(first)));
}

/// A member list cut by the server (protocol v3: at most 1,000, online
/// first) says how many it leaves out.
#[test]
fn a_cut_member_list_says_how_many_more() {
    let mut state = loaded_room(0);
    state.apply(ServerMessage::Members {
        id: 1,
        room: RoomName::general(),
        members: (0..1_000)
            .map(|i| Member {
                username: Username::new(format!("user{i:04}")).unwrap(),
                online: i < 1_000,
                role: None,
            })
            .collect(),
        total: 5_321,
        banned: Vec::new(),
    });
    let mut h = Harness::builder()
        .with_size([1000.0, 700.0])
        .build_ui_state(|ui, s: &mut Screen| s.show(ui), Screen::new(state));
    h.run();
    assert!(h.query_by_label("1,000+ of 5,321 online").is_some());
    // The note sits at the end of the list: scroll the members pane down.
    h.event(egui::Event::PointerMoved(egui::pos2(950.0, 300.0)));
    for _ in 0..20 {
        h.event(egui::Event::MouseWheel {
            unit: egui::MouseWheelUnit::Page,
            delta: egui::vec2(0.0, -50.0),
            modifiers: egui::Modifiers::default(),
            phase: egui::TouchPhase::Move,
            source: egui::MouseWheelSource::Unknown,
        });
        h.step();
    }
    for _ in 0..10 {
        h.step();
    }
    assert!(h.query_by_label("and 4,321 more").is_some());
}

/// The owner of a room sees who is banned from it (protocol v6) and can
/// lift a ban from the member panel.
#[test]
fn an_owner_sees_the_banned_and_unbans_them() {
    use cove_client::state::RoomAct;
    use cove_common::proto::Role;
    let class = RoomName::new("class").unwrap();
    let room = RoomInfo {
        name: class.clone(),
        members: 1,
        online: 1,
        unread: 0,
        mentions: 0,
        private: true,
        topic: None,
        role: Some(Role::Owner),
    };
    let mut state = loaded_room(0);
    state.apply(ServerMessage::Joined { id: 1, room });
    state.apply(ServerMessage::Members {
        id: 2,
        room: class.clone(),
        members: vec![Member {
            username: Username::new("alice").unwrap(),
            online: true,
            role: Some(Role::Owner),
        }],
        total: 1,
        banned: vec![Username::new("ben").unwrap()],
    });
    let mut h = Harness::builder()
        .with_size([1000.0, 700.0])
        .build_ui_state(|ui, s: &mut Screen| s.show(ui), Screen::new(state));
    h.run();
    assert!(h.query_by_label("Banned").is_some());
    h.get_by_label("Unban").click();
    h.run();
    assert_eq!(
        h.state().actions.last(),
        Some(&ChatAction::Room {
            room: class,
            act: RoomAct::Unban(Username::new("ben").unwrap()),
        })
    );
}
