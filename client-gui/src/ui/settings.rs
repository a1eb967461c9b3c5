//! The Settings window (from the top bar): the theme, the text size,
//! notifications, the pinned servers ([`super::servers`]), changing the
//! password, signing out, and deleting the account (protocol v5). The
//! forms check what they can before anything is sent (the new password
//! typed twice alike, passwords of a valid length); the server's answer
//! shows in the window.

use cove_common::Password;
use egui::RichText;
use zeroize::Zeroize;

use super::actions::Secret;
use super::chat::{ChatAction, ChatView, ONLINE};
use super::entry::{FAILED, NOTICE};
use crate::settings::{TextSize, ThemeChoice};
use crate::state::{ChatState, Note, Place};

/// What the user explains before deleting: the protocol's promise.
pub const DELETE_WARNING: &str = "This deletes your account and your history on this server. \
     Others keep the messages you sent them.";

/// The window's fields while it is open. Passwords are wiped when the
/// window closes or they are sent.
#[derive(Default)]
pub struct SettingsForm {
    current: String,
    new: String,
    repeat: String,
    sign_out_others: bool,
    /// A mistake found before sending (passwords that differ, too short).
    problem: Option<String>,
    delete_password: String,
    /// "Delete my account" was clicked: the confirmation is shown.
    confirming: bool,
    delete_problem: Option<String>,
    /// "Forget and log out…" was clicked for the server in use.
    forgetting: bool,
}

impl std::fmt::Debug for SettingsForm {
    // Never the passwords typed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SettingsForm")
    }
}

impl Drop for SettingsForm {
    fn drop(&mut self) {
        self.current.zeroize();
        self.new.zeroize();
        self.repeat.zeroize();
        self.delete_password.zeroize();
    }
}

fn note(ui: &mut egui::Ui, n: Option<&Note>) {
    if let Some(n) = n {
        let colour = if n.ok { ONLINE } else { FAILED };
        ui.add(egui::Label::new(RichText::new(&n.text).color(colour)).wrap());
    }
}

fn problem(ui: &mut egui::Ui, p: Option<&String>) {
    if let Some(p) = p {
        ui.add(egui::Label::new(RichText::new(p).color(FAILED)).wrap());
    }
}

/// A password field with a label a screen reader (and a test) finds.
fn password_row(ui: &mut egui::Ui, label: &str, text: &mut String) {
    let l = ui.label(label);
    ui.add(
        egui::TextEdit::singleline(text)
            .password(true)
            .desired_width(200.0),
    )
    .labelled_by(l.id);
    ui.end_row();
}

/// The theme: light, dark, or the system's (egui follows the system's
/// mode as eframe reports it).
fn theme_row(ui: &mut egui::Ui, actions: &mut Vec<ChatAction>) {
    let now = ThemeChoice::of(ui.ctx().options(|o| o.theme_preference));
    ui.horizontal(|ui| {
        ui.label("Theme:");
        for theme in ThemeChoice::ALL {
            let on = now == theme;
            if ui.selectable_label(on, theme.label()).clicked() && !on {
                actions.push(ChatAction::Theme(theme));
            }
        }
    });
}

/// The text size: a zoom of the whole window, saved with the settings
/// (none is marked while Ctrl +/- has zoomed to another step).
fn text_size_row(ui: &mut egui::Ui, actions: &mut Vec<ChatAction>) {
    let now = TextSize::of_zoom(ui.ctx().zoom_factor());
    ui.horizontal(|ui| {
        ui.label("Text size:");
        for size in TextSize::ALL {
            let on = now == Some(size);
            if ui.selectable_label(on, size.label()).clicked() && !on {
                actions.push(ChatAction::TextSize(size));
            }
        }
    });
}

/// The new password, if the form's two copies agree and it is valid.
fn checked(form: &SettingsForm) -> Result<(Password, Password), String> {
    if form.current.is_empty() {
        return Err("Type your current password.".into());
    }
    if form.new != form.repeat {
        return Err("The new password and its repetition differ.".into());
    }
    let old =
        Password::new(form.current.clone()).map_err(|_| "The current password is not right.")?;
    let new = Password::new(form.new.clone()).map_err(|e| format!("New password: {e}."))?;
    Ok((old, new))
}

