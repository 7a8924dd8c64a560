//! The dictionaries behind the detector: US census first and last names, US places, common
//! English words and clinical terms, vendored under `data/` (sources and licenses in
//! `data/README.md`), decompressed once per process and shared.

use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use airlock_core::surrogate_lists;
use rustc_hash::{FxHashMap, FxHashSet};

/// What the dictionaries know about one lower-case word.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Entry {
    /// 1-based frequency rank among census first names (0: not a first name).
    pub first: u32,
    /// 1-based frequency rank among census last names (0: not a last name).
    pub last: u32,
    /// A common English word (lower case in the word list).
    pub word: bool,
    /// In the large English list only (rarer words such as "gateman", "tyro").
    pub rare: bool,
    /// A clinical term that looks like a name or place (eponym, drug, device, ward).
    pub clinical: bool,
    /// 1-based rank by population among single-word US places (0: not a place).
    pub place: u32,
    /// The first word of a multi-word US place ("san" of "san diego").
    pub phrase_start: bool,
    /// The head noun of an occupation ("teacher", "worker").
    pub profession: bool,
    /// A street suffix or its abbreviation (USPS Publication 28: "pike", "xing", "crescent").
    pub street_suffix: bool,
    /// A drug or brand name ("tegretol", "klonopin").
    pub drug: bool,
    /// The first word of a country's name ("new" of "new zealand").
    pub country_start: bool,
}

impl Entry {
    /// A census first or last name.
    pub fn is_name(&self) -> bool {
        self.first > 0 || self.last > 0
    }

    /// A common census first name (by frequency rank).
    pub fn common_first(&self) -> bool {
        (1..=COMMON_FIRST).contains(&self.first)
    }

    /// A common census first or last name (by frequency rank).
    pub fn common_name(&self) -> bool {
        self.common_first() || (1..=COMMON_LAST).contains(&self.last)
    }
}

/// First names up to this rank, and last names up to this one, are names before they are rare
/// English words.
const COMMON_FIRST: u32 = 1500;
const COMMON_LAST: u32 = 5_000;

/// Places of `us-places.txt` that come from GeoNames (the rest are postal place names).
const GEONAMES_PLACES: usize = 16_775;

/// All dictionaries, built once.
pub struct Lexicon {
    /// Keyed by [`key`] of the lower-case word: no string compare, no pointer to chase.
    words: FxHashMap<u64, Entry>,
    /// Multi-word US places ("san diego", "ellicott city"), by [`key`] of the lower-case
    /// words joined with single spaces.
    phrases: FxHashSet<u64>,
    /// Countries and territories, by [`key`] of the lower-case words joined with single spaces.
    countries: FxHashSet<u64>,
    /// Well-known hospital and health-system names ("holy cross", "johns hopkins").
    facilities: AhoCorasick,
    /// Keys of their first words: the automaton runs only on texts that have one.
    facility_starts: FxHashSet<u64>,
    /// Invented surrogate values, one list per kind.
    pub surrogate_names: Vec<&'static str>,
    pub surrogate_places: Vec<&'static str>,
    pub surrogate_streets: Vec<&'static str>,
    /// Occupations, for surrogates of a profession.
    pub professions: Vec<&'static str>,
    /// A Bloom filter of the spellings that are words (English, rare or clinical): a typo
    /// check tries hundreds of spellings a word, and this answers "no" for nearly all of them
    /// from a megabyte that stays in cache.
    spellings: Bloom,
}

/// A Bloom filter of byte strings (2^23 bits, 4 probes: under 1% false positives for the
/// 600,000 spellings it holds; a positive is confirmed in the dictionary).
struct Bloom {
    bits: Vec<u64>,
}

impl Bloom {
    const BITS: u64 = 1 << 23;

    fn new() -> Self {
        Self {
            bits: vec![0; (Self::BITS / 64) as usize],
        }
    }

