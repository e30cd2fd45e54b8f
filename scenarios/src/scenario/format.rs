//! The scenario file as written: serde types with `deny_unknown_fields`, and spans
//! ([`Spanned`]) on every value that refers to something else, so validation can point
//! at it. See `docs/scenarios.md` for the prose description and a full example.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use super::values::{Date, Duration, E164, Iccid, Imei, Imsi, Key128, Pin, Plmn, Serial, Tac};

/// A whole scenario file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    /// One line saying what the story is (shown by `imeitrack list`).
    pub title: String,
    /// Longer explanation.
    #[serde(default)]
    pub description: String,
    /// Free tags (`fig1`, `fault`, `bulk`, …).
    #[serde(default)]
    pub tags: Vec<String>,
    /// Mixed into the per-scenario seed (which is otherwise derived from the file name).
    pub seed: Option<u64>,
    /// Everything that exists before the first step.
    pub world: World,
    /// The story, in order (`[[step]]`).
    #[serde(default, rename = "step")]
    pub steps: Vec<Spanned<StepFile>>,
}

/// The world: networks, operators, manufacturers, models, handsets, cards, fleets and
/// the provisioning policy.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct World {
    /// "Today" for the depreciation policy's age rule; default 2026-06-01.
    pub date: Option<Date>,
    /// Radio networks by name.
    #[serde(default)]
    pub networks: BTreeMap<String, Network>,
    /// Operators (MNOs and MVNOs) by name.
    #[serde(default)]
    pub operators: BTreeMap<String, Operator>,
    /// Manufacturers by id; added to (and overriding) the built-in business facts
    /// (`src/scenario/business.toml`).
    #[serde(default)]
    pub manufacturers: BTreeMap<String, Manufacturer>,
    /// `[world.models]` as written: business facts about handset-sim catalogue models
    /// (by id), or whole models only this scenario uses.
    #[serde(default, rename = "models")]
    pub model_entries: BTreeMap<String, Spanned<ModelEntry>>,
    /// Every model the scenario can use, by id, resolved by validation: each
    /// `handset-sim/catalogue/<id>.toml` model with its business facts, and the models
    /// only this scenario declares. Empty until validated.
    #[serde(skip)]
    pub models: BTreeMap<String, Model>,
    /// Physical handsets by name.
    #[serde(default)]
    pub handsets: BTreeMap<String, Handset>,
    /// UICCs by name.
    #[serde(default)]
    pub cards: BTreeMap<String, Card>,
    /// Generated populations of subscribers, each with its own card and handset.
    #[serde(default)]
    pub fleets: BTreeMap<String, Fleet>,
    /// Depreciation policy of the provisioning stub.
    #[serde(default)]
    pub policy: Policy,
}

/// A radio network with its SMSC.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// Network identity broadcast to handsets.
    pub plmn: Plmn,
    /// Location area code of the serving cell (default 1).
    #[serde(default = "one")]
    pub lac: u16,
    /// Cell identity (default 1).
    #[serde(default = "one")]
    pub cell: u16,
    /// SMSC address (E.164 digits).
    pub smsc: E164,
}

fn one() -> u16 {
    1
}

/// An operator: an MNO on its own network or an MVNO hosted on another's.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Operator {
    /// Home PLMN: its subscribers' IMSIs start with these digits.
    pub plmn: Spanned<Plmn>,
    /// The network whose radio access its subscribers use.
    pub network: Spanned<String>,
    /// Whether it is a mobile virtual network operator.
    #[serde(default)]
    pub mvno: bool,
    /// Internet APN sent with the standard settings.
    pub apn: String,
    /// Fee per delivered device key (claim 4).
    pub fee: Option<Fee>,
    /// Manufacturers that configure their devices for this operator.
    #[serde(default)]
    pub relationships: Vec<Spanned<String>>,
}

/// A fee in minor units of an ISO 4217 currency.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fee {
    /// Amount in minor units (cents).
    pub amount_minor: i64,
    /// ISO 4217 code.
    pub currency: String,
}

