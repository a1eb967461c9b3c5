//! Disk trouble while the server runs: a full disk, a history directory that
//! cannot be opened. The sender gets a typed `Storage` error (no hang, no
//! ack), nothing stored before is damaged, the server keeps serving, and it
//! recovers by itself once the disk works again.
//!
//! A full disk is made without root by lowering this process's file-size
//! limit (`RLIMIT_FSIZE`): the kernel then fails `write(2)` part-way, exactly
//! at the limit, with `EFBIG`, which is the path a write on a full disk
//! takes (a short write, then an error). The limit is per process, so the
//! tests here take turns. `scripts/disk-trouble.sh` does the same with the
//! release binary on a real 4 MiB tmpfs (ENOSPC) and a read-only remount.
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use cove_common::client::{Auth, ClientError, Event, Events, Session};
use cove_common::proto::Target;
use cove_common::{ClientMsgId, ErrorCode, MessageText, Request, RoomName, ServerMessage};
use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
use support::*;

/// The file-size limit is per process: one test at a time.
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Lowers the soft file-size limit; restores it when dropped. Writes past
/// the limit fail with `EFBIG`, and the kernel also sends `SIGXFSZ`, whose
/// default action would kill the test, so a handler is installed for it.
struct FileSizeLimit {
    old: Rlimit,
    _xfsz: tokio::signal::unix::Signal,
}

impl FileSizeLimit {
    fn set(bytes: u64) -> Self {
        let xfsz = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::from_raw(
            rustix::process::Signal::XFSZ.as_raw(),
        ))
        .unwrap();
        let old = getrlimit(Resource::Fsize);
        setrlimit(
            Resource::Fsize,
            Rlimit {
                current: Some(bytes),
                maximum: old.maximum,
            },
        )
        .unwrap();
        Self { old, _xfsz: xfsz }
    }
}

impl Drop for FileSizeLimit {
    fn drop(&mut self) {
        setrlimit(
            Resource::Fsize,
            Rlimit {
                current: self.old.current,
                maximum: self.old.maximum,
            },
        )
        .unwrap();
    }
}

fn text(s: &str) -> MessageText {
    MessageText::new(s).unwrap()
}

fn general() -> Target {
    Target::Room(RoomName::general())
}

/// Sends a request and returns the reply to it (ack, error or other).
async fn reply_to(events: &mut Events, id: u64) -> ServerMessage {
    expect(events, "a reply", |m| match m {
        ServerMessage::Ack { id: i, .. } => *i == id,
        ServerMessage::Error { id: Some(i), .. } => *i == id,
        ServerMessage::Joined { id: i, .. }
        | ServerMessage::Left { id: i, .. }
        | ServerMessage::History { id: i, .. }
        | ServerMessage::Members { id: i, .. }
        | ServerMessage::Rooms { id: i, .. }
        | ServerMessage::Pong { id: i } => *i == id,
        _ => false,
    })
    .await
}

async fn say(s: &Session, events: &mut Events, to: Target, what: &str) -> ServerMessage {
    let id = s
        .say(
            to,
            text(what),
            ClientMsgId::new(what.replace(' ', "-")).unwrap(),
        )
        .await
        .unwrap();
    reply_to(events, id).await
}

async fn request(s: &Session, events: &mut Events, r: Request) -> ServerMessage {
    let id = s.send(r).await.unwrap();
    reply_to(events, id).await
}

fn is_storage_error(m: &ServerMessage) -> bool {
    matches!(m, ServerMessage::Error { code: ErrorCode::Storage, message, .. }
        if message.contains("disk") && !message.contains('/'))
}

async fn history_texts(s: &Session, events: &mut Events, with: Target) -> Vec<String> {
    let m = request(
        s,
        events,
        Request::History {
            with,
            before: None,
            limit: 100,
            cursor: None,
        },
    )
    .await;
    let ServerMessage::History { messages, .. } = m else {
        panic!("no history: {m:?}")
    };
    messages.iter().map(|m| m.text_str().to_owned()).collect()
}

/// Texts of the live messages that arrived until `until` did.
async fn live_texts_until(events: &mut Events, until: &str) -> Vec<String> {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(Event::Message(ServerMessage::Message(m)))) => {
                seen.push(m.text_str().to_owned());
                if m.text_str() == until {
                    return seen;
                }
            }
            Ok(Some(Event::Message(_))) => {}
            other => panic!("waiting for {until}: {other:?}"),
        }
    }
}

fn sizes(dir: &Path) -> Vec<(PathBuf, u64)> {
    let mut v: Vec<_> = files_under(dir)
        .into_iter()
        .map(|p| {
            let n = std::fs::metadata(&p).unwrap().len();
            (p, n)
        })
        .collect();
    v.sort();
    v
}

fn room_names(rooms: &[cove_common::proto::RoomInfo]) -> Vec<String> {
    let mut v: Vec<_> = rooms.iter().map(|r| r.name.as_str().to_owned()).collect();
    v.sort();
    v
}

