//! Read markers and unread counts, counted lazily.
//!
//! Every conversation has a sequence number, the count of its messages so
//! far ([`Sequence`]), and every user a marker per conversation: the newest
//! message id they read and the conversation's sequence number at it
//! ([`Mark`]). A user's unread count is the difference, computed when
//! asked (`welcome`, `joined`, `rooms`, `read`), so a send does O(1) work
//! for unread counts whatever the size of the room: it bumps one sequence
//! number and moves the sender's own marker.
//!
//! Both are saved to `users.json` in batches: what changed is noted in
//! [`Dirty`] and [`Hub::save_reads`] hands it to the accounts thread, at
//! most one batch at a time (the server calls it every
//! [`READ_SAVE_INTERVAL`] and when it stops).

use std::collections::{HashSet, VecDeque};
use std::time::Duration;

use bytes::Bytes;
use cove_common::limits::MENTIONS_COUNTED_MAX;
use cove_common::proto::{MessageId, ServerMessage};
use cove_common::{Target, Username};
use tokio::sync::oneshot;

use crate::accounts::UserCtx;
use crate::store::users::{ConvCount, MarkedConv, ReadMark, ReadSave, UserId};
use crate::sync::lock;

use super::live::LiveState;
use super::{Hub, HubError};

/// How often changed markers and counts are saved, at most: a crash loses
/// at most this long of them (messages then not counted as unread), and a
/// busy server rewrites `users.json` at most this often for them.
pub const READ_SAVE_INTERVAL: Duration = Duration::from_secs(2);

/// Message ids remembered per conversation with their sequence numbers, so
/// that a marker set a little behind the newest message counts exactly.
const RECENT_IDS: usize = 256;

/// A conversation as a user's marker names it: a room by its key, or the
/// direct conversation with a user.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum ConvKey {
    Room(String),
    Direct(UserId),
}

/// The two users of a direct conversation, the smaller id first.
pub(super) type Pair = [UserId; 2];

/// The pair naming the direct conversation of `a` and `b`.
pub(super) fn pair(a: &UserId, b: &UserId) -> Pair {
    if a <= b {
        [a.clone(), b.clone()]
    } else {
        [b.clone(), a.clone()]
    }
}

/// A user's read marker in one conversation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Mark {
    /// The newest message id read.
    pub(super) id: MessageId,
    /// The conversation's sequence number at that message.
    pub(super) seq: u64,
}

/// What a user has not read in one conversation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Unread {
    /// Messages after their marker.
    pub(super) messages: u32,
    /// Of those, the ones that mention them (counted up to
    /// [`MENTIONS_COUNTED_MAX`]).
    pub(super) mentions: u32,
}

/// One conversation's count of messages, with its newest ids.
#[derive(Debug, Default)]
pub(super) struct Sequence {
    count: ConvCount,
    /// The last [`RECENT_IDS`] messages' ids with their sequence numbers,
    /// oldest first (memory only: empty after a restart).
    recent: VecDeque<(MessageId, u64)>,
}

impl Sequence {
    /// A conversation's count as saved.
    pub(super) fn restored(count: ConvCount) -> Self {
        Self {
            count,
            recent: VecDeque::new(),
        }
    }

    /// The count, to save.
    pub(super) fn count(&self) -> ConvCount {
        self.count
    }

    /// Counts one new message; O(1).
    pub(super) fn push(&mut self, id: MessageId) -> Mark {
        self.count.seq += 1;
        self.count.last_id = id;
        if self.recent.len() == RECENT_IDS {
            self.recent.pop_front();
        }
        self.recent.push_back((id, self.count.seq));
        self.newest()
    }

    /// The marker at the newest message.
    pub(super) fn newest(&self) -> Mark {
        Mark {
            id: self.count.last_id,
            seq: self.count.seq,
        }
    }

