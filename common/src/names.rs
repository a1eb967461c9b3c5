//! Validated names, message text and passwords.
//!
//! Each type can only be built through its validating constructor (serde
//! included, via `try_from`), so a value of the type is proof that it obeys the
//! rules in [`crate::limits`]. Names are compared ignoring ASCII case: `Alice`
//! and `alice` are the same account.

use std::fmt;

use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::limits::{
    CLIENT_ID_MAX_LEN, EMOJI_MAX_BYTES, HISTORY_CURSOR_MAX_LEN, MESSAGE_MAX_CHARS, NAME_MAX_LEN,
    NAME_MIN_LEN, PASSWORD_MAX_BYTES, PASSWORD_MIN_BYTES, SEARCH_TEXT_MAX_CHARS, TOPIC_MAX_CHARS,
};

/// Why a name, text or password was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidInput {
    /// A username or room name outside the length bounds.
    #[error("a name must be {min} to {max} characters long (got {got})", min = NAME_MIN_LEN, max = NAME_MAX_LEN)]
    NameLength {
        /// The length that was given.
        got: usize,
    },
    /// A username or room name containing a character outside `A-Z a-z 0-9 _ . -`.
    #[error("a name may only contain letters, digits, '_', '.' and '-' (found {found:?})")]
    NameCharacter {
        /// The first offending character.
        found: char,
    },
    /// A name that starts with a dot (`.`, `..`, hidden files) is refused so that
    /// no name can ever look like a path component.
    #[error("a name may not start with '.'")]
    NameLeadingDot,
    /// Message text with nothing visible: empty, only whitespace, or only
    /// characters that render as nothing (see [`crate::unicode`]).
    #[error("a message must contain at least one visible character")]
    TextEmpty,
    /// Message text that is too long.
    #[error("a message may be at most {max} characters (got {got})", max = MESSAGE_MAX_CHARS)]
    TextLength {
        /// The length in characters that was given.
        got: usize,
    },
    /// Message text with a control character other than newline or tab.
    #[error("a message may not contain control characters (found U+{code:04X})")]
    TextControl {
        /// The offending code point.
        code: u32,
    },
    /// Message text with a bidi embedding, override or isolate control,
    /// which could make it display as something it does not say.
    #[error(
        "a message may not contain bidirectional override or isolate characters (found U+{code:04X})"
    )]
    TextBidiControl {
        /// The offending code point.
        code: u32,
    },
    /// A password outside the length bounds.
    #[error("a password must be {min} to {max} bytes long (got {got})", min = PASSWORD_MIN_BYTES, max = PASSWORD_MAX_BYTES)]
    PasswordLength {
        /// The length in bytes that was given.
        got: usize,
    },
    /// A client message id that is empty, too long or not printable ASCII.
    #[error("a client message id must be 1 to {max} printable ASCII characters", max = CLIENT_ID_MAX_LEN)]
    ClientId,
    /// A history cursor that is empty, too long or not printable ASCII.
    #[error("a history cursor must be 1 to {max} printable ASCII characters", max = HISTORY_CURSOR_MAX_LEN)]
    Cursor,
    /// Search text with nothing visible, too long, or with a control
    /// character.
    #[error("a search must be 1 to {max} characters with a visible one and no control characters", max = SEARCH_TEXT_MAX_CHARS)]
    SearchText,
    /// A room topic with nothing visible, too long, or with a control or
    /// bidi control character.
    #[error("a topic must be 1 to {max} characters on one line with a visible one", max = TOPIC_MAX_CHARS)]
    Topic,
    /// A reaction that is not exactly one emoji of Unicode's list.
    #[error("a reaction must be exactly one emoji")]
    Emoji,
}

fn validate_name(s: &str) -> Result<(), InvalidInput> {
    let len = s.chars().count();
    if !(NAME_MIN_LEN..=NAME_MAX_LEN).contains(&len) {
        return Err(InvalidInput::NameLength { got: len });
    }
    if let Some(found) = s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
    {
        return Err(InvalidInput::NameCharacter { found });
    }
    if s.starts_with('.') {
        return Err(InvalidInput::NameLeadingDot);
    }
    Ok(())
}

macro_rules! name_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Validates `s` and wraps it.
            pub fn new(s: impl Into<String>) -> Result<Self, InvalidInput> {
                let s = s.into();
                validate_name(&s)?;
                Ok(Self(s))
            }

            /// The name as the user typed it (case preserved).
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The case-folded form under which names are unique.
            pub fn key(&self) -> String {
                self.0.to_ascii_lowercase()
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidInput;
            fn try_from(s: String) -> Result<Self, InvalidInput> {
                Self::new(s)
            }
        }

        impl From<$name> for String {
            fn from(n: $name) -> String {
                n.0
            }
        }

        impl std::str::FromStr for $name {
            type Err = InvalidInput;
            fn from_str(s: &str) -> Result<Self, InvalidInput> {
                Self::new(s)
            }
        }

        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                self.0.eq_ignore_ascii_case(&other.0)
            }
        }
        impl Eq for $name {}

        impl std::hash::Hash for $name {
            fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
                for b in self.0.bytes() {
                    state.write_u8(b.to_ascii_lowercase());
                }
            }
        }

        impl PartialOrd for $name {
            fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
                Some(self.cmp(other))
            }
        }
        impl Ord for $name {
            fn cmp(&self, other: &Self) -> std::cmp::Ordering {
                self.key().cmp(&other.key())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.0, f)
            }
        }
    };
}

