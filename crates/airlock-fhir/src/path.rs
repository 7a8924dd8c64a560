//! The FHIRPath subset that anonymization rules use (Microsoft's configurations and ours):
//! a resource type or `Resource`/`DomainResource` first, element names, `nodesByType('T')`,
//! `nodesByName('n')` (the anonymizer's extensions: descendants of a type or name, not
//! entering nested resources), `where(child = 'literal')`, `where(child.exists())`, and a
//! trailing `as Type`. Anything else is refused when the configuration is loaded, with the
//! rule's position, so that no rule is silently ignored.
//!
//! There is no FHIRPath crate that evaluates over untyped JSON with these extensions; the
//! subset is small enough to parse here, and the parser is tested on every path of every
//! shipped configuration.

use crate::index::{Index, at};
use crate::types::TypeModel;

/// One step of a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// A resource type, `Resource` or `DomainResource` (first step only).
    Resource(String),
    Child(String),
    NodesByType(String),
    NodesByName(String),
    WhereEquals(String, String),
    WhereExists(String),
    As(String),
}

/// A parsed rule path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path {
    pub steps: Vec<Step>,
    pub text: String,
}

fn quoted(s: &str) -> Option<&str> {
    s.strip_prefix('\'')?.strip_suffix('\'')
}

fn call<'a>(seg: &'a str, name: &str) -> Option<&'a str> {
    seg.strip_prefix(name)?.strip_prefix('(')?.strip_suffix(')')
}

