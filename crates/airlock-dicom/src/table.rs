//! PS3.15 Table E.1-1 and its options: which action each attribute gets.
//!
//! The table is data (`data/annex-e.json`, vendored with its source), parsed once. An action is
//! looked up by tag; the Basic Profile code is replaced by an option's K or C when that option
//! is on. Compound codes take the choice that keeps the object valid whatever the attribute's
//! type in its IOD (which the table does not give): X/Z becomes Z, anything with D becomes D,
//! X/Z/U* becomes U. Attributes the table does not list are kept, except person names (emptied)
//! and free text (cleaned by the text detector): the table is a floor, not a ceiling.

use std::collections::HashMap;
use std::sync::OnceLock;

use dicom_core::{Tag, VR};
use serde::Deserialize;

/// What happens to one attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// K: keep (a sequence's items are still cleaned).
    Keep,
    /// X: remove.
    Remove,
    /// Z: a zero-length value.
    Zero,
    /// D: a dummy value valid for the VR (dates shifted when modified dates are retained).
    Dummy,
    /// C: clean: text through the detector, dates shifted, sequences cleaned item by item.
    Clean,
    /// U: a new UID, the same for the same old UID across the whole run.
    Uid,
}

/// The options of Table E.1-1, with their CID 7050 codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeidOption {
    RetainSafePrivate,
    RetainUids,
    RetainDeviceIdentity,
    RetainInstitutionIdentity,
    RetainPatientCharacteristics,
    RetainLongFullDates,
    RetainLongModifiedDates,
    CleanDescriptors,
    CleanStructuredContent,
    CleanGraphics,
}

impl DeidOption {
    pub const ALL: [Self; 10] = [
        Self::RetainSafePrivate,
        Self::RetainUids,
        Self::RetainDeviceIdentity,
        Self::RetainInstitutionIdentity,
        Self::RetainPatientCharacteristics,
        Self::RetainLongFullDates,
        Self::RetainLongModifiedDates,
        Self::CleanDescriptors,
        Self::CleanStructuredContent,
        Self::CleanGraphics,
    ];

    /// The command-line name (`retain-uids`).
    pub fn name(self) -> &'static str {
        match self {
            Self::RetainSafePrivate => "retain-safe-private",
            Self::RetainUids => "retain-uids",
            Self::RetainDeviceIdentity => "retain-device-identity",
            Self::RetainInstitutionIdentity => "retain-institution-identity",
            Self::RetainPatientCharacteristics => "retain-patient-characteristics",
            Self::RetainLongFullDates => "retain-long-full-dates",
            Self::RetainLongModifiedDates => "retain-long-modified-dates",
            Self::CleanDescriptors => "clean-descriptors",
            Self::CleanStructuredContent => "clean-structured-content",
            Self::CleanGraphics => "clean-graphics",
        }
    }

    /// CID 7050 code value and meaning.
    pub fn code(self) -> (&'static str, &'static str) {
        match self {
            Self::RetainSafePrivate => ("113111", "Retain Safe Private Option"),
            Self::RetainUids => ("113110", "Retain UIDs Option"),
            Self::RetainDeviceIdentity => ("113109", "Retain Device Identity Option"),
            Self::RetainInstitutionIdentity => ("113112", "Retain Institution Identity Option"),
            Self::RetainPatientCharacteristics => {
                ("113108", "Retain Patient Characteristics Option")
            }
            Self::RetainLongFullDates => (
                "113106",
                "Retain Longitudinal Temporal Information Full Dates Option",
            ),
            Self::RetainLongModifiedDates => (
                "113107",
                "Retain Longitudinal Temporal Information Modified Dates Option",
            ),
            Self::CleanDescriptors => ("113105", "Clean Descriptors Option"),
            Self::CleanStructuredContent => ("113104", "Clean Structured Content Option"),
            Self::CleanGraphics => ("113103", "Clean Graphics Option"),
        }
    }

    /// The option named `name` on the command line.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.name() == name)
    }

    fn column(self, row: &Row) -> Option<&str> {
        match self {
            Self::RetainSafePrivate => row.retain_safe_private.as_deref(),
            Self::RetainUids => row.retain_uids.as_deref(),
            Self::RetainDeviceIdentity => row.retain_device_ident.as_deref(),
            Self::RetainInstitutionIdentity => row.retain_institution_ident.as_deref(),
            Self::RetainPatientCharacteristics => row.retain_patient_chars.as_deref(),
            Self::RetainLongFullDates => row.retain_long_full_dates.as_deref(),
            Self::RetainLongModifiedDates => row.retain_long_modif_dates.as_deref(),
            Self::CleanDescriptors => row.clean_desc.as_deref(),
            Self::CleanStructuredContent => row.clean_struct_cont.as_deref(),
            Self::CleanGraphics => row.clean_graph.as_deref(),
        }
    }
}

/// The Basic Application Confidentiality Profile code.
pub const BASIC_PROFILE: (&str, &str) = ("113100", "Basic Application Confidentiality Profile");
/// The Clean Pixel Data Option code.
pub const CLEAN_PIXEL_DATA: (&str, &str) = ("113101", "Clean Pixel Data Option");

#[derive(Debug, Deserialize)]
struct Row {
    tag: String,
    basic_profile: String,
    retain_safe_private: Option<String>,
    retain_uids: Option<String>,
    retain_device_ident: Option<String>,
    retain_institution_ident: Option<String>,
    retain_patient_chars: Option<String>,
    retain_long_full_dates: Option<String>,
    retain_long_modif_dates: Option<String>,
    clean_desc: Option<String>,
    clean_struct_cont: Option<String>,
    clean_graph: Option<String>,
}

