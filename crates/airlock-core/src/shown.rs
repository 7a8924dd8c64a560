//! Names, paths and messages made safe to show on a terminal or in a report.
//!
//! A column name, a JSON key or a file name comes from the data and may hold anything: escape
//! sequences that rewrite the terminal, NUL bytes, a whole note. Everything airlock prints that
//! it did not write itself goes through [`Shown`] (one name, capped at [`NAME_CAP`] characters)
//! or [`escape`] (a whole message, capped by the caller).

use std::fmt;
use std::path::Path;

/// Characters of one name or path shown before it is cut with `…`.
pub const NAME_CAP: usize = 120;

/// Characters of one whole error message (with its causes) shown before it is cut.
pub const MESSAGE_CAP: usize = 4000;

/// `s` with control characters (C0, DEL, C1, and the bidirectional overrides that reorder what
/// a terminal shows) written as `\n`, `\t`, `\x1b`, `\u{202e}`, cut after `cap` characters
/// with `…` and the number of characters left out.
pub fn escape(s: &str, cap: usize) -> String {
    escape_keeping(s, cap, false)
}

/// [`escape`] that keeps line breaks and tabs (for a multi-line message of airlock's own).
pub fn escape_message(s: &str, cap: usize) -> String {
    escape_keeping(s, cap, true)
}

fn escape_keeping(s: &str, cap: usize, keep_lines: bool) -> String {
    let mut out = String::with_capacity(s.len().min(cap.saturating_add(16)));
    for (shown, (i, c)) in s.char_indices().enumerate() {
        if shown >= cap {
            let left = s[i..].chars().count();
            out.push_str(&format!("… ({left} more characters)"));
            break;
        }
        match c {
            '\n' | '\t' if keep_lines => out.push(c),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() || is_format_override(c) => {
                let n = c as u32;
                if n < 0x100 {
                    out.push_str(&format!("\\x{n:02x}"));
                } else {
                    out.push_str(&format!("\\u{{{n:x}}}"));
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// Unicode format characters that change how the text around them is shown (bidirectional
/// embeddings, overrides and isolates, zero-width joiners and marks).
pub(crate) fn is_format_override(c: char) -> bool {
    matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

/// One name (a column, a key, a dataset) as shown: escaped and capped at [`NAME_CAP`].
#[derive(Debug, Clone, Copy)]
pub struct Shown<'a>(pub &'a str);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&escape(self.0, NAME_CAP))
    }
}

/// A path as shown: lossy UTF-8, escaped and capped (the cut is in the middle, so the file
/// name at the end stays readable).
#[derive(Debug, Clone, Copy)]
pub struct ShownPath<'a>(pub &'a Path);

impl fmt::Display for ShownPath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0.to_string_lossy();
        let n = s.chars().count();
        if n <= 2 * NAME_CAP {
            return f.write_str(&escape(&s, usize::MAX));
        }
        let head: String = s.chars().take(NAME_CAP / 2).collect();
        let tail: String = s.chars().skip(n - NAME_CAP).collect();
        write!(
            f,
            "{}…{}",
            escape(&head, usize::MAX),
            escape(&tail, usize::MAX)
        )
    }
}

/// 1234567 -> "1,234,567".
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A path shown with [`ShownPath`].
pub fn path(p: &Path) -> ShownPath<'_> {
    ShownPath(p)
}

/// Text for an HTML page: `& < > "` as entities (the reports' one escaping).
pub fn html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(escape("a\x1b[2Jb", 100), "a\\x1b[2Jb");
        assert_eq!(escape("a\0b\nc\td\u{7f}", 100), "a\\x00b\\nc\\td\\x7f");
        assert_eq!(escape("x\u{202e}cod.exe", 100), "x\\u{202e}cod.exe");
        assert_eq!(
            escape_message("line 1\nline\x072", 100),
            "line 1\nline\\x072"
        );
        assert_eq!(escape("Zoë Ångström", 100), "Zoë Ångström");
    }

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
    }

    #[test]
    fn long_names_are_cut() {
        let s = "\0".repeat(100_000);
        let e = escape(&s, 10);
        assert!(e.starts_with(&"\\x00".repeat(10)));
        assert!(e.ends_with("… (99990 more characters)"), "{e}");
        assert!(Shown(&"n".repeat(10_000)).to_string().len() < NAME_CAP + 40);
        let p = format!("/{}/file.csv", "d".repeat(5_000));
        let shown = path(Path::new(&p)).to_string();
        assert!(shown.ends_with("/file.csv") && shown.chars().count() < 3 * NAME_CAP);
    }

    proptest! {
        #[test]
        fn shown_text_has_no_control_characters(s in any::<String>(), cap in 0usize..50) {
            let e = escape(&s, cap);
            prop_assert!(!e.chars().any(|c| c.is_control() || is_format_override(c)));
            prop_assert!(e.chars().count() <= cap * 10 + 40);
        }
    }
}
