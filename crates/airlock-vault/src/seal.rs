//! Envelope encryption of one object: a fresh 256-bit data key per dataset, AES-256-GCM in
//! the STREAM construction (Hoang, Reyhanitabar, Rogaway, Vizár), 64 KiB chunks. Each chunk's
//! nonce carries its index and a last-chunk flag, and every chunk authenticates the object's
//! header and dataset id, so truncation, reordering, splicing chunks from another object and
//! a wrong key all fail authentication. The data key is wrapped (AES-256-GCM, random nonce,
//! the dataset id as associated data) by a key-encryption key derived from the workspace
//! secret; destroying the wrapped key makes the object unrecoverable (crypto-shredding).
//!
//! Object layout: `AIRLOCK-V1\n` magic (11 bytes), 7-byte nonce prefix, then the chunks, each
//! 64 KiB of ciphertext plus a 16-byte tag (the last one shorter).

use std::io::{Read, Write};

use aes_gcm::aead::stream::{DecryptorBE32, EncryptorBE32};
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use airlock_core::keys::PurposeKey;

use crate::error::{Result, VaultError};

const MAGIC: &[u8; 11] = b"AIRLOCK-V1\n";
const PREFIX_LEN: usize = 7;
/// Plaintext bytes per chunk.
pub const CHUNK: usize = 64 * 1024;
const TAG: usize = 16;

/// A dataset's data key (zeroed when dropped).
pub struct DataKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(..)")
    }
}

fn random<const N: usize>() -> Result<[u8; N]> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|_| VaultError::Random)?;
    Ok(b)
}

impl DataKey {
    /// A fresh random key.
    pub fn generate() -> Result<Self> {
        Ok(Self(Zeroizing::new(random()?)))
    }

    /// Wraps this key under the workspace's key-encryption key, bound to `dataset`:
    /// 12-byte nonce, then the ciphertext and tag.
    pub fn wrap(&self, kek: &PurposeKey, dataset: &str) -> Result<Vec<u8>> {
        self.wrap_kek(&legacy_kek(kek), dataset.as_bytes())
    }

    /// Wraps the key under a versioned key-encryption key, bound to `context` (the dataset's id
    /// and zone): AES-256-GCM, random nonce.
    pub fn wrap_kek(&self, kek: &[u8; 32], context: &[u8]) -> Result<Vec<u8>> {
        let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(kek));
        let nonce = random::<12>()?;
        let sealed = cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: &self.0[..],
                    aad: context,
                },
            )
            .map_err(|_| VaultError::Crypto)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Unwraps a key wrapped by [`DataKey::wrap_kek`]; fails for another KEK or context.
    pub fn unwrap_kek(kek: &[u8; 32], context: &[u8], wrapped: &[u8]) -> Result<Self> {
        if wrapped.len() != 12 + 32 + TAG {
            return Err(VaultError::WrongKey);
        }
        let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(kek));
        let plain = Zeroizing::new(
            cipher
                .decrypt(
                    Nonce::from_slice(&wrapped[..12]),
                    Payload {
                        msg: &wrapped[12..],
                        aad: context,
                    },
                )
                .map_err(|_| VaultError::WrongKey)?,
        );
        let mut k = Zeroizing::new([0u8; 32]);
        k.copy_from_slice(&plain);
        Ok(Self(k))
    }

    /// Unwraps a key wrapped for `dataset`; fails for another workspace secret or dataset.
    pub fn unwrap(kek: &PurposeKey, dataset: &str, wrapped: &[u8]) -> Result<Self> {
        Self::unwrap_kek(&legacy_kek(kek), dataset.as_bytes(), wrapped)
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&self.0[..]))
    }
}

/// The key-encryption key of data keys wrapped before versioned KEKs: derived from the secret.
fn legacy_kek(kek: &PurposeKey) -> Zeroizing<[u8; 32]> {
    Zeroizing::new(kek.mac(b"airlock/v1/key-encryption-key"))
}

/// What sealing an object measured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    /// Plaintext bytes.
    pub bytes: u64,
    /// SHA-256 of the plaintext, hex.
    pub sha256: String,
}

