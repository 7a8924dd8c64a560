//! End-to-end tests: run the built `airlock` binary on fixture files and check its outputs,
//! messages and exit codes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;

use assert_cmd::Command;
use predicates::prelude::*;

mod common;
use common::{airlock, convert_table, fixtures, golden, set_mode};

/// A temp dir with the fixtures copied in and a private key file.
struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        for f in ["patients.csv", "policy.toml"] {
            std::fs::copy(fixtures().join(f), dir.path().join(f)).unwrap();
        }
        let key = dir.path().join("key.hex");
        std::fs::copy(fixtures().join("test-key.hex"), &key).unwrap();
        set_mode(&key, 0o600);
        Self { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn cmd(&self) -> Command {
        airlock(self.dir.path())
    }

    fn deid(&self, input: &str, output: &str) -> Command {
        let mut c = self.cmd();
        c.args([
            "deid",
            "--policy",
            "policy.toml",
            input,
            "-o",
            output,
            "--key-file",
            "key.hex",
        ]);
        c
    }

    /// `deid` of the fixture without --key-file: the key must be found on its own.
    fn deid_with_found_key(&self) -> Command {
        let mut c = self.cmd();
        c.args([
            "deid",
            "--policy",
            "policy.toml",
            "patients.csv",
            "-o",
            "out.csv",
        ]);
        c
    }

    fn write(&self, name: &str, contents: impl AsRef<[u8]>) {
        std::fs::write(self.path(name), contents).unwrap();
    }

    /// Every file name in the workspace (to prove that a failed run left nothing behind).
    fn files(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
}

/// A table file as CSV text, whatever its format (through the library's reader and writer).
fn as_csv(path: &Path) -> String {
    let format = airlock_core::table::Format::from_path(path).unwrap();
    let out = tempfile::NamedTempFile::new().unwrap();
    convert_table(path, format, out.path(), airlock_core::table::Format::Csv);
    std::fs::read_to_string(out.path()).unwrap()
}

#[test]
fn help_lists_the_commands_and_a_wrong_flag_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    airlock(dir.path())
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("demo").and(predicate::str::contains("deid")))
        .stdout(predicate::str::contains("Exit codes"));
    airlock(dir.path())
        .args(["deid", "--polcy", "p.toml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--polcy"));
    airlock(dir.path()).arg("frobnicate").assert().code(2);
}

#[test]
fn deid_csv_matches_golden_output() {
    let ws = Workspace::new();
    ws.deid("patients.csv", "out.csv")
        .assert()
        .success()
        .stdout(predicate::str::contains("de-identified 6 rows"))
        .stdout(predicate::str::contains("0 findings"));
    let out = std::fs::read_to_string(ws.path("out.csv")).unwrap();
    golden("patients.deid.csv", &out);
    // What the golden file must show, spelled out.
    assert!(!out.contains("123-45-6789") && out.contains("***-**-6789"));
    assert!(!out.contains("Alice") && !out.contains("Moreau"));
    assert!(!out.contains("617-555-1234") && out.contains("[PHONE]"));
    assert!(out.contains(",000,") && out.contains(",90+,"));
    assert!(!out.contains("00012345"));
}

#[test]
fn every_format_converts_to_every_format() {
    let ws = Workspace::new();
    ws.deid("patients.csv", "out.csv").assert().success();
    let reference = std::fs::read_to_string(ws.path("out.csv")).unwrap();
    for (from, to) in [
        ("csv", "jsonl"),
        ("csv", "parquet"),
        ("jsonl", "csv"),
        ("parquet", "jsonl"),
    ] {
        let input = format!("in.{from}");
        if from == "csv" {
            std::fs::copy(ws.path("patients.csv"), ws.path(&input)).unwrap();
        } else {
            // Make the input in that format with a keep-all conversion of the fixture.
            let keep = "[dataset]\nname = \"k\"\n[defaults]\nunclassified = \"fail\"\n".to_owned()
                + &[
                    "mrn",
                    "name",
                    "ssn",
                    "dob",
                    "zip",
                    "age",
                    "admit_date",
                    "phone",
                    "note",
                    "hba1c",
                ]
                .iter()
                .map(|c| format!("[fields.{c}]\nclass = \"operational\"\naction = \"keep\"\n"))
                .collect::<String>();
            ws.write("keep.toml", keep);
            ws.cmd()
                .args([
                    "deid",
                    "--no-scan",
                    "--force",
                    "--policy",
                    "keep.toml",
                    "patients.csv",
                    "-o",
                    &input,
                ])
                .assert()
                .success();
        }
        let output = format!("out-{from}.{to}");
        ws.deid(&input, &output).assert().success();
        let got = as_csv(&ws.path(&output));
        assert_eq!(got, reference, "{from} -> {to}");
    }
}

