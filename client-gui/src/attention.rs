//! Getting the user's attention while the window is in the background: the
//! window's title carries the unread total ("Cove (3)"), and a new direct
//! message or mention asks the desktop for the user's attention (a
//! flashing task-bar entry), only while the window is not focused. What
//! to do is decided here, from counts; the app sends the viewport commands.

use cove_common::Target;

use crate::state::ChatState;

/// What the window should do after a frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ask {
    /// Set the window's title.
    Title(String),
    /// Ask for the user's attention.
    Attention,
}

/// What was last asked, so each thing is asked once.
#[derive(Debug, Default)]
pub struct Attention {
    title: String,
    /// Unread direct messages and mentions at the last frame.
    alerts: u32,
}

/// The unread total, and the part of it that calls for attention: direct
/// messages and mentions. Muted conversations count in neither.
pub fn counts(chat: &ChatState) -> (u32, u32) {
    chat.conversations
        .iter()
        .filter(|(with, _)| !chat.is_muted(with))
        .fold((0, 0), |(unread, alerts), (with, c)| {
            let direct = matches!(with, Target::User(_));
            let alert = if direct { c.unread } else { c.mentions };
            (unread + c.unread, alerts + alert)
        })
}

/// The title for an unread total.
pub fn title(unread: u32) -> String {
    if unread == 0 {
        "Cove".to_owned()
    } else {
        format!("Cove ({unread})")
    }
}

impl Attention {
    /// What to ask after a frame with these counts.
    pub fn next(&mut self, unread: u32, alerts: u32, focused: bool) -> Vec<Ask> {
        let mut out = Vec::new();
        let t = title(unread);
        if t != self.title {
            self.title.clone_from(&t);
            out.push(Ask::Title(t));
        }
        if alerts > self.alerts && !focused {
            out.push(Ask::Attention);
        }
        self.alerts = alerts;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_title_counts_unread_and_attention_comes_once_per_new_alert() {
        let mut a = Attention::default();
        assert_eq!(a.next(0, 0, true), [Ask::Title("Cove".into())]);
        assert_eq!(a.next(0, 0, true), []);
        // A room message in the background: the title only.
        assert_eq!(a.next(1, 0, false), [Ask::Title("Cove (1)".into())]);
        // A direct message in the background: the title and attention.
        assert_eq!(
            a.next(2, 1, false),
            [Ask::Title("Cove (2)".into()), Ask::Attention]
        );
        assert_eq!(a.next(2, 1, false), [], "once");
        // While focused, no attention is asked.
        assert_eq!(a.next(3, 2, true), [Ask::Title("Cove (3)".into())]);
        assert_eq!(a.next(0, 0, true), [Ask::Title("Cove".into())]);
    }

    #[test]
    fn direct_messages_and_mentions_are_the_alerts() {
        use crate::state::tests::{room, u};
        let mut chat = ChatState::new(u("meg"), vec![room("general", 4), room("rust", 1)]);
        if let Some(c) = chat.conversations.get_mut(&Target::Room(
            cove_common::RoomName::new("rust").unwrap_or_else(|_| unreachable!()),
        )) {
            c.mentions = 1;
        }
        let dm = Target::User(u("bob"));
        chat.conversations.entry(dm).or_default().unread = 2;
        // #general is the one shown: its 4 are read; #rust's 1 and bob's 2
        // are not, and bob's and the mention in #rust call for attention.
        assert_eq!(counts(&chat), (3, 3));
        // Muting bob leaves only #rust's.
        chat.set_muted(Target::User(u("bob")), true);
        assert_eq!(counts(&chat), (1, 1));
    }
}
