//! The settings of the desktop app, in the real app against a real
//! server: the theme (light, dark, or the system's) and the pinned
//! servers (the fingerprint of the one in use, Forget).
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use cove_client::CoveApp;
use cove_client::trust::{KnownServers, Verdict};
use cove_common::ServerIdentity;
use cove_common::client;
use egui::Theme;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use support::{PASSWORD, World, shows, sign_in, sign_in_trusting, wait_for};

fn open_settings(h: &mut Harness<'_, CoveApp>) {
    h.get_by_label("Settings…").click();
    h.run();
}

fn saved_theme(w: &World) -> String {
    let saved = std::fs::read_to_string(w.dir.path().join("config/settings.json")).unwrap();
    let saved: serde_json::Value = serde_json::from_str(&saved).unwrap();
    saved["theme"].as_str().unwrap().to_owned()
}

/// What the window is drawn with: the theme egui uses and its visuals.
fn drawn(h: &Harness<'_, CoveApp>) -> (Theme, bool) {
    (h.ctx.theme(), h.ctx.global_style().visuals.dark_mode)
}

#[test]
fn each_theme_choice_sets_the_visuals_and_is_saved() {
    let w = World::new();
    let mut h = w.app();
    // The system says light, which a fresh app follows.
    h.input_mut().system_theme = Some(Theme::Light);
    sign_in_trusting(&mut h, "alice", true);
    assert_eq!(drawn(&h), (Theme::Light, false));

    open_settings(&mut h);
    h.get_by_label("Dark").click();
    h.run();
    assert_eq!(drawn(&h), (Theme::Dark, true));
    assert_eq!(saved_theme(&w), "dark");
    // The system's change no longer matters.
    h.input_mut().system_theme = Some(Theme::Light);
    h.run();
    assert_eq!(drawn(&h), (Theme::Dark, true));

    h.get_by_label("Light").click();
    h.run();
    assert_eq!(drawn(&h), (Theme::Light, false));
    assert_eq!(saved_theme(&w), "light");

    h.get_by_label("Follow the system").click();
    h.run();
    assert_eq!(saved_theme(&w), "system");
    assert_eq!(drawn(&h), (Theme::Light, false));
    // The system turns dark: so does the app.
    h.input_mut().system_theme = Some(Theme::Dark);
    h.run();
    assert_eq!(drawn(&h), (Theme::Dark, true));
    drop(h);

    // The next start keeps the choice: light stays light on a dark system.
    std::fs::write(
        w.dir.path().join("config/settings.json"),
        r#"{"dark": false}"#,
    )
    .unwrap();
    let mut again = w.app();
    again.input_mut().system_theme = Some(Theme::Dark);
    again.run();
    assert_eq!(drawn(&again), (Theme::Light, false));
}

/// The settings show the fingerprint of the server in use and every pinned
/// server; Forget removes a pin from the file. Forgetting the server in
/// use asks, logs out, and the next sign-in asks to trust it again.
#[test]
fn pinned_servers_are_listed_and_forgotten() {
    let w = World::new();
    let config = w.dir.path().join("config");
    let elsewhere = "192.0.2.7:7878";
    let other_key = ServerIdentity::generate().public_key();
    KnownServers::load(&config)
        .unwrap()
        .pin(elsewhere, &other_key)
        .unwrap();
    let addr = w.addr.clone();
    let key =
        w.rt.block_on(async { client::connect(&addr).await.unwrap().server_key() });

    let mut h = w.app();
    sign_in_trusting(&mut h, "alice", true);
    open_settings(&mut h);
    assert!(shows(&h, &format!("Connected to {addr}")));
    // Shown for the server in use and again in its row.
    assert_eq!(h.query_all_by_label(&key.fingerprint()).count(), 2);
    assert!(h.query_by_label(&other_key.fingerprint()).is_some());

    h.get_by_label(&format!("Forget {elsewhere}")).click();
    h.run();
    let pins = KnownServers::load(&config).unwrap();
    assert_eq!(pins.check(elsewhere, &other_key), Verdict::Unknown);
    assert_eq!(pins.check(&addr, &key), Verdict::Trusted);
    assert!(h.query_by_label(&format!("Forget {elsewhere}")).is_none());
    assert!(h.query_by_label(&other_key.fingerprint()).is_none());

    // The server in use: asked first, kept on "Keep it".
    h.get_by_label(&format!("Forget {addr}")).click();
    h.run();
    assert!(shows(&h, "forgetting it logs you out"));
    h.get_by_label("Keep it").click();
    h.run();
    assert!(!shows(&h, "forgetting it logs you out"));
    assert_eq!(
        KnownServers::load(&config).unwrap().check(&addr, &key),
        Verdict::Trusted
    );
    h.get_by_label(&format!("Forget {addr}")).click();
    h.run();
    h.get_by_label("Forget it and log out").click();
    wait_for(&mut h, "the start screen", |h| {
        h.state().chat().is_none() && h.query_by_label("Sign in").is_some()
    });
    assert_eq!(
        KnownServers::load(&config).unwrap().check(&addr, &key),
        Verdict::Unknown
    );

    // The next connection asks again, with the same fingerprint.
    sign_in(&mut h, "alice", PASSWORD, false);
    wait_for(&mut h, "trust prompt", |h| shows(h, "Trust this server"));
    assert!(shows(&h, &key.fingerprint()));
}
