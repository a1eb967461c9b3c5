//! The benchmark phases against a server at an address: provision accounts,
//! connect and log in, join rooms, exchange messages, count everything.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use cove_common::client::Auth;
use cove_common::{
    ClientMsgId, MessageText, Password, Request, RoomName, ServerMessage, Target, Username,
};
use hdrhistogram::Histogram;
use serde::Deserialize;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use crate::payload::{self, Seen};
use crate::raw::Raw;

/// What to run.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Simulated users.
    pub clients: usize,
    /// Rooms they are spread over.
    pub rooms: usize,
    /// Messages each client sends.
    pub messages: usize,
    /// Bytes of text per message.
    pub size: usize,
    /// Aggregate messages per second, or `None` for as fast as acked.
    pub rate: Option<f64>,
    /// Connections or registrations in flight at once.
    pub concurrency: usize,
    /// Unacknowledged messages allowed per client.
    pub window: usize,
    /// How long to wait for deliveries after the last send.
    pub drain: Duration,
    /// Extra accounts that log in all at once while the messages flow (a
    /// login storm); 0 for none.
    pub storm: usize,
    /// Extra members of the rooms who registered, joined and left, and stay
    /// offline: each message is stored for them too, and counted unread.
    pub offline: usize,
    /// The server's process id, to read its memory while clients idle.
    pub server_pid: Option<u32>,
    /// Reactions, edits and typing among the messages (see [`crate::mix`]).
    pub mix: bool,
    /// Bytes of a file shared in the first room during the message phase
    /// (see [`crate::share`]); 0 for none.
    pub file_bytes: usize,
    /// Members of the first room who download the shared file.
    pub file_downloads: usize,
}

/// What was measured.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Messages sent (and acknowledged).
    pub messages_sent: u64,
    /// Deliveries that should have happened.
    pub deliveries_expected: u64,
    /// Deliveries that happened (duplicates excluded).
    pub deliveries_received: u64,
    /// Deliveries seen twice.
    pub duplicates: u64,
    /// Seconds of the message phase, first send to last delivery.
    pub message_s: f64,
    /// Latency histogram in microseconds.
    pub latency_us: Option<Histogram<u64>>,
    /// Seconds to register every account.
    pub register_s: f64,
    /// Seconds to connect, handshake and log in every client.
    pub connect_s: f64,
    /// Seconds to join the rooms.
    pub join_s: f64,
    /// Seconds the login storm took (0 without one).
    pub storm_s: f64,
    /// Connections held open in idle mode.
    pub sessions_held: usize,
    /// The server's resident memory while they were held (MiB).
    pub server_rss_idle_mib: Option<f64>,
    /// Reactions and edits sent (`--mix`), acknowledged or refused.
    pub changes_sent: u64,
    /// Of those, the ones refused.
    pub refused: u64,
    /// `typing` requests sent.
    pub typing_sent: u64,
    /// `change` and `typing` events received.
    pub events_received: u64,
    /// The file shared meanwhile (`--file-bytes`).
    pub shared: Option<crate::share::Shared>,
    /// The server's CPU seconds (user + system) over the message phase,
    /// when its process id is known: unlike the rate, it hardly depends on
    /// what else the machine's cores are doing.
    pub server_cpu_s: Option<f64>,
}

const PASSWORD: &str = "bench password 123";

fn name(tag: &str, i: usize) -> Username {
    Username::new(format!("b{tag}-{i}")).unwrap_or_else(|_| unreachable!("short ascii names"))
}

/// A tag for one run, from the process id and the clock: the run's
/// account and room names carry it, so runs against one server do not
/// share rooms (a second run would otherwise find the first run's members,
/// offline, in its rooms, and its history there).
pub fn run_tag() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{:06x}", (std::process::id() ^ nanos) & 0xff_ffff)
}

