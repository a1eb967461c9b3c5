//! Rooms with owners (protocol v5) through a real server: a private room
//! is invite-only and unlisted; its owner invites, removes and bans, names
//! moderators, who remove members and set the topic; every permission
//! rule has its typed error; bans and roles hold across a restart.
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use cove_common::client::{Events, Session};
use cove_common::proto::{NoticeKind, Role, RoomInfo};
use cove_common::{ErrorCode, Request, RoomName, ServerMessage, Target, Topic, Username};
use support::*;

fn class() -> RoomName {
    RoomName::new("class").unwrap()
}

/// Sends a request and returns its reply, or its error code.
async fn ask(s: &Session, ev: &mut Events, r: Request) -> Result<ServerMessage, ErrorCode> {
    let id = s.send(r).await.unwrap();
    match expect(ev, "a reply", |m| m.answers() == Some(id)).await {
        ServerMessage::Error { code, .. } => Err(code),
        other => Ok(other),
    }
}

async fn join(s: &Session, ev: &mut Events) -> Result<RoomInfo, ErrorCode> {
    match ask(s, ev, Request::Join { room: class() }).await? {
        ServerMessage::Joined { room, .. } => Ok(room),
        other => panic!("{other:?}"),
    }
}

fn kick(who: &str, ban: bool) -> Request {
    Request::Kick {
        room: class(),
        user: Username::new(who).unwrap(),
        ban,
    }
}
fn invite(who: &str) -> Request {
    Request::Invite {
        room: class(),
        user: Username::new(who).unwrap(),
    }
}

async fn notice(ev: &mut Events) -> NoticeKind {
    let is_moderation = |k: &NoticeKind| {
        matches!(
            k,
            NoticeKind::Kicked { .. } | NoticeKind::Topic { .. } | NoticeKind::Role { .. }
        )
    };
    match expect(
        ev,
        "a notice",
        |m| matches!(m, ServerMessage::Notice(n) if is_moderation(&n.kind)),
    )
    .await
    {
        ServerMessage::Notice(n) => n.kind,
        _ => unreachable!(),
    }
}

