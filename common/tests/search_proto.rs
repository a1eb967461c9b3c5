//! The `search` request and reply (protocol v4) on the wire: round trips,
//! the optional fields, and the bound on the text.
#![allow(clippy::unwrap_used, missing_docs)]

use cove_common::limits::SEARCH_TEXT_MAX_CHARS;
use cove_common::proto::{ChatMessage, Unparsed};
use cove_common::{
    ClientMessage, HistoryCursor, MessageText, Request, RoomName, SearchText, ServerMessage,
    Target, Username,
};

#[test]
fn search_round_trips_with_and_without_its_options() {
    let full = Request::Search {
        text: SearchText::new("Zoë déjà").unwrap(),
        with: Some(Target::User(Username::new("bob").unwrap())),
        limit: Some(7),
        cursor: Some(HistoryCursor::new("00000000000000100000002").unwrap()),
    };
    let bare = Request::Search {
        text: SearchText::new("x").unwrap(),
        with: None,
        limit: None,
        cursor: None,
    };
    for request in [full, bare] {
        let bytes = ClientMessage { id: 9, request }.encode();
        let back = ClientMessage::parse(&bytes).unwrap();
        assert_eq!(back.id, 9);
        assert_eq!(back.encode(), bytes);
    }
    let Request::Search {
        text,
        with,
        limit,
        cursor,
    } = ClientMessage::parse(br#"{"id":1,"type":"search","text":"hi"}"#)
        .unwrap()
        .request
    else {
        panic!("not a search");
    };
    assert_eq!(text.as_str(), "hi");
    assert!(with.is_none() && limit.is_none() && cursor.is_none());

    let reply = ServerMessage::Search {
        id: 4,
        messages: vec![ChatMessage::new(
            10,
            1,
            Username::new("alice").unwrap(),
            Target::Room(RoomName::general()),
            MessageText::new("ZOË").unwrap(),
        )],
        more: true,
        unreadable: 2,
        cursor: Some(HistoryCursor::new("000000000000001000000000").unwrap()),
    };
    let bytes = reply.encode();
    let back = ServerMessage::parse(&bytes).unwrap();
    assert_eq!(back.encode(), bytes);
    assert_eq!(
        back.answers(),
        Some(4),
        "a search reply answers its request"
    );
}

/// An empty or over-long text is refused at parsing, and the error can
/// still name the request.
#[test]
fn search_text_is_bounded_on_the_wire() {
    let long = "é".repeat(SEARCH_TEXT_MAX_CHARS + 1);
    let ok = "é".repeat(SEARCH_TEXT_MAX_CHARS);
    let json = |t: &str| format!(r#"{{"id":77,"type":"search","text":"{t}"}}"#).into_bytes();
    assert!(ClientMessage::parse(&json(&ok)).is_ok());
    for bad in [json(&long), json(""), json("   ")] {
        assert!(ClientMessage::parse(&bad).is_err());
        assert_eq!(
            ClientMessage::salvage(&bad),
            Unparsed::Invalid { id: Some(77) }
        );
    }
}
