//! `access.toml`: which role may read, write or shred which zone, and for which purposes
//! (minimum necessary). An optional `[actors]` table limits which roles a person may claim.
//! Nothing here authenticates anyone; every decision, refusals included, goes to the audit log.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::Zone;
use crate::error::{Result, VaultError};

/// The rules `airlock init` writes.
pub const DEFAULT: &str = r#"# airlock access rules: which role may read, write or shred which zone, for which purposes.
# A person runs commands as one role (--role) for one purpose (--purpose); every decision is
# in the audit log. Purposes "*" allows any.

[roles.steward]
read = ["raw", "deid", "dev", "staging", "prod"]
write = ["raw", "deid", "dev", "staging", "prod"]
shred = ["raw", "deid", "dev", "staging", "prod"]
approve = ["staging", "prod"]
purposes = ["*"]

[roles.engineer]
read = ["deid", "dev", "staging"]
write = ["dev", "staging"]
shred = []
approve = ["staging"]
purposes = ["research", "model-training", "quality"]

[roles.analyst]
read = ["deid"]
write = []
shred = []
# columns an analyst never receives, even de-identified (minimum necessary)
deny_columns = ["note"]
purposes = ["research", "quality"]

# Approvals from distinct actors a dataset needs to enter staging and prod.
[promotion]
staging_approvals = 1
prod_approvals = 2

# Days a dataset may stay in a zone; `airlock retention apply` shreds what has expired.
[retention]
raw = 365

# What a model trained in the enclave (`airlock train`) must show to enter staging or prod.
[models]
max_epsilon = 10.0
max_membership_advantage = 0.1
# The mean canary exposure allowed, in bits (models trained with `--canaries N`; chance is
# about 1.44, memorized canaries score up to 10). When set, a model without canaries is refused.
# max_canary_exposure = 3.0

# Who may act as which role. Under `airlock serve` the names are authenticated identities
# (cert:NAME from `airlock ca issue`, key:NAME from `airlock apikey create`) and without this
# table no one has any role. In the single-user local mode the names are what --actor says,
# and without the table anyone may claim any role: local mode enforces nothing against a
# person who holds the workspace secret.
# [actors]
# "cert:alice" = ["steward"]
# "cert:bob" = ["engineer", "analyst"]
# "key:etl" = ["engineer"]
"#;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Role {
    #[serde(default)]
    read: Vec<String>,
    #[serde(default)]
    write: Vec<String>,
    #[serde(default)]
    shred: Vec<String>,
    /// Zones this role may approve promotions into.
    #[serde(default)]
    approve: Vec<String>,
    /// Columns this role never receives from a table (minimum necessary).
    #[serde(default)]
    deny_columns: Vec<String>,
    #[serde(default)]
    purposes: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    roles: BTreeMap<String, Role>,
    actors: Option<BTreeMap<String, Vec<String>>>,
    #[serde(default)]
    promotion: Promotion,
    /// Days a dataset may stay in each zone before `airlock retention apply` shreds it.
    #[serde(default)]
    retention: BTreeMap<String, u32>,
    /// What a model (an `airlock train` model file from the enclave) must show to enter staging
    /// or prod.
    #[serde(default)]
    models: ModelGate,
}

/// The model gate of `[models]`: a model file promoted into staging or prod must have been
/// trained with differential privacy within `max_epsilon`, and the membership attack on it may
/// not do better than `max_membership_advantage`, and the mean exposure of its canaries may not
/// exceed `max_canary_exposure` bits. Absent limits are not checked.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ModelGate {
    pub max_epsilon: Option<f64>,
    pub max_membership_advantage: Option<f64>,
    pub max_canary_exposure: Option<f64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Promotion {
    #[serde(default = "one")]
    staging_approvals: u64,
    #[serde(default = "two")]
    prod_approvals: u64,
}

impl Default for Promotion {
    fn default() -> Self {
        Self {
            staging_approvals: one(),
            prod_approvals: two(),
        }
    }
}

fn one() -> u64 {
    1
}

fn two() -> u64 {
    2
}

/// The access rules of a workspace.
#[derive(Debug, Clone)]
pub struct Access {
    file: File,
    /// Server mode: a role counts only where `[actors]` binds it to the authenticated
    /// identity; without an `[actors]` table no one has a role.
    pub(crate) require_bound: bool,
}

/// Who is acting, as which role, for which purpose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub name: String,
    pub role: String,
    pub purpose: String,
}

/// What an actor wants to do to a zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Read,
    Write,
    Shred,
    Approve,
}

impl Action {
    /// The audit log's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Read => "get",
            Action::Write => "put",
            Action::Shred => "shred",
            Action::Approve => "approve",
        }
    }
}

/// The logged-in user's name, for audit events that no actor was named for.
pub fn current_user() -> String {
    std::env::var("AIRLOCK_ACTOR")
        .or_else(|_| std::env::var("USER"))
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "unknown".into())
}

