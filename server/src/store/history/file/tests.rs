#![allow(clippy::unwrap_used)]
use super::super::format::{BUNDLE_TARGET, HEAD, KIND_BUNDLE};
use super::super::test_support::{frames, lose_unsynced, msg, read_all, setup, texts};
use super::*;
use crate::store::history::HistoryPage;
use crate::store::history::HistoryReader;
use cove_common::crypto::{IV_LEN, TAG_LEN};
use std::io::Write;
use std::path::Path;

#[test]
fn an_append_is_one_bundle_or_several_of_bounded_size() {
    let (_d, path, secret) = setup();
    let mut f = HistoryFile::open_append(&path, secret.public()).unwrap();
    f.append(&[&msg(1, "room", "one"), &msg(2, "room", "two")])
        .unwrap();
    assert_eq!(
        frames(&path).iter().map(|f| f.0).collect::<Vec<_>>(),
        [KIND_SEGMENT, KIND_BUNDLE],
        "two entries, one box"
    );
    let big: Vec<Vec<u8>> = (3..403)
        .map(|id| msg(id, "room", &format!("{id:0>1000}")))
        .collect();
    let refs: Vec<&[u8]> = big.iter().map(|e| &e[..]).collect();
    f.append(&refs).unwrap();
    let bundles: Vec<usize> = frames(&path)
        .into_iter()
        .filter(|f| f.0 == KIND_BUNDLE)
        .map(|f| f.1)
        .collect();
    assert!(bundles.len() > 400 * 1000 / BUNDLE_TARGET, "{bundles:?}");
    assert!(
        bundles
            .iter()
            .all(|&len| len <= 8 + IV_LEN + BUNDLE_TARGET + TAG_LEN),
        "{bundles:?}"
    );
    let r = HistoryReader::open(&path, &secret).unwrap();
    let HistoryPage {
        messages: page,
        more,
        ..
    } = r.page(None, 1000, |_| true).unwrap();
    let ids: Vec<u64> = page.iter().map(|m| m.id).collect();
    assert_eq!(ids, (1..403).rev().collect::<Vec<_>>());
    assert!(!more);
}

#[test]
fn torn_tail_is_cut_and_appends_continue() {
    let (_d, path, secret) = setup();
    let mut f = HistoryFile::open_append(&path, secret.public()).unwrap();
    f.append(&[&msg(1, "room", "one"), &msg(2, "room", "two")])
        .unwrap();
    drop(f);
    let full = std::fs::metadata(&path).unwrap().len();
    // A crash in the middle of the next batch: a third frame cut short.
    let mut f = HistoryFile::open_append(&path, secret.public()).unwrap();
    f.append(&[&msg(3, "room", "three")]).unwrap();
    drop(f);
    let with_third = std::fs::metadata(&path).unwrap().len();
    let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.set_len(with_third - 10).unwrap();
    drop(file);
    // Readers ignore the partial frame even before repair.
    let r = HistoryReader::open(&path, &secret).unwrap();
    assert!(r.page(None, 10, |_| true).is_ok());
    let mut f = HistoryFile::open_append(&path, secret.public()).unwrap();
    f.append(&[&msg(4, "room", "four")]).unwrap();
    let r = HistoryReader::open(&path, &secret).unwrap();
    let HistoryPage { messages: page, .. } = r.page(None, 10, |_| true).unwrap();
    // The torn segment header survived whole, its record did not.
    assert_eq!(texts(&page), ["four", "two", "one"]);
    assert!(std::fs::metadata(&path).unwrap().len() > full);
}

