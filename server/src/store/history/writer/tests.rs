//! Tests of the history writer thread.
#![allow(clippy::unwrap_used)]
use super::super::format::{KIND_BUNDLE, KIND_SEGMENT};
use super::super::test_support::{lose_unsynced, msg, read_all};
use super::*;
use crate::credentials::HistorySecret;
use crate::store::history::HistoryPage;
use crate::store::history::HistoryReader;
use cove_common::crypto::random_bytes;

/// A writer for `dir` keeping at most `open_files` open, and a history key.
fn writer_and_key(dir: &Path, open_files: usize) -> (Writer, HistorySecret) {
    let w = Writer::new(
        dir.to_path_buf(),
        Arc::new(AtomicBool::new(true)),
        open_files,
    );
    (w, HistorySecret::from_bytes(random_bytes()))
}

#[test]
fn writer_retries_a_failed_fsync_and_reports_trouble_until_it_works() {
    let dir = tempfile::tempdir().unwrap();
    let healthy = Arc::new(AtomicBool::new(true));
    let mut w = Writer::new(dir.path().to_path_buf(), healthy.clone(), 512);
    let user = UserId::generate();
    let secret = HistorySecret::from_bytes(random_bytes());
    let path = path_in(dir.path(), &user);
    w.append(&user, secret.public(), &[&msg(1, "room", "one")])
        .unwrap();
    w.sync_all();
    let synced = std::fs::metadata(&path).unwrap().len();
    w.append(&user, secret.public(), &[&msg(2, "room", "two")])
        .unwrap();
    lose_unsynced(&path, synced);
    // The fsync fails, and so does the one after writing again.
    w.files.get_mut(&user).unwrap().out.fail_syncs = 2;
    w.sync_all();
    assert!(
        !healthy.load(Ordering::Relaxed),
        "a failed fsync is reported"
    );
    assert!(w.dirty.contains(&user), "and tried again later");
    // It is not closed while it holds records not yet on disk.
    w.files.close_where(&w.dirty, |_| true);
    assert!(w.files.get(&user).is_some());
    // Next round the disk works: the records are rewritten and synced.
    w.sync_all();
    assert!(w.dirty.is_empty());
    assert_eq!(read_all(&path, &secret), ["two", "one"]);
    // A successful write clears the trouble.
    let (done, _rx) = oneshot::channel();
    let job = AppendJob {
        users: vec![(user.clone(), secret.public())].into(),
        entry: msg(3, "room", "three").into(),
        space: QueueSpace::untracked(),
    };
    assert!(w.write_batch(vec![Command::Append(job, done)]).is_none());
    assert!(healthy.load(Ordering::Relaxed));
    w.sync_all();
    assert_eq!(read_all(&path, &secret), ["three", "two", "one"]);
}

fn job(users: &[(UserId, [u8; 32])], entry: Vec<u8>) -> Command {
    let (done, _rx) = oneshot::channel();
    Command::Append(
        AppendJob {
            users: users.to_vec().into(),
            entry: entry.into(),
            space: QueueSpace::untracked(),
        },
        done,
    )
}

#[test]
fn a_batch_stops_at_its_byte_budget() {
    let users: Vec<(UserId, [u8; 32])> = (0..16).map(|_| (UserId::generate(), [7; 32])).collect();
    // Each job is 16 recipients × 256 KiB = 4 MiB of history to write.
    let (tx, rx) = mpsc::channel();
    for _ in 0..100 {
        tx.send(job(&users, vec![b'x'; 256 * 1024])).unwrap();
    }
    let first = rx.try_recv().ok();
    let batch = take_batch(first, &rx);
    assert_eq!(batch.len(), BATCH_BYTES.div_ceil(4 << 20));
    // Small jobs are taken up to the count limit, the rest left queued.
    let (tx, rx) = mpsc::channel();
    for _ in 0..BATCH_JOBS + 5 {
        tx.send(job(&users[..1], b"{}".to_vec())).unwrap();
    }
    assert_eq!(take_batch(rx.try_recv().ok(), &rx).len(), BATCH_JOBS);
    assert_eq!(take_batch(rx.try_recv().ok(), &rx).len(), 5);
}

