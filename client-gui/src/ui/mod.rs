//! The two screens.

mod actions;
mod attach;
pub mod attachment;
pub mod chat;
mod compose;
mod entry;
pub mod login;
mod mentions;
mod message;
pub mod picture;
pub mod reactions;
pub mod room_admin;
mod search;
pub mod settings;
