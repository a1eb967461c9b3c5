//! Operator commands, run against a stopped server's data directory (the
//! data directory's lock keeps them and a running server apart): list the
//! accounts, reset a forgotten password, delete an account, ban an account
//! (it cannot log in until unbanned), and name the moderators of
//! `general`, which nobody owns.
//!
//! Resetting a password cannot keep the history readable: it is sealed to
//! a key only the old password unwraps. The account gets a new history
//! key, and its old history and changes files are kept aside, renamed, so
//! that the old password could still open them if it turns up.

use std::path::{Path, PathBuf};

use cove_common::time::now_ms;
use cove_common::{KdfParams, Password, RoomName, Username};
use zeroize::Zeroizing;

use crate::credentials;
use crate::store::history::{CHANGES_DIR, HISTORY_DIR};
use crate::store::keys::ServerKeys;
use crate::store::lock::{DataDirLock, LockError};
use crate::store::users::UserDb;
use crate::store::{StoreError, keys::KEY_FILE};

/// Why an operator command failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The data directory holds no server.
    #[error("{0} holds no Cove server data (no {KEY_FILE})")]
    NoServer(PathBuf),
    /// The server is running, or the directory is locked.
    #[error(transparent)]
    Locked(#[from] LockError),
    /// Reading or writing the data directory failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No such account.
    #[error("there is no account called {0}")]
    NoSuchUser(Username),
    /// Hashing the new password failed.
    #[error("could not hash the new password: {0}")]
    Credentials(#[from] credentials::CredentialError),
}

/// One account as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountSummary {
    /// Its name.
    pub name: Username,
    /// When it was created, ms since the epoch.
    pub created: u64,
    /// The rooms it is in.
    pub rooms: usize,
    /// Whether it moderates `general`.
    pub moderates_general: bool,
    /// Whether the operator banned it.
    pub banned: bool,
}

/// A stopped server's data directory, opened for an operator.
pub struct Admin {
    dir: PathBuf,
    db: UserDb,
    _lock: DataDirLock,
}

impl Admin {
    /// Opens `data_dir` (its storage key under `passphrase`, if it has
    /// one); refused while a server runs there.
    pub fn open(
        data_dir: &Path,
        passphrase: Option<&Zeroizing<String>>,
    ) -> Result<Admin, AdminError> {
        if !data_dir.join(KEY_FILE).exists() {
            return Err(AdminError::NoServer(data_dir.to_owned()));
        }
        let lock = DataDirLock::acquire(data_dir)?;
        // The key file exists, so nothing is created here.
        let keys = ServerKeys::load_or_create(data_dir, passphrase, &KdfParams::production())?;
        let db = UserDb::open(data_dir, &keys.storage_key)?;
        Ok(Admin {
            dir: data_dir.to_owned(),
            db,
            _lock: lock,
        })
    }

    /// Every account, by name.
    pub fn accounts(&self) -> Vec<AccountSummary> {
        let general = self
            .db
            .rooms()
            .iter()
            .find(|r| r.name == RoomName::general());
        let mut out: Vec<AccountSummary> = self
            .db
            .users()
            .iter()
            .map(|u| AccountSummary {
                name: u.username.clone(),
                created: u.created,
                rooms: self
                    .db
                    .rooms()
                    .iter()
                    .filter(|r| r.members.contains(&u.id))
                    .count(),
                moderates_general: general.is_some_and(|g| g.rules.moderators.contains(&u.id)),
                banned: u.banned.is_some(),
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    /// Gives `name` a new password and a new history key; the old history
    /// and changes files are renamed aside. Returns where they went.
    pub fn reset_password(
        &mut self,
        name: &Username,
        password: &Password,
        kdf: &KdfParams,
    ) -> Result<Vec<PathBuf>, AdminError> {
        let id = self
            .db
            .find_by_name(name)
            .map(|u| u.id.clone())
            .ok_or_else(|| AdminError::NoSuchUser(name.clone()))?;
        let (creds, _secret) = credentials::create(password, kdf)?;
        let suffix = format!("hist.reset-{}", now_ms());
        let mut kept = Vec::new();
        for dir in [
            self.dir.join(HISTORY_DIR),
            self.dir.join(HISTORY_DIR).join(CHANGES_DIR),
        ] {
            let file = dir.join(format!("{}.hist", id.as_str()));
            if file.exists() {
                let aside = file.with_extension(&suffix);
                std::fs::rename(&file, &aside).map_err(StoreError::io(&file))?;
                kept.push(aside);
            }
        }
        let before = self.db.snapshot();
        self.db.set_credentials(&id, creds);
        if let Err(e) = self.db.save() {
            self.db.restore(before);
            return Err(e.into());
        }
        Ok(kept)
    }

    /// Deletes `name`'s account as its owner could (see
    /// [`crate::hub::Hub::delete_account`]): record and memberships go,
    /// the name is retired, its files are deleted.
    pub fn delete_account(&mut self, name: &Username) -> Result<(), AdminError> {
        let id = self
            .db
            .find_by_name(name)
            .map(|u| u.id.clone())
            .ok_or_else(|| AdminError::NoSuchUser(name.clone()))?;
        let before = self.db.snapshot();
        self.db.retire_user(&id, now_ms());
        if let Err(e) = self.db.save() {
            self.db.restore(before);
            return Err(e.into());
        }
        for dir in [
            self.dir.join(HISTORY_DIR),
            self.dir.join(HISTORY_DIR).join(CHANGES_DIR),
        ] {
            let file = dir.join(format!("{}.hist", id.as_str()));
            match std::fs::remove_file(&file) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(StoreError::io(&file)(e).into());
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Bans `name` (`on`) or lifts the ban: a banned account's logins are
    /// refused with the error `banned` (once the password is checked)
    /// until it is unbanned. Returns whether it was banned before.
    pub fn ban(&mut self, name: &Username, on: bool) -> Result<bool, AdminError> {
        let (id, was) = self
            .db
            .find_by_name(name)
            .map(|u| (u.id.clone(), u.banned.is_some()))
            .ok_or_else(|| AdminError::NoSuchUser(name.clone()))?;
        if was == on {
            // Nothing to change (an earlier ban keeps its date).
            return Ok(was);
        }
        let before = self.db.snapshot();
        self.db.set_banned(&id, on.then(now_ms));
        if let Err(e) = self.db.save() {
            self.db.restore(before);
            return Err(e.into());
        }
        Ok(was)
    }

    /// Makes `name` a moderator of `general` (or a member again).
    pub fn moderate_general(&mut self, name: &Username, on: bool) -> Result<(), AdminError> {
        let id = self
            .db
            .find_by_name(name)
            .map(|u| u.id.clone())
            .ok_or_else(|| AdminError::NoSuchUser(name.clone()))?;
        let before = self.db.snapshot();
        if let Some(g) = self.db.room_mut(&RoomName::general()) {
            g.rules.moderators.retain(|m| *m != id);
            if on {
                g.rules.moderators.push(id);
            }
        }
        if let Err(e) = self.db.save() {
            self.db.restore(before);
            return Err(e.into());
        }
        Ok(())
    }
}
