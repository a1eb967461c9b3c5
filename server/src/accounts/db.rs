//! The accounts database's thread and its handle.
//!
//! One thread owns [`UserDb`] and does every change and save in order, so
//! saves never race, and the multi-megabyte buffers of a large `users.json`
//! are reused by one allocator instead of being left behind on every blocking
//! thread that ever saved it. Everyone else holds an [`AccountDb`], a handle
//! with one typed method per operation (as mini-redis's `Db` is a handle to
//! its shared state). A change whose save fails is undone in memory before
//! the error is returned, so memory never holds what the disk refused, with
//! one exception: [`AccountDb::add_contact`] logs a failed save and keeps the
//! contact, which then goes to disk with the next save that succeeds.

use cove_common::time::now_ms;
use cove_common::{RoomName, Username};
use std::sync::Arc;

use tokio::sync::{Semaphore, oneshot};

use crate::credentials::Credentials;
use crate::store::StoreError;
use crate::store::rooms::RoomRules;
use crate::store::users::{ReadSave, RoomRecord, UserDb, UserId};

use super::UserCtx;

type Job = Box<dyn FnOnce(&mut UserDb) + Send>;

/// Why an accounts-database operation failed.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// Registration under a name that is taken (in any letter case).
    #[error("the name {0} is already taken")]
    NameTaken(Username),
    /// `users.json` could not be saved; nothing was changed.
    #[error(transparent)]
    Storage(#[from] StoreError),
    /// The accounts thread is gone.
    #[error("the accounts database is not running")]
    Gone,
}

/// Jobs waiting for the accounts thread at most; callers wait for room.
/// (New contacts, saved from a send that cannot wait, are not counted:
/// each one's send holds an ack in flight, and those are bounded per
/// connection.)
const QUEUED_JOBS: usize = 1024;

/// A handle to the accounts thread; cheap to clone.
#[derive(Debug, Clone)]
pub struct AccountDb {
    jobs: std::sync::mpsc::Sender<Job>,
    room: Arc<Semaphore>,
    /// Tests only: jobs sent to the thread and not yet taken by it.
    #[cfg(test)]
    queued: Arc<probe::Queued>,
}

