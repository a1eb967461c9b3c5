//! The server's two long-term secrets: its X25519 identity key (what clients
//! pin) and the storage key (from which the `users.json` key is derived).
//!
//! Both live in `server_keys.json` (mode 0600), written once on first start.
//! Without a passphrase they are stored as they are, and that file is the
//! secret that opens `users.json`. With an operator passphrase they are
//! sealed under a key derived from it with Argon2id, so a copy of the data
//! directory alone opens nothing.

use std::path::{Path, PathBuf};

use cove_common::ServerIdentity;
use cove_common::crypto::{EtmKey, Secret, os_random_bytes, random_bytes};
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

use super::{StoreError, atomic_write};
use crate::b64;
use cove_common::KdfParams;

/// The key file's name inside the data directory.
pub const KEY_FILE: &str = "server_keys.json";
const SEAL_LABEL: &str = "cove v1 key file";
const SEAL_HEADER: &[u8] = b"cove v1 server keys";

/// The server's long-term secrets.
#[derive(Debug)]
pub struct ServerKeys {
    /// The static X25519 identity clients pin.
    pub identity: ServerIdentity,
    /// The root of the at-rest keys for `users.json`.
    pub storage_key: Secret,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
enum KeyFile {
    /// Secrets stored as they are.
    Plain {
        #[serde(with = "b64::key")]
        identity: [u8; 32],
        #[serde(with = "b64::key")]
        storage: [u8; 32],
    },
    /// Secrets sealed under a passphrase-derived key.
    Passphrase {
        m_cost_kib: u32,
        t_cost: u32,
        p_cost: u32,
        #[serde(with = "b64")]
        salt: Vec<u8>,
        #[serde(with = "b64")]
        sealed: Vec<u8>,
    },
}

fn passphrase_key(passphrase: &str, salt: &[u8], kdf: &KdfParams) -> Result<EtmKey, StoreError> {
    let params = argon2::Params::new(kdf.m_cost_kib, kdf.t_cost, kdf.p_cost, Some(32))
        .map_err(|e| StoreError::corrupt(Path::new(KEY_FILE), e.to_string()))?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut out = Zeroizing::new([0u8; 32]);
    argon
        .hash_password_into(passphrase.as_bytes(), salt, out.as_mut())
        .map_err(|e| StoreError::corrupt(Path::new(KEY_FILE), e.to_string()))?;
    Ok(EtmKey::derive(out.as_ref(), salt, SEAL_LABEL))
}

impl ServerKeys {
    /// Loads the keys from `data_dir`, or generates and stores them on first
    /// start. `kdf` is used only when sealing a new key file under a
    /// passphrase.
    pub fn load_or_create(
        data_dir: &Path,
        passphrase: Option<&Zeroizing<String>>,
        kdf: &KdfParams,
    ) -> Result<ServerKeys, StoreError> {
        let path = data_dir.join(KEY_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => Self::load(&path, &Zeroizing::new(bytes), passphrase),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Self::create(&path, passphrase, kdf)
            }
            Err(e) => Err(StoreError::Io { path, source: e }),
        }
    }

    fn create(
        path: &Path,
        passphrase: Option<&Zeroizing<String>>,
        kdf: &KdfParams,
    ) -> Result<ServerKeys, StoreError> {
        let identity = ServerIdentity::generate();
        let storage = Zeroizing::new(os_random_bytes::<32>());
        let file = match passphrase {
            None => KeyFile::Plain {
                identity: *identity.secret_bytes(),
                storage: *storage,
            },
            Some(p) => {
                let salt: [u8; 16] = random_bytes();
                let key = passphrase_key(p, &salt, kdf)?;
                let mut both = Zeroizing::new([0u8; 64]);
                both[..32].copy_from_slice(identity.secret_bytes().as_ref());
                both[32..].copy_from_slice(storage.as_ref());
                KeyFile::Passphrase {
                    m_cost_kib: kdf.m_cost_kib,
                    t_cost: kdf.t_cost,
                    p_cost: kdf.p_cost,
                    salt: salt.to_vec(),
                    sealed: key.seal(SEAL_HEADER, both.as_ref()),
                }
            }
        };
        let json = Zeroizing::new(
            serde_json::to_vec_pretty(&file)
                .map_err(|e| StoreError::corrupt(path, e.to_string()))?,
        );
        atomic_write(path, &json)?;
        Ok(ServerKeys {
            identity,
            storage_key: storage,
        })
    }

