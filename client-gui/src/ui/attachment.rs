//! A message's file as the conversation shows it (protocol v6): a
//! picture as a thumbnail (click for the larger view), any other file as
//! a chip with its name, its size and "Save…"; what is being fetched or
//! saved with its progress bar, and what failed with the reason. And the
//! file of a message still uploading, with its progress and Cancel.

use std::path::PathBuf;

use cove_common::ClientMsgId;
use cove_common::proto::{Attachment, ChatMessage};
use egui::RichText;

use super::entry::{FAILED, NOTICE};
use crate::state::{
    ChatState, Fetch, PICTURE_AUTO_MAX, Pending, PictureOf, Saving, Stage, human_size,
};

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
    View(PictureOf, String),
    /// Stop uploading the file of the pending message sent under this
    /// client id; the message is not sent.
    Cancel(ClientMsgId),
    /// A picture pasted from the clipboard, to attach.
    Paste(super::attach::Pasted),
}

/// The file of message `m`, under its text. Returns what the user did.
///
/// The user's own message sent from this app shows its file from the
/// start (its `ack` carries no file): the picture decoded from the local
/// file, or a chip with its name and size; "Save…" comes with the file's
/// id and key, once a history page brought them.
pub(super) fn show(ui: &mut egui::Ui, m: &ChatMessage, state: &ChatState) -> Option<FileAct> {
    if m.deleted.is_some() {
        return None;
    }
    let file = m.file.as_deref();
    let sent = state.files.sent.get(&m.id);
    let (name, size) = match (file, sent) {
        (Some(f), _) => (f.name.as_str(), f.size),
        (None, Some(s)) => (s.name.as_str(), s.size),
        (None, None) => return None,
    };
    let mut act = None;
    let picture = size <= PICTURE_AUTO_MAX;
    let downloaded = file.map(|f| PictureOf::File(f.id.clone()));
    let own = sent.map(|s| PictureOf::Own(s.client_id.clone()));
    let shown = [downloaded, own]
        .into_iter()
        .flatten()
        .filter(|_| picture)
        .find_map(|key| Some((super::picture::texture(ui.ctx(), &key)?, key)));
    if let Some((texture, key)) = shown {
        let image = egui::Image::from_texture(egui::load::SizedTexture::from_handle(&texture))
            .max_size(THUMBNAIL)
            .alt_text(name)
            .sense(egui::Sense::click());
        let resp = ui
            .add(image)
            .on_hover_cursor(egui::CursorIcon::ZoomIn)
            .on_hover_text("Show larger");
        if resp.clicked() {
            act = Some(FileAct::View(key, name.to_owned()));
        }
        chip(ui, name, size, file, false, &mut act);
    } else {
        chip(ui, name, size, file, true, &mut act);
        // The user's own file, until the page brings its id, has nothing
        // to fetch.
        let fetch = file.map(|f| (f, state.files.pictures.get(&f.id)));
        match fetch {
            _ if !picture => {}
            None => {}
            Some((f, None | Some(Fetch::Shown))) => act = Some(FileAct::Want(f.clone())),
            Some((_, Some(Fetch::Loading { done, total }))) => bar(ui, "Loading", *done, *total),
            Some((_, Some(Fetch::NotPicture))) => {}
            Some((_, Some(Fetch::Refused(why)))) => note(ui, why, NOTICE),
            Some((_, Some(Fetch::Failed(why)))) => {
                note(ui, &format!("Could not load it: {why}."), FAILED)
            }
        }
    }
    let Some(f) = file else { return act };
    match state.files.saves.get(&f.id) {
        None => {}
        Some(Saving::Saving { done, total, .. }) => bar(ui, "Saving", *done, *total),
        Some(Saving::Saved(to)) => note(ui, &format!("Saved to {}", to.display()), NOTICE),
        Some(Saving::Failed(why)) => note(ui, &format!("Could not save it: {why}."), FAILED),
    }
    act
}

/// "📄 name · size  Save…" (without the icon and name under a picture,
/// which shows them already; without "Save…" until the file's id and
/// key are known).
fn chip(
    ui: &mut egui::Ui,
    name: &str,
    size: u64,
    file: Option<&Attachment>,
    named: bool,
    act: &mut Option<FileAct>,
) {
    egui::Frame::group(ui.style())
        .inner_margin(egui::Margin::symmetric(6, 3))
        .show(ui, |ui| {
            ui.horizontal(|ui| {
                if named {
                    ui.label(RichText::new(format!("📄 {name}")).strong());
                }
                ui.label(RichText::new(human_size(size)).color(NOTICE));
                if let Some(f) = file
                    && ui
                        .small_button("Save…")
                        .on_hover_text(format!("Save {name}"))
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

/// The file of a pending message: its name and how far its upload is,
/// with Cancel while it uploads. Returns the Cancel.
pub(super) fn uploading(ui: &mut egui::Ui, p: &Pending) -> Option<FileAct> {
    let f = p.file.as_ref()?;
    ui.label(RichText::new(format!("📄 {} · {}", f.name, human_size(f.size))).color(NOTICE));
    match &f.stage {
        Stage::Uploading { done } => {
            let mut cancel = false;
            ui.horizontal(|ui| {
                bar(ui, "Uploading", *done, f.size);
                cancel = ui
                    .small_button("Cancel")
                    .on_hover_text(format!("Stop sending {}", f.name))
                    .clicked();
            });
            cancel.then(|| FileAct::Cancel(p.client_id.clone()))
        }
        Stage::Uploaded(_) => {
            note(ui, "Uploaded; sending…", NOTICE);
            None
        }
    }
}
