//! The IMEI-tracking applet: detect a handset change and send the registration SMS.
//!
//! Pure state machine. Inputs are the toolkit events the card OS hands over (TERMINAL
//! PROFILE, TERMINAL RESPONSE, ENVELOPE event download / timer expiration) plus `now_ms`;
//! outputs are the next [`State`], at most one proactive command (written into the
//! caller's buffer, TS 102 223 §6.6) and persistent writes through the NVM store's
//! transactions ([`record`]). No transport, no clock, no randomness.
//!
//! ## Flow (issue 3; `/work/shared/spec/02-cat.md` §8–§9, `03-imei.md`)
//!
//! ```text
//! Idle --TP with PLI + SEND SM--> AwaitingImei --TR(IMEI ok)--> [AwaitingImeisv] --+
//!   |                               |  TR without / with malformed IMEI:            |
//!   |                               +--> record failure --> Done(ImeiUnusable)       |
//!   +--TP lacking them--> Done(TerminalUnsupported)                                  |
//!                                                                                    v
//!  compare TAC+SNR with the stored IMEI --same--> Done(Unchanged)
//!       | changed / first use / pending retry
//!       v   limits ok? commit "attempt" (counter+1, pending)   else Done(RateLimited)
//!  AwaitingSmsResult --TR performed--> commit "registered" --> Done(Registered)
//!       | TR failed (2x/3x/1x)
//!       v   retry allowed and the terminal can wake us up?       else Done(GaveUp)
//!  [AwaitingEventListResult] -> [AwaitingTimerResult] -> RetryWaiting
//!  RetryWaiting --ENVELOPE timer expiration (timer 1) or event download location
//!                 status = normal service--> limits ok? --> AwaitingSmsResult (kind 03)
//! ```
//!
//! ## Decisions
//!
//! - **Compare on TAC+SNR** (digits 1–14), never on digit 15 (03-imei.md §2). An IMEISV
//!   change alone (new software version) is not a handset change.
//! - **Validation**: the IMEI object must be 8 bytes, type IMEI, odd, digits only, and
//!   digit 15 must be the Luhn digit or a spare `0` ([`Digit15::classify`]). Anything
//!   else (or no IMEI object, or a failed PROVIDE LOCAL INFORMATION) is recorded in the
//!   persistent record and not registered; the applet waits for the next power-up. The
//!   IMEISV is optional: a malformed IMEISV, or one whose digits 1–14 differ from the
//!   IMEI's, is dropped and the registration goes out without it.
//! - **A retry does not re-read the IMEI**: within one power cycle the card stays in the
//!   same handset, so [`State::RetryWaiting`] carries the identities. Every retry uses a
//!   new counter value and event kind `03` (docs/registration.md §3).
//! - **Waking up for a retry**: after a failed SEND SHORT MESSAGE the applet registers the
//!   location-status event with SET UP EVENT LIST (if the profile has it, once per
//!   session) and starts timer 1 with TIMER MANAGEMENT (if the profile has TIMER
//!   MANAGEMENT start/stop and timer expiration). Either wake-up triggers the retry; a
//!   terminal with neither gets no retry before the next power-up.
//! - **Limits**: attempts per power cycle (RAM, cleared by a cold reset only) and
//!   attempts per period (persistent, period start on the caller's clock; a clock that
//!   goes backwards keeps the current period). Back-off = `backoff_s · 2^(retry−1)`,
//!   capped at 23:59:59.
//! - **Result classes** (02-cat.md §5): `0x` = performed → registered; anything else
//!   (`1x` user ended the session, `2x` temporary, `3x` permanent) = failed. A `3x` result
//!   is retried too: a later power cycle may be in another network state, and the
//!   per-period limit bounds the cost.
//! - The applet never asks the handset for anything else and shows nothing: SEND SHORT
//!   MESSAGE carries a null alpha identifier (02-cat.md §8).
//!
//! The persistent layout is documented in [`record`].

pub mod record;

