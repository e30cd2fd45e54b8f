//! The SMS centre core: a pure, synchronous state machine.
//!
//! No I/O, no tokio, no wall clock: every call takes `now` (virtual milliseconds) and
//! every random decision draws from the seeded [`Rng`]. The SMPP server
//! ([`super::smpp`]) and the handset side drive it; a scenario runner can drive it
//! directly with virtual time and get the same result for the same seed.
//!
//! Paths:
//! * **MO** (handset → SMSC, TS 24.011 RP-DATA): [`Smsc::submit_mo`] answers
//!   RP-ACK / RP-ERROR / nothing (network unable), with faults applied. Accepted
//!   messages are routed to the ESME whose address range matches the destination
//!   (longest prefix; a bound ESME with an empty range takes everything else), else to
//!   a handset with that MSISDN, else stored until an ESME binds or they expire.
//! * **MT** (ESME `submit_sm` → handset): [`Smsc::submit_sm`] queues the message for
//!   the destination MSISDN; [`Smsc::poll_mt`] hands it over when the handset is
//!   attached and in coverage; delivery receipts go back to the submitting ESME when
//!   `registered_delivery` asks for them (SMPP 3.4 §5.2.17).
//! * **ESME side**: [`Smsc::bind`], [`Smsc::poll_esme`] (next `deliver_sm` within the
//!   window, with retry after the response timeout), [`Smsc::esme_ack`],
//!   [`Smsc::unbind`].

use std::collections::{BTreeMap, VecDeque};

use super::fault::{Faults, Rng, RpCause};
use super::message::{ESM_CLASS_DELIVERY_RECEIPT, ShortMessage};
use super::operator::Networks;
use super::receipt::{DeliveryReceipt, MessageState};

/// Identifies one bound ESME session.
pub type SessionId = u64;

/// An ESME account: credentials and static routes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EsmeAccount {
    /// SMPP `system_id` (at most 15 characters, SMPP 3.4 §5.2.1).
    pub system_id: String,
    /// SMPP `password` (at most 8 characters, SMPP 3.4 §5.2.2).
    pub password: String,
    /// Destination-address prefixes routed to this ESME even while it is not bound
    /// (messages wait in its queue). Bind-time `address_range` adds to these.
    pub routes: Vec<String>,
}

impl EsmeAccount {
    /// An account without static routes.
    pub fn new(system_id: impl Into<String>, password: impl Into<String>) -> Self {
        EsmeAccount {
            system_id: system_id.into(),
            password: password.into(),
            routes: Vec::new(),
        }
    }
}

/// SMSC configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct SmscConfig {
    /// `system_id` the SMSC returns in bind responses.
    pub system_id: String,
    /// E.164 digits of the SMSC.
    pub address: String,
    /// Accounts allowed to bind.
    pub accounts: Vec<EsmeAccount>,
    /// How long a stored message waits for its recipient before it expires, ms.
    pub validity_ms: u64,
    /// At most this many `submit_sm` per session per 1000 ms window of the SMSC clock;
    /// more get `ESME_RTHROTTLED`. `None` = unlimited.
    pub max_submits_per_second: Option<u32>,
    /// `deliver_sm` PDUs awaiting a response per session.
    pub window: usize,
    /// A `deliver_sm` without response after this many ms is sent again.
    pub response_timeout_ms: u64,
    /// A negatively acknowledged (or lost MT) message is retried after this many ms.
    pub retry_interval_ms: u64,
    /// Unix time (seconds) of virtual time 0, for receipt dates.
    pub epoch_unix_s: u64,
}

impl Default for SmscConfig {
    fn default() -> Self {
        SmscConfig {
            system_id: "imeitrack-smsc".into(),
            address: "447700900000".into(),
            accounts: Vec::new(),
            validity_ms: 24 * 3600 * 1000,
            max_submits_per_second: None,
            window: 10,
            response_timeout_ms: 10_000,
            retry_interval_ms: 30_000,
            // 2025-11-27 20:00:00 UTC, the SCTS of the worked TPDUs in spec/04-sms.md.
            epoch_unix_s: 1_764_273_600,
        }
    }
}

