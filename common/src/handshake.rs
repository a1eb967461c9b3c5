//! The handshake, modelled on the Noise `NX` pattern:
//!
//! ```text
//!   -> e                      (ClientHello)
//!   <- e, ee, s, es, confirm  (ServerHello)
//! ```
//!
//! The client sends an ephemeral X25519 key. The server answers with its own
//! ephemeral key, its long-term static identity key and a key-confirmation tag.
//! Both sides compute `ee = DH(e_c, e_s)` (forward secrecy) and
//! `es = DH(e_c, s)` (only the holder of the static private key can compute
//! it, which authenticates the server) and derive every key with HKDF-SHA256
//! from `ee || es`, salted with the SHA-256 transcript hash of the protocol
//! name and both hellos. The client checks the confirmation tag, then hands
//! the server's static key to its caller, who decides whether to trust it
//! (pinning, as SSH's `known_hosts` does). No credential is sent before that.
//!
//! Everything here is sans-IO: bytes in, bytes and keys out.

use std::fmt;

use subtle::ConstantTimeEq;
use x25519_dalek::{EphemeralSecret, PublicKey, ReusableSecret, StaticSecret};
use zeroize::Zeroizing;

use crate::crypto::{EtmKey, hkdf_expand, hmac_sha256, sha256};
use crate::limits::PROTOCOL_VERSION;
use crate::record::{Direction, Opener, Sealer};

/// The protocol name, hashed first into the transcript.
pub const PROTOCOL_NAME: &[u8] = b"Cove_NX_25519_AES256CFB_HMACSHA256_HKDFSHA256";
/// Magic bytes that open both hellos.
pub const MAGIC: [u8; 4] = *b"COVE";
/// Length of a client hello: magic, version, kind, ephemeral key.
pub const CLIENT_HELLO_LEN: usize = 4 + 2 + 1 + 32;
/// Length of a server hello: magic, version, kind, ephemeral key, static key,
/// confirmation tag.
pub const SERVER_HELLO_LEN: usize = 4 + 2 + 1 + 32 + 32 + 32;
/// Length of a version rejection: magic, the server's version, kind.
pub const REJECT_LEN: usize = 4 + 2 + 1;

const KIND_CLIENT_HELLO: u8 = 1;
const KIND_SERVER_HELLO: u8 = 2;
const KIND_VERSION_REJECT: u8 = 3;

/// HKDF `info` labels of the key schedule (see docs/protocol.md).
pub mod labels {
    /// Client-to-server record keys (suffixed " enc" / " mac").
    pub const C2S: &str = "cove v1 c2s";
    /// Server-to-client record keys (suffixed " enc" / " mac").
    pub const S2C: &str = "cove v1 s2c";
    /// The server's key-confirmation key.
    pub const CONFIRM: &str = "cove v1 confirm";
    /// Prefix of the HMAC input for the confirmation tag.
    pub const SERVER_FINISHED: &[u8] = b"cove v1 server finished";
    /// Prefix of the hash that gives a server key's fingerprint.
    pub const FINGERPRINT: &[u8] = b"cove v1 fingerprint";
}

/// Why a handshake failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    /// The peer does not speak Cove at all.
    #[error("the peer is not a Cove endpoint (bad magic bytes)")]
    BadMagic,
    /// The peer speaks another protocol version.
    #[error("protocol version mismatch: we speak v{ours}, the peer speaks v{theirs}")]
    VersionMismatch {
        /// Our version.
        ours: u16,
        /// Theirs.
        theirs: u16,
    },
    /// A hello of the wrong length or kind.
    #[error("malformed handshake message")]
    Malformed,
    /// A Diffie-Hellman result was all zeros: the peer sent a low-order point.
    #[error("the peer sent a weak public key")]
    WeakKey,
    /// The server's confirmation tag does not verify: the server does not hold
    /// the static key it presented, or the hellos were altered in transit.
    #[error("the server failed to prove its identity (key confirmation failed)")]
    BadConfirmation,
}

impl HandshakeError {
    /// What the server sends before closing, if anything: a version
    /// rejection, so the client can name the mismatch.
    pub fn server_reply(&self) -> Option<Vec<u8>> {
        match self {
            HandshakeError::VersionMismatch { .. } => Some(version_reject()),
            _ => None,
        }
    }
}

/// A server's long-term public identity key.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ServerKey([u8; 32]);