#[tokio::test]
async fn a_private_class_room_is_invite_only_and_its_owner_removes_and_bans() {
    let mut srv = TestServer::start().await;
    let (teacher, mut t_ev, _) = register(&srv.addr, "teacher").await;
    let (ann, mut a_ev, _) = register(&srv.addr, "ann").await;
    let (ben, mut b_ev, _) = register(&srv.addr, "ben").await;

    let created = ask(
        &teacher,
        &mut t_ev,
        Request::Create {
            room: class(),
            private: true,
            topic: Some(Topic::new("Maths, period 3").unwrap()),
        },
    )
    .await
    .unwrap();
    let ServerMessage::Joined { room, .. } = created else {
        panic!("{created:?}")
    };
    assert!(room.private);
    assert_eq!(room.role, Some(Role::Owner));
    assert_eq!(room.topic.unwrap().as_str(), "Maths, period 3");
    let again = ask(
        &ann,
        &mut a_ev,
        Request::Create {
            room: class(),
            private: false,
            topic: None,
        },
    )
    .await;
    assert_eq!(again.unwrap_err(), ErrorCode::NameTaken);

    // Not listed to others, not open to them.
    let ServerMessage::Rooms { rooms, .. } =
        ask(&ann, &mut a_ev, Request::ListRooms).await.unwrap()
    else {
        unreachable!()
    };
    assert!(rooms.iter().all(|r| r.name != class()));
    assert_eq!(
        join(&ann, &mut a_ev).await.unwrap_err(),
        ErrorCode::NotInvited
    );
    // Members do not moderate.
    assert_eq!(
        ask(&ann, &mut a_ev, invite("ben")).await.unwrap_err(),
        ErrorCode::NotMember
    );

    for (who, s, ev) in [("ann", &ann, &mut a_ev), ("ben", &ben, &mut b_ev)] {
        ask(&teacher, &mut t_ev, invite(who)).await.unwrap();
        let inv = expect(ev, "invited", |m| {
            matches!(m, ServerMessage::Invited { .. })
        })
        .await;
        let ServerMessage::Invited { room, by } = inv else {
            unreachable!()
        };
        assert_eq!((room.name, by.as_str()), (class(), "teacher"));
        let joined = join(s, ev).await.unwrap();
        assert_eq!(joined.role, None);
    }
    assert_eq!(
        ask(&ann, &mut a_ev, kick("ben", false)).await.unwrap_err(),
        ErrorCode::Forbidden
    );
    assert_eq!(
        ask(&ann, &mut a_ev, kick("teacher", false))
            .await
            .unwrap_err(),
        ErrorCode::Forbidden
    );

    // The teacher removes ann: everyone in the room hears it, ann too; she
    // can no longer read the room or come back without a new invitation.
    ask(&teacher, &mut t_ev, kick("ann", false)).await.unwrap();
    let kicked = notice(&mut a_ev).await;
    assert!(
        matches!(kicked, NoticeKind::Kicked { ref user, banned: false, .. } if user.as_str() == "ann")
    );
    let read = ask(
        &ann,
        &mut a_ev,
        Request::History {
            with: Target::Room(class()),
            before: None,
            limit: 5,
            cursor: None,
        },
    )
    .await;
    assert_eq!(read.unwrap_err(), ErrorCode::NotMember);
    assert_eq!(
        join(&ann, &mut a_ev).await.unwrap_err(),
        ErrorCode::NotInvited
    );

    // Ben is banned: even invited again, he stays out, across a restart.
    ask(&teacher, &mut t_ev, kick("ben", true)).await.unwrap();
    // (He heard ann's removal first.)
    assert!(matches!(
        notice(&mut b_ev).await,
        NoticeKind::Kicked { banned: false, .. }
    ));
    assert!(matches!(
        notice(&mut b_ev).await,
        NoticeKind::Kicked { banned: true, .. }
    ));
    assert_eq!(
        ask(&teacher, &mut t_ev, invite("ben")).await.unwrap_err(),
        ErrorCode::Forbidden
    );
    srv.restart().await;
    let (teacher, mut t_ev, w) = login(&srv.addr, "teacher").await;
    let r = w.rooms.iter().find(|r| r.name == class()).unwrap();
    assert_eq!((r.private, r.role, r.members), (true, Some(Role::Owner), 1));
    let (ben, mut b_ev, _) = login(&srv.addr, "ben").await;
    assert_eq!(join(&ben, &mut b_ev).await.unwrap_err(), ErrorCode::Banned);
    // The owner sees whom the room bans (since v6), to lift a ban.
    assert_eq!(banned_seen_by(&teacher, &mut t_ev).await, ["ben"]);
    // Unbanned and invited, he is back.
    ask(
        &teacher,
        &mut t_ev,
        Request::Unban {
            room: class(),
            user: Username::new("ben").unwrap(),
        },
    )
    .await
    .unwrap();
    assert!(banned_seen_by(&teacher, &mut t_ev).await.is_empty());
    ask(&teacher, &mut t_ev, invite("ben")).await.unwrap();
    join(&ben, &mut b_ev).await.unwrap();
}

/// The `banned` of a `members` reply for the class room.
async fn banned_seen_by(s: &Session, ev: &mut Events) -> Vec<String> {
    let reply = ask(s, ev, Request::Members { room: class() })
        .await
        .unwrap();
    let ServerMessage::Members { banned, .. } = reply else {
        panic!("{reply:?}")
    };
    banned.iter().map(|u| u.as_str().to_owned()).collect()
}

