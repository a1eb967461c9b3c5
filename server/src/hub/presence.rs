//! Presence: attaching and detaching a user's sessions, and the
//! online/offline/left notices their room peers get.

use std::sync::Arc;

use bytes::Bytes;
use cove_common::Username;
use cove_common::limits::{DIRECTS_LIST_MAX, ROOMS_LIST_MAX};
use cove_common::proto::{DirectUnread, Invitation, Notice, NoticeKind, RoomInfo, ServerMessage};
use cove_common::time::now_ms;

use crate::accounts::UserCtx;
use crate::outbox::{Outbox, SignOut};
use crate::sync::lock;

use super::live::OnlineSession;
use super::unread::ConvKey;
use super::{ConnId, Hub};

impl Hub {
    /// Attaches a logged-in session; tells room peers the user came online if
    /// this is their first session. Returns the user's rooms with unread
    /// counts, their direct-conversation partners by name, at most
    /// [`ROOMS_LIST_MAX`] and [`DIRECTS_LIST_MAX`] of them, and the unread
    /// counts of those direct conversations that have any.
    pub fn attach(
        &self,
        user: &UserCtx,
        conn: ConnId,
        outbox: Outbox,
        sign_out: Arc<SignOut>,
    ) -> Attached {
        let mut live = lock(&self.live);
        let Some(u) = live.users.get_mut(&user.id) else {
            return Attached::default();
        };
        let first = u.sessions.is_empty();
        u.sessions.push(OnlineSession {
            conn,
            outbox,
            sign_out,
        });
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
                let n = live.unread(&user.id, &ConvKey::Room(room.name.key()));
                live.room_info(room, n, &user.id)
            })
            .collect();
        let mut directs: Vec<Username> = live
            .users
            .get(&user.id)
            .map(|u| u.contacts.iter().filter_map(|c| live.name_of(c)).collect())
            .unwrap_or_default();
        directs.sort();
        directs.truncate(DIRECTS_LIST_MAX);
        let direct_unread = live
            .direct_unread(&user.id)
            .into_iter()
            .filter(|(name, _)| directs.contains(name))
            .map(|(user, unread)| DirectUnread {
                user,
                unread: unread.messages,
                mentions: unread.mentions,
            })
            .collect();
        // Every room is looked at once per login: rooms number in the
        // hundreds, and an invitation must survive its user being away.
        let invitations = live
            .rooms
            .values()
            .filter_map(|r| {
                let by = r.rules.invited_by(&user.id)?;
                let by = live.name_of(by)?;
                let unread = live.unread(&user.id, &ConvKey::Room(r.name.key()));
                Some(Invitation {
                    room: live.room_info(r, unread, &user.id),
                    by,
                })
            })
            .collect();
        Attached {
            rooms: infos,
            directs,
            direct_unread,
            invitations,
        }
    }

    /// Signs out every session of `user` but `conn` with `reason` in their
    /// `bye` (after a password change); returns how many.
    pub fn sign_out_others(&self, user: &UserCtx, conn: ConnId, reason: &'static str) -> u32 {
        let live = lock(&self.live);
        let Some(u) = live.users.get(&user.id) else {
            return 0;
        };
        let mut n = 0;
        for s in u.sessions.iter().filter(|s| s.conn != conn) {
            s.sign_out.sign_out(reason);
            n += 1;
        }
        n
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
        if last {
            // Read again at their next login: memory holds the changes of
            // logged-in users only.
            u.folds = None;
        }
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

/// What `welcome` lists for a session just attached.
#[derive(Debug, Default)]
pub struct Attached {
    /// The user's rooms with unread counts.
    pub rooms: Vec<RoomInfo>,
    /// Their direct-conversation partners.
    pub directs: Vec<Username>,
    /// The unread counts of those direct conversations that have any.
    pub direct_unread: Vec<DirectUnread>,
    /// Invitations not answered yet.
    pub invitations: Vec<Invitation>,
}

/// A notice, encoded once for every recipient.
pub(super) fn notice_bytes(kind: NoticeKind) -> Bytes {
    Bytes::from(ServerMessage::Notice(Notice::new(now_ms(), kind)).encode())
}
