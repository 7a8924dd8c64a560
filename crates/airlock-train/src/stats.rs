//! Distances between distributions: the population stability index over shared bins and the
//! two-sample Kolmogorov-Smirnov statistic. Served models' drift (airlock-gateway) and a
//! federation's site drift (airlock-fl) use them.

/// Shares below this count as this in PSI (an empty bin would make it infinite).
const FLOOR: f64 = 1e-4;

/// The population stability index of `actual` shares against `expected` shares.
pub fn psi(expected: &[f64], actual: &[f64]) -> f64 {
    expected
        .iter()
        .zip(actual)
        .map(|(&e, &a)| {
            let (e, a) = (e.max(FLOOR), a.max(FLOOR));
            (a - e) * (a / e).ln()
        })
        .sum()
}

/// The two-sample Kolmogorov-Smirnov statistic: the largest distance between the empirical
/// distribution functions of two samples, both sorted ascending.
pub fn ks(a: &[f64], b: &[f64]) -> f64 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j, mut d) = (0, 0, 0.0f64);
    while i < a.len() && j < b.len() {
        let x = a[i].min(b[j]);
        while i < a.len() && a[i] <= x {
            i += 1;
        }
        while j < b.len() && b[j] <= x {
            j += 1;
        }
        d = d.max((i as f64 / na - j as f64 / nb).abs());
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference values from scipy.stats.ks_2samp (1.11) and a PSI by hand.
    #[test]
    fn ks_and_psi_match_the_reference_values() {
        let a: Vec<f64> = (1..=10).map(f64::from).collect();
        let b = [3.5, 4.5, 5.5, 6.5, 7.5, 11.0, 12.0];
        assert!((ks(&a, &b) - 0.3).abs() < 1e-12);
        assert!((ks(&[1.0, 1.0, 2.0, 2.0, 3.0], &[2.0, 2.0, 3.0, 3.0]) - 0.4).abs() < 1e-12);
        assert!((ks(&[0.5, 0.7, 0.9], &[0.1, 0.2, 0.3, 0.4]) - 1.0).abs() < 1e-12);
        assert_eq!(ks(&a, &a), 0.0);
        let e = [0.1; 10];
        let act = [0.05, 0.05, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.15, 0.15];
        assert!((psi(&e, &act) - 0.109_861_228_866_810_95).abs() < 1e-12);
        assert_eq!(psi(&e, &e), 0.0);
    }
}
