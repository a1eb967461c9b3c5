//! Rooms with owners on the screen (protocol v5): the open room's header
//! (name, a lock for a private room, its topic, and for its owner and
//! moderators an invitation field and the topic), the member list with
//! roles and, for those who may, a menu on each member (make moderator or
//! member, remove, ban); invitations and removals in the side list; the
//! "New room" dialog. The answer to each action shows beside it.

use cove_common::proto::Role;
use cove_common::{RoomName, Target};
use egui::RichText;

use super::chat::ChatAction;
use super::chat::{ChatView, dot, grouped};
use super::entry::{FAILED, NOTICE, title};
use super::mentions;
use crate::state::{ChatState, Note, Place, RoomAct};

/// What the "New room" dialog holds while open.
#[derive(Debug, Default, Clone)]
pub struct NewRoomForm {
    /// The name typed.
    pub name: String,
    /// Invite-only.
    pub private: bool,
    /// The topic typed.
    pub topic: String,
    /// The room asked for, once "Create" was clicked: the dialog closes
    /// when the user is in it.
    pub asked: Option<String>,
}

/// A room's header and member-panel fields.
#[derive(Debug, Default, Clone)]
pub struct RoomFields {
    /// The "Invite:" field.
    pub invite: String,
    /// The topic being edited, if the editor is open.
    pub topic: Option<String>,
}

/// A note in green when it went through, red when not.
fn note(ui: &mut egui::Ui, n: Option<&Note>) {
    if let Some(n) = n {
        let colour = if n.ok { super::chat::ONLINE } else { FAILED };
        ui.add(egui::Label::new(RichText::new(&n.text).color(colour)).wrap());
    }
}

/// A role as a small badge ("owner", "mod"), nothing for a member.
fn role_badge(ui: &mut egui::Ui, role: Option<Role>) {
    let text = match role {
        Some(Role::Owner) => "owner",
        Some(Role::Moderator) => "mod",
        Some(Role::Member) | None => return,
    };
    let colour = mentions::accent(ui);
    ui.label(RichText::new(text).small().strong().color(colour))
        .on_hover_text(match role {
            Some(Role::Owner) => "Owns the room: sets roles, removes and bans anyone",
            _ => "Moderates the room: invites, removes and bans members",
        });
}

/// Whether someone with role `actor` may remove, ban or change the role
/// of someone with role `target`: the owner anyone else, a moderator only
/// plain members (the server checks again).
fn may_moderate(actor: Role, target: Role) -> bool {
    match actor {
        Role::Owner => target != Role::Owner,
        Role::Moderator => target == Role::Member,
        Role::Member => false,
    }
}

impl ChatView {
    /// The conversation's header: its name, and for a room a lock when it
    /// is private, its topic, and the owner's and moderators' tools.
    pub(super) fn header(
        &mut self,
        ui: &mut egui::Ui,
        state: &ChatState,
        actions: &mut Vec<ChatAction>,
    ) {
        let Target::Room(name) = &state.current else {
            ui.horizontal(|ui| {
                ui.heading(title(&state.current));
                super::notifications::mute_button(ui, state, &state.current, actions);
            });
            return;
        };
        let info = state.room(name);
        ui.horizontal(|ui| {
            ui.heading(title(&state.current));
            super::notifications::mute_button(ui, state, &state.current, actions);
            if info.is_some_and(|r| r.private) {
                ui.label(RichText::new("🔒 private").color(NOTICE))
                    .on_hover_text("Invite-only: listed only to its members");
            }
        });
        if let Some(topic) = info.and_then(|r| r.topic.as_ref()) {
            ui.add(egui::Label::new(RichText::new(topic.as_str()).color(NOTICE)).wrap());
        }
        let role = state.my_role(name);
        if role == Role::Member {
            return;
        }
        let fields = self.rooms.entry(name.clone()).or_default();
        ui.horizontal(|ui| {
            let label = ui.label("Invite:");
            let field = ui
                .add(
                    egui::TextEdit::singleline(&mut fields.invite)
                        .hint_text("username")
                        .desired_width(120.0),
                )
                .labelled_by(label.id);
            let enter = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            if (ui.button("Invite").clicked() || enter) && !fields.invite.trim().is_empty() {
                actions.push(ChatAction::Invite {
                    room: name.clone(),
                    user: std::mem::take(&mut fields.invite),
                });
            }
            ui.separator();
            match &mut fields.topic {
                None => {
                    if ui.button("Set topic…").clicked() {
                        let now = info.and_then(|r| r.topic.as_ref());
                        fields.topic = Some(now.map(|t| t.as_str().to_owned()).unwrap_or_default());
                    }
                }
                Some(topic) => {
                    let label = ui.label("Topic:");
                    ui.add(egui::TextEdit::singleline(topic).desired_width(200.0))
                        .labelled_by(label.id);
                    if ui.button("Save topic").clicked() {
                        actions.push(ChatAction::SetTopic {
                            room: name.clone(),
                            topic: std::mem::take(topic),
                        });
                        fields.topic = None;
                    } else if ui.button("Cancel").clicked() {
                        fields.topic = None;
                    }
                }
            }
        });
        note(ui, state.note(&Place::Room(name.clone())));
    }

