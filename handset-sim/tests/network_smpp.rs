//! SMPP server over loopback, driven by raw PDUs (framing from `network::smpp::frame`,
//! bodies by `rusmpp`): session rules, generic_nack, retries, throttling, outages,
//! shutdown. The independent-client tests are in `network_smpplib.rs` and
//! `network_kannel.rs`.

use std::time::Duration;

use bytes::BytesMut;
use handset_sim::network::smpp::frame::{self, Frame};
use handset_sim::network::*;
use rusmpp::pdus::{BindTransceiver, DeliverSmResp, SubmitSm};
use rusmpp::types::{COctetString, OctetString};
use rusmpp::values::{DataCoding, EsmClass, InterfaceVersion, RegisteredDelivery};
use rusmpp::{Command, CommandId, CommandStatus, Pdu};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::time::timeout;

const HANDSET: &str = "447700900123";
const WAIT: Duration = Duration::from_secs(5);

struct Server {
    addr: std::net::SocketAddr,
    handle: SmscHandle,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

async fn start(config: SmscConfig) -> Server {
    let mut w = Networks::new();
    w.add_network(Network {
        name: "primary".into(),
        plmn: Plmn::new(1, 1),
        lac: 1,
        cell_id: 1,
        smsc_address: "447700900000".into(),
    })
    .unwrap();
    let mut smsc = Smsc::new(config, w, 1);
    smsc.networks
        .attach(HANDSET, "001010123456789", "primary")
        .unwrap();
    let handle = SmscHandle::new(smsc, Clock::wall());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(smpp::run(listener, handle.clone(), async {
        let _ = rx.await;
    }));
    Server {
        addr,
        handle,
        stop: Some(tx),
        task,
    }
}

fn config() -> SmscConfig {
    SmscConfig {
        accounts: vec![EsmeAccount::new("stub", "secret")],
        ..SmscConfig::default()
    }
}

struct Client {
    s: TcpStream,
    buf: BytesMut,
}

impl Client {
    async fn connect(addr: std::net::SocketAddr) -> Self {
        Client {
            s: TcpStream::connect(addr).await.unwrap(),
            buf: BytesMut::new(),
        }
    }
    async fn raw(&mut self, bytes: &[u8]) {
        self.s.write_all(bytes).await.unwrap();
    }
    async fn send(&mut self, cmd: Command) {
        let mut b = BytesMut::new();
        frame::emit(&cmd, &mut b);
        self.raw(&b).await;
    }
    /// Next frame, or None on EOF; panics after WAIT.
    async fn recv(&mut self) -> Option<Frame> {
        timeout(WAIT, async {
            loop {
                if let Some(f) = frame::parse(&mut self.buf).unwrap() {
                    return Some(f);
                }
                if self.s.read_buf(&mut self.buf).await.unwrap_or(0) == 0 {
                    return None;
                }
            }
        })
        .await
        .expect("no PDU within 5 s")
    }
    async fn recv_cmd(&mut self) -> Command {
        match self.recv().await {
            Some(Frame::Command(c)) => *c,
            other => panic!("expected a command, got {other:?}"),
        }
    }
    async fn bind(&mut self, password: &str, range: &str) -> Command {
        let b = BindTransceiver::builder()
            .system_id(COctetString::from_str("stub").unwrap())
            .password(password.parse().unwrap())
            .interface_version(InterfaceVersion::Smpp3_4)
            .address_range(range.parse().unwrap())
            .build();
        self.send(Command::new(CommandStatus::EsmeRok, 1, b)).await;
        self.recv_cmd().await
    }
}

use std::str::FromStr;

fn submit(dest: &str, payload: &[u8], esm: u8, rd: u8) -> SubmitSm {
    SubmitSm::builder()
        .source_addr(COctetString::from_str("4321").unwrap())
        .destination_addr(COctetString::from_str(dest).unwrap())
        .esm_class(EsmClass::from(esm))
        .registered_delivery(RegisteredDelivery::from(rd))
        .data_coding(DataCoding::from(4))
        .short_message(OctetString::from_slice(payload).unwrap())
        .build()
}

#[tokio::test]
async fn bind_credentials_and_session_rules() {
    let srv = start(config()).await;
    let mut c = Client::connect(srv.addr).await;
    // submit before bind
    c.send(Command::new(
        CommandStatus::EsmeRok,
        5,
        submit(HANDSET, b"x", 0, 0),
    ))
    .await;
    let r = c.recv_cmd().await;
    assert_eq!(
        (r.id(), r.status(), r.sequence_number()),
        (CommandId::SubmitSmResp, CommandStatus::EsmeRinvbndsts, 5)
    );
    assert!(r.pdu().is_none(), "no body with a non-zero status");
    let r = c.bind("wrong", "").await;
    assert_eq!(
        (r.id(), r.status()),
        (CommandId::BindTransceiverResp, CommandStatus::EsmeRinvpaswd)
    );
    let r = c.bind("secret", "").await;
    assert_eq!(r.status(), CommandStatus::EsmeRok);
    let Some(Pdu::BindTransceiverResp(resp)) = r.pdu() else {
        panic!("{r:?}")
    };
    assert_eq!(resp.system_id.as_str(), "imeitrack-smsc");
    assert_eq!(resp.sc_interface_version(), Some(InterfaceVersion::Smpp3_4));
    let r = c.bind("secret", "").await;
    assert_eq!(r.status(), CommandStatus::EsmeRalybnd);

    let mut other = Client::connect(srv.addr).await;
    let b = BindTransceiver::builder()
        .system_id(COctetString::from_str("nobody").unwrap())
        .password("secret".parse().unwrap())
        .build();
    other.send(Command::new(CommandStatus::EsmeRok, 1, b)).await;
    assert_eq!(
        other.recv_cmd().await.status(),
        CommandStatus::EsmeRinvsysid
    );

    c.send(Command::new(CommandStatus::EsmeRok, 9, Pdu::Unbind))
        .await;
    let r = c.recv_cmd().await;
    assert_eq!((r.id(), r.sequence_number()), (CommandId::UnbindResp, 9));
    assert_eq!(c.recv().await, None, "closed after unbind");
}

#[tokio::test]
async fn malformed_pdus_get_generic_nack_and_session_survives() {
    let srv = start(config()).await;
    let mut c = Client::connect(srv.addr).await;
    assert_eq!(c.bind("secret", "").await.status(), CommandStatus::EsmeRok);
    // submit_sm whose body is 3 junk octets.
    c.raw(&[
        0, 0, 0, 19, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0x21, 0xFF, 0xFF, 0xFF,
    ])
    .await;
    let r = c.recv_cmd().await;
    assert_eq!(
        (r.id(), r.status(), r.sequence_number()),
        (CommandId::GenericNack, CommandStatus::EsmeRinvcmdlen, 0x21)
    );
    // Unknown command_id.
    c.raw(&[0, 0, 0, 16, 0, 0, 0, 0x77, 0, 0, 0, 0, 0, 0, 0, 0x22])
        .await;
    let r = c.recv_cmd().await;
    assert_eq!(
        (r.id(), r.status(), r.sequence_number()),
        (CommandId::GenericNack, CommandStatus::EsmeRinvcmdid, 0x22)
    );
    // Still bound and talking.
    c.send(Command::new(CommandStatus::EsmeRok, 0x23, Pdu::EnquireLink))
        .await;
    let r = c.recv_cmd().await;
    assert_eq!(
        (r.id(), r.sequence_number()),
        (CommandId::EnquireLinkResp, 0x23)
    );
    c.send(Command::new(
        CommandStatus::EsmeRok,
        0x24,
        submit(HANDSET, b"ok", 0, 0),
    ))
    .await;
    assert_eq!(c.recv_cmd().await.status(), CommandStatus::EsmeRok);
    // A command_length below the header size cannot be resynchronised: nack, then close.
    c.raw(&[0, 0, 0, 4, 0, 0, 0, 0x15, 0, 0, 0, 0, 0, 0, 0, 0x25])
        .await;
    let r = c.recv_cmd().await;
    assert_eq!(
        (r.id(), r.sequence_number()),
        (CommandId::GenericNack, 0x25)
    );
    assert_eq!(c.recv().await, None);
}

#[tokio::test]
async fn submit_reaches_handset_and_receipt_comes_back() {
    let srv = start(config()).await;
    let mut c = Client::connect(srv.addr).await;
    assert_eq!(
        c.bind("secret", "4321").await.status(),
        CommandStatus::EsmeRok
    );
    // WAP push UDH (ports 2948 <- 9200) + payload, registered_delivery = 1.
    let payload = [0x06, 0x05, 0x04, 0x0B, 0x84, 0x23, 0xF0, 0x01, 0x06];
    c.send(Command::new(
        CommandStatus::EsmeRok,
        2,
        submit(HANDSET, &payload, 0x40, 1),
    ))
    .await;
    let r = c.recv_cmd().await;
    let Some(Pdu::SubmitSmResp(resp)) = r.pdu() else {
        panic!("{r:?}")
    };
    let id = resp.message_id().as_str().to_owned();
    let mt = srv.handle.with(|s, now| s.poll_mt(HANDSET, now)).unwrap();
    assert_eq!(mt.message_id, id);
    assert_eq!(
        mt.sm.udh.as_deref(),
        Some(&[0x05, 0x04, 0x0B, 0x84, 0x23, 0xF0][..])
    );
    assert_eq!(mt.sm.user_data, [0x01, 0x06]);
    let r = c.recv_cmd().await;
    let Some(Pdu::DeliverSm(d)) = r.pdu() else {
        panic!("{r:?}")
    };
    assert_eq!(u8::from(d.esm_class), 0x04);
    assert_eq!(d.source_addr.as_str(), HANDSET);
    let text = std::str::from_utf8(d.short_message().as_ref())
        .unwrap()
        .to_owned();
    assert!(
        text.starts_with(&format!("id:{id} sub:001 dlvrd:001 submit date:")),
        "{text}"
    );
    assert!(text.contains(" stat:DELIVRD err:000 text:"), "{text}");
    c.send(Command::new(
        CommandStatus::EsmeRok,
        r.sequence_number(),
        DeliverSmResp::default(),
    ))
    .await;
}

#[tokio::test]
async fn deliver_sm_is_retried_until_answered() {
    let srv = start(SmscConfig {
        response_timeout_ms: 300,
        ..config()
    })
    .await;
    let mut c = Client::connect(srv.addr).await;
    assert_eq!(
        c.bind("secret", "4321").await.status(),
        CommandStatus::EsmeRok
    );
    let mo = ShortMessage::new("x", "4321", 0, 4, vec![0xAB, 0xCD]);
    let out = srv.handle.with(|s, now| s.submit_mo(HANDSET, 7, mo, now));
    assert_eq!(out, MoOutcome::RpAck { message_ref: 7 });
    let first = c.recv_cmd().await;
    let Some(Pdu::DeliverSm(d)) = first.pdu() else {
        panic!("{first:?}")
    };
    assert_eq!(d.source_addr.as_str(), HANDSET);
    assert_eq!(d.short_message().as_ref(), &[0xAB, 0xCD]);
    // Not answered: the same message comes again with a new sequence number.
    let again = c.recv_cmd().await;
    assert_eq!(again.id(), CommandId::DeliverSm);
    assert_ne!(again.sequence_number(), first.sequence_number());
    c.send(Command::new(
        CommandStatus::EsmeRok,
        again.sequence_number(),
        DeliverSmResp::default(),
    ))
    .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(srv.handle.with(|s, _| s.esme_queue_len("stub")), 0);
}

#[tokio::test]
async fn throttling_and_outage() {
    let srv = start(SmscConfig {
        max_submits_per_second: Some(3),
        ..config()
    })
    .await;
    let mut c = Client::connect(srv.addr).await;
    assert_eq!(c.bind("secret", "").await.status(), CommandStatus::EsmeRok);
    let mut statuses = Vec::new();
    for seq in 10..20 {
        c.send(Command::new(
            CommandStatus::EsmeRok,
            seq,
            submit(HANDSET, b"t", 0, 0),
        ))
        .await;
        statuses.push(c.recv_cmd().await.status());
    }
    // The window may roll over once during the loop; at least one throttled answer.
    assert!(
        statuses.contains(&CommandStatus::EsmeRthrottled),
        "{statuses:?}"
    );
    assert!(
        statuses
            .iter()
            .filter(|s| **s == CommandStatus::EsmeRok)
            .count()
            >= 3
    );

    // SMSC down from now for 10 s: the session is dropped, binds are refused.
    srv.handle.with(|s, now| {
        s.faults.down = vec![DownWindow {
            from_ms: now,
            until_ms: now + 10_000,
        }]
    });
    assert_eq!(c.recv().await, None, "session dropped");
    let mut c2 = Client::connect(srv.addr).await;
    assert_eq!(
        c2.bind("secret", "").await.status(),
        CommandStatus::EsmeRbindfail
    );
}

#[tokio::test]
async fn shutdown_unbinds_sessions() {
    let mut srv = start(config()).await;
    let mut c = Client::connect(srv.addr).await;
    assert_eq!(c.bind("secret", "").await.status(), CommandStatus::EsmeRok);
    srv.stop.take().unwrap().send(()).unwrap();
    assert_eq!(c.recv_cmd().await.id(), CommandId::Unbind);
    timeout(WAIT, srv.task).await.unwrap().unwrap().unwrap();
}
