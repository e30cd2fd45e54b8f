//! Development and test PKI for the manufacturer link, generated with `rcgen`.
//!
//! Nothing here is committed: every test generates its own CA and leaves, and
//! `manufacturer-sim pki --out DIR` writes a fresh set for manual runs. Keys are ECDSA
//! P-256 (rcgen's default), certificates valid for about 2 years from generation.

use std::path::Path;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use zeroize::Zeroizing;

use crate::keys::DeviceKeySigner;

/// Errors from generating or writing the PKI.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// rcgen refused the parameters.
    #[error("certificate generation: {0}")]
    Rcgen(#[from] rcgen::Error),
    /// Writing a file failed.
    #[error("writing {path}: {source}")]
    Io {
        /// The file being written.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// A certificate and its private key, both PEM.
#[derive(Clone)]
pub struct CertifiedKey {
    /// Certificate, PEM (`-----BEGIN CERTIFICATE-----`).
    pub cert_pem: String,
    /// PKCS#8 private key, PEM; zeroized on drop.
    pub key_pem: Zeroizing<String>,
}

impl core::fmt::Debug for CertifiedKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CertifiedKey").finish_non_exhaustive()
    }
}

/// A certificate authority (self-signed root) that issues server and operator
/// client certificates.
pub struct Ca {
    issuer: Issuer<'static, KeyPair>,
    cert_pem: String,
    key_pem: Zeroizing<String>,
}

impl core::fmt::Debug for Ca {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Ca").finish_non_exhaustive()
    }
}

fn validity(params: &mut CertificateParams) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let epoch = rcgen::date_time_ymd(1970, 1, 1);
    params.not_before = epoch + now.saturating_sub(std::time::Duration::from_secs(3600));
    params.not_after = epoch + now + std::time::Duration::from_secs(2 * 366 * 24 * 3600);
}

impl Ca {
    /// A new root CA with the given common name.
    pub fn new(common_name: &str) -> Result<Self, PkiError> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, common_name);
        dn.push(DnType::OrganizationName, "imeitrack test PKI");
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        validity(&mut params);
        let key = KeyPair::generate()?;
        let cert = params.self_signed(&key)?;
        let key_pem = Zeroizing::new(key.serialize_pem());
        Ok(Self {
            issuer: Issuer::new(params, key),
            cert_pem: cert.pem(),
            key_pem,
        })
    }

    /// The CA certificate, PEM.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The CA private key, PEM.
    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }

    fn issue(
        &self,
        common_name: &str,
        names: &[&str],
        eku: ExtendedKeyUsagePurpose,
    ) -> Result<CertifiedKey, PkiError> {
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        let mut params = CertificateParams::new(names)?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, common_name);
        params.distinguished_name = dn;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![eku];
        params.use_authority_key_identifier_extension = true;
        validity(&mut params);
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(CertifiedKey {
            cert_pem: cert.pem(),
            key_pem: Zeroizing::new(key.serialize_pem()),
        })
    }

    /// A TLS server certificate for the given DNS names / IP addresses
    /// (e.g. `["localhost", "127.0.0.1"]`; rcgen turns IP literals into IP SANs).
    pub fn issue_server(&self, names: &[&str]) -> Result<CertifiedKey, PkiError> {
        let cn = names.first().copied().unwrap_or("manufacturer");
        self.issue(cn, names, ExtendedKeyUsagePurpose::ServerAuth)
    }

    /// An operator's TLS client certificate; the subject common name is the operator
    /// id the key server records (see [`super::operator_id_from_cert`]).
    pub fn issue_client(&self, operator_id: &str) -> Result<CertifiedKey, PkiError> {
        self.issue(operator_id, &[], ExtendedKeyUsagePurpose::ClientAuth)
    }
}

/// A complete development PKI: one manufacturer CA (root for the server certificate
/// and for operators' client certificates), the key server's certificate, one
/// operator certificate and the Ed25519 device-key signing key.
pub struct DevPki {
    /// The manufacturer CA.
    pub ca: Ca,
    /// Server certificate for `localhost` and `127.0.0.1`.
    pub server: CertifiedKey,
    /// Operator client certificate.
    pub operator: CertifiedKey,
    /// Device-key signing key.
    pub signer: DeviceKeySigner,
}

impl core::fmt::Debug for DevPki {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DevPki").finish_non_exhaustive()
    }
}

impl DevPki {
    /// Generates a fresh PKI for `operator_id`.
    pub fn generate(operator_id: &str) -> Result<Self, PkiError> {
        let ca = Ca::new("imeitrack DEV manufacturer CA")?;
        let server = ca.issue_server(&["localhost", "127.0.0.1"])?;
        let operator = ca.issue_client(operator_id)?;
        Ok(Self {
            ca,
            server,
            operator,
            signer: DeviceKeySigner::generate(),
        })
    }

    /// Writes `ca.pem`, `ca.key`, `server.pem`, `server.key`, `operator.pem`,
    /// `operator.key`, `signing.key` (64 hex digits, Ed25519 seed) and `signing.pub`
    /// (64 hex digits) into `dir` (created if missing). Key files get mode 0600 on Unix.
    pub fn write_to(&self, dir: &Path) -> Result<(), PkiError> {
        let io = |path: &Path, source| PkiError::Io {
            path: path.display().to_string(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        let public = hex::encode(self.signer.verifying_key().as_bytes()) + "\n";
        let seed = Zeroizing::new(format!("{}\n", self.signer.to_hex().as_str()));
        let files: [(&str, &str, bool); 8] = [
            ("ca.pem", self.ca.cert_pem(), false),
            ("ca.key", self.ca.key_pem(), true),
            ("server.pem", &self.server.cert_pem, false),
            ("server.key", &self.server.key_pem, true),
            ("operator.pem", &self.operator.cert_pem, false),
            ("operator.key", &self.operator.key_pem, true),
            ("signing.key", &seed, true),
            ("signing.pub", &public, false),
        ];
        for (name, content, secret) in files {
            let path = dir.join(name);
            std::fs::write(&path, content).map_err(|e| io(&path, e))?;
            #[cfg(unix)]
            if secret {
                use std::os::unix::fs::PermissionsExt as _;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                    .map_err(|e| io(&path, e))?;
            }
            #[cfg(not(unix))]
            let _ = secret;
        }
        Ok(())
    }
}
