//! Arbitrary server hellos against the client side of the handshake: only a
//! server holding the static key can produce an accepted hello.
#![no_main]

use cove_common::handshake::ClientHandshake;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (client, _hello) = ClientHandshake::start();
    // The client's ephemeral key is fresh, so no fuzzed input can carry a
    // valid confirmation tag for it.
    assert!(client.finish(data).is_err());
});
