//! Any JSON through the FHIR engine under airlock's Safe Harbor configuration: anonymized or
//! refused, never a panic.
#![no_main]

use airlock_core::keys::WorkspaceSecret;
use airlock_fhir::{Config, Engine, SAFE_HARBOR};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let secret = WorkspaceSecret::from_bytes([7; 32]);
    let config = Config::parse(SAFE_HARBOR, "safe-harbor").expect("the built-in configuration");
    let mut engine = Engine::new(config, Some(&secret)).expect("an engine");
    let _ = engine.anonymize(&mut value);
});
