//! The operator's commands as a person runs them: the real `cove-server`
//! binary, `accounts list`, `ban`, `unban`, `moderate-general`,
//! `reset-password` and `delete`, answering their questions on standard
//! input, against the data directory of a real server run. They refuse to
//! run while the server holds the directory; once it is stopped they do
//! their work, and the server started again on the directory serves what
//! they did (checked over the protocol).
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use cove_common::client::{Auth, ClientError, Events, Session};
use cove_common::proto::Role;
use cove_common::{ClientMsgId, ErrorCode, Password, Request, RoomName, ServerMessage, Target};
use cove_server::accounts::LOGIN_BANNED;
use support::*;

const PROTOCOL_MD: &str = include_str!("../../docs/protocol.md");

/// Runs `cove-server --data-dir DIR accounts ARGS…` with `stdin` as its
/// standard input (a pipe, not a terminal).
fn accounts(dir: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cove-server"))
        .arg("--data-dir")
        .arg(dir)
        .arg("accounts")
        .args(args)
        .env_remove("COVE_PASSPHRASE")
        .env_remove("COVE_PASSPHRASE_FILE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    // A command that fails early may close its end first.
    let _ = input.write_all(stdin.as_bytes());
    drop(input);
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs a command that must succeed; returns what it printed.
fn ok(dir: &Path, args: &[&str], stdin: &str) -> String {
    let out = accounts(dir, args, stdin);
    assert!(
        out.status.success(),
        "accounts {args:?} failed: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// Runs a command that must fail; returns its error output.
fn refused(dir: &Path, args: &[&str], stdin: &str) -> String {
    let out = accounts(dir, args, stdin);
    assert!(
        !out.status.success(),
        "accounts {args:?} should have failed: {}",
        text(&out.stdout)
    );
    text(&out.stderr)
}

/// The `accounts list` line of `name`.
fn listed<'a>(list: &'a str, name: &str) -> Option<&'a str> {
    list.lines().find(|l| l.split('\t').next() == Some(name))
}

async fn log_in(addr: &str, name: &str, password: &str) -> Result<(Session, Events), ErrorCode> {
    match try_auth(
        addr,
        Auth::Login {
            username: user(name),
            password: Password::new(password).unwrap(),
        },
    )
    .await
    {
        Ok((s, ev, _)) => Ok((s, ev)),
        Err(ClientError::Rejected { code, .. }) => Err(code),
        Err(e) => panic!("logging in as {name}: {e}"),
    }
}

/// Sends a request and returns its reply, or its error code.
async fn ask(s: &Session, ev: &mut Events, r: Request) -> Result<ServerMessage, ErrorCode> {
    let id = s.send(r).await.unwrap();
    match expect(ev, "a reply", |m| m.answers() == Some(id)).await {
        ServerMessage::Error { code, .. } => Err(code),
        other => Ok(other),
    }
}

#[tokio::test]
async fn an_operator_runs_the_account_commands_on_a_stopped_servers_directory() {
    let mut srv = TestServer::start().await;
    let (alice, mut a_ev, _) = register(&srv.addr, "alice").await;
    for name in ["bob", "carol", "dave", "mallory"] {
        drop(register(&srv.addr, name).await);
    }
    say_acked(
        &alice,
        &mut a_ev,
        Target::Room(RoomName::general()),
        "before the reset",
        "m0",
    )
    .await;
    drop((alice, a_ev));
    let dir = srv.data_dir();

    // While the server holds the directory, nothing runs, nothing changes.
    for args in [
        &["list"][..],
        &["ban", "mallory"],
        &["delete", "carol", "--yes"],
    ] {
        let err = refused(&dir, args, "");
        assert!(
            err.contains("in use by another cove-server process"),
            "{args:?}: {err}"
        );
    }
    srv.stop().await;

    // --help tells how a script answers the questions.
    assert!(ok(&dir, &["--help"], "").contains("When standard input is not a terminal"));

    let list = ok(&dir, &["list"], "");
    for name in ["alice", "bob", "carol", "dave", "mallory"] {
        let line = listed(&list, name).unwrap_or_else(|| panic!("{name} in {list}"));
        assert_eq!(line, format!("{name}\t1 rooms"), "nothing was changed");
    }

    // Ban and unban.
    assert!(ok(&dir, &["ban", "mallory"], "").contains("mallory is banned"));
    assert!(ok(&dir, &["ban", "mallory"], "").contains("already banned"));
    ok(&dir, &["ban", "dave"], "");
    assert!(ok(&dir, &["unban", "dave"], "").contains("no longer banned"));
    assert!(refused(&dir, &["ban", "nobody"], "").contains("no account called nobody"));

    // A moderator for #general.
    assert!(ok(&dir, &["moderate-general", "bob"], "").contains("bob is now a moderator"));

    // A password reset asks for the name, then the password twice.
    let err = refused(&dir, &["reset-password", "alice"], "bob\n");
    assert!(err.contains("not confirmed"), "{err}");
    let err = refused(
        &dir,
        &["reset-password", "alice"],
        "alice\nnew password one\nnew password two\n",
    );
    assert!(err.contains("differ"), "{err}");
    let out = ok(
        &dir,
        &["reset-password", "alice"],
        "alice\nthe new password\nthe new password\n",
    );
    assert!(out.contains("new, empty history"), "it says so: {out}");
    assert!(
        out.contains("alice can now log in with the new password"),
        "{out}"
    );
    assert!(out.contains("Old history kept aside"), "{out}");

    // Deleting asks for the name.
    assert!(refused(&dir, &["delete", "carol"], "\n").contains("not confirmed"));
    let out = ok(&dir, &["delete", "carol"], "carol\n");
    assert!(out.contains("removes the account and its history"), "{out}");

    let list = ok(&dir, &["list"], "");
    assert_eq!(listed(&list, "carol"), None, "{list}");
    assert_eq!(listed(&list, "mallory"), Some("mallory\t1 rooms  (banned)"));
    assert_eq!(listed(&list, "dave"), Some("dave\t1 rooms"));
    assert_eq!(
        listed(&list, "bob"),
        Some("bob\t1 rooms  (moderates #general)")
    );

    // The server, started again, serves all of it.
    srv.restart().await;
    let addr = srv.addr.clone();
    let refused_login = try_auth(
        &addr,
        Auth::Login {
            username: user("mallory"),
            password: pw(PASSWORD),
        },
    )
    .await
    .err();
    let Some(ClientError::Rejected { code, message }) = refused_login else {
        panic!("a banned account cannot log in: {refused_login:?}");
    };
    assert_eq!(code, ErrorCode::Banned);
    assert_eq!(message, LOGIN_BANNED);
    // The sentence as docs/protocol.md shows it.
    assert!(PROTOCOL_MD.contains(&format!(r#""code":"banned","message":"{LOGIN_BANNED}""#)));
    assert_eq!(
        log_in(&addr, "mallory", "not her password").await.err(),
        Some(ErrorCode::AuthFailed),
        "without the password, a ban is not revealed"
    );
    assert_eq!(
        log_in(&addr, "alice", PASSWORD).await.err(),
        Some(ErrorCode::AuthFailed),
        "the old password no longer works"
    );
    let (alice, mut a_ev) = log_in(&addr, "alice", "the new password").await.unwrap();
    let (messages, _) = history_page(
        &alice,
        &mut a_ev,
        Target::Room(RoomName::general()),
        None,
        5,
    )
    .await;
    assert!(messages.is_empty(), "alice starts a new history");
    assert_eq!(
        log_in(&addr, "carol", PASSWORD).await.err(),
        Some(ErrorCode::AuthFailed),
        "carol is gone"
    );
    let again = try_auth(
        &addr,
        Auth::Register {
            username: user("carol"),
            password: pw(PASSWORD),
        },
    )
    .await;
    assert!(
        matches!(
            again,
            Err(ClientError::Rejected {
                code: ErrorCode::NameTaken,
                ..
            })
        ),
        "her name stays taken"
    );
    let (dave, mut d_ev) = log_in(&addr, "dave", PASSWORD).await.unwrap();
    let (bob, mut b_ev, w) = login(&addr, "bob").await;
    let general = w
        .rooms
        .iter()
        .find(|r| r.name == RoomName::general())
        .unwrap();
    assert_eq!(general.role, Some(Role::Moderator));

    // bob moderates #general: he deletes dave's message there; alice, a
    // plain member, cannot.
    let m = say_acked(
        &dave,
        &mut d_ev,
        Target::Room(RoomName::general()),
        "something rude",
        "m1",
    )
    .await;
    let delete = |c: &str| Request::Delete {
        client_id: ClientMsgId::new(c).unwrap(),
        with: Target::Room(RoomName::general()),
        message_id: m,
    };
    assert_eq!(
        ask(&alice, &mut a_ev, delete("d1")).await.unwrap_err(),
        ErrorCode::NotAuthor
    );
    assert!(matches!(
        ask(&bob, &mut b_ev, delete("d2")).await.unwrap(),
        ServerMessage::Ack { .. }
    ));
    let (messages, _) =
        history_page(&dave, &mut d_ev, Target::Room(RoomName::general()), None, 5).await;
    let gone = messages.iter().find(|x| x.id == m).unwrap();
    assert!(gone.deleted.is_some() && gone.text.is_none());
    drop((alice, a_ev, bob, b_ev, dave, d_ev));

    // The ban outlives the server's own saves and another restart.
    srv.restart().await;
    assert_eq!(
        log_in(&srv.addr, "mallory", PASSWORD).await.err(),
        Some(ErrorCode::Banned)
    );
    srv.stop().await;
    ok(&dir, &["unban", "mallory"], "");
    srv.restart().await;
    assert!(log_in(&srv.addr, "mallory", PASSWORD).await.is_ok());
}
