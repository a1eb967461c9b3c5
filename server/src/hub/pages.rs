//! History pages: who may read which conversation, and reading a page of
//! the user's own history file with their unlocked key.

use std::sync::Arc;

use cove_common::Target;
use cove_common::limits::HISTORY_PAGE_MAX;
use cove_common::proto::{ChatMessage, MessageId};

use crate::accounts::UserCtx;
use crate::credentials::HistorySecret;
use crate::store::history::{HistoryPage, HistoryReader};
use crate::sync::lock;

use super::{Hub, HubError};

impl Hub {
    /// A page of the user's history of one conversation, newest first
    /// (damaged stretches stepped over and counted).
    pub async fn history(
        &self,
        user: &UserCtx,
        secret: Arc<HistorySecret>,
        with: Target,
        before: Option<MessageId>,
        limit: u16,
    ) -> Result<HistoryPage, HubError> {
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
        let limit = usize::from(limit.clamp(1, HISTORY_PAGE_MAX));
        let path = self.history.path_of(&user.id);
        let me = user.name.clone();
        let _reading = self.reads.acquire().await.map_err(|_| HubError::Internal)?;
        tokio::task::spawn_blocking(move || {
            let reader = HistoryReader::open(&path, &secret)?;
            let page = reader.page(before, limit, |m: &ChatMessage| {
                m.to.conversation_for(&m.from, &me) == with
            })?;
            Ok(page)
        })
        .await
        .map_err(|_| HubError::Internal)?
    }
}
