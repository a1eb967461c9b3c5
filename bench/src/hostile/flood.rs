//! A member of the chatters' room sending as fast as it can. The server's
//! per-user send rate (a token bucket: bursts of three seconds' worth, then
//! the sustained rate) must let through no more than that and answer the
//! rest `rate_limited`, so the room's members receive, and store, only
//! what the rate allows.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Result;
use cove_common::{ClientMsgId, MessageText, Password, Request, RoomName, Target};
use serde::Deserialize;
use tokio::sync::watch;

use super::{AttackReport, Counters, Scale, bump, get, is_stopped, stopped};
use crate::raw::Raw;

/// Sends between yields to the attacker's runtime, so the reader keeps up
/// with the replies (a client that stops reading is cut off, which is not
/// what this attack is about).
const SENDS_PER_YIELD: u64 = 64;

/// The fields of a reply the flooder counts.
#[derive(Deserialize)]
struct FloodReply<'a> {
    #[serde(rename = "type", borrow)]
    kind: &'a str,
    #[serde(default)]
    id: Option<u64>,
    #[serde(default, borrow)]
    code: Option<&'a str>,
}

/// Registers a member, joins the chatters' room and sends to it without
/// pause until stopped; then waits for every answer.
pub(super) async fn send_flood(
    addr: &str,
    room: &RoomName,
    scale: &Scale,
    stop: watch::Receiver<bool>,
    ready: watch::Sender<bool>,
    report: &mut AttackReport,
) {
    let raw = match member(addr, room).await {
        Ok(r) => r,
        Err(e) => {
            report.fail(format!("the flooder could not join the room: {e}"));
            let _ = ready.send(true);
            return stopped(stop).await;
        }
    };
    // a: sent, b: acked, c: rate_limited, d: other errors
    let c = Arc::new(Counters::default());
    let closed = Arc::new(AtomicU64::new(0));
    let (mut reader, mut writer) = raw.split();
    let reading = tokio::spawn({
        let (c, closed) = (c.clone(), closed.clone());
        async move {
            loop {
                let open = reader
                    .each_in_next(|m| match serde_json::from_slice::<FloodReply<'_>>(m) {
                        Ok(r) if r.kind == "ack" => bump(&c.b),
                        Ok(r) if r.kind == "error" && r.code == Some("rate_limited") => bump(&c.c),
                        Ok(r) if r.kind == "error" && r.id.is_some() => bump(&c.d),
                        _ => {}
                    })
                    .await;
                if !matches!(open, Ok(true)) {
                    closed.store(1, Ordering::Relaxed);
                    return;
                }
            }
        }
    });
    let _ = ready.send(true);
    let t = Instant::now();
    let room = Target::Room(room.clone());
    while !is_stopped(&stop) {
        let n = get(&c.a);
        let sent = async {
            writer
                .send(Request::Send {
                    client_id: ClientMsgId::new(format!("flood{n}"))?,
                    to: room.clone(),
                    // Not a benchmark payload: the chatters skip it.
                    text: Some(MessageText::new(format!("flood {n}"))?),
                    reply_to: None,
                    file: None,
                })
                .await
        }
        .await;
        if sent.is_err() {
            break;
        }
        bump(&c.a);
        if n.is_multiple_of(SENDS_PER_YIELD) {
            tokio::task::yield_now().await;
        }
    }
    let seconds = t.elapsed().as_secs_f64();
    // Every send gets an answer: an ack once stored, or an error.
    let answered = || get(&c.b) + get(&c.c) + get(&c.d);
    let waited = Instant::now();
    while answered() < get(&c.a)
        && closed.load(Ordering::Relaxed) == 0
        && waited.elapsed() < Duration::from_secs(20)
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The server may still have been reading the flood from its socket
    // after the last send: its bucket refilled until the last answer.
    let until_last_answer = t.elapsed().as_secs_f64();
    reading.abort();
    drop(writer);

    let rate = f64::from(scale.messages_per_second_per_user);
    // The bucket starts full (three seconds' worth) and refills at the rate.
    let allowed = rate * (3.0 + until_last_answer);
    report.add("flood seconds", format!("{seconds:.1}"));
    report.add("messages sent", get(&c.a));
    report.add("per second", format!("{:.0}", get(&c.a) as f64 / seconds));
    report.add(
        "accepted (acked)",
        format!(
            "{} ({:.1} a second; the limit allows {:.0} in all)",
            get(&c.b),
            get(&c.b) as f64 / seconds,
            allowed
        ),
    );
    report.add("refused rate_limited", get(&c.c));
    report.add("other errors", get(&c.d));
    report.add("unanswered", get(&c.a).saturating_sub(answered()));
    report.add(
        "flooder's connection closed by the server",
        closed.load(Ordering::Relaxed) == 1,
    );
    if get(&c.c) == 0 {
        report.fail("no message was refused rate_limited");
    }
    if get(&c.b) as f64 > allowed {
        report.fail(format!(
            "{} messages accepted, more than the {allowed:.0} the rate allows",
            get(&c.b)
        ));
    }
    if get(&c.d) > 0 {
        report.fail("the flood got errors other than rate_limited");
    }
}

/// A fresh account from the attacker's address, in the chatters' room.
async fn member(addr: &str, room: &RoomName) -> Result<Raw> {
    let name = format!("flooder-{}", std::process::id());
    super::room_member(addr, room, name, Password::new("flooder password")?).await
}
