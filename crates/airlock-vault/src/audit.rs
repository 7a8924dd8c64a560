//! The tamper-evident audit log: append-only JSONL, one event a line. Every line is a leaf of
//! a Merkle tree in the shape of RFC 9162 ([`crate::merkle`]) and holds the SHA-256 of the line
//! before it; every append ends with a checkpoint that carries a signed tree head (the number
//! of entries before it and their Merkle root, ed25519, with a key used for nothing else). The
//! log must end with a checkpoint: entries after the last signed head are an unsigned tail.
//! `verify` finds any edit, deletion, insertion, reordering, truncation or unsigned tail and
//! names the first bad entry; [`verify_from`] also proves, with a consistency proof, that the
//! log extends a tree head exported earlier ([`TreeHead`], kept by a witness), which catches a
//! log rewritten and re-signed by someone holding the key. Writers take an exclusive lock on
//! the file, so two processes appending at once cannot interleave.
//!
//! No value from the data ever enters an event: actors, roles, purposes, actions, dataset ids
//! and hashes only.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

pub use ed25519_dalek::VerifyingKey;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use airlock_core::keys::PurposeKey;

use crate::error::{Result, VaultError};
use crate::merkle::{self, Frontier, Hash};

/// The hash that the first entry's `prev` holds.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One event: who did what to which dataset, and how it ended.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub actor: String,
    pub role: String,
    pub purpose: String,
    /// `put`, `get`, `ls`, `shred`, `deid`, `scan`, `checkpoint`, ...
    pub action: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub dataset: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub object_sha256: Option<String>,
    /// `ok`, `denied`, `failed`.
    pub outcome: String,
    /// What else the event's writer records: counts, names from its configuration, hashes
    /// (the gateway's route, model, token and identifier counts, latency). Never a value.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub detail: Option<serde_json::Map<String, serde_json::Value>>,
}

/// A line of the log as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub seq: u64,
    pub time: String,
    #[serde(flatten)]
    pub event: Event,
    /// SHA-256 (hex) of the previous line's bytes, or [`GENESIS`].
    pub prev: String,
    /// On checkpoints: the entries before it, whose Merkle root `root` holds.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub tree_size: Option<u64>,
    /// On checkpoints: the Merkle root of the first `tree_size` entries, hex.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub root: Option<String>,
    /// On checkpoints: the tree's right edge (its perfect subtrees' roots, hex), so the next
    /// append goes on without reading the whole log.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub frontier: Option<Vec<String>>,
    /// On checkpoints: ed25519 over the tree head (`tree_size`, `root`, `time`), hex.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub signature: Option<String>,
}

/// A signed tree head: the size and Merkle root of the log's first entries, signed. Export one
/// now and then to a witness (another machine, a ticket, storage with retention); a log that no
/// longer extends it was rewritten ([`verify_from`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TreeHead {
    /// `airlock-audit-tree-head/v1`.
    pub format: String,
    pub tree_size: u64,
    /// Hex SHA-256.
    pub root_hash: String,
    /// When it was signed (RFC 3339).
    pub time: String,
    /// Ed25519 over [`TreeHead::signed_bytes`], hex.
    pub signature: String,
    /// The key that signed it, hex (informative: a verifier brings the key it trusts).
    pub public_key: String,
}

/// [`TreeHead::format`].
pub const TREE_HEAD_FORMAT: &str = "airlock-audit-tree-head/v1";

impl TreeHead {
    fn signed_bytes(tree_size: u64, root_hash: &str, time: &str) -> Vec<u8> {
        format!("{TREE_HEAD_FORMAT}\n{tree_size}\n{root_hash}\n{time}").into_bytes()
    }

    /// Whether `key` signed this head.
    pub fn verify(&self, key: &VerifyingKey) -> bool {
        self.format == TREE_HEAD_FORMAT
            && decode_signature(&self.signature).is_some_and(|sig| {
                key.verify(
                    &Self::signed_bytes(self.tree_size, &self.root_hash, &self.time),
                    &sig,
                )
                .is_ok()
            })
    }

    fn root(&self) -> Option<Hash> {
        decode_hash(&self.root_hash)
    }
}

fn decode_signature(hex: &str) -> Option<Signature> {
    let b = data_encoding::HEXLOWER.decode(hex.as_bytes()).ok()?;
    Some(Signature::from_bytes(
        &<[u8; 64]>::try_from(b.as_slice()).ok()?,
    ))
}

fn decode_hash(hex: &str) -> Option<Hash> {
    let b = data_encoding::HEXLOWER.decode(hex.as_bytes()).ok()?;
    <[u8; 32]>::try_from(b.as_slice()).ok()
}

