//! A server's fingerprint as people compare it: eight groups of four hex
//! digits ("ab12 cd34 … 7890"), read aloud or side by side with the
//! owner's screen. Left to egui, a fingerprint a little wider than its
//! space wraps at the last space that fits and leaves its last group
//! alone on a line, which reads like a different fingerprint. So it is
//! laid out here by whole halves: on one line when it fits, else two
//! lines of four groups (then four of two, for a very narrow window),
//! never wrapped by egui.

use egui::{RichText, TextWrapMode};

/// The fingerprint's lines when each holds `per_line` groups.
pub fn lines(fingerprint: &str, per_line: usize) -> String {
    let groups: Vec<&str> = fingerprint.split_whitespace().collect();
    groups
        .chunks(per_line.max(1))
        .map(|c| c.join(" "))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Shows `fingerprint` in a monospace font, styled by `style` (a size, a
/// weight), in as few balanced lines as the width available allows.
pub fn show(
    ui: &mut egui::Ui,
    fingerprint: &str,
    style: impl Fn(RichText) -> RichText,
) -> egui::Response {
    let width = ui.available_width();
    show_within(ui, fingerprint, style, width)
}

/// [`show`] on one line, for a grid's cell: a cell is as wide as what it
/// held in the last frame, which would only ever shrink the fingerprint.
pub fn show_on_one_line(
    ui: &mut egui::Ui,
    fingerprint: &str,
    style: impl Fn(RichText) -> RichText,
) -> egui::Response {
    show_within(ui, fingerprint, style, f32::INFINITY)
}

fn show_within(
    ui: &mut egui::Ui,
    fingerprint: &str,
    style: impl Fn(RichText) -> RichText,
    width: f32,
) -> egui::Response {
    let groups = fingerprint.split_whitespace().count().max(1);
    // Halving until it fits: 8, then 4 + 4, then 2 + 2 + 2 + 2.
    let mut per_line = groups;
    let mut text = lines(fingerprint, per_line);
    while per_line > 1 && wider_than(ui, &style, &text, width) {
        per_line = per_line.div_ceil(2);
        text = lines(fingerprint, per_line);
    }
    let label = egui::Label::new(style(RichText::new(text).monospace()));
    let response = ui.add(label.wrap_mode(TextWrapMode::Extend));
    // Named as one line, however it is drawn: what is read out and
    // searched for is the fingerprint itself.
    response
        .widget_info(|| egui::WidgetInfo::labeled(egui::Role::Label, ui.is_enabled(), fingerprint));
    response
}

/// Whether `text`, unwrapped, is wider than `width`.
fn wider_than(
    ui: &egui::Ui,
    style: &impl Fn(RichText) -> RichText,
    text: &str,
    width: f32,
) -> bool {
    let galley = egui::WidgetText::from(style(RichText::new(text).monospace())).into_galley(
        ui,
        Some(TextWrapMode::Extend),
        f32::INFINITY,
        egui::TextStyle::Monospace,
    );
    galley.size().x > width
}

#[cfg(test)]
mod tests {
    use super::lines;

    #[test]
    fn lines_hold_whole_groups() {
        let fp = "aaaa bbbb cccc dddd eeee ffff 0000 1111";
        assert_eq!(lines(fp, 8), fp);
        assert_eq!(lines(fp, 4), "aaaa bbbb cccc dddd\neeee ffff 0000 1111");
        assert_eq!(lines(fp, 2).lines().count(), 4);
    }
}
