//! [`HistoryReader::scan`]: every entry of a file, newest first, until a
//! budget of bytes read. A changes file (edits, deletions, reactions) is
//! read this way, whole, once per login: it is small next to the history,
//! and every page needs all of it.

use serde::de::DeserializeOwned;

use super::format::holds_entries;
use super::reader::{Backwards, HistoryReader, SegmentKeys, WalkItem};
use crate::store::StoreError;

/// What a scan read.
#[derive(Debug)]
pub struct Scan<T> {
    /// The entries, newest first.
    pub entries: Vec<T>,
    /// Damaged frames stepped over.
    pub unreadable: u32,
    /// Whether the budget ran out before the start of the file.
    pub cut: bool,
}

impl HistoryReader<'_> {
    /// Every entry, newest first, as `T`, reading at most about `budget`
    /// bytes (whole frames: the frame that passes it is the last read).
    /// Damaged frames are stepped over and counted, as pages do.
    pub fn scan<T: DeserializeOwned>(&self, budget: u64) -> Result<Scan<T>, StoreError> {
        let mut scan = Scan {
            entries: Vec::new(),
            unreadable: 0,
            cut: false,
        };
        let Some(file) = &self.file else {
            return Ok(scan);
        };
        let read_before = self.bytes_read();
        let mut keys = SegmentKeys::new();
        let mut items = Backwards::new(self, file, self.end);
        while let Some(item) = items.next()? {
            if self.bytes_read() - read_before >= budget {
                scan.cut = true;
                break;
            }
            let WalkItem::Frame {
                start,
                kind,
                mut body,
            } = item
            else {
                scan.unreadable += 1;
                continue;
            };
            if !holds_entries(kind) {
                continue;
            }
            match self.open_frame::<T>(file, &mut keys, start, kind, &mut body)? {
                Some(entries) => scan.entries.extend(entries.into_iter().rev()),
                None => scan.unreadable += 1,
            }
        }
        Ok(scan)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::super::test_support::{frames, setup};
    use super::*;
    use crate::store::history::HistoryFile;

    #[test]
    fn scans_every_entry_newest_first_and_stops_at_the_budget() {
        let (_dir, path, secret) = setup();
        let mut f = HistoryFile::open_append(&path, secret.public()).unwrap();
        for i in 0..30u32 {
            let entry = serde_json::to_vec(&i).unwrap();
            f.append(&[&entry[..]]).unwrap();
        }
        drop(f);
        let r = HistoryReader::open(&path, &secret).unwrap();
        let all: Scan<u32> = r.scan(u64::MAX).unwrap();
        assert_eq!(all.entries, (0..30).rev().collect::<Vec<_>>());
        assert!(!all.cut);
        assert_eq!(all.unreadable, 0);
        // A budget of a few frames reads the newest entries only.
        let frame_len = frames(&path).last().unwrap().1 as u64;
        let some: Scan<u32> = HistoryReader::open(&path, &secret)
            .unwrap()
            .scan(frame_len * 3)
            .unwrap();
        assert!(some.cut);
        assert!(some.entries.len() < 30 && !some.entries.is_empty());
        assert_eq!(some.entries[0], 29);
    }
}
