//! The chat as the app shows it: rooms, conversations, members, pending
//! messages and connection status. Plain data, updated from server messages,
//! testable without a window.

use std::collections::{HashMap, HashSet};

use cove_common::proto::{ChatMessage, Member, MessageId, Notice, NoticeKind, RoomInfo};
use cove_common::time::now_ms;
use cove_common::{ClientMsgId, MessageText, RoomName, ServerMessage, Target, Username};

/// One line of a conversation.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    /// A delivered message.
    Message(ChatMessage),
    /// A system notice (joins, leaves, "alice left the chat").
    Notice(Notice),
    /// A line from the app itself (help, errors).
    Info {
        /// When it was added (ms since the epoch).
        ts: u64,
        /// The text.
        text: String,
    },
}

impl Entry {
    /// When it happened (ms since the epoch).
    pub(crate) fn ts(&self) -> u64 {
        self.order().0
    }

    /// Where the entry sorts: by time, and within one millisecond messages
    /// by their id (the server's order; many messages can share a
    /// millisecond, and history pages arrive newest first), then the
    /// other lines in the order they came.
    pub(crate) fn order(&self) -> (u64, u64) {
        match self {
            Entry::Message(m) => (m.ts, m.id),
            Entry::Notice(n) => (n.ts, u64::MAX),
            Entry::Info { ts, .. } => (*ts, u64::MAX),
        }
    }
}

/// A message sent but not yet acknowledged.
#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    /// The client's id for it (re-sent with the same id after a reconnect).
    pub client_id: ClientMsgId,
    /// Where it goes.
    pub to: Target,
    /// What it says.
    pub text: MessageText,
    /// Whether it was already re-sent once after a reconnect.
    pub resent: bool,
}

/// One room's or direct conversation's lines.
#[derive(Debug, Default, Clone)]
pub struct Conversation {
    /// Lines, oldest first.
    pub entries: Vec<Entry>,
    ids: HashSet<MessageId>,
    /// Whether the server has older messages than those loaded.
    pub more_history: bool,
    /// Whether a history request is in flight.
    pub loading: bool,
    /// Messages that arrived while another conversation was shown.
    pub unread: u32,
}

impl Conversation {
    /// The oldest message id loaded.
    pub fn oldest_id(&self) -> Option<MessageId> {
        self.entries.iter().find_map(|e| match e {
            Entry::Message(m) => Some(m.id),
            _ => None,
        })
    }

    /// Inserts in time order; a message already present is ignored.
    pub fn insert(&mut self, entry: Entry) -> bool {
        if let Entry::Message(m) = &entry
            && !self.ids.insert(m.id)
        {
            return false;
        }
        let key = entry.order();
        let at = self.entries.partition_point(|e| e.order() <= key);
        self.entries.insert(at, entry);
        true
    }
}

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
    /// Members per room (by room key).
    pub members: HashMap<String, Vec<Member>>,
    /// Unacknowledged messages, in send order.
    pub pending: Vec<Pending>,
    /// Connection status.
    pub status: Status,
    next_client_id: u64,
    client_tag: String,
}

impl ChatState {
    /// The state right after a welcome.
    pub fn new(me: Username, rooms: Vec<RoomInfo>) -> Self {
        let mut s = Self {
            me,
            rooms: Vec::new(),
            directs: Vec::new(),
            current: Target::Room(RoomName::general()),
            conversations: HashMap::new(),
            members: HashMap::new(),
            pending: Vec::new(),
            status: Status::Online,
            next_client_id: 1,
            client_tag: format!("{:x}", now_ms()),
        };
        s.set_rooms(rooms);
        s
    }

    /// Replaces the room list (welcome or list reply), keeping unread counts.
    pub fn set_rooms(&mut self, mut rooms: Vec<RoomInfo>) {
        rooms.sort_by(|a, b| a.name.cmp(&b.name));
        for r in &rooms {
            let conv = self
                .conversations
                .entry(Target::Room(r.name.clone()))
                .or_insert_with(|| Conversation {
                    more_history: true,
                    ..Conversation::default()
                });
            conv.unread = conv.unread.max(r.unread);
        }
        self.rooms = rooms;
    }

    /// The conversation shown now.
    pub fn current_conversation(&self) -> Option<&Conversation> {
        self.conversations.get(&self.current)
    }

    /// Shows another conversation and clears its unread count.
    pub fn open(&mut self, target: Target) {
        if let Target::User(u) = &target
            && !self.directs.contains(u)
        {
            self.directs.push(u.clone());
        }
        self.conversations
            .entry(target.clone())
            .or_insert_with(|| Conversation {
                more_history: true,
                ..Conversation::default()
            })
            .unread = 0;
        self.current = target;
    }

    /// A fresh client id for a message.
    pub fn new_client_id(&mut self) -> ClientMsgId {
        let id = format!("{}-{}", self.client_tag, self.next_client_id);
        self.next_client_id += 1;
        ClientMsgId::new(id).unwrap_or_else(|_| unreachable!("hex and digits are valid"))
    }

