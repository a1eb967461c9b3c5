//! Rooms and membership: joining, leaving, the room list and member lists.

use cove_common::RoomName;
use cove_common::limits::{MEMBERS_LIST_MAX, ROOMS_LIST_MAX};
use cove_common::proto::{Member, NoticeKind, RoomInfo};

use crate::accounts::UserCtx;
use crate::sync::lock;

use super::live::Room;
use super::presence::notice_bytes;
use super::unread::{ConvKey, Unread};
use super::{Hub, HubError};

impl Hub {
    /// Joins (creating if needed) a room.
    pub async fn join(&self, user: &UserCtx, room: RoomName) -> Result<RoomInfo, HubError> {
        let key = room.key();
        let already = lock(&self.live)
            .users
            .get(&user.id)
            .is_some_and(|u| u.rooms.contains(&key));
        if !already {
            self.db.add_member(room.clone(), user.id.clone()).await?;
        }
        let mut live = lock(&self.live);
        let name = live
            .rooms
            .entry(key.clone())
            .or_insert_with(|| Room::new(room.clone()))
            .name
            .clone();
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
        Ok(live.room_info(r, unread))
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
        let total = live.rooms.len();
        let mine = live.users.get(&user.id).map(|u| &u.rooms);
        let mut chosen: Vec<&Room> = live.rooms.values().collect();
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
                live.room_info(r, unread)
            })
            .collect();
        rooms.sort_by(|a, b| a.name.cmp(&b.name));
        (rooms, u32::try_from(total).unwrap_or(u32::MAX))
    }

    /// The members of a room the user is in, by name, or at most
    /// [`MEMBERS_LIST_MAX`] of them (online ones first), and how many it
    /// has.
    pub fn members(&self, user: &UserCtx, room: &RoomName) -> Result<(Vec<Member>, u32), HubError> {
        let live = lock(&self.live);
        let r = live.member_room(room, &user.id)?;
        let mut out: Vec<Member> = r
            .members
            .iter()
            .filter_map(|id| live.users.get(id))
            .map(|u| Member {
                username: u.name.clone(),
                online: !u.sessions.is_empty(),
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
        Ok((out, total))
    }
}
