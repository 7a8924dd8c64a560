//! A site's part of a round: its rows under the federation's encoding, a few epochs of
//! airlock-train's own training loop from the global model, and the update (new parameters
//! minus the global ones) with the number of examples it rests on.

use airlock_train::data::{Encoding, Table};
use airlock_train::model::Model;
use airlock_train::{Privacy, TrainConfig, TrainError};

/// A site's rows, encoded.
#[derive(Debug, Clone)]
pub struct LocalData {
    pub x: Vec<Vec<f64>>,
    pub y: Vec<usize>,
}

impl LocalData {
    /// The rows of `table` whose target the encoding knows.
    pub fn encode(table: &Table, encoding: &Encoding) -> Result<Self, TrainError> {
        let enc = encoding.encoder(table)?;
        let (mut x, mut y) = (Vec::new(), Vec::new());
        for r in 0..table.rows {
            if let Some(label) = enc.label(r) {
                x.push(enc.row(r));
                y.push(label);
            }
        }
        Ok(Self { x, y })
    }
}

/// What local training does in a round.
#[derive(Debug, Clone, Copy)]
pub struct LocalTraining {
    pub epochs: f64,
    pub batch_size: usize,
    pub learning_rate: f64,
    pub seed: u64,
}

/// Trains a copy of `global` on `data`; returns the update and the examples behind it.
pub fn local_update(
    global: &Model,
    data: &LocalData,
    how: &LocalTraining,
) -> Result<(Vec<f64>, u64), TrainError> {
    let mut model = global.clone();
    let cfg = TrainConfig {
        kind: global.kind,
        privacy: Privacy::None,
        epochs: how.epochs,
        batch_size: how.batch_size,
        clip: 1.0,
        learning_rate: how.learning_rate,
        seed: how.seed,
        seeded_noise: true,
        accountant: airlock_dp::Accountant::Rdp,
    };
    airlock_train::fit(&mut model, &data.x, &data.y, &cfg)?;
    let update = model
        .params
        .iter()
        .zip(&global.params)
        .map(|(n, g)| n - g)
        .collect();
    Ok((update, data.y.len() as u64))
}

/// Moves the global model by the federation's mean update.
pub fn apply(global: &mut Model, mean_update: &[f64]) {
    apply_params(&mut global.params, mean_update);
}

