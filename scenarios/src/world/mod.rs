//! The deterministic in-process world that plays SIM swaps end to end: cards, handsets,
//! networks and their SMSC, the provisioning server and the manufacturer, on one
//! virtual clock. It is the base of the scenario engine (issue 7) and the proof of the
//! SIM-swap loop (issue 6).
//!
//! Every arrow of the flow in `/work/shared/DESIGN.md` is a real encoding here:
//!
//! * card ↔ handset: APDUs through the T=0 layer of [`handset_sim::terminal::Terminal`]
//!   into [`applet::card::Card`] ([`slot::CardSlot`] records each exchange);
//! * handset ↔ network: the SEND SHORT MESSAGE TPDU converted to the SMSC's message and
//!   submitted with [`Smsc::submit_mo`](handset_sim::network::Smsc::submit_mo); MT
//!   messages come back as SMS-DELIVER TPDUs ([`link`]);
//! * network ↔ stub: the SMSC core's ESME side (`bind`, `poll_esme`, `esme_ack`,
//!   `submit_sm`) without the socket ([`server`]);
//! * MT routing in the handset: PID `7F` class 2 → SMS-PP DOWNLOAD envelope to the card;
//!   UDH port 2948 → the handset's OMA CP client
//!   ([`ProvisioningClient`](handset_sim::provisioning::ProvisioningClient)); anything else
//!   → the handset's inbox.
//!
//! Time only moves in [`World::advance`] / [`World::run_until`]; randomness comes from
//! the seed (the SMSC's faults, the world's own choices via [`clock::rng_for`]). The same
//! script on the same seed gives the same arrows and the same APDU trace.

pub mod card_trace;
pub mod clock;
pub mod describe;
mod due;
pub mod event;
pub mod external;
pub mod link;
pub mod server;
pub mod slot;
pub mod smpp_bridge;
pub mod stub;

use std::collections::{BTreeMap, BTreeSet};

use applet::card::Personalisation;
use applet::tracker::State as AppletState;
use applet::wire::bcd::{EfIccid, EfImsi};
use due::{DeadlineQueue, Handsets};
use ed25519_dalek::VerifyingKey;
use handset_sim::network::{
    BindKind, EsmeAccount, Event as SmscEvent, Faults, Networks, SessionId, ShortMessage, Smsc,
    SmscConfig, SmscHandle,
};
use handset_sim::profile::Handset;
use handset_sim::provisioning::client::{is_wap_push, short_message_from_deliver};
use handset_sim::provisioning::{
    ApnEntry, ClientConfig, HandsetIdentity, MmsApp, MmsError, MmsResponse, MmsStatus,
    ProvisioningClient, ProvisioningReport, RecordingReporter,
};
use handset_sim::terminal::uicc::{SharedCard, SimulatedUicc};
use handset_sim::terminal::{MoOutcome, MtOutcome, ServiceCentre, Terminal, TerminalConfig};

pub use clock::WorldClock;
pub use describe::RegistrationInfo;
pub use event::{ApduRecord, Arrow, ArrowSpec, CardMark, Lane, Sink};
pub use external::{CardBody, ExternalCard, TrackState};
pub use link::SmscLink;
pub use server::{LedgerLine, ProvisioningServer, ServerReply, ServerVerdict, Treatment};
pub use slot::{CardSlot, SimCard};

/// The ESME `system_id` the world binds the hosted server with.
pub const STUB_SYSTEM_ID: &str = "imeitrack-stub";
const STUB_PASSWORD: &str = "world";

/// Bound on work done at one instant (MT deliveries, ESME deliveries, replies), so a
/// message loop between parts cannot hang the world.
const MAX_PUMP_ROUNDS: usize = 10_000;

/// Misuse of the world (unknown names, impossible moves). Failures inside the
/// simulation (a card error, a lost SMS) are not errors: they are arrows and
/// observations.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorldError {
    /// No card with that name.
    #[error("no card named {0:?}")]
    UnknownCard(String),
    /// No handset with that name.
    #[error("no handset named {0:?}")]
    UnknownHandset(String),
    /// No network with that name.
    #[error("no network named {0:?}")]
    UnknownNetwork(String),
    /// The card is already in a handset.
    #[error("card {card:?} is already in handset {handset:?}")]
    CardInUse {
        /// Card.
        card: String,
        /// Where it is.
        handset: String,
    },
    /// The handset already holds a card.
    #[error("handset {handset:?} already holds card {card:?}")]
    SlotFull {
        /// Handset.
        handset: String,
        /// Card in it.
        card: String,
    },
    /// The card is in no handset.
    #[error("card {0:?} is not in a handset")]
    NotInserted(String),
    /// The world has no provisioning server.
    #[error("the world has no provisioning server")]
    NoServer,
    /// A name was given twice, or a part could not be built.
    #[error("{0}")]
    Build(String),
    /// The operation needs the simulated card's internals, and the card is in a
    /// PC/SC reader.
    #[error("card {card:?} is in a PC/SC reader: {what} is not possible")]
    InReader {
        /// Card.
        card: String,
        /// What was asked.
        what: String,
    },
}

/// A card to put into the world.
#[derive(Debug, Clone)]
pub struct CardSpec {
    /// Personalisation (files, MSISDN, applet configuration) for a blank NVM.
    pub personalisation: Personalisation,
    /// The subscriber number the network knows the card's IMSI by (digits, no `+`).
    pub msisdn: String,
}

/// A handset to put into the world.
#[derive(Debug, Clone)]
pub struct HandsetSpec {
    /// The unit: model profile with its IMEI (`Catalogue::by_name(..).with_imei(..)`).
    pub handset: Handset,
    /// The manufacturer's Ed25519 public key the handset verifies device keys with.
    pub manufacturer_key: Option<VerifyingKey>,
    /// Host (`name[:port]`) of the manufacturer's MMSC the MMS app may use; `None` =
    /// any MMSC an APN carries.
    pub mms_host: Option<String>,
    /// Terminal settings (PIN1 to verify, polling, limits).
    pub terminal: TerminalConfig,
    /// Network the handset camps on; `None` = the home network of the card's operator.
    pub network: Option<String>,
}

impl HandsetSpec {
    /// A handset with default settings.
    pub fn new(handset: Handset) -> Self {
        HandsetSpec {
            handset,
            manufacturer_key: None,
            mms_host: None,
            terminal: TerminalConfig::default(),
            network: None,
        }
    }
}

/// Builds a [`World`].
pub struct WorldBuilder {
    seed: u64,
    epoch_unix_s: i64,
    tz_quarters: Option<i8>,
    smsc: SmscConfig,
    networks: Networks,
    cards: Vec<(String, CardSpec)>,
    handsets: Vec<(String, HandsetSpec)>,
    server: Option<(String, Box<dyn ProvisioningServer>)>,
}

impl std::fmt::Debug for WorldBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorldBuilder")
            .field("seed", &self.seed)
            .finish_non_exhaustive()
    }
}

impl WorldBuilder {
    /// An empty world with this seed; clock at 2026-01-01 00:00 UTC+1.
    pub fn new(seed: u64) -> Self {
        WorldBuilder {
            seed,
            epoch_unix_s: clock::DEFAULT_EPOCH_UNIX_S,
            tz_quarters: Some(4),
            smsc: SmscConfig::default(),
            networks: Networks::new(),
            cards: Vec::new(),
            handsets: Vec::new(),
            server: None,
        }
    }

    /// Civil time of virtual time 0.
    pub fn epoch(mut self, unix_s: i64, tz_quarters: Option<i8>) -> Self {
        self.epoch_unix_s = unix_s;
        self.tz_quarters = tz_quarters;
        self
    }

    /// SMSC settings (accounts are added by the world for the hosted server).
    pub fn smsc(mut self, config: SmscConfig) -> Self {
        self.smsc = config;
        self
    }

    /// Networks and operators.
    pub fn networks(mut self, networks: Networks) -> Self {
        self.networks = networks;
        self
    }

