//! The scenario engine: plays scenario [`Step`]s on the in-process [`crate::world`]
//! (issue 7). [`WorldFactory`] builds a [`World`] from a scenario's world (networks,
//! operators, manufacturers and their key sources, models, handsets, cards, fleets,
//! policy, fees) with the real provisioning stub embedded in-process
//! ([`crate::world::stub::EmbeddedStub`]: SQLite in a temporary directory, key servers
//! over mutual TLS on loopback; its configuration comes from the world, [`stub`]);
//! [`WorldEngine`] translates each action into world operations and builds the
//! runner's [`Observation`] from the world's views, verdicts and ledger.
//!
//! Handsets: a model from `handset-sim/catalogue/` is that profile with the handset's
//! IMEI (its capabilities, IMEISV software version and language); a model only the
//! scenario declares gets every capability (without PROVIDE LOCAL INFORMATION and SEND
//! SHORT MESSAGE when `toolkit = false`).

mod cut_points;
pub mod external;
pub mod reader;
pub mod stub;
pub mod stub_config;
pub mod traces;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use applet::card::Personalisation;
use applet::tracker::{AppletConfig, RetryPolicy};
use applet::wire::registration::KeyId;
use applet::wire::sms;
use handset_sim::network::{DownWindow, Faults, Network, Networks, Operator, Plmn, RpCause};
use handset_sim::profile::{Handset, HandsetProfile, all_capabilities};
use handset_sim::terminal::TerminalConfig;
use provisioning_stub::devices::Date as DbDate;
use provisioning_stub::inventory::{Card as InvCard, Iccid, Imsi, RegistrationKey};

use crate::runner::{
    CardObservation, EngineError, Event, FleetObservation, HandsetObservation, LedgerEntry,
    Observation, SentRegistration, Verdict, VerdictOutcome,
};
use crate::runner::{Engine, EngineFactory, EngineOptions};
use crate::scenario::format::{
    self, KeySourceExpect, LedgerKind, RegistrationEvent, RejectReason, SessionOutcome, StubVerb,
    StubWhen,
};
use crate::scenario::{Action, CutAt, Scenario, Step};
use crate::world::{self, CardSpec, HandsetSpec, World, WorldBuilder};

use crate::world::stub::Control;
use stub::SigningKey;

/// Fleet members in a scenario above which the ladder shows member #0 of each fleet only.
const BUSY_FLEET: usize = 100;

/// The number the embedded stub answers on (every card's registration server).
pub const STUB_NUMBER: &str = "447700900123";

/// Builds a [`WorldEngine`] per scenario: everything in-process.
#[derive(Debug, Clone, Copy, Default)]
pub struct WorldFactory;

impl EngineFactory for WorldFactory {
    fn start(
        &self,
        scenario: &Scenario,
        options: &EngineOptions,
    ) -> Result<Box<dyn Engine>, EngineError> {
        if let Some(r) = &options.reader {
            // One scenario card in a PC/SC reader (`reader` module docs).
            return Ok(Box::new(reader::ReaderEngine::open_pcsc(
                scenario,
                r,
                options.card.as_deref(),
            )?));
        }
        if let Some(s) = &options.stub {
            return external::start(scenario, s, options);
        }
        let engine = WorldEngine::new(scenario)?;
        Ok(match &options.trace_dir {
            Some(dir) => Box::new(traces::TracingEngine::new(engine, scenario, dir)),
            None => Box::new(engine),
        })
    }
}

fn failed(e: impl std::fmt::Display) -> EngineError {
    EngineError::Failed(e.to_string())
}

/// One fleet member: card and the handsets it will use, in order.
#[derive(Debug, Clone)]
struct Member {
    card: String,
    handsets: Vec<String>,
    /// Index into `handsets` of the handset it is in.
    at: usize,
}

#[derive(Debug, Clone)]
struct Fleet {
    members: Vec<Member>,
    /// `(fleet_swap step index, model)` → index into each member's `handsets`.
    swaps: BTreeMap<usize, usize>,
    /// Per card: registrations sent / accepted verdicts before the first step.
    base_sent: BTreeMap<String, u32>,
    base_accepted: u64,
}

/// Plays a scenario on a [`World`] (see the module docs).
pub struct WorldEngine {
    world: World,
    control: Arc<Mutex<Control>>,
    /// Scenario card name → ICCID digits.
    iccids: BTreeMap<String, String>,
    /// Cards the runner observes (not fleet members).
    cards: Vec<String>,
    /// Handsets the runner observes.
    handsets: Vec<String>,
    fleets: BTreeMap<String, Fleet>,
    /// ICCID → fleet name.
    fleet_of: BTreeMap<String, String>,
    /// Pending actions by (time, sequence): earliest first, ties in the order planned.
    schedule: BTreeMap<(u64, u64), Scheduled>,
    seq: u64,
    /// Restart the stub at this time.
    restart_at: Option<u64>,
    restart_after_fire: Option<u64>,
    /// Clear MO RP-ERROR after this many more MO attempts (`count`).
    mo_error_budget: Option<(usize, u32)>,
    arrows_seen: usize,
    /// Card → how many SMS it had sent before its last power-up (for `attempts`).
    cycle_start: BTreeMap<String, usize>,
    powered_cards: BTreeSet<String>,
    /// The scenario being played (for dry runs that locate named NVM commit points).
    scenario: Arc<Scenario>,
    /// Fleet swaps played and the wall-clock time they took (benchmarks only).
    swaps: SwapTime,
}

