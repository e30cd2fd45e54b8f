//! The ESME against an independent SMSC: the `smpp34` crate's server (not written
//! here). A byte-level TCP relay sits between the two so tests can cut the link,
//! count PDUs and inject malformed bytes; it never rewrites what it forwards.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use provisioning_stub::smpp::{
    self, DeliverHandler, DeliveredSm, EsmeConfig, EsmeHandle, HandlerError, SessionState,
    SubmitRequest,
};
use smpp34::server::ESME;
use smpp34::{
    SmppConnectionInformation, SmppError, SmppServer, SmppServerListener, bind_transceiver,
    bind_transceiver_resp, submit_sm, submit_sm_resp,
};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Mutex, Notify, mpsc};

const SYSTEM_ID: &str = "imeitrack";
const PASSWORD: &str = "secret";

// ---------------------------------------------------------------- the SMSC (smpp34)

#[derive(Default)]
struct Smsc {
    binds: StdMutex<Vec<(String, String)>>,
    submits: StdMutex<Vec<submit_sm>>,
    esme: Mutex<Option<ESME>>,
    bound: Notify,
}

#[async_trait]
impl SmppServerListener for Smsc {
    async fn on_bind_transceiver(
        &self,
        req: bind_transceiver,
        _c: &SmppConnectionInformation,
        _s: &String,
    ) -> bind_transceiver_resp {
        self.binds
            .lock()
            .unwrap()
            .push((req.system_id.clone(), req.password.clone()));
        if req.system_id == SYSTEM_ID && req.password == PASSWORD {
            req.accept("SMSC34".to_string(), Some(0x34))
        } else {
            req.reject(SmppError::ESME_RINVPASWD)
        }
    }

    async fn on_submit_sm(
        &self,
        req: submit_sm,
        _c: &SmppConnectionInformation,
        _s: &String,
    ) -> submit_sm_resp {
        let n = {
            let mut submits = self.submits.lock().unwrap();
            submits.push(req.clone());
            submits.len()
        };
        req.accept(format!("msg-{n}"))
    }

    async fn on_esme_bound(&self, esme: ESME, _s: &String) {
        *self.esme.lock().await = Some(esme);
        self.bound.notify_waiters();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// smpp34's server cannot bind port 0, so pick a free port first (small race).
/// Its own enquire_link timer is set to 300 ms, so an ESME that does not answer
/// `enquire_link` loses the session quickly.
async fn start_smsc() -> (Arc<Smsc>, SmppServer, u16) {
    let smsc = Arc::new(Smsc::default());
    let port = free_port();
    let mut server = SmppServer::new_with_default_timers(
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        port,
        smsc.clone(),
        5_000,  // session_init
        300,    // enquire_link
        60_000, // inactivity
        2_000,  // response
        4_096,  // buffer
    );
    server.start().await;
    assert!(server.is_alive(), "smpp34 server did not start on {port}");
    (smsc, server, port)
}

// ---------------------------------------------------------------- the relay

/// PDU header as seen on the wire by the relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Seen {
    command_id: u32,
    status: u32,
    sequence: u32,
}

struct Relay {
    port: u16,
    /// PDUs the ESME sent.
    from_esme: Arc<StdMutex<Vec<Seen>>>,
    /// PDUs the SMSC sent.
    from_smsc: Arc<StdMutex<Vec<Seen>>>,
    /// Bytes to write to the ESME on the current connection.
    inject: Arc<StdMutex<Option<mpsc::UnboundedSender<Vec<u8>>>>>,
    /// Cut the current connection.
    cut: Arc<Notify>,
    accepts: Arc<StdMutex<u32>>,
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    seen: Arc<StdMutex<Vec<Seen>>>,
    mut inject: Option<mpsc::UnboundedReceiver<Vec<u8>>>,
) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        tokio::select! {
            n = from.read(&mut chunk) => {
                let n = match n { Ok(0) | Err(_) => return, Ok(n) => n };
                buf.extend_from_slice(&chunk[..n]);
                while buf.len() >= 16 {
                    let len = u32::from_be_bytes(buf[0..4].try_into().unwrap()) as usize;
                    if len < 16 || buf.len() < len { break; }
                    let word = |i: usize| u32::from_be_bytes(buf[i..i + 4].try_into().unwrap());
                    seen.lock().unwrap().push(Seen { command_id: word(4), status: word(8), sequence: word(12) });
                    buf.drain(..len);
                }
                if to.write_all(&chunk[..n]).await.is_err() { return; }
            }
            Some(bytes) = async { match inject.as_mut() { Some(rx) => rx.recv().await, None => std::future::pending().await } } => {
                if to.write_all(&bytes).await.is_err() { return; }
            }
        }
    }
}