#[test]
fn threads_and_batch_sizes_never_change_the_output() {
    let ws = Workspace::new();
    ws.deid("patients.csv", "one.csv")
        .args(["--threads", "1"])
        .assert()
        .success();
    let one = std::fs::read(ws.path("one.csv")).unwrap();
    for (threads, batch) in [("3", "1"), ("2", "2"), ("8", "4")] {
        let out = format!("t{threads}-b{batch}.csv");
        ws.deid("patients.csv", &out)
            .args(["--threads", threads, "--batch-size", batch])
            .assert()
            .success();
        assert_eq!(
            std::fs::read(ws.path(&out)).unwrap(),
            one,
            "threads {threads} batch {batch}"
        );
        let m: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(ws.path(&format!("{out}.manifest.json"))).unwrap(),
        )
        .unwrap();
        let ssn = m["columns"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "ssn")
            .unwrap();
        assert_eq!(ssn["cells"], 5, "counts add up across batches");
    }
}

/// Parquet from pandas or Spark carries types: they must survive where the action allows.
#[test]
fn typed_parquet_keeps_its_types() {
    use arrow_array::Array;
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Int32Type, TimestampMillisecondType};
    use arrow_array::{
        ArrayRef, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray,
        TimestampMillisecondArray,
    };
    use std::sync::Arc;
    let ws = Workspace::new();
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("mrn", Arc::new(StringArray::from(vec!["A1", "A1", "B2"]))),
        (
            "age",
            Arc::new(Int64Array::from(vec![Some(45), Some(45), Some(96)])),
        ),
        (
            "dob",
            Arc::new(Date32Array::from(vec![Some(-3000), Some(-3000), None])),
        ),
        (
            "admitted",
            Arc::new(
                TimestampMillisecondArray::from(vec![
                    1_700_000_000_000,
                    1_700_086_400_000,
                    1_600_000_000_000,
                ])
                .with_timezone("UTC"),
            ),
        ),
        ("lab", Arc::new(Float64Array::from(vec![7.25, 6.5, 8.0]))),
    ];
    let batch = RecordBatch::try_from_iter(columns).unwrap();
    let input = ws.path("typed.parquet");
    let mut w = airlock_core::table::TableWriter::new(
        std::fs::File::create(&input).unwrap(),
        &input,
        airlock_core::table::Format::Parquet,
        batch.schema(),
    )
    .unwrap();
    w.write(&batch).unwrap();
    w.finish().unwrap();
    ws.write(
        "typed.toml",
        "[dataset]\nname = \"t\"\npatient_id = \"mrn\"\n[fields]\n\
         mrn = { class = \"direct_identifier\", action = \"tokenize\" }\n\
         age = { class = \"quasi_identifier\", action = \"generalize\", rule = \"age_90_plus\" }\n\
         dob = { class = \"date\", action = \"year_only\" }\n\
         admitted = { class = \"date\", action = \"date_shift\" }\n\
         lab = { class = \"clinical\", action = \"keep\" }\n",
    );
    ws.cmd()
        .args([
            "deid",
            "--policy",
            "typed.toml",
            "typed.parquet",
            "-o",
            "out.parquet",
            "--key-file",
            "key.hex",
        ])
        .assert()
        .success();
    let mut r = airlock_core::table::TableReader::open(
        &ws.path("out.parquet"),
        airlock_core::table::Format::Parquet,
        100,
    )
    .unwrap();
    let out = r.next_batch().unwrap().unwrap();
    let col = |n: &str| out.column_by_name(n).unwrap().clone();
    assert_eq!(col("lab").data_type(), &arrow_schema::DataType::Float64);
    let ages = col("age");
    let ages = ages.as_string::<i32>();
    assert_eq!((ages.value(0), ages.value(2)), ("45", "90+"));
    let years = col("dob");
    assert_eq!(years.as_primitive::<Int32Type>().value(0), 1961);
    assert!(years.is_null(2));
    let admitted = col("admitted");
    assert_eq!(admitted.data_type(), batch.column(3).data_type());
    let a = admitted.as_primitive::<TimestampMillisecondType>();
    // Same patient, same shift: the one-day interval survives; the shift is whole days.
    assert_eq!(a.value(1) - a.value(0), 86_400_000);
    assert_eq!((a.value(0) - 1_700_000_000_000) % 86_400_000, 0);
    assert_ne!(a.value(0), 1_700_000_000_000);
}

