//! Account settings (protocol v5) in the real app, against a real server:
//! changing the password (the app reconnects with the new one, and signs
//! in with it after logging out), being signed out by another device that
//! changed it, and deleting the account.
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use cove_client::CoveApp;
use cove_common::client::{self, Auth, ClientError};
use cove_common::{ErrorCode, Password, Request, ServerMessage, Username};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use support::{PASSWORD, Proxy, World, next_message, shows, sign_in_trusting, type_into, wait_for};

const NEW: &str = "battery staple horse";

fn open_settings(h: &mut Harness<'_, CoveApp>) {
    h.get_by_label("Settings…").click();
    h.run();
}

/// Deletes `n` characters at the end of the field `label`.
fn erase(h: &mut Harness<'_, CoveApp>, label: &str, n: usize) {
    h.get_by_label(label).focus();
    h.step();
    for _ in 0..n {
        h.key_press(egui::Key::Backspace);
    }
    h.step();
}

fn on_start_screen(h: &Harness<'_, CoveApp>) -> bool {
    h.state().chat().is_none() && h.query_by_label("Sign in").is_some()
}

fn log_in(w: &World, password: &str) -> Result<(), ClientError> {
    let addr = w.addr.clone();
    let auth = Auth::Login {
        username: Username::new("alice").unwrap(),
        password: Password::new(password).unwrap(),
    };
    w.rt.block_on(async move { client::connect(&addr).await?.authenticate(auth).await })
        .map(|_| ())
}

/// Alice changes her password in the settings, signing out her other
/// device. The app's connection drops and comes back: it logs in with the
/// new password. She logs out and signs in again with it.
#[test]
fn changing_the_password_keeps_the_app_signed_in_with_the_new_one() {
    let w = World::new();
    let proxy = Proxy::start(&w);
    let mut h = w.app_via(&proxy.addr);
    sign_in_trusting(&mut h, "alice", true);
    let (_other, mut other_events) = w.client("alice", false);

    open_settings(&mut h);
    // Two copies that differ are caught before anything is sent.
    type_into(&mut h, "Current password", PASSWORD);
    type_into(&mut h, "New password", NEW);
    type_into(&mut h, "Repeat new password", "battery staple hose");
    h.get_by_label("Change password").click();
    h.run();
    assert!(shows(&h, "The new password and its repetition differ."));
    erase(&mut h, "Repeat new password", "battery staple hose".len());
    // The form was kept as typed: fix the repetition only.
    type_into(&mut h, "Repeat new password", NEW);
    h.get_by_label("Sign out my other devices").click();
    h.run();
    h.get_by_label("Change password").click();
    wait_for(&mut h, "the change", |h| {
        shows(
            h,
            "Your password was changed. 1 other session was signed out.",
        )
    });
    let bye = next_message(&w, &mut other_events, "the other device's bye", |m| {
        matches!(m, ServerMessage::Bye { .. })
    });
    assert!(
        matches!(&bye, ServerMessage::Bye { reason } if reason == "signed out: the password was changed"),
        "{bye:?}"
    );

    // The connection drops; the app comes back with the new password.
    proxy.cut();
    wait_for(&mut h, "reconnecting", |h| shows(h, "reconnecting"));
    proxy.restore();
    wait_for(&mut h, "back", |h| {
        shows(h, "connected") && !shows(h, "reconnecting")
    });
    assert!(h.state().chat().is_some());

    // Log out, without quitting; sign in with the new password.
    open_settings(&mut h);
    h.get_by_label("Log out").click();
    wait_for(&mut h, "the start screen", |h| on_start_screen(h));
    assert!(!h.state().is_closed(), "the app stays open");
    type_into(&mut h, "Password", NEW);
    h.get_by_label("Sign in").click();
    wait_for(&mut h, "signed in again", |h| shows(h, "connected"));
    assert!(matches!(
        log_in(&w, PASSWORD),
        Err(ClientError::Rejected {
            code: ErrorCode::AuthFailed,
            ..
        })
    ));
}

