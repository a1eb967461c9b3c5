//! End-to-end behaviour of the server through the real client session.
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use cove_common::client::{Auth, ClientError};
use cove_common::proto::{ChatMessage, NoticeKind, Target};
use cove_common::{ClientMsgId, ErrorCode, MessageText, Request, RoomName, ServerMessage};
use support::*;

fn text(s: &str) -> MessageText {
    MessageText::new(s).unwrap()
}

fn room(s: &str) -> RoomName {
    RoomName::new(s).unwrap()
}

fn cid(s: &str) -> ClientMsgId {
    ClientMsgId::new(s).unwrap()
}

#[tokio::test]
async fn register_login_wrong_password_and_duplicate_name() {
    let srv = TestServer::start().await;
    let (_s, _e, welcome) = register(&srv.addr, "Alice").await;
    assert_eq!(welcome.session.username.as_str(), "Alice");
    assert_eq!(welcome.rooms.len(), 1);
    assert_eq!(welcome.rooms[0].name.as_str(), "general");

    // Same name in another letter case is taken.
    let err = try_auth(
        &srv.addr,
        Auth::Register {
            username: user("alice"),
            password: pw(PASSWORD),
        },
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            err,
            ClientError::Rejected {
                code: ErrorCode::NameTaken,
                ..
            }
        ),
        "{err:?}"
    );

    // Login works in any letter case and keeps the registered spelling.
    let (_s2, _e2, w2) = login(&srv.addr, "ALICE").await;
    assert_eq!(w2.session.username.as_str(), "Alice");

    // Wrong password and unknown user get the same generic message.
    let wrong = try_auth(
        &srv.addr,
        Auth::Login {
            username: user("alice"),
            password: pw("not the password"),
        },
    )
    .await
    .unwrap_err();
    let unknown = try_auth(
        &srv.addr,
        Auth::Login {
            username: user("nobody"),
            password: pw("not the password"),
        },
    )
    .await
    .unwrap_err();
    match (&wrong, &unknown) {
        (
            ClientError::Rejected {
                code: c1,
                message: m1,
            },
            ClientError::Rejected {
                code: c2,
                message: m2,
            },
        ) => {
            assert_eq!((*c1, *c2), (ErrorCode::AuthFailed, ErrorCode::AuthFailed));
            assert_eq!(m1, m2);
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn repeated_failures_are_rate_limited() {
    let srv = TestServer::start().await;
    drop(register(&srv.addr, "carol").await);
    let mut limited = false;
    for _ in 0..8 {
        let err = try_auth(
            &srv.addr,
            Auth::Login {
                username: user("carol"),
                password: pw("wrong password"),
            },
        )
        .await
        .unwrap_err();
        if matches!(
            err,
            ClientError::Rejected {
                code: ErrorCode::RateLimited,
                ..
            }
        ) {
            limited = true;
            break;
        }
    }
    assert!(limited, "rate limiting never engaged");
}

#[tokio::test]
async fn rooms_join_leave_list_members() {
    let srv = TestServer::start().await;
    let (alice, mut ae, _) = register(&srv.addr, "alice").await;
    let (bob, mut be, _) = register(&srv.addr, "bob").await;

    let id = alice
        .send(Request::Join { room: room("Rust") })
        .await
        .unwrap();
    let m = expect(
        &mut ae,
        "joined",
        |m| matches!(m, ServerMessage::Joined { id: i, .. } if *i == id),
    )
    .await;
    let ServerMessage::Joined { room: info, .. } = m else {
        unreachable!()
    };
    assert_eq!(
        (info.name.as_str(), info.members, info.online),
        ("Rust", 1, 1)
    );

    bob.send(Request::Join { room: room("rust") })
        .await
        .unwrap();
    // Alice sees bob join, under the room's original spelling.
    let n = expect(&mut ae, "join notice", |m| {
        matches!(m, ServerMessage::Notice(_))
    })
    .await;
    let ServerMessage::Notice(n) = n else {
        unreachable!()
    };
    assert_eq!(n.text, "bob joined #Rust");

    let id = alice.send(Request::ListRooms).await.unwrap();
    let m = expect(
        &mut ae,
        "rooms",
        |m| matches!(m, ServerMessage::Rooms { id: i, .. } if *i == id),
    )
    .await;
    let ServerMessage::Rooms { rooms, .. } = m else {
        unreachable!()
    };
    let names: Vec<_> = rooms.iter().map(|r| (r.name.as_str(), r.members)).collect();
    assert_eq!(names, vec![("general", 2), ("Rust", 2)]);

    let id = alice
        .send(Request::Members { room: room("rust") })
        .await
        .unwrap();
    let m = expect(
        &mut ae,
        "members",
        |m| matches!(m, ServerMessage::Members { id: i, .. } if *i == id),
    )
    .await;
    let ServerMessage::Members { members, .. } = m else {
        unreachable!()
    };
    assert_eq!(members.len(), 2);
    assert!(members.iter().all(|m| m.online));

    let id = bob
        .send(Request::Leave { room: room("rust") })
        .await
        .unwrap();
    expect(
        &mut be,
        "left",
        |m| matches!(m, ServerMessage::Left { id: i, .. } if *i == id),
    )
    .await;
    let n = expect(
        &mut ae,
        "leave notice",
        |m| matches!(m, ServerMessage::Notice(n) if matches!(n.kind, NoticeKind::Left { .. })),
    )
    .await;
    let ServerMessage::Notice(n) = n else {
        unreachable!()
    };
    assert_eq!(n.text, "bob left #Rust");

    // Bob is no longer a member: sending there is refused.
    let id = bob
        .say(Target::Room(room("rust")), text("hello?"), cid("b1"))
        .await
        .unwrap();
    let e = expect(
        &mut be,
        "error",
        |m| matches!(m, ServerMessage::Error { id: Some(i), .. } if *i == id),
    )
    .await;
    assert!(
        matches!(
            e,
            ServerMessage::Error {
                code: ErrorCode::NotMember,
                ..
            }
        ),
        "{e:?}"
    );

    // Nobody leaves general.
    let id = bob
        .send(Request::Leave {
            room: RoomName::general(),
        })
        .await
        .unwrap();
    let e = expect(
        &mut be,
        "error",
        |m| matches!(m, ServerMessage::Error { id: Some(i), .. } if *i == id),
    )
    .await;
    assert!(matches!(
        e,
        ServerMessage::Error {
            code: ErrorCode::CannotLeave,
            ..
        }
    ));
}

#[tokio::test]
async fn live_delivery_to_every_online_member_and_ack_to_sender() {
    let srv = TestServer::start().await;
    let (alice, mut ae, _) = register(&srv.addr, "alice").await;
    let (_bob, mut be, _) = register(&srv.addr, "bob").await;
    let (_carol, mut ce, _) = register(&srv.addr, "carol").await;
    // A second session of bob gets live messages too.
    let (_bob2, mut be2, _) = login(&srv.addr, "bob").await;

    let id = alice
        .say(
            Target::Room(RoomName::general()),
            text("hello all"),
            cid("a-1"),
        )
        .await
        .unwrap();
    let ack = expect(&mut ae, "ack", |m| matches!(m, ServerMessage::Ack { .. })).await;
    let ServerMessage::Ack {
        id: ack_id,
        client_id,
        message_id,
        ..
    } = ack
    else {
        unreachable!()
    };
    assert_eq!((ack_id, client_id.as_str()), (id, "a-1"));

    for (who, ev) in [("bob", &mut be), ("carol", &mut ce), ("bob2", &mut be2)] {
        let m = expect(ev, who, |m| matches!(m, ServerMessage::Message(_))).await;
        let ServerMessage::Message(m) = m else {
            unreachable!()
        };
        assert_eq!(m.id, message_id, "{who}");
        assert_eq!(m.from.as_str(), "alice");
        assert_eq!(m.text_str(), "hello all");
    }
}

#[tokio::test]
async fn direct_messages_reach_only_the_two_users() {
    let srv = TestServer::start().await;
    let (alice, mut ae, _) = register(&srv.addr, "alice").await;
    let (bob, mut be, _) = register(&srv.addr, "bob").await;
    let (carol, mut ce, _) = register(&srv.addr, "carol").await;

    alice
        .say(Target::User(user("Bob")), text("psst bob"), cid("dm1"))
        .await
        .unwrap();
    expect(&mut ae, "ack", |m| matches!(m, ServerMessage::Ack { .. })).await;
    let m = expect(&mut be, "dm", |m| matches!(m, ServerMessage::Message(_))).await;
    let ServerMessage::Message(m) = m else {
        unreachable!()
    };
    assert_eq!(m.text_str(), "psst bob");
    assert_eq!(m.to, Target::User(user("bob")));

    // Carol gets nothing: a ping round trip proves her queue is empty of it.
    let id = carol.send(Request::Ping).await.unwrap();
    let first = expect(&mut ce, "anything", |_| true).await;
    assert!(
        matches!(first, ServerMessage::Pong { id: i } if i == id),
        "{first:?}"
    );

    // Both see it in their history of the conversation with the other.
    let (messages, _) = history_page(&bob, &mut be, Target::User(user("alice")), None, 50).await;
    assert_eq!(messages.len(), 1);

    // Messages to unknown users are refused.
    let id = alice
        .say(Target::User(user("nobody")), text("hi"), cid("dm2"))
        .await
        .unwrap();
    let e = expect(
        &mut ae,
        "error",
        |m| matches!(m, ServerMessage::Error { id: Some(i), .. } if *i == id),
    )
    .await;
    assert!(matches!(
        e,
        ServerMessage::Error {
            code: ErrorCode::NoSuchUser,
            ..
        }
    ));
}

#[tokio::test]
async fn offline_user_finds_messages_in_history_with_unread_count() {
    let srv = TestServer::start().await;
    let (bob, _be, _) = register(&srv.addr, "bob").await;
    bob.logout().await.unwrap();
    drop(bob);
    let (alice, mut ae, _) = register(&srv.addr, "alice").await;
    for i in 0..3 {
        alice
            .say(
                Target::Room(RoomName::general()),
                text(&format!("msg {i}")),
                cid(&format!("c{i}")),
            )
            .await
            .unwrap();
        expect(&mut ae, "ack", |m| matches!(m, ServerMessage::Ack { .. })).await;
    }
    let (bob, mut be, welcome) = login(&srv.addr, "bob").await;
    assert_eq!(welcome.rooms[0].unread, 3);
    let (messages, more) =
        history_page(&bob, &mut be, Target::Room(RoomName::general()), None, 2).await;
    let texts: Vec<_> = messages.iter().map(|m| m.text_str()).collect();
    assert_eq!(texts, vec!["msg 2", "msg 1"]);
    assert!(more);
    let before = messages[1].id;
    let (messages, more) = history_page(
        &bob,
        &mut be,
        Target::Room(RoomName::general()),
        Some(before),
        50,
    )
    .await;
    let texts: Vec<_> = messages.iter().map(|m| m.text_str()).collect();
    assert_eq!(texts, vec!["msg 0"]);
    assert!(!more);
}

#[tokio::test]
async fn exit_and_dropped_connection_notify_others() {
    let srv = TestServer::start().await;
    let (_alice, mut ae, _) = register(&srv.addr, "alice").await;
    let (bob, mut be, _) = register(&srv.addr, "bob").await;
    let (carol, _ce, _) = register(&srv.addr, "carol").await;

    bob.logout().await.unwrap();
    let seen = until_closed(&mut be).await;
    assert!(
        seen.iter().any(|m| matches!(m, ServerMessage::Bye { .. })),
        "{seen:?}"
    );
    let n = expect(
        &mut ae,
        "exit notice",
        |m| matches!(m, ServerMessage::Notice(n) if matches!(n.kind, NoticeKind::Exited { .. })),
    )
    .await;
    let ServerMessage::Notice(n) = n else {
        unreachable!()
    };
    assert_eq!(n.text, "bob left the chat");

    // Carol's connection just drops.
    drop(carol);
    drop(_ce);
    let n = expect(
        &mut ae,
        "offline notice",
        |m| matches!(m, ServerMessage::Notice(n) if matches!(n.kind, NoticeKind::Offline { .. })),
    )
    .await;
    let ServerMessage::Notice(n) = n else {
        unreachable!()
    };
    assert_eq!(n.text, "carol went offline");
}

#[tokio::test]
async fn restart_keeps_accounts_rooms_and_history() {
    let mut srv = TestServer::start().await;
    let (alice, mut ae, _) = register(&srv.addr, "alice").await;
    alice
        .send(Request::Join {
            room: room("books"),
        })
        .await
        .unwrap();
    expect(&mut ae, "joined", |m| {
        matches!(m, ServerMessage::Joined { .. })
    })
    .await;
    alice
        .say(Target::Room(room("books")), text("remember me"), cid("r1"))
        .await
        .unwrap();
    expect(&mut ae, "ack", |m| matches!(m, ServerMessage::Ack { .. })).await;
    drop(register(&srv.addr, "bob").await);
    alice
        .say(Target::User(user("bob")), text("a secret"), cid("d1"))
        .await
        .unwrap();
    expect(
        &mut ae,
        "dm ack",
        |m| matches!(m, ServerMessage::Ack { client_id, .. } if client_id.as_str() == "d1"),
    )
    .await;
    drop((alice, ae));

    srv.restart().await;

    let (alice, mut ae, welcome) = login(&srv.addr, "alice").await;
    // Direct conversations are remembered too, on both sides.
    assert_eq!(welcome.directs, vec![user("bob")]);
    let (_b, _be, bob_welcome) = login(&srv.addr, "bob").await;
    assert_eq!(bob_welcome.directs, vec![user("alice")]);
    let names: Vec<_> = welcome
        .rooms
        .iter()
        .map(|r| r.name.as_str().to_owned())
        .collect();
    assert_eq!(names, vec!["books", "general"]);
    let (messages, _) = history_page(&alice, &mut ae, Target::Room(room("books")), None, 10).await;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].text_str(), "remember me");

    // New messages after a restart get larger ids.
    let id2 = alice
        .say(Target::Room(room("books")), text("again"), cid("r2"))
        .await
        .unwrap();
    let ack = expect(
        &mut ae,
        "ack",
        |m| matches!(m, ServerMessage::Ack { id, .. } if *id == id2),
    )
    .await;
    let ServerMessage::Ack { message_id, .. } = ack else {
        unreachable!()
    };
    assert!(message_id > messages[0].id);
}

