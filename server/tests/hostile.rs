//! Bad input, tampering and crashes: each gets a typed error or a closed
//! connection, and nobody else is affected.
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use std::io::{Seek, SeekFrom, Write};

use cove_common::client::{Auth, ClientError};
use cove_common::proto::Target;
use cove_common::{ClientMsgId, ErrorCode, MessageText, Request, RoomName, ServerMessage};
use cove_server::Server;
use support::*;
use tokio::io::AsyncWriteExt;

fn text(s: &str) -> MessageText {
    MessageText::new(s).unwrap()
}

/// Alice is logged in and can still chat: the server is unharmed.
async fn still_serving(
    addr: &str,
    alice: &cove_common::client::Session,
    ae: &mut cove_common::client::Events,
) {
    let id = alice
        .say(
            Target::Room(RoomName::general()),
            text("still here"),
            ClientMsgId::new("ok").unwrap(),
        )
        .await
        .unwrap();
    expect(
        ae,
        "ack",
        |m| matches!(m, ServerMessage::Ack { id: i, .. } if *i == id),
    )
    .await;
    // And newcomers can still connect.
    let c = cove_common::client::connect(addr).await.unwrap();
    drop(c);
}

#[tokio::test]
async fn garbage_and_broken_frames_close_only_that_connection() {
    let srv = TestServer::start().await;
    let (alice, mut ae, _) = register(&srv.addr, "alice").await;

    // Garbage instead of a handshake.
    let mut s = tokio::net::TcpStream::connect(&srv.addr).await.unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    // Connect and close at once.
    drop(tokio::net::TcpStream::connect(&srv.addr).await.unwrap());
    // An oversized length prefix after the handshake.
    let mut raw = RawClient::connect(&srv.addr).await;
    raw.send_raw(&[0xff, 0xff, 0xff, 0xff]).await;
    assert!(
        raw.closed().await,
        "oversized frame must close the connection"
    );

    // A record with a flipped bit (wrong tag).
    let mut raw = RawClient::connect(&srv.addr).await;
    let mut frame = bytes::BytesMut::new();
    raw.sealer
        .seal_frame(
            &cove_common::ClientMessage {
                id: 1,
                request: Request::Ping,
            }
            .encode(),
            &mut frame,
        )
        .unwrap();
    let last = frame.len() - 1;
    frame[last] ^= 1;
    raw.send_raw(&frame).await;
    assert!(raw.closed().await, "bad tag must close the connection");

    // A replayed record.
    let mut raw = RawClient::connect(&srv.addr).await;
    let sent = raw.send(1, Request::Ping).await;
    assert!(matches!(
        raw.recv().await,
        Some(ServerMessage::Pong { id: 1 })
    ));
    raw.send_raw(&sent).await;
    assert!(
        raw.closed().await,
        "replayed record must close the connection"
    );

    still_serving(&srv.addr, &alice, &mut ae).await;
}

#[tokio::test]
async fn invalid_requests_get_typed_errors() {
    let srv = TestServer::start().await;
    let (alice, mut ae, _) = register(&srv.addr, "alice").await;
    let mut raw = RawClient::connect(&srv.addr).await;

    // Before login only register, login and ping are allowed.
    raw.send(1, Request::ListRooms).await;
    let m = raw.recv().await.unwrap();
    assert!(
        matches!(
            m,
            ServerMessage::Error {
                id: Some(1),
                code: ErrorCode::NotLoggedIn,
                ..
            }
        ),
        "{m:?}"
    );

    // Invalid JSON, an unknown type, a name breaking the rules, over-long text.
    let cases: [&[u8]; 4] = [
        b"{not json",
        br#"{"id":2,"type":"teleport"}"#,
        br#"{"id":3,"type":"register","username":"../x","password":"longenough"}"#,
        br#"{"id":4,"type":"login","username":"bob","password":"short"}"#,
    ];
    for case in cases {
        raw.send_plain(case).await;
        let m = raw.recv().await.unwrap();
        assert!(
            matches!(&m, ServerMessage::Error { code: ErrorCode::BadRequest, message, .. } if !message.is_empty()),
            "{m:?}"
        );
    }
    let long = format!(
        r#"{{"id":5,"type":"send","client_id":"x","to":{{"room":"general"}},"text":"{}"}}"#,
        "a".repeat(4001)
    );
    raw.send_plain(long.as_bytes()).await;
    let m = raw.recv().await.unwrap();
    assert!(
        matches!(&m, ServerMessage::Error { code: ErrorCode::BadRequest, message, .. } if message.contains("4000")),
        "{m:?}"
    );

    // A room the user is not in.
    let id = alice
        .send(Request::History {
            with: Target::Room(RoomName::new("secret").unwrap()),
            before: None,
            limit: 10,
            cursor: None,
        })
        .await
        .unwrap();
    let m = expect(
        &mut ae,
        "error",
        |m| matches!(m, ServerMessage::Error { id: Some(i), .. } if *i == id),
    )
    .await;
    assert!(
        matches!(
            m,
            ServerMessage::Error {
                code: ErrorCode::NoSuchRoom,
                ..
            }
        ),
        "{m:?}"
    );

    // Endless malformed requests end with a closed connection.
    for _ in 0..20 {
        raw.send_plain(b"[]").await;
    }
    assert!(raw.closed().await);

    still_serving(&srv.addr, &alice, &mut ae).await;
}

