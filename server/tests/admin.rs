//! Operator commands on a stopped server's data directory: refused while
//! the server runs; list, reset a password (a new, empty history; the old
//! one kept aside), delete an account, name a moderator of general; the
//! server then serves what they did.
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use cove_common::client::Auth;
use cove_common::proto::Role;
use cove_common::{KdfParams, Password, RoomName, Target};
use cove_server::admin::{Admin, AdminError};
use support::*;

#[tokio::test]
async fn an_operator_resets_a_password_deletes_an_account_and_names_a_moderator() {
    let mut srv = TestServer::start().await;
    let (alice, mut a_ev, _) = register(&srv.addr, "alice").await;
    drop(register(&srv.addr, "bob").await);
    drop(register(&srv.addr, "carol").await);
    say_acked(
        &alice,
        &mut a_ev,
        Target::Room(RoomName::general()),
        "before the reset",
        "m1",
    )
    .await;
    drop((alice, a_ev));
    assert!(matches!(
        Admin::open(&srv.data_dir(), None),
        Err(AdminError::Locked(_))
    ));
    srv.stop().await;

    let mut admin = Admin::open(&srv.data_dir(), None).unwrap();
    let names: Vec<String> = admin
        .accounts()
        .iter()
        .map(|a| a.name.to_string())
        .collect();
    assert_eq!(names, ["alice", "bob", "carol"]);
    let kept = admin
        .reset_password(
            &user("alice"),
            &Password::new("a brand new one").unwrap(),
            &KdfParams::insecure_for_tests(),
        )
        .unwrap();
    assert_eq!(kept.len(), 1, "her history, kept aside");
    assert!(kept[0].exists());
    admin.delete_account(&user("carol")).unwrap();
    admin.moderate_general(&user("bob"), true).unwrap();
    assert!(
        admin
            .accounts()
            .iter()
            .any(|a| a.name == user("bob") && a.moderates_general)
    );
    drop(admin);

    srv.restart().await;
    let old = try_auth(
        &srv.addr,
        Auth::Login {
            username: user("alice"),
            password: Password::new(PASSWORD).unwrap(),
        },
    )
    .await;
    assert!(old.is_err(), "the old password no longer works");
    let (alice, mut a_ev, _) = try_auth(
        &srv.addr,
        Auth::Login {
            username: user("alice"),
            password: Password::new("a brand new one").unwrap(),
        },
    )
    .await
    .unwrap();
    let (messages, _) = history_page(
        &alice,
        &mut a_ev,
        Target::Room(RoomName::general()),
        None,
        10,
    )
    .await;
    assert!(messages.is_empty(), "a new history");
    assert!(
        try_auth(
            &srv.addr,
            Auth::Login {
                username: user("carol"),
                password: Password::new(PASSWORD).unwrap(),
            },
        )
        .await
        .is_err()
    );
    let (_bob, _b_ev, w) = login(&srv.addr, "bob").await;
    let general = w
        .rooms
        .iter()
        .find(|r| r.name == RoomName::general())
        .unwrap();
    assert_eq!(general.role, Some(Role::Moderator));
}
