//! End-to-end tests of `airlock init`, `airlock vault` and `airlock audit`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use predicates::prelude::*;

mod common;
use common::{airlock, set_mode};

const SECRET_ROW: &str = "Ann Okafor,123-45-6789";

fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    airlock(dir.path()).arg("init").assert().success();
    std::fs::write(
        dir.path().join("raw.csv"),
        format!("name,ssn\n{SECRET_ROW}\n"),
    )
    .unwrap();
    dir
}

fn put(dir: &Path, zone: &str) -> String {
    let out = airlock(dir)
        .args([
            "vault",
            "put",
            "--zone",
            zone,
            "raw.csv",
            "--role",
            "steward",
            "--purpose",
            "ingest",
            "--json",
        ])
        .assert()
        .success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    v["dataset"]["id"].as_str().unwrap().to_owned()
}

#[test]
fn init_creates_the_vault_and_objects_are_encrypted() {
    let ws = workspace();
    let d = ws.path();
    for f in [
        "secret",
        "catalog.db",
        "audit.log",
        "access.toml",
        "objects",
    ] {
        assert!(d.join(".airlock").join(f).exists(), "{f}");
    }
    let id = put(d, "raw");
    let object = std::fs::read(d.join(".airlock/objects").join(format!("{id}.alv"))).unwrap();
    assert!(
        !String::from_utf8_lossy(&object).contains("Okafor"),
        "objects are ciphertext"
    );
    airlock(d)
        .args([
            "vault",
            "get",
            &id,
            "-o",
            "back.csv",
            "--role",
            "steward",
            "--purpose",
            "audit",
        ])
        .assert()
        .success();
    assert!(
        std::fs::read_to_string(d.join("back.csv"))
            .unwrap()
            .contains(SECRET_ROW)
    );
    airlock(d)
        .args(["vault", "ls"])
        .assert()
        .success()
        .stdout(predicate::str::contains(&id))
        .stdout(predicate::str::contains("Okafor").not());
}

#[test]
fn roles_and_purposes_are_enforced_and_refusals_audited() {
    let ws = workspace();
    let d = ws.path();
    let id = put(d, "raw");
    airlock(d)
        .args([
            "vault",
            "get",
            &id,
            "-o",
            "x.csv",
            "--role",
            "analyst",
            "--purpose",
            "research",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("may not get zone raw"))
        .stderr(predicate::str::contains("access.toml"));
    assert!(!d.join("x.csv").exists());
    airlock(d)
        .args([
            "vault",
            "put",
            "--zone",
            "prod",
            "raw.csv",
            "--role",
            "engineer",
            "--purpose",
            "research",
        ])
        .assert()
        .code(2);
    let out = airlock(d)
        .args(["audit", "show", "--dataset", &id, "--json"])
        .assert()
        .success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let outcomes: Vec<&str> = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["outcome"].as_str().unwrap())
        .collect();
    assert!(outcomes.contains(&"denied"), "{outcomes:?}");
    let log = std::fs::read_to_string(d.join(".airlock/audit.log")).unwrap();
    assert!(
        !log.contains("Okafor") && !log.contains("123-45"),
        "no data in the log"
    );
}