impl AccountDb {
    /// Starts the thread that owns `db`.
    pub fn start(mut db: UserDb) -> Self {
        let (jobs, rx) = std::sync::mpsc::channel::<Job>();
        let spawned = std::thread::Builder::new()
            .name("cove-accounts".into())
            .spawn(move || {
                for job in rx {
                    job(&mut db);
                }
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the accounts thread");
        }
        Self {
            jobs,
            room: Arc::new(Semaphore::new(QUEUED_JOBS)),
            #[cfg(test)]
            queued: Arc::default(),
        }
    }

    fn submit(&self, job: Job) {
        #[cfg(test)]
        let job = self.queued.count(job);
        // If the thread is gone, the job's result channel is dropped and
        // the caller sees `DbError::Gone`.
        let _ = self.jobs.send(job);
    }

    /// Tests only: once the thread has finished the jobs queued before,
    /// it waits until the returned guard is dropped, as a disk that stopped
    /// answering would. Returns once the thread is waiting.
    #[cfg(test)]
    fn stall(&self) -> std::sync::mpsc::Sender<()> {
        let (guard, held) = std::sync::mpsc::channel::<()>();
        let (stalled, started) = std::sync::mpsc::channel();
        self.submit(Box::new(move |_| {
            let _ = stalled.send(());
            // Blocks until the guard is dropped (recv then fails).
            let _ = held.recv();
        }));
        let _ = started.recv();
        guard
    }

    async fn run<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut UserDb) -> Result<R, DbError> + Send + 'static,
    ) -> Result<R, DbError> {
        let room = self
            .room
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| DbError::Gone)?;
        let (tx, rx) = oneshot::channel();
        self.submit(Box::new(move |db| {
            let _ = tx.send(f(db));
            drop(room);
        }));
        rx.await.map_err(|_| DbError::Gone)?
    }

    /// The account, its stored credentials and whether the operator banned
    /// it, for login; `None` if there is no such account (or the thread is
    /// gone).
    pub async fn credentials_of(&self, name: &Username) -> Option<(UserCtx, Credentials, bool)> {
        let name = name.clone();
        self.run(move |db| {
            Ok(db.find_by_name(&name).map(|u| {
                (
                    UserCtx {
                        id: u.id.clone(),
                        name: u.username.clone(),
                    },
                    u.credentials.clone(),
                    u.banned.is_some(),
                )
            }))
        })
        .await
        .ok()
        .flatten()
    }

    /// Stores a new account as a member of `general` and returns its id.
    /// Not stored means not registered: the name stays free.
    pub async fn create_account(
        &self,
        name: Username,
        credentials: Credentials,
    ) -> Result<UserId, DbError> {
        self.run(move |db| {
            if db.name_taken(&name) {
                return Err(DbError::NameTaken(name));
            }
            let general = RoomName::general();
            let id = db.insert_user(name, credentials, now_ms());
            let added = db.add_member(&general, &id, now_ms());
            if let Err(e) = db.save() {
                // A later save cannot write it either: undo both changes.
                tracing::warn!(error = %e, "cannot save a new account; registration refused");
                db.undo_add_member(&general, &id, added);
                db.remove_user(&id);
                return Err(e.into());
            }
            Ok(id)
        })
        .await
    }

    /// Replaces `user`'s credentials (a password change) and saves; on a
    /// failed save the old ones stay, in memory as on disk.
    pub async fn set_credentials(&self, user: UserId, creds: Credentials) -> Result<(), DbError> {
        self.run(move |db| {
            let old = db.set_credentials(&user, creds);
            if let Err(e) = db.save() {
                if let Some(old) = old {
                    db.set_credentials(&user, old);
                }
                return Err(e.into());
            }
            Ok(())
        })
        .await
    }

    /// Deletes an account (see [`UserDb::retire_user`]) and saves; on a
    /// failed save nothing changed, in memory as on disk.
    pub async fn delete_account(&self, user: UserId) -> Result<(), DbError> {
        self.run(move |db| {
            let before = db.snapshot();
            db.retire_user(&user, now_ms());
            if let Err(e) = db.save() {
                db.restore(before);
                return Err(e.into());
            }
            Ok(())
        })
        .await
    }

    /// Adds `user` to `room` and clears any invitation of theirs, or
    /// creates the room with `rules` (an owner's) if it does not exist;
    /// saves. On a failed save nothing changed.
    pub async fn enter_room(
        &self,
        room: RoomName,
        user: UserId,
        rules: Option<RoomRules>,
    ) -> Result<(), DbError> {
        self.run(move |db| {
            let before = db.snapshot();
            match db.room_mut(&room) {
                Some(r) => {
                    if !r.members.contains(&user) {
                        r.members.push(user.clone());
                    }
                    r.rules.uninvite(&user);
                }
                None => {
                    let _ = db.add_member(&room, &user, now_ms());
                    if let (Some(rules), Some(r)) = (rules, db.room_mut(&room)) {
                        r.rules = rules;
                    }
                }
            }
            if let Err(e) = db.save() {
                db.restore(before);
                return Err(e.into());
            }
            Ok(())
        })
        .await
    }

    /// Changes a room's record with `change` (members, rules) and saves;
    /// on a failed save, or an unknown room, nothing changed.
    pub async fn update_room(
        &self,
        room: RoomName,
        change: impl FnOnce(&mut RoomRecord) + Send + 'static,
    ) -> Result<(), DbError> {
        self.run(move |db| {
            let before = db.snapshot();
            let Some(r) = db.room_mut(&room) else {
                return Ok(());
            };
            change(r);
            if let Err(e) = db.save() {
                db.restore(before);
                return Err(e.into());
            }
            Ok(())
        })
        .await
    }

    /// Adds `user` to `room` (creating the room) and saves.
    pub async fn add_member(&self, room: RoomName, user: UserId) -> Result<(), DbError> {
        self.run(move |db| {
            let added = db.add_member(&room, &user, now_ms());
            if let Err(e) = db.save() {
                db.undo_add_member(&room, &user, added);
                return Err(e.into());
            }
            Ok(())
        })
        .await
    }

    /// Removes `user` from `room` and saves.
    pub async fn remove_member(&self, room: RoomName, user: UserId) -> Result<(), DbError> {
        self.run(move |db| {
            let at = db.remove_member(&room, &user);
            if let Err(e) = db.save() {
                db.undo_remove_member(&room, &user, at);
                return Err(e.into());
            }
            Ok(())
        })
        .await
    }

    /// Records that `a` and `b` have a direct conversation and saves. The
    /// receiver completes once the save was tried; a failed save is logged,
    /// not returned (see the module comment).
    pub fn add_contact(&self, a: UserId, b: UserId) -> oneshot::Receiver<()> {
        let (done, rx) = oneshot::channel();
        self.submit(Box::new(move |db| {
            db.add_contact(&a, &b);
            if let Err(e) = db.save() {
                tracing::warn!(error = %e, "could not save a new contact");
            }
            let _ = done.send(());
        }));
        rx
    }
}

