//! How the network's events reach the UI: over a channel, waking the
//! window so that it draws them at once.

use std::sync::{Arc, OnceLock};

use super::NetEvent;

/// Delivers events to the UI and wakes it.
#[derive(Clone)]
pub(super) struct Emitter {
    pub(super) tx: std::sync::mpsc::Sender<NetEvent>,
    pub(super) ctx: Arc<OnceLock<egui::Context>>,
}

impl Emitter {
    pub(super) fn emit(&self, ev: NetEvent) {
        let _ = self.tx.send(ev);
        if let Some(ctx) = self.ctx.get() {
            ctx.request_repaint();
        }
    }
}
