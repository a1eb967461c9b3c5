//! Tests of paging with cursors: every message once and in order, across
//! pages cut by size in the middle of a bundle, budget stops and damage;
//! forged cursors refused; a quiet conversation in a busy file read a
//! bounded stretch at a time.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use cove_common::RoomName;
use cove_common::proto::{ChatMessage, MessageId, Target};

use super::cursor::{Cursor, PAGE_READ_BUDGET, PageQuery, ReadError};
use super::format::{BUNDLE_TARGET, KIND_BUNDLE, KIND_SEGMENT};
use super::test_support::{frames, msg, setup};
use super::{HistoryFile, HistoryPage, HistoryReader};
use crate::credentials::HistorySecret;

fn in_room(room: &str) -> impl Fn(&ChatMessage) -> bool {
    let want = Target::Room(RoomName::new(room).unwrap());
    move |m: &ChatMessage| m.to == want
}

/// Appends messages `ids` (one append each `per_append`), each in the room
/// `room_of(id)`, with texts padded to `pad` characters.
fn write(
    path: &Path,
    secret: &HistorySecret,
    ids: std::ops::Range<u64>,
    per_append: usize,
    pad: usize,
    room_of: impl Fn(u64) -> &'static str,
) {
    let mut f = HistoryFile::open_append(path, secret.public()).unwrap();
    let ids: Vec<u64> = ids.collect();
    for chunk in ids.chunks(per_append) {
        let entries: Vec<Vec<u8>> = chunk
            .iter()
            .map(|&id| msg(id, room_of(id), &format!("m{id:0>pad$}")))
            .collect();
        let refs: Vec<&[u8]> = entries.iter().map(|e| &e[..]).collect();
        f.append(&refs).unwrap();
    }
}

/// Offsets and body lengths of the file's frames of `kind`.
fn frames_of(path: &Path, kind: u8) -> Vec<(u64, usize)> {
    let mut at = 0u64;
    let mut out = Vec::new();
    for (k, len) in frames(path) {
        if k == kind {
            out.push((at, len));
        }
        at += 5 + len as u64 + 4;
    }
    out
}

/// Pages through `filter`'s messages with cursors only: their ids, newest
/// first, the damage counted, the pages, and the largest read of a page.
fn page_all(
    r: &HistoryReader<'_>,
    q: PageQuery,
    filter: impl Fn(&ChatMessage) -> bool,
) -> (Vec<MessageId>, u32, Vec<HistoryPage>) {
    let mut q = q;
    let (mut ids, mut unreadable, mut pages) = (Vec::new(), 0, Vec::new());
    loop {
        let page = r.page_at(&q, &filter).unwrap();
        ids.extend(page.messages.iter().map(|m| m.id));
        unreadable += page.unreadable;
        let (more, cursor) = (page.more, page.cursor);
        pages.push(page);
        assert!(pages.len() < 10_000, "paging does not end");
        if !more {
            assert_eq!(cursor, None);
            return (ids, unreadable, pages);
        }
        q.from = Some(cursor.expect("a page with more has a cursor"));
    }
}

fn everything() -> PageQuery {
    PageQuery {
        from: None,
        before: None,
        limit: usize::MAX,
        max_bytes: usize::MAX,
        budget: u64::MAX,
    }
}

