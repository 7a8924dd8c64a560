//! The workspace secret and the purpose keys derived from it.
//!
//! One secret (32 random bytes, mode 0600) per workspace. Each use gets its own key through
//! HKDF-SHA-256 with a purpose label, so a token key can never be used to recover a date shift
//! and vice versa. Losing the secret makes every token and shift unlinkable for good: that is
//! crypto-shredding, and it is a feature.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretBox};
use sha2::Sha256;

use crate::error::{Error, KeyError, Result};

/// The environment variable that names a key file.
pub const KEY_FILE_ENV: &str = "AIRLOCK_KEY_FILE";
/// The workspace directory.
pub const WORKSPACE_DIR: &str = ".airlock";
/// The secret's file name inside the workspace directory.
pub const SECRET_FILE: &str = "secret";

/// What a derived key is for. Each purpose has its own HKDF label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Tokenize,
    DateShift,
    Surrogate,
    ManifestSigning,
    DataEncryption,
    /// Signs the audit log's tree heads, and nothing else.
    AuditHeads,
    /// Authenticates the vault catalog's rows.
    CatalogMac,
    /// Encrypts the vault's key-encryption keys at rest.
    KeyringWrap,
}

impl Purpose {
    fn label(self) -> &'static [u8] {
        match self {
            Self::Tokenize => b"airlock/v1/tokenize",
            Self::DateShift => b"airlock/v1/date-shift",
            Self::Surrogate => b"airlock/v1/surrogate",
            Self::ManifestSigning => b"airlock/v1/manifest-signing",
            Self::DataEncryption => b"airlock/v1/data-encryption",
            Self::AuditHeads => b"airlock/v1/audit-tree-heads",
            Self::CatalogMac => b"airlock/v1/catalog-mac",
            Self::KeyringWrap => b"airlock/v1/keyring-wrap",
        }
    }
}

/// The workspace secret. Its `Debug` never shows the bytes.
pub struct WorkspaceSecret {
    bytes: SecretBox<[u8; 32]>,
}

impl fmt::Debug for WorkspaceSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WorkspaceSecret(<redacted>)")
    }
}

impl WorkspaceSecret {
    /// Wraps 32 bytes (tests, and callers that manage keys themselves).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self {
            bytes: SecretBox::new(Box::new(bytes)),
        }
    }

    /// The secret's bytes, for a front door that must hand the secret itself to another
    /// process of the same run (Spark executors). Whoever holds them holds the workspace key.
    pub fn expose_bytes(&self) -> &[u8; 32] {
        self.bytes.expose_secret()
    }

    /// Finds the key file: `explicit` (a `--key-file` flag), then `AIRLOCK_KEY_FILE`, then
    /// `.airlock/secret` in the current directory or the nearest parent that has one.
    pub fn locate(explicit: Option<&Path>) -> Result<PathBuf> {
        if let Some(path) = explicit {
            return Ok(path.to_path_buf());
        }
        if let Some(path) = std::env::var_os(KEY_FILE_ENV).filter(|p| !p.is_empty()) {
            return Ok(PathBuf::from(path));
        }
        let cwd = std::env::current_dir().map_err(|e| Error::io("read", ".", e))?;
        cwd.ancestors()
            .map(|dir| dir.join(WORKSPACE_DIR).join(SECRET_FILE))
            .find(|p| p.is_file())
            .ok_or(Error::Key(KeyError::NotFound))
    }

    /// Reads a key file: 32 raw bytes, or 64 hex digits (a trailing newline is fine).
    /// Refuses a file that other users can read.
    pub fn load(path: &Path) -> Result<Self> {
        let unreadable = |e: std::io::Error| KeyError::Unreadable {
            path: path.to_path_buf(),
            reason: e.kind().to_string(),
        };
        let meta = std::fs::metadata(path).map_err(unreadable)?;
        check_private(path, &meta)?;
        let data = zeroize::Zeroizing::new(std::fs::read(path).map_err(unreadable)?);
        let malformed = || KeyError::Malformed {
            path: path.to_path_buf(),
        };
        let mut key = [0u8; 32];
        if data.len() == 32 {
            key.copy_from_slice(&data);
        } else {
            let text = std::str::from_utf8(&data).map_err(|_| malformed())?.trim();
            let decoded = zeroize::Zeroizing::new(
                data_encoding::HEXLOWER_PERMISSIVE
                    .decode(text.as_bytes())
                    .map_err(|_| malformed())?,
            );
            if decoded.len() != 32 {
                return Err(malformed().into());
            }
            key.copy_from_slice(&decoded);
        }
        let secret = Self::from_bytes(key);
        zeroize::Zeroize::zeroize(&mut key);
        Ok(secret)
    }

    /// A fresh random secret that lives in memory only (for runs whose policy is not keyed).
    pub fn generate() -> Result<Self> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).map_err(|e| {
            Error::io(
                "generate a key from",
                "the OS random source",
                std::io::Error::other(e.to_string()),
            )
        })?;
        let secret = Self::from_bytes(key);
        zeroize::Zeroize::zeroize(&mut key);
        Ok(secret)
    }

    /// Creates a new random secret at `path` (mode 0600), refusing to overwrite one.
    pub fn create(path: &Path) -> Result<Self> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).map_err(|e| {
            Error::io(
                "generate a key for",
                path,
                std::io::Error::other(e.to_string()),
            )
        })?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, e))?;
        }
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options
            .open(path)
            .map_err(|e| Error::io("create", path, e))?;
        file.write_all(&key)
            .and_then(|()| file.sync_all())
            .map_err(|e| Error::io("write", path, e))?;
        let secret = Self::from_bytes(key);
        zeroize::Zeroize::zeroize(&mut key);
        Ok(secret)
    }

    /// A public fingerprint of the secret (16 hex digits), recorded in manifests so that an
    /// auditor can tell whether two outputs were keyed alike without learning the key.
    pub fn key_id(&self) -> String {
        let hk = Hkdf::<Sha256>::new(None, self.bytes.expose_secret());
        let mut id = [0u8; 8];
        hk.expand(b"airlock/v1/key-id", &mut id)
            .expect("8 bytes is a valid HKDF-SHA-256 output length");
        data_encoding::HEXLOWER.encode(&id)
    }

    /// Derives the key for one purpose (HKDF-SHA-256, no salt, the purpose as info).
    pub fn derive(&self, purpose: Purpose) -> PurposeKey {
        let hk = Hkdf::<Sha256>::new(None, self.bytes.expose_secret());
        let mut okm = [0u8; 32];
        hk.expand(purpose.label(), &mut okm)
            .expect("32 bytes is a valid HKDF-SHA-256 output length");
        let key = PurposeKey::new(&okm);
        zeroize::Zeroize::zeroize(&mut okm);
        key
    }
}

