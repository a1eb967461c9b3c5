//! The chat screen: rooms and direct conversations on the left, the
//! conversation in the middle, members on the right, the input at the bottom.

use std::collections::HashMap;
use std::time::Duration;

use cove_common::limits::READ_REPEAT_MS;
use cove_common::proto::{MessageId, Role};
use cove_common::time::now_ms;
use cove_common::{RoomName, Target};
use egui::{Color32, RichText};

pub use super::actions::{ChatAction, Secret};
use super::compose::Compose;
use super::entry::{FAILED, HIGHLIGHT, NOTICE, draw_entry, quote_line, title};
use super::message;
use super::reactions::Picker;
use super::room_admin::{NewRoomForm, RoomFields};
use super::settings::SettingsForm;
use crate::state::{ChatState, Delivery, Entry, Pending, Status};

/// Per-conversation layout memory for the virtual list.
#[derive(Debug, Default)]
pub struct ChatView {
    /// The message box.
    pub compose: Compose,
    /// The reaction picker, when open.
    pub(super) picker: Option<Picker>,
    /// The user's message waiting for "Delete for everyone" or Cancel.
    pub(super) confirm_delete: Option<(Target, MessageId)>,
    /// The "join a room" field.
    pub join_field: String,
    /// The "message someone" field.
    pub dm_field: String,
    /// The search field.
    pub search_field: String,
    /// The message last jumped to (a search result, a reply's original),
    /// so a jump scrolls once and the reader can then scroll away.
    pub(super) jumped: Option<(Target, MessageId)>,
    /// Per conversation, what the virtual list remembers between frames.
    lists: HashMap<Target, ListMemory>,
    /// The "New room" dialog, when open.
    pub(super) new_room: Option<NewRoomForm>,
    /// Per room, its header's fields (invite, topic).
    pub(super) rooms: HashMap<RoomName, RoomFields>,
    /// The settings window, when open.
    pub(super) settings: Option<SettingsForm>,
    /// Which messages notify (shown in the settings; the app keeps it).
    pub notify: crate::notify::Kinds,
    /// The pinned servers, while the settings are open (the app reads
    /// them from the pin file when they open).
    pub servers: Option<super::servers::Servers>,
    /// The quick switcher (Ctrl+K), when open.
    pub(super) switcher: Option<super::switcher::Switcher>,
    /// The "Save a file" window, when open (protocol v6).
    pub(super) save: Option<super::attach::SaveForm>,
}

/// The virtual list's memory for one conversation.
#[derive(Debug, Default)]
struct ListMemory {
    /// Each row's measured height (estimated until it is first shown), for
    /// laying out only the visible rows.
    heights: Vec<f32>,
    /// The first entry's sort key when last shown, to notice older entries
    /// put in front of it.
    first: Option<(u64, u64)>,
    /// The scroll offset when last shown.
    offset: f32,
    /// Whether it was shown with rows before: in its first such frame a scroll area is at
    /// the top whatever it will stick to, which is not the reader scrolling
    /// up for older messages.
    shown: bool,
    /// Whether older messages were asked for since the reader last left the
    /// top: a request that fails must not be repeated every frame, but
    /// scrolling up again asks again.
    asked_at_top: bool,
}

const DEFAULT_ROW: f32 = 22.0;
pub(super) const ONLINE: Color32 = Color32::from_rgb(0x3c, 0xb3, 0x71);

/// `4321` as "4,321".
pub(super) fn grouped(n: u32) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A presence dot: filled green when online, a grey ring when not.
pub(super) fn dot(ui: &mut egui::Ui, online: bool) {
    let (rect, _) = ui.allocate_exact_size(egui::vec2(10.0, 10.0), egui::Sense::hover());
    let c = rect.center();
    if online {
        ui.painter().circle_filled(c, 4.0, ONLINE);
    } else {
        ui.painter()
            .circle_stroke(c, 3.5, egui::Stroke::new(1.2, NOTICE));
    }
}

impl ChatView {
    /// Whether the settings window is open.
    pub fn settings_open(&self) -> bool {
        self.settings.is_some()
    }