/// Alice's other device changes the password and signs the others out:
/// the app goes back to its start screen saying why, and does not try to
/// log in again with the old password.
#[test]
fn a_password_changed_elsewhere_signs_the_app_out() {
    let w = World::new();
    let mut h = w.app();
    sign_in_trusting(&mut h, "alice", true);
    let (other, mut other_events) = w.client("alice", false);
    let id =
        w.rt.block_on(other.send(Request::ChangePassword {
            old: Password::new(PASSWORD).unwrap(),
            new: Password::new(NEW).unwrap(),
            sign_out_others: true,
        }))
        .unwrap();
    next_message(&w, &mut other_events, "changed", |m| {
        m.answers() == Some(id)
    });
    wait_for(&mut h, "the start screen", |h| {
        on_start_screen(h) && shows(h, "Signed out: the password was changed.")
    });
    // The other device is still signed in: the app made no failed logins
    // (they would show as `rate_limited` soon enough), and says nothing
    // more.
    for _ in 0..20 {
        h.step();
    }
    assert!(on_start_screen(&h));
}

/// Alice deletes her account from the settings, confirming with her
/// password: the app is back at the start screen, and the account is gone.
#[test]
fn deleting_the_account_returns_to_the_start_screen() {
    let w = World::new();
    let mut h = w.app();
    sign_in_trusting(&mut h, "alice", true);
    open_settings(&mut h);
    assert!(shows(
        &h,
        "This deletes your account and your history on this server. Others keep the messages you sent them."
    ));
    type_into(&mut h, "Your password", "not the password");
    h.get_by_label("Delete my account…").click();
    // The confirmation fades in over a few frames.
    wait_for(&mut h, "the confirmation", |h| shows(h, "Delete for good"));
    h.get_by_label("Delete for good").click();
    wait_for(&mut h, "the refusal", |h| {
        shows(h, "The password is not right.")
    });
    assert!(h.state().chat().is_some());
    erase(&mut h, "Your password", "not the password".len());
    type_into(&mut h, "Your password", PASSWORD);
    h.get_by_label("Delete for good").click();
    wait_for(&mut h, "the start screen", |h| {
        on_start_screen(h) && shows(h, "Your account was deleted.")
    });
    assert!(matches!(
        log_in(&w, PASSWORD),
        Err(ClientError::Rejected {
            code: ErrorCode::AuthFailed,
            ..
        })
    ));
}

/// The password is changed on another device without signing the others
/// out; then the app's connection drops. Its reconnect is refused: it
/// stops at once and says so on the start screen, instead of trying the
/// old password again and again.
#[test]
fn a_reconnect_refused_after_a_change_elsewhere_ends_the_session() {
    let w = World::new();
    let proxy = Proxy::start(&w);
    let mut h = w.app_via(&proxy.addr);
    sign_in_trusting(&mut h, "alice", true);
    let (other, mut other_events) = w.client("alice", false);
    let id =
        w.rt.block_on(other.send(Request::ChangePassword {
            old: Password::new(PASSWORD).unwrap(),
            new: Password::new(NEW).unwrap(),
            sign_out_others: false,
        }))
        .unwrap();
    next_message(&w, &mut other_events, "changed", |m| {
        m.answers() == Some(id)
    });
    proxy.cut();
    wait_for(&mut h, "reconnecting", |h| shows(h, "reconnecting"));
    proxy.restore();
    wait_for(&mut h, "the start screen", |h| {
        on_start_screen(h) && shows(h, "Signed out: the password is no longer right")
    });
}

/// The operator bans alice while the server is stopped. The app, which
/// was signed in, reconnects when the server is back: the login is refused
/// with `banned`, and the app stops at once and says why on the start
/// screen instead of trying again and again. Signing in again says the
/// same.
#[test]
fn a_ban_by_the_operator_ends_the_session_and_says_so() {
    let mut w = World::new();
    let mut h = w.app();
    sign_in_trusting(&mut h, "alice", true);
    w.stop_server();
    wait_for(&mut h, "reconnecting", |h| shows(h, "reconnecting"));
    let mut admin = cove_server::admin::Admin::open(&w.dir.path().join("server"), None).unwrap();
    admin.ban(&Username::new("alice").unwrap(), true).unwrap();
    drop(admin);
    w.start_server();
    let said = "This account is banned by the server's operator.";
    wait_for(&mut h, "the start screen", |h| {
        on_start_screen(h) && shows(h, said)
    });
    type_into(&mut h, "Password", PASSWORD);
    h.get_by_label("Sign in").click();
    h.step();
    wait_for(&mut h, "the refusal", |h| {
        on_start_screen(h) && shows(h, said)
    });
}