    /// The marker at the newest message at or below `up_to`, if this
    /// conversation remembers it (the newest message always; older ones
    /// among the last [`RECENT_IDS`] since the server started).
    fn mark_at(&self, up_to: MessageId) -> Option<Mark> {
        if up_to >= self.count.last_id {
            return Some(self.newest());
        }
        let at = self.recent.partition_point(|(id, _)| *id <= up_to);
        let (id, seq) = *self.recent.get(at.checked_sub(1)?)?;
        Some(Mark { id, seq })
    }

    /// Messages after `mark`.
    pub(super) fn unread_after(&self, mark: Mark) -> u32 {
        u32::try_from(self.count.seq.saturating_sub(mark.seq)).unwrap_or(u32::MAX)
    }

    /// `mark` moved forward to `up_to` (never back). A message this
    /// conversation no longer remembers moves the id but keeps the
    /// sequence number: the count stays as it was (too high, never too
    /// low) until a marker at a remembered message.
    fn advance(&self, mark: Mark, up_to: MessageId) -> Mark {
        let to = self.mark_at(up_to).unwrap_or(Mark {
            id: up_to,
            seq: mark.seq,
        });
        if to.id <= mark.id {
            return mark;
        }
        Mark {
            id: to.id,
            seq: to.seq.max(mark.seq),
        }
    }
}

/// Counts and markers changed since the last save.
#[derive(Debug, Default)]
pub(super) struct Dirty {
    rooms: HashSet<String>,
    directs: HashSet<Pair>,
    marks: HashSet<(UserId, ConvKey)>,
}

impl LiveState {
    /// The sequence of `user`'s conversation `conv` (a room they may not be
    /// in, or a direct conversation that may not exist yet).
    fn sequence(&self, user: &UserId, conv: &ConvKey) -> Option<&Sequence> {
        match conv {
            ConvKey::Room(key) => self.rooms.get(key).map(|r| &r.count),
            ConvKey::Direct(peer) => self.directs.get(&pair(user, peer)),
        }
    }

    /// What `user` has not read in `conv`.
    pub(super) fn unread(&self, user: &UserId, conv: &ConvKey) -> Unread {
        let Some(seq) = self.sequence(user, conv) else {
            return Unread::default();
        };
        let Some(u) = self.users.get(user) else {
            return Unread::default();
        };
        let mark = u.marks.get(conv).copied().unwrap_or_default();
        let mentions = u.mentions.get(conv).map_or(0, Vec::len);
        Unread {
            messages: seq.unread_after(mark),
            mentions: u32::try_from(mentions).unwrap_or(u32::MAX),
        }
    }

    /// Notes that message `id` in `conv` (as `user` names it) mentions
    /// `user`: it counts until their marker passes it. O(1) per mentioned
    /// user; the oldest is forgotten past [`MENTIONS_COUNTED_MAX`].
    pub(super) fn note_mention(&mut self, user: &UserId, conv: ConvKey, id: MessageId) {
        let Some(u) = self.users.get_mut(user) else {
            return;
        };
        let ids = u.mentions.entry(conv.clone()).or_default();
        if ids.len() >= MENTIONS_COUNTED_MAX {
            ids.remove(0);
        }
        ids.push(id);
        self.dirty.marks.insert((user.clone(), conv));
    }

    /// Counts a new message `id` in `conv` as seen from `from`, whose own
    /// message it is: their marker moves to it. O(1) whatever the size of
    /// the conversation.
    pub(super) fn count_message(&mut self, from: &UserId, conv: &ConvKey, id: MessageId) {
        let mark = match conv {
            ConvKey::Room(key) => {
                let Some(room) = self.rooms.get_mut(key) else {
                    return;
                };
                self.dirty.rooms.insert(key.clone());
                room.count.push(id)
            }
            ConvKey::Direct(peer) => {
                let p = pair(from, peer);
                let mark = self.directs.entry(p.clone()).or_default().push(id);
                self.dirty.directs.insert(p);
                mark
            }
        };
        self.set_mark(from, conv, mark);
    }

