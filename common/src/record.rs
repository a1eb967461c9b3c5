//! The record layer: every frame after the handshake is one sealed record.
//!
//! A record is `IV (16) || AES-256-CFB ciphertext || HMAC-SHA256 tag (32)`
//! where the tag covers `direction (1) || sequence number (8, big-endian) ||
//! IV || ciphertext`. Each direction has its own keys and its own implicit
//! sequence number, which starts at 0 and counts records sent. The number is
//! never sent; a receiver that lost, got a replayed, reordered or reflected
//! record computes a different tag and refuses it.

use bytes::{BufMut, BytesMut};

use crate::crypto::{EtmKey, IV_LEN, OVERHEAD, OpenError};
use crate::frame::{LEN_PREFIX, check_len};
use crate::limits::MAX_FRAME_LEN;

/// Largest plaintext one record can carry.
pub const MAX_RECORD_PLAINTEXT: usize = MAX_FRAME_LEN - OVERHEAD;

/// Which way a record travels; part of every tag so that a record can never
/// be reflected back to its sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Direction {
    /// From the client to the server.
    ClientToServer = 1,
    /// From the server to the client.
    ServerToClient = 2,
}

/// Why a record was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// The record failed authentication (see [`OpenError`]).
    #[error("record rejected: {0}")]
    Open(#[from] OpenError),
    /// The plaintext is too large for one record.
    #[error("record plaintext of {0} bytes exceeds the limit of {max}", max = MAX_RECORD_PLAINTEXT)]
    TooLarge(usize),
    /// 2^64 records were sent under one key; the connection must end.
    #[error("record sequence number exhausted")]
    SequenceExhausted,
}

fn header(direction: Direction, seq: u64) -> [u8; 9] {
    let mut h = [0u8; 9];
    h[0] = direction as u8;
    h[1..].copy_from_slice(&seq.to_be_bytes());
    h
}

/// Seals outgoing records for one direction.
#[derive(Debug)]
pub struct Sealer {
    key: EtmKey,
    direction: Direction,
    seq: u64,
}

impl Sealer {
    /// A sealer for `direction` under `key`, starting at sequence number 0.
    pub fn new(key: EtmKey, direction: Direction) -> Self {
        Self {
            key,
            direction,
            seq: 0,
        }
    }

    /// Appends one framed record (length prefix included) carrying
    /// `plaintext` to `out`, with no intermediate copy.
    pub fn seal_frame(&mut self, plaintext: &[u8], out: &mut BytesMut) -> Result<(), RecordError> {
        self.seal_frame_joined(&[plaintext], 0, out)
    }

    /// Appends one framed record whose plaintext is `parts` joined by
    /// `separator`, assembled and encrypted inside `out`: the parts are
    /// copied once, into place.
    pub fn seal_frame_joined<P: AsRef<[u8]>>(
        &mut self,
        parts: &[P],
        separator: u8,
        out: &mut BytesMut,
    ) -> Result<(), RecordError> {
        let plain_len =
            parts.iter().map(|p| p.as_ref().len()).sum::<usize>() + parts.len().saturating_sub(1);
        let body_len = plain_len + OVERHEAD;
        if plain_len > MAX_RECORD_PLAINTEXT || check_len(body_len).is_err() {
            return Err(RecordError::TooLarge(plain_len));
        }
        let seq = self.next_seq()?;
        out.reserve(LEN_PREFIX + body_len);
        out.put_u32(body_len as u32);
        let iv_at = out.len();
        out.put_bytes(0, IV_LEN);
        for (i, part) in parts.iter().enumerate() {
            if i > 0 {
                out.put_u8(separator);
            }
            out.put_slice(part.as_ref());
        }
        let Some((iv, plaintext)) = out[iv_at..].split_first_chunk_mut::<IV_LEN>() else {
            unreachable!("the IV's room was just reserved");
        };
        let tag = self
            .key
            .seal_in_place(&header(self.direction, seq), iv, plaintext);
        out.put_slice(&tag);
        Ok(())
    }

    /// Seals one record into a new buffer (without length prefix).
    pub fn seal(&mut self, plaintext: &[u8]) -> Result<Vec<u8>, RecordError> {
        if plaintext.len() > MAX_RECORD_PLAINTEXT {
            return Err(RecordError::TooLarge(plaintext.len()));
        }
        let seq = self.next_seq()?;
        let mut out = Vec::with_capacity(plaintext.len() + OVERHEAD);
        self.key
            .seal_append(&header(self.direction, seq), plaintext, &mut out);
        Ok(out)
    }

