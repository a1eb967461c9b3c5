//! One client connection on the wire: the handshake, and the writer task
//! that seals queued messages into records and coalesces everything queued
//! at one wake-up into a single `write`. What the records carry is read by
//! the request handlers above (`cmd`); this module never looks inside a
//! message.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use cove_common::ServerIdentity;
use cove_common::frame::{FrameCodec, encode_frame};
use cove_common::handshake::ServerHandshake;
use cove_common::limits::WRITE_COALESCE_BYTES;
use cove_common::proto::MESSAGE_SEPARATOR;
use cove_common::record::{Opener, Sealer};
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio_util::codec::FramedRead;
use tracing::{debug, info, warn};

use crate::outbox::{Kick, OutboxReceiver, Outgoing};

/// Queued messages are sealed together into records of up to about this
/// many bytes (TLS's largest record), so a busy connection pays one IV, one
/// MAC and one cipher start per record rather than per message.
const RECORD_TARGET: usize = 16 * 1024;

/// The reading half of a connection, one frame at a time.
pub type FrameReader = FramedRead<OwnedReadHalf, FrameCodec>;

/// Runs the server side of the handshake within `timeout` per step; on
/// success returns the record keys and the writing half.
pub async fn handshake(
    reader: &mut FrameReader,
    mut write: OwnedWriteHalf,
    peer: SocketAddr,
    identity: &ServerIdentity,
    timeout: Duration,
) -> Option<(Sealer, Opener, OwnedWriteHalf)> {
    let first = tokio::time::timeout(timeout, reader.next()).await;
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
    match ServerHandshake::respond(identity, &hello) {
        Ok(outcome) => {
            let mut buf = BytesMut::new();
            encode_frame(&outcome.reply, &mut buf).ok()?;
            let sent = tokio::time::timeout(timeout, write.write_all(&buf));
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
                    let _ = tokio::time::timeout(timeout, write.write_all(&buf)).await;
                }
            }
            None
        }
    }
}

/// Seals and writes everything queued for one connection until the queue
/// closes, a `Close` item was written, or the connection is kicked.
pub async fn write_loop(
    mut write: OwnedWriteHalf,
    mut sealer: Sealer,
    mut rx: OutboxReceiver,
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
            m = rx.rx.recv() => m,
        };
        let Some(first) = first else { break };
        let mut closing = false;
        let mut next = Some(first);
        let mut record_len = 0;
        while let Some(item) = next.take() {
            // Counted down once taken: what waits here or in `buf` is
            // bounded by the coalescing limit, not by the queue's cap.
            rx.queued.taken(&item);
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
            next = rx.rx.try_recv().ok();
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
    use crate::outbox::Outbox;
    use cove_common::crypto::EtmKey;
    use cove_common::frame::decode_frame;
    use cove_common::record::Direction;
    use tokio::io::AsyncReadExt;
    use tokio::net::TcpStream;

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
        let (outbox, rx) = Outbox::new(queued.len() + 1, 1 << 20, Arc::new(Kick::default()));
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
