//! airlock's Safe Harbor configuration on a small Bundle written here (and on the Synthea
//! bundles in `../shared` when they are there): references still resolve, every resource of a
//! patient moves by the same keyed number of days, identifiers are gone, narrative keeps its
//! XHTML but loses its names, and the result is the same for the same workspace secret.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

use std::collections::{BTreeSet, HashSet};

use airlock_core::keys::WorkspaceSecret;
use airlock_fhir::{Config, Engine, SAFE_HARBOR, deid_file};
use chrono::NaiveDate;
use serde_json::{Value, json};

const P: &str = "urn:uuid:3f1c2c9e-8d0a-4b9e-9c1e-2a6f0b7d5e11";
const E: &str = "urn:uuid:6a0e4c55-1f2b-4d3a-8e9f-0c1d2e3f4a5b";

fn bundle() -> Value {
    json!({
        "resourceType": "Bundle",
        "id": "b1",
        "type": "transaction",
        "entry": [
            {"fullUrl": P, "request": {"method": "POST", "url": "Patient"}, "resource": {
                "resourceType": "Patient",
                "id": "3f1c2c9e-8d0a-4b9e-9c1e-2a6f0b7d5e11",
                "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">Jane Okafor, seen by Dr. Halvorsen. <a href=\"https://mychart.example.net/Patient/okafor\">chart</a></div>"},
                "identifier": [{"system": "http://hl7.org/fhir/sid/us-ssn", "value": "999-33-5538"}],
                "name": [{"use": "official", "family": "Okafor", "given": ["Jane"]}],
                "telecom": [{"system": "phone", "value": "617-555-0142"}],
                "gender": "female",
                "birthDate": "1961-03-05",
                "address": [{"line": ["42 Quarry Hill Road"], "city": "Montpelier", "state": "VT", "postalCode": "05602"}]
            }},
            {"fullUrl": E, "request": {"method": "POST", "url": "Encounter"}, "resource": {
                "resourceType": "Encounter",
                "id": "6a0e4c55-1f2b-4d3a-8e9f-0c1d2e3f4a5b",
                "status": "finished",
                "subject": {"reference": P, "display": "Jane Okafor"},
                "period": {"start": "2023-02-14T10:15:00-05:00", "end": "2023-02-14T11:00:00-05:00"}
            }},
            {"fullUrl": "urn:uuid:9b8a7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d", "request": {"method": "POST", "url": "Observation"}, "resource": {
                "resourceType": "Observation",
                "id": "9b8a7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d",
                "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": "4548-4"}]},
                "subject": {"reference": P},
                "encounter": {"reference": E},
                "effectiveDateTime": "2023-02-15T08:00:00-05:00",
                "note": [{"text": "Jane Okafor called from 617-555-0142 about her HbA1c."}]
            }},
            {"fullUrl": "urn:uuid:1d2c3b4a-5f6e-4d7c-8b9a-0f1e2d3c4b5a", "request": {"method": "POST", "url": "Claim"}, "resource": {
                "resourceType": "Claim",
                "id": "1d2c3b4a-5f6e-4d7c-8b9a-0f1e2d3c4b5a",
                "contained": [{"resourceType": "Coverage", "id": "cov", "status": "active", "beneficiary": {"reference": P}, "period": {"start": "2023-01-01"}}],
                "patient": {"reference": P, "display": "Jane Okafor"},
                "created": "2023-02-20",
                "insurance": [{"sequence": 1, "focal": true, "coverage": {"reference": "#cov"}}]
            }}
        ]
    })
}

fn engine(secret: &WorkspaceSecret) -> Engine {
    Engine::new(
        Config::parse(SAFE_HARBOR, "safe-harbor").unwrap(),
        Some(secret),
    )
    .unwrap()
    .with_today(NaiveDate::from_ymd_opt(2026, 11, 23).unwrap())
}

fn strings(v: &Value, key: Option<&str>, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                strings(x, Some(k), out);
            }
        }
        Value::Array(a) => {
            for x in a {
                strings(x, key, out);
            }
        }
        Value::String(s) => out.push((key.unwrap_or("").to_owned(), s.clone())),
        _ => {}
    }
}

fn day_offsets(before: &Value, after: &Value) -> BTreeSet<i64> {
    fn walk(a: &Value, b: &Value, out: &mut BTreeSet<i64>) {
        match (a, b) {
            (Value::Object(x), Value::Object(y)) => {
                for (k, va) in x {
                    if let Some(vb) = y.get(k) {
                        walk(va, vb, out);
                    }
                }
            }
            (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
                for (p, q) in x.iter().zip(y) {
                    walk(p, q, out);
                }
            }
            (Value::String(p), Value::String(q)) if p.len() >= 10 && q.len() >= 10 => {
                if let (Ok(d1), Ok(d2)) = (
                    NaiveDate::parse_from_str(&p[..10], "%Y-%m-%d"),
                    NaiveDate::parse_from_str(&q[..10], "%Y-%m-%d"),
                ) {
                    out.insert((d2 - d1).num_days());
                }
            }
            _ => {}
        }
    }
    let mut out = BTreeSet::new();
    walk(before, after, &mut out);
    out
}

