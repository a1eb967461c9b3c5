//! What the network layer says to people: why a connection failed, and
//! why a session ended for good. Kept apart from the driver so its words
//! can be read (and changed) in one place.

use cove_common::client::ClientError;
use cove_common::proto::byes;

use crate::trust::PinsError;

/// The `bye` reasons (protocol §7) after which logging in again with the
/// password the app knows cannot work, or must not happen.
pub(super) const FINAL_BYES: [&str; 3] = [byes::DELETED, byes::DELETED_ELSEWHERE, byes::SIGNED_OUT];

/// What the start screen says after a final `bye`, in the user's words.
pub(super) fn signed_out_sentence(reason: &str) -> String {
    match reason {
        byes::DELETED => "Your account was deleted.".to_owned(),
        byes::DELETED_ELSEWHERE => {
            "Signed out: the account was deleted on another device.".to_owned()
        }
        byes::SIGNED_OUT => {
            "Signed out: the password was changed. Sign in with the new password.".to_owned()
        }
        other => format!("Signed out: {other}."),
    }
}

pub(super) fn describe(e: &ClientError) -> String {
    match e {
        ClientError::Connect(_) => {
            "Cannot reach the server. Check the address and that the server is running.".into()
        }
        ClientError::Timeout => "The server did not answer in time.".into(),
        ClientError::Handshake(h) => match h {
            cove_common::handshake::HandshakeError::VersionMismatch { ours, theirs } => format!(
                "This app speaks Cove protocol v{ours} but the server speaks v{theirs}: update the older one."
            ),
            other => format!("Secure connection failed: {other}."),
        },
        ClientError::Rejected { message, .. } => {
            let mut m = message.clone();
            if let Some(first) = m.get_mut(0..1) {
                first.make_ascii_uppercase();
            }
            format!("{m}.")
        }
        other => format!("{other}."),
    }
}

/// Why no connection is made while the pins cannot be read.
pub(super) fn describe_pins(e: &PinsError) -> String {
    format!(
        "Cove will not connect: its list of trusted servers could not be read ({e}). \
         Without it an impostor could not be told from a server you trusted before. \
         Repair the file, or delete it to check every server's fingerprint again."
    )
}
