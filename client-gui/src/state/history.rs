//! History pages: the newest page when a conversation is first loaded,
//! older pages as the reader scrolls up, and after a reconnect the catch-up
//! of every loaded conversation (what arrived while the app was away; the
//! welcome's unread counts, from the server's read markers, count it).

use std::collections::HashMap;

use cove_common::client::Welcome;
use cove_common::limits::HISTORY_PAGE_MAX;
use cove_common::proto::{ChatMessage, MessageId};
use cove_common::{HistoryCursor, Request, Target};

use super::requests::{Page, Purpose};
use super::{ChatState, Conversation, Status};

/// Messages asked for when a conversation is first loaded.
pub const NEWEST_PAGE: u16 = 100;

/// Most pages one conversation's catch-up asks for after a reconnect.
/// Beyond them the messages loaded before the gap are dropped instead, so
/// what is shown never has a hole in it (scrolling up loads them again).
pub const MISSED_PAGES_MAX: u8 = 5;

impl ChatState {
    /// Asks for a page of `with`'s history: below `before` and, with a
    /// cursor, exactly where the server's last page stopped.
    pub(super) fn fetch(
        &mut self,
        with: Target,
        page: Page,
        before: Option<MessageId>,
        cursor: Option<HistoryCursor>,
    ) {
        let limit = match page {
            Page::Newest => NEWEST_PAGE,
            Page::Older | Page::Missed { .. } => HISTORY_PAGE_MAX,
        };
        self.ask(
            Purpose::History {
                with: with.clone(),
                page,
            },
            Request::History {
                with,
                before,
                limit,
                cursor,
            },
        );
    }

    /// Whether the newest messages of `with` are being fetched.
    pub(super) fn fetching_newest(&self, with: &Target) -> bool {
        self.asking(|p| {
            matches!(p, Purpose::History { with: w, page: Page::Newest | Page::Missed { .. } } if w == with)
        })
    }

    /// The reader scrolled to the top of the shown conversation: asks for
    /// older messages.
    pub fn load_older(&mut self) {
        let with = self.current.clone();
        // Until its first page arrives a conversation has no "older": that
        // page is on its way (or is asked for when it is shown again).
        if self.conversations.get(&with).is_some_and(|c| c.loaded) {
            self.ask_older(with);
        }
    }

    /// Asks for the page below the oldest message loaded in `with`, from
    /// where the server's last page stopped if it said.
    pub(super) fn ask_older(&mut self, with: Target) {
        let Some(conv) = self.conversations.get_mut(&with) else {
            return;
        };
        conv.loading = true;
        let (before, cursor) = (conv.oldest_id(), conv.older.clone());
        self.fetch(with, Page::Older, before, cursor);
    }

    /// A page (newest first) arrived in answer to a `page` request, with
    /// the cursor where the next older page starts.
    ///
    /// Since protocol v4 a page may be short, or empty, and still have
    /// `more`: the server reads a bounded stretch of the history per page.
    /// An empty page that reaches below what is loaded asks at once for
    /// the next one (one request in flight per conversation, the next only
    /// once this one is answered); a short one does not need to, its lines
    /// land above what is read and scrolling up asks again.
    pub(super) fn history_page(
        &mut self,
        with: Target,
        page: Page,
        messages: Vec<ChatMessage>,
        more: bool,
        cursor: Option<HistoryCursor>,
    ) {
        self.file_page(with, page, messages, more, cursor);
        // The first unread message may have arrived with it.
        self.place_new_line();
    }

