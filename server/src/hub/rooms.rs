//! Rooms and membership: joining, leaving, the room list and member lists.

use cove_common::limits::{MEMBERS_LIST_MAX, ROOMS_LIST_MAX};
use cove_common::proto::{Member, NoticeKind, RoomInfo};
use cove_common::{RoomName, Topic, Username};

use crate::accounts::UserCtx;
use crate::store::rooms::{Refusal, RoomRules};
use crate::sync::lock;

use super::live::Room;
use super::presence::notice_bytes;
use super::unread::{ConvKey, Unread};
use super::{Hub, HubError};

/// A room's members as one of them sees them.
#[derive(Debug)]
pub struct MemberList {
    /// The members, at most [`MEMBERS_LIST_MAX`].
    pub members: Vec<Member>,
    /// How many there are.
    pub total: u32,
    /// Who is banned, for its owner and moderators only.
    pub banned: Vec<Username>,
}

impl Hub {
    /// Joins a room, creating it (public, owned by `user`) if it does not
    /// exist. A private room needs an invitation; a ban keeps one out.
    pub async fn join(&self, user: &UserCtx, room: RoomName) -> Result<RoomInfo, HubError> {
        self.enter(user, room, None).await
    }

    /// Creates a room owned by `user` (protocol v5 `create`); one that
    /// exists is refused.
    pub async fn create(
        &self,
        user: &UserCtx,
        room: RoomName,
        private: bool,
        topic: Option<Topic>,
    ) -> Result<RoomInfo, HubError> {
        let rules = RoomRules::created_by(user.id.clone(), private, topic);
        self.enter(user, room, Some(rules)).await
    }

    async fn enter(
        &self,
        user: &UserCtx,
        room: RoomName,
        create: Option<RoomRules>,
    ) -> Result<RoomInfo, HubError> {
        let key = room.key();
        let (already, exists) = {
            let live = lock(&self.live);
            let already = live
                .users
                .get(&user.id)
                .is_some_and(|u| u.rooms.contains(&key));
            let exists = match live.rooms.get(&key) {
                Some(r) if create.is_some() => return Err(HubError::RoomExists(r.name.clone())),
                Some(r) if !already => {
                    r.rules
                        .may_join(&user.id)
                        .map_err(|refusal| match refusal {
                            Refusal::Banned => HubError::Banned(r.name.clone()),
                            Refusal::NotInvited => HubError::NotInvited(r.name.clone()),
                        })?;
                    true
                }
                Some(_) => true,
                None => false,
            };
            (already, exists)
        };
        // A room that does not exist yet is created, owned by whoever
        // creates it (if another creates it meanwhile, this joins it).
        let rules = (!exists)
            .then(|| create.unwrap_or_else(|| RoomRules::created_by(user.id.clone(), false, None)));
        if !already {
            self.db
                .enter_room(room.clone(), user.id.clone(), rules.clone())
                .await?;
        }
        let mut live = lock(&self.live);
        let r = live.rooms.entry(key.clone()).or_insert_with(|| {
            let mut r = Room::new(room.clone());
            r.rules = rules.unwrap_or_default();
            r
        });
        r.rules.uninvite(&user.id);
        let name = r.name.clone();
        if let Some(r) = live.rooms.get_mut(&key) {
            r.members.insert(user.id.clone());
        }
        if let Some(u) = live.users.get_mut(&user.id) {
            u.rooms.insert(key.clone());
        }
        live.rebuild_fanout(&key, true);
        if !already {
            live.mark_room_read(&user.id, &key);
            live.note_joined(&user.id, &key);
            let notice = notice_bytes(NoticeKind::Joined {
                room: name.clone(),
                user: user.name.clone(),
            });
            if let Some(r) = live.rooms.get(&key) {
                for s in &r.fanout.online {
                    s.outbox.push(notice.clone());
                }
            }
        }
        let r = live.rooms.get(&key).ok_or(HubError::Internal)?;
        let unread = live.unread(&user.id, &ConvKey::Room(key.clone()));
        Ok(live.room_info(r, unread, &user.id))
    }