#[test]
fn jsonl_output_matches_golden() {
    let ws = Workspace::new();
    ws.deid("patients.csv", "out.jsonl").assert().success();
    golden(
        "patients.deid.jsonl",
        &std::fs::read_to_string(ws.path("out.jsonl")).unwrap(),
    );
}

#[test]
fn manifest_records_hashes_policy_and_counts_without_values() {
    let ws = Workspace::new();
    ws.deid("patients.csv", "out.csv").assert().success();
    let text = std::fs::read_to_string(ws.path("out.csv.manifest.json")).unwrap();
    let m: serde_json::Value = serde_json::from_str(&text).unwrap();
    let sha = |p: &Path| airlock_core::output::digest_file(p).unwrap().0;
    assert_eq!(m["input"]["sha256"], sha(&ws.path("patients.csv")));
    assert_eq!(m["output"]["sha256"], sha(&ws.path("out.csv")));
    assert_eq!(m["policy"]["sha256"], sha(&ws.path("policy.toml")));
    assert_eq!(m["tool"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(m["input"]["rows"], 6);
    assert_eq!(m["key_id"].as_str().map(str::len), Some(16));
    let cols = m["columns"].as_array().unwrap();
    assert_eq!(cols.len(), 10);
    let dob = cols.iter().find(|c| c["name"] == "dob").unwrap();
    assert_eq!(dob["action"], "year_only");
    assert_eq!(dob["nulled"], 1, "'not a date' fails closed to null");
    assert!(m["timing"]["total_ms"].is_u64());
    for v in [
        "Moreau",
        "123-45-6789",
        "617-555-1234",
        "00012345",
        "b.osei@mail.com",
    ] {
        assert!(!text.contains(v), "manifest leaks {v}");
    }
}

#[test]
fn unclassified_column_fails_closed_and_writes_nothing() {
    let ws = Workspace::new();
    let csv = std::fs::read_to_string(ws.path("patients.csv")).unwrap();
    let mut lines = csv.lines();
    let mut with_extra = format!("{},insurance_id\n", lines.next().unwrap());
    for l in lines {
        with_extra.push_str(&format!("{l},INS-778899\n"));
    }
    ws.write("extra.csv", with_extra);
    let before = ws.files();
    ws.deid("extra.csv", "out.csv")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("\"insurance_id\""))
        .stderr(predicate::str::contains("not classified"))
        .stderr(predicate::str::contains("hint:"))
        .stderr(predicate::str::contains("INS-778899").not());
    assert_eq!(ws.files(), before, "a failed run must leave no file behind");
}

#[test]
fn date_shift_without_the_patient_column_fails() {
    let ws = Workspace::new();
    let policy = std::fs::read_to_string(ws.path("policy.toml"))
        .unwrap()
        .replace("patient_id = \"mrn\"", "patient_id = \"patient\"");
    ws.write("policy.toml", policy);
    ws.deid("patients.csv", "out.csv")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("\"patient\""));
    assert!(!ws.path("out.csv").exists());
}

#[test]
fn malformed_rows_name_file_row_and_column_never_the_value() {
    let ws = Workspace::new();
    let header = "mrn,name,ssn,dob,zip,age,admit_date,phone,note,hba1c\n";
    let good = "1,A,123-45-6789,1950-01-01,02139,70,2020-01-01,617-555-1234,hi,5\n";
    ws.write(
        "short.csv",
        format!("{header}{good}{good}2,SECRETNAME,999-88-7777\n"),
    );
    ws.deid("short.csv", "out.csv")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("short.csv row 3"))
        .stderr(predicate::str::contains(
            "has 3 fields where the header has 10",
        ))
        .stderr(predicate::str::contains("SECRETNAME").not())
        .stderr(predicate::str::contains("999-88-7777").not());
    let mut bad = format!("{header}{good}").into_bytes();
    bad.extend_from_slice(
        b"3,B,111-22-3333,1950-01-01,02139,70,2020-01-01,617-555-1234,SECRET\xffNOTE,5\n",
    );
    ws.write("bad.csv", bad);
    ws.deid("bad.csv", "out.csv")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("bad.csv row 2 column \"note\""))
        .stderr(predicate::str::contains("UTF-8"))
        .stderr(predicate::str::contains("SECRET").not());
    assert!(!ws.path("out.csv").exists());
}

