//! Edits, deletions and reactions: finding the message a change (or a
//! reply) names, checking who may make it, storing it in every member's
//! changes file and pushing it live; and each logged-in user's
//! [`UserFolds`], read from their changes file once and kept current, which
//! pages and searches apply to the messages they return.

use std::sync::Arc;

use bytes::Bytes;
use cove_common::proto::{
    Change, ChangeKind, ChatMessage, FileId, MessageId, Quote, ServerMessage,
};
use cove_common::time::now_ms;
use cove_common::{ClientMsgId, Target};
use futures_util::FutureExt;
use std::time::Instant;

use crate::accounts::UserCtx;
use crate::credentials::HistorySecret;
use crate::store::history::{AppendJob, HistoryReader, PageQuery, QueueSpace, ReadError, Scan};
use crate::sync::lock;

use super::folds::UserFolds;
use super::live::{Fanout, LiveState, OnlineSession};
use super::recent::{Conversation, quote_of};
use super::unread::pair;
use super::{ConnId, Hub, HubError, NotStored, StoreDone};

/// How much of a user's own history a change or reply reads back to find
/// a message that is not among the recent ones.
pub const LOOKUP_READ_BUDGET: u64 = 4 << 20;

/// How much of a user's changes file is read at their first page or
/// search of a login: at roughly 120 bytes per change, well over 100,000
/// changes. Older changes no longer show (see docs/protocol.md).
pub const CHANGES_READ_BUDGET: u64 = 16 << 20;

/// A change as a request asks for it.
#[derive(Debug, Clone)]
pub struct ChangeAsk {
    /// The client's id for it (de-duplication, as for sends).
    pub client_id: ClientMsgId,
    /// The message's conversation, as the user names it.
    pub with: Target,
    /// The message.
    pub message_id: MessageId,
    /// What to do.
    pub what: ChangeKind,
}

/// A change as made: its id and time, the future of its storage, and
/// the file of the message it deleted, to free once it is stored.
pub struct Changed {
    /// The change's id.
    pub id: MessageId,
    /// Its time.
    pub ts: u64,
    /// Completes once it is in every member's changes file.
    pub stored: StoreDone,
    /// The deleted message's file.
    pub freed: Option<FileId>,
}

impl Changed {
    fn only(id: MessageId, ts: u64, stored: StoreDone) -> Self {
        Self {
            id,
            ts,
            stored,
            freed: None,
        }
    }
}

/// The message a change or reply names, as found.
struct Original {
    from: cove_common::Username,
    /// Its text as it now reads (or its file's name, when it has no
    /// text).
    text: String,
    /// The file it carries.
    file: Option<FileId>,
}

/// Who a change in one conversation goes to.
struct Audience {
    fanout: Arc<Fanout>,
    /// The conversation named as the changer addresses it.
    to: Target,
    conversation: Conversation,
}

impl LiveState {
    /// The members of the conversation `with` of `user`, without the
    /// side effects of a send (no new contact).
    fn audience(&self, user: &UserCtx, with: &Target) -> Result<Audience, HubError> {
        match with {
            Target::Room(room) => {
                let r = self.member_room(room, &user.id)?;
                Ok(Audience {
                    fanout: r.fanout.clone(),
                    to: Target::Room(r.name.clone()),
                    conversation: Conversation::Room(room.key()),
                })
            }
            Target::User(peer) => {
                let peer_id = self
                    .names
                    .get(&peer.key())
                    .ok_or_else(|| HubError::NoSuchUser(peer.clone()))?;
                let mut ids = vec![&user.id];
                if *peer_id != user.id {
                    ids.push(peer_id);
                }
                let (mut members, mut online) = (Vec::new(), Vec::<OnlineSession>::new());
                for id in ids {
                    if let Some(u) = self.users.get(id) {
                        members.push((id.clone(), u.history_public));
                        online.extend(u.sessions.iter().cloned());
                    }
                }
                let canonical = self
                    .users
                    .get(peer_id)
                    .map_or(peer.clone(), |p| p.name.clone());
                Ok(Audience {
                    fanout: Arc::new(Fanout {
                        members: members.into(),
                        online,
                    }),
                    to: Target::User(canonical),
                    conversation: Conversation::Direct(pair(&user.id, peer_id)),
                })
            }
        }
    }
}

impl Hub {
    /// The user's [`UserFolds`], read from their changes file on first
    /// use in a login. The map is registered (under the live lock) before
    /// the file is read, after every change already queued for it is
    /// written: a change is either queued before (and read from the file)
    /// or applied to the registered map live; both is harmless.
    pub(super) async fn folds_of(
        &self,
        user: &UserCtx,
        secret: &Arc<HistorySecret>,
    ) -> Result<Arc<UserFolds>, HubError> {
        let folds = {
            let mut live = lock(&self.live);
            let u = live.users.get_mut(&user.id).ok_or(HubError::Internal)?;
            u.folds.get_or_insert_with(Default::default).clone()
        };
        folds
            .loaded
            .get_or_try_init(|| async {
                if let Ok(Err(e)) = self.changes.barrier().await {
                    return Err(HubError::Storage(e));
                }
                let path = self.changes.path_of(&user.id);
                let secret = secret.clone();
                let _reading = self.reads.acquire().await.map_err(|_| HubError::Internal)?;
                let scan: Scan<Change> = tokio::task::spawn_blocking(move || {
                    HistoryReader::open(&path, &secret)?.scan(CHANGES_READ_BUDGET)
                })
                .await
                .map_err(|_| HubError::Internal)??;
                if scan.unreadable > 0 || scan.cut {
                    tracing::warn!(
                        unreadable = scan.unreadable,
                        cut = scan.cut,
                        "changes file read in part"
                    );
                }
                let mut map = lock(&folds.map);
                for c in &scan.entries {
                    map.apply(c);
                }
                Ok(())
            })
            .await?;
        Ok(folds)
    }

