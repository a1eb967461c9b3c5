//! Rooms and their members as listed to a user.

use serde::{Deserialize, Serialize};

use crate::names::{RoomName, Topic, Username};

use super::is_zero;

/// A room as listed to a user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomInfo {
    /// Its name.
    pub name: RoomName,
    /// How many accounts are members.
    pub members: u32,
    /// How many members are online.
    pub online: u32,
    /// Messages after this user's read marker (since v4; before, those
    /// that arrived while they were offline since the server started).
    pub unread: u32,
    /// Of those, the ones mentioning the user (since v5); absent when 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub mentions: u32,
    /// Invite-only and listed only to its members (since v5).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub private: bool,
    /// Its topic (since v5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<Topic>,
    /// The user's role there when they own or moderate it (since v5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
}

/// An invitation to a room waiting for an answer (since v5), in `welcome`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invitation {
    /// The room, as listed to the invited user.
    pub room: RoomInfo,
    /// Who invited them.
    pub by: Username,
}

/// What a member may do in a room (since v5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Created it: sets roles, and all a moderator does.
    Owner,
    /// Invites, removes and bans members, sets the topic, deletes
    /// messages.
    Moderator,
    /// Talks.
    Member,
}

/// A direct conversation's unread count, in `welcome`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectUnread {
    /// The other user.
    pub user: Username,
    /// Messages after the user's read marker.
    pub unread: u32,
    /// Of those, the ones mentioning the user (since v5); absent when 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub mentions: u32,
}

/// A room member and whether they are online.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// The member.
    pub username: Username,
    /// Whether at least one of their sessions is connected.
    pub online: bool,
    /// Their role when they own or moderate the room (since v5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
}
