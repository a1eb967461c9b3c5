//! File transfers (protocol v6) on the network side: uploads read from
//! the local file a chunk at a time and downloads written a chunk at a
//! time (blocking file work on tokio's blocking pool, never the whole
//! file in memory, except a picture to be shown), at most
//! [`IN_FLIGHT`] chunks in flight each, so the connection's other
//! requests and events keep flowing between them.
//!
//! The driver hands every reply to [`Transfers::on_reply`] first and
//! every finished piece of file work to [`Transfers::on_done`]. After a
//! lost connection an upload goes on where the server stopped
//! (`resume_upload`; from the start on `no_such_upload`), a download
//! from the chunks it still lacks. Every transfer ends in a
//! [`TransferEvent`] the app shows: done, or failed with a sentence.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use cove_common::client::{Event, Session};
use cove_common::limits::FILE_CHUNK_BYTES;
use cove_common::proto::{ChunkData, FileName, UploadId, chunk_len_at};
use cove_common::{ErrorCode, Request, ServerMessage};
use tokio::sync::mpsc;

use super::{Emitter, NetEvent};
use crate::picture::{Decoded, PictureError};
use crate::state::{Job, PICTURE_AUTO_MAX, Sink, TransferId};

mod downloads;
use downloads::{Down, remove_later, temp_beside};

/// Chunks of one transfer on their way at once.
pub const IN_FLIGHT: usize = 4;

/// How a transfer went, for the app.
#[derive(Debug)]
pub enum TransferEvent {
    /// Bytes done so far.
    Progress {
        /// The transfer.
        id: TransferId,
        /// Bytes done.
        done: u64,
    },
    /// An upload is complete on the server.
    Uploaded {
        /// The transfer.
        id: TransferId,
        /// The upload, for `send`.
        upload: UploadId,
    },
    /// A picture download (or the reading of the user's own picture)
    /// finished: decoded, or why it is not shown.
    Picture {
        /// The transfer.
        id: TransferId,
        /// The pixels, or why not.
        picture: Result<Decoded, PictureError>,
    },
    /// A file was saved where asked.
    Saved {
        /// The transfer.
        id: TransferId,
    },
    /// A transfer failed; the sentence says why.
    Failed {
        /// The transfer.
        id: TransferId,
        /// Why, for the user.
        reason: String,
    },
}

/// What a request on the wire was for.
#[derive(Debug, Clone, Copy)]
pub(super) enum Step {
    /// `upload` or `resume_upload`.
    Begin,
    /// A `chunk`.
    Chunk,
    /// A `download` of the chunk at this offset.
    Get(u64),
    /// A `cancel_upload` (since v7): its answer changes nothing here.
    Cancel,
}

/// File work done on the blocking pool.
pub(super) enum Work {
    Read(u64, std::io::Result<Vec<u8>>),
    Wrote(usize, std::io::Result<()>),
    Finished(std::io::Result<()>),
    Decoded(Result<Decoded, PictureError>),
    /// The user's own picture, read from its local file.
    Preview(Result<Decoded, PictureError>),
}

/// A piece of file work done, for [`Transfers::on_done`].
pub(super) struct Done {
    pub(super) id: TransferId,
    pub(super) generation: u64,
    pub(super) work: Work,
}

struct Up {
    path: PathBuf,
    name: FileName,
    size: u64,
    upload: Option<UploadId>,
    generation: u64,
    /// Bytes the server confirmed.
    received: u64,
    /// The next offset to read.
    next_read: u64,
    /// The next offset to send (chunks go in order).
    next_send: u64,
    /// Chunks read and not yet sent, by offset.
    ready: BTreeMap<u64, Vec<u8>>,
    /// Chunks being read or on the wire.
    in_flight: usize,
}

impl Up {
    /// An upload not yet begun on the server.
    fn new(path: PathBuf, name: FileName, size: u64, generation: u64) -> Self {
        Self {
            path,
            name,
            size,
            upload: None,
            generation,
            received: 0,
            next_read: 0,
            next_send: 0,
            ready: BTreeMap::new(),
            in_flight: 0,
        }
    }
}

/// The transfers of the app, across connections.
pub(super) struct Transfers {
    ups: HashMap<TransferId, Up>,
    downs: HashMap<TransferId, Down>,
    /// Requests on the wire: what each is for.
    wire: HashMap<u64, (TransferId, u64, Step)>,
    generation: u64,
    tx: mpsc::UnboundedSender<Done>,
    rx: mpsc::UnboundedReceiver<Done>,
}