impl ChatView {
    /// The settings window, while open.
    pub(super) fn settings_window(
        &mut self,
        ctx: &egui::Context,
        state: &ChatState,
        actions: &mut Vec<ChatAction>,
    ) {
        let kinds = self.notify;
        let servers = self.servers.as_ref();
        let Some(form) = &mut self.settings else {
            return;
        };
        let mut open = true;
        egui::Window::new("Settings")
            .collapsible(false)
            .resizable(false)
            .open(&mut open)
            .anchor(egui::Align2::CENTER_CENTER, egui::vec2(0.0, 0.0))
            .show(ctx, |ui| {
                ui.set_width(380.0);
                ui.label(RichText::new(format!("Signed in as {}", state.me)).strong());
                theme_row(ui, actions);
                text_size_row(ui, actions);
                ui.separator();
                super::notifications::settings_part(ui, kinds, actions);
                ui.separator();
                super::servers::settings_part(ui, servers, &mut form.forgetting, actions);
                ui.separator();
                ui.heading("Password");
                egui::Grid::new("password_grid")
                    .num_columns(2)
                    .show(ui, |ui| {
                        password_row(ui, "Current password", &mut form.current);
                        password_row(ui, "New password", &mut form.new);
                        password_row(ui, "Repeat new password", &mut form.repeat);
                    });
                ui.checkbox(&mut form.sign_out_others, "Sign out my other devices");
                ui.horizontal(|ui| {
                    let busy = state.changing_password();
                    if ui
                        .add_enabled(!busy, egui::Button::new("Change password"))
                        .clicked()
                    {
                        match checked(form) {
                            Ok((old, new)) => {
                                form.problem = None;
                                form.current.zeroize();
                                form.new.zeroize();
                                form.repeat.zeroize();
                                actions.push(ChatAction::ChangePassword {
                                    old: Secret(old),
                                    new: Secret(new),
                                    sign_out_others: form.sign_out_others,
                                });
                            }
                            Err(e) => form.problem = Some(e),
                        }
                    }
                    if busy {
                        ui.spinner();
                    }
                });
                problem(ui, form.problem.as_ref());
                if form.problem.is_none() {
                    note(ui, state.note(&Place::Password));
                }
                ui.separator();
                ui.heading("Your account");
                ui.add(egui::Label::new(RichText::new(DELETE_WARNING).color(NOTICE)).wrap());
                egui::Grid::new("delete_grid")
                    .num_columns(2)
                    .show(ui, |ui| {
                        password_row(ui, "Your password", &mut form.delete_password);
                    });
                if !form.confirming {
                    if ui
                        .button(RichText::new("Delete my account…").color(FAILED))
                        .clicked()
                    {
                        form.confirming = true;
                    }
                } else {
                    ui.label(RichText::new("Delete your account for good?").strong());
                    ui.horizontal(|ui| {
                        let busy = state.deleting_account();
                        if ui
                            .add_enabled(
                                !busy,
                                egui::Button::new(RichText::new("Delete for good").color(FAILED)),
                            )
                            .clicked()
                        {
                            match Password::new(form.delete_password.clone()) {
                                Ok(p) => {
                                    form.delete_problem = None;
                                    form.delete_password.zeroize();
                                    actions.push(ChatAction::DeleteAccount(Secret(p)));
                                }
                                Err(_) => {
                                    form.delete_problem =
                                        Some("Type your password to confirm.".into());
                                }
                            }
                        }
                        if ui.button("Keep my account").clicked() {
                            form.confirming = false;
                        }
                        if busy {
                            ui.spinner();
                        }
                    });
                }
                problem(ui, form.delete_problem.as_ref());
                if form.delete_problem.is_none() {
                    note(ui, state.note(&Place::DeleteAccount));
                }
                ui.separator();
                if ui.button("Log out").clicked() {
                    actions.push(ChatAction::LogOut);
                }
                ui.label(
                    RichText::new("Back to the start screen; the app stays open.")
                        .small()
                        .color(NOTICE),
                );
            });
        if !open {
            self.settings = None;
        }
    }
}
