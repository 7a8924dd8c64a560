//! The demo hospital through the shipped text engine: raw notes are full of identifiers, the
//! de-identified output scans clean, and no raw identifier survives.

use airlock_deid::demo::run_demo;
use airlock_text::TextEngine;

#[test]
fn demo_runs_end_to_end_and_its_output_scans_clean() {
    let dir = tempfile::tempdir().unwrap();
    let report = run_demo(
        dir.path(),
        2000,
        &|key| Box::new(TextEngine::new(key)),
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(report.deid.manifest.output.rows, 2000);
    assert!(
        report.raw_findings.total > 1000,
        "{:?}",
        report.raw_findings
    );
    assert_eq!(
        report.output_findings.total, 0,
        "{:?}",
        report.output_findings.by_column
    );
    let out = std::fs::read_to_string(&report.output).unwrap();
    let raw = std::fs::read_to_string(&report.raw).unwrap();
    let first_data = raw.lines().nth(1).unwrap();
    let ssn = first_data.split(',').nth(2).unwrap();
    assert!(!out.contains(ssn));
}