#[tokio::test]
async fn moderators_set_the_topic_and_remove_members_but_not_the_owner() {
    let mut srv = TestServer::start().await;
    let (owner, mut o_ev, _) = register(&srv.addr, "owner").await;
    let (mod_, mut m_ev, _) = register(&srv.addr, "modd").await;
    let (_x, mut x_ev, _) = register(&srv.addr, "member").await;
    // A public room: the first to join owns it.
    assert_eq!(
        join(&owner, &mut o_ev).await.unwrap().role,
        Some(Role::Owner)
    );
    join(&mod_, &mut m_ev).await.unwrap();
    join(&_x, &mut x_ev).await.unwrap();
    let role = |r| Request::SetRole {
        room: class(),
        user: Username::new("modd").unwrap(),
        role: r,
    };
    assert_eq!(
        ask(&mod_, &mut m_ev, role(Role::Moderator))
            .await
            .unwrap_err(),
        ErrorCode::Forbidden
    );
    ask(&owner, &mut o_ev, role(Role::Moderator)).await.unwrap();
    assert!(matches!(
        notice(&mut x_ev).await,
        NoticeKind::Role {
            role: Role::Moderator,
            ..
        }
    ));
    let topic = Request::SetTopic {
        room: class(),
        topic: Some(Topic::new("Bring calculators").unwrap()),
    };
    ask(&mod_, &mut m_ev, topic).await.unwrap();
    let t = notice(&mut x_ev).await;
    assert!(
        matches!(t, NoticeKind::Topic { topic: Some(ref t), .. } if t.as_str() == "Bring calculators")
    );
    assert_eq!(
        ask(&mod_, &mut m_ev, kick("owner", false))
            .await
            .unwrap_err(),
        ErrorCode::Forbidden
    );
    ask(&mod_, &mut m_ev, kick("member", true)).await.unwrap();

    srv.restart().await;
    let (owner, mut o_ev, _) = login(&srv.addr, "owner").await;
    let ServerMessage::Members { members, .. } =
        ask(&owner, &mut o_ev, Request::Members { room: class() })
            .await
            .unwrap()
    else {
        unreachable!()
    };
    let roles: Vec<_> = members
        .iter()
        .map(|m| (m.username.as_str().to_owned(), m.role))
        .collect();
    assert_eq!(
        roles,
        [
            ("modd".to_owned(), Some(Role::Moderator)),
            ("owner".to_owned(), Some(Role::Owner))
        ]
    );
    let (modd, mut m_ev, w) = login(&srv.addr, "modd").await;
    let r = w.rooms.iter().find(|r| r.name == class()).unwrap();
    assert_eq!(r.topic.as_ref().unwrap().as_str(), "Bring calculators");
    // Moderators see the bans (since v6); other members do not.
    assert_eq!(banned_seen_by(&modd, &mut m_ev).await, ["member"]);
    let (pat, mut p_ev, _) = register(&srv.addr, "pat").await;
    join(&pat, &mut p_ev).await.unwrap();
    assert!(banned_seen_by(&pat, &mut p_ev).await.is_empty());
    // Nobody removes anyone from general.
    let g = Request::Kick {
        room: RoomName::general(),
        user: Username::new("modd").unwrap(),
        ban: false,
    };
    assert!(ask(&owner, &mut o_ev, g).await.is_err());
}

#[tokio::test]
async fn an_invitation_made_while_away_comes_with_the_welcome() {
    let mut srv = TestServer::start().await;
    let (owner, mut o_ev, _) = register(&srv.addr, "owner").await;
    drop(register(&srv.addr, "ann").await);
    ask(
        &owner,
        &mut o_ev,
        Request::Create {
            room: class(),
            private: true,
            topic: None,
        },
    )
    .await
    .unwrap();
    ask(&owner, &mut o_ev, invite("ann")).await.unwrap();
    srv.restart().await;
    let (ann, mut a_ev, w) = login(&srv.addr, "ann").await;
    assert_eq!(w.invitations.len(), 1);
    assert_eq!(
        (&w.invitations[0].room.name, w.invitations[0].by.as_str()),
        (&class(), "owner")
    );
    join(&ann, &mut a_ev).await.unwrap();
    let (_, _, w) = login(&srv.addr, "ann").await;
    assert!(w.invitations.is_empty(), "used up by joining");
}

#[tokio::test]
async fn a_declined_invitation_no_longer_opens_the_room() {
    let srv = TestServer::start().await;
    let (owner, mut o_ev, _) = register(&srv.addr, "owner").await;
    let (ann, mut a_ev, _) = register(&srv.addr, "ann").await;
    ask(
        &owner,
        &mut o_ev,
        Request::Create {
            room: class(),
            private: true,
            topic: None,
        },
    )
    .await
    .unwrap();
    ask(&owner, &mut o_ev, invite("ann")).await.unwrap();
    let done = ask(&ann, &mut a_ev, Request::Decline { room: class() })
        .await
        .unwrap();
    assert!(matches!(done, ServerMessage::Done { .. }));
    assert_eq!(
        join(&ann, &mut a_ev).await.unwrap_err(),
        ErrorCode::NotInvited
    );
}