#[tokio::test]
async fn invalid_requests_echo_their_ids_and_keep_the_connection() {
    let srv = TestServer::start().await;
    let (alice, mut ae, _) = register(&srv.addr, "alice").await;
    let mut raw = RawClient::logged_in(&srv.addr, "alice").await;
    let long = "字".repeat(4001);
    let cases = [
        r#"{"id":ID,"type":"teleport"}"#.to_owned(),
        r#"{"id":ID,"type":"send","to":{"room":"general"},"text":"no client id"}"#.to_owned(),
        r#"{"id":ID,"type":"send","client_id":"","to":{"room":"general"},"text":"x"}"#.to_owned(),
        r#"{"id":ID,"type":"send","client_id":"c","to":{"room":"general"},"text":"   "}"#
            .to_owned(),
        r#"{"id":ID,"type":"send","client_id":"c","to":{"room":"general"},"text":"\u200b"}"#
            .to_owned(),
        format!(
            r#"{{"id":ID,"type":"send","client_id":"c","to":{{"room":"general"}},"text":"{long}"}}"#
        ),
        r#"{"id":ID,"type":"join","room":"../etc"}"#.to_owned(),
    ];
    // Far more than the 16 records that are not objects a connection may
    // send: bad values in a well-formed object never close it.
    for round in 0..5u64 {
        for (i, case) in cases.iter().enumerate() {
            let id = 100 + round * 10 + i as u64;
            raw.send_plain(case.replace("ID", &id.to_string()).as_bytes())
                .await;
            let m = raw.recv().await.unwrap();
            assert!(
                matches!(&m, ServerMessage::Error { id: Some(i), code: ErrorCode::BadRequest, .. } if *i == id),
                "{case}: {m:?}"
            );
        }
    }
    raw.send(7, Request::Ping).await;
    assert!(matches!(
        raw.recv().await,
        Some(ServerMessage::Pong { id: 7 })
    ));
    // Nothing was stored or delivered: alice's history of general is empty.
    let (page, _) =
        history_page(&alice, &mut ae, Target::Room(RoomName::general()), None, 10).await;
    assert!(page.is_empty(), "{page:?}");
}

#[tokio::test]
async fn records_that_are_not_objects_close_the_connection_with_a_reason() {
    let srv = TestServer::start().await;
    let mut raw = RawClient::connect(&srv.addr).await;
    for _ in 0..16 {
        raw.send_plain(b"[]").await;
        let m = raw.recv().await.unwrap();
        assert!(
            matches!(
                m,
                ServerMessage::Error {
                    id: None,
                    code: ErrorCode::BadRequest,
                    ..
                }
            ),
            "{m:?}"
        );
    }
    raw.send_plain(b"\"hello\"").await;
    let m = raw.recv().await.unwrap();
    assert!(
        matches!(&m, ServerMessage::Bye { reason } if reason == cove_server::cmd::BYE_NOT_OBJECTS),
        "{m:?}"
    );
    assert!(raw.closed().await);
}

/// A password hash that takes a few milliseconds, as real ones do, so that
/// logins sent together overlap.
fn overlapping_hashes(config: &mut cove_server::Config) {
    config.kdf = cove_server::KdfParams {
        m_cost_kib: 16 * 1024,
        t_cost: 2,
        p_cost: 1,
    };
}

