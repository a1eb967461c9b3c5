use super::*;

fn user(s: &str) -> Username {
    Username::new(s).unwrap()
}

#[test]
fn request_wire_shape() {
    let m = ClientMessage {
        id: 7,
        request: Request::Send {
            client_id: ClientMsgId::new("c1").unwrap(),
            to: Target::Room(RoomName::general()),
            text: Some(MessageText::new("hi").unwrap()),
            reply_to: None,
            file: None,
        },
    };
    let json = String::from_utf8(m.encode()).unwrap();
    assert_eq!(
        json,
        r#"{"id":7,"type":"send","client_id":"c1","to":{"room":"general"},"text":"hi"}"#
    );
    let back = ClientMessage::parse(json.as_bytes()).unwrap();
    assert!(matches!(back.request, Request::Send { .. }));
}

#[test]
fn unit_requests_parse() {
    let m = ClientMessage::parse(br#"{"id":1,"type":"logout"}"#).unwrap();
    assert!(matches!(m.request, Request::Logout));
    let m = ClientMessage::parse(br#"{"id":2,"type":"ping"}"#).unwrap();
    assert!(matches!(m.request, Request::Ping));
}

#[test]
fn invalid_fields_are_parse_errors() {
    let e = ClientMessage::parse(
        br#"{"id":1,"type":"register","username":"../x","password":"longenough"}"#,
    )
    .unwrap_err();
    assert!(e.to_string().contains("malformed message"), "{e}");
    let e = ClientMessage::parse(br#"{"id":1,"type":"teleport"}"#).unwrap_err();
    assert!(matches!(e, ParseError::Malformed(_)));
    let e = ClientMessage::parse(&vec![b' '; MAX_FRAME_LEN + 1]).unwrap_err();
    assert!(matches!(e, ParseError::TooLarge(_)));
}

#[test]
fn an_invalid_request_still_gives_its_id() {
    let cases: [(&[u8], Unparsed); 7] = [
        (
            br#"{"id":7,"type":"teleport"}"#,
            Unparsed::Invalid { id: Some(7) },
        ),
        (
            br#"{"type":"join","id":8,"extra":[1,{}]}"#,
            Unparsed::Invalid { id: Some(8) },
        ),
        (
            br#"{"id":"9","type":"ping"}"#,
            Unparsed::Invalid { id: None },
        ),
        (br#"{"id":-1}"#, Unparsed::Invalid { id: None }),
        (b"[1,2]", Unparsed::NotAnObject),
        (b"{not json", Unparsed::NotAnObject),
        (b"\"id\"", Unparsed::NotAnObject),
    ];
    for (bytes, want) in cases {
        assert!(ClientMessage::parse(bytes).is_err());
        assert_eq!(
            ClientMessage::salvage(bytes),
            want,
            "{}",
            String::from_utf8_lossy(bytes)
        );
    }
}

#[test]
fn server_messages_round_trip() {
    let msgs = vec![
        ServerMessage::error(Some(3), ErrorCode::NameTaken, "that name is taken"),
        ServerMessage::Message(ChatMessage::new(
            10,
            1_700_000_000_000,
            user("alice"),
            Target::User(user("bob")),
            MessageText::new("psst").unwrap(),
        )),
        ServerMessage::Notice(Notice::new(
            5,
            NoticeKind::Exited {
                user: user("alice"),
            },
        )),
    ];
    for m in msgs {
        let bytes = m.encode();
        let back = ServerMessage::parse(&bytes).unwrap();
        assert_eq!(back.encode(), bytes);
    }
}

/// The v4 additions survive a round trip, and only the reply to `read`
/// answers a request.
#[test]
fn typing_and_read_round_trip() {
    let general = Target::Room(RoomName::general());
    for request in [
        Request::Typing {
            with: general.clone(),
        },
        Request::Read {
            with: Target::User(user("bob")),
            up_to: 42,
        },
    ] {
        let bytes = ClientMessage { id: 3, request }.encode();
        let back = ClientMessage::parse(&bytes).unwrap();
        assert_eq!(back.id, 3);
        assert_eq!(back.encode(), bytes);
    }
    let typing = ServerMessage::Typing {
        with: general.clone(),
        user: user("bob"),
    };
    let reply = ServerMessage::Read {
        id: Some(4),
        with: general.clone(),
        up_to: 42,
        unread: 0,
        mentions: 0,
    };
    let pushed = ServerMessage::Read {
        id: None,
        with: general,
        up_to: 42,
        unread: 2,
        mentions: 1,
    };
    assert!(
        !String::from_utf8(pushed.encode())
            .unwrap()
            .contains("\"id\"")
    );
    for (m, answers) in [(typing, None), (reply, Some(4)), (pushed, None)] {
        let bytes = m.encode();
        let back = ServerMessage::parse(&bytes).unwrap();
        assert_eq!(back.encode(), bytes);
        assert_eq!(back.answers(), answers);
    }
    // `up_to` is required, as every field is.
    assert!(ClientMessage::parse(br#"{"id":1,"type":"read","with":{"room":"general"}}"#).is_err());
    // A welcome of v3's shape still parses (no `direct_unread`).
    let w = ServerMessage::parse(
        br#"{"type":"welcome","id":0,"session":{"username":"a1b","server_time":1},"rooms":[],"directs":[]}"#,
    )
    .unwrap();
    assert!(matches!(w, ServerMessage::Welcome { direct_unread, .. } if direct_unread.is_empty()));
}

#[test]
fn exit_notice_sentence() {
    let n = Notice::new(
        0,
        NoticeKind::Exited {
            user: user("alice"),
        },
    );
    assert_eq!(n.text, "alice left the chat");
}

#[test]
fn unknown_error_codes_map_to_internal() {
    let m = ServerMessage::parse(br#"{"type":"error","id":null,"code":"brand_new","message":"x"}"#)
        .unwrap();
    assert!(matches!(
        m,
        ServerMessage::Error {
            code: ErrorCode::Internal,
            ..
        }
    ));
}

#[test]
fn direct_conversation_is_the_other_user() {
    let (a, b) = (user("alice"), user("bob"));
    let to_b = Target::User(b.clone());
    assert_eq!(to_b.conversation_for(&a, &b), Target::User(a.clone()));
    assert_eq!(to_b.conversation_for(&a, &a), Target::User(b));
}