async fn start_relay(smsc_port: u16) -> Relay {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let relay = Relay {
        port,
        from_esme: Default::default(),
        from_smsc: Default::default(),
        inject: Default::default(),
        cut: Arc::new(Notify::new()),
        accepts: Default::default(),
    };
    let (from_esme, from_smsc, inject, cut, accepts) = (
        relay.from_esme.clone(),
        relay.from_smsc.clone(),
        relay.inject.clone(),
        relay.cut.clone(),
        relay.accepts.clone(),
    );
    tokio::spawn(async move {
        loop {
            let Ok((esme, _)) = listener.accept().await else {
                return;
            };
            let Ok(smsc) = TcpStream::connect(("127.0.0.1", smsc_port)).await else {
                continue;
            };
            *accepts.lock().unwrap() += 1;
            let (er, ew) = esme.into_split();
            let (sr, sw) = smsc.into_split();
            let (tx, rx) = mpsc::unbounded_channel();
            *inject.lock().unwrap() = Some(tx);
            let up = tokio::spawn(pump(er, sw, from_esme.clone(), None));
            let down = tokio::spawn(pump(sr, ew, from_smsc.clone(), Some(rx)));
            let cut = cut.clone();
            tokio::spawn(async move {
                cut.notified().await;
                up.abort();
                down.abort();
            });
        }
    });
    relay
}

impl Relay {
    fn count_from_esme(&self, command_id: u32) -> usize {
        self.from_esme
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.command_id == command_id)
            .count()
    }
    fn count_from_smsc(&self, command_id: u32) -> usize {
        self.from_smsc
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.command_id == command_id)
            .count()
    }
    fn inject(&self, bytes: Vec<u8>) {
        self.inject
            .lock()
            .unwrap()
            .as_ref()
            .unwrap()
            .send(bytes)
            .unwrap();
    }
}

// SMPP 3.4 §5.1.2 command ids.
const GENERIC_NACK: u32 = 0x8000_0000;
const ENQUIRE_LINK: u32 = 0x0000_0015;
const ENQUIRE_LINK_RESP: u32 = 0x8000_0015;
const BIND_TRANSCEIVER: u32 = 0x0000_0009;
const UNBIND: u32 = 0x0000_0006;
const UNBIND_RESP: u32 = 0x8000_0006;
const DELIVER_SM_RESP: u32 = 0x8000_0005;
// SMPP 3.4 §5.1.3 command_status.
const ESME_RINVCMDLEN: u32 = 0x02;
const ESME_RINVCMDID: u32 = 0x03;

// ---------------------------------------------------------------- the handler

/// In-memory "durable" store: a message counts as stored once it is in `stored`.
#[derive(Default)]
struct MemoryStore {
    stored: StdMutex<Vec<DeliveredSm>>,
    delay: Duration,
    fail: bool,
}

impl DeliverHandler for MemoryStore {
    async fn on_deliver_sm(&self, sm: DeliveredSm) -> Result<(), HandlerError> {
        tokio::time::sleep(self.delay).await;
        if self.fail {
            return Err(HandlerError("disk full".into()));
        }
        self.stored.lock().unwrap().push(sm);
        Ok(())
    }
}

