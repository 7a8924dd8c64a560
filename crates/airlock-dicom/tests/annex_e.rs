//! The Basic Profile and its options on objects built here (one attribute per action code,
//! nested sequences, references between files) and on the vendored test files (private
//! attributes, overlays, shared UIDs, burned-in text, validity after a write and a re-read).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use dicom_core::header::Header;
use dicom_core::value::DataSetSequence;
use dicom_core::{DataElement, PrimitiveValue, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::{FileDicomObject, FileMetaTableBuilder, InMemDicomObject};

use airlock_core::keys::WorkspaceSecret;
use airlock_dicom::{
    BurnedIn, DeidOption, Deidentifier, DicomJob, DicomOptions, FileReport, Region, SafePrivate,
    deid_paths,
};

const CT_IMAGE: &str = "1.2.840.10008.5.1.4.1.1.2";
const STUDY: &str = "1.2.826.0.1.3680043.2.1125.1.111";
const SOP_A: &str = "1.2.826.0.1.3680043.2.1125.1.222";
const SOP_B: &str = "1.2.826.0.1.3680043.2.1125.1.333";

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

fn secret() -> WorkspaceSecret {
    WorkspaceSecret::from_bytes([9; 32])
}

fn s(tag: Tag, vr: VR, v: &str) -> DataElement<InMemDicomObject> {
    DataElement::new(tag, vr, PrimitiveValue::from(v))
}

fn seq(tag: Tag, items: Vec<InMemDicomObject>) -> DataElement<InMemDicomObject> {
    DataElement::new(tag, VR::SQ, DataSetSequence::from(items))
}

/// A CT image header with one attribute for each action code, a nested sequence three levels
/// deep, private attributes and an overlay; `sop` is its SOP Instance UID, `refers` another
/// instance it references.
fn object(patient: &str, sop: &str, refers: &str) -> FileDicomObject<InMemDicomObject> {
    let deepest = InMemDicomObject::from_element_iter([
        s(tags::REFERENCED_SOP_CLASS_UID, VR::UI, CT_IMAGE),
        s(tags::REFERENCED_SOP_INSTANCE_UID, VR::UI, refers),
        s(tags::PATIENT_NAME, VR::PN, "DEEP^HIDDEN"),
    ]);
    let middle = InMemDicomObject::from_element_iter([
        seq(tags::REFERENCED_IMAGE_SEQUENCE, vec![deepest]),
        s(tags::PERSON_NAME, VR::PN, "OBSERVER^OLGA"),
    ]);
    let ds = InMemDicomObject::from_element_iter([
        s(tags::SOP_CLASS_UID, VR::UI, CT_IMAGE),
        s(tags::SOP_INSTANCE_UID, VR::UI, sop),
        s(tags::STUDY_INSTANCE_UID, VR::UI, STUDY),
        s(tags::MODALITY, VR::CS, "CT"),
        s(tags::PATIENT_NAME, VR::PN, "DOE^JANE"),
        s(tags::PATIENT_ID, VR::LO, patient),
        s(tags::PATIENT_BIRTH_DATE, VR::DA, "19610305"),
        s(tags::PATIENT_SEX, VR::CS, "F"),
        s(tags::STUDY_DATE, VR::DA, "20230214"),
        s(tags::ACQUISITION_DATE_TIME, VR::DT, "20230214101500"),
        s(tags::STUDY_TIME, VR::TM, "101500"),
        s(tags::ADDITIONAL_PATIENT_HISTORY, VR::LT, "pt anxious"),
        s(
            tags::STUDY_DESCRIPTION,
            VR::LO,
            "Follow-up for Dr. Halvorsen",
        ),
        s(tags::DEVICE_SERIAL_NUMBER, VR::LO, "SN-4471209"),
        s(tags::INSTITUTION_NAME, VR::LO, "Riverbend General"),
        s(tags::TEXT_VALUE, VR::UT, "Call Jane at 617-555-0199"),
        s(tags::ROWS, VR::US, "2"),
        seq(tags::CONTENT_SEQUENCE, vec![middle]),
        s(Tag(0x0029, 0x0010), VR::LO, "ACME PRIVATE"),
        s(Tag(0x0029, 0x1008), VR::LO, "safe value"),
        s(Tag(0x0029, 0x1009), VR::LO, "DOE^JANE again"),
        DataElement::new(
            Tag(0x6000, 0x3000),
            VR::OB,
            PrimitiveValue::U8([1u8, 2].into_iter().collect()),
        ),
        s(Tag(0x6000, 0x0022), VR::LO, "overlay about DOE"),
    ]);
    ds.with_meta(
        FileMetaTableBuilder::new()
            .media_storage_sop_class_uid(CT_IMAGE)
            .media_storage_sop_instance_uid(sop)
            .transfer_syntax("1.2.840.10008.1.2.1"),
    )
    .unwrap()
}

fn report() -> FileReport {
    FileReport::new(Path::new(""), Path::new(""))
}

fn run(obj: &mut FileDicomObject<InMemDicomObject>, opts: DicomOptions) -> FileReport {
    let mut r = report();
    Deidentifier::new(&secret(), opts).deidentify(obj, &mut r);
    r
}

fn text(obj: &InMemDicomObject, tag: Tag) -> Option<String> {
    obj.get(tag)
        .map(|e| e.to_str().map(|s| s.trim().to_owned()).unwrap_or_default())
}

fn item(obj: &InMemDicomObject, tag: Tag) -> &InMemDicomObject {
    &obj.get(tag).unwrap().items().unwrap()[0]
}

/// Every element at every depth.
fn walk(obj: &InMemDicomObject, out: &mut Vec<Tag>) {
    for e in obj.iter() {
        out.push(e.tag());
        for i in e.items().unwrap_or(&[]) {
            walk(i, out);
        }
    }
}

/// Writes and reads back through dicom-rs: the output is valid DICOM.
fn reread(obj: &FileDicomObject<InMemDicomObject>) -> FileDicomObject<InMemDicomObject> {
    let mut bytes = Vec::new();
    obj.write_all(&mut bytes).unwrap();
    dicom_object::from_reader(&bytes[128..]).unwrap()
}

#[test]
fn each_action_code_of_the_basic_profile() {
    let mut obj = object("MRN-0042", SOP_A, SOP_B);
    let r = run(&mut obj, DicomOptions::default());
    let obj = reread(&obj);
    // X: removed
    assert_eq!(text(&obj, tags::ADDITIONAL_PATIENT_HISTORY), None);
    // Z: zero length
    assert_eq!(text(&obj, tags::PATIENT_NAME).as_deref(), Some(""));
    assert_eq!(text(&obj, tags::STUDY_DATE).as_deref(), Some(""));
    // Z/D on Patient ID: a keyed pseudonym, the same for the same patient
    let id = text(&obj, tags::PATIENT_ID).unwrap();
    assert!(id.len() == 24 && !id.contains("0042"), "{id}");
    let mut again = object("MRN-0042", SOP_B, SOP_A);
    run(&mut again, DicomOptions::default());
    assert_eq!(text(&again, tags::PATIENT_ID).unwrap(), id);
    // X/Z/D on Device Serial Number: a dummy; X/Z/D Institution Name too
    assert_eq!(
        text(&obj, tags::DEVICE_SERIAL_NUMBER).as_deref(),
        Some("ANONYMIZED")
    );
    // U: keyed 2.25 UIDs, and the meta group follows the new SOP Instance UID
    let sop = text(&obj, tags::SOP_INSTANCE_UID).unwrap();
    assert!(sop.starts_with("2.25.") && sop != SOP_A);
    assert_eq!(
        obj.meta()
            .media_storage_sop_instance_uid
            .trim_end_matches('\0'),
        sop
    );
    assert!(
        text(&obj, tags::STUDY_INSTANCE_UID)
            .unwrap()
            .starts_with("2.25.")
    );
    // K (not listed): kept
    assert_eq!(text(&obj, tags::SOP_CLASS_UID).as_deref(), Some(CT_IMAGE));
    assert_eq!(text(&obj, tags::MODALITY).as_deref(), Some("CT"));
    // patient characteristics are kept by the Basic Profile only where the table says K
    assert_eq!(text(&obj, tags::PATIENT_SEX).as_deref(), Some(""));
    // free text the table does not list goes through the detector
    let tv = text(&obj, tags::TEXT_VALUE).unwrap();
    assert!(!tv.contains("555-0199") && !tv.contains("Jane"), "{tv}");
    // sequences, at every depth: D on Content Sequence cleans its items
    let middle = item(&obj, tags::CONTENT_SEQUENCE);
    assert_eq!(
        text(middle, tags::PERSON_NAME).as_deref(),
        Some("ANONYMOUS")
    );
    let deepest = item(middle, tags::REFERENCED_IMAGE_SEQUENCE);
    assert_eq!(text(deepest, tags::PATIENT_NAME).as_deref(), Some(""));
    let referenced = text(deepest, tags::REFERENCED_SOP_INSTANCE_UID).unwrap();
    assert_eq!(
        referenced,
        text(&again, tags::SOP_INSTANCE_UID).unwrap(),
        "references follow"
    );
    assert_eq!(
        text(deepest, tags::REFERENCED_SOP_CLASS_UID).as_deref(),
        Some(CT_IMAGE)
    );
    // private attributes and the overlay group: gone
    let mut all = Vec::new();
    walk(&obj, &mut all);
    assert!(all.iter().all(|t| t.group() % 2 == 0), "private tags left");
    assert!(
        all.iter().all(|t| t.group() & 0xFF00 != 0x6000),
        "overlay left"
    );
    assert_eq!(r.private_removed, 3);
    // the de-identification attributes
    assert_eq!(
        text(&obj, tags::PATIENT_IDENTITY_REMOVED).as_deref(),
        Some("YES")
    );
    assert_eq!(
        text(&obj, tags::LONGITUDINAL_TEMPORAL_INFORMATION_MODIFIED).as_deref(),
        Some("REMOVED")
    );
    assert!(
        text(&obj, tags::DEIDENTIFICATION_METHOD)
            .unwrap()
            .contains("Basic Profile")
    );
    let codes = obj
        .get(tags::DEIDENTIFICATION_METHOD_CODE_SEQUENCE)
        .unwrap();
    let items = codes.items().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(text(&items[0], tags::CODE_VALUE).as_deref(), Some("113100"));
    assert_eq!(
        text(&items[0], tags::CODING_SCHEME_DESIGNATOR).as_deref(),
        Some("DCM")
    );
    // nothing identifying anywhere in the bytes
    let mut bytes = Vec::new();
    obj.write_all(&mut bytes).unwrap();
    let raw = String::from_utf8_lossy(&bytes);
    for phi in [
        "DOE",
        "JANE",
        "OBSERVER",
        "HIDDEN",
        "MRN-0042",
        "19610305",
        "Halvorsen",
        "Riverbend",
        "4471209",
        SOP_A,
        STUDY,
    ] {
        assert!(!raw.contains(phi), "{phi} survives");
    }
}

#[test]
fn options_change_only_their_attributes() {
    let opts = |o: Vec<DeidOption>| DicomOptions {
        options: o,
        date_shift: airlock_core::clock::ShiftRange::default(),
        ..DicomOptions::default()
    };
    // modified dates: shifted by the patient's keyed offset, the same in every file
    let mut a = object("MRN-7", SOP_A, SOP_B);
    let mut b = object("MRN-7", SOP_B, SOP_A);
    run(&mut a, opts(vec![DeidOption::RetainLongModifiedDates]));
    run(&mut b, opts(vec![DeidOption::RetainLongModifiedDates]));
    let date = text(&a, tags::STUDY_DATE).unwrap();
    assert_eq!(date.len(), 8);
    assert_ne!(date, "20230214");
    assert_eq!(date, text(&b, tags::STUDY_DATE).unwrap());
    let dt = text(&a, tags::ACQUISITION_DATE_TIME).unwrap();
    assert_eq!(&dt[..8], date, "a date and its date-time move together");
    assert!(dt.ends_with("101500"));
    assert_eq!(
        text(&a, tags::LONGITUDINAL_TEMPORAL_INFORMATION_MODIFIED).as_deref(),
        Some("MODIFIED")
    );
    // full dates, UIDs, device identity, patient characteristics: kept
    let mut c = object("MRN-7", SOP_A, SOP_B);
    run(
        &mut c,
        opts(vec![
            DeidOption::RetainLongFullDates,
            DeidOption::RetainUids,
            DeidOption::RetainDeviceIdentity,
            DeidOption::RetainPatientCharacteristics,
            DeidOption::CleanDescriptors,
        ]),
    );
    assert_eq!(text(&c, tags::STUDY_DATE).as_deref(), Some("20230214"));
    assert_eq!(text(&c, tags::SOP_INSTANCE_UID).as_deref(), Some(SOP_A));
    assert_eq!(
        text(&c, tags::DEVICE_SERIAL_NUMBER).as_deref(),
        Some("SN-4471209")
    );
    assert_eq!(text(&c, tags::PATIENT_SEX).as_deref(), Some("F"));
    // patient characteristics are kept, but an age over 89 is top-coded (Safe Harbor)
    for (age, expect, coded) in [("097Y", "090Y", 1), ("045Y", "045Y", 0)] {
        let mut d = object("MRN-8", SOP_A, SOP_B);
        d.put(s(tags::PATIENT_AGE, VR::AS, age));
        let r = run(&mut d, opts(vec![DeidOption::RetainPatientCharacteristics]));
        assert_eq!(text(&d, tags::PATIENT_AGE).as_deref(), Some(expect));
        assert_eq!(r.ages_top_coded, coded);
    }
    // clean descriptors: the description stays, its identifiers do not
    let desc = text(&c, tags::STUDY_DESCRIPTION).unwrap();
    assert!(
        desc.starts_with("Follow-up for") && !desc.contains("Halvorsen"),
        "{desc}"
    );
    // still removed: names, birth date
    assert_eq!(text(&c, tags::PATIENT_NAME).as_deref(), Some(""));
    assert_eq!(text(&c, tags::PATIENT_BIRTH_DATE).as_deref(), Some(""));
    let codes: Vec<String> = c
        .get(tags::DEIDENTIFICATION_METHOD_CODE_SEQUENCE)
        .unwrap()
        .items()
        .unwrap()
        .iter()
        .map(|i| text(i, tags::CODE_VALUE).unwrap())
        .collect();
    assert_eq!(
        codes,
        ["113100", "113106", "113110", "113109", "113108", "113105"]
    );
    // retain safe private: only the listed attribute and its creator
    let mut d = object("MRN-7", SOP_A, SOP_B);
    let r = run(
        &mut d,
        DicomOptions {
            options: vec![DeidOption::RetainSafePrivate],
            safe_private: vec![SafePrivate::parse("ACME PRIVATE/0029/08").unwrap()],
            ..DicomOptions::default()
        },
    );
    assert_eq!(text(&d, Tag(0x0029, 0x1008)).as_deref(), Some("safe value"));
    assert_eq!(
        text(&d, Tag(0x0029, 0x0010)).as_deref(),
        Some("ACME PRIVATE")
    );
    assert_eq!(text(&d, Tag(0x0029, 0x1009)), None);
    assert_eq!(r.private_removed, 1);
}

fn job(input: &Path, output: &Path, options: DicomOptions) -> DicomJob {
    DicomJob {
        input: input.to_path_buf(),
        output: output.to_path_buf(),
        force: false,
        options,
    }
}

#[test]
fn the_test_files_lose_private_tags_keep_shared_uids_and_stay_valid() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let r = deid_paths(
        &job(&data(), &out, DicomOptions::default()),
        &secret(),
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(r.files.len(), 9);
    assert_eq!(r.skipped.len(), 1, "the README is not copied");
    let open = |name: &str| dicom_object::open_file(out.join(name)).unwrap();
    for f in &r.files {
        let obj = dicom_object::open_file(&f.output).unwrap();
        let mut all = Vec::new();
        walk(&obj, &mut all);
        assert!(
            all.iter().all(|t| t.group() % 2 == 0),
            "{}: private tags left",
            f.output.display()
        );
        assert!(all.iter().all(|t| t.group() & 0xFF00 != 0x6000));
        assert!(!all.contains(&tags::ICON_IMAGE_SEQUENCE));
    }
    // one study in two files: one set of new UIDs
    let (a, b) = (open("deid_CT_ctbrain1.dcm"), open("deid_CT_ctbrain2.dcm"));
    for tag in [
        tags::STUDY_INSTANCE_UID,
        tags::SERIES_INSTANCE_UID,
        tags::SOP_INSTANCE_UID,
        tags::FRAME_OF_REFERENCE_UID,
    ] {
        let (ua, ub) = (text(&a, tag).unwrap(), text(&b, tag).unwrap());
        assert!(ua.starts_with("2.25."), "{ua}");
        assert_eq!(ua, ub);
    }
    // the SR's person name inside the Content Sequence
    let sr = open("pydicom_SR_reportsi.dcm");
    let mut names = Vec::new();
    fn person_names(obj: &InMemDicomObject, out: &mut Vec<String>) {
        for e in obj.iter() {
            if e.vr() == VR::PN {
                out.push(e.to_str().map(|s| s.to_string()).unwrap_or_default());
            }
            for i in e.items().unwrap_or(&[]) {
                person_names(i, out);
            }
        }
    }
    person_names(&sr, &mut names);
    assert!(!names.is_empty());
    assert!(
        names
            .iter()
            .all(|n| n.trim().is_empty() || n.trim() == "ANONYMOUS"),
        "{names:?}"
    );
    // burned-in text: the ultrasound is flagged, the JPEG secondary captures too
    let flagged: Vec<&str> = r
        .files
        .iter()
        .filter(|f| matches!(f.burned_in, BurnedIn::Flagged(_)))
        .map(|f| f.output.file_name().unwrap().to_str().unwrap())
        .collect();
    assert_eq!(
        flagged,
        [
            "deid_CT_ctbrain1.dcm",
            "deid_CT_ctbrain2.dcm",
            "pydicom_US_rgb_examples_rgb_color.dcm"
        ]
    );
    // a second run gives the same UIDs; the output exists, so it needs force
    let again = dir.path().join("again");
    deid_paths(
        &job(&data(), &again, DicomOptions::default()),
        &secret(),
        &mut |_| {},
    )
    .unwrap();
    let c = dicom_object::open_file(again.join("deid_CT_ctbrain1.dcm")).unwrap();
    assert_eq!(
        text(&c, tags::STUDY_INSTANCE_UID),
        text(&a, tags::STUDY_INSTANCE_UID)
    );
    assert!(
        deid_paths(
            &job(&data(), &out, DicomOptions::default()),
            &secret(),
            &mut |_| {}
        )
        .is_err()
    );
}

#[test]
fn blanking_clears_the_regions_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let input = data().join("pydicom_US_rgb_examples_rgb_color.dcm");
    let out = dir.path().join("us.dcm");
    let opts = DicomOptions {
        blank: vec![Region::parse("0,0,320,20").unwrap()],
        ..DicomOptions::default()
    };
    let r = deid_paths(&job(&input, &out, opts), &secret(), &mut |_| {}).unwrap();
    assert_eq!(r.files[0].burned_in, BurnedIn::Blanked);
    let pixels = |p: &Path| {
        let o = dicom_object::open_file(p).unwrap();
        o.get(tags::PIXEL_DATA)
            .unwrap()
            .to_bytes()
            .unwrap()
            .to_vec()
    };
    let (before, after) = (pixels(&input), pixels(&out));
    assert_eq!(before.len(), after.len());
    let row = 320 * 3;
    assert!(
        before[..20 * row].iter().any(|&b| b != 0),
        "the banner had text"
    );
    assert!(after[..20 * row].iter().all(|&b| b == 0));
    assert_eq!(before[20 * row..], after[20 * row..]);
    let o = dicom_object::open_file(&out).unwrap();
    assert_eq!(text(&o, tags::BURNED_IN_ANNOTATION).as_deref(), Some("NO"));
    // compressed pixel data cannot be blanked: it stays flagged
    let jpeg = data().join("deid_CT_ctbrain1.dcm");
    let opts = DicomOptions {
        blank: vec![Region::parse("0,0,10,10").unwrap()],
        ..DicomOptions::default()
    };
    let r = deid_paths(
        &job(&jpeg, &dir.path().join("j.dcm"), opts),
        &secret(),
        &mut |_| {},
    )
    .unwrap();
    assert!(matches!(r.files[0].burned_in, BurnedIn::Flagged(_)));
}

