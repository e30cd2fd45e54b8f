//! The terminal (ME): power-up sequence, toolkit, proactive loop — answered like a modem.
//!
//! A [`Terminal`] drives one card through a [`CardReader`] (with the T=0 rules of
//! [`crate::t0`] on top) as one handset ([`Handset`]) attached to one network
//! ([`NetworkLink`]). It is deterministic: time is a virtual clock in milliseconds that
//! only moves when the caller says so ([`Terminal::advance`]); nothing reads a wall
//! clock. Every step is recorded in the session log ([`LogEntry`], [`SessionEvent`]).
//!
//! Power-up ([`Terminal::power_up`], TS 102 221 §14 / TS 31.102 §5.1.1 order, as pySim and
//! real modems do it; `/work/shared/spec/01-apdu.md`):
//!
//! 1. ATR;
//! 2. `SELECT MF` with the UICC class `00`; a card that refuses the class is a GSM SIM
//!    and the rest runs with class `A0` (TS 51.011);
//! 3. EF.ICCID (`2FE2`) read;
//! 4. UICC: EF.DIR (`2F00`) records read, the first USIM AID (`A0000000871002…`)
//!    selected; without one, DF.GSM (`7F20`). GSM SIM: DF.GSM;
//! 5. PIN1 verified if a PIN was configured;
//! 6. EF.IMSI (`6F07`) read;
//! 7. TERMINAL PROFILE from the handset's capabilities; if the card answers `91xx`, the
//!    proactive loop runs.
//!
//! [`Terminal::power_up`] runs all seven steps at once. A handset that camps on the
//! network as a real ME does runs steps 1–6 with [`Terminal::start_card`] (which stops
//! for PIN1 when the card refuses EF.IMSI with `69 82`, see [`Terminal::enter_pin`]),
//! camps with [`Terminal::attach`], then step 7 with [`Terminal::start_toolkit`].
//!
//! [`Terminal::attach`] records the location status the ME now knows and reports it
//! with the location status event only if the card registered that event with SET UP
//! EVENT LIST and the status changed since the ME last knew it (TS 102 223 §7.5.4). The proactive loop is bounded
//! ([`TerminalConfig::max_proactive_commands`] per session) and every command gets
//! exactly one TERMINAL RESPONSE — see [`toolkit`] for the result codes.

pub mod describe;
pub mod log;
pub mod network;
mod toolkit;
pub mod uicc;

use std::collections::VecDeque;

use applet::wire::apdu::StatusWord;
use applet::wire::atr::Atr;
use applet::wire::bcd::{EfIccid, EfImsi};
use applet::wire::cat::{
    Address, Capability, Envelope, Event, EventDownload, LocationInformation, ServiceState,
    SmsPpDownload, TimerExpiration, TimerValue,
};
use applet::wire::sms::dcs::MessageClass;
use applet::wire::sms::tpdu::{ProtocolIdentifier, SmsDeliver};
use tracing::{debug, info, warn};

use crate::profile::Handset;
use crate::reader::{CardReader, ReaderError};
use crate::t0::{T0, T0Error};

pub use log::{LogEntry, Selected, SessionEvent};
pub use network::{
    LocationInfo, MoOutcome, MoRecord, NetworkLink, NetworkTime, Plmn, ServiceCentre, SimNetwork,
};

/// Prefix of a USIM AID: RID `A000000087` + application code `1002` (TS 101 220 Annex E;
/// `01-apdu.md` §5).
pub const USIM_AID_PREFIX: [u8; 7] = [0xA0, 0x00, 0x00, 0x00, 0x87, 0x10, 0x02];

/// How many EF.DIR records the terminal reads at most.
pub const MAX_EF_DIR_RECORDS: u8 = 16;

/// Terminal settings that are not part of the handset profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TerminalConfig {
    /// PIN1 to verify during power-up (ASCII digits, 4..=8).
    pub pin: Option<String>,
    /// Bound on proactive commands fetched in one proactive session (then the terminal
    /// stops fetching and reports [`TerminalError::ProactiveLimit`]).
    pub max_proactive_commands: usize,
    /// How often an ENVELOPE answered `93 00` (toolkit busy) is retried before it is
    /// dropped.
    pub max_envelope_retries: u32,
    /// Idle polling (STATUS) interval until the card sets one with POLL INTERVAL; `None`
    /// = no polling until then. TS 102 221 §14.6.? default of 30 s (UNVERIFIED clause).
    pub default_poll_interval_ms: Option<u64>,
}

impl Default for TerminalConfig {
    fn default() -> Self {
        TerminalConfig {
            pin: None,
            max_proactive_commands: 64,
            max_envelope_retries: 8,
            default_poll_interval_ms: Some(30_000),
        }
    }
}

