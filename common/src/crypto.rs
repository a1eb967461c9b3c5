//! The one symmetric construction Cove uses, on the wire and at rest:
//! AES-256 in full-block CFB mode (CFB128) with a fresh random 16-byte IV,
//! then HMAC-SHA256 over a caller-supplied header, the IV and the ciphertext
//! (encrypt-then-MAC). A sealed box is `IV (16) || ciphertext (n) || tag (32)`.
//!
//! CFB alone is malleable, so the tag is always checked, in constant time,
//! before a single byte is decrypted.

// CFB runs the block cipher forwards in both directions, so only the
// encryption key schedule is kept.
use aes::Aes256Enc as Aes256;
use aes::cipher::{InnerIvInit, KeyInit};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use rand::Rng;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// Bytes of IV in front of every box.
pub const IV_LEN: usize = 16;
/// Bytes of HMAC-SHA256 tag at the end of every box.
pub const TAG_LEN: usize = 32;
/// Bytes a box adds to its plaintext.
pub const OVERHEAD: usize = IV_LEN + TAG_LEN;

type HmacSha256 = Hmac<Sha256>;
// Borrowing the key schedule, not copying (and wiping) it for every box.
type CfbEnc<'a> = cfb_mode::Encryptor<&'a Aes256>;
type CfbDec<'a> = cfb_mode::Decryptor<&'a Aes256>;

/// Why a box could not be opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// Shorter than IV plus tag: cannot be a box.
    #[error("sealed data too short ({0} bytes)")]
    TooShort(usize),
    /// The tag does not verify: the data was altered, replayed out of place,
    /// or sealed under another key.
    #[error("authentication tag does not verify")]
    BadTag,
}

/// A 256-bit secret, wiped from memory when dropped.
pub type Secret = Zeroizing<[u8; 32]>;

/// An encryption key and a MAC key, for sealing and opening boxes.
///
/// The expanded AES key schedule and the keyed HMAC state are kept, so each
/// box costs only the cipher and hash work for its own bytes. Both are wiped
/// on drop (the `zeroize` features of `aes`, `cfb-mode` and `hmac`).
#[derive(Clone)]
pub struct EtmKey {
    cipher: Aes256,
    mac: HmacSha256,
}

impl EtmKey {
    /// Builds a key from its two halves.
    pub fn new(enc_key: &[u8; 32], mac_key: &[u8; 32]) -> Self {
        Self {
            cipher: Aes256::new(enc_key.into()),
            // HMAC takes keys of any length, so this cannot fail.
            mac: <HmacSha256 as KeyInit>::new_from_slice(mac_key)
                .unwrap_or_else(|_| unreachable!("HMAC takes any key length")),
        }
    }

    /// Derives both halves from one secret with HKDF-SHA256:
    /// `enc = HKDF(salt, ikm, label || " enc")`, `mac = HKDF(salt, ikm, label || " mac")`.
    pub fn derive(ikm: &[u8], salt: &[u8], label: &str) -> Self {
        let enc = hkdf_expand(ikm, salt, &format!("{label} enc"));
        let mac = hkdf_expand(ikm, salt, &format!("{label} mac"));
        Self::new(&enc, &mac)
    }

    /// Appends the box for `plaintext` to `out`, authenticating `header` too
    /// (the header itself is not written).
    pub fn seal_append<B>(&self, header: &[u8], plaintext: &[u8], out: &mut B)
    where
        B: bytes::BufMut + AsMut<[u8]>,
    {
        let mut iv = [0u8; IV_LEN];
        rand::rng().fill_bytes(&mut iv);
        self.seal_append_with_iv(header, &iv, plaintext, out);
    }

    /// [`EtmKey::seal_append`] with a caller-chosen IV: the sealing itself.
    /// Private, as an IV must never repeat under one key; the known-answer
    /// tests call it directly.
    fn seal_append_with_iv<B>(
        &self,
        header: &[u8],
        iv: &[u8; IV_LEN],
        plaintext: &[u8],
        out: &mut B,
    ) where
        B: bytes::BufMut + AsMut<[u8]>,
    {
        let start = out.as_mut().len();
        out.put_slice(iv);
        out.put_slice(plaintext);
        let tag = self.encrypt_and_tag(header, iv, &mut out.as_mut()[start + IV_LEN..]);
        out.put_slice(&tag);
    }

    /// Seals a plaintext where it lies, for callers that build it in their
    /// output buffer: writes a fresh IV into `iv`, encrypts `plaintext` in
    /// place and returns the tag. The box is `iv || plaintext || tag`, laid
    /// out by the caller; the tag also covers `header`.
    pub fn seal_in_place(
        &self,
        header: &[u8],
        iv: &mut [u8; IV_LEN],
        plaintext: &mut [u8],
    ) -> [u8; TAG_LEN] {
        rand::rng().fill_bytes(iv);
        self.encrypt_and_tag(header, iv, plaintext)
    }

