//! The `cove-server` binary takes its passphrase from a file named by
//! `COVE_PASSPHRASE_FILE` (how the packaged systemd unit passes a
//! credential), exactly as from `COVE_PASSPHRASE`.
#![allow(clippy::unwrap_used, missing_docs)]

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// Starts the binary on `data` with the given passphrase variables.
fn spawn(data: &Path, env: &[(&str, &str)]) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cove-server"));
    cmd.args([
        "--listen",
        "127.0.0.1:0",
        "--log-level",
        "warn",
        "--data-dir",
    ])
    .arg(data)
    .env_remove("COVE_PASSPHRASE")
    .env_remove("COVE_PASSPHRASE_FILE")
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.spawn().unwrap()
}

/// Waits until the server has opened (or made) its keys and says it
/// listens, then stops it. (SIGKILL: a SIGTERM this early could come before
/// the server's handler is in place; `chat.rs` tests the clean stop.)
fn runs(mut child: Child) {
    let lines: Vec<String> = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .take(3)
        .map_while(Result::ok)
        .collect();
    if !lines
        .last()
        .is_some_and(|l| l.starts_with("Server fingerprint"))
    {
        let mut err = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        panic!("the server did not start: {lines:?}, stderr: {err}");
    }
    assert!(
        lines[0].starts_with("Cove server listening on "),
        "{lines:?}"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Waits for the server to exit and returns what it wrote to stderr; it
/// must have failed.
fn fails(child: Child) -> String {
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success(), "the server should have refused");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn key_file_mode(data: &Path) -> String {
    let text = std::fs::read_to_string(data.join("server_keys.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    json["mode"].as_str().unwrap().to_owned()
}

#[test]
fn the_passphrase_file_seals_the_keys_like_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let file = dir.path().join("passphrase");
    // As `echo ... > file` writes it: the newline is not part of it.
    std::fs::write(&file, "a long operator passphrase\n").unwrap();
    let file = file.to_str().unwrap();

    runs(spawn(&data, &[("COVE_PASSPHRASE_FILE", file)]));
    assert_eq!(key_file_mode(&data), "passphrase");

    // The same passphrase through the variable opens the same keys.
    runs(spawn(
        &data,
        &[("COVE_PASSPHRASE", "a long operator passphrase")],
    ));
    // And through the file again, on a second start.
    runs(spawn(&data, &[("COVE_PASSPHRASE_FILE", file)]));

    // A wrong one is refused, and so is none.
    let wrong = dir.path().join("wrong");
    std::fs::write(&wrong, "another passphrase\n").unwrap();
    let err = fails(spawn(
        &data,
        &[("COVE_PASSPHRASE_FILE", wrong.to_str().unwrap())],
    ));
    assert!(err.contains("wrong passphrase"), "{err}");
    let err = fails(spawn(&data, &[]));
    assert!(err.contains("protected by a passphrase"), "{err}");
}

#[test]
fn an_empty_file_means_no_passphrase() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let file = dir.path().join("passphrase");
    std::fs::write(&file, "").unwrap();
    runs(spawn(
        &data,
        &[("COVE_PASSPHRASE_FILE", file.to_str().unwrap())],
    ));
    assert_eq!(key_file_mode(&data), "plain");
}

#[test]
fn a_missing_file_or_both_variables_stop_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let missing = dir.path().join("no-such-file");
    let err = fails(spawn(
        &data,
        &[("COVE_PASSPHRASE_FILE", missing.to_str().unwrap())],
    ));
    assert!(err.contains("reading the passphrase file"), "{err}");
    assert!(err.contains("no-such-file"), "{err}");

    let err = fails(spawn(
        &data,
        &[
            ("COVE_PASSPHRASE", "x"),
            ("COVE_PASSPHRASE_FILE", missing.to_str().unwrap()),
        ],
    ));
    assert!(err.contains("set only one"), "{err}");
    // Nothing was created: the passphrase is settled before the data
    // directory is touched.
    assert!(!data.join("server_keys.json").exists());
}