    fn next_seq(&mut self) -> Result<u64, RecordError> {
        let seq = self.seq;
        self.seq = seq.checked_add(1).ok_or(RecordError::SequenceExhausted)?;
        Ok(seq)
    }
}

/// Opens incoming records for one direction.
#[derive(Debug)]
pub struct Opener {
    key: EtmKey,
    direction: Direction,
    seq: u64,
}

impl Opener {
    /// An opener for records travelling in `direction`, expecting sequence
    /// number 0 first.
    pub fn new(key: EtmKey, direction: Direction) -> Self {
        Self {
            key,
            direction,
            seq: 0,
        }
    }

    /// Verifies and decrypts one record (a frame body) in place and returns
    /// the plaintext. The sequence number advances only on success.
    pub fn open<'a>(&mut self, record: &'a mut [u8]) -> Result<&'a mut [u8], RecordError> {
        if self.seq == u64::MAX {
            return Err(RecordError::SequenceExhausted);
        }
        let pt = self
            .key
            .open_in_place(&header(self.direction, self.seq), record)?;
        self.seq += 1;
        Ok(pt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::decode_frame;

    fn pair() -> (Sealer, Opener) {
        let k = EtmKey::derive(b"ikm", b"salt", "record test");
        (
            Sealer::new(k.clone(), Direction::ClientToServer),
            Opener::new(k, Direction::ClientToServer),
        )
    }

    #[test]
    fn records_in_order_open() {
        let (mut s, mut o) = pair();
        for i in 0..5u8 {
            let mut r = s.seal(&[i; 10]).unwrap();
            assert_eq!(o.open(&mut r).unwrap(), &[i; 10]);
        }
    }

    #[test]
    fn replay_reorder_drop_reflect_rejected() {
        let (mut s, mut o) = pair();
        let r0 = s.seal(b"zero").unwrap();
        let r1 = s.seal(b"one").unwrap();
        let r2 = s.seal(b"two").unwrap();
        // Reordered: r1 before r0.
        assert!(o.open(&mut r1.clone()).is_err());
        assert_eq!(o.open(&mut r0.clone()).unwrap(), b"zero");
        // Replayed.
        assert!(o.open(&mut r0.clone()).is_err());
        // Dropped: r1 never arrives, r2 is refused.
        assert!(o.open(&mut r2.clone()).is_err());
        assert_eq!(o.open(&mut r1.clone()).unwrap(), b"one");
        // Reflected: a record the receiver itself would send in the other
        // direction under the same keys.
        let k = EtmKey::derive(b"ikm", b"salt", "record test");
        let mut back = Sealer::new(k, Direction::ServerToClient);
        let _ = back.seal(b"x").unwrap();
        let _ = back.seal(b"x").unwrap();
        let mut reflected = back.seal(b"two").unwrap();
        assert!(o.open(&mut reflected).is_err());
        assert_eq!(o.open(&mut r2.clone()).unwrap(), b"two");
    }

    #[test]
    fn framed_records_decode() {
        let (mut s, mut o) = pair();
        let mut wire = BytesMut::new();
        s.seal_frame(b"hello", &mut wire).unwrap();
        s.seal_frame(b"again", &mut wire).unwrap();
        let mut f = decode_frame(&mut wire).unwrap().unwrap();
        assert_eq!(o.open(&mut f).unwrap(), b"hello");
        let mut f = decode_frame(&mut wire).unwrap().unwrap();
        assert_eq!(o.open(&mut f).unwrap(), b"again");
    }

    #[test]
    fn size_limits() {
        let (mut s, _) = pair();
        let mut out = BytesMut::new();
        assert_eq!(
            s.seal_frame(&vec![0; MAX_RECORD_PLAINTEXT + 1], &mut out),
            Err(RecordError::TooLarge(MAX_RECORD_PLAINTEXT + 1))
        );
        s.seal_frame(&vec![0; MAX_RECORD_PLAINTEXT], &mut out)
            .unwrap();
        assert_eq!(out.len(), LEN_PREFIX + MAX_FRAME_LEN);
    }

    #[test]
    fn sequence_exhaustion_is_an_error_not_a_wrap() {
        let (mut s, _) = pair();
        s.seq = u64::MAX;
        assert_eq!(s.seal(b"x"), Err(RecordError::SequenceExhausted));
    }
}
