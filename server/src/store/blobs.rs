//! Stored files ("blobs", since protocol v6): each sent file is kept once,
//! however many recipients it has, under `files/<file id>`, sealed under a
//! random key of its own that the server keeps nowhere but inside the
//! recipients' sealed history entries (Signal keeps attachments the same
//! way: encrypted under a per-attachment key that travels in the message).
//!
//! A blob is a header and then the file's chunks, each sealed on its own
//! so that any chunk can be read and checked without the others:
//!
//! ```text
//! header (80 bytes): "COVEBLB1" | owner's user id (32 ASCII hex) |
//!                    size (u64 BE) | check (32)
//! chunk i:           IV (16) | AES-256-CFB ciphertext | HMAC-SHA256 tag (32)
//! ```
//!
//! Every chunk holds [`FILE_CHUNK_BYTES`] of the file but the last. A
//! chunk's tag covers the file id, its index and whether it is the last,
//! so chunks cannot be swapped, moved between files, dropped from the end
//! or appended. The check is an HMAC of the size and owner under a key
//! derived from the file key: a wrong key is told apart from damage
//! without decrypting anything. The owner is in the clear (as user ids
//! already are in history file names) so that each user's quota can be
//! counted at start-up without any key.
//!
//! An upload is written to `files/partial/<upload id>` and renamed into
//! place, fsynced, when it is sent. Its key lives only in memory until
//! then, so `files/partial/` is emptied at every start: an upload cut by
//! a restart is started again.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use cove_common::crypto::{EtmKey, OVERHEAD, Secret, hkdf_expand, hmac_sha256};
use cove_common::limits::FILE_CHUNK_BYTES;
use cove_common::proto::{FileId, FileKey, UploadId, chunk_len_at};
use subtle::ConstantTimeEq;

use super::user_id::UserId;
use super::{StoreError, ensure_private_dir, sync_dir};

/// The directory of stored files, under the data directory.
pub const FILES_DIR: &str = "files";
/// Uploads in progress, under [`FILES_DIR`].
pub const PARTIAL_DIR: &str = "partial";

const MAGIC: &[u8; 8] = b"COVEBLB1";
/// Bytes before the first chunk.
pub const HEADER_LEN: usize = 8 + 32 + 8 + 32;
/// Bytes a full chunk takes on disk.
const SEALED_CHUNK: u64 = (FILE_CHUNK_BYTES + OVERHEAD) as u64;

/// Why a stored file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// No file has this id, or the key is not its key.
    #[error("no such file")]
    NotFound,
    /// The offset is not the start of a chunk of the file.
    #[error("offset {offset} is not the start of a chunk of this {size}-byte file")]
    BadOffset {
        /// The offset asked for.
        offset: u64,
        /// The file's size.
        size: u64,
    },
    /// Reading or writing failed, or the file is damaged.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The keys of one file.
struct BlobKeys {
    seal: EtmKey,
    check: Secret,
}

impl BlobKeys {
    fn new(key: &FileKey, file: &FileId) -> Self {
        let bytes = key.to_bytes();
        let salt = file.as_str().as_bytes();
        Self {
            seal: EtmKey::derive(&bytes[..], salt, "cove file v1"),
            check: hkdf_expand(&bytes[..], salt, "cove file check v1"),
        }
    }

    fn check(&self, owner: &UserId, size: u64) -> [u8; 32] {
        hmac_sha256(
            &self.check[..],
            &[owner.as_str().as_bytes(), &size.to_be_bytes()],
        )
    }
}

/// What authenticates chunk `index` of `file`.
fn chunk_header(file: &FileId, index: u64, last: bool) -> Vec<u8> {
    let mut h = Vec::with_capacity(32 + 9);
    h.extend_from_slice(file.as_str().as_bytes());
    h.extend_from_slice(&index.to_be_bytes());
    h.push(u8::from(last));
    h
}

fn header(owner: &UserId, size: u64, check: &[u8; 32]) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..8].copy_from_slice(MAGIC);
    h[8..40].copy_from_slice(owner.as_str().as_bytes());
    h[40..48].copy_from_slice(&size.to_be_bytes());
    h[48..].copy_from_slice(check);
    h
}

