//! The two screens.

mod actions;
pub mod attach;
pub mod attachment;
mod avatar;
pub mod chat;
mod compose;
mod entry;
mod fingerprint;
pub mod login;
mod mentions;
mod message;
mod notifications;
pub mod picture;
pub mod reactions;
mod rich;
pub mod room_admin;
mod search;
pub mod servers;
pub mod settings;
mod spoken;
mod switcher;

/// Lays `add` out left to right against the right edge of a horizontal
/// `ui`, by the width it took in the last pass (when that changes, the
/// pass is discarded and laid out again before anything is shown). It is given the whole width left, so what it
/// holds keeps its own size and the width measured is its own.
pub(crate) fn at_right_end(ui: &mut egui::Ui, add: impl FnOnce(&mut egui::Ui)) {
    let id = ui.scope_id().with("right_end_width");
    let last: Option<f32> = ui.ctx().data(|d| d.get_temp(id));
    let room = ui.available_rect_before_wrap();
    let left = (room.right() - last.unwrap_or(0.0)).max(room.left());
    let rect = egui::Rect::from_min_size(egui::pos2(left, room.top()), room.size());
    let mut end = ui.new_child(
        egui::UiBuilder::new()
            .max_rect(rect)
            .layout(egui::Layout::left_to_right(egui::Align::Center)),
    );
    add(&mut end);
    let used = end.min_rect();
    ui.advance_cursor_after_rect(used);
    let width = used.width();
    if last.is_none_or(|w| (w - width).abs() > 0.1) {
        ui.ctx().data_mut(|d| d.insert_temp(id, width));
        ui.ctx().request_discard("the right end's width changed");
    }
}
