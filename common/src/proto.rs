//! Every application message of the product, as serde types.
//!
//! After the handshake each record from client to server carries exactly one
//! JSON document, a [`ClientMessage`]; each record from server to client
//! carries one or more [`ServerMessage`]s joined by [`MESSAGE_SEPARATOR`]
//! (the server seals whatever is queued for a connection as one record, as a
//! TLS server puts many lines into one record). Requests carry a client-chosen `id` that the server echoes in the
//! reply (or error) to that request; pushed events (delivered messages,
//! notices) carry no request id.

use serde::{Deserialize, Serialize};

use crate::limits::MAX_FRAME_LEN;
use crate::names::{ClientMsgId, HistoryCursor, MessageText, RoomName, Username};

mod attachments;
pub mod byes;
mod changes;
mod errors;
mod notices;
mod requests;
mod rooms;

pub use attachments::{
    Attachment, AttachmentInput, ChunkData, FileId, FileKey, FileName, UploadId, chunk_count,
    chunk_len_at,
};
pub use changes::{Change, ChangeKind, Quote, Reaction};
pub use errors::ErrorCode;
pub use notices::{Notice, NoticeKind};
pub use requests::Request;
pub use rooms::{DirectUnread, Invitation, Member, Role, RoomInfo};

/// Joins the messages of one server record. Encoded messages never contain
/// it: the JSON is compact and strings escape every control character.
pub const MESSAGE_SEPARATOR: u8 = b'\n';

/// Milliseconds since the Unix epoch, UTC.
pub type Timestamp = u64;

/// A server-assigned message id: unique and increasing over the server's life.
pub type MessageId = u64;

/// A request with the id under which its reply comes back.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClientMessage {
    /// Chosen by the client; echoed in the reply. Ids need not be unique, but a
    /// client that keeps them unique can match every reply to its request.
    pub id: u64,
    /// What the client asks for.
    #[serde(flatten)]
    pub request: Request,
}

/// Where a message is addressed: a room, or one user.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// Everyone in a room.
    Room(RoomName),
    /// One user (a direct message).
    User(Username),
}

impl Target {
    /// The conversation a message belongs to, seen by `me`: its room, or for a
    /// direct message, the other user.
    pub fn conversation_for(&self, from: &Username, me: &Username) -> Target {
        match self {
            Target::Room(_) => self.clone(),
            Target::User(to) if to == me => Target::User(from.clone()),
            Target::User(_) => self.clone(),
        }
    }
}

/// A chat message as delivered and as stored in history. Live and as
/// stored it is as sent; in history pages and searches it has every
/// [`Change`] applied (since v5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// Server-assigned id.
    pub id: MessageId,
    /// When the server accepted it.
    pub ts: Timestamp,
    /// Who sent it.
    pub from: Username,
    /// Where it was sent.
    pub to: Target,
    /// The text (the latest edit's, in pages); absent once deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<MessageText>,
    /// The message this one answers, quoted (since v5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<Quote>,
    /// When the text was last edited, in pages (since v5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edited: Option<Timestamp>,
    /// When the message was deleted, in pages (since v5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted: Option<Timestamp>,
    /// Its reactions, by emoji in the order first used, in pages (since
    /// v5).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reactions: Vec<Reaction>,
    /// The members of the conversation its text mentions (`@name`), as
    /// registered, found by the server when it was sent (since v5).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mentions: Vec<Username>,
    /// The file it carries (since v6); absent once deleted, in pages.
    /// Boxed: most messages carry none, and every message is moved often.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<Box<Attachment>>,
}

impl ChatMessage {
    /// A message as sent: no reply, edit, deletion or reaction.
    pub fn new(
        id: MessageId,
        ts: Timestamp,
        from: Username,
        to: Target,
        text: MessageText,
    ) -> Self {
        Self {
            id,
            ts,
            from,
            to,
            text: Some(text),
            reply_to: None,
            edited: None,
            deleted: None,
            reactions: Vec::new(),
            mentions: Vec::new(),
            file: None,
        }
    }

