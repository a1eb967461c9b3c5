//! The message box at the bottom of the chat screen, and what it is
//! doing: writing a new message, editing one of the user's (the box holds
//! its text; "Editing message — Esc to cancel"), or replying to one
//! ("Replying to bob: …").
//!
//! Enter sends, Shift+Enter adds a line. Up in an empty box edits the
//! user's last message, as in Slack and Element. Starting an edit puts the
//! draft aside; it comes back when the edit is sent or cancelled.

use cove_common::Target;
use cove_common::limits::MESSAGE_MAX_CHARS;
use cove_common::proto::{ChatMessage, MessageId, Quote};
use egui::{Color32, RichText};

use super::chat::ChatAction;
use super::entry::{FAILED, NOTICE, quote_line, title};
use crate::state::ChatState;

/// What the message box is for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
enum Mode {
    /// A new message.
    #[default]
    New,
    /// A new text for the user's message `id` of `with`.
    Editing {
        with: Target,
        id: MessageId,
        /// Its text when the edit began: sending it unchanged sends
        /// nothing.
        was: String,
        /// What the box held before, given back afterwards.
        draft: String,
    },
    /// A reply in `with` to the message `quote` names.
    Replying { with: Target, quote: Quote },
}

/// The message box.
#[derive(Debug, Default)]
pub struct Compose {
    /// What is typed.
    pub input: String,
    mode: Mode,
    /// Give the box the keyboard (and put the cursor at the end) in the
    /// next frame.
    focus: bool,
    /// An edit emptied and sent: the user wants the message gone, which
    /// the screen asks to confirm.
    pub(super) wants_delete: Option<(Target, MessageId)>,
    /// The "Attach a file" window, when open (protocol v6).
    pub(super) attach: Option<super::attach::AttachForm>,
}

impl Compose {
    /// Opens "Attach a file" with `path` filled in (a picture pasted and
    /// kept as a file), for the user to send or cancel.
    pub fn offer_file(&mut self, path: &std::path::Path) {
        self.attach = Some(super::attach::AttachForm::with_path(path));
    }

    /// Edits the user's message `m` of `with`: its text goes in the box.
    pub fn edit(&mut self, with: Target, m: &ChatMessage) {
        let draft = match std::mem::take(&mut self.mode) {
            // Editing another message: that draft is still the one aside.
            Mode::Editing { draft, .. } => draft,
            _ => std::mem::take(&mut self.input),
        };
        self.input = m.text_str().to_owned();
        self.mode = Mode::Editing {
            with,
            id: m.id,
            was: self.input.clone(),
            draft,
        };
        self.focus = true;
    }

    /// Replies in `with` to the message `quote` names; what is typed
    /// stays.
    pub fn reply(&mut self, with: Target, quote: Quote) {
        if let Mode::Editing { draft, .. } = std::mem::take(&mut self.mode) {
            self.input = draft;
        }
        self.mode = Mode::Replying { with, quote };
        self.focus = true;
    }

    /// Whether the box is editing or replying (Esc then cancels that).
    pub fn busy(&self) -> bool {
        self.mode != Mode::New
    }

    /// Back to writing a new message: an edit's draft comes back.
    pub fn cancel(&mut self) {
        if let Mode::Editing { draft, .. } = std::mem::take(&mut self.mode) {
            self.input = draft;
        }
        self.focus = true;
    }