/// Where the provisioning stub gets a depreciated device's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeySource {
    /// The stub's local key store (FIG. 2 / 5A).
    Local,
    /// The manufacturer's key server over mutual TLS (FIG. 4 / 5B).
    Manufacturer,
    /// No key can be had.
    None,
}

/// A manufacturer.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manufacturer {
    /// Display name (as in the device database). The handset-sim catalogue models whose
    /// profile names this `manufacturer` are this manufacturer's.
    pub name: String,
    /// Where device keys come from (default: the manufacturer's server).
    #[serde(default = "default_keys")]
    pub keys: KeySource,
    /// Share of each payment (claim 7).
    pub share: Option<Share>,
}

fn default_keys() -> KeySource {
    KeySource::Manufacturer
}

/// A manufacturer's share of each payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Share {
    /// Basis points (1/10 000) of the payment.
    BasisPoints(u32),
    /// A fixed amount in minor units.
    FixedMinor(i64),
}

/// A `[world.models.ID]` table (or a `[models.ID]` entry of the built-in business
/// facts). For an ID of `handset-sim/catalogue/` only the business facts may be given
/// (`manufacturer`, `released`, `in_database`): the rest comes from the profile. Any
/// other ID declares a model only this scenario uses: `tac`, `manufacturer`, `name` and
/// `released` are then required.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelEntry {
    /// Type Allocation Code.
    pub tac: Option<Spanned<Tac>>,
    /// Manufacturer id (default for a catalogue model: the manufacturer whose `name` is
    /// the profile's `manufacturer`).
    pub manufacturer: Option<Spanned<String>>,
    /// Model name.
    pub name: Option<Spanned<String>>,
    /// Release date (for the policy's age rule; default for a catalogue model:
    /// 1 January of its `release_year`).
    pub released: Option<Date>,
    /// Whether the terminal supports the toolkit commands the applet needs
    /// (PROVIDE LOCAL INFORMATION IMEI, SEND SHORT MESSAGE); default true. Only for a
    /// model the scenario declares (a catalogue model's capabilities are its profile's).
    pub toolkit: Option<Spanned<bool>>,
    /// Whether the stub's device database knows the TAC; default true.
    pub in_database: Option<bool>,
}

/// A handset model as the engine uses it (a row of the device database when
/// `in_database`), resolved from the handset catalogue and the business facts.
#[derive(Debug, Clone)]
pub struct Model {
    /// Type Allocation Code.
    pub tac: Tac,
    /// Manufacturer id.
    pub manufacturer: Spanned<String>,
    /// Model name.
    pub name: String,
    /// Release date (for the policy's age rule).
    pub released: Date,
    /// Whether the terminal supports the toolkit commands the applet needs
    /// (PROVIDE LOCAL INFORMATION IMEI, SEND SHORT MESSAGE).
    pub toolkit: bool,
    /// Whether the stub's device database knows the TAC.
    pub in_database: bool,
    /// The model's profile in `handset-sim/catalogue/` (capabilities, IMEISV software
    /// version, language); `None` for a model only the scenario declares, which gets
    /// every capability (without PROVIDE LOCAL INFORMATION and SEND SHORT MESSAGE when
    /// `toolkit = false`).
    pub profile: Option<handset_sim::profile::HandsetProfile>,
}

fn yes() -> bool {
    true
}

/// A physical handset.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Handset {
    /// Model id (the world's models or the built-in catalogue).
    pub model: Spanned<String>,
    /// Serial number; the IMEI is TAC + serial + Luhn digit.
    pub serial: Option<Spanned<Serial>>,
    /// Or the exact IMEI the handset reports (may be invalid on purpose).
    pub imei: Option<Spanned<Imei>>,
    /// Overrides the model's toolkit support.
    pub toolkit: Option<bool>,
}

