//! Tests of linked bundles: a batch's entries sealed once for every user
//! receiving exactly them and stored once in a boxes file, each history
//! file holding a link with its own wrap of the key; and of the shared
//! bundles written before them, which are still read.
#![allow(clippy::unwrap_used)]
use super::super::boxes::BOXES_DIR;
use super::super::file::HistoryFile;
use super::super::format::{
    KIND_BUNDLE, KIND_LINKED, KIND_SEGMENT, KIND_SHARED, LINKED_LEN, SharedRun, WRAP_LEN,
};
use super::super::test_support::{frames, msg, read_all};
use super::*;
use crate::credentials::HistorySecret;
use crate::store::history::HistoryReader;
use cove_common::crypto::random_bytes;

fn job(users: &[(UserId, [u8; 32])], entry: Vec<u8>) -> Command {
    let (done, _rx) = oneshot::channel();
    let space = super::super::queue::QueueSpace::untracked();
    Command::Append(
        AppendJob {
            users: users.to_vec().into(),
            entry: entry.into(),
            space,
        },
        done,
    )
}

fn user() -> (UserId, HistorySecret) {
    (
        UserId::generate(),
        HistorySecret::from_bytes(random_bytes()),
    )
}

/// `n` messages of about 100 bytes from `first`, newest first as a page
/// gives them.
fn texts(first: u64, n: u64) -> Vec<String> {
    (first..first + n)
        .rev()
        .map(|i| format!("{i:03} {}", "x".repeat(96)))
        .collect()
}

/// One batch of the messages `first..first + n` to every one of `to`.
fn batch(w: &mut Writer, to: &[(UserId, [u8; 32])], first: u64, n: u64) {
    let jobs = (first..first + n)
        .map(|i| job(to, msg(i, "room", &format!("{i:03} {}", "x".repeat(96)))))
        .collect();
    assert!(w.write_batch(jobs).is_none());
    w.sync_all();
}

/// Where each frame of a file starts, with its kind and body length.
fn frames_at(path: &Path) -> Vec<(usize, u8, usize)> {
    let mut at = 0;
    frames(path)
        .into_iter()
        .map(|(kind, len)| {
            let here = at;
            at += 5 + len + 4;
            (here, kind, len)
        })
        .collect()
}

/// The boxes files of the histories in `dir`, oldest first.
fn box_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join(BOXES_DIR))
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    files.sort();
    files
}

fn writer(dir: &Path) -> Writer {
    Writer::new(dir.to_path_buf(), Arc::new(AtomicBool::new(true)), 64)
}

