//! History pages: who may read which conversation, and reading a page of
//! the user's own history file with their unlocked key.

use std::sync::Arc;

use cove_common::limits::{HISTORY_PAGE_BYTES, HISTORY_PAGE_MAX};
use cove_common::proto::{ChatMessage, MessageId};
use cove_common::{HistoryCursor, Target};

use crate::accounts::UserCtx;
use crate::credentials::HistorySecret;
use crate::store::history::{
    Cursor, HistoryPage, HistoryReader, PAGE_READ_BUDGET, PageQuery, ReadError,
};
use crate::sync::lock;

use super::{Hub, HubError};

/// What a `history` request asks for.
#[derive(Debug, Clone)]
pub struct PageAsk {
    /// The conversation.
    pub with: Target,
    /// Only messages with an id below this one.
    pub before: Option<MessageId>,
    /// Where the previous page said to go on, if anywhere.
    pub cursor: Option<HistoryCursor>,
    /// Most messages wanted.
    pub limit: u16,
}

impl Hub {
    /// A page of the user's history of one conversation, newest first
    /// (damaged stretches stepped over and counted), starting at `cursor`
    /// if given, else at the newest message. It holds at most `limit`
    /// messages and [`HISTORY_PAGE_BYTES`] of their JSON, and reads at most
    /// [`PAGE_READ_BUDGET`] of the file, so it may be short or empty and
    /// still have `more`.
    pub async fn history(
        &self,
        user: &UserCtx,
        secret: Arc<HistorySecret>,
        ask: PageAsk,
    ) -> Result<HistoryPage, HubError> {
        let PageAsk {
            with,
            before,
            cursor,
            limit,
        } = ask;
        {
            let live = lock(&self.live);
            match &with {
                Target::Room(room) => {
                    live.member_room(room, &user.id)?;
                }
                Target::User(peer) => {
                    if !live.names.contains_key(&peer.key()) {
                        return Err(HubError::NoSuchUser(peer.clone()));
                    }
                }
            }
        }
        let from = match cursor {
            None => None,
            Some(c) => Some(Cursor::decode(c.as_str()).ok_or(HubError::BadCursor)?),
        };
        let query = PageQuery {
            from,
            before,
            limit: usize::from(limit.clamp(1, HISTORY_PAGE_MAX)),
            max_bytes: HISTORY_PAGE_BYTES,
            budget: PAGE_READ_BUDGET,
        };
        let path = self.history.path_of(&user.id);
        let me = user.name.clone();
        let _reading = self.reads.acquire().await.map_err(|_| HubError::Internal)?;
        tokio::task::spawn_blocking(move || {
            let reader = HistoryReader::open(&path, &secret)?;
            // A cursor only says where to read on: the conversation is
            // chosen here, whatever conversation the cursor came from.
            let page = reader.page_at(&query, |m: &ChatMessage| {
                m.to.conversation_for(&m.from, &me) == with
            });
            match page {
                Ok(page) => Ok(page),
                Err(ReadError::BadCursor) => Err(HubError::BadCursor),
                Err(ReadError::Store(e)) => Err(HubError::Storage(e)),
            }
        })
        .await
        .map_err(|_| HubError::Internal)?
    }
}
