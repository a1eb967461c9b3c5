//! Reactions: the chips under a message (emoji and count, highlighted when
//! one of them is the user's, the names on hover, a click toggles the
//! user's own), and the picker "React" opens: eight common emojis and a
//! search through Unicode's list (the `emojis` crate, which the server
//! checks reactions against too).

use cove_common::proto::{MessageId, Reaction};
use cove_common::{Emoji, Target, Username};
use egui::RichText;

use super::message::MessageAct;

/// The emojis offered first, as in most chat apps.
pub const QUICK: [&str; 8] = ["👍", "❤️", "😂", "🎉", "😮", "😢", "🙏", "👀"];

/// Most search results shown at once.
const RESULTS_MAX: usize = 48;

/// A message's reaction chips; a click on one toggles the user's own.
pub(super) fn chips(
    ui: &mut egui::Ui,
    reactions: &[Reaction],
    me: &Username,
    act: &mut Option<MessageAct>,
) {
    ui.horizontal_wrapped(|ui| {
        ui.spacing_mut().item_spacing.x = 4.0;
        for r in reactions {
            // A pill, filled in the selection colour when one is the
            // user's.
            let chip = ui
                .add(
                    egui::Button::new(format!("{} {}", r.emoji, r.count))
                        .selected(r.mine)
                        .corner_radius(9.0),
                )
                .on_hover_text(who(r, me));
            if chip.clicked() {
                *act = Some(MessageAct::Toggle {
                    emoji: r.emoji.clone(),
                    remove: r.mine,
                });
            }
        }
    });
}

/// Who reacted, for the chip's tooltip: "you, bob and carol", "bob, carol
/// and 3 others" (a page names at most 10 per emoji).
pub fn who(r: &Reaction, me: &Username) -> String {
    let mut names: Vec<String> = Vec::new();
    if r.mine {
        names.push("you".to_owned());
    }
    names.extend(r.users.iter().filter(|u| *u != me).map(|u| u.to_string()));
    let unnamed = (r.count as usize).saturating_sub(names.len());
    let mut parts = names;
    if unnamed > 0 {
        parts.push(if unnamed == 1 {
            "1 other".to_owned()
        } else {
            format!("{unnamed} others")
        });
    }
    let list = match parts.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    };
    format!("{list} reacted with {}", r.emoji)
}

/// The reaction picker, open for one message.
#[derive(Debug, Clone)]
pub struct Picker {
    /// The message's conversation.
    pub with: Target,
    /// The message.
    pub id: MessageId,
    search: String,
    /// Where it opens (by the pointer that asked for it).
    at: egui::Pos2,
    /// Give the search field the keyboard in the next frame.
    focus: bool,
}

impl Picker {
    /// A picker for the message `id` of `with`, opening at `at`.
    pub fn new(with: Target, id: MessageId, at: egui::Pos2) -> Self {
        Self {
            with,
            id,
            search: String::new(),
            at,
            focus: true,
        }
    }

    /// Draws the picker; returns the emoji chosen, and whether it stays
    /// open (it closes once one is chosen, or with its ×).
    pub(super) fn show(&mut self, ctx: &egui::Context) -> (Option<Emoji>, bool) {
        let mut open = true;
        let mut chosen = None;
        egui::Window::new("Add a reaction")
            .id(egui::Id::unique("reaction_picker"))
            .collapsible(false)
            .resizable(false)
            .default_pos(self.at)
            .default_width(300.0)
            .open(&mut open)
            .show(ctx, |ui| {
                ui.horizontal_wrapped(|ui| {
                    for e in QUICK {
                        let name = emojis::get(e).map_or("", emojis::Emoji::name);
                        let b = ui.button(RichText::new(e).size(20.0)).on_hover_text(name);
                        if b.accessible_name(spoken(e, name)).clicked() {
                            chosen = Emoji::new(e).ok();
                        }
                    }
                });
                ui.separator();
                let label = ui.label("Search emoji");
                let field = ui
                    .add(
                        egui::TextEdit::singleline(&mut self.search)
                            .hint_text("by name, e.g. rocket")
                            .desired_width(f32::INFINITY),
                    )
                    .labelled_by(label.id);
                if std::mem::take(&mut self.focus) {
                    // Typing goes to the search at once.
                    field.request_focus();
                }
                let font = egui::FontId::proportional(20.0);
                let found = search(&self.search, |e| {
                    ctx.fonts_mut(|f| f.has_glyphs(&font, e.as_str()))
                });
                egui::ScrollArea::vertical()
                    .max_height(160.0)
                    .show(ui, |ui| {
                        ui.horizontal_wrapped(|ui| {
                            for e in &found {
                                let b = ui
                                    .button(RichText::new(e.as_str()).font(font.clone()))
                                    .on_hover_text(e.name())
                                    .accessible_name(spoken(e.as_str(), e.name()));
                                if b.clicked() {
                                    chosen = Emoji::new(e.as_str()).ok();
                                }
                            }
                        });
                        if found.is_empty() {
                            ui.label("No emoji found.");
                        }
                    });
            });
        let keep = open && chosen.is_none();
        (chosen, keep)
    }
}

/// A picker button's name for a screen reader: the emoji and its name
/// ("👍 thumbs up"), as some readers say nothing for an emoji.
pub fn spoken(emoji: &str, name: &str) -> String {
    format!("{emoji} {name}").trim_end().to_owned()
}

/// Emojis whose name or shortcode contains `query` (all of them when it is
/// empty), that the app can draw, at most [`RESULTS_MAX`].
fn search(query: &str, drawable: impl Fn(&emojis::Emoji) -> bool) -> Vec<&'static emojis::Emoji> {
    let query = query.trim().to_lowercase();
    emojis::iter()
        .filter(|e| {
            query.is_empty()
                || e.name().contains(&query)
                || e.shortcodes().any(|s| s.contains(&query))
        })
        .filter(|e| drawable(e))
        .take(RESULTS_MAX)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> Username {
        Username::new(s).unwrap()
    }

    fn reaction(count: u32, users: &[&str], mine: bool) -> Reaction {
        Reaction {
            emoji: Emoji::new("👍").unwrap(),
            count,
            users: users.iter().map(|n| u(n)).collect(),
            mine,
        }
    }

    #[test]
    fn chips_say_who_reacted() {
        let me = u("meg");
        assert_eq!(
            who(&reaction(1, &["bob"], false), &me),
            "bob reacted with 👍"
        );
        assert_eq!(
            who(&reaction(3, &["bob", "meg", "cat"], true), &me),
            "you, bob and cat reacted with 👍"
        );
        assert_eq!(
            who(&reaction(14, &["bob", "cat"], true), &me),
            "you, bob, cat and 11 others reacted with 👍"
        );
    }

    #[test]
    fn every_quick_emoji_is_valid_and_search_finds_by_name() {
        for e in QUICK {
            assert!(Emoji::new(e).is_ok(), "{e}");
        }
        let found = search("rocket", |_| true);
        assert!(found.iter().any(|e| e.as_str() == "🚀"));
        assert!(search("no such emoji at all", |_| true).is_empty());
        assert_eq!(search("", |_| true).len(), RESULTS_MAX);
        assert!(search("", |_| false).is_empty(), "only what can be drawn");
    }
}
