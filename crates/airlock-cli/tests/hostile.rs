//! Input shaped to leak or to hang, tried from outside: a header row that is a patient, escape
//! sequences and NUL bytes in names, millions of columns on a line, a quote that never closes,
//! JSON keys that are identifiers, a run interrupted or killed, a usage error asked for in
//! JSON. Each test failed before the change that made it pass.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command as StdCommand, Stdio};
use std::time::{Duration, Instant};

use predicates::prelude::*;

mod common;
use common::{airlock, set_mode};

const PATIENT_ROWS: &str =
    "Ada Quillfeather,1956-02-17,603-482-1193\nBarnaby Okonkwo,1960-01-01,603-111-2222\n";

fn drop_all_policy(dir: &Path) {
    std::fs::write(
        dir.join("policy.toml"),
        "[dataset]\nname = \"x\"\n[defaults]\nunclassified = \"drop\"\n",
    )
    .unwrap();
}

fn key(dir: &Path) {
    std::fs::write(dir.join("key.hex"), "ab".repeat(32)).unwrap();
    set_mode(&dir.join("key.hex"), 0o600);
}

fn temporaries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".airlock-tmp"))
        .collect()
}

#[test]
fn a_header_row_of_patient_values_is_refused_by_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("extract.csv"), PATIENT_ROWS).unwrap();
    drop_all_policy(d);
    let leaks = |s: &str| s.contains("Quillfeather") || s.contains("1956") || s.contains("482");
    for args in [
        &[
            "deid",
            "--policy",
            "policy.toml",
            "extract.csv",
            "-o",
            "out.csv",
        ][..],
        &["profile", "extract.csv", "-o", "draft.toml"][..],
    ] {
        let out = airlock(d).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("the first row looks like data"), "{stderr}");
        assert!(stderr.contains("--no-header"), "{stderr}");
        assert!(!leaks(&stderr) && !leaks(&String::from_utf8_lossy(&out.stdout)));
    }
    assert!(!d.join("out.csv").exists() && !d.join("draft.toml").exists());
    // scan reads the row as data and reports columns by position, never by value
    let out = airlock(d).args(["scan", "extract.csv"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("row 1 column \"column_1\""), "{stdout}");
    assert!(!leaks(&stdout), "{stdout}");
    // named columns for a headerless file: the run goes through
    airlock(d)
        .args([
            "profile",
            "extract.csv",
            "--no-header",
            "--columns",
            "name,dob,phone",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("[fields.dob]"))
        .stdout(predicate::str::contains("Quillfeather").not());
    airlock(d)
        .args([
            "deid",
            "--policy",
            "policy.toml",
            "extract.csv",
            "-o",
            "out.csv",
            "--no-header",
        ])
        .assert()
        .success();
}

#[test]
fn names_are_escaped_and_messages_capped() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("policy.toml"),
        "[dataset]\nname = \"x\"\n[fields.other]\nclass = \"clinical\"\naction = \"keep\"\n",
    )
    .unwrap();
    std::fs::write(d.join("esc.csv"), "id\x1b[2J\x07,zip\nA,B\n").unwrap();
    // a header with control characters is refused as data...
    airlock(d)
        .args(["deid", "--policy", "policy.toml", "esc.csv", "-o", "o.csv"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("looks like data (column 1)"));
    // ...and when vouched for, its names are still escaped wherever they are shown
    let out = airlock(d)
        .args(["deid", "--policy", "policy.toml", "esc.csv", "-o", "o.csv"])
        .arg("--trust-header")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("\"id\\x1b[2J\\x07\" (column 1)"),
        "{stderr}"
    );
    assert!(!out.stderr.iter().any(|&b| b == 0x1b || b == 0x07));
    // a file of NUL bytes: a short error, no NUL on the terminal
    std::fs::write(d.join("nul.csv"), vec![0u8; 100_000]).unwrap();
    let out = airlock(d)
        .args(["deid", "--policy", "policy.toml", "nul.csv", "-o", "o.csv"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        out.stderr.len() < 2_000 && !out.stderr.contains(&0),
        "{}",
        out.stderr.len()
    );
    // the same in JSON
    let out = airlock(d)
        .args([
            "--json",
            "deid",
            "--policy",
            "policy.toml",
            "esc.csv",
            "-o",
            "o.csv",
            "--trust-header",
        ])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let message = v["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("id\\x1b[2J") && !message.contains('\x1b'),
        "{message}"
    );
}

#[test]
fn hostile_shapes_exit_2_with_a_short_error() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    drop_all_policy(d);
    // one line of a million fields
    let wide: String = (0..1_000_000).map(|i| format!("c{i},")).collect::<String>() + "x\n";
    std::fs::write(d.join("wide.csv"), wide).unwrap();
    for cmd in ["deid", "profile"] {
        let mut c = airlock(d);
        if cmd == "deid" {
            c.args(["deid", "--policy", "policy.toml", "wide.csv", "-o", "o.csv"]);
        } else {
            c.args(["profile", "wide.csv"]);
        }
        let out = c.output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{cmd}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("more than the limit of 4096"), "{stderr}");
        assert!(stderr.len() < 1_000, "{}", stderr.len());
    }
    // a cell over the limit, and the limit raised
    std::fs::write(
        d.join("cell.csv"),
        format!("id,note\n1,{}\n", "a".repeat(2_000)),
    )
    .unwrap();
    airlock(d)
        .args(["deid", "--policy", "policy.toml", "cell.csv", "-o", "o.csv"])
        .args(["--max-cell-bytes", "1000"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "row 1 column \"note\": holds a cell larger",
        ));
    airlock(d)
        .args(["deid", "--policy", "policy.toml", "cell.csv", "-o", "o.csv"])
        .assert()
        .success();
    // truncated inside a quote: an error naming the line, nothing written
    std::fs::write(
        d.join("t.csv"),
        "id,note\n1,ok\n2,\"Seen by Dr. Okafor, trunc",
    )
    .unwrap();
    airlock(d)
        .args([
            "deid",
            "--policy",
            "policy.toml",
            "t.csv",
            "-o",
            "t.out.csv",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "ends inside a quoted field opened on line 3",
        ))
        .stderr(predicate::str::contains("Okafor").not());
    assert!(!d.join("t.out.csv").exists());
    std::fs::write(d.join("m.csv"), "id,note,z\n1,\"hello,2\n2,ok,3\n3,x,4\n").unwrap();
    airlock(d)
        .args([
            "deid",
            "--policy",
            "policy.toml",
            "m.csv",
            "-o",
            "m.out.csv",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "a quote on line 2 is likely not closed",
        ));
}

