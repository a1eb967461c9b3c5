//! The app: the start screen until logged in, then the chat screen. Network
//! events are drained at the start of each frame; nothing here blocks.
//! [`notifying`] adds desktop notifications and muted conversations;
//! [`servers`] lists and forgets pinned servers for the settings.

mod notifying;
mod servers;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use cove_common::time::now_ms;
use cove_common::{KdfParams, MessageText, RoomName, SearchText, Target, Topic, Username};

use crate::attention::{Ask, Attention};
use crate::commands::{self, Input};
use crate::net::{AuthMode, Net, NetCommand, NetEvent};
use crate::notify::{Desktop, Notifier};
use crate::settings::Settings;
use crate::state::{ChatState, Place, RoomAct, Status};
use crate::ui::chat::{ChatAction, ChatView};
use crate::ui::login::{LoginAction, LoginForm};

mod files;

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
    /// "Log out" was clicked: the session's end brings back the start
    /// screen instead of closing the window.
    logging_out: bool,
    closed: bool,
    /// The window's title and requests for attention.
    attention: Attention,
    /// A zoom factor to set at the next frame: the saved one at start-up,
    /// then a text size chosen in the settings.
    zoom_to: Option<f32>,
    /// Where desktop notifications go.
    notifier: Box<dyn Notifier>,
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
        let zoom_to = Some(settings.start_zoom());
        Ok(Self {
            opts,
            net: Some(net),
            settings,
            login,
            chat: None,
            view: ChatView::default(),
            connect_after_host: None,
            exiting: None,
            logging_out: false,
            closed: false,
            attention: Attention::default(),
            zoom_to,
            notifier: Box::new(Desktop::default()),
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

    /// Hands the requests the chat state queued to the network.
    fn flush(&self, chat: &mut ChatState) {
        for (id, request) in chat.take_outbox() {
            self.net(NetCommand::Request { id, request });
        }
        for job in chat.take_jobs() {
            self.net(NetCommand::Transfer(job));
        }
    }

    /// Draws one frame. Used by eframe and by the UI tests alike.
    pub fn show(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        if let Some(n) = &self.net {
            n.set_context(&ctx);
        }
        if let Some(zoom) = self.zoom_to.take() {
            ctx.set_zoom_factor(zoom);
        }
        ctx.set_theme(self.settings.theme.preference());
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
                self.view.notify = self.settings.notify.kinds;
                self.servers_for_settings();
                let actions = self.view.show(ui, &chat, self.login.hosting.as_ref());
                for a in actions {
                    self.on_chat_action(&mut chat, a);
                }
                self.flush(&mut chat);
                let (unread, alerts) = crate::attention::counts(&chat);
                self.ask(&ctx, unread, alerts);
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
        if let Some(mut chat) = self.chat.take() {
            self.flush(&mut chat);
            self.chat = Some(chat);
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
                    chat.ended("the server's key changed".into());
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
                    // Back after a lost connection: catch up, re-send.
                    Some(chat) => chat.logged_in_again(welcome),
                    None => {
                        let mut chat = ChatState::from_welcome(welcome);
                        self.load_mutes(&mut chat);
                        self.chat = Some(chat);
                    }
                }
            }
            NetEvent::Server(msg) => {
                self.notify_about(&msg, ctx);
                if let Some(chat) = &mut self.chat {
                    chat.apply(msg);
                }
            }
            NetEvent::Reply { to, msg } => {
                if let Some(chat) = &mut self.chat {
                    chat.on_reply(to, msg);
                }
            }
            NetEvent::Unanswered(ids) => {
                if let Some(chat) = &mut self.chat {
                    chat.on_unanswered(&ids);
                }
            }
            NetEvent::Reconnecting { reason, retry_in } => {
                if let Some(chat) = &mut self.chat {
                    chat.status = Status::Reconnecting {
                        reason: format!("{reason} Retrying in {retry_in} s"),
                    };
                }
            }
            NetEvent::SignedOut(sentence) => self.back_to_start(Some(sentence)),
            NetEvent::Transfer(ev) => self.on_transfer(ev, ctx),
            NetEvent::Closed { reason } => {
                if self.exiting.is_some() {
                    self.finish_exit(ctx);
                } else if self.logging_out {
                    self.back_to_start(None);
                } else if let Some(chat) = &mut self.chat {
                    chat.ended(reason.unwrap_or_else(|| "disconnected".into()));
                }
            }
        }
    }

    fn on_chat_action(&mut self, chat: &mut ChatState, action: ChatAction) {
        match action {
            ChatAction::Submit(line) => match commands::parse(&line) {
                Ok(Input::Say(text)) => {
                    chat.say(chat.current.clone(), text);
                }
                Ok(Input::Msg(user, text)) => {
                    let to = Target::User(user);
                    chat.show(to.clone());
                    chat.say(to, text);
                }
                Ok(Input::Join(room)) => chat.join(room),
                Ok(Input::Leave(room)) => {
                    let room = room.or_else(|| match &chat.current {
                        Target::Room(r) => Some(r.clone()),
                        Target::User(_) => None,
                    });
                    match room {
                        Some(room) => chat.leave(room),
                        None => chat.info("/leave works in rooms; name one: /leave room"),
                    }
                }
                Ok(Input::Help) => chat.info(commands::HELP),
                Ok(Input::Exit) => self.begin_exit(),
                Err(e) => {
                    chat.info(format!("Error: {e}"));
                    self.view.compose.input = line;
                }
            },
            ChatAction::Reply { quote, text } => match commands::parse(&text) {
                Ok(Input::Say(text)) => {
                    chat.reply(chat.current.clone(), text, quote);
                }
                // A command typed while replying is still a command.
                Ok(_) => self.on_chat_action(chat, ChatAction::Submit(text)),
                Err(e) => {
                    chat.info(format!("Error: {e}"));
                    self.view.compose.input = text;
                    self.view.compose.reply(chat.current.clone(), quote);
                }
            },
            ChatAction::Edit { with, id, text } => match MessageText::new(text.trim_end()) {
                Ok(text) => {
                    chat.edit(with, id, text);
                }
                Err(e) => chat.info(format!("Error: {e}")),
            },
            ChatAction::Delete { with, id } => {
                chat.delete(with, id);
            }
            ChatAction::React {
                with,
                id,
                emoji,
                remove,
            } => {
                chat.react(with, id, emoji, remove);
            }
            ChatAction::JumpTo(id) => chat.jump_to(chat.current.clone(), id),
            ChatAction::Open(t) => chat.show(t),
            ChatAction::Join(name) => match RoomName::new(name.trim()) {
                Ok(room) => chat.join(room),
                Err(e) => chat.info(format!("Room name: {e}")),
            },
            ChatAction::Direct(name) => match Username::new(name.trim()) {
                Ok(u) => self.on_chat_action(chat, ChatAction::Open(Target::User(u))),
                Err(e) => chat.info(format!("Username: {e}")),
            },
            ChatAction::LoadOlder => chat.load_older(),
            ChatAction::Retry(client_id) => {
                chat.retry(&client_id);
            }
            ChatAction::Discard(client_id) => {
                chat.discard(&client_id);
            }
            ChatAction::Typing => chat.typing(now_ms()),
            ChatAction::SeenNewest => chat.seen_newest(now_ms()),
            ChatAction::Search(text) => match SearchText::new(text.trim()) {
                Ok(text) => chat.search(text),
                Err(e) => chat.info(format!("Search: {e}")),
            },
            ChatAction::SearchMore => chat.search_more(),
            ChatAction::CloseSearch => chat.close_search(),
            ChatAction::OpenResult(id) => chat.open_result(id),
            ChatAction::Theme(theme) => {
                self.settings.theme = theme;
                self.settings.save(&self.opts.config_dir);
            }
            ChatAction::ForgetServer(addr) => self.forget_server(&addr),
            ChatAction::TextSize(size) => {
                self.settings.zoom = size.zoom();
                self.zoom_to = Some(size.zoom());
                self.settings.save(&self.opts.config_dir);
            }
            ChatAction::Mute { with, mute } => self.mute(chat, with, mute),
            ChatAction::Notify(kinds) => self.set_kinds(kinds),
            other => self.on_v5_action(chat, other),
        }
    }

    /// Back to the start screen after logging out or being signed out
    /// for good (`why` says which), with nothing of the session kept: the
    /// next login may be someone else's.
    fn back_to_start(&mut self, why: Option<String>) {
        self.logging_out = false;
        self.chat = None;
        self.view = ChatView::default();
        self.login.busy = false;
        self.login.trust = None;
        self.login.password.clear();
        self.login.confirm.clear();
        self.login.mode = AuthMode::Login;
        self.login.error = why;
    }

    /// The actions of rooms with owners and of the account (protocol v5).
    fn on_v5_action(&mut self, chat: &mut ChatState, action: ChatAction) {
        match action {
            ChatAction::NewRoom {
                name,
                private,
                topic,
            } => {
                let topic = if topic.is_empty() {
                    Ok(None)
                } else {
                    Topic::new(topic).map(Some)
                };
                match (RoomName::new(name), topic) {
                    (Ok(room), Ok(topic)) => chat.create(room, private, topic),
                    (Err(e), _) => chat.set_note(Place::NewRoom, format!("Room name: {e}."), false),
                    (_, Err(e)) => chat.set_note(Place::NewRoom, format!("Topic: {e}."), false),
                }
            }
            ChatAction::Invite { room, user } => match Username::new(user.trim()) {
                Ok(user) => chat.room_act(room, RoomAct::Invite(user)),
                Err(e) => chat.set_note(Place::Room(room), format!("Username: {e}."), false),
            },
            ChatAction::SetTopic { room, topic } => {
                let topic = topic.trim();
                if topic.is_empty() {
                    chat.room_act(room, RoomAct::SetTopic(None));
                } else {
                    match Topic::new(topic) {
                        Ok(t) => chat.room_act(room, RoomAct::SetTopic(Some(t))),
                        Err(e) => chat.set_note(Place::Room(room), format!("Topic: {e}."), false),
                    }
                }
            }
            ChatAction::Room { room, act } => chat.room_act(room, act),
            ChatAction::Accept(room) => chat.accept(room),
            ChatAction::DismissRemoval(i) => chat.dismiss_removal(i),
            ChatAction::ChangePassword {
                old,
                new,
                sign_out_others,
            } => chat.change_password(old.0, new.0, sign_out_others),
            ChatAction::DeleteAccount(password) => chat.delete_account(password.0),
            ChatAction::Files(act) => self.on_files_action(chat, act),
            ChatAction::LogOut => {
                self.logging_out = true;
                self.net(NetCommand::Logout);
            }
            _ => {}
        }
    }

    fn begin_exit(&mut self) {
        if self.exiting.is_none() {
            self.exiting = Some(Instant::now());
            self.net(NetCommand::Logout);
        }
    }

    /// Sends the window what [`crate::attention`] decides.
    fn ask(&mut self, ctx: &egui::Context, unread: u32, alerts: u32) {
        let focused = ctx.input(|i| i.viewport().focused) != Some(false);
        for ask in self.attention.next(unread, alerts, focused) {
            ctx.send_viewport_cmd(match ask {
                Ask::Title(t) => egui::ViewportCommand::Title(t),
                Ask::Attention => egui::ViewportCommand::RequestUserAttention(
                    egui::UserAttentionType::Informational,
                ),
            });
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