use crate::card::nvm::Store;
use crate::wire::Error;
use crate::wire::cat::{
    Address as CatAddress, AlphaIdentifier, Capability, CommandDetails, CommandType, Envelope,
    Event, PliQualifier, ProactiveCommand, ProvideLocalInformation, ResponseData, SendShortMessage,
    ServiceState, SetUpEventList, TerminalProfile, TerminalResponse, TimerManagement, TimerValue,
};
use crate::wire::imei::Imeisv;
use crate::wire::registration::{Digit15, EventKind, RegistrationRepr};
use crate::wire::sms::{DataCodingScheme, SmsSubmit, UserData};
pub use record::{
    AppletConfig, ImeiFailure, PendingRegistration, Record, RecordError, RetryPolicy,
};

/// Timer identifier the applet uses for retries (TS 102 223 §8.37: 1..8).
pub const RETRY_TIMER: u8 = 1;

/// The identities of the card that go into the registration message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CardIdentity {
    /// EF.ICCID content.
    pub iccid: [u8; 10],
    /// EF.IMSI content.
    pub imsi: [u8; 9],
}

/// A registration to send or being sent: the identities and the kind of event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Registration {
    /// Event kind (first use, changed, retry).
    pub kind: EventKind,
    /// The new IMEI (mobile identity value).
    pub imei: [u8; 8],
    /// The new IMEISV, if the terminal gave a consistent one.
    pub imeisv: Option<[u8; 9]>,
    /// The IMEI stored before this event.
    pub previous: Option<[u8; 8]>,
}

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The applet is disabled in its configuration.
    Disabled,
    /// The terminal profile lacks PROVIDE LOCAL INFORMATION or SEND SHORT MESSAGE.
    TerminalUnsupported,
    /// The handset's IMEI equals the stored one on TAC+SNR.
    Unchanged,
    /// The registration was sent and the new IMEI committed.
    Registered,
    /// No usable IMEI (missing or malformed; recorded).
    ImeiUnusable,
    /// A registration was due but a limit (per power cycle, per period, counter) forbids it.
    RateLimited,
    /// The SMS failed and no retry is possible before the next power-up.
    GaveUp,
    /// The configuration (EF.TRACK_CONFIG) holds no valid server address.
    Misconfigured,
}

/// The applet's state. Each variant carries only what is valid in it; transitions
/// consume the state and return the next one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum State {
    /// Powered, waiting for TERMINAL PROFILE.
    #[default]
    Idle,
    /// PROVIDE LOCAL INFORMATION (IMEI) is out.
    AwaitingImei {
        /// Command number.
        cmd: u8,
    },
    /// PROVIDE LOCAL INFORMATION (IMEISV) is out; the IMEI is known and valid.
    AwaitingImeisv {
        /// Command number.
        cmd: u8,
        /// The valid IMEI.
        imei: [u8; 8],
    },
    /// SEND SHORT MESSAGE is out; the counter is committed.
    AwaitingSmsResult {
        /// Command number.
        cmd: u8,
        /// Counter value the SMS carries.
        counter: u64,
        /// What is being registered.
        reg: Registration,
    },
    /// SET UP EVENT LIST (location status) is out, before waiting for a retry.
    AwaitingEventListResult {
        /// Command number.
        cmd: u8,
        /// The registration to retry.
        reg: Registration,
    },
    /// TIMER MANAGEMENT (start timer 1) is out, before waiting for a retry.
    AwaitingTimerResult {
        /// Command number.
        cmd: u8,
        /// The registration to retry.
        reg: Registration,
    },
    /// Waiting for timer expiration or location status "normal service".
    RetryWaiting {
        /// The registration to retry.
        reg: Registration,
    },
    /// Nothing more happens in this session.
    Done(Outcome),
}