/// Wall-clock time of the fleet swaps played so far ([`WorldEngine::swap_time`]): each
/// swap is the old handset switched off, the card moved, the new one switched on and
/// everything that triggers at that instant (card session, registration, stub, device
/// key, OMA CP push, provisioning report), so this is the swaps' own cost without the
/// idle handsets' STATUS polls between them. Measured with [`std::time::Instant`]; it
/// never feeds back into the simulation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SwapTime {
    /// Swaps played.
    pub swaps: u64,
    /// Time inside them.
    pub busy: std::time::Duration,
}

#[derive(Debug, Clone)]
enum Scheduled {
    Swap {
        fleet: String,
        member: usize,
        to: usize,
    },
}

fn plmn_of(p: &crate::scenario::values::Plmn) -> Plmn {
    let mut out = Plmn::new(p.mcc.parse().unwrap_or(0), p.mnc.parse().unwrap_or(0));
    out.three_digit_mnc = p.mnc.len() == 3;
    out
}

/// Swapped-nibble BCD, `F`-padded, of `digits` into `n` bytes.
fn bcd(digits: &str, n: usize) -> Vec<u8> {
    let d: Vec<u8> = digits.bytes().map(|b| b - b'0').collect();
    (0..n)
        .map(|i| {
            let lo = d.get(2 * i).copied().unwrap_or(0xF);
            let hi = d.get(2 * i + 1).copied().unwrap_or(0xF);
            (hi << 4) | lo
        })
        .collect()
}

/// EF.IMSI body (TS 31.102 §4.2.2): length, then identity type 1 with parity.
fn ef_imsi(imsi: &str) -> [u8; 9] {
    let odd = imsi.len() % 2 == 1;
    let mut digits = String::from(if odd { "9" } else { "1" });
    digits.push_str(imsi);
    let body = bcd(&digits, 8);
    let mut out = [0xFFu8; 9];
    out[0] = u8::try_from(imsi.len().div_ceil(2) + usize::from(!odd)).unwrap_or(8);
    out[0] = 8;
    for (i, b) in body.iter().enumerate() {
        out[i + 1] = *b;
    }
    // bcd put the type nibble low and the first digit high, as TS 24.008 wants.
    out
}

fn luhn(body: &str) -> char {
    char::from(provisioning_stub::keys::luhn_check_digit(body.as_bytes()))
}

fn date_of(d: &crate::scenario::values::Date) -> Option<DbDate> {
    DbDate::new(i32::from(d.year), d.month, d.day)
}

/// A handset-sim handset for a scenario model with this IMEI: the model's handset-sim
/// catalogue profile when it has one, else a profile built from its facts. `toolkit`
/// other than the model's adds or removes PROVIDE LOCAL INFORMATION and SEND SHORT
/// MESSAGE.
fn build_handset(
    model_id: &str,
    model: &format::Model,
    maker: &str,
    imei: &str,
    toolkit: bool,
) -> Result<Handset, EngineError> {
    const TOOLKIT: [&str; 2] = ["provide_local_information", "send_short_message"];
    let body = imei
        .get(..14)
        .ok_or_else(|| failed(format!("IMEI {imei}: expected 15 digits")))?;
    let valid_imei = format!("{body}{}", luhn(body));
    let profile = match &model.profile {
        Some(p) => {
            let mut p = p.clone();
            // The unit keeps the sample's software version number (SVN).
            let svn = p.imeisv.get(14..).unwrap_or("01").to_owned();
            p.imei = valid_imei.clone();
            p.imeisv = format!("{body}{svn}");
            if toolkit != model.toolkit {
                p.capabilities.retain(|c| !TOOLKIT.contains(&c.as_str()));
                if toolkit {
                    p.capabilities
                        .extend(TOOLKIT.iter().map(|c| (*c).to_owned()));
                }
            }
            p
        }
        None => {
            let mut caps = all_capabilities();
            if !toolkit {
                caps.retain(|c| !TOOLKIT.contains(&c.as_str()));
            }
            HandsetProfile {
                make: maker.to_owned(),
                model: model.name.clone(),
                manufacturer: model.manufacturer.get_ref().clone(),
                tac: model.tac.as_str().to_owned(),
                imei: valid_imei.clone(),
                imeisv: format!("{body}01"),
                release_year: model.released.year,
                depreciated: false,
                language: "en".into(),
                capabilities: caps,
            }
        }
    };
    let mut h = profile
        .validate()
        .map_err(|e| failed(format!("model {model_id}: {e}")))?;
    if valid_imei != imei {
        // An invalid IMEI on purpose: the terminal reports it as written.
        h.imei = imei
            .parse()
            .map_err(|e| failed(format!("IMEI {imei}: {e:?}")))?;
    }
    Ok(h)
}

impl WorldEngine {
    /// Builds the world of `scenario`.
    pub fn new(scenario: &Scenario) -> Result<Self, EngineError> {
        Self::new_with(scenario, None)
    }