/// How an ESME bound (SMPP 3.4 §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindKind {
    /// `bind_transmitter`: may submit, receives nothing.
    Transmitter,
    /// `bind_receiver`: receives `deliver_sm`, may not submit.
    Receiver,
    /// `bind_transceiver`: both.
    Transceiver,
}

impl BindKind {
    /// Whether `submit_sm` is allowed.
    pub fn can_submit(self) -> bool {
        matches!(self, BindKind::Transmitter | BindKind::Transceiver)
    }
    /// Whether the session receives `deliver_sm`.
    pub fn can_receive(self) -> bool {
        matches!(self, BindKind::Receiver | BindKind::Transceiver)
    }
}

/// Why a bind was refused; the SMPP layer maps these to command_status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BindError {
    /// Unknown `system_id` (`ESME_RINVSYSID`).
    #[error("unknown system_id")]
    InvalidSystemId,
    /// Wrong password (`ESME_RINVPASWD`).
    #[error("wrong password")]
    InvalidPassword,
    /// The SMSC is down (`ESME_RBINDFAIL`).
    #[error("SMSC unavailable")]
    Unavailable,
}

/// Why a `submit_sm` was refused; the SMPP layer maps these to command_status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    /// No such session, or bound as receiver (`ESME_RINVBNDSTS`).
    #[error("not bound for submission")]
    NotBound,
    /// Over the submit rate (`ESME_RTHROTTLED`).
    #[error("throttled")]
    Throttled,
    /// Destination is not a number (`ESME_RINVDSTADR`).
    #[error("invalid destination address")]
    InvalidDestination,
    /// User data does not fit one TPDU (`ESME_RINVMSGLEN`).
    #[error("message too long")]
    MessageTooLong,
    /// The SMSC is down (`ESME_RSYSERR`).
    #[error("SMSC unavailable")]
    Unavailable,
}

/// The network's answer to an MO SMS (TS 24.011 §7.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MoOutcome {
    /// RP-ACK for the RP message reference the handset sent.
    RpAck {
        /// The handset's message reference, echoed.
        message_ref: u8,
    },
    /// RP-ERROR with a cause (TS 24.011 §8.2.5.4).
    RpError {
        /// RP-Cause.
        cause: RpCause,
    },
    /// No answer: handset detached / out of coverage, or the message was lost (the
    /// handset's TR1M expires). A terminal reports "network currently unable to
    /// process command" (TERMINAL RESPONSE result `21`).
    NetworkUnable,
}

/// Metadata of a delivery receipt carried in a `deliver_sm` (SMPP 3.4 §5.3.2.12
/// `receipted_message_id`, §5.3.2.35 `message_state`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptInfo {
    /// The `message_id` of the original `submit_sm_resp`.
    pub message_id: String,
    /// Final state.
    pub state: MessageState,
}

/// One `deliver_sm` the SMSC wants to send to an ESME.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EsmeDelivery {
    /// Delivery identifier, for [`Smsc::esme_ack`].
    pub id: u64,
    /// The message (for a receipt: source = the handset, text = receipt text).
    pub sm: ShortMessage,
    /// SMPP `esm_class`: UDHI bit for messages, 0x04 for receipts.
    pub esm_class: u8,
    /// Present for delivery receipts.
    pub receipt: Option<ReceiptInfo>,
}

/// One MT message handed to a handset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MtDelivery {
    /// SMSC message id (the one `submit_sm_resp` returned).
    pub message_id: String,
    /// SMSC address the handset sees (the serving network's, else the SMSC's own).
    pub smsc_address: String,
    /// The message; `source` becomes TP-OA.
    pub sm: ShortMessage,
}

