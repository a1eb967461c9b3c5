//! Messages sent but not yet stored: sending, interrupted by a lost
//! connection (re-sent once after the next login), or refused by the server
//! (shown with the reason until the user retries or discards them; never
//! re-sent by themselves).

use cove_common::{ClientMsgId, ErrorCode, MessageText, Request, Target};

use super::ChatState;
use super::requests::Purpose;

/// Where a pending message stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Its `send` is on its way, or queued for the network.
    Sending,
    /// The connection was lost before the server answered: it is re-sent
    /// (under the same client id, so the server stores it once) after the
    /// next login.
    Interrupted,
    /// The server refused it.
    Failed {
        /// The server's code.
        code: ErrorCode,
        /// The server's sentence, for the user.
        reason: String,
    },
}

/// A message sent but not yet acknowledged.
#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    /// The client's id for it (re-sent with the same id).
    pub client_id: ClientMsgId,
    /// Where it goes.
    pub to: Target,
    /// What it says.
    pub text: MessageText,
    /// Where it stands.
    pub delivery: Delivery,
}

impl Pending {
    /// Whether the server refused it.
    pub fn failed(&self) -> bool {
        matches!(self.delivery, Delivery::Failed { .. })
    }
}

impl ChatState {
    /// A fresh client id for a message.
    pub fn new_client_id(&mut self) -> ClientMsgId {
        let id = format!("{}-{}", self.client_tag, self.next_client_id);
        self.next_client_id += 1;
        ClientMsgId::new(id).unwrap_or_else(|_| unreachable!("hex and digits are valid"))
    }

    /// Sends a message: it is pending under a fresh client id until the
    /// server acknowledges (or refuses) it.
    pub fn say(&mut self, to: Target, text: MessageText) -> ClientMsgId {
        let client_id = self.new_client_id();
        let p = Pending {
            client_id: client_id.clone(),
            to,
            text,
            delivery: Delivery::Sending,
        };
        self.send_pending(&p);
        self.pending.push(p);
        client_id
    }

    pub(super) fn send_pending(&mut self, p: &Pending) {
        self.ask(
            Purpose::Send {
                client_id: p.client_id.clone(),
            },
            Request::Send {
                client_id: p.client_id.clone(),
                to: p.to.clone(),
                text: p.text.clone(),
            },
        );
    }

    /// Pending messages of one conversation, in send order.
    pub fn pending_in(&self, target: &Target) -> impl Iterator<Item = &Pending> {
        self.pending.iter().filter(move |p| &p.to == target)
    }

    /// The interrupted messages, now marked as sending again: the caller
    /// re-sends each once. Refused messages are not among them.
    pub fn take_resends(&mut self) -> Vec<Pending> {
        let mut out = Vec::new();
        for p in &mut self.pending {
            if p.delivery == Delivery::Interrupted {
                p.delivery = Delivery::Sending;
                out.push(p.clone());
            }
        }
        out
    }

    /// Sends a refused message again, under the same client id. Returns
    /// whether there was such a message.
    pub fn retry(&mut self, client_id: &ClientMsgId) -> bool {
        let Some(p) = self
            .pending
            .iter_mut()
            .find(|p| &p.client_id == client_id && p.failed())
        else {
            return false;
        };
        p.delivery = Delivery::Sending;
        let p = p.clone();
        self.send_pending(&p);
        true
    }

    /// Forgets a refused message. Returns whether there was such a message.
    pub fn discard(&mut self, client_id: &ClientMsgId) -> bool {
        let before = self.pending.len();
        self.pending
            .retain(|p| !(&p.client_id == client_id && p.failed()));
        self.pending.len() != before
    }

    /// The server refused the message sent as `client_id`.
    pub(super) fn send_refused(
        &mut self,
        client_id: &ClientMsgId,
        code: ErrorCode,
        reason: String,
    ) {
        if let Some(p) = self.pending.iter_mut().find(|p| &p.client_id == client_id) {
            p.delivery = Delivery::Failed { code, reason };
        }
    }

    /// The connection was lost before the server answered the message
    /// sent as `client_id`.
    pub(super) fn send_interrupted(&mut self, client_id: &ClientMsgId) {
        if let Some(p) = self
            .pending
            .iter_mut()
            .find(|p| &p.client_id == client_id && p.delivery == Delivery::Sending)
        {
            p.delivery = Delivery::Interrupted;
        }
    }

    /// How many messages to `target` the server refused.
    pub fn failed_in(&self, target: &Target) -> usize {
        self.pending_in(target).filter(|p| p.failed()).count()
    }
}
