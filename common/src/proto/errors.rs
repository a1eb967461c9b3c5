//! The stable error codes of `error` replies.

use serde::{Deserialize, Serialize};

/// Stable error codes. New codes may be added; clients treat unknown codes
/// as [`ErrorCode::Internal`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The request could not be parsed or is not allowed in this state.
    BadRequest,
    /// A request other than register/login/ping before logging in.
    NotLoggedIn,
    /// Register or login on a connection that is already logged in.
    AlreadyLoggedIn,
    /// Registration with a name that exists (in any letter case).
    NameTaken,
    /// Wrong username or password (deliberately not saying which).
    AuthFailed,
    /// Too many attempts; try again later.
    RateLimited,
    /// The named room does not exist.
    NoSuchRoom,
    /// The user is not a member of the room.
    NotMember,
    /// The named user does not exist.
    NoSuchUser,
    /// `general` cannot be left.
    CannotLeave,
    /// The server is at its connection or work limit.
    Busy,
    /// The server could not store the data; nothing was acknowledged.
    Storage,
    /// The peers speak different protocol versions.
    VersionMismatch,
    /// A history request's `cursor` does not point at a readable place in
    /// the user's history (forged, or the history changed): ask again
    /// without it, with `before` set to the oldest message id shown.
    BadCursor,
    /// The message an `edit`, `delete`, `react` or `send`'s `reply_to`
    /// names is not one this user can find in that conversation, or it
    /// was deleted (since v5).
    NoSuchMessage,
    /// An `edit` or `delete` of another user's message (since v5).
    NotAuthor,
    /// Only a room's owner or moderators may do that (since v5).
    Forbidden,
    /// The user is banned from the room (since v5).
    Banned,
    /// The room is private and the user was not invited (since v5).
    NotInvited,
    /// A file larger than the server's `max_file_bytes` (since v6).
    TooLarge,
    /// The file would take the user past their storage quota (since v6).
    OverQuota,
    /// The upload is unknown: never started, finished and sent, given up
    /// after an hour without a chunk, or lost in a server restart (since
    /// v6). Start again with `upload`.
    NoSuchUpload,
    /// No stored file has this id and key: unknown, deleted with its
    /// message, or the key is wrong (since v6).
    NoSuchFile,
    /// Something went wrong on the server.
    #[serde(other)]
    Internal,
}
