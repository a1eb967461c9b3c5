//! Cove's protocol core.
//!
//! Sans-IO at its heart: [`names`] and [`limits`] say what is valid,
//! [`proto`] defines every message, [`handshake`] establishes keys,
//! [`record`] seals and opens frames, [`frame`] delimits them and [`crypto`]
//! holds the one encrypt-then-MAC construction used on the wire and at rest.
//! [`mentions`] finds `@name`s in text. [`time`], [`kdf`] and [`defaults`] are the small shared facts (the clock,
//! password-hashing presets, the default address) both sides need.
//! With the `client` feature, [`client`] adds the headless async session the
//! desktop app, the load generator and the tests all use; with `files`,
//! [`files`] replaces small files atomically and durably.

pub mod crypto;
pub mod defaults;
pub mod frame;
pub mod handshake;
pub mod kdf;
pub mod limits;
pub mod mentions;
pub mod names;
pub mod proto;
pub mod record;
pub mod time;
pub mod unicode;

#[cfg(feature = "client")]
pub mod client;
#[cfg(feature = "files")]
pub mod files;

pub use defaults::DEFAULT_LISTEN;
pub use handshake::{ServerIdentity, ServerKey};
pub use kdf::KdfParams;
pub use names::{
    ClientMsgId, Emoji, HistoryCursor, InvalidInput, MessageText, Password, RoomName,
    SearchMatcher, SearchText, Username,
};
pub use proto::{ClientMessage, ErrorCode, Request, ServerMessage, Target};
