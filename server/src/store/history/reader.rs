//! [`HistoryReader`]: one user's history read with their history key, a
//! frame at a time. Pages are put together in [`super::paging`]; this
//! module opens the file, finds its last whole frame (a batch being written
//! meanwhile or a torn tail is left out), walks frames backwards by the
//! trailing length of each, so the newest page costs the same however long
//! the file is, opens them with the user's key, and counts every byte it
//! reads, which is what a page's budget is spent in.
//!
//! Damage stays local: a frame that fails its check (its MAC, its segment's
//! key, its lengths) is stepped over and counted in [`HistoryPage::unreadable`],
//! and reading carries on with the frames before it; where the lengths no
//! longer lead backwards, the frames are found again by walking forwards
//! from the start ([`walk`]). Only a failing read of the disk is an error.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use cove_common::crypto::EtmKey;
use cove_common::proto::ChatMessage;
use x25519_dalek::PublicKey;
use zeroize::Zeroizing;

use super::boxes::{BoxReader, boxes_dir};
use super::cursor::Cursor;
use super::format::{
    BUNDLE_HEADER, HEAD, KIND_BUNDLE, KIND_LINKED, KIND_RECORD, KIND_SEGMENT, KIND_SHARED,
    MAX_BODY, RECORD_HEADER, RECORD_LABEL, SEGMENT_HEADER, TAIL, bundle_entries, holds_entries,
    known_kind, open_box, open_link, open_shared, record_header, segment_seal_key,
};
use super::walk::{FrameAt, walk};
use crate::credentials::HistorySecret;
use crate::store::StoreError;

/// Reads one user's history, newest first, with their history key.
pub struct HistoryReader<'a> {
    pub(super) path: PathBuf,
    pub(super) file: Option<File>,
    pub(super) end: u64,
    secret: &'a HistorySecret,
    /// Bytes read from the file (and the boxes files) so far.
    read: Cell<u64>,
    /// The boxes files beside it, for linked bundles.
    boxes: RefCell<BoxReader>,
}

/// One page of a history.
#[derive(Debug, Default)]
pub struct HistoryPage {
    /// The messages, newest first.
    pub messages: Vec<ChatMessage>,
    /// Whether older messages may remain: also when the page stopped at its
    /// read budget, however few messages it holds.
    pub more: bool,
    /// Stored batches (each of one or more messages) in the stretch of the
    /// history this page covers that could not be read: damaged on disk.
    /// Counted once, in the page of the next older readable message (or in
    /// the page that stopped at its budget after stepping over them).
    pub unreadable: u32,
    /// Where the next older page starts, whenever `more` is set.
    pub cursor: Option<Cursor>,
    /// Bytes this page read from the file: what its budget limits. (The
    /// forward walk over frame headers that damage may need is not counted.)
    pub read: u64,
}

/// Caches each segment's key for the frames of one page: `None` for a
/// segment that does not open (damaged).
pub(super) type SegmentKeys = HashMap<u64, Option<EtmKey>>;

/// What walking backwards meets next.
pub(super) enum WalkItem {
    Frame { start: u64, kind: u8, body: Vec<u8> },
    Damaged { from: u64, to: u64 },
}

/// The frames before some offset, newest first, found by trailing lengths
/// while they agree and by a forward walk once they do not.
pub(super) struct Backwards<'r, 'a> {
    reader: &'r HistoryReader<'a>,
    file: &'r File,
    end: u64,
    /// Set once a forward walk was needed: what remains, oldest first.
    index: Option<Vec<Found>>,
}

enum Found {
    Frame(FrameAt),
    Damaged(u64, u64),
}

impl<'r, 'a> Backwards<'r, 'a> {
    /// The frames before `end`.
    pub(super) fn new(reader: &'r HistoryReader<'a>, file: &'r File, end: u64) -> Self {
        Backwards {
            reader,
            file,
            end,
            index: None,
        }
    }

