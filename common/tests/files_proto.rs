//! Files and pictures (protocol v6, `cancel_upload` v7) on the wire: every example of
//! docs/protocol.md's "Files and pictures", byte for byte, and the rules
//! on names, ids, keys and chunks.
#![allow(clippy::unwrap_used, missing_docs)]

use cove_common::limits::FILE_CHUNK_BYTES;
use cove_common::proto::{Attachment, ChatMessage, ChunkData, FileId, FileKey, FileName, UploadId};
use cove_common::{
    ClientMessage, ClientMsgId, ErrorCode, MessageText, Request, RoomName, ServerMessage, Target,
    Username,
};

const PROTOCOL_MD: &str = include_str!("../../docs/protocol.md");
const UPLOAD: &str = "5f2c0e9a7b3d41c8a6e0f1d2c3b4a596";
const FILE: &str = "9a8b7c6d5e4f30211203f4e5d6c7b8a9";
const KEY: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f00112233445566778899aabbccddeeff0";
const HELLO: &[u8] = b"hello world\n";

fn documented(got: Vec<u8>, want: &str) {
    assert_eq!(String::from_utf8(got).unwrap(), want);
    assert!(PROTOCOL_MD.contains(want), "docs/protocol.md lacks {want}");
}
fn req(id: u64, request: Request) -> Vec<u8> {
    ClientMessage { id, request }.encode()
}
fn upload() -> UploadId {
    UploadId::new(UPLOAD).unwrap()
}
fn file() -> FileId {
    FileId::new(FILE).unwrap()
}
fn key() -> FileKey {
    FileKey::new(KEY).unwrap()
}
fn class() -> Target {
    Target::Room(RoomName::new("class").unwrap())
}

