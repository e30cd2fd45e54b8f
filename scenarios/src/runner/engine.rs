//! The boundary between the runner and whatever plays the world: the [`Engine`] trait,
//! the [`Event`]s it emits for the ladder diagram, and the [`Observation`] it exposes
//! for expectations.
//!
//! The runner owns the story (steps in order, expectations, timing, reports); an
//! engine owns the world (card, handset, network, stub, manufacturer, virtual clock).
//! Observations are *cumulative* (everything sent since the start); the runner takes
//! one before and one after each step and derives "during this step" itself, so an
//! engine never needs to know which expectations exist.

use std::collections::BTreeMap;
use std::fmt;

use crate::scenario::format::{
    KeySourceExpect, LedgerKind, RegistrationEvent, RejectReason, SessionOutcome,
};
use crate::scenario::{Scenario, Step};

/// The five participants of a SIM swap: the columns of the ladder diagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Lane {
    /// The UICC and its IMEI-tracking applet.
    Card,
    /// The handset (terminal, toolkit, provisioning session).
    Handset,
    /// The radio network and its SMSC.
    Network,
    /// The provisioning stub.
    Stub,
    /// The manufacturer's key server.
    Manufacturer,
}

impl Lane {
    /// All lanes, left to right.
    pub const ALL: [Lane; 5] = [
        Lane::Card,
        Lane::Handset,
        Lane::Network,
        Lane::Stub,
        Lane::Manufacturer,
    ];

    /// Column index, left to right.
    pub fn index(self) -> usize {
        self as usize
    }

    /// Display name.
    pub fn name(self) -> &'static str {
        match self {
            Lane::Card => "card",
            Lane::Handset => "handset",
            Lane::Network => "network",
            Lane::Stub => "stub",
            Lane::Manufacturer => "manufacturer",
        }
    }
}

/// One message between two participants, as the ladder diagram shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Virtual time in milliseconds since the scenario started.
    pub t_ms: u64,
    /// Sender.
    pub from: Lane,
    /// Receiver (may equal `from` for an internal action such as an NVM commit).
    pub to: Lane,
    /// Short label on the arrow (`FETCH → SEND SHORT MESSAGE`, `deliver_sm`).
    pub label: String,
    /// The decoded message, one field per line.
    pub detail_lines: Vec<String>,
    /// The bytes as sent, in hex (empty when there are none, e.g. a power cut).
    pub raw_hex: String,
}

/// A registration SMS the card sent (what left the handset, whatever became of it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentRegistration {
    /// Virtual time.
    pub t_ms: u64,
    /// Event kind in the message.
    pub event: RegistrationEvent,
    /// IMEI carried.
    pub imei: String,
}

/// The stub's verdict on one registration claiming a card's ICCID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Virtual time.
    pub t_ms: u64,
    /// Outcome.
    pub outcome: VerdictOutcome,
}

/// Accepted (with the treatment) or rejected (with the reason).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerdictOutcome {
    /// Verified and handled.
    Accepted {
        /// Judged depreciated (APN with device key) rather than standard.
        depreciated: bool,
        /// Where the key came from, when one was issued.
        key_source: Option<KeySourceExpect>,
    },
    /// Not handled.
    Rejected(RejectReason),
}

/// What can be seen of a card.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CardObservation {
    /// Handset the card is in.
    pub in_handset: Option<String>,
    /// IMEI committed in NVM.
    pub stored_imei: Option<String>,
    /// How the last toolkit session ended (`None` before the first power-up).
    pub session: Option<SessionOutcome>,
    /// Whether an attempted registration is pending (counter reserved, not yet sent
    /// successfully).
    pub pending: bool,
    /// Registration SMS attempts in the current power cycle.
    pub attempts: u32,
    /// Registration counter in NVM.
    pub counter: u64,
    /// Every registration SMS the card sent, in order.
    pub sent: Vec<SentRegistration>,
    /// Every verdict of the stub on registrations claiming this card, in order.
    pub verdicts: Vec<Verdict>,
}

/// What can be seen of a handset.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HandsetObservation {
    /// Switched on.
    pub powered: bool,
    /// Card inserted.
    pub card: Option<String>,
    /// APNs configured by provisioning, in order.
    pub apns: Vec<String>,
    /// A device key is stored on the handset now.
    pub device_key_present: bool,
    /// A device key was used in a provisioning session.
    pub device_key_used: bool,
    /// The MMS client reaches the manufacturer's server.
    pub mms_working: bool,
}

