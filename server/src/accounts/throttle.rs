//! Login and registration throttles: growing lockouts for repeated failures
//! per client address, per username and address pair, and per username, and
//! a per-address budget of registrations.
//!
//! The per-username lockout stops guessing spread over many addresses, but
//! on its own it would let anyone lock an owner out of their account. So,
//! like the "device cookie" of OWASP's authentication cheat sheet, an address
//! the account has logged in from before is exempt from it (never from its
//! own pair and address limits).

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Failures allowed per address, and per username and address, before
/// delays start.
const FREE_FAILURES: u32 = 3;
/// Failures allowed per username (from addresses it never logged in from)
/// before delays start; higher, as these may come from many honest places.
const FREE_NAME_FAILURES: u32 = 10;
/// Longest lockout for one key.
const MAX_LOCKOUT: Duration = Duration::from_secs(60);
/// Failures older than this are forgotten.
const FORGET_AFTER: Duration = Duration::from_secs(15 * 60);
/// Bound on remembered keys, so a flood of names cannot grow memory.
const MAX_TRACKED: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
    blocked_until: Instant,
}

/// Counts failures per key and computes growing lockouts:
/// none for the first `free` failures, then 1 s, 2 s, 4 s … up to
/// `MAX_LOCKOUT`.
#[derive(Debug)]
pub struct RateLimiter {
    free: u32,
    entries: HashMap<String, Failures>,
}

impl Default for RateLimiter {
    fn default() -> Self {
        Self::new(FREE_FAILURES)
    }
}

impl RateLimiter {
    /// A limiter allowing `free` failures per key before delays start.
    pub fn new(free: u32) -> Self {
        Self {
            free,
            entries: HashMap::new(),
        }
    }

    /// Seconds until `key` may try again, if it is locked out.
    pub fn blocked_for(&self, key: &str, now: Instant) -> Option<Duration> {
        let f = self.entries.get(key)?;
        (f.blocked_until > now).then(|| f.blocked_until - now)
    }

    /// Records a failure.
    pub fn fail(&mut self, key: &str, now: Instant) {
        if self.entries.len() >= MAX_TRACKED {
            self.entries
                .retain(|_, f| now.duration_since(f.last) < FORGET_AFTER);
            if self.entries.len() >= MAX_TRACKED {
                self.entries.clear();
            }
        }
        let f = self.entries.entry(key.to_owned()).or_insert(Failures {
            count: 0,
            last: now,
            blocked_until: now,
        });
        if now.duration_since(f.last) >= FORGET_AFTER {
            f.count = 0;
        }
        f.count += 1;
        f.last = now;
        if f.count > self.free {
            let exp = (f.count - self.free - 1).min(16);
            let delay = Duration::from_secs(1u64 << exp).min(MAX_LOCKOUT);
            f.blocked_until = now + delay;
        }
    }

    /// Forgets a key's failures (after a successful login).
    pub fn succeed(&mut self, key: &str) {
        self.entries.remove(key);
    }
}

/// A token bucket per client address for registrations: `per_hour`
/// tokens at most, refilled at `per_hour` an hour.
#[derive(Debug, Default)]
pub struct RegistrationBudget {
    per_hour: u32,
    buckets: HashMap<IpAddr, (f64, Instant)>,
}

impl RegistrationBudget {
    /// A budget of `per_hour` registrations an hour per address (0: none).
    pub fn new(per_hour: u32) -> Self {
        Self {
            per_hour,
            buckets: HashMap::new(),
        }
    }

    /// Takes one registration for `addr`, or says how long until one is
    /// available.
    pub fn take(&mut self, addr: IpAddr, now: Instant) -> Result<(), Duration> {
        if self.per_hour == 0 {
            return Ok(());
        }
        let cap = f64::from(self.per_hour);
        let per_sec = cap / 3600.0;
        if self.buckets.len() >= MAX_TRACKED {
            // Full buckets carry no information; drop them first.
            self.buckets
                .retain(|_, (t, at)| *t + now.duration_since(*at).as_secs_f64() * per_sec < cap);
            if self.buckets.len() >= MAX_TRACKED {
                self.buckets.clear();
            }
        }
        let (tokens, at) = self.buckets.entry(addr).or_insert((cap, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * per_sec).min(cap);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - *tokens) / per_sec))
        }
    }
}

/// Login throttling by address, by username and address, and by username
/// (except from addresses the account has logged in from).
#[derive(Debug)]
pub struct Throttle {
    by_addr: RateLimiter,
    by_pair: RateLimiter,
    by_name: RateLimiter,
    trusted: HashSet<(String, IpAddr)>,
}

impl Default for Throttle {
    fn default() -> Self {
        Self {
            by_addr: RateLimiter::new(FREE_FAILURES),
            by_pair: RateLimiter::new(FREE_FAILURES),
            by_name: RateLimiter::new(FREE_NAME_FAILURES),
            trusted: HashSet::new(),
        }
    }
}

impl Throttle {
    fn pair(name_key: &str, addr: IpAddr) -> String {
        format!("{name_key} {addr}")
    }

