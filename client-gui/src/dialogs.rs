//! The system's open and save dialogs (`rfd`), each on a thread of its
//! own so the window keeps drawing while one is open. On Linux `rfd`
//! asks the XDG desktop portal over D-Bus (libdbus, loaded at run time)
//! and falls back to `zenity`; where neither exists (a bare X server) the
//! dialog answers nothing at once, and the app's own path fields remain.

use std::path::PathBuf;
use std::sync::mpsc;

/// A dialog open on its thread; its answer comes once.
pub struct Asked {
    rx: mpsc::Receiver<Option<PathBuf>>,
}

impl std::fmt::Debug for Asked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Asked")
    }
}

impl Asked {
    /// Asks for a file to send.
    pub fn open(ctx: &egui::Context) -> Self {
        Self::run(ctx, || {
            rfd::FileDialog::new()
                .set_title("Attach a file")
                .pick_file()
        })
    }

    /// Asks where to save a file called `name`, starting in `dir`.
    pub fn save(ctx: &egui::Context, dir: Option<PathBuf>, name: String) -> Self {
        Self::run(ctx, move || {
            let mut d = rfd::FileDialog::new()
                .set_title("Save a file")
                .set_file_name(name);
            if let Some(dir) = dir {
                d = d.set_directory(dir);
            }
            d.save_file()
        })
    }

    fn run(ctx: &egui::Context, ask: impl FnOnce() -> Option<PathBuf> + Send + 'static) -> Self {
        let (tx, rx) = mpsc::channel();
        let ctx = ctx.clone();
        let spawned = std::thread::Builder::new()
            .name("cove-dialog".into())
            .spawn(move || {
                let _ = tx.send(ask());
                ctx.request_repaint();
            });
        if let Err(e) = spawned {
            tracing::warn!("could not open a file dialog: {e}");
        }
        Self { rx }
    }

    /// The answer, once the dialog closed: `Some(None)` when it was
    /// cancelled or could not open.
    pub fn poll(&self) -> Option<Option<PathBuf>> {
        match self.rx.try_recv() {
            Ok(answer) => Some(answer),
            Err(mpsc::TryRecvError::Empty) => None,
            Err(mpsc::TryRecvError::Disconnected) => Some(None),
        }
    }
}
