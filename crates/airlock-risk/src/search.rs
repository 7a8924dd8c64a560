//! Globally optimal full-domain generalization: the lattice of hierarchy levels is walked depth
//! first (each node rolled up from a neighbour one step below it, so memory holds one class set
//! per QI), and the node with the lowest Loss among those that meet the criteria within the
//! suppression limit wins.
//!
//! Criteria with suppression are not all monotone (t-closeness and average risk are not), so
//! nodes are never pruned on anonymity. They are pruned on Loss instead: the Loss of a node with
//! nothing suppressed bounds from below the Loss of every node above it, so once that bound
//! reaches the best Loss found, the whole subtree is cut. The optimum stays exact.

use serde::Serialize;

use crate::classes::{self, Classes};
use crate::data::Dataset;
use crate::error::RiskError;
use crate::metrics::{
    TDistance, discernibility, distinct, distribution, recursive_cl, t_equal, t_hierarchical,
    t_ordered,
};

pub use airlock_core::risk::{Criteria, Metric};

/// Whether the criteria need a sensitive attribute.
fn needs_sensitive(c: &Criteria) -> bool {
    c.l_distinct.is_some() || c.t.is_some() || c.recursive_cl.is_some()
}

/// One node, evaluated.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evaluation {
    pub levels: Vec<u8>,
    pub anonymous: bool,
    pub suppressed_records: u64,
    /// Classes that are not suppressed.
    pub classes: u64,
    /// ARX's Loss (generalization intensity, geometric mean over QIs).
    pub loss: f64,
    pub discernibility: f64,
    #[serde(skip)]
    pub suppressed: Vec<bool>,
}

/// Evaluates one node's classes against the criteria. `table` is the sensitive distribution of
/// the whole input.
pub fn evaluate(ds: &Dataset, classes: &Classes, criteria: &Criteria, table: &[f64]) -> Evaluation {
    let n = classes.len();
    let mut suppressed = vec![false; n];
    for (c, flag) in suppressed.iter_mut().enumerate() {
        let size = classes.sizes[c];
        let mut bad = criteria.k.is_some_and(|k| size < k);
        if let (true, Some(sensitive)) = (classes.values > 0, &ds.sensitive) {
            let hist = classes.hist_of(c);
            bad |= criteria
                .l_distinct
                .is_some_and(|l| distinct(hist) < u64::from(l));
            bad |= criteria
                .recursive_cl
                .is_some_and(|(cc, l)| !recursive_cl(hist, cc, l));
            bad |= criteria.t.is_some_and(|t| {
                let d = match (criteria.t_distance, &sensitive.tree) {
                    (TDistance::Equal, _) => t_equal(hist, size, table),
                    (TDistance::Ordered, _) => t_ordered(hist, size, table, &sensitive.rank),
                    (TDistance::Hierarchical, Some(tree)) => {
                        t_hierarchical(hist, size, table, tree)
                    }
                    (TDistance::Hierarchical, None) => f64::INFINITY,
                };
                d > t + 1e-12
            });
        }
        *flag = bad;
    }
    let mut removed: u64 = (0..n)
        .filter(|&c| suppressed[c])
        .map(|c| u64::from(classes.sizes[c]))
        .sum();
    let limit = criteria.suppression_limit(ds.rows);
    let mut anonymous = removed <= limit;
    if let Some(max_risk) = criteria.max_average_risk
        && anonymous
    {
        // Smallest classes first; among equal sizes, in the order of their generalized values
        // in the hierarchies, so that the result never depends on the order of the rows.
        let mut order: Vec<usize> = (0..n).filter(|&c| !suppressed[c]).collect();
        order.sort_by(|&a, &b| {
            classes.sizes[a]
                .cmp(&classes.sizes[b])
                .then_with(|| classes.codes_of(a).cmp(classes.codes_of(b)))
        });
        let mut kept_classes = order.len() as f64;
        let mut kept_records = ds.rows as f64 - removed as f64;
        let mut next = order.iter();
        while kept_records > 0.0 && kept_classes / kept_records > max_risk + 1e-12 {
            let Some(&c) = next.next() else { break };
            suppressed[c] = true;
            removed += u64::from(classes.sizes[c]);
            kept_classes -= 1.0;
            kept_records -= f64::from(classes.sizes[c]);
        }
        anonymous = removed <= limit && kept_records > 0.0;
    }
    let kept = (0..n).filter(|&c| !suppressed[c]).count() as u64;
    Evaluation {
        levels: classes.node.clone(),
        anonymous,
        suppressed_records: removed,
        classes: kept,
        loss: loss(ds, classes, &suppressed),
        discernibility: discernibility(classes, &suppressed),
        suppressed,
    }
}

/// ARX's Loss metric: per QI, (Σ share − n/|D|) / (n − n/|D|), where a record's share is the
/// fraction of the QI's domain under its generalized value and a suppressed record counts 1;
/// combined as the geometric mean Π(1 + Lq)^(1/q) − 1.
pub fn loss(ds: &Dataset, classes: &Classes, suppressed: &[bool]) -> f64 {
    let n = ds.rows as f64;
    let q = ds.qis.len();
    if q == 0 || ds.rows == 0 {
        return 0.0;
    }
    let mut product = 1.0f64;
    for (i, qi) in ds.qis.iter().enumerate() {
        let level = usize::from(classes.node[i]);
        let shares = &qi.share[level];
        let mut sum = 0.0f64;
        for c in 0..classes.len() {
            let size = f64::from(classes.sizes[c]);
            sum += if suppressed[c] {
                size
            } else {
                size * shares[classes.codes_of(c)[i] as usize]
            };
        }
        let base = n / qi.hierarchy.domain_size() as f64;
        let l = if n - base <= 0.0 {
            0.0
        } else {
            (sum - base) / (n - base)
        };
        product *= 1.0 + l;
    }
    product.powf(1.0 / q as f64) - 1.0
}

