//! The federation's task, agreed before any round: the model, its encoding of the features
//! (categories, scaling), the local training, the update bound, the minimum number of sites
//! (also secure aggregation's threshold), client-level DP. Every site pins its SHA-256 and
//! refuses a round under another; the coordinator sends it with every round.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use airlock_train::data::{Encoding, Feature, Table};
use airlock_train::model::{Model, ModelKind};

use crate::sitedrift::Bins;

/// Client-level differential privacy for the whole federation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DpSpec {
    pub epsilon: f64,
    pub delta: f64,
}

/// What the federation agreed to train.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// The spec's own version: the federation bumps it when it changes anything.
    pub version: u32,
    pub model: ModelKind,
    /// Features, their categories and scaling, the target's classes.
    pub encoding: Encoding,
    pub rounds: u32,
    /// Passes over a site's rows in each round.
    pub local_epochs: f64,
    pub batch_size: usize,
    pub learning_rate: f64,
    /// Each site's update is clipped to this L2 norm (the fixed-point range, and client DP's
    /// sensitivity).
    pub clip: f64,
    /// A round needs this many sites; secure aggregation's threshold.
    pub min_sites: usize,
    /// Whether updates travel under secure aggregation (the coordinator learns their sum
    /// only) or as they are.
    pub secure_aggregation: bool,
    /// A site's weight in FedAvg is its example count, capped here.
    pub max_examples: u64,
    /// Client-level DP; none: plain FedAvg.
    pub dp: Option<DpSpec>,
    /// PSI past which a site is flagged as unlike the federation (a drift round first);
    /// none: no drift round.
    pub drift_threshold: Option<f64>,
    /// Seeds the initial model and each site's local batches.
    pub seed: u64,
}

/// A spec that cannot be run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the federation spec is not valid: {0}")]
pub struct SpecError(pub String);

impl Spec {
    /// SHA-256 of its canonical JSON (fields in declaration order), hex.
    pub fn sha256(&self) -> String {
        let bytes = serde_json::to_vec(self).unwrap_or_default();
        Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Reads a spec file (JSON) and checks it.
    pub fn from_json(text: &str) -> Result<Self, SpecError> {
        let spec: Self = serde_json::from_str(text).map_err(|e| {
            // serde's message names a field or a line, never a value of the data
            SpecError(format!("not a federation spec: {}", short(&e.to_string())))
        })?;
        spec.check()?;
        Ok(spec)
    }

    /// Refuses settings no round can run under.
    pub fn check(&self) -> Result<(), SpecError> {
        let bad = |why: &str| Err(SpecError(why.to_owned()));
        if self.min_sites < 2 {
            return bad("min_sites must be at least 2 (one site's update is not an aggregate)");
        }
        if self.min_sites > 255 {
            return bad("min_sites must be at most 255");
        }
        if !(self.clip.is_finite() && self.clip > 0.0) {
            return bad("clip must be a positive number");
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return bad("learning_rate must be a positive number");
        }
        if !(self.local_epochs.is_finite() && self.local_epochs > 0.0) || self.batch_size == 0 {
            return bad("local_epochs and batch_size must be positive");
        }
        if self.rounds == 0 || self.max_examples == 0 {
            return bad("rounds and max_examples must be positive");
        }
        if self.encoding.classes.len() < 2 || self.encoding.features.is_empty() {
            return bad("the encoding needs features and at least two classes");
        }
        if let Some(dp) = self.dp
            && !(dp.epsilon.is_finite() && dp.epsilon > 0.0 && dp.delta > 0.0 && dp.delta < 1.0)
        {
            return bad("dp needs epsilon > 0 and 0 < delta < 1");
        }
        if self.dp.is_some() && !self.secure_aggregation {
            return bad(
                "client-level DP splits the noise across sites, so it needs secure aggregation",
            );
        }
        Ok(())
    }

    /// The model every round starts the federation from.
    pub fn initial_model(&self) -> Model {
        Model::new(
            self.model,
            self.encoding.width(),
            self.encoding.classes.len(),
            self.seed,
        )
    }

    /// The drift round's bins, from the encoding alone: a numeric feature's edges at its
    /// mean ± 0.5, 1, 2 standard deviations; a categorical feature's categories.
    pub fn drift_bins(&self) -> Vec<Bins> {
        self.encoding
            .features
            .iter()
            .map(|f| match f {
                Feature::Numeric { name, mean, std } => Bins::Numeric {
                    feature: name.clone(),
                    edges: [-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0]
                        .iter()
                        .map(|k| mean + k * std)
                        .collect(),
                },
                Feature::Categorical { name, categories } => Bins::Categorical {
                    feature: name.clone(),
                    categories: categories.clone(),
                },
            })
            .collect()
    }
}

fn short(s: &str) -> String {
    airlock_core::shown::escape(s, 200).to_string()
}

/// What `airlock fl spec` writes: a spec fitted on `table` (a de-identified sample or a
/// schema file the federation shares: it fixes the categories and the scaling).
#[derive(Debug, Clone)]
pub struct SpecInput<'a> {
    pub table: &'a Table,
    pub target: &'a str,
    pub positive: Option<&'a str>,
    pub features: &'a [String],
    pub model: ModelKind,
}

