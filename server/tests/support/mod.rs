//! Shared helpers for the server's integration tests: a real server on
//! `127.0.0.1:0` with a temporary data directory, driven by the headless
//! client session, plus a raw client for sending hostile bytes.
#![allow(dead_code, clippy::unwrap_used, missing_docs)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::BytesMut;
use cove_common::client::{self, Auth, Event, Events, Session, Welcome};
use cove_common::frame::{decode_frame, encode_frame};
use cove_common::handshake::ClientHandshake;
use cove_common::record::{Opener, Sealer};
use cove_common::{
    ClientMessage, ClientMsgId, MessageText, Password, Request, ServerMessage, Target, Username,
};
use cove_server::{Config, KdfParams, Server, ServerHandle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub const PASSWORD: &str = "correct horse battery";
pub const WAIT: Duration = Duration::from_secs(10);

pub struct TestServer {
    pub dir: tempfile::TempDir,
    pub handle: Option<ServerHandle>,
    pub addr: String,
}

pub fn test_config(data_dir: PathBuf) -> Config {
    let mut c = Config::new("127.0.0.1:0", data_dir);
    c.kdf = KdfParams::insecure_for_tests();
    // Tests register hundreds of accounts from 127.0.0.1; the per-address
    // budget has its own test.
    c.registrations_per_address_per_hour = 0;
    // Tests send as fast as they can; the send limit has its own test.
    c.messages_per_second_per_user = 0;
    c
}

/// A server on a fresh data directory with `tweak` applied to the test
/// configuration: its address, its handle (it stops when dropped) and the
/// directory (removed when dropped).
#[allow(dead_code)]
pub async fn start_with(
    tweak: impl FnOnce(&mut Config),
) -> (String, ServerHandle, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path().join("data"));
    tweak(&mut config);
    let server = Server::bind(config).await.unwrap();
    let addr = server.local_addr().to_string();
    (addr, server.spawn(), dir)
}

impl TestServer {
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Self {
            dir,
            handle: None,
            addr: String::new(),
        };
        s.boot().await;
        s
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    async fn boot(&mut self) {
        let server = Server::bind(test_config(self.data_dir())).await.unwrap();
        self.addr = server.local_addr().to_string();
        self.handle = Some(server.spawn());
    }

    pub async fn stop(&mut self) {
        if let Some(h) = self.handle.take() {
            h.shutdown().await;
        }
    }

    pub async fn restart(&mut self) {
        self.stop().await;
        self.boot().await;
    }
}

pub fn user(name: &str) -> Username {
    Username::new(name).unwrap()
}

pub fn pw(p: &str) -> Password {
    Password::new(p).unwrap()
}

pub async fn try_auth(
    addr: &str,
    auth: Auth,
) -> Result<(Session, Events, Welcome), client::ClientError> {
    client::connect(addr).await?.authenticate(auth).await
}

pub async fn register(addr: &str, name: &str) -> (Session, Events, Welcome) {
    try_auth(
        addr,
        Auth::Register {
            username: user(name),
            password: pw(PASSWORD),
        },
    )
    .await
    .unwrap()
}

pub async fn login(addr: &str, name: &str) -> (Session, Events, Welcome) {
    try_auth(
        addr,
        Auth::Login {
            username: user(name),
            password: pw(PASSWORD),
        },
    )
    .await
    .unwrap()
}

/// Waits for the first server message matching `pred`, skipping others.
pub async fn expect<F>(events: &mut Events, what: &str, mut pred: F) -> ServerMessage
where
    F: FnMut(&ServerMessage) -> bool,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let ev = tokio::time::timeout_at(deadline, events.recv())
            .await
            .unwrap_or_else(|_| panic!("timed out waiting for {what}"));
        match ev {
            Some(Event::Message(m)) if pred(&m) => return m,
            Some(Event::Message(_)) => continue,
            Some(Event::Closed(e)) => panic!("closed while waiting for {what}: {e:?}"),
            None => panic!("events ended while waiting for {what}"),
        }
    }
}

