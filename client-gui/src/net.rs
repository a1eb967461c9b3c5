//! The network side of the app: a background tokio runtime running the
//! headless client session (and, when hosting, the server from the `host`
//! module, in builds with the `host` feature). The UI talks to it
//! only through [`NetCommand`]s and [`NetEvent`]s and never blocks.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use cove_common::client::{self, Auth, ClientError, Event, Events, Session};
use cove_common::{ErrorCode, KdfParams, Password, Request, ServerMessage, Username};
use tokio::sync::mpsc;

use crate::state::RequestId;

mod api;
mod emitter;
mod said;
mod transfers;
use crate::trust::{KnownServers, Verdict};
pub use api::{AuthMode, NetCommand, NetEvent};
use emitter::Emitter;
use said::{FINAL_BYES, describe, describe_pins, signed_out_sentence};
pub use transfers::{IN_FLIGHT, TransferEvent};

/// The UI's handle on the network.
pub struct Net {
    runtime: tokio::runtime::Runtime,
    commands: mpsc::UnboundedSender<NetCommand>,
    events: std::sync::mpsc::Receiver<NetEvent>,
    ctx: Arc<OnceLock<egui::Context>>,
}

impl std::fmt::Debug for Net {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Net")
    }
}

impl Net {
    /// Starts the background runtime; pins are kept in `config_dir`.
    pub fn start(config_dir: PathBuf) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("cove-net")
            .enable_all()
            .build()?;
        let (commands, rx) = mpsc::unbounded_channel();
        let (tx, events) = std::sync::mpsc::channel();
        let ctx = Arc::new(OnceLock::new());
        let emitter = Emitter {
            tx,
            ctx: ctx.clone(),
        };
        runtime.spawn(Driver::new(emitter, config_dir).run(rx));
        Ok(Self {
            runtime,
            commands,
            events,
            ctx,
        })
    }

    /// Lets the network wake the UI when events arrive.
    pub fn set_context(&self, ctx: &egui::Context) {
        let _ = self.ctx.set(ctx.clone());
    }

    /// Queues a command (never blocks).
    pub fn send(&self, cmd: NetCommand) {
        let _ = self.commands.send(cmd);
    }

    /// Takes the events that arrived since the last call.
    pub fn poll(&self) -> Vec<NetEvent> {
        self.events.try_iter().collect()
    }

    /// Stops the runtime, giving a logout and a hosted server a moment to
    /// finish.
    pub fn shutdown(self) {
        self.runtime.shutdown_timeout(Duration::from_secs(2));
    }
}

/// The login remembered in memory to log in again after a reconnect.
struct SavedLogin {
    addr: String,
    username: Username,
    password: Password,
}

struct Driver {
    out: Emitter,
    /// Where the pins are kept; read again at every login.
    config_dir: PathBuf,
    session: Option<Session>,
    events: Option<Events>,
    /// The app's id for every request sent on this connection and not yet
    /// answered, by the id the session put on the wire.
    in_flight: HashMap<u64, RequestId>,
    saved_login: Option<SavedLogin>,
    /// New passwords asked for (`change_password`) and not yet confirmed,
    /// by wire id: the saved login takes one when the server confirms it,
    /// so a reconnect logs in with the password that works.
    new_passwords: HashMap<u64, Password>,
    /// A `bye` after which the session must not be resumed.
    final_bye: Option<String>,
    #[cfg(feature = "host")]
    hosted: Option<crate::host::Hosted>,
    leaving: bool,
    transfers: transfers::Transfers,
}

/// Why a login did not happen.
enum LoginFailure {
    /// The user declined to trust the server (already reported).
    Declined,
    /// It may work later (network, server down, rate limits).
    Failed(String),
    /// The server refused the name and password: trying again with them
    /// cannot work.
    Refused(String),
    /// The server's operator banned the account (the password was right):
    /// trying again cannot work until they lift the ban. The server's
    /// sentence says so.
    Banned(String),
}

impl Driver {
    fn new(out: Emitter, config_dir: PathBuf) -> Self {
        Self {
            out,
            config_dir,
            session: None,
            events: None,
            in_flight: HashMap::new(),
            saved_login: None,
            new_passwords: HashMap::new(),
            final_bye: None,
            #[cfg(feature = "host")]
            hosted: None,
            leaving: false,
            transfers: transfers::Transfers::new(),
        }
    }

