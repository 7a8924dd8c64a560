//! Exactness against ARX: the reference values of shared/data/adult/README.md, on the vendored
//! copy of the table and hierarchies.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use airlock_core::table::Format;
use airlock_risk::classes;
use airlock_risk::metrics::{distribution, summarize};
use airlock_risk::{Criteria, Dataset, Hierarchy, HierarchySpec, search};

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

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/adult")
}

fn adult() -> Dataset {
    let mut h = HashMap::new();
    for q in QI8 {
        let p = dir().join(format!("adult_hierarchy_{q}.csv"));
        h.insert(
            q.to_owned(),
            HierarchySpec::File(Hierarchy::load(&p).unwrap()),
        );
    }
    let qis: Vec<String> = QI8.iter().map(|s| (*s).to_owned()).collect();
    Dataset::load(
        &dir().join("adult.csv"),
        Format::Csv,
        &qis,
        &h,
        Some("occupation"),
    )
    .unwrap()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6
}

#[test]
fn raw_metrics_match_arx() {
    let ds = adult();
    assert_eq!(ds.rows, 30_162);
    let bottom = classes::bottom(&ds).unwrap();
    let table = distribution(&bottom);
    let s = summarize(&bottom, &[], Some(&table), 0.2);
    assert_eq!(s.classes, 12_458);
    assert_eq!(s.sample_uniques, 8_841);
    assert!(
        close(s.sample_uniques_fraction, 0.293117167),
        "{}",
        s.sample_uniques_fraction
    );
    assert_eq!(s.k, 1);
    assert!(close(s.average_prosecutor_risk, 0.413036271));
    assert_eq!(s.records_above_threshold, 15_353);
    assert!(close(s.fraction_above_threshold, 0.509017970));
    assert_eq!(s.l_distinct, Some(1));
    assert!(close(s.t_equal.unwrap(), 0.999701611), "{:?}", s.t_equal);
}

fn optimum(criteria: Criteria) -> airlock_risk::Evaluation {
    optimum_with_summary(criteria).0
}

/// The optimum and the risk summary of the table it makes.
fn optimum_with_summary(
    criteria: Criteria,
) -> (airlock_risk::Evaluation, airlock_risk::RiskSummary) {
    let ds = adult();
    let out = search(&ds, &criteria).unwrap();
    assert_eq!(out.lattice_size(), 4_320);
    let (e, cls) = out.best.expect("an anonymous node exists");
    let table = distribution(&classes::bottom(&ds).unwrap());
    let s = summarize(&cls, &e.suppressed, Some(&table), 0.2);
    assert_eq!(s.suppressed_records, e.suppressed_records);
    assert_eq!(s.classes, e.classes);
    (e, s)
}

#[test]
fn five_anonymity_with_five_percent_suppression() {
    let (e, after) = optimum_with_summary(Criteria {
        k: Some(5),
        max_suppression: 0.05,
        ..Criteria::default()
    });
    assert_eq!(e.levels, vec![0, 3, 0, 0, 2, 1, 1, 0]);
    assert_eq!(e.suppressed_records, 1_346);
    assert_eq!(e.classes, 397);
    assert!(close(e.loss, 0.170122792), "{}", e.loss);
    assert_eq!(after.k, 5);
    // Non-uniform entropy is 0 untransformed and grows with generalization.
    let ds = adult();
    let bottom = classes::bottom(&ds).unwrap();
    assert_eq!(
        airlock_risk::metrics::non_uniform_entropy(&ds, &bottom, &[]).unwrap(),
        0.0
    );
    let out = search(
        &ds,
        &Criteria {
            k: Some(5),
            max_suppression: 0.05,
            ..Criteria::default()
        },
    )
    .unwrap();
    let (e, cls) = out.best.unwrap();
    let nu = airlock_risk::metrics::non_uniform_entropy(&ds, &cls, &e.suppressed).unwrap();
    let top = out_top(&ds);
    assert!(nu > 0.0 && nu < top, "{nu} {top}");
    assert!(close(after.average_prosecutor_risk, 0.013777068));
}

#[test]
fn five_anonymity_without_suppression() {
    let e = optimum(Criteria {
        k: Some(5),
        ..Criteria::default()
    });
    assert_eq!(e.levels, vec![0, 4, 1, 2, 3, 2, 0, 0]);
    assert_eq!(e.classes, 26);
    assert!(close(e.loss, 0.542210825), "{}", e.loss);
}

#[test]
fn five_anonymity_and_distinct_three_diversity() {
    let e = optimum(Criteria {
        k: Some(5),
        l_distinct: Some(3),
        max_suppression: 0.05,
        ..Criteria::default()
    });
    assert_eq!(e.levels, vec![0, 3, 0, 0, 2, 1, 1, 0]);
    assert_eq!(e.suppressed_records, 1_400);
    assert_eq!(e.classes, 387);
    assert!(close(e.loss, 0.171702181), "{}", e.loss);
}

#[test]
fn five_anonymity_and_t_closeness() {
    let (e, after) = optimum_with_summary(Criteria {
        k: Some(5),
        t: Some(0.2),
        max_suppression: 0.05,
        ..Criteria::default()
    });
    assert!(
        close(after.t_equal.unwrap(), 0.189548985),
        "{:?}",
        after.t_equal
    );
    assert_eq!(e.levels, vec![1, 4, 1, 1, 3, 1, 2, 1]);
    assert_eq!(e.suppressed_records, 235);
    assert_eq!(e.classes, 6);
    assert!(close(e.loss, 0.815003186), "{}", e.loss);
}

#[test]
fn average_risk_threshold() {
    let e = optimum(Criteria {
        max_average_risk: Some(0.05),
        max_suppression: 0.05,
        ..Criteria::default()
    });
    assert_eq!(e.levels, vec![0, 3, 0, 0, 2, 0, 0, 0]);
    // ARX's achieved average risk: 1,441 classes / 28,837 records.
    assert!(close(
        1_441.0 / (30_162.0 - e.suppressed_records as f64),
        0.049970524
    ));
    assert_eq!(e.suppressed_records, 1_325);
    assert_eq!(e.classes, 1_441);
    assert!(close(e.loss, 0.104615554), "{}", e.loss);
}

/// ARX's population-uniqueness figures for adult come from its USA population model
/// (317,238,626 people).
#[test]
fn population_uniqueness_matches_arx() {
    use airlock_risk::population::{Estimator, PopulationModel, estimate};
    let ds = adult();
    let bottom = classes::bottom(&ds).unwrap();
    let s = summarize(&bottom, &[], None, 0.2);
    let u = estimate(
        &s.class_sizes,
        PopulationModel {
            population_size: 317_238_626.0,
        },
    );
    assert!(close(u.pitman.unwrap(), 0.014545773), "{u:?}");
    assert!(close(u.zayatz.unwrap(), 0.086040860), "{u:?}");
    // The sampling fraction is tiny, so Dankar's rule picks Pitman.
    assert_eq!(u.dankar_estimator, Estimator::Pitman);
    assert_eq!(u.dankar, u.pitman);
}

/// Non-uniform entropy with every QI fully generalized: the most there is.
fn out_top(ds: &Dataset) -> f64 {
    let bottom = classes::bottom(ds).unwrap();
    let top = classes::roll_up(ds, &bottom, &ds.top()).unwrap();
    airlock_risk::metrics::non_uniform_entropy(ds, &top, &[]).unwrap()
}