impl State {
    /// The command details of the proactive command this state waits a TERMINAL
    /// RESPONSE for.
    pub fn outstanding(&self) -> Option<CommandDetails> {
        let (cmd, kind, q) = match *self {
            State::AwaitingImei { cmd } => (cmd, CommandType::PROVIDE_LOCAL_INFORMATION, 0x01),
            State::AwaitingImeisv { cmd, .. } => {
                (cmd, CommandType::PROVIDE_LOCAL_INFORMATION, 0x08)
            }
            State::AwaitingSmsResult { cmd, .. } => (cmd, CommandType::SEND_SHORT_MESSAGE, 0x00),
            State::AwaitingEventListResult { cmd, .. } => {
                (cmd, CommandType::SET_UP_EVENT_LIST, 0x00)
            }
            State::AwaitingTimerResult { cmd, .. } => (cmd, CommandType::TIMER_MANAGEMENT, 0x00),
            _ => return None,
        };
        Some(CommandDetails::new(cmd, kind, q))
    }
}

/// Terminal facilities the applet uses (from TERMINAL PROFILE, TS 102 223 §5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Facilities {
    /// PROVIDE LOCAL INFORMATION (IMEI) and SEND SHORT MESSAGE.
    pub registration: bool,
    /// PROVIDE LOCAL INFORMATION (IMEISV).
    pub imeisv: bool,
    /// TIMER MANAGEMENT start/stop and timer expiration ENVELOPE.
    pub timer: bool,
    /// SET UP EVENT LIST and the location status event.
    pub location_event: bool,
}

impl Facilities {
    /// Reads the facilities from a profile (bytes the terminal did not send are zero).
    pub fn from_profile(tp: &TerminalProfile) -> Self {
        Facilities {
            registration: tp.supports(Capability::PROVIDE_LOCAL_INFORMATION)
                && tp.supports(Capability::SEND_SHORT_MESSAGE),
            imeisv: tp.supports(Capability::PLI_IMEISV),
            timer: tp.supports(Capability::TIMER_MANAGEMENT_START_STOP)
                && tp.supports(Capability::TIMER_EXPIRATION),
            location_event: tp.supports(Capability::SET_UP_EVENT_LIST)
                && tp.supports(Capability::EVENT_LOCATION_STATUS),
        }
    }
}

/// Errors of a tracker step; the card maps them to status words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TrackerError {
    /// The persistent record could not be written (or read).
    Record(RecordError),
    /// A proactive command did not encode (buffer too small).
    Wire(Error),
}

impl From<RecordError> for TrackerError {
    fn from(e: RecordError) -> Self {
        TrackerError::Record(e)
    }
}

impl From<Error> for TrackerError {
    fn from(e: Error) -> Self {
        TrackerError::Wire(e)
    }
}

/// Everything a transition needs besides the state: the persistent record and its
/// store, the card's identities, the time, and where the proactive command goes.
pub struct Context<'a, const N: usize> {
    /// The NVM store.
    pub store: &'a mut Store<N>,
    /// The RAM mirror of the tracker's persistent record.
    pub record: &'a mut Record,
    /// ICCID and IMSI for the registration message.
    pub identity: &'a CardIdentity,
    /// Caller's clock, milliseconds.
    pub now_ms: u64,
    /// Buffer for the proactive command (`D0` TLV).
    pub out: &'a mut [u8],
}

/// The applet's session: the state plus per-session RAM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Tracker {
    state: State,
    facilities: Facilities,
    /// Last command number used (1..=254, TS 102 223 §8.6).
    last_cmd: u8,
    /// Registration SMS sent in this power cycle.
    attempts_this_cycle: u8,
    /// SET UP EVENT LIST done in this session.
    event_registered: bool,
}

/// Result of a step: the number of proactive-command bytes written into
/// [`Context::out`] (0 = none).
pub type Step = Result<usize, TrackerError>;

impl Tracker {
    /// A tracker at power-up.
    pub const fn new() -> Self {
        Tracker {
            state: State::Idle,
            facilities: Facilities {
                registration: false,
                imeisv: false,
                timer: false,
                location_event: false,
            },
            last_cmd: 0,
            attempts_this_cycle: 0,
            event_registered: false,
        }
    }