/// Many files are fsynced together; one whose fsync fails stays dirty
/// (to be repaired) while every other one is synced.
#[test]
fn a_group_commit_syncs_every_file_but_the_failing_one() {
    let dir = tempfile::tempdir().unwrap();
    let healthy = Arc::new(AtomicBool::new(true));
    let mut w = Writer::new(dir.path().to_path_buf(), healthy.clone(), 512);
    let secret = HistorySecret::from_bytes(random_bytes());
    let users: Vec<UserId> = (0..40).map(|_| UserId::generate()).collect();
    for (i, user) in users.iter().enumerate() {
        w.append(user, secret.public(), &[&msg(i as u64, "room", "hi")])
            .unwrap();
    }
    assert_eq!(w.dirty.len(), 40);
    assert!(w.unsynced_bytes() > 0);
    w.files.get_mut(&users[17]).unwrap().out.fail_syncs = 2;
    w.sync_all();
    assert_eq!(w.dirty.iter().collect::<Vec<_>>(), [&users[17]]);
    assert!(!healthy.load(Ordering::Relaxed));
    for (i, user) in users.iter().enumerate() {
        let f = w.files.get(user).unwrap();
        assert_eq!(f.out.synced == f.out.len, i != 17, "file {i}");
    }
    w.sync_all();
    assert!(w.dirty.is_empty());
    assert_eq!(w.unsynced_bytes(), 0);
}

/// When written bytes outrun the group commit, the writer fsyncs at
/// once rather than hold more than its limit for retries.
#[test]
fn too_many_unsynced_bytes_bring_the_group_commit_forward() {
    let dir = tempfile::tempdir().unwrap();
    let (mut w, secret) = writer_and_key(dir.path(), 512);
    let users = [(UserId::generate(), secret.public())];
    let text = "y".repeat(3_000);
    let batch = |from: u64| {
        (from..from + 10)
            .map(|i| job(&users, msg(i, "room", &text)))
            .collect()
    };
    // About 30 KB: below the limit, so kept until the interval passes.
    w.unsynced_limit = 64 * 1024;
    assert!(w.write_and_commit(batch(0)).is_none());
    assert_eq!(w.dirty.len(), 1, "not synced yet");
    assert!(w.unsynced_bytes() > 30_000);
    // Past the limit: synced now, long before the interval is up.
    w.write_and_commit(batch(10));
    w.write_and_commit(batch(20));
    assert!(w.dirty.is_empty(), "synced early");
    assert_eq!(w.unsynced_bytes(), 0);
    assert!(w.oldest_write.is_none_or(|t| t.elapsed() < SYNC_INTERVAL));
}