#[test]
fn a_damaged_file_is_kept_and_new_messages_stay_readable() {
    let (d, path, secret) = setup();
    let mut f = HistoryFile::open_append(&path, secret.public()).unwrap();
    f.append(&[&msg(1, "room", "one")]).unwrap();
    drop(f);
    let mut raw = std::fs::read(&path).unwrap();
    raw[0] = 9; // a bad kind byte in a complete frame
    std::fs::write(&path, &raw).unwrap();
    let mut f = HistoryFile::open_append(&path, secret.public()).unwrap();
    f.append(&[&msg(2, "room", "two")]).unwrap();
    drop(f);
    // Nothing moved aside, nothing cut: the damaged bytes stay, the new
    // frames follow them.
    assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
    assert!(std::fs::read(&path).unwrap().starts_with(&raw));
    let r = HistoryReader::open(&path, &secret).unwrap();
    let page = r.page(None, 10, |_| true).unwrap();
    assert_eq!(texts(&page.messages), ["two"]);
    assert!(
        page.unreadable >= 1,
        "\"one\" is reported, not silently gone"
    );
}

#[test]
fn failed_fsync_writes_the_unsynced_records_again() {
    let (_d, path, secret) = setup();
    let mut f = HistoryFile::open_append(&path, secret.public()).unwrap();
    f.append(&[&msg(1, "room", "one")]).unwrap();
    f.sync().unwrap();
    let synced = std::fs::metadata(&path).unwrap().len();
    f.append(&[&msg(2, "room", "two"), &msg(3, "room", "three")])
        .unwrap();
    lose_unsynced(&path, synced);
    f.out.fail_syncs = 1;
    // The fsync fails; the records are written again and fsynced.
    f.sync().unwrap();
    assert!(!f.needs_repair());
    assert_eq!(read_all(&path, &secret), ["three", "two", "one"]);
}

#[test]
fn file_whose_repair_fails_takes_no_records_until_repaired() {
    let (_d, path, secret) = setup();
    let mut f = HistoryFile::open_append(&path, secret.public()).unwrap();
    f.append(&[&msg(1, "room", "one")]).unwrap();
    f.sync().unwrap();
    let synced = std::fs::metadata(&path).unwrap().len();
    f.append(&[&msg(2, "room", "two")]).unwrap();
    lose_unsynced(&path, synced);
    // The fsync and the fsync after rewriting both fail: reported.
    f.out.fail_syncs = 2;
    assert!(matches!(f.sync(), Err(StoreError::Io { .. })));
    assert!(f.needs_repair());
    // Still failing: an append is refused and writes nothing.
    f.out.fail_syncs = 1;
    assert!(f.append(&[&msg(3, "room", "three")]).is_err());
    assert!(f.needs_repair());
    // The disk works again: the next append repairs first.
    f.append(&[&msg(4, "room", "four")]).unwrap();
    assert!(!f.needs_repair());
    f.sync().unwrap();
    assert_eq!(read_all(&path, &secret), ["four", "two", "one"]);
    // And the file reopens cleanly, with no torn or stray frames.
    drop(f);
    let mut f = HistoryFile::open_append(&path, secret.public()).unwrap();
    f.append(&[&msg(5, "room", "five")]).unwrap();
    assert_eq!(read_all(&path, &secret), ["five", "four", "two", "one"]);
}

#[test]
fn failed_write_is_reported_and_advances_nothing() {
    let (d, _path, secret) = setup();
    // Every write(2) to /dev/full fails with ENOSPC.
    let path = d.path().join("full.hist");
    std::os::unix::fs::symlink("/dev/full", &path).unwrap();
    let mut f = HistoryFile::open_append(&path, secret.public()).unwrap();
    let err = f.append(&[&msg(1, "room", "one")]).unwrap_err();
    assert!(
        matches!(&err, StoreError::Io { source, .. } if source.kind() == std::io::ErrorKind::StorageFull),
        "{err}"
    );
    assert_eq!(f.out.len, 0);
    assert!(f.out.unsynced.is_empty());
    // A device cannot be cut back, so the file is marked for repair and
    // refuses records instead of writing after a possibly torn one.
    assert!(f.needs_repair());
    assert!(f.append(&[&msg(2, "room", "two")]).is_err());
}

