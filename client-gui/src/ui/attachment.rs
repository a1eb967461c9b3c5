//! A message's file as the conversation shows it (protocol v6): a
//! picture as a thumbnail (click for the larger view), any other file as
//! a chip with its name, its size and "Save…"; what is being fetched or
//! saved with its progress bar, and what failed with the reason. And the
//! file of a message still uploading, with its progress.

use std::path::PathBuf;

use cove_common::proto::{Attachment, ChatMessage, FileId};
use egui::RichText;

use super::entry::{FAILED, NOTICE};
use crate::state::{ChatState, Fetch, PICTURE_AUTO_MAX, Pending, Saving, Stage, human_size};

/// Thumbnails fit in this size.
pub const THUMBNAIL: egui::Vec2 = egui::vec2(320.0, 240.0);

/// What the user (or the screen, for a picture it wants to show) did
/// with a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileAct {
    /// Send the file at `path` to the conversation shown, with the
    /// message box's text as its caption.
    Attach {
        /// The local file.
        path: PathBuf,
        /// The caption, as typed (may be empty).
        caption: String,
    },
    /// Fetch a picture to show it.
    Want(Attachment),
    /// Ask where to save a file.
    AskSave(Attachment),
    /// Save a file there.
    Save {
        /// The file.
        file: Attachment,
        /// Where.
        to: PathBuf,
    },
    /// Open the larger view of a picture.
    View(FileId, String),
}

/// The file of message `m`, under its text. Returns what the user did.
pub(super) fn show(ui: &mut egui::Ui, m: &ChatMessage, state: &ChatState) -> Option<FileAct> {
    let f = m.file.as_deref().filter(|_| m.deleted.is_none())?;
    let mut act = None;
    let picture = f.size <= PICTURE_AUTO_MAX;
    let fetch = state.files.pictures.get(&f.id);
    let texture = picture
        .then(|| super::picture::texture(ui.ctx(), &f.id))
        .flatten();
    if let Some(texture) = texture {
        let image = egui::Image::from_texture(egui::load::SizedTexture::from_handle(&texture))
            .max_size(THUMBNAIL)
            .alt_text(f.name.as_str())
            .sense(egui::Sense::click());
        let resp = ui
            .add(image)
            .on_hover_cursor(egui::CursorIcon::ZoomIn)
            .on_hover_text("Show larger");
        if resp.clicked() {
            act = Some(FileAct::View(f.id.clone(), f.name.to_string()));
        }
        chip(ui, f, false, &mut act);
    } else {
        chip(ui, f, true, &mut act);
        match fetch {
            _ if !picture => {}
            None | Some(Fetch::Shown) => act = Some(FileAct::Want(f.clone())),
            Some(Fetch::Loading { done, total }) => bar(ui, "Loading", *done, *total),
            Some(Fetch::NotPicture) => {}
            Some(Fetch::Refused(why)) => note(ui, why, NOTICE),
            Some(Fetch::Failed(why)) => note(ui, &format!("Could not load it: {why}."), FAILED),
        }
    }
    match state.files.saves.get(&f.id) {
        None => {}
        Some(Saving::Saving { done, total, .. }) => bar(ui, "Saving", *done, *total),
        Some(Saving::Saved(to)) => note(ui, &format!("Saved to {}", to.display()), NOTICE),
        Some(Saving::Failed(why)) => note(ui, &format!("Could not save it: {why}."), FAILED),
    }
    act
}

/// "📄 name · size  Save…" (without the icon and name under a picture,
/// which shows them already).
fn chip(ui: &mut egui::Ui, f: &Attachment, named: bool, act: &mut Option<FileAct>) {
    egui::Frame::group(ui.style())
        .inner_margin(egui::Margin::symmetric(6, 3))
        .show(ui, |ui| {
            ui.horizontal(|ui| {
                if named {
                    ui.label(RichText::new(format!("📄 {}", f.name)).strong());
                }
                ui.label(RichText::new(human_size(f.size)).color(NOTICE));
                if ui
                    .small_button("Save…")
                    .on_hover_text(format!("Save {}", f.name))
                    .clicked()
                {
                    *act = Some(FileAct::AskSave(f.clone()));
                }
            });
        });
}

fn bar(ui: &mut egui::Ui, what: &str, done: u64, total: u64) {
    let part = if total == 0 {
        0.0
    } else {
        (done as f64 / total as f64) as f32
    };
    ui.add(
        egui::ProgressBar::new(part)
            .desired_width(240.0)
            .text(format!(
                "{what} {} of {}",
                human_size(done),
                human_size(total)
            )),
    );
}

fn note(ui: &mut egui::Ui, text: &str, color: egui::Color32) {
    ui.add(egui::Label::new(RichText::new(text).small().color(color)).wrap());
}

/// The file of a pending message: its name and how far its upload is.
pub(super) fn uploading(ui: &mut egui::Ui, p: &Pending) {
    let Some(f) = &p.file else { return };
    ui.label(RichText::new(format!("📄 {} · {}", f.name, human_size(f.size))).color(NOTICE));
    match &f.stage {
        Stage::Uploading { done } => bar(ui, "Uploading", *done, f.size),
        Stage::Uploaded(_) => note(ui, "Uploaded; sending…", NOTICE),
    }
}