/// Every literal reference resolves to a full URL or a contained resource.
fn assert_references_resolve(b: &Value) {
    let urls: HashSet<String> = b["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["fullUrl"].as_str().unwrap().to_owned())
        .collect();
    let mut refs = Vec::new();
    strings(b, None, &mut refs);
    let mut n = 0;
    for (k, r) in refs {
        if k != "reference" {
            continue;
        }
        n += 1;
        if r.starts_with('#') {
            continue; // contained, checked below
        }
        assert!(urls.contains(&r), "{r} does not resolve");
    }
    assert!(n >= 5);
}

#[test]
fn a_bundle_keeps_its_links_and_its_intervals_and_loses_its_identifiers() {
    let secret = WorkspaceSecret::from_bytes([7; 32]);
    let before = bundle();
    let mut after = before.clone();
    engine(&secret).anonymize(&mut after).unwrap();
    assert_references_resolve(&after);
    // urn:uuid full URLs stay UUIDs; the contained reference follows its resource's id
    let url = after["entry"][0]["fullUrl"].as_str().unwrap();
    assert!(
        url.starts_with("urn:uuid:") && url.len() == 45 && url != P,
        "{url}"
    );
    let claim = &after["entry"][3]["resource"];
    let cov = claim["contained"][0]["id"].as_str().unwrap();
    assert_eq!(
        claim["insurance"][0]["coverage"]["reference"],
        format!("#{cov}")
    );
    // a transaction's request.url names a type, not a person: kept
    assert_eq!(after["entry"][1]["request"]["url"], "Encounter");
    // one patient, one shift, in every resource (the contained Coverage too)
    let offsets = day_offsets(&before, &after);
    assert_eq!(offsets.len(), 1, "{offsets:?}");
    assert!(!offsets.contains(&0));
    // identifiers gone in any field
    let text = after.to_string();
    for phi in [
        "Okafor",
        "Jane",
        "999-33-5538",
        "617-555-0142",
        "Quarry Hill",
        "Montpelier",
        "05602",
        "1961-03-05",
        "Halvorsen",
        "mychart",
    ] {
        assert!(!text.contains(phi), "{phi} survives");
    }
    // narrative: valid XHTML left, names gone; ZIP3 and state kept (Safe Harbor)
    let div = after["entry"][0]["resource"]["text"]["div"]
        .as_str()
        .unwrap();
    assert!(
        div.starts_with("<div xmlns=\"http://www.w3.org/1999/xhtml\">"),
        "{div}"
    );
    assert!(div.contains("<a href=\"#\">"), "{div}");
    let address = &after["entry"][0]["resource"]["address"][0];
    assert_eq!(address["state"], "VT");
    assert_eq!(address["postalCode"], "05600");
    assert_eq!(
        after["entry"][0]["resource"]["birthDate"]
            .as_str()
            .unwrap()
            .len(),
        10
    );
    // labels
    let labels: Vec<&str> = after["entry"][0]["resource"]["meta"]["security"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["code"].as_str().unwrap())
        .collect();
    assert!(
        labels.contains(&"REDACTED")
            && labels.contains(&"CRYTOHASH")
            && labels.contains(&"PERTURBED")
    );
    // keyed: the same secret gives the same output, another gives other ids and shifts
    let mut again = before.clone();
    engine(&secret).anonymize(&mut again).unwrap();
    assert_eq!(again, after);
    let mut other = before.clone();
    engine(&WorkspaceSecret::from_bytes([8; 32]))
        .anonymize(&mut other)
        .unwrap();
    assert_ne!(other["entry"][0]["fullUrl"], after["entry"][0]["fullUrl"]);
}

#[test]
fn ndjson_streams_and_a_bad_line_is_named_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let secret = WorkspaceSecret::from_bytes([7; 32]);
    let lines: Vec<String> = bundle()["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["resource"].to_string())
        .collect();
    let input = dir.path().join("export.ndjson");
    std::fs::write(&input, lines.join("\n") + "\n").unwrap();
    let output = dir.path().join("out.ndjson");
    let r = deid_file(&mut engine(&secret), &input, &output, false).unwrap();
    assert_eq!(r.lines, 4);
    let out = std::fs::read_to_string(&output).unwrap();
    assert_eq!(out.lines().count(), 4);
    for l in out.lines() {
        let v: Value = serde_json::from_str(l).unwrap();
        assert!(v["resourceType"].is_string());
        assert!(!l.contains("Okafor"));
    }
    // the patient's shift is the same in a bulk export, where resources refer by type/id
    let bad = dir.path().join("bad.ndjson");
    std::fs::write(
        &bad,
        format!(
            "{}\n{{\"resourceType\": \"Patient\", \"name\": [{{\"family\": \"Okafor\"\n",
            lines[0]
        ),
    )
    .unwrap();
    let e = deid_file(
        &mut engine(&secret),
        &bad,
        &dir.path().join("bad.out.ndjson"),
        false,
    )
    .unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("bad.ndjson") && msg.contains("row 2"), "{msg}");
    assert!(!msg.contains("Okafor"));
    assert!(!dir.path().join("bad.out.ndjson").exists());
}

