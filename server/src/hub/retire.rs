//! Deleting an account: the account database forgets it and retires its
//! name, the hub takes it out of every room and tells the people who
//! shared one, its other sessions are signed out, and its history and
//! changes files are deleted once the writes already queued for them are
//! done. Messages it sent stay in their recipients' histories, as a
//! letter stays with whoever received it.

use cove_common::Username;
use cove_common::proto::NoticeKind;

use crate::accounts::UserCtx;
use crate::store::users::UserId;
use crate::sync::lock;

use super::live::LiveState;
use super::presence::notice_bytes;
use super::{ConnId, Hub, HubError};

impl Hub {
    /// Deletes `user`'s account; its sessions but `conn` are signed out
    /// with `reason` (`conn` is closed by its caller).
    pub async fn delete_account(
        &self,
        user: &UserCtx,
        conn: ConnId,
        reason: &'static str,
    ) -> Result<(), HubError> {
        self.db.delete_account(user.id.clone()).await?;
        {
            let mut live = lock(&self.live);
            let notice = notice_bytes(NoticeKind::Deleted {
                user: user.name.clone(),
            });
            for s in live.peers_of(&user.id, false) {
                s.outbox.push(notice.clone());
            }
            live.retire(&user.id, conn, reason);
        }
        // No job queued from now on names them (they are in no room and
        // direct messages to them are refused): these come after the last.
        let (history, changes) = (
            self.history.delete(user.id.clone()),
            self.changes.delete(user.id.clone()),
        );
        for deleted in [history.await, changes.await] {
            if let Ok(Err(e)) = deleted {
                // The account is gone; its file, still sealed to a key
                // nobody can unwrap any more, is left for the operator.
                tracing::warn!(error = %e, "could not delete a deleted account's file");
            }
        }
        Ok(())
    }
}

impl LiveState {
    /// Takes a deleted account out of every room and out of the users,
    /// keeping its name taken and resolvable for the conversations others
    /// had with it.
    fn retire(&mut self, id: &UserId, conn: ConnId, reason: &'static str) {
        let Some(u) = self.users.remove(id) else {
            return;
        };
        for s in u.sessions.iter().filter(|s| s.conn != conn) {
            s.sign_out.sign_out(reason);
        }
        for key in &u.rooms {
            if let Some(r) = self.rooms.get_mut(key) {
                r.members.remove(id);
                r.joined.remove(id);
            }
            self.rebuild_fanout(key, true);
        }
        self.retired.insert(id.clone(), u.name);
    }

    /// The name of an account, deleted or not.
    pub(super) fn name_of(&self, id: &UserId) -> Option<Username> {
        self.users
            .get(id)
            .map(|u| u.name.clone())
            .or_else(|| self.retired.get(id).cloned())
    }
}
