//! The hub: who is online, which rooms exist and who is in them, and the
//! fan-out of messages and notices.
//!
//! Live state sits behind one `std::sync::Mutex`, held only for in-memory
//! lookups (never across an `.await` or any I/O). Each room keeps a
//! copy-on-write `Fanout` snapshot, rebuilt when membership or presence
//! changes, so sending a message takes the lock just long enough to clone
//! one `Arc`. Changes to accounts and membership are written to `users.json`
//! on a blocking thread before they are acknowledged; a change whose save
//! fails is undone in memory as well, so memory never holds what the disk
//! refused (a failed registration leaves the name free).

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use cove_common::limits::HISTORY_PAGE_MAX;
use cove_common::proto::{
    ChatMessage, Member, MessageId, Notice, NoticeKind, RoomInfo, ServerMessage, Timestamp,
};
use cove_common::time::now_ms;
use cove_common::{ClientMsgId, ErrorCode, MessageText, RoomName, Target, Username};

use crate::clock::IdClock;
use crate::credentials::{Credentials, HistorySecret};
use crate::outbox::Outbox;
use crate::store::StoreError;
use crate::store::history::{AppendJob, HistoryReader, HistoryService};
use crate::store::users::{UserDb, UserId};
use crate::sync::lock;

/// Completes when a message is in every recipient's history file.
pub type StoreDone = tokio::sync::oneshot::Receiver<Result<(), StoreError>>;

/// Identifies one connection.
pub type ConnId = u64;

/// Why a hub operation failed; each maps to a protocol [`ErrorCode`].
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    /// The room does not exist.
    #[error("there is no room called #{0}")]
    NoSuchRoom(RoomName),
    /// The user is not in the room.
    #[error("you are not in #{0}")]
    NotMember(RoomName),
    /// The user does not exist.
    #[error("there is no user called {0}")]
    NoSuchUser(Username),
    /// Registration under a taken name.
    #[error("the name {0} is already taken")]
    NameTaken(Username),
    /// `general` cannot be left.
    #[error("everyone stays in #general")]
    CannotLeave,
    /// Storage failed; nothing was acknowledged. (The text a client sees
    /// names the kind of trouble, not the file; the log names the file.)
    #[error("{}; nothing was changed", .0.public_reason())]
    Storage(#[from] StoreError),
    /// A background task died.
    #[error("internal error")]
    Internal,
}

impl HubError {
    /// The protocol error code for this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            HubError::NoSuchRoom(_) => ErrorCode::NoSuchRoom,
            HubError::NotMember(_) => ErrorCode::NotMember,
            HubError::NoSuchUser(_) => ErrorCode::NoSuchUser,
            HubError::NameTaken(_) => ErrorCode::NameTaken,
            HubError::CannotLeave => ErrorCode::CannotLeave,
            HubError::Storage(_) => ErrorCode::Storage,
            HubError::Internal => ErrorCode::Internal,
        }
    }
}

/// One online session.
#[derive(Debug, Clone)]
struct Session {
    conn: ConnId,
    outbox: Outbox,
}

#[derive(Debug)]
struct LiveUser {
    name: Username,
    history_public: [u8; 32],
    sessions: Vec<Session>,
    rooms: BTreeSet<String>,
    /// Messages per conversation that arrived while the user was offline.
    unread: HashMap<Target, u32>,
    /// Users with a direct conversation with this one.
    contacts: BTreeSet<UserId>,
    /// Recently stored messages by client id, so a client that re-sends
    /// after a reconnect gets the original ack instead of a duplicate.
    recent: VecDeque<(ClientMsgId, MessageId, Timestamp)>,
}

/// Online/offline notices go through rooms of at most this many members.
/// In bigger rooms every login would notify everyone (n² notices for n
/// users); their members see presence in the member list instead.
pub const PRESENCE_ROOM_LIMIT: usize = 256;