#[cfg(unix)]
fn check_private(path: &Path, meta: &std::fs::Metadata) -> Result<(), KeyError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyError::Exposed {
            path: path.to_path_buf(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_path: &Path, _meta: &std::fs::Metadata) -> Result<(), KeyError> {
    Ok(())
}

/// A key for one purpose, held as a prepared HMAC-SHA-256 state so that each use costs two
/// compressions and no key schedule.
#[derive(Clone)]
pub struct PurposeKey {
    mac: Hmac<Sha256>,
}

impl fmt::Debug for PurposeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PurposeKey(<redacted>)")
    }
}

impl PurposeKey {
    fn new(key: &[u8; 32]) -> Self {
        Self {
            mac: Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts keys of any length"),
        }
    }

    /// HMAC-SHA-256 of `data` under this key.
    pub fn mac(&self, data: &[u8]) -> [u8; 32] {
        let mut mac = self.mac.clone();
        mac.update(data);
        mac.finalize().into_bytes().into()
    }

    /// HMAC-SHA-256 of the concatenation of `parts` (no allocation for the joined input).
    pub fn mac_parts(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut mac = self.mac.clone();
        for p in parts {
            mac.update(p);
        }
        mac.finalize().into_bytes().into()
    }

    /// A key for a sub-purpose (a tokenization namespace, say): HMAC of a label, used as a key.
    pub fn subkey(&self, label: &str) -> PurposeKey {
        let mut bytes = self.mac(label.as_bytes());
        let key = PurposeKey::new(&bytes);
        zeroize::Zeroize::zeroize(&mut bytes);
        key
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purposes_give_different_keys() {
        let s = WorkspaceSecret::from_bytes([7; 32]);
        let a = s.derive(Purpose::Tokenize).mac(b"x");
        let b = s.derive(Purpose::DateShift).mac(b"x");
        assert_ne!(a, b);
        assert_eq!(a, s.derive(Purpose::Tokenize).mac(b"x"));
        let other = WorkspaceSecret::from_bytes([8; 32]);
        assert_ne!(a, other.derive(Purpose::Tokenize).mac(b"x"));
    }

    #[test]
    fn key_id_is_stable_and_differs_per_secret() {
        let a = WorkspaceSecret::from_bytes([1; 32]);
        assert_eq!(a.key_id(), WorkspaceSecret::from_bytes([1; 32]).key_id());
        assert_ne!(a.key_id(), WorkspaceSecret::from_bytes([2; 32]).key_id());
        assert_eq!(a.key_id().len(), 16);
    }

    #[test]
    fn debug_never_shows_key_bytes() {
        let s = WorkspaceSecret::from_bytes([0xAB; 32]);
        assert!(!format!("{s:?}").contains("171"));
        assert!(
            !format!("{:?}", s.derive(Purpose::Tokenize))
                .to_lowercase()
                .contains("ab")
        );
    }

    #[test]
    fn create_then_load_round_trips_and_refuses_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".airlock/secret");
        let created = WorkspaceSecret::create(&path).unwrap();
        let loaded = WorkspaceSecret::load(&path).unwrap();
        assert_eq!(
            created.derive(Purpose::Tokenize).mac(b"v"),
            loaded.derive(Purpose::Tokenize).mac(b"v")
        );
        assert!(WorkspaceSecret::create(&path).is_err());
    }

    #[test]
    fn hex_key_files_load() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        std::fs::write(&path, format!("{}\n", "0f".repeat(32))).unwrap();
        set_mode(&path, 0o600);
        let k = WorkspaceSecret::load(&path).unwrap();
        assert_eq!(
            k.derive(Purpose::Tokenize).mac(b"v"),
            WorkspaceSecret::from_bytes([0x0f; 32])
                .derive(Purpose::Tokenize)
                .mac(b"v")
        );
        std::fs::write(&path, "not a key").unwrap();
        assert!(matches!(
            WorkspaceSecret::load(&path),
            Err(Error::Key(KeyError::Malformed { .. }))
        ));
    }

    #[cfg(unix)]
    #[test]
    fn readable_key_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        std::fs::write(&path, [1u8; 32]).unwrap();
        set_mode(&path, 0o644);
        assert!(matches!(
            WorkspaceSecret::load(&path),
            Err(Error::Key(KeyError::Exposed { mode: 0o644, .. }))
        ));
    }

    fn set_mode(path: &Path, mode: u32) {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
        }
        let _ = (path, mode);
    }
}
