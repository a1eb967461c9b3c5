//! The history reader and the torn-tail scan on arbitrary file contents.
#![no_main]

use std::sync::OnceLock;

use cove_server::credentials::HistorySecret;
use cove_server::store::history::{HistoryFile, HistoryReader};
use libfuzzer_sys::fuzz_target;

fn dir() -> &'static tempfile::TempDir {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("temp dir"))
}

fuzz_target!(|data: &[u8]| {
    let path = dir().path().join("u.hist");
    std::fs::write(&path, data).expect("write");
    let secret = HistorySecret::from_bytes([9; 32]);
    if let Ok(reader) = HistoryReader::open(&path, &secret) {
        let _ = reader.page(None, 50, |_| true);
        let _ = reader.page(Some(5), 3, |_| true);
    }
    // Opening for append cuts a torn tail and steps over damage.
    if let Ok(mut f) = HistoryFile::open_append(&path, secret.public()) {
        let _ = f.append(&[b"{}"]);
    }
    for e in std::fs::read_dir(dir().path()).expect("read dir").flatten() {
        let _ = std::fs::remove_file(e.path());
    }
});
