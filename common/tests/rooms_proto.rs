//! Rooms with owners (protocol v5) on the wire: every example of
//! docs/protocol.md, byte for byte, and the rules on topics.
#![allow(clippy::unwrap_used, missing_docs)]

use cove_common::proto::{Member, Notice, NoticeKind, Role, RoomInfo};
use cove_common::{ClientMessage, ErrorCode, Request, RoomName, ServerMessage, Topic, Username};

const PROTOCOL_MD: &str = include_str!("../../docs/protocol.md");

fn u(s: &str) -> Username {
    Username::new(s).unwrap()
}
fn class() -> RoomName {
    RoomName::new("class").unwrap()
}
fn documented(got: Vec<u8>, want: &str) {
    assert_eq!(String::from_utf8(got).unwrap(), want);
    assert!(PROTOCOL_MD.contains(want), "docs/protocol.md lacks {want}");
}
fn req(id: u64, request: Request) -> Vec<u8> {
    ClientMessage { id, request }.encode()
}

#[test]
fn requests_match_the_document() {
    let cases = [
        (
            req(
                30,
                Request::Create {
                    room: class(),
                    private: true,
                    topic: Some(Topic::new("Maths, period 3").unwrap()),
                },
            ),
            r#"{"id":30,"type":"create","room":"class","private":true,"topic":"Maths, period 3"}"#,
        ),
        (
            req(
                31,
                Request::Invite {
                    room: class(),
                    user: u("ann"),
                },
            ),
            r#"{"id":31,"type":"invite","room":"class","user":"ann"}"#,
        ),
        (
            req(32, Request::Decline { room: class() }),
            r#"{"id":32,"type":"decline","room":"class"}"#,
        ),
        (
            req(
                33,
                Request::Kick {
                    room: class(),
                    user: u("ben"),
                    ban: true,
                },
            ),
            r#"{"id":33,"type":"kick","room":"class","user":"ben","ban":true}"#,
        ),
        (
            req(
                34,
                Request::Unban {
                    room: class(),
                    user: u("ben"),
                },
            ),
            r#"{"id":34,"type":"unban","room":"class","user":"ben"}"#,
        ),
        (
            req(
                35,
                Request::SetTopic {
                    room: class(),
                    topic: None,
                },
            ),
            r#"{"id":35,"type":"set_topic","room":"class","topic":null}"#,
        ),
        (
            req(
                36,
                Request::SetRole {
                    room: class(),
                    user: u("ann"),
                    role: Role::Moderator,
                },
            ),
            r#"{"id":36,"type":"set_role","room":"class","user":"ann","role":"moderator"}"#,
        ),
    ];
    for (got, want) in cases {
        documented(got, want);
    }
}

fn class_info(role: Option<Role>) -> RoomInfo {
    RoomInfo {
        name: class(),
        members: 1,
        online: 1,
        unread: 0,
        mentions: 0,
        private: true,
        topic: Some(Topic::new("Maths, period 3").unwrap()),
        role,
    }
}

