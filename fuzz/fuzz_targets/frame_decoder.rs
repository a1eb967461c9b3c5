//! Arbitrary bytes through the frame decoder: no panic, no frame over the cap,
//! no buffer growth past the cap.
#![no_main]

use bytes::BytesMut;
use cove_common::frame::{LEN_PREFIX, decode_frame};
use cove_common::limits::MAX_FRAME_LEN;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut buf = BytesMut::new();
    // Feed in two chunks to exercise partial frames.
    let split = data.first().map_or(0, |b| usize::from(*b)).min(data.len());
    for chunk in [&data[..split], &data[split..]] {
        buf.extend_from_slice(chunk);
        loop {
            match decode_frame(&mut buf) {
                Ok(Some(f)) => assert!(!f.is_empty() && f.len() <= MAX_FRAME_LEN),
                Ok(None) => break,
                Err(_) => return,
            }
        }
        assert!(buf.capacity() <= (MAX_FRAME_LEN + LEN_PREFIX).max(data.len()) * 2);
    }
});
