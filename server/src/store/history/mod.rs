//! Per-user chat histories: `chat_histories/<user id>.hist`, append-only,
//! readable only with the user's password. The server appends to a user's
//! history knowing only their history public key, so it can write for a
//! user who is offline; reading needs the private key, stored only wrapped
//! under the user's password (see [`crate::credentials`]).
//!
//! - `format`: the on-disk format, described once, and the code that builds
//!   and splits frames.
//! - `file`: [`HistoryFile`], a file open for appending: torn tails cut,
//!   corrupt files moved aside, appends, fsyncs, rollback and repair.
//! - `reader`: [`HistoryReader`], pages of one history, newest first.
//! - `queue`: [`QueueRoom`], the bound on bytes waiting for the writer.
//! - `writer`: [`HistoryService`] and its thread: batches of [`AppendJob`]s,
//!   group commit, fsync retries, failure reports, idle files closed.
//!
//! Each depends only on those before it: `format` <- `file` <- `reader`,
//! `queue` <- `writer`.

mod file;
mod format;
mod queue;
mod reader;
#[cfg(test)]
mod test_support;
mod writer;

pub use file::HistoryFile;
pub use queue::{QUEUE_BYTES, QueueRoom, QueueSpace};
pub use reader::{HistoryPage, HistoryReader};
pub use writer::{AppendJob, HistoryService, IDLE_CLOSE, SYNC_INTERVAL};

/// The histories folder inside the data directory.
pub const HISTORY_DIR: &str = "chat_histories";
