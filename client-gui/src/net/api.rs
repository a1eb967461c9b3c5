//! What the UI and the network thread say to each other: the
//! [`NetCommand`]s the UI sends and the [`NetEvent`]s it receives. The
//! only vocabulary between the two sides, kept apart from the driver that
//! carries it out so that it reads as one list.

use std::path::PathBuf;

use cove_common::client::Welcome;
use cove_common::{KdfParams, Password, Request, ServerMessage, Username};

use super::TransferEvent;
use crate::state::RequestId;

/// Register or log in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// Existing account.
    Login,
    /// New account.
    Register,
}

/// What the UI asks of the network.
#[derive(Debug)]
pub enum NetCommand {
    /// Connect, check trust, then register or log in.
    Connect {
        /// `host:port`.
        addr: String,
        /// Register or log in.
        mode: AuthMode,
        /// The account.
        username: Username,
        /// Its password (kept only in memory, for reconnecting).
        password: Password,
    },
    /// The user's answer to a [`NetEvent::TrustPrompt`].
    Trust(bool),
    /// Start the server in this process. A build without the `host`
    /// feature answers [`NetEvent::HostFailed`].
    Host {
        /// Address to listen on.
        listen: String,
        /// Data directory.
        data_dir: PathBuf,
        /// Argon2 parameters (lighter ones only in tests).
        kdf: KdfParams,
    },
    /// A request for the server, under the app's id for it: its reply
    /// comes back as [`NetEvent::Reply`] with that id, or the id comes
    /// back in [`NetEvent::Unanswered`].
    Request {
        /// The app's id for the request.
        id: RequestId,
        /// The request.
        request: Request,
    },
    /// Leave the chat (`#exit`).
    Logout,
    /// Upload or download a file (protocol v6); reported as
    /// [`NetEvent::Transfer`]s.
    Transfer(crate::state::Job),
}

/// What the network reports to the UI.
#[derive(Debug)]
pub enum NetEvent {
    /// The in-process server is running.
    Hosting {
        /// Where others connect.
        addr: String,
        /// What they should see.
        fingerprint: String,
    },
    /// The in-process server could not start.
    HostFailed(String),
    /// First contact: ask the user whether to trust this server.
    TrustPrompt {
        /// The address.
        addr: String,
        /// The server's fingerprint.
        fingerprint: String,
    },
    /// A pinned server presented another key; nothing was sent.
    KeyChanged {
        /// The address.
        addr: String,
        /// The fingerprint pinned before.
        pinned: String,
        /// The fingerprint presented now.
        presented: String,
    },
    /// Connecting or logging in failed.
    Failed(String),
    /// Logged in (also after a reconnect).
    LoggedIn(Welcome),
    /// A message from the server that answers no request of the app's (a
    /// pushed event, or an error naming no request).
    Server(ServerMessage),
    /// The server's answer (reply or error) to the app's request `to`.
    Reply {
        /// The app's id for the request.
        to: RequestId,
        /// The answer.
        msg: ServerMessage,
    },
    /// Requests that will get no answer: the connection was lost before
    /// it came, or there was no connection to send them on.
    Unanswered(Vec<RequestId>),
    /// The connection dropped; retrying.
    Reconnecting {
        /// Why it dropped.
        reason: String,
        /// Seconds until the next try.
        retry_in: u64,
    },
    /// The session ended for good.
    Closed {
        /// Why, if not a clean logout.
        reason: Option<String>,
    },
    /// The account's session ended in a way that no reconnect can undo
    /// (protocol v5): the account was deleted, or its password changed
    /// (here or on another device). The user must sign in again, if at
    /// all; the sentence says why.
    SignedOut(String),
    /// How a file transfer goes (protocol v6).
    Transfer(TransferEvent),
}
