//! The app: the start screen until logged in, then the chat screen. Network
//! events are drained at the start of each frame; nothing here blocks.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use cove_common::limits::HISTORY_PAGE_MAX;
use cove_common::{KdfParams, MessageText, Request, RoomName, Target, Username};

use crate::commands::{self, Input};
use crate::net::{AuthMode, Net, NetCommand, NetEvent};
use crate::settings::Settings;
use crate::state::{ChatState, Status};
use crate::ui::chat::{ChatAction, ChatView};
use crate::ui::login::{LoginAction, LoginForm};

/// Where the app keeps its files; tests point these at temporary folders.
#[derive(Debug, Clone)]
pub struct AppOptions {
    /// Settings and pinned servers.
    pub config_dir: PathBuf,
    /// Data of a hosted server (used only in builds with the `host`
    /// feature).
    pub server_data_dir: PathBuf,
    /// Argon2 parameters for a hosted server (lighter only in tests; used
    /// only in builds with the `host` feature).
    pub kdf: KdfParams,
}

impl AppOptions {
    /// The platform directories (`directories` crate).
    pub fn platform() -> anyhow::Result<Self> {
        let dirs = directories::ProjectDirs::from("", "", "cove")
            .ok_or_else(|| anyhow::anyhow!("no home directory found"))?;
        let fallback = dirs.data_dir().join("server");
        // A hosted server keeps its data where a standalone one would.
        #[cfg(feature = "host")]
        let server_data_dir = crate::host::default_data_dir().unwrap_or(fallback);
        #[cfg(not(feature = "host"))]
        let server_data_dir = fallback;
        Ok(Self {
            config_dir: dirs.config_dir().to_path_buf(),
            server_data_dir,
            kdf: KdfParams::production(),
        })
    }
}

/// How long `#exit` waits for the server's goodbye before closing anyway.
const EXIT_GRACE: Duration = Duration::from_secs(3);

/// The Cove desktop app.
pub struct CoveApp {
    opts: AppOptions,
    net: Option<Net>,
    settings: Settings,
    login: LoginForm,
    chat: Option<ChatState>,
    view: ChatView,
    /// Waiting to connect to our own server once it is up.
    connect_after_host: Option<(AuthMode, Username, cove_common::Password)>,
    exiting: Option<Instant>,
    closed: bool,
}

impl std::fmt::Debug for CoveApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CoveApp")
            .field("closed", &self.closed)
            .finish()
    }
}

impl CoveApp {
    /// Creates the app and its network runtime.
    pub fn new(opts: AppOptions) -> std::io::Result<Self> {
        let settings = Settings::load(&opts.config_dir);
        let login = LoginForm::new(
            settings.server.clone(),
            settings.username.clone(),
            settings.host_port,
        );
        let net = Net::start(opts.config_dir.clone())?;
        Ok(Self {
            opts,
            net: Some(net),
            settings,
            login,
            chat: None,
            view: ChatView::default(),
            connect_after_host: None,
            exiting: None,
            closed: false,
        })
    }

    /// The start screen's state (for tests).
    pub fn login_form(&mut self) -> &mut LoginForm {
        &mut self.login
    }

    /// The chat state, once logged in.
    pub fn chat(&self) -> Option<&ChatState> {
        self.chat.as_ref()
    }

