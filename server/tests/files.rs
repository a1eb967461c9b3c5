//! Files and pictures through a real server (protocol v6): an upload in
//! chunks, sent to a room and downloaded by another member, also after a
//! restart; an upload cut by a dropped connection and resumed; one file
//! stored once for many recipients and never in the clear; quotas, sizes
//! and wrong keys refused with their codes; a deleted message's file gone
//! and its quota freed; uploads lost in a restart.
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use cove_common::client::{Events, Session};
use cove_common::limits::FILE_CHUNK_BYTES;
use cove_common::proto::{Attachment, ChatMessage, ChunkData, FileKey, FileName, UploadId};
use cove_common::{ClientMsgId, ErrorCode, MessageText, Request, RoomName, ServerMessage, Target};
use support::*;

fn general() -> Target {
    Target::Room(RoomName::general())
}

/// Sends `request` and waits for its reply.
async fn call(s: &Session, ev: &mut Events, request: Request) -> ServerMessage {
    let id = s.send(request).await.unwrap();
    expect(ev, "the reply", |m| m.answers() == Some(id)).await
}

fn code_of(reply: ServerMessage) -> ErrorCode {
    match reply {
        ServerMessage::Error { code, .. } => code,
        other => panic!("expected an error, got {other:?}"),
    }
}

/// Some bytes that are not all alike, so that a misplaced chunk shows.
fn content(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 253) as u8).collect()
}

async fn begin(s: &Session, ev: &mut Events, name: &str, size: u64) -> Result<UploadId, ErrorCode> {
    let name = FileName::new(name).unwrap();
    match call(s, ev, Request::Upload { name, size }).await {
        ServerMessage::UploadReady {
            upload, received, ..
        } => {
            assert_eq!(received, 0);
            Ok(upload)
        }
        other => Err(code_of(other)),
    }
}

/// Sends the chunks of `bytes` from `from` up to `to`, four in flight at
/// a time, as a client would.
async fn put(
    s: &Session,
    ev: &mut Events,
    upload: &UploadId,
    bytes: &[u8],
    from: usize,
    to: usize,
) {
    let mut asked = Vec::new();
    for offset in (from..to).step_by(FILE_CHUNK_BYTES) {
        let end = (offset + FILE_CHUNK_BYTES).min(bytes.len());
        let data = ChunkData::new(bytes[offset..end].to_vec()).unwrap();
        let request = Request::Chunk {
            upload: upload.clone(),
            offset: offset as u64,
            data,
        };
        asked.push((s.send(request).await.unwrap(), end as u64));
        if asked.len() == 4 {
            let (id, end) = asked.remove(0);
            chunk_ok(ev, id, end).await;
        }
    }
    for (id, end) in asked {
        chunk_ok(ev, id, end).await;
    }
}

async fn chunk_ok(ev: &mut Events, id: u64, end: u64) {
    match expect(ev, "chunk_ok", |m| m.answers() == Some(id)).await {
        ServerMessage::ChunkOk { received, .. } => assert_eq!(received, end),
        other => panic!("{other:?}"),
    }
}

/// Uploads `bytes` whole.
async fn upload(s: &Session, ev: &mut Events, name: &str, bytes: &[u8]) -> UploadId {
    let upload = begin(s, ev, name, bytes.len() as u64).await.unwrap();
    put(s, ev, &upload, bytes, 0, bytes.len()).await;
    upload
}

fn file_send(client_id: &str, to: Target, text: Option<&str>, upload: &UploadId) -> Request {
    Request::Send {
        client_id: ClientMsgId::new(client_id).unwrap(),
        to,
        text: text.map(|t| MessageText::new(t).unwrap()),
        reply_to: None,
        file: Some(upload.clone()),
    }
}

/// Downloads a whole file, chunk by chunk.
async fn download(s: &Session, ev: &mut Events, file: &Attachment) -> Result<Vec<u8>, ErrorCode> {
    let mut out = Vec::new();
    for offset in (0..file.size).step_by(FILE_CHUNK_BYTES) {
        let request = Request::Download {
            file: file.id.clone(),
            key: file.key.clone(),
            offset,
        };
        match call(s, ev, request).await {
            ServerMessage::FileData {
                offset: at,
                size,
                data,
                ..
            } => {
                assert_eq!((at, size), (offset, file.size));
                out.extend_from_slice(data.as_bytes());
            }
            other => return Err(code_of(other)),
        }
    }
    Ok(out)
}

/// Waits for the next message carrying a file.
async fn next_file_message(ev: &mut Events) -> ChatMessage {
    match expect(
        ev,
        "a message with a file",
        |m| matches!(m, ServerMessage::Message(c) if c.file.is_some()),
    )
    .await
    {
        ServerMessage::Message(m) => m,
        _ => unreachable!(),
    }
}

