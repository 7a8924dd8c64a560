//! The audit log's Merkle tree, in the shape of RFC 9162 (Certificate Transparency 2.0),
//! section 2.1: leaves hashed as `SHA-256(0x00 || entry)`, interior nodes as
//! `SHA-256(0x01 || left || right)`, a tree of `n` leaves split at the largest power of two
//! below `n`. A signed tree head pins the root of the first `n` entries; a consistency proof
//! shows that a later tree extends an earlier one, so whoever kept an earlier head (a witness)
//! can tell that nothing before it was rewritten, removed or reordered.
//!
//! Tested against the Certificate Transparency reference vectors (RFC 6962's test data).

use sha2::{Digest, Sha256};

/// A node of the tree.
pub type Hash = [u8; 32];

/// The hash of one entry.
pub fn leaf_hash(entry: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(entry);
    h.finalize().into()
}

/// The hash of an interior node.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The root of the empty tree: SHA-256 of nothing.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// The largest power of two smaller than `n` (`n` ≥ 2).
fn split(n: usize) -> usize {
    1 << (usize::BITS - 1 - (n - 1).leading_zeros())
}

/// The Merkle tree hash (MTH) of `leaves` (leaf hashes).
pub fn root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = split(n);
            node_hash(&root(&leaves[..k]), &root(&leaves[k..]))
        }
    }
}

/// The right edge of a growing tree: the roots of its perfect subtrees, left to right. Enough
/// to add leaves and compute the root in O(log n), without the leaves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    peaks: Vec<Hash>,
}

impl Frontier {
    /// Rebuilds a frontier from its size and peaks; `None` when they cannot belong together
    /// (one peak per bit set in `size`).
    pub fn from_parts(size: u64, peaks: Vec<Hash>) -> Option<Self> {
        (peaks.len() == size.count_ones() as usize).then_some(Self { size, peaks })
    }

    /// Leaves so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The roots of the perfect subtrees, left to right.
    pub fn peaks(&self) -> &[Hash] {
        &self.peaks
    }

    /// Adds a leaf hash.
    pub fn push(&mut self, leaf: Hash) {
        self.peaks.push(leaf);
        let mut size = self.size;
        while size & 1 == 1 {
            let right = self.peaks.pop().expect("a peak per set bit");
            let left = self.peaks.pop().expect("a peak per set bit");
            self.peaks.push(node_hash(&left, &right));
            size >>= 1;
        }
        self.size += 1;
    }

    /// The tree's root (equal to [`root`] of its leaves).
    pub fn root(&self) -> Hash {
        let mut peaks = self.peaks.iter().rev();
        let Some(last) = peaks.next() else {
            return empty_root();
        };
        peaks.fold(*last, |acc, left| node_hash(left, &acc))
    }
}

/// The consistency proof from the tree of the first `m` leaves to the tree of all `leaves`
/// (RFC 9162, 2.1.4.1). Empty when `m` is 0 or all of them.
pub fn consistency_proof(m: usize, leaves: &[Hash]) -> Vec<Hash> {
    fn subproof(m: usize, leaves: &[Hash], complete: bool, out: &mut Vec<Hash>) {
        let n = leaves.len();
        if m == n {
            if !complete {
                out.push(root(leaves));
            }
            return;
        }
        let k = split(n);
        if m <= k {
            subproof(m, &leaves[..k], complete, out);
            out.push(root(&leaves[k..]));
        } else {
            subproof(m - k, &leaves[k..], false, out);
            out.push(root(&leaves[..k]));
        }
    }
    let mut out = Vec::new();
    if m > 0 && m < leaves.len() {
        subproof(m, leaves, true, &mut out);
    }
    out
}

