//! Password cryptography.
//!
//! One Argon2id run per register or login turns the password and a per-user
//! random salt into a 32-byte master secret `M`. Two keys come from `M` by
//! HKDF-SHA256 with different labels: the stored *verifier*, and the *wrap
//! key* that encrypts the user's X25519 history private key. HKDF outputs
//! under distinct labels are independent, so the stored verifier reveals
//! nothing about the wrap key: a copy of `users.json` does not unlock any
//! history without the password.
//!
//! The stored form is a PHC string, `$argon2id$v=19$m=..,t=..,p=..$SALT$HASH`,
//! whose hash field is the verifier `HKDF(M, salt, "cove v1 password
//! verifier")` rather than `M` itself. It names its own parameters, so old
//! hashes keep verifying when the defaults are raised.

use std::fmt;
use std::sync::Mutex;

use argon2::{Algorithm, Argon2, Block, Params, Version};
use cove_common::crypto::{EtmKey, Secret, hkdf_expand, os_random_bytes, random_bytes};
use cove_common::{KdfParams, Password};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroizing;

use crate::b64;

const VERIFIER_LABEL: &str = "cove v1 password verifier";
const WRAP_LABEL: &str = "cove v1 history wrap";
const WRAP_HEADER: &[u8] = b"cove v1 history secret";
const SALT_LEN: usize = 16;

/// Why a credential operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    /// The password does not match.
    #[error("wrong password")]
    WrongPassword,
    /// The stored hash string cannot be parsed.
    #[error("malformed stored password hash")]
    Malformed,
    /// Argon2 rejected the parameters.
    #[error("invalid password hashing parameters: {0}")]
    Params(String),
}

/// What `users.json` stores for one account's password.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    /// The PHC string holding salt, parameters and verifier.
    pub phc: String,
    /// The public half of the user's history key pair; anyone may seal
    /// history to it.
    #[serde(with = "b64::key")]
    pub history_public: [u8; 32],
    /// The private half, sealed under the password-derived wrap key.
    #[serde(with = "b64")]
    pub wrapped_history_secret: Vec<u8>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Credentials(<redacted>)")
    }
}

/// A user's unwrapped history private key; exists only while they are logged
/// in. Wiped on drop.
pub struct HistorySecret(StaticSecret);

impl HistorySecret {
    /// The X25519 private key.
    pub fn secret(&self) -> &StaticSecret {
        &self.0
    }

    /// Its public half.
    pub fn public(&self) -> [u8; 32] {
        PublicKey::from(&self.0).to_bytes()
    }

    /// Wraps an existing key (tests and tools).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(StaticSecret::from(bytes))
    }
}

impl fmt::Debug for HistorySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HistorySecret(<redacted>)")
    }
}

struct PasswordKeys {
    verifier: Secret,
    wrap: Secret,
}

/// Argon2 work areas, reused: allocating 19 MiB per hash on whichever
/// blocking thread runs it let every thread's allocator keep its own copy
/// (over 2 GiB resident after a few hundred registrations). At most as many
/// areas exist as hashes ever ran at once.
static WORK_AREAS: Mutex<Vec<Vec<Block>>> = Mutex::new(Vec::new());

fn with_work_area<R>(blocks: usize, f: impl FnOnce(&mut [Block]) -> R) -> R {
    let mut area = WORK_AREAS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .pop()
        .unwrap_or_default();
    if area.len() < blocks {
        area.resize(blocks, Block::default());
    }
    let r = f(&mut area[..blocks]);
    // The area holds password-derived data: wipe it before reuse.
    area.iter_mut().for_each(|b| *b = Block::default());
    WORK_AREAS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(area);
    r
}

fn derive(
    password: &Password,
    salt: &[u8],
    params: &KdfParams,
) -> Result<PasswordKeys, CredentialError> {
    let p = Params::new(params.m_cost_kib, params.t_cost, params.p_cost, Some(32))
        .map_err(|e| CredentialError::Params(e.to_string()))?;
    let blocks = p.block_count();
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, p);
    let mut master = Zeroizing::new([0u8; 32]);
    with_work_area(blocks, |area| {
        argon.hash_password_into_with_memory(password.expose(), salt, master.as_mut(), area)
    })
    .map_err(|e| CredentialError::Params(e.to_string()))?;
    Ok(PasswordKeys {
        verifier: hkdf_expand(master.as_ref(), salt, VERIFIER_LABEL),
        wrap: hkdf_expand(master.as_ref(), salt, WRAP_LABEL),
    })
}

