//! Hostile clients against a live server while well-behaved clients chat.
//! Each attack runs alongside the normal benchmark workload ([`crate::run`]),
//! so its harm shows in the chatters' latency and losses.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Result;
use clap::ValueEnum;
use cove_common::client::{self, Auth};
use cove_common::{ErrorCode, Password, Request, ServerMessage, Username};
use tokio::io::AsyncWriteExt;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::raw::{self, Raw};

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
}

impl Default for Scale {
    fn default() -> Self {
        Self {
            half_open: 5_000,
            stalled: 10,
            wrong_passwords: 10_000,
            parallel: 16,
            settle: Duration::from_secs(10),
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
/// the attack and waits until it is at full strength.
pub async fn prepare(addr: &str, attack: Attack) -> Result<Prepared> {
    let victim = Username::new("victim")?;
    let password = Password::new("the victim's real password")?;
    if attack == Attack::WrongPassword {
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
    })
}

/// An attack ready to start.
pub struct Prepared {
    addr: String,
    attack: Attack,
    victim: Username,
    password: Password,
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
            Attack::HalfOpen => half_open(&self.addr, &scale, stop, ready, &mut report).await,
            Attack::Churn => churn(&self.addr, &scale, stop, ready, &mut report).await,
            Attack::StalledReader => stalled(&self.addr, &scale, stop, ready, &mut report).await,
            Attack::BadRecords => bad_records(&self.addr, &scale, stop, ready, &mut report).await,
            Attack::WrongPassword => wrong_passwords(&self, &scale, stop, ready, &mut report).await,
            Attack::RegisterFlood => {
                register_flood(&self.addr, &scale, stop, ready, &mut report).await
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

/// Holds `n` connections that sent half a client hello; each one the
/// server closes is opened again.
async fn half_open(
    addr: &str,
    scale: &Scale,
    stop: watch::Receiver<bool>,
    ready: watch::Sender<bool>,
    report: &mut AttackReport,
) {
    let c = Arc::new(Counters::default()); // a: opened, b: closed by server, c: failed to open
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
                tokio::select! {
                    _ = raw::closed_within(&mut s, Duration::from_secs(3600)) => bump(&c.b),
                    _ = stop.changed() => return,
                }
            }
        });
    }
    let t = Instant::now();
    while get(&up) < scale.half_open as u64 && t.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    report.add("half-open connections held", get(&up));
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
    report.add("closed by the server (handshake timeout)", get(&c.b));
    report.add("connect failures", get(&c.c));
}

