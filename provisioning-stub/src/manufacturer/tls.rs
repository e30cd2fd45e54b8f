//! rustls configurations for the manufacturer link (mutual TLS, ring provider only;
//! crates.md §8). PEM in, `Arc<rustls::…Config>` out.

use std::sync::Arc;

use rustls::RootCertStore;
use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// Errors from building a TLS configuration.
#[derive(Debug, thiserror::Error)]
pub enum TlsConfigError {
    /// A PEM block could not be parsed.
    #[error("PEM {what}: {reason}")]
    Pem {
        /// Which input.
        what: &'static str,
        /// Why.
        reason: String,
    },
    /// An input held no certificate.
    #[error("no certificate in {0}")]
    NoCertificate(&'static str),
    /// rustls refused the configuration.
    #[error("rustls: {0}")]
    Rustls(#[from] rustls::Error),
    /// The client verifier could not be built (e.g. empty CA store).
    #[error("client verifier: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn certs(pem: &str, what: &'static str) -> Result<Vec<CertificateDer<'static>>, TlsConfigError> {
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsConfigError::Pem {
            what,
            reason: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsConfigError::NoCertificate(what));
    }
    Ok(certs)
}

fn key(pem: &str, what: &'static str) -> Result<PrivateKeyDer<'static>, TlsConfigError> {
    PrivateKeyDer::from_pem_slice(pem.as_bytes()).map_err(|e| TlsConfigError::Pem {
        what,
        reason: e.to_string(),
    })
}

fn roots(pem: &str, what: &'static str) -> Result<RootCertStore, TlsConfigError> {
    let mut store = RootCertStore::empty();
    for cert in certs(pem, what)? {
        store.add(cert)?;
    }
    Ok(store)
}

/// Server side: presents `cert_chain_pem`/`key_pem` and **requires** a client
/// certificate that chains to `client_ca_pem` (rustls `WebPkiClientVerifier`; no
/// anonymous clients). TLS 1.2 and 1.3, ring provider.
pub fn server_config(
    cert_chain_pem: &str,
    key_pem: &str,
    client_ca_pem: &str,
) -> Result<Arc<rustls::ServerConfig>, TlsConfigError> {
    let verifier = WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots(client_ca_pem, "client CA")?),
        provider(),
    )
    .build()?;
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            certs(cert_chain_pem, "server certificate")?,
            key(key_pem, "server key")?,
        )?;
    Ok(Arc::new(config))
}

/// Client side (the provisioning server): trusts only `server_ca_pem` (the
/// manufacturer's CA, no public roots) and authenticates with the operator's
/// `client_chain_pem`/`client_key_pem`.
pub fn client_config(
    server_ca_pem: &str,
    client_chain_pem: &str,
    client_key_pem: &str,
) -> Result<Arc<rustls::ClientConfig>, TlsConfigError> {
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots(server_ca_pem, "manufacturer CA")?)
        .with_client_auth_cert(
            certs(client_chain_pem, "client certificate")?,
            key(client_key_pem, "client key")?,
        )?;
    Ok(Arc::new(config))
}

/// Client side without a client certificate (only for negative tests and probes).
pub fn client_config_anonymous(
    server_ca_pem: &str,
) -> Result<Arc<rustls::ClientConfig>, TlsConfigError> {
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots(server_ca_pem, "manufacturer CA")?)
        .with_no_client_auth();
    Ok(Arc::new(config))
}
