//! Accounts: who may log in, and at what pace.
//!
//! [`db`] is the thread that owns `users.json` and its typed handle,
//! [`throttle`] the lockouts and registration budgets, and this module the
//! password checks: Argon2id off the async runtime with a bound on
//! concurrent hashes and on logins waiting for one, and one generic failure
//! message whether or not the name exists.

pub mod db;
pub mod throttle;

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use cove_common::{ErrorCode, KdfParams, Password, Username};
use tokio::sync::Semaphore;

use crate::credentials::{self, Credentials, HistorySecret};
use crate::store::users::UserId;
use crate::sync::lock;

pub use db::{AccountDb, DbError};
pub use throttle::{RateLimiter, RegistrationBudget, Throttle};

/// A logged-in user as the rest of the server sees it.
#[derive(Debug, Clone)]
pub struct UserCtx {
    /// The account id.
    pub id: UserId,
    /// The name as registered.
    pub name: Username,
}

/// The one message every failed login gets, whether or not the user exists.
pub const LOGIN_FAILED: &str = "wrong username or password";

/// Why register or login failed.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Wrong name or password (never says which).
    #[error("{}", LOGIN_FAILED)]
    Failed,
    /// Too many recent failures from this address or for this name.
    #[error("too many attempts; try again in {0} seconds")]
    RateLimited(u64),
    /// Too many logins are waiting for a password check.
    #[error("the server is busy; try again in a moment")]
    Busy,
    /// The password could not be hashed (bad parameters).
    #[error("internal error")]
    Internal,
}

impl AuthError {
    /// The protocol error code.
    pub fn code(&self) -> ErrorCode {
        match self {
            AuthError::Failed => ErrorCode::AuthFailed,
            AuthError::RateLimited(_) => ErrorCode::RateLimited,
            AuthError::Busy => ErrorCode::Busy,
            AuthError::Internal => ErrorCode::Internal,
        }
    }
}

/// The account service.
#[derive(Debug)]
pub struct Accounts {
    kdf: KdfParams,
    hashes: Arc<Semaphore>,
    max_queued: usize,
    queued: AtomicUsize,
    throttle: Mutex<Throttle>,
    registrations: Mutex<RegistrationBudget>,
}

impl Accounts {
    /// An account service hashing with `kdf`, at most `concurrent` hashes at a
    /// time and `max_queued` waiting.
    pub fn new(kdf: KdfParams, concurrent: usize, max_queued: usize) -> Self {
        Self {
            kdf,
            hashes: Arc::new(Semaphore::new(concurrent.max(1))),
            max_queued,
            queued: AtomicUsize::new(0),
            throttle: Mutex::default(),
            registrations: Mutex::default(),
        }
    }

    /// Limits the accounts one address may create to `per_hour` an hour
    /// (0: no limit).
    pub fn with_registration_limit(mut self, per_hour: u32) -> Self {
        self.registrations = Mutex::new(RegistrationBudget::new(per_hour));
        self
    }

    /// Runs `f` on a blocking thread once a hash slot is free.
    async fn hash<R: Send + 'static>(
        &self,
        f: impl FnOnce() -> R + Send + 'static,
    ) -> Result<R, AuthError> {
        let queued = QueueSlot::take(&self.queued, self.max_queued).ok_or(AuthError::Busy)?;
        let permit = self
            .hashes
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| AuthError::Busy)?;
        drop(queued);
        tokio::task::spawn_blocking(move || {
            let r = f();
            drop(permit);
            r
        })
        .await
        .map_err(|_| AuthError::Busy)
    }

    /// The first half of a registration: takes one from `addr`'s
    /// registration budget, then hashes the password and creates the
    /// account's history key pair. The caller stores the account and then
    /// calls [`Accounts::registered`].
    pub async fn new_credentials(
        &self,
        password: Password,
        addr: IpAddr,
    ) -> Result<(Credentials, HistorySecret), AuthError> {
        lock(&self.registrations)
            .take(addr, Instant::now())
            .map_err(|wait| AuthError::RateLimited(wait.as_secs().max(1)))?;
        let kdf = self.kdf.clone();
        self.hash(move || credentials::create(&password, &kdf))
            .await?
            .map_err(|_| AuthError::Internal)
    }

    /// The second half of a registration: the address it was made from
    /// counts as one the owner logged in from.
    pub fn registered(&self, name: &Username, addr: IpAddr) {
        lock(&self.throttle).trust(&name.key(), addr, Instant::now());
    }

    /// Checks a password against the account stored in `db` and returns the
    /// user with their unlocked history key.
    pub async fn login(
        &self,
        db: &AccountDb,
        name: Username,
        password: Password,
        addr: IpAddr,
    ) -> Result<(UserCtx, HistorySecret), AuthError> {
        let name_key = name.key();
        // Counted before the hash runs, so parallel attempts see each other.
        lock(&self.throttle)
            .begin(&name_key, addr, Instant::now())
            .map_err(|wait| AuthError::RateLimited(wait.as_secs().max(1)))?;

        let found = db.credentials_of(&name).await;
        let kdf = self.kdf.clone();
        let outcome = self
            .hash(move || match found {
                Some((user, creds)) => verify(&creds, &password).map(|s| (user, s)),
                None => {
                    // Burn the same time as a real check, so timing does
                    // not reveal whether the name exists.
                    credentials::dummy_verify(&password, &kdf);
                    None
                }
            })
            .await;
        let outcome: Option<(UserCtx, HistorySecret)> = match outcome {
            Ok(o) => o,
            Err(e) => {
                // No password was checked: the attempt does not count.
                lock(&self.throttle).abandon(&name_key, addr);
                return Err(e);
            }
        };
        match outcome {
            Some(ok) => {
                lock(&self.throttle).succeed(&name_key, addr, Instant::now());
                Ok(ok)
            }
            // Already counted by `begin`.
            None => Err(AuthError::Failed),
        }
    }
}

/// A place in the queue for a hash slot, released on drop (also when the
/// waiting login is cancelled).
struct QueueSlot<'a>(&'a AtomicUsize);

impl<'a> QueueSlot<'a> {
    fn take(counter: &'a AtomicUsize, max: usize) -> Option<Self> {
        if counter.fetch_add(1, Ordering::AcqRel) >= max {
            counter.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(Self(counter))
    }
}

impl Drop for QueueSlot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

fn verify(creds: &Credentials, password: &Password) -> Option<HistorySecret> {
    credentials::verify(creds, password).ok()
}
