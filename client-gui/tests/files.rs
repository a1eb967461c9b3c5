//! Files and pictures in the real app against a real server (protocol
//! v6): a teacher attaches a worksheet picture by its path, the other
//! app shows it as a thumbnail and saves the same bytes; a file that is
//! not a picture shows as a chip, a picture claiming to be enormous is
//! refused with a note, and a file over the server's limit is refused
//! before anything is uploaded.
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use cove_client::state::Stage;
use cove_common::ServerMessage;
use cove_common::client::Event;
use egui_kittest::kittest::{NodeT, Queryable};
use support::{
    Proxy, World, download_file, next_message, noisy_png, send_file_to_general, shows,
    sign_in_trusting, type_into, wait_for,
};

#[test]
fn a_picture_attached_in_one_app_shows_in_another_and_saves_whole() {
    let w = World::new();
    let mut alice = w.app();
    sign_in_trusting(&mut alice, "alice", true);
    let mut bob = w.app_in("bob");
    sign_in_trusting(&mut bob, "bob", true);

    // Eight chunks or so: several in flight at once.
    let png = noisy_png(300, 200);
    assert!(png.len() > 4 * 32 * 1024, "{}", png.len());
    let path = w.dir.path().join("worksheet.png");
    std::fs::write(&path, &png).unwrap();

    type_into(&mut alice, "Message # general", "page 2, due Friday");
    alice.get_by_label("Attach a file").click();
    alice.run();
    type_into(&mut alice, "File path", path.to_str().unwrap());
    alice.get_by_label("Send file").click();
    alice.step();

    // Alice's app sends the message once its upload is done.
    wait_for(&mut bob, "the thumbnail", |h| {
        alice.step();
        h.query_by_label("worksheet.png").is_some()
    });
    assert!(shows(&bob, "page 2, due Friday"), "the caption");
    // Alice's own message shows the picture too, once sent.
    wait_for(&mut alice, "alice's thumbnail", |h| {
        h.query_by_label("worksheet.png").is_some()
    });
    assert!(alice.state().chat().unwrap().pending.is_empty());

    // The larger view opens on a click and Esc closes it.
    bob.get_by_label("worksheet.png").click();
    bob.run();
    assert!(bob.query_by_label("worksheet.png, larger").is_some());
    bob.key_press(egui::Key::Escape);
    bob.run();
    assert!(bob.query_by_label("worksheet.png, larger").is_none());

    // Saved into a folder: under its own name, the same bytes.
    let out = tempfile::tempdir().unwrap();
    bob.get_by_label("Save…").click();
    bob.run();
    bob.get_by_label("Save as").focus();
    bob.step();
    bob.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    bob.get_by_label("Save as")
        .type_text(out.path().to_str().unwrap());
    bob.step();
    bob.get_by_label("Save").click();
    bob.step();
    let saved = out.path().join("worksheet.png");
    wait_for(&mut bob, "the saved file", |h| {
        shows(h, "Saved to") && saved.exists()
    });
    assert_eq!(std::fs::read(&saved).unwrap(), png);
    let left: Vec<_> = std::fs::read_dir(out.path()).unwrap().collect();
    assert_eq!(left.len(), 1, "no temporary file left: {left:?}");
}