    /// Draws the screen.
    ///
    /// `hosting` is the address and fingerprint of the server this app runs,
    /// if any, shown so the host can read them out to others.
    pub fn show(
        &mut self,
        ui: &mut egui::Ui,
        state: &ChatState,
        hosting: Option<&(String, String)>,
    ) -> Vec<ChatAction> {
        let mut actions = Vec::new();
        self.keyboard(ui.ctx(), state, &mut actions);
        if ui.input(|i| i.key_pressed(egui::Key::Escape)) {
            // The innermost thing open closes first.
            if super::attach::escape(ui.ctx(), &mut self.compose.attach, &mut self.save) {
                // a picture's view or a file window
            } else if self.picker.is_some() {
                self.picker = None;
            } else if self.new_room.is_some() {
                self.new_room = None;
            } else if self.settings.is_some() {
                self.settings = None;
            } else if self.confirm_delete.is_some() {
                self.confirm_delete = None;
            } else if self.compose.busy() {
                self.compose.cancel();
            }
        }
        egui::Panel::top("chat_top").show(ui, |ui| {
            ui.horizontal(|ui| {
                ui.label(RichText::new("Cove").strong());
                ui.separator();
                ui.label(format!("Signed in as {}", state.me));
                ui.separator();
                match &state.status {
                    Status::Online => {
                        dot(ui, true);
                        ui.colored_label(ONLINE, "connected");
                    }
                    Status::Reconnecting { reason } => {
                        ui.spinner();
                        ui.colored_label(
                            Color32::from_rgb(0xe0, 0xa0, 0x30),
                            format!("reconnecting… ({reason})"),
                        );
                    }
                    Status::Offline { reason } => {
                        ui.colored_label(
                            Color32::from_rgb(0xe0, 0x40, 0x40),
                            format!("offline: {reason}"),
                        );
                    }
                }
                // Tab follows the order controls are made in, so the
                // right end is made left to right, as it reads (a
                // right-to-left layout would make Settings… first), and
                // pushed to the edge by its width in the last frame.
                super::at_right_end(ui, |ui| {
                    if let Some((addr, fingerprint)) = hosting {
                        ui.label(
                            RichText::new(format!("Hosting on {addr} · fingerprint {fingerprint}"))
                                .small()
                                .color(NOTICE),
                        );
                    }
                    super::search::field(ui, &mut self.search_field, &mut actions);
                    // The theme, the password, the account and logging
                    // out live in the settings window.
                    if ui.button("Settings…").clicked() && self.settings.is_none() {
                        self.settings = Some(SettingsForm::default());
                    }
                });
            });
        });
        egui::Panel::left("rooms")
            .default_size(190.0)
            .show(ui, |ui| {
                self.sidebar(ui, state, &mut actions);
            });
        if let Some(search) = &state.search {
            egui::Panel::right("search")
                .default_size(280.0)
                .show(ui, |ui| {
                    super::search::panel(ui, state, search, &mut actions)
                });
        }
        egui::Panel::right("members")
            .default_size(160.0)
            .show(ui, |ui| self.members_panel(ui, state, &mut actions));
        egui::Panel::bottom("input").show(ui, |ui| {
            let now = now_ms();
            // Always one line high, so the input box does not jump.
            let line = state.typing_line(&state.current, now).unwrap_or_default();
            ui.label(RichText::new(line).small().italics().color(NOTICE));
            if state.anyone_typing(now) {
                // Expires by itself: redraw without waiting for input.
                ui.ctx().request_repaint_after(Duration::from_millis(500));
            }
            self.compose.show(ui, state, &mut actions);
        });
        egui::CentralPanel::default().show(ui, |ui| {
            self.header(ui, state, &mut actions);
            ui.separator();
            self.conversation(ui, state, &mut actions);
        });
        if let Some(p) = self.compose.wants_delete.take() {
            self.confirm_delete = Some(p);
        }
        self.overlays(ui.ctx(), state, &mut actions);
        self.new_room_dialog(ui.ctx(), state, &mut actions);
        self.settings_window(ui.ctx(), state, &mut actions);
        self.switcher_window(ui.ctx(), state, &mut actions);
        super::attach::save_window(ui.ctx(), &mut self.save, &mut actions);
        super::picture::viewer(ui.ctx());
        actions
    }