#[test]
fn a_batch_for_many_users_is_stored_once_and_each_opens_it_with_their_own_key() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = writer(dir.path());
    let members: Vec<_> = (0..3).map(|_| user()).collect();
    let to: Vec<_> = members
        .iter()
        .map(|(u, s)| (u.clone(), s.public()))
        .collect();
    batch(&mut w, &to, 1, 30);
    let paths: Vec<_> = members
        .iter()
        .map(|(u, _)| path_in(dir.path(), u))
        .collect();
    let mut places = Vec::new();
    let mut wraps = Vec::new();
    for ((_, secret), path) in members.iter().zip(&paths) {
        assert_eq!(read_all(path, secret), texts(1, 30));
        let f = frames_at(path);
        assert_eq!(
            f.iter().map(|x| x.1).collect::<Vec<_>>(),
            [KIND_SEGMENT, KIND_LINKED]
        );
        let bytes = std::fs::read(path).unwrap();
        let (at, _, len) = f[1];
        assert_eq!(len, LINKED_LEN);
        let body = &bytes[at + 5..at + 5 + len];
        wraps.push(body[8..8 + WRAP_LEN].to_vec());
        places.push(body[8 + WRAP_LEN..].to_vec());
    }
    // One box, stored once (about 30 x 200 bytes of messages), named by
    // every file; a wrap of its key per file.
    assert!(places.iter().all(|b| *b == places[0]));
    assert!(wraps[0] != wraps[1] && wraps[1] != wraps[2] && wraps[0] != wraps[2]);
    let boxes = box_files(dir.path());
    assert_eq!(boxes.len(), 1);
    let box_len = std::fs::metadata(&boxes[0]).unwrap().len();
    assert!(box_len > 30 * 150, "{box_len}");
    for path in &paths {
        assert!(std::fs::metadata(path).unwrap().len() < 400);
    }
    // Another user's key opens none of it.
    let stranger = HistorySecret::from_bytes(random_bytes());
    assert!(read_all(&paths[0], &stranger).is_empty());

    // A user who alone gets a batch, or gets little, has it sealed for them.
    batch(&mut w, &to[..1], 31, 30);
    batch(&mut w, &to[1..], 61, 1);
    assert_eq!(frames_at(&paths[0]).last().unwrap().1, KIND_BUNDLE);
    assert_eq!(frames_at(&paths[1]).last().unwrap().1, KIND_BUNDLE);
    let mut want = texts(31, 30);
    want.extend(texts(1, 30));
    assert_eq!(read_all(&paths[0], &members[0].1), want);
    assert_eq!(std::fs::metadata(&boxes[0]).unwrap().len(), box_len);

    // A writer started again (a new server start) never appends to the
    // boxes file of another: a box half written by a crash stays alone.
    drop(w);
    let mut w = writer(dir.path());
    batch(&mut w, &to, 62, 30);
    assert_eq!(box_files(dir.path()).len(), 2);
    assert_eq!(std::fs::metadata(&boxes[0]).unwrap().len(), box_len);
    let mut want = texts(62, 30);
    want.extend(texts(31, 30));
    want.extend(texts(1, 30));
    assert_eq!(read_all(&paths[0], &members[0].1), want);
}

#[test]
fn a_linked_bundle_moved_into_another_file_or_damaged_costs_that_frame_only() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = writer(dir.path());
    let (a, b) = (user(), user());
    let to = [(a.0.clone(), a.1.public()), (b.0.clone(), b.1.public())];
    batch(&mut w, &to, 1, 25);
    batch(&mut w, &to, 26, 25);
    drop(w);
    let (pa, pb) = (path_in(dir.path(), &a.0), path_in(dir.path(), &b.0));
    let fb = frames_at(&pb);
    assert_eq!(
        fb.iter().map(|x| x.1).collect::<Vec<_>>(),
        [KIND_SEGMENT, KIND_LINKED, KIND_LINKED]
    );
    assert_eq!(frames_at(&pa), fb, "the same layout in both files");
    let (a_bytes, b_bytes) = (std::fs::read(&pa).unwrap(), std::fs::read(&pb).unwrap());
    let (at, _, len) = fb[1];
    let end = at + 5 + len + 4;

    // a's first frame, with a's wrap, put in b's file at the same offset:
    // it does not open with b's key; b's second frame still reads.
    let mut spliced = b_bytes.clone();
    spliced[at..end].copy_from_slice(&a_bytes[at..end]);
    std::fs::write(&pb, &spliced).unwrap();
    let page = HistoryReader::open(&pb, &b.1)
        .unwrap()
        .page(None, 1000, |_| true)
        .unwrap();
    assert_eq!(page.messages.len(), 25);
    assert_eq!(page.unreadable, 1);

    // Every byte of b's first linked frame flipped in turn: that frame's
    // entries are lost, never the other frame's.
    let newer = texts(26, 25);
    for i in at..end {
        let mut damaged = b_bytes.clone();
        damaged[i] ^= 0x5a;
        std::fs::write(&pb, &damaged).unwrap();
        let got = read_all(&pb, &b.1);
        assert_eq!(got[..25], newer[..], "byte {i} flipped");
    }
    std::fs::write(&pb, &b_bytes).unwrap();
    let mut all = texts(26, 25);
    all.extend(texts(1, 25));
    assert_eq!(read_all(&pa, &a.1), all);
    assert_eq!(read_all(&pb, &b.1), all);

    // A byte of the first box flipped: that bundle is lost in both files
    // (and counted), the other one read.
    let boxes = box_files(dir.path());
    let good = std::fs::read(&boxes[0]).unwrap();
    let mut bad = good.clone();
    bad[100] ^= 1;
    std::fs::write(&boxes[0], &bad).unwrap();
    for (path, secret) in [(&pa, &a.1), (&pb, &b.1)] {
        let page = HistoryReader::open(path, secret)
            .unwrap()
            .page(None, 1000, |_| true)
            .unwrap();
        assert_eq!(page.messages.len(), 25);
        assert_eq!(page.messages[0].text_str(), newer[0]);
        assert_eq!(page.unreadable, 1);
    }
    // The boxes file cut short (the second box gone): the newer bundle is
    // counted as unreadable, the older one read.
    std::fs::write(&boxes[0], &good[..good.len() - 10]).unwrap();
    let page = HistoryReader::open(&pa, &a.1)
        .unwrap()
        .page(None, 1000, |_| true)
        .unwrap();
    assert_eq!(page.messages.len(), 25);
    assert_eq!(page.messages[0].text_str(), texts(1, 25)[0]);
    assert_eq!(page.unreadable, 1);
}