/// Whether `proof` shows that the tree of `second` leaves with root `second_root` extends the
/// tree of `first` leaves with root `first_root` (RFC 9162, 2.1.4.2).
pub fn verify_consistency(
    first: u64,
    second: u64,
    first_root: &Hash,
    second_root: &Hash,
    proof: &[Hash],
) -> bool {
    if first > second {
        return false;
    }
    if first == second {
        return proof.is_empty() && first_root == second_root;
    }
    if first == 0 {
        return proof.is_empty();
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if first.is_power_of_two() {
        path.push(*first_root);
    }
    path.extend_from_slice(proof);
    let Some((&start, rest)) = path.split_first() else {
        return false;
    };
    let (mut f, mut s) = (first - 1, second - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (start, start);
    for c in rest {
        if s == 0 {
            return false;
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    fr == *first_root && sr == *second_root && s == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(hex: &str) -> Hash {
        data_encoding::HEXLOWER
            .decode(hex.as_bytes())
            .unwrap()
            .try_into()
            .unwrap()
    }

    /// The Certificate Transparency reference inputs (RFC 6962's test data).
    fn ct_leaves() -> Vec<Hash> {
        [
            "",
            "00",
            "10",
            "2021",
            "3031",
            "40414243",
            "5051525354555657",
            "606162636465666768696a6b6c6d6e6f",
        ]
        .iter()
        .map(|x| leaf_hash(&data_encoding::HEXLOWER.decode(x.as_bytes()).unwrap()))
        .collect()
    }

    const ROOTS: [&str; 9] = [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];

    #[test]
    fn roots_match_the_reference_vectors() {
        let leaves = ct_leaves();
        let mut frontier = Frontier::default();
        assert_eq!(frontier.root(), h(ROOTS[0]));
        for n in 1..=8 {
            frontier.push(leaves[n - 1]);
            assert_eq!(root(&leaves[..n]), h(ROOTS[n]), "MTH of {n}");
            assert_eq!(frontier.root(), h(ROOTS[n]), "frontier of {n}");
        }
    }

    #[test]
    fn consistency_proofs_match_the_reference_vectors() {
        let leaves = ct_leaves();
        let vectors: [(usize, usize, &[&str]); 4] = [
            (1, 1, &[]),
            (
                1,
                8,
                &[
                    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
                ],
            ),
            (
                6,
                8,
                &[
                    "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ],
            ),
            (
                2,
                5,
                &[
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                ],
            ),
        ];
        for (m, n, expected) in vectors {
            let proof = consistency_proof(m, &leaves[..n]);
            let expected: Vec<Hash> = expected.iter().map(|x| h(x)).collect();
            assert_eq!(proof, expected, "proof {m} -> {n}");
            assert!(verify_consistency(
                m as u64,
                n as u64,
                &h(ROOTS[m]),
                &h(ROOTS[n]),
                &proof
            ));
        }
    }

    #[test]
    fn every_pair_of_sizes_is_consistent_and_any_change_is_not() {
        let leaves: Vec<Hash> = (0u16..40).map(|i| leaf_hash(&i.to_le_bytes())).collect();
        for n in 1..=leaves.len() {
            let second = root(&leaves[..n]);
            for m in 1..=n {
                let first = root(&leaves[..m]);
                let proof = consistency_proof(m, &leaves[..n]);
                assert!(
                    verify_consistency(m as u64, n as u64, &first, &second, &proof),
                    "{m} -> {n}"
                );
                if m < n {
                    // another first root, another second root, a changed proof (a size and its root
                    // are signed together, so a proof need not tell sizes apart)
                    let other = leaf_hash(b"rewritten");
                    assert!(!verify_consistency(
                        m as u64, n as u64, &other, &second, &proof
                    ));
                    assert!(!verify_consistency(
                        m as u64, n as u64, &first, &other, &proof
                    ));
                    for i in 0..proof.len() {
                        let mut bad = proof.clone();
                        bad[i][0] ^= 1;
                        assert!(!verify_consistency(
                            m as u64, n as u64, &first, &second, &bad
                        ));
                    }
                }
            }
        }
    }

    #[test]
    fn a_frontier_is_rebuilt_only_from_matching_parts() {
        let mut f = Frontier::default();
        for i in 0u8..13 {
            f.push(leaf_hash(&[i]));
        }
        let again = Frontier::from_parts(f.size(), f.peaks().to_vec()).unwrap();
        assert_eq!(again.root(), f.root());
        assert!(Frontier::from_parts(12, f.peaks().to_vec()).is_none());
    }
}