#[tokio::test]
async fn parallel_guesses_are_throttled_like_sequential_ones() {
    let (addr, _handle, _dir) = start_with(overlapping_hashes).await;
    drop(register(&addr, "alice").await);
    // 64 connections, each with one wrong password, sent together.
    let mut conns = Vec::new();
    for _ in 0..64 {
        conns.push(RawClient::connect(&addr).await);
    }
    for c in &mut conns {
        c.send(
            1,
            Request::Login {
                username: user("alice"),
                password: pw("wrong password!"),
            },
        )
        .await;
    }
    let (mut checked, mut limited) = (0, 0);
    for c in &mut conns {
        match c.recv().await.unwrap() {
            ServerMessage::Error {
                code: ErrorCode::AuthFailed,
                ..
            } => checked += 1,
            ServerMessage::Error {
                code: ErrorCode::RateLimited,
                ..
            } => limited += 1,
            other => panic!("{other:?}"),
        }
    }
    // Three free failures and the one that starts the first lockout.
    assert!(checked <= 4, "{checked} passwords checked");
    assert_eq!(checked + limited, 64);
}

#[tokio::test]
async fn a_class_logging_in_at_once_from_one_address_is_not_locked_out() {
    let (addr, _handle, _dir) = start_with(overlapping_hashes).await;
    let names: Vec<String> = (0..20).map(|i| format!("student{i}")).collect();
    for n in &names {
        drop(register(&addr, n).await);
    }
    let mut conns = Vec::new();
    for _ in &names {
        conns.push(RawClient::connect(&addr).await);
    }
    for (c, n) in conns.iter_mut().zip(&names) {
        c.send(
            1,
            Request::Login {
                username: user(n),
                password: pw(PASSWORD),
            },
        )
        .await;
    }
    for (c, n) in conns.iter_mut().zip(&names) {
        let m = c.recv().await.unwrap();
        assert!(matches!(m, ServerMessage::Welcome { .. }), "{n}: {m:?}");
    }
}

