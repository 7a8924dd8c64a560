//! De-identifies one DICOM object in memory: every attribute, at every depth of every
//! sequence, gets its Table E.1-1 action; private attributes go unless safe-listed; UIDs are
//! replaced by keyed `2.25.` UIDs (the same old UID gives the same new one in every file and
//! run under one workspace secret); the de-identification attributes are set; burned-in
//! annotation is flagged, and configured pixel regions of native images are blanked.

use std::collections::BTreeMap;

use dicom_core::header::Header;
use dicom_core::value::{DataSetSequence, Value};
use dicom_core::{DataElement, PrimitiveValue, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::{FileDicomObject, InMemDicomObject};
use serde::Serialize;

use airlock_core::keys::{Purpose, PurposeKey, WorkspaceSecret};
use airlock_core::text::{TextContext, TextMode, TextScrubber};
use airlock_deid::dates::{DateShifter, ShiftRange, shift};
use airlock_deid::token::Tokenizer;
use airlock_text::TextEngine;

use crate::table::{Action, AnnexE, BASIC_PROFILE, CLEAN_PIXEL_DATA, DeidOption, unlisted_action};

type Element = dicom_object::mem::InMemElement;

/// A rectangle of pixels to blank in every frame (columns `x..x+width`, rows `y..y+height`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Region {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

impl Region {
    /// Parses `X,Y,WIDTH,HEIGHT`.
    pub fn parse(s: &str) -> Option<Self> {
        let v: Vec<u32> = s
            .split(',')
            .map(|p| p.trim().parse().ok())
            .collect::<Option<_>>()?;
        match v[..] {
            [x, y, width, height] if width > 0 && height > 0 => Some(Self {
                x,
                y,
                width,
                height,
            }),
            _ => None,
        }
    }
}

/// A private attribute known to be safe: its creator, group and element offset in the block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SafePrivate {
    pub creator: String,
    pub group: u16,
    pub offset: u8,
}

impl SafePrivate {
    /// Parses `CREATOR/GGGG/EE` (hex group and element offset).
    pub fn parse(s: &str) -> Option<Self> {
        let mut it = s.rsplitn(3, '/');
        let offset = u8::from_str_radix(it.next()?, 16).ok()?;
        let group = u16::from_str_radix(it.next()?, 16).ok()?;
        let creator = it.next()?.trim().to_owned();
        (group % 2 == 1 && !creator.is_empty()).then_some(Self {
            creator,
            group,
            offset,
        })
    }
}

/// What to do beyond the Basic Profile.
#[derive(Debug, Clone, Default)]
pub struct DicomOptions {
    pub options: Vec<DeidOption>,
    /// Pixel regions to blank in images that may carry burned-in text.
    pub blank: Vec<Region>,
    /// Private attributes kept under `retain-safe-private`.
    pub safe_private: Vec<SafePrivate>,
    /// Largest date shift in days under `retain-long-modified-dates` (as a policy's
    /// `date_shift_days`: the same patient moves by the same days in tables, notes and images).
    pub date_shift: ShiftRange,
}

/// Whether an Age String (`nnnD`, `nnnW`, `nnnM`, `nnnY`) is over 89 years; an age that
/// cannot be read counts as over (it is then written as `090Y`: fail closed).
fn age_over_89(age: &str) -> bool {
    if age.is_empty() {
        return false;
    }
    let (n, unit) = age.split_at(age.len().saturating_sub(1));
    let Ok(n) = n.parse::<u32>() else {
        return true;
    };
    let years = match unit {
        "D" => n / 365,
        "W" => n * 7 / 365,
        "M" => n / 12,
        "Y" => n,
        _ => return true,
    };
    years >= 90
}

