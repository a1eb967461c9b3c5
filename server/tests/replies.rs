//! Every request is answered, however big its answer would be: history
//! pages stop by size, lists are capped with a total, and each reply fits
//! in one record.
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use cove_common::limits::{HISTORY_PAGE_BYTES, MEMBERS_LIST_MAX};
use cove_common::proto::Target;
use cove_common::record::MAX_RECORD_PLAINTEXT;
use cove_common::{ClientMsgId, KdfParams, MessageText, Request, RoomName, ServerMessage};
use cove_server::credentials::create;
use cove_server::store::keys::ServerKeys;
use cove_server::store::users::UserDb;
use support::*;

#[tokio::test]
async fn pages_of_the_longest_messages_arrive_and_page_back_completely() {
    let srv = TestServer::start().await;
    let (alice, mut ae, _) = register(&srv.addr, "alice").await;
    let general = Target::Room(RoomName::general());
    // 60 messages of 4,000 characters of 3 and 4 bytes each: one page of
    // 50 would be about 700 KB, eleven times what a record holds.
    let mut sent = Vec::new();
    for i in 0..60 {
        let ch = if i % 2 == 0 { "字" } else { "😀" };
        let text = MessageText::new(format!("{i:02}{}", ch.repeat(3998))).unwrap();
        let id = alice
            .say(
                general.clone(),
                text,
                ClientMsgId::new(format!("long-{i}")).unwrap(),
            )
            .await
            .unwrap();
        sent.push(acked_message_id(&mut ae, id).await);
    }
    let mut got = Vec::new();
    let mut before = None;
    let mut pages = 0;
    loop {
        let id = alice
            .send(Request::History {
                with: general.clone(),
                before,
                limit: 50,
                cursor: None,
            })
            .await
            .unwrap();
        let reply = expect(&mut ae, "a reply to history", |m| m.answers() == Some(id)).await;
        let ServerMessage::History { messages, more, .. } = &reply else {
            panic!("{reply:?}")
        };
        assert!(reply.encode().len() <= MAX_RECORD_PLAINTEXT);
        let bytes: usize = messages
            .iter()
            .map(|m| serde_json::to_vec(m).unwrap().len() + 1)
            .sum();
        assert!(bytes <= HISTORY_PAGE_BYTES, "{bytes}");
        assert!(!messages.is_empty());
        pages += 1;
        got.extend(messages.iter().map(|m| m.id));
        before = messages.last().map(|m| m.id);
        if !more {
            break;
        }
    }
    got.reverse();
    assert_eq!(got, sent, "every message once, in order");
    assert!(pages >= 15, "about four messages a page: {pages} pages");
}

#[tokio::test]
async fn the_member_list_of_a_huge_room_is_capped_with_its_total() {
    let mut srv = TestServer::start().await;
    drop(register(&srv.addr, "alice").await);
    // Registering a thousand accounts one by one rewrites users.json a
    // thousand times; write them into it at once while the server is down.
    srv.stop().await;
    let others = MEMBERS_LIST_MAX + 4;
    {
        let dir = srv.data_dir();
        let keys =
            ServerKeys::load_or_create(&dir, None, &KdfParams::insecure_for_tests()).unwrap();
        let mut db = UserDb::open(&dir, &keys.storage_key).unwrap();
        let (creds, _) = create(&pw(PASSWORD), &KdfParams::insecure_for_tests()).unwrap();
        for i in 0..others {
            let name = user(&format!("member{i:04}_{}", "x".repeat(20)));
            let id = db.insert_user(name, creds.clone(), 0);
            let _ = db.add_member(&RoomName::general(), &id, 0);
        }
        db.save().unwrap();
    }
    srv.restart().await;
    let (alice, mut ae, _) = login(&srv.addr, "alice").await;
    let id = alice
        .send(Request::Members {
            room: RoomName::general(),
        })
        .await
        .unwrap();
    let reply = expect(&mut ae, "members", |m| m.answers() == Some(id)).await;
    let ServerMessage::Members { members, total, .. } = &reply else {
        panic!("{reply:?}")
    };
    assert_eq!(*total as usize, others + 1);
    assert_eq!(members.len(), MEMBERS_LIST_MAX);
    // The one member online (alice herself) is listed; the list is by name.
    assert!(
        members
            .iter()
            .any(|m| m.username.as_str() == "alice" && m.online)
    );
    assert!(members.windows(2).all(|w| w[0].username < w[1].username));
    assert!(reply.encode().len() <= MAX_RECORD_PLAINTEXT);
}
