//! [`HistoryReader`]: one user's history read with their history key, a
//! page at a time, newest first. It walks the file backwards from its last
//! whole frame, by the trailing length of each frame, so the newest page
//! costs the same however long the file is; a batch being written meanwhile
//! or a torn tail is left out, and anything else inconsistent is an error.

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use cove_common::crypto::EtmKey;
use cove_common::proto::{ChatMessage, MessageId};
use x25519_dalek::PublicKey;
use zeroize::Zeroizing;

use super::file::{Scan, scan};
use super::format::{
    BUNDLE_HEADER, HEAD, KIND_BUNDLE, KIND_RECORD, KIND_SEGMENT, MAX_BODY, RECORD_HEADER,
    RECORD_LABEL, SEGMENT_HEADER, TAIL, bundle_entries, known_kind, record_header,
    segment_seal_key,
};
use crate::credentials::HistorySecret;
use crate::store::StoreError;

/// Reads one user's history, newest first, with their history key.
pub struct HistoryReader<'a> {
    path: PathBuf,
    file: Option<File>,
    end: u64,
    secret: &'a HistorySecret,
}

impl<'a> HistoryReader<'a> {
    /// Opens a history for reading; a missing file is an empty history.
    pub fn open(path: &Path, secret: &'a HistorySecret) -> Result<HistoryReader<'a>, StoreError> {
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(HistoryReader {
                    path: path.to_path_buf(),
                    file: None,
                    end: 0,
                    secret,
                });
            }
            Err(e) => return Err(StoreError::io(path)(e)),
        };
        let end = Self::whole_frames_end(&file, path)?;
        Ok(HistoryReader {
            path: path.to_path_buf(),
            file: Some(file),
            end,
            secret,
        })
    }

    /// The end of the last whole frame. The tail is normally clean; a batch
    /// being written right now (or a torn one) makes it inconsistent, and
    /// then the frame headers are walked from the start.
    fn whole_frames_end(file: &File, path: &Path) -> Result<u64, StoreError> {
        let len = file.metadata().map_err(StoreError::io(path))?.len();
        if len == 0 {
            return Ok(0);
        }
        if len >= HEAD + TAIL {
            let mut tail = [0u8; 4];
            file.read_exact_at(&mut tail, len - TAIL)
                .map_err(StoreError::io(path))?;
            let body = u64::from(u32::from_be_bytes(tail));
            if body <= MAX_BODY && len >= HEAD + body + TAIL {
                let start = len - HEAD - body - TAIL;
                let mut head = [0u8; HEAD as usize];
                file.read_exact_at(&mut head, start)
                    .map_err(StoreError::io(path))?;
                let hl = u64::from(u32::from_be_bytes([head[1], head[2], head[3], head[4]]));
                if known_kind(head[0]) && hl == body {
                    return Ok(len);
                }
            }
        }
        match scan(file, path)? {
            Scan::Clean(end) | Scan::Torn(end) => Ok(end),
            Scan::Corrupt(at) => Err(StoreError::corrupt(
                path,
                format!("bad frame at offset {at}"),
            )),
        }
    }

    fn frame_before(&self, file: &File, end: u64) -> Result<(u64, u8, Vec<u8>), StoreError> {
        let bad =
            |what: &str| StoreError::corrupt(&self.path, format!("{what} before offset {end}"));
        if end < HEAD + TAIL {
            return Err(bad("truncated frame"));
        }
        let mut tail = [0u8; 4];
        file.read_exact_at(&mut tail, end - TAIL)
            .map_err(StoreError::io(&self.path))?;
        let len = u64::from(u32::from_be_bytes(tail));
        if len > MAX_BODY || end < HEAD + len + TAIL {
            return Err(bad("bad frame length"));
        }
        let start = end - HEAD - len - TAIL;
        let mut frame = vec![0u8; (HEAD + len) as usize];
        file.read_exact_at(&mut frame, start)
            .map_err(StoreError::io(&self.path))?;
        let hl = u64::from(u32::from_be_bytes([frame[1], frame[2], frame[3], frame[4]]));
        if hl != len || !known_kind(frame[0]) {
            return Err(bad("inconsistent frame"));
        }
        let kind = frame[0];
        frame.drain(..HEAD as usize);
        Ok((start, kind, frame))
    }

    fn segment_key(&self, file: &File, offset: u64) -> Result<EtmKey, StoreError> {
        let mut head = [0u8; HEAD as usize];
        file.read_exact_at(&mut head, offset)
            .map_err(StoreError::io(&self.path))?;
        let len = u64::from(u32::from_be_bytes([head[1], head[2], head[3], head[4]]));
        if head[0] != KIND_SEGMENT || !(32..=MAX_BODY).contains(&len) {
            return Err(StoreError::corrupt(
                &self.path,
                format!("no segment at offset {offset}"),
            ));
        }
        let mut body = vec![0u8; len as usize];
        file.read_exact_at(&mut body, offset + HEAD)
            .map_err(StoreError::io(&self.path))?;
        let mut e_pub = [0u8; 32];
        e_pub.copy_from_slice(&body[..32]);
        let shared = Zeroizing::new(
            self.secret
                .secret()
                .diffie_hellman(&PublicKey::from(e_pub))
                .to_bytes(),
        );
        let data_key = segment_seal_key(&shared, &e_pub, &self.secret.public())
            .open(SEGMENT_HEADER, &body[32..])
            .map_err(|_| StoreError::Tampered {
                path: self.path.clone(),
            })?;
        let data_key = Zeroizing::new(data_key);
        Ok(EtmKey::derive(&data_key, b"", RECORD_LABEL))
    }

    /// Up to `limit` entries accepted by `filter` with ids below `before`
    /// (all if `None`), newest first, and whether older ones remain. Reads
    /// backwards from the end and stops as soon as the page is full.
    pub fn page(
        &self,
        before: Option<MessageId>,
        limit: usize,
        filter: impl Fn(&ChatMessage) -> bool,
    ) -> Result<(Vec<ChatMessage>, bool), StoreError> {
        let Some(file) = &self.file else {
            return Ok((Vec::new(), false));
        };
        let mut keys: HashMap<u64, EtmKey> = HashMap::new();
        let mut out = Vec::new();
        let mut end = self.end;
        while end > 0 {
            let (start, kind, mut body) = self.frame_before(file, end)?;
            end = start;
            let label = match kind {
                KIND_BUNDLE => BUNDLE_HEADER,
                KIND_RECORD => RECORD_HEADER,
                _ => continue,
            };
            if body.len() < 8 {
                return Err(StoreError::corrupt(
                    &self.path,
                    format!("short record at {start}"),
                ));
            }
            let seg = u64::from_be_bytes(body[..8].try_into().unwrap_or_default());
            if seg >= start {
                return Err(StoreError::corrupt(
                    &self.path,
                    format!("bad segment link at {start}"),
                ));
            }
            let key = match keys.entry(seg) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(self.segment_key(file, seg)?)
                }
            };
            let plain = key
                .open_in_place(&record_header(label, seg, start), &mut body[8..])
                .map_err(|_| StoreError::Tampered {
                    path: self.path.clone(),
                })?;
            let entries = if kind == KIND_RECORD {
                vec![&plain[..]]
            } else {
                bundle_entries(plain).ok_or_else(|| {
                    StoreError::corrupt(&self.path, format!("bad bundle at {start}"))
                })?
            };
            for entry in entries.into_iter().rev() {
                let msg: ChatMessage = serde_json::from_slice(entry).map_err(|e| {
                    StoreError::corrupt(&self.path, format!("record at {start}: {e}"))
                })?;
                if before.is_some_and(|b| msg.id >= b) || !filter(&msg) {
                    continue;
                }
                if out.len() == limit {
                    return Ok((out, true));
                }
                out.push(msg);
            }
        }
        Ok((out, false))
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
        let (page, more) = r.page(None, 3, |_| true).unwrap();
        assert_eq!(texts(&page), ["m23", "m22", "m21"]);
        assert!(more);
        let (page, more) = r.page(Some(21), 100, |_| true).unwrap();
        assert_eq!(
            texts(&page),
            ["m20", "m13", "m12", "m11", "m10", "m3", "m2", "m1", "m0"]
        );
        assert!(!more);
        let (page, _) = r
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
        assert!(matches!(
            r.page(None, 10, |_| true),
            Err(StoreError::Tampered { .. })
        ));
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
            let (page, _) = r.page(None, 10, |_| true).unwrap();
            page.iter()
                .map(|m| m.text.as_str().to_owned())
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
        assert!(matches!(
            r.page(None, 10, |_| true),
            Err(StoreError::Tampered { .. })
        ));
    }

    #[test]
    fn flipped_byte_in_a_record_is_detected() {
        let (_d, path, secret) = setup();
        let mut f = HistoryFile::open_append(&path, secret.public()).unwrap();
        f.append(&[&msg(1, "room", "one"), &msg(2, "room", "two")])
            .unwrap();
        drop(f);
        let mut raw = std::fs::read(&path).unwrap();
        let n = raw.len();
        raw[n - 20] ^= 1; // inside the last record's tag
        std::fs::write(&path, &raw).unwrap();
        let r = HistoryReader::open(&path, &secret).unwrap();
        assert!(matches!(
            r.page(None, 10, |_| true),
            Err(StoreError::Tampered { .. })
        ));
    }
}
