//! The "Servers" part of the settings window: the fingerprint of the
//! server this session is connected to, and every pinned server with a
//! Forget button. Forgetting only asks: the app removes the pin (through
//! [`crate::trust`]), and the next connection to that address shows the
//! trust prompt again.
//!
//! The server in use is forgotten only with logging out ("Forget and log
//! out…", confirmed): the session would otherwise go on trusting a key the
//! app no longer has, and its automatic reconnect after a dropped
//! connection, which never asks, would fail as "not trusted". Refusing
//! instead would leave no way to forget it, as the settings exist only
//! once signed in.

use egui::RichText;

use super::chat::ChatAction;
use super::entry::{FAILED, NOTICE};

/// What the settings show of the pin file; the app fills it in when the
/// settings open and after each Forget.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Servers {
    /// The address this session is connected to.
    pub current: Option<String>,
    /// The pinned servers: address and fingerprint, by address.
    pub pinned: Vec<(String, String)>,
    /// Why the pins could not be read or changed.
    pub problem: Option<String>,
}

impl Servers {
    /// The fingerprint pinned for the server in use, if it is pinned.
    pub fn current_fingerprint(&self) -> Option<&str> {
        let current = self.current.as_deref()?;
        self.pinned
            .iter()
            .find(|(addr, _)| addr == current)
            .map(|(_, f)| f.as_str())
    }
}

/// What the Forget button of `addr` is called for a screen reader (and a
/// test): the visible word alone would not say which server.
pub fn forget_name(addr: &str) -> String {
    format!("Forget {addr}")
}

/// The part of the settings window.
/// `confirming`: "Forget and log out…" was clicked for the server in use.
pub(super) fn settings_part(
    ui: &mut egui::Ui,
    servers: Option<&Servers>,
    confirming: &mut bool,
    actions: &mut Vec<ChatAction>,
) {
    ui.heading("Servers");
    let Some(servers) = servers else {
        return;
    };
    if let (Some(addr), Some(fingerprint)) = (&servers.current, servers.current_fingerprint()) {
        ui.label(format!("Connected to {addr}, whose fingerprint is"));
        super::fingerprint::show(ui, fingerprint, RichText::strong);
    }
    ui.label(
        RichText::new(
            "Trusted servers: forgetting one makes the app ask again, with its \
             fingerprint, the next time you connect to it.",
        )
        .small()
        .color(NOTICE),
    );
    if servers.pinned.is_empty() {
        ui.label("None yet.");
    }
    egui::Grid::new("pinned_servers")
        .num_columns(3)
        .striped(true)
        .show(ui, |ui| {
            for (addr, fingerprint) in &servers.pinned {
                ui.label(addr);
                super::fingerprint::show_on_one_line(ui, fingerprint, RichText::small);
                let in_use = servers.current.as_deref() == Some(addr.as_str());
                let word = if in_use {
                    "Forget and log out…"
                } else {
                    "Forget"
                };
                let button = ui
                    .button(word)
                    .on_hover_text("Ask to trust it again at the next connection")
                    .accessible_name(forget_name(addr));
                if button.clicked() {
                    if in_use {
                        *confirming = true;
                    } else {
                        actions.push(ChatAction::ForgetServer(addr.clone()));
                    }
                }
                ui.end_row();
            }
        });
    if let Some(current) = servers.current.as_ref().filter(|_| *confirming) {
        ui.label(
            RichText::new(format!(
                "You are connected to {current}: forgetting it logs you out."
            ))
            .strong(),
        );
        ui.horizontal(|ui| {
            if ui.button("Forget it and log out").clicked() {
                *confirming = false;
                actions.push(ChatAction::ForgetServer(current.clone()));
            }
            if ui.button("Keep it").clicked() {
                *confirming = false;
            }
        });
    }
    if let Some(p) = &servers.problem {
        ui.add(egui::Label::new(RichText::new(p).color(FAILED)).wrap());
    }
}
