//! The hub: who is online, which rooms exist and who is in them, and the
//! fan-out of messages and notices.
//!
//! Live state ([`live`]) sits behind one `std::sync::Mutex`, held only for
//! in-memory work (never across an `.await` or any I/O). Each room keeps a
//! copy-on-write fan-out snapshot, rebuilt when membership or presence
//! changes, so a send clones one `Arc` under the lock instead of walking the
//! room; unread counts are counted lazily ([`unread`]), so a send bumps one
//! sequence number instead of touching every offline member.
//!
//! Changes to accounts and membership go to `users.json` through the
//! accounts thread ([`crate::accounts::db`]) before they are acknowledged;
//! a registration, join or leave whose save fails is undone, so memory never
//! holds what the disk refused (a failed registration leaves the name free).
//! A first direct message's new contact is the exception: its failed save
//! is logged and the message still acknowledged.
//!
//! By concept: [`presence`] attaches and detaches sessions, [`rooms`] joins,
//! leaves and lists, [`send`] fans a message out, [`dedup`] remembers client
//! ids, [`pace`] limits how fast one user sends, [`pages`] reads history
//! pages and searches and [`reads`] bounds how many are read at once, [`unread`] keeps
//! read markers and derives unread counts, [`typing`] passes typing
//! indicators on. [`changes`] edits, deletes and reacts to messages: it
//! finds them among the [`recent`] ones or in the user's history, and
//! keeps what each logged-in user's changes add up to in [`folds`].
//! [`retire`] deletes an account; [`moderation`] is what rooms' owners
//! and moderators do.

mod changes;
mod dedup;
mod folds;
mod live;
mod moderation;
mod pace;
mod pages;
mod presence;
pub(crate) mod reads;
mod recent;
mod retire;
mod rooms;
mod send;
mod typing;
pub(crate) mod unread;

use std::sync::{Arc, Mutex};

use cove_common::proto::MessageId;
use cove_common::{ErrorCode, RoomName, Username};
use futures_util::future::{BoxFuture, Shared};

use crate::accounts::{AccountDb, DbError, UserCtx};
use crate::clock::IdClock;
use crate::credentials::Credentials;
use crate::store::StoreError;
use crate::store::history::HistoryService;
use crate::store::users::UserDb;
use crate::sync::lock;

pub use changes::{CHANGES_READ_BUDGET, ChangeAsk, Changed, LOOKUP_READ_BUDGET};
pub use live::PRESENCE_ROOM_LIMIT;
use live::{LiveState, LiveUser, Room};
pub use moderation::Moderation;
pub use pages::{PageAsk, SearchAsk};
pub use presence::Attached;
pub use recent::RECENT_MESSAGES;
pub use send::Outgoing;
pub use unread::READ_SAVE_INTERVAL;

/// History pages read at once; a burst of requests for deep pages waits
/// here rather than taking every blocking thread.
const HISTORY_READS: usize = 16;

/// Completes when a message is in every recipient's history file. It can be
/// cloned: a resend of the same message awaits the first copy's outcome.
pub type StoreDone = Shared<BoxFuture<'static, Result<(), NotStored>>>;

/// Why a message was not stored (for nobody: a write stores a message for
/// all its recipients or for none).
#[derive(Debug, Clone, thiserror::Error)]
pub enum NotStored {
    /// The disk refused the write.
    #[error("{}", .0.public_reason())]
    Storage(Arc<StoreError>),
    /// The history writer stopped before the write was done.
    #[error("the history writer stopped")]
    Stopped,
}

/// Identifies one connection.
pub type ConnId = u64;

/// Why a hub operation failed; each maps to a protocol [`ErrorCode`].
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    /// The room does not exist.
    #[error("there is no room called #{0}")]
    NoSuchRoom(RoomName),
    /// The user is not in the room.
    #[error("you are not in #{0}")]
    NotMember(RoomName),
    /// The user does not exist.
    #[error("there is no user called {0}")]
    NoSuchUser(Username),
    /// Registration under a taken name.
    #[error("the name {0} is already taken")]
    NameTaken(Username),
    /// `general` cannot be left.
    #[error("everyone stays in #general")]
    CannotLeave,
    /// The user sends faster than the server allows.
    #[error("you are sending messages too fast; wait {0:.1} seconds")]
    SendingTooFast(f64),
    /// Storage failed; nothing was acknowledged. (The text a client sees
    /// names the kind of trouble, not the file; the log names the file.)
    #[error("{}; nothing was changed", .0.public_reason())]
    Storage(#[from] StoreError),
    /// A `typing` too soon after the last one for the same conversation.
    #[error(
        "typing indicators for one conversation come at most every {} seconds",
        cove_common::limits::TYPING_MIN_INTERVAL_MS / 1000
    )]
    TypingTooOften,
    /// A history request's cursor names no readable place in the user's
    /// history (forged, or the file changed under it).
    #[error("that history cursor is not valid here; ask again without it")]
    BadCursor,
    /// The message a change or reply names is not one the user can find
    /// in that conversation (or it was deleted).
    #[error("no message {0} in this conversation")]
    NoSuchMessage(MessageId),
    /// An edit or deletion of someone else's message.
    #[error("only its author can edit or delete a message")]
    NotAuthor,
    /// A room that exists, to `create`.
    #[error("there is already a room called #{0}")]
    RoomExists(RoomName),
    /// Banned from the room.
    #[error("you are banned from #{0}")]
    Banned(RoomName),
    /// A private room, not invited.
    #[error("#{0} is private: you need an invitation")]
    NotInvited(RoomName),
    /// Only the owner or moderators (or the owner alone) may do that.
    #[error("{0}")]
    Forbidden(&'static str),
    /// The user an action names is not a member of the room.
    #[error("{0} is not in #{1}")]
    TargetNotMember(Username, RoomName),
    /// A reaction with one emoji more than a message may have.
    #[error(
        "a message has reactions of at most {} different emojis",
        cove_common::limits::REACTIONS_PER_MESSAGE_MAX
    )]
    TooManyReactions,
    /// A background task died.
    #[error("internal error")]
    Internal,
}

