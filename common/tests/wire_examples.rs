//! Every JSON example in docs/protocol.md, checked against the real types:
//! if the wire format changes, this test (and so the document) must change.
//! The examples of version 5's changes are in `changes_proto.rs`.
#![allow(clippy::unwrap_used, missing_docs)]

use cove_common::proto::{
    ChatMessage, DirectUnread, Member, Notice, NoticeKind, RoomInfo, ServerMessage, SessionInfo,
};
use cove_common::{
    ClientMessage, ClientMsgId, ErrorCode, HistoryCursor, MessageText, Password, Request, RoomName,
    SearchText, Target, Username,
};

fn u(s: &str) -> Username {
    Username::new(s).unwrap()
}
fn r(s: &str) -> RoomName {
    RoomName::new(s).unwrap()
}
fn req(id: u64, request: Request) -> String {
    String::from_utf8(ClientMessage { id, request }.encode()).unwrap()
}
fn srv(m: ServerMessage) -> String {
    String::from_utf8(m.encode()).unwrap()
}

/// The document itself: each example below must appear in it verbatim.
const PROTOCOL_MD: &str = include_str!("../../docs/protocol.md");

#[test]
fn client_messages_match_the_document() {
    let pw = || Password::new("correct horse").unwrap();
    let cases = [
        (
            req(
                1,
                Request::Register {
                    username: u("alice"),
                    password: pw(),
                },
            ),
            r#"{"id":1,"type":"register","username":"alice","password":"correct horse"}"#,
        ),
        (
            req(
                1,
                Request::Login {
                    username: u("alice"),
                    password: pw(),
                },
            ),
            r#"{"id":1,"type":"login","username":"alice","password":"correct horse"}"#,
        ),
        (
            req(2, Request::Join { room: r("rust") }),
            r#"{"id":2,"type":"join","room":"rust"}"#,
        ),
        (
            req(3, Request::Leave { room: r("rust") }),
            r#"{"id":3,"type":"leave","room":"rust"}"#,
        ),
        (
            req(4, Request::ListRooms),
            r#"{"id":4,"type":"list_rooms"}"#,
        ),
        (
            req(5, Request::Members { room: r("general") }),
            r#"{"id":5,"type":"members","room":"general"}"#,
        ),
        (req(6, Request::Ping), r#"{"id":6,"type":"ping"}"#),
        (
            req(
                7,
                Request::Send {
                    client_id: ClientMsgId::new("c1").unwrap(),
                    to: Target::Room(r("general")),
                    text: Some(MessageText::new("hi").unwrap()),
                    reply_to: None,
                    file: None,
                },
            ),
            r#"{"id":7,"type":"send","client_id":"c1","to":{"room":"general"},"text":"hi"}"#,
        ),
        (
            req(
                8,
                Request::Send {
                    client_id: ClientMsgId::new("c2").unwrap(),
                    to: Target::User(u("bob")),
                    text: Some(MessageText::new("psst").unwrap()),
                    reply_to: None,
                    file: None,
                },
            ),
            r#"{"id":8,"type":"send","client_id":"c2","to":{"user":"bob"},"text":"psst"}"#,
        ),
        (
            req(
                9,
                Request::History {
                    with: Target::Room(r("general")),
                    before: None,
                    limit: 50,
                    cursor: None,
                },
            ),
            r#"{"id":9,"type":"history","with":{"room":"general"},"before":null,"limit":50}"#,
        ),
        (req(10, Request::Logout), r#"{"id":10,"type":"logout"}"#),
        (
            req(
                11,
                Request::History {
                    with: Target::Room(r("general")),
                    before: None,
                    limit: 50,
                    cursor: Some(HistoryCursor::new("00000000003a1f2c00000011").unwrap()),
                },
            ),
            r#"{"id":11,"type":"history","with":{"room":"general"},"before":null,"limit":50,"cursor":"00000000003a1f2c00000011"}"#,
        ),
        (
            req(
                12,
                Request::Typing {
                    with: Target::Room(r("general")),
                },
            ),
            r#"{"id":12,"type":"typing","with":{"room":"general"}}"#,
        ),
        (
            req(
                13,
                Request::Read {
                    with: Target::Room(r("general")),
                    up_to: 1_763_800_000_000_123,
                },
            ),
            r#"{"id":13,"type":"read","with":{"room":"general"},"up_to":1763800000000123}"#,
        ),
        (
            req(
                14,
                Request::Search {
                    text: SearchText::new("Zoë").unwrap(),
                    with: None,
                    limit: None,
                    cursor: None,
                },
            ),
            r#"{"id":14,"type":"search","text":"Zoë"}"#,
        ),
        (
            req(
                15,
                Request::Search {
                    text: SearchText::new("deploy").unwrap(),
                    with: Some(Target::Room(r("general"))),
                    limit: Some(20),
                    cursor: Some(HistoryCursor::new("000000000031d07400000000").unwrap()),
                },
            ),
            r#"{"id":15,"type":"search","text":"deploy","with":{"room":"general"},"limit":20,"cursor":"000000000031d07400000000"}"#,
        ),
    ];
    for (got, want) in cases {
        assert_eq!(got, want);
        assert!(PROTOCOL_MD.contains(want), "docs/protocol.md lacks {want}");
    }
}

#[test]
fn server_messages_match_the_document() {
    let general = RoomInfo {
        name: r("general"),
        members: 2,
        online: 1,
        unread: 3,
        mentions: 0,
        private: false,
        topic: None,
        role: None,
    };
    let msg = ChatMessage::new(
        1_763_800_000_000_123,
        1_763_800_000_000,
        u("alice"),
        Target::Room(r("general")),
        MessageText::new("hi").unwrap(),
    );
    let cases = [
        (
            srv(ServerMessage::Welcome {
                id: 1,
                session: SessionInfo {
                    username: u("alice"),
                    server_time: 1_763_800_000_000,
                    max_file_bytes: 26_214_400,
                },
                rooms: vec![general.clone()],
                directs: vec![u("bob")],
                direct_unread: vec![DirectUnread {
                    user: u("bob"),
                    unread: 1,
                    mentions: 0,
                }],
                invitations: vec![],
            }),
            r#"{"type":"welcome","id":1,"session":{"username":"alice","server_time":1763800000000,"max_file_bytes":26214400},"rooms":[{"name":"general","members":2,"online":1,"unread":3}],"directs":["bob"],"direct_unread":[{"user":"bob","unread":1}]}"#,
        ),
        (
            srv(ServerMessage::error(
                Some(1),
                ErrorCode::NameTaken,
                "the name alice is already taken",
            )),
            r#"{"type":"error","id":1,"code":"name_taken","message":"the name alice is already taken"}"#,
        ),
        (
            // A login to an account the operator banned (still v7).
            srv(ServerMessage::error(
                Some(1),
                ErrorCode::Banned,
                "this account is banned by the server's operator",
            )),
            r#"{"type":"error","id":1,"code":"banned","message":"this account is banned by the server's operator"}"#,
        ),
        (
            srv(ServerMessage::Ack {
                id: 7,
                client_id: ClientMsgId::new("c1").unwrap(),
                message_id: msg.id,
                ts: msg.ts,
            }),
            r#"{"type":"ack","id":7,"client_id":"c1","message_id":1763800000000123,"ts":1763800000000}"#,
        ),
        (
            srv(ServerMessage::Message(msg.clone())),
            r#"{"type":"message","id":1763800000000123,"ts":1763800000000,"from":"alice","to":{"room":"general"},"text":"hi"}"#,
        ),
        (
            srv(ServerMessage::Notice(Notice::new(
                1_763_800_000_000,
                NoticeKind::Exited { user: u("alice") },
            ))),
            r#"{"type":"notice","ts":1763800000000,"kind":{"event":"exited","user":"alice"},"text":"alice left the chat"}"#,
        ),
        (
            srv(ServerMessage::Notice(Notice::new(
                1,
                NoticeKind::Joined {
                    room: r("rust"),
                    user: u("bob"),
                },
            ))),
            r#"{"type":"notice","ts":1,"kind":{"event":"joined","room":"rust","user":"bob"},"text":"bob joined #rust"}"#,
        ),
        (
            srv(ServerMessage::Joined {
                id: 2,
                room: RoomInfo {
                    name: r("rust"),
                    members: 1,
                    online: 1,
                    unread: 0,
                    mentions: 0,
                    private: false,
                    topic: None,
                    role: None,
                },
            }),
            r#"{"type":"joined","id":2,"room":{"name":"rust","members":1,"online":1,"unread":0}}"#,
        ),
        (
            srv(ServerMessage::Left {
                id: 3,
                room: r("rust"),
            }),
            r#"{"type":"left","id":3,"room":"rust"}"#,
        ),
        (
            srv(ServerMessage::Rooms {
                id: 4,
                rooms: vec![general],
                total: 1,
            }),
            r#"{"type":"rooms","id":4,"rooms":[{"name":"general","members":2,"online":1,"unread":3}],"total":1}"#,
        ),
        (
            srv(ServerMessage::Members {
                id: 5,
                room: r("general"),
                members: vec![Member {
                    username: u("alice"),
                    online: true,
                    role: None,
                }],
                total: 1,
                banned: Vec::new(),
            }),
            r#"{"type":"members","id":5,"room":"general","members":[{"username":"alice","online":true}],"total":1}"#,
        ),
        (
            srv(ServerMessage::Pong { id: 6 }),
            r#"{"type":"pong","id":6}"#,
        ),
        (
            srv(ServerMessage::History {
                id: 9,
                with: Target::Room(r("general")),
                messages: vec![msg],
                more: false,
                unreadable: 0,
                cursor: None,
            }),
            r#"{"type":"history","id":9,"with":{"room":"general"},"messages":[{"id":1763800000000123,"ts":1763800000000,"from":"alice","to":{"room":"general"},"text":"hi"}],"more":false}"#,
        ),
        (
            srv(ServerMessage::History {
                id: 11,
                with: Target::Room(r("general")),
                messages: Vec::new(),
                more: true,
                unreadable: 0,
                cursor: Some(HistoryCursor::new("000000000031d07400000000").unwrap()),
            }),
            r#"{"type":"history","id":11,"with":{"room":"general"},"messages":[],"more":true,"cursor":"000000000031d07400000000"}"#,
        ),
        (
            srv(ServerMessage::error(
                Some(11),
                ErrorCode::BadCursor,
                "that history cursor is not valid here; ask again without it",
            )),
            r#"{"type":"error","id":11,"code":"bad_cursor","message":"that history cursor is not valid here; ask again without it"}"#,
        ),
        (
            srv(ServerMessage::Typing {
                with: Target::Room(r("general")),
                user: u("bob"),
            }),
            r#"{"type":"typing","with":{"room":"general"},"user":"bob"}"#,
        ),
        (
            srv(ServerMessage::Typing {
                with: Target::User(u("bob")),
                user: u("bob"),
            }),
            r#"{"type":"typing","with":{"user":"bob"},"user":"bob"}"#,
        ),
        (
            srv(ServerMessage::error(
                Some(12),
                ErrorCode::RateLimited,
                "typing indicators for one conversation come at most every 2 seconds",
            )),
            r#"{"type":"error","id":12,"code":"rate_limited","message":"typing indicators for one conversation come at most every 2 seconds"}"#,
        ),
        (
            srv(ServerMessage::Read {
                id: Some(13),
                with: Target::Room(r("general")),
                up_to: 1_763_800_000_000_123,
                unread: 0,
                mentions: 0,
            }),
            r#"{"type":"read","id":13,"with":{"room":"general"},"up_to":1763800000000123,"unread":0}"#,
        ),
        (
            srv(ServerMessage::Read {
                id: None,
                with: Target::User(u("bob")),
                up_to: 1_763_800_000_000_123,
                unread: 2,
                mentions: 0,
            }),
            r#"{"type":"read","with":{"user":"bob"},"up_to":1763800000000123,"unread":2}"#,
        ),
        (
            srv(ServerMessage::Search {
                id: 14,
                messages: vec![ChatMessage::new(
                    1_763_800_000_000_456,
                    1_763_800_000_000,
                    u("bob"),
                    Target::User(u("alice")),
                    MessageText::new("ask ZOË first").unwrap(),
                )],
                more: true,
                unreadable: 0,
                cursor: Some(HistoryCursor::new("000000000031d07400000000").unwrap()),
            }),
            r#"{"type":"search","id":14,"messages":[{"id":1763800000000456,"ts":1763800000000,"from":"bob","to":{"user":"alice"},"text":"ask ZOË first"}],"more":true,"cursor":"000000000031d07400000000"}"#,
        ),
        (
            srv(ServerMessage::Search {
                id: 15,
                messages: vec![],
                more: false,
                unreadable: 0,
                cursor: None,
            }),
            r#"{"type":"search","id":15,"messages":[],"more":false}"#,
        ),
        (
            srv(ServerMessage::error(
                Some(15),
                ErrorCode::BadCursor,
                "that history cursor is not valid here; ask again without it",
            )),
            r#"{"type":"error","id":15,"code":"bad_cursor","message":"that history cursor is not valid here; ask again without it"}"#,
        ),
        (
            srv(ServerMessage::Bye {
                reason: "goodbye".into(),
            }),
            r#"{"type":"bye","reason":"goodbye"}"#,
        ),
    ];
    for (got, want) in cases {
        assert_eq!(got, want);
        assert!(PROTOCOL_MD.contains(want), "docs/protocol.md lacks {want}");
    }
}
