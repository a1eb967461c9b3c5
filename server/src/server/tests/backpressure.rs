//! A history writer that stops (a disk that stopped answering) slows the
//! senders down instead of growing the server's memory: one connection has
//! at most 64 sends waiting for their acks, after which the server stops
//! reading it (TCP pushes back), and all connections together wait for
//! room in the history queue (64 MiB of entries). Meanwhile requests that
//! need no write are still answered, and once the writer goes on, every
//! message is acknowledged and in history.

use std::collections::HashSet;
use std::time::Duration;

use cove_common::client::{Event, Events, Session};
use cove_common::limits::HISTORY_PAGE_MAX;
use cove_common::{ClientMsgId, MessageText, Request, RoomName, ServerMessage, Target, Username};

use super::{count_until_quiet, expect, register, start};

fn cid(sender: usize, i: usize) -> ClientMsgId {
    ClientMsgId::new(format!("s{sender}-{i}")).unwrap()
}

/// Waits for the acks of `n` sends; returns their message ids, checking
/// that they answer the client ids `0..n` in order.
async fn acks(events: &mut Events, sender: usize, n: usize) -> Vec<u64> {
    let mut ids = Vec::new();
    while ids.len() < n {
        let m = expect(events, "an ack", |m| {
            matches!(m, ServerMessage::Ack { .. } | ServerMessage::Error { .. })
        })
        .await;
        let ServerMessage::Ack {
            client_id,
            message_id,
            ..
        } = m
        else {
            panic!("a send failed: {m:?}");
        };
        assert_eq!(client_id, cid(sender, ids.len()), "acks come in order");
        ids.push(message_id);
    }
    ids
}

/// One connection sends 1,000 messages into a stalled writer: the server
/// takes in 64 of them (each delivered live at once, so the watcher counts
/// them), then stops reading that connection. Another connection is still
/// answered. Once the writer goes on, all 1,000 are acknowledged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_connection_has_at_most_64_sends_in_flight() {
    let s = start(|_| {}).await;
    let (flood, mut flood_events) = register(&s.addr, "flood").await;
    let (watcher, mut watcher_events) = register(&s.addr, "watcher").await;
    let general = Target::Room(RoomName::general());
    let stall = s.state.hub.history_service().stall();
    let sending = tokio::spawn({
        let general = general.clone();
        async move {
            for i in 0..1_000 {
                let text = MessageText::new(format!("message {i}")).unwrap();
                flood.say(general.clone(), text, cid(0, i)).await.unwrap();
            }
            flood
        }
    });
    let taken_in = count_until_quiet(&mut watcher_events, Duration::from_secs(1)).await;
    // The documented bound, written out: the test checks the constant.
    assert_eq!(taken_in, 64, "the server read 64 sends, then stopped");
    // Requests that need no history write are answered meanwhile.
    let ping = watcher.send(Request::Ping).await.unwrap();
    expect(
        &mut watcher_events,
        "the pong",
        |m| matches!(m, ServerMessage::Pong { id } if *id == ping),
    )
    .await;
    let rooms = watcher.send(Request::ListRooms).await.unwrap();
    expect(
        &mut watcher_events,
        "the room list",
        |m| matches!(m, ServerMessage::Rooms { id, .. } if *id == rooms),
    )
    .await;
    while let Ok(e) = flood_events.try_recv() {
        assert!(is_not_an_ack(e), "no ack while the writer is stalled");
    }

    drop(stall);
    let ids = acks(&mut flood_events, 0, 1_000).await;
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 1_000);
    let _flood: Session = sending.await.unwrap();
    let rest = count_until_quiet(&mut watcher_events, Duration::from_secs(1)).await;
    assert_eq!(taken_in + rest, 1_000, "every message went out live");
}

fn is_not_an_ack(e: Event) -> bool {
    !matches!(e, Event::Message(ServerMessage::Ack { .. }))
}

/// Senders of the test of the history queue, and messages each sends
/// (fewer than a connection's 64 sends in flight: only the queue's bound
/// stops them).
const SENDERS: usize = 8;
const EACH: usize = 40;
/// The queue's documented bound, written out: the test checks the
/// constant.
const QUEUE: usize = 64 << 20;
/// Room the test leaves in the queue: filling all 64 MiB through the
/// protocol takes a minute in a debug build (AES is generic, compiled
/// unoptimised into this crate), so the test takes the rest itself, as
/// entries already waiting would.
const LEFT: usize = 2 << 20;