impl AccountDb {
    /// Applies a batch of conversation counts and read markers and saves.
    /// The receiver completes once the save was tried. A failed save is
    /// logged, not returned: the batch stays in memory and goes to disk
    /// with the next save that succeeds (markers are not worth refusing a
    /// read over, and the caller has nobody to tell).
    pub fn save_reads(&self, save: ReadSave) -> oneshot::Receiver<()> {
        let (done, rx) = oneshot::channel();
        self.submit(Box::new(move |db| {
            db.apply_reads(save);
            if let Err(e) = db.save() {
                tracing::warn!(error = %e, "could not save read markers");
            }
            let _ = done.send(());
        }));
        rx
    }
}

#[cfg(test)]
mod probe {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::Job;

    /// Jobs waiting for the accounts thread now, and the most at once.
    #[derive(Debug, Default)]
    pub(super) struct Queued {
        now: AtomicUsize,
        most: AtomicUsize,
    }

    impl Queued {
        /// Counts `job` as waiting until the thread takes it.
        pub(super) fn count(self: &Arc<Self>, job: Job) -> Job {
            let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
            self.most.fetch_max(now, Ordering::SeqCst);
            let me = self.clone();
            Box::new(move |db| {
                me.now.fetch_sub(1, Ordering::SeqCst);
                job(db);
            })
        }

        pub(super) fn now(&self) -> usize {
            self.now.load(Ordering::SeqCst)
        }

        pub(super) fn most(&self) -> usize {
            self.most.load(Ordering::SeqCst)
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::time::Duration;

    use zeroize::Zeroizing;

    use super::*;

    /// With the accounts thread stalled, 3,000 callers do not queue 3,000
    /// jobs: 1,024 wait in the queue and the rest wait for room; once the
    /// thread goes on, every one completes.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn callers_wait_for_room_while_the_thread_is_stalled() {
        let dir = tempfile::tempdir().unwrap();
        let db = UserDb::open(dir.path(), &Zeroizing::new([7u8; 32])).unwrap();
        let db = AccountDb::start(db);
        let stall = db.stall();
        let name = Username::new("nobody").unwrap();
        let callers: Vec<_> = (0..3_000)
            .map(|_| {
                let (db, name) = (db.clone(), name.clone());
                tokio::spawn(async move { db.credentials_of(&name).await })
            })
            .collect();
        // Until the queue stops growing.
        let mut last = usize::MAX;
        while db.queued.now() != last {
            last = db.queued.now();
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        // The documented bound, written out: the test checks the constant.
        assert_eq!(db.queued.now(), 1_024, "the queue fills to its bound");
        assert_eq!(db.queued.most(), 1_024, "and never holds more");
        assert!(callers.iter().all(|c| !c.is_finished()));
        drop(stall);
        for c in callers {
            assert!(c.await.unwrap().is_none(), "no such account");
        }
        assert_eq!(db.queued.now(), 0);
        assert_eq!(db.queued.most(), 1_024);
    }
}
