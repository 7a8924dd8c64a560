//! One round of a federation as the coordinator runs it, independent of how messages travel:
//! phases (adverts, shares, masked inputs, unmasking), each closed when every site has answered
//! or its deadline has passed; the federation's spec hash checked on every advert; a round
//! with fewer sites than `min_sites` (or than the aggregation threshold) aborts and reveals
//! nothing. The network layer (mutual TLS between processes) only carries these messages.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::secagg::{self, Advert, Envelope, Reveal, SiteId};
pub use crate::spec::Spec;

/// Why the coordinator refused a message or ended a round.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoundError {
    #[error("site {0} runs another spec than the federation's: refused")]
    Spec(SiteId),
    #[error("site {0} sent a message of another phase")]
    Phase(SiteId),
    #[error("site {0} is not in this round")]
    Stranger(SiteId),
    #[error("site {0} already sent this")]
    Twice(SiteId),
    #[error("the round ended: {0}")]
    Aborted(String),
    #[error(transparent)]
    SecAgg(#[from] secagg::SecAggError),
}

/// The phases of a round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Adverts,
    Shares,
    Masked,
    Unmask,
    Done,
    Aborted,
}

/// A round as the coordinator holds it.
#[derive(Debug)]
pub struct Round {
    pub number: u64,
    spec_sha256: String,
    threshold: usize,
    min_sites: usize,
    dim: usize,
    /// Under secure aggregation; else the inputs arrive as they are and are summed.
    secure: bool,
    phase: Phase,
    adverts: BTreeMap<SiteId, Advert>,
    shared: BTreeSet<SiteId>,
    envelopes: Vec<Envelope>,
    masked: BTreeMap<SiteId, Vec<u64>>,
    reveals: BTreeMap<SiteId, Vec<Reveal>>,
}

impl Round {
    /// Round `number` of updates of `dim` values, aggregated when at least `threshold` sites
    /// (and `min_sites`) take part; under secure aggregation when the spec says so.
    pub fn new(number: u64, spec: &Spec, threshold: usize, min_sites: usize, dim: usize) -> Self {
        Self {
            number,
            spec_sha256: spec.sha256(),
            threshold,
            min_sites: min_sites.max(threshold),
            dim,
            secure: spec.secure_aggregation,
            phase: Phase::Adverts,
            adverts: BTreeMap::new(),
            shared: BTreeSet::new(),
            envelopes: Vec::new(),
            masked: BTreeMap::new(),
            reveals: BTreeMap::new(),
        }
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Whether the inputs are masked.
    pub fn secure(&self) -> bool {
        self.secure
    }

    /// The sites that advertised (U1), shared their keys (U2), sent their input (U3), revealed.
    pub fn advertised(&self) -> impl Iterator<Item = SiteId> + '_ {
        self.adverts.keys().copied()
    }

