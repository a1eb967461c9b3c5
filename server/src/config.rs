//! Server configuration: where to listen, where data lives, and the limits
//! that keep one client from hurting the others.

use std::path::PathBuf;
use std::time::Duration;

use zeroize::Zeroizing;

use cove_common::KdfParams;

/// Everything the server needs to start.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on, e.g. `127.0.0.1:7878` (port 0 picks a free one).
    pub listen: String,
    /// The data directory (created with mode 0700 if missing).
    pub data_dir: PathBuf,
    /// Argon2id parameters for new password hashes. Tests pass lighter ones;
    /// the binary always uses [`KdfParams::production`].
    pub kdf: KdfParams,
    /// Optional operator passphrase protecting the storage key.
    pub passphrase: Option<Zeroizing<String>>,
    /// Most simultaneous connections; more are closed at once.
    pub max_connections: usize,
    /// Time allowed for each step of the handshake and between requests
    /// before login.
    pub handshake_timeout: Duration,
    /// Time from accept by which a connection must have logged in, however
    /// busy it keeps itself meanwhile (pings do not extend it).
    pub login_deadline: Duration,
    /// Connections from one client network (an IPv4 address, an IPv6 /64)
    /// that may wait to log in at once; more are closed at accept.
    pub max_unauthenticated_per_address: usize,
    /// A logged-in connection that sends nothing for this long is closed.
    /// Clients ping every 20 s.
    pub idle_timeout: Duration,
    /// Messages queued for one connection before it counts as not reading
    /// and is disconnected.
    pub outbox_capacity: usize,
    /// Bytes of messages queued for one connection before it counts as not
    /// reading and is disconnected.
    pub outbox_capacity_bytes: usize,
    /// Messages one user may send per second, sustained, over all their
    /// sessions (bursts of three seconds' worth); more get `rate_limited`.
    /// 0 for no limit (load tests).
    pub messages_per_second_per_user: u32,
    /// Password hashes computed at once (each uses `kdf.m_cost_kib` memory).
    pub max_concurrent_hashes: usize,
    /// Logins waiting for a hash slot before new ones get `busy`.
    pub max_queued_logins: usize,
    /// Accounts one client address may create per hour (a burst of that
    /// many, then one every `3600 / n` seconds); 0 for no limit. Keeps a
    /// registration flood from growing `users.json` without bound.
    pub registrations_per_address_per_hour: u32,
    /// How long graceful shutdown waits for connections to flush.
    pub shutdown_grace: Duration,
}

impl Config {
    /// Production defaults for `listen` and `data_dir`.
    pub fn new(listen: impl Into<String>, data_dir: PathBuf) -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self {
            listen: listen.into(),
            data_dir,
            kdf: KdfParams::production(),
            passphrase: None,
            max_connections: 20_000,
            handshake_timeout: Duration::from_secs(10),
            login_deadline: Duration::from_secs(30),
            max_unauthenticated_per_address: 128,
            idle_timeout: Duration::from_secs(90),
            outbox_capacity: 16_384,
            outbox_capacity_bytes: 8 << 20,
            messages_per_second_per_user: 10,
            max_concurrent_hashes: cores,
            max_queued_logins: 512,
            registrations_per_address_per_hour: 60,
            shutdown_grace: Duration::from_secs(5),
        }
    }
}

/// The platform data directory for the server (for example
/// `~/.local/share/cove-server` on Linux).
pub fn default_data_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "cove-server").map(|d| d.data_dir().to_path_buf())
}
