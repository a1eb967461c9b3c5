//! Where a history page starts and stops: [`Cursor`], a place in one
//! user's history file, and [`PageQuery`], what one page may hold and read.
//!
//! A cursor names a bundle (or record) frame by its offset and how many of
//! its entries, oldest first, are still to be read. It needs no signature
//! of its own: a frame's MAC covers its own offset (see [`super::format`]),
//! so the reader checks a cursor by opening the frame it names, and a
//! cursor that was forged, altered, taken from another user's file or made
//! stale by damage names no frame that opens under this user's key at that
//! offset: it is refused ([`ReadError::BadCursor`]), never followed.

use cove_common::proto::MessageId;

use crate::store::StoreError;

/// Bytes of frames one page reads at most (plus the one frame that crosses
/// the line, and until it has opened one frame, so every page moves on).
/// A page of a quiet conversation inside a busy history would otherwise
/// decrypt the whole file to fill itself; with the budget it stops and says
/// where to go on. 1 MiB is about sixteen full bundles (each of
/// `BUNDLE_TARGET`, 64 KiB): several pages of the longest messages, a few
/// milliseconds of AES and HMAC, and small beside the 16 reads the hub runs
/// at once.
pub const PAGE_READ_BUDGET: u64 = 1 << 20;

/// A place in a history file: the entries of the frame at `offset` whose
/// index (oldest first) is below `next`, then every frame before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// The frame's offset in the file (of its kind byte).
    pub offset: u64,
    /// How many of its entries, oldest first, remain to be read.
    pub next: u32,
}

/// Length of an encoded cursor: 16 hex digits of offset, 8 of `next`.
const ENCODED_LEN: usize = 24;

impl Cursor {
    /// The cursor as sent to clients: 24 lower-case hex digits. Clients
    /// treat it as opaque; the server may change its shape with the
    /// protocol version.
    pub fn encode(&self) -> String {
        format!("{:016x}{:08x}", self.offset, self.next)
    }

    /// Reads a cursor in the shape [`Cursor::encode`] makes; `None` for
    /// anything else (which is then refused as a bad cursor).
    pub fn decode(s: &str) -> Option<Cursor> {
        if s.len() != ENCODED_LEN || !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return None;
        }
        let offset = u64::from_str_radix(s.get(..16)?, 16).ok()?;
        let next = u32::from_str_radix(s.get(16..)?, 16).ok()?;
        Some(Cursor { offset, next })
    }
}

/// What one page asks for.
#[derive(Debug, Clone, Copy)]
pub struct PageQuery {
    /// Where to start: `None` for the newest message.
    pub from: Option<Cursor>,
    /// Only messages with an id below this one.
    pub before: Option<MessageId>,
    /// Most messages.
    pub limit: usize,
    /// Most bytes of messages (their JSON, with a separator each). The
    /// first message is always taken, whatever its size, so a page always
    /// moves on (no message comes near the protocol's page size).
    pub max_bytes: usize,
    /// Most bytes of frames read (see [`PAGE_READ_BUDGET`]).
    pub budget: u64,
}

impl PageQuery {
    /// The newest `limit` messages below `before`, with no bound on their
    /// size or on what is read: for tools and tests that want a whole
    /// history at once. Requests from clients are bounded (see
    /// [`PAGE_READ_BUDGET`]).
    pub fn newest(before: Option<MessageId>, limit: usize) -> PageQuery {
        PageQuery {
            from: None,
            before,
            limit,
            max_bytes: usize::MAX,
            budget: u64::MAX,
        }
    }
}

/// Why a page could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The disk refused a read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The cursor names no frame of this history that opens under the
    /// user's key at that offset, or more entries than that frame holds.
    #[error("the cursor does not point at a readable place in this history")]
    BadCursor,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_read_back_and_nothing_else_reads() {
        for c in [
            Cursor { offset: 0, next: 0 },
            Cursor {
                offset: 0x1a2b_3c4d,
                next: 7,
            },
            Cursor {
                offset: u64::MAX,
                next: u32::MAX,
            },
        ] {
            assert_eq!(Cursor::decode(&c.encode()), Some(c));
        }
        for bad in [
            "",
            "00000000000000100000000",
            "0000000000000010000000000",
            "00000000000000A000000000",
            "+00000000000001000000000",
            "0000000000000010 0000000",
        ] {
            assert_eq!(Cursor::decode(bad), None, "{bad:?}");
        }
    }
}