/// The result of a search.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The optimal node and its classes, if any node meets the criteria.
    pub best: Option<(Evaluation, Classes)>,
    /// Nodes evaluated.
    pub nodes: usize,
    pub anonymous_nodes: usize,
    /// Nodes skipped because no node above them can beat the best one found.
    pub pruned: usize,
}

impl Outcome {
    /// Nodes in the lattice (evaluated and pruned).
    pub fn lattice_size(&self) -> usize {
        self.nodes + self.pruned
    }
}

/// Finds the node with the lowest value of `criteria.metric` that meets `criteria` (ties go to
/// the node found first).
pub fn search(ds: &Dataset, criteria: &Criteria) -> Result<Outcome, RiskError> {
    search_from(ds, &classes::bottom(ds)?, criteria)
}

/// [`search`], for a caller that already has the untransformed classes (`classes::bottom`).
pub fn search_from(
    ds: &Dataset,
    bottom: &Classes,
    criteria: &Criteria,
) -> Result<Outcome, RiskError> {
    if needs_sensitive(criteria) && ds.sensitive.is_none() {
        return Err(RiskError::Invalid(
            "l-diversity and t-closeness need a sensitive attribute (--sensitive)".into(),
        ));
    }
    let table = distribution(bottom);
    let mut outcome = Outcome {
        best: None,
        nodes: 0,
        anonymous_nodes: 0,
        pruned: 0,
    };
    let top = ds.top();
    if criteria.t_distance == TDistance::Hierarchical
        && criteria.t.is_some()
        && ds.sensitive.as_ref().is_some_and(|s| s.tree.is_none())
    {
        return Err(RiskError::Invalid(
            "hierarchical t-closeness needs a hierarchy for the sensitive attribute".into(),
        ));
    }
    let bound = lower_bound(ds, bottom, criteria.metric);
    walk(ds, criteria, &table, &top, 0, bottom, bound, &mut outcome)?;
    Ok(outcome)
}

/// A lower bound of the metric for `classes`' node and every node above it: its value with no
/// record suppressed. Generalizing never lowers a record's cost (its share of the domain, or
/// its class size), and suppression gives a record the highest cost there is (1, or the number
/// of records); so no successor can score below this.
fn lower_bound(ds: &Dataset, classes: &Classes, metric: Metric) -> f64 {
    let none = vec![false; classes.len()];
    match metric {
        Metric::Loss => loss(ds, classes, &none),
        Metric::Discernibility => discernibility(classes, &none),
    }
}

/// The value of the metric being minimized.
pub fn score(e: &Evaluation, metric: Metric) -> f64 {
    match metric {
        Metric::Loss => e.loss,
        Metric::Discernibility => e.discernibility,
    }
}

fn best_loss(outcome: &Outcome, metric: Metric) -> f64 {
    outcome
        .best
        .as_ref()
        .map_or(f64::INFINITY, |(b, _)| score(b, metric))
}

/// Depth first over the lattice: at `dim`, the levels of the dimensions before it are fixed to
/// `base`'s and those from it on are at or above `base`'s, so the subtree holds only successors
/// of `base` and is cut when `bound` (`base`'s lower bound) cannot beat the best node found.
#[allow(clippy::too_many_arguments)]
fn walk(
    ds: &Dataset,
    criteria: &Criteria,
    table: &[f64],
    top: &[u8],
    dim: usize,
    base: &Classes,
    bound: f64,
    outcome: &mut Outcome,
) -> Result<(), RiskError> {
    let metric = criteria.metric;
    if bound >= best_loss(outcome, metric) - 1e-12 {
        outcome.pruned += subtree_size(top, &base.node, dim);
        return Ok(());
    }
    if dim == top.len() {
        outcome.nodes += 1;
        let e = evaluate(ds, base, criteria, table);
        if e.anonymous {
            outcome.anonymous_nodes += 1;
            if score(&e, metric) < best_loss(outcome, metric) - 1e-12 {
                outcome.best = Some((e, base.clone()));
            }
        }
        return Ok(());
    }
    walk(ds, criteria, table, top, dim + 1, base, bound, outcome)?;
    let mut current: Option<Classes> = None;
    for level in base.node[dim] + 1..=top[dim] {
        let from = current.as_ref().unwrap_or(base);
        let mut node = from.node.clone();
        node[dim] = level;
        let next = classes::roll_up(ds, from, &node)?;
        let next_bound = lower_bound(ds, &next, metric);
        if next_bound >= best_loss(outcome, metric) - 1e-12 {
            // Every higher level of this dimension is a successor: cut them all.
            for l in level..=top[dim] {
                let mut n = node.clone();
                n[dim] = l;
                outcome.pruned += subtree_size(top, &n, dim + 1);
            }
            break;
        }
        walk(
            ds,
            criteria,
            table,
            top,
            dim + 1,
            &next,
            next_bound,
            outcome,
        )?;
        current = Some(next);
    }
    Ok(())
}

/// Nodes in the subtree of `walk(dim, node)`: every level combination of the dimensions from
/// `dim` on, at or above `node`'s.
fn subtree_size(top: &[u8], node: &[u8], dim: usize) -> usize {
    top[dim.min(top.len())..]
        .iter()
        .zip(&node[dim.min(node.len())..])
        .map(|(&t, &n)| usize::from(t - n) + 1)
        .product()
}
