//! Unread counts are counted lazily: a message to a room of 300 members,
//! all offline but the sender, changes nothing of any other member's state
//! (their markers included); it bumps the room's count once, and each
//! member's unread count, derived when they log in, includes it.

use cove_common::{ClientMsgId, MessageText, RoomName, ServerMessage, Target};

use super::{expect, register, start};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_to_a_big_room_touches_no_members_state() {
    let s = start(|_| {}).await;
    for i in 0..300 {
        drop(register(&s.addr, &format!("member{i:03}")).await);
    }
    let (alice, mut alice_events) = register(&s.addr, "alice").await;
    let (users_before, rooms_before) = s.state.hub.unread_probe();
    let id = alice
        .say(
            Target::Room(RoomName::general()),
            MessageText::new("hello all").unwrap(),
            ClientMsgId::new("c1").unwrap(),
        )
        .await
        .unwrap();
    expect(
        &mut alice_events,
        "the ack",
        |m| matches!(m, ServerMessage::Ack { id: i, .. } if *i == id),
    )
    .await;
    let (users_after, rooms_after) = s.state.hub.unread_probe();
    assert_eq!(rooms_after["general"], rooms_before["general"] + 1);
    let changed: Vec<&String> = users_before
        .keys()
        .filter(|name| users_before[*name] != users_after[*name])
        .collect();
    assert_eq!(changed, ["alice"], "only the sender's state changes");
    // Yet every member counts it.
    let (_m, _e, welcome) = super::login_welcome(&s.addr, "member123").await;
    assert_eq!(welcome.rooms[0].unread, 1);
}
