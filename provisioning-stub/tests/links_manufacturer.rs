//! Manufacturer key server over mutual TLS, end to end on loopback (port 0).
//! Every PKI is generated at test time with rcgen; nothing is committed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use provisioning_stub::keys::{ApnSettings, DeviceKeySigner, Imei, KeyError};
use provisioning_stub::manufacturer::pki::{Ca, CertifiedKey};
use provisioning_stub::manufacturer::{
    ManufacturerClient, ManufacturerConfig, ManufacturerError, run, tls,
};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const IMEI: &str = "490154203237518";
const OTHER_IMEI: &str = "356938035643809";

fn apn() -> ApnSettings {
    ApnSettings {
        apn: "mms.mvno.example".into(),
        username: Some("mms".into()),
        password: Some("mms".into()),
        mmsc: Some("http://mmsc.mvno.example/".into()),
        proxy: Some("10.1.2.3".into()),
        proxy_port: Some(8080),
    }
}

struct World {
    ca: Ca,
    server: CertifiedKey,
    signer: Arc<DeviceKeySigner>,
}

impl World {
    fn new() -> Self {
        let ca = Ca::new("test manufacturer CA").unwrap();
        let server = ca.issue_server(&["localhost", "127.0.0.1"]).unwrap();
        Self {
            ca,
            server,
            signer: Arc::new(DeviceKeySigner::generate()),
        }
    }

    fn config(&self) -> ManufacturerConfig {
        let tls = tls::server_config(
            &self.server.cert_pem,
            &self.server.key_pem,
            self.ca.cert_pem(),
        )
        .unwrap();
        let mut config = ManufacturerConfig::new(tls, self.signer.clone());
        config.fee_per_key_minor = 120;
        config.io_timeout = Duration::from_secs(2);
        config
    }

    fn client(&self, addr: &str, operator: &CertifiedKey) -> ManufacturerClient {
        let tls =
            tls::client_config(self.ca.cert_pem(), &operator.cert_pem, &operator.key_pem).unwrap();
        ManufacturerClient::new(addr, "localhost", tls, Duration::from_secs(3))
            .unwrap()
            .with_verifying_key(self.signer.verifying_key())
    }
}

struct Running {
    addr: String,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Running {
    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(Duration::from_secs(5), &mut self.task)
            .await
            .expect("server stops within 5 s after shutdown")
            .unwrap();
    }
}

async fn start(config: ManufacturerConfig) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        run(listener, config, async {
            let _ = stopped.await;
        })
        .await
        .unwrap();
    });
    Running {
        addr,
        stop: Some(stop),
        task,
    }
}

#[tokio::test]
async fn links_manufacturer_happy_path_issue_confirm_statement() {
    let world = World::new();
    let server = start(world.config()).await;
    let operator = world.ca.issue_client("mvno-a").unwrap();
    let client = world.client(&server.addr, &operator);
    let imei = Imei::parse(IMEI).unwrap();

    let received = client.request_key(&imei, &apn()).await.unwrap();
    let key = &received.device_key;
    let pk = world.signer.verifying_key();
    key.verify(&pk, &imei, &apn()).unwrap();
    // Bound to this IMEI and these settings only.
    let other = Imei::parse(OTHER_IMEI).unwrap();
    assert_eq!(key.verify(&pk, &other, &apn()), Err(KeyError::WrongImei));
    let mut other_apn = apn();
    other_apn.mmsc = Some("http://evil.example/".into());
    assert_eq!(
        key.verify(&pk, &imei, &other_apn),
        Err(KeyError::WrongApnSettings)
    );

    // A second key for the same handset is a different issuance.
    let second = client.request_key(&imei, &apn()).await.unwrap();
    assert_ne!(second.issued.key_id, received.issued.key_id);
    assert_ne!(second.device_key.nonce, key.nonce);

    let c = client.confirm(received.issued.key_id).await.unwrap();
    assert!(!c.already_confirmed);
    let again = client.confirm(received.issued.key_id).await.unwrap();
    assert!(again.already_confirmed);
    assert_eq!(again.confirmed_at, c.confirmed_at);

    let statement = client.statement().await.unwrap();
    assert_eq!(statement.operator, "mvno-a");
    assert_eq!(statement.keys_issued, 2);
    assert_eq!(statement.keys_confirmed, 1);
    assert_eq!(statement.owed_minor, 120);
    assert_eq!(statement.currency, "EUR");

    // Another operator sees none of it and cannot confirm mvno-a's keys.
    let operator_b = world.ca.issue_client("mvno-b").unwrap();
    let client_b = world.client(&server.addr, &operator_b);
    match client_b.confirm(second.issued.key_id).await {
        Err(ManufacturerError::Rejected { status: 404, .. }) => {}
        other => panic!("expected 404, got {other:?}"),
    }
    assert_eq!(client_b.statement().await.unwrap().keys_issued, 0);

    server.stop().await;
}

