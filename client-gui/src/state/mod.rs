//! The chat as the app shows it: rooms, conversations, members, pending
//! messages and connection status. Plain data, updated from server messages,
//! testable without a window.
//!
//! It also knows what it asked the server: requests are queued in an outbox
//! that the app hands to the network, and each answer is matched to its
//! question ([`requests`]), so that a refusal lands in the conversation it
//! concerns. [`conversation`] holds one conversation's lines, [`pending`]
//! the messages not yet stored, [`history`] the pages of history and the
//! catch-up after a reconnect, [`activity`] typing indicators and read
//! markers, [`search`] searches and opening a conversation at a result,
//! [`rooms`] invitations, roles, topics and moderation (protocol v5),
//! [`new_line`] where the "New messages" line goes,
//! [`account`] changing the password and deleting the account, [`mute`]
//! the conversations that do not notify.

mod account;
mod activity;
mod changes;
mod conversation;
mod files;
mod history;
mod mute;
mod new_line;
mod pending;
mod requests;
mod rooms;
mod search;

use std::collections::{HashMap, HashSet};

use cove_common::client::Welcome;
use cove_common::proto::{ChatMessage, Member, NoticeKind, RoomInfo};
use cove_common::time::now_ms;
use cove_common::{RoomName, ServerMessage, Target, Username};

pub use changes::{PendingChange, quote_of};
pub use conversation::{Conversation, Entry};
pub use files::{
    Fetch, Files, Job, Outgoing, PICTURE_AUTO_MAX, PictureOf, Saving, Sent, Sink, Stage,
    TransferId, human_size, safe_file_name, save_path,
};
pub use history::{MISSED_PAGES_MAX, NEWEST_PAGE};
pub use new_line::NewLine;
pub use pending::{Delivery, Pending};
pub(crate) use requests::unreadable_note;
pub use requests::{Page, Purpose, RequestId};
pub use rooms::{Invitation, Note, Place, RoomAct};
pub use search::{Jump, SEARCH_EMPTY_PAGES_MAX, Search};

/// The state of the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Logged in.
    Online,
    /// Lost; trying again.
    Reconnecting {
        /// Why it dropped.
        reason: String,
    },
    /// Closed for good.
    Offline {
        /// Why.
        reason: String,
    },
}

/// A room's member list as the server gave it: since protocol v3 at most
/// [`MEMBERS_LIST_MAX`](cove_common::limits::MEMBERS_LIST_MAX) members,
/// online ones first, with the room's size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberList {
    /// The members listed, by name, online ones first when the list is cut.
    pub members: Vec<Member>,
    /// How many members the room has.
    pub total: u32,
    /// Who is banned from the room: sent only to its owner and
    /// moderators (protocol v6).
    pub banned: Vec<Username>,
}

impl MemberList {
    /// How many members the list leaves out.
    pub fn not_listed(&self) -> u32 {
        let listed = u32::try_from(self.members.len()).unwrap_or(u32::MAX);
        self.total.saturating_sub(listed)
    }
}

/// Everything the chat screen shows.
#[derive(Debug, Clone)]
pub struct ChatState {
    /// Who is logged in.
    pub me: Username,
    /// Rooms the user is in.
    pub rooms: Vec<RoomInfo>,
    /// People with a direct conversation.
    pub directs: Vec<Username>,
    /// What is shown.
    pub current: Target,
    /// Lines per conversation.
    pub conversations: HashMap<Target, Conversation>,
    /// Member lists per room (by room key).
    pub members: HashMap<String, MemberList>,
    /// Unacknowledged messages, in send order.
    pub pending: Vec<Pending>,
    /// The user's edits, deletions and reactions not yet acknowledged, in
    /// the order made; shown as if made already.
    pub pending_changes: Vec<PendingChange>,
    /// Connection status.
    pub status: Status,
    next_client_id: u64,
    client_tag: String,
    next_request: u64,
    /// Requests not yet answered, and what each was for.
    requests: HashMap<RequestId, Purpose>,
    /// Requests not yet handed to the network.
    outbox: Vec<(RequestId, cove_common::Request)>,
    /// Why the session ended for good, once it has: no reconnect will
    /// come (the app offers no new login from the chat screen), so a
    /// message that cannot be sent fails instead of waiting.
    ended: Option<String>,
    /// Others typing, per conversation, with when each indicator expires
    /// (ms since the epoch), in the order they started.
    typing: HashMap<Target, Vec<(Username, u64)>>,
    /// When the user's own `typing` was last sent, per conversation.
    typing_sent: HashMap<Target, u64>,
    /// The search shown, if any.
    pub search: Option<Search>,
    /// Searches started so far (each search's number).
    search_seq: u64,
    /// The message a search result opened, if its conversation is shown.
    pub jump: Option<Jump>,
    /// Invitations to rooms not yet accepted or declined, oldest first.
    pub invitations: Vec<Invitation>,
    /// Rooms the user was removed from while the app ran ("You were
    /// removed from #class by teacher"), until dismissed.
    pub removals: Vec<String>,
    /// The answer to the last room or account action, where it was taken
    /// (the dialog, the room's header, the invitation, the settings).
    pub notes: HashMap<Place, Note>,
    /// Where the "New messages" line goes ([`new_line`]).
    pub new_line: Option<NewLine>,
    /// Conversations the user muted (client-side only; see [`mute`]).
    muted: HashSet<Target>,
    /// Files uploading, pictures fetched, files saved (protocol v6).
    pub files: Files,
}