    /// Builds the world of `scenario` with `server` (e.g. [`world::smpp_bridge`]'s
    /// bridge to an external stub) in place of the hosted stub when given.
    pub fn new_with(
        scenario: &Scenario,
        server: Option<Box<dyn world::ProvisioningServer>>,
    ) -> Result<Self, EngineError> {
        let w = &scenario.world;
        let seed = scenario.seed;
        // Networks and operators.
        let mut networks = Networks::new();
        for (name, n) in &w.networks {
            networks
                .add_network(Network {
                    name: name.clone(),
                    plmn: plmn_of(&n.plmn),
                    lac: n.lac,
                    cell_id: n.cell,
                    smsc_address: n.smsc.as_str().trim_start_matches('+').to_owned(),
                })
                .map_err(failed)?;
        }
        for (name, o) in &w.operators {
            networks
                .add_operator(Operator {
                    name: name.clone(),
                    home_plmn: plmn_of(o.plmn.get_ref()),
                    host_network: o.network.get_ref().clone(),
                    mvno: o.mvno,
                })
                .map_err(failed)?;
        }
        // Manufacturers' signing keys, seeded (the handsets verify device keys with them).
        let signers: BTreeMap<String, SigningKey> = w
            .manufacturers
            .keys()
            .map(|id| (id.clone(), SigningKey::seeded(seed, id)))
            .collect();
        let devices = stub::device_database(w)?;
        // Civil time of virtual time 0: the scenario's date, 00:00 UTC, for the whole
        // world (so the stub's age rule judges on that date).
        let date = date_of(&scenario.date).ok_or_else(|| failed("bad date"))?;
        let epoch_unix_s = date.start().0 / 1000;
        let mut builder = WorldBuilder::new(seed)
            .epoch(epoch_unix_s, Some(4))
            .networks(networks);
        let mut inventory = Vec::new();
        let mut iccids = BTreeMap::new();
        // Cards.
        let mut add_card = |builder: WorldBuilder,
                            name: &str,
                            iccid: &str,
                            imsi: &str,
                            msisdn: &str,
                            pin: Option<&str>,
                            key: [u8; 16],
                            retry: RetryPolicy|
         -> Result<WorldBuilder, EngineError> {
            let mut pin1 = [0xFFu8; 8];
            for (i, b) in pin.unwrap_or("0000").bytes().take(8).enumerate() {
                pin1[i] = b;
            }
            let mnc3 = w.operators.values().any(|o| {
                imsi.starts_with(&o.plmn.get_ref().digits()) && o.plmn.get_ref().mnc.len() == 3
            });
            let mut iccid_ef = [0u8; 10];
            iccid_ef.copy_from_slice(&bcd(iccid, 10));
            let p = Personalisation {
                files: applet::card::fs::Personalisation {
                    iccid: iccid_ef,
                    imsi: ef_imsi(imsi),
                    ad: [0, 0, 0, if mnc3 { 3 } else { 2 }],
                    pin1,
                    pin1_enabled: pin.is_some(),
                },
                msisdn: sms::Address::number(&format!("+{msisdn}")).ok(),
                applet: AppletConfig {
                    server: sms::Address::number(&format!("+{STUB_NUMBER}"))
                        .map_err(|e| failed(format!("{e:?}")))?,
                    smsc: None,
                    retry,
                    enabled: true,
                    request_imeisv: false,
                    key_id: KeyId(0x12),
                    key,
                },
            };
            inventory.push(InvCard {
                iccid: Iccid::parse(iccid).map_err(failed)?,
                imsi: Imsi::parse(imsi).map_err(failed)?,
                msisdn: None,
                key: RegistrationKey(key),
            });
            Ok(builder.card(
                name,
                CardSpec {
                    personalisation: p,
                    msisdn: msisdn.to_owned(),
                },
            ))
        };
        let key_for = |iccid: &str| {
            let mut rng = world::clock::rng_for(seed, &format!("card key {iccid}"));
            let mut k = [0u8; 16];
            k[..8].copy_from_slice(&rng.next_u64().to_le_bytes());
            k[8..].copy_from_slice(&rng.next_u64().to_le_bytes());
            k
        };
        for (name, c) in &w.cards {
            let mut retry = RetryPolicy::DEFAULT;
            if let Some(r) = &c.retry {
                if let Some(v) = &r.per_power_cycle {
                    retry.max_attempts_per_power_cycle = *v.get_ref();
                }
                if let Some(v) = &r.per_period {
                    retry.max_attempts_per_period = *v.get_ref();
                }
                if let Some(v) = &r.period {
                    retry.period_s = u32::try_from(v.ms / 1000).unwrap_or(u32::MAX);
                }
                if let Some(v) = &r.backoff {
                    retry.backoff_s = u16::try_from(v.ms / 1000).unwrap_or(u16::MAX);
                }
            }
            if c.stored_imei.is_some() || c.counter != 0 {
                return Err(EngineError::Unsupported(format!(
                    "card {name}: a stored IMEI or counter at personalisation (the world personalises blank NVM only)"
                )));
            }
            let iccid = c.iccid.get_ref().as_str().to_owned();
            let key = c
                .registration_key
                .as_ref()
                .map_or_else(|| key_for(&iccid), |k| k.0);
            builder = add_card(
                builder,
                name,
                &iccid,
                c.imsi.get_ref().as_str(),
                c.msisdn.as_str().trim_start_matches('+'),
                c.pin.as_ref().map(|p| p.as_str()),
                key,
                retry,
            )?;
            iccids.insert(name.clone(), iccid);
        }
        // Handsets.
        let model_handset = |model_id: &str, imei: &str, toolkit: Option<bool>| {
            let m = w
                .models
                .get(model_id)
                .ok_or_else(|| failed(format!("no model {model_id}")))?;
            let maker = w
                .manufacturers
                .get(m.manufacturer.get_ref())
                .map_or_else(|| m.manufacturer.get_ref().clone(), |x| x.name.clone());
            let h = build_handset(model_id, m, &maker, imei, toolkit.unwrap_or(m.toolkit))?;
            let mut spec = HandsetSpec::new(h);
            spec.manufacturer_key = signers
                .get(m.manufacturer.get_ref())
                .map(|k| k.signer.verifying_key());
            spec.terminal = TerminalConfig::default();
            Ok::<_, EngineError>(spec)
        };
        for (name, h) in &w.handsets {
            let imei = scenario
                .handset_imeis
                .get(name)
                .ok_or_else(|| failed(format!("no IMEI for handset {name}")))?;
            builder = builder.handset(
                name,
                model_handset(h.model.get_ref(), imei.as_str(), h.toolkit)?,
            );
        }
        // Fleets: cards, first handsets, and one handset per fleet_swap step.
        let mut fleets = BTreeMap::new();
        let mut fleet_of = BTreeMap::new();
        for (fi, (fname, f)) in w.fleets.iter().enumerate() {
            let op = w
                .operators
                .get(f.operator.get_ref())
                .ok_or_else(|| failed(format!("no operator {}", f.operator.get_ref())))?;
            let mut models = vec![f.model.get_ref().clone()];
            let mut swaps = BTreeMap::new();
            for st in &scenario.steps {
                if let Action::FleetSwap {
                    fleet, to_model, ..
                } = &st.action
                    && fleet == fname
                {
                    swaps.insert(st.index, models.len());
                    models.push(to_model.clone());
                }
            }
            let mut members = Vec::new();
            let count = *f.count.get_ref();
            for i in 0..count {
                let body = format!("8999{fi:02}{i:012}");
                let iccid = format!("{body}{}", luhn(&body));
                let prefix = op.plmn.get_ref().digits();
                let imsi = format!("{prefix}{:0width$}", i, width = 15 - prefix.len());
                let msisdn = format!("99{fi:02}{i:08}");
                let card = format!("{fname}#{i}");
                builder = add_card(
                    builder,
                    &card,
                    &iccid,
                    &imsi,
                    &msisdn,
                    None,
                    key_for(&iccid),
                    RetryPolicy::DEFAULT,
                )?;
                let mut hs = Vec::new();
                for (k, model) in models.iter().enumerate() {
                    let m = w
                        .models
                        .get(model)
                        .ok_or_else(|| failed(format!("no model {model}")))?;
                    let serial = format!(
                        "{:06}",
                        (u64::from(i) * 8 + k as u64 + u64::from(fi as u32) * 1_000_000)
                            % 1_000_000
                    );
                    let body = format!("{}{serial}", m.tac.as_str());
                    let imei = format!("{body}{}", luhn(&body));
                    let hname = format!("{card}/h{k}");
                    builder = builder.handset(&hname, model_handset(model, &imei, None)?);
                    hs.push(hname);
                }
                fleet_of.insert(iccid.clone(), fname.clone());
                members.push(Member {
                    card,
                    handsets: hs,
                    at: 0,
                });
            }
            fleets.insert(
                fname.clone(),
                Fleet {
                    members,
                    swaps,
                    base_sent: BTreeMap::new(),
                    base_accepted: 0,
                },
            );
        }
        let (server, control) = match server {
            // An external stub (`--stub`): the world cannot arm its crash points.
            Some(server) => (
                server,
                Arc::new(Mutex::new(world::stub::Control::default())),
            ),
            None => {
                // Key servers only for the manufacturers whose handsets can appear.
                let stub_world = scenario.stub_world();
                let stub = stub::embedded(
                    &stub_world,
                    seed,
                    &inventory,
                    &devices,
                    &signers,
                    STUB_NUMBER,
                    epoch_unix_s,
                )?;
                let control = stub.control();
                let server: Box<dyn world::ProvisioningServer> = Box::new(stub);
                (server, control)
            }
        };
        builder = builder.server(STUB_NUMBER, server);
        let world = builder.build().map_err(failed)?;
        let mut engine = WorldEngine {
            world,
            control,
            iccids,
            cards: w.cards.keys().cloned().collect(),
            handsets: w.handsets.keys().cloned().collect(),
            fleets,
            fleet_of,
            schedule: BTreeMap::new(),
            seq: 0,
            restart_at: None,
            restart_after_fire: None,
            mo_error_budget: None,
            arrows_seen: 0,
            cycle_start: BTreeMap::new(),
            powered_cards: BTreeSet::new(),
            scenario: Arc::new(scenario.clone()),
            swaps: SwapTime::default(),
        };
        if engine.busy() {
            // The ladder of a busy world shows member #0 of each fleet (`step`): the
            // others' arrows are not even built.
            let muted = engine.fleets.values().flat_map(|f| {
                f.members
                    .iter()
                    .skip(1)
                    .flat_map(|m| std::iter::once(m.card.clone()).chain(m.handsets.iter().cloned()))
            });
            let muted: Vec<String> = muted.collect();
            engine.world.mute_arrows_of(muted);
        }
        engine.setup_fleets(w)?;
        engine.arrows_seen = engine.world.arrow_count();
        Ok(engine)
    }

