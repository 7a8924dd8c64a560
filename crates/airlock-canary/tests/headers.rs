//! A CSV whose first row is a patient, not a header, must be refused before its cells become
//! column names (and so reach errors, drafted policies and scan reports). Canary identities
//! come from invented words and random numbers that the detector's lists do not hold; the
//! real header names come from public schemas (OMOP CDM, MIMIC-IV, Synthea, FHIR exports).

use airlock_canary::identity::Identity;
use airlock_core::table::name_looks_like_data;
use airlock_core::text::TextScrubber;
use airlock_text::TextEngine;
use rand::SeedableRng;

#[test]
fn a_canary_patient_as_a_header_row_is_refused() {
    let detector = TextEngine::without_key();
    let d: &dyn TextScrubber = &detector;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(14);
    for _ in 0..200 {
        let who = Identity::generate(&mut rng, 1930..=1990, 2000..=2020);
        let row: Vec<String> = who.identifiers().into_iter().map(|(_, v)| v).collect();
        assert!(
            row.iter().any(|cell| name_looks_like_data(cell, Some(d))),
            "a patient row passed as a header"
        );
    }
    for cell in [
        "Ada Quillfeather",
        "QUILLFEATHER, ADA",
        "Dr. Okafor",
        "1956-02-17",
    ] {
        assert!(name_looks_like_data(cell, Some(d)), "{cell}");
    }
}

#[test]
fn real_headers_pass_the_detector() {
    let detector = TextEngine::without_key();
    let d: &dyn TextScrubber = &detector;
    for name in [
        "person_id",
        "gender_concept_id",
        "year_of_birth",
        "birth_datetime",
        "race_source_value",
        "location_id",
        "provider_id",
        "care_site_id",
        "visit_occurrence_id",
        "visit_start_date",
        "condition_source_value",
        "drug_exposure_start_date",
        "note_text",
        "note_title",
        "subject_id",
        "hadm_id",
        "stay_id",
        "admittime",
        "dischtime",
        "deathtime",
        "admission_type",
        "admission_location",
        "discharge_location",
        "insurance",
        "language",
        "marital_status",
        "race",
        "edregtime",
        "hospital_expire_flag",
        "anchor_age",
        "anchor_year",
        "charttime",
        "valuenum",
        "valueuom",
        "Id",
        "BIRTHDATE",
        "DEATHDATE",
        "SSN",
        "DRIVERS",
        "PASSPORT",
        "PREFIX",
        "FIRST",
        "LAST",
        "SUFFIX",
        "MAIDEN",
        "MARITAL",
        "RACE",
        "ETHNICITY",
        "GENDER",
        "BIRTHPLACE",
        "ADDRESS",
        "CITY",
        "STATE",
        "COUNTY",
        "ZIP",
        "LAT",
        "LON",
        "HEALTHCARE_EXPENSES",
        "HEALTHCARE_COVERAGE",
        "ORGANIZATION",
        "PROVIDER",
        "PAYER",
        "ENCOUNTERCLASS",
        "REASONCODE",
        "Patient Name",
        "first_name",
        "last_name",
        "date_of_birth",
        "DOB",
        "zip_code",
        "Postal Code",
        "phone",
        "home_phone",
        "email",
        "street_address",
        "attending_physician",
        "Attending",
        "hospital",
        "Hospital Name",
        "facility_name",
        "admit_date",
        "discharge_date",
        "mrn",
        "MRN",
        "encounter_id",
    ] {
        assert!(!name_looks_like_data(name, Some(d)), "{name}");
    }
}
