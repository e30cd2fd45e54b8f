//! Shared pieces of the `serve_*` tests: an independent SMSC (the `smpp34` crate's
//! server, not written here) that records every PDU it gets, a world of cards, devices,
//! keys and configuration in a temporary directory, registration and report builders,
//! and reassembly of the OMA CP push from the `submit_sm`s.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};

use applet::wire::registration::{EventKind, KeyId, RegistrationRepr};
use applet::wire::sms::udh::UserDataHeader;
use async_trait::async_trait;
use provisioning_stub::config::StubConfig;
use provisioning_stub::confirmation::{ReportRepr, ReportResult};
use provisioning_stub::devices::{Date, DeviceModel, Tac};
use provisioning_stub::inventory::{Card, Iccid, Imsi, Msisdn, RegistrationKey};
use provisioning_stub::keys::DeviceKeySigner;
use provisioning_stub::manufacturer::pki::Ca;
use provisioning_stub::manufacturer::{ManufacturerConfig, tls};
use provisioning_stub::metrics::Metrics;
use provisioning_stub::store::{AnyStore, Store};
use smpp34::server::ESME;
use smpp34::{
    SmppConnectionInformation, SmppError, SmppServer, SmppServerListener, bind_transceiver,
    bind_transceiver_resp, submit_sm, submit_sm_resp, unbind, unbind_resp,
};
use tokio::net::TcpListener;
use tokio::sync::Mutex;

pub const SYSTEM_ID: &str = "imeitrack";
pub const PASSWORD: &str = "secret";
pub const SHORT_CODE: &str = "4242";

// ------------------------------------------------------------------ SMSC

/// A `submit_sm` as the SMSC received it.
#[derive(Debug, Clone)]
pub struct Submitted {
    pub at: Instant,
    pub source: String,
    pub destination: String,
    pub esm_class: u8,
    pub data_coding: u8,
    pub short_message: Vec<u8>,
}

#[derive(Default)]
pub struct Smsc {
    pub binds: StdMutex<u32>,
    pub unbinds: StdMutex<u32>,
    pub submits: StdMutex<Vec<Submitted>>,
    pub esme: Mutex<Option<Arc<ESME>>>,
}

#[async_trait]
impl SmppServerListener for Smsc {
    async fn on_bind_transceiver(
        &self,
        req: bind_transceiver,
        _c: &SmppConnectionInformation,
        _s: &String,
    ) -> bind_transceiver_resp {
        if req.system_id == SYSTEM_ID && req.password == PASSWORD {
            *self.binds.lock().unwrap() += 1;
            req.accept("SMSC34".to_string(), Some(0x34))
        } else {
            req.reject(SmppError::ESME_RINVPASWD)
        }
    }

    async fn on_unbind(
        &self,
        req: unbind,
        _c: &SmppConnectionInformation,
        _s: &String,
    ) -> unbind_resp {
        *self.unbinds.lock().unwrap() += 1;
        req.accept()
    }

    async fn on_submit_sm(
        &self,
        req: submit_sm,
        _c: &SmppConnectionInformation,
        _s: &String,
    ) -> submit_sm_resp {
        let n = {
            let mut submits = self.submits.lock().unwrap();
            submits.push(Submitted {
                at: Instant::now(),
                source: req.source_addr.clone(),
                destination: req.destination_addr.clone(),
                esm_class: req.esm_class,
                data_coding: req.data_coding,
                short_message: req.short_message.clone(),
            });
            submits.len()
        };
        req.accept(format!("m{n}"))
    }

    async fn on_esme_bound(&self, esme: ESME, _s: &String) {
        *self.esme.lock().await = Some(Arc::new(esme));
    }

