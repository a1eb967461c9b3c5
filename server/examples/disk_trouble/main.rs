//! The client side of `scripts/disk-trouble.sh`: real clients against a
//! running `cove-server` whose data directory is a small tmpfs.
//!
//! `run` registers users, then goes through the phases: normal, disk full,
//! space back, read-only, writable again. Between phases it runs the hook
//! command given with `--hook` (`<hook> fill`, `unfill`, `ro`, `rw`), which
//! changes the disk. Every request gets a reply within `--timeout` or counts
//! as a hang. At the end it checks, through the same server, that every
//! acknowledged message is in every recipient's history exactly once, and
//! writes what it expects to `--state`.
//!
//! `verify` (after the script restarted the server) logs every account in
//! and checks the histories against `--state` again.
#![allow(missing_docs)]

use std::collections::{BTreeMap, HashMap};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Parser;
use cove_common::client::{self, Auth, ClientError, Event, Events, Session};
use cove_common::proto::Target;
use cove_common::{
    ClientMsgId, ErrorCode, MessageText, Password, Request, RoomName, ServerMessage, Username,
};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

const PASSWORD: &str = "disk trouble password";

#[derive(Debug, Parser)]
struct Args {
    /// `run` or `verify`.
    mode: String,
    /// The server's address.
    #[arg(long)]
    addr: String,
    /// Command run between phases with one argument: fill, unfill, ro, rw.
    #[arg(long, default_value = "true")]
    hook: String,
    /// Where the expected histories are written (run) or read (verify).
    #[arg(long)]
    state: std::path::PathBuf,
    /// Users taking part.
    #[arg(long, default_value_t = 6)]
    users: usize,
    /// Messages each user sends to #general in each phase (plus one direct
    /// message).
    #[arg(long, default_value_t = 10)]
    per_user: usize,
    /// Messages each user sends, all users at once, while the disk fills.
    #[arg(long, default_value_t = 100)]
    filling: usize,
    /// A request not answered within this many seconds is a hang.
    #[arg(long, default_value_t = 15)]
    timeout: u64,
}

/// What the server answered.
#[derive(Debug)]
enum Reply {
    Answer(ServerMessage),
    /// No answer in time.
    Hang,
    /// The connection closed.
    Closed,
}

struct Client {
    name: Username,
    session: Session,
    replies: mpsc::UnboundedReceiver<ServerMessage>,
    timeout: Duration,
}

fn reply_id(m: &ServerMessage) -> Option<u64> {
    match m {
        ServerMessage::Welcome { id, .. }
        | ServerMessage::Ack { id, .. }
        | ServerMessage::Joined { id, .. }
        | ServerMessage::Left { id, .. }
        | ServerMessage::Rooms { id, .. }
        | ServerMessage::Members { id, .. }
        | ServerMessage::History { id, .. }
        | ServerMessage::Pong { id } => Some(*id),
        ServerMessage::Error { id, .. } => *id,
        _ => None,
    }
}

/// Live messages received by all clients: how many, and their texts.
#[derive(Debug, Default)]
struct Live {
    count: AtomicU64,
    texts: std::sync::Mutex<Vec<String>>,
}

/// Drains a session's events: live messages are noted, replies queued.
fn drain(mut events: Events, live: Arc<Live>) -> mpsc::UnboundedReceiver<ServerMessage> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(ev) = events.recv().await {
            match ev {
                Event::Message(ServerMessage::Message(m)) => {
                    live.count.fetch_add(1, Ordering::Relaxed);
                    if let Ok(mut t) = live.texts.lock() {
                        t.push(m.text.as_str().to_owned());
                    }
                }
                Event::Message(ServerMessage::Notice(_)) => {}
                Event::Message(m) => {
                    let _ = tx.send(m);
                }
                Event::Closed(_) => break,
            }
        }
    });
    rx
}