/// Something the SMSC did, for scenario logs and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// MO accepted (RP-ACK).
    MoAccepted {
        /// Sender MSISDN.
        from: String,
        /// Assigned message id.
        message_id: String,
    },
    /// MO answered with RP-ERROR.
    MoRejected {
        /// Sender MSISDN.
        from: String,
        /// RP-Cause.
        cause: RpCause,
    },
    /// MO got no answer (unreachable sender or loss).
    MoUnanswered {
        /// Sender MSISDN.
        from: String,
    },
    /// An accepted MO was queued for an ESME.
    MoRouted {
        /// Message id.
        message_id: String,
        /// ESME system_id.
        system_id: String,
    },
    /// An accepted MO is stored until a matching ESME binds.
    MoStored {
        /// Message id.
        message_id: String,
    },
    /// A message was queued for a handset.
    MtQueued {
        /// Message id.
        message_id: String,
        /// Destination MSISDN.
        msisdn: String,
    },
    /// A message reached a handset.
    MtDelivered {
        /// Message id.
        message_id: String,
        /// Destination MSISDN.
        msisdn: String,
    },
    /// An MT attempt was lost; it will be retried.
    MtLost {
        /// Message id.
        message_id: String,
    },
    /// An MT attempt failed with RP-ERROR; the message is dropped.
    MtFailed {
        /// Message id.
        message_id: String,
        /// RP-Cause.
        cause: RpCause,
    },
    /// A stored message expired.
    Expired {
        /// Message id.
        message_id: String,
    },
    /// An ESME bound.
    Bound {
        /// Session.
        session: SessionId,
        /// ESME system_id.
        system_id: String,
    },
    /// A bind was refused.
    BindRefused {
        /// Offered system_id.
        system_id: String,
        /// Reason.
        reason: BindError,
    },
    /// A session ended.
    Unbound {
        /// Session.
        session: SessionId,
    },
    /// A submit_sm was refused.
    SubmitRefused {
        /// Session.
        session: SessionId,
        /// Reason.
        reason: SubmitError,
    },
    /// A delivery receipt was queued.
    ReceiptQueued {
        /// Original message id.
        message_id: String,
        /// Final state.
        state: MessageState,
    },
}

#[derive(Debug)]
struct Session {
    system_id: String,
    kind: BindKind,
    address_range: String,
    window_start: u64,
    submits_in_window: u32,
}

#[derive(Debug)]
struct Pending {
    delivery: EsmeDelivery,
    message_id: String,
    due: u64,
    expires: u64,
    /// Session and response deadline while a `deliver_sm` is outstanding.
    in_flight: Option<(SessionId, u64)>,
}

#[derive(Debug)]
struct StoredMt {
    message_id: String,
    sm: ShortMessage,
    origin: Option<String>,
    registered_delivery: u8,
    submitted_at: u64,
    due: u64,
    expires: u64,
}

#[derive(Debug)]
struct StoredMo {
    message_id: String,
    sm: ShortMessage,
    due: u64,
    expires: u64,
}

/// The SMS centre.
#[derive(Debug)]
pub struct Smsc {
    config: SmscConfig,
    /// Networks, operators and attachments (public so scenarios attach handsets).
    pub networks: Networks,
    /// Faults in force (public so scenarios change them between steps).
    pub faults: Faults,
    rng: Rng,
    next_message: u64,
    next_delivery: u64,
    next_session: SessionId,
    sessions: BTreeMap<SessionId, Session>,
    esme_queues: BTreeMap<String, VecDeque<Pending>>,
    unrouted: VecDeque<StoredMo>,
    mt_queues: BTreeMap<String, VecDeque<StoredMt>>,
    events: Vec<(u64, Event)>,
    /// Earliest `expires` of anything stored (`u64::MAX` when nothing is), so that
    /// [`Smsc::expire`] is O(1) until something can actually expire.
    next_expiry: u64,
}

