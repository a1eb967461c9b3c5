//! Edits, deletions, replies and reactions (protocol v5) on the wire: every
//! example of docs/protocol.md, byte for byte, and the rules on emojis;
//! mentions, password changes and account deletion (also v5).
#![allow(clippy::unwrap_used, missing_docs)]

use cove_common::proto::{Change, ChangeKind, ChatMessage, Quote, Reaction, Unparsed};
use cove_common::{
    ClientMessage, ClientMsgId, Emoji, ErrorCode, MessageText, Request, RoomName, ServerMessage,
    Target, Username,
};

const PROTOCOL_MD: &str = include_str!("../../docs/protocol.md");

fn u(s: &str) -> Username {
    Username::new(s).unwrap()
}
fn general() -> Target {
    Target::Room(RoomName::general())
}
fn cid(s: &str) -> ClientMsgId {
    ClientMsgId::new(s).unwrap()
}
fn text(s: &str) -> MessageText {
    MessageText::new(s).unwrap()
}
fn thumbs() -> Emoji {
    Emoji::new("👍").unwrap()
}
const HI: u64 = 1_763_800_000_000_123;

fn documented(got: Vec<u8>, want: &str) {
    assert_eq!(String::from_utf8(got).unwrap(), want);
    assert!(PROTOCOL_MD.contains(want), "docs/protocol.md lacks {want}");
}

#[test]
fn requests_match_the_document() {
    let req = |id, request| ClientMessage { id, request }.encode();
    documented(
        req(
            16,
            Request::Send {
                client_id: cid("c3"),
                to: general(),
                text: Some(text("agreed")),
                reply_to: Some(HI),
                file: None,
            },
        ),
        r#"{"id":16,"type":"send","client_id":"c3","to":{"room":"general"},"text":"agreed","reply_to":1763800000000123}"#,
    );
    documented(
        req(
            17,
            Request::Edit {
                client_id: cid("c4"),
                with: general(),
                message_id: HI,
                text: text("hi all"),
            },
        ),
        r#"{"id":17,"type":"edit","client_id":"c4","with":{"room":"general"},"message_id":1763800000000123,"text":"hi all"}"#,
    );
    documented(
        req(
            18,
            Request::Delete {
                client_id: cid("c5"),
                with: Target::User(u("bob")),
                message_id: 1_763_800_000_000_456,
            },
        ),
        r#"{"id":18,"type":"delete","client_id":"c5","with":{"user":"bob"},"message_id":1763800000000456}"#,
    );
    for (id, c, remove, want) in [
        (
            19,
            "c6",
            false,
            r#"{"id":19,"type":"react","client_id":"c6","with":{"room":"general"},"message_id":1763800000000123,"emoji":"👍"}"#,
        ),
        (
            20,
            "c7",
            true,
            r#"{"id":20,"type":"react","client_id":"c7","with":{"room":"general"},"message_id":1763800000000123,"emoji":"👍","remove":true}"#,
        ),
    ] {
        let r = Request::React {
            client_id: cid(c),
            with: general(),
            message_id: HI,
            emoji: thumbs(),
            remove,
        };
        documented(req(id, r), want);
        // And back: what the document shows parses to the same request.
        let back = ClientMessage::parse(want.as_bytes()).unwrap();
        assert!(matches!(back.request, Request::React { remove: r, .. } if r == remove));
    }
}

fn change(id: u64, ts: u64, from: &str, to: Target, message_id: u64, what: ChangeKind) -> Vec<u8> {
    ServerMessage::Change(Change {
        id,
        ts,
        from: u(from),
        to,
        message_id,
        what,
    })
    .encode()
}

