//! The workspace's certificate authority (`airlock ca`): a CA key that stays in `.airlock/ca/`
//! (0600) on the server's machine, the server's own certificate, and client certificates for
//! people. A client certificate is an identity only once it is recorded in the catalog by its
//! SHA-256 (a sealed credential row): the server looks the presented certificate up there, so
//! revoking it is one audited command and a certificate minted with a stolen CA key alone
//! names no one.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};

use airlock_vault::{Actor, Credential, CredentialKind, Vault};

use crate::{Error, Result};

/// The CA's folder inside `.airlock/`.
pub const CA_DIR: &str = "ca";
const CA_CERT: &str = "ca.pem";
const CA_KEY: &str = "ca.key";
const SERVER_CERT: &str = "server.pem";
const SERVER_KEY: &str = "server.key";
const CRL: &str = "crl.pem";

/// The files of a workspace's CA.
#[derive(Debug, Clone)]
pub struct CaFiles {
    pub dir: PathBuf,
}

impl CaFiles {
    /// The CA of the workspace folder `.airlock/` at `workspace`.
    pub fn of(workspace: &Path) -> Self {
        Self::at(workspace.join(CA_DIR))
    }

    /// A CA kept in `dir` (a federation's, `airlock fl ca`).
    pub fn at(dir: PathBuf) -> Self {
        Self { dir }
    }

    /// The CA certificate clients trust (`--ca`).
    pub fn ca_cert(&self) -> PathBuf {
        self.dir.join(CA_CERT)
    }

    pub fn server_cert(&self) -> PathBuf {
        self.dir.join(SERVER_CERT)
    }

    pub fn server_key(&self) -> PathBuf {
        self.dir.join(SERVER_KEY)
    }

    /// The certificate revocation list (PEM), signed by the CA.
    pub fn crl(&self) -> PathBuf {
        self.dir.join(CRL)
    }

    fn ca_key(&self) -> PathBuf {
        self.dir.join(CA_KEY)
    }

    /// Whether the CA exists.
    pub fn exists(&self) -> bool {
        self.ca_key().exists() && self.ca_cert().exists()
    }
}

/// Valid from yesterday (clocks differ) until `days` from today.
fn validity(params: &mut CertificateParams, days: i64) {
    use chrono::Datelike;
    let at = |offset: i64| {
        let d = chrono::Utc::now().date_naive() + chrono::Duration::days(offset);
        rcgen::date_time_ymd(d.year(), d.month() as u8, d.day() as u8)
    };
    params.not_before = at(-1);
    params.not_after = at(days);
}

/// The CA's name and key usages, rebuilt from its key (the name carries the key's
/// fingerprint), so that certificates can be issued without parsing the CA certificate.
fn ca_params(key: &KeyPair, org: &str) -> Result<CertificateParams> {
    use sha2::Digest;
    let fp = data_encoding::HEXLOWER.encode(&sha2::Sha256::digest(key.public_key_raw()));
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, org);
    dn.push(DnType::CommonName, format!("airlock CA {}", &fp[..16]));
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    Ok(params)
}

/// Creates the CA and the server's certificate for `hosts` (DNS names or IP addresses). An
/// existing CA is an error: its clients' certificates would stop verifying.
pub fn init(workspace: &Path, hosts: &[String]) -> Result<CaFiles> {
    let files = CaFiles::of(workspace);
    if files.ca_key().exists() {
        return Err(Error::Usage(
            "this workspace already has a CA (.airlock/ca/); its certificates stay valid".into(),
        ));
    }
    create(&files, WORKSPACE_ORG, hosts)?;
    Ok(files)
}

/// The organization name of a workspace's CA.
pub const WORKSPACE_ORG: &str = "airlock workspace";

/// Creates a CA in `files.dir` (which must not hold one) named for `org`, with a server
/// certificate for `hosts` and an empty revocation list.
pub fn create(files: &CaFiles, org: &str, hosts: &[String]) -> Result<()> {
    if files.ca_key().exists() {
        return Err(Error::Usage(format!(
            "{} already holds a CA; its certificates stay valid",
            airlock_core::shown::path(&files.dir)
        )));
    }
    private_dir(&files.dir)?;
    let key = KeyPair::generate()?;
    let mut params = ca_params(&key, org)?;
    validity(&mut params, 3650);
    let cert = params.self_signed(&key)?;
    write_private(&files.ca_key(), key.serialize_pem().as_bytes())?;
    write_private(&files.ca_cert(), cert.pem().as_bytes())?;
    server_cert_for(files, org, hosts)?;
    revoke(files, org, &[])
}

/// (Re)issues the server's certificate for `hosts`.
pub fn server_cert(files: &CaFiles, hosts: &[String]) -> Result<()> {
    server_cert_for(files, WORKSPACE_ORG, hosts)
}

fn issuer_key(files: &CaFiles) -> Result<KeyPair> {
    if !files.exists() {
        return Err(Error::Usage(format!(
            "{} holds no CA",
            airlock_core::shown::path(&files.dir)
        )));
    }
    load_key(&files.ca_key())
}

fn server_cert_for(files: &CaFiles, org: &str, hosts: &[String]) -> Result<()> {
    let ca_key = issuer_key(files)?;
    let issuer = Issuer::new(ca_params(&ca_key, org)?, &ca_key);
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(hosts.to_vec())?;
    params
        .distinguished_name
        .push(DnType::CommonName, "airlock server");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    validity(&mut params, 825);
    let cert = params.signed_by(&key, &issuer)?;
    write_private(&files.server_key(), key.serialize_pem().as_bytes())?;
    write_private(&files.server_cert(), cert.pem().as_bytes())?;
    Ok(())
}

