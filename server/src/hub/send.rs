//! Fan-out of one chat message: live to every online recipient's queue,
//! and into every recipient's history, with the sender's ack waiting for
//! the history write.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use cove_common::limits::MENTIONS_MAX;
use cove_common::mentions::mentions;
use cove_common::proto::{Attachment, ChatMessage, Quote, ServerMessage};
use cove_common::time::now_ms;
use cove_common::{ClientMsgId, MessageText, Target, Username};
use futures_util::FutureExt;
use tokio::sync::oneshot;

use crate::accounts::UserCtx;
use crate::store::StoreError;
use crate::store::history::{AppendJob, QueueSpace};
use crate::store::users::UserId;
use crate::sync::lock;

use super::live::{Fanout, LiveState};
use super::recent::{Conversation, Recent, quote_of};
use super::unread::{ConvKey, pair};
use super::{ConnId, Hub, HubError, NotStored, StoreDone};

/// A message as its sender gives it.
#[derive(Debug)]
pub struct Outgoing {
    /// Where it goes, as the sender named it.
    pub to: Target,
    /// The text; absent only when it carries a file.
    pub text: Option<MessageText>,
    /// The quote of the message it replies to (see [`Hub::quote`]).
    pub reply_to: Option<Quote>,
    /// The file it carries (since v6).
    pub file: Option<Attachment>,
}

impl Outgoing {
    /// Bytes its history entry takes beyond the JSON envelope.
    fn payload_len(&self) -> usize {
        self.text.as_ref().map_or(0, |t| t.as_str().len())
            + self
                .file
                .as_ref()
                .map_or(0, |f| f.name.as_str().len() + 160)
    }
}

/// What one send queued, and what remains to do once the locks are
/// released.
struct Queued {
    msg: ChatMessage,
    fanout: Arc<Fanout>,
    /// Set when the outcome must wait for more than the history write (a
    /// new contact's save, or delivery after storage while the disk is in
    /// trouble): a task of its own finishes the send.
    finish: Option<Finish>,
}

struct Finish {
    written: oneshot::Receiver<Result<(), StoreError>>,
    contact_saved: Option<oneshot::Receiver<()>>,
    outcome: oneshot::Sender<Result<(), StoreError>>,
}

/// The storage outcome as every copy of a message (the first and its
/// resends) awaits it.
fn shared_outcome(written: oneshot::Receiver<Result<(), StoreError>>) -> StoreDone {
    async move {
        match written.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(NotStored::Storage(Arc::new(e))),
            Err(_) => Err(NotStored::Stopped),
        }
    }
    .boxed()
    .shared()
}

impl Hub {
    /// Waits for room in the history queue for `message`; the room goes
    /// with the message into [`Hub::send`].
    pub async fn reserve_history(&self, message: &Outgoing) -> QueueSpace {
        // The entry is the text (and file) plus its JSON envelope (ids,
        // names, time).
        self.history.reserve(message.payload_len() + 256).await
    }

