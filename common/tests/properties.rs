//! Property tests: hostile input to every parser of the protocol core never
//! panics, never allocates past the frame cap, and always yields a typed
//! error with a readable message; valid input always round-trips.
#![allow(clippy::unwrap_used, missing_docs)]

use bytes::{BufMut, BytesMut};
use cove_common::crypto::{EtmKey, OVERHEAD};
use cove_common::frame::{FrameError, LEN_PREFIX, decode_frame, encode_frame};
use cove_common::handshake::{
    CLIENT_HELLO_LEN, ClientHandshake, SERVER_HELLO_LEN, ServerHandshake, ServerIdentity,
};
use cove_common::limits::MAX_FRAME_LEN;
use cove_common::proto::{ChatMessage, MESSAGE_SEPARATOR, Notice, NoticeKind};
use cove_common::record::{Direction, MAX_RECORD_PLAINTEXT, Opener, Sealer};
use cove_common::{
    ClientMessage, ClientMsgId, MessageText, Request, RoomName, ServerMessage, Target, Username,
};
use proptest::prelude::*;

fn pair() -> (Sealer, Opener) {
    let k = EtmKey::derive(b"property ikm", b"salt", "properties");
    (
        Sealer::new(k.clone(), Direction::ServerToClient),
        Opener::new(k, Direction::ServerToClient),
    )
}

fn name() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_-][A-Za-z0-9_.-]{2,31}"
}

fn text() -> impl Strategy<Value = String> {
    "[^\\p{Cc}]{1,200}".prop_filter("a valid message text", |s| {
        MessageText::new(s.as_str()).is_ok()
    })
}

fn request() -> impl Strategy<Value = Request> {
    prop_oneof![
        (name(), "[ -~]{8,64}").prop_map(|(u, p)| Request::Login {
            username: Username::new(u).unwrap(),
            password: cove_common::Password::new(p).unwrap(),
        }),
        name().prop_map(|r| Request::Join {
            room: RoomName::new(r).unwrap()
        }),
        (name(), text(), "[!-~]{1,64}", any::<Option<u64>>()).prop_map(|(r, t, c, re)| {
            Request::Send {
                client_id: ClientMsgId::new(c).unwrap(),
                to: Target::Room(RoomName::new(r).unwrap()),
                text: Some(MessageText::new(t).unwrap()),
                reply_to: re,
                file: None,
            }
        }),
        (name(), text(), "[!-~]{1,64}", any::<u64>()).prop_map(|(r, t, c, m)| Request::Edit {
            client_id: ClientMsgId::new(c).unwrap(),
            with: Target::Room(RoomName::new(r).unwrap()),
            message_id: m,
            text: MessageText::new(t).unwrap(),
        }),
        (name(), "[!-~]{1,64}", any::<u64>(), any::<bool>()).prop_map(|(u, c, m, remove)| {
            Request::React {
                client_id: ClientMsgId::new(c).unwrap(),
                with: Target::User(Username::new(u).unwrap()),
                message_id: m,
                emoji: cove_common::Emoji::new("🎉").unwrap(),
                remove,
            }
        }),
        (
            name(),
            any::<Option<u64>>(),
            any::<u16>(),
            proptest::option::of("[!-~]{1,64}")
        )
            .prop_map(|(u, b, l, c)| Request::History {
                with: Target::User(Username::new(u).unwrap()),
                before: b,
                limit: l,
                cursor: c.map(|c| cove_common::HistoryCursor::new(c).unwrap()),
            }),
        Just(Request::Ping),
        Just(Request::Logout),
        Just(Request::ListRooms),
    ]
}