    fn load(
        path: &Path,
        bytes: &[u8],
        passphrase: Option<&Zeroizing<String>>,
    ) -> Result<ServerKeys, StoreError> {
        let file: KeyFile = serde_json::from_slice(bytes)
            .map_err(|e| StoreError::corrupt(path, format!("invalid key file: {e}")))?;
        let path_buf = || PathBuf::from(path);
        let mut file = file;
        let (identity, storage) = match (&mut file, passphrase) {
            (KeyFile::Plain { identity, storage }, None) => {
                let both = (Zeroizing::new(*identity), Zeroizing::new(*storage));
                identity.zeroize();
                storage.zeroize();
                both
            }
            (KeyFile::Plain { .. }, Some(_)) => {
                return Err(StoreError::Passphrase {
                    path: path_buf(),
                    reason: "a passphrase was given but this key file is not protected by one; unset COVE_PASSPHRASE and COVE_PASSPHRASE_FILE (or empty the file)",
                });
            }
            (KeyFile::Passphrase { .. }, None) => {
                return Err(StoreError::Passphrase {
                    path: path_buf(),
                    reason: "this key file is protected by a passphrase; set COVE_PASSPHRASE or COVE_PASSPHRASE_FILE",
                });
            }
            (
                KeyFile::Passphrase {
                    m_cost_kib,
                    t_cost,
                    p_cost,
                    salt,
                    sealed,
                },
                Some(p),
            ) => {
                let kdf = KdfParams {
                    m_cost_kib: *m_cost_kib,
                    t_cost: *t_cost,
                    p_cost: *p_cost,
                };
                let key = passphrase_key(p, salt, &kdf)?;
                let both = Zeroizing::new(key.open(SEAL_HEADER, sealed).map_err(|_| {
                    StoreError::Passphrase {
                        path: path_buf(),
                        reason: "wrong passphrase (or the key file was modified)",
                    }
                })?);
                if both.len() != 64 {
                    return Err(StoreError::corrupt(
                        path,
                        "sealed keys have the wrong length",
                    ));
                }
                let mut identity = Zeroizing::new([0u8; 32]);
                let mut storage = Zeroizing::new([0u8; 32]);
                identity.copy_from_slice(&both[..32]);
                storage.copy_from_slice(&both[32..]);
                (identity, storage)
            }
        };
        Ok(ServerKeys {
            identity: ServerIdentity::from_secret_bytes(*identity),
            storage_key: storage,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn created_once_then_loaded() {
        let dir = tempfile::tempdir().unwrap();
        let kdf = KdfParams::insecure_for_tests();
        let a = ServerKeys::load_or_create(dir.path(), None, &kdf).unwrap();
        let b = ServerKeys::load_or_create(dir.path(), None, &kdf).unwrap();
        assert_eq!(a.identity.public_key(), b.identity.public_key());
        assert_eq!(*a.storage_key, *b.storage_key);
    }

    #[test]
    fn passphrase_protects_the_keys() {
        let dir = tempfile::tempdir().unwrap();
        let kdf = KdfParams::insecure_for_tests();
        let pass = Zeroizing::new("a long operator passphrase".to_owned());
        let a = ServerKeys::load_or_create(dir.path(), Some(&pass), &kdf).unwrap();
        let raw = std::fs::read(dir.path().join(KEY_FILE)).unwrap();
        let b = ServerKeys::load_or_create(dir.path(), Some(&pass), &kdf).unwrap();
        assert_eq!(a.identity.public_key(), b.identity.public_key());

        let wrong = Zeroizing::new("another passphrase".to_owned());
        let err = ServerKeys::load_or_create(dir.path(), Some(&wrong), &kdf).unwrap_err();
        assert!(err.to_string().contains("wrong passphrase"), "{err}");
        let err = ServerKeys::load_or_create(dir.path(), None, &kdf).unwrap_err();
        assert!(err.to_string().contains("COVE_PASSPHRASE"), "{err}");
        // Failures never rewrite the file.
        assert_eq!(std::fs::read(dir.path().join(KEY_FILE)).unwrap(), raw);
        // The storage key is not in the file in the clear.
        let hexed = b64::encode(a.storage_key.as_ref());
        assert!(!String::from_utf8_lossy(&raw).contains(&hexed));
    }
}
