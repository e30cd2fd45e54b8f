//! The world's SMSC as an SMPP server for an **external** provisioning stub
//! (`imeitrack run --stub HOST:PORT`, `docs/scenarios.md` "External stub").
//!
//! [`SmppBridge`] is a [`ProvisioningServer`]: the world still binds it to the SMSC core
//! in-process (routing, store-and-forward, outages, faults and latency all apply as for
//! the embedded stub), but every MO message it is handed goes out over TCP, as a real
//! SMPP 3.4 `deliver_sm`, to the ESME bound at the listening address — normally
//! `provisioning-stub serve` with a configuration from `imeitrack stub-config`. The
//! ESME's `deliver_sm_resp` becomes [`ServerReply::accepted`] and the `submit_sm` PDUs it
//! sends become [`ServerReply::mt`].
//!
//! Framing reuses the network simulator's SMPP side
//! ([`handset_sim::network::smpp::frame`]); PDU bodies are `rusmpp`'s.
//!
//! # When a reply is complete
//!
//! The world waits inside [`ProvisioningServer::on_mo`]: virtual time does not move
//! while real time passes. The wait ends:
//!
//! 1. for every MO, at its `deliver_sm_resp` (or `generic_nack`), at most
//!    [`BridgeConfig::resp_wait`]; no answer counts as a temporary error (the SMSC
//!    retries the message after its retry interval, in virtual time);
//! 2. for a registration (`IMTR`) the stub acknowledged, additionally when the OMA CP
//!    push addressed to the sender is complete (every segment of its concatenated
//!    message received), or — with the stub's store known ([`BridgeConfig::store`]) —
//!    as soon as the store shows no push will come (outcome other than `accepted`, or a
//!    `provisioning_failures` row for it), at most [`BridgeConfig::push_wait`] after the
//!    `deliver_sm_resp`. Reports (`IMTC`) and other messages get nothing back from the
//!    stub by protocol, so their wait ends at the `deliver_sm_resp`.
//!
//! Every `submit_sm` received up to that point (also a late one belonging to an
//! earlier message) is returned with this reply, so it enters the SMSC at the current
//! virtual time.
//!
//! # What this costs in determinism
//!
//! The stub runs on the wall clock and its own threads, so with an external stub a run
//! is no longer a pure function of the seed: a push that takes longer than `push_wait`
//! reaches the SMSC with a later MO's reply (at a later virtual time) or not at all; a
//! `deliver_sm_resp` later than `resp_wait` turns into an SMSC retry; the arrows carry
//! real-time durations. Everything the world itself decides (card, handsets, SMSC
//! faults) stays seeded.

use std::collections::{HashMap, VecDeque};
use std::io::{self, Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use handset_sim::network::smpp::frame::{self, Frame};
use handset_sim::network::smpp::{self, c_str, submit_payload};
use handset_sim::network::{EsmeDelivery, ShortMessage};
use handset_sim::provisioning::Reassembler;
use rusmpp::pdus::{BindTransceiverResp, DeliverSm, SubmitSmResp};
use rusmpp::values::InterfaceVersion;
use rusmpp::{Command, CommandId, CommandStatus, Pdu};

use super::event::{ArrowSpec, Lane};
use super::server::{LedgerLine, ProvisioningServer, ServerReply, ServerVerdict, Treatment};

/// `system_id` the external stub must bind with (`stub-config` writes it).
pub const BRIDGE_SYSTEM_ID: &str = "imeitrack-stub";
/// Password the external stub must bind with (`stub-config` writes it). A simulator
/// credential, not a secret.
pub const BRIDGE_PASSWORD: &str = "world";

/// How often a blocked reader thread looks at the stop flag.
const READ_POLL: Duration = Duration::from_millis(100);
/// How often the acceptor looks for a connection or the stop flag.
const ACCEPT_POLL: Duration = Duration::from_millis(10);
/// How often the push wait looks at the stub's store.
const STORE_POLL: Duration = Duration::from_millis(5);

/// Settings of an [`SmppBridge`].
#[derive(Debug, Clone)]
pub struct BridgeConfig {
    /// `system_id` an ESME must bind with.
    pub system_id: String,
    /// Its password.
    pub password: String,
    /// How long [`SmppBridge::start`] waits for the ESME to bind.
    pub bind_wait: Duration,
    /// How long a `deliver_sm` may wait for its `deliver_sm_resp`.
    pub resp_wait: Duration,
    /// How long after an accepted registration's `deliver_sm_resp` the push may take.
    pub push_wait: Duration,
    /// The stub's SQLite store (read only): verdicts, ledger, and the early end of the
    /// push wait. `None` = verdicts and ledger are not observable.
    pub store: Option<PathBuf>,
}

impl Default for BridgeConfig {
    fn default() -> Self {
        BridgeConfig {
            system_id: BRIDGE_SYSTEM_ID.into(),
            password: BRIDGE_PASSWORD.into(),
            bind_wait: Duration::from_secs(30),
            resp_wait: Duration::from_secs(10),
            push_wait: Duration::from_secs(5),
            store: None,
        }
    }
}

/// Why the bridge could not start.
#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    /// The listening socket.
    #[error("SMPP listener: {0}")]
    Io(#[from] io::Error),
    /// Nobody bound in time.
    #[error(
        "no ESME bound to the world's SMSC at {addr} within {secs} s{last}: start `provisioning-stub serve --config DIR/stub.toml` (a configuration written by `imeitrack stub-config`) so it connects there"
    )]
    NoBind {
        /// Where the world listened.
        addr: SocketAddr,
        /// How long it waited.
        secs: u64,
        /// The last refused bind, if any (`; last attempt: …`).
        last: String,
    },
    /// The stub's store.
    #[error("stub store {path}: {message}")]
    Store {
        /// File.
        path: String,
        /// What went wrong.
        message: String,
    },
}