fn stored_files(server: &TestServer) -> Vec<std::path::PathBuf> {
    files_under(&server.data_dir().join("files"))
        .into_iter()
        .filter(|p| !p.starts_with(server.data_dir().join("files").join("partial")))
        .collect()
}

#[tokio::test]
async fn a_file_sent_to_a_room_is_downloaded_by_others_also_after_a_restart() {
    let mut server = TestServer::start().await;
    let (alice, mut a_ev, welcome) = register(&server.addr, "alice").await;
    assert_eq!(welcome.session.max_file_bytes, 25 << 20);
    let (bob, mut b_ev, _) = register(&server.addr, "bob").await;
    let (carol, mut c_ev, _) = register(&server.addr, "carol").await;
    let bytes = content(FILE_CHUNK_BYTES * 3 + 1234);

    let up = upload(&alice, &mut a_ev, "worksheet.png", &bytes).await;
    let sent = call(
        &alice,
        &mut a_ev,
        file_send("f1", general(), Some("page 2"), &up),
    )
    .await;
    let ServerMessage::Ack { message_id, .. } = sent else {
        panic!("{sent:?}")
    };

    let got = next_file_message(&mut b_ev).await;
    assert_eq!(got.id, message_id);
    assert_eq!(got.text_str(), "page 2");
    let file = got.file.unwrap();
    assert_eq!(
        (file.name.as_str(), file.size),
        ("worksheet.png", bytes.len() as u64)
    );
    assert_eq!(download(&bob, &mut b_ev, &file).await.unwrap(), bytes);
    let carols = next_file_message(&mut c_ev).await.file.unwrap();
    assert_eq!(carols, file, "one file, one key, for every recipient");
    assert_eq!(download(&carol, &mut c_ev, &carols).await.unwrap(), bytes);

    // Stored once, however many recipients, and never in the clear.
    let stored = stored_files(&server);
    assert_eq!(stored.len(), 1, "{stored:?}");
    let raw = std::fs::read(&stored[0]).unwrap();
    assert!(!raw.windows(256).any(|w| w == &bytes[..256]));

    // The upload was used up by the send.
    let again = call(&alice, &mut a_ev, file_send("f2", general(), None, &up)).await;
    assert_eq!(code_of(again), ErrorCode::NoSuchUpload);

    drop((alice, bob, carol));
    server.restart().await;
    let (bob, mut b_ev, _) = login(&server.addr, "bob").await;
    let (page, _) = history_page(&bob, &mut b_ev, general(), None, 10).await;
    let from_history = page
        .into_iter()
        .find(|m| m.id == message_id)
        .and_then(|m| m.file)
        .expect("the file message is in bob's history");
    assert_eq!(from_history, file);
    assert_eq!(
        download(&bob, &mut b_ev, &from_history).await.unwrap(),
        bytes
    );
}

#[tokio::test]
async fn an_upload_cut_by_a_dropped_connection_resumes_where_it_stopped() {
    let server = TestServer::start().await;
    let (alice, mut a_ev, _) = register(&server.addr, "alice").await;
    let (bob, mut b_ev, _) = register(&server.addr, "bob").await;
    let bytes = content(FILE_CHUNK_BYTES * 5 + 10);
    let up = begin(&alice, &mut a_ev, "talk.pdf", bytes.len() as u64)
        .await
        .unwrap();
    put(&alice, &mut a_ev, &up, &bytes, 0, FILE_CHUNK_BYTES * 2).await;
    // A message in the middle of an upload goes through as usual.
    say_acked(&alice, &mut a_ev, general(), "uploading…", "m").await;
    drop((alice, a_ev));

    let (alice, mut a_ev, _) = login(&server.addr, "alice").await;
    let status = call(
        &alice,
        &mut a_ev,
        Request::ResumeUpload { upload: up.clone() },
    )
    .await;
    let ServerMessage::UploadReady { received, size, .. } = status else {
        panic!("{status:?}")
    };
    assert_eq!(
        (received, size),
        ((FILE_CHUNK_BYTES * 2) as u64, bytes.len() as u64)
    );
    // A chunk at the wrong place is refused and changes nothing.
    let wrong = Request::Chunk {
        upload: up.clone(),
        offset: 0,
        data: ChunkData::new(bytes[..FILE_CHUNK_BYTES].to_vec()).unwrap(),
    };
    assert_eq!(
        code_of(call(&alice, &mut a_ev, wrong).await),
        ErrorCode::BadRequest
    );
    // Sending it unfinished is refused too.
    let early = call(&alice, &mut a_ev, file_send("f1", general(), None, &up)).await;
    assert_eq!(code_of(early), ErrorCode::BadRequest);

    put(
        &alice,
        &mut a_ev,
        &up,
        &bytes,
        FILE_CHUNK_BYTES * 2,
        bytes.len(),
    )
    .await;
    let sent = call(
        &alice,
        &mut a_ev,
        file_send("f1", Target::User(user("bob")), None, &up),
    )
    .await;
    assert!(matches!(sent, ServerMessage::Ack { .. }), "{sent:?}");
    let got = next_file_message(&mut b_ev).await;
    assert_eq!(got.text, None, "a file needs no text");
    assert_eq!(
        download(&bob, &mut b_ev, &got.file.unwrap()).await.unwrap(),
        bytes
    );
}