#[test]
fn a_bulk_export_directory_keeps_patients_linked_across_files() {
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("export");
    std::fs::create_dir(&export).unwrap();
    let patient = json!({"resourceType": "Patient", "id": "123", "name": [{"family": "Okafor"}], "birthDate": "1961-03-05"});
    let obs = json!({"resourceType": "Observation", "id": "o1", "status": "final",
        "code": {"text": "HbA1c"}, "subject": {"reference": "Patient/123"}, "effectiveDateTime": "1961-03-05"});
    std::fs::write(export.join("Patient.ndjson"), format!("{patient}\n")).unwrap();
    std::fs::write(export.join("Observation.ndjson"), format!("{obs}\n")).unwrap();
    std::fs::write(export.join("manifest.txt"), "not a resource").unwrap();
    let secret = WorkspaceSecret::from_bytes([7; 32]);
    let out = dir.path().join("deid");
    let r = deid_file(&mut engine(&secret), &export, &out, false).unwrap();
    assert_eq!((r.files, r.lines, r.skipped.len()), (2, 2, 1));
    let read = |name: &str| -> Value {
        serde_json::from_str(std::fs::read_to_string(out.join(name)).unwrap().trim()).unwrap()
    };
    let (p, o) = (read("Patient.ndjson"), read("Observation.ndjson"));
    assert_eq!(
        o["subject"]["reference"],
        format!("Patient/{}", p["id"].as_str().unwrap())
    );
    // the same day in both files moved by the patient's one offset
    assert_eq!(
        p["birthDate"].as_str().unwrap(),
        &o["effectiveDateTime"].as_str().unwrap()[..10]
    );
    assert_ne!(p["birthDate"], "1961-03-05");
    assert!(!out.join("manifest.txt").exists());
    // a bad file anywhere: no output directory at all
    std::fs::write(export.join("Bad.ndjson"), "{not json\n").unwrap();
    let again = dir.path().join("again");
    assert!(deid_file(&mut engine(&secret), &export, &again, false).is_err());
    assert!(!again.exists());
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left.len(), 2, "{left:?}");
}

#[test]
fn synthea_bundles_when_present() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/fhir/synthea");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        // CI runs beside a copy of shared/: there, a missing corpus is a failure, not a skip.
        assert!(
            std::env::var_os("CI").is_none(),
            "{} is missing on CI",
            dir.display()
        );
        eprintln!("skipped: {} is absent", dir.display());
        return;
    };
    let secret = WorkspaceSecret::from_bytes([7; 32]);
    let mut n = 0;
    for e in entries {
        let path = e.unwrap().path();
        if path.extension().is_none_or(|x| x != "json") {
            continue;
        }
        let before: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let mut after = before.clone();
        let mut e = engine(&secret);
        e.anonymize(&mut after).unwrap();
        // real R4 data: the fail-closed sweep has nothing to remove
        assert_eq!(
            e.counts.removed,
            airlock_fhir::strict::Removed::default(),
            "{}",
            path.display()
        );
        assert_references_resolve(&after);
        let patient = before["entry"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["resource"]["resourceType"] == "Patient")
            .unwrap();
        let text = after.to_string();
        let name = &patient["resource"]["name"][0];
        for phi in [
            name["family"].as_str().unwrap(),
            name["given"][0].as_str().unwrap(),
            patient["resource"]["birthDate"].as_str().unwrap(),
        ] {
            assert!(!text.contains(phi), "{}: {phi} survives", path.display());
        }
        n += 1;
    }
    assert_eq!(n, 3);
}

