//! A manufacturer's key server inside the world: `provisioning_stub::manufacturer::run`
//! (mutual TLS, HTTP/1.1) on a loopback port, served by the tokio runtime the embedded
//! stub drives, with test certificates generated once per process ([`test_pki`]), the
//! world's virtual clock for `issued_at` ([`VirtualClock`]) and seeded key nonces
//! ([`SeededNonces`]), so that a run issues the same keys every time.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use handset_sim::network::Rng;
use provisioning_stub::keys::DeviceKeySigner;
use provisioning_stub::manufacturer::pki::Ca;
use provisioning_stub::manufacturer::server::Clock;
use provisioning_stub::manufacturer::{ManufacturerConfig, tls};

use super::StubSetupError;

/// The operator id the stub's client certificate names (its subject common name).
pub const CLIENT_ID: &str = "imeitrack-stub";

/// Test certificates for in-process key servers: one CA, a server certificate for
/// `localhost` / `127.0.0.1` and the stub's client certificate, all PEM.
#[derive(Debug)]
pub struct TestPki {
    /// The CA certificate (both sides trust it).
    pub ca_pem: String,
    /// The key servers' certificate.
    pub server_cert_pem: String,
    /// Its private key.
    pub server_key_pem: String,
    /// The stub's client certificate (common name [`CLIENT_ID`]).
    pub client_cert_pem: String,
    /// Its private key.
    pub client_key_pem: String,
}

impl TestPki {
    /// Writes `ca.pem`, `client.pem` and `client.key` into `dir` (the files a
    /// `[[key_sources]]` entry of kind `manufacturer` names).
    pub fn write_client_files(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::write(dir.join("ca.pem"), &self.ca_pem)?;
        std::fs::write(dir.join("client.pem"), &self.client_cert_pem)?;
        std::fs::write(dir.join("client.key"), &self.client_key_pem)
    }
}

static PKI: OnceLock<Result<TestPki, String>> = OnceLock::new();

/// The process's test PKI, generated on first use (key generation and signing take a
/// few milliseconds; every engine of a run shares the result).
pub fn test_pki() -> Result<&'static TestPki, StubSetupError> {
    PKI.get_or_init(|| {
        let ca = Ca::new("imeitrack world test CA").map_err(|e| e.to_string())?;
        let server = ca
            .issue_server(&["localhost", "127.0.0.1"])
            .map_err(|e| e.to_string())?;
        let client = ca.issue_client(CLIENT_ID).map_err(|e| e.to_string())?;
        Ok(TestPki {
            ca_pem: ca.cert_pem().to_owned(),
            server_cert_pem: server.cert_pem.clone(),
            server_key_pem: server.key_pem.as_str().to_owned(),
            client_cert_pem: client.cert_pem.clone(),
            client_key_pem: client.key_pem.as_str().to_owned(),
        })
    })
    .as_ref()
    .map_err(|e| StubSetupError::Config(format!("test PKI: {e}")))
}

/// Unix seconds shared between the stub (which sets it to the world's time before each
/// call) and the key servers (which stamp keys and confirmations with it).
#[derive(Debug, Clone, Default)]
pub struct VirtualClock(Arc<AtomicU64>);

impl VirtualClock {
    /// A clock at `unix_s`.
    pub fn at(unix_s: u64) -> Self {
        VirtualClock(Arc::new(AtomicU64::new(unix_s)))
    }

    /// Sets the time.
    pub fn set(&self, unix_s: u64) {
        self.0.store(unix_s, Ordering::Relaxed);
    }

    /// The time.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    /// As a key server's [`ManufacturerConfig::clock`].
    pub fn as_clock(&self) -> Clock {
        let c = self.0.clone();
        Arc::new(move || c.load(Ordering::Relaxed))
    }
}

/// Deterministic nonces (the world's seeded generator). Not cryptographically strong,
/// which is the point: the same seed gives the same device keys.
#[derive(Debug)]
pub struct SeededNonces(Rng);

impl SeededNonces {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Self {
        SeededNonces(Rng::seeded(seed))
    }
}

impl rand_core::RngCore for SeededNonces {
    fn next_u32(&mut self) -> u32 {
        (self.0.next_u64() >> 32) as u32
    }
    fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for chunk in dest.chunks_mut(8) {
            let v = self.0.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl rand_core::CryptoRng for SeededNonces {}

/// Starts a key server signing with `signer` on `127.0.0.1:<free port>`, served by
/// `rt` (a current-thread runtime serves it whenever the stub waits on it), stamping
/// with `clock`, nonces from `nonce_seed`. Returns its address. It stops when `rt` is
/// dropped.
pub fn start(
    rt: &tokio::runtime::Runtime,
    signer: Arc<DeviceKeySigner>,
    clock: &VirtualClock,
    nonce_seed: u64,
) -> Result<String, StubSetupError> {
    let pki = test_pki()?;
    let tls = tls::server_config(&pki.server_cert_pem, &pki.server_key_pem, &pki.ca_pem)
        .map_err(|e| StubSetupError::Config(format!("key server TLS: {e}")))?;
    let mut config = ManufacturerConfig::new(tls, signer);
    config.clock = Some(clock.as_clock());
    config.nonces = Some(Arc::new(Mutex::new(SeededNonces::new(nonce_seed))));
    // Wall-clock pauses between the world's calls (a debugger, a slow debug build)
    // must not look like a silent client.
    config.io_timeout = Duration::from_secs(3600);
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let address = listener.local_addr()?.to_string();
    rt.spawn(async move {
        let _ =
            provisioning_stub::manufacturer::run(listener, config, std::future::pending()).await;
    });
    Ok(address)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::RngCore as _;

    #[test]
    fn pki_is_generated_once() {
        let a = test_pki().unwrap();
        let b = test_pki().unwrap();
        assert!(std::ptr::eq(a, b));
        assert!(a.ca_pem.contains("BEGIN CERTIFICATE"));
        assert!(a.client_key_pem.contains("PRIVATE KEY"));
    }

    #[test]
    fn seeded_nonces_repeat_per_seed() {
        let draw = |seed| {
            let mut n = SeededNonces::new(seed);
            let mut b = [0u8; 16];
            n.fill_bytes(&mut b);
            b
        };
        assert_eq!(draw(1), draw(1));
        assert_ne!(draw(1), draw(2));
    }

    #[test]
    fn virtual_clock_is_shared() {
        let c = VirtualClock::at(5);
        let f = c.as_clock();
        c.set(1_780_000_000);
        assert_eq!(f(), 1_780_000_000);
        assert_eq!(c.get(), 1_780_000_000);
    }
}