#[tokio::test]
async fn sizes_quotas_keys_and_offsets_are_refused_with_their_codes() {
    let (addr, _server, _dir) = start_with(|c| {
        c.max_file_bytes = 100_000;
        c.file_quota_bytes = 150_000;
    })
    .await;
    let (alice, mut a_ev, welcome) = register(&addr, "alice").await;
    assert_eq!(welcome.session.max_file_bytes, 100_000);
    assert_eq!(
        begin(&alice, &mut a_ev, "big.bin", 100_001).await,
        Err(ErrorCode::TooLarge)
    );
    assert_eq!(
        begin(&alice, &mut a_ev, "empty.txt", 0).await,
        Err(ErrorCode::BadRequest)
    );

    let first = content(90_000);
    let up = upload(&alice, &mut a_ev, "a.bin", &first).await;
    // An upload in progress already counts against the quota.
    assert_eq!(
        begin(&alice, &mut a_ev, "b.bin", 70_000).await,
        Err(ErrorCode::OverQuota)
    );
    let sent = call(&alice, &mut a_ev, file_send("f1", general(), None, &up)).await;
    assert!(matches!(sent, ServerMessage::Ack { .. }));
    // The sending connection gets the ack; its copy is in its history.
    let (page, _) = history_page(&alice, &mut a_ev, general(), None, 5).await;
    let file = page.into_iter().find_map(|m| m.file).unwrap();
    assert_eq!(
        begin(&alice, &mut a_ev, "b.bin", 70_000).await,
        Err(ErrorCode::OverQuota)
    );

    // A wrong key finds nothing; an offset inside a chunk is refused.
    let wrong = Attachment {
        key: FileKey::from_bytes(&[7; 32]),
        ..*file.clone()
    };
    assert_eq!(
        download(&alice, &mut a_ev, &wrong).await,
        Err(ErrorCode::NoSuchFile)
    );
    let inside = Request::Download {
        file: file.id.clone(),
        key: file.key.clone(),
        offset: 5,
    };
    assert_eq!(
        code_of(call(&alice, &mut a_ev, inside).await),
        ErrorCode::BadRequest
    );
    // Someone else's upload is not found.
    let (eve, mut e_ev, _) = register(&addr, "eve").await;
    let theirs = call(&eve, &mut e_ev, Request::ResumeUpload { upload: up }).await;
    assert_eq!(code_of(theirs), ErrorCode::NoSuchUpload);
    // A send with neither text nor file is refused.
    let nothing = Request::Send {
        client_id: ClientMsgId::new("n").unwrap(),
        to: general(),
        text: None,
        reply_to: None,
        file: None,
    };
    assert_eq!(
        code_of(call(&eve, &mut e_ev, nothing).await),
        ErrorCode::BadRequest
    );
    // At most four uploads in progress.
    for i in 0..4 {
        begin(&eve, &mut e_ev, &format!("{i}.txt"), 10)
            .await
            .unwrap();
    }
    assert_eq!(
        begin(&eve, &mut e_ev, "5.txt", 10).await,
        Err(ErrorCode::Busy)
    );
}

#[tokio::test]
async fn a_deleted_message_takes_its_file_along_and_frees_the_quota() {
    let (addr, _server, dir) = start_with(|c| c.file_quota_bytes = 100_000).await;
    let (alice, mut a_ev, _) = register(&addr, "alice").await;
    let (bob, mut b_ev, _) = register(&addr, "bob").await;
    let up = upload(&alice, &mut a_ev, "a.bin", &content(80_000)).await;
    let sent = call(&alice, &mut a_ev, file_send("f1", general(), None, &up)).await;
    let ServerMessage::Ack { message_id, .. } = sent else {
        panic!()
    };
    let file = next_file_message(&mut b_ev).await.file.unwrap();
    assert_eq!(
        begin(&alice, &mut a_ev, "b.bin", 80_000).await,
        Err(ErrorCode::OverQuota)
    );

    let delete = Request::Delete {
        client_id: ClientMsgId::new("d1").unwrap(),
        with: general(),
        message_id,
    };
    assert!(matches!(
        call(&alice, &mut a_ev, delete).await,
        ServerMessage::Ack { .. }
    ));
    assert_eq!(
        download(&bob, &mut b_ev, &file).await,
        Err(ErrorCode::NoSuchFile)
    );
    let left: Vec<_> = files_under(&dir.path().join("data").join("files"));
    assert!(left.is_empty(), "{left:?}");
    let (page, _) = history_page(&bob, &mut b_ev, general(), None, 5).await;
    let deleted = page.iter().find(|m| m.id == message_id).unwrap();
    assert_eq!(deleted.file, None);
    assert!(
        begin(&alice, &mut a_ev, "b.bin", 80_000).await.is_ok(),
        "quota freed"
    );
}

