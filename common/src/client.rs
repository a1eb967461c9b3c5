//! The headless async client session, shared by the desktop app, the load
//! generator and the server's tests.
//!
//! ```no_run
//! # async fn demo() -> Result<(), cove_common::client::ClientError> {
//! use cove_common::client::{Auth, connect};
//! use cove_common::{Password, Username};
//!
//! let pending = connect("127.0.0.1:7878").await?;
//! // Decide trust *before* any credential leaves: compare with a pinned key.
//! println!("server fingerprint: {}", pending.server_key().fingerprint());
//! let auth = Auth::Login {
//!     username: Username::new("alice").unwrap(),
//!     password: Password::new("correct horse").unwrap(),
//! };
//! let (session, mut events, welcome) = pending.authenticate(auth).await?;
//! # let _ = (session, welcome, events.recv().await);
//! # Ok(()) }
//! ```
//!
//! Two tasks run per session: a reader that opens records and forwards each
//! [`ServerMessage`] as an [`Event`], and a writer that seals queued requests,
//! coalescing everything queued at one wake-up into a single `write`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::BytesMut;
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;
use tokio_util::codec::FramedRead;

use crate::frame::{FrameCodec, FrameError, encode_frame};
use crate::handshake::{ClientHandshake, HandshakeError, ServerKey};
use crate::names::{ClientMsgId, MessageText, Password, Username};
use crate::proto::{
    ClientMessage, DirectUnread, ErrorCode, Invitation, ParseError, Request, RoomInfo,
    ServerMessage, SessionInfo, Target,
};
use crate::record::{Opener, RecordError, Sealer};

/// How long connecting plus the handshake may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the server may take to answer a register or login (Argon2 runs
/// there, possibly queued behind other logins).
pub const AUTH_TIMEOUT: Duration = Duration::from_secs(60);
/// A ping is sent when nothing was sent for this long, keeping the
/// connection inside the server's idle timeout.
pub const PING_INTERVAL: Duration = Duration::from_secs(20);
/// Events buffered before the reader stops reading the socket.
const EVENT_BUFFER: usize = 4096;
/// Requests buffered before [`Session::send`] waits.
const REQUEST_BUFFER: usize = 1024;

