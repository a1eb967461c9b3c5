//! Requests: one logged-in (or not yet logged-in) connection's state, the
//! loop that reads its records one at a time, and the dispatch of each
//! request to its handler, one module per kind of request ([`auth`],
//! [`send`], [`rooms`], [`history`], [`search`]), the way mini-redis keeps each command
//! in `cmd/`.
//!
//! Whatever a client sends, the worst it can do is get an error reply or
//! have its own connection closed.

mod auth;
mod files;
mod history;
mod rooms;
mod search;
mod send;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

use bytes::{Bytes, BytesMut};
use cove_common::proto::{ChangeKind, ParseError, Unparsed, byes};
use cove_common::record::{MAX_RECORD_PLAINTEXT, Opener};
use cove_common::{ClientMessage, ErrorCode, Request, ServerMessage};
use futures_util::StreamExt;
use futures_util::stream::FuturesOrdered;
use tokio::sync::watch;
use tracing::{debug, info, warn};
use zeroize::Zeroize;

use crate::accounts::UserCtx;
use crate::admission::PendingSlot;
use crate::connection::FrameReader;
use crate::credentials::HistorySecret;
use crate::hub::{ChangeAsk, ConnId, HubError, Moderation, PageAsk, SearchAsk};
use crate::outbox::{Kick, Outbox, SignOut};
use crate::state::ServerState;

/// Records that are not JSON objects at all tolerated in
/// [`NON_OBJECT_WINDOW`]; one more closes the connection. Requests that are
/// objects with bad values only get errors: a client with a bug in one
/// field keeps its connection.
const MAX_NON_OBJECTS: usize = 16;
/// See [`MAX_NON_OBJECTS`].
const NON_OBJECT_WINDOW: Duration = Duration::from_secs(60);

/// Sends whose acks may wait for their history writes at once; past this,
/// the connection is not read until one is answered, so TCP pushes back on
/// a client that sends faster than its messages are stored (one frame at a
/// time, as mini-redis does).
const MAX_ACKS_IN_FLIGHT: usize = 64;

/// A reply that waits for something (a send's history write).
type AckFuture = std::pin::Pin<Box<dyn std::future::Future<Output = ServerMessage> + Send>>;

/// The user a connection is logged in as, with their unlocked history key.
struct LoggedIn {
    user: UserCtx,
    secret: Arc<HistorySecret>,
}

/// One connection's request state, from the end of the handshake to its
/// close.
pub struct ConnState {
    conn: ConnId,
    peer: SocketAddr,
    state: Arc<ServerState>,
    outbox: Outbox,
    opener: Opener,
    user: Option<LoggedIn>,
    /// Its place among connections not yet logged in, until it logs in.
    pending: Option<PendingSlot>,
    /// When it must have logged in by.
    login_by: Instant,
    /// Replies waiting for their history writes, answered in request order.
    acks: FuturesOrdered<AckFuture>,
    /// When the recent records that were not JSON objects arrived.
    non_objects: VecDeque<Instant>,
    exited: bool,
    /// Set when another session of the user changed the password and
    /// signed this one out.
    sign_out: Arc<SignOut>,
}

/// What the connection does after a request.
enum Flow {
    Continue,
    /// Close after the pending acks, with this last frame.
    Close(Option<Bytes>),
}

impl ConnState {
    /// The state of a connection that has just completed its handshake.
    pub fn new(
        conn: ConnId,
        peer: SocketAddr,
        state: Arc<ServerState>,
        outbox: Outbox,
        opener: Opener,
        pending: PendingSlot,
        login_by: Instant,
    ) -> Self {
        Self {
            conn,
            peer,
            state,
            outbox,
            opener,
            user: None,
            pending: Some(pending),
            login_by,
            acks: FuturesOrdered::new(),
            non_objects: VecDeque::new(),
            exited: false,
            sign_out: Arc::new(SignOut::default()),
        }
    }

