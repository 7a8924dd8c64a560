//! `--suite gateway`: `airlock gateway` (the release binary, its own process) in front of a
//! local upstream (axum, in this process, answering at once), all on loopback.
//!
//! 1. Overhead: one client, 2 KB prompts with and without identifiers, each sent straight to
//!    the upstream and through the gateway, alternately; the overhead is the difference of
//!    the latency percentiles.
//! 2. Load: 64 clients, half streaming, for `--rows` seconds (60); every call must answer 200
//!    (a stream must end with `[DONE]`).
//!
//! Then the gateway is stopped (SIGTERM) and its audit log verified: one entry per call.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::body::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

use crate::{BenchArgs, ExitStatus};

type Http = Client<HttpConnector, Full<Bytes>>;

const CLIENTS: usize = 64;

/// A prompt of about 2 KB: clinical prose, with a patient's identifiers or without.
fn prompt(phi: bool, i: usize) -> String {
    let mut text = String::new();
    while text.len() < 2000 {
        if phi {
            text.push_str(&format!(
                "Patient Maria Okonkwo-Hale (MRN {:07}) was seen on 03/14/2024; call 617-555-{:04}. ",
                4_455_000 + i % 1000,
                i % 10_000
            ));
        }
        text.push_str("Blood pressure 128/82, heart rate 74, HbA1c 6.1 percent; continue metformin 500 mg twice daily and review in three months. ");
    }
    text
}

async fn upstream_chat(body: Bytes) -> axum::response::Response {
    use axum::response::IntoResponse;
    let stream = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("stream").and_then(serde_json::Value::as_bool))
        .unwrap_or(false);
    if stream {
        let mut s = String::new();
        for piece in ["The plan ", "is reasonable; ", "continue ", "as written."] {
            let chunk = json!({"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m",
                "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": null}]});
            s.push_str(&format!("data: {chunk}\n\n"));
        }
        let last = json!({"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m",
            "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]});
        s.push_str(&format!("data: {last}\n\ndata: [DONE]\n\n"));
        ([("content-type", "text/event-stream")], s).into_response()
    } else {
        axum::Json(json!({"id": "c", "object": "chat.completion", "created": 0, "model": "m",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "The plan is reasonable; continue as written."}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 500, "completion_tokens": 9, "total_tokens": 509}}))
        .into_response()
    }
}

/// One call; whether it answered 200 (and a stream ended with `[DONE]`).
async fn call(client: &Http, url: &str, key: Option<&str>, body: &[u8], stream: bool) -> bool {
    let mut req = hyper::Request::post(url).header("content-type", "application/json");
    if let Some(k) = key {
        req = req.header("authorization", format!("Bearer {k}"));
    }
    let Ok(req) = req.body(Full::new(Bytes::copy_from_slice(body))) else {
        return false;
    };
    let Ok(resp) = client.request(req).await else {
        return false;
    };
    if resp.status() != 200 {
        return false;
    }
    let Ok(all) = resp.into_body().collect().await else {
        return false;
    };
    let bytes = all.to_bytes();
    !stream || bytes.windows(12).any(|w| w == b"data: [DONE]")
}