    /// Finds message `id` of the conversation `with` that `user` sent or
    /// received: among the recent messages, else in the newest
    /// [`LOOKUP_READ_BUDGET`] of their history.
    async fn find_original(
        &self,
        user: &UserCtx,
        secret: &Arc<HistorySecret>,
        with: &Target,
        id: MessageId,
    ) -> Result<Original, HubError> {
        {
            let live = lock(&self.live);
            let aud = live.audience(user, with)?;
            if let Some(m) = live.recent_messages.get(id) {
                let received = match &m.conversation {
                    Conversation::Room(key) => live
                        .rooms
                        .get(key)
                        .is_some_and(|r| r.joined.received(&user.id, id)),
                    Conversation::Direct(_) => true,
                };
                if m.conversation != aud.conversation || m.deleted || !received {
                    return Err(HubError::NoSuchMessage(id));
                }
                return Ok(Original {
                    from: m.from.clone(),
                    text: m.quote.clone(),
                    file: m.file.clone(),
                });
            }
        }
        let folds = self.folds_of(user, secret).await?;
        let me = user.name.clone();
        let with = with.clone();
        let query = PageQuery {
            from: None,
            before: id.checked_add(1),
            limit: 1,
            max_bytes: usize::MAX,
            budget: LOOKUP_READ_BUDGET,
        };
        let path = self.history.path_of(&user.id);
        let secret = secret.clone();
        let _reading = self.reads.acquire().await.map_err(|_| HubError::Internal)?;
        let page = tokio::task::spawn_blocking(move || {
            let reader = HistoryReader::open(&path, &secret)?;
            let filter =
                |m: &ChatMessage| m.id == id && m.to.conversation_for(&m.from, &me) == with;
            match reader.page_at(&query, filter) {
                Ok(page) => Ok(page),
                Err(ReadError::BadCursor) => Err(HubError::Internal),
                Err(ReadError::Store(e)) => Err(HubError::Storage(e)),
            }
        })
        .await
        .map_err(|_| HubError::Internal)??;
        let m = page
            .messages
            .into_iter()
            .next()
            .ok_or(HubError::NoSuchMessage(id))?;
        let m = lock(&folds.map).fold(m, &user.name);
        if m.deleted.is_some() {
            return Err(HubError::NoSuchMessage(id));
        }
        Ok(Original {
            text: m.quote_text().to_owned(),
            file: m.file.map(|f| f.id),
            from: m.from,
        })
    }

    /// The quote of message `id` for a reply in `with`.
    pub async fn quote(
        &self,
        user: &UserCtx,
        secret: &Arc<HistorySecret>,
        with: &Target,
        id: MessageId,
    ) -> Result<Quote, HubError> {
        let original = self.find_original(user, secret, with, id).await?;
        Ok(Quote {
            id,
            from: original.from,
            text: Some(quote_of(&original.text)),
        })
    }

    /// Waits for room in the changes queue for a change of `ask`.
    pub async fn reserve_change(&self, ask: &ChangeAsk) -> QueueSpace {
        let text = match &ask.what {
            ChangeKind::Edit { text } => text.as_str().len(),
            _ => 0,
        };
        self.changes.reserve(text + 256).await
    }

