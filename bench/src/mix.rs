//! The mixed workload (`--mix`): what a chat looks like besides messages.
//! Of every 20 requests a client makes, 17 are messages (85 %), 2 are
//! reactions (10 %), alternately to the newest message it has seen in its
//! room and taking that reaction back, and 1 is an edit (5 %) of its own
//! newest message; and, like a person typing,
//! it sends `typing` before a message at most every
//! [`TYPING_REPEAT_MS`](cove_common::limits::TYPING_REPEAT_MS).

use cove_common::proto::MessageId;
use cove_common::{ClientMsgId, Emoji, MessageText, Request, Target};

/// One request of a client's sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// A message.
    Message,
    /// A reaction.
    React,
    /// An edit.
    Edit,
}

/// The `seq`th request of a client: always a message without `--mix`.
pub fn op(mix: bool, seq: usize) -> Op {
    match (mix, seq % 20) {
        (true, 17 | 18) => Op::React,
        (true, 19) => Op::Edit,
        _ => Op::Message,
    }
}

/// How many of a client's `per` requests are messages.
pub fn messages_of(mix: bool, per: usize) -> usize {
    (0..per).filter(|&s| op(mix, s) == Op::Message).count()
}

const EMOJIS: [&str; 4] = ["👍", "🎉", "😂", "❤️"];

/// A client's reactions: each one it adds, it takes back with its next.
#[derive(Debug, Default)]
pub struct Reactions {
    last: Option<(MessageId, usize)>,
}

impl Reactions {
    /// The `seq`th request, a reaction: to `newest` (the newest message
    /// seen), or taking back the last one.
    pub fn next(&mut self, seq: usize, room: &Target, newest: MessageId) -> Option<Request> {
        let (target, emoji, remove) = match self.last.take() {
            Some((target, emoji)) => (target, emoji, true),
            None => {
                let emoji = seq % EMOJIS.len();
                self.last = Some((newest, emoji));
                (newest, emoji, false)
            }
        };
        Some(Request::React {
            client_id: ClientMsgId::new(format!("x{seq}")).ok()?,
            with: room.clone(),
            message_id: target,
            emoji: Emoji::new(EMOJIS[emoji]).ok()?,
            remove,
        })
    }
}

/// The `seq`th request, an edit of the client's own newest message.
pub fn edit(seq: usize, room: &Target, own: MessageId) -> Option<Request> {
    Some(Request::Edit {
        client_id: ClientMsgId::new(format!("x{seq}")).ok()?,
        with: room.clone(),
        message_id: own,
        text: MessageText::new(format!("edited by the bench ({seq})")).ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mix_is_85_10_5() {
        let ops: Vec<Op> = (0..2000).map(|s| op(true, s)).collect();
        let n = |o| ops.iter().filter(|&&x| x == o).count();
        assert_eq!(
            (n(Op::Message), n(Op::React), n(Op::Edit)),
            (1700, 200, 100)
        );
        assert!((0..2000).all(|s| op(false, s) == Op::Message));
        assert_eq!(messages_of(true, 40), 34);
    }
}