fn hex(bytes: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(bytes)
}

/// What a verified log holds.
#[derive(Debug, Clone)]
pub struct Verified {
    /// Entries.
    pub entries: u64,
    /// The last checkpoint's signed head (`None` for an empty log).
    pub head: Option<TreeHead>,
    /// Every entry's leaf hash, in order.
    pub leaves: Vec<Hash>,
}

/// The workspace's audit log.
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    signing: SigningKey,
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// What an entry's `prev` holds for the line before it: the SHA-256 of its bytes, hex.
pub fn line_hash(line: &[u8]) -> String {
    sha256_hex(line)
}

fn broken(path: &Path, line: u64, problem: &str) -> VaultError {
    VaultError::AuditBroken {
        path: path.to_path_buf(),
        line,
        problem: problem.into(),
    }
}

impl AuditLog {
    /// The log at `path`, signing tree heads with a key derived from `signing_purpose` (one
    /// used for nothing else).
    pub fn new(path: impl Into<PathBuf>, signing_purpose: &PurposeKey) -> Self {
        Self {
            path: path.into(),
            signing: crate::lineage::signing_key(signing_purpose),
        }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The public key that verifies tree heads, hex.
    pub fn public_key_hex(&self) -> String {
        hex(self.signing.verifying_key().as_bytes())
    }

    /// Appends `events` and a signed checkpoint after them, under an exclusive lock.
    /// Returns the last entry's sequence number and the SHA-256 of the last line.
    pub fn append(&self, events: &[Event]) -> Result<(u64, String)> {
        let io = |action, e| VaultError::io(action, &self.path, e);
        let mut options = OpenOptions::new();
        options.read(true).append(true).create(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&self.path).map_err(|e| io("open", e))?;
        file.lock().map_err(|e| io("lock", e))?;
        let (mut seq, mut prev, mut tree) = tail_state(&mut file, &self.path)?;
        let mut out = Vec::new();
        let now = airlock_core::manifest::now_rfc3339();
        let checkpoint = Event {
            actor: "airlock".into(),
            action: "checkpoint".into(),
            outcome: "ok".into(),
            ..Event::default()
        };
        for (i, event) in events.iter().chain([&checkpoint]).enumerate() {
            seq += 1;
            let mut entry = Entry {
                seq,
                time: now.clone(),
                event: event.clone(),
                prev: prev.clone(),
                tree_size: None,
                root: None,
                frontier: None,
                signature: None,
            };
            if i == events.len() {
                let root = hex(&tree.root());
                let sig = self
                    .signing
                    .sign(&TreeHead::signed_bytes(tree.size(), &root, &now));
                entry.tree_size = Some(tree.size());
                entry.root = Some(root);
                entry.frontier = Some(tree.peaks().iter().map(|p| hex(p)).collect());
                entry.signature = Some(hex(&sig.to_bytes()));
            }
            let mut line =
                serde_json::to_vec(&entry).map_err(|e| io("write", std::io::Error::other(e)))?;
            prev = sha256_hex(&line);
            tree.push(merkle::leaf_hash(&line));
            line.push(b'\n');
            out.extend_from_slice(&line);
        }
        file.write_all(&out).map_err(|e| io("append to", e))?;
        file.sync_data().map_err(|e| io("sync", e))?;
        file.unlock().map_err(|e| io("unlock", e))?;
        Ok((seq, prev))
    }

    /// Reads every entry (for `audit show`).
    pub fn entries(&self) -> Result<Vec<Entry>> {
        let file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(VaultError::io("read", &self.path, e)),
        };
        let mut out = Vec::new();
        for (i, line) in BufReader::new(file).lines().enumerate() {
            let line = line.map_err(|e| VaultError::io("read", &self.path, e))?;
            out.push(
                serde_json::from_str(&line)
                    .map_err(|_| self.broken(i as u64 + 1, "is not a log entry"))?,
            );
        }
        Ok(out)
    }

    fn broken(&self, line: u64, problem: &str) -> VaultError {
        broken(&self.path, line, problem)
    }

    /// Checks the whole log ([`verify_log`]) against `public_key`, and, when given, that it
    /// ends where the catalog says it last ended (truncation).
    pub fn verify(
        &self,
        public_key: &VerifyingKey,
        expected_head: Option<(u64, &str)>,
    ) -> Result<Verified> {
        verify_log(&self.path, public_key, expected_head)
    }

    /// The public key that verifies tree heads.
    pub fn public_key(&self) -> VerifyingKey {
        self.signing.verifying_key()
    }
}