impl ChatState {
    /// The state right after a welcome, before anything is fetched.
    pub fn new(me: Username, rooms: Vec<RoomInfo>) -> Self {
        let mut s = Self {
            me,
            rooms: Vec::new(),
            directs: Vec::new(),
            current: Target::Room(RoomName::general()),
            conversations: HashMap::new(),
            members: HashMap::new(),
            pending: Vec::new(),
            pending_changes: Vec::new(),
            status: Status::Online,
            next_client_id: 1,
            client_tag: format!("{:x}", now_ms()),
            next_request: 1,
            requests: HashMap::new(),
            outbox: Vec::new(),
            ended: None,
            typing: HashMap::new(),
            typing_sent: HashMap::new(),
            search: None,
            search_seq: 0,
            jump: None,
            invitations: Vec::new(),
            removals: Vec::new(),
            notes: HashMap::new(),
            new_line: None,
            muted: HashSet::new(),
            files: Files::default(),
        };
        s.set_rooms(rooms);
        s
    }

    /// The state after the first login, asking for the newest page of
    /// every conversation and the members of `general`.
    pub fn from_welcome(welcome: Welcome) -> Self {
        // The room shown first keeps no unread count (it is being read):
        // its count places the "New messages" line instead.
        let shown = RoomName::general();
        let unread = welcome
            .rooms
            .iter()
            .find(|r| r.name == shown)
            .map_or(0, |r| r.unread);
        let mut s = Self::new(welcome.session.username, welcome.rooms);
        s.mark_new(&Target::Room(shown), unread);
        s.files.max_file_bytes = welcome.session.max_file_bytes;
        s.directs = welcome.directs;
        s.set_direct_unread(&welcome.direct_unread);
        for i in welcome.invitations {
            s.invited(i.room, i.by);
        }
        let rooms = s.rooms.iter().map(|r| Target::Room(r.name.clone()));
        let directs = s.directs.iter().map(|u| Target::User(u.clone()));
        let all: Vec<Target> = rooms.chain(directs).collect();
        for with in all {
            s.fetch(with, Page::Newest, None, None);
        }
        s.ask_members(RoomName::general());
        s
    }

    /// Replaces the room list (welcome or joined), with the server's
    /// unread counts: since protocol v4 they count the messages after the
    /// user's read marker, which the server keeps for all their sessions,
    /// so they replace the app's own (except in the conversation shown,
    /// which is being read).
    pub fn set_rooms(&mut self, mut rooms: Vec<RoomInfo>) {
        rooms.sort_by(|a, b| a.name.cmp(&b.name));
        for r in &rooms {
            let target = Target::Room(r.name.clone());
            let shown = target == self.current;
            let conv = self
                .conversations
                .entry(target)
                .or_insert_with(Conversation::unloaded);
            if !shown {
                conv.unread = r.unread;
                conv.mentions = r.mentions;
            }
        }
        self.rooms = rooms;
    }

    /// The server's unread counts of direct conversations (`welcome`):
    /// those it does not list have none.
    pub(super) fn set_direct_unread(&mut self, counts: &[cove_common::proto::DirectUnread]) {
        for u in &self.directs {
            let target = Target::User(u.clone());
            if target == self.current {
                continue;
            }
            let (unread, mentions) = counts
                .iter()
                .find(|c| c.user == *u)
                .map_or((0, 0), |c| (c.unread, c.mentions));
            let conv = self
                .conversations
                .entry(target)
                .or_insert_with(Conversation::unloaded);
            conv.unread = unread;
            conv.mentions = mentions;
        }
    }

