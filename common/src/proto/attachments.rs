//! Files and pictures (since v6): what names an upload and a stored file,
//! the key a file is sealed under, a file's name, and a chunk of its bytes
//! on the wire.
//!
//! A file travels in chunks of exactly [`FILE_CHUNK_BYTES`] (the last one
//! holds the rest), each one request or reply, so a transfer never holds
//! a connection for longer than one chunk and everything else keeps
//! flowing between chunks.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use crate::limits::{FILE_CHUNK_BYTES, FILE_NAME_MAX_BYTES};

/// Why a file's name, id, key or chunk was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttachmentInput {
    /// A file name that is empty, too long, has a control character, a
    /// bidi control, a `/` or `\`, or is `.` or `..`.
    #[error(
        "a file name must be 1 to {FILE_NAME_MAX_BYTES} bytes, without control characters, '/' or '\\', and not '.' or '..'"
    )]
    FileName,
    /// An upload or file id that is not 32 lower-case hex digits.
    #[error("an upload or file id must be 32 lower-case hex digits")]
    Id,
    /// A file key that is not 64 lower-case hex digits.
    #[error("a file key must be 64 lower-case hex digits")]
    Key,
    /// Chunk data that is not standard base64 (with padding).
    #[error("chunk data must be standard base64")]
    ChunkEncoding,
    /// Chunk data of more than [`FILE_CHUNK_BYTES`] bytes, or of none.
    #[error("a chunk holds 1 to {FILE_CHUNK_BYTES} bytes")]
    ChunkLength,
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

macro_rules! hex_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Validates `s` (32 lower-case hex digits) and wraps it.
            pub fn new(s: impl Into<String>) -> Result<Self, AttachmentInput> {
                let s = s.into();
                if is_hex(&s, 32) { Ok(Self(s)) } else { Err(AttachmentInput::Id) }
            }

            /// An id made of 16 random bytes.
            pub fn from_bytes(bytes: [u8; 16]) -> Self {
                Self(to_hex(&bytes))
            }

            /// The id's text: safe as a file name.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = AttachmentInput;
            fn try_from(s: String) -> Result<Self, AttachmentInput> {
                Self::new(s)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }
    };
}

hex_id!(
    /// An upload in progress, chosen by the server: 128 random bits as 32
    /// lower-case hex digits. It belongs to the user who started it, from
    /// any of their sessions.
    UploadId
);

hex_id!(
    /// A stored file, chosen by the server: 128 random bits as 32
    /// lower-case hex digits.
    FileId
);

/// The key a stored file is sealed under: 256 random bits, as 64
/// lower-case hex digits. The server keeps it nowhere but inside the
/// sealed history entries of the message that carries the file; whoever
/// holds it (and the file id) may download the file.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct FileKey(String);

impl FileKey {
    /// Validates `s` and wraps it.
    pub fn new(s: impl Into<String>) -> Result<Self, AttachmentInput> {
        let s = s.into();
        if is_hex(&s, 64) {
            Ok(Self(s))
        } else {
            Err(AttachmentInput::Key)
        }
    }

    /// The key of these bytes.
    pub fn from_bytes(bytes: &[u8; 32]) -> Self {
        Self(to_hex(bytes))
    }

    /// The key's bytes.
    pub fn to_bytes(&self) -> zeroize::Zeroizing<[u8; 32]> {
        let mut out = zeroize::Zeroizing::new([0u8; 32]);
        for (i, pair) in self.0.as_bytes().chunks_exact(2).enumerate() {
            // Checked to be lower-case hex when made.
            let digit = |b: u8| match b {
                b'0'..=b'9' => b - b'0',
                _ => b - b'a' + 10,
            };
            out[i] = (digit(pair[0]) << 4) | digit(pair[1]);
        }
        out
    }
}

impl TryFrom<String> for FileKey {
    type Error = AttachmentInput;
    fn try_from(s: String) -> Result<Self, AttachmentInput> {
        Self::new(s)
    }
}

impl From<FileKey> for String {
    fn from(k: FileKey) -> String {
        k.0
    }
}

impl fmt::Debug for FileKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FileKey(..)")
    }
}

/// A file's name as its sender gave it: 1 to [`FILE_NAME_MAX_BYTES`]
/// bytes of UTF-8, no control or bidi control characters, no `/` or `\`,
/// not `.` or `..`. Never a path on the server (files are stored under
/// their [`FileId`]); a client saving the file still asks its user where.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct FileName(String);

