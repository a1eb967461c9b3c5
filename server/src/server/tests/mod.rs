//! End-to-end tests of the server's bounds under load, inside the crate so
//! they reach its test-only hooks (a stalled history writer, a probe on
//! history reads): a real server on `127.0.0.1:0`, driven by the headless
//! client session over TCP. The helpers are a small copy of those in
//! `server/tests/support`, which an in-crate test cannot import.
#![allow(clippy::unwrap_used)]

mod backpressure;
mod reads;
mod unread;

use std::sync::Arc;
use std::time::Duration;

use cove_common::client::{self, Auth, Event, Events, Session};
use cove_common::{KdfParams, Password, ServerMessage, Username};

use crate::config::Config;
use crate::server::{Server, ServerHandle};
use crate::state::ServerState;

const PASSWORD: &str = "correct horse battery";
/// Longest wait for one expected message.
const WAIT: Duration = Duration::from_secs(60);

/// A server running in the background, with its shared state.
struct Running {
    addr: String,
    state: Arc<ServerState>,
    // Stops the server when dropped.
    _handle: ServerHandle,
    // Removed when dropped.
    _dir: tempfile::TempDir,
}

/// A server on a fresh data directory, with test settings and `tweak`.
async fn start(tweak: impl FnOnce(&mut Config)) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new("127.0.0.1:0", dir.path().join("data"));
    config.kdf = KdfParams::insecure_for_tests();
    config.registrations_per_address_per_hour = 0;
    config.messages_per_second_per_user = 0;
    tweak(&mut config);
    let server = Server::bind(config).await.unwrap();
    let (addr, state) = (server.local_addr().to_string(), server.state());
    Running {
        addr,
        state,
        _handle: server.spawn(),
        _dir: dir,
    }
}

/// A new account `name`, logged in.
async fn register(addr: &str, name: &str) -> (Session, Events) {
    let auth = Auth::Register {
        username: Username::new(name).unwrap(),
        password: Password::new(PASSWORD).unwrap(),
    };
    let (session, events, _) = client::connect(addr)
        .await
        .unwrap()
        .authenticate(auth)
        .await
        .unwrap();
    (session, events)
}

/// Logs in to `name`'s account; the session, its events and the welcome.
async fn login_welcome(addr: &str, name: &str) -> (Session, Events, client::Welcome) {
    let auth = Auth::Login {
        username: Username::new(name).unwrap(),
        password: Password::new(PASSWORD).unwrap(),
    };
    client::connect(addr)
        .await
        .unwrap()
        .authenticate(auth)
        .await
        .unwrap()
}

/// The next server message matching `pred`, skipping others.
async fn expect(
    events: &mut Events,
    what: &str,
    mut pred: impl FnMut(&ServerMessage) -> bool,
) -> ServerMessage {
    loop {
        match tokio::time::timeout(WAIT, events.recv()).await {
            Ok(Some(Event::Message(m))) if pred(&m) => return m,
            Ok(Some(Event::Message(_))) => continue,
            other => panic!("waiting for {what}: {other:?}"),
        }
    }
}

/// Counts the chat messages that arrive until none has come for `quiet`.
async fn count_until_quiet(events: &mut Events, quiet: Duration) -> usize {
    let mut n = 0;
    loop {
        match tokio::time::timeout(quiet, events.recv()).await {
            Err(_) => return n,
            Ok(Some(Event::Message(ServerMessage::Message(_)))) => n += 1,
            Ok(Some(Event::Message(_))) => {}
            Ok(other) => panic!("connection ended: {other:?}"),
        }
    }
}