    /// Sets `user`'s marker in `conv` (the caller knows it moves forward or
    /// starts the conversation for them, as on joining).
    pub(super) fn set_mark(&mut self, user: &UserId, conv: &ConvKey, mark: Mark) {
        if let Some(u) = self.users.get_mut(user) {
            u.marks.insert(conv.clone(), mark);
            if let Some(ids) = u.mentions.get_mut(conv) {
                ids.retain(|&m| m > mark.id);
                if ids.is_empty() {
                    u.mentions.remove(conv);
                }
            }
            self.dirty.marks.insert((user.clone(), conv.clone()));
        }
    }

    /// Notes where `user` joined the room `key`: they never received its
    /// messages up to its newest now (see [`super::recent::JoinedAt`]).
    pub(super) fn note_joined(&mut self, user: &UserId, key: &str) {
        if let Some(r) = self.rooms.get_mut(key) {
            let last = r.count.count().last_id;
            r.joined.set(user.clone(), last);
        }
    }

    /// `user`'s marker in room `key` set at its newest message: on joining,
    /// what came before is not theirs to read.
    pub(super) fn mark_room_read(&mut self, user: &UserId, key: &str) {
        if let Some(mark) = self.rooms.get(key).map(|r| r.count.newest()) {
            self.set_mark(user, &ConvKey::Room(key.to_owned()), mark);
        }
    }

    /// What changed since the last call, as the accounts database saves it.
    fn take_dirty(&mut self) -> Option<ReadSave> {
        let dirty = std::mem::take(&mut self.dirty);
        if dirty.rooms.is_empty() && dirty.directs.is_empty() && dirty.marks.is_empty() {
            return None;
        }
        let rooms = dirty
            .rooms
            .iter()
            .filter_map(|k| self.rooms.get(k))
            .map(|r| (r.name.clone(), r.count.count()))
            .collect();
        let directs = dirty
            .directs
            .into_iter()
            .filter_map(|p| self.directs.get(&p).map(|s| (p.clone(), s.count())))
            .collect();
        let marks = dirty
            .marks
            .into_iter()
            .filter_map(|(user, conv)| {
                let u = self.users.get(&user)?;
                let mark = u.marks.get(&conv).copied().unwrap_or_default();
                let mentions = u.mentions.get(&conv).cloned().unwrap_or_default();
                let with = match conv {
                    ConvKey::Room(key) => MarkedConv::Room(self.rooms.get(&key)?.name.clone()),
                    ConvKey::Direct(peer) => MarkedConv::User(peer),
                };
                let mark = ReadMark {
                    with,
                    id: mark.id,
                    seq: mark.seq,
                    mentions,
                };
                Some((user, mark))
            })
            .collect();
        Some(ReadSave {
            rooms,
            directs,
            marks,
        })
    }

    /// The conversation `with` names for `user`: a room they are in, or an
    /// existing user; with `with` spelled as first registered.
    pub(super) fn conversation(
        &self,
        user: &UserId,
        with: &Target,
    ) -> Result<(ConvKey, Target), HubError> {
        match with {
            Target::Room(room) => {
                let r = self.member_room(room, user)?;
                Ok((ConvKey::Room(room.key()), Target::Room(r.name.clone())))
            }
            Target::User(name) => {
                let peer = self
                    .names
                    .get(&name.key())
                    .ok_or_else(|| HubError::NoSuchUser(name.clone()))?;
                let canonical = self
                    .users
                    .get(peer)
                    .map_or_else(|| name.clone(), |p| p.name.clone());
                Ok((ConvKey::Direct(peer.clone()), Target::User(canonical)))
            }
        }
    }

    /// `user`'s unread count in every direct conversation that has any.
    pub(super) fn direct_unread(&self, user: &UserId) -> Vec<(Username, Unread)> {
        let Some(u) = self.users.get(user) else {
            return Vec::new();
        };
        u.contacts
            .iter()
            .filter_map(|c| {
                let n = self.unread(user, &ConvKey::Direct(c.clone()));
                let name = self.users.get(c)?.name.clone();
                (n.messages > 0).then_some((name, n))
            })
            .collect()
    }
}

