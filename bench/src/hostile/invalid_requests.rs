//! A logged-in client sending JSON objects that are not valid requests:
//! text over the length limit, text with nothing visible, an unknown type,
//! and the like. Each must get a `bad_request` error carrying its own `id`,
//! and the connection must stay open however many come (docs/protocol.md
//! §4 and §7: only records that are not JSON objects at all close it).

use std::net::IpAddr;
use std::time::Duration;

use anyhow::Result;
use cove_common::limits::MESSAGE_MAX_CHARS;
use cove_common::{ErrorCode, Password, Request, ServerMessage, Username};
use serde_json::{Map, Value, json};
use tokio::sync::watch;

use super::{ATTACKER, AttackReport, is_stopped, stopped};
use crate::raw::Raw;

/// How long one answer may take before the attack counts it as missing.
const ANSWER_WITHIN: Duration = Duration::from_secs(10);

/// The invalid requests sent in turn, each a name and the object (less its
/// `id`).
fn kinds() -> Vec<(&'static str, Value)> {
    let room = json!({ "room": "general" });
    vec![
        (
            "text over 4,000 characters",
            json!({ "type": "send", "client_id": "long", "to": room,
                    "text": "x".repeat(MESSAGE_MAX_CHARS + 1) }),
        ),
        (
            "whitespace-only text",
            json!({ "type": "send", "client_id": "blank", "to": room, "text": " \t\n \u{200b}" }),
        ),
        ("unknown type", json!({ "type": "teleport", "to": room })),
        (
            "bidi override in text",
            json!({ "type": "send", "client_id": "bidi", "to": room, "text": "abc\u{202e}def" }),
        ),
        (
            "send without a target",
            json!({ "type": "send", "client_id": "nowhere", "text": "hi" }),
        ),
        (
            "room name too short",
            json!({ "type": "join", "room": "x" }),
        ),
        (
            "client id over 64 characters",
            json!({ "type": "send", "client_id": "c".repeat(65), "to": room, "text": "hi" }),
        ),
        (
            "history limit of the wrong type",
            json!({ "type": "history", "with": room, "before": null, "limit": "many" }),
        ),
    ]
}

/// How the answers to one kind went.
#[derive(Debug, Default, Clone, Copy)]
struct AnswerTally {
    sent: u64,
    /// `bad_request` with the request's own id.
    right: u64,
    /// Any other answer (another code, no id, another id).
    wrong: u64,
}

/// Registers from the attacker's address and sends the invalid requests in
/// turn, one at a time, until stopped; then checks the connection still
/// answers a ping.
pub(super) async fn invalid_requests(
    addr: &str,
    stop: watch::Receiver<bool>,
    ready: watch::Sender<bool>,
    report: &mut AttackReport,
) {
    let kinds = kinds();
    let mut tallies = vec![AnswerTally::default(); kinds.len()];
    let mut raw = match logged_in(addr).await {
        Ok(r) => r,
        Err(e) => {
            report.fail(format!("could not log in: {e}"));
            let _ = ready.send(true);
            return stopped(stop).await;
        }
    };
    let _ = ready.send(true);
    let mut closed = None;
    let mut wrong_example = None;
    'attack: for n in 0usize.. {
        if is_stopped(&stop) {
            break;
        }
        let (_, object) = &kinds[n % kinds.len()];
        let tally = &mut tallies[n % kinds.len()];
        let object = object.as_object().cloned().unwrap_or_else(Map::new);
        let id = match raw.send_object(object).await {
            Ok(id) => id,
            Err(e) => {
                closed = Some(format!("sending: {e}"));
                break;
            }
        };
        tally.sent += 1;
        // The next message that answers a request must answer this one;
        // pushed events (notices, the chatters' messages) are skipped.
        loop {
            match tokio::time::timeout(ANSWER_WITHIN, raw.recv()).await {
                Ok(Ok(Some(m))) if m.answers().is_none() && !is_error(&m) => {
                    if let ServerMessage::Bye { reason } = m {
                        closed = Some(format!("bye: {reason}"));
                        break 'attack;
                    }
                }
                Ok(Ok(Some(ServerMessage::Error {
                    id: Some(got),
                    code: ErrorCode::BadRequest,
                    ..
                }))) if got == id => {
                    tally.right += 1;
                    break;
                }
                Ok(Ok(Some(other))) => {
                    tally.wrong += 1;
                    wrong_example.get_or_insert_with(|| format!("{other:?}"));
                    break;
                }
                Ok(Ok(None)) | Ok(Err(_)) => {
                    closed = Some("closed by the server".into());
                    break 'attack;
                }
                Err(_) => {
                    closed = Some(format!("no answer within {ANSWER_WITHIN:?}"));
                    break 'attack;
                }
            }
        }
    }
    let total: u64 = tallies.iter().map(|t| t.sent).sum();
    report.add("invalid requests sent", total);
    for ((name, _), t) in kinds.iter().zip(&tallies) {
        report.add(
            name,
            format!(
                "{} sent, {} answered bad_request with their id, {} otherwise",
                t.sent, t.right, t.wrong
            ),
        );
    }
    if let Some(e) = wrong_example {
        report.fail(format!("an invalid request got another answer: {e}"));
    }
    if let Some(why) = closed {
        report.fail(format!("the connection did not stay open: {why}"));
    } else {
        let alive = async {
            let id = raw.send(Request::Ping).await?;
            Ok::<_, anyhow::Error>(matches!(
                raw.reply_to(id).await?,
                Some(ServerMessage::Pong { .. })
            ))
        };
        let alive = matches!(
            tokio::time::timeout(ANSWER_WITHIN, alive).await,
            Ok(Ok(true))
        );
        report.add("connection still open afterwards (ping answered)", alive);
        if !alive {
            report.fail("the connection did not answer a ping afterwards");
        }
    }
    if tallies.iter().any(|t| t.sent == 0) {
        report.fail("not every kind of invalid request was sent");
    }
    stopped(stop).await;
}

/// An error without an id is an answer too (to something it could not
/// read): it must not be skipped as a pushed event.
fn is_error(m: &ServerMessage) -> bool {
    matches!(m, ServerMessage::Error { .. })
}

/// A fresh account from the attacker's address.
async fn logged_in(addr: &str) -> Result<Raw> {
    let mut raw = Raw::connect(addr, Some(IpAddr::from(ATTACKER))).await?;
    let id = raw
        .send(Request::Register {
            username: Username::new(format!("invalid-{}", std::process::id()))?,
            password: Password::new("invalid requests password")?,
        })
        .await?;
    match raw.reply_to(id).await? {
        Some(ServerMessage::Welcome { .. }) => Ok(raw),
        other => anyhow::bail!("unexpected reply: {other:?}"),
    }
}