    /// Reads and answers requests until the connection closes, is kicked,
    /// or the server shuts down; then detaches the user's session, telling
    /// their peers (after `#exit`, that they left the chat).
    pub async fn run(
        mut self,
        reader: &mut FrameReader,
        kick: &Kick,
        shutdown: &mut watch::Receiver<bool>,
    ) {
        self.serve(reader, kick, shutdown).await;
        if let Some(l) = &self.user {
            self.state.hub.detach(&l.user, self.conn, self.exited);
            info!(peer = %self.peer, user = %l.user.name, exited = self.exited, "session closed");
        }
    }

    async fn serve(
        &mut self,
        reader: &mut FrameReader,
        kick: &Kick,
        shutdown: &mut watch::Receiver<bool>,
    ) {
        loop {
            let (timeout, logged_in) = if self.user.is_some() {
                (self.state.config.idle_timeout, true)
            } else {
                let left = self.login_by.saturating_duration_since(Instant::now());
                (self.state.config.handshake_timeout.min(left), false)
            };
            tokio::select! {
                biased;
                _ = kick.kicked() => {
                    info!(peer = %self.peer, "connection kicked (not reading or closed)");
                    return;
                }
                reason = self.sign_out.signed_out() => {
                    while let Some(ack) = self.acks.next().await {
                        self.reply(ack);
                    }
                    info!(peer = %self.peer, reason, "signed out by another session");
                    self.outbox.close_with(bye(reason));
                    return;
                }
                _ = shutdown.changed() => {
                    while let Some(ack) = self.acks.next().await {
                        self.reply(ack);
                    }
                    self.outbox.close_with(bye(byes::SHUTDOWN));
                    return;
                }
                Some(ack) = self.acks.next(), if !self.acks.is_empty() => {
                    self.reply(ack);
                }
                next = tokio::time::timeout(timeout, reader.next()),
                    if self.acks.len() < MAX_ACKS_IN_FLIGHT =>
                {
                    let frame = match next {
                        Err(_) if !logged_in && Instant::now() >= self.login_by => {
                            info!(peer = %self.peer, "no login in time");
                            self.outbox.close_with(bye(BYE_NO_LOGIN));
                            return;
                        }
                        Err(_) => {
                            info!(peer = %self.peer, "idle timeout");
                            self.outbox.close_with(bye(byes::IDLE));
                            return;
                        }
                        Ok(None) => return,
                        Ok(Some(Err(e))) => {
                            info!(peer = %self.peer, error = %e, "bad frame; closing");
                            return;
                        }
                        Ok(Some(Ok(frame))) => frame,
                    };
                    if let Flow::Close(last) = self.on_frame(frame).await {
                        // Let pending acks go out before the goodbye.
                        while let Some(ack) = self.acks.next().await {
                            self.reply(ack);
                        }
                        if let Some(last) = last {
                            self.outbox.close_with(last);
                        }
                        return;
                    }
                }
            }
        }
    }

    async fn on_frame(&mut self, mut frame: BytesMut) -> Flow {
        let plaintext = match self.opener.open(&mut frame) {
            Ok(pt) => pt,
            Err(e) => {
                // A record that fails authentication means tampering or a
                // broken peer: the channel cannot be trusted any more.
                // Not a warning: anyone can send this, and a log line per
                // attempt at a high level would let them flood the log.
                info!(peer = %self.peer, error = %e, "record rejected; closing");
                return Flow::Close(None);
            }
        };
        let parsed = ClientMessage::parse(plaintext);
        let unparsed = parsed.is_err().then(|| ClientMessage::salvage(plaintext));
        if self.user.is_none() {
            // Before login a record may hold a password in the clear; it is
            // parsed (the `Password` wipes itself), so wipe the record too.
            frame.as_mut().zeroize();
        }
        match parsed {
            Ok(msg) => self.on_request(msg).await,
            Err(e) => {
                debug!(peer = %self.peer, error = %e, "unparseable request");
                let text = match &e {
                    ParseError::TooLarge(_) => e.to_string(),
                    ParseError::Malformed(inner) => format!("malformed request: {inner}"),
                };
                let id = match unparsed.unwrap_or(Unparsed::NotAnObject) {
                    Unparsed::Invalid { id } => id,
                    Unparsed::NotAnObject => {
                        if self.too_many_non_objects(Instant::now()) {
                            return Flow::Close(Some(bye(BYE_NOT_OBJECTS)));
                        }
                        None
                    }
                };
                self.reply(ServerMessage::error(id, ErrorCode::BadRequest, text));
                Flow::Continue
            }
        }
    }