/// Client ids remembered per user for de-duplication.
const RECENT_IDS: usize = 256;

/// Everything needed to deliver one message to a room, shared by all sends
/// until membership or presence changes.
#[derive(Debug)]
struct Fanout {
    /// Every member, for history.
    members: Arc<[(UserId, [u8; 32])]>,
    /// Every online session of every member.
    online: Vec<Session>,
    /// Members with no session, whose unread count grows.
    offline: Vec<UserId>,
}

impl Fanout {
    fn empty() -> Self {
        Self {
            members: Arc::new([]),
            online: Vec::new(),
            offline: Vec::new(),
        }
    }
}

#[derive(Debug)]
struct Room {
    name: RoomName,
    members: BTreeSet<UserId>,
    fanout: Arc<Fanout>,
}

#[derive(Debug, Default)]
struct Live {
    users: HashMap<UserId, LiveUser>,
    names: HashMap<String, UserId>,
    rooms: HashMap<String, Room>,
}

impl Live {
    /// The room, if it exists and `user` is in it.
    fn member_room(&self, room: &RoomName, user: &UserId) -> Result<&Room, HubError> {
        let r = self
            .rooms
            .get(&room.key())
            .ok_or_else(|| HubError::NoSuchRoom(room.clone()))?;
        if !r.members.contains(user) {
            return Err(HubError::NotMember(room.clone()));
        }
        Ok(r)
    }

    /// Rebuilds a room's fan-out snapshot. The member list (with history
    /// keys) is rebuilt only when membership changed; presence changes only
    /// rebuild the list of online sessions.
    fn rebuild_fanout(&mut self, room_key: &str, membership_changed: bool) {
        let Some(room) = self.rooms.get(room_key) else {
            return;
        };
        let (mut online, mut offline) = (Vec::new(), Vec::new());
        for id in &room.members {
            if let Some(u) = self.users.get(id) {
                if u.sessions.is_empty() {
                    offline.push(id.clone());
                }
                online.extend(u.sessions.iter().cloned());
            }
        }
        let members = if membership_changed {
            room.members
                .iter()
                .filter_map(|id| self.users.get(id).map(|u| (id.clone(), u.history_public)))
                .collect::<Vec<_>>()
                .into()
        } else {
            room.fanout.members.clone()
        };
        if let Some(room) = self.rooms.get_mut(room_key) {
            room.fanout = Arc::new(Fanout {
                members,
                online,
                offline,
            });
        }
    }

    fn rebuild_user_rooms(&mut self, user: &UserId) {
        let rooms: Vec<String> = self
            .users
            .get(user)
            .map(|u| u.rooms.iter().cloned().collect())
            .unwrap_or_default();
        for r in rooms {
            self.rebuild_fanout(&r, false);
        }
    }

    fn room_info(&self, room: &Room, unread: u32) -> RoomInfo {
        RoomInfo {
            name: room.name.clone(),
            members: room.members.len() as u32,
            online: room
                .members
                .iter()
                .filter(|m| self.users.get(*m).is_some_and(|u| !u.sessions.is_empty()))
                .count() as u32,
            unread,
        }
    }

    /// Every session of every user who shares a room with `user` (not the
    /// user's own sessions). With `small_rooms_only`, rooms of more than
    /// [`PRESENCE_ROOM_LIMIT`] members are skipped.
    fn peers_of(&self, user: &UserId, small_rooms_only: bool) -> Vec<Session> {
        let Some(u) = self.users.get(user) else {
            return Vec::new();
        };
        let mut seen: BTreeSet<&UserId> = BTreeSet::new();
        let mut out = Vec::new();
        for r in &u.rooms {
            if let Some(room) = self.rooms.get(r) {
                if small_rooms_only && room.members.len() > PRESENCE_ROOM_LIMIT {
                    continue;
                }
                for m in &room.members {
                    if m != user
                        && seen.insert(m)
                        && let Some(peer) = self.users.get(m)
                    {
                        out.extend(peer.sessions.iter().cloned());
                    }
                }
            }
        }
        out
    }
}

