//! The two screens.

mod actions;
pub mod chat;
mod compose;
mod entry;
pub mod login;
mod message;
pub mod reactions;
mod search;
