//! The provisioning server's client for the key server: mutual TLS, HTTP/1.1 with
//! keep-alive, JSON; every failure is a [`ManufacturerError`] whose
//! [`reason`](ManufacturerError::reason) is what the stub records.
//!
//! Connections are kept for reuse (up to [`MAX_IDLE`] idle ones per client and its
//! clones, each reused only within [`IDLE_REUSE`] of its last answer, well inside the
//! key server's idle timeout, so a reused connection is not one the server is closing).
//! A request a kept connection could not take (closed meanwhile; hyper hands the
//! request back unsent) goes out on the next one or a fresh connection; a request
//! that was sent is never repeated.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use ed25519_dalek::VerifyingKey;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use rustls_pki_types::ServerName;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::api::{ApiError, Confirmation, ConfirmationRequest, IssuedKey, KeyRequest, Statement};
use crate::keys::{ApnSettings, DeviceKey, Imei};

/// Why a call to the manufacturer failed. Issue 5: "manufacturer unreachable,
/// manufacturer certificate wrong — each recorded with a reason, no key leaves".
#[derive(Debug, thiserror::Error)]
pub enum ManufacturerError {
    /// TCP connect failed, the peer went away, or the call timed out.
    #[error("manufacturer unreachable: {0}")]
    Unreachable(String),
    /// The key server's certificate did not verify against the manufacturer CA.
    #[error("manufacturer certificate wrong: {0}")]
    CertificateWrong(String),
    /// The key server refused our client certificate (TLS alert).
    #[error("client certificate refused by manufacturer: {0}")]
    ClientCertificateRefused(String),
    /// The key server answered with an HTTP error.
    #[error("manufacturer rejected the request: HTTP {status}: {message}")]
    Rejected {
        /// HTTP status code.
        status: u16,
        /// The server's `error` text.
        message: String,
    },
    /// The answer could not be understood, or the key it carried is not bound to
    /// what was asked / not signed by the manufacturer.
    #[error("manufacturer answer invalid: {0}")]
    BadAnswer(String),
}

impl ManufacturerError {
    /// Short, stable reason for the audit record.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Unreachable(_) => "manufacturer unreachable",
            Self::CertificateWrong(_) => "manufacturer certificate wrong",
            Self::ClientCertificateRefused(_) => "client certificate refused",
            Self::Rejected { .. } => "manufacturer rejected request",
            Self::BadAnswer(_) => "manufacturer answer invalid",
        }
    }
}

/// A key the manufacturer issued, already checked by the client.
#[derive(Debug, Clone)]
pub struct ReceivedKey {
    /// The server's answer as sent.
    pub issued: IssuedKey,
    /// The decoded device key.
    pub device_key: DeviceKey,
}

/// Most idle kept-alive connections a client (with its clones) holds.
pub const MAX_IDLE: usize = 8;

/// An idle connection is reused only if its last answer came less than this long ago
/// (the key server closes connections idle for its I/O timeout, 10 s by default).
pub const IDLE_REUSE: Duration = Duration::from_secs(1);

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

/// Mutual-TLS client for the key server. Clones share the kept-alive connections.
#[derive(Clone)]
pub struct ManufacturerClient {
    address: String,
    server_name: ServerName<'static>,
    connector: TlsConnector,
    timeout: Duration,
    public_key: Option<VerifyingKey>,
    idle: Arc<Mutex<Vec<(Sender, Instant)>>>,
}

impl core::fmt::Debug for ManufacturerClient {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ManufacturerClient")
            .field("address", &self.address)
            .field("server_name", &self.server_name)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Finds the first `rustls::Error` in an error's source chain.
fn rustls_error<'a>(
    mut err: Option<&'a (dyn std::error::Error + 'static)>,
) -> Option<&'a rustls::Error> {
    while let Some(e) = err {
        if let Some(r) = e.downcast_ref::<rustls::Error>() {
            return Some(r);
        }
        // `io::Error::source` skips the wrapped error itself; look inside.
        if let Some(r) = e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            return Some(r);
        }
        err = e.source();
    }
    None
}

