//! The ESME session: bind as transceiver, keep the link alive, reconnect with
//! exponential back-off, window outbound `submit_sm`, acknowledge `deliver_sm` only
//! after the caller's handler has stored it, `generic_nack` malformed PDUs, `unbind`
//! on shutdown (SMPP 3.4 §2.2–2.9, §4.1–4.11).

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use rusmpp::pdus::{BindTransceiver, DeliverSm, DeliverSmResp, SubmitSm};
use rusmpp::tlvs::TlvValue;
use rusmpp::types::{COctetString, OctetString};
use rusmpp::values::{DataCoding, EsmClass, InterfaceVersion, Npi, RegisteredDelivery, Ton};
use rusmpp::{Command, CommandId, CommandStatus, Pdu};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::codec::Framed;

use super::codec::{EsmeCodec, Inbound};

/// ESME configuration.
#[derive(Debug, Clone)]
pub struct EsmeConfig {
    /// SMSC address, `host:port`.
    pub address: String,
    /// `system_id` for `bind_transceiver` (≤ 15 octets, SMPP 3.4 §4.1.1).
    pub system_id: String,
    /// `password` (≤ 8 octets).
    pub password: String,
    /// `system_type` (≤ 12 octets).
    pub system_type: String,
    /// How often `enquire_link` is sent on a bound session (§4.11).
    pub enquire_link_interval: Duration,
    /// How long a response (bind, submit, enquire_link, unbind) may take; an
    /// unanswered `enquire_link` after this time drops and re-opens the link.
    pub response_timeout: Duration,
    /// Maximum outstanding `submit_sm` without response (the window).
    pub window: usize,
    /// First reconnect delay; doubles after each failed attempt…
    pub reconnect_min: Duration,
    /// …up to this cap.
    pub reconnect_max: Duration,
    /// TCP connect timeout.
    pub connect_timeout: Duration,
}

impl EsmeConfig {
    /// Defaults: enquire_link every 30 s, 10 s response timeout, window 10,
    /// reconnect 1 s doubling to 60 s, 5 s connect timeout, empty `system_type`.
    pub fn new(
        address: impl Into<String>,
        system_id: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        Self {
            address: address.into(),
            system_id: system_id.into(),
            password: password.into(),
            system_type: String::new(),
            enquire_link_interval: Duration::from_secs(30),
            response_timeout: Duration::from_secs(10),
            window: 10,
            reconnect_min: Duration::from_secs(1),
            reconnect_max: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(5),
        }
    }
}

/// Where the session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionState {
    /// Connecting or binding, or waiting to retry (`attempt` counts since the last
    /// successful bind).
    Connecting {
        /// Attempt number.
        attempt: u32,
    },
    /// Bound as transceiver; `bind_count` counts successful binds since start (so a
    /// rebind after a lost link is visible).
    Bound {
        /// Successful binds so far.
        bind_count: u64,
    },
    /// Shut down.
    Stopped,
}

/// A `deliver_sm` as handed to the [`DeliverHandler`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveredSm {
    /// `sequence_number` of the PDU.
    pub sequence_number: u32,
    /// `source_addr_ton`.
    pub source_addr_ton: u8,
    /// `source_addr_npi`.
    pub source_addr_npi: u8,
    /// `source_addr` (the MS's MSISDN for MO traffic).
    pub source_addr: String,
    /// `destination_addr` (our short code).
    pub destination_addr: String,
    /// `esm_class` (bit 6 = UDHI).
    pub esm_class: u8,
    /// `protocol_id` (TP-PID).
    pub protocol_id: u8,
    /// `data_coding` (TP-DCS as mapped by the SMSC).
    pub data_coding: u8,
    /// `short_message`, or the `message_payload` TLV (0x0424) when that is present.
    pub payload: Vec<u8>,
}

/// Why the handler could not store a message.
#[derive(Debug, Clone, thiserror::Error)]
#[error("handler: {0}")]
pub struct HandlerError(pub String);