#[test]
fn missing_or_exposed_keys_are_refused() {
    let ws = Workspace::new();
    ws.deid_with_found_key()
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no workspace secret"))
        .stderr(predicate::str::contains("airlock init"));
    set_mode(&ws.path("key.hex"), 0o644);
    ws.deid("patients.csv", "out.csv")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("can be read by other users"))
        .stderr(predicate::str::contains("chmod 600"));
    ws.write("bad.key", "zz");
    set_mode(&ws.path("bad.key"), 0o600);
    ws.cmd()
        .args([
            "deid",
            "--policy",
            "policy.toml",
            "patients.csv",
            "-o",
            "out.csv",
            "--key-file",
            "bad.key",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("is not a key"));
    assert!(!ws.path("out.csv").exists());
}

#[test]
fn init_creates_a_private_key_that_deid_finds() {
    let ws = Workspace::new();
    ws.cmd().arg("init").assert().success();
    let key = ws.path(".airlock/secret");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    ws.cmd()
        .arg("init")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("already exists"));
    ws.deid_with_found_key().assert().success();
}

#[test]
fn existing_output_needs_force_and_input_is_never_overwritten() {
    let ws = Workspace::new();
    ws.deid("patients.csv", "out.csv").assert().success();
    ws.deid("patients.csv", "out.csv")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("already exists"))
        .stderr(predicate::str::contains("--force"));
    ws.deid("patients.csv", "out.csv")
        .arg("--force")
        .assert()
        .success();
    let before = std::fs::read(ws.path("patients.csv")).unwrap();
    ws.deid("patients.csv", "patients.csv")
        .arg("--force")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("never writes over its input"));
    assert_eq!(std::fs::read(ws.path("patients.csv")).unwrap(), before);
}

#[test]
fn residual_findings_in_kept_columns_exit_1() {
    let ws = Workspace::new();
    let policy = std::fs::read_to_string(ws.path("policy.toml")).unwrap()
        + "\n[fields.comment]\nclass = \"operational\"\naction = \"keep\"\n";
    ws.write("policy.toml", policy);
    let csv = std::fs::read_to_string(ws.path("patients.csv")).unwrap();
    let mut lines = csv.lines();
    let mut out = format!("{},comment\n", lines.next().unwrap());
    for (i, l) in lines.enumerate() {
        let c = if i == 2 {
            "call back at 617-444-1234"
        } else {
            "ok"
        };
        out.push_str(&format!("{l},{c}\n"));
    }
    ws.write("commented.csv", out);
    ws.deid("commented.csv", "out.csv")
        .assert()
        .code(1)
        .stdout(predicate::str::contains("1 findings (PHONE 1) in comment"))
        .stdout(predicate::str::contains("617-444-1234").not());
    assert!(ws.path("out.csv").exists());
    ws.deid("commented.csv", "out2.csv")
        .args(["--max-findings", "1"])
        .assert()
        .success();
}

#[test]
fn json_mode_prints_one_object_for_results_and_errors() {
    let ws = Workspace::new();
    let out = ws
        .deid("patients.csv", "out.csv")
        .arg("--json")
        .assert()
        .success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v["status"], "ok");
    assert_eq!(v["manifest"]["output"]["rows"], 6);
    let out = ws
        .deid("missing.csv", "o.csv")
        .arg("--json")
        .assert()
        .code(2);
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v["status"], "error");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("missing.csv")
    );
}