/// Verifies the log at `path` with `public_key` alone (no workspace): every entry reads as
/// written and chains to the one before it, every checkpoint's tree head is the Merkle root of
/// the entries before it and is signed by `public_key`, and the log ends with a checkpoint.
/// With `expected_head` (sequence number and hash of the last line, as the catalog recorded
/// it), a cut tail is caught too.
pub fn verify_log(
    path: &Path,
    public_key: &VerifyingKey,
    expected_head: Option<(u64, &str)>,
) -> Result<Verified> {
    let file = File::open(path).map_err(|e| VaultError::io("read", path, e))?;
    let mut prev = GENESIS.to_owned();
    let mut seq = 0u64;
    let mut tree = Frontier::default();
    let mut leaves = Vec::new();
    let mut head = None;
    let mut reader = BufReader::new(file);
    let mut raw = Vec::new();
    loop {
        raw.clear();
        let n = reader
            .read_until(b'\n', &mut raw)
            .map_err(|e| VaultError::io("read", path, e))?;
        if n == 0 {
            break;
        }
        let line_no = seq + 1;
        let Some(body) = raw.strip_suffix(b"\n") else {
            return Err(broken(path, line_no, "is cut short (no end of line)"));
        };
        let entry: Entry = serde_json::from_slice(body)
            .map_err(|_| broken(path, line_no, "is not a log entry"))?;
        if entry.seq != line_no {
            return Err(broken(
                path,
                line_no,
                &format!(
                    "has sequence number {} (entries were deleted, inserted or reordered)",
                    entry.seq
                ),
            ));
        }
        if entry.prev != prev {
            return Err(broken(
                path,
                line_no,
                "does not chain to the entry before it (that entry was edited, or entries were removed)",
            ));
        }
        // the hash of exactly what was written, so any edit shows in the next entry
        if serde_json::to_vec(&entry).ok().as_deref() != Some(body) {
            return Err(broken(
                path,
                line_no,
                "was edited (it no longer reads as written)",
            ));
        }
        if entry.event.action == "checkpoint" {
            head = Some(check_tree_head(path, public_key, &entry, &tree)?);
        } else if entry.tree_size.is_some() || entry.root.is_some() || entry.signature.is_some() {
            return Err(broken(
                path,
                line_no,
                "carries a tree head but is no checkpoint",
            ));
        }
        let leaf = merkle::leaf_hash(body);
        tree.push(leaf);
        leaves.push(leaf);
        prev = sha256_hex(body);
        seq = line_no;
    }
    let signed = head.as_ref().map_or(0, |h: &TreeHead| h.tree_size + 1);
    if signed < seq {
        return Err(broken(
            path,
            signed + 1,
            "and every entry after it are not under any signed tree head (an unsigned tail: entries added without the key, or the last checkpoint removed)",
        ));
    }
    if let Some((head_seq, head_hash)) = expected_head
        && (seq < head_seq || seq == head_seq && prev != head_hash)
    {
        return Err(broken(
            path,
            seq + 1,
            &format!(
                "is missing: the log was cut after entry {seq}, the catalog recorded {head_seq}"
            ),
        ));
    }
    Ok(Verified {
        entries: seq,
        head,
        leaves,
    })
}

/// A checkpoint's tree head, checked against the tree of the entries before it.
fn check_tree_head(
    path: &Path,
    public_key: &VerifyingKey,
    entry: &Entry,
    tree: &Frontier,
) -> Result<TreeHead> {
    let bad = |problem: &str| broken(path, entry.seq, problem);
    let (Some(size), Some(root), Some(signature)) =
        (entry.tree_size, &entry.root, &entry.signature)
    else {
        return Err(bad("is a checkpoint without a signed tree head"));
    };
    if size != tree.size() {
        return Err(bad(&format!(
            "is a checkpoint over {size} entries, but {} come before it",
            tree.size()
        )));
    }
    if decode_hash(root) != Some(tree.root()) {
        return Err(bad(
            "is a checkpoint whose Merkle root is not that of the entries before it (an earlier entry was changed)",
        ));
    }
    let peaks: Option<Vec<String>> = Some(tree.peaks().iter().map(|p| hex(p)).collect());
    if entry.frontier != peaks {
        return Err(bad("is a checkpoint whose tree edge was changed"));
    }
    let head = TreeHead {
        format: TREE_HEAD_FORMAT.into(),
        tree_size: size,
        root_hash: root.clone(),
        time: entry.time.clone(),
        signature: signature.clone(),
        public_key: hex(public_key.as_bytes()),
    };
    if !head.verify(public_key) {
        return Err(bad("is a checkpoint whose signature does not verify"));
    }
    Ok(head)
}

