//! `send`, `edit`, `delete` and `react`: hand the message or change to the
//! hub for fan-out, and answer with an ack only once it is in every
//! recipient's history.

use std::sync::Arc;

use cove_common::proto::{ChangeKind, MessageId, Timestamp};
use cove_common::{ClientMsgId, ErrorCode, MessageText, ServerMessage, Target};

use crate::accounts::UserCtx;
use crate::credentials::HistorySecret;
use crate::hub::{ChangeAsk, ConnId, HubError, NotStored, Outgoing, StoreDone};
use crate::state::ServerState;

use super::AckFuture;

/// What a `send` asks for.
pub(super) struct SendAsk {
    pub(super) client_id: ClientMsgId,
    pub(super) to: Target,
    pub(super) text: MessageText,
    pub(super) reply_to: Option<MessageId>,
}

/// Fans the message out and returns the future of its ack (or of the
/// `storage` error if it could not be stored). Errors known at once (no
/// such room or user, not a member, sending too fast, no such message to
/// reply to) come back directly.
pub(super) async fn send(
    state: &Arc<ServerState>,
    user: &UserCtx,
    secret: &Arc<HistorySecret>,
    conn: ConnId,
    id: u64,
    ask: SendAsk,
) -> Result<AckFuture, HubError> {
    let SendAsk {
        client_id,
        to,
        text,
        reply_to,
    } = ask;
    // A repeat is answered as the first copy was, whether or not the
    // message it replies to can still be found.
    let quote = match reply_to {
        Some(original) if state.hub.earlier(user, &client_id).is_none() => {
            Some(state.hub.quote(user, secret, &to, original).await?)
        }
        _ => None,
    };
    // While the history queue is full this waits, and the connection is
    // not read meanwhile: TCP pushes back on the sender.
    let space = state.hub.reserve_history(&text).await;
    let message = Outgoing {
        to,
        text,
        reply_to: quote,
    };
    let (msg, stored) = state.hub.send(user, conn, &client_id, message, space)?;
    let acked = (msg.id, msg.ts);
    Ok(ack_when_stored(
        state, user, id, client_id, acked, stored, "message",
    ))
}

/// Makes an `edit`, `delete` or `react`, answered like a `send`.
pub(super) async fn change(
    state: &Arc<ServerState>,
    user: &UserCtx,
    secret: &Arc<HistorySecret>,
    conn: ConnId,
    id: u64,
    ask: ChangeAsk,
) -> Result<AckFuture, HubError> {
    let client_id = ask.client_id.clone();
    let space = state.hub.reserve_change(&ask).await;
    let (change_id, ts, stored) = state.hub.change(user, secret, conn, ask, space).await?;
    let acked = (change_id, ts);
    Ok(ack_when_stored(
        state, user, id, client_id, acked, stored, "change",
    ))
}

/// The change an `edit`, `delete` or `react` asks for.
pub(super) fn change_ask(
    client_id: ClientMsgId,
    with: Target,
    message_id: MessageId,
    what: ChangeKind,
) -> ChangeAsk {
    ChangeAsk {
        client_id,
        with,
        message_id,
        what,
    }
}

/// The ack of request `id` once `stored` completes, or its `storage`
/// error (and the client id forgotten, so that sending again stores it).
fn ack_when_stored(
    state: &Arc<ServerState>,
    user: &UserCtx,
    id: u64,
    client_id: ClientMsgId,
    (message_id, ts): (MessageId, Timestamp),
    stored: StoreDone,
    what: &'static str,
) -> AckFuture {
    let state = state.clone();
    let sender = user.id.clone();
    Box::pin(async move {
        match stored.await {
            Ok(()) => ServerMessage::Ack {
                id,
                client_id,
                message_id,
                ts,
            },
            Err(e) => {
                state.hub.forget_unstored(&sender, &client_id, message_id);
                let text = match e {
                    NotStored::Storage(e) => format!(
                        "the {what} could not be stored: {}; try again later",
                        e.public_reason()
                    ),
                    NotStored::Stopped => format!("the {what} could not be stored"),
                };
                ServerMessage::error(Some(id), ErrorCode::Storage, text)
            }
        }
    })
}