/// A UICC with the IMEI-tracking applet.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Card {
    /// Operator the subscription belongs to.
    pub operator: Spanned<String>,
    /// EF.ICCID.
    pub iccid: Spanned<Iccid>,
    /// EF.IMSI; must start with the operator's PLMN.
    pub imsi: Spanned<Imsi>,
    /// Subscriber number.
    pub msisdn: E164,
    /// PIN1; when set the card is PIN-protected (enabled).
    pub pin: Option<Pin>,
    /// IMEI already committed at personalisation (default: none, so first use).
    pub stored_imei: Option<Imei>,
    /// Registration counter at personalisation (default 0).
    #[serde(default)]
    pub counter: u64,
    /// AES-128 registration key (default: derived from the scenario seed and ICCID).
    pub registration_key: Option<Key128>,
    /// Retry policy of the applet.
    pub retry: Option<Retry>,
}

/// The applet's retry and rate-limit policy (`applet::tracker::RetryPolicy`); fields
/// left out keep the applet's defaults (3 per power cycle, 10 per day, 60 s back-off).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retry {
    /// Registration SMS per power cycle, the first one included (1–255).
    pub per_power_cycle: Option<Spanned<u8>>,
    /// Registration SMS per period, persistent across power cycles (1–255).
    pub per_period: Option<Spanned<u8>>,
    /// Length of the rate-limit period.
    pub period: Option<Duration>,
    /// Back-off before the first retry, doubled for every further retry.
    pub backoff: Option<Duration>,
}

/// A generated population of subscribers.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fleet {
    /// Number of subscribers (1 to 1 000 000).
    pub count: Spanned<u32>,
    /// Operator of every card.
    pub operator: Spanned<String>,
    /// Model of every subscriber's first handset.
    pub model: Spanned<String>,
    /// Whether every card has already registered its first handset (default true).
    #[serde(default = "yes")]
    pub registered: bool,
}

/// What the stub does with a TAC missing from the device database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnknownTac {
    /// Standard settings, as for a supported device.
    #[default]
    Standard,
    /// Nothing is sent.
    Reject,
    /// Handle as depreciated (local key store only).
    Depreciated,
}

/// The stub's depreciation policy.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Age cutoff in months after release; none = no age rule.
    pub max_age_months: Option<u32>,
    /// Handling of unknown TACs.
    #[serde(default)]
    pub unknown_tac: UnknownTac,
    /// Model ids on their manufacturers' depreciated lists.
    #[serde(default)]
    pub depreciated: Vec<Spanned<String>>,
}

/// One `[[step]]` as written: exactly one action key (or none, for a pure check
/// point) and an optional `expect` table.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepFile {
    /// Label shown in reports (default: the action written out).
    pub name: Option<String>,
    /// Insert a card into a handset.
    pub insert: Option<Spanned<Insert>>,
    /// Remove a card from its handset (card name).
    pub remove: Option<Spanned<String>>,
    /// Take a card out of its handset and insert it into another.
    #[serde(rename = "move")]
    pub move_card: Option<Spanned<Move>>,
    /// Switch a handset on (handset name).
    pub power_on: Option<Spanned<String>>,
    /// Switch a handset off (handset name).
    pub power_off: Option<Spanned<String>>,
    /// Attach a handset to a network other than its card's home.
    pub attach: Option<Spanned<Attach>>,
    /// Let virtual time pass.
    pub advance: Option<Spanned<Duration>>,
    /// Change the network's faults.
    pub fault: Option<Spanned<Fault>>,
    /// Cut the card's power at an NVM write.
    pub cut_power: Option<Spanned<CutPower>>,
    /// Stop, start or restart the provisioning stub.
    pub stub: Option<Spanned<StubControl>>,
    /// The user enters a PIN on a handset.
    pub enter_pin: Option<Spanned<EnterPin>>,
    /// The network re-submits a registration SMS a card sent earlier.
    pub replay: Option<Spanned<Replay>>,
    /// An attacker submits a registration claiming a card's identity.
    pub forge: Option<Spanned<Forge>>,
    /// Every subscriber of a fleet moves its card into a new handset.
    pub fleet_swap: Option<Spanned<FleetSwap>>,
    /// What must hold after the step.
    pub expect: Option<Spanned<Expect>>,
}

/// `insert = { card, handset }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Insert {
    /// Card name.
    pub card: Spanned<String>,
    /// Handset name.
    pub handset: Spanned<String>,
}

