//! Differentially private synthetic tables, in the MST family (McKenna, Miklau and Sheldon
//! 2021): noisy one-way marginals, a private choice of two-way marginals along a maximum
//! spanning tree (the exponential mechanism), Gaussian measurements of them, a tree-structured
//! model made consistent with what was measured, and sampling from it. Everything is spent
//! from one zCDP budget (`airlock_dp::zcdp`) that refuses to be overspent.
//!
//! What differs from MST, and why:
//! - **The domain is found privately.** MST assumes each column's values are public. Here a
//!   column's values are released only when their noisy count clears a threshold set so that a
//!   value held by one record passes with probability at most δ/2 over all columns (the
//!   Gaussian sparse histogram; the guarantee is δ/2-approximate zCDP). Values not released share
//!   one "other" bucket, sampled as an empty cell. Numbers are rounded to two significant digits
//!   first (a data-independent grid), so a numeric column becomes a few dozen categories.
//! - **The model is fitted by weighting and iterative proportional fitting**, not Private-PGM's
//!   mirror descent: each tree edge's noisy joint table (negatives clipped) is scaled until its
//!   margins are the measured one-way marginals. For a tree this gives a consistent
//!   distribution that reproduces every measured marginal it can.
//!
//! The budget: ρ for (ε, δ/2) by Canonne-Kamath-Steinke; ρ/6 finds the domain, ρ/6 measures
//! the one-way marginals over it, ρ/3 chooses the tree, ρ/3 measures its edges.

#![forbid(unsafe_code, unused_must_use)]

use std::collections::HashMap;

use airlock_dp::zcdp::{self, ZcdpBudget};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha12Rng;
use serde::{Deserialize, Serialize};

pub use airlock_train::Table;

pub mod report;

#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    #[error(transparent)]
    Dp(#[from] airlock_dp::DpError),
    #[error(transparent)]
    Core(#[from] airlock_core::Error),
    #[error(transparent)]
    Table(#[from] airlock_train::TrainError),
    #[error("{0}")]
    Invalid(String),
}

pub type Result<T, E = SynthError> = std::result::Result<T, E>;

/// The model file's format tag.
pub const FORMAT: &str = "airlock-synth/1";

/// What a fit may spend.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Budget {
    Private {
        epsilon: f64,
        delta: f64,
    },
    /// No privacy at all: the exact marginals (for comparison; every output says so).
    NonPrivate,
}

/// One column of the model: the values it releases (the "other" bucket, index `values.len()`,
/// holds the rest and is sampled as an empty cell).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Column {
    pub name: String,
    pub values: Vec<String>,
}

impl Column {
    /// Cells of this column's marginal: the released values and the other bucket.
    pub fn size(&self) -> usize {
        self.values.len() + 1
    }
}

/// One tree edge: the joint distribution of a parent and a child column,
/// `joint[p * child_size + c]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Edge {
    pub parent: usize,
    pub child: usize,
    pub joint: Vec<f64>,
}

/// What the fit spent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Privacy {
    pub non_private: bool,
    pub epsilon: Option<f64>,
    pub delta: Option<f64>,
    /// The zCDP budget the Gaussian and exponential mechanisms spent (δ/2 of δ goes to the
    /// domain's threshold).
    pub rho: Option<f64>,
    pub rho_spent: Option<f64>,
    pub accountant: String,
    /// `os` (the operating system's random source) or `seeded` (reproducible from the seed).
    #[serde(default)]
    pub noise: String,
}

/// A fitted synthesizer: marginals and a tree, nothing record-level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SynthModel {
    pub format: String,
    pub columns: Vec<Column>,
    /// Each column's distribution over its cells.
    pub marginals: Vec<Vec<f64>>,
    /// The tree, parents before children (roots are the columns no edge names as child).
    pub edges: Vec<Edge>,
    pub privacy: Privacy,
    /// The (noisy) number of rows fitted.
    pub rows: f64,
}

