//! Rooms with owners (protocol v5) as the app keeps them: creating a
//! room, invitations to accept or decline, moderation (invite, remove,
//! ban, roles, topic), and the notices that change a room (`kicked`,
//! `topic`, `role`).
//!
//! The answer to such an action is shown where it was taken (the "New
//! room" dialog, the room's header, the invitation in the side list), as a
//! [`Note`] under its [`Place`], not as a line of whatever conversation
//! happens to be open: the user looks where they clicked.

use cove_common::proto::{NoticeKind, Role, RoomInfo};
use cove_common::{Request, RoomName, Target, Topic, Username};

use super::ChatState;
use super::requests::Purpose;

/// Where the answer to an action is shown.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Place {
    /// The "New room" dialog.
    NewRoom,
    /// A room's header and member panel (invite, remove, ban, roles).
    Room(RoomName),
    /// An invitation in the side list (join, decline).
    Invitation(RoomName),
    /// The settings: changing the password.
    Password,
    /// The settings: deleting the account.
    DeleteAccount,
}

/// What the app says about the last action taken at a [`Place`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// The sentence.
    pub text: String,
    /// Whether it went through (else it was refused or lost).
    pub ok: bool,
}

/// An invitation to a room, as the server pushed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    /// The room, as listed to the invited user.
    pub room: RoomInfo,
    /// Who invited them.
    pub by: Username,
}

/// What an owner or moderator does to a room (or the user to an
/// invitation), answered by `done`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoomAct {
    /// Invite a user.
    Invite(Username),
    /// Turn down the user's invitation.
    Decline,
    /// Remove a member, and with `ban` keep them out.
    Kick {
        /// Who.
        user: Username,
        /// Also ban them.
        ban: bool,
    },
    /// Lift a ban.
    Unban(Username),
    /// Set or clear the topic.
    SetTopic(Option<Topic>),
    /// Make a member a moderator, or a member again (the owner only).
    SetRole {
        /// Who.
        user: Username,
        /// `Moderator` or `Member`.
        role: Role,
    },
}

impl RoomAct {
    fn request(&self, room: RoomName) -> Request {
        match self.clone() {
            RoomAct::Invite(user) => Request::Invite { room, user },
            RoomAct::Decline => Request::Decline { room },
            RoomAct::Kick { user, ban } => Request::Kick { room, user, ban },
            RoomAct::Unban(user) => Request::Unban { room, user },
            RoomAct::SetTopic(topic) => Request::SetTopic { room, topic },
            RoomAct::SetRole { user, role } => Request::SetRole { room, user, role },
        }
    }

    /// Where its answer is shown.
    fn place(&self, room: &RoomName) -> Place {
        match self {
            RoomAct::Decline => Place::Invitation(room.clone()),
            _ => Place::Room(room.clone()),
        }
    }

    /// What was done, for the note when it went through.
    fn done(&self, room: &RoomName) -> String {
        match self {
            RoomAct::Invite(u) => format!("Invited {u} to #{room}."),
            RoomAct::Decline => format!("Declined the invitation to #{room}."),
            RoomAct::Kick { user, ban: false } => format!("Removed {user} from #{room}."),
            RoomAct::Kick { user, ban: true } => format!("Banned {user} from #{room}."),
            RoomAct::Unban(u) => format!("{u} may join #{room} again."),
            RoomAct::SetTopic(Some(_)) => "Topic set.".to_owned(),
            RoomAct::SetTopic(None) => "Topic cleared.".to_owned(),
            RoomAct::SetRole {
                user,
                role: Role::Moderator,
            } => format!("{user} is now a moderator of #{room}."),
            RoomAct::SetRole { user, .. } => format!("{user} is now a member of #{room}."),
        }
    }

    /// What could not be done, for the note when it was refused.
    fn what(&self) -> String {
        match self {
            RoomAct::Invite(u) => format!("invite {u}"),
            RoomAct::Decline => "decline".to_owned(),
            RoomAct::Kick { user, ban: false } => format!("remove {user}"),
            RoomAct::Kick { user, ban: true } => format!("ban {user}"),
            RoomAct::Unban(u) => format!("unban {u}"),
            RoomAct::SetTopic(_) => "set the topic".to_owned(),
            RoomAct::SetRole { user, .. } => format!("change {user}'s role"),
        }
    }
}

/// A refusal in plain words: the server's sentence, with a first capital.
fn sentence(message: &str) -> String {
    let mut m = message.trim_end_matches('.').to_owned();
    if let Some(first) = m.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    format!("{m}.")
}

impl ChatState {
    /// The note shown at `place`, if any.
    pub fn note(&self, place: &Place) -> Option<&Note> {
        self.notes.get(place)
    }

    /// Shows `text` at `place` (also for mistakes the app finds itself).
    pub fn set_note(&mut self, place: Place, text: String, ok: bool) {
        self.notes.insert(place, Note { text, ok });
    }

    /// The room `name` as listed to the user, if they are in it.
    pub fn room(&self, name: &RoomName) -> Option<&RoomInfo> {
        self.rooms.iter().find(|r| r.name == *name)
    }

    /// The user's role in the room `name`: owner, moderator, or member.
    pub fn my_role(&self, name: &RoomName) -> Role {
        self.room(name).and_then(|r| r.role).unwrap_or(Role::Member)
    }

