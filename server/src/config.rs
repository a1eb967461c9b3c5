//! Server configuration: where to listen, where data lives, and the limits
//! that keep one client from hurting the others.

use std::ffi::OsString;
use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;

use zeroize::Zeroizing;

use cove_common::KdfParams;

/// Everything the server needs to start.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on, e.g. `127.0.0.1:7878` (port 0 picks a free one).
    pub listen: String,
    /// The data directory (created with mode 0700 if missing).
    pub data_dir: PathBuf,
    /// Argon2id parameters for new password hashes. Tests pass lighter ones;
    /// the binary always uses [`KdfParams::production`].
    pub kdf: KdfParams,
    /// Optional operator passphrase protecting the storage key.
    pub passphrase: Option<Zeroizing<String>>,
    /// Most simultaneous connections; more are closed at once.
    pub max_connections: usize,
    /// Time allowed for each step of the handshake and between requests
    /// before login.
    pub handshake_timeout: Duration,
    /// Time from accept by which a connection must have logged in, however
    /// busy it keeps itself meanwhile (pings do not extend it).
    pub login_deadline: Duration,
    /// Connections from one client network (an IPv4 address, an IPv6 /64)
    /// that may wait to log in at once; more are closed at accept.
    pub max_unauthenticated_per_address: usize,
    /// A logged-in connection that sends nothing for this long is closed.
    /// Clients ping every 20 s.
    pub idle_timeout: Duration,
    /// Messages queued for one connection before it counts as not reading
    /// and is disconnected.
    pub outbox_capacity: usize,
    /// Bytes of messages queued for one connection before it counts as not
    /// reading and is disconnected.
    pub outbox_capacity_bytes: usize,
    /// Messages one user may send per second, sustained, over all their
    /// sessions (bursts of three seconds' worth); more get `rate_limited`.
    /// 0 for no limit (load tests).
    pub messages_per_second_per_user: u32,
    /// Password hashes computed at once (each uses `kdf.m_cost_kib` memory).
    pub max_concurrent_hashes: usize,
    /// Logins waiting for a hash slot before new ones get `busy`.
    pub max_queued_logins: usize,
    /// Accounts one client address may create per hour (a burst of that
    /// many, then one every `3600 / n` seconds); 0 for no limit. Keeps a
    /// registration flood from growing `users.json` without bound.
    pub registrations_per_address_per_hour: u32,
    /// How long graceful shutdown waits for connections to flush.
    pub shutdown_grace: Duration,
    /// The largest file a user may send, in bytes (since v6); 0 turns
    /// files off.
    pub max_file_bytes: u64,
    /// Bytes of stored files one user may have sent (those not deleted,
    /// and uploads in progress).
    pub file_quota_bytes: u64,
    /// An upload that gets no chunk for this long is given up and its
    /// bytes removed.
    pub upload_idle: Duration,
}

impl Config {
    /// Production defaults for `listen` and `data_dir`.
    pub fn new(listen: impl Into<String>, data_dir: PathBuf) -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self {
            listen: listen.into(),
            data_dir,
            kdf: KdfParams::production(),
            passphrase: None,
            max_connections: 20_000,
            handshake_timeout: Duration::from_secs(10),
            login_deadline: Duration::from_secs(30),
            max_unauthenticated_per_address: 128,
            idle_timeout: Duration::from_secs(90),
            outbox_capacity: 16_384,
            outbox_capacity_bytes: 8 << 20,
            messages_per_second_per_user: 10,
            max_concurrent_hashes: cores,
            max_queued_logins: 512,
            registrations_per_address_per_hour: 60,
            shutdown_grace: Duration::from_secs(5),
            max_file_bytes: 25 << 20,
            file_quota_bytes: 1 << 30,
            upload_idle: Duration::from_secs(3600),
        }
    }
}

/// The platform data directory for the server (for example
/// `~/.local/share/cove-server` on Linux).
pub fn default_data_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "cove-server").map(|d| d.data_dir().to_path_buf())
}

/// Environment variable holding the optional storage passphrase. Never taken
/// as an argument, where other users could read it in the process list.
pub const PASSPHRASE_ENV: &str = "COVE_PASSPHRASE";

/// Environment variable naming a file that holds the passphrase, for
/// example a systemd credential (`LoadCredential=passphrase:...` with
/// `COVE_PASSPHRASE_FILE=%d/passphrase`). The file is read once at start.
pub const PASSPHRASE_FILE_ENV: &str = "COVE_PASSPHRASE_FILE";

/// Longest passphrase file read, in bytes: a larger file is not a
/// passphrase but a wrong path.
pub const MAX_PASSPHRASE_FILE_BYTES: u64 = 4096;