    /// Leaves a room.
    pub async fn leave(&self, user: &UserCtx, room: RoomName) -> Result<RoomName, HubError> {
        let key = room.key();
        if room == RoomName::general() {
            return Err(HubError::CannotLeave);
        }
        let name = {
            let live = lock(&self.live);
            live.member_room(&room, &user.id)?.name.clone()
        };
        self.db.remove_member(name.clone(), user.id.clone()).await?;
        let mut live = lock(&self.live);
        let notice = notice_bytes(NoticeKind::Left {
            room: name.clone(),
            user: user.name.clone(),
        });
        // Tell everyone who was in the room, the leaver's sessions included.
        if let Some(r) = live.rooms.get(&key) {
            for s in &r.fanout.online {
                s.outbox.push(notice.clone());
            }
        }
        if let Some(r) = live.rooms.get_mut(&key) {
            r.members.remove(&user.id);
            r.joined.remove(&user.id);
        }
        if let Some(u) = live.users.get_mut(&user.id) {
            u.rooms.remove(&key);
        }
        live.rebuild_fanout(&key, true);
        Ok(name)
    }

    /// Every room with counts, by name, or at most [`ROOMS_LIST_MAX`] of
    /// them (the user's own first, then the biggest), and how many there
    /// are.
    pub fn list_rooms(&self, user: &UserCtx) -> (Vec<RoomInfo>, u32) {
        let live = lock(&self.live);
        let mine = live.users.get(&user.id).map(|u| &u.rooms);
        // Private rooms are listed to their members only.
        let mut chosen: Vec<&Room> = live
            .rooms
            .values()
            .filter(|r| !r.rules.private || r.members.contains(&user.id))
            .collect();
        let total = chosen.len();
        if chosen.len() > ROOMS_LIST_MAX {
            chosen.sort_by_key(|r| {
                let own = mine.is_some_and(|m| m.contains(&r.name.key()));
                (!own, std::cmp::Reverse(r.members.len()))
            });
            chosen.truncate(ROOMS_LIST_MAX);
        }
        let mut rooms: Vec<RoomInfo> = chosen
            .into_iter()
            .map(|r| {
                let key = r.name.key();
                let unread = if mine.is_some_and(|m| m.contains(&key)) {
                    live.unread(&user.id, &ConvKey::Room(key))
                } else {
                    Unread::default()
                };
                live.room_info(r, unread, &user.id)
            })
            .collect();
        rooms.sort_by(|a, b| a.name.cmp(&b.name));
        (rooms, u32::try_from(total).unwrap_or(u32::MAX))
    }

    /// The members of a room the user is in, by name, or at most
    /// [`MEMBERS_LIST_MAX`] of them (online ones first), and how many it
    /// has.
    pub fn members(&self, user: &UserCtx, room: &RoomName) -> Result<MemberList, HubError> {
        let live = lock(&self.live);
        let r = live.member_room(room, &user.id)?;
        // The names of the banned, for those who may lift a ban.
        let mut banned: Vec<Username> = if r.rules.moderates(&user.id) {
            r.rules
                .banned
                .iter()
                .filter_map(|id| live.users.get(id).map(|u| u.name.clone()))
                .collect()
        } else {
            Vec::new()
        };
        banned.sort();
        banned.truncate(MEMBERS_LIST_MAX);
        let mut out: Vec<Member> = r
            .members
            .iter()
            .filter_map(|id| live.users.get(id).map(|u| (id, u)))
            .map(|(id, u)| Member {
                username: u.name.clone(),
                online: !u.sessions.is_empty(),
                role: r.rules.shown_role(id),
            })
            .collect();
        let total = u32::try_from(out.len()).unwrap_or(u32::MAX);
        if out.len() > MEMBERS_LIST_MAX {
            out.sort_by(|a, b| {
                b.online
                    .cmp(&a.online)
                    .then_with(|| a.username.cmp(&b.username))
            });
            out.truncate(MEMBERS_LIST_MAX);
        }
        out.sort_by(|a, b| a.username.cmp(&b.username));
        Ok(MemberList {
            members: out,
            total,
            banned,
        })
    }
}