    async fn run(mut self, mut commands: mpsc::UnboundedReceiver<NetCommand>) {
        loop {
            tokio::select! {
                cmd = commands.recv() => match cmd {
                    None => break,
                    Some(cmd) => self.on_command(cmd, &mut commands).await,
                },
                Some(ev) = next_event(&mut self.events) => {
                    let ev = self.transfers.intercept(ev, self.session.as_ref(), &self.out).await;
                    if let Some(ev) = ev
                        && let Some(reason) = self.on_event(ev)
                    {
                        self.reconnect(reason, &mut commands).await;
                    }
                }
                Some(done) = self.transfers.next_done() => {
                    self.transfers.on_done(self.session.as_ref(), done, &self.out).await;
                }
            }
        }
        #[cfg(feature = "host")]
        if let Some(h) = self.hosted.take() {
            h.shutdown().await;
        }
    }

    async fn on_command(
        &mut self,
        cmd: NetCommand,
        commands: &mut mpsc::UnboundedReceiver<NetCommand>,
    ) {
        match cmd {
            NetCommand::Connect {
                addr,
                mode,
                username,
                password,
            } => {
                let login = SavedLogin {
                    addr,
                    username,
                    password,
                };
                match self.login(&login, mode, commands, true).await {
                    Ok(()) => self.saved_login = Some(login),
                    Err(
                        LoginFailure::Failed(msg)
                        | LoginFailure::Refused(msg)
                        | LoginFailure::Banned(msg),
                    ) => {
                        self.out.emit(NetEvent::Failed(msg));
                    }
                    Err(LoginFailure::Declined) => {}
                }
            }
            NetCommand::Trust(_) => {}
            NetCommand::Host {
                listen,
                data_dir,
                kdf,
            } => self.host(listen, data_dir, kdf).await,
            NetCommand::Request { id, request } => {
                // `typing` is answered only when refused: awaiting an
                // answer would keep one entry per indicator sent.
                let awaits_answer = !matches!(request, Request::Typing { .. });
                let new_password = match &request {
                    Request::ChangePassword { new, .. } => Some(new.clone()),
                    _ => None,
                };
                let sent = match &self.session {
                    Some(s) => s.send(request).await.ok(),
                    None => None,
                };
                match sent {
                    Some(wire) if awaits_answer => {
                        self.in_flight.insert(wire, id);
                        if let Some(p) = new_password {
                            self.new_passwords.insert(wire, p);
                        }
                    }
                    Some(_) => {}
                    None if awaits_answer => self.out.emit(NetEvent::Unanswered(vec![id])),
                    None => {}
                }
            }
            NetCommand::Transfer(job) => self.transfers.start(job, self.session.as_ref()).await,
            NetCommand::Logout => {
                self.leaving = true;
                match &self.session {
                    Some(s) => {
                        let _ = s.logout().await;
                    }
                    None => self.out.emit(NetEvent::Closed { reason: None }),
                }
            }
        }
    }

    #[cfg(feature = "host")]
    async fn host(&mut self, listen: String, data_dir: PathBuf, kdf: KdfParams) {
        if let Some(h) = &self.hosted {
            let addr = h.addr().to_string();
            let fingerprint = h.key().fingerprint();
            self.out.emit(NetEvent::Hosting { addr, fingerprint });
            return;
        }
        match crate::host::Hosted::start(listen, data_dir, kdf).await {
            Ok(hosted) => {
                let bound = hosted.addr();
                let key = hosted.key();
                // We trust the server we run ourselves. Pins that cannot be
                // read are not overwritten (they may be the only record of
                // other servers' keys): the login then says why it stops.
                let local = format!("127.0.0.1:{}", bound.port());
                match KnownServers::load(&self.config_dir) {
                    Ok(mut known) => {
                        if let Err(e) = known.pin(&local, &key) {
                            tracing::warn!("could not pin our own server: {e}");
                        }
                    }
                    Err(e) => tracing::warn!("not pinning our own server: {e}"),
                }
                self.hosted = Some(hosted);
                self.out.emit(NetEvent::Hosting {
                    addr: bound.to_string(),
                    fingerprint: key.fingerprint(),
                });
            }
            Err(e) => self.out.emit(NetEvent::HostFailed(e)),
        }
    }

