//! Cove's protocol core.
//!
//! Sans-IO at its heart: [`names`] and [`limits`] say what is valid,
//! [`proto`] defines every message, [`handshake`] establishes keys,
//! [`record`] seals and opens frames, [`frame`] delimits them and [`crypto`]
//! holds the one encrypt-then-MAC construction used on the wire and at rest.
//! With the `client` feature, [`client`] adds the headless async session the
//! desktop app, the load generator and the tests all use.

pub mod crypto;
pub mod frame;
pub mod handshake;
pub mod limits;
pub mod names;
pub mod proto;
pub mod record;

#[cfg(feature = "client")]
pub mod client;

pub use handshake::{ServerIdentity, ServerKey};
pub use names::{ClientMsgId, InvalidInput, MessageText, Password, RoomName, Username};
pub use proto::{ClientMessage, ErrorCode, Request, ServerMessage, Target};
