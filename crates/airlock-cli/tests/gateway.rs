//! `airlock gateway` end to end: the binary in front of a local upstream (a Python stdlib
//! server that records what it receives), driven by plain HTTP and by the official `openai`
//! Python client (installed from PyPI into a venv under the target folder). The audit log
//! must verify and hold an entry per call, and no identifier may reach the non-BAA upstream,
//! the audit log, the access log or the gateway's stderr.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

mod common;
use common::{Proc, airlock, fixtures};

// (whole values: a short run of digits turns up in hashes by chance)
const SECRETS: &[&str] = &[
    "Smith", "4455667", "555-0199", "Quarry", "Oyelaran", "555-0147",
];
const NOTE: &str = "Patient John Smith (MRN 4455667) was seen on 03/14/2024 at 12 Quarry Lane, Bangor. Call 617-555-0199.";

/// The local upstream on a free port, recording into `log`.
fn upstream(log: &Path) -> (Proc, u16) {
    let mut child = Command::new("python3")
        .arg(fixtures().join("gateway/upstream.py"))
        .arg("0")
        .arg(log)
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs the test upstream");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (Proc(child), line.trim().parse().unwrap())
}

/// A free loopback port nothing listens on (an upstream that is down).
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn config(port: u16, down: u16) -> String {
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
tls = false
upstream_timeout_s = 2

[[upstreams]]
name = "local"
base_url = "http://127.0.0.1:{port}/v1"
baa = false

[[upstreams]]
name = "down"
base_url = "http://127.0.0.1:{down}/v1"
baa = false

[[routes]]
models = ["blocked-echo"]
upstream_model = "echo"
upstream = "local"
roles = ["engineer"]
input = "block"
output = "block"

[[routes]]
models = ["pseudo-echo"]
upstream_model = "echo"
upstream = "local"
roles = ["engineer"]
input = "pseudonymize"
rehydrate = true
output = "redact"

[[routes]]
models = ["leak-block"]
upstream_model = "leak"
upstream = "local"
roles = ["engineer"]
input = "redact"
output = "block"

[[routes]]
models = ["down-model"]
upstream = "down"
roles = ["engineer"]
input = "redact"
output = "redact"

[[routes]]
models = ["*"]
upstream = "local"
roles = ["engineer"]
input = "redact"
output = "redact"
"#
    )
}

struct Gateway {
    child: Proc,
    url: String,
    dir: PathBuf,
}

impl Gateway {
    fn start(dir: &Path, config: &Path) -> Self {
        let config = config.to_str().unwrap();
        let args = [
            "gateway",
            "--workspace",
            "ws",
            "--access-log",
            "--config",
            config,
        ];
        let (child, url) = Proc::serve(dir, "gateway", &args);
        Self {
            url,
            child,
            dir: dir.to_path_buf(),
        }
    }

    /// SIGTERM, and the gateway's own end: its last audit entries written. The access log.
    fn stop(self) -> String {
        self.child.terminate();
        std::fs::read_to_string(self.dir.join("gateway.out")).unwrap()
    }
}

fn setup() -> (tempfile::TempDir, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("ws")).unwrap();
    airlock(d).args(["init", "--dir", "ws"]).assert().success();
    let key = |name: &str, role: &str| {
        let out = airlock(d)
            .args([
                "--json",
                "gateway",
                "key",
                "create",
                name,
                "--role",
                role,
                "--workspace",
                "ws",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let warned = String::from_utf8_lossy(&out.stderr).contains("[actors] table");
        assert_eq!(v["actors_table_created"].as_bool(), Some(warned));
        (v["api_key"].as_str().unwrap().to_owned(), warned)
    };
    // the first key brings the [actors] table, and the operator is told what that changes
    let (engineer, first) = key("notebook", "engineer");
    let (analyst, second) = key("dashboard", "analyst");
    assert!(first && !second);
    // the binding is in access.toml, with its comments kept
    let access = std::fs::read_to_string(d.join("ws/.airlock/access.toml")).unwrap();
    assert!(
        access.contains("\"key:notebook\" = [\"engineer\"]")
            || access.contains("\"key:notebook\" = [ \"engineer\" ]"),
        "{access}"
    );
    assert!(access.contains("# airlock access rules"));
    (dir, engineer, analyst)
}

fn post(url: &str, key: Option<&str>, body: &serde_json::Value) -> (u16, String) {
    let mut req = ureq::post(url).config().http_status_as_error(false).build();
    if let Some(k) = key {
        req = req.header("Authorization", &format!("Bearer {k}"));
    }
    let mut resp = req
        .header("Content-Type", "application/json")
        .send(body.to_string().as_bytes())
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.body_mut().read_to_string().unwrap())
}

