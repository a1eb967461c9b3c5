//! Downloads: a message's file fetched chunk by chunk, at most
//! [`IN_FLIGHT`] at once, into memory for a picture to show (whose first
//! chunk must show it is one) or into a hidden file beside the one chosen,
//! written at each chunk's offset and put in place whole at the end.

use std::collections::BTreeSet;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use cove_common::Request;
use cove_common::client::Session;
use cove_common::proto::{Attachment, ChunkData, chunk_len_at};

use super::{Done, IN_FLIGHT, Step, TransferEvent, Transfers, Work};
use crate::net::{Emitter, NetEvent};
use crate::picture::{self, PictureError};
use crate::state::{Sink, TransferId};

pub(super) struct Down {
    pub(super) file: Attachment,
    pub(super) sink: Sink,
    pub(super) generation: u64,
    /// Offsets not asked for yet, in order.
    pub(super) todo: BTreeSet<u64>,
    /// Offsets asked for on this connection.
    pub(super) asked: BTreeSet<u64>,
    /// Bytes written (to the picture's buffer or the file).
    pub(super) done: u64,
    /// The picture's bytes, for [`Sink::Picture`].
    pub(super) buf: Vec<u8>,
    /// The file being written, for [`Sink::File`].
    pub(super) temp: Option<PathBuf>,
    /// Chunks being written.
    pub(super) writing: usize,
}

impl Transfers {
    /// Asks for a download's next chunks: only the first for a picture
    /// until it shows it is one.
    pub(super) async fn ask_chunks(&mut self, s: &Session, id: TransferId) {
        loop {
            let Some(d) = self.downs.get_mut(&id) else {
                return;
            };
            let limit = if d.sink == Sink::Picture && d.done == 0 {
                1
            } else {
                IN_FLIGHT
            };
            if d.asked.len() + d.writing >= limit {
                return;
            }
            let Some(offset) = d.todo.pop_first() else {
                return;
            };
            d.asked.insert(offset);
            let request = Request::Download {
                file: d.file.id.clone(),
                key: d.file.key.clone(),
                offset,
            };
            let generation = d.generation;
            self.send(s, id, generation, Step::Get(offset), request)
                .await;
        }
    }

    pub(super) async fn got_chunk(
        &mut self,
        s: &Session,
        id: TransferId,
        offset: u64,
        data: ChunkData,
        out: &Emitter,
    ) {
        let Some(d) = self.downs.get_mut(&id) else {
            return;
        };
        d.asked.remove(&offset);
        let bytes = data.into_bytes();
        if chunk_len_at(d.file.size, offset) != Some(bytes.len()) {
            self.fail(
                id,
                "the server sent a chunk of the wrong length".into(),
                out,
            );
            return;
        }
        match &d.sink {
            Sink::Picture => {
                if offset == 0 && picture::sniff(&bytes).is_none() {
                    self.downs.remove(&id);
                    out.emit(NetEvent::Transfer(TransferEvent::Picture {
                        id,
                        picture: Err(PictureError::NotPicture),
                    }));
                    return;
                }
                let at = usize::try_from(offset).unwrap_or(usize::MAX);
                if let Some(slot) = d.buf.get_mut(at..at + bytes.len()) {
                    slot.copy_from_slice(&bytes);
                }
                d.done += bytes.len() as u64;
                out.emit(NetEvent::Transfer(TransferEvent::Progress {
                    id,
                    done: d.done,
                }));
                if d.done >= d.file.size {
                    let bytes = std::mem::take(&mut d.buf);
                    let (tx, generation) = (self.tx.clone(), d.generation);
                    tokio::task::spawn_blocking(move || {
                        let work = Work::Decoded(picture::decode(&bytes));
                        let _ = tx.send(Done {
                            id,
                            generation,
                            work,
                        });
                    });
                    return;
                }
            }
            Sink::File(_) => {
                let Some(temp) = d.temp.clone() else { return };
                d.writing += 1;
                let (tx, generation) = (self.tx.clone(), d.generation);
                tokio::task::spawn_blocking(move || {
                    let len = bytes.len();
                    let work = Work::Wrote(len, write_at(&temp, offset, &bytes));
                    let _ = tx.send(Done {
                        id,
                        generation,
                        work,
                    });
                });
            }
        }
        self.ask_chunks(s, id).await;
    }

    /// File work of a download finished.
    pub(super) async fn down_done(
        &mut self,
        session: Option<&Session>,
        id: TransferId,
        generation: u64,
        work: Work,
        out: &Emitter,
    ) {
        match work {
            Work::Wrote(len, result) => {
                let Some(d) = self.downs.get_mut(&id) else {
                    return;
                };
                d.writing = d.writing.saturating_sub(1);
                if let Err(e) = result {
                    self.fail(id, format!("it could not be written ({e})"), out);
                    return;
                }
                d.done += len as u64;
                out.emit(NetEvent::Transfer(TransferEvent::Progress {
                    id,
                    done: d.done,
                }));
                if d.done >= d.file.size {
                    if let (Some(temp), Sink::File(to)) = (d.temp.clone(), d.sink.clone()) {
                        let tx = self.tx.clone();
                        tokio::task::spawn_blocking(move || {
                            let work = Work::Finished(finish(&temp, &to));
                            let _ = tx.send(Done {
                                id,
                                generation,
                                work,
                            });
                        });
                    }
                } else if let Some(s) = session {
                    self.ask_chunks(s, id).await;
                }
            }
            Work::Finished(result) => {
                let Some(mut d) = self.downs.remove(&id) else {
                    return;
                };
                match result {
                    Ok(()) => out.emit(NetEvent::Transfer(TransferEvent::Saved { id })),
                    Err(e) => {
                        if let Some(temp) = d.temp.take() {
                            remove_later(temp);
                        }
                        out.emit(NetEvent::Transfer(TransferEvent::Failed {
                            id,
                            reason: format!("it could not be saved ({e})"),
                        }));
                    }
                }
            }
            Work::Decoded(picture) => {
                if self.downs.remove(&id).is_some() {
                    out.emit(NetEvent::Transfer(TransferEvent::Picture { id, picture }));
                }
            }
            // Uploads' and previews' work, taken by `on_done`.
            Work::Read(..) | Work::Preview(_) => {}
        }
    }
}

/// Where a file being saved as `to` is written until it is complete: in
/// the same folder (so the final rename stays on one file system), hidden.
pub(super) fn temp_beside(to: &Path, id: TransferId) -> PathBuf {
    let name = to
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    to.with_file_name(format!(".{name}.cove-{}-{}.part", std::process::id(), id.0))
}

pub(super) fn write_at(path: &Path, offset: u64, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(false)
        .open(path)?;
    f.seek(SeekFrom::Start(offset))?;
    f.write_all(bytes)
}

/// Makes the complete file durable, then puts it in place whole.
pub(super) fn finish(temp: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::OpenOptions::new()
        .write(true)
        .open(temp)?
        .sync_all()?;
    std::fs::rename(temp, to)
}

pub(super) fn remove_later(path: PathBuf) {
    tokio::task::spawn_blocking(move || {
        let _ = std::fs::remove_file(path);
    });
}
