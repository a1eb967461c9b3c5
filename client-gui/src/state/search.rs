//! Searching the user's own history on the server (protocol v4 `search`),
//! and opening a conversation at a result.
//!
//! A search walks the server's copy of the history a bounded stretch per
//! request, so a page may be short or empty and still say `more`: empty
//! pages are skipped by asking again at once (one request in flight,
//! at most [`SEARCH_EMPTY_PAGES_MAX`] in a row before the user is asked),
//! a page with results waits for "more results".
//!
//! Opening a result shows its conversation and loads older pages of it
//! until the message is there (the pages in between are loaded too, so
//! what is shown stays one unbroken stretch); the view then scrolls to it
//! and highlights it ([`ChatState::jump`]).

use cove_common::proto::{ChatMessage, MessageId};
use cove_common::{ErrorCode, HistoryCursor, Request, SearchText, Target};

use super::ChatState;
use super::requests::Purpose;

/// Empty pages (each a bounded stretch of the history without a match)
/// skipped in a row before the app stops and offers to search further: a
/// search for something rare in a long history should not keep the server
/// reading with nobody looking.
pub const SEARCH_EMPTY_PAGES_MAX: u32 = 20;

/// One search and what it found so far.
#[derive(Debug, Clone)]
pub struct Search {
    /// What was searched for.
    pub text: SearchText,
    /// Results, newest first, each once.
    pub results: Vec<ChatMessage>,
    /// Whether older history is left to search.
    pub more: bool,
    /// Whether a page is being asked for.
    pub searching: bool,
    /// Why the last page failed, for the user.
    pub error: Option<String>,
    /// Damaged stored batches the server stepped over.
    pub unreadable: u32,
    /// Where the next page starts.
    cursor: Option<HistoryCursor>,
    /// Empty pages skipped in a row.
    empty_run: u32,
    /// Which search of the app's life this is: a reply to an older search
    /// (replaced while its page was on its way) is dropped.
    pub(super) seq: u64,
}

/// The message a result opened: its conversation is shown and loaded back
/// to it, and the view scrolls to it and highlights it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Jump {
    /// Its conversation.
    pub with: Target,
    /// The message.
    pub id: MessageId,
    /// Whether it is loaded (the view can scroll to it).
    pub found: bool,
    /// Whether loading stopped without finding it (deleted, or before
    /// what the server keeps).
    pub missing: bool,
}

impl ChatState {
    /// Starts a search, replacing any other (whose reply is then ignored).
    pub fn search(&mut self, text: SearchText) {
        self.search_seq += 1;
        self.search = Some(Search {
            text,
            results: Vec::new(),
            more: true,
            searching: false,
            error: None,
            unreadable: 0,
            cursor: None,
            empty_run: 0,
            seq: self.search_seq,
        });
        self.search_more();
    }

    /// Asks for the next page of the search, unless one is on its way or
    /// nothing is left.
    pub fn search_more(&mut self) {
        let Some(s) = &mut self.search else {
            return;
        };
        if s.searching || !s.more {
            return;
        }
        s.searching = true;
        s.error = None;
        s.empty_run = 0;
        let (seq, request) = (s.seq, search_request(s));
        self.ask(Purpose::Search { seq }, request);
    }

    /// Closes the search panel.
    pub fn close_search(&mut self) {
        self.search = None;
    }

    /// A page of the search `seq` arrived.
    pub(super) fn search_page(
        &mut self,
        seq: u64,
        messages: Vec<ChatMessage>,
        more: bool,
        cursor: Option<HistoryCursor>,
        unreadable: u32,
    ) {
        let Some(s) = self.search.as_mut().filter(|s| s.seq == seq) else {
            return;
        };
        s.searching = false;
        s.unreadable += unreadable;
        let empty = messages.is_empty();
        for m in messages {
            if !s.results.iter().any(|r| r.id == m.id) {
                s.results.push(m);
            }
        }
        // Without a cursor there is nowhere to go on from.
        s.more = more && cursor.is_some();
        s.cursor = cursor;
        s.empty_run = if empty { s.empty_run + 1 } else { 0 };
        if empty && s.more && s.empty_run < SEARCH_EMPTY_PAGES_MAX {
            s.searching = true;
            let request = search_request(s);
            self.ask(Purpose::Search { seq }, request);
        }
    }

