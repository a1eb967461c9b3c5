//! Files in transit and at rest (since protocol v6): the uploads in
//! progress, each user's storage quota, and the bounded pool of blocking
//! file work behind `upload`, `chunk`, `send` with a file, `download` and
//! the deletion of a message that carries a file.
//!
//! An upload belongs to its user, not to a connection: after a dropped
//! connection, `resume_upload` from any of their sessions says how many
//! bytes arrived, and the chunks go on from there. An upload that gets no
//! chunk for [`Config::upload_idle`](crate::config::Config::upload_idle)
//! is given up (checked whenever someone starts an upload), and every
//! upload is lost in a restart, since its key is only ever in memory.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cove_common::ErrorCode;
use cove_common::crypto::random_bytes;
use cove_common::limits::UPLOADS_PER_USER_MAX;
use cove_common::proto::{Attachment, FileId, FileKey, FileName, UploadId, chunk_len_at};
use tokio::sync::Semaphore;

use crate::config::Config;
use crate::store::StoreError;
use crate::store::blobs::{BlobError, BlobStore, PartialBlob};
use crate::store::user_id::UserId;
use crate::sync::lock;

/// Blocking file operations (chunk writes and reads, renames, removals)
/// run at once; more wait their turn. Each holds one chunk in memory.
pub const FILE_IO_MAX: usize = 16;

/// Why a file request was refused.
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    /// Larger than the server takes, or files are turned off.
    #[error("files larger than {max} bytes are not accepted here")]
    TooLarge {
        /// The server's `max_file_bytes`.
        max: u64,
    },
    /// An empty file.
    #[error("an empty file cannot be sent")]
    Empty,
    /// Over the user's quota.
    #[error("this would take you past your storage quota of {quota} bytes ({used} in use)")]
    OverQuota {
        /// The quota.
        quota: u64,
        /// Bytes in use, uploads in progress included.
        used: u64,
    },
    /// Too many uploads in progress.
    #[error("at most {UPLOADS_PER_USER_MAX} uploads may be in progress at once")]
    TooManyUploads,
    /// No upload of this user's has that id.
    #[error("no such upload (unknown, already sent, given up or lost in a restart)")]
    NoSuchUpload,
    /// A chunk that does not go where the upload stands.
    #[error("expected the chunk at offset {expected}")]
    Offset {
        /// The bytes received so far.
        expected: u64,
    },
    /// A chunk of the wrong length.
    #[error("the chunk at this offset must hold {expected} bytes")]
    Length {
        /// Its right length.
        expected: usize,
    },
    /// `send` with an upload that is not complete.
    #[error("the upload is not complete ({received} of {size} bytes)")]
    Incomplete {
        /// Bytes received.
        received: u64,
        /// The file's size.
        size: u64,
    },
    /// `send` with an upload another `send` is sending.
    #[error("the upload is being sent")]
    Sending,
    /// No stored file has this id and key.
    #[error("no such file")]
    NoSuchFile,
    /// A download offset that is not the start of a chunk.
    #[error("offset {offset} is not the start of a chunk of this {size}-byte file")]
    BadOffset {
        /// The offset asked for.
        offset: u64,
        /// The file's size.
        size: u64,
    },
    /// Reading or writing the disk failed.
    #[error("{}", .0.public_reason())]
    Storage(#[from] StoreError),
    /// A blocking task failed.
    #[error("internal error")]
    Internal,
}

impl TransferError {
    /// The protocol's code for it.
    pub fn code(&self) -> ErrorCode {
        match self {
            TransferError::TooLarge { .. } => ErrorCode::TooLarge,
            TransferError::OverQuota { .. } => ErrorCode::OverQuota,
            TransferError::TooManyUploads | TransferError::Sending => ErrorCode::Busy,
            TransferError::NoSuchUpload => ErrorCode::NoSuchUpload,
            TransferError::NoSuchFile => ErrorCode::NoSuchFile,
            TransferError::Empty
            | TransferError::Offset { .. }
            | TransferError::Length { .. }
            | TransferError::Incomplete { .. }
            | TransferError::BadOffset { .. } => ErrorCode::BadRequest,
            TransferError::Storage(_) => ErrorCode::Storage,
            TransferError::Internal => ErrorCode::Internal,
        }
    }
}

