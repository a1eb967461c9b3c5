//! Presence: attaching and detaching a user's sessions, and the
//! online/offline/left notices their room peers get.

use bytes::Bytes;
use cove_common::Target;
use cove_common::Username;
use cove_common::limits::{DIRECTS_LIST_MAX, ROOMS_LIST_MAX};
use cove_common::proto::{Notice, NoticeKind, RoomInfo, ServerMessage};
use cove_common::time::now_ms;

use crate::accounts::UserCtx;
use crate::outbox::Outbox;
use crate::sync::lock;

use super::live::OnlineSession;
use super::{ConnId, Hub};

impl Hub {
    /// Attaches a logged-in session; tells room peers the user came online if
    /// this is their first session. Returns the user's rooms with unread
    /// counts (which are then reset) and their direct-conversation partners,
    /// by name, at most [`ROOMS_LIST_MAX`] and [`DIRECTS_LIST_MAX`] of them.
    pub fn attach(
        &self,
        user: &UserCtx,
        conn: ConnId,
        outbox: Outbox,
    ) -> (Vec<RoomInfo>, Vec<Username>) {
        let mut live = lock(&self.live);
        let Some(u) = live.users.get_mut(&user.id) else {
            return (Vec::new(), Vec::new());
        };
        let first = u.sessions.is_empty();
        u.sessions.push(OnlineSession { conn, outbox });
        let unread = std::mem::take(&mut u.unread);
        live.rebuild_user_rooms(&user.id);
        if first {
            let notice = notice_bytes(NoticeKind::Online {
                user: user.name.clone(),
            });
            for s in live.peers_of(&user.id, true) {
                s.outbox.push(notice.clone());
            }
        }
        let rooms: Vec<String> = live
            .users
            .get(&user.id)
            .map(|u| u.rooms.iter().cloned().collect())
            .unwrap_or_default();
        // Both lists are capped so that `welcome` always fits in a record.
        let infos = rooms
            .iter()
            .filter_map(|r| live.rooms.get(r))
            .take(ROOMS_LIST_MAX)
            .map(|room| {
                let n = unread
                    .get(&Target::Room(room.name.clone()))
                    .copied()
                    .unwrap_or(0);
                live.room_info(room, n)
            })
            .collect();
        let mut directs: Vec<Username> = live
            .users
            .get(&user.id)
            .map(|u| {
                u.contacts
                    .iter()
                    .filter_map(|c| live.users.get(c).map(|p| p.name.clone()))
                    .collect()
            })
            .unwrap_or_default();
        directs.sort();
        directs.truncate(DIRECTS_LIST_MAX);
        (infos, directs)
    }

    /// Detaches a session. If it was the user's last, room peers are told:
    /// "left the chat" after `#exit`, "went offline" otherwise.
    pub fn detach(&self, user: &UserCtx, conn: ConnId, exited: bool) {
        let mut live = lock(&self.live);
        let Some(u) = live.users.get_mut(&user.id) else {
            return;
        };
        u.sessions.retain(|s| s.conn != conn);
        let last = u.sessions.is_empty();
        live.rebuild_user_rooms(&user.id);
        if last {
            let name = user.name.clone();
            let kind = if exited {
                NoticeKind::Exited { user: name }
            } else {
                NoticeKind::Offline { user: name }
            };
            // "left the chat" goes to everyone; "went offline" only
            // through small rooms.
            let notice = notice_bytes(kind);
            for s in live.peers_of(&user.id, !exited) {
                s.outbox.push(notice.clone());
            }
        }
    }
}

/// A notice, encoded once for every recipient.
pub(super) fn notice_bytes(kind: NoticeKind) -> Bytes {
    Bytes::from(ServerMessage::Notice(Notice::new(now_ms(), kind)).encode())
}
