//! Risk and privacy figures of a set of equivalence classes, with suppressed classes left out
//! as ARX's risk summary does.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::classes::Classes;

/// Risk figures of a (transformed) table. Counts and ratios only.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RiskSummary {
    pub records: u64,
    pub suppressed_records: u64,
    /// Classes of the records that are not suppressed.
    pub classes: u64,
    /// Smallest class.
    pub k: u64,
    /// Classes of size 1.
    pub sample_uniques: u64,
    pub sample_uniques_fraction: f64,
    /// Mean over records of 1 / class size (= classes / records).
    pub average_prosecutor_risk: f64,
    pub maximum_prosecutor_risk: f64,
    pub risk_threshold: f64,
    /// Records whose prosecutor risk exceeds the threshold.
    pub records_above_threshold: u64,
    pub fraction_above_threshold: f64,
    /// Expected share of records re-identified by an attacker who links every record.
    pub marketer_risk: f64,
    /// Fewest distinct sensitive values in a class.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub l_distinct: Option<u64>,
    /// exp(lowest entropy of sensitive values in a class): entropy l-diversity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub l_entropy: Option<f64>,
    /// Largest distance between a class's sensitive distribution and the table's (equal
    /// ground distance: half the L1 distance).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub t_equal: Option<f64>,
    /// Class size -> number of classes of that size.
    pub class_sizes: BTreeMap<u32, u64>,
}

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
