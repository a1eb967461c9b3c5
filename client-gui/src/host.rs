//! Hosting a chat on this computer: a Cove server (`cove-server`) running
//! inside the app's process, started and stopped by the network side
//! ([`crate::net`]) when the start screen asks for it.
//!
//! This is the only module that links `cove-server`, and it exists only with
//! the `host` cargo feature (on by default). A build without it (`cargo build
//! -p cove-client --no-default-features`) compiles no server and does not
//! offer hosting.

use std::net::SocketAddr;
use std::path::PathBuf;

use cove_common::{KdfParams, ServerKey};
use cove_server::{Config, Server, ServerHandle};

/// Where a hosted server keeps its data unless told otherwise: the same
/// platform directory a standalone `cove-server` uses.
pub fn default_data_dir() -> Option<PathBuf> {
    cove_server::default_data_dir()
}

/// A server running in this process.
pub struct Hosted {
    handle: ServerHandle,
}

impl Hosted {
    /// Binds `listen` (port 0 picks a free one), opens or creates the data
    /// in `data_dir`, and starts serving on the current tokio runtime.
    /// Returns why, in words, if the server could not start.
    pub async fn start(listen: String, data_dir: PathBuf, kdf: KdfParams) -> Result<Self, String> {
        let mut config = Config::new(listen, data_dir);
        config.kdf = kdf;
        let server = Server::bind(config).await.map_err(|e| e.to_string())?;
        Ok(Self {
            handle: server.spawn(),
        })
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.handle.local_addr()
    }

    /// The server's public key (its fingerprint is what others check).
    pub fn key(&self) -> ServerKey {
        self.handle.public_key()
    }

    /// Stops the server, letting connections finish briefly.
    pub async fn shutdown(self) {
        self.handle.shutdown().await;
    }
}
