//! Admission of new connections: at most
//! [`Config::max_unauthenticated_per_address`](crate::config::Config)
//! connections per client network that have not logged in yet, so one
//! address cannot take every connection slot with connections that never
//! log in. A connection holds its [`PendingSlot`] from accept until it logs
//! in or closes.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use crate::accounts::throttle::client_network;
use crate::sync::lock;

/// Connections not yet logged in, counted per client network.
#[derive(Debug)]
pub struct Admission {
    per_network: usize,
    pending: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl Admission {
    /// Admits at most `per_network` connections per network at a time
    /// until they log in.
    pub fn new(per_network: usize) -> Self {
        Self {
            per_network: per_network.max(1),
            pending: Arc::default(),
        }
    }

    /// A slot for a new connection from `addr`, or `None` if its network
    /// already has as many connections waiting to log in as it may.
    pub fn admit(&self, addr: IpAddr) -> Option<PendingSlot> {
        let net = client_network(addr);
        let mut pending = lock(&self.pending);
        let n = pending.entry(net).or_insert(0);
        if *n >= self.per_network {
            return None;
        }
        *n += 1;
        Some(PendingSlot {
            net,
            pending: self.pending.clone(),
        })
    }

    /// How many connections from `addr`'s network wait to log in.
    pub fn pending(&self, addr: IpAddr) -> usize {
        let net = client_network(addr);
        lock(&self.pending).get(&net).copied().unwrap_or(0)
    }
}

/// One connection's place among those not logged in; freed on drop.
#[derive(Debug)]
pub struct PendingSlot {
    net: IpAddr,
    pending: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl Drop for PendingSlot {
    fn drop(&mut self) {
        let mut pending = lock(&self.pending);
        if let Some(n) = pending.get_mut(&self.net) {
            *n -= 1;
            if *n == 0 {
                pending.remove(&self.net);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn slots_per_network_come_back_when_dropped() {
        let a = Admission::new(2);
        let x: IpAddr = "2001:db8::1".parse().unwrap();
        let same_64: IpAddr = "2001:db8::2".parse().unwrap();
        let other: IpAddr = "192.0.2.1".parse().unwrap();
        let s1 = a.admit(x).unwrap();
        let _s2 = a.admit(same_64).unwrap();
        assert!(a.admit(x).is_none());
        assert!(a.admit(other).is_some());
        drop(s1);
        assert_eq!(a.pending(x), 1);
        assert!(a.admit(same_64).is_some());
        assert!(lock(&a.pending).len() <= 2, "empty networks are forgotten");
    }
}