#[test]
fn json_keys_in_scan_paths_are_data() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("export.json"),
        r#"{"patients": {"ZQXWV-SECRET-4417": {"note": "Seen by Dr. Okafor on 3/14/2021"},
            "Ada Quillfeather": {"note": "ok"}}}"#,
    )
    .unwrap();
    let out = airlock(d).args(["scan", "export.json"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        !stdout.contains("ZQXWV") && !stdout.contains("Quillfeather"),
        "{stdout}"
    );
    assert!(stdout.contains("/patients/[key 1]/note"), "{stdout}");
    // the key that is a name is a finding of its own
    assert!(stdout.contains("/patients/[key 2] at 0+16"), "{stdout}");
}

#[test]
fn usage_errors_speak_json_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let out = airlock(dir.path())
        .args(["--json", "deid", "--no-such-flag"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["status"], "error");
    assert_eq!(v["error"]["kind"], "usage");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("--no-such-flag")
    );
    airlock(dir.path())
        .args(["deid", "--no-such-flag"])
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains("unexpected argument"));
    // text to stdout is JSON too
    let out = airlock(dir.path())
        .args(["--json", "text", "redact"])
        .write_stdin("Seen by Dr. Okafor on 3/7/2021.")
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["text"], "Seen by Dr. [NAME] on [DATE].");
    assert_eq!(v["identifiers_replaced"], 2);
    // redact lists what redact uses
    airlock(dir.path())
        .args(["text", "redact", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("--output"))
        .stdout(predicate::str::contains("--patient").not())
        .stdout(predicate::str::contains("--key-file").not())
        .stdout(predicate::str::contains("--date-shift").not());
}

