//! The keyboard's way around: Ctrl+K opens a quick switcher (type to
//! filter rooms and people, Up/Down to choose, Enter to go, Esc to close),
//! and Alt+Up/Alt+Down go to the previous/next conversation of the side
//! list. Keys are taken before the panels are drawn, so the message box
//! does not see them.

use cove_common::Target;
use egui::{Key, Modifiers};

use super::chat::{ChatAction, ChatView};
use super::entry::title;
use crate::state::ChatState;

/// The switcher's field and choice while it is open.
#[derive(Debug, Default)]
pub struct Switcher {
    query: String,
    selected: usize,
    /// Whether the field has been given the keyboard focus.
    focused: bool,
}

/// The side list's conversations, in its order: rooms, then direct ones.
pub fn side_list(state: &ChatState) -> Vec<Target> {
    let rooms = state.rooms.iter().map(|r| Target::Room(r.name.clone()));
    let directs = state.directs.iter().map(|u| Target::User(u.clone()));
    rooms.chain(directs).collect()
}

/// What the switcher offers for `query`: the side list's conversations,
/// then people known from room member lists, whose name contains it
/// (ignoring case).
pub fn offers(state: &ChatState, query: &str) -> Vec<Target> {
    let mut all = side_list(state);
    let mut people: Vec<Target> = state
        .members
        .values()
        .flat_map(|l| l.members.iter())
        .filter(|m| m.username != state.me)
        .map(|m| Target::User(m.username.clone()))
        .filter(|t| !all.contains(t))
        .collect();
    people.sort_by_key(|t| title(t).to_lowercase());
    people.dedup();
    all.extend(people);
    let q = query.trim().to_lowercase();
    all.retain(|t| {
        let name = match t {
            Target::Room(r) => r.as_str(),
            Target::User(u) => u.as_str(),
        };
        name.to_lowercase().contains(&q)
    });
    all
}

/// The conversation `step` places from the one shown in the side list
/// (no further than its ends).
pub fn neighbour(state: &ChatState, step: isize) -> Option<Target> {
    let list = side_list(state);
    let at = list.iter().position(|t| *t == state.current)?;
    let to = at
        .saturating_add_signed(step)
        .min(list.len().saturating_sub(1));
    (to != at).then(|| list[to].clone())
}

impl ChatView {
    /// The keys that move around; called before anything is drawn.
    pub(super) fn keyboard(
        &mut self,
        ctx: &egui::Context,
        state: &ChatState,
        actions: &mut Vec<ChatAction>,
    ) {
        let key = |m: Modifiers, k: Key| ctx.input_mut(|i| i.consume_key(m, k));
        if key(Modifiers::COMMAND, Key::K) {
            self.switcher = match self.switcher {
                Some(_) => None,
                None => Some(Switcher::default()),
            };
        }
        if let Some(s) = &mut self.switcher {
            if key(Modifiers::NONE, Key::Escape) {
                self.switcher = None;
                return;
            }
            let n = offers(state, &s.query).len();
            if key(Modifiers::NONE, Key::ArrowDown) {
                s.selected = (s.selected + 1).min(n.saturating_sub(1));
            }
            if key(Modifiers::NONE, Key::ArrowUp) {
                s.selected = s.selected.saturating_sub(1);
            }
            return;
        }
        for (k, step) in [(Key::ArrowUp, -1), (Key::ArrowDown, 1)] {
            if key(Modifiers::ALT, k)
                && let Some(t) = neighbour(state, step)
            {
                actions.push(ChatAction::Open(t));
            }
        }
    }

    /// The switcher, while open.
    pub(super) fn switcher_window(
        &mut self,
        ctx: &egui::Context,
        state: &ChatState,
        actions: &mut Vec<ChatAction>,
    ) {
        let Some(s) = &mut self.switcher else {
            return;
        };
        let mut go = None;
        egui::Window::new("Go to a conversation")
            .collapsible(false)
            .resizable(false)
            .anchor(egui::Align2::CENTER_TOP, egui::vec2(0.0, 60.0))
            .show(ctx, |ui| {
                ui.set_width(320.0);
                let label = ui.label("Room or person:");
                let field = ui
                    .add(
                        egui::TextEdit::singleline(&mut s.query)
                            .hint_text("type to filter")
                            .desired_width(f32::INFINITY),
                    )
                    .labelled_by(label.id);
                if !std::mem::replace(&mut s.focused, true) {
                    field.request_focus();
                }
                if field.changed() {
                    s.selected = 0;
                }
                let offers = offers(state, &s.query);
                s.selected = s.selected.min(offers.len().saturating_sub(1));
                if offers.is_empty() {
                    ui.label("No room or person by that name.");
                }
                for (i, t) in offers.iter().enumerate() {
                    let row = ui.selectable_label(i == s.selected, title(t));
                    if i == s.selected {
                        row.scroll_to_me(None);
                    }
                    if row.clicked() {
                        go = Some(t.clone());
                    }
                }
                let enter = field.lost_focus() && ui.input(|i| i.key_pressed(Key::Enter));
                if enter {
                    go = offers.get(s.selected).cloned();
                }
                ui.label(
                    egui::RichText::new("Up/Down choose · Enter go · Esc close")
                        .small()
                        .color(super::entry::NOTICE),
                );
            });
        if let Some(t) = go {
            self.switcher = None;
            actions.push(ChatAction::Open(t));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::tests::{room, u};

    #[test]
    fn neighbours_follow_the_side_list_and_stop_at_its_ends() {
        let mut s = ChatState::new(u("meg"), vec![room("general", 0), room("rust", 0)]);
        s.directs = vec![u("bob")];
        let rust =
            Target::Room(cove_common::RoomName::new("rust").unwrap_or_else(|_| unreachable!()));
        assert_eq!(neighbour(&s, 1), Some(rust.clone()));
        assert_eq!(neighbour(&s, -1), None, "the first");
        s.current = Target::User(u("bob"));
        assert_eq!(neighbour(&s, 1), None, "the last");
        assert_eq!(neighbour(&s, -1), Some(rust));
        assert_eq!(offers(&s, "B"), [Target::User(u("bob"))]);
        assert_eq!(offers(&s, "").len(), 3);
    }
}
