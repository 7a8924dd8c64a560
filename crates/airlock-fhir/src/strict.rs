//! Fail closed on what the R4 model does not know: before any rule runs, a resource whose type
//! is not an R4 resource is refused (or removed), and every element the model does not define
//! for its parent, or whose JSON value is not of the element's type (a number where a date
//! belongs, an object where a string belongs, a malformed date), is removed and counted. Rules
//! only ever see what the model describes, so nothing passes because no rule named it.

use regex::Regex;
use serde::Serialize;
use serde_json::{Map, Value};
use std::sync::OnceLock;

use crate::index::is_nested_resource;
use crate::types::{TypeModel, is_primitive};

/// What to do with a resource whose `resourceType` R4 does not define.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UnknownResources {
    /// Copy it through (Microsoft's tool; only for their configurations).
    #[default]
    Keep,
    /// Stop the run: an input error naming the file and line.
    Error,
    /// Drop it (an NDJSON line, a Bundle entry, a contained resource) and count it.
    Remove,
}

/// What the sweep removed.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Removed {
    /// Resources of an unknown type (under [`UnknownResources::Remove`]).
    pub unknown_resources: u64,
    /// Elements the model does not define where they stand.
    pub unknown_elements: u64,
    /// Elements whose value is not of their type.
    pub wrong_type: u64,
}

/// The outcome for one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Keep,
    /// Its type is unknown and the mode removes it.
    Remove,
    /// Its type is unknown and the mode refuses it.
    Refuse,
}

/// Sweeps `resource` (top-level or nested) in place.
pub fn sweep(resource: &mut Value, mode: UnknownResources, removed: &mut Removed) -> Verdict {
    let model = TypeModel::get();
    let Some(ty) = resource
        .get("resourceType")
        .and_then(Value::as_str)
        .map(str::to_owned)
    else {
        return Verdict::Refuse;
    };
    if !model.is_resource(&ty) {
        return match mode {
            UnknownResources::Keep => Verdict::Keep,
            UnknownResources::Error => Verdict::Refuse,
            UnknownResources::Remove => {
                removed.unknown_resources += 1;
                Verdict::Remove
            }
        };
    }
    if let Some(obj) = resource.as_object_mut()
        && sweep_object(obj, &ty, &ty, mode, removed) == Verdict::Refuse
    {
        return Verdict::Refuse;
    }
    Verdict::Keep
}

/// Sweeps the members of an element of type `ty` at `path`.
fn sweep_object(
    obj: &mut Map<String, Value>,
    path: &str,
    ty: &str,
    mode: UnknownResources,
    removed: &mut Removed,
) -> Verdict {
    let model = TypeModel::get();
    let keys: Vec<String> = obj.keys().cloned().collect();
    for key in keys {
        if key == "resourceType" {
            continue;
        }
        let (name, extension) = match key.strip_prefix('_') {
            Some(base) => (base, true),
            None => (key.as_str(), false),
        };
        let Some((child_ty, child_path)) = model.child(path, ty, name) else {
            obj.remove(&key);
            removed.unknown_elements += 1;
            continue;
        };
        let Some(value) = obj.get_mut(&key) else {
            continue;
        };
        // `_name`: a primitive's id and extensions, an Element (or an array aligned with the
        // primitive's, nulls allowed)
        let (item_ty, item_path) = if extension {
            if !is_primitive(&child_ty) {
                obj.remove(&key);
                removed.unknown_elements += 1;
                continue;
            }
            ("Element".to_owned(), "Element".to_owned())
        } else {
            (child_ty.to_string(), child_path.to_string())
        };
        let items: Vec<&mut Value> = match value {
            Value::Array(a) => a.iter_mut().collect(),
            v => vec![v],
        };
        let mut bad = false;
        let mut drop_items = Vec::new();
        for (i, item) in items.into_iter().enumerate() {
            if extension && item.is_null() {
                continue;
            }
            if is_nested_resource(&item_ty, item) {
                match sweep(item, mode, removed) {
                    Verdict::Keep => {}
                    Verdict::Remove => drop_items.push(i),
                    Verdict::Refuse => return Verdict::Refuse,
                }
                continue;
            }
            if is_primitive(&item_ty) {
                if !primitive_fits(&item_ty, item) {
                    bad = true;
                }
            } else {
                match item.as_object_mut() {
                    Some(inner) => {
                        if sweep_object(inner, &item_path, &item_ty, mode, removed)
                            == Verdict::Refuse
                        {
                            return Verdict::Refuse;
                        }
                    }
                    None => bad = true,
                }
            }
        }
        if bad {
            // one value of the wrong type takes its element (and the aligned `_name` array)
            obj.remove(&key);
            if !extension {
                obj.remove(&format!("_{key}"));
            }
            removed.wrong_type += 1;
            continue;
        }
        if !drop_items.is_empty() {
            remove_resources(obj, &key, &drop_items);
        }
    }
    // a Bundle entry whose resource was removed goes with it
    if let Some(Value::Array(entries)) = obj.get_mut("entry") {
        entries.retain(|e| !e.get("resource").is_some_and(Value::is_null));
    }
    Verdict::Keep
}

/// Removes the nested resources at `drop` (indices into the element, or 0 for a single
/// value): from an array they are taken out, a single one becomes null so that its Bundle
/// entry goes too.
fn remove_resources(obj: &mut Map<String, Value>, key: &str, drop: &[usize]) {
    match obj.get_mut(key) {
        Some(Value::Array(a)) => {
            let mut i = 0;
            a.retain(|_| {
                let keep = !drop.contains(&i);
                i += 1;
                keep
            });
        }
        Some(v) => *v = Value::Null,
        None => {}
    }
}