/// One ledger entry.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct LedgerEntry {
    /// Kind.
    pub kind: LedgerKind,
    /// Operator or manufacturer id (as in the scenario).
    pub party: String,
    /// Amount in minor units.
    pub amount_minor: i64,
    /// ISO 4217 currency.
    pub currency: String,
}

/// Fleet totals.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FleetObservation {
    /// Registration SMS sent by the fleet's cards.
    pub registrations: u64,
    /// Registrations accepted by the stub.
    pub accepted: u64,
    /// Handsets with an APN configured.
    pub configured: u64,
    /// The most registration SMS any one card sent.
    pub max_sms_per_card: u32,
}

/// Everything expectations can look at, cumulative since the start.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observation {
    /// Virtual time now.
    pub now_ms: u64,
    /// Cards by scenario name.
    pub cards: BTreeMap<String, CardObservation>,
    /// Handsets by scenario name.
    pub handsets: BTreeMap<String, HandsetObservation>,
    /// Whether the stub is running.
    pub stub_running: bool,
    /// The whole ledger.
    pub ledger: Vec<LedgerEntry>,
    /// Fleets by scenario name.
    pub fleets: BTreeMap<String, FleetObservation>,
}

/// Why an engine could not start or play a step.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// No engine is linked into this build.
    #[error(
        "engine not built yet: the scenario engine needs the card (applet::card), the handset terminal (handset_sim::terminal) and the stub daemon (provisioning_stub::server); `imeitrack check` validates scenario files meanwhile"
    )]
    NotBuilt,
    /// The engine cannot do what the scenario or options ask.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// Something in the world failed (not an expectation: a broken simulation).
    #[error("{0}")]
    Failed(String),
}

/// How the world is built (`imeitrack run` options).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EngineOptions {
    /// `--stub HOST:PORT`: an external stub reached through the network simulator's
    /// SMPP side, instead of the embedded one.
    pub stub: Option<String>,
    /// `--reader pcsc:NAME`: a real (or vpcd) card for the scenario's card.
    pub reader: Option<String>,
    /// `--trace-dir DIR`: write one `.apdu` trace per card into DIR (which exists) when
    /// the scenario ends ([`Engine::finish`]).
    pub trace_dir: Option<std::path::PathBuf>,
    /// `--card NAME`: which scenario card is in the reader (default: the only one).
    pub card: Option<String>,
    /// `--stub-config FILE`: the external stub's configuration (as `imeitrack
    /// stub-config` wrote it), whose SQLite store holds the verdicts and the ledger.
    pub stub_config: Option<std::path::PathBuf>,
}

/// Plays one scenario's world. Created per scenario by an [`EngineFactory`], with the
/// world built from [`Scenario::world`] and every random choice drawn from
/// [`Scenario::seed`]; virtual time starts at 0.
pub trait Engine: Send {
    /// Plays one step to completion (everything it triggers that is due at the current
    /// virtual time, or within the step's duration for `advance`) and returns the
    /// messages exchanged, in time order.
    fn step(&mut self, step: &Step) -> Result<Vec<Event>, EngineError>;

    /// The world as it is now.
    fn observe(&self) -> Observation;

    /// Called once when the scenario ends (passed, failed or stopped by an error):
    /// write what the options ask for (`--trace-dir`). Default: nothing.
    fn finish(&mut self) -> Result<(), EngineError> {
        Ok(())
    }
}

/// Builds an [`Engine`] per scenario; shared by the runner's worker threads.
pub trait EngineFactory: Sync {
    /// A fresh world for `scenario`.
    fn start(
        &self,
        scenario: &Scenario,
        options: &EngineOptions,
    ) -> Result<Box<dyn Engine>, EngineError>;
}

/// The factory of a build without an engine: every start fails with
/// [`EngineError::NotBuilt`].
#[derive(Debug, Clone, Copy, Default)]
pub struct NoEngine;

impl EngineFactory for NoEngine {
    fn start(&self, _: &Scenario, _: &EngineOptions) -> Result<Box<dyn Engine>, EngineError> {
        Err(EngineError::NotBuilt)
    }
}

impl fmt::Display for Lane {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
