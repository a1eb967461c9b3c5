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
//! - A *shared bundle* frame (kind 4) holds the same entries as a bundle
//!   when one append brings the same entries to many users (a busy room):
//!   the entries are sealed once, under a random 32-byte key `K` used for
//!   that box alone, and every recipient's file holds a copy of that box
//!   with `K` wrapped for that recipient alone. Its body is the segment
//!   offset (8 bytes, BE), the wrap (a sealed box of `K` under the
//!   segment's records key, 80 bytes, whose MAC covers the label `cove v1
//!   wrap`, the segment offset, the frame's own offset and the shared
//!   box's tag), then the shared box (`len (4, BE) || entry` repeated,
//!   sealed under `HKDF(K, "cove v1 history shared")` with the label `cove
//!   v1 shared`). The wrap binds the box's tag, and the tag binds the box
//!   under `K`, so neither the key nor the box can be moved, spliced or
//!   swapped between files or offsets; reading still needs the user's
//!   history private key. Sealing once saves the AES and HMAC passes over
//!   the entries for every recipient but one; the wrap costs 80 bytes per
//!   frame, so it is used only when a run of entries is at least
//!   [`SHARED_MIN_BYTES`] and goes to at least two users. What it reveals
//!   to someone reading the disk: that two files hold the same sealed box,
//!   i.e. the same messages (their sizes and times already hint at that).
//!   Since 2026-12-01 the writer writes linked bundles (kind 5) instead;
//!   files holding shared bundles are still read.
//! - A *linked bundle* frame (kind 5) is a shared bundle whose box is not
//!   copied into every recipient's file but stored once, in a boxes file
//!   beside the histories (`shared/<n>.boxes`, see [`super::boxes`]). Its
//!   body is the segment offset (8 bytes, BE), the wrap of `K` (80 bytes,
//!   whose MAC covers the label `cove v1 link`, the segment offset, the
//!   frame's own offset, the box's place and the box's tag), then the box's
//!   place: boxes file number (8 bytes, BE), offset in it (8), length (4),
//!   and the box's tag (32). The box is sealed as in a shared bundle. A
//!   room of 2,000 then stores a batch's messages once and 140 bytes per
//!   member, instead of the messages 2,000 times. One damaged box costs
//!   that bundle in every file that links to it; a box the boxes file does
//!   not hold (a crash between writing it and its links, which the writer
//!   never acknowledges) is read as damaged.
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
pub(super) const KIND_SHARED: u8 = 4;
pub(super) const KIND_LINKED: u8 = 5;
pub(super) const HEAD: u64 = 5;
pub(super) const TAIL: u64 = 4;
/// No frame body is larger than this (a message is at most ~16 KiB of JSON).
pub(super) const MAX_BODY: u64 = 1 << 20;
pub(super) const SEGMENT_LABEL: &str = "cove v1 history segment";
pub(super) const SEGMENT_HEADER: &[u8] = b"cove v1 segment";
pub(super) const RECORD_LABEL: &str = "cove v1 history records";
pub(super) const RECORD_HEADER: &[u8; 14] = b"cove v1 record";
pub(super) const BUNDLE_HEADER: &[u8; 14] = b"cove v1 bundle";
pub(super) const WRAP_HEADER: &[u8; 14] = b"cove v1 wrap\0\0";
pub(super) const SHARED_HEADER: &[u8; 14] = b"cove v1 shared";
pub(super) const LINK_HEADER: &[u8; 14] = b"cove v1 link\0\0";
pub(super) const SHARED_LABEL: &str = "cove v1 history shared";
/// The wrapped key of a shared bundle: IV, the 32-byte key, tag.
pub(super) const WRAP_LEN: usize = IV_LEN + 32 + TAG_LEN;
/// A linked bundle's body: segment offset, wrap, the box's place, its tag.
pub(super) const LINKED_LEN: usize = 8 + WRAP_LEN + 20 + TAG_LEN;
/// A run of entries is sealed once for all its recipients (its box stored
/// once, linked from each file) only from this size up: below it, a bundle
/// of its own per recipient costs little more disk than a link (149 bytes
/// per recipient plus the box once) and is read without a second file (a
/// message typed at human pace goes in a bundle of its own per recipient,
/// at 69 bytes over its JSON).
pub(super) const SHARED_MIN_BYTES: usize = 1024;
/// A segment covers at most about this many bytes of bundles (counting the
/// boxes linked bundles name): past it, the next bundle starts a new
/// segment. A segment frame's key opens every
/// bundle under it, so this bounds what one damaged segment frame can cost
/// (its bundles, at most this plus one bundle); a new segment costs an
/// X25519 key agreement and about 125 bytes, about 0.01 % of this.
pub(super) const SEGMENT_BYTES: u64 = 1 << 20;
/// A bundle's plaintext is cut at about this size, so reading one page of
/// history never decrypts much more than that page.
pub(super) const BUNDLE_TARGET: usize = 64 * 1024;