/// State shared by the world thread, the acceptor and the reader threads.
#[derive(Default)]
struct Inner {
    /// Write half of the bound session, with its connection number.
    writer: Option<(u64, TcpStream)>,
    /// Peer of the bound session.
    peer: Option<SocketAddr>,
    /// Binds accepted so far.
    binds: u32,
    /// Last refused bind or session error, for messages.
    last_error: Option<String>,
    /// deliver_sm sequence number → response status.
    responses: HashMap<u32, CommandStatus>,
    /// submit_sm received, in order, not yet handed to the world.
    submits: VecDeque<ShortMessage>,
    /// submit_sm message ids handed out.
    next_message_id: u64,
}

struct Shared {
    inner: Mutex<Inner>,
    changed: Condvar,
    stop: AtomicBool,
    config: BridgeConfig,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits on the condition variable until `deadline` (returns the guard either way).
    fn wait_until<'a>(
        &self,
        guard: MutexGuard<'a, Inner>,
        deadline: Instant,
    ) -> MutexGuard<'a, Inner> {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.changed.wait_timeout(guard, left) {
            Ok((g, _)) => g,
            Err(p) => p.into_inner().0,
        }
    }
}

/// Counters of a bridge, readable while the world owns it ([`SmppBridge::stats`]).
#[derive(Debug, Default)]
pub struct BridgeStats {
    /// MO messages forwarded as `deliver_sm`.
    pub forwarded: AtomicU64,
    /// Of which acknowledged with `ESME_ROK`.
    pub acknowledged: AtomicU64,
    /// Complete pushes received.
    pub pushes: AtomicU64,
    /// Waits that ended at `push_wait` without a complete push.
    pub push_timeouts: AtomicU64,
    /// Real time spent inside [`ProvisioningServer::on_mo`], nanoseconds.
    pub wait_ns: AtomicU64,
}

impl BridgeStats {
    /// Real time spent waiting for the stub so far.
    pub fn wait(&self) -> Duration {
        Duration::from_nanos(self.wait_ns.load(Ordering::Relaxed))
    }
}

/// What the bridge learnt about one registration it forwarded.
#[derive(Debug, Clone, Default)]
struct Forwarded {
    t_ms: u64,
    /// Device key carried by the push that answered it.
    device_key: Option<Vec<u8>>,
}

/// The world's SMPP face for an external stub (see the module docs).
pub struct SmppBridge {
    shared: Arc<Shared>,
    addr: SocketAddr,
    acceptor: Option<JoinHandle<()>>,
    next_seq: u32,
    store: Option<StoreReader>,
    /// Registration bytes → what happened to them (latest forward wins).
    forwarded: HashMap<Vec<u8>, Forwarded>,
    reassembler: Reassembler,
    started: Instant,
    stats: Arc<BridgeStats>,
}

