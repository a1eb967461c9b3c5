//! What every connection shares: the hub, the account service, the
//! server's identity key, its configuration and the admission of
//! connections not yet logged in.

use std::sync::atomic::{AtomicU64, Ordering};

use cove_common::ServerIdentity;

use crate::accounts::Accounts;
use crate::admission::Admission;
use crate::config::Config;
use crate::hub::{ConnId, Hub};
use crate::store::lock::DataDirLock;
use crate::transfers::Transfers;

/// The state shared by every connection of one server.
#[derive(Debug)]
pub struct ServerState {
    /// Rooms, presence, fan-out, storage.
    pub hub: Hub,
    /// Registration and login.
    pub accounts: Accounts,
    /// Files: uploads in progress, stored files, quotas.
    pub transfers: Transfers,
    /// The server's static key.
    pub identity: ServerIdentity,
    /// Limits and timeouts.
    pub config: Config,
    /// Connections not yet logged in, per client network.
    pub admission: Admission,
    next_conn: AtomicU64,
    /// The data directory is this server's while it runs; declared last,
    /// so it is let go only after the hub (and its writers) are dropped.
    _lock: DataDirLock,
}

impl ServerState {
    /// Bundles the parts.
    pub fn new(
        hub: Hub,
        accounts: Accounts,
        transfers: Transfers,
        identity: ServerIdentity,
        config: Config,
        lock: DataDirLock,
    ) -> Self {
        Self {
            hub,
            accounts,
            transfers,
            identity,
            admission: Admission::new(config.max_unauthenticated_per_address),
            config,
            next_conn: AtomicU64::new(1),
            _lock: lock,
        }
    }

    /// A new connection's id, never handed out before by this server.
    pub fn next_conn_id(&self) -> ConnId {
        self.next_conn.fetch_add(1, Ordering::Relaxed)
    }
}
