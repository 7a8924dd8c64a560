//! Risk and privacy figures of a set of equivalence classes, with suppressed classes left out
//! as ARX's risk summary does.

use std::collections::BTreeMap;

use crate::classes::Classes;

pub use airlock_core::risk::RiskSummary;

/// The distribution of the sensitive attribute over a whole table.
pub fn distribution(classes: &Classes) -> Vec<f64> {
    let mut total = vec![0u64; classes.values];
    for c in 0..classes.len() {
        for (t, &n) in total.iter_mut().zip(classes.hist_of(c)) {
            *t += u64::from(n);
        }
    }
    let n: u64 = total.iter().sum();
    total
        .iter()
        .map(|&t| if n == 0 { 0.0 } else { t as f64 / n as f64 })
        .collect()
}

/// Half the L1 distance between a class's distribution and the table's.
pub fn t_equal(hist: &[u32], size: u32, table: &[f64]) -> f64 {
    let size = f64::from(size.max(1));
    0.5 * hist
        .iter()
        .zip(table)
        .map(|(&h, &p)| (f64::from(h) / size - p).abs())
        .sum::<f64>()
}

pub use airlock_core::risk::TDistance;

/// The class's distribution minus the table's, per code.
fn extra(hist: &[u32], size: u32, table: &[f64]) -> Vec<f64> {
    let size = f64::from(size.max(1));
    hist.iter()
        .zip(table)
        .map(|(&h, &p)| f64::from(h) / size - p)
        .collect()
}

/// EMD with ordered distance (Li, Li and Venkatasubramanian 2007):
/// 1/(m−1) Σ_i |Σ_{j ≤ i} r_j| over the values in rank order.
pub fn t_ordered(hist: &[u32], size: u32, table: &[f64], rank: &[u32]) -> f64 {
    let m = hist.len();
    if m < 2 {
        return 0.0;
    }
    let mut r = vec![0.0; m];
    for (code, e) in extra(hist, size, table).into_iter().enumerate() {
        r[rank[code] as usize] = e;
    }
    let mut cumulative = 0.0;
    let mut total = 0.0;
    for v in r {
        cumulative += v;
        total += cumulative.abs();
    }
    total / (m - 1) as f64
}

/// EMD with hierarchical distance: every inner node N moves min(positive, negative extra of
/// its children) at cost height(N) / H.
pub fn t_hierarchical(hist: &[u32], size: u32, table: &[f64], tree: &[Vec<u32>]) -> f64 {
    let height = tree.len().saturating_sub(1);
    if height == 0 {
        return 0.0;
    }
    let mut current = extra(hist, size, table);
    let mut cost = 0.0;
    for level in 1..=height {
        let groups = tree[level]
            .iter()
            .copied()
            .max()
            .map_or(0, |g| g as usize + 1);
        let (mut pos, mut neg, mut next) =
            (vec![0.0; groups], vec![0.0; groups], vec![0.0; groups]);
        // The children of a group at `level` are the groups at `level - 1` under it.
        let mut child_parent: Vec<Option<u32>> = Vec::new();
        for (code, &g) in tree[level].iter().enumerate() {
            let child = tree[level - 1][code] as usize;
            if child_parent.len() <= child {
                child_parent.resize(child + 1, None);
            }
            child_parent[child] = Some(g);
        }
        for (child, parent) in child_parent.iter().enumerate() {
            let (Some(parent), Some(&e)) = (parent, current.get(child)) else {
                continue;
            };
            let p = *parent as usize;
            if e > 0.0 {
                pos[p] += e;
            } else {
                neg[p] -= e;
            }
            next[p] += e;
        }
        cost += (level as f64 / height as f64)
            * pos.iter().zip(&neg).map(|(a, b)| a.min(*b)).sum::<f64>();
        current = next;
    }
    cost
}

/// Recursive (c, l)-diversity: the most frequent value is rarer than c times the sum of the
/// counts from the l-th most frequent on.
pub fn recursive_cl(hist: &[u32], c: f64, l: u32) -> bool {
    let mut counts: Vec<u32> = hist.iter().copied().filter(|&h| h > 0).collect();
    let l = l as usize;
    if l == 0 || counts.len() < l {
        return false;
    }
    counts.sort_unstable_by(|a, b| b.cmp(a));
    let tail: u64 = counts[l - 1..].iter().map(|&n| u64::from(n)).sum();
    f64::from(counts[0]) < c * tail as f64
}

/// Distinct sensitive values in a class.
pub fn distinct(hist: &[u32]) -> u64 {
    hist.iter().filter(|&&h| h > 0).count() as u64
}

fn entropy(hist: &[u32], size: u32) -> f64 {
    let size = f64::from(size.max(1));
    -hist
        .iter()
        .filter(|&&h| h > 0)
        .map(|&h| {
            let p = f64::from(h) / size;
            p * p.ln()
        })
        .sum::<f64>()
}