impl Hub {
    /// Moves `user`'s read marker in `with` forward to `up_to` (never
    /// back) and returns the reply: the marker as it stands and the
    /// messages after it. When it moved, the user's other sessions are
    /// told.
    pub fn read(
        &self,
        user: &UserCtx,
        conn: super::ConnId,
        id: u64,
        with: &Target,
        up_to: MessageId,
    ) -> Result<ServerMessage, HubError> {
        let mut live = lock(&self.live);
        let (conv, with) = live.conversation(&user.id, with)?;
        let old = live
            .users
            .get(&user.id)
            .and_then(|u| u.marks.get(&conv))
            .copied()
            .unwrap_or_default();
        let new = match live.sequence(&user.id, &conv) {
            Some(seq) => seq.advance(old, up_to),
            // No message yet: nothing to read.
            None => old,
        };
        if new != old {
            live.set_mark(&user.id, &conv, new);
        }
        let unread = live.unread(&user.id, &conv);
        let reply = |id| ServerMessage::Read {
            id,
            with: with.clone(),
            up_to: new.id,
            unread: unread.messages,
            mentions: unread.mentions,
        };
        if new != old
            && let Some(u) = live.users.get(&user.id)
        {
            let pushed = Bytes::from(reply(None).encode());
            for s in u.sessions.iter().filter(|s| s.conn != conn) {
                s.outbox.push(pushed.clone());
            }
        }
        Ok(reply(Some(id)))
    }

    /// Hands the counts and markers changed since the last call to the
    /// accounts thread; the receiver completes once they were saved (or
    /// the save was tried). `None` when nothing changed.
    pub fn save_reads(&self) -> Option<oneshot::Receiver<()>> {
        let save = lock(&self.live).take_dirty()?;
        Some(self.db.save_reads(save))
    }

    /// Tests only: every account's state as the hub holds it (markers,
    /// contacts, sessions …), by name, and each room's count of messages,
    /// to see what a send touches.
    #[cfg(test)]
    pub(crate) fn unread_probe(
        &self,
    ) -> (
        std::collections::BTreeMap<String, String>,
        std::collections::BTreeMap<String, u64>,
    ) {
        let live = lock(&self.live);
        let users = live
            .users
            .values()
            .map(|u| (u.name.to_string(), format!("{u:?}")))
            .collect();
        let rooms = live
            .rooms
            .values()
            .map(|r| (r.name.to_string(), r.count.count().seq))
            .collect();
        (users, rooms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mark(id: u64, seq: u64) -> Mark {
        Mark { id, seq }
    }

    #[test]
    fn markers_move_forward_only_and_count_what_follows() {
        let mut s = Sequence::default();
        for id in [10, 20, 30, 40] {
            s.push(id);
        }
        let m = s.advance(Mark::default(), 20);
        assert_eq!(m, mark(20, 2));
        assert_eq!(s.unread_after(m), 2);
        // Between two messages: the older one.
        assert_eq!(s.advance(Mark::default(), 25), mark(20, 2));
        // Never back.
        assert_eq!(s.advance(m, 10), m);
        // Past the newest: the newest.
        assert_eq!(s.advance(m, u64::MAX), mark(40, 4));
        assert_eq!(s.unread_after(mark(40, 4)), 0);
    }

    #[test]
    fn a_marker_older_than_remembered_keeps_its_count() {
        let mut s = Sequence::restored(ConvCount {
            seq: 100,
            last_id: 1_000,
        });
        s.push(1_001);
        // 500 is before anything this run remembers: the id moves, the
        // count stays (high, never low).
        let m = s.advance(mark(400, 90), 500);
        assert_eq!(m, mark(500, 90));
        assert_eq!(s.unread_after(m), 11);
        // The ring holds the last RECENT_IDS only.
        for id in 2_000..2_000 + RECENT_IDS as u64 + 10 {
            s.push(id);
        }
        assert_eq!(s.recent.len(), RECENT_IDS);
    }
}
