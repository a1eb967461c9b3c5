//! A demo server with people already talking, for screenshots and trying the
//! app: `cargo run --release -p cove-server --example demo -- 127.0.0.1:7979 DIR`.
//! Registers alice, bob, carol and dave (password "correct horse battery"),
//! posts a short conversation (a line in several scripts; its last two
//! messages unread by alice, with a link, markup and code), keeps bob and carol online, and has bob greet
//! whoever comes online.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use cove_common::client::{self, Auth, Event, Session};
use cove_common::proto::NoticeKind;
use cove_common::{
    ClientMsgId, MessageText, Password, Request, RoomName, ServerMessage, Target, Username,
};
use cove_server::{Config, Server};

const PASSWORD: &str = "correct horse battery";

async fn user(addr: &str, name: &str) -> (Session, client::Events) {
    let pending = client::connect(addr).await.unwrap();
    let username = Username::new(name).unwrap();
    let password = Password::new(PASSWORD).unwrap();
    let reg = pending
        .authenticate(Auth::Register {
            username: username.clone(),
            password: password.clone(),
        })
        .await;
    match reg {
        Ok((s, e, _)) => (s, e),
        Err(_) => {
            let (s, e, _) = client::connect(addr)
                .await
                .unwrap()
                .authenticate(Auth::Login { username, password })
                .await
                .unwrap();
            (s, e)
        }
    }
}

async fn say(s: &Session, to: Target, text: &str) {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    s.say(
        to,
        MessageText::new(text).unwrap(),
        ClientMsgId::new(format!("demo-{n}")).unwrap(),
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(60)).await;
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let listen = args.next().unwrap_or_else(|| "127.0.0.1:7979".into());
    let dir = args.next().expect("usage: demo LISTEN DATA_DIR");
    let server = Server::bind(Config::new(listen, dir.into())).await.unwrap();
    let addr = server.local_addr().to_string();
    println!(
        "demo server on {addr}, fingerprint {}",
        server.public_key().fingerprint()
    );
    let handle = server.spawn();

    let general = Target::Room(RoomName::general());
    let (alice, _alice_events) = user(&addr, "alice").await;
    let (bob, mut bob_events) = user(&addr, "bob").await;
    let (carol, _carol_events) = user(&addr, "carol").await;
    let (dave, _dave_events) = user(&addr, "dave").await;
    let garden = RoomName::new("garden").unwrap();
    for s in [&bob, &carol] {
        s.send(Request::Join {
            room: garden.clone(),
        })
        .await
        .unwrap();
    }
    say(
        &carol,
        general.clone(),
        "Morning all! Is the new server working for everyone?",
    )
    .await;
    say(
        &bob,
        general.clone(),
        "Works for me. The fingerprint matched what Dave read out.",
    )
    .await;
    say(
        &dave,
        general.clone(),
        "Same here. History came back after I restarted the app, too.",
    )
    .await;
    // Several scripts and an emoji, for the screenshots (the app draws
    // them with the system's fonts).
    say(
        &carol,
        general.clone(),
        "The cousins say hello: 你好 こんにちは 안녕하세요 مرحبا שלום नमस्ते 👋🏽",
    )
    .await;
    say(
        &carol,
        general.clone(),
        "Great. Reminder: picnic on Saturday, bring something to share.\nI'll bring lemonade.",
    )
    .await;
    say(&alice, general.clone(), "Count me in! I'll make a salad.").await;
    // After alice's last word: unread when she comes back, with links,
    // markup and a block of code to show.
    say(
        &dave,
        general.clone(),
        "Map: https://www.openstreetmap.org/#map=16/48.8638/2.3135 — *north gate*, _around 11_.",
    )
    .await;
    say(
        &bob,
        general.clone(),
        "Packing list, run `python3 pack.py`:\n```\nfor item in [\"blanket\", \"bowls\"]:\n    print(item)\n```",
    )
    .await;
    say(
        &bob,
        Target::Room(garden),
        "Tomatoes are finally turning red.",
    )
    .await;
    say(
        &carol,
        Target::User(Username::new("alice").unwrap()),
        "Can you pick me up on Saturday?",
    )
    .await;
    dave.logout().await.unwrap();
    alice.logout().await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Greet newcomers.
    let greeter = bob.clone();
    tokio::spawn(async move {
        while let Some(ev) = bob_events.recv().await {
            if let Event::Message(ServerMessage::Notice(n)) = ev
                && let NoticeKind::Online { user } = n.kind
            {
                tokio::time::sleep(Duration::from_millis(400)).await;
                say(
                    &greeter,
                    Target::Room(RoomName::general()),
                    &format!("Hi {user}, welcome!"),
                )
                .await;
            }
        }
    });
    println!("ready");
    tokio::signal::ctrl_c().await.unwrap();
    drop(carol);
    handle.shutdown().await;
}
