//! Defaults the server and the app must agree on without either linking the
//! other.

/// The address a server listens on, and the app connects to, unless told
/// otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7878";