impl FileName {
    /// Validates `s` and wraps it.
    pub fn new(s: impl Into<String>) -> Result<Self, AttachmentInput> {
        let s = s.into();
        let bad = s.is_empty()
            || s.len() > FILE_NAME_MAX_BYTES
            || s == "."
            || s == ".."
            || s.chars().any(|c| {
                c.is_control() || c == '/' || c == '\\' || crate::unicode::is_bidi_control(c)
            });
        if bad {
            Err(AttachmentInput::FileName)
        } else {
            Ok(Self(s))
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for FileName {
    type Error = AttachmentInput;
    fn try_from(s: String) -> Result<Self, AttachmentInput> {
        Self::new(s)
    }
}

impl From<FileName> for String {
    fn from(n: FileName) -> String {
        n.0
    }
}

impl fmt::Display for FileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for FileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FileName({:?})", self.0)
    }
}

/// Bytes of a file on the wire: standard base64 with padding, 1 to
/// [`FILE_CHUNK_BYTES`] bytes once decoded (checked when parsed).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ChunkData(Vec<u8>);

impl ChunkData {
    /// Wraps 1 to [`FILE_CHUNK_BYTES`] bytes.
    pub fn new(bytes: Vec<u8>) -> Result<Self, AttachmentInput> {
        if bytes.is_empty() || bytes.len() > FILE_CHUNK_BYTES {
            return Err(AttachmentInput::ChunkLength);
        }
        Ok(Self(bytes))
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The bytes, owned.
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }
}

impl TryFrom<String> for ChunkData {
    type Error = AttachmentInput;
    fn try_from(s: String) -> Result<Self, AttachmentInput> {
        // Checked before decoding, so junk costs no allocation.
        if s.len() > FILE_CHUNK_BYTES.div_ceil(3) * 4 {
            return Err(AttachmentInput::ChunkLength);
        }
        let bytes = STANDARD
            .decode(s.as_bytes())
            .map_err(|_| AttachmentInput::ChunkEncoding)?;
        Self::new(bytes)
    }
}

impl From<ChunkData> for String {
    fn from(d: ChunkData) -> String {
        STANDARD.encode(d.0)
    }
}

impl fmt::Debug for ChunkData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChunkData({} bytes)", self.0.len())
    }
}

/// A file carried by a message (since v6): stored once on the server,
/// sealed under its own key, which travels only inside the message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// Where the server keeps it.
    pub id: FileId,
    /// Its name as sent.
    pub name: FileName,
    /// Its size in bytes.
    pub size: u64,
    /// The key to send back in `download`.
    pub key: FileKey,
}

/// How many chunks a file of `size` bytes travels in.
pub fn chunk_count(size: u64) -> u64 {
    size.div_ceil(FILE_CHUNK_BYTES as u64)
}

/// The length of the chunk at `offset` of a file of `size` bytes: a full
/// [`FILE_CHUNK_BYTES`] but for the last. `None` when `offset` is not the
/// start of a chunk inside the file.
pub fn chunk_len_at(size: u64, offset: u64) -> Option<usize> {
    let chunk = FILE_CHUNK_BYTES as u64;
    if offset >= size || !offset.is_multiple_of(chunk) {
        return None;
    }
    // At most FILE_CHUNK_BYTES, so it fits.
    usize::try_from((size - offset).min(chunk)).ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn names_that_could_be_paths_or_hide_text_are_refused() {
        for bad in [
            "",
            ".",
            "..",
            "a/b",
            "..\\x",
            "a\nb",
            "a\u{202e}gnp.exe",
            &"x".repeat(FILE_NAME_MAX_BYTES + 1),
        ] {
            assert_eq!(
                FileName::new(bad),
                Err(AttachmentInput::FileName),
                "{bad:?}"
            );
        }
        for good in [
            "worksheet.png",
            "..hidden",
            "Übung 3 (final).pdf",
            "写真.jpg",
        ] {
            assert_eq!(FileName::new(good).unwrap().as_str(), good);
        }
    }

    #[test]
    fn ids_and_keys_are_lower_case_hex_of_their_length() {
        assert!(FileId::new("0123456789abcdef0123456789abcdef").is_ok());
        assert!(FileId::new("0123456789ABCDEF0123456789abcdef").is_err());
        assert!(UploadId::new("0123456789abcdef").is_err());
        assert!(FileKey::new("ab".repeat(32)).is_ok());
        assert!(FileKey::new("ab".repeat(31)).is_err());
        let bytes: [u8; 32] = std::array::from_fn(|i| i as u8 * 7);
        assert_eq!(*FileKey::from_bytes(&bytes).to_bytes(), bytes);
    }

    #[test]
    fn chunk_data_is_base64_of_at_most_one_chunk() {
        let full = ChunkData::new(vec![7; FILE_CHUNK_BYTES]).unwrap();
        let text: String = full.clone().into();
        assert_eq!(ChunkData::try_from(text).unwrap(), full);
        let over = STANDARD.encode(vec![7; FILE_CHUNK_BYTES + 1]);
        assert_eq!(ChunkData::try_from(over), Err(AttachmentInput::ChunkLength));
        assert_eq!(
            ChunkData::try_from("not base64!".to_owned()),
            Err(AttachmentInput::ChunkEncoding)
        );
        assert_eq!(
            ChunkData::try_from(String::new()),
            Err(AttachmentInput::ChunkLength)
        );
    }

    #[test]
    fn chunks_start_at_multiples_of_the_chunk_size() {
        let c = FILE_CHUNK_BYTES as u64;
        assert_eq!(chunk_count(0), 0);
        assert_eq!(chunk_count(1), 1);
        assert_eq!(chunk_count(c), 1);
        assert_eq!(chunk_count(c + 1), 2);
        assert_eq!(chunk_len_at(c + 1, 0), Some(FILE_CHUNK_BYTES));
        assert_eq!(chunk_len_at(c + 1, c), Some(1));
        assert_eq!(chunk_len_at(c + 1, 1), None);
        assert_eq!(chunk_len_at(c + 1, 2 * c), None);
    }
}
