//! The two screens.

pub mod chat;
pub mod login;
mod search;
