//! What a client may ask of the server.

use serde::{Deserialize, Serialize};

use crate::names::{
    ClientMsgId, Emoji, HistoryCursor, MessageText, Password, RoomName, SearchText, Topic, Username,
};

use super::attachments::{ChunkData, FileId, FileKey, FileName, UploadId};
use super::{MessageId, Role, Target};

/// What a client may ask of the server.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Request {
    /// Create an account and log in to it.
    Register {
        /// The new account's name.
        username: Username,
        /// Its password.
        password: Password,
    },
    /// Log in to an existing account.
    Login {
        /// The account's name (any letter case).
        username: Username,
        /// Its password.
        password: Password,
    },
    /// Leave the chat (`#exit`): everyone sharing a room is told, then the
    /// server closes the connection.
    Logout,
    /// Join a room, creating it if it does not exist.
    Join {
        /// The room.
        room: RoomName,
    },
    /// Create a room with options (since v5); the creator owns it.
    /// Answered by [`ServerMessage::Joined`](super::ServerMessage::Joined).
    Create {
        /// The new room.
        room: RoomName,
        /// Invite-only and not listed to others.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        private: bool,
        /// Its topic.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        topic: Option<Topic>,
    },
    /// Invite a user to a room (its owner or a moderator; since v5).
    /// Answered by `done`.
    Invite {
        /// The room.
        room: RoomName,
        /// Who.
        user: Username,
    },
    /// Turn down an invitation (since v5). Answered by `done`.
    Decline {
        /// The room.
        room: RoomName,
    },
    /// Remove a member from a room, and with `ban` keep them out (its
    /// owner or a moderator; since v5). Answered by `done`.
    Kick {
        /// The room.
        room: RoomName,
        /// Who.
        user: Username,
        /// Also ban them.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        ban: bool,
    },
    /// Lift a ban (its owner or a moderator; since v5). Answered by
    /// `done`.
    Unban {
        /// The room.
        room: RoomName,
        /// Who.
        user: Username,
    },
    /// Set the room's topic, or clear it with `null` (its owner or a
    /// moderator; since v5). Answered by `done`.
    SetTopic {
        /// The room.
        room: RoomName,
        /// The topic.
        topic: Option<Topic>,
    },
    /// Make a member a moderator, or a member again (the owner; since v5).
    /// Answered by `done`.
    SetRole {
        /// The room.
        room: RoomName,
        /// Who.
        user: Username,
        /// `moderator` or `member`.
        role: Role,
    },
    /// Leave a room (not `general`).
    Leave {
        /// The room.
        room: RoomName,
    },
    /// List every room with its member and online counts.
    ListRooms,
    /// List the members of a room the user is in, with presence.
    Members {
        /// The room.
        room: RoomName,
    },
    /// Send a message to a room the user is in or to one user.
    Send {
        /// Echoed in the [`ServerMessage::Ack`], for de-duplication.
        client_id: ClientMsgId,
        /// Where the message goes.
        to: Target,
        /// The message; may be absent when `file` is given (since v6).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<MessageText>,
        /// The message of the same conversation this one answers (since
        /// v5).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reply_to: Option<MessageId>,
        /// A finished upload of this user's to carry (since v6): the
        /// message then holds the file's [`Attachment`](super::Attachment).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        file: Option<UploadId>,
    },
    /// Start sending a file (since v6); answered by
    /// [`ServerMessage::UploadReady`](super::ServerMessage::UploadReady).
    Upload {
        /// The file's name.
        name: FileName,
        /// Its size in bytes: 1 to the server's `max_file_bytes`.
        size: u64,
    },
    /// Ask where an upload stands, e.g. after a reconnect (since v6);
    /// answered by `upload_ready`.
    ResumeUpload {
        /// The upload.
        upload: UploadId,
    },
    /// Give up an upload that will not be sent (since v7), answered by
    /// [`ServerMessage::Done`](super::ServerMessage::Done): its bytes are
    /// removed and stop counting against the user's quota and uploads.
    CancelUpload {
        /// The upload.
        upload: UploadId,
    },
    /// The next bytes of an upload (since v6); answered by
    /// [`ServerMessage::ChunkOk`](super::ServerMessage::ChunkOk).
    Chunk {
        /// The upload.
        upload: UploadId,
        /// Where the bytes go: exactly the bytes received so far.
        offset: u64,
        /// [`FILE_CHUNK_BYTES`](crate::limits::FILE_CHUNK_BYTES) bytes,
        /// or the rest of the file.
        data: ChunkData,
    },
    /// Fetch one chunk of a stored file (since v6); answered by
    /// [`ServerMessage::FileData`](super::ServerMessage::FileData).
    Download {
        /// The file, from a message's `file`.
        file: FileId,
        /// Its key, from the same place.
        key: FileKey,
        /// The chunk's start: a multiple of
        /// [`FILE_CHUNK_BYTES`](crate::limits::FILE_CHUNK_BYTES) below the
        /// file's size.
        offset: u64,
    },
    /// Replace the text of one of the user's own messages (since v5);
    /// answered by [`ServerMessage::Ack`] for the change.
    Edit {
        /// For de-duplication, as in `send`.
        client_id: ClientMsgId,
        /// The message's conversation: the room, or the other user.
        with: Target,
        /// The message.
        message_id: MessageId,
        /// The new text.
        text: MessageText,
    },
    /// Delete one of the user's own messages (since v5); answered by
    /// [`ServerMessage::Ack`] for the change.
    Delete {
        /// For de-duplication, as in `send`.
        client_id: ClientMsgId,
        /// The message's conversation: the room, or the other user.
        with: Target,
        /// The message.
        message_id: MessageId,
    },
    /// React to a message with an emoji, or take the reaction back (since
    /// v5); answered by [`ServerMessage::Ack`] for the change.
    React {
        /// For de-duplication, as in `send`.
        client_id: ClientMsgId,
        /// The message's conversation: the room, or the other user.
        with: Target,
        /// The message.
        message_id: MessageId,
        /// The emoji.
        emoji: Emoji,
        /// `true` to take the reaction back.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        remove: bool,
    },
    /// Change the account's password (since v5), answered by
    /// [`ServerMessage::PasswordChanged`]. The history stays readable: its
    /// key is wrapped again under the new password.
    ChangePassword {
        /// The password now.
        old: Password,
        /// The new one.
        new: Password,
        /// Also end every other session of the account.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        sign_out_others: bool,
    },
    /// Delete the account (since v5): answered by
    /// [`ServerMessage::AccountDeleted`], then the connection closes.
    DeleteAccount {
        /// The account's password, as a confirmation.
        password: Password,
    },
    /// Fetch a page of the user's own history of one conversation, newest
    /// first.
    History {
        /// The room, or the other user of a direct conversation.
        with: Target,
        /// Only messages with an id below this one (the oldest already shown);
        /// `None` for the newest page.
        before: Option<MessageId>,
        /// Most messages to return; capped at [`crate::limits::HISTORY_PAGE_MAX`].
        limit: u16,
        /// Where to continue: the `cursor` of the previous page of this
        /// conversation. Reading starts exactly there, so a page costs the
        /// same at any depth; `None` reads from the newest message.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cursor: Option<HistoryCursor>,
    },
    /// Keep-alive; answered by [`ServerMessage::Pong`].
    Ping,
    /// The user is typing in a conversation (since v4). Ephemeral: never
    /// stored. Not answered when accepted; refused with an error (e.g.
    /// `rate_limited` when sent within
    /// [`TYPING_MIN_INTERVAL_MS`](crate::limits::TYPING_MIN_INTERVAL_MS) of
    /// the last accepted one for the same conversation).
    Typing {
        /// The room, or the other user of a direct conversation.
        with: Target,
    },
    /// Moves the user's read marker in a conversation forward to `up_to`
    /// (since v4); answered by [`ServerMessage::Read`] with the marker as
    /// it stands.
    Read {
        /// The room, or the other user of a direct conversation.
        with: Target,
        /// The newest message id the user has seen there.
        up_to: MessageId,
    },
    /// Searches the user's own history for messages containing `text`,
    /// ignoring case, newest first (since v4); answered by
    /// [`ServerMessage::Search`]. A walk of the history like a `history`
    /// page, with the same cursor and read budget: a page may be short or
    /// empty and still have `more`.
    Search {
        /// What to look for.
        text: SearchText,
        /// Only this conversation; every conversation when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        with: Option<Target>,
        /// Most results wanted: [`SEARCH_PAGE_DEFAULT`](crate::limits::SEARCH_PAGE_DEFAULT)
        /// when absent, capped at [`HISTORY_PAGE_MAX`](crate::limits::HISTORY_PAGE_MAX).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit: Option<u16>,
        /// Where to continue: the `cursor` of the previous page of this
        /// search.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cursor: Option<HistoryCursor>,
    },
}