    /// Fleets with `registered = true`: every card registers its first handset before
    /// the story starts (counted out of the fleet's totals).
    fn setup_fleets(&mut self, w: &format::World) -> Result<(), EngineError> {
        let names: Vec<String> = self.fleets.keys().cloned().collect();
        for f in names {
            let registered = w.fleets.get(&f).is_some_and(|x| x.registered);
            let members = self.fleets[&f].members.clone();
            for m in &members {
                self.world.insert(&m.card, &m.handsets[0]).map_err(failed)?;
                if registered {
                    self.world.power_on(&m.handsets[0]).map_err(failed)?;
                }
            }
            let sent = self.fleet_sent(&f);
            let accepted = self.fleet_accepted(&f);
            if let Some(fl) = self.fleets.get_mut(&f) {
                fl.base_sent = sent;
                fl.base_accepted = accepted;
            }
        }
        Ok(())
    }

    /// More fleet members than a ladder can show: only member #0 of each fleet is
    /// drawn.
    fn busy(&self) -> bool {
        self.fleets.values().map(|f| f.members.len()).sum::<usize>() > BUSY_FLEET
    }

    /// Fleet swaps played so far and their wall-clock time (see [`SwapTime`]).
    pub fn swap_time(&self) -> SwapTime {
        self.swaps
    }

