//! Arbitrary bytes into both message parsers and the server record splitter:
//! typed errors, no panics, anything accepted re-encodes to something that
//! parses the same way, and an encoded message never holds the separator.
#![no_main]

use cove_common::proto::MESSAGE_SEPARATOR;
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
    for m in ServerMessage::parse_record(data).flatten() {
        let encoded = m.encode();
        assert!(!encoded.contains(&MESSAGE_SEPARATOR), "separator inside a message");
        let again = ServerMessage::parse(&encoded).expect("re-encoded server message parses");
        assert_eq!(again.encode(), encoded);
    }
});
