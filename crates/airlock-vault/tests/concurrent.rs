//! Several vaults open on one workspace at once (two people's CLI commands, the server's
//! operator beside the server): no reader ever sees a row without its MAC, and a key rotation
//! in one process never strands a data key another process wrapped meanwhile.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use airlock_core::keys::WorkspaceSecret;
use airlock_vault::{Actor, Vault, VaultError, Zone};

fn actor() -> Actor {
    Actor {
        name: "sam".into(),
        role: "steward".into(),
        purpose: "test".into(),
    }
}

fn open(dir: &std::path::Path) -> Vault {
    Vault::open(dir, WorkspaceSecret::load(&dir.join("secret")).unwrap()).unwrap()
}

#[test]
fn concurrent_puts_lists_and_rotations_lose_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join(".airlock");
    Vault::init(&dir, WorkspaceSecret::create(&dir.join("secret")).unwrap()).unwrap();
    let deadline = Instant::now() + Duration::from_millis(1500);
    let writers: Vec<_> = (0..6)
        .map(|t| {
            let dir = dir.clone();
            let scratch = tmp.path().join(format!("w{t}"));
            std::thread::spawn(move || {
                std::fs::create_dir_all(&scratch).unwrap();
                let vault = open(&dir);
                let mut stored = Vec::new();
                let mut i = 0;
                while Instant::now() < deadline {
                    i += 1;
                    let f = scratch.join("d.csv");
                    std::fs::write(&f, format!("a,b\n{t},{i}\n")).unwrap();
                    stored.push(vault.put(&f, Zone::Raw, None, &actor()).unwrap());
                    // a listing reads every row and checks every MAC
                    vault.list(&actor()).unwrap();
                }
                stored
            })
        })
        .collect();
    let rotator = {
        let dir = dir.clone();
        std::thread::spawn(move || {
            let vault = open(&dir);
            let mut n = 0;
            while Instant::now() < deadline {
                vault.rotate_keys(&actor()).unwrap();
                n += 1;
            }
            n
        })
    };
    let stored: Vec<_> = writers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    assert!(rotator.join().unwrap() > 0);
    assert!(stored.len() > 6);
    // every data key still opens: none was wrapped under a KEK a rotation destroyed
    let vault = open(&dir);
    for ds in &stored {
        let out = tmp.path().join("back.csv");
        match vault.get(&ds.id, &out, true, &actor()) {
            Ok(got) => assert_eq!(got.sha256, ds.sha256),
            Err(e @ VaultError::KekDestroyed(_)) => panic!("{} lost: {e}", ds.id),
            Err(e) => panic!("{}: {e}", ds.id),
        }
    }
    vault.verify_audit().unwrap();
}