/// A blob's header as read: its owner and size.
fn parse_header(h: &[u8; HEADER_LEN], path: &Path) -> Result<(UserId, u64), StoreError> {
    if &h[..8] != MAGIC {
        return Err(StoreError::corrupt(path, "not a Cove file"));
    }
    let owner = String::from_utf8(h[8..40].to_vec())
        .ok()
        .and_then(|s| UserId::try_from(s).ok())
        .ok_or_else(|| StoreError::corrupt(path, "bad owner"))?;
    let mut size = [0u8; 8];
    size.copy_from_slice(&h[40..48]);
    Ok((owner, u64::from_be_bytes(size)))
}

/// The directory of stored files and of uploads in progress.
#[derive(Debug)]
pub struct BlobStore {
    dir: PathBuf,
    partial: PathBuf,
}

impl BlobStore {
    /// Opens (creating) `files/` under `data_dir`, removes every upload
    /// left in progress by an earlier run (their keys are gone), and
    /// counts the bytes each user's stored files take.
    pub fn open(data_dir: &Path) -> Result<(Self, HashMap<UserId, u64>), StoreError> {
        let dir = data_dir.join(FILES_DIR);
        let partial = dir.join(PARTIAL_DIR);
        ensure_private_dir(&dir)?;
        ensure_private_dir(&partial)?;
        for entry in fs::read_dir(&partial).map_err(StoreError::read(&partial))? {
            let path = entry.map_err(StoreError::read(&partial))?.path();
            fs::remove_file(&path).map_err(StoreError::io(&path))?;
        }
        let mut usage: HashMap<UserId, u64> = HashMap::new();
        for entry in fs::read_dir(&dir).map_err(StoreError::read(&dir))? {
            let path = entry.map_err(StoreError::read(&dir))?.path();
            let named = path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| FileId::new(n).is_ok());
            if !named {
                continue;
            }
            let mut h = [0u8; HEADER_LEN];
            let read = File::open(&path).and_then(|mut f| f.read_exact(&mut h));
            match read
                .map_err(StoreError::read(&path))
                .and_then(|()| parse_header(&h, &path))
            {
                Ok((owner, size)) => *usage.entry(owner).or_default() += size,
                Err(e) => tracing::warn!(error = %e, "stored file not counted in any quota"),
            }
        }
        Ok((Self { dir, partial }, usage))
    }

    fn final_path(&self, file: &FileId) -> PathBuf {
        self.dir.join(file.as_str())
    }

    /// Starts writing an upload of `size` bytes that will be stored as
    /// `file` under `key`.
    pub fn create(
        &self,
        upload: &UploadId,
        owner: &UserId,
        file: FileId,
        key: &FileKey,
        size: u64,
    ) -> Result<PartialBlob, StoreError> {
        let path = self.partial.join(upload.as_str());
        let keys = BlobKeys::new(key, &file);
        let mut out = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(StoreError::io(&path))?;
        let written = out.write_all(&header(owner, size, &keys.check(owner, size)));
        if let Err(e) = written {
            let _ = fs::remove_file(&path);
            return Err(StoreError::io(&path)(e));
        }
        Ok(PartialBlob {
            out,
            path,
            file,
            keys,
            size,
            written: 0,
            finished: None,
        })
    }

    /// Reads the chunk of `file` that starts at `offset`, checking `key`
    /// first; returns it with the file's size.
    pub fn read_chunk(
        &self,
        file: &FileId,
        key: &FileKey,
        offset: u64,
    ) -> Result<(Vec<u8>, u64), BlobError> {
        let path = self.final_path(file);
        let f = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(BlobError::NotFound),
            Err(e) => return Err(StoreError::read(&path)(e).into()),
        };
        let mut h = [0u8; HEADER_LEN];
        f.read_exact_at(&mut h, 0)
            .map_err(StoreError::read(&path))?;
        let (owner, size) = parse_header(&h, &path)?;
        let keys = BlobKeys::new(key, file);
        if !bool::from(keys.check(&owner, size).ct_eq(&h[48..])) {
            return Err(BlobError::NotFound);
        }
        let len = chunk_len_at(size, offset).ok_or(BlobError::BadOffset { offset, size })?;
        let index = offset / FILE_CHUNK_BYTES as u64;
        let mut sealed = vec![0u8; len + OVERHEAD];
        f.read_exact_at(&mut sealed, HEADER_LEN as u64 + index * SEALED_CHUNK)
            .map_err(StoreError::read(&path))?;
        let last = offset + len as u64 == size;
        let plain = keys
            .seal
            .open(&chunk_header(file, index, last), &sealed)
            .map_err(|_| StoreError::corrupt(&path, format!("chunk {index} is damaged")))?;
        Ok((plain, size))
    }

    /// Removes a stored file; returns its owner and size, for the quota.
    /// `None` when there was none.
    pub fn remove(&self, file: &FileId) -> Result<Option<(UserId, u64)>, StoreError> {
        let path = self.final_path(file);
        let mut h = [0u8; HEADER_LEN];
        let owner_size = match File::open(&path).and_then(|mut f| f.read_exact(&mut h)) {
            Ok(()) => parse_header(&h, &path).ok(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(_) => None,
        };
        fs::remove_file(&path).map_err(StoreError::io(&path))?;
        Ok(owner_size)
    }
}

