//! The pruned search finds the same optimum as evaluating every node of the lattice.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;

use airlock_core::table::Format;
use airlock_risk::classes;
use airlock_risk::metrics::distribution;
use airlock_risk::search::{evaluate, score};
use airlock_risk::{Criteria, Dataset, HierarchySpec, Metric, TDistance, search};
use proptest::prelude::*;

fn dataset(rows: &[(u8, u8, u8, u8)]) -> (tempfile::TempDir, Dataset) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.csv");
    let mut text = String::from("a,b,c,s\n");
    for (a, b, c, s) in rows {
        text.push_str(&format!("{a},{b},{c},{s}\n"));
    }
    std::fs::write(&path, text).unwrap();
    let mut h = HashMap::new();
    h.insert("a".to_owned(), HierarchySpec::Intervals(vec![2.0, 4.0]));
    h.insert("b".to_owned(), HierarchySpec::Intervals(vec![3.0]));
    let qis = vec!["a".to_owned(), "b".to_owned(), "c".to_owned()];
    let ds = Dataset::load(&path, Format::Csv, &qis, &h, Some("s")).unwrap();
    (dir, ds)
}

fn brute_force(ds: &Dataset, criteria: &Criteria) -> Option<f64> {
    let bottom = classes::bottom(ds).unwrap();
    let table = distribution(&bottom);
    let top = ds.top();
    let mut best: Option<f64> = None;
    let mut node = vec![0u8; top.len()];
    loop {
        let cls = classes::roll_up(ds, &bottom, &node).unwrap();
        let e = evaluate(ds, &cls, criteria, &table);
        if e.anonymous {
            let s = score(&e, criteria.metric);
            best = Some(best.map_or(s, |b: f64| b.min(s)));
        }
        // Next node, odometer style.
        let mut d = 0;
        loop {
            if d == top.len() {
                return best;
            }
            if node[d] < top[d] {
                node[d] += 1;
                break;
            }
            node[d] = 0;
            d += 1;
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn pruned_search_matches_brute_force(
        rows in proptest::collection::vec((0u8..8, 0u8..6, 0u8..3, 0u8..4), 10..60),
        k in 1u32..5,
        l in proptest::option::of(1u32..3),
        t in proptest::option::of(0.2f64..0.9),
        ordered in any::<bool>(),
        avg in proptest::option::of(0.2f64..0.6),
        suppression in 0.0f64..0.3,
        discernibility in any::<bool>(),
    ) {
        let (_dir, ds) = dataset(&rows);
        let criteria = Criteria {
            k: Some(k),
            l_distinct: l,
            t,
            t_distance: if ordered { TDistance::Ordered } else { TDistance::Equal },
            max_average_risk: avg,
            max_suppression: suppression,
            metric: if discernibility { Metric::Discernibility } else { Metric::Loss },
            ..Criteria::default()
        };
        let out = search(&ds, &criteria).unwrap();
        let found = out.best.map(|(e, _)| score(&e, criteria.metric));
        let expected = brute_force(&ds, &criteria);
        match (found, expected) {
            (None, None) => {}
            (Some(f), Some(e)) => prop_assert!((f - e).abs() < 1e-9, "search {f} brute force {e}"),
            other => prop_assert!(false, "search and brute force disagree: {other:?}"),
        }
        prop_assert_eq!(out.nodes + out.pruned, 4 * 3 * 2);
    }
}