    /// The text as it now reads, `""` once deleted.
    pub fn text_str(&self) -> &str {
        self.text.as_ref().map_or("", MessageText::as_str)
    }

    /// What a reply quotes of it: its text, or when it has none, its
    /// file's name.
    pub fn quote_text(&self) -> &str {
        match (&self.text, &self.file) {
            (None, Some(file)) => file.name.as_str(),
            _ => self.text_str(),
        }
    }
}

/// What the server sends.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// Sent once after a successful register or log in.
    Welcome {
        /// Echoes the request id of the register or login.
        id: u64,
        /// Who is logged in.
        session: SessionInfo,
        /// The rooms the user is a member of.
        rooms: Vec<RoomInfo>,
        /// The users this user has direct conversations with.
        #[serde(default)]
        directs: Vec<Username>,
        /// Unread messages per direct conversation, for those with any
        /// (since v4); absent when none has.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        direct_unread: Vec<DirectUnread>,
        /// Invitations to rooms the user has not answered yet (since v5),
        /// also those made while they were away; absent when none.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        invitations: Vec<Invitation>,
    },
    /// A request failed; the connection stays usable unless the code says
    /// otherwise.
    Error {
        /// The failed request's id, if the error concerns a request.
        id: Option<u64>,
        /// Stable, machine-readable code.
        code: ErrorCode,
        /// A sentence for a person.
        message: String,
    },
    /// The sender's own message was stored and fanned out.
    Ack {
        /// The request id of the `send`.
        id: u64,
        /// The client's own id for the message.
        client_id: ClientMsgId,
        /// The server-assigned id.
        message_id: MessageId,
        /// The server timestamp.
        ts: Timestamp,
    },
    /// A message delivered live.
    Message(ChatMessage),
    /// A message was edited, deleted or reacted to (since v5): pushed to
    /// the conversation's members' sessions, except the connection that
    /// made the change, which gets the `ack`.
    Change(Change),
    /// Something happened that the user should see.
    Notice(Notice),
    /// Reply to `join`.
    Joined {
        /// The request id.
        id: u64,
        /// The room joined.
        room: RoomInfo,
    },
    /// Reply to `leave`.
    Left {
        /// The request id.
        id: u64,
        /// The room left.
        room: RoomName,
    },
    /// Reply to `list_rooms`.
    Rooms {
        /// The request id.
        id: u64,
        /// The rooms, by name: all of them, or at most
        /// [`ROOMS_LIST_MAX`](crate::limits::ROOMS_LIST_MAX) (the user's own
        /// first, then the biggest).
        rooms: Vec<RoomInfo>,
        /// How many rooms there are.
        total: u32,
    },
    /// Reply to `members`.
    Members {
        /// The request id.
        id: u64,
        /// The room.
        room: RoomName,
        /// Its members, online or not, by name: all of them, or at most
        /// [`MEMBERS_LIST_MAX`](crate::limits::MEMBERS_LIST_MAX) (online
        /// ones first).
        members: Vec<Member>,
        /// How many members the room has.
        total: u32,
        /// Who is banned from the room, by name, at most
        /// [`MEMBERS_LIST_MAX`](crate::limits::MEMBERS_LIST_MAX): only to
        /// its owner and moderators, who may lift a ban (since v6); absent
        /// when none is or to others.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        banned: Vec<Username>,
    },
    /// Reply to `history`.
    History {
        /// The request id.
        id: u64,
        /// The conversation.
        with: Target,
        /// The messages, newest first.
        messages: Vec<ChatMessage>,
        /// Whether older messages may exist: `true` also when the page
        /// stopped at the server's read budget, so a page may be short or
        /// empty and still say `more`.
        more: bool,
        /// Stored batches of messages (one or more each) in the stretch of
        /// history this page covers that the server could not read because
        /// they are damaged on disk; absent when 0.
        #[serde(default, skip_serializing_if = "is_zero")]
        unreadable: u32,
        /// Where the next older page starts, to send back as the request's
        /// `cursor`; present whenever `more` is.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cursor: Option<HistoryCursor>,
    },
    /// Reply to `search` (since v4): matching messages of any of the
    /// user's conversations (each names its own in `to` and `from`).
    Search {
        /// The request id.
        id: u64,
        /// The matches, newest first.
        messages: Vec<ChatMessage>,
        /// Whether older history is left to search: `true` also when the
        /// page stopped at the server's read budget, so a page may be short
        /// or empty and still say `more`.
        more: bool,
        /// Damaged stored batches met, as in a history page; absent when 0.
        #[serde(default, skip_serializing_if = "is_zero")]
        unreadable: u32,
        /// Where the next page of this search starts; present whenever
        /// `more` is.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cursor: Option<HistoryCursor>,
    },
    /// Reply to `change_password` (since v5): the new password is stored.
    PasswordChanged {
        /// The request id.
        id: u64,
        /// How many other sessions were signed out.
        signed_out: u32,
    },
    /// Reply to `delete_account` (since v5): the account is gone; a `bye`
    /// follows.
    AccountDeleted {
        /// The request id.
        id: u64,
    },
    /// Reply to `invite`, `decline`, `kick`, `unban`, `set_topic` and
    /// `set_role` (since v5), and to `cancel_upload` (since v7): it was
    /// done.
    Done {
        /// The request id.
        id: u64,
    },
    /// The user was invited to a room (since v5): `join` accepts,
    /// `decline` turns it down.
    Invited {
        /// The room.
        room: RoomInfo,
        /// Who invited them.
        by: Username,
    },
    /// Reply to `upload` and `resume_upload` (since v6): send the chunks
    /// from `received` on.
    UploadReady {
        /// The request id.
        id: u64,
        /// The upload, for `chunk`, `resume_upload` and `send`'s `file`.
        upload: UploadId,
        /// The file's size.
        size: u64,
        /// Bytes the server has: the next chunk's `offset`.
        received: u64,
    },
    /// Reply to `chunk` (since v6): the bytes are taken; once `received`
    /// is the file's size, the upload is finished and may be sent.
    ChunkOk {
        /// The request id.
        id: u64,
        /// The upload.
        upload: UploadId,
        /// Bytes the server has.
        received: u64,
    },
    /// Reply to `download` (since v6): one chunk of a file.
    FileData {
        /// The request id.
        id: u64,
        /// The file.
        file: FileId,
        /// Where the bytes start.
        offset: u64,
        /// The file's size.
        size: u64,
        /// The bytes.
        data: ChunkData,
    },
    /// Reply to `ping`.
    Pong {
        /// The request id.
        id: u64,
    },
    /// Someone else is typing in a conversation of this user (since v4).
    /// Shown until [`TYPING_EXPIRY_MS`](crate::limits::TYPING_EXPIRY_MS)
    /// pass without another, or until their message arrives.
    Typing {
        /// The conversation as this user sees it: the room, or for a direct
        /// conversation the user who is typing.
        with: Target,
        /// Who is typing.
        user: Username,
    },
    /// A read marker of this user (since v4): the reply to `read` (with
    /// its `id`), and pushed without `id` to the user's other sessions
    /// when the marker moved.
    Read {
        /// The request id, in the reply to `read`; absent when pushed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<u64>,
        /// The conversation.
        with: Target,
        /// The newest message id read there.
        up_to: MessageId,
        /// Messages after the marker.
        unread: u32,
        /// Of those, the ones mentioning the user (since v5); absent when
        /// 0.
        #[serde(default, skip_serializing_if = "is_zero")]
        mentions: u32,
    },
    /// The server is closing this connection (log out, shutdown, idle).
    Bye {
        /// Why.
        reason: String,
    },
}