/// Files written with shared bundles (kind 4: the box copied into every
/// file), before linked bundles, are still read and appended to.
#[test]
fn files_of_shared_bundles_are_still_read() {
    let dir = tempfile::tempdir().unwrap();
    let (a, secret) = user();
    let path = path_in(dir.path(), &a);
    let entries: Vec<Vec<u8>> = (1..=20)
        .map(|i| msg(i, "room", &format!("{i:03} {}", "x".repeat(96))))
        .collect();
    let refs: Vec<&[u8]> = entries.iter().map(|e| &e[..]).collect();
    let mut f = HistoryFile::open_append(&path, secret.public()).unwrap();
    f.append_shared(&[SharedRun::seal(&refs)]).unwrap();
    drop(f);
    assert_eq!(
        frames(&path).iter().map(|x| x.0).collect::<Vec<_>>(),
        [KIND_SEGMENT, KIND_SHARED]
    );
    let mut w = writer(dir.path());
    batch(&mut w, &[(a.clone(), secret.public())], 21, 1);
    let mut want = texts(21, 1);
    want.extend(texts(1, 20));
    assert_eq!(read_all(&path, &secret), want);
}

/// A segment's bound counts the boxes its links open: a file of links
/// that open megabytes of messages gets a new segment every 1 MiB of
/// them, though the file itself stays small, so one damaged segment frame
/// still costs at most about 1 MiB of messages.
#[test]
fn segments_count_the_boxes_their_links_open() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = writer(dir.path());
    let (a, b) = (user(), user());
    let to = [(a.0.clone(), a.1.public()), (b.0.clone(), b.1.public())];
    let text = "y".repeat(1000);
    for round in 0..40u64 {
        let jobs = (0..30)
            .map(|i| job(&to, msg(round * 30 + i, "room", &text)))
            .collect();
        assert!(w.write_batch(jobs).is_none());
    }
    w.sync_all();
    let path = path_in(dir.path(), &a.0);
    let kinds: Vec<u8> = frames(&path).iter().map(|x| x.0).collect();
    assert_eq!(kinds.iter().filter(|&&k| k == KIND_LINKED).count(), 40);
    // 40 boxes of about 30 KiB: 1.2 MiB of messages, two segments.
    assert_eq!(kinds.iter().filter(|&&k| k == KIND_SEGMENT).count(), 2);
    assert!(std::fs::metadata(&path).unwrap().len() < 8 * 1024);
    // All readable (a page holds at most 1,000).
    assert_eq!(read_all(&path, &a.1).len(), 1000);
}