    fn encrypt_and_tag(&self, header: &[u8], iv: &[u8; IV_LEN], data: &mut [u8]) -> [u8; TAG_LEN] {
        CfbEnc::inner_iv_init(&self.cipher, iv.into()).encrypt(data);
        let mut mac = self.mac.clone();
        mac.update(header);
        mac.update(iv);
        mac.update(data);
        mac.finalize().into_bytes().into()
    }

    /// Seals into a new vector.
    pub fn seal(&self, header: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(plaintext.len() + OVERHEAD);
        self.seal_append(header, plaintext, &mut out);
        out
    }

    /// Verifies and decrypts a box in place, returning the plaintext, which
    /// lies inside `sealed`. Nothing is decrypted unless the tag verifies.
    pub fn open_in_place<'a>(
        &self,
        header: &[u8],
        sealed: &'a mut [u8],
    ) -> Result<&'a mut [u8], OpenError> {
        let len = sealed.len();
        if len < OVERHEAD {
            return Err(OpenError::TooShort(len));
        }
        let (body, tag) = sealed.split_at_mut(len - TAG_LEN);
        let mut mac = self.mac.clone();
        mac.update(header);
        mac.update(body);
        // `verify_slice` compares in constant time.
        mac.verify_slice(tag).map_err(|_| OpenError::BadTag)?;
        let (iv, ct) = body.split_at_mut(IV_LEN);
        let iv: [u8; IV_LEN] = (*iv).try_into().map_err(|_| OpenError::TooShort(len))?;
        CfbDec::inner_iv_init(&self.cipher, (&iv).into()).decrypt(ct);
        Ok(ct)
    }

    /// Opens into a new vector.
    pub fn open(&self, header: &[u8], sealed: &[u8]) -> Result<Vec<u8>, OpenError> {
        let mut buf = sealed.to_vec();
        let pt = self.open_in_place(header, &mut buf)?.to_vec();
        Ok(pt)
    }
}

impl std::fmt::Debug for EtmKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EtmKey(<secret>)")
    }
}

/// HKDF-SHA256 extract-and-expand to 32 bytes.
pub fn hkdf_expand(ikm: &[u8], salt: &[u8], info: &str) -> Secret {
    let hk = Hkdf::<Sha256>::new(Some(salt), ikm);
    let mut okm = Zeroizing::new([0u8; 32]);
    // 32 bytes is far below HKDF-SHA256's 8160-byte maximum.
    hk.expand(info.as_bytes(), okm.as_mut())
        .unwrap_or_else(|_| unreachable!("32-byte HKDF output"));
    okm
}

/// SHA-256 of the concatenation of `parts`.
pub fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// HMAC-SHA256 of the concatenation of `parts` under `key`.
pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC accepts keys of any length.
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

/// Fresh random bytes from the thread's CSPRNG (seeded from the OS): for
/// IVs, salts and per-connection or per-segment keys.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    rand::rng().fill_bytes(&mut b);
    b
}

