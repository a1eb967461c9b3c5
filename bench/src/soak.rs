//! The long run: steady mixed traffic (room messages, direct messages,
//! joins, leaves, log-outs, dropped connections and reconnects) against a
//! `cove-server` process, sampling its memory and open files.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use cove_common::client::{self, Auth, Event, Events, Session};
use cove_common::{
    ClientMsgId, MessageText, Password, Request, RoomName, ServerMessage, Target, Username,
};
use rand::RngExt;
use tokio::task::JoinSet;

/// What to run.
#[derive(Debug, Clone)]
pub struct SoakPlan {
    /// How long.
    pub duration: Duration,
    /// Simulated users.
    pub clients: usize,
    /// Home rooms they are spread over.
    pub rooms: usize,
    /// Messages per second each online user sends.
    pub rate_per_client: f64,
    /// Time between samples.
    pub sample_every: Duration,
}

/// One sample of the server and the traffic so far.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Seconds since the start.
    pub at_s: f64,
    /// Resident memory (MiB).
    pub rss_mib: f64,
    /// Open file descriptors.
    pub fds: usize,
    /// Messages sent so far.
    pub sent: u64,
    /// Acknowledged so far.
    pub acked: u64,
    /// Messages received so far.
    pub received: u64,
    /// Sessions started so far (logins).
    pub sessions: u64,
}

/// What the run saw.
#[derive(Debug, Clone, Default)]
pub struct SoakOutcome {
    /// The samples, in order.
    pub samples: Vec<Sample>,
    /// Messages sent.
    pub sent: u64,
    /// Of which acknowledged.
    pub acked: u64,
    /// Sent on a connection that stayed up but never acknowledged in 10 s.
    pub unacked: u64,
    /// Joins and leaves of extra rooms.
    pub joins_leaves: u64,
    /// Logins (first ones and reconnects).
    pub sessions: u64,
    /// Requests refused with an error.
    pub errors: u64,
}

#[derive(Default)]
struct Totals {
    sent: AtomicU64,
    acked: AtomicU64,
    unacked: AtomicU64,
    received: AtomicU64,
    joins_leaves: AtomicU64,
    sessions: AtomicU64,
    errors: AtomicU64,
}

const PASSWORD: &str = "soak test password";

fn user(i: usize) -> Username {
    Username::new(format!("soak-{i}")).unwrap_or_else(|_| unreachable!("short ascii names"))
}

fn room(i: usize) -> RoomName {
    RoomName::new(format!("soak-{i}")).unwrap_or_else(|_| unreachable!("short ascii names"))
}

/// Open file descriptors of a process.
pub fn open_fds(pid: u32) -> Option<usize> {
    Some(std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count())
}

