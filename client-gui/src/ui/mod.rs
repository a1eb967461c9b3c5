//! The two screens.

pub mod chat;
mod entry;
pub mod login;
mod search;
