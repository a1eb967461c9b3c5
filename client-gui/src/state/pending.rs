//! Messages sent but not yet stored: sending, interrupted by a lost
//! connection (re-sent once after the next login), refused by the server,
//! or left unsent when the session ended for good (these two shown with the
//! reason until the user retries or discards them; never re-sent by
//! themselves).

use cove_common::proto::Quote;
use cove_common::{ClientMsgId, ErrorCode, MessageText, Request, Target};

use super::files::{Outgoing, Stage};
use super::requests::Purpose;
use super::{ChatState, Status};

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
    /// The session ended for good (the server's key changed, the user
    /// left) before the server answered: no reconnect will send it.
    Unsent {
        /// Why the session ended, for the user.
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
    /// What it says: a message with a file may say nothing (the text is
    /// its caption).
    pub text: Option<MessageText>,
    /// The message it answers, quoted as the app had it when the user
    /// replied (the server quotes it again, the same way).
    pub reply_to: Option<Quote>,
    /// Where it stands.
    pub delivery: Delivery,
    /// The file it carries (protocol v6), uploading until it is sent.
    pub file: Option<Outgoing>,
}

impl Pending {
    /// Whether it failed (refused, or left unsent for good): it waits for
    /// the user's Retry or Discard.
    pub fn failed(&self) -> bool {
        matches!(
            self.delivery,
            Delivery::Failed { .. } | Delivery::Unsent { .. }
        )
    }

    /// What it says, `""` for a file without a caption.
    pub fn text_str(&self) -> &str {
        self.text.as_ref().map_or("", MessageText::as_str)
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
        self.send_message(to, text, None)
    }

    /// Sends a reply to the message `quote` names (of the same
    /// conversation), pending like any message.
    pub fn reply(&mut self, to: Target, text: MessageText, quote: Quote) -> ClientMsgId {
        self.send_message(to, text, Some(quote))
    }

    fn send_message(
        &mut self,
        to: Target,
        text: MessageText,
        reply_to: Option<Quote>,
    ) -> ClientMsgId {
        let client_id = self.new_client_id();
        let p = Pending {
            client_id: client_id.clone(),
            to,
            text: Some(text),
            reply_to,
            delivery: Delivery::Sending,
            file: None,
        };
        self.send_pending(&p);
        self.pending.push(p);
        client_id
    }

    pub(super) fn send_pending(&mut self, p: &Pending) {
        // A file goes with its message once it is uploaded; until then
        // (or after a failed upload, retried) its upload goes first.
        let file = match p.file.as_ref().map(|f| &f.stage) {
            None => None,
            Some(Stage::Uploaded(upload)) => Some(upload.clone()),
            Some(Stage::Uploading { .. }) => {
                self.upload_again(&p.client_id, ErrorCode::NoSuchUpload);
                return;
            }
        };
        self.ask(
            Purpose::Send {
                client_id: p.client_id.clone(),
            },
            Request::Send {
                client_id: p.client_id.clone(),
                to: p.to.clone(),
                text: p.text.clone(),
                reply_to: p.reply_to.as_ref().map(|q| q.id),
                file,
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

    /// The session ended for good: the app shows it offline, and every
    /// message still on its way or waiting for a reconnect fails, so the
    /// user can retry or discard it instead of watching it "sending"
    /// forever.
    pub fn ended(&mut self, reason: String) {
        self.status = Status::Offline {
            reason: reason.clone(),
        };
        for p in self.pending.iter_mut().filter(|p| !p.failed()) {
            p.delivery = Delivery::Unsent {
                reason: reason.clone(),
            };
        }
        self.changes_ended(&reason);
        self.files_ended(&reason);
        self.ended = Some(reason);
    }

    /// Sends a failed message again, under the same client id. Returns
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

    /// Forgets a failed message. Returns whether there was such a message.
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
        if code == ErrorCode::NoSuchUpload && self.upload_again(client_id, code) {
            return;
        }
        if let Some(p) = self.pending.iter_mut().find(|p| &p.client_id == client_id) {
            p.delivery = Delivery::Failed { code, reason };
        }
    }

    /// The connection was lost (or absent) before the server answered the
    /// message sent as `client_id`: it waits for the next login, unless
    /// the session ended for good (then no login comes).
    pub(super) fn send_interrupted(&mut self, client_id: &ClientMsgId) {
        if let Some(p) = self
            .pending
            .iter_mut()
            .find(|p| &p.client_id == client_id && p.delivery == Delivery::Sending)
        {
            p.delivery = match &self.ended {
                Some(reason) => Delivery::Unsent {
                    reason: reason.clone(),
                },
                None => Delivery::Interrupted,
            };
        }
    }

    /// How many messages to `target` failed.
    pub fn failed_in(&self, target: &Target) -> usize {
        self.pending_in(target).filter(|p| p.failed()).count()
    }
}

#[cfg(test)]
mod tests {
    use cove_common::{MessageText, ServerMessage};

    use super::*;
    use crate::state::RequestId;
    use crate::state::tests::{general, room, u};

    fn delivery(s: &ChatState) -> Vec<Delivery> {
        s.pending.iter().map(|p| p.delivery.clone()).collect()
    }

    /// When the session ends for good, messages on their way, waiting for
    /// a reconnect, or written afterwards fail with the reason, and can be
    /// retried or discarded; a refused one keeps the server's reason.
    #[test]
    fn messages_pending_when_the_session_ends_for_good_fail() {
        let mut s = ChatState::new(u("meg"), vec![room("general", 0)]);
        let text = |t: &str| MessageText::new(t).unwrap();
        s.say(general(), text("on its way"));
        s.say(general(), text("cut off"));
        s.say(general(), text("refused"));
        let out = s.take_outbox();
        s.on_unanswered(&[out[1].0]);
        s.on_reply(
            out[2].0,
            ServerMessage::error(Some(3), ErrorCode::Storage, "disk full"),
        );
        let why = "the server's key changed".to_owned();
        s.ended(why.clone());
        assert_eq!(
            s.status,
            Status::Offline {
                reason: why.clone()
            }
        );
        let unsent = Delivery::Unsent {
            reason: why.clone(),
        };
        let refused = Delivery::Failed {
            code: ErrorCode::Storage,
            reason: "disk full".into(),
        };
        assert_eq!(
            delivery(&s),
            [unsent.clone(), unsent.clone(), refused.clone()]
        );
        assert!(s.take_resends().is_empty(), "no reconnect will send them");
        assert_eq!(s.failed_in(&general()), 3);
        // The first one's request comes back unanswered: it stays failed.
        s.on_unanswered(&[out[0].0]);
        // A message written afterwards, and a retry, fail too once the
        // network says there is no connection.
        let late = s.say(general(), text("too late"));
        let first = s.pending[0].client_id.clone();
        assert!(s.retry(&first));
        let ids: Vec<RequestId> = s.take_outbox().into_iter().map(|(id, _)| id).collect();
        assert_eq!(ids.len(), 2);
        s.on_unanswered(&ids);
        assert_eq!(
            delivery(&s),
            [unsent.clone(), unsent.clone(), refused, unsent]
        );
        assert!(s.discard(&late));
        assert_eq!(s.pending.len(), 3);
    }
}