impl From<BlobError> for TransferError {
    fn from(e: BlobError) -> Self {
        match e {
            BlobError::NotFound => TransferError::NoSuchFile,
            BlobError::BadOffset { offset, size } => TransferError::BadOffset { offset, size },
            BlobError::Store(e) => TransferError::Storage(e),
        }
    }
}

/// One upload in progress.
struct Upload {
    owner: UserId,
    name: FileName,
    size: u64,
    file: FileId,
    key: FileKey,
    state: Mutex<UploadState>,
}

struct UploadState {
    /// `None` once discarded after a failed write.
    blob: Option<PartialBlob>,
    touched: Instant,
    sending: bool,
}

#[derive(Default)]
struct Inner {
    uploads: HashMap<UploadId, Arc<Upload>>,
    /// Bytes of stored (sent, not deleted) files per owner.
    usage: HashMap<UserId, u64>,
}

impl Inner {
    fn in_progress(&self, owner: &UserId) -> impl Iterator<Item = &Arc<Upload>> {
        self.uploads.values().filter(move |u| u.owner == *owner)
    }

    fn owned(&self, owner: &UserId, upload: &UploadId) -> Result<Arc<Upload>, TransferError> {
        match self.uploads.get(upload) {
            Some(u) if u.owner == *owner => Ok(u.clone()),
            _ => Err(TransferError::NoSuchUpload),
        }
    }
}

/// The server's files: uploads in progress, stored files and quotas.
pub struct Transfers {
    blobs: Arc<BlobStore>,
    inner: Mutex<Inner>,
    io: Semaphore,
    max_file_bytes: u64,
    quota: u64,
    idle: Duration,
}

impl std::fmt::Debug for Transfers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transfers")
            .field("max_file_bytes", &self.max_file_bytes)
            .finish_non_exhaustive()
    }
}

impl Transfers {
    /// Opens the files directory (see [`BlobStore::open`]) with the limits
    /// of `config`.
    pub fn open(config: &Config) -> Result<Self, StoreError> {
        let (blobs, usage) = BlobStore::open(&config.data_dir)?;
        Ok(Self {
            blobs: Arc::new(blobs),
            inner: Mutex::new(Inner {
                uploads: HashMap::new(),
                usage,
            }),
            io: Semaphore::new(FILE_IO_MAX),
            max_file_bytes: config.max_file_bytes,
            quota: config.file_quota_bytes,
            idle: config.upload_idle,
        })
    }

    /// The largest file taken.
    pub fn max_file_bytes(&self) -> u64 {
        self.max_file_bytes
    }

