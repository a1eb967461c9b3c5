//! The server: the listener and its accept loop, one task per connection,
//! and graceful shutdown (tell every client, flush pending writes and
//! histories).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

use cove_common::ServerKey;
use cove_common::frame::FrameCodec;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio_util::codec::FramedRead;
use tracing::{debug, info, warn};

use crate::accounts::Accounts;
use crate::admission::PendingSlot;
use crate::clock::IdClock;
use crate::cmd::ConnState;
use crate::config::Config;
use crate::connection::{FrameReader, handshake, write_loop};
use crate::hub::{Hub, READ_SAVE_INTERVAL};
use crate::outbox::{Kick, Outbox};
use crate::state::ServerState;
use crate::store::history::{CHANGES_DIR, HISTORY_DIR, HistoryService};
use crate::store::ids::IdReservation;
use crate::store::keys::ServerKeys;
use crate::store::lock::{DataDirLock, LockError};
use crate::store::users::UserDb;
use crate::store::{self, StoreError};
use crate::transfers::Transfers;

/// Why the server could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
    /// The data directory could not be opened.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// Another process uses the data directory.
    #[error("{0}")]
    Locked(#[from] LockError),
}

#[cfg(test)]
mod tests;

/// A bound, ready server.
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    state: Arc<ServerState>,
}

impl Server {
    /// Opens (or creates) the data directory and binds the listen address.
    pub async fn bind(config: Config) -> Result<Server, ServerError> {
        let data_dir = config.data_dir.clone();
        let kdf = config.kdf.clone();
        let passphrase = config.passphrase.clone();
        let files_config = config.clone();
        let (lock, keys, db, history, ids, transfers) = tokio::task::spawn_blocking(move || {
            store::ensure_data_dir(&data_dir)?;
            let lock = DataDirLock::acquire(&data_dir)?;
            let keys = ServerKeys::load_or_create(&data_dir, passphrase.as_ref(), &kdf)?;
            let db = UserDb::open(&data_dir, &keys.storage_key)?;
            let open_files = crate::fds::history_files_budget(crate::fds::raise_open_files_limit());
            // Changes files take an eighth of the budget: they are written
            // far less often than histories.
            let for_changes = (open_files / 8).max(16);
            let history = HistoryService::start(&data_dir, open_files - for_changes)?;
            let changes = HistoryService::start_in(
                data_dir.join(HISTORY_DIR).join(CHANGES_DIR),
                for_changes,
            )?;
            let ids = IdClock::open(IdReservation::in_dir(&data_dir))?;
            let transfers = Transfers::open(&files_config)?;
            Ok::<_, ServerError>((lock, keys, db, (history, changes), ids, transfers))
        })
        .await
        .map_err(|e| StoreError::Io {
            path: config.data_dir.clone(),
            source: std::io::Error::other(e),
        })??;
        let listener =
            TcpListener::bind(&config.listen)
                .await
                .map_err(|source| ServerError::Bind {
                    addr: config.listen.clone(),
                    source,
                })?;
        let accounts = Accounts::new(
            config.kdf.clone(),
            config.max_concurrent_hashes,
            config.max_queued_logins,
        )
        .with_registration_limit(config.registrations_per_address_per_hour);
        let hub = Hub::new(db, history, ids, config.messages_per_second_per_user);

        let state = Arc::new(ServerState::new(
            hub,
            accounts,
            transfers,
            keys.identity,
            config,
            lock,
        ));
        Ok(Server { listener, state })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// Tests only: the state every connection shares, to reach inside.
    #[cfg(test)]
    pub(crate) fn state(&self) -> Arc<ServerState> {
        self.state.clone()
    }

    /// The server's identity key; clients are asked to trust its
    /// [`ServerKey::fingerprint`].
    pub fn public_key(&self) -> ServerKey {
        self.state.identity.public_key()
    }

    /// Serves until `shutdown` resolves, then tells every client, flushes
    /// pending writes and histories, and returns.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        let (stop_tx, stop_rx) = watch::channel(false);
        let limit = Arc::new(Semaphore::new(self.state.config.max_connections));
        let reads_saver = tokio::spawn(save_reads_every(self.state.clone(), READ_SAVE_INTERVAL));
        let mut conns = JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                // Reap finished connection tasks so the set stays small.
                Some(_) = conns.join_next(), if !conns.is_empty() => {}
                accepted = self.listener.accept() => {
                    let (stream, peer) = match accepted {
                        Ok(a) => a,
                        Err(e) => {
                            // Usually out of file descriptors: back off
                            // instead of spinning.
                            warn!(error = %e, "accept failed");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    };
                    let Ok(permit) = limit.clone().try_acquire_owned() else {
                        warn!(%peer, "connection limit reached; refusing");
                        drop(stream);
                        continue;
                    };
                    // Debug, not warn: anyone can cause this, as often as
                    // they like.
                    let Some(pending) = self.state.admission.admit(peer.ip()) else {
                        debug!(%peer, "too many connections from one network waiting to log in; refusing");
                        drop(stream);
                        continue;
                    };
                    let state = self.state.clone();
                    let stop = stop_rx.clone();
                    conns.spawn(async move {
                        serve(stream, peer, state, pending, stop).await;
                        drop(permit);
                    });
                }
            }
        }
        info!(connections = conns.len(), "shutting down");
        let _ = stop_tx.send(true);
        let grace = self.state.config.shutdown_grace + Duration::from_secs(1);
        let drained =
            tokio::time::timeout(grace, async { while conns.join_next().await.is_some() {} }).await;
        if drained.is_err() {
            warn!("some connections did not close in time");
            conns.abort_all();
        }
        // Read markers changed since the last periodic save go to disk
        // after the last connection is gone, so none is lost.
        reads_saver.abort();
        let _ = reads_saver.await;
        if let Some(saved) = self.state.hub.save_reads() {
            let _ = saved.await;
        }
        let state = self.state.clone();
        let _ = tokio::task::spawn_blocking(move || state.hub.shutdown_storage()).await;
        info!("stopped");
    }

    /// Runs the server on the current tokio runtime in the background.
    pub fn spawn(self) -> ServerHandle {
        let addr = self.local_addr();
        let key = self.public_key();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(self.run(async move {
            let _ = rx.await;
        }));
        ServerHandle {
            addr,
            key,
            stop: Some(tx),
            task,
        }
    }
}

