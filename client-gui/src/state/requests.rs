//! What the app asked the server, so that every answer finds its question.
//!
//! Each request gets a [`RequestId`] (the app's own number; the network
//! layer maps it to the id the session put on the wire) and is remembered
//! with its [`Purpose`] until it is answered, refused or lost with the
//! connection. A refusal then lands where it belongs: a refused message is
//! marked failed in its own conversation, a refused history page or join is
//! reported in the conversation it concerns, whichever conversation is open.

use cove_common::proto::MessageId;
use cove_common::{ClientMsgId, ErrorCode, Request, RoomName, ServerMessage, Target};

use super::ChatState;
use super::history::MISSED_PAGES_MAX;
use super::rooms::RoomAct;

/// The app's number for one request, unique for the app's life (so a reply
/// can never be mistaken for the answer to a request of an older
/// connection).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(u64);

/// Which page of a conversation's history a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    /// The newest messages, when a conversation is first loaded.
    Newest,
    /// Messages older than those loaded (the reader scrolled up).
    Older,
    /// After a reconnect: messages newer than `since` (the newest loaded
    /// before), one page after another until they meet it.
    Missed {
        /// The newest message id loaded before the connection dropped.
        since: MessageId,
        /// How many pages this catch-up has asked for, this one included.
        pages: u8,
    },
}

/// What a request was for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Purpose {
    /// A chat message, by its pending client id.
    Send {
        /// The pending message.
        client_id: ClientMsgId,
    },
    /// A page of a conversation's history.
    History {
        /// The conversation.
        with: Target,
        /// Which page.
        page: Page,
    },
    /// Joining (or creating) a room.
    Join {
        /// The room.
        room: RoomName,
        /// The conversation shown when the user asked, where a refusal is
        /// reported (the room has no conversation yet).
        from: Target,
    },
    /// Leaving a room.
    Leave {
        /// The room.
        room: RoomName,
    },
    /// A room's member list.
    Members {
        /// The room.
        room: RoomName,
    },
    /// Moving the read marker of a conversation.
    Read {
        /// The conversation.
        with: Target,
    },
    /// A page of a search.
    Search {
        /// Which search (a newer one replaces it).
        seq: u64,
    },
    /// An edit, deletion or reaction, by its pending client id.
    Change {
        /// The pending change.
        client_id: ClientMsgId,
    },
    /// Creating a room the user will own (answered by `joined`).
    Create {
        /// The room.
        room: RoomName,
    },
    /// An action on a room or an invitation (answered by `done`).
    Room {
        /// The room.
        room: RoomName,
        /// What was asked.
        act: RoomAct,
    },
    /// Changing the account's password.
    ChangePassword,
    /// Deleting the account.
    DeleteAccount,
}

impl ChatState {
    /// Queues `request` for the network and remembers what it was for.
    pub(crate) fn ask(&mut self, purpose: Purpose, request: Request) -> RequestId {
        let id = self.next_request_id();
        self.requests.insert(id, purpose);
        self.outbox.push((id, request));
        id
    }

    /// A fresh request id.
    pub(super) fn next_request_id(&mut self) -> RequestId {
        let id = RequestId(self.next_request);
        self.next_request += 1;
        id
    }

    /// The requests queued since the last call, for the network.
    pub fn take_outbox(&mut self) -> Vec<(RequestId, Request)> {
        std::mem::take(&mut self.outbox)
    }

    /// What an unanswered request was for.
    pub fn purpose(&self, id: RequestId) -> Option<&Purpose> {
        self.requests.get(&id)
    }

    /// Whether a request for `purpose` is awaiting its answer.
    pub(super) fn asking(&self, pred: impl Fn(&Purpose) -> bool) -> bool {
        self.requests.values().any(pred)
    }

    /// Applies the server's answer to request `id`.
    pub fn on_reply(&mut self, id: RequestId, msg: ServerMessage) {
        let Some(purpose) = self.requests.remove(&id) else {
            self.apply(msg);
            return;
        };
        match (purpose, msg) {
            (purpose, ServerMessage::Error { code, message, .. }) => {
                self.refused(purpose, code, message);
            }
            (
                Purpose::History { with, page },
                ServerMessage::History {
                    messages,
                    more,
                    unreadable,
                    cursor,
                    ..
                },
            ) => {
                if unreadable > 0 {
                    // Said where it happened, in the words people use.
                    self.info_in(with.clone(), unreadable_note(unreadable));
                }
                self.history_page(with, page, messages, more, cursor);
                // A search result being opened may need the next page.
                self.seek_jump();
            }
            (
                Purpose::Search { seq },
                ServerMessage::Search {
                    messages,
                    more,
                    unreadable,
                    cursor,
                    ..
                },
            ) => self.search_page(seq, messages, more, cursor, unreadable),
            (Purpose::Room { room, act }, ServerMessage::Done { .. }) => self.room_done(room, act),
            (Purpose::ChangePassword, ServerMessage::PasswordChanged { signed_out, .. }) => {
                self.password_changed(signed_out);
            }
            (_, msg) => self.apply(msg),
        }
    }