impl Client {
    async fn connect(
        addr: &str,
        name: &str,
        register: bool,
        live: Arc<Live>,
        timeout: Duration,
    ) -> Result<Client, ClientError> {
        let username = Username::new(name).map_err(|_| ClientError::Closed)?;
        let password = Password::new(PASSWORD).map_err(|_| ClientError::Closed)?;
        let auth = if register {
            Auth::Register {
                username: username.clone(),
                password,
            }
        } else {
            Auth::Login {
                username: username.clone(),
                password,
            }
        };
        let (session, events, _welcome) = client::connect(addr).await?.authenticate(auth).await?;
        Ok(Client {
            name: username,
            session,
            replies: drain(events, live),
            timeout,
        })
    }

    async fn call(&mut self, request: Request) -> Reply {
        let Ok(id) = self.session.send(request).await else {
            return Reply::Closed;
        };
        let deadline = tokio::time::Instant::now() + self.timeout;
        loop {
            match tokio::time::timeout_at(deadline, self.replies.recv()).await {
                Err(_) => return Reply::Hang,
                Ok(None) => return Reply::Closed,
                Ok(Some(m)) if reply_id(&m) == Some(id) => return Reply::Answer(m),
                Ok(Some(_)) => {}
            }
        }
    }
}

fn run_hook(hook: &str, step: &str) -> Result<()> {
    println!("== hook: {step}");
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{hook} {step}"))
        .status()
        .context("running the hook")?;
    if !status.success() {
        bail!("hook {step} failed: {status}");
    }
    Ok(())
}

/// Sends one attempt and waits for its reply.
async fn send_with(c: &mut Client, a: &Attempt) -> (Reply, Duration) {
    let (Ok(text), Ok(cid)) = (
        MessageText::new(a.text.clone()),
        ClientMsgId::new(a.client_id.clone()),
    ) else {
        return (
            Reply::Answer(ServerMessage::error(
                None,
                ErrorCode::BadRequest,
                "bad text",
            )),
            Duration::ZERO,
        );
    };
    let started = Instant::now();
    let reply = c
        .call(Request::Send {
            client_id: cid,
            to: a.to.clone(),
            text,
        })
        .await;
    (reply, started.elapsed())
}

/// One message a user tried to send.
#[derive(Debug, Clone)]
struct Attempt {
    from: usize,
    to: Target,
    client_id: String,
    text: String,
    /// Whose histories must hold it, once acknowledged.
    recipients: Vec<String>,
}

/// The figures of one phase.
#[derive(Debug, Default)]
struct Tally {
    acked: u64,
    storage_errors: u64,
    other_errors: u64,
    hangs: u64,
    closed: u64,
    /// An example of the error text a sender saw.
    example_error: Option<String>,
    /// The longest wait for a reply.
    slowest: Duration,
}

impl Tally {
    fn line(&self) -> String {
        format!(
            "acked {}, storage errors {}, other errors {}, hangs {}, closed {}, slowest reply {} ms",
            self.acked,
            self.storage_errors,
            self.other_errors,
            self.hangs,
            self.closed,
            self.slowest.as_millis()
        )
    }
}

/// Who must find what in their history: user name -> (conversation key ->
/// texts).
#[derive(Debug, Default, Serialize, Deserialize)]
struct Expected {
    accounts: Vec<String>,
    /// user -> texts in their history (rooms and direct conversations).
    histories: BTreeMap<String, Vec<String>>,
}

struct Driver {
    addr: String,
    hook: String,
    clients: Vec<Client>,
    names: Vec<String>,
    /// Acknowledged messages.
    acked: Vec<Attempt>,
    /// Messages that got an error, to be re-sent later.
    failed: Vec<Attempt>,
    live: Arc<Live>,
    timeout: Duration,
    per_user: usize,
    accounts: Vec<String>,
}

fn general() -> Target {
    Target::Room(RoomName::general())
}

impl Driver {
    fn hook(&self, step: &str) -> Result<()> {
        run_hook(&self.hook, step)
    }

    async fn send(&mut self, a: Attempt, tally: &mut Tally) {
        let (reply, took) = send_with(&mut self.clients[a.from], &a).await;
        self.record(a, reply, took, tally);
    }

