//! Framing: every message on the wire is a 4-byte big-endian length followed
//! by that many bytes. The length is checked against [`MAX_FRAME_LEN`] before
//! anything is allocated for the body, so a hostile length prefix costs the
//! receiver nothing.

use bytes::{Buf, BufMut, BytesMut};

use crate::limits::MAX_FRAME_LEN;

/// Bytes in the length prefix.
pub const LEN_PREFIX: usize = 4;

/// Why a frame was refused.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The length prefix announced more than [`MAX_FRAME_LEN`] bytes.
    #[error("frame of {0} bytes exceeds the {max} byte limit", max = MAX_FRAME_LEN)]
    TooLarge(usize),
    /// A frame with an empty body (never valid in this protocol).
    #[error("empty frame")]
    Empty,
    /// The peer closed the connection in the middle of a frame.
    #[error("connection closed in the middle of a frame")]
    Truncated,
    /// The underlying transport failed.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

/// Takes one complete frame body off the front of `buf`, if one is there.
///
/// Returns `Ok(None)` when more bytes are needed. Reserves room for the rest
/// of a frame only after its length has been checked.
pub fn decode_frame(buf: &mut BytesMut) -> Result<Option<BytesMut>, FrameError> {
    if buf.len() < LEN_PREFIX {
        return Ok(None);
    }
    let len = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
    if len > MAX_FRAME_LEN {
        return Err(FrameError::TooLarge(len));
    }
    if len == 0 {
        return Err(FrameError::Empty);
    }
    if buf.len() < LEN_PREFIX + len {
        buf.reserve(LEN_PREFIX + len - buf.len());
        return Ok(None);
    }
    buf.advance(LEN_PREFIX);
    Ok(Some(buf.split_to(len)))
}

/// Appends `body` to `dst` as one frame.
pub fn encode_frame(body: &[u8], dst: &mut impl BufMut) -> Result<(), FrameError> {
    check_len(body.len())?;
    dst.put_u32(body.len() as u32);
    dst.put_slice(body);
    Ok(())
}

/// Checks a body length against the frame limits.
pub fn check_len(len: usize) -> Result<(), FrameError> {
    match len {
        0 => Err(FrameError::Empty),
        n if n > MAX_FRAME_LEN => Err(FrameError::TooLarge(n)),
        _ => Ok(()),
    }
}

/// The tokio-util codec for the shared framing, used by the server and the
/// client session alike.
#[cfg(feature = "codec")]
#[derive(Debug, Default, Clone, Copy)]
pub struct FrameCodec;

#[cfg(feature = "codec")]
impl tokio_util::codec::Decoder for FrameCodec {
    type Item = BytesMut;
    type Error = FrameError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<BytesMut>, FrameError> {
        decode_frame(src)
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<BytesMut>, FrameError> {
        match decode_frame(buf)? {
            Some(frame) => Ok(Some(frame)),
            None if buf.is_empty() => Ok(None),
            None => Err(FrameError::Truncated),
        }
    }
}

#[cfg(feature = "codec")]
impl tokio_util::codec::Encoder<&[u8]> for FrameCodec {
    type Error = FrameError;

    fn encode(&mut self, body: &[u8], dst: &mut BytesMut) -> Result<(), FrameError> {
        check_len(body.len())?;
        dst.reserve(LEN_PREFIX + body.len());
        encode_frame(body, dst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_partial_input() {
        let mut wire = BytesMut::new();
        encode_frame(b"hello", &mut wire).unwrap();
        encode_frame(b"world!", &mut wire).unwrap();
        let all = wire.clone();
        // Feed one byte at a time: frames come out whole, in order.
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for b in all.iter() {
            buf.put_u8(*b);
            while let Some(f) = decode_frame(&mut buf).unwrap() {
                out.push(f.to_vec());
            }
        }
        assert_eq!(out, vec![b"hello".to_vec(), b"world!".to_vec()]);
        assert!(buf.is_empty());
    }

    #[test]
    fn oversized_prefix_rejected_before_allocation() {
        let mut buf = BytesMut::from(&[0xff, 0xff, 0xff, 0xff][..]);
        let cap = buf.capacity();
        assert!(matches!(
            decode_frame(&mut buf),
            Err(FrameError::TooLarge(0xffff_ffff))
        ));
        assert_eq!(buf.capacity(), cap);
        let mut buf = BytesMut::new();
        buf.put_u32(MAX_FRAME_LEN as u32 + 1);
        assert!(matches!(
            decode_frame(&mut buf),
            Err(FrameError::TooLarge(_))
        ));
    }

    #[test]
    fn limits_on_encode() {
        let mut v = Vec::new();
        assert!(matches!(encode_frame(b"", &mut v), Err(FrameError::Empty)));
        assert!(matches!(
            encode_frame(&vec![0; MAX_FRAME_LEN + 1], &mut v),
            Err(FrameError::TooLarge(_))
        ));
        encode_frame(&vec![0; MAX_FRAME_LEN], &mut v).unwrap();
        assert_eq!(v.len(), MAX_FRAME_LEN + LEN_PREFIX);
    }

    #[test]
    fn empty_frame_rejected() {
        let mut buf = BytesMut::from(&[0, 0, 0, 0][..]);
        assert!(matches!(decode_frame(&mut buf), Err(FrameError::Empty)));
    }
}