    /// Adds a card.
    pub fn card(mut self, name: &str, spec: CardSpec) -> Self {
        self.cards.push((name.to_owned(), spec));
        self
    }

    /// Adds a handset.
    pub fn handset(mut self, name: &str, spec: HandsetSpec) -> Self {
        self.handsets.push((name.to_owned(), spec));
        self
    }

    /// Hosts a provisioning server reachable at `number` (digits).
    pub fn server(mut self, number: &str, server: Box<dyn ProvisioningServer>) -> Self {
        self.server = Some((number.to_owned(), server));
        self
    }

    /// Builds the world; the server (if any) is started and bound at time 0.
    pub fn build(self) -> Result<World, WorldError> {
        let clock = WorldClock::new(self.epoch_unix_s, self.tz_quarters);
        let sink = Sink::new();
        let mut smsc_config = self.smsc;
        smsc_config.epoch_unix_s = u64::try_from(self.epoch_unix_s).unwrap_or(0);
        if let Some((number, _)) = &self.server {
            let mut account = EsmeAccount::new(STUB_SYSTEM_ID, STUB_PASSWORD);
            account.routes.push(number.clone());
            smsc_config.accounts.push(account);
        }
        let smsc = SmscHandle::new(
            Smsc::new(
                smsc_config,
                self.networks,
                clock::rng_for(self.seed, "smsc").next_u64(),
            ),
            clock.smsc_clock(),
        );
        let mut cards = BTreeMap::new();
        let mut by_msisdn: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (name, spec) in self.cards {
            let iccid = EfIccid::parse(&spec.personalisation.files.iccid)
                .map_err(|e| WorldError::Build(format!("card {name}: EF.ICCID: {e}")))?
                .iccid
                .to_string();
            let imsi = EfImsi::parse(&spec.personalisation.files.imsi)
                .map_err(|e| WorldError::Build(format!("card {name}: EF.IMSI: {e}")))?
                .imsi
                .to_string();
            let uicc = SimulatedUicc::with_nvm(
                &spec.personalisation,
                applet::card::CardNvm::new(),
                clock.card_clock(),
            )
            .map_err(|e| WorldError::Build(format!("card {name}: {e:?}")))?;
            let state = CardState {
                card: CardBody::Simulated(SharedCard::new(uicc)),
                msisdn: spec.msisdn.trim_start_matches('+').to_owned(),
                imsi,
                iccid,
                key: spec.personalisation.applet.key,
                key_id: spec.personalisation.applet.key_id.0,
                ef_iccid: spec.personalisation.files.iccid,
                in_handset: None,
                pending_cut: None,
                personalisation: spec.personalisation,
            };
            by_msisdn
                .entry(state.msisdn.clone())
                .or_default()
                .push(name.clone());
            if cards.insert(name.clone(), state).is_some() {
                return Err(WorldError::Build(format!("card {name} given twice")));
            }
        }
        let mut handsets = BTreeMap::new();
        let mo_seq = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        for (name, spec) in self.handsets {
            let slot = CardSlot::new(&name, clock.card_clock(), sink.clone());
            let link = SmscLink::new(
                &name,
                smsc.clone(),
                self.epoch_unix_s,
                self.tz_quarters,
                sink.clone(),
                mo_seq.clone(),
            );
            // A real handset can report an IMEI whose 15th digit is not its Luhn check
            // digit (story 08): the terminal keeps and reports the IMEI exactly as given,
            // so the card sees the bad IMEI. Only the OMA CP client's identity (the
            // device key binds a structurally valid IMEI, TS 23.003 §6.2.1 / Annex B)
            // needs the Luhn-valid form, so it gets the corrected check digit.
            let imei = luhn_corrected(&spec.handset.imei.to_string())
                .map_err(|e| WorldError::Build(format!("handset {name}: IMEI: {e}")))?;
            let mut config = ClientConfig::new(HandsetIdentity {
                imei,
                manufacturer_key: spec.manufacturer_key,
            });
            config.unix_at_zero = u64::try_from(self.epoch_unix_s).unwrap_or(0);
            let mms = match &spec.mms_host {
                Some(h) => MmsApp::for_manufacturer(h.clone()),
                None => MmsApp::default(),
            };
            let state = HandsetState {
                terminal: Terminal::with_config(slot, spec.handset, link, spec.terminal),
                client: ProvisioningClient::new(config),
                mms,
                powered: false,
                network: spec.network,
                inbox: Vec::new(),
                reports: Vec::new(),
                errors: Vec::new(),
                mr: 0,
            };
            if handsets.insert(name.clone(), state).is_some() {
                return Err(WorldError::Build(format!("handset {name} given twice")));
            }
        }
        let n = handsets.len();
        let mut world = World {
            seed: self.seed,
            clock,
            smsc,
            sink,
            cards,
            handsets: Handsets::new(handsets),
            stub: self.server.map(|(number, server)| StubState {
                server,
                number,
                session: None,
                running: true,
                submitted: BTreeMap::new(),
                busy: ServerTime::default(),
            }),
            by_msisdn,
            due: DeadlineQueue::new(n),
            dirty: Vec::new(),
            is_dirty: vec![false; n],
            cut_watch: BTreeSet::new(),
            watch_all_cuts: std::cell::Cell::new(false),
        };
        for names in world.by_msisdn.values_mut() {
            names.sort();
        }
        world.pump();
        Ok(world)
    }
}

struct CardState {
    card: CardBody,
    msisdn: String,
    imsi: String,
    iccid: String,
    key: [u8; 16],
    key_id: u8,
    ef_iccid: [u8; 10],
    in_handset: Option<String>,
    /// A cut to arm at the card's next cold reset, while it is in no handset.
    pending_cut: Option<(u32, usize)>,
    /// What the card was personalised with (a fresh copy replays its trace).
    personalisation: Personalisation,
}

struct HandsetState {
    terminal: Terminal<CardSlot, SmscLink>,
    client: ProvisioningClient,
    mms: MmsApp,
    powered: bool,
    network: Option<String>,
    inbox: Vec<(u64, ShortMessage)>,
    reports: Vec<(u64, ProvisioningReport)>,
    errors: Vec<(u64, String)>,
    /// TP-MR for the handset's own MO messages (confirmations).
    mr: u8,
}

struct StubState {
    server: Box<dyn ProvisioningServer>,
    number: String,
    session: Option<SessionId>,
    running: bool,
    /// SMSC message id → nothing yet (kept for receipts).
    submitted: BTreeMap<String, u64>,
    /// Wall-clock time spent inside the server and calls made (benchmarks only;
    /// nothing in the world reads it).
    busy: ServerTime,
}

/// Wall-clock time the hosted server spent handling what the world gave it
/// ([`World::server_time`]): for benchmarks, to tell the stub's share of a swap.
/// Measured with [`std::time::Instant`] around each call; it never feeds back into
/// the simulation, which stays a function of its script and seed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServerTime {
    /// `on_mo` calls (registrations, provisioning reports, anything routed to it).
    pub mo_calls: u64,
    /// Time inside `on_mo`.
    pub mo: std::time::Duration,
    /// Time inside `on_receipt`.
    pub receipts: std::time::Duration,
}

/// One MO SMS a card sent through the SEND SHORT MESSAGE command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentSms {
    /// Virtual time.
    pub t_ms: u64,
    /// Handset it left from.
    pub handset: String,
    /// The SMS-SUBMIT TPDU.
    pub tpdu: Vec<u8>,
    /// What the network answered.
    pub outcome: MoOutcome,
    /// The registration it carried, decoded.
    pub registration: Option<RegistrationInfo>,
}