fn config(port: u16) -> EsmeConfig {
    let mut c = EsmeConfig::new(format!("127.0.0.1:{port}"), SYSTEM_ID, PASSWORD);
    c.enquire_link_interval = Duration::from_millis(150);
    c.response_timeout = Duration::from_secs(2);
    c.reconnect_min = Duration::from_millis(50);
    c.reconnect_max = Duration::from_millis(400);
    c.window = 4;
    c
}

async fn bound(esme: &EsmeHandle, bind_count: u64) {
    esme.wait_for(
        Duration::from_secs(5),
        |s| matches!(s, SessionState::Bound { bind_count: n } if *n >= bind_count),
    )
    .await
    .unwrap_or_else(|s| panic!("not bound (#{bind_count}) in time: {s:?}"));
}

async fn smsc_esme(smsc: &Smsc) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while smsc.esme.lock().await.is_none() {
        assert!(Instant::now() < deadline, "SMSC never saw the bind");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A registration payload as the applet would send it (opaque bytes here).
const REGISTRATION: &[u8] = &[
    0x01, 0x02, 0x49, 0x01, 0x54, 0x20, 0x32, 0x37, 0x51, 0x8F, 0xAA, 0xBB,
];

/// WAP push segment: UDH 06 05 04 0B84 23F0 (port addressing, 16-bit: dest 2948,
/// src 9200; TS 23.040 §9.2.3.24.4) + a few bytes of WSP.
fn wap_push_segment() -> Vec<u8> {
    let mut v = vec![0x06, 0x05, 0x04, 0x0B, 0x84, 0x23, 0xF0];
    v.extend_from_slice(&[0x01, 0x06, 0x03, 0xB6, 0x81, 0xEA, 0x03, 0x0B, 0x6A, 0x00]);
    v
}

// ---------------------------------------------------------------- tests

#[tokio::test]
async fn links_smpp_bind_deliver_stored_before_ack_and_submit_udh() {
    let (smsc, mut server, port) = start_smsc().await;
    let store = Arc::new(MemoryStore {
        delay: Duration::from_millis(300),
        ..Default::default()
    });
    let (esme, task) = smpp::start(config(port), store.clone());
    bound(&esme, 1).await;
    smsc_esme(&smsc).await;
    assert_eq!(
        smsc.binds.lock().unwrap().as_slice(),
        [(SYSTEM_ID.to_string(), PASSWORD.to_string())]
    );

    // Registration in: deliver_sm from the SMSC; its resp must wait for the store.
    let started = Instant::now();
    let resp = {
        let guard = smsc.esme.lock().await;
        guard
            .as_ref()
            .unwrap()
            .deliver_sm()
            .source_addr_ton(1)
            .source_addr_npi(1)
            .source_addr("491701234567")
            .destination_addr("4242")
            .esm_class(0x00)
            .data_coding(0x04)
            .short_message(REGISTRATION.to_vec())
            .send()
            .await
            .expect("deliver_sm_resp")
    };
    assert!(resp.is_success(), "status {:#x}", resp.command_status());
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "acked before stored"
    );
    {
        let stored = store.stored.lock().unwrap();
        assert_eq!(stored.len(), 1, "acknowledged but not stored");
        assert_eq!(stored[0].payload, REGISTRATION);
        assert_eq!(stored[0].source_addr, "491701234567");
        assert_eq!(stored[0].destination_addr, "4242");
        assert_eq!(stored[0].data_coding, 0x04);
    }

    // OMA CP out: submit_sm with UDHI + 8-bit data.
    let mut req = SubmitRequest::binary_with_udh("4242", "491701234567", wap_push_segment());
    req.registered_delivery = 1;
    let answer = esme.submit(&req).await.unwrap();
    assert_eq!(answer.message_id, "msg-1");
    {
        let submits = smsc.submits.lock().unwrap();
        let s = &submits[0];
        assert_eq!(s.esm_class, 0x40);
        assert_eq!(s.data_coding, 0x04);
        assert_eq!(s.registered_delivery, 1);
        assert_eq!(s.short_message, wap_push_segment());
        assert_eq!(s.destination_addr, "491701234567");
        assert_eq!((s.dest_addr_ton, s.dest_addr_npi), (1, 1));
        assert_eq!(s.source_addr, "4242");
    }

    esme.shutdown().await;
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(esme.state(), SessionState::Stopped);
    server.stop().await;
}