#[test]
fn a_malformed_file_stops_the_run_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir(&input).unwrap();
    std::fs::copy(data().join("pydicom_MR_small.dcm"), input.join("a.dcm")).unwrap();
    let bytes = std::fs::read(data().join("pydicom_CT_small.dcm")).unwrap();
    std::fs::write(input.join("b.dcm"), &bytes[..700]).unwrap();
    let out = dir.path().join("out");
    let e = deid_paths(
        &job(&input, &out, DicomOptions::default()),
        &secret(),
        &mut |_| {},
    )
    .unwrap_err();
    assert!(e.to_string().contains("b.dcm"), "{e}");
    assert!(!out.exists());
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(left.len(), 1, "a temporary directory was left behind");
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(12))]
    /// A real file with bytes flipped, cut or appended anywhere: de-identified or refused as an
    /// input error, never a panic, and nothing left at the target on refusal.
    #[test]
    fn mutated_files_never_panic(
        flips in proptest::collection::vec((0usize..40_000, proptest::prelude::any::<u8>()), 0..24),
        cut in proptest::option::of(0usize..40_000),
        tail in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64),
        source in proptest::sample::select(vec!["pydicom_CT_small.dcm", "pydicom_MR_small.dcm", "pydicom_nested_priv_SQ.dcm"]),
    ) {
        let mut bytes = std::fs::read(data().join(source)).unwrap();
        for (at, b) in flips {
            let n = bytes.len();
            bytes[at % n] = b;
        }
        if let Some(c) = cut {
            bytes.truncate(c % (bytes.len() + 1));
        }
        bytes.extend_from_slice(&tail);
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.dcm");
        std::fs::write(&input, &bytes).unwrap();
        let output = dir.path().join("out.dcm");
        let r = std::panic::catch_unwind(|| {
            deid_paths(&job(&input, &output, DicomOptions::default()), &secret(), &mut |_| {})
        });
        proptest::prop_assert!(r.is_ok(), "panicked on a mutated {source}");
        if let Ok(Err(_)) = r {
            proptest::prop_assert!(!output.exists());
        }
    }
}