    /// The member panel: who is in the room shown, online first, with
    /// their roles; a click opens a direct conversation, a right click
    /// the moderation menu (for those who may).
    pub(super) fn members_panel(
        &mut self,
        ui: &mut egui::Ui,
        state: &ChatState,
        actions: &mut Vec<ChatAction>,
    ) {
        ui.heading("Members");
        ui.separator();
        let (Target::Room(room), Some(list)) = (&state.current, state.current_members()) else {
            ui.label("Direct conversation");
            return;
        };
        let members = &list.members;
        let online = members.iter().filter(|m| m.online).count();
        // A cut list holds the online members first: when it holds
        // nothing else, more may be online.
        let more_online = list.not_listed() > 0 && online == members.len();
        let plus = if more_online { "+" } else { "" };
        ui.label(format!(
            "{}{plus} of {} online",
            grouped(u32::try_from(online).unwrap_or(u32::MAX)),
            grouped(list.total)
        ));
        let mine = state.my_role(room);
        egui::ScrollArea::vertical()
            .id_salt("members_scroll")
            .show(ui, |ui| {
                for m in members {
                    ui.horizontal(|ui| {
                        dot(ui, m.online);
                        let me = m.username == state.me;
                        let name = if me {
                            format!("{} (you)", m.username)
                        } else {
                            m.username.to_string()
                        };
                        let resp = ui.selectable_label(false, name);
                        if resp.clicked() && !me {
                            actions.push(ChatAction::Open(Target::User(m.username.clone())));
                        }
                        role_badge(ui, m.role);
                        let theirs = m.role.unwrap_or(Role::Member);
                        if !me && may_moderate(mine, theirs) {
                            member_menu(&resp, room, &m.username, mine, theirs, actions);
                        }
                    });
                }
                let hidden = list.not_listed();
                if hidden > 0 {
                    ui.label(RichText::new(format!("and {} more", grouped(hidden))).color(NOTICE));
                }
                banned_list(ui, room, &list.banned, actions);
            });
    }

    /// The side list's room parts for rooms with owners: notes about
    /// removals, invitations to accept or decline, and "New room…".
    pub(super) fn invitations(
        &mut self,
        ui: &mut egui::Ui,
        state: &ChatState,
        actions: &mut Vec<ChatAction>,
    ) {
        for (i, text) in state.removals.iter().enumerate() {
            ui.horizontal_wrapped(|ui| {
                ui.label(RichText::new(text).color(FAILED));
                if ui.small_button("OK").clicked() {
                    actions.push(ChatAction::DismissRemoval(i));
                }
            });
        }
        for inv in &state.invitations {
            let room = &inv.room.name;
            egui::Frame::group(ui.style()).show(ui, |ui| {
                ui.add(egui::Label::new(format!("Invited to #{room} by {}", inv.by)).wrap());
                if let Some(t) = &inv.room.topic {
                    ui.add(
                        egui::Label::new(RichText::new(t.as_str()).small().color(NOTICE)).wrap(),
                    );
                }
                ui.horizontal(|ui| {
                    if ui.button("Join").clicked() {
                        actions.push(ChatAction::Accept(room.clone()));
                    }
                    if ui.button("Decline").clicked() {
                        actions.push(ChatAction::Room {
                            room: room.clone(),
                            act: RoomAct::Decline,
                        });
                    }
                });
                note(ui, state.note(&Place::Invitation(room.clone())));
            });
        }
        if ui.button("New room…").clicked() {
            self.new_room = Some(NewRoomForm::default());
        }
    }

