//! How one entry of a conversation is drawn (a message, a notice, a note
//! from the app), and the colours and names the screens share.

use chrono::{Local, TimeZone};
use cove_common::Target;
use cove_common::proto::Quote;
use egui::{Color32, RichText};

use super::avatar;
use super::message::{self, MessageAct};
use crate::state::{ChatState, Entry};

/// The user's own name in the conversation.
const OWN: Color32 = Color32::from_rgb(0x4f, 0x9c, 0xf5);
/// Times, notices and anything secondary.
pub(super) const NOTICE: Color32 = Color32::from_rgb(0x9a, 0x9a, 0x9a);
/// Messages that were not sent, and why.
pub(super) const FAILED: Color32 = Color32::from_rgb(0xe0, 0x40, 0x40);
/// The "New messages" line.
const NEW: Color32 = Color32::from_rgb(0xe0, 0x50, 0x50);
/// Behind a search match, and the message a result opened.
pub(super) const HIGHLIGHT: Color32 = Color32::from_rgba_premultiplied(0x60, 0x50, 0x00, 0x60);

/// A message within this long of the one before it, by the same person,
/// continues it: its name is not repeated (as chat apps group a run of
/// messages under one name).
const GROUP_GAP_MS: u64 = 5 * 60 * 1000;

/// Whether `m` continues the message `prev` (same author, same day, within
/// [`GROUP_GAP_MS`]).
fn continues(prev: Option<&Entry>, m: &cove_common::proto::ChatMessage) -> bool {
    let Some(Entry::Message(p)) = prev else {
        return false;
    };
    p.from == m.from
        && m.ts.saturating_sub(p.ts) <= GROUP_GAP_MS
        && local(p.ts).date_naive() == local(m.ts).date_naive()
}

/// A message's time in the local time zone.
pub(super) fn local(ts: u64) -> chrono::DateTime<Local> {
    Local
        .timestamp_millis_opt(ts as i64)
        .single()
        .unwrap_or_else(Local::now)
}

/// A conversation's name as shown: `# room` or `@ user`.
pub(super) fn title(t: &Target) -> String {
    match t {
        Target::Room(r) => format!("# {r}"),
        Target::User(u) => format!("@ {u}"),
    }
}

/// Characters of a quoted text shown in one line.
const QUOTE_SHOWN_CHARS: usize = 60;

/// A quote in one line: "bob: start of the text…", or "bob: deleted
/// message" once the original is gone.
pub(super) fn quote_line(q: &Quote) -> String {
    match &q.text {
        None => format!("{}: deleted message", q.from),
        Some(t) => {
            // One line: the quote is a pointer to the original, not a copy.
            let flat: String = t.split_whitespace().collect::<Vec<_>>().join(" ");
            let mut shown: String = flat.chars().take(QUOTE_SHOWN_CHARS).collect();
            if shown.len() < flat.len() || t.chars().count() >= cove_common::limits::QUOTE_MAX_CHARS
            {
                shown.push('…');
            }
            format!("{}: {shown}", q.from)
        }
    }
}

/// The "New messages" line, across the conversation above the first
/// unread message: the words at its right end.
pub(super) fn new_messages_line(ui: &mut egui::Ui) {
    let left = ui.max_rect().left();
    ui.with_layout(egui::Layout::right_to_left(egui::Align::Min), |ui| {
        let label = ui.label(RichText::new("New messages").small().strong().color(NEW));
        let y = label.rect.center().y;
        ui.painter().hline(
            left..=label.rect.left() - 6.0,
            y,
            egui::Stroke::new(1.0, NEW),
        );
    });
}

/// One entry, after a day separator when it starts a new day; for a
/// message, as the user's changes on their way make it look. Returns what
/// the user did with the message (clicked its quote or a reaction).
pub(super) fn draw_entry(
    ui: &mut egui::Ui,
    e: &Entry,
    prev: Option<&Entry>,
    state: &ChatState,
) -> Option<MessageAct> {
    let me = &state.me;
    let mut act = None;
    let when = local(e.ts());
    let new_day = prev.is_none_or(|p| local(p.ts()).date_naive() != when.date_naive());
    if new_day {
        ui.vertical_centered(|ui| {
            ui.label(
                RichText::new(when.format("%A, %e %B %Y").to_string())
                    .color(NOTICE)
                    .small(),
            );
        });
    }
    match e {
        Entry::Message(m) => {
            ui.horizontal_top(|ui| {
                ui.label(
                    RichText::new(when.format("%H:%M").to_string())
                        .color(NOTICE)
                        .monospace(),
                );
                let mine = &m.from == me;
                let name = RichText::new(m.from.as_str()).strong();
                let name = if mine { name.color(OWN) } else { name };
                if continues(prev, m) {
                    // The avatar's and the name's width, so the text lines
                    // up with the first message of the run.
                    let galley = egui::WidgetText::from(name).into_galley(
                        ui,
                        Some(egui::TextWrapMode::Extend),
                        f32::INFINITY,
                        egui::TextStyle::Body,
                    );
                    // Taken like widgets, so the spacing after them is
                    // theirs.
                    let avatar = egui::vec2(avatar::size(ui).x, 0.0);
                    ui.allocate_exact_size(avatar, egui::Sense::hover());
                    ui.allocate_exact_size(galley.size(), egui::Sense::hover());
                } else {
                    avatar::avatar(ui, m.from.as_str());
                    ui.label(name);
                }
                // The text in a column of its own, so that its second and
                // later lines start under its first, not under the time.
                ui.vertical(|ui| {
                    message::body(ui, &state.shown(m), me, &mut act);
                    if let Some(f) = super::attachment::show(ui, m, state) {
                        act = Some(MessageAct::File(f));
                    }
                });
            });
        }
        Entry::Notice(n) => {
            ui.horizontal_wrapped(|ui| {
                ui.label(
                    RichText::new(when.format("%H:%M").to_string())
                        .color(NOTICE)
                        .monospace(),
                );
                ui.label(
                    RichText::new(format!("— {}", n.text))
                        .italics()
                        .color(NOTICE),
                );
            });
        }
        Entry::Info { text, .. } => {
            ui.add(egui::Label::new(RichText::new(text).italics().color(NOTICE)).wrap());
        }
    }
    act
}
