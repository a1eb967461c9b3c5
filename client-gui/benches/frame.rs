//! Frame time of the chat screen with a 100,000-message room: only the
//! visible rows are laid out, so a frame should cost the same as with 100;
//! `marked_up` has markup, links, mentions and code blocks in its texts.
//! `cargo bench -p cove-client --bench frame`.
#![allow(clippy::unwrap_used, missing_docs)]

use cove_client::state::ChatState;
use cove_client::ui::chat::ChatView;
use cove_common::proto::{ChatMessage, RoomInfo};
use cove_common::{MessageText, RoomName, ServerMessage, Target, Username};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use egui_kittest::Harness;

/// `n` messages; with `marked`, every third has markup, a link and a
/// mention, and every tenth a block of code.
fn state(n: u64, marked: bool) -> ChatState {
    let me = Username::new("alice").unwrap();
    let general = RoomInfo {
        name: RoomName::general(),
        members: 3,
        online: 2,
        unread: 0,
        mentions: 0,
        private: false,
        topic: None,
        role: None,
    };
    let mut s = ChatState::new(me, vec![general]);
    let authors = ["bob", "carol", "dave"].map(|a| Username::new(a).unwrap());
    let t0 = 1_763_800_000_000u64;
    for i in 0..n {
        let text = if marked && i % 10 == 0 {
            format!("message {i}:\n```\nfn main() {{\n    println!(\"{i}\");\n}}\n```")
        } else if marked && i % 3 == 0 {
            format!(
                "message {i}: *bold* _italic_ `code` @alice see https://example.org/{i}, www.example.org"
            )
        } else if i % 7 == 0 {
            format!(
                "message {i}: a longer line that wraps across the conversation pane so rows differ in height, as real chats do"
            )
        } else {
            format!("message {i}")
        };
        s.apply(ServerMessage::Message(ChatMessage::new(
            i + 1,
            t0 + i * 20_000,
            authors[(i % 3) as usize].clone(),
            Target::Room(RoomName::general()),
            MessageText::new(text).unwrap(),
        )));
    }
    s
}

fn frames(c: &mut Criterion) {
    let mut g = c.benchmark_group("chat_frame");
    for (name, n, marked) in [
        ("messages", 100u64, false),
        ("messages", 100_000, false),
        ("marked_up", 100_000, true),
    ] {
        let s = state(n, marked);
        let mut h = Harness::builder()
            .with_size([1000.0, 700.0])
            .build_ui_state(
                move |ui, v: &mut ChatView| {
                    v.show(ui, &s, None);
                },
                ChatView::default(),
            );
        // Settle layout (row heights measured while sticking to the bottom).
        for _ in 0..5 {
            h.step();
        }
        g.bench_function(BenchmarkId::new(name, n), |b| b.iter(|| h.step()));
    }
    g.finish();
}

criterion_group!(benches, frames);
criterion_main!(benches);
