//! The fidelity report: how a synthetic table compares with the real one it stands for, column
//! by column and pair by pair, and what a model trained on it is worth on real rows. It says
//! plainly what the data approximates well and where it diverges.

use std::collections::HashMap;
use std::fmt::Write as _;

use airlock_core::shown::html;
use serde::Serialize;

use crate::{Result, SynthError, Table, bucket};

/// The distance of one marginal, real against synthetic.
#[derive(Debug, Clone, Serialize)]
pub struct Marginal {
    pub columns: Vec<String>,
    /// Total variation distance (0: the same distribution, 1: disjoint).
    pub tvd: f64,
}

/// Train on synthetic, test on real (TSTR), beside train on real, test on real.
#[derive(Debug, Clone, Serialize)]
pub struct Utility {
    pub target: String,
    pub real_accuracy: f64,
    pub real_auc: f64,
    pub synthetic_accuracy: f64,
    pub synthetic_auc: f64,
    /// The real held-out rows both models are scored on.
    pub test_rows: usize,
}

/// One column's most frequent values: (value, real share, synthetic share).
pub type Distribution = Vec<(String, f64, f64)>;

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Fidelity {
    pub real_rows: usize,
    pub synthetic_rows: usize,
    pub columns: Vec<String>,
    pub one_way: Vec<Marginal>,
    /// Every pair, worst first.
    pub two_way: Vec<Marginal>,
    pub mean_one_way_tvd: f64,
    pub mean_two_way_tvd: f64,
    /// Cramér's V of every pair of columns (columns × columns), real and synthetic.
    pub cramers_v_real: Vec<Vec<f64>>,
    pub cramers_v_synthetic: Vec<Vec<f64>>,
    pub distributions: Vec<Distribution>,
    pub utility: Option<Utility>,
}

/// What the utility comparison needs: the real rows held out of the fit, and the target.
pub struct UtilityTask<'a> {
    pub holdout: &'a Table,
    pub target: &'a str,
    pub positive: Option<&'a str>,
}

fn cells(t: &Table, name: &str) -> Result<Vec<String>> {
    let c = t.column(name)?;
    Ok(t.columns[c].iter().map(|v| bucket(v.as_deref())).collect())
}

fn shares<'a>(items: impl Iterator<Item = (&'a str, &'a str)>) -> HashMap<(&'a str, &'a str), f64> {
    let mut out: HashMap<(&str, &str), f64> = HashMap::new();
    let mut n = 0.0;
    for k in items {
        *out.entry(k).or_default() += 1.0;
        n += 1.0;
    }
    if n > 0.0 {
        out.values_mut().for_each(|v| *v /= n);
    }
    out
}

fn tvd(a: &HashMap<(&str, &str), f64>, b: &HashMap<(&str, &str), f64>) -> f64 {
    let mut d: f64 = a
        .iter()
        .map(|(k, p)| (p - b.get(k).unwrap_or(&0.0)).abs())
        .sum();
    d += b
        .iter()
        .filter(|(k, _)| !a.contains_key(*k))
        .map(|(_, p)| p)
        .sum::<f64>();
    0.5 * d
}

/// Cramér's V of two categorical columns (0: independent, 1: one determines the other).
fn cramers_v(x: &[String], y: &[String]) -> f64 {
    let n = x.len() as f64;
    let joint = shares(
        x.iter()
            .map(String::as_str)
            .zip(y.iter().map(String::as_str)),
    );
    let mut px: HashMap<&str, f64> = HashMap::new();
    let mut py: HashMap<&str, f64> = HashMap::new();
    for ((a, b), p) in &joint {
        *px.entry(a).or_default() += p;
        *py.entry(b).or_default() += p;
    }
    let k = px.len().min(py.len());
    if k < 2 || n == 0.0 {
        return 0.0;
    }
    let mut chi2 = 0.0;
    for (a, pa) in &px {
        for (b, pb) in &py {
            let e = pa * pb;
            let o = joint.get(&(*a, *b)).copied().unwrap_or(0.0);
            chi2 += (o - e) * (o - e) / e;
        }
    }
    (chi2 / (k - 1) as f64).sqrt().min(1.0)
}

/// The table restricted to `columns`, in that order.
fn project(t: &Table, columns: &[String]) -> Result<Table> {
    let mut out = Table {
        names: columns.to_vec(),
        columns: Vec::with_capacity(columns.len()),
        rows: t.rows,
    };
    for c in columns {
        out.columns.push(t.columns[t.column(c)?].clone());
    }
    Ok(out)
}

