//! Bob, for the every-script screenshot (docs/screenshots/scripts.png) and
//! for trying a desktop notification by hand: against the demo server
//! (`cargo run -p cove-server --example demo`), `cargo run -p cove-client
//! --example scripts_peer -- 127.0.0.1:7979 scripts` says a line in many
//! scripts in #general; `... dm` sends alice a direct message.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use cove_common::client::{self, Auth, Event};
use cove_common::{ClientMsgId, MessageText, Password, RoomName, Target, Username};

const LINES: [&str; 3] = [
    "你好 こんにちは 안녕하세요 مرحبا שלום नमस्ते 👋🏽",
    "مرحبا بكم في كوف — שלום לכולם",
    "नमस्ते दुनिया · 中文 日本語 한국어 🎉🚀",
];

fn main() {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:7979".into());
    let mode = args.next().unwrap_or_else(|| "scripts".into());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let auth = Auth::Login {
            username: Username::new("bob").unwrap(),
            password: Password::new("correct horse battery").unwrap(),
        };
        let (s, mut e, _) = client::connect(&addr)
            .await
            .unwrap()
            .authenticate(auth)
            .await
            .unwrap();
        let sends: Vec<(Target, &str)> = if mode == "dm" {
            vec![(
                Target::User(Username::new("alice").unwrap()),
                "Are you coming on Saturday? I saved you a seat.",
            )]
        } else {
            LINES
                .iter()
                .map(|l| (Target::Room(RoomName::general()), *l))
                .collect()
        };
        let tag = cove_common::time::now_ms();
        for (i, (to, text)) in sends.into_iter().enumerate() {
            let id = s
                .say(
                    to,
                    MessageText::new(text).unwrap(),
                    ClientMsgId::new(format!("p{tag}-{i}")).unwrap(),
                )
                .await
                .unwrap();
            while let Some(ev) = e.recv().await {
                if let Event::Message(m) = ev
                    && m.answers() == Some(id)
                {
                    break;
                }
            }
        }
        println!("sent");
    });
}
