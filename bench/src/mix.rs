//! The mixed workload (`--mix`): what a chat looks like besides messages.
//! Of every 20 requests a client makes, 17 are messages (85 %), 2 are
//! reactions (10 %) to the newest message it has seen in its room, and 1
//! is an edit (5 %) of its own newest message; and, like a person typing,
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

/// The request for a reaction or an edit of `target` (`None` before the
/// client has seen or sent a message: it sends a message instead).
pub fn change(op: Op, seq: usize, room: &Target, target: MessageId) -> Option<Request> {
    let client_id = ClientMsgId::new(format!("x{seq}")).ok()?;
    match op {
        Op::React => Some(Request::React {
            client_id,
            with: room.clone(),
            message_id: target,
            emoji: Emoji::new(EMOJIS[seq % EMOJIS.len()]).ok()?,
            // Every other reaction of a client takes its last one back.
            remove: (seq / 20) % 2 == 1,
        }),
        Op::Edit => Some(Request::Edit {
            client_id,
            with: room.clone(),
            message_id: target,
            text: MessageText::new(format!("edited by the bench ({seq})")).ok()?,
        }),
        Op::Message => None,
    }
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
