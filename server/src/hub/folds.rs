//! What the changes (edits, deletions, reactions) of one user's
//! conversations add up to, per message, and how a stored message is
//! returned with them applied.
//!
//! Merging is order-free: every field keeps the change with the highest
//! id, so a change applied live while the user's changes file is being
//! read, and then read from the file too, counts once, and the file may be
//! read newest first.

use std::collections::HashMap;
use std::sync::Mutex;

use cove_common::limits::REACTION_NAMES_MAX;
use cove_common::proto::{Change, ChangeKind, ChatMessage, MessageId, Reaction, Timestamp};
use cove_common::{Emoji, MessageText, Username};
use tokio::sync::OnceCell;

use crate::sync::lock;

/// One user's reaction with one emoji.
#[derive(Debug, Clone)]
struct UserReaction {
    user: Username,
    /// The id of their first reaction with it: names are listed in this
    /// order.
    first: MessageId,
    /// The id of their latest change of it, which decides `on`.
    last: MessageId,
    on: bool,
}

/// Everything changed about one message.
#[derive(Debug, Clone, Default)]
struct Folded {
    /// The latest edit by each user who edited it (only ever its author,
    /// as the server accepts no others): author, id, time, text.
    edits: Vec<(Username, MessageId, Timestamp, MessageText)>,
    /// The first deletion by each user who deleted it (its author, or a
    /// moderator of its room): who, id, time.
    deletions: Vec<(Username, MessageId, Timestamp)>,
    /// Reactions by emoji.
    reactions: Vec<(Emoji, Vec<UserReaction>)>,
}

/// The changes of one user's conversations, by message.
#[derive(Debug, Default)]
pub(super) struct FoldMap {
    messages: HashMap<MessageId, Folded>,
}

impl FoldMap {
    /// Takes one change into account (again, or out of order: see the
    /// module's comment).
    pub(super) fn apply(&mut self, c: &Change) {
        let f = self.messages.entry(c.message_id).or_default();
        match &c.what {
            ChangeKind::Edit { text } => match f.edits.iter_mut().find(|e| e.0 == c.from) {
                Some(e) if e.1 < c.id => *e = (c.from.clone(), c.id, c.ts, text.clone()),
                Some(_) => {}
                None => f.edits.push((c.from.clone(), c.id, c.ts, text.clone())),
            },
            ChangeKind::Delete => match f.deletions.iter_mut().find(|d| d.0 == c.from) {
                Some(d) if d.1 > c.id => *d = (c.from.clone(), c.id, c.ts),
                Some(_) => {}
                None => f.deletions.push((c.from.clone(), c.id, c.ts)),
            },
            ChangeKind::React { emoji, remove } => {
                let users = match f.reactions.iter_mut().position(|(e, _)| e == emoji) {
                    Some(i) => &mut f.reactions[i].1,
                    None => {
                        f.reactions.push((emoji.clone(), Vec::new()));
                        &mut f.reactions.last_mut().expect("just pushed").1
                    }
                };
                match users.iter_mut().find(|u| u.user == c.from) {
                    Some(u) => {
                        if u.last < c.id {
                            u.last = c.id;
                            u.on = !remove;
                        }
                        if !remove {
                            u.first = u.first.min(c.id);
                        }
                    }
                    None => users.push(UserReaction {
                        user: c.from.clone(),
                        first: c.id,
                        last: c.id,
                        on: !remove,
                    }),
                }
            }
        }
    }

    /// Whether `id` was deleted (by its author or a moderator: the server
    /// stores no other deletion).
    pub(super) fn is_deleted(&self, id: MessageId) -> bool {
        self.messages
            .get(&id)
            .is_some_and(|f| !f.deletions.is_empty())
    }

    /// Whether `user` reacts to `id` with `emoji` now.
    pub(super) fn reacts(&self, id: MessageId, emoji: &Emoji, user: &Username) -> bool {
        self.messages.get(&id).is_some_and(|f| {
            f.reactions
                .iter()
                .filter(|(e, _)| e == emoji)
                .flat_map(|(_, users)| users)
                .any(|u| u.user == *user && u.on)
        })
    }

