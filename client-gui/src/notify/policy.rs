//! Which arriving message makes a desktop notification, and what it says.
//! Pure: the app asks with the message, the chat and whether the window
//! has the focus.

use cove_common::Target;
use cove_common::proto::ChatMessage;

use super::prefs::Kinds;
use crate::state::ChatState;

/// The longest notification body, in characters.
pub const BODY_MAX: usize = 120;

/// A notification to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// The room ("#general") or "Direct message".
    pub title: String,
    /// "alice: text", cut to [`BODY_MAX`] characters.
    pub body: String,
}

/// `text` cut to `max` characters, with "…" when cut.
pub fn truncate(text: &str, max: usize) -> String {
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(max).collect();
    if chars.next().is_some() {
        let mut cut: String = head.chars().take(max.saturating_sub(1)).collect();
        cut.push('…');
        cut
    } else {
        head
    }
}

/// The notification for a message that just arrived, if it calls for one:
/// only while the window is in the background, never for the user's own
/// words or a muted conversation, and for the kinds the user chose
/// (direct messages, mentions, optionally every message).
pub fn note_for(m: &ChatMessage, chat: &ChatState, kinds: Kinds, focused: bool) -> Option<Note> {
    if focused || m.from == chat.me {
        return None;
    }
    let with = m.to.conversation_for(&m.from, &chat.me);
    if chat.is_muted(&with) {
        return None;
    }
    // A message already shown (a repeat after a reconnect) is not news.
    if chat
        .conversations
        .get(&with)
        .is_some_and(|c| c.messages().any(|old| old.id == m.id))
    {
        return None;
    }
    let title = match &with {
        Target::User(_) if kinds.direct => "Direct message".to_owned(),
        Target::Room(r) if (kinds.mentions && chat.mentions_me(m)) || kinds.every => {
            format!("#{r}")
        }
        _ => return None,
    };
    let body = truncate(&format!("{}: {}", m.from, m.text_str()), BODY_MAX);
    Some(Note { title, body })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::tests::{general, msg, room, u};

    #[test]
    fn direct_messages_and_mentions_notify_in_the_background_only() {
        let mut chat = ChatState::new(u("meg"), vec![room("general", 0)]);
        let p = Kinds::default();
        let dm = msg(1, "bob", Target::User(u("meg")), "hi there");
        let n = note_for(&dm, &chat, p, false);
        assert_eq!(
            n,
            Some(Note {
                title: "Direct message".into(),
                body: "bob: hi there".into()
            })
        );
        assert_eq!(note_for(&dm, &chat, p, true), None, "focused");
        let plain = msg(2, "bob", general(), "lunch?");
        assert_eq!(note_for(&plain, &chat, p, false), None, "not by default");
        let mut mention = msg(3, "bob", general(), "@meg lunch?");
        mention.mentions = vec![u("meg")];
        let n = note_for(&mention, &chat, p, false).map(|n| n.title);
        assert_eq!(n.as_deref(), Some("#general"));
        let every = Kinds {
            every: true,
            ..Kinds::default()
        };
        assert!(note_for(&plain, &chat, every, false).is_some());
        let off = Kinds {
            direct: false,
            mentions: false,
            ..Kinds::default()
        };
        assert_eq!(note_for(&dm, &chat, off, false), None);
        assert_eq!(note_for(&mention, &chat, off, false), None);
        // Own words, and muted conversations, never.
        let mine = msg(4, "meg", Target::User(u("bob")), "hi");
        assert_eq!(note_for(&mine, &chat, every, false), None);
        chat.set_muted(Target::User(u("bob")), true);
        assert_eq!(note_for(&dm, &chat, p, false), None, "muted");
    }

    #[test]
    fn long_bodies_are_cut_by_characters() {
        assert_eq!(truncate("short", 10), "short");
        assert_eq!(truncate("abcdef", 4), "abc…");
        let long = "é".repeat(500);
        let t = truncate(&long, BODY_MAX);
        assert_eq!(t.chars().count(), BODY_MAX);
        assert!(t.ends_with('…'));
    }
}
