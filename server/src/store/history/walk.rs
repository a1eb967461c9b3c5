//! Walking a history file's frame headers from the start: where its whole
//! frames are, where damage lies (stepped over to the next consistent
//! frame) and whether a write cut short left a torn tail. Opening a file
//! for appending and the reader (stepping over damage) both walk.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::format::{HEAD, MAX_BODY, TAIL, known_kind};
use crate::store::StoreError;

/// A whole, consistent frame found by walking a file.
#[derive(Debug, Clone, Copy)]
pub(super) struct FrameAt {
    /// Offset of its kind byte.
    pub(super) start: u64,
    /// Its kind.
    pub(super) kind: u8,
    /// Its body's length.
    pub(super) len: u64,
}

/// What walking a file's frames from the start found.
#[derive(Debug, Default)]
pub(super) struct Walk {
    /// Where the whole frames (and any damaged stretch between or after
    /// them) end: appends go here.
    pub(super) end: u64,
    /// Whether a partial frame, left by a write cut short, follows `end`.
    pub(super) torn: bool,
    /// Stretches `[from, to)` whose frames are damaged, stepped over.
    pub(super) damaged: Vec<(u64, u64)>,
    /// The whole frames, oldest first (only when asked for).
    pub(super) frames: Vec<FrameAt>,
}

/// Walks frame headers from the start up to `upto` (bodies are skipped, not
/// read). A frame whose lengths or kind do not agree is damage, not the end:
/// the walk looks for the next consistent frame ([`next_frame`]) and goes
/// on from there, so damage costs the frames it touches and nothing after.
/// Only a partial frame at the very end, which a crash can leave, counts as
/// torn.
pub(super) fn walk(
    file: &File,
    path: &Path,
    upto: u64,
    keep_frames: bool,
) -> Result<Walk, StoreError> {
    let mut w = Walk::default();
    let mut pos = 0u64;
    let mut head = [0u8; HEAD as usize];
    let mut tail = [0u8; TAIL as usize];
    while pos < upto {
        if upto - pos < HEAD {
            w.torn = true;
            break;
        }
        file.read_exact_at(&mut head, pos)
            .map_err(StoreError::read(path))?;
        let kind = head[0];
        let len = u64::from(u32::from_be_bytes([head[1], head[2], head[3], head[4]]));
        if known_kind(kind) && len <= MAX_BODY {
            let end = pos + HEAD + len + TAIL;
            if end > upto && !ends_with_whole_frame(file, path, pos, upto)? {
                w.torn = true;
                break;
            }
            if end <= upto {
                file.read_exact_at(&mut tail, end - TAIL)
                    .map_err(StoreError::read(path))?;
                if u64::from(u32::from_be_bytes(tail)) == len {
                    if keep_frames {
                        w.frames.push(FrameAt {
                            start: pos,
                            kind,
                            len,
                        });
                    }
                    pos = end;
                    continue;
                }
            }
        }
        let next = next_frame(file, path, pos + 1, upto)?.unwrap_or(upto);
        w.damaged.push((pos, next));
        pos = next;
    }
    w.end = pos;
    Ok(w)
}

/// The first offset at or after `from` where a consistent frame starts
/// (known kind, equal leading and trailing lengths, wholly before `upto`).
/// A random stretch passes these checks by chance with odds of about one
/// in 2^38 per offset.
fn next_frame(file: &File, path: &Path, from: u64, upto: u64) -> Result<Option<u64>, StoreError> {
    const WINDOW: u64 = 1 << 20;
    let mut at = from;
    let mut buf = Vec::new();
    while at + HEAD + TAIL <= upto {
        let n = (upto - at).min(WINDOW + HEAD);
        buf.resize(n as usize, 0);
        file.read_exact_at(&mut buf, at)
            .map_err(StoreError::read(path))?;
        let candidates = (n.saturating_sub(HEAD - 1)).min(WINDOW);
        for i in 0..candidates {
            let p = at + i;
            let h = &buf[i as usize..];
            if !known_kind(h[0]) {
                continue;
            }
            let len = u64::from(u32::from_be_bytes([h[1], h[2], h[3], h[4]]));
            let end = p + HEAD + len + TAIL;
            if !(8..=MAX_BODY).contains(&len) || end > upto {
                continue;
            }
            let mut tail = [0u8; TAIL as usize];
            file.read_exact_at(&mut tail, end - TAIL)
                .map_err(StoreError::read(path))?;
            if u64::from(u32::from_be_bytes(tail)) == len {
                return Ok(Some(p));
            }
        }
        at += candidates.max(1);
    }
    Ok(None)
}

/// Whether the file ends with a whole frame starting at or after `pos`
/// (judged by its trailing length and kind byte). A crash cuts a write
/// short, so a torn tail never ends that way, except by a 2^-32 chance; a
/// frame whose leading length was altered does. Telling the two apart keeps
/// a flipped length byte from passing as a torn tail and being cut off.
fn ends_with_whole_frame(
    file: &File,
    path: &Path,
    pos: u64,
    file_len: u64,
) -> Result<bool, StoreError> {
    if file_len - pos < HEAD + TAIL {
        return Ok(false);
    }
    let mut tail = [0u8; TAIL as usize];
    file.read_exact_at(&mut tail, file_len - TAIL)
        .map_err(StoreError::read(path))?;
    let len = u64::from(u32::from_be_bytes(tail));
    if len > MAX_BODY || file_len - pos < HEAD + len + TAIL {
        return Ok(false);
    }
    let start = file_len - HEAD - len - TAIL;
    let mut kind = [0u8; 1];
    file.read_exact_at(&mut kind, start)
        .map_err(StoreError::read(path))?;
    Ok(known_kind(kind[0]))
}
