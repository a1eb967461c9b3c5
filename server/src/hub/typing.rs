//! Typing indicators: ephemeral, never stored, passed on to the other
//! online members of a conversation at most once per
//! [`TYPING_MIN_INTERVAL_MS`] per user and conversation.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use cove_common::limits::{TYPING_MIN_INTERVAL_MS, TYPING_ROOM_LIMIT};
use cove_common::proto::ServerMessage;
use cove_common::{Target, Username};

use crate::accounts::UserCtx;
use crate::sync::lock;

use super::unread::ConvKey;
use super::{ConnId, Hub, HubError};

/// The shortest time between two accepted `typing` of one user in one
/// conversation.
const MIN_INTERVAL: Duration = Duration::from_millis(TYPING_MIN_INTERVAL_MS);

/// When a user last typed in each conversation, to refuse floods. Entries
/// older than [`MIN_INTERVAL`] mean nothing, so they are dropped whenever
/// the map grows past a few, keeping it as small as the conversations the
/// user typed in during the last two seconds.
#[derive(Debug, Default)]
pub(super) struct TypingPace {
    last: HashMap<ConvKey, Instant>,
}

impl TypingPace {
    /// Whether a `typing` in `conv` at `now` is accepted; if so, it is
    /// recorded.
    fn take(&mut self, conv: &ConvKey, now: Instant) -> bool {
        if self
            .last
            .get(conv)
            .is_some_and(|t| now.saturating_duration_since(*t) < MIN_INTERVAL)
        {
            return false;
        }
        if self.last.len() >= 16 {
            self.last
                .retain(|_, t| now.saturating_duration_since(*t) < MIN_INTERVAL);
        }
        self.last.insert(conv.clone(), now);
        true
    }
}

impl Hub {
    /// Tells the other online members of `with` that `user` is typing
    /// there. Nothing is stored. Refused (and passed on to nobody) when the
    /// user typed in the same conversation less than
    /// [`TYPING_MIN_INTERVAL_MS`] ago; accepted and passed on to nobody in
    /// rooms of more than [`TYPING_ROOM_LIMIT`] members.
    pub fn typing(&self, user: &UserCtx, with: &Target) -> Result<(), HubError> {
        let mut live = lock(&self.live);
        let (conv, canonical) = live.conversation(&user.id, with)?;
        let accepted = live
            .users
            .get_mut(&user.id)
            .is_some_and(|u| u.typing.take(&conv, Instant::now()));
        if !accepted {
            return Err(HubError::TypingTooOften);
        }
        let (with, recipients): (Target, Vec<_>) = match &conv {
            ConvKey::Room(key) => {
                let Some(room) = live.rooms.get(key) else {
                    return Ok(());
                };
                if room.members.len() > TYPING_ROOM_LIMIT {
                    return Ok(());
                }
                (canonical, room.fanout.online.clone())
            }
            ConvKey::Direct(peer) => {
                if *peer == user.id {
                    // Notes to oneself: nobody else to tell.
                    return Ok(());
                }
                let sessions = live
                    .users
                    .get(peer)
                    .map(|p| p.sessions.clone())
                    .unwrap_or_default();
                (Target::User(user.name.clone()), sessions)
            }
        };
        // Never to the typing user's own sessions: they know.
        let mine: Vec<ConnId> = live
            .users
            .get(&user.id)
            .map(|u| u.sessions.iter().map(|s| s.conn).collect())
            .unwrap_or_default();
        drop(live);
        let event = typing_event(with, user.name.clone());
        for s in recipients.iter().filter(|s| !mine.contains(&s.conn)) {
            s.outbox.push(event.clone());
        }
        Ok(())
    }
}

fn typing_event(with: Target, user: Username) -> Bytes {
    Bytes::from(ServerMessage::Typing { with, user }.encode())
}