    async fn on_esme_unbound(&self, _s: &String) {
        *self.esme.lock().await = None;
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts the smpp34 SMSC on a free port.
pub async fn start_smsc() -> (Arc<Smsc>, SmppServer, u16) {
    start_smsc_with(10_000).await
}

/// [`start_smsc`] with a `deliver_sm_resp` timeout of `response_ms`.
pub async fn start_smsc_with(response_ms: u64) -> (Arc<Smsc>, SmppServer, u16) {
    let smsc = Arc::new(Smsc::default());
    let port = free_port();
    let mut server = SmppServer::new_with_default_timers(
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        port,
        smsc.clone(),
        5_000,       // session_init
        30_000,      // enquire_link
        120_000,     // inactivity
        response_ms, // response
        1 << 16,     // buffer
    );
    server.start().await;
    assert!(server.is_alive(), "smpp34 server did not start on {port}");
    (smsc, server, port)
}

impl Smsc {
    /// Waits until an ESME is bound; returns its session handle.
    pub async fn bound(&self, within: Duration) -> Arc<ESME> {
        let start = Instant::now();
        loop {
            if let Some(e) = self.esme.lock().await.clone() {
                return e;
            }
            assert!(start.elapsed() < within, "the stub did not bind");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Sends a mobile-originated message as `deliver_sm` (8-bit, no UDH) and returns
    /// the response status (`Err` = no response / generic_nack).
    pub async fn deliver(&self, from: &str, payload: &[u8]) -> Result<u32, SmppError> {
        let esme = self
            .esme
            .lock()
            .await
            .clone()
            .ok_or(SmppError::ESME_RSYSERR)?;
        esme.deliver_sm()
            .source_addr_ton(1)
            .source_addr_npi(1)
            .source_addr(from)
            .destination_addr(SHORT_CODE)
            .esm_class(0x00)
            .data_coding(0x04)
            .short_message(payload.to_vec())
            .send()
            .await
            .map(|r| r.command_status())
    }

    pub fn submits_to(&self, destination: &str) -> Vec<Submitted> {
        self.submits
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.destination == destination)
            .cloned()
            .collect()
    }

    /// Waits for a complete push to `destination` and reassembles it.
    pub async fn push_for(&self, destination: &str, within: Duration) -> Vec<u8> {
        let start = Instant::now();
        loop {
            if let Some(p) = reassemble(&self.submits_to(destination)) {
                return p;
            }
            assert!(
                start.elapsed() < within,
                "no complete push for {destination}: {:?}",
                self.submits_to(destination)
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Concatenates the WSP data of a complete set of segments (UDH checked: ports
/// 2948 ← 9200, 8-bit concatenation of one reference); `None` while parts are missing.
pub fn reassemble(submits: &[Submitted]) -> Option<Vec<u8>> {
    let mut parts: HashMap<u8, Vec<u8>> = HashMap::new();
    let mut total = None;
    for s in submits {
        assert_eq!(s.esm_class, 0x40, "UDHI");
        assert_eq!(s.data_coding, 0x04, "8-bit");
        let udh = UserDataHeader::parse(&s.short_message).expect("UDH");
        let ports = udh.ports().expect("port addressing");
        assert_eq!((ports.destination, ports.originator), (2948, 9200));
        let data = s.short_message[udh.buffer_len()..].to_vec();
        assert!(s.short_message.len() <= 140);
        match udh.concatenation() {
            None => return Some(data),
            Some(c) => {
                total = Some(c.total);
                parts.insert(c.sequence, data);
            }
        }
    }
    let total = total?;
    if parts.len() < usize::from(total) {
        return None;
    }
    Some((1..=total).flat_map(|i| parts[&i].clone()).collect())
}

// ------------------------------------------------------------------ world

pub const IMEI_ACME_A1: &str = "490154203237518"; // TAC 49015420, depreciated model
pub const IMEI_BOLT_B2: &str = "356938035643809"; // TAC 35693803, key from manufacturer
pub const IMEI_CURRENT: &str = "352099001761481"; // TAC 35209900, current model: standard

/// Card `n` (1-based): ICCID 89445001000000000nC, IMSI 20801100000000n, key [n; 16].
pub fn card(n: u32) -> Card {
    let body = format!("894450010{n:09}");
    let iccid = format!("{body}{}", luhn(&body));
    Card {
        iccid: Iccid::parse(&iccid).unwrap(),
        imsi: Imsi::parse(&format!("20801{n:010}")).unwrap(),
        msisdn: Some(Msisdn::parse(&format!("+336{n:08}")).unwrap()),
        key: RegistrationKey([n as u8; 16]),
    }
}

pub fn msisdn(n: u32) -> String {
    format!("336{n:08}")
}

fn luhn(body: &str) -> char {
    let sum: u32 = body
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 0 {
                let x = d * 2;
                x / 10 + x % 10
            } else {
                d
            }
        })
        .sum();
    char::from(b'0' + ((10 - sum % 10) % 10) as u8)
}

/// EF.ICCID content (swapped BCD, F padding) of a card.
pub fn ef_iccid(card: &Card) -> [u8; 10] {
    let d: Vec<u8> = card.iccid.as_str().bytes().map(|b| b - b'0').collect();
    let mut out = [0xFFu8; 10];
    for (i, o) in out.iter_mut().enumerate() {
        let lo = d.get(2 * i).copied().unwrap_or(0xF);
        let hi = d.get(2 * i + 1).copied().unwrap_or(0xF);
        *o = (hi << 4) | lo;
    }
    out
}

/// EF.IMSI content of a card.
pub fn ef_imsi(card: &Card) -> [u8; 9] {
    let mut out = [0xFFu8; 9];
    let mut id = [0u8; 8];
    let n =
        applet::wire::wsp::imsi_mobile_identity(card.imsi.as_str().as_bytes(), &mut id).unwrap();
    out[0] = n as u8;
    out[1..=n].copy_from_slice(&id[..n]);
    out
}

/// IMEI digits as the TS 24.008 mobile identity (CAT tag 14 value).
pub fn imei_identity(imei: &str) -> [u8; 8] {
    let d: Vec<u8> = imei.bytes().map(|b| b - b'0').collect();
    let mut out = [0u8; 8];
    out[0] = (d[0] << 4) | 0x0A;
    for i in 1..8 {
        out[i] = (d[2 * i] << 4) | d[2 * i - 1];
    }
    out
}

/// A registration message signed with the card's key.
pub fn registration(card: &Card, counter: u64, imei: &str) -> Vec<u8> {
    signed_with(card, &card.key.0, counter, imei)
}

pub fn signed_with(card: &Card, key: &[u8; 16], counter: u64, imei: &str) -> Vec<u8> {
    let repr = RegistrationRepr {
        key_id: KeyId(0x12),
        event: EventKind(1),
        iccid: ef_iccid(card),
        imsi: ef_imsi(card),
        counter,
        imei: imei_identity(imei),
        imeisv: None,
        previous_imei: None,
    };
    let mut buf = [0u8; 65];
    let n = repr.emit_signed(key, &mut buf).unwrap();
    buf[..n].to_vec()
}

/// The handset's provisioning report for the registration with `counter`.
pub fn report(card: &Card, counter: u64, key_id: u64, result: ReportResult) -> Vec<u8> {
    ReportRepr {
        key_id: 0x12,
        result,
        iccid: ef_iccid(card),
        registration_counter: counter,
        device_key_id: key_id,
    }
    .to_signed_vec(&card.key.0)
    .unwrap()
}

pub fn devices() -> Vec<DeviceModel> {
    let d = |tac: &str, m: &str, model: &str| DeviceModel {
        tac: Tac::parse(tac).unwrap(),
        manufacturer: m.into(),
        make: m.into(),
        model: model.into(),
        release_date: Some(Date::parse("2024-01-01").unwrap()),
        camera: Some(true),
        screen: String::new(),
        bands: vec![],
    };
    vec![
        d("49015420", "Acme Mobile", "A1"),
        d("35693803", "Bolt Devices", "B2"),
        d("35209900", "Acme Mobile", "A9"),
    ]
}

/// Files of one test world.
pub struct World {
    pub dir: tempfile::TempDir,
    pub db: PathBuf,
    pub config: PathBuf,
    pub acme_signer: DeviceKeySigner,
}

/// Where Bolt's key server is and which PKI files to use.
pub struct Manufacturer {
    pub address: String,
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
    pub verifying_key: PathBuf,
}

impl World {
    /// Creates the database with `cards` cards and the devices, a local Acme key and a
    /// config file pointing at the SMSC on `smsc_port` (admin on port 0).
    pub async fn new(cards: u32, smsc_port: u16, bolt: Option<&Manufacturer>) -> World {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("stub.db");
        let store = AnyStore::open(db.to_str().unwrap()).await.unwrap();
        let all: Vec<Card> = (1..=cards).map(card).collect();
        for chunk in all.chunks(5000) {
            store.import_cards(chunk).await.unwrap();
        }
        store.import_devices(&devices()).await.unwrap();
        drop(store);
        let acme_signer = DeviceKeySigner::generate();
        std::fs::write(dir.path().join("acme.key"), acme_signer.to_hex().as_str()).unwrap();
        let config = dir.path().join("stub.toml");
        let w = World {
            dir,
            db,
            config,
            acme_signer,
        };
        w.write_config(smsc_port, bolt, "");
        w
    }

    pub fn write_config(&self, smsc_port: u16, bolt: Option<&Manufacturer>, extra: &str) {
        let bolt = match bolt {
            Some(m) => format!(
                r#"
[[key_sources]]
kind = "manufacturer"
manufacturer = "Bolt Devices"
address = "{}"
server_name = "localhost"
ca_file = "{}"
client_cert_file = "{}"
client_key_file = "{}"
verifying_key_file = "{}"
timeout_ms = 2000
"#,
                m.address,
                m.ca.display(),
                m.cert.display(),
                m.key.display(),
                m.verifying_key.display()
            ),
            None => String::new(),
        };
        let text = format!(
            r#"
database = "stub.db"
admin_listen = "127.0.0.1:0"
shutdown_drain_ms = 3000
{extra}
[smsc]
address = "127.0.0.1:{smsc_port}"
system_id = "{SYSTEM_ID}"
password = "{PASSWORD}"
source_addr = "{SHORT_CODE}"
window = 256
reconnect_min_ms = 100
reconnect_max_ms = 500

[policy]
[[policy.operators]]
id = "mvno-fr"
plmns = ["208-01"]
[[policy.relationships]]
operator = "mvno-fr"
manufacturer = "Acme Mobile"
[[policy.depreciated_models]]
manufacturer = "Acme Mobile"
model = "A1"

[billing]
[[billing.operators]]
operator = "mvno-fr"
fee_minor = 199
currency = "EUR"
[[billing.manufacturers]]
manufacturer = "Acme Mobile"
share = {{ basis_points = 3000 }}

[omacp]
security = "NETWPIN"
name = "MVNO MMS"
default_apn = {{ apn = "internet" }}
default_mms = {{ mmsc = "http://mms.example/" }}
[[omacp.apns]]
operator = "mvno-fr"
apn = "mms.mvno.example"
username = "mms"
password = "mms"
[[omacp.mms]]
manufacturer = "Acme Mobile"
mmsc = "http://mmsc.acme.example/mms"
proxy = "10.1.2.3"
proxy_port = 8080

[[key_sources]]
kind = "local"
manufacturer = "Acme Mobile"
signing_key_file = "acme.key"
{bolt}
"#
        );
        std::fs::write(&self.config, text).unwrap();
    }

    /// A raw connection to the database (for the checks).
    pub fn sql(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(&self.db).unwrap()
    }

    pub fn count(&self, sql: &str) -> i64 {
        self.sql().query_row(sql, [], |r| r.get(0)).unwrap()
    }
}

/// Whether an external tool may be skipped (not in CI).
pub fn tool_available(tool: &str) -> bool {
    let found = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !found {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{tool} is required with CI=true");
        }
        eprintln!("SKIP: {tool} not installed");
    }
    found
}

pub fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Starts Bolt's key server (mTLS) with a fresh PKI written into `dir`.
pub async fn start_bolt(
    dir: &std::path::Path,
    operator_ca_wrong: bool,
) -> (
    Manufacturer,
    Arc<DeviceKeySigner>,
    tokio::sync::oneshot::Sender<()>,
) {
    let ca = Ca::new("Bolt test CA").unwrap();
    let server = ca.issue_server(&["localhost", "127.0.0.1"]).unwrap();
    let operator = ca.issue_client("mvno-fr").unwrap();
    let signer = Arc::new(DeviceKeySigner::generate());
    let tls = tls::server_config(&server.cert_pem, &server.key_pem, ca.cert_pem()).unwrap();
    let config = ManufacturerConfig::new(tls, signer.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let (stop, stopped) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let _ = provisioning_stub::manufacturer::run(listener, config, async {
            let _ = stopped.await;
        })
        .await;
    });
    // The CA the stub trusts: the real one, or another one (wrong certificate).
    let trusted = if operator_ca_wrong {
        Ca::new("somebody else").unwrap().cert_pem().to_owned()
    } else {
        ca.cert_pem().to_owned()
    };
    let m = Manufacturer {
        address,
        ca: dir.join("bolt-ca.pem"),
        cert: dir.join("operator.pem"),
        key: dir.join("operator.key"),
        verifying_key: dir.join("bolt-signing.pub"),
    };
    std::fs::write(&m.ca, trusted).unwrap();
    std::fs::write(&m.cert, &operator.cert_pem).unwrap();
    std::fs::write(&m.key, operator.key_pem.as_str()).unwrap();
    std::fs::write(
        &m.verifying_key,
        hex::encode(signer.verifying_key().as_bytes()),
    )
    .unwrap();
    (m, signer, stop)
}

/// Runs `serve` in this process until the returned sender fires.
pub async fn start_serve(
    world: &World,
) -> (
    Arc<Metrics>,
    String,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let config = StubConfig::load(&world.config).unwrap();
    let store = AnyStore::open(world.db.to_str().unwrap()).await.unwrap();
    let admin = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let admin_addr = admin.local_addr().unwrap().to_string();
    let metrics = Arc::new(Metrics::default());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let m = metrics.clone();
    let task = tokio::spawn(async move {
        provisioning_stub::serve::run(&config, store, admin, m, async {
            let _ = stopped.await;
        })
        .await
        .unwrap();
    });
    (metrics, admin_addr, stop, task)
}

/// Polls `cond` for up to 10 s.
pub async fn wait_for(mut cond: impl FnMut() -> bool) {
    for _ in 0..500 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("condition not reached");
}

/// The `provisioning-stub serve` process.
pub struct StubProcess {
    pub child: std::process::Child,
}

impl StubProcess {
    /// Starts the real binary on the world's config; stderr goes to `log`.
    pub fn start(world: &World, log: &Path) -> StubProcess {
        let err = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_provisioning-stub"))
            .arg("serve")
            .arg("--config")
            .arg(&world.config)
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::piped())
            .stderr(err)
            .spawn()
            .unwrap();
        StubProcess { child }
    }

    /// SIGKILL, and reap.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM.
    pub fn term(&self) {
        let st = std::process::Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(st.success());
    }

    /// Waits for the exit status up to `within`.
    pub fn wait_exit(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let start = Instant::now();
        while start.elapsed() < within {
            if let Some(st) = self.child.try_wait().unwrap() {
                return Some(st);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for StubProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