impl Smsc {
    /// A fresh SMSC; `seed` fixes every random decision.
    pub fn new(config: SmscConfig, networks: Networks, seed: u64) -> Self {
        Smsc {
            config,
            networks,
            faults: Faults::none(),
            rng: Rng::seeded(seed),
            next_message: 1,
            next_delivery: 1,
            next_session: 1,
            sessions: BTreeMap::new(),
            esme_queues: BTreeMap::new(),
            unrouted: VecDeque::new(),
            mt_queues: BTreeMap::new(),
            events: Vec::new(),
            next_expiry: u64::MAX,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &SmscConfig {
        &self.config
    }

    /// Whether the SMSC is down at `now` (fault injection).
    pub fn is_down(&self, now: u64) -> bool {
        self.faults.is_down(now)
    }

    /// Takes the events recorded so far, oldest first, with their virtual times.
    pub fn take_events(&mut self) -> Vec<(u64, Event)> {
        std::mem::take(&mut self.events)
    }

    fn event(&mut self, now: u64, e: Event) {
        self.events.push((now, e));
    }

    fn new_message_id(&mut self) -> String {
        let id = self.next_message;
        self.next_message += 1;
        id.to_string()
    }

    fn new_delivery_id(&mut self) -> u64 {
        let id = self.next_delivery;
        self.next_delivery += 1;
        id
    }

    // ------------------------------------------------------------------ MO path

    /// An MO SMS from the handset with `from_msisdn`, carrying RP/TP message
    /// reference `message_ref`. The network stamps the originating address: the
    /// message's `source` is replaced by `from_msisdn`.
    ///
    /// Order of checks: sender unreachable → `NetworkUnable`; SMSC down → RP-ERROR 38
    /// (network out of order); loss → `NetworkUnable`; forced RP-ERROR → that cause;
    /// else RP-ACK and the message is routed (delivered `latency_ms` later).
    pub fn submit_mo(
        &mut self,
        from_msisdn: &str,
        message_ref: u8,
        mut sm: ShortMessage,
        now: u64,
    ) -> MoOutcome {
        self.expire(now);
        let from = from_msisdn.to_owned();
        if !self.networks.is_reachable(from_msisdn) {
            self.event(now, Event::MoUnanswered { from });
            return MoOutcome::NetworkUnable;
        }
        if self.faults.is_down(now) {
            let cause = RpCause::NETWORK_OUT_OF_ORDER;
            self.event(now, Event::MoRejected { from, cause });
            return MoOutcome::RpError { cause };
        }
        if self.rng.chance(self.faults.mo_loss) {
            self.event(now, Event::MoUnanswered { from });
            return MoOutcome::NetworkUnable;
        }
        if let Some(cause) = self.faults.mo_rp_error {
            self.event(now, Event::MoRejected { from, cause });
            return MoOutcome::RpError { cause };
        }
        sm.source = from.clone();
        let message_id = self.new_message_id();
        self.event(
            now,
            Event::MoAccepted {
                from,
                message_id: message_id.clone(),
            },
        );
        let due = now.saturating_add(self.faults.latency_ms);
        let expires = now.saturating_add(self.config.validity_ms);
        self.route_mo(
            StoredMo {
                message_id,
                sm,
                due,
                expires,
            },
            now,
        );
        MoOutcome::RpAck { message_ref }
    }

    /// Longest-prefix route for a destination: bound receivers' address ranges
    /// (an empty range matches everything, with the lowest priority) and accounts'
    /// static routes. Ties go to the earliest session / first account.
    fn route_for(&self, destination: &str) -> Option<String> {
        let mut best: Option<(usize, &str)> = None;
        for s in self.sessions.values().filter(|s| s.kind.can_receive()) {
            if destination.starts_with(s.address_range.as_str())
                && best.is_none_or(|(len, _)| s.address_range.len() > len)
            {
                best = Some((s.address_range.len(), s.system_id.as_str()));
            }
        }
        for a in &self.config.accounts {
            for r in a.routes.iter().filter(|r| !r.is_empty()) {
                if destination.starts_with(r.as_str()) && best.is_none_or(|(len, _)| r.len() > len)
                {
                    best = Some((r.len(), a.system_id.as_str()));
                }
            }
        }
        best.map(|(_, id)| id.to_owned())
    }

    fn route_mo(&mut self, mo: StoredMo, now: u64) {
        if let Some(system_id) = self.route_for(&mo.sm.destination) {
            self.event(
                now,
                Event::MoRouted {
                    message_id: mo.message_id.clone(),
                    system_id: system_id.clone(),
                },
            );
            let id = self.new_delivery_id();
            let esm_class = mo.sm.udhi_bits();
            self.next_expiry = self.next_expiry.min(mo.expires);
            self.esme_queues
                .entry(system_id)
                .or_default()
                .push_back(Pending {
                    delivery: EsmeDelivery {
                        id,
                        sm: mo.sm,
                        esm_class,
                        receipt: None,
                    },
                    message_id: mo.message_id,
                    due: mo.due,
                    expires: mo.expires,
                    in_flight: None,
                });
        } else if self.networks.attachment(&mo.sm.destination).is_some() {
            // SME-to-SME between handsets.
            let msisdn = mo.sm.destination.clone();
            self.event(
                now,
                Event::MtQueued {
                    message_id: mo.message_id.clone(),
                    msisdn,
                },
            );
            self.queue_mt(StoredMt {
                message_id: mo.message_id,
                sm: mo.sm,
                origin: None,
                registered_delivery: 0,
                submitted_at: now,
                due: mo.due,
                expires: mo.expires,
            });
        } else {
            self.event(
                now,
                Event::MoStored {
                    message_id: mo.message_id.clone(),
                },
            );
            self.next_expiry = self.next_expiry.min(mo.expires);
            self.unrouted.push_back(mo);
        }
    }

    // ---------------------------------------------------------------- ESME side

    /// An ESME binds. `address_range` is a destination prefix (SMPP 3.4 §5.2.7 allows a
    /// regular expression; this SMSC takes it literally as a prefix, empty = all).
    pub fn bind(
        &mut self,
        system_id: &str,
        password: &str,
        kind: BindKind,
        address_range: &str,
        now: u64,
    ) -> Result<SessionId, BindError> {
        let refused = |s: &mut Self, reason| {
            s.event(
                now,
                Event::BindRefused {
                    system_id: system_id.to_owned(),
                    reason,
                },
            );
            Err(reason)
        };
        if self.faults.is_down(now) {
            return refused(self, BindError::Unavailable);
        }
        let Some(account) = self
            .config
            .accounts
            .iter()
            .find(|a| a.system_id == system_id)
        else {
            return refused(self, BindError::InvalidSystemId);
        };
        if account.password != password {
            return refused(self, BindError::InvalidPassword);
        }
        let session = self.next_session;
        self.next_session += 1;
        self.sessions.insert(
            session,
            Session {
                system_id: system_id.to_owned(),
                kind,
                address_range: address_range.to_owned(),
                window_start: now,
                submits_in_window: 0,
            },
        );
        self.event(
            now,
            Event::Bound {
                session,
                system_id: system_id.to_owned(),
            },
        );
        if kind.can_receive() {
            // Stored MO messages that now have a route.
            let stored = std::mem::take(&mut self.unrouted);
            for mo in stored {
                if self.route_for(&mo.sm.destination).is_some() {
                    self.route_mo(mo, now);
                } else {
                    self.unrouted.push_back(mo);
                }
            }
        }
        Ok(session)
    }

    /// Ends a session (unbind or connection loss). Outstanding `deliver_sm` go back to
    /// the queue and are sent again on the next bind.
    pub fn unbind(&mut self, session: SessionId, now: u64) {
        if self.sessions.remove(&session).is_some() {
            for q in self.esme_queues.values_mut() {
                for p in q
                    .iter_mut()
                    .filter(|p| p.in_flight.is_some_and(|(s, _)| s == session))
                {
                    p.in_flight = None;
                }
            }
            self.event(now, Event::Unbound { session });
        }
    }

    /// Whether a session may continue: it exists and the SMSC is up. The SMPP layer
    /// closes the connection when this turns false.
    pub fn session_alive(&self, session: SessionId, now: u64) -> bool {
        self.sessions.contains_key(&session) && !self.faults.is_down(now)
    }

    /// A `submit_sm` from `session`. Returns the message id for `submit_sm_resp`.
    /// `registered_delivery` bits 1..0 (SMPP 3.4 §5.2.17): 1 = receipt on final
    /// state, 2 = receipt on failure only.
    pub fn submit_sm(
        &mut self,
        session: SessionId,
        sm: ShortMessage,
        registered_delivery: u8,
        now: u64,
    ) -> Result<String, SubmitError> {
        self.expire(now);
        let result = self.try_submit(session, sm, registered_delivery, now);
        if let Err(reason) = result {
            self.event(now, Event::SubmitRefused { session, reason });
        }
        result
    }

    fn try_submit(
        &mut self,
        session: SessionId,
        sm: ShortMessage,
        registered_delivery: u8,
        now: u64,
    ) -> Result<String, SubmitError> {
        let limit = self.config.max_submits_per_second;
        let s = self
            .sessions
            .get_mut(&session)
            .ok_or(SubmitError::NotBound)?;
        if !s.kind.can_submit() {
            return Err(SubmitError::NotBound);
        }
        if self.faults.is_down(now) {
            return Err(SubmitError::Unavailable);
        }
        if now >= s.window_start.saturating_add(1000) {
            s.window_start = now - now % 1000;
            s.submits_in_window = 0;
        }
        if limit.is_some_and(|limit| s.submits_in_window >= limit) {
            return Err(SubmitError::Throttled);
        }
        s.submits_in_window += 1;
        let origin = s.system_id.clone();
        let digits = sm.destination.strip_prefix('+').unwrap_or(&sm.destination);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(SubmitError::InvalidDestination);
        }
        if !sm.fits_one_tpdu() {
            return Err(SubmitError::MessageTooLong);
        }
        let msisdn = digits.to_owned();
        let message_id = self.new_message_id();
        self.event(
            now,
            Event::MtQueued {
                message_id: message_id.clone(),
                msisdn: msisdn.clone(),
            },
        );
        let mut sm = sm;
        sm.destination = msisdn;
        self.queue_mt(StoredMt {
            message_id: message_id.clone(),
            sm,
            origin: Some(origin),
            registered_delivery,
            submitted_at: now,
            due: now.saturating_add(self.faults.latency_ms),
            expires: now.saturating_add(self.config.validity_ms),
        });
        Ok(message_id)
    }

    /// The next `deliver_sm` for `session`, if one is due and the window has room. It
    /// counts as outstanding until [`Smsc::esme_ack`]; without an answer within
    /// `response_timeout_ms` it is offered again.
    pub fn poll_esme(&mut self, session: SessionId, now: u64) -> Option<EsmeDelivery> {
        self.expire(now);
        if self.faults.is_down(now) {
            return None;
        }
        let s = self.sessions.get(&session)?;
        if !s.kind.can_receive() {
            return None;
        }
        let q = self.esme_queues.get_mut(&s.system_id)?;
        let outstanding = q
            .iter()
            .filter(|p| {
                p.in_flight
                    .is_some_and(|(id, deadline)| id == session && now < deadline)
            })
            .count();
        if outstanding >= self.config.window {
            return None;
        }
        let deadline = now.saturating_add(self.config.response_timeout_ms);
        let p = q
            .iter_mut()
            .find(|p| p.due <= now && p.in_flight.is_none_or(|(_, deadline)| now >= deadline))?;
        p.in_flight = Some((session, deadline));
        Some(p.delivery.clone())
    }

    /// The ESME's answer to a `deliver_sm`: `accepted` removes it; a refusal keeps it
    /// and retries after `retry_interval_ms`.
    pub fn esme_ack(&mut self, session: SessionId, delivery_id: u64, accepted: bool, now: u64) {
        let Some(s) = self.sessions.get(&session) else {
            return;
        };
        let Some(q) = self.esme_queues.get_mut(&s.system_id) else {
            return;
        };
        let Some(pos) = q.iter().position(|p| p.delivery.id == delivery_id) else {
            return;
        };
        if accepted {
            q.remove(pos);
        } else if let Some(p) = q.get_mut(pos) {
            p.in_flight = None;
            p.due = now.saturating_add(self.config.retry_interval_ms);
        }
    }

    /// Messages waiting for ESME `system_id` (including outstanding ones).
    pub fn esme_queue_len(&self, system_id: &str) -> usize {
        self.esme_queues.get(system_id).map_or(0, VecDeque::len)
    }

    /// Accepted MO messages that have no route yet.
    pub fn unrouted_len(&self) -> usize {
        self.unrouted.len()
    }

    // ------------------------------------------------------------------ MT path

    fn queue_mt(&mut self, mt: StoredMt) {
        self.next_expiry = self.next_expiry.min(mt.expires);
        self.mt_queues
            .entry(mt.sm.destination.clone())
            .or_default()
            .push_back(mt);
    }

    /// Messages waiting for handset `msisdn`.
    pub fn mt_queue_len(&self, msisdn: &str) -> usize {
        self.mt_queues.get(msisdn).map_or(0, VecDeque::len)
    }

    /// The numbers that have at least one MT message waiting, in ascending order (due
    /// or not, reachable or not). Costs O(numbers with something waiting), so a driver
    /// with thousands of attached handsets polls only these.
    pub fn mt_waiting(&self) -> impl Iterator<Item = &str> + '_ {
        self.mt_queues.keys().map(String::as_str)
    }