    /// The "New room" dialog, while open: it closes once the user is in
    /// the room, and shows why when the server refuses it.
    pub(super) fn new_room_dialog(
        &mut self,
        ctx: &egui::Context,
        state: &ChatState,
        actions: &mut Vec<ChatAction>,
    ) {
        let Some(form) = &mut self.new_room else {
            return;
        };
        // Asked, answered, and not refused: the room is created (and
        // shown). A name the user is in already is refused like any other
        // taken name, so the room list alone cannot tell.
        if form.asked.is_some() && !state.creating() && state.note(&Place::NewRoom).is_none() {
            self.new_room = None;
            return;
        }
        let mut open = true;
        let mut cancel = false;
        egui::Window::new("New room")
            .collapsible(false)
            .resizable(false)
            .open(&mut open)
            .anchor(egui::Align2::CENTER_CENTER, egui::vec2(0.0, -60.0))
            .show(ctx, |ui| {
                ui.set_width(300.0);
                egui::Grid::new("new_room").num_columns(2).show(ui, |ui| {
                    let l = ui.label("Room name");
                    ui.add(egui::TextEdit::singleline(&mut form.name).hint_text("class"))
                        .labelled_by(l.id);
                    ui.end_row();
                    let l = ui.label("Topic");
                    ui.add(egui::TextEdit::singleline(&mut form.topic).hint_text("optional"))
                        .labelled_by(l.id);
                    ui.end_row();
                });
                ui.checkbox(&mut form.private, "Private: only people I invite can join");
                ui.label(
                    RichText::new("You will own the room: you choose its moderators.")
                        .small()
                        .color(NOTICE),
                );
                let waiting = form.asked.is_some() && state.creating();
                if !waiting {
                    note(ui, state.note(&Place::NewRoom));
                }
                ui.horizontal(|ui| {
                    let create = ui.add_enabled(
                        !waiting && !form.name.trim().is_empty(),
                        egui::Button::new("Create"),
                    );
                    if create.clicked() {
                        form.asked = Some(form.name.trim().to_owned());
                        actions.push(ChatAction::NewRoom {
                            name: form.name.trim().to_owned(),
                            private: form.private,
                            topic: form.topic.trim().to_owned(),
                        });
                    }
                    if ui.button("Cancel").clicked() {
                        cancel = true;
                    }
                    if waiting {
                        ui.spinner();
                    }
                });
            });
        if !open || cancel {
            self.new_room = None;
        }
    }
}

/// Who is banned from the room, each with "Unban": the server lists them
/// only to the room's owner and moderators.
fn banned_list(
    ui: &mut egui::Ui,
    room: &RoomName,
    banned: &[cove_common::Username],
    actions: &mut Vec<ChatAction>,
) {
    if banned.is_empty() {
        return;
    }
    ui.add_space(8.0);
    ui.label(RichText::new("Banned").strong());
    for user in banned {
        ui.horizontal(|ui| {
            ui.label(user.as_str());
            if ui
                .small_button("Unban")
                .on_hover_text(format!("Let {user} join #{room} again"))
                .clicked()
            {
                actions.push(ChatAction::Room {
                    room: room.clone(),
                    act: RoomAct::Unban(user.clone()),
                });
            }
        });
    }
}

/// The right-click menu on a member, for the room's owner and moderators.
fn member_menu(
    resp: &egui::Response,
    room: &RoomName,
    user: &cove_common::Username,
    mine: Role,
    theirs: Role,
    actions: &mut Vec<ChatAction>,
) {
    resp.context_menu(|ui| {
        let mut act = None;
        if mine == Role::Owner {
            if theirs == Role::Moderator {
                if ui.button("Make member").clicked() {
                    act = Some(RoomAct::SetRole {
                        user: user.clone(),
                        role: Role::Member,
                    });
                }
            } else if ui.button("Make moderator").clicked() {
                act = Some(RoomAct::SetRole {
                    user: user.clone(),
                    role: Role::Moderator,
                });
            }
        }
        if ui.button("Remove from room").clicked() {
            act = Some(RoomAct::Kick {
                user: user.clone(),
                ban: false,
            });
        }
        if ui
            .button(RichText::new("Ban").color(FAILED))
            .on_hover_text("Remove them and keep them out until unbanned")
            .clicked()
        {
            act = Some(RoomAct::Kick {
                user: user.clone(),
                ban: true,
            });
        }
        if let Some(act) = act {
            actions.push(ChatAction::Room {
                room: room.clone(),
                act,
            });
            ui.close();
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_moderate_all_but_owners_and_moderators_only_members() {
        use Role::*;
        assert!(may_moderate(Owner, Moderator) && may_moderate(Owner, Member));
        assert!(!may_moderate(Owner, Owner));
        assert!(may_moderate(Moderator, Member));
        assert!(!may_moderate(Moderator, Moderator) && !may_moderate(Moderator, Owner));
        assert!(!may_moderate(Member, Member));
    }
}
