//! Any bytes as a DICOM file through the Basic Profile: de-identified or refused as an input
//! error, never a panic.
#![no_main]

use airlock_core::keys::WorkspaceSecret;
use airlock_dicom::{DicomJob, DicomOptions, deid_paths};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let input = dir.path().join("in.dcm");
    std::fs::write(&input, data).expect("a temporary file");
    let job = DicomJob {
        input,
        output: dir.path().join("out.dcm"),
        force: true,
        options: DicomOptions::default(),
    };
    let _ = deid_paths(&job, &WorkspaceSecret::from_bytes([7; 32]), &mut |_| {});
});