fn wrap_key(wrap: &Secret) -> EtmKey {
    EtmKey::derive(wrap.as_ref(), b"", WRAP_LABEL)
}

fn format_phc(params: &KdfParams, salt: &[u8], verifier: &[u8]) -> String {
    format!(
        "$argon2id$v=19$m={},t={},p={}${}${}",
        params.m_cost_kib,
        params.t_cost,
        params.p_cost,
        b64::encode(salt),
        b64::encode(verifier)
    )
}

fn parse_phc(phc: &str) -> Result<(KdfParams, Vec<u8>, Vec<u8>), CredentialError> {
    let parts: Vec<&str> = phc.split('$').collect();
    let [empty, alg, version, params, salt, hash] = parts.as_slice() else {
        return Err(CredentialError::Malformed);
    };
    if !empty.is_empty() || *alg != "argon2id" || *version != "v=19" {
        return Err(CredentialError::Malformed);
    }
    let mut kdf = KdfParams {
        m_cost_kib: 0,
        t_cost: 0,
        p_cost: 0,
    };
    for kv in params.split(',') {
        let (k, v) = kv.split_once('=').ok_or(CredentialError::Malformed)?;
        let v: u32 = v.parse().map_err(|_| CredentialError::Malformed)?;
        match k {
            "m" => kdf.m_cost_kib = v,
            "t" => kdf.t_cost = v,
            "p" => kdf.p_cost = v,
            _ => return Err(CredentialError::Malformed),
        }
    }
    let salt = b64::decode(salt).ok_or(CredentialError::Malformed)?;
    let hash = b64::decode(hash).ok_or(CredentialError::Malformed)?;
    if salt.len() != SALT_LEN || hash.len() != 32 {
        return Err(CredentialError::Malformed);
    }
    Ok((kdf, salt, hash))
}

/// Makes credentials for a new account: hashes the password, creates the
/// history key pair and wraps its private half.
pub fn create(
    password: &Password,
    params: &KdfParams,
) -> Result<(Credentials, HistorySecret), CredentialError> {
    let salt: [u8; SALT_LEN] = random_bytes();
    let d = derive(password, &salt, params)?;
    // A long-term key: straight from the operating system.
    let secret = HistorySecret(StaticSecret::from(os_random_bytes::<32>()));
    let raw = Zeroizing::new(secret.0.to_bytes());
    let wrapped = wrap_key(&d.wrap).seal(WRAP_HEADER, raw.as_ref());
    Ok((
        Credentials {
            phc: format_phc(params, &salt, d.verifier.as_ref()),
            history_public: secret.public(),
            wrapped_history_secret: wrapped,
        },
        secret,
    ))
}

/// Credentials for a new password over the same history key pair: a fresh
/// salt and verifier, and the history key wrapped under the new password,
/// so the history written so far stays readable (a password change).
pub fn rewrap(
    secret: &HistorySecret,
    password: &Password,
    params: &KdfParams,
) -> Result<Credentials, CredentialError> {
    let salt: [u8; SALT_LEN] = random_bytes();
    let d = derive(password, &salt, params)?;
    let raw = Zeroizing::new(secret.0.to_bytes());
    Ok(Credentials {
        phc: format_phc(params, &salt, d.verifier.as_ref()),
        history_public: secret.public(),
        wrapped_history_secret: wrap_key(&d.wrap).seal(WRAP_HEADER, raw.as_ref()),
    })
}

