//! The Cove desktop app as a library, so the UI tests can drive it.
//!
//! [`app::CoveApp`] switches between the start screen ([`ui::login`]) and the
//! chat screen ([`ui::chat`]); [`state`] holds the chat as plain data;
//! [`net`] runs the client session on a background runtime; [`commands`]
//! parses what the user types; [`markup`] reads
//! the light markup and links of message text; [`trust`] pins server keys; [`settings`]
//! remembers choices; [`attention`] puts the unread total in the window's
//! title and asks for attention on a direct message or mention; [`notify`]
//! shows desktop notifications and keeps the muted conversations; [`fonts`]
//! adds the system's fonts for the scripts egui's own lack. `host` runs a
//! server inside the app ("Host a chat on this computer"); it and its
//! `cove-server` dependency exist only with the `host` cargo feature, on by
//! default.

pub mod app;
pub mod attention;
pub mod commands;
pub mod dialogs;
pub mod fonts;
#[cfg(feature = "host")]
pub mod host;
pub mod markup;
pub mod net;
pub mod notify;
pub mod picture;
pub mod settings;
pub mod state;
pub mod trust;
pub mod ui;

pub use app::{AppOptions, CoveApp};
