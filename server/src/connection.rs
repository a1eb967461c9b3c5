//! One client connection: the handshake, then a reader that opens records and
//! dispatches requests, and a writer task that seals queued frames and
//! coalesces everything queued at one wake-up into a single `write`.
//!
//! Whatever a client sends, the worst it can do is get an error reply or
//! have its own connection closed.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::{Bytes, BytesMut};
use cove_common::frame::{FrameCodec, encode_frame};
use cove_common::handshake::ServerHandshake;
use cove_common::limits::WRITE_COALESCE_BYTES;
use cove_common::proto::{MESSAGE_SEPARATOR, ParseError};
use cove_common::record::{Opener, Sealer};
use cove_common::{ClientMessage, ErrorCode, Request, ServerIdentity, ServerMessage};
use futures_util::StreamExt;
use futures_util::stream::FuturesOrdered;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{mpsc, watch};
use tokio_util::codec::FramedRead;
use tracing::{debug, info, warn};

use crate::accounts::{Accounts, AuthError};
use crate::config::Config;
use crate::credentials::HistorySecret;
use crate::hub::{ConnId, Hub, HubError, UserCtx};
use crate::outbox::{Kick, Outbox, Outgoing};

/// Queued messages are sealed together into records of up to about this
/// many bytes (TLS's largest record), so a busy connection pays one IV, one
/// MAC and one cipher start per record rather than per message.
const RECORD_TARGET: usize = 16 * 1024;
/// Unparseable requests tolerated before the connection is closed.
const MAX_BAD_REQUESTS: u32 = 16;

/// What every connection shares.
#[derive(Debug)]
pub struct Shared {
    /// Rooms, presence, fan-out, storage.
    pub hub: Hub,
    /// Registration and login.
    pub accounts: Accounts,
    /// The server's static key.
    pub identity: ServerIdentity,
    /// Limits and timeouts.
    pub config: Config,
    next_conn: AtomicU64,
}

impl Shared {
    /// Bundles the parts.
    pub fn new(hub: Hub, accounts: Accounts, identity: ServerIdentity, config: Config) -> Self {
        Self {
            hub,
            accounts,
            identity,
            config,
            next_conn: AtomicU64::new(1),
        }
    }
}

type AckFuture = std::pin::Pin<Box<dyn std::future::Future<Output = ServerMessage> + Send>>;

struct LoggedIn {
    user: UserCtx,
    secret: Arc<HistorySecret>,
}

/// Serves one TCP connection until it closes.
pub async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let (read, write) = stream.into_split();
    // Start small: most connections are idle most of the time, and the
    // buffer grows to the frame being read when needed.
    let mut reader = FramedRead::with_capacity(read, FrameCodec, 512);
    let Some((sealer, opener, write)) = handshake(&mut reader, write, peer, &shared).await else {
        return;
    };
    let conn: ConnId = shared.next_conn.fetch_add(1, Ordering::Relaxed);
    let kick = Arc::new(Kick::default());
    let (outbox, rx) = Outbox::new(shared.config.outbox_capacity, kick.clone());
    let writer = tokio::spawn(write_loop(write, sealer, rx, kick.clone()));

    let mut session = Session {
        conn,
        peer,
        shared: shared.clone(),
        outbox,
        opener,
        user: None,
        acks: FuturesOrdered::new(),
        bad_requests: 0,
        exited: false,
    };
    session.run(&mut reader, &kick, &mut shutdown).await;
    if let Some(l) = &session.user {
        shared.hub.detach(&l.user, conn, session.exited);
        info!(%peer, user = %l.user.name, exited = session.exited, "session closed");
    }
    drop(session);
    // The writer ends when its queue is drained and every sender is gone (or
    // on a kick); give it the grace period to flush.
    let grace = shared.config.shutdown_grace;
    if tokio::time::timeout(grace, writer).await.is_err() {
        kick.kick();
    }
}