/// An upload being written: its chunks go to `files/partial/` in order,
/// and [`PartialBlob::finish`] moves the whole into place.
pub struct PartialBlob {
    out: File,
    path: PathBuf,
    file: FileId,
    keys: BlobKeys,
    size: u64,
    /// Bytes of the file written so far.
    written: u64,
    /// Where it was moved by [`PartialBlob::finish`].
    finished: Option<PathBuf>,
}

impl std::fmt::Debug for PartialBlob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartialBlob")
            .field("path", &self.path)
            .field("size", &self.size)
            .field("written", &self.written)
            .finish_non_exhaustive()
    }
}

impl PartialBlob {
    /// Bytes of the file written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Seals and appends the next chunk, which the caller has checked is
    /// the one at [`PartialBlob::written`] and of the right length. A
    /// failed write leaves the blob unusable: discard it.
    pub fn append(&mut self, chunk: &[u8]) -> Result<(), StoreError> {
        let index = self.written / FILE_CHUNK_BYTES as u64;
        let last = self.written + chunk.len() as u64 == self.size;
        let sealed = self
            .keys
            .seal
            .seal(&chunk_header(&self.file, index, last), chunk);
        self.out
            .write_all(&sealed)
            .map_err(StoreError::io(&self.path))?;
        self.written += chunk.len() as u64;
        Ok(())
    }

    /// Makes the complete upload a stored file: fsync, rename into
    /// `files/`, fsync of the directory. Done at most once; a second call
    /// does nothing.
    pub fn finish(&mut self, store: &BlobStore) -> Result<(), StoreError> {
        if self.finished.is_some() {
            return Ok(());
        }
        self.out.sync_all().map_err(StoreError::io(&self.path))?;
        let to = store.final_path(&self.file);
        fs::rename(&self.path, &to).map_err(StoreError::io(&to))?;
        sync_dir(&store.dir)?;
        self.finished = Some(to);
        Ok(())
    }

    /// Removes what was written (an upload given up, or one that failed).
    pub fn discard(self) {
        let path = self.finished.as_ref().unwrap_or(&self.path);
        if let Err(e) = fs::remove_file(path)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(path = %path.display(), error = %e, "could not remove an unsent upload");
        }
    }
}

