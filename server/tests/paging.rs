//! History paging through a real server (protocol v4): the cursor of each
//! page leads to the next, every message comes once and in order, a quiet
//! conversation inside a busy history comes back in bounded pages (some of
//! them empty, still saying `more`), and a forged cursor is refused with
//! `bad_cursor`, after which asking without it works.
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use cove_common::client::{Events, Session};
use cove_common::proto::ChatMessage;
use cove_common::{
    ClientMsgId, ErrorCode, HistoryCursor, MessageText, Request, RoomName, ServerMessage, Target,
};
use support::*;

/// One page: its messages, `more` and cursor, or the error code.
async fn ask(
    s: &Session,
    events: &mut Events,
    with: &Target,
    cursor: Option<HistoryCursor>,
) -> Result<(Vec<ChatMessage>, bool, Option<HistoryCursor>), ErrorCode> {
    let id = s
        .send(Request::History {
            with: with.clone(),
            before: None,
            limit: 50,
            cursor,
        })
        .await
        .unwrap();
    match expect(events, "a reply to history", |m| m.answers() == Some(id)).await {
        ServerMessage::History {
            messages,
            more,
            cursor,
            ..
        } => Ok((messages, more, cursor)),
        ServerMessage::Error { code, .. } => Err(code),
        other => panic!("{other:?}"),
    }
}

/// Every page of `with`, following the cursors: the messages' ids, newest
/// first, and the number of pages and of empty pages.
async fn all_pages(s: &Session, events: &mut Events, with: &Target) -> (Vec<u64>, usize, usize) {
    let (mut ids, mut pages, mut empty) = (Vec::new(), 0, 0);
    let mut cursor = None;
    loop {
        let (messages, more, next) = ask(s, events, with, cursor.take()).await.unwrap();
        pages += 1;
        empty += usize::from(messages.is_empty());
        ids.extend(messages.iter().map(|m| m.id));
        assert!(pages < 1_000, "paging does not end");
        if !more {
            assert!(next.is_none(), "no cursor at the start of the history");
            return (ids, pages, empty);
        }
        cursor = Some(next.expect("a page with more carries a cursor"));
    }
}

#[tokio::test]
async fn a_quiet_conversation_in_a_busy_history_pages_through_cursors() {
    let srv = TestServer::start().await;
    let (alice, mut ae, _) = register(&srv.addr, "alice").await;
    drop(register(&srv.addr, "bob").await);
    let general = Target::Room(RoomName::general());
    let bob = Target::User(user("bob"));
    let say = |to: &Target, text: String, n: usize| {
        let to = to.clone();
        let alice = &alice;
        async move {
            alice
                .say(
                    to,
                    MessageText::new(text).unwrap(),
                    ClientMsgId::new(format!("c{n}")).unwrap(),
                )
                .await
                .unwrap()
        }
    };
    // A direct message to bob, 200 of the longest messages in #general
    // (about 2.4 MB of alice's history: more than two pages read), then two
    // more to bob. Sent at once, acked after.
    let mut requests = vec![say(&bob, "first".into(), 0).await];
    for i in 1..=200 {
        requests.push(say(&general, format!("{i:03}{}", "字".repeat(3_997)), i).await);
    }
    requests.push(say(&bob, "middle".into(), 1_000).await);
    requests.push(say(&bob, "last".into(), 1_001).await);
    let mut sent = Vec::new();
    for id in requests {
        sent.push(acked_message_id(&mut ae, id).await);
    }
    let to_bob = [sent[0], sent[201], sent[202]];
    let in_general: Vec<u64> = sent
        .iter()
        .copied()
        .filter(|id| !to_bob.contains(id))
        .rev()
        .collect();

    let (ids, pages, empty) = all_pages(&alice, &mut ae, &bob).await;
    assert_eq!(
        ids,
        [to_bob[2], to_bob[1], to_bob[0]],
        "once each, newest first"
    );
    assert!(pages >= 3, "the busy stretch takes more than one page");
    assert!(
        empty >= 1,
        "a stretch without bob's messages: an empty page with more"
    );

    let (ids, pages, _) = all_pages(&alice, &mut ae, &general).await;
    assert_eq!(ids, in_general, "every message once, in order");
    assert!(pages >= 200 / 5, "cut by size: {pages} pages");

    // A cursor that was altered is refused with its own code; asking
    // without it works on the same connection.
    let (_, more, cursor) = ask(&alice, &mut ae, &general, None).await.unwrap();
    assert!(more);
    let real = cursor.unwrap();
    let real = real.as_str();
    assert_eq!(real.len(), 24, "{real}");
    let offset = u64::from_str_radix(&real[..16], 16).unwrap();
    for forged in [
        format!("{:016x}{}", offset + 1, &real[16..]),
        format!("{:016x}{}", offset - 1, &real[16..]),
        format!("{}{:08x}", &real[..16], 100_000),
        "ffffffffffffffff00000000".into(),
        "not a cursor at all".replace(' ', "_"),
    ] {
        let cursor = Some(HistoryCursor::new(forged.clone()).unwrap());
        let refused = ask(&alice, &mut ae, &general, cursor).await;
        assert_eq!(refused.unwrap_err(), ErrorCode::BadCursor, "{forged}");
    }
    let (messages, _, _) = ask(&alice, &mut ae, &general, None).await.unwrap();
    assert_eq!(messages[0].id, in_general[0]);
}
