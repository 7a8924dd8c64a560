//! Secure aggregation after Bonawitz et al., "Practical Secure Aggregation for
//! Privacy-Preserving Machine Learning" (CCS 2017), in its semi-honest form: the coordinator
//! learns the sum of the sites' updates and nothing else, and sites that drop out are
//! recovered as long as `threshold` sites stay.
//!
//! Each site has two X25519 key pairs: `c` (to encrypt the shares it sends its peers through
//! the coordinator) and `s` (its pairwise masks), and a random self-mask seed `b`. It splits
//! `b` and its `s` secret key into Shamir shares (`threshold` of them recover either) and sends
//! each peer its shares encrypted (AES-256-GCM under HKDF of their `c` agreement, the pair of
//! ids as associated data). Its masked input is its quantized update plus PRG(`b`) plus, for
//! every peer, ± PRG of their `s` agreement (the signs cancel in the sum), modulo 2^64.
//! To unmask, every surviving site reveals, for each peer, the share of `b` if that peer's
//! masked input arrived, or the share of its `s` key if it did not: never both, so the
//! coordinator can remove exactly the masks that are left in the sum. Fewer than `threshold`
//! survivors: a site reveals nothing.

use std::collections::{BTreeMap, BTreeSet};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use rand::RngCore;
use rand_chacha::rand_core::SeedableRng;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroizing;

/// A site's id within a round (distinct, not 0).
pub type SiteId = u32;

/// Why a step of the protocol refused.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum SecAggError {
    #[error("{0} sites take part, fewer than the threshold {1}: nothing is revealed")]
    BelowThreshold(usize, usize),
    #[error("the threshold must be at least 2 and at most the number of sites")]
    BadThreshold,
    #[error("a share from site {0} does not decrypt: it was changed or is not for this site")]
    BadShare(SiteId),
    #[error("site {0} is unknown in this round")]
    UnknownSite(SiteId),
    #[error("the sets of sites do not nest (the sites whose input arrived must have shared keys)")]
    BadSets,
    #[error("a secret could not be recovered from the shares revealed for site {0}")]
    Unrecoverable(SiteId),
    #[error("an update has {0} values, the round {1}")]
    Dimension(usize, usize),
    #[error("the system random source failed")]
    Random,
}

/// Results of this module.
pub type Result<T> = std::result::Result<T, SecAggError>;

/// How updates become numbers modulo 2^64: each value clipped to [−clip, clip] and written in
/// fixed point, with a scale small enough that the sum of `sites` values cannot wrap.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Quantizer {
    pub clip: f64,
    pub scale: f64,
}

impl Quantizer {
    /// The finest scale for `sites` values in [−clip, clip].
    pub fn for_sites(sites: usize, clip: f64) -> Self {
        let span = 2.0 * clip * sites.max(1) as f64;
        Self {
            clip,
            // 2^63: the sum of `sites` values stays below 2^64 with room for rounding
            scale: (9_223_372_036_854_775_808.0 / span).floor(),
        }
    }

    fn quantize(&self, x: f64) -> u64 {
        let v = (x.clamp(-self.clip, self.clip) + self.clip) * self.scale;
        v.round() as u64
    }

    /// Values in fixed point, unmasked (a federation without secure aggregation).
    pub fn encode(&self, x: &[f64]) -> Vec<u64> {
        x.iter().map(|&v| self.quantize(v)).collect()
    }

    /// The sum of `n` quantized values back as a number.
    pub fn dequantize_sum(&self, q: u64, n: usize) -> f64 {
        q as f64 / self.scale - n as f64 * self.clip
    }

    /// The largest error of one value once quantized.
    pub fn step(&self) -> f64 {
        0.5 / self.scale
    }
}

/// What a site advertises in round 0.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Advert {
    pub site: SiteId,
    /// For the encryption of shares.
    pub c_public: [u8; 32],
    /// For the pairwise masks.
    pub s_public: [u8; 32],
}

/// Shares from one site to another, encrypted; the coordinator only relays it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    pub from: SiteId,
    pub to: SiteId,
    /// nonce (12 bytes) then AES-256-GCM ciphertext.
    pub sealed: Vec<u8>,
}

/// What a site reveals about a peer in the unmasking round.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reveal {
    /// The share of a surviving peer's self-mask seed.
    SelfMask { of: SiteId, share: Vec<u8> },
    /// The share of a dropped peer's mask key.
    MaskKey { of: SiteId, share: Vec<u8> },
}

