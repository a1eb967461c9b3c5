//! The two screens.

mod actions;
pub mod attach;
pub mod attachment;
mod avatar;
pub mod chat;
mod compose;
mod entry;
pub mod login;
mod mentions;
mod message;
mod notifications;
pub mod picture;
pub mod reactions;
mod rich;
pub mod room_admin;
mod search;
pub mod servers;
pub mod settings;
mod spoken;
mod switcher;