/// `fhir deid` of an NDJSON FIFO: the run holds its temporary open while it waits for the next
/// line, so a signal can be sent mid-run.
fn start_on_fifo(d: &Path) -> (std::process::Child, std::fs::File) {
    let fifo = d.join("in.ndjson");
    let _ = std::fs::remove_file(&fifo);
    assert!(
        StdCommand::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let child = StdCommand::new(assert_cmd::cargo::cargo_bin("airlock"))
        .current_dir(d)
        .args([
            "fhir",
            "deid",
            "in.ndjson",
            "-o",
            "out.ndjson",
            "--key-file",
            "key.hex",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut writer = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    std::io::Write::write_all(
        &mut writer,
        b"{\"resourceType\":\"Patient\",\"id\":\"1\"}\n",
    )
    .unwrap();
    let start = Instant::now();
    while temporaries(d).is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no temporary appeared"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    (child, writer)
}

fn kill(child: &std::process::Child, signal: &str) {
    assert!(
        StdCommand::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
}

#[test]
fn an_interrupted_run_leaves_no_temporary_and_a_killed_one_is_cleaned_next_time() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    key(d);
    for (signal, code) in [("-TERM", 143), ("-INT", 130)] {
        let (child, writer) = start_on_fifo(d);
        kill(&child, signal);
        let out = child.wait_with_output().unwrap();
        drop(writer);
        assert_eq!(out.status.code(), Some(code), "{signal}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("interrupted"));
        assert_eq!(temporaries(d), Vec::<String>::new(), "{signal}");
        assert!(!d.join("out.ndjson").exists());
    }
    // SIGKILL cannot be caught: the temporary stays, and the next run of the target removes it
    let (child, writer) = start_on_fifo(d);
    kill(&child, "-KILL");
    let _ = child.wait_with_output().unwrap();
    drop(writer);
    assert_eq!(temporaries(d).len(), 1);
    std::fs::remove_file(d.join("in.ndjson")).unwrap();
    std::fs::write(
        d.join("in.ndjson"),
        "{\"resourceType\":\"Patient\",\"id\":\"1\"}\n",
    )
    .unwrap();
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
        .stderr(predicate::str::contains(
            "a temporary left by an earlier run that was killed",
        ));
    assert_eq!(temporaries(d), Vec::<String>::new());
}

#[test]
fn fhir_fails_closed_on_what_r4_does_not_know() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    key(d);
    // a typo in resourceType: an input error naming the line, nothing written
    std::fs::write(
        d.join("typo.ndjson"),
        "{\"resourceType\":\"Patient\",\"id\":\"1\"}\n{\"resourceType\":\"Patinet\",\"id\":\"2\",\"name\":[{\"family\":\"Quillfeather\"}]}\n",
    )
    .unwrap();
    airlock(d)
        .args([
            "fhir",
            "deid",
            "typo.ndjson",
            "-o",
            "o.ndjson",
            "--key-file",
            "key.hex",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("typo.ndjson row 2"))
        .stderr(predicate::str::contains("a type FHIR R4 does not define"))
        .stderr(predicate::str::contains("Quillfeather").not());
    assert!(!d.join("o.ndjson").exists());
    // unknown elements and values of the wrong type are removed and counted
    std::fs::write(
        d.join("p.json"),
        r#"{"resourceType":"Patient","id":"1","unknownField":"Ada Quillfeather, SSN 123-45-6789",
            "birthDate":19560217,"gender":"female","managingOrganization":{"display":"x","note":"Quillfeather"}}"#,
    )
    .unwrap();
    let out = airlock(d)
        .args([
            "--json",
            "fhir",
            "deid",
            "p.json",
            "-o",
            "p.out.json",
            "--key-file",
            "key.hex",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let removed = &v["report"]["counts"]["removed"];
    assert_eq!(removed["unknown_elements"], 2, "{removed}");
    assert_eq!(removed["wrong_type"], 1, "{removed}");
    let written = std::fs::read_to_string(d.join("p.out.json")).unwrap();
    assert!(
        !written.contains("Quillfeather") && !written.contains("1956"),
        "{written}"
    );
    assert!(
        !written.contains("unknownField") && written.contains("female"),
        "{written}"
    );
    // a date with a non-ASCII character is removed, not a panic
    std::fs::write(
        d.join("e.json"),
        r#"{"resourceType":"Patient","birthDate":"199é"}"#,
    )
    .unwrap();
    airlock(d)
        .args([
            "fhir",
            "deid",
            "e.json",
            "-o",
            "e.out.json",
            "--key-file",
            "key.hex",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("1 values of the wrong type"));
}

#[test]
fn safe_harbor_aggregates_birth_years_of_people_over_89() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    key(d);
    std::fs::write(
        d.join("p.csv"),
        "patient_id,dob,age,note\nP1,1921-03-14,104,\"DOB 03/14/1921, seen 3/2/2024\"\nP2,1961-07-02,63,\"DOB 7/2/1961\"\nP3,1935-12-31,89,x\n",
    )
    .unwrap();
    std::fs::write(
        d.join("policy.toml"),
        "[dataset]\nname = \"x\"\npatient_id = \"patient_id\"\n[defaults]\npreset = \"safe-harbor\"\nreference_year = 2025\n\
         [fields.patient_id]\nclass = \"direct_identifier\"\n[fields.dob]\nclass = \"date\"\n\
         [fields.age]\nclass = \"quasi_identifier\"\nrule = \"age_90_plus\"\n[fields.note]\nclass = \"free_text\"\naction = \"text_surrogate\"\n",
    )
    .unwrap();
    airlock(d)
        .args([
            "deid",
            "--policy",
            "policy.toml",
            "p.csv",
            "-o",
            "o.csv",
            "--key-file",
            "key.hex",
        ])
        .assert()
        .success();
    let out = std::fs::read_to_string(d.join("o.csv")).unwrap();
    let rows: Vec<&str> = out.lines().collect();
    assert!(rows[1].contains(",<=1935,90+,"), "{out}");
    assert!(rows[2].contains(",1961,63,"), "{out}");
    assert!(rows[3].contains(",<=1935,89,"), "{out}");
    assert!(!out.contains("1921") && !out.contains("03/14"), "{out}");
}

#[test]
fn a_real_header_that_only_looks_like_data_can_be_vouched_for() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("kaiser.csv"), "Kaiser ID,visit_2020\n1,2\n").unwrap();
    airlock(d)
        .args(["profile", "kaiser.csv"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--trust-header"));
    airlock(d)
        .args(["profile", "kaiser.csv", "--trust-header"])
        .assert()
        .success()
        .stdout(predicate::str::contains("[fields.\"Kaiser ID\"]"));
    airlock(d)
        .args(["profile", "kaiser.csv", "--trust-header", "--no-header"])
        .assert()
        .code(2);
}
