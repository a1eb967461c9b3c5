//! One message a user tries to send, sending it, and the figures of a
//! phase's attempts.

use std::time::{Duration, Instant};

use cove_common::proto::Target;
use cove_common::{ClientMsgId, ErrorCode, MessageText, Request, ServerMessage};

use crate::client::{Client, Reply};

/// Sends one attempt and waits for its reply.
pub(crate) async fn send_with(c: &mut Client, a: &Attempt) -> (Reply, Duration) {
    let (Ok(text), Ok(cid)) = (
        MessageText::new(a.text.clone()),
        ClientMsgId::new(a.client_id.clone()),
    ) else {
        return (
            Reply::Answer(ServerMessage::error(
                None,
                ErrorCode::BadRequest,
                "bad text",
            )),
            Duration::ZERO,
        );
    };
    let started = Instant::now();
    let reply = c
        .call(Request::Send {
            client_id: cid,
            to: a.to.clone(),
            text: Some(text),
            reply_to: None,
            file: None,
        })
        .await;
    (reply, started.elapsed())
}

/// One message a user tried to send.
#[derive(Debug, Clone)]
pub(crate) struct Attempt {
    pub(crate) from: usize,
    pub(crate) to: Target,
    pub(crate) client_id: String,
    pub(crate) text: String,
    /// Whose histories must hold it, once acknowledged.
    pub(crate) recipients: Vec<String>,
}

/// The figures of one phase.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    pub(crate) acked: u64,
    pub(crate) storage_errors: u64,
    pub(crate) other_errors: u64,
    pub(crate) hangs: u64,
    pub(crate) closed: u64,
    /// An example of the error text a sender saw.
    pub(crate) example_error: Option<String>,
    /// The longest wait for a reply.
    pub(crate) slowest: Duration,
}

impl Tally {
    pub(crate) fn line(&self) -> String {
        format!(
            "acked {}, storage errors {}, other errors {}, hangs {}, closed {}, slowest reply {} ms",
            self.acked,
            self.storage_errors,
            self.other_errors,
            self.hangs,
            self.closed,
            self.slowest.as_millis()
        )
    }
}