    /// Draws the box for the conversation shown, with the bar saying what
    /// it is doing.
    pub(super) fn show(
        &mut self,
        ui: &mut egui::Ui,
        state: &ChatState,
        actions: &mut Vec<ChatAction>,
    ) {
        let current = &state.current;
        // Editing or replying belongs to one conversation: another one
        // shown ends it.
        if matches!(&self.mode, Mode::Editing { with, .. } | Mode::Replying { with, .. } if with != current)
        {
            self.cancel();
            self.focus = false;
        }
        ui.add_space(4.0);
        self.bar(ui);
        let label = ui
            .horizontal(|ui| {
                super::attach::button(ui, &mut self.attach);
                ui.label(
                    RichText::new(format!("Message {}", title(current)))
                        .small()
                        .color(NOTICE),
                )
            })
            .inner;
        super::attach::dropped(ui.ctx(), &mut self.attach);
        super::attach::pasted(ui.ctx(), actions);
        super::attach::attach_window(ui.ctx(), &mut self.attach, &mut self.input, actions);
        let count = self.input.chars().count();
        let hint = match self.mode {
            Mode::Editing { .. } => "Edit your message… (Enter saves, Esc cancels)",
            _ => "Message… (Enter sends, Shift+Enter for a new line, /help for commands)",
        };
        let edit = egui::TextEdit::multiline(&mut self.input)
            .id_salt("message_input")
            .hint_text(hint)
            .desired_rows(2)
            .desired_width(f32::INFINITY)
            .return_key(Some(egui::KeyboardShortcut::new(
                egui::Modifiers::SHIFT,
                egui::Key::Enter,
            )));
        let out = edit.show(ui);
        let resp = out.response.response.clone().labelled_by(label.id);
        if std::mem::take(&mut self.focus) {
            resp.request_focus();
            let mut text_state = out.state;
            let end = egui::text::CCursor::end_of_str(&self.input);
            text_state
                .cursor
                .set_char_range(Some(egui::text::CCursorRange::one(end)));
            text_state.store(ui.ctx(), resp.id);
        }
        if super::mentions::complete(ui, &mut self.input, state) {
            self.focus = true;
        }
        let editing = matches!(self.mode, Mode::Editing { .. });
        if resp.changed()
            && !editing
            && !self.input.trim().is_empty()
            && !self.input.starts_with('/')
        {
            actions.push(ChatAction::Typing);
        }
        let key = |k: egui::Key| ui.input(|i| i.key_pressed(k) && !i.modifiers.shift);
        if resp.has_focus() && key(egui::Key::Enter) {
            self.submit(actions);
        } else if resp.has_focus()
            && self.mode == Mode::New
            && self.input.is_empty()
            && key(egui::Key::ArrowUp)
            && let Some(m) = state.last_own_message(current)
        {
            self.edit(current.clone(), &m);
        }
        if count > MESSAGE_MAX_CHARS * 9 / 10 {
            let color = if count > MESSAGE_MAX_CHARS {
                FAILED
            } else {
                NOTICE
            };
            ui.colored_label(color, format!("{count} / {MESSAGE_MAX_CHARS}"));
        }
        ui.add_space(4.0);
    }

    /// "Editing message — Esc to cancel ×" or "Replying to bob: … ×".
    fn bar(&mut self, ui: &mut egui::Ui) {
        let text = match &self.mode {
            Mode::New => return,
            Mode::Editing { .. } => "Editing message — Esc to cancel".to_owned(),
            Mode::Replying { quote, .. } => format!("Replying to {}", quote_line(quote)),
        };
        let mut cancel = false;
        ui.horizontal(|ui| {
            let accent = Color32::from_rgb(0x4f, 0x9c, 0xf5);
            let (rect, _) = ui.allocate_exact_size(egui::vec2(3.0, 16.0), egui::Sense::hover());
            ui.painter().rect_filled(rect, 1.0, accent);
            ui.add(egui::Label::new(RichText::new(text).small().color(NOTICE)).truncate());
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                // "×" alone says nothing to a screen reader.
                let button = ui.small_button("×").on_hover_text("Cancel (Esc)");
                cancel = button.accessible_name("Cancel").clicked();
            });
        });
        if cancel {
            self.cancel();
        }
    }

    /// Enter: sends what the box holds, as it is meant.
    fn submit(&mut self, actions: &mut Vec<ChatAction>) {
        let text = std::mem::take(&mut self.input);
        match std::mem::take(&mut self.mode) {
            Mode::New => {
                if !text.trim().is_empty() {
                    actions.push(ChatAction::Submit(text));
                }
            }
            Mode::Editing {
                with,
                id,
                was,
                draft,
            } => {
                self.input = draft;
                if text.trim().is_empty() {
                    // An emptied message is one to delete, as in Slack.
                    self.wants_delete = Some((with, id));
                } else if text.trim_end() != was.trim_end() {
                    actions.push(ChatAction::Edit { with, id, text });
                }
            }
            Mode::Replying { with, quote } => {
                if text.trim().is_empty() {
                    self.mode = Mode::Replying { with, quote };
                } else {
                    actions.push(ChatAction::Reply { quote, text });
                }
            }
        }
    }
}