/// Where chunk `offset` of a file sits in its blob, for tests of damage.
pub fn chunk_position(offset: u64) -> u64 {
    HEADER_LEN as u64 + (offset / FILE_CHUNK_BYTES as u64) * SEALED_CHUNK
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn setup() -> (tempfile::TempDir, BlobStore, UserId) {
        let dir = tempfile::tempdir().unwrap();
        let (store, usage) = BlobStore::open(dir.path()).unwrap();
        assert!(usage.is_empty());
        (dir, store, UserId::generate())
    }

    fn ids() -> (UploadId, FileId, FileKey) {
        (
            UploadId::from_bytes(cove_common::crypto::random_bytes()),
            FileId::from_bytes(cove_common::crypto::random_bytes()),
            FileKey::from_bytes(&cove_common::crypto::random_bytes()),
        )
    }

    fn store_file(store: &BlobStore, owner: &UserId, bytes: &[u8]) -> (FileId, FileKey) {
        let (upload, file, key) = ids();
        let mut blob = store
            .create(&upload, owner, file.clone(), &key, bytes.len() as u64)
            .unwrap();
        for chunk in bytes.chunks(FILE_CHUNK_BYTES) {
            blob.append(chunk).unwrap();
        }
        blob.finish(store).unwrap();
        (file, key)
    }

    #[test]
    fn every_chunk_reads_back_and_nothing_is_in_the_clear() {
        let (dir, store, owner) = setup();
        let bytes: Vec<u8> = (0..FILE_CHUNK_BYTES * 2 + 100)
            .map(|i| (i % 251) as u8)
            .collect();
        let (file, key) = store_file(&store, &owner, &bytes);
        let mut back = Vec::new();
        for offset in (0..bytes.len() as u64).step_by(FILE_CHUNK_BYTES) {
            let (chunk, size) = store.read_chunk(&file, &key, offset).unwrap();
            assert_eq!(size, bytes.len() as u64);
            back.extend(chunk);
        }
        assert_eq!(back, bytes);
        let on_disk = fs::read(dir.path().join(FILES_DIR).join(file.as_str())).unwrap();
        assert!(
            !on_disk
                .windows(64)
                .any(|w| bytes.windows(64).next() == Some(w))
        );
        assert!(matches!(
            store.read_chunk(&file, &key, 1),
            Err(BlobError::BadOffset { .. })
        ));
    }

    #[test]
    fn a_wrong_key_finds_nothing_and_damage_is_named() {
        let (dir, store, owner) = setup();
        let (file, key) = store_file(&store, &owner, &[9; 70_000]);
        let other = FileKey::from_bytes(&[1; 32]);
        assert!(matches!(
            store.read_chunk(&file, &other, 0),
            Err(BlobError::NotFound)
        ));
        let path = dir.path().join(FILES_DIR).join(file.as_str());
        let mut raw = fs::read(&path).unwrap();
        raw[chunk_position(FILE_CHUNK_BYTES as u64) as usize + 20] ^= 1;
        fs::write(&path, raw).unwrap();
        assert!(
            store.read_chunk(&file, &key, 0).is_ok(),
            "damage stays in its chunk"
        );
        let e = store
            .read_chunk(&file, &key, FILE_CHUNK_BYTES as u64)
            .unwrap_err();
        assert!(
            matches!(e, BlobError::Store(StoreError::Corrupt { .. })),
            "{e}"
        );
    }

    #[test]
    fn a_truncated_file_fails_instead_of_reading_short() {
        let (dir, store, owner) = setup();
        let (file, key) = store_file(&store, &owner, &[3; FILE_CHUNK_BYTES + 10]);
        let path = dir.path().join(FILES_DIR).join(file.as_str());
        let raw = fs::read(&path).unwrap();
        fs::write(&path, &raw[..raw.len() - 5]).unwrap();
        assert!(
            store
                .read_chunk(&file, &key, FILE_CHUNK_BYTES as u64)
                .is_err()
        );
    }

    #[test]
    fn usage_is_counted_at_start_and_unsent_uploads_are_removed() {
        let (dir, store, owner) = setup();
        store_file(&store, &owner, &[1; 1000]);
        store_file(&store, &owner, &[1; 500]);
        let (upload, file, key) = ids();
        let mut partial = store.create(&upload, &owner, file, &key, 10).unwrap();
        partial.append(&[0; 4]).unwrap();
        drop(store);
        let (_, usage) = BlobStore::open(dir.path()).unwrap();
        assert_eq!(usage.get(&owner), Some(&1500));
        let left = fs::read_dir(dir.path().join(FILES_DIR).join(PARTIAL_DIR)).unwrap();
        assert_eq!(left.count(), 0);
    }

    #[test]
    fn removal_reports_the_owner_and_size() {
        let (_dir, store, owner) = setup();
        let (file, key) = store_file(&store, &owner, &[1; 10]);
        assert_eq!(store.remove(&file).unwrap(), Some((owner, 10)));
        assert!(matches!(
            store.read_chunk(&file, &key, 0),
            Err(BlobError::NotFound)
        ));
        assert_eq!(store.remove(&file).unwrap(), None);
    }
}