/// Accuracy and AUC of logistic regression (no DP) trained on `train`, scored on `test`.
fn scored(
    train: &Table,
    test: &Table,
    target: &str,
    positive: Option<&str>,
) -> Result<(f64, f64, usize)> {
    let mut t = train.clone();
    let from = t.append(test.clone())?;
    let task = airlock_train::TableTask {
        target: target.to_owned(),
        positive: positive.map(str::to_owned),
        features: Vec::new(),
        test_fraction: 0.0,
        held_out_from: Some(from),
        subgroups: Vec::new(),
        canaries: None,
    };
    let cfg = airlock_train::TrainConfig {
        kind: airlock_train::ModelKind::Logreg,
        privacy: airlock_train::Privacy::None,
        epochs: 5.0,
        batch_size: 256,
        clip: 1.0,
        learning_rate: 0.5,
        seed: 1,
        seeded_noise: true,
        accountant: airlock_dp::Accountant::Rdp,
    };
    let trained = airlock_train::train_table(&t, "-", &task, &cfg)?;
    Ok((
        trained.metrics.accuracy,
        trained.metrics.auc,
        trained.metrics.test_rows,
    ))
}

/// Compares `synthetic` with `real` (the rows it was fitted on) over `columns`; with a utility
/// task, also trains on each and scores both on the held-out real rows.
pub fn fidelity(
    real: &Table,
    synthetic: &Table,
    columns: &[String],
    utility: Option<UtilityTask<'_>>,
) -> Result<Fidelity> {
    if columns.is_empty() {
        return Err(SynthError::Invalid("no columns to compare".into()));
    }
    let r: Vec<Vec<String>> = columns
        .iter()
        .map(|c| cells(real, c))
        .collect::<Result<_>>()?;
    let s: Vec<Vec<String>> = columns
        .iter()
        .map(|c| cells(synthetic, c))
        .collect::<Result<_>>()?;
    let mut one_way = Vec::new();
    let mut distributions = Vec::new();
    for (i, name) in columns.iter().enumerate() {
        let (a, b) = (
            shares(r[i].iter().map(|x| (x.as_str(), ""))),
            shares(s[i].iter().map(|x| (x.as_str(), ""))),
        );
        one_way.push(Marginal {
            columns: vec![name.clone()],
            tvd: tvd(&a, &b),
        });
        let mut top: Vec<(String, f64, f64)> = a
            .iter()
            .map(|((v, _), p)| (v.to_string(), *p, b.get(&(*v, "")).copied().unwrap_or(0.0)))
            .collect();
        top.sort_by(|x, y| y.1.total_cmp(&x.1).then_with(|| x.0.cmp(&y.0)));
        top.truncate(10);
        distributions.push(top);
    }
    let d = columns.len();
    let mut two_way = Vec::new();
    let mut vr = vec![vec![1.0; d]; d];
    let mut vs = vec![vec![1.0; d]; d];
    for i in 0..d {
        for j in i + 1..d {
            let real_pair = shares(
                r[i].iter()
                    .map(String::as_str)
                    .zip(r[j].iter().map(String::as_str)),
            );
            let synth_pair = shares(
                s[i].iter()
                    .map(String::as_str)
                    .zip(s[j].iter().map(String::as_str)),
            );
            two_way.push(Marginal {
                columns: vec![columns[i].clone(), columns[j].clone()],
                tvd: tvd(&real_pair, &synth_pair),
            });
            vr[i][j] = cramers_v(&r[i], &r[j]);
            vr[j][i] = vr[i][j];
            vs[i][j] = cramers_v(&s[i], &s[j]);
            vs[j][i] = vs[i][j];
        }
    }
    two_way.sort_by(|a, b| b.tvd.total_cmp(&a.tvd));
    let mean = |m: &[Marginal]| {
        if m.is_empty() {
            0.0
        } else {
            m.iter().map(|x| x.tvd).sum::<f64>() / m.len() as f64
        }
    };
    let utility = match utility {
        Some(task) => {
            let holdout = project(task.holdout, columns)?;
            let (ra, rauc, n) = scored(
                &project(real, columns)?,
                &holdout,
                task.target,
                task.positive,
            )?;
            let (sa, sauc, _) = scored(
                &project(synthetic, columns)?,
                &holdout,
                task.target,
                task.positive,
            )?;
            Some(Utility {
                target: task.target.to_owned(),
                real_accuracy: ra,
                real_auc: rauc,
                synthetic_accuracy: sa,
                synthetic_auc: sauc,
                test_rows: n,
            })
        }
        None => None,
    };
    Ok(Fidelity {
        real_rows: real.rows,
        synthetic_rows: synthetic.rows,
        columns: columns.to_vec(),
        mean_one_way_tvd: mean(&one_way),
        mean_two_way_tvd: mean(&two_way),
        one_way,
        two_way,
        cramers_v_real: vr,
        cramers_v_synthetic: vs,
        distributions,
        utility,
    })
}