    /// The world (for tests and benchmarks: APDU trace, arrows).
    pub fn world(&self) -> &World {
        &self.world
    }

    fn fleet_sent(&self, fleet: &str) -> BTreeMap<String, u32> {
        let mut out = BTreeMap::new();
        let Some(f) = self.fleets.get(fleet) else {
            return out;
        };
        for m in &f.members {
            let mut n = 0u32;
            for h in &m.handsets {
                if let Ok(t) = self.world.terminal(h) {
                    n += t
                        .network()
                        .sent
                        .iter()
                        .filter(|r| r.card.as_deref() == Some(m.card.as_str()))
                        .count() as u32;
                }
            }
            out.insert(m.card.clone(), n);
        }
        out
    }

    fn fleet_accepted(&self, fleet: &str) -> u64 {
        self.world
            .verdicts()
            .iter()
            .filter(|v| {
                v.outcome.is_ok()
                    && v.iccid
                        .as_ref()
                        .and_then(|i| self.fleet_of.get(i))
                        .is_some_and(|f| f == fleet)
            })
            .count() as u64
    }

    fn after_op(&mut self) {
        let fired = self
            .control
            .lock()
            .map(|mut c| std::mem::take(&mut c.fired))
            .unwrap_or(false);
        if fired {
            self.world.stop_server().ok();
            if let Some(d) = self.restart_after_fire.take() {
                self.restart_at = Some(self.world.now_ms() + d);
            }
        }
        if let Some((base, n)) = self.mo_error_budget
            && self.mo_attempts() >= base + n as usize
        {
            let mut f = self.world.with_smsc(|s, _| s.faults.clone());
            f.mo_rp_error = None;
            self.world.set_faults(f);
            self.mo_error_budget = None;
        }
    }

    fn mo_attempts(&self) -> usize {
        self.handsets
            .iter()
            .filter_map(|h| self.world.terminal(h).ok())
            .map(|t| t.network().sent.len())
            .sum()
    }

    /// Runs to `to`, doing scheduled swaps and stub restarts on the way.
    fn run_to(&mut self, to: u64) -> Result<(), EngineError> {
        loop {
            let next_sched = self.schedule.first_key_value().map(|(k, _)| k.0);
            let next = [next_sched, self.restart_at]
                .into_iter()
                .flatten()
                .filter(|t| *t <= to)
                .min();
            let Some(t) = next else { break };
            self.world.run_until(t);
            self.after_op();
            if self.restart_at.is_some_and(|r| r <= t) {
                self.restart_at = None;
                self.world.start_server().map_err(failed)?;
                self.after_op();
            }
            while self
                .schedule
                .first_key_value()
                .is_some_and(|(k, _)| k.0 <= t)
            {
                if let Some((_, what)) = self.schedule.pop_first() {
                    self.do_scheduled(what)?;
                }
            }
        }
        self.world.run_until(to);
        self.after_op();
        Ok(())
    }

    fn do_scheduled(&mut self, what: Scheduled) -> Result<(), EngineError> {
        match what {
            Scheduled::Swap { fleet, member, to } => {
                let Some(m) = self
                    .fleets
                    .get(&fleet)
                    .and_then(|f| f.members.get(member))
                    .cloned()
                else {
                    return Ok(());
                };
                let started = std::time::Instant::now();
                let from = &m.handsets[m.at];
                self.world.power_off(from).map_err(failed)?;
                self.world
                    .move_card(&m.card, &m.handsets[to])
                    .map_err(failed)?;
                self.world.power_on(&m.handsets[to]).map_err(failed)?;
                if let Some(mm) = self
                    .fleets
                    .get_mut(&fleet)
                    .and_then(|f| f.members.get_mut(member))
                {
                    mm.at = to;
                }
                self.swaps.swaps += 1;
                self.swaps.busy += started.elapsed();
                self.after_op();
            }
        }
        Ok(())
    }