impl ServerKey {
    /// Wraps raw key bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The raw key bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lower-case hex of the whole key, for pinning files.
    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }

    /// Parses [`ServerKey::to_hex`] output.
    pub fn from_hex(s: &str) -> Option<Self> {
        let s = s.trim();
        if s.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, o) in out.iter_mut().enumerate() {
            *o = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(Self(out))
    }

    /// The fingerprint people compare: the first 16 bytes of
    /// `SHA-256("cove v1 fingerprint" || key)` as 8 groups of 4 hex digits,
    /// e.g. `3f2a 9b1c 07de 44a1 5e90 c2b7 1d08 aa63`.
    pub fn fingerprint(&self) -> String {
        let h = sha256(&[labels::FINGERPRINT, &self.0]);
        let hexed = hex(&h[..16]);
        hexed
            .as_bytes()
            .chunks(4)
            .map(|c| std::str::from_utf8(c).unwrap_or_default())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl fmt::Debug for ServerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ServerKey({})", self.fingerprint())
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A server's long-term identity: its static X25519 key pair.
pub struct ServerIdentity {
    secret: StaticSecret,
    public: ServerKey,
}

impl ServerIdentity {
    /// A fresh random identity.
    pub fn generate() -> Self {
        Self::from_secret_bytes(crate::crypto::os_random_bytes::<32>())
    }

    /// Rebuilds an identity from its stored private key.
    pub fn from_secret_bytes(bytes: [u8; 32]) -> Self {
        let secret = StaticSecret::from(bytes);
        let public = ServerKey(PublicKey::from(&secret).to_bytes());
        Self { secret, public }
    }

    /// The private key, for storing.
    pub fn secret_bytes(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.secret.to_bytes())
    }

    /// The public key clients pin.
    pub fn public_key(&self) -> ServerKey {
        self.public
    }
}

impl fmt::Debug for ServerIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ServerIdentity({:?})", self.public)
    }
}

/// Both halves of an established channel.
#[derive(Debug)]
pub struct SecureChannel {
    /// Seals what this side sends.
    pub sealer: Sealer,
    /// Opens what this side receives.
    pub opener: Opener,
    /// The transcript hash: a unique id for this session, equal on both sides.
    pub session_hash: [u8; 32],
}

struct Derived {
    c2s: EtmKey,
    s2c: EtmKey,
    confirm: crate::crypto::Secret,
}

fn transcript(client_hello: &[u8], server_hello_head: &[u8]) -> [u8; 32] {
    let name_len = (PROTOCOL_NAME.len() as u32).to_be_bytes();
    sha256(&[&name_len, PROTOCOL_NAME, client_hello, server_hello_head])
}

fn derive(ee: &[u8; 32], es: &[u8; 32], h: &[u8; 32]) -> Derived {
    let mut ikm = Zeroizing::new([0u8; 64]);
    ikm[..32].copy_from_slice(ee);
    ikm[32..].copy_from_slice(es);
    Derived {
        c2s: EtmKey::derive(ikm.as_ref(), h, labels::C2S),
        s2c: EtmKey::derive(ikm.as_ref(), h, labels::S2C),
        confirm: hkdf_expand(ikm.as_ref(), h, labels::CONFIRM),
    }
}

fn confirm_tag(confirm_key: &[u8; 32], h: &[u8; 32]) -> [u8; 32] {
    hmac_sha256(confirm_key, &[labels::SERVER_FINISHED, h])
}

fn dh_checked(shared: x25519_dalek::SharedSecret) -> Result<Zeroizing<[u8; 32]>, HandshakeError> {
    if !shared.was_contributory() {
        return Err(HandshakeError::WeakKey);
    }
    Ok(Zeroizing::new(shared.to_bytes()))
}

/// Checks magic and version, the first 6 bytes of every hello.
fn check_head(msg: &[u8]) -> Result<(), HandshakeError> {
    if msg.len() < 4 || msg[..4] != MAGIC {
        return Err(HandshakeError::BadMagic);
    }
    if msg.len() < 7 {
        return Err(HandshakeError::Malformed);
    }
    let theirs = u16::from_be_bytes([msg[4], msg[5]]);
    if theirs != PROTOCOL_VERSION {
        return Err(HandshakeError::VersionMismatch {
            ours: PROTOCOL_VERSION,
            theirs,
        });
    }
    Ok(())
}

fn head(kind: u8) -> [u8; 7] {
    let v = PROTOCOL_VERSION.to_be_bytes();
    [MAGIC[0], MAGIC[1], MAGIC[2], MAGIC[3], v[0], v[1], kind]
}

