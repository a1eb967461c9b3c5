//! `cove`: the desktop chat app.

use std::io::Write;

use anyhow::Context;
use cove_client::{AppOptions, CoveApp};

const HELP: &str = "\
Cove: the desktop app of a self-hosted encrypted group chat.

Usage: cove [--help | --version]

With no argument, opens the app's window: log in or register on a Cove
server, or host a chat on this computer.

Options:
  -h, --help     Print this help and exit
  -V, --version  Print the version and exit
";

/// `--help` and `--version` answer without opening a window (the package
/// test runs them on a machine with no display). `Some(code)` means exit.
fn command_line() -> Option<std::process::ExitCode> {
    let mut args = std::env::args_os().skip(1);
    let arg = args.next()?;
    let mut out = std::io::stdout().lock();
    let code = match (arg.to_str(), args.next()) {
        (Some("-h" | "--help"), None) => {
            let _ = out.write_all(HELP.as_bytes());
            0
        }
        (Some("-V" | "--version"), None) => {
            let _ = writeln!(out, "cove {}", env!("CARGO_PKG_VERSION"));
            0
        }
        _ => {
            eprintln!("cove: unexpected arguments; try `cove --help`");
            2
        }
    };
    Some(std::process::ExitCode::from(code))
}

fn icon() -> Option<egui::IconData> {
    let png = include_bytes!("../../assets/icon.png");
    eframe::icon_data::from_png_bytes(png).ok()
}

fn main() -> anyhow::Result<std::process::ExitCode> {
    if let Some(code) = command_line() {
        return Ok(code);
    }
    let opts = AppOptions::platform()?;
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
        // The app sets the saved zoom (text size) in its first frame; the
        // system's fonts are added as fallbacks off the UI thread.
        Box::new(move |cc| {
            cove_client::fonts::load_in_background(cc.egui_ctx.clone());
            Ok(Box::new(CoveApp::new(opts)?))
        }),
    )
    .map_err(|e| anyhow::anyhow!("{e}"))
    .context("running the window")?;
    Ok(std::process::ExitCode::SUCCESS)
}