    /// Counts one record that was not a JSON object; true once more than
    /// [`MAX_NON_OBJECTS`] arrived within [`NON_OBJECT_WINDOW`].
    fn too_many_non_objects(&mut self, now: Instant) -> bool {
        while self
            .non_objects
            .front()
            .is_some_and(|t| now.duration_since(*t) >= NON_OBJECT_WINDOW)
        {
            self.non_objects.pop_front();
        }
        if self.non_objects.len() >= MAX_NON_OBJECTS {
            return true;
        }
        self.non_objects.push_back(now);
        false
    }

    /// Queues a reply. Replies are built to fit in one record (lists are
    /// capped, history pages cut by size); should one still not fit, the
    /// client gets an error naming its request rather than no answer.
    fn reply(&self, msg: ServerMessage) {
        let bytes = msg.encode();
        if bytes.len() > MAX_RECORD_PLAINTEXT {
            warn!(peer = %self.peer, bytes = bytes.len(), "reply too large for one record");
            let error = ServerMessage::error(
                msg.answers(),
                ErrorCode::Internal,
                "the reply would not fit in one record",
            );
            self.outbox.push(Bytes::from(error.encode()));
            return;
        }
        self.outbox.push(Bytes::from(bytes));
    }

    /// Routes one request to its handler and queues the reply.
    async fn on_request(&mut self, msg: ClientMessage) -> Flow {
        let id = msg.id;
        let Some(login) = &self.user else {
            return self.on_anonymous(id, msg.request).await;
        };
        let (user, secret) = (login.user.clone(), login.secret.clone());
        let state = self.state.clone();
        let hub = &state.hub;
        let result: Result<Option<ServerMessage>, HubError> = match msg.request {
            Request::Register { .. } | Request::Login { .. } => Ok(Some(ServerMessage::error(
                Some(id),
                ErrorCode::AlreadyLoggedIn,
                "this connection is already logged in",
            ))),
            Request::Ping => Ok(Some(ServerMessage::Pong { id })),
            Request::DeleteAccount { password } => {
                let addr = self.peer.ip();
                match auth::delete_account(&state, &user, self.conn, password, addr).await {
                    Ok(()) => {
                        info!(peer = %self.peer, user = %user.name, "account deleted");
                        self.reply(ServerMessage::AccountDeleted { id });
                        return Flow::Close(Some(bye(BYE_DELETED)));
                    }
                    Err(e) => {
                        self.reply(ServerMessage::error(Some(id), e.code(), e.client_text()));
                        Ok(None)
                    }
                }
            }
            Request::ChangePassword {
                old,
                new,
                sign_out_others,
            } => {
                let addr = self.peer.ip();
                let asked = (old, new, sign_out_others);
                match auth::change_password(&state, &user, self.conn, asked, addr).await {
                    Ok(signed_out) => Ok(Some(ServerMessage::PasswordChanged { id, signed_out })),
                    Err(e) => {
                        let text = match e.code() {
                            ErrorCode::Storage => {
                                "the new password could not be stored; the old one still works"
                                    .to_owned()
                            }
                            _ => e.client_text(),
                        };
                        self.reply(ServerMessage::error(Some(id), e.code(), text));
                        Ok(None)
                    }
                }
            }
            Request::Logout => {
                self.exited = true;
                return Flow::Close(Some(bye(byes::GOODBYE)));
            }
            Request::Send {
                client_id,
                to,
                text,
                reply_to,
                file,
            } => {
                let ask = send::SendAsk {
                    client_id,
                    to,
                    text,
                    reply_to,
                    file,
                };
                send::send(&state, &user, &secret, self.conn, id, ask)
                    .await
                    .map(|sent| match sent {
                        send::Sent::Ack(ack) => {
                            self.acks.push_back(ack);
                            None
                        }
                        send::Sent::Refused(reply) => Some(*reply),
                    })
            }
            request @ (Request::Upload { .. }
            | Request::ResumeUpload { .. }
            | Request::CancelUpload { .. }
            | Request::Chunk { .. }
            | Request::Download { .. }) => {
                Ok(Some(files::handle(&state, &user, id, request).await))
            }
            Request::Edit {
                client_id,
                with,
                message_id,
                text,
            } => {
                let ask = send::change_ask(client_id, with, message_id, ChangeKind::Edit { text });
                self.change(&state, &user, &secret, id, ask).await
            }
            Request::Delete {
                client_id,
                with,
                message_id,
            } => {
                let ask = send::change_ask(client_id, with, message_id, ChangeKind::Delete);
                self.change(&state, &user, &secret, id, ask).await
            }
            Request::React {
                client_id,
                with,
                message_id,
                emoji,
                remove,
            } => {
                let what = ChangeKind::React { emoji, remove };
                let ask = send::change_ask(client_id, with, message_id, what);
                self.change(&state, &user, &secret, id, ask).await
            }
            Request::Create {
                room,
                private,
                topic,
            } => hub
                .create(&user, room, private, topic)
                .await
                .map(|room| Some(ServerMessage::Joined { id, room })),
            Request::Invite { room, user: who } => {
                moderate(hub, &user, id, room, Moderation::Invite(who)).await
            }
            Request::Kick {
                room,
                user: who,
                ban,
            } => moderate(hub, &user, id, room, Moderation::Kick(who, ban)).await,
            Request::Unban { room, user: who } => {
                moderate(hub, &user, id, room, Moderation::Unban(who)).await
            }
            Request::SetTopic { room, topic } => {
                moderate(hub, &user, id, room, Moderation::Topic(topic)).await
            }
            Request::SetRole {
                room,
                user: who,
                role,
            } => moderate(hub, &user, id, room, Moderation::Role(who, role)).await,
            Request::Decline { room } => hub
                .decline(&user, room)
                .await
                .map(|()| Some(ServerMessage::Done { id })),
            Request::Join { room } => rooms::join(hub, &user, id, room).await.map(Some),
            Request::Leave { room } => rooms::leave(hub, &user, id, room).await.map(Some),
            Request::ListRooms => Ok(Some(rooms::list(hub, &user, id))),
            Request::Members { room } => rooms::members(hub, &user, id, room).map(Some),
            Request::History {
                with,
                before,
                limit,
                cursor,
            } => {
                let ask = PageAsk {
                    with,
                    before,
                    cursor,
                    limit,
                };
                history::page(hub, &user, secret, id, ask).await.map(Some)
            }
            // Answered only when refused (see docs/protocol.md, "Typing").
            Request::Typing { with } => hub.typing(&user, &with).map(|()| None),
            Request::Read { with, up_to } => hub.read(&user, self.conn, id, &with, up_to).map(Some),
            Request::Search {
                text,
                with,
                limit,
                cursor,
            } => {
                let ask = SearchAsk {
                    text,
                    with,
                    cursor,
                    limit,
                };
                search::search(hub, &user, secret, id, ask).await.map(Some)
            }
        };
        match result {
            Ok(Some(reply)) => self.reply(reply),
            Ok(None) => {}
            Err(e) => {
                if let HubError::Storage(s) = &e {
                    warn!(user = %user.name, error = %s, "storage error");
                }
                self.reply(ServerMessage::error(Some(id), e.code(), e.to_string()));
            }
        }
        Flow::Continue
    }

