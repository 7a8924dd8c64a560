//! FHIR R4 element types, from fhirpath.js's R4 model (vendored, zstd-compressed): the type of
//! every element path, elements defined elsewhere, and each type's parent.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

/// The element types of R4.
pub struct TypeModel {
    types: HashMap<String, String>,
    elsewhere: HashMap<String, String>,
    parents: HashMap<String, String>,
}

impl TypeModel {
    /// The vendored model, loaded once.
    pub fn get() -> &'static Self {
        static MODEL: OnceLock<TypeModel> = OnceLock::new();
        MODEL.get_or_init(|| {
            let raw = zstd::decode_all(&include_bytes!("../data/fhir-r4-types.tsv.zst")[..])
                .expect("the vendored type model decompresses");
            let text = String::from_utf8(raw).expect("the vendored type model is UTF-8");
            let mut m = Self {
                types: HashMap::new(),
                elsewhere: HashMap::new(),
                parents: HashMap::new(),
            };
            for line in text.lines() {
                let mut it = line.split('\t');
                let (Some(kind), Some(a), Some(b)) = (it.next(), it.next(), it.next()) else {
                    continue;
                };
                let map = match kind {
                    "T" => &mut m.types,
                    "E" => &mut m.elsewhere,
                    _ => &mut m.parents,
                };
                map.insert(a.to_owned(), b.to_owned());
            }
            m
        })
    }

    /// Whether `name` is a resource type.
    pub fn is_resource(&self, name: &str) -> bool {
        let mut t = name;
        for _ in 0..4 {
            match self.parents.get(t).map(String::as_str) {
                Some("DomainResource" | "Resource") => return true,
                Some(p) => t = p,
                None => return name == "Bundle" || name == "Binary" || name == "Parameters",
            }
        }
        false
    }

    /// Whether `t` is `ancestor` or derives from it (`Age` is a `Quantity`).
    pub fn is_a(&self, t: &str, ancestor: &str) -> bool {
        let mut cur = t;
        for _ in 0..8 {
            if cur.eq_ignore_ascii_case(ancestor) {
                return true;
            }
            match self.parents.get(cur) {
                Some(p) => cur = p,
                None => return false,
            }
        }
        false
    }

    /// The type of child `key` of an element whose own path is `path` (`Patient.contact`)
    /// and whose type is `ty` (`BackboneElement`). Backbone elements continue their parent's
    /// path; other types start from their own name (`HumanName.period`). Returns the child's
    /// type and the path its own children continue from. Answers are remembered per thread:
    /// the same few hundred questions come back for every resource.
    pub fn child(&self, path: &str, ty: &str, key: &str) -> Option<(Arc<str>, Arc<str>)> {
        type Memo = HashMap<String, HashMap<String, Option<(Arc<str>, Arc<str>)>>>;
        thread_local! {
            static MEMO: std::cell::RefCell<Memo> = std::cell::RefCell::new(HashMap::new());
        }
        let base = if matches!(ty, "BackboneElement" | "Element") || self.is_resource(ty) {
            path
        } else {
            ty
        };
        MEMO.with(|m| {
            let mut m = m.borrow_mut();
            if let Some(hit) = m.get(base).and_then(|inner| inner.get(key)) {
                return hit.clone();
            }
            let found = self
                .lookup(base, key)
                .map(|(t, p)| (Arc::from(t.as_str()), Arc::from(p.as_str())));
            if m.len() > 100_000 {
                m.clear();
            }
            m.entry(base.to_owned())
                .or_default()
                .insert(key.to_owned(), found.clone());
            found
        })
    }

    fn lookup(&self, base: &str, key: &str) -> Option<(String, String)> {
        let mut candidates = vec![format!("{base}.{key}")];
        // inherited elements: Age.value is Quantity.value, Patient.id is Resource.id
        let mut t = base.split('.').next().unwrap_or("").to_owned();
        let rest = base.split_once('.').map(|(_, r)| r.to_owned());
        for _ in 0..6 {
            let Some(p) = self.parents.get(&t) else { break };
            t = p.clone();
            candidates.push(match &rest {
                Some(r) => format!("{t}.{r}.{key}"),
                None => format!("{t}.{key}"),
            });
        }
        for c in candidates {
            if let Some(found) = self.types.get(&c) {
                return Some((found.clone(), c));
            }
            if let Some(target) = self.elsewhere.get(&c) {
                let ty = self
                    .types
                    .get(target)
                    .cloned()
                    .unwrap_or_else(|| "BackboneElement".into());
                return Some((ty, target.clone()));
            }
        }
        None
    }
}

/// Whether a type is a FHIR primitive (`date`, `string`, `System.String`, ...).
pub fn is_primitive(ty: &str) -> bool {
    ty.starts_with("System.") || ty.chars().next().is_some_and(|c| c.is_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elements_get_their_types() {
        let m = TypeModel::get();
        let ty = |path: &str, t: &str, k: &str| m.child(path, t, k).map(|(ty, _)| ty.to_string());
        assert_eq!(
            ty("Patient", "Patient", "birthDate").as_deref(),
            Some("date")
        );
        assert_eq!(
            ty("Patient", "Patient", "name").as_deref(),
            Some("HumanName")
        );
        assert_eq!(
            ty("Patient.name", "HumanName", "period").as_deref(),
            Some("Period")
        );
        assert_eq!(
            ty("Patient.name.period", "Period", "start").as_deref(),
            Some("dateTime")
        );
        assert_eq!(
            ty("Patient.contact", "BackboneElement", "telecom").as_deref(),
            Some("ContactPoint")
        );
        assert_eq!(
            ty("Patient", "Patient", "deceasedDateTime").as_deref(),
            Some("dateTime")
        );
        assert_eq!(
            ty("Patient", "Patient", "id").as_deref(),
            Some("System.String")
        );
        assert_eq!(ty("x", "Age", "value").as_deref(), Some("decimal"));
        assert_eq!(
            ty("Observation", "Observation", "subject").as_deref(),
            Some("Reference")
        );
        assert!(m.is_resource("Patient") && m.is_resource("Bundle"));
        assert!(!m.is_resource("HumanName"));
        assert!(m.is_a("Age", "Quantity") && !m.is_a("Quantity", "Age"));
        assert!(is_primitive("date") && !is_primitive("HumanName"));
    }
}