#[test]
fn shredded_datasets_are_gone_for_good() {
    let ws = workspace();
    let d = ws.path();
    let id = put(d, "raw");
    airlock(d)
        .args([
            "vault",
            "shred",
            &id,
            "--role",
            "steward",
            "--purpose",
            "retention",
        ])
        .assert()
        .success();
    assert!(
        !d.join(".airlock/objects")
            .join(format!("{id}.alv"))
            .exists()
    );
    airlock(d)
        .args([
            "vault",
            "get",
            &id,
            "-o",
            "y.csv",
            "--role",
            "steward",
            "--purpose",
            "audit",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("shredded"));
    airlock(d)
        .args(["vault", "ls"])
        .assert()
        .stdout(predicate::str::contains("(shredded)"));
}

#[test]
fn tampered_objects_and_wrong_secrets_give_no_plaintext() {
    let ws = workspace();
    let d = ws.path();
    let id = put(d, "raw");
    let object = d.join(".airlock/objects").join(format!("{id}.alv"));
    let original = std::fs::read(&object).unwrap();
    // truncated
    std::fs::write(&object, &original[..original.len() - 3]).unwrap();
    airlock(d)
        .args([
            "vault",
            "get",
            &id,
            "-o",
            "t.csv",
            "--role",
            "steward",
            "--purpose",
            "audit",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("failed authentication"));
    assert!(!d.join("t.csv").exists(), "no plaintext output on failure");
    std::fs::write(&object, &original).unwrap();
    // another workspace secret
    let other = d.join("other.key");
    std::fs::write(&other, [7u8; 32]).unwrap();
    set_mode(&other, 0o600);
    airlock(d)
        .args([
            "vault",
            "get",
            &id,
            "-o",
            "t.csv",
            "--role",
            "steward",
            "--purpose",
            "audit",
            "--key-file",
        ])
        .arg(&other)
        .assert()
        .code(2);
    assert!(!d.join("t.csv").exists());
}

#[test]
fn audit_verify_names_the_first_bad_entry() {
    let ws = workspace();
    let d = ws.path();
    put(d, "raw");
    put(d, "raw");
    airlock(d)
        .args(["audit", "verify"])
        .assert()
        .success()
        .stdout(predicate::str::contains("verifies"));
    let log = d.join(".airlock/audit.log");
    let text = std::fs::read_to_string(&log).unwrap();
    // an edit in the third entry: the actor's role changed
    let lines: Vec<&str> = text.lines().collect();
    let mut edited: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
    edited[2] = edited[2].replace("\"steward\"", "\"analyst\"");
    assert_ne!(edited[2], lines[2]);
    std::fs::write(&log, edited.join("\n") + "\n").unwrap();
    airlock(d)
        .args(["audit", "verify"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("entry 4").or(predicate::str::contains("entry 3")));
    // truncation of the tail is caught against the catalog's record of the head
    std::fs::write(&log, lines[..lines.len() - 2].join("\n") + "\n").unwrap();
    airlock(d)
        .args(["audit", "verify"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("cut"));
    // the public key verifies elsewhere
    std::fs::write(&log, text).unwrap();
    let pk = airlock(d).args(["audit", "pubkey"]).assert().success();
    let pk = String::from_utf8(pk.get_output().stdout.clone()).unwrap();
    airlock(d)
        .args(["audit", "verify", "--public-key", pk.trim()])
        .assert()
        .success();
}

#[test]
fn a_world_readable_secret_is_refused() {
    let ws = workspace();
    let d = ws.path();
    set_mode(&d.join(".airlock/secret"), 0o644);
    airlock(d)
        .args(["vault", "ls"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("can be read by other users"));
}

fn steward(dir: &Path, args: &[&str]) -> assert_cmd::assert::Assert {
    airlock(dir)
        .args(args)
        .env("AIRLOCK_ROLE", "steward")
        .env("AIRLOCK_PURPOSE", "release")
        .assert()
}

/// Puts the patients fixture into raw (with its policy beside it); returns its id.
fn put_fixture(d: &Path) -> String {
    for f in ["patients.csv", "policy.toml"] {
        std::fs::copy(common::fixtures().join(f), d.join(f)).unwrap();
    }
    let out = steward(
        d,
        &["vault", "put", "--zone", "raw", "patients.csv", "--json"],
    )
    .success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    v["dataset"]["id"].as_str().unwrap().to_owned()
}

/// `vault deid` of raw dataset `raw` under the fixture's policy; returns the run's JSON.
fn vault_deid(d: &Path, raw: &str) -> serde_json::Value {
    let out = steward(
        d,
        &["vault", "deid", raw, "--policy", "policy.toml", "--json"],
    )
    .success();
    serde_json::from_slice(&out.get_output().stdout).unwrap()
}

#[test]
fn data_moves_toward_prod_only_through_deid_scans_and_approvals() {
    let ws = workspace();
    let d = ws.path();
    let raw = put_fixture(d);
    // nothing enters deid except through a deid run, nor dev, staging or prod but by promote
    steward(d, &["vault", "put", "--zone", "deid", "patients.csv"])
        .code(2)
        .stderr(predicate::str::contains("airlock vault deid"));
    for zone in ["dev", "staging", "prod"] {
        steward(d, &["vault", "put", "--zone", zone, "patients.csv"])
            .code(2)
            .stderr(predicate::str::contains("airlock vault promote"));
    }
    steward(d, &["vault", "promote", &raw, "--to", "deid"]).code(2);
    let v = vault_deid(d, &raw);
    let de = v["dataset"]["id"].as_str().unwrap().to_owned();
    assert_eq!(v["dataset"]["zone"], "deid");
    assert_eq!(v["manifest"]["findings"]["total"], 0);
    // an analyst reads the deid zone, but never the note column (deny_columns)
    airlock(d)
        .args([
            "vault",
            "get",
            &de,
            "-o",
            "analyst.csv",
            "--role",
            "analyst",
            "--purpose",
            "research",
        ])
        .assert()
        .success();
    let header = std::fs::read_to_string(d.join("analyst.csv")).unwrap();
    let header = header.lines().next().unwrap();
    assert!(
        header.contains("hba1c") && !header.contains("note"),
        "{header}"
    );
    steward(d, &["vault", "get", &de, "-o", "steward.csv"]).success();
    assert!(
        std::fs::read_to_string(d.join("steward.csv"))
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .contains("note")
    );
    // one zone at a time; the scan gate into dev passes on a clean deid output
    steward(d, &["vault", "promote", &de, "--to", "staging"])
        .code(2)
        .stderr(predicate::str::contains("one zone at a time"));
    steward(d, &["vault", "promote", &de, "--to", "dev"]).success();
    // approvals from distinct actors
    steward(d, &["vault", "promote", &de, "--to", "staging"])
        .code(2)
        .stderr(predicate::str::contains("needs 1 approvals"));
    // whoever made the dataset cannot approve its release
    let ls = steward(d, &["vault", "ls", "--json"]).success();
    let ls: serde_json::Value = serde_json::from_slice(&ls.get_output().stdout).unwrap();
    let creator = ls["datasets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == de.as_str())
        .unwrap()["created_by"]
        .as_str()
        .unwrap()
        .to_owned();
    steward(d, &["approve", &de, "--to", "staging", "--actor", &creator])
        .code(2)
        .stderr(predicate::str::contains("created it"));
    steward(d, &["approve", &de, "--to", "staging", "--actor", "bob"]).success();
    steward(d, &["vault", "promote", &de, "--to", "staging"]).success();
    steward(d, &["approve", &de, "--to", "prod", "--actor", "alice"]).success();
    steward(d, &["approve", &de, "--to", "prod", "--actor", "alice"]).success();
    steward(d, &["vault", "promote", &de, "--to", "prod"])
        .code(2)
        .stderr(predicate::str::contains("it has 1"));
    steward(d, &["approve", &de, "--to", "prod", "--actor", "carol"]).success();
    steward(d, &["vault", "promote", &de, "--to", "prod"]).success();
    // a policy that keeps phone numbers leaves identifiers: nothing is stored in deid
    let policy = std::fs::read_to_string(d.join("policy.toml")).unwrap();
    let leaky = policy.replacen("[fields.phone]\nclass = \"direct_identifier\"\naction = \"redact\"\nreplacement = \"[PHONE]\"", "[fields.phone]\nclass = \"operational\"\naction = \"keep\"", 1);
    assert_ne!(leaky, policy, "the fixture policy redacts phones");
    std::fs::write(d.join("leaky.toml"), leaky).unwrap();
    steward(d, &["vault", "deid", &raw, "--policy", "leaky.toml"])
        .code(1)
        .stdout(predicate::str::contains("nothing was stored"));
    airlock(d).args(["audit", "verify"]).assert().success();
}

#[test]
fn retention_shreds_what_has_expired() {
    let ws = workspace();
    let d = ws.path();
    let rules = std::fs::read_to_string(d.join(".airlock/access.toml")).unwrap();
    std::fs::write(
        d.join(".airlock/access.toml"),
        rules.replace("raw = 365", "raw = 0"),
    )
    .unwrap();
    let id = put(d, "raw");
    // a de-identified copy of another raw dataset: the deid zone has no retention here
    let source = put_fixture(d);
    let keep = vault_deid(d, &source)["dataset"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // a role that may not shred raw data applies no retention
    airlock(d)
        .args([
            "retention",
            "apply",
            "--role",
            "analyst",
            "--purpose",
            "research",
        ])
        .assert()
        .code(2);
    steward(d, &["vault", "get", &id, "-o", "a0.csv"]).success();
    steward(d, &["retention", "apply", "--dry-run"])
        .success()
        .stdout(predicate::str::contains(format!("would shred {id}")));
    steward(d, &["vault", "get", &id, "-o", "a.csv"]).success();
    steward(d, &["retention", "apply"])
        .success()
        .stdout(predicate::str::contains(format!("shredded {id}")));
    steward(d, &["vault", "get", &id, "-o", "b.csv"]).code(2);
    steward(d, &["vault", "get", &keep, "-o", "c.csv"]).success();
}

#[test]
fn deid_outputs_carry_a_signed_statement_that_walks_back_to_raw() {
    let ws = workspace();
    let d = ws.path();
    for f in ["patients.csv", "policy.toml"] {
        std::fs::copy(common::fixtures().join(f), d.join(f)).unwrap();
    }
    steward(d, &["vault", "put", "--zone", "raw", "patients.csv"]).success();
    airlock(d)
        .args([
            "deid",
            "--policy",
            "policy.toml",
            "patients.csv",
            "-o",
            "out.csv",
        ])
        .assert()
        .success();
    let statement = std::fs::read_to_string(d.join("out.csv.intoto.json")).unwrap();
    assert!(statement.contains("application/vnd.in-toto+json"));
    assert!(!statement.contains("123-45"), "no data in the statement");
    airlock(d)
        .args(["lineage", "verify", "out.csv"])
        .assert()
        .success()
        .stdout(predicate::str::contains("verifies"));
    airlock(d)
        .args(["lineage", "show", "out.csv"])
        .assert()
        .success()
        .stdout(predicate::str::contains("patients.csv"))
        .stdout(predicate::str::contains("in zone raw"));
    // the audit log has the run
    airlock(d)
        .args(["audit", "show"])
        .assert()
        .stdout(predicate::str::contains("deid"));
    // another workspace's key does not verify it
    airlock(d)
        .args([
            "lineage",
            "verify",
            "out.csv",
            "--public-key",
            &"ab".repeat(32),
        ])
        .assert()
        .code(predicate::in_iter([1, 2]));
    // an edited output or an edited statement fails
    let original = std::fs::read(d.join("out.csv")).unwrap();
    std::fs::write(d.join("out.csv"), [&original[..], b"x"].concat()).unwrap();
    airlock(d)
        .args(["lineage", "verify", "out.csv"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("does not match"));
    std::fs::write(d.join("out.csv"), &original).unwrap();
    let forged = statement.replacen("\"sig\": \"", "\"sig\": \"AAAA", 1);
    std::fs::write(d.join("out.csv.intoto.json"), forged).unwrap();
    airlock(d)
        .args(["lineage", "verify", "out.csv"])
        .assert()
        .code(1);
}

/// A `vault put` killed mid-write leaves every catalog entry with its object, a log that
/// verifies, and the input untouched.
#[test]
fn sigkill_during_put_leaves_catalog_and_objects_consistent() {
    use std::time::{Duration, Instant};
    let ws = workspace();
    let d = ws.path();
    {
        use std::io::Write;
        let mut f = std::io::BufWriter::new(std::fs::File::create(d.join("big.bin")).unwrap());
        let block: Vec<u8> = (0..1 << 20)
            .map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        for _ in 0..192 {
            f.write_all(&block).unwrap();
        }
    }
    let before = airlock_core::output::digest_file(&d.join("big.bin")).unwrap();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("airlock"))
        .current_dir(d)
        .args([
            "vault",
            "put",
            "--zone",
            "raw",
            "big.bin",
            "--role",
            "steward",
            "--purpose",
            "ingest",
        ])
        .env_remove("AIRLOCK_KEY_FILE")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let objects = d.join(".airlock/objects");
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let partial = std::fs::read_dir(&objects).unwrap().any(|e| {
            let e = e.unwrap();
            e.file_name().to_string_lossy().ends_with(".airlock-tmp")
                && e.metadata().map(|m| m.len() > 0).unwrap_or(false)
        });
        if partial || child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(
        airlock_core::output::digest_file(&d.join("big.bin")).unwrap(),
        before
    );
    let out = airlock(d)
        .args(["vault", "ls", "--json"])
        .assert()
        .success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    for ds in v["datasets"].as_array().unwrap() {
        let id = ds["id"].as_str().unwrap();
        assert!(
            objects.join(format!("{id}.alv")).exists(),
            "catalog entry {id} without its object"
        );
        steward(d, &["vault", "get", id, "-o", "back.bin", "--force"]).success();
    }
    airlock(d).args(["audit", "verify"]).assert().success();
    // the vault still works
    steward(d, &["vault", "put", "--zone", "raw", "raw.csv"]).success();
}

#[test]
fn orphans_of_killed_puts_are_swept_once_old() {
    let ws = workspace();
    let d = ws.path();
    let id = put(d, "raw");
    let objects = d.join(".airlock/objects");
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    for name in ["ds-orphan.alv", ".ds-x.alv.123.airlock-tmp"] {
        let f = std::fs::File::create(objects.join(name)).unwrap();
        f.set_modified(old).unwrap();
    }
    std::fs::write(objects.join("ds-young.alv"), b"in progress").unwrap();
    airlock(d).args(["vault", "ls"]).assert().success();
    assert!(!objects.join("ds-orphan.alv").exists());
    assert!(!objects.join(".ds-x.alv.123.airlock-tmp").exists());
    assert!(
        objects.join("ds-young.alv").exists(),
        "a young file may be a put in progress"
    );
    assert!(
        objects.join(format!("{id}.alv")).exists(),
        "catalogued objects stay"
    );
}

fn audit_pubkey(dir: &Path) -> String {
    let out = airlock(dir).args(["audit", "pubkey"]).assert().success();
    String::from_utf8(out.get_output().stdout.clone())
        .unwrap()
        .trim()
        .to_owned()
}

/// Verifies `log` outside any workspace (from `elsewhere`), with `head` when given.
fn verify_elsewhere(
    elsewhere: &Path,
    log: &Path,
    pk: &str,
    head: Option<&Path>,
) -> assert_cmd::assert::Assert {
    let mut cmd = airlock(elsewhere);
    cmd.args(["audit", "verify", "--public-key", pk, "--log"])
        .arg(log);
    if let Some(h) = head {
        cmd.arg("--head").arg(h);
    }
    cmd.assert()
}

/// The audit log is a Merkle tree with signed heads: a head exported to a witness catches a log
/// rewritten and re-signed whole by someone who holds the workspace secret, a log cut below it,
/// and entries added without the key; the log verifies outside any workspace with only the
/// public key.
#[test]
fn an_exported_tree_head_catches_a_rewritten_resigned_or_cut_log() {
    use airlock_core::keys::{Purpose, WorkspaceSecret};
    use airlock_vault::audit::{AuditLog, Entry};
    let ws = workspace();
    let d = ws.path();
    put(d, "raw");
    put(d, "raw");
    let witness = tempfile::tempdir().unwrap();
    let head = witness.path().join("head.json");
    airlock(d)
        .args(["audit", "head", "--export"])
        .arg(&head)
        .assert()
        .success()
        .stdout(predicate::str::contains("wrote the tree head"));
    put(d, "raw");
    let pk = audit_pubkey(d);
    let log = d.join(".airlock/audit.log");
    let original = std::fs::read_to_string(&log).unwrap();
    // outside the workspace, with the key and the head only
    verify_elsewhere(witness.path(), &log, &pk, Some(&head))
        .success()
        .stdout(predicate::str::contains("extends the tree head"));
    // --log needs the key the verifier trusts
    airlock(witness.path())
        .args(["audit", "verify", "--log"])
        .arg(&log)
        .assert()
        .code(2);

    // the insider with the secret rewrites entry 1 (who put the first dataset) and re-signs
    // the whole log with the workspace's own key: it verifies on its own, not against the head
    let entries: Vec<Entry> = original
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let secret = WorkspaceSecret::load(&d.join(".airlock/secret")).unwrap();
    let forged = witness.path().join("forged.log");
    let resign = AuditLog::new(&forged, &secret.derive(Purpose::AuditHeads));
    let mut batch = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        if e.event.action == "checkpoint" {
            resign.append(&batch).unwrap();
            batch.clear();
        } else {
            let mut event = e.event.clone();
            if i == 0 {
                event.actor = "someone-else".into();
            }
            batch.push(event);
        }
    }
    verify_elsewhere(witness.path(), &forged, &pk, None).success();
    verify_elsewhere(witness.path(), &forged, &pk, Some(&head))
        .code(1)
        .stdout(predicate::str::contains("does not extend"));

    // cut below the head (whole batches, so what is left is signed)
    let cut: String = original.lines().take(2).map(|l| format!("{l}\n")).collect();
    std::fs::write(&log, &cut).unwrap();
    verify_elsewhere(witness.path(), &log, &pk, None).success();
    verify_elsewhere(witness.path(), &log, &pk, Some(&head))
        .code(1)
        .stdout(predicate::str::contains("cut"));

    // an entry added without the key: it chains, but no signed head covers it
    let last: Entry = serde_json::from_str(original.lines().last().unwrap()).unwrap();
    let added = Entry {
        seq: last.seq + 1,
        time: last.time.clone(),
        event: airlock_vault::audit::Event {
            actor: "someone".into(),
            action: "get".into(),
            outcome: "ok".into(),
            ..Default::default()
        },
        prev: airlock_vault::audit::line_hash(original.lines().last().unwrap().as_bytes()),
        tree_size: None,
        root: None,
        frontier: None,
        signature: None,
    };
    std::fs::write(
        &log,
        format!("{original}{}\n", serde_json::to_string(&added).unwrap()),
    )
    .unwrap();
    airlock(d)
        .args(["audit", "verify"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("unsigned tail"));

    // two entries swapped
    let mut lines: Vec<&str> = original.lines().collect();
    lines.swap(0, 1);
    std::fs::write(&log, lines.join("\n") + "\n").unwrap();
    verify_elsewhere(witness.path(), &log, &pk, Some(&head)).code(1);

    // a head whose root was edited is not the signed one
    std::fs::write(&log, &original).unwrap();
    let mut h: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&head).unwrap()).unwrap();
    h["tree_size"] = serde_json::json!(1);
    std::fs::write(&head, h.to_string()).unwrap();
    verify_elsewhere(witness.path(), &log, &pk, Some(&head))
        .code(1)
        .stdout(predicate::str::contains("not signed by this public key"));
    // a file that is no tree head: exit 2, and its content is not shown
    std::fs::write(&head, "Ann Okafor").unwrap();
    verify_elsewhere(witness.path(), &log, &pk, Some(&head))
        .code(2)
        .stderr(
            predicate::str::contains("not an airlock tree head")
                .and(predicate::str::contains("Okafor").not()),
        );
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// `.airlock` is 0700 and every file in it 0600, objects included; a workspace loosened by hand
/// is made private again the next time the vault opens.
#[cfg(unix)]
#[test]
fn the_workspace_is_private() {
    let ws = workspace();
    let d = ws.path();
    let id = put(d, "raw");
    let dir = d.join(".airlock");
    assert_eq!(mode(&dir), 0o700);
    for f in ["secret", "catalog.db", "audit.log", "access.toml"] {
        assert_eq!(mode(&dir.join(f)), 0o600, "{f}");
    }
    assert_eq!(mode(&dir.join("objects")), 0o700);
    assert_eq!(mode(&dir.join("objects").join(format!("{id}.alv"))), 0o600);
    set_mode(&dir, 0o755);
    set_mode(&dir.join("audit.log"), 0o644);
    put(d, "raw");
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join("audit.log")), 0o600);
}

/// What a process killed with SIGKILL left in its private temporary folder (decrypted data) is
/// swept by the next airlock command; a live process's folder is left alone.
#[test]
fn plaintext_left_by_a_killed_process_is_swept() {
    let ws = workspace();
    let d = ws.path();
    let tmp = d.join(".airlock/tmp");
    // a pid no process has (above the kernel's pid_max)
    let dead = tmp.join("p4294967-killed");
    std::fs::create_dir_all(&dead).unwrap();
    std::fs::write(dead.join("ds-aaaaaaaaaaaaaaaa.csv"), SECRET_ROW).unwrap();
    let live = tmp.join(format!("p{}-live", std::process::id()));
    std::fs::create_dir_all(&live).unwrap();
    put(d, "raw");
    assert!(!dead.exists(), "a dead process's plaintext was left");
    assert!(live.exists(), "a live process's folder was swept");
}

/// Names are labels: a dataset named like a path never names a file, and an object path
/// edited in the catalog makes `shred` delete nothing but the dataset's own object.
#[test]
fn names_and_catalog_paths_never_name_files() {
    let ws = workspace();
    let d = ws.path();
    let out = steward(
        d,
        &[
            "vault",
            "put",
            "--zone",
            "raw",
            "raw.csv",
            "--name",
            "../../../../escaped.csv",
            "--json",
        ],
    )
    .success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let id = v["dataset"]["id"].as_str().unwrap().to_owned();
    steward(d, &["vault", "get", &id, "-o", "back.csv"]).success();
    assert_eq!(
        std::fs::read_to_string(d.join("back.csv")).unwrap(),
        format!("name,ssn\n{SECRET_ROW}\n")
    );
    // a victim file, and the catalog's object column pointed at it
    let victim = d.join("victim.txt");
    std::fs::write(&victim, "keep me").unwrap();
    let catalog = rusqlite::Connection::open(d.join(".airlock/catalog.db")).unwrap();
    catalog
        .execute(
            "UPDATE datasets SET object = '../../victim.txt' WHERE id = ?1",
            [&id],
        )
        .unwrap();
    drop(catalog);
    // the edited row is refused (its MAC), and no path is ever read from it
    steward(d, &["vault", "shred", &id])
        .code(2)
        .stderr(predicate::str::contains("changed outside airlock"));
    assert!(victim.exists(), "shred followed a path from the catalog");
    // nothing was written outside the workspace's folders
    let parent = d.parent().unwrap();
    assert!(!parent.join("escaped.csv").exists());
    assert!(!d.join("escaped.csv").exists());
}

/// An actor, role or purpose with control characters is refused before anything happens, and
/// never reaches the audit log.
#[test]
fn control_characters_in_an_actor_are_refused() {
    let ws = workspace();
    let d = ws.path();
    let before = std::fs::read_to_string(d.join(".airlock/audit.log")).unwrap();
    airlock(d)
        .args([
            "vault",
            "put",
            "--zone",
            "raw",
            "raw.csv",
            "--actor",
            "mallory\u{1b}[2K\rok",
            "--role",
            "steward",
            "--purpose",
            "ingest",
        ])
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("control characters")
                .and(predicate::str::contains("mallory").not()),
        );
    let after = std::fs::read_to_string(d.join(".airlock/audit.log")).unwrap();
    assert_eq!(
        before, after,
        "a refused actor was audited under its own name"
    );
    assert!(
        std::fs::read_dir(d.join(".airlock/objects"))
            .unwrap()
            .next()
            .is_none()
    );
}

/// Audit before release: a read whose audit entry cannot be written releases nothing.
#[test]
fn a_read_that_cannot_be_audited_releases_nothing() {
    let ws = workspace();
    let d = ws.path();
    let id = put(d, "raw");
    // the log cannot be appended to (a folder in its place stops root as well)
    let log = d.join(".airlock/audit.log");
    std::fs::remove_file(&log).unwrap();
    std::fs::create_dir(&log).unwrap();
    steward(d, &["vault", "get", &id, "-o", "out.csv"]).code(2);
    assert!(!d.join("out.csv").exists(), "plaintext released unaudited");
    let left: Vec<_> = std::fs::read_dir(d)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains("out.csv"))
        .collect();
    assert!(left.is_empty(), "a staged copy was left");
}

/// The catalog is authenticated: relabelling a raw dataset as deid (to hand raw data to an
/// analyst), forging an approval row, or restoring a shredded dataset's wrapped key from a
/// backup are refused, because each row carries a MAC under a key the catalog does not hold.
#[test]
fn catalog_rows_edited_outside_airlock_are_refused() {
    let ws = workspace();
    let d = ws.path();
    let id = put(d, "raw");
    let db = d.join(".airlock/catalog.db");
    let sql = |q: &str| {
        let c = rusqlite::Connection::open(&db).unwrap();
        c.execute(q, [&id]).unwrap();
    };
    let analyst_get = |out: &str| {
        airlock(d)
            .args([
                "vault",
                "get",
                &id,
                "-o",
                out,
                "--role",
                "analyst",
                "--purpose",
                "research",
            ])
            .assert()
    };
    analyst_get("a.csv").code(2); // analysts do not read raw
    sql("UPDATE datasets SET zone = 'deid' WHERE id = ?1");
    analyst_get("b.csv")
        .code(2)
        .stderr(predicate::str::contains("changed outside airlock"));
    assert!(!d.join("b.csv").exists());
    sql("UPDATE datasets SET zone = 'raw' WHERE id = ?1");
    // back as it was: the row verifies again
    steward(d, &["vault", "get", &id, "-o", "c.csv"]).success();
    // a forged approval row
    sql(
        "INSERT INTO approvals (dataset, zone, actor, role, time) VALUES (?1, 'staging', 'eve', 'steward', '2026-01-01T00:00:00Z')",
    );
    steward(d, &["approve", &id, "--to", "staging", "--actor", "bob"])
        .code(2)
        .stderr(predicate::str::contains("changed outside airlock"));
    sql("DELETE FROM approvals WHERE dataset = ?1 AND actor = 'eve'");
    // a shredded dataset's key put back from a backup of the catalog
    let backup: Vec<u8> = {
        let c = rusqlite::Connection::open(&db).unwrap();
        c.query_row(
            "SELECT wrapped_key FROM datasets WHERE id = ?1",
            [&id],
            |r| r.get(0),
        )
        .unwrap()
    };
    steward(d, &["vault", "shred", &id]).success();
    let c = rusqlite::Connection::open(&db).unwrap();
    c.execute(
        "UPDATE datasets SET wrapped_key = ?2, shredded_at = NULL WHERE id = ?1",
        rusqlite::params![id, backup],
    )
    .unwrap();
    drop(c);
    steward(d, &["vault", "get", &id, "-o", "d.csv"])
        .code(2)
        .stderr(predicate::str::contains("changed outside airlock"));
    assert!(!d.join("d.csv").exists());
}

/// Keys that die: `keys rotate` rewraps every data key under a new random KEK without touching
/// the objects and destroys the old KEKs; a copy of the catalog (and of the object) made before
/// a shred cannot open the shredded dataset, because shredding rotated its KEK away.
#[test]
fn a_catalog_backup_cannot_bring_back_a_shredded_dataset() {
    let ws = workspace();
    let d = ws.path();
    let id = put(d, "raw");
    let object = d.join(".airlock/objects").join(format!("{id}.alv"));
    let sealed = std::fs::read(&object).unwrap();
    steward(d, &["keys", "rotate"])
        .success()
        .stdout(predicate::str::contains("rewrapped"));
    assert_eq!(
        std::fs::read(&object).unwrap(),
        sealed,
        "rotation re-encrypted data"
    );
    steward(d, &["vault", "get", &id, "-o", "a.csv"]).success();
    airlock(d)
        .args([
            "keys",
            "rotate",
            "--role",
            "analyst",
            "--purpose",
            "research",
        ])
        .assert()
        .code(2);
    // the insider's backup, taken before the shred
    let db = d.join(".airlock/catalog.db");
    let backup = d.join("catalog.backup.db");
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute("VACUUM INTO ?1", [backup.to_str().unwrap()])
        .unwrap();
    steward(d, &["vault", "shred", &id]).success();
    // both restored: the row is genuine (its MAC verifies), its KEK is gone
    for wal in ["catalog.db-wal", "catalog.db-shm"] {
        let _ = std::fs::remove_file(d.join(".airlock").join(wal));
    }
    std::fs::copy(&backup, &db).unwrap();
    std::fs::write(&object, &sealed).unwrap();
    steward(d, &["vault", "get", &id, "-o", "b.csv"])
        .code(2)
        .stderr(predicate::str::contains("destroyed by a key rotation"));
    assert!(!d.join("b.csv").exists());
}
