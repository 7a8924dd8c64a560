//! One patient clock: the same patient in a CSV, a clinical note, a FHIR Bundle and a DICOM
//! study, de-identified by four commands under one workspace and one shift range, ends with the
//! same dates moved by the same number of days in all four, and (where the format keeps an id)
//! the same patient token.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use chrono::NaiveDate;
use common::{airlock, fixtures, set_mode};
use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::tags;

const PATIENT: &str = "MRN-0042917";

fn moved(day: &str, fmt: &str) -> i64 {
    let d = NaiveDate::parse_from_str(day, fmt).unwrap();
    (d - NaiveDate::from_ymd_opt(2021, 3, 14).unwrap()).num_days()
}

#[test]
fn one_patient_has_one_token_and_one_shift_in_a_table_a_note_fhir_and_dicom() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::copy(fixtures().join("test-key.hex"), d.join("key.hex")).unwrap();
    set_mode(&d.join("key.hex"), 0o600);
    let run = |args: &[&str]| {
        airlock(d)
            .args(args)
            .args(["--key-file", "key.hex"])
            .assert()
            .success();
    };

    // a table
    std::fs::write(
        d.join("t.csv"),
        format!("mrn,admit_date\n{PATIENT},2021-03-14\n"),
    )
    .unwrap();
    std::fs::write(
        d.join("p.toml"),
        "[dataset]\nname = \"x\"\npatient_id = \"mrn\"\n[defaults]\ndate_shift_days = 365\n\
         [fields.mrn]\nclass = \"direct_identifier\"\naction = \"tokenize\"\n\
         [fields.admit_date]\nclass = \"date\"\naction = \"date_shift\"\n",
    )
    .unwrap();
    run(&["deid", "--policy", "p.toml", "t.csv", "-o", "t.out.csv"]);
    let table = std::fs::read_to_string(d.join("t.out.csv")).unwrap();
    let row: Vec<&str> = table.lines().nth(1).unwrap().split(',').collect();
    let token = row[0].to_owned();
    let table_day = row[1].to_owned();
    assert_eq!(token.len(), 24, "{table}");
    let days = moved(&table_day, "%Y-%m-%d");
    assert_ne!(days, 0);

    // a note
    std::fs::write(d.join("n.txt"), "Admitted 2021-03-14 for chest pain.\n").unwrap();
    run(&[
        "text",
        "surrogate",
        "--patient",
        PATIENT,
        "n.txt",
        "-o",
        "n.out.txt",
    ]);
    let note = std::fs::read_to_string(d.join("n.out.txt")).unwrap();
    let note_day = note.split_whitespace().nth(1).unwrap();
    assert_eq!(moved(note_day, "%Y-%m-%d"), days, "{note}");

    // a FHIR Bundle
    let bundle = serde_json::json!({
        "resourceType": "Bundle", "type": "collection",
        "entry": [
            {"resource": {"resourceType": "Patient", "id": PATIENT}},
            {"resource": {"resourceType": "Encounter", "id": "e1", "status": "finished",
                          "class": {"code": "AMB"},
                          "subject": {"reference": format!("Patient/{PATIENT}")},
                          "period": {"start": "2021-03-14"}}}
        ]
    });
    std::fs::write(d.join("b.json"), bundle.to_string()).unwrap();
    run(&["fhir", "deid", "b.json", "-o", "b.out.json"]);
    let out: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("b.out.json")).unwrap()).unwrap();
    let fhir_day = out["entry"][1]["resource"]["period"]["start"]
        .as_str()
        .unwrap();
    assert_eq!(moved(fhir_day, "%Y-%m-%d"), days, "{out}");
    assert_eq!(out["entry"][0]["resource"]["id"], token.as_str(), "{out}");
    assert_eq!(
        out["entry"][1]["resource"]["subject"]["reference"],
        format!("Patient/{token}"),
        "{out}"
    );

    // a DICOM study, dates kept shifted under Retain Longitudinal Temporal Information
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../airlock-dicom/tests/data/pydicom_CT_small.dcm");
    let mut obj = dicom_object::open_file(&src).unwrap();
    obj.put(DataElement::new(
        tags::PATIENT_ID,
        VR::LO,
        PrimitiveValue::from(PATIENT),
    ));
    obj.put(DataElement::new(
        tags::STUDY_DATE,
        VR::DA,
        PrimitiveValue::from("20210314"),
    ));
    obj.write_to_file(d.join("s.dcm")).unwrap();
    run(&[
        "dicom",
        "deid",
        "s.dcm",
        "-o",
        "s.out.dcm",
        "--option",
        "retain-long-modified-dates",
    ]);
    let out = dicom_object::open_file(d.join("s.out.dcm")).unwrap();
    let study_day = out
        .element(tags::STUDY_DATE)
        .unwrap()
        .to_str()
        .unwrap()
        .trim()
        .to_owned();
    assert_eq!(moved(&study_day, "%Y%m%d"), days);
    let id = out
        .element(tags::PATIENT_ID)
        .unwrap()
        .to_str()
        .unwrap()
        .trim()
        .to_owned();
    assert_eq!(id, token);
}