    pub fn shared(&self) -> impl Iterator<Item = SiteId> + '_ {
        self.shared.iter().copied()
    }

    pub fn sent(&self) -> impl Iterator<Item = SiteId> + '_ {
        self.masked.keys().copied()
    }

    pub fn revealed(&self) -> impl Iterator<Item = SiteId> + '_ {
        self.reveals.keys().copied()
    }

    fn expect(&self, phase: Phase, site: SiteId) -> Result<(), RoundError> {
        match self.phase {
            Phase::Aborted => Err(RoundError::Aborted("it was aborted".into())),
            p if p == phase => Ok(()),
            _ => Err(RoundError::Phase(site)),
        }
    }

    fn abort(&mut self, why: String) -> RoundError {
        self.phase = Phase::Aborted;
        // nothing a site sent is kept once the round is over
        self.envelopes.clear();
        self.masked.clear();
        self.reveals.clear();
        RoundError::Aborted(why)
    }

    /// A site joins with its keys, under the spec it pinned.
    pub fn advert(&mut self, advert: Advert, spec_sha256: &str) -> Result<(), RoundError> {
        self.expect(Phase::Adverts, advert.site)?;
        if spec_sha256 != self.spec_sha256 {
            return Err(RoundError::Spec(advert.site));
        }
        if self.adverts.contains_key(&advert.site) {
            return Err(RoundError::Twice(advert.site));
        }
        self.adverts.insert(advert.site, advert);
        Ok(())
    }

    /// Every site has advertised, or the deadline passed: the adverts the sites share keys
    /// under.
    pub fn close_adverts(&mut self) -> Result<Vec<Advert>, RoundError> {
        self.expect(Phase::Adverts, 0)?;
        if self.adverts.len() < self.min_sites {
            return Err(self.abort(format!(
                "{} sites joined, fewer than {}",
                self.adverts.len(),
                self.min_sites
            )));
        }
        if self.secure {
            self.phase = Phase::Shares;
        } else {
            // no keys to share: every site that joined sends its input as it is
            self.shared = self.adverts.keys().copied().collect();
            self.phase = Phase::Masked;
        }
        Ok(self.adverts.values().cloned().collect())
    }

    /// A site's encrypted shares for its peers.
    pub fn shares(&mut self, from: SiteId, envelopes: Vec<Envelope>) -> Result<(), RoundError> {
        self.expect(Phase::Shares, from)?;
        if !self.adverts.contains_key(&from) {
            return Err(RoundError::Stranger(from));
        }
        if !self.shared.insert(from) {
            return Err(RoundError::Twice(from));
        }
        self.envelopes
            .extend(envelopes.into_iter().filter(|e| e.from == from));
        Ok(())
    }

    /// The shares phase is over: the sites whose shares went out (U2).
    pub fn close_shares(&mut self) -> Result<Vec<SiteId>, RoundError> {
        self.expect(Phase::Shares, 0)?;
        if self.shared.len() < self.min_sites {
            return Err(self.abort(format!(
                "{} sites shared their keys, fewer than {}",
                self.shared.len(),
                self.min_sites
            )));
        }
        self.phase = Phase::Masked;
        Ok(self.shared.iter().copied().collect())
    }

    /// The envelopes addressed to `site` from the sites of U2.
    pub fn envelopes_for(&self, site: SiteId) -> Vec<Envelope> {
        self.envelopes
            .iter()
            .filter(|e| e.to == site && self.shared.contains(&e.from))
            .cloned()
            .collect()
    }

    /// A site's masked input.
    pub fn masked(&mut self, from: SiteId, y: Vec<u64>) -> Result<(), RoundError> {
        self.expect(Phase::Masked, from)?;
        if !self.shared.contains(&from) {
            return Err(RoundError::Stranger(from));
        }
        if y.len() != self.dim {
            return Err(secagg::SecAggError::Dimension(y.len(), self.dim).into());
        }
        if self.masked.insert(from, y).is_some() {
            return Err(RoundError::Twice(from));
        }
        Ok(())
    }

    /// The inputs are in: the sites whose masked input arrived (U3).
    pub fn close_masked(&mut self) -> Result<Vec<SiteId>, RoundError> {
        self.expect(Phase::Masked, 0)?;
        if self.masked.len() < self.threshold {
            return Err(self.abort(format!(
                "{} masked inputs arrived, fewer than the threshold {}",
                self.masked.len(),
                self.threshold
            )));
        }
        self.phase = Phase::Unmask;
        Ok(self.masked.keys().copied().collect())
    }

    /// A surviving site's revealed shares.
    pub fn reveal(&mut self, from: SiteId, reveals: Vec<Reveal>) -> Result<(), RoundError> {
        self.expect(Phase::Unmask, from)?;
        if !self.masked.contains_key(&from) {
            return Err(RoundError::Stranger(from));
        }
        if self.reveals.insert(from, reveals).is_some() {
            return Err(RoundError::Twice(from));
        }
        Ok(())
    }

    /// Unmasking is over: the sum of the inputs of U3, and how many sites it holds.
    pub fn close_unmask(&mut self) -> Result<(Vec<u64>, usize), RoundError> {
        self.expect(Phase::Unmask, 0)?;
        if !self.secure {
            let mut sum = vec![0u64; self.dim];
            for y in self.masked.values() {
                for (s, v) in sum.iter_mut().zip(y) {
                    *s = s.wrapping_add(*v);
                }
            }
            self.phase = Phase::Done;
            return Ok((sum, self.masked.len()));
        }
        let adverts: Vec<Advert> = self.adverts.values().cloned().collect();
        let u2: Vec<SiteId> = self.shared.iter().copied().collect();
        let reveals: Vec<Vec<Reveal>> = self.reveals.values().cloned().collect();
        match secagg::unmask_sum(
            &adverts,
            &u2,
            &self.masked,
            &reveals,
            self.threshold,
            self.dim,
        ) {
            Ok(sum) => {
                self.phase = Phase::Done;
                Ok((sum, self.masked.len()))
            }
            Err(e) => Err(self.abort(e.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fedavg;
    use crate::secagg::{Quantizer, Site};

    fn spec() -> Spec {
        crate::spec::tests::example()
    }

    /// Five sites through a round; `killed` stops after sending its masked input (it never
    /// reveals), `late` never sends its masked input. Returns FedAvg of what was aggregated.
    fn run(
        updates: &[(Vec<f64>, u64)],
        killed: Option<SiteId>,
        late: Option<SiteId>,
    ) -> Result<Vec<f64>, RoundError> {
        let dim = updates[0].0.len() + 1;
        let spec = spec();
        let q = Quantizer::for_sites(updates.len(), spec.clip * 100.0);
        let mut round = Round::new(1, &spec, 3, 3, dim);
        let mut sites: Vec<Site> = Vec::new();
        for id in 1..=updates.len() as SiteId {
            let (site, advert) = Site::new(id)?;
            round.advert(advert, &spec.sha256())?;
            sites.push(site);
        }
        let adverts = round.close_adverts()?;
        for s in &mut sites {
            let env = s.share_keys(&adverts, 3)?;
            round.shares(s.id(), env)?;
        }
        let u2 = round.close_shares()?;
        for s in &mut sites {
            s.receive(&round.envelopes_for(s.id()))?;
        }
        for (s, (u, n)) in sites.iter().zip(updates) {
            if Some(s.id()) == late {
                continue;
            }
            // FedAvg's numerator and denominator travel in one vector, scaled into range
            let x: Vec<f64> = fedavg::weighted(u, *n as f64)
                .iter()
                .map(|v| v / 100.0)
                .collect();
            round.masked(s.id(), s.masked_input(&x, &q, &u2)?)?;
        }
        let u3 = round.close_masked()?;
        for s in sites
            .iter()
            .filter(|s| u3.contains(&s.id()) && Some(s.id()) != killed)
        {
            round.reveal(s.id(), s.unmask(&u2, &u3)?)?;
        }
        let (sum, n) = round.close_unmask()?;
        let values: Vec<f64> = sum
            .iter()
            .map(|&v| q.dequantize_sum(v, n) * 100.0)
            .collect();
        Ok(fedavg::weighted_mean(&values).unwrap_or_default())
    }

    fn updates() -> Vec<(Vec<f64>, u64)> {
        (0..5u64)
            .map(|i| {
                let u = (0..6)
                    .map(|k| ((i * 5 + k * 3) % 7) as f64 / 7.0 - 0.4)
                    .collect();
                (u, 100 + 37 * i)
            })
            .collect()
    }

    fn plain_fedavg(updates: &[(Vec<f64>, u64)], without: Option<usize>) -> Vec<f64> {
        let kept: Vec<&(Vec<f64>, u64)> = updates
            .iter()
            .enumerate()
            .filter(|(i, _)| Some(*i) != without)
            .map(|(_, u)| u)
            .collect();
        let total: u64 = kept.iter().map(|(_, n)| n).sum();
        (0..kept[0].0.len())
            .map(|k| kept.iter().map(|(u, n)| u[k] * *n as f64).sum::<f64>() / total as f64)
            .collect()
    }

    #[test]
    fn a_killed_site_does_not_stop_the_round_and_the_result_is_fedavg_of_the_survivors() {
        let u = updates();
        for (killed, late, without) in [
            (None, None, None),
            (Some(2), None, None),
            (None, Some(4), Some(3)),
        ] {
            let got = run(&u, killed, late).unwrap();
            let want = plain_fedavg(&u, without);
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() < 1e-6, "{killed:?} {late:?}: {g} vs {w}");
            }
        }
    }

    #[test]
    fn a_changed_spec_a_stranger_and_a_short_round_are_refused() {
        let spec = spec();
        let mut round = Round::new(1, &spec, 3, 4, 3);
        let (_, a1) = Site::new(1).unwrap();
        let mut changed = spec.clone();
        changed.learning_rate = 0.2;
        assert_eq!(
            round.advert(a1.clone(), &changed.sha256()),
            Err(RoundError::Spec(1))
        );
        round.advert(a1.clone(), &spec.sha256()).unwrap();
        assert_eq!(round.advert(a1, &spec.sha256()), Err(RoundError::Twice(1)));
        assert_eq!(round.masked(1, vec![0; 3]), Err(RoundError::Phase(1)));
        // one site of the four required: the round aborts and takes nothing more
        assert!(matches!(round.close_adverts(), Err(RoundError::Aborted(_))));
        assert_eq!(round.phase(), Phase::Aborted);
        let (_, a2) = Site::new(2).unwrap();
        assert!(matches!(
            round.advert(a2, &spec.sha256()),
            Err(RoundError::Aborted(_))
        ));
        // below the threshold after the masked inputs: aborted before anything is revealed
        let u = updates();
        assert!(matches!(
            run(&u[..3], None, Some(1)),
            Err(RoundError::Aborted(_))
        ));
    }
}
