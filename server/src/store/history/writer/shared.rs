//! Runs of entries sealed once for every user a batch gives exactly the
//! same entries to (the members of a busy room): each of their files then
//! holds the one box with its key wrapped for that user (a shared bundle,
//! see [`super::super::format`]), instead of the writer sealing the same
//! bytes once per recipient. Sealing was most of the writer's work in a
//! room of thousands.

use std::collections::HashMap;

use super::super::format::{SHARED_MIN_BYTES, SharedRun, bundles};
use super::AppendJob;

/// The batch's shared runs, keyed by the jobs (indices into the batch)
/// that the users holding them receive; sealed when first asked for.
pub(super) struct SharedRuns {
    sealed: HashMap<Vec<usize>, Option<Vec<SharedRun>>>,
}

impl SharedRuns {
    /// Notes which sets of jobs go to at least two users and are big enough
    /// for sealing once to pay for the wraps.
    pub(super) fn new<'i>(wants: impl Iterator<Item = &'i [usize]>, jobs: &[AppendJob]) -> Self {
        let mut users: HashMap<&[usize], usize> = HashMap::new();
        for idx in wants {
            *users.entry(idx).or_default() += 1;
        }
        let sealed = users
            .into_iter()
            .filter(|&(idx, n)| {
                n >= 2
                    && idx.iter().map(|&i| 4 + jobs[i].entry.len()).sum::<usize>()
                        >= SHARED_MIN_BYTES
            })
            .map(|(idx, _)| (idx.to_vec(), None))
            .collect();
        Self { sealed }
    }

    /// The sealed runs for a user receiving the jobs `idx`, or `None` if
    /// that user's entries are to be sealed for them alone.
    pub(super) fn get(&mut self, idx: &[usize], jobs: &[AppendJob]) -> Option<&[SharedRun]> {
        let slot = self.sealed.get_mut(idx)?;
        let runs = slot.get_or_insert_with(|| {
            let entries: Vec<&[u8]> = idx.iter().map(|&i| &jobs[i].entry[..]).collect();
            bundles(&entries).map(SharedRun::seal).collect()
        });
        Some(runs)
    }
}
