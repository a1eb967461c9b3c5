//! Login and registration throttles: growing lockouts for repeated failures
//! per client address, per username and address pair, and per username, and
//! a per-address budget of registrations.
//!
//! The per-username lockout stops guessing spread over many addresses, but
//! on its own it would let anyone lock an owner out of their account. So,
//! like the "device cookie" of OWASP's authentication cheat sheet, an address
//! the account has logged in from before is exempt from it (never from its
//! own pair and address limits).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
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

/// The network a client address counts for: the address itself for IPv4,
/// its /64 for IPv6 (one subscriber usually holds a whole /64, so counting
/// single IPv6 addresses would let one client take 2^64 fresh ones). An
/// IPv4 address mapped into IPv6 counts as the IPv4 address.
pub fn client_network(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V4(_) => addr,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// Keeps `map` under [`MAX_TRACKED`] entries: drops what is stale, then, if
/// that is not enough, the eighth least recently used among entries not
/// `protected` (a lockout still running), and only if every entry is
/// protected, the eighth least recently used of all. Never everything at
/// once: a flood of new keys must not wipe the lockouts it is meant to
/// dilute.
fn bound<K: Eq + std::hash::Hash, V>(
    map: &mut HashMap<K, V>,
    now: Instant,
    last: impl Fn(&V) -> Instant,
    stale: impl Fn(&V) -> bool,
    protected: impl Fn(&V) -> bool,
) {
    if map.len() < MAX_TRACKED {
        return;
    }
    map.retain(|_, v| !stale(v));
    if map.len() < MAX_TRACKED {
        return;
    }
    let evictable = map.values().filter(|v| !protected(v)).count();
    let spare_protected = evictable < map.len() / 8;
    let mut ages: Vec<Duration> = map
        .values()
        .filter(|v| spare_protected || !protected(v))
        .map(|v| now.duration_since(last(v)))
        .collect();
    let nth = (map.len() / 8).min(ages.len().saturating_sub(1));
    let (_, cutoff, _) = ages.select_nth_unstable_by(nth, |a, b| b.cmp(a));
    let cutoff = *cutoff;
    map.retain(|_, v| (!spare_protected && protected(v)) || now.duration_since(last(v)) < cutoff);
}

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
    /// Attempts begun and not yet ended, per key.
    in_flight: HashMap<String, u32>,
}