/// Fills `buf` from `r` as far as it goes; the number of bytes read.
fn fill(r: &mut dyn Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Encrypts everything `input` yields to `output` under `key`, bound to `dataset`.
pub fn seal(
    key: &DataKey,
    dataset: &str,
    input: &mut dyn Read,
    output: &mut dyn Write,
) -> Result<Sealed> {
    let prefix = random::<PREFIX_LEN>()?;
    output.write_all(MAGIC).map_err(VaultError::Write)?;
    output.write_all(&prefix).map_err(VaultError::Write)?;
    let aad = aad(dataset, &prefix);
    let mut enc = Some(EncryptorBE32::from_aead(key.cipher(), (&prefix).into()));
    let mut hash = Sha256::new();
    let mut total = 0u64;
    // one chunk of look-ahead tells which chunk is the last
    let mut cur = vec![0u8; CHUNK];
    let mut next = vec![0u8; CHUNK];
    let mut cur_len = fill(input, &mut cur).map_err(VaultError::Read)?;
    let mut buf = Vec::with_capacity(CHUNK + TAG);
    loop {
        let next_len = if cur_len == CHUNK {
            fill(input, &mut next).map_err(VaultError::Read)?
        } else {
            0
        };
        hash.update(&cur[..cur_len]);
        total += cur_len as u64;
        buf.clear();
        buf.extend_from_slice(&cur[..cur_len]);
        if next_len == 0 {
            enc.take()
                .ok_or(VaultError::Crypto)?
                .encrypt_last_in_place(&aad, &mut buf)
                .map_err(|_| VaultError::Crypto)?;
            output.write_all(&buf).map_err(VaultError::Write)?;
            break;
        }
        enc.as_mut()
            .ok_or(VaultError::Crypto)?
            .encrypt_next_in_place(&aad, &mut buf)
            .map_err(|_| VaultError::Crypto)?;
        output.write_all(&buf).map_err(VaultError::Write)?;
        std::mem::swap(&mut cur, &mut next);
        cur_len = next_len;
    }
    Ok(Sealed {
        bytes: total,
        sha256: data_encoding::HEXLOWER.encode(&hash.finalize()),
    })
}

fn aad(dataset: &str, prefix: &[u8]) -> Vec<u8> {
    let mut a = MAGIC.to_vec();
    a.extend_from_slice(prefix);
    a.extend_from_slice(dataset.as_bytes());
    a
}

/// Decrypts an object sealed for `dataset` to `output`. On any failure (a wrong key, a
/// truncated, reordered, spliced or edited object) it stops with an error; the caller must
/// discard what was written (the CLI writes to a temporary file and renames only on success).
pub fn open(
    key: &DataKey,
    dataset: &str,
    input: &mut dyn Read,
    output: &mut dyn Write,
) -> Result<Sealed> {
    let mut head = [0u8; 11 + PREFIX_LEN];
    let n = fill(input, &mut head).map_err(VaultError::Read)?;
    if n < head.len() || &head[..11] != MAGIC {
        return Err(VaultError::NotAnObject);
    }
    let prefix: [u8; PREFIX_LEN] = head[11..].try_into().map_err(|_| VaultError::NotAnObject)?;
    let aad = aad(dataset, &prefix);
    let mut dec = Some(DecryptorBE32::from_aead(key.cipher(), (&prefix).into()));
    let mut hash = Sha256::new();
    let mut total = 0u64;
    let mut cur = vec![0u8; CHUNK + TAG];
    let mut next = vec![0u8; CHUNK + TAG];
    let mut cur_len = fill(input, &mut cur).map_err(VaultError::Read)?;
    let mut buf = Vec::with_capacity(CHUNK + TAG);
    loop {
        if cur_len < TAG {
            return Err(VaultError::Tampered);
        }
        let next_len = if cur_len == CHUNK + TAG {
            fill(input, &mut next).map_err(VaultError::Read)?
        } else {
            0
        };
        buf.clear();
        buf.extend_from_slice(&cur[..cur_len]);
        let last = next_len == 0;
        if last {
            dec.take()
                .ok_or(VaultError::Tampered)?
                .decrypt_last_in_place(&aad, &mut buf)
                .map_err(|_| VaultError::Tampered)?;
        } else {
            dec.as_mut()
                .ok_or(VaultError::Tampered)?
                .decrypt_next_in_place(&aad, &mut buf)
                .map_err(|_| VaultError::Tampered)?;
        }
        hash.update(&buf);
        total += buf.len() as u64;
        output.write_all(&buf).map_err(VaultError::Write)?;
        if last {
            break;
        }
        std::mem::swap(&mut cur, &mut next);
        cur_len = next_len;
    }
    Ok(Sealed {
        bytes: total,
        sha256: data_encoding::HEXLOWER.encode(&hash.finalize()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use airlock_core::keys::{Purpose, WorkspaceSecret};
    use proptest::prelude::*;

    fn kek(b: u8) -> PurposeKey {
        WorkspaceSecret::from_bytes([b; 32]).derive(Purpose::DataEncryption)
    }

    fn sealed(key: &DataKey, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        seal(key, "ds-1", &mut &data[..], &mut out).unwrap();
        out
    }

    fn opened(key: &DataKey, dataset: &str, obj: &[u8]) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        open(key, dataset, &mut &obj[..], &mut out).map(|_| out)
    }

    #[test]
    fn round_trips_every_size_around_chunk_edges() {
        let key = DataKey::generate().unwrap();
        for len in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 3 * CHUNK + 7] {
            let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            let obj = sealed(&key, &data);
            assert_eq!(opened(&key, "ds-1", &obj).unwrap(), data, "length {len}");
        }
    }

    #[test]
    fn truncation_reordering_splicing_and_wrong_keys_fail() {
        let key = DataKey::generate().unwrap();
        let data: Vec<u8> = (0..3 * CHUNK + 100).map(|i| (i % 256) as u8).collect();
        let obj = sealed(&key, &data);
        let head = 11 + PREFIX_LEN;
        let c = CHUNK + TAG;
        // truncated at a chunk boundary: the new last chunk was not sealed as last
        assert!(matches!(
            opened(&key, "ds-1", &obj[..head + 2 * c]),
            Err(VaultError::Tampered)
        ));
        // truncated inside a chunk
        assert!(opened(&key, "ds-1", &obj[..obj.len() - 5]).is_err());
        // two chunks swapped
        let mut swapped = obj.clone();
        let (a, b) = (head..head + c, head + c..head + 2 * c);
        let first = obj[a.clone()].to_vec();
        swapped[a].copy_from_slice(&obj[b.clone()]);
        swapped[b].copy_from_slice(&first);
        assert!(matches!(
            opened(&key, "ds-1", &swapped),
            Err(VaultError::Tampered)
        ));
        // a chunk spliced in from another object under the same key
        let other = sealed(&key, &data);
        let mut spliced = obj.clone();
        spliced[head..head + c].copy_from_slice(&other[head..head + c]);
        assert!(opened(&key, "ds-1", &spliced).is_err());
        // another dataset id, another key
        assert!(opened(&key, "ds-2", &obj).is_err());
        assert!(opened(&DataKey::generate().unwrap(), "ds-1", &obj).is_err());
        // not an object at all
        assert!(matches!(
            opened(&key, "ds-1", b"plain text"),
            Err(VaultError::NotAnObject)
        ));
    }

    #[test]
    fn wrapped_keys_need_the_same_secret_and_dataset() {
        let key = DataKey::generate().unwrap();
        let wrapped = key.wrap(&kek(1), "ds-1").unwrap();
        let back = DataKey::unwrap(&kek(1), "ds-1", &wrapped).unwrap();
        let obj = sealed(&key, b"hello");
        assert_eq!(opened(&back, "ds-1", &obj).unwrap(), b"hello");
        assert!(matches!(
            DataKey::unwrap(&kek(2), "ds-1", &wrapped),
            Err(VaultError::WrongKey)
        ));
        assert!(matches!(
            DataKey::unwrap(&kek(1), "ds-2", &wrapped),
            Err(VaultError::WrongKey)
        ));
        assert!(!format!("{key:?}").chars().any(|c| c.is_ascii_digit()));
    }

    proptest! {
        #[test]
        fn any_single_byte_flip_is_detected(data in proptest::collection::vec(any::<u8>(), 0..3000), at in any::<proptest::sample::Index>(), bit in 0u8..8) {
            let key = DataKey::generate().unwrap();
            let mut obj = sealed(&key, &data);
            let i = at.index(obj.len());
            obj[i] ^= 1 << bit;
            prop_assert!(opened(&key, "ds-1", &obj).is_err());
        }
    }
}