    /// How long a login for `name_key` from `addr` must wait, if at all.
    pub fn blocked_for(&self, name_key: &str, addr: IpAddr, now: Instant) -> Option<Duration> {
        let by_name = if self.trusted.contains(&(name_key.to_owned(), addr)) {
            None
        } else {
            self.by_name.blocked_for(name_key, now)
        };
        [
            self.by_addr.blocked_for(&addr.to_string(), now),
            self.by_pair.blocked_for(&Self::pair(name_key, addr), now),
            by_name,
        ]
        .into_iter()
        .flatten()
        .max()
    }

    /// Records a failed login.
    pub fn fail(&mut self, name_key: &str, addr: IpAddr, now: Instant) {
        self.by_addr.fail(&addr.to_string(), now);
        self.by_pair.fail(&Self::pair(name_key, addr), now);
        self.by_name.fail(name_key, now);
    }

    /// Records a successful login: the address becomes trusted for the
    /// account, and the account's failures are forgotten.
    pub fn succeed(&mut self, name_key: &str, addr: IpAddr) {
        self.by_pair.succeed(&Self::pair(name_key, addr));
        self.by_name.succeed(name_key);
        if self.trusted.len() >= MAX_TRACKED {
            self.trusted.clear();
        }
        self.trusted.insert((name_key.to_owned(), addr));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lockout_grows_and_resets() {
        let mut r = RateLimiter::default();
        let t0 = Instant::now();
        for _ in 0..FREE_FAILURES {
            r.fail("alice", t0);
        }
        assert_eq!(r.blocked_for("alice", t0), None);
        r.fail("alice", t0);
        assert_eq!(r.blocked_for("alice", t0), Some(Duration::from_secs(1)));
        r.fail("alice", t0);
        assert_eq!(r.blocked_for("alice", t0), Some(Duration::from_secs(2)));
        for _ in 0..20 {
            r.fail("alice", t0);
        }
        assert_eq!(r.blocked_for("alice", t0), Some(MAX_LOCKOUT));
        assert_eq!(r.blocked_for("alice", t0 + MAX_LOCKOUT), None);
        assert_eq!(r.blocked_for("bob", t0), None);
        r.succeed("alice");
        assert_eq!(r.blocked_for("alice", t0), None);
    }

    #[test]
    fn old_failures_are_forgotten() {
        let mut r = RateLimiter::default();
        let t0 = Instant::now();
        for _ in 0..=FREE_FAILURES {
            r.fail("x", t0);
        }
        assert!(r.blocked_for("x", t0).is_some());
        let later = t0 + FORGET_AFTER;
        r.fail("x", later);
        assert_eq!(r.blocked_for("x", later), None);
    }

    #[test]
    fn a_flood_on_one_name_does_not_lock_out_its_owner() {
        let mut t = Throttle::default();
        let attacker: IpAddr = "127.0.0.1".parse().unwrap();
        let owner: IpAddr = "127.0.0.2".parse().unwrap();
        let stranger: IpAddr = "127.0.0.3".parse().unwrap();
        let t0 = Instant::now();
        t.succeed("alice", owner);
        let mut now = t0;
        for _ in 0..10_000 {
            // The attacker retries the moment each lockout ends.
            if let Some(wait) = t.blocked_for("alice", attacker, now) {
                now += wait;
            }
            t.fail("alice", attacker, now);
        }
        assert_eq!(t.blocked_for("alice", attacker, now), Some(MAX_LOCKOUT));
        assert_eq!(t.blocked_for("alice", owner, now), None);
        // Without the exemption the name-wide lockout holds.
        assert_eq!(t.blocked_for("alice", stranger, now), Some(MAX_LOCKOUT));
        // Other accounts from the owner's address are unaffected.
        assert_eq!(t.blocked_for("bob", owner, now), None);
    }

    #[test]
    fn guesses_spread_over_addresses_hit_the_name_limit() {
        let mut t = Throttle::default();
        let now = Instant::now();
        for i in 0..FREE_NAME_FAILURES + 1 {
            let addr = IpAddr::from([10, 0, 0, i as u8]);
            assert_eq!(t.blocked_for("alice", addr, now), None);
            t.fail("alice", addr, now);
        }
        let fresh = IpAddr::from([10, 0, 1, 1]);
        assert_eq!(
            t.blocked_for("alice", fresh, now),
            Some(Duration::from_secs(1))
        );
        assert_eq!(t.blocked_for("bob", fresh, now), None);
    }

    #[test]
    fn registrations_per_address_are_budgeted() {
        let mut b = RegistrationBudget::new(60);
        let (a, other): (IpAddr, IpAddr) =
            ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let t0 = Instant::now();
        for _ in 0..60 {
            assert!(b.take(a, t0).is_ok());
        }
        // The burst is spent: the next one comes a minute later.
        let wait = b.take(a, t0).unwrap_err();
        assert_eq!(wait.as_secs(), 60);
        assert!(b.take(other, t0).is_ok());
        assert!(b.take(a, t0 + Duration::from_secs(61)).is_ok());
        assert!(b.take(a, t0 + Duration::from_secs(62)).is_err());
        // No limit at all with 0.
        let mut free = RegistrationBudget::new(0);
        for _ in 0..1000 {
            assert!(free.take(a, t0).is_ok());
        }
    }
}