    pub(super) fn next(&mut self) -> Result<Option<WalkItem>, StoreError> {
        if let Some(index) = &mut self.index {
            return match index.pop() {
                None => Ok(None),
                Some(Found::Damaged(from, to)) => Ok(Some(WalkItem::Damaged { from, to })),
                Some(Found::Frame(f)) => {
                    let mut body = vec![0u8; f.len as usize];
                    self.reader.read_at(self.file, &mut body, f.start + HEAD)?;
                    Ok(Some(WalkItem::Frame {
                        start: f.start,
                        kind: f.kind,
                        body,
                    }))
                }
            };
        }
        if self.end == 0 {
            return Ok(None);
        }
        if let Some((start, kind, body)) = self.reader.frame_before(self.file, self.end)? {
            self.end = start;
            return Ok(Some(WalkItem::Frame { start, kind, body }));
        }
        // The lengths no longer agree: find the frames before `end` from the
        // start, stepping over what is damaged.
        let w = walk(self.file, &self.reader.path, self.end, true)?;
        let mut index: Vec<Found> = Vec::with_capacity(w.frames.len() + w.damaged.len());
        let (mut frames, mut damaged) = (
            w.frames.into_iter().peekable(),
            w.damaged.into_iter().peekable(),
        );
        loop {
            let take_frame = match (frames.peek(), damaged.peek()) {
                (Some(f), Some(d)) => f.start < d.0,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => break,
            };
            if take_frame {
                index.extend(frames.next().map(Found::Frame));
            } else {
                index.extend(damaged.next().map(|(a, b)| Found::Damaged(a, b)));
            }
        }
        if w.end < self.end {
            // A partial frame at the end of what was asked for.
            index.push(Found::Damaged(w.end, self.end));
        }
        self.index = Some(index);
        self.next()
    }
}

