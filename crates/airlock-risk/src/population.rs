//! Population uniqueness: how many records of the population behind a sample are unique on the
//! quasi-identifiers, estimated from the sample's class-size distribution and its sampling
//! fraction. Four estimators, as in ARX: Pitman (Hoshino 2001, maximum likelihood of Pitman's
//! sampling formula), Zayatz (1991), SNB (the slide negative binomial of Chen and
//! Keller-McNulty 1998), and Dankar et al.'s (2012) rule for choosing among them.
//!
//! Every figure is a fraction of the population. An estimator that does not converge gives
//! `None`, never a made-up number.

use std::collections::BTreeMap;

use serde::Serialize;

/// The population behind a sample.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PopulationModel {
    pub population_size: f64,
}

impl PopulationModel {
    /// The population of which `sample_size` records are a `fraction` (0 < fraction <= 1).
    pub fn from_sampling_fraction(sample_size: u64, fraction: f64) -> Option<Self> {
        (fraction > 0.0 && fraction <= 1.0).then(|| Self {
            population_size: sample_size as f64 / fraction,
        })
    }
}

/// Which estimator Dankar's rule chose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Estimator {
    Pitman,
    Zayatz,
    Snb,
    /// No sample uniques: no population uniques either.
    None,
}

/// Estimated fractions of the population that are unique.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Uniqueness {
    pub population_size: f64,
    pub sampling_fraction: f64,
    pub pitman: Option<f64>,
    pub zayatz: Option<f64>,
    pub snb: Option<f64>,
    pub dankar: Option<f64>,
    pub dankar_estimator: Estimator,
}

/// Estimates population uniqueness from class sizes (size -> number of classes).
pub fn estimate(class_sizes: &BTreeMap<u32, u64>, model: PopulationModel) -> Uniqueness {
    let n: f64 = class_sizes
        .iter()
        .map(|(s, c)| f64::from(*s) * *c as f64)
        .sum();
    let big_n = model.population_size.max(n);
    let f = if big_n > 0.0 { n / big_n } else { 1.0 };
    let c1 = class_sizes.get(&1).copied().unwrap_or(0);
    let mut out = Uniqueness {
        population_size: big_n,
        sampling_fraction: f,
        pitman: None,
        zayatz: None,
        snb: None,
        dankar: None,
        dankar_estimator: Estimator::None,
    };
    if c1 == 0 || n == 0.0 {
        for v in [
            &mut out.pitman,
            &mut out.zayatz,
            &mut out.snb,
            &mut out.dankar,
        ] {
            *v = Some(0.0);
        }
        return out;
    }
    let valid = |v: Option<f64>| v.filter(|x| x.is_finite() && *x > 0.0);
    out.pitman = valid(pitman(class_sizes, n, big_n)).map(|u| u / big_n);
    out.zayatz = valid(zayatz(class_sizes, n, big_n)).map(|u| u / big_n);
    out.snb = valid(snb(class_sizes, f)).map(|u| u / big_n);
    // Dankar et al.: Pitman for small sampling fractions (Zayatz if it fails); otherwise the
    // smaller of Zayatz and SNB.
    (out.dankar, out.dankar_estimator) = if f <= 0.1 {
        match out.pitman {
            Some(p) => (Some(p), Estimator::Pitman),
            None => (out.zayatz, Estimator::Zayatz),
        }
    } else {
        match (out.snb, out.zayatz) {
            (Some(s), Some(z)) if z < s => (Some(z), Estimator::Zayatz),
            (Some(s), _) => (Some(s), Estimator::Snb),
            (None, z) => (z, Estimator::Zayatz),
        }
    };
    out
}

fn ln_choose(a: f64, b: f64) -> f64 {
    libm::lgamma(a + 1.0) - libm::lgamma(b + 1.0) - libm::lgamma(a - b + 1.0)
}

/// P(X = 1) for a hypergeometric draw of `draws` from `population` holding `successes`.
fn hypergeometric_one(population: f64, successes: f64, draws: f64) -> f64 {
    if successes > population || draws > population {
        return 0.0;
    }
    (successes.ln() + ln_choose(population - successes, draws - 1.0) - ln_choose(population, draws))
        .exp()
}

