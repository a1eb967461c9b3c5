//! Hostile clients against a live server while well-behaved clients chat.
//! Each attack runs alongside the normal benchmark workload ([`crate::run`]),
//! so its harm shows in the chatters' latency and losses.
//!
//! This module is the driver: which attack ([`Attack`]), how big
//! ([`Scale`]), preparing and starting it on its own thread ([`prepare`],
//! [`Prepared::start`]), and what it saw ([`AttackReport`]). The attacks
//! themselves are beside it: `connections` (half-open connections, churn,
//! stalled readers), `bad_records` (garbage, oversized, wrong tags,
//! replays), `accounts` (wrong passwords, registration flood), `guesses`
//! (wrong passwords sent in parallel, in waves), `unauthenticated`
//! (connections that ping and never log in), `flood` (a member sending as
//! fast as it can) and `invalid_requests` (JSON objects with bad values).
//!
//! Some attacks need the server or the chat set up for them:
//! [`Attack::server_args`] and [`Attack::message_size`] say how.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Result;
use clap::ValueEnum;
use cove_common::client::{self, Auth};
use cove_common::{Password, RoomName, Username};
use tokio::sync::watch;

mod accounts;
mod bad_records;
mod connections;
mod flood;
mod guesses;
mod invalid_requests;
mod unauthenticated;

/// One kind of hostile traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Attack {
    /// No attack: the baseline.
    None,
    /// 5,000 connections that start the handshake and never finish it.
    HalfOpen,
    /// Connect and close at once, in a loop.
    Churn,
    /// Logged-in room members that stop reading.
    StalledReader,
    /// Wrong tags, replayed records, oversized length prefixes, garbage.
    BadRecords,
    /// 10,000 wrong-password logins against one account.
    WrongPassword,
    /// Registrations as fast as the server answers.
    RegisterFlood,
    /// Waves of wrong-password logins for one account, each wave sent on
    /// many connections at the same moment.
    ParallelGuesses,
    /// Connections that ping every second and never log in, more than the
    /// server admits from one network.
    PingsWithoutLogin,
    /// A logged-in member of the chatters' room sending as fast as it can,
    /// against a server with the per-user send rate on.
    SendFlood,
    /// A logged-in client sending JSON objects that are not valid requests.
    InvalidRequests,
    /// Logged-in room members that stop reading while the chatters send
    /// the largest messages allowed: what the per-connection queue cap
    /// leaves of the server's memory.
    StalledReaderBig,
}

impl Attack {
    /// Arguments the spawned `cove-server` needs for this attack, beyond
    /// the benchmark's own (see [`crate::server::Spawned::start_with`]).
    pub fn server_args(self, scale: &Scale) -> Vec<String> {
        match self {
            // The benchmark servers run without the per-user send rate; the
            // flood is what it is for. The chatters stay under it.
            Attack::SendFlood => vec![
                "--messages-per-second-per-user".into(),
                scale.messages_per_second_per_user.to_string(),
            ],
            _ => Vec::new(),
        }
    }

    /// The size of the chatters' messages this attack needs, if it needs
    /// one: the largest a message may be, so that a stalled reader's
    /// backlog passes its queue's byte cap quickly.
    pub fn message_size(self) -> Option<usize> {
        match self {
            Attack::StalledReaderBig => Some(cove_common::limits::MESSAGE_MAX_CHARS),
            _ => None,
        }
    }
}

/// Sources posing as other hosts, so the attacks' addresses are not the
/// chatters' (127.0.0.1).
const ATTACKER: [u8; 4] = [127, 0, 0, 2];
const STRANGER: [u8; 4] = [127, 0, 0, 3];

/// How many hostile connections or requests each attack makes.
#[derive(Debug, Clone)]
pub struct Scale {
    /// Half-open connections held at once.
    pub half_open: usize,
    /// Stalled readers.
    pub stalled: usize,
    /// Wrong-password logins.
    pub wrong_passwords: u64,
    /// Attacking tasks running at once (churn, bad records, floods).
    pub parallel: usize,
    /// How long stalled readers wait, after the chat, to see whether the
    /// server has cut them off.
    pub settle: Duration,
    /// Connections in each wave of parallel guesses.
    pub guess_wave: usize,
    /// Connections opened at once that ping and never log in.
    pub pingers: usize,
    /// The server's cap on connections from one network that have not
    /// logged in (what the pingers should meet).
    pub max_unauthenticated: usize,
    /// The server's login deadline (when the pingers should be closed).
    pub login_deadline: Duration,
    /// The per-user send rate the flood's server runs with, messages a
    /// second (bursts of three seconds' worth).
    pub messages_per_second_per_user: u32,
}

impl Default for Scale {
    fn default() -> Self {
        Self {
            half_open: 5_000,
            stalled: 10,
            wrong_passwords: 10_000,
            parallel: 16,
            settle: Duration::from_secs(10),
            guess_wave: 64,
            pingers: 500,
            max_unauthenticated: 128,
            login_deadline: Duration::from_secs(30),
            messages_per_second_per_user: 10,
        }
    }
}

/// What an attack did and what the server did about it, as lines of text.
#[derive(Debug, Default, Clone)]
pub struct AttackReport {
    /// `name: value` facts.
    pub facts: Vec<(String, String)>,
    /// What the server did wrong (empty when it held).
    pub failures: Vec<String>,
}

impl AttackReport {
    fn add(&mut self, k: &str, v: impl ToString) {
        self.facts.push((k.to_owned(), v.to_string()));
    }

    fn fail(&mut self, what: impl Into<String>) {
        self.failures.push(what.into());
    }
}

