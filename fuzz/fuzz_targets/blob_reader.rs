//! A stored file (protocol v6) with arbitrary contents: counted at
//! start-up (its header parsed without a key), and read chunk by chunk,
//! both as it is and behind a valid header made with the right key, so
//! that the chunk opening itself is reached. Nothing may panic, and no
//! chunk may open unless it was sealed under the key.
#![no_main]

use std::io::Write;
use std::sync::OnceLock;

use cove_common::limits::FILE_CHUNK_BYTES;
use cove_common::proto::{FileId, FileKey, UploadId};
use cove_server::store::blobs::{BlobStore, FILES_DIR, PARTIAL_DIR};
use cove_server::store::user_id::UserId;
use libfuzzer_sys::fuzz_target;

fn dir() -> &'static tempfile::TempDir {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("temp dir"))
}

fuzz_target!(|data: &[u8]| {
    let key = FileKey::from_bytes(&[7; 32]);
    let file = FileId::from_bytes([1; 16]);
    let path = dir().path().join(FILES_DIR).join(file.as_str());
    let (store, _) = BlobStore::open(dir().path()).expect("open");

    // As it is: the whole file is the input.
    std::fs::write(&path, data).expect("write");
    let _ = BlobStore::open(dir().path());
    for offset in (0..4).map(|i| (i * FILE_CHUNK_BYTES) as u64) {
        let _ = store.read_chunk(&file, &key, offset);
    }

    // Behind a valid header: the input is the chunks.
    let _ = std::fs::remove_file(&path);
    let size = data.len().min(3 * FILE_CHUNK_BYTES) as u64 + 1;
    let owner = UserId::try_from("0".repeat(32)).expect("id");
    let upload = UploadId::from_bytes([2; 16]);
    let blob = store
        .create(&upload, &owner, file.clone(), &key, size)
        .expect("create");
    // Moved into place by hand: `finish` would fsync at every execution.
    drop(blob);
    let partial = dir().path().join(FILES_DIR).join(PARTIAL_DIR).join(upload.as_str());
    std::fs::rename(partial, &path).expect("rename");
    std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .and_then(|mut f| f.write_all(data))
        .expect("append");
    for offset in (0..size).step_by(FILE_CHUNK_BYTES) {
        let _ = store.read_chunk(&file, &key, offset);
    }
    let _ = store.remove(&file);
});
