//! `airlock bench --suite dicom`: `airlock dicom deid` of a tree of small generated images
//! (an MR-like header with names, dates, UIDs, a nested sequence and private attributes, and a
//! 64x64 16-bit image: about 10 KB each, like most CT and MR slices' headers) against a plain
//! copy of the same tree, in one process on one core. Medians of `--runs`.

use std::time::Instant;

use anyhow::Context;
use dicom_core::value::DataSetSequence;
use dicom_core::{DataElement, PrimitiveValue, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::{FileMetaTableBuilder, InMemDicomObject};

use airlock_core::keys::WorkspaceSecret;
use airlock_dicom::{DicomJob, DicomOptions, deid_paths};

use crate::BenchArgs;
use crate::ExitStatus;
use crate::bench_risk::median;
use crate::report::{self, thousands};

const MR_IMAGE: &str = "1.2.840.10008.5.1.4.1.1.4";

fn text(tag: Tag, vr: VR, v: &str) -> DataElement<InMemDicomObject> {
    DataElement::new(tag, vr, PrimitiveValue::from(v))
}

/// One synthetic slice: patient `p`, series `s`, instance `i`.
fn slice(p: u64, s: u64, i: u64) -> anyhow::Result<dicom_object::DefaultDicomObject> {
    let root = "1.2.826.0.1.3680043.8.498";
    let sop = format!("{root}.{p}.{s}.{i}");
    let referenced = InMemDicomObject::from_element_iter([
        text(tags::REFERENCED_SOP_CLASS_UID, VR::UI, MR_IMAGE),
        text(
            tags::REFERENCED_SOP_INSTANCE_UID,
            VR::UI,
            &format!("{root}.{p}.{s}.{}", i + 1),
        ),
    ]);
    let pixels: Vec<u16> = (0..64 * 64).map(|k| ((k * 7 + i) % 4096) as u16).collect();
    let obj = InMemDicomObject::from_element_iter([
        text(tags::SOP_CLASS_UID, VR::UI, MR_IMAGE),
        text(tags::SOP_INSTANCE_UID, VR::UI, &sop),
        text(tags::STUDY_DATE, VR::DA, "20230214"),
        text(tags::SERIES_DATE, VR::DA, "20230214"),
        text(tags::STUDY_TIME, VR::TM, "101500"),
        text(tags::ACCESSION_NUMBER, VR::SH, &format!("A{p:08}")),
        text(tags::MODALITY, VR::CS, "MR"),
        text(tags::MANUFACTURER, VR::LO, "ACME"),
        text(tags::INSTITUTION_NAME, VR::LO, "Riverbend General Hospital"),
        text(tags::REFERRING_PHYSICIAN_NAME, VR::PN, "HALVORSEN^ERIK"),
        text(tags::STATION_NAME, VR::SH, "MR01"),
        text(tags::STUDY_DESCRIPTION, VR::LO, "MRI BRAIN W/WO"),
        text(tags::SERIES_DESCRIPTION, VR::LO, "T1 AX"),
        text(tags::OPERATORS_NAME, VR::PN, "TECH^TINA"),
        DataElement::new(
            tags::REFERENCED_IMAGE_SEQUENCE,
            VR::SQ,
            DataSetSequence::from(vec![referenced]),
        ),
        text(tags::PATIENT_NAME, VR::PN, &format!("PATIENT{p}^TEST")),
        text(tags::PATIENT_ID, VR::LO, &format!("MRN{p:07}")),
        text(tags::PATIENT_BIRTH_DATE, VR::DA, "19610305"),
        text(tags::PATIENT_SEX, VR::CS, "F"),
        text(tags::PATIENT_AGE, VR::AS, "061Y"),
        text(tags::DEVICE_SERIAL_NUMBER, VR::LO, "SN4471209"),
        text(tags::SOFTWARE_VERSIONS, VR::LO, "V1.0"),
        text(tags::STUDY_INSTANCE_UID, VR::UI, &format!("{root}.{p}")),
        text(
            tags::SERIES_INSTANCE_UID,
            VR::UI,
            &format!("{root}.{p}.{s}"),
        ),
        text(tags::STUDY_ID, VR::SH, &format!("{p}")),
        text(tags::SERIES_NUMBER, VR::IS, &format!("{s}")),
        text(tags::INSTANCE_NUMBER, VR::IS, &format!("{i}")),
        text(
            tags::FRAME_OF_REFERENCE_UID,
            VR::UI,
            &format!("{root}.{p}.{s}.0"),
        ),
        text(Tag(0x0029, 0x0010), VR::LO, "ACME PRIVATE"),
        text(Tag(0x0029, 0x1001), VR::LO, &format!("PATIENT{p}")),
        DataElement::new(tags::SAMPLES_PER_PIXEL, VR::US, PrimitiveValue::from(1u16)),
        text(tags::PHOTOMETRIC_INTERPRETATION, VR::CS, "MONOCHROME2"),
        DataElement::new(tags::ROWS, VR::US, PrimitiveValue::from(64u16)),
        DataElement::new(tags::COLUMNS, VR::US, PrimitiveValue::from(64u16)),
        DataElement::new(tags::BITS_ALLOCATED, VR::US, PrimitiveValue::from(16u16)),
        DataElement::new(tags::BITS_STORED, VR::US, PrimitiveValue::from(12u16)),
        DataElement::new(tags::HIGH_BIT, VR::US, PrimitiveValue::from(11u16)),
        DataElement::new(
            tags::PIXEL_REPRESENTATION,
            VR::US,
            PrimitiveValue::from(0u16),
        ),
        DataElement::new(
            tags::PIXEL_DATA,
            VR::OW,
            PrimitiveValue::U16(pixels.into_iter().collect()),
        ),
    ]);
    Ok(obj.with_meta(
        FileMetaTableBuilder::new()
            .media_storage_sop_class_uid(MR_IMAGE)
            .media_storage_sop_instance_uid(sop)
            .transfer_syntax("1.2.840.10008.1.2.1"),
    )?)
}

pub fn run(args: &BenchArgs, json: bool) -> anyhow::Result<ExitStatus> {
    let tmp = tempfile::tempdir().context("cannot create a temporary directory")?;
    let dir = args.dir.clone().unwrap_or_else(|| tmp.path().to_path_buf());
    // --rows is the number of files here (default 2,000)
    let files = if args.rows == 1_000_000 {
        2_000
    } else {
        args.rows.max(1)
    };
    let input = dir.join("study");
    let mut bytes = 0u64;
    for n in 0..files {
        let (p, s, i) = (n / 200, (n / 50) % 4, n % 50);
        let d = input.join(format!("p{p}")).join(format!("s{s}"));
        std::fs::create_dir_all(&d)?;
        let path = d.join(format!("{i:04}.dcm"));
        slice(p, s, i)?.write_to_file(&path)?;
        bytes += std::fs::metadata(&path)?.len();
    }
    let secret = WorkspaceSecret::generate()?;
    let runs = args.runs.max(1);
    let (mut copy, mut deid) = (Vec::new(), Vec::new());
    for r in 0..runs {
        let target = dir.join(format!("copy{r}"));
        let t = Instant::now();
        for e in walk(&input)? {
            let to = target.join(e.strip_prefix(&input)?);
            std::fs::create_dir_all(to.parent().unwrap_or(&target))?;
            std::fs::copy(&e, &to)?;
        }
        copy.push(t.elapsed().as_secs_f64());
        let job = DicomJob {
            input: input.clone(),
            output: dir.join(format!("deid{r}")),
            force: true,
            options: DicomOptions::default(),
        };
        let t = Instant::now();
        let report = deid_paths(&job, &secret, &mut |_| {})?;
        deid.push(t.elapsed().as_secs_f64());
        anyhow::ensure!(
            report.files.len() as u64 == files,
            "not every file was written"
        );
    }
    let (c, d) = (median(copy), median(deid));
    let rate = files as f64 / d;
    if json {
        report::json(&serde_json::json!({
            "suite": "dicom",
            "files": files,
            "bytes": bytes,
            "runs": runs,
            "copy_seconds": c,
            "deid_seconds": d,
            "files_per_second": rate,
            "copy_files_per_second": files as f64 / c,
            "mb_per_second": bytes as f64 / 1e6 / d,
        }));
        return Ok(ExitStatus::Success);
    }
    report::out(&format!(
        "airlock bench --suite dicom: {} files of {:.1} KB ({:.1} MB), one core, median of {runs}\n  \
         plain copy of the tree      {c:.3} s  ({} files/s)\n  \
         airlock dicom deid (basic)  {d:.3} s  ({} files/s, {:.1} MB/s; {:.1}x the copy)\n",
        thousands(files),
        bytes as f64 / files as f64 / 1e3,
        bytes as f64 / 1e6,
        thousands((files as f64 / c) as u64),
        thousands(rate as u64),
        bytes as f64 / 1e6 / d,
        d / c,
    ));
    Ok(ExitStatus::Success)
}

fn walk(dir: &std::path::Path) -> anyhow::Result<Vec<std::path::PathBuf>> {
    let mut skipped = Vec::new();
    Ok(airlock_core::walk::collect_files(
        &[dir.to_path_buf()],
        &[],
        &mut skipped,
    )?)
}