#[test]
fn other_files_show_as_chips_and_too_large_ones_are_refused() {
    let w = World::new();
    let mut bob = w.app();
    sign_in_trusting(&mut bob, "bob", true);
    let mut alice = w.client("alice", true);

    send_file_to_general(
        &w,
        &mut alice,
        "notes.txt",
        b"not a picture at all",
        None,
        1,
    );
    // A PNG whose header claims 100000 x 100000 pixels.
    let bomb = include_bytes!("data/bomb.png");
    send_file_to_general(&w, &mut alice, "huge.png", bomb, Some("the big one"), 2);
    wait_for(&mut bob, "the refusal", |h| {
        shows(h, "picture too large to show")
    });
    assert!(shows(&bob, "📄 notes.txt"), "a chip");
    assert!(shows(&bob, "📄 huge.png"), "a chip, not a picture");
    assert!(bob.query_by_label("huge.png").is_none());
    assert!(bob.query_by_label("notes.txt").is_none());

    // Over the server's limit (25 MiB): refused before any upload.
    let big = w.dir.path().join("lecture.mp4");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(26 << 20)
        .unwrap();
    // Dropped on the window, as from a file manager.
    bob.input_mut()
        .dropped_files
        .push(std::sync::Arc::new(Dropped(big.clone())));
    bob.run();
    assert_eq!(
        bob.get_by_label("File path").accesskit_node().value(),
        Some(big.display().to_string()),
        "the path filled in"
    );
    bob.get_by_label("Send file").click();
    bob.run();
    assert!(
        shows(
            &bob,
            "lecture.mp4 is too large to send (26 MB): this server takes files of at most 25 MB."
        ),
        "the note"
    );
    assert!(bob.state().chat().unwrap().pending.is_empty());
}

/// An upload cut by a lost connection goes on where the server stopped
/// once the app is back, and the file arrives whole.
#[test]
fn an_upload_cut_by_a_lost_connection_goes_on_after_the_reconnect() {
    let w = World::new();
    let proxy = Proxy::start(&w);
    let mut alice = w.app_via(&proxy.addr);
    sign_in_trusting(&mut alice, "alice", true);
    let mut bob = w.client("bob", true);

    let (bytes, path) = lecture(&w, 6, 13);
    // Settled: the click lands on the button where it is drawn.
    alice.run();
    alice.get_by_label("Attach a file").click();
    alice.run();
    type_into(&mut alice, "File path", path.to_str().unwrap());
    alice.get_by_label("Send file").click();
    let done = |h: &egui_kittest::Harness<'_, cove_client::CoveApp>| {
        h.state()
            .chat()
            .unwrap()
            .pending
            .first()
            .and_then(|p| match p.file.as_ref()?.stage {
                Stage::Uploading { done } => Some(done),
                Stage::Uploaded(_) => Some(u64::MAX),
            })
    };
    wait_for(&mut alice, "some of the upload", |h| {
        done(h).is_some_and(|d| d > 0)
    });
    proxy.cut();
    let cut_at = done(&alice).unwrap();
    assert!(cut_at < bytes.len() as u64, "cut before the end: {cut_at}");
    wait_for(&mut alice, "the lost connection", |h| {
        shows(h, "reconnecting")
    });
    proxy.restore();

    // From where the server stopped, never from the start again.
    let mut lowest = u64::MAX;
    let mut sent = None;
    wait_for(&mut alice, "the file's message", |h| {
        if let Some(d) = done(h) {
            lowest = lowest.min(d);
        }
        while let Ok(ev) = bob.1.try_recv() {
            if let Event::Message(ServerMessage::Message(m)) = ev
                && m.file.is_some()
            {
                sent = m.file;
            }
        }
        sent.is_some()
    });
    assert!(lowest >= cut_at, "resumed at {lowest}, had {cut_at}");
    let file = sent.unwrap();
    assert_eq!(
        (file.name.as_str(), file.size),
        ("lecture.pdf", bytes.len() as u64)
    );
    assert!(
        download_file(&w, &mut bob, &file) == bytes,
        "the same bytes"
    );
    wait_for(&mut alice, "the message stored", |h| {
        h.state().chat().unwrap().pending.is_empty()
    });
}

/// Attaches the file at `path` in the app, with the message box's text as
/// its caption, by the 📎 button and the path field.
fn attach(h: &mut egui_kittest::Harness<'_, cove_client::CoveApp>, path: &std::path::Path) {
    // Settled: the click lands on the button where it is drawn.
    h.run();
    h.get_by_label("Attach a file").click();
    h.run();
    type_into(h, "File path", path.to_str().unwrap());
    h.get_by_label("Send file").click();
    h.step();
}