/// `move = { card, to }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Move {
    /// Card name.
    pub card: Spanned<String>,
    /// Target handset name.
    pub to: Spanned<String>,
}

/// `attach = { handset, network }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attach {
    /// Handset name.
    pub handset: Spanned<String>,
    /// Network name.
    pub network: Spanned<String>,
}

/// `fault = { … }`: one or more changes to the network's faults.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    /// Network whose SMSC is affected (default: every network).
    pub network: Option<Spanned<String>>,
    /// The SMSC is down from now for this long (MO answered RP-ERROR 38).
    pub smsc_down: Option<Duration>,
    /// Answer MO SMS with RP-ERROR and this cause (TS 24.011 §8.2.5.4).
    pub mo_rp_error: Option<u8>,
    /// Fail MT deliveries with RP-ERROR and this cause.
    pub mt_rp_error: Option<u8>,
    /// How many MO/MT attempts the RP-ERROR applies to (default: until cleared).
    pub count: Option<u32>,
    /// Probability that an MO SMS is lost.
    pub mo_loss: Option<f64>,
    /// Probability that an MT delivery attempt is lost.
    pub mt_loss: Option<f64>,
    /// Delay between acceptance and onward delivery.
    pub latency: Option<Duration>,
    /// Handset that loses radio coverage.
    pub out_of_coverage: Option<Spanned<String>>,
    /// Handset that regains radio coverage.
    pub in_coverage: Option<Spanned<String>>,
    /// Clear every fault first.
    #[serde(default)]
    pub clear: bool,
}

/// A named NVM commit point of the applet: the first NVM write of the card's next
/// transaction of that kind (`applet::tracker::record::RecordTx`; located by the engine's
/// dry runs, `docs/scenarios.md` "Named cut points").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NvmPoint {
    /// Committing the new IMEI after the registration SMS succeeded
    /// (`commit_registered`).
    ImeiCommit,
    /// Reserving the next counter with the pending registration before SEND SHORT
    /// MESSAGE is released (`commit_attempt`, any event kind).
    CounterUpdate,
    /// Recording a failed attempt for a later retry: a retry's attempt (event kind `03`)
    /// or an unusable IMEI (`commit_failure`).
    RetryState,
}

/// `cut_power = { card, at | at_write }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CutPower {
    /// Card name.
    pub card: Spanned<String>,
    /// Cut at this named commit point (mid-transaction).
    pub at: Option<NvmPoint>,
    /// Or at the n-th NVM write from now (1 = the next one).
    pub at_write: Option<Spanned<u32>>,
}

/// Stub control verbs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StubVerb {
    /// Stop (crash: nothing unacknowledged is assumed saved).
    Stop,
    /// Start again.
    Start,
    /// Stop, then start after `down_for`.
    Restart,
}

/// When a stub control takes effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StubWhen {
    /// Immediately.
    #[default]
    Now,
    /// Right after the next registration is stored (before the reply is sent).
    AfterRegistrationStored,
    /// Right after the next reply is handed to the SMSC (before the confirmation).
    AfterReplySent,
}

/// `stub = { action, when, down_for }`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StubControl {
    /// What to do.
    pub action: StubVerb,
    /// When (default now).
    #[serde(default)]
    pub when: StubWhen,
    /// For `restart`: how long the stub stays down (default 0).
    pub down_for: Option<Duration>,
}

/// `enter_pin = { handset, pin }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnterPin {
    /// Handset name.
    pub handset: Spanned<String>,
    /// Digits entered (may be wrong on purpose).
    pub pin: Pin,
}

/// `replay = { card, nth }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Replay {
    /// Card whose registration is replayed.
    pub card: Spanned<String>,
    /// Which of its registration SMS (1 = the first it sent).
    pub nth: Spanned<u32>,
}

/// `forge = { card, imei, key_of, counter }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Forge {
    /// Card whose ICCID/IMSI the forged registration claims.
    pub card: Spanned<String>,
    /// IMEI claimed.
    pub imei: Imei,
    /// MAC it under this other card's key (default: a random key).
    pub key_of: Option<Spanned<String>>,
    /// Counter claimed (default: the card's current counter + 1).
    pub counter: Option<u64>,
}