/// Why a terminal operation stopped.
#[derive(Debug, thiserror::Error)]
pub enum TerminalError {
    /// The reader failed.
    #[error(transparent)]
    Reader(#[from] ReaderError),
    /// The T=0 layer failed (bad APDU, too many GET RESPONSE rounds, reader error).
    #[error(transparent)]
    Transport(#[from] T0Error),
    /// The card answered a step with an unexpected status word.
    #[error("{step}: card answered {sw:04X} ({})", StatusWord(*.sw).description())]
    Card {
        /// What the terminal was doing.
        step: &'static str,
        /// Status word.
        sw: u16,
    },
    /// PIN1 verification failed.
    #[error("PIN1 rejected, {retries} tries left")]
    WrongPin {
        /// Retries left as the card reported (`63 Cx`).
        retries: u8,
    },
    /// PIN1 is blocked.
    #[error("PIN1 is blocked (unblock with the PUK)")]
    PinBlocked,
    /// A file had content the terminal could not decode.
    #[error("{file}: unusable content {content} ({error})")]
    BadFile {
        /// File name.
        file: &'static str,
        /// Raw content, hex.
        content: String,
        /// Decoder error.
        error: applet::wire::Error,
    },
    /// The card kept sending proactive commands.
    #[error("the card sent {0} proactive commands in one session; the terminal stopped fetching")]
    ProactiveLimit(usize),
    /// A fetched command could not be answered at all.
    #[error("{0}")]
    Unanswerable(String),
    /// An operation needs a powered, initialised card.
    #[error("the card is not powered up (call power_up first)")]
    NotPoweredUp,
}

/// What power-up learnt about the card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardInfo {
    /// Answer-To-Reset.
    pub atr: Vec<u8>,
    /// ICCID digits.
    pub iccid: String,
    /// IMSI digits.
    pub imsi: String,
    /// What was selected.
    pub selected: Selected,
    /// Raw EF.ICCID (10 bytes).
    pub ef_iccid: Vec<u8>,
    /// Raw EF.IMSI (9 bytes).
    pub ef_imsi: Vec<u8>,
}

/// Answer of the card to an ENVELOPE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvelopeAnswer {
    /// Final status word.
    pub sw: u16,
    /// Response data (e.g. an SMS-PP proof of receipt).
    pub data: Vec<u8>,
}

/// What the terminal did with a mobile-terminated short message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MtOutcome {
    /// Class-2 data download: passed to the card in an SMS-PP DOWNLOAD envelope; the
    /// card's answer (`90 00`, `91xx`, or an error / busy status to report as RP-ERROR).
    Downloaded(EnvelopeAnswer),
    /// An ordinary message for the user (stored by the handset, not the card).
    ForUser,
    /// A data-download message this handset cannot pass on (no SMS-PP download in its
    /// profile).
    NotSupported,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimerState {
    pub(crate) started_ms: u64,
    pub(crate) expires_ms: u64,
}

#[derive(Debug, Clone)]
struct PendingEnvelope {
    data: Vec<u8>,
    attempts: u32,
    not_before_ms: u64,
}

/// Wait between two attempts of an ENVELOPE the card answered `93 00` (busy).
pub const BUSY_RETRY_MS: u64 = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Classes {
    /// Inter-industry commands (SELECT, READ BINARY, VERIFY).
    iso: u8,
    /// Toolkit / proprietary commands (TERMINAL PROFILE, FETCH, ENVELOPE, STATUS).
    cat: u8,
    /// GSM SIM (TS 51.011) command set.
    gsm: bool,
}

const UICC: Classes = Classes {
    iso: 0x00,
    cat: 0x80,
    gsm: false,
};
const GSM: Classes = Classes {
    iso: 0xA0,
    cat: 0xA0,
    gsm: true,
};

/// A handset terminal driving one card. See the module docs.
pub struct Terminal<R, N> {
    t0: T0<R>,
    network: N,
    handset: Handset,
    config: TerminalConfig,
    now_ms: u64,
    log: Vec<LogEntry>,
    classes: Classes,
    card: Option<CardInfo>,
    events: Vec<Event>,
    timers: [Option<TimerState>; 8],
    pending: VecDeque<PendingEnvelope>,
    poll_interval_ms: Option<u64>,
    last_poll_ms: u64,
    reported_location: Option<Option<LocationInfo>>,
    /// Power-up stopped before EF.IMSI: the card wants PIN1 ([`Terminal::enter_pin`]).
    awaiting_pin: Option<AwaitingPin>,
}