    /// The earliest virtual time after `now` at which this SMSC can act on its own, so
    /// that a driver on virtual time can jump there instead of polling: an MT message
    /// or an ESME delivery becoming due (latency, retry interval), an outstanding
    /// `deliver_sm` whose response timeout ends, something stored expiring, an outage
    /// starting or ending. `None` = nothing until the outside changes something. Never
    /// later than the real next event; it may be earlier (the earliest expiry is kept
    /// as a lower bound and refreshed when it passes), and then that wake-up finds
    /// nothing to do.
    ///
    /// What waits on the outside is not counted: a message due for a handset that is
    /// detached or out of coverage, or for an ESME that is not bound, moves when the
    /// driver attaches the handset, restores coverage or binds (the driver polls then).
    /// Costs O(numbers with MT waiting + ESME queue lengths + outage windows).
    pub fn next_due(&self, now: u64) -> Option<u64> {
        let mut next = u64::MAX;
        let mut consider = |t: u64| {
            if t > now && t < next {
                next = t;
            }
        };
        consider(self.next_expiry);
        for w in &self.faults.down {
            consider(w.from_ms);
            consider(w.until_ms);
        }
        for q in self.mt_queues.values() {
            if let Some(head) = q.front() {
                consider(head.due);
            }
        }
        for q in self.esme_queues.values() {
            for p in q {
                consider(p.due);
                if let Some((_, deadline)) = p.in_flight {
                    consider(deadline);
                }
            }
        }
        (next != u64::MAX).then_some(next)
    }

