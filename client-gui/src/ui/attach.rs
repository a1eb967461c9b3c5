//! Choosing files (protocol v6): the 📎 button of the message box and
//! files dropped on the window open "Attach a file", where the file's
//! path is typed or found with "Browse…" (the system's dialog); the
//! message box's text goes with it as its caption. "Save…" on a file
//! opens "Save a file", its path prefilled with the Downloads folder and
//! the file's name made safe. Both keep a path field of their own, so
//! they work where no system dialog runs.

use std::path::{Path, PathBuf};

use cove_common::proto::Attachment;
use egui::RichText;

use super::actions::ChatAction;
use super::attachment::FileAct;
use super::entry::{FAILED, NOTICE};
use crate::dialogs::Asked;
use crate::state::{human_size, save_path};

/// The "Attach a file" window's fields.
#[derive(Debug, Default)]
pub struct AttachForm {
    /// The path, as typed or chosen.
    pub path: String,
    asked: Option<Asked>,
    error: Option<String>,
}

impl AttachForm {
    /// The form with a path filled in (a file dropped on the window).
    pub fn with_path(path: &Path) -> Self {
        Self {
            path: path.display().to_string(),
            ..Self::default()
        }
    }
}

/// The "Save a file" window's fields.
#[derive(Debug)]
pub struct SaveForm {
    file: Attachment,
    /// Where to save it, as typed or chosen.
    pub path: String,
    asked: Option<Asked>,
    error: Option<String>,
}

/// The user's Downloads folder, else their home.
fn downloads() -> Option<PathBuf> {
    let dirs = directories::UserDirs::new()?;
    Some(
        dirs.download_dir()
            .unwrap_or_else(|| dirs.home_dir())
            .to_path_buf(),
    )
}

impl SaveForm {
    /// The form for `file`, prefilled with the Downloads folder and its
    /// name, made safe.
    pub fn new(file: Attachment) -> Self {
        let dir = downloads().unwrap_or_else(|| PathBuf::from("."));
        let path = save_path(&dir, file.name.as_str()).display().to_string();
        Self {
            file,
            path,
            asked: None,
            error: None,
        }
    }
}

/// The 📎 button, for the message box's row; a screen reader calls it
/// "Attach a file".
pub(super) fn button(ui: &mut egui::Ui, form: &mut Option<AttachForm>) {
    let resp = ui.small_button("📎").on_hover_text("Attach a file");
    resp.widget_info(|| {
        egui::WidgetInfo::labeled(egui::Role::Button, ui.is_enabled(), "Attach a file")
    });
    if resp.clicked() && form.is_none() {
        *form = Some(AttachForm::default());
    }
}

/// Files dropped on the window: the first one opens "Attach a file".
pub(super) fn dropped(ctx: &egui::Context, form: &mut Option<AttachForm>) {
    let first = ctx.input(|i| i.raw.dropped_files.first().map(|f| f.path().to_path_buf()));
    if let Some(path) = first {
        *form = Some(AttachForm::with_path(&path));
    }
}

/// A picture pasted from the clipboard (Ctrl+V with a picture copied
/// and no text): its pixels, for the app to keep as a PNG file to attach.
#[derive(Clone)]
pub struct Pasted(pub std::sync::Arc<egui::ColorImage>);

impl PartialEq for Pasted {
    fn eq(&self, other: &Self) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for Pasted {}

impl std::fmt::Debug for Pasted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pasted({}x{})", self.0.size[0], self.0.size[1])
    }
}

/// A picture pasted (egui's `PasteImage`): handed to the app, which
/// opens "Attach a file" with it, so that a stray Ctrl+V sends nothing.
pub(super) fn pasted(ctx: &egui::Context, actions: &mut Vec<ChatAction>) {
    let image = ctx.input(|i| {
        i.events.iter().find_map(|e| match e {
            egui::Event::PasteImage(image) => Some(image.clone()),
            _ => None,
        })
    });
    if let Some(image) = image {
        actions.push(ChatAction::Files(FileAct::Paste(Pasted(image))));
    }
}

/// Puts the path the system's dialog chose, once it answers, in `path`.
fn take_answer(asked: &mut Option<Asked>, path: &mut String) {
    if let Some(answer) = asked.as_ref().and_then(Asked::poll) {
        *asked = None;
        if let Some(p) = answer {
            *path = p.display().to_string();
        }
    }
}