/// Not a test: writes seeds for the `history_reader` fuzz target (key
/// `[9; 32]`, as the target reads with), a file of linked bundles with
/// its boxes file and a file of shared bundles, into `COVE_FUZZ_SEEDS`:
/// `COVE_FUZZ_SEEDS=fuzz/corpus/history_reader cargo test -p cove-server
/// --lib fuzz_seeds -- --ignored`.
#[test]
#[ignore]
fn fuzz_seeds() {
    let out = PathBuf::from(std::env::var("COVE_FUZZ_SEEDS").unwrap());
    let secret = HistorySecret::from_bytes([9; 32]);
    let dir = tempfile::tempdir().unwrap();
    let mut w = writer(dir.path());
    let (a, b) = (UserId::generate(), UserId::generate());
    let to = [(a.clone(), secret.public()), (b, secret.public())];
    batch(&mut w, &to, 1, 12);
    batch(&mut w, &to, 13, 12);
    drop(w);
    let boxes = std::fs::read(&box_files(dir.path())[0]).unwrap();
    let mut seed = b"BOX".to_vec();
    seed.extend_from_slice(&(boxes.len() as u32).to_be_bytes());
    seed.extend_from_slice(&boxes);
    seed.extend_from_slice(&std::fs::read(path_in(dir.path(), &a)).unwrap());
    std::fs::write(out.join("seed-linked-bundles"), &seed).unwrap();

    let path = dir.path().join("old.hist");
    let entries: Vec<Vec<u8>> = (1..=12).map(|i| msg(i, "room", "shared")).collect();
    let refs: Vec<&[u8]> = entries.iter().map(|e| &e[..]).collect();
    let mut f = HistoryFile::open_append(&path, secret.public()).unwrap();
    f.append_shared(&[SharedRun::seal(&refs)]).unwrap();
    drop(f);
    std::fs::write(
        out.join("seed-shared-bundle"),
        std::fs::read(&path).unwrap(),
    )
    .unwrap();
}

/// The boxes file is fsynced with the files linking to it, and a failed
/// fsync of it is answered like a history file's: its unsynced boxes are
/// written again from memory (here after the kernel dropped them) and
/// synced, the trouble reported meanwhile, and every message read back.
#[test]
fn a_failed_fsync_of_the_boxes_file_writes_its_boxes_again() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = writer(dir.path());
    let (a, b) = (user(), user());
    let to = [(a.0.clone(), a.1.public()), (b.0.clone(), b.1.public())];
    batch(&mut w, &to, 1, 20);
    let boxes = box_files(dir.path());
    let synced = std::fs::metadata(&boxes[0]).unwrap().len();
    assert!(w.boxes.open_file().unwrap().is_clean(), "synced with them");
    let jobs = (21..41)
        .map(|i| job(&to, msg(i, "room", &format!("{i:03} {}", "x".repeat(96)))))
        .collect();
    assert!(w.write_batch(jobs).is_none());
    super::super::test_support::lose_unsynced(&boxes[0], synced);
    w.boxes.open_file().unwrap().fail_syncs = 2;
    w.sync_all();
    assert!(!w.healthy.load(Ordering::Relaxed), "reported");
    assert!(!w.boxes.open_file().unwrap().is_clean());
    w.sync_all();
    assert!(w.boxes.open_file().unwrap().is_clean(), "repaired");
    let mut all = texts(21, 20);
    all.extend(texts(1, 20));
    assert_eq!(read_all(&path_in(dir.path(), &a.0), &a.1), all);
    assert_eq!(read_all(&path_in(dir.path(), &b.0), &b.1), all);
}

/// An idle boxes file is closed (nothing stays open for writing while
/// nothing is said) and continued when the next box comes, unless its
/// length changed meanwhile: then a new file is started.
#[test]
fn a_closed_boxes_file_is_continued_only_if_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = writer(dir.path());
    let (a, b) = (user(), user());
    let to = [(a.0.clone(), a.1.public()), (b.0.clone(), b.1.public())];
    batch(&mut w, &to, 1, 20);
    w.boxes.close();
    assert!(w.boxes.open_file().is_none());
    batch(&mut w, &to, 21, 20);
    assert_eq!(box_files(dir.path()).len(), 1, "continued");
    w.boxes.close();
    let first = &box_files(dir.path())[0];
    let f = std::fs::OpenOptions::new()
        .append(true)
        .open(first)
        .unwrap();
    std::io::Write::write_all(&mut &f, b"junk").unwrap();
    batch(&mut w, &to, 41, 20);
    assert_eq!(box_files(dir.path()).len(), 2, "a new file after a change");
    let mut all = texts(41, 20);
    all.extend(texts(21, 20));
    all.extend(texts(1, 20));
    assert_eq!(read_all(&path_in(dir.path(), &a.0), &a.1), all);
}
