//! `airlock serve-model` end to end: a DP model trained on adult, put in the vault and promoted
//! to staging through the `[models]` gate, served with a candidate in shadow and then in
//! rollout; predictions, the inference log (patients as keyed tokens, their link sealed in the
//! vault), overrides, drift alerts, refusals, and the audit log.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

mod common;
use common::{Proc, airlock};

fn steward(d: &Path, args: &[&str]) -> serde_json::Value {
    let (code, v) = common::steward_json(d, args);
    assert_eq!(code, Some(0), "{args:?}: {v}");
    v
}

fn start(d: &Path, config: &str) -> (Proc, String) {
    std::fs::write(d.join("serve.toml"), config).unwrap();
    Proc::serve(d, "serve", &["serve-model", "--config", "serve.toml"])
}

fn stop(p: Proc) {
    p.terminate();
}

fn call(
    method: &str,
    url: &str,
    key: Option<&str>,
    body: Option<&serde_json::Value>,
) -> (u16, serde_json::Value) {
    let agent = ureq::Agent::new_with_config(
        ureq::config::Config::builder()
            .http_status_as_error(false)
            .build(),
    );
    let mut resp = match body {
        Some(b) => {
            let mut r = agent.post(url).header("Content-Type", "application/json");
            if let Some(k) = key {
                r = r.header("Authorization", &format!("Bearer {k}"));
            }
            r.send(b.to_string().as_bytes()).unwrap()
        }
        None => {
            assert_eq!(method, "GET");
            let mut r = agent.get(url);
            if let Some(k) = key {
                r = r.header("Authorization", &format!("Bearer {k}"));
            }
            r.call().unwrap()
        }
    };
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
    )
}

fn features(row: &[&str], names: &[&str]) -> serde_json::Value {
    let mut m = serde_json::Map::new();
    for (n, v) in names.iter().zip(row) {
        if *n != "salary-class" {
            m.insert((*n).to_owned(), serde_json::Value::String((*v).to_owned()));
        }
    }
    serde_json::Value::Object(m)
}

