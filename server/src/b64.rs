//! Base64 (standard alphabet, no padding) for the binary fields of the
//! server's JSON files (`users.json`, `server_keys.json`) and PHC strings.

use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use serde::{Deserialize, Deserializer, Serializer};

/// Encodes bytes.
pub fn encode(bytes: &[u8]) -> String {
    STANDARD_NO_PAD.encode(bytes)
}

/// Decodes bytes.
pub fn decode(s: &str) -> Option<Vec<u8>> {
    STANDARD_NO_PAD.decode(s).ok()
}

/// serde: serialise a byte vector as base64.
pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&encode(bytes))
}

/// serde: deserialise a byte vector from base64.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    let s = String::deserialize(d)?;
    decode(&s).ok_or_else(|| serde::de::Error::custom("invalid base64"))
}

/// serde for `[u8; 32]` keys.
pub mod key {
    use serde::{Deserializer, Serializer};

    /// Serialises a 32-byte key as base64.
    pub fn serialize<S: Serializer>(bytes: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        super::serialize(bytes, s)
    }

    /// Deserialises a 32-byte key from base64.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let v = super::deserialize(d)?;
        v.try_into()
            .map_err(|_| serde::de::Error::custom("a key must be 32 bytes"))
    }
}
