//! The on-disk format of a history file, kept in one place for whoever
//! audits it: the frame layout, the frame kinds, the labels each MAC covers,
//! the limits, and the code that builds frames and splits bundles. Nothing
//! here touches a file: the `file` and `reader` modules do the I/O.
//!
//! # File format
//! A file is a sequence of frames, each `kind (1) || len (4, BE) || body ||
//! len (4, BE)`; the trailing copy of the length lets a reader walk the file
//! backwards, so the newest page costs the same however long the file is.
//!
//! - A *segment* frame (kind 1) starts a run of bundles: its body is a
//!   fresh ephemeral X25519 public key `E` (32 bytes) and a random 32-byte
//!   data key sealed under `HKDF(DH(e, H), salt = E || H, "cove v1 history
//!   segment")`, where `H` is the user's history public key. The server can
//!   therefore write for a user who is offline, knowing only `H`. The
//!   server keeps each file's current segment in memory while it runs (also
//!   while the file is closed) and starts a new one after
//!   [`SEGMENT_BYTES`], at its first write to a file after starting, and
//!   when it no longer remembers the file's segment.
//! - A *bundle* frame (kind 3) holds the entries (JSON
//!   [`ChatMessage`](cove_common::proto::ChatMessage)s) one append brought
//!   for this user, oldest first: the offset of its segment frame (8 bytes,
//!   BE), then a sealed box under `HKDF(data key, "cove v1 history
//!   records")` of `len (4, BE) || entry` repeated. Its MAC also covers the
//!   label `cove v1 bundle`, the segment offset and the bundle's own
//!   offset, so bundles cannot be moved or spliced between files. One box
//!   per append, not per entry: under load a user's history gains dozens
//!   of messages per append, and each box costs an IV, an AES start and an
//!   HMAC finalisation on top of its bytes.
//! - A *record* frame (kind 2) is the older form of a bundle holding one
//!   entry, its plaintext the entry itself and its label `cove v1 record`.
//!   Files written before bundles hold these; they are still read.
//!
//! Reading needs `DH(h, E)`, i.e. the history private key `h`, which is
//! stored only wrapped under the user's password (see
//! [`crate::credentials`]).

use cove_common::crypto::{EtmKey, IV_LEN, TAG_LEN};

pub(super) const KIND_SEGMENT: u8 = 1;
pub(super) const KIND_RECORD: u8 = 2;
pub(super) const KIND_BUNDLE: u8 = 3;
pub(super) const HEAD: u64 = 5;
pub(super) const TAIL: u64 = 4;
/// No frame body is larger than this (a message is at most ~16 KiB of JSON).
pub(super) const MAX_BODY: u64 = 1 << 20;
pub(super) const SEGMENT_LABEL: &str = "cove v1 history segment";
pub(super) const SEGMENT_HEADER: &[u8] = b"cove v1 segment";
pub(super) const RECORD_LABEL: &str = "cove v1 history records";
pub(super) const RECORD_HEADER: &[u8; 14] = b"cove v1 record";
pub(super) const BUNDLE_HEADER: &[u8; 14] = b"cove v1 bundle";
/// A segment covers at most about this many bytes of bundles: past it, the
/// next bundle starts a new segment. A segment frame's key opens every
/// bundle under it, so this bounds what one damaged segment frame can cost
/// (its bundles, at most this plus one bundle); a new segment costs an
/// X25519 key agreement and about 125 bytes, about 0.01 % of this.
pub(super) const SEGMENT_BYTES: u64 = 1 << 20;
/// A bundle's plaintext is cut at about this size, so reading one page of
/// history never decrypts much more than that page.
pub(super) const BUNDLE_TARGET: usize = 64 * 1024;

pub(super) fn known_kind(kind: u8) -> bool {
    matches!(kind, KIND_SEGMENT | KIND_RECORD | KIND_BUNDLE)
}

/// What a record's or bundle's tag covers besides its box.
pub(super) fn record_header(label: &[u8; 14], segment: u64, offset: u64) -> [u8; 30] {
    let mut h = [0u8; 30];
    h[..14].copy_from_slice(label);
    h[14..22].copy_from_slice(&segment.to_be_bytes());
    h[22..].copy_from_slice(&offset.to_be_bytes());
    h
}

pub(super) fn segment_seal_key(shared: &[u8; 32], e_pub: &[u8; 32], h_pub: &[u8; 32]) -> EtmKey {
    let mut salt = [0u8; 64];
    salt[..32].copy_from_slice(e_pub);
    salt[32..].copy_from_slice(h_pub);
    EtmKey::derive(shared, &salt, SEGMENT_LABEL)
}

pub(super) fn push_frame(buf: &mut Vec<u8>, kind: u8, body: &[u8]) {
    let len = (body.len() as u32).to_be_bytes();
    buf.push(kind);
    buf.extend_from_slice(&len);
    buf.extend_from_slice(body);
    buf.extend_from_slice(&len);
}

/// Appends a bundle frame at `offset` in the file holding `entries`,
/// building and sealing it inside `buf` (no plaintext copy elsewhere).
pub(super) fn push_bundle(
    buf: &mut Vec<u8>,
    key: &EtmKey,
    segment: u64,
    offset: u64,
    entries: &[&[u8]],
) {
    let plain: usize = entries.iter().map(|e| 4 + e.len()).sum();
    let len = ((8 + IV_LEN + plain + TAG_LEN) as u32).to_be_bytes();
    buf.push(KIND_BUNDLE);
    buf.extend_from_slice(&len);
    buf.extend_from_slice(&segment.to_be_bytes());
    let iv_at = buf.len();
    buf.extend_from_slice(&[0; IV_LEN]);
    for entry in entries {
        buf.extend_from_slice(&(entry.len() as u32).to_be_bytes());
        buf.extend_from_slice(entry);
    }
    let Some((iv, plaintext)) = buf[iv_at..].split_first_chunk_mut::<IV_LEN>() else {
        unreachable!("the IV was just pushed");
    };
    let tag = key.seal_in_place(
        &record_header(BUNDLE_HEADER, segment, offset),
        iv,
        plaintext,
    );
    buf.extend_from_slice(&tag);
    buf.extend_from_slice(&len);
}

/// Splits `entries` into runs of about [`BUNDLE_TARGET`] bytes (at least one
/// entry each).
pub(super) fn bundles<'e, 'a>(entries: &'e [&'a [u8]]) -> impl Iterator<Item = &'e [&'a [u8]]> {
    let mut rest = entries;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut size = 0;
        let n = rest
            .iter()
            .take_while(|e| {
                size += 4 + e.len();
                size <= BUNDLE_TARGET
            })
            .count()
            .max(1);
        let (run, tail) = rest.split_at(n);
        rest = tail;
        Some(run)
    })
}

/// The entries of a bundle's plaintext, oldest first; `None` if the
/// lengths do not add up.
pub(super) fn bundle_entries(mut plain: &[u8]) -> Option<Vec<&[u8]>> {
    let mut out = Vec::new();
    while !plain.is_empty() {
        let (len, rest) = plain.split_first_chunk::<4>()?;
        let len = usize::try_from(u32::from_be_bytes(*len)).ok()?;
        if len > rest.len() {
            return None;
        }
        let (entry, rest) = rest.split_at(len);
        out.push(entry);
        plain = rest;
    }
    (!out.is_empty()).then_some(out)
}