    /// The next MT message for `msisdn`, if the SMSC is up, the handset is attached and
    /// in coverage, and the oldest message is due. Messages go out in order. A lost
    /// attempt (fault) keeps the message for a retry after `retry_interval_ms`; a
    /// forced RP-ERROR drops it. Receipts are queued as asked for.
    pub fn poll_mt(&mut self, msisdn: &str, now: u64) -> Option<MtDelivery> {
        self.expire(now);
        if self.faults.is_down(now) || !self.networks.is_reachable(msisdn) {
            return None;
        }
        let head = self.mt_queues.get(msisdn)?.front()?;
        if head.due > now {
            return None;
        }
        if self.rng.chance(self.faults.mt_loss) {
            let retry = now.saturating_add(self.config.retry_interval_ms);
            let q = self.mt_queues.get_mut(msisdn)?;
            let head = q.front_mut()?;
            head.due = retry;
            let message_id = head.message_id.clone();
            self.event(now, Event::MtLost { message_id });
            return None;
        }
        let q = self.mt_queues.get_mut(msisdn)?;
        let mt = q.pop_front()?;
        if q.is_empty() {
            // Only numbers with something waiting keep a queue (see `Smsc::mt_waiting`).
            self.mt_queues.remove(msisdn);
        }
        if let Some(cause) = self.faults.mt_rp_error {
            self.event(
                now,
                Event::MtFailed {
                    message_id: mt.message_id.clone(),
                    cause,
                },
            );
            self.final_state(&mt, MessageState::Undeliverable, u16::from(cause.0), now);
            return None;
        }
        self.event(
            now,
            Event::MtDelivered {
                message_id: mt.message_id.clone(),
                msisdn: msisdn.to_owned(),
            },
        );
        self.final_state(&mt, MessageState::Delivered, 0, now);
        let smsc_address = self
            .networks
            .serving_network(msisdn)
            .map_or_else(|| self.config.address.clone(), |n| n.smsc_address.clone());
        Some(MtDelivery {
            message_id: mt.message_id,
            smsc_address,
            sm: mt.sm,
        })
    }

