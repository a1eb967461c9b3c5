//! Rooms with owners and account settings in the state, with synthetic
//! server messages: invitations, moderation answers where they were asked,
//! notices that change a room, and the account's notes.

use cove_common::proto::{Member, Notice, NoticeKind, Role, RoomInfo};
use cove_common::{ErrorCode, Password, Request, RoomName, ServerMessage, Target, Topic};

use crate::state::tests::{general, room, u};
use crate::state::{ChatState, Entry, Place, RoomAct};

fn class() -> RoomName {
    RoomName::new("class").unwrap()
}

fn class_info(role: Option<Role>) -> RoomInfo {
    RoomInfo {
        private: true,
        topic: Some(Topic::new("Maths, period 3").unwrap()),
        role,
        ..room("class", 0)
    }
}

/// The only request queued (member lists aside), with its id.
fn asked(s: &mut ChatState) -> (crate::state::RequestId, Request) {
    let mut out: Vec<_> = s
        .take_outbox()
        .into_iter()
        .filter(|(_, r)| !matches!(r, Request::Members { .. }))
        .collect();
    assert_eq!(out.len(), 1, "{out:?}");
    out.pop().unwrap()
}

fn notice(kind: NoticeKind) -> ServerMessage {
    ServerMessage::Notice(Notice::new(5, kind))
}

#[test]
fn creating_a_room_opens_it_and_a_refusal_shows_in_the_dialog() {
    let mut s = ChatState::new(u("teacher"), vec![room("general", 0)]);
    s.create(class(), true, Some(Topic::new("Maths, period 3").unwrap()));
    let (id, r) = asked(&mut s);
    assert!(matches!(
        r,
        Request::Create {
            private: true,
            topic: Some(_),
            ..
        }
    ));
    assert!(s.creating());
    s.on_reply(
        id,
        ServerMessage::Joined {
            id: 1,
            room: class_info(Some(Role::Owner)),
        },
    );
    assert!(!s.creating());
    assert_eq!(s.current, Target::Room(class()));
    assert_eq!(s.my_role(&class()), Role::Owner);
    assert!(s.room(&class()).unwrap().private);

    s.create(RoomName::new("books").unwrap(), false, None);
    let (id, _) = asked(&mut s);
    s.on_reply(
        id,
        ServerMessage::error(
            Some(9),
            ErrorCode::NameTaken,
            "the room books already exists",
        ),
    );
    let note = s.note(&Place::NewRoom).unwrap();
    assert_eq!(
        note.text,
        "Could not create #books: The room books already exists."
    );
    assert!(!note.ok);
    // Not as a line of the conversation open.
    assert!(
        s.conversations[&Target::Room(class())]
            .entries
            .iter()
            .all(|e| !matches!(e, Entry::Info { .. }))
    );
}

#[test]
fn an_invitation_is_listed_until_joined_or_declined() {
    let mut s = ChatState::new(u("ann"), vec![room("general", 0)]);
    let invited = || ServerMessage::Invited {
        room: class_info(None),
        by: u("teacher"),
    };
    s.apply(invited());
    s.apply(invited());
    assert_eq!(s.invitations.len(), 1, "the same invitation once");
    assert_eq!(s.invitations[0].by, u("teacher"));
    // Joining uses it up.
    s.accept(class());
    let (id, r) = asked(&mut s);
    assert!(matches!(r, Request::Join { .. }));
    s.on_reply(
        id,
        ServerMessage::Joined {
            id: 1,
            room: class_info(None),
        },
    );
    assert!(s.invitations.is_empty());
    assert_eq!(s.current, Target::Room(class()));

    // Another, declined: gone once the server says done.
    s.apply(ServerMessage::Invited {
        room: room("chess", 0),
        by: u("bob"),
    });
    let chess = RoomName::new("chess").unwrap();
    s.room_act(chess.clone(), RoomAct::Decline);
    let (id, r) = asked(&mut s);
    assert!(matches!(r, Request::Decline { .. }));
    assert_eq!(s.invitations.len(), 1, "until answered");
    s.on_reply(id, ServerMessage::Done { id: 2 });
    assert!(s.invitations.is_empty());

    // A refused join says so beside the invitation.
    s.apply(ServerMessage::Invited {
        room: room("chess", 0),
        by: u("bob"),
    });
    s.accept(chess.clone());
    let (id, _) = asked(&mut s);
    s.on_reply(
        id,
        ServerMessage::error(Some(3), ErrorCode::Banned, "you are banned from #chess"),
    );
    assert_eq!(
        s.note(&Place::Invitation(chess)).unwrap().text,
        "Could not join #chess: You are banned from #chess."
    );
}