#[derive(Debug, Deserialize)]
struct TableFile {
    standard_version: String,
    attributes: Vec<Row>,
}

/// Table E.1-1, by tag.
pub struct AnnexE {
    /// The standard edition of the table.
    pub version: String,
    rows: HashMap<Tag, Row>,
    curve: Row,
    overlay_data: Row,
    overlay_comments: Row,
}

fn parse_tag(s: &str) -> Option<Tag> {
    let inner = s.strip_prefix('(')?.strip_suffix(')')?;
    let (g, e) = inner.split_once(',')?;
    Some(Tag(
        u16::from_str_radix(g, 16).ok()?,
        u16::from_str_radix(e, 16).ok()?,
    ))
}

fn code(basic: &str) -> Action {
    match basic {
        "K" => Action::Keep,
        "X" => Action::Remove,
        "Z" | "X/Z" => Action::Zero,
        "C" => Action::Clean,
        "U" | "X/Z/U*" => Action::Uid,
        // D, Z/D, X/D, X/Z/D: a dummy is valid whatever the attribute's type
        _ => Action::Dummy,
    }
}

impl AnnexE {
    /// The vendored table, parsed once.
    pub fn get() -> &'static Self {
        static TABLE: OnceLock<AnnexE> = OnceLock::new();
        TABLE.get_or_init(|| {
            let file: TableFile = serde_json::from_str(include_str!("../data/annex-e.json"))
                .expect("the vendored Annex E table parses");
            let mut rows = HashMap::new();
            let mut wild = HashMap::new();
            for row in file.attributes {
                match parse_tag(&row.tag) {
                    Some(tag) => {
                        rows.insert(tag, row);
                    }
                    None => {
                        wild.insert(row.tag.clone(), row);
                    }
                }
            }
            let mut take = |t: &str| wild.remove(t).expect("wildcard row present");
            Self {
                version: file.standard_version,
                curve: take("(50xx,xxxx)"),
                overlay_data: take("(60xx,3000)"),
                overlay_comments: take("(60xx,4000)"),
                rows,
            }
        })
    }

    /// Rows in the table with a concrete tag.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Never empty (the table is vendored).
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    fn row(&self, tag: Tag) -> Option<&Row> {
        let Tag(group, element) = tag;
        if group & 0xFF00 == 0x5000 && group % 2 == 0 {
            return Some(&self.curve);
        }
        if group & 0xFF00 == 0x6000 && group % 2 == 0 {
            return match element {
                0x3000 => Some(&self.overlay_data),
                0x4000 => Some(&self.overlay_comments),
                _ => None,
            };
        }
        self.rows.get(&tag)
    }

    /// The action for a public attribute (private ones are decided by the caller) under the
    /// options in force; `None` when the table does not list it.
    pub fn action(&self, tag: Tag, options: &[DeidOption]) -> Option<Action> {
        let Tag(group, _) = tag;
        // the rest of an overlay or curve group goes with its data (Clean Graphics cannot
        // clean a bitmap, so it is removed either way)
        if (group & 0xFF00 == 0x6000 || group & 0xFF00 == 0x5000) && group % 2 == 0 {
            return Some(Action::Remove);
        }
        let row = self.row(tag)?;
        let mut action = code(&row.basic_profile);
        for o in options {
            match o.column(row) {
                Some("K") => action = Action::Keep,
                Some("C") => action = Action::Clean,
                _ => {}
            }
        }
        Some(action)
    }
}

/// The action for an attribute Table E.1-1 does not list: person names are emptied, free text
/// is cleaned, everything else (image geometry, pixel data, class UIDs, codes) is kept.
pub fn unlisted_action(vr: VR) -> Action {
    match vr {
        VR::PN => Action::Zero,
        VR::ST | VR::LT | VR::UT => Action::Clean,
        _ => Action::Keep,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_complete_and_options_change_only_their_rows() {
        let t = AnnexE::get();
        assert_eq!(t.len(), 617);
        assert!(t.version.contains("2024b"), "{}", t.version);
        let name = Tag(0x0010, 0x0010);
        let study_date = Tag(0x0008, 0x0020);
        let sop_uid = Tag(0x0008, 0x0018);
        let patient_id = Tag(0x0010, 0x0020);
        assert_eq!(t.action(name, &[]), Some(Action::Zero));
        assert_eq!(t.action(patient_id, &[]), Some(Action::Dummy)); // Z/D
        assert_eq!(t.action(study_date, &[]), Some(Action::Zero));
        assert_eq!(
            t.action(study_date, &[DeidOption::RetainLongModifiedDates]),
            Some(Action::Clean)
        );
        assert_eq!(
            t.action(study_date, &[DeidOption::RetainLongFullDates]),
            Some(Action::Keep)
        );
        assert_eq!(t.action(sop_uid, &[]), Some(Action::Uid));
        assert_eq!(
            t.action(sop_uid, &[DeidOption::RetainUids]),
            Some(Action::Keep)
        );
        assert_eq!(
            t.action(name, &[DeidOption::RetainUids]),
            Some(Action::Zero)
        );
        // wildcard rows and the rest of their groups
        assert_eq!(t.action(Tag(0x6000, 0x3000), &[]), Some(Action::Remove));
        assert_eq!(t.action(Tag(0x6002, 0x0022), &[]), Some(Action::Remove));
        assert_eq!(t.action(Tag(0x5010, 0x0005), &[]), Some(Action::Remove));
        // not listed: rows, columns, pixel data
        assert_eq!(t.action(Tag(0x0028, 0x0010), &[]), None);
        assert_eq!(t.action(Tag(0x7FE0, 0x0010), &[]), None);
        for o in DeidOption::ALL {
            assert_eq!(DeidOption::parse(o.name()), Some(o));
        }
    }
}