#[tokio::test]
async fn links_manufacturer_unknown_key_confirmation_is_rejected_404() {
    let world = World::new();
    let server = start(world.config()).await;
    let operator = world.ca.issue_client("mvno-a").unwrap();
    let client = world.client(&server.addr, &operator);
    match client.confirm(999).await {
        Err(e @ ManufacturerError::Rejected { status: 404, .. }) => {
            assert_eq!(e.reason(), "manufacturer rejected request")
        }
        other => panic!("expected 404, got {other:?}"),
    }
    server.stop().await;
}

#[tokio::test]
async fn links_manufacturer_client_without_certificate_is_refused() {
    let world = World::new();
    let server = start(world.config()).await;
    let anonymous = tls::client_config_anonymous(world.ca.cert_pem()).unwrap();
    let client =
        ManufacturerClient::new(&server.addr, "localhost", anonymous, Duration::from_secs(3))
            .unwrap();
    let err = client
        .request_key(&Imei::parse(IMEI).unwrap(), &apn())
        .await
        .unwrap_err();
    assert!(
        matches!(err, ManufacturerError::ClientCertificateRefused(_)),
        "{err:?}"
    );
    // Nothing was issued.
    let operator = world.ca.issue_client("mvno-a").unwrap();
    let statement = world
        .client(&server.addr, &operator)
        .statement()
        .await
        .unwrap();
    assert_eq!(statement.keys_issued, 0);
    server.stop().await;
}

#[tokio::test]
async fn links_manufacturer_client_certificate_from_rogue_ca_is_refused() {
    let world = World::new();
    let server = start(world.config()).await;
    let rogue = Ca::new("test manufacturer CA").unwrap(); // same name, other key
    let rogue_operator = rogue.issue_client("mvno-a").unwrap();
    // The rogue client still trusts the real manufacturer CA for the server.
    let client = world.client(&server.addr, &rogue_operator);
    let err = client
        .request_key(&Imei::parse(IMEI).unwrap(), &apn())
        .await
        .unwrap_err();
    assert!(
        matches!(err, ManufacturerError::ClientCertificateRefused(_)),
        "{err:?}"
    );
    let operator = world.ca.issue_client("mvno-a").unwrap();
    assert_eq!(
        world
            .client(&server.addr, &operator)
            .statement()
            .await
            .unwrap()
            .keys_issued,
        0
    );
    server.stop().await;
}

#[tokio::test]
async fn links_manufacturer_server_certificate_from_rogue_ca_is_refused_by_client() {
    let world = World::new();
    // An impostor key server: certificate from another CA, but it would accept
    // our operator certificate.
    let rogue = Ca::new("test manufacturer CA").unwrap();
    let rogue_server = rogue.issue_server(&["localhost", "127.0.0.1"]).unwrap();
    let tls = tls::server_config(
        &rogue_server.cert_pem,
        &rogue_server.key_pem,
        world.ca.cert_pem(),
    )
    .unwrap();
    let server = start(ManufacturerConfig::new(
        tls,
        Arc::new(DeviceKeySigner::generate()),
    ))
    .await;
    let operator = world.ca.issue_client("mvno-a").unwrap();
    let err = world
        .client(&server.addr, &operator)
        .request_key(&Imei::parse(IMEI).unwrap(), &apn())
        .await
        .unwrap_err();
    assert!(
        matches!(err, ManufacturerError::CertificateWrong(_)),
        "{err:?}"
    );
    assert_eq!(err.reason(), "manufacturer certificate wrong");
    server.stop().await;
}

