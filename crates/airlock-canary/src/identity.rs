//! Canary identities: synthetic people whose every identifier is new. Names, streets, towns
//! and domains are pronounceable invented words that no dictionary airlock knows (no census
//! name, place or English word, no surrogate airlock writes), and numbers are drawn at random
//! in the shapes real identifiers have, so a trace of one in an output can only be a leak.

use chrono::{Datelike, NaiveDate};
use rand::Rng;

use airlock_text::lexicon::Lexicon;

use crate::Kind;

/// One synthetic patient and every kind of identifier Safe Harbor names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub first: String,
    pub last: String,
    pub female: bool,
    pub ssn: String,
    pub mrn: String,
    pub phone: String,
    pub fax: String,
    pub email: String,
    pub street: String,
    /// The invented word of the street name, searched on its own.
    pub street_word: String,
    pub city: String,
    pub state: &'static str,
    pub zip: String,
    pub birth: NaiveDate,
    pub admit: NaiveDate,
    pub age: u32,
    pub health_plan: String,
    pub account: String,
    pub license: String,
    pub vehicle: String,
    pub device: String,
    pub url: String,
    pub ip: String,
    pub biometric: String,
    pub photo: String,
    pub doctor: String,
    /// Whether the dates are far enough from the data's and the other canaries' to search.
    pub dates_searched: bool,
}

const ONSETS: [&str; 24] = [
    "b", "br", "d", "dr", "f", "g", "gr", "h", "k", "kl", "l", "m", "n", "p", "pr", "qu", "r", "s",
    "st", "t", "tr", "v", "w", "z",
];
const VOWELS: [&str; 9] = ["a", "e", "i", "o", "u", "a", "e", "o", "ai"];
const CODAS: [&str; 10] = ["", "", "", "n", "r", "l", "s", "nd", "rk", "st"];
const STATES: [&str; 10] = ["NH", "VT", "ME", "OR", "NM", "MT", "ID", "WY", "NE", "KS"];
const STREET_TYPES: [&str; 5] = ["Lane", "Road", "Street", "Avenue", "Court"];

/// A capitalized invented word of 7 to 11 letters that the dictionaries do not know.
pub fn invented_word(rng: &mut impl Rng) -> String {
    let lexicon = Lexicon::get();
    loop {
        let mut w = String::new();
        for _ in 0..3 {
            w.push_str(ONSETS[rng.random_range(0..ONSETS.len())]);
            w.push_str(VOWELS[rng.random_range(0..VOWELS.len())]);
        }
        w.push_str(CODAS[rng.random_range(0..CODAS.len())]);
        if !(7..=11).contains(&w.len()) {
            continue;
        }
        let e = lexicon.lookup_lower(&w);
        let known = e.is_name() || e.word || e.rare || e.place > 0 || e.clinical;
        let surrogate = lexicon
            .surrogate_names
            .iter()
            .chain(&lexicon.surrogate_places)
            .chain(&lexicon.surrogate_streets)
            .any(|s| s.to_ascii_lowercase().split(' ').any(|p| p == w));
        if known || surrogate {
            continue;
        }
        let mut c = w.chars();
        let first = c.next().map(|f| f.to_ascii_uppercase()).unwrap_or('X');
        return std::iter::once(first).chain(c).collect();
    }
}

/// `n` random decimal digits that do not read as a date (the digits-only form of an
/// identifier is searched for: "7292018" would be found in every "7/29/2018") and do not begin
/// as a surrogate's long run does (a 9).
pub fn digits(rng: &mut impl Rng, n: usize) -> String {
    loop {
        let d: String = (0..n)
            .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
            .collect();
        if !airlock_text::known::reads_as_date(&d)
            && !airlock_text::known::reserved_for_surrogates(&d)
        {
            return d;
        }
    }
}

fn letters(rng: &mut impl Rng, n: usize) -> String {
    // no I, O or Q: they read as digits
    const L: &[u8] = b"ABCDEFGHJKLMNPRSTUVWXYZ";
    (0..n)
        .map(|_| char::from(L[rng.random_range(0..L.len())]))
        .collect()
}

