//! A tiny benchmark against the real server library: every delivery
//! arrives exactly once.
#![allow(clippy::unwrap_used, missing_docs)]

use std::time::Duration;

use cove_bench::run::{Plan, run};
use cove_server::{Config, KdfParams, Server, ServerHandle};

/// A server on 127.0.0.1:0 with light Argon2 and no registration budget
/// (every simulated user registers from here); its address, handle and
/// data directory.
async fn start_server() -> (String, ServerHandle, tempfile::TempDir) {
    start_server_with(|config| config.messages_per_second_per_user = 0).await
}

/// Like [`start_server`], with the send rate left on and whatever `tune`
/// changes.
async fn start_server_with(
    tune: impl FnOnce(&mut Config),
) -> (String, ServerHandle, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new("127.0.0.1:0", dir.path().join("data"));
    config.kdf = KdfParams::insecure_for_tests();
    config.registrations_per_address_per_hour = 0;
    tune(&mut config);
    let server = Server::bind(config).await.unwrap();
    let addr = server.local_addr().to_string();
    (addr, server.spawn(), dir)
}

/// Six clients in one room sending three messages each as fast as acked;
/// each test changes what it needs.
fn small_plan() -> Plan {
    Plan {
        clients: 6,
        rooms: 1,
        messages: 3,
        size: 100,
        rate: None,
        concurrency: 3,
        window: 2,
        drain: Duration::from_secs(10),
        storm: 0,
        offline: 0,
        server_pid: None,
        mix: false,
        file_bytes: 0,
        file_downloads: 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_shared_during_the_chat_reaches_every_downloader_whole() {
    let (addr, handle, _dir) = start_server().await;
    let plan = Plan {
        messages: 20,
        file_bytes: 300_000,
        file_downloads: 3,
        ..small_plan()
    };
    let out = run(&addr, &plan, "f").await.unwrap();
    // The chat is unaffected: every message delivered once.
    assert_eq!(out.deliveries_received, 6 * 5 * 20);
    assert_eq!(out.duplicates, 0);
    // And the file went up and came down whole (`share` compares every
    // download with what was sent).
    let shared = out.shared.expect("the file was shared");
    assert_eq!((shared.bytes, shared.downloads), (300_000, 3));
    assert!(shared.upload_s > 0.0 && shared.download_s > 0.0);
    handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mixed_workload_reacts_edits_and_types_without_refusals() {
    let (addr, handle, _dir) = start_server().await;
    let plan = Plan {
        messages: 40,
        mix: true,
        ..small_plan()
    };
    let out = run(&addr, &plan, "x").await.unwrap();
    // 34 of each client's 40 requests are messages, 6 are changes.
    assert_eq!(out.messages_sent, 6 * 34);
    assert_eq!(out.changes_sent, 6 * 6);
    assert_eq!(out.deliveries_received, 6 * 5 * 34);
    assert_eq!(out.duplicates, 0);
    assert_eq!(out.refused, 0, "every reaction and edit found its message");
    assert!(out.typing_sent >= 6, "every client typed at least once");
    // Every change reached the five others; typing adds to that.
    assert!(out.events_received >= 6 * 6 * 5, "{}", out.events_received);
    handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_members_are_members_that_never_come_online() {
    use cove_common::client::{Auth, connect};
    use cove_common::{Password, Request, ServerMessage, Username};

    let (addr, handle, _dir) = start_server().await;
    let plan = Plan {
        clients: 4,
        offline: 5,
        ..small_plan()
    };
    let out = run(&addr, &plan, "o").await.unwrap();
    // Only the online clients count deliveries.
    assert_eq!(out.deliveries_received, 4 * 3 * 3);
    // The room has all nine, five of them offline; and an offline member
    // finds every message in their history.
    let (session, mut events, _) = connect(&addr)
        .await
        .unwrap()
        .authenticate(Auth::Login {
            username: Username::new("bo-4").unwrap(),
            password: Password::new("bench password 123").unwrap(),
        })
        .await
        .unwrap();
    let room = cove_bench::run::room_of("o", 0, 1);
    let id = session
        .send(Request::Members { room: room.clone() })
        .await
        .unwrap();
    let id2 = session
        .send(Request::History {
            with: cove_common::Target::Room(room),
            before: None,
            limit: 100,
            cursor: None,
        })
        .await
        .unwrap();
    let (mut total, mut online, mut stored) = (None, 0, None);
    while total.is_none() || stored.is_none() {
        let Some(cove_common::client::Event::Message(m)) = events.recv().await else {
            panic!("closed")
        };
        match m {
            ServerMessage::Members {
                id: i,
                members,
                total: t,
                ..
            } if i == id => {
                total = Some(t);
                online = members.iter().filter(|m| m.online).count();
            }
            ServerMessage::History {
                id: i, messages, ..
            } if i == id2 => stored = Some(messages.len()),
            _ => {}
        }
    }
    assert_eq!(total, Some(9));
    assert_eq!(online, 1, "only the one logged in just now");
    assert_eq!(stored, Some(12));
    drop(session);
    handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_delivery_arrives_once() {
    let (addr, handle, _dir) = start_server().await;
    for (rooms, rate) in [(1, None), (2, Some(200.0))] {
        let plan = Plan {
            rooms,
            rate,
            storm: 3,
            ..small_plan()
        };
        let tag = format!("t{rooms}");
        let out = run(&addr, &plan, &tag).await.unwrap();
        // Rooms of 6 (or 3 + 3) members: each message reaches the others.
        let expected = if rooms == 1 { 6 * 5 * 3 } else { 2 * 3 * 2 * 3 };
        assert_eq!(out.deliveries_expected, expected);
        assert_eq!(out.deliveries_received, expected);
        assert_eq!(out.duplicates, 0);
        assert_eq!(out.messages_sent, 18);
        assert_eq!(out.latency_us.unwrap().len(), expected);
        // The storm's three extra accounts logged in during the phase.
        assert!(out.storm_s > 0.0);
    }
    // Idle mode: everyone logs in and stays; no messages.
    let idle = Plan {
        clients: 5,
        messages: 0,
        // More logins in flight from one network than the throttle's free
        // attempts: they queue, and every one gets in.
        concurrency: 8,
        window: 1,
        drain: Duration::from_millis(100),
        server_pid: Some(std::process::id()),
        ..small_plan()
    };
    let out = run(&addr, &idle, "idle").await.unwrap();
    assert_eq!(out.sessions_held, 5);
    // The server runs in this process here, so its memory is ours.
    assert!(out.server_rss_idle_mib.is_some_and(|m| m > 0.0));
    assert_eq!(out.deliveries_expected, 0);
    handle.shutdown().await;
}

/// Two runs against one server do not share rooms: each run's room holds
/// its own clients only (with fixed room names, the second run's room also
/// held the first run's clients, offline, and their history).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_against_one_server_have_rooms_of_their_own() {
    use cove_bench::run::{room_of, run_tag};
    use cove_common::client::{Auth, Event, connect};
    use cove_common::{Password, Request, ServerMessage, Username};

    let (addr, handle, _dir) = start_server().await;
    let plan = Plan {
        clients: 3,
        ..small_plan()
    };
    let tags = [run_tag(), format!("{}x", run_tag())];
    for tag in &tags {
        let out = run(&addr, &plan, tag).await.unwrap();
        assert_eq!(out.deliveries_received, 3 * 2 * 3);
    }
    assert_ne!(room_of(&tags[0], 0, 1), room_of(&tags[1], 0, 1));
    let (session, mut events, _) = connect(&addr)
        .await
        .unwrap()
        .authenticate(Auth::Login {
            username: Username::new(format!("b{}-0", tags[1])).unwrap(),
            password: Password::new("bench password 123").unwrap(),
        })
        .await
        .unwrap();
    let id = session
        .send(Request::Members {
            room: room_of(&tags[1], 0, 1),
        })
        .await
        .unwrap();
    let total = loop {
        match events.recv().await {
            Some(Event::Message(ServerMessage::Members { id: i, total, .. })) if i == id => {
                break total;
            }
            Some(Event::Message(_)) => {}
            other => panic!("closed: {other:?}"),
        }
    };
    assert_eq!(total, 3, "the second run's room holds its own clients only");
    drop(session);
    handle.shutdown().await;
}

/// Each attack of `cove-faults hostile`, small, against the server library
/// while clients chat: the chatters lose nothing and the server holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attacks_do_no_harm_to_the_chat() {
    use cove_bench::hostile::{self, Attack};
    use cove_bench::run::run_with;

    let (addr, _handle, _dir) = start_server().await;
    let plan = Plan {
        messages: 20,
        rate: Some(100.0),
        window: 4,
        ..small_plan()
    };
    let scale = small_scale();
    for (n, attack) in [
        Attack::HalfOpen,
        Attack::Churn,
        Attack::BadRecords,
        Attack::WrongPassword,
        Attack::RegisterFlood,
        Attack::StalledReader,
    ]
    .into_iter()
    .enumerate()
    {
        let tag = format!("a{n}");
        let room = cove_bench::run::room_of(&tag, 0, plan.rooms);
        let prepared = hostile::prepare(&addr, attack, room).await.unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let scale = scale.clone();
        let out = run_with(&addr, &plan, &tag, async move {
            let _ = tx.send(prepared.start(scale).await);
        })
        .await
        .unwrap();
        let report = rx.await.unwrap().finish().await;
        assert!(
            report.failures.is_empty(),
            "{attack:?}: {:?}",
            report.failures
        );
        assert!(!report.facts.is_empty());
        assert_eq!(
            out.deliveries_received, out.deliveries_expected,
            "{attack:?}"
        );
        assert_eq!(out.duplicates, 0);
    }
}

/// The attacks of `cove-faults hostile`, small. The server limits of the
/// tests below are set to match (`max_unauthenticated`, `login_deadline`,
/// `messages_per_second_per_user`).
fn small_scale() -> cove_bench::hostile::Scale {
    cove_bench::hostile::Scale {
        half_open: 50,
        stalled: 2,
        wrong_passwords: 200,
        parallel: 4,
        settle: Duration::from_millis(200),
        guess_wave: 16,
        pingers: 24,
        max_unauthenticated: 16,
        login_deadline: Duration::from_secs(2),
        messages_per_second_per_user: 10,
    }
}

/// A fact an attack reported.
fn fact<'a>(report: &'a cove_bench::hostile::AttackReport, key: &str) -> &'a str {
    report
        .facts
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no fact {key:?} in {:?}", report.facts))
}

/// The attacks on the newer limits (parallel guesses, connections that
/// never log in, a send flood, invalid requests, stalled readers of big
/// messages), small, against a server with those limits on and the login
/// deadline shortened to 2 s: the chatters, at 5 messages a second each
/// (under the 10 a second allowed), lose nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attacks_on_the_limits_do_no_harm_to_the_chat() {
    use cove_bench::hostile::{self, Attack};
    use cove_bench::run::run_with;

    let scale = small_scale();
    let (addr, _handle, _dir) = start_server_with(|config| {
        config.login_deadline = scale.login_deadline;
        config.max_unauthenticated_per_address = scale.max_unauthenticated;
        config.messages_per_second_per_user = scale.messages_per_second_per_user;
    })
    .await;
    let plan = Plan {
        messages: 10,
        rate: Some(30.0),
        window: 4,
        ..small_plan()
    };
    for (n, attack) in [
        Attack::ParallelGuesses,
        Attack::PingsWithoutLogin,
        Attack::SendFlood,
        Attack::InvalidRequests,
        Attack::StalledReaderBig,
    ]
    .into_iter()
    .enumerate()
    {
        let tag = format!("l{n}");
        let room = cove_bench::run::room_of(&tag, 0, plan.rooms);
        let prepared = hostile::prepare(&addr, attack, room).await.unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let plan = Plan {
            size: attack.message_size().unwrap_or(plan.size),
            ..plan.clone()
        };
        let s = scale.clone();
        let out = run_with(&addr, &plan, &tag, async move {
            let _ = tx.send(prepared.start(s).await);
        })
        .await
        .unwrap();
        let report = rx.await.unwrap().finish().await;
        // What the server did, shown with `--nocapture`.
        eprintln!("{attack:?}: {:#?}", report.facts);
        assert!(
            report.failures.is_empty(),
            "{attack:?}: {:?}",
            report.failures
        );
        assert_eq!(
            out.deliveries_received, out.deliveries_expected,
            "{attack:?}"
        );
        assert_eq!(out.duplicates, 0);
        match attack {
            Attack::ParallelGuesses => assert!(
                fact(&report, "wave 1 of 16 at once")
                    .starts_with("4 passwords checked (auth_failed), 12 refused (rate_limited)"),
                "{:?}",
                report.facts
            ),
            Attack::PingsWithoutLogin => {
                assert_eq!(fact(&report, "refused at accept (per-network cap)"), "8");
                assert_eq!(fact(&report, "admitted"), "16");
                assert_eq!(
                    fact(&report, "closed with bye \"not logged in in time\""),
                    "16"
                );
            }
            Attack::SendFlood => {
                assert_ne!(fact(&report, "refused rate_limited"), "0");
            }
            Attack::StalledReaderBig => assert_eq!(plan.size, 4_000),
            _ => {}
        }
    }
}