    /// Makes a change; its ack waits with the others, in order.
    async fn change(
        &mut self,
        state: &Arc<ServerState>,
        user: &UserCtx,
        secret: &Arc<HistorySecret>,
        id: u64,
        ask: ChangeAsk,
    ) -> Result<Option<ServerMessage>, HubError> {
        let ack = send::change(state, user, secret, self.conn, id, ask).await?;
        self.acks.push_back(ack);
        Ok(None)
    }

    /// A request before login: only ping, register, login and logout.
    async fn on_anonymous(&mut self, id: u64, request: Request) -> Flow {
        let state = self.state.clone();
        let addr = self.peer.ip();
        let result = match request {
            Request::Ping => {
                self.reply(ServerMessage::Pong { id });
                return Flow::Continue;
            }
            Request::Register { username, password } => {
                let r = auth::register(&state, username.clone(), password, addr).await;
                if r.is_ok() {
                    info!(peer = %self.peer, user = %username, "registered");
                }
                r
            }
            Request::Login { username, password } => {
                let r = auth::login(&state, username.clone(), password, addr).await;
                match &r {
                    Ok(_) => info!(peer = %self.peer, user = %username, "logged in"),
                    Err(e) => {
                        info!(peer = %self.peer, user = %username, error = %e, "login failed")
                    }
                }
                r
            }
            Request::Logout => return Flow::Close(Some(bye(byes::GOODBYE))),
            _ => {
                self.reply(ServerMessage::error(
                    Some(id),
                    ErrorCode::NotLoggedIn,
                    "log in or register first",
                ));
                return Flow::Continue;
            }
        };
        match result {
            Ok((user, secret)) => {
                let welcome = auth::welcome(
                    &state,
                    &user,
                    self.conn,
                    self.outbox.clone(),
                    self.sign_out.clone(),
                    id,
                );
                self.reply(welcome);
                self.user = Some(LoggedIn {
                    user,
                    secret: Arc::new(secret),
                });
                // Logged in: it no longer counts against its network.
                self.pending = None;
            }
            Err(e) => self.reply(ServerMessage::error(Some(id), e.code(), e.client_text())),
        }
        Flow::Continue
    }
}

