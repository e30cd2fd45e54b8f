//! The key server: accept loop, mutual TLS handshake, HTTP/1.1 routing and the
//! ledger of issuances (mini-redis style: `run(listener, config, shutdown)`).

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use super::api::{
    ApiError, Confirmation, ConfirmationRequest, IssuedKey, KeyRequest, Statement, StatementLine,
};
use super::operator_id_from_cert;
use crate::keys::{DeviceKeySigner, Imei};

/// Largest accepted request body.
pub const MAX_BODY: usize = 16 * 1024;

/// Key server configuration.
pub struct ManufacturerConfig {
    /// TLS server configuration that requires client certificates
    /// ([`super::tls::server_config`]).
    pub tls: Arc<rustls::ServerConfig>,
    /// The device-key signing key.
    pub signer: Arc<DeviceKeySigner>,
    /// ISO 4217 currency of the fee.
    pub currency: String,
    /// Fee per confirmed key, minor units.
    pub fee_per_key_minor: u64,
    /// Validity of issued keys; `None` = no `expires_at`.
    pub key_validity: Option<Duration>,
    /// Where the ledger is kept between runs (JSON, rewritten atomically on each
    /// change before the response is sent); `None` = memory only.
    pub state_file: Option<PathBuf>,
    /// Time allowed for the TLS handshake and for each request on a connection.
    pub io_timeout: Duration,
    /// Seconds since the Unix epoch for `issued_at` / `confirmed_at`; `None` = the
    /// system clock. A simulation passes its virtual clock.
    pub clock: Option<Clock>,
    /// Where issued keys' nonces come from; `None` = the operating system's generator.
    /// A simulation passes a seeded generator so that the same run issues the same keys.
    pub nonces: Option<Nonces>,
}

/// A clock in seconds since the Unix epoch ([`ManufacturerConfig::clock`]).
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// A shared nonce generator ([`ManufacturerConfig::nonces`]).
pub type Nonces = Arc<Mutex<dyn rand_core::CryptoRngCore + Send>>;

impl core::fmt::Debug for ManufacturerConfig {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ManufacturerConfig")
            .field("currency", &self.currency)
            .field("fee_per_key_minor", &self.fee_per_key_minor)
            .field("key_validity", &self.key_validity)
            .field("state_file", &self.state_file)
            .finish_non_exhaustive()
    }
}

impl ManufacturerConfig {
    /// A configuration with memory-only state, EUR 0.50 per key, no expiry, 10 s
    /// I/O timeout.
    pub fn new(tls: Arc<rustls::ServerConfig>, signer: Arc<DeviceKeySigner>) -> Self {
        Self {
            tls,
            signer,
            currency: "EUR".into(),
            fee_per_key_minor: 50,
            key_validity: None,
            state_file: None,
            io_timeout: Duration::from_secs(10),
            clock: None,
            nonces: None,
        }
    }
}

/// `&mut dyn CryptoRngCore` as a sized generator (the signer takes `impl CryptoRngCore`).
struct DynRng<'a>(&'a mut (dyn rand_core::CryptoRngCore + Send));

impl rand_core::RngCore for DynRng<'_> {
    fn next_u32(&mut self) -> u32 {
        self.0.next_u32()
    }
    fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.0.fill_bytes(dest);
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.0.try_fill_bytes(dest)
    }
}

impl rand_core::CryptoRng for DynRng<'_> {}

