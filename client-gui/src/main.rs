//! `cove`: the desktop chat app.

use anyhow::Context;
use cove_client::{AppOptions, CoveApp, settings::Settings};

fn icon() -> Option<egui::IconData> {
    let png = include_bytes!("../../assets/icon.png");
    eframe::icon_data::from_png_bytes(png).ok()
}

fn main() -> anyhow::Result<()> {
    let opts = AppOptions::platform()?;
    let settings = Settings::load(&opts.config_dir);
    let mut viewport = egui::ViewportBuilder::default()
        .with_title("Cove")
        .with_inner_size([980.0, 640.0])
        .with_min_inner_size([520.0, 380.0]);
    if let Some(icon) = icon() {
        viewport = viewport.with_icon(icon);
    }
    let native = eframe::NativeOptions {
        viewport,
        // Remembers the window size and position between runs.
        persist_window: true,
        ..Default::default()
    };
    eframe::run_native(
        "Cove",
        native,
        Box::new(move |cc| {
            cc.egui_ctx.set_zoom_factor(settings.zoom.clamp(0.5, 3.0));
            Ok(Box::new(CoveApp::new(opts)?))
        }),
    )
    .map_err(|e| anyhow::anyhow!("{e}"))
    .context("running the window")
}
