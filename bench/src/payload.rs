//! The text each benchmark message carries: who sent it, its sequence
//! number and when it was sent, padded to the requested size.

/// Builds a message text of exactly `size` bytes (at least the header).
pub fn encode(sender: usize, seq: usize, sent_ns: u64, size: usize) -> String {
    let mut s = format!("{sender}:{seq}:{sent_ns} ");
    while s.len() < size {
        s.push('x');
    }
    s
}

/// Reads back `(sender, seq, sent_ns)`.
pub fn decode(text: &str) -> Option<(usize, usize, u64)> {
    let head = text.split(' ').next()?;
    let mut parts = head.split(':');
    let sender = parts.next()?.parse().ok()?;
    let seq = parts.next()?.parse().ok()?;
    let sent = parts.next()?.parse().ok()?;
    Some((sender, seq, sent))
}

/// Which (sender, seq) pairs a receiver has seen, to count duplicates.
#[derive(Debug, Clone)]
pub struct Seen {
    bits: Vec<u64>,
    senders: usize,
    per_sender: usize,
}

impl Seen {
    /// Room for `senders` × `per_sender` messages.
    pub fn new(senders: usize, per_sender: usize) -> Self {
        Self {
            bits: vec![0; (senders * per_sender).div_ceil(64)],
            senders,
            per_sender,
        }
    }

    /// Marks a message; false if it was seen before (or out of range).
    pub fn mark(&mut self, sender: usize, seq: usize) -> bool {
        if sender >= self.senders || seq >= self.per_sender {
            return false;
        }
        let i = sender * self.per_sender + seq;
        let Some(word) = self.bits.get_mut(i / 64) else {
            return false;
        };
        let bit = 1u64 << (i % 64);
        let fresh = *word & bit == 0;
        *word |= bit;
        fresh
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_at_the_requested_size() {
        let t = encode(12, 3, 987_654_321, 100);
        assert_eq!(t.len(), 100);
        assert_eq!(decode(&t), Some((12, 3, 987_654_321)));
        // A header longer than the size is kept whole.
        assert_eq!(decode(&encode(1, 2, 3, 1)), Some((1, 2, 3)));
        assert_eq!(decode("garbage"), None);
    }

    #[test]
    fn duplicates_are_detected() {
        let mut s = Seen::new(3, 4);
        assert!(s.mark(2, 3));
        assert!(!s.mark(2, 3));
        assert!(s.mark(0, 0));
        assert!(!s.mark(0, 4), "out of range");
        assert!(!s.mark(9, 0), "out of range");
    }
}