pub(super) fn known_kind(kind: u8) -> bool {
    matches!(
        kind,
        KIND_SEGMENT | KIND_RECORD | KIND_BUNDLE | KIND_SHARED | KIND_LINKED
    )
}

/// Whether frames of this kind hold entries (the ones pages read).
pub(super) fn holds_entries(kind: u8) -> bool {
    matches!(kind, KIND_RECORD | KIND_BUNDLE | KIND_SHARED | KIND_LINKED)
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

/// A run of entries sealed once for every user it goes to: the box and
/// its key, which each recipient's frame wraps for that recipient.
pub(crate) struct SharedRun {
    key: zeroize::Zeroizing<[u8; 32]>,
    /// `iv || ciphertext || tag`.
    sealed: Vec<u8>,
}

impl SharedRun {
    /// Seals `entries` under a fresh key.
    pub(super) fn seal(entries: &[&[u8]]) -> Self {
        let key = zeroize::Zeroizing::new(cove_common::crypto::random_bytes::<32>());
        let plain: usize = entries.iter().map(|e| 4 + e.len()).sum();
        let mut sealed = Vec::with_capacity(IV_LEN + plain + TAG_LEN);
        sealed.extend_from_slice(&[0; IV_LEN]);
        for entry in entries {
            sealed.extend_from_slice(&(entry.len() as u32).to_be_bytes());
            sealed.extend_from_slice(entry);
        }
        let Some((iv, plaintext)) = sealed.split_first_chunk_mut::<IV_LEN>() else {
            unreachable!("the IV was just pushed");
        };
        let tag = EtmKey::derive(key.as_ref(), b"", SHARED_LABEL).seal_in_place(
            SHARED_HEADER,
            iv,
            plaintext,
        );
        sealed.extend_from_slice(&tag);
        Self { key, sealed }
    }

    /// The shared box's tag, which each wrap binds.
    fn tag(&self) -> &[u8] {
        &self.sealed[self.sealed.len() - TAG_LEN..]
    }

    /// The sealed box, `iv || ciphertext || tag`.
    pub(super) fn sealed(&self) -> &[u8] {
        &self.sealed
    }

    /// The run once its box is stored at `at`: what each file links to.
    pub(super) fn linked(&self, at: BoxAt) -> LinkedRun {
        let mut tag = [0u8; TAG_LEN];
        tag.copy_from_slice(self.tag());
        LinkedRun {
            key: self.key.clone(),
            tag,
            at,
        }
    }
}

/// Where a shared box is stored: which boxes file, where in it, how long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct BoxAt {
    pub(super) file: u64,
    pub(super) offset: u64,
    pub(super) len: u32,
}

impl BoxAt {
    fn to_bytes(self) -> [u8; 20] {
        let mut b = [0u8; 20];
        b[..8].copy_from_slice(&self.file.to_be_bytes());
        b[8..16].copy_from_slice(&self.offset.to_be_bytes());
        b[16..].copy_from_slice(&self.len.to_be_bytes());
        b
    }

    fn from_bytes(b: &[u8; 20]) -> Self {
        let (file, rest) = b.split_at(8);
        let (offset, len) = rest.split_at(8);
        Self {
            file: u64::from_be_bytes(file.try_into().unwrap_or_default()),
            offset: u64::from_be_bytes(offset.try_into().unwrap_or_default()),
            len: u32::from_be_bytes(len.try_into().unwrap_or_default()),
        }
    }
}

/// A run of entries whose box is stored once in a boxes file: its key,
/// its tag and its place, which each recipient's frame wraps and names.
pub(crate) struct LinkedRun {
    key: zeroize::Zeroizing<[u8; 32]>,
    tag: [u8; TAG_LEN],
    at: BoxAt,
}

impl LinkedRun {
    /// Bytes of the box, which a segment's bound counts like the frame's
    /// own (see [`SEGMENT_BYTES`]).
    pub(super) fn box_len(&self) -> u64 {
        u64::from(self.at.len)
    }
}

/// What a linked bundle's wrap authenticates besides the key.
fn link_header(segment: u64, offset: u64, at: BoxAt, box_tag: &[u8]) -> Vec<u8> {
    let mut h = record_header(LINK_HEADER, segment, offset).to_vec();
    h.extend_from_slice(&at.to_bytes());
    h.extend_from_slice(box_tag);
    h
}

/// Appends a linked bundle frame at `offset`: `run`'s key wrapped under
/// this file's segment `key`, and the place and tag of its box.
pub(super) fn push_linked(
    buf: &mut Vec<u8>,
    key: &EtmKey,
    segment: u64,
    offset: u64,
    run: &LinkedRun,
) {
    let len = (LINKED_LEN as u32).to_be_bytes();
    buf.push(KIND_LINKED);
    buf.extend_from_slice(&len);
    buf.extend_from_slice(&segment.to_be_bytes());
    key.seal_append(
        &link_header(segment, offset, run.at, &run.tag),
        run.key.as_ref(),
        buf,
    );
    buf.extend_from_slice(&run.at.to_bytes());
    buf.extend_from_slice(&run.tag);
    buf.extend_from_slice(&len);
}