/// What every test checks at the end: the log verifies, every call has its entry, and no
/// identifier is in the log, the access log or stderr.
fn check_after(dir: &Path, access_log: &str, calls: usize) {
    airlock(dir)
        .args(["audit", "verify", "--key-file", "ws/.airlock/secret"])
        .assert()
        .success();
    let log = std::fs::read_to_string(dir.join("ws/.airlock/audit.log")).unwrap();
    let entries: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|e: &serde_json::Value| {
            e["action"]
                .as_str()
                .is_some_and(|a| a.starts_with("gateway:"))
        })
        .collect();
    let decisions: Vec<String> = entries
        .iter()
        .map(|e| {
            format!(
                "{} {} {}",
                e["action"], e["detail"]["model"], e["detail"]["decision"]
            )
        })
        .collect();
    assert!(
        entries.len() >= calls,
        "{} gateway entries for {calls} calls: {decisions:#?}",
        entries.len()
    );
    let lines: Vec<&str> = access_log
        .lines()
        .filter(|l| l.contains("request_id"))
        .collect();
    assert!(
        lines.len() >= calls,
        "{} access log lines for {calls} calls",
        lines.len()
    );
    let err = std::fs::read_to_string(dir.join("gateway.err")).unwrap();
    for s in SECRETS {
        assert!(!log.contains(s), "{s} in the audit log");
        assert!(!access_log.contains(s), "{s} in the access log");
        assert!(!err.contains(s), "{s} on stderr");
    }
}

#[test]
fn the_gateway_redacts_blocks_and_audits_over_plain_http() {
    let (dir, key, analyst) = setup();
    let d = dir.path();
    let (_up, port) = upstream(&d.join("upstream.jsonl"));
    std::fs::write(d.join("gateway.toml"), config(port, closed_port())).unwrap();
    let gw = Gateway::start(d, &d.join("gateway.toml"));
    let chat = format!("{}/chat/completions", gw.url);
    let ask = |model: &str| serde_json::json!({"model": model, "messages": [{"role": "user", "content": NOTE}]});

    let (status, body) = post(&chat, Some(&key), &ask("echo"));
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("[NAME]") && !body.contains("Smith"), "{body}");
    let seen = std::fs::read_to_string(d.join("upstream.jsonl")).unwrap();
    assert!(SECRETS.iter().all(|s| !seen.contains(s)), "{seen}");

    let (status, body) = post(&chat, Some(&key), &ask("blocked-echo"));
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("NAME") && !body.contains("Smith"), "{body}");

    assert_eq!(post(&chat, None, &ask("echo")).0, 401);
    assert_eq!(
        post(&chat, Some("alk_0000000000000000_nope"), &ask("echo")).0,
        401
    );
    assert_eq!(post(&chat, Some(&analyst), &ask("echo")).0, 403);
    let (status, body) = post(&chat, Some(&key), &ask("down-model"));
    assert_eq!(status, 502, "{body}");
    let (status, body) = post(&chat, Some(&key), &ask("slow"));
    assert_eq!(status, 504, "{body}");
    // an image cannot be read: refused, not passed
    let image = serde_json::json!({"model": "echo", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]}]});
    assert_eq!(post(&chat, Some(&key), &image).0, 400);
    let uploaded = std::fs::read_to_string(d.join("upstream.jsonl"))
        .unwrap()
        .lines()
        .count();
    // the echo and the slow call reached the upstream; nothing refused did
    assert_eq!(uploaded, 2);

    let out = gw.stop();
    check_after(d, &out, 8);
}

/// A venv with the openai client, made once under the target folder; `None` (and why) where
/// PyPI cannot be reached outside CI. Under CI it must work.
fn openai_python() -> Option<PathBuf> {
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("openai-venv");
    let python = venv.join("bin/python");
    let has = |p: &Path| {
        Command::new(p)
            .args(["-c", "import openai"])
            .status()
            .is_ok_and(|s| s.success())
    };
    if has(&python) {
        return Some(python);
    }
    let made = Command::new("python3")
        .arg("-m")
        .arg("venv")
        .arg(&venv)
        .status()
        .is_ok_and(|s| s.success())
        && Command::new(&python)
            .args(["-m", "pip", "install", "-q", "openai>=1.40,<3"])
            .status()
            .is_ok_and(|s| s.success());
    if made && has(&python) {
        return Some(python);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI: the openai client could not be installed from PyPI into {}",
        venv.display()
    );
    eprintln!(
        "SKIPPED: the openai client could not be installed from PyPI (not CI, so not a failure)"
    );
    None
}

