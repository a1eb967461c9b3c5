//! `register` and `login`, and the `welcome` that answers either.

use std::net::IpAddr;
use std::sync::Arc;

use cove_common::proto::SessionInfo;
use cove_common::time::now_ms;
use cove_common::{ErrorCode, Password, ServerMessage, Username};

use crate::accounts::{AuthError, UserCtx};
use crate::credentials::HistorySecret;
use crate::hub::{ConnId, HubError};
use crate::outbox::{Outbox, SignOut};
use crate::state::ServerState;

/// Why a `register` or `login` was refused.
#[derive(Debug, thiserror::Error)]
pub(super) enum AuthFailure {
    /// The password check or its throttle said no.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The hub could not store the account (name taken, storage).
    #[error(transparent)]
    Hub(#[from] HubError),
}

impl AuthFailure {
    /// The protocol error code.
    pub(super) fn code(&self) -> ErrorCode {
        match self {
            AuthFailure::Auth(e) => e.code(),
            AuthFailure::Hub(e) => e.code(),
        }
    }

    /// The error text the client sees: never a path or a disk detail.
    pub(super) fn client_text(&self) -> String {
        match self {
            AuthFailure::Hub(HubError::Storage(_)) => {
                "the server could not store the account".to_owned()
            }
            _ => self.to_string(),
        }
    }
}

/// Creates an account, a member of `general`, and returns it with its
/// unlocked history key. A taken name is refused before any hashing.
pub(super) async fn register(
    state: &ServerState,
    name: Username,
    password: Password,
    addr: IpAddr,
) -> Result<(UserCtx, HistorySecret), AuthFailure> {
    if state.hub.name_taken(&name) {
        return Err(HubError::NameTaken(name).into());
    }
    let (creds, secret) = state.accounts.new_credentials(password, addr).await?;
    let user = state.hub.register(name, creds).await?;
    state.accounts.registered(&user.name, addr);
    Ok((user, secret))
}

/// Checks a password and returns the user with their history key.
pub(super) async fn login(
    state: &ServerState,
    name: Username,
    password: Password,
    addr: IpAddr,
) -> Result<(UserCtx, HistorySecret), AuthFailure> {
    let db = state.hub.accounts_db();
    Ok(state.accounts.login(db, name, password, addr).await?)
}

/// Checks the old password like a login, stores credentials for the new
/// one over the same history key, and signs out the user's other sessions
/// if asked; answers with the number signed out.
pub(super) async fn change_password(
    state: &ServerState,
    user: &UserCtx,
    conn: ConnId,
    (old, new, sign_out_others): (Password, Password, bool),
    addr: IpAddr,
) -> Result<u32, AuthFailure> {
    let db = state.hub.accounts_db();
    let (checked, creds) = state
        .accounts
        .new_password(db, user.name.clone(), old, new, addr)
        .await?;
    if checked.id != user.id {
        // The name now names another account (impossible while names
        // stay reserved): refuse rather than touch it.
        return Err(AuthError::Failed.into());
    }
    db.set_credentials(user.id.clone(), creds)
        .await
        .map_err(HubError::from)?;
    Ok(if sign_out_others {
        state.hub.sign_out_others(user, conn, super::BYE_SIGNED_OUT)
    } else {
        0
    })
}

/// Checks the password like a login, then deletes the account (see
/// [`crate::hub::Hub::delete_account`]).
pub(super) async fn delete_account(
    state: &ServerState,
    user: &UserCtx,
    conn: ConnId,
    password: Password,
    addr: IpAddr,
) -> Result<(), AuthFailure> {
    let db = state.hub.accounts_db();
    let (checked, _secret) = state
        .accounts
        .login(db, user.name.clone(), password, addr)
        .await?;
    if checked.id != user.id {
        return Err(AuthError::Failed.into());
    }
    state
        .hub
        .delete_account(user, conn, super::BYE_DELETED_ELSEWHERE)
        .await?;
    Ok(())
}

/// Attaches the new session to the hub (its peers may be told the user came
/// online) and builds the `welcome` reply with rooms, unread counts and
/// direct conversations.
pub(super) fn welcome(
    state: &ServerState,
    user: &UserCtx,
    conn: ConnId,
    outbox: Outbox,
    sign_out: Arc<SignOut>,
    id: u64,
) -> ServerMessage {
    let attached = state.hub.attach(user, conn, outbox, sign_out);
    ServerMessage::Welcome {
        id,
        session: SessionInfo {
            username: user.name.clone(),
            server_time: now_ms(),
            max_file_bytes: state.transfers.max_file_bytes(),
        },
        rooms: attached.rooms,
        directs: attached.directs,
        direct_unread: attached.direct_unread,
        invitations: attached.invitations,
    }
}
