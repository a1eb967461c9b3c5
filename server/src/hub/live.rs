//! The hub's live state: every account as the hub sees it, its online
//! sessions and rooms, and each room's fan-out snapshot.
//!
//! Everything here sits behind the hub's one mutex ([`super::Hub`]); these
//! are plain data structures with no locking, I/O or `.await` of their own.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Instant;

use cove_common::proto::{MessageId, RoomInfo};
use cove_common::{RoomName, Username};

use crate::outbox::{Outbox, SignOut};
use crate::store::rooms::RoomRules;
use crate::store::users::{MarkedConv, UserDb, UserId};

use super::dedup::RecentIds;
use super::folds::UserFolds;
use super::pace::SendPace;
use super::recent::{JoinedAt, RecentMessages};
use super::typing::TypingPace;
use super::unread::{ConvKey, Dirty, Mark, Pair, Sequence, Unread};
use super::{ConnId, HubError};

/// One logged-in connection of a user, as fan-out sees it.
#[derive(Debug, Clone)]
pub(super) struct OnlineSession {
    pub(super) conn: ConnId,
    pub(super) outbox: Outbox,
    /// Ends the session with a goodbye (another session changed the
    /// password and signed the others out, or deleted the account).
    pub(super) sign_out: Arc<SignOut>,
}

/// One account as the hub sees it.
#[derive(Debug)]
pub(super) struct LiveUser {
    pub(super) name: Username,
    pub(super) history_public: [u8; 32],
    pub(super) sessions: Vec<OnlineSession>,
    pub(super) rooms: BTreeSet<String>,
    /// Read markers per conversation (see [`super::unread`]).
    pub(super) marks: HashMap<ConvKey, Mark>,
    /// Messages mentioning them after their marker, per conversation.
    pub(super) mentions: HashMap<ConvKey, Vec<MessageId>>,
    /// When they last typed in each conversation.
    pub(super) typing: TypingPace,
    /// Users with a direct conversation with this one.
    pub(super) contacts: BTreeSet<UserId>,
    /// Recently stored messages by client id (see [`RecentIds`]).
    pub(super) recent: RecentIds,
    /// How fast they may send.
    pub(super) pace: SendPace,
    /// The changes of their conversations, while they are logged in and
    /// once they needed them (see [`super::changes`]).
    pub(super) folds: Option<Arc<UserFolds>>,
}

impl LiveUser {
    /// A user with no session yet.
    pub(super) fn new(name: Username, history_public: [u8; 32]) -> Self {
        Self {
            name,
            history_public,
            sessions: Vec::new(),
            rooms: BTreeSet::new(),
            marks: HashMap::new(),
            mentions: HashMap::new(),
            typing: TypingPace::default(),
            contacts: BTreeSet::new(),
            recent: RecentIds::default(),
            pace: SendPace::new(Instant::now()),
            folds: None,
        }
    }
}

/// Online/offline notices go through rooms of at most this many members.
/// In bigger rooms every login would notify everyone (n² notices for n
/// users); their members see presence in the member list instead.
pub const PRESENCE_ROOM_LIMIT: usize = 256;

/// Everything needed to deliver one message to a room, shared by all sends
/// until membership or presence changes.
#[derive(Debug)]
pub(super) struct Fanout {
    /// Every member, for history.
    pub(super) members: Arc<[(UserId, [u8; 32])]>,
    /// Every online session of every member.
    pub(super) online: Vec<OnlineSession>,
}

impl Fanout {
    fn empty() -> Self {
        Self {
            members: Arc::new([]),
            online: Vec::new(),
        }
    }
}

/// A room and its current fan-out snapshot.
#[derive(Debug)]
pub(super) struct Room {
    pub(super) name: RoomName,
    pub(super) members: BTreeSet<UserId>,
    pub(super) fanout: Arc<Fanout>,
    /// Its messages so far, for unread counts.
    pub(super) count: Sequence,
    /// Where members who joined since the server started joined.
    pub(super) joined: JoinedAt,
    /// Who owns and moderates it, and who may join.
    pub(super) rules: RoomRules,
}

impl Room {
    /// A room with no members yet.
    pub(super) fn new(name: RoomName) -> Self {
        Self {
            name,
            members: BTreeSet::new(),
            fanout: Arc::new(Fanout::empty()),
            count: Sequence::default(),
            joined: JoinedAt::default(),
            rules: RoomRules::default(),
        }
    }
}

