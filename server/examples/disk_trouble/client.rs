//! A client of the disk-trouble driver: a real session that registers or
//! logs in, answers each request within a timeout or calls it a hang, and
//! notes the live messages it receives.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use cove_common::client::{self, Auth, ClientError, Event, Events, Session};
use cove_common::proto::Target;
use cove_common::{Password, Request, RoomName, ServerMessage, Username};
use tokio::sync::mpsc;

const PASSWORD: &str = "disk trouble password";

/// What the server answered.
#[derive(Debug)]
// One reply per request in flight, matched on at once: boxing the big
// variant would only add an allocation and awkward patterns.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Reply {
    Answer(ServerMessage),
    /// No answer in time.
    Hang,
    /// The connection closed.
    Closed,
}

pub(crate) struct Client {
    pub(crate) name: Username,
    session: Session,
    replies: mpsc::UnboundedReceiver<ServerMessage>,
    timeout: Duration,
}

/// Live messages received by all clients: how many, and their texts.
#[derive(Debug, Default)]
pub(crate) struct LiveDeliveries {
    pub(crate) count: AtomicU64,
    pub(crate) texts: std::sync::Mutex<Vec<String>>,
}

/// Drains a session's events: live messages are noted, replies queued.
fn drain(mut events: Events, live: Arc<LiveDeliveries>) -> mpsc::UnboundedReceiver<ServerMessage> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(ev) = events.recv().await {
            match ev {
                Event::Message(ServerMessage::Message(m)) => {
                    live.count.fetch_add(1, Ordering::Relaxed);
                    if let Ok(mut t) = live.texts.lock() {
                        t.push(m.text_str().to_owned());
                    }
                }
                Event::Message(ServerMessage::Notice(_)) => {}
                Event::Message(m) => {
                    let _ = tx.send(m);
                }
                Event::Closed(_) => break,
            }
        }
    });
    rx
}

impl Client {
    pub(crate) async fn connect(
        addr: &str,
        name: &str,
        register: bool,
        live: Arc<LiveDeliveries>,
        timeout: Duration,
    ) -> Result<Client, ClientError> {
        let username = Username::new(name).map_err(|_| ClientError::Closed)?;
        let password = Password::new(PASSWORD).map_err(|_| ClientError::Closed)?;
        let auth = if register {
            Auth::Register {
                username: username.clone(),
                password,
            }
        } else {
            Auth::Login {
                username: username.clone(),
                password,
            }
        };
        let (session, events, _welcome) = client::connect(addr).await?.authenticate(auth).await?;
        Ok(Client {
            name: username,
            session,
            replies: drain(events, live),
            timeout,
        })
    }

    pub(crate) async fn call(&mut self, request: Request) -> Reply {
        let Ok(id) = self.session.send(request).await else {
            return Reply::Closed;
        };
        let deadline = tokio::time::Instant::now() + self.timeout;
        loop {
            match tokio::time::timeout_at(deadline, self.replies.recv()).await {
                Err(_) => return Reply::Hang,
                Ok(None) => return Reply::Closed,
                Ok(Some(m)) if m.answers() == Some(id) => return Reply::Answer(m),
                Ok(Some(_)) => {}
            }
        }
    }
}

pub(crate) fn general() -> Target {
    Target::Room(RoomName::general())
}
