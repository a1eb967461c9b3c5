//! Others for the v5 screenshots (docs/screenshots/rooms-v5.png,
//! invitation.png): against the demo server (`cargo run -p cove-server
//! --example demo`), carol creates the private room #class with a topic,
//! makes dave a moderator and invites alice; once alice joins, they
//! mention her there and in #general. `cargo run -p cove-client --example
//! v5_peer -- 127.0.0.1:7979`; prints "ready", "invited" once alice is
//! online, then "mentioned".
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::Duration;

use cove_common::client::{self, Auth, Event, Events, Session};
use cove_common::proto::{NoticeKind, Role};
use cove_common::{
    ClientMsgId, MessageText, Password, Request, RoomName, ServerMessage, Target, Topic, Username,
};

const PASSWORD: &str = "correct horse battery";

async fn login(addr: &str, name: &str) -> (Session, Events) {
    let auth = Auth::Login {
        username: Username::new(name).unwrap(),
        password: Password::new(PASSWORD).unwrap(),
    };
    let (s, e, _) = client::connect(addr)
        .await
        .unwrap()
        .authenticate(auth)
        .await
        .unwrap();
    (s, e)
}

/// Sends `r` and waits for its answer, which must not be an error.
async fn ask(s: &Session, e: &mut Events, r: Request) {
    let id = s.send(r).await.unwrap();
    loop {
        match e.recv().await {
            Some(Event::Message(m)) if m.answers() == Some(id) => {
                assert!(!matches!(m, ServerMessage::Error { .. }), "{m:?}");
                return;
            }
            Some(_) => {}
            None => panic!("closed"),
        }
    }
}

async fn say(s: &Session, e: &mut Events, to: Target, text: &str, n: u32) {
    let id = s
        .say(
            to,
            MessageText::new(text).unwrap(),
            ClientMsgId::new(format!("v5-{n}")).unwrap(),
        )
        .await
        .unwrap();
    while let Some(ev) = e.recv().await {
        if matches!(ev, Event::Message(ref m) if m.answers() == Some(id)) {
            return;
        }
    }
}

#[tokio::main]
async fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:7979".into());
    let (carol, mut ce) = login(&addr, "carol").await;
    let (dave, mut de) = login(&addr, "dave").await;
    let class = RoomName::new("class").unwrap();
    let alice = Username::new("alice").unwrap();
    ask(
        &carol,
        &mut ce,
        Request::Create {
            room: class.clone(),
            private: true,
            topic: Some(Topic::new("Maths, period 3 · bring calculators").unwrap()),
        },
    )
    .await;
    for (user, role) in [("dave", Some(Role::Moderator)), ("bob", None)] {
        let user = Username::new(user).unwrap();
        ask(
            &carol,
            &mut ce,
            Request::Invite {
                room: class.clone(),
                user: user.clone(),
            },
        )
        .await;
        if user.as_str() == "dave" {
            ask(
                &dave,
                &mut de,
                Request::Join {
                    room: class.clone(),
                },
            )
            .await;
        }
        if let Some(role) = role {
            ask(
                &carol,
                &mut ce,
                Request::SetRole {
                    room: class.clone(),
                    user,
                    role,
                },
            )
            .await;
        }
    }
    let room = Target::Room(class.clone());
    say(
        &carol,
        &mut ce,
        room.clone(),
        "Homework for Friday: exercises 4 to 9.",
        1,
    )
    .await;
    println!("ready");
    // An invitation reaches only the sessions online (a `welcome` lists
    // none): wait for alice to come online.
    loop {
        match ce.recv().await {
            Some(Event::Message(ServerMessage::Notice(n))) if matches!(&n.kind, NoticeKind::Online { user } if *user == alice) =>
            {
                break;
            }
            Some(_) => {}
            None => panic!("closed"),
        }
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    ask(
        &carol,
        &mut ce,
        Request::Invite {
            room: class.clone(),
            user: alice.clone(),
        },
    )
    .await;
    println!("invited");
    // Alice joins from her app.
    loop {
        match ce.recv().await {
            Some(Event::Message(ServerMessage::Notice(n))) if matches!(&n.kind, NoticeKind::Joined { room, user } if *room == class && *user == alice) =>
            {
                break;
            }
            Some(_) => {}
            None => panic!("closed"),
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    say(
        &carol,
        &mut ce,
        room.clone(),
        "Welcome @alice! Could you share your notes on fractions?",
        2,
    )
    .await;
    say(
        &dave,
        &mut de,
        room.clone(),
        "I'll take the register today, @carol.",
        3,
    )
    .await;
    say(
        &carol,
        &mut ce,
        Target::Room(RoomName::general()),
        "@alice are you still up for the picnic?",
        4,
    )
    .await;
    println!("mentioned");
    std::future::pending::<()>().await;
}