impl std::fmt::Debug for SmppBridge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmppBridge")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl SmppBridge {
    /// Listens on `listener` (already bound) and waits up to
    /// [`BridgeConfig::bind_wait`] for an ESME to bind with the configured credentials.
    pub fn start(listener: TcpListener, config: BridgeConfig) -> Result<Self, BridgeError> {
        let addr = listener.local_addr()?;
        listener.set_nonblocking(true)?;
        let store = match &config.store {
            Some(p) => Some(StoreReader::open(p)?),
            None => None,
        };
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner::default()),
            changed: Condvar::new(),
            stop: AtomicBool::new(false),
            config,
        });
        let acceptor = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("smpp-bridge-accept".into())
                .spawn(move || accept_loop(&listener, &shared))?
        };
        let mut bridge = SmppBridge {
            shared,
            addr,
            acceptor: Some(acceptor),
            next_seq: 1,
            store,
            forwarded: HashMap::new(),
            // The stub's pushes come whole within a reply; a long timeout only bounds
            // memory for a push that never completes.
            reassembler: Reassembler::new(600_000),
            started: Instant::now(),
            stats: Arc::default(),
        };
        if !bridge.wait_bound(bridge.shared.config.bind_wait) {
            let last = bridge
                .shared
                .lock()
                .last_error
                .clone()
                .map(|e| format!("; last attempt: {e}"))
                .unwrap_or_default();
            let secs = bridge.shared.config.bind_wait.as_secs();
            bridge.shutdown();
            return Err(BridgeError::NoBind { addr, secs, last });
        }
        Ok(bridge)
    }

    /// The address the world listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Peer address of the bound ESME, if one is bound.
    pub fn peer(&self) -> Option<SocketAddr> {
        let g = self.shared.lock();
        g.writer.as_ref().and(g.peer)
    }

    /// The bridge's counters (a handle that stays valid after the world took the bridge).
    pub fn stats(&self) -> Arc<BridgeStats> {
        self.stats.clone()
    }

    /// Whether the stub's store is being read (verdicts and ledger observable).
    pub fn observes_store(&self) -> bool {
        self.store.is_some()
    }

    fn wait_bound(&self, wait: Duration) -> bool {
        let deadline = Instant::now() + wait;
        let mut g = self.shared.lock();
        loop {
            if g.writer.is_some() {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            g = self.shared.wait_until(g, deadline);
        }
    }

    fn seq(&mut self) -> u32 {
        let s = self.next_seq;
        self.next_seq = if s >= 0x7FFF_FFFF { 1 } else { s + 1 };
        s
    }

    /// Sends `cmd` on the bound session; `Err` says why it could not.
    fn send(&self, cmd: &Command) -> Result<(), String> {
        let mut buf = BytesMut::new();
        frame::emit(cmd, &mut buf);
        let mut g = self.shared.lock();
        let Some((_, w)) = g.writer.as_mut() else {
            return Err("no ESME bound".into());
        };
        w.write_all(&buf).map_err(|e| e.to_string())
    }

    /// Waits for the response to `seq`.
    fn await_resp(&self, seq: u32, wait: Duration) -> Option<CommandStatus> {
        let deadline = Instant::now() + wait;
        let mut g = self.shared.lock();
        loop {
            if let Some(s) = g.responses.remove(&seq) {
                return Some(s);
            }
            if Instant::now() >= deadline || g.writer.is_none() {
                return None;
            }
            g = self.shared.wait_until(g, deadline);
        }
    }

    /// Takes every queued submit_sm, feeding the reassembler; returns whether a push to
    /// `to` completed, and the device key it carried.
    fn take_submits(&mut self, to: &str, out: &mut Vec<ShortMessage>) -> (bool, Option<Vec<u8>>) {
        let queued: Vec<ShortMessage> = self.shared.lock().submits.drain(..).collect();
        let now = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let mut done = false;
        let mut key = None;
        for sm in queued {
            // The reassembler keys partials by originator; the push's destination is
            // what ties it to the registration.
            let mut probe = sm.clone();
            probe.source = format!("{}>{}", sm.source, sm.destination);
            if let Ok(Some(push)) = self.reassembler.push(&probe, now)
                && sm.destination == to
            {
                done = true;
                key = device_key_of(&push.data).or(key);
            }
            out.push(sm);
        }
        (done, key)
    }

    fn shutdown(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        let seq = self.seq();
        let unbind = Command::new(CommandStatus::EsmeRok, seq, Pdu::Unbind);
        let _ = self.send(&unbind);
        if let Some((_, w)) = self.shared.lock().writer.take() {
            let _ = w.shutdown(std::net::Shutdown::Both);
        }
        self.shared.changed.notify_all();
        if let Some(a) = self.acceptor.take() {
            let _ = a.join();
        }
    }

    fn ms_since(t: Instant) -> String {
        format!("{:.1} ms", t.elapsed().as_secs_f64() * 1000.0)
    }
}

