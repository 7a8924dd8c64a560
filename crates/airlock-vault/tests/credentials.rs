//! The credentials a server accepts are sealed rows: one added, un-revoked or re-pointed
//! outside airlock (someone with write access to catalog.db, but not the secret) is refused.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use airlock_core::keys::WorkspaceSecret;
use airlock_vault::{Actor, CredentialKind, Vault, VaultError};

fn actor() -> Actor {
    Actor {
        name: "operator".into(),
        role: "operator".into(),
        purpose: "credentials".into(),
    }
}

#[test]
fn credentials_edited_outside_airlock_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join(".airlock");
    let vault = Vault::init(&dir, WorkspaceSecret::create(&dir.join("secret")).unwrap()).unwrap();
    let alice = vault
        .add_credential(CredentialKind::Cert, "alice", &"a".repeat(64), &actor())
        .unwrap();
    let etl = vault
        .add_credential(CredentialKind::Key, "etl", "$argon2id$x", &actor())
        .unwrap();
    vault.revoke_credential(&etl.id, &actor()).unwrap();
    assert_eq!(
        vault
            .live_credentials(CredentialKind::Cert, &"a".repeat(64))
            .unwrap()[0]
            .subject,
        "cert:alice"
    );
    assert!(matches!(
        vault.add_credential(CredentialKind::Cert, "../x", "b", &actor()),
        Err(VaultError::BadIdentity)
    ));
    let db = rusqlite::Connection::open(dir.join("catalog.db")).unwrap();
    // a revoked key brought back
    db.execute(
        "UPDATE credentials SET revoked_at = NULL WHERE id = ?1",
        [&etl.id],
    )
    .unwrap();
    assert!(matches!(
        vault.credential(&etl.id),
        Err(VaultError::CatalogEdited { .. })
    ));
    db.execute(
        "UPDATE credentials SET revoked_at = '2026-01-01T00:00:00Z' WHERE id = ?1",
        [&etl.id],
    )
    .unwrap();
    // alice's identity moved to the attacker's certificate
    db.execute(
        "UPDATE credentials SET digest = ?2 WHERE id = ?1",
        [&alice.id, &"f".repeat(64)],
    )
    .unwrap();
    assert!(matches!(
        vault.live_credentials(CredentialKind::Cert, &"f".repeat(64)),
        Err(VaultError::CatalogEdited { .. })
    ));
    // a credential inserted with no valid MAC
    db.execute(
        "INSERT INTO credentials (id, kind, subject, digest, created_at, created_by, revoked_at, mac) VALUES ('cr-forged', 'cert', 'cert:mallory', ?1, '2026-01-01', 'x', NULL, '00')",
        [&"e".repeat(64)],
    )
    .unwrap();
    assert!(vault.credentials().is_err());
    // a recorded version of the access rules edited
    db.execute(
        "UPDATE access_versions SET text = 'x' WHERE version = 1",
        [],
    )
    .unwrap();
    assert!(matches!(
        vault.access_versions(),
        Err(VaultError::CatalogEdited { .. })
    ));
}