    /// Makes a change: checks it, queues it for every member's changes
    /// file, pushes it live to the members' sessions except `conn`, and
    /// applies it to their loaded [`UserFolds`]. The returned future
    /// completes once it is stored; the id and time are the change's. A
    /// `client_id` this user already used (for a message or a change)
    /// gets the first outcome again.
    pub async fn change(
        &self,
        user: &UserCtx,
        secret: &Arc<HistorySecret>,
        conn: ConnId,
        ask: ChangeAsk,
        space: QueueSpace,
    ) -> Result<Changed, HubError> {
        if let Some((id, ts, done)) = self.earlier(user, &ask.client_id) {
            return Ok(Changed::only(id, ts, done));
        }
        let original = self
            .find_original(user, secret, &ask.with, ask.message_id)
            .await?;
        match &ask.what {
            ChangeKind::Edit { .. } if original.from != user.name => {
                return Err(HubError::NotAuthor);
            }
            ChangeKind::Delete
                if original.from != user.name && !self.moderates(user, &ask.with) =>
            {
                return Err(HubError::NotAuthor);
            }
            ChangeKind::React { emoji, remove } => {
                let folds = self.folds_of(user, secret).await?;
                let unchanged = {
                    let map = lock(&folds.map);
                    let on = map.emojis_on(ask.message_id);
                    if !remove
                        && on.len() >= cove_common::limits::REACTIONS_PER_MESSAGE_MAX
                        && !on.contains(&emoji)
                    {
                        return Err(HubError::TooManyReactions);
                    }
                    map.reacts(ask.message_id, emoji, &user.name) != *remove
                };
                if unchanged {
                    let (id, ts, done) = self.acknowledge_unchanged(user, &ask.client_id)?;
                    return Ok(Changed::only(id, ts, done));
                }
            }
            _ => {}
        }
        let healthy = self.changes.healthy();
        // As for sends: the id is taken, the write queued and the client id
        // recorded in one critical section.
        let queued = self.ids.issue(|id| {
            let mut live = lock(&self.live);
            if let Some((id, ts, done)) = live
                .users
                .get(&user.id)
                .and_then(|u| u.recent.find(&ask.client_id))
            {
                return Ok(Err((id, ts, done)));
            }
            if let Some(u) = live.users.get_mut(&user.id) {
                u.pace
                    .take(self.send_rate, Instant::now())
                    .map_err(|wait| HubError::SendingTooFast(wait.as_secs_f64().max(0.1)))?;
            }
            let aud = live.audience(user, &ask.with)?;
            let change = Change {
                id,
                ts: now_ms(),
                from: user.name.clone(),
                to: aud.to,
                message_id: ask.message_id,
                what: ask.what,
            };
            let entry: Arc<[u8]> = serde_json::to_vec(&change)
                .map_err(|_| HubError::Internal)?
                .into();
            let written = self.changes.append(AppendJob {
                users: aud.fanout.members.clone(),
                entry,
                space,
            });
            let done: StoreDone = async move {
                match written.await {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(e)) => Err(NotStored::Storage(Arc::new(e))),
                    Err(_) => Err(NotStored::Stopped),
                }
            }
            .boxed()
            .shared();
            if let Some(u) = live.users.get_mut(&user.id) {
                u.recent
                    .remember(ask.client_id.clone(), id, change.ts, done.clone());
            }
            for (member, _) in aud.fanout.members.iter() {
                if let Some(folds) = live.users.get(member).and_then(|u| u.folds.as_ref()) {
                    folds.apply(&change);
                }
            }
            if let Some(m) = live.recent_messages.get_mut(change.message_id) {
                match &change.what {
                    ChangeKind::Edit { text } => m.quote = quote_of(text.as_str()),
                    ChangeKind::Delete => m.deleted = true,
                    ChangeKind::React { .. } => {}
                }
            }
            Ok::<_, HubError>(Ok((change, aud.fanout.online.clone(), done)))
        })??;
        let (change, online, done) = match queued {
            Ok(q) => q,
            Err((id, ts, done)) => return Ok(Changed::only(id, ts, done)),
        };
        let freed = match change.what {
            ChangeKind::Delete => original.file,
            _ => None,
        };
        let frame = Bytes::from(ServerMessage::Change(change.clone()).encode());
        let push = move || {
            for s in online.iter().filter(|s| s.conn != conn) {
                s.outbox.push(frame.clone());
            }
        };
        if healthy {
            push();
        } else {
            // While the disk is in trouble, nobody sees a change its maker
            // was told failed (as for messages).
            let stored = done.clone();
            tokio::spawn(async move {
                if stored.await.is_ok() {
                    push();
                }
            });
        }
        Ok(Changed {
            id: change.id,
            ts: change.ts,
            stored: done,
            freed,
        })
    }

    /// A reaction that changes nothing (the same emoji again, or taking
    /// back one that is not there) is acknowledged, and neither stored nor
    /// pushed: others could not tell it from a new one.
    fn acknowledge_unchanged(
        &self,
        user: &UserCtx,
        client_id: &ClientMsgId,
    ) -> Result<(MessageId, u64, StoreDone), HubError> {
        let done: StoreDone = async { Ok(()) }.boxed().shared();
        let (id, ts) = self.ids.issue(|id| {
            let ts = now_ms();
            if let Some(u) = lock(&self.live).users.get_mut(&user.id) {
                u.recent.remember(client_id.clone(), id, ts, done.clone());
            }
            (id, ts)
        })?;
        Ok((id, ts, done))
    }

    /// Whether `user` owns or moderates the room `with` (and so may delete
    /// others' messages there).
    fn moderates(&self, user: &UserCtx, with: &Target) -> bool {
        let Target::Room(room) = with else {
            return false;
        };
        let live = lock(&self.live);
        live.rooms
            .get(&room.key())
            .is_some_and(|r| r.rules.moderates(&user.id))
    }

    /// The outcome of an earlier message or change sent with `client_id`.
    pub fn earlier(
        &self,
        user: &UserCtx,
        client_id: &ClientMsgId,
    ) -> Option<(MessageId, u64, StoreDone)> {
        let live = lock(&self.live);
        live.users.get(&user.id)?.recent.find(client_id)
    }
}