#[tokio::test]
async fn pings_do_not_keep_a_connection_that_never_logs_in() {
    let (addr, _handle, _dir) = start_with(|config| {
        config.login_deadline = std::time::Duration::from_millis(1500);
    })
    .await;
    let mut raw = RawClient::connect(&addr).await;
    let started = std::time::Instant::now();
    let mut id = 0;
    let bye = loop {
        id += 1;
        raw.send(id, Request::Ping).await;
        match raw.recv().await {
            Some(ServerMessage::Pong { .. }) => {
                assert!(
                    started.elapsed() < std::time::Duration::from_secs(5),
                    "never closed"
                );
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
            other => break other,
        }
    };
    assert!(
        matches!(&bye, Some(ServerMessage::Bye { reason }) if reason == cove_server::cmd::BYE_NO_LOGIN),
        "{bye:?}"
    );
    assert!(raw.closed().await);
    assert!(started.elapsed() >= std::time::Duration::from_millis(1400));
}

#[tokio::test]
async fn one_address_cannot_hold_more_than_its_share_of_connections_waiting_to_log_in() {
    let (addr, _handle, _dir) = start_with(|config| {
        config.max_unauthenticated_per_address = 4;
    })
    .await;
    drop(register(&addr, "alice").await);
    let mut waiting = Vec::new();
    for _ in 0..4 {
        waiting.push(RawClient::connect(&addr).await);
    }
    // The fifth is closed before its handshake is answered.
    let refused = async {
        let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let (_hs, hello) = cove_common::handshake::ClientHandshake::start();
        let mut out = bytes::BytesMut::new();
        cove_common::frame::encode_frame(&hello, &mut out).unwrap();
        let _ = s.write_all(&out).await;
        let mut buf = bytes::BytesMut::new();
        read_frame(&mut s, &mut buf).await.is_none()
    };
    assert!(
        refused.await,
        "a fifth connection waiting to log in was admitted"
    );
    // Once one of them logs in, its place is free again.
    waiting[0]
        .send(
            1,
            Request::Login {
                username: user("alice"),
                password: pw(PASSWORD),
            },
        )
        .await;
    assert!(matches!(
        waiting[0].recv().await,
        Some(ServerMessage::Welcome { .. })
    ));
    let mut fifth = RawClient::connect(&addr).await;
    fifth.send(2, Request::Ping).await;
    assert!(matches!(
        fifth.recv().await,
        Some(ServerMessage::Pong { id: 2 })
    ));
}

#[tokio::test]
async fn one_user_cannot_flood_a_room() {
    let (addr, _handle, _dir) = start_with(|config| {
        config.messages_per_second_per_user = 5;
    })
    .await;
    let (alice, mut ae, _) = register(&addr, "alice").await;
    let general = Target::Room(RoomName::general());
    let mut ids = Vec::new();
    for i in 0..40 {
        let id = alice
            .say(
                general.clone(),
                text("flood"),
                ClientMsgId::new(format!("f{i}")).unwrap(),
            )
            .await
            .unwrap();
        ids.push(id);
    }
    // Refusals come at once, acks once stored: take replies as they come.
    let (mut acked, mut limited) = (0, 0);
    let mut waiting: std::collections::HashSet<u64> = ids.into_iter().collect();
    while !waiting.is_empty() {
        let m = expect(&mut ae, "a reply", |m| {
            m.answers().is_some_and(|i| waiting.contains(&i))
        })
        .await;
        waiting.remove(&m.answers().unwrap());
        match m {
            ServerMessage::Ack { .. } => acked += 1,
            ServerMessage::Error {
                code: ErrorCode::RateLimited,
                message,
                ..
            } => {
                assert!(message.contains("too fast"), "{message}");
                limited += 1;
            }
            other => panic!("{other:?}"),
        }
    }
    // A burst of three seconds' worth, then the sustained rate.
    assert!((15..=20).contains(&acked), "{acked} acked");
    assert_eq!(acked + limited, 40);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let id = alice
        .say(general, text("later"), ClientMsgId::new("later").unwrap())
        .await
        .unwrap();
    let m = expect(&mut ae, "ack", |m| m.answers() == Some(id)).await;
    assert!(matches!(m, ServerMessage::Ack { .. }), "{m:?}");
}

#[tokio::test]
async fn client_that_stops_reading_is_disconnected() {
    let (addr, _handle, _dir) = start_with(|config| {
        config.outbox_capacity = 8;
    })
    .await;

    let (alice, mut ae, _) = register(&addr, "alice").await;
    // Bob logs in by hand and then never reads again.
    let mut bob = RawClient::connect(&addr).await;
    bob.send(
        1,
        Request::Register {
            username: user("bob"),
            password: pw(PASSWORD),
        },
    )
    .await;
    assert!(matches!(
        bob.recv().await,
        Some(ServerMessage::Welcome { .. })
    ));
    // Alice floods the room until bob's socket buffers and his small queue
    // are full (kernel buffers hold a few MiB); each ack proves the server
    // keeps serving her meanwhile.
    let big = "x".repeat(3900);
    let mut bob_gone = false;
    for i in 0..10_000 {
        let id = alice
            .say(
                Target::Room(RoomName::general()),
                text(&big),
                ClientMsgId::new(format!("f{i}")).unwrap(),
            )
            .await
            .unwrap();
        expect(
            &mut ae,
            "ack",
            |m| matches!(m, ServerMessage::Ack { id: x, .. } if *x == id),
        )
        .await;
        if i % 20 == 19 {
            let id = alice
                .send(Request::Members {
                    room: RoomName::general(),
                })
                .await
                .unwrap();
            let m = expect(
                &mut ae,
                "members",
                |m| matches!(m, ServerMessage::Members { id: x, .. } if *x == id),
            )
            .await;
            let ServerMessage::Members { members, .. } = m else {
                unreachable!()
            };
            if members
                .iter()
                .any(|m| m.username.as_str() == "bob" && !m.online)
            {
                bob_gone = true;
                break;
            }
        }
    }
    assert!(bob_gone, "a client that never reads must be disconnected");
}

#[tokio::test]
async fn path_like_usernames_are_rejected_and_nothing_escapes() {
    let srv = TestServer::start().await;
    let mut raw = RawClient::connect(&srv.addr).await;
    for name in ["../x", "..", "a/b", "/etc/passwd", ".hidden", "x\u{0}y"] {
        let req = serde_json::json!({"id": 1, "type": "register", "username": name, "password": "longenough1"});
        raw.send_plain(req.to_string().as_bytes()).await;
        let m = raw.recv().await.unwrap();
        assert!(
            matches!(
                m,
                ServerMessage::Error {
                    code: ErrorCode::BadRequest,
                    ..
                }
            ),
            "{name}: {m:?}"
        );
    }
    drop(register(&srv.addr, "x.y-z").await);
    // Everything the server wrote is inside the data directory, and no file
    // name contains a username.
    let root = srv.dir.path();
    let mut all = Vec::new();
    for e in std::fs::read_dir(root).unwrap() {
        all.push(e.unwrap().file_name().into_string().unwrap());
    }
    assert_eq!(all, vec!["data".to_owned()]);
    for f in files_under(&srv.data_dir()) {
        let name = f.file_name().unwrap().to_string_lossy().to_lowercase();
        assert!(!name.contains("x.y-z"), "{f:?}");
    }
}

#[tokio::test]
async fn data_directory_holds_no_plaintext() {
    let mut srv = TestServer::start().await;
    let (alice, mut ae, _) = register(&srv.addr, "zebrafinch").await;
    drop(register(&srv.addr, "quokkaowner").await);
    alice
        .send(Request::Join {
            room: RoomName::new("narwhalclub").unwrap(),
        })
        .await
        .unwrap();
    expect(&mut ae, "joined", |m| {
        matches!(m, ServerMessage::Joined { .. })
    })
    .await;
    alice
        .say(
            Target::Room(RoomName::new("narwhalclub").unwrap()),
            text("the axolotl sings at midnight"),
            ClientMsgId::new("p").unwrap(),
        )
        .await
        .unwrap();
    expect(&mut ae, "ack", |m| matches!(m, ServerMessage::Ack { .. })).await;
    alice
        .say(
            Target::User(user("quokkaowner")),
            text("pangolin secrets"),
            ClientMsgId::new("q").unwrap(),
        )
        .await
        .unwrap();
    expect(&mut ae, "ack", |m| matches!(m, ServerMessage::Ack { .. })).await;
    srv.stop().await;

    let files = files_under(&srv.data_dir());
    assert!(files.len() >= 3, "{files:?}");
    for f in files {
        let bytes = std::fs::read(&f).unwrap();
        let lower = String::from_utf8_lossy(&bytes).to_lowercase();
        for needle in [
            "zebrafinch",
            "quokkaowner",
            "narwhalclub",
            "axolotl",
            "pangolin",
            "general",
            "longenough",
        ] {
            assert!(!lower.contains(needle), "{needle} found in {f:?}");
        }
    }
}

#[cfg(unix)]
#[tokio::test]
async fn data_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let mut srv = TestServer::start().await;
    let (alice, mut ae, _) = register(&srv.addr, "alice").await;
    alice
        .say(
            Target::Room(RoomName::general()),
            text("hi"),
            ClientMsgId::new("p").unwrap(),
        )
        .await
        .unwrap();
    expect(&mut ae, "ack", |m| matches!(m, ServerMessage::Ack { .. })).await;
    srv.stop().await;
    let dir_mode = std::fs::metadata(srv.data_dir())
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(dir_mode, 0o700);
    for f in files_under(&srv.data_dir()) {
        let mode = std::fs::metadata(&f).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{f:?}");
    }
}

