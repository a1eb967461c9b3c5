//! Search on the chat screen: the field in the top bar, and the panel
//! with the results, each opening its conversation at the message.

use cove_common::limits::SEARCH_TEXT_MAX_CHARS;
use egui::RichText;

use super::chat::ChatAction;
use super::entry::{FAILED, HIGHLIGHT, NOTICE, local, title};
use crate::state::ChatState;

/// The search field in the top bar, after its label; Ctrl+F focuses
/// it, Enter searches.
pub(super) fn field(ui: &mut egui::Ui, text: &mut String, actions: &mut Vec<ChatAction>) {
    let edit = egui::TextEdit::singleline(text)
        .id_salt("search_field")
        .hint_text("Ctrl+F")
        .desired_width(160.0)
        .char_limit(SEARCH_TEXT_MAX_CHARS);
    let label = ui.label("Search messages");
    let resp = ui.add(edit).labelled_by(label.id);
    if ui.input(|i| i.modifiers.command && i.key_pressed(egui::Key::F)) {
        resp.request_focus();
    }
    if resp.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)) && !text.trim().is_empty()
    {
        actions.push(ChatAction::Search(text.clone()));
    }
}

/// The search panel: what was searched, the results (conversation,
/// author, time, the text with the match marked), each opening its
/// conversation at it, and "More results" while the server has more.
pub(super) fn panel(
    ui: &mut egui::Ui,
    state: &ChatState,
    search: &crate::state::Search,
    actions: &mut Vec<ChatAction>,
) {
    ui.horizontal(|ui| {
        ui.heading("Search");
        if ui.button("Close").clicked() {
            actions.push(ChatAction::CloseSearch);
        }
    });
    ui.label(RichText::new(format!("“{}”", search.text.as_str())).italics());
    ui.separator();
    let matcher = search.text.matcher();
    let body = egui::TextStyle::Body.resolve(ui.style());
    let small = egui::TextStyle::Small.resolve(ui.style());
    let text_color = ui.visuals().text_color();
    egui::ScrollArea::vertical()
        .id_salt("search_results")
        .auto_shrink(false)
        .show(ui, |ui| {
            for m in &search.results {
                let with = m.to.conversation_for(&m.from, &state.me);
                let mut job = egui::text::LayoutJob::default();
                let plain = |font: egui::FontId, color| egui::TextFormat {
                    font_id: font,
                    color,
                    ..Default::default()
                };
                job.append(
                    &format!(
                        "{} · {} · {}\n",
                        title(&with),
                        m.from,
                        local(m.ts).format("%e %b %Y %H:%M")
                    ),
                    0.0,
                    plain(small.clone(), NOTICE),
                );
                let text = m.text_str();
                match matcher.find(text) {
                    Some(r) => {
                        job.append(&text[..r.start], 0.0, plain(body.clone(), text_color));
                        job.append(
                            &text[r.clone()],
                            0.0,
                            egui::TextFormat {
                                background: HIGHLIGHT,
                                ..plain(body.clone(), text_color)
                            },
                        );
                        job.append(&text[r.end..], 0.0, plain(body.clone(), text_color));
                    }
                    None => job.append(text, 0.0, plain(body.clone(), text_color)),
                }
                job.wrap.max_width = ui.available_width();
                if ui
                    .add(egui::Button::new(job).frame(false).wrap())
                    .on_hover_text("Open the conversation here")
                    .clicked()
                {
                    actions.push(ChatAction::OpenResult(m.id));
                }
                ui.separator();
            }
            if search.searching {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label("Searching…");
                });
            } else if search.more {
                let more = if state.search_paused() {
                    "Nothing found in a long stretch: search further"
                } else if search.results.is_empty() {
                    "Search further"
                } else {
                    "More results"
                };
                if ui.button(more).clicked() {
                    actions.push(ChatAction::SearchMore);
                }
            } else if search.results.is_empty() {
                ui.label("No messages found.");
            } else {
                ui.label(RichText::new("No more results.").color(NOTICE));
            }
            if search.unreadable > 0 {
                ui.label(
                    RichText::new(crate::state::unreadable_note(search.unreadable)).color(NOTICE),
                );
            }
            if let Some(e) = &search.error {
                ui.colored_label(FAILED, e);
            }
            if let Some(j) = state.jump.as_ref().filter(|j| j.missing) {
                ui.label(
                    RichText::new(format!(
                        "That message is no longer in {}'s history.",
                        title(&j.with)
                    ))
                    .color(NOTICE),
                );
            }
        });
}