/// The message a server sends to a client of another version before closing.
pub fn version_reject() -> Vec<u8> {
    head(KIND_VERSION_REJECT).to_vec()
}

/// The client's side of the handshake, between sending its hello and
/// receiving the server's.
pub struct ClientHandshake {
    // Reusable because Noise NX uses the client's ephemeral twice (ee, es);
    // it is still per-handshake and dropped (zeroized) when this is.
    ephemeral: ReusableSecret,
    hello: [u8; CLIENT_HELLO_LEN],
}

impl fmt::Debug for ClientHandshake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientHandshake")
    }
}

/// A finished client handshake: the channel, and the server's static key for
/// the caller's trust decision.
#[derive(Debug)]
pub struct ClientOutcome {
    /// The established channel.
    pub channel: SecureChannel,
    /// The key the server proved it holds. The caller must decide whether to
    /// trust it before sending anything secret.
    pub server_key: ServerKey,
}

impl ClientHandshake {
    /// Starts a handshake: returns the state and the client hello to send.
    pub fn start() -> (Self, Vec<u8>) {
        let ephemeral = ReusableSecret::random_from_rng(&mut rand::rng());
        let public = PublicKey::from(&ephemeral);
        let mut hello = [0u8; CLIENT_HELLO_LEN];
        hello[..7].copy_from_slice(&head(KIND_CLIENT_HELLO));
        hello[7..].copy_from_slice(public.as_bytes());
        (Self { ephemeral, hello }, hello.to_vec())
    }

    /// Processes the server's reply.
    pub fn finish(self, server_hello: &[u8]) -> Result<ClientOutcome, HandshakeError> {
        check_head(server_hello)?;
        if server_hello[6] != KIND_SERVER_HELLO || server_hello.len() != SERVER_HELLO_LEN {
            return Err(HandshakeError::Malformed);
        }
        let mut e_s = [0u8; 32];
        e_s.copy_from_slice(&server_hello[7..39]);
        let mut s = [0u8; 32];
        s.copy_from_slice(&server_hello[39..71]);
        let tag = &server_hello[71..103];

        let h = transcript(&self.hello, &server_hello[..71]);
        let ee = dh_checked(self.ephemeral.diffie_hellman(&PublicKey::from(e_s)))?;
        let es = dh_checked(self.ephemeral.diffie_hellman(&PublicKey::from(s)))?;
        let keys = derive(&ee, &es, &h);
        let expect = confirm_tag(&keys.confirm, &h);
        if !bool::from(expect.ct_eq(tag)) {
            return Err(HandshakeError::BadConfirmation);
        }
        Ok(ClientOutcome {
            channel: SecureChannel {
                sealer: Sealer::new(keys.c2s, Direction::ClientToServer),
                opener: Opener::new(keys.s2c, Direction::ServerToClient),
                session_hash: h,
            },
            server_key: ServerKey(s),
        })
    }
}

/// The server's side: answers one client hello.
#[derive(Debug)]
pub struct ServerHandshake;

/// A finished server handshake.
#[derive(Debug)]
pub struct ServerOutcome {
    /// The hello to send back.
    pub reply: Vec<u8>,
    /// The established channel.
    pub channel: SecureChannel,
}