/// Figures over the classes that are not suppressed. `table` is the sensitive distribution of
/// the whole input (for t-closeness); `threshold` the prosecutor-risk threshold.
pub fn summarize(
    classes: &Classes,
    suppressed: &[bool],
    table: Option<&[f64]>,
    threshold: f64,
) -> RiskSummary {
    let mut s = RiskSummary {
        records: 0,
        suppressed_records: 0,
        classes: 0,
        k: 0,
        sample_uniques: 0,
        sample_uniques_fraction: 0.0,
        average_prosecutor_risk: 0.0,
        maximum_prosecutor_risk: 0.0,
        risk_threshold: threshold,
        records_above_threshold: 0,
        fraction_above_threshold: 0.0,
        marketer_risk: 0.0,
        l_distinct: None,
        l_entropy: None,
        t_equal: None,
        t_ordered: None,
        t_hierarchical: None,
        discernibility: 0.0,
        class_sizes: BTreeMap::new(),
    };
    let with_sensitive = classes.values > 0;
    let mut k = u64::MAX;
    let mut l = u64::MAX;
    let mut h_min = f64::INFINITY;
    let mut t_max: f64 = 0.0;
    for c in 0..classes.len() {
        let size = classes.sizes[c];
        s.records += u64::from(size);
        if suppressed.get(c).copied().unwrap_or(false) {
            s.suppressed_records += u64::from(size);
            continue;
        }
        s.classes += 1;
        k = k.min(u64::from(size));
        if size == 1 {
            s.sample_uniques += 1;
        }
        if 1.0 / f64::from(size) > threshold {
            s.records_above_threshold += u64::from(size);
        }
        *s.class_sizes.entry(size).or_default() += 1;
        if with_sensitive {
            let hist = classes.hist_of(c);
            l = l.min(distinct(hist));
            h_min = h_min.min(entropy(hist, size));
            if let Some(table) = table {
                t_max = t_max.max(t_equal(hist, size, table));
            }
        }
    }
    s.discernibility = discernibility(classes, suppressed);
    let kept = (s.records - s.suppressed_records) as f64;
    if s.classes > 0 {
        s.k = k;
        s.average_prosecutor_risk = s.classes as f64 / kept;
        s.maximum_prosecutor_risk = 1.0 / k as f64;
        s.marketer_risk = s.average_prosecutor_risk;
        s.sample_uniques_fraction = s.sample_uniques as f64 / kept;
        s.fraction_above_threshold = s.records_above_threshold as f64 / kept;
        if with_sensitive {
            s.l_distinct = Some(l);
            s.l_entropy = Some(h_min.exp());
            s.t_equal = table.map(|_| t_max);
        }
    }
    s
}

/// Discernibility (Bayardo and Agrawal): every record costs the size of its class, a suppressed
/// record the number of records.
pub fn discernibility(classes: &Classes, suppressed: &[bool]) -> f64 {
    let n: f64 = classes.sizes.iter().map(|&s| f64::from(s)).sum();
    classes
        .sizes
        .iter()
        .enumerate()
        .map(|(c, &size)| {
            let size = f64::from(size);
            if suppressed.get(c).copied().unwrap_or(false) {
                size * n
            } else {
                size * size
            }
        })
        .sum()
}

/// Adds the ordered and hierarchical t-closeness figures to a summary.
pub fn add_t_distances(
    s: &mut RiskSummary,
    classes: &Classes,
    suppressed: &[bool],
    table: &[f64],
    sensitive: &crate::data::Sensitive,
) {
    let mut ordered: f64 = 0.0;
    let mut hierarchical: f64 = 0.0;
    for c in 0..classes.len() {
        if suppressed.get(c).copied().unwrap_or(false) {
            continue;
        }
        let (hist, size) = (classes.hist_of(c), classes.sizes[c]);
        ordered = ordered.max(t_ordered(hist, size, table, &sensitive.rank));
        if let Some(tree) = &sensitive.tree {
            hierarchical = hierarchical.max(t_hierarchical(hist, size, table, tree));
        }
    }
    if s.classes > 0 {
        s.t_ordered = Some(ordered);
        s.t_hierarchical = sensitive.tree.as_ref().map(|_| hierarchical);
    }
}

/// Non-uniform entropy (Gionis and Tassa 2009), in bits: over every QI and record,
/// −log2(records with the original value / records with its generalized value), where a
/// suppressed record's generalized value is `*` (every record). 0 for the untransformed table.
pub fn non_uniform_entropy(
    ds: &crate::data::Dataset,
    classes: &Classes,
    suppressed: &[bool],
) -> Result<f64, crate::error::RiskError> {
    let class_of = crate::classes::entry_classes(ds, classes)?;
    let n = ds.rows as f64;
    let mut total = 0.0;
    for (q, qi) in ds.qis.iter().enumerate() {
        let level = usize::from(classes.node[q]);
        let mut leaf_count = vec![0u64; qi.hierarchy.domain_size()];
        let mut group_count = vec![0u64; qi.share[level].len()];
        for (&leaf, &w) in qi.leaf.iter().zip(&ds.weight) {
            leaf_count[leaf as usize] += u64::from(w);
            group_count[qi.group[level][leaf as usize] as usize] += u64::from(w);
        }
        for (r, (&leaf, &w)) in qi.leaf.iter().zip(&ds.weight).enumerate() {
            let denominator = if suppressed
                .get(class_of[r] as usize)
                .copied()
                .unwrap_or(false)
            {
                n
            } else {
                group_count[qi.group[level][leaf as usize] as usize] as f64
            };
            total -= f64::from(w) * (leaf_count[leaf as usize] as f64 / denominator).log2();
        }
    }
    Ok(total)
}