impl Drop for SmppBridge {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The device key in a complete OMA CP push (WSP push → WBXML → VENDORCONFIG DEVKEY).
fn device_key_of(data: &[u8]) -> Option<Vec<u8>> {
    let pdu = applet::wire::wsp::PushPdu::parse(data).ok()?;
    let doc = applet::wire::omacp::ProvisioningDoc::parse(pdu.body).ok()?;
    let dk = doc.device_key()?;
    let mut buf = [0u8; 512];
    let n = dk.write_key(&mut buf).ok()?;
    Some(buf.get(..n)?.to_vec())
}

fn is_registration(sm: &ShortMessage) -> bool {
    sm.user_data.starts_with(&applet::wire::registration::MAGIC)
}

impl SmppBridge {
    /// Forwards one MO and collects the reply (see the module docs).
    fn forward(&mut self, sm: &ShortMessage, now_ms: u64, t0: Instant) -> ServerReply {
        let mut reply = ServerReply::default();
        if self.peer().is_none() && !self.wait_bound(self.shared.config.bind_wait) {
            reply.arrows.push(
                ArrowSpec::new(Lane::Network, Lane::Network, "external stub not bound")
                    .line(format!(
                        "no ESME bound at {} within {} s: temporary error, the SMSC keeps the message",
                        self.addr,
                        self.shared.config.bind_wait.as_secs()
                    )),
            );
            return reply;
        }
        let seq = self.seq();
        let cmd = Command::new(CommandStatus::EsmeRok, seq, deliver_sm(sm));
        if let Err(e) = self.send(&cmd) {
            reply.arrows.push(
                ArrowSpec::new(Lane::Network, Lane::Network, "deliver_sm not sent")
                    .line(format!("to the external stub: {e}")),
            );
            return reply;
        }
        self.stats.forwarded.fetch_add(1, Ordering::Relaxed);
        let registration = is_registration(sm);
        if registration {
            self.forwarded.insert(
                sm.user_data.clone(),
                Forwarded {
                    t_ms: now_ms,
                    device_key: None,
                },
            );
        }
        let resp_wait = self.shared.config.resp_wait;
        let status = self.await_resp(seq, resp_wait);
        let peer = self
            .peer()
            .map_or_else(|| "?".to_owned(), |p| p.to_string());
        match status {
            Some(CommandStatus::EsmeRok) => {
                reply.accepted = true;
                self.stats.acknowledged.fetch_add(1, Ordering::Relaxed);
                reply.arrows.push(
                    ArrowSpec::new(Lane::Stub, Lane::Network, "deliver_sm_resp (ESME_ROK)")
                        .line(format!("external stub {peer}, sequence {seq}"))
                        .line(format!("real time {}", Self::ms_since(t0))),
                );
            }
            Some(s) => reply.arrows.push(
                ArrowSpec::new(
                    Lane::Stub,
                    Lane::Network,
                    format!("deliver_sm_resp {:#010x}", u32::from(s)),
                )
                .line(format!("{s:?}: temporary error, the SMSC retries"))
                .line(format!("real time {}", Self::ms_since(t0))),
            ),
            None => reply.arrows.push(
                ArrowSpec::new(Lane::Network, Lane::Network, "no deliver_sm_resp").line(format!(
                    "none within {} ms (sequence {seq}): temporary error, the SMSC retries",
                    resp_wait.as_millis()
                )),
            ),
        }
        if !(registration && reply.accepted) {
            self.take_submits(&sm.source, &mut reply.mt);
            return reply;
        }
        // The registration is stored; wait for its push (see the module docs).
        let mut registration_id = None;
        if let Some(store) = &mut self.store {
            match store.registration(&sm.user_data) {
                Ok(Some((id, outcome, reason))) => {
                    let mut a = ArrowSpec::new(
                        Lane::Stub,
                        Lane::Stub,
                        format!("stub store: registration {outcome}"),
                    )
                    .line(format!("registrations.id {id}"));
                    if let Some(r) = &reason {
                        a = a.line(r.clone());
                    }
                    reply.arrows.push(a);
                    if outcome != "accepted" {
                        self.take_submits(&sm.source, &mut reply.mt);
                        return reply;
                    }
                    registration_id = Some(id);
                }
                Ok(None) => reply.arrows.push(ArrowSpec::new(
                    Lane::Stub,
                    Lane::Stub,
                    "stub store: registration not found (is --stub-config the stub's?)",
                )),
                Err(e) => reply
                    .arrows
                    .push(ArrowSpec::new(Lane::Stub, Lane::Stub, "stub store unreadable").line(e)),
            }
        }
        let deadline = Instant::now() + self.shared.config.push_wait;
        let mut next_store_check = Instant::now();
        let mut segments = 0usize;
        loop {
            let before = reply.mt.len();
            let (done, key) = self.take_submits(&sm.source, &mut reply.mt);
            segments += reply.mt.len() - before;
            if done {
                self.stats.pushes.fetch_add(1, Ordering::Relaxed);
                if let Some(f) = self.forwarded.get_mut(&sm.user_data) {
                    f.device_key = key;
                }
                reply.arrows.push(
                    ArrowSpec::new(Lane::Stub, Lane::Network, "push complete")
                        .line(format!("{segments} submit_sm over TCP"))
                        .line(format!("real time {}", Self::ms_since(t0))),
                );
                break;
            }
            let now = Instant::now();
            if now >= deadline {
                self.stats.push_timeouts.fetch_add(1, Ordering::Relaxed);
                reply.arrows.push(
                    ArrowSpec::new(Lane::Network, Lane::Network, "push wait over").line(format!(
                        "no complete push within {} ms of the ack ({segments} segments so far)",
                        self.shared.config.push_wait.as_millis()
                    )),
                );
                break;
            }
            if let (Some(id), Some(store)) = (registration_id, &mut self.store)
                && now >= next_store_check
            {
                next_store_check = now + STORE_POLL;
                if let Ok(Some(f)) = store.failure(id) {
                    reply.arrows.push(
                        ArrowSpec::new(Lane::Stub, Lane::Stub, "stub store: provisioning stopped")
                            .line(f),
                    );
                    self.take_submits(&sm.source, &mut reply.mt);
                    break;
                }
            }
            let g = self.shared.lock();
            if g.submits.is_empty() {
                let until = deadline.min(Instant::now() + STORE_POLL);
                drop(self.shared.wait_until(g, until));
            }
        }
        reply
    }
}

impl ProvisioningServer for SmppBridge {
    fn on_mo(&mut self, sm: &ShortMessage, now_ms: u64) -> ServerReply {
        let t0 = Instant::now();
        let reply = self.forward(sm, now_ms, t0);
        let ns = u64::try_from(t0.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.stats.wait_ns.fetch_add(ns, Ordering::Relaxed);
        reply
    }

    fn verdicts(&self) -> Vec<ServerVerdict> {
        let Some(store) = &self.store else {
            return Vec::new();
        };
        store
            .verdicts()
            .unwrap_or_default()
            .into_iter()
            .map(|mut v| {
                let f = self.forwarded.get(&v.raw);
                v.verdict.t_ms = f.map_or(0, |f| f.t_ms);
                if let (Ok(t), Some(k)) =
                    (&mut v.verdict.outcome, f.and_then(|f| f.device_key.clone()))
                {
                    t.device_key = Some(k);
                }
                v.verdict
            })
            .collect()
    }

    fn ledger(&self) -> Vec<LedgerLine> {
        self.store
            .as_ref()
            .and_then(|s| s.ledger().ok())
            .unwrap_or_default()
    }
}

// ------------------------------------------------------------------ SMPP side

/// The `deliver_sm` for an MO message: the SMSC simulator's own encoder (SMPP 3.4 §4.6.1).
fn deliver_sm(sm: &ShortMessage) -> DeliverSm {
    smpp::deliver_sm(&EsmeDelivery {
        id: 0,
        sm: sm.clone(),
        esm_class: sm.udhi_bits(),
        receipt: None,
    })
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    let mut conn_no = 0u64;
    let mut readers = Vec::new();
    while !shared.stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, peer)) => {
                conn_no += 1;
                let shared = shared.clone();
                let id = conn_no;
                if let Ok(h) = std::thread::Builder::new()
                    .name(format!("smpp-bridge-{id}"))
                    .spawn(move || {
                        if let Err(e) = session(id, stream, peer, &shared) {
                            shared.lock().last_error = Some(format!("session {peer}: {e}"));
                        }
                        let mut g = shared.lock();
                        if g.writer.as_ref().is_some_and(|(n, _)| *n == id) {
                            g.writer = None;
                        }
                        drop(g);
                        shared.changed.notify_all();
                    })
                {
                    readers.push(h);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::sleep(ACCEPT_POLL),
            Err(_) => std::thread::sleep(ACCEPT_POLL),
        }
    }
    for h in readers {
        let _ = h.join();
    }
}

