//! Muted conversations: they make no notification and do not count in the
//! window's title or ask for attention. The app loads the list from the
//! settings at login and saves each change there.

use cove_common::Target;

use super::ChatState;

impl ChatState {
    /// Whether `with` is muted.
    pub fn is_muted(&self, with: &Target) -> bool {
        self.muted.contains(with)
    }

    /// Mutes or unmutes `with`.
    pub fn set_muted(&mut self, with: Target, mute: bool) {
        if mute {
            self.muted.insert(with);
        } else {
            self.muted.remove(&with);
        }
    }
}