/// The rows of a risk table for one or more summaries (before and after, say): a label and a
/// formatted value per summary. The CLI and the HTML report both print these, so they agree.
pub fn figure_rows(summaries: &[&RiskSummary]) -> Vec<(String, Vec<String>)> {
    let mut rows = Vec::new();
    let mut row = |label: String, f: &dyn Fn(&RiskSummary) -> String| {
        rows.push((label, summaries.iter().map(|s| f(s)).collect()));
    };
    let opt = |v: Option<f64>, digits: usize| v.map_or("-".into(), |x| format!("{x:.digits$}"));
    row("records kept".into(), &|s| {
        (s.records - s.suppressed_records).to_string()
    });
    row("suppressed records".into(), &|s| {
        s.suppressed_records.to_string()
    });
    row("equivalence classes".into(), &|s| s.classes.to_string());
    row("k (smallest class)".into(), &|s| s.k.to_string());
    row("sample uniques".into(), &|s| s.sample_uniques.to_string());
    row("average prosecutor risk".into(), &|s| {
        format!("{:.6}", s.average_prosecutor_risk)
    });
    row("maximum prosecutor risk".into(), &|s| {
        format!("{:.6}", s.maximum_prosecutor_risk)
    });
    let threshold = summaries.first().map_or(0.2, |s| s.risk_threshold);
    row(format!("share of records with risk > {threshold}"), &|s| {
        format!("{:.4}", s.fraction_above_threshold)
    });
    row("marketer risk".into(), &|s| {
        format!("{:.6}", s.marketer_risk)
    });
    row("discernibility".into(), &|s| {
        format!("{:.0}", s.discernibility)
    });
    let any = |f: &dyn Fn(&RiskSummary) -> bool| summaries.iter().any(|s| f(s));
    if any(&|s| s.l_distinct.is_some()) {
        row("distinct l".into(), &|s| {
            s.l_distinct.map_or("-".into(), |l| l.to_string())
        });
        row("entropy l".into(), &|s| opt(s.l_entropy, 3));
        row("t (equal distance)".into(), &|s| opt(s.t_equal, 6));
    }
    if any(&|s| s.t_ordered.is_some()) {
        row("t (ordered distance)".into(), &|s| opt(s.t_ordered, 6));
    }
    if any(&|s| s.t_hierarchical.is_some()) {
        row("t (hierarchical distance)".into(), &|s| {
            opt(s.t_hierarchical, 6)
        });
    }
    rows
}

/// [`summarize`] of a dataset's classes with every t-distance its sensitive attribute allows
/// (equal, ordered, and hierarchical when it has a hierarchy).
pub fn summarize_dataset(
    ds: &crate::data::Dataset,
    classes: &Classes,
    suppressed: &[bool],
    table: &[f64],
    threshold: f64,
) -> RiskSummary {
    let mut s = summarize(classes, suppressed, Some(table), threshold);
    if let Some(sensitive) = &ds.sensitive {
        add_t_distances(&mut s, classes, suppressed, table, sensitive);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordered_distance_follows_the_paper_example() {
        // Li et al. 2007: salaries {3k..11k}, overall uniform; a class {3k,4k,5k}: D = 0.375.
        let table = vec![1.0 / 9.0; 9];
        let hist = [1, 1, 1, 0, 0, 0, 0, 0, 0];
        let rank: Vec<u32> = (0..9).collect();
        assert!((t_ordered(&hist, 3, &table, &rank) - 0.375).abs() < 1e-9);
        // {6k, 8k, 11k}: D = 0.167
        let hist = [0, 0, 0, 1, 0, 1, 0, 0, 1];
        assert!((t_ordered(&hist, 3, &table, &rank) - 1.0 / 6.0).abs() < 1e-9);
    }

    #[test]
    fn hierarchical_distance_is_zero_for_the_table_and_one_at_worst() {
        // Two groups {0,1} and {2,3} under a root: height 2.
        let tree = vec![vec![0, 1, 2, 3], vec![0, 0, 1, 1], vec![0, 0, 0, 0]];
        let table = vec![0.25; 4];
        assert!(t_hierarchical(&[1, 1, 1, 1], 4, &table, &tree).abs() < 1e-12);
        // All mass on value 0: half must move across the root (cost 1), a quarter within
        // the first group (cost 1/2).
        let d = t_hierarchical(&[4, 0, 0, 0], 4, &table, &tree);
        assert!((d - (0.5 + 0.25 * 0.5)).abs() < 1e-12, "{d}");
    }

    #[test]
    fn recursive_cl_compares_the_top_value_with_the_tail() {
        assert!(recursive_cl(&[3, 2, 2], 2.0, 2));
        assert!(!recursive_cl(&[5, 1, 1], 2.0, 2));
        assert!(!recursive_cl(&[5, 0, 0], 3.0, 2));
    }
}
