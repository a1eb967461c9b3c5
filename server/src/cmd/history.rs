//! `history`: one page of one conversation from the user's own history.

use std::sync::Arc;

use cove_common::proto::MessageId;
use cove_common::{ServerMessage, Target};

use crate::accounts::UserCtx;
use crate::credentials::HistorySecret;
use crate::hub::{Hub, HubError};

/// A page of messages older than `before`, newest first.
pub(super) async fn page(
    hub: &Hub,
    user: &UserCtx,
    secret: Arc<HistorySecret>,
    id: u64,
    with: Target,
    before: Option<MessageId>,
    limit: u16,
) -> Result<ServerMessage, HubError> {
    let (messages, more) = hub
        .history(user, secret, with.clone(), before, limit)
        .await?;
    Ok(ServerMessage::History {
        id,
        with,
        messages,
        more,
    })
}