    /// The current state.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// Registration SMS sent in this power cycle.
    pub fn attempts_this_cycle(&self) -> u8 {
        self.attempts_this_cycle
    }

    /// A card reset: the session ends (a cold reset also starts a new power cycle).
    pub fn reset(&mut self, cold: bool) {
        let attempts = if cold { 0 } else { self.attempts_this_cycle };
        *self = Tracker::new();
        self.attempts_this_cycle = attempts;
    }

    fn next_cmd(&mut self) -> u8 {
        self.last_cmd = if self.last_cmd >= 0xFE {
            1
        } else {
            self.last_cmd + 1
        };
        self.last_cmd
    }

    /// TERMINAL PROFILE (TS 102 223 §5.2): starts the flow once per session.
    pub fn on_terminal_profile<const N: usize>(
        &mut self,
        tp: &TerminalProfile,
        cx: &mut Context<'_, N>,
    ) -> Step {
        self.facilities = Facilities::from_profile(tp);
        if self.state != State::Idle {
            return Ok(0);
        }
        // Session start: pick up changes a PIN holder made to EF.TRACK_CONFIG.
        *cx.record = Record::load(cx.store)?;
        if !cx.record.enabled() {
            self.state = State::Done(Outcome::Disabled);
            return Ok(0);
        }
        if !self.facilities.registration {
            self.state = State::Done(Outcome::TerminalUnsupported);
            return Ok(0);
        }
        let cmd = self.next_cmd();
        let n = ProactiveCommand::ProvideLocalInformation(ProvideLocalInformation::new(
            cmd,
            PliQualifier::IMEI,
        ))
        .emit(cx.out)?;
        self.state = State::AwaitingImei { cmd };
        Ok(n)
    }

    /// A TERMINAL RESPONSE whose command details the card has already matched against
    /// [`State::outstanding`].
    pub fn on_terminal_response<const N: usize>(
        &mut self,
        tr: &TerminalResponse<'_>,
        cx: &mut Context<'_, N>,
    ) -> Step {
        let performed = tr.result.general.0 < 0x10;
        match self.state {
            State::AwaitingImei { .. } => {
                let failure = match (performed, &tr.data) {
                    (true, ResponseData::Imei(ie)) => match Digit15::classify(&ie.identity) {
                        Ok(_) => None,
                        Err(_) => Some(ImeiFailure::Malformed {
                            first_byte: ie.identity[0],
                        }),
                    },
                    (true, ResponseData::Raw(raw))
                        if raw.first().is_some_and(|t| t & 0x7F == 0x14) =>
                    {
                        Some(ImeiFailure::Malformed {
                            first_byte: raw.get(2).copied().unwrap_or(0),
                        })
                    }
                    _ => Some(ImeiFailure::Missing {
                        result: tr.result.general.0,
                    }),
                };
                if let Some(f) = failure {
                    cx.record.commit_failure(cx.store, f)?;
                    self.state = State::Done(Outcome::ImeiUnusable);
                    return Ok(0);
                }
                let ResponseData::Imei(ie) = tr.data else {
                    return Ok(0);
                };
                if self.facilities.imeisv && cx.record.wants_imeisv() {
                    let cmd = self.next_cmd();
                    let n = ProactiveCommand::ProvideLocalInformation(
                        ProvideLocalInformation::new(cmd, PliQualifier::IMEISV),
                    )
                    .emit(cx.out)?;
                    self.state = State::AwaitingImeisv {
                        cmd,
                        imei: ie.identity,
                    };
                    return Ok(n);
                }
                self.decide(ie.identity, None, cx)
            }
            State::AwaitingImeisv { imei, .. } => {
                let sv = match (performed, &tr.data) {
                    (true, ResponseData::Imeisv(ie)) => Imeisv::parse(&ie.identity)
                        .ok()
                        .filter(|sv| {
                            crate::wire::imei::Imei::parse(&imei)
                                .is_ok_and(|i| i.tac_snr() == sv.tac_snr())
                        })
                        .map(|_| ie.identity),
                    _ => None,
                };
                self.decide(imei, sv, cx)
            }
            State::AwaitingSmsResult { reg, .. } => {
                if performed {
                    cx.record
                        .commit_registered(cx.store, &reg.imei, reg.imeisv.as_ref())?;
                    self.state = State::Done(Outcome::Registered);
                    return Ok(0);
                }
                let reg = Registration {
                    kind: EventKind::RETRY,
                    ..reg
                };
                self.after_failure(reg, cx)
            }
            State::AwaitingEventListResult { reg, .. } => {
                self.event_registered = performed;
                self.arm_timer(reg, cx)
            }
            State::AwaitingTimerResult { reg, .. } => {
                if performed || self.event_registered {
                    self.state = State::RetryWaiting { reg };
                } else {
                    self.state = State::Done(Outcome::GaveUp);
                }
                Ok(0)
            }
            _ => Ok(0),
        }
    }