/// A cell as the synthesizer sees it: numbers rounded to two significant digits, ISO dates
/// (and date-times) to their month, text trimmed, empty as empty. The grid is the same for
/// every table, so it reveals nothing about one.
pub fn bucket(cell: Option<&str>) -> String {
    let Some(v) = cell.map(str::trim).filter(|v| !v.is_empty()) else {
        return String::new();
    };
    let b = v.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    if b.len() >= 10
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && (b.len() == 10 || matches!(b[10], b'T' | b' '))
    {
        return v[..7].to_owned();
    }
    match v.parse::<f64>() {
        Ok(x) if x.is_finite() && v.chars().all(|c| c.is_ascii_digit() || "+-.eE".contains(c)) => {
            round2(x)
        }
        _ => v.to_owned(),
    }
}

fn round2(x: f64) -> String {
    if x == 0.0 {
        return "0".into();
    }
    let exp = x.abs().log10().floor() as i32 - 1;
    let scale = 10f64.powi(exp);
    let r = (x / scale).round() * scale;
    if exp >= 0 {
        format!("{r:.0}")
    } else {
        format!("{r:.*}", (-exp) as usize)
    }
}

/// The table's chosen columns, bucketed.
fn bucketed(table: &Table, columns: &[String]) -> Result<Vec<Vec<String>>> {
    columns
        .iter()
        .map(|name| {
            let c = table.column(name)?;
            Ok(table.columns[c]
                .iter()
                .map(|v| bucket(v.as_deref()))
                .collect())
        })
        .collect()
}

/// A column's cell index per row, given its released values.
fn indexes(cells: &[String], values: &[String]) -> Vec<usize> {
    let at: HashMap<&str, usize> = values
        .iter()
        .enumerate()
        .map(|(i, v)| (v.as_str(), i))
        .collect();
    cells
        .iter()
        .map(|c| at.get(c.as_str()).copied().unwrap_or(values.len()))
        .collect()
}

fn counts(idx: &[usize], size: usize) -> Vec<f64> {
    let mut out = vec![0.0; size];
    for &i in idx {
        out[i] += 1.0;
    }
    out
}

fn joint_counts(a: &[usize], b: &[usize], sb: usize, size: usize) -> Vec<f64> {
    let mut out = vec![0.0; size];
    for (&x, &y) in a.iter().zip(b) {
        out[x * sb + y] += 1.0;
    }
    out
}

/// Negatives to zero, then to a distribution (uniform when nothing is left).
fn normalized(v: &[f64]) -> Vec<f64> {
    let clipped: Vec<f64> = v.iter().map(|x| x.max(0.0)).collect();
    let s: f64 = clipped.iter().sum();
    if s > 0.0 {
        clipped.iter().map(|x| x / s).collect()
    } else {
        vec![1.0 / v.len() as f64; v.len()]
    }
}

/// Scales a joint table (negatives clipped) until its margins are `pa` and `pb`.
fn fit_joint(noisy: &[f64], pa: &[f64], pb: &[f64]) -> Vec<f64> {
    let (sa, sb) = (pa.len(), pb.len());
    // a small floor keeps every cell reachable, so the margins can always be met
    let floor = 1e-9;
    let mut j: Vec<f64> = noisy.iter().map(|x| x.max(0.0) + floor).collect();
    for _ in 0..100 {
        for a in 0..sa {
            let row: f64 = j[a * sb..(a + 1) * sb].iter().sum();
            let f = if row > 0.0 { pa[a] / row } else { 0.0 };
            j[a * sb..(a + 1) * sb].iter_mut().for_each(|x| *x *= f);
        }
        for b in 0..sb {
            let col: f64 = (0..sa).map(|a| j[a * sb + b]).sum();
            let f = if col > 0.0 { pb[b] / col } else { 0.0 };
            (0..sa).for_each(|a| j[a * sb + b] *= f);
        }
    }
    normalized(&j)
}

/// The component of column `x` (union-find without path compression: a few dozen columns).
fn root(parent: &[usize], mut x: usize) -> usize {
    while parent[x] != x {
        x = parent[x];
    }
    x
}

