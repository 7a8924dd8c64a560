//! How far each site's data is from the federation's, learning only aggregates: every site
//! counts its rows into the bins the spec fixes (a numeric feature's edges, a categorical
//! feature's categories and "other"); the counts are summed under secure aggregation, so the
//! coordinator sees only the federation's histogram, which it sends back; each site then
//! computes, on its own machine, the PSI of each feature between its histogram and the
//! federation's, and reports those numbers (one per feature, no count). Sites past the
//! threshold are flagged.

use serde::{Deserialize, Serialize};

use airlock_train::data::Table;
use airlock_train::stats::psi;

/// The bins of one feature, fixed by the federation's spec.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Bins {
    /// `edges.len() + 1` bins: below the first edge, between each pair, from the last on; a
    /// missing or unreadable value goes to one more bin.
    Numeric { feature: String, edges: Vec<f64> },
    /// One bin per category, then one for anything else (missing included).
    Categorical {
        feature: String,
        categories: Vec<String>,
    },
}

impl Bins {
    fn feature(&self) -> &str {
        match self {
            Self::Numeric { feature, .. } | Self::Categorical { feature, .. } => feature,
        }
    }

    pub fn width(&self) -> usize {
        match self {
            Self::Numeric { edges, .. } => edges.len() + 2,
            Self::Categorical { categories, .. } => categories.len() + 1,
        }
    }

    fn bin(&self, value: Option<&str>) -> usize {
        match self {
            Self::Numeric { edges, .. } => {
                match value
                    .and_then(|v| v.parse::<f64>().ok())
                    .filter(|v| v.is_finite())
                {
                    Some(v) => edges.partition_point(|e| *e <= v),
                    None => edges.len() + 1,
                }
            }
            Self::Categorical { categories, .. } => value
                .and_then(|v| categories.iter().position(|c| c == v))
                .unwrap_or(categories.len()),
        }
    }
}

/// A site's counts of `table`'s rows in every feature's bins, one vector (features in order):
/// what goes into the secure sum.
pub fn histogram(table: &Table, bins: &[Bins]) -> Result<Vec<f64>, String> {
    let mut out = Vec::with_capacity(bins.iter().map(Bins::width).sum());
    for b in bins {
        let c = table.column(b.feature()).map_err(|e| e.to_string())?;
        let mut counts = vec![0.0; b.width()];
        for v in &table.columns[c] {
            counts[b.bin(v.as_deref())] += 1.0;
        }
        out.extend(counts);
    }
    Ok(out)
}

/// One feature's distance of a site from the federation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureDistance {
    pub feature: String,
    pub psi: f64,
}

fn shares(counts: &[f64]) -> Vec<f64> {
    let n: f64 = counts.iter().sum();
    counts.iter().map(|c| c / n.max(1.0)).collect()
}

/// Computed by a site from its own histogram and the federation's (the secure sum): the PSI of
/// every feature. Only these numbers leave the site.
pub fn distances(own: &[f64], federation: &[f64], bins: &[Bins]) -> Vec<FeatureDistance> {
    let mut at = 0;
    bins.iter()
        .map(|b| {
            let w = b.width();
            let d = FeatureDistance {
                feature: b.feature().to_owned(),
                psi: psi(&shares(&federation[at..at + w]), &shares(&own[at..at + w])),
            };
            at += w;
            d
        })
        .collect()
}