    /// Notes the outcome of one attempt.
    fn record(&mut self, mut a: Attempt, reply: Reply, took: Duration, tally: &mut Tally) {
        tally.slowest = tally.slowest.max(took);
        match reply {
            Reply::Answer(ServerMessage::Ack { .. }) => {
                tally.acked += 1;
                a.recipients = match &a.to {
                    // Every account is in #general.
                    Target::Room(_) => self.accounts.clone(),
                    Target::User(peer) => {
                        vec![self.names[a.from].clone(), peer.as_str().to_owned()]
                    }
                };
                self.acked.push(a);
            }
            Reply::Answer(ServerMessage::Error { code, message, .. }) => {
                if code == ErrorCode::Storage {
                    tally.storage_errors += 1;
                } else {
                    tally.other_errors += 1;
                }
                tally
                    .example_error
                    .get_or_insert_with(|| format!("{code:?}: {message}"));
                self.failed.push(a);
            }
            Reply::Answer(other) => {
                tally.other_errors += 1;
                tally
                    .example_error
                    .get_or_insert_with(|| format!("{other:?}"));
                self.failed.push(a);
            }
            Reply::Hang => {
                tally.hangs += 1;
                self.failed.push(a);
            }
            Reply::Closed => {
                tally.closed += 1;
                self.failed.push(a);
            }
        }
    }