fn random32() -> Result<[u8; 32]> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|_| SecAggError::Random)?;
    Ok(b)
}

fn hkdf(ikm: &[u8], info: &[&[u8]]) -> [u8; 32] {
    let h = hkdf::Hkdf::<Sha256>::new(Some(b"airlock-fl/secagg/v1"), ikm);
    let info: Vec<u8> = info.concat();
    let mut out = [0u8; 32];
    // 32 bytes is always a valid HKDF-SHA256 output length
    let _ = h.expand(&info, &mut out);
    out
}

/// The PRG: `dim` numbers modulo 2^64 from a 32-byte seed (ChaCha20).
fn expand(seed: &[u8; 32], dim: usize) -> Vec<u64> {
    let mut rng = rand_chacha::ChaCha20Rng::from_seed(*seed);
    (0..dim).map(|_| rng.next_u64()).collect()
}

/// The pairwise mask seed of `i` and `j` from their `s` agreement (the same on both sides).
fn pair_seed(shared: &[u8; 32], i: SiteId, j: SiteId) -> [u8; 32] {
    let (lo, hi) = (i.min(j), i.max(j));
    hkdf(shared, &[b"mask", &lo.to_be_bytes(), &hi.to_be_bytes()])
}

/// Adds (`sign` +1) or subtracts the PRG of `seed` into `acc`.
fn apply(acc: &mut [u64], seed: &[u8; 32], add: bool) {
    let mask = expand(seed, acc.len());
    for (a, m) in acc.iter_mut().zip(mask) {
        *a = if add {
            a.wrapping_add(m)
        } else {
            a.wrapping_sub(m)
        };
    }
}

/// One site's side of a round.
pub struct Site {
    id: SiteId,
    c_secret: StaticSecret,
    s_secret: StaticSecret,
    self_seed: Zeroizing<[u8; 32]>,
    adverts: BTreeMap<SiteId, Advert>,
    /// The shares peers sent this site: (share of their `b`, share of their `s` key).
    held: BTreeMap<SiteId, (Vec<u8>, Vec<u8>)>,
    threshold: usize,
}

impl Site {
    /// A site with fresh keys, and its advert.
    pub fn new(id: SiteId) -> Result<(Self, Advert)> {
        let c_secret = StaticSecret::from(random32()?);
        let s_secret = StaticSecret::from(random32()?);
        let advert = Advert {
            site: id,
            c_public: PublicKey::from(&c_secret).to_bytes(),
            s_public: PublicKey::from(&s_secret).to_bytes(),
        };
        Ok((
            Self {
                id,
                c_secret,
                s_secret,
                self_seed: Zeroizing::new(random32()?),
                adverts: BTreeMap::new(),
                held: BTreeMap::new(),
                threshold: 0,
            },
            advert,
        ))
    }

    /// This site's id.
    pub fn id(&self) -> SiteId {
        self.id
    }

    fn share_key(&self, peer: &Advert) -> [u8; 32] {
        let shared = self
            .c_secret
            .diffie_hellman(&PublicKey::from(peer.c_public));
        let (lo, hi) = (self.id.min(peer.site), self.id.max(peer.site));
        hkdf(
            shared.as_bytes(),
            &[b"share", &lo.to_be_bytes(), &hi.to_be_bytes()],
        )
    }

    fn aad(from: SiteId, to: SiteId) -> [u8; 8] {
        let mut a = [0u8; 8];
        a[..4].copy_from_slice(&from.to_be_bytes());
        a[4..].copy_from_slice(&to.to_be_bytes());
        a
    }