/// Steps the app until its message with a file is stored (no longer
/// pending), and says whether `shown` held in that very frame.
fn shown_when_stored(
    h: &mut egui_kittest::Harness<'_, cove_client::CoveApp>,
    shown: impl Fn(&egui_kittest::Harness<'_, cove_client::CoveApp>) -> bool,
) -> bool {
    let mut at_ack = false;
    wait_for(h, "the message stored", |h| {
        if !h.state().chat().unwrap().pending.is_empty() {
            return false;
        }
        at_ack = shown(h);
        true
    });
    at_ack
}

/// The sender's own picture shows in their conversation the moment the
/// server stores the message (the `ack` carries no file: the app shows
/// the picture it decoded from the local file), and it is never
/// downloaded back; "Save…" comes once the file's id and key are read
/// back. A file that is no picture shows its chip at once.
#[test]
fn the_senders_own_picture_and_file_show_as_soon_as_they_are_sent() {
    let w = World::new();
    let mut alice = w.app();
    sign_in_trusting(&mut alice, "alice", true);
    let mut bob = w.client("bob", true);

    // About 30 chunks: decoding it takes a fraction of its upload.
    let path = w.dir.path().join("worksheet.png");
    std::fs::write(&path, noisy_png(600, 400)).unwrap();
    attach(&mut alice, &path);
    let thumbnail = shown_when_stored(&mut alice, |h| h.query_by_label("worksheet.png").is_some());
    assert!(thumbnail, "the thumbnail shows with the ack");
    // Bob got it as a message with its file.
    let m = next_message(&w, &mut bob.1, "the file's message", |m| {
        matches!(m, ServerMessage::Message(_))
    });
    assert!(matches!(m, ServerMessage::Message(m) if m.file.is_some()));
    wait_for(&mut alice, "Save… with the file's id and key", |h| {
        h.query_by_label("Save…").is_some()
    });
    assert!(alice.query_by_label("worksheet.png").is_some());
    assert!(
        alice.state().chat().unwrap().files.pictures.is_empty(),
        "her own picture is not downloaded back"
    );

    let notes = w.dir.path().join("notes.txt");
    std::fs::write(&notes, b"bring a calculator").unwrap();
    attach(&mut alice, &notes);
    let chip = shown_when_stored(&mut alice, |h| {
        h.state().chat().unwrap().files.sent.len() == 2 && shows(h, "📄 notes.txt")
    });
    assert!(chip, "the chip shows with the ack");
}

/// Cancel by the progress bar: the upload stops (the server's partial
/// copy grows no more), the message is gone, and nothing reaches anyone.
#[test]
fn cancelling_an_upload_stops_it_and_sends_nothing() {
    let w = World::new();
    let mut alice = w.app();
    sign_in_trusting(&mut alice, "alice", true);
    let mut bob = w.client("bob", true);

    let (_, path) = lecture(&w, 12, 11);
    attach(&mut alice, &path);
    let done = |h: &egui_kittest::Harness<'_, cove_client::CoveApp>| {
        h.state()
            .chat()
            .unwrap()
            .pending
            .first()
            .and_then(|p| match p.file.as_ref()?.stage {
                Stage::Uploading { done } => Some(done),
                Stage::Uploaded(_) => None,
            })
    };
    wait_for(&mut alice, "some of the upload", |h| {
        done(h).is_some_and(|d| d > 0)
    });
    alice.get_by_label("Cancel").click();
    alice.step();
    assert!(alice.state().chat().unwrap().pending.is_empty());
    alice.step();
    assert!(!shows(&alice, "lecture.pdf"), "the message is gone");

    // The server gives the upload up (`cancel_upload`, v7): its bytes go.
    let partial = w.dir.path().join("server/files/partial");
    let held = || -> u64 {
        std::fs::read_dir(&partial)
            .unwrap()
            .map(|e| e.unwrap().metadata().unwrap().len())
            .sum()
    };
    let settle = |h: &mut egui_kittest::Harness<'_, cove_client::CoveApp>, ms: u64| {
        let until = std::time::Instant::now() + std::time::Duration::from_millis(ms);
        while std::time::Instant::now() < until {
            h.step();
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    };
    wait_for(&mut alice, "the server to drop the upload", |_| {
        std::fs::read_dir(&partial).unwrap().next().is_none()
    });
    settle(&mut alice, 1500);
    assert_eq!(held(), 0, "no chunk sent after Cancel");
    // Chunks refused after the cancel are not shown as errors.
    assert!(!shows(&alice, "upload"), "no note about the upload");

    // Nothing was sent: the next message Bob gets is the one after.
    type_into(&mut alice, "Message # general", "never mind");
    alice.key_press(egui::Key::Enter);
    let m = wait_for_message(&mut alice, &mut bob);
    assert_eq!(m.text_str(), "never mind");
    assert!(m.file.is_none());
}

