//! Arbitrary client hellos against the server side of the handshake.
#![no_main]

use std::sync::OnceLock;

use cove_common::handshake::{ServerHandshake, ServerIdentity};
use libfuzzer_sys::fuzz_target;

fn identity() -> &'static ServerIdentity {
    static ID: OnceLock<ServerIdentity> = OnceLock::new();
    ID.get_or_init(|| ServerIdentity::from_secret_bytes([7; 32]))
}

fuzz_target!(|data: &[u8]| {
    if let Err(e) = ServerHandshake::respond(identity(), data) {
        assert!(!e.to_string().is_empty());
    }
});