    fn sidebar(&mut self, ui: &mut egui::Ui, state: &ChatState, actions: &mut Vec<ChatAction>) {
        ui.heading("Rooms");
        for r in &state.rooms {
            let t = Target::Room(r.name.clone());
            let lock = if r.private { " 🔒" } else { "" };
            sidebar_row(ui, state, &t, format!("# {}{lock}", r.name), actions);
        }
        ui.horizontal(|ui| {
            let field = ui
                .add(
                    egui::TextEdit::singleline(&mut self.join_field)
                        .hint_text("room name")
                        .desired_width(110.0),
                )
                .accessible_name("Join a room by name");
            let enter = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            if (ui.button("Join").clicked() || enter) && !self.join_field.trim().is_empty() {
                actions.push(ChatAction::Join(std::mem::take(&mut self.join_field)));
            }
        });
        self.invitations(ui, state, actions);
        ui.add_space(12.0);
        ui.heading("Direct");
        for u in &state.directs {
            let t = Target::User(u.clone());
            sidebar_row(ui, state, &t, format!("@ {u}"), actions);
        }
        ui.horizontal(|ui| {
            let field = ui
                .add(
                    egui::TextEdit::singleline(&mut self.dm_field)
                        .hint_text("username")
                        .desired_width(110.0),
                )
                .accessible_name("Message someone by name");
            let enter = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            if (ui.button("Message").clicked() || enter) && !self.dm_field.trim().is_empty() {
                actions.push(ChatAction::Direct(std::mem::take(&mut self.dm_field)));
            }
        });
    }