    /// Records a message as sent and not yet acknowledged.
    pub fn add_pending(&mut self, client_id: ClientMsgId, to: Target, text: MessageText) {
        self.pending.push(Pending {
            client_id,
            to,
            text,
            resent: false,
        });
    }

    /// Pending messages of one conversation.
    pub fn pending_in(&self, target: &Target) -> impl Iterator<Item = &Pending> {
        self.pending.iter().filter(move |p| &p.to == target)
    }

    /// Messages to re-send once after a reconnect (each only once).
    pub fn take_resends(&mut self) -> Vec<Pending> {
        let mut out = Vec::new();
        for p in &mut self.pending {
            if !p.resent {
                p.resent = true;
                out.push(p.clone());
            }
        }
        out
    }

    /// Adds a line from the app to the current conversation.
    pub fn info(&mut self, text: impl Into<String>) {
        let target = self.current.clone();
        self.conversations
            .entry(target)
            .or_default()
            .insert(Entry::Info {
                ts: now_ms(),
                text: text.into(),
            });
    }

    fn deliver(&mut self, m: ChatMessage) {
        let conv_key = m.to.conversation_for(&m.from, &self.me);
        if let Target::User(peer) = &conv_key
            && !self.directs.contains(peer)
        {
            self.directs.push(peer.clone());
        }
        let shown = conv_key == self.current;
        let conv = self
            .conversations
            .entry(conv_key)
            .or_insert_with(|| Conversation {
                more_history: true,
                ..Conversation::default()
            });
        if conv.insert(Entry::Message(m)) && !shown {
            conv.unread += 1;
        }
    }

    /// Applies one server message. Returns true when the member list of the
    /// current room may have changed (so it should be fetched again).
    pub fn apply(&mut self, msg: ServerMessage) -> bool {
        match msg {
            ServerMessage::Message(m) => self.deliver(m),
            ServerMessage::Ack {
                client_id,
                message_id,
                ts,
                ..
            } => {
                if let Some(i) = self.pending.iter().position(|p| p.client_id == client_id) {
                    let p = self.pending.remove(i);
                    self.deliver(ChatMessage {
                        id: message_id,
                        ts,
                        from: self.me.clone(),
                        to: p.to,
                        text: p.text,
                    });
                }
            }
            ServerMessage::Notice(n) => {
                let rooms: Vec<Target> = match &n.kind {
                    NoticeKind::Joined { room, .. } | NoticeKind::Left { room, .. } => {
                        vec![Target::Room(room.clone())]
                    }
                    // Presence concerns every room shared with the user.
                    _ => self
                        .rooms
                        .iter()
                        .map(|r| Target::Room(r.name.clone()))
                        .collect(),
                };
                for t in rooms {
                    self.conversations
                        .entry(t)
                        .or_default()
                        .insert(Entry::Notice(n.clone()));
                }
                return true;
            }
            ServerMessage::Joined { room, .. } => {
                let target = Target::Room(room.name.clone());
                if !self.rooms.iter().any(|r| r.name == room.name) {
                    let mut rooms = self.rooms.clone();
                    rooms.push(room);
                    self.set_rooms(rooms);
                }
                self.open(target);
                return true;
            }
            ServerMessage::Left { room, .. } => {
                self.rooms.retain(|r| r.name != room);
                if self.current == Target::Room(room) {
                    self.current = Target::Room(RoomName::general());
                }
                return true;
            }
            ServerMessage::Rooms { rooms, .. } => {
                let mine: Vec<RoomInfo> = rooms
                    .into_iter()
                    .filter(|r| self.rooms.iter().any(|m| m.name == r.name))
                    .collect();
                self.set_rooms(mine);
            }
            ServerMessage::Members { room, members, .. } => {
                self.members.insert(room.key(), members);
            }
            ServerMessage::History {
                with,
                messages,
                more,
                ..
            } => {
                let conv = self.conversations.entry(with).or_default();
                for m in messages {
                    conv.insert(Entry::Message(m));
                }
                conv.more_history = more;
                conv.loading = false;
            }
            ServerMessage::Error { message, .. } => self.info(format!("Error: {message}")),
            ServerMessage::Welcome { rooms, .. } => {
                self.status = Status::Online;
                self.set_rooms(rooms);
            }
            ServerMessage::Bye { reason } => {
                self.status = Status::Offline { reason };
            }
            ServerMessage::Pong { .. } => {}
        }
        false
    }