name_type!(
    /// A username: 3–32 characters of ASCII letters, digits, `_ . -`, not
    /// starting with `.`; unique ignoring case. Never used as a file name.
    Username
);
name_type!(
    /// A room name, with the same rules as [`Username`].
    RoomName
);

impl RoomName {
    /// The room every user belongs to.
    pub fn general() -> Self {
        Self(crate::limits::DEFAULT_ROOM.to_owned())
    }
}

/// Message text: 1–4,000 characters, no control characters but `\n` and `\t`.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MessageText(String);

impl MessageText {
    /// Validates `s` and wraps it.
    pub fn new(s: impl Into<String>) -> Result<Self, InvalidInput> {
        let s = s.into();
        if !s.chars().any(crate::unicode::is_visible) {
            return Err(InvalidInput::TextEmpty);
        }
        let len = s.chars().count();
        if len > MESSAGE_MAX_CHARS {
            return Err(InvalidInput::TextLength { got: len });
        }
        if let Some(c) = s
            .chars()
            .find(|c| c.is_control() && !matches!(c, '\n' | '\t'))
        {
            return Err(InvalidInput::TextControl { code: c as u32 });
        }
        if let Some(c) = s.chars().find(|&c| crate::unicode::is_bidi_control(c)) {
            return Err(InvalidInput::TextBidiControl { code: c as u32 });
        }
        Ok(Self(s))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for MessageText {
    type Error = InvalidInput;
    fn try_from(s: String) -> Result<Self, InvalidInput> {
        Self::new(s)
    }
}
impl From<MessageText> for String {
    fn from(t: MessageText) -> String {
        t.0
    }
}
impl fmt::Display for MessageText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl fmt::Debug for MessageText {
    // Message text never lands in logs through Debug formatting.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MessageText({} chars)", self.0.chars().count())
    }
}

/// A password: 8–1,024 bytes. Zeroized on drop, redacted in `Debug`.
#[derive(Clone, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
#[serde(try_from = "String", into = "String")]
pub struct Password(String);

impl Password {
    /// Validates `s` and wraps it.
    pub fn new(s: impl Into<String>) -> Result<Self, InvalidInput> {
        let mut s = s.into();
        let len = s.len();
        if !(PASSWORD_MIN_BYTES..=PASSWORD_MAX_BYTES).contains(&len) {
            s.zeroize();
            return Err(InvalidInput::PasswordLength { got: len });
        }
        Ok(Self(s))
    }