/// Runs the soak against `addr` (server process `pid`), printing each
/// sample as it is taken.
pub async fn run(addr: &str, pid: u32, plan: &SoakPlan) -> Result<SoakOutcome> {
    let password = Password::new(PASSWORD)?;
    for i in 0..plan.clients {
        let (s, mut e, _) = client::connect(addr)
            .await?
            .authenticate(Auth::Register {
                username: user(i),
                password: password.clone(),
            })
            .await
            .with_context(|| format!("registering soak user {i}"))?;
        let id = s
            .send(Request::Join {
                room: room(i % plan.rooms),
            })
            .await?;
        crate::crash::wait_reply(&mut e, id)
            .await
            .with_context(|| format!("soak user {i} joining its room"))?;
    }
    let totals = Arc::new(Totals::default());
    let end = Instant::now() + plan.duration;
    let mut set = JoinSet::new();
    for i in 0..plan.clients {
        let (addr, password, totals, plan) = (
            addr.to_owned(),
            password.clone(),
            totals.clone(),
            plan.clone(),
        );
        set.spawn(async move {
            while Instant::now() < end {
                let login = async {
                    client::connect(&addr)
                        .await?
                        .authenticate(Auth::Login {
                            username: user(i),
                            password: password.clone(),
                        })
                        .await
                };
                match login.await {
                    Ok((s, e, _)) => {
                        totals.sessions.fetch_add(1, Ordering::Relaxed);
                        session((s, e), i, &plan, &totals, end).await;
                    }
                    Err(_) => {
                        totals.errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
                let pause = rand::rng().random_range(500..3000);
                tokio::time::sleep(Duration::from_millis(pause)).await;
            }
        });
    }
    let mut out = SoakOutcome::default();
    let start = Instant::now();
    loop {
        let sample = Sample {
            at_s: start.elapsed().as_secs_f64(),
            rss_mib: crate::server::rss_mib(pid, "VmRSS:").unwrap_or(0.0),
            fds: open_fds(pid).unwrap_or(0),
            sent: totals.sent.load(Ordering::Relaxed),
            acked: totals.acked.load(Ordering::Relaxed),
            received: totals.received.load(Ordering::Relaxed),
            sessions: totals.sessions.load(Ordering::Relaxed),
        };
        println!(
            "{:>7.0} s  rss {:>7.1} MiB  fds {:>5}  sent {:>9}  acked {:>9}  received {:>10}  sessions {:>6}",
            sample.at_s,
            sample.rss_mib,
            sample.fds,
            sample.sent,
            sample.acked,
            sample.received,
            sample.sessions
        );
        out.samples.push(sample);
        if Instant::now() >= end {
            break;
        }
        tokio::time::sleep(plan.sample_every.min(end - Instant::now())).await;
    }
    while set.join_next().await.is_some() {}
    out.sent = totals.sent.load(Ordering::Relaxed);
    out.acked = totals.acked.load(Ordering::Relaxed);
    out.unacked = totals.unacked.load(Ordering::Relaxed);
    out.joins_leaves = totals.joins_leaves.load(Ordering::Relaxed);
    out.sessions = totals.sessions.load(Ordering::Relaxed);
    out.errors = totals.errors.load(Ordering::Relaxed);
    Ok(out)
}

/// One session's life: chat for a random while, wander into another room
/// and out again, then log out or just drop the connection.
async fn session(
    (s, mut events): (Session, Events),
    i: usize,
    plan: &SoakPlan,
    totals: &Totals,
    end: Instant,
) {
    let life = Duration::from_secs(rand::rng().random_range(20..120));
    let until = (Instant::now() + life).min(end);
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / plan.rate_per_client));
    let mut seq = 0u64;
    let mut pending: std::collections::HashMap<String, Instant> = Default::default();
    let mut extra: Option<RoomName> = None;
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(until.into()) => break,
            _ = tick.tick() => {
                let roll = rand::rng().random_range(0..100);
                let sent = if roll < 3 {
                    // Wander: join another room, or leave the one joined.
                    let req = match extra.take() {
                        Some(r) => Request::Leave { room: r },
                        None => {
                            let r = room((i + 1 + roll as usize) % plan.rooms);
                            if r != room(i % plan.rooms) { extra = Some(r.clone()); }
                            Request::Join { room: r }
                        }
                    };
                    totals.joins_leaves.fetch_add(1, Ordering::Relaxed);
                    s.send(req).await.map(drop)
                } else {
                    let to = if roll < 13 {
                        let j = (i + rand::rng().random_range(1..plan.clients.max(2))) % plan.clients;
                        Target::User(user(j))
                    } else {
                        Target::Room(room(i % plan.rooms))
                    };
                    let id = format!("{seq}");
                    seq += 1;
                    let text = MessageText::new(format!("soak {i} {id} {}", "x".repeat(60))).unwrap_or_else(|_| unreachable!());
                    let r = s.say(to, text, ClientMsgId::new(id.clone()).unwrap_or_else(|_| unreachable!())).await;
                    if r.is_ok() {
                        totals.sent.fetch_add(1, Ordering::Relaxed);
                        pending.insert(id, Instant::now());
                    }
                    r.map(drop)
                };
                if sent.is_err() { return; }
                let now = Instant::now();
                let before = pending.len();
                pending.retain(|_, t| now.duration_since(*t) < Duration::from_secs(10));
                totals.unacked.fetch_add((before - pending.len()) as u64, Ordering::Relaxed);
            }
            ev = events.recv() => match ev {
                Some(Event::Message(ServerMessage::Ack { client_id, .. })) => {
                    if pending.remove(client_id.as_str()).is_some() {
                        totals.acked.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Some(Event::Message(ServerMessage::Message(_))) => {
                    totals.received.fetch_add(1, Ordering::Relaxed);
                }
                Some(Event::Message(ServerMessage::Error { .. })) => {
                    totals.errors.fetch_add(1, Ordering::Relaxed);
                }
                Some(Event::Message(_)) => {}
                Some(Event::Closed(_)) | None => return,
            },
        }
    }
    // Wait briefly for the last acks, then leave one way or the other.
    let wait = tokio::time::sleep(Duration::from_secs(5));
    tokio::pin!(wait);
    while !pending.is_empty() {
        tokio::select! {
            _ = &mut wait => break,
            ev = events.recv() => match ev {
                Some(Event::Message(ServerMessage::Ack { client_id, .. })) => {
                    if pending.remove(client_id.as_str()).is_some() {
                        totals.acked.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Some(Event::Message(_)) => {}
                _ => break,
            },
        }
    }
    totals
        .unacked
        .fetch_add(pending.len() as u64, Ordering::Relaxed);
    if rand::rng().random_bool(0.5) {
        let _ = s.logout().await;
    }
    drop(s);
}