/// Record-aware narrative: what the Bundle's Patient says of the patient (name, phone,
/// address, identifiers) is removed from every narrative and note of the Bundle, in the forms
/// a note writes it, even where the detector's rules alone keep it (balanced mode).
#[test]
fn the_bundles_own_people_are_removed_from_its_notes() {
    let secret = WorkspaceSecret::from_bytes([7; 32]);
    let mut b = json!({
        "resourceType": "Bundle", "type": "collection",
        "entry": [
            {"fullUrl": P, "resource": {
                "resourceType": "Patient", "id": "p1",
                "name": [{"family": "Quillfeather", "given": ["Barnaby"]}],
                "telecom": [{"system": "phone", "value": "(603) 482-1193"}],
                "address": [{"line": ["888 Old Mill Pike"], "city": "Millinocket", "postalCode": "04462"}],
                "identifier": [{"value": "MR-4821397"}]
            }},
            {"fullUrl": E, "resource": {
                "resourceType": "Observation", "id": "o1", "status": "final",
                "code": {"text": "note"},
                "subject": {"reference": P},
                "note": [{"text": "Discussed with barnaby; QUILLFEATHER family at 888 old mill pike, millinocket, tel 603.482.1193, chart 4821397."}],
                "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">Quillfeather reviewed</div>"}
            }}
        ]
    });
    let mut e = engine(&secret).with_text_mode(airlock_core::text::DetectionMode::Balanced);
    e.anonymize(&mut b).unwrap();
    let out = b.to_string().to_lowercase();
    for v in [
        "quillfeather",
        "barnaby",
        "old mill",
        "millinocket",
        "482",
        "4821397",
    ] {
        assert!(!out.contains(v), "{v} survives: {out}");
    }
}

/// Record-aware bulk export: a note in Observation.ndjson is scrubbed of what Patient.ndjson,
/// RelatedPerson.ndjson and Practitioner.ndjson say about the people it references (in
/// balanced mode, where the rules alone keep these names); another patient's note is not
/// searched for them.
#[test]
fn a_bulk_exports_people_are_removed_from_the_notes_that_reference_them() {
    let secret = WorkspaceSecret::from_bytes([7; 32]);
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("export");
    std::fs::create_dir(&export).unwrap();
    let lines = |values: &[Value]| values.iter().map(|v| format!("{v}\n")).collect::<String>();
    // the notes come first in the walk: the people must be gathered before
    std::fs::write(
        export.join("Observation.ndjson"),
        lines(&[
            json!({"resourceType": "Observation", "id": "o1", "status": "final",
                "code": {"text": "note"}, "subject": {"reference": "Patient/p1"},
                "performer": [{"reference": "Practitioner/dr9"}],
                "note": [{"text": "quillfeather seen with wife marisol; dob 3/4/1950; \
                    reviewed by brenwick; call 603.482.1193"}]}),
            json!({"resourceType": "Observation", "id": "o2", "status": "final",
                "code": {"text": "note"}, "subject": {"reference": "Patient/p2"},
                "note": [{"text": "asked about the Quillfeather family"}]}),
        ]),
    )
    .unwrap();
    std::fs::write(
        export.join("Patient.ndjson"),
        lines(&[
            json!({"resourceType": "Patient", "id": "p1",
                "name": [{"family": "Quillfeather", "given": ["Barnaby"]}],
                "telecom": [{"system": "phone", "value": "(603) 482-1193"}],
                "birthDate": "1950-03-04"}),
            json!({"resourceType": "Patient", "id": "p2",
                "name": [{"family": "Oduya", "given": ["Tobi"]}]}),
        ]),
    )
    .unwrap();
    std::fs::write(
        export.join("RelatedPerson.ndjson"),
        lines(&[json!({"resourceType": "RelatedPerson", "id": "r1",
            "patient": {"reference": "Patient/p1"},
            "name": [{"family": "Quillfeather", "given": ["Marisol"]}]})]),
    )
    .unwrap();
    std::fs::write(
        export.join("Practitioner.ndjson"),
        lines(&[json!({"resourceType": "Practitioner", "id": "dr9",
            "name": [{"family": "Brenwick", "given": ["Olsa"]}]})]),
    )
    .unwrap();
    let out = dir.path().join("out");
    let mut e = engine(&secret).with_text_mode(airlock_core::text::DetectionMode::Balanced);
    deid_file(&mut e, &export, &out, false).unwrap();
    assert_eq!(e.people().len(), 4, "p1, p2, r1 and dr9 remembered");
    let notes = std::fs::read_to_string(out.join("Observation.ndjson")).unwrap();
    let (first, second) = notes.split_once('\n').unwrap();
    let first = first.to_lowercase();
    for v in ["quillfeather", "marisol", "brenwick", "1950", "482"] {
        assert!(!first.contains(v), "{v} survives: {first}");
    }
    assert!(
        second.contains("Quillfeather"),
        "another patient's note was searched for p1's people: {second}"
    );
}