/// What power-up learnt before it stopped for PIN1.
#[derive(Debug, Clone)]
struct AwaitingPin {
    atr: Vec<u8>,
    iccid: String,
    ef_iccid: Vec<u8>,
    selected: Selected,
}

impl<R: CardReader, N: NetworkLink> Terminal<R, N> {
    /// A terminal for `handset` on `network`, with default settings.
    pub fn new(reader: R, handset: Handset, network: N) -> Self {
        Self::with_config(reader, handset, network, TerminalConfig::default())
    }

    /// A terminal with explicit settings.
    pub fn with_config(reader: R, handset: Handset, network: N, config: TerminalConfig) -> Self {
        Terminal {
            t0: T0::new(reader),
            network,
            poll_interval_ms: config.default_poll_interval_ms,
            handset,
            config,
            now_ms: 0,
            log: Vec::new(),
            classes: UICC,
            card: None,
            events: Vec::new(),
            timers: [None; 8],
            pending: VecDeque::new(),
            last_poll_ms: 0,
            reported_location: None,
            awaiting_pin: None,
        }
    }

    /// The session log so far.
    pub fn log(&self) -> &[LogEntry] {
        &self.log
    }

    /// Takes the session log, leaving it empty.
    pub fn take_log(&mut self) -> Vec<LogEntry> {
        std::mem::take(&mut self.log)
    }

    /// Virtual time, ms.
    pub fn now_ms(&self) -> u64 {
        self.now_ms
    }

    /// The handset this terminal plays.
    pub fn handset(&self) -> &Handset {
        &self.handset
    }

    /// The network.
    pub fn network(&self) -> &N {
        &self.network
    }

    /// The network, mutably (move the handset, script SMS outcomes).
    pub fn network_mut(&mut self) -> &mut N {
        &mut self.network
    }

    /// The reader.
    pub fn reader(&self) -> &R {
        self.t0.reader()
    }

    /// The reader, mutably.
    pub fn reader_mut(&mut self) -> &mut R {
        self.t0.reader_mut()
    }

    /// What power-up found, once it succeeded.
    pub fn card(&self) -> Option<&CardInfo> {
        self.card.as_ref()
    }

    /// Events registered by the card (SET UP EVENT LIST).
    pub fn registered_events(&self) -> &[Event] {
        &self.events
    }

    /// Splits into reader and network.
    pub fn into_parts(self) -> (R, N) {
        (self.t0.into_inner(), self.network)
    }

    pub(crate) fn record(&mut self, event: SessionEvent) {
        debug!(at_ms = self.now_ms, "{event}");
        self.log.push(LogEntry {
            at_ms: self.now_ms,
            event,
        });
    }

    fn fail(&mut self, e: TerminalError) -> TerminalError {
        self.record(SessionEvent::Error {
            message: e.to_string(),
        });
        e
    }

    fn send(&mut self, apdu: &[u8]) -> Result<crate::t0::Response, TerminalError> {
        match self.t0.transceive(apdu) {
            Ok(r) => Ok(r),
            Err(e) => Err(self.fail(e.into())),
        }
    }

    /// Sends `apdu` and requires `90 00` or `91 xx`.
    fn expect_ok(
        &mut self,
        step: &'static str,
        apdu: &[u8],
    ) -> Result<crate::t0::Response, TerminalError> {
        let r = self.send(apdu)?;
        if r.is_success() {
            Ok(r)
        } else {
            Err(self.fail(TerminalError::Card { step, sw: r.sw() }))
        }
    }

    fn select(&mut self, step: &'static str, fid: [u8; 2]) -> Result<(), TerminalError> {
        let c = self.classes;
        let apdu = if c.gsm {
            vec![c.iso, 0xA4, 0x00, 0x00, 0x02, fid[0], fid[1]]
        } else {
            vec![c.iso, 0xA4, 0x00, 0x04, 0x02, fid[0], fid[1], 0x00]
        };
        self.expect_ok(step, &apdu).map(|_| ())
    }

    fn read_binary(&mut self, step: &'static str, len: u8) -> Result<Vec<u8>, TerminalError> {
        let apdu = [self.classes.iso, 0xB0, 0x00, 0x00, len];
        Ok(self.expect_ok(step, &apdu)?.data)
    }

    /// Powers the card up and initialises it as this handset (module docs, steps 1–7),
    /// including the proactive session the TERMINAL PROFILE may open.
    ///
    /// A card that wants PIN1 when no [`TerminalConfig::pin`] is set fails here at
    /// `READ BINARY EF.IMSI` (`69 82`); use [`Terminal::start_card`] and
    /// [`Terminal::enter_pin`] to enter the PIN as a user would.
    pub fn power_up(&mut self) -> Result<CardInfo, TerminalError> {
        match self.start_card()? {
            Some(info) => {
                self.start_toolkit()?;
                Ok(info)
            }
            None => Err(TerminalError::Card {
                step: "READ BINARY EF.IMSI",
                sw: 0x6982,
            }),
        }
    }