    /// Creates a room the user will own; the reply is `joined`, which
    /// opens it.
    pub fn create(&mut self, room: RoomName, private: bool, topic: Option<Topic>) {
        self.notes.remove(&Place::NewRoom);
        self.ask(
            Purpose::Create { room: room.clone() },
            Request::Create {
                room,
                private,
                topic,
            },
        );
    }

    /// Whether a `create` is waiting for its answer.
    pub fn creating(&self) -> bool {
        self.asking(|p| matches!(p, Purpose::Create { .. }))
    }

    /// Does `act` to the room `room`.
    pub fn room_act(&mut self, room: RoomName, act: RoomAct) {
        self.notes.remove(&act.place(&room));
        let request = act.request(room.clone());
        self.ask(Purpose::Room { room, act }, request);
    }

    /// Accepts an invitation: joining uses it up.
    pub fn accept(&mut self, room: RoomName) {
        self.notes.remove(&Place::Invitation(room.clone()));
        self.join(room);
    }

    /// An invitation pushed by the server; a newer one to the same room
    /// replaces the older (the room may have changed since).
    pub(super) fn invited(&mut self, room: RoomInfo, by: Username) {
        if self.room(&room.name).is_some() {
            return;
        }
        self.invitations.retain(|i| i.room.name != room.name);
        self.invitations.push(Invitation { room, by });
    }

    /// A `done` answering `act`.
    pub(super) fn room_done(&mut self, room: RoomName, act: RoomAct) {
        if act == RoomAct::Decline {
            self.invitations.retain(|i| i.room.name != room);
            self.notes.remove(&Place::Invitation(room));
            return;
        }
        let text = act.done(&room);
        self.set_note(act.place(&room), text, true);
        // No notice follows an unban: the list of bans is redrawn here.
        if let RoomAct::Unban(user) = &act
            && let Some(list) = self.members.get_mut(&room.key())
        {
            list.banned.retain(|b| b != user);
        }
        if let RoomAct::SetTopic(topic) = act
            && let Some(r) = self.rooms.iter_mut().find(|r| r.name == room)
        {
            // The notice says so too, but this answer may come first.
            r.topic = topic;
        }
    }

    /// A room action refused: said where it was taken.
    pub(super) fn room_refused(&mut self, room: RoomName, act: RoomAct, message: &str) {
        let text = format!("Could not {}: {}", act.what(), sentence(message));
        self.set_note(act.place(&room), text, false);
    }

    /// A room action that got no answer: the connection dropped. It may or
    /// may not have been done; the notices after the reconnect tell.
    pub(super) fn room_unanswered(&mut self, room: RoomName, act: RoomAct) {
        let text = format!(
            "Not connected: could not {}. Try again once connected.",
            act.what()
        );
        self.set_note(act.place(&room), text, false);
    }

    /// A refused `create` or `join` of an invitation: said in the dialog or
    /// beside the invitation.
    pub(super) fn create_refused(&mut self, room: &RoomName, message: &str) {
        let text = format!("Could not create #{room}: {}", sentence(message));
        self.set_note(Place::NewRoom, text, false);
    }

    /// A refused join, said beside the invitation if there is one.
    pub(super) fn invitation_refused(&mut self, room: &RoomName, message: &str) {
        if self.invitations.iter().any(|i| i.room.name == *room) {
            let text = format!("Could not join #{room}: {}", sentence(message));
            self.set_note(Place::Invitation(room.clone()), text, false);
        }
    }

    /// A notice that changes a room: its topic, a member's role, a member
    /// removed (the user: the room leaves their list).
    pub(super) fn room_notice(&mut self, kind: &NoticeKind) {
        match kind {
            NoticeKind::Topic { room, topic, .. } => {
                if let Some(r) = self.rooms.iter_mut().find(|r| r.name == *room) {
                    r.topic = topic.clone();
                }
            }
            NoticeKind::Role {
                room, user, role, ..
            } => {
                if *user == self.me
                    && let Some(r) = self.rooms.iter_mut().find(|r| r.name == *room)
                {
                    // Lists carry `role` only for owners and moderators.
                    r.role = (*role != Role::Member).then_some(*role);
                }
                if let Some(list) = self.members.get_mut(&room.key())
                    && let Some(m) = list.members.iter_mut().find(|m| m.username == *user)
                {
                    m.role = (*role != Role::Member).then_some(*role);
                }
            }
            NoticeKind::Kicked {
                room,
                user,
                by,
                banned,
            } if *user == self.me => {
                self.rooms.retain(|r| r.name != *room);
                self.members.remove(&room.key());
                self.invitations.retain(|i| i.room.name != *room);
                let what = if *banned {
                    "banned from"
                } else {
                    "removed from"
                };
                self.removals
                    .push(format!("You were {what} #{room} by {by}"));
                if self.current == Target::Room(room.clone()) {
                    self.show(Target::Room(RoomName::general()));
                }
            }
            NoticeKind::Kicked { room, user, .. } => {
                if let Some(list) = self.members.get_mut(&room.key()) {
                    let before = list.members.len();
                    list.members.retain(|m| m.username != *user);
                    if list.members.len() < before {
                        list.total = list.total.saturating_sub(1);
                    }
                }
                if let Some(r) = self.rooms.iter_mut().find(|r| r.name == *room) {
                    r.members = r.members.saturating_sub(1);
                }
            }
            _ => {}
        }
    }

    /// Forgets the note about a room the user was removed from.
    pub fn dismiss_removal(&mut self, index: usize) {
        if index < self.removals.len() {
            self.removals.remove(index);
        }
    }
}

#[cfg(test)]
mod tests;