/// Two conversations interleaved in bundles of many entries, two bundles
/// damaged (one by its tag, one by its trailing length, which needs the
/// forward walk): paging with cursors, whatever the page size, byte cut
/// and budget, returns every readable message of the conversation once, in
/// order, and counts each damaged bundle once.
#[test]
fn cursors_page_through_everything_once_and_in_order() {
    let (_d, path, secret) = setup();
    // 600 messages of about 150 bytes, 40 an append: bundles of 40
    // entries, two rooms in turns of three.
    write(&path, &secret, 1..601, 40, 60, |id| {
        if (id / 3) % 2 == 0 { "quiet" } else { "busy" }
    });
    let bundles = frames_of(&path, KIND_BUNDLE);
    assert_eq!(bundles.len(), 15);
    let mut raw = std::fs::read(&path).unwrap();
    // Bundle 5: a flipped tag byte. Bundle 10: a flipped trailing length.
    let (at, len) = bundles[5];
    raw[(at + 5 + len as u64 - 3) as usize] ^= 1;
    let (at, len) = bundles[10];
    raw[(at + 5 + len as u64 + 1) as usize] ^= 0x40;
    std::fs::write(&path, &raw).unwrap();
    let lost: Vec<u64> = (201..241).chain(401..441).collect();
    let want: Vec<u64> = (1..601)
        .rev()
        .filter(|id| (id / 3) % 2 == 0 && !lost.contains(id))
        .collect();

    let r = HistoryReader::open(&path, &secret).unwrap();
    let (all, damaged, _) = page_all(&r, everything(), in_room("quiet"));
    assert_eq!(all, want, "one page of everything");
    assert_eq!(damaged, 2);

    for (limit, max_bytes, budget) in [
        (50, usize::MAX, u64::MAX),
        (7, usize::MAX, u64::MAX),
        // Cut by size: about 5 messages a page, in the middle of bundles.
        (50, 800, u64::MAX),
        (1, 800, u64::MAX),
        // Stopped by the budget: about one bundle a page.
        (50, usize::MAX, 4_000),
        (4, 700, 9_000),
        (50, 60_000, PAGE_READ_BUDGET),
    ] {
        let q = PageQuery {
            limit,
            max_bytes,
            budget,
            ..everything()
        };
        let (ids, damaged, pages) = page_all(&r, q, in_room("quiet"));
        let case = format!("limit {limit}, max_bytes {max_bytes}, budget {budget}");
        assert_eq!(ids, want, "{case}");
        assert_eq!(damaged, 2, "each damaged bundle counted once: {case}");
        for p in &pages {
            assert!(p.messages.len() <= limit, "{case}");
            let bytes: usize = p
                .messages
                .iter()
                .map(|m| serde_json::to_vec(m).unwrap().len() + 1)
                .sum();
            assert!(bytes <= max_bytes, "{case}: {bytes}");
        }
        if max_bytes == 800 {
            assert!(pages.len() >= want.len() / 6, "{case}: cut by size");
        }
    }
}

/// The page after a page cut by size starts right after the cut page's
/// last message, inside the same bundle.
#[test]
fn a_page_cut_by_size_goes_on_inside_its_bundle() {
    let (_d, path, secret) = setup();
    write(&path, &secret, 1..21, 20, 400, |_| "room");
    write(&path, &secret, 21..41, 20, 400, |_| "room");
    let bundles = frames_of(&path, KIND_BUNDLE);
    assert_eq!(bundles.len(), 2);
    let r = HistoryReader::open(&path, &secret).unwrap();
    let q = PageQuery {
        limit: 50,
        max_bytes: 2_000,
        ..everything()
    };
    let first = r.page_at(&q, |_| true).unwrap();
    let n = first.messages.len();
    assert!((2..20).contains(&n), "{n}");
    assert!(first.more);
    let oldest = first.messages.last().unwrap().id;
    assert_eq!(
        first.cursor,
        Some(Cursor {
            offset: bundles[1].0,
            next: u32::try_from(oldest - 21).unwrap(),
        }),
        "right after its last message, inside the newest bundle"
    );
    let second = r
        .page_at(
            &PageQuery {
                from: first.cursor,
                ..q
            },
            |_| true,
        )
        .unwrap();
    assert_eq!(second.messages.first().unwrap().id, oldest - 1);
}

