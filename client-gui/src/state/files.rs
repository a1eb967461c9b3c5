//! Files and pictures (protocol v6) as the app tracks them: a file the
//! user attached, uploading as part of its pending message until the
//! message is sent (or the user cancels it), then shown in their own
//! conversation from what the app knows; pictures of messages being
//! fetched to be shown; files being saved. Plain data: the network
//! layer moves the bytes ([`Job`]s go out, progress and outcomes come
//! back), and every outcome ends in something the conversation shows (a
//! picture, a chip, a note), never in a bar that stays.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use cove_common::proto::{Attachment, FileId, FileName, MessageId, UploadId};
use cove_common::{ClientMsgId, ErrorCode, MessageText, Target};

use super::pending::{Delivery, Pending};
use super::{ChatState, Page};

/// Pictures at most this large are fetched by themselves to be shown;
/// larger files show as a chip to save.
pub const PICTURE_AUTO_MAX: u64 = 10 << 20;

/// The app's number for one transfer (an upload, a picture fetched, a
/// file saved), unique for the app's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TransferId(pub u64);

/// Where a download's bytes go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sink {
    /// Into memory, to be shown as a picture if it is one (the network
    /// layer looks at the first chunk and stops if it is not).
    Picture,
    /// Into this file, replaced whole once every byte arrived.
    File(PathBuf),
}

/// A transfer for the network layer to carry out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Job {
    /// Upload the file at `path` (`size` bytes when it was chosen).
    Upload {
        /// The transfer.
        id: TransferId,
        /// The local file.
        path: PathBuf,
        /// Its name as others will see it.
        name: FileName,
        /// Its size.
        size: u64,
    },
    /// Decode the picture the user is sending from its local file, so
    /// that their own message shows it at once, without downloading back
    /// what they uploaded.
    Preview {
        /// The transfer.
        id: TransferId,
        /// The local file.
        path: PathBuf,
    },
    /// Stop an upload: no more of its chunks are sent.
    Cancel {
        /// The upload's transfer.
        id: TransferId,
    },
    /// Download a message's file.
    Download {
        /// The transfer.
        id: TransferId,
        /// The file, from the message.
        file: Attachment,
        /// Where its bytes go.
        to: Sink,
    },
}

/// A file attached to a pending message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// Its upload's transfer.
    pub transfer: TransferId,
    /// The local file.
    pub path: PathBuf,
    /// Its name.
    pub name: FileName,
    /// Its size.
    pub size: u64,
    /// How far it is.
    pub stage: Stage,
}

/// How far an attached file is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stage {
    /// Bytes the server has so far.
    Uploading {
        /// Bytes confirmed by the server.
        done: u64,
    },
    /// On the server, complete: the message may be sent with it.
    Uploaded(UploadId),
}

/// What a picture on screen is the picture of.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PictureOf {
    /// A message's file, downloaded.
    File(FileId),
    /// A file the user sent from this app (under this client id),
    /// decoded from the local file.
    Own(ClientMsgId),
}

/// A file the user sent from this app, as the app knew it when the
/// server stored its message: the `ack` carries neither the file's id
/// nor its key, so the message shows the file from this until a history
/// page brings them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// The client id it was sent under (its picture's key).
    pub client_id: ClientMsgId,
    /// Its name.
    pub name: FileName,
    /// Its size.
    pub size: u64,
}

/// Where a message's picture stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetch {
    /// Being downloaded.
    Loading {
        /// Bytes so far.
        done: u64,
        /// The file's size.
        total: u64,
    },
    /// Decoded and handed to the screen.
    Shown,
    /// Not a picture: a plain chip.
    NotPicture,
    /// A picture the app will not show (too large, damaged): a chip with
    /// the reason.
    Refused(String),
    /// The download failed: a chip with the reason.
    Failed(String),
}

/// Where saving a file stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Saving {
    /// Being downloaded into `to`.
    Saving {
        /// Bytes so far.
        done: u64,
        /// The file's size.
        total: u64,
        /// Where it goes.
        to: PathBuf,
    },
    /// Saved there.
    Saved(PathBuf),
    /// Why it could not be saved.
    Failed(String),
}

/// What a transfer is for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum For {
    Upload(ClientMsgId),
    Preview(ClientMsgId),
    Picture(FileId),
    Save(FileId),
}