impl ServerHandshake {
    /// Answers `client_hello` as `identity`. On a version mismatch the error's
    /// [`HandshakeError::server_reply`] should be sent before closing.
    pub fn respond(
        identity: &ServerIdentity,
        client_hello: &[u8],
    ) -> Result<ServerOutcome, HandshakeError> {
        check_head(client_hello)?;
        if client_hello[6] != KIND_CLIENT_HELLO || client_hello.len() != CLIENT_HELLO_LEN {
            return Err(HandshakeError::Malformed);
        }
        let mut e_c = [0u8; 32];
        e_c.copy_from_slice(&client_hello[7..]);
        let e_c = PublicKey::from(e_c);

        let ephemeral = EphemeralSecret::random_from_rng(&mut rand::rng());
        let e_s = PublicKey::from(&ephemeral);
        let mut reply = Vec::with_capacity(SERVER_HELLO_LEN);
        reply.extend_from_slice(&head(KIND_SERVER_HELLO));
        reply.extend_from_slice(e_s.as_bytes());
        reply.extend_from_slice(identity.public.as_bytes());

        let h = transcript(client_hello, &reply);
        let es = dh_checked(identity.secret.diffie_hellman(&e_c))?;
        let ee = dh_checked(ephemeral.diffie_hellman(&e_c))?;
        let keys = derive(&ee, &es, &h);
        reply.extend_from_slice(&confirm_tag(&keys.confirm, &h));
        Ok(ServerOutcome {
            reply,
            channel: SecureChannel {
                sealer: Sealer::new(keys.s2c, Direction::ServerToClient),
                opener: Opener::new(keys.c2s, Direction::ClientToServer),
                session_hash: h,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hex_literal::hex;

    fn run(identity: &ServerIdentity) -> (ClientOutcome, ServerOutcome) {
        let (client, hello) = ClientHandshake::start();
        let server = ServerHandshake::respond(identity, &hello).unwrap();
        let client = client.finish(&server.reply).unwrap();
        (client, server)
    }

    #[test]
    fn full_handshake_then_records_both_ways() {
        let id = ServerIdentity::generate();
        let (mut c, mut s) = run(&id);
        assert_eq!(c.server_key, id.public_key());
        assert_eq!(c.channel.session_hash, s.channel.session_hash);
        for i in 0..3u8 {
            let mut r = c.channel.sealer.seal(&[i, 1, 2]).unwrap();
            assert_eq!(s.channel.opener.open(&mut r).unwrap(), &[i, 1, 2]);
            let mut r = s.reply_seal(&[i, 9]);
            assert_eq!(c.channel.opener.open(&mut r).unwrap(), &[i, 9]);
        }
        // A client record reflected back to the client is refused.
        let mut r = c.channel.sealer.seal(b"mine").unwrap();
        assert!(c.channel.opener.open(&mut r).is_err());
    }

    impl ServerOutcome {
        fn reply_seal(&mut self, pt: &[u8]) -> Vec<u8> {
            self.channel.sealer.seal(pt).unwrap()
        }
    }

    #[test]
    fn different_server_key_is_reported_to_caller() {
        let pinned = ServerIdentity::generate().public_key();
        let other = ServerIdentity::generate();
        let (c, _) = run(&other);
        assert_ne!(c.server_key, pinned);
        assert_eq!(c.server_key, other.public_key());
        assert_ne!(c.server_key.fingerprint(), pinned.fingerprint());
    }

    #[test]
    fn swapped_client_ephemeral_breaks_handshake() {
        let id = ServerIdentity::generate();
        let (client, mut hello) = ClientHandshake::start();
        let (_, attacker_hello) = ClientHandshake::start();
        hello[7..].copy_from_slice(&attacker_hello[7..]);
        let server = ServerHandshake::respond(&id, &hello).unwrap();
        assert_eq!(
            client.finish(&server.reply).unwrap_err(),
            HandshakeError::BadConfirmation
        );
    }

    #[test]
    fn swapped_server_ephemeral_or_static_breaks_handshake() {
        let id = ServerIdentity::generate();
        let impostor = ServerIdentity::generate();
        for range in [7..39, 39..71] {
            let (client, hello) = ClientHandshake::start();
            let mut reply = ServerHandshake::respond(&id, &hello).unwrap().reply;
            let other = ServerHandshake::respond(&impostor, &hello).unwrap().reply;
            reply[range.clone()].copy_from_slice(&other[range.clone()]);
            assert_eq!(
                client.finish(&reply).unwrap_err(),
                HandshakeError::BadConfirmation,
                "{range:?}"
            );
        }
    }

    #[test]
    fn every_bit_flip_of_server_hello_fails() {
        let id = ServerIdentity::generate();
        for bit in 0..SERVER_HELLO_LEN * 8 {
            let (client, hello) = ClientHandshake::start();
            let mut reply = ServerHandshake::respond(&id, &hello).unwrap().reply;
            reply[bit / 8] ^= 1 << (bit % 8);
            assert!(client.finish(&reply).is_err(), "bit {bit}");
        }
    }

    #[test]
    fn version_mismatch_is_named_on_both_ends() {
        let id = ServerIdentity::generate();
        let (_, mut hello) = ClientHandshake::start();
        // A version that is not ours, whatever ours is.
        let theirs = PROTOCOL_VERSION + 1;
        hello[4..6].copy_from_slice(&theirs.to_be_bytes());
        let err = ServerHandshake::respond(&id, &hello).unwrap_err();
        assert_eq!(
            err,
            HandshakeError::VersionMismatch {
                ours: PROTOCOL_VERSION,
                theirs
            }
        );
        // The server's rejection, as seen by a client of another version: we fake
        // that by patching the rejection to another version.
        let mut reject = err.server_reply().unwrap();
        let (client, _) = ClientHandshake::start();
        reject[4..6].copy_from_slice(&9u16.to_be_bytes());
        assert_eq!(
            client.finish(&reject).unwrap_err(),
            HandshakeError::VersionMismatch {
                ours: PROTOCOL_VERSION,
                theirs: 9
            }
        );
        let shown = err.to_string();
        assert!(
            shown.contains(&format!("v{PROTOCOL_VERSION}"))
                && shown.contains(&format!("v{theirs}")),
            "{shown}"
        );
    }

    #[test]
    fn garbage_is_typed() {
        let id = ServerIdentity::generate();
        assert_eq!(
            ServerHandshake::respond(&id, b"GET / HTTP/1.1").unwrap_err(),
            HandshakeError::BadMagic
        );
        assert_eq!(
            ServerHandshake::respond(&id, b"COVE").unwrap_err(),
            HandshakeError::Malformed
        );
        let (_, hello) = ClientHandshake::start();
        assert_eq!(
            ServerHandshake::respond(&id, &hello[..CLIENT_HELLO_LEN - 1]).unwrap_err(),
            HandshakeError::Malformed
        );
    }

    #[test]
    fn low_order_client_key_is_refused() {
        let id = ServerIdentity::generate();
        let (_, mut hello) = ClientHandshake::start();
        hello[7..].copy_from_slice(&[0u8; 32]);
        assert_eq!(
            ServerHandshake::respond(&id, &hello).unwrap_err(),
            HandshakeError::WeakKey
        );
    }

    #[test]
    fn rfc7748_x25519_vector() {
        // RFC 7748 section 6.1: Alice's and Bob's keys and their shared secret.
        let a = StaticSecret::from(hex!(
            "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"
        ));
        let b_pub = PublicKey::from(hex!(
            "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"
        ));
        assert_eq!(
            PublicKey::from(&a).as_bytes(),
            &hex!("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
        );
        assert_eq!(
            a.diffie_hellman(&b_pub).as_bytes(),
            &hex!("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742")
        );
    }

    #[test]
    fn key_schedule_matches_documentation() {
        // Recompute the documented schedule by hand from the raw DH values
        // and check the server's confirmation tag and first record with it.
        let server_secret = [0x11u8; 32];
        let id = ServerIdentity::from_secret_bytes(server_secret);
        let client_e = ReusableSecret::random_from_rng(&mut rand::rng());
        let mut hello = head(KIND_CLIENT_HELLO).to_vec();
        hello.extend_from_slice(PublicKey::from(&client_e).as_bytes());
        let mut s = ServerHandshake::respond(&id, &hello).unwrap();
        let e_s = PublicKey::from(<[u8; 32]>::try_from(&s.reply[7..39]).unwrap());
        let ee = client_e.diffie_hellman(&e_s).to_bytes();
        let es = client_e
            .diffie_hellman(&PublicKey::from(*id.public_key().as_bytes()))
            .to_bytes();
        let mut th = Vec::new();
        th.extend_from_slice(&(PROTOCOL_NAME.len() as u32).to_be_bytes());
        th.extend_from_slice(PROTOCOL_NAME);
        th.extend_from_slice(&hello);
        th.extend_from_slice(&s.reply[..71]);
        let h = sha256(&[&th]);
        let ikm = [ee, es].concat();
        let confirm = hkdf_expand(&ikm, &h, "cove v1 confirm");
        let tag = hmac_sha256(confirm.as_ref(), &[b"cove v1 server finished", &h]);
        assert_eq!(&s.reply[71..], &tag);
        // The server's first record opens with the documented s2c keys.
        let s2c_enc = hkdf_expand(&ikm, &h, "cove v1 s2c enc");
        let s2c_mac = hkdf_expand(&ikm, &h, "cove v1 s2c mac");
        let rec = s.channel.sealer.seal(b"hi").unwrap();
        let mut hdr = vec![2u8];
        hdr.extend_from_slice(&0u64.to_be_bytes());
        let opened = EtmKey::new(&s2c_enc, &s2c_mac).open(&hdr, &rec).unwrap();
        assert_eq!(opened, b"hi");
    }

    #[test]
    fn fingerprint_format_and_hex_round_trip() {
        let k = ServerIdentity::generate().public_key();
        let fp = k.fingerprint();
        assert_eq!(fp.len(), 8 * 4 + 7);
        assert_eq!(fp.split(' ').count(), 8);
        assert_eq!(ServerKey::from_hex(&k.to_hex()), Some(k));
        assert_eq!(ServerKey::from_hex("zz"), None);
    }
}
