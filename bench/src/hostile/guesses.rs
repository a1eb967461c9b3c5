//! Wrong passwords sent in parallel: waves of logins for one account, each
//! wave on many fresh connections released at the same moment, so that
//! every attempt of a wave is in flight before any answer. The login
//! throttle counts an attempt before its password is checked, so a wave
//! must get no more passwords checked than sequential attempts would.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use cove_common::{ErrorCode, Password, Request, ServerMessage, Username};
use tokio::sync::{Barrier, watch};
use tokio::task::JoinSet;

use super::{ATTACKER, AttackReport, Prepared, Scale, is_stopped, stopped};
use crate::raw::Raw;

/// Passwords one network may have checked before its first lockout
/// (docs/security.md: three failures free, the fourth starts it).
const CHECKED_BEFORE_LOCKOUT: u64 = 4;

/// How one wave was answered.
#[derive(Debug, Default, Clone, Copy)]
struct Wave {
    /// `auth_failed`: a password was checked.
    checked: u64,
    /// `rate_limited`: refused without a check.
    refused: u64,
    /// `busy`: the hashing queue was full.
    busy: u64,
    /// Any other reply (a welcome would be a disaster).
    other: u64,
    /// Connections that failed or closed before answering.
    errors: u64,
}

/// Waves of `scale.guess_wave` wrong-password logins for the victim from
/// the attacker's address until stopped, each wave after the lockout the
/// previous one earned; then the owner logs in from their own address.
pub(super) async fn parallel_guesses(
    p: &Prepared,
    scale: &Scale,
    stop: watch::Receiver<bool>,
    ready: watch::Sender<bool>,
    report: &mut AttackReport,
) {
    let mut waves: Vec<Wave> = Vec::new();
    // Lockouts double from one second: after wave k the attacker's network
    // waits 2^(k-1) s (docs/security.md), so each wave waits that out, or
    // it would only measure the lockout.
    let mut lockout = Duration::from_secs(1);
    while waves.is_empty() || !is_stopped(&stop) {
        let wave = one_wave(&p.addr, &p.victim, scale.guess_wave, &ready).await;
        waves.push(wave);
        let mut stop = stop.clone();
        tokio::select! {
            _ = tokio::time::sleep(lockout + Duration::from_millis(250)) => {}
            _ = stop.wait_for(|s| *s) => {}
        }
        lockout = (lockout * 2).min(Duration::from_secs(60));
    }
    for (k, w) in waves.iter().enumerate() {
        report.add(
            &format!("wave {} of {} at once", k + 1, scale.guess_wave),
            format!(
                "{} passwords checked (auth_failed), {} refused (rate_limited), {} busy, {} other, {} connection errors",
                w.checked, w.refused, w.busy, w.other, w.errors
            ),
        );
    }
    let first = waves.first().copied().unwrap_or_default();
    if first.checked > CHECKED_BEFORE_LOCKOUT {
        report.fail(format!(
            "the first wave had {} passwords checked, more than {CHECKED_BEFORE_LOCKOUT}",
            first.checked
        ));
    }
    if first.checked == 0 || first.refused == 0 {
        report.fail("the first wave was not both checked and throttled");
    }
    // After a lockout ends, one more failure starts the next: one check
    // per later wave at most.
    if let Some((k, w)) = waves
        .iter()
        .enumerate()
        .skip(1)
        .find(|(_, w)| w.checked > 1)
    {
        report.fail(format!(
            "wave {} had {} passwords checked after a lockout",
            k + 1,
            w.checked
        ));
    }
    if waves.iter().any(|w| w.other > 0) {
        report.fail("a wrong password got an answer other than auth_failed, rate_limited or busy");
    }
    let total = waves.iter().map(|w| w.checked).sum::<u64>();
    report.add("passwords checked in all", total);
    // The owner's own network is not the attacker's: they get in.
    let owner = owner_logs_in(&p.addr, &p.victim, &p.password).await;
    match &owner {
        Ok(ms) => report.add(
            "owner, from the address they logged in from before",
            format!("logged in ({ms:.0} ms)"),
        ),
        Err(e) => report.fail(format!("the owner could not log in after the waves: {e}")),
    }
    stopped(stop).await;
}

/// Opens `n` connections, then releases one login on each at once, and
/// signals `ready` as it does: the attack is at full strength when its
/// first wave goes (later signals change nothing).
async fn one_wave(addr: &str, victim: &Username, n: usize, ready: &watch::Sender<bool>) -> Wave {
    let barrier = Arc::new(Barrier::new(n + 1));
    let mut set = JoinSet::new();
    for _ in 0..n {
        let (addr, victim, barrier) = (addr.to_owned(), victim.clone(), barrier.clone());
        set.spawn(async move {
            let conn = Raw::connect(&addr, Some(IpAddr::from(ATTACKER))).await;
            // Everyone waits at the barrier, connected or not, so that
            // one failed connection cannot hold the wave back.
            barrier.wait().await;
            let mut r = conn?;
            let wrong = Password::new("not the password")?;
            let id = r
                .send(Request::Login {
                    username: victim,
                    password: wrong,
                })
                .await?;
            tokio::time::timeout(Duration::from_secs(30), r.reply_to(id))
                .await
                .map_err(anyhow::Error::from)?
        });
    }
    barrier.wait().await;
    let _ = ready.send(true);
    let mut w = Wave::default();
    while let Some(r) = set.join_next().await {
        let reply: Result<Option<ServerMessage>> = r.map_err(anyhow::Error::from).and_then(|r| r);
        match reply {
            Ok(Some(ServerMessage::Error { code, .. })) => match code {
                ErrorCode::AuthFailed => w.checked += 1,
                ErrorCode::RateLimited => w.refused += 1,
                ErrorCode::Busy => w.busy += 1,
                _ => w.other += 1,
            },
            Ok(Some(_)) => w.other += 1,
            Ok(None) | Err(_) => w.errors += 1,
        }
    }
    w
}

/// The owner's login from the chatters' address, which registered and
/// logged in to the account before the attack; milliseconds it took.
async fn owner_logs_in(addr: &str, victim: &Username, password: &Password) -> Result<f64> {
    let t = std::time::Instant::now();
    let mut r = Raw::connect(addr, None).await?;
    let id = r
        .send(Request::Login {
            username: victim.clone(),
            password: password.clone(),
        })
        .await?;
    match r.reply_to(id).await? {
        Some(ServerMessage::Welcome { .. }) => Ok(t.elapsed().as_secs_f64() * 1000.0),
        Some(ServerMessage::Error { message, .. }) => anyhow::bail!("refused: {message}"),
        other => anyhow::bail!("unexpected reply: {other:?}"),
    }
}
