//! `history`: one page of one conversation from the user's own history.

use std::sync::Arc;

use cove_common::limits::HISTORY_PAGE_BYTES;
use cove_common::proto::{ChatMessage, MessageId};
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
    let page = hub
        .history(user, secret, with.clone(), before, limit)
        .await?;
    let (mut messages, mut more, unreadable) = (page.messages, page.more, page.unreadable);
    // Newest first: what does not fit is the oldest part, which the next
    // page (`before` the oldest id sent) brings.
    let fit = fitting(&messages, HISTORY_PAGE_BYTES);
    if fit < messages.len() {
        messages.truncate(fit);
        more = true;
    }
    Ok(ServerMessage::History {
        id,
        with,
        messages,
        more,
        unreadable,
    })
}

/// How many of `messages`, from the first, fit in `budget` bytes of JSON
/// (with one separator each).
fn fitting(messages: &[ChatMessage], budget: usize) -> usize {
    let mut used = 0;
    messages
        .iter()
        .take_while(|m| {
            used += serde_json::to_vec(m).map_or(usize::MAX / 2, |v| v.len()) + 1;
            used <= budget
        })
        .count()
}
