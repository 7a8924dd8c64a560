//! End-to-end tests of `airlock fl`: real processes on loopback (a coordinator and one
//! process per site, mutual TLS with the federation CA's certificates), on the adult table.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use airlock_fl::ca::Registry;
use airlock_fl::local::LocalData;
use airlock_fl::spec::Spec;
use airlock_fl::task::{self, RoundKind};
use airlock_fl::wire::RoundRecord;
use airlock_train::data::Table;
use common::{Proc, adult, airlock};
use serde_json::Value;

/// One federation at a time: each is a coordinator and several site processes, and they
/// answer in time more surely when they do not share the two cores with another.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn simulate(dir: &Path, args: &[&str]) -> Value {
    let out = airlock(dir)
        .args([
            "--json",
            "fl",
            "simulate",
            "--data",
            "adult.csv",
            "--target",
            "salary-class",
            "--positive",
            ">50K",
            "--split-by",
            "workclass",
        ])
        .args(args)
        .output()
        .unwrap();
    let fed = args
        .iter()
        .position(|a| *a == "--dir")
        .map(|i| dir.join(args[i + 1]));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        fed.map(|f| what_the_processes_said(&f)).unwrap_or_default()
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// What every process of a simulated federation said: stderr, and each site's events.
fn what_the_processes_said(fed: &Path) -> String {
    let mut said = String::new();
    let mut files: Vec<_> = std::fs::read_dir(fed)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "err" || x == "out"))
        .collect();
    files.sort();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap_or_default();
        said.push_str(&format!(
            "--- {}:\n{}\n",
            f.display(),
            common::last_chars(&text, 3000)
        ));
    }
    said
}