    /// The search `seq` was refused, or its page lost with the connection.
    pub(super) fn search_failed(&mut self, seq: u64, code: Option<ErrorCode>, message: String) {
        let Some(s) = self.search.as_mut().filter(|s| s.seq == seq) else {
            return;
        };
        s.searching = false;
        if code == Some(ErrorCode::BadCursor) {
            // The server's copy changed under the cursor: what was found
            // stays, but where to go on is lost.
            s.more = false;
            s.cursor = None;
        }
        s.error = Some(message);
    }

    /// Whether the search stopped after [`SEARCH_EMPTY_PAGES_MAX`] empty
    /// pages in a row (the panel then offers to search further).
    pub fn search_paused(&self) -> bool {
        self.search
            .as_ref()
            .is_some_and(|s| !s.searching && s.more && s.empty_run >= SEARCH_EMPTY_PAGES_MAX)
    }

    /// Opens the conversation of the result `id` at that message.
    pub fn open_result(&mut self, id: MessageId) {
        let Some(m) = self
            .search
            .as_ref()
            .and_then(|s| s.results.iter().find(|m| m.id == id))
        else {
            return;
        };
        let with = m.to.conversation_for(&m.from, &self.me);
        self.jump_to(with, id);
    }

    /// Shows `with` at its message `id` (a search result, the original of
    /// a reply), loading older pages until it is there.
    pub fn jump_to(&mut self, with: Target, id: MessageId) {
        self.show(with.clone());
        self.jump = Some(Jump {
            with,
            id,
            found: false,
            missing: false,
        });
        self.seek_jump();
    }

    /// Moves the jump on: found once its message is loaded; otherwise the
    /// next older page of its conversation is asked for (once its newest
    /// page is there, one page at a time), until the conversation's loaded
    /// messages reach below it or nothing older is left.
    pub(super) fn seek_jump(&mut self) {
        let Some(j) = &self.jump else {
            return;
        };
        if j.found || j.missing {
            return;
        }
        let (with, id) = (j.with.clone(), j.id);
        let Some(conv) = self.conversations.get(&with) else {
            return;
        };
        let (found, waiting) = (
            conv.has(id),
            !conv.loaded || conv.loading || self.fetching_newest(&with),
        );
        // Loaded messages reaching below it without it: it is not there.
        let gone = conv.oldest_id().is_some_and(|o| o < id) || !conv.more_history;
        let Some(j) = &mut self.jump else {
            return;
        };
        if found {
            j.found = true;
        } else if waiting {
            // Its answer calls this again.
        } else if gone {
            j.missing = true;
        } else {
            self.ask_older(with);
        }
    }

    /// The conversation shown changed: a jump elsewhere is over.
    pub(super) fn end_jump_unless(&mut self, shown: &Target) {
        if self.jump.as_ref().is_some_and(|j| j.with != *shown) {
            self.jump = None;
        }
    }
}