/// Errors that stop the server.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The state file exists but cannot be read or parsed.
    #[error("state file {path}: {reason}")]
    StateFile {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Issuance {
    operator: String,
    imei: String,
    issued_at: u64,
    confirmed_at: Option<u64>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Ledger {
    next_key_id: u64,
    issuances: BTreeMap<u64, Issuance>,
}

struct Shared {
    config: ManufacturerConfig,
    ledger: Mutex<Ledger>,
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Shared {
    fn now(&self) -> u64 {
        self.config.clock.as_ref().map_or_else(now_secs, |c| c())
    }

    fn persist(&self, ledger: &Ledger) -> Result<(), String> {
        let Some(path) = &self.config.state_file else {
            return Ok(());
        };
        let json = serde_json::to_vec_pretty(ledger).map_err(|e| e.to_string())?;
        let tmp = path.with_extension("tmp");
        let write = || -> std::io::Result<()> {
            use std::io::Write as _;
            let mut file = std::fs::File::create(&tmp)?;
            file.write_all(&json)?;
            file.sync_all()?;
            std::fs::rename(&tmp, path)
        };
        write().map_err(|e| e.to_string())
    }

    fn issue(&self, operator: &str, req: KeyRequest) -> Result<IssuedKey, (StatusCode, String)> {
        let internal = |e: String| (StatusCode::INTERNAL_SERVER_ERROR, e);
        let mut ledger = self.ledger.lock().map_err(|e| internal(e.to_string()))?;
        let key_id = ledger.next_key_id.max(1);
        let issued_at = self.now();
        let expires_at = self
            .config
            .key_validity
            .map(|v| issued_at.saturating_add(v.as_secs()));
        let signer = &self.config.signer;
        let key = match &self.config.nonces {
            Some(nonces) => {
                let mut rng = nonces.lock().map_err(|e| internal(e.to_string()))?;
                signer.issue_with_rng(
                    key_id,
                    &req.imei,
                    &req.apn_settings,
                    issued_at,
                    expires_at,
                    &mut DynRng(&mut *rng),
                )
            }
            None => signer.issue(key_id, &req.imei, &req.apn_settings, issued_at, expires_at),
        }
        .map_err(|e| (StatusCode::BAD_REQUEST, e.to_string()))?;
        ledger.next_key_id = key_id + 1;
        ledger.issuances.insert(
            key_id,
            Issuance {
                operator: operator.to_owned(),
                imei: req.imei.to_string(),
                issued_at,
                confirmed_at: None,
            },
        );
        if let Err(e) = self.persist(&ledger) {
            ledger.issuances.remove(&key_id);
            return Err(internal(e));
        }
        Ok(IssuedKey {
            key_id,
            device_key: key.to_text().to_string(),
            issued_at,
            expires_at,
        })
    }

    fn confirm(
        &self,
        operator: &str,
        req: ConfirmationRequest,
    ) -> Result<Confirmation, (StatusCode, String)> {
        let internal = |e: String| (StatusCode::INTERNAL_SERVER_ERROR, e);
        let mut ledger = self.ledger.lock().map_err(|e| internal(e.to_string()))?;
        let issuance = ledger
            .issuances
            .get_mut(&req.key_id)
            .filter(|i| i.operator == operator)
            .ok_or((
                StatusCode::NOT_FOUND,
                format!("no key {} for this operator", req.key_id),
            ))?;
        if let Some(confirmed_at) = issuance.confirmed_at {
            return Ok(Confirmation {
                key_id: req.key_id,
                confirmed_at,
                already_confirmed: true,
            });
        }
        let confirmed_at = self.now();
        issuance.confirmed_at = Some(confirmed_at);
        if let Err(e) = self.persist(&ledger) {
            if let Some(i) = ledger.issuances.get_mut(&req.key_id) {
                i.confirmed_at = None;
            }
            return Err(internal(e));
        }
        Ok(Confirmation {
            key_id: req.key_id,
            confirmed_at,
            already_confirmed: false,
        })
    }

    fn statement(&self, operator: &str) -> Result<Statement, (StatusCode, String)> {
        let ledger = self
            .ledger
            .lock()
            .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        let lines: Vec<StatementLine> = ledger
            .issuances
            .iter()
            .filter(|(_, i)| i.operator == operator)
            .filter_map(|(key_id, i)| {
                Some(StatementLine {
                    key_id: *key_id,
                    imei: Imei::parse(&i.imei).ok()?,
                    issued_at: i.issued_at,
                    confirmed_at: i.confirmed_at,
                })
            })
            .collect();
        let keys_confirmed = lines.iter().filter(|l| l.confirmed_at.is_some()).count() as u64;
        Ok(Statement {
            operator: operator.to_owned(),
            currency: self.config.currency.clone(),
            fee_per_key_minor: self.config.fee_per_key_minor,
            keys_issued: lines.len() as u64,
            keys_confirmed,
            owed_minor: keys_confirmed.saturating_mul(self.config.fee_per_key_minor),
            lines,
        })
    }
}

fn json_response<T: Serialize>(status: StatusCode, body: &T) -> Response<Full<Bytes>> {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut resp = Response::new(Full::new(Bytes::from(bytes)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    resp
}

fn error_response(status: StatusCode, error: String) -> Response<Full<Bytes>> {
    json_response(status, &ApiError { error })
}

async fn read_json<T: for<'de> Deserialize<'de>>(
    req: Request<Incoming>,
) -> Result<T, (StatusCode, String)> {
    let body = Limited::new(req.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|e| (StatusCode::PAYLOAD_TOO_LARGE, e.to_string()))?
        .to_bytes();
    serde_json::from_slice(&body).map_err(|e| (StatusCode::BAD_REQUEST, e.to_string()))
}

async fn route(
    shared: Arc<Shared>,
    operator: Arc<str>,
    req: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let result = match (req.method().clone(), req.uri().path()) {
        (Method::POST, "/v1/keys") => match read_json::<KeyRequest>(req).await {
            Ok(body) => shared
                .issue(&operator, body)
                .map(|k| json_response(StatusCode::OK, &k)),
            Err(e) => Err(e),
        },
        (Method::POST, "/v1/confirmations") => match read_json::<ConfirmationRequest>(req).await {
            Ok(body) => shared
                .confirm(&operator, body)
                .map(|c| json_response(StatusCode::OK, &c)),
            Err(e) => Err(e),
        },
        (Method::GET, "/v1/statement") => shared
            .statement(&operator)
            .map(|s| json_response(StatusCode::OK, &s)),
        (_, "/v1/keys" | "/v1/confirmations" | "/v1/statement") => Err((
            StatusCode::METHOD_NOT_ALLOWED,
            "method not allowed".to_owned(),
        )),
        _ => Err((StatusCode::NOT_FOUND, "no such resource".to_owned())),
    };
    match result {
        Ok(resp) => resp,
        Err((status, error)) => {
            tracing::info!(%operator, %status, %error, "manufacturer request refused");
            error_response(status, error)
        }
    }
}

fn load_ledger(config: &ManufacturerConfig) -> Result<Ledger, ServerError> {
    let Some(path) = &config.state_file else {
        return Ok(Ledger::default());
    };
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| ServerError::StateFile {
            path: path.display().to_string(),
            reason: e.to_string(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Ledger::default()),
        Err(e) => Err(ServerError::StateFile {
            path: path.display().to_string(),
            reason: e.to_string(),
        }),
    }
}

async fn serve_connection(
    shared: Arc<Shared>,
    acceptor: TlsAcceptor,
    tcp: tokio::net::TcpStream,
    peer: std::net::SocketAddr,
    mut shutdown: watch::Receiver<bool>,
) {
    let timeout = shared.config.io_timeout;
    // Small answers: no Nagle delay (the TLS 1.3 session tickets after the handshake
    // would otherwise wait for the client's delayed ACK, 40 ms on Linux).
    let _ = tcp.set_nodelay(true);
    let tls = match tokio::time::timeout(timeout, acceptor.accept(tcp)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => {
            tracing::info!(%peer, error = %e, "TLS handshake refused");
            return;
        }
        Err(_) => {
            tracing::info!(%peer, "TLS handshake timed out");
            return;
        }
    };
    let operator = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|certs| certs.first())
        .and_then(|cert| operator_id_from_cert(cert.as_ref()));
    let Some(operator) = operator else {
        // Unreachable with a verifier that requires client certificates, but an
        // unnamed certificate must not be served.
        tracing::info!(%peer, "client certificate without a common name");
        return;
    };
    tracing::debug!(%peer, %operator, "operator connected");
    let operator: Arc<str> = operator.into();
    let service = hyper::service::service_fn(move |req| {
        let shared = shared.clone();
        let operator = operator.clone();
        async move { Ok::<_, std::convert::Infallible>(route(shared, operator, req).await) }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(timeout);
    let conn = builder.serve_connection(TokioIo::new(tls), service);
    tokio::pin!(conn);
    tokio::select! {
        res = conn.as_mut() => {
            if let Err(e) = res {
                tracing::debug!(%peer, error = %e, "connection ended with error");
            }
        }
        _ = async { let _ = shutdown.wait_for(|s| *s).await; } => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(timeout, conn).await;
        }
    }
}

/// Serves the key server on an already bound `listener` until `shutdown` resolves;
/// then stops accepting, lets open connections finish their current request
/// (bounded by `io_timeout`) and returns.
pub async fn run(
    listener: TcpListener,
    config: ManufacturerConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServerError> {
    let ledger = load_ledger(&config)?;
    let acceptor = TlsAcceptor::from(config.tls.clone());
    let shared = Arc::new(Shared {
        config,
        ledger: Mutex::new(ledger),
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((tcp, peer)) => {
                    connections.spawn(serve_connection(
                        shared.clone(),
                        acceptor.clone(),
                        tcp,
                        peer,
                        stop_rx.clone(),
                    ));
                }
                Err(e) => {
                    // EMFILE and friends: back off briefly instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    let _ = stop_tx.send(true);
    while connections.join_next().await.is_some() {}
    Ok(())
}
