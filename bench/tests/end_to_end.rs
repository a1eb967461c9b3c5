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
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new("127.0.0.1:0", dir.path().join("data"));
    config.kdf = KdfParams::insecure_for_tests();
    config.registrations_per_address_per_hour = 0;
    config.messages_per_second_per_user = 0;
    let server = Server::bind(config).await.unwrap();
    let addr = server.local_addr().to_string();
    (addr, server.spawn(), dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_delivery_arrives_once() {
    let (addr, handle, _dir) = start_server().await;
    for (rooms, rate) in [(1, None), (2, Some(200.0))] {
        let plan = Plan {
            clients: 6,
            rooms,
            messages: 3,
            size: 100,
            rate,
            concurrency: 3,
            window: 2,
            drain: Duration::from_secs(10),
            storm: 3,
            server_pid: None,
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
        rooms: 1,
        messages: 0,
        size: 100,
        rate: None,
        concurrency: 5,
        window: 1,
        drain: Duration::from_millis(100),
        storm: 0,
        server_pid: Some(std::process::id()),
    };
    let out = run(&addr, &idle, "idle").await.unwrap();
    assert_eq!(out.sessions_held, 5);
    // The server runs in this process here, so its memory is ours.
    assert!(out.server_rss_idle_mib.is_some_and(|m| m > 0.0));
    assert_eq!(out.deliveries_expected, 0);
    handle.shutdown().await;
}

/// Each attack of `cove-faults hostile`, small, against the server library
/// while clients chat: the chatters lose nothing and the server holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attacks_do_no_harm_to_the_chat() {
    use cove_bench::hostile::{self, Attack, Scale};
    use cove_bench::run::run_with;

    let (addr, _handle, _dir) = start_server().await;
    let plan = Plan {
        clients: 6,
        rooms: 1,
        messages: 20,
        size: 100,
        rate: Some(100.0),
        concurrency: 3,
        window: 4,
        drain: Duration::from_secs(10),
        storm: 0,
        server_pid: None,
    };
    let scale = Scale {
        half_open: 50,
        stalled: 2,
        wrong_passwords: 200,
        parallel: 4,
        settle: Duration::from_millis(200),
    };
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
        let prepared = hostile::prepare(&addr, attack).await.unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let scale = scale.clone();
        let out = run_with(&addr, &plan, &format!("a{n}"), async move {
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