/// Checks a password (one Argon2id run) and unwraps the history key.
pub fn verify(creds: &Credentials, password: &Password) -> Result<HistorySecret, CredentialError> {
    let (params, salt, stored) = parse_phc(&creds.phc)?;
    let d = derive(password, &salt, &params)?;
    if !bool::from(d.verifier.as_ref().ct_eq(stored.as_slice())) {
        return Err(CredentialError::WrongPassword);
    }
    let raw = wrap_key(&d.wrap)
        .open(WRAP_HEADER, &creds.wrapped_history_secret)
        .map_err(|_| CredentialError::Malformed)?;
    let raw = Zeroizing::new(raw);
    let bytes: [u8; 32] = raw
        .as_slice()
        .try_into()
        .map_err(|_| CredentialError::Malformed)?;
    let secret = HistorySecret(StaticSecret::from(bytes));
    if secret.public() != creds.history_public {
        return Err(CredentialError::Malformed);
    }
    Ok(secret)
}

/// Spends the time of a real check, for logins to unknown names.
pub fn dummy_verify(password: &Password, params: &KdfParams) {
    let _ = derive(password, &[0u8; SALT_LEN], params);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn pw(s: &str) -> Password {
        Password::new(s).unwrap()
    }

    #[test]
    fn right_password_unwraps_wrong_one_does_not() {
        let params = KdfParams::insecure_for_tests();
        let (creds, secret) = create(&pw("correct horse"), &params).unwrap();
        let again = verify(&creds, &pw("correct horse")).unwrap();
        assert_eq!(again.public(), secret.public());
        assert_eq!(
            verify(&creds, &pw("wrong horse")).unwrap_err(),
            CredentialError::WrongPassword
        );
    }

    #[test]
    fn rewrapping_keeps_the_history_key_under_the_new_password_only() {
        let params = KdfParams::insecure_for_tests();
        let (old, secret) = create(&pw("old password"), &params).unwrap();
        let new = rewrap(&secret, &pw("new password"), &params).unwrap();
        assert_eq!(new.history_public, old.history_public);
        assert_ne!(new.phc, old.phc, "a fresh salt and verifier");
        let opened = verify(&new, &pw("new password")).unwrap();
        assert_eq!(opened.secret().to_bytes(), secret.secret().to_bytes());
        assert_eq!(
            verify(&new, &pw("old password")).unwrap_err(),
            CredentialError::WrongPassword
        );
    }

    #[test]
    fn phc_string_names_its_parameters() {
        let params = KdfParams {
            m_cost_kib: 64,
            t_cost: 3,
            p_cost: 1,
        };
        let (creds, _) = create(&pw("password123"), &params).unwrap();
        assert!(
            creds.phc.starts_with("$argon2id$v=19$m=64,t=3,p=1$"),
            "{}",
            creds.phc
        );
        let (parsed, salt, hash) = parse_phc(&creds.phc).unwrap();
        assert_eq!(parsed, params);
        assert_eq!((salt.len(), hash.len()), (16, 32));
        // Verification uses the parameters in the string, not the defaults.
        assert!(verify(&creds, &pw("password123")).is_ok());
    }

    #[test]
    fn salts_differ_per_user() {
        let params = KdfParams::insecure_for_tests();
        let (a, _) = create(&pw("same password"), &params).unwrap();
        let (b, _) = create(&pw("same password"), &params).unwrap();
        assert_ne!(a.phc, b.phc);
    }

    #[test]
    fn verifier_is_not_the_wrap_key() {
        let params = KdfParams::insecure_for_tests();
        let salt = [3u8; SALT_LEN];
        let d = derive(&pw("password123"), &salt, &params).unwrap();
        assert_ne!(*d.verifier, *d.wrap);
    }

    #[test]
    fn malformed_phc_is_an_error() {
        let params = KdfParams::insecure_for_tests();
        let (mut creds, _) = create(&pw("password123"), &params).unwrap();
        creds.phc = "$argon2i$v=19$m=8,t=1,p=1$AAAA$BBBB".into();
        assert_eq!(
            verify(&creds, &pw("password123")).unwrap_err(),
            CredentialError::Malformed
        );
    }

    #[test]
    fn tampered_wrapped_secret_is_refused() {
        let params = KdfParams::insecure_for_tests();
        let (mut creds, _) = create(&pw("password123"), &params).unwrap();
        creds.wrapped_history_secret[20] ^= 1;
        assert!(verify(&creds, &pw("password123")).is_err());
    }
}