    /// Runs blocking file work on the bounded pool.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, TransferError> + Send + 'static,
    ) -> Result<T, TransferError> {
        let _turn = self
            .io
            .acquire()
            .await
            .map_err(|_| TransferError::Internal)?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|_| TransferError::Internal)?
    }

    /// Starts an upload of `size` bytes named `name` for `owner`.
    pub async fn begin(
        &self,
        owner: &UserId,
        name: FileName,
        size: u64,
    ) -> Result<UploadId, TransferError> {
        if size > self.max_file_bytes {
            return Err(TransferError::TooLarge {
                max: self.max_file_bytes,
            });
        }
        if size == 0 {
            return Err(TransferError::Empty);
        }
        self.give_up_idle().await;
        let upload = UploadId::from_bytes(random_bytes());
        let file = FileId::from_bytes(random_bytes());
        let key = FileKey::from_bytes(&random_bytes());
        {
            let inner = lock(&self.inner);
            if inner.in_progress(owner).count() >= UPLOADS_PER_USER_MAX {
                return Err(TransferError::TooManyUploads);
            }
            let used = inner.usage.get(owner).copied().unwrap_or(0)
                + inner.in_progress(owner).map(|u| u.size).sum::<u64>();
            if used.saturating_add(size) > self.quota {
                return Err(TransferError::OverQuota {
                    quota: self.quota,
                    used,
                });
            }
        }
        let blobs = self.blobs.clone();
        let (u, o, f, k) = (upload.clone(), owner.clone(), file.clone(), key.clone());
        let blob = self
            .blocking(move || Ok(blobs.create(&u, &o, f, &k, size)?))
            .await?;
        let entry = Arc::new(Upload {
            owner: owner.clone(),
            name,
            size,
            file,
            key,
            state: Mutex::new(UploadState {
                blob: Some(blob),
                touched: Instant::now(),
                sending: false,
            }),
        });
        // Checked again: another session of the user may have started
        // uploads meanwhile.
        let mut inner = lock(&self.inner);
        if inner.in_progress(owner).count() >= UPLOADS_PER_USER_MAX {
            drop(inner);
            self.discard(entry);
            return Err(TransferError::TooManyUploads);
        }
        inner.uploads.insert(upload.clone(), entry);
        Ok(upload)
    }

    /// Where an upload of `owner`'s stands: its size and the bytes
    /// received.
    pub fn status(&self, owner: &UserId, upload: &UploadId) -> Result<(u64, u64), TransferError> {
        let u = lock(&self.inner).owned(owner, upload)?;
        let mut state = lock(&u.state);
        state.touched = Instant::now();
        let received = state.blob.as_ref().map_or(0, PartialBlob::written);
        Ok((u.size, received))
    }

    /// Writes the chunk at `offset`; returns the bytes received.
    pub async fn chunk(
        &self,
        owner: &UserId,
        upload: &UploadId,
        offset: u64,
        data: Vec<u8>,
    ) -> Result<u64, TransferError> {
        let u = lock(&self.inner).owned(owner, upload)?;
        let entry = u.clone();
        let result = self
            .blocking(move || {
                let mut state = lock(&entry.state);
                let blob = state.blob.as_mut().ok_or(TransferError::NoSuchUpload)?;
                let expected = blob.written();
                if offset != expected || expected == entry.size {
                    return Err(TransferError::Offset { expected });
                }
                let len = chunk_len_at(entry.size, offset).ok_or(TransferError::Internal)?;
                if data.len() != len {
                    return Err(TransferError::Length { expected: len });
                }
                if let Err(e) = blob.append(&data) {
                    // Gone before the error is answered: nothing partial
                    // is left behind.
                    if let Some(blob) = state.blob.take() {
                        blob.discard();
                    }
                    return Err(e.into());
                }
                let received = blob.written();
                state.touched = Instant::now();
                Ok(received)
            })
            .await;
        if let Err(TransferError::Storage(e)) = &result {
            tracing::warn!(error = %e, "an upload failed to write; removed");
            lock(&self.inner).uploads.remove(upload);
        }
        result
    }

    /// Gives up an upload of `owner`'s that will not be sent: its bytes
    /// are removed, and it no longer counts against the quota or the
    /// uploads at once. One being sent cannot be (`busy`).
    pub async fn cancel(&self, owner: &UserId, upload: &UploadId) -> Result<(), TransferError> {
        let u = lock(&self.inner).owned(owner, upload)?;
        // A chunk being written holds the state's lock: wait for it off
        // the async threads. Marked as sending, the upload can no longer
        // be sent meanwhile; its blob taken, no chunk goes into it.
        let entry = u.clone();
        let blob = self
            .blocking(move || {
                let mut state = lock(&entry.state);
                if state.sending {
                    return Err(TransferError::Sending);
                }
                state.sending = true;
                Ok(state.blob.take())
            })
            .await?;
        lock(&self.inner).uploads.remove(upload);
        if let Some(blob) = blob {
            self.blocking(move || {
                blob.discard();
                Ok(())
            })
            .await?;
        }
        Ok(())
    }

    /// Makes a complete upload a stored file for `send`; returns what the
    /// message carries. Until [`Transfers::sent`] says how the send went,
    /// the upload cannot be sent again.
    pub async fn take_for_send(
        &self,
        owner: &UserId,
        upload: &UploadId,
    ) -> Result<Attachment, TransferError> {
        let u = lock(&self.inner).owned(owner, upload)?;
        {
            let mut state = lock(&u.state);
            let received = state.blob.as_ref().map_or(0, PartialBlob::written);
            if received != u.size {
                return Err(TransferError::Incomplete {
                    received,
                    size: u.size,
                });
            }
            if state.sending {
                return Err(TransferError::Sending);
            }
            state.sending = true;
        }
        let (entry, blobs) = (u.clone(), self.blobs.clone());
        let finished = self
            .blocking(move || {
                let mut state = lock(&entry.state);
                let blob = state.blob.as_mut().ok_or(TransferError::NoSuchUpload)?;
                Ok(blob.finish(&blobs)?)
            })
            .await;
        if let Err(e) = finished {
            lock(&u.state).sending = false;
            return Err(e);
        }
        Ok(Attachment {
            id: u.file.clone(),
            name: u.name.clone(),
            size: u.size,
            key: u.key.clone(),
        })
    }

    /// How the send of an upload went: stored, and the upload is done
    /// (its bytes now count as the owner's stored files), or not, and it
    /// may be sent again.
    pub fn sent(&self, upload: &UploadId, stored: bool) {
        let mut inner = lock(&self.inner);
        if stored {
            if let Some(u) = inner.uploads.remove(upload) {
                *inner.usage.entry(u.owner.clone()).or_default() += u.size;
            }
        } else if let Some(u) = inner.uploads.get(upload) {
            let mut state = lock(&u.state);
            state.sending = false;
            state.touched = Instant::now();
        }
    }

    /// Reads the chunk of a stored file at `offset`; returns it and the
    /// file's size.
    pub async fn download(
        &self,
        file: FileId,
        key: FileKey,
        offset: u64,
    ) -> Result<(Vec<u8>, u64), TransferError> {
        let blobs = self.blobs.clone();
        self.blocking(move || Ok(blobs.read_chunk(&file, &key, offset)?))
            .await
    }

    /// Removes a stored file whose message was deleted.
    pub async fn remove(&self, file: FileId) {
        let blobs = self.blobs.clone();
        let name = file.clone();
        match self.blocking(move || Ok(blobs.remove(&name)?)).await {
            Ok(Some((owner, size))) => {
                let mut inner = lock(&self.inner);
                if let Some(used) = inner.usage.get_mut(&owner) {
                    *used = used.saturating_sub(size);
                }
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(file = %file, error = %e, "a deleted message's file stays"),
        }
    }

    /// Bytes of stored files `owner` sent, uploads in progress not
    /// counted.
    pub fn used_by(&self, owner: &UserId) -> u64 {
        lock(&self.inner).usage.get(owner).copied().unwrap_or(0)
    }

    /// Gives up uploads idle for longer than the limit.
    async fn give_up_idle(&self) {
        let now = Instant::now();
        let stale: Vec<Arc<Upload>> = {
            let mut inner = lock(&self.inner);
            let ids: Vec<UploadId> = inner
                .uploads
                .iter()
                .filter(|(_, u)| {
                    // A chunk being written holds the lock: not idle.
                    u.state.try_lock().is_ok_and(|s| {
                        !s.sending && now.saturating_duration_since(s.touched) > self.idle
                    })
                })
                .map(|(id, _)| id.clone())
                .collect();
            ids.iter()
                .filter_map(|id| inner.uploads.remove(id))
                .collect()
        };
        for u in stale {
            self.discard(u);
        }
    }

    /// Removes an upload's bytes, off the async threads.
    fn discard(&self, upload: Arc<Upload>) {
        let blob = lock(&upload.state).blob.take();
        if let Some(blob) = blob {
            tokio::task::spawn_blocking(move || blob.discard());
        }
    }
}
