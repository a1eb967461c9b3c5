//! Arbitrary records into the opener: every one is refused (the fuzzer does
//! not know the key), none panics.
#![no_main]

use cove_common::crypto::EtmKey;
use cove_common::record::{Direction, Opener};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let key = EtmKey::new(&[1; 32], &[2; 32]);
    let mut opener = Opener::new(key, Direction::ClientToServer);
    let mut buf = data.to_vec();
    assert!(opener.open(&mut buf).is_err());
});