#[test]
fn server_messages_match_the_document() {
    documented(
        ServerMessage::Ack {
            id: 17,
            client_id: cid("c4"),
            message_id: 1_763_800_000_000_200,
            ts: 1_763_800_005_000,
        }
        .encode(),
        r#"{"type":"ack","id":17,"client_id":"c4","message_id":1763800000000200,"ts":1763800005000}"#,
    );
    documented(
        change(
            1_763_800_000_000_200,
            1_763_800_005_000,
            "alice",
            general(),
            HI,
            ChangeKind::Edit {
                text: text("hi all"),
            },
        ),
        r#"{"type":"change","id":1763800000000200,"ts":1763800005000,"from":"alice","to":{"room":"general"},"message_id":1763800000000123,"change":"edit","text":"hi all"}"#,
    );
    documented(
        change(
            1_763_800_000_000_201,
            1_763_800_006_000,
            "alice",
            Target::User(u("bob")),
            1_763_800_000_000_456,
            ChangeKind::Delete,
        ),
        r#"{"type":"change","id":1763800000000201,"ts":1763800006000,"from":"alice","to":{"user":"bob"},"message_id":1763800000000456,"change":"delete"}"#,
    );
    documented(
        change(
            1_763_800_000_000_202,
            1_763_800_007_000,
            "bob",
            general(),
            HI,
            ChangeKind::React {
                emoji: thumbs(),
                remove: false,
            },
        ),
        r#"{"type":"change","id":1763800000000202,"ts":1763800007000,"from":"bob","to":{"room":"general"},"message_id":1763800000000123,"change":"react","emoji":"👍"}"#,
    );
    documented(
        change(
            1_763_800_000_000_203,
            1_763_800_008_000,
            "bob",
            general(),
            HI,
            ChangeKind::React {
                emoji: thumbs(),
                remove: true,
            },
        ),
        r#"{"type":"change","id":1763800000000203,"ts":1763800008000,"from":"bob","to":{"room":"general"},"message_id":1763800000000123,"change":"react","emoji":"👍","remove":true}"#,
    );
    let mut reply = ChatMessage::new(
        1_763_800_000_000_300,
        1_763_800_009_000,
        u("bob"),
        general(),
        text("agreed"),
    );
    reply.reply_to = Some(Quote {
        id: HI,
        from: u("alice"),
        text: Some("hi all".into()),
    });
    documented(
        ServerMessage::Message(reply.clone()).encode(),
        r#"{"type":"message","id":1763800000000300,"ts":1763800009000,"from":"bob","to":{"room":"general"},"text":"agreed","reply_to":{"id":1763800000000123,"from":"alice","text":"hi all"}}"#,
    );
    let mut edited = ChatMessage::new(HI, 1_763_800_000_000, u("alice"), general(), text("hi all"));
    edited.edited = Some(1_763_800_005_000);
    edited.reactions = vec![Reaction {
        emoji: Emoji::new("🎉").unwrap(),
        count: 2,
        users: vec![u("bob"), u("carol")],
        mine: true,
    }];
    documented(
        ServerMessage::History {
            id: 21,
            with: general(),
            messages: vec![reply, edited],
            more: false,
            unreadable: 0,
            cursor: None,
        }
        .encode(),
        r#"{"type":"history","id":21,"with":{"room":"general"},"messages":[{"id":1763800000000300,"ts":1763800009000,"from":"bob","to":{"room":"general"},"text":"agreed","reply_to":{"id":1763800000000123,"from":"alice","text":"hi all"}},{"id":1763800000000123,"ts":1763800000000,"from":"alice","to":{"room":"general"},"text":"hi all","edited":1763800005000,"reactions":[{"emoji":"🎉","count":2,"users":["bob","carol"],"mine":true}]}],"more":false}"#,
    );
    let mut gone = ChatMessage::new(
        1_763_800_000_000_456,
        1_763_800_001_000,
        u("alice"),
        Target::User(u("bob")),
        text("x"),
    );
    gone.text = None;
    gone.deleted = Some(1_763_800_006_000);
    documented(
        ServerMessage::History {
            id: 22,
            with: Target::User(u("bob")),
            messages: vec![gone],
            more: false,
            unreadable: 0,
            cursor: None,
        }
        .encode(),
        r#"{"type":"history","id":22,"with":{"user":"bob"},"messages":[{"id":1763800000000456,"ts":1763800001000,"from":"alice","to":{"user":"bob"},"deleted":1763800006000}],"more":false}"#,
    );
    documented(
        ServerMessage::error(
            Some(17),
            ErrorCode::NotAuthor,
            "only its author can edit or delete a message",
        )
        .encode(),
        r#"{"type":"error","id":17,"code":"not_author","message":"only its author can edit or delete a message"}"#,
    );
    documented(
        ServerMessage::error(
            Some(19),
            ErrorCode::NoSuchMessage,
            "no message 1763800000000123 in this conversation",
        )
        .encode(),
        r#"{"type":"error","id":19,"code":"no_such_message","message":"no message 1763800000000123 in this conversation"}"#,
    );
}