/// Whether an image may show identifying text in its pixels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state", content = "why")]
pub enum BurnedIn {
    /// Burned In Annotation is NO, or the modality does not burn in text.
    No,
    /// It may: not released as clean until its pixels are blanked or reviewed.
    Flagged(&'static str),
    /// The configured regions were blanked; Burned In Annotation is now NO.
    Blanked,
}

/// What happened to one file.
#[derive(Debug, Clone, Serialize)]
pub struct FileReport {
    pub input: std::path::PathBuf,
    pub output: std::path::PathBuf,
    pub modality: String,
    /// Attributes per action, all depths.
    pub actions: BTreeMap<Action, u64>,
    pub private_removed: u64,
    pub uids_replaced: u64,
    pub texts_cleaned: u64,
    pub dates_shifted: u64,
    /// Patient's Age values over 89 written as `090Y` (under Retain Patient Characteristics).
    pub ages_top_coded: u64,
    pub burned_in: BurnedIn,
}

impl FileReport {
    /// An empty report for one file.
    pub fn new(input: &std::path::Path, output: &std::path::Path) -> Self {
        Self {
            input: input.to_path_buf(),
            output: output.to_path_buf(),
            modality: String::new(),
            actions: BTreeMap::new(),
            private_removed: 0,
            uids_replaced: 0,
            texts_cleaned: 0,
            dates_shifted: 0,
            ages_top_coded: 0,
            burned_in: BurnedIn::No,
        }
    }
}

/// The de-identifier: keys, options and the text engine, shared by every file of a run.
pub struct Deidentifier {
    opts: DicomOptions,
    table: &'static AnnexE,
    uid_key: PurposeKey,
    patient_ids: Tokenizer,
    dates: DateShifter,
    text: TextEngine,
}

struct Ctx<'a> {
    report: &'a mut FileReport,
    shift_days: i32,
}

/// The longest value of a text VR (in characters), or none.
fn max_len(vr: VR) -> Option<usize> {
    match vr {
        VR::SH | VR::CS | VR::AE => Some(16),
        VR::LO | VR::PN => Some(64),
        VR::ST => Some(1024),
        VR::LT => Some(10240),
        _ => None,
    }
}

fn is_text(vr: VR) -> bool {
    matches!(
        vr,
        VR::SH | VR::LO | VR::ST | VR::LT | VR::UT | VR::UC | VR::PN
    )
}

fn strings(e: &Element) -> Vec<String> {
    e.value()
        .to_multi_str()
        .map(|v| v.to_vec())
        .unwrap_or_default()
}

fn with_strings(tag: Tag, vr: VR, values: Vec<String>) -> Element {
    let value = match values.len() {
        0 => PrimitiveValue::Empty,
        1 => PrimitiveValue::from(values.into_iter().next().unwrap_or_default()),
        _ => PrimitiveValue::Strs(values.into_iter().collect()),
    };
    DataElement::new(tag, vr, value)
}

fn truncate(mut s: String, vr: VR) -> String {
    if let Some(max) = max_len(vr)
        && s.chars().count() > max
    {
        s = s.chars().take(max).collect();
    }
    s
}

/// A valid placeholder for the VR.
fn dummy(tag: Tag, vr: VR) -> Element {
    let text = |s: &str| with_strings(tag, vr, vec![s.to_owned()]);
    match vr {
        VR::DA => text("19000101"),
        VR::TM => text("000000"),
        VR::DT => text("19000101000000"),
        VR::AS => text("000D"),
        VR::IS | VR::DS => text("0"),
        VR::CS => text("ANONYMIZED"),
        VR::PN => text("ANONYMOUS"),
        VR::US => DataElement::new(tag, vr, PrimitiveValue::U16(std::iter::once(0).collect())),
        VR::SS => DataElement::new(tag, vr, PrimitiveValue::I16(std::iter::once(0).collect())),
        VR::UL => DataElement::new(tag, vr, PrimitiveValue::U32(std::iter::once(0).collect())),
        VR::SL => DataElement::new(tag, vr, PrimitiveValue::I32(std::iter::once(0).collect())),
        VR::FL => DataElement::new(tag, vr, PrimitiveValue::F32(std::iter::once(0.0).collect())),
        VR::FD => DataElement::new(tag, vr, PrimitiveValue::F64(std::iter::once(0.0).collect())),
        _ if is_text(vr) || matches!(vr, VR::AE | VR::UR) => text("ANONYMIZED"),
        _ => DataElement::new(tag, vr, PrimitiveValue::Empty),
    }
}

/// Shifts a DA or DT value (the date part; a time and zone after it are kept).
fn shift_date(value: &str, days: i32) -> Option<String> {
    let v = value.trim();
    let date = chrono::NaiveDate::parse_from_str(v.get(..8)?, "%Y%m%d").ok()?;
    let moved = shift(date, days)?;
    Some(format!("{}{}", moved.format("%Y%m%d"), &v[8..]))
}