    /// All users send at once, `per_client` messages each to #general, 10 ms
    /// apart, while the hook `fillslow` fills the disk bit by bit.
    async fn fill_during_traffic(&mut self, per_client: usize) -> Result<Tally> {
        let mut tasks = Vec::new();
        for (from, mut c) in std::mem::take(&mut self.clients).into_iter().enumerate() {
            let attempts: Vec<Attempt> = (0..per_client)
                .map(|i| {
                    let tag = format!("filling-room-{from}-{i}");
                    Attempt {
                        from,
                        to: general(),
                        client_id: tag.clone(),
                        text: format!("{} says {tag}", self.names[from]),
                        recipients: Vec::new(),
                    }
                })
                .collect();
            tasks.push(tokio::spawn(async move {
                let mut out = Vec::new();
                for a in attempts {
                    let (reply, took) = send_with(&mut c, &a).await;
                    out.push((a, reply, took));
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                (c, out)
            }));
        }
        let hook = self.hook.clone();
        let filler = tokio::task::spawn_blocking(move || run_hook(&hook, "fillslow"));
        let mut results = Vec::new();
        for t in tasks {
            let (c, out) = t.await?;
            self.clients.push(c);
            results.extend(out);
        }
        filler.await??;
        let mut tally = Tally::default();
        for (a, reply, took) in results {
            self.record(a, reply, took, &mut tally);
        }
        Ok(tally)
    }

    /// Each user sends `per_user` messages to #general and one direct
    /// message to the next user.
    async fn chatter(&mut self, phase: &str) -> Tally {
        let mut tally = Tally::default();
        let n = self.clients.len();
        for round in 0..=self.per_user {
            for from in 0..n {
                let (to, kind) = if round == self.per_user {
                    let peer = &self.clients[(from + 1) % n].name;
                    (Target::User(peer.clone()), "dm")
                } else {
                    (general(), "room")
                };
                let tag = format!("{phase}-{kind}-{from}-{round}");
                let a = Attempt {
                    from,
                    to,
                    client_id: tag.clone(),
                    text: format!("{} says {tag}", self.names[from]),
                    recipients: Vec::new(),
                };
                self.send(a, &mut tally).await;
            }
        }
        tally
    }

    /// How many live deliveries carried a message that has failed so far
    /// (shown to someone although its sender got an error).
    async fn shown_although_failed(&self) -> usize {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let failed: std::collections::HashSet<&str> =
            self.failed.iter().map(|a| a.text.as_str()).collect();
        let texts = self
            .live
            .texts
            .lock()
            .map(|t| t.clone())
            .unwrap_or_default();
        texts.iter().filter(|t| failed.contains(t.as_str())).count()
    }

    /// Re-sends everything that failed, under the same client ids.
    async fn resend_failed(&mut self) -> Tally {
        let mut tally = Tally::default();
        for a in std::mem::take(&mut self.failed) {
            self.send(a, &mut tally).await;
        }
        tally
    }

    /// Other requests during trouble: ping, members, a history page, a
    /// fresh login, a registration. Returns (requests answered, of which
    /// storage errors, hangs) and whether the registration succeeded.
    /// A phase of disk trouble (`hook` makes it): traffic, which must be
    /// refused with storage errors and never hang, and the other requests,
    /// which must still be answered (registration refused).
    async fn in_trouble(
        &mut self,
        hook: &str,
        label: &str,
        phase: &str,
        new_name: &str,
    ) -> Result<(Tally, bool)> {
        self.hook(hook)?;
        let t = self.chatter(phase).await;
        println!("phase {label}: {}", t.line());
        if let Some(e) = &t.example_error {
            println!("   error seen by a sender: {e}");
        }
        let shown = self.shown_although_failed().await;
        println!(
            "   live deliveries of refused messages: {shown} (to {} other users)",
            self.clients.len() - 1
        );
        let (others, registered) = self.other_requests(new_name).await;
        println!("   other requests during it: {others}");
        let ok = t.hangs == 0 && t.storage_errors > 0 && !registered;
        Ok((t, ok))
    }

    /// The phase after trouble (`hook` ends it): what was refused is sent
    /// again and new traffic follows; all of it must be acknowledged, and
    /// registration works again. Returns how many were acknowledged.
    async fn recover(
        &mut self,
        hook: &str,
        label: &str,
        phase: &str,
        new_name: &str,
    ) -> Result<(u64, bool)> {
        self.hook(hook)?;
        let resent = self.resend_failed().await;
        println!("phase {label}, re-sent failed: {}", resent.line());
        let t = self.chatter(phase).await;
        println!("phase {label}, new:            {}", t.line());
        let (others, registered) = self.other_requests(new_name).await;
        println!("   other requests after recovery: {others}");
        let clean = |t: &Tally| t.storage_errors == 0 && t.other_errors == 0 && t.hangs == 0;
        let ok = clean(&resent) && t.storage_errors == 0 && t.hangs == 0 && registered;
        Ok((resent.acked + t.acked, ok))
    }

    async fn other_requests(&mut self, new_name: &str) -> (String, bool) {
        let mut answered = 0;
        let mut hangs = 0;
        let mut bad = Vec::new();
        let c = &mut self.clients[0];
        for req in [
            Request::Ping,
            Request::Members {
                room: RoomName::general(),
            },
            Request::History {
                with: general(),
                before: None,
                limit: 50,
            },
        ] {
            match c.call(req).await {
                Reply::Answer(ServerMessage::Error { code, message, .. }) => {
                    bad.push(format!("{code:?}: {message}"));
                }
                Reply::Answer(_) => answered += 1,
                Reply::Hang => hangs += 1,
                Reply::Closed => bad.push("closed".into()),
            }
        }
        let login = match Client::connect(
            &self.addr,
            &self.names[1],
            false,
            self.live.clone(),
            self.timeout,
        )
        .await
        {
            Ok(_) => "ok".to_owned(),
            Err(e) => format!("failed ({e})"),
        };
        let (registered, reg_text) = match tokio::time::timeout(
            self.timeout,
            Client::connect(&self.addr, new_name, true, self.live.clone(), self.timeout),
        )
        .await
        {
            Ok(Ok(_)) => (true, "registered".to_owned()),
            Ok(Err(ClientError::Rejected { code, message })) => {
                (false, format!("refused {code:?}: {message}"))
            }
            Ok(Err(e)) => (false, format!("failed: {e}")),
            Err(_) => (false, "HANG".to_owned()),
        };
        if registered {
            self.accounts.push(new_name.to_owned());
        }
        (
            format!(
                "ping/members/history answered {answered}/3 (errors {bad:?}, hangs {hangs}); \
                 login of {} {login}; registering {new_name}: {reg_text}",
                self.names[1]
            ),
            registered,
        )
    }

    fn expected(&self) -> Expected {
        let mut histories: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for name in &self.accounts {
            histories.entry(name.clone()).or_default();
        }
        for a in &self.acked {
            for name in &a.recipients {
                histories
                    .entry(name.clone())
                    .or_default()
                    .push(a.text.clone());
            }
        }
        Expected {
            accounts: self.accounts.clone(),
            histories,
        }
    }
}

/// Every text in a user's #general history and direct conversations.
async fn all_history(c: &mut Client, peers: &[String]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut convs = vec![general()];
    for p in peers {
        if p != c.name.as_str() {
            convs.push(Target::User(Username::new(p.as_str())?));
        }
    }
    for with in convs {
        let mut before = None;
        loop {
            let reply = c
                .call(Request::History {
                    with: with.clone(),
                    before,
                    limit: cove_common::limits::HISTORY_PAGE_MAX,
                })
                .await;
            let Reply::Answer(ServerMessage::History { messages, more, .. }) = reply else {
                bail!("history of {} failed: {reply:?}", c.name);
            };
            before = messages.last().map(|m| m.id);
            out.extend(messages.into_iter().map(|m| m.text.as_str().to_owned()));
            if !more || before.is_none() {
                break;
            }
        }
    }
    Ok(out)
}

/// Compares histories with what is expected: (accounts logged in, missing,
/// duplicates, unexpected).
async fn check(
    addr: &str,
    expected: &Expected,
    timeout: Duration,
) -> Result<(usize, u64, u64, u64)> {
    let live = Arc::new(Live::default());
    let mut logged_in = 0;
    let (mut missing, mut dups, mut unexpected) = (0, 0, 0);
    let peers: Vec<String> = expected.accounts.clone();
    for name in &expected.accounts {
        let mut c = match Client::connect(addr, name, false, live.clone(), timeout).await {
            Ok(c) => c,
            Err(e) => {
                println!("   login of {name} FAILED: {e}");
                continue;
            }
        };
        logged_in += 1;
        let got = all_history(&mut c, &peers).await?;
        let mut counts: HashMap<&str, u64> = HashMap::new();
        for t in &got {
            *counts.entry(t.as_str()).or_default() += 1;
        }
        let want = expected.histories.get(name).cloned().unwrap_or_default();
        for t in &want {
            match counts.get(t.as_str()) {
                None => {
                    missing += 1;
                    println!("   {name}: MISSING {t}");
                }
                Some(1) => {}
                Some(n) => dups += n - 1,
            }
        }
        let wanted: std::collections::HashSet<&str> = want.iter().map(String::as_str).collect();
        unexpected += got.iter().filter(|t| !wanted.contains(t.as_str())).count() as u64;
    }
    Ok((logged_in, missing, dups, unexpected))
}

async fn run(args: &Args) -> Result<bool> {
    let timeout = Duration::from_secs(args.timeout);
    let live = Arc::new(Live::default());
    let names: Vec<String> = (0..args.users).map(|i| format!("disk{i}")).collect();
    let mut clients = Vec::new();
    for name in &names {
        clients.push(
            Client::connect(&args.addr, name, true, live.clone(), timeout)
                .await
                .with_context(|| format!("registering {name}"))?,
        );
    }
    let mut d = Driver {
        addr: args.addr.clone(),
        hook: args.hook.clone(),
        clients,
        names: names.clone(),
        acked: Vec::new(),
        failed: Vec::new(),
        live,
        timeout,
        per_user: args.per_user,
        accounts: names,
    };
    let mut ok = true;

    let t = d.chatter("before").await;
    println!("phase normal:        {}", t.line());
    let acked_before = t.acked;
    ok &= t.acked > 0 && t.hangs == 0 && t.storage_errors == 0;

    let (full, ok_full) = d
        .in_trouble("fill", "disk full", "full", "latefull")
        .await?;
    let (acked_after_full, ok_back) = d
        .recover("unfill", "space back", "after", "latefull")
        .await?;
    let (ro, ok_ro) = d
        .in_trouble("ro", "read-only", "readonly", "lateronly")
        .await?;
    let (acked_after_ro, ok_rw) = d.recover("rw", "writable again", "rw", "lateronly").await?;
    ok &= ok_full && ok_back && ok_ro && ok_rw;

    // The disk fills up while everyone is sending.
    let t = d.fill_during_traffic(args.filling).await?;
    println!("phase filling during traffic: {}", t.line());
    if let Some(e) = &t.example_error {
        println!("   error seen by a sender: {e}");
    }
    let filling = t;
    let shown_filling = d.shown_although_failed().await;
    println!(
        "   live deliveries of refused messages: {shown_filling} (to {} other users)",
        d.clients.len() - 1
    );
    d.hook("unfill")?;
    let resent = d.resend_failed().await;
    println!("phase space back, re-sent failed: {}", resent.line());
    ok &= filling.hangs == 0
        && filling.other_errors == 0
        && filling.closed == 0
        && filling.storage_errors > 0
        && resent.storage_errors == 0
        && resent.other_errors == 0
        && resent.hangs == 0;

    let expected = d.expected();
    std::fs::write(&args.state, serde_json::to_vec_pretty(&expected)?)?;
    let (logged_in, missing, dups, unexpected) = check(&args.addr, &expected, timeout).await?;
    println!("== figures (same server, no restart)");
    println!("messages acked before the disk filled: {acked_before}");
    println!(
        "while full: storage errors {}, acked anyway (fitted in already allocated space) {}, hangs {}",
        full.storage_errors, full.acked, full.hangs
    );
    println!("acked after space came back (re-sent + new): {acked_after_full}");
    println!(
        "while read-only: storage errors {}, acked {}, hangs {}",
        ro.storage_errors, ro.acked, ro.hangs
    );
    println!("acked after it became writable (re-sent + new): {acked_after_ro}");
    println!(
        "filling during traffic ({} senders at once): acked {}, storage errors {}, hangs {}; re-sent after: acked {}",
        d.clients.len(),
        filling.acked,
        filling.storage_errors,
        filling.hangs,
        resent.acked
    );
    println!(
        "acked in total: {}; live messages received by the clients: {}",
        d.acked.len(),
        d.live.count.load(Ordering::Relaxed)
    );
    println!(
        "accounts logging in: {logged_in}/{}; missing = {missing}; duplicates = {dups}; unexpected = {unexpected}",
        expected.accounts.len()
    );
    ok &= logged_in == expected.accounts.len() && missing == 0 && dups == 0 && unexpected == 0;
    Ok(ok)
}

async fn verify(args: &Args) -> Result<bool> {
    let expected: Expected = serde_json::from_slice(&std::fs::read(&args.state)?)?;
    let (logged_in, missing, dups, unexpected) =
        check(&args.addr, &expected, Duration::from_secs(args.timeout)).await?;
    println!(
        "after restart: accounts logging in: {logged_in}/{}; missing = {missing}; duplicates = {dups}; unexpected = {unexpected}",
        expected.accounts.len()
    );
    Ok(logged_in == expected.accounts.len() && missing == 0 && dups == 0 && unexpected == 0)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let result = match args.mode.as_str() {
        "run" => run(&args).await,
        "verify" => verify(&args).await,
        other => Err(anyhow::anyhow!("unknown mode {other}; use run or verify")),
    };
    match result {
        Ok(true) => {
            println!("RESULT: PASS");
            ExitCode::SUCCESS
        }
        Ok(false) => {
            println!("RESULT: FAIL");
            ExitCode::FAILURE
        }
        Err(e) => {
            println!("RESULT: ERROR {e:#}");
            ExitCode::FAILURE
        }
    }
}
