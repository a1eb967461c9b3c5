//! Crash safety: chat traffic against a real `cove-server` process that is
//! killed with SIGKILL at random moments and restarted on the same data
//! directory. Afterwards every message acknowledged to its sender must be in
//! every room member's history, and every account whose registration was
//! acknowledged must log in.

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use cove_common::client::{self, Auth, Event, Events, Session};
use cove_common::{
    ClientMsgId, MessageText, Password, Request, RoomName, ServerMessage, Target, Username,
};
use rand::RngExt;
use tokio::task::JoinSet;

use crate::server::Spawned;

/// What to run.
#[derive(Debug, Clone)]
pub struct CrashPlan {
    /// Times the server is killed.
    pub rounds: usize,
    /// Room members sending messages in every round.
    pub clients: usize,
    /// Messages per second each member sends.
    pub rate_per_client: f64,
    /// Range of the random moment of each kill after the server started.
    pub kill_after_ms: (u64, u64),
    /// Accounts registered during each round (their registration is
    /// in flight when a kill may land, so `users.json` is being rewritten).
    pub registrations_per_round: usize,
}

/// What was checked.
#[derive(Debug, Clone, Default)]
pub struct CrashOutcome {
    /// SIGKILLs delivered.
    pub kills: usize,
    /// Server starts on the data directory (each opened `users.json`).
    pub starts: usize,
    /// Messages acknowledged to their senders.
    pub acked: usize,
    /// Messages checked in members' histories (acked × members).
    pub checks: u64,
    /// Acknowledged messages missing from a member's history.
    pub missing: u64,
    /// Records read back from histories in all (acked or not).
    pub history_records: u64,
    /// Accounts whose registration was acknowledged.
    pub accounts: usize,
    /// Those that then failed to log in.
    pub logins_failed: usize,
}

const PASSWORD: &str = "crash test password";

fn member(i: usize) -> Username {
    Username::new(format!("crash-m{i}")).unwrap_or_else(|_| unreachable!("short ascii names"))
}

fn text_of(round: usize, i: usize, seq: u64) -> String {
    format!("crash r{round} u{i} m{seq}")
}

async fn auth(addr: &str, auth: Auth) -> Result<(Session, Events)> {
    let (s, e, _) = client::connect(addr).await?.authenticate(auth).await?;
    Ok((s, e))
}

