//! A found span. Its [`Kind`] is the one shared vocabulary in `airlock_core::phi`.

use std::ops::Range;

pub use airlock_core::phi::Kind;

/// One identifier found in a text.
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    /// Byte offset of the first byte.
    pub start: usize,
    /// Byte offset one past the last byte.
    pub end: usize,
    /// What it is.
    pub kind: Kind,
    /// How sure the rule that found it is, in (0, 1].
    pub confidence: f32,
}

impl Span {
    /// The byte range.
    pub fn range(&self) -> Range<usize> {
        self.start..self.end
    }
}