#[tokio::test]
async fn links_smpp_handler_failure_is_not_acknowledged_as_success() {
    let (smsc, mut server, port) = start_smsc().await;
    let store = Arc::new(MemoryStore {
        fail: true,
        ..Default::default()
    });
    let (esme, task) = smpp::start(config(port), store.clone());
    bound(&esme, 1).await;
    smsc_esme(&smsc).await;
    let resp = {
        let guard = smsc.esme.lock().await;
        guard
            .as_ref()
            .unwrap()
            .deliver_sm()
            .source_addr("491701234567")
            .destination_addr("4242")
            .short_message(REGISTRATION.to_vec())
            .send()
            .await
            .expect("deliver_sm_resp")
    };
    // ESME_RX_T_APPN (0x64): temporary application error, the SMSC retries.
    assert_eq!(resp.command_status(), 0x64);
    esme.shutdown().await;
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap();
    server.stop().await;
}

#[tokio::test]
async fn links_smpp_wrong_password_is_refused_and_retried_with_backoff() {
    let (smsc, mut server, port) = start_smsc().await;
    let mut c = config(port);
    c.password = "wrong".into();
    let (esme, task) = smpp::start(c, Arc::new(MemoryStore::default()));
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert!(matches!(esme.state(), SessionState::Connecting { .. }));
    let attempts = smsc.binds.lock().unwrap().len();
    // 50, 100, 200, 400, 400 ms back-off: about 4-6 attempts in 900 ms, not hundreds.
    assert!((2..=8).contains(&attempts), "{attempts} bind attempts");
    assert_eq!(
        esme.submit(&SubmitRequest::binary_with_udh("1", "2", vec![0]))
            .await,
        Err(smpp::SmppError::NotBound)
    );
    esme.shutdown().await;
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap();
    server.stop().await;
}

#[tokio::test]
async fn links_smpp_enquire_link_keeps_the_session_alive_both_ways() {
    let (smsc, mut server, port) = start_smsc().await;
    let relay = start_relay(port).await;
    let (esme, task) = smpp::start(config(relay.port), Arc::new(MemoryStore::default()));
    bound(&esme, 1).await;
    smsc_esme(&smsc).await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    // Still the first bind: neither side gave up on the other.
    assert_eq!(esme.state(), SessionState::Bound { bind_count: 1 });
    assert_eq!(*relay.accepts.lock().unwrap(), 1);
    // Ours (every 150 ms) answered by smpp34, and smpp34's (every 300 ms) answered by us.
    let ours = relay.count_from_esme(ENQUIRE_LINK);
    assert!(ours >= 5, "ESME sent {ours} enquire_link");
    assert!(relay.count_from_smsc(ENQUIRE_LINK_RESP) >= ours - 1);
    let theirs = relay.count_from_smsc(ENQUIRE_LINK);
    assert!(theirs >= 3, "SMSC sent {theirs} enquire_link");
    assert!(relay.count_from_esme(ENQUIRE_LINK_RESP) >= theirs - 1);
    // A submit still works after all that.
    esme.submit(&SubmitRequest::binary_with_udh(
        "4242",
        "491701234567",
        wap_push_segment(),
    ))
    .await
    .unwrap();
    let stopping = Instant::now();
    esme.shutdown().await;
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap();
    // Graceful: unbind sent. smpp34 1.5.1 queues its unbind_resp and then aborts
    // its writer task while closing (server/state.rs, read loop exit), so the
    // unbind_resp is usually lost; the ESME takes the close as the end of the
    // unbind instead of waiting out response_timeout (2 s).
    assert_eq!(relay.count_from_esme(UNBIND), 1);
    assert!(relay.count_from_smsc(UNBIND_RESP) <= 1);
    assert!(
        stopping.elapsed() < Duration::from_secs(1),
        "{:?}",
        stopping.elapsed()
    );
    server.stop().await;
}