#[tokio::test]
async fn links_manufacturer_server_name_mismatch_is_certificate_wrong() {
    let world = World::new();
    let server = start(world.config()).await;
    let operator = world.ca.issue_client("mvno-a").unwrap();
    let tls =
        tls::client_config(world.ca.cert_pem(), &operator.cert_pem, &operator.key_pem).unwrap();
    let client = ManufacturerClient::new(
        &server.addr,
        "keys.other.example",
        tls,
        Duration::from_secs(3),
    )
    .unwrap();
    let err = client.statement().await.unwrap_err();
    assert_eq!(err.reason(), "manufacturer certificate wrong", "{err:?}");
    server.stop().await;
}

#[tokio::test]
async fn links_manufacturer_down_is_unreachable() {
    let world = World::new();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    drop(listener); // nothing listens there any more
    let operator = world.ca.issue_client("mvno-a").unwrap();
    let err = world
        .client(&addr, &operator)
        .request_key(&Imei::parse(IMEI).unwrap(), &apn())
        .await
        .unwrap_err();
    assert!(matches!(err, ManufacturerError::Unreachable(_)), "{err:?}");
    assert_eq!(err.reason(), "manufacturer unreachable");
}

#[tokio::test]
async fn links_manufacturer_silent_peer_times_out_as_unreachable() {
    let world = World::new();
    // Accepts TCP, never speaks TLS.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        loop {
            if let Ok((s, _)) = listener.accept().await {
                held.push(s);
            }
        }
    });
    let operator = world.ca.issue_client("mvno-a").unwrap();
    let tls =
        tls::client_config(world.ca.cert_pem(), &operator.cert_pem, &operator.key_pem).unwrap();
    let client =
        ManufacturerClient::new(&addr, "localhost", tls, Duration::from_millis(300)).unwrap();
    let started = Instant::now();
    let err = client
        .request_key(&Imei::parse(IMEI).unwrap(), &apn())
        .await
        .unwrap_err();
    let elapsed = started.elapsed();
    assert!(matches!(err, ManufacturerError::Unreachable(_)), "{err:?}");
    assert!(
        elapsed >= Duration::from_millis(300) && elapsed < Duration::from_secs(3),
        "{elapsed:?}"
    );
    hold.abort();
}

#[tokio::test]
async fn links_manufacturer_ledger_survives_restart_with_state_file() {
    let world = World::new();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("ledger.json");
    let operator = world.ca.issue_client("mvno-a").unwrap();

    let mut config = world.config();
    config.state_file = Some(state.clone());
    let server = start(config).await;
    let client = world.client(&server.addr, &operator);
    let key = client
        .request_key(&Imei::parse(IMEI).unwrap(), &apn())
        .await
        .unwrap();
    client.confirm(key.issued.key_id).await.unwrap();
    server.stop().await;

    let mut config = world.config();
    config.state_file = Some(state);
    let server = start(config).await;
    let client = world.client(&server.addr, &operator);
    let statement = client.statement().await.unwrap();
    assert_eq!((statement.keys_issued, statement.keys_confirmed), (1, 1));
    // Ids continue after a restart; no reuse.
    let next = client
        .request_key(&Imei::parse(IMEI).unwrap(), &apn())
        .await
        .unwrap();
    assert!(next.issued.key_id > key.issued.key_id);
    server.stop().await;
}