#[test]
fn requests_match_the_document() {
    let cases = [
        (
            req(
                40,
                Request::Upload {
                    name: FileName::new("notes.txt").unwrap(),
                    size: HELLO.len() as u64,
                },
            ),
            r#"{"id":40,"type":"upload","name":"notes.txt","size":12}"#.to_owned(),
        ),
        (
            req(
                41,
                Request::Chunk {
                    upload: upload(),
                    offset: 0,
                    data: ChunkData::new(HELLO.to_vec()).unwrap(),
                },
            ),
            format!(
                r#"{{"id":41,"type":"chunk","upload":"{UPLOAD}","offset":0,"data":"aGVsbG8gd29ybGQK"}}"#
            ),
        ),
        (
            req(
                42,
                Request::Send {
                    client_id: ClientMsgId::new("c8").unwrap(),
                    to: class(),
                    text: Some(MessageText::new("today's notes").unwrap()),
                    reply_to: None,
                    file: Some(upload()),
                },
            ),
            format!(
                r#"{{"id":42,"type":"send","client_id":"c8","to":{{"room":"class"}},"text":"today's notes","file":"{UPLOAD}"}}"#
            ),
        ),
        (
            req(43, Request::ResumeUpload { upload: upload() }),
            format!(r#"{{"id":43,"type":"resume_upload","upload":"{UPLOAD}"}}"#),
        ),
        (
            req(45, Request::CancelUpload { upload: upload() }),
            format!(r#"{{"id":45,"type":"cancel_upload","upload":"{UPLOAD}"}}"#),
        ),
        (
            req(
                44,
                Request::Download {
                    file: file(),
                    key: key(),
                    offset: 0,
                },
            ),
            format!(r#"{{"id":44,"type":"download","file":"{FILE}","key":"{KEY}","offset":0}}"#),
        ),
    ];
    for (got, want) in cases {
        documented(got, &want);
        // And each parses back.
        assert!(ClientMessage::parse(want.as_bytes()).is_ok(), "{want}");
    }
}

#[test]
fn server_messages_match_the_document() {
    let mut message = ChatMessage::new(
        1_763_800_000_000_500,
        1_763_800_050_000,
        Username::new("teacher").unwrap(),
        class(),
        MessageText::new("today's notes").unwrap(),
    );
    message.file = Some(Box::new(Attachment {
        id: file(),
        name: FileName::new("notes.txt").unwrap(),
        size: 12,
        key: key(),
    }));
    let error = |id, code, text: &str| ServerMessage::error(Some(id), code, text).encode();
    let cases = [
        (
            ServerMessage::UploadReady {
                id: 40,
                upload: upload(),
                size: 12,
                received: 0,
            }
            .encode(),
            format!(r#"{{"type":"upload_ready","id":40,"upload":"{UPLOAD}","size":12,"received":0}}"#),
        ),
        (
            ServerMessage::ChunkOk {
                id: 41,
                upload: upload(),
                received: 12,
            }
            .encode(),
            format!(r#"{{"type":"chunk_ok","id":41,"upload":"{UPLOAD}","received":12}}"#),
        ),
        (
            ServerMessage::Message(message).encode(),
            format!(
                r#"{{"type":"message","id":1763800000000500,"ts":1763800050000,"from":"teacher","to":{{"room":"class"}},"text":"today's notes","file":{{"id":"{FILE}","name":"notes.txt","size":12,"key":"{KEY}"}}}}"#
            ),
        ),
        (
            ServerMessage::FileData {
                id: 44,
                file: file(),
                offset: 0,
                size: 12,
                data: ChunkData::new(HELLO.to_vec()).unwrap(),
            }
            .encode(),
            format!(
                r#"{{"type":"file_data","id":44,"file":"{FILE}","offset":0,"size":12,"data":"aGVsbG8gd29ybGQK"}}"#
            ),
        ),
        (
            error(
                45,
                ErrorCode::TooLarge,
                "files larger than 26214400 bytes are not accepted here",
            ),
            r#"{"type":"error","id":45,"code":"too_large","message":"files larger than 26214400 bytes are not accepted here"}"#.to_owned(),
        ),
        (
            error(
                46,
                ErrorCode::OverQuota,
                "this would take you past your storage quota of 1073741824 bytes (1073000000 in use)",
            ),
            r#"{"type":"error","id":46,"code":"over_quota","message":"this would take you past your storage quota of 1073741824 bytes (1073000000 in use)"}"#.to_owned(),
        ),
        (
            error(
                47,
                ErrorCode::NoSuchUpload,
                "no such upload (unknown, already sent, given up or lost in a restart)",
            ),
            r#"{"type":"error","id":47,"code":"no_such_upload","message":"no such upload (unknown, already sent, given up or lost in a restart)"}"#.to_owned(),
        ),
        (
            error(44, ErrorCode::NoSuchFile, "no such file"),
            r#"{"type":"error","id":44,"code":"no_such_file","message":"no such file"}"#.to_owned(),
        ),
    ];
    for (got, want) in cases {
        documented(got, &want);
        assert!(ServerMessage::parse(want.as_bytes()).is_ok(), "{want}");
    }
}

#[test]
fn a_file_message_may_have_no_text() {
    let m = ClientMessage::parse(
        format!(
            r#"{{"id":1,"type":"send","client_id":"c","to":{{"user":"ann"}},"file":"{UPLOAD}"}}"#
        )
        .as_bytes(),
    )
    .unwrap();
    assert!(matches!(
        m.request,
        Request::Send {
            text: None,
            file: Some(_),
            ..
        }
    ));
}

#[test]
fn bad_names_ids_keys_and_chunks_are_refused_when_parsed() {
    let bad = [
        r#"{"id":1,"type":"upload","name":"../etc/passwd","size":1}"#.to_owned(),
        r#"{"id":1,"type":"upload","name":"","size":1}"#.to_owned(),
        r#"{"id":1,"type":"resume_upload","upload":"ABCDEF"}"#.to_owned(),
        format!(r#"{{"id":1,"type":"download","file":"{FILE}","key":"00","offset":0}}"#),
        format!(r#"{{"id":1,"type":"chunk","upload":"{UPLOAD}","offset":0,"data":"***"}}"#),
        format!(
            r#"{{"id":1,"type":"chunk","upload":"{UPLOAD}","offset":0,"data":"{}"}}"#,
            String::from(ChunkData::new(vec![0; FILE_CHUNK_BYTES]).unwrap()) + "AAAA"
        ),
    ];
    for b in bad {
        assert!(ClientMessage::parse(b.as_bytes()).is_err(), "{b}");
    }
}

#[test]
fn a_full_chunk_fits_in_one_record() {
    let full = req(
        u64::MAX,
        Request::Chunk {
            upload: upload(),
            offset: u64::MAX,
            data: ChunkData::new(vec![0xff; FILE_CHUNK_BYTES]).unwrap(),
        },
    );
    assert!(
        full.len() <= cove_common::record::MAX_RECORD_PLAINTEXT,
        "{}",
        full.len()
    );
    let reply = ServerMessage::FileData {
        id: u64::MAX,
        file: file(),
        offset: u64::MAX,
        size: u64::MAX,
        data: ChunkData::new(vec![0xff; FILE_CHUNK_BYTES]).unwrap(),
    }
    .encode();
    assert!(reply.len() <= cove_common::record::MAX_RECORD_PLAINTEXT);
}
