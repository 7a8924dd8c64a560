//! Free-text PHI: the detector for the HIPAA Safe Harbor identifier kinds (compiled patterns,
//! census and place dictionaries, context rules), keyed surrogates and redaction tags behind the
//! [`airlock_core::text::TextScrubber`] seam, the residual scanner for files and trees, and the
//! evaluation against a gold corpus.
//!
//! Depends on `airlock-core` only. Never prints: callers report.

#![forbid(unsafe_code, unused_must_use)]

pub mod detect;
pub mod eval;
pub mod kind;
pub mod known;
pub mod lexicon;
pub mod scan;
pub mod scrubber;
pub mod textdate;

pub use detect::Detector;
pub use kind::{Kind, Span};
pub use scrubber::TextEngine;
