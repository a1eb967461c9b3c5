//! Per-user chat histories: `chat_histories/<user id>.hist`, append-only,
//! readable only with the user's password. The server appends to a user's
//! history knowing only their history public key, so it can write for a
//! user who is offline; reading needs the private key, stored only wrapped
//! under the user's password (see [`crate::credentials`]).
//!
//! - `format`: the on-disk format, described once, and the code that builds
//!   and splits frames.
//! - `appender`: an append-only file that never acknowledges less than it
//!   wrote: one `write(2)` per append, failed writes cut back, failed
//!   fsyncs answered by writing the unsynced bytes again from memory.
//! - `boxes`: the boxes files (`shared/<n>.boxes`): a box of messages many
//!   users received, stored once and linked from each of their files.
//! - `file`: [`HistoryFile`], a file open for appending: torn tails cut,
//!   damaged stretches kept and stepped over, appends (segments continued
//!   across closing, via a `Resume`), fsyncs, rollback and repair.
//! - `cursor`: [`Cursor`], a place in a history file that a page starts
//!   from, and [`PageQuery`], what one page may hold and read.
//! - `reader`: [`HistoryReader`], one history's frames read backwards and
//!   opened with the user's key.
//! - `scan`: every entry of a file, newest first, within a budget: how
//!   a user's changes file is read.
//! - `paging`: pages of one history, newest first, from the newest message
//!   or from a cursor, each bounded in what it reads.
//! - `queue`: [`QueueRoom`], the bound on bytes waiting for the writer.
//! - `open_files`: the writer's open files within a budget, closed least
//!   recently written first, and what it remembers of closed ones.
//! - `syncer`: the threads that fsync files beside the writer.
//! - `writer`: [`HistoryService`] and its thread: batches of [`AppendJob`]s,
//!   group commit (`writer::commit`), fsync retries, failure reports, idle
//!   files closed.
//!
//! - `walk`: a file's frame headers walked from the start: its whole
//!   frames, damaged stretches and a torn tail.
//!
//! Each depends only on those before it: `format` <- `walk` <- `file` <- `reader`
//! <- `paging`, `reader` <- `scan`, `cursor` <- `reader`, `appender` <- `file`,
//! `appender` <- `boxes` <- `reader`, `file` <- `open_files`, `appender` <- `syncer` <-
//! `writer`, `boxes` <- `writer`, `queue` <- `writer`.

mod appender;
mod boxes;
mod cursor;
mod file;
mod format;
mod open_files;
mod paging;
#[cfg(test)]
mod paging_tests;
mod queue;
mod reader;
mod scan;
mod syncer;
#[cfg(test)]
mod test_support;
mod walk;
mod writer;

pub use cursor::{Cursor, PAGE_READ_BUDGET, PageQuery, ReadError};
pub use file::HistoryFile;
pub use queue::{QUEUE_BYTES, QueueRoom, QueueSpace};
pub use reader::{HistoryPage, HistoryReader};
pub use scan::Scan;
pub use writer::{AppendJob, HistoryService, IDLE_CLOSE, SYNC_INTERVAL};

/// The writer's maps and sets, keyed by user ids the server made and by
/// indices into a batch (nothing a client chooses): a fast hasher, since
/// SipHash was a fifth of the writer's time in a room of 2,000.
pub(super) type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
/// See [`FastMap`].
pub(super) type FastSet<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;

/// The histories folder inside the data directory.
pub const HISTORY_DIR: &str = "chat_histories";

/// The folder of changes files (edits, deletions, reactions; one per
/// user, in the history format), inside [`HISTORY_DIR`].
pub const CHANGES_DIR: &str = "changes";