type DbJob = Box<dyn FnOnce(&mut UserDb) + Send>;

/// The thread that owns the account database. One thread does every change
/// and save in order, so saves never race, and the multi-megabyte buffers of
/// a large `users.json` are reused by one allocator instead of being left
/// behind on every blocking thread that ever saved it.
struct DbThread {
    jobs: std::sync::mpsc::Sender<DbJob>,
}

impl DbThread {
    fn start(mut db: UserDb) -> Self {
        let (jobs, rx) = std::sync::mpsc::channel::<DbJob>();
        let spawned = std::thread::Builder::new()
            .name("cove-accounts".into())
            .spawn(move || {
                for job in rx {
                    job(&mut db);
                }
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the accounts thread");
        }
        Self { jobs }
    }

    fn submit(&self, job: DbJob) {
        // If the thread is gone, the job's result channel is dropped and
        // the caller sees an internal error.
        let _ = self.jobs.send(job);
    }

    async fn run<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut UserDb) -> Result<R, HubError> + Send + 'static,
    ) -> Result<R, HubError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.submit(Box::new(move |db| {
            let _ = tx.send(f(db));
        }));
        rx.await.map_err(|_| HubError::Internal)?
    }
}

/// A logged-in user as the connection sees it.
#[derive(Debug, Clone)]
pub struct UserCtx {
    /// The account id.
    pub id: UserId,
    /// The name as registered.
    pub name: Username,
}

/// The shared state of a running server.
pub struct Hub {
    live: Mutex<Live>,
    db: DbThread,
    history: HistoryService,
    ids: IdClock,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Hub")
    }
}

impl Hub {
    /// Builds the live state from the account database.
    pub fn new(db: UserDb, history: HistoryService) -> Self {
        let mut live = Live::default();
        for u in db.users() {
            live.names.insert(u.username.key(), u.id.clone());
            live.users.insert(
                u.id.clone(),
                LiveUser {
                    name: u.username.clone(),
                    history_public: u.credentials.history_public,
                    sessions: Vec::new(),
                    rooms: BTreeSet::new(),
                    unread: HashMap::new(),
                    contacts: u.contacts.iter().cloned().collect(),
                    recent: VecDeque::new(),
                },
            );
        }
        for r in db.rooms() {
            let key = r.name.key();
            for m in &r.members {
                if let Some(u) = live.users.get_mut(m) {
                    u.rooms.insert(key.clone());
                }
            }
            live.rooms.insert(
                key,
                Room {
                    name: r.name.clone(),
                    members: r.members.iter().cloned().collect(),
                    fanout: Arc::new(Fanout::empty()),
                },
            );
        }
        let keys: Vec<String> = live.rooms.keys().cloned().collect();
        for k in keys {
            live.rebuild_fanout(&k, true);
        }
        Self {
            live: Mutex::new(live),
            db: DbThread::start(db),
            history,
            ids: IdClock::default(),
        }
    }