    fn play(&mut self, step: &Step) -> Result<(), EngineError> {
        let now = self.world.now_ms();
        match &step.action {
            Action::Check => {}
            Action::Insert { card, handset } => self.world.insert(card, handset).map_err(failed)?,
            Action::Remove { card } => self.world.remove(card).map_err(failed)?,
            Action::Move { card, to } => self.world.move_card(card, to).map_err(failed)?,
            Action::PowerOn { handset } => self.world.power_on(handset).map_err(failed)?,
            Action::PowerOff { handset } => self.world.power_off(handset).map_err(failed)?,
            Action::Attach { handset, network } => {
                self.world.attach(handset, network).map_err(failed)?
            }
            Action::Advance { by } => self.run_to(now + by.ms)?,
            Action::Fault(f) => self.fault(f)?,
            Action::CutPower { card, at } => {
                let nth = match at {
                    CutAt::Write(n) => *n,
                    // Located exactly by dry runs (`cut_points`).
                    CutAt::Point(p) => self.nvm_point_write(step.index, card, *p)?,
                };
                self.world
                    .cut_power_at_write(card, nth, 1)
                    .map_err(failed)?
            }
            Action::Stub(s) => {
                let down = s.down_for.map_or(0, |d| d.ms);
                match (s.action, s.when) {
                    (StubVerb::Stop, StubWhen::Now) => self.world.stop_server().map_err(failed)?,
                    (StubVerb::Start, _) => self.world.start_server().map_err(failed)?,
                    (StubVerb::Restart, StubWhen::Now) => {
                        self.world.stop_server().map_err(failed)?;
                        if down == 0 {
                            self.world.start_server().map_err(failed)?;
                        } else {
                            self.restart_at = Some(now + down);
                        }
                    }
                    (verb, when) => {
                        if let Ok(mut c) = self.control.lock() {
                            match when {
                                StubWhen::AfterRegistrationStored => {
                                    c.armed.after_registration_stored = true
                                }
                                _ => c.armed.after_reply_sent = true,
                            }
                        }
                        self.restart_after_fire = (verb == StubVerb::Restart).then_some(down);
                    }
                }
            }
            Action::EnterPin { handset, pin } => self
                .world
                .enter_pin(handset, pin.as_str())
                .map_err(failed)?,
            Action::Replay { card, nth } => {
                let view = self.world.card_view(card).map_err(failed)?;
                let Some(s) = view
                    .sent
                    .iter()
                    .filter(|s| s.registration.is_some())
                    .nth(*nth as usize - 1)
                else {
                    return Err(failed(format!(
                        "{card} sent fewer than {nth} registrations"
                    )));
                };
                let (sm, _) = world::link::submit_to_message(&s.tpdu)
                    .map_err(|e| failed(format!("{e:?}")))?;
                let msisdn = self.world.card_msisdn(card).map_err(failed)?;
                self.world.inject_mo(&msisdn, 0xEE, sm);
            }
            Action::Forge {
                card,
                imei,
                key_of,
                counter,
            } => self.forge(card, imei, key_of.as_deref(), *counter)?,
            Action::FleetSwap { fleet, spread, .. } => {
                let f = self
                    .fleets
                    .get(fleet)
                    .ok_or_else(|| failed(format!("no fleet {fleet}")))?;
                let to = *f
                    .swaps
                    .get(&step.index)
                    .ok_or_else(|| failed("fleet swap not planned"))?;
                let n = f.members.len() as u64;
                let mut rng = world::clock::rng_for(
                    self.world.seed(),
                    &format!("fleet {fleet} {}", step.index),
                );
                let slot = spread.ms / n.max(1);
                for i in 0..n {
                    let jitter = if slot > 1 { rng.next_u64() % slot } else { 0 };
                    let t = now + i * slot + jitter;
                    self.seq += 1;
                    self.schedule.insert(
                        (t, self.seq),
                        Scheduled::Swap {
                            fleet: fleet.clone(),
                            member: i as usize,
                            to,
                        },
                    );
                }
                self.run_to(now)?;
            }
        }
        self.after_op();
        Ok(())
    }

    fn fault(&mut self, f: &format::Fault) -> Result<(), EngineError> {
        let now = self.world.now_ms();
        let mut faults = if f.clear {
            Faults::none()
        } else {
            self.world.with_smsc(|s, _| s.faults.clone())
        };
        if let Some(n) = &f.network {
            // The SMSC simulator has one fault set for every network: a fault limited to
            // one network cannot be played faithfully, so it is refused, not widened.
            return Err(EngineError::Unsupported(format!(
                "fault limited to network {:?}: the SMSC simulator applies faults to every network; drop `network` to fault them all",
                n.get_ref()
            )));
        }
        if let Some(d) = f.smsc_down {
            faults.down.push(DownWindow {
                from_ms: now,
                until_ms: now + d.ms,
            });
        }
        if let Some(c) = f.mo_rp_error {
            faults.mo_rp_error = Some(RpCause(c));
            if let Some(n) = f.count {
                self.mo_error_budget = Some((self.mo_attempts(), n));
            }
        }
        if let Some(c) = f.mt_rp_error {
            faults.mt_rp_error = Some(RpCause(c));
        }
        if let Some(p) = f.mo_loss {
            faults.mo_loss = p;
        }
        if let Some(p) = f.mt_loss {
            faults.mt_loss = p;
        }
        if let Some(l) = f.latency {
            faults.latency_ms = l.ms;
        }
        if f.clear {
            self.mo_error_budget = None;
        }
        self.world.set_faults(faults);
        if let Some(h) = &f.out_of_coverage {
            self.world
                .set_coverage(h.get_ref(), false)
                .map_err(failed)?;
        }
        if let Some(h) = &f.in_coverage {
            self.world.set_coverage(h.get_ref(), true).map_err(failed)?;
        }
        Ok(())
    }

