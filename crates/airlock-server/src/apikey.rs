//! API keys for services: `alk_<id>_<secret>`, shown once when made; the catalog keeps only an
//! argon2id hash of the secret (a sealed credential row, identity `key:NAME`).

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use airlock_vault::{Actor, Credential, CredentialKind, Vault};

use crate::{Error, Result};

/// Every API key starts with this (an OIDC token never does).
pub const PREFIX: &str = "alk_";

/// argon2id with OWASP's first recommended setting (19 MiB, 2 passes, 1 lane).
fn hasher() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Makes an API key for service `name`: records its hash and returns the credential and the
/// key, which is never stored and cannot be shown again.
pub fn create(vault: &Vault, name: &str, who: &Actor) -> Result<(Credential, String)> {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret)
        .map_err(|_| Error::Usage("the system random source failed".into()))?;
    let secret = data_encoding::BASE32_NOPAD
        .encode(&secret)
        .to_ascii_lowercase();
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt)
        .map_err(|_| Error::Usage("the system random source failed".into()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|_| Error::Usage("salt".into()))?;
    let hash = hasher()
        .hash_password(secret.as_bytes(), &salt)
        .map_err(|_| Error::Usage("argon2id failed".into()))?
        .to_string();
    let cred = vault.add_credential(CredentialKind::Key, name, &hash, who)?;
    let id = cred.id.trim_start_matches("cr-");
    Ok((cred.clone(), format!("{PREFIX}{id}_{secret}")))
}

/// The live API-key credential `key` names (its id part), not yet checked against the hash.
pub fn lookup(vault: &Vault, key: &str) -> Result<Option<Credential>> {
    let Some((id, _)) = split(key) else {
        return Ok(None);
    };
    Ok(vault
        .credential(&format!("cr-{id}"))?
        .filter(|c| c.kind == CredentialKind::Key && c.revoked_at.is_none()))
}

/// Whether `key`'s secret matches `cred`'s argon2id hash (tens of milliseconds: the server
/// runs it without holding the workspace).
pub fn matches(cred: &Credential, key: &str) -> bool {
    let (Some((_, secret)), Ok(hash)) = (split(key), PasswordHash::new(&cred.digest)) else {
        return false;
    };
    hasher().verify_password(secret.as_bytes(), &hash).is_ok()
}

fn split(key: &str) -> Option<(&str, &str)> {
    let (id, secret) = key.strip_prefix(PREFIX)?.split_once('_')?;
    (id.len() == 16 && id.bytes().all(|b| b.is_ascii_alphanumeric())).then_some((id, secret))
}

/// API keys already checked against their argon2id hash, by the key's SHA-256, so that each
/// key costs argon2id once per process; the credential row is still read for every request,
/// so a revocation counts from the next one.
#[derive(Debug, Default)]
pub struct Checked(std::sync::Mutex<std::collections::HashSet<[u8; 32]>>);

impl Checked {
    /// The identity (`key:NAME`) that `key` proves, given its live credential row from
    /// [`lookup`] (read by the caller under whatever lock holds its vault).
    pub fn verify(&self, cred: Option<Credential>, key: &str) -> Option<String> {
        use sha2::Digest;
        let cred = cred?;
        let digest: [u8; 32] = sha2::Sha256::digest(key.as_bytes()).into();
        let known = self.0.lock().ok().is_some_and(|k| k.contains(&digest));
        if known || matches(&cred, key) {
            if let Ok(mut k) = self.0.lock() {
                k.insert(digest);
            }
            Some(cred.subject)
        } else {
            None
        }
    }
}