    /// Power-up steps 1–6 (module docs): ATR to EF.IMSI, without the TERMINAL PROFILE.
    /// `Ok(None)` when the card refuses EF.IMSI with "security status not satisfied"
    /// (`69 82`, TS 102 221 §10.2.1.5) and no PIN was configured: the handset then
    /// asks its user for PIN1 ([`Terminal::enter_pin`]). A real ME camps on the
    /// network once it has the IMSI, before the TERMINAL PROFILE: call
    /// [`Terminal::attach`], then [`Terminal::start_toolkit`].
    pub fn start_card(&mut self) -> Result<Option<CardInfo>, TerminalError> {
        self.card = None;
        self.awaiting_pin = None;
        self.events.clear();
        self.timers = [None; 8];
        self.pending.clear();
        self.poll_interval_ms = self.config.default_poll_interval_ms;
        self.reported_location = None;
        let atr = match self.t0.reader_mut().power_on() {
            Ok(a) => a,
            Err(e) => return Err(self.fail(e.into())),
        };
        let protocols = match Atr::parse(&atr) {
            Ok(a) => (0u8..16).filter(|t| a.offers(*t)).collect(),
            Err(e) => {
                warn!("ATR does not parse: {e}");
                self.record(SessionEvent::Error {
                    message: format!("ATR does not parse ({e}); continuing with T=0"),
                });
                Vec::new()
            }
        };
        self.record(SessionEvent::Atr {
            raw: atr.clone(),
            protocols,
        });

        // UICC or GSM SIM?
        self.classes = UICC;
        let mf = self.send(&[0x00, 0xA4, 0x00, 0x04, 0x02, 0x3F, 0x00, 0x00])?;
        if !mf.is_success() {
            debug!(sw = mf.sw(), "UICC SELECT MF refused; trying GSM class A0");
            self.classes = GSM;
            self.select("SELECT MF (GSM)", [0x3F, 0x00])?;
        }

        self.select("SELECT EF.ICCID", [0x2F, 0xE2])?;
        let ef_iccid = self.read_binary("READ BINARY EF.ICCID", EfIccid::LEN as u8)?;
        let iccid = match EfIccid::parse(&ef_iccid) {
            Ok(i) => i.iccid.to_string(),
            Err(error) => {
                return Err(self.fail(TerminalError::BadFile {
                    file: "EF.ICCID",
                    content: hex::encode_upper(&ef_iccid),
                    error,
                }));
            }
        };
        self.record(SessionEvent::IccidRead {
            raw: ef_iccid.clone(),
            iccid: iccid.clone(),
        });

        let selected = if self.classes.gsm {
            self.select("SELECT DF.GSM", [0x7F, 0x20])?;
            Selected::DfGsmSim
        } else {
            match self.find_usim()? {
                Some((aid, label)) => {
                    let mut apdu = vec![0x00, 0xA4, 0x04, 0x04, aid.len() as u8];
                    apdu.extend_from_slice(&aid);
                    apdu.push(0x00);
                    self.expect_ok("SELECT ADF.USIM", &apdu)?;
                    Selected::Usim { aid, label }
                }
                None => {
                    self.select("SELECT MF", [0x3F, 0x00])?;
                    self.select("SELECT DF.GSM", [0x7F, 0x20])?;
                    Selected::DfGsmUicc
                }
            }
        };
        self.record(SessionEvent::Selected(selected.clone()));

        let pin_given = if let Some(pin) = self.config.pin.clone() {
            self.verify_pin(&pin)?;
            true
        } else {
            false
        };
        let waiting = AwaitingPin {
            atr,
            iccid,
            ef_iccid,
            selected,
        };
        if pin_given {
            return self.read_imsi(waiting).map(Some);
        }
        self.select("SELECT EF.IMSI", [0x6F, 0x07])?;
        let r = self.send(&[self.classes.iso, 0xB0, 0x00, 0x00, EfImsi::LEN as u8])?;
        // 69 82 (UICC) / 98 04 (GSM SIM, TS 51.011 §9.4.5): access condition not met.
        if matches!(r.sw(), 0x6982 | 0x9804) {
            info!("card wants PIN1 before EF.IMSI");
            self.awaiting_pin = Some(waiting);
            return Ok(None);
        }
        if !r.is_success() {
            return Err(self.fail(TerminalError::Card {
                step: "READ BINARY EF.IMSI",
                sw: r.sw(),
            }));
        }
        self.finish_card(waiting, r.data).map(Some)
    }