/// The Gaussian mechanism on `values`, to which one record adds 1 in `parts` places (so its
/// L2 sensitivity is √parts), spending `rho` from the ledger; its noise's standard deviation.
/// Without a ledger (the non-private mode) nothing is added.
fn measure(
    ledger: &mut Option<ZcdpBudget>,
    values: &mut [f64],
    parts: usize,
    rho: f64,
    rng: &mut ChaCha12Rng,
) -> Result<f64> {
    let Some(l) = ledger.as_mut() else {
        return Ok(0.0);
    };
    l.spend(rho)?;
    let sigma = zcdp::gaussian_sigma((parts as f64).sqrt(), rho);
    values
        .iter_mut()
        .for_each(|v| *v += sigma * airlock_train::normal_pair(rng).0);
    Ok(sigma)
}

/// Fits a synthesizer to `columns` of `table` within `budget`. With a `seed` the noise is
/// reproducible by anyone who knows it (tests, audits); without one it comes from the operating
/// system's random source.
pub fn fit(
    table: &Table,
    columns: &[String],
    budget: Budget,
    seed: Option<u64>,
) -> Result<SynthModel> {
    if columns.is_empty() {
        return Err(SynthError::Invalid("no columns to synthesize".into()));
    }
    let d = columns.len();
    let cells = bucketed(table, columns)?;
    let mut rng = match seed {
        Some(s) => ChaCha12Rng::seed_from_u64(s ^ 0x73796e7468),
        None => {
            let mut s = [0u8; 32];
            getrandom::fill(&mut s).map_err(|e| {
                SynthError::Invalid(format!("the operating system's random source failed: {e}"))
            })?;
            ChaCha12Rng::from_seed(s)
        }
    };
    let (mut ledger, rho, delta) = match budget {
        Budget::Private { epsilon, delta } => {
            if !(delta > 0.0 && delta < 1.0) {
                return Err(airlock_dp::DpError::Delta(delta).into());
            }
            let ledger = ZcdpBudget::for_target(epsilon, delta / 2.0)?;
            let rho = ledger.total();
            (Some(ledger), rho, delta)
        }
        Budget::NonPrivate => (None, 0.0, 0.0),
    };

    // 1. the domain: each column's values by noisy count, released above the threshold
    let mut domain: Vec<Column> = Vec::with_capacity(d);
    let mut distinct: Vec<(Vec<String>, Vec<f64>)> = Vec::with_capacity(d);
    let mut all = Vec::new();
    for col in &cells {
        let mut by: HashMap<&str, f64> = HashMap::new();
        for v in col {
            *by.entry(v.as_str()).or_default() += 1.0;
        }
        let mut keys: Vec<&str> = by.keys().copied().collect();
        keys.sort_unstable();
        let c: Vec<f64> = keys.iter().map(|k| by[k]).collect();
        all.extend_from_slice(&c);
        distinct.push((keys.into_iter().map(str::to_owned).collect(), c));
    }
    let sigma_a = measure(&mut ledger, &mut all, d, rho / 6.0, &mut rng)?;
    let threshold = if ledger.is_some() {
        // the upper quantile of δ/2d: minus its lower one
        1.0 - sigma_a * airlock_dp::pld::normal_quantile_of_log((delta / 2.0 / d as f64).ln())
    } else {
        0.5
    };
    let mut at = 0;
    for (name, (keys, _)) in columns.iter().zip(&distinct) {
        let noisy = &all[at..at + keys.len()];
        at += keys.len();
        let mut released: Vec<(&String, f64)> = keys
            .iter()
            .zip(noisy)
            .filter(|(_, n)| **n > threshold)
            .map(|(k, n)| (k, *n))
            .collect();
        released.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        domain.push(Column {
            name: name.clone(),
            values: released.into_iter().map(|(k, _)| k.clone()).collect(),
        });
    }
    let idx: Vec<Vec<usize>> = cells
        .iter()
        .zip(&domain)
        .map(|(c, col)| indexes(c, &col.values))
        .collect();

    // 2. one-way marginals over the released values and the other bucket
    let mut ones: Vec<f64> = idx
        .iter()
        .zip(&domain)
        .flat_map(|(i, c)| counts(i, c.size()))
        .collect();
    measure(&mut ledger, &mut ones, d, rho / 6.0, &mut rng)?;
    let mut marginals = Vec::with_capacity(d);
    let mut totals = 0.0;
    let mut at = 0;
    for c in &domain {
        let m = &ones[at..at + c.size()];
        at += c.size();
        totals += m.iter().map(|x| x.max(0.0)).sum::<f64>();
        marginals.push(normalized(m));
    }
    let rows = (totals / d as f64).max(0.0);

    // 3. the tree: pairs scored by how far their joint is from independence (L1, sensitivity
    // 1: the estimate is post-processing), chosen one edge at a time by the exponential
    // mechanism among pairs that join two components
    let mut pairs: Vec<(usize, usize, f64)> = Vec::new();
    for a in 0..d {
        for b in a + 1..d {
            let (sa, sb) = (domain[a].size(), domain[b].size());
            let true_joint = joint_counts(&idx[a], &idx[b], sb, sa * sb);
            let mut q = 0.0;
            for x in 0..sa {
                for y in 0..sb {
                    q += (true_joint[x * sb + y] - rows * marginals[a][x] * marginals[b][y]).abs();
                }
            }
            pairs.push((a, b, q));
        }
    }
    let mut comp: Vec<usize> = (0..d).collect();
    let mut chosen: Vec<(usize, usize)> = Vec::new();
    let steps = d.saturating_sub(1);
    let em_epsilon = match ledger.as_ref() {
        Some(_) if steps > 0 => Some(zcdp::exponential_epsilon(rho / 3.0 / steps as f64)),
        _ => None,
    };
    for _ in 0..steps {
        let open: Vec<&(usize, usize, f64)> = pairs
            .iter()
            .filter(|(a, b, _)| root(&comp, *a) != root(&comp, *b))
            .collect();
        let pick = match em_epsilon {
            Some(e) => {
                if let Some(l) = ledger.as_mut() {
                    l.spend(zcdp::exponential_rho(e))?;
                }
                let max = open.iter().map(|p| p.2).fold(f64::NEG_INFINITY, f64::max);
                let w: Vec<f64> = open.iter().map(|p| (0.5 * e * (p.2 - max)).exp()).collect();
                let total: f64 = w.iter().sum();
                let mut u = rng.random::<f64>() * total;
                let mut k = 0;
                while k + 1 < w.len() && u >= w[k] {
                    u -= w[k];
                    k += 1;
                }
                k
            }
            None => open
                .iter()
                .enumerate()
                .max_by(|x, y| x.1.2.total_cmp(&y.1.2))
                .map_or(0, |(k, _)| k),
        };
        let (a, b, _) = *open[pick];
        let (ra, rb) = (root(&comp, a), root(&comp, b));
        comp[ra] = rb;
        chosen.push((a, b));
    }

    // 4. the tree's edges measured, and fitted to the one-way marginals
    let mut edges_noisy: Vec<Vec<f64>> = chosen
        .iter()
        .map(|&(a, b)| {
            let sb = domain[b].size();
            joint_counts(&idx[a], &idx[b], sb, domain[a].size() * sb)
        })
        .collect();
    if !chosen.is_empty() {
        let mut flat: Vec<f64> = edges_noisy.iter().flatten().copied().collect();
        measure(&mut ledger, &mut flat, chosen.len(), rho / 3.0, &mut rng)?;
        let mut at = 0;
        for e in &mut edges_noisy {
            let n = e.len();
            e.copy_from_slice(&flat[at..at + n]);
            at += n;
        }
    }
    // orient from column 0 outwards: parents before children
    let mut edges = Vec::with_capacity(chosen.len());
    let mut placed = vec![false; d];
    let mut queue = std::collections::VecDeque::new();
    for start in 0..d {
        if placed[start] {
            continue;
        }
        placed[start] = true;
        queue.push_back(start);
        while let Some(p) = queue.pop_front() {
            for (k, &(a, b)) in chosen.iter().enumerate() {
                let (parent, child, flip) = if a == p && !placed[b] {
                    (a, b, false)
                } else if b == p && !placed[a] {
                    (b, a, true)
                } else {
                    continue;
                };
                placed[child] = true;
                queue.push_back(child);
                let (sp, sc) = (domain[parent].size(), domain[child].size());
                let noisy = &edges_noisy[k];
                // stored as [a][b]; re-index to [parent][child]
                let oriented: Vec<f64> = (0..sp * sc)
                    .map(|i| {
                        let (x, y) = (i / sc, i % sc);
                        if flip {
                            noisy[y * sp + x]
                        } else {
                            noisy[x * sc + y]
                        }
                    })
                    .collect();
                edges.push(Edge {
                    parent,
                    child,
                    joint: fit_joint(&oriented, &marginals[parent], &marginals[child]),
                });
            }
        }
    }
    let noise = if seed.is_some() { "seeded" } else { "os" };
    let privacy = match (budget, ledger) {
        (Budget::Private { epsilon, delta }, Some(l)) => Privacy {
            non_private: false,
            epsilon: Some(epsilon),
            delta: Some(delta),
            rho: Some(l.total()),
            rho_spent: Some(l.spent()),
            accountant: "zCDP (Canonne-Kamath-Steinke conversion at delta/2) + delta/2 for the domain threshold".into(),
            noise: noise.into(),
        },
        _ => Privacy {
            non_private: true,
            epsilon: None,
            delta: None,
            rho: None,
            rho_spent: None,
            accountant: "none: NOT differentially private".into(),
            noise: noise.into(),
        },
    };
    Ok(SynthModel {
        format: FORMAT.into(),
        columns: domain,
        marginals,
        edges,
        privacy,
        rows,
    })
}

