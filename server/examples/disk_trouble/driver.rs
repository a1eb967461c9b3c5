//! The disk-trouble driver: the registered clients, what they sent and what
//! became of it, and the phases (normal traffic, trouble made by the hook,
//! recovery, the disk filling during traffic).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use cove_common::client::ClientError;
use cove_common::proto::Target;
use cove_common::{ErrorCode, Request, RoomName, ServerMessage};

use crate::attempt::{Attempt, Tally, send_with};
use crate::check::Expected;
use crate::client::{Client, LiveDeliveries, Reply, general};

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

pub(crate) struct TroubleDriver {
    pub(crate) addr: String,
    pub(crate) hook: String,
    pub(crate) clients: Vec<Client>,
    pub(crate) names: Vec<String>,
    /// Acknowledged messages.
    pub(crate) acked: Vec<Attempt>,
    /// Messages that got an error, to be re-sent later.
    pub(crate) failed: Vec<Attempt>,
    pub(crate) live: Arc<LiveDeliveries>,
    pub(crate) timeout: Duration,
    pub(crate) per_user: usize,
    pub(crate) accounts: Vec<String>,
}

impl TroubleDriver {
    pub(crate) fn hook(&self, step: &str) -> Result<()> {
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
    pub(crate) async fn fill_during_traffic(&mut self, per_client: usize) -> Result<Tally> {
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
    pub(crate) async fn chatter(&mut self, phase: &str) -> Tally {
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
    pub(crate) async fn shown_although_failed(&self) -> usize {
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
    pub(crate) async fn resend_failed(&mut self) -> Tally {
        let mut tally = Tally::default();
        for a in std::mem::take(&mut self.failed) {
            self.send(a, &mut tally).await;
        }
        tally
    }

    /// A phase of disk trouble (`hook` makes it): traffic, which must be
    /// refused with storage errors and never hang, and the other requests,
    /// which must still be answered (registration refused).
    pub(crate) async fn in_trouble(
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
    pub(crate) async fn recover(
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

    /// Other requests during trouble: ping, members, a history page, a
    /// fresh login, a registration. Returns a line saying how they were
    /// answered (ping/members/history answered, errors, hangs; the login;
    /// the registration) and whether the registration succeeded.
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
                cursor: None,
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

    pub(crate) fn expected(&self) -> Expected {
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
