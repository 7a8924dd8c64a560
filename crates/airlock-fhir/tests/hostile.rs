//! No input panics the engine: resources with arbitrary strings and values where dates,
//! ages and codes belong, under Microsoft's sample configuration (which copies what it does
//! not know) and under airlock's Safe Harbor configuration (which sweeps it first).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use airlock_core::keys::WorkspaceSecret;
use airlock_fhir::{Config, Engine, SAFE_HARBOR};
use proptest::prelude::*;
use serde_json::{Value, json};

fn engines() -> Vec<Engine> {
    let ms = Config::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/ms/configuration-sample.json"),
    )
    .unwrap();
    let sh = Config::parse(SAFE_HARBOR, "safe-harbor").unwrap();
    let secret = WorkspaceSecret::from_bytes([3; 32]);
    vec![
        Engine::new(ms, None).unwrap(),
        Engine::new(sh, Some(&secret)).unwrap(),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<String>().prop_map(Value::from),
        "[0-9é-]{0,12}".prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<bool>().prop_map(Value::from),
        Just(Value::Null),
        Just(json!({"a": [1, "x"]})),
        Just(json!(["1956", 3])),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn arbitrary_values_never_panic(
        birth in value(),
        deceased in value(),
        given in value(),
        zip in value(),
        extra in value(),
        ty in prop_oneof![Just("Patient".to_owned()), "[A-Za-z]{1,12}"],
    ) {
        for mut engine in engines() {
            let mut r = json!({
                "resourceType": ty,
                "id": "p1",
                "birthDate": birth,
                "deceasedDateTime": deceased,
                "name": [{"given": [given.clone()], "family": given.clone()}],
                "address": [{"postalCode": zip.clone(), "city": zip.clone()}],
                "extra": extra.clone(),
                "contained": [{"resourceType": "Observation", "id": "o", "valueQuantity": {"value": extra.clone()},
                               "effectiveDateTime": birth.clone()}],
            });
            let _ = engine.anonymize(&mut r);
        }
    }
}

fn narrative(div: &str) -> String {
    let secret = WorkspaceSecret::from_bytes([3; 32]);
    let mut engine = Engine::new(
        Config::parse(SAFE_HARBOR, "safe-harbor").unwrap(),
        Some(&secret),
    )
    .unwrap();
    let mut r = json!({
        "resourceType": "Observation", "id": "o1", "status": "final",
        "code": {"text": "x"},
        "text": {"status": "generated", "div": div},
    });
    engine.anonymize(&mut r).unwrap();
    r["text"]["div"].as_str().unwrap_or("").to_owned()
}

#[test]
fn narrative_attributes_scripts_and_entities_are_scrubbed() {
    let div = "<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>Seen <a href='mailto:jh@example.net' \
               title=\"John Halvorsen, SSN 123-45-6789\" onclick=\"steal()\">here</a> by \
               Dr.&#32;Hal&#x76;orsen on 3/14/2021.</p><script>var ssn='123-45-6789';</script>\
               <style>p{background:url(https://x.net/Halvorsen)}</style><!-- MRN 4417 Halvorsen -->\
               <img src=\"https://x.net/okafor.png\" alt=\"photo of Jane Okafor\"/>\
               <blink>Call 617-555-1234</blink></div>";
    let out = narrative(div);
    for leak in [
        "Halvorsen",
        "Halvorsen",
        "123-45-6789",
        "jh@example",
        "mailto",
        "steal",
        "onclick",
        "x.net",
        "4417",
        "Okafor",
        "617-555-1234",
        "3/14/2021",
        "<script",
        "<style",
        "blink",
    ] {
        assert!(!out.contains(leak), "{leak} in {out}");
    }
    assert!(
        out.starts_with("<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>"),
        "{out}"
    );
    assert!(
        out.contains("href=\"#\"") && out.contains("src=\"#\""),
        "{out}"
    );
    assert!(out.contains("[NAME]") && out.contains("[PHONE]"), "{out}");
    // the output is well-formed XHTML
    let mut reader = quick_xml::Reader::from_str(&out);
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(_) => {}
            Err(e) => panic!("not well-formed: {e} in {out}"),
        }
    }
}

#[test]
fn malformed_narrative_is_replaced_whole() {
    let out =
        narrative("<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>Jane Okafor <b>unclosed</div>");
    assert!(!out.contains("Okafor"), "{out}");
    assert!(out.contains("not well-formed"), "{out}");
}

#[test]
fn a_contained_patient_keeps_its_local_reference() {
    let secret = WorkspaceSecret::from_bytes([3; 32]);
    let mut engine = Engine::new(
        Config::parse(SAFE_HARBOR, "safe-harbor").unwrap(),
        Some(&secret),
    )
    .unwrap();
    let mut r = json!({
        "resourceType": "Observation", "id": "o1", "status": "final", "code": {"text": "x"},
        "contained": [{"resourceType": "Patient", "id": "p1"}],
        "subject": {"reference": "#p1"},
    });
    engine.anonymize(&mut r).unwrap();
    let id = r["contained"][0]["id"].as_str().unwrap();
    assert_ne!(id, "p1");
    assert_eq!(r["subject"]["reference"], format!("#{id}"), "{r}");
}