/// Moves parameters by the federation's mean update.
pub fn apply_params(params: &mut [f64], mean_update: &[f64]) {
    for (p, u) in params.iter_mut().zip(mean_update) {
        *p += u;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fedavg;
    use crate::round::{Round, Spec};
    use crate::secagg::{Quantizer, Site, SiteId};
    use airlock_train::model::ModelKind;

    fn adult() -> Table {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../airlock-risk/tests/data/adult/adult.csv");
        let text = std::fs::read_to_string(path)
            .unwrap_or_default()
            .replace(';', ",");
        let dir = std::env::temp_dir().join(format!("airlock-fl-adult-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let file = dir.join("adult.csv");
        let _ = std::fs::write(&file, text);
        let t = Table::read(&file).unwrap_or_else(|e| panic!("{e}"));
        let _ = std::fs::remove_dir_all(&dir);
        t
    }

    /// One FedAvg round through the whole secure aggregation (a coordinator's `Round`, five
    /// sites); returns the mean update.
    fn secure_fedavg(updates: &[(Vec<f64>, u64)], spec: &Spec) -> Vec<f64> {
        let dim = updates[0].0.len() + 1;
        let q = Quantizer::for_sites(updates.len(), 10.0);
        let mut round = Round::new(1, spec, 3, 3, dim);
        let mut sites = Vec::new();
        for id in 1..=updates.len() as SiteId {
            let (s, a) = Site::new(id).unwrap_or_else(|e| panic!("{e}"));
            round
                .advert(a, &spec.sha256())
                .unwrap_or_else(|e| panic!("{e}"));
            sites.push(s);
        }
        let adverts = round.close_adverts().unwrap_or_else(|e| panic!("{e}"));
        for s in &mut sites {
            let e = s.share_keys(&adverts, 3).unwrap_or_else(|e| panic!("{e}"));
            round.shares(s.id(), e).unwrap_or_else(|e| panic!("{e}"));
        }
        let u2 = round.close_shares().unwrap_or_else(|e| panic!("{e}"));
        for s in &mut sites {
            s.receive(&round.envelopes_for(s.id()))
                .unwrap_or_else(|e| panic!("{e}"));
        }
        for (s, (u, n)) in sites.iter().zip(updates) {
            // weighted by examples, scaled into the fixed-point range
            let x: Vec<f64> = fedavg::weighted(u, *n as f64)
                .iter()
                .map(|v| v / 1e4)
                .collect();
            let y = s
                .masked_input(&x, &q, &u2)
                .unwrap_or_else(|e| panic!("{e}"));
            round.masked(s.id(), y).unwrap_or_else(|e| panic!("{e}"));
        }
        let u3 = round.close_masked().unwrap_or_else(|e| panic!("{e}"));
        for s in &sites {
            let r = s.unmask(&u2, &u3).unwrap_or_else(|e| panic!("{e}"));
            round.reveal(s.id(), r).unwrap_or_else(|e| panic!("{e}"));
        }
        let (sum, n) = round.close_unmask().unwrap_or_else(|e| panic!("{e}"));
        let values: Vec<f64> = sum.iter().map(|&v| q.dequantize_sum(v, n) * 1e4).collect();
        fedavg::weighted_mean(&values).unwrap_or_default()
    }

    /// Adult split over five sites by row (each its own slice); ten rounds of one local epoch
    /// through secure aggregation reach the accuracy of training on all rows at once.
    #[test]
    fn federated_training_on_adult_matches_central_training() {
        let table = adult();
        let features: Vec<String> = [
            "sex",
            "age",
            "race",
            "marital-status",
            "education",
            "workclass",
            "occupation",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        let n = table.rows;
        let train: Vec<usize> = (0..n).filter(|r| r % 5 != 0).collect();
        let enc = Encoding::fit(&table, "salary-class", Some(">50K"), &features, &train)
            .unwrap_or_else(|e| panic!("{e}"));
        let all = LocalData::encode(&table, &enc).unwrap_or_else(|e| panic!("{e}"));
        let (mut test_x, mut test_y) = (Vec::new(), Vec::new());
        let mut parts: Vec<LocalData> = (0..5)
            .map(|_| LocalData {
                x: Vec::new(),
                y: Vec::new(),
            })
            .collect();
        for (i, (x, y)) in all.x.iter().zip(&all.y).enumerate() {
            if i % 5 == 0 {
                test_x.push(x.clone());
                test_y.push(*y);
            } else {
                let p = &mut parts[(i / 5) % 5];
                p.x.push(x.clone());
                p.y.push(*y);
            }
        }
        let spec = Spec {
            rounds: 10,
            clip: 10.0,
            ..crate::spec::tests::example()
        };
        let how = LocalTraining {
            epochs: 1.0,
            batch_size: 256,
            learning_rate: 0.5,
            seed: 7,
        };
        let mut global = Model::new(ModelKind::Logreg, enc.width(), 2, 1);
        for _ in 0..spec.rounds {
            let updates: Vec<(Vec<f64>, u64)> = parts
                .iter()
                .map(|p| local_update(&global, p, &how).unwrap_or_else(|e| panic!("{e}")))
                .collect();
            let mean = secure_fedavg(&updates, &spec);
            apply(&mut global, &mean);
        }
        let federated = airlock_train::evaluate(&global, &test_x, &test_y, 0).accuracy;
        // the same examples, all in one place, as many passes
        let mut central = Model::new(ModelKind::Logreg, enc.width(), 2, 1);
        let pooled = LocalData {
            x: parts.iter().flat_map(|p| p.x.clone()).collect(),
            y: parts.iter().flat_map(|p| p.y.clone()).collect(),
        };
        let many = LocalTraining {
            epochs: 10.0,
            ..how
        };
        let (update, _) = local_update(&central, &pooled, &many).unwrap_or_else(|e| panic!("{e}"));
        apply(&mut central, &update);
        let centralized = airlock_train::evaluate(&central, &test_x, &test_y, 0).accuracy;
        // measured: 0.818 federated, 0.825 central (one epoch a round, ten rounds)
        assert!(federated > 0.78, "federated accuracy {federated}");

        assert!(
            (federated - centralized).abs() < 0.01,
            "federated {federated} vs central {centralized}"
        );
    }
}
