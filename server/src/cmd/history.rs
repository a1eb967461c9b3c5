//! `history`: one page of one conversation from the user's own history.

use std::sync::Arc;

use cove_common::{HistoryCursor, ServerMessage};

use crate::accounts::UserCtx;
use crate::credentials::HistorySecret;
use crate::hub::{Hub, HubError, PageAsk};

/// A page of messages older than `before` (and than the cursor's place),
/// newest first, with the cursor where the next page starts. The page is
/// already cut to fit one record (`HISTORY_PAGE_BYTES`) by the reader, so
/// that its cursor continues right after its last message.
pub(super) async fn page(
    hub: &Hub,
    user: &UserCtx,
    secret: Arc<HistorySecret>,
    id: u64,
    ask: PageAsk,
) -> Result<ServerMessage, HubError> {
    let with = ask.with.clone();
    let page = hub.history(user, secret, ask).await?;
    // The reader's cursors are 24 hex digits, always a valid cursor; were
    // one not, the client would go on with `before`.
    let cursor = page
        .cursor
        .filter(|_| page.more)
        .and_then(|c| HistoryCursor::new(c.encode()).ok());
    Ok(ServerMessage::History {
        id,
        with,
        messages: page.messages,
        more: page.more,
        unreadable: page.unreadable,
        cursor,
    })
}