    fn probes(word: &[u8]) -> impl Iterator<Item = u64> {
        use std::hash::Hasher;
        let mut h = rustc_hash::FxHasher::default();
        h.write(word);
        // FxHash's low bits are weak: mix before splitting into two probe hashes
        let mut x = h.finish() ^ (word.len() as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
        x ^= x >> 33;
        let (a, b) = (x & 0xffff_ffff, (x >> 32) | 1);
        (0..4u64).map(move |i| a.wrapping_add(i.wrapping_mul(b)) % Self::BITS)
    }

    fn insert(&mut self, word: &[u8]) {
        for p in Self::probes(word) {
            self.bits[(p / 64) as usize] |= 1 << (p % 64);
        }
    }

    fn may_contain(&self, word: &[u8]) -> bool {
        Self::probes(word).all(|p| self.bits[(p / 64) as usize] & (1 << (p % 64)) != 0)
    }
}

impl std::fmt::Debug for Lexicon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lexicon")
            .field("words", &self.words.len())
            .field("places", &self.phrases.len())
            .finish_non_exhaustive()
    }
}

/// Every spelling of every street suffix in `data/street-suffixes.txt`, lower case.
pub fn street_suffixes() -> impl Iterator<Item = &'static str> {
    data_lines(include_str!("../data/street-suffixes.txt")).flat_map(str::split_whitespace)
}

/// A 64-bit SipHash of a word (fixed keys, so the same in every process). Two of the half
/// million dictionary words colliding, or a text word hitting one it is not, has odds below
/// one in ten billion.
pub fn key(word: &str) -> u64 {
    key_bytes(word.as_bytes())
}

/// [`key`] of a word given as bytes.
pub fn key_bytes(word: &[u8]) -> u64 {
    use std::hash::Hasher;
    let mut h = std::hash::DefaultHasher::new();
    h.write(word);
    h.finish()
}

fn unpack(bytes: &[u8]) -> String {
    let raw = zstd::stream::decode_all(bytes).expect("vendored dictionary decompresses");
    String::from_utf8(raw).expect("vendored dictionary is UTF-8")
}

/// The non-comment, non-empty lines of a vendored list.
pub(crate) fn data_lines(text: &'static str) -> impl Iterator<Item = &'static str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
}