/// Whether an attempt may start now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// It may.
    Go,
    /// Attempts in flight could start a lockout if they fail: wait for them.
    Wait,
    /// A lockout runs for this long.
    Locked(Duration),
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
            in_flight: HashMap::new(),
        }
    }

    /// Whether an attempt for `key` may start: not while a lockout runs,
    /// and not while the attempts in flight, should they all fail, would
    /// bring the failures past the free ones (then it waits for them, so
    /// that parallel attempts are judged like sequential ones; honest
    /// parallel attempts only queue).
    pub fn admit(&self, key: &str, now: Instant) -> Admit {
        if let Some(wait) = self.blocked_for(key, now) {
            return Admit::Locked(wait);
        }
        let confirmed = self
            .entries
            .get(key)
            .filter(|f| now.duration_since(f.last) < FORGET_AFTER)
            .map_or(0, |f| f.count);
        let in_flight = self.in_flight.get(key).copied().unwrap_or(0);
        if confirmed + in_flight <= self.free || in_flight == 0 {
            Admit::Go
        } else {
            Admit::Wait
        }
    }

    /// An attempt for `key` starts.
    pub fn start(&mut self, key: &str) {
        *self.in_flight.entry(key.to_owned()).or_insert(0) += 1;
    }

    /// An attempt for `key` ended (its outcome is recorded separately).
    pub fn end(&mut self, key: &str) {
        if let Some(n) = self.in_flight.get_mut(key) {
            *n -= 1;
            if *n == 0 {
                self.in_flight.remove(key);
            }
        }
    }

    /// Seconds until `key` may try again, if it is locked out.
    pub fn blocked_for(&self, key: &str, now: Instant) -> Option<Duration> {
        let f = self.entries.get(key)?;
        (f.blocked_until > now).then(|| f.blocked_until - now)
    }

    /// Records a failure.
    pub fn fail(&mut self, key: &str, now: Instant) {
        if !self.entries.contains_key(key) {
            bound(
                &mut self.entries,
                now,
                |f| f.last,
                |f| now.duration_since(f.last) >= FORGET_AFTER && f.blocked_until <= now,
                |f| f.blocked_until > now,
            );
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

    /// How many keys are tracked.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no key is tracked.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// A token bucket per client network for registrations: `per_hour`
/// tokens at most, refilled at `per_hour` an hour.
#[derive(Debug, Default)]
pub struct RegistrationBudget {
    per_hour: u32,
    buckets: HashMap<IpAddr, (f64, Instant)>,
}

impl RegistrationBudget {
    /// A budget of `per_hour` registrations an hour per network (0: none).
    pub fn new(per_hour: u32) -> Self {
        Self {
            per_hour,
            buckets: HashMap::new(),
        }
    }

    /// Takes one registration for `addr`'s network, or says how long until
    /// one is available.
    pub fn take(&mut self, addr: IpAddr, now: Instant) -> Result<(), Duration> {
        if self.per_hour == 0 {
            return Ok(());
        }
        let addr = client_network(addr);
        let cap = f64::from(self.per_hour);
        let per_sec = cap / 3600.0;
        if !self.buckets.contains_key(&addr) {
            // Full buckets carry no information; they go first.
            bound(
                &mut self.buckets,
                now,
                |(_, at)| *at,
                |(t, at)| *t + now.duration_since(*at).as_secs_f64() * per_sec >= cap,
                |(t, at)| *t + now.duration_since(*at).as_secs_f64() * per_sec < 1.0,
            );
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

/// Login throttling by client network, by username and network, and by
/// username (except from networks the account has logged in from).
///
/// Attempts that overlap are judged as if they came one after another: an
/// attempt starts ([`Throttle::begin`]) only while the attempts already in
/// flight, should they all fail, could not start a lockout; otherwise it
/// waits for them ([`Admit::Wait`]) and is judged again. So from one network
/// at most `FREE_FAILURES + 1` passwords are checked before the first
/// lockout however many attempts arrive at once, while honest logins that
/// arrive together (a class behind one address) only queue.
#[derive(Debug)]
pub struct Throttle {
    by_addr: RateLimiter,
    by_pair: RateLimiter,
    by_name: RateLimiter,
    /// (name key, network) pairs that logged in, and when they last did.
    trusted: HashMap<(String, IpAddr), Instant>,
}

impl Default for Throttle {
    fn default() -> Self {
        Self {
            by_addr: RateLimiter::new(FREE_FAILURES),
            by_pair: RateLimiter::new(FREE_FAILURES),
            by_name: RateLimiter::new(FREE_NAME_FAILURES),
            trusted: HashMap::new(),
        }
    }
}

impl Throttle {
    fn pair(name_key: &str, net: IpAddr) -> String {
        format!("{name_key} {net}")
    }

    /// How long a login for `name_key` from `addr` must wait, if at all.
    pub fn blocked_for(&self, name_key: &str, addr: IpAddr, now: Instant) -> Option<Duration> {
        let net = client_network(addr);
        let by_name = if self.trusted.contains_key(&(name_key.to_owned(), net)) {
            None
        } else {
            self.by_name.blocked_for(name_key, now)
        };
        [
            self.by_addr.blocked_for(&net.to_string(), now),
            self.by_pair.blocked_for(&Self::pair(name_key, net), now),
            by_name,
        ]
        .into_iter()
        .flatten()
        .max()
    }

    fn keys(name_key: &str, addr: IpAddr) -> (String, String) {
        let net = client_network(addr);
        (net.to_string(), Self::pair(name_key, net))
    }

    /// Starts an attempt if it may start now; [`Admit::Go`] means it has
    /// started and must be ended with [`Throttle::end`].
    pub fn begin(&mut self, name_key: &str, addr: IpAddr, now: Instant) -> Admit {
        let (net_key, pair_key) = Self::keys(name_key, addr);
        let trusted = self
            .trusted
            .contains_key(&(name_key.to_owned(), client_network(addr)));
        let mut verdicts = vec![
            self.by_addr.admit(&net_key, now),
            self.by_pair.admit(&pair_key, now),
        ];
        if !trusted {
            verdicts.push(self.by_name.admit(name_key, now));
        }
        if let Some(wait) = verdicts
            .iter()
            .filter_map(|v| match v {
                Admit::Locked(w) => Some(*w),
                _ => None,
            })
            .max()
        {
            return Admit::Locked(wait);
        }
        if verdicts.contains(&Admit::Wait) {
            return Admit::Wait;
        }
        self.by_addr.start(&net_key);
        self.by_pair.start(&pair_key);
        self.by_name.start(name_key);
        Admit::Go
    }

    /// Ends an attempt begun with [`Throttle::begin`]: `Some(true)` for a
    /// right password, `Some(false)` for a wrong one, `None` if no password
    /// was checked (the server was too busy).
    pub fn end(&mut self, name_key: &str, addr: IpAddr, now: Instant, outcome: Option<bool>) {
        let (net_key, pair_key) = Self::keys(name_key, addr);
        self.by_addr.end(&net_key);
        self.by_pair.end(&pair_key);
        self.by_name.end(name_key);
        match outcome {
            Some(true) => self.trust(name_key, addr, now),
            Some(false) => self.fail(name_key, addr, now),
            None => {}
        }
    }

    /// Records a failed login.
    pub fn fail(&mut self, name_key: &str, addr: IpAddr, now: Instant) {
        let net = client_network(addr);
        self.by_addr.fail(&net.to_string(), now);
        self.by_pair.fail(&Self::pair(name_key, net), now);
        self.by_name.fail(name_key, now);
    }

    /// The network becomes trusted for the account (it is exempt from the
    /// account's name-wide lockout), and the account's failures are
    /// forgotten: after a successful login or a registration.
    pub fn trust(&mut self, name_key: &str, addr: IpAddr, now: Instant) {
        let net = client_network(addr);
        self.by_pair.succeed(&Self::pair(name_key, net));
        self.by_name.succeed(name_key);
        let key = (name_key.to_owned(), net);
        if !self.trusted.contains_key(&key) {
            bound(&mut self.trusted, now, |at| *at, |_| false, |_| false);
        }
        self.trusted.insert(key, now);
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
        t.trust("alice", owner, t0);
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

    #[test]
    fn attempts_in_parallel_are_judged_like_sequential_ones() {
        let mut t = Throttle::default();
        let addr: IpAddr = "198.51.100.7".parse().unwrap();
        let now = Instant::now();
        // 64 attempts arrive before any has been checked: four start, the
        // rest wait for them.
        let verdicts: Vec<Admit> = (0..64)
            .map(|i| t.begin(&format!("user{i}"), addr, now))
            .collect();
        assert_eq!(
            verdicts.iter().filter(|v| **v == Admit::Go).count(),
            FREE_FAILURES as usize + 1
        );
        assert!(
            verdicts[FREE_FAILURES as usize + 1..]
                .iter()
                .all(|v| *v == Admit::Wait)
        );
        // The four fail: the waiting ones are now locked out.
        for i in 0..=FREE_FAILURES {
            t.end(&format!("user{i}"), addr, now, Some(false));
        }
        assert!(matches!(t.begin("user9", addr, now), Admit::Locked(_)));
    }

    #[test]
    fn honest_parallel_logins_only_queue() {
        let mut t = Throttle::default();
        let addr: IpAddr = "198.51.100.8".parse().unwrap();
        let now = Instant::now();
        let mut waiting: Vec<String> = (0..30).map(|i| format!("student{i}")).collect();
        let mut logged_in = 0;
        while !waiting.is_empty() {
            let mut started = Vec::new();
            waiting.retain(|name| match t.begin(name, addr, now) {
                Admit::Go => {
                    started.push(name.clone());
                    false
                }
                Admit::Wait => true,
                Admit::Locked(w) => panic!("{name} locked out for {w:?}"),
            });
            assert!(!started.is_empty(), "progress");
            for name in started {
                t.end(&name, addr, now, Some(true));
                logged_in += 1;
            }
        }
        assert_eq!(logged_in, 30);
    }

    #[test]
    fn ipv6_addresses_count_by_their_64() {
        let mut t = Throttle::default();
        let now = Instant::now();
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let same: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        for i in 0..=FREE_FAILURES {
            t.fail(&format!("n{i}"), a, now);
        }
        assert!(t.blocked_for("fresh", same, now).is_some());
        assert!(t.blocked_for("fresh", other, now).is_none());
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(
            client_network(mapped),
            "192.0.2.1".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn a_flood_of_new_keys_does_not_lift_a_running_lockout() {
        let mut r = RateLimiter::default();
        let t0 = Instant::now();
        for _ in 0..=FREE_FAILURES + 5 {
            r.fail("victim", t0);
        }
        let locked = r.blocked_for("victim", t0).unwrap();
        let later = t0 + Duration::from_secs(1);
        for i in 0..MAX_TRACKED + 1000 {
            r.fail(&format!("flood{i}"), later);
        }
        assert!(r.len() <= MAX_TRACKED);
        assert_eq!(
            r.blocked_for("victim", later),
            Some(locked - Duration::from_secs(1))
        );
    }
}
