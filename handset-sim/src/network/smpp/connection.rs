//! One ESME connection: framing over the socket and the SMPP session state
//! (open → bound → closed, SMPP 3.4 §2.2), translating PDUs to calls on the core.

use std::collections::HashMap;
use std::io;
use std::time::Duration;

use bytes::BytesMut;
use rusmpp::pdus::{
    BindReceiverResp, BindTransceiverResp, BindTransmitterResp, DeliverSm, SubmitSm, SubmitSmResp,
};
use rusmpp::tlvs::{MessageDeliveryRequestTlvValue, TlvValue};
use rusmpp::types::{COctetString, EmptyOrFullCOctetString, OctetString};
use rusmpp::values::{
    DataCoding, EsmClass, InterfaceVersion, MessageState, Npi, PriorityFlag, RegisteredDelivery,
    ReplaceIfPresentFlag, ServiceType, Ton,
};
use rusmpp::{Command, CommandId, CommandStatus, Pdu};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::broadcast;

use super::frame::{self, Frame, FrameError};
use crate::network::handle::SmscHandle;
use crate::network::message::ShortMessage;
use crate::network::smsc::{BindError, BindKind, EsmeDelivery, SessionId, SubmitError};

/// How often an idle session looks for due work (latency, retries, outages).
const TICK: Duration = Duration::from_millis(20);

/// Socket plus read and write buffers (mini-redis `Connection`).
struct Connection {
    stream: TcpStream,
    rbuf: BytesMut,
    wbuf: BytesMut,
}

impl Connection {
    fn new(stream: TcpStream) -> Self {
        Connection {
            stream,
            rbuf: BytesMut::with_capacity(4096),
            wbuf: BytesMut::with_capacity(4096),
        }
    }

    /// Next frame; `Ok(None)` on a clean end of stream. Cancel-safe: bytes read so far
    /// stay in `rbuf`.
    async fn read_frame(&mut self) -> io::Result<Option<Result<Frame, FrameError>>> {
        loop {
            match frame::parse(&mut self.rbuf) {
                Ok(Some(f)) => return Ok(Some(Ok(f))),
                Err(e) => return Ok(Some(Err(e))),
                Ok(None) => {}
            }
            if self.stream.read_buf(&mut self.rbuf).await? == 0 {
                return Ok(None);
            }
        }
    }

    fn send(&mut self, cmd: &Command) {
        frame::emit(cmd, &mut self.wbuf);
    }

    fn send_header_only(&mut self, id: CommandId, status: CommandStatus, seq: u32) {
        frame::emit_header_only(id, status, seq, &mut self.wbuf);
    }

    async fn flush(&mut self) -> io::Result<()> {
        if !self.wbuf.is_empty() {
            self.stream.write_all(&self.wbuf).await?;
            self.wbuf.clear();
        }
        Ok(())
    }
}

/// SMPP 3.4 §5.1.3 command_status for a refused bind.
fn bind_status(e: BindError) -> CommandStatus {
    match e {
        BindError::InvalidSystemId => CommandStatus::EsmeRinvsysid,
        BindError::InvalidPassword => CommandStatus::EsmeRinvpaswd,
        BindError::Unavailable => CommandStatus::EsmeRbindfail,
    }
}

/// SMPP 3.4 §5.1.3 command_status for a refused submit_sm.
fn submit_status(e: SubmitError) -> CommandStatus {
    match e {
        SubmitError::NotBound => CommandStatus::EsmeRinvbndsts,
        SubmitError::Throttled => CommandStatus::EsmeRthrottled,
        SubmitError::InvalidDestination => CommandStatus::EsmeRinvdstadr,
        SubmitError::MessageTooLong => CommandStatus::EsmeRinvmsglen,
        SubmitError::Unavailable => CommandStatus::EsmeRsyserr,
    }
}

/// A C-octet string field from text; empty when the text does not fit.
pub fn c_str<const MIN: usize, const MAX: usize>(s: &str) -> COctetString<MIN, MAX> {
    s.parse().unwrap_or_default()
}

/// TON for an address: international for MSISDN-length numbers, unknown for short codes.
fn ton_for(addr: &str) -> Ton {
    if addr.len() > 8 {
        Ton::International
    } else {
        Ton::Unknown
    }
}

/// The `deliver_sm` for one delivery (SMPP 3.4 §4.6.1; receipts per Appendix B with
/// the `receipted_message_id` and `message_state` TLVs of §5.3.2.12 / §5.3.2.35).
pub fn deliver_sm(d: &EsmeDelivery) -> DeliverSm {
    let sm = &d.sm;
    let mut tlvs = Vec::new();
    if let Some(r) = &d.receipt {
        tlvs.push(MessageDeliveryRequestTlvValue::ReceiptedMessageId(c_str(
            &r.message_id,
        )));
        tlvs.push(MessageDeliveryRequestTlvValue::MessageState(
            MessageState::from(r.state.code()),
        ));
    }
    DeliverSm::new(
        ServiceType::default(),
        ton_for(&sm.source),
        Npi::Isdn,
        c_str(&sm.source),
        ton_for(&sm.destination),
        Npi::Isdn,
        c_str(&sm.destination),
        EsmClass::from(d.esm_class),
        sm.pid,
        PriorityFlag::from(0),
        EmptyOrFullCOctetString::empty(),
        EmptyOrFullCOctetString::empty(),
        RegisteredDelivery::from(0),
        ReplaceIfPresentFlag::DoNotReplace,
        DataCoding::from(sm.dcs),
        0,
        OctetString::from_slice(&sm.smpp_short_message()).unwrap_or_default(),
        tlvs,
    )
}