/// What can be seen of a card.
///
/// For a card in a PC/SC reader ([`CardBody::External`]) `stored_imei`, `next_counter`
/// and `pending` are those of the engine's last EF.TRACK_STATE read
/// ([`World::read_external_state`]; `None`, 0, `false` before one), `state` is
/// [`AppletState::Idle`] and `nvm_writes` 0: the card's RAM and NVM cannot be seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardView {
    /// Handset it is in.
    pub in_handset: Option<String>,
    /// Whether its contacts are powered.
    pub powered: bool,
    /// ICCID digits.
    pub iccid: String,
    /// IMSI digits.
    pub imsi: String,
    /// IMEI committed in NVM (digits), if any.
    pub stored_imei: Option<String>,
    /// Next registration counter (NVM).
    pub next_counter: u64,
    /// Whether a registration is pending (reserved counter, not yet acknowledged).
    pub pending: bool,
    /// The applet's session state.
    pub state: AppletState,
    /// NVM writes so far.
    pub nvm_writes: u32,
    /// Every SMS the card sent, in order.
    pub sent: Vec<SentSms>,
}

/// What can be seen of a handset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandsetView {
    /// Switched on.
    pub powered: bool,
    /// Card in the slot.
    pub card: Option<String>,
    /// IMEI.
    pub imei: String,
    /// APN store contents.
    pub apns: Vec<ApnEntry>,
    /// APNs that came from a device key, with the key's issuance id.
    pub keyed_apns: Vec<(u64, String)>,
    /// Whether the handset still holds any device key the server issued (its bytes in
    /// any structure of the OMA CP client).
    pub holds_device_key: bool,
    /// MMS app status.
    pub mms: MmsStatus,
    /// Provisioning verdicts of the OMA CP client, with times.
    pub reports: Vec<(u64, ProvisioningReport)>,
    /// Ordinary SMS received.
    pub inbox: Vec<(u64, ShortMessage)>,
    /// Terminal errors (power-up refused, proactive session broken …), with times.
    pub errors: Vec<(u64, String)>,
}

/// The world (see the module docs).
pub struct World {
    seed: u64,
    clock: WorldClock,
    smsc: SmscHandle,
    sink: Sink,
    cards: BTreeMap<String, CardState>,
    handsets: Handsets<HandsetState>,
    stub: Option<StubState>,
    /// MSISDN → the cards personalised with it, in name order (MT routing, actors).
    by_msisdn: BTreeMap<String, Vec<String>>,
    /// The deadline queue: every powered handset with something due (terminal timer,
    /// busy-ENVELOPE retry, STATUS poll, reassembly expiry), by handset index, so a
    /// tick visits only what is due. Ties run in index (= name) order.
    due: DeadlineQueue,
    /// Handsets (indices) the world touched since their deadline was last computed
    /// (also the only ones whose card can have lost power since the last look).
    dirty: Vec<usize>,
    /// `is_dirty[id]`: `id` is in `dirty`.
    is_dirty: Vec<bool>,
    /// Cards that can lose NVM power (a cut was armed through the world); others are
    /// never checked for one.
    cut_watch: BTreeSet<String>,
    /// A card object was handed out ([`World::sim_card`]) and may have a cut armed
    /// directly: every card is checked.
    watch_all_cuts: std::cell::Cell<bool>,
}

