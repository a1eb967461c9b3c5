//! Attacks on accounts: wrong-password logins against one victim (whose
//! owner must still get in), and registrations as fast as the server answers.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use cove_common::{ErrorCode, Password, Request, ServerMessage, Username};
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::{
    ATTACKER, AttackReport, Counters, Prepared, STRANGER, Scale, bump, get, is_stopped, stopped,
};
use crate::raw::Raw;

/// Wrong-password logins against the victim from the attacker's address,
/// while its owner logs in during the attack from the address they used
/// before, and a stranger's address is tried too.
pub(super) async fn wrong_passwords(
    p: &Prepared,
    scale: &Scale,
    stop: watch::Receiver<bool>,
    ready: watch::Sender<bool>,
    report: &mut AttackReport,
) {
    // a: auth_failed, b: rate_limited, c: busy, d: other replies, e: errors
    let c = Arc::new(Counters::default());
    let next = Arc::new(AtomicU64::new(0));
    let mut set = JoinSet::new();
    let t = Instant::now();
    for _ in 0..scale.parallel {
        let (addr, victim, c, next, stop) = (
            p.addr.clone(),
            p.victim.clone(),
            c.clone(),
            next.clone(),
            stop.clone(),
        );
        let total = scale.wrong_passwords;
        set.spawn(async move {
            let wrong = Password::new("not the password").unwrap_or_else(|_| unreachable!());
            let mut conn: Option<Raw> = None;
            while !is_stopped(&stop) && next.fetch_add(1, Ordering::Relaxed) < total {
                if conn.is_none() {
                    conn = Raw::connect(&addr, Some(IpAddr::from(ATTACKER))).await.ok();
                }
                let Some(r) = conn.as_mut() else {
                    bump(&c.e);
                    continue;
                };
                let reply = async {
                    let id = r
                        .send(Request::Login {
                            username: victim.clone(),
                            password: wrong.clone(),
                        })
                        .await?;
                    r.reply_to(id).await
                }
                .await;
                match reply {
                    Ok(Some(ServerMessage::Error { code, .. })) => bump(match code {
                        ErrorCode::AuthFailed => &c.a,
                        ErrorCode::RateLimited => &c.b,
                        ErrorCode::Busy => &c.c,
                        _ => &c.d,
                    }),
                    Ok(Some(_)) => bump(&c.d),
                    Ok(None) | Err(_) => {
                        bump(&c.e);
                        conn = None;
                    }
                }
            }
        });
    }
    let _ = ready.send(true);
    // The owner logs in while the attack is on.
    let owner = |source: Option<IpAddr>| {
        let (addr, victim, password) = (p.addr.clone(), p.victim.clone(), p.password.clone());
        async move {
            let t = Instant::now();
            let r = async {
                let mut r = Raw::connect(&addr, source).await?;
                let id = r
                    .send(Request::Login {
                        username: victim,
                        password,
                    })
                    .await?;
                r.reply_to(id).await
            }
            .await;
            let ms = t.elapsed().as_secs_f64() * 1000.0;
            match r {
                Ok(Some(ServerMessage::Welcome { .. })) => format!("logged in ({ms:.0} ms)"),
                Ok(Some(ServerMessage::Error { message, .. })) => format!("refused: {message}"),
                other => format!("failed: {other:?}"),
            }
        }
    };
    while get(&next) < scale.wrong_passwords / 2 && !is_stopped(&stop) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mid = owner(None).await;
    if !mid.starts_with("logged in") {
        report.fail("the owner could not log in during the attack");
    }
    report.add(
        "owner, from the address they logged in from before, mid-attack",
        mid,
    );
    report.add(
        "owner, from a new address, mid-attack",
        owner(Some(IpAddr::from(STRANGER))).await,
    );
    while set.join_next().await.is_some() {}
    let s = t.elapsed().as_secs_f64();
    let total = get(&c.a) + get(&c.b) + get(&c.c) + get(&c.d);
    report.add("wrong-password logins answered", total);
    report.add("per second", format!("{:.0}", total as f64 / s));
    report.add("answered auth_failed (a password was checked)", get(&c.a));
    report.add("answered rate_limited", get(&c.b));
    report.add("answered busy", get(&c.c));
    report.add("other answers", get(&c.d));
    report.add("connection errors", get(&c.e));
    let after = owner(None).await;
    if !after.starts_with("logged in") {
        report.fail("the owner could not log in after the attack");
    }
    if get(&c.b) == 0 {
        report.fail("rate limiting never engaged");
    }
    report.add(
        "owner, from the address they logged in from before, after the attack",
        after,
    );
    stopped(stop).await;
}

/// Registrations of fresh names as fast as the server answers.
pub(super) async fn register_flood(
    addr: &str,
    scale: &Scale,
    stop: watch::Receiver<bool>,
    ready: watch::Sender<bool>,
    report: &mut AttackReport,
) {
    // a: welcomed, b: busy, c: rate limited, d: other errors, e: connection errors
    let c = Arc::new(Counters::default());
    let next = Arc::new(AtomicU64::new(0));
    let mut set = JoinSet::new();
    let t = Instant::now();
    let tag = std::process::id();
    for _ in 0..scale.parallel {
        let (addr, c, next, stop) = (addr.to_owned(), c.clone(), next.clone(), stop.clone());
        set.spawn(async move {
            let password = Password::new("flood password").unwrap_or_else(|_| unreachable!());
            while !is_stopped(&stop) {
                let n = next.fetch_add(1, Ordering::Relaxed);
                let r = async {
                    let mut r = Raw::connect(&addr, Some(IpAddr::from(ATTACKER))).await?;
                    let id = r
                        .send(Request::Register {
                            username: Username::new(format!("flood{tag}-{n}"))?,
                            password: password.clone(),
                        })
                        .await?;
                    r.reply_to(id).await
                }
                .await;
                match r {
                    Ok(Some(ServerMessage::Welcome { .. })) => bump(&c.a),
                    Ok(Some(ServerMessage::Error { code, .. })) => bump(match code {
                        ErrorCode::Busy => &c.b,
                        ErrorCode::RateLimited => &c.c,
                        _ => &c.d,
                    }),
                    _ => bump(&c.e),
                }
            }
        });
    }
    let _ = ready.send(true);
    stopped(stop).await;
    set.abort_all();
    let s = t.elapsed().as_secs_f64();
    report.add("registrations accepted", get(&c.a));
    report.add(
        "accepted per second",
        format!("{:.1}", get(&c.a) as f64 / s),
    );
    report.add("answered busy", get(&c.b));
    report.add("answered rate_limited", get(&c.c));
    report.add("other errors", get(&c.d));
    report.add("connection errors", get(&c.e));
}