/// Whether a JSON value is a valid value of the primitive type `ty` (R4's regular expressions
/// for dates and times).
fn primitive_fits(ty: &str, v: &Value) -> bool {
    let ty = ty.strip_prefix("System.").unwrap_or(ty);
    match ty {
        "boolean" | "Boolean" => v.is_boolean(),
        "integer" | "Integer" | "integer64" => v.is_i64() || v.is_u64(),
        "unsignedInt" => v.as_u64().is_some(),
        "positiveInt" => v.as_u64().is_some_and(|n| n > 0),
        "decimal" | "Decimal" => v.is_number(),
        "date" | "Date" => v.as_str().is_some_and(|s| patterns().date.is_match(s)),
        "dateTime" | "DateTime" => v.as_str().is_some_and(|s| patterns().date_time.is_match(s)),
        "instant" => v.as_str().is_some_and(|s| patterns().instant.is_match(s)),
        "time" | "Time" => v.as_str().is_some_and(|s| patterns().time.is_match(s)),
        _ => v.is_string(),
    }
}

struct Patterns {
    date: Regex,
    date_time: Regex,
    instant: Regex,
    time: Regex,
}

/// The regular expressions of the R4 specification's primitive types.
fn patterns() -> &'static Patterns {
    static P: OnceLock<Patterns> = OnceLock::new();
    P.get_or_init(|| {
        let year = r"([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)";
        let month = r"(0[1-9]|1[0-2])";
        let day = r"(0[1-9]|[1-2][0-9]|3[0-1])";
        let time = r"([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?";
        let zone = r"(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))";
        let re = |s: String| Regex::new(&s).expect("the R4 patterns compile");
        Patterns {
            date: re(format!("^{year}(-{month}(-{day})?)?$")),
            date_time: re(format!("^{year}(-{month}(-{day}(T{time}{zone})?)?)?$")),
            instant: re(format!("^{year}-{month}-{day}T{time}{zone}$")),
            time: re(format!("^{time}$")),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_types_elements_and_wrong_values_are_removed() {
        let mut removed = Removed::default();
        let mut p = json!({
            "resourceType": "Patient",
            "id": "p1",
            "unknownField": "Ada Quillfeather",
            "birthDate": 19560217,
            "gender": "female",
            "deceasedBoolean": "yes",
            "name": [{"family": "Quillfeather", "nickname": "Ada"}],
            "contact": [{"name": {"text": "x"}, "secret": {"a": 1}}],
            "_gender": {"extension": [{"url": "u", "valueString": "v"}], "note": "n"},
            "contained": [{"resourceType": "Patinet", "name": "typo"}, {"resourceType": "Basic", "id": "b"}]
        });
        assert_eq!(
            sweep(&mut p, UnknownResources::Remove, &mut removed),
            Verdict::Keep
        );
        assert_eq!(
            p,
            json!({
                "resourceType": "Patient",
                "id": "p1",
                "gender": "female",
                "name": [{"family": "Quillfeather"}],
                "contact": [{"name": {"text": "x"}}],
                "_gender": {"extension": [{"url": "u", "valueString": "v"}]},
                "contained": [{"resourceType": "Basic", "id": "b"}]
            })
        );
        assert_eq!(
            removed,
            Removed {
                unknown_resources: 1,
                unknown_elements: 4,
                wrong_type: 2
            }
        );
        let mut typo = json!({"resourceType": "Patinet", "id": "x"});
        assert_eq!(
            sweep(&mut typo, UnknownResources::Error, &mut removed),
            Verdict::Refuse
        );
        assert_eq!(
            sweep(&mut typo, UnknownResources::Keep, &mut removed),
            Verdict::Keep
        );
    }

    #[test]
    fn bundle_entries_of_unknown_types_go_whole() {
        let mut removed = Removed::default();
        let mut b = json!({
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [
                {"fullUrl": "urn:uuid:1", "resource": {"resourceType": "Patient", "id": "1"}},
                {"fullUrl": "urn:uuid:2", "resource": {"resourceType": "Observasion", "id": "2"}}
            ]
        });
        assert_eq!(
            sweep(&mut b, UnknownResources::Remove, &mut removed),
            Verdict::Keep
        );
        assert_eq!(b["entry"].as_array().unwrap().len(), 1);
        assert_eq!(removed.unknown_resources, 1);
    }

    #[test]
    fn dates_follow_the_r4_patterns() {
        for ok in ["1956", "1956-02", "1956-02-17"] {
            assert!(primitive_fits("date", &json!(ok)), "{ok}");
        }
        for bad in ["199é", "1956-2-17", "02/17/1956", "1956-02-17T10:00:00Z"] {
            assert!(!primitive_fits("date", &json!(bad)), "{bad}");
        }
        assert!(primitive_fits(
            "dateTime",
            &json!("2021-03-14T10:11:12.5+05:00")
        ));
        assert!(!primitive_fits("dateTime", &json!("2021-03-14T10:11")));
        assert!(primitive_fits("instant", &json!("2021-03-14T10:11:12Z")));
        assert!(!primitive_fits("date", &json!(1956)));
        assert!(
            primitive_fits("positiveInt", &json!(3)) && !primitive_fits("positiveInt", &json!(0))
        );
    }
}
