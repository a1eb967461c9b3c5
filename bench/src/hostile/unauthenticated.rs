//! Connections that never log in: many opened at once from one network,
//! each pinging every second as a live client would. The server admits
//! only so many per network that have not logged in (the rest are closed
//! at accept), and closes each admitted one with a `bye` at the login
//! deadline, however busy it keeps itself.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use cove_common::{Request, ServerMessage};
use tokio::sync::{Mutex, watch};
use tokio::task::JoinSet;

use super::{ATTACKER, AttackReport, Scale, stopped};
use crate::raw::Raw;

/// The `bye` reason for a connection that did not log in in time
/// (docs/protocol.md §7).
const BYE_NO_LOGIN: &str = "not logged in in time";

/// How long after the deadline a close still counts as on time: the
/// server's timer, its scheduling on a shared machine, and ours.
const LATE: Duration = Duration::from_secs(5);

/// How one admitted connection ended.
#[derive(Debug)]
enum End {
    /// A `bye` with this reason, this long after connecting.
    Bye(String, Duration),
    /// Closed without a `bye`, this long after connecting.
    Silent(Duration),
}

/// Opens `scale.pingers` connections at once from the attacker's address;
/// each one admitted pings every second until the server closes it.
pub(super) async fn pings_without_login(
    addr: &str,
    scale: &Scale,
    stop: watch::Receiver<bool>,
    ready: watch::Sender<bool>,
    report: &mut AttackReport,
) {
    let pongs = Arc::new(AtomicU64::new(0));
    let ends = Arc::new(Mutex::new(Vec::new()));
    let mut opening = JoinSet::new();
    for _ in 0..scale.pingers {
        let addr = addr.to_owned();
        opening.spawn(async move {
            let t = Instant::now();
            (Raw::connect(&addr, Some(IpAddr::from(ATTACKER))).await, t)
        });
    }
    let (mut refused, mut pingers) = (0u64, JoinSet::new());
    while let Some(opened) = opening.join_next().await {
        match opened {
            // Closed at accept: the handshake never gets an answer.
            Ok((Err(_), _)) | Err(_) => refused += 1,
            Ok((Ok(raw), t)) => {
                let (pongs, ends) = (pongs.clone(), ends.clone());
                pingers.spawn(async move {
                    let end = ping_until_closed(raw, t, &pongs).await;
                    ends.lock().await.push(end);
                });
            }
        }
    }
    let admitted = pingers.len();
    report.add("connections opened at once", scale.pingers);
    report.add("refused at accept (per-network cap)", refused);
    report.add("admitted", admitted);
    let _ = ready.send(true);
    // Every admitted connection must be closed by the deadline, whether or
    // not the chat is over by then.
    let wait = scale.login_deadline + LATE + Duration::from_secs(5);
    let _ =
        tokio::time::timeout(wait, async { while pingers.join_next().await.is_some() {} }).await;
    pingers.abort_all();
    stopped(stop).await;

    let ends = ends.lock().await;
    let still_open = admitted - ends.len();
    let on_time = |d: &Duration| {
        *d + Duration::from_millis(500) >= scale.login_deadline && *d <= scale.login_deadline + LATE
    };
    let byes: Vec<Duration> = ends
        .iter()
        .filter_map(|e| match e {
            End::Bye(reason, d) if reason == BYE_NO_LOGIN => Some(*d),
            _ => None,
        })
        .collect();
    let others = ends
        .iter()
        .filter(|e| !matches!(e, End::Bye(r, _) if r == BYE_NO_LOGIN))
        .count();
    report.add("pongs received", pongs.load(Ordering::Relaxed));
    report.add(&format!("closed with bye \"{BYE_NO_LOGIN}\""), byes.len());
    if let (Some(min), Some(max)) = (byes.iter().min(), byes.iter().max()) {
        report.add(
            "seconds from connecting to that bye",
            format!("{:.2} to {:.2}", min.as_secs_f64(), max.as_secs_f64()),
        );
    }
    report.add(
        "closed otherwise, or still open",
        format!("{others}, {still_open}"),
    );
    if admitted > scale.max_unauthenticated {
        report.fail(format!(
            "{admitted} connections from one network were admitted without logging in; the cap is {}",
            scale.max_unauthenticated
        ));
    }
    if admitted < scale.pingers.min(scale.max_unauthenticated) {
        report.fail(format!(
            "only {admitted} connections admitted, fewer than the cap allows"
        ));
    }
    if others > 0 || still_open > 0 {
        let sample: Vec<String> = ends
            .iter()
            .filter_map(|e| match e {
                End::Bye(r, _) if r == BYE_NO_LOGIN => None,
                End::Bye(r, d) => Some(format!("bye {r:?} at {:.1} s", d.as_secs_f64())),
                End::Silent(d) => Some(format!("no bye, at {:.1} s", d.as_secs_f64())),
            })
            .take(3)
            .collect();
        report.fail(format!(
            "{others} closed otherwise (e.g. {sample:?}), {still_open} still open after the deadline"
        ));
    }
    if let Some(d) = byes.iter().find(|d| !on_time(d)) {
        report.fail(format!(
            "a bye came {:.2} s after connecting, not at the {} s deadline",
            d.as_secs_f64(),
            scale.login_deadline.as_secs_f64()
        ));
    }
}

/// Pings every second and reads everything until the server closes the
/// connection.
async fn ping_until_closed(raw: Raw, connected: Instant, pongs: &AtomicU64) -> End {
    let (mut reader, mut writer) = raw.split();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut bye = None;
    loop {
        tokio::select! {
            _ = tick.tick() => {
                if writer.send(Request::Ping).await.is_err() {
                    return End::Silent(connected.elapsed());
                }
            }
            open = reader.each_in_next(|m| match ServerMessage::parse(m) {
                Ok(ServerMessage::Pong { .. }) => {
                    pongs.fetch_add(1, Ordering::Relaxed);
                }
                Ok(ServerMessage::Bye { reason }) => bye = Some(reason),
                _ => {}
            }) => {
                if let Some(reason) = bye.take() {
                    return End::Bye(reason, connected.elapsed());
                }
                if !matches!(open, Ok(true)) {
                    return End::Silent(connected.elapsed());
                }
            }
        }
    }
}