    /// The connection was lost (or absent) before these requests were
    /// answered.
    pub fn on_unanswered(&mut self, ids: &[RequestId]) {
        for id in ids {
            let Some(purpose) = self.requests.remove(id) else {
                continue;
            };
            match purpose {
                Purpose::Send { client_id } => self.send_interrupted(&client_id),
                Purpose::History { with, page } => {
                    // The newest pages are fetched again after the reconnect;
                    // older ones when the reader scrolls up again.
                    if page == Page::Older
                        && let Some(conv) = self.conversations.get_mut(&with)
                    {
                        conv.loading = false;
                    }
                }
                Purpose::Join { room, from } => self.info_in(
                    from,
                    format!("Not connected: #{room} was not joined. Try again once connected."),
                ),
                Purpose::Leave { room } => self.info_in(
                    Target::Room(room.clone()),
                    format!("Not connected: #{room} was not left. Try again once connected."),
                ),
                // Fetched again when the room is shown or after the reconnect.
                Purpose::Members { .. } => {}
                Purpose::Read { with } => self.read_unanswered(&with),
                Purpose::Search { seq } => self.search_failed(
                    seq,
                    None,
                    "Not connected: search again once connected.".to_owned(),
                ),
                Purpose::Change { client_id } => self.change_interrupted(&client_id),
                Purpose::Create { room } => self.set_note(
                    super::Place::NewRoom,
                    format!("Not connected: #{room} was not created. Try again once connected."),
                    false,
                ),
                Purpose::Room { room, act } => self.room_unanswered(room, act),
                Purpose::ChangePassword => self.account_unanswered(super::Place::Password),
                Purpose::DeleteAccount => self.account_unanswered(super::Place::DeleteAccount),
            }
        }
    }

    fn refused(&mut self, purpose: Purpose, code: ErrorCode, message: String) {
        match purpose {
            Purpose::Send { client_id } => self.send_refused(&client_id, code, message),
            // The cursor no longer leads anywhere (the server's copy
            // changed): asked again without it, as the protocol says. That
            // request carries no cursor, so it cannot be refused so again.
            Purpose::History {
                with,
                page: Page::Older,
            } if code == ErrorCode::BadCursor => {
                if let Some(conv) = self.conversations.get_mut(&with) {
                    conv.older = None;
                }
                self.ask_older(with);
            }
            Purpose::History {
                with,
                page: Page::Missed { since, pages },
            } if code == ErrorCode::BadCursor && pages < MISSED_PAGES_MAX => {
                // From the newest again: what was read already is merged
                // by id, so nothing shows or counts twice.
                self.fetch(
                    with,
                    Page::Missed {
                        since,
                        pages: pages + 1,
                    },
                    None,
                    None,
                );
            }
            Purpose::History { with, page } => {
                if page == Page::Older
                    && let Some(conv) = self.conversations.get_mut(&with)
                {
                    conv.loading = false;
                }
                self.info_in(with, format!("Could not load the messages: {message}."));
            }
            Purpose::Join { room, from } => {
                self.invitation_refused(&room, &message);
                self.info_in(from, format!("Could not join #{room}: {message}."));
            }
            Purpose::Leave { room } => self.info_in(
                Target::Room(room.clone()),
                format!("Could not leave #{room}: {message}."),
            ),
            Purpose::Members { room } => self.info_in(
                Target::Room(room.clone()),
                format!("Could not list the members of #{room}: {message}."),
            ),
            // Nothing to show: the badge stays as the server counts it.
            Purpose::Read { .. } => {}
            Purpose::Search { seq } => {
                self.search_failed(seq, Some(code), format!("Could not search: {message}."));
            }
            Purpose::Change { client_id } => self.change_refused(&client_id, &message),
            Purpose::Create { room } => self.create_refused(&room, &message),
            Purpose::Room { room, act } => self.room_refused(room, act, &message),
            Purpose::ChangePassword => self.password_refused(code, &message),
            Purpose::DeleteAccount => self.deletion_refused(code, &message),
        }
    }

    /// Shows a conversation, loading its history if it is not loaded (or
    /// its loading failed) and a room's member list.
    pub fn show(&mut self, target: Target) {
        self.open(target.clone());
        let loaded = self.conversations.get(&target).is_some_and(|c| c.loaded);
        if !loaded && !self.fetching_newest(&target) {
            self.fetch(target.clone(), Page::Newest, None, None);
        }
        if let Target::Room(room) = target {
            self.ask_members(room);
        }
    }

