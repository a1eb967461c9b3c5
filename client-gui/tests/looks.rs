//! What the chat screen looks like, compared pixel by pixel with the
//! images committed in `tests/snapshots/`: a line in every script with
//! the system fonts, and a small conversation in the light and the dark
//! theme. Rendered headless by wgpu (Mesa's llvmpipe on Linux).
//!
//! After a deliberate change of looks, make new images with
//! `UPDATE_SNAPSHOTS=1 cargo test -p cove-client --test looks`, open them,
//! and commit them. Without a wgpu adapter, or without the fonts (Debian's
//! `fonts-noto-cjk`, `fonts-noto-core`, `fonts-noto-color-emoji`), a test
//! says why and passes: CI installs both (see `.ci/run`).
#![allow(clippy::unwrap_used, missing_docs)]

use chrono::TimeZone;
use cove_client::fonts;
use cove_client::state::ChatState;
use cove_client::ui::chat::ChatView;
use cove_common::proto::{ChatMessage, RoomInfo};
use cove_common::{MessageText, RoomName, ServerMessage, Target, Username};
use egui::Theme;
use egui_kittest::wgpu::WgpuTestRenderer;
use egui_kittest::{Harness, SnapshotResults};

const SCRIPTS: &str = "你好 こんにちは 안녕하세요 مرحبا שלום नमस्ते 👋🏽";

/// `#general` with `lines` (author, text), a minute apart from 14:02 local
/// time: the times drawn are the same in every time zone.
fn room_with(lines: &[(&str, &str)]) -> ChatState {
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
    let mut s = ChatState::new(Username::new("alice").unwrap(), vec![general]);
    let start = chrono::Local
        .with_ymd_and_hms(2026, 11, 22, 14, 2, 0)
        .earliest()
        .unwrap()
        .timestamp_millis() as u64;
    let messages = lines
        .iter()
        .enumerate()
        .rev()
        .map(|(i, (from, text))| {
            ChatMessage::new(
                i as u64 + 1,
                start + i as u64 * 60_000,
                Username::new(*from).unwrap(),
                Target::Room(RoomName::general()),
                MessageText::new(*text).unwrap(),
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

/// A wgpu renderer, or why there is none (no adapter: no GPU and no
/// software renderer such as Mesa's llvmpipe).
fn renderer() -> Option<WgpuTestRenderer> {
    match std::panic::catch_unwind(WgpuTestRenderer::new) {
        Ok(r) => Some(r),
        Err(e) => {
            let why = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            // (wgpu's panic above says the same; it is caught here.)
            println!(
                "SKIPPED: no wgpu adapter to render with ({why}); install Mesa's llvmpipe: \
                 libegl1 libegl-mesa0 libgl1-mesa-dri"
            );
            None
        }
    }
}

/// The chat screen alone, `size` points, showing `s` in `theme`, with
/// `fonts` set before the first frame.
fn view_of(
    s: ChatState,
    theme: Theme,
    size: [f32; 2],
    fonts: Option<egui::FontDefinitions>,
    renderer: WgpuTestRenderer,
) -> Harness<'static, ChatView> {
    let mut b = Harness::builder()
        .with_size(size)
        .with_theme(theme)
        .renderer(renderer);
    if let Some(f) = fonts {
        b = b.with_context_setup(move |ctx| ctx.set_fonts(f));
    }
    let mut h = b.build_ui_state(
        move |ui, v: &mut ChatView| {
            v.show(ui, &s, None);
        },
        ChatView::default(),
    );
    // Rows are measured in the first frames; the list settles after.
    h.run();
    h
}

#[test]
fn every_script_with_the_system_fonts() {
    let loaded = fonts::load();
    let needed: Vec<_> = loaded
        .missing
        .iter()
        .filter(|n| **n != "cove-emoji" && **n != "cove-fallback")
        .collect();
    if !needed.is_empty() {
        println!(
            "SKIPPED: no system font for {needed:?}; install fonts-noto-cjk fonts-noto-core \
             fonts-noto-color-emoji"
        );
        return;
    }
    let Some(r) = renderer() else { return };
    let s = room_with(&[("bob", "Hello in every script:"), ("bob", SCRIPTS)]);
    let mut h = view_of(
        s,
        Theme::Dark,
        [720.0, 300.0],
        Some(fonts::definitions(loaded)),
        r,
    );
    h.snapshot("every_script");
}

/// The same small conversation in each theme.
#[test]
fn a_small_chat_in_light_and_dark() {
    let lines = [
        ("bob", "Morning! Are we still on for *Saturday*?"),
        ("carol", "Yes: the plan is at https://example.org/plan"),
        ("alice", "See you there, `10:00` at the station."),
    ];
    // Both images are compared (and updated) before the test fails.
    let mut results = SnapshotResults::new();
    for (theme, name) in [(Theme::Light, "chat_light"), (Theme::Dark, "chat_dark")] {
        let Some(r) = renderer() else { return };
        let mut h = view_of(room_with(&lines), theme, [720.0, 360.0], None, r);
        h.snapshot(name);
        results.extend_harness(&mut h);
    }
    results.unwrap();
}