/// Draws one cell index from a distribution.
fn draw(p: &[f64], rng: &mut ChaCha12Rng) -> usize {
    let total: f64 = p.iter().sum();
    let mut u = rng.random::<f64>() * total;
    for (i, &w) in p.iter().enumerate() {
        if u < w {
            return i;
        }
        u -= w;
    }
    p.len() - 1
}

impl SynthModel {
    /// Checks a model read from a file: its shapes agree (a malformed file is refused, never
    /// sampled from).
    pub fn check(&self) -> Result<()> {
        let bad = |why: &str| {
            Err(SynthError::Invalid(format!(
                "the model file is malformed: {why}"
            )))
        };
        if self.format != FORMAT {
            return bad("unknown format");
        }
        if self.marginals.len() != self.columns.len() || self.columns.is_empty() {
            return bad("columns and marginals differ");
        }
        for (m, c) in self.marginals.iter().zip(&self.columns) {
            if m.len() != c.size() || m.iter().any(|p| !(p.is_finite() && *p >= 0.0)) {
                return bad("a marginal does not fit its column");
            }
        }
        let mut seen = vec![false; self.columns.len()];
        for e in &self.edges {
            let (Some(p), Some(c)) = (self.columns.get(e.parent), self.columns.get(e.child)) else {
                return bad("an edge names no column");
            };
            if e.joint.len() != p.size() * c.size()
                || e.joint.iter().any(|x| !(x.is_finite() && *x >= 0.0))
                || seen[e.child]
            {
                return bad("an edge does not fit its columns");
            }
            seen[e.child] = true;
        }
        Ok(())
    }

