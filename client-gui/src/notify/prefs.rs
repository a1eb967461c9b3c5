//! What the user chose about notifications: which kinds of message notify,
//! and which conversations are muted, per server and account. Client-side
//! only; kept in [`crate::settings::Settings`].

use std::collections::BTreeMap;

use cove_common::Target;
use serde::{Deserialize, Serialize};

/// Which messages notify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Kinds {
    /// Direct messages.
    pub direct: bool,
    /// Room messages that mention the user.
    pub mentions: bool,
    /// Every other room message too.
    pub every: bool,
}

impl Default for Kinds {
    fn default() -> Self {
        Self {
            direct: true,
            mentions: true,
            every: false,
        }
    }
}

/// The notification choices.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NotifyPrefs {
    /// Which messages notify.
    pub kinds: Kinds,
    /// Muted conversations, per account ("alice@host:port").
    pub muted: BTreeMap<String, Vec<Target>>,
}

/// The key an account's muted conversations are kept under: the same
/// name on another server is someone else.
pub fn account_key(server: &str, user: &str) -> String {
    format!("{}@{}", user.to_lowercase(), server.trim())
}

impl NotifyPrefs {
    /// The conversations `account` muted.
    pub fn muted_for(&self, account: &str) -> Vec<Target> {
        self.muted.get(account).cloned().unwrap_or_default()
    }

    /// Mutes or unmutes `with` for `account`.
    pub fn set_muted(&mut self, account: &str, with: &Target, mute: bool) {
        let list = self.muted.entry(account.to_owned()).or_default();
        list.retain(|t| t != with);
        if mute {
            list.push(with.clone());
        }
        if list.is_empty() {
            self.muted.remove(account);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cove_common::{RoomName, Username};

    #[test]
    fn mutes_are_per_account_and_undone() {
        let mut p = NotifyPrefs::default();
        let rust = Target::Room(RoomName::new("rust").unwrap_or_else(|_| unreachable!()));
        let bob = Target::User(Username::new("bob").unwrap_or_else(|_| unreachable!()));
        let a = account_key("10.0.0.2:7878", "Alice");
        p.set_muted(&a, &rust, true);
        p.set_muted(&a, &bob, true);
        p.set_muted(&a, &rust, true);
        assert_eq!(p.muted_for(&a), [bob.clone(), rust.clone()]);
        assert_eq!(p.muted_for(&account_key("10.0.0.3:7878", "alice")), []);
        p.set_muted(&a, &bob, false);
        p.set_muted(&a, &rust, false);
        assert!(p.muted.is_empty(), "nothing left to keep");
    }
}