fn server_message() -> impl Strategy<Value = ServerMessage> {
    prop_oneof![
        (any::<u64>(), any::<u64>(), name(), name(), text()).prop_map(|(id, ts, f, r, t)| {
            ServerMessage::Message(ChatMessage::new(
                id,
                ts,
                Username::new(f).unwrap(),
                Target::Room(RoomName::new(r).unwrap()),
                MessageText::new(t).unwrap(),
            ))
        }),
        (any::<u64>(), name()).prop_map(|(ts, u)| ServerMessage::Notice(Notice::new(
            ts,
            NoticeKind::Exited {
                user: Username::new(u).unwrap()
            }
        ))),
        (any::<u64>(), "[ -~]{0,80}").prop_map(|(id, m)| ServerMessage::error(
            Some(id),
            cove_common::ErrorCode::NotMember,
            m
        )),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn frame_decoder_never_panics_nor_overallocates(chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 0..8)) {
        let mut buf = BytesMut::new();
        'feed: for c in chunks {
            buf.extend_from_slice(&c);
            loop {
                match decode_frame(&mut buf) {
                    Ok(Some(f)) => prop_assert!(!f.is_empty() && f.len() <= MAX_FRAME_LEN),
                    Ok(None) => break,
                    Err(e) => {
                        prop_assert!(matches!(e, FrameError::TooLarge(_) | FrameError::Empty));
                        prop_assert!(!e.to_string().is_empty());
                        break 'feed;
                    }
                }
            }
            // Never more than one maximal frame is reserved.
            prop_assert!(buf.capacity() <= 2 * (MAX_FRAME_LEN + LEN_PREFIX) + 4096);
        }
    }

    #[test]
    fn huge_length_prefix_costs_nothing(len in (MAX_FRAME_LEN as u32 + 1)..=u32::MAX) {
        let mut buf = BytesMut::new();
        buf.put_u32(len);
        let before = buf.capacity();
        prop_assert!(matches!(decode_frame(&mut buf), Err(FrameError::TooLarge(_))));
        prop_assert_eq!(buf.capacity(), before);
    }

    #[test]
    fn frames_round_trip(bodies in prop::collection::vec(prop::collection::vec(any::<u8>(), 1..2000), 1..6)) {
        let mut wire = BytesMut::new();
        for b in &bodies {
            encode_frame(b, &mut wire).unwrap();
        }
        for b in &bodies {
            let f = decode_frame(&mut wire).unwrap().unwrap();
            prop_assert_eq!(&f[..], &b[..]);
        }
        prop_assert!(wire.is_empty());
    }

    #[test]
    fn server_handshake_survives_any_hello(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let id = ServerIdentity::from_secret_bytes([5; 32]);
        if let Err(e) = ServerHandshake::respond(&id, &bytes) {
            prop_assert!(!e.to_string().is_empty());
        }
    }

    #[test]
    fn client_handshake_refuses_any_forged_reply(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let (client, _) = ClientHandshake::start();
        let err = client.finish(&bytes).unwrap_err();
        prop_assert!(!err.to_string().is_empty());
    }

    #[test]
    fn truncated_hellos_are_malformed(cut in 7usize..CLIENT_HELLO_LEN, scut in 7usize..SERVER_HELLO_LEN) {
        let id = ServerIdentity::from_secret_bytes([5; 32]);
        let (client, hello) = ClientHandshake::start();
        prop_assert!(ServerHandshake::respond(&id, &hello[..cut]).is_err());
        let reply = ServerHandshake::respond(&id, &hello).unwrap().reply;
        prop_assert!(client.finish(&reply[..scut]).is_err());
    }

    #[test]
    fn records_round_trip(plaintexts in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..3000), 1..8)) {
        let (mut s, mut o) = pair();
        let mut wire = BytesMut::new();
        for p in &plaintexts {
            s.seal_frame(p, &mut wire).unwrap();
        }
        for p in &plaintexts {
            let mut f = decode_frame(&mut wire).unwrap().unwrap();
            prop_assert_eq!(o.open(&mut f).unwrap(), &p[..]);
        }
    }

    #[test]
    fn any_mutation_of_a_record_is_rejected(plaintext in prop::collection::vec(any::<u8>(), 0..500), pos in any::<prop::sample::Index>(), flip in 1u8..=255) {
        let (mut s, mut o) = pair();
        let mut rec = s.seal(&plaintext).unwrap();
        let i = pos.index(rec.len());
        rec[i] ^= flip;
        prop_assert!(o.open(&mut rec).is_err());
    }

    #[test]
    fn random_records_are_rejected(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let (_, mut o) = pair();
        let mut b = bytes;
        let err = o.open(&mut b).unwrap_err();
        prop_assert!(!err.to_string().is_empty());
    }

    #[test]
    fn parsers_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        if let Err(e) = ClientMessage::parse(&bytes) {
            prop_assert!(!e.to_string().is_empty());
        }
        if let Err(e) = ServerMessage::parse(&bytes) {
            prop_assert!(!e.to_string().is_empty());
        }
    }

    #[test]
    fn json_shaped_garbage_is_a_typed_error(t in "[a-z_]{0,12}", n in any::<i64>(), s in "\\PC{0,40}") {
        let doc = format!(r#"{{"id":{n},"type":"{t}","username":"{s}","room":{n}}}"#);
        match ClientMessage::parse(doc.as_bytes()) {
            Ok(m) => prop_assert!(matches!(m.request, Request::Ping | Request::Logout | Request::ListRooms)),
            Err(e) => prop_assert!(e.to_string().starts_with("malformed message")),
        }
    }

    #[test]
    fn requests_round_trip(id in any::<u64>(), req in request()) {
        let m = ClientMessage { id, request: req };
        let bytes = m.encode();
        let back = ClientMessage::parse(&bytes).unwrap();
        prop_assert_eq!(back.encode(), bytes);
    }

    #[test]
    fn server_messages_round_trip(m in server_message()) {
        let bytes = m.encode();
        let back = ServerMessage::parse(&bytes).unwrap();
        prop_assert_eq!(back.encode(), bytes);
    }

    /// Messages joined into one record come back apart, in order: the
    /// separator never occurs inside an encoded message.
    #[test]
    fn messages_joined_in_one_record_come_back_apart(ms in prop::collection::vec(server_message(), 1..6)) {
        let encoded: Vec<Vec<u8>> = ms.iter().map(ServerMessage::encode).collect();
        for e in &encoded {
            prop_assert!(!e.contains(&MESSAGE_SEPARATOR));
        }
        let (mut s, mut o) = pair();
        let mut wire = BytesMut::new();
        s.seal_frame_joined(&encoded, MESSAGE_SEPARATOR, &mut wire).unwrap();
        let mut f = decode_frame(&mut wire).unwrap().unwrap();
        let back: Vec<Vec<u8>> = ServerMessage::parse_record(o.open(&mut f).unwrap())
            .map(|m| m.unwrap().encode())
            .collect();
        prop_assert_eq!(back, encoded);
    }
}

#[test]
fn empty_messages_in_a_record_are_malformed() {
    let pong = b"{\"type\":\"pong\",\"id\":1}";
    assert_eq!(
        ServerMessage::parse_record(pong)
            .filter(Result::is_ok)
            .count(),
        1
    );
    for bad in [
        &b""[..],
        b"\n",
        b"{\"type\":\"pong\",\"id\":1}\n",
        b"\n{\"type\":\"pong\",\"id\":1}",
    ] {
        assert!(
            ServerMessage::parse_record(bad).any(|m| m.is_err()),
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
}

#[test]
fn largest_record_fits_the_frame_cap() {
    let (mut s, mut o) = pair();
    let mut wire = BytesMut::new();
    s.seal_frame(&vec![7u8; MAX_RECORD_PLAINTEXT], &mut wire)
        .unwrap();
    assert_eq!(wire.len(), LEN_PREFIX + MAX_RECORD_PLAINTEXT + OVERHEAD);
    let mut f = decode_frame(&mut wire).unwrap().unwrap();
    assert_eq!(o.open(&mut f).unwrap().len(), MAX_RECORD_PLAINTEXT);
}