impl Lexicon {
    /// The process-wide lexicon (about 0.2 s to build the first time).
    pub fn get() -> &'static Lexicon {
        static LEXICON: OnceLock<Lexicon> = OnceLock::new();
        LEXICON.get_or_init(Lexicon::build)
    }

    fn build() -> Self {
        let mut words: FxHashMap<u64, Entry> = FxHashMap::default();
        let first = unpack(include_bytes!("../data/first-names.txt.zst"));
        for (rank, name) in first.lines().enumerate() {
            let e = words.entry(key(name)).or_default();
            e.first = u32::try_from(rank + 1).unwrap_or(u32::MAX);
        }
        let last = unpack(include_bytes!("../data/last-names.txt.zst"));
        for (rank, name) in last.lines().enumerate() {
            let e = words.entry(key(name)).or_default();
            e.last = u32::try_from(rank + 1).unwrap_or(u32::MAX);
        }
        let mut spellings = Bloom::new();
        let english = unpack(include_bytes!("../data/english-words.txt.zst"));
        for w in english.lines() {
            words.entry(key(w)).or_default().word = true;
            spellings.insert(w.as_bytes());
        }
        let mut countries = FxHashSet::default();
        let proper = include_str!("../data/proper-nouns.txt");
        // the section's own lines, after its heading's
        let section = proper
            .split_once("\n# countries")
            .and_then(|(_, s)| s.split_once("\n# strict mode\n"))
            .map_or("", |(_, s)| s);
        let (listed, states) = section.split_once("\n# US states").unwrap_or((section, ""));
        for c in data_lines(listed) {
            // "Georgia" is a US state too, which Safe Harbor keeps
            if data_lines(states).any(|s| s.eq_ignore_ascii_case(c)) {
                continue;
            }
            let lower = c.to_lowercase();
            countries.insert(key(&lower));
            if let Some(first) = lower.split(' ').next() {
                words.entry(key(first)).or_default().country_start = true;
            }
        }
        for w in data_lines(include_str!("../data/common-words.txt")).chain(data_lines(proper)) {
            let lower = w.to_ascii_lowercase();
            words.entry(key(&lower)).or_default().word = true;
            spellings.insert(lower.as_bytes());
        }
        // Words of the large list count as words unless they are a common name too: the
        // large list has "veronica" (a plant) and "ann", which are far more often names.
        let rare = unpack(include_bytes!("../data/rare-words.txt.zst"));
        for w in rare.lines() {
            let e = words.entry(key(w)).or_default();
            e.word |= !e.common_name();
            e.rare = true;
            spellings.insert(w.as_bytes());
        }
        for w in data_lines(include_str!("../data/clinical-terms.txt")) {
            let lower = w.to_ascii_lowercase();
            words.entry(key(&lower)).or_default().clinical = true;
            spellings.insert(lower.as_bytes());
        }
        let places_text = unpack(include_bytes!("../data/us-places.txt.zst"));
        let mut phrases = FxHashSet::default();
        for (rank, p) in places_text.lines().enumerate() {
            // the postal place names after GeoNames' are small places; one spelled like
            // English words ("left hand", "am") is left out
            if rank >= GEONAMES_PLACES
                && (p.len() < 4
                    || p.split(' ').all(|w| {
                        let e = words.get(&key(w)).copied().unwrap_or_default();
                        e.word || e.rare || e.clinical
                    }))
            {
                continue;
            }
            if let Some((first, _)) = p.split_once(' ') {
                phrases.insert(key(p));
                words.entry(key(first)).or_default().phrase_start = true;
            } else {
                let e = words.entry(key(p)).or_default();
                if e.place == 0 {
                    e.place = u32::try_from(rank + 1).unwrap_or(u32::MAX);
                }
            }
        }
        for w in unpack(include_bytes!("../data/drug-names.txt.zst")).lines() {
            words.entry(key(w)).or_default().drug = true;
        }
        for w in street_suffixes() {
            words.entry(key(w)).or_default().street_suffix = true;
        }
        // Other countries' names rank after the census's: uncommon names to the rules, which
        // trust a rare name only after a cue or next to another name. One that is an English,
        // clinical or drug word, or shorter than four letters ("per", "sys"), is left out: in
        // notes it is far more often that word or shorthand.
        let mut rank_after = |list: &str, base: usize, slot: fn(&mut Entry) -> &mut u32| {
            for (rank, name) in list.lines().enumerate() {
                let e = words.entry(key(name)).or_default();
                let foreign =
                    !(e.word || e.rare || e.clinical || e.drug) && name.chars().count() >= 4;
                let slot = slot(e);
                if *slot == 0 && foreign {
                    *slot = u32::try_from(base + rank + 1).unwrap_or(u32::MAX);
                }
            }
        };
        rank_after(
            &unpack(include_bytes!("../data/world-first-names.txt.zst")),
            first.lines().count(),
            |e| &mut e.first,
        );
        rank_after(
            &unpack(include_bytes!("../data/world-last-names.txt.zst")),
            last.lines().count(),
            |e| &mut e.last,
        );
        let professions: Vec<&'static str> =
            data_lines(include_str!("../data/professions.txt")).collect();
        for p in &professions {
            let head = p.rsplit(' ').next().unwrap_or(p);
            words.entry(key(head)).or_default().profession = true;
        }
        let facility_names: Vec<String> = data_lines(include_str!("../data/facility-names.txt"))
            .map(str::to_ascii_lowercase)
            .collect();
        let facility_starts = facility_names
            .iter()
            .map(|f| key(f.split([' ', '-']).next().unwrap_or(f)))
            .collect();
        let facilities = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostLongest)
            .build(&facility_names)
            .expect("facility patterns build");
        Self {
            words,
            phrases,
            countries,
            facilities,
            facility_starts,
            surrogate_names: data_lines(surrogate_lists::NAMES).collect(),
            surrogate_places: data_lines(surrogate_lists::PLACES).collect(),
            surrogate_streets: data_lines(surrogate_lists::STREETS).collect(),
            professions,
            spellings,
        }
    }

    /// What the dictionaries say of a word already in lower case.
    pub fn lookup_lower(&self, lower: &str) -> Entry {
        self.lookup_key(key(lower))
    }

    /// What the dictionaries say of the word with this [`key`]. The half-million-word table
    /// does not fit in a cache; a small per-thread table of recent words in front of it does,
    /// and notes repeat their words.
    pub fn lookup_key(&self, key: u64) -> Entry {
        const SLOTS: usize = 1 << 13;
        thread_local! {
            static RECENT: std::cell::RefCell<Vec<(u64, Entry)>> =
                std::cell::RefCell::new(vec![(0, Entry::default()); SLOTS]);
        }
        RECENT.with(|recent| {
            let mut recent = recent.borrow_mut();
            let slot = &mut recent[(key as usize) & (SLOTS - 1)];
            if slot.0 == key && key != 0 {
                return slot.1;
            }
            let entry = self.words.get(&key).copied().unwrap_or_default();
            *slot = (key, entry);
            entry
        })
    }

    /// Whether the lower-case spelling `word` is an English, rare or clinical word, for the
    /// hundreds of one-off spellings a typo check tries: the Bloom filter rules out nearly all
    /// of them, the dictionary confirms the rest (without the per-thread table of recent words,
    /// which they would only evict).
    pub fn is_dictionary_spelling(&self, word: &[u8]) -> bool {
        if !self.spellings.may_contain(word) {
            return false;
        }
        let e = self
            .words
            .get(&key_bytes(word))
            .copied()
            .unwrap_or_default();
        e.word || e.rare || e.clinical
    }

    /// Whether any well-known facility name can start at a word with this [`key`].
    pub fn starts_facility(&self, key: u64) -> bool {
        self.facility_starts.contains(&key)
    }

    /// Whether `lower` (lower-case words joined by single spaces) is a multi-word US place.
    pub fn is_place_phrase(&self, lower: &str) -> bool {
        self.phrases.contains(&key(lower))
    }

    /// Whether `lower` (lower-case words joined by single spaces) names a country or territory.
    pub fn is_country(&self, lower: &str) -> bool {
        self.countries.contains(&key(lower))
    }

    /// What the dictionaries say of `word` (any case; ASCII folding only).
    pub fn lookup(&self, word: &str) -> Entry {
        if !word.is_ascii() {
            return self.lookup_lower(&word.to_lowercase());
        }
        let mut buf = [0u8; 48];
        if word.len() > buf.len() {
            return Entry::default();
        }
        let lower = &mut buf[..word.len()];
        lower.copy_from_slice(word.as_bytes());
        lower.make_ascii_lowercase();
        std::str::from_utf8(lower)
            .map(|w| self.lookup_lower(w))
            .unwrap_or_default()
    }

    /// Byte ranges of well-known facility names in `text` (not checked for word boundaries).
    pub fn facilities<'a>(
        &'a self,
        text: &'a str,
    ) -> impl Iterator<Item = std::ops::Range<usize>> + 'a {
        self.facilities.find_iter(text).map(|m| m.range())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dictionaries_load_and_classify() {
        let lx = Lexicon::get();
        let smith = lx.lookup("SMITH");
        assert_eq!(smith.last, 1);
        assert!(lx.lookup("Veronica").first > 0);
        assert!(lx.lookup("table").word);
        assert!(!lx.lookup("veronica").word);
        assert!(lx.lookup("foley").clinical);
        assert!(lx.lookup("catonsville").place > 0);
        // other countries' names, any script and case, rank after the census's
        for (first, last) in [
            ("Søren", "Kjær"),
            ("Þórbergur", "GARCÍA"),
            ("Оксана", "Yılmaz"),
        ] {
            assert!(lx.lookup(first).first > 5_000, "{first}");
            assert!(lx.lookup(last).last > 80_000, "{last}");
        }
        // English words and shorthand stay words, not foreign names
        assert_eq!(lx.lookup("per").first, 0);
        // postal places beyond GeoNames, but not those spelled like English words
        assert!(lx.lookup("adjuntas").place > 16_775);
        assert!(!lx.is_place_phrase("left hand"));
        // the typo check's spelling test: every list word passes, no made-up one does (a Bloom
        // filter's false positive is confirmed away in the dictionary)
        for w in ["appetite", "tolerating", "foley", "veronica", "table"] {
            assert!(lx.is_dictionary_spelling(w.as_bytes()), "{w}");
        }
        let mut made_up = 0;
        for a in b'a'..=b'z' {
            for b in b'a'..=b'z' {
                let w = [b'q', a, b'x', b, b'z', b'q'];
                made_up += usize::from(lx.is_dictionary_spelling(&w));
            }
        }
        assert_eq!(made_up, 0);
        assert_eq!(lx.lookup("qzxv"), Entry::default());
        assert!(lx.lookup("San").phrase_start);
        assert!(lx.is_place_phrase("san diego"));
        assert!(!lx.is_place_phrase("san francisco diego"));
    }
}