    /// The emojis `id` has reactions with now.
    pub(super) fn emojis_on(&self, id: MessageId) -> Vec<&Emoji> {
        self.messages.get(&id).map_or(Vec::new(), |f| {
            f.reactions
                .iter()
                .filter(|(_, users)| users.iter().any(|u| u.on))
                .map(|(e, _)| e)
                .collect()
        })
    }

    /// `msg` as it now stands, seen by `me`: only its author's edits count
    /// (the server accepts no others; this keeps a changes file from
    /// anywhere else from rewriting a message); a deletion is its author's
    /// or a moderator's, which the server checked when it stored it.
    pub(super) fn fold(&self, mut msg: ChatMessage, me: &Username) -> ChatMessage {
        if let Some(q) = &mut msg.reply_to
            && self.is_deleted(q.id)
        {
            q.text = None;
        }
        let Some(f) = self.messages.get(&msg.id) else {
            return msg;
        };
        if let Some((_, _, ts)) = f.deletions.iter().min_by_key(|d| d.1) {
            msg.text = None;
            msg.file = None;
            msg.deleted = Some(*ts);
            msg.edited = None;
            msg.reactions.clear();
            return msg;
        }
        if let Some((_, _, ts, text)) = f.edits.iter().find(|e| e.0 == msg.from) {
            msg.text = Some(text.clone());
            msg.edited = Some(*ts);
        }
        let mut reactions: Vec<(MessageId, Reaction)> = Vec::new();
        for (emoji, users) in &f.reactions {
            let mut on: Vec<&UserReaction> = users.iter().filter(|u| u.on).collect();
            if on.is_empty() {
                continue;
            }
            on.sort_by_key(|u| u.first);
            reactions.push((
                on[0].first,
                Reaction {
                    emoji: emoji.clone(),
                    count: u32::try_from(on.len()).unwrap_or(u32::MAX),
                    mine: on.iter().any(|u| u.user == *me),
                    users: on
                        .iter()
                        .take(REACTION_NAMES_MAX)
                        .map(|u| u.user.clone())
                        .collect(),
                },
            ));
        }
        reactions.sort_by_key(|(first, _)| *first);
        msg.reactions = reactions.into_iter().map(|(_, r)| r).collect();
        msg
    }
}

/// One logged-in user's [`FoldMap`], filled from their changes file once
/// (`loaded`) and kept up to date live meanwhile.
#[derive(Debug, Default)]
pub(super) struct UserFolds {
    pub(super) map: Mutex<FoldMap>,
    pub(super) loaded: OnceCell<()>,
}

