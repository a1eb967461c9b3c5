//! Every size and count limit of the protocol, defined once.
//!
//! The server enforces these, the client checks them before sending so the
//! user gets an early, friendly error, and the tests refer to them by name.

/// Protocol version carried in both handshake hellos. Bumped on any
/// incompatible change to the wire format.
pub const PROTOCOL_VERSION: u16 = 7;

/// Largest frame body (the bytes after the 4-byte length prefix) that any side
/// accepts. Checked before anything is allocated for the frame.
pub const MAX_FRAME_LEN: usize = 64 * 1024;

/// Username and room name length, in characters (all ASCII, so also bytes).
pub const NAME_MIN_LEN: usize = 3;
/// See [`NAME_MIN_LEN`].
pub const NAME_MAX_LEN: usize = 32;

/// Longest message text, in Unicode scalar values (characters).
pub const MESSAGE_MAX_CHARS: usize = 4_000;

/// Password length bounds, in bytes of UTF-8.
pub const PASSWORD_MIN_BYTES: usize = 8;
/// See [`PASSWORD_MIN_BYTES`].
pub const PASSWORD_MAX_BYTES: usize = 1_024;

/// Longest client-chosen message id (used for de-duplication after reconnect).
pub const CLIENT_ID_MAX_LEN: usize = 64;

/// Most messages one history page may hold.
pub const HISTORY_PAGE_MAX: u16 = 200;

/// Most bytes of messages (their JSON, with a separator each) one history
/// page holds: a page of long messages stops early, with `more: true`, so
/// that the reply always fits in one record.
pub const HISTORY_PAGE_BYTES: usize = 60_000;

/// Longest history cursor, in characters (printable ASCII). The server's
/// cursors are much shorter; the bound only keeps a request's cursor from
/// being a kilobyte of junk.
pub const HISTORY_CURSOR_MAX_LEN: usize = 64;

/// Longest search text, in characters (Unicode scalar values). A search
/// compares its text with every message it reads; a short bound keeps
/// that comparison cheap and the request small.
pub const SEARCH_TEXT_MAX_CHARS: usize = 200;

/// Most results one search page holds when the request names no `limit`
/// (a `limit` is capped at [`HISTORY_PAGE_MAX`], as history pages are).
pub const SEARCH_PAGE_DEFAULT: u16 = 50;

/// Longest reaction, in bytes of UTF-8: room for the longest emoji
/// sequences (families with skin tones, about 35 bytes), not for junk.
pub const EMOJI_MAX_BYTES: usize = 64;

/// Most different emojis on one message; a reaction with a new emoji
/// past it is refused (`bad_request`). Adding to an emoji already there
/// always works.
pub const REACTIONS_PER_MESSAGE_MAX: usize = 20;

/// Most names a reaction lists in a history page (the first to react);
/// its `count` says how many reacted.
pub const REACTION_NAMES_MAX: usize = 10;

/// Most users one message mentions: later `@name`s in it mention nobody.
pub const MENTIONS_MAX: usize = 20;

/// Unread mentions counted per conversation; a count at this bound means
/// "at least this many".
pub const MENTIONS_COUNTED_MAX: usize = 99;

/// Longest quote of the original in a reply, in characters.
pub const QUOTE_MAX_CHARS: usize = 100;

/// Longest room topic, in characters.
pub const TOPIC_MAX_CHARS: usize = 200;

/// Most members one `members` reply lists; its `total` is the room's size.
pub const MEMBERS_LIST_MAX: usize = 1_000;

/// Most rooms one `rooms` reply or `welcome` lists; `rooms.total` is the
/// number of rooms.
pub const ROOMS_LIST_MAX: usize = 400;

/// Most direct conversations `welcome` lists.
pub const DIRECTS_LIST_MAX: usize = 400;

/// A `typing` request for the same conversation within this many
/// milliseconds of the last one the server accepted from the same user
/// (from any of their sessions) is refused with `rate_limited`.
pub const TYPING_MIN_INTERVAL_MS: u64 = 2_000;

/// How often a client repeats `typing` while its user keeps typing: above
/// [`TYPING_MIN_INTERVAL_MS`], so network jitter does not make a repeat
/// arrive too early, and below [`TYPING_EXPIRY_MS`], so the indicator does
/// not flicker on the receiving side.
pub const TYPING_REPEAT_MS: u64 = 3_000;

/// A receiver stops showing someone as typing this long after their last
/// `typing` event (or at once when their message arrives).
pub const TYPING_EXPIRY_MS: u64 = 6_000;

/// `typing` is fanned out only in rooms of at most this many members (in
/// bigger rooms every keystroke pause would reach everyone); in bigger
/// rooms it is accepted and goes nowhere, like presence notices.
pub const TYPING_ROOM_LIMIT: usize = 256;

/// How often, at most, a client sends `read` for one conversation while
/// new messages keep arriving in it.
pub const READ_REPEAT_MS: u64 = 1_000;

/// Bytes of a file one `chunk` or `file_data` carries: every chunk of a
/// file but the last holds exactly this many (since v6). In base64 with
/// its JSON envelope it fits in one record.
pub const FILE_CHUNK_BYTES: usize = 32 * 1024;
/// Longest file name, in bytes of UTF-8 (since v6).
pub const FILE_NAME_MAX_BYTES: usize = 255;
/// Uploads one user may have in progress at once, over all their sessions
/// (since v6); another `upload` is refused with `busy`.
pub const UPLOADS_PER_USER_MAX: usize = 4;
/// The room every user belongs to.
pub const DEFAULT_ROOM: &str = "general";

/// Most bytes a connection's writer (the server's or the client session's)
/// gathers from its queue into one `write`: enough to amortise the system
/// call, small enough that one busy peer does not hold a huge buffer.
pub const WRITE_COALESCE_BYTES: usize = 256 * 1024;