async fn handshake(
    reader: &mut FramedRead<OwnedReadHalf, FrameCodec>,
    mut write: OwnedWriteHalf,
    peer: SocketAddr,
    shared: &Shared,
) -> Option<(Sealer, Opener, OwnedWriteHalf)> {
    let first = tokio::time::timeout(shared.config.handshake_timeout, reader.next()).await;
    let hello = match first {
        Ok(Some(Ok(frame))) => frame,
        Ok(Some(Err(e))) => {
            debug!(%peer, error = %e, "bad frame before handshake");
            return None;
        }
        Ok(None) => {
            debug!(%peer, "closed before handshake");
            return None;
        }
        Err(_) => {
            debug!(%peer, "handshake timed out");
            return None;
        }
    };
    match ServerHandshake::respond(&shared.identity, &hello) {
        Ok(outcome) => {
            let mut buf = BytesMut::new();
            encode_frame(&outcome.reply, &mut buf).ok()?;
            let sent = tokio::time::timeout(shared.config.handshake_timeout, write.write_all(&buf));
            match sent.await {
                Ok(Ok(())) => Some((outcome.channel.sealer, outcome.channel.opener, write)),
                _ => None,
            }
        }
        Err(e) => {
            info!(%peer, error = %e, "handshake failed");
            if let Some(reply) = e.server_reply() {
                let mut buf = BytesMut::new();
                if encode_frame(&reply, &mut buf).is_ok() {
                    let _ = tokio::time::timeout(
                        shared.config.handshake_timeout,
                        write.write_all(&buf),
                    )
                    .await;
                }
            }
            None
        }
    }
}

struct Session {
    conn: ConnId,
    peer: SocketAddr,
    shared: Arc<Shared>,
    outbox: Outbox,
    opener: Opener,
    user: Option<LoggedIn>,
    acks: FuturesOrdered<AckFuture>,
    bad_requests: u32,
    exited: bool,
}

enum Flow {
    Continue,
    /// Close after the pending acks, with this last frame.
    Close(Option<Bytes>),
}

