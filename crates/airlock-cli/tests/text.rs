//! End-to-end tests of `airlock text`, `airlock scan` and `airlock eval text`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use predicates::prelude::*;

mod common;
use common::{airlock, convert_table, fixtures, golden, set_mode};

/// Identifiers in `tests/fixtures/note.txt` that no output may show.
const NOTE_VALUES: &[&str] = &[
    "Halvorsen",
    "Okafor",
    "Calvert",
    "Catonsville",
    "Veronica",
    "410-555-2368",
    "00123456",
    "123-45-6789",
    "v.okafor@mailbox.net",
    "3/7/2021",
    "Quartermain",
];

fn note() -> String {
    std::fs::read_to_string(fixtures().join("note.txt")).unwrap()
}

fn with_key(dir: &Path) -> std::path::PathBuf {
    let key = dir.join("key.hex");
    std::fs::copy(fixtures().join("test-key.hex"), &key).unwrap();
    set_mode(&key, 0o600);
    key
}

#[test]
fn redact_reads_stdin_and_matches_golden() {
    let dir = tempfile::tempdir().unwrap();
    let out = airlock(dir.path())
        .args(["text", "redact"])
        .write_stdin(note())
        .assert()
        .success()
        .stderr("");
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    golden("note.redacted.txt", &text);
    for v in NOTE_VALUES {
        assert!(!text.contains(v), "{v} survived redaction:\n{text}");
    }
    for kept in [
        "BP 118/64",
        "Crackles 1/3 up",
        "Pain 3/10",
        "Lasix 40 mg",
        "92 y/o woman",
    ] {
        let kept = kept.replace("92", "[AGE]");
        assert!(text.contains(&kept), "{kept} should stay:\n{text}");
    }
}

#[test]
fn surrogate_is_keyed_consistent_and_shape_keeping() {
    let dir = tempfile::tempdir().unwrap();
    let key = with_key(dir.path());
    let run = |patient: &str| {
        let out = airlock(dir.path())
            .args(["text", "surrogate", "--key-file"])
            .arg(&key)
            .args(["--patient", patient, "--date-shift", "10", "-"])
            .write_stdin(note())
            .assert()
            .success();
        String::from_utf8(out.get_output().stdout.clone()).unwrap()
    };
    let a = run("P1");
    assert_eq!(a, run("P1"), "same key and patient, same surrogates");
    assert_ne!(a, run("P2"), "surrogates are keyed by patient");
    for v in NOTE_VALUES {
        assert!(!a.contains(v), "{v} survived:\n{a}");
    }
    assert!(
        a.contains("admitted 3/17/2021"),
        "dates move by --date-shift:\n{a}"
    );
    assert!(
        a.contains("-555-01"),
        "phones become fictional 555-01xx:\n{a}"
    );
    assert!(
        a.contains("SSN 9"),
        "SSNs move to the never-issued 9xx area:\n{a}"
    );
    assert!(a.contains("@example.org"), "{a}");
    assert!(a.contains("BP 118/64") && a.contains("Pain 3/10"));
    // a file in, a file out (atomic), with a summary that names no value
    std::fs::write(dir.path().join("note.txt"), note()).unwrap();
    airlock(dir.path())
        .args([
            "text",
            "surrogate",
            "note.txt",
            "-o",
            "note.out.txt",
            "--patient",
            "P1",
            "--date-shift",
            "10",
            "--key-file",
        ])
        .arg(&key)
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "identifiers replaced by surrogates",
        ));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("note.out.txt")).unwrap(),
        a
    );
    airlock(dir.path())
        .args(["text", "redact", "note.txt", "-o", "note.txt", "--force"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("never writes over its input"));
}

#[test]
fn surrogate_without_a_key_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    airlock(dir.path())
        .args(["text", "surrogate"])
        .write_stdin(note())
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains("no workspace secret found"))
        .stderr(predicate::str::contains("airlock init"));
}