/// Fresh random bytes straight from the operating system's generator
/// (`getrandom`): for long-term keys (the server's identity and storage
/// keys, each user's history key pair), which should not depend on any
/// state kept in the process. Like the thread CSPRNG's seeding, it panics
/// only if the operating system cannot provide randomness at all.
pub fn os_random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    rand::rand_core::UnwrapErr(rand::rngs::SysRng).fill_bytes(&mut b);
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use hex_literal::hex;

    // NIST SP 800-38A, F.3.17 (CFB128-AES256.Encrypt) and F.3.18 (Decrypt).
    const KEY: [u8; 32] = hex!("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4");
    const IV: [u8; 16] = hex!("000102030405060708090a0b0c0d0e0f");
    const PT: [u8; 64] = hex!(
        "6bc1bee22e409f96e93d7e117393172a ae2d8a571e03ac9c9eb76fac45af8e51"
        "30c81c46a35ce411e5fbc1191a0a52ef f69f2445df4f9b17ad2b417be66c3710"
    );
    const CT: [u8; 64] = hex!(
        "dc7e84bfda79164b7ecd8486985d3860 39ffed143b28b1c832113c6331e5407b"
        "df10132415e54b92a13ed0a8267ae2f9 75a385741ab9cef82031623d55b1e471"
    );

    #[test]
    fn nist_sp800_38a_cfb128_aes256() {
        let key = EtmKey::new(&KEY, &[0; 32]);
        let mut out = Vec::new();
        key.seal_append_with_iv(b"", &IV, &PT, &mut out);
        assert_eq!(&out[..IV_LEN], &IV);
        assert_eq!(&out[IV_LEN..IV_LEN + 64], &CT, "F.3.17 encrypt");
        let pt = key.open(b"", &out).unwrap();
        assert_eq!(pt, PT, "F.3.18 decrypt");
    }

    #[test]
    fn tag_is_hmac_over_header_iv_and_ciphertext() {
        let mac_key = [7u8; 32];
        let key = EtmKey::new(&KEY, &mac_key);
        let sealed = {
            let mut v = Vec::new();
            key.seal_append_with_iv(b"hdr", &IV, &PT, &mut v);
            v
        };
        let expect = hmac_sha256(&mac_key, &[b"hdr", &IV, &CT]);
        assert_eq!(&sealed[IV_LEN + 64..], &expect);
    }

    #[test]
    fn rfc4231_hmac_case_2() {
        let tag = hmac_sha256(b"Jefe", &[b"what do ya want ", b"for nothing?"]);
        assert_eq!(
            tag,
            hex!("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        );
    }

    #[test]
    fn rfc5869_hkdf_case_1() {
        // RFC 5869 A.1 (first 32 bytes of the 42-byte OKM).
        let ikm = hex!("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b");
        let salt = hex!("000102030405060708090a0b0c");
        let info = hex!("f0f1f2f3f4f5f6f7f8f9");
        let hk = Hkdf::<Sha256>::new(Some(&salt), &ikm);
        let mut okm = [0u8; 42];
        hk.expand(&info, &mut okm).unwrap();
        assert_eq!(
            okm,
            hex!(
                "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
            )
        );
        // Our helper is the same function with a text label.
        let ours = hkdf_expand(&ikm, &salt, "label");
        let mut theirs = [0u8; 32];
        hk.expand(b"label", &mut theirs).unwrap();
        assert_eq!(*ours, theirs);
    }

    #[test]
    fn every_bit_flip_is_rejected() {
        let key = EtmKey::derive(b"secret", b"salt", "test");
        let sealed = key.seal(b"h", b"attack at dawn");
        for i in 0..sealed.len() * 8 {
            let mut bad = sealed.clone();
            bad[i / 8] ^= 1 << (i % 8);
            assert_eq!(key.open(b"h", &bad), Err(OpenError::BadTag), "bit {i}");
        }
        assert_eq!(key.open(b"H", &sealed), Err(OpenError::BadTag));
        assert_eq!(
            key.open(b"h", &sealed[..OVERHEAD - 1]),
            Err(OpenError::TooShort(47))
        );
        assert_eq!(key.open(b"h", &sealed).unwrap(), b"attack at dawn");
    }

    #[test]
    fn sealing_in_place_makes_the_same_box() {
        let key = EtmKey::derive(b"k", b"s", "t");
        let mut iv = [0u8; IV_LEN];
        let mut data = *b"attack at dawn";
        let tag = key.seal_in_place(b"h", &mut iv, &mut data);
        assert_ne!(iv, [0u8; IV_LEN], "a fresh IV is written");
        assert_ne!(&data, b"attack at dawn");
        let mut again = Vec::new();
        key.seal_append_with_iv(b"h", &iv, b"attack at dawn", &mut again);
        assert_eq!(again, [&iv[..], &data, &tag].concat());
        assert_eq!(key.open(b"h", &again).unwrap(), b"attack at dawn");
    }

    #[test]
    fn fresh_iv_each_time() {
        let key = EtmKey::derive(b"k", b"s", "t");
        let a = key.seal(b"", b"same");
        let b = key.seal(b"", b"same");
        assert_ne!(a[..IV_LEN], b[..IV_LEN]);
        assert_ne!(a, b);
    }

    #[test]
    fn different_labels_give_different_keys() {
        let a = EtmKey::derive(b"k", b"s", "one");
        let b = EtmKey::derive(b"k", b"s", "two");
        let sealed = a.seal(b"", b"x");
        assert_eq!(b.open(b"", &sealed), Err(OpenError::BadTag));
    }

    #[test]
    fn record_test_vector_matches_the_document() {
        // docs/protocol.md, "Worked example": enc key 0x01.., mac key
        // 0x02.., IV 0x03.., direction 1, sequence 0, plaintext
        // {"id":6,"type":"ping"}; the expected box is in
        // tests/record_vector.hex, which the document shows.
        let key = EtmKey::new(&[1; 32], &[2; 32]);
        let mut header = vec![1u8];
        header.extend_from_slice(&0u64.to_be_bytes());
        let mut out = Vec::new();
        key.seal_append_with_iv(&header, &[3; 16], br#"{"id":6,"type":"ping"}"#, &mut out);
        let hex: String = out.iter().map(|b| format!("{b:02x}")).collect();
        let want = include_str!("../tests/record_vector.hex").trim();
        assert_eq!(hex, want);
        let doc = include_str!("../../docs/protocol.md").replace(char::is_whitespace, "");
        assert!(doc.contains(want), "docs/protocol.md shows the vector");
    }
}