/// Verifies the log at `path` ([`verify_log`]) and that it extends `earlier`, a tree head
/// obtained before (from `airlock audit head --export`); see [`check_extends`]. Returns the
/// log's verification.
pub fn verify_from(path: &Path, public_key: &VerifyingKey, earlier: &TreeHead) -> Result<Verified> {
    let verified = verify_log(path, public_key, None)?;
    check_extends(path, public_key, earlier, &verified)?;
    Ok(verified)
}

/// Whether the verified log at `path` extends `earlier`: `earlier` is signed by `public_key`,
/// the log's last signed head covers at least as many entries, and the consistency proof from
/// `earlier` to it holds (RFC 9162). A log rewritten, reordered or cut before `earlier`'s size
/// fails here even when every checkpoint in it was re-signed.
pub fn check_extends(
    path: &Path,
    public_key: &VerifyingKey,
    earlier: &TreeHead,
    verified: &Verified,
) -> Result<()> {
    let bad = |line: u64, problem: &str| broken(path, line, problem);
    if !earlier.verify(public_key) {
        return Err(bad(
            0,
            "cannot be checked against the tree head given: it is not signed by this public key",
        ));
    }
    let Some(earlier_root) = earlier.root() else {
        return Err(bad(
            0,
            "cannot be checked: the tree head's root is not a hash",
        ));
    };
    let (size, root) = match &verified.head {
        Some(h) => (h.tree_size, h.root().unwrap_or_else(merkle::empty_root)),
        None => (0, merkle::empty_root()),
    };
    if earlier.tree_size > size {
        return Err(bad(
            size + 1,
            &format!(
                "is missing: the log was cut; the tree head given covers {} entries, the log signs {size}",
                earlier.tree_size
            ),
        ));
    }
    let m = usize::try_from(earlier.tree_size).unwrap_or(usize::MAX);
    let n = usize::try_from(size).unwrap_or(usize::MAX);
    let proof = merkle::consistency_proof(m, &verified.leaves[..n]);
    if !merkle::verify_consistency(earlier.tree_size, size, &earlier_root, &root, &proof) {
        return Err(bad(
            earlier.tree_size,
            "or an entry before it was changed, removed or reordered since the tree head given was signed (the log does not extend it)",
        ));
    }
    Ok(())
}

/// Where an append goes on: the last line's sequence number and hash, and the Merkle tree of
/// every line so far, from the last checkpoint's tree edge (reading only the file's tail), or
/// from every line where the log does not end with one.
fn tail_state(file: &mut File, path: &Path) -> Result<(u64, String, Frontier)> {
    let io = |e| VaultError::io("read", path, e);
    let len = file.seek(SeekFrom::End(0)).map_err(io)?;
    if len == 0 {
        return Ok((0, GENESIS.to_owned(), Frontier::default()));
    }
    let mut back = 4096u64;
    let last = loop {
        let start = len.saturating_sub(back);
        file.seek(SeekFrom::Start(start)).map_err(io)?;
        let mut tail = Vec::new();
        file.read_to_end(&mut tail).map_err(io)?;
        let body = tail.strip_suffix(b"\n").unwrap_or(&tail);
        if let Some(i) = body.iter().rposition(|&b| b == b'\n') {
            break body[i + 1..].to_vec();
        }
        if start == 0 {
            break body.to_vec();
        }
        back *= 4;
    };
    let entry: Entry = serde_json::from_slice(&last).map_err(|_| {
        broken(
            path,
            0,
            "cannot be appended to: its last line is not a log entry",
        )
    })?;
    let edge = entry.frontier.as_ref().and_then(|peaks| {
        let peaks: Option<Vec<Hash>> = peaks.iter().map(|p| decode_hash(p)).collect();
        Frontier::from_parts(entry.tree_size?, peaks?)
    });
    let tree = match edge {
        Some(mut tree) if tree.size() + 1 == entry.seq => {
            tree.push(merkle::leaf_hash(&last));
            tree
        }
        _ => {
            // no usable edge: hash every line
            file.seek(SeekFrom::Start(0)).map_err(io)?;
            let mut tree = Frontier::default();
            for line in BufReader::new(&mut *file).split(b'\n') {
                tree.push(merkle::leaf_hash(&line.map_err(io)?));
            }
            tree
        }
    };
    Ok((entry.seq, sha256_hex(&last), tree))
}

/// A public key as hex (what [`public_key`] reads).
pub fn public_key_hex(key: &VerifyingKey) -> String {
    hex(key.as_bytes())
}

