//! `airlock fhir deid` end to end: a Microsoft configuration gives Microsoft's expected output;
//! the Safe Harbor default needs the workspace secret and says so; bad input exits 2 with
//! nothing written.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};

use common::{airlock, fixtures, set_mode};
use predicates::prelude::*;
use serde_json::Value;

fn ms() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../airlock-fhir/tests/data/ms")
}

fn json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap();
    serde_json::from_str(text.trim_start_matches('\u{feff}')).unwrap()
}

#[test]
fn a_microsoft_configuration_gives_microsofts_output() {
    let dir = tempfile::tempdir().unwrap();
    airlock(dir.path())
        .args(["fhir", "deid", "--config"])
        .arg(ms().join("common-config.json"))
        .arg(ms().join("bundle-basic.json"))
        .args(["-o", "out.json"])
        .assert()
        .success()
        .stdout(predicate::str::contains("de-identified 4 resources"));
    assert_eq!(
        json(&dir.path().join("out.json")),
        json(&ms().join("bundle-basic-target.json"))
    );
}

#[test]
fn the_default_needs_the_workspace_secret_and_streams_ndjson() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::copy(ms().join("Patient-1.ndjson"), d.join("in.ndjson")).unwrap();
    airlock(d)
        .args(["fhir", "deid", "in.ndjson", "-o", "out.ndjson"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("airlock init"));
    std::fs::copy(fixtures().join("test-key.hex"), d.join("key.hex")).unwrap();
    set_mode(&d.join("key.hex"), 0o600);
    airlock(d)
        .args([
            "fhir",
            "deid",
            "in.ndjson",
            "-o",
            "out.ndjson",
            "--key-file",
            "key.hex",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("airlock safe-harbor"));
    let out = std::fs::read_to_string(d.join("out.ndjson")).unwrap();
    assert_eq!(out.lines().count(), 1);
    for phi in ["Chalmers", "Peter", "534 Erewhon St", "(03) 5555 6473"] {
        assert!(!out.contains(phi), "{phi} survives");
    }
}

#[test]
fn bad_input_exits_2_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("bad.ndjson"), "{\"resourceType\": \"Patient\"}\n{\"resourceType\": \"Patient\", \"name\": [{\"family\": \"Zed\n").unwrap();
    airlock(d)
        .args(["fhir", "deid", "--config"])
        .arg(ms().join("common-config.json"))
        .args(["bad.ndjson", "-o", "out.ndjson"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("bad.ndjson row 2"))
        .stderr(predicate::str::contains("Zed").not());
    assert!(!d.join("out.ndjson").exists());
    std::fs::write(
        d.join("cfg.json"),
        "{\"fhirPathRules\": [{\"path\": \"Patient.name.first()\", \"method\": \"redact\"}]}",
    )
    .unwrap();
    airlock(d)
        .args(["fhir", "deid", "--config", "cfg.json"])
        .arg(ms().join("patient-basic.json"))
        .args(["-o", "x.json"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("fhirPathRules[0]"));
    std::fs::write(d.join("gen.json"), "{\"fhirPathRules\": [{\"path\": \"Patient.gender\", \"method\": \"generalize\", \"cases\": {\"$this.descendants()\": \"'x'\"}}]}").unwrap();
    airlock(d)
        .args(["fhir", "deid", "--config", "gen.json"])
        .arg(ms().join("patient-basic.json"))
        .args(["-o", "x.json"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("outside the FHIRPath subset"));
    assert!(!d.join("x.json").exists());
    // JSON that is no resource, and a rule that fails on a resource (processingErrors: raise)
    std::fs::write(
        d.join("odd.ndjson"),
        "{\"resourceType\": \"Patient\"}\n{\"family\": \"Zed\"}\n",
    )
    .unwrap();
    airlock(d)
        .args(["fhir", "deid", "--config"])
        .arg(ms().join("common-config.json"))
        .args(["odd.ndjson", "-o", "odd.out.ndjson"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "odd.ndjson row 2: is not a FHIR resource",
        ));
    airlock(d)
        .args(["fhir", "deid", "--config"])
        .arg(ms().join("configuration-raise-processing-error.json"))
        .arg(ms().join("patient-basic.json"))
        .args(["-o", "x.json"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("processing error"))
        .stderr(predicate::str::contains("Family").not());
    assert!(!d.join("x.json").exists() && !d.join("odd.out.ndjson").exists());
}
