//! The pace at which one user may send: a token bucket per user, over all
//! their sessions, so that one account cannot flood a room whose every
//! member then receives (and stores) each message.

use std::time::{Duration, Instant};

/// Seconds of the sustained rate a user may send at once.
const BURST_SECONDS: u32 = 3;

/// One user's bucket.
#[derive(Debug, Clone, Copy)]
pub(super) struct SendPace {
    tokens: f64,
    at: Instant,
}

impl SendPace {
    /// A full bucket.
    pub(super) fn new(now: Instant) -> Self {
        Self {
            tokens: f64::INFINITY,
            at: now,
        }
    }

    /// Takes one message at `per_second` (0: no limit), or says how long
    /// until one may be sent.
    pub(super) fn take(&mut self, per_second: u32, now: Instant) -> Result<(), Duration> {
        if per_second == 0 {
            return Ok(());
        }
        let rate = f64::from(per_second);
        let cap = rate * f64::from(BURST_SECONDS);
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(cap);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / rate))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_sustained_rate() {
        let t0 = Instant::now();
        let mut p = SendPace::new(t0);
        let sent = (0..100).filter(|_| p.take(10, t0).is_ok()).count();
        assert_eq!(sent, 30, "three seconds' worth at once");
        let wait = p.take(10, t0).unwrap_err();
        assert!(wait <= Duration::from_millis(100), "{wait:?}");
        let later = t0 + Duration::from_secs(1);
        let sent = (0..100).filter(|_| p.take(10, later).is_ok()).count();
        assert_eq!(sent, 10, "one second later, one second's worth");
        let mut free = SendPace::new(t0);
        assert!((0..10_000).all(|_| free.take(0, t0).is_ok()));
    }
}