/// The transfers of the session and what they are for.
#[derive(Debug, Clone, Default)]
pub struct Files {
    /// The largest file the server takes (`welcome`); 0: none.
    pub max_file_bytes: u64,
    next: u64,
    jobs: Vec<Job>,
    what: HashMap<TransferId, For>,
    /// Pictures of messages, by file.
    pub pictures: HashMap<FileId, Fetch>,
    /// Files being saved or saved, by file (the last save of each).
    pub saves: HashMap<FileId, Saving>,
    /// The user's own messages with a file sent from this app, by
    /// message id.
    pub sent: HashMap<MessageId, Sent>,
}

impl Files {
    fn start(&mut self, what: For) -> TransferId {
        self.next += 1;
        let id = TransferId(self.next);
        self.what.insert(id, what);
        id
    }
}

impl ChatState {
    /// Attaches the file at `path` (`size` bytes) to a new message to
    /// `to`, with an optional caption: it uploads as a pending message,
    /// which is sent once the upload completes. A file the server would
    /// refuse (too large, empty, a name it cannot carry) is refused here
    /// with a note in the conversation, and nothing is uploaded.
    pub fn attach(
        &mut self,
        to: Target,
        path: PathBuf,
        size: u64,
        caption: Option<MessageText>,
    ) -> Option<ClientMsgId> {
        let shown = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let max = self.files.max_file_bytes;
        let refusal = match FileName::new(shown.clone()) {
            Err(_) => Err(format!(
                "\"{shown}\" cannot be sent: its name is not allowed."
            )),
            Ok(_) if max == 0 => Err("This server does not take files.".to_owned()),
            Ok(_) if size == 0 => Err(format!("{shown} is empty: there is nothing to send.")),
            Ok(_) if size > max => Err(format!(
                "{shown} is too large to send ({}): this server takes files of at most {}.",
                human_size(size),
                human_size(max)
            )),
            Ok(name) => Ok(name),
        };
        let name = match refusal {
            Ok(name) => name,
            Err(note) => {
                self.info_in(to, note);
                return None;
            }
        };
        let client_id = self.new_client_id();
        let transfer = self.files.start(For::Upload(client_id.clone()));
        if size <= PICTURE_AUTO_MAX {
            // Read while it uploads (started first: shown by the time the
            // message is stored); the network says if it is no picture.
            let preview = self.files.start(For::Preview(client_id.clone()));
            self.files.jobs.push(Job::Preview {
                id: preview,
                path: path.clone(),
            });
        }
        self.files.jobs.push(Job::Upload {
            id: transfer,
            path: path.clone(),
            name: name.clone(),
            size,
        });
        self.pending.push(Pending {
            client_id: client_id.clone(),
            to,
            text: caption,
            reply_to: None,
            delivery: Delivery::Sending,
            file: Some(Outgoing {
                transfer,
                path,
                name,
                size,
                stage: Stage::Uploading { done: 0 },
            }),
        });
        Some(client_id)
    }

    /// The transfers queued for the network since the last call.
    pub fn take_jobs(&mut self) -> Vec<Job> {
        std::mem::take(&mut self.files.jobs)
    }

    /// The screen wants to show `file` as a picture: it is fetched unless
    /// it is being fetched or known not to show (a screen that dropped a
    /// picture it showed asks again).
    pub fn want_picture(&mut self, file: &Attachment) {
        let again = match self.files.pictures.get(&file.id) {
            None | Some(Fetch::Shown) => true,
            Some(_) => false,
        };
        if !again || file.size > PICTURE_AUTO_MAX {
            return;
        }
        let id = self.files.start(For::Picture(file.id.clone()));
        self.files.pictures.insert(
            file.id.clone(),
            Fetch::Loading {
                done: 0,
                total: file.size,
            },
        );
        self.files.jobs.push(Job::Download {
            id,
            file: file.clone(),
            to: Sink::Picture,
        });
    }

    /// Saves `file` as `to` (the user chose it).
    pub fn save_file(&mut self, file: &Attachment, to: PathBuf) {
        if matches!(self.files.saves.get(&file.id), Some(Saving::Saving { .. })) {
            return;
        }
        let id = self.files.start(For::Save(file.id.clone()));
        self.files.saves.insert(
            file.id.clone(),
            Saving::Saving {
                done: 0,
                total: file.size,
                to: to.clone(),
            },
        );
        self.files.jobs.push(Job::Download {
            id,
            file: file.clone(),
            to: Sink::File(to),
        });
    }

