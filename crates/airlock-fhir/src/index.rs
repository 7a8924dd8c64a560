//! The typed nodes of one resource: every element of its JSON with its FHIR type, its name and
//! where it is, so that FHIRPath steps can select nodes and methods can change them. Resources
//! nested in it (`contained`, `Bundle.entry.resource`) are not indexed: they are resources of
//! their own. A primitive's `_name` extension object belongs to the primitive's node, as in
//! FHIR's element model.

use std::sync::Arc;

use serde_json::Value;

use crate::types::{TypeModel, is_primitive};

/// One step of a JSON pointer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// One element.
#[derive(Debug, Clone)]
pub struct Node {
    pub ptr: Vec<Seg>,
    /// The JSON key (`valueDateTime` for a choice element).
    pub name: String,
    /// The FHIR type (`date`, `HumanName`, `BackboneElement`, the resource type at the root).
    pub ty: Arc<str>,
    /// The element path its children continue from.
    pub path: Arc<str>,
    pub parent: Option<usize>,
    pub children: Vec<usize>,
}

impl Node {
    pub fn is_primitive(&self) -> bool {
        is_primitive(&self.ty)
    }
}

/// The nodes of a resource, root first, each before its descendants.
#[derive(Debug, Clone, Default)]
pub struct Index {
    pub nodes: Vec<Node>,
    /// Pointers to the resources nested in this one.
    pub nested: Vec<Vec<Seg>>,
    /// Every node below the root by type and by name (most rules start with
    /// `nodesByType` at the root: one lookup instead of a walk per rule).
    pub by_type: std::collections::HashMap<Arc<str>, Vec<usize>>,
    pub by_name: std::collections::HashMap<String, Vec<usize>>,
}

/// The value at `ptr`.
pub fn at<'a>(v: &'a Value, ptr: &[Seg]) -> Option<&'a Value> {
    ptr.iter().try_fold(v, |v, s| match s {
        Seg::Key(k) => v.get(k),
        Seg::Index(i) => v.get(i),
    })
}

/// Whether `item`, an element of type `ty`, is a resource of its own (`contained`,
/// `Bundle.entry.resource`, `Parameters.parameter.resource`).
pub fn is_nested_resource(ty: &str, item: &Value) -> bool {
    ty == "Resource" || item.get("resourceType").is_some() && !is_primitive(ty)
}

/// The value at `ptr`, mutably.
pub fn at_mut<'a>(v: &'a mut Value, ptr: &[Seg]) -> Option<&'a mut Value> {
    ptr.iter().try_fold(v, |v, s| match s {
        Seg::Key(k) => v.get_mut(k),
        Seg::Index(i) => v.get_mut(i),
    })
}

impl Index {
    /// Indexes `resource` (a JSON object with `resourceType`).
    pub fn build(resource: &Value) -> Self {
        let ty = resource
            .get("resourceType")
            .and_then(Value::as_str)
            .unwrap_or("Resource")
            .to_owned();
        let mut index = Self::default();
        index.nodes.push(Node {
            ptr: Vec::new(),
            name: ty.clone(),
            path: ty.as_str().into(),
            ty: ty.into(),
            parent: None,
            children: Vec::new(),
        });
        index.walk_object(resource, 0, &[]);
        for (i, n) in index.nodes.iter().enumerate().skip(1) {
            index.by_type.entry(n.ty.clone()).or_default().push(i);
            index.by_name.entry(n.name.clone()).or_default().push(i);
        }
        index
    }

    fn add(&mut self, node: Node) -> usize {
        let id = self.nodes.len();
        if let Some(p) = node.parent {
            self.nodes[p].children.push(id);
        }
        self.nodes.push(node);
        id
    }