#[test]
fn the_official_openai_client_works_through_the_gateway() {
    let Some(python) = openai_python() else {
        return;
    };
    let (dir, key, analyst) = setup();
    let d = dir.path();
    let log = d.join("upstream.jsonl");
    let (_up, port) = upstream(&log);
    std::fs::write(d.join("gateway.toml"), config(port, closed_port())).unwrap();
    let gw = Gateway::start(d, &d.join("gateway.toml"));
    let out = Command::new(&python)
        .arg(fixtures().join("gateway/client_test.py"))
        .args([&gw.url, &key, &analyst])
        .arg(&log)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("ok - ")).count(),
        22,
        "{stdout}"
    );
    let access = gw.stop();
    check_after(d, &access, 18);
}

#[test]
fn tls_client_certificates_and_prompts_sealed_in_the_vault() {
    let Some(python) = openai_python() else {
        return;
    };
    let (dir, key, _) = setup();
    let d = dir.path();
    airlock(d)
        .args(["ca", "init", "--workspace", "ws"])
        .assert()
        .success();
    airlock(d)
        .args(["ca", "issue", "alice", "--out", ".", "--workspace", "ws"])
        .assert()
        .success();
    // alice's certificate and the gateway's own prompt log get their roles ([actors] is the
    // file's last table: `gateway key create` added it)
    let access = d.join("ws/.airlock/access.toml");
    let mut rules = std::fs::read_to_string(&access).unwrap();
    rules.push_str("\"cert:alice\" = [\"engineer\"]\ngateway = [\"steward\"]\n");
    std::fs::write(&access, rules).unwrap();
    let log = d.join("upstream.jsonl");
    let (_up, port) = upstream(&log);
    let config = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n[[upstreams]]\nname = \"local\"\nbase_url = \"http://127.0.0.1:{port}/v1\"\nbaa = false\n\
         [[routes]]\nmodels = [\"*\"]\nupstream = \"local\"\nroles = [\"engineer\"]\ninput = \"redact\"\noutput = \"redact\"\nlog_prompts = true\n"
    );
    std::fs::write(d.join("gateway.toml"), config).unwrap();
    let gw = Gateway::start(d, &d.join("gateway.toml"));
    assert!(gw.url.starts_with("https://"), "{}", gw.url);
    let script = r#"
import ssl, sys, httpx, openai
base, ca, cert, key, apikey, note = sys.argv[1:7]
ctx = ssl.create_default_context(cafile=ca)
ctx.load_cert_chain(cert, key)
alice = openai.OpenAI(base_url=base, api_key="not-an-airlock-key", max_retries=0, http_client=httpx.Client(verify=ctx))
out = alice.chat.completions.create(model="echo", messages=[{"role": "user", "content": note}]).choices[0].message.content
assert "[NAME]" in out and "Smith" not in out, out
anon = openai.OpenAI(base_url=base, api_key="not-an-airlock-key", max_retries=0, http_client=httpx.Client(verify=ssl.create_default_context(cafile=ca)))
try:
    anon.models.list()
    raise SystemExit("no credential was accepted")
except openai.AuthenticationError:
    pass
keyed = openai.OpenAI(base_url=base, api_key=apikey, max_retries=0, http_client=httpx.Client(verify=ssl.create_default_context(cafile=ca)))
chunks = keyed.chat.completions.create(model="echo", messages=[{"role": "user", "content": note}], stream=True)
assert "Smith" not in "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
both = openai.OpenAI(base_url=base, api_key=apikey, max_retries=0, http_client=httpx.Client(verify=ctx))
try:
    both.models.list()
    raise SystemExit("two credentials were accepted")
except openai.AuthenticationError:
    pass
try:
    httpx.get(base.replace("https://", "http://") + "/models", timeout=5)
    raise SystemExit("plain HTTP was answered")
except httpx.HTTPError:
    pass
print("tls ok")
"#;
    let out = Command::new(&python)
        .args(["-c", script, &gw.url])
        .arg(d.join("ws/.airlock/ca/ca.pem"))
        .arg(d.join("alice.pem"))
        .arg(d.join("alice.key"))
        .args([&key, NOTE])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let access_log = gw.stop();
    // four calls (plain HTTP never got past the handshake)
    check_after(d, &access_log, 4);
    let log = std::fs::read_to_string(d.join("ws/.airlock/audit.log")).unwrap();
    assert!(
        log.contains("\"actor\":\"cert:alice\""),
        "alice's call is hers"
    );
    // the prompts are in the vault's raw zone, sealed: nowhere in the workspace in the clear
    let sealed = common::sealed_datasets(&d.join("ws"), "gateway-prompts-");
    assert_eq!(sealed.len(), 1, "{sealed:?}");
    assert_eq!(sealed[0]["zone"], "raw");
    let id = sealed[0]["id"].as_str().unwrap();
    airlock(&d.join("ws"))
        .args([
            "vault",
            "get",
            id,
            "-o",
            "../prompts.jsonl",
            "--actor",
            "gateway",
        ])
        .args(["--role", "steward", "--purpose", "inference-log"])
        .assert()
        .success();
    let prompts = std::fs::read_to_string(d.join("prompts.jsonl")).unwrap();
    assert_eq!(prompts.lines().count(), 2, "{prompts}");
    assert!(prompts.contains("John Smith") && prompts.contains("[NAME]"));
    common::nowhere_in_clear(&d.join("ws"), "Quarry Lane");
}