/// How close the synthetic rows come to real people.
#[derive(Debug, Clone, Serialize)]
pub struct PrivacyRisk {
    pub quasi_identifiers: Vec<String>,
    /// Synthetic rows equal to a training row on every column, and (the chance level) to a
    /// held-out row.
    pub exact_copies: f64,
    pub exact_copies_holdout: Option<f64>,
    /// Mean distance to the closest record (columns that differ), synthetic to training and
    /// synthetic to held-out rows (on as many rows of each): lower to training means copying.
    pub mean_dcr_train: f64,
    pub mean_dcr_holdout: Option<f64>,
    /// Synthetic rows whose quasi-identifiers are those of some training row, and of a training
    /// row unique on them (a rare real record reproduced).
    pub qi_copies: f64,
    pub rare_copies: f64,
    /// A distance attack: AUC of telling training rows from held-out rows by how close the
    /// nearest synthetic row is (0.5: no better than chance).
    pub membership_auc: Option<f64>,
    /// The synthetic table's k-anonymity over the quasi-identifiers, and the share of its rows
    /// in groups under 5.
    pub k_anonymity: usize,
    pub rows_in_groups_under_5: f64,
}

/// Rows as value indexes per column (one dictionary per column across the tables).
fn encode(tables: &[&Table], columns: &[String]) -> Result<Vec<Vec<Vec<u32>>>> {
    let mut dicts: Vec<HashMap<String, u32>> = vec![HashMap::new(); columns.len()];
    let mut out = Vec::new();
    for t in tables {
        let cols: Vec<Vec<String>> = columns.iter().map(|c| cells(t, c)).collect::<Result<_>>()?;
        let rows = (0..t.rows)
            .map(|r| {
                cols.iter()
                    .zip(dicts.iter_mut())
                    .map(|(col, dict)| {
                        let n = dict.len() as u32;
                        *dict.entry(col[r].clone()).or_insert(n)
                    })
                    .collect()
            })
            .collect();
        out.push(rows);
    }
    Ok(out)
}

/// Up to `n` rows, evenly spread (deterministic).
fn spread(rows: &[Vec<u32>], n: usize) -> Vec<&Vec<u32>> {
    if rows.len() <= n {
        return rows.iter().collect();
    }
    (0..n).map(|i| &rows[i * rows.len() / n]).collect()
}

/// The distance from `row` to its closest record in `reference` (columns that differ).
fn closest(row: &[u32], reference: &[&Vec<u32>]) -> usize {
    reference
        .iter()
        .map(|r| r.iter().zip(row).filter(|(a, b)| a != b).count())
        .min()
        .unwrap_or(row.len())
}

