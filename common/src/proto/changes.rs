//! Changes to a message after it was sent (since v5): edits, deletions and
//! reactions, and what a message carries of them and of the message it
//! replies to.
//!
//! A change is an event of its own, with its own id, delivered live as a
//! [`ServerMessage::Change`](super::ServerMessage::Change) and stored in
//! every recipient's history; history pages and searches return messages
//! with every change applied (see `docs/protocol.md`, "Edits, deletions,
//! replies and reactions").

use serde::{Deserialize, Serialize};

use crate::names::{Emoji, MessageText, Username};

use super::{MessageId, Target, Timestamp};

/// A change to one message, as delivered live and as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// The change's own id, from the same sequence as message ids.
    pub id: MessageId,
    /// When the server accepted it.
    pub ts: Timestamp,
    /// Who made it.
    pub from: Username,
    /// The changed message's conversation, named as in a
    /// [`ChatMessage`](super::ChatMessage): the room, or for a direct
    /// conversation the user `from` addressed.
    pub to: Target,
    /// The message changed.
    pub message_id: MessageId,
    /// What changed.
    #[serde(flatten)]
    pub what: ChangeKind,
}

/// What a [`Change`] does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum ChangeKind {
    /// The author replaced the text.
    Edit {
        /// The new text.
        text: MessageText,
    },
    /// The author deleted the message: its text is gone from every page.
    Delete,
    /// `from` reacted with `emoji`, or took that reaction back.
    React {
        /// The emoji.
        emoji: Emoji,
        /// `true` when the reaction is taken back.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        remove: bool,
    },
}

/// The message a reply answers, as the server quoted it when the reply was
/// sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quote {
    /// The original's id.
    pub id: MessageId,
    /// Its author.
    pub from: Username,
    /// The start of its text (at most
    /// [`QUOTE_MAX_CHARS`](crate::limits::QUOTE_MAX_CHARS) characters);
    /// absent once the original is deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// One emoji's reactions on a message, in a history page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reaction {
    /// The emoji.
    pub emoji: Emoji,
    /// How many users reacted with it.
    pub count: u32,
    /// The first of them to react, at most
    /// [`REACTION_NAMES_MAX`](crate::limits::REACTION_NAMES_MAX).
    pub users: Vec<Username>,
    /// Whether the user reading the page is one of them.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub mine: bool,
}
