//! The Cove chat server, as a library.
//!
//! The `cove-server` binary is a thin wrapper around [`Server`]; the desktop
//! app hosts the same server in-process, and the tests start it on
//! `127.0.0.1:0` with a temporary data directory.
//!
//! Modules, from the bottom up (each imports only modules below it):
//!
//! - `sync`, `b64`, [`config`] and [`outbox`]: small leaves (the mutex
//!   helper, base64, settings, the queue to one connection's writer).
//! - [`credentials`]: the password cryptography.
//! - [`store`]: everything on disk: keys, `users.json`, the per-user
//!   histories, the message id reservation.
//! - [`clock`]: message ids, increasing across restarts.
//! - [`accounts`]: the accounts database's thread, the login throttle and
//!   password checks; beside it, [`transfers`]: files being uploaded,
//!   stored files and quotas.
//! - [`hub`]: rooms, presence and the fan-out of messages.
//! - [`state`] and [`admission`]: what every connection shares, and the
//!   per-network cap on connections not yet logged in.
//! - [`connection`]: one connection on the wire (handshake, writer).
//! - [`cmd`]: one connection's requests, a handler per kind.
//! - [`server`]: the listener, connection tasks and shutdown; beside it,
//!   [`admin`]: the operator's commands on a stopped server's data.
//!
//! `docs/architecture.md` follows one message through these modules.

pub mod accounts;
pub mod admin;
pub mod admission;
mod b64;
pub mod clock;
pub mod cmd;
pub mod config;
pub mod connection;
pub mod credentials;
mod fds;
pub mod hub;
pub mod outbox;
pub mod server;
pub mod state;
pub mod store;
mod sync;
pub mod transfers;

pub use config::{Config, default_data_dir};
pub use cove_common::{DEFAULT_LISTEN, KdfParams};
pub use server::{Server, ServerError, ServerHandle};
