//! The process's limit on open file descriptors. Every connection and every
//! history file kept open takes one; the usual soft limit (1,024) would
//! leave a busy server choosing between the two, while the hard limit is
//! typically far higher. So the server raises its soft limit to the hard
//! one at start-up, as Go's runtime and many servers do, and sizes its cache
//! of open history files from the result.

use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};

/// Raises the soft limit on open files to the hard limit (if it can) and
/// returns the soft limit in force afterwards (`None` if unlimited).
pub fn raise_open_files_limit() -> Option<u64> {
    let limit = getrlimit(Resource::Nofile);
    if limit.current != limit.maximum {
        let raised = Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        };
        if let Err(e) = setrlimit(Resource::Nofile, raised) {
            tracing::debug!(error = %e, "cannot raise the open files limit");
        }
    }
    getrlimit(Resource::Nofile).current
}

/// How many history files to keep open, out of a soft limit on open files:
/// a quarter of it (the rest is for connections and everything else), at
/// least 64 and at most 4,096 (a room of a few thousand members then stays
/// open between its messages).
pub fn history_files_budget(soft_limit: Option<u64>) -> usize {
    let quarter = soft_limit.map_or(u64::MAX, |l| l / 4);
    usize::try_from(quarter.clamp(64, 4096)).unwrap_or(4096)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_is_a_quarter_of_the_limit_within_bounds() {
        assert_eq!(history_files_budget(Some(1024)), 256);
        assert_eq!(history_files_budget(Some(100)), 64);
        assert_eq!(history_files_budget(Some(1 << 20)), 4096);
        assert_eq!(history_files_budget(None), 4096);
    }

    #[test]
    fn raising_leaves_the_soft_limit_at_the_hard_one() {
        let soft = raise_open_files_limit();
        assert_eq!(soft, getrlimit(Resource::Nofile).maximum);
    }
}