    /// An ENVELOPE (TS 102 223 §7): timer expiration of [`RETRY_TIMER`] or event
    /// download "location status = normal service" triggers a pending retry; anything
    /// else is acknowledged and ignored.
    pub fn on_envelope<const N: usize>(
        &mut self,
        env: &Envelope<'_>,
        cx: &mut Context<'_, N>,
    ) -> Step {
        let State::RetryWaiting { reg } = self.state else {
            return Ok(0);
        };
        let wake = match env {
            Envelope::TimerExpiration(t) => t.timer_id.id == RETRY_TIMER,
            Envelope::EventDownload(e) => {
                e.event() == Some(Event::LOCATION_STATUS)
                    && e.location_status
                        .is_some_and(|s| s.status == ServiceState::NORMAL_SERVICE)
            }
            _ => false,
        };
        if !wake {
            return Ok(0);
        }
        self.attempt(reg, cx)
    }

    /// IMEI known and valid: compare and maybe register.
    fn decide<const N: usize>(
        &mut self,
        imei: [u8; 8],
        imeisv: Option<[u8; 9]>,
        cx: &mut Context<'_, N>,
    ) -> Step {
        let stored = cx.record.stored_imei();
        if stored.is_some_and(|s| same_tac_snr(&s, &imei)) {
            self.state = State::Done(Outcome::Unchanged);
            return Ok(0);
        }
        let kind = match (cx.record.pending(), stored) {
            (Some(p), _) if same_tac_snr(&p.imei, &imei) => EventKind::RETRY,
            (_, None) => EventKind::FIRST_USE,
            (_, Some(_)) => EventKind::HANDSET_CHANGED,
        };
        self.attempt(
            Registration {
                kind,
                imei,
                imeisv,
                previous: stored,
            },
            cx,
        )
    }

    fn within_limits<const N: usize>(&self, cx: &Context<'_, N>) -> bool {
        let p = cx.record.retry_policy();
        let (count, _) = cx.record.period_after(cx.now_ms);
        self.attempts_this_cycle < p.max_attempts_per_power_cycle
            && count < p.max_attempts_per_period
            && cx.record.next_counter() < crate::wire::registration::COUNTER_MAX
    }

    /// Commit the attempt, then release SEND SHORT MESSAGE.
    fn attempt<const N: usize>(&mut self, reg: Registration, cx: &mut Context<'_, N>) -> Step {
        if !self.within_limits(cx) {
            self.state = State::Done(Outcome::RateLimited);
            return Ok(0);
        }
        let Ok(server) = cx.record.server() else {
            self.state = State::Done(Outcome::Misconfigured);
            return Ok(0);
        };
        let pending = PendingRegistration {
            kind: reg.kind,
            imei: reg.imei,
            imeisv: reg.imeisv,
        };
        let counter = cx.record.commit_attempt(cx.store, &pending, cx.now_ms)?;
        self.attempts_this_cycle = self.attempts_this_cycle.saturating_add(1);
        let cmd = self.next_cmd();
        let n = emit_send_sm(cmd, counter, &reg, &server, cx)?;
        self.state = State::AwaitingSmsResult { cmd, counter, reg };
        Ok(n)
    }