impl<'a> HistoryReader<'a> {
    /// Opens a history for reading; a missing file is an empty history.
    pub fn open(path: &Path, secret: &'a HistorySecret) -> Result<HistoryReader<'a>, StoreError> {
        let boxes = RefCell::new(BoxReader::new(boxes_dir(
            path.parent().unwrap_or(Path::new(".")),
        )));
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(HistoryReader {
                    path: path.to_path_buf(),
                    file: None,
                    end: 0,
                    secret,
                    read: Cell::new(0),
                    boxes,
                });
            }
            Err(e) => return Err(StoreError::read(path)(e)),
        };
        let end = Self::whole_frames_end(&file, path)?;
        Ok(HistoryReader {
            path: path.to_path_buf(),
            file: Some(file),
            end,
            secret,
            read: Cell::new(0),
            boxes,
        })
    }

    /// Bytes read from the file since it was opened.
    pub(super) fn bytes_read(&self) -> u64 {
        self.read.get()
    }

    /// Reads `buf.len()` bytes at `offset`, counting them.
    fn read_at(&self, file: &File, buf: &mut [u8], offset: u64) -> Result<(), StoreError> {
        file.read_exact_at(buf, offset)
            .map_err(StoreError::read(&self.path))?;
        self.read.set(self.read.get() + buf.len() as u64);
        Ok(())
    }

    /// The end of the last whole frame. The tail is normally clean; a batch
    /// being written right now (or a torn one) makes it inconsistent, and
    /// then the frame headers are walked from the start.
    fn whole_frames_end(file: &File, path: &Path) -> Result<u64, StoreError> {
        let len = file.metadata().map_err(StoreError::read(path))?.len();
        if len == 0 {
            return Ok(0);
        }
        if len >= HEAD + TAIL {
            let mut tail = [0u8; 4];
            file.read_exact_at(&mut tail, len - TAIL)
                .map_err(StoreError::read(path))?;
            let body = u64::from(u32::from_be_bytes(tail));
            if body <= MAX_BODY && len >= HEAD + body + TAIL {
                let start = len - HEAD - body - TAIL;
                let mut head = [0u8; HEAD as usize];
                file.read_exact_at(&mut head, start)
                    .map_err(StoreError::read(path))?;
                let hl = u64::from(u32::from_be_bytes([head[1], head[2], head[3], head[4]]));
                if known_kind(head[0]) && hl == body {
                    return Ok(len);
                }
            }
        }
        Ok(walk(file, path, len, false)?.end)
    }

    /// The frame ending at `end`, if its lengths and kind agree.
    fn frame_before(
        &self,
        file: &File,
        end: u64,
    ) -> Result<Option<(u64, u8, Vec<u8>)>, StoreError> {
        if end < HEAD + TAIL {
            return Ok(None);
        }
        let mut tail = [0u8; 4];
        self.read_at(file, &mut tail, end - TAIL)?;
        let len = u64::from(u32::from_be_bytes(tail));
        if len > MAX_BODY || end < HEAD + len + TAIL {
            return Ok(None);
        }
        let start = end - HEAD - len - TAIL;
        let mut frame = vec![0u8; (HEAD + len) as usize];
        self.read_at(file, &mut frame, start)?;
        let hl = u64::from(u32::from_be_bytes([frame[1], frame[2], frame[3], frame[4]]));
        if hl != len || !known_kind(frame[0]) {
            return Ok(None);
        }
        let kind = frame[0];
        frame.drain(..HEAD as usize);
        Ok(Some((start, kind, frame)))
    }

    /// The bundle or record frame starting exactly at `offset`, if its kind
    /// and lengths agree and it lies wholly before the end: what a cursor
    /// names. Whether it opens is [`HistoryReader::open_frame`]'s question.
    pub(super) fn frame_at(
        &self,
        file: &File,
        offset: u64,
    ) -> Result<Option<(u8, Vec<u8>)>, StoreError> {
        if offset.checked_add(HEAD + TAIL).is_none_or(|e| e > self.end) {
            return Ok(None);
        }
        let mut head = [0u8; HEAD as usize];
        self.read_at(file, &mut head, offset)?;
        let len = u64::from(u32::from_be_bytes([head[1], head[2], head[3], head[4]]));
        if !holds_entries(head[0]) || len > MAX_BODY || offset + HEAD + len + TAIL > self.end {
            return Ok(None);
        }
        let mut body = vec![0u8; (len + TAIL) as usize];
        self.read_at(file, &mut body, offset + HEAD)?;
        let tail = body.split_off(len as usize);
        if tail != (len as u32).to_be_bytes() {
            return Ok(None);
        }
        Ok(Some((head[0], body)))
    }

    /// The key of the segment at `offset`, or `None` if that frame is not
    /// a segment this user's key opens (damaged).
    fn segment_key(&self, file: &File, offset: u64) -> Result<Option<EtmKey>, StoreError> {
        if offset + HEAD > self.end {
            return Ok(None);
        }
        let mut head = [0u8; HEAD as usize];
        self.read_at(file, &mut head, offset)?;
        let len = u64::from(u32::from_be_bytes([head[1], head[2], head[3], head[4]]));
        if head[0] != KIND_SEGMENT
            || !(32..=MAX_BODY).contains(&len)
            || offset + HEAD + len + TAIL > self.end
        {
            return Ok(None);
        }
        let mut body = vec![0u8; len as usize];
        self.read_at(file, &mut body, offset + HEAD)?;
        let mut e_pub = [0u8; 32];
        e_pub.copy_from_slice(&body[..32]);
        let shared = Zeroizing::new(
            self.secret
                .secret()
                .diffie_hellman(&PublicKey::from(e_pub))
                .to_bytes(),
        );
        let Ok(data_key) = segment_seal_key(&shared, &e_pub, &self.secret.public())
            .open(SEGMENT_HEADER, &body[32..])
        else {
            return Ok(None);
        };
        let data_key = Zeroizing::new(data_key);
        Ok(Some(EtmKey::derive(&data_key, b"", RECORD_LABEL)))
    }

    /// The entries of one bundle or record frame, oldest first, or `None`
    /// if it cannot be read (damaged). The MAC covers `start`, so a frame
    /// opens only at the offset it was written at. Entries are
    /// [`ChatMessage`]s in a history file and
    /// [`Change`](cove_common::proto::Change)s in a changes file.
    pub(super) fn open_frame<T: serde::de::DeserializeOwned>(
        &self,
        file: &File,
        keys: &mut SegmentKeys,
        start: u64,
        kind: u8,
        body: &mut [u8],
    ) -> Result<Option<Vec<T>>, StoreError> {
        let label = if kind == KIND_BUNDLE {
            BUNDLE_HEADER
        } else {
            RECORD_HEADER
        };
        if body.len() < 8 {
            return Ok(None);
        }
        let seg = u64::from_be_bytes(body[..8].try_into().unwrap_or_default());
        if seg >= start {
            return Ok(None);
        }
        let key = match keys.get(&seg) {
            Some(k) => k,
            None => {
                let k = self.segment_key(file, seg)?;
                keys.entry(seg).or_insert(k)
            }
        };
        let Some(key) = key else {
            return Ok(None);
        };
        let mut linked: Vec<u8>;
        let plain = if kind == KIND_LINKED {
            let Some((inner, at, tag)) = open_link(key, seg, start, &mut body[8..]) else {
                return Ok(None);
            };
            let Some(sealed) = self.boxes.borrow_mut().read(at)? else {
                tracing::error!(path = %self.path.display(), offset = start, file = at.file,
                    box_offset = at.offset, "a linked box is missing from its boxes file");
                return Ok(None);
            };
            self.read.set(self.read.get() + sealed.len() as u64);
            linked = sealed;
            if !linked.ends_with(&tag) {
                return Ok(None);
            }
            match open_box(&inner, &mut linked) {
                Some(p) => p,
                None => return Ok(None),
            }
        } else if kind == KIND_SHARED {
            match open_shared(key, seg, start, &mut body[8..]) {
                Some(p) => p,
                None => return Ok(None),
            }
        } else {
            match key.open_in_place(&record_header(label, seg, start), &mut body[8..]) {
                Ok(p) => &*p,
                Err(_) => return Ok(None),
            }
        };
        let entries = if kind == KIND_RECORD {
            vec![plain]
        } else {
            match bundle_entries(plain) {
                Some(e) => e,
                None => return Ok(None),
            }
        };
        let msgs: Result<Vec<T>, _> = entries.iter().map(|e| serde_json::from_slice(e)).collect();
        Ok(msgs.ok())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::super::test_support::{frames, msg, setup, texts};
    use super::*;
    use crate::store::history::HistoryFile;
    use cove_common::RoomName;
    use cove_common::crypto::random_bytes;
    use cove_common::proto::Target;

    #[test]
    fn pages_newest_first_across_segments() {
        let (_d, path, secret) = setup();
        for round in 0..3u64 {
            let mut f = HistoryFile::open_append(&path, secret.public()).unwrap();
            let entries: Vec<Vec<u8>> = (0..4)
                .map(|i| {
                    let id = round * 10 + i;
                    msg(
                        id,
                        if i % 2 == 0 { "even" } else { "odd" },
                        &format!("m{id}"),
                    )
                })
                .collect();
            let refs: Vec<&[u8]> = entries.iter().map(|e| &e[..]).collect();
            f.append(&refs).unwrap();
        }
        let r = HistoryReader::open(&path, &secret).unwrap();
        let HistoryPage {
            messages: page,
            more,
            ..
        } = r.page(None, 3, |_| true).unwrap();
        assert_eq!(texts(&page), ["m23", "m22", "m21"]);
        assert!(more);
        let HistoryPage {
            messages: page,
            more,
            ..
        } = r.page(Some(21), 100, |_| true).unwrap();
        assert_eq!(
            texts(&page),
            ["m20", "m13", "m12", "m11", "m10", "m3", "m2", "m1", "m0"]
        );
        assert!(!more);
        let HistoryPage { messages: page, .. } = r
            .page(None, 100, |m| {
                m.to == Target::Room(RoomName::new("odd").unwrap())
            })
            .unwrap();
        assert_eq!(texts(&page), ["m23", "m21", "m13", "m11", "m3", "m1"]);
    }

    #[test]
    fn a_bundle_relabelled_as_a_single_record_is_refused() {
        let (_d, path, secret) = setup();
        let mut f = HistoryFile::open_append(&path, secret.public()).unwrap();
        f.append(&[&msg(1, "room", "one")]).unwrap();
        drop(f);
        let mut bytes = std::fs::read(&path).unwrap();
        let at = 5 + frames(&path)[0].1 + 4;
        assert_eq!(bytes[at], KIND_BUNDLE);
        bytes[at] = KIND_RECORD;
        std::fs::write(&path, &bytes).unwrap();
        let r = HistoryReader::open(&path, &secret).unwrap();
        let page = r.page(None, 10, |_| true).unwrap();
        assert!(page.messages.is_empty());
        assert_eq!(page.unreadable, 1);
    }

    /// A file written before bundles, one record frame per entry (made by
    /// the writer of 2026-11-23 with the history key `[5; 32]`), is read and
    /// appended to.
    #[test]
    fn files_of_single_records_are_still_read_and_appended_to() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("u.hist");
        let fixture =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/history-v1-single-records.hist");
        std::fs::copy(fixture, &path).unwrap();
        let kinds: Vec<u8> = frames(&path).into_iter().map(|f| f.0).collect();
        assert_eq!(
            kinds,
            [
                KIND_SEGMENT,
                KIND_RECORD,
                KIND_RECORD,
                KIND_RECORD,
                KIND_SEGMENT,
                KIND_RECORD
            ]
        );
        let secret = HistorySecret::from_bytes([5; 32]);
        let read = || {
            let r = HistoryReader::open(&path, &secret).unwrap();
            let HistoryPage { messages: page, .. } = r.page(None, 10, |_| true).unwrap();
            page.iter()
                .map(|m| m.text_str().to_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(read(), ["four", "three", "two", "one"]);
        let mut f = HistoryFile::open_append(&path, secret.public()).unwrap();
        f.append(&[&msg(5, "general", "five")]).unwrap();
        drop(f);
        assert_eq!(read(), ["five", "four", "three", "two", "one"]);
    }

    #[test]
    fn no_plaintext_and_wrong_key_cannot_read() {
        let (_d, path, secret) = setup();
        let mut f = HistoryFile::open_append(&path, secret.public()).unwrap();
        f.append(&[&msg(1, "walruses", "the axolotl sings")])
            .unwrap();
        let raw = std::fs::read(&path).unwrap();
        let text = String::from_utf8_lossy(&raw);
        assert!(!text.contains("axolotl") && !text.contains("walruses") && !text.contains("alice"));
        let other = HistorySecret::from_bytes(random_bytes());
        let r = HistoryReader::open(&path, &other).unwrap();
        let page = r.page(None, 10, |_| true).unwrap();
        assert!(page.messages.is_empty(), "nothing opens under another key");
        assert_eq!(page.unreadable, 1);
    }

    #[test]
    fn a_flipped_byte_costs_its_bundle_only() {
        let (_d, path, secret) = setup();
        let mut f = HistoryFile::open_append(&path, secret.public()).unwrap();
        f.append(&[&msg(1, "room", "one"), &msg(2, "room", "two")])
            .unwrap();
        f.append(&[&msg(3, "room", "three")]).unwrap();
        f.append(&[&msg(4, "room", "four")]).unwrap();
        drop(f);
        let mut raw = std::fs::read(&path).unwrap();
        // Inside the tag of the middle bundle ("three").
        let sizes = frames(&path);
        let middle_end: usize = sizes[..3].iter().map(|(_, n)| 5 + n + 4).sum();
        raw[middle_end - 20] ^= 1;
        std::fs::write(&path, &raw).unwrap();
        let r = HistoryReader::open(&path, &secret).unwrap();
        let page = r.page(None, 10, |_| true).unwrap();
        assert_eq!(texts(&page.messages), ["four", "two", "one"]);
        assert_eq!(page.unreadable, 1);
        // Paging: the damage is counted once, in the page of the next older
        // message.
        let first = r.page(None, 1, |_| true).unwrap();
        assert_eq!(
            (texts(&first.messages), first.unreadable),
            (vec!["four"], 0)
        );
        let second = r.page(Some(4), 1, |_| true).unwrap();
        assert_eq!(
            (texts(&second.messages), second.unreadable),
            (vec!["two"], 1)
        );
        let third = r.page(Some(2), 5, |_| true).unwrap();
        assert_eq!((texts(&third.messages), third.unreadable), (vec!["one"], 0));
    }
}