    fn forge(
        &mut self,
        card: &str,
        imei: &crate::scenario::values::Imei,
        key_of: Option<&str>,
        counter: Option<u64>,
    ) -> Result<(), EngineError> {
        use applet::wire::registration::{EventKind, RegistrationRepr};
        let view = self.world.card_view(card).map_err(failed)?;
        let key = match key_of {
            Some(other) => self.world.card_key(other).map_err(failed)?,
            None => {
                let mut rng = world::clock::rng_for(
                    self.world.seed(),
                    &format!("forge {}", self.world.now_ms()),
                );
                let mut k = [0u8; 16];
                k[..8].copy_from_slice(&rng.next_u64().to_le_bytes());
                k[8..].copy_from_slice(&rng.next_u64().to_le_bytes());
                k
            }
        };
        let mut iccid = [0u8; 10];
        iccid.copy_from_slice(&bcd(&view.iccid, 10));
        let imsi_ef = ef_imsi(&view.imsi);
        let mut imei_b = [0u8; 8];
        {
            // IMEI mobile identity (TS 24.008 §10.5.1.4): digit 1 high with type 010 and
            // odd parity (low nibble A), then digit pairs low nibble first.
            let d: Vec<u8> = imei.as_str().bytes().map(|b| b - b'0').collect();
            imei_b[0] = (d[0] << 4) | 0x0A;
            for i in 1..8 {
                imei_b[i] = (d[2 * i] << 4) | d[2 * i - 1];
            }
        }
        let repr = RegistrationRepr {
            key_id: KeyId(0x12),
            event: EventKind::HANDSET_CHANGED,
            iccid,
            imsi: imsi_ef,
            counter: counter.unwrap_or(view.next_counter.max(1)),
            imei: imei_b,
            imeisv: None,
            previous_imei: None,
        };
        let mut buf = [0u8; 80];
        let n = repr
            .emit_signed(&key, &mut buf)
            .map_err(|e| failed(format!("{e:?}")))?;
        let msisdn = self.world.card_msisdn(card).map_err(failed)?;
        let sm =
            handset_sim::network::ShortMessage::new("", STUB_NUMBER, 0, 0x04, buf[..n].to_vec());
        self.world.inject_mo(&msisdn, 0xEF, sm);
        Ok(())
    }

    fn card_obs(&self, name: &str, verdicts: &[world::ServerVerdict]) -> CardObservation {
        let Ok(v) = self.world.card_view(name) else {
            return CardObservation::default();
        };
        let iccid = self.iccids.get(name).cloned().unwrap_or_default();
        let state = &v.state;
        CardObservation {
            in_handset: v.in_handset.clone(),
            stored_imei: v.stored_imei.clone(),
            session: session_of(state),
            pending: v.pending,
            attempts: {
                let from = self.cycle_start.get(name).copied().unwrap_or(0);
                v.sent
                    .iter()
                    .skip(from)
                    .filter(|s| s.registration.is_some())
                    .count() as u32
            },
            counter: v.next_counter,
            sent: v
                .sent
                .iter()
                .filter_map(|s| {
                    s.registration.as_ref().map(|r| SentRegistration {
                        t_ms: s.t_ms,
                        event: match r.event.0 {
                            1 => RegistrationEvent::FirstUse,
                            2 => RegistrationEvent::HandsetChanged,
                            _ => RegistrationEvent::Retry,
                        },
                        imei: r.imei.clone(),
                    })
                })
                .collect(),
            verdicts: verdicts
                .iter()
                .filter(|x| x.iccid.as_deref() == Some(iccid.as_str()))
                .map(|x| Verdict {
                    t_ms: x.t_ms,
                    outcome: match &x.outcome {
                        Ok(t) => VerdictOutcome::Accepted {
                            depreciated: t.depreciated,
                            key_source: match t.key_source.as_deref() {
                                Some("local") => Some(KeySourceExpect::Local),
                                Some("manufacturer") => Some(KeySourceExpect::Manufacturer),
                                _ => None,
                            },
                        },
                        // The stub's labels (`provisioning_stub::pipeline` rejection
                        // labels, the store's outcomes, the policy's refusal).
                        Err(r) => VerdictOutcome::Rejected(match r.as_str() {
                            "bad_mac" => RejectReason::BadMac,
                            // A byte-exact replay of a handled registration is the
                            // store's "duplicate"; any other old counter is a "replay".
                            "replay" | "duplicate" => RejectReason::Replayed,
                            "unknown_card" => RejectReason::UnknownCard,
                            "imei_check_digit" | "invalid_imei" => RejectReason::InvalidImei,
                            "unknown_tac" => RejectReason::UnknownTac,
                            _ => RejectReason::Malformed,
                        }),
                    },
                })
                .collect(),
        }
    }

    fn handset_obs(&self, name: &str) -> HandsetObservation {
        let Ok(v) = self.world.handset_view(name) else {
            return HandsetObservation::default();
        };
        HandsetObservation {
            powered: v.powered,
            card: v.card.clone(),
            apns: v.apns.iter().map(|a| a.settings.apn.clone()).collect(),
            device_key_present: v.holds_device_key,
            device_key_used: !v.keyed_apns.is_empty(),
            mms_working: matches!(v.mms, handset_sim::provisioning::MmsStatus::Enabled { .. }),
        }
    }

