//! The download confirmation owed to the manufacturer (claim 8) is durable: recorded in
//! the store when the handset confirms, sent, marked sent. With Bolt's key server down:
//! (a) the live retries (bounded, back-off) deliver it once the server is back;
//! (b) when `serve` stops while it is still owed, the next `serve` start resends it.
//! Bolt keeps its ledger in a state file, so the restarted server knows the keys.

mod serve_support;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use applet::wire::omacp::ProvisioningDoc;
use applet::wire::wsp::PushPdu;
use provisioning_stub::confirmation::ReportResult;
use provisioning_stub::keys::{DeviceKey, DeviceKeySigner};
use provisioning_stub::manufacturer::pki::Ca;
use provisioning_stub::manufacturer::{ManufacturerClient, ManufacturerConfig, tls};
use serve_support::*;
use tokio::net::TcpListener;

/// Bolt's key server, restartable on the same address with the same state file.
struct Bolt {
    address: String,
    tls: Arc<rustls::ServerConfig>,
    signer: Arc<DeviceKeySigner>,
    state: PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    client: ManufacturerClient,
}

impl Bolt {
    async fn new(dir: &std::path::Path) -> (Bolt, Manufacturer) {
        let ca = Ca::new("Bolt test CA").unwrap();
        let server = ca.issue_server(&["localhost", "127.0.0.1"]).unwrap();
        let operator = ca.issue_client("mvno-fr").unwrap();
        let signer = Arc::new(DeviceKeySigner::generate());
        let tls = tls::server_config(&server.cert_pem, &server.key_pem, ca.cert_pem()).unwrap();
        let address = {
            let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
            l.local_addr().unwrap().to_string()
        };
        let m = Manufacturer {
            address: address.clone(),
            ca: dir.join("bolt-ca.pem"),
            cert: dir.join("operator.pem"),
            key: dir.join("operator.key"),
            verifying_key: dir.join("bolt-signing.pub"),
        };
        std::fs::write(&m.ca, ca.cert_pem()).unwrap();
        std::fs::write(&m.cert, &operator.cert_pem).unwrap();
        std::fs::write(&m.key, operator.key_pem.as_str()).unwrap();
        std::fs::write(
            &m.verifying_key,
            hex::encode(signer.verifying_key().as_bytes()),
        )
        .unwrap();
        let client_tls =
            tls::client_config(ca.cert_pem(), &operator.cert_pem, operator.key_pem.as_str())
                .unwrap();
        let client = ManufacturerClient::new(
            address.clone(),
            "localhost",
            client_tls,
            Duration::from_secs(5),
        )
        .unwrap();
        let bolt = Bolt {
            address,
            tls,
            signer,
            state: dir.join("bolt-state.json"),
            stop: None,
            task: None,
            client,
        };
        (bolt, m)
    }

    async fn up(&mut self) {
        let listener = TcpListener::bind(&self.address).await.unwrap();
        let mut config = ManufacturerConfig::new(self.tls.clone(), self.signer.clone());
        config.state_file = Some(self.state.clone());
        config.io_timeout = Duration::from_secs(2);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        self.stop = Some(stop);
        self.task = Some(tokio::spawn(async move {
            provisioning_stub::manufacturer::run(listener, config, async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
        }));
    }

    async fn down(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(10), t)
                .await
                .unwrap()
                .unwrap();
        }
    }

    async fn confirmed(&self) -> Vec<u64> {
        let st = self.client.statement().await.unwrap();
        st.lines
            .iter()
            .filter(|l| l.confirmed_at.is_some())
            .map(|l| l.key_id)
            .collect()
    }
}

/// The device key id carried by a push.
fn key_id(push: &[u8]) -> u64 {
    let pdu = PushPdu::parse(push).unwrap();
    let doc = ProvisioningDoc::parse(pdu.body).unwrap();
    let mut buf = [0u8; 200];
    let n = doc.device_key().unwrap().write_key(&mut buf).unwrap();
    DeviceKey::decode(&buf[..n]).unwrap().key_id
}