impl Deidentifier {
    pub fn new(secret: &WorkspaceSecret, opts: DicomOptions) -> Self {
        let tokenize = secret.derive(Purpose::Tokenize);
        Self {
            table: AnnexE::get(),
            uid_key: tokenize.subkey("dicom-uid"),
            // the workspace's patient token: the same as the patient's tables and FHIR ids
            patient_ids: Tokenizer::patient(&tokenize),
            dates: DateShifter::for_workspace(secret, opts.date_shift),
            text: TextEngine::without_key(),
            opts,
        }
    }

    fn has(&self, o: DeidOption) -> bool {
        self.opts.options.contains(&o)
    }

    /// The new UID of `old`: `2.25.` and the decimal of 128 bits of a keyed HMAC.
    pub fn new_uid(&self, old: &str) -> String {
        let mac = self
            .uid_key
            .mac(old.trim_end_matches('\0').trim().as_bytes());
        let mut n = [0u8; 16];
        n.copy_from_slice(&mac[..16]);
        format!("2.25.{}", u128::from_be_bytes(n))
    }

    /// De-identifies `obj` in place; `report` gets the counts.
    pub fn deidentify(&self, obj: &mut FileDicomObject<InMemDicomObject>, report: &mut FileReport) {
        let text_of = |obj: &InMemDicomObject, tag| {
            obj.get(tag)
                .and_then(|e| e.to_str().ok())
                .map(|s| s.trim().to_owned())
                .unwrap_or_default()
        };
        let patient = text_of(obj, tags::PATIENT_ID);
        report.modality = text_of(obj, tags::MODALITY);
        let sop_class = text_of(obj, tags::SOP_CLASS_UID);
        let burned = text_of(obj, tags::BURNED_IN_ANNOTATION);
        report.burned_in = burned_in(&report.modality, &sop_class, &burned);
        let mut ctx = Ctx {
            shift_days: self.dates.offset(&patient),
            report,
        };
        self.clean(obj, &mut ctx, 0);
        if ctx.report.burned_in != BurnedIn::No && !self.opts.blank.is_empty() {
            if !blank(obj, &self.opts.blank) {
                ctx.report.burned_in =
                    BurnedIn::Flagged("compressed pixel data: the regions could not be blanked");
                self.mark(obj, false);
                return self.finish_meta(obj);
            }
            ctx.report.burned_in = BurnedIn::Blanked;
            obj.put(with_strings(
                tags::BURNED_IN_ANNOTATION,
                VR::CS,
                vec!["NO".into()],
            ));
        }
        self.mark(obj, ctx.report.burned_in == BurnedIn::Blanked);
        self.finish_meta(obj);
    }

    /// The file meta group follows the new SOP Instance UID and loses its AE titles.
    fn finish_meta(&self, obj: &mut FileDicomObject<InMemDicomObject>) {
        let sop_uid = obj
            .get(tags::SOP_INSTANCE_UID)
            .and_then(|e| e.to_str().ok())
            .map(|s| s.trim().to_owned())
            .unwrap_or_default();
        obj.update_meta(|m| {
            if !sop_uid.is_empty() {
                m.media_storage_sop_instance_uid = sop_uid;
            }
            m.source_application_entity_title = None;
            m.sending_application_entity_title = None;
            m.receiving_application_entity_title = None;
            m.private_information_creator_uid = None;
            m.private_information = None;
        });
    }