impl std::fmt::Debug for World {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("World")
            .field("seed", &self.seed)
            .field("now_ms", &self.clock.now_ms())
            .field("cards", &self.cards.keys().collect::<Vec<_>>())
            .field("handsets", &self.handsets.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl World {
    // ------------------------------------------------------------------ access

    /// Virtual time, ms.
    pub fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The shared SMSC (inspect queues, bind an external ESME through its SMPP server).
    pub fn smsc(&self) -> &SmscHandle {
        &self.smsc
    }

    /// Runs `f` on the SMSC core at the current time.
    pub fn with_smsc<R>(&mut self, f: impl FnOnce(&mut Smsc, u64) -> R) -> R {
        let now = self.clock.now_ms();
        self.smsc.with(|s, _| f(s, now))
    }

    /// Replaces the SMSC's faults (loss, latency, RP-ERROR, down windows).
    pub fn set_faults(&mut self, faults: Faults) {
        let t = self.now_ms();
        let line = format!("{faults:?}");
        self.with_smsc(|s, _| s.faults = faults);
        self.sink.spec(
            t,
            "",
            ArrowSpec::new(Lane::Network, Lane::Network, "faults changed").line(line),
        );
    }

    /// Every arrow so far.
    pub fn arrows(&self) -> Vec<Arrow> {
        self.sink.arrows()
    }

    /// Arrows from index `from` on (index = [`World::arrow_count`] before a step).
    pub fn arrows_since(&self, from: usize) -> Vec<Arrow> {
        self.sink.arrows_since(from)
    }

    /// Stops recording arrows concerning these actors (card and handset names); see
    /// [`Sink::mute`]. For ladders of big fleets that show a few members: the world
    /// plays the others exactly the same, their APDU trace included.
    pub fn mute_arrows_of(&mut self, actors: impl IntoIterator<Item = String>) {
        self.sink.mute(actors);
    }

    /// Number of arrows so far.
    pub fn arrow_count(&self) -> usize {
        self.sink.arrow_count()
    }

    /// Every card exchange so far (power-ons, APDUs, power-offs), in order.
    pub fn apdu_trace(&self) -> Vec<ApduRecord> {
        self.sink.apdus()
    }

    /// Names of the cards.
    pub fn card_names(&self) -> Vec<String> {
        self.cards.keys().cloned().collect()
    }

    /// Names of the handsets.
    pub fn handset_names(&self) -> Vec<String> {
        self.handsets.keys().cloned().collect()
    }

    fn card(&self, name: &str) -> Result<&CardState, WorldError> {
        self.cards
            .get(name)
            .ok_or_else(|| WorldError::UnknownCard(name.to_owned()))
    }

    fn handset(&self, name: &str) -> Result<&HandsetState, WorldError> {
        self.handsets
            .get(name)
            .ok_or_else(|| WorldError::UnknownHandset(name.to_owned()))
    }

    /// The simulated card object (to read its NVM, or script it directly in tests).
    pub fn sim_card(&self, name: &str) -> Result<SimCard, WorldError> {
        let card =
            self.card(name)?
                .card
                .simulated()
                .cloned()
                .ok_or_else(|| WorldError::InReader {
                    card: name.to_owned(),
                    what: "reading the simulated card".into(),
                })?;
        // Whoever holds it may arm a power cut: from now on every card is watched.
        self.watch_all_cuts.set(true);
        Ok(card)
    }

    /// The handset's terminal (session log, registered events).
    pub fn terminal(&self, name: &str) -> Result<&Terminal<CardSlot, SmscLink>, WorldError> {
        Ok(&self.handset(name)?.terminal)
    }

    /// The handset's OMA CP client.
    pub fn provisioning_client(&self, name: &str) -> Result<&ProvisioningClient, WorldError> {
        Ok(&self.handset(name)?.client)
    }

    // -------------------------------------------------------------- card moves

    /// Inserts `card` into the empty slot of `handset`. If the handset is on, the card
    /// is powered up at once (as a phone does when a card appears).
    pub fn insert(&mut self, card: &str, handset: &str) -> Result<(), WorldError> {
        let c = self.card(card)?;
        if let Some(h) = &c.in_handset {
            return Err(WorldError::CardInUse {
                card: card.to_owned(),
                handset: h.clone(),
            });
        }
        let sim = c.card.clone();
        let msisdn = c.msisdn.clone();
        let h = self.handset(handset)?;
        if let Some(other) = h.terminal.reader().card_name() {
            return Err(WorldError::SlotFull {
                handset: handset.to_owned(),
                card: other.to_owned(),
            });
        }
        let t = self.now_ms();
        let cut = self.cards.get_mut(card).and_then(|c| c.pending_cut.take());
        let h = self.handset_mut(handset)?;
        h.terminal.reader_mut().insert(card, sim);
        if let Some((nth, torn)) = cut {
            h.terminal.reader_mut().cut_after_power_on(nth, torn);
        }
        h.terminal
            .network_mut()
            .set_subscriber(Some((card, msisdn.as_str())));
        let powered = h.powered;
        if let Some(c) = self.cards.get_mut(card) {
            c.in_handset = Some(handset.to_owned());
        }
        self.sink.spec(
            t,
            card,
            ArrowSpec::new(
                Lane::Card,
                Lane::Handset,
                format!("card inserted into {handset}"),
            ),
        );
        if powered {
            self.start_card(handset)?;
            self.settle();
        }
        Ok(())
    }

    /// Takes `card` out of its handset (power to the card is lost if the handset is on;
    /// the handset leaves the network).
    pub fn remove(&mut self, card: &str) -> Result<(), WorldError> {
        let handset = self
            .card(card)?
            .in_handset
            .clone()
            .ok_or_else(|| WorldError::NotInserted(card.to_owned()))?;
        let t = self.now_ms();
        self.stop_card(&handset)?;
        let h = self.handset_mut(&handset)?;
        let cut = h.terminal.reader_mut().take_pending_cut();
        h.terminal.reader_mut().remove();
        h.terminal.network_mut().set_subscriber(None);
        if let Some(c) = self.cards.get_mut(card) {
            c.in_handset = None;
            c.pending_cut = cut;
        }
        self.sink.spec(
            t,
            card,
            ArrowSpec::new(
                Lane::Card,
                Lane::Handset,
                format!("card removed from {handset}"),
            ),
        );
        Ok(())
    }

    /// Removes `card` from its handset (if any) and inserts it into `to`.
    pub fn move_card(&mut self, card: &str, to: &str) -> Result<(), WorldError> {
        self.handset(to)?;
        if self.card(card)?.in_handset.is_some() {
            self.remove(card)?;
        }
        self.insert(card, to)
    }

    // ------------------------------------------------------------- power, radio

    /// Switches `handset` on: it camps on its network and powers the card up (ATR,
    /// file reads, TERMINAL PROFILE and the proactive session it opens), then reports
    /// the location status event; whatever that triggers at this instant happens too.
    pub fn power_on(&mut self, handset: &str) -> Result<(), WorldError> {
        let t = self.now_ms();
        let h = self.handset_mut(handset)?;
        if h.powered {
            return Ok(());
        }
        h.powered = true;
        self.sink.spec(
            t,
            handset,
            ArrowSpec::new(Lane::Handset, Lane::Handset, "power on"),
        );
        if self
            .handset(handset)?
            .terminal
            .reader()
            .card_name()
            .is_some()
        {
            self.start_card(handset)?;
        }
        self.settle();
        Ok(())
    }

    /// Switches `handset` off (card power removed, handset leaves the network).
    pub fn power_off(&mut self, handset: &str) -> Result<(), WorldError> {
        let t = self.now_ms();
        if !self.handset(handset)?.powered {
            return Ok(());
        }
        self.stop_card(handset)?;
        self.handset_mut(handset)?.powered = false;
        self.sink.spec(
            t,
            handset,
            ArrowSpec::new(Lane::Handset, Lane::Handset, "power off"),
        );
        Ok(())
    }

    /// Moves `handset` to `network` (camping there from now on); if it is on with a
    /// card, the card gets the location status event.
    pub fn attach(&mut self, handset: &str, network: &str) -> Result<(), WorldError> {
        let exists = self
            .smsc
            .with_quiet(|s, _| s.networks.network(network).is_some());
        if !exists {
            return Err(WorldError::UnknownNetwork(network.to_owned()));
        }
        let h = self.handset_mut(handset)?;
        h.network = Some(network.to_owned());
        let live = h.powered && h.terminal.card().is_some();
        if live {
            self.camp(handset)?;
            let now = self.now_ms();
            let h = self.handset_mut(handset)?;
            h.terminal.advance(now).ok();
            if let Err(e) = h.terminal.attach() {
                let msg = e.to_string();
                self.terminal_error(handset, msg);
            }
            self.settle();
        }
        Ok(())
    }

    /// Turns radio coverage on or off for `handset` (it stays attached).
    pub fn set_coverage(&mut self, handset: &str, in_coverage: bool) -> Result<(), WorldError> {
        let msisdn = self.subscriber_msisdn(handset)?;
        if let Some(m) = msisdn {
            self.smsc
                .with(|s, _| s.networks.set_coverage(&m, in_coverage))
                .ok();
        }
        Ok(())
    }

    /// Arms a power cut of `card` at its `nth` NVM write (1 = the next), tearing that
    /// write after `torn_bytes` bytes (`applet::card::nvm::Nvm::cut_power_at`). A powered
    /// card is armed now; an unpowered one right after its next cold reset (power coming
    /// back clears a scheduled cut, so arming earlier would be lost). When the cut
    /// happens the handset loses the card, as when the battery is pulled: it is switched
    /// off and leaves the network; the next [`World::power_on`] restarts the card and its
    /// NVM recovery runs then.
    pub fn cut_power_at_write(
        &mut self,
        card: &str,
        nth: u32,
        torn_bytes: usize,
    ) -> Result<(), WorldError> {
        let t = self.now_ms();
        let c = self.card(card)?;
        let sim = c
            .card
            .simulated()
            .cloned()
            .ok_or_else(|| WorldError::InReader {
                card: card.to_owned(),
                what: "cutting its power at an NVM write".into(),
            })?;
        let in_handset = c.in_handset.clone();
        self.cut_watch.insert(card.to_owned());
        match in_handset {
            Some(h) if self.handset(&h)?.terminal.reader().is_powered() => {
                let at = slot::arm_cut(&sim, nth, torn_bytes);
                self.sink.mark(
                    card,
                    CardMark::CutArmed {
                        write: at,
                        torn: torn_bytes,
                    },
                );
                self.sink.spec(
                    t,
                    card,
                    ArrowSpec::new(
                        Lane::Card,
                        Lane::Card,
                        format!("power cut armed at NVM write {at}"),
                    )
                    .line(format!("torn after {torn_bytes} bytes")),
                );
            }
            Some(h) => self
                .handset_mut(&h)?
                .terminal
                .reader_mut()
                .cut_after_power_on(nth, torn_bytes),
            None => {
                if let Some(c) = self.cards.get_mut(card) {
                    c.pending_cut = Some((nth, torn_bytes));
                }
            }
        }
        Ok(())
    }

    // ------------------------------------------------------------------- stub

    /// Stops the hosted server (its ESME session unbinds; MO for it waits in the SMSC).
    pub fn stop_server(&mut self) -> Result<(), WorldError> {
        let t = self.now_ms();
        let stub = self.stub.as_mut().ok_or(WorldError::NoServer)?;
        stub.running = false;
        if let Some(s) = stub.session.take() {
            self.smsc.with(|smsc, _| smsc.unbind(s, t));
        }
        stub.server.on_running(false, t);
        self.sink.spec(
            t,
            "",
            ArrowSpec::new(Lane::Stub, Lane::Stub, "stub stopped"),
        );
        Ok(())
    }

    /// Starts the hosted server again (it binds and receives what waited).
    pub fn start_server(&mut self) -> Result<(), WorldError> {
        let t = self.now_ms();
        let stub = self.stub.as_mut().ok_or(WorldError::NoServer)?;
        stub.running = true;
        stub.server.on_running(true, t);
        self.sink.spec(
            t,
            "",
            ArrowSpec::new(Lane::Stub, Lane::Stub, "stub started"),
        );
        self.settle();
        Ok(())
    }

    /// The hosted server.
    pub fn server(&self) -> Option<&dyn ProvisioningServer> {
        self.stub.as_ref().map(|s| &*s.server)
    }

    /// The hosted server, mutably.
    pub fn server_mut(&mut self) -> Option<&mut (dyn ProvisioningServer + 'static)> {
        self.stub.as_mut().map(|s| &mut *s.server)
    }

    /// Submits an MO message into the SMSC as if the handset with `from_msisdn` sent it
    /// (replays and forgeries; the sender must be reachable unless it is an attacker's
    /// attached number). Returns the SMSC's answer.
    pub fn inject_mo(
        &mut self,
        from_msisdn: &str,
        mr: u8,
        sm: ShortMessage,
    ) -> handset_sim::network::MoOutcome {
        let t = self.now_ms();
        let mut detail = describe::payload(&sm);
        detail.insert(0, format!("injected as from {from_msisdn}"));
        self.sink.spec(
            t,
            from_msisdn,
            ArrowSpec {
                from: Lane::Handset,
                to: Lane::Network,
                label: "RP-DATA (injected)".into(),
                detail,
                raw_hex: hex::encode_upper(&sm.user_data),
            },
        );
        let o = self.smsc.with(|s, _| s.submit_mo(from_msisdn, mr, sm, t));
        self.settle();
        o
    }

    // -------------------------------------------------------------------- time

    /// Lets `by_ms` of virtual time pass.
    pub fn advance(&mut self, by_ms: u64) {
        let to = self.now_ms().saturating_add(by_ms);
        self.run_until(to);
    }

    /// Runs the world until virtual time `to_ms`, jumping from one due time to the
    /// next: terminal timers, busy-ENVELOPE retries and STATUS polls at their
    /// deadlines, reassembly timeouts, and whatever the SMSC has due
    /// ([`Smsc::next_due`]: deliveries after latency or a retry interval, response
    /// timeouts, expiries, outage edges); the server's work follows at each instant.
    ///
    /// Only what is due is visited ([`World`]'s deadline queue), so the cost of a
    /// step does not grow with the number of idle handsets. Handsets due at the same
    /// instant run in name order, then the network is settled, so the same script on
    /// the same seed gives the same arrows and APDU trace.
    pub fn run_until(&mut self, to_ms: u64) {
        // Whatever changed from outside since the last step (coverage, faults, the
        // SMSC scripted directly) moves now.
        self.settle();
        for _ in 0..10_000_000u64 {
            let now = self.now_ms();
            if now >= to_ms {
                break;
            }
            let mut next = to_ms;
            if let Some(d) = self.due.first() {
                next = next.min(d.max(now + 1));
            }
            let smsc_next = self.smsc.with_quiet(|s, _| s.next_due(now));
            if let Some(d) = smsc_next {
                next = next.min(d.max(now + 1));
            }
            self.clock.set(next);
            // Whether the network has anything to do at `next`: something of the
            // SMSC's falls due, or a handset sent an MO message (the only way a
            // terminal's own timers reach the network). An idle STATUS poll answered
            // 90 00 is the common case with thousands of handsets, and then there is
            // nothing to settle.
            let mut network = smsc_next.is_some_and(|d| d <= next);
            for id in self.due.pop_due(next) {
                let sent = self.mo_sent(id);
                self.run_terminal(id, next);
                network |= self.mo_sent(id) != sent;
            }
            if network || self.cuts_watched() {
                self.settle();
            } else {
                self.refresh_deadlines();
            }
        }
        self.clock.set(to_ms);
        self.settle();
    }

    /// The next virtual time at which something in the world is due by itself (a
    /// handset deadline or the SMSC's), if any.
    pub fn next_due(&self) -> Option<u64> {
        let now = self.now_ms();
        let handset = self.due.first();
        let smsc = self.smsc.with_quiet(|s, _| s.next_due(now));
        [handset, smsc].into_iter().flatten().min()
    }

    /// Runs handset `id`'s clock to `t` (timers, retries, STATUS poll, reassembly
    /// timeouts due by then).
    fn run_terminal(&mut self, id: usize, t: u64) {
        let Some(h) = self.touch_id(id) else {
            return;
        };
        if !h.powered {
            return;
        }
        let r = h.terminal.run_until(t);
        if h.client.reassembler().pending() > 0 {
            let mut reporter = RecordingReporter::default();
            h.client.expire(t, &mut reporter);
            for r in reporter.reports {
                h.reports.push((t, r));
            }
        }
        if let Err(e) = r {
            let name = self.handsets.name(id).unwrap_or_default().to_owned();
            self.terminal_error(&name, e.to_string());
        }
    }

    /// MO messages handset `id` has sent so far.
    fn mo_sent(&self, id: usize) -> usize {
        self.handsets
            .at(id)
            .map_or(0, |h| h.terminal.network().sent.len())
    }

    /// Whether any card can lose NVM power (see [`World::check_power_cuts`]).
    fn cuts_watched(&self) -> bool {
        !self.cut_watch.is_empty() || self.watch_all_cuts.get()
    }

    /// Recomputes the queued deadline of every handset touched since the last time.
    fn refresh_deadlines(&mut self) {
        let mut dirty = std::mem::take(&mut self.dirty);
        for &id in &dirty {
            if let Some(d) = self.is_dirty.get_mut(id) {
                *d = false;
            }
            let deadline = self.handsets.at(id).filter(|h| h.powered).and_then(|h| {
                // A terminal without a powered-up card has nothing to do on its clock.
                let terminal = h
                    .terminal
                    .card()
                    .is_some()
                    .then(|| h.terminal.next_deadline())
                    .flatten();
                let reassembly = h.client.reassembler().next_expiry();
                [terminal, reassembly].into_iter().flatten().min()
            });
            self.due.set(id, deadline);
        }
        // Keep the buffer (this runs once per tick).
        dirty.clear();
        self.dirty = dirty;
    }

    // ---------------------------------------------------------------- internals

    /// The handset, mutably; marks it for a deadline refresh (every mutable access
    /// to a handset goes through here or [`World::touch`]).
    fn handset_mut(&mut self, name: &str) -> Result<&mut HandsetState, WorldError> {
        self.touch(name)
            .ok_or_else(|| WorldError::UnknownHandset(name.to_owned()))
    }

    /// The handset, mutably, marked for a deadline refresh and a power-cut check.
    fn touch(&mut self, name: &str) -> Option<&mut HandsetState> {
        let id = self.handsets.id(name)?;
        self.touch_id(id)
    }

    /// [`World::touch`] by index.
    fn touch_id(&mut self, id: usize) -> Option<&mut HandsetState> {
        let h = self.handsets.at_mut(id)?;
        if let Some(d) = self.is_dirty.get_mut(id)
            && !*d
        {
            *d = true;
            self.dirty.push(id);
        }
        Some(h)
    }

    fn subscriber_msisdn(&self, handset: &str) -> Result<Option<String>, WorldError> {
        Ok(self
            .handset(handset)?
            .terminal
            .network()
            .msisdn()
            .map(str::to_owned))
    }

    fn terminal_error(&mut self, handset: &str, message: String) {
        let t = self.now_ms();
        self.sink.spec(
            t,
            handset,
            ArrowSpec::new(Lane::Handset, Lane::Handset, "terminal error").line(message.clone()),
        );
        if let Some(h) = self.handsets.get_mut(handset) {
            h.errors.push((t, message));
        }
    }

    /// Attaches the handset's subscriber to its network in the SMSC's registry.
    fn camp(&mut self, handset: &str) -> Result<(), WorldError> {
        let h = self.handset(handset)?;
        let Some(card) = h.terminal.reader().card_name() else {
            return Ok(());
        };
        let c = self.card(card)?;
        let (msisdn, imsi) = (c.msisdn.clone(), c.imsi.clone());
        let wanted = h.network.clone();
        let t = self.now_ms();
        let result = self.smsc.with(|s, _| {
            let network = match wanted {
                Some(n) => Some(n),
                None => s
                    .networks
                    .home_network_for_imsi(&imsi)
                    .map(|n| n.name.clone()),
            };
            match network {
                Some(n) => s
                    .networks
                    .attach(&msisdn, &imsi, &n)
                    .map(|()| Some(n))
                    .map_err(|e| e.to_string()),
                None => Ok(None),
            }
        });
        match result {
            Ok(Some(n)) => self.sink.spec(
                t,
                handset,
                ArrowSpec::new(Lane::Handset, Lane::Network, format!("attach to {n}"))
                    .line(format!("IMSI {imsi}, MSISDN {msisdn}")),
            ),
            Ok(None) => self.terminal_error(handset, format!("no network serves IMSI {imsi}")),
            Err(e) => self.terminal_error(handset, e),
        }
        Ok(())
    }

    /// Card power-up in a powered handset: camp, power_up, location event.
    fn start_card(&mut self, handset: &str) -> Result<(), WorldError> {
        self.camp(handset)?;
        let now = self.now_ms();
        let h = self.handset_mut(handset)?;
        h.terminal.advance(now).ok();
        match h.terminal.start_card() {
            Ok(Some(info)) => self.camp_and_start_toolkit(handset, &info)?,
            // PIN1 wanted: the handset waits for its user (`World::enter_pin`).
            Ok(None) => {}
            Err(e) => {
                let m = format!("power-up: {e}");
                self.terminal_error(handset, m);
            }
        }
        Ok(())
    }

    /// The rest of a real ME's power-up once it has the IMSI: it camps on the network
    /// (its location status is known from then on, so no EVENT DOWNLOAD is owed for
    /// it), then sends TERMINAL PROFILE and runs the proactive session. Location
    /// status events follow only later changes (TS 102 223 §7.5.4), so a card waiting
    /// on its retry timer is not woken by its own power-up.
    fn camp_and_start_toolkit(
        &mut self,
        handset: &str,
        info: &handset_sim::terminal::CardInfo,
    ) -> Result<(), WorldError> {
        let h = self.handset_mut(handset)?;
        h.client.config_mut().imsi = Some(info.imsi.clone());
        if let Err(e) = h.terminal.attach() {
            let m = e.to_string();
            self.terminal_error(handset, m);
        }
        let h = self.handset_mut(handset)?;
        if let Err(e) = h.terminal.start_toolkit() {
            let m = format!("power-up: {e}");
            self.terminal_error(handset, m);
        }
        Ok(())
    }

    /// The user of `handset` types PIN1 while power-up waits for it: VERIFY with the
    /// card (TS 102 221 §11.1.9), then the rest of power-up (camp, TERMINAL PROFILE,
    /// proactive session). A wrong PIN is recorded as a terminal error and the handset
    /// keeps waiting.
    pub fn enter_pin(&mut self, handset: &str, pin: &str) -> Result<(), WorldError> {
        let t = self.now_ms();
        self.sink.spec(
            t,
            handset,
            ArrowSpec::new(Lane::Handset, Lane::Handset, "PIN entered"),
        );
        let h = self.handset_mut(handset)?;
        if !h.powered || !h.terminal.awaiting_pin() {
            let m = "PIN entered but the handset is not asking for one".to_owned();
            self.terminal_error(handset, m);
            return Ok(());
        }
        h.terminal.advance(t).ok();
        match h.terminal.enter_pin(pin) {
            Ok(info) => self.camp_and_start_toolkit(handset, &info)?,
            Err(e) => {
                let m = format!("PIN entry: {e}");
                self.terminal_error(handset, m);
            }
        }
        self.settle();
        Ok(())
    }

    /// Card power-down in a handset: power off, leave the network.
    fn stop_card(&mut self, handset: &str) -> Result<(), WorldError> {
        let msisdn = self.subscriber_msisdn(handset)?;
        let h = self.handset_mut(handset)?;
        h.terminal.power_off();
        if let Some(m) = msisdn {
            self.smsc.with(|s, _| s.networks.detach(&m));
        }
        Ok(())
    }

    /// Everything due at the current instant: power cuts, ESME deliveries and server
    /// replies, MT deliveries to handsets and their consequences, SMSC incidents.
    fn settle(&mut self) {
        for _ in 0..MAX_PUMP_ROUNDS {
            self.check_power_cuts();
            if !self.pump() {
                break;
            }
        }
        self.smsc_incidents();
        self.refresh_deadlines();
    }

    /// One round; `true` if anything moved.
    fn pump(&mut self) -> bool {
        let mut moved = self.pump_stub();
        // Only handsets whose number has MT messages waiting can receive anything: the
        // SMSC lists those numbers ([`Smsc::mt_waiting`]), so a round costs what is in
        // flight, not the number of handsets. They are served in handset-name order.
        let t = self.now_ms();
        let waiting: Vec<String> = self.smsc.with_quiet(|s, _| {
            s.expire(t);
            s.mt_waiting().map(str::to_owned).collect()
        });
        let mut ids: Vec<usize> = Vec::new();
        for msisdn in &waiting {
            for card in self.by_msisdn.get(msisdn).into_iter().flatten() {
                let Some(id) = self
                    .cards
                    .get(card)
                    .and_then(|c| c.in_handset.as_deref())
                    .and_then(|name| self.handsets.id(name))
                else {
                    continue;
                };
                let eligible = self.handsets.at(id).is_some_and(|h| {
                    h.powered
                        && h.terminal.card().is_some()
                        && h.terminal.network().msisdn() == Some(msisdn.as_str())
                });
                if eligible {
                    ids.push(id);
                }
            }
        }
        ids.sort_unstable();
        ids.dedup();
        for id in ids {
            if let Some(name) = self.handsets.name(id).map(str::to_owned) {
                moved |= self.pump_mt(&name);
            }
        }
        moved
    }

    fn pump_stub(&mut self) -> bool {
        let t = self.now_ms();
        let Some(stub) = self.stub.as_mut() else {
            return false;
        };
        if !stub.running {
            return false;
        }
        // (Re)bind when there is no live session (first start, after an outage).
        if let Some(s) = stub.session
            && !self.smsc.with_quiet(|smsc, _| smsc.session_alive(s, t))
        {
            self.smsc.with(|smsc, _| smsc.unbind(s, t));
            stub.session = None;
        }
        if stub.session.is_none() {
            let number = stub.number.clone();
            match self.smsc.with(|smsc, _| {
                smsc.bind(
                    STUB_SYSTEM_ID,
                    STUB_PASSWORD,
                    BindKind::Transceiver,
                    &number,
                    t,
                )
            }) {
                Ok(s) => {
                    stub.session = Some(s);
                    self.sink.spec(
                        t,
                        "",
                        ArrowSpec::new(Lane::Stub, Lane::Network, "bind_transceiver").line(
                            format!("system_id {STUB_SYSTEM_ID}, address_range {number}"),
                        ),
                    );
                }
                Err(_) => return false,
            }
        }
        let Some(session) = stub.session else {
            return false;
        };
        let mut moved = false;
        for _ in 0..MAX_PUMP_ROUNDS {
            let Some(d) = self.smsc.with_quiet(|smsc, _| smsc.poll_esme(session, t)) else {
                break;
            };
            moved = true;
            if let Some(receipt) = &d.receipt {
                let delivered =
                    receipt.state == handset_sim::network::receipt::MessageState::Delivered;
                let started = std::time::Instant::now();
                stub.server.on_receipt(&receipt.message_id, delivered, t);
                stub.busy.receipts += started.elapsed();
                self.smsc
                    .with(|smsc, _| smsc.esme_ack(session, d.id, true, t));
                self.sink.spec(
                    t,
                    "",
                    ArrowSpec::new(Lane::Network, Lane::Stub, "deliver_sm (receipt)")
                        .line(String::from_utf8_lossy(&d.sm.user_data).into_owned()),
                );
                continue;
            }
            let actor = self
                .by_msisdn
                .get(&d.sm.source)
                .and_then(|cards| cards.first())
                .map_or_else(|| d.sm.source.clone(), Clone::clone);
            // Arrows of a muted actor are not built at all (see `Sink::mute`).
            let wanted = self.sink.wants(&actor);
            if wanted {
                self.sink.spec(
                    t,
                    &actor,
                    ArrowSpec {
                        from: Lane::Network,
                        to: Lane::Stub,
                        label: "deliver_sm".into(),
                        detail: describe::payload(&d.sm),
                        raw_hex: hex::encode_upper(d.sm.smpp_short_message()),
                    },
                );
            }
            let started = std::time::Instant::now();
            let reply = stub.server.on_mo(&d.sm, t);
            stub.busy.mo += started.elapsed();
            stub.busy.mo_calls += 1;
            for a in reply.arrows {
                self.sink.spec(t, &actor, a);
            }
            self.smsc
                .with(|smsc, _| smsc.esme_ack(session, d.id, reply.accepted, t));
            for mut mt in reply.mt {
                if mt.source.is_empty() {
                    mt.source = stub.number.clone();
                }
                let (mut detail, raw) = if wanted {
                    (
                        describe::payload(&mt),
                        hex::encode_upper(mt.smpp_short_message()),
                    )
                } else {
                    (Vec::new(), String::new())
                };
                match self.smsc.with(|smsc, _| smsc.submit_sm(session, mt, 0, t)) {
                    Ok(id) => {
                        detail.push(format!("message_id {id}"));
                        stub.submitted.insert(id, t);
                        self.sink.spec(
                            t,
                            &actor,
                            ArrowSpec {
                                from: Lane::Stub,
                                to: Lane::Network,
                                label: "submit_sm".into(),
                                detail,
                                raw_hex: raw,
                            },
                        );
                    }
                    Err(e) => {
                        detail.push(format!("refused: {e}"));
                        self.sink.spec(
                            t,
                            &actor,
                            ArrowSpec {
                                from: Lane::Stub,
                                to: Lane::Network,
                                label: format!("submit_sm refused ({e})"),
                                detail,
                                raw_hex: raw,
                            },
                        );
                    }
                }
            }
        }
        moved
    }

    /// MT messages for one handset's subscriber.
    fn pump_mt(&mut self, name: &str) -> bool {
        let t = self.now_ms();
        let Some(h) = self.handsets.get(name) else {
            return false;
        };
        if !h.powered || h.terminal.card().is_none() {
            return false;
        }
        let Some(msisdn) = h.terminal.network().msisdn().map(str::to_owned) else {
            return false;
        };
        let actor = h.terminal.reader().card_name().unwrap_or(name).to_owned();
        let mut moved = false;
        for _ in 0..MAX_PUMP_ROUNDS {
            let Some(mt) = self.smsc.with(|s, _| s.poll_mt(&msisdn, t)) else {
                break;
            };
            moved = true;
            let scts = link::scts(&self.clock.civil(t));
            let tpdu = match link::deliver_tpdu(&mt.sm, scts) {
                Ok(b) => b,
                Err(e) => {
                    self.terminal_error(
                        name,
                        format!("MT message {}: no TPDU ({e})", mt.message_id),
                    );
                    continue;
                }
            };
            if self.sink.wants(&actor) {
                let mut detail = describe::payload(&mt.sm);
                detail.insert(
                    0,
                    format!("SMSC {} message_id {}", mt.smsc_address, mt.message_id),
                );
                self.sink.spec(
                    t,
                    &actor,
                    ArrowSpec {
                        from: Lane::Network,
                        to: Lane::Handset,
                        label: "SMS-DELIVER".into(),
                        detail,
                        raw_hex: hex::encode_upper(&tpdu),
                    },
                );
            }
            let data_download = mt.sm.pid == 0x7F
                && applet::wire::sms::DataCodingScheme(mt.sm.dcs).class()
                    == Some(applet::wire::sms::MessageClass::Class2);
            let Some(h) = self.touch(name) else {
                break;
            };
            // Its clock to now (it is visited only at its deadlines); what is due
            // waits for its own turn, as before the deadline queue.
            h.terminal.set_now(t);
            if data_download {
                let sc = ServiceCentre {
                    ton_npi: 0x91,
                    digits: mt.smsc_address.clone(),
                };
                match h.terminal.deliver_sms(Some(&sc), &tpdu) {
                    Ok(MtOutcome::ForUser) => h.inbox.push((t, mt.sm)),
                    Ok(_) => {}
                    Err(e) => {
                        let m = format!("SMS-PP download: {e}");
                        self.terminal_error(name, m);
                    }
                }
            } else if is_wap_push(&mt.sm) {
                // Through the TPDU, as a handset's SMS stack would hand it over.
                let sm = short_message_from_deliver(&tpdu).unwrap_or(mt.sm);
                let mut reporter = RecordingReporter::default();
                h.client.on_short_message(&sm, t, &mut reporter);
                let mut confirmations = Vec::new();
                for r in reporter.reports {
                    let mut spec = ArrowSpec::new(
                        Lane::Handset,
                        Lane::Handset,
                        match &r.outcome {
                            handset_sim::provisioning::Outcome::Configured { apns } => {
                                format!("OMA CP applied: {}", apns.join(", "))
                            }
                            handset_sim::provisioning::Outcome::Rejected(reason) => {
                                format!("OMA CP rejected: {reason}")
                            }
                        },
                    );
                    if let Some(k) = r.key_id {
                        spec = spec.line(format!("device key id {k}: session closed, key erased"));
                    }
                    self.sink.spec(t, &actor, spec);
                    confirmations.push(r.clone());
                    if let Some(h) = self.handsets.get_mut(name) {
                        h.reports.push((t, r));
                    }
                }
                for r in confirmations {
                    self.send_confirmation(name, &msisdn, &actor, &r);
                }
            } else {
                h.inbox.push((t, mt.sm));
            }
        }
        moved
    }

    /// The handset's provisioning report (`provisioning_stub::confirmation`, "IMTC"),
    /// as an 8-bit MO SMS to the push's originator: MAC'd under the card's registration
    /// key, answering the card's latest registration counter.
    fn send_confirmation(
        &mut self,
        handset: &str,
        msisdn: &str,
        actor: &str,
        report: &ProvisioningReport,
    ) {
        use handset_sim::provisioning::{Outcome, RejectReason as R};
        use provisioning_stub::confirmation::{ReportRepr, ReportResult};
        let t = self.now_ms();
        let Some(c) = self.cards.get(actor) else {
            return;
        };
        let counter = match c.card.simulated() {
            Some(sim) => sim
                .lock()
                .card()
                .record()
                .map_or(0, |r| r.next_counter().saturating_sub(1)),
            None => self.last_registration_counter(actor),
        };
        let result = match &report.outcome {
            Outcome::Configured { .. } => ReportResult::CONFIGURED,
            Outcome::Rejected(R::BadMac | R::Unauthenticated | R::MissingCredentials) => {
                ReportResult::PUSH_MAC_FAILED
            }
            Outcome::Rejected(R::WrongImei) => ReportResult::KEY_WRONG_IMEI,
            Outcome::Rejected(R::WrongApnSettings) => ReportResult::KEY_WRONG_SETTINGS,
            Outcome::Rejected(R::BadSignature | R::Expired | R::NoManufacturerKey) => {
                ReportResult::KEY_BAD_SIGNATURE
            }
            Outcome::Rejected(
                R::BadDocument(_) | R::BadWsp | R::Settings(_) | R::BadDeviceKey(_),
            ) => ReportResult::DOCUMENT_INVALID,
            Outcome::Rejected(_) => ReportResult::OTHER,
        };
        let repr = ReportRepr {
            key_id: c.key_id,
            result,
            iccid: c.ef_iccid,
            registration_counter: counter,
            device_key_id: report.key_id.unwrap_or(0),
        };
        let Some(payload) = repr.to_signed_vec(&c.key) else {
            return;
        };
        let sm = ShortMessage::new(msisdn, report.to.clone(), 0x00, 0x04, payload);
        let Some(h) = self.handsets.get_mut(handset) else {
            return;
        };
        let mr = h.mr;
        h.mr = h.mr.wrapping_add(1);
        if self.sink.wants(actor) {
            let mut detail = describe::payload(&sm);
            detail.push(format!(
                "result {} ({:#04x}), registration counter {counter}, device key id {}",
                result.label(),
                result.0,
                repr.device_key_id
            ));
            self.sink.spec(
                t,
                actor,
                ArrowSpec {
                    from: Lane::Handset,
                    to: Lane::Network,
                    label: "RP-DATA (provisioning report IMTC)".into(),
                    detail,
                    raw_hex: hex::encode_upper(&sm.user_data),
                },
            );
        }
        let o = self.smsc.with(|s, _| s.submit_mo(msisdn, mr, sm, t));
        let label = match o {
            handset_sim::network::MoOutcome::RpAck { .. } => "RP-ACK".to_owned(),
            handset_sim::network::MoOutcome::RpError { cause } => {
                format!("RP-ERROR cause {}", cause.0)
            }
            handset_sim::network::MoOutcome::NetworkUnable => "no answer".to_owned(),
        };
        self.sink.spec(
            t,
            actor,
            ArrowSpec::new(Lane::Network, Lane::Handset, label),
        );
    }

    /// Cards whose NVM lost power: the handset loses the card. A card only talks
    /// through its handset, so only the cards of handsets touched since the last
    /// deadline refresh are looked at; cuts are handled in card-name order.
    fn check_power_cuts(&mut self) {
        let all = self.watch_all_cuts.get();
        if !self.cuts_watched() {
            return;
        }
        let t = self.now_ms();
        let mut cut: Vec<(String, String, u32)> = self
            .dirty
            .iter()
            .filter_map(|&id| {
                let name = self.handsets.at(id)?.terminal.reader().card_name()?;
                if !all && !self.cut_watch.contains(name) {
                    return None;
                }
                let c = self.cards.get(name)?;
                let uicc = c.card.simulated()?.lock();
                let nvm = uicc.card().store().nvm();
                let handset = self.handsets.name(id)?.to_owned();
                (!nvm.is_powered()).then(|| (name.to_owned(), handset, nvm.writes()))
            })
            .collect();
        cut.sort();
        for (card, handset, writes) in cut {
            let powered = self.handsets.get(&handset).is_some_and(|h| h.powered);
            if !powered {
                continue;
            }
            self.sink.spec(
                t,
                &card,
                ArrowSpec::new(Lane::Card, Lane::Card, "power cut").line(format!(
                    "NVM lost power at write {}",
                    writes.saturating_sub(1)
                )),
            );
            self.stop_card(&handset).ok();
            if let Some(h) = self.handsets.get_mut(&handset) {
                h.powered = false;
            }
        }
    }

    /// SMSC incidents worth an arrow (loss, expiry, storage, refusals).
    fn smsc_incidents(&mut self) {
        let events = self.smsc.with_quiet(|s, _| s.take_events());
        for (t, e) in events {
            let label = match &e {
                SmscEvent::MoStored { message_id } => {
                    format!("stored (no route yet), message_id {message_id}")
                }
                SmscEvent::MtLost { message_id } => {
                    format!("MT attempt lost, message_id {message_id}")
                }
                SmscEvent::MtFailed { message_id, cause } => {
                    format!("MT RP-ERROR cause {}, message_id {message_id}", cause.0)
                }
                SmscEvent::Expired { message_id } => format!("expired, message_id {message_id}"),
                SmscEvent::BindRefused { system_id, reason } => {
                    format!("bind refused for {system_id}: {reason}")
                }
                _ => continue,
            };
            self.sink
                .spec(t, "", ArrowSpec::new(Lane::Network, Lane::Network, label));
        }
    }

    // -------------------------------------------------------------- observing

    /// What can be seen of `card`.
    pub fn card_view(&self, card: &str) -> Result<CardView, WorldError> {
        let c = self.card(card)?;
        let inner = external::internals(&c.card);
        let powered = c
            .in_handset
            .as_ref()
            .and_then(|h| self.handsets.get(h))
            .is_some_and(|h| h.terminal.reader().is_powered());
        let mut sent = Vec::new();
        for (hname, h) in &self.handsets {
            for r in &h.terminal.network().sent {
                if r.card.as_deref() != Some(card) {
                    continue;
                }
                let registration = link::submit_to_message(&r.tpdu)
                    .ok()
                    .and_then(|(sm, _)| describe::registration(&sm.user_data));
                sent.push((
                    r.seq,
                    SentSms {
                        t_ms: r.t_ms,
                        handset: hname.clone(),
                        tpdu: r.tpdu.clone(),
                        outcome: r.outcome,
                        registration,
                    },
                ));
            }
        }
        // In the order sent (the world's MO counter), not handset by handset.
        sent.sort_by_key(|(seq, _)| *seq);
        let sent: Vec<SentSms> = sent.into_iter().map(|(_, s)| s).collect();
        Ok(CardView {
            in_handset: c.in_handset.clone(),
            powered,
            iccid: c.iccid.clone(),
            imsi: c.imsi.clone(),
            stored_imei: inner.stored_imei,
            next_counter: inner.next_counter,
            pending: inner.pending,
            state: inner.state,
            nvm_writes: inner.nvm_writes,
            sent,
        })
    }

    /// The card's registration key (for building reports and forgeries in tests).
    pub fn card_key(&self, card: &str) -> Result<[u8; 16], WorldError> {
        Ok(self.card(card)?.key)
    }

    /// The card's MSISDN (digits).
    pub fn card_msisdn(&self, card: &str) -> Result<String, WorldError> {
        Ok(self.card(card)?.msisdn.clone())
    }

    /// What can be seen of `handset`.
    pub fn handset_view(&self, handset: &str) -> Result<HandsetView, WorldError> {
        let h = self.handset(handset)?;
        let store = h.client.store();
        let keys: Vec<Vec<u8>> = self
            .verdicts()
            .into_iter()
            .filter_map(|v| v.outcome.ok().and_then(|t| t.device_key))
            .collect();
        Ok(HandsetView {
            powered: h.powered,
            card: h.terminal.reader().card_name().map(str::to_owned),
            imei: h.terminal.handset().imei.to_string(),
            apns: store.entries().to_vec(),
            keyed_apns: h
                .client
                .keyed_apns()
                .into_iter()
                .map(|(k, a)| (k, a.to_owned()))
                .collect(),
            holds_device_key: keys.iter().any(|k| {
                h.client.holds_bytes(k) || h.client.holds_bytes(hex::encode_upper(k).as_bytes())
            }),
            mms: h.mms.status(store),
            reports: h.reports.clone(),
            inbox: h.inbox.clone(),
            errors: h.errors.clone(),
        })
    }

    /// Sends an MMS from `handset` through the MMSC its APN store routes to (real HTTP
    /// on loopback; see [`MmsApp::send`]).
    pub fn send_mms(
        &self,
        handset: &str,
        pdu: &[u8],
    ) -> Result<Result<MmsResponse, MmsError>, WorldError> {
        let h = self.handset(handset)?;
        let t = self.now_ms();
        let r = h.mms.send(h.client.store(), pdu);
        let label = match &r {
            Ok(resp) => format!("MMS m-send-req → HTTP {}", resp.status),
            Err(e) => format!("MMS not sent: {e}"),
        };
        self.sink.spec(
            t,
            handset,
            ArrowSpec::new(Lane::Handset, Lane::Manufacturer, label).raw(pdu),
        );
        Ok(r)
    }

    /// The server's verdicts.
    pub fn verdicts(&self) -> Vec<ServerVerdict> {
        self.stub
            .as_ref()
            .map(|s| s.server.verdicts())
            .unwrap_or_default()
    }

    /// The server's ledger.
    pub fn ledger(&self) -> Vec<LedgerLine> {
        self.stub
            .as_ref()
            .map(|s| s.server.ledger())
            .unwrap_or_default()
    }

    /// Wall-clock time spent inside the hosted server so far (see [`ServerTime`]).
    pub fn server_time(&self) -> ServerTime {
        self.stub.as_ref().map(|s| s.busy).unwrap_or_default()
    }

    /// Number of card exchange records so far (see [`World::apdu_trace`]).
    pub fn apdu_count(&self) -> usize {
        self.sink.apdu_count()
    }

    /// Whether the hosted server is running.
    pub fn server_running(&self) -> bool {
        self.stub.as_ref().is_some_and(|s| s.running)
    }
}

/// `imei` (15 ASCII digits) with its 15th digit replaced by the Luhn check digit of
/// the first 14 (TS 23.003 Annex B), for identities that require a valid IMEI.
fn luhn_corrected(
    imei: &str,
) -> Result<provisioning_stub::keys::Imei, provisioning_stub::keys::KeyError> {
    let body = imei
        .get(..14)
        .ok_or(provisioning_stub::keys::KeyError::BadImei)?;
    let check = provisioning_stub::keys::luhn_check_digit(body.as_bytes());
    provisioning_stub::keys::Imei::parse(&format!("{body}{}", char::from(check)))
}