    fn conversation(
        &mut self,
        ui: &mut egui::Ui,
        state: &ChatState,
        actions: &mut Vec<ChatAction>,
    ) {
        let Some(conv) = state.current_conversation() else {
            ui.label("No messages yet.");
            return;
        };
        let pending: Vec<&Pending> = state.pending_in(&state.current).collect();
        let n = conv.entries.len() + pending.len();
        let list = self.lists.entry(state.current.clone()).or_default();
        // A page of older messages lands in front of the rows: their heights
        // move down with them, and so does the view, so the reader stays on
        // the lines they were reading (instead of being thrown to the new
        // top, which would also ask for the next page at once).
        let mut scroll_to = None;
        if let Some(first) = list.first {
            let added = conv
                .entries
                .iter()
                .position(|e| e.order() == first)
                .unwrap_or(0);
            if added > 0 {
                list.heights
                    .splice(0..0, std::iter::repeat_n(DEFAULT_ROW, added));
                scroll_to = Some(list.offset + added as f32 * DEFAULT_ROW);
            }
        }
        // A search result opened here, loaded and not yet scrolled to:
        // its row's top is the sum of the heights above it (estimates for
        // rows never shown, which is also where the list draws them).
        let mut jumping = false;
        if let Some(j) = state
            .jump
            .as_ref()
            .filter(|j| j.found && j.with == state.current)
            && self.jumped.as_ref() != Some(&(j.with.clone(), j.id))
            && let Some(at) = conv
                .entries
                .iter()
                .position(|e| matches!(e, Entry::Message(m) if m.id == j.id))
        {
            list.heights.resize(n, DEFAULT_ROW);
            let y: f32 = list.heights[..at].iter().sum();
            scroll_to = Some((y - 3.0 * DEFAULT_ROW).max(0.0));
            self.jumped = Some((j.with.clone(), j.id));
            jumping = true;
        }
        let highlight = state
            .jump
            .as_ref()
            .filter(|j| j.with == state.current)
            .map(|j| j.id);
        list.first = conv.entries.first().map(Entry::order);
        // The first frame with rows starts at the top before sticking to
        // the bottom; a room shown before its first page arrived has its
        // first such frame only then.
        let first_frame = n > 0 && !std::mem::replace(&mut list.shown, true);
        let heights = &mut list.heights;
        heights.resize(n, DEFAULT_ROW);
        let total: f32 = heights.iter().sum();
        let me = &state.me;
        let new_line = state.new_line_at();
        // An owner or moderator may delete anyone's message in the room.
        let moderates = match &state.current {
            Target::Room(r) => state
                .room(r)
                .is_some_and(|r| matches!(r.role, Some(Role::Owner | Role::Moderator))),
            Target::User(_) => false,
        };
        let mut at_top = false;
        let mut at_bottom = false;
        let mut remeasured = false;
        let mut acts = Vec::new();
        let mut area = egui::ScrollArea::vertical()
            .id_salt(("conversation", title(&state.current)))
            .auto_shrink(false)
            // Sticking to the bottom would undo the jump in its frame.
            .stick_to_bottom(!jumping);
        if let Some(y) = scroll_to {
            area = area.vertical_scroll_offset(y);
        }
        let offset = &mut list.offset;
        ui.scope(|ui| {
            if scroll_to.is_some() {
                // The scroll area still knows last frame's shorter content:
                // the new offset would look like overscroll and spring back.
                ui.spacing_mut().scroll.kinetic.rubber_band = false;
            }
            area.show_viewport(ui, |ui, viewport| {
                ui.set_height(total.max(viewport.height()));
                *offset = viewport.min.y;
                at_top = viewport.min.y <= 1.0;
                at_bottom = viewport.max.y >= total - 1.0;
                let origin = ui.max_rect().min;
                let width = ui.available_width();
                // Skip the rows above the viewport without laying them out.
                let mut y = 0.0;
                let mut i = 0;
                while i < n && y + heights[i] <= viewport.min.y {
                    y += heights[i];
                    i += 1;
                }
                while i < n && y < viewport.max.y {
                    // The "New messages" line, above the first unread
                    // message and measured with its row.
                    let mut line_h = 0.0;
                    if matches!(conv.entries.get(i), Some(Entry::Message(m)) if Some(m.id) == new_line)
                    {
                        let at = egui::Rect::from_min_size(
                            origin + egui::vec2(0.0, y),
                            egui::vec2(width, f32::INFINITY),
                        );
                        let mut line =
                            ui.new_child(egui::UiBuilder::new().max_rect(at).id_salt("new_line"));
                        super::entry::new_messages_line(&mut line);
                        line_h = line.min_rect().height() + 2.0;
                    }
                    let rect = egui::Rect::from_min_size(
                        origin + egui::vec2(0.0, y + line_h),
                        egui::vec2(width, f32::INFINITY),
                    );
                    let builder = egui::UiBuilder::new().max_rect(rect);
                    let row = if i < conv.entries.len() {
                        let prev = i.checked_sub(1).map(|p| &conv.entries[p]);
                        let e = &conv.entries[i];
                        // A message's row keeps its id (and so its open
                        // menu) when lines arrive above it.
                        let builder = match e {
                            Entry::Message(m) => super::spoken::row(
                                builder.id_salt(("message", m.id)),
                                &state.shown(m),
                            ),
                            _ => builder,
                        };
                        let mut row = ui.new_child(builder);
                        let mut act = if matches!(e, Entry::Message(m) if Some(m.id) == highlight) {
                            egui::Frame::new()
                                .fill(HIGHLIGHT)
                                .corner_radius(4.0)
                                .show(&mut row, |ui| draw_entry(ui, e, prev, state))
                                .inner
                        } else if matches!(e, Entry::Message(m) if state.mentions_me(m)) {
                            super::mentions::mentioned(&mut row, |ui| {
                                draw_entry(ui, e, prev, state)
                            })
                        } else {
                            draw_entry(&mut row, e, prev, state)
                        };
                        if let Entry::Message(m) = e {
                            let shown = state.shown(m);
                            let whose = if &m.from == me {
                                message::Whose::Mine
                            } else if moderates {
                                message::Whose::Moderated
                            } else {
                                message::Whose::Other
                            };
                            message::context_menu(&row.response(), &shown, whose, &mut act);
                            message::toolbar(ui, &row, &shown, whose, &mut act);
                            if let Some(act) = act {
                                acts.push((m.id, act));
                            }
                        }
                        row
                    } else {
                        // Its buttons keep their ids when a line arrives
                        // above it, so a click between frames still lands.
                        let p = pending[i - conv.entries.len()];
                        let id = ui.make_persistent_id(("pending", p.client_id.as_str()));
                        let mut row = ui.new_child(builder.scope_id(id));
                        draw_pending(&mut row, p, actions);
                        row
                    };
                    let h = line_h + row.min_rect().height() + 4.0;
                    remeasured |= (heights[i] - h).abs() > 0.5;
                    heights[i] = h;
                    y += h;
                    i += 1;
                }
            });
        });
        // The content's height and the scroll position were taken from the
        // old estimates: lay out again with the measured rows, so a view
        // sticking to the bottom really shows the newest message.
        if remeasured {
            ui.ctx().request_repaint();
        } else if at_bottom
            && conv.newest_id().is_some_and(|n| n > conv.read_up_to)
            && ui.ctx().input(|i| i.viewport().focused != Some(false))
        {
            // Laid out with measured rows and showing the end, in a window
            // someone is looking at (a window in the background reads
            // nothing; gaining focus repaints): the newest message is on
            // screen and not yet said to be read. Said again each frame
            // until the state sends it (it spaces its `read`s), so a frame
            // must come by then.
            actions.push(ChatAction::SeenNewest);
            ui.ctx()
                .request_repaint_after(Duration::from_millis(READ_REPEAT_MS));
        }
        if at_top && first_frame {
            at_top = false;
        }
        if !at_top {
            list.asked_at_top = false;
        } else if conv.loaded && conv.more_history && !conv.loading && !list.asked_at_top {
            list.asked_at_top = true;
            actions.push(ChatAction::LoadOlder);
        }
        for (id, act) in acts {
            self.on_message(ui.ctx(), state, id, act, actions);
        }
    }
}