    /// Indexes the members of `obj` (the value of node `parent`, at `base`) as its children.
    fn walk_object(&mut self, obj: &Value, parent: usize, base: &[Seg]) {
        let Some(map) = obj.as_object() else { return };
        let model = TypeModel::get();
        // a primitive that has only its extensions (`_birthDate` without `birthDate`)
        let orphans: Vec<(String, &Value)> = map
            .iter()
            .filter_map(|(k, v)| {
                let base = k.strip_prefix('_')?;
                (!map.contains_key(base)).then(|| (base.to_owned(), v))
            })
            .collect();
        let absent = Value::Null;
        // an orphan's value is absent; an array of them keeps its length (the items are only
        // counted: the value of a primitive is read at its own pointer, which holds nothing)
        let members = map.iter().map(|(k, v)| (k.clone(), v)).chain(
            orphans
                .into_iter()
                .map(|(k, v)| (k, if v.is_array() { v } else { &absent })),
        );
        for (key, value) in members {
            let key = &key;
            if key == "resourceType" || key.starts_with('_') {
                continue;
            }
            let (path, pty) = (
                self.nodes[parent].path.clone(),
                self.nodes[parent].ty.clone(),
            );
            let (ty, path) = model
                .child(&path, &pty, key)
                .unwrap_or_else(|| ("Element".into(), format!("{path}.{key}").into()));
            let mut ptr = base.to_vec();
            ptr.push(Seg::Key(key.clone()));
            let ext = map.get(&format!("_{key}"));
            let items: Vec<(Option<usize>, &Value)> = match value {
                Value::Array(a) => a.iter().enumerate().map(|(i, v)| (Some(i), v)).collect(),
                v => vec![(None, v)],
            };
            for (i, item) in items {
                let mut p = ptr.clone();
                if let Some(i) = i {
                    p.push(Seg::Index(i));
                }
                if is_nested_resource(&ty, item) {
                    self.nested.push(p);
                    continue;
                }
                let id = self.add(Node {
                    ptr: p.clone(),
                    name: key.clone(),
                    ty: ty.clone(),
                    path: path.clone(),
                    parent: Some(parent),
                    children: Vec::new(),
                });
                if is_primitive(&ty) {
                    // the primitive's extensions and id, from `_key` (aligned for arrays)
                    let (e, mut eptr) = match (i, ext) {
                        (Some(i), Some(Value::Array(a))) => (a.get(i), {
                            let mut e = base.to_vec();
                            e.push(Seg::Key(format!("_{key}")));
                            e.push(Seg::Index(i));
                            e
                        }),
                        (None, Some(e)) => (Some(e), {
                            let mut b = base.to_vec();
                            b.push(Seg::Key(format!("_{key}")));
                            b
                        }),
                        _ => (None, Vec::new()),
                    };
                    if let Some(e) = e.filter(|e| e.is_object()) {
                        let saved = std::mem::replace(&mut self.nodes[id].ty, "Element".into());
                        let saved_path =
                            std::mem::replace(&mut self.nodes[id].path, "Element".into());
                        self.walk_object(e, id, &eptr);
                        self.nodes[id].ty = saved;
                        self.nodes[id].path = saved_path;
                        eptr.clear();
                    }
                } else {
                    self.walk_object(item, id, &p);
                }
            }
        }
    }

    /// `n` and all nodes below it.
    pub fn subtree(&self, n: usize) -> Vec<usize> {
        let mut out = vec![n];
        let mut i = 0;
        while i < out.len() {
            out.extend(self.nodes[out[i]].children.iter().copied());
            i += 1;
        }
        out
    }

    /// The nodes below `n` (not `n` itself).
    pub fn descendants(&self, n: usize) -> Vec<usize> {
        let mut all = self.subtree(n);
        all.remove(0);
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_carry_types_and_primitive_extensions() {
        let patient = serde_json::json!({
            "resourceType": "Patient",
            "id": "p1",
            "name": [{"family": "Doe", "given": ["Jane", "Q"], "_given": [null, {"extension": [{"url": "u", "valueString": "x"}]}]}],
            "birthDate": "1961-03-05",
            "_birthDate": {"extension": [{"url": "t", "valueDateTime": "1961-03-05T10:00:00Z"}]},
            "contained": [{"resourceType": "Practitioner", "id": "pr"}],
        });
        let ix = Index::build(&patient);
        let find = |name: &str| {
            ix.nodes
                .iter()
                .filter(|n| n.name == name)
                .map(|n| (&*n.ty, n.ptr.len()))
                .collect::<Vec<_>>()
        };
        assert_eq!(find("birthDate"), [("date", 1)]);
        assert_eq!(find("name"), [("HumanName", 2)]);
        assert_eq!(find("given"), [("string", 4), ("string", 4)]);
        // the birth time extension hangs under birthDate, typed
        let vdt = ix.nodes.iter().find(|n| n.name == "valueDateTime").unwrap();
        assert_eq!(&*vdt.ty, "dateTime");
        let ext = vdt.parent.unwrap();
        assert_eq!(&*ix.nodes[ext].ty, "Extension");
        assert_eq!(ix.nodes[ix.nodes[ext].parent.unwrap()].name, "birthDate");
        assert_eq!(at(&patient, &vdt.ptr).unwrap(), "1961-03-05T10:00:00Z");
        let given_ext = ix.nodes.iter().find(|n| n.name == "valueString").unwrap();
        assert_eq!(at(&patient, &given_ext.ptr).unwrap(), "x");
        assert_eq!(ix.nested.len(), 1);
        assert!(
            find("id").len() == 1,
            "the contained resource is not indexed"
        );
    }
}