    /// Queues a delivery receipt for the submitting ESME if `registered_delivery` asks.
    fn final_state(&mut self, mt: &StoredMt, state: MessageState, err: u16, now: u64) {
        let Some(origin) = mt.origin.clone() else {
            return;
        };
        let wanted = match mt.registered_delivery & 0x03 {
            1 => true,
            2 => state != MessageState::Delivered,
            _ => false,
        };
        if !wanted {
            return;
        }
        let epoch = self.config.epoch_unix_s;
        let receipt = DeliveryReceipt {
            message_id: mt.message_id.clone(),
            submitted: 1,
            delivered: u16::from(state == MessageState::Delivered),
            submit_unix_s: epoch + mt.submitted_at / 1000,
            done_unix_s: epoch + now / 1000,
            state,
            err,
            text: DeliveryReceipt::text_excerpt(&mt.sm.user_data),
        };
        let sm = ShortMessage::new(
            mt.sm.destination.clone(),
            mt.sm.source.clone(),
            0,
            0,
            receipt.to_text().into_bytes(),
        );
        let id = self.new_delivery_id();
        let receipt_expires = now.saturating_add(self.config.validity_ms);
        self.next_expiry = self.next_expiry.min(receipt_expires);
        self.event(
            now,
            Event::ReceiptQueued {
                message_id: mt.message_id.clone(),
                state,
            },
        );
        self.esme_queues
            .entry(origin)
            .or_default()
            .push_back(Pending {
                delivery: EsmeDelivery {
                    id,
                    sm,
                    esm_class: ESM_CLASS_DELIVERY_RECEIPT,
                    receipt: Some(ReceiptInfo {
                        message_id: mt.message_id.clone(),
                        state,
                    }),
                },
                message_id: mt.message_id.clone(),
                due: now,
                expires: receipt_expires,
                in_flight: None,
            });
    }

