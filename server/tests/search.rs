//! Search through a real server (protocol v4): a user finds their own
//! messages containing a text, ignoring case (non-ASCII included), newest
//! first across conversations, never others' messages they did not
//! receive; `with` restricts; the cursor walks a history bigger than one
//! read budget returning every match once; bad input gets typed errors
//! that name the request.
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use cove_common::client::{Events, Session};
use cove_common::{
    ClientMsgId, ErrorCode, HistoryCursor, MessageText, Request, RoomName, SearchText,
    ServerMessage, Target,
};
use support::*;

/// One search page: its messages' ids and texts, `more` and cursor, or the
/// error code.
type Page = (Vec<(u64, String)>, bool, Option<HistoryCursor>);

async fn search(
    s: &Session,
    events: &mut Events,
    text: &str,
    with: Option<Target>,
    limit: Option<u16>,
    cursor: Option<HistoryCursor>,
) -> Result<Page, ErrorCode> {
    let id = s
        .send(Request::Search {
            text: SearchText::new(text).unwrap(),
            with,
            limit,
            cursor,
        })
        .await
        .unwrap();
    match expect(events, "a reply to search", |m| m.answers() == Some(id)).await {
        ServerMessage::Search {
            messages,
            more,
            cursor,
            ..
        } => {
            assert_eq!(cursor.is_some(), more, "a cursor exactly when more");
            let found = messages
                .into_iter()
                .map(|m| (m.id, m.text_str().to_owned()))
                .collect();
            Ok((found, more, cursor))
        }
        ServerMessage::Error { code, .. } => Err(code),
        other => panic!("{other:?}"),
    }
}

/// Every page of a search, following the cursors: the ids found, newest
/// first, the number of pages and of empty pages.
async fn search_all(
    s: &Session,
    events: &mut Events,
    text: &str,
    with: Option<Target>,
    limit: Option<u16>,
) -> (Vec<u64>, usize, usize) {
    let (mut ids, mut pages, mut empty) = (Vec::new(), 0, 0);
    let mut cursor = None;
    loop {
        let (found, more, next) = search(s, events, text, with.clone(), limit, cursor.take())
            .await
            .unwrap();
        pages += 1;
        empty += usize::from(found.is_empty());
        ids.extend(found.iter().map(|(id, _)| *id));
        assert!(pages < 1_000, "search does not end");
        if !more {
            return (ids, pages, empty);
        }
        cursor = next;
    }
}

async fn say(s: &Session, events: &mut Events, to: Target, text: &str, n: &mut u32) -> u64 {
    *n += 1;
    say_acked(s, events, to, text, &format!("c{n}")).await
}

#[tokio::test]
async fn search_finds_only_the_users_own_matches_newest_first() {
    let srv = TestServer::start().await;
    let (alice, mut ae, _) = register(&srv.addr, "alice").await;
    let (bob, mut be, _) = register(&srv.addr, "bob").await;
    let (carol, mut ce, _) = register(&srv.addr, "carol").await;
    let general = Target::Room(RoomName::general());
    let rust = Target::Room(RoomName::new("rust").unwrap());
    let secret = Target::Room(RoomName::new("secret").unwrap());
    let n = &mut 0;

    for (s, e) in [(&alice, &mut ae), (&carol, &mut ce)] {
        let id = s
            .send(Request::Join {
                room: RoomName::new("rust").unwrap(),
            })
            .await
            .unwrap();
        expect(e, "joined", |m| m.answers() == Some(id)).await;
    }
    let id = carol
        .send(Request::Join {
            room: RoomName::new("secret").unwrap(),
        })
        .await
        .unwrap();
    expect(&mut ce, "joined", |m| m.answers() == Some(id)).await;

    let in_general = say(&alice, &mut ae, general.clone(), "Zoë is here", n).await;
    let from_bob = say(
        &bob,
        &mut be,
        Target::User(user("alice")),
        "ask ZOË first",
        n,
    )
    .await;
    // Neither reaches alice's history: a room she is not in, and a direct
    // conversation between two others.
    say(&carol, &mut ce, secret.clone(), "zoë's secret plan", n).await;
    say(&carol, &mut ce, Target::User(user("bob")), "zoë for bob", n).await;
    say(
        &alice,
        &mut ae,
        general.clone(),
        "Zoe without the accent",
        n,
    )
    .await;
    say(&alice, &mut ae, rust.clone(), "nothing to see", n).await;
    let in_rust = say(&carol, &mut ce, rust.clone(), "ZOËY, not quite", n).await;
    say(&alice, &mut ae, general.clone(), "the end", n).await;

    let (found, more, cursor) = search(&alice, &mut ae, "zOë", None, None, None)
        .await
        .unwrap();
    let ids: Vec<u64> = found.iter().map(|(id, _)| *id).collect();
    assert_eq!(
        ids,
        [in_rust, from_bob, in_general],
        "newest first across conversations, ignoring case: {found:?}"
    );
    assert!(!more && cursor.is_none(), "a small history in one page");

    // `with` restricts to one conversation.
    let (a, e) = (&alice, &mut ae);
    let (found, _, _) = search(a, e, "ZOË", Some(Target::User(user("bob"))), None, None)
        .await
        .unwrap();
    assert_eq!(found, [(from_bob, "ask ZOË first".to_owned())]);
    let (found, _, _) = search(a, e, "ZOË", Some(rust.clone()), None, None)
        .await
        .unwrap();
    assert_eq!(found, [(in_rust, "ZOËY, not quite".to_owned())]);
    let (found, _, _) = search(a, e, "ZOË", Some(general.clone()), None, None)
        .await
        .unwrap();
    assert_eq!(found, [(in_general, "Zoë is here".to_owned())]);
    // A room she is not in is refused, not searched.
    let refused = search(a, e, "ZOË", Some(secret.clone()), None, None).await;
    assert_eq!(refused.unwrap_err(), ErrorCode::NotMember);

    // A limit cuts the page, and the cursor goes on after it.
    let (first, more, cursor) = search(&alice, &mut ae, "zoë", None, Some(1), None)
        .await
        .unwrap();
    assert_eq!(first[0].0, in_rust);
    assert!(more);
    let (second, _, _) = search(&alice, &mut ae, "zoë", None, Some(1), cursor)
        .await
        .unwrap();
    assert_eq!(second[0].0, from_bob);

    // Carol finds hers, not alice's direct conversation with bob.
    let (found, _, _) = search(&carol, &mut ce, "zoë", None, None, None)
        .await
        .unwrap();
    let ids: Vec<u64> = found.iter().map(|(id, _)| *id).collect();
    assert!(!ids.contains(&from_bob));
    assert_eq!(ids.len(), 4, "{found:?}");

    // Once alice leaves #rust its messages are no longer searched, as
    // `history` no longer reads them.
    let id = alice
        .send(Request::Leave {
            room: RoomName::new("rust").unwrap(),
        })
        .await
        .unwrap();
    expect(&mut ae, "left", |m| m.answers() == Some(id)).await;
    let (found, _, _) = search(&alice, &mut ae, "zoë", None, None, None)
        .await
        .unwrap();
    let ids: Vec<u64> = found.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, [from_bob, in_general]);
}