#[tokio::test]
async fn a_message_failing_for_one_recipient_is_stored_for_none() {
    let dir = tempfile::tempdir().unwrap();
    let healthy = Arc::new(AtomicBool::new(true));
    let mut w = Writer::new(dir.path().to_path_buf(), healthy.clone(), 512);
    let (a, b) = (UserId::generate(), UserId::generate());
    let secret = HistorySecret::from_bytes(random_bytes());
    let public = secret.public();
    // a's history is a normal file with one record already.
    w.append(&a, public, &[&msg(1, "room", "one")]).unwrap();
    // Every write to b's history fails with ENOSPC.
    std::os::unix::fs::symlink("/dev/full", path_in(dir.path(), &b)).unwrap();
    let job = |users: Vec<UserId>, id: u64, text: &str| {
        let (done, rx) = oneshot::channel();
        let users: Vec<_> = users.into_iter().map(|u| (u, public)).collect();
        let job = AppendJob {
            users: users.into(),
            entry: msg(id, "room", text).into(),
            space: QueueSpace::untracked(),
        };
        (Command::Append(job, done), rx)
    };
    // In one batch: a message to a only, one to a and b, one to a only.
    let (c2, r2) = job(vec![a.clone()], 2, "two");
    let (c3, r3) = job(vec![a.clone(), b.clone()], 3, "three");
    let (c4, r4) = job(vec![a.clone()], 4, "four");
    w.write_batch(vec![c2, c3, c4]);
    assert!(r2.await.unwrap().is_ok());
    assert!(matches!(
        r3.await.unwrap(),
        Err(StoreError::Io { source, .. }) if source.kind() == std::io::ErrorKind::StorageFull
    ));
    assert!(r4.await.unwrap().is_ok());
    assert!(!healthy.load(Ordering::Relaxed));
    // "three" failed, so a does not have it either.
    w.sync_all();
    let path = path_in(dir.path(), &a);
    assert_eq!(read_all(&path, &secret), ["four", "two", "one"]);
    // And the file is whole: it reopens with no torn or stray frame and
    // takes more records.
    drop(w);
    let mut f = HistoryFile::open_append(&path, public).unwrap();
    f.append(&[&msg(5, "room", "five")]).unwrap();
    assert_eq!(read_all(&path, &secret), ["five", "four", "two", "one"]);
}

#[tokio::test]
async fn service_writes_before_completing_and_flushes_on_stop() {
    let dir = tempfile::tempdir().unwrap();
    let svc = HistoryService::start(dir.path(), 512).unwrap();
    let a = (
        UserId::generate(),
        HistorySecret::from_bytes(random_bytes()),
    );
    let b = (
        UserId::generate(),
        HistorySecret::from_bytes(random_bytes()),
    );
    let users: Arc<[(UserId, [u8; 32])]> =
        vec![(a.0.clone(), a.1.public()), (b.0.clone(), b.1.public())].into();
    let mut waits = Vec::new();
    for i in 0..50 {
        waits.push(svc.append(AppendJob {
            users: users.clone(),
            entry: msg(i, "room", &format!("n{i}")).into(),
            space: QueueSpace::untracked(),
        }));
    }
    for w in waits {
        w.await.unwrap().unwrap();
    }
    // Completed jobs are readable at once, by each recipient.
    for (id, secret) in [&a, &b] {
        let r = HistoryReader::open(&svc.path_of(id), secret).unwrap();
        let HistoryPage {
            messages: page,
            more,
            ..
        } = r.page(None, 100, |_| true).unwrap();
        assert_eq!(page.len(), 50);
        assert_eq!(page[0].text_str(), "n49");
        assert!(!more);
    }
    svc.flush_and_stop();
    let rx = svc.append(AppendJob {
        users,
        entry: msg(99, "room", "late").into(),
        space: QueueSpace::untracked(),
    });
    assert!(rx.await.unwrap().is_err());
}

fn job_waiting(
    users: &[(UserId, [u8; 32])],
    entry: Vec<u8>,
) -> (Command, oneshot::Receiver<Result<(), StoreError>>) {
    let (done, rx) = oneshot::channel();
    let job = AppendJob {
        users: users.to_vec().into(),
        entry: entry.into(),
        space: QueueSpace::untracked(),
    };
    (Command::Append(job, done), rx)
}