    /// Samples `n` rows, `batch` at a time, handing each batch's columns (cells as text,
    /// `None` for the other bucket) to `sink`. The same seed gives the same rows.
    pub fn sample(
        &self,
        n: u64,
        seed: u64,
        batch: usize,
        sink: &mut dyn FnMut(Vec<Vec<Option<String>>>) -> Result<()>,
    ) -> Result<()> {
        self.check()?;
        let d = self.columns.len();
        let mut rng = ChaCha12Rng::seed_from_u64(seed);
        let children: Vec<bool> = {
            let mut c = vec![false; d];
            self.edges.iter().for_each(|e| c[e.child] = true);
            c
        };
        let mut left = n;
        let mut row = vec![0usize; d];
        while left > 0 {
            let k = left.min(batch.max(1) as u64) as usize;
            let mut cols: Vec<Vec<Option<String>>> = vec![Vec::with_capacity(k); d];
            for _ in 0..k {
                for (j, is_child) in children.iter().enumerate() {
                    if !is_child {
                        row[j] = draw(&self.marginals[j], &mut rng);
                    }
                }
                for e in &self.edges {
                    let sc = self.columns[e.child].size();
                    let p = row[e.parent];
                    let cond = &e.joint[p * sc..(p + 1) * sc];
                    row[e.child] = if cond.iter().sum::<f64>() > 0.0 {
                        draw(cond, &mut rng)
                    } else {
                        draw(&self.marginals[e.child], &mut rng)
                    };
                }
                for (j, c) in cols.iter_mut().enumerate() {
                    c.push(self.columns[j].values.get(row[j]).cloned());
                }
            }
            sink(cols)?;
            left -= k as u64;
        }
        Ok(())
    }
}

