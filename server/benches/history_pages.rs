//! What a history page costs at depth: the first page of a 1,000,000
//! message history against its 1,000th page and its last (the 20,000th),
//! each read with the cursor of the page before, as a client pages back;
//! and, for comparison, the 1,000th page asked for the protocol v3 way
//! (`before` alone, read from the newest message, with no read budget).
//! Each measurement opens the file and reads one page of 50, as the hub
//! does for one request.
//!
//! `cargo bench -p cove-server --bench history_pages`
#![allow(clippy::unwrap_used, missing_docs)]

use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

use cove_common::limits::HISTORY_PAGE_BYTES;
use cove_common::proto::{ChatMessage, Target};
use cove_common::{MessageText, RoomName, Username};
use cove_server::credentials::HistorySecret;
use cove_server::store::history::{
    Cursor, HistoryFile, HistoryReader, PAGE_READ_BUDGET, PageQuery,
};
use criterion::{Criterion, criterion_group, criterion_main};

const MESSAGES: u64 = 1_000_000;
const PAGE: usize = 50;
/// Messages per append: the writer seals each append as bundles of about
/// 64 KiB, so big appends write the file quickly with full bundles.
const PER_APPEND: u64 = 20_000;

fn query(from: Option<Cursor>) -> PageQuery {
    PageQuery {
        from,
        before: None,
        limit: PAGE,
        max_bytes: HISTORY_PAGE_BYTES,
        budget: PAGE_READ_BUDGET,
    }
}

/// Writes the history with the real writer code: one room, short texts.
fn build(path: &Path, secret: &HistorySecret) {
    let started = Instant::now();
    let alice = Username::new("alice").unwrap();
    let general = Target::Room(RoomName::general());
    let mut f = HistoryFile::open_append(path, secret.public()).unwrap();
    for first in (1..=MESSAGES).step_by(PER_APPEND as usize) {
        let entries: Vec<Vec<u8>> = (first..first + PER_APPEND)
            .map(|id| {
                serde_json::to_vec(&ChatMessage::new(
                    1_763_800_000_000_000 + id,
                    1_763_800_000_000 + id / 10,
                    alice.clone(),
                    general.clone(),
                    MessageText::new(format!("message number {id}, hello")).unwrap(),
                ))
                .unwrap()
            })
            .collect();
        let refs: Vec<&[u8]> = entries.iter().map(|e| &e[..]).collect();
        f.append(&refs).unwrap();
    }
    f.sync().unwrap();
    eprintln!(
        "history of {MESSAGES} messages: {} bytes, written in {:.1} s",
        std::fs::metadata(path).unwrap().len(),
        started.elapsed().as_secs_f64()
    );
}

/// The cursor of page `n` (1-based): where page `n + 1` starts.
fn cursor_after(path: &Path, secret: &HistorySecret, n: usize) -> Cursor {
    let r = HistoryReader::open(path, secret).unwrap();
    let mut from = None;
    for _ in 0..n {
        let page = r.page_at(&query(from), |_| true).unwrap();
        assert_eq!(page.messages.len(), PAGE);
        from = page.cursor;
    }
    from.unwrap()
}

fn pages(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("u.hist");
    let secret = HistorySecret::from_bytes([7; 32]);
    build(&path, &secret);
    let last = usize::try_from(MESSAGES).unwrap() / PAGE;
    let at_1000 = cursor_after(&path, &secret, 999);
    let at_last = cursor_after(&path, &secret, last - 1);

    let read = |q: &PageQuery| {
        let r = HistoryReader::open(&path, &secret).unwrap();
        r.page_at(q, |m: &ChatMessage| m.from.as_str() == "alice")
            .unwrap()
    };
    // What each page holds and reads, once, for the record.
    let p1000 = read(&query(Some(at_1000)));
    let oldest_1000 = p1000.messages.first().unwrap().id + 1;
    let v3 = PageQuery {
        before: Some(oldest_1000),
        budget: u64::MAX,
        ..query(None)
    };
    for (name, q) in [
        ("page 1", query(None)),
        ("page 1000 by cursor", query(Some(at_1000))),
        ("page 20000 by cursor", query(Some(at_last))),
        ("page 1000 by before (v3)", v3),
    ] {
        let p = read(&q);
        eprintln!(
            "{name}: {} messages (ids {}..={}), more {}, {} bytes read",
            p.messages.len(),
            p.messages.last().map_or(0, |m| m.id),
            p.messages.first().map_or(0, |m| m.id),
            p.more,
            p.read
        );
    }

    let mut g = c.benchmark_group("history_page");
    g.sample_size(50);
    g.bench_function("first", |b| b.iter(|| black_box(read(&query(None)))));
    g.bench_function("1000th_by_cursor", |b| {
        b.iter(|| black_box(read(&query(Some(at_1000)))))
    });
    g.bench_function("20000th_by_cursor", |b| {
        b.iter(|| black_box(read(&query(Some(at_last)))))
    });
    g.bench_function("1000th_by_before_v3", |b| b.iter(|| black_box(read(&v3))));
    g.finish();
}

criterion_group!(benches, pages);
criterion_main!(benches);
