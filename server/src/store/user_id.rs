//! [`UserId`]: what names an account on disk.

use cove_common::crypto::random_bytes;
use serde::{Deserialize, Serialize};

/// An opaque account id: 128 random bits as 32 lower-case hex digits. It
/// names the account's history file, so it is checked whenever it is parsed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UserId(String);

impl UserId {
    /// A fresh random id.
    pub fn generate() -> Self {
        let b: [u8; 16] = random_bytes();
        Self(b.iter().map(|x| format!("{x:02x}")).collect())
    }

    /// The id's text (safe as a file name).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for UserId {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        if s.len() == 32 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            Ok(Self(s))
        } else {
            Err("a user id must be 32 lower-case hex digits".into())
        }
    }
}

impl From<UserId> for String {
    fn from(id: UserId) -> String {
        id.0
    }
}