impl Session {
    async fn run(
        &mut self,
        reader: &mut FramedRead<OwnedReadHalf, FrameCodec>,
        kick: &Kick,
        shutdown: &mut watch::Receiver<bool>,
    ) {
        loop {
            let timeout = if self.user.is_some() {
                self.shared.config.idle_timeout
            } else {
                self.shared.config.handshake_timeout
            };
            tokio::select! {
                biased;
                _ = kick.kicked() => {
                    info!(peer = %self.peer, "connection kicked (not reading or closed)");
                    return;
                }
                _ = shutdown.changed() => {
                    while let Some(ack) = self.acks.next().await {
                        self.reply(ack);
                    }
                    self.outbox.close_with(bye("the server is shutting down"));
                    return;
                }
                Some(ack) = self.acks.next(), if !self.acks.is_empty() => {
                    self.reply(ack);
                }
                next = tokio::time::timeout(timeout, reader.next()) => {
                    let frame = match next {
                        Err(_) => {
                            info!(peer = %self.peer, "idle timeout");
                            self.outbox.close_with(bye("idle for too long"));
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
        match ClientMessage::parse(plaintext) {
            Ok(msg) => self.on_request(msg).await,
            Err(e) => {
                self.bad_requests += 1;
                debug!(peer = %self.peer, error = %e, "unparseable request");
                let text = match &e {
                    ParseError::TooLarge(_) => e.to_string(),
                    ParseError::Malformed(inner) => format!("malformed request: {inner}"),
                };
                self.reply(ServerMessage::error(None, ErrorCode::BadRequest, text));
                if self.bad_requests >= MAX_BAD_REQUESTS {
                    return Flow::Close(Some(bye("too many malformed requests")));
                }
                Flow::Continue
            }
        }
    }

    fn reply(&self, msg: ServerMessage) {
        self.outbox.push(Bytes::from(msg.encode()));
    }

    async fn on_request(&mut self, msg: ClientMessage) -> Flow {
        let id = msg.id;
        let shared = self.shared.clone();
        let hub = &shared.hub;
        let Some(login) = &self.user else {
            return self.on_anonymous(id, msg.request).await;
        };
        let user = login.user.clone();
        let result: Result<Option<ServerMessage>, HubError> = match msg.request {
            Request::Register { .. } | Request::Login { .. } => Ok(Some(ServerMessage::error(
                Some(id),
                ErrorCode::AlreadyLoggedIn,
                "this connection is already logged in",
            ))),
            Request::Ping => Ok(Some(ServerMessage::Pong { id })),
            Request::Logout => {
                self.exited = true;
                return Flow::Close(Some(bye("goodbye")));
            }
            Request::Send {
                client_id,
                to,
                text,
            } => match hub.send(&user, self.conn, &client_id, to, text) {
                Ok((msg, stored)) => {
                    let shared = shared.clone();
                    let sender = user.id.clone();
                    self.acks.push_back(Box::pin(async move {
                        match stored.await {
                            Ok(Ok(())) => {
                                shared.hub.remember_sent(&sender, client_id.clone(), &msg);
                                Hub::ack(id, client_id, &msg)
                            }
                            Ok(Err(e)) => ServerMessage::error(
                                Some(id),
                                ErrorCode::Storage,
                                format!(
                                    "the message could not be stored: {}; try again later",
                                    e.public_reason()
                                ),
                            ),
                            Err(_) => ServerMessage::error(
                                Some(id),
                                ErrorCode::Storage,
                                "the message could not be stored",
                            ),
                        }
                    }));
                    Ok(None)
                }
                Err(e) => Err(e),
            },
            Request::Join { room } => hub.join(&user, room.clone()).await.map(|info| {
                info!(user = %user.name, room = %info.name, "joined room");
                Some(ServerMessage::Joined { id, room: info })
            }),
            Request::Leave { room } => hub.leave(&user, room).await.map(|room| {
                info!(user = %user.name, %room, "left room");
                Some(ServerMessage::Left { id, room })
            }),
            Request::ListRooms => Ok(Some(ServerMessage::Rooms {
                id,
                rooms: hub.list_rooms(&user),
            })),
            Request::Members { room } => hub
                .members(&user, &room)
                .map(|members| Some(ServerMessage::Members { id, room, members })),
            Request::History {
                with,
                before,
                limit,
            } => hub
                .history(&user, login.secret.clone(), with.clone(), before, limit)
                .await
                .map(|(messages, more)| {
                    Some(ServerMessage::History {
                        id,
                        with,
                        messages,
                        more,
                    })
                }),
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

    async fn on_anonymous(&mut self, id: u64, request: Request) -> Flow {
        let shared = self.shared.clone();
        let result = match request {
            Request::Ping => {
                self.reply(ServerMessage::Pong { id });
                return Flow::Continue;
            }
            Request::Register { username, password } => {
                let r = shared
                    .accounts
                    .register(&shared.hub, username.clone(), password, self.peer.ip())
                    .await;
                if r.is_ok() {
                    info!(peer = %self.peer, user = %username, "registered");
                }
                r
            }
            Request::Login { username, password } => {
                let r = shared
                    .accounts
                    .login(&shared.hub, username.clone(), password, self.peer.ip())
                    .await;
                match &r {
                    Ok(_) => info!(peer = %self.peer, user = %username, "logged in"),
                    Err(e) => {
                        info!(peer = %self.peer, user = %username, error = %e, "login failed")
                    }
                }
                r
            }
            Request::Logout => return Flow::Close(Some(bye("goodbye"))),
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
                let (rooms, directs) = shared.hub.attach(&user, self.conn, self.outbox.clone());
                let session = cove_common::proto::SessionInfo {
                    username: user.name.clone(),
                    server_time: cove_common::time::now_ms(),
                };
                self.reply(ServerMessage::Welcome {
                    id,
                    session,
                    rooms,
                    directs,
                });
                self.user = Some(LoggedIn {
                    user,
                    secret: Arc::new(secret),
                });
            }
            Err(e) => {
                let code = e.code();
                let text = match &e {
                    AuthError::Hub(HubError::Storage(_)) => {
                        "the server could not store the account".to_owned()
                    }
                    _ => e.to_string(),
                };
                self.reply(ServerMessage::error(Some(id), code, text));
            }
        }
        Flow::Continue
    }
}

fn bye(reason: &str) -> Bytes {
    Bytes::from(
        ServerMessage::Bye {
            reason: reason.to_owned(),
        }
        .encode(),
    )
}

async fn write_loop(
    mut write: OwnedWriteHalf,
    mut sealer: Sealer,
    mut rx: mpsc::Receiver<Outgoing>,
    kick: Arc<Kick>,
) {
    // Grows with bursts and is dropped after a big one, so idle connections
    // hold no write buffer.
    let mut buf = BytesMut::new();
    // Messages waiting to be sealed together as one record.
    let mut record: Vec<Bytes> = Vec::new();
    'outer: loop {
        let first = tokio::select! {
            biased;
            _ = kick.kicked() => break,
            m = rx.recv() => m,
        };
        let Some(first) = first else { break };
        let mut closing = false;
        let mut next = Some(first);
        let mut record_len = 0;
        while let Some(item) = next.take() {
            let frame = match item {
                Outgoing::Frame(b) => b,
                Outgoing::Close(b) => {
                    closing = true;
                    b
                }
            };
            // A message larger than the target always ends up alone.
            if !record.is_empty() && record_len + frame.len() > RECORD_TARGET {
                seal_record(&mut sealer, &mut record, &mut buf);
                record_len = 0;
            }
            record_len += frame.len() + 1;
            record.push(frame);
            if closing || buf.len() + record_len >= WRITE_COALESCE_BYTES {
                break;
            }
            next = rx.try_recv().ok();
        }
        seal_record(&mut sealer, &mut record, &mut buf);
        tokio::select! {
            biased;
            _ = kick.kicked() => break 'outer,
            r = write.write_all(&buf) => if r.is_err() { break 'outer },
        }
        if buf.capacity() > 64 * 1024 {
            buf = BytesMut::new();
        } else {
            buf.clear();
        }
        if closing {
            break;
        }
    }
    let _ = write.shutdown().await;
    // Wake the reader if it is still waiting.
    kick.kick();
}

/// Seals the queued messages as one record (joined by
/// [`MESSAGE_SEPARATOR`]) onto `buf` and empties the queue.
fn seal_record(sealer: &mut Sealer, record: &mut Vec<Bytes>, buf: &mut BytesMut) {
    if record.is_empty() {
        return;
    }
    if sealer
        .seal_frame_joined(record, MESSAGE_SEPARATOR, buf)
        .is_err()
    {
        warn!("outgoing message too large for one record; dropped");
    }
    record.clear();
}

#[cfg(test)]
mod tests {
    use super::*;
    use cove_common::crypto::EtmKey;
    use cove_common::frame::decode_frame;
    use cove_common::record::Direction;
    use tokio::io::AsyncReadExt;

    /// Runs the writer over a real socket with `queued` already waiting
    /// (the sender then gone), and returns each record's messages.
    async fn records_written(queued: Vec<Bytes>) -> Vec<Vec<Vec<u8>>> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap());
        let (client, accepted) = tokio::join!(client, listener.accept());
        let (_read, write) = accepted.unwrap().0.into_split();
        let key = EtmKey::derive(b"k", b"s", "writer test");
        let sealer = Sealer::new(key.clone(), Direction::ServerToClient);
        let mut opener = Opener::new(key, Direction::ServerToClient);
        let (outbox, rx) = Outbox::new(queued.len() + 1, Arc::new(Kick::default()));
        for frame in queued {
            outbox.push(frame);
        }
        drop(outbox);
        write_loop(write, sealer, rx, Arc::new(Kick::default())).await;
        let mut wire = Vec::new();
        client.unwrap().read_to_end(&mut wire).await.unwrap();
        let mut wire = BytesMut::from(&wire[..]);
        let mut records = Vec::new();
        while let Some(mut frame) = decode_frame(&mut wire).unwrap() {
            let plain = opener.open(&mut frame).unwrap();
            records.push(
                plain
                    .split(|&b| b == MESSAGE_SEPARATOR)
                    .map(<[u8]>::to_vec)
                    .collect(),
            );
        }
        records
    }

    #[tokio::test]
    async fn queued_messages_go_out_as_one_record() {
        let msgs = [&b"{\"a\":1}"[..], b"{\"b\":2}", b"{\"c\":3}"];
        let records = records_written(msgs.iter().map(|m| Bytes::from_static(m)).collect()).await;
        assert_eq!(records, [msgs.map(<[u8]>::to_vec).to_vec()]);
    }

    #[tokio::test]
    async fn a_message_larger_than_a_record_target_goes_alone() {
        let big = Bytes::from(vec![b'x'; RECORD_TARGET + 10]);
        let small = Bytes::from_static(b"{}");
        let records = records_written(vec![small.clone(), big.clone(), small.clone()]).await;
        let sizes: Vec<Vec<usize>> = records
            .iter()
            .map(|r| r.iter().map(Vec::len).collect())
            .collect();
        assert_eq!(sizes, [vec![2], vec![RECORD_TARGET + 10], vec![2]]);
    }
}