/// Zayatz: the share of sample uniques that are population uniques, from hypergeometric
/// probabilities of drawing a class of each size exactly once.
fn zayatz(classes: &BTreeMap<u32, u64>, n: f64, big_n: f64) -> Option<f64> {
    let u: f64 = classes.values().map(|&c| c as f64).sum();
    let c1 = classes.get(&1).copied().unwrap_or(0) as f64;
    let denominator: f64 = classes
        .iter()
        .map(|(&size, &count)| count as f64 / u * hypergeometric_one(big_n, f64::from(size), n))
        .sum();
    if denominator <= 0.0 {
        return None;
    }
    let conditional = c1 / u * hypergeometric_one(big_n, 1.0, n) / denominator;
    Some(c1 * conditional * big_n / n)
}

/// Pitman: maximum-likelihood θ and α of Pitman's sampling formula by Newton-Raphson, then
/// Γ(θ+1) / Γ(θ+α) · N^α population uniques.
fn pitman(classes: &BTreeMap<u32, u64>, n: f64, big_n: f64) -> Option<f64> {
    let u: f64 = classes.values().map(|&c| c as f64).sum();
    let c1 = classes.get(&1).copied().unwrap_or(0) as f64;
    let c2 = classes.get(&2).copied().filter(|&c| c > 0).unwrap_or(1) as f64;
    // Hoshino's moment-based starting point.
    let c = c1 * (c1 - 1.0) / c2;
    let mut theta = (n * u * c - c1 * (n - 1.0) * (2.0 * u + c)) / (2.0 * c1 * u + c1 * c - n * c);
    let mut alpha = (theta * (c1 - n) + (n - 1.0) * c1) / (n * u);
    let (iu, inn) = (u as u64, n as u64);
    for _ in 0..200 {
        let (mut o1, mut o3, mut d1, mut d3, mut d5) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for i in 1..iu {
            let i = i as f64;
            let v = theta + i * alpha;
            o1 += 1.0 / v;
            o3 += i / v;
            d1 += 1.0 / (v * v);
            d5 += i / (v * v);
            d3 += i * i / (v * v);
        }
        let (mut o2, mut d2) = (0.0, 0.0);
        for i in 1..inn {
            let v = theta + i as f64;
            o2 += 1.0 / v;
            d2 += 1.0 / (v * v);
        }
        let (mut o4, mut d4) = (0.0, 0.0);
        for (&size, &count) in classes.iter().filter(|(s, _)| **s > 1) {
            let (mut s1, mut s2) = (0.0, 0.0);
            for j in 1..size {
                let w = f64::from(j) - alpha;
                s1 += 1.0 / w;
                s2 += 1.0 / (w * w);
            }
            o4 += count as f64 * s1;
            d4 += count as f64 * s2;
        }
        let (f1, f2) = (o1 - o2, o3 - o4);
        if f1.abs() < 1e-9 && f2.abs() < 1e-9 {
            let uniques =
                (libm::lgamma(theta + 1.0) - libm::lgamma(theta + alpha)).exp() * big_n.powf(alpha);
            return (uniques.is_finite() && uniques >= 0.0 && uniques <= big_n && alpha != 0.0)
                .then_some(uniques);
        }
        let (j11, j12, j22) = (d2 - d1, -d5, -d3 - d4);
        let det = j11 * j22 - j12 * j12;
        if !det.is_finite() || det == 0.0 {
            return None;
        }
        theta -= (j22 * f1 - j12 * f2) / det;
        alpha -= (-j12 * f1 + j11 * f2) / det;
        if !(theta.is_finite() && alpha.is_finite()) || theta < 0.0 {
            return None;
        }
    }
    None
}