/// Receives `deliver_sm`s. The future must resolve only once what the message
/// carried is durably stored: the `deliver_sm_resp` (status 0) is sent after it
/// resolves `Ok`; on `Err` the response carries `ESME_RX_T_APPN` (0x64, temporary
/// application error) so the SMSC retries. When the link drops while the handler
/// runs, no response is sent and the SMSC will redeliver: handlers must be
/// idempotent.
pub trait DeliverHandler: Send + Sync + 'static {
    /// Store one message.
    fn on_deliver_sm(
        &self,
        sm: DeliveredSm,
    ) -> impl Future<Output = Result<(), HandlerError>> + Send;
}

/// An outbound short message (`submit_sm`, SMPP 3.4 §4.4.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmitRequest {
    /// `source_addr_ton`.
    pub source_addr_ton: u8,
    /// `source_addr_npi`.
    pub source_addr_npi: u8,
    /// `source_addr` (≤ 20 octets).
    pub source_addr: String,
    /// `dest_addr_ton`.
    pub dest_addr_ton: u8,
    /// `dest_addr_npi`.
    pub dest_addr_npi: u8,
    /// `destination_addr` (≤ 20 octets).
    pub destination_addr: String,
    /// `esm_class`.
    pub esm_class: u8,
    /// `protocol_id`.
    pub protocol_id: u8,
    /// `registered_delivery` (0 = no receipt, 1 = receipt on final outcome).
    pub registered_delivery: u8,
    /// `data_coding`.
    pub data_coding: u8,
    /// `short_message` (≤ 254 octets in 3.4; for an SMS ≤ 140).
    pub short_message: Vec<u8>,
}

/// `esm_class` bit 6: UDH indicator (SMPP 3.4 §5.2.12).
pub const ESM_CLASS_UDHI: u8 = 0x40;
/// `data_coding` 0x04: 8-bit binary (SMPP 3.4 §5.2.19).
pub const DATA_CODING_BINARY: u8 = 0x04;

impl SubmitRequest {
    /// A binary message with a user data header (WAP push / OMA CP segment):
    /// `esm_class` = UDHI (0x40), `data_coding` = 0x04, international numbers
    /// (TON 1, NPI 1). `udh_and_data` starts with the UDH length octet.
    pub fn binary_with_udh(
        source_addr: impl Into<String>,
        destination_addr: impl Into<String>,
        udh_and_data: Vec<u8>,
    ) -> Self {
        Self {
            source_addr_ton: 1,
            source_addr_npi: 1,
            source_addr: source_addr.into(),
            dest_addr_ton: 1,
            dest_addr_npi: 1,
            destination_addr: destination_addr.into(),
            esm_class: ESM_CLASS_UDHI,
            protocol_id: 0,
            registered_delivery: 0,
            data_coding: DATA_CODING_BINARY,
            short_message: udh_and_data,
        }
    }

    fn to_pdu(&self) -> Result<SubmitSm, SmppError> {
        let addr = |s: &str, f| {
            COctetString::<1, 21>::from_str_checked(s).map_err(|_| SmppError::InvalidField(f))
        };
        let sm = OctetString::<0, 255>::from_vec(self.short_message.clone())
            .map_err(|_| SmppError::InvalidField("short_message"))?;
        Ok(SubmitSm::builder()
            .source_addr_ton(Ton::from(self.source_addr_ton))
            .source_addr_npi(Npi::from(self.source_addr_npi))
            .source_addr(addr(&self.source_addr, "source_addr")?)
            .dest_addr_ton(Ton::from(self.dest_addr_ton))
            .dest_addr_npi(Npi::from(self.dest_addr_npi))
            .destination_addr(addr(&self.destination_addr, "destination_addr")?)
            .esm_class(EsmClass::from(self.esm_class))
            .protocol_id(self.protocol_id)
            .registered_delivery(RegisteredDelivery::from(self.registered_delivery))
            .data_coding(DataCoding::from(self.data_coding))
            .short_message(sm)
            .build())
    }
}