#[tokio::test]
async fn a_restart_loses_uploads_in_progress_and_their_bytes() {
    let mut server = TestServer::start().await;
    let (alice, mut a_ev, _) = register(&server.addr, "alice").await;
    let bytes = content(FILE_CHUNK_BYTES * 2);
    let up = begin(&alice, &mut a_ev, "half.bin", bytes.len() as u64)
        .await
        .unwrap();
    put(&alice, &mut a_ev, &up, &bytes, 0, FILE_CHUNK_BYTES).await;
    assert_eq!(files_under(&server.data_dir().join("files")).len(), 1);
    drop(alice);
    server.restart().await;
    assert!(files_under(&server.data_dir().join("files")).is_empty());
    let (alice, mut a_ev, _) = login(&server.addr, "alice").await;
    let status = call(&alice, &mut a_ev, Request::ResumeUpload { upload: up }).await;
    assert_eq!(code_of(status), ErrorCode::NoSuchUpload);
}

#[tokio::test]
async fn a_cancelled_upload_is_gone_with_its_bytes_and_frees_quota_and_slot() {
    let (addr, _server, dir) = start_with(|c| c.file_quota_bytes = 150_000).await;
    let (alice, mut a_ev, _) = register(&addr, "alice").await;
    let bytes = content(100_000);
    let half = begin(&alice, &mut a_ev, "half.bin", bytes.len() as u64)
        .await
        .unwrap();
    put(&alice, &mut a_ev, &half, &bytes, 0, FILE_CHUNK_BYTES * 2).await;
    // It counts against the quota while in progress.
    assert_eq!(
        begin(&alice, &mut a_ev, "more.bin", 60_000).await,
        Err(ErrorCode::OverQuota)
    );
    // Only its owner can cancel it.
    let (eve, mut e_ev, _) = register(&addr, "eve").await;
    let theirs = Request::CancelUpload {
        upload: half.clone(),
    };
    assert_eq!(
        code_of(call(&eve, &mut e_ev, theirs).await),
        ErrorCode::NoSuchUpload
    );
    let cancel = Request::CancelUpload {
        upload: half.clone(),
    };
    assert!(matches!(
        call(&alice, &mut a_ev, cancel.clone()).await,
        ServerMessage::Done { .. }
    ));
    // Its bytes are removed (the removal runs off the async threads).
    let partial = dir.path().join("data").join("files").join("partial");
    for _ in 0..100 {
        if files_under(&partial).is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(files_under(&partial).is_empty());
    // Its id is unknown from then on, for every request.
    let chunk = Request::Chunk {
        upload: half.clone(),
        offset: (FILE_CHUNK_BYTES * 2) as u64,
        data: ChunkData::new(bytes[FILE_CHUNK_BYTES * 2..FILE_CHUNK_BYTES * 3].to_vec()).unwrap(),
    };
    assert_eq!(
        code_of(call(&alice, &mut a_ev, chunk).await),
        ErrorCode::NoSuchUpload
    );
    assert_eq!(
        code_of(call(&alice, &mut a_ev, cancel).await),
        ErrorCode::NoSuchUpload
    );
    let send = file_send("c1", general(), None, &half);
    assert_eq!(
        code_of(call(&alice, &mut a_ev, send).await),
        ErrorCode::NoSuchUpload
    );
    // The quota and the upload slots are free again.
    let again = upload(&alice, &mut a_ev, "again.bin", &content(140_000)).await;
    assert!(matches!(
        call(&alice, &mut a_ev, file_send("c2", general(), None, &again)).await,
        ServerMessage::Ack { .. }
    ));
    for i in 0..4 {
        let up = begin(&alice, &mut a_ev, &format!("{i}.txt"), 10)
            .await
            .unwrap();
        let cancel = Request::CancelUpload { upload: up };
        assert!(matches!(
            call(&alice, &mut a_ev, cancel).await,
            ServerMessage::Done { .. }
        ));
    }
    begin(&alice, &mut a_ev, "fifth.txt", 10).await.unwrap();
}