/// The room client `i` of the run tagged `tag` joins (a tag is a few
/// letters and digits, like [`run_tag`]'s).
pub fn room_of(tag: &str, i: usize, rooms: usize) -> RoomName {
    RoomName::new(format!("bench-{tag}-r{}", i % rooms))
        .unwrap_or_else(|_| unreachable!("short ascii names"))
}

/// Runs `task(i)` for every `i < n`, at most `concurrency` at a time.
async fn bounded<T, F, Fut>(n: usize, concurrency: usize, task: F) -> Result<Vec<T>>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = Result<T>> + Send + 'static,
{
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut set = JoinSet::new();
    for i in 0..n {
        let permit = permits.clone().acquire_owned().await?;
        let fut = task(i);
        set.spawn(async move {
            let r = fut.await;
            drop(permit);
            r.map(|v| (i, v))
        });
    }
    let mut out: Vec<Option<T>> = (0..n).map(|_| None).collect();
    while let Some(r) = set.join_next().await {
        let (i, v) = r??;
        out[i] = Some(v);
    }
    out.into_iter()
        .map(|v| v.ok_or_else(|| anyhow!("a task did not finish")))
        .collect()
}

// The clients are bare connections ([`Raw`]): the generator reads each
// record's plaintext in place and picks out only the fields it counts, so
// that it leaves as much of the shared machine as possible to the server.
async fn auth(addr: String, auth: Auth) -> Result<Raw> {
    Raw::authenticate(&addr, auth).await
}

/// The few fields of a server message the generator looks at; everything
/// else is skipped by the JSON parser without being stored.
#[derive(Deserialize)]
struct Incoming<'a> {
    #[serde(rename = "type", borrow)]
    kind: std::borrow::Cow<'a, str>,
    #[serde(borrow, default)]
    text: Option<std::borrow::Cow<'a, str>>,
    /// A message's id.
    #[serde(default)]
    id: Option<u64>,
    /// An ack's message id, and the client id saying what it acks.
    #[serde(default)]
    message_id: Option<u64>,
    #[serde(borrow, default)]
    client_id: Option<std::borrow::Cow<'a, str>>,
}

/// What one record from the server was, to the generator.
enum Got {
    /// A message: its payload and id.
    Delivery(Option<(usize, usize, u64)>, Option<u64>),
    /// An ack: of a message (with its id) or of a change.
    Ack(Option<u64>),
    /// A change or typing indicator from someone else.
    Event,
    /// A refused request.
    Refused,
    Other,
}

fn classify(plaintext: &[u8]) -> Got {
    match serde_json::from_slice::<Incoming<'_>>(plaintext) {
        Ok(m) if m.kind == "message" => {
            Got::Delivery(m.text.as_deref().and_then(payload::decode), m.id)
        }
        Ok(m) if m.kind == "ack" => {
            let message = m.client_id.as_deref().is_some_and(|c| c.starts_with('m'));
            Got::Ack(m.message_id.filter(|_| message))
        }
        Ok(m) if m.kind == "change" || m.kind == "typing" => Got::Event,
        Ok(m) if m.kind == "error" => Got::Refused,
        _ => Got::Other,
    }
}

/// Runs every phase against `addr`; `tag` keeps account names unique.
pub async fn run(addr: &str, plan: &Plan, tag: &str) -> Result<Outcome> {
    run_with(addr, plan, tag, async {}).await
}