/// A client certificate issued to a person.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Issued {
    pub credential: Credential,
    pub cert: PathBuf,
    pub key: PathBuf,
    pub sha256: String,
}

/// Issues a client certificate for `name` (valid `days`), writes `NAME.pem` and `NAME.key`
/// (0600) into `out`, and records its fingerprint in the catalog as identity `cert:NAME`.
pub fn issue(
    vault: &Vault,
    files: &CaFiles,
    name: &str,
    days: u32,
    out: &Path,
    who: &Actor,
) -> Result<Issued> {
    airlock_vault::credentials::check_subject_name(name)?;
    if !files.exists() {
        return Err(Error::Usage(
            "this workspace has no CA yet: run `airlock ca init` first".into(),
        ));
    }
    let client = issue_client(files, WORKSPACE_ORG, name, days, out)?;
    let credential = vault.add_credential(CredentialKind::Cert, name, &client.sha256, who)?;
    Ok(Issued {
        credential,
        cert: client.cert,
        key: client.key,
        sha256: client.sha256,
    })
}

/// A client certificate as written to disk.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ClientCert {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// SHA-256 of the certificate's DER, hex.
    pub sha256: String,
    /// Its serial number, hex (what a revocation list names).
    pub serial: String,
}

/// Issues a client certificate for `name` (valid `days`) from the CA in `files` and writes
/// `NAME.pem` and `NAME.key` (0600) into `out`, which must not hold them yet.
pub fn issue_client(
    files: &CaFiles,
    org: &str,
    name: &str,
    days: u32,
    out: &Path,
) -> Result<ClientCert> {
    let ca_key = issuer_key(files)?;
    let issuer = Issuer::new(ca_params(&ca_key, org)?, &ca_key);
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.distinguished_name.push(DnType::CommonName, name);
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let mut serial = [0u8; 16];
    getrandom::fill(&mut serial).map_err(|e| Error::Tls(format!("no random serial: {e}")))?;
    serial[0] &= 0x7f;
    params.serial_number = Some(rcgen::SerialNumber::from_slice(&serial));
    validity(&mut params, i64::from(days.max(1)));
    let cert = params.signed_by(&key, &issuer)?;
    let sha256 = fingerprint(cert.der());
    std::fs::create_dir_all(out).map_err(|e| Error::io("create", out, e))?;
    let cert_path = out.join(format!("{name}.pem"));
    let key_path = out.join(format!("{name}.key"));
    for p in [&cert_path, &key_path] {
        if p.exists() {
            return Err(Error::Usage(format!(
                "{} exists; airlock does not overwrite a credential",
                airlock_core::shown::path(p)
            )));
        }
    }
    write_private(&key_path, key.serialize_pem().as_bytes())?;
    write_private(&cert_path, cert.pem().as_bytes())?;
    Ok(ClientCert {
        cert: cert_path,
        key: key_path,
        sha256,
        serial: data_encoding::HEXLOWER.encode(&serial),
    })
}

/// Writes the CA's revocation list naming the certificates of `serials` (hex), signed by the
/// CA, valid for a year: a TLS server given it refuses those certificates in the handshake.
pub fn revoke(files: &CaFiles, org: &str, serials: &[String]) -> Result<()> {
    let ca_key = issuer_key(files)?;
    let issuer = Issuer::new(ca_params(&ca_key, org)?, &ca_key);
    let now = chrono::Utc::now();
    let at = |t: chrono::DateTime<chrono::Utc>| {
        rcgen::date_time_ymd(
            chrono::Datelike::year(&t),
            chrono::Datelike::month(&t) as u8,
            chrono::Datelike::day(&t) as u8,
        )
    };
    let mut revoked = Vec::new();
    for s in serials {
        let bytes = data_encoding::HEXLOWER
            .decode(s.as_bytes())
            .map_err(|_| Error::Usage("a revoked serial number is not hex".into()))?;
        revoked.push(rcgen::RevokedCertParams {
            serial_number: rcgen::SerialNumber::from_slice(&bytes),
            revocation_time: at(now - chrono::Duration::days(1)),
            reason_code: None,
            invalidity_date: None,
        });
    }
    let params = rcgen::CertificateRevocationListParams {
        this_update: at(now - chrono::Duration::days(1)),
        next_update: at(now + chrono::Duration::days(365)),
        crl_number: rcgen::SerialNumber::from(now.timestamp().max(0) as u64),
        issuing_distribution_point: None,
        revoked_certs: revoked,
        key_identifier_method: rcgen::KeyIdMethod::Sha256,
    };
    let crl = params.signed_by(&issuer)?;
    write_private(&files.crl(), crl.pem()?.as_bytes())
}

/// SHA-256 of a certificate's DER, hex: how the catalog knows it.
pub fn fingerprint(der: &[u8]) -> String {
    use sha2::Digest;
    data_encoding::HEXLOWER.encode(&sha2::Sha256::digest(der))
}

fn load_key(path: &Path) -> Result<KeyPair> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io("read", path, e))?;
    KeyPair::from_pem(&text).map_err(|_| {
        Error::Usage(format!(
            "{} is not a private key airlock wrote",
            airlock_core::shown::path(path)
        ))
    })
}

fn private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, e))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| Error::io("protect", dir, e))
}

/// Writes a file readable by its owner only (0600 from its creation: a key is never readable
/// by others, not even for a moment), synced, then renamed into place.
fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension(format!("{}.airlock-tmp", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| Error::io("create", &tmp, e))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| Error::io("write", &tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io("write", path, e))
}
