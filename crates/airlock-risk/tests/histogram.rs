//! The generalization search on counts: the same records in any order, or counted in parts and
//! summed (as Spark's executors and driver do), give the same solution, and the recoding
//! writes each record as the search decided and refuses a record it never saw.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{ArrayRef, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use proptest::prelude::*;

use airlock_risk::anonymize::{Solution, solve};
use airlock_risk::data::Histogram;
use airlock_risk::{Criteria, Dataset, HierarchySpec};

type Row = (u8, u8, bool, u8);

/// A solution's levels, suppressed records and loss, and the QI cells it writes.
type Outcome = Option<(Vec<u8>, u64, f64, Vec<Vec<String>>)>;

fn schema() -> Arc<Schema> {
    Arc::new(Schema::new(
        ["age", "zip", "sex", "dx"]
            .iter()
            .map(|n| Field::new(*n, DataType::Utf8, true))
            .collect::<Vec<_>>(),
    ))
}

fn batch(rows: &[Row]) -> RecordBatch {
    let col = |f: &dyn Fn(&Row) -> String| -> ArrayRef {
        Arc::new(StringArray::from(rows.iter().map(f).collect::<Vec<_>>()))
    };
    RecordBatch::try_new(
        schema(),
        vec![
            col(&|r| (20 + r.0 % 60).to_string()),
            col(&|r| format!("02{:03}", r.1 % 40)),
            col(&|r| if r.2 { "F" } else { "M" }.to_owned()),
            col(&|r| format!("D{}", r.3 % 4)),
        ],
    )
    .unwrap()
}

fn qis() -> Vec<String> {
    vec!["age".into(), "zip".into(), "sex".into()]
}

fn hierarchies() -> HashMap<String, HierarchySpec> {
    let mut h = HashMap::new();
    h.insert(
        "age".into(),
        HierarchySpec::Intervals(vec![5.0, 10.0, 20.0]),
    );
    h.insert("zip".into(), HierarchySpec::ZipPrefix);
    h
}

fn histogram(batches: &[RecordBatch]) -> Histogram {
    let mut h = Histogram::new(&qis(), Some("dx"), Path::new("t"));
    for b in batches {
        h.add_batch(&schema(), b).unwrap();
    }
    h
}

/// The counts of `parts`, each counted alone, then summed through `Histogram::add`.
fn summed(parts: &[RecordBatch]) -> Histogram {
    let mut total = Histogram::new(&qis(), Some("dx"), Path::new("t"));
    for p in parts {
        let h = histogram(std::slice::from_ref(p));
        for (values, sensitive, n) in h.entries() {
            total.add(&values, sensitive, n).unwrap();
        }
    }
    total
}

fn criteria() -> Criteria {
    Criteria {
        k: Some(4),
        l_distinct: Some(2),
        max_suppression: 0.1,
        ..Criteria::default()
    }
}

/// Average risk: the smallest classes are suppressed first, ties broken by their values (so
/// the order of the records must not matter there either).
fn average_risk() -> Criteria {
    Criteria {
        max_average_risk: Some(0.2),
        max_suppression: 0.3,
        ..Criteria::default()
    }
}