impl Spec {
    /// A spec with the given task and airlock's defaults for the rest.
    pub fn fit(input: &SpecInput<'_>) -> Result<Self, SpecError> {
        let rows: Vec<usize> = (0..input.table.rows).collect();
        let features: Vec<String> = if input.features.is_empty() {
            input
                .table
                .names
                .iter()
                .filter(|n| n.as_str() != input.target)
                .cloned()
                .collect()
        } else {
            input.features.to_vec()
        };
        let encoding = Encoding::fit(input.table, input.target, input.positive, &features, &rows)
            .map_err(|e| SpecError(e.to_string()))?;
        let spec = Self {
            version: 1,
            model: input.model,
            encoding,
            rounds: 20,
            local_epochs: 1.0,
            batch_size: 64,
            learning_rate: 0.5,
            clip: 10.0,
            min_sites: 3,
            secure_aggregation: true,
            max_examples: 10_000_000,
            dp: None,
            drift_threshold: Some(0.25),
            seed: 1,
        };
        spec.check()?;
        Ok(spec)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A small spec for the crate's tests.
    pub(crate) fn example() -> Spec {
        Spec {
            version: 1,
            model: ModelKind::Logreg,
            encoding: Encoding {
                target: "salary-class".into(),
                classes: vec!["not >50K".into(), ">50K".into()],
                positive: Some(">50K".into()),
                features: vec![
                    Feature::Numeric {
                        name: "age".into(),
                        mean: 40.0,
                        std: 12.0,
                    },
                    Feature::Categorical {
                        name: "sex".into(),
                        categories: vec!["Male".into(), "Female".into()],
                    },
                ],
            },
            rounds: 3,
            local_epochs: 1.0,
            batch_size: 64,
            learning_rate: 0.1,
            clip: 4.0,
            min_sites: 3,
            secure_aggregation: true,
            max_examples: 1_000_000,
            dp: None,
            drift_threshold: None,
            seed: 1,
        }
    }

    #[test]
    fn the_hash_pins_every_setting_and_bad_specs_are_refused() {
        let a = example();
        assert_eq!(a.sha256(), example().sha256());
        let mut b = example();
        b.learning_rate = 0.2;
        assert_ne!(a.sha256(), b.sha256());
        let text = serde_json::to_string(&a).unwrap();
        assert_eq!(Spec::from_json(&text).unwrap(), a);
        let mut c = example();
        c.min_sites = 1;
        assert!(c.check().is_err());
        let mut d = example();
        d.dp = Some(DpSpec {
            epsilon: 1.0,
            delta: 1e-5,
        });
        d.secure_aggregation = false;
        assert!(d.check().is_err());
        assert!(Spec::from_json(&text.replace("\"rounds\"", "\"extra\":1,\"rounds\"")).is_err());
        assert_eq!(a.drift_bins().len(), 2);
    }
}