/// Like [`run`], awaiting `before_messages` once every client has joined
/// and before the first message (fault tests start their attack there, so
/// that it does not get in the way of provisioning).
pub async fn run_with(
    addr: &str,
    plan: &Plan,
    tag: &str,
    before_messages: impl std::future::Future<Output = ()>,
) -> Result<Outcome> {
    let mut out = Outcome::default();
    let password = Password::new(PASSWORD)?;

    let t = Instant::now();
    let offline_from = plan.clients + plan.storm;
    let rooms = plan.rooms.max(1);
    bounded(offline_from + plan.offline, plan.concurrency, |i| {
        let (addr, password, tag) = (addr.to_owned(), password.clone(), tag.to_owned());
        async move {
            let mut raw = auth(
                addr,
                Auth::Register {
                    username: name(&tag, i),
                    password,
                },
            )
            .await
            .with_context(|| format!("registering client {i}"))?;
            if i >= offline_from {
                // An offline member: joins, then disconnects for good.
                let id = raw
                    .send(Request::Join {
                        room: room_of(&tag, i, rooms),
                    })
                    .await?;
                match raw.reply_to(id).await? {
                    Some(ServerMessage::Joined { .. }) => {}
                    other => bail!("offline member {i} could not join: {other:?}"),
                }
            }
            drop(raw);
            Ok(())
        }
    })
    .await?;
    out.register_s = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let sessions = bounded(plan.clients, plan.concurrency, |i| {
        let (addr, password, tag) = (addr.to_owned(), password.clone(), tag.to_owned());
        async move {
            auth(
                addr,
                Auth::Login {
                    username: name(&tag, i),
                    password,
                },
            )
            .await
            .with_context(|| format!("logging in client {i}"))
        }
    })
    .await?;
    out.connect_s = t.elapsed().as_secs_f64();
    if plan.messages == 0 {
        // Idle mode: everyone connected and logged in, nothing else.
        out.sessions_held = sessions.len();
        tokio::time::sleep(plan.drain).await;
        out.server_rss_idle_mib = plan
            .server_pid
            .and_then(|p| crate::server::rss_mib(p, "VmRSS:"));
        return Ok(out);
    }

    let t = Instant::now();
    let mut set = JoinSet::new();
    for (i, mut raw) in sessions.into_iter().enumerate() {
        let room = room_of(tag, i, plan.rooms);
        set.spawn(async move {
            let id = raw.send(Request::Join { room }).await?;
            match raw.reply_to(id).await? {
                Some(ServerMessage::Joined { .. }) => {}
                Some(ServerMessage::Error { message, .. }) => {
                    bail!("client {i} could not join: {message}")
                }
                _ => bail!("client {i} disconnected while joining"),
            }
            Ok::<_, anyhow::Error>((i, raw))
        });
    }
    let mut joined: Vec<Option<Raw>> = (0..plan.clients).map(|_| None).collect();
    while let Some(r) = set.join_next().await {
        let (i, raw) = r??;
        joined[i] = Some(raw);
    }
    out.join_s = t.elapsed().as_secs_f64();
    before_messages.await;

    let storm = (plan.storm > 0).then(|| {
        let (addr, password, tag) = (addr.to_owned(), password.clone(), tag.to_owned());
        let (first, n, concurrency) = (plan.clients, plan.storm, plan.concurrency);
        tokio::spawn(async move {
            // Starts with the message phase (after its 50 ms lead-in).
            tokio::time::sleep(Duration::from_millis(100)).await;
            let t = Instant::now();
            bounded(n, concurrency, |i| {
                let (addr, password) = (addr.clone(), password.clone());
                let username = name(&tag, first + i);
                async move {
                    auth(addr, Auth::Login { username, password })
                        .await
                        .map(drop)
                }
            })
            .await
            .map(|_| t.elapsed().as_secs_f64())
        })
    });
    let share = if plan.file_bytes > 0 {
        let sharer = crate::share::Sharer::join(
            addr,
            name(tag, offline_from + plan.offline),
            password.clone(),
            room_of(tag, 0, rooms),
        )
        .await?;
        let downloaders: Vec<Auth> = (0..plan.clients)
            .step_by(rooms)
            .take(plan.file_downloads)
            .map(|i| Auth::Login {
                username: name(tag, i),
                password: password.clone(),
            })
            .collect();
        let (addr, bytes) = (addr.to_owned(), plan.file_bytes);
        Some(tokio::spawn(async move {
            // Starts with the message phase (after its 50 ms lead-in).
            tokio::time::sleep(Duration::from_millis(100)).await;
            sharer.share(&addr, bytes, downloaders).await
        }))
    } else {
        None
    };
    messages(plan, tag, joined.into_iter().flatten().collect(), &mut out).await?;
    if let Some(storm) = storm {
        out.storm_s = storm.await??;
    }
    if let Some(share) = share {
        out.shared = Some(share.await??);
    }
    Ok(out)
}