#[test]
fn profile_drafts_a_policy_that_deid_accepts() {
    let ws = Workspace::new();
    ws.cmd()
        .args(["profile", "patients.csv", "-o", "draft.toml"])
        .assert()
        .success()
        .stdout(predicate::str::contains("ssn"))
        .stdout(predicate::str::contains("123-45-6789").not())
        .stdout(predicate::str::contains("Moreau").not());
    let draft = std::fs::read_to_string(ws.path("draft.toml")).unwrap();
    assert!(!draft.contains("Moreau") && !draft.contains("123-45-6789"));
    ws.cmd()
        .args([
            "deid",
            "--policy",
            "draft.toml",
            "patients.csv",
            "-o",
            "o.csv",
            "--key-file",
            "key.hex",
        ])
        .assert()
        .success();
    let out = ws
        .cmd()
        .args(["profile", "patients.csv", "--json"])
        .assert()
        .success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v["profile"]["columns"].as_array().unwrap().len(), 10);
}

#[test]
fn demo_runs_the_whole_path_and_scans_clean() {
    let dir = tempfile::tempdir().unwrap();
    airlock(dir.path())
        .args(["demo", "--dir", "d", "--rows", "800"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "residual scan of the output:      0 findings",
        ))
        // 800 generated rows and 10 canary patients
        .stdout(predicate::str::contains("de-identified 810 rows"))
        .stdout(predicate::str::contains(": 0 canary leaks ("));
    for f in [
        "d/raw/extract.csv",
        "d/raw/encounters.csv",
        "d/raw/encounters.canaries.json",
        "d/policy.toml",
        "d/deid/encounters.csv",
        "d/deid/encounters.csv.manifest.json",
        "d/reports/risk.html",
        "d/logs/demo.log",
    ] {
        assert!(dir.path().join(f).exists(), "{f}");
    }
    // the command the demo suggests next finds nothing in what it wrote (a manifest's run
    // time is no patient's date)
    airlock(dir.path())
        .args(["scan", "d/deid"])
        .assert()
        .success()
        .stdout(predicate::str::contains("0 findings in 2 files"));
}