/// The short message of a submit_sm: `short_message`, or the `message_payload` TLV
/// when `sm_length` is 0 (SMPP 3.4 §5.3.2.32).
pub fn submit_payload(s: &SubmitSm) -> &[u8] {
    if !s.short_message().is_empty() {
        return s.short_message().as_ref();
    }
    s.tlvs()
        .iter()
        .find_map(|t| match t.value() {
            Some(TlvValue::MessagePayload(p)) => Some(p.value.as_ref()),
            _ => None,
        })
        .unwrap_or(&[])
}

struct Session {
    conn: Connection,
    handle: SmscHandle,
    bound: Option<(SessionId, BindKind)>,
    next_seq: u32,
    /// Our deliver_sm sequence numbers → delivery ids.
    outstanding: HashMap<u32, u64>,
}

enum Flow {
    Continue,
    Close,
}

impl Session {
    fn seq(&mut self) -> u32 {
        let s = self.next_seq;
        // sequence_number range is 0x00000001..=0x7FFFFFFF (SMPP 3.4 §3.2).
        self.next_seq = if s >= 0x7FFF_FFFF { 1 } else { s + 1 };
        s
    }

    fn push_deliveries(&mut self) -> bool {
        let Some((sid, kind)) = self.bound else {
            return true;
        };
        if !self.handle.with_quiet(|s, now| s.session_alive(sid, now)) {
            return false;
        }
        if kind.can_receive() {
            while let Some(d) = self.handle.with_quiet(|s, now| s.poll_esme(sid, now)) {
                let seq = self.seq();
                self.outstanding.insert(seq, d.id);
                let cmd = Command::new(CommandStatus::EsmeRok, seq, deliver_sm(&d));
                self.conn.send(&cmd);
            }
        }
        true
    }

    fn bind(
        &mut self,
        seq: u32,
        kind: BindKind,
        system_id: &str,
        password: &str,
        range: &str,
        version: InterfaceVersion,
    ) {
        let resp_id = match kind {
            BindKind::Transmitter => CommandId::BindTransmitterResp,
            BindKind::Receiver => CommandId::BindReceiverResp,
            BindKind::Transceiver => CommandId::BindTransceiverResp,
        };
        if self.bound.is_some() {
            self.conn
                .send_header_only(resp_id, CommandStatus::EsmeRalybnd, seq);
            return;
        }
        let result = self.handle.with(|s, now| {
            s.bind(system_id, password, kind, range, now)
                .map(|id| (id, s.config().system_id.clone()))
        });
        match result {
            Ok((sid, our_id)) => {
                self.bound = Some((sid, kind));
                // sc_interface_version only for ESMEs that speak 3.4 or later (§5.3.2.25).
                let v = (u8::from(version) >= 0x34).then_some(InterfaceVersion::Smpp3_4);
                let id = c_str(&our_id);
                let pdu: Pdu = match kind {
                    BindKind::Transmitter => BindTransmitterResp::new(id, v).into(),
                    BindKind::Receiver => BindReceiverResp::new(id, v).into(),
                    BindKind::Transceiver => BindTransceiverResp::new(id, v).into(),
                };
                self.conn
                    .send(&Command::new(CommandStatus::EsmeRok, seq, pdu));
            }
            Err(e) => self.conn.send_header_only(resp_id, bind_status(e), seq),
        }
    }

    fn submit(&mut self, seq: u32, s: &SubmitSm) {
        let Some((sid, _)) = self.bound else {
            self.conn
                .send_header_only(CommandId::SubmitSmResp, CommandStatus::EsmeRinvbndsts, seq);
            return;
        };
        let sm = match ShortMessage::from_smpp(
            s.source_addr.as_str(),
            s.destination_addr.as_str(),
            u8::from(s.esm_class),
            s.protocol_id,
            u8::from(s.data_coding),
            submit_payload(s),
        ) {
            Ok(sm) => sm,
            Err(_) => {
                self.conn.send_header_only(
                    CommandId::SubmitSmResp,
                    CommandStatus::EsmeRinvmsglen,
                    seq,
                );
                return;
            }
        };
        let rd = u8::from(s.registered_delivery);
        match self.handle.with(|c, now| c.submit_sm(sid, sm, rd, now)) {
            Ok(id) => {
                let resp = SubmitSmResp::new(c_str(&id), Vec::new());
                self.conn
                    .send(&Command::new(CommandStatus::EsmeRok, seq, resp));
            }
            Err(e) => self
                .conn
                .send_header_only(CommandId::SubmitSmResp, submit_status(e), seq),
        }
    }