/// Why the passphrase could not be taken from the environment.
#[derive(Debug, thiserror::Error)]
pub enum PassphraseError {
    /// Both variables are set, so which one is meant is unclear.
    #[error("both {PASSPHRASE_ENV} and {PASSPHRASE_FILE_ENV} are set; set only one")]
    Both,
    /// `COVE_PASSPHRASE` is not valid UTF-8.
    #[error("{PASSPHRASE_ENV} is not valid UTF-8")]
    NotUtf8,
    /// The passphrase file could not be read.
    #[error("reading the passphrase file {path}: {source}")]
    Read {
        /// The file named by `COVE_PASSPHRASE_FILE`.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The passphrase file is not valid UTF-8.
    #[error("the passphrase file {path} is not valid UTF-8")]
    FileNotUtf8 {
        /// The file named by `COVE_PASSPHRASE_FILE`.
        path: PathBuf,
    },
    /// The passphrase file is larger than [`MAX_PASSPHRASE_FILE_BYTES`].
    #[error("the passphrase file {path} is larger than {MAX_PASSPHRASE_FILE_BYTES} bytes")]
    FileTooLarge {
        /// The file named by `COVE_PASSPHRASE_FILE`.
        path: PathBuf,
    },
}

/// The operator passphrase from this process's environment: the value of
/// `COVE_PASSPHRASE`, or the contents of the file named by
/// `COVE_PASSPHRASE_FILE` (see [`passphrase_from`]).
pub fn passphrase_from_env() -> Result<Option<Zeroizing<String>>, PassphraseError> {
    passphrase_from(
        std::env::var_os(PASSPHRASE_ENV),
        std::env::var_os(PASSPHRASE_FILE_ENV),
    )
}

/// The operator passphrase given either directly (`value`, from
/// `COVE_PASSPHRASE`) or as the path of a file holding it (`file`, from
/// `COVE_PASSPHRASE_FILE`); setting both is an error.
///
/// The file's one trailing line ending (`\n` or `\r\n`) is not part of
/// the passphrase, so `echo secret > file` works. An empty file (or one
/// holding only a line ending) means no passphrase, so a packaged service
/// can always load the file and the operator decides by filling it.
pub fn passphrase_from(
    value: Option<OsString>,
    file: Option<OsString>,
) -> Result<Option<Zeroizing<String>>, PassphraseError> {
    match (value, file) {
        (Some(_), Some(_)) => Err(PassphraseError::Both),
        (Some(value), None) => value
            .into_string()
            .map(|s| Some(Zeroizing::new(s)))
            .map_err(|_| PassphraseError::NotUtf8),
        (None, Some(path)) => read_passphrase_file(PathBuf::from(path)),
        (None, None) => Ok(None),
    }
}

fn read_passphrase_file(path: PathBuf) -> Result<Option<Zeroizing<String>>, PassphraseError> {
    let file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(source) => return Err(PassphraseError::Read { path, source }),
    };
    // Room for one byte more than allowed, so the vector never reallocates
    // (leaving a copy of the secret behind) and a larger file is seen.
    let cap = MAX_PASSPHRASE_FILE_BYTES + 1;
    let mut bytes = Zeroizing::new(Vec::with_capacity(usize::try_from(cap).unwrap_or(4097)));
    if let Err(source) = file.take(cap).read_to_end(&mut bytes) {
        return Err(PassphraseError::Read { path, source });
    }
    if bytes.len() as u64 > MAX_PASSPHRASE_FILE_BYTES {
        return Err(PassphraseError::FileTooLarge { path });
    }
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return Err(PassphraseError::FileNotUtf8 { path });
    };
    let text = text.strip_suffix('\n').unwrap_or(text);
    let text = text.strip_suffix('\r').unwrap_or(text);
    Ok((!text.is_empty()).then(|| Zeroizing::new(text.to_owned())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from_file(contents: &[u8]) -> Result<Option<Zeroizing<String>>, PassphraseError> {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("passphrase");
        std::fs::write(&path, contents).expect("write");
        passphrase_from(None, Some(path.into_os_string()))
    }

    fn text(p: Option<Zeroizing<String>>) -> Option<String> {
        p.map(|p| p.as_str().to_owned())
    }

    #[test]
    fn the_variable_gives_the_passphrase_as_it_is() {
        let p = passphrase_from(Some(" a b \n".into()), None).expect("ok");
        assert_eq!(text(p).as_deref(), Some(" a b \n"));
        assert!(passphrase_from(None, None).expect("ok").is_none());
    }

    #[test]
    fn the_file_gives_the_passphrase_without_one_line_ending() {
        let p = |c: &[u8]| text(from_file(c).expect("ok"));
        assert_eq!(p(b"correct horse").as_deref(), Some("correct horse"));
        assert_eq!(p(b"correct horse\n").as_deref(), Some("correct horse"));
        assert_eq!(p(b"correct horse\r\n").as_deref(), Some("correct horse"));
        assert_eq!(p(b" spaced \n\n").as_deref(), Some(" spaced \n"));
        assert_eq!(p("pässwörd\n".as_bytes()).as_deref(), Some("pässwörd"));
    }

    #[test]
    fn an_empty_file_means_no_passphrase() {
        assert!(from_file(b"").expect("ok").is_none());
        assert!(from_file(b"\n").expect("ok").is_none());
        assert!(from_file(b"\r\n").expect("ok").is_none());
    }

    #[test]
    fn bad_files_and_both_variables_are_refused() {
        assert!(matches!(
            passphrase_from(Some("a".into()), Some("/x".into())),
            Err(PassphraseError::Both)
        ));
        let missing = passphrase_from(None, Some("/nonexistent/cove/passphrase".into()));
        let err = missing.expect_err("missing file");
        assert!(matches!(err, PassphraseError::Read { .. }));
        assert!(
            err.to_string().contains("/nonexistent/cove/passphrase"),
            "{err}"
        );
        assert!(matches!(
            from_file(&[0xff, 0xfe, b'\n']),
            Err(PassphraseError::FileNotUtf8 { .. })
        ));
        let limit = usize::try_from(MAX_PASSPHRASE_FILE_BYTES).expect("small");
        assert!(from_file(&vec![b'a'; limit]).expect("ok").is_some());
        assert!(matches!(
            from_file(&vec![b'a'; limit + 1]),
            Err(PassphraseError::FileTooLarge { .. })
        ));
    }

    #[cfg(unix)]
    #[test]
    fn a_non_utf8_variable_is_refused() {
        use std::os::unix::ffi::OsStringExt;
        let bad = OsString::from_vec(vec![0xff, b'a']);
        assert!(matches!(
            passphrase_from(Some(bad), None),
            Err(PassphraseError::NotUtf8)
        ));
    }
}