#[tokio::test]
async fn links_smpp_reconnects_and_rebinds_after_the_link_drops() {
    let (smsc, mut server, port) = start_smsc().await;
    let relay = start_relay(port).await;
    let store = Arc::new(MemoryStore::default());
    let (esme, task) = smpp::start(config(relay.port), store.clone());
    bound(&esme, 1).await;
    smsc_esme(&smsc).await;
    *smsc.esme.lock().await = None;

    relay.cut.notify_waiters(); // the TCP connection dies under both peers
    bound(&esme, 2).await;
    assert_eq!(relay.count_from_esme(BIND_TRANSCEIVER), 2);
    assert_eq!(smsc.binds.lock().unwrap().len(), 2);
    smsc_esme(&smsc).await;

    // The new session carries traffic both ways.
    let resp = {
        let guard = smsc.esme.lock().await;
        guard
            .as_ref()
            .unwrap()
            .deliver_sm()
            .source_addr("491701234567")
            .destination_addr("4242")
            .short_message(REGISTRATION.to_vec())
            .send()
            .await
            .expect("deliver_sm_resp")
    };
    assert!(resp.is_success());
    esme.submit(&SubmitRequest::binary_with_udh(
        "4242",
        "491701234567",
        wap_push_segment(),
    ))
    .await
    .unwrap();
    esme.shutdown().await;
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap();
    server.stop().await;
}

#[tokio::test]
async fn links_smpp_smsc_gone_then_back_reconnects() {
    // The SMSC process is not there at first: the ESME keeps retrying with back-off
    // and binds once it appears.
    let port = free_port();
    let (esme, task) = smpp::start(config(port), Arc::new(MemoryStore::default()));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(matches!(esme.state(), SessionState::Connecting { attempt } if attempt >= 2));
    let smsc = Arc::new(Smsc::default());
    let mut server = SmppServer::new_with_default_timers(
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        port,
        smsc.clone(),
        5_000,
        300,
        60_000,
        2_000,
        4_096,
    );
    server.start().await;
    bound(&esme, 1).await;
    esme.shutdown().await;
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap();
    server.stop().await;
}

/// Builds a raw PDU: header (SMPP 3.4 §3.2) + body.
fn raw_pdu(command_id: u32, sequence: u32, body: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&((16 + body.len()) as u32).to_be_bytes());
    v.extend_from_slice(&command_id.to_be_bytes());
    v.extend_from_slice(&0u32.to_be_bytes());
    v.extend_from_slice(&sequence.to_be_bytes());
    v.extend_from_slice(body);
    v
}

