//! The chat screen alone, driven headless with a prepared state.
#![allow(clippy::unwrap_used, missing_docs)]

use cove_client::state::ChatState;
use cove_client::ui::chat::ChatView;
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
    let messages = (0..n)
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
    s.apply(ServerMessage::History {
        id: 1,
        with: Target::Room(RoomName::general()),
        messages,
        more: false,
    });
    s
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
