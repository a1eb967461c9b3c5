//! Helpers shared by the tests of the history modules: entries to append,
//! a fresh file and key, and ways to look at or damage a file.
#![allow(clippy::unwrap_used)]

use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use cove_common::crypto::random_bytes;
use cove_common::proto::{ChatMessage, Target};
use cove_common::{MessageText, RoomName, Username};

use super::{HistoryPage, HistoryReader};
use crate::credentials::HistorySecret;

pub(super) fn msg(id: u64, room: &str, text: &str) -> Vec<u8> {
    serde_json::to_vec(&ChatMessage::new(
        id,
        id,
        Username::new("alice").unwrap(),
        Target::Room(RoomName::new(room).unwrap()),
        MessageText::new(text).unwrap(),
    ))
    .unwrap()
}

pub(super) fn setup() -> (tempfile::TempDir, PathBuf, HistorySecret) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("u.hist");
    (dir, path, HistorySecret::from_bytes(random_bytes()))
}

pub(super) fn texts(v: &[ChatMessage]) -> Vec<&str> {
    v.iter().map(|m| m.text_str()).collect()
}

/// Each frame's kind and body length, from the start.
pub(super) fn frames(path: &Path) -> Vec<(u8, usize)> {
    let bytes = std::fs::read(path).unwrap();
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let len = u32::from_be_bytes(bytes[at + 1..at + 5].try_into().unwrap()) as usize;
        out.push((bytes[at], len));
        at += 5 + len + 4;
    }
    out
}

pub(super) fn read_all(path: &Path, secret: &HistorySecret) -> Vec<String> {
    let r = HistoryReader::open(path, secret).unwrap();
    let HistoryPage { messages: page, .. } = r.page(None, 1000, |_| true).unwrap();
    page.iter().map(|m| m.text_str().to_owned()).collect()
}

/// Overwrites `from..` of the file with zeros: what the disk may hold
/// after a failed fsync let the kernel drop the written pages.
pub(super) fn lose_unsynced(path: &Path, from: u64) {
    let len = std::fs::metadata(path).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.write_all_at(&vec![0u8; (len - from) as usize], from)
        .unwrap();
}