/// `fleet_swap = { fleet, to_model, spread }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetSwap {
    /// Fleet name.
    pub fleet: Spanned<String>,
    /// Model of every new handset.
    pub to_model: Spanned<String>,
    /// Swaps spread evenly (seeded jitter) over this much virtual time.
    pub spread: Duration,
}

/// Kind of a registration SMS (`docs/registration.md` §3 event kind).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegistrationEvent {
    /// `01`: first use, no IMEI stored.
    FirstUse,
    /// `02`: the handset changed.
    HandsetChanged,
    /// `03`: repeat of an unacknowledged registration.
    Retry,
}

impl RegistrationEvent {
    /// The snake_case name used in files.
    pub fn as_str(self) -> &'static str {
        match self {
            RegistrationEvent::FirstUse => "first_use",
            RegistrationEvent::HandsetChanged => "handset_changed",
            RegistrationEvent::Retry => "retry",
        }
    }
}

/// `expect.sms_sent`: `"none"` or the event of the (last) registration SMS sent
/// during the step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmsSentExpect {
    /// No registration SMS during the step.
    None,
    /// First use.
    FirstUse,
    /// Handset changed.
    HandsetChanged,
    /// Retry.
    Retry,
}

/// `expect.registration`: the stub's verdict on registrations claiming the card during
/// the step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegistrationExpect {
    /// The last one was accepted.
    Accepted,
    /// The last one was rejected.
    Rejected,
    /// The stub judged none.
    None,
}

/// Why the stub rejected a registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    /// The MAC does not verify under the card's key.
    BadMac,
    /// The counter is not above the last one accepted.
    Replayed,
    /// No card with that ICCID in the inventory.
    UnknownCard,
    /// The IMEI's check digit is wrong.
    InvalidImei,
    /// Unknown TAC and the policy says reject.
    UnknownTac,
    /// Malformed message.
    Malformed,
}

impl RejectReason {
    /// The snake_case name used in files.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::BadMac => "bad_mac",
            RejectReason::Replayed => "replayed",
            RejectReason::UnknownCard => "unknown_card",
            RejectReason::InvalidImei => "invalid_imei",
            RejectReason::UnknownTac => "unknown_tac",
            RejectReason::Malformed => "malformed",
        }
    }
}

/// Expected key source of the last accepted depreciated registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeySourceExpect {
    /// The stub's local store (FIG. 5A).
    Local,
    /// The manufacturer's server (FIG. 5B).
    Manufacturer,
}

/// How the applet's last toolkit session ended (`applet::tracker::Outcome`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionOutcome {
    /// The applet is disabled.
    Disabled,
    /// The terminal lacks PROVIDE LOCAL INFORMATION or SEND SHORT MESSAGE.
    TerminalUnsupported,
    /// Same IMEI as stored (TAC+SNR).
    Unchanged,
    /// Registration sent, new IMEI committed.
    Registered,
    /// No usable IMEI from the handset.
    ImeiUnusable,
    /// A limit forbade the registration.
    RateLimited,
    /// The SMS failed and no retry is possible before the next power-up.
    GaveUp,
    /// No valid server address configured.
    Misconfigured,
    /// A session is still going on (waiting for a retry, a PIN, …).
    InProgress,
}

impl SessionOutcome {
    /// The snake_case name used in files.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionOutcome::Disabled => "disabled",
            SessionOutcome::TerminalUnsupported => "terminal_unsupported",
            SessionOutcome::Unchanged => "unchanged",
            SessionOutcome::Registered => "registered",
            SessionOutcome::ImeiUnusable => "imei_unusable",
            SessionOutcome::RateLimited => "rate_limited",
            SessionOutcome::GaveUp => "gave_up",
            SessionOutcome::Misconfigured => "misconfigured",
            SessionOutcome::InProgress => "in_progress",
        }
    }
}