#[test]
fn moderation_answers_show_in_the_room_they_concern() {
    let mut s = ChatState::new(
        u("teacher"),
        vec![room("general", 0), class_info(Some(Role::Owner))],
    );
    s.room_act(class(), RoomAct::Invite(u("ann")));
    let (id, r) = asked(&mut s);
    assert!(matches!(r, Request::Invite { user, .. } if user == u("ann")));
    s.on_reply(id, ServerMessage::Done { id: 1 });
    let note = s.note(&Place::Room(class())).unwrap();
    assert_eq!(
        (note.text.as_str(), note.ok),
        ("Invited ann to #class.", true)
    );

    s.room_act(
        class(),
        RoomAct::Kick {
            user: u("teacher2"),
            ban: true,
        },
    );
    assert!(
        s.note(&Place::Room(class())).is_none(),
        "a new action clears it"
    );
    let (id, r) = asked(&mut s);
    assert!(matches!(r, Request::Kick { ban: true, .. }));
    s.on_reply(
        id,
        ServerMessage::error(
            Some(2),
            ErrorCode::Forbidden,
            "the owner may remove anyone else, moderators only members",
        ),
    );
    let note = s.note(&Place::Room(class())).unwrap();
    assert_eq!(
        note.text,
        "Could not ban teacher2: The owner may remove anyone else, moderators only members."
    );
    assert!(!note.ok);

    // A topic set shows at once, before its notice.
    s.room_act(
        class(),
        RoomAct::SetTopic(Some(Topic::new("Bring calculators").unwrap())),
    );
    let (id, r) = asked(&mut s);
    assert!(matches!(r, Request::SetTopic { topic: Some(_), .. }));
    s.on_reply(id, ServerMessage::Done { id: 3 });
    assert_eq!(
        s.room(&class()).unwrap().topic.as_ref().map(Topic::as_str),
        Some("Bring calculators")
    );
    assert_eq!(s.note(&Place::Room(class())).unwrap().text, "Topic set.");

    // Lost with the connection: said too.
    s.room_act(
        class(),
        RoomAct::SetRole {
            user: u("ann"),
            role: Role::Moderator,
        },
    );
    let (id, _) = asked(&mut s);
    s.on_unanswered(&[id]);
    assert!(
        s.note(&Place::Room(class()))
            .unwrap()
            .text
            .starts_with("Not connected")
    );
}

#[test]
fn topic_and_role_notices_update_the_room_and_its_members() {
    let mut s = ChatState::new(u("ann"), vec![room("general", 0), class_info(None)]);
    s.apply(ServerMessage::Members {
        id: 1,
        room: class(),
        members: vec![
            Member {
                username: u("ann"),
                online: true,
                role: None,
            },
            Member {
                username: u("teacher"),
                online: true,
                role: Some(Role::Owner),
            },
        ],
        total: 2,
        banned: Vec::new(),
    });
    s.apply(notice(NoticeKind::Topic {
        room: class(),
        by: u("teacher"),
        topic: Some(Topic::new("Bring calculators").unwrap()),
    }));
    assert_eq!(
        s.room(&class()).unwrap().topic.as_ref().map(Topic::as_str),
        Some("Bring calculators")
    );
    // The notice is a line of #class only, not of every room.
    let has_notice = |s: &ChatState, t: &Target| {
        s.conversations
            .get(t)
            .is_some_and(|c| c.entries.iter().any(|e| matches!(e, Entry::Notice(_))))
    };
    assert!(has_notice(&s, &Target::Room(class())));
    assert!(!has_notice(&s, &general()));

    s.apply(notice(NoticeKind::Role {
        room: class(),
        user: u("ann"),
        role: Role::Moderator,
        by: u("teacher"),
    }));
    assert_eq!(s.my_role(&class()), Role::Moderator);
    let ann = |s: &ChatState| {
        s.members[&class().key()]
            .members
            .iter()
            .find(|m| m.username == u("ann"))
            .unwrap()
            .role
    };
    assert_eq!(ann(&s), Some(Role::Moderator));
    s.apply(notice(NoticeKind::Role {
        room: class(),
        user: u("ann"),
        role: Role::Member,
        by: u("teacher"),
    }));
    assert_eq!(s.my_role(&class()), Role::Member);
    assert_eq!(ann(&s), None);
    s.apply(notice(NoticeKind::Topic {
        room: class(),
        by: u("teacher"),
        topic: None,
    }));
    assert_eq!(s.room(&class()).unwrap().topic, None);
}