/// The group commit runs beside the writer: while an fsync is still
/// running, the next batch is written and its jobs completed (so their
/// messages are acknowledged); the fsync's outcome is collected later.
#[test]
fn writes_go_on_while_an_fsync_runs() {
    let dir = tempfile::tempdir().unwrap();
    let (mut w, secret) = writer_and_key(dir.path(), 512);
    let a = UserId::generate();
    let gate = w.syncs.gate.clone();
    let held = gate.lock().unwrap();
    w.append(&a, secret.public(), &[&msg(1, "room", "one")])
        .unwrap();
    w.sync_dirty();
    assert!(
        w.files.get(&a).unwrap().is_syncing(),
        "the fsync waits at the gate"
    );
    let (cmd, mut rx) = job_waiting(&[(a.clone(), secret.public())], msg(2, "room", "two"));
    assert!(w.write_batch(vec![cmd]).is_none());
    assert!(matches!(rx.try_recv(), Ok(Ok(()))), "written and completed");
    assert!(
        w.files.get(&a).unwrap().is_syncing(),
        "while the fsync still runs"
    );
    // Its fsync starts once the running one is back.
    w.sync_dirty();
    assert!(w.dirty.contains(&a));
    drop(held);
    w.sync_all();
    assert!(w.dirty.is_empty());
    assert_eq!(w.unsynced_bytes(), 0);
    assert!(w.files.get(&a).unwrap().is_clean());
    assert_eq!(read_all(&path_in(dir.path(), &a), &secret), ["two", "one"]);
}

/// Each frame's kind, from the start of a file.
fn kinds(path: &Path) -> Vec<u8> {
    super::super::test_support::frames(path)
        .into_iter()
        .map(|(kind, _)| kind)
        .collect()
}

/// Past its budget of open files the writer closes the least recently
/// written eighth, not every file; a closed file reopens without a new
/// segment.
#[test]
fn past_its_budget_the_writer_closes_an_eighth_and_resumes_their_segments() {
    let dir = tempfile::tempdir().unwrap();
    let (mut w, secret) = writer_and_key(dir.path(), 16);
    let users: Vec<UserId> = (0..17).map(|_| UserId::generate()).collect();
    for (i, user) in users[..16].iter().enumerate() {
        w.append(user, secret.public(), &[&msg(i as u64, "room", "hi")])
            .unwrap();
        std::thread::sleep(Duration::from_millis(2));
    }
    w.sync_all();
    assert_eq!(w.files.len(), 16);
    w.append(&users[16], secret.public(), &[&msg(16, "room", "hi")])
        .unwrap();
    assert_eq!(
        w.files.len(),
        15,
        "two (an eighth of 16) closed, then one opened"
    );
    assert!(w.files.get(&users[0]).is_none() && w.files.get(&users[1]).is_none());
    assert!(w.files.get(&users[2]).is_some());
    // users[0] is reopened: its bundle goes under its first segment.
    w.append(&users[0], secret.public(), &[&msg(17, "room", "again")])
        .unwrap();
    w.sync_all();
    let path = path_in(dir.path(), &users[0]);
    assert_eq!(kinds(&path), [KIND_SEGMENT, KIND_BUNDLE, KIND_BUNDLE]);
    assert_eq!(read_all(&path, &secret), ["again", "hi"]);
}

/// Files idle for a while are closed; writing to one again continues its
/// segment, so a message at human pace costs a bundle, not a segment too.
#[test]
fn an_idle_file_closed_and_written_again_keeps_its_segment() {
    let dir = tempfile::tempdir().unwrap();
    let (mut w, secret) = writer_and_key(dir.path(), 512);
    let user = UserId::generate();
    let path = path_in(dir.path(), &user);
    for i in 0..5 {
        w.append(&user, secret.public(), &[&msg(i, "room", "slowly")])
            .unwrap();
        w.sync_all();
        w.files.close_where(&w.dirty, |_| true);
        assert!(w.files.is_empty());
    }
    assert_eq!(
        kinds(&path),
        [
            KIND_SEGMENT,
            KIND_BUNDLE,
            KIND_BUNDLE,
            KIND_BUNDLE,
            KIND_BUNDLE,
            KIND_BUNDLE
        ]
    );
    assert_eq!(read_all(&path, &secret).len(), 5);
    // What each message cost on disk beyond its JSON: its bundle frame
    // (kind, lengths, segment offset, IV, entry length, tag), 69 bytes,
    // under the bound of 80.
    let frames = super::super::test_support::frames(&path);
    let entry = msg(0, "room", "slowly").len();
    for (_, body) in &frames[1..] {
        assert_eq!(5 + body + 4 - entry, 69);
    }
}
