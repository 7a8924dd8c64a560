//! `airlock gateway key create NAME --role R`: an API key for a caller of the gateway (the
//! workspace's API keys, argon2id-hashed in the catalog), bound to its role in access.toml's
//! `[actors]` so that the binding is versioned and audited like any other change of the rules.

use std::path::Path;

use airlock_vault::{Actor, Credential, Vault};

use crate::{Error, Result};

/// A key made: its credential, the key itself (shown once, never stored), and whether
/// access.toml gained its `[actors]` table with it (from then on, in the single-user local mode
/// too, only the names that table lists may claim a role).
pub struct Created {
    pub credential: Credential,
    pub key: String,
    pub actors_table_created: bool,
}

/// Makes the key and binds `key:NAME` to `role` (kept with any roles it already has).
pub fn create(
    vault: &mut Vault,
    dir: &Path,
    name: &str,
    role: &str,
    who: &Actor,
) -> Result<Created> {
    airlock_vault::check_label("role", role)?;
    let path = dir.join(airlock_vault::ACCESS_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => {
            return Err(Error::Io {
                action: "read",
                path,
                source: e,
            });
        }
    };
    let mut doc: toml_edit::DocumentMut = text.parse().map_err(|_| {
        Error::Usage(format!(
            "{} does not parse as TOML: fix it before binding a key",
            airlock_core::shown::path(&path)
        ))
    })?;
    let (cred, key) = airlock_server::apikey::create(vault, name, who)?;
    let actors_table_created = !doc.contains_key("actors");
    let actors = doc
        .entry("actors")
        .or_insert_with(|| toml_edit::Item::Table(toml_edit::Table::new()))
        .as_table_mut()
        .ok_or_else(|| Error::Usage("access.toml's actors is not a table".into()))?;
    let roles = actors
        .entry(&cred.subject)
        .or_insert_with(|| toml_edit::value(toml_edit::Array::new()))
        .as_array_mut()
        .ok_or_else(|| Error::Usage("the key's entry in [actors] is not a list".into()))?;
    if !roles.iter().any(|r| r.as_str() == Some(role)) {
        roles.push(role);
    }
    airlock_core::output::write_atomic(&path, doc.to_string().as_bytes(), true).map_err(|e| {
        Error::Usage(format!(
            "cannot write {}: {e}",
            airlock_core::shown::path(&path)
        ))
    })?;
    // the new rules are recorded (a version and an audit entry) before the key is shown
    vault.refresh_access(who)?;
    Ok(Created {
        credential: cred,
        key,
        actors_table_created,
    })
}