/// A text of 4,000 characters, 15,988 bytes: the largest entries, so the
/// queue fills with the fewest messages.
fn big_text(sender: usize, i: usize) -> MessageText {
    let head = format!("{sender:02}{i:02}");
    MessageText::new(head + &"😀".repeat(3_996)).unwrap()
}

/// With the writer stalled and all but 2 MiB of the 64 MiB history queue
/// taken, 8 connections send 40 messages of 16 KB each (320 in all, 5 MB)
/// to one watcher. The server takes in as many as fit in the queue (each
/// is delivered live at once, so the watcher counts them) and no more: the
/// other sends wait for room, and not one more entry fits. Once the writer
/// goes on, every message is acknowledged, delivered, and in its sender's
/// history.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn senders_wait_for_room_in_the_history_queue_and_nothing_is_lost() {
    let s = start(|_| {}).await;
    let (_watcher, mut watcher_events) = register(&s.addr, "watcher").await;
    let watcher = Target::User(Username::new("watcher").unwrap());
    let mut senders = Vec::new();
    for n in 0..SENDERS {
        senders.push(register(&s.addr, &format!("sender{n:02}")).await);
    }
    let history = s.state.hub.history_service();
    let stall = history.stall();
    let taken = history.reserve(QUEUE - LEFT).await;
    let mut sending = Vec::new();
    for (n, (session, _)) in senders.iter().enumerate() {
        let (session, to) = (session.clone(), watcher.clone());
        sending.push(tokio::spawn(async move {
            for i in 0..EACH {
                session
                    .say(to.clone(), big_text(n, i), cid(n, i))
                    .await
                    .unwrap();
            }
        }));
    }
    let taken_in = count_until_quiet(&mut watcher_events, Duration::from_secs(2)).await;
    // The queue counts each entry as its text plus 256 bytes of envelope.
    let entry = big_text(0, 0).as_str().len() + 256;
    assert_eq!(taken_in, LEFT / entry, "the queue filled, and no more");
    assert!(taken_in < SENDERS * EACH, "the other sends wait");
    let one_more = tokio::time::timeout(Duration::from_millis(300), history.reserve(entry));
    assert!(one_more.await.is_err(), "not one more entry fits");

    drop(taken);
    drop(stall);
    let mut acked = Vec::new();
    for (n, (_, events)) in senders.iter_mut().enumerate() {
        acked.push(acks(events, n, EACH).await);
    }
    for task in sending {
        task.await.unwrap();
    }
    let rest = count_until_quiet(&mut watcher_events, Duration::from_secs(1)).await;
    assert_eq!(
        taken_in + rest,
        SENDERS * EACH,
        "every message went out live"
    );
    for ((session, events), ids) in senders.iter_mut().zip(&acked) {
        let stored = all_history(session, events, &watcher).await;
        assert_eq!(
            &stored,
            ids,
            "{}'s history holds what was acked",
            session.username()
        );
    }
}

/// Every message of one conversation in the user's history, oldest first.
async fn all_history(session: &Session, events: &mut Events, with: &Target) -> Vec<u64> {
    let mut ids = Vec::new();
    // A page may be short or empty while `more` holds (protocol v4): the
    // cursor says where the next one starts.
    let mut cursor = None;
    loop {
        let id = session
            .send(Request::History {
                with: with.clone(),
                before: None,
                limit: HISTORY_PAGE_MAX,
                cursor: cursor.take(),
            })
            .await
            .unwrap();
        let page = expect(
            events,
            "a page",
            |m| matches!(m, ServerMessage::History { id: i, .. } if *i == id),
        )
        .await;
        let ServerMessage::History {
            messages,
            more,
            cursor: next,
            ..
        } = page
        else {
            unreachable!()
        };
        ids.extend(messages.iter().map(|m| m.id));
        cursor = next;
        if !more || cursor.is_none() {
            ids.reverse();
            return ids;
        }
    }
}