    /// Patient Identity Removed, the method and its codes, and the temporal information flag.
    fn mark(&self, obj: &mut InMemDicomObject, pixels_cleaned: bool) {
        obj.put(with_strings(
            tags::PATIENT_IDENTITY_REMOVED,
            VR::CS,
            vec!["YES".into()],
        ));
        let mut method = vec![format!(
            "airlock {}: PS3.15 {} Basic Profile",
            env!("CARGO_PKG_VERSION"),
            self.table.version
        )];
        let mut codes = vec![BASIC_PROFILE];
        if pixels_cleaned {
            codes.push(CLEAN_PIXEL_DATA);
        }
        for o in &self.opts.options {
            codes.push(o.code());
            method.push(o.name().to_owned());
        }
        obj.put(with_strings(tags::DEIDENTIFICATION_METHOD, VR::LO, method));
        let items: Vec<InMemDicomObject> = codes
            .into_iter()
            .map(|(value, meaning)| {
                InMemDicomObject::from_element_iter([
                    with_strings(tags::CODE_VALUE, VR::SH, vec![value.into()]),
                    with_strings(tags::CODING_SCHEME_DESIGNATOR, VR::SH, vec!["DCM".into()]),
                    with_strings(tags::CODE_MEANING, VR::LO, vec![meaning.into()]),
                ])
            })
            .collect();
        obj.put(DataElement::new(
            tags::DEIDENTIFICATION_METHOD_CODE_SEQUENCE,
            VR::SQ,
            DataSetSequence::from(items),
        ));
        let temporal = if self.has(DeidOption::RetainLongFullDates) {
            "UNMODIFIED"
        } else if self.has(DeidOption::RetainLongModifiedDates) {
            "MODIFIED"
        } else {
            "REMOVED"
        };
        obj.put(with_strings(
            tags::LONGITUDINAL_TEMPORAL_INFORMATION_MODIFIED,
            VR::CS,
            vec![temporal.into()],
        ));
    }

    /// Applies the table to every element of `ds`, recursing into sequences.
    fn clean(&self, ds: &mut InMemDicomObject, ctx: &mut Ctx<'_>, depth: usize) {
        let all: Vec<Tag> = ds.tags().collect();
        let kept_private = self.safe_private_tags(ds);
        for tag in all {
            let Some(elem) = ds.take(tag) else { continue };
            let action = if tag.group() % 2 == 1 {
                if kept_private.contains(&tag) {
                    Action::Keep
                } else {
                    ctx.report.private_removed += 1;
                    Action::Remove
                }
            } else {
                self.table
                    .action(tag, &self.opts.options)
                    .unwrap_or_else(|| unlisted_action(elem.vr()))
            };
            *ctx.report.actions.entry(action).or_default() += 1;
            if let Some(e) = self.apply(elem, action, ctx, depth) {
                ds.put(e);
            }
        }
    }

    /// Private tags kept under Retain Safe Private: the safe-listed data elements and their
    /// creators.
    fn safe_private_tags(&self, ds: &InMemDicomObject) -> Vec<Tag> {
        if !self.has(DeidOption::RetainSafePrivate) || self.opts.safe_private.is_empty() {
            return Vec::new();
        }
        let mut keep = Vec::new();
        for e in ds.iter() {
            let Tag(group, element) = e.tag();
            if group % 2 == 0 || !(0x0010..=0x00FF).contains(&element) {
                continue;
            }
            let creator = e.to_str().map(|s| s.trim().to_owned()).unwrap_or_default();
            for s in &self.opts.safe_private {
                if s.group == group && s.creator == creator {
                    keep.push(Tag(group, element));
                    keep.push(Tag(group, (element << 8) | u16::from(s.offset)));
                }
            }
        }
        keep
    }