    /// Bytes done of a transfer.
    pub fn transfer_progress(&mut self, id: TransferId, done: u64) {
        match self.files.what.get(&id).cloned() {
            Some(For::Upload(cid)) => {
                if let Some(f) = self.upload_of(&cid, id)
                    && let Stage::Uploading { done: d } = &mut f.stage
                {
                    *d = done;
                }
            }
            Some(For::Picture(file)) => {
                if let Some(Fetch::Loading { done: d, .. }) = self.files.pictures.get_mut(&file) {
                    *d = done;
                }
            }
            Some(For::Save(file)) => {
                if let Some(Saving::Saving { done: d, .. }) = self.files.saves.get_mut(&file) {
                    *d = done;
                }
            }
            Some(For::Preview(_)) | None => {}
        }
    }

    /// An upload is complete on the server: its message is sent.
    pub fn uploaded(&mut self, id: TransferId, upload: UploadId) {
        let Some(For::Upload(cid)) = self.files.what.remove(&id) else {
            return;
        };
        let Some(f) = self.upload_of(&cid, id) else {
            return;
        };
        f.stage = Stage::Uploaded(upload);
        if let Some(p) = self.pending.iter().find(|p| p.client_id == cid).cloned() {
            self.send_pending(&p);
        }
    }

    /// A picture arrived and was decoded (`Ok`), or is not a picture
    /// (`Err(None)`), or will not be shown and why (`Err(Some(..))`).
    /// Returns what it is the picture of, if the transfer was one.
    pub fn picture_done(
        &mut self,
        id: TransferId,
        outcome: Result<(), Option<String>>,
    ) -> Option<PictureOf> {
        let file = match self.files.what.remove(&id) {
            Some(For::Picture(file)) => file,
            // The user's own picture: shown if it decoded, else the
            // message shows its chip (nothing to say: the user knows it).
            Some(For::Preview(cid)) => return outcome.is_ok().then_some(PictureOf::Own(cid)),
            _ => return None,
        };
        let fetch = match outcome {
            Ok(()) => Fetch::Shown,
            Err(None) => Fetch::NotPicture,
            Err(Some(why)) => Fetch::Refused(why),
        };
        self.files.pictures.insert(file.clone(), fetch);
        Some(PictureOf::File(file))
    }

    /// A file was saved where the user chose.
    pub fn saved(&mut self, id: TransferId) {
        let Some(For::Save(file)) = self.files.what.remove(&id) else {
            return;
        };
        if let Some(Saving::Saving { to, .. }) = self.files.saves.get(&file) {
            let to = to.clone();
            self.files.saves.insert(file, Saving::Saved(to));
        }
    }

    /// A transfer failed, and why (a sentence for the user).
    pub fn transfer_failed(&mut self, id: TransferId, reason: String) {
        match self.files.what.remove(&id) {
            Some(For::Upload(cid)) => {
                if let Some(p) = self.pending.iter_mut().find(|p| p.client_id == cid) {
                    let name = p.file.as_ref().map_or("", |f| f.name.as_str());
                    p.delivery = Delivery::Unsent {
                        reason: format!("{name} could not be uploaded: {reason}"),
                    };
                }
            }
            Some(For::Picture(file)) => {
                self.files.pictures.insert(file, Fetch::Failed(reason));
            }
            Some(For::Save(file)) => {
                self.files.saves.insert(file, Saving::Failed(reason));
            }
            Some(For::Preview(_)) | None => {}
        }
    }

    /// Stops the upload of the message `client_id` (the user's Cancel
    /// while it uploads): no more chunks go, and the message is forgotten
    /// without being sent. Returns whether there was such an upload.
    ///
    /// What reached the server stays there as an upload nobody finishes,
    /// until the server gives it up after an hour (protocol v6 has no
    /// request to drop one sooner).
    pub fn cancel_upload(&mut self, client_id: &ClientMsgId) -> bool {
        let Some(i) = self.pending.iter().position(|p| {
            &p.client_id == client_id
                && !p.failed()
                && matches!(
                    p.file.as_ref().map(|f| &f.stage),
                    Some(Stage::Uploading { .. })
                )
        }) else {
            return false;
        };
        let p = self.pending.remove(i);
        if let Some(f) = p.file {
            // Its completion, if already on its way, then finds nothing
            // to send.
            self.files.what.remove(&f.transfer);
            self.files.jobs.push(Job::Cancel { id: f.transfer });
        }
        true
    }

