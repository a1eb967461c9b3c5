//! De-duplication of re-sent messages: each user's recently sent client
//! ids, recorded when the message id is issued, so a client that re-sends
//! (after a reconnect, or while the first copy is still being written) gets
//! the original ack instead of storing the message twice. A client id whose
//! message could not be stored is forgotten, so it can be sent again.

use std::collections::VecDeque;

use cove_common::ClientMsgId;
use cove_common::proto::{MessageId, Timestamp};

use crate::store::users::UserId;
use crate::sync::lock;

use super::{Hub, StoreDone};

/// Client ids remembered per user.
const RECENT_IDS: usize = 256;

/// One sent message as a resend finds it.
#[derive(Debug)]
struct Sent {
    client_id: ClientMsgId,
    id: MessageId,
    ts: Timestamp,
    /// Its storage outcome (complete once stored).
    done: StoreDone,
}

/// The last [`RECENT_IDS`] messages one user sent, by client id.
#[derive(Debug, Default)]
pub(super) struct RecentIds(VecDeque<Sent>);

impl RecentIds {
    /// The id, time and storage outcome of the message sent with this
    /// client id.
    pub(super) fn find(
        &self,
        client_id: &ClientMsgId,
    ) -> Option<(MessageId, Timestamp, StoreDone)> {
        self.0
            .iter()
            .find(|s| &s.client_id == client_id)
            .map(|s| (s.id, s.ts, s.done.clone()))
    }

    /// Remembers a message as its id is issued, forgetting the oldest past
    /// the bound.
    pub(super) fn remember(
        &mut self,
        client_id: ClientMsgId,
        id: MessageId,
        ts: Timestamp,
        done: StoreDone,
    ) {
        if self.0.len() >= RECENT_IDS {
            self.0.pop_front();
        }
        self.0.push_back(Sent {
            client_id,
            id,
            ts,
            done,
        });
    }

    /// Forgets the message `id` sent with `client_id` (not a later one sent
    /// with the same client id).
    pub(super) fn forget(&mut self, client_id: &ClientMsgId, id: MessageId) {
        self.0
            .retain(|s| !(&s.client_id == client_id && s.id == id));
    }
}

impl Hub {
    /// Forgets a message that could not be stored, so that sending it again
    /// stores it rather than repeating the failure.
    pub fn forget_unstored(&self, user: &UserId, client_id: &ClientMsgId, id: MessageId) {
        let mut live = lock(&self.live);
        if let Some(u) = live.users.get_mut(user) {
            u.recent.forget(client_id, id);
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

    fn stored() -> StoreDone {
        futures_util::FutureExt::shared(futures_util::FutureExt::boxed(async { Ok(()) }))
    }

    fn found(r: &RecentIds, c: &ClientMsgId) -> Option<(MessageId, Timestamp)> {
        r.find(c).map(|(id, ts, _)| (id, ts))
    }

    #[test]
    fn remembers_the_newest_ids_up_to_the_bound() {
        let mut r = RecentIds::default();
        for n in 0..RECENT_IDS + 10 {
            r.remember(cid(n), n as u64 * 10, n as u64, stored());
        }
        assert_eq!(found(&r, &cid(5)), None, "the oldest are forgotten");
        assert_eq!(found(&r, &cid(10)), Some((100, 10)));
        let last = RECENT_IDS + 9;
        assert_eq!(found(&r, &cid(last)), Some((last as u64 * 10, last as u64)));
        assert_eq!(r.0.len(), RECENT_IDS);
    }

    #[test]
    fn forgetting_spares_a_later_message_with_the_same_client_id() {
        let mut r = RecentIds::default();
        r.remember(cid(1), 10, 1, stored());
        r.forget(&cid(1), 10);
        assert_eq!(found(&r, &cid(1)), None);
        r.remember(cid(1), 20, 2, stored());
        r.forget(&cid(1), 10);
        assert_eq!(found(&r, &cid(1)), Some((20, 2)));
    }
}
