//! Wall-clock time as the protocol carries it: milliseconds since the Unix
//! epoch ([`Timestamp`]). One definition for the server, the client session
//! and the app.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::proto::Timestamp;

/// Milliseconds since the Unix epoch (0 if the clock is before it).
pub fn now_ms() -> Timestamp {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Microseconds since the Unix epoch (0 if the clock is before it).
pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn milliseconds_and_microseconds_agree() {
        let ms = now_ms();
        let us = now_us();
        // Taken a moment apart, in that order.
        assert!(us / 1000 >= ms);
        assert!(us / 1000 - ms < 60_000);
        // After 2020-01-01: the clock is real, not zero.
        assert!(ms > 1_577_836_800_000);
    }
}