impl UserFolds {
    /// Applies a change (live, or read from the file).
    pub(super) fn apply(&self, c: &Change) {
        lock(&self.map).apply(c);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use cove_common::proto::Target;
    use cove_common::{MessageText, RoomName};

    fn u(s: &str) -> Username {
        Username::new(s).unwrap()
    }
    fn msg(id: u64, from: &str, text: &str) -> ChatMessage {
        ChatMessage::new(
            id,
            id,
            u(from),
            Target::Room(RoomName::general()),
            MessageText::new(text).unwrap(),
        )
    }
    fn change(id: u64, from: &str, message_id: u64, what: ChangeKind) -> Change {
        Change {
            id,
            ts: id * 10,
            from: u(from),
            to: Target::Room(RoomName::general()),
            message_id,
            what,
        }
    }
    fn edit(id: u64, from: &str, m: u64, text: &str) -> Change {
        change(
            id,
            from,
            m,
            ChangeKind::Edit {
                text: MessageText::new(text).unwrap(),
            },
        )
    }
    fn react(id: u64, from: &str, m: u64, e: &str, remove: bool) -> Change {
        change(
            id,
            from,
            m,
            ChangeKind::React {
                emoji: Emoji::new(e).unwrap(),
                remove,
            },
        )
    }

    #[test]
    fn the_latest_edit_wins_in_any_order_and_only_the_authors() {
        let changes = [
            edit(5, "alice", 1, "second"),
            edit(3, "alice", 1, "first"),
            edit(9, "mallory", 1, "forged"),
        ];
        let mut fwd = FoldMap::default();
        let mut back = FoldMap::default();
        for c in &changes {
            fwd.apply(c);
        }
        for c in changes.iter().rev() {
            back.apply(c);
        }
        for map in [fwd, back] {
            let m = map.fold(msg(1, "alice", "orig"), &u("bob"));
            // The forged edit is the newest, but not the author's.
            assert_eq!((m.text_str(), m.edited), ("second", Some(50)));
        }
        let mut map = FoldMap::default();
        map.apply(&edit(3, "alice", 1, "first"));
        map.apply(&edit(5, "alice", 1, "second"));
        map.apply(&edit(3, "alice", 1, "first"));
        let m = map.fold(msg(1, "alice", "orig"), &u("bob"));
        assert_eq!((m.text_str(), m.edited), ("second", Some(50)));
    }

    #[test]
    fn a_deletion_hides_text_edits_and_reactions_and_the_quotes_of_it() {
        let mut map = FoldMap::default();
        map.apply(&edit(3, "alice", 1, "edited"));
        map.apply(&react(4, "bob", 1, "👍", false));
        map.apply(&change(6, "alice", 1, ChangeKind::Delete));
        let m = map.fold(msg(1, "alice", "secret"), &u("bob"));
        assert_eq!(m.text, None);
        assert_eq!(m.deleted, Some(60));
        assert!(m.reactions.is_empty() && m.edited.is_none());
        let mut reply = msg(2, "bob", "what?");
        reply.reply_to = Some(cove_common::proto::Quote {
            id: 1,
            from: u("alice"),
            text: Some("secret".into()),
        });
        assert_eq!(map.fold(reply, &u("bob")).reply_to.unwrap().text, None);
        // A moderator's deletion (the server checked the role) counts too.
        let mut map = FoldMap::default();
        map.apply(&change(6, "moderator", 1, ChangeKind::Delete));
        assert_eq!(map.fold(msg(1, "alice", "x"), &u("bob")).text, None);
        assert!(map.is_deleted(1));
    }

    #[test]
    fn reactions_count_once_per_user_in_the_order_first_used() {
        let mut map = FoldMap::default();
        map.apply(&react(10, "carol", 1, "🎉", false));
        map.apply(&react(11, "bob", 1, "👍", false));
        map.apply(&react(12, "alice", 1, "👍", false));
        map.apply(&react(13, "bob", 1, "👍", false)); // twice: once
        map.apply(&react(14, "carol", 1, "🎉", true)); // taken back
        map.apply(&react(15, "dave", 1, "😂", false));
        // Read back in the other order (a file read newest first).
        map.apply(&react(12, "alice", 1, "👍", false));
        let m = map.fold(msg(1, "alice", "x"), &u("alice"));
        let got: Vec<_> = m
            .reactions
            .iter()
            .map(|r| (r.emoji.as_str(), r.count, r.users.len(), r.mine))
            .collect();
        assert_eq!(got, [("👍", 2, 2, true), ("😂", 1, 1, false)]);
        assert_eq!(m.reactions[0].users, [u("bob"), u("alice")]);
        assert_eq!(map.emojis_on(1).len(), 2);
        // A take-back read before the reaction it takes back still wins.
        let mut map = FoldMap::default();
        map.apply(&react(14, "carol", 1, "🎉", true));
        map.apply(&react(10, "carol", 1, "🎉", false));
        assert!(
            map.fold(msg(1, "alice", "x"), &u("bob"))
                .reactions
                .is_empty()
        );
    }

    #[test]
    fn a_page_lists_at_most_ten_names_with_the_full_count() {
        let mut map = FoldMap::default();
        for i in 0..25u64 {
            map.apply(&react(100 + i, &format!("user{i:02}"), 1, "👍", false));
        }
        let m = map.fold(msg(1, "alice", "x"), &u("user24"));
        let r = &m.reactions[0];
        assert_eq!(
            (r.count, r.users.len(), r.mine),
            (25, REACTION_NAMES_MAX, true)
        );
        assert_eq!(r.users[0], u("user00"));
    }
}
