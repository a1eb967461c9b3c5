//! Pages of one history, newest first: [`HistoryReader::page_at`] starts at
//! the newest message or exactly where a [`Cursor`] says, so a page costs
//! about the same at any depth, and stops when it is full (by count or by
//! bytes of JSON) or has read its budget of frame bytes, saying where the
//! next page starts.
//!
//! # Where a page stops, and the damage it counts
//! Two places are tracked while reading, each "just after" an entry read:
//! `latest`, after the last entry read, and `mark`, after the last entry
//! read while no damage was waiting to be counted. Damage met after the
//! last message taken is counted in the page of the next older readable
//! message, as it always was:
//!
//! - A page that is full stops at the next message it cannot take and
//!   resumes at `mark`: the damage since its last message is met again, and
//!   counted, by the next page.
//! - A page that has read its budget resumes at `latest` and counts the
//!   damage it stepped over before `latest` itself (the next page does not
//!   meet it again). It stops only once it has moved past where it started,
//!   so paging always moves on.

use cove_common::proto::{ChatMessage, MessageId};

use super::cursor::{Cursor, PageQuery, ReadError};
use super::format::holds_entries;
use super::reader::{Backwards, HistoryPage, HistoryReader, SegmentKeys, WalkItem};
use crate::store::StoreError;

/// The frame a cursor names, opened.
struct Start {
    cursor: Cursor,
    /// All its messages, oldest first.
    messages: Vec<ChatMessage>,
}

/// A page being put together.
struct Builder<'q, F> {
    q: &'q PageQuery,
    filter: F,
    page: HistoryPage,
    /// Bytes of JSON taken.
    used: usize,
    /// Damaged batches met since the last message taken.
    pending: u32,
    /// Of those, the ones met after `latest`.
    pending_after_latest: u32,
    /// Just after the last entry read while nothing was pending.
    mark: Option<Cursor>,
    /// Just after the last entry read.
    latest: Option<Cursor>,
}

/// Whether to read on.
enum Step {
    On,
    Full,
}

impl<F: FnMut(ChatMessage) -> Option<ChatMessage>> Builder<'_, F> {
    /// One entry, read at `at` (its frame and its index there).
    fn entry(&mut self, at: Cursor, msg: ChatMessage) -> Step {
        if self.q.before.is_some_and(|b| msg.id >= b) {
            // Newer than this page: the damage before it belongs to a
            // newer page.
            self.pending = 0;
            self.read_past(at);
            return Step::On;
        }
        let Some(msg) = (self.filter)(msg) else {
            self.read_past(at);
            return Step::On;
        };
        let size = serde_json::to_vec(&msg).map_or(usize::MAX / 2, |v| v.len()) + 1;
        let full = self.page.messages.len() >= self.q.limit.max(1)
            || (!self.page.messages.is_empty()
                && self.used.saturating_add(size) > self.q.max_bytes);
        if full {
            self.page.more = true;
            self.page.cursor = self.mark;
            return Step::Full;
        }
        self.used += size;
        self.page.unreadable += std::mem::take(&mut self.pending);
        self.page.messages.push(msg);
        self.read_past(at);
        Step::On
    }

    fn read_past(&mut self, at: Cursor) {
        self.latest = Some(at);
        self.pending_after_latest = 0;
        if self.pending == 0 {
            self.mark = Some(at);
        }
    }

    fn damaged(&mut self) {
        self.pending += 1;
        self.pending_after_latest += 1;
    }

    /// Every entry of the frame at `offset` below index `below`, newest
    /// first.
    fn frame(&mut self, offset: u64, messages: Vec<ChatMessage>, below: usize) -> Step {
        for (i, msg) in messages.into_iter().enumerate().take(below).rev() {
            let next = u32::try_from(i).unwrap_or(u32::MAX);
            if let Step::Full = self.entry(Cursor { offset, next }, msg) {
                return Step::Full;
            }
        }
        Step::On
    }
}

