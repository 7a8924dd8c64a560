//! `airlock bench --suite vault`: `vault put` (encrypt) and `vault get` (decrypt and verify)
//! of a generated file against a plain copy of the same file, in one process on one core,
//! in a throwaway workspace. Medians of `--runs`.

use std::io::Write;
use std::time::Instant;

use anyhow::Context;

use airlock_core::keys::WorkspaceSecret;
use airlock_vault::{Actor, Vault, Zone};

use crate::BenchArgs;
use crate::ExitStatus;
use crate::bench_risk::median;
use crate::report::{self, thousands};

pub fn run(args: &BenchArgs, json: bool) -> anyhow::Result<ExitStatus> {
    let tmp = tempfile::tempdir().context("cannot create a temporary directory")?;
    let dir = args.dir.clone().unwrap_or_else(|| tmp.path().to_path_buf());
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    // --rows is the size in MiB here (default 256)
    let mib = if args.rows == 1_000_000 {
        256
    } else {
        args.rows.max(1)
    };
    let input = dir.join("payload.bin");
    {
        let mut w = std::io::BufWriter::new(std::fs::File::create(&input)?);
        let mut block = vec![0u8; 1 << 20];
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..mib {
            for b in block.iter_mut() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *b = x as u8;
            }
            w.write_all(&block)?;
        }
        w.flush()?;
    }
    let ws = dir.join("workspace");
    let secret = WorkspaceSecret::create(&ws.join("secret"))?;
    let vault = Vault::init(&ws, secret)?;
    let who = Actor {
        name: "bench".into(),
        role: "steward".into(),
        purpose: "benchmark".into(),
    };
    let runs = args.runs.max(1);
    let (mut copy, mut put, mut get) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..runs {
        let t = Instant::now();
        std::fs::copy(&input, dir.join("copy.bin"))?;
        std::fs::File::open(dir.join("copy.bin"))?.sync_all()?;
        copy.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        let ds = vault.put(&input, Zone::Raw, Some(&format!("bench-{i}")), &who)?;
        put.push(t.elapsed().as_secs_f64());
        let out = dir.join(format!("get-{i}.bin"));
        let t = Instant::now();
        vault.get(&ds.id, &out, true, &who)?;
        get.push(t.elapsed().as_secs_f64());
        std::fs::remove_file(&out)?;
        vault.shred(&ds.id, &who)?;
    }
    let (copy, put, get) = (median(copy), median(put), median(get));
    let mbps = |s: f64| mib as f64 * 1.048_576 / s.max(1e-9);
    if json {
        report::json(&serde_json::json!({
            "status": "ok",
            "mib": mib,
            "runs": runs,
            "copy_seconds": copy,
            "put_seconds": put,
            "get_seconds": get,
            "copy_mb_per_s": mbps(copy),
            "put_mb_per_s": mbps(put),
            "get_mb_per_s": mbps(get),
        }));
        return Ok(ExitStatus::Success);
    }
    report::out(&format!(
        "bench vault: {} MiB file, one core, median of {} runs (each put and get is audited)\n\n  \
         plain copy + sync           {:>7.3} s  {:>8.1} MB/s\n  \
         vault put (AES-256-GCM)     {:>7.3} s  {:>8.1} MB/s   ({:.2}x the copy)\n  \
         vault get (decrypt+verify)  {:>7.3} s  {:>8.1} MB/s   ({:.2}x the copy)\n",
        thousands(mib),
        runs,
        copy,
        mbps(copy),
        put,
        mbps(put),
        put / copy.max(1e-9),
        get,
        mbps(get),
        get / copy.max(1e-9),
    ));
    Ok(ExitStatus::Success)
}