#[tokio::test]
async fn tampered_users_json_is_refused_and_not_overwritten() {
    let mut srv = TestServer::start().await;
    drop(register(&srv.addr, "alice").await);
    srv.stop().await;
    let path = srv.data_dir().join("users.json");
    let mut bytes = std::fs::read(&path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();

    let err = Server::bind(test_config(srv.data_dir())).await.unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("users.json"), "{msg}");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        bytes,
        "tampered file was changed"
    );
}

#[tokio::test]
async fn torn_history_tail_is_cut_and_the_rest_stays() {
    let mut srv = TestServer::start().await;
    let (alice, mut ae, _) = register(&srv.addr, "alice").await;
    for i in 0..3 {
        alice
            .say(
                Target::Room(RoomName::general()),
                text(&format!("keep {i}")),
                ClientMsgId::new(format!("k{i}")).unwrap(),
            )
            .await
            .unwrap();
        expect(&mut ae, "ack", |m| matches!(m, ServerMessage::Ack { .. })).await;
    }
    drop((alice, ae));
    srv.stop().await;
    // Simulate a crash mid-write: half a record at the end of the file.
    let hist: Vec<_> = files_under(&srv.data_dir().join("chat_histories"));
    assert_eq!(hist.len(), 1);
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&hist[0])
        .unwrap();
    f.seek(SeekFrom::End(0)).unwrap();
    // The start of a record frame (kind 2, 256-byte body) cut short.
    f.write_all(&[2, 0, 0, 1, 0, 0xde, 0xad, 0xbe]).unwrap();
    drop(f);

    srv.restart().await;
    let (alice, mut ae, _) = login(&srv.addr, "alice").await;
    alice
        .say(
            Target::Room(RoomName::general()),
            text("after crash"),
            ClientMsgId::new("n").unwrap(),
        )
        .await
        .unwrap();
    expect(&mut ae, "ack", |m| matches!(m, ServerMessage::Ack { .. })).await;
    let (messages, _) =
        history_page(&alice, &mut ae, Target::Room(RoomName::general()), None, 10).await;
    let texts: Vec<_> = messages.iter().map(|m| m.text_str()).collect();
    assert_eq!(texts, vec!["after crash", "keep 2", "keep 1", "keep 0"]);
}