/// Runs the whole test on `data_dir` (which should start empty).
pub async fn run(plan: &CrashPlan, data_dir: &Path) -> Result<CrashOutcome> {
    let mut out = CrashOutcome::default();
    let room = RoomName::new("crash")?;
    let password = Password::new(PASSWORD)?;
    let accounts: Arc<Mutex<Vec<Username>>> = Arc::default();
    let acked: Arc<Mutex<HashSet<String>>> = Arc::default();

    // Members and their room, set up before any kill.
    let server = Spawned::start_in(data_dir, "127.0.0.1:0")?;
    out.starts += 1;
    for i in 0..plan.clients {
        let (s, mut e) = auth(
            &server.addr,
            Auth::Register {
                username: member(i),
                password: password.clone(),
            },
        )
        .await
        .with_context(|| format!("registering member {i}"))?;
        let id = s.send(Request::Join { room: room.clone() }).await?;
        wait_reply(&mut e, id).await?;
        accounts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(member(i));
    }
    server.stop();

    for round in 0..plan.rounds {
        let server = Spawned::start_in(data_dir, "127.0.0.1:0")
            .with_context(|| format!("restarting the server after kill {round}"))?;
        out.starts += 1;
        let mut tasks = JoinSet::new();
        for k in 0..plan.registrations_per_round {
            let (addr, password, accounts) =
                (server.addr.clone(), password.clone(), accounts.clone());
            tasks.spawn(async move {
                let name = Username::new(format!("crash-r{round}x{k}"))?;
                auth(
                    &addr,
                    Auth::Register {
                        username: name.clone(),
                        password,
                    },
                )
                .await?;
                accounts
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(name);
                Ok::<_, anyhow::Error>(())
            });
        }
        for i in 0..plan.clients {
            let (addr, password, acked, room) = (
                server.addr.clone(),
                password.clone(),
                acked.clone(),
                room.clone(),
            );
            let rate = plan.rate_per_client;
            tasks.spawn(async move {
                let (s, e) = auth(
                    &addr,
                    Auth::Login {
                        username: member(i),
                        password,
                    },
                )
                .await?;
                chat(s, e, room, round, i, rate, acked).await
            });
        }
        let (lo, hi) = plan.kill_after_ms;
        let delay = rand::rng().random_range(lo..=hi.max(lo));
        tokio::time::sleep(Duration::from_millis(delay)).await;
        server.kill();
        out.kills += 1;
        // Every task ends once its connection is gone.
        let drained = tokio::time::timeout(Duration::from_secs(10), async {
            while tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tasks.abort_all();
        }
    }

    let acked = std::mem::take(&mut *acked.lock().unwrap_or_else(|p| p.into_inner()));
    let accounts = std::mem::take(&mut *accounts.lock().unwrap_or_else(|p| p.into_inner()));
    out.acked = acked.len();
    out.accounts = accounts.len();
    let server = Spawned::start_in(data_dir, "127.0.0.1:0").context("the final restart")?;
    out.starts += 1;
    for name in &accounts {
        let login = auth(
            &server.addr,
            Auth::Login {
                username: name.clone(),
                password: password.clone(),
            },
        )
        .await;
        if login.is_err() {
            out.logins_failed += 1;
        }
    }
    for i in 0..plan.clients {
        let (s, mut e) = auth(
            &server.addr,
            Auth::Login {
                username: member(i),
                password: password.clone(),
            },
        )
        .await?;
        let texts = history(&s, &mut e, &room).await?;
        out.history_records += texts.len() as u64;
        out.checks += acked.len() as u64;
        out.missing += acked.iter().filter(|t| !texts.contains(*t)).count() as u64;
    }
    server.stop();
    Ok(out)
}

/// The reply to request `id` on a session, skipping everything else; an
/// error reply or a closed connection is an error.
pub(crate) async fn wait_reply(events: &mut Events, id: u64) -> Result<ServerMessage> {
    loop {
        match events.recv().await {
            Some(Event::Message(m)) if crate::raw::reply_id(&m) == Some(id) => {
                if let ServerMessage::Error { message, .. } = &m {
                    bail!("request failed: {message}");
                }
                return Ok(m);
            }
            Some(Event::Message(_)) => {}
            Some(Event::Closed(_)) | None => bail!("connection closed"),
        }
    }
}

/// Sends messages at `rate` until the connection dies, recording each one
/// acknowledged.
async fn chat(
    session: Session,
    mut events: Events,
    room: RoomName,
    round: usize,
    i: usize,
    rate: f64,
    acked: Arc<Mutex<HashSet<String>>>,
) -> Result<()> {
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate.max(0.1)));
    let mut seq = 0u64;
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let text = MessageText::new(text_of(round, i, seq))?;
                let id = ClientMsgId::new(format!("{seq}"))?;
                if session.say(Target::Room(room.clone()), text, id).await.is_err() {
                    return Ok(());
                }
                seq += 1;
            }
            ev = events.recv() => match ev {
                Some(Event::Message(ServerMessage::Ack { client_id, .. })) => {
                    if let Ok(n) = client_id.as_str().parse::<u64>() {
                        acked.lock().unwrap_or_else(|p| p.into_inner()).insert(text_of(round, i, n));
                    }
                }
                Some(Event::Message(_)) => {}
                Some(Event::Closed(_)) | None => return Ok(()),
            },
        }
    }
}

/// Every message text in the user's history of `room`, newest page first.
async fn history(
    session: &Session,
    events: &mut Events,
    room: &RoomName,
) -> Result<HashSet<String>> {
    let mut texts = HashSet::new();
    // A page may be short or empty while `more` holds (protocol v4): the
    // cursor says where the next one starts.
    let mut cursor = None;
    loop {
        let id = session
            .send(Request::History {
                with: Target::Room(room.clone()),
                before: None,
                limit: cove_common::limits::HISTORY_PAGE_MAX,
                cursor: cursor.take(),
            })
            .await?;
        let ServerMessage::History {
            messages,
            more,
            cursor: next,
            ..
        } = wait_reply(events, id).await?
        else {
            bail!("unexpected reply to a history request");
        };
        texts.extend(messages.into_iter().map(|m| m.text_str().to_owned()));
        cursor = next;
        if !more || cursor.is_none() {
            return Ok(texts);
        }
    }
}