/// A cursor that names anything but a bundle of this file at its own
/// offset, or more entries than it holds, is refused; so is one from
/// another user's file. No offset panics, and only real bundle offsets are
/// accepted.
#[test]
fn forged_and_foreign_cursors_are_refused() {
    let (_d, path, secret) = setup();
    write(&path, &secret, 1..31, 10, 20, |_| "room");
    let bundles = frames_of(&path, KIND_BUNDLE);
    let r = HistoryReader::open(&path, &secret).unwrap();
    let q = PageQuery {
        limit: 5,
        ..everything()
    };
    let good = r.page_at(&q, |_| true).unwrap().cursor.unwrap();
    assert_eq!(good.offset, bundles[2].0);
    let at = |offset: u64, next: u32| PageQuery {
        from: Some(Cursor { offset, next }),
        ..q
    };
    let refused = |q: PageQuery| matches!(r.page_at(&q, |_| true), Err(ReadError::BadCursor));
    let end = std::fs::metadata(&path).unwrap().len();
    for (offset, next) in [
        (good.offset + 1, good.next),
        (good.offset - 1, good.next),
        (good.offset + 40, 0),
        (good.offset, 11),
        (good.offset, u32::MAX),
        (frames_of(&path, KIND_SEGMENT)[0].0, 0),
        (end, 0),
        (end - 4, 0),
        (u64::MAX, 0),
        (u64::MAX - 3, 1),
    ] {
        assert!(refused(at(offset, next)), "offset {offset}, next {next}");
    }
    // Every offset of the file: accepted exactly at the bundles.
    let starts: Vec<u64> = bundles.iter().map(|b| b.0).collect();
    for offset in 0..end {
        let ok = r.page_at(&at(offset, 0), |_| true).is_ok();
        assert_eq!(ok, starts.contains(&offset), "offset {offset}");
    }
    // Another user's file, laid out differently: its cursors name no frame
    // that opens here. Where a foreign offset happens to be a bundle of
    // this file, the cursor is simply a place in this file.
    let (_d2, other_path, other_secret) = setup();
    write(&other_path, &other_secret, 1..31, 7, 25, |_| "room");
    let other = HistoryReader::open(&other_path, &other_secret).unwrap();
    let mut foreign = 0;
    for (offset, _) in frames_of(&other_path, KIND_BUNDLE) {
        assert!(other.page_at(&at(offset, 1), |_| true).is_ok());
        let here = r.page_at(&at(offset, 1), |_| true);
        if !starts.contains(&offset) {
            assert!(matches!(here, Err(ReadError::BadCursor)), "{offset}");
            foreign += 1;
        }
    }
    assert!(foreign >= 3);
    // The same bundles under another key (the same file read by someone
    // else): nothing opens.
    let stranger = HistorySecret::from_bytes(cove_common::crypto::random_bytes());
    let r2 = HistoryReader::open(&path, &stranger).unwrap();
    assert!(matches!(
        r2.page_at(&at(good.offset, good.next), |_| true),
        Err(ReadError::BadCursor)
    ));
    // And a missing file has no place to continue from.
    let none = HistoryReader::open(&path.with_extension("gone"), &secret).unwrap();
    assert!(matches!(
        none.page_at(&at(0, 0), |_| true),
        Err(ReadError::BadCursor)
    ));
}

/// A cursor only says where to read on: used for another conversation, it
/// gives that conversation's messages older than its place, no others.
#[test]
fn a_cursor_used_for_another_conversation_reads_on_from_its_place() {
    let (_d, path, secret) = setup();
    write(&path, &secret, 1..101, 10, 20, |id| {
        if id % 2 == 0 { "even" } else { "odd" }
    });
    let r = HistoryReader::open(&path, &secret).unwrap();
    let q = PageQuery {
        limit: 10,
        ..everything()
    };
    let even = r.page_at(&q, in_room("even")).unwrap();
    let oldest_even = even.messages.last().unwrap().id;
    assert_eq!(oldest_even, 82);
    let odd = r
        .page_at(
            &PageQuery {
                from: even.cursor,
                ..q
            },
            in_room("odd"),
        )
        .unwrap();
    let ids: Vec<u64> = odd.messages.iter().map(|m| m.id).collect();
    // 81 lies between the even page's last message and its cursor.
    assert_eq!(
        ids,
        (61..80).rev().filter(|i| i % 2 == 1).collect::<Vec<_>>()
    );
}

/// A quiet conversation inside a busy history: no page reads more than the
/// budget (and one frame beyond it), pages may come back empty with
/// `more`, and following the cursors still finds every quiet message.
/// Without the budget the first page alone would read the whole file.
#[test]
fn a_quiet_conversation_in_a_busy_file_reads_a_bounded_stretch_a_page() {
    let (_d, path, secret) = setup();
    // 4,000 busy messages of about 1 KB (about 3.9 MB), three quiet ones.
    let quiet = [1, 1_700, 3_900];
    write(&path, &secret, 1..4_001, 200, 900, |id| {
        if quiet.contains(&id) { "quiet" } else { "busy" }
    });
    let size = std::fs::metadata(&path).unwrap().len();
    assert!(size > 3 * PAGE_READ_BUDGET, "{size}");
    let r = HistoryReader::open(&path, &secret).unwrap();

    let unbounded = r
        .page_at(
            &PageQuery {
                limit: 50,
                ..everything()
            },
            in_room("quiet"),
        )
        .unwrap();
    assert!(unbounded.read > size - 100_000, "{}", unbounded.read);

    let q = PageQuery {
        from: None,
        before: None,
        limit: 50,
        max_bytes: 60_000,
        budget: PAGE_READ_BUDGET,
    };
    let (ids, _, pages) = page_all(&r, q, in_room("quiet"));
    assert_eq!(ids, [3_900, 1_700, 1]);
    // Beyond the budget a page reads at most the frame that crosses it
    // (a bundle of about BUNDLE_TARGET) and a segment frame.
    let bound = PAGE_READ_BUDGET + BUNDLE_TARGET as u64 + 1_024;
    for (i, p) in pages.iter().enumerate() {
        assert!(p.read <= bound, "page {i} read {}", p.read);
    }
    assert!(pages.len() >= 4, "{} pages", pages.len());
    assert!(
        pages.iter().any(|p| p.messages.is_empty() && p.more),
        "a stretch without quiet messages gives an empty page that goes on"
    );
}