/// Connects and closes at once (half the time after a full client hello),
/// as fast as it can.
async fn churn(
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
async fn stalled(
    addr: &str,
    scale: &Scale,
    stop: watch::Receiver<bool>,
    ready: watch::Sender<bool>,
    report: &mut AttackReport,
) {
    let password = Password::new("stalled reader password").unwrap_or_else(|_| unreachable!());
    let mut conns = Vec::new();
    for i in 0..scale.stalled {
        let r = async {
            let mut raw = Raw::connect(addr, Some(IpAddr::from(ATTACKER))).await?;
            let name = Username::new(format!("stalled-{i}-{}", std::process::id()))?;
            let id = raw
                .send(Request::Register {
                    username: name,
                    password: password.clone(),
                })
                .await?;
            raw.reply_to(id).await?;
            let id = raw
                .send(Request::Join {
                    room: crate::run::room_of(0, 1),
                })
                .await?;
            raw.reply_to(id).await?;
            Ok::<_, anyhow::Error>(raw)
        }
        .await;
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

#[derive(Clone, Copy, Debug)]
enum Bad {
    Garbage,
    Oversized,
    WrongTag,
    Replay,
}

/// Sends each kind of bad input on fresh connections, in a loop, and
/// checks that the server closes every one.
async fn bad_records(
    addr: &str,
    scale: &Scale,
    stop: watch::Receiver<bool>,
    ready: watch::Sender<bool>,
    report: &mut AttackReport,
) {
    const KINDS: [Bad; 4] = [Bad::Garbage, Bad::Oversized, Bad::WrongTag, Bad::Replay];
    // Per kind: a = sent, b = closed by the server, c = left open, d = answered after the bad record.
    let counters: Arc<Vec<Counters>> =
        Arc::new(KINDS.iter().map(|_| Counters::default()).collect());
    let mut set = JoinSet::new();
    for k in 0..scale.parallel {
        let (addr, counters, stop) = (addr.to_owned(), counters.clone(), stop.clone());
        set.spawn(async move {
            let mut n = k;
            while !is_stopped(&stop) {
                let kind = KINDS[n % KINDS.len()];
                n += 1;
                let c = &counters[n.wrapping_sub(1) % KINDS.len()];
                match one_bad(&addr, kind).await {
                    Ok((closed, answered)) => {
                        bump(&c.a);
                        bump(if closed { &c.b } else { &c.c });
                        if answered {
                            bump(&c.d);
                        }
                    }
                    Err(_) => bump(&c.e),
                }
            }
        });
    }
    let _ = ready.send(true);
    stopped(stop).await;
    set.abort_all();
    for (kind, c) in KINDS.iter().zip(counters.iter()) {
        if get(&c.a) == 0 {
            report.fail(format!("no {kind:?} input was sent"));
        }
        if get(&c.c) > 0 || get(&c.d) > 0 {
            report.fail(format!("{kind:?}: a connection was left open or answered"));
        }
        report.add(
            &format!("{kind:?}"),
            format!(
                "{} sent, {} closed by the server, {} left open, {} answered after it, {} errors",
                get(&c.a),
                get(&c.b),
                get(&c.c),
                get(&c.d),
                get(&c.e)
            ),
        );
    }
}

/// Returns (closed by the server, answered after the bad input).
async fn one_bad(addr: &str, kind: Bad) -> Result<(bool, bool)> {
    let limit = Duration::from_secs(5);
    let source = Some(IpAddr::from(STRANGER));
    match kind {
        Bad::Garbage => {
            let mut s = raw::tcp(addr, source).await?;
            let junk: [u8; 64] = rand::random();
            s.write_all(&[0, 0, 0, 64]).await?;
            s.write_all(&junk).await?;
            Ok((raw::closed_within(&mut s, limit).await, false))
        }
        Bad::Oversized => {
            let mut r = Raw::connect(addr, source).await?;
            r.stream
                .write_all(&[0xff, 0xff, 0xff, 0xf0, 1, 2, 3])
                .await?;
            Ok((raw::closed_within(&mut r.stream, limit).await, false))
        }
        Bad::WrongTag => {
            let mut r = Raw::connect(addr, source).await?;
            let (_, mut frame) = r.seal(Request::Ping)?;
            let last = frame.len() - 1;
            frame[last] ^= 0x01;
            r.stream.write_all(&frame).await?;
            after_bad(r, limit).await
        }
        Bad::Replay => {
            let mut r = Raw::connect(addr, source).await?;
            let (id, frame) = r.seal(Request::Ping)?;
            r.stream.write_all(&frame).await?;
            let _ = r.reply_to(id).await?;
            r.stream.write_all(&frame).await?;
            after_bad(r, limit).await
        }
    }
}

/// Whether the server closes within `limit`, and whether it answered
/// anything before closing.
async fn after_bad(mut r: Raw, limit: Duration) -> Result<(bool, bool)> {
    let got = tokio::time::timeout(limit, r.recv()).await;
    Ok(match got {
        Ok(Ok(None)) | Ok(Err(_)) => (true, false),
        Ok(Ok(Some(_))) => (raw::closed_within(&mut r.stream, limit).await, true),
        Err(_) => (false, false),
    })
}

/// Wrong-password logins against the victim from the attacker's address,
/// while its owner logs in during the attack from the address they used
/// before, and a stranger's address is tried too.
async fn wrong_passwords(
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
async fn register_flood(
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