trait FromStrChecked: Sized {
    fn from_str_checked(s: &str) -> Result<Self, ()>;
}

impl<const MIN: usize, const MAX: usize> FromStrChecked for COctetString<MIN, MAX> {
    fn from_str_checked(s: &str) -> Result<Self, ()> {
        let mut bytes = s.as_bytes().to_vec();
        bytes.push(0);
        Self::from_vec(bytes).map_err(|_| ())
    }
}

/// The SMSC's answer to a `submit_sm`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmitResponse {
    /// `sequence_number` used.
    pub sequence_number: u32,
    /// `message_id` assigned by the SMSC.
    pub message_id: String,
}

/// Errors of [`EsmeHandle`] operations.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SmppError {
    /// Not bound right now (connecting or retrying); try again later.
    #[error("not bound")]
    NotBound,
    /// The link dropped before the response arrived (the SMSC may or may not have
    /// accepted the message).
    #[error("link lost before the response")]
    Disconnected,
    /// No response within `response_timeout`.
    #[error("no response in time")]
    Timeout,
    /// The SMSC answered with a non-zero `command_status`.
    #[error("SMSC status {0:#010x}")]
    Status(u32),
    /// A field does not fit its SMPP size limit.
    #[error("field {0} does not fit")]
    InvalidField(&'static str),
    /// The ESME has been shut down.
    #[error("ESME stopped")]
    Stopped,
}

enum Request {
    Submit {
        pdu: Box<SubmitSm>,
        reply: oneshot::Sender<Result<SubmitResponse, SmppError>>,
        permit: OwnedSemaphorePermit,
    },
    Shutdown,
}

/// Cheap cloneable handle to a running ESME.
#[derive(Debug, Clone)]
pub struct EsmeHandle {
    requests: mpsc::Sender<Request>,
    state: watch::Receiver<SessionState>,
    window: Arc<Semaphore>,
}

impl EsmeHandle {
    /// The current state.
    pub fn state(&self) -> SessionState {
        *self.state.borrow()
    }

    /// Waits until `pred` holds for the state, or `timeout` passes; returns the last
    /// state seen.
    pub async fn wait_for(
        &self,
        timeout: Duration,
        pred: impl FnMut(&SessionState) -> bool,
    ) -> Result<SessionState, SessionState> {
        let mut rx = self.state.clone();
        match tokio::time::timeout(timeout, rx.wait_for(pred)).await {
            Ok(Ok(s)) => Ok(*s),
            _ => Err(*self.state.borrow()),
        }
    }

    /// Sends a `submit_sm` and waits for its `submit_sm_resp`. Waits first for a
    /// free slot in the window (outstanding requests ≤ `window`).
    pub async fn submit(&self, request: &SubmitRequest) -> Result<SubmitResponse, SmppError> {
        let pdu = Box::new(request.to_pdu()?);
        let permit = self
            .window
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| SmppError::Stopped)?;
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(Request::Submit { pdu, reply, permit })
            .await
            .map_err(|_| SmppError::Stopped)?;
        answer.await.map_err(|_| SmppError::Stopped)?
    }

    /// Asks the session to `unbind` and stop; await the task from [`start`] to know
    /// it has.
    pub async fn shutdown(&self) {
        let _ = self.requests.send(Request::Shutdown).await;
    }

    /// Free slots in the submit window right now.
    pub fn window_available(&self) -> usize {
        self.window.available_permits()
    }
}

/// Starts the ESME on the current tokio runtime.
pub fn start<H: DeliverHandler>(
    config: EsmeConfig,
    handler: Arc<H>,
) -> (EsmeHandle, JoinHandle<()>) {
    let (requests, request_rx) = mpsc::channel(config.window.max(1) * 2);
    let (state_tx, state) = watch::channel(SessionState::Connecting { attempt: 0 });
    let window = Arc::new(Semaphore::new(config.window.max(1)));
    let task = Task {
        config,
        handler,
        requests: request_rx,
        state: state_tx,
        next_sequence: 1,
        bind_count: 0,
    };
    let join = tokio::spawn(task.run());
    (
        EsmeHandle {
            requests,
            state,
            window,
        },
        join,
    )
}