    /// The password bytes, for hashing.
    pub fn expose(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl TryFrom<String> for Password {
    type Error = InvalidInput;
    fn try_from(s: String) -> Result<Self, InvalidInput> {
        Self::new(s)
    }
}
impl From<Password> for String {
    fn from(p: Password) -> String {
        p.0.clone()
    }
}
impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// A client-chosen id for a message it sends, echoed in the ack so that a
/// client can de-duplicate after a reconnect: 1–64 printable ASCII characters.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClientMsgId(String);

impl ClientMsgId {
    /// Validates `s` and wraps it.
    pub fn new(s: impl Into<String>) -> Result<Self, InvalidInput> {
        let s = s.into();
        if s.is_empty() || s.len() > CLIENT_ID_MAX_LEN || !s.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(InvalidInput::ClientId);
        }
        Ok(Self(s))
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
impl TryFrom<String> for ClientMsgId {
    type Error = InvalidInput;
    fn try_from(s: String) -> Result<Self, InvalidInput> {
        Self::new(s)
    }
}
impl From<ClientMsgId> for String {
    fn from(t: ClientMsgId) -> String {
        t.0
    }
}
impl fmt::Debug for ClientMsgId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}
impl fmt::Display for ClientMsgId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where the next older page of a history starts, as the server said in
/// its last page: opaque to clients, who only send it back. Only its shape
/// is checked here (1–64 printable ASCII characters); whether it points
/// into the user's history is for the server to judge.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct HistoryCursor(String);

impl HistoryCursor {
    /// Validates `s` and wraps it.
    pub fn new(s: impl Into<String>) -> Result<Self, InvalidInput> {
        let s = s.into();
        if s.is_empty()
            || s.len() > HISTORY_CURSOR_MAX_LEN
            || !s.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(InvalidInput::Cursor);
        }
        Ok(Self(s))
    }

    /// The cursor as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
impl TryFrom<String> for HistoryCursor {
    type Error = InvalidInput;
    fn try_from(s: String) -> Result<Self, InvalidInput> {
        Self::new(s)
    }
}
impl From<HistoryCursor> for String {
    fn from(t: HistoryCursor) -> String {
        t.0
    }
}
impl fmt::Debug for HistoryCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// What a `search` looks for: 1 to [`SEARCH_TEXT_MAX_CHARS`] characters
/// with at least one visible one and no control characters. It matches a
/// message whose text contains it, ignoring case (both sides lowered with
/// Unicode's `to_lowercase`, so `ZOË` finds `zoë`).
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SearchText(String);

impl SearchText {
    /// Validates `s` and wraps it.
    pub fn new(s: impl Into<String>) -> Result<Self, InvalidInput> {
        let s = s.into();
        if !s.chars().any(crate::unicode::is_visible)
            || s.chars().count() > SEARCH_TEXT_MAX_CHARS
            || s.chars().any(char::is_control)
        {
            return Err(InvalidInput::SearchText);
        }
        Ok(Self(s))
    }

    /// The text as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The matcher for this text: lowered once, then compared with many
    /// messages.
    pub fn matcher(&self) -> SearchMatcher {
        SearchMatcher {
            needle: self.0.to_lowercase(),
        }
    }
}
impl TryFrom<String> for SearchText {
    type Error = InvalidInput;
    fn try_from(s: String) -> Result<Self, InvalidInput> {
        Self::new(s)
    }
}
impl From<SearchText> for String {
    fn from(t: SearchText) -> String {
        t.0
    }
}
impl fmt::Debug for SearchText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// A room's topic: 1 to [`TOPIC_MAX_CHARS`] characters on one line, with a
/// visible one, and no control or bidi control characters.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Topic(String);

impl Topic {
    /// Validates `s` and wraps it.
    pub fn new(s: impl Into<String>) -> Result<Self, InvalidInput> {
        let s = s.into();
        if !s.chars().any(crate::unicode::is_visible)
            || s.chars().count() > TOPIC_MAX_CHARS
            || s.chars()
                .any(|c| c.is_control() || crate::unicode::is_bidi_control(c))
        {
            return Err(InvalidInput::Topic);
        }
        Ok(Self(s))
    }

    /// The topic.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
impl TryFrom<String> for Topic {
    type Error = InvalidInput;
    fn try_from(s: String) -> Result<Self, InvalidInput> {
        Self::new(s)
    }
}
impl From<Topic> for String {
    fn from(t: Topic) -> String {
        t.0
    }
}
impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl fmt::Debug for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// A reaction: exactly one emoji of Unicode's list (`👍`, `🇿🇦`, `✌🏽`,
/// `👩‍👩‍👧`), at most [`EMOJI_MAX_BYTES`] bytes. Looked up in the `emojis`
/// crate's table of the Unicode emoji specification, so letters, text and
/// several emojis in a row are refused.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Emoji(String);

impl Emoji {
    /// Validates `s` and wraps it.
    pub fn new(s: impl Into<String>) -> Result<Self, InvalidInput> {
        let s = s.into();
        if s.len() > EMOJI_MAX_BYTES || emojis::get(&s).is_none() {
            return Err(InvalidInput::Emoji);
        }
        Ok(Self(s))
    }

    /// The emoji.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
impl TryFrom<String> for Emoji {
    type Error = InvalidInput;
    fn try_from(s: String) -> Result<Self, InvalidInput> {
        Self::new(s)
    }
}
impl From<Emoji> for String {
    fn from(e: Emoji) -> String {
        e.0
    }
}
impl fmt::Display for Emoji {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl fmt::Debug for Emoji {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// A [`SearchText`] lowered for matching; the server and the app use the
/// same one, so what the app highlights is what the server matched.
#[derive(Debug, Clone)]
pub struct SearchMatcher {
    needle: String,
}

impl SearchMatcher {
    /// Whether `text` contains the search, ignoring case.
    pub fn matches(&self, text: &str) -> bool {
        text.to_lowercase().contains(&self.needle)
    }

    /// Where in `text` (bytes of `text` itself, at character boundaries)
    /// the first match lies. Lowering may change a character's length in
    /// bytes (`İ` becomes two characters), so the match is looked for from
    /// each character of `text`, lowering as it goes, rather than mapped
    /// back from offsets in the lowered text.
    pub fn find(&self, text: &str) -> Option<std::ops::Range<usize>> {
        for (start, _) in text.char_indices() {
            let mut lowered = String::new();
            for (i, c) in text[start..].char_indices() {
                lowered.extend(c.to_lowercase());
                if !self.needle.starts_with(lowered.as_str()) {
                    break;
                }
                if lowered.len() == self.needle.len() {
                    return Some(start..start + i + c.len_utf8());
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests;