    /// Delivers a message live to every online recipient (except the sending
    /// connection) and queues it for every recipient's history. The returned
    /// future completes once the history write is done: only then may the
    /// sender get its ack.
    ///
    /// A `client_id` this user already sent is not sent again, whether its
    /// first copy is stored or still being written: the original id and
    /// time come back with the first copy's outcome.
    pub fn send(
        &self,
        from: &UserCtx,
        conn: ConnId,
        client_id: &ClientMsgId,
        message: Outgoing,
        space: QueueSpace,
    ) -> Result<(ChatMessage, StoreDone), HubError> {
        let Outgoing {
            to,
            text,
            reply_to,
            file,
        } = message;
        // Judged before this message's own write is queued (see below).
        let healthy = self.history.healthy();
        // The id is taken, the history write queued and the client id
        // recorded in one critical section, under the id clock and then the
        // live state: every history file holds ids in increasing order
        // (paging by id relies on it), and a resend that arrives while the
        // first copy is being written finds it.
        let queued = self.ids.issue(|id| {
            let mut live = lock(&self.live);
            let earlier = live
                .users
                .get(&from.id)
                .and_then(|u| u.recent.find(client_id));
            if let Some((id, ts, done)) = earlier {
                let msg = carrying(id, ts, from.name.clone(), to, text, file);
                return Ok(Err((msg, done)));
            }
            // A repeat above is free; a new message takes from the sender's
            // pace.
            if let Some(u) = live.users.get_mut(&from.id) {
                u.pace
                    .take(self.send_rate, Instant::now())
                    .map_err(|wait| HubError::SendingTooFast(wait.as_secs_f64().max(0.1)))?;
            }
            let (fanout, new_contact, to, conv) = live.fanout_for(from, &to)?;
            // O(1) for unread counts: the conversation's sequence number
            // and the sender's own marker, however many members it has.
            live.count_message(&from.id, &conv, id);
            let contact_saved = new_contact.map(|(a, b)| self.db.add_contact(a, b));
            let conversation = match &conv {
                ConvKey::Room(key) => Conversation::Room(key.clone()),
                ConvKey::Direct(peer) => Conversation::Direct(pair(&from.id, peer)),
            };
            live.recent_messages.insert(
                id,
                Recent {
                    from: from.name.clone(),
                    conversation,
                    quote: quote_of(match (&text, &file) {
                        (None, Some(f)) => f.name.as_str(),
                        _ => text.as_ref().map_or("", MessageText::as_str),
                    }),
                    deleted: false,
                    file: file.as_ref().map(|f| f.id.clone()),
                },
            );
            let said = text.as_ref().map_or("", MessageText::as_str);
            let mentioned = live.mentioned(from, &conv, said);
            for (user, _) in &mentioned {
                if *user != from.id {
                    let theirs = match &conv {
                        ConvKey::Room(key) => ConvKey::Room(key.clone()),
                        ConvKey::Direct(_) => ConvKey::Direct(from.id.clone()),
                    };
                    live.note_mention(user, theirs, id);
                }
            }
            let mut msg = carrying(id, now_ms(), from.name.clone(), to, text, file);
            msg.reply_to = reply_to;
            msg.mentions = mentioned.into_iter().map(|(_, name)| name).collect();
            let entry: Arc<[u8]> = serde_json::to_vec(&msg)
                .map_err(|_| HubError::Internal)?
                .into();
            let written = self.history.append(AppendJob {
                users: fanout.members.clone(),
                entry,
                space,
            });
            let (done, finish) = if healthy && contact_saved.is_none() {
                (shared_outcome(written), None)
            } else {
                let (outcome, rx) = oneshot::channel();
                let finish = Finish {
                    written,
                    contact_saved,
                    outcome,
                };
                (shared_outcome(rx), Some(finish))
            };
            if let Some(u) = live.users.get_mut(&from.id) {
                u.recent
                    .remember(client_id.clone(), msg.id, msg.ts, done.clone());
            }
            Ok::<_, HubError>(Ok((
                Queued {
                    msg,
                    fanout,
                    finish,
                },
                done,
            )))
        })??;
        let (queued, done) = match queued {
            Ok(q) => q,
            Err(repeat) => return Ok(repeat),
        };
        let msg = queued.msg.clone();
        Self::deliver(queued, conn, healthy);
        Ok((msg, done))
    }

    /// Pushes the message to the online recipients' queues, now or (after
    /// a storage failure) once it is stored.
    fn deliver(queued: Queued, conn: ConnId, healthy: bool) {
        let Queued {
            msg,
            fanout,
            finish,
        } = queued;
        let live_frame = Bytes::from(ServerMessage::Message(msg).encode());
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
        let Some(finish) = finish else {
            deliver();
            return;
        };
        if healthy {
            deliver();
        }
        // A task of its own, so the late delivery happens even if the sender
        // disconnects and nobody awaits the outcome.
        tokio::spawn(async move {
            let stored = finish.written.await;
            // A first direct message: acknowledge once the contact is saved
            // too.
            if let Some(saving) = finish.contact_saved {
                let _ = saving.await;
            }
            if let Ok(result) = stored {
                if !healthy && result.is_ok() {
                    deliver();
                }
                let _ = finish.outcome.send(result);
            }
        });
    }
}

