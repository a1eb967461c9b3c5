//! What the UI tests share: a real server on 127.0.0.1:0, the real app in
//! an egui_kittest harness, headless clients for other people, and a proxy
//! that can cut the app's connection while the server keeps running.
#![allow(
    clippy::unwrap_used,
    clippy::new_without_default,
    missing_docs,
    dead_code
)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cove_client::{AppOptions, CoveApp};
use cove_common::client::{self, Auth, Event, Events, Session};
use cove_common::{KdfParams, Password, ServerMessage, Username};
use cove_server::{Config, Server, ServerHandle};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

pub const PASSWORD: &str = "correct horse battery";
pub const DEADLINE: Duration = Duration::from_secs(20);

pub struct World {
    pub rt: tokio::runtime::Runtime,
    server: Option<ServerHandle>,
    pub addr: String,
    pub dir: tempfile::TempDir,
}

impl World {
    pub fn new() -> Self {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::new("127.0.0.1:0", dir.path().join("server"));
        config.kdf = KdfParams::insecure_for_tests();
        let server = rt.block_on(Server::bind(config)).unwrap();
        let addr = server.local_addr().to_string();
        let server = {
            let _guard = rt.enter();
            server.spawn()
        };
        Self {
            rt,
            server: Some(server),
            addr,
            dir,
        }
    }

    pub fn app(&self) -> Harness<'static, CoveApp> {
        self.app_in("config")
    }

    /// Another app on the same server, with its own configuration (its
    /// own pins: it asks to trust the server too), as on another computer.
    pub fn app_in(&self, config: &str) -> Harness<'static, CoveApp> {
        let opts = AppOptions {
            config_dir: self.dir.path().join(config),
            server_data_dir: self.dir.path().join("hosted"),
            kdf: KdfParams::insecure_for_tests(),
        };
        let mut app = CoveApp::new(opts).unwrap();
        app.login_form().server = self.addr.clone();
        // Windows and dialogs fade in over a few frames: `run` may take
        // more than egui_kittest's default 4 to settle after a click.
        Harness::builder()
            .with_size([1000.0, 700.0])
            .with_max_steps(24)
            .build_ui_state(|ui, app: &mut CoveApp| app.show(ui), app)
    }

    pub fn client(&self, name: &str, register: bool) -> (Session, Events) {
        let username = Username::new(name).unwrap();
        let password = Password::new(PASSWORD).unwrap();
        let auth = if register {
            Auth::Register { username, password }
        } else {
            Auth::Login { username, password }
        };
        let addr = self.addr.clone();
        let (s, e, _) = self
            .rt
            .block_on(async move { client::connect(&addr).await?.authenticate(auth).await })
            .unwrap();
        (s, e)
    }
}

impl World {
    pub fn stop_server(&mut self) {
        if let Some(s) = self.server.take() {
            self.rt.block_on(s.shutdown());
        }
    }

    /// Starts the server again on the same address and data.
    pub fn start_server(&mut self) {
        let mut config = Config::new(self.addr.clone(), self.dir.path().join("server"));
        config.kdf = KdfParams::insecure_for_tests();
        let server = self.rt.block_on(Server::bind(config)).unwrap();
        let _guard = self.rt.enter();
        self.server = Some(server.spawn());
    }
}

impl Drop for World {
    fn drop(&mut self) {
        if let Some(s) = self.server.take() {
            self.rt.block_on(s.shutdown());
        }
    }
}