struct Task<H> {
    config: EsmeConfig,
    handler: Arc<H>,
    requests: mpsc::Receiver<Request>,
    state: watch::Sender<SessionState>,
    next_sequence: u32,
    bind_count: u64,
}

type Link = Framed<TcpStream, EsmeCodec>;

enum End {
    Shutdown,
    Lost(String),
}

struct Pending {
    reply: oneshot::Sender<Result<SubmitResponse, SmppError>>,
    deadline: Instant,
    _permit: OwnedSemaphorePermit,
}

fn command(status: CommandStatus, sequence_number: u32, pdu: impl Into<Pdu>) -> Command {
    Command::new(status, sequence_number, pdu)
}

fn generic_nack(status: CommandStatus, sequence_number: u32) -> Command {
    command(status, sequence_number, Pdu::GenericNack)
}

fn delivered(sequence_number: u32, sm: &DeliverSm) -> DeliveredSm {
    let payload = sm
        .tlvs()
        .iter()
        .find_map(|tlv| match tlv.value() {
            Some(TlvValue::MessagePayload(p)) => Some(p.value.as_ref().to_vec()),
            _ => None,
        })
        .unwrap_or_else(|| sm.short_message().as_ref().to_vec());
    DeliveredSm {
        sequence_number,
        source_addr_ton: u8::from(sm.source_addr_ton),
        source_addr_npi: u8::from(sm.source_addr_npi),
        source_addr: sm.source_addr.to_string(),
        destination_addr: sm.destination_addr.to_string(),
        esm_class: u8::from(sm.esm_class),
        protocol_id: sm.protocol_id,
        data_coding: u8::from(sm.data_coding),
        payload,
    }
}

impl<H: DeliverHandler> Task<H> {
    fn sequence(&mut self) -> u32 {
        // SMPP 3.4 §3.2: 0x00000001..=0x7FFFFFFF, wrapping.
        let s = self.next_sequence;
        self.next_sequence = if s >= 0x7FFF_FFFF { 1 } else { s + 1 };
        s
    }

    async fn run(mut self) {
        let mut backoff = self.config.reconnect_min;
        let mut attempt: u32 = 0;
        loop {
            attempt = attempt.saturating_add(1);
            self.state
                .send_replace(SessionState::Connecting { attempt });
            match self.connect_and_bind().await {
                Ok(link) => {
                    attempt = 0;
                    backoff = self.config.reconnect_min;
                    self.bind_count += 1;
                    self.state.send_replace(SessionState::Bound {
                        bind_count: self.bind_count,
                    });
                    tracing::info!(bind_count = self.bind_count, "SMPP bound as transceiver");
                    match self.session(link).await {
                        End::Shutdown => break,
                        End::Lost(reason) => tracing::warn!(%reason, "SMPP link lost"),
                    }
                    self.state
                        .send_replace(SessionState::Connecting { attempt: 0 });
                }
                Err(reason) => tracing::warn!(%reason, attempt, "SMPP connect/bind failed"),
            }
            if self.idle(backoff).await {
                break;
            }
            backoff = (backoff * 2).min(self.config.reconnect_max);
        }
        self.state.send_replace(SessionState::Stopped);
    }