/// A North American number that is not reserved for fiction (no 555) and not toll-free.
fn nanp(rng: &mut impl Rng) -> (String, String, String) {
    let area = loop {
        let a = rng.random_range(201..990u32);
        if a % 100 != 11 && !matches!(a, 500..=599 | 800..=899 | 900..=999) {
            break a;
        }
    };
    let exchange = loop {
        let e = rng.random_range(201..990u32);
        if e != 555 && e % 100 != 11 {
            break e;
        }
    };
    (
        area.to_string(),
        exchange.to_string(),
        format!("{:04}", rng.random_range(0..10_000)),
    )
}

fn date_in(rng: &mut impl Rng, years: std::ops::RangeInclusive<i32>) -> NaiveDate {
    let year = rng.random_range(years);
    let day = rng.random_range(0..365);
    NaiveDate::from_yo_opt(year, day + 1)
        .unwrap_or_else(|| NaiveDate::from_ymd_opt(year, 6, 15).unwrap_or(NaiveDate::MIN))
}

impl Identity {
    /// A new canary patient. Birth and admission dates fall in the given year ranges.
    pub fn generate(
        rng: &mut impl Rng,
        birth_years: std::ops::RangeInclusive<i32>,
        admit_years: std::ops::RangeInclusive<i32>,
    ) -> Self {
        let first = invented_word(rng);
        let last = invented_word(rng);
        let street_word = invented_word(rng);
        let city = invented_word(rng);
        let domain = invented_word(rng).to_ascii_lowercase();
        let (a, e, n) = nanp(rng);
        let (fa, fe, fnum) = nanp(rng);
        let area = loop {
            let a = rng.random_range(100..900u32);
            if a != 666 {
                break a;
            }
        };
        let birth = date_in(rng, birth_years);
        let admit = date_in(rng, admit_years);
        let age = admit.years_since(birth).unwrap_or(0);
        let lower = |s: &str| s.to_ascii_lowercase();
        Self {
            email: format!(
                "{}.{}{}@{domain}.net",
                lower(&first),
                lower(&last),
                rng.random_range(10..100)
            ),
            url: format!("https://portal.{domain}.org/patients/{}", digits(rng, 7)),
            photo: format!(
                "https://images.{domain}.org/faces/{}{}.jpg",
                lower(&last),
                digits(rng, 4)
            ),
            street: format!(
                "{} {street_word} {}",
                rng.random_range(100..9999),
                STREET_TYPES[rng.random_range(0..STREET_TYPES.len())]
            ),
            street_word,
            city,
            state: STATES[rng.random_range(0..STATES.len())],
            zip: format!("{:05}", rng.random_range(1_000..99_999)),
            female: rng.random_bool(0.5),
            ssn: format!(
                "{area:03}-{:02}-{:04}",
                rng.random_range(1..100),
                rng.random_range(1..10_000)
            ),
            mrn: format!("{}{}", letters(rng, 2), digits(rng, 8)),
            phone: format!("({a}) {e}-{n}"),
            fax: format!("({fa}) {fe}-{fnum}"),
            birth,
            admit,
            age,
            health_plan: format!("{}{}", letters(rng, 3), digits(rng, 9)),
            account: digits(rng, 10),
            license: format!("{}{}", letters(rng, 1), digits(rng, 8)),
            vehicle: format!("{}{}{}", digits(rng, 1), letters(rng, 3), digits(rng, 3)),
            device: format!("{}{}", letters(rng, 3), digits(rng, 7)),
            ip: format!(
                "{}.{}.{}.{}",
                rng.random_range(11..224),
                rng.random_range(0..256),
                rng.random_range(0..256),
                rng.random_range(1..255)
            ),
            biometric: format!("FP-{}-{}", digits(rng, 4), letters(rng, 4)),
            doctor: invented_word(rng),
            dates_searched: true,
            first,
            last,
        }
    }

    /// The full name, "First Last".
    pub fn name(&self) -> String {
        format!("{} {}", self.first, self.last)
    }