/// The sites any of whose features is farther than `threshold` from the federation.
pub fn flagged<'a>(
    reports: impl IntoIterator<Item = (&'a str, &'a [FeatureDistance])>,
    threshold: f64,
) -> Vec<&'a str> {
    reports
        .into_iter()
        .filter(|(_, d)| d.iter().any(|f| f.psi > threshold))
        .map(|(site, _)| site)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secagg::{Quantizer, Site, SiteId};
    use std::collections::BTreeMap;

    fn table(rows: &[(f64, &str)]) -> Table {
        Table {
            names: vec!["age".into(), "sex".into()],
            columns: vec![
                rows.iter().map(|(a, _)| Some(a.to_string())).collect(),
                rows.iter().map(|(_, s)| Some((*s).to_string())).collect(),
            ],
            rows: rows.len(),
        }
    }

    /// Five sites' histograms summed under secure aggregation; the site whose patients are all
    /// old is flagged, and the coordinator held nothing but masked vectors and the sum.
    #[test]
    fn a_site_unlike_the_federation_is_flagged_from_aggregates_alone() {
        let bins = vec![
            Bins::Numeric {
                feature: "age".into(),
                edges: vec![30.0, 45.0, 60.0, 75.0],
            },
            Bins::Categorical {
                feature: "sex".into(),
                categories: vec!["F".into(), "M".into()],
            },
        ];
        let sites: Vec<Table> = (0..5)
            .map(|s| {
                let rows: Vec<(f64, &str)> = (0..400)
                    .map(|i| {
                        let age = if s == 3 {
                            80.0 + f64::from(i % 15)
                        } else {
                            20.0 + f64::from((i * 7 + s * 3) % 70)
                        };
                        (age, if i % 2 == 0 { "F" } else { "M" })
                    })
                    .collect();
                table(&rows)
            })
            .collect();
        let hists: Vec<Vec<f64>> = sites.iter().map(|t| histogram(t, &bins).unwrap()).collect();
        // the secure sum of the counts
        let dim = hists[0].len();
        let q = Quantizer::for_sites(5, 1000.0);
        let (mut parties, adverts): (Vec<Site>, Vec<_>) =
            (1..=5).map(|id| Site::new(id).unwrap()).unzip();
        let mut env = Vec::new();
        for p in &mut parties {
            env.extend(p.share_keys(&adverts, 3).unwrap());
        }
        for p in &mut parties {
            p.receive(&env).unwrap();
        }
        let u2: Vec<SiteId> = (1..=5).collect();
        let masked: BTreeMap<SiteId, Vec<u64>> = parties
            .iter()
            .zip(&hists)
            .map(|(p, h)| (p.id(), p.masked_input(h, &q, &u2).unwrap()))
            .collect();
        let reveals: Vec<_> = parties
            .iter()
            .map(|p| p.unmask(&u2, &u2).unwrap())
            .collect();
        let sum = crate::secagg::unmask_sum(&adverts, &u2, &masked, &reveals, 3, dim).unwrap();
        let federation: Vec<f64> = sum
            .iter()
            .map(|&v| q.dequantize_sum(v, 5).round())
            .collect();
        let plain: Vec<f64> = (0..dim).map(|k| hists.iter().map(|h| h[k]).sum()).collect();
        assert_eq!(federation, plain);
        // each site's own computation, then the flags
        let reports: Vec<(String, Vec<FeatureDistance>)> = hists
            .iter()
            .enumerate()
            .map(|(i, h)| (format!("site-{}", i + 1), distances(h, &federation, &bins)))
            .collect();
        let flags = flagged(
            reports.iter().map(|(s, d)| (s.as_str(), d.as_slice())),
            0.25,
        );
        assert_eq!(flags, vec!["site-4"], "{reports:?}");
        // sex is balanced everywhere: no distance there
        assert!(reports.iter().all(|(_, d)| d[1].psi < 0.01));
    }

    #[test]
    fn values_land_in_their_bins_and_missing_ones_apart() {
        let b = Bins::Numeric {
            feature: "age".into(),
            edges: vec![30.0, 60.0],
        };
        assert_eq!(b.bin(Some("29.9")), 0);
        assert_eq!(b.bin(Some("30")), 1);
        assert_eq!(b.bin(Some("75")), 2);
        assert_eq!(b.bin(Some("n/a")), 3);
        assert_eq!(b.bin(None), 3);
        let c = Bins::Categorical {
            feature: "sex".into(),
            categories: vec!["F".into()],
        };
        assert_eq!(c.bin(Some("F")), 0);
        assert_eq!(c.bin(Some("X")), 1);
    }
}