#[tokio::test]
async fn full_disk_gives_storage_errors_damages_nothing_and_recovers() {
    let _turn = TURN.lock().await;
    let mut srv = TestServer::start().await;
    let hist_dir = srv.data_dir().join("chat_histories");
    let (alice, mut ae, _) = register(&srv.addr, "alice").await;
    let (bob, mut be, _) = register(&srv.addr, "bob").await;
    let club = RoomName::new("club").unwrap();
    let m = request(&alice, &mut ae, Request::Join { room: club.clone() }).await;
    assert!(matches!(m, ServerMessage::Joined { .. }), "{m:?}");
    for i in 0..5 {
        let m = say(&alice, &mut ae, general(), &format!("before {i}")).await;
        assert!(matches!(m, ServerMessage::Ack { .. }), "{m:?}");
    }
    live_texts_until(&mut be, "before 4").await;
    let before = sizes(&hist_dir);
    assert_eq!(before.len(), 2);
    let users_json = std::fs::read(srv.data_dir().join("users.json")).unwrap();

    // The disk fills up: the next record of each history fits only in part.
    let biggest = before.iter().map(|(_, n)| *n).max().unwrap();
    let limit = FileSizeLimit::set(biggest + 60);
    for i in 0..3 {
        let m = say(&alice, &mut ae, general(), &format!("full {i}")).await;
        assert!(is_storage_error(&m), "full {i}: {m:?}");
    }
    // Nothing partial was left behind: every history is cut back to its
    // last whole record, byte for byte as long as before.
    assert_eq!(sizes(&hist_dir), before);
    // Reading still works, and the server keeps serving other requests.
    let h = history_texts(&alice, &mut ae, general()).await;
    assert_eq!(h[0], "before 4");
    assert!(!h.iter().any(|t| t.starts_with("full")), "{h:?}");
    // (Bob's requests go through a second session of his: the first one
    // watches what he is shown live.)
    let (bob2, mut be2, _) = login(&srv.addr, "bob").await;
    assert!(matches!(
        request(&bob2, &mut be2, Request::Ping).await,
        ServerMessage::Pong { .. }
    ));
    assert!(matches!(
        request(
            &bob2,
            &mut be2,
            Request::Members {
                room: RoomName::general()
            }
        )
        .await,
        ServerMessage::Members { .. }
    ));

    // users.json cannot be rewritten either now.
    drop(limit);
    let limit = FileSizeLimit::set(16);
    let err = try_auth(
        &srv.addr,
        Auth::Register {
            username: user("carol"),
            password: pw(PASSWORD),
        },
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            err,
            ClientError::Rejected {
                code: ErrorCode::Storage,
                ..
            }
        ),
        "{err:?}"
    );
    let m = request(
        &bob2,
        &mut be2,
        Request::Join {
            room: RoomName::new("newroom").unwrap(),
        },
    )
    .await;
    assert!(is_storage_error(&m), "{m:?}");
    let m = request(&alice, &mut ae, Request::Leave { room: club.clone() }).await;
    assert!(is_storage_error(&m), "{m:?}");
    // No temporary file is left taking space, and users.json is untouched.
    assert_eq!(
        std::fs::read(srv.data_dir().join("users.json")).unwrap(),
        users_json
    );
    assert!(!srv.data_dir().join(".users.json.tmp").exists());

    // Space comes back: everything works again, with no restart.
    drop(limit);
    // The name of the failed registration was not half-taken.
    let (carol, mut ce, _) = register(&srv.addr, "carol").await;
    for i in 0..3 {
        // The client re-sends what failed, under the same client ids.
        let m = say(&alice, &mut ae, general(), &format!("full {i}")).await;
        assert!(matches!(m, ServerMessage::Ack { .. }), "retry {i}: {m:?}");
    }
    let m = say(&alice, &mut ae, general(), "after").await;
    assert!(matches!(m, ServerMessage::Ack { .. }), "{m:?}");
    // What bob saw live: the first failed message may have gone out before
    // the server knew the disk was full (it is queued for writing, then
    // shown unless the write has failed already); after that failure,
    // messages were shown only once stored, so the other failed ones never
    // reached him. Then the re-sent ones and "after".
    let live = live_texts_until(&mut be, "after").await;
    let resent = ["full 0", "full 1", "full 2", "after"];
    assert!(
        live == resent || (live[0] == "full 0" && live[1..] == resent),
        "{live:?}"
    );
    let m = say(&carol, &mut ce, general(), "carol here").await;
    assert!(matches!(m, ServerMessage::Ack { .. }), "{m:?}");

    // Everything acknowledged is stored once; nothing that failed is.
    let expected = [
        "carol here",
        "after",
        "full 2",
        "full 1",
        "full 0",
        "before 4",
        "before 3",
        "before 2",
        "before 1",
        "before 0",
    ];
    assert_eq!(history_texts(&alice, &mut ae, general()).await, expected);
    drop((alice, ae, bob, be, bob2, be2, carol, ce));

    // And the files on disk are whole: after a restart the histories read
    // the same, and the failed join and leave did not come back.
    srv.restart().await;
    let (alice, mut ae, w) = login(&srv.addr, "alice").await;
    assert_eq!(history_texts(&alice, &mut ae, general()).await, expected);
    assert_eq!(room_names(&w.rooms), ["club", "general"]);
    let (_bob, _be, w) = login(&srv.addr, "bob").await;
    assert_eq!(room_names(&w.rooms), ["general"]);
    drop(login(&srv.addr, "carol").await);
}