fn search_request(s: &Search) -> Request {
    Request::Search {
        text: s.text.clone(),
        with: None,
        limit: None,
        cursor: s.cursor.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::RequestId;
    use crate::state::tests::{general, msg, room, u};
    use cove_common::ServerMessage;

    fn cursor(c: &str) -> Option<HistoryCursor> {
        Some(HistoryCursor::new(c).unwrap())
    }

    /// The searches in the outbox: request id and cursor.
    fn searches(s: &mut ChatState) -> Vec<(RequestId, Option<HistoryCursor>)> {
        s.take_outbox()
            .into_iter()
            .filter_map(|(id, r)| match r {
                Request::Search { cursor, .. } => Some((id, cursor)),
                _ => None,
            })
            .collect()
    }

    fn reply(messages: Vec<ChatMessage>, more: bool, next: &str) -> ServerMessage {
        ServerMessage::Search {
            id: 0,
            messages,
            more,
            unreadable: 0,
            cursor: if more { cursor(next) } else { None },
        }
    }

    #[test]
    fn empty_pages_are_skipped_one_at_a_time_and_results_wait_for_more() {
        let mut s = ChatState::new(u("meg"), vec![room("general", 0)]);
        s.search(SearchText::new("zoë").unwrap());
        let [(first, None)] = &searches(&mut s)[..] else {
            panic!("one search from the newest")
        };
        // Nothing asked twice while a page is on its way.
        s.search_more();
        assert!(searches(&mut s).is_empty());

        // An empty page with more: the next is asked at once, from its cursor.
        s.on_reply(*first, reply(vec![], true, "c1"));
        let asked = searches(&mut s);
        assert_eq!(asked.len(), 1);
        assert_eq!(asked[0].1, cursor("c1"));

        // Results: shown, and the next page waits for the user.
        let hit = msg(50, "bob", general(), "ask Zoë");
        s.on_reply(asked[0].0, reply(vec![hit.clone()], true, "c2"));
        assert!(searches(&mut s).is_empty());
        let found = s.search.as_ref().unwrap();
        assert_eq!(found.results, std::slice::from_ref(&hit));
        assert!(found.more && !found.searching);

        s.search_more();
        let asked = searches(&mut s);
        assert_eq!(asked[0].1, cursor("c2"));
        let older = msg(10, "meg", general(), "ZOË");
        s.on_reply(asked[0].0, reply(vec![older.clone()], false, ""));
        let found = s.search.as_ref().unwrap();
        assert_eq!(found.results, [hit, older]);
        assert!(!found.more);
        s.search_more();
        assert!(
            searches(&mut s).is_empty(),
            "the whole history was searched"
        );
    }

    #[test]
    fn a_long_run_of_empty_pages_pauses_and_a_new_search_drops_the_old_reply() {
        let mut s = ChatState::new(u("meg"), vec![room("general", 0)]);
        s.search(SearchText::new("rare").unwrap());
        let mut pages = 0;
        while let [(id, _)] = &searches(&mut s)[..] {
            pages += 1;
            s.on_reply(*id, reply(vec![], true, &format!("c{pages}")));
        }
        assert_eq!(pages, SEARCH_EMPTY_PAGES_MAX);
        assert!(s.search_paused());
        s.search_more();
        assert_eq!(searches(&mut s)[0].1, cursor(&format!("c{pages}")));

        // A new search replaces it: the old one's page is ignored.
        let old = s.search.as_ref().unwrap().seq;
        s.search(SearchText::new("other").unwrap());
        let [(new, _)] = &searches(&mut s)[..] else {
            panic!()
        };
        s.search_page(old, vec![msg(5, "bob", general(), "rare")], false, None, 0);
        assert!(s.search.as_ref().unwrap().results.is_empty());
        s.on_reply(
            *new,
            reply(vec![msg(6, "bob", general(), "other")], false, ""),
        );
        assert_eq!(s.search.as_ref().unwrap().results.len(), 1);
    }

    /// Opening a result in a conversation not loaded yet: its newest page,
    /// then older pages until the message is there.
    #[test]
    fn opening_a_result_loads_its_conversation_back_to_it() {
        let mut s = ChatState::new(u("meg"), vec![room("general", 0)]);
        let bob = Target::User(u("bob"));
        s.search(SearchText::new("zoë").unwrap());
        let [(id, _)] = &searches(&mut s)[..] else {
            panic!()
        };
        let hit = msg(30, "bob", Target::User(u("meg")), "Zoë?");
        s.on_reply(*id, reply(vec![hit], false, ""));

        s.open_result(30);
        assert_eq!(s.current, bob, "its conversation is shown");
        let history = |s: &mut ChatState| -> Vec<(RequestId, Option<MessageId>)> {
            s.take_outbox()
                .into_iter()
                .filter_map(|(id, r)| match r {
                    Request::History { before, .. } => Some((id, before)),
                    _ => None,
                })
                .collect()
        };
        let [(newest, None)] = &history(&mut s)[..] else {
            panic!("its newest page")
        };
        let page = |ids: &[u64], more: bool| ServerMessage::History {
            id: 0,
            with: bob.clone(),
            messages: ids
                .iter()
                .map(|&i| msg(i, "bob", Target::User(u("meg")), "x"))
                .collect(),
            more,
            unreadable: 0,
            cursor: None,
        };
        s.on_reply(*newest, page(&[90, 80], true));
        assert!(!s.jump.as_ref().unwrap().found);
        let [(older, Some(80))] = &history(&mut s)[..] else {
            panic!("the page below")
        };
        s.on_reply(*older, page(&[70, 30, 20], true));
        let jump = s.jump.as_ref().unwrap();
        assert!(jump.found && jump.with == bob && jump.id == 30);
        assert!(history(&mut s).is_empty(), "no page more than needed");

        // Showing another conversation ends the jump.
        s.show(general());
        assert!(s.jump.is_none());
    }
}
