//! The `encrypt` method: AES-CBC with PKCS#7 padding under the configuration's key (16, 24 or
//! 32 bytes), a random IV per value, `base64(IV || ciphertext)`, as Microsoft's anonymizer
//! writes it (so its decryption tool reads ours). RustCrypto's `cbc` and `aes`.

use aes::cipher::block_padding::Pkcs7;
use aes::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};

fn iv() -> [u8; 16] {
    let mut iv = [0u8; 16];
    getrandom::fill(&mut iv).expect("the operating system gives randomness");
    iv
}

/// Encrypts `plain`; `key` is 16, 24 or 32 bytes (checked when the configuration loads).
pub fn encrypt(key: &[u8], plain: &str) -> String {
    let iv = iv();
    let data = plain.as_bytes();
    let ct = match key.len() {
        16 => cbc::Encryptor::<aes::Aes128>::new_from_slices(key, &iv)
            .map(|c| c.encrypt_padded_vec_mut::<Pkcs7>(data)),
        24 => cbc::Encryptor::<aes::Aes192>::new_from_slices(key, &iv)
            .map(|c| c.encrypt_padded_vec_mut::<Pkcs7>(data)),
        _ => cbc::Encryptor::<aes::Aes256>::new_from_slices(key, &iv)
            .map(|c| c.encrypt_padded_vec_mut::<Pkcs7>(data)),
    }
    .expect("key and IV lengths are checked");
    let mut out = iv.to_vec();
    out.extend(ct);
    data_encoding::BASE64.encode(&out)
}

/// Decrypts what [`encrypt`] (or Microsoft's tool) wrote; `None` when it is not such a value.
pub fn decrypt(key: &[u8], b64: &str) -> Option<String> {
    let raw = data_encoding::BASE64.decode(b64.as_bytes()).ok()?;
    if raw.len() < 32 || raw.len() % 16 != 0 {
        return None;
    }
    let (iv, ct) = raw.split_at(16);
    let plain = match key.len() {
        16 => cbc::Decryptor::<aes::Aes128>::new_from_slices(key, iv)
            .ok()?
            .decrypt_padded_vec_mut::<Pkcs7>(ct),
        24 => cbc::Decryptor::<aes::Aes192>::new_from_slices(key, iv)
            .ok()?
            .decrypt_padded_vec_mut::<Pkcs7>(ct),
        32 => cbc::Decryptor::<aes::Aes256>::new_from_slices(key, iv)
            .ok()?
            .decrypt_padded_vec_mut::<Pkcs7>(ct),
        _ => return None,
    }
    .ok()?;
    String::from_utf8(plain).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn microsofts_ciphertexts_decrypt_and_ours_round_trip() {
        let key = b"704ab12c8e3e46d4bea600ef62a6bec7";
        assert_eq!(
            decrypt(key, "qpxGp6T9DP7wB0EYPQwOYVrScQ/pq3c0D+JQ+hjnfkY=").as_deref(),
            Some("abc")
        );
        assert_eq!(
            decrypt(
                key,
                "GI99peR2SpPfcqEgzr7/z7gxYym6qyVPPzvmGc8o8SSwqMpCsW0CRj3v6ZsxFCef"
            )
            .as_deref(),
            Some("This is for test")
        );
        assert_eq!(
            decrypt(key, "zrFYnZ2cIwcfmjCVybP1ZC+LaD7gwGXBHR2bZjuutzA=").as_deref(),
            Some("\u{6d4b}\u{8bd5}")
        );
        assert_eq!(decrypt(key, "YWJj"), None);
        let c = encrypt(key, "Jane Doe");
        assert_ne!(c, encrypt(key, "Jane Doe"), "a fresh IV each time");
        assert_eq!(decrypt(key, &c).as_deref(), Some("Jane Doe"));
        assert_eq!(
            decrypt(&key[..16], &encrypt(&key[..16], "x")).as_deref(),
            Some("x")
        );
    }
}