/// `expect.card_state`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CardStateExpect {
    /// How the last toolkit session ended.
    pub session: Option<SessionOutcome>,
    /// IMEI committed in NVM, or `"none"`.
    pub stored_imei: Option<Spanned<String>>,
    /// Whether an unacknowledged registration is pending.
    pub pending: Option<bool>,
    /// Registration SMS attempts in the current power cycle.
    pub attempts: Option<u32>,
    /// Registration counter.
    pub counter: Option<u64>,
}

/// One expected ledger entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerExpect {
    /// `fee_request`, `payment`, `manufacturer_share` or `download_confirmation`.
    pub kind: LedgerKind,
    /// Operator or manufacturer id.
    pub party: Spanned<String>,
    /// Amount in minor units.
    pub amount_minor: i64,
    /// Currency (default: not checked).
    pub currency: Option<String>,
}

/// Ledger entry kinds (claims 4, 5, 7, 8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LedgerKind {
    /// Fee requested from the operator.
    FeeRequest,
    /// The operator's payment.
    Payment,
    /// The manufacturer's share.
    ManufacturerShare,
    /// Download confirmation to the manufacturer (amount 0).
    DownloadConfirmation,
}

impl LedgerKind {
    /// The snake_case name used in files.
    pub fn as_str(self) -> &'static str {
        match self {
            LedgerKind::FeeRequest => "fee_request",
            LedgerKind::Payment => "payment",
            LedgerKind::ManufacturerShare => "manufacturer_share",
            LedgerKind::DownloadConfirmation => "download_confirmation",
        }
    }
}

/// `expect.fleet`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetExpect {
    /// Fleet name.
    pub name: Spanned<String>,
    /// Registration SMS sent by the fleet's cards, in total.
    pub registrations: Option<u64>,
    /// Registrations the stub accepted.
    pub accepted: Option<u64>,
    /// Handsets configured (APN present).
    pub configured: Option<u64>,
    /// Upper bound on registration SMS sent by any one card.
    pub max_sms_per_card: Option<u32>,
}

/// `expect = { … }`: every field given must hold after the step.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// Card the card-scoped checks are about (default: the only card).
    pub card: Option<Spanned<String>>,
    /// Handset the handset-scoped checks are about (default: the card's handset).
    pub handset: Option<Spanned<String>>,
    /// Registration SMS sent by the card during the step.
    pub sms_sent: Option<SmsSentExpect>,
    /// Registration SMS sent by the card since the start (anti-flooding).
    pub sms_total: Option<u32>,
    /// The stub's verdict during the step.
    pub registration: Option<RegistrationExpect>,
    /// Reason of that rejection.
    pub reject_reason: Option<RejectReason>,
    /// Whether the last accepted registration was judged depreciated.
    pub depreciated: Option<bool>,
    /// Where its key came from.
    pub key_source: Option<KeySourceExpect>,
    /// APN configured on the handset (name).
    pub apn: Option<String>,
    /// Whether any APN from the stub is configured on the handset.
    pub apn_present: Option<bool>,
    /// Whether the device key was used and erased (none left on the handset).
    pub key_erased: Option<bool>,
    /// Whether the handset's MMS client reaches the manufacturer's server.
    pub mms_working: Option<bool>,
    /// The card's applet state.
    pub card_state: Option<CardStateExpect>,
    /// The whole ledger, exactly (any order).
    pub ledger: Option<Vec<LedgerExpect>>,
    /// Number of ledger entries.
    pub ledger_entries: Option<u32>,
    /// Whether the stub is running.
    pub stub_running: Option<bool>,
    /// Fleet totals.
    pub fleet: Option<FleetExpect>,
}

/// The built-in business facts (`src/scenario/business.toml`): manufacturers, and per
/// handset-sim catalogue model what its profile does not say.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BusinessFile {
    /// Manufacturers by id.
    #[serde(default)]
    pub manufacturers: BTreeMap<String, Manufacturer>,
    /// Business facts by model id (a file stem of `handset-sim/catalogue/`).
    #[serde(default)]
    pub models: BTreeMap<String, ModelEntry>,
}