    /// Members of the current room, if it is a room.
    pub fn current_members(&self) -> Option<&[Member]> {
        match &self.current {
            Target::Room(r) => self.members.get(&r.key()).map(Vec::as_slice),
            Target::User(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> Username {
        Username::new(s).unwrap()
    }

    fn room(name: &str, unread: u32) -> RoomInfo {
        RoomInfo {
            name: RoomName::new(name).unwrap(),
            members: 2,
            online: 1,
            unread,
        }
    }

    fn msg(id: u64, from: &str, to: Target, text: &str) -> ChatMessage {
        ChatMessage {
            id,
            ts: id,
            from: u(from),
            to,
            text: MessageText::new(text).unwrap(),
        }
    }

    fn general() -> Target {
        Target::Room(RoomName::general())
    }

    #[test]
    fn messages_sorted_deduplicated_and_counted_unread() {
        let mut s = ChatState::new(u("meg"), vec![room("general", 0), room("rust", 2)]);
        let rust = Target::Room(RoomName::new("rust").unwrap());
        assert_eq!(s.conversations[&rust].unread, 2);
        s.apply(ServerMessage::Message(msg(20, "bob", general(), "second")));
        s.apply(ServerMessage::Message(msg(10, "bob", general(), "first")));
        s.apply(ServerMessage::Message(msg(10, "bob", general(), "first")));
        s.apply(ServerMessage::Message(msg(
            30,
            "bob",
            rust.clone(),
            "elsewhere",
        )));
        let texts: Vec<_> = s.conversations[&general()]
            .entries
            .iter()
            .map(|e| match e {
                Entry::Message(m) => m.text.as_str(),
                _ => "?",
            })
            .collect();
        assert_eq!(texts, ["first", "second"]);
        assert_eq!(s.conversations[&general()].unread, 0);
        assert_eq!(s.conversations[&rust].unread, 3);
        s.open(rust.clone());
        assert_eq!(s.conversations[&rust].unread, 0);
    }

    #[test]
    fn pending_until_acked_and_resent_once() {
        let mut s = ChatState::new(u("meg"), vec![room("general", 0)]);
        let cid = s.new_client_id();
        s.add_pending(cid.clone(), general(), MessageText::new("hi").unwrap());
        assert_eq!(s.pending_in(&general()).count(), 1);
        assert_eq!(s.take_resends().len(), 1);
        assert!(s.take_resends().is_empty(), "re-sent only once");
        s.apply(ServerMessage::Ack {
            id: 1,
            client_id: cid,
            message_id: 99,
            ts: 99,
        });
        assert!(s.pending.is_empty());
        assert!(
            matches!(&s.conversations[&general()].entries[0], Entry::Message(m) if m.id == 99 && m.from.as_str() == "meg")
        );
        assert_ne!(s.new_client_id(), s.new_client_id());
    }

    #[test]
    fn direct_messages_open_a_conversation_with_the_sender() {
        let mut s = ChatState::new(u("meg"), vec![room("general", 0)]);
        s.apply(ServerMessage::Message(msg(
            5,
            "bob",
            Target::User(u("meg")),
            "psst",
        )));
        assert_eq!(s.directs, vec![u("bob")]);
        assert_eq!(s.conversations[&Target::User(u("bob"))].unread, 1);
    }

    #[test]
    fn notices_go_to_rooms_and_ask_for_members() {
        let mut s = ChatState::new(u("meg"), vec![room("general", 0)]);
        let n = Notice::new(3, NoticeKind::Exited { user: u("alice") });
        assert!(s.apply(ServerMessage::Notice(n)));
        assert!(
            matches!(&s.conversations[&general()].entries[0], Entry::Notice(n) if n.text == "alice left the chat")
        );
    }

    #[test]
    fn join_and_leave_update_rooms() {
        let mut s = ChatState::new(u("meg"), vec![room("general", 0)]);
        s.apply(ServerMessage::Joined {
            id: 1,
            room: room("books", 0),
        });
        let books = Target::Room(RoomName::new("books").unwrap());
        assert_eq!(s.current, books);
        assert_eq!(s.rooms.len(), 2);
        s.apply(ServerMessage::Left {
            id: 2,
            room: RoomName::new("books").unwrap(),
        });
        assert_eq!(s.rooms.len(), 1);
        assert_eq!(s.current, general());
    }

    #[test]
    fn history_prepends_and_records_more() {
        let mut s = ChatState::new(u("meg"), vec![room("general", 0)]);
        s.apply(ServerMessage::Message(msg(50, "bob", general(), "live")));
        s.apply(ServerMessage::History {
            id: 1,
            with: general(),
            messages: vec![
                msg(40, "bob", general(), "b"),
                msg(30, "bob", general(), "a"),
            ],
            more: false,
        });
        let conv = &s.conversations[&general()];
        assert_eq!(conv.oldest_id(), Some(30));
        assert!(!conv.more_history);
        assert_eq!(conv.entries.len(), 3);
    }

    /// A page (newest first) of messages sent within one millisecond is
    /// shown oldest first, like everything else.
    #[test]
    fn messages_of_one_millisecond_keep_the_servers_order() {
        let mut s = ChatState::new(u("meg"), vec![room("general", 0)]);
        let at = |id: u64, text: &str| ChatMessage {
            ts: 1_000,
            ..msg(id, "bob", general(), text)
        };
        s.apply(ServerMessage::Message(at(13, "live")));
        s.apply(ServerMessage::History {
            id: 1,
            with: general(),
            messages: vec![at(12, "c"), at(11, "b"), at(10, "a")],
            more: false,
        });
        let texts: Vec<&str> = s.conversations[&general()]
            .entries
            .iter()
            .map(|e| match e {
                Entry::Message(m) => m.text.as_str(),
                _ => "",
            })
            .collect();
        assert_eq!(texts, ["a", "b", "c", "live"]);
        assert_eq!(s.conversations[&general()].oldest_id(), Some(10));
    }
}