    /// Sleeps `delay` while refusing submits; `true` when shutdown was requested.
    async fn idle(&mut self, delay: Duration) -> bool {
        let sleep = tokio::time::sleep(delay);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                _ = &mut sleep => return false,
                request = self.requests.recv() => match request {
                    None | Some(Request::Shutdown) => return true,
                    Some(Request::Submit { reply, .. }) => {
                        let _ = reply.send(Err(SmppError::NotBound));
                    }
                },
            }
        }
    }

    async fn connect_and_bind(&mut self) -> Result<Link, String> {
        let tcp = tokio::time::timeout(
            self.config.connect_timeout,
            TcpStream::connect(&self.config.address),
        )
        .await
        .map_err(|_| "connect timed out".to_owned())?
        .map_err(|e| format!("connect {}: {e}", self.config.address))?;
        let _ = tcp.set_nodelay(true);
        let mut link = Framed::new(tcp, EsmeCodec::default());
        fn field<const N: usize>(s: &str, what: &str) -> Result<COctetString<1, N>, String> {
            COctetString::from_str_checked(s).map_err(|_| format!("{what} too long"))
        }
        let bind = BindTransceiver::builder()
            .system_id(field(&self.config.system_id, "system_id")?)
            .password(field(&self.config.password, "password")?)
            .system_type(field(&self.config.system_type, "system_type")?)
            .interface_version(InterfaceVersion::Smpp3_4)
            .build();
        let seq = self.sequence();
        link.send(&command(CommandStatus::EsmeRok, seq, bind))
            .await
            .map_err(|e| format!("send bind: {e}"))?;
        let deadline = Instant::now() + self.config.response_timeout;
        loop {
            let frame = tokio::time::timeout_at(deadline, link.next())
                .await
                .map_err(|_| "no bind_transceiver_resp in time".to_owned())?;
            match frame {
                None => return Err("closed during bind".into()),
                Some(Err(e)) => return Err(format!("read during bind: {e}")),
                Some(Ok(Inbound::Command(c)))
                    if c.id() == CommandId::BindTransceiverResp && c.sequence_number() == seq =>
                {
                    return if c.status() == CommandStatus::EsmeRok {
                        Ok(link)
                    } else {
                        Err(format!("bind refused: {:?}", c.status()))
                    };
                }
                Some(Ok(Inbound::Command(c))) if c.id() == CommandId::GenericNack => {
                    return Err(format!("bind answered with generic_nack {:?}", c.status()));
                }
                Some(Ok(other)) => {
                    tracing::debug!(?other, "ignored before bind completed");
                }
            }
        }
    }

    async fn session(&mut self, mut link: Link) -> End {
        let mut pending: HashMap<u32, Pending> = HashMap::new();
        let (ack_tx, mut ack_rx) = mpsc::channel::<(u32, CommandStatus)>(64);
        let mut enquire_outstanding: Option<(u32, Instant)> = None;
        let mut enquire = tokio::time::interval_at(
            Instant::now() + self.config.enquire_link_interval,
            self.config.enquire_link_interval,
        );
        enquire.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let sweep_every = (self.config.response_timeout / 4).max(Duration::from_millis(10));
        let mut sweep = tokio::time::interval(sweep_every);
        sweep.set_missed_tick_behavior(MissedTickBehavior::Delay);

        let end = loop {
            tokio::select! {
                frame = link.next() => {
                    let inbound = match frame {
                        None => break End::Lost("closed by peer".into()),
                        Some(Err(e)) => break End::Lost(format!("read: {e}")),
                        Some(Ok(inbound)) => inbound,
                    };
                    match self.on_inbound(inbound, &mut link, &mut pending, &ack_tx, &mut enquire_outstanding).await {
                        Ok(()) => {}
                        Err(reason) => break End::Lost(reason),
                    }
                }
                Some((seq, status)) = ack_rx.recv() => {
                    let resp = DeliverSmResp::builder().build();
                    if let Err(e) = link.send(&command(status, seq, resp)).await {
                        break End::Lost(format!("write deliver_sm_resp: {e}"));
                    }
                }
                request = self.requests.recv() => match request {
                    None | Some(Request::Shutdown) => {
                        self.unbind(&mut link).await;
                        break End::Shutdown;
                    }
                    Some(Request::Submit { pdu, reply, permit }) => {
                        let seq = self.sequence();
                        if let Err(e) = link.send(&command(CommandStatus::EsmeRok, seq, *pdu)).await {
                            let _ = reply.send(Err(SmppError::Disconnected));
                            break End::Lost(format!("write submit_sm: {e}"));
                        }
                        pending.insert(seq, Pending {
                            reply,
                            deadline: Instant::now() + self.config.response_timeout,
                            _permit: permit,
                        });
                    }
                },
                _ = enquire.tick() => {
                    if let Some((_, sent)) = enquire_outstanding {
                        if sent.elapsed() >= self.config.response_timeout {
                            break End::Lost("enquire_link unanswered".into());
                        }
                    } else {
                        let seq = self.sequence();
                        if let Err(e) = link.send(&command(CommandStatus::EsmeRok, seq, Pdu::EnquireLink)).await {
                            break End::Lost(format!("write enquire_link: {e}"));
                        }
                        enquire_outstanding = Some((seq, Instant::now()));
                    }
                }
                _ = sweep.tick() => {
                    let now = Instant::now();
                    let expired: Vec<u32> = pending.iter().filter(|(_, p)| p.deadline <= now).map(|(s, _)| *s).collect();
                    for seq in expired {
                        if let Some(p) = pending.remove(&seq) {
                            let _ = p.reply.send(Err(SmppError::Timeout));
                        }
                    }
                    if enquire_outstanding
                        .is_some_and(|(_, sent)| sent.elapsed() >= self.config.response_timeout)
                    {
                        break End::Lost("enquire_link unanswered".into());
                    }
                }
            }
        };
        for (_, p) in pending.drain() {
            let _ = p.reply.send(Err(SmppError::Disconnected));
        }
        end
    }

    async fn on_inbound(
        &mut self,
        inbound: Inbound,
        link: &mut Link,
        pending: &mut HashMap<u32, Pending>,
        ack_tx: &mpsc::Sender<(u32, CommandStatus)>,
        enquire_outstanding: &mut Option<(u32, Instant)>,
    ) -> Result<(), String> {
        let write = |e: std::io::Error| format!("write: {e}");
        let c = match inbound {
            Inbound::BadLength { command_length } => {
                // §3.2 / generic_nack §4.3: framing lost; tell the peer, then re-open.
                let _ = link
                    .send(&generic_nack(CommandStatus::EsmeRinvcmdlen, 0))
                    .await;
                return Err(format!("invalid command_length {command_length}"));
            }
            Inbound::Malformed {
                command_id,
                sequence_number,
                status,
            } => {
                tracing::info!(
                    command_id,
                    sequence_number,
                    ?status,
                    "malformed PDU, generic_nack"
                );
                // Never answer a generic_nack with a generic_nack.
                if command_id != u32::from(CommandId::GenericNack) {
                    link.send(&generic_nack(status, sequence_number))
                        .await
                        .map_err(write)?;
                }
                return Ok(());
            }
            Inbound::Command(c) => c,
        };
        let seq = c.sequence_number();
        match c.pdu() {
            Some(Pdu::DeliverSm(sm)) => {
                let sm = delivered(seq, sm);
                let handler = self.handler.clone();
                let ack_tx = ack_tx.clone();
                tokio::spawn(async move {
                    let status = match handler.on_deliver_sm(sm).await {
                        Ok(()) => CommandStatus::EsmeRok,
                        Err(e) => {
                            tracing::warn!(error = %e, "deliver_sm not stored");
                            CommandStatus::EsmeRxTAppn
                        }
                    };
                    // If the session ended meanwhile, nothing is acknowledged.
                    let _ = ack_tx.send((seq, status)).await;
                });
            }
            Some(Pdu::EnquireLink) => {
                link.send(&command(CommandStatus::EsmeRok, seq, Pdu::EnquireLinkResp))
                    .await
                    .map_err(write)?;
            }
            Some(Pdu::EnquireLinkResp) => {
                if enquire_outstanding.is_some_and(|(s, _)| s == seq) {
                    *enquire_outstanding = None;
                }
            }
            Some(Pdu::SubmitSmResp(resp)) => {
                if let Some(p) = pending.remove(&seq) {
                    let result = if c.status() == CommandStatus::EsmeRok {
                        Ok(SubmitResponse {
                            sequence_number: seq,
                            message_id: resp.message_id().to_string(),
                        })
                    } else {
                        Err(SmppError::Status(u32::from(c.status())))
                    };
                    let _ = p.reply.send(result);
                }
            }
            Some(Pdu::GenericNack) | None if c.id() == CommandId::GenericNack => {
                if let Some(p) = pending.remove(&seq) {
                    let _ = p.reply.send(Err(SmppError::Status(u32::from(c.status()))));
                }
                if enquire_outstanding.is_some_and(|(s, _)| s == seq) {
                    *enquire_outstanding = None;
                }
            }
            Some(Pdu::Unbind) => {
                let _ = link
                    .send(&command(CommandStatus::EsmeRok, seq, Pdu::UnbindResp))
                    .await;
                return Err("unbind from SMSC".into());
            }
            _ if c.id().is_operation() => {
                // A request we do not serve (data_sm, query_sm, …): §4.3.
                link.send(&generic_nack(CommandStatus::EsmeRinvcmdid, seq))
                    .await
                    .map_err(write)?;
            }
            _ => tracing::debug!(id = ?c.id(), seq, "unexpected response ignored"),
        }
        Ok(())
    }

    async fn unbind(&mut self, link: &mut Link) {
        let seq = self.sequence();
        if link
            .send(&command(CommandStatus::EsmeRok, seq, Pdu::Unbind))
            .await
            .is_err()
        {
            return;
        }
        let deadline = Instant::now() + self.config.response_timeout;
        while let Ok(Some(Ok(frame))) = tokio::time::timeout_at(deadline, link.next()).await {
            if let Inbound::Command(c) = frame
                && c.id() == CommandId::UnbindResp
                && c.sequence_number() == seq
            {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// submit_sm assembled by hand from SMPP 3.4 §4.4.1's field list: service_type
    /// "", TON/NPI 1/1 "4242", TON/NPI 1/1 "491701234567", esm_class 0x40,
    /// protocol_id 0, priority 0, schedule "", validity "", registered_delivery 1,
    /// replace 0, data_coding 0x04, sm_default_msg_id 0, sm_length 3, UDH bytes.
    /// The same 52 bytes, wrapped by `text2pcap -T 40000,2775`, decode in tshark's
    /// SMPP dissector as Submit_sm, UDHI indicator 1, delivery receipt requested,
    /// data coding 0x04, message bytes 027000.
    #[test]
    fn submit_sm_bytes_match_smpp34_field_order() {
        let mut req =
            SubmitRequest::binary_with_udh("4242", "491701234567", vec![0x02, 0x70, 0x00]);
        req.registered_delivery = 1;
        let pdu = req.to_pdu().unwrap();
        let bytes = super::super::codec::to_bytes(&command(CommandStatus::EsmeRok, 2, pdu));
        let mut body = vec![0x00, 0x01, 0x01];
        body.extend_from_slice(b"4242\0");
        body.extend_from_slice(&[0x01, 0x01]);
        body.extend_from_slice(b"491701234567\0");
        body.extend_from_slice(&[0x40, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x04, 0x00, 0x03]);
        body.extend_from_slice(&[0x02, 0x70, 0x00]);
        let mut expected = ((16 + body.len()) as u32).to_be_bytes().to_vec();
        expected.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 2]);
        expected.extend_from_slice(&body);
        assert_eq!(bytes, expected);
    }

    #[test]
    fn oversized_fields_are_refused_not_truncated() {
        let req = SubmitRequest::binary_with_udh("4242", "1".repeat(21), vec![]);
        assert_eq!(
            req.to_pdu().unwrap_err(),
            SmppError::InvalidField("destination_addr")
        );
        let req = SubmitRequest::binary_with_udh("4242", "1", vec![0; 256]);
        assert_eq!(
            req.to_pdu().unwrap_err(),
            SmppError::InvalidField("short_message")
        );
    }
}
