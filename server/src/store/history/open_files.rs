//! [`OpenFiles`]: the history files the writer keeps open, at most a
//! budget of them, and what it remembers of those it closed. A closed
//! file's [`Resume`] (its length and segment) lets the next append reopen it
//! without a scan and continue its segment, so closing a file costs no new
//! segment. Past the budget the least recently written eighth of the
//! closable files is closed, never all at once: the files of a room larger
//! than the budget then stay open in turn instead of being reopened for
//! every message.

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::file::{HistoryFile, Resume};
use super::{FastMap, FastSet};
use crate::store::StoreError;
use crate::store::users::UserId;

/// Closed files whose [`Resume`] is remembered (about 100 bytes each);
/// past this, the least recently closed eighth is forgotten.
const REMEMBERED_FILES: usize = 65_536;

/// The writer's open files; see the module documentation.
pub(super) struct OpenFiles {
    dir: PathBuf,
    files: FastMap<UserId, HistoryFile>,
    budget: usize,
    /// Files closed cleanly, with when each was closed.
    known: FastMap<UserId, (Resume, Instant)>,
}

/// The history file of `user` in `dir`.
pub(super) fn path_in(dir: &Path, user: &UserId) -> PathBuf {
    dir.join(format!("{}.hist", user.as_str()))
}

impl OpenFiles {
    /// No file open yet; at most `budget` at once.
    pub(super) fn new(dir: PathBuf, budget: usize) -> Self {
        Self {
            dir,
            files: FastMap::default(),
            budget: budget.max(1),
            known: FastMap::default(),
        }
    }

    /// How many files to close at a time when the budget is reached.
    pub(super) fn eviction_share(&self) -> usize {
        (self.budget / 8).max(1)
    }

    /// Whether opening one more file needs another one closed first.
    pub(super) fn is_full(&self) -> bool {
        self.files.len() >= self.budget
    }

    pub(super) fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.files.len()
    }

    pub(super) fn get(&self, user: &UserId) -> Option<&HistoryFile> {
        self.files.get(user)
    }

    pub(super) fn get_mut(&mut self, user: &UserId) -> Option<&mut HistoryFile> {
        self.files.get_mut(user)
    }

    pub(super) fn values(&self) -> impl Iterator<Item = &HistoryFile> {
        self.files.values()
    }

    pub(super) fn iter_mut(&mut self) -> impl Iterator<Item = (&UserId, &mut HistoryFile)> {
        self.files.iter_mut()
    }

    /// Opens `user`'s file (resuming it if it was closed cleanly), whether
    /// or not the budget allows: make room first with
    /// [`OpenFiles::close_oldest`].
    pub(super) fn open(
        &mut self,
        user: &UserId,
        public: [u8; 32],
    ) -> Result<&mut HistoryFile, StoreError> {
        if !self.files.contains_key(user) {
            let known = self.known.remove(user).map(|(resume, _)| resume);
            let f = HistoryFile::open_known(&path_in(&self.dir, user), public, known)?;
            self.files.insert(user.clone(), f);
        }
        self.files
            .get_mut(user)
            .ok_or_else(|| StoreError::corrupt(&self.dir, "history file vanished"))
    }

    /// Forgets an open file without remembering it (it is checked again
    /// when next opened).
    pub(super) fn forget(&mut self, user: &UserId) {
        self.files.remove(user);
    }

    /// Closes `user`'s file if open, forgets it, and deletes it from the
    /// disk (an account deleted; nothing more is written for it).
    pub(super) fn delete(&mut self, user: &UserId) -> Result<(), StoreError> {
        self.files.remove(user);
        self.known.remove(user);
        let path = path_in(&self.dir, user);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(StoreError::io(&path)(e)),
            _ => Ok(()),
        }
    }

    /// How many open files could be closed now: clean and not `dirty`.
    pub(super) fn closable(&self, dirty: &FastSet<UserId>) -> usize {
        self.files
            .iter()
            .filter(|(u, f)| !dirty.contains(*u) && f.is_clean())
            .count()
    }

    /// Closes the least recently written [`OpenFiles::eviction_share`] of
    /// the closable files; none if none can close.
    pub(super) fn close_oldest(&mut self, dirty: &FastSet<UserId>) {
        let mut ages: Vec<Instant> = self
            .files
            .iter()
            .filter(|(u, f)| !dirty.contains(*u) && f.is_clean())
            .map(|(_, f)| f.last_write)
            .collect();
        if let Some(cutoff) = nth_oldest(&mut ages, self.eviction_share()) {
            self.close_where(dirty, |f| f.last_write <= cutoff);
        }
    }

    /// Closes the clean files matching `pred` and not `dirty`, remembering
    /// how to resume them.
    pub(super) fn close_where(
        &mut self,
        dirty: &FastSet<UserId>,
        pred: impl Fn(&HistoryFile) -> bool,
    ) {
        let known = &mut self.known;
        let now = Instant::now();
        self.files.retain(|user, f| {
            if dirty.contains(user) || !f.is_clean() || !pred(f) {
                return true;
            }
            known.insert(user.clone(), (f.resume(), now));
            false
        });
        if known.len() > REMEMBERED_FILES {
            let mut ages: Vec<Instant> = known.values().map(|(_, at)| *at).collect();
            if let Some(cutoff) = nth_oldest(&mut ages, REMEMBERED_FILES / 8) {
                known.retain(|_, (_, at)| *at > cutoff);
            }
        }
    }
}

/// The `n`th oldest of `times` (1 = the oldest), or the newest if there are
/// fewer; `None` if there are none. Reorders `times`.
fn nth_oldest(times: &mut [Instant], n: usize) -> Option<Instant> {
    let last = times.len().checked_sub(1)?;
    let (_, nth, _) = times.select_nth_unstable(n.saturating_sub(1).min(last));
    Some(*nth)
}