/// Runs a moderation action; `done` when it is.
async fn moderate(
    hub: &crate::hub::Hub,
    user: &UserCtx,
    id: u64,
    room: cove_common::RoomName,
    what: Moderation,
) -> Result<Option<ServerMessage>, HubError> {
    hub.moderate(user, room, what)
        .await
        .map(|()| Some(ServerMessage::Done { id }))
}

/// `bye` reasons: every one a client can see is documented in §7 of
/// `docs/protocol.md`.
pub const BYE_NOT_OBJECTS: &str = byes::NOT_OBJECTS;
/// See [`BYE_NOT_OBJECTS`].
pub const BYE_NO_LOGIN: &str = byes::NO_LOGIN;
/// See [`BYE_NOT_OBJECTS`].
pub const BYE_SIGNED_OUT: &str = byes::SIGNED_OUT;
/// See [`BYE_NOT_OBJECTS`]: to the session that deleted the account.
pub const BYE_DELETED: &str = byes::DELETED;
/// See [`BYE_NOT_OBJECTS`]: to the account's other sessions.
pub const BYE_DELETED_ELSEWHERE: &str = byes::DELETED_ELSEWHERE;

/// The last message of a connection the server closes.
pub fn bye(reason: &str) -> Bytes {
    Bytes::from(
        ServerMessage::Bye {
            reason: reason.to_owned(),
        }
        .encode(),
    )
}