/// Why the session failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No TCP connection could be made.
    #[error("could not reach the server: {0}")]
    Connect(#[source] std::io::Error),
    /// Connecting, the handshake or a login took too long.
    #[error("the server did not answer in time")]
    Timeout,
    /// The handshake failed (see [`HandshakeError`]).
    #[error("secure handshake failed: {0}")]
    Handshake(#[from] HandshakeError),
    /// The byte stream broke its framing.
    #[error("connection error: {0}")]
    Frame(#[from] FrameError),
    /// A record failed authentication: the connection is not safe to use.
    #[error("connection error: {0}")]
    Record(#[from] RecordError),
    /// The server sent something this client cannot parse.
    #[error("the server sent a message this client does not understand: {0}")]
    Parse(#[from] ParseError),
    /// The server refused the request.
    #[error("{message}")]
    Rejected {
        /// The stable code.
        code: ErrorCode,
        /// The server's sentence.
        message: String,
    },
    /// The connection is closed.
    #[error("the connection is closed")]
    Closed,
}

/// How to authenticate.
#[derive(Debug, Clone)]
pub enum Auth {
    /// Log in to an existing account.
    Login {
        /// The account.
        username: Username,
        /// Its password.
        password: Password,
    },
    /// Create an account and log in.
    Register {
        /// The new account.
        username: Username,
        /// Its password.
        password: Password,
    },
}

impl Auth {
    /// The request that carries it.
    pub fn into_request(self) -> Request {
        match self {
            Auth::Login { username, password } => Request::Login { username, password },
            Auth::Register { username, password } => Request::Register { username, password },
        }
    }
}

/// What the session reports.
// Nearly every event is a `Message`: boxing it to shrink the rare
// `Closed` would cost an allocation per message instead.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Event {
    /// A message from the server.
    Message(ServerMessage),
    /// The connection ended; no more events follow. `None` for a clean close
    /// by the server.
    Closed(Option<ClientError>),
}

/// The receiving end of a session's events.
pub type Events = mpsc::Receiver<Event>;

/// What the server said when the login succeeded.
#[derive(Debug, Clone)]
pub struct Welcome {
    /// Who is logged in.
    pub session: SessionInfo,
    /// The user's rooms with unread counts.
    pub rooms: Vec<RoomInfo>,
    /// The users with whom this user has direct conversations.
    pub directs: Vec<Username>,
    /// Unread counts of the direct conversations that have any.
    pub direct_unread: Vec<DirectUnread>,
    /// Invitations not answered yet.
    pub invitations: Vec<Invitation>,
}

/// A connection whose handshake is done but which has sent nothing secret:
/// the caller checks [`Connecting::server_key`] first.
#[derive(Debug)]
pub struct Connecting {
    reader: FramedRead<OwnedReadHalf, FrameCodec>,
    writer: OwnedWriteHalf,
    sealer: Sealer,
    opener: Opener,
    server_key: ServerKey,
}

/// Connects to `addr` (`host:port`) and runs the handshake.
pub async fn connect(addr: &str) -> Result<Connecting, ClientError> {
    tokio::time::timeout(CONNECT_TIMEOUT, connect_inner(addr))
        .await
        .map_err(|_| ClientError::Timeout)?
}

async fn connect_inner(addr: &str) -> Result<Connecting, ClientError> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(ClientError::Connect)?;
    // Chat is latency-bound; small records should leave at once.
    stream.set_nodelay(true).map_err(ClientError::Connect)?;
    let (read, mut writer) = stream.into_split();
    let mut reader = FramedRead::new(read, FrameCodec);

    let (handshake, hello) = ClientHandshake::start();
    let mut buf = BytesMut::new();
    encode_frame(&hello, &mut buf)?;
    writer.write_all(&buf).await.map_err(FrameError::Io)?;
    let reply = reader.next().await.ok_or(ClientError::Closed)??;
    let outcome = handshake.finish(&reply)?;
    Ok(Connecting {
        reader,
        writer,
        sealer: outcome.channel.sealer,
        opener: outcome.channel.opener,
        server_key: outcome.server_key,
    })
}

impl Connecting {
    /// The key the server proved it holds. Check it against the pinned key
    /// before calling [`Connecting::authenticate`].
    pub fn server_key(&self) -> ServerKey {
        self.server_key
    }

    /// Registers or logs in, then starts the session's tasks. Must be called
    /// inside a tokio runtime.
    pub async fn authenticate(
        mut self,
        auth: Auth,
    ) -> Result<(Session, Events, Welcome), ClientError> {
        const AUTH_ID: u64 = 0;
        let msg = ClientMessage {
            id: AUTH_ID,
            request: auth.into_request(),
        };
        let mut buf = BytesMut::new();
        // The encoded request holds the password in the clear: wiped once
        // sealed (the `Password` inside `msg` wipes itself on drop).
        let plain = zeroize::Zeroizing::new(msg.encode());
        self.sealer.seal_frame(&plain, &mut buf)?;
        drop(plain);
        drop(msg);
        self.writer.write_all(&buf).await.map_err(FrameError::Io)?;

        // The record carrying the welcome may carry what follows it too:
        // those messages are the session's first events.
        let mut early = Vec::new();
        let welcome = tokio::time::timeout(AUTH_TIMEOUT, async {
            loop {
                let mut frame = self.reader.next().await.ok_or(ClientError::Closed)??;
                let mut welcome = None;
                for msg in ServerMessage::parse_record(self.opener.open(&mut frame)?) {
                    let msg = msg?;
                    if welcome.is_some() {
                        early.push(msg);
                        continue;
                    }
                    match msg {
                        ServerMessage::Welcome {
                            session,
                            rooms,
                            directs,
                            direct_unread,
                            invitations,
                            ..
                        } => {
                            welcome = Some(Welcome {
                                session,
                                rooms,
                                directs,
                                direct_unread,
                                invitations,
                            });
                        }
                        ServerMessage::Error { code, message, .. } => {
                            return Err(ClientError::Rejected { code, message });
                        }
                        ServerMessage::Bye { reason } => {
                            return Err(ClientError::Rejected {
                                code: ErrorCode::Busy,
                                message: reason,
                            });
                        }
                        _ => continue,
                    }
                }
                if let Some(welcome) = welcome {
                    return Ok(welcome);
                }
            }
        })
        .await
        .map_err(|_| ClientError::Timeout)??;

        let (events_tx, events_rx) = mpsc::channel(EVENT_BUFFER);
        let (req_tx, req_rx) = mpsc::channel(REQUEST_BUFFER);
        tokio::spawn(read_loop(self.reader, self.opener, early, events_tx));
        tokio::spawn(write_loop(self.writer, self.sealer, req_rx));
        let session = Session {
            requests: req_tx,
            next_id: Arc::new(AtomicU64::new(AUTH_ID + 1)),
            info: Arc::new(welcome.session.clone()),
            server_key: self.server_key,
        };
        Ok((session, events_rx, welcome))
    }
}

/// A handle to a logged-in session. Cheap to clone; the connection closes
/// when every handle is dropped (or after [`Session::logout`]).
#[derive(Debug, Clone)]
pub struct Session {
    requests: mpsc::Sender<ClientMessage>,
    next_id: Arc<AtomicU64>,
    info: Arc<SessionInfo>,
    server_key: ServerKey,
}

impl Session {
    /// The logged-in user.
    pub fn username(&self) -> &Username {
        &self.info.username
    }

    /// The server's identity key.
    pub fn server_key(&self) -> ServerKey {
        self.server_key
    }

    /// Queues a request; returns the id its reply will carry.
    pub async fn send(&self, request: Request) -> Result<u64, ClientError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.requests
            .send(ClientMessage { id, request })
            .await
            .map_err(|_| ClientError::Closed)?;
        Ok(id)
    }

    /// Sends a chat message; the ack will echo `client_id`.
    pub async fn say(
        &self,
        to: Target,
        text: MessageText,
        client_id: ClientMsgId,
    ) -> Result<u64, ClientError> {
        self.send(Request::Send {
            client_id,
            to,
            text: Some(text),
            reply_to: None,
            file: None,
        })
        .await
    }

    /// Leaves the chat (`#exit`): the server tells everyone and closes.
    pub async fn logout(&self) -> Result<(), ClientError> {
        self.send(Request::Logout).await.map(|_| ())
    }

    /// Whether the connection's writer is still running.
    pub fn is_open(&self) -> bool {
        !self.requests.is_closed()
    }
}

async fn read_loop(
    mut reader: FramedRead<OwnedReadHalf, FrameCodec>,
    mut opener: Opener,
    early: Vec<ServerMessage>,
    events: mpsc::Sender<Event>,
) {
    for m in early {
        if events.send(Event::Message(m)).await.is_err() {
            return;
        }
    }
    let end = 'records: loop {
        let mut frame = match reader.next().await {
            None => break None,
            Some(Err(e)) => break Some(e.into()),
            Some(Ok(f)) => f,
        };
        let plaintext = match opener.open(&mut frame) {
            Ok(pt) => pt,
            Err(e) => break Some(e.into()),
        };
        for msg in ServerMessage::parse_record(plaintext) {
            match msg {
                Ok(m) => {
                    if events.send(Event::Message(m)).await.is_err() {
                        return; // nobody listens any more
                    }
                }
                Err(e) => break 'records Some(e.into()),
            }
        }
    };
    let _ = events.send(Event::Closed(end)).await;
}

