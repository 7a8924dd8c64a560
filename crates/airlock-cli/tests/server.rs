//! End-to-end tests of `airlock serve` and the CLI as its client: identities come from
//! authentication (client certificates, API keys), never from what the client says; the
//! server decides and audits; a SIGKILL mid-put loses no committed dataset and leaves no
//! plaintext. Every server listens on 127.0.0.1 with a port the system picks.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use predicates::prelude::*;

mod common;
use common::{airlock, fixtures};

/// Waits (at most a minute) for a file a child process writes once it is listening.
fn wait_for(file: &Path, what: &str) {
    let start = Instant::now();
    while !file.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{what} did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `airlock serve` as a child process; killed when dropped.
struct Served {
    child: Child,
    url: String,
}

impl Served {
    fn start(ws: &Path) -> Self {
        Self::start_with(ws, &[])
    }

    fn start_with(ws: &Path, extra: &[&str]) -> Self {
        let ready = ws.join(format!("ready-{}", std::process::id()));
        let _ = std::fs::remove_file(&ready);
        let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("airlock"))
            .args(["serve", "--workspace"])
            .arg(ws)
            .args(["--listen", "127.0.0.1:0", "--ready-file"])
            .arg(&ready)
            .args(extra)
            .env_remove("AIRLOCK_KEY_FILE")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait_for(&ready, "the server");
        let url = std::fs::read_to_string(&ready).unwrap();
        Self { child, url }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A workspace with a CA, certificates for alice (steward) and bob (steward, engineer), an
/// API key for the service etl (engineer); returns (dir, etl's key).
fn workspace() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("ws")).unwrap();
    airlock(d).args(["init", "--dir", "ws"]).assert().success();
    airlock(d)
        .args(["ca", "init", "--workspace", "ws"])
        .assert()
        .success();
    // carol has a certificate but no role
    for who in ["alice", "bob", "carol"] {
        airlock(d)
            .args(["ca", "issue", who, "--out", "certs", "--workspace", "ws"])
            .assert()
            .success();
    }
    let out = airlock(d)
        .args(["apikey", "create", "etl", "--workspace", "ws", "--json"])
        .assert()
        .success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let key = v["api_key"].as_str().unwrap().to_owned();
    let access = d.join("ws/.airlock/access.toml");
    let mut text = std::fs::read_to_string(&access).unwrap();
    text.push_str(
        "\n[actors]\n\"cert:alice\" = [\"steward\"]\n\"cert:bob\" = [\"steward\", \"engineer\", \"analyst\"]\n\"key:etl\" = [\"engineer\"]\n",
    );
    std::fs::write(&access, text).unwrap();
    std::fs::copy(fixtures().join("patients.csv"), d.join("patients.csv")).unwrap();
    std::fs::copy(fixtures().join("policy.toml"), d.join("policy.toml")).unwrap();
    (dir, key)
}

/// The CLI as a client of `url`, from a folder with no workspace secret anywhere, as `who`
/// (a certificate name, or None for no certificate).
fn client(d: &Path, url: &str, who: Option<&str>) -> assert_cmd::Command {
    let mut cmd = airlock(&d.join("client"));
    std::fs::create_dir_all(d.join("client")).unwrap();
    cmd.env("AIRLOCK_SERVER", url)
        .env("AIRLOCK_CA", d.join("ws/.airlock/ca/ca.pem"));
    if let Some(who) = who {
        cmd.env("AIRLOCK_CERT", d.join(format!("certs/{who}.pem")))
            .env("AIRLOCK_CERT_KEY", d.join(format!("certs/{who}.key")));
    }
    cmd
}

fn json(out: &assert_cmd::assert::Assert) -> serde_json::Value {
    serde_json::from_slice(&out.get_output().stdout).unwrap()
}

fn put(d: &Path, url: &str, who: &str) -> String {
    let out = client(d, url, Some(who))
        .args(["vault", "put", "--zone", "raw"])
        .arg(d.join("patients.csv"))
        .args(["--role", "steward", "--purpose", "ingest", "--json"])
        .assert()
        .success();
    json(&out)["dataset"]["id"].as_str().unwrap().to_owned()
}

