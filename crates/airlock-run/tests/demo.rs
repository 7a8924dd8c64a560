//! The demo hospital through the shipped text engine: raw notes are full of identifiers, the
//! de-identified output scans clean, and no patient's name, SSN or phone survives in it.

use airlock_run::demo::run_demo;

#[test]
fn demo_runs_end_to_end_and_nothing_identifying_survives() {
    for _ in 0..3 {
        // each run creates a new random workspace key: surrogates differ every time
        let dir = tempfile::tempdir().unwrap();
        let report = run_demo(
            dir.path(),
            2000,
            &mut |extract, _| Ok(extract.to_path_buf()),
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
        let mut raw = csv::Reader::from_path(&report.raw).unwrap();
        let header = raw.headers().unwrap().clone();
        let col = |name: &str| header.iter().position(|h| h == name).unwrap();
        let (name, ssn, phone) = (col("patient_name"), col("ssn"), col("phone"));
        let mut out = csv::Reader::from_path(&report.output).unwrap();
        let note = out
            .headers()
            .unwrap()
            .iter()
            .position(|h| h == "note")
            .unwrap();
        for (r, o) in raw.records().zip(out.records()) {
            let (r, o) = (r.unwrap(), o.unwrap());
            let text = &o[note];
            for part in r[name].split(' ').filter(|p| p.len() > 2) {
                let word_in = text
                    .split(|c: char| !c.is_ascii_alphabetic())
                    .any(|w| w.eq_ignore_ascii_case(part));
                assert!(!word_in, "a patient name survived in {text:?}");
            }
            assert!(r[ssn].is_empty() || !text.contains(&r[ssn]));
            assert!(r[phone].is_empty() || !text.contains(&r[phone]));
        }
    }
}