    /// Puts a page's messages in place, and asks for what comes next.
    fn file_page(
        &mut self,
        with: Target,
        page: Page,
        messages: Vec<ChatMessage>,
        more: bool,
        cursor: Option<HistoryCursor>,
    ) {
        let conv = self
            .conversations
            .entry(with.clone())
            .or_insert_with(Conversation::unloaded);
        let oldest_before = conv.oldest_id();
        let page_oldest = messages.iter().map(|m| m.id).min();
        // Only a page that brought nothing, and says where to go on, asks
        // again by itself; without a cursor it would ask for the same page.
        let go_on = messages.is_empty() && more && cursor.is_some();
        for m in messages {
            conv.merge(m);
        }
        conv.loaded = true;
        match page {
            Page::Older => {
                conv.loading = false;
                conv.more_history = more;
                conv.older = cursor;
                if go_on {
                    self.ask_older(with);
                }
            }
            Page::Newest => {
                // Whether older messages exist is news only when the page
                // reaches down to what was loaded.
                if oldest_before.is_none_or(|o| page_oldest.is_some_and(|p| p <= o)) {
                    conv.more_history = more;
                    conv.older = cursor;
                    if go_on && !conv.loading {
                        self.ask_older(with);
                    }
                }
            }
            Page::Missed { since, pages } => {
                if !more || page_oldest.is_some_and(|p| p <= since) {
                    return; // caught up
                }
                match page_oldest {
                    // Nothing of this conversation in the stretch read:
                    // on from where it stopped. Such pages cost the server
                    // a bounded read each and hold nothing, so they do not
                    // count towards the pages kept.
                    None => {
                        if cursor.is_some() {
                            self.fetch(with, Page::Missed { since, pages }, None, cursor);
                        }
                    }
                    Some(oldest) if pages < MISSED_PAGES_MAX => {
                        let pages = pages + 1;
                        self.fetch(with, Page::Missed { since, pages }, Some(oldest), cursor);
                    }
                    Some(oldest) => {
                        conv.drop_before(oldest);
                        conv.older = cursor;
                    }
                }
            }
        }
    }