    fn apply(
        &self,
        elem: Element,
        action: Action,
        ctx: &mut Ctx<'_>,
        depth: usize,
    ) -> Option<Element> {
        let (tag, vr) = (elem.tag(), elem.vr());
        if vr == VR::SQ {
            return match action {
                Action::Remove => None,
                // Z on a sequence: its items are cleaned rather than dropped, since a sequence
                // of Type 1 or 3 may not be empty (the table does not say which it is);
                // keep, dummy, clean, UID references: the items are cleaned like a dataset
                _ => Some(self.clean_items(elem, ctx, depth)),
            };
        }
        match action {
            // kept under Retain Patient Characteristics: Safe Harbor still top-codes at 90
            Action::Keep if tag == tags::PATIENT_AGE => {
                let age = strings(&elem).join("");
                if age_over_89(age.trim()) {
                    ctx.report.ages_top_coded += 1;
                    Some(with_strings(tag, vr, vec!["090Y".into()]))
                } else {
                    Some(elem)
                }
            }
            Action::Keep => Some(elem),
            Action::Remove => None,
            Action::Zero => Some(DataElement::new(tag, vr, PrimitiveValue::Empty)),
            Action::Uid => {
                let old = strings(&elem);
                if old.iter().all(|u| u.trim().is_empty()) {
                    return Some(elem);
                }
                ctx.report.uids_replaced += old.len() as u64;
                Some(with_strings(
                    tag,
                    vr,
                    old.iter().map(|u| self.new_uid(u)).collect(),
                ))
            }
            Action::Dummy if tag == tags::PATIENT_ID => {
                let id = strings(&elem).join("\\");
                Some(with_strings(
                    tag,
                    vr,
                    vec![self.patient_ids.token(id.trim())],
                ))
            }
            Action::Dummy | Action::Clean
                if matches!(vr, VR::DA | VR::DT)
                    && (action == Action::Clean
                        || self.has(DeidOption::RetainLongModifiedDates)) =>
            {
                let values = strings(&elem);
                let moved: Option<Vec<String>> = values
                    .iter()
                    .map(|v| shift_date(v, ctx.shift_days))
                    .collect();
                match moved {
                    Some(m) if !m.is_empty() => {
                        ctx.report.dates_shifted += m.len() as u64;
                        Some(with_strings(tag, vr, m))
                    }
                    Some(_) => Some(elem),
                    None => Some(dummy(tag, vr)),
                }
            }
            Action::Clean if vr == VR::TM => Some(elem), // a time of day without its date
            Action::Clean if is_text(vr) && vr != VR::PN => {
                let values = strings(&elem);
                let mut changed = false;
                let cleaned: Vec<String> = values
                    .iter()
                    .map(|v| {
                        let mut out = String::new();
                        let n =
                            self.text
                                .scrub(v, TextMode::Redact, &TextContext::default(), &mut out);
                        changed |= n > 0;
                        truncate(out, vr)
                    })
                    .collect();
                if changed {
                    ctx.report.texts_cleaned += 1;
                    Some(with_strings(tag, vr, cleaned))
                } else {
                    Some(elem)
                }
            }
            Action::Clean | Action::Dummy => Some(dummy(tag, vr)),
        }
    }

    fn clean_items(&self, mut elem: Element, ctx: &mut Ctx<'_>, depth: usize) -> Element {
        if let Some(items) = elem.items_mut() {
            for item in items.iter_mut() {
                self.clean(item, ctx, depth + 1);
            }
        }
        elem
    }
}

/// Modalities whose images routinely carry burned-in text.
const BURNS_IN: [&str; 6] = ["US", "XA", "RF", "ES", "SC", "OT"];
const SECONDARY_CAPTURE: &str = "1.2.840.10008.5.1.4.1.1.7";

fn burned_in(modality: &str, sop_class: &str, annotation: &str) -> BurnedIn {
    match annotation.to_ascii_uppercase().as_str() {
        "YES" => BurnedIn::Flagged("Burned In Annotation is YES"),
        "NO" => BurnedIn::No,
        _ if BURNS_IN.contains(&modality) => {
            BurnedIn::Flagged("the modality often burns in text and Burned In Annotation is absent")
        }
        _ if sop_class.starts_with(SECONDARY_CAPTURE) => {
            BurnedIn::Flagged("a secondary capture without Burned In Annotation")
        }
        _ => BurnedIn::No,
    }
}

fn int(obj: &InMemDicomObject, tag: Tag) -> Option<usize> {
    obj.get(tag)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
        .or_else(|| {
            obj.get(tag)?
                .value()
                .to_int::<i64>()
                .ok()
                .map(|v| v as usize)
        })
}