#[tokio::test]
async fn search_pages_through_a_history_bigger_than_one_read_budget() {
    let srv = TestServer::start().await;
    let (alice, mut ae, _) = register(&srv.addr, "alice").await;
    drop(register(&srv.addr, "bob").await);
    let general = Target::Room(RoomName::general());
    let bob = Target::User(user("bob"));
    // 200 of the longest messages in #general (about 2.4 MB of alice's
    // history, more than two read budgets), with matches only near both
    // ends, so the middle of the walk finds nothing.
    let mut requests = Vec::new();
    let mut matches = Vec::new();
    for i in 1..=200u32 {
        let (to, text) = match i {
            1 | 3 | 199 => (&bob, format!("{i:03} NeEdLe in a direct message")),
            2 | 198 | 200 => (&general, format!("{i:03} needle {}", "字".repeat(3_980))),
            _ => (&general, format!("{i:03}{}", "字".repeat(3_997))),
        };
        let id = alice
            .say(
                to.clone(),
                MessageText::new(text).unwrap(),
                ClientMsgId::new(format!("c{i}")).unwrap(),
            )
            .await
            .unwrap();
        requests.push((i, id));
    }
    for (i, id) in requests {
        let message_id = acked_message_id(&mut ae, id).await;
        if [1, 2, 3, 198, 199, 200].contains(&i) {
            matches.push(message_id);
        }
    }
    matches.reverse();

    let (ids, pages, empty) = search_all(&alice, &mut ae, "NEEDLE", None, None).await;
    assert_eq!(ids, matches, "every match once, newest first");
    assert!(pages >= 3, "more than one read budget: {pages} pages");
    assert!(
        empty >= 1,
        "a stretch without matches: an empty page with more"
    );

    // With a limit of one the same matches come, one a page at most.
    let (ids, _, _) = search_all(&alice, &mut ae, "needle", None, Some(1)).await;
    assert_eq!(ids, matches);
    // Restricted to bob's conversation.
    let (ids, _, _) = search_all(&alice, &mut ae, "needle", Some(bob), None).await;
    let direct: Vec<u64> = [matches[1], matches[3], matches[5]].into();
    assert_eq!(ids, direct);

    // A forged cursor is refused with its code and the request's id.
    let forged = HistoryCursor::new("ffffffffffffffff00000000").unwrap();
    let refused = search(&alice, &mut ae, "needle", None, None, Some(forged)).await;
    assert_eq!(refused.unwrap_err(), ErrorCode::BadCursor);
}

/// Text over the limit (or empty) never reaches the history: the request
/// is refused with `bad_request` naming its id, and the connection goes on.
#[tokio::test]
async fn over_long_or_empty_search_text_is_refused_with_the_id() {
    let srv = TestServer::start().await;
    drop(register(&srv.addr, "alice").await);
    let mut raw = RawClient::logged_in(&srv.addr, "alice").await;
    let long = "ö".repeat(cove_common::limits::SEARCH_TEXT_MAX_CHARS + 1);
    for (id, text) in [(41u64, long.as_str()), (42, ""), (43, " \u{200b}")] {
        let json = format!(r#"{{"id":{id},"type":"search","text":"{text}"}}"#);
        raw.send_plain(json.as_bytes()).await;
        match raw.recv().await {
            Some(ServerMessage::Error {
                id: Some(i), code, ..
            }) => {
                assert_eq!((i, code), (id, ErrorCode::BadRequest), "{text:?}");
            }
            other => panic!("{other:?}"),
        }
    }
    let ok = "ö".repeat(cove_common::limits::SEARCH_TEXT_MAX_CHARS);
    let json = format!(r#"{{"id":44,"type":"search","text":"{ok}"}}"#);
    raw.send_plain(json.as_bytes()).await;
    assert!(matches!(
        raw.recv().await,
        Some(ServerMessage::Search {
            id: 44,
            more: false,
            ..
        })
    ));
}
