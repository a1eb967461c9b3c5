//! A bare client for fault tests: a TCP connection from a chosen source
//! address, the handshake and records from the protocol core, and nothing
//! that would hide what the server does (no reader task, no buffering of
//! events). Hostile clients are built from it.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use bytes::BytesMut;
use cove_common::client::Auth;
use cove_common::frame::{decode_frame, encode_frame};
use cove_common::handshake::ClientHandshake;
use cove_common::handshake::SecureChannel;
use cove_common::proto::MESSAGE_SEPARATOR;
use cove_common::record::{Opener, Sealer};
use cove_common::{ClientMessage, Request, ServerMessage};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpSocket, TcpStream};

/// Opens a TCP connection to `addr` from `source` (any port), or from the
/// address the kernel picks. Loopback has the whole 127.0.0.0/8, so tests
/// can pose as many hosts.
pub async fn tcp(addr: &str, source: Option<IpAddr>) -> Result<TcpStream> {
    let target: SocketAddr = tokio::net::lookup_host(addr)
        .await?
        .next()
        .ok_or_else(|| anyhow!("no address for {addr}"))?;
    let socket = if target.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    if let Some(ip) = source {
        socket.bind(SocketAddr::new(ip, 0))?;
    }
    let stream = socket.connect(target).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// A connection past the handshake.
pub struct Raw {
    /// The socket, for writing whatever a test wants.
    pub stream: TcpStream,
    /// The channel's keys and sequence numbers.
    pub channel: SecureChannel,
    buf: BytesMut,
    next_id: u64,
    /// The messages of the last record not returned yet, still joined by
    /// the separator.
    unread: Vec<u8>,
}

impl Raw {
    /// Connects from `source` and runs the handshake.
    pub async fn connect(addr: &str, source: Option<IpAddr>) -> Result<Self> {
        let mut stream = tcp(addr, source).await?;
        let (hs, hello) = ClientHandshake::start();
        let mut out = BytesMut::new();
        encode_frame(&hello, &mut out)?;
        stream.write_all(&out).await?;
        let mut buf = BytesMut::new();
        let reply = read_frame(&mut stream, &mut buf)
            .await?
            .context("closed during the handshake")?;
        let outcome = hs.finish(&reply)?;
        Ok(Self {
            stream,
            channel: outcome.channel,
            buf,
            next_id: 1,
            unread: Vec::new(),
        })
    }

    /// Connects, registers or logs in, and returns the connection once the
    /// server has welcomed it.
    pub async fn authenticate(addr: &str, auth: Auth) -> Result<Self> {
        let mut raw = Self::connect(addr, None).await?;
        let id = raw.send(auth.into_request()).await?;
        match raw.reply_to(id).await? {
            Some(ServerMessage::Welcome { .. }) => Ok(raw),
            Some(ServerMessage::Error { message, .. }) => bail!("refused: {message}"),
            Some(other) => bail!("unexpected reply: {other:?}"),
            None => bail!("closed before the welcome"),
        }
    }

    /// Splits into a reading and a writing half, for separate tasks.
    pub fn split(self) -> (RawReader, RawWriter) {
        let (read, write) = self.stream.into_split();
        (
            RawReader {
                read,
                opener: self.channel.opener,
                buf: self.buf,
                unread: self.unread,
            },
            RawWriter {
                write,
                sealer: self.channel.sealer,
                next_id: self.next_id,
                out: BytesMut::new(),
            },
        )
    }

    /// Seals a request as one frame (length prefix included) without sending
    /// it, advancing the send sequence number.
    pub fn seal(&mut self, request: Request) -> Result<(u64, BytesMut)> {
        let id = self.next_id;
        self.next_id += 1;
        let msg = ClientMessage { id, request };
        let mut out = BytesMut::new();
        self.channel.sealer.seal_frame(&msg.encode(), &mut out)?;
        Ok((id, out))
    }

    /// Sends a request; returns its id.
    pub async fn send(&mut self, request: Request) -> Result<u64> {
        let (id, frame) = self.seal(request)?;
        self.stream.write_all(&frame).await?;
        Ok(id)
    }

    /// Sends any JSON object as a request, with the next id set as its
    /// `id`: how a test sends what [`Request`] cannot express (unknown
    /// types, values breaking the protocol's limits). Returns the id.
    pub async fn send_object(
        &mut self,
        mut object: serde_json::Map<String, serde_json::Value>,
    ) -> Result<u64> {
        let id = self.next_id;
        self.next_id += 1;
        object.insert("id".into(), id.into());
        let plaintext = serde_json::to_vec(&object)?;
        let mut out = BytesMut::new();
        self.channel.sealer.seal_frame(&plaintext, &mut out)?;
        self.stream.write_all(&out).await?;
        Ok(id)
    }

    /// The next message from the server; `None` once it closed the
    /// connection.
    pub async fn recv(&mut self) -> Result<Option<ServerMessage>> {
        if self.unread.is_empty() {
            let Some(mut frame) = read_frame(&mut self.stream, &mut self.buf).await? else {
                return Ok(None);
            };
            let plaintext = self.channel.opener.open(&mut frame)?;
            if plaintext.is_empty() {
                bail!("empty record");
            }
            self.unread = plaintext.to_vec();
        }
        let end = self
            .unread
            .iter()
            .position(|&b| b == MESSAGE_SEPARATOR)
            .unwrap_or(self.unread.len());
        let msg = ServerMessage::parse(&self.unread[..end]);
        self.unread.drain(..(end + 1).min(self.unread.len()));
        Ok(Some(msg?))
    }

    /// The reply to request `id` (skipping anything else), or `None` if the
    /// server closed the connection first.
    pub async fn reply_to(&mut self, id: u64) -> Result<Option<ServerMessage>> {
        loop {
            match self.recv().await? {
                None => return Ok(None),
                Some(m) if reply_id(&m) == Some(id) => return Ok(Some(m)),
                Some(_) => {}
            }
        }
    }
}

/// The receiving half of a [`Raw`] connection.
pub struct RawReader {
    read: OwnedReadHalf,
    opener: Opener,
    buf: BytesMut,
    unread: Vec<u8>,
}

impl RawReader {
    /// Opens the next record and hands each message in it to `f`, unparsed
    /// and uncopied, so a load generator can read only what it needs.
    /// False once the server closed the connection.
    pub async fn each_in_next(&mut self, mut f: impl FnMut(&[u8])) -> Result<bool> {
        if !self.unread.is_empty() {
            self.unread
                .split(|&b| b == MESSAGE_SEPARATOR)
                .for_each(&mut f);
            self.unread.clear();
            return Ok(true);
        }
        let Some(mut frame) = read_frame(&mut self.read, &mut self.buf).await? else {
            return Ok(false);
        };
        let plaintext = self.opener.open(&mut frame)?;
        plaintext.split(|&b| b == MESSAGE_SEPARATOR).for_each(f);
        Ok(true)
    }
}

/// The sending half of a [`Raw`] connection.
pub struct RawWriter {
    write: OwnedWriteHalf,
    sealer: Sealer,
    next_id: u64,
    out: BytesMut,
}

impl RawWriter {
    /// Sends a request; returns its id.
    pub async fn send(&mut self, request: Request) -> Result<u64> {
        let id = self.next_id;
        self.next_id += 1;
        let msg = ClientMessage { id, request };
        self.out.clear();
        self.sealer.seal_frame(&msg.encode(), &mut self.out)?;
        self.write.write_all(&self.out).await?;
        Ok(id)
    }
}

/// The request id a server message answers, if any.
pub fn reply_id(m: &ServerMessage) -> Option<u64> {
    m.answers()
}

/// Reads one frame body; `None` on a clean close.
pub async fn read_frame<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut BytesMut,
) -> Result<Option<BytesMut>> {
    loop {
        if let Some(frame) = decode_frame(buf)? {
            return Ok(Some(frame));
        }
        buf.reserve(32 * 1024);
        if stream.read_buf(buf).await? == 0 {
            if buf.is_empty() {
                return Ok(None);
            }
            bail!("closed mid-frame");
        }
    }
}

/// Waits until the peer closes `stream` (end of file or reset), discarding
/// what it sends; false if it is still open after `limit`.
pub async fn closed_within(stream: &mut TcpStream, limit: Duration) -> bool {
    let wait = async {
        let mut sink = [0u8; 16 * 1024];
        loop {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(limit, wait).await.is_ok()
}