    /// Runs `f` on the account database's thread (it may save).
    async fn with_db<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut UserDb) -> Result<R, HubError> + Send + 'static,
    ) -> Result<R, HubError> {
        self.db.run(f).await
    }

    /// The stored credentials for a name, for login.
    pub async fn credentials_of(&self, name: &Username) -> Option<(UserCtx, Credentials)> {
        let name = name.clone();
        self.with_db(move |db| {
            Ok(db.find_by_name(&name).map(|u| {
                (
                    UserCtx {
                        id: u.id.clone(),
                        name: u.username.clone(),
                    },
                    u.credentials.clone(),
                )
            }))
        })
        .await
        .ok()
        .flatten()
    }

    /// Whether a name is taken (in any letter case).
    pub fn name_taken(&self, name: &Username) -> bool {
        lock(&self.live).names.contains_key(&name.key())
    }

    /// Stores a new account, a member of `general`.
    pub async fn register(
        &self,
        name: Username,
        credentials: Credentials,
    ) -> Result<UserCtx, HubError> {
        let history_public = credentials.history_public;
        let general = RoomName::general();
        let (id, name) = self
            .with_db({
                let general = general.clone();
                move |db| {
                    if db.find_by_name(&name).is_some() {
                        return Err(HubError::NameTaken(name));
                    }
                    let id = db.insert_user(name.clone(), credentials, now_ms());
                    let added = db.add_member(&general, &id, now_ms());
                    if let Err(e) = db.save() {
                        // Not stored, so not registered: the name stays
                        // free and a later save cannot write it either.
                        tracing::warn!(error = %e, "cannot save a new account; registration refused");
                        db.undo_add_member(&general, &id, added);
                        db.remove_user(&id);
                        return Err(e.into());
                    }
                    Ok((id, name))
                }
            })
            .await?;
        let mut live = lock(&self.live);
        let key = general.key();
        live.names.insert(name.key(), id.clone());
        live.users.insert(
            id.clone(),
            LiveUser {
                name: name.clone(),
                history_public,
                sessions: Vec::new(),
                rooms: BTreeSet::from([key.clone()]),
                unread: HashMap::new(),
                contacts: BTreeSet::new(),
                recent: VecDeque::new(),
            },
        );
        live.rooms
            .entry(key.clone())
            .or_insert_with(|| Room {
                name: general,
                members: BTreeSet::new(),
                fanout: Arc::new(Fanout::empty()),
            })
            .members
            .insert(id.clone());
        live.rebuild_fanout(&key, true);
        Ok(UserCtx { id, name })
    }

    /// Attaches a logged-in session; tells room peers the user came online if
    /// this is their first session. Returns the user's rooms with unread
    /// counts (which are then reset) and their direct-conversation partners.
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
        u.sessions.push(Session { conn, outbox });
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
        let infos = rooms
            .iter()
            .filter_map(|r| live.rooms.get(r))
            .map(|room| {
                let n = unread
                    .get(&Target::Room(room.name.clone()))
                    .copied()
                    .unwrap_or(0);
                live.room_info(room, n)
            })
            .collect();
        let directs = live
            .users
            .get(&user.id)
            .map(|u| {
                u.contacts
                    .iter()
                    .filter_map(|c| live.users.get(c).map(|p| p.name.clone()))
                    .collect()
            })
            .unwrap_or_default();
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
            let earlier = live.users.get(&from.id).and_then(|u| {
                u.recent
                    .iter()
                    .find(|(c, _, _)| c == client_id)
                    .map(|(_, id, ts)| (*id, *ts))
            });
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
                        contact_saved =
                            Some(self.persist_contact(from.id.clone(), peer_id.clone()));
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
        })?;
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

    /// Remembers a stored message's client id (after its history write).
    pub fn remember_sent(&self, user: &UserId, client_id: ClientMsgId, msg: &ChatMessage) {
        let mut live = lock(&self.live);
        if let Some(u) = live.users.get_mut(user) {
            if u.recent.len() >= RECENT_IDS {
                u.recent.pop_front();
            }
            u.recent.push_back((client_id, msg.id, msg.ts));
        }
    }

    /// Saves a new direct-conversation pair on a blocking thread; the
    /// message's ack waits for it.
    fn persist_contact(&self, a: UserId, b: UserId) -> tokio::sync::oneshot::Receiver<()> {
        let (done, rx) = tokio::sync::oneshot::channel();
        self.db.submit(Box::new(move |db| {
            db.add_contact(&a, &b);
            if let Err(e) = db.save() {
                tracing::warn!(error = %e, "could not save a new contact");
            }
            let _ = done.send(());
        }));
        rx
    }

    /// Joins (creating if needed) a room.
    pub async fn join(&self, user: &UserCtx, room: RoomName) -> Result<RoomInfo, HubError> {
        let key = room.key();
        let already = lock(&self.live)
            .users
            .get(&user.id)
            .is_some_and(|u| u.rooms.contains(&key));
        if !already {
            let (r, id) = (room.clone(), user.id.clone());
            self.with_db(move |db| {
                let added = db.add_member(&r, &id, now_ms());
                if let Err(e) = db.save() {
                    db.undo_add_member(&r, &id, added);
                    return Err(e.into());
                }
                Ok(())
            })
            .await?;
        }
        let mut live = lock(&self.live);
        let name = live
            .rooms
            .entry(key.clone())
            .or_insert_with(|| Room {
                name: room.clone(),
                members: BTreeSet::new(),
                fanout: Arc::new(Fanout::empty()),
            })
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
        Ok(live.room_info(r, 0))
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
        let (r, id) = (name.clone(), user.id.clone());
        self.with_db(move |db| {
            let at = db.remove_member(&r, &id);
            if let Err(e) = db.save() {
                db.undo_remove_member(&r, &id, at);
                return Err(e.into());
            }
            Ok(())
        })
        .await?;
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
        }
        if let Some(u) = live.users.get_mut(&user.id) {
            u.rooms.remove(&key);
        }
        live.rebuild_fanout(&key, true);
        Ok(name)
    }

    /// Every room, with counts.
    pub fn list_rooms(&self, user: &UserCtx) -> Vec<RoomInfo> {
        let live = lock(&self.live);
        let mut rooms: Vec<RoomInfo> = live
            .rooms
            .values()
            .map(|r| {
                let unread = live
                    .users
                    .get(&user.id)
                    .and_then(|u| u.unread.get(&Target::Room(r.name.clone())))
                    .copied()
                    .unwrap_or(0);
                live.room_info(r, unread)
            })
            .collect();
        rooms.sort_by(|a, b| a.name.cmp(&b.name));
        rooms
    }

    /// The members of a room the user is in.
    pub fn members(&self, user: &UserCtx, room: &RoomName) -> Result<Vec<Member>, HubError> {
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
        out.sort_by(|a, b| a.username.cmp(&b.username));
        Ok(out)
    }

    /// A page of the user's history of one conversation, newest first.
    pub async fn history(
        &self,
        user: &UserCtx,
        secret: Arc<HistorySecret>,
        with: Target,
        before: Option<MessageId>,
        limit: u16,
    ) -> Result<(Vec<ChatMessage>, bool), HubError> {
        {
            let live = lock(&self.live);
            match &with {
                Target::Room(room) => {
                    live.member_room(room, &user.id)?;
                }
                Target::User(peer) => {
                    if !live.names.contains_key(&peer.key()) {
                        return Err(HubError::NoSuchUser(peer.clone()));
                    }
                }
            }
        }
        let limit = usize::from(limit.clamp(1, HISTORY_PAGE_MAX));
        let path = self.history.path_of(&user.id);
        let me = user.name.clone();
        tokio::task::spawn_blocking(move || {
            let reader = HistoryReader::open(&path, &secret)?;
            let page = reader.page(before, limit, |m: &ChatMessage| {
                m.to.conversation_for(&m.from, &me) == with
            })?;
            Ok(page)
        })
        .await
        .map_err(|_| HubError::Internal)?
    }

    /// Flushes histories to disk and stops the history writer.
    pub fn shutdown_storage(&self) {
        self.history.flush_and_stop();
    }

    /// The ack for a stored message.
    pub fn ack(id: u64, client_id: ClientMsgId, msg: &ChatMessage) -> ServerMessage {
        ServerMessage::Ack {
            id,
            client_id,
            message_id: msg.id,
            ts: msg.ts,
        }
    }
}

fn notice_bytes(kind: NoticeKind) -> Bytes {
    Bytes::from(ServerMessage::Notice(Notice::new(now_ms(), kind)).encode())
}
