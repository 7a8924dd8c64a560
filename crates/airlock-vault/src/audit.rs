//! The tamper-evident audit log: append-only JSONL, one event a line, each line holding the
//! SHA-256 of the line before it, with ed25519-signed checkpoints (the signing key derived from
//! the workspace secret; the public key can be exported). `verify` finds any edit, deletion,
//! insertion, reordering or truncation and names the first bad entry. Writers take an
//! exclusive lock on the file, so two processes appending at once cannot interleave.
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
    /// On checkpoints: ed25519 over `seq` and `prev`, hex.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub signature: Option<String>,
}

/// The workspace's audit log.
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    signing: SigningKey,
}

fn sha256_hex(bytes: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(&Sha256::digest(bytes))
}

fn signed_message(seq: u64, prev: &str) -> Vec<u8> {
    format!("airlock-audit-checkpoint\n{seq}\n{prev}").into_bytes()
}

impl AuditLog {
    /// The log at `path`, signing checkpoints with a key derived from `signing_purpose`.
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

    /// The public key that verifies checkpoints, hex.
    pub fn public_key_hex(&self) -> String {
        data_encoding::HEXLOWER.encode(self.signing.verifying_key().as_bytes())
    }

    /// Appends `events` and a signed checkpoint after them, under an exclusive lock.
    /// Returns the last entry's sequence number and the SHA-256 of the last line.
    pub fn append(&self, events: &[Event]) -> Result<(u64, String)> {
        let io = |action, e| VaultError::io(action, &self.path, e);
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&self.path)
            .map_err(|e| io("open", e))?;
        file.lock().map_err(|e| io("lock", e))?;
        let (mut seq, mut prev) = last_line(&mut file).map_err(|e| io("read", e))?;
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
            let signature = (i == events.len()).then(|| {
                let sig = self.signing.sign(&signed_message(seq, &prev));
                data_encoding::HEXLOWER.encode(&sig.to_bytes())
            });
            let entry = Entry {
                seq,
                time: now.clone(),
                event: event.clone(),
                prev: prev.clone(),
                signature,
            };
            let mut line =
                serde_json::to_vec(&entry).map_err(|e| io("write", std::io::Error::other(e)))?;
            prev = sha256_hex(&line);
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
        VaultError::AuditBroken {
            path: self.path.clone(),
            line,
            problem: problem.into(),
        }
    }

    /// Checks the whole chain and every checkpoint signature against `public_key`, and, when
    /// given, that the log ends where the catalog says it last ended (truncation). Returns
    /// the number of entries.
    pub fn verify(
        &self,
        public_key: &VerifyingKey,
        expected_head: Option<(u64, &str)>,
    ) -> Result<u64> {
        let file = File::open(&self.path).map_err(|e| VaultError::io("read", &self.path, e))?;
        let mut prev = GENESIS.to_owned();
        let mut seq = 0u64;
        let mut reader = BufReader::new(file);
        let mut raw = Vec::new();
        loop {
            raw.clear();
            let n = reader
                .read_until(b'\n', &mut raw)
                .map_err(|e| VaultError::io("read", &self.path, e))?;
            if n == 0 {
                break;
            }
            let line_no = seq + 1;
            let Some(body) = raw.strip_suffix(b"\n") else {
                return Err(self.broken(line_no, "is cut short (no end of line)"));
            };
            let entry: Entry = serde_json::from_slice(body)
                .map_err(|_| self.broken(line_no, "is not a log entry"))?;
            if entry.seq != line_no {
                return Err(self.broken(
                    line_no,
                    &format!(
                        "has sequence number {} (entries were deleted, inserted or reordered)",
                        entry.seq
                    ),
                ));
            }
            if entry.prev != prev {
                return Err(self.broken(line_no, "does not chain to the entry before it (that entry was edited, or entries were removed)"));
            }
            if entry.event.action == "checkpoint" {
                let sig = entry
                    .signature
                    .as_deref()
                    .and_then(|s| data_encoding::HEXLOWER.decode(s.as_bytes()).ok())
                    .and_then(|b| <[u8; 64]>::try_from(b.as_slice()).ok())
                    .map(|b| Signature::from_bytes(&b))
                    .ok_or_else(|| {
                        self.broken(line_no, "is a checkpoint without a valid signature")
                    })?;
                public_key
                    .verify(&signed_message(entry.seq, &entry.prev), &sig)
                    .map_err(|_| {
                        self.broken(line_no, "is a checkpoint whose signature does not verify")
                    })?;
            }
            // the hash of exactly what was written, so any edit shows in the next entry
            if serde_json::to_vec(&entry).ok().as_deref() != Some(body) {
                return Err(self.broken(line_no, "was edited (it no longer reads as written)"));
            }
            prev = sha256_hex(body);
            seq = line_no;
        }
        if let Some((head_seq, head_hash)) = expected_head
            && (seq < head_seq || seq == head_seq && prev != head_hash)
        {
            return Err(self.broken(
                seq + 1,
                &format!(
                    "is missing: the log was cut after entry {seq}, the catalog recorded {head_seq}"
                ),
            ));
        }
        Ok(seq)
    }
}

/// The last line's sequence number and hash, reading only the file's tail.
fn last_line(file: &mut File) -> std::io::Result<(u64, String)> {
    let len = file.seek(SeekFrom::End(0))?;
    if len == 0 {
        return Ok((0, GENESIS.to_owned()));
    }
    let mut back = 4096u64;
    loop {
        let start = len.saturating_sub(back);
        file.seek(SeekFrom::Start(start))?;
        let mut tail = Vec::new();
        file.read_to_end(&mut tail)?;
        let body = tail.strip_suffix(b"\n").unwrap_or(&tail);
        if let Some(i) = body.iter().rposition(|&b| b == b'\n') {
            return parse_last(&body[i + 1..]);
        }
        if start == 0 {
            return parse_last(body);
        }
        back *= 4;
    }
}

fn parse_last(line: &[u8]) -> std::io::Result<(u64, String)> {
    let entry: Entry = serde_json::from_slice(line).map_err(std::io::Error::other)?;
    Ok((entry.seq, sha256_hex(line)))
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
        assert_eq!(l.verify(&pk, Some((head.0, &head.1))).unwrap(), 5);
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
        assert_eq!(l.verify(&pk, None).unwrap(), 200);
    }
}