impl HistoryReader<'_> {
    /// Up to `limit` entries accepted by `filter` with ids below `before`
    /// (all if `None`), newest first, from the newest, reading as far as it
    /// takes: a page of [`PageQuery::newest`], for tools and tests. The
    /// server answers requests with [`HistoryReader::page_at`] and a budget.
    pub fn page(
        &self,
        before: Option<MessageId>,
        limit: usize,
        filter: impl Fn(&ChatMessage) -> bool,
    ) -> Result<HistoryPage, StoreError> {
        let read_before = self.bytes_read();
        let q = PageQuery::newest(before, limit);
        let keep = move |m: ChatMessage| filter(&m).then_some(m);
        self.read_page(None, &q, keep, read_before, &mut SegmentKeys::new())
    }

    /// The page `q` asks for, of the entries `filter` accepts. A cursor
    /// that names no frame of this file that opens at its offset (or more
    /// entries than that frame holds) is refused with
    /// [`ReadError::BadCursor`].
    pub fn page_at(
        &self,
        q: &PageQuery,
        filter: impl Fn(&ChatMessage) -> bool,
    ) -> Result<HistoryPage, ReadError> {
        self.page_mapped(q, move |m: ChatMessage| filter(&m).then_some(m))
    }

    /// [`HistoryReader::page_at`] with a filter that may also change what
    /// it keeps (apply edits and reactions): the page's byte bound then
    /// counts the messages as returned.
    pub fn page_mapped(
        &self,
        q: &PageQuery,
        filter: impl FnMut(ChatMessage) -> Option<ChatMessage>,
    ) -> Result<HistoryPage, ReadError> {
        // The frame the cursor names is read first, and counts too; its
        // segment's key (an X25519 agreement) serves the frames after it.
        let read_before = self.bytes_read();
        let mut keys = SegmentKeys::new();
        let start = match q.from {
            None => None,
            Some(cursor) => Some(self.start_at(cursor, &mut keys)?),
        };
        Ok(self.read_page(start, q, filter, read_before, &mut keys)?)
    }

    /// Opens the frame `cursor` names.
    fn start_at(&self, cursor: Cursor, keys: &mut SegmentKeys) -> Result<Start, ReadError> {
        let file = self.file.as_ref().ok_or(ReadError::BadCursor)?;
        let (kind, mut body) = self
            .frame_at(file, cursor.offset)?
            .ok_or(ReadError::BadCursor)?;
        let messages = self
            .open_frame(file, keys, cursor.offset, kind, &mut body)?
            .ok_or(ReadError::BadCursor)?;
        if usize::try_from(cursor.next).map_or(true, |n| n > messages.len()) {
            return Err(ReadError::BadCursor);
        }
        Ok(Start { cursor, messages })
    }

    fn read_page(
        &self,
        start: Option<Start>,
        q: &PageQuery,
        filter: impl FnMut(ChatMessage) -> Option<ChatMessage>,
        read_before: u64,
        keys: &mut SegmentKeys,
    ) -> Result<HistoryPage, StoreError> {
        let Some(file) = &self.file else {
            return Ok(HistoryPage::default());
        };
        let from = start.as_ref().map(|s| s.cursor);
        let mut b = Builder {
            q,
            filter,
            page: HistoryPage::default(),
            used: 0,
            pending: 0,
            pending_after_latest: 0,
            mark: from,
            latest: from,
        };
        let end = match start {
            Some(Start { cursor, messages }) => {
                let below = usize::try_from(cursor.next).unwrap_or(usize::MAX);
                if let Step::Full = b.frame(cursor.offset, messages, below) {
                    return Ok(self.done(b.page, read_before));
                }
                cursor.offset
            }
            None => self.end,
        };
        let mut items = Backwards::new(self, file, end);
        loop {
            // Only at a frame's edge, and only once the page has moved on
            // from where it started.
            if self.bytes_read() - read_before >= q.budget && b.latest.is_some() && b.latest != from
            {
                b.page.more = true;
                b.page.cursor = b.latest;
                b.page.unreadable += b.pending - b.pending_after_latest;
                return Ok(self.done(b.page, read_before));
            }
            let Some(item) = items.next()? else {
                break;
            };
            let (start, kind, mut body) = match item {
                WalkItem::Damaged { from, to } => {
                    tracing::warn!(path = %self.path.display(), from, to,
                        "damaged stretch in a history file skipped");
                    b.damaged();
                    continue;
                }
                WalkItem::Frame { start, kind, body } => (start, kind, body),
            };
            if !holds_entries(kind) {
                continue;
            }
            let Some(msgs) = self.open_frame(file, keys, start, kind, &mut body)? else {
                tracing::warn!(path = %self.path.display(), offset = start,
                    "unreadable frame in a history file skipped");
                b.damaged();
                continue;
            };
            if let Step::Full = b.frame(start, msgs, usize::MAX) {
                return Ok(self.done(b.page, read_before));
            }
        }
        b.page.unreadable += b.pending;
        Ok(self.done(b.page, read_before))
    }

    fn done(&self, mut page: HistoryPage, read_before: u64) -> HistoryPage {
        page.read = self.bytes_read() - read_before;
        page
    }
}