/// One ESME connection: reads PDUs until the peer closes or the bridge stops.
fn session(id: u64, stream: TcpStream, peer: SocketAddr, shared: &Shared) -> io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(READ_POLL))?;
    let mut writer = stream.try_clone()?;
    let mut reader = stream;
    let mut buf = BytesMut::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    let mut bound = false;
    loop {
        if shared.stop.load(Ordering::SeqCst) {
            return Ok(());
        }
        match reader.read(&mut chunk) {
            Ok(0) => return Ok(()),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e)
                if e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::TimedOut =>
            {
                continue;
            }
            Err(e) => return Err(e),
        }
        loop {
            let f = match frame::parse(&mut buf) {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) => {
                    let mut out = BytesMut::new();
                    frame::emit_header_only(
                        CommandId::GenericNack,
                        CommandStatus::EsmeRinvcmdlen,
                        e.sequence_number,
                        &mut out,
                    );
                    let _ = write_pdu(shared, id, &mut writer, bound, &out);
                    return Err(io::Error::new(io::ErrorKind::InvalidData, e.to_string()));
                }
            };
            let cmd = match f {
                Frame::Command(c) => c,
                Frame::Malformed {
                    sequence_number,
                    status,
                    ..
                } => {
                    let mut out = BytesMut::new();
                    frame::emit_header_only(
                        CommandId::GenericNack,
                        status,
                        sequence_number,
                        &mut out,
                    );
                    write_pdu(shared, id, &mut writer, bound, &out)?;
                    continue;
                }
            };
            match on_command(id, peer, &cmd, shared, &mut writer, &mut bound)? {
                Flow::Continue => {}
                Flow::Close => return Ok(()),
            }
        }
    }
}

enum Flow {
    Continue,
    Close,
}

/// Writes through the shared writer once bound (so PDUs never interleave with the
/// world's `deliver_sm`), else on this connection's own handle.
fn write_pdu(
    shared: &Shared,
    id: u64,
    own: &mut TcpStream,
    bound: bool,
    bytes: &[u8],
) -> io::Result<()> {
    if bound {
        let mut g = shared.lock();
        if let Some((n, w)) = g.writer.as_mut()
            && *n == id
        {
            return w.write_all(bytes);
        }
    }
    own.write_all(bytes)
}