/// The cost of a page by cursor does not grow with its depth; by `before`
/// from the newest it does.
#[test]
fn a_deep_page_by_cursor_reads_what_the_first_does() {
    let (_d, path, secret) = setup();
    write(&path, &secret, 1..20_001, 2_000, 40, |_| "room");
    let r = HistoryReader::open(&path, &secret).unwrap();
    let mut q = PageQuery {
        limit: 50,
        max_bytes: 60_000,
        ..everything()
    };
    let first = r.page_at(&q, |_| true).unwrap();
    let mut page = first;
    let mut reads = Vec::new();
    for _ in 0..300 {
        q.from = page.cursor;
        page = r.page_at(&q, |_| true).unwrap();
        reads.push(page.read);
    }
    let deepest = page.messages.last().unwrap().id;
    assert_eq!(deepest, 20_000 - 301 * 50 + 1);
    let most = *reads.iter().max().unwrap();
    let least = *reads.iter().min().unwrap();
    // The bundle the cursor names is read, checked and counted.
    assert!(least > 10_000, "{least}");
    // At most two bundles (the one the page starts in and the next).
    assert!(most <= 2 * (BUNDLE_TARGET as u64 + 1_024), "{most}");
    let by_before = r
        .page_at(
            &PageQuery {
                from: None,
                before: Some(deepest),
                ..q
            },
            |_| true,
        )
        .unwrap();
    assert!(by_before.read > 8 * most, "{} vs {most}", by_before.read);
}

/// Damage stepped over by a page that then stops at its budget, before any
/// message of its conversation, is counted by that page (the next page
/// starts after it and does not meet it again): counted once.
#[test]
fn damage_before_a_budget_stop_is_counted_by_that_page() {
    let (_d, path, secret) = setup();
    write(&path, &secret, 1..4, 3, 20, |_| "quiet");
    write(&path, &secret, 4..504, 100, 40, |_| "busy");
    let bundles = frames_of(&path, KIND_BUNDLE);
    assert_eq!(bundles.len(), 6);
    // The middle busy bundle: a flipped tag byte.
    let (at, len) = bundles[3];
    let mut raw = std::fs::read(&path).unwrap();
    raw[(at + 5 + len as u64 - 3) as usize] ^= 1;
    std::fs::write(&path, &raw).unwrap();
    let r = HistoryReader::open(&path, &secret).unwrap();
    // About one busy bundle a page.
    let q = PageQuery {
        budget: 9_000,
        ..everything()
    };
    let (ids, damaged, pages) = page_all(&r, q, in_room("quiet"));
    assert_eq!(ids, [3, 2, 1]);
    assert_eq!(damaged, 1, "counted once");
    let counted: Vec<usize> = (0..pages.len())
        .filter(|&i| pages[i].unreadable > 0)
        .collect();
    assert_eq!(counted.len(), 1);
    assert!(
        pages[counted[0]].messages.is_empty() && pages[counted[0]].more,
        "by an empty page that stopped at its budget"
    );
}

/// Damage between two messages that are both too new for a page asked for
/// with `before` belongs to a newer page: this one does not count it.
#[test]
fn damage_newer_than_before_is_left_to_the_newer_page() {
    let (_d, path, secret) = setup();
    for id in 1..=4 {
        write(&path, &secret, id..id + 1, 1, 5, |_| "room");
    }
    // "3" (the third bundle) damaged: newest first the file reads
    // 4, damage, 2, 1.
    let (at, len) = frames_of(&path, KIND_BUNDLE)[2];
    let mut raw = std::fs::read(&path).unwrap();
    raw[(at + 5 + len as u64 - 3) as usize] ^= 1;
    std::fs::write(&path, &raw).unwrap();
    let r = HistoryReader::open(&path, &secret).unwrap();
    let page = r.page(Some(2), 10, |_| true).unwrap();
    assert_eq!(page.messages.iter().map(|m| m.id).collect::<Vec<_>>(), [1]);
    assert_eq!(page.unreadable, 0, "the damage lies above message 2");
    let page = r.page(Some(4), 10, |_| true).unwrap();
    assert_eq!(page.unreadable, 1);
}
