//! `send`, `edit`, `delete` and `react`: hand the message or change to the
//! hub for fan-out, and answer with an ack only once it is in every
//! recipient's history.

use std::sync::Arc;

use cove_common::proto::{ChangeKind, MessageId, Timestamp, UploadId};
use cove_common::{ClientMsgId, ErrorCode, MessageText, ServerMessage, Target};

use crate::accounts::UserCtx;
use crate::credentials::HistorySecret;
use crate::hub::{ChangeAsk, ConnId, HubError, NotStored, Outgoing, StoreDone};
use crate::state::ServerState;

use super::AckFuture;
use super::files::refusal;

/// What a `send` asks for.
pub(super) struct SendAsk {
    pub(super) client_id: ClientMsgId,
    pub(super) to: Target,
    pub(super) text: Option<MessageText>,
    pub(super) reply_to: Option<MessageId>,
    pub(super) file: Option<UploadId>,
}

/// How a `send` went on: its ack will come, or it was refused over its
/// file.
pub(super) enum Sent {
    Ack(AckFuture),
    Refused(Box<ServerMessage>),
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
) -> Result<Sent, HubError> {
    let SendAsk {
        client_id,
        to,
        text,
        reply_to,
        file,
    } = ask;
    if text.is_none() && file.is_none() {
        return Ok(Sent::Refused(Box::new(ServerMessage::error(
            Some(id),
            ErrorCode::BadRequest,
            "a message needs a text, a file or both",
        ))));
    }
    // A repeat is answered as the first copy was, whether or not the
    // message it replies to can still be found (or its upload is still
    // there to send).
    let repeat = state.hub.earlier(user, &client_id).is_some();
    let quote = match reply_to {
        Some(original) if !repeat => Some(state.hub.quote(user, secret, &to, original).await?),
        _ => None,
    };
    let (upload, attachment) = match file {
        Some(upload) if !repeat => match state.transfers.take_for_send(&user.id, &upload).await {
            Ok(a) => (Some(upload), Some(a)),
            Err(e) => return Ok(Sent::Refused(Box::new(refusal(user, id, &e)))),
        },
        _ => (None, None),
    };
    let message = Outgoing {
        to,
        text,
        reply_to: quote,
        file: attachment,
    };
    // While the history queue is full this waits, and the connection is
    // not read meanwhile: TCP pushes back on the sender.
    let space = state.hub.reserve_history(&message).await;
    let (msg, stored) = match state.hub.send(user, conn, &client_id, message, space) {
        Ok(sent) => sent,
        Err(e) => {
            if let Some(upload) = &upload {
                state.transfers.sent(upload, false);
            }
            return Err(e);
        }
    };
    let acked = (msg.id, msg.ts);
    let ack = ack_when_stored(state, user, id, client_id, acked, stored, "message");
    let Some(upload) = upload else {
        return Ok(Sent::Ack(ack));
    };
    // The upload is done once the message is stored; until then it may
    // be sent again.
    let state = state.clone();
    Ok(Sent::Ack(Box::pin(async move {
        let reply = ack.await;
        let stored = matches!(reply, ServerMessage::Ack { .. });
        state.transfers.sent(&upload, stored);
        reply
    })))
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
    let changed = state.hub.change(user, secret, conn, ask, space).await?;
    let acked = (changed.id, changed.ts);
    let ack = ack_when_stored(state, user, id, client_id, acked, changed.stored, "change");
    let Some(file) = changed.freed else {
        return Ok(ack);
    };
    // A deleted message's file goes once the deletion is stored.
    let state = state.clone();
    Ok(Box::pin(async move {
        let reply = ack.await;
        if matches!(reply, ServerMessage::Ack { .. }) {
            state.transfers.remove(file).await;
        }
        reply
    }))
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
