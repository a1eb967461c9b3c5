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
use tokio::sync::{Notify, Semaphore};

use crate::credentials::{self, Credentials, HistorySecret};
use crate::store::users::UserId;
use crate::sync::lock;

pub use db::{AccountDb, DbError};
pub use throttle::{Admit, RateLimiter, RegistrationBudget, Throttle};

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

/// What a banned account's login (with the right password) is told.
pub const LOGIN_BANNED: &str = "this account is banned by the server's operator";

/// Why register or login failed.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Wrong name or password (never says which).
    #[error("{}", LOGIN_FAILED)]
    Failed,
    /// Too many recent failures from this address or for this name.
    #[error("too many attempts; try again in {0} seconds")]
    RateLimited(u64),
    /// The right password, but the server's operator banned the account
    /// (`cove-server accounts ban`). Said only once the password is
    /// checked, so it reveals nothing to someone who lacks it.
    #[error("{}", LOGIN_BANNED)]
    Banned,
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
            AuthError::Banned => ErrorCode::Banned,
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
    /// Woken whenever a login attempt ends, for attempts waiting to start.
    attempt_ended: Notify,
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
            attempt_ended: Notify::new(),
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
        let attempt = self.begin_attempt(&name_key, addr).await?;
        let found = db.credentials_of(&name).await;
        let kdf = self.kdf.clone();
        // If the hash cannot run (busy), `attempt` ends unjudged on drop.
        let outcome: Option<(UserCtx, HistorySecret, bool)> = self
            .hash(move || match found {
                Some((user, creds, banned)) => verify(&creds, &password).map(|s| (user, s, banned)),
                None => {
                    // Burn the same time as a real check, so timing does
                    // not reveal whether the name exists.
                    credentials::dummy_verify(&password, &kdf);
                    None
                }
            })
            .await?;
        attempt.finish(outcome.is_some());
        match outcome {
            None => Err(AuthError::Failed),
            // Only after the password: a ban is no answer to a guess.
            Some((_, _, true)) => Err(AuthError::Banned),
            Some((user, secret, false)) => Ok((user, secret)),
        }
    }

    /// Checks `old` like a login (the same throttle: a wrong password counts
    /// as a failed login from `addr`), then makes credentials for `new`
    /// over the same history key. The caller stores them.
    pub async fn new_password(
        &self,
        db: &AccountDb,
        name: Username,
        old: Password,
        new: Password,
        addr: IpAddr,
    ) -> Result<(UserCtx, Credentials), AuthError> {
        let (user, secret) = self.login(db, name, old, addr).await?;
        let kdf = self.kdf.clone();
        let creds = self
            .hash(move || credentials::rewrap(&secret, &new, &kdf))
            .await?
            .map_err(|_| AuthError::Internal)?;
        Ok((user, creds))
    }

    /// Waits until the throttle lets an attempt start (or refuses it).
    async fn begin_attempt(
        &self,
        name_key: &str,
        addr: IpAddr,
    ) -> Result<LoginAttempt<'_>, AuthError> {
        loop {
            // Registered before the check, so an end in between still wakes
            // this waiter.
            let ended = self.attempt_ended.notified();
            let admit = lock(&self.throttle).begin(name_key, addr, Instant::now());
            match admit {
                Admit::Go => {
                    return Ok(LoginAttempt {
                        accounts: self,
                        name_key: name_key.to_owned(),
                        addr,
                        outcome: None,
                    });
                }
                Admit::Locked(wait) => return Err(AuthError::RateLimited(wait.as_secs().max(1))),
                Admit::Wait => ended.await,
            }
        }
    }
}

/// A login attempt the throttle let start; it ends, with its outcome if it
/// has one, when dropped (also when the login is cancelled midway).
struct LoginAttempt<'a> {
    accounts: &'a Accounts,
    name_key: String,
    addr: IpAddr,
    outcome: Option<bool>,
}

impl LoginAttempt<'_> {
    /// Records whether the password was right, and ends the attempt.
    fn finish(mut self, right: bool) {
        self.outcome = Some(right);
    }
}

impl Drop for LoginAttempt<'_> {
    fn drop(&mut self) {
        lock(&self.accounts.throttle).end(&self.name_key, self.addr, Instant::now(), self.outcome);
        self.accounts.attempt_ended.notify_waiters();
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