fn classify(context: &str, err: &(dyn std::error::Error + 'static)) -> ManufacturerError {
    match rustls_error(Some(err)) {
        Some(rustls::Error::InvalidCertificate(e)) => {
            ManufacturerError::CertificateWrong(format!("{context}: {e:?}"))
        }
        Some(rustls::Error::AlertReceived(alert)) => {
            ManufacturerError::ClientCertificateRefused(format!("{context}: alert {alert:?}"))
        }
        Some(other) => ManufacturerError::Unreachable(format!("{context}: TLS: {other}")),
        None => ManufacturerError::Unreachable(format!("{context}: {err}")),
    }
}

impl ManufacturerClient {
    /// A client for the key server at `address` (`host:port`), whose certificate
    /// must name `server_name` (DNS name or IP literal) and chain to the CA in
    /// `tls` ([`super::tls::client_config`]). Each call is bounded by `timeout`.
    pub fn new(
        address: impl Into<String>,
        server_name: &str,
        tls: Arc<rustls::ClientConfig>,
        timeout: Duration,
    ) -> Result<Self, ManufacturerError> {
        let server_name = ServerName::try_from(server_name.to_owned())
            .map_err(|e| ManufacturerError::CertificateWrong(format!("server name: {e}")))?;
        Ok(Self {
            address: address.into(),
            server_name,
            connector: TlsConnector::from(tls),
            timeout,
            public_key: None,
            idle: Arc::new(Mutex::new(Vec::new())),
        })
    }

    /// A kept connection that is still open and fresh enough, if any.
    fn take_idle(&self) -> Option<Sender> {
        let mut idle = self.idle.lock().ok()?;
        while let Some((sender, since)) = idle.pop() {
            if !sender.is_closed() && since.elapsed() < IDLE_REUSE {
                return Some(sender);
            }
        }
        None
    }

    /// Keeps `sender` for the next call (unless closed or the pool is full).
    fn put_idle(&self, sender: Sender) {
        if sender.is_closed() {
            return;
        }
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < MAX_IDLE
        {
            idle.push((sender, Instant::now()));
        }
    }

    /// A new connection: TCP, mutual TLS handshake, HTTP/1.1 handshake; its driver
    /// runs as a task on the current tokio runtime until the sender is dropped.
    async fn connect(&self) -> Result<Sender, ManufacturerError> {
        let tcp = TcpStream::connect(&self.address).await.map_err(|e| {
            ManufacturerError::Unreachable(format!("connect {}: {e}", self.address))
        })?;
        // Small requests and answers: no Nagle delay between our writes.
        let _ = tcp.set_nodelay(true);
        let tls = self
            .connector
            .connect(self.server_name.clone(), tcp)
            .await
            .map_err(|e| classify("TLS handshake", &e))?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|e| classify("HTTP handshake", &e))?;
        tokio::spawn(conn);
        Ok(sender)
    }

    /// Also verify each issued key's Ed25519 signature under the manufacturer's
    /// public key before handing it out.
    pub fn with_verifying_key(mut self, public_key: VerifyingKey) -> Self {
        self.public_key = Some(public_key);
        self
    }

    async fn call<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&Req>,
    ) -> Result<Resp, ManufacturerError> {
        match tokio::time::timeout(self.timeout, self.call_inner(method, path, body)).await {
            Ok(result) => result,
            Err(_) => Err(ManufacturerError::Unreachable(format!(
                "no answer from {} within {:?}",
                self.address, self.timeout
            ))),
        }
    }

    async fn call_inner<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&Req>,
    ) -> Result<Resp, ManufacturerError> {
        let bytes = match body {
            Some(b) => {
                serde_json::to_vec(b).map_err(|e| ManufacturerError::BadAnswer(e.to_string()))?
            }
            None => Vec::new(),
        };
        let host = match &self.server_name {
            ServerName::DnsName(d) => d.as_ref().to_owned(),
            ServerName::IpAddress(ip) => std::net::IpAddr::from(*ip).to_string(),
            _ => self.address.clone(),
        };
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header(hyper::header::HOST, host)
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(bytes)))
            .map_err(|e| ManufacturerError::BadAnswer(e.to_string()))?;
        // Kept connections first; a request one could not take comes back unsent.
        let mut unsent = Some(request);
        let mut answered = None;
        while let Some(request) = unsent.take() {
            let Some(mut sender) = self.take_idle() else {
                unsent = Some(request);
                break;
            };
            if sender.ready().await.is_err() {
                unsent = Some(request);
                continue;
            }
            match sender.try_send_request(request).await {
                Ok(response) => answered = Some((response, sender)),
                Err(mut e) => match e.take_message() {
                    Some(request) => unsent = Some(request),
                    None => return Err(classify("HTTP request", e.error())),
                },
            }
        }
        let (response, sender) = match (answered, unsent) {
            (Some(a), _) => a,
            (None, None) => {
                return Err(ManufacturerError::BadAnswer("request lost".into()));
            }
            (None, Some(request)) => {
                let mut sender = self.connect().await?;
                let response = sender
                    .send_request(request)
                    .await
                    .map_err(|e| classify("HTTP request", &e))?;
                (response, sender)
            }
        };
        let status = response.status();
        let body = Limited::new(response.into_body(), 1 << 20)
            .collect()
            .await
            .map_err(|e| match e.downcast::<hyper::Error>() {
                Ok(h) => classify("HTTP body", &*h),
                Err(e) => ManufacturerError::BadAnswer(e.to_string()),
            })?
            .to_bytes();
        // The whole answer is read: the connection can carry the next request.
        self.put_idle(sender);
        if status != StatusCode::OK {
            let message = serde_json::from_slice::<ApiError>(&body)
                .map(|e| e.error)
                .unwrap_or_else(|_| String::from_utf8_lossy(&body).into_owned());
            return Err(ManufacturerError::Rejected {
                status: status.as_u16(),
                message,
            });
        }
        serde_json::from_slice(&body).map_err(|e| ManufacturerError::BadAnswer(e.to_string()))
    }

    /// `POST /v1/keys`: asks for a device key for `imei` and `apn_settings`. The
    /// answer is decoded and checked to be bound to exactly this IMEI and these
    /// settings (and signed, if [`Self::with_verifying_key`] was used); otherwise
    /// no key is returned.
    pub async fn request_key(
        &self,
        imei: &Imei,
        apn_settings: &ApnSettings,
    ) -> Result<ReceivedKey, ManufacturerError> {
        let request = KeyRequest {
            imei: *imei,
            apn_settings: apn_settings.clone(),
        };
        let issued: IssuedKey = self.call(Method::POST, "/v1/keys", Some(&request)).await?;
        let device_key = DeviceKey::from_text(&issued.device_key)
            .map_err(|e| ManufacturerError::BadAnswer(format!("device key: {e}")))?;
        if device_key.key_id != issued.key_id {
            return Err(ManufacturerError::BadAnswer("key_id mismatch".into()));
        }
        let bad =
            |e: crate::keys::KeyError| ManufacturerError::BadAnswer(format!("device key: {e}"));
        match &self.public_key {
            Some(pk) => device_key.verify(pk, imei, apn_settings).map_err(bad)?,
            None => {
                if &device_key.imei != imei.as_bytes() {
                    return Err(bad(crate::keys::KeyError::WrongImei));
                }
                if device_key.apn_digest != apn_settings.digest().map_err(bad)? {
                    return Err(bad(crate::keys::KeyError::WrongApnSettings));
                }
            }
        }
        Ok(ReceivedKey { issued, device_key })
    }

    /// `POST /v1/confirmations`: records that key `key_id` reached the handset.
    pub async fn confirm(&self, key_id: u64) -> Result<Confirmation, ManufacturerError> {
        self.call(
            Method::POST,
            "/v1/confirmations",
            Some(&ConfirmationRequest { key_id }),
        )
        .await
    }

    /// `GET /v1/statement`: what this operator owes the manufacturer.
    pub async fn statement(&self) -> Result<Statement, ManufacturerError> {
        self.call::<(), _>(Method::GET, "/v1/statement", None).await
    }
}