/// Users by id and by name key, rooms by name key.
#[derive(Debug, Default)]
pub(super) struct LiveState {
    pub(super) users: HashMap<UserId, LiveUser>,
    pub(super) names: HashMap<String, UserId>,
    pub(super) rooms: HashMap<String, Room>,
    /// Direct conversations' messages so far, for unread counts.
    pub(super) directs: HashMap<Pair, Sequence>,
    /// Counts and markers not yet saved.
    pub(super) dirty: Dirty,
    /// The messages sent most recently, for changes and replies.
    pub(super) recent_messages: RecentMessages,
    /// Deleted accounts' names, by id (their names stay in `names`).
    pub(super) retired: HashMap<UserId, Username>,
}

impl LiveState {
    /// The live state of a freshly started server: every account offline.
    pub(super) fn load(db: &UserDb) -> Self {
        let mut live = LiveState::default();
        for u in db.users() {
            live.names.insert(u.username.key(), u.id.clone());
            let mut user = LiveUser::new(u.username.clone(), u.credentials.history_public);
            user.contacts = u.contacts.iter().cloned().collect();
            live.users.insert(u.id.clone(), user);
        }
        for u in db.users() {
            for m in &u.read {
                let conv = match &m.with {
                    MarkedConv::Room(r) => ConvKey::Room(r.key()),
                    MarkedConv::User(peer) => ConvKey::Direct(peer.clone()),
                };
                if let Some(user) = live.users.get_mut(&u.id) {
                    let mark = Mark {
                        id: m.id,
                        seq: m.seq,
                    };
                    if !m.mentions.is_empty() {
                        user.mentions.insert(conv.clone(), m.mentions.clone());
                    }
                    user.marks.insert(conv, mark);
                }
            }
        }
        for r in db.retired() {
            live.names.insert(r.username.key(), r.id.clone());
            live.retired.insert(r.id.clone(), r.username.clone());
        }
        for d in db.directs() {
            live.directs
                .insert(d.users.clone(), Sequence::restored(d.count));
        }
        for r in db.rooms() {
            let key = r.name.key();
            for m in &r.members {
                if let Some(u) = live.users.get_mut(m) {
                    u.rooms.insert(key.clone());
                }
            }
            let mut room = Room::new(r.name.clone());
            room.members = r.members.iter().cloned().collect();
            room.count = Sequence::restored(r.count);
            room.rules = r.rules.clone();
            live.rooms.insert(key, room);
        }
        let keys: Vec<String> = live.rooms.keys().cloned().collect();
        for k in keys {
            live.rebuild_fanout(&k, true);
        }
        live
    }

    /// The id of an existing account. A deleted account's name stays in
    /// `names`, for the conversations others had with it; nothing more
    /// goes to it, so it is no account here.
    pub(super) fn account(&self, name: &Username) -> Result<UserId, HubError> {
        self.names
            .get(&name.key())
            .filter(|id| self.users.contains_key(*id))
            .cloned()
            .ok_or_else(|| HubError::NoSuchUser(name.clone()))
    }

    /// The room, if it exists and `user` is in it.
    pub(super) fn member_room(&self, room: &RoomName, user: &UserId) -> Result<&Room, HubError> {
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
    pub(super) fn rebuild_fanout(&mut self, room_key: &str, membership_changed: bool) {
        let Some(room) = self.rooms.get(room_key) else {
            return;
        };
        let mut online = Vec::new();
        for id in &room.members {
            if let Some(u) = self.users.get(id) {
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
            room.fanout = Arc::new(Fanout { members, online });
        }
    }

    pub(super) fn rebuild_user_rooms(&mut self, user: &UserId) {
        let rooms: Vec<String> = self
            .users
            .get(user)
            .map(|u| u.rooms.iter().cloned().collect())
            .unwrap_or_default();
        for r in rooms {
            self.rebuild_fanout(&r, false);
        }
    }

    /// `room` as listed to `user`.
    pub(super) fn room_info(&self, room: &Room, unread: Unread, user: &UserId) -> RoomInfo {
        RoomInfo {
            name: room.name.clone(),
            members: room.members.len() as u32,
            online: room
                .members
                .iter()
                .filter(|m| self.users.get(*m).is_some_and(|u| !u.sessions.is_empty()))
                .count() as u32,
            unread: unread.messages,
            mentions: unread.mentions,
            private: room.rules.private,
            topic: room.rules.topic.clone(),
            role: room.rules.shown_role(user),
        }
    }

    /// Every session of every user who shares a room with `user` (not the
    /// user's own sessions). With `small_rooms_only`, rooms of more than
    /// [`PRESENCE_ROOM_LIMIT`] members are skipped.
    pub(super) fn peers_of(&self, user: &UserId, small_rooms_only: bool) -> Vec<OnlineSession> {
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