    /// Logged in again after the connection dropped: the welcome's rooms
    /// and direct conversations replace the lists (rooms may have been
    /// joined or left from another session meanwhile), every loaded
    /// conversation is caught up, the shown room's members are fetched
    /// again, and interrupted messages are re-sent once.
    pub fn logged_in_again(&mut self, welcome: Welcome) {
        self.status = Status::Online;
        self.files.max_file_bytes = welcome.session.max_file_bytes;
        let since: HashMap<Target, MessageId> = self
            .conversations
            .iter()
            .filter(|(_, c)| c.loaded)
            .map(|(t, c)| (t.clone(), c.newest_id().unwrap_or(0)))
            .collect();
        // The welcome's counts are the server's, from the user's read
        // markers (protocol v4): they already count what the catch-up
        // below brings, which therefore counts nothing itself.
        self.set_rooms(welcome.rooms);
        if let Target::Room(r) = &self.current
            && !self.rooms.iter().any(|m| &m.name == r)
        {
            self.current = Target::Room(cove_common::RoomName::general());
        }
        let mut begun_while_away = Vec::new();
        for u in &welcome.directs {
            if !self.directs.contains(u) {
                self.directs.push(u.clone());
                begun_while_away.push(Target::User(u.clone()));
            }
        }
        self.set_direct_unread(&welcome.direct_unread);
        // Invitations made while away come with the welcome; the list is
        // the server's, whole.
        self.invitations.clear();
        for i in welcome.invitations {
            self.invited(i.room, i.by);
        }
        let rooms = self.rooms.iter().map(|r| Target::Room(r.name.clone()));
        let directs = self.directs.iter().map(|u| Target::User(u.clone()));
        let known: Vec<Target> = rooms.chain(directs).collect();
        for t in known {
            let since = match since.get(&t) {
                Some(&since) => Some(since),
                // All of a conversation begun while away is news.
                None if begun_while_away.contains(&t) => Some(0),
                None => None,
            };
            match since {
                Some(since) => self.fetch(t, Page::Missed { since, pages: 1 }, None, None),
                // A direct conversation that only this app knows (nothing
                // was ever exchanged) and that never loaded is loaded when
                // it is shown again, not now.
                None if matches!(&t, Target::User(u) if !welcome.directs.contains(u)) => {}
                None => self.fetch(t, Page::Newest, None, None),
            }
        }
        if let Target::Room(room) = self.current.clone() {
            self.ask_members(room);
        }
        for p in self.take_resends() {
            self.send_pending(&p);
        }
        self.resend_changes();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Entry;
    use crate::state::tests::{general, msg, room, u};
    use cove_common::proto::SessionInfo;
    use cove_common::{RoomName, ServerMessage};

    fn welcome(rooms: Vec<cove_common::proto::RoomInfo>, directs: &[&str]) -> Welcome {
        Welcome {
            session: SessionInfo {
                username: u("meg"),
                server_time: 0,
                max_file_bytes: 0,
            },
            rooms,
            directs: directs.iter().map(|d| u(d)).collect(),
            direct_unread: Vec::new(),
            invitations: Vec::new(),
        }
    }

    /// The history requests in the outbox: (request id, with, before).
    fn pages(s: &mut ChatState) -> Vec<(super::super::RequestId, Target, Option<MessageId>)> {
        s.take_outbox()
            .into_iter()
            .filter_map(|(id, r)| match r {
                Request::History { with, before, .. } => Some((id, with, before)),
                _ => None,
            })
            .collect()
    }

    fn empty(to: &Target) -> ServerMessage {
        ServerMessage::History {
            id: 0,
            with: to.clone(),
            messages: Vec::new(),
            more: false,
            unreadable: 0,
            cursor: None,
        }
    }

    fn page(ids: std::ops::RangeInclusive<u64>, to: &Target, more: bool) -> ServerMessage {
        ServerMessage::History {
            id: 0,
            with: to.clone(),
            messages: ids.rev().map(|i| msg(i, "bob", to.clone(), "m")).collect(),
            more,
            unreadable: 0,
            cursor: None,
        }
    }

    #[test]
    fn after_a_reconnect_loaded_conversations_catch_up_and_count_unread() {
        let rust = Target::Room(RoomName::new("rust").unwrap());
        let mut s =
            ChatState::from_welcome(welcome(vec![room("general", 0), room("rust", 0)], &["bob"]));
        // The first pages: general 1..=3 and rust 10..=12; bob's is empty.
        for (id, with, _) in pages(&mut s) {
            let reply = match &with {
                t if *t == general() => page(1..=3, t, false),
                t if *t == rust => page(10..=12, t, false),
                t => empty(t),
            };
            s.on_reply(id, reply);
        }
        assert!(s.conversations.values().all(|c| c.loaded));

        // Away; the server says rust has 300 unread (counted from the
        // user's read marker, so the catch-up counts nothing again) and a
        // new room and a new direct conversation exist.
        let mut again = welcome(
            vec![room("general", 0), room("rust", 300), room("books", 2)],
            &["bob", "cat"],
        );
        again.direct_unread = vec![cove_common::proto::DirectUnread {
            user: u("cat"),
            unread: 2,
            mentions: 0,
        }];
        s.logged_in_again(again);
        let asked = pages(&mut s);
        let before: Vec<_> = asked.iter().map(|(_, w, b)| (w.clone(), *b)).collect();
        assert_eq!(before.len(), 5, "{before:?}");
        assert!(before.iter().all(|(_, b)| b.is_none()), "newest pages");
        for (id, with, _) in asked {
            let reply = match &with {
                // 200 newer than 12 arrived: two pages to meet it.
                t if *t == rust => page(113..=312, t, true),
                t if *t == general() => page(2..=5, t, true),
                t if *t == Target::User(u("cat")) => page(7..=8, t, false),
                t => empty(t),
            };
            s.on_reply(id, reply);
        }
        let next = pages(&mut s);
        assert_eq!(next.len(), 1, "{next:?}");
        assert_eq!((&next[0].1, next[0].2), (&rust, Some(113)));
        s.on_reply(next[0].0, page(1..=112, &rust, false));
        assert!(pages(&mut s).is_empty(), "caught up");
        assert_eq!(
            s.conversations[&rust].unread, 300,
            "the server's count, not counted again"
        );
        assert_eq!(s.conversations[&general()].unread, 0, "shown");
        let books = Target::Room(RoomName::new("books").unwrap());
        assert_eq!(s.conversations[&books].unread, 2, "from the welcome");
        let cat = Target::User(u("cat"));
        assert_eq!(
            s.conversations[&cat].unread, 2,
            "begun while away: the server's count"
        );
        let general_ids = s.conversations[&general()].message_ids();
        assert_eq!(general_ids, [1, 2, 3, 4, 5], "merged by id");
        assert!(!s.conversations[&general()].more_history);
    }

    /// A catch-up that would need too many pages drops what was loaded
    /// before the gap, so no hole is ever shown.
    #[test]
    fn a_catch_up_too_long_leaves_no_hole() {
        let mut s = ChatState::new(u("meg"), vec![room("general", 0)]);
        s.apply(page(1..=3, &general(), false));
        s.logged_in_again(welcome(vec![room("general", 0)], &[]));
        let mut top = 10_000;
        for _ in 0..MISSED_PAGES_MAX {
            let asked = pages(&mut s);
            assert_eq!(asked.len(), 1);
            s.on_reply(asked[0].0, page(top - 199..=top, &general(), true));
            top -= 200;
        }
        assert!(pages(&mut s).is_empty());
        let conv = &s.conversations[&general()];
        assert_eq!(conv.oldest_id(), Some(top + 1), "1..=3 dropped");
        assert!(conv.more_history, "scrolling up loads them again");
    }

    /// The history requests in the outbox with their cursors: (request
    /// id, with, before, cursor).
    #[allow(clippy::type_complexity)]
    fn asked(
        s: &mut ChatState,
    ) -> Vec<(
        super::super::RequestId,
        Target,
        Option<MessageId>,
        Option<HistoryCursor>,
    )> {
        s.take_outbox()
            .into_iter()
            .filter_map(|(id, r)| match r {
                Request::History {
                    with,
                    before,
                    cursor,
                    ..
                } => Some((id, with, before, cursor)),
                _ => None,
            })
            .collect()
    }

    fn cursor(c: &str) -> HistoryCursor {
        HistoryCursor::new(c).unwrap()
    }

    /// `reply` with `more` and a cursor.
    fn going_on(reply: ServerMessage, next: &str) -> ServerMessage {
        match reply {
            ServerMessage::History {
                id,
                with,
                messages,
                unreadable,
                ..
            } => ServerMessage::History {
                id,
                with,
                messages,
                more: true,
                unreadable,
                cursor: Some(cursor(next)),
            },
            other => other,
        }
    }

    /// Since protocol v4 a page may come back empty and still say `more`
    /// (the server read its budget without meeting this conversation): the
    /// next page is asked for at once, from that page's cursor, one request
    /// at a time, until a page brings messages or says there is no more.
    #[test]
    fn an_empty_page_with_more_asks_for_the_next_from_its_cursor() {
        let mut s = ChatState::new(u("meg"), vec![room("general", 0)]);
        s.apply(going_on(page(100..=120, &general(), true), "c1"));
        s.load_older();
        let first = asked(&mut s);
        assert_eq!(first.len(), 1);
        assert_eq!(
            (first[0].2, first[0].3.clone()),
            (Some(100), Some(cursor("c1"))),
            "older pages go on from the last page's cursor"
        );
        s.on_reply(first[0].0, going_on(empty(&general()), "c2"));
        let second = asked(&mut s);
        assert_eq!(second.len(), 1, "asked again by itself, once");
        assert_eq!(
            (second[0].2, second[0].3.clone()),
            (Some(100), Some(cursor("c2")))
        );
        let conv = &s.conversations[&general()];
        assert!(conv.loading && conv.more_history, "not the end");
        // A page with messages ends the run: the reader scrolls for more.
        s.on_reply(second[0].0, going_on(page(60..=70, &general(), true), "c3"));
        assert!(asked(&mut s).is_empty());
        let conv = &s.conversations[&general()];
        assert!(!conv.loading && conv.more_history);
        assert_eq!(conv.older, Some(cursor("c3")));
        s.load_older();
        let third = asked(&mut s);
        assert_eq!(third[0].3, Some(cursor("c3")));
        // An empty last page ends it too.
        s.on_reply(third[0].0, empty(&general()));
        assert!(asked(&mut s).is_empty());
        assert!(!s.conversations[&general()].more_history);
    }

    /// A conversation whose first page is empty but says `more` goes on
    /// loading by itself; so does a catch-up after a reconnect, whose
    /// empty pages do not count towards the pages it may take.
    #[test]
    fn empty_newest_and_catch_up_pages_go_on_from_their_cursors() {
        let mut s = ChatState::from_welcome(welcome(vec![room("general", 0)], &[]));
        let newest = asked(&mut s);
        assert_eq!(newest.len(), 1);
        s.on_reply(newest[0].0, going_on(empty(&general()), "n1"));
        let next = asked(&mut s);
        assert_eq!(next.len(), 1);
        assert_eq!((next[0].2, next[0].3.clone()), (None, Some(cursor("n1"))));
        s.on_reply(next[0].0, page(1..=3, &general(), false));
        assert!(asked(&mut s).is_empty());

        s.logged_in_again(welcome(vec![room("general", 0)], &[]));
        let mut first = asked(&mut s);
        for i in 0..MISSED_PAGES_MAX * 3 {
            assert_eq!(first.len(), 1, "one at a time");
            s.on_reply(first[0].0, going_on(empty(&general()), &format!("m{i}")));
            first = asked(&mut s);
            assert_eq!(first[0].3, Some(cursor(&format!("m{i}"))));
        }
        s.on_reply(first[0].0, page(2..=9, &general(), true));
        assert!(asked(&mut s).is_empty(), "met what was loaded");
        let ids = s.conversations[&general()].message_ids();
        assert_eq!(ids, (1..=9).collect::<Vec<_>>());
    }

    /// A refused cursor: the page is asked for again without it, with
    /// `before`, as the protocol says; no "could not load" is shown.
    #[test]
    fn a_refused_cursor_is_dropped_and_the_page_asked_by_before() {
        let mut s = ChatState::new(u("meg"), vec![room("general", 0)]);
        s.apply(going_on(page(100..=120, &general(), true), "stale"));
        s.load_older();
        let first = asked(&mut s);
        s.on_reply(
            first[0].0,
            ServerMessage::error(Some(1), cove_common::ErrorCode::BadCursor, "bad cursor"),
        );
        let again = asked(&mut s);
        assert_eq!(again.len(), 1);
        assert_eq!((again[0].2, again[0].3.clone()), (Some(100), None));
        assert!(s.conversations[&general()].loading);
        assert!(
            s.conversations[&general()]
                .entries
                .iter()
                .all(|e| !matches!(e, Entry::Info { .. }))
        );
    }

    #[test]
    fn a_room_left_meanwhile_is_gone_and_general_shown() {
        let rust = Target::Room(RoomName::new("rust").unwrap());
        let mut s = ChatState::new(u("meg"), vec![room("general", 0), room("rust", 0)]);
        s.open(rust);
        s.logged_in_again(welcome(vec![room("general", 0)], &[]));
        assert_eq!(s.current, general());
        assert_eq!(s.rooms.len(), 1);
        assert!(s.take_outbox().iter().any(|(_, r)| matches!(
            r,
            Request::Members { room } if *room == RoomName::general()
        )));
    }
}