    /// Without the `host` feature there is no server to start (and the start
    /// screen does not offer it).
    #[cfg(not(feature = "host"))]
    async fn host(&mut self, _listen: String, _data_dir: PathBuf, _kdf: KdfParams) {
        self.out.emit(NetEvent::HostFailed(
            "this build of Cove was made without hosting".into(),
        ));
    }

    /// Connects and authenticates.
    async fn login(
        &mut self,
        login: &SavedLogin,
        mode: AuthMode,
        commands: &mut mpsc::UnboundedReceiver<NetCommand>,
        may_ask: bool,
    ) -> Result<(), LoginFailure> {
        // Fail closed: without readable pins, no connection at all (an
        // empty list would greet an impostor with a first-contact prompt).
        let mut known = KnownServers::load(&self.config_dir)
            .map_err(|e| LoginFailure::Failed(describe_pins(&e)))?;
        let pending = client::connect(&login.addr)
            .await
            .map_err(|e| LoginFailure::Failed(describe(&e)))?;
        let key = pending.server_key();
        match known.check(&login.addr, &key) {
            Verdict::Trusted => {}
            Verdict::Changed { pinned } => {
                self.out.emit(NetEvent::KeyChanged {
                    addr: login.addr.clone(),
                    pinned: pinned.fingerprint(),
                    presented: key.fingerprint(),
                });
                return Err(LoginFailure::Declined);
            }
            Verdict::Unknown if !may_ask => {
                return Err(LoginFailure::Failed("The server is not trusted.".into()));
            }
            Verdict::Unknown => {
                self.out.emit(NetEvent::TrustPrompt {
                    addr: login.addr.clone(),
                    fingerprint: key.fingerprint(),
                });
                let trusted = loop {
                    match commands.recv().await {
                        Some(NetCommand::Trust(t)) => break t,
                        Some(NetCommand::Logout) | None => break false,
                        Some(other) => self.not_now(other),
                    }
                };
                if !trusted {
                    return Err(LoginFailure::Failed(
                        "You did not trust the server; nothing was sent.".into(),
                    ));
                }
                if let Err(e) = known.pin(&login.addr, &key) {
                    // This session is safe (the user checked the key); the
                    // next one will simply ask again.
                    tracing::warn!("could not save the pin for {}: {e}", login.addr);
                }
            }
        }
        let auth = match mode {
            AuthMode::Login => Auth::Login {
                username: login.username.clone(),
                password: login.password.clone(),
            },
            AuthMode::Register => Auth::Register {
                username: login.username.clone(),
                password: login.password.clone(),
            },
        };
        let (session, events, welcome) = pending.authenticate(auth).await.map_err(|e| match e {
            ClientError::Rejected {
                code: ErrorCode::AuthFailed,
                ..
            } => LoginFailure::Refused(describe(&e)),
            ClientError::Rejected {
                code: ErrorCode::Banned,
                ..
            } => LoginFailure::Banned(describe(&e)),
            _ => LoginFailure::Failed(describe(&e)),
        })?;
        self.lose_in_flight();
        self.final_bye = None;
        self.session = Some(session);
        self.events = Some(events);
        self.leaving = false;
        self.out.emit(NetEvent::LoggedIn(welcome));
        if let Some(s) = self.session.clone() {
            self.transfers.resume(&s).await;
        }
        Ok(())
    }

    /// Forwards an event; returns a reason when the connection was lost
    /// unexpectedly (and should be retried).
    fn on_event(&mut self, ev: Option<Event>) -> Option<String> {
        match ev {
            Some(Event::Message(msg)) => {
                if let Some(wire) = msg.answers()
                    && let Some(new) = self.new_passwords.remove(&wire)
                    && matches!(msg, ServerMessage::PasswordChanged { .. })
                    && let Some(login) = &mut self.saved_login
                {
                    login.password = new;
                }
                if let ServerMessage::Bye { reason } = &msg
                    && FINAL_BYES.contains(&reason.as_str())
                {
                    self.final_bye = Some(reason.clone());
                }
                match msg.answers().and_then(|wire| self.in_flight.remove(&wire)) {
                    Some(to) => self.out.emit(NetEvent::Reply { to, msg }),
                    None => self.out.emit(NetEvent::Server(msg)),
                }
                None
            }
            Some(Event::Closed(err)) => self.closed(err.map(|e| describe(&e))),
            None => self.closed(None),
        }
    }