#[test]
fn scan_locates_findings_without_values_and_sets_the_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("tree")).unwrap();
    std::fs::write(d.join("tree/note.txt"), note()).unwrap();
    std::fs::write(
        d.join("tree/clean.log"),
        "job started\njob finished in 3 s\n",
    )
    .unwrap();
    std::fs::write(
        d.join("tree/table.csv"),
        "id,comment\n1,Call 617-555-1234\n2,fine\n",
    )
    .unwrap();
    let out = airlock(d).args(["scan", "tree"]).assert().code(1);
    let stdout = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(
        stdout.contains("tree/table.csv (csv): 1 findings (PHONE 1)"),
        "{stdout}"
    );
    assert!(stdout.contains("row 1 column \"comment\""), "{stdout}");
    assert!(
        stdout.contains("tree/clean.log (text): 0 findings"),
        "{stdout}"
    );
    assert!(stdout.contains("line 2"), "{stdout}");
    for v in NOTE_VALUES.iter().chain(&["617-555-1234"]) {
        assert!(
            !stdout.contains(v),
            "{v} leaked into the scan report:\n{stdout}"
        );
    }
    // JSON, and a tolerance
    let out = airlock(d)
        .args(["scan", "tree", "--json", "--max", "1000"])
        .assert()
        .success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v["status"], "ok");
    assert!(v["report"]["total"].as_u64().unwrap() >= 10);
    let raw = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    for val in NOTE_VALUES {
        assert!(!raw.contains(val), "{val} leaked into the JSON report");
    }
    // clean tree: exit 0
    airlock(d)
        .args(["scan", "tree/clean.log"])
        .assert()
        .success();
    // broken JSON: exit 2, the file and line named, no content
    std::fs::write(d.join("bad.json"), "{\n\"ssn\": \"123-45-6789\",\n").unwrap();
    airlock(d)
        .args(["scan", "bad.json"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("bad.json"))
        .stderr(predicate::str::contains("123-45").not());
    airlock(d)
        .args(["scan", "missing-dir"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("missing-dir"));
}

#[test]
fn scan_of_deid_output_uses_its_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for f in ["patients.csv", "policy.toml"] {
        std::fs::copy(fixtures().join(f), d.join(f)).unwrap();
    }
    let key = with_key(d);
    airlock(d)
        .args([
            "deid",
            "--policy",
            "policy.toml",
            "patients.csv",
            "-o",
            "out.csv",
            "--key-file",
        ])
        .arg(&key)
        .assert()
        .success();
    let out = airlock(d).args(["scan", "out.csv"]).assert().success();
    let stdout = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(stdout.contains("out.csv (csv): 0 findings"), "{stdout}");
    assert!(
        stdout.contains("not scanned (transformed by airlock deid"),
        "{stdout}"
    );
    // the raw input is full of identifiers
    airlock(d).args(["scan", "patients.csv"]).assert().code(1);
}

#[test]
fn eval_text_scores_a_gold_corpus() {
    let dir = tempfile::tempdir().unwrap();
    let gold = fixtures().join("gold.jsonl");
    let out = airlock(dir.path())
        .args(["eval", "text", "--json", "--gold"])
        .arg(&gold)
        .assert()
        .success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v["evaluation"]["notes"], 4);
    assert_eq!(
        v["evaluation"]["all"]["gold"], 7,
        "the optional year is not required"
    );
    assert!(v["recall"].as_f64().unwrap() >= 0.99, "{v}");
    assert!(v["precision"].as_f64().unwrap() >= 0.99, "{v}");
    airlock(dir.path())
        .args(["eval", "text", "--min-recall", "1.01", "--gold"])
        .arg(&gold)
        .assert()
        .code(1)
        .stdout(predicate::str::contains("binary recall"));
    std::fs::write(
        dir.path().join("bad.jsonl"),
        "{\"id\": \"1\", \"text\": \"Dr. Secretname\"\nnot json\n",
    )
    .unwrap();
    airlock(dir.path())
        .args(["eval", "text", "--gold", "bad.jsonl"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("line 1"))
        .stderr(predicate::str::contains("Secretname").not());
}