/// Saves changed read markers and conversation counts every `interval`,
/// one batch at a time: a slow disk delays the next batch, which then
/// holds more, rather than queueing batches.
async fn save_reads_every(state: Arc<ServerState>, interval: Duration) {
    loop {
        tokio::time::sleep(interval).await;
        if let Some(saved) = state.hub.save_reads() {
            let _ = saved.await;
        }
    }
}

/// A server running in the background; [`ServerHandle::shutdown`] stops it
/// gracefully. Dropping the handle also stops it.
#[derive(Debug)]
pub struct ServerHandle {
    addr: SocketAddr,
    key: ServerKey,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl ServerHandle {
    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server's identity key.
    pub fn public_key(&self) -> ServerKey {
        self.key
    }

    /// Stops the server gracefully and waits until it has.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.task).await;
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// Serves one TCP connection until it closes: the handshake, then the
/// writer task and the request loop side by side.
async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    state: Arc<ServerState>,
    pending: PendingSlot,
    mut shutdown: watch::Receiver<bool>,
) {
    let login_by = Instant::now() + state.config.login_deadline;
    let _ = stream.set_nodelay(true);
    let (read, write) = stream.into_split();
    // Start small: most connections are idle most of the time, and the
    // buffer grows to the frame being read when needed.
    let mut reader: FrameReader = FramedRead::with_capacity(read, FrameCodec, 512);
    let timeout = state.config.handshake_timeout;
    let Some((sealer, opener, write)) =
        handshake(&mut reader, write, peer, &state.identity, timeout).await
    else {
        return;
    };
    let conn = state.next_conn_id();
    let kick = Arc::new(Kick::default());
    let (outbox, rx) = Outbox::new(
        state.config.outbox_capacity,
        state.config.outbox_capacity_bytes,
        kick.clone(),
    );
    let writer = tokio::spawn(write_loop(write, sealer, rx, kick.clone()));

    ConnState::new(conn, peer, state.clone(), outbox, opener, pending, login_by)
        .run(&mut reader, &kick, &mut shutdown)
        .await;
    // The writer ends when its queue is drained and every sender is gone (or
    // on a kick); give it the grace period to flush.
    let grace = state.config.shutdown_grace;
    if tokio::time::timeout(grace, writer).await.is_err() {
        kick.kick();
    }
}