/// Who the session belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    /// The account's name as registered (case preserved).
    pub username: Username,
    /// The server's clock at login, for the client to judge its own skew.
    pub server_time: Timestamp,
    /// The largest file this server takes (since v6); 0 when it takes
    /// none.
    #[serde(default)]
    pub max_file_bytes: u64,
}

/// Why an incoming message could not be parsed.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// The record was larger than any message can be.
    #[error("message of {0} bytes exceeds the frame limit")]
    TooLarge(usize),
    /// Invalid JSON, an unknown type, a missing field or a field that breaks
    /// the rules of [`crate::names`].
    #[error("malformed message: {0}")]
    Malformed(#[from] serde_json::Error),
}

/// What a receiver can still tell of a request that did not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unparsed {
    /// Not a JSON object at all (not JSON, an array, a string …).
    NotAnObject,
    /// A JSON object that is not a valid request, with its `id` if that is
    /// an unsigned 64-bit number.
    Invalid {
        /// The request's `id`, for the error reply to echo.
        id: Option<u64>,
    },
}

impl ClientMessage {
    /// Parses one client message from a decrypted record.
    pub fn parse(bytes: &[u8]) -> Result<Self, ParseError> {
        parse(bytes)
    }

    /// Looks again at a request that failed [`ClientMessage::parse`]: was
    /// it a JSON object, and which `id` did it carry? Only called on the
    /// error path, so the generic parse costs nothing on valid requests.
    pub fn salvage(bytes: &[u8]) -> Unparsed {
        if bytes.len() > MAX_FRAME_LEN {
            return Unparsed::NotAnObject;
        }
        match serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(bytes) {
            Ok(object) => Unparsed::Invalid {
                id: object.get("id").and_then(serde_json::Value::as_u64),
            },
            Err(_) => Unparsed::NotAnObject,
        }
    }