/// Waits until the session's connection closes; returns messages seen.
pub async fn until_closed(events: &mut Events) -> Vec<ServerMessage> {
    let mut seen = Vec::new();
    loop {
        let ev = tokio::time::timeout(WAIT, events.recv())
            .await
            .expect("timed out waiting for close");
        match ev {
            Some(Event::Message(m)) => seen.push(m),
            Some(Event::Closed(_)) | None => return seen,
        }
    }
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// A client speaking the protocol by hand, to send what a real client never
/// would.
pub struct RawClient {
    pub stream: TcpStream,
    pub sealer: Sealer,
    pub opener: Opener,
    buf: BytesMut,
    /// Messages of a record already read, not yet returned.
    pending: std::collections::VecDeque<ServerMessage>,
}

impl RawClient {
    pub async fn connect(addr: &str) -> Self {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let (hs, hello) = ClientHandshake::start();
        let mut out = BytesMut::new();
        encode_frame(&hello, &mut out).unwrap();
        stream.write_all(&out).await.unwrap();
        let mut buf = BytesMut::new();
        let reply = read_frame(&mut stream, &mut buf).await.unwrap();
        let outcome = hs.finish(&reply).unwrap();
        Self {
            stream,
            sealer: outcome.channel.sealer,
            opener: outcome.channel.opener,
            buf,
            pending: Default::default(),
        }
    }

    /// A raw connection logged in as `name` (password [`PASSWORD`]), its
    /// welcome (request id 1) read.
    pub async fn logged_in(addr: &str, name: &str) -> Self {
        let mut raw = Self::connect(addr).await;
        raw.send(
            1,
            Request::Login {
                username: user(name),
                password: pw(PASSWORD),
            },
        )
        .await;
        assert!(matches!(
            raw.recv().await,
            Some(ServerMessage::Welcome { id: 1, .. })
        ));
        raw
    }

    /// Seals and sends one record; returns the frame bytes sent.
    pub async fn send_plain(&mut self, plaintext: &[u8]) -> BytesMut {
        let mut out = BytesMut::new();
        self.sealer.seal_frame(plaintext, &mut out).unwrap();
        self.stream.write_all(&out).await.unwrap();
        out
    }

    pub async fn send(&mut self, id: u64, request: Request) -> BytesMut {
        self.send_plain(&ClientMessage { id, request }.encode())
            .await
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) {
        let _ = self.stream.write_all(bytes).await;
    }

    /// The next server message, or `None` once the server closed.
    pub async fn recv(&mut self) -> Option<ServerMessage> {
        while self.pending.is_empty() {
            let mut frame = tokio::time::timeout(WAIT, read_frame(&mut self.stream, &mut self.buf))
                .await
                .expect("timed out reading")?;
            let pt = self.opener.open(&mut frame).unwrap();
            self.pending
                .extend(ServerMessage::parse_record(pt).map(Result::unwrap));
        }
        self.pending.pop_front()
    }

    /// True once the server has closed the connection (reading gives EOF).
    pub async fn closed(&mut self) -> bool {
        loop {
            match tokio::time::timeout(WAIT, read_frame(&mut self.stream, &mut self.buf)).await {
                Ok(None) => return true,
                Ok(Some(_)) => continue,
                Err(_) => return false,
            }
        }
    }
}

pub async fn read_frame(stream: &mut TcpStream, buf: &mut BytesMut) -> Option<BytesMut> {
    loop {
        if let Ok(Some(f)) = decode_frame(buf) {
            return Some(f);
        }
        let mut chunk = [0u8; 4096];
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Waits for the ack of request `id` and returns the message id it names.
#[allow(dead_code)]
pub async fn acked_message_id(events: &mut Events, id: u64) -> u64 {
    let ack = expect(
        events,
        "ack",
        |m| matches!(m, ServerMessage::Ack { id: i, .. } if *i == id),
    )
    .await;
    let ServerMessage::Ack { message_id, .. } = ack else {
        unreachable!()
    };
    message_id
}

/// Sends `text` to `to` with the client id `client_id`, waits for its ack
/// and returns the stored message's id.
#[allow(dead_code)]
pub async fn say_acked(
    session: &Session,
    events: &mut Events,
    to: Target,
    text: &str,
    client_id: &str,
) -> u64 {
    let id = session
        .say(
            to,
            MessageText::new(text).unwrap(),
            ClientMsgId::new(client_id).unwrap(),
        )
        .await
        .unwrap();
    acked_message_id(events, id).await
}

/// Asks for one page of `with`'s history and returns its messages (newest
/// first) and whether older ones remain.
pub async fn history_page(
    session: &Session,
    events: &mut Events,
    with: cove_common::Target,
    before: Option<u64>,
    limit: u16,
) -> (Vec<cove_common::proto::ChatMessage>, bool) {
    let id = session
        .send(Request::History {
            with,
            before,
            limit,
            cursor: None,
        })
        .await
        .unwrap();
    let h = expect(
        events,
        "history",
        |m| matches!(m, ServerMessage::History { id: i, .. } if *i == id),
    )
    .await;
    let ServerMessage::History { messages, more, .. } = h else {
        unreachable!()
    };
    (messages, more)
}
