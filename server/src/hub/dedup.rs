//! De-duplication of re-sent messages: each user's recently stored client
//! ids, so a client that re-sends after a reconnect gets the original ack
//! instead of storing the message twice.

use std::collections::VecDeque;

use cove_common::ClientMsgId;
use cove_common::proto::{ChatMessage, MessageId, Timestamp};

use crate::store::users::UserId;
use crate::sync::lock;

use super::Hub;

/// Client ids remembered per user.
const RECENT_IDS: usize = 256;

/// The last [`RECENT_IDS`] stored messages of one user, by client id.
#[derive(Debug, Default)]
pub(super) struct RecentIds(VecDeque<(ClientMsgId, MessageId, Timestamp)>);

impl RecentIds {
    /// The id and time a message with this client id was stored under.
    pub(super) fn find(&self, client_id: &ClientMsgId) -> Option<(MessageId, Timestamp)> {
        self.0
            .iter()
            .find(|(c, _, _)| c == client_id)
            .map(|(_, id, ts)| (*id, *ts))
    }

    /// Remembers a stored message, forgetting the oldest past the bound.
    pub(super) fn remember(&mut self, client_id: ClientMsgId, id: MessageId, ts: Timestamp) {
        if self.0.len() >= RECENT_IDS {
            self.0.pop_front();
        }
        self.0.push_back((client_id, id, ts));
    }
}

impl Hub {
    /// Remembers a stored message's client id (after its history write).
    pub fn remember_sent(&self, user: &UserId, client_id: ClientMsgId, msg: &ChatMessage) {
        let mut live = lock(&self.live);
        if let Some(u) = live.users.get_mut(user) {
            u.recent.remember(client_id, msg.id, msg.ts);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn cid(n: usize) -> ClientMsgId {
        ClientMsgId::new(format!("c{n}")).unwrap()
    }

    #[test]
    fn remembers_the_newest_ids_up_to_the_bound() {
        let mut r = RecentIds::default();
        for n in 0..RECENT_IDS + 10 {
            r.remember(cid(n), n as u64 * 10, n as u64);
        }
        assert_eq!(r.find(&cid(5)), None, "the oldest are forgotten");
        assert_eq!(r.find(&cid(10)), Some((100, 10)));
        let last = RECENT_IDS + 9;
        assert_eq!(r.find(&cid(last)), Some((last as u64 * 10, last as u64)));
        assert_eq!(r.0.len(), RECENT_IDS);
    }
}