/// Canary values planted in every column, in malformed rows and in wrong types: none may
/// appear in anything airlock prints or writes beside the output (acceptance 7).
#[test]
fn canaries_never_leak_into_messages_or_manifests() {
    let ws = Workspace::new();
    let canaries = [
        "CANARYMRN0001",
        "Zebulon Canaryfield",
        "321-54-9876",
        "1937-04-05",
        "CANARYZIP",
        "613-555-7788",
        "canary.person@mail.com",
        "CANARYNOTE",
    ];
    let header = "mrn,name,ssn,dob,zip,age,admit_date,phone,note,hba1c\n";
    let good = format!(
        "{},{},{},{},{},97,{},{},Mr. Canaryfield {} called {},{}\n",
        canaries[0],
        canaries[1],
        canaries[2],
        canaries[3],
        canaries[4],
        canaries[3],
        canaries[5],
        canaries[7],
        canaries[6],
        "CANARYLAB"
    );
    let short = format!("{},{},{}\n", canaries[0], canaries[1], canaries[2]);
    let mut bad_utf8 = good.clone().into_bytes();
    bad_utf8.extend_from_slice(format!("{},{},\u{0}\u{ff}", canaries[0], canaries[1]).as_bytes());
    bad_utf8.extend_from_slice(b"\xff\xfe,1937-04-05,CANARYZIP,97,2020-01-01,613-555-7788,x,1\n");
    let jsonl_nested = format!(
        "{{\"mrn\":\"{}\",\"name\":\"{}\"}}\n{{\"mrn\":{{\"deep\":\"{}\"}}}}\n",
        canaries[0], canaries[1], canaries[2]
    );
    let jsonl_broken = format!(
        "{{\"mrn\":\"{}\", \"name\": \"{}\"\n",
        canaries[0], canaries[1]
    );
    let wrong_types = format!("{header}{}", good.replace("97", "ninety-seven CANARYAGE"));
    ws.write("good.csv", format!("{header}{good}"));
    ws.write("short.csv", format!("{header}{good}{short}"));
    let mut b = header.as_bytes().to_vec();
    b.extend_from_slice(&bad_utf8);
    ws.write("badutf8.csv", b);
    ws.write("nested.jsonl", jsonl_nested);
    ws.write("broken.jsonl", jsonl_broken);
    ws.write("types.csv", wrong_types);
    ws.write("fake.parquet", format!("{header}{good}"));
    let unclassified = format!(
        "{},extra\n{},{}\n",
        header.trim_end(),
        good.trim_end(),
        canaries[1]
    );
    ws.write("unclassified.csv", unclassified);

    let mut transcripts = Vec::new();
    for (input, output, json) in [
        ("good.csv", "o1.csv", false),
        ("good.csv", "o2.jsonl", true),
        ("short.csv", "o3.csv", false),
        ("badutf8.csv", "o4.csv", true),
        ("nested.jsonl", "o5.csv", false),
        ("broken.jsonl", "o6.csv", true),
        ("types.csv", "o7.parquet", false),
        ("fake.parquet", "o8.csv", false),
        ("unclassified.csv", "o9.csv", true),
    ] {
        let mut cmd = ws.deid(input, output);
        if json {
            cmd.arg("--json");
        }
        let out = cmd.output().unwrap();
        transcripts.push(String::from_utf8_lossy(&out.stdout).into_owned());
        transcripts.push(String::from_utf8_lossy(&out.stderr).into_owned());
        let manifest = ws.path(&format!("{output}.manifest.json"));
        if manifest.exists() {
            transcripts.push(std::fs::read_to_string(manifest).unwrap());
        }
    }
    for args in [
        &["profile", "good.csv"][..],
        &["profile", "good.csv", "--json"],
        &["profile", "short.csv"],
    ] {
        let out = ws.cmd().args(args).output().unwrap();
        // The draft on stdout is for a person to read: counts and names only.
        transcripts.push(String::from_utf8_lossy(&out.stdout).into_owned());
        transcripts.push(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let all = transcripts.join("\n");
    assert!(
        all.contains("row 2"),
        "the runs should have failed at known rows:\n{all}"
    );
    for c in canaries
        .iter()
        .chain(&["Canaryfield", "CANARYLAB", "CANARYAGE"])
    {
        assert!(!all.contains(c), "canary {c} leaked:\n{all}");
    }
    // the SSN's last four digits, as a number of their own (not inside a timing figure)
    let standalone = all.match_indices("9876").any(|(i, _)| {
        let before = all[..i].chars().next_back();
        let after = all[i + 4..].chars().next();
        !before.is_some_and(|c| c.is_ascii_digit() || c == '.')
            && !after.is_some_and(|c| c.is_ascii_digit())
    });
    assert!(!standalone, "canary 9876 leaked:\n{all}");
    // The output itself holds no direct identifier either.
    let out = std::fs::read_to_string(ws.path("o1.csv")).unwrap();
    for c in &canaries {
        assert!(!out.contains(c), "canary {c} in the output");
    }
}

/// Acceptance 6: SIGKILL mid-write leaves no file at the target and the input untouched.
#[cfg(unix)]
#[test]
fn sigkill_mid_write_leaves_no_output_and_the_input_intact() {
    use std::time::{Duration, Instant};
    let ws = Workspace::new();
    let input = ws.path("big.csv");
    airlock_deid::demo::write_encounters(&input, airlock_core::table::Format::Csv, 120_000, 7)
        .unwrap();
    std::fs::write(ws.path("demo.toml"), airlock_deid::demo::DEMO_POLICY).unwrap();
    let before = airlock_core::output::digest_file(&input).unwrap();
    let mut child = StdCommand::new(assert_cmd::cargo::cargo_bin("airlock"))
        .current_dir(ws.dir.path())
        .args([
            "deid",
            "--policy",
            "demo.toml",
            "big.csv",
            "-o",
            "out.csv",
            "--key-file",
            "key.hex",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the temporary output holds data, then kill.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut saw_partial = false;
    while Instant::now() < deadline {
        let partial = std::fs::read_dir(ws.dir.path()).unwrap().any(|e| {
            let e = e.unwrap();
            e.file_name().to_string_lossy().ends_with(".airlock-tmp")
                && e.metadata().map(|m| m.len() > 0).unwrap_or(false)
        });
        if partial {
            saw_partial = true;
            break;
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL on Unix
    let status = child.wait().unwrap();
    assert!(
        saw_partial,
        "the run ended before it could be killed mid-write"
    );
    assert!(!status.success());
    assert!(
        !ws.path("out.csv").exists(),
        "a killed run left an output file"
    );
    assert!(!ws.path("out.csv.manifest.json").exists());
    assert_eq!(airlock_core::output::digest_file(&input).unwrap(), before);
}