fn on_command(
    id: u64,
    peer: SocketAddr,
    cmd: &Command,
    shared: &Shared,
    writer: &mut TcpStream,
    bound: &mut bool,
) -> io::Result<Flow> {
    let seq = cmd.sequence_number();
    let mut out = BytesMut::new();
    let header = |out: &mut BytesMut, cid: CommandId, st: CommandStatus| {
        frame::emit_header_only(cid, st, seq, out);
    };
    let mut flow = Flow::Continue;
    match cmd.pdu() {
        Some(Pdu::BindTransceiver(b)) => {
            let (sid, pw) = (b.system_id.as_str(), b.password.as_str());
            if *bound {
                header(
                    &mut out,
                    CommandId::BindTransceiverResp,
                    CommandStatus::EsmeRalybnd,
                );
            } else if sid != shared.config.system_id || pw != shared.config.password {
                let status = if sid == shared.config.system_id {
                    CommandStatus::EsmeRinvpaswd
                } else {
                    CommandStatus::EsmeRinvsysid
                };
                shared.lock().last_error = Some(format!(
                    "{peer} bound as system_id {sid:?}: refused ({status:?}); expected {:?} with the password `stub-config` writes",
                    shared.config.system_id
                ));
                header(&mut out, CommandId::BindTransceiverResp, status);
            } else {
                let v =
                    (u8::from(b.interface_version) >= 0x34).then_some(InterfaceVersion::Smpp3_4);
                let resp: Pdu = BindTransceiverResp::new(c_str("imeitrack-world"), v).into();
                frame::emit(&Command::new(CommandStatus::EsmeRok, seq, resp), &mut out);
                // Respond first on our own handle, then publish the session.
                writer.write_all(&out)?;
                out.clear();
                let w = writer.try_clone()?;
                let mut g = shared.lock();
                if let Some((_, old)) = g.writer.take() {
                    let _ = old.shutdown(std::net::Shutdown::Both);
                }
                g.writer = Some((id, w));
                g.peer = Some(peer);
                g.binds += 1;
                drop(g);
                *bound = true;
                shared.changed.notify_all();
            }
        }
        Some(Pdu::BindTransmitter(_)) | Some(Pdu::BindReceiver(_)) => {
            shared.lock().last_error = Some(format!(
                "{peer} bound as transmitter or receiver: the world needs one transceiver session"
            ));
            let cid = if matches!(cmd.pdu(), Some(Pdu::BindTransmitter(_))) {
                CommandId::BindTransmitterResp
            } else {
                CommandId::BindReceiverResp
            };
            header(&mut out, cid, CommandStatus::EsmeRbindfail);
        }
        Some(Pdu::SubmitSm(s)) if *bound => {
            match ShortMessage::from_smpp(
                s.source_addr.as_str(),
                s.destination_addr.as_str(),
                u8::from(s.esm_class),
                s.protocol_id,
                u8::from(s.data_coding),
                submit_payload(s),
            ) {
                Ok(sm) => {
                    let mut g = shared.lock();
                    g.next_message_id += 1;
                    let mid = format!("X{:08X}", g.next_message_id);
                    // Queue before answering: once the stub sees the resp (and records its
                    // delivery), the world can already see the segment.
                    g.submits.push_back(sm);
                    drop(g);
                    shared.changed.notify_all();
                    let resp = SubmitSmResp::new(c_str(&mid), Vec::new());
                    frame::emit(&Command::new(CommandStatus::EsmeRok, seq, resp), &mut out);
                }
                Err(_) => header(
                    &mut out,
                    CommandId::SubmitSmResp,
                    CommandStatus::EsmeRinvmsglen,
                ),
            }
        }
        Some(Pdu::EnquireLink) => {
            frame::emit(
                &Command::new(CommandStatus::EsmeRok, seq, Pdu::EnquireLinkResp),
                &mut out,
            );
        }
        Some(Pdu::Unbind) => {
            frame::emit(
                &Command::new(CommandStatus::EsmeRok, seq, Pdu::UnbindResp),
                &mut out,
            );
            flow = Flow::Close;
        }
        Some(Pdu::UnbindResp) => flow = Flow::Close,
        _ if cmd.id() == CommandId::DeliverSmResp || cmd.id() == CommandId::GenericNack => {
            let status =
                if cmd.id() == CommandId::GenericNack && cmd.status() == CommandStatus::EsmeRok {
                    CommandStatus::EsmeRsyserr
                } else {
                    cmd.status()
                };
            shared.lock().responses.insert(seq, status);
            shared.changed.notify_all();
        }
        _ if cmd.id().is_response() => {}
        _ if !*bound => header(
            &mut out,
            CommandId::GenericNack,
            CommandStatus::EsmeRinvbndsts,
        ),
        _ => header(
            &mut out,
            CommandId::GenericNack,
            CommandStatus::EsmeRinvcmdid,
        ),
    }
    if !out.is_empty() {
        write_pdu(shared, id, writer, *bound, &out)?;
    }
    Ok(flow)
}

// --------------------------------------------------------------- stub's store

/// A verdict plus the registration bytes it is about.
struct RawVerdict {
    raw: Vec<u8>,
    verdict: ServerVerdict,
}

/// Read-only queries on the stub's SQLite store (schema of `docs/stub.md`, "Store").
struct StoreReader {
    conn: rusqlite::Connection,
    path: String,
    /// Highest `registrations.id` looked at by [`StoreReader::registration`].
    seen: i64,
}

impl StoreReader {
    fn open(path: &Path) -> Result<Self, BridgeError> {
        let err = |e: rusqlite::Error| BridgeError::Store {
            path: path.display().to_string(),
            message: e.to_string(),
        };
        if !path.exists() {
            return Err(BridgeError::Store {
                path: path.display().to_string(),
                message: "no such file (run `imeitrack stub-config`, or the stub once)".into(),
            });
        }
        let conn = rusqlite::Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(err)?;
        conn.busy_timeout(Duration::from_secs(5)).map_err(err)?;
        let seen: i64 = conn
            .query_row("SELECT COALESCE(MAX(id), 0) FROM registrations", [], |r| {
                r.get(0)
            })
            .map_err(err)?;
        Ok(StoreReader {
            conn,
            path: path.display().to_string(),
            seen,
        })
    }

