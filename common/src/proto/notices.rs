//! Notices: events shown as a system line.

use serde::{Deserialize, Serialize};

use crate::names::{RoomName, Topic, Username};

use super::{Role, Timestamp};

/// An event shown as a system line, with the sentence to show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// When it happened.
    pub ts: Timestamp,
    /// What happened.
    pub kind: NoticeKind,
    /// The sentence for people, e.g. "alice left the chat".
    pub text: String,
}

/// What a [`Notice`] is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum NoticeKind {
    /// A user joined a room.
    Joined {
        /// The room.
        room: RoomName,
        /// The user.
        user: Username,
    },
    /// A user left a room.
    Left {
        /// The room.
        room: RoomName,
        /// The user.
        user: Username,
    },
    /// A user's first session connected.
    Online {
        /// The user.
        user: Username,
    },
    /// A user's last session closed without `#exit`.
    Offline {
        /// The user.
        user: Username,
    },
    /// A user left the chat with `#exit` (or closed the app).
    Exited {
        /// The user.
        user: Username,
    },
    /// A user deleted their account (since v5).
    Deleted {
        /// The user.
        user: Username,
    },
    /// A member was removed from a room, or banned (since v5).
    Kicked {
        /// The room.
        room: RoomName,
        /// Who was removed.
        user: Username,
        /// Who removed them.
        by: Username,
        /// Whether they were banned too.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        banned: bool,
    },
    /// A room's topic was set or cleared (since v5).
    Topic {
        /// The room.
        room: RoomName,
        /// Who set it.
        by: Username,
        /// The new topic; absent when cleared.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        topic: Option<Topic>,
    },
    /// A member's role changed (since v5).
    Role {
        /// The room.
        room: RoomName,
        /// Whose role.
        user: Username,
        /// The new role.
        role: Role,
        /// Who changed it.
        by: Username,
    },
}

impl Notice {
    /// Builds a notice with its standard sentence.
    pub fn new(ts: Timestamp, kind: NoticeKind) -> Self {
        let text = match &kind {
            NoticeKind::Joined { room, user } => format!("{user} joined #{room}"),
            NoticeKind::Left { room, user } => format!("{user} left #{room}"),
            NoticeKind::Online { user } => format!("{user} is online"),
            NoticeKind::Offline { user } => format!("{user} went offline"),
            NoticeKind::Exited { user } => format!("{user} left the chat"),
            NoticeKind::Deleted { user } => format!("{user} deleted their account"),
            NoticeKind::Kicked {
                room,
                user,
                by,
                banned,
            } => {
                let what = if *banned {
                    "banned from"
                } else {
                    "removed from"
                };
                format!("{user} was {what} #{room} by {by}")
            }
            NoticeKind::Topic {
                room,
                by,
                topic: Some(t),
            } => format!("{by} set the topic of #{room}: {t}"),
            NoticeKind::Topic {
                room,
                by,
                topic: None,
            } => format!("{by} cleared the topic of #{room}"),
            NoticeKind::Role {
                room,
                user,
                role,
                by,
            } => {
                let role = match role {
                    Role::Owner => "the owner",
                    Role::Moderator => "a moderator",
                    Role::Member => "a member",
                };
                format!("{by} made {user} {role} of #{room}")
            }
        };
        Self { ts, kind, text }
    }
}