    /// The conversation shown now.
    pub fn current_conversation(&self) -> Option<&Conversation> {
        self.conversations.get(&self.current)
    }

    /// Switches to another conversation and clears its unread count
    /// ([`ChatState::show`] also loads what it needs).
    pub fn open(&mut self, target: Target) {
        if let Target::User(u) = &target
            && !self.directs.contains(u)
        {
            self.directs.push(u.clone());
        }
        let conv = self
            .conversations
            .entry(target.clone())
            .or_insert_with(Conversation::unloaded);
        let unread = std::mem::take(&mut conv.unread);
        conv.mentions = 0;
        self.end_jump_unless(&target);
        if target != self.current {
            self.mark_new(&target, unread);
        }
        self.current = target;
    }

    /// Adds a line from the app to the current conversation.
    pub fn info(&mut self, text: impl Into<String>) {
        self.info_in(self.current.clone(), text);
    }

    /// Adds a line from the app to the conversation it concerns, unless
    /// the conversation's last line says the same (reopening a
    /// conversation whose history the server refuses would otherwise
    /// stack one sentence per visit).
    pub fn info_in(&mut self, target: Target, text: impl Into<String>) {
        let text = text.into();
        let conv = self
            .conversations
            .entry(target)
            .or_insert_with(Conversation::unloaded);
        if matches!(conv.entries.last(), Some(Entry::Info { text: last, .. }) if *last == text) {
            return;
        }
        conv.insert(Entry::Info { ts: now_ms(), text });
    }

    fn deliver(&mut self, m: ChatMessage) {
        let conv_key = m.to.conversation_for(&m.from, &self.me);
        if let Target::User(peer) = &conv_key
            && !self.directs.contains(peer)
        {
            self.directs.push(peer.clone());
        }
        self.stopped_typing(&conv_key, &m.from);
        // The user's own words (acknowledged here, or sent from another
        // session) are not news to them: sending moved their read marker
        // to it on the server, so the conversation has nothing unread.
        let mine = m.from == self.me;
        let unread = conv_key != self.current && !mine;
        let mentions_me = self.mentions_me(&m);
        let conv = self
            .conversations
            .entry(conv_key.clone())
            .or_insert_with(Conversation::unloaded);
        let id = m.id;
        let inserted = conv.insert(Entry::Message(m));
        if inserted && unread {
            conv.unread += 1;
            if mentions_me {
                conv.mentions += 1;
            }
        }
        if mine {
            conv.unread = 0;
            conv.mentions = 0;
            conv.read_up_to = conv.read_up_to.max(id);
        } else if inserted {
            self.new_line_arrival(&conv_key);
        }
    }