    /// Whether the app has finished leaving and asked the window to close.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    fn net(&self, cmd: NetCommand) {
        if let Some(n) = &self.net {
            n.send(cmd);
        }
    }

    fn request(&self, r: Request) {
        self.net(NetCommand::Send(r));
    }

    /// Draws one frame. Used by eframe and by the UI tests alike.
    pub fn show(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        if let Some(n) = &self.net {
            n.set_context(&ctx);
        }
        ctx.set_theme(if self.settings.dark {
            egui::Theme::Dark
        } else {
            egui::Theme::Light
        });
        self.pump(&ctx);
        if ctx.input(|i| i.viewport().close_requested()) && !self.closed && self.chat.is_some() {
            // Closing the window leaves like #exit: tell the server first.
            ctx.send_viewport_cmd(egui::ViewportCommand::CancelClose);
            self.begin_exit();
        }
        if let Some(t) = self.exiting {
            if t.elapsed() > EXIT_GRACE {
                self.finish_exit(&ctx);
            } else {
                ctx.request_repaint_after(Duration::from_millis(100));
            }
        }
        match self.chat.take() {
            Some(mut chat) => {
                let actions =
                    self.view
                        .show(ui, &chat, self.settings.dark, self.login.hosting.as_ref());
                for a in actions {
                    self.on_chat_action(&mut chat, a);
                }
                self.chat = Some(chat);
            }
            None => {
                egui::CentralPanel::default().show(ui, |ui| match self.login.show(ui) {
                    LoginAction::Submit => self.submit_login(),
                    LoginAction::Trust(yes) => {
                        self.login.trust = None;
                        if !yes {
                            self.login.busy = false;
                        }
                        self.net(NetCommand::Trust(yes));
                    }
                    LoginAction::None => {}
                });
            }
        }
    }

    fn submit_login(&mut self) {
        let (username, password) = match self.login.validate() {
            Ok(v) => v,
            Err(e) => {
                self.login.error = Some(e);
                return;
            }
        };
        self.login.error = None;
        self.login.key_changed = None;
        self.login.busy = true;
        self.settings.username = username.to_string();
        if self.login.host {
            self.connect_after_host = Some((self.login.mode, username, password));
            self.net(NetCommand::Host {
                listen: self.login.host_listen.trim().to_owned(),
                data_dir: self.opts.server_data_dir.clone(),
                kdf: self.opts.kdf.clone(),
            });
        } else {
            let addr = self.login.server.trim().to_owned();
            self.settings.server = addr.clone();
            self.net(NetCommand::Connect {
                addr,
                mode: self.login.mode,
                username,
                password,
            });
        }
        self.settings.save(&self.opts.config_dir);
    }

    fn pump(&mut self, ctx: &egui::Context) {
        let events = self.net.as_ref().map(Net::poll).unwrap_or_default();
        for ev in events {
            self.on_net_event(ev, ctx);
        }
    }

    fn on_net_event(&mut self, ev: NetEvent, ctx: &egui::Context) {
        match ev {
            NetEvent::Hosting { addr, fingerprint } => {
                let port = addr.rsplit(':').next().unwrap_or("7878").to_owned();
                self.login.hosting = Some((addr, fingerprint));
                if let Some((mode, username, password)) = self.connect_after_host.take() {
                    let local = format!("127.0.0.1:{port}");
                    self.settings.server = local.clone();
                    self.login.server = local.clone();
                    self.net(NetCommand::Connect {
                        addr: local,
                        mode,
                        username,
                        password,
                    });
                }
            }
            NetEvent::HostFailed(e) => {
                self.login.busy = false;
                self.login.error = Some(format!("Could not start the server: {e}"));
            }
            NetEvent::TrustPrompt { addr, fingerprint } => {
                self.login.trust = Some((addr, fingerprint));
            }
            NetEvent::KeyChanged {
                addr,
                pinned,
                presented,
            } => {
                self.login.busy = false;
                self.login.key_changed = Some((addr, pinned, presented));
                if let Some(chat) = &mut self.chat {
                    chat.status = Status::Offline {
                        reason: "the server's key changed".into(),
                    };
                }
            }
            NetEvent::Failed(msg) => {
                self.login.busy = false;
                self.login.error = Some(msg);
            }
            NetEvent::LoggedIn(welcome) => {
                self.login.busy = false;
                self.login.password.clear();
                self.login.confirm.clear();
                match &mut self.chat {
                    Some(chat) => {
                        chat.status = Status::Online;
                        chat.set_rooms(welcome.rooms);
                        for p in chat.take_resends() {
                            self.net(NetCommand::Send(Request::Send {
                                client_id: p.client_id,
                                to: p.to,
                                text: p.text,
                            }));
                        }
                    }
                    None => {
                        let mut chat = ChatState::new(welcome.session.username, welcome.rooms);
                        chat.directs = welcome.directs;
                        let conversations = chat
                            .rooms
                            .iter()
                            .map(|r| Target::Room(r.name.clone()))
                            .chain(chat.directs.iter().map(|u| Target::User(u.clone())));
                        for with in conversations {
                            self.request(Request::History {
                                with,
                                before: None,
                                limit: 100,
                            });
                        }
                        self.request(Request::Members {
                            room: RoomName::general(),
                        });
                        self.chat = Some(chat);
                    }
                }
            }
            NetEvent::Server(msg) => {
                if let Some(chat) = &mut self.chat
                    && chat.apply(msg)
                    && let Target::Room(room) = chat.current.clone()
                {
                    self.request(Request::Members { room });
                }
            }
            NetEvent::Reconnecting { reason, retry_in } => {
                if let Some(chat) = &mut self.chat {
                    chat.status = Status::Reconnecting {
                        reason: format!("{reason} Retrying in {retry_in} s"),
                    };
                }
            }
            NetEvent::Closed { reason } => {
                if self.exiting.is_some() {
                    self.finish_exit(ctx);
                } else if let Some(chat) = &mut self.chat {
                    chat.status = Status::Offline {
                        reason: reason.unwrap_or_else(|| "disconnected".into()),
                    };
                }
            }
        }
    }

    fn on_chat_action(&mut self, chat: &mut ChatState, action: ChatAction) {
        match action {
            ChatAction::Submit(line) => match commands::parse(&line) {
                Ok(Input::Say(text)) => self.say(chat, chat.current.clone(), text),
                Ok(Input::Msg(user, text)) => {
                    let to = Target::User(user);
                    chat.open(to.clone());
                    self.say(chat, to, text);
                }
                Ok(Input::Join(room)) => self.request(Request::Join { room }),
                Ok(Input::Leave(room)) => {
                    let room = room.or_else(|| match &chat.current {
                        Target::Room(r) => Some(r.clone()),
                        Target::User(_) => None,
                    });
                    match room {
                        Some(room) => self.request(Request::Leave { room }),
                        None => chat.info("/leave works in rooms; name one: /leave room"),
                    }
                }
                Ok(Input::Help) => chat.info(commands::HELP),
                Ok(Input::Exit) => self.begin_exit(),
                Err(e) => {
                    chat.info(format!("Error: {e}"));
                    self.view.input = line;
                }
            },
            ChatAction::Open(t) => {
                let fresh = !chat.conversations.contains_key(&t);
                chat.open(t.clone());
                if fresh {
                    self.request(Request::History {
                        with: t.clone(),
                        before: None,
                        limit: 100,
                    });
                }
                if let Target::Room(room) = t {
                    self.request(Request::Members { room });
                }
            }
            ChatAction::Join(name) => match RoomName::new(name.trim()) {
                Ok(room) => self.request(Request::Join { room }),
                Err(e) => chat.info(format!("Room name: {e}")),
            },
            ChatAction::Direct(name) => match Username::new(name.trim()) {
                Ok(u) => self.on_chat_action(chat, ChatAction::Open(Target::User(u))),
                Err(e) => chat.info(format!("Username: {e}")),
            },
            ChatAction::LoadOlder => {
                let with = chat.current.clone();
                if let Some(conv) = chat.conversations.get_mut(&with) {
                    conv.loading = true;
                    let before = conv.oldest_id();
                    self.request(Request::History {
                        with,
                        before,
                        limit: HISTORY_PAGE_MAX,
                    });
                }
            }
            ChatAction::ToggleTheme => {
                self.settings.dark = !self.settings.dark;
                self.settings.save(&self.opts.config_dir);
            }
        }
    }

    fn say(&mut self, chat: &mut ChatState, to: Target, text: MessageText) {
        let client_id = chat.new_client_id();
        chat.add_pending(client_id.clone(), to.clone(), text.clone());
        self.request(Request::Send {
            client_id,
            to,
            text,
        });
    }

    fn begin_exit(&mut self) {
        if self.exiting.is_none() {
            self.exiting = Some(Instant::now());
            self.net(NetCommand::Logout);
        }
    }

    fn finish_exit(&mut self, ctx: &egui::Context) {
        self.exiting = None;
        self.closed = true;
        self.settings.zoom = ctx.zoom_factor();
        self.settings.save(&self.opts.config_dir);
        ctx.send_viewport_cmd(egui::ViewportCommand::Close);
    }
}

impl eframe::App for CoveApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.show(ui);
    }

    fn on_exit(&mut self, _gl: Option<&eframe::glow::Context>) {
        if let Some(net) = self.net.take() {
            net.shutdown();
        }
    }
}

impl Drop for CoveApp {
    fn drop(&mut self) {
        if let Some(net) = self.net.take() {
            net.shutdown();
        }
    }
}