impl HubError {
    /// The protocol error code for this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            HubError::NoSuchRoom(_) => ErrorCode::NoSuchRoom,
            HubError::NotMember(_) => ErrorCode::NotMember,
            HubError::NoSuchUser(_) => ErrorCode::NoSuchUser,
            HubError::NameTaken(_) => ErrorCode::NameTaken,
            HubError::CannotLeave => ErrorCode::CannotLeave,
            HubError::SendingTooFast(_) | HubError::TypingTooOften => ErrorCode::RateLimited,
            HubError::Storage(_) => ErrorCode::Storage,
            HubError::BadCursor => ErrorCode::BadCursor,
            HubError::NoSuchMessage(_) => ErrorCode::NoSuchMessage,
            HubError::NotAuthor => ErrorCode::NotAuthor,
            HubError::TooManyReactions => ErrorCode::BadRequest,
            HubError::RoomExists(_) => ErrorCode::NameTaken,
            HubError::Banned(_) => ErrorCode::Banned,
            HubError::NotInvited(_) => ErrorCode::NotInvited,
            HubError::Forbidden(_) => ErrorCode::Forbidden,
            HubError::TargetNotMember(..) => ErrorCode::NotMember,
            HubError::Internal => ErrorCode::Internal,
        }
    }
}
impl From<DbError> for HubError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::NameTaken(name) => HubError::NameTaken(name),
            DbError::Storage(e) => HubError::Storage(e),
            DbError::Gone => HubError::Internal,
        }
    }
}

/// The shared state of a running server.
pub struct Hub {
    live: Mutex<LiveState>,
    db: AccountDb,
    history: HistoryService,
    /// The changes files (edits, deletions, reactions), written like the
    /// histories.
    changes: HistoryService,
    ids: IdClock,
    /// Messages per second one user may send (0: no limit).
    send_rate: u32,
    /// History pages read at once (each on a blocking thread); more wait.
    reads: reads::ReadSlots,
    /// Moderation runs one action at a time (see [`moderation`]).
    moderation: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Hub")
    }
}

impl Hub {
    /// Builds the live state from the account database, then hands the
    /// database to its own thread.
    pub fn new(
        db: UserDb,
        stores: (HistoryService, HistoryService),
        ids: IdClock,
        send_rate: u32,
    ) -> Self {
        let live = LiveState::load(&db);
        let (history, changes) = stores;
        Self {
            live: Mutex::new(live),
            db: AccountDb::start(db),
            history,
            changes,
            ids,
            send_rate,
            reads: reads::ReadSlots::new(HISTORY_READS),
            moderation: tokio::sync::Mutex::new(()),
        }
    }

    /// The accounts database, for login.
    pub fn accounts_db(&self) -> &AccountDb {
        &self.db
    }

    /// Whether a name is taken (in any letter case).
    pub fn name_taken(&self, name: &Username) -> bool {
        lock(&self.live).names.contains_key(&name.key())
    }

    /// Stores a new account, a member of `general`.
    pub async fn register(
        &self,
        name: Username,
        credentials: Credentials,
    ) -> Result<UserCtx, HubError> {
        let history_public = credentials.history_public;
        let id = self.db.create_account(name.clone(), credentials).await?;
        let general = RoomName::general();
        let key = general.key();
        let mut live = lock(&self.live);
        live.names.insert(name.key(), id.clone());
        let mut user = LiveUser::new(name.clone(), history_public);
        user.rooms.insert(key.clone());
        live.users.insert(id.clone(), user);
        live.rooms
            .entry(key.clone())
            .or_insert_with(|| Room::new(general))
            .members
            .insert(id.clone());
        live.rebuild_fanout(&key, true);
        live.mark_room_read(&id, &key);
        live.note_joined(&id, &key);
        Ok(UserCtx { id, name })
    }

    /// Tests only: the history writer, to stall it.
    #[cfg(test)]
    pub(crate) fn history_service(&self) -> &HistoryService {
        &self.history
    }

    /// Tests only: counts history reads in progress, and can hold them.
    #[cfg(test)]
    pub(crate) fn read_probe(&self) -> &reads::probe::ReadProbe {
        &self.reads.probe
    }

    /// Flushes histories to disk and stops the history writer.
    pub fn shutdown_storage(&self) {
        self.history.flush_and_stop();
        self.changes.flush_and_stop();
    }
}