    /// Every identifier of this patient, each with its kind (the ISO form of the dates).
    pub fn identifiers(&self) -> Vec<(Kind, String)> {
        let iso = |d: NaiveDate| d.format("%Y-%m-%d").to_string();
        vec![
            (Kind::Name, self.name()),
            (Kind::Name, self.doctor.clone()),
            (Kind::Address, self.street.clone()),
            (Kind::Address, self.street_word.clone()),
            (Kind::Address, self.city.clone()),
            (Kind::Zip, self.zip.clone()),
            (Kind::Date, iso(self.birth)),
            (Kind::Date, iso(self.admit)),
            (Kind::Phone, self.phone.clone()),
            (Kind::Fax, self.fax.clone()),
            (Kind::Email, self.email.clone()),
            (Kind::Ssn, self.ssn.clone()),
            (Kind::Mrn, self.mrn.clone()),
            (Kind::HealthPlan, self.health_plan.clone()),
            (Kind::Account, self.account.clone()),
            (Kind::License, self.license.clone()),
            (Kind::Vehicle, self.vehicle.clone()),
            (Kind::Device, self.device.clone()),
            (Kind::Url, self.url.clone()),
            (Kind::Ip, self.ip.clone()),
            (Kind::Biometric, self.biometric.clone()),
            (Kind::Photo, self.photo.clone()),
        ]
    }

    /// A clinical note about this patient that carries every kind of identifier, written the
    /// way registration and discharge notes write them. `variant` picks one of the layouts.
    pub fn note(&self, variant: usize) -> String {
        let title = if self.female { "Ms." } else { "Mr." };
        let Self {
            first,
            last,
            ssn,
            mrn,
            phone,
            fax,
            email,
            street,
            city,
            state,
            zip,
            age,
            health_plan: plan,
            account,
            license,
            vehicle,
            device,
            url,
            ip,
            biometric: bio,
            photo,
            doctor,
            ..
        } = self;
        let us = |d: NaiveDate| format!("{}/{}/{}", d.month(), d.day(), d.year());
        let month = |d: NaiveDate| d.format("%B %-d, %Y").to_string();
        let (birth_us, admit_us) = (us(self.birth), us(self.admit));
        let (birth_month, admit_month) = (month(self.birth), month(self.admit));
        match variant % 3 {
            0 => format!(
                "Patient: {first} {last}   MRN: {mrn}   DOB: {birth_us}\n\
                 {title} {last} is a {age} y/o admitted on {admit_month} for chest pain. Lives at \
                 {street}, {city}, {state} {zip}. Phone {phone}. Fax {fax}. E-mail {email}. \
                 SSN {ssn}. Insurance member ID: {plan}. Account # {account}. Driver's license: \
                 {license}. License plate: {vehicle}. Pacemaker serial no: {device}. Portal: {url}. \
                 Last login from IP {ip}. Fingerprint template ID: {bio}. Photo: {photo}. \
                 Seen by Dr. {doctor}."
            ),
            1 => format!(
                "Discharge summary for {title} {first} {last} (MRN {mrn}), born {birth_month}, \
                 admitted {admit_us}. Address on file: {street}, {city} {state} {zip}; call {phone} \
                 or fax {fax}; email {email}. SSN: {ssn}. Medicaid ID: {plan}. Billing account: \
                 {account}. DEA: {license}. VIN: {vehicle}. Device ID: {device}. Results at {url} \
                 (IP {ip}). Biometric ID: {bio}. Photo {photo}. Follow up with Dr. {doctor} next \
                 week; {title} {last} agrees with the plan."
            ),
            _ => format!(
                "Name: {last}, {first}   MR# {mrn}   DOB {birth_us}\n\
                 Admitted {admit_us} with pneumonia. {first} lives in {city}, {state} at {street} \
                 (zip {zip}). Tel: {phone}. Fax: {fax}. {email}. Social security number {ssn}. \
                 Health plan: {plan}. Acct: {account}. Medical license: {license}. Vehicle: \
                 {vehicle}. Implant serial: {device}. {url} from {ip}. Identifier: {bio}. \
                 Image: {photo}. Attending: Dr. {doctor}."
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn invented_words_are_unknown_and_distinct() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let words: std::collections::HashSet<String> =
            (0..300).map(|_| invented_word(&mut rng)).collect();
        assert!(words.len() > 290);
        for w in &words {
            assert!((7..=11).contains(&w.len()), "{w}");
            assert!(!Lexicon::get().lookup(w).is_name(), "{w}");
        }
    }
}