/// Samples `rows` rows of `model` into `output` (CSV, JSONL or Parquet by its extension),
/// streamed in batches and written atomically: nothing is left at `output` on failure.
pub fn sample_to(
    model: &SynthModel,
    rows: u64,
    seed: u64,
    output: &std::path::Path,
    force: bool,
) -> Result<airlock_core::table::WriteSummary> {
    use arrow_array::{ArrayRef, RecordBatch, StringArray};
    use arrow_schema::{DataType, Field, Schema};
    use std::sync::Arc;
    model.check()?;
    let format = airlock_core::table::Format::from_path(output).ok_or_else(|| {
        airlock_core::Error::UnknownFormat {
            path: output.to_path_buf(),
        }
    })?;
    let schema = Arc::new(Schema::new(
        model
            .columns
            .iter()
            .map(|c| Field::new(&c.name, DataType::Utf8, true))
            .collect::<Vec<_>>(),
    ));
    let out = airlock_core::output::AtomicOutput::create(output, force)?;
    let mut writer =
        airlock_core::table::TableWriter::new(out.file()?, output, format, schema.clone())?;
    model.sample(rows, seed, 8192, &mut |cols| {
        let arrays: Vec<ArrayRef> = cols
            .into_iter()
            .map(|c| Arc::new(StringArray::from(c)) as ArrayRef)
            .collect();
        let batch = RecordBatch::try_new(schema.clone(), arrays)
            .map_err(|e| SynthError::Invalid(format!("cannot build a batch: {e}")))?;
        writer.write(&batch)?;
        Ok(())
    })?;
    let summary = writer.finish()?;
    out.commit()?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(rows: usize, seed: u64) -> Table {
        let mut rng = ChaCha12Rng::seed_from_u64(seed);
        let mut columns: Vec<Vec<Option<String>>> = vec![Vec::new(); 3];
        for _ in 0..rows {
            let sex = if rng.random::<bool>() { "F" } else { "M" };
            // age depends on sex; diagnosis on age
            let age = if sex == "F" {
                rng.random_range(20..60)
            } else {
                rng.random_range(40..90)
            };
            let dx = if age > 60 && rng.random::<f64>() < 0.8 {
                "I10"
            } else {
                "Z00"
            };
            columns[0].push(Some(sex.into()));
            columns[1].push(Some(age.to_string()));
            columns[2].push(Some(dx.into()));
        }
        Table {
            names: vec!["sex".into(), "age".into(), "dx".into()],
            columns,
            rows,
        }
    }

    fn cols() -> Vec<String> {
        vec!["sex".into(), "age".into(), "dx".into()]
    }

    #[test]
    fn buckets_round_numbers_and_dates_to_a_fixed_grid() {
        assert_eq!(bucket(Some("37")), "37");
        assert_eq!(bucket(Some("12345")), "12000");
        assert_eq!(bucket(Some("0.01234")), "0.012");
        assert_eq!(bucket(Some(" I10 ")), "I10");
        assert_eq!(bucket(None), "");
        assert_eq!(bucket(Some("2023-01-15")), "2023-01");
        assert_eq!(bucket(Some("2023-01-15T08:30:00Z")), "2023-01");
        assert_eq!(bucket(Some("2023-01-15x")), "2023-01-15x");
        // digits that are no number stay as they are
        assert_eq!(bucket(Some("inf")), "inf");
    }

    #[test]
    fn the_budget_is_spent_exactly_and_never_more() {
        let t = table(2000, 1);
        let m = fit(
            &t,
            &cols(),
            Budget::Private {
                epsilon: 1.0,
                delta: 1e-6,
            },
            Some(3),
        )
        .unwrap();
        let (rho, spent) = (m.privacy.rho.unwrap(), m.privacy.rho_spent.unwrap());
        assert!(
            spent <= rho * (1.0 + 1e-12) && spent > rho * 0.999,
            "{spent} of {rho}"
        );
        // (epsilon, delta/2) from rho, plus delta/2 for the threshold
        assert!(zcdp::epsilon(rho, 0.5e-6).unwrap() <= 1.0 + 1e-9);
        assert_eq!(m.edges.len(), 2);
        m.check().unwrap();
    }

    #[test]
    fn a_rare_value_is_not_released_and_frequent_ones_are() {
        let mut t = table(3000, 2);
        t.columns[2][0] = Some("RARE-CODE".into());
        let m = fit(
            &t,
            &cols(),
            Budget::Private {
                epsilon: 1.0,
                delta: 1e-6,
            },
            Some(4),
        )
        .unwrap();
        let dx = &m.columns[2].values;
        assert!(!dx.contains(&"RARE-CODE".to_string()));
        assert!(dx.contains(&"I10".to_string()) && dx.contains(&"Z00".to_string()));
    }

    #[test]
    fn sampling_is_reproducible_and_keeps_the_dependence() {
        let t = table(5000, 3);
        let m = fit(
            &t,
            &cols(),
            Budget::Private {
                epsilon: 5.0,
                delta: 1e-6,
            },
            Some(5),
        )
        .unwrap();
        let rows = |seed| {
            let mut out = Vec::new();
            m.sample(4000, seed, 1000, &mut |cols| {
                out.push(cols);
                Ok(())
            })
            .unwrap();
            out
        };
        assert_eq!(rows(9), rows(9));
        assert_ne!(rows(9), rows(10));
        // in the synthetic rows, men are older than women, as in the real ones
        let batches = rows(9);
        let (mut f, mut m_) = ((0.0, 0.0), (0.0, 0.0));
        for b in &batches {
            for (s, a) in b[0].iter().zip(&b[1]) {
                let Some(a) = a.as_deref().and_then(|a| a.parse::<f64>().ok()) else {
                    continue;
                };
                match s.as_deref() {
                    Some("F") => f = (f.0 + a, f.1 + 1.0),
                    Some("M") => m_ = (m_.0 + a, m_.1 + 1.0),
                    _ => {}
                }
            }
        }
        let (fa, ma) = (f.0 / f.1, m_.0 / m_.1);
        assert!(ma - fa > 15.0, "women {fa}, men {ma}");
    }

    #[test]
    fn a_malformed_model_is_refused() {
        let t = table(500, 4);
        let mut m = fit(&t, &cols(), Budget::NonPrivate, Some(1)).unwrap();
        assert!(m.privacy.non_private);
        m.edges[0].joint.pop();
        assert!(m.check().is_err());
        assert!(m.sample(10, 1, 10, &mut |_| Ok(())).is_err());
    }

    proptest::proptest! {
        /// The model holds marginals, never rows: its size does not grow with the rows, and a
        /// value held by one row alone is not in it.
        #[test]
        fn the_model_holds_no_row(seed in 0u64..1000, rows in 200usize..1500) {
            let mut t = table(rows, seed);
            t.columns[2][rows / 2] = Some(format!("ONLY-{seed}"));
            let m = fit(&t, &cols(), Budget::Private { epsilon: 2.0, delta: 1e-6 }, Some(seed)).unwrap();
            let text = serde_json::to_string(&m).unwrap();
            let only = format!("ONLY-{seed}");
            proptest::prop_assert!(!text.contains(&only));
            let cells: usize = m.columns.iter().map(Column::size).sum();
            proptest::prop_assert!(m.columns[1].values.len() <= 90);
            proptest::prop_assert!(cells < 200);
        }
    }
}
