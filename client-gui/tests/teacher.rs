//! Issue 15's "done when", whole, in the real app against a real server:
//! a teacher creates a private class room, invites two students (one in
//! her own app, one in a headless session), removes one (who can no
//! longer read the room), changes her own password, and shares a
//! worksheet picture, all by clicking through the app; the student's app
//! shows the thumbnail.
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use cove_client::CoveApp;
use cove_common::client::{self, Auth, ClientError};
use cove_common::proto::NoticeKind;
use cove_common::{ErrorCode, Password, Request, RoomName, ServerMessage, Target, Username};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use support::{
    PASSWORD, World, next_message, noisy_png, shows, sign_in_trusting, type_into, wait_for,
};

const NEW: &str = "chalk and blackboard";

fn class() -> RoomName {
    RoomName::new("class").unwrap()
}

fn in_class(h: &Harness<'_, CoveApp>) -> bool {
    h.state().chat().unwrap().current == Target::Room(class())
}

fn log_in(w: &World, name: &str, password: &str) -> Result<(), ClientError> {
    let addr = w.addr.clone();
    let auth = Auth::Login {
        username: Username::new(name).unwrap(),
        password: Password::new(password).unwrap(),
    };
    w.rt.block_on(async move { client::connect(&addr).await?.authenticate(auth).await })
        .map(|_| ())
}

#[test]
fn a_teacher_runs_a_private_class_room() {
    let w = World::new();
    let mut teacher = w.app_in("teacher");
    sign_in_trusting(&mut teacher, "teacher", true);
    let mut ann = w.app_in("ann");
    sign_in_trusting(&mut ann, "ann", true);
    let (ben, mut ben_events) = w.client("ben", true);

    // A private room with a topic.
    teacher.get_by_label("New room…").click();
    teacher.run();
    type_into(&mut teacher, "Room name", "class");
    type_into(&mut teacher, "Topic", "Maths, period 3");
    teacher
        .get_by_label("Private: only people I invite can join")
        .click();
    teacher.run();
    teacher.get_by_label("Create").click();
    wait_for(&mut teacher, "the new room", |h| {
        in_class(h) && shows(h, "🔒 private") && !shows(h, "Room name")
    });

    // A private room is closed to whoever is not invited.
    let knock =
        w.rt.block_on(ben.send(Request::Join { room: class() }))
            .unwrap();
    let refused = next_message(&w, &mut ben_events, "the refusal", |m| {
        m.answers() == Some(knock)
    });
    assert!(
        matches!(
            refused,
            ServerMessage::Error {
                code: ErrorCode::NotInvited,
                ..
            }
        ),
        "{refused:?}"
    );

    // Two students invited.
    for student in ["ann", "ben"] {
        type_into(&mut teacher, "Invite:", student);
        teacher.get_by_label("Invite").click();
        wait_for(&mut teacher, "the invitation sent", |h| {
            shows(h, &format!("Invited {student} to #class."))
        });
    }

    // Ann accepts in her app; Ben in his session.
    wait_for(&mut ann, "the invitation", |h| {
        shows(h, "Invited to #class by teacher")
    });
    // The side list's own "Join" (a room by name) comes first.
    ann.query_all_by_label("Join").last().unwrap().click();
    wait_for(&mut ann, "in #class", |h| {
        in_class(h) && h.state().chat().unwrap().invitations.is_empty()
    });
    next_message(&w, &mut ben_events, "ben's invitation", |m| {
        matches!(m, ServerMessage::Invited { .. })
    });
    let join =
        w.rt.block_on(ben.send(Request::Join { room: class() }))
            .unwrap();
    let joined = next_message(&w, &mut ben_events, "ben joined", |m| {
        m.answers() == Some(join)
    });
    assert!(matches!(joined, ServerMessage::Joined { .. }), "{joined:?}");

    // The teacher removes Ben from the member list.
    wait_for(&mut teacher, "both students in the members", |h| {
        h.query_by_label("ann").is_some() && h.query_by_label("ben").is_some()
    });
    teacher.get_by_label("ben").click_secondary();
    teacher.run();
    teacher.get_by_label("Remove from room").click();
    wait_for(&mut teacher, "ben removed", |h| {
        shows(h, "Removed ben from #class.")
    });
    next_message(&w, &mut ben_events, "ben told", |m| {
        matches!(m, ServerMessage::Notice(n) if matches!(&n.kind,
            NoticeKind::Kicked { user, .. } if user.as_str() == "ben"))
    });

    // The teacher changes her own password in the settings.
    teacher.get_by_label("Settings…").click();
    teacher.run();
    type_into(&mut teacher, "Current password", PASSWORD);
    type_into(&mut teacher, "New password", NEW);
    type_into(&mut teacher, "Repeat new password", NEW);
    teacher.get_by_label("Change password").click();
    wait_for(&mut teacher, "the change", |h| {
        shows(h, "Your password was changed.")
    });
    teacher.key_press(egui::Key::Escape);
    teacher.run();
    assert!(!shows(&teacher, "Current password"), "settings closed");
    assert!(log_in(&w, "teacher", NEW).is_ok(), "the new password works");
    assert!(
        matches!(
            log_in(&w, "teacher", PASSWORD),
            Err(ClientError::Rejected {
                code: ErrorCode::AuthFailed,
                ..
            })
        ),
        "the old one no longer does"
    );

    // The worksheet, with a caption, by the 📎 button and the path field.
    let path = w.dir.path().join("worksheet.png");
    std::fs::write(&path, noisy_png(300, 200)).unwrap();
    assert!(in_class(&teacher));
    type_into(&mut teacher, "Message # class", "Worksheet 3, due Friday");
    teacher.run();
    teacher.get_by_label("Attach a file").click();
    teacher.run();
    type_into(&mut teacher, "File path", path.to_str().unwrap());
    teacher.get_by_label("Send file").click();
    teacher.step();

    // Ann's app shows the thumbnail and the caption.
    wait_for(&mut ann, "the worksheet's thumbnail", |h| {
        teacher.step();
        h.query_by_label("worksheet.png").is_some()
    });
    assert!(shows(&ann, "Worksheet 3, due Friday"));
    wait_for(&mut teacher, "the teacher's own worksheet", |h| {
        h.state().chat().unwrap().pending.is_empty() && h.query_by_label("worksheet.png").is_some()
    });

    // Ben, removed, got none of it live (anything pushed to him came
    // before the answer to his next request) and cannot read the room.
    let page =
        w.rt.block_on(ben.send(Request::History {
            with: Target::Room(class()),
            before: None,
            limit: 50,
            cursor: None,
        }))
        .unwrap();
    let answer = next_message(&w, &mut ben_events, "ben's page", |m| {
        if let ServerMessage::Message(m) = m {
            assert_ne!(m.to, Target::Room(class()), "ben read {m:?}");
        }
        m.answers() == Some(page)
    });
    assert!(matches!(answer, ServerMessage::Error { .. }), "{answer:?}");
}
