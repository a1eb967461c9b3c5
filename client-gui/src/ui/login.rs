//! The start screen: server, username, password, log in or register, or
//! host a chat on this computer (in builds with the `host` feature); the
//! trust prompt and key-change warning.

use egui::{Color32, RichText};

use crate::net::AuthMode;

/// What the user typed on the start screen.
#[derive(Debug, Clone)]
pub struct LoginForm {
    /// Log in or register.
    pub mode: AuthMode,
    /// `host:port` to join.
    pub server: String,
    /// The account name.
    pub username: String,
    /// The password (never saved).
    pub password: String,
    /// Repeated password, when registering.
    pub confirm: String,
    /// Host a chat on this computer instead of joining one (offered only in
    /// builds with the `host` feature).
    pub host: bool,
    /// Where the hosted server listens.
    pub host_listen: String,
    /// Waiting for the network.
    pub busy: bool,
    /// The last error, in plain words.
    pub error: Option<String>,
    /// A server asking to be trusted: address and fingerprint.
    pub trust: Option<(String, String)>,
    /// A pinned server presenting another key: address, pinned, presented.
    pub key_changed: Option<(String, String, String)>,
    /// The running hosted server: address and fingerprint.
    pub hosting: Option<(String, String)>,
}

/// What the user did on the start screen this frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginAction {
    /// Nothing.
    None,
    /// Submit the form.
    Submit,
    /// Answer the trust prompt.
    Trust(bool),
}

impl LoginForm {
    /// A form pre-filled with remembered values.
    pub fn new(server: String, username: String, host_port: u16) -> Self {
        Self {
            mode: AuthMode::Login,
            server,
            username,
            password: String::new(),
            confirm: String::new(),
            host: false,
            host_listen: format!("0.0.0.0:{host_port}"),
            busy: false,
            error: None,
            trust: None,
            key_changed: None,
            hosting: None,
        }
    }

    /// Draws the screen.
    pub fn show(&mut self, ui: &mut egui::Ui) -> LoginAction {
        let mut action = LoginAction::None;
        ui.vertical_centered(|ui| {
            ui.add_space(32.0);
            ui.heading(RichText::new("Cove").size(32.0).strong());
            ui.label("Encrypted group chat for your team, family or class");
            ui.add_space(16.0);
        });
        let width = 360.0f32.min(ui.available_width());
        ui.vertical_centered(|ui| {
            ui.set_max_width(width);
            if let Some((addr, fp)) = self.trust.clone() {
                action = self.trust_prompt(ui, &addr, &fp);
                return;
            }
            ui.horizontal(|ui| {
                ui.selectable_value(&mut self.mode, AuthMode::Login, "Log in");
                ui.selectable_value(&mut self.mode, AuthMode::Register, "Register");
            });
            ui.add_space(8.0);
            egui::Grid::new("login_form")
                .num_columns(2)
                .spacing([8.0, 8.0])
                .show(ui, |ui| {
                    if self.host {
                        let l = ui.label("Listen on");
                        ui.add(
                            egui::TextEdit::singleline(&mut self.host_listen).desired_width(220.0),
                        )
                        .labelled_by(l.id);
                    } else {
                        let l = ui.label("Server");
                        ui.add(egui::TextEdit::singleline(&mut self.server).desired_width(220.0))
                            .labelled_by(l.id);
                    }
                    ui.end_row();
                    let l = ui.label("Username");
                    ui.add(egui::TextEdit::singleline(&mut self.username).desired_width(220.0))
                        .labelled_by(l.id);
                    ui.end_row();
                    let l = ui.label("Password");
                    let pw = ui
                        .add(
                            egui::TextEdit::singleline(&mut self.password)
                                .password(true)
                                .desired_width(220.0),
                        )
                        .labelled_by(l.id);
                    if pw.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)) {
                        action = LoginAction::Submit;
                    }
                    ui.end_row();
                    if self.mode == AuthMode::Register {
                        let l = ui.label("Confirm password");
                        let c = ui
                            .add(
                                egui::TextEdit::singleline(&mut self.confirm)
                                    .password(true)
                                    .desired_width(220.0),
                            )
                            .labelled_by(l.id);
                        if c.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)) {
                            action = LoginAction::Submit;
                        }
                        ui.end_row();
                    }
                });
            #[cfg(feature = "host")]
            {
                ui.add_space(6.0);
                ui.checkbox(&mut self.host, "Host a chat on this computer");
            }
            ui.add_space(8.0);
            let label = match (self.host, self.mode) {
                (true, _) => "Start hosting and sign in",
                (false, AuthMode::Login) => "Sign in",
                (false, AuthMode::Register) => "Create account",
            };
            ui.horizontal(|ui| {
                if ui
                    .add_enabled(!self.busy, egui::Button::new(RichText::new(label).strong()))
                    .clicked()
                {
                    action = LoginAction::Submit;
                }
                if self.busy {
                    ui.spinner();
                    ui.label("Connecting…");
                }
            });
            if let Some((addr, fp)) = &self.hosting {
                ui.add_space(8.0);
                ui.group(|ui| {
                    ui.label(RichText::new("Your chat is running").strong());
                    ui.label(format!(
                        "Others join at {addr} (use this computer's network address)"
                    ));
                    ui.label("and should see this fingerprint:");
                    super::fingerprint::show(ui, fp, |t| t);
                });
            }
            if let Some((addr, pinned, presented)) = &self.key_changed {
                ui.add_space(8.0);
                let red = Color32::from_rgb(0xe0, 0x40, 0x40);
                ui.colored_label(
                    red,
                    format!(
                        "Warning: the server at {addr} presented a different key than before. \
                         It may be an impostor, so your password was not sent."
                    ),
                );
                ui.colored_label(red, "Pinned:");
                super::fingerprint::show(ui, pinned, |t| t.color(red));
                ui.colored_label(red, "Now:");
                super::fingerprint::show(ui, presented, |t| t.color(red));
            }
            if let Some(e) = &self.error {
                ui.add_space(8.0);
                ui.colored_label(Color32::from_rgb(0xe0, 0x60, 0x40), e);
            }
        });
        action
    }

    fn trust_prompt(&mut self, ui: &mut egui::Ui, addr: &str, fp: &str) -> LoginAction {
        let mut action = LoginAction::None;
        ui.group(|ui| {
            ui.label(RichText::new(format!("First connection to {addr}")).strong());
            ui.label("Check that this fingerprint matches the one the server's owner sees:");
            ui.add_space(4.0);
            super::fingerprint::show(ui, fp, |t| t.size(16.0));
            ui.add_space(8.0);
            ui.horizontal(|ui| {
                if ui.button("Trust this server").clicked() {
                    action = LoginAction::Trust(true);
                }
                if ui.button("Cancel").clicked() {
                    action = LoginAction::Trust(false);
                }
            });
        });
        action
    }

    /// Checks the form; returns a sentence for the user if something is off.
    pub fn validate(&self) -> Result<(cove_common::Username, cove_common::Password), String> {
        let username = cove_common::Username::new(self.username.trim())
            .map_err(|e| format!("Username: {e}."))?;
        let password = cove_common::Password::new(self.password.clone())
            .map_err(|e| format!("Password: {e}."))?;
        if self.mode == AuthMode::Register && self.password != self.confirm {
            return Err("The two passwords differ.".into());
        }
        Ok((username, password))
    }
}
