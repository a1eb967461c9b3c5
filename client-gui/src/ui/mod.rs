//! The two screens.

mod actions;
pub mod chat;
mod compose;
mod entry;
pub mod login;
mod mentions;
mod message;
mod notifications;
pub mod reactions;
pub mod room_admin;
mod search;
pub mod settings;
mod spoken;
mod switcher;