    /// PIN1 typed by the user after [`Terminal::start_card`] stopped for it: VERIFY
    /// (TS 102 221 §11.1.9), then EF.IMSI. `Ok(Some(info))` when the card is ready for
    /// [`Terminal::attach`] and [`Terminal::start_toolkit`]; a wrong PIN is an error
    /// ([`TerminalError::WrongPin`]) and the terminal keeps waiting for the PIN.
    pub fn enter_pin(&mut self, pin: &str) -> Result<CardInfo, TerminalError> {
        let Some(waiting) = self.awaiting_pin.clone() else {
            return Err(TerminalError::NotPoweredUp);
        };
        self.verify_pin(pin)?;
        self.awaiting_pin = None;
        self.read_imsi(waiting)
    }

    /// Whether power-up is stopped waiting for PIN1.
    pub fn awaiting_pin(&self) -> bool {
        self.awaiting_pin.is_some()
    }

    fn read_imsi(&mut self, w: AwaitingPin) -> Result<CardInfo, TerminalError> {
        self.select("SELECT EF.IMSI", [0x6F, 0x07])?;
        let ef_imsi = self.read_binary("READ BINARY EF.IMSI", EfImsi::LEN as u8)?;
        self.finish_card(w, ef_imsi)
    }

    fn finish_card(&mut self, w: AwaitingPin, ef_imsi: Vec<u8>) -> Result<CardInfo, TerminalError> {
        let AwaitingPin {
            atr,
            iccid,
            ef_iccid,
            selected,
        } = w;
        let imsi = match EfImsi::parse(&ef_imsi) {
            Ok(i) => i.imsi.to_string(),
            Err(error) => {
                return Err(self.fail(TerminalError::BadFile {
                    file: "EF.IMSI",
                    content: hex::encode_upper(&ef_imsi),
                    error,
                }));
            }
        };
        self.record(SessionEvent::ImsiRead {
            raw: ef_imsi.clone(),
            imsi: imsi.clone(),
        });

        let info = CardInfo {
            atr,
            iccid,
            imsi,
            selected,
            ef_iccid,
            ef_imsi,
        };
        self.card = Some(info.clone());
        info!(iccid = %info.iccid, imsi = %info.imsi, "card initialised");
        Ok(info)
    }

    /// Power-up step 7: TERMINAL PROFILE, then the proactive session it may open.
    pub fn start_toolkit(&mut self) -> Result<(), TerminalError> {
        if self.card.is_none() {
            return Err(TerminalError::NotPoweredUp);
        }
        let tp = self.handset.terminal_profile.as_bytes().to_vec();
        let mut apdu = vec![self.classes.cat, 0x10, 0x00, 0x00, tp.len() as u8];
        apdu.extend_from_slice(&tp);
        let r = self.expect_ok("TERMINAL PROFILE", &apdu)?;
        self.record(SessionEvent::TerminalProfileSent {
            profile: tp,
            sw: r.sw(),
        });
        self.proactive_session(r.sw())?;
        Ok(())
    }