/// A linked bundle's body after its segment offset, opened with the
/// segment's `key`: the box's key, place and tag, or `None` if the wrap
/// fails its check.
pub(super) fn open_link(
    key: &EtmKey,
    segment: u64,
    offset: u64,
    body: &mut [u8],
) -> Option<(zeroize::Zeroizing<[u8; 32]>, BoxAt, [u8; TAG_LEN])> {
    if body.len() != LINKED_LEN - 8 {
        return None;
    }
    let (wrap, rest) = body.split_at_mut(WRAP_LEN);
    let at = BoxAt::from_bytes(rest[..20].try_into().ok()?);
    let tag: [u8; TAG_LEN] = rest[20..].try_into().ok()?;
    let inner = key
        .open_in_place(&link_header(segment, offset, at, &tag), wrap)
        .ok()?;
    let inner: &[u8; 32] = (&*inner).try_into().ok()?;
    Some((zeroize::Zeroizing::new(*inner), at, tag))
}

/// Opens a shared box (`iv || ciphertext || tag`) under its key `inner`:
/// its plaintext, or `None` if it fails its check.
pub(super) fn open_box<'b>(inner: &[u8; 32], sealed: &'b mut [u8]) -> Option<&'b [u8]> {
    if sealed.len() < IV_LEN + TAG_LEN {
        return None;
    }
    let plain = EtmKey::derive(inner, b"", SHARED_LABEL)
        .open_in_place(SHARED_HEADER, sealed)
        .ok()?;
    Some(plain)
}

/// What a shared bundle's wrap authenticates besides the key.
pub(super) fn wrap_header(segment: u64, offset: u64, box_tag: &[u8]) -> Vec<u8> {
    let mut h = record_header(WRAP_HEADER, segment, offset).to_vec();
    h.extend_from_slice(box_tag);
    h
}

/// Appends a shared bundle frame at `offset`: `run`'s box, its key
/// wrapped under this file's segment `key`.
#[cfg(test)]
pub(super) fn push_shared(
    buf: &mut Vec<u8>,
    key: &EtmKey,
    segment: u64,
    offset: u64,
    run: &SharedRun,
) {
    let len = ((8 + WRAP_LEN + run.sealed.len()) as u32).to_be_bytes();
    buf.push(KIND_SHARED);
    buf.extend_from_slice(&len);
    buf.extend_from_slice(&segment.to_be_bytes());
    key.seal_append(
        &wrap_header(segment, offset, run.tag()),
        run.key.as_ref(),
        buf,
    );
    buf.extend_from_slice(&run.sealed);
    buf.extend_from_slice(&len);
}

/// Opens a shared bundle's body after its segment offset (`wrap ||
/// shared box`) with the segment's `key`: the plaintext of the shared
/// box, or `None` if either part fails its check.
pub(super) fn open_shared<'b>(
    key: &EtmKey,
    segment: u64,
    offset: u64,
    body: &'b mut [u8],
) -> Option<&'b [u8]> {
    if body.len() < WRAP_LEN + IV_LEN + TAG_LEN {
        return None;
    }
    let (wrap, shared) = body.split_at_mut(WRAP_LEN);
    let header = wrap_header(segment, offset, &shared[shared.len() - TAG_LEN..]);
    let inner = key.open_in_place(&header, wrap).ok()?;
    let inner: &[u8; 32] = (&*inner).try_into().ok()?;
    let inner = zeroize::Zeroizing::new(*inner);
    open_box(&inner, shared)
}

/// One frame's worth of entries for one file: sealed for this file alone
/// (a bundle) or sealed once for many (a shared bundle).
pub(super) enum Run<'e, 'a> {
    Own(&'e [&'a [u8]]),
    /// Written only by tests now: files of shared bundles are still read.
    #[cfg(test)]
    Shared(&'e SharedRun),
    Linked(&'e LinkedRun),
}

impl Run<'_, '_> {
    /// Bytes outside the frame that it makes readable: its box, if linked.
    pub(super) fn linked_len(&self) -> u64 {
        match self {
            Run::Linked(l) => l.box_len(),
            _ => 0,
        }
    }
}

/// Appends `run` as a frame at `offset` under the segment at `segment`.
pub(super) fn push_run(
    buf: &mut Vec<u8>,
    key: &EtmKey,
    segment: u64,
    offset: u64,
    run: &Run<'_, '_>,
) {
    match run {
        Run::Own(entries) => push_bundle(buf, key, segment, offset, entries),
        #[cfg(test)]
        Run::Shared(shared) => push_shared(buf, key, segment, offset, shared),
        Run::Linked(linked) => push_linked(buf, key, segment, offset, linked),
    }
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