/// The "Attach a file" window, when open. Sending takes the message
/// box's text as the caption.
pub(super) fn attach_window(
    ctx: &egui::Context,
    form: &mut Option<AttachForm>,
    caption: &mut String,
    actions: &mut Vec<ChatAction>,
) {
    let Some(f) = form else { return };
    take_answer(&mut f.asked, &mut f.path);
    let (mut send, mut cancel) = (false, false);
    egui::Window::new("Attach a file")
        .collapsible(false)
        .resizable(false)
        .anchor(egui::Align2::CENTER_CENTER, egui::Vec2::ZERO)
        .show(ctx, |ui| {
            let label = ui.label("File path");
            ui.horizontal(|ui| {
                let field = ui
                    .add(
                        egui::TextEdit::singleline(&mut f.path)
                            .hint_text("/home/you/Pictures/worksheet.png")
                            .desired_width(320.0),
                    )
                    .labelled_by(label.id);
                send |= field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
                let browsing = f.asked.is_some();
                if ui
                    .add_enabled(!browsing, egui::Button::new("Browse…"))
                    .clicked()
                {
                    f.asked = Some(Asked::open(ui.ctx()));
                }
            });
            let caption_note = if caption.trim().is_empty() {
                "Type in the message box first to send a caption with it.".to_owned()
            } else {
                format!("Caption: {}", caption.trim())
            };
            ui.label(RichText::new(caption_note).small().color(NOTICE));
            if let Some(e) = &f.error {
                ui.colored_label(FAILED, e);
            }
            ui.horizontal(|ui| {
                send |= ui.button("Send file").clicked();
                cancel = ui.button("Cancel").clicked();
            });
        });
    if cancel {
        *form = None;
    } else if send {
        let path = f.path.trim();
        if path.is_empty() {
            f.error = Some("Type the file's path, or Browse… for it.".into());
            return;
        }
        actions.push(ChatAction::Files(FileAct::Attach {
            path: PathBuf::from(path),
            caption: std::mem::take(caption),
        }));
        *form = None;
    }
}

/// The "Save a file" window, when open.
pub(super) fn save_window(
    ctx: &egui::Context,
    form: &mut Option<SaveForm>,
    actions: &mut Vec<ChatAction>,
) {
    let Some(f) = form else { return };
    take_answer(&mut f.asked, &mut f.path);
    let (mut save, mut cancel) = (false, false);
    egui::Window::new("Save a file")
        .collapsible(false)
        .resizable(false)
        .anchor(egui::Align2::CENTER_CENTER, egui::Vec2::ZERO)
        .show(ctx, |ui| {
            ui.label(format!("{} · {}", f.file.name, human_size(f.file.size)));
            let label = ui.label("Save as");
            ui.horizontal(|ui| {
                ui.add(egui::TextEdit::singleline(&mut f.path).desired_width(360.0))
                    .labelled_by(label.id);
                if ui
                    .add_enabled(f.asked.is_none(), egui::Button::new("Browse…"))
                    .clicked()
                {
                    let dir = Path::new(&f.path).parent().map(Path::to_path_buf);
                    let name = crate::state::safe_file_name(f.file.name.as_str());
                    f.asked = Some(Asked::save(ui.ctx(), dir, name));
                }
            });
            if let Some(e) = &f.error {
                ui.colored_label(FAILED, e);
            } else if Path::new(f.path.trim()).is_file() {
                // The system's dialog asks itself; the field says so.
                let warn = "A file of that name is there already: Save replaces it.";
                ui.label(RichText::new(warn).small().color(NOTICE));
            }
            ui.horizontal(|ui| {
                save = ui.button("Save").clicked();
                cancel = ui.button("Cancel").clicked();
            });
        });
    if cancel {
        *form = None;
    } else if save {
        match target(Path::new(f.path.trim()), f.file.name.as_str()) {
            Ok(to) => {
                actions.push(ChatAction::Files(FileAct::Save {
                    file: f.file.clone(),
                    to,
                }));
                *form = None;
            }
            Err(e) => f.error = Some(e),
        }
    }
}

/// Where a file called `name` goes when the user typed `path`: a folder
/// gets the file's name made safe; a path must be absolute and its folder
/// must exist.
fn target(path: &Path, name: &str) -> Result<PathBuf, String> {
    if !path.is_absolute() {
        return Err("Give the full path, starting at the top folder.".into());
    }
    if path.is_dir() {
        return Ok(save_path(path, name));
    }
    match path.parent() {
        Some(dir) if dir.is_dir() => Ok(path.to_path_buf()),
        _ => Err("That folder does not exist.".into()),
    }
}

/// Esc: closes the innermost file window open; whether one was.
pub(super) fn escape(
    ctx: &egui::Context,
    attach: &mut Option<AttachForm>,
    save: &mut Option<SaveForm>,
) -> bool {
    super::picture::close_viewer(ctx) || save.take().is_some() || attach.take().is_some()
}