#[tokio::test]
async fn graceful_shutdown_says_goodbye() {
    let mut srv = TestServer::start().await;
    let (_alice, mut ae, _) = register(&srv.addr, "alice").await;
    srv.stop().await;
    let seen = until_closed(&mut ae).await;
    assert!(
        seen.iter().any(
            |m| matches!(m, ServerMessage::Bye { reason } if reason.contains("shutting down"))
        ),
        "{seen:?}"
    );
}

#[cfg(unix)]
#[tokio::test]
async fn binary_prints_its_identity_and_exits_cleanly_on_sigterm() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_cove-server"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--log-level",
            "warn",
            "--data-dir",
        ])
        .arg(dir.path().join("data"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let addr = first
        .strip_prefix("Cove server listening on ")
        .unwrap()
        .to_owned();
    assert!(
        lines
            .next()
            .unwrap()
            .unwrap()
            .starts_with("Data directory: ")
    );
    let fp_line = lines.next().unwrap().unwrap();
    let (_, fp) = fp_line.rsplit_once(": ").unwrap();
    // The fingerprint printed is the one clients see.
    let pending = cove_common::client::connect(&addr).await.unwrap();
    assert_eq!(pending.server_key().fingerprint(), fp);
    let (_s, mut events, _) = pending
        .authenticate(Auth::Register {
            username: user("erin"),
            password: pw(PASSWORD),
        })
        .await
        .unwrap();

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let seen = until_closed(&mut events).await;
    assert!(
        seen.iter().any(|m| matches!(m, ServerMessage::Bye { .. })),
        "{seen:?}"
    );
    let exit = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(exit.success(), "{exit:?}");
    // The account it stored is there after the restart of a new server.
    let server = cove_server::Server::bind(test_config(dir.path().join("data")))
        .await
        .unwrap();
    let addr = server.local_addr().to_string();
    let _h = server.spawn();
    drop(login(&addr, "erin").await);
}

#[tokio::test]
async fn a_resent_client_id_is_acknowledged_once_and_delivered_once() {
    let srv = TestServer::start().await;
    let (alice, mut ae, _) = register(&srv.addr, "alice").await;
    let (bob, mut be, _) = register(&srv.addr, "bob").await;
    let mut acked = Vec::new();
    for _ in 0..2 {
        // As after a reconnect: the same client id, sent again.
        let id = alice
            .say(
                Target::Room(RoomName::general()),
                text("only once"),
                cid("same-1"),
            )
            .await
            .unwrap();
        acked.push(acked_message_id(&mut ae, id).await);
    }
    assert_eq!(acked[0], acked[1], "both acks name the same message");
    expect(&mut be, "the message", |m| {
        matches!(m, ServerMessage::Message(_))
    })
    .await;
    // Nothing else arrives for bob before his pong.
    let id = bob.send(Request::Ping).await.unwrap();
    let next = expect(&mut be, "anything", |_| true).await;
    assert!(
        matches!(next, ServerMessage::Pong { id: i } if i == id),
        "{next:?}"
    );
    // And bob's history holds it once.
    let (messages, _) =
        history_page(&bob, &mut be, Target::Room(RoomName::general()), None, 10).await;
    assert_eq!(messages.len(), 1);
}

#[tokio::test]
async fn a_resend_racing_the_first_copy_is_stored_once() {
    let srv = TestServer::start().await;
    let (alice, mut ae, _) = register(&srv.addr, "alice").await;
    let (bob, mut be, _) = register(&srv.addr, "bob").await;
    // Both copies leave before the first one's history write (grouped every
    // 100 ms) can have finished: the second arrives while the first is
    // still being written.
    let general = Target::Room(RoomName::general());
    let first = alice
        .say(general.clone(), text("raced"), cid("race-1"))
        .await
        .unwrap();
    let second = alice
        .say(general.clone(), text("raced"), cid("race-1"))
        .await
        .unwrap();
    let mut acked = Vec::new();
    for id in [first, second] {
        acked.push(acked_message_id(&mut ae, id).await);
    }
    assert_eq!(acked[0], acked[1], "both acks name the same message");
    let (messages, _) = history_page(&bob, &mut be, general.clone(), None, 10).await;
    assert_eq!(messages.len(), 1, "bob's history holds it once");
    let (messages, _) = history_page(&alice, &mut ae, general, None, 10).await;
    assert_eq!(messages.len(), 1, "alice's history holds it once");
}

#[tokio::test]
async fn names_are_spelled_as_registered_however_the_sender_typed_them() {
    let srv = TestServer::start().await;
    let (alice, mut ae, _) = register(&srv.addr, "alice").await;
    let (bob, mut be, _) = register(&srv.addr, "Bob").await;
    let id = alice
        .send(Request::Join {
            room: RoomName::new("Rust").unwrap(),
        })
        .await
        .unwrap();
    expect(
        &mut ae,
        "joined",
        |m| matches!(m, ServerMessage::Joined { id: i, .. } if *i == id),
    )
    .await;
    let id = bob
        .send(Request::Join {
            room: RoomName::new("rust").unwrap(),
        })
        .await
        .unwrap();
    expect(
        &mut be,
        "joined",
        |m| matches!(m, ServerMessage::Joined { id: i, .. } if *i == id),
    )
    .await;
    alice
        .say(Target::User(user("BOB")), text("psst"), cid("dm-case"))
        .await
        .unwrap();
    alice
        .say(
            Target::Room(RoomName::new("RUST").unwrap()),
            text("hello"),
            cid("room-case"),
        )
        .await
        .unwrap();
    let spelled = |m: &ChatMessage| match &m.to {
        Target::User(u) => u.as_str().to_owned(),
        Target::Room(r) => r.as_str().to_owned(),
    };
    // Both are stored once acknowledged.
    for _ in 0..2 {
        expect(&mut ae, "ack", |m| matches!(m, ServerMessage::Ack { .. })).await;
    }
    for want in ["Bob", "Rust"] {
        let live = expect(&mut be, "a message", |m| {
            matches!(m, ServerMessage::Message(_))
        })
        .await;
        let ServerMessage::Message(m) = live else {
            unreachable!()
        };
        assert_eq!(spelled(&m), want, "live");
    }
    let (page, _) = history_page(&bob, &mut be, Target::User(user("alice")), None, 10).await;
    assert_eq!(
        page.iter().map(spelled).collect::<Vec<_>>(),
        ["Bob"],
        "bob's history"
    );
    let (page, _) = history_page(&alice, &mut ae, Target::User(user("bob")), None, 10).await;
    assert_eq!(
        page.iter().map(spelled).collect::<Vec<_>>(),
        ["Bob"],
        "alice's history"
    );
    let (page, _) = history_page(
        &alice,
        &mut ae,
        Target::Room(RoomName::new("rust").unwrap()),
        None,
        10,
    )
    .await;
    assert_eq!(
        page.iter().map(spelled).collect::<Vec<_>>(),
        ["Rust"],
        "room history"
    );
}

#[tokio::test]
async fn big_rooms_get_no_presence_storm_but_still_hear_who_left() {
    let srv = TestServer::start().await;
    let (alice, mut ae, _) = register(&srv.addr, "alice").await;
    // general grows past the presence limit.
    for i in 0..cove_server::hub::PRESENCE_ROOM_LIMIT {
        drop(register(&srv.addr, &format!("user{i}")).await);
    }
    // Drain what the registrations caused while general was still small.
    let id = alice.send(Request::Ping).await.unwrap();
    expect(
        &mut ae,
        "pong",
        |m| matches!(m, ServerMessage::Pong { id: i } if *i == id),
    )
    .await;
    let (bob, _be, _) = login(&srv.addr, "user0").await;
    // No "is online" notice reached alice: her next message is the pong.
    let id = alice.send(Request::Ping).await.unwrap();
    let next = expect(&mut ae, "anything", |_| true).await;
    assert!(
        matches!(next, ServerMessage::Pong { id: i } if i == id),
        "{next:?}"
    );
    // "left the chat" is still told to everyone.
    bob.logout().await.unwrap();
    let n = expect(
        &mut ae,
        "exit notice",
        |m| matches!(m, ServerMessage::Notice(n) if matches!(n.kind, NoticeKind::Exited { .. })),
    )
    .await;
    let ServerMessage::Notice(n) = n else {
        unreachable!()
    };
    assert_eq!(n.text, "user0 left the chat");
}

/// Regression (found by `cove-faults crash`): message ids were taken before
/// the history write was queued, so concurrent senders could store them out
/// of id order, and paging by `before` id skipped messages.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_senders_page_back_completely() {
    const SENDERS: usize = 8;
    const EACH: usize = 150;
    let srv = TestServer::start().await;
    let mut clients = Vec::new();
    for i in 0..SENDERS {
        clients.push(register(&srv.addr, &format!("sender{i}")).await);
    }
    let mut tasks = Vec::new();
    for (i, (s, mut e, _)) in clients.into_iter().enumerate() {
        tasks.push(tokio::spawn(async move {
            for k in 0..EACH {
                s.say(
                    Target::Room(RoomName::general()),
                    text(&format!("s{i} m{k}")),
                    cid(&format!("{k}")),
                )
                .await
                .unwrap();
            }
            let mut acks = 0;
            while acks < EACH {
                expect(&mut e, "ack", |m| matches!(m, ServerMessage::Ack { .. })).await;
                acks += 1;
            }
            (s, e)
        }));
    }
    let mut sessions = Vec::new();
    for t in tasks {
        sessions.push(t.await.unwrap());
    }
    let (s, e) = &mut sessions[0];
    let mut seen = std::collections::HashSet::new();
    let mut ids = Vec::new();
    let mut before = None;
    loop {
        let (messages, more) =
            history_page(s, e, Target::Room(RoomName::general()), before, 7).await;
        before = messages.last().map(|m| m.id);
        for m in messages {
            ids.push(m.id);
            assert!(
                seen.insert(m.text_str().to_owned()),
                "{} twice",
                m.text_str()
            );
        }
        if !more {
            break;
        }
    }
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "ids not newest first");
    assert_eq!(
        seen.len(),
        SENDERS * EACH,
        "messages missing from history pages"
    );
}
