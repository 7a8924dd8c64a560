//! Equivalence classes at a node of the generalization lattice.
//!
//! The classes of the untransformed data are built once from the records. The classes of any
//! other node are rolled up from those of a node one step below it, which has at most as many
//! classes as the data has records and usually far fewer: the lattice is walked level by level
//! and each node costs one pass over its predecessor's classes.

use rustc_hash::FxHashMap;

use crate::data::Dataset;
use crate::error::RiskError;

/// The classes at one node: per class its size, its group at each QI, and (when a sensitive
/// attribute is given) its histogram of sensitive values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classes {
    pub node: Vec<u8>,
    pub sizes: Vec<u32>,
    /// `codes[c * qis + q]`: the group of class `c` at QI `q`, at this node's level.
    pub(crate) codes: Vec<u32>,
    /// `hist[c * values + v]`: records of class `c` with sensitive value `v`.
    pub(crate) hist: Vec<u32>,
    pub(crate) values: usize,
}

impl Classes {
    pub fn len(&self) -> usize {
        self.sizes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sizes.is_empty()
    }

    pub(crate) fn codes_of(&self, class: usize) -> &[u32] {
        let q = self.node.len();
        &self.codes[class * q..(class + 1) * q]
    }

    pub(crate) fn hist_of(&self, class: usize) -> &[u32] {
        &self.hist[class * self.values..(class + 1) * self.values]
    }
}

/// Mixed-radix keys for the group tuples of one node.
struct KeySpace {
    radix: Vec<u128>,
}

impl KeySpace {
    fn new(ds: &Dataset, node: &[u8]) -> Result<Self, RiskError> {
        let mut total: u128 = 1;
        let radix = ds
            .qis
            .iter()
            .zip(node)
            .map(|(q, &l)| {
                let r = q.groups_at(usize::from(l)).max(1) as u128;
                total = total
                    .checked_mul(r)
                    .ok_or(RiskError::TooWide { qis: ds.qis.len() })?;
                Ok(r)
            })
            .collect::<Result<Vec<_>, RiskError>>()?;
        Ok(Self { radix })
    }

    fn key(&self, codes: &[u32]) -> u128 {
        codes
            .iter()
            .zip(&self.radix)
            .fold(0u128, |k, (&c, &r)| k * r + u128::from(c))
    }
}

/// Accumulates classes keyed by their group tuple.
struct Builder {
    keys: KeySpace,
    index: FxHashMap<u128, u32>,
    out: Classes,
}

impl Builder {
    fn new(ds: &Dataset, node: &[u8], capacity: usize) -> Result<Self, RiskError> {
        let values = ds.sensitive.as_ref().map_or(0, |s| s.values);
        Ok(Self {
            keys: KeySpace::new(ds, node)?,
            index: FxHashMap::with_capacity_and_hasher(capacity, Default::default()),
            out: Classes {
                node: node.to_vec(),
                sizes: Vec::with_capacity(capacity),
                codes: Vec::with_capacity(capacity * node.len()),
                hist: Vec::new(),
                values,
            },
        })
    }

    /// Adds `size` records with group tuple `codes` (and sensitive counts `hist`).
    fn add(&mut self, codes: &[u32], size: u32, hist: impl Fn(&mut [u32])) {
        let key = self.keys.key(codes);
        let next = self.out.sizes.len() as u32;
        let c = *self.index.entry(key).or_insert(next) as usize;
        let v = self.out.values;
        if c == self.out.sizes.len() {
            self.out.sizes.push(0);
            self.out.codes.extend_from_slice(codes);
            self.out.hist.resize(self.out.hist.len() + v, 0);
        }
        self.out.sizes[c] += size;
        hist(&mut self.out.hist[c * v..(c + 1) * v]);
    }
}

/// The classes of the untransformed data (every QI at level 0).
pub fn bottom(ds: &Dataset) -> Result<Classes, RiskError> {
    let node = vec![0u8; ds.qis.len()];
    let mut b = Builder::new(ds, &node, ds.entries())?;
    let mut codes = vec![0u32; ds.qis.len()];
    for (r, &w) in ds.weight.iter().enumerate() {
        for (c, q) in codes.iter_mut().zip(&ds.qis) {
            *c = q.leaf[r];
        }
        let s = ds.sensitive.as_ref().map(|s| s.code[r] as usize);
        b.add(&codes, w, |h| {
            if let Some(s) = s {
                h[s] += w;
            }
        });
    }
    Ok(b.out)
}

/// The classes at `node`, rolled up from `from`, a node at or below it in every dimension.
pub fn roll_up(ds: &Dataset, from: &Classes, node: &[u8]) -> Result<Classes, RiskError> {
    debug_assert!(from.node.iter().zip(node).all(|(a, b)| a <= b));
    // For each QI, the map from a group at the source level to one at the target level.
    let maps: Vec<Option<Vec<u32>>> = ds
        .qis
        .iter()
        .zip(from.node.iter().zip(node))
        .map(|(q, (&a, &b))| {
            (a != b).then(|| {
                let (a, b) = (usize::from(a), usize::from(b));
                let mut up = vec![0u32; q.groups_at(a)];
                for leaf in 0..q.hierarchy.domain_size() {
                    up[q.group[a][leaf] as usize] = q.group[b][leaf];
                }
                up
            })
        })
        .collect();
    let mut b = Builder::new(ds, node, from.len())?;
    let mut codes = vec![0u32; node.len()];
    for c in 0..from.len() {
        for ((out, &src), map) in codes.iter_mut().zip(from.codes_of(c)).zip(&maps) {
            *out = map.as_ref().map_or(src, |m| m[src as usize]);
        }
        let hist = from.hist_of(c);
        b.add(&codes, from.sizes[c], |h| {
            for (t, s) in h.iter_mut().zip(hist) {
                *t += s;
            }
        });
    }
    Ok(b.out)
}

/// The class of every entry of the dataset at `classes`' node.
pub fn entry_classes(ds: &Dataset, classes: &Classes) -> Result<Vec<u32>, RiskError> {
    let keys = KeySpace::new(ds, &classes.node)?;
    let index: FxHashMap<u128, u32> = (0..classes.len())
        .map(|c| (keys.key(classes.codes_of(c)), c as u32))
        .collect();
    let mut codes = vec![0u32; ds.qis.len()];
    Ok((0..ds.entries())
        .map(|r| {
            for ((c, q), &l) in codes.iter_mut().zip(&ds.qis).zip(&classes.node) {
                *c = q.group[usize::from(l)][q.leaf[r] as usize];
            }
            index[&keys.key(&codes)]
        })
        .collect())
}
