//! Fan-out of one chat message: live to every online recipient's queue,
//! and into every recipient's history, with the sender's ack waiting for
//! the history write.

use std::sync::Arc;

use bytes::Bytes;
use cove_common::proto::{ChatMessage, ServerMessage};
use cove_common::time::now_ms;
use cove_common::{ClientMsgId, MessageText, Target};

use crate::accounts::UserCtx;
use crate::store::history::AppendJob;
use crate::sync::lock;

use super::live::Fanout;
use super::{ConnId, Hub, HubError, StoreDone};

impl Hub {
    /// Delivers a message live to every online recipient (except the sending
    /// connection) and queues it for every recipient's history. The returned
    /// receiver completes once the history write is done: only then may the
    /// sender get its ack.
    ///
    /// A `client_id` this user already had stored is not sent again: the
    /// original id and time come back, as if acknowledged once more.
    pub fn send(
        &self,
        from: &UserCtx,
        conn: ConnId,
        client_id: &ClientMsgId,
        to: Target,
        text: MessageText,
    ) -> Result<(ChatMessage, StoreDone), HubError> {
        let mut contact_saved = None;
        let fanout = {
            let mut live = lock(&self.live);
            let earlier = live
                .users
                .get(&from.id)
                .and_then(|u| u.recent.find(client_id));
            if let Some((id, ts)) = earlier {
                let (tx, rx) = tokio::sync::oneshot::channel();
                let _ = tx.send(Ok(()));
                let msg = ChatMessage {
                    id,
                    ts,
                    from: from.name.clone(),
                    to,
                    text,
                };
                return Ok((msg, rx));
            }
            match &to {
                Target::Room(room) => {
                    let fanout = live.member_room(room, &from.id)?.fanout.clone();
                    if !fanout.offline.is_empty() {
                        for id in &fanout.offline {
                            if let Some(u) = live.users.get_mut(id) {
                                *u.unread.entry(to.clone()).or_default() += 1;
                            }
                        }
                    }
                    fanout
                }
                Target::User(peer) => {
                    let peer_id = live
                        .names
                        .get(&peer.key())
                        .cloned()
                        .ok_or_else(|| HubError::NoSuchUser(peer.clone()))?;
                    let (mut members, mut online) = (Vec::new(), Vec::new());
                    let mut ids = vec![from.id.clone()];
                    if peer_id != from.id {
                        ids.push(peer_id.clone());
                    }
                    if peer_id != from.id
                        && live
                            .users
                            .get_mut(&from.id)
                            .is_some_and(|u| u.contacts.insert(peer_id.clone()))
                    {
                        if let Some(p) = live.users.get_mut(&peer_id) {
                            p.contacts.insert(from.id.clone());
                        }
                        contact_saved = Some(self.db.add_contact(from.id.clone(), peer_id.clone()));
                    }
                    for id in ids {
                        if let Some(u) = live.users.get_mut(&id) {
                            members.push((id.clone(), u.history_public));
                            online.extend(u.sessions.iter().cloned());
                            if u.sessions.is_empty() {
                                *u.unread.entry(Target::User(from.name.clone())).or_default() += 1;
                            }
                        }
                    }
                    Arc::new(Fanout {
                        members: members.into(),
                        online,
                        offline: Vec::new(),
                    })
                }
            }
        };
        let users = fanout.members.clone();
        // Judged before this message's own write is queued (see below).
        let healthy = self.history.healthy();
        // The id is taken and the history write queued under one lock, so
        // every history file holds ids in increasing order: paging by id
        // relies on it (two senders racing between the two steps once
        // stored ids out of order, and pages skipped messages).
        let (msg, done) = self.ids.issue(|id| {
            let msg = ChatMessage {
                id,
                ts: now_ms(),
                from: from.name.clone(),
                to,
                text,
            };
            let entry: Arc<[u8]> = serde_json::to_vec(&msg)
                .map_err(|_| HubError::Internal)?
                .into();
            let done = self.history.append(AppendJob { users, entry });
            Ok::<_, HubError>((msg, done))
        })??;
        let live_frame = Bytes::from(ServerMessage::Message(msg.clone()).encode());
        let deliver = move || {
            for s in &fanout.online {
                if s.conn != conn {
                    s.outbox.push(live_frame.clone());
                }
            }
        };
        // Normally a message goes out live at once and is stored meanwhile.
        // After a storage failure (disk full, read-only) it is shown to
        // others only once it is stored, so nobody sees a message whose
        // sender was told it failed; this lasts until a write succeeds.
        if healthy {
            deliver();
        }
        if healthy && contact_saved.is_none() {
            return Ok((msg, done));
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let stored = done.await;
            // A first direct message: acknowledge once the contact is saved
            // too.
            if let Some(saving) = contact_saved {
                let _ = saving.await;
            }
            if let Ok(result) = stored {
                if !healthy && result.is_ok() {
                    deliver();
                }
                let _ = tx.send(result);
            }
        });
        Ok((msg, rx))
    }
}