fn owed_row(world: &World, key_id: u64) -> (i64, Option<i64>, Option<String>) {
    world
        .sql()
        .query_row(
            "SELECT attempts, sent_at, last_error FROM manufacturer_confirmations
             WHERE device_key_id = ?1",
            [key_id as i64],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap_or((-1, None, None))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owed_confirmation_survives_outage_and_restart() {
    let (smsc, _server, port) = start_smsc().await;
    let dir = tempfile::tempdir().unwrap();
    let (mut bolt, m) = Bolt::new(dir.path()).await;
    bolt.up().await;
    let world = World::new(2, port, Some(&m)).await;
    world.write_config(
        port,
        Some(&m),
        "[manufacturer_confirmations]\nmax_attempts = 60\nretry_min_ms = 100\nretry_max_ms = 300\n",
    );
    let (metrics, _admin, stop, task) = start_serve(&world).await;
    smsc.bound(Duration::from_secs(10)).await;

    // Two Bolt handsets get keys from the (up) key server.
    let mut keys = Vec::new();
    for n in 1..=2 {
        let reg = registration(&card(n), 1, IMEI_BOLT_B2);
        assert_eq!(smsc.deliver(&msisdn(n), &reg).await, Ok(0));
        keys.push(key_id(
            &smsc.push_for(&msisdn(n), Duration::from_secs(10)).await,
        ));
    }
    assert!(bolt.confirmed().await.is_empty());

    // (a) Server down; handset 1 confirms: owed before the ack, attempts fail, the
    //     server comes back, the retry delivers it.
    bolt.down().await;
    let r1 = report(&card(1), 1, keys[0], ReportResult::CONFIGURED);
    assert_eq!(smsc.deliver(&msisdn(1), &r1).await, Ok(0));
    let (attempts, sent, _) = owed_row(&world, keys[0]);
    assert!(attempts >= 0 && sent.is_none(), "owed when acked");
    wait_for(|| owed_row(&world, keys[0]).0 >= 2).await;
    let (_, _, error) = owed_row(&world, keys[0]);
    assert!(
        error.as_deref().unwrap_or("").contains("unreachable"),
        "{error:?}"
    );
    bolt.up().await;
    wait_for(|| owed_row(&world, keys[0]).1.is_some()).await;
    assert_eq!(bolt.confirmed().await, vec![keys[0]]);
    // A redelivered report owes nothing new.
    assert_eq!(smsc.deliver(&msisdn(1), &r1).await, Ok(0));
    assert_eq!(
        world.count("SELECT COUNT(*) FROM manufacturer_confirmations"),
        1
    );

    // (b) Server down again; handset 2 confirms; serve stops while it is owed (the
    //     retries do not hold the shutdown up) …
    bolt.down().await;
    let r2 = report(&card(2), 1, keys[1], ReportResult::CONFIGURED);
    assert_eq!(smsc.deliver(&msisdn(2), &r2).await, Ok(0));
    wait_for(|| owed_row(&world, keys[1]).0 >= 1).await;
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("serve stops despite owed confirmations")
        .unwrap();
    let (attempts, sent, _) = owed_row(&world, keys[1]);
    assert!(attempts >= 1 && sent.is_none());
    assert!(metrics.get("imeitrack_manufacturer_confirmations_total", "failed") >= 3);
    assert_eq!(
        metrics.get("imeitrack_manufacturer_confirmations_total", "sent"),
        1
    );
    // … the server comes back, serve starts again and resends what is owed.
    bolt.up().await;
    let (metrics2, _admin, stop, task) = start_serve(&world).await;
    wait_for(|| owed_row(&world, keys[1]).1.is_some()).await;
    let mut confirmed = bolt.confirmed().await;
    confirmed.sort_unstable();
    let mut expected = keys.clone();
    expected.sort_unstable();
    assert_eq!(confirmed, expected);
    assert_eq!(
        metrics2.get("imeitrack_manufacturer_confirmations_total", "sent"),
        1
    );
    assert_eq!(
        world.count("SELECT COUNT(*) FROM manufacturer_confirmations WHERE sent_at IS NULL"),
        0
    );
    // The money side is untouched by the outage: one fee request and one download
    // confirmation entry per issuance.
    assert_eq!(
        world.count("SELECT COUNT(*) FROM ledger WHERE kind = 'download_confirmation'"),
        2
    );
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .unwrap()
        .unwrap();
    bolt.down().await;
}