#[tokio::test]
async fn links_manufacturer_dev_pki_written_to_directory_works() {
    use provisioning_stub::manufacturer::pki::DevPki;
    let dir = tempfile::tempdir().unwrap();
    DevPki::generate("mvno-dev")
        .unwrap()
        .write_to(dir.path())
        .unwrap();
    let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap();
    let signer = Arc::new(DeviceKeySigner::from_hex(&read("signing.key")).unwrap());
    let public = provisioning_stub::keys::verifying_key_from_hex(&read("signing.pub")).unwrap();
    assert_eq!(signer.verifying_key(), public);
    let server_tls =
        tls::server_config(&read("server.pem"), &read("server.key"), &read("ca.pem")).unwrap();
    let server = start(ManufacturerConfig::new(server_tls, signer)).await;
    let client_tls = tls::client_config(
        &read("ca.pem"),
        &read("operator.pem"),
        &read("operator.key"),
    )
    .unwrap();
    let client = ManufacturerClient::new(
        &server.addr,
        "127.0.0.1",
        client_tls,
        Duration::from_secs(3),
    )
    .unwrap()
    .with_verifying_key(public);
    client
        .request_key(&Imei::parse(IMEI).unwrap(), &apn())
        .await
        .unwrap();
    assert_eq!(client.statement().await.unwrap().operator, "mvno-dev");
    server.stop().await;
}

/// A TCP relay in front of the key server that counts the connections it carries and
/// can cut them all.
struct Relay {
    addr: String,
    connections: Arc<std::sync::atomic::AtomicUsize>,
    open: Arc<std::sync::Mutex<Vec<JoinHandle<()>>>>,
}

impl Relay {
    async fn start(to: String) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let connections = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let open = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (count, tasks) = (connections.clone(), open.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let to = to.clone();
                let task = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(&to).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                tasks.lock().unwrap().push(task);
            }
        });
        Relay {
            addr,
            connections,
            open,
        }
    }

    fn connections(&self) -> usize {
        self.connections.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn cut(&self) {
        for t in self.open.lock().unwrap().drain(..) {
            t.abort();
        }
    }
}

#[tokio::test]
async fn links_manufacturer_client_keeps_its_connection_alive_and_replaces_a_closed_one() {
    let world = World::new();
    let server = start(world.config()).await;
    let relay = Relay::start(server.addr.clone()).await;
    let operator = world.ca.issue_client("mvno-a").unwrap();
    let client = world.client(&relay.addr, &operator);
    let imei = Imei::parse(IMEI).unwrap();
    let key = client.request_key(&imei, &apn()).await.unwrap();
    client.confirm(key.issued.key_id).await.unwrap();
    // A clone shares the kept connection.
    let clone = client.clone();
    assert_eq!(clone.statement().await.unwrap().keys_confirmed, 1);
    assert_eq!(
        relay.connections(),
        1,
        "three calls, one mutual-TLS connection"
    );

    // The connection goes away while idle: the next call opens a new one.
    relay.cut();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let statement = client.statement().await.unwrap();
    assert_eq!(statement.keys_issued, 1);
    assert_eq!(relay.connections(), 2);
    server.stop().await;
}

/// A counter as a nonce source (deterministic on purpose).
struct Counting(u64);

impl rand_core::RngCore for Counting {
    fn next_u32(&mut self) -> u32 {
        self.next_u64() as u32
    }
    fn next_u64(&mut self) -> u64 {
        self.0 += 1;
        self.0
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for b in dest {
            *b = self.next_u64() as u8;
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl rand_core::CryptoRng for Counting {}

#[tokio::test]
async fn links_manufacturer_clock_and_nonces_make_keys_repeatable() {
    let world = World::new();
    let issue = || async {
        let mut config = world.config();
        config.clock = Some(Arc::new(|| 1_780_000_000));
        config.nonces = Some(Arc::new(std::sync::Mutex::new(Counting(0))));
        let server = start(config).await;
        let operator = world.ca.issue_client("mvno-a").unwrap();
        let client = world.client(&server.addr, &operator);
        let key = client
            .request_key(&Imei::parse(IMEI).unwrap(), &apn())
            .await
            .unwrap();
        let confirmed = client.confirm(key.issued.key_id).await.unwrap();
        server.stop().await;
        (key, confirmed)
    };
    let (a, ca) = issue().await;
    let (b, cb) = issue().await;
    assert_eq!(a.device_key.issued_at, 1_780_000_000);
    assert_eq!(ca.confirmed_at, 1_780_000_000);
    assert_eq!(
        a.device_key.encode(),
        b.device_key.encode(),
        "same key twice"
    );
    assert_eq!(ca.confirmed_at, cb.confirmed_at);
}
