//! `search`: one page of the user's own messages containing a text.

use std::sync::Arc;

use cove_common::{HistoryCursor, ServerMessage};

use crate::accounts::UserCtx;
use crate::credentials::HistorySecret;
use crate::hub::{Hub, HubError, SearchAsk};

/// A page of matches, newest first, with the cursor where the next page
/// of the same search starts. The text's bounds were checked when the
/// request was parsed (`SearchText`), so an over-long text never gets
/// here: it is answered `bad_request` with the request's id.
pub(super) async fn search(
    hub: &Hub,
    user: &UserCtx,
    secret: Arc<HistorySecret>,
    id: u64,
    ask: SearchAsk,
) -> Result<ServerMessage, HubError> {
    let page = hub.search(user, secret, ask).await?;
    // As for history pages: the reader's cursors are always valid ones.
    let cursor = page
        .cursor
        .filter(|_| page.more)
        .and_then(|c| HistoryCursor::new(c.encode()).ok());
    Ok(ServerMessage::Search {
        id,
        messages: page.messages,
        more: page.more,
        unreadable: page.unreadable,
        cursor,
    })
}