#[test]
fn server_messages_match_the_document() {
    documented(
        ServerMessage::Joined {
            id: 30,
            room: class_info(Some(Role::Owner)),
        }
        .encode(),
        r#"{"type":"joined","id":30,"room":{"name":"class","members":1,"online":1,"unread":0,"private":true,"topic":"Maths, period 3","role":"owner"}}"#,
    );
    documented(
        ServerMessage::Done { id: 31 }.encode(),
        r#"{"type":"done","id":31}"#,
    );
    documented(
        ServerMessage::Welcome {
            id: 1,
            session: cove_common::proto::SessionInfo {
                username: u("ann"),
                server_time: 1_763_800_040_000,
                max_file_bytes: 26_214_400,
            },
            rooms: vec![RoomInfo {
                name: RoomName::general(),
                members: 3,
                online: 2,
                unread: 0,
                mentions: 0,
                private: false,
                topic: None,
                role: None,
            }],
            directs: vec![],
            direct_unread: vec![],
            invitations: vec![cove_common::proto::Invitation {
                room: RoomInfo {
                    topic: None,
                    ..class_info(None)
                },
                by: u("teacher"),
            }],
        }
        .encode(),
        r#"{"type":"welcome","id":1,"session":{"username":"ann","server_time":1763800040000,"max_file_bytes":26214400},"rooms":[{"name":"general","members":3,"online":2,"unread":0}],"directs":[],"invitations":[{"room":{"name":"class","members":1,"online":1,"unread":0,"private":true},"by":"teacher"}]}"#,
    );
    documented(
        ServerMessage::Invited {
            room: class_info(None),
            by: u("teacher"),
        }
        .encode(),
        r#"{"type":"invited","room":{"name":"class","members":1,"online":1,"unread":0,"private":true,"topic":"Maths, period 3"},"by":"teacher"}"#,
    );
    let notice = |ts, kind| ServerMessage::Notice(Notice::new(ts, kind)).encode();
    documented(
        notice(
            1_763_800_030_000,
            NoticeKind::Kicked {
                room: class(),
                user: u("ben"),
                by: u("teacher"),
                banned: true,
            },
        ),
        r#"{"type":"notice","ts":1763800030000,"kind":{"event":"kicked","room":"class","user":"ben","by":"teacher","banned":true},"text":"ben was banned from #class by teacher"}"#,
    );
    documented(
        notice(
            1_763_800_031_000,
            NoticeKind::Topic {
                room: class(),
                by: u("ann"),
                topic: Some(Topic::new("Bring calculators").unwrap()),
            },
        ),
        r#"{"type":"notice","ts":1763800031000,"kind":{"event":"topic","room":"class","by":"ann","topic":"Bring calculators"},"text":"ann set the topic of #class: Bring calculators"}"#,
    );
    documented(
        notice(
            1_763_800_032_000,
            NoticeKind::Role {
                room: class(),
                user: u("ann"),
                role: Role::Moderator,
                by: u("teacher"),
            },
        ),
        r#"{"type":"notice","ts":1763800032000,"kind":{"event":"role","room":"class","user":"ann","role":"moderator","by":"teacher"},"text":"teacher made ann a moderator of #class"}"#,
    );
    documented(
        ServerMessage::Members {
            id: 37,
            room: class(),
            members: vec![
                Member {
                    username: u("ann"),
                    online: true,
                    role: Some(Role::Moderator),
                },
                Member {
                    username: u("teacher"),
                    online: true,
                    role: Some(Role::Owner),
                },
            ],
            total: 2,
            banned: Vec::new(),
        }
        .encode(),
        r#"{"type":"members","id":37,"room":"class","members":[{"username":"ann","online":true,"role":"moderator"},{"username":"teacher","online":true,"role":"owner"}],"total":2}"#,
    );
    // Since v6 the owner and moderators also see who is banned.
    documented(
        ServerMessage::Members {
            id: 48,
            room: class(),
            members: vec![Member {
                username: u("teacher"),
                online: true,
                role: Some(Role::Owner),
            }],
            total: 1,
            banned: vec![u("ben")],
        }
        .encode(),
        r#"{"type":"members","id":48,"room":"class","members":[{"username":"teacher","online":true,"role":"owner"}],"total":1,"banned":["ben"]}"#,
    );
    for (id, code, message, want) in [
        (
            33,
            ErrorCode::Forbidden,
            "the owner may remove anyone else, moderators only members",
            r#"{"type":"error","id":33,"code":"forbidden","message":"the owner may remove anyone else, moderators only members"}"#,
        ),
        (
            38,
            ErrorCode::NotInvited,
            "#class is private: you need an invitation",
            r##"{"type":"error","id":38,"code":"not_invited","message":"#class is private: you need an invitation"}"##,
        ),
        (
            39,
            ErrorCode::Banned,
            "you are banned from #class",
            r#"{"type":"error","id":39,"code":"banned","message":"you are banned from #class"}"#,
        ),
    ] {
        documented(ServerMessage::error(Some(id), code, message).encode(), want);
    }
}

#[test]
fn a_topic_is_one_visible_line() {
    assert!(Topic::new("Maths, period 3").is_ok());
    for bad in ["", "   ", "two\nlines", "\u{202E}evil", &"x".repeat(201)] {
        assert!(Topic::new(bad).is_err(), "{bad:?}");
    }
    let long = br#"{"id":1,"type":"set_topic","room":"class","topic":"a\nb"}"#;
    assert!(ClientMessage::parse(long).is_err());
}