/// Splits on dots outside quotes and parentheses.
fn segments(s: &str) -> Option<Vec<&str>> {
    let (mut depth, mut quote, mut start) = (0i32, false, 0);
    let mut out = Vec::new();
    for (i, c) in s.char_indices() {
        match c {
            '\'' => quote = !quote,
            '(' if !quote => depth += 1,
            ')' if !quote => depth -= 1,
            '.' if !quote && depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        if depth < 0 {
            return None;
        }
    }
    (depth == 0 && !quote).then(|| {
        out.push(&s[start..]);
        out
    })
}

fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl Path {
    /// Parses a rule path; `None` when it is outside the subset.
    pub fn parse(text: &str) -> Option<Self> {
        let t = text.trim();
        let (body, cast) = match t.rsplit_once(" as ") {
            Some((b, ty)) if is_name(ty.trim()) => (b.trim(), Some(ty.trim().to_owned())),
            _ => (t, None),
        };
        let model = TypeModel::get();
        let mut steps = Vec::new();
        for (i, seg) in segments(body)?.into_iter().enumerate() {
            let seg = seg.trim();
            let step = if let Some(arg) = call(seg, "nodesByType") {
                Step::NodesByType(quoted(arg.trim())?.to_owned())
            } else if let Some(arg) = call(seg, "nodesByName") {
                Step::NodesByName(quoted(arg.trim())?.to_owned())
            } else if let Some(arg) = call(seg, "where") {
                let arg = arg.trim();
                if let Some(field) = arg.strip_suffix(".exists()") {
                    is_name(field.trim()).then_some(())?;
                    Step::WhereExists(field.trim().to_owned())
                } else {
                    let (field, lit) = arg.split_once('=')?;
                    is_name(field.trim()).then_some(())?;
                    Step::WhereEquals(field.trim().to_owned(), quoted(lit.trim())?.to_owned())
                }
            } else if is_name(seg) {
                if i == 0
                    && (seg == "Resource" || seg == "DomainResource" || model.is_resource(seg))
                {
                    Step::Resource(seg.to_owned())
                } else {
                    Step::Child(seg.to_owned())
                }
            } else {
                return None;
            };
            steps.push(step);
        }
        if let Some(ty) = cast {
            steps.push(Step::As(ty));
        }
        Some(Self {
            steps,
            text: text.to_owned(),
        })
    }

    /// The nodes of `index` (a resource whose JSON is `json`) that the path selects.
    pub fn select(&self, index: &Index, json: &serde_json::Value) -> Vec<usize> {
        let model = TypeModel::get();
        let root = &index.nodes[0];
        let mut set = vec![0usize];
        for (i, step) in self.steps.iter().enumerate() {
            let mut next = Vec::new();
            match step {
                Step::Resource(r) => {
                    let ok = match r.as_str() {
                        "Resource" => true,
                        "DomainResource" => {
                            !matches!(&*root.ty, "Bundle" | "Binary" | "Parameters")
                        }
                        t => &*root.ty == t,
                    };
                    if !ok || i > 0 {
                        return Vec::new();
                    }
                    next = set.clone();
                }
                Step::Child(name) => {
                    for &n in &set {
                        next.extend(index.nodes[n].children.iter().copied().filter(|&c| {
                            let k = &index.nodes[c].name;
                            // a choice element matches without its type suffix (value[x])
                            k == name
                                || k.starts_with(name.as_str())
                                    && k[name.len()..]
                                        .chars()
                                        .next()
                                        .is_some_and(|c| c.is_ascii_uppercase())
                        }));
                    }
                }
                Step::NodesByType(t) if set == [0] => {
                    next = index.by_type.get(t.as_str()).cloned().unwrap_or_default();
                }
                Step::NodesByName(name) if set == [0] => {
                    next = index.by_name.get(name).cloned().unwrap_or_default();
                }
                Step::NodesByType(t) => {
                    for &n in &set {
                        next.extend(
                            index
                                .descendants(n)
                                .into_iter()
                                .filter(|&d| *index.nodes[d].ty == **t),
                        );
                    }
                }
                Step::NodesByName(name) => {
                    for &n in &set {
                        next.extend(
                            index
                                .descendants(n)
                                .into_iter()
                                .filter(|&d| index.nodes[d].name == *name),
                        );
                    }
                }
                Step::WhereEquals(field, lit) => {
                    next = set
                        .iter()
                        .copied()
                        .filter(|&n| {
                            index.nodes[n].children.iter().any(|&c| {
                                index.nodes[c].name == *field
                                    && at(json, &index.nodes[c].ptr)
                                        .is_some_and(|v| v.as_str() == Some(lit.as_str()))
                            })
                        })
                        .collect();
                }
                Step::WhereExists(field) => {
                    next = set
                        .iter()
                        .copied()
                        .filter(|&n| {
                            index.nodes[n]
                                .children
                                .iter()
                                .any(|&c| index.nodes[c].name == *field)
                        })
                        .collect();
                }
                Step::As(t) => {
                    next = set
                        .iter()
                        .copied()
                        .filter(|&n| model.is_a(&index.nodes[n].ty, t))
                        .collect();
                }
            }
            next.sort_unstable();
            next.dedup();
            set = next;
        }
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_subset_parses_and_the_rest_is_refused() {
        let p = Path::parse("Patient.nodesByType('Address').where(city='KeepTest')").unwrap();
        assert_eq!(
            p.steps,
            [
                Step::Resource("Patient".into()),
                Step::NodesByType("Address".into()),
                Step::WhereEquals("city".into(), "KeepTest".into()),
            ]
        );
        let p = Path::parse("FamilyMemberHistory.condition.onset as Age").unwrap();
        assert_eq!(p.steps.last(), Some(&Step::As("Age".into())));
        assert_eq!(
            Path::parse("Device.where(id.exists()).id").unwrap().steps[1],
            Step::WhereExists("id".into())
        );
        assert_eq!(Path::parse("nodesByType('date')").unwrap().steps.len(), 1);
        for bad in [
            "Patient.name[0]",
            "Patient.name.first()",
            "where(",
            "Patient..name",
            "Patient.name.where(x > 1)",
        ] {
            assert!(Path::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn selection_follows_types_names_and_filters() {
        let json = serde_json::json!({
            "resourceType": "Patient",
            "id": "p",
            "address": [{"city": "KeepTest", "state": "MA"}, {"city": "Boston", "state": "MA"}],
            "contact": [{"address": {"city": "Salem"}}],
            "deceasedDateTime": "2020-01-01",
        });
        let ix = Index::build(&json);
        let sel = |p: &str| {
            Path::parse(p)
                .unwrap()
                .select(&ix, &json)
                .into_iter()
                .map(|n| ix.nodes[n].ptr.len())
                .collect::<Vec<_>>()
        };
        assert_eq!(sel("nodesByType('Address')").len(), 3);
        assert_eq!(sel("Patient.address").len(), 2);
        assert_eq!(
            sel("Patient.nodesByType('Address').where(city='KeepTest')").len(),
            1
        );
        assert_eq!(sel("Patient.nodesByType('Address').state").len(), 2);
        assert_eq!(sel("Observation.nodesByType('Address')").len(), 0);
        assert_eq!(sel("Patient.deceased").len(), 1);
        assert_eq!(sel("nodesByName('city')").len(), 3);
        assert_eq!(sel("Resource").len(), 1);
    }
}