    fn on_command(&mut self, cmd: Command) -> Flow {
        let seq = cmd.sequence_number();
        let id = cmd.id();
        match cmd.pdu() {
            Some(Pdu::BindTransmitter(b)) => self.bind(
                seq,
                BindKind::Transmitter,
                b.system_id.as_str(),
                b.password.as_str(),
                b.address_range.as_str(),
                b.interface_version,
            ),
            Some(Pdu::BindReceiver(b)) => self.bind(
                seq,
                BindKind::Receiver,
                b.system_id.as_str(),
                b.password.as_str(),
                b.address_range.as_str(),
                b.interface_version,
            ),
            Some(Pdu::BindTransceiver(b)) => self.bind(
                seq,
                BindKind::Transceiver,
                b.system_id.as_str(),
                b.password.as_str(),
                b.address_range.as_str(),
                b.interface_version,
            ),
            Some(Pdu::SubmitSm(s)) => self.submit(seq, s),
            Some(Pdu::EnquireLink) => {
                self.conn.send(&Command::new(
                    CommandStatus::EsmeRok,
                    seq,
                    Pdu::EnquireLinkResp,
                ));
            }
            Some(Pdu::Unbind) => {
                self.conn
                    .send(&Command::new(CommandStatus::EsmeRok, seq, Pdu::UnbindResp));
                return Flow::Close;
            }
            Some(Pdu::UnbindResp) => return Flow::Close,
            _ if id == CommandId::DeliverSmResp || id == CommandId::GenericNack => {
                if let (Some(delivery), Some((sid, _))) =
                    (self.outstanding.remove(&seq), self.bound)
                {
                    let ok =
                        id == CommandId::DeliverSmResp && cmd.status() == CommandStatus::EsmeRok;
                    self.handle
                        .with_quiet(|s, now| s.esme_ack(sid, delivery, ok, now));
                }
            }
            _ if id.is_response() => {}
            _ if self.bound.is_none() => {
                self.conn.send_header_only(
                    CommandId::GenericNack,
                    CommandStatus::EsmeRinvbndsts,
                    seq,
                );
            }
            // query_sm, cancel_sm, replace_sm, data_sm, submit_multi, ...: not offered.
            _ => self.conn.send_header_only(
                CommandId::GenericNack,
                CommandStatus::EsmeRinvcmdid,
                seq,
            ),
        }
        Flow::Continue
    }

    async fn run(&mut self, shutdown: &mut broadcast::Receiver<()>) -> io::Result<()> {
        loop {
            if !self.push_deliveries() {
                // SMSC went down: drop the session without ceremony.
                self.conn.flush().await?;
                return Ok(());
            }
            self.conn.flush().await?;
            let frame = tokio::select! {
                f = self.conn.read_frame() => f?,
                _ = self.handle.changed() => continue,
                _ = tokio::time::sleep(TICK) => continue,
                _ = shutdown.recv() => {
                    let seq = self.seq();
                    self.conn.send(&Command::new(CommandStatus::EsmeRok, seq, Pdu::Unbind));
                    self.conn.flush().await?;
                    return Ok(());
                }
            };
            match frame {
                None => return Ok(()),
                Some(Ok(Frame::Command(cmd))) => {
                    if let Flow::Close = self.on_command(*cmd) {
                        self.conn.flush().await?;
                        return Ok(());
                    }
                }
                Some(Ok(Frame::Malformed {
                    sequence_number,
                    status,
                    ..
                })) => {
                    tracing::debug!(?status, sequence_number, "malformed PDU");
                    self.conn
                        .send_header_only(CommandId::GenericNack, status, sequence_number);
                }
                Some(Err(e)) => {
                    tracing::debug!(%e, "unrecoverable framing error");
                    self.conn.send_header_only(
                        CommandId::GenericNack,
                        CommandStatus::EsmeRinvcmdlen,
                        e.sequence_number,
                    );
                    self.conn.flush().await?;
                    return Ok(());
                }
            }
        }
    }
}

/// Serves one ESME connection until it unbinds, disconnects, the SMSC goes down, or
/// shutdown is signalled.
pub(crate) async fn serve(
    stream: TcpStream,
    handle: SmscHandle,
    mut shutdown: broadcast::Receiver<()>,
) -> io::Result<()> {
    let _ = stream.set_nodelay(true);
    let mut session = Session {
        conn: Connection::new(stream),
        handle,
        bound: None,
        next_seq: 1,
        outstanding: HashMap::new(),
    };
    let result = session.run(&mut shutdown).await;
    if let Some((sid, _)) = session.bound {
        session.handle.with(|s, now| s.unbind(sid, now));
    }
    result
}