fn records(fed: &Path) -> Vec<RoundRecord> {
    std::fs::read_to_string(fed.join("coordinator/out/rounds.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Each site's rows as its own table, as `fl simulate` split them.
fn slices(table: &Table, sites: usize) -> Vec<Table> {
    let (parts, _) = airlock_fl::simulate::split(table, "workclass", sites).unwrap();
    parts
        .iter()
        .map(|rows| Table {
            names: table.names.clone(),
            columns: table
                .columns
                .iter()
                .map(|c| rows.iter().map(|&r| c[r].clone()).collect())
                .collect(),
            rows: rows.len(),
        })
        .collect()
}

/// What each site of `names` puts into round `round` from the global `before`, recomputed
/// here from its rows: its update (FedAvg's input without DP) and the vector it would send
/// without masks.
fn inputs(
    spec: &Spec,
    before: &[f64],
    round: u64,
    names: &[String],
    ids: &BTreeMap<String, u32>,
    data: &[Table],
) -> Vec<Vec<f64>> {
    names
        .iter()
        .map(|n| {
            let id = ids[n];
            let local = LocalData::encode(&data[(id - 1) as usize], &spec.encoding).unwrap();
            let (u, examples) = task::site_update(spec, before, &local, round, id).unwrap();
            task::site_input(spec, None, &u, examples, &mut || 0.0)
        })
        .collect()
}

/// Five sites, one killed with SIGKILL in the middle round (trained, its input not sent): that round
/// completes without it, and every round's aggregate is plain FedAvg of the sites whose input
/// it holds, recomputed here from their rows, to 1e-6. What the coordinator received from
/// each site (its SHA-256, in the round log) is never the site's unmasked input; without
/// secure aggregation it is, so the comparison can tell.
#[test]
fn a_site_killed_mid_round_is_dropped_and_the_aggregate_is_fedavg_of_the_rest() {
    let _one = one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let data = adult(dir.path());
    let table = Table::read(&data).unwrap();
    let parts = slices(&table, 5);
    for (secure, fed) in [(true, "secure"), (false, "plain")] {
        let mut args = vec!["--sites", "5", "--rounds", "4", "--dir", fed];
        if secure {
            args.extend(["--secure-agg", "--kill-site", "2"]);
        }
        let out = simulate(dir.path(), &args);
        let fed = dir.path().join(fed);
        let spec =
            Spec::from_json(&std::fs::read_to_string(fed.join("spec.json")).unwrap()).unwrap();
        assert_eq!(spec.secure_aggregation, secure);
        assert_eq!(out["failed"], serde_json::json!([]), "{out}");
        let ids: BTreeMap<String, u32> = Registry::load(&fed.join("ca"))
            .unwrap()
            .sites
            .into_iter()
            .map(|s| (s.name, s.id))
            .collect();
        let recs = records(&fed);
        let train: Vec<&RoundRecord> = recs.iter().filter(|r| r.kind == RoundKind::Train).collect();
        assert_eq!(train.len(), 4);
        assert!(
            recs.iter().all(|r| r.outcome == "done"),
            "{recs:?}\n{out}\n{}",
            what_the_processes_said(&fed)
        );
        if secure {
            assert_eq!(out["killed"], "site-2");
            // killed in round 2 before its input went out: the round completed without it
            assert_eq!(train[1].dropped, vec!["site-2".to_string()]);
            assert_eq!(train[1].sites.len(), 4);
            assert!(
                train[2..]
                    .iter()
                    .all(|r| !r.sites.contains(&"site-2".to_string()))
            );
        } else {
            assert!(train.iter().all(|r| r.sites.len() == 5));
        }
        let mut before = spec.initial_model().params;
        for r in &train {
            let x = inputs(&spec, &before, r.round, &r.sites, &ids, &parts);
            let sum: Vec<f64> = (0..x[0].len())
                .map(|k| x.iter().map(|v| v[k]).sum())
                .collect();
            let mean = airlock_fl::fedavg::weighted_mean(&sum).unwrap();
            let after =
                airlock_fl::simulate::round_params(&fed.join("coordinator/out"), r.round).unwrap();
            for ((b, m), a) in before.iter().zip(&mean).zip(&after) {
                assert!(
                    (b + m - a).abs() < 1e-6,
                    "round {}: {} vs {a}",
                    r.round,
                    b + m
                );
            }
            // what the coordinator received, against each site's input in the clear
            let q = task::quantizer(
                &spec,
                None,
                RoundKind::Train,
                r.sites.len() + r.dropped.len(),
            );
            for (name, input) in r.sites.iter().zip(&x) {
                let clear = task::input_sha256(&q.encode(input));
                assert_eq!(
                    r.received[name] == clear,
                    !secure,
                    "round {} {name}",
                    r.round
                );
            }
            before = after;
        }
        // the final model scores on the held-out rows, and is in the coordinator's registry
        assert!(out["accuracy"].as_f64().unwrap() > 0.78, "{out}");
        let listed = airlock(&fed.join("coordinator"))
            .args(["--json", "vault", "ls"])
            .env("AIRLOCK_ROLE", "engineer")
            .env("AIRLOCK_PURPOSE", "model-training")
            .output()
            .unwrap();
        let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
        let model = listed["datasets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["name"].as_str().unwrap().starts_with("fl-"))
            .expect("the model is registered");
        assert_eq!(model["zone"], "dev");
    }
}

/// Client-level DP: epsilon is reported per round, grows, and ends at the budget asked for;
/// each round and the registered model are in the coordinator's audit log, which verifies.
#[test]
fn client_level_dp_spends_the_budget_and_every_round_is_audited() {
    let _one = one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    adult(dir.path());
    let out = simulate(
        dir.path(),
        &[
            "--sites",
            "3",
            "--rounds",
            "3",
            "--epsilon",
            "4",
            "--dir",
            "fed",
        ],
    );
    let eps: Vec<f64> = out["rounds"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["epsilon"].as_f64())
        .collect();
    assert_eq!(eps.len(), 3, "{out}");
    assert!(eps.windows(2).all(|w| w[0] < w[1]), "{eps:?}");
    assert!((eps[2] - 4.0).abs() < 0.05, "{eps:?}");
    let model: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("fed/coordinator/out/model.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(model["privacy"]["level"], "client");
    assert_eq!(model["sites"].as_array().unwrap().len(), 3);
    let coord = dir.path().join("fed/coordinator");
    let verify = airlock(&coord)
        .args(["--json", "audit", "verify"])
        .output()
        .unwrap();
    assert_eq!(
        verify.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
    let log = std::fs::read_to_string(coord.join(".airlock/audit.log")).unwrap();
    assert_eq!(
        log.matches("\"fl:round\"").count(),
        4,
        "a drift round and three training rounds"
    );
    assert_eq!(log.matches("\"fl:model\"").count(), 1);
    // the model's signed statement verifies with the coordinator's workspace key; the card
    // shows the epsilon spent
    let verify = airlock(&coord)
        .args(["lineage", "verify", "out/model.json"])
        .output()
        .unwrap();
    assert_eq!(verify.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&verify.stdout).contains("federation of 3 site(s)"));
    let card = std::fs::read_to_string(coord.join("out/model-card.html")).unwrap();
    assert!(
        card.contains(&format!("epsilon <b>{:.3}</b>", eps[2])),
        "{card}"
    );
    // the registry's model gate judges it too: with no membership attack run on it (the
    // coordinator holds no rows), the default access rules keep it out of staging
    let listed: Value = serde_json::from_slice(
        &airlock(&coord)
            .args(["--json", "vault", "ls"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let id = listed["datasets"][0]["id"].as_str().unwrap().to_owned();
    let promote = airlock(&coord)
        .args([
            "vault", "promote", &id, "--to", "staging", "--role", "steward",
        ])
        .args(["--purpose", "release"])
        .output()
        .unwrap();
    assert_eq!(promote.status.code(), Some(2), "{promote:?}");
    assert!(String::from_utf8_lossy(&promote.stderr).contains("no membership attack"));
    // each site recorded its own rounds
    let site = std::fs::read_to_string(dir.path().join("fed/site-1/.airlock/audit.log")).unwrap();
    assert!(site.matches("\"fl:round\"").count() >= 3);
}

fn run_site(dir: &Path, config: &Path) -> (Option<i32>, String) {
    let out = airlock(dir)
        .args(["fl", "site", "--config"])
        .arg(config)
        .args(["--workspace", "site"])
        .timeout(std::time::Duration::from_secs(120))
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A site with a certificate from another CA, a revoked site and a site that pinned another
/// spec are refused; two sites of a federation that needs three: every round aborts and no
/// model is made.
#[test]
fn strangers_revoked_sites_and_changed_specs_are_refused_and_short_rounds_abort() {
    let _one = one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    adult(d);
    let ok = |args: &[&str]| {
        let out = airlock(d).args(args).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    ok(&["fl", "ca", "init", "--dir", "ca", "--host", "127.0.0.1"]);
    ok(&[
        "fl",
        "ca",
        "init",
        "--dir",
        "other-ca",
        "--host",
        "127.0.0.1",
    ]);
    for s in ["site-1", "site-2", "site-3", "site-4"] {
        ok(&["fl", "ca", "issue", s, "--dir", "ca", "--out", "certs"]);
    }
    ok(&[
        "fl", "ca", "issue", "site-1", "--dir", "other-ca", "--out", "stranger",
    ]);
    ok(&["fl", "ca", "revoke", "site-4", "--dir", "ca"]);
    let spec: Value = serde_json::from_str(&ok(&[
        "--json",
        "fl",
        "spec",
        "--data",
        "adult.csv",
        "--target",
        "salary-class",
        "--positive",
        ">50K",
        "--features",
        "age,sex,education",
        "--rounds",
        "2",
        "--min-sites",
        "3",
        "-o",
        "spec.json",
    ]))
    .unwrap();
    let sha = spec["spec_sha256"].as_str().unwrap().to_owned();
    // one workspace holds the data every test site reads
    ok(&["init", "--dir", "site"]);
    let put: Value = serde_json::from_str(&ok(&[
        "--json",
        "vault",
        "put",
        "adult.csv",
        "--zone",
        "raw",
        "--role",
        "steward",
        "--purpose",
        "model-training",
        "--key-file",
        "site/.airlock/secret",
    ]))
    .unwrap();
    let dataset = put["dataset"]["id"].as_str().unwrap().to_owned();
    ok(&["init", "--dir", "coord"]);
    std::fs::write(
        d.join("fl.toml"),
        "spec = \"spec.json\"\nca = \"ca\"\nlisten = \"127.0.0.1:0\"\nout = \"out\"\njoin_timeout_s = 3\nphase_timeout_s = 3\n",
    )
    .unwrap();
    let (coordinator, url) = Proc::serve(
        d,
        "coordinator",
        &[
            "fl",
            "coordinator",
            "--config",
            "fl.toml",
            "--workspace",
            "coord",
        ],
    );
    let site_toml = |name: &str, certs: &str, pinned: &str| {
        let path = d.join(format!("{name}-{certs}.toml"));
        std::fs::write(
            &path,
            format!(
                "coordinator = \"{}\"\nca = \"ca/ca.pem\"\ncert = \"{certs}/{name}.pem\"\nkey = \"{certs}/{name}.key\"\nspec_sha256 = \"{pinned}\"\ndataset = \"{dataset}\"\nrole = \"steward\"\n",
                url.trim()
            ),
        )
        .unwrap();
        path
    };
    // a certificate from another CA: the handshake fails, at once
    let (code, err) = run_site(d, &site_toml("site-1", "stranger", &sha));
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("UnknownCA"), "{err}");
    // a revoked certificate: the same
    let (code, err) = run_site(d, &site_toml("site-4", "certs", &sha));
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("CertificateRevoked"), "{err}");
    // a site that agreed to another spec refuses the coordinator's
    let other = "0".repeat(64);
    let (code, err) = run_site(d, &site_toml("site-3", "certs", &other));
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("refused"), "{err}");
    // two sites of the three a round needs: both rounds abort, no model
    let a = site_toml("site-1", "certs", &sha);
    let b = site_toml("site-2", "certs", &sha);
    let handles: Vec<_> = [a, b]
        .into_iter()
        .map(|c| {
            let d = d.to_path_buf();
            std::thread::spawn(move || run_site(&d, &c))
        })
        .collect();
    for h in handles {
        let (code, err) = h.join().unwrap();
        assert_eq!(code, Some(0), "{err}");
    }
    let status = {
        let mut c = coordinator;
        let start = std::time::Instant::now();
        loop {
            if let Some(s) = c.0.try_wait().unwrap() {
                break s;
            }
            assert!(
                start.elapsed().as_secs() < 60,
                "the coordinator did not end"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    };
    assert_eq!(status.code(), Some(1));
    let recs: Vec<RoundRecord> = std::fs::read_to_string(d.join("out/rounds.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let train: Vec<&RoundRecord> = recs.iter().filter(|r| r.kind == RoundKind::Train).collect();
    assert_eq!(train.len(), 2);
    assert!(
        recs.iter()
            .all(|r| r.outcome == "aborted" && r.update_sha256.is_none()),
        "{recs:?}"
    );
    assert!(!d.join("out/model.json").exists());
}