async fn write_loop(
    mut writer: OwnedWriteHalf,
    mut sealer: Sealer,
    mut requests: mpsc::Receiver<ClientMessage>,
) {
    let mut buf = BytesMut::with_capacity(16 * 1024);
    loop {
        let first = match tokio::time::timeout(PING_INTERVAL, requests.recv()).await {
            Ok(Some(m)) => m,
            Ok(None) => break,
            Err(_) => ClientMessage {
                id: u64::MAX,
                request: Request::Ping,
            },
        };
        let mut next = Some(first);
        while let Some(msg) = next.take() {
            let logout = matches!(msg.request, Request::Logout);
            if sealer.seal_frame(&msg.encode(), &mut buf).is_err() {
                return;
            }
            if logout || buf.len() >= crate::limits::WRITE_COALESCE_BYTES {
                break;
            }
            next = requests.try_recv().ok();
        }
        if writer.write_all(&buf).await.is_err() {
            return;
        }
        buf.clear();
    }
    let _ = writer.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn unreachable_server_is_a_connect_error() {
        // Bind then drop to find a port nobody listens on.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let err = connect(&format!("127.0.0.1:{port}")).await.unwrap_err();
        assert!(matches!(err, ClientError::Connect(_)), "{err:?}");
        assert!(err.to_string().starts_with("could not reach the server"));
    }

    /// A server that answers the handshake and the login with one record
    /// holding a notice, the welcome and two more messages, then closes.
    #[tokio::test]
    async fn messages_sharing_the_welcome_record_become_the_first_events() {
        use crate::handshake::{ServerHandshake, ServerIdentity};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            let (s, _) = listener.accept().await.unwrap();
            let (read, mut write) = s.into_split();
            let mut frames = FramedRead::new(read, FrameCodec);
            let hello = frames.next().await.unwrap().unwrap();
            let mut hs = ServerHandshake::respond(&ServerIdentity::generate(), &hello).unwrap();
            let mut buf = BytesMut::new();
            encode_frame(&hs.reply, &mut buf).unwrap();
            write.write_all(&buf).await.unwrap();
            buf.clear();
            let mut login = frames.next().await.unwrap().unwrap();
            hs.channel.opener.open(&mut login).unwrap();
            let record = [
                &br#"{"type":"notice","ts":1,"kind":{"event":"joined","room":"rust","user":"bob"},"text":"bob joined #rust"}"#[..],
                br#"{"type":"welcome","id":0,"session":{"username":"alice","server_time":1},"rooms":[],"directs":[]}"#,
                br#"{"type":"pong","id":7}"#,
                br#"{"type":"notice","ts":2,"kind":{"event":"exited","user":"bob"},"text":"bob left the chat"}"#,
            ];
            hs.channel
                .sealer
                .seal_frame_joined(&record, crate::proto::MESSAGE_SEPARATOR, &mut buf)
                .unwrap();
            write.write_all(&buf).await.unwrap();
        });
        let auth = Auth::Login {
            username: Username::new("alice").unwrap(),
            password: Password::new("correct horse").unwrap(),
        };
        let (_session, mut events, welcome) = connect(&addr)
            .await
            .unwrap()
            .authenticate(auth)
            .await
            .unwrap();
        assert_eq!(welcome.session.username.as_str(), "alice");
        assert!(matches!(
            events.recv().await,
            Some(Event::Message(ServerMessage::Pong { id: 7 }))
        ));
        assert!(matches!(
            events.recv().await,
            Some(Event::Message(ServerMessage::Notice(n))) if n.text == "bob left the chat"
        ));
        assert!(matches!(events.recv().await, Some(Event::Closed(None))));
    }

    #[tokio::test]
    async fn non_cove_server_is_a_handshake_error() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = BytesMut::new();
            encode_frame(b"HTTP/1.1 400 Bad Request\r\n", &mut buf).unwrap();
            s.write_all(&buf).await.unwrap();
        });
        let err = connect(&addr).await.unwrap_err();
        assert!(
            matches!(err, ClientError::Handshake(HandshakeError::BadMagic)),
            "{err:?}"
        );
    }
}