#[test]
fn every_documented_server_message_parses_back_to_itself() {
    let lines = PROTOCOL_MD
        .lines()
        .filter(|l| l.starts_with(r#"{"type":"change""#) || l.contains(r#""reply_to":{"#));
    let mut n = 0;
    for line in lines {
        let m = ServerMessage::parse(line.as_bytes()).unwrap();
        assert_eq!(String::from_utf8(m.encode()).unwrap(), line);
        n += 1;
    }
    assert!(n >= 6, "found {n} examples");
}

#[test]
fn an_emoji_is_exactly_one_emoji() {
    for ok in ["👍", "🇿🇦", "✌🏽", "👩‍👩‍👧", "❤️", "🎉"] {
        assert!(Emoji::new(ok).is_ok(), "{ok} refused");
    }
    for bad in ["", "a", "ok", "👍👍", "👍 ", " 👍", "🇿", "\u{200d}"] {
        assert!(Emoji::new(bad).is_err(), "{bad:?} accepted");
    }
    // A reaction that is not one names its request in the error.
    let not_one = r#"{"id":31,"type":"react","client_id":"c","with":{"room":"general"},"message_id":1,"emoji":"lol"}"#;
    assert!(ClientMessage::parse(not_one.as_bytes()).is_err());
    assert_eq!(
        ClientMessage::salvage(not_one.as_bytes()),
        Unparsed::Invalid { id: Some(31) }
    );
}

#[test]
fn a_v4_message_without_the_new_fields_still_parses() {
    let old =
        r#"{"type":"message","id":5,"ts":6,"from":"alice","to":{"room":"general"},"text":"hi"}"#;
    let ServerMessage::Message(m) = ServerMessage::parse(old.as_bytes()).unwrap() else {
        panic!("not a message")
    };
    assert_eq!(m.text_str(), "hi");
    assert!(m.reply_to.is_none() && m.edited.is_none() && m.deleted.is_none());
    assert!(m.reactions.is_empty());
}

#[test]
fn mentions_match_the_document() {
    use cove_common::proto::RoomInfo;
    let mut m = ChatMessage::new(
        1_763_800_000_000_301,
        1_763_800_010_000,
        u("bob"),
        general(),
        text("@alice can you look?"),
    );
    m.mentions = vec![u("alice")];
    documented(
        ServerMessage::Message(m).encode(),
        r#"{"type":"message","id":1763800000000301,"ts":1763800010000,"from":"bob","to":{"room":"general"},"text":"@alice can you look?","mentions":["alice"]}"#,
    );
    documented(
        ServerMessage::Read {
            id: Some(23),
            with: general(),
            up_to: HI,
            unread: 4,
            mentions: 1,
        }
        .encode(),
        r#"{"type":"read","id":23,"with":{"room":"general"},"up_to":1763800000000123,"unread":4,"mentions":1}"#,
    );
    documented(
        ServerMessage::Rooms {
            id: 24,
            rooms: vec![RoomInfo {
                name: RoomName::general(),
                members: 2,
                online: 1,
                unread: 4,
                mentions: 1,
                private: false,
                topic: None,
                role: None,
            }],
            total: 1,
        }
        .encode(),
        r#"{"type":"rooms","id":24,"rooms":[{"name":"general","members":2,"online":1,"unread":4,"mentions":1}],"total":1}"#,
    );
}

#[test]
fn change_password_matches_the_document() {
    let r = ClientMessage {
        id: 25,
        request: Request::ChangePassword {
            old: cove_common::Password::new("correct horse").unwrap(),
            new: cove_common::Password::new("battery staple").unwrap(),
            sign_out_others: true,
        },
    };
    documented(
        r.encode(),
        r#"{"id":25,"type":"change_password","old":"correct horse","new":"battery staple","sign_out_others":true}"#,
    );
    documented(
        ServerMessage::PasswordChanged {
            id: 25,
            signed_out: 1,
        }
        .encode(),
        r#"{"type":"password_changed","id":25,"signed_out":1}"#,
    );
    documented(
        ServerMessage::Bye {
            reason: "signed out: the password was changed".into(),
        }
        .encode(),
        r#"{"type":"bye","reason":"signed out: the password was changed"}"#,
    );
    // A new password that breaks the limits makes the request invalid.
    let short = br#"{"id":26,"type":"change_password","old":"correct horse","new":"short"}"#;
    assert!(ClientMessage::parse(short).is_err());
}

#[test]
fn delete_account_matches_the_document() {
    use cove_common::proto::{Notice, NoticeKind};
    let r = ClientMessage {
        id: 27,
        request: Request::DeleteAccount {
            password: cove_common::Password::new("battery staple").unwrap(),
        },
    };
    documented(
        r.encode(),
        r#"{"id":27,"type":"delete_account","password":"battery staple"}"#,
    );
    documented(
        ServerMessage::AccountDeleted { id: 27 }.encode(),
        r#"{"type":"account_deleted","id":27}"#,
    );
    documented(
        ServerMessage::Bye {
            reason: "account deleted".into(),
        }
        .encode(),
        r#"{"type":"bye","reason":"account deleted"}"#,
    );
    documented(
        ServerMessage::Notice(Notice::new(
            1_763_800_020_000,
            NoticeKind::Deleted { user: u("alice") },
        ))
        .encode(),
        r#"{"type":"notice","ts":1763800020000,"kind":{"event":"deleted","user":"alice"},"text":"alice deleted their account"}"#,
    );
}

#[test]
fn every_bye_reason_is_in_the_documents_table() {
    use cove_common::proto::byes;
    for reason in [
        byes::GOODBYE,
        byes::IDLE,
        byes::NO_LOGIN,
        byes::NOT_OBJECTS,
        byes::SHUTDOWN,
        byes::SIGNED_OUT,
        byes::DELETED,
        byes::DELETED_ELSEWHERE,
    ] {
        let row = format!("| `{reason}` |");
        assert!(PROTOCOL_MD.contains(&row), "§7 lacks {row}");
    }
}
