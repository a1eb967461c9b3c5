//! Runs of entries sealed once for every user a batch gives exactly the
//! same entries to (the members of a busy room), their box stored once in
//! the boxes file: each of their files then holds a link to that box with
//! its key wrapped for that user (a linked bundle, see
//! [`super::super::format`]), instead of the writer sealing and writing
//! the same bytes once per recipient. Sealing, and then copying the sealed
//! bytes into every file, were most of the writer's work in a room of
//! thousands.

use super::super::FastMap;
use super::super::boxes::Boxes;
use super::super::format::{LinkedRun, SHARED_MIN_BYTES, SharedRun, bundles};
use super::{AppendJob, copy_err};
use crate::store::StoreError;

/// The batch's shared runs, keyed by the jobs (indices into the batch)
/// that the users holding them receive; sealed and stored when first asked
/// for.
pub(super) struct SharedRuns {
    sealed: FastMap<Vec<usize>, Option<Result<Vec<LinkedRun>, StoreError>>>,
}

impl SharedRuns {
    /// Notes which sets of jobs go to at least two users and are big enough
    /// for sealing once to pay for the wraps.
    pub(super) fn new<'i>(wants: impl Iterator<Item = &'i [usize]>, jobs: &[AppendJob]) -> Self {
        let mut users: FastMap<&[usize], usize> = FastMap::default();
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

    /// The stored runs for a user receiving the jobs `idx` (or the error
    /// storing them met), or `None` if that user's entries are to be
    /// sealed for them alone.
    pub(super) fn get(
        &mut self,
        idx: &[usize],
        jobs: &[AppendJob],
        boxes: &mut Boxes,
    ) -> Option<Result<&[LinkedRun], StoreError>> {
        let slot = self.sealed.get_mut(idx)?;
        let runs = slot.get_or_insert_with(|| {
            let entries: Vec<&[u8]> = idx.iter().map(|&i| &jobs[i].entry[..]).collect();
            bundles(&entries)
                .map(|run| {
                    let sealed = SharedRun::seal(run);
                    Ok(sealed.linked(boxes.put(sealed.sealed())?))
                })
                .collect()
        });
        Some(match runs {
            Ok(runs) => Ok(runs),
            Err(e) => Err(copy_err(e)),
        })
    }
}
