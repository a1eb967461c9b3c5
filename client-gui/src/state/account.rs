//! The account's settings (protocol v5): changing the password and
//! deleting the account. Their answers are [`Note`](super::Note)s shown in
//! the settings window.
//!
//! The password the app logs in again with after a lost connection is the
//! network's business ([`crate::net`] takes the new one when the server
//! confirms the change); the state only says how it went. A deleted account
//! ends the session: the server's `bye` that follows brings the app back to
//! its start screen.

use cove_common::{ErrorCode, Password, Request};

use super::requests::Purpose;
use super::{ChatState, Place};

impl ChatState {
    /// Asks to change the password; `sign_out_others` ends the account's
    /// other sessions (they must log in with the new one).
    pub fn change_password(&mut self, old: Password, new: Password, sign_out_others: bool) {
        self.notes.remove(&Place::Password);
        self.ask(
            Purpose::ChangePassword,
            Request::ChangePassword {
                old,
                new,
                sign_out_others,
            },
        );
    }

    /// Whether a password change is waiting for its answer.
    pub fn changing_password(&self) -> bool {
        self.asking(|p| *p == Purpose::ChangePassword)
    }

    /// Asks to delete the account, with its password as confirmation.
    pub fn delete_account(&mut self, password: Password) {
        self.notes.remove(&Place::DeleteAccount);
        self.ask(Purpose::DeleteAccount, Request::DeleteAccount { password });
    }

    /// Whether a deletion is waiting for its answer.
    pub fn deleting_account(&self) -> bool {
        self.asking(|p| *p == Purpose::DeleteAccount)
    }

    pub(super) fn password_changed(&mut self, signed_out: u32) {
        let others = match signed_out {
            0 => String::new(),
            1 => " 1 other session was signed out.".to_owned(),
            n => format!(" {n} other sessions were signed out."),
        };
        self.set_note(
            Place::Password,
            format!("Your password was changed.{others}"),
            true,
        );
    }

    pub(super) fn password_refused(&mut self, code: ErrorCode, message: &str) {
        let text = match code {
            // The server's sentence speaks of logins; this was not one.
            ErrorCode::AuthFailed => "The current password is not right.".to_owned(),
            _ => format!("The password was not changed: {message}."),
        };
        self.set_note(Place::Password, text, false);
    }

    pub(super) fn deletion_refused(&mut self, code: ErrorCode, message: &str) {
        let text = match code {
            ErrorCode::AuthFailed => "The password is not right.".to_owned(),
            _ => format!("The account was not deleted: {message}."),
        };
        self.set_note(Place::DeleteAccount, text, false);
    }

    /// The account is gone; the `bye` that follows ends the session.
    pub(super) fn account_deleted(&mut self) {
        self.set_note(
            Place::DeleteAccount,
            "Your account was deleted.".to_owned(),
            true,
        );
    }

    /// The connection dropped before the answer: whether it was done is
    /// unknown (a changed password shows at the next login).
    pub(super) fn account_unanswered(&mut self, place: Place) {
        self.set_note(
            place,
            "Not connected: it may not have been done. Try again once connected.".to_owned(),
            false,
        );
    }
}