/// Parses a hex public key.
pub fn public_key(hex: &str) -> Option<VerifyingKey> {
    let b = data_encoding::HEXLOWER.decode(hex.trim().as_bytes()).ok()?;
    VerifyingKey::from_bytes(&<[u8; 32]>::try_from(b.as_slice()).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use airlock_core::keys::{Purpose, WorkspaceSecret};

    fn log(dir: &Path) -> AuditLog {
        AuditLog::new(
            dir.join("audit.log"),
            &WorkspaceSecret::from_bytes([3; 32]).derive(Purpose::ManifestSigning),
        )
    }

    fn event(action: &str, ds: &str) -> Event {
        Event {
            actor: "alice".into(),
            role: "steward".into(),
            purpose: "research".into(),
            action: action.into(),
            dataset: Some(ds.into()),
            object_sha256: Some("ab".repeat(32)),
            outcome: "ok".into(),
            detail: None,
        }
    }

    fn written(dir: &Path) -> (AuditLog, VerifyingKey, (u64, String)) {
        let l = log(dir);
        l.append(&[event("put", "d1"), event("get", "d1")]).unwrap();
        let head = l.append(&[event("shred", "d1")]).unwrap();
        let pk = public_key(&l.public_key_hex()).unwrap();
        (l, pk, head)
    }

    #[test]
    fn a_written_log_verifies_and_chains() {
        let dir = tempfile::tempdir().unwrap();
        let (l, pk, head) = written(dir.path());
        assert_eq!(l.verify(&pk, Some((head.0, &head.1))).unwrap().entries, 5);
        let entries = l.entries().unwrap();
        assert_eq!(entries.len(), 5);
        assert_eq!(entries[0].prev, GENESIS);
        assert_eq!(entries[2].event.action, "checkpoint");
        assert!(entries[2].signature.is_some());
    }

    #[test]
    fn every_single_byte_flip_fails_at_the_right_entry() {
        let dir = tempfile::tempdir().unwrap();
        let (l, pk, head) = written(dir.path());
        let original = std::fs::read(l.path()).unwrap();
        let line_of = |at: usize| original[..at].iter().filter(|&&b| b == b'\n').count() as u64 + 1;
        for at in 0..original.len() {
            let mut bytes = original.clone();
            bytes[at] ^= 0x01;
            std::fs::write(l.path(), &bytes).unwrap();
            match l.verify(&pk, Some((head.0, &head.1))) {
                Err(VaultError::AuditBroken { line, .. }) => {
                    let here = line_of(at);
                    // an edit shows at its own line, or (a newline byte) at the line after it
                    assert!(
                        line == here || line == here + 1,
                        "flip at byte {at} (line {here}) reported at {line}"
                    );
                }
                other => panic!("flip at byte {at} not detected: {other:?}"),
            }
        }
    }

    #[test]
    fn deletion_insertion_reordering_and_truncation_fail() {
        let dir = tempfile::tempdir().unwrap();
        let (l, pk, head) = written(dir.path());
        let text = std::fs::read_to_string(l.path()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let check = |ls: &[&str]| {
            std::fs::write(
                l.path(),
                ls.iter().map(|s| format!("{s}\n")).collect::<String>(),
            )
            .unwrap();
            l.verify(&pk, Some((head.0, &head.1)))
        };
        assert!(
            check(&[lines[0], lines[2], lines[3], lines[4]]).is_err(),
            "deletion"
        );
        assert!(
            check(&[lines[0], lines[1], lines[1], lines[2], lines[3], lines[4]]).is_err(),
            "insertion"
        );
        assert!(
            check(&[lines[1], lines[0], lines[2], lines[3], lines[4]]).is_err(),
            "reordering"
        );
        assert!(
            check(&lines[..3]).is_err(),
            "truncation after a checkpoint is caught by the catalog head"
        );
        assert!(check(&lines).is_ok());
        // a log signed by another workspace secret does not verify
        let other = public_key(
            &AuditLog::new(
                "x",
                &WorkspaceSecret::from_bytes([4; 32]).derive(Purpose::ManifestSigning),
            )
            .public_key_hex(),
        )
        .unwrap();
        assert!(l.verify(&other, None).is_err());
    }

    #[test]
    fn concurrent_appends_do_not_corrupt_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_path_buf();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let path = path.clone();
                std::thread::spawn(move || {
                    let l = log(&path);
                    for i in 0..25 {
                        l.append(&[event("get", &format!("d{t}-{i}"))]).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let l = log(&path);
        let pk = public_key(&l.public_key_hex()).unwrap();
        assert_eq!(l.verify(&pk, None).unwrap().entries, 200);
    }
}