    /// The newest row for these registration bytes among those stored since the last
    /// call: `(id, outcome, reason)`.
    fn registration(
        &mut self,
        raw: &[u8],
    ) -> Result<Option<(i64, String, Option<String>)>, String> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, raw, outcome, reason FROM registrations WHERE id > ?1 ORDER BY id",
            )
            .map_err(|e| e.to_string())?;
        let rows = stmt
            .query_map([self.seen], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Vec<u8>>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<String>>(3)?,
                ))
            })
            .map_err(|e| e.to_string())?;
        let mut found = None;
        for row in rows {
            let (id, r, outcome, reason) = row.map_err(|e| e.to_string())?;
            self.seen = self.seen.max(id);
            if r == raw {
                found = Some((id, outcome, reason));
            }
        }
        Ok(found)
    }

    /// The first provisioning failure of a registration (`stage: reason`).
    fn failure(&mut self, id: i64) -> Result<Option<String>, String> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT stage, reason FROM provisioning_failures WHERE registration_id = ?1 ORDER BY id LIMIT 1",
            )
            .map_err(|e| e.to_string())?;
        let mut rows = stmt.query([id]).map_err(|e| e.to_string())?;
        match rows.next().map_err(|e| e.to_string())? {
            Some(r) => {
                let stage: String = r.get(0).map_err(|e| e.to_string())?;
                let reason: String = r.get(1).map_err(|e| e.to_string())?;
                Ok(Some(format!("{stage}: {reason}")))
            }
            None => Ok(None),
        }
    }

    /// Every judged registration, in arrival order, in the world's vocabulary
    /// (`engine::card_obs` reads these reason words).
    fn verdicts(&self) -> Result<Vec<RawVerdict>, String> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT r.raw, r.imei, r.outcome, r.reason,
                        (SELECT k.source FROM key_issuances k WHERE k.registration_id = r.id),
                        (SELECT f.stage FROM provisioning_failures f WHERE f.registration_id = r.id
                         ORDER BY f.id LIMIT 1)
                   FROM registrations r ORDER BY r.id",
            )
            .map_err(|e| e.to_string())?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, Vec<u8>>(0)?,
                    r.get::<_, Option<String>>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, Option<String>>(4)?,
                    r.get::<_, Option<String>>(5)?,
                ))
            })
            .map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        for row in rows {
            let (raw, imei, outcome, reason, source, failed) = row.map_err(|e| e.to_string())?;
            let outcome = match outcome.as_str() {
                // A byte-identical repeat of an accepted registration: the stub
                // acknowledges it and does nothing (an SMSC redelivery or a replay, it
                // cannot tell). The embedded stub judges the same repeat "replayed".
                "duplicate" | "replay" => Err("replayed".to_owned()),
                "rejected" => Err(reject_word(reason.as_deref().unwrap_or(""))),
                _ => match (source, failed.as_deref()) {
                    (_, Some("policy")) => Err("unknown_tac".to_owned()),
                    (Some(s), _) => Ok(Treatment {
                        depreciated: true,
                        key_source: Some(s),
                        device_key: None,
                    }),
                    (None, Some("key")) => Ok(Treatment {
                        depreciated: true,
                        key_source: None,
                        device_key: None,
                    }),
                    (None, _) => Ok(Treatment {
                        depreciated: false,
                        key_source: None,
                        device_key: None,
                    }),
                },
            };
            let iccid = raw
                .get(8..18)
                .map(provisioning_stub::pipeline::iccid_digits)
                .and_then(|d| provisioning_stub::inventory::Iccid::parse(&d).ok())
                .map(|i| i.as_str().to_owned());
            out.push(RawVerdict {
                raw,
                verdict: ServerVerdict {
                    t_ms: 0,
                    iccid,
                    imei,
                    outcome,
                },
            });
        }
        Ok(out)
    }

    fn ledger(&self) -> Result<Vec<LedgerLine>, String> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT kind, party, amount_minor, currency FROM ledger ORDER BY id")
            .map_err(|e| e.to_string())?;
        let rows = stmt
            .query_map([], |r| {
                Ok(LedgerLine {
                    kind: r.get(0)?,
                    party: r.get(1)?,
                    amount_minor: r.get(2)?,
                    currency: r.get(3)?,
                })
            })
            .map_err(|e| e.to_string())?;
        rows.collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("{}: {e}", self.path))
    }
}