    /// Drops everything whose validity has ended (MT messages get an `EXPIRED`
    /// receipt if asked for). Called by every entry point; scenario runners may call
    /// it to advance time without other input.
    pub fn expire(&mut self, now: u64) {
        if now < self.next_expiry {
            return;
        }
        let mut expired_mt = Vec::new();
        for q in self.mt_queues.values_mut() {
            let (gone, kept): (VecDeque<_>, VecDeque<_>) = std::mem::take(q)
                .into_iter()
                .partition(|m| m.expires <= now);
            *q = kept;
            expired_mt.extend(gone);
        }
        self.mt_queues.retain(|_, q| !q.is_empty());
        for m in expired_mt {
            self.event(
                now,
                Event::Expired {
                    message_id: m.message_id.clone(),
                },
            );
            self.final_state(&m, MessageState::Expired, 0, now);
        }
        let mut expired = Vec::new();
        for q in self.esme_queues.values_mut() {
            q.retain(|p| {
                let keep = p.expires > now;
                if !keep {
                    expired.push(p.message_id.clone());
                }
                keep
            });
        }
        self.unrouted.retain(|m| {
            let keep = m.expires > now;
            if !keep {
                expired.push(m.message_id.clone());
            }
            keep
        });
        for message_id in expired {
            self.event(now, Event::Expired { message_id });
        }
        let mt = self.mt_queues.values().flatten().map(|m| m.expires);
        let esme = self.esme_queues.values().flatten().map(|p| p.expires);
        let mo = self.unrouted.iter().map(|m| m.expires);
        self.next_expiry = mt.chain(esme).chain(mo).min().unwrap_or(u64::MAX);
    }
}
