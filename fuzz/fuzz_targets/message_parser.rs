//! Arbitrary bytes into both message parsers: typed errors, no panics, and
//! anything accepted re-encodes to something that parses the same way.
#![no_main]

use cove_common::{ClientMessage, ServerMessage};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = ClientMessage::parse(data) {
        let again = ClientMessage::parse(&m.encode()).expect("re-encoded client message parses");
        assert_eq!(again.encode(), m.encode());
    }
    if let Ok(m) = ServerMessage::parse(data) {
        let again = ServerMessage::parse(&m.encode()).expect("re-encoded server message parses");
        assert_eq!(again.encode(), m.encode());
    }
});