#[test]
fn a_promoted_model_is_served_logged_overridden_and_watched_for_drift() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    airlock(d).args(["init", "--dir", "."]).assert().success();
    common::adult(d);
    let train = |seed: &str, out: &str| {
        airlock(d)
            .args([
                "train",
                "adult.csv",
                "--target",
                "salary-class",
                "--positive",
                ">50K",
            ])
            .args(["--epsilon", "3", "--seed", seed, "-o", out])
            .assert()
            .success();
    };
    train("1", "model.json");
    train("2", "candidate.json");
    // the registry's way in, as the enclave takes it: the training table de-identified in
    // zone deid, each model an enclave output of it in zone dev (library calls: the enclave
    // and `vault deid` have their own tests)
    let vault = airlock_vault::Vault::open(
        &d.join(".airlock"),
        airlock_core::keys::WorkspaceSecret::load(&d.join(".airlock/secret")).unwrap(),
    )
    .unwrap();
    let who = airlock_vault::Actor {
        name: "alice".into(),
        role: "steward".into(),
        purpose: "release".into(),
    };
    let raw = vault
        .put(&d.join("adult.csv"), airlock_vault::Zone::Raw, None, &who)
        .unwrap()
        .id;
    let reference = vault
        .put_derived(&d.join("adult.csv"), "adult.csv", &who, &raw, "{}")
        .unwrap()
        .id;
    let put = |file: &str, _zone: &str| -> String {
        vault
            .put_artifact(&d.join(file), file, &who, &reference, "{}")
            .unwrap()
            .id
    };
    let promote = |id: &str| {
        steward(d, &["approve", id, "--to", "staging", "--actor", "bob"]);
        steward(d, &["vault", "promote", id, "--to", "staging"]);
    };
    let model = put("model.json", "dev");
    let unpromoted = put("candidate.json", "dev");
    let candidate = put("candidate.json", "dev");
    promote(&model);
    promote(&candidate);
    let key = |name: &str, role: &str| -> String {
        let out = airlock(d)
            .args(["--json", "gateway", "key", "create", name, "--role", role])
            .output()
            .unwrap();
        assert!(out.status.success());
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["api_key"].as_str().unwrap().to_owned()
    };
    let ward = key("ward", "clinician");
    let analyst = key("dash", "analyst");
    let access = d.join(".airlock/access.toml");
    let mut rules = std::fs::read_to_string(&access).unwrap();
    rules.push_str("\"serve-model\" = [\"steward\"]\n");
    std::fs::write(&access, rules).unwrap();

    let config = |model: &str, candidate: &str, mode: &str| {
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\ntls = false\n[model]\nid = \"{model}\"\n\
             [candidate]\nid = \"{candidate}\"\nmode = \"{mode}\"\ncallers = [\"key:ward\"]\n\
             [access]\nroles = [\"clinician\"]\noverride_roles = [\"clinician\"]\nservice_role = \"steward\"\n\
             [drift]\nreference = \"{reference}\"\nwindow = 100\nevery = 25\n"
        )
    };
    // a model that did not pass the gate into staging is not served
    std::fs::write(
        d.join("serve.toml"),
        config(&unpromoted, &candidate, "shadow"),
    )
    .unwrap();
    airlock(d)
        .args(["serve-model", "--config", "serve.toml"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("staging or prod"));

    // nor is a drift reference from the raw zone
    std::fs::write(
        d.join("serve.toml"),
        config(&model, &candidate, "shadow").replace(&reference, &raw),
    )
    .unwrap();
    airlock(d)
        .args(["serve-model", "--config", "serve.toml"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("zone deid or dev"));

    let (server, url) = start(d, &config(&model, &candidate, "shadow"));
    let predict = format!("{url}/predict");
    let table = std::fs::read_to_string(d.join("adult.csv")).unwrap();
    let mut lines = table.lines();
    let names: Vec<&str> = lines.next().unwrap().split(',').collect();
    let rows: Vec<Vec<&str>> = lines.take(100).map(|l| l.split(',').collect()).collect();
    let mut ids = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let body = serde_json::json!({"patient_id": format!("MRN-{:06}", 770_000 + i), "features": features(row, &names)});
        let (status, v) = call("POST", &predict, Some(&ward), Some(&body));
        assert_eq!(status, 200, "{v}");
        assert!(
            v["prediction"] == ">50K" || v["prediction"] == "not >50K",
            "{v}"
        );
        let c = v["confidence"].as_f64().unwrap();
        assert!((0.5..=1.0).contains(&c), "{v}");
        assert!(
            v["model"].as_str().unwrap().starts_with(&model),
            "shadow mode answers with the model in service"
        );
        ids.push(v["request_id"].as_str().unwrap().to_owned());
    }
    // refusals: unknown fields (not named back), no key, a role without access
    let mut extra = features(&rows[0], &names);
    extra["patient_name"] = serde_json::json!("Jane Roe");
    let (status, v) = call(
        "POST",
        &predict,
        Some(&ward),
        Some(&serde_json::json!({"features": extra})),
    );
    assert_eq!(status, 400);
    assert!(
        !v.to_string().contains("patient_name") && !v.to_string().contains("Jane"),
        "{v}"
    );
    assert_eq!(
        call(
            "POST",
            &predict,
            None,
            Some(&serde_json::json!({"features": {}}))
        )
        .0,
        401
    );
    assert_eq!(
        call(
            "POST",
            &predict,
            Some(&analyst),
            Some(&serde_json::json!({"features": {}}))
        )
        .0,
        403
    );
    // a clinician overrides one prediction; an unknown id and free text are refused
    let over = |id: &str, body: serde_json::Value| {
        call(
            "POST",
            &format!("{url}/predictions/{id}/override"),
            Some(&ward),
            Some(&body),
        )
    };
    assert_eq!(
        over(
            &ids[3],
            serde_json::json!({"label": ">50K", "reason": "chart-review"})
        )
        .0,
        200
    );
    assert_eq!(
        over("pred-000", serde_json::json!({"label": ">50K"})).0,
        404
    );
    assert_eq!(
        over(
            &ids[4],
            serde_json::json!({"label": ">50K", "reason": "spoke with Jane Roe"})
        )
        .0,
        400
    );
    // no drift on rows like the training data; then every age becomes 85 and men only
    let (_, drift) = call("GET", &format!("{url}/drift"), Some(&ward), None);
    let features_drift = drift["features"].as_array().unwrap();
    assert!(
        features_drift.iter().all(|f| f["alert"] == false),
        "{drift}"
    );
    for row in rows.iter().take(100) {
        let mut f = features(row, &names);
        f["age"] = serde_json::json!("85");
        assert_eq!(
            call(
                "POST",
                &predict,
                Some(&ward),
                Some(&serde_json::json!({"features": f}))
            )
            .0,
            200
        );
    }
    let (_, drift) = call("GET", &format!("{url}/drift"), Some(&ward), None);
    let age = drift["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["feature"] == "age")
        .unwrap()
        .clone();
    assert_eq!(age["alert"], true, "{drift}");
    assert!(
        age["ks"].as_f64().unwrap() > 0.5 && age["psi"].as_f64().unwrap() > 0.2,
        "{age}"
    );
    stop(server);

    // rollout to the ward's cohort: the candidate answers, the model in service in shadow
    let (server, url) = start(d, &config(&model, &candidate, "rollout"));
    let body = serde_json::json!({"features": features(&rows[0], &names)});
    let (status, v) = call("POST", &format!("{url}/predict"), Some(&ward), Some(&body));
    assert_eq!(status, 200);
    assert!(v["model"].as_str().unwrap().starts_with(&candidate), "{v}");
    stop(server);
    // rollout to a share: about 30 in 100 requests of a caller outside the cohort
    let share =
        config(&model, &candidate, "rollout").replace("callers = [\"key:ward\"]", "percent = 30");
    let (server, url) = start(d, &share);
    let to_candidate = (0..200)
        .filter(|_| {
            let (_, v) = call("POST", &format!("{url}/predict"), Some(&ward), Some(&body));
            v["model"].as_str().unwrap().starts_with(&candidate)
        })
        .count();
    assert!(
        (30..=95).contains(&to_candidate),
        "{to_candidate} of 200 to the candidate"
    );
    stop(server);

    // the inference log: one line per prediction and override, patients as tokens, the shadow
    // model's answers beside; the raw identifiers nowhere in the workspace in the clear
    let log = std::fs::read_to_string(d.join(format!(".airlock/inference/{model}.jsonl"))).unwrap();
    let entries: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        entries.len(),
        100 + 100 + 1 + 200 + 1,
        "{} lines",
        entries.len()
    );
    assert!(entries[0]["patient"].as_str().unwrap().starts_with("pt_"));
    assert!(
        entries[0]["shadow"]["model"]
            .as_str()
            .unwrap()
            .starts_with(&candidate)
    );
    assert_eq!(entries[0]["feature_hmac"].as_str().unwrap().len(), 64);
    assert!(entries.iter().any(|e| e["override"]["label"] == ">50K"));
    // 100 predictions, the override, 100 more, then the cohort's request
    assert_eq!(entries[201]["arm"], "candidate");
    common::nowhere_in_clear(&d.join(".airlock"), "MRN-77");
    // the link table is sealed in the vault's raw zone
    let links = common::sealed_datasets(d, "serve-model-links-");
    assert_eq!(links.len(), 1, "{links:?}");
    assert_eq!(links[0]["zone"], "raw");
    // the audit log verifies and holds each prediction, the override, the drift alert and the
    // refusals
    airlock(d).args(["audit", "verify"]).assert().success();
    let audit = std::fs::read_to_string(d.join(".airlock/audit.log")).unwrap();
    let count = |action: &str| {
        audit
            .lines()
            .filter(|l| l.contains(&format!("\"action\":\"{action}\"")))
            .count()
    };
    // 201 answered, and the refused ones (400, 401, 403) too
    assert_eq!(count("serve-model:predict"), 100 + 100 + 1 + 200 + 3);
    assert_eq!(count("serve-model:override"), 1);
    assert!(count("serve-model:drift") >= 1);
    assert_eq!(count("serve-model:start"), 3);
    assert!(!audit.contains("MRN-77") && !audit.contains("Jane"));
}
