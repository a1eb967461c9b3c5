//! The `reason` of every `bye` the server sends (docs/protocol.md §7),
//! defined once for the server that says them and the clients that act
//! on them.

/// The client sent `logout`.
pub const GOODBYE: &str = "goodbye";
/// Nothing arrived for too long.
pub const IDLE: &str = "idle for too long";
/// No login in time after connecting.
pub const NO_LOGIN: &str = "not logged in in time";
/// Too many records that were not JSON objects.
pub const NOT_OBJECTS: &str = "too many records that are not JSON objects";
/// The server stops.
pub const SHUTDOWN: &str = "the server is shutting down";
/// Another session changed the password and signed this one out.
pub const SIGNED_OUT: &str = "signed out: the password was changed";
/// This session deleted the account.
pub const DELETED: &str = "account deleted";
/// Another session deleted the account.
pub const DELETED_ELSEWHERE: &str = "signed out: the account was deleted";