fn audit_entries(d: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(d.join("ws/.airlock/audit.log"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn has_entry(d: &Path, actor: &str, action: &str, outcome: &str) -> bool {
    audit_entries(d)
        .iter()
        .any(|e| e["actor"] == actor && e["action"] == action && e["outcome"] == outcome)
}

#[test]
fn identities_come_from_certificates_and_keys_not_from_what_the_client_says() {
    let (dir, etl_key) = workspace();
    let d = dir.path();
    let server = Served::start(&d.join("ws"));
    let url = server.url.clone();

    // alice stores; the log names her certificate's identity, not a login name
    let raw = put(d, &url, "alice");
    assert!(has_entry(d, "cert:alice", "put", "ok"));

    // no credential: nothing, whatever the environment says
    client(d, &url, None)
        .env("AIRLOCK_ACTOR", "alice")
        .args(["vault", "ls"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not authenticated"));
    // claiming another name is refused outright
    client(d, &url, Some("bob"))
        .args(["vault", "get", &raw, "-o", "x.csv", "--actor", "alice"])
        .args(["--role", "steward", "--purpose", "audit"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--actor"));
    // the secret stays on the server: a key file is refused in client mode
    client(d, &url, Some("bob"))
        .args(["vault", "ls", "--key-file"])
        .arg(d.join("ws/.airlock/secret"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("server holds"));
    // a role the identity is not bound to: refused and recorded
    client(d, &url, Some("alice"))
        .args(["vault", "get", &raw, "-o", "x.csv"])
        .args(["--role", "engineer", "--purpose", "research"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not bound to role engineer"));
    assert!(has_entry(d, "cert:alice", "role", "denied"));
    assert!(!d.join("client/x.csv").exists());

    // bob, a second identity, reads it as steward
    client(d, &url, Some("bob"))
        .args(["vault", "get", &raw, "-o", "got.csv"])
        .args(["--role", "steward", "--purpose", "audit"])
        .assert()
        .success();
    assert_eq!(
        std::fs::read(d.join("client/got.csv")).unwrap(),
        std::fs::read(d.join("patients.csv")).unwrap()
    );
    assert!(has_entry(d, "cert:bob", "get", "ok"));

    // de-identified on the server; approvals from distinct authenticated identities
    let out = client(d, &url, Some("alice"))
        .args(["vault", "deid", &raw, "--policy"])
        .arg(d.join("policy.toml"))
        .args(["--role", "steward", "--purpose", "deid", "--json"])
        .assert()
        .success();
    let deid = json(&out)["dataset"]["id"].as_str().unwrap().to_owned();
    // an analyst receives the deid dataset without the columns its role is denied (note)
    client(d, &url, Some("bob"))
        .args(["vault", "get", &deid, "-o", "analyst.csv"])
        .args(["--role", "analyst", "--purpose", "research"])
        .assert()
        .success();
    let header = std::fs::read_to_string(d.join("client/analyst.csv")).unwrap();
    let header = header.lines().next().unwrap();
    assert!(
        header.contains("hba1c") && !header.contains("note"),
        "{header}"
    );
    // a certificate bound to no role may do nothing, not even list
    client(d, &url, Some("carol"))
        .args(["vault", "ls"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("bound to no role"));
    client(d, &url, Some("alice"))
        .args(["vault", "promote", &deid, "--to", "dev"])
        .args(["--role", "steward", "--purpose", "release"])
        .assert()
        .success();
    client(d, &url, Some("alice"))
        .args(["approve", &deid, "--to", "staging"])
        .args(["--role", "steward", "--purpose", "release"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("created it"));
    client(d, &url, Some("bob"))
        .args(["approve", &deid, "--to", "staging"])
        .args(["--role", "steward", "--purpose", "release"])
        .assert()
        .success();
    client(d, &url, Some("alice"))
        .args(["vault", "promote", &deid, "--to", "staging"])
        .args(["--role", "steward", "--purpose", "release"])
        .assert()
        .success();

    // a service's API key: its own identity and roles; a wrong key and a revoked key are refused
    let as_etl = |key: &str| {
        let mut c = client(d, &url, None);
        c.env("AIRLOCK_API_KEY", key);
        c
    };
    as_etl(&etl_key)
        .args(["vault", "get", &raw, "-o", "etl.csv"])
        .args(["--role", "engineer", "--purpose", "research"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "key:etl (role engineer) may not get zone raw",
        ));
    as_etl(&etl_key)
        .args(["vault", "get", &deid, "-o", "etl.csv"])
        .args(["--role", "engineer", "--purpose", "research"])
        .assert()
        .success();
    let mut forged = etl_key.clone();
    forged.pop();
    forged.push(if etl_key.ends_with('a') { 'b' } else { 'a' });
    as_etl(&forged)
        .args(["vault", "ls"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("API key is unknown or revoked"));
    let creds = json(
        &airlock(d)
            .args(["credentials", "ls", "--workspace", "ws", "--json"])
            .assert()
            .success(),
    );
    let id_of = |subject: &str| {
        creds["credentials"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["subject"] == subject)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    for subject in ["key:etl", "cert:bob"] {
        airlock(d)
            .args([
                "credentials",
                "revoke",
                &id_of(subject),
                "--workspace",
                "ws",
            ])
            .assert()
            .success();
    }
    as_etl(&etl_key)
        .args(["vault", "ls"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unknown or revoked"));
    client(d, &url, Some("bob"))
        .args(["vault", "ls"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("revoked"));

    // a certificate from another workspace's CA does not even complete the handshake
    let other = tempfile::tempdir().unwrap();
    let o = other.path();
    airlock(o).args(["init"]).assert().success();
    airlock(o).args(["ca", "init"]).assert().success();
    airlock(o)
        .args(["ca", "issue", "alice", "--out", "certs"])
        .assert()
        .success();
    client(d, &url, None)
        .env("AIRLOCK_CERT", o.join("certs/alice.pem"))
        .env("AIRLOCK_CERT_KEY", o.join("certs/alice.key"))
        .args(["vault", "ls"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cannot reach the airlock server"));

    // access.toml changed while the server runs: versioned in the catalog and audited
    let versions = || {
        audit_entries(d)
            .into_iter()
            .filter(|e| e["action"].as_str().unwrap().starts_with("access:version:"))
            .collect::<Vec<_>>()
    };
    let before = versions().len();
    let access = d.join("ws/.airlock/access.toml");
    let text = std::fs::read_to_string(&access).unwrap();
    std::fs::write(&access, format!("{text}# reviewed\n")).unwrap();
    client(d, &url, Some("alice"))
        .args(["vault", "ls"])
        .assert()
        .success();
    let after = versions();
    assert_eq!(
        after.len(),
        before + 1,
        "the change to access.toml is in the log"
    );
    assert_eq!(after[before]["actor"], "server");

    // the log, fetched from the server, verifies here against a head exported earlier, with
    // a key the verifier obtained before
    let pk = client(d, &url, Some("alice"))
        .args(["audit", "pubkey"])
        .assert()
        .success();
    let pk = String::from_utf8(pk.get_output().stdout.clone()).unwrap();
    client(d, &url, Some("alice"))
        .args(["audit", "head", "--export", "head.json"])
        .assert()
        .success();
    put(d, &url, "alice");
    client(d, &url, Some("alice"))
        .args([
            "audit",
            "verify",
            "--head",
            "head.json",
            "--public-key",
            pk.trim(),
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("extends the tree head"));
    // no file of the client's folder holds a workspace key
    for entry in std::fs::read_dir(d.join("client")).unwrap() {
        let name = entry.unwrap().file_name();
        assert!(
            !name.to_string_lossy().contains("secret"),
            "{name:?} in the client's folder"
        );
    }

    // the operator takes alice's role away; an operator command records the new version
    // before the server sees it, and the server uses the new rules all the same
    let text = std::fs::read_to_string(&access).unwrap();
    std::fs::write(
        &access,
        text.replace(
            "\"cert:alice\" = [\"steward\"]",
            "\"cert:alice\" = [\"analyst\"]",
        ),
    )
    .unwrap();
    airlock(d)
        .args(["credentials", "ls", "--workspace", "ws"])
        .assert()
        .success();
    client(d, &url, Some("alice"))
        .args(["vault", "get", &raw, "-o", "late.csv"])
        .args(["--role", "steward", "--purpose", "audit"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not bound to role steward"));
}

/// An HTTP client of the server's with `who`'s certificate, below airlock's own client (to send
/// what that client would not); answers of any status are returned, not errors.
fn raw_agent(d: &Path, who: &str) -> ureq::Agent {
    use ureq::tls::{Certificate, ClientCert, PrivateKey, RootCerts, TlsConfig, TlsProvider};
    let read = |p: &str| std::fs::read(d.join(p)).unwrap();
    let (ca, cert, key) = (
        read("ws/.airlock/ca/ca.pem"),
        read(&format!("certs/{who}.pem")),
        read(&format!("certs/{who}.key")),
    );
    let tls = TlsConfig::builder()
        .provider(TlsProvider::Rustls)
        .unversioned_rustls_crypto_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .root_certs(RootCerts::new_with_certs(&[Certificate::from_pem(&ca)
            .unwrap()
            .to_owned()]))
        .client_cert(Some(ClientCert::new_with_certs(
            &[Certificate::from_pem(&cert).unwrap().to_owned()],
            PrivateKey::from_pem(&key).unwrap().to_owned(),
        )))
        .build();
    ureq::Agent::config_builder()
        .tls_config(tls)
        .http_status_as_error(false)
        .build()
        .new_agent()
}

/// A body that sends 1 MiB of plaintext, says so, then stalls until the server dies.
struct Stalling {
    sent: usize,
    told: Option<std::sync::mpsc::Sender<()>>,
}

const MARKER: &[u8] = b"QUILLFEATHER-PLAINTEXT-MARKER,123-45-6789\n";

impl Read for Stalling {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.sent >= 1 << 20 {
            if let Some(t) = self.told.take() {
                let _ = t.send(());
            }
            std::thread::sleep(Duration::from_millis(200));
            return Err(std::io::Error::other("stalled until the server is gone"));
        }
        let n = buf.len().min(MARKER.len());
        buf[..n].copy_from_slice(&MARKER[..n]);
        self.sent += n;
        Ok(n)
    }
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(p) = stack.pop() {
        if let Ok(rd) = std::fs::read_dir(&p) {
            for e in rd.flatten() {
                let path = e.path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    out.push(path);
                }
            }
        }
    }
    out
}

fn holds_marker(path: &Path) -> bool {
    std::fs::read(path)
        .map(|b| b.windows(MARKER.len()).any(|w| w == MARKER))
        .unwrap_or(false)
}

#[test]
fn a_server_killed_mid_put_loses_no_committed_dataset_and_leaves_no_plaintext() {
    let (dir, _) = workspace();
    let d = dir.path();
    let ws = d.join("ws/.airlock");
    let server = Served::start(&d.join("ws"));
    let committed = put(d, &server.url, "alice");

    // a put whose body stalls after 1 MiB, sent with the client's own TLS stack
    let (told, heard) = std::sync::mpsc::channel();
    let url = server.url.clone();
    let agent = raw_agent(d, "alice");
    let upload = std::thread::spawn(move || {
        let _ = agent
            .post(format!("{url}/v1/datasets"))
            .query("name", "stalled.csv")
            .header("x-airlock-role", "steward")
            .header("x-airlock-purpose", "ingest")
            .send(ureq::SendBody::from_owned_reader(Stalling {
                sent: 0,
                told: Some(told),
            }));
    });
    heard.recv_timeout(Duration::from_secs(60)).unwrap();
    // the server has the partial plaintext in its private temporary folder...
    let start = Instant::now();
    while !files_under(&ws.join("tmp")).iter().any(|p| holds_marker(p)) {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the upload never reached the server's temporary folder"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // ...when it is killed outright
    let pid = server.pid();
    std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    drop(server);
    let _ = upload.join();

    // the next start sweeps it; the committed dataset is whole; nothing else was stored
    let server = Served::start(&d.join("ws"));
    let leftovers: Vec<_> = files_under(&ws)
        .into_iter()
        .filter(|p| holds_marker(p))
        .collect();
    assert!(leftovers.is_empty(), "plaintext left: {leftovers:?}");
    let out = client(d, &server.url, Some("bob"))
        .args(["vault", "ls", "--json"])
        .assert()
        .success();
    let all = json(&out)["datasets"].as_array().unwrap().clone();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0]["id"], committed.as_str());
    client(d, &server.url, Some("bob"))
        .args(["vault", "get", &committed, "-o", "back.csv"])
        .args(["--role", "steward", "--purpose", "audit"])
        .assert()
        .success();
    assert_eq!(
        std::fs::read(d.join("client/back.csv")).unwrap(),
        std::fs::read(d.join("patients.csv")).unwrap()
    );
    client(d, &server.url, Some("bob"))
        .args(["audit", "verify"])
        .assert()
        .success();
}

/// A real OpenID Provider (oidc-provider from npm, installed into the test's own folder) on
/// loopback. `None`, with a note, where Node.js or the npm registry is missing outside CI;
/// under CI that is a failure.
struct Provider {
    child: Child,
    issuer: String,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn provider(scratch: &Path) -> Option<Provider> {
    let unavailable = |why: String| -> Option<Provider> {
        assert!(
            std::env::var_os("CI").is_none(),
            "the OIDC test needs Node.js and oidc-provider from npm under CI: {why}"
        );
        eprintln!("SKIPPED the OIDC test: {why}");
        None
    };
    let prefix = Path::new(env!("CARGO_TARGET_TMPDIR")).join("oidc-provider");
    std::fs::create_dir_all(&prefix).unwrap();
    let oidc = fixtures().join("oidc");
    for f in ["package.json", "provider.mjs"] {
        std::fs::copy(oidc.join(f), prefix.join(f)).unwrap();
    }
    if !prefix
        .join("node_modules/oidc-provider/package.json")
        .exists()
    {
        let installed = std::process::Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&prefix)
            .status();
        match installed {
            Ok(s) if s.success() => {}
            Ok(s) => return unavailable(format!("npm install oidc-provider exited {s}")),
            Err(e) => return unavailable(format!("npm is not available ({e})")),
        }
    }
    let issuer_file = scratch.join("issuer");
    let child = match std::process::Command::new("node")
        .arg(prefix.join("provider.mjs"))
        .arg(&issuer_file)
        .current_dir(&prefix)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => return unavailable(format!("node is not available ({e})")),
    };
    wait_for(&issuer_file, "the OIDC provider");
    let issuer = std::fs::read_to_string(&issuer_file).unwrap();
    Some(Provider { child, issuer })
}

/// A client-credentials access token (a JWT) from the provider for `client`.
fn token(issuer: &str, client: &str) -> String {
    let mut resp = ureq::post(format!("{issuer}/token"))
        .send_form([
            ("grant_type", "client_credentials"),
            ("scope", "vault"),
            ("client_id", client),
            ("client_secret", &format!("{client}-secret")),
        ])
        .unwrap();
    let v: serde_json::Value =
        serde_json::from_str(&resp.body_mut().read_to_string().unwrap()).unwrap();
    v["access_token"].as_str().unwrap().to_owned()
}

#[test]
fn two_identities_over_oidc_and_tokens_that_prove_nothing() {
    let (dir, _) = workspace();
    let d = dir.path();
    let Some(idp) = provider(d) else { return };
    std::fs::create_dir_all(d.join("idp2")).unwrap();
    let Some(elsewhere) = provider(&d.join("idp2")) else {
        return;
    };
    let access = d.join("ws/.airlock/access.toml");
    let mut text = std::fs::read_to_string(&access).unwrap();
    text.push_str("\"oidc:alice-app\" = [\"steward\"]\n\"oidc:bob-app\" = [\"steward\"]\n");
    std::fs::write(&access, text).unwrap();

    let server = Served::start_with(&d.join("ws"), &["--oidc-issuer", &idp.issuer]);
    let url = server.url.clone();
    let as_token = |t: &str| {
        let mut c = client(d, &url, None);
        c.env("AIRLOCK_TOKEN", t);
        c
    };

    // two identities from the provider: alice-app stores, bob-app reads; the log names both
    let alice = token(&idp.issuer, "alice-app");
    let out = as_token(&alice)
        .args(["vault", "put", "--zone", "raw"])
        .arg(d.join("patients.csv"))
        .args(["--role", "steward", "--purpose", "ingest", "--json"])
        .assert()
        .success();
    let raw = json(&out)["dataset"]["id"].as_str().unwrap().to_owned();
    as_token(&token(&idp.issuer, "bob-app"))
        .args(["vault", "get", &raw, "-o", "oidc.csv"])
        .args(["--role", "steward", "--purpose", "audit"])
        .assert()
        .success();
    assert!(has_entry(d, "oidc:alice-app", "put", "ok"));
    assert!(has_entry(d, "oidc:bob-app", "get", "ok"));

    let refused = |t: &str, why: &str| {
        as_token(t)
            .args(["vault", "ls"])
            .assert()
            .code(2)
            .stderr(predicate::str::contains("OIDC token is refused"))
            .stderr(predicate::str::contains(why.to_owned()));
    };
    // a token from another issuer (its own key), one for another audience
    refused(
        &token(&elsewhere.issuer, "alice-app"),
        "a key the issuer does not publish",
    );
    refused(&token(&idp.issuer, "elsewhere-app"), "another audience");
    // a token whose claims were edited (sub) after signing
    let parts: Vec<&str> = alice.split('.').collect();
    let b64 = data_encoding::BASE64URL_NOPAD;
    let mut claims: serde_json::Value =
        serde_json::from_slice(&b64.decode(parts[1].as_bytes()).unwrap()).unwrap();
    claims["sub"] = "bob-app".into();
    let edited = format!(
        "{}.{}.{}",
        parts[0],
        b64.encode(claims.to_string().as_bytes()),
        parts[2]
    );
    refused(&edited, "signature does not verify");
    // the same claims under a shared-secret algorithm (the public key as an HMAC secret)
    let hs = format!(
        "{}.{}.{}",
        b64.encode(br#"{"alg":"HS256","typ":"JWT"}"#),
        b64.encode(claims.to_string().as_bytes()),
        parts[2]
    );
    refused(&hs, "asymmetric signatures only");
    // a certificate and a token at once: one credential only
    client(d, &url, Some("alice"))
        .env("AIRLOCK_TOKEN", &alice)
        .args(["vault", "ls"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("one credential"));
}

#[test]
fn an_enclave_run_takes_its_data_from_the_server_and_the_server_scans_what_it_registers() {
    let (dir, _) = workspace();
    let d = dir.path();
    let server = Served::start(&d.join("ws"));
    let url = server.url.clone();
    let raw = put(d, &url, "alice");
    let out = client(d, &url, Some("alice"))
        .args(["vault", "deid", &raw, "--policy"])
        .arg(d.join("policy.toml"))
        .args(["--role", "steward", "--purpose", "deid", "--json"])
        .assert()
        .success();
    let deid = json(&out)["dataset"]["id"].as_str().unwrap().to_owned();
    std::fs::create_dir_all(d.join("code")).unwrap();
    std::fs::write(
        d.join("code/train.sh"),
        "wc -l < \"$AIRLOCK_DATA/patients.deid.csv\" > \"$AIRLOCK_OUT/rows.txt\"\n",
    )
    .unwrap();
    // bob, an engineer, runs on this machine, which holds no key: data from the server
    let run = client(d, &url, Some("bob"))
        .args(["enclave", "run", "--data", &deid, "--out"])
        .arg(d.join("released"))
        .arg("--read")
        .arg(d.join("code"))
        .args([
            "--role",
            "engineer",
            "--purpose",
            "model-training",
            "--json",
            "--",
        ])
        .arg("/bin/bash")
        .arg(d.join("code/train.sh"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&run.stderr);
    if text.contains("cannot confine the command") {
        assert!(std::env::var_os("CI").is_none(), "{text}");
        eprintln!("SKIPPED: this machine cannot confine a command: {text}");
        return;
    }
    assert!(run.status.success(), "{text}");
    let v: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(v["run"]["actor"], "cert:bob");
    assert_eq!(
        std::fs::read_to_string(d.join("released/rows.txt"))
            .unwrap()
            .trim(),
        "7"
    );
    let registered = v["run"]["registered"][0].as_str().unwrap().to_owned();
    assert!(has_entry(d, "cert:bob", "get", "ok"));
    assert!(has_entry(d, "cert:bob", "enclave:output", "ok"));
    // a client that skips its own scan meets the server's
    let agent = raw_agent(d, "bob");
    let resp = agent
        .post(format!("{url}/v1/artifacts"))
        .query("name", "notes.txt")
        .query("source", &deid)
        .query("summary", "{}")
        .header("x-airlock-role", "engineer")
        .header("x-airlock-purpose", "model-training")
        .send("Patient John Smith, SSN 123-45-6789, seen at Mercy Hospital 03/04/2021\n")
        .unwrap();
    assert_eq!(resp.status().as_u16(), 409);
    assert!(has_entry(d, "cert:bob", "enclave:output", "held"));
    // canary patients planted in another table and kept with it on the server: an output
    // holding one of their values is held, whatever source the client names
    airlock(d)
        .args(["canary", "plant", "--policy"])
        .arg(d.join("policy.toml"))
        .arg(d.join("patients.csv"))
        .arg("-o")
        .arg(d.join("planted.csv"))
        .args(["-n", "2", "--seed", "7"])
        .assert()
        .success();
    client(d, &url, Some("alice"))
        .args(["vault", "put", "--zone", "raw"])
        .arg(d.join("planted.csv"))
        .arg("--canaries")
        .arg(d.join("planted.canaries.json"))
        .args(["--role", "steward", "--purpose", "ingest"])
        .assert()
        .success();
    assert!(has_entry(d, "cert:alice", "canaries", "ok"));
    let canaries: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("planted.canaries.json")).unwrap()).unwrap();
    let name = canaries["canaries"][0]["values"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["kind"] == "NAME" && v.get("column").is_none())
        .map(|v| v["value"].as_str().unwrap().to_owned())
        .unwrap();
    let resp = agent
        .post(format!("{url}/v1/artifacts"))
        .query("name", "features.csv")
        .query("source", &deid)
        .query("summary", "{}")
        .header("x-airlock-role", "engineer")
        .header("x-airlock-purpose", "model-training")
        .send(format!("feature,{name}\n"))
        .unwrap();
    assert_eq!(resp.status().as_u16(), 409);
    let body = resp.into_body().read_to_string().unwrap();
    assert!(
        body.contains("canary values") && !body.contains(&name),
        "{body}"
    );
    // a table is scanned as a table whatever the upload's bytes look like: a Parquet file
    // (binary) of identifiers, written by a policy that keeps every column as it is
    let lax: String = [
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
    .map(|c| format!("[fields.{c}]\nclass = \"clinical\"\naction = \"keep\"\n"))
    .collect();
    std::fs::write(
        d.join("lax.toml"),
        format!("[dataset]\nname = \"lax\"\n[defaults]\nunclassified = \"fail\"\n{lax}"),
    )
    .unwrap();
    airlock(d)
        .args(["deid", "--policy"])
        .arg(d.join("lax.toml"))
        .arg(d.join("patients.csv"))
        .arg("-o")
        .arg(d.join("leak.parquet"))
        .assert()
        .code(1);
    let upload = |name: &str, body: Vec<u8>| {
        agent
            .post(format!("{url}/v1/artifacts"))
            .query("name", name)
            .query("source", &deid)
            .query("summary", "{}")
            .header("x-airlock-role", "engineer")
            .header("x-airlock-purpose", "model-training")
            .send(body)
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(
        upload(
            "features.parquet",
            std::fs::read(d.join("leak.parquet")).unwrap()
        ),
        409
    );
    // a Parquet file is told by its bytes, not by the name the client gives it
    assert_eq!(
        upload(
            "features.txt",
            std::fs::read(d.join("leak.parquet")).unwrap()
        ),
        409
    );
    // a compressed upload cannot be scanned, and is held
    let gz = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03+O\xcdL\xcf(\x01\x00".to_vec();
    assert_eq!(upload("model.gz", gz), 409);
    // and the registered output is in zone dev
    let out = client(d, &url, Some("bob"))
        .args(["vault", "ls", "--json"])
        .assert()
        .success();
    let all = json(&out)["datasets"].as_array().unwrap().clone();
    let reg = all.iter().find(|d| d["id"] == registered.as_str()).unwrap();
    assert_eq!(reg["zone"], "dev");
}
