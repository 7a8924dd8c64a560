//! The load test (bounded, loopback): 32 concurrent clients, two authenticated identities,
//! doing put / get / ls / promote for AIRLOCK_LOAD_SECS seconds (5 by default; the benchmark
//! script runs 60). Nothing is lost (every acknowledged put is in the catalog and reads back
//! with its SHA-256), every operation is in the audit log with the identity that did it, and
//! the log verifies against the tree heads taken before and after.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use airlock_server::Error;

#[derive(Default)]
struct Counts {
    puts: AtomicU64,
    gets: AtomicU64,
    ls: AtomicU64,
    promotes_refused: AtomicU64,
}

#[test]
fn thirty_two_clients_lose_nothing_and_every_operation_is_audited() {
    let fx = common::Fixture::new(&[("alice", &["steward"]), ("bob", &["steward"])]);
    let first_head = fx.vault().verify_audit().unwrap().head.unwrap();
    let server = common::Server::start(&fx.ws);
    let secs: u64 = std::env::var("AIRLOCK_LOAD_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let deadline = Instant::now() + Duration::from_secs(secs);
    let counts = Arc::new(Counts::default());
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let threads: Vec<_> = (0..32)
        .map(|t| {
            let who = if t % 2 == 0 { "alice" } else { "bob" };
            let client = fx.client(server.addr, who);
            let counts = counts.clone();
            let acknowledged = acknowledged.clone();
            let scratch = fx.dir.path().join(format!("client-{t}"));
            std::fs::create_dir_all(&scratch).unwrap();
            std::thread::spawn(move || {
                let claim = common::claim("steward", "load-test");
                let mut i = 0u64;
                while Instant::now() < deadline {
                    i += 1;
                    let file = scratch.join("data.csv");
                    std::fs::write(&file, format!("id,value\n{t},{i}\n")).unwrap();
                    let ds = client.put(&file, "raw", "data.csv", &claim).unwrap();
                    counts.puts.fetch_add(1, Ordering::Relaxed);
                    acknowledged.lock().unwrap().push(ds.clone());
                    let back = scratch.join("back.csv");
                    let got = client.get(&ds.id, &back, true, &claim).unwrap();
                    assert_eq!(got.sha256, ds.sha256);
                    assert_eq!(
                        std::fs::read_to_string(&back).unwrap(),
                        format!("id,value\n{t},{i}\n")
                    );
                    counts.gets.fetch_add(1, Ordering::Relaxed);
                    if i.is_multiple_of(4) {
                        client.list().unwrap();
                        counts.ls.fetch_add(1, Ordering::Relaxed);
                    }
                    if i % 4 == 2 {
                        // raw data never enters deid by promotion: refused, and audited
                        match client.promote(&ds.id, "deid", &claim) {
                            Err(Error::Server { status: 409, .. }) => {
                                counts.promotes_refused.fetch_add(1, Ordering::Relaxed);
                            }
                            other => panic!("promote into deid: {other:?}"),
                        }
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    drop(server);

    let vault = fx.vault();
    let verified = vault.verify_audit().unwrap();
    let last_head = verified.head.clone().unwrap();
    let log = vault.audit().path().to_path_buf();
    let pk = vault.audit().public_key();
    airlock_vault::audit::verify_from(&log, &pk, &first_head).unwrap();
    airlock_vault::audit::verify_from(&log, &pk, &last_head).unwrap();

    let puts = counts.puts.load(Ordering::Relaxed);
    assert!(puts >= 32, "every client completed at least one put");
    // nothing lost: every acknowledged put is in the catalog as acknowledged
    let acknowledged = acknowledged.lock().unwrap();
    let all = vault.list(&common_actor()).unwrap();
    assert_eq!(all.len() as u64, puts);
    for ds in acknowledged.iter() {
        assert_eq!(vault.dataset(&ds.id).unwrap(), *ds);
    }
    // every operation audited, by the identity that did it
    let entries = vault.audit().entries().unwrap();
    let count = |action: &str, outcome: &str| {
        entries
            .iter()
            .filter(|e| e.event.action == action && e.event.outcome == outcome)
            .filter(|e| e.event.actor == "cert:alice" || e.event.actor == "cert:bob")
            .count() as u64
    };
    assert_eq!(count("put", "ok"), puts);
    assert_eq!(count("get", "ok"), counts.gets.load(Ordering::Relaxed));
    assert_eq!(count("ls", "ok"), counts.ls.load(Ordering::Relaxed));
    assert_eq!(
        count("promote:deid", "refused"),
        counts.promotes_refused.load(Ordering::Relaxed)
    );
    let ops = puts
        + counts.gets.load(Ordering::Relaxed)
        + counts.ls.load(Ordering::Relaxed)
        + counts.promotes_refused.load(Ordering::Relaxed);
    eprintln!(
        "load: {ops} operations by 32 clients in {secs} s ({puts} puts), log of {} entries verifies against both heads",
        verified.entries
    );
}

fn common_actor() -> airlock_vault::Actor {
    airlock_vault::Actor {
        name: "operator".into(),
        role: "steward".into(),
        purpose: "check".into(),
    }
}