    /// Joins (or creates) a room.
    pub fn join(&mut self, room: RoomName) {
        let from = self.current.clone();
        self.ask(
            Purpose::Join {
                room: room.clone(),
                from,
            },
            Request::Join { room },
        );
    }

    /// Leaves a room.
    pub fn leave(&mut self, room: RoomName) {
        self.ask(
            Purpose::Leave { room: room.clone() },
            Request::Leave { room },
        );
    }

    /// Asks for a room's member list, unless a request for it is on its way.
    pub(super) fn ask_members(&mut self, room: RoomName) {
        if !self.asking(|p| matches!(p, Purpose::Members { room: r } if *r == room)) {
            self.ask(
                Purpose::Members { room: room.clone() },
                Request::Members { room },
            );
        }
    }
}

/// What the app says when the server could not read part of a history.
pub(crate) fn unreadable_note(batches: u32) -> String {
    if batches == 1 {
        "Some messages here could not be read: the server's copy is damaged.".to_owned()
    } else {
        format!(
            "Messages here could not be read in {batches} places: the server's copy is damaged."
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::tests::{general, msg, room, u};
    use crate::state::{Delivery, Entry};
    use cove_common::MessageText;

    fn ghost() -> Target {
        Target::User(u("ghost"))
    }

    /// The only `send` in the outbox, with its request id.
    fn sent(s: &mut ChatState) -> (RequestId, ClientMsgId) {
        let sends: Vec<_> = s
            .take_outbox()
            .into_iter()
            .filter_map(|(id, r)| match r {
                Request::Send { client_id, .. } => Some((id, client_id)),
                _ => None,
            })
            .collect();
        assert_eq!(sends.len(), 1, "{sends:?}");
        sends.into_iter().next().unwrap()
    }

    fn refusal(code: ErrorCode, message: &str) -> ServerMessage {
        ServerMessage::error(Some(99), code, message)
    }

    fn infos(s: &ChatState, t: &Target) -> Vec<String> {
        s.conversations.get(t).map_or_else(Vec::new, |c| {
            c.entries
                .iter()
                .filter_map(|e| match e {
                    Entry::Info { text, .. } => Some(text.clone()),
                    _ => None,
                })
                .collect()
        })
    }

    #[test]
    fn a_refused_message_fails_in_its_own_conversation() {
        let mut s = ChatState::new(u("meg"), vec![room("general", 0)]);
        let cid = s.say(ghost(), MessageText::new("boo").unwrap());
        let (id, sent_cid) = sent(&mut s);
        assert_eq!(sent_cid, cid);
        assert_eq!(
            s.purpose(id),
            Some(&Purpose::Send {
                client_id: cid.clone()
            })
        );
        // The reader looks at #general when the refusal arrives.
        assert_eq!(s.current, general());
        s.on_reply(
            id,
            refusal(ErrorCode::NoSuchUser, "there is no user called ghost"),
        );
        let p = s.pending_in(&ghost()).next().unwrap();
        assert_eq!(
            p.delivery,
            Delivery::Failed {
                code: ErrorCode::NoSuchUser,
                reason: "there is no user called ghost".into()
            }
        );
        assert_eq!(s.failed_in(&ghost()), 1);
        assert!(infos(&s, &general()).is_empty(), "not in the open one");
        assert_eq!(s.purpose(id), None, "answered requests are forgotten");
        // Shown again twice, its history refused each time: said once.
        for _ in 0..2 {
            s.show(ghost());
            let (id, _) = s.take_outbox().pop().unwrap();
            s.on_reply(
                id,
                refusal(ErrorCode::NoSuchUser, "there is no user called ghost"),
            );
        }
        assert_eq!(
            infos(&s, &ghost()),
            ["Could not load the messages: there is no user called ghost."]
        );
    }

    #[test]
    fn retry_resends_under_the_same_client_id_and_discard_forgets() {
        let mut s = ChatState::new(u("meg"), vec![room("general", 0)]);
        let cid = s.say(ghost(), MessageText::new("boo").unwrap());
        let (id, _) = sent(&mut s);
        s.on_reply(id, refusal(ErrorCode::RateLimited, "slow down"));
        assert!(s.retry(&cid));
        let (again, again_cid) = sent(&mut s);
        assert_eq!(again_cid, cid, "same client id, so it is stored once");
        assert_ne!(again, id);
        assert_eq!(s.pending[0].delivery, Delivery::Sending);
        assert!(!s.retry(&cid), "a message on its way is not sent twice");
        assert!(!s.discard(&cid), "nor discarded while on its way");
        s.on_reply(again, refusal(ErrorCode::RateLimited, "slow down"));
        assert!(s.discard(&cid));
        assert!(s.pending.is_empty());
        assert!(s.take_outbox().is_empty());
    }

    #[test]
    fn failed_messages_are_not_resent_after_a_reconnect() {
        let mut s = ChatState::new(u("meg"), vec![room("general", 0)]);
        let refused = s.say(ghost(), MessageText::new("boo").unwrap());
        let (r1, _) = sent(&mut s);
        let lost = s.say(general(), MessageText::new("hi").unwrap());
        let (r2, _) = sent(&mut s);
        s.on_reply(r1, refusal(ErrorCode::NoSuchUser, "no"));
        // The connection drops before the second is answered.
        s.on_unanswered(&[r2]);
        let resends: Vec<ClientMsgId> = s.take_resends().into_iter().map(|p| p.client_id).collect();
        assert_eq!(resends, [lost]);
        assert!(s.take_resends().is_empty(), "each re-sent once");
        assert!(
            s.pending
                .iter()
                .any(|p| p.client_id == refused && p.failed())
        );
    }

    #[test]
    fn a_failed_history_request_stops_loading_and_says_so_where_it_belongs() {
        let mut s = ChatState::new(u("meg"), vec![room("general", 0), room("rust", 0)]);
        let rust = Target::Room(RoomName::new("rust").unwrap());
        s.open(rust.clone());
        s.load_older();
        assert!(
            s.take_outbox().is_empty(),
            "nothing older before a first page"
        );
        s.apply(ServerMessage::History {
            id: 0,
            with: rust.clone(),
            messages: vec![msg(50, "bob", rust.clone(), "hi")],
            more: true,
            unreadable: 0,
            cursor: None,
        });
        s.load_older();
        let (id, r) = s.take_outbox().pop().unwrap();
        assert!(matches!(
            r,
            Request::History {
                before: Some(50),
                ..
            }
        ));
        assert!(s.conversations[&rust].loading);
        s.open(general());
        s.on_reply(id, refusal(ErrorCode::Internal, "internal error"));
        assert!(
            !s.conversations[&rust].loading,
            "scrolling up may ask again"
        );
        assert_eq!(
            infos(&s, &rust),
            ["Could not load the messages: internal error."]
        );
        assert!(infos(&s, &general()).is_empty());
        // Lost with the connection: loading stops too.
        s.open(rust.clone());
        s.load_older();
        let (id, _) = s.take_outbox().pop().unwrap();
        s.on_unanswered(&[id]);
        assert!(!s.conversations[&rust].loading);
    }

    #[test]
    fn a_refused_join_is_reported_where_it_was_asked() {
        let mut s = ChatState::new(u("meg"), vec![room("general", 0), room("rust", 0)]);
        let rust = Target::Room(RoomName::new("rust").unwrap());
        s.open(rust.clone());
        s.join(RoomName::new("books").unwrap());
        let (id, _) = s.take_outbox().pop().unwrap();
        s.open(general());
        s.on_reply(
            id,
            refusal(ErrorCode::Storage, "the disk is full; nothing was changed"),
        );
        assert_eq!(
            infos(&s, &rust),
            ["Could not join #books: the disk is full; nothing was changed."]
        );
        assert!(infos(&s, &general()).is_empty());
    }

    /// An error answering no request of ours goes to the open conversation:
    /// there is nowhere better.
    #[test]
    fn an_error_for_no_known_request_goes_to_the_open_conversation() {
        let mut s = ChatState::new(u("meg"), vec![room("general", 0)]);
        s.apply(ServerMessage::error(
            None,
            ErrorCode::BadRequest,
            "bad request",
        ));
        assert_eq!(infos(&s, &general()), ["Error: bad request"]);
    }

    #[test]
    fn damaged_history_is_said_in_its_own_conversation() {
        let mut s = ChatState::new(u("meg"), vec![room("general", 0), room("rust", 0)]);
        let rust = Target::Room(RoomName::new("rust").unwrap());
        s.fetch(rust.clone(), Page::Newest, None, None);
        let (id, _) = s.take_outbox().pop().unwrap();
        s.open(general());
        s.on_reply(
            id,
            ServerMessage::History {
                id: 0,
                with: rust.clone(),
                messages: vec![msg(50, "bob", rust.clone(), "hi")],
                more: false,
                unreadable: 2,
                cursor: None,
            },
        );
        let says = |t: &Target| -> Vec<String> {
            s.conversations[t]
                .entries
                .iter()
                .filter_map(|e| match e {
                    Entry::Info { text, .. } => Some(text.clone()),
                    _ => None,
                })
                .collect()
        };
        assert_eq!(says(&rust), [unreadable_note(2)]);
        assert!(
            !s.conversations
                .get(&general())
                .is_some_and(|_| says(&general()).contains(&unreadable_note(2)))
        );
    }
}