/// SNB: the number of non-empty population classes by Shlosser's estimator, then α and β of
/// the slide negative binomial fitted to the numbers of classes of size 1 and 2; K·β^α
/// population uniques.
fn snb(classes: &BTreeMap<u32, u64>, f: f64) -> Option<f64> {
    let u: f64 = classes.values().map(|&c| c as f64).sum();
    let c1 = classes.get(&1).copied().unwrap_or(0) as f64;
    let c2 = classes.get(&2).copied().unwrap_or(0) as f64;
    if c2 == 0.0 || f >= 1.0 {
        return None;
    }
    // Shlosser's estimator of the non-empty classes in the population.
    let (mut a1, mut a2, mut a3) = (0.0, 0.0, 0.0);
    for (&size, &count) in classes {
        let (i, count) = (f64::from(size), count as f64);
        a1 += i * f * (1.0 - f).powf(i - 1.0) * count;
        a2 += (1.0 - f).powf(i) * count;
        a3 += i * f * f * (1.0 - f * f).powf(i - 1.0) * count;
    }
    let a4: f64 = classes
        .iter()
        .map(|(&s, &c)| {
            ((1.0 + f).powf(f64::from(s)) - 1.0) * (1.0 - f).powf(f64::from(s)) * c as f64
        })
        .sum();
    if a1 <= 0.0 || a4 <= 0.0 {
        return None;
    }
    let k = u + c1 * (a3 / a4) * (a2 / a1) * (a2 / a1);
    let equations = |alpha: f64, beta: f64| -> (f64, f64) {
        let d = (1.0 - f) * (1.0 - beta);
        let e1 = k * f * (beta / (1.0 - d)).powf(alpha) * (alpha * d / (1.0 - d) + 1.0) - c1;
        let e2 = k * alpha * beta.powf(alpha) * f * f * (1.0 - beta)
            / (2.0 * (1.0 - d).powf(alpha + 2.0))
            * (2.0 - (1.0 - alpha) * d)
            - c2;
        (e1, e2)
    };
    // Newton-Raphson with a numerical Jacobian, kept inside α > 0, 0 < β < 1.
    let (mut alpha, mut beta) = (1.0f64, 0.5f64);
    for _ in 0..500 {
        let (g1, g2) = equations(alpha, beta);
        if g1.abs() < 1e-7 * c1.max(1.0) && g2.abs() < 1e-7 * c2.max(1.0) {
            let uniques = k * beta.powf(alpha);
            return uniques.is_finite().then_some(uniques);
        }
        let h = 1e-7;
        let (a1, a2) = equations(alpha + h, beta);
        let (b1, b2) = equations(alpha, beta + h);
        let (j11, j12, j21, j22) = ((a1 - g1) / h, (b1 - g1) / h, (a2 - g2) / h, (b2 - g2) / h);
        let det = j11 * j22 - j12 * j21;
        if !det.is_finite() || det == 0.0 {
            return None;
        }
        let da = (j22 * g1 - j12 * g2) / det;
        let db = (-j21 * g1 + j11 * g2) / det;
        // Damp the step so that the parameters stay in their domain.
        let mut step = 1.0;
        while step > 1e-6
            && !(alpha - step * da > 0.0
                && (0.0..1.0).contains(&(beta - step * db))
                && beta - step * db > 0.0)
        {
            step /= 2.0;
        }
        alpha -= step * da;
        beta -= step * db;
        if !(alpha.is_finite() && beta.is_finite()) {
            return None;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_sample_uniques_means_no_population_uniques() {
        let sizes = BTreeMap::from([(2u32, 10u64), (5, 3)]);
        let u = estimate(
            &sizes,
            PopulationModel {
                population_size: 1e6,
            },
        );
        assert_eq!(u.dankar, Some(0.0));
    }

    #[test]
    fn sampling_fraction_builds_the_population() {
        let m = PopulationModel::from_sampling_fraction(1000, 0.01).unwrap();
        assert!((m.population_size - 100_000.0).abs() < 1e-6);
        assert!(PopulationModel::from_sampling_fraction(1000, 0.0).is_none());
    }

    #[test]
    fn a_census_has_as_many_population_uniques_as_sample_uniques() {
        // Sampling fraction 1: the sample is the population, Zayatz gives c1 / n exactly.
        let sizes = BTreeMap::from([(1u32, 30u64), (2, 20), (3, 10)]);
        let u = estimate(
            &sizes,
            PopulationModel {
                population_size: 100.0,
            },
        );
        assert!((u.zayatz.unwrap() - 0.3).abs() < 1e-9, "{u:?}");
    }
}

/// Journalist risk: the attacker links a record of the released sample to a person of a known
/// population table, so a record's risk is 1 / the size of its class in the population (which
/// holds the sample, so never smaller than the class in the sample).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JournalistRisk {
    pub average: f64,
    pub maximum: f64,
    /// Records whose journalist risk exceeds the threshold.
    pub records_above_threshold: u64,
    pub fraction_above_threshold: f64,
}

/// Journalist risk of sample records given their classes' sizes in the sample and in the
/// population, one pair per class: (sample size, population size).
pub fn journalist(classes: impl Iterator<Item = (u64, u64)>, threshold: f64) -> JournalistRisk {
    let (mut records, mut sum, mut max, mut above) = (0u64, 0.0f64, 0.0f64, 0u64);
    for (in_sample, in_population) in classes {
        let size = in_population.max(in_sample).max(1) as f64;
        let risk = 1.0 / size;
        records += in_sample;
        sum += in_sample as f64 * risk;
        max = max.max(risk);
        if risk > threshold {
            above += in_sample;
        }
    }
    let n = records.max(1) as f64;
    JournalistRisk {
        average: sum / n,
        maximum: max,
        records_above_threshold: above,
        fraction_above_threshold: above as f64 / n,
    }
}

/// Counts the QI tuples of a table (as text; an empty cell is its own value).
fn count_tuples(
    path: &std::path::Path,
    qis: &[String],
) -> Result<std::collections::HashMap<Vec<String>, u64>, crate::error::RiskError> {
    use crate::error::RiskError;
    use arrow_array::Array;
    use arrow_array::cast::AsArray;
    let format = airlock_core::table::Format::resolve(None, path)?;
    let mut reader = airlock_core::table::TableReader::open(path, format, 8192)?;
    let schema = reader.schema();
    let idx: Vec<usize> = qis
        .iter()
        .map(|q| {
            schema.index_of(q).map_err(|_| RiskError::NoSuchColumn {
                file: path.to_path_buf(),
                column: q.clone(),
            })
        })
        .collect::<Result<_, _>>()?;
    let mut counts = std::collections::HashMap::new();
    while let Some(batch) = reader.next_batch()? {
        let cols: Vec<arrow_array::ArrayRef> = idx
            .iter()
            .map(|&i| arrow_cast::cast(batch.column(i), &arrow_schema::DataType::Utf8))
            .collect::<Result<_, _>>()
            .map_err(|_| {
                RiskError::Invalid(format!(
                    "a quasi-identifier of {} cannot be read as text",
                    path.display()
                ))
            })?;
        for r in 0..batch.num_rows() {
            let key: Vec<String> = cols
                .iter()
                .map(|c| {
                    let a = c.as_string::<i32>();
                    if a.is_null(r) {
                        String::new()
                    } else {
                        a.value(r).to_owned()
                    }
                })
                .collect();
            *counts.entry(key).or_default() += 1;
        }
    }
    Ok(counts)
}

/// Journalist risk of `sample`'s records against the `population` table, over `qis`.
pub fn journalist_of_tables(
    sample: &std::path::Path,
    population: &std::path::Path,
    qis: &[String],
    threshold: f64,
) -> Result<JournalistRisk, crate::error::RiskError> {
    let s = count_tuples(sample, qis)?;
    let p = count_tuples(population, qis)?;
    Ok(journalist(
        s.iter().map(|(k, &n)| (n, p.get(k).copied().unwrap_or(0))),
        threshold,
    ))
}

#[cfg(test)]
mod journalist_tests {
    use super::*;

    #[test]
    fn population_classes_lower_the_risk() {
        // Two sample classes: 1 record (10 in the population), 2 records (2 in the population).
        let j = journalist([(1, 10), (2, 2)].into_iter(), 0.2);
        assert!((j.average - (0.1 + 2.0 * 0.5) / 3.0).abs() < 1e-12);
        assert!((j.maximum - 0.5).abs() < 1e-12);
        assert_eq!(j.records_above_threshold, 2);
        // A population table that lacks a sample class cannot make it safer than the sample.
        let j = journalist([(3, 0)].into_iter(), 0.2);
        assert!((j.maximum - 1.0 / 3.0).abs() < 1e-12);
    }
}