/// A picture pasted from the clipboard (egui's `PasteImage`) opens
/// "Attach a file" with it kept as a PNG file; "Send file" sends it, and
/// Bob gets the same pixels.
#[test]
fn a_pasted_picture_is_offered_to_attach_and_sent_as_a_png() {
    let w = World::new();
    let mut alice = w.app();
    sign_in_trusting(&mut alice, "alice", true);
    let mut bob = w.client("bob", true);

    let pixels: Vec<u8> = (0..40u32 * 30)
        .flat_map(|i| [(i % 251) as u8, (i / 7 % 256) as u8, 200, 255])
        .collect();
    let image = egui::ColorImage::from_rgba_unmultiplied([40, 30], &pixels);
    alice
        .input_mut()
        .events
        .push(egui::Event::PasteImage(std::sync::Arc::new(image)));
    alice.run();
    let path = alice
        .get_by_label("File path")
        .accesskit_node()
        .value()
        .unwrap();
    assert!(
        path.contains("Pasted picture ") && path.ends_with(".png"),
        "{path}"
    );
    assert!(
        alice.state().chat().unwrap().pending.is_empty(),
        "not sent by itself"
    );
    alice.get_by_label("Send file").click();
    alice.step();
    let m = wait_for_message(&mut alice, &mut bob);
    let file = m.file.unwrap();
    assert!(
        file.name.as_str().starts_with("Pasted picture "),
        "{file:?}"
    );
    let bytes = download_file(&w, &mut bob, &file);
    let got = image::load_from_memory(&bytes).unwrap().to_rgba8();
    assert_eq!(got.dimensions(), (40, 30));
    assert_eq!(got.into_raw(), pixels, "the same pixels");
}

/// Steps the app until Bob's session gets a chat message; that message.
fn wait_for_message(
    h: &mut egui_kittest::Harness<'_, cove_client::CoveApp>,
    (_, events): &mut (cove_common::client::Session, cove_common::client::Events),
) -> cove_common::proto::ChatMessage {
    let mut got = None;
    wait_for(h, "bob's message", |_| {
        while let Ok(ev) = events.try_recv() {
            if let Event::Message(ServerMessage::Message(m)) = ev
                && got.is_none()
            {
                got = Some(m);
            }
        }
        got.is_some()
    });
    got.unwrap()
}

/// A file dropped on the window.
#[derive(Debug)]
struct Dropped(std::path::PathBuf);

impl egui::DroppedFile for Dropped {
    fn path(&self) -> &std::path::Path {
        &self.0
    }

    fn bytes(&self) -> Result<Vec<u8>, String> {
        std::fs::read(&self.0).map_err(|e| e.to_string())
    }
}

/// A file of `mib` MiB that does not compress, written as lecture.pdf in
/// the world's folder: its bytes and its path.
fn lecture(w: &World, mib: u32, shift: u32) -> (Vec<u8>, std::path::PathBuf) {
    let bytes: Vec<u8> = (0..mib << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> shift) as u8)
        .collect();
    let path = w.dir.path().join("lecture.pdf");
    std::fs::write(&path, &bytes).unwrap();
    (bytes, path)
}