/// The floor on text the detector was never fitted to: a corpus generated with identifiers
/// from sources the detector does not use (invented names in six spellings, small invented
/// towns, continental and UK addresses, international numbers), in strict mode; balanced mode
/// is reported beside it.
#[test]
fn generated_unseen_text_recall_holds() {
    let dir = tempfile::tempdir().unwrap();
    let gold = dir.path().join("generated.jsonl");
    let corpus = airlock_canary::corpus::generate(2026, 300, 300);
    std::fs::write(&gold, airlock_canary::corpus::to_jsonl(&corpus)).unwrap();
    let out = airlock(dir.path())
        .args([
            "eval",
            "text",
            "--json",
            "--min-recall",
            "0.97",
            "--min-precision",
            "0.97",
            "--gold",
        ])
        .arg(&gold)
        .assert();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(
        v["status"], "ok",
        "strict recall {} precision {}",
        v["recall"], v["precision"]
    );
    assert_eq!(v["mode"], "strict");
    let balanced = v["modes"]["balanced"]["recall"].as_f64().unwrap();
    assert!(
        balanced < v["recall"].as_f64().unwrap(),
        "the safety net adds recall on unseen text: balanced {balanced}, strict {}",
        v["recall"]
    );
    // the figures name no text of the corpus
    let printed = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    for note in corpus.iter().take(50) {
        for s in &note.spans {
            let value: String = note
                .text
                .chars()
                .skip(s.start)
                .take(s.end - s.start)
                .collect();
            if value.chars().count() >= 6 {
                assert!(!printed.contains(&value), "a gold value was printed");
            }
        }
    }
}

/// The acceptance figures on the PhysioNet deid corpus, when `../shared` has it (it may not be
/// copied into this repository). Skips, saying so, when it is absent; fails when absent on CI.
#[test]
fn notes_dev_recall_and_precision_hold() {
    let gold = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/notes-dev/physionet-deid-gold.jsonl");
    if !gold.exists() {
        // CI runs beside a copy of shared/: there, a missing corpus is a failure, not a skip.
        assert!(
            std::env::var_os("CI").is_none(),
            "{} is missing on CI",
            gold.display()
        );
        eprintln!("skipped: {} is absent", gold.display());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = airlock(dir.path())
        .args([
            "eval",
            "text",
            "--json",
            "--min-recall",
            "0.97",
            "--min-precision",
            "0.85",
            "--gold",
        ])
        .arg(&gold)
        .assert();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(
        v["status"], "ok",
        "recall {} precision {}",
        v["recall"], v["precision"]
    );
}

#[test]
fn scan_reads_parquet_cell_by_cell() {
    use airlock_core::table::Format;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // the fixture table, as Parquet, through the library's own reader and writer
    convert_table(
        &fixtures().join("patients.csv"),
        Format::Csv,
        &d.join("patients.parquet"),
        Format::Parquet,
    );
    let out = airlock(d)
        .args(["scan", "patients.parquet", "--json"])
        .assert()
        .code(1);
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let file = &v["report"]["files"][0];
    assert_eq!(file["read_as"], "parquet");
    assert!(file["by_kind"]["SSN"].as_u64().unwrap() >= 1, "{file}");
    assert!(
        file["locations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["column"] == "ssn" && l["row"].as_u64().is_some())
    );
}

/// Record-aware scrubbing on notes: `--known` values are removed in their easy forms even
/// where the detector alone would keep them.
#[test]
fn known_values_are_removed_in_their_easy_forms() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let known = d.join("known.json");
    std::fs::write(
        &known,
        r#"{"NAME": ["Ada Quillfeather"], "PHONE": ["(603) 482-1193"], "ADDRESS": ["888 Old Mill Pike"], "MRN": ["MR-4821397"]}"#,
    )
    .unwrap();
    let note = "QUILLFEATHER, ADA seen; call 603.482.1193. Lives at 888 old mill pike. chart 4821397. Ada says hi.";
    let out = airlock(d)
        // the rules alone: what they miss, the known values must catch
        .args(["text", "redact", "--mode", "balanced", "--known"])
        .arg(&known)
        .write_stdin(note)
        .assert()
        .success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).to_lowercase();
    for v in ["quillfeather", "ada", "482", "old mill", "4821397"] {
        assert!(!text.contains(v), "{v} survives: {text}");
    }
    // a --known file that is not one is refused, exit 2, without its values
    std::fs::write(&known, r#"{"Barnaby Quillfeather": ["x"]}"#).unwrap();
    let out = airlock(d)
        .args(["text", "redact", "--known"])
        .arg(&known)
        .write_stdin("x")
        .assert()
        .code(2);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(
        err.contains("no identifier kind") && !err.contains("Barnaby"),
        "{err}"
    );
}

/// Record-aware scrubbing in tables: the row's identifying values are removed from its own
/// note, in CSV and Parquet alike, though the note writes them differently.
#[test]
fn a_rows_identifiers_never_survive_in_its_note() {
    use airlock_core::table::Format;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("policy.toml"),
        "[dataset]\nname = \"t\"\npatient_id = \"mrn\"\n\
         [fields.mrn]\nclass = \"direct_identifier\"\naction = \"tokenize\"\n\
         [fields.patient_name]\nclass = \"direct_identifier\"\naction = \"drop\"\n\
         [fields.phone]\nclass = \"direct_identifier\"\naction = \"drop\"\n\
         [fields.street]\nclass = \"direct_identifier\"\naction = \"drop\"\n\
         [fields.note]\nclass = \"free_text\"\naction = \"text_redact\"\n",
    )
    .unwrap();
    // names no dictionary holds, written in the note in other cases and orders
    let rows = [
        (
            "MR-4821397",
            "Ada Quillfeather",
            "603-482-1193",
            "888 Old Mill Pike",
            "QUILLFEATHER, ADA called from 6034821193 about 888 old mill pike; chart 4821397.",
        ),
        (
            "MR-7700123",
            "Brisko Vandermolt",
            "(207) 555-0199",
            "12 Fernhollow Trace",
            "spoke with vandermolt, b. at 12 fernhollow trace; brisko agrees.",
        ),
    ];
    let mut csv = String::from("mrn,patient_name,phone,street,note\n");
    for (m, n, p, s, note) in rows {
        csv.push_str(&format!("{m},{n},\"{p}\",{s},\"{note}\"\n"));
    }
    std::fs::write(d.join("in.csv"), &csv).unwrap();
    convert_table(
        &d.join("in.csv"),
        Format::Csv,
        &d.join("in.parquet"),
        Format::Parquet,
    );
    airlock(d).arg("init").assert().success();
    for (input, output) in [("in.csv", "out.csv"), ("in.parquet", "out.parquet")] {
        airlock(d)
            // the rules alone: what they miss, the row's own values must catch
            .args([
                "deid",
                "--text-mode",
                "balanced",
                "--policy",
                "policy.toml",
                input,
                "-o",
                output,
            ])
            .assert()
            .code(predicate::in_iter([0, 1]));
        let out_csv = d.join(format!("{output}.csv"));
        let text = if output.ends_with("parquet") {
            convert_table(&d.join(output), Format::Parquet, &out_csv, Format::Csv);
            std::fs::read_to_string(&out_csv).unwrap()
        } else {
            std::fs::read_to_string(d.join(output)).unwrap()
        }
        .to_lowercase();
        for v in [
            "quillfeather",
            "ada",
            "6034821193",
            "old mill",
            "4821397",
            "vandermolt",
            "brisko",
            "fernhollow",
        ] {
            assert!(!text.contains(v), "{output}: {v} survives:\n{text}");
        }
    }
}