#[test]
fn being_removed_takes_the_room_away_with_a_note() {
    let mut s = ChatState::new(u("ann"), vec![room("general", 0), class_info(None)]);
    s.show(Target::Room(class()));
    s.take_outbox();
    // Someone else removed: only the member list changes.
    s.apply(ServerMessage::Members {
        id: 1,
        room: class(),
        members: vec![
            Member {
                username: u("ann"),
                online: true,
                role: None,
            },
            Member {
                username: u("ben"),
                online: true,
                role: None,
            },
        ],
        total: 2,
        banned: Vec::new(),
    });
    s.apply(notice(NoticeKind::Kicked {
        room: class(),
        user: u("ben"),
        by: u("teacher"),
        banned: false,
    }));
    assert_eq!(s.members[&class().key()].members.len(), 1);
    assert!(s.room(&class()).is_some());
    assert!(s.removals.is_empty());
    // Then the user.
    s.apply(notice(NoticeKind::Kicked {
        room: class(),
        user: u("ann"),
        by: u("teacher"),
        banned: true,
    }));
    assert!(s.room(&class()).is_none());
    assert_eq!(s.current, general(), "the open room is gone");
    assert_eq!(s.removals, ["You were banned from #class by teacher"]);
    s.dismiss_removal(0);
    assert!(s.removals.is_empty());
}

#[test]
fn changing_the_password_says_how_it_went() {
    let mut s = ChatState::new(u("meg"), vec![room("general", 0)]);
    let pw = |p: &str| Password::new(p).unwrap();
    s.change_password(pw("correct horse"), pw("battery staple"), true);
    let (id, r) = asked(&mut s);
    assert!(matches!(
        r,
        Request::ChangePassword {
            sign_out_others: true,
            ..
        }
    ));
    assert!(s.changing_password());
    s.on_reply(
        id,
        ServerMessage::PasswordChanged {
            id: 1,
            signed_out: 2,
        },
    );
    assert!(!s.changing_password());
    let note = s.note(&Place::Password).unwrap();
    assert_eq!(
        note.text,
        "Your password was changed. 2 other sessions were signed out."
    );
    assert!(note.ok);

    s.change_password(pw("wrong one!"), pw("battery staple"), false);
    let (id, _) = asked(&mut s);
    s.on_reply(
        id,
        ServerMessage::error(Some(2), ErrorCode::AuthFailed, "wrong username or password"),
    );
    let note = s.note(&Place::Password).unwrap();
    assert_eq!(note.text, "The current password is not right.");
    assert!(!note.ok);
}

#[test]
fn deleting_the_account_says_how_it_went() {
    let mut s = ChatState::new(u("meg"), vec![room("general", 0)]);
    s.delete_account(Password::new("not my password").unwrap());
    let (id, r) = asked(&mut s);
    assert!(matches!(r, Request::DeleteAccount { .. }));
    s.on_reply(
        id,
        ServerMessage::error(Some(1), ErrorCode::AuthFailed, "wrong username or password"),
    );
    assert_eq!(
        s.note(&Place::DeleteAccount).unwrap().text,
        "The password is not right."
    );
    s.delete_account(Password::new("correct horse").unwrap());
    let (id, _) = asked(&mut s);
    assert!(s.deleting_account());
    s.on_reply(id, ServerMessage::AccountDeleted { id: 2 });
    let note = s.note(&Place::DeleteAccount).unwrap();
    assert_eq!(
        (note.text.as_str(), note.ok),
        ("Your account was deleted.", true)
    );
    s.apply(ServerMessage::Bye {
        reason: "account deleted".into(),
    });
    assert!(matches!(s.status, crate::state::Status::Offline { .. }));
}

#[test]
fn invitations_made_while_away_come_with_the_welcome() {
    let welcome = |invitations| cove_common::client::Welcome {
        session: cove_common::proto::SessionInfo {
            username: u("ann"),
            server_time: 0,
            max_file_bytes: 0,
        },
        rooms: vec![room("general", 0)],
        directs: Vec::new(),
        direct_unread: Vec::new(),
        invitations,
    };
    let inv = cove_common::proto::Invitation {
        room: class_info(None),
        by: u("teacher"),
    };
    let mut s = ChatState::from_welcome(welcome(vec![inv]));
    assert_eq!(s.invitations.len(), 1);
    assert_eq!(s.invitations[0].by, u("teacher"));
    // After a reconnect the server's list replaces the app's: declined
    // elsewhere, it is gone here too.
    s.logged_in_again(welcome(Vec::new()));
    assert!(s.invitations.is_empty());
}
