//! The chat screen alone, driven headless with a prepared state.
#![allow(clippy::unwrap_used, missing_docs)]

use cove_client::state::ChatState;
use cove_client::ui::chat::{ChatAction, ChatView};
use cove_common::proto::{ChatMessage, RoomInfo};
use cove_common::{MessageText, RoomName, ServerMessage, Target, Username};
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
    };
    let mut s = ChatState::new(Username::new("alice").unwrap(), vec![general]);
    s.apply(page(0..n, false));
    s
}

/// A history page of the messages numbered `ids`, newest first.
fn page(ids: std::ops::Range<u64>, more: bool) -> ServerMessage {
    let messages = ids
        .rev()
        .map(|i| ChatMessage {
            id: i + 1,
            ts: 1_763_800_000_000 + i * 1_000,
            from: Username::new("bob").unwrap(),
            to: Target::Room(RoomName::general()),
            text: MessageText::new(if i % 5 == 0 {
                format!("line {i} {}", "that wraps across the pane ".repeat(12))
            } else {
                format!("line {i}")
            })
            .unwrap(),
        })
        .collect();
    ServerMessage::History {
        id: 1,
        with: Target::Room(RoomName::general()),
        messages,
        more,
        unreadable: 0,
    }
}

/// Opening a room shows its newest message, whatever the heights of the
/// rows above it turn out to be once they are measured.
#[test]
fn a_loaded_room_opens_at_its_newest_message() {
    let s = loaded_room(120);
    let mut h = Harness::builder()
        .with_size([1000.0, 700.0])
        .build_ui_state(
            move |ui, v: &mut ChatView| {
                v.show(ui, &s, true, None);
            },
            ChatView::default(),
        );
    h.run();
    assert!(
        h.query_by_label("line 119").is_some(),
        "the newest message is not on screen"
    );
    assert!(h.query_by_label("line 118").is_some());
}

/// The chat screen with its state, doing what the app does when the view
/// asks for older messages.
struct Screen {
    view: ChatView,
    state: ChatState,
    pages_asked: usize,
}

impl Screen {
    fn show(&mut self, ui: &mut egui::Ui) {
        for action in self.view.show(ui, &self.state, true, None) {
            if action == ChatAction::LoadOlder {
                self.pages_asked += 1;
                if let Some(conv) = self.state.conversations.get_mut(&self.state.current) {
                    conv.loading = true;
                }
            }
        }
    }
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
        .build_ui_state(
            |ui, s: &mut Screen| s.show(ui),
            Screen {
                view: ChatView::default(),
                state,
                pages_asked: 0,
            },
        );
    h.run();
    assert_eq!(h.state().pages_asked, 0, "at the bottom nothing is asked");
    h.event(egui::Event::PointerMoved(egui::pos2(500.0, 300.0)));
    for _ in 0..10 {
        h.event(egui::Event::MouseWheel {
            unit: egui::MouseWheelUnit::Page,
            delta: egui::vec2(0.0, 5.0),
            modifiers: egui::Modifiers::default(),
            phase: egui::TouchPhase::Move,
            source: egui::MouseWheelSource::Unknown,
        });
        h.step();
    }
    h.run();
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