    /// The message with a file `client_id` was refused with `code`:
    /// whether its upload starts again (the server no longer has it, e.g.
    /// after a restart), instead of failing.
    pub(super) fn upload_again(&mut self, client_id: &ClientMsgId, code: ErrorCode) -> bool {
        let Some(i) = self
            .pending
            .iter()
            .position(|p| &p.client_id == client_id && p.file.is_some())
        else {
            return false;
        };
        let uploaded = matches!(
            self.pending[i].file.as_ref().map(|f| &f.stage),
            Some(Stage::Uploaded(_))
        );
        if uploaded && code != ErrorCode::NoSuchUpload {
            return false;
        }
        if let Some(reason) = self.ended.clone() {
            // No connection will come to upload it on.
            self.pending[i].delivery = Delivery::Unsent { reason };
            return true;
        }
        let transfer = self.files.start(For::Upload(client_id.clone()));
        let p = &mut self.pending[i];
        p.delivery = Delivery::Sending;
        if let Some(f) = &mut p.file {
            f.transfer = transfer;
            f.stage = Stage::Uploading { done: 0 };
            self.files.jobs.push(Job::Upload {
                id: transfer,
                path: f.path.clone(),
                name: f.name.clone(),
                size: f.size,
            });
        }
        true
    }

    /// The user's message with `file` was stored as `message_id`: it
    /// shows the file at once from what the app knows (its name, its
    /// size, the picture decoded from the local file), and since its
    /// `ack` does not carry the file's id and key, the conversation's
    /// newest messages are read again for them (to save it, to quote it).
    pub(super) fn file_sent(
        &mut self,
        to: Target,
        message_id: MessageId,
        client_id: ClientMsgId,
        file: Outgoing,
    ) {
        let sent = Sent {
            client_id,
            name: file.name,
            size: file.size,
        };
        self.files.sent.insert(message_id, sent);
        self.fetch(to, Page::Newest, Some(message_id + 1), None);
    }

    /// The session ended for good: pictures and saves on their way fail
    /// (uploads fail with their messages).
    pub(super) fn files_ended(&mut self, reason: &str) {
        for f in self.files.pictures.values_mut() {
            if matches!(f, Fetch::Loading { .. }) {
                *f = Fetch::Failed(reason.to_owned());
            }
        }
        for s in self.files.saves.values_mut() {
            if matches!(s, Saving::Saving { .. }) {
                *s = Saving::Failed(reason.to_owned());
            }
        }
        self.files.what.clear();
    }

    fn upload_of(&mut self, cid: &ClientMsgId, id: TransferId) -> Option<&mut Outgoing> {
        self.pending
            .iter_mut()
            .find(|p| &p.client_id == cid)
            .and_then(|p| p.file.as_mut())
            .filter(|f| f.transfer == id)
    }
}

/// A size as people read it: "850 bytes", "12.5 KB", "3.2 MB" (of 1024).
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 3] = ["KB", "MB", "GB"];
    if bytes < 1024 {
        return format!("{bytes} bytes");
    }
    let mut v = bytes as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if v < 10.0 && v.fract() >= 0.05 {
        format!("{v:.1} {}", UNITS[unit])
    } else {
        format!("{v:.0} {}", UNITS[unit])
    }
}

/// A file name from another user made safe to create in a folder: no
/// path separators or characters some systems refuse, not hidden, not
/// empty, not a reserved name, at most 200 bytes. The server already
/// refuses `/`, `\`, `.`, `..` and control characters; this does not rely
/// on it.
pub fn safe_file_name(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| match c {
            '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|' => '_',
            c if c.is_control() || cove_common::unicode::is_bidi_control(c) => '_',
            c => c,
        })
        .collect();
    // Not hidden, and no trailing dots or spaces (Windows drops them).
    out = out
        .trim_start_matches(['.', ' '])
        .trim_end_matches(['.', ' '])
        .to_owned();
    while out.len() > 200 {
        out.pop();
    }
    let stem = out.split('.').next().unwrap_or("").to_ascii_uppercase();
    let reserved = matches!(stem.as_str(), "CON" | "PRN" | "AUX" | "NUL")
        || (stem.len() == 4
            && (stem.starts_with("COM") || stem.starts_with("LPT"))
            && stem.ends_with(|c: char| c.is_ascii_digit()));
    if out.is_empty() {
        out = "file".to_owned();
    } else if reserved {
        out.insert_str(0, "file ");
    }
    out
}

/// Where a file called `name` is saved in `dir`: always directly inside
/// it, whatever the name says.
pub fn save_path(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(safe_file_name(name));
    debug_assert_eq!(path.parent(), Some(dir));
    path
}

#[cfg(test)]
mod tests;