    /// Round 1: the adverts of every site in the round (this one's included); an envelope
    /// of shares for every other site.
    pub fn share_keys(&mut self, adverts: &[Advert], threshold: usize) -> Result<Vec<Envelope>> {
        if threshold < 2 || threshold > adverts.len() {
            return Err(SecAggError::BadThreshold);
        }
        self.threshold = threshold;
        self.adverts = adverts.iter().map(|a| (a.site, a.clone())).collect();
        let n = adverts.len();
        let sharks =
            sharks::Sharks(u8::try_from(threshold).map_err(|_| SecAggError::BadThreshold)?);
        let s_bytes = Zeroizing::new(self.s_secret.to_bytes());
        let b_shares: Vec<sharks::Share> = sharks.dealer(self.self_seed.as_ref()).take(n).collect();
        let s_shares: Vec<sharks::Share> = sharks.dealer(s_bytes.as_ref()).take(n).collect();
        let mut out = Vec::new();
        for (k, peer) in adverts.iter().enumerate() {
            let b = Vec::from(&b_shares[k]);
            let s = Vec::from(&s_shares[k]);
            if peer.site == self.id {
                self.held.insert(self.id, (b, s));
                continue;
            }
            let mut plain = Zeroizing::new(Vec::with_capacity(b.len() + s.len() + 2));
            plain.push(u8::try_from(b.len()).map_err(|_| SecAggError::BadThreshold)?);
            plain.extend_from_slice(&b);
            plain.extend_from_slice(&s);
            let cipher = Aes256Gcm::new_from_slice(&self.share_key(peer))
                .map_err(|_| SecAggError::Random)?;
            let nonce: [u8; 12] = random32()?[..12]
                .try_into()
                .map_err(|_| SecAggError::Random)?;
            let sealed = cipher
                .encrypt(
                    Nonce::from_slice(&nonce),
                    Payload {
                        msg: &plain,
                        aad: &Self::aad(self.id, peer.site),
                    },
                )
                .map_err(|_| SecAggError::Random)?;
            out.push(Envelope {
                from: self.id,
                to: peer.site,
                sealed: nonce.iter().copied().chain(sealed).collect(),
            });
        }
        Ok(out)
    }

    /// Takes the envelopes addressed to this site.
    pub fn receive(&mut self, envelopes: &[Envelope]) -> Result<()> {
        for e in envelopes.iter().filter(|e| e.to == self.id) {
            let peer = self
                .adverts
                .get(&e.from)
                .ok_or(SecAggError::UnknownSite(e.from))?;
            if e.sealed.len() < 12 {
                return Err(SecAggError::BadShare(e.from));
            }
            let cipher = Aes256Gcm::new_from_slice(&self.share_key(peer))
                .map_err(|_| SecAggError::Random)?;
            let plain = Zeroizing::new(
                cipher
                    .decrypt(
                        Nonce::from_slice(&e.sealed[..12]),
                        Payload {
                            msg: &e.sealed[12..],
                            aad: &Self::aad(e.from, self.id),
                        },
                    )
                    .map_err(|_| SecAggError::BadShare(e.from))?,
            );
            let blen = usize::from(*plain.first().ok_or(SecAggError::BadShare(e.from))?);
            if plain.len() < 1 + blen {
                return Err(SecAggError::BadShare(e.from));
            }
            self.held.insert(
                e.from,
                (plain[1..1 + blen].to_vec(), plain[1 + blen..].to_vec()),
            );
        }
        Ok(())
    }

    /// Round 2: the masked, quantized update. `u2`: the sites whose shares went out (every
    /// pairwise mask with them is added).
    pub fn masked_input(&self, x: &[f64], q: &Quantizer, u2: &[SiteId]) -> Result<Vec<u64>> {
        let mut y: Vec<u64> = x.iter().map(|&v| q.quantize(v)).collect();
        apply(&mut y, &self.self_seed, true);
        for &j in u2.iter().filter(|&&j| j != self.id) {
            let peer = self.adverts.get(&j).ok_or(SecAggError::UnknownSite(j))?;
            let shared = self
                .s_secret
                .diffie_hellman(&PublicKey::from(peer.s_public));
            apply(
                &mut y,
                &pair_seed(shared.as_bytes(), self.id, j),
                self.id < j,
            );
        }
        Ok(y)
    }

    /// Round 3: for each peer in `u2`, the share of its self-mask seed if its input arrived
    /// (it is in `u3`), else the share of its mask key. Refuses when fewer than the threshold
    /// survive, or when the sets do not nest.
    pub fn unmask(&self, u2: &[SiteId], u3: &[SiteId]) -> Result<Vec<Reveal>> {
        let u2s: BTreeSet<_> = u2.iter().copied().collect();
        let u3s: BTreeSet<_> = u3.iter().copied().collect();
        if !u3s.is_subset(&u2s) || !u3s.contains(&self.id) {
            return Err(SecAggError::BadSets);
        }
        if u3s.len() < self.threshold {
            return Err(SecAggError::BelowThreshold(u3s.len(), self.threshold));
        }
        let mut out = Vec::new();
        for &i in &u2s {
            let (b, s) = self.held.get(&i).ok_or(SecAggError::UnknownSite(i))?;
            out.push(if u3s.contains(&i) {
                Reveal::SelfMask {
                    of: i,
                    share: b.clone(),
                }
            } else {
                Reveal::MaskKey {
                    of: i,
                    share: s.clone(),
                }
            });
        }
        Ok(out)
    }
}

