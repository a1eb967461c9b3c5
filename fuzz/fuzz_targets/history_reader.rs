//! The history reader and the torn-tail scan on arbitrary file contents,
//! read as a changes file too, and paging by cursor: a cursor forged from the input's first bytes and
//! the cursors the pages hand back. An input starting with `BOX` and a
//! 4-byte length carries a boxes file (the boxes linked bundles name)
//! before the history: `BOX || len || boxes || history`.
#![no_main]

use std::sync::OnceLock;

use cove_server::credentials::HistorySecret;
use cove_server::store::history::{
    Cursor, HistoryFile, HistoryReader, PAGE_READ_BUDGET, PageQuery,
};
use libfuzzer_sys::fuzz_target;

fn dir() -> &'static tempfile::TempDir {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("temp dir"))
}

fuzz_target!(|data: &[u8]| {
    let (boxes, data) = match data.strip_prefix(b"BOX") {
        Some(rest) if rest.len() >= 4 => {
            let (len, rest) = rest.split_at(4);
            let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
            rest.split_at(len.min(rest.len()))
        }
        _ => (&[][..], data),
    };
    let shared = dir().path().join("shared");
    let _ = std::fs::remove_dir_all(&shared);
    if !boxes.is_empty() {
        std::fs::create_dir(&shared).expect("boxes dir");
        std::fs::write(shared.join("0000000000000000.boxes"), boxes).expect("write");
    }
    let path = dir().path().join("u.hist");
    std::fs::write(&path, data).expect("write");
    let secret = HistorySecret::from_bytes([9; 32]);
    if let Ok(reader) = HistoryReader::open(&path, &secret) {
        let _ = reader.page(None, 50, |_| true);
        let _ = reader.page(Some(5), 3, |_| true);
        // The same file read as a changes file (edits, deletions,
        // reactions), whole, as the server reads one at login.
        let _ = reader.scan::<cove_common::proto::Change>(1 << 20);
        let forged = data.get(..12).map(|b| {
            let mut offset = [0u8; 8];
            offset.copy_from_slice(&b[..8]);
            let mut next = [0u8; 4];
            next.copy_from_slice(&b[8..12]);
            Cursor {
                offset: u64::from_be_bytes(offset) % (data.len() as u64 + 16),
                next: u32::from_be_bytes(next) % 64,
            }
        });
        for start in [None, forged] {
            let mut from = start;
            for _ in 0..4 {
                let q = PageQuery {
                    from,
                    before: None,
                    limit: 3,
                    max_bytes: 60_000,
                    budget: PAGE_READ_BUDGET,
                };
                match reader.page_at(&q, |_| true) {
                    Ok(page) if page.more => from = page.cursor,
                    _ => break,
                }
            }
        }
    }
    // Opening for append cuts a torn tail and steps over damage.
    if let Ok(mut f) = HistoryFile::open_append(&path, secret.public()) {
        let _ = f.append(&[b"{}"]);
    }
    let _ = std::fs::remove_dir_all(&shared);
    for e in std::fs::read_dir(dir().path()).expect("read dir").flatten() {
        let _ = std::fs::remove_file(e.path());
    }
});