#[tokio::test]
async fn links_smpp_malformed_pdus_get_generic_nack_and_the_session_continues() {
    let (smsc, mut server, port) = start_smsc().await;
    let relay = start_relay(port).await;
    let store = Arc::new(MemoryStore::default());
    let (esme, task) = smpp::start(config(relay.port), store.clone());
    bound(&esme, 1).await;
    smsc_esme(&smsc).await;

    // 1. Unknown command_id 0x00000999, sequence 0x7000_0001.
    relay.inject(raw_pdu(0x0000_0999, 0x7000_0001, &[]));
    // 2. deliver_sm (0x00000005) whose body is three bytes of garbage (no C-strings).
    relay.inject(raw_pdu(0x0000_0005, 0x7000_0002, &[0xFF, 0xFF, 0xFF]));
    tokio::time::sleep(Duration::from_millis(300)).await;

    let nacks: HashMap<u32, u32> = relay
        .from_esme
        .lock()
        .unwrap()
        .iter()
        .filter(|s| s.command_id == GENERIC_NACK)
        .map(|s| (s.sequence, s.status))
        .collect();
    assert_eq!(nacks.get(&0x7000_0001), Some(&ESME_RINVCMDID), "{nacks:x?}");
    assert_eq!(
        nacks.get(&0x7000_0002),
        Some(&ESME_RINVCMDLEN),
        "{nacks:x?}"
    );
    // The garbage deliver_sm was not handed to the store nor acknowledged.
    assert!(store.stored.lock().unwrap().is_empty());
    assert!(
        !relay
            .from_esme
            .lock()
            .unwrap()
            .iter()
            .any(|s| s.command_id == DELIVER_SM_RESP && s.sequence >= 0x7000_0000)
    );

    // Same session, still working: no rebind, submit and deliver go through.
    assert_eq!(esme.state(), SessionState::Bound { bind_count: 1 });
    esme.submit(&SubmitRequest::binary_with_udh(
        "4242",
        "491701234567",
        wap_push_segment(),
    ))
    .await
    .unwrap();
    let resp = {
        let guard = smsc.esme.lock().await;
        guard
            .as_ref()
            .unwrap()
            .deliver_sm()
            .source_addr("491701234567")
            .destination_addr("4242")
            .short_message(REGISTRATION.to_vec())
            .send()
            .await
            .expect("deliver_sm_resp")
    };
    assert!(resp.is_success());
    assert_eq!(*relay.accepts.lock().unwrap(), 1);

    // 3. A command_length below 16 loses the framing: generic_nack, then a fresh link.
    relay.inject(vec![0x00, 0x00, 0x00, 0x05, 0xAA, 0xBB, 0xCC, 0xDD]);
    bound(&esme, 2).await;
    assert!(
        relay
            .from_esme
            .lock()
            .unwrap()
            .iter()
            .any(|s| s.command_id == GENERIC_NACK
                && s.status == ESME_RINVCMDLEN
                && s.sequence == 0)
    );
    esme.shutdown().await;
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap();
    server.stop().await;
}

#[tokio::test]
async fn links_smpp_window_bounds_outstanding_submits() {
    // A peer that binds but never answers submit_sm: the window fills, then
    // callers wait; timed-out requests free their slots. (Raw peer: smpp34 always
    // answers, which is what an SMSC should do.)
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let submits_seen = Arc::new(StdMutex::new(0u32));
    let seen = submits_seen.clone();
    tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let n = s.read(&mut chunk).await.unwrap_or(0);
            if n == 0 {
                return;
            }
            buf.extend_from_slice(&chunk[..n]);
            while buf.len() >= 16 {
                let len = u32::from_be_bytes(buf[0..4].try_into().unwrap()) as usize;
                if buf.len() < len {
                    break;
                }
                let id = u32::from_be_bytes(buf[4..8].try_into().unwrap());
                let seq = u32::from_be_bytes(buf[12..16].try_into().unwrap());
                buf.drain(..len);
                let reply = match id {
                    0x09 => Some(raw_pdu(0x8000_0009, seq, b"RAW\0")),
                    0x15 => Some(raw_pdu(0x8000_0015, seq, &[])),
                    0x04 => {
                        *seen.lock().unwrap() += 1;
                        None
                    }
                    _ => None,
                };
                if let Some(r) = reply {
                    s.write_all(&r).await.unwrap();
                }
            }
        }
    });
    let mut c = config(port);
    c.window = 2;
    c.response_timeout = Duration::from_millis(600);
    let (esme, task) = smpp::start(c, Arc::new(MemoryStore::default()));
    bound(&esme, 1).await;
    let req = SubmitRequest::binary_with_udh("4242", "491701234567", wap_push_segment());
    let mut calls = Vec::new();
    for _ in 0..4 {
        let esme = esme.clone();
        let req = req.clone();
        calls.push(tokio::spawn(async move { esme.submit(&req).await }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(*submits_seen.lock().unwrap(), 2, "window of 2 exceeded");
    assert_eq!(esme.window_available(), 0);
    for call in calls {
        assert_eq!(call.await.unwrap(), Err(smpp::SmppError::Timeout));
    }
    assert_eq!(*submits_seen.lock().unwrap(), 4);
    esme.shutdown().await;
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap();
}