    fn fleet_obs(&self, name: &str) -> FleetObservation {
        let Some(f) = self.fleets.get(name) else {
            return FleetObservation::default();
        };
        let sent = self.fleet_sent(name);
        let mut out = FleetObservation::default();
        for m in &f.members {
            let n = sent.get(&m.card).copied().unwrap_or(0)
                - f.base_sent.get(&m.card).copied().unwrap_or(0);
            out.registrations += u64::from(n);
            out.max_sms_per_card = out.max_sms_per_card.max(n);
            if let Ok(h) = self.world.provisioning_client(&m.handsets[m.at])
                && !h.store().entries().is_empty()
            {
                out.configured += 1;
            }
        }
        out.accepted = self.fleet_accepted(name) - f.base_accepted;
        out
    }
}

fn session_of(s: &applet::tracker::State) -> Option<SessionOutcome> {
    use applet::tracker::{Outcome, State};
    let o = match s {
        State::Idle => return None,
        State::Done(o) => *o,
        _ => return Some(SessionOutcome::InProgress),
    };
    Some(match o {
        Outcome::Disabled => SessionOutcome::Disabled,
        Outcome::TerminalUnsupported => SessionOutcome::TerminalUnsupported,
        Outcome::Unchanged => SessionOutcome::Unchanged,
        Outcome::Registered => SessionOutcome::Registered,
        Outcome::ImeiUnusable => SessionOutcome::ImeiUnusable,
        Outcome::RateLimited => SessionOutcome::RateLimited,
        Outcome::GaveUp => SessionOutcome::GaveUp,
        Outcome::Misconfigured => SessionOutcome::Misconfigured,
    })
}

impl Engine for WorldEngine {
    fn step(&mut self, step: &Step) -> Result<Vec<Event>, EngineError> {
        // SMS each card had sent before this step: a card powered up during the step
        // starts its power cycle there (by sending order, so SMS of the same virtual
        // instant before the power-up are not counted in `attempts`).
        let sent_before: BTreeMap<String, usize> = self
            .cards
            .iter()
            .filter_map(|c| {
                self.world
                    .card_view(c)
                    .ok()
                    .map(|v| (c.clone(), v.sent.len()))
            })
            .collect();
        self.play(step)?;
        for c in &self.cards {
            if let Ok(v) = self.world.card_view(c)
                && v.in_handset.is_some()
                && v.powered
                && !self.powered_cards.contains(c)
            {
                let from = sent_before.get(c).copied().unwrap_or(0);
                self.cycle_start.insert(c.clone(), from);
            }
        }
        self.powered_cards = self
            .cards
            .iter()
            .filter(|c| self.world.card_view(c).is_ok_and(|v| v.powered))
            .cloned()
            .collect();
        let arrows = self.world.arrows_since(self.arrows_seen);
        self.arrows_seen = self.world.arrow_count();
        let busy = self.busy();
        Ok(arrows
            .into_iter()
            .filter(|a| {
                !busy
                    || !a.actor.contains('#')
                    || a.actor.ends_with("#0")
                    || a.actor
                        .starts_with(&format!("{}/", a.actor.split('/').next().unwrap_or("")))
                        && a.actor.contains("#0/")
            })
            .map(|a| Event {
                t_ms: a.t_ms,
                from: lane(a.from),
                to: lane(a.to),
                label: if a.actor.is_empty() {
                    a.label
                } else {
                    format!("[{}] {}", a.actor, a.label)
                },
                detail_lines: a.detail,
                raw_hex: a.raw_hex,
            })
            .collect())
    }

    fn observe(&self) -> Observation {
        let verdicts = self.world.verdicts();
        Observation {
            now_ms: self.world.now_ms(),
            cards: self
                .cards
                .iter()
                .map(|c| (c.clone(), self.card_obs(c, &verdicts)))
                .collect(),
            handsets: self
                .handsets
                .iter()
                .map(|h| (h.clone(), self.handset_obs(h)))
                .collect(),
            stub_running: self.world.server_running(),
            ledger: self
                .world
                .ledger()
                .into_iter()
                .filter_map(|l| {
                    Some(LedgerEntry {
                        kind: match l.kind.as_str() {
                            "fee_request" => LedgerKind::FeeRequest,
                            "payment" => LedgerKind::Payment,
                            "manufacturer_share" => LedgerKind::ManufacturerShare,
                            "download_confirmation" => LedgerKind::DownloadConfirmation,
                            _ => return None,
                        },
                        party: l.party,
                        amount_minor: l.amount_minor,
                        currency: l.currency,
                    })
                })
                .collect(),
            fleets: self
                .fleets
                .keys()
                .map(|f| (f.clone(), self.fleet_obs(f)))
                .collect(),
        }
    }
}

fn lane(l: world::Lane) -> crate::runner::Lane {
    match l {
        world::Lane::Card => crate::runner::Lane::Card,
        world::Lane::Handset => crate::runner::Lane::Handset,
        world::Lane::Network => crate::runner::Lane::Network,
        world::Lane::Stub => crate::runner::Lane::Stub,
        world::Lane::Manufacturer => crate::runner::Lane::Manufacturer,
    }
}