/// The coordinator's last step: the sum of the inputs in `masked` (the sites of `u3`) from
/// the revealed shares. It never holds an unmasked input.
pub fn unmask_sum(
    adverts: &[Advert],
    u2: &[SiteId],
    masked: &BTreeMap<SiteId, Vec<u64>>,
    reveals: &[Vec<Reveal>],
    threshold: usize,
    dim: usize,
) -> Result<Vec<u64>> {
    let u3: BTreeSet<SiteId> = masked.keys().copied().collect();
    if u3.len() < threshold || reveals.len() < threshold {
        return Err(SecAggError::BelowThreshold(
            u3.len().min(reveals.len()),
            threshold,
        ));
    }
    let sharks = sharks::Sharks(u8::try_from(threshold).map_err(|_| SecAggError::BadThreshold)?);
    let mut sum = vec![0u64; dim];
    for y in masked.values() {
        if y.len() != dim {
            return Err(SecAggError::Dimension(y.len(), dim));
        }
        for (s, v) in sum.iter_mut().zip(y) {
            *s = s.wrapping_add(*v);
        }
    }
    let recover = |of: SiteId, self_mask: bool| -> Result<[u8; 32]> {
        let shares: Vec<sharks::Share> = reveals
            .iter()
            .flatten()
            .filter_map(|r| match r {
                Reveal::SelfMask { of: o, share } if self_mask && *o == of => Some(share),
                Reveal::MaskKey { of: o, share } if !self_mask && *o == of => Some(share),
                _ => None,
            })
            .filter_map(|s| sharks::Share::try_from(s.as_slice()).ok())
            .collect();
        let secret = sharks
            .recover(&shares)
            .map_err(|_| SecAggError::Unrecoverable(of))?;
        secret
            .try_into()
            .map_err(|_| SecAggError::Unrecoverable(of))
    };
    // the survivors' self masks
    for &i in &u3 {
        let seed = recover(i, true)?;
        apply(&mut sum, &seed, false);
    }
    // the dropped sites' pairwise masks with the survivors, which stayed in the sum
    let by_id: BTreeMap<SiteId, &Advert> = adverts.iter().map(|a| (a.site, a)).collect();
    for &d in u2.iter().filter(|d| !u3.contains(d)) {
        let key = StaticSecret::from(recover(d, false)?);
        for &j in &u3 {
            let peer = by_id.get(&j).ok_or(SecAggError::UnknownSite(j))?;
            let shared = key.diffie_hellman(&PublicKey::from(peer.s_public));
            // survivor j added +PRG when j < d, −PRG when j > d: take it away again
            apply(&mut sum, &pair_seed(shared.as_bytes(), d, j), j > d);
        }
    }
    Ok(sum)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the coordinator received: each site's masked input.
    type Masked = BTreeMap<SiteId, Vec<u64>>;

    /// A whole round in memory: `drop_before` sites never send their masked input,
    /// `silent` ones send it but do not take part in unmasking.
    fn round(
        updates: &[Vec<f64>],
        threshold: usize,
        drop_before: &[SiteId],
        silent: &[SiteId],
    ) -> Result<(Vec<f64>, Masked)> {
        let n = updates.len();
        let dim = updates[0].len();
        let q = Quantizer::for_sites(n, 4.0);
        let (mut sites, adverts): (Vec<Site>, Vec<Advert>) =
            (1..=n as SiteId).map(|id| Site::new(id).unwrap()).unzip();
        let mut envelopes = Vec::new();
        for s in &mut sites {
            envelopes.extend(s.share_keys(&adverts, threshold)?);
        }
        for s in &mut sites {
            s.receive(&envelopes)?;
        }
        let u2: Vec<SiteId> = adverts.iter().map(|a| a.site).collect();
        let mut masked = BTreeMap::new();
        for (s, x) in sites.iter().zip(updates) {
            if !drop_before.contains(&s.id()) {
                masked.insert(s.id(), s.masked_input(x, &q, &u2)?);
            }
        }
        let u3: Vec<SiteId> = masked.keys().copied().collect();
        let mut reveals = Vec::new();
        for s in sites
            .iter()
            .filter(|s| u3.contains(&s.id()) && !silent.contains(&s.id()))
        {
            reveals.push(s.unmask(&u2, &u3)?);
        }
        let sum = unmask_sum(&adverts, &u2, &masked, &reveals, threshold, dim)?;
        let values = sum.iter().map(|&v| q.dequantize_sum(v, u3.len())).collect();
        Ok((values, masked))
    }

    fn updates(n: usize, dim: usize) -> Vec<Vec<f64>> {
        (0..n)
            .map(|i| {
                (0..dim)
                    .map(|k| ((i * 7 + k * 3) % 11) as f64 / 4.0 - 1.2)
                    .collect()
            })
            .collect()
    }

    #[test]
    fn the_sum_of_the_survivors_and_nothing_else() {
        let x = updates(5, 40);
        let q = Quantizer::for_sites(5, 4.0);
        let tol = 5.0 * q.step() + 1e-9;
        // everyone, then one site lost before its input, then one silent at unmasking
        for (drop_before, silent) in [(vec![], vec![]), (vec![3], vec![]), (vec![2], vec![5])] {
            let (sum, masked) = round(&x, 3, &drop_before, &silent).unwrap();
            for (k, s) in sum.iter().enumerate() {
                let want: f64 = x
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| !drop_before.contains(&(*i as SiteId + 1)))
                    .map(|(_, u)| u[k])
                    .sum();
                assert!(
                    (s - want).abs() <= tol,
                    "{drop_before:?} {k}: {s} vs {want}"
                );
            }
            // what the coordinator received is no site's update
            for (id, y) in &masked {
                let plain: Vec<u64> = x[*id as usize - 1].iter().map(|&v| q.quantize(v)).collect();
                let same = y.iter().zip(&plain).filter(|(a, b)| a == b).count();
                assert!(
                    same < 3,
                    "site {id}'s masked input equals its update in {same} places"
                );
            }
        }
    }

    #[test]
    fn below_the_threshold_nothing_is_revealed() {
        let x = updates(4, 8);
        // two sites lost before their input: two survivors, threshold three
        let err = round(&x, 3, &[1, 2], &[]).unwrap_err();
        assert_eq!(err, SecAggError::BelowThreshold(2, 3));
        // and a site asked to unmask below the threshold reveals nothing itself
        let (mut site, a1) = Site::new(1).unwrap();
        let (_, a2) = Site::new(2).unwrap();
        let (_, a3) = Site::new(3).unwrap();
        site.share_keys(&[a1, a2, a3], 3).unwrap();
        assert!(matches!(
            site.unmask(&[1, 2, 3], &[1, 2]),
            Err(SecAggError::BelowThreshold(2, 3))
        ));
        assert_eq!(site.unmask(&[1, 2], &[1, 3]), Err(SecAggError::BadSets));
    }

    #[test]
    fn a_changed_or_misdirected_envelope_is_refused() {
        let (mut a, aa) = Site::new(1).unwrap();
        let (mut b, ab) = Site::new(2).unwrap();
        let (mut c, ac) = Site::new(3).unwrap();
        let adverts = [aa, ab, ac];
        let from_a = a.share_keys(&adverts, 2).unwrap();
        b.share_keys(&adverts, 2).unwrap();
        c.share_keys(&adverts, 2).unwrap();
        let mut to_b = from_a.iter().find(|e| e.to == 2).unwrap().clone();
        to_b.sealed[20] ^= 1;
        assert_eq!(b.receive(&[to_b.clone()]), Err(SecAggError::BadShare(1)));
        // the coordinator readdressing b's envelope to c: c cannot open it
        let mut to_c = from_a.iter().find(|e| e.to == 2).unwrap().clone();
        to_c.to = 3;
        assert_eq!(c.receive(&[to_c]), Err(SecAggError::BadShare(1)));
    }

    #[test]
    fn quantization_is_within_half_a_step_and_sums_do_not_wrap() {
        let q = Quantizer::for_sites(10, 2.0);
        let top: u128 = (0..10).map(|_| u128::from(q.quantize(2.0))).sum();
        assert!(top <= u128::from(u64::MAX));
        for x in [-2.0, -1.234_567, 0.0, 0.5, 1.999_999] {
            let back = q.dequantize_sum(q.quantize(x), 1);
            assert!((back - x).abs() <= q.step() + 1e-12, "{x} {back}");
        }
        assert_eq!(q.dequantize_sum(q.quantize(9.0), 1), 2.0);
    }
}