fn body(phi: bool, stream: bool, i: usize) -> Vec<u8> {
    json!({"model": "bench", "stream": stream, "messages": [{"role": "user", "content": prompt(phi, i)}]})
        .to_string()
        .into_bytes()
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

/// Latency percentiles of `n` calls straight to the upstream and through `target`,
/// alternately, for 2 KB prompts without and with identifiers.
fn overhead(
    rt: &tokio::runtime::Runtime,
    client: &Http,
    up_url: &str,
    target: &str,
    key: &str,
    n: usize,
) -> anyhow::Result<serde_json::Map<String, serde_json::Value>> {
    let mut overhead = serde_json::Map::new();
    for phi in [false, true] {
        let (mut direct, mut through) = (Vec::new(), Vec::new());
        let b = body(phi, false, 7);
        for i in 0..n + 50 {
            let t = Instant::now();
            anyhow::ensure!(
                rt.block_on(call(client, up_url, None, &b, false)),
                "the upstream failed"
            );
            let d = t.elapsed().as_secs_f64() * 1000.0;
            let t = Instant::now();
            anyhow::ensure!(
                rt.block_on(call(client, target, Some(key), &b, false)),
                "{target} failed"
            );
            let g = t.elapsed().as_secs_f64() * 1000.0;
            if i >= 50 {
                direct.push(d);
                through.push(g);
            }
        }
        let (d50, d99, g50, g99) = (
            pct(&mut direct, 0.5),
            pct(&mut direct, 0.99),
            pct(&mut through, 0.5),
            pct(&mut through, 0.99),
        );
        overhead.insert(
            if phi { "with_phi" } else { "without_phi" }.into(),
            json!({"direct_p50_ms": d50, "direct_p99_ms": d99, "gateway_p50_ms": g50, "gateway_p99_ms": g99,
                   "overhead_p50_ms": g50 - d50, "overhead_p99_ms": g99 - d99, "requests": n}),
        );
    }
    Ok(overhead)
}

/// [`CLIENTS`] clients (half streaming, half the prompts with identifiers) on `url` for
/// `secs`: calls answered, calls failed, seconds.
fn load(
    rt: &tokio::runtime::Runtime,
    client: &Http,
    url: &str,
    key: &str,
    secs: u64,
) -> (u64, u64, f64) {
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    rt.block_on(async {
        let mut tasks = Vec::new();
        for c in 0..CLIENTS {
            let (client, url, key, ok, failed) = (
                client.clone(),
                url.to_owned(),
                key.to_owned(),
                ok.clone(),
                failed.clone(),
            );
            tasks.push(tokio::spawn(async move {
                let stream = c % 2 == 1;
                let bodies = [body(false, stream, c), body(true, stream, c)];
                let mut i = 0usize;
                while Instant::now() < deadline {
                    let good = call(&client, &url, Some(&key), &bodies[i % 2], stream).await;
                    if good { &ok } else { &failed }.fetch_add(1, Ordering::Relaxed);
                    i += 1;
                }
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
    });
    (
        ok.load(Ordering::Relaxed),
        failed.load(Ordering::Relaxed),
        started.elapsed().as_secs_f64(),
    )
}

fn airlock(dir: &Path, args: &[&str]) -> anyhow::Result<std::process::Output> {
    let out = std::process::Command::new(crate::airlock_exe()?)
        .args(args)
        .current_dir(dir)
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "airlock {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(out)
}

pub fn run(args: &BenchArgs, json_out: bool) -> anyhow::Result<ExitStatus> {
    let tmp = tempfile::tempdir()?;
    let dir = args.dir.clone().unwrap_or_else(|| tmp.path().to_path_buf());
    std::fs::create_dir_all(&dir)?;
    let secs = if args.rows == 1_000_000 {
        60
    } else {
        args.rows.max(1)
    };
    airlock(&dir, &["init", "--dir", "."])?;
    let out = airlock(
        &dir,
        &[
            "--json",
            "gateway",
            "key",
            "create",
            "bench",
            "--role",
            "engineer",
            "--workspace",
            ".",
        ],
    )?;
    let key: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    let key = key["api_key"].as_str().context("no key")?.to_owned();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    // the upstream
    let listener = rt.block_on(tokio::net::TcpListener::bind((
        "127.0.0.1",
        args.upstream_port.unwrap_or(0),
    )))?;
    let up = listener.local_addr()?;
    rt.spawn(async move {
        let app =
            axum::Router::new().route("/v1/chat/completions", axum::routing::post(upstream_chat));
        let _ = axum::serve(listener, app).await;
    });
    std::fs::write(
        dir.join("gateway.toml"),
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\ntls = false\n[[upstreams]]\nname = \"local\"\nbase_url = \"http://{up}/v1\"\nbaa = false\n[[routes]]\nmodels = [\"*\"]\nupstream = \"local\"\nroles = [\"engineer\"]\ninput = \"redact\"\noutput = \"redact\"\n"
        ),
    )?;
    let ready = dir.join("gateway.ready");
    let mut gateway = std::process::Command::new(crate::airlock_exe()?)
        .args([
            "gateway",
            "--workspace",
            ".",
            "--config",
            "gateway.toml",
            "--ready-file",
            "gateway.ready",
        ])
        .current_dir(&dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    let start = Instant::now();
    while !ready.exists() {
        anyhow::ensure!(
            start.elapsed() < Duration::from_secs(60),
            "the gateway did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let gw_url = format!(
        "{}/chat/completions",
        std::fs::read_to_string(&ready)?.trim()
    );
    let up_url = format!("http://{up}/v1/chat/completions");
    let client: Http = Client::builder(hyper_util::rt::TokioExecutor::new())
        .pool_max_idle_per_host(CLIENTS)
        .build_http();

    // 1. overhead, one client; 2. load: 64 clients, half streaming, half the prompts with
    // identifiers
    let n = 1000;
    let ours = overhead(&rt, &client, &up_url, &gw_url, &key, n)?;
    let (ok, failed, load_secs) = load(&rt, &client, &gw_url, &key, secs);

    // stop, then the log: one entry per call, and it verifies
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &gateway.id().to_string()])
        .status();
    let status = gateway.wait()?;
    anyhow::ensure!(status.success(), "the gateway ended with {status}");
    let vault = airlock_vault::Vault::open(
        &dir.join(".airlock"),
        airlock_core::keys::WorkspaceSecret::load(&dir.join(".airlock/secret"))?,
    )?;
    let verified = vault.verify_audit()?;
    let log = std::fs::read_to_string(dir.join(".airlock/audit.log"))?;
    let audited = log
        .lines()
        .filter(|l| l.contains("\"action\":\"gateway:chat.completions\""))
        .count() as u64;
    // the overhead phase sent 2 x (n + 50) calls through the gateway
    let calls = ok + failed + 2 * (n as u64 + 50);
    // a peer proxy in front of the same upstream (started by gateway/compare.sh), measured
    // the same way
    let peer = match &args.peer {
        Some(base) => {
            let url = format!("{}/chat/completions", base.trim_end_matches('/'));
            let key = std::env::var("PEER_API_KEY").unwrap_or_else(|_| "sk-bench".into());
            let overhead = overhead(&rt, &client, &up_url, &url, &key, n)?;
            let (ok, failed, secs) = load(&rt, &client, &url, &key, secs);
            Some(json!({"url": base, "overhead": overhead,
                "load": {"clients": CLIENTS, "seconds": secs, "ok": ok, "failed": failed,
                         "requests_per_second": ok as f64 / secs}}))
        }
        None => None,
    };
    let result = json!({
        "suite": "gateway",
        "overhead": ours,
        "load": {"clients": CLIENTS, "seconds": load_secs, "ok": ok, "failed": failed,
                 "requests_per_second": ok as f64 / load_secs},
        "audit": {"entries": verified.entries, "gateway_calls_audited": audited, "calls": calls, "verified": true},
        "peer": peer,
    });
    anyhow::ensure!(
        audited == calls,
        "{audited} audit entries for {calls} calls"
    );
    if json_out {
        println!("{}", serde_json::to_string_pretty(&result)?);
    } else {
        let o = |k: &str, f: &str| ours[k][f].as_f64().unwrap_or(f64::NAN);
        println!("gateway overhead (1 client, 2 KB prompts, {n} requests each):");
        for k in ["without_phi", "with_phi"] {
            println!(
                "  {k:<12} direct p50 {:.3} ms p99 {:.3} ms; through the gateway p50 {:.3} ms p99 {:.3} ms; overhead p50 {:.3} ms p99 {:.3} ms",
                o(k, "direct_p50_ms"),
                o(k, "direct_p99_ms"),
                o(k, "gateway_p50_ms"),
                o(k, "gateway_p99_ms"),
                o(k, "overhead_p50_ms"),
                o(k, "overhead_p99_ms")
            );
        }
        println!(
            "load: {CLIENTS} clients (half streaming) for {load_secs:.1} s: {ok} ok, {failed} failed, {:.0} requests/s",
            ok as f64 / load_secs
        );
        println!(
            "audit: {audited} gateway entries for {calls} calls; the log verifies ({} entries)",
            verified.entries
        );
        if let Some(p) = &peer {
            println!("peer: {p}");
        }
    }
    Ok(ExitStatus::Success)
}