/// A message as sent, with a text, a file or both.
fn carrying(
    id: u64,
    ts: u64,
    from: Username,
    to: Target,
    text: Option<MessageText>,
    file: Option<Attachment>,
) -> ChatMessage {
    ChatMessage {
        id,
        ts,
        from,
        to,
        text,
        reply_to: None,
        edited: None,
        deleted: None,
        reactions: Vec::new(),
        mentions: Vec::new(),
        file: file.map(Box::new),
    }
}

/// Two users whose first direct message is being sent.
type NewContact = (UserId, UserId);

impl LiveState {
    /// The users `text` mentions (`@name`) among the members of `conv`, as
    /// `from` names it, each once, as registered; at most
    /// [`MENTIONS_MAX`].
    fn mentioned(&self, from: &UserCtx, conv: &ConvKey, text: &str) -> Vec<(UserId, Username)> {
        let mut found: Vec<(UserId, Username)> = Vec::new();
        for (_, name) in mentions(text) {
            if found.len() >= MENTIONS_MAX {
                break;
            }
            let Some(id) = self.names.get(&name.to_ascii_lowercase()) else {
                continue;
            };
            let member = match conv {
                ConvKey::Room(key) => self.rooms.get(key).is_some_and(|r| r.members.contains(id)),
                ConvKey::Direct(peer) => id == peer || *id == from.id,
            };
            if member
                && !found.iter().any(|(f, _)| f == id)
                && let Some(u) = self.users.get(id)
            {
                found.push((id.clone(), u.name.clone()));
            }
        }
        found
    }

    /// The recipients of a message from `from` to `to`; the pair of users
    /// whose first direct message this is (their contact is to be saved);
    /// `to` spelled as the room or user was first named, however the
    /// sender typed it; and the conversation it counts in.
    fn fanout_for(
        &mut self,
        from: &UserCtx,
        to: &Target,
    ) -> Result<(Arc<Fanout>, Option<NewContact>, Target, ConvKey), HubError> {
        match to {
            Target::Room(room) => {
                let r = self.member_room(room, &from.id)?;
                let (fanout, to) = (r.fanout.clone(), Target::Room(r.name.clone()));
                Ok((fanout, None, to, ConvKey::Room(room.key())))
            }
            Target::User(peer) => {
                let peer_id = self.account(peer)?;
                let mut new_contact = None;
                let mut ids = vec![from.id.clone()];
                if peer_id != from.id {
                    ids.push(peer_id.clone());
                    if self
                        .users
                        .get_mut(&from.id)
                        .is_some_and(|u| u.contacts.insert(peer_id.clone()))
                    {
                        if let Some(p) = self.users.get_mut(&peer_id) {
                            p.contacts.insert(from.id.clone());
                        }
                        new_contact = Some((from.id.clone(), peer_id.clone()));
                    }
                }
                let canonical = self
                    .users
                    .get(&peer_id)
                    .map_or(peer.clone(), |p| p.name.clone());
                let (mut members, mut online) = (Vec::new(), Vec::new());
                for id in ids {
                    if let Some(u) = self.users.get(&id) {
                        members.push((id.clone(), u.history_public));
                        online.extend(u.sessions.iter().cloned());
                    }
                }
                let fanout = Fanout {
                    members: members.into(),
                    online,
                };
                let conv = ConvKey::Direct(peer_id);
                Ok((Arc::new(fanout), new_contact, Target::User(canonical), conv))
            }
        }
    }
}