/// File descriptors of this process open on files under `dir`
/// (directories, which the history writers keep open read-only for
/// `syncfs`, are not files open for writing).
fn open_files_under(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|p| p.starts_with(dir) && !p.is_dir())
        .collect()
}

#[tokio::test]
async fn idle_histories_are_closed_and_an_unusable_directory_recovers() {
    let _turn = TURN.lock().await;
    let srv = TestServer::start().await;
    let hist_dir = srv.data_dir().join("chat_histories");
    let (alice, mut ae, _) = register(&srv.addr, "alice").await;
    let m = say(&alice, &mut ae, general(), "one").await;
    assert!(matches!(m, ServerMessage::Ack { .. }), "{m:?}");
    assert_eq!(open_files_under(&hist_dir).len(), 1);

    // Idle history files are closed, so no file stays open for writing
    // (a file system cannot be remounted read-only while one is).
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while !open_files_under(&hist_dir).is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "history files still open"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // Reopened when needed.
    let m = say(&alice, &mut ae, general(), "two").await;
    assert!(matches!(m, ServerMessage::Ack { .. }), "{m:?}");
    while !open_files_under(&hist_dir).is_empty() {
        assert!(
            std::time::Instant::now() < deadline + Duration::from_secs(15),
            "history files still open"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    // The history directory becomes unusable (a plain file takes its
    // place; unlike permissions, this stops root too): opening fails.
    let aside = srv.data_dir().join("chat_histories.aside");
    std::fs::rename(&hist_dir, &aside).unwrap();
    std::fs::write(&hist_dir, b"not a directory").unwrap();
    let m = say(&alice, &mut ae, general(), "lost").await;
    assert!(
        matches!(&m, ServerMessage::Error { code: ErrorCode::Storage, message, .. } if !message.contains('/')),
        "{m:?}"
    );
    assert!(matches!(
        request(&alice, &mut ae, Request::Ping).await,
        ServerMessage::Pong { .. }
    ));

    // Put back: the next message is stored, no restart.
    std::fs::remove_file(&hist_dir).unwrap();
    std::fs::rename(&aside, &hist_dir).unwrap();
    let m = say(&alice, &mut ae, general(), "three").await;
    assert!(matches!(m, ServerMessage::Ack { .. }), "{m:?}");
    assert_eq!(
        history_texts(&alice, &mut ae, general()).await,
        ["three", "two", "one"]
    );
}

/// A chunk the disk cannot take: `storage`, the upload and every byte of
/// it gone, nothing left in `files/`, and uploads work again once the disk
/// does.
#[tokio::test]
async fn a_full_disk_during_an_upload_leaves_no_partial_file() {
    use cove_common::limits::FILE_CHUNK_BYTES;
    use cove_common::proto::{ChunkData, FileName};
    let _turn = TURN.lock().await;
    let srv = TestServer::start().await;
    let (alice, mut ae, _) = register(&srv.addr, "alice").await;
    let answer = |id| move |m: &ServerMessage| m.answers() == Some(id);
    let begin = Request::Upload {
        name: FileName::new("scan.png").unwrap(),
        size: (FILE_CHUNK_BYTES * 3) as u64,
    };
    let id = alice.send(begin.clone()).await.unwrap();
    let ServerMessage::UploadReady { upload, .. } = expect(&mut ae, "ready", answer(id)).await
    else {
        panic!()
    };
    let chunk = |offset: usize| Request::Chunk {
        upload: upload.clone(),
        offset: offset as u64,
        data: ChunkData::new(vec![1; FILE_CHUNK_BYTES]).unwrap(),
    };
    // The first chunk fits under the limit, the second does not.
    let limit = FileSizeLimit::set((FILE_CHUNK_BYTES + FILE_CHUNK_BYTES / 2) as u64);
    let id = alice.send(chunk(0)).await.unwrap();
    let m = expect(&mut ae, "chunk_ok", answer(id)).await;
    assert!(matches!(m, ServerMessage::ChunkOk { .. }), "{m:?}");
    let id = alice.send(chunk(FILE_CHUNK_BYTES)).await.unwrap();
    let m = expect(&mut ae, "storage", answer(id)).await;
    assert!(is_storage_error(&m), "{m:?}");
    drop(limit);
    assert!(files_under(&srv.data_dir().join("files")).is_empty());
    let id = alice
        .send(Request::ResumeUpload {
            upload: upload.clone(),
        })
        .await
        .unwrap();
    let m = expect(&mut ae, "no_such_upload", answer(id)).await;
    assert!(
        matches!(
            m,
            ServerMessage::Error {
                code: ErrorCode::NoSuchUpload,
                ..
            }
        ),
        "{m:?}"
    );
    // The disk works again: so do uploads.
    let id = alice.send(begin).await.unwrap();
    let m = expect(&mut ae, "ready", answer(id)).await;
    assert!(matches!(m, ServerMessage::UploadReady { .. }), "{m:?}");
}
