//! Key-encryption keys that can die. Each dataset's data key is wrapped by a versioned KEK: 32
//! random bytes (not derived from the workspace secret), kept in `.airlock/keyring` encrypted
//! under a key derived from the secret. Rotation adds a version and, once every data key is
//! rewrapped under it, destroys the older ones; shredding rotates, so a copy of the catalog made
//! before a shred holds the shredded key wrapped under a KEK that no longer exists.
//!
//! (A copy of the keyring file made at the same time would still hold that KEK: keep the
//! keyring out of backups, or, with the server, in a key store that forgets.)

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use airlock_core::keys::PurposeKey;
use airlock_core::output::AtomicOutput;

use crate::error::{Result, VaultError};

/// The keyring's file in the workspace folder.
pub const KEYRING_FILE: &str = "keyring";

const FORMAT: &str = "airlock-keyring/v1";

/// A key-encryption key.
pub type Kek = Zeroizing<[u8; 32]>;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyringFile {
    format: String,
    current: u32,
    /// Version → nonce and ciphertext of the KEK under the keyring key, hex.
    keks: BTreeMap<u32, String>,
}

/// The workspace's KEK versions.
pub struct Keyring {
    path: PathBuf,
    master: Aes256Gcm,
    file: KeyringFile,
    /// The file as last read (inode, size, modification time): every save is an atomic
    /// rename, so a rotation by another process shows as another inode.
    seen: Option<(u64, u64, Option<std::time::SystemTime>)>,
}

/// What identifies a version of the keyring file on disk.
fn stamp(path: &Path) -> Option<(u64, u64, Option<std::time::SystemTime>)> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).ok()?;
    Some((m.ino(), m.len(), m.modified().ok()))
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("current", &self.file.current)
            .field("versions", &self.file.keks.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// The keyring file, if there is one.
fn read(path: &Path) -> Result<Option<KeyringFile>> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str::<KeyringFile>(&text)
            .ok()
            .filter(|f| f.format == FORMAT && f.keks.contains_key(&f.current))
            .map(Some)
            .ok_or_else(|| VaultError::Keyring("it is not an airlock keyring".into())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(VaultError::io("read", path, e)),
    }
}

fn aad(version: u32) -> Vec<u8> {
    format!("{FORMAT}\nkek {version}").into_bytes()
}

