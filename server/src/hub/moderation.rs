//! What a room's owner and moderators do: invite, remove and ban members,
//! set the topic, and (the owner) name moderators. Each is checked against
//! the room's [`RoomRules`], saved to `users.json` before it takes effect
//! (refused whole if the save fails), and told to the room as a notice.
//! They run one at a time (`Hub::moderation`), so two of them never judge
//! the same rules and then both apply.

use cove_common::proto::{NoticeKind, Role, ServerMessage};
use cove_common::{RoomName, Topic, Username};

use crate::accounts::UserCtx;
use crate::store::rooms::Invite;
use crate::sync::lock;

use super::presence::notice_bytes;
use super::unread::ConvKey;
use super::{Hub, HubError};

/// What a moderator does to a room.
#[derive(Debug, Clone)]
pub enum Moderation {
    /// Invite a user.
    Invite(Username),
    /// Remove a member, and with `true` ban them.
    Kick(Username, bool),
    /// Lift a ban.
    Unban(Username),
    /// Set or clear the topic.
    Topic(Option<Topic>),
    /// Make a member a moderator or a member again (the owner only).
    Role(Username, Role),
}

impl Hub {
    /// Does `what` to `room` as `actor`.
    pub async fn moderate(
        &self,
        actor: &UserCtx,
        room: RoomName,
        what: Moderation,
    ) -> Result<(), HubError> {
        let _one_at_a_time = self.moderation.lock().await;
        let key = room.key();
        // Judge against the rules as they stand, and compute the new ones.
        let (name, target, rules, remove) = {
            let live = lock(&self.live);
            let r = live.member_room(&room, &actor.id)?;
            if !r.rules.moderates(&actor.id) {
                return Err(HubError::Forbidden(
                    "only the room's owner or moderators may do that",
                ));
            }
            let mut rules = r.rules.clone();
            let mut target = None;
            let mut remove = false;
            match &what {
                Moderation::Invite(who) => {
                    let id = live.account(who)?;
                    if rules.banned.contains(&id) {
                        return Err(HubError::Forbidden("that user is banned: unban them first"));
                    }
                    rules.uninvite(&id);
                    if !r.members.contains(&id) {
                        rules.invited.push(Invite {
                            user: id.clone(),
                            by: actor.id.clone(),
                        });
                    }
                    target = Some(id);
                }
                Moderation::Kick(who, ban) => {
                    if key == RoomName::general().key() {
                        return Err(HubError::CannotLeave);
                    }
                    let id = live.account(who)?;
                    if !rules.may_remove(&actor.id, &id) {
                        return Err(HubError::Forbidden(
                            "the owner may remove anyone else, moderators only members",
                        ));
                    }
                    if !ban && !r.members.contains(&id) {
                        return Err(HubError::TargetNotMember(who.clone(), r.name.clone()));
                    }
                    rules.uninvite(&id);
                    rules.moderators.retain(|u| *u != id);
                    if *ban && !rules.banned.contains(&id) {
                        rules.banned.push(id.clone());
                    }
                    remove = r.members.contains(&id);
                    target = Some(id);
                }
                Moderation::Unban(who) => {
                    let id = live.account(who)?;
                    rules.banned.retain(|u| *u != id);
                }
                Moderation::Topic(topic) => rules.topic = topic.clone(),
                Moderation::Role(who, role) => {
                    if rules.role_of(&actor.id) != Role::Owner {
                        return Err(HubError::Forbidden(
                            "only the room's owner names moderators",
                        ));
                    }
                    let id = live.account(who)?;
                    if !r.members.contains(&id) {
                        return Err(HubError::TargetNotMember(who.clone(), r.name.clone()));
                    }
                    match role {
                        Role::Moderator if rules.role_of(&id) == Role::Member => {
                            rules.moderators.push(id.clone());
                        }
                        Role::Member => rules.moderators.retain(|u| *u != id),
                        Role::Moderator => {}
                        Role::Owner => {
                            return Err(HubError::Forbidden("a room's owner stays its owner"));
                        }
                    }
                }
            }
            (r.name.clone(), target, rules, remove)
        };
        let saved = rules.clone();
        let leaving = target.clone().filter(|_| remove);
        self.db
            .update_room(name.clone(), move |rec| {
                rec.rules = saved;
                if let Some(id) = leaving {
                    rec.members.retain(|m| *m != id);
                }
            })
            .await?;
        let mut live = lock(&self.live);
        if let Some(r) = live.rooms.get_mut(&key) {
            r.rules = rules;
        }
        let notice = match &what {
            Moderation::Invite(_) => None,
            Moderation::Kick(who, banned) => Some(NoticeKind::Kicked {
                room: name.clone(),
                user: who.clone(),
                by: actor.name.clone(),
                banned: *banned,
            }),
            Moderation::Unban(_) => None,
            Moderation::Topic(topic) => Some(NoticeKind::Topic {
                room: name.clone(),
                by: actor.name.clone(),
                topic: topic.clone(),
            }),
            Moderation::Role(who, role) => Some(NoticeKind::Role {
                room: name.clone(),
                user: who.clone(),
                role: *role,
                by: actor.name.clone(),
            }),
        };
        // Told before a removal, so the removed member hears it too.
        if let (Some(kind), Some(r)) = (notice, live.rooms.get(&key)) {
            let bytes = notice_bytes(kind);
            for s in &r.fanout.online {
                s.outbox.push(bytes.clone());
            }
        }
        if let (true, Some(id)) = (remove, &target) {
            if let Some(r) = live.rooms.get_mut(&key) {
                r.members.remove(id);
                r.joined.remove(id);
            }
            if let Some(u) = live.users.get_mut(id) {
                u.rooms.remove(&key);
            }
            live.rebuild_fanout(&key, true);
        }
        if let (Moderation::Invite(_), Some(id)) = (&what, &target) {
            let unread = live.unread(id, &ConvKey::Room(key.clone()));
            if let (Some(r), Some(u)) = (live.rooms.get(&key), live.users.get(id)) {
                let invited = ServerMessage::Invited {
                    room: live.room_info(r, unread, id),
                    by: actor.name.clone(),
                };
                let bytes = bytes::Bytes::from(invited.encode());
                for s in &u.sessions {
                    s.outbox.push(bytes.clone());
                }
            }
        }
        Ok(())
    }

    /// Turns down an invitation to `room` (nothing if there is none).
    pub async fn decline(&self, user: &UserCtx, room: RoomName) -> Result<(), HubError> {
        let _one_at_a_time = self.moderation.lock().await;
        let key = room.key();
        let name = {
            let live = lock(&self.live);
            let r = live
                .rooms
                .get(&key)
                .ok_or_else(|| HubError::NoSuchRoom(room.clone()))?;
            if !r.rules.is_invited(&user.id) {
                return Ok(());
            }
            r.name.clone()
        };
        let id = user.id.clone();
        self.db
            .update_room(name, move |rec| rec.rules.uninvite(&id))
            .await?;
        if let Some(r) = lock(&self.live).rooms.get_mut(&key) {
            r.rules.uninvite(&user.id);
        }
        Ok(())
    }
}