/// How close `synthetic` comes to the `train` rows it was fitted on, against `holdout` rows
/// it never saw; `qis` are the quasi-identifiers (the policy's). Distances are over
/// `columns`, bucketed as the fit buckets them; at most 1,000 synthetic rows against at most
/// 5,000 of each real table.
pub fn privacy_risk(
    train: &Table,
    holdout: Option<&Table>,
    synthetic: &Table,
    columns: &[String],
    qis: &[String],
) -> Result<PrivacyRisk> {
    let mut tables = vec![train, synthetic];
    tables.extend(holdout);
    let enc = encode(&tables, columns)?;
    let (tr, sy) = (&enc[0], &enc[1]);
    let ho = enc.get(2);
    let qi_at: Vec<usize> = qis
        .iter()
        .map(|q| {
            columns.iter().position(|c| c == q).ok_or_else(|| {
                SynthError::Invalid(format!(
                    "quasi-identifier {} is not among the synthetic columns",
                    airlock_core::shown::escape(q, 80)
                ))
            })
        })
        .collect::<Result<_>>()?;
    let share = |hits: usize| hits as f64 / sy.len().max(1) as f64;
    let full: std::collections::HashSet<&Vec<u32>> = tr.iter().collect();
    let exact_copies = share(sy.iter().filter(|r| full.contains(r)).count());
    let exact_copies_holdout = ho.map(|h| {
        let set: std::collections::HashSet<&Vec<u32>> = h.iter().collect();
        share(sy.iter().filter(|r| set.contains(r)).count())
    });
    let qi = |r: &Vec<u32>| -> Vec<u32> { qi_at.iter().map(|&i| r[i]).collect() };
    let mut train_qi: HashMap<Vec<u32>, usize> = HashMap::new();
    for r in tr {
        *train_qi.entry(qi(r)).or_default() += 1;
    }
    let qi_copies = share(sy.iter().filter(|r| train_qi.contains_key(&qi(r))).count());
    let rare_copies = share(
        sy.iter()
            .filter(|r| train_qi.get(&qi(r)) == Some(&1))
            .count(),
    );
    let mut synth_qi: HashMap<Vec<u32>, usize> = HashMap::new();
    for r in sy {
        *synth_qi.entry(qi(r)).or_default() += 1;
    }
    let k_anonymity = synth_qi.values().copied().min().unwrap_or(0);
    let rows_in_groups_under_5 = share(synth_qi.values().filter(|&&n| n < 5).sum());
    // distances on equal numbers of reference rows, so the two are comparable
    let n_ref = ho.map_or(tr.len(), |h| h.len().min(tr.len())).min(5000);
    let probe = spread(sy, 1000);
    let tr_ref = spread(tr, n_ref);
    let mean_dcr = |reference: &[&Vec<u32>]| {
        probe
            .iter()
            .map(|r| closest(r, reference) as f64)
            .sum::<f64>()
            / probe.len().max(1) as f64
    };
    let mean_dcr_train = mean_dcr(&tr_ref);
    let mean_dcr_holdout = ho.map(|h| mean_dcr(&spread(h, n_ref)));
    let membership_auc = ho.map(|h| {
        let synth_ref = spread(sy, 5000);
        let score = |rows: Vec<&Vec<u32>>| -> Vec<f64> {
            rows.iter()
                .map(|r| -(closest(r, &synth_ref) as f64))
                .collect()
        };
        let n = h.len().min(tr.len()).min(1000);
        if n == 0 {
            return 0.0;
        }
        // members (class 1) scored above held-out rows (class 0)
        let scores: Vec<f64> = score(spread(tr, n))
            .into_iter()
            .chain(score(spread(h, n)))
            .collect();
        let labels: Vec<usize> = (0..2 * n).map(|i| usize::from(i < n)).collect();
        airlock_train::auc(&scores, &labels, 1)
    });
    Ok(PrivacyRisk {
        quasi_identifiers: qis.to_vec(),
        exact_copies,
        exact_copies_holdout,
        mean_dcr_train,
        mean_dcr_holdout,
        qi_copies,
        rare_copies,
        membership_auc,
        k_anonymity,
        rows_in_groups_under_5,
    })
}

/// A matrix as a table, each cell shaded by its value.
fn matrix(columns: &[String], m: &[Vec<f64>]) -> String {
    let mut s = String::from("<table><tr><th></th>");
    for c in columns {
        let _ = write!(s, "<th>{}</th>", html(c));
    }
    s.push_str("</tr>");
    for (i, row) in m.iter().enumerate() {
        let _ = write!(s, "<tr><th>{}</th>", html(&columns[i]));
        for v in row {
            let shade = (255.0 - 155.0 * v.clamp(0.0, 1.0)) as u8;
            let _ = write!(
                s,
                "<td style=\"background:rgb({shade},{shade},255)\">{v:.2}</td>"
            );
        }
        s.push_str("</tr>");
    }
    s.push_str("</table>");
    s
}