impl Transfers {
    pub(super) fn new() -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        Self {
            ups: HashMap::new(),
            downs: HashMap::new(),
            wire: HashMap::new(),
            generation: 0,
            tx,
            rx,
        }
    }

    fn next_generation(&mut self) -> u64 {
        self.generation += 1;
        self.generation
    }

    /// Starts a transfer the app asked for: at once when connected, else
    /// after the next login.
    pub(super) async fn start(&mut self, job: Job, session: Option<&Session>) {
        let id = match &job {
            Job::Upload { id, .. } | Job::Download { id, .. } => *id,
            &Job::Cancel { id } => {
                // The server forgets the upload and its bytes stop counting
                // against the quota. Without a connection now, the server
                // gives it up after an hour without chunks.
                let upload = self.ups.get(&id).and_then(|u| u.upload.clone());
                self.add(job);
                if let (Some(s), Some(upload)) = (session, upload) {
                    let request = Request::CancelUpload { upload };
                    self.send(s, id, 0, Step::Cancel, request).await;
                }
                return;
            }
            // Needs no connection.
            Job::Preview { .. } => return self.add(job),
        };
        self.add(job);
        if let Some(s) = session {
            if self.ups.contains_key(&id) {
                self.begin(s, id).await;
            } else {
                self.ask_chunks(s, id).await;
            }
        }
    }

    /// Takes on a transfer, to start with the next connection.
    pub(super) fn add(&mut self, job: Job) {
        let generation = self.next_generation();
        match job {
            Job::Upload {
                id,
                path,
                name,
                size,
            } => {
                self.ups.insert(id, Up::new(path, name, size, generation));
            }
            Job::Preview { id, path } => {
                let tx = self.tx.clone();
                tokio::task::spawn_blocking(move || {
                    let work = Work::Preview(crate::picture::decode_file(&path, PICTURE_AUTO_MAX));
                    let _ = tx.send(Done {
                        id,
                        generation,
                        work,
                    });
                });
            }
            Job::Cancel { id } => {
                // Replies and reads still on their way find no upload; the
                // replies stay expected, so that the server's refusals of
                // chunks sent before its `cancel_upload` are dropped here.
                self.ups.remove(&id);
            }
            Job::Download { id, file, to } => {
                let todo = (0..file.size).step_by(FILE_CHUNK_BYTES).collect();
                let buf = match to {
                    Sink::Picture => vec![0; usize::try_from(file.size).unwrap_or(0)],
                    Sink::File(_) => Vec::new(),
                };
                let temp = match &to {
                    Sink::File(path) => Some(temp_beside(path, id)),
                    Sink::Picture => None,
                };
                self.downs.insert(
                    id,
                    Down {
                        file,
                        sink: to,
                        generation,
                        todo,
                        asked: BTreeSet::new(),
                        done: 0,
                        buf,
                        temp,
                        writing: 0,
                    },
                );
            }
        }
    }

    /// A new connection: uploads go on where the server stopped,
    /// downloads ask again for what they lack.
    pub(super) async fn resume(&mut self, s: &Session) {
        let ups: Vec<TransferId> = self.ups.keys().copied().collect();
        for id in ups {
            self.begin(s, id).await;
        }
        let downs: Vec<TransferId> = self.downs.keys().copied().collect();
        for id in downs {
            self.ask_chunks(s, id).await;
        }
    }

    /// The connection was lost: nothing on the wire will be answered, and
    /// file work started for it is not used.
    pub(super) fn lost_connection(&mut self) {
        self.wire.clear();
        let ups: Vec<TransferId> = self.ups.keys().copied().collect();
        for id in ups {
            let generation = self.next_generation();
            if let Some(u) = self.ups.get_mut(&id) {
                u.generation = generation;
                u.ready.clear();
                u.in_flight = 0;
                u.next_read = u.received;
                u.next_send = u.received;
            }
        }
        for d in self.downs.values_mut() {
            let asked = std::mem::take(&mut d.asked);
            d.todo.extend(asked);
        }
    }

    /// The session ended for good: every transfer is given up (the app
    /// fails them itself).
    pub(super) fn abandon(&mut self) {
        self.wire.clear();
        self.ups.clear();
        for (_, d) in self.downs.drain() {
            if let Some(temp) = d.temp {
                remove_later(temp);
            }
        }
    }

    /// Takes a reply to a transfer's request; any other event comes
    /// back for the driver.
    pub(super) async fn intercept(
        &mut self,
        ev: Option<Event>,
        session: Option<&Session>,
        out: &Emitter,
    ) -> Option<Option<Event>> {
        match ev {
            Some(Event::Message(msg))
                if msg.answers().is_some_and(|w| self.wire.contains_key(&w)) =>
            {
                if let Some(s) = session {
                    self.on_reply(s, msg, out).await;
                }
                None
            }
            other => Some(other),
        }
    }

    /// The next piece of file work done.
    pub(super) async fn next_done(&mut self) -> Option<Done> {
        self.rx.recv().await
    }

    async fn begin(&mut self, s: &Session, id: TransferId) {
        let Some(u) = self.ups.get(&id) else { return };
        let request = match &u.upload {
            Some(upload) => Request::ResumeUpload {
                upload: upload.clone(),
            },
            None => Request::Upload {
                name: u.name.clone(),
                size: u.size,
            },
        };
        let generation = u.generation;
        self.send(s, id, generation, Step::Begin, request).await;
    }

    pub(super) async fn send(
        &mut self,
        s: &Session,
        id: TransferId,
        generation: u64,
        step: Step,
        request: Request,
    ) {
        // An error means the connection is closing: its end resumes the
        // transfer.
        if let Ok(wire) = s.send(request).await {
            self.wire.insert(wire, (id, generation, step));
        }
    }

    /// A reply to one of the transfers' requests.
    pub(super) async fn on_reply(&mut self, s: &Session, msg: ServerMessage, out: &Emitter) {
        let Some(wire) = msg.answers() else { return };
        let Some((id, generation, step)) = self.wire.remove(&wire) else {
            return;
        };
        match (step, msg) {
            (Step::Cancel, _) => {}
            (_, ServerMessage::Error { code, message, .. }) => {
                self.refused(s, id, generation, step, code, &message, out)
                    .await;
            }
            (
                Step::Begin,
                ServerMessage::UploadReady {
                    upload, received, ..
                },
            ) => {
                let Some(u) = self.ups.get_mut(&id).filter(|u| u.generation == generation) else {
                    if !self.ups.contains_key(&id) {
                        // Cancelled before the server named it: give it up
                        // there too.
                        let request = Request::CancelUpload { upload };
                        self.send(s, id, 0, Step::Cancel, request).await;
                    }
                    return;
                };
                u.upload = Some(upload);
                u.received = received;
                u.next_read = received;
                u.next_send = received;
                self.progress_up(s, id, out).await;
            }
            (Step::Chunk, ServerMessage::ChunkOk { received, .. }) => {
                let Some(u) = self.ups.get_mut(&id).filter(|u| u.generation == generation) else {
                    return;
                };
                u.in_flight = u.in_flight.saturating_sub(1);
                u.received = u.received.max(received);
                self.progress_up(s, id, out).await;
            }
            (Step::Get(offset), ServerMessage::FileData { data, .. }) => {
                self.got_chunk(s, id, offset, data, out).await;
            }
            (_, other) => {
                tracing::warn!("unexpected reply to a transfer: {other:?}");
            }
        }
    }

    /// An upload moved on: says so, reads more, or reports it complete.
    async fn progress_up(&mut self, s: &Session, id: TransferId, out: &Emitter) {
        let Some(u) = self.ups.get(&id) else { return };
        out.emit(NetEvent::Transfer(TransferEvent::Progress {
            id,
            done: u.received,
        }));
        if u.received >= u.size {
            if let Some(u) = self.ups.remove(&id)
                && let Some(upload) = u.upload
            {
                out.emit(NetEvent::Transfer(TransferEvent::Uploaded { id, upload }));
            }
            return;
        }
        self.read_more(id);
        self.send_ready(s, id).await;
    }

    /// Reads chunks while fewer than [`IN_FLIGHT`] are on their way.
    fn read_more(&mut self, id: TransferId) {
        let Some(u) = self.ups.get_mut(&id) else {
            return;
        };
        while u.in_flight < IN_FLIGHT
            && let Some(len) = chunk_len_at(u.size, u.next_read)
        {
            let (offset, path, generation) = (u.next_read, u.path.clone(), u.generation);
            u.next_read += len as u64;
            u.in_flight += 1;
            let tx = self.tx.clone();
            tokio::task::spawn_blocking(move || {
                let work = Work::Read(offset, read_at(&path, offset, len));
                let _ = tx.send(Done {
                    id,
                    generation,
                    work,
                });
            });
        }
    }

    /// Sends the chunks read, in order.
    async fn send_ready(&mut self, s: &Session, id: TransferId) {
        loop {
            let Some(u) = self.ups.get_mut(&id) else {
                return;
            };
            let Some(bytes) = u.ready.remove(&u.next_send) else {
                return;
            };
            let offset = u.next_send;
            u.next_send += bytes.len() as u64;
            let (upload, generation) = (u.upload.clone(), u.generation);
            let (Some(upload), Ok(data)) = (upload, ChunkData::new(bytes)) else {
                return;
            };
            let request = Request::Chunk {
                upload,
                offset,
                data,
            };
            self.send(s, id, generation, Step::Chunk, request).await;
        }
    }

    /// File work finished.
    pub(super) async fn on_done(&mut self, session: Option<&Session>, done: Done, out: &Emitter) {
        let Done {
            id,
            generation,
            work,
        } = done;
        match work {
            Work::Read(offset, result) => {
                let Some(u) = self.ups.get_mut(&id).filter(|u| u.generation == generation) else {
                    return;
                };
                match result {
                    Ok(bytes) => {
                        u.ready.insert(offset, bytes);
                        if let Some(s) = session {
                            self.send_ready(s, id).await;
                        }
                    }
                    Err(e) => {
                        let reason = format!("it could not be read ({e})");
                        self.fail(id, reason, out);
                    }
                }
            }
            Work::Preview(picture) => {
                out.emit(NetEvent::Transfer(TransferEvent::Picture { id, picture }));
            }
            other => self.down_done(session, id, generation, other, out).await,
        }
    }

    /// The server refused a transfer's request.
    #[allow(clippy::too_many_arguments)]
    async fn refused(
        &mut self,
        s: &Session,
        id: TransferId,
        generation: u64,
        step: Step,
        code: ErrorCode,
        message: &str,
        out: &Emitter,
    ) {
        let current = self
            .ups
            .get(&id)
            .map(|u| u.generation)
            .or_else(|| self.downs.get(&id).map(|d| d.generation));
        if current != Some(generation) {
            return; // an answer for a transfer started over since
        }
        if code == ErrorCode::NoSuchUpload && matches!(step, Step::Begin | Step::Chunk) {
            // Given up by the server (idle, restarted): from the start.
            let generation = self.next_generation();
            if let Some(u) = self.ups.get_mut(&id) {
                *u = Up::new(u.path.clone(), u.name.clone(), u.size, generation);
            }
            out.emit(NetEvent::Transfer(TransferEvent::Progress { id, done: 0 }));
            self.begin(s, id).await;
            return;
        }
        self.fail(id, refusal(code, message), out);
    }

    pub(super) fn fail(&mut self, id: TransferId, reason: String, out: &Emitter) {
        self.ups.remove(&id);
        if let Some(d) = self.downs.remove(&id)
            && let Some(temp) = d.temp
        {
            remove_later(temp);
        }
        self.wire.retain(|_, (t, _, _)| *t != id);
        out.emit(NetEvent::Transfer(TransferEvent::Failed { id, reason }));
    }
}

/// The server's refusal of a transfer, for the user.
fn refusal(code: ErrorCode, message: &str) -> String {
    match code {
        ErrorCode::TooLarge => "the server takes no file that large".to_owned(),
        ErrorCode::OverQuota => "your storage on the server is full".to_owned(),
        ErrorCode::NoSuchFile => "the file is no longer on the server".to_owned(),
        ErrorCode::Busy => "too many uploads at once; try again when one is done".to_owned(),
        _ => message.to_owned(),
    }
}

fn read_at(path: &Path, offset: u64, len: usize) -> std::io::Result<Vec<u8>> {
    let mut f = std::fs::File::open(path)?;
    f.seek(SeekFrom::Start(offset))?;
    let mut buf = vec![0; len];
    f.read_exact(&mut buf)?;
    Ok(buf)
}