impl Access {
    /// Parses access rules.
    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        let file: File = toml::from_str(text).map_err(|e| VaultError::Access {
            path: path.to_path_buf(),
            reason: e.message().to_owned(),
        })?;
        for (name, role) in &file.roles {
            for z in role
                .read
                .iter()
                .chain(&role.write)
                .chain(&role.shred)
                .chain(&role.approve)
            {
                Zone::parse(z).map_err(|_| VaultError::Access {
                    path: path.to_path_buf(),
                    reason: format!("role {name} names unknown zone {z}"),
                })?;
            }
        }
        for z in file.retention.keys() {
            Zone::parse(z).map_err(|_| VaultError::Access {
                path: path.to_path_buf(),
                reason: format!("[retention] names unknown zone {z}"),
            })?;
        }
        Ok(Self {
            file,
            require_bound: false,
        })
    }

    /// The roles `[actors]` binds `name` to (none without an `[actors]` table).
    pub fn roles_of(&self, name: &str) -> Vec<String> {
        self.file
            .actors
            .as_ref()
            .and_then(|a| a.get(name))
            .cloned()
            .unwrap_or_default()
    }

    /// Columns `who`'s role may not receive.
    pub fn denied_columns(&self, who: &Actor) -> &[String] {
        self.file
            .roles
            .get(&who.role)
            .map_or(&[][..], |r| r.deny_columns.as_slice())
    }

    /// Distinct approvals a promotion into `zone` needs.
    pub fn approvals_needed(&self, zone: Zone) -> u64 {
        match zone {
            Zone::Staging => self.file.promotion.staging_approvals,
            Zone::Prod => self.file.promotion.prod_approvals,
            _ => 0,
        }
    }

    /// The `[models]` gate.
    pub fn model_gate(&self) -> &ModelGate {
        &self.file.models
    }

    /// Days datasets may stay in `zone`, if limited.
    pub fn retention_days(&self, zone: Zone) -> Option<u32> {
        self.file
            .retention
            .iter()
            .find(|(z, _)| z.eq_ignore_ascii_case(zone.as_str()))
            .map(|(_, d)| *d)
    }

    /// Whether `who` may do `action` in `zone`.
    pub fn check(&self, who: &Actor, action: Action, zone: Zone) -> Result<()> {
        let denied = || VaultError::Denied {
            actor: who.name.clone(),
            role: who.role.clone(),
            action: action.as_str(),
            zone: zone.to_string(),
            purpose: who.purpose.clone(),
        };
        let role = self.file.roles.get(&who.role).ok_or_else(denied)?;
        let bound = match &self.file.actors {
            Some(actors) => actors
                .get(&who.name)
                .is_some_and(|roles| roles.contains(&who.role)),
            None => !self.require_bound,
        };
        if !bound {
            return Err(denied());
        }
        let zones = match action {
            Action::Read => &role.read,
            Action::Write => &role.write,
            Action::Shred => &role.shred,
            Action::Approve => &role.approve,
        };
        let zone_ok = zones.iter().any(|z| z.eq_ignore_ascii_case(zone.as_str()));
        let purpose_ok = role.purposes.iter().any(|p| p == "*" || p == &who.purpose);
        if zone_ok && purpose_ok {
            Ok(())
        } else {
            Err(denied())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actor(name: &str, role: &str, purpose: &str) -> Actor {
        Actor {
            name: name.into(),
            role: role.into(),
            purpose: purpose.into(),
        }
    }

    #[test]
    fn default_rules_keep_raw_data_to_stewards() {
        let a = Access::parse(DEFAULT, Path::new("access.toml")).unwrap();
        assert!(
            a.check(&actor("s", "steward", "audit"), Action::Read, Zone::Raw)
                .is_ok()
        );
        assert!(
            a.check(&actor("e", "engineer", "research"), Action::Read, Zone::Raw)
                .is_err()
        );
        assert!(
            a.check(&actor("e", "engineer", "research"), Action::Read, Zone::Dev)
                .is_ok()
        );
        assert!(
            a.check(
                &actor("e", "engineer", "marketing"),
                Action::Read,
                Zone::Dev
            )
            .is_err()
        );
        assert!(
            a.check(
                &actor("a", "analyst", "research"),
                Action::Write,
                Zone::Deid
            )
            .is_err()
        );
        assert!(
            a.check(&actor("x", "nobody", "research"), Action::Read, Zone::Deid)
                .is_err()
        );
    }

    #[test]
    fn actors_limit_the_roles_they_may_claim_and_bad_files_are_refused() {
        let text = format!("{DEFAULT}\n[actors]\nalice = [\"steward\"]\n");
        let a = Access::parse(&text, Path::new("a.toml")).unwrap();
        assert!(
            a.check(&actor("alice", "steward", "x"), Action::Read, Zone::Raw)
                .is_ok()
        );
        assert!(
            a.check(&actor("mallory", "steward", "x"), Action::Read, Zone::Raw)
                .is_err()
        );
        assert!(Access::parse("[roles.x]\nread = [\"attic\"]\n", Path::new("a.toml")).is_err());
        assert!(Access::parse("[roles.x]\nreed = []\n", Path::new("a.toml")).is_err());
    }
}
