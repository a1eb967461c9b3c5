//! The one way the server takes a `std::sync::Mutex`.

use std::sync::{Mutex, MutexGuard};

/// Locks `m`, recovering the guard if a thread panicked while holding it.
///
/// Every mutex in the server guards in-memory state that a panic cannot
/// leave half-updated in a way that matters more than stopping service, so
/// a poisoned lock is taken as it is rather than taking the server down.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