/// One column's distribution as paired bars (real, synthetic).
fn bars(name: &str, dist: &Distribution) -> String {
    let (label_w, bar_w, row_h) = (200.0, 300.0, 22.0);
    let height = dist.len() as f64 * row_h + 10.0;
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{height}" role="img" aria-label="{}">"#,
        label_w + bar_w + 120.0,
        html(name)
    );
    for (i, (v, pr, ps)) in dist.iter().enumerate() {
        let y = 4.0 + i as f64 * row_h;
        let shown = if v.is_empty() { "(empty)" } else { v.as_str() };
        let _ = write!(
            s,
            r##"<text x="0" y="{:.1}" font-size="11">{}</text><rect x="{label_w}" y="{y:.1}" width="{:.1}" height="8" fill="#3a6ea5"/><rect x="{label_w}" y="{:.1}" width="{:.1}" height="8" fill="#c0504d"/><text x="{:.1}" y="{:.1}" font-size="10">{:.3} / {:.3}</text>"##,
            y + 11.0,
            html(&airlock_core::shown::escape(shown, 30)),
            pr * bar_w,
            y + 9.0,
            ps * bar_w,
            label_w + bar_w + 4.0,
            y + 12.0,
            pr,
            ps,
        );
    }
    s.push_str("</svg>");
    s
}

