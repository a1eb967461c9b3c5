//! Changing a password through a real server (protocol v5): the old one
//! is checked like a login, the new one works from then on, also after a
//! restart, the history written before stays readable, other sessions are
//! signed out only when asked, and a wrong old password changes nothing.
//! Deleting an account: password checked, sessions closed, peers told,
//! files gone, name kept, others' conversations kept.
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use cove_common::client::{Auth, ClientError, Events, Session};
use cove_common::{
    ClientMsgId, ErrorCode, MessageText, Password, Request, RoomName, ServerMessage, Target,
};
use support::*;

async fn change(
    s: &Session,
    ev: &mut Events,
    old: &str,
    new: &str,
    sign_out_others: bool,
) -> Result<u32, ErrorCode> {
    let id = s
        .send(Request::ChangePassword {
            old: Password::new(old).unwrap(),
            new: Password::new(new).unwrap(),
            sign_out_others,
        })
        .await
        .unwrap();
    match expect(ev, "the reply", |m| m.answers() == Some(id)).await {
        ServerMessage::PasswordChanged { signed_out, .. } => Ok(signed_out),
        ServerMessage::Error { code, .. } => Err(code),
        other => panic!("{other:?}"),
    }
}

async fn log_in(addr: &str, password: &str) -> Result<(Session, Events), ClientError> {
    try_auth(
        addr,
        Auth::Login {
            username: user("alice"),
            password: Password::new(password).unwrap(),
        },
    )
    .await
    .map(|(s, e, _)| (s, e))
}

#[tokio::test]
async fn a_new_password_opens_the_same_history_and_signs_out_the_others() {
    let mut srv = TestServer::start().await;
    let (alice, mut a_ev, _) = register(&srv.addr, "alice").await;
    let (_other, mut o_ev, _) = login(&srv.addr, "alice").await;
    let general = Target::Room(RoomName::general());
    say_acked(
        &alice,
        &mut a_ev,
        general.clone(),
        "written under the old password",
        "m1",
    )
    .await;

    // A wrong old password changes nothing.
    let wrong = change(&alice, &mut a_ev, "not my password", "battery staple", true).await;
    assert_eq!(wrong, Err(ErrorCode::AuthFailed));
    let (_kept, mut k_ev) = log_in(&srv.addr, PASSWORD).await.unwrap();

    let n = change(&alice, &mut a_ev, PASSWORD, "battery staple", true).await;
    assert_eq!(n, Ok(2), "the other session and the login just above");
    for ev in [&mut o_ev, &mut k_ev] {
        let bye = expect(ev, "bye", |m| matches!(m, ServerMessage::Bye { .. })).await;
        assert!(
            matches!(&bye, ServerMessage::Bye { reason } if reason == cove_server::cmd::BYE_SIGNED_OUT)
        );
    }
    // The session that asked stays.
    let id = alice.send(Request::Ping).await.unwrap();
    expect(&mut a_ev, "pong", |m| m.answers() == Some(id)).await;

    srv.restart().await;
    assert!(
        log_in(&srv.addr, PASSWORD).await.is_err(),
        "the old one no longer works"
    );
    let (alice, mut a_ev) = log_in(&srv.addr, "battery staple").await.unwrap();
    let (messages, _) = history_page(&alice, &mut a_ev, general, None, 10).await;
    let texts: Vec<_> = messages.iter().map(|m| m.text_str()).collect();
    assert_eq!(texts, ["written under the old password"]);

    // Without `sign_out_others` the others stay.
    let (_third, mut t_ev) = log_in(&srv.addr, "battery staple").await.unwrap();
    let n = change(
        &alice,
        &mut a_ev,
        "battery staple",
        "correct horse 2",
        false,
    )
    .await;
    assert_eq!(n, Ok(0));
    let id = _third.send(Request::Ping).await.unwrap();
    expect(&mut t_ev, "pong", |m| m.answers() == Some(id)).await;
}

#[tokio::test]
async fn a_deleted_account_is_gone_but_its_name_and_its_messages_stay() {
    let mut srv = TestServer::start().await;
    let (alice, mut a_ev, _) = register(&srv.addr, "alice").await;
    let (_alice2, mut a2_ev, _) = login(&srv.addr, "alice").await;
    let (bob, mut b_ev, _) = register(&srv.addr, "bob").await;
    let dm = Target::User(user("bob"));
    say_acked(&alice, &mut a_ev, dm, "keep this, bob", "m1").await;
    let history = srv.data_dir().join("chat_histories");
    let files_before = files_under(&history).len();

    // A wrong password deletes nothing.
    let id = alice
        .send(Request::DeleteAccount {
            password: Password::new("not the password").unwrap(),
        })
        .await
        .unwrap();
    let e = expect(&mut a_ev, "error", |m| m.answers() == Some(id)).await;
    assert!(matches!(
        e,
        ServerMessage::Error {
            code: ErrorCode::AuthFailed,
            ..
        }
    ));

    let id = alice
        .send(Request::DeleteAccount {
            password: Password::new(PASSWORD).unwrap(),
        })
        .await
        .unwrap();
    expect(
        &mut a_ev,
        "account_deleted",
        |m| matches!(m, ServerMessage::AccountDeleted { id: i } if *i == id),
    )
    .await;
    let bye = expect(&mut a_ev, "bye", |m| matches!(m, ServerMessage::Bye { .. })).await;
    assert!(
        matches!(&bye, ServerMessage::Bye { reason } if reason == cove_server::cmd::BYE_DELETED)
    );
    let bye = expect(&mut a2_ev, "bye", |m| {
        matches!(m, ServerMessage::Bye { .. })
    })
    .await;
    assert!(
        matches!(&bye, ServerMessage::Bye { reason } if reason == cove_server::cmd::BYE_DELETED_ELSEWHERE)
    );
    let n = expect(&mut b_ev, "notice", |m| {
        matches!(m, ServerMessage::Notice(_))
    })
    .await;
    let ServerMessage::Notice(n) = n else {
        unreachable!()
    };
    assert_eq!(n.text, "alice deleted their account");

    // Bob keeps the conversation; nothing more goes to alice.
    let (messages, _) = history_page(&bob, &mut b_ev, Target::User(user("alice")), None, 5).await;
    assert_eq!(messages[0].text_str(), "keep this, bob");
    let id = bob
        .say(
            Target::User(user("alice")),
            MessageText::new("hello?").unwrap(),
            ClientMsgId::new("b1").unwrap(),
        )
        .await
        .unwrap();
    let e = expect(&mut b_ev, "error", |m| m.answers() == Some(id)).await;
    assert!(matches!(
        e,
        ServerMessage::Error {
            code: ErrorCode::NoSuchUser,
            ..
        }
    ));

    srv.restart().await;
    assert!(
        log_in(&srv.addr, PASSWORD).await.is_err(),
        "no account to log in to"
    );
    let taken = try_auth(
        &srv.addr,
        Auth::Register {
            username: user("Alice"),
            password: Password::new(PASSWORD).unwrap(),
        },
    )
    .await;
    assert!(
        matches!(
            taken,
            Err(ClientError::Rejected {
                code: ErrorCode::NameTaken,
                ..
            })
        ),
        "{taken:?}"
    );
    let (_bob, _b_ev, w) = login(&srv.addr, "bob").await;
    assert_eq!(
        w.directs,
        [user("alice")],
        "bob still finds the conversation"
    );
    // Her history file is gone; bob's remains.
    let after = files_under(&history);
    assert_eq!(after.len(), files_before - 1, "{after:?}");
}
