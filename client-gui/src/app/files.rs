//! The app's part in files and pictures (protocol v6): what the user did
//! with a file goes to the chat state (which queues the transfers), and
//! how each transfer went comes back to it; decoded pictures go to the
//! screen's textures.

use cove_common::MessageText;

use super::CoveApp;
use crate::net::TransferEvent;
use crate::picture::PictureError;
use crate::state::ChatState;
use crate::ui::attach::Pasted;
use crate::ui::attachment::FileAct;

impl CoveApp {
    pub(super) fn on_files_action(&mut self, chat: &mut ChatState, act: FileAct) {
        match act {
            FileAct::Attach { path, caption } => {
                // One `stat`, as quick as drawing a frame: the size is
                // checked against the server's limit before anything is
                // read or sent.
                let size = match std::fs::metadata(&path) {
                    Ok(m) if m.is_file() => m.len(),
                    Ok(_) => {
                        chat.info(format!("{} is not a file.", path.display()));
                        return;
                    }
                    Err(e) => {
                        chat.info(format!("Could not open {}: {e}.", path.display()));
                        return;
                    }
                };
                let caption = caption.trim();
                let caption = if caption.is_empty() {
                    None
                } else {
                    match MessageText::new(caption) {
                        Ok(t) => Some(t),
                        Err(e) => {
                            chat.info(format!("Caption: {e}"));
                            self.view.compose.input = caption.to_owned();
                            return;
                        }
                    }
                };
                chat.attach(chat.current.clone(), path, size, caption);
            }
            FileAct::Want(file) => chat.want_picture(&file),
            FileAct::Save { file, to } => chat.save_file(&file, to),
            FileAct::Cancel(client_id) => {
                chat.cancel_upload(&client_id);
            }
            FileAct::Paste(Pasted(image)) => match self.keep_pasted(&image) {
                Ok(path) => self.view.compose.offer_file(&path),
                Err(e) => chat.info(format!("The pasted picture could not be kept: {e}.")),
            },
            // The screen's own (the save window, the larger view).
            FileAct::AskSave(_) | FileAct::View(..) => {}
        }
    }

    /// Keeps a pasted picture as a PNG file in the configuration
    /// folder's `pasted/`, where it stays while it uploads (and resumes
    /// after a reconnect); the path, named by the time of the paste.
    fn keep_pasted(&self, image: &egui::ColorImage) -> Result<std::path::PathBuf, String> {
        let [w, h] = image.size.map(|n| u32::try_from(n).unwrap_or(u32::MAX));
        let rgba = image
            .pixels
            .iter()
            .flat_map(|c| c.to_srgba_unmultiplied())
            .collect();
        let png = crate::picture::encode_png(w, h, rgba)?;
        let dir = self.opts.config_dir.join("pasted");
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        forget_old_pastes(&dir);
        let stamp = chrono::Local::now().format("%Y-%m-%d %H-%M-%S");
        // Never over an earlier paste, which may still be uploading.
        let path = (1..)
            .map(|n| match n {
                1 => dir.join(format!("Pasted picture {stamp}.png")),
                n => dir.join(format!("Pasted picture {stamp} ({n}).png")),
            })
            .find(|p| !p.exists())
            .unwrap_or_else(|| unreachable!("an endless range"));
        std::fs::write(&path, png).map_err(|e| e.to_string())?;
        Ok(path)
    }

    pub(super) fn on_transfer(&mut self, ev: TransferEvent, ctx: &egui::Context) {
        let Some(chat) = &mut self.chat else { return };
        match ev {
            TransferEvent::Progress { id, done } => chat.transfer_progress(id, done),
            TransferEvent::Uploaded { id, upload } => chat.uploaded(id, upload),
            TransferEvent::Picture { id, picture } => {
                let outcome = match &picture {
                    Ok(_) => Ok(()),
                    Err(PictureError::NotPicture) => Err(None),
                    Err(e) => Err(Some(e.to_string())),
                };
                if let (Some(file), Ok(p)) = (chat.picture_done(id, outcome), picture) {
                    crate::ui::picture::store(ctx, file, p);
                }
            }
            TransferEvent::Saved { id } => chat.saved(id),
            TransferEvent::Failed { id, reason } => chat.transfer_failed(id, reason),
        }
    }
}

/// Removes pasted pictures kept more than a day ago: long sent (or given
/// up), they would otherwise pile up.
fn forget_old_pastes(dir: &std::path::Path) {
    let day = std::time::Duration::from_secs(24 * 3600);
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > day);
        if old {
            let _ = std::fs::remove_file(e.path());
        }
    }
}