impl Fidelity {
    /// The report as one self-contained HTML page (no scripts; every string from the data
    /// escaped).
    pub fn html(&self, title: &str, privacy: &str, risk: Option<&PrivacyRisk>) -> String {
        let mut s = String::from(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>airlock synthetic data report</title>\
             <style>body{font-family:sans-serif;max-width:64rem;margin:2rem auto;color:#222}\
             table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2rem .5rem;text-align:left}\
             .muted{color:#666}</style></head><body>",
        );
        let _ = write!(
            s,
            "<h1>Synthetic data report</h1><p>{}</p><p>{}</p>",
            html(title),
            html(privacy)
        );
        let _ = write!(
            s,
            "<h2>Summary</h2><p>{} real rows, {} synthetic. Mean total variation distance: {:.3} over one-way marginals, {:.3} over two-way marginals (0: identical; 1: disjoint).</p>",
            self.real_rows, self.synthetic_rows, self.mean_one_way_tvd, self.mean_two_way_tvd
        );
        let pairs = |m: &[Marginal]| {
            m.iter()
                .map(|x| format!("{} ({:.3})", html(&x.columns.join(" × ")), x.tvd))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let k = self.two_way.len().min(3);
        let _ = write!(
            s,
            "<p><strong>Approximates well:</strong> {}.</p><p><strong>Diverges most:</strong> {}.</p>",
            pairs(&self.two_way[self.two_way.len() - k..]),
            pairs(&self.two_way[..k]),
        );
        if let Some(u) = &self.utility {
            let _ = write!(
                s,
                "<h2>Utility</h2><p>Logistic regression predicting {} on {} real held-out rows: trained on the real rows, accuracy {:.3} and AUC {:.3}; trained on the synthetic rows, accuracy {:.3} and AUC {:.3}.</p>",
                html(&u.target),
                u.test_rows,
                u.real_accuracy,
                u.real_auc,
                u.synthetic_accuracy,
                u.synthetic_auc
            );
        }
        if let Some(r) = risk {
            let opt = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.4}"));
            let _ = write!(
                s,
                "<h2>Privacy</h2><table>\
                 <tr><th>rows equal to a training row (to a held-out row)</th><td>{:.4} ({})</td></tr>\
                 <tr><th>mean distance to the closest training row (held-out row)</th><td>{:.3} ({})</td></tr>\
                 <tr><th>rows with a training row's quasi-identifiers ({})</th><td>{:.4}</td></tr>\
                 <tr><th>rows with the quasi-identifiers of a training row unique on them</th><td>{:.4}</td></tr>\
                 <tr><th>distance attack AUC (training against held-out rows)</th><td>{}</td></tr>\
                 <tr><th>k-anonymity over the quasi-identifiers; rows in groups under 5</th><td>{}; {:.4}</td></tr></table>",
                r.exact_copies,
                opt(r.exact_copies_holdout),
                r.mean_dcr_train,
                r.mean_dcr_holdout
                    .map_or_else(|| "-".to_owned(), |v| format!("{v:.3}")),
                html(&r.quasi_identifiers.join(", ")),
                r.qi_copies,
                r.rare_copies,
                opt(r.membership_auc),
                r.k_anonymity,
                r.rows_in_groups_under_5,
            );
        }
        s.push_str("<h2>One-way marginals</h2><table><tr><th>column</th><th>TVD</th></tr>");
        for m in &self.one_way {
            let _ = write!(
                s,
                "<tr><td>{}</td><td>{:.3}</td></tr>",
                html(&m.columns[0]),
                m.tvd
            );
        }
        s.push_str("</table><h2>Two-way marginals, worst first</h2><table><tr><th>pair</th><th>TVD</th></tr>");
        for m in &self.two_way {
            let _ = write!(
                s,
                "<tr><td>{}</td><td>{:.3}</td></tr>",
                html(&m.columns.join(" × ")),
                m.tvd
            );
        }
        let _ = write!(
            s,
            "</table><h2>Association (Cramér's V)</h2><h3>Real</h3>{}<h3>Synthetic</h3>{}",
            matrix(&self.columns, &self.cramers_v_real),
            matrix(&self.columns, &self.cramers_v_synthetic)
        );
        s.push_str("<h2>Distributions</h2><p class=\"muted\">The ten most frequent real values of each column: real share (blue) and synthetic share (red). Numbers are compared as the synthesizer rounds them, to two significant digits.</p>");
        for (name, dist) in self.columns.iter().zip(&self.distributions) {
            let _ = write!(s, "<h3>{}</h3>{}", html(name), bars(name, dist));
        }
        let _ = write!(
            s,
            "<p class=\"muted\">Written by airlock {}.</p></body></html>",
            env!("CARGO_PKG_VERSION")
        );
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(rows: &[(&str, &str)]) -> Table {
        Table {
            names: vec!["a".into(), "b".into()],
            columns: vec![
                rows.iter().map(|r| Some(r.0.to_owned())).collect(),
                rows.iter().map(|r| Some(r.1.to_owned())).collect(),
            ],
            rows: rows.len(),
        }
    }

    #[test]
    fn distances_and_associations_of_known_tables() {
        let cols = vec!["a".to_string(), "b".to_string()];
        let real = table(&[("x", "1"), ("y", "2"), ("x", "1"), ("y", "2")]);
        let same = fidelity(&real, &real, &cols, None).unwrap();
        assert_eq!(same.mean_two_way_tvd, 0.0);
        // b is a function of a: V = 1, in both
        assert!((same.cramers_v_real[0][1] - 1.0).abs() < 1e-12);
        let apart = table(&[("z", "3"), ("z", "3")]);
        let far = fidelity(&real, &apart, &cols, None).unwrap();
        assert!((far.mean_one_way_tvd - 1.0).abs() < 1e-12);
        // the same one-way marginals, the dependence broken
        let shuffled = table(&[("x", "2"), ("y", "1"), ("x", "1"), ("y", "2")]);
        let f = fidelity(&real, &shuffled, &cols, None).unwrap();
        assert_eq!(f.mean_one_way_tvd, 0.0);
        assert!((f.two_way[0].tvd - 0.5).abs() < 1e-12);
        assert!(f.cramers_v_synthetic[0][1] < 1e-12);
    }

    #[test]
    fn the_page_escapes_what_the_data_says() {
        let cols = vec!["a".to_string(), "b".to_string()];
        let real = table(&[("<script>x</script>", "1"), ("y", "2")]);
        let page = fidelity(&real, &real, &cols, None)
            .unwrap()
            .html("<b>t</b>", "p", None);
        assert!(!page.contains("<script>") && page.contains("&lt;script&gt;"));
        assert!(page.contains("Approximates well") && page.contains("Diverges most"));
    }

    #[test]
    fn copies_rare_records_and_the_distance_attack() {
        let cols = vec!["a".to_string(), "b".to_string()];
        let train = table(&[("x", "1"), ("x", "1"), ("y", "2"), ("z", "9")]);
        let holdout = table(&[("x", "2"), ("y", "1"), ("w", "3"), ("v", "4")]);
        // the training rows themselves: every row a copy, the unique ("y", "2") and ("z", "9")
        // reproduced, and the attack tells training rows apart
        let r = privacy_risk(&train, Some(&holdout), &train, &cols, &cols).unwrap();
        assert_eq!(r.exact_copies, 1.0);
        assert_eq!(r.exact_copies_holdout, Some(0.0));
        assert_eq!(r.rare_copies, 0.5);
        assert_eq!(r.k_anonymity, 1);
        assert_eq!(r.mean_dcr_train, 0.0);
        assert!(r.membership_auc.unwrap() > 0.9);
        // a table that repeats only the common record
        let common = table(&[("x", "1"), ("x", "1"), ("x", "1"), ("x", "1"), ("x", "1")]);
        let r = privacy_risk(&train, None, &common, &cols, &cols).unwrap();
        assert_eq!((r.rare_copies, r.k_anonymity), (0.0, 5));
        assert!(privacy_risk(&train, None, &common, &cols, &["c".to_string()]).is_err());
    }
}