    /// After a failed SMS: arrange a wake-up if a retry is allowed.
    fn after_failure<const N: usize>(
        &mut self,
        reg: Registration,
        cx: &mut Context<'_, N>,
    ) -> Step {
        if !self.within_limits(cx) {
            self.state = State::Done(Outcome::GaveUp);
            return Ok(0);
        }
        if self.facilities.location_event && !self.event_registered {
            let cmd = self.next_cmd();
            let events = [Event::LOCATION_STATUS.0];
            let n =
                ProactiveCommand::SetUpEventList(SetUpEventList::new(cmd, &events)).emit(cx.out)?;
            self.state = State::AwaitingEventListResult { cmd, reg };
            return Ok(n);
        }
        self.arm_timer(reg, cx)
    }

    fn arm_timer<const N: usize>(&mut self, reg: Registration, cx: &mut Context<'_, N>) -> Step {
        if !self.facilities.timer {
            self.state = if self.event_registered {
                State::RetryWaiting { reg }
            } else {
                State::Done(Outcome::GaveUp)
            };
            return Ok(0);
        }
        let base = u32::from(cx.record.retry_policy().backoff_s).max(1);
        let shift = u32::from(self.attempts_this_cycle.saturating_sub(1)).min(16);
        let secs = base.saturating_mul(1 << shift).min(24 * 3600 - 1);
        let value = TimerValue::from_secs(secs).unwrap_or(TimerValue::new(23, 59, 59));
        let cmd = self.next_cmd();
        let n = ProactiveCommand::TimerManagement(TimerManagement::start(cmd, RETRY_TIMER, value))
            .emit(cx.out)?;
        self.state = State::AwaitingTimerResult { cmd, reg };
        Ok(n)
    }
}

/// Digits 1–14 equal: bytes 0..7 and the low nibble of byte 7 (TS 24.008 §10.5.1.4
/// layout, 03-imei.md §3).
pub fn same_tac_snr(a: &[u8; 8], b: &[u8; 8]) -> bool {
    a[..7] == b[..7] && a[7] & 0x0F == b[7] & 0x0F
}

/// The SEND SHORT MESSAGE for `reg`: registration message (docs/registration.md) in an
/// 8-bit SMS-SUBMIT to the provisioning server, null alpha identifier, SMS centre
/// address if configured.
fn emit_send_sm<const N: usize>(
    cmd: u8,
    counter: u64,
    reg: &Registration,
    server: &crate::wire::sms::Address,
    cx: &mut Context<'_, N>,
) -> Step {
    let msg = RegistrationRepr {
        key_id: cx.record.key_id(),
        event: reg.kind,
        iccid: cx.identity.iccid,
        imsi: cx.identity.imsi,
        counter,
        imei: reg.imei,
        imeisv: reg.imeisv,
        previous_imei: reg.previous,
    };
    let mut payload = [0u8; crate::wire::registration::MAX_LEN];
    let plen = msg.emit_signed(&cx.record.key(), &mut payload)?;
    let submit = SmsSubmit::new(
        0,
        *server,
        DataCodingScheme::EIGHT_BIT,
        UserData::octets(None, payload.get(..plen).unwrap_or(&[])),
    );
    let mut tpdu = [0u8; 96];
    let tlen = submit.emit(&mut tpdu)?;
    let mut sm = SendShortMessage::new(cmd, tpdu.get(..tlen).unwrap_or(&[]));
    sm.alpha = Some(AlphaIdentifier::null());
    sm.address = cx.record.smsc().and_then(|a| {
        let (&ton_npi, digits) = a.split_first()?;
        Some(CatAddress::new(ton_npi, digits))
    });
    Ok(ProactiveCommand::SendShortMessage(sm).emit(cx.out)?)
}

#[cfg(test)]
mod tests;