    /// Reads EF.DIR and returns the first USIM AID with its label.
    fn find_usim(&mut self) -> Result<Option<DirEntry>, TerminalError> {
        let r = self.send(&[0x00, 0xA4, 0x00, 0x04, 0x02, 0x2F, 0x00, 0x00])?;
        if !r.is_success() {
            debug!(sw = r.sw(), "no EF.DIR");
            return Ok(None);
        }
        for rec in 1..=MAX_EF_DIR_RECORDS {
            let r = self.send(&[0x00, 0xB2, rec, 0x04, 0x00])?;
            if !r.is_success() {
                break;
            }
            if let Some(found) = parse_dir_record(&r.data)
                && found.0.starts_with(&USIM_AID_PREFIX)
            {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    fn verify_pin(&mut self, pin: &str) -> Result<(), TerminalError> {
        let mut block = [0xFFu8; 8];
        let bytes = pin.as_bytes();
        if !(4..=8).contains(&bytes.len()) || !bytes.iter().all(u8::is_ascii_digit) {
            return Err(self.fail(TerminalError::Unanswerable(format!(
                "PIN must be 4 to 8 digits, got {} characters",
                bytes.len()
            ))));
        }
        block[..bytes.len()].copy_from_slice(bytes);
        let mut apdu = vec![self.classes.iso, 0x20, 0x00, 0x01, 0x08];
        apdu.extend_from_slice(&block);
        let r = self.send(&apdu)?;
        match (r.sw1, r.sw2) {
            (0x90, 0x00) => {
                self.record(SessionEvent::PinVerified);
                Ok(())
            }
            (0x63, x) if x & 0xF0 == 0xC0 => {
                Err(self.fail(TerminalError::WrongPin { retries: x & 0x0F }))
            }
            (0x69, 0x83) | (0x98, 0x40) => Err(self.fail(TerminalError::PinBlocked)),
            (0x98, 0x04) => Err(self.fail(TerminalError::WrongPin { retries: 0 })),
            _ => Err(self.fail(TerminalError::Card {
                step: "VERIFY PIN",
                sw: r.sw(),
            })),
        }
    }

    /// Runs the proactive loop while the last status word is `91 xx`: FETCH, handle,
    /// TERMINAL RESPONSE (`02-cat.md` §8). Returns how many commands it handled.
    pub fn proactive_session(&mut self, mut sw: u16) -> Result<usize, TerminalError> {
        let mut handled = 0usize;
        while let Some(len) = StatusWord(sw).is_proactive_pending() {
            if handled >= self.config.max_proactive_commands {
                return Err(self.fail(TerminalError::ProactiveLimit(handled)));
            }
            handled += 1;
            let fetch = [self.classes.cat, 0x12, 0x00, 0x00, len];
            let r = self.send(&fetch)?;
            if r.sw() != 0x9000 || r.data.is_empty() {
                return Err(self.fail(TerminalError::Card {
                    step: "FETCH",
                    sw: r.sw(),
                }));
            }
            self.record(SessionEvent::ProactiveCommand {
                raw: r.data.clone(),
            });
            let tr = match self.handle_command(&r.data) {
                toolkit::Handled::Respond(tr) => tr,
                toolkit::Handled::Unanswerable(m) => {
                    return Err(self.fail(TerminalError::Unanswerable(m)));
                }
            };
            let mut apdu = vec![self.classes.cat, 0x14, 0x00, 0x00, tr.len() as u8];
            apdu.extend_from_slice(&tr);
            let r = self.send(&apdu)?;
            self.record(SessionEvent::TerminalResponse {
                raw: tr,
                sw: r.sw(),
            });
            if !r.is_success() {
                return Err(self.fail(TerminalError::Card {
                    step: "TERMINAL RESPONSE",
                    sw: r.sw(),
                }));
            }
            sw = r.sw();
        }
        Ok(handled)
    }

    /// Sends one ENVELOPE now (no queueing) and runs the proactive session it may open.
    pub fn envelope(&mut self, data: &[u8]) -> Result<EnvelopeAnswer, TerminalError> {
        if self.card.is_none() {
            return Err(TerminalError::NotPoweredUp);
        }
        let mut apdu = vec![self.classes.cat, 0xC2, 0x00, 0x00, data.len() as u8];
        apdu.extend_from_slice(data);
        let r = self.send(&apdu)?;
        self.record(SessionEvent::Envelope {
            raw: data.to_vec(),
            sw: r.sw(),
            response: r.data.clone(),
        });
        let answer = EnvelopeAnswer {
            sw: r.sw(),
            data: r.data,
        };
        self.proactive_session(answer.sw)?;
        Ok(answer)
    }

    /// Queues an ENVELOPE that must reach the card (event download, timer expiration):
    /// sent now, and retried on [`Terminal::advance`] while the card answers `93 00`.
    fn queue_envelope(&mut self, data: Vec<u8>) -> Result<(), TerminalError> {
        self.pending.push_back(PendingEnvelope {
            data,
            attempts: 0,
            not_before_ms: self.now_ms,
        });
        self.flush_envelopes()
    }

    fn flush_envelopes(&mut self) -> Result<(), TerminalError> {
        while let Some(mut p) = self.pending.pop_front() {
            if p.not_before_ms > self.now_ms {
                self.pending.push_front(p);
                break;
            }
            p.attempts += 1;
            let answer = self.envelope(&p.data)?;
            if answer.sw == 0x9300 {
                if p.attempts > self.config.max_envelope_retries {
                    self.record(SessionEvent::Error {
                        message: format!(
                            "ENVELOPE dropped after {} busy answers (93 00)",
                            p.attempts
                        ),
                    });
                    continue;
                }
                p.not_before_ms = self.now_ms + BUSY_RETRY_MS;
                self.pending.push_front(p);
                break;
            }
        }
        Ok(())
    }

    /// Attaches to the network (or re-reports after the location changed): sends the
    /// location status EVENT DOWNLOAD if the card registered that event (TS 102 223
    /// §7.5.4; `02-cat.md` §9) and the status differs from what was last reported.
    pub fn attach(&mut self) -> Result<(), TerminalError> {
        if self.card.is_none() {
            return Err(TerminalError::NotPoweredUp);
        }
        let loc = self.network.location();
        if self.reported_location == Some(loc) {
            return Ok(());
        }
        // The ME knows its location status from now on, whether or not the card asked
        // for the event: a later SET UP EVENT LIST only brings reports of changes
        // (TS 102 223 §4.7, §7.5.4), not of the status the ME already had.
        self.reported_location = Some(loc);
        if !self.events.contains(&Event::LOCATION_STATUS) {
            return Ok(());
        }
        let ev = match loc {
            Some(l) => EventDownload::location_status(
                l.service,
                Some(LocationInformation::new(
                    l.plmn.to_bytes(),
                    l.lac,
                    l.cell_id,
                )),
            ),
            None => EventDownload::location_status(ServiceState::NO_SERVICE, None),
        };
        let data = emit_envelope(&Envelope::EventDownload(ev));
        self.queue_envelope(data)
    }

    /// The next virtual time at which something is due (a timer, a busy ENVELOPE retry
    /// or a STATUS poll), if any.
    pub fn next_deadline(&self) -> Option<u64> {
        let timers = self.timers.iter().flatten().map(|t| t.expires_ms).min();
        let poll = self.poll_interval_ms.map(|i| self.last_poll_ms + i);
        let retry = self.pending.front().map(|p| p.not_before_ms);
        [timers, poll, retry].into_iter().flatten().min()
    }

    /// Moves the virtual clock to `now_ms` (never backwards) without doing anything
    /// that is due. A driver that visits each terminal only at its own deadlines keeps
    /// an idle terminal's clock current this way before handing it an event (an MT SMS),
    /// so that what the event starts (a timer, an MO SMS) is stamped with the right
    /// time; what falls due stays for the driver's next visit ([`Terminal::advance`]).
    pub fn set_now(&mut self, now_ms: u64) {
        self.now_ms = self.now_ms.max(now_ms);
    }

    /// Moves the virtual clock to `now_ms` (never backwards) and does what is due at
    /// that time: expired timers become TIMER EXPIRATION envelopes, busy envelopes are
    /// retried, and the card is polled with STATUS when the poll interval has passed.
    pub fn advance(&mut self, now_ms: u64) -> Result<(), TerminalError> {
        self.now_ms = self.now_ms.max(now_ms);
        if self.card.is_none() {
            return Ok(());
        }
        self.flush_envelopes()?;
        // Timers, earliest first.
        loop {
            let due = self
                .timers
                .iter()
                .enumerate()
                .filter_map(|(i, t)| t.filter(|t| t.expires_ms <= self.now_ms).map(|t| (i, t)))
                .min_by_key(|(i, t)| (t.expires_ms, *i));
            let Some((i, t)) = due else { break };
            self.timers[i] = None;
            if !self.handset.supports(Capability::TIMER_EXPIRATION) {
                continue;
            }
            let elapsed = ((self.now_ms - t.started_ms) / 1000).min(24 * 3600 - 1) as u32;
            let value = TimerValue::from_secs(elapsed).unwrap_or(TimerValue::new(23, 59, 59));
            let data = emit_envelope(&Envelope::TimerExpiration(TimerExpiration::new(
                (i + 1) as u8,
                value,
            )));
            self.queue_envelope(data)?;
        }
        if let Some(interval) = self.poll_interval_ms
            && self.now_ms >= self.last_poll_ms + interval
        {
            self.last_poll_ms = self.now_ms;
            let apdu = if self.classes.gsm {
                [0xA0, 0xF2, 0x00, 0x00, 0x00]
            } else {
                [0x80, 0xF2, 0x00, 0x0C, 0x00]
            };
            let r = self.send(&apdu)?;
            self.proactive_session(r.sw())?;
        }
        Ok(())
    }

    /// Runs the clock up to `until_ms`, stopping at every deadline on the way so timers
    /// expire on time. Bounded: at most 10 000 steps.
    pub fn run_until(&mut self, until_ms: u64) -> Result<(), TerminalError> {
        for _ in 0..10_000 {
            match self.next_deadline() {
                Some(d) if d <= until_ms && d > self.now_ms => self.advance(d)?,
                // Something already due (e.g. a zero-length timer started just now).
                Some(d) if d <= self.now_ms => self.advance(self.now_ms)?,
                _ => break,
            }
        }
        self.advance(until_ms)
    }

    /// A mobile-terminated SMS arrives (raw SMS-DELIVER TPDU from `smsc`). Class-2
    /// messages with PID `7F` go to the card in an SMS-PP DOWNLOAD envelope (TS 31.111
    /// §7.1.1; `04-sms.md` §5), everything else is for the user.
    pub fn deliver_sms(
        &mut self,
        smsc: Option<&ServiceCentre>,
        tpdu: &[u8],
    ) -> Result<MtOutcome, TerminalError> {
        if self.card.is_none() {
            return Err(TerminalError::NotPoweredUp);
        }
        let deliver = match SmsDeliver::parse(tpdu) {
            Ok(d) => d,
            Err(e) => {
                self.record(SessionEvent::Error {
                    message: format!("MT SMS is not an SMS-DELIVER ({e}); ignored"),
                });
                return Ok(MtOutcome::ForUser);
            }
        };
        if deliver.pid != ProtocolIdentifier::SIM_DATA_DOWNLOAD
            || deliver.dcs.class() != Some(MessageClass::Class2)
        {
            return Ok(MtOutcome::ForUser);
        }
        if !self.handset.supports(Capability::SMS_PP_DATA_DOWNLOAD) {
            self.record(SessionEvent::Error {
                message: "data-download SMS, but this handset has no SMS-PP download".into(),
            });
            return Ok(MtOutcome::NotSupported);
        }
        let bcd = smsc.map(|s| digits_to_bcd(&s.digits));
        let address = smsc
            .zip(bcd.as_deref())
            .map(|(s, b)| Address::new(s.ton_npi, b));
        let data = emit_envelope(&Envelope::SmsPpDownload(SmsPpDownload::new(address, tpdu)));
        Ok(MtOutcome::Downloaded(self.envelope(&data)?))
    }

    /// Removes power from the card.
    pub fn power_off(&mut self) {
        self.t0.reader_mut().power_off();
        self.card = None;
        self.awaiting_pin = None;
    }
}

/// An application in EF.DIR: AID and optional label.
type DirEntry = (Vec<u8>, Option<String>);

fn emit_envelope(e: &Envelope<'_>) -> Vec<u8> {
    let mut buf = vec![0u8; e.buffer_len()];
    match e.emit(&mut buf) {
        Ok(n) => buf.truncate(n),
        Err(_) => buf.clear(),
    }
    buf
}

/// Dialling digits → swapped BCD with `F` fill (TS 102 223 §8.1, `02-cat.md` §2).
fn digits_to_bcd(digits: &str) -> Vec<u8> {
    let nib: Vec<u8> = digits
        .chars()
        .filter_map(|c| match c {
            '0'..='9' => Some(c as u8 - b'0'),
            '*' => Some(0xA),
            '#' => Some(0xB),
            'a' => Some(0xC),
            'b' => Some(0xD),
            'c' => Some(0xE),
            _ => None,
        })
        .collect();
    nib.chunks(2)
        .map(|p| p[0] | (p.get(1).copied().unwrap_or(0xF) << 4))
        .collect()
}

/// An EF.DIR record: `61 L 4F L <AID> [50 L <label>] …`, `FF` padded (TS 102 221 §13.1).
fn parse_dir_record(rec: &[u8]) -> Option<DirEntry> {
    use applet::wire::tlv::BerTlv;
    let (app, _) = BerTlv::parse_prefix(rec).ok()?;
    if app.tag.0 != 0x61 {
        return None;
    }
    let mut rest = app.value;
    let mut aid = None;
    let mut label = None;
    while !rest.is_empty() {
        let (t, r) = BerTlv::parse_prefix(rest).ok()?;
        match t.tag.0 {
            0x4F => aid = Some(t.value.to_vec()),
            0x50 => label = Some(String::from_utf8_lossy(t.value).into_owned()),
            _ => {}
        }
        rest = r;
    }
    aid.map(|a| (a, label))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ef_dir_record() {
        // 01-apdu.md §5 (pySim EF_DIR vector): AID and label "USim1"; the digest cuts
        // the record after the label, so the template is closed there and FF padded.
        let rec = hex::decode(
            "61194F10A0000000871002FFFFFFFF89070900005005555369 6D31FFFFFFFF".replace(' ', ""),
        )
        .unwrap();
        let (aid, label) = parse_dir_record(&rec).unwrap();
        assert_eq!(hex::encode_upper(aid), "A0000000871002FFFFFFFF8907090000");
        assert_eq!(label.as_deref(), Some("USim1"));
        assert!(parse_dir_record(&[0xFF; 20]).is_none());
    }

    #[test]
    fn bcd_digits() {
        assert_eq!(
            digits_to_bcd("44770090000"),
            [0x44, 0x77, 0x00, 0x09, 0x00, 0xF0]
        );
    }
}
