//! Manufacturer link: the key-server stub (issue 5) and the provisioning server's
//! client for it. Protocol and limits: `provisioning-stub/docs/manufacturer.md`.
//!
//! - [`server::run`] serves HTTPS with **mutual TLS**: the client certificate must
//!   chain to the manufacturer's CA for operators; its subject common name is the
//!   operator id. Endpoints `POST /v1/keys`, `POST /v1/confirmations`,
//!   `GET /v1/statement` ([`api`]).
//! - [`client::ManufacturerClient`] is the provisioning server's side; failures carry
//!   the reason to record ("manufacturer unreachable", "manufacturer certificate
//!   wrong", …) and no key leaves on any failure.
//! - [`tls`] builds the rustls configurations (ring provider only); [`pki`] generates
//!   test and development certificates with rcgen.

pub mod api;
pub mod client;
pub mod mmsc;
pub mod pki;
pub mod server;
pub mod tls;

pub use client::{ManufacturerClient, ManufacturerError, ReceivedKey};
pub use server::{ManufacturerConfig, ServerError, run};

/// The operator id of a client certificate: its subject common name (the first CN
/// attribute, UTF-8). `None` if the DER does not parse or has no usable CN.
pub fn operator_id_from_cert(der: &[u8]) -> Option<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let cn = cert.subject().iter_common_name().next()?;
    let cn = cn.as_str().ok()?;
    (!cn.is_empty()).then(|| cn.to_owned())
}