    /// Applies one server message that answers no request of ours: a pushed
    /// event, or a reply [`ChatState::on_reply`] passes on.
    pub fn apply(&mut self, msg: ServerMessage) {
        match msg {
            ServerMessage::Message(m) => self.deliver(m),
            ServerMessage::Change(c) => self.on_change(c),
            ServerMessage::Ack {
                client_id,
                message_id,
                ts,
                ..
            } => {
                if let Some(i) = self.pending.iter().position(|p| p.client_id == client_id) {
                    let p = self.pending.remove(i);
                    let to = p.to.clone();
                    self.deliver(ChatMessage {
                        id: message_id,
                        ts,
                        from: self.me.clone(),
                        to: p.to,
                        text: p.text,
                        reply_to: p.reply_to,
                        edited: None,
                        deleted: None,
                        reactions: Vec::new(),
                        mentions: Vec::new(),
                        file: None,
                    });
                    if let Some(file) = p.file {
                        self.file_sent(to, message_id, client_id, file);
                    }
                } else {
                    self.change_acked(&client_id, ts);
                }
            }
            ServerMessage::Notice(n) => {
                let rooms: Vec<Target> = match &n.kind {
                    NoticeKind::Joined { room, .. }
                    | NoticeKind::Left { room, .. }
                    | NoticeKind::Kicked { room, .. }
                    | NoticeKind::Topic { room, .. }
                    | NoticeKind::Role { room, .. } => vec![Target::Room(room.clone())],
                    // Presence concerns every room shared with the user.
                    _ => self
                        .rooms
                        .iter()
                        .map(|r| Target::Room(r.name.clone()))
                        .collect(),
                };
                let shown = rooms.contains(&self.current);
                for t in rooms {
                    self.conversations
                        .entry(t)
                        .or_insert_with(Conversation::unloaded)
                        .insert(Entry::Notice(n.clone()));
                }
                // Someone came, went, or changed presence in the room shown.
                if shown && let Target::Room(room) = self.current.clone() {
                    self.ask_members(room);
                }
                // Topics, roles and removals change the room itself.
                self.room_notice(&n.kind);
            }
            ServerMessage::Joined { room, .. } => {
                let target = Target::Room(room.name.clone());
                // Joining uses the invitation up (protocol v5).
                self.invitations.retain(|i| i.room.name != room.name);
                if !self.rooms.iter().any(|r| r.name == room.name) {
                    let mut rooms = self.rooms.clone();
                    rooms.push(room.clone());
                    self.set_rooms(rooms);
                }
                // A member's history starts when they join: nothing older
                // to fetch, and a reconnect catches up from here.
                let conv = self
                    .conversations
                    .entry(target.clone())
                    .or_insert_with(Conversation::unloaded);
                if !conv.loaded {
                    conv.loaded = true;
                    conv.more_history = false;
                }
                self.open(target);
                self.ask_members(room.name);
            }
            ServerMessage::Left { room, .. } => {
                self.rooms.retain(|r| r.name != room);
                if self.current == Target::Room(room) {
                    self.current = Target::Room(RoomName::general());
                    self.ask_members(RoomName::general());
                }
            }
            ServerMessage::Rooms { rooms, .. } => {
                // Since protocol v3 the list may be cut (at most 400 rooms,
                // the user's own first): it updates the counts of the rooms
                // it lists and never drops one it leaves out.
                for r in rooms {
                    if let Some(mine) = self.rooms.iter_mut().find(|m| m.name == r.name) {
                        mine.members = r.members;
                        mine.online = r.online;
                        mine.private = r.private;
                        mine.topic = r.topic;
                        mine.role = r.role;
                    }
                }
            }
            ServerMessage::Members {
                room,
                members,
                total,
                banned,
                ..
            } => {
                let list = MemberList {
                    members,
                    total,
                    banned,
                };
                self.members.insert(room.key(), list);
            }
            ServerMessage::History {
                with,
                messages,
                more,
                cursor,
                ..
            } => {
                // A page no tracked request asked for: merged like a newest
                // page, and whatever was loading there is done (first, so
                // that an empty page with more may ask for the next).
                if let Some(conv) = self.conversations.get_mut(&with) {
                    conv.loading = false;
                }
                self.history_page(with, Page::Newest, messages, more, cursor);
            }
            ServerMessage::Error { message, .. } => self.info(format!("Error: {message}")),
            ServerMessage::Welcome { rooms, .. } => {
                self.status = Status::Online;
                self.set_rooms(rooms);
            }
            ServerMessage::Bye { reason } => {
                self.status = Status::Offline { reason };
            }
            ServerMessage::Invited { room, by } => self.invited(room, by),
            // Another session of the user changed the password: nothing
            // here changes (the network keeps the password it knows).
            ServerMessage::PasswordChanged { .. } => {}
            // Its `bye` follows; the app goes back to the start screen.
            ServerMessage::AccountDeleted { .. } => self.account_deleted(),
            // A search page answers a request, always: one that is not
            // tracked belongs to a search no longer shown. A `done` not
            // tracked answers a request of a connection lost since (its
            // outcome shows in the notices that follow).
            // The network layer answers file transfers itself: one that
            // reaches the state belongs to a transfer given up since.
            ServerMessage::Pong { .. }
            | ServerMessage::Search { .. }
            | ServerMessage::Done { .. }
            | ServerMessage::UploadReady { .. }
            | ServerMessage::ChunkOk { .. }
            | ServerMessage::FileData { .. } => {}
            ServerMessage::Typing { with, user } => {
                self.someone_typing(with, user, now_ms());
            }
            ServerMessage::Read {
                with,
                up_to,
                unread,
                mentions,
                ..
            } => self.read_marker(with, up_to, unread, mentions),
        }
    }

    /// The member list of the current room, if it is a room.
    pub fn current_members(&self) -> Option<&MemberList> {
        match &self.current {
            Target::Room(r) => self.members.get(&r.key()),
            Target::User(_) => None,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
