//! History pages and searches: who may read which conversation, and
//! reading a bounded stretch of the user's own history file with their
//! unlocked key, keeping one conversation's messages (a page) or the
//! messages containing a text (a search), each with its edits, deletion
//! and reactions applied ([`super::folds`]).

use std::sync::Arc;

use cove_common::limits::{HISTORY_PAGE_BYTES, HISTORY_PAGE_MAX, SEARCH_PAGE_DEFAULT};
use cove_common::proto::{ChatMessage, MessageId};
use cove_common::{HistoryCursor, SearchText, Target};

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

/// What a `search` request asks for.
#[derive(Debug, Clone)]
pub struct SearchAsk {
    /// What to look for.
    pub text: SearchText,
    /// Only this conversation, if given.
    pub with: Option<Target>,
    /// Where the previous page said to go on, if anywhere.
    pub cursor: Option<HistoryCursor>,
    /// Most results wanted; [`SEARCH_PAGE_DEFAULT`] when `None`.
    pub limit: Option<u16>,
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
        self.may_read(user, &with)?;
        let folds = self.folds_of(user, &secret).await?;
        let me = user.name.clone();
        // A cursor only says where to read on: the conversation is chosen
        // here, whatever conversation the cursor came from.
        let filter = move |m: ChatMessage| {
            (m.to.conversation_for(&m.from, &me) == with).then(|| lock(&folds.map).fold(m, &me))
        };
        self.walk(user, secret, cursor, before, limit, filter).await
    }

    /// A page of the user's messages whose text contains `ask.text`
    /// (ignoring case), newest first, in `ask.with` or in every
    /// conversation the user may read. It is a history page with a text
    /// filter: the same cursor, the same read budget and the same slots for
    /// reads at once, so a search deep in a busy history costs the server
    /// what a history page does, and its page may be short or empty with
    /// `more`.
    pub async fn search(
        &self,
        user: &UserCtx,
        secret: Arc<HistorySecret>,
        ask: SearchAsk,
    ) -> Result<HistoryPage, HubError> {
        let SearchAsk {
            text,
            with,
            cursor,
            limit,
        } = ask;
        if let Some(with) = &with {
            self.may_read(user, with)?;
        }
        // The user's file also holds rooms they have left since; `history`
        // refuses those, so search leaves them out too. Taken once: a room
        // joined or left during the walk is judged as it stood when the
        // search began.
        let rooms = {
            let live = lock(&self.live);
            live.users
                .get(&user.id)
                .map(|u| u.rooms.clone())
                .unwrap_or_default()
        };
        let folds = self.folds_of(user, &secret).await?;
        let me = user.name.clone();
        let matcher = text.matcher();
        // The latest text is searched, and a deleted message never found.
        let filter = move |m: ChatMessage| {
            let conv = m.to.conversation_for(&m.from, &me);
            let readable = match &with {
                Some(w) => conv == *w,
                None => match &conv {
                    Target::Room(r) => rooms.contains(&r.key()),
                    Target::User(_) => true,
                },
            };
            if !readable {
                return None;
            }
            let m = lock(&folds.map).fold(m, &me);
            (m.deleted.is_none() && matcher.matches(m.text_str())).then_some(m)
        };
        let limit = limit.unwrap_or(SEARCH_PAGE_DEFAULT);
        self.walk(user, secret, cursor, None, limit, filter).await
    }

    /// Whether `user` may read the conversation `with`: a room they are in,
    /// or an existing user.
    fn may_read(&self, user: &UserCtx, with: &Target) -> Result<(), HubError> {
        let live = lock(&self.live);
        match with {
            Target::Room(room) => {
                live.member_room(room, &user.id)?;
            }
            Target::User(peer) => {
                if !live.names.contains_key(&peer.key()) {
                    return Err(HubError::NoSuchUser(peer.clone()));
                }
            }
        }
        Ok(())
    }

    /// One bounded walk of the user's history file, from `cursor` (or the
    /// newest entry), keeping the messages `filter` accepts: at most one of
    /// [`HISTORY_READS`](super::HISTORY_READS) slots, on a blocking thread.
    async fn walk(
        &self,
        user: &UserCtx,
        secret: Arc<HistorySecret>,
        cursor: Option<HistoryCursor>,
        before: Option<MessageId>,
        limit: u16,
        filter: impl FnMut(ChatMessage) -> Option<ChatMessage> + Send + 'static,
    ) -> Result<HistoryPage, HubError> {
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
        let _reading = self.reads.acquire().await.map_err(|_| HubError::Internal)?;
        tokio::task::spawn_blocking(move || {
            let reader = HistoryReader::open(&path, &secret)?;
            match reader.page_mapped(&query, filter) {
                Ok(page) => Ok(page),
                Err(ReadError::BadCursor) => Err(HubError::BadCursor),
                Err(ReadError::Store(e)) => Err(HubError::Storage(e)),
            }
        })
        .await
        .map_err(|_| HubError::Internal)?
    }
}
