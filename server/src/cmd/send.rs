//! `send`: hand the message to the hub for fan-out, and answer with an ack
//! only once it is in every recipient's history.

use cove_common::proto::ChatMessage;
use cove_common::{ClientMsgId, ErrorCode, MessageText, ServerMessage, Target};

use crate::accounts::UserCtx;
use crate::hub::{ConnId, HubError, NotStored};
use crate::state::ServerState;

use super::AckFuture;

/// Fans the message out and returns the future of its ack (or of the
/// `storage` error if it could not be stored). Errors known at once (no
/// such room or user, not a member, sending too fast) come back directly.
pub(super) async fn send(
    state: &std::sync::Arc<ServerState>,
    user: &UserCtx,
    conn: ConnId,
    id: u64,
    client_id: ClientMsgId,
    to: Target,
    text: MessageText,
) -> Result<AckFuture, HubError> {
    // While the history queue is full this waits, and the connection is
    // not read meanwhile: TCP pushes back on the sender.
    let space = state.hub.reserve_history(&text).await;
    let (msg, stored) = state.hub.send(user, conn, &client_id, to, text, space)?;
    let state = state.clone();
    let sender = user.id.clone();
    Ok(Box::pin(async move {
        match stored.await {
            Ok(()) => ack(id, client_id, &msg),
            Err(e) => {
                state.hub.forget_unstored(&sender, &client_id, &msg);
                let text = match e {
                    NotStored::Storage(e) => format!(
                        "the message could not be stored: {}; try again later",
                        e.public_reason()
                    ),
                    NotStored::Stopped => "the message could not be stored".to_owned(),
                };
                ServerMessage::error(Some(id), ErrorCode::Storage, text)
            }
        }
    }))
}

/// The ack for a stored message.
fn ack(id: u64, client_id: ClientMsgId, msg: &ChatMessage) -> ServerMessage {
    ServerMessage::Ack {
        id,
        client_id,
        message_id: msg.id,
        ts: msg.ts,
    }
}
