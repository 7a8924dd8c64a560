//! Signed lineage: every `airlock deid` output in a workspace gets an in-toto Statement (v1)
//! beside it, `OUTPUT.intoto.json`, in a DSSE envelope signed with the workspace's ed25519 key
//! (the key that signs the audit log's checkpoints). The statement names the output with its
//! SHA-256 (subject), the input (material), the policy's hash, the command, the tool's version,
//! the residual findings and the risk record: never a value from the data.

use std::path::{Path, PathBuf};

use data_encoding::BASE64;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde_json::{Value, json};
use zeroize::Zeroizing;

use airlock_core::keys::PurposeKey;
use airlock_core::manifest::Manifest;

use crate::error::{Result, VaultError};

/// The DSSE payload type of an in-toto statement.
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// airlock's predicate type for a de-identification run.
pub const PREDICATE_TYPE: &str = "https://airlock.dev/deid-run/v1";

/// The workspace's signing key (the audit log's checkpoint key).
pub fn signing_key(signing_purpose: &PurposeKey) -> SigningKey {
    let seed = Zeroizing::new(signing_purpose.mac(b"airlock/v1/audit-checkpoint-key"));
    SigningKey::from_bytes(&seed)
}

/// Where the statement of `output` lives.
pub fn statement_path(output: &Path) -> PathBuf {
    let mut name = output
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".intoto.json");
    output.with_file_name(name)
}

fn pae(payload_type: &str, body: &[u8]) -> Vec<u8> {
    let mut v = format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        body.len()
    )
    .into_bytes();
    v.extend_from_slice(body);
    v
}

/// The in-toto statement of a deid run, from its manifest.
pub fn statement(manifest: &Manifest) -> Value {
    let name = |p: &Path| {
        p.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_owned()
    };
    json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{ "name": name(&manifest.output.path), "digest": { "sha256": manifest.output.sha256 } }],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "materials": [{ "name": name(&manifest.input.path), "digest": { "sha256": manifest.input.sha256 } }],
            "policy": { "name": name(&manifest.policy.path), "digest": { "sha256": manifest.policy.sha256 } },
            "command": manifest.command,
            "tool": manifest.tool,
            "key_id": manifest.key_id,
            "started_at": manifest.started_at,
            "rows": manifest.output.rows,
            "findings": manifest.findings,
            "risk": manifest.risk,
        }
    })
}

/// Signs `statement` and writes the envelope beside `output` (atomically).
pub fn sign(output: &Path, statement: &Value, key: &SigningKey, force: bool) -> Result<PathBuf> {
    let body =
        serde_json::to_vec(statement).map_err(|e| VaultError::Write(std::io::Error::other(e)))?;
    let sig = key.sign(&pae(PAYLOAD_TYPE, &body));
    let keyid = data_encoding::HEXLOWER.encode(key.verifying_key().as_bytes());
    let envelope = json!({
        "payloadType": PAYLOAD_TYPE,
        "payload": BASE64.encode(&body),
        "signatures": [{ "keyid": keyid, "sig": BASE64.encode(&sig.to_bytes()) }],
    });
    let path = statement_path(output);
    let text = serde_json::to_string_pretty(&envelope)
        .map_err(|e| VaultError::Write(std::io::Error::other(e)))?;
    airlock_core::output::write_atomic(&path, text.as_bytes(), force)?;
    Ok(path)
}

/// Why a statement does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineageProblem {
    #[error("has no signed statement beside it ({0})")]
    Missing(String),
    #[error("has a statement that is not a DSSE envelope of an in-toto statement")]
    Malformed,
    #[error("has a statement whose signature does not verify with this workspace's key")]
    BadSignature,
    #[error("does not match its statement: its SHA-256 is {actual}, the statement says {expected}")]
    Changed { expected: String, actual: String },
}

/// Verifies the statement beside `output` with `public_key` and checks the output's SHA-256;
/// returns the statement.
pub fn verify(
    output: &Path,
    public_key: &VerifyingKey,
) -> Result<std::result::Result<Value, LineageProblem>> {
    let path = statement_path(output);
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(Err(LineageProblem::Missing(path.display().to_string())));
    };
    let parsed: Option<(Vec<u8>, Vec<u8>)> = (|| {
        let env: Value = serde_json::from_str(&text).ok()?;
        if env.get("payloadType")?.as_str()? != PAYLOAD_TYPE {
            return None;
        }
        let body = BASE64
            .decode(env.get("payload")?.as_str()?.as_bytes())
            .ok()?;
        let sig = BASE64
            .decode(
                env.get("signatures")?
                    .get(0)?
                    .get("sig")?
                    .as_str()?
                    .as_bytes(),
            )
            .ok()?;
        Some((body, sig))
    })();
    let Some((body, sig)) = parsed else {
        return Ok(Err(LineageProblem::Malformed));
    };
    let Ok(sig) = <[u8; 64]>::try_from(sig.as_slice()).map(|b| Signature::from_bytes(&b)) else {
        return Ok(Err(LineageProblem::Malformed));
    };
    if public_key.verify(&pae(PAYLOAD_TYPE, &body), &sig).is_err() {
        return Ok(Err(LineageProblem::BadSignature));
    }
    let Ok(statement) = serde_json::from_slice::<Value>(&body) else {
        return Ok(Err(LineageProblem::Malformed));
    };
    let expected = statement["subject"][0]["digest"]["sha256"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    let (actual, _) = airlock_core::output::digest_file(output)?;
    if actual != expected {
        return Ok(Err(LineageProblem::Changed { expected, actual }));
    }
    Ok(Ok(statement))
}