/// Sets the pixels of `regions` to 0 in every frame and sample of native (uncompressed)
/// pixel data; false when the pixel data is compressed or its geometry is unknown.
fn blank(obj: &mut InMemDicomObject, regions: &[Region]) -> bool {
    let geometry = (|| {
        Some((
            int(obj, tags::ROWS)?,
            int(obj, tags::COLUMNS)?,
            int(obj, tags::SAMPLES_PER_PIXEL).unwrap_or(1),
            int(obj, tags::BITS_ALLOCATED)?,
            int(obj, tags::PLANAR_CONFIGURATION).unwrap_or(0),
            int(obj, tags::NUMBER_OF_FRAMES).unwrap_or(1).max(1),
        ))
    })();
    let Some((rows, cols, spp, bits, planar, frames)) = geometry else {
        return false;
    };
    let index = |f: usize, r: usize, c: usize, s: usize| {
        if planar == 1 {
            ((f * spp + s) * rows + r) * cols + c
        } else {
            ((f * rows + r) * cols + c) * spp + s
        }
    };
    let mut done = false;
    obj.update_value(tags::PIXEL_DATA, |v| {
        let Value::Primitive(p) = v else { return };
        let bytes_per_sample = bits.div_ceil(8);
        let zero = |set: &mut dyn FnMut(usize)| {
            for f in 0..frames {
                for region in regions {
                    let (x0, y0) = (region.x as usize, region.y as usize);
                    for r in y0..(y0 + region.height as usize).min(rows) {
                        for c in x0..(x0 + region.width as usize).min(cols) {
                            for s in 0..spp {
                                set(index(f, r, c, s));
                            }
                        }
                    }
                }
            }
        };
        // the samples' bytes, little endian, whether dicom-rs holds them as bytes or words
        match p {
            PrimitiveValue::U8(b) => {
                zero(&mut |i| {
                    for k in i * bytes_per_sample..(i + 1) * bytes_per_sample {
                        if let Some(x) = b.get_mut(k) {
                            *x = 0;
                        }
                    }
                });
                done = true;
            }
            PrimitiveValue::U16(w) => {
                zero(&mut |i| {
                    for k in i * bytes_per_sample..(i + 1) * bytes_per_sample {
                        if let Some(x) = w.get_mut(k / 2) {
                            *x &= if k % 2 == 0 { 0xFF00 } else { 0x00FF };
                        }
                    }
                });
                done = true;
            }
            _ => {}
        }
    });
    done
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_and_safe_private_entries_parse() {
        assert_eq!(
            Region::parse("0,6,1024,13"),
            Some(Region {
                x: 0,
                y: 6,
                width: 1024,
                height: 13
            })
        );
        assert_eq!(Region::parse("0,6,0,13"), None);
        assert_eq!(Region::parse("1,2,3"), None);
        let s = SafePrivate::parse("SIEMENS CSA HEADER/0029/08").unwrap();
        assert_eq!((s.group, s.offset), (0x0029, 0x08));
        assert_eq!(SafePrivate::parse("X/0028/08"), None, "even group");
    }

    #[test]
    fn dates_shift_with_their_time_and_bad_dates_are_refused() {
        assert_eq!(shift_date("20200704", 3).as_deref(), Some("20200707"));
        assert_eq!(
            shift_date("20200704101500.000000+0100", -4).as_deref(),
            Some("20200630101500.000000+0100")
        );
        assert_eq!(shift_date("20231399", 3), None);
        assert_eq!(shift_date("2020", 3), None);
    }

    #[test]
    fn uids_are_keyed_valid_and_stable() {
        let d = Deidentifier::new(
            &WorkspaceSecret::from_bytes([3; 32]),
            DicomOptions::default(),
        );
        let a = d.new_uid("1.2.840.113619.2.1.1.322987881.621.736170080.681");
        assert_eq!(
            a,
            d.new_uid("1.2.840.113619.2.1.1.322987881.621.736170080.681\0")
        );
        assert_ne!(
            a,
            d.new_uid("1.2.840.113619.2.1.1.322987881.621.736170080.682")
        );
        assert!(a.starts_with("2.25.") && a.len() <= 64);
        assert!(a[5..].bytes().all(|b| b.is_ascii_digit()) && !a[5..].starts_with('0'));
        let other = Deidentifier::new(
            &WorkspaceSecret::from_bytes([4; 32]),
            DicomOptions::default(),
        );
        assert_ne!(
            a,
            other.new_uid("1.2.840.113619.2.1.1.322987881.621.736170080.681")
        );
    }

    #[test]
    fn ages_over_89_are_told_in_every_unit() {
        for (age, over) in [
            ("089Y", false),
            ("090Y", true),
            ("104Y", true),
            ("999M", false),
            ("999W", false),
            ("1080M", true),
            ("045D", false),
            ("", false),
            ("9XY", true),
        ] {
            assert_eq!(age_over_89(age), over, "{age}");
        }
    }
}
