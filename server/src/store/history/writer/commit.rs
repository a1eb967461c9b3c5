//! The writer's group commit: fsyncs started on the [`SyncPool`] threads,
//! their outcomes collected later, and files whose fsync failed repaired on
//! the writer thread. Writes (and the acknowledgements that follow them) go
//! on while earlier writes reach the disk.

use std::sync::atomic::Ordering;
use std::time::Instant;

use super::super::syncer::{Owner, Synced};
use super::{SYNC_RETRY, Writer};
use crate::store::StoreError;

impl Writer {
    /// Bytes written and not yet fsynced, all files together: the copies
    /// kept for a failed fsync.
    pub(super) fn unsynced_bytes(&self) -> usize {
        self.files
            .values()
            .map(|f| f.out.unsynced.len())
            .sum::<usize>()
            + self.boxes.unsynced_len()
    }

    /// Starts a group commit: an fsync of every written file on the sync
    /// threads (one at a time per file: a file whose last fsync still runs
    /// stays dirty for the next commit). A file needing repair is repaired
    /// here. The outcomes are collected later ([`Writer::collect_syncs`]).
    pub(super) fn sync_dirty(&mut self) {
        self.collect_syncs();
        let mut started = Vec::new();
        let mut repairs = Vec::new();
        let mut repairs_failed = None;
        let mut clean = Vec::new();
        for (user, f) in self.files.iter_mut() {
            if !self.dirty.contains(user) {
                continue;
            }
            if f.needs_repair() {
                repairs.push((user.clone(), f.sync()));
            } else if let Some(request) = f.start_sync() {
                started.push((Owner::History(user.clone()), request));
            } else if !f.is_syncing() {
                // Nothing unsynced any more (cut back to what was synced).
                clean.push(user.clone());
            }
        }
        // Files no longer open cannot be synced.
        self.dirty.retain(|user| self.files.get(user).is_some());
        for user in clean {
            self.dirty.remove(&user);
        }
        for (owner, _) in &started {
            if let Owner::History(user) = owner {
                self.dirty.remove(user);
            }
        }
        // The boxes file: with the files linking to its boxes.
        match self.boxes.open_file() {
            Some(f) if f.needs_repair() => {
                if let Err(e) = f.sync() {
                    repairs_failed.get_or_insert(e);
                }
            }
            _ => {
                if let Some(request) = self.boxes.start_sync() {
                    started.push((Owner::Boxes, request));
                }
            }
        }
        for done in self.syncs.submit(started) {
            self.synced(done);
        }
        let mut failures = u64::from(repairs_failed.is_some());
        let mut failed = repairs_failed;
        for (user, result) in repairs {
            match result {
                Ok(()) => {
                    self.dirty.remove(&user);
                }
                Err(e) => {
                    failures += 1;
                    failed.get_or_insert(e);
                }
            }
        }
        if let Some(e) = failed {
            self.sync_failed(&e, failures);
        }
        let boxes_dirty = self.boxes.open_file().is_some_and(|f| f.needs_repair());
        self.oldest_write = match self.oldest_write {
            _ if self.dirty.is_empty() && !boxes_dirty => None,
            // Tried again in about a second after a failure, not at every
            // group commit.
            Some(t) if t > Instant::now() => Some(t),
            _ => Some(Instant::now()),
        };
    }

    /// Records the outcomes of the fsyncs that have finished.
    pub(super) fn collect_syncs(&mut self) {
        while let Some(done) = self.syncs.try_done() {
            self.synced(done);
        }
    }

    /// Starts a group commit and waits for all its fsyncs (and any earlier
    /// ones) to finish.
    pub(super) fn sync_all(&mut self) {
        // A second round for files still syncing from an earlier commit
        // when the first round started (they stayed dirty); files whose
        // repair failed wait for the retry.
        for _ in 0..2 {
            self.sync_dirty();
            while self.syncs.in_flight() > 0 {
                if let Some(done) = self.syncs.wait_done(SYNC_RETRY) {
                    self.synced(done);
                }
            }
            let files = &self.files;
            let skipped = self
                .dirty
                .iter()
                .any(|u| files.get(u).is_some_and(|f| !f.needs_repair()))
                || self
                    .boxes
                    .open_file()
                    .is_some_and(|f| !f.needs_repair() && !f.is_clean() && !f.is_syncing());
            if !skipped {
                break;
            }
        }
    }

    /// One fsync's outcome. A failed one has been answered by a repair of
    /// the file; if that failed too, the file stays dirty and is tried
    /// again in about a second.
    pub(super) fn synced(&mut self, done: Synced) {
        let result = match done.owner {
            Owner::History(user) => {
                let Some(f) = self.files.get_mut(&user) else {
                    return;
                };
                let result = f.sync_done(done.result);
                if result.is_err() {
                    self.dirty.insert(user);
                }
                result
            }
            Owner::Boxes => match self.boxes.open_file() {
                Some(f) => f.sync_done(done.result),
                None => return,
            },
        };
        if let Err(e) = result {
            self.sync_failed(&e, 1);
        }
    }

    /// Reports failed fsyncs (and repairs) and schedules the next try.
    pub(super) fn sync_failed(&mut self, e: &StoreError, failures: u64) {
        self.healthy.store(false, Ordering::Relaxed);
        self.report_failure(e, failures, 0);
        self.oldest_write = Some(Instant::now() + SYNC_RETRY);
    }
}