#[tokio::test]
async fn version_mismatch_is_reported_to_the_client() {
    use cove_common::frame::encode_frame;
    let srv = TestServer::start().await;
    let (_hs, mut hello) = cove_common::handshake::ClientHandshake::start();
    hello[4..6].copy_from_slice(&99u16.to_be_bytes());
    let mut s = tokio::net::TcpStream::connect(&srv.addr).await.unwrap();
    let mut out = bytes::BytesMut::new();
    encode_frame(&hello, &mut out).unwrap();
    s.write_all(&out).await.unwrap();
    let mut buf = bytes::BytesMut::new();
    let reply = read_frame(&mut s, &mut buf).await.unwrap();
    // The server answers with a rejection naming its own version (a client of
    // version 99 turns that into "version mismatch: we speak v99, the peer
    // speaks v2"; see the handshake's unit tests), then closes.
    assert_eq!(&reply[..], &cove_common::handshake::version_reject()[..]);
    assert_eq!(
        u16::from_be_bytes([reply[4], reply[5]]),
        cove_common::limits::PROTOCOL_VERSION
    );
    assert!(
        read_frame(&mut s, &mut buf).await.is_none(),
        "server must close"
    );
}

#[tokio::test]
async fn request_before_login_via_session_is_refused() {
    let srv = TestServer::start().await;
    let err = try_auth(
        &srv.addr,
        Auth::Login {
            username: user("ghost"),
            password: pw(PASSWORD),
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(
        err,
        ClientError::Rejected {
            code: ErrorCode::AuthFailed,
            ..
        }
    ));
}

/// A flipped byte anywhere in a history file costs at most the frame it is
/// in (and, in a segment frame, the bundles sealed under that segment):
/// every other message is still read, nothing is ever read as another
/// message, what is missing is counted as unreadable, and the writer
/// neither cuts nor overwrites the damaged bytes.
#[test]
fn every_flipped_byte_of_a_history_file_costs_only_its_frame() {
    use cove_common::proto::ChatMessage;
    use cove_server::credentials::HistorySecret;
    use cove_server::store::history::{HistoryFile, HistoryReader};

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("u.hist");
    let secret = HistorySecret::from_bytes([5; 32]);
    let entry = |id: u64, t: &str| {
        serde_json::to_vec(&ChatMessage::new(
            id,
            id,
            user("alice"),
            Target::Room(RoomName::general()),
            text(t),
        ))
        .unwrap()
    };
    let mut f = HistoryFile::open_append(&path, secret.public()).unwrap();
    f.append(&[&entry(1, "one"), &entry(2, "two")]).unwrap();
    f.append(&[&entry(3, "three")]).unwrap();
    drop(f);
    let original = std::fs::read(&path).unwrap();
    // The frames: a segment, the bundle of one and two, the bundle of three.
    let mut bounds = Vec::new();
    let mut at = 0;
    while at < original.len() {
        let len = u32::from_be_bytes(original[at + 1..at + 5].try_into().unwrap()) as usize;
        bounds.push(at..at + 5 + len + 4);
        at += 5 + len + 4;
    }
    assert_eq!(bounds.len(), 3);
    let read = |path: &std::path::Path| {
        let page = HistoryReader::open(path, &secret)
            .and_then(|r| r.page(None, 100, |_| true))
            .unwrap();
        let texts: Vec<String> = page
            .messages
            .iter()
            .map(|m| m.text_str().to_owned())
            .collect();
        (texts, page.unreadable)
    };
    assert_eq!(
        read(&path),
        (vec!["three".into(), "two".into(), "one".into()], 0)
    );
    for i in 0..original.len() {
        let mut bytes = original.clone();
        bytes[i] ^= 0x41;
        std::fs::write(&path, &bytes).unwrap();
        let (texts, unreadable) = read(&path);
        // Never another message, never out of order.
        let all = ["three", "two", "one"];
        let mut rest = all.iter();
        assert!(
            texts.iter().all(|t| rest.any(|a| a == t)),
            "flip at {i}: {texts:?}"
        );
        // Everything outside the damaged frame survives.
        let must: &[&str] = match bounds.iter().position(|b| b.contains(&i)).unwrap() {
            0 => &[],
            1 => &["three"],
            _ => &["two", "one"],
        };
        for m in must {
            assert!(
                texts.iter().any(|t| t == m),
                "flip at {i}: {m} lost: {texts:?}"
            );
        }
        if texts.len() < 3 {
            assert!(
                unreadable >= 1,
                "flip at {i}: {texts:?} with nothing reported"
            );
        }
        // The writer keeps the damaged bytes as they are.
        drop(HistoryFile::open_append(&path, secret.public()).unwrap());
        assert_eq!(
            std::fs::read(&path).unwrap(),
            bytes,
            "flip at {i}: the file was changed"
        );
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}

/// One flipped byte, then a hundred more messages: all of them are read
/// back, with the damaged one reported.
#[test]
fn messages_written_after_damage_stay_readable() {
    use cove_common::proto::ChatMessage;
    use cove_server::credentials::HistorySecret;
    use cove_server::store::history::{HistoryFile, HistoryReader};

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("u.hist");
    let secret = HistorySecret::from_bytes([6; 32]);
    let entry = |id: u64| {
        serde_json::to_vec(&ChatMessage::new(
            id,
            id,
            user("alice"),
            Target::Room(RoomName::general()),
            text(&format!("m{id}")),
        ))
        .unwrap()
    };
    let mut f = HistoryFile::open_append(&path, secret.public()).unwrap();
    for id in 1..=10 {
        f.append(&[&entry(id)]).unwrap();
    }
    drop(f);
    // The trailing length of the last frame: the case that used to move the
    // whole file aside.
    let mut bytes = std::fs::read(&path).unwrap();
    let n = bytes.len();
    bytes[n - 1] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();
    let mut f = HistoryFile::open_append(&path, secret.public()).unwrap();
    for id in 11..=110 {
        f.append(&[&entry(id)]).unwrap();
    }
    drop(f);
    let r = HistoryReader::open(&path, &secret).unwrap();
    let page = r.page(None, 200, |_| true).unwrap();
    let ids: Vec<u64> = page.messages.iter().map(|m| m.id).collect();
    let want: Vec<u64> = (1..=110).rev().filter(|&i| i != 10).collect();
    assert_eq!(ids, want);
    assert_eq!(page.unreadable, 1);
}

/// A registration flood from one address is cut to its hourly budget, with
/// a clear error, and logging in still works. (Other addresses keep their
/// own budget: `accounts.rs` unit test.)
#[tokio::test]
async fn registration_flood_from_one_address_is_limited() {
    let (addr, _handle, _dir) = start_with(|config| {
        config.registrations_per_address_per_hour = 3;
    })
    .await;
    for i in 0..3 {
        drop(register(&addr, &format!("flood{i}")).await);
    }
    let err = try_auth(
        &addr,
        Auth::Register {
            username: user("flood3"),
            password: pw(PASSWORD),
        },
    )
    .await
    .unwrap_err();
    let ClientError::Rejected { code, message } = err else {
        panic!("{err:?}")
    };
    assert_eq!(code, ErrorCode::RateLimited);
    assert!(message.contains("try again in"), "{message}");
    // Logging in is not registering.
    drop(login(&addr, "flood0").await);
}