/// Steps the UI until `cond` holds.
pub fn wait_for(
    h: &mut Harness<'_, CoveApp>,
    what: &str,
    mut cond: impl FnMut(&mut Harness<'_, CoveApp>) -> bool,
) {
    let start = Instant::now();
    loop {
        h.step();
        if cond(h) {
            return;
        }
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn shows(h: &Harness<'_, CoveApp>, text: &str) -> bool {
    h.query_all_by_label_contains(text).next().is_some()
}

pub fn type_into(h: &mut Harness<'_, CoveApp>, label: &str, text: &str) {
    h.get_by_label(label).focus();
    h.step();
    h.get_by_label(label).type_text(text);
    h.step();
}

/// Fills the start screen and submits it, answering the trust prompt.
pub fn sign_in(h: &mut Harness<'_, CoveApp>, name: &str, password: &str, register: bool) {
    if register {
        h.get_by_label("Register").click();
        h.step();
    }
    type_into(h, "Username", name);
    type_into(h, "Password", password);
    if register {
        type_into(h, "Confirm password", password);
        h.get_by_label("Create account").click();
    } else {
        h.get_by_label("Sign in").click();
    }
    h.step();
}

pub fn next_message(
    w: &World,
    events: &mut Events,
    what: &str,
    mut pred: impl FnMut(&ServerMessage) -> bool,
) -> ServerMessage {
    w.rt.block_on(async {
        loop {
            match tokio::time::timeout(DEADLINE, events.recv()).await {
                Ok(Some(Event::Message(m))) if pred(&m) => return m,
                Ok(Some(Event::Message(_))) => continue,
                other => panic!("waiting for {what}: {other:?}"),
            }
        }
    })
}

impl World {
    /// The app, pointed at `addr` instead of the server itself.
    pub fn app_via(&self, addr: &str) -> Harness<'static, CoveApp> {
        let mut h = self.app();
        h.state_mut().login_form().server = addr.to_owned();
        h
    }
}

/// Registers (or signs in) `name` in the app, trusts the server and waits
/// for the chat screen.
pub fn sign_in_trusting(h: &mut Harness<'_, CoveApp>, name: &str, register: bool) {
    sign_in(h, name, PASSWORD, register);
    wait_for(h, "trust prompt", |h| shows(h, "Trust this server"));
    h.get_by_label("Trust this server").click();
    wait_for(h, "chat screen", |h| shows(h, "connected"));
}

/// A TCP proxy in front of the server: `cut` closes every connection
/// through it and turns new ones away (the app sees its connection drop
/// and its reconnects fail, while the server and everyone else go on);
/// `restore` lets connections through again.
pub struct Proxy {
    pub addr: String,
    up: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Proxy {
    pub fn start(w: &World) -> Self {
        let listener =
            w.rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
                .unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let up = Arc::new(AtomicBool::new(true));
        let conns = Arc::new(Mutex::new(Vec::new()));
        let (upstream, up2, conns2) = (w.addr.clone(), up.clone(), conns.clone());
        w.rt.spawn(async move {
            while let Ok((mut down, _)) = listener.accept().await {
                if !up2.load(Ordering::SeqCst) {
                    continue; // dropped: closed at once
                }
                let upstream = upstream.clone();
                let task = tokio::spawn(async move {
                    if let Ok(mut up) = tokio::net::TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut down, &mut up).await;
                    }
                });
                conns2.lock().unwrap().push(task);
            }
        });
        Self { addr, up, conns }
    }

    pub fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for task in self.conns.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    pub fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

/// Sends `text` to `#general` as another person and waits for the ack, so
/// messages are stored in the order sent; the message's id.
pub fn say_in_general(w: &World, (s, events): &mut (Session, Events), text: &str, n: usize) -> u64 {
    let id =
        w.rt.block_on(s.say(
            cove_common::Target::Room(cove_common::RoomName::general()),
            cove_common::MessageText::new(text).unwrap(),
            cove_common::ClientMsgId::new(format!("m{n}")).unwrap(),
        ))
        .unwrap();
    match next_message(w, events, "the ack", |m| m.answers() == Some(id)) {
        ServerMessage::Ack { message_id, .. } => message_id,
        other => panic!("{other:?}"),
    }
}

/// After `bob`'s message number `n - 1`: more messages in `#general` than
/// the app's newest page (100) and the older page (200) it may load on its
/// own, from bob and eleven others, so that none of them is slowed by the
/// server's send pace. Returns the others' sessions.
pub fn bury_in_chatter(
    w: &World,
    bob: &mut (Session, Events),
    mut n: usize,
) -> Vec<(Session, Events)> {
    let mut others: Vec<_> = [
        "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory", "niaj",
        "olivia",
    ]
    .iter()
    .map(|name| w.client(name, true))
    .collect();
    for round in 0..28 {
        say_in_general(w, bob, &format!("filler {round} from bob"), n);
        n += 1;
        for other in &mut others {
            say_in_general(w, other, &format!("filler {round} from someone"), n);
            n += 1;
        }
    }
    others
}

/// Steps the app until `events` brings a message matching `pred` (the app
/// must keep running to send what the test waits for).
pub fn stepping_until(
    h: &mut Harness<'_, CoveApp>,
    events: &mut Events,
    what: &str,
    pred: impl Fn(&ServerMessage) -> bool,
) -> ServerMessage {
    let mut found = None;
    wait_for(h, what, |_| {
        while let Ok(ev) = events.try_recv() {
            if let Event::Message(m) = ev
                && pred(&m)
            {
                found = Some(m);
                return true;
            }
        }
        false
    });
    found.unwrap()
}

/// Joins `#rust` from the app's message box, then goes back to `#general`.
pub fn join_rust_and_return(h: &mut Harness<'_, CoveApp>) {
    type_into(h, "Message # general", "/join rust");
    h.key_press(egui::Key::Enter);
    wait_for(h, "#rust", |h| shows(h, "# rust"));
    h.get_by_label("# general").click();
    wait_for(h, "#general shown", |h| {
        h.state().chat().unwrap().current
            == cove_common::Target::Room(cove_common::RoomName::general())
    });
}

// --- Notifications, mute, keyboard (branch notify) ---

/// Tells the app its window has (or has lost) the keyboard focus, as the
/// window system does; `None` is a window that never said.
pub fn set_focused(h: &mut Harness<'_, CoveApp>, focused: Option<bool>) {
    if let Some(v) = h.input_mut().viewports.get_mut(&egui::ViewportId::ROOT) {
        v.focused = focused;
    }
    if let Some(f) = focused {
        h.event(egui::Event::WindowFocused(f));
    }
    h.step();
}

/// The app with a recording notifier instead of the desktop's.
pub fn app_recording(
    w: &World,
    config: &str,
) -> (Harness<'static, CoveApp>, cove_client::notify::Recorder) {
    let mut h = w.app_in(config);
    let rec = cove_client::notify::Recorder::default();
    h.state_mut().set_notifier(Box::new(rec.clone()));
    (h, rec)
}

/// The window titles the app asked for in the last frame.
pub fn titles_asked(h: &Harness<'_, CoveApp>) -> Vec<String> {
    h.output()
        .viewport_output
        .get(&egui::ViewportId::ROOT)
        .map(|v| {
            v.commands
                .iter()
                .filter_map(|c| match c {
                    egui::ViewportCommand::Title(t) => Some(t.clone()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Uploads `bytes` as `name` from a headless session and sends it to
/// `#general` with `caption` (protocol v6), one chunk at a time; the
/// message's id once acknowledged.
pub fn send_file_to_general(
    w: &World,
    (s, events): &mut (Session, Events),
    name: &str,
    bytes: &[u8],
    caption: Option<&str>,
    n: usize,
) -> u64 {
    use cove_common::Request;
    use cove_common::limits::FILE_CHUNK_BYTES;
    use cove_common::proto::{ChunkData, FileName};
    let mut call = |request: Request| {
        let id = w.rt.block_on(s.send(request)).unwrap();
        next_message(w, events, "the reply", |m| m.answers() == Some(id))
    };
    let upload = match call(Request::Upload {
        name: FileName::new(name).unwrap(),
        size: bytes.len() as u64,
    }) {
        ServerMessage::UploadReady { upload, .. } => upload,
        other => panic!("{other:?}"),
    };
    for (i, chunk) in bytes.chunks(FILE_CHUNK_BYTES).enumerate() {
        let reply = call(Request::Chunk {
            upload: upload.clone(),
            offset: (i * FILE_CHUNK_BYTES) as u64,
            data: ChunkData::new(chunk.to_vec()).unwrap(),
        });
        assert!(matches!(reply, ServerMessage::ChunkOk { .. }), "{reply:?}");
    }
    match call(Request::Send {
        client_id: cove_common::ClientMsgId::new(format!("f{n}")).unwrap(),
        to: cove_common::Target::Room(cove_common::RoomName::general()),
        text: caption.map(|c| cove_common::MessageText::new(c).unwrap()),
        reply_to: None,
        file: Some(upload),
    }) {
        ServerMessage::Ack { message_id, .. } => message_id,
        other => panic!("{other:?}"),
    }
}

/// A PNG of `width` × `height` pixels that does not compress much, so it
/// travels in several chunks.
pub fn noisy_png(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbaImage::from_fn(width, height, |x, y| {
        let h =
            (x.wrapping_mul(2_654_435_761) ^ y.wrapping_mul(40_503)).wrapping_mul(2_246_822_519);
        image::Rgba([(h >> 24) as u8, (h >> 16) as u8, (x % 256) as u8, 0xff])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// Downloads a message's file whole from a headless session.
pub fn download_file(
    w: &World,
    (s, events): &mut (Session, Events),
    file: &cove_common::proto::Attachment,
) -> Vec<u8> {
    let mut out = Vec::new();
    for offset in (0..file.size).step_by(cove_common::limits::FILE_CHUNK_BYTES) {
        let request = cove_common::Request::Download {
            file: file.id.clone(),
            key: file.key.clone(),
            offset,
        };
        let id = w.rt.block_on(s.send(request)).unwrap();
        match next_message(w, events, "a chunk", |m| m.answers() == Some(id)) {
            ServerMessage::FileData { data, .. } => out.extend_from_slice(data.as_bytes()),
            other => panic!("{other:?}"),
        }
    }
    out
}

/// How many requests for the user's attention the app sent the window in
/// the last frame.
pub fn attention_asked(h: &Harness<'_, CoveApp>) -> usize {
    h.output()
        .viewport_output
        .get(&egui::ViewportId::ROOT)
        .map_or(0, |v| {
            v.commands
                .iter()
                .filter(|c| matches!(c, egui::ViewportCommand::RequestUserAttention(_)))
                .count()
        })
}