/// A conversation in the sidebar: its name with its unread count, and
/// beside it the badge of its unread mentions.
fn sidebar_row(
    ui: &mut egui::Ui,
    state: &ChatState,
    t: &Target,
    name: String,
    actions: &mut Vec<ChatAction>,
) {
    ui.horizontal(|ui| {
        let label = sidebar_label(state, t, name);
        let row = ui.selectable_label(state.current == *t, label);
        if row.clicked() {
            actions.push(ChatAction::Open(t.clone()));
        }
        row.context_menu(|ui| super::notifications::mute_item(ui, state, t, actions));
        if t != &state.current {
            let mentions = state.conversations.get(t).map_or(0, |c| c.mentions);
            super::mentions::badge(ui, mentions);
        }
    });
}

/// A conversation's name in the sidebar, with its unread count and how
/// many of the user's messages to it were refused.
fn sidebar_label(state: &ChatState, t: &Target, name: String) -> String {
    let mut label = name;
    if t != &state.current {
        let unread = state.conversations.get(t).map_or(0, |c| c.unread);
        if unread > 0 {
            label.push_str(&format!("  ({unread})"));
        }
    }
    if state.is_muted(t) {
        label.push_str(super::notifications::MUTED_MARK);
    }
    let failed = state.failed_in(t);
    if failed > 0 {
        label.push_str(&format!("  · {failed} not sent"));
    }
    label
}

fn draw_pending(ui: &mut egui::Ui, p: &Pending, actions: &mut Vec<ChatAction>) {
    match &p.delivery {
        // Interrupted ones go out again as soon as the app is back online.
        Delivery::Sending | Delivery::Interrupted => {
            if let Some(q) = &p.reply_to {
                ui.label(
                    RichText::new(format!("in reply to {}", quote_line(q)))
                        .small()
                        .color(NOTICE),
                );
            }
            ui.horizontal_wrapped(|ui| {
                ui.label(RichText::new("sending").color(NOTICE).monospace());
                ui.add(egui::Label::new(RichText::new(p.text_str()).color(NOTICE)).wrap());
            });
            if let Some(act) = super::attachment::uploading(ui, p) {
                actions.push(ChatAction::Files(act));
            }
        }
        Delivery::Failed { reason, .. } => {
            failed(ui, p, format!("The server refused it: {reason}."), actions)
        }
        Delivery::Unsent { reason } => failed(ui, p, format!("Not sent: {reason}."), actions),
    }
}

/// A message that failed, why, and its Retry and Discard buttons.
fn failed(ui: &mut egui::Ui, p: &Pending, why: String, actions: &mut Vec<ChatAction>) {
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new("not sent").color(FAILED).monospace());
        ui.add(egui::Label::new(RichText::new(p.text_str()).color(NOTICE)).wrap());
    });
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new(why).color(FAILED));
        if ui.small_button("Retry").clicked() {
            actions.push(ChatAction::Retry(p.client_id.clone()));
        }
        if ui.small_button("Discard").clicked() {
            actions.push(ChatAction::Discard(p.client_id.clone()));
        }
    });
}

#[cfg(test)]
mod tests {
    use super::grouped;

    #[test]
    fn counts_are_grouped_by_thousands() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(4_321), "4,321");
        assert_eq!(grouped(1_234_567), "1,234,567");
    }
}