#[test]
fn a_gateway_that_cannot_audit_takes_no_calls() {
    let (dir, key, _) = setup();
    let d = dir.path();
    let (_up, port) = upstream(&d.join("upstream.jsonl"));
    std::fs::write(d.join("gateway.toml"), config(port, closed_port())).unwrap();
    let gw = Gateway::start(d, &d.join("gateway.toml"));
    let chat = format!("{}/chat/completions", gw.url);
    let ask =
        serde_json::json!({"model": "gpt-test", "messages": [{"role": "user", "content": "hi"}]});
    assert_eq!(post(&chat, Some(&key), &ask).0, 200);
    // the log can no longer be appended to: a folder stands where it was
    let log = d.join("ws/.airlock/audit.log");
    std::fs::rename(&log, d.join("audit.log.kept")).unwrap();
    std::fs::create_dir(&log).unwrap();
    let _ = post(&chat, Some(&key), &ask);
    let start = std::time::Instant::now();
    loop {
        let (status, body) = post(&chat, Some(&key), &ask);
        if status == 503 {
            assert!(body.contains("audit log"), "{body}");
            // nor does it list models
            let models = ureq::get(format!("{}/models", gw.url))
                .config()
                .http_status_as_error(false)
                .build()
                .header("Authorization", &format!("Bearer {key}"))
                .call()
                .unwrap();
            assert_eq!(models.status().as_u16(), 503);
            break;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(20),
            "still answering {status} without an audit log"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// The load benchmark's short form (`airlock-bench --suite gateway` runs it in full):
/// concurrent clients for a few seconds, plain and streamed; every call answered and audited,
/// and the log verifies.
#[test]
fn concurrent_calls_are_all_answered_and_all_audited() {
    let (dir, key, _) = setup();
    let d = dir.path();
    let (_up, port) = upstream(&d.join("upstream.jsonl"));
    // this test is about every call answered in full under load, not about timeouts: the
    // 2 s the other tests use to provoke one is too short for a busy 2-core machine
    let toml =
        config(port, closed_port()).replace("upstream_timeout_s = 2", "upstream_timeout_s = 60");
    std::fs::write(d.join("gateway.toml"), toml).unwrap();
    let gw = Gateway::start(d, &d.join("gateway.toml"));
    let secs: u64 = std::env::var("AIRLOCK_LOAD_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    let chat = format!("{}/chat/completions", gw.url);
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let (chat, key) = (chat.clone(), key.clone());
            std::thread::spawn(move || -> Result<u64, String> {
                let mut calls = 0u64;
                while std::time::Instant::now() < deadline {
                    let body = serde_json::json!({"model": "echo", "stream": t % 2 == 1,
                        "messages": [{"role": "user", "content": NOTE}]});
                    let (status, text) = post(&chat, Some(&key), &body);
                    if status != 200 || text.contains("Smith") {
                        return Err(format!("{status}: {text}"));
                    }
                    if t % 2 == 1 && !text.contains("data: [DONE]") {
                        let tail = common::last_chars(&text, 400);
                        return Err(format!(
                            "stream ended after {} events, {} bytes: ...{tail}",
                            text.matches("data: ").count(),
                            text.len()
                        ));
                    }
                    calls += 1;
                }
                Ok(calls)
            })
        })
        .collect();
    let results: Vec<Result<u64, String>> =
        threads.into_iter().map(|t| t.join().unwrap()).collect();
    let access = gw.stop();
    // a failed call shows the gateway's own output too (a panic in a stream's task ends
    // the stream cleanly, and says why only there)
    if let Some(Err(why)) = results.iter().find(|r| r.is_err()) {
        let odd: Vec<&str> = access
            .lines()
            .filter(|l| !l.contains("\"forwarded\"") && !l.contains("\"redacted_output\""))
            .collect();
        let err = std::fs::read_to_string(d.join("gateway.err")).unwrap_or_default();
        panic!("{why}\n--- its access lines:\n{odd:#?}\n--- the gateway's stderr:\n{err}");
    }
    let calls: u64 = results.into_iter().map(Result::unwrap_or_default).sum();
    assert!(calls >= 8, "{calls} calls");
    check_after(d, &access, calls as usize);
    let log = std::fs::read_to_string(d.join("ws/.airlock/audit.log")).unwrap();
    let audited = log
        .lines()
        .filter(|l| l.contains("\"action\":\"gateway:chat.completions\""))
        .count() as u64;
    assert_eq!(audited, calls, "every call has exactly one entry");
}