/// The solution's levels, suppressed records and loss, and every record of `all` recoded.
fn outcome(h: Histogram, all: &RecordBatch, criteria: &Criteria) -> Outcome {
    let ds = Dataset::from_histogram(h, &hierarchies()).unwrap();
    match solve(&ds, criteria, 0.2).unwrap() {
        Solution::NoSolution { .. } => None,
        Solution::Found {
            record,
            result: recoding,
            ..
        } => {
            let out_schema = recoding.output_schema(&schema()).unwrap();
            let out = recoding.apply(all, &out_schema, Path::new("t"), 0).unwrap();
            let cells = (0..3)
                .map(|c| {
                    out.column(c)
                        .as_string::<i32>()
                        .iter()
                        .map(|v| v.unwrap().to_owned())
                        .collect()
                })
                .collect();
            let levels = record.levels.iter().map(|l| l.level).collect();
            Some((levels, record.suppressed_records, record.loss, cells))
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn order_and_partitioning_do_not_change_the_solution(
        rows in proptest::collection::vec((any::<u8>(), 0u8..12, any::<bool>(), any::<u8>()), 20..160),
        cuts in proptest::collection::vec(0usize..160, 0..5),
        seed in any::<u64>(),
        by_average in any::<bool>(),
    ) {
        let criteria = if by_average { average_risk() } else { criteria() };
        let whole = batch(&rows);
        let expected = outcome(histogram(std::slice::from_ref(&whole)), &whole, &criteria);
        // shuffled
        let mut shuffled = rows.clone();
        let mut x = seed | 1;
        for i in (1..shuffled.len()).rev() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            shuffled.swap(i, (x % (i as u64 + 1)) as usize);
        }
        prop_assert_eq!(outcome(histogram(&[batch(&shuffled)]), &whole, &criteria), expected.clone());
        // counted in parts and summed
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % rows.len()).collect();
        cuts.push(0);
        cuts.push(rows.len());
        cuts.sort_unstable();
        cuts.dedup();
        let parts: Vec<RecordBatch> = cuts.windows(2).map(|w| batch(&shuffled[w[0]..w[1]])).collect();
        prop_assert_eq!(outcome(summed(&parts), &whole, &criteria), expected);
    }
}

#[test]
fn the_recoding_writes_suppressed_classes_as_stars_and_refuses_a_record_it_never_saw() {
    // 12 records in one class and one record alone: k 4 suppresses the lone one (1 of 13 is
    // within the 10% limit) and keeps every value of the others
    let mut rows: Vec<Row> = (0..12).map(|i| (10, 3, true, i)).collect();
    rows.push((50, 7, false, 1));
    rows.push((50, 7, false, 2));
    rows.truncate(13);
    let whole = batch(&rows);
    let (levels, suppressed, _, cells) =
        outcome(histogram(std::slice::from_ref(&whole)), &whole, &criteria()).unwrap();
    assert_eq!(levels, vec![0, 0, 0]);
    assert_eq!(suppressed, 1);
    assert_eq!(cells[0][..12], vec!["30".to_owned(); 12][..]);
    assert_eq!(
        (
            cells[0][12].as_str(),
            cells[1][12].as_str(),
            cells[2][12].as_str()
        ),
        ("*", "*", "*")
    );
    // a record the counts did not hold: an error, never written as it is
    let ds =
        Dataset::from_histogram(histogram(std::slice::from_ref(&whole)), &hierarchies()).unwrap();
    let Solution::Found {
        result: recoding, ..
    } = solve(&ds, &criteria(), 0.2).unwrap()
    else {
        panic!("no solution")
    };
    let stranger = batch(&[(11, 3, true, 0)]);
    let out_schema = recoding.output_schema(&schema()).unwrap();
    let e = recoding
        .apply(&stranger, &out_schema, Path::new("t"), 0)
        .unwrap_err()
        .to_string();
    assert!(e.contains("not among the records"), "{e}");
    assert!(!e.contains("31"), "a value in the message: {e}");
}

#[test]
fn summed_counts_must_name_every_quasi_identifier() {
    let mut h = Histogram::new(&qis(), Some("dx"), Path::new("t"));
    assert!(h.add(&["30", "02003"], Some("D1"), 2).is_err());
    assert!(h.add(&["30", "02003", "F"], None, 2).is_err());
    h.add(&["30", "02003", "F"], Some("D1"), 2).unwrap();
    assert_eq!(h.rows(), 2);
}

#[test]
fn an_empty_table_is_a_clear_error_not_an_empty_hierarchy() {
    let text = "[dataset]\nname = \"x\"\n[fields.age]\nclass = \"quasi_identifier\"\naction = \"keep\"\nhierarchy = \"intervals:10\"\n[risk]\nk = 2\n";
    let policy = airlock_core::policy::Policy::parse(text, Path::new("p.toml")).unwrap();
    let step = airlock_risk::policy::RiskStep::of_policy(&policy).unwrap();
    let e = step
        .solve(step.histogram(Path::new("t")))
        .unwrap_err()
        .to_string();
    assert!(e.contains("no records"), "{e}");
}