/// Record-aware across rows: what any row of a patient says is removed from every note of that
/// patient, also from a note that comes before the row that says it; another patient's note is
/// not searched for it.
#[test]
fn a_patients_identifiers_are_removed_from_all_of_its_notes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("policy.toml"),
        "[dataset]\nname = \"t\"\npatient_id = \"mrn\"\n\
         [fields.mrn]\nclass = \"direct_identifier\"\naction = \"tokenize\"\n\
         [fields.patient_name]\nclass = \"direct_identifier\"\naction = \"drop\"\n\
         [fields.phone]\nclass = \"direct_identifier\"\naction = \"drop\"\n\
         [fields.note]\nclass = \"free_text\"\naction = \"text_redact\"\n",
    )
    .unwrap();
    std::fs::write(
        d.join("in.csv"),
        "mrn,patient_name,phone,note\n\
         MR-1,,,\"vandermolt called back from 6034821193, feeling better\"\n\
         MR-2,,,\"seen with Vandermolt's neighbour\"\n\
         MR-1,Brisko Vandermolt,603-482-1193,follow up in two weeks\n",
    )
    .unwrap();
    airlock(d).arg("init").assert().success();
    airlock(d)
        .args([
            "deid",
            "--text-mode",
            "balanced",
            "--policy",
            "policy.toml",
            "in.csv",
            "-o",
            "out.csv",
        ])
        .assert()
        .code(predicate::in_iter([0, 1]));
    let out = std::fs::read_to_string(d.join("out.csv")).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        !lines[1].to_lowercase().contains("vandermolt") && !lines[1].contains("6034821193"),
        "the first note keeps what a later row of its patient says:\n{out}"
    );
    assert!(
        lines[2].contains("Vandermolt"),
        "another patient's note was searched for this patient's name:\n{out}"
    );
}