    /// Encodes to JSON bytes.
    pub fn encode(&self) -> Vec<u8> {
        encode(self)
    }
}

impl ServerMessage {
    /// Parses one server message.
    pub fn parse(bytes: &[u8]) -> Result<Self, ParseError> {
        parse(bytes)
    }

    /// Parses the messages of a decrypted server record, in order. An empty
    /// record or an empty message between separators is malformed.
    pub fn parse_record(plaintext: &[u8]) -> impl Iterator<Item = Result<Self, ParseError>> + '_ {
        plaintext.split(|&b| b == MESSAGE_SEPARATOR).map(parse)
    }

    /// Encodes to JSON bytes.
    pub fn encode(&self) -> Vec<u8> {
        encode(self)
    }

    /// The id of the request this message answers (`None` for pushed
    /// events and for errors that answer no identifiable request).
    pub fn answers(&self) -> Option<u64> {
        match self {
            ServerMessage::Welcome { id, .. }
            | ServerMessage::Ack { id, .. }
            | ServerMessage::Joined { id, .. }
            | ServerMessage::Left { id, .. }
            | ServerMessage::Rooms { id, .. }
            | ServerMessage::Members { id, .. }
            | ServerMessage::History { id, .. }
            | ServerMessage::Search { id, .. }
            | ServerMessage::PasswordChanged { id, .. }
            | ServerMessage::AccountDeleted { id }
            | ServerMessage::Done { id }
            | ServerMessage::UploadReady { id, .. }
            | ServerMessage::ChunkOk { id, .. }
            | ServerMessage::FileData { id, .. }
            | ServerMessage::Pong { id } => Some(*id),
            ServerMessage::Error { id, .. } | ServerMessage::Read { id, .. } => *id,
            ServerMessage::Message(_)
            | ServerMessage::Change(_)
            | ServerMessage::Invited { .. }
            | ServerMessage::Notice(_)
            | ServerMessage::Typing { .. }
            | ServerMessage::Bye { .. } => None,
        }
    }

    /// Shorthand for an error reply.
    pub fn error(id: Option<u64>, code: ErrorCode, message: impl Into<String>) -> Self {
        ServerMessage::Error {
            id,
            code,
            message: message.into(),
        }
    }
}

fn parse<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, ParseError> {
    if bytes.len() > MAX_FRAME_LEN {
        return Err(ParseError::TooLarge(bytes.len()));
    }
    Ok(serde_json::from_slice(bytes)?)
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Our types contain only strings, integers, options and vectors, which
    // serde_json always serialises.
    serde_json::to_vec(value).unwrap_or_else(|e| unreachable!("serialising a message: {e}"))
}

#[cfg(test)]
mod tests;