    fn closed(&mut self, reason: Option<String>) -> Option<String> {
        self.session = None;
        self.events = None;
        self.lose_in_flight();
        self.transfers.lost_connection();
        self.new_passwords.clear();
        if let Some(bye) = self.final_bye.take() {
            // Logging in again would fail (or bring back a session the
            // user ended elsewhere): the password is forgotten at once.
            self.saved_login = None;
            self.transfers.abandon();
            self.out
                .emit(NetEvent::SignedOut(signed_out_sentence(&bye)));
            return None;
        }
        if self.leaving || self.saved_login.is_none() {
            // Logged out: the password is not kept for a reconnect.
            self.saved_login = None;
            self.transfers.abandon();
            self.out.emit(NetEvent::Closed { reason: None });
            return None;
        }
        Some(reason.unwrap_or_else(|| "The server closed the connection.".into()))
    }

    /// Whatever was on its way on the old connection will not be answered:
    /// the app decides what to send again (a new connection numbers its
    /// requests anew).
    fn lose_in_flight(&mut self) {
        let mut lost: Vec<RequestId> = self.in_flight.drain().map(|(_, id)| id).collect();
        if !lost.is_empty() {
            lost.sort();
            self.out.emit(NetEvent::Unanswered(lost));
        }
    }

    /// A command that arrived while connecting or waiting to reconnect:
    /// a request is reported unanswered (the app keeps what must be sent
    /// again); anything else means nothing then.
    fn not_now(&mut self, cmd: NetCommand) {
        match cmd {
            NetCommand::Request { id, .. } => self.out.emit(NetEvent::Unanswered(vec![id])),
            // Starts with the next connection.
            NetCommand::Transfer(job) => self.transfers.add(job),
            _ => {}
        }
    }

    async fn reconnect(
        &mut self,
        mut reason: String,
        commands: &mut mpsc::UnboundedReceiver<NetCommand>,
    ) {
        let Some(login) = self.saved_login.take() else {
            return;
        };
        let mut delay = 1u64;
        loop {
            self.out.emit(NetEvent::Reconnecting {
                reason: reason.clone(),
                retry_in: delay,
            });
            let sleep = tokio::time::sleep(Duration::from_secs(delay));
            tokio::pin!(sleep);
            loop {
                tokio::select! {
                    _ = &mut sleep => break,
                    cmd = commands.recv() => match cmd {
                        Some(NetCommand::Logout) | None => {
                            self.transfers.abandon();
                            self.out.emit(NetEvent::Closed { reason: None });
                            return;
                        }
                        Some(other) => self.not_now(other),
                    },
                }
            }
            match self.login(&login, AuthMode::Login, commands, false).await {
                Ok(()) => {
                    self.saved_login = Some(login);
                    return;
                }
                Err(LoginFailure::Declined) => return,
                // The password was changed elsewhere (or the account
                // deleted): retrying would only count as failed logins.
                Err(LoginFailure::Refused(_)) => {
                    self.transfers.abandon();
                    self.out.emit(NetEvent::SignedOut(
                        "Signed out: the password is no longer right (was it changed on another device?). Sign in again.".into(),
                    ));
                    return;
                }
                // Banned by the operator while away: no retry can work.
                Err(LoginFailure::Banned(why)) => {
                    self.transfers.abandon();
                    self.out.emit(NetEvent::SignedOut(why));
                    return;
                }
                Err(LoginFailure::Failed(why)) => reason = why,
            }
            delay = (delay * 2).min(30);
        }
    }
}

async fn next_event(events: &mut Option<Events>) -> Option<Option<Event>> {
    match events {
        Some(rx) => Some(rx.recv().await),
        None => std::future::pending().await,
    }
}