impl Keyring {
    /// Opens the keyring at `path`, creating it with a first random KEK when it is missing.
    /// `master` (a purpose key of the workspace secret) encrypts the KEKs at rest.
    pub fn open(path: &Path, master: &PurposeKey) -> Result<Self> {
        let k = Zeroizing::new(master.mac(b"airlock/v1/keyring"));
        let master = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&k[..]));
        let file = read(path)?.unwrap_or_else(|| KeyringFile {
            format: FORMAT.into(),
            current: 0,
            keks: BTreeMap::new(),
        });
        let mut ring = Self {
            path: path.to_path_buf(),
            master,
            file,
            seen: stamp(path),
        };
        if ring.file.keks.is_empty() {
            ring.add_version()?;
        }
        Ok(ring)
    }

    /// Reads the file again if it changed on disk (another process may have rotated); a
    /// missing file keeps what is held (a keyring is never deleted by airlock).
    pub fn reload(&mut self) -> Result<()> {
        let now = stamp(&self.path);
        if now.is_some() && now == self.seen {
            return Ok(());
        }
        if let Some(file) = read(&self.path)? {
            self.file = file;
        }
        self.seen = now;
        Ok(())
    }

    /// The version new data keys are wrapped under, and its KEK.
    pub fn current(&self) -> Result<(u32, Kek)> {
        let v = self.file.current;
        Ok((v, self.get(v)?))
    }

    /// KEK `version`; an error once it was destroyed.
    pub fn get(&self, version: u32) -> Result<Kek> {
        let sealed = self
            .file
            .keks
            .get(&version)
            .ok_or(VaultError::KekDestroyed(version))?;
        let bytes = data_encoding::HEXLOWER
            .decode(sealed.as_bytes())
            .ok()
            .filter(|b| b.len() == 12 + 32 + 16)
            .ok_or_else(|| VaultError::Keyring(format!("version {version} is damaged")))?;
        let plain = Zeroizing::new(
            self.master
                .decrypt(
                    Nonce::from_slice(&bytes[..12]),
                    Payload {
                        msg: &bytes[12..],
                        aad: &aad(version),
                    },
                )
                .map_err(|_| {
                    VaultError::Keyring(format!(
                        "version {version} does not open with this workspace secret"
                    ))
                })?,
        );
        let mut kek = Zeroizing::new([0u8; 32]);
        kek.copy_from_slice(&plain);
        Ok(kek)
    }

    /// Versions held.
    pub fn versions(&self) -> Vec<u32> {
        self.file.keks.keys().copied().collect()
    }

    /// Adds a new random KEK and makes it current (saved before it is used).
    pub fn add_version(&mut self) -> Result<u32> {
        let mut kek = Zeroizing::new([0u8; 32]);
        getrandom::fill(&mut kek[..]).map_err(|_| VaultError::Random)?;
        let mut nonce = [0u8; 12];
        getrandom::fill(&mut nonce).map_err(|_| VaultError::Random)?;
        let version = self.file.keks.keys().max().map_or(1, |v| v + 1);
        let sealed = self
            .master
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: &kek[..],
                    aad: &aad(version),
                },
            )
            .map_err(|_| VaultError::Crypto)?;
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        self.file
            .keks
            .insert(version, data_encoding::HEXLOWER.encode(&bytes));
        self.file.current = version;
        self.save()?;
        Ok(version)
    }

    /// Destroys every version but the current one; returns those destroyed.
    pub fn destroy_old(&mut self) -> Result<Vec<u32>> {
        let current = self.file.current;
        let old: Vec<u32> = self
            .file
            .keks
            .keys()
            .copied()
            .filter(|v| *v != current)
            .collect();
        self.file.keks.retain(|v, _| *v == current);
        self.save()?;
        Ok(old)
    }

    fn save(&self) -> Result<()> {
        let text = serde_json::to_string_pretty(&self.file)
            .map_err(|e| VaultError::Write(std::io::Error::other(e)))?;
        let out = AtomicOutput::create(&self.path, true)?;
        std::io::Write::write_all(&mut out.file()?, text.as_bytes())
            .map_err(|e| VaultError::io("write", &self.path, e))?;
        out.commit()?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&self.path, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| VaultError::io("set permissions of", &self.path, e))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use airlock_core::keys::{Purpose, WorkspaceSecret};

    #[test]
    fn versions_rotate_and_die() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEYRING_FILE);
        let secret = WorkspaceSecret::from_bytes([3; 32]);
        let master = secret.derive(Purpose::KeyringWrap);
        let mut ring = Keyring::open(&path, &master).unwrap();
        let (v1, k1) = ring.current().unwrap();
        assert_eq!(v1, 1);
        let v2 = ring.add_version().unwrap();
        let again = Keyring::open(&path, &master).unwrap();
        assert_eq!(again.current().unwrap().0, v2);
        assert_eq!(*again.get(v1).unwrap(), *k1);
        assert_ne!(*again.get(v2).unwrap(), *k1, "KEKs are random, not derived");
        ring.destroy_old().unwrap();
        let again = Keyring::open(&path, &master).unwrap();
        assert!(matches!(again.get(v1), Err(VaultError::KekDestroyed(1))));
        // another secret opens the file but none of its keys
        let other = WorkspaceSecret::from_bytes([4; 32]).derive(Purpose::KeyringWrap);
        assert!(matches!(
            Keyring::open(&path, &other).unwrap().current(),
            Err(VaultError::Keyring(_))
        ));
    }
}
