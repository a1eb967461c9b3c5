//! At most 16 history pages are read at once, however many are asked for.

use std::time::Duration;

use cove_common::{Request, RoomName, SearchText, ServerMessage, Target};

use super::{expect, register, start};

/// Forty users ask for a page each while reads are held inside their slots
/// (a slow disk): sixteen reads run, the others wait for a slot; once the
/// disk answers, every request gets its page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_most_16_history_reads_run_at_once() {
    let s = start(|_| {}).await;
    let probe = s.state.hub.read_probe();
    let mut users = Vec::new();
    for i in 0..40 {
        users.push(register(&s.addr, &format!("reader{i:02}")).await);
    }
    probe.hold(true);
    let mut asked = Vec::new();
    for (session, _) in &users {
        let id = session
            .send(Request::History {
                with: Target::Room(RoomName::general()),
                before: None,
                limit: 50,
                cursor: None,
            })
            .await
            .unwrap();
        asked.push(id);
    }
    // Until the reads in progress stop growing.
    let mut last = usize::MAX;
    while probe.now() != last {
        last = probe.now();
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // The documented bound, written out: the test checks the constant.
    assert_eq!(probe.now(), 16, "sixteen reads run, the rest wait");
    probe.hold(false);
    for ((_, events), id) in users.iter_mut().zip(asked) {
        expect(
            events,
            "the page",
            |m| matches!(m, ServerMessage::History { id: i, .. } if *i == id),
        )
        .await;
    }
    assert_eq!(probe.most(), 16, "never more than sixteen at once");
    assert_eq!(probe.now(), 0);
}

/// Searches take the same slots: forty searches (and history pages mixed
/// in) while the disk is held run sixteen at a time, and all are answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn searches_count_against_the_same_16_reads() {
    let s = start(|_| {}).await;
    let probe = s.state.hub.read_probe();
    let mut users = Vec::new();
    for i in 0..40 {
        users.push(register(&s.addr, &format!("seeker{i:02}")).await);
    }
    probe.hold(true);
    let mut asked = Vec::new();
    for (i, (session, _)) in users.iter().enumerate() {
        // Twelve history pages take twelve slots; the searches must wait
        // for the other four.
        let request = if i < 12 {
            Request::History {
                with: Target::Room(RoomName::general()),
                before: None,
                limit: 50,
                cursor: None,
            }
        } else {
            Request::Search {
                text: SearchText::new("anything").unwrap(),
                with: None,
                limit: None,
                cursor: None,
            }
        };
        asked.push(session.send(request).await.unwrap());
    }
    let mut last = usize::MAX;
    while probe.now() != last {
        last = probe.now();
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(probe.now(), 16, "sixteen reads run, searches included");
    probe.hold(false);
    for (i, ((_, events), id)) in users.iter_mut().zip(asked).enumerate() {
        let reply = expect(events, "the reply", |m| m.answers() == Some(id)).await;
        if i >= 12 {
            assert!(matches!(reply, ServerMessage::Search { .. }), "{reply:?}");
        }
    }
    assert_eq!(probe.most(), 16, "never more than sixteen at once");
    assert_eq!(probe.now(), 0);
}
