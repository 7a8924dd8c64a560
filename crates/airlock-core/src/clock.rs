//! One patient clock: the per-patient date offset every modality uses.
//!
//! A patient's offset is drawn from ±N days (never 0) by HMAC of the patient identifier under
//! the workspace's `date-shift` key. Tables (the policy's `date_shift_days`), notes (`airlock
//! text --patient`), FHIR and DICOM all draw from [`DateShifter`] with a range validated once
//! by [`ShiftRange`], so one patient's timeline moves by the same days in each (given the same
//! identifier and range), and no table of offsets is ever stored.

use crate::error::{Error, Result};
use crate::keys::{Purpose, PurposeKey, WorkspaceSecret};

/// The largest shift range, in days (ten years).
pub const MAX_SHIFT_DAYS: u32 = 3650;

/// The range when nothing names one.
pub const DEFAULT_SHIFT_DAYS: u32 = 365;

/// The last birth year that may belong to someone over 89 in `reference_year` (that year minus
/// 90): Safe Harbor aggregates the ages over 89 and every date element that reveals one.
pub fn age_top_year(reference_year: i32) -> i32 {
    reference_year - 90
}

/// A validated date-shift range: offsets fall in `[-days, -1] ∪ [1, days]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShiftRange(u32);

impl ShiftRange {
    /// `days` if it is in `1..=3650`; otherwise an error naming `what` (the option or key).
    pub fn new(days: u32, what: &str) -> Result<Self> {
        if (1..=MAX_SHIFT_DAYS).contains(&days) {
            Ok(Self(days))
        } else {
            Err(Error::Invalid {
                what: what.to_owned(),
                why: format!("must be between 1 and {MAX_SHIFT_DAYS} days (got {days})"),
            })
        }
    }

    /// The range's bound in days.
    pub fn days(self) -> u32 {
        self.0
    }

    /// Whether an explicit offset (a per-command override) lies within the largest range.
    pub fn check_offset(days: i64, what: &str) -> Result<i32> {
        if days != 0 && days.unsigned_abs() <= u64::from(MAX_SHIFT_DAYS) {
            Ok(days as i32)
        } else {
            Err(Error::Invalid {
                what: what.to_owned(),
                why: format!(
                    "must be between -{MAX_SHIFT_DAYS} and {MAX_SHIFT_DAYS} days and not 0 (got {days})"
                ),
            })
        }
    }
}

impl Default for ShiftRange {
    fn default() -> Self {
        Self(DEFAULT_SHIFT_DAYS)
    }
}

/// Draws per-patient offsets.
#[derive(Debug, Clone)]
pub struct DateShifter {
    key: PurposeKey,
    range: ShiftRange,
}

impl DateShifter {
    /// The workspace's clock: offsets under its `date-shift` key within `range`.
    pub fn for_workspace(secret: &WorkspaceSecret, range: ShiftRange) -> Self {
        Self::new(secret.derive(Purpose::DateShift), range)
    }

    /// Offsets under a `date-shift` purpose key within `range`.
    pub fn new(key: PurposeKey, range: ShiftRange) -> Self {
        Self { key, range }
    }

    /// The range offsets are drawn from.
    pub fn range(&self) -> ShiftRange {
        self.range
    }

    /// The offset in days for a patient: in `[-max, -1] ∪ [1, max]`, the same every time.
    pub fn offset(&self, patient: &str) -> i32 {
        let mac = self.key.mac(patient.as_bytes());
        let mut first = [0u8; 8];
        first.copy_from_slice(&mac[..8]);
        let r = u64::from_le_bytes(first);
        let max = u64::from(self.range.0);
        let pick = r % (2 * max);
        // |days| <= 3650: the casts cannot overflow
        if pick < max {
            -((max - pick) as i32)
        } else {
            (pick - max + 1) as i32
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ranges_and_offsets_are_validated_once() {
        assert!(ShiftRange::new(0, "x").is_err());
        assert!(ShiftRange::new(4_000_000_000, "--date-shift-days").is_err());
        assert_eq!(ShiftRange::new(3650, "x").unwrap().days(), 3650);
        let e = ShiftRange::new(4_000_000_000, "--date-shift-days").unwrap_err();
        assert!(e.to_string().contains("--date-shift-days"), "{e}");
        assert!(ShiftRange::check_offset(0, "x").is_err());
        assert!(ShiftRange::check_offset(-4000, "x").is_err());
        assert_eq!(ShiftRange::check_offset(-30, "x").unwrap(), -30);
    }

    proptest! {
        #[test]
        fn offsets_stay_in_range_and_are_never_zero(days in 1u32..=3650, patient in ".{0,20}") {
            let s = DateShifter::for_workspace(
                &WorkspaceSecret::from_bytes([4; 32]),
                ShiftRange::new(days, "x").unwrap(),
            );
            let o = s.offset(&patient);
            prop_assert!(o != 0 && o.unsigned_abs() <= days);
            prop_assert_eq!(o, s.offset(&patient));
        }
    }
}