#[derive(Default)]
struct Counters {
    a: AtomicU64,
    b: AtomicU64,
    c: AtomicU64,
    d: AtomicU64,
    e: AtomicU64,
}

/// A fresh account registered from the attacker's address and joined to
/// the chatters' room, its connection kept.
async fn room_member(
    addr: &str,
    room: &RoomName,
    name: String,
    password: Password,
) -> Result<crate::raw::Raw> {
    use cove_common::Request;
    let mut raw = crate::raw::Raw::connect(addr, Some(std::net::IpAddr::from(ATTACKER))).await?;
    let id = raw
        .send(Request::Register {
            username: Username::new(name)?,
            password,
        })
        .await?;
    raw.reply_to(id).await?;
    let id = raw.send(Request::Join { room: room.clone() }).await?;
    raw.reply_to(id).await?;
    Ok(raw)
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

fn get(c: &AtomicU64) -> u64 {
    c.load(Ordering::Relaxed)
}

/// A running attack: stop it to get its report.
pub struct Running {
    stop: watch::Sender<bool>,
    done: tokio::sync::oneshot::Receiver<AttackReport>,
}

impl Running {
    /// Stops the attack and returns what it saw.
    pub async fn finish(self) -> AttackReport {
        let _ = self.stop.send(true);
        self.done.await.unwrap_or_else(|_| AttackReport {
            failures: vec!["the attacker did not run to the end".into()],
            ..AttackReport::default()
        })
    }
}

/// Prepares what an attack needs before the chatters start (the victim
/// account for wrong-password logins), then returns a function that starts
/// the attack and waits until it is at full strength. `room` is the
/// chatters' room (of their run: [`crate::run::room_of`]), which attackers
/// that need one join.
pub async fn prepare(addr: &str, attack: Attack, room: RoomName) -> Result<Prepared> {
    let victim = Username::new("victim")?;
    let password = Password::new("the victim's real password")?;
    if matches!(attack, Attack::WrongPassword | Attack::ParallelGuesses) {
        let (s, _e, _) = client::connect(addr)
            .await?
            .authenticate(Auth::Register {
                username: victim.clone(),
                password: password.clone(),
            })
            .await?;
        s.logout().await?;
        // And the owner has logged in since, from the same address.
        let (s, _e, _) = client::connect(addr)
            .await?
            .authenticate(Auth::Login {
                username: victim.clone(),
                password: password.clone(),
            })
            .await?;
        s.logout().await?;
    }
    Ok(Prepared {
        addr: addr.to_owned(),
        attack,
        victim,
        password,
        room,
    })
}

/// An attack ready to start.
pub struct Prepared {
    addr: String,
    attack: Attack,
    victim: Username,
    password: Password,
    /// The chatters' room.
    room: RoomName,
}

impl Prepared {
    /// Starts the attack; returns once it is at full strength.
    ///
    /// The attacker runs on its own thread and runtime, as it would on its
    /// own machine: it competes with the chatters for the CPU, but never
    /// for their runtime's workers, so their latency measures the server.
    pub async fn start(self, scale: Scale) -> Running {
        let (stop, stop_rx) = watch::channel(false);
        let (ready_tx, mut ready_rx) = watch::channel(false);
        let (done_tx, done) = tokio::sync::oneshot::channel();
        let spawned = std::thread::Builder::new()
            .name("attacker".into())
            .spawn(move || {
                let report = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt.block_on(self.drive(scale, stop_rx, ready_tx)),
                    Err(e) => AttackReport {
                        failures: vec![format!("no runtime for the attacker: {e}")],
                        ..AttackReport::default()
                    },
                };
                let _ = done_tx.send(report);
            });
        if spawned.is_ok() {
            let _ = tokio::time::timeout(Duration::from_secs(60), ready_rx.wait_for(|r| *r)).await;
        }
        Running { stop, done }
    }

    async fn drive(
        self,
        scale: Scale,
        stop: watch::Receiver<bool>,
        ready: watch::Sender<bool>,
    ) -> AttackReport {
        let mut report = AttackReport::default();
        let t = Instant::now();
        match self.attack {
            Attack::None => {
                let _ = ready.send(true);
                stopped(stop).await;
            }
            Attack::HalfOpen => {
                connections::half_open(&self.addr, &scale, stop, ready, &mut report).await
            }
            Attack::Churn => connections::churn(&self.addr, &scale, stop, ready, &mut report).await,
            Attack::StalledReader | Attack::StalledReaderBig => {
                connections::stalled(&self.addr, &self.room, &scale, stop, ready, &mut report).await
            }
            Attack::BadRecords => {
                bad_records::bad_records(&self.addr, &scale, stop, ready, &mut report).await
            }
            Attack::WrongPassword => {
                accounts::wrong_passwords(&self, &scale, stop, ready, &mut report).await
            }
            Attack::RegisterFlood => {
                accounts::register_flood(&self.addr, &scale, stop, ready, &mut report).await
            }
            Attack::ParallelGuesses => {
                guesses::parallel_guesses(&self, &scale, stop, ready, &mut report).await
            }
            Attack::PingsWithoutLogin => {
                unauthenticated::pings_without_login(&self.addr, &scale, stop, ready, &mut report)
                    .await
            }
            Attack::SendFlood => {
                flood::send_flood(&self.addr, &self.room, &scale, stop, ready, &mut report).await
            }
            Attack::InvalidRequests => {
                invalid_requests::invalid_requests(&self.addr, stop, ready, &mut report).await
            }
        }
        report.add(
            "attack seconds",
            format!("{:.1}", t.elapsed().as_secs_f64()),
        );
        report
    }
}

async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

fn is_stopped(stop: &watch::Receiver<bool>) -> bool {
    *stop.borrow()
}
