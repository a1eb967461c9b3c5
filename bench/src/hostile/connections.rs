//! Attacks on the server's connections: half-open handshakes held by the
//! thousands, connect-and-close churn, and logged-in room members that stop
//! reading.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use cove_common::{Password, RoomName};
use tokio::io::AsyncWriteExt;
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::{ATTACKER, AttackReport, Counters, Scale, bump, get, is_stopped, stopped};
use crate::raw;

/// A close this soon after connecting was a refusal at accept.
const AT_ONCE: Duration = Duration::from_secs(1);

/// Holds `n` connections that sent half a client hello; each one the
/// server closes is opened again. From one network the server keeps only
/// so many that have not logged in and closes the rest at once, so most
/// of them turn into a connect-and-close loop.
pub(super) async fn half_open(
    addr: &str,
    scale: &Scale,
    stop: watch::Receiver<bool>,
    ready: watch::Sender<bool>,
    report: &mut AttackReport,
) {
    // a: opened, b: closed by the server after the handshake timeout,
    // c: failed to open, d: closed by the server at once (the cap on
    // connections per network that have not logged in)
    let c = Arc::new(Counters::default());
    let mut set = JoinSet::new();
    let up = Arc::new(AtomicU64::new(0));
    for _ in 0..scale.half_open {
        let (addr, c, up, mut stop) = (addr.to_owned(), c.clone(), up.clone(), stop.clone());
        set.spawn(async move {
            let mut counted = false;
            while !is_stopped(&stop) {
                let Ok(mut s) = raw::tcp(&addr, Some(IpAddr::from(ATTACKER))).await else {
                    bump(&c.c);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                };
                bump(&c.a);
                if !counted {
                    counted = true;
                    up.fetch_add(1, Ordering::Relaxed);
                }
                // The length prefix and half of a hello.
                let _ = s.write_all(&[0, 0, 0, 39, b'C', b'O', b'V', b'E']).await;
                let t = Instant::now();
                tokio::select! {
                    _ = raw::closed_within(&mut s, Duration::from_secs(3600)) => {
                        // Refused at accept means closed at once; the
                        // handshake timeout takes seconds.
                        bump(if t.elapsed() < AT_ONCE { &c.d } else { &c.b });
                    }
                    _ = stop.changed() => return,
                }
            }
        });
    }
    let t = Instant::now();
    while get(&up) < scale.half_open as u64 && t.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    report.add("half-open connections opened at the start", get(&up));
    if get(&up) < scale.half_open as u64 {
        report.fail(format!(
            "only {} of {} connections opened",
            get(&up),
            scale.half_open
        ));
    }
    let _ = ready.send(true);
    stopped(stop).await;
    set.abort_all();
    report.add("connections opened in all", get(&c.a));
    report.add(
        "closed by the server at once (per-network cap on connections not logged in)",
        get(&c.d),
    );
    report.add("closed by the server (handshake timeout)", get(&c.b));
    report.add("connect failures", get(&c.c));
}

/// Connects and closes at once (half the time after a full client hello),
/// as fast as it can.
pub(super) async fn churn(
    addr: &str,
    scale: &Scale,
    stop: watch::Receiver<bool>,
    ready: watch::Sender<bool>,
    report: &mut AttackReport,
) {
    let c = Arc::new(Counters::default()); // a: connections, b: connect failures
    let mut set = JoinSet::new();
    for k in 0..scale.parallel {
        let (addr, c, stop) = (addr.to_owned(), c.clone(), stop.clone());
        set.spawn(async move {
            let mut n = 0u64;
            while !is_stopped(&stop) {
                n += 1;
                match raw::tcp(&addr, Some(IpAddr::from(ATTACKER))).await {
                    Ok(mut s) => {
                        bump(&c.a);
                        if (n + k as u64).is_multiple_of(2) {
                            let (_, hello) = cove_common::handshake::ClientHandshake::start();
                            let mut f = bytes::BytesMut::new();
                            let _ = cove_common::frame::encode_frame(&hello, &mut f);
                            let _ = s.write_all(&f).await;
                        }
                        drop(s);
                    }
                    Err(_) => {
                        bump(&c.b);
                        // Out of ephemeral ports; let TIME_WAIT drain.
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
        });
    }
    let t = Instant::now();
    let _ = ready.send(true);
    stopped(stop).await;
    set.abort_all();
    let s = t.elapsed().as_secs_f64();
    report.add("connect-and-close loops", get(&c.a));
    report.add("per second", format!("{:.0}", get(&c.a) as f64 / s));
    report.add("connect failures", get(&c.b));
}

/// Room members that join the chatters' room and then never read again.
pub(super) async fn stalled(
    addr: &str,
    room: &RoomName,
    scale: &Scale,
    stop: watch::Receiver<bool>,
    ready: watch::Sender<bool>,
    report: &mut AttackReport,
) {
    let password = Password::new("stalled reader password").unwrap_or_else(|_| unreachable!());
    let mut conns = Vec::new();
    for i in 0..scale.stalled {
        let name = format!("stalled-{i}-{}", std::process::id());
        let r = super::room_member(addr, room, name, password.clone()).await;
        if let Ok(r) = r {
            conns.push(r);
        }
    }
    report.add("stalled readers in the room", conns.len());
    let _ = ready.send(true);
    stopped(stop).await;
    // The server must have cut them off: what is left to read ends in a
    // close, not in a connection that stays open.
    let mut checks = JoinSet::new();
    for mut c in conns {
        let settle = scale.settle;
        checks.spawn(async move { raw::closed_within(&mut c.stream, settle).await });
    }
    let mut closed = 0;
    while let Some(r) = checks.join_next().await {
        if r.unwrap_or(false) {
            closed += 1;
        }
    }
    report.add("disconnected by the server", closed);
}
