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
