//! Keyed tokenization: the same value gives the same token under the same key and namespace,
//! and nothing about the value can be learned from the token without the key.
//!
//! token = prefix + base32(HMAC-SHA-256(namespace key, value))[..length], where the namespace
//! key is derived from the workspace's `tokenize` purpose key. Base32 (RFC 4648, no padding)
//! is case-insensitive and safe in file names, URLs and spreadsheets.

use airlock_core::keys::PurposeKey;
use airlock_core::policy::Tokenize;

/// The namespace of patient identifiers: a dataset's `patient_id` column (tokenized without a
/// namespace of its own), FHIR Patient ids and references to them, DICOM Patient ID. The same
/// patient gets the same token in each, under one workspace secret.
pub const PATIENT_NAMESPACE: &str = "patient";

/// Tokens for one namespace.
#[derive(Debug, Clone)]
pub struct Tokenizer {
    key: PurposeKey,
    prefix: String,
    length: usize,
}

impl Tokenizer {
    /// A tokenizer for `namespace` under the workspace's tokenize key.
    pub fn new(tokenize_key: &PurposeKey, namespace: &str, params: &Tokenize) -> Self {
        Self {
            key: tokenize_key.subkey(namespace),
            prefix: params.prefix.clone(),
            length: params
                .length
                .clamp(Tokenize::MIN_LENGTH, Tokenize::MAX_LENGTH),
        }
    }

    /// The patient token of a workspace: [`PATIENT_NAMESPACE`], no prefix, the default length.
    pub fn patient(tokenize_key: &PurposeKey) -> Self {
        Self::new(tokenize_key, PATIENT_NAMESPACE, &Tokenize::default())
    }

    /// Length of every token in bytes (prefix included).
    pub fn token_len(&self) -> usize {
        self.prefix.len() + self.length
    }

    /// Appends the token of `value` to `out`.
    pub fn push_token(&self, value: &str, out: &mut String) {
        let mac = self.key.mac(value.as_bytes());
        // 32 bytes encode to 52 characters; a token is a prefix of that encoding.
        let mut encoded = [0u8; 52];
        data_encoding::BASE32_NOPAD.encode_mut(&mac, &mut encoded);
        out.push_str(&self.prefix);
        out.push_str(std::str::from_utf8(&encoded[..self.length]).expect("base32 output is ASCII"));
    }

    /// The token of `value`.
    pub fn token(&self, value: &str) -> String {
        let mut out = String::with_capacity(self.token_len());
        self.push_token(value, &mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use airlock_core::keys::{Purpose, WorkspaceSecret};
    use proptest::prelude::*;

    fn tokenizer(seed: u8, namespace: &str) -> Tokenizer {
        let key = WorkspaceSecret::from_bytes([seed; 32]).derive(Purpose::Tokenize);
        Tokenizer::new(&key, namespace, &Tokenize::default())
    }

    proptest! {
        #[test]
        fn token_is_deterministic_opaque_and_fixed_length(v in "[0-9A-Za-z]{4,24}") {
            let a = tokenizer(1, "mrn");
            let t = a.token(&v);
            prop_assert_eq!(&t, &a.token(&v));
            prop_assert_ne!(&t, &tokenizer(2, "mrn").token(&v));
            prop_assert_ne!(&t, &tokenizer(1, "other").token(&v));
            prop_assert_eq!(t.len(), Tokenize::DEFAULT_LENGTH);
            prop_assert!(!t.contains(&v));
            prop_assert!(t.bytes().all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b)));
        }
    }

    #[test]
    fn prefix_and_length_are_applied() {
        let key = WorkspaceSecret::from_bytes([1; 32]).derive(Purpose::Tokenize);
        let params = Tokenize {
            namespace: None,
            prefix: "P-".into(),
            length: 16,
        };
        let t = Tokenizer::new(&key, "mrn", &params).token("12345");
        assert!(t.starts_with("P-"));
        assert_eq!(t.len(), 18);
    }

    #[test]
    fn no_collision_across_a_million_distinct_inputs() {
        let t = tokenizer(3, "mrn");
        let mut seen = std::collections::HashSet::with_capacity(1_000_000);
        let mut buf = String::new();
        for i in 0..1_000_000u32 {
            buf.clear();
            t.push_token(&format!("MRN{i:07}"), &mut buf);
            assert!(seen.insert(buf.clone()), "collision at input {i}");
        }
    }
}