/// What the mixed workload counts across clients.
#[derive(Default)]
struct MixCounters {
    changes: AtomicU64,
    typing: AtomicU64,
    refused: AtomicU64,
    events: AtomicU64,
}

struct Received {
    count: u64,
    duplicates: u64,
    last: Option<Instant>,
    hist: Histogram<u64>,
}

async fn messages(plan: &Plan, tag: &str, clients: Vec<Raw>, out: &mut Outcome) -> Result<()> {
    let n = clients.len();
    let mut members = vec![0usize; plan.rooms];
    for i in 0..n {
        members[i % plan.rooms] += 1;
    }
    let per_messages = crate::mix::messages_of(plan.mix, plan.messages);
    out.deliveries_expected = (0..n)
        .map(|i| ((members[i % plan.rooms] - 1) * per_messages) as u64)
        .sum();
    let counters = Arc::new(MixCounters::default());

    let epoch = Instant::now();
    let (stop_tx, stop_rx) = watch::channel(false);
    let sent = Arc::new(AtomicU64::new(0));
    let mut receivers = JoinSet::new();
    let mut senders = JoinSet::new();
    let start = tokio::time::Instant::now() + Duration::from_millis(50);
    for (i, raw) in clients.into_iter().enumerate() {
        let (mut reader, mut writer) = raw.split();
        let expected = ((members[i % plan.rooms] - 1) * per_messages) as u64;
        // The newest message seen in the room, and this client's own
        // newest: what its reactions and edits aim at.
        let (seen_id, own_id) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let (seen_w, own_w) = (seen_id.clone(), own_id.clone());
        let recv_counters = counters.clone();
        let window = Arc::new(Semaphore::new(plan.window));
        let acks = window.clone();
        let mut stop = stop_rx.clone();
        let (senders_n, per) = (n, plan.messages);
        receivers.spawn(async move {
            let mut r = Received {
                count: 0,
                duplicates: 0,
                last: None,
                hist: Histogram::new_with_bounds(1, 60_000_000, 3)
                    .unwrap_or_else(|_| unreachable!()),
            };
            let mut seen = Seen::new(senders_n, per);
            let mut acked = 0usize;
            while r.count < expected || acked < per {
                let mut on_message = |m: &[u8]| match classify(m) {
                    Got::Delivery(payload, id) => {
                        if let Some(id) = id {
                            seen_w.fetch_max(id, Ordering::Relaxed);
                        }
                        let Some((from, seq, sent)) = payload else {
                            return;
                        };
                        if seen.mark(from, seq) {
                            let now = epoch.elapsed().as_nanos() as u64;
                            r.count += 1;
                            r.last = Some(Instant::now());
                            let _ = r.hist.record((now.saturating_sub(sent) / 1000).max(1));
                        } else {
                            r.duplicates += 1;
                        }
                    }
                    Got::Ack(message) => {
                        if let Some(id) = message {
                            own_w.fetch_max(id, Ordering::Relaxed);
                        }
                        acked += 1;
                        acks.add_permits(1);
                    }
                    Got::Refused => {
                        recv_counters.refused.fetch_add(1, Ordering::Relaxed);
                        acked += 1;
                        acks.add_permits(1);
                    }
                    Got::Event => {
                        recv_counters.events.fetch_add(1, Ordering::Relaxed);
                    }
                    Got::Other => {}
                };
                let open = tokio::select! {
                    open = reader.each_in_next(&mut on_message) => open,
                    _ = stop.changed() => break,
                };
                if !matches!(open, Ok(true)) {
                    break;
                }
            }
            (r, reader)
        });
        let (rate, size, mix) = (plan.rate, plan.size, plan.mix);
        let room = Target::Room(room_of(tag, i, plan.rooms));
        let (sent, counters) = (sent.clone(), counters.clone());
        senders.spawn(async move {
            tokio::time::sleep_until(start).await;
            let mut typed: Option<tokio::time::Instant> = None;
            let mut reactions = crate::mix::Reactions::default();
            for seq in 0..per {
                if let Some(rate) = rate {
                    let k = (seq * senders_n + i) as f64;
                    tokio::time::sleep_until(start + Duration::from_secs_f64(k / rate)).await;
                }
                window.acquire().await?.forget();
                let change = match crate::mix::op(mix, seq) {
                    crate::mix::Op::React => {
                        reactions.next(seq, &room, seen_id.load(Ordering::Relaxed))
                    }
                    crate::mix::Op::Edit => {
                        crate::mix::edit(seq, &room, own_id.load(Ordering::Relaxed))
                    }
                    crate::mix::Op::Message => None,
                };
                if let Some(r) = change {
                    writer.send(r).await?;
                    counters.changes.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                let repeat = Duration::from_millis(cove_common::limits::TYPING_REPEAT_MS);
                if mix && typed.is_none_or(|t| t.elapsed() >= repeat) {
                    typed = Some(tokio::time::Instant::now());
                    writer.send(Request::Typing { with: room.clone() }).await?;
                    counters.typing.fetch_add(1, Ordering::Relaxed);
                }
                let text = payload::encode(i, seq, epoch.elapsed().as_nanos() as u64, size);
                writer
                    .send(Request::Send {
                        client_id: ClientMsgId::new(format!("m{seq}"))?,
                        to: room.clone(),
                        text: Some(MessageText::new(text)?),
                        reply_to: None,
                        file: None,
                    })
                    .await?;
                sent.fetch_add(1, Ordering::Relaxed);
            }
            Ok::<_, anyhow::Error>(writer)
        });
    }
    let first_send = Instant::now() + Duration::from_millis(50);
    let cpu_before = plan.server_pid.and_then(crate::report::cpu_seconds_of);
    let mut sessions = Vec::new();
    while let Some(r) = senders.join_next().await {
        sessions.push(r??);
    }
    // Give deliveries a bounded time to arrive, then stop counting.
    let stopper = tokio::spawn({
        let drain = plan.drain;
        async move {
            tokio::time::sleep(drain).await;
            let _ = stop_tx.send(true);
        }
    });
    let mut hist: Histogram<u64> =
        Histogram::new_with_bounds(1, 60_000_000, 3).unwrap_or_else(|_| unreachable!());
    let mut last = first_send;
    while let Some(r) = receivers.join_next().await {
        let (r, _reader) = r?;
        out.deliveries_received += r.count;
        out.duplicates += r.duplicates;
        hist.add(&r.hist)
            .map_err(|e| anyhow!("merging histograms: {e}"))?;
        if let Some(l) = r.last {
            last = last.max(l);
        }
    }
    let cpu_after = plan.server_pid.and_then(crate::report::cpu_seconds_of);
    out.server_cpu_s = cpu_before.zip(cpu_after).map(|(b, a)| a - b);
    stopper.abort();
    drop(sessions);
    out.messages_sent = sent.load(Ordering::Relaxed);
    out.changes_sent = counters.changes.load(Ordering::Relaxed);
    out.typing_sent = counters.typing.load(Ordering::Relaxed);
    out.refused = counters.refused.load(Ordering::Relaxed);
    out.events_received = counters.events.load(Ordering::Relaxed);
    out.message_s = last.saturating_duration_since(first_send).as_secs_f64();
    out.latency_us = Some(hist);
    Ok(())
}
