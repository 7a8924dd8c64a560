//! `airlock bench --suite risk`: raw metrics and the 5-anonymity search (at most 5% suppressed,
//! ARX's Loss) on the ARX adult table, and the same search on a seeded resample of it with
//! `--rows` rows, all in this process on one core. Says so and stops when the table is missing.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use airlock_core::table::Format;
use airlock_risk::metrics::{distribution, summarize};
use airlock_risk::{Criteria, Dataset, Hierarchy, HierarchySpec, classes, search};

use crate::BenchArgs;
use crate::ExitStatus;
use crate::report::{self, thousands};

const QI8: [&str; 8] = [
    "sex",
    "age",
    "race",
    "marital-status",
    "education",
    "native-country",
    "workclass",
    "salary-class",
];

fn find_adult(explicit: Option<&Path>) -> Option<PathBuf> {
    let candidates = [
        explicit.map(Path::to_path_buf),
        Some(PathBuf::from("crates/airlock-risk/tests/data/adult")),
        Some(PathBuf::from("../shared/data/adult")),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|d| d.join("adult.csv").is_file())
}

fn load(table: &Path, dir: &Path) -> anyhow::Result<Dataset> {
    let mut h = HashMap::new();
    for q in QI8 {
        h.insert(
            q.to_owned(),
            HierarchySpec::File(Hierarchy::load(
                &dir.join(format!("adult_hierarchy_{q}.csv")),
            )?),
        );
    }
    let qis: Vec<String> = QI8.iter().map(|s| (*s).to_owned()).collect();
    Ok(Dataset::load(
        table,
        Format::Csv,
        &qis,
        &h,
        Some("occupation"),
    )?)
}

/// The median of timings (the upper one of an even count).
pub(super) fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn time<T>(f: impl Fn() -> anyhow::Result<T>) -> anyhow::Result<(f64, T)> {
    let start = Instant::now();
    let out = f()?;
    Ok((start.elapsed().as_secs_f64(), out))
}

pub fn run(args: &BenchArgs, json: bool) -> anyhow::Result<ExitStatus> {
    let Some(adult) = find_adult(args.adult.as_deref()) else {
        anyhow::bail!(
            "the ARX adult table was not found (looked in --adult, crates/airlock-risk/tests/data/adult and ../shared/data/adult); the risk benchmark needs it"
        );
    };
    let table = adult.join("adult.csv");
    let criteria = Criteria {
        k: Some(5),
        max_suppression: 0.05,
        ..Criteria::default()
    };
    let runs = args.runs.max(1);
    let mut raw = Vec::new();
    let mut searches = Vec::new();
    let mut best = None;
    for _ in 0..runs {
        let (t, _) = time(|| {
            let ds = load(&table, &adult)?;
            let bottom = classes::bottom(&ds)?;
            let dist = distribution(&bottom);
            Ok(summarize(&bottom, &[], Some(&dist), 0.2))
        })?;
        raw.push(t);
        let ds = load(&table, &adult)?;
        let (t, out) = time(|| Ok(search(&ds, &criteria)?))?;
        searches.push(t);
        best = out.best.map(|(e, _)| e);
    }
    let best = best.context("adult has a 5-anonymous node")?;

    // A seeded resample of adult with `rows` rows: each cell drawn from a random record, so the
    // columns keep their distributions and hierarchies but lose their correlations, which makes
    // far more distinct combinations (a harder search than copies of adult's records).
    let tmp = tempfile::tempdir().context("cannot create a temporary directory")?;
    let big = match &args.dir {
        Some(d) => {
            std::fs::create_dir_all(d)?;
            d.join("adult-resample.csv")
        }
        None => tmp.path().join("adult-resample.csv"),
    };
    let text = std::fs::read_to_string(&table)?;
    let mut lines = text.lines();
    let header = lines.next().context("adult.csv has a header")?;
    let records: Vec<Vec<&str>> = lines.map(|l| l.trim_end().split(';').collect()).collect();
    let width = header.split(';').count();
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let mut out = std::io::BufWriter::new(std::fs::File::create(&big)?);
    writeln!(out, "{}", header.trim_end())?;
    let mut row = Vec::with_capacity(width);
    for _ in 0..args.rows {
        row.clear();
        row.extend((0..width).map(|c| records[rng.random_range(0..records.len())][c]));
        writeln!(out, "{}", row.join(";"))?;
    }
    out.flush()?;
    drop(out);
    let (load_big, ds) = time(|| load(&big, &adult))?;
    let classes_raw = classes::bottom(&ds)?.len();
    let (search_big, out_big) = time(|| Ok(search(&ds, &criteria)?))?;
    let best_big = out_big.best.map(|(e, _)| e);
    let (raw_s, search_s) = (median(raw), median(searches));
    if json {
        report::json(&serde_json::json!({
            "status": "ok",
            "adult": {
                "raw_metrics_seconds": raw_s,
                "search_seconds": search_s,
                "levels": best.levels,
                "suppressed_records": best.suppressed_records,
                "loss": best.loss,
            },
            "resample": {
                "rows": args.rows,
                "classes_raw": classes_raw,
                "load_seconds": load_big,
                "search_seconds": search_big,
                "nodes_evaluated": out_big.nodes,
                "nodes_pruned": out_big.pruned,
                "levels": best_big.as_ref().map(|e| e.levels.clone()),
            },
        }));
    } else {
        report::out(&format!(
            "risk bench (one core; medians of {runs} runs on adult)\n\
             \x20 adult, 30,162 rows x 8 QIs: raw metrics (load included)   {raw_s:>7.3} s\n\
             \x20 adult: optimal 5-anonymity, <= 5% suppression, Loss    {search_s:>7.3} s  -> levels {:?}, {} suppressed, Loss {:.6}\n\
             \x20 resample, {} rows x 8 QIs ({} classes raw): load {load_big:.2} s, search {search_big:.2} s ({} evaluated, {} pruned) -> levels {:?}\n",
            best.levels,
            thousands(best.suppressed_records),
            best.loss,
            thousands(args.rows),
            thousands(classes_raw as u64),
            thousands(out_big.nodes as u64),
            thousands(out_big.pruned as u64),
            best_big.map(|e| e.levels)
        ));
    }
    Ok(ExitStatus::Success)
}