#[test]
fn reopening_with_a_known_length_skips_the_scan_only_if_unchanged() {
    let (_d, path, secret) = setup();
    let mut f = HistoryFile::open_append(&path, secret.public()).unwrap();
    f.append(&[&msg(1, "room", "one")]).unwrap();
    let len = f.out.len;
    let resume = f.resume();
    drop(f);
    // Grown behind the writer's back (a torn frame): the known length
    // no longer matches, so the file is scanned and cut.
    let g = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    (&g).write_all(&[2, 0, 0, 1, 0, 7]).unwrap();
    drop(g);
    let f = HistoryFile::open_known(&path, secret.public(), Some(resume)).unwrap();
    assert_eq!(f.out.len, len);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), len);
}

/// Each bundle's offset and the offset of the segment it names.
fn bundles_and_segments(path: &Path) -> Vec<(u64, u64)> {
    let bytes = std::fs::read(path).unwrap();
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let len = u32::from_be_bytes(bytes[at + 1..at + 5].try_into().unwrap()) as usize;
        if bytes[at] == KIND_BUNDLE {
            let seg = u64::from_be_bytes(bytes[at + 5..at + 13].try_into().unwrap());
            out.push((at as u64, seg));
        }
        at += 5 + len + 4;
    }
    out
}

#[test]
fn a_reopened_file_continues_its_segment_only_if_remembered() {
    let (_d, path, secret) = setup();
    let mut f = HistoryFile::open_append(&path, secret.public()).unwrap();
    f.append(&[&msg(1, "room", "one")]).unwrap();
    f.sync().unwrap();
    let resume = f.resume();
    drop(f);
    let mut f = HistoryFile::open_known(&path, secret.public(), Some(resume)).unwrap();
    f.append(&[&msg(2, "room", "two")]).unwrap();
    drop(f);
    let kinds = |p: &Path| frames(p).iter().map(|f| f.0).collect::<Vec<_>>();
    assert_eq!(kinds(&path), [KIND_SEGMENT, KIND_BUNDLE, KIND_BUNDLE]);
    // Opened without it (as after a restart): a new segment.
    let mut f = HistoryFile::open_append(&path, secret.public()).unwrap();
    f.append(&[&msg(3, "room", "three")]).unwrap();
    assert_eq!(
        kinds(&path),
        [
            KIND_SEGMENT,
            KIND_BUNDLE,
            KIND_BUNDLE,
            KIND_SEGMENT,
            KIND_BUNDLE
        ]
    );
    assert_eq!(read_all(&path, &secret), ["three", "two", "one"]);
}

/// A segment's key opens at most about `SEGMENT_BYTES` of bundles, so a
/// damaged segment frame costs those and nothing else.
#[test]
fn a_damaged_segment_frame_costs_at_most_its_bounded_run_of_bundles() {
    let (_d, path, secret) = setup();
    let mut f = HistoryFile::open_append(&path, secret.public()).unwrap();
    let text = "z".repeat(1000);
    let mut id = 0;
    for _ in 0..30 {
        let batch: Vec<Vec<u8>> = (0..100)
            .map(|_| {
                id += 1;
                msg(id, "room", &text)
            })
            .collect();
        let refs: Vec<&[u8]> = batch.iter().map(|e| &e[..]).collect();
        f.append(&refs).unwrap();
    }
    drop(f);
    let bundles = bundles_and_segments(&path);
    let mut segments: Vec<u64> = bundles.iter().map(|b| b.1).collect();
    segments.dedup();
    assert!(segments.len() >= 3, "{segments:?}");
    for (at, seg) in &bundles {
        assert!(
            at - seg <= SEGMENT_BYTES + HEAD + 200,
            "bundle at {at}, segment at {seg}"
        );
    }
    // Damage the second segment frame's key.
    let mut raw = std::fs::read(&path).unwrap();
    raw[segments[1] as usize + 60] ^= 0x40;
    std::fs::write(&path, &raw).unwrap();
    let r = HistoryReader::open(&path, &secret).unwrap();
    let page = r.page(None, 10_000, |_| true).unwrap();
    let lost = 3000 - page.messages.len();
    assert!(
        lost > 0 && lost as u64 <= SEGMENT_BYTES / 1000 + 100,
        "lost {lost}"
    );
    assert_eq!(
        page.unreadable as usize,
        bundles.iter().filter(|b| b.1 == segments[1]).count()
    );
}