#[tokio::test]
async fn a_rooms_owner_deletes_a_members_message_and_members_cannot() {
    use cove_common::ClientMsgId;
    let srv = TestServer::start().await;
    let (owner, mut o_ev, _) = register(&srv.addr, "owner").await;
    let (ann, mut a_ev, _) = register(&srv.addr, "ann").await;
    let (ben, mut b_ev, _) = register(&srv.addr, "ben").await;
    join(&owner, &mut o_ev).await.unwrap();
    join(&ann, &mut a_ev).await.unwrap();
    join(&ben, &mut b_ev).await.unwrap();
    let room = Target::Room(class());
    let m = say_acked(&ann, &mut a_ev, room.clone(), "something rude", "m1").await;
    let delete = |c: &str| Request::Delete {
        client_id: ClientMsgId::new(c).unwrap(),
        with: room.clone(),
        message_id: m,
    };
    assert_eq!(
        ask(&ben, &mut b_ev, delete("d1")).await.unwrap_err(),
        ErrorCode::NotAuthor
    );
    assert!(matches!(
        ask(&owner, &mut o_ev, delete("d2")).await.unwrap(),
        ServerMessage::Ack { .. }
    ));
    let (messages, _) = history_page(&ben, &mut b_ev, room, None, 5).await;
    let gone = messages.iter().find(|x| x.id == m).unwrap();
    assert!(gone.deleted.is_some() && gone.text.is_none());
}

#[tokio::test]
async fn a_rooms_moderator_deletes_a_members_message_and_members_cannot() {
    use cove_common::ClientMsgId;
    let srv = TestServer::start().await;
    let (owner, mut o_ev, _) = register(&srv.addr, "owner").await;
    let (modd, mut m_ev, _) = register(&srv.addr, "modd").await;
    let (ann, mut a_ev, _) = register(&srv.addr, "ann").await;
    let (ben, mut b_ev, _) = register(&srv.addr, "ben").await;
    join(&owner, &mut o_ev).await.unwrap();
    for (s, ev) in [(&modd, &mut m_ev), (&ann, &mut a_ev), (&ben, &mut b_ev)] {
        join(s, ev).await.unwrap();
    }
    let room = Target::Room(class());
    let delete = |c: &str, m: u64| Request::Delete {
        client_id: ClientMsgId::new(c).unwrap(),
        with: room.clone(),
        message_id: m,
    };
    let m = say_acked(&ann, &mut a_ev, room.clone(), "something rude", "m1").await;
    // Before modd is named a moderator, he is a member like ben.
    assert_eq!(
        ask(&modd, &mut m_ev, delete("d0", m)).await.unwrap_err(),
        ErrorCode::NotAuthor
    );
    ask(
        &owner,
        &mut o_ev,
        Request::SetRole {
            room: class(),
            user: Username::new("modd").unwrap(),
            role: Role::Moderator,
        },
    )
    .await
    .unwrap();
    assert_eq!(
        ask(&ben, &mut b_ev, delete("d1", m)).await.unwrap_err(),
        ErrorCode::NotAuthor,
        "a plain member cannot"
    );
    assert!(matches!(
        ask(&modd, &mut m_ev, delete("d2", m)).await.unwrap(),
        ServerMessage::Ack { .. }
    ));
    // Everyone sees it deleted, by the moderator.
    let change = expect(
        &mut b_ev,
        "the deletion",
        |x| matches!(x, ServerMessage::Change(c) if c.message_id == m),
    )
    .await;
    let ServerMessage::Change(c) = change else {
        unreachable!()
    };
    assert_eq!(c.from.as_str(), "modd");
    let (messages, _) = history_page(&ben, &mut b_ev, room.clone(), None, 5).await;
    let gone = messages.iter().find(|x| x.id == m).unwrap();
    assert!(gone.deleted.is_some() && gone.text.is_none());
    // A moderator deletes only in the room he moderates: ann's message in
    // general is not his to delete.
    let g = say_acked(
        &ann,
        &mut a_ev,
        Target::Room(RoomName::general()),
        "elsewhere",
        "m2",
    )
    .await;
    let in_general = Request::Delete {
        client_id: ClientMsgId::new("d3").unwrap(),
        with: Target::Room(RoomName::general()),
        message_id: g,
    };
    assert_eq!(
        ask(&modd, &mut m_ev, in_general).await.unwrap_err(),
        ErrorCode::NotAuthor
    );
}