/// The stub's stored rejection reason (`docs/stub.md`, "What it does with each
/// `deliver_sm`") as the engine's reason word.
fn reject_word(reason: &str) -> String {
    let r = reason.to_ascii_lowercase();
    if r.contains("bad mac") {
        "bad_mac"
    } else if r.contains("unknown card") {
        "unknown_card"
    } else if r.contains("check digit") {
        "invalid_imei"
    } else {
        "malformed"
    }
    .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reject_reasons_map_to_the_engine_words() {
        assert_eq!(reject_word("bad MAC"), "bad_mac");
        assert_eq!(reject_word("unknown card"), "unknown_card");
        assert_eq!(
            reject_word("IMEI 4901542032375…9: check digit wrong (Luhn digit is 8)"),
            "invalid_imei"
        );
        assert_eq!(reject_word("malformed registration: short"), "malformed");
    }

    use provisioning_stub::smpp::{
        DeliverHandler, DeliveredSm, EsmeConfig, EsmeHandle, HandlerError, SubmitRequest,
    };

    const STUB: &str = "447700900123";
    const PHONE: &str = "33750000011";

    /// A scripted ESME on the stub's own SMPP client: `IMTR…` is stored and answered
    /// with a standard OMA CP push; `FAIL` is refused (temporary error); anything else is
    /// acknowledged.
    struct Scripted {
        esme: std::sync::OnceLock<EsmeHandle>,
    }

    impl DeliverHandler for Scripted {
        async fn on_deliver_sm(&self, sm: DeliveredSm) -> Result<(), HandlerError> {
            if sm.payload.starts_with(b"FAIL") {
                return Err(HandlerError("scripted".into()));
            }
            if sm.payload.starts_with(&applet::wire::registration::MAGIC)
                && let Some(esme) = self.esme.get().cloned()
            {
                let to = sm.source_addr.clone();
                tokio::spawn(async move {
                    for seg in push_segments() {
                        let _ = esme
                            .submit(&SubmitRequest::binary_with_udh(STUB, to.clone(), seg))
                            .await;
                    }
                });
            }
            Ok(())
        }
    }

    fn push_segments() -> Vec<Vec<u8>> {
        use provisioning_stub::cp::{self, CpSettings, Security};
        let settings = CpSettings {
            name: "imeitrack".into(),
            apn: provisioning_stub::keys::ApnSettings {
                apn: "internet.bluesky".into(),
                username: None,
                password: None,
                mmsc: Some("http://mms.globex.example/".into()),
                proxy: None,
                proxy_port: None,
            },
        };
        let doc = cp::document(&settings, None).unwrap();
        let push = cp::push(&doc, &Security::NetwPin, "208260000000011").unwrap();
        cp::segments(&push, 7).unwrap()
    }

    /// A bridge with the scripted ESME bound to it (password `password`).
    fn scripted(
        password: &str,
        bind_wait: Duration,
    ) -> (tokio::runtime::Runtime, Result<SmppBridge, BridgeError>) {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let handler = Arc::new(Scripted {
            esme: std::sync::OnceLock::new(),
        });
        let mut c = EsmeConfig::new(addr.to_string(), BRIDGE_SYSTEM_ID, password);
        c.reconnect_min = Duration::from_millis(50);
        c.reconnect_max = Duration::from_millis(100);
        let h = handler.clone();
        let esme = rt.block_on(async move { provisioning_stub::smpp::start(c, h).0 });
        let _ = handler.esme.set(esme);
        let config = BridgeConfig {
            bind_wait,
            push_wait: Duration::from_secs(2),
            ..BridgeConfig::default()
        };
        (rt, SmppBridge::start(l, config))
    }

    fn mo(data: &[u8]) -> ShortMessage {
        ShortMessage::new(PHONE, STUB, 0, 0x04, data.to_vec())
    }

    #[test]
    fn a_registration_comes_back_with_its_whole_push() {
        let (_rt, bridge) = scripted(BRIDGE_PASSWORD, Duration::from_secs(5));
        let mut bridge = bridge.unwrap();
        assert!(bridge.peer().is_some());
        let mut reg = applet::wire::registration::MAGIC.to_vec();
        reg.extend_from_slice(&[1, 0x12, 1, 0]);
        let reply = bridge.on_mo(&mo(&reg), 1234);
        assert!(reply.accepted, "{:?}", reply.arrows);
        let segments = push_segments();
        assert_eq!(reply.mt.len(), segments.len(), "{:?}", reply.arrows);
        assert!(segments.len() > 1, "a concatenated push");
        for (m, seg) in reply.mt.iter().zip(&segments) {
            assert_eq!(m.destination, PHONE);
            assert_eq!(m.source, STUB);
            assert_eq!(m.smpp_short_message(), *seg);
        }
        assert!(
            reply.arrows.iter().any(|a| a.label == "push complete"),
            "{:?}",
            reply.arrows
        );
        // A report is done at its deliver_sm_resp: nothing comes back.
        let reply = bridge.on_mo(&mo(b"IMTC\x01"), 1300);
        assert!(reply.accepted && reply.mt.is_empty(), "{:?}", reply.arrows);
    }

    #[test]
    fn a_refused_deliver_sm_is_a_temporary_error() {
        let (_rt, bridge) = scripted(BRIDGE_PASSWORD, Duration::from_secs(5));
        let mut bridge = bridge.unwrap();
        let reply = bridge.on_mo(&mo(b"FAIL"), 0);
        assert!(!reply.accepted);
        assert!(
            reply
                .arrows
                .iter()
                .any(|a| a.label.starts_with("deliver_sm_resp 0x00000064")),
            "{:?}",
            reply.arrows
        );
    }

    #[test]
    fn a_wrong_password_is_refused_and_named() {
        let (_rt, bridge) = scripted("nope", Duration::from_millis(500));
        let e = bridge.unwrap_err().to_string();
        assert!(e.contains("refused"), "{e}");
        assert!(e.contains(BRIDGE_SYSTEM_ID), "{e}");
    }

    #[test]
    fn nobody_binding_is_a_clear_error() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let config = BridgeConfig {
            bind_wait: Duration::from_millis(50),
            ..BridgeConfig::default()
        };
        let e = SmppBridge::start(l, config).unwrap_err().to_string();
        assert!(e.contains("no ESME bound"), "{e}");
        assert!(e.contains("provisioning-stub serve"), "{e}");
    }

    #[test]
    fn a_missing_store_is_named() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let config = BridgeConfig {
            bind_wait: Duration::from_millis(50),
            store: Some(PathBuf::from("/nonexistent/stub.db")),
            ..BridgeConfig::default()
        };
        let e = SmppBridge::start(l, config).unwrap_err().to_string();
        assert!(e.contains("/nonexistent/stub.db"), "{e}");
    }
}
