//! The provisioning stub embedded in the world: `provisioning_stub`'s own pieces
//! (registration check, SQLite store, policy, key providers, OMA CP reply, IMTC report,
//! billing) composed in the order of its `serve` pipeline (`provisioning_stub::pipeline`),
//! but called synchronously at virtual time instead of through an SMPP session.
//!
//! The store is a real SQLite file in a temporary directory
//! ([`SqliteStore::open_inline`]: one connection used on the world's thread, WAL with
//! `synchronous = OFF` — see `docs/scenarios.md`, "The embedded stub"). A manufacturer
//! key source is the real [`ManufacturerClient`] over mutual TLS to a key server on
//! loopback (kept-alive connections), a local one the stub's delegated signing key
//! file. Everything async runs on the one tokio runtime this stub owns.
//!
//! Differences from `serve`, all deliberate:
//! * times stored are the world's virtual time (`epoch + now_ms`), not the wall clock;
//! * provisioning runs inline right after the registration is recorded (`serve` acks
//!   first and spawns it), so a crash armed "after the registration is stored" comes
//!   before the ack and the SMSC redelivers;
//! * a redelivered registration ([`RegistrationOutcome::Duplicate`]) whose original
//!   was never provisioned (no delivery and no failure in the store) is provisioned
//!   then — the recovery `serve` lacks (docs/stub.md);
//! * the manufacturer's download confirmation is posted inline, once (`serve` keeps an
//!   outbox and retries);
//! * submitted segments go back to the world as MT messages.
//!
//! **Stop and start.** [`ProvisioningServer::on_running`]`(false)` drops the running
//! stub (store connection, key clients and their connections); `true` opens a new one
//! on the same database file. Only what the store made durable survives, as for a
//! process restart. The verdicts ([`ProvisioningServer::verdicts`]) are the observer's
//! log and survive too. [`Control`] arms a one-shot crash at a point of the pipeline.
//!
//! [`ManufacturerClient`]: provisioning_stub::manufacturer::ManufacturerClient
//! [`SqliteStore::open_inline`]: provisioning_stub::store::SqliteStore::open_inline

pub mod manufacturer;

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use handset_sim::network::ShortMessage;
use provisioning_stub::billing::{self, BillingConfig};
use provisioning_stub::config::{OmaCpConfig, StubConfig};
use provisioning_stub::confirmation::ReportRepr;
use provisioning_stub::cp::{self, CpSettings, Security};
use provisioning_stub::devices::{Date, DeviceModel, Imei as DbImei};
use provisioning_stub::inventory::{Card, Iccid};
use provisioning_stub::keys::{ApnSettings, Imei as KeyImei};
use provisioning_stub::pipeline::{KeyProvider, check_registration, iccid_digits};
use provisioning_stub::policy::{self, PolicyConfig, Treatment as PolicyTreatment};
use provisioning_stub::store::{
    AnyStore, FailureStage, InlineOptions, KeySource, NewDelivery, NewIssuance, NewRegistration,
    ProvisioningFailure, RegistrationId, RegistrationOutcome, SqliteStore, Store, Synchronous,
    Timestamp, Verification,
};

use super::event::{ArrowSpec, Lane};
use super::server::{LedgerLine, ProvisioningServer, ServerReply, ServerVerdict, Treatment};
use manufacturer::VirtualClock;

/// Why the embedded stub could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum StubSetupError {
    /// Configuration text.
    #[error("stub configuration: {0}")]
    Config(String),
    /// Store.
    #[error("stub store: {0}")]
    Store(String),
    /// I/O (temporary directory, runtime).
    #[error("stub: {0}")]
    Io(#[from] std::io::Error),
}

/// How the stub uses its temporary database: WAL, `synchronous = OFF` (a stub "crash"
/// in the world is a process stop, never a power loss: what was committed is in the
/// operating system's cache and survives; see docs/scenarios.md), and the file locked
/// once by the one connection of the running stub (no lock system calls per statement).
const STORE: InlineOptions = InlineOptions {
    synchronous: Synchronous::Off,
    exclusive: true,
};

/// One-shot crash points the stub can be armed with (`stub = { when = … }`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Trigger {
    /// Crash right after the next registration is stored (before it is acknowledged).
    pub after_registration_stored: bool,
    /// Crash right after the next reply is handed to the SMSC.
    pub after_reply_sent: bool,
}

/// Shared between the stub and whoever drives the world: armed triggers, and whether
/// one fired (the driver must then stop the server, as a crashed process is gone).
#[derive(Debug, Default)]
pub struct Control {
    /// Armed triggers.
    pub armed: Trigger,
    /// A trigger fired.
    pub fired: bool,
}

/// What a running stub holds (a restart drops it and builds a new one).
struct Running {
    store: AnyStore,
    keys: BTreeMap<String, KeyProvider>,
    /// Concatenation reference of the next push (`serve` keeps it in memory too).
    reference: u8,
}

/// The embedded stub (see the module docs).
pub struct EmbeddedStub {
    rt: tokio::runtime::Runtime,
    db: PathBuf,
    policy: PolicyConfig,
    billing: BillingConfig,
    omacp: OmaCpConfig,
    security: Security,
    config: StubConfig,
    running: Option<Running>,
    /// Why the last start failed (the stub then answers nothing).
    start_error: Option<String>,
    control: Arc<Mutex<Control>>,
    crashed: bool,
    verdicts: Vec<ServerVerdict>,
    /// Accepted registration → its verdict (completed when it is provisioned).
    verdict_of: HashMap<i64, usize>,
    epoch_ms: i64,
    clock: Option<VirtualClock>,
    _dir: tempfile::TempDir,
}

impl std::fmt::Debug for EmbeddedStub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedStub")
            .field("db", &self.db)
            .field("running", &self.running.is_some())
            .finish_non_exhaustive()
    }
}

impl EmbeddedStub {
    /// A stub from `serve`'s configuration text (`docs/stub.md`; the `[smsc]` table is
    /// required by the format but unused here, `database` is ignored; relative key
    /// paths resolve against `base`), a fresh SQLite store in a new temporary directory
    /// with `cards` and `devices` imported, its own current-thread tokio runtime, and
    /// virtual time 0 at `epoch_unix_s`.
    pub fn new(
        config_toml: &str,
        base: &Path,
        cards: &[Card],
        devices: &[DeviceModel],
        epoch_unix_s: i64,
    ) -> Result<Self, StubSetupError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        Self::with_runtime(
            rt,
            tempfile::tempdir()?,
            config_toml,
            base,
            cards,
            devices,
            epoch_unix_s,
        )
    }

    /// As [`EmbeddedStub::new`], on `rt` (which may already serve in-process key
    /// servers, see [`manufacturer::start`]) with the store in `dir` (which this stub
    /// owns and removes).
    pub fn with_runtime(
        rt: tokio::runtime::Runtime,
        dir: tempfile::TempDir,
        config_toml: &str,
        base: &Path,
        cards: &[Card],
        devices: &[DeviceModel],
        epoch_unix_s: i64,
    ) -> Result<Self, StubSetupError> {
        let config = StubConfig::parse(config_toml, "<world stub>", base)
            .map_err(|e| StubSetupError::Config(e.to_string()))?;
        let security = config
            .omacp
            .security()
            .map_err(|e| StubSetupError::Config(e.to_string()))?;
        let db = dir.path().join("stub.db");
        let running = Running::open(&db, &config)?;
        rt.block_on(async {
            running.store.import_cards(cards).await?;
            running.store.import_devices(devices).await?;
            Ok::<_, provisioning_stub::store::StoreError>(())
        })
        .map_err(|e| StubSetupError::Store(e.to_string()))?;
        Ok(EmbeddedStub {
            rt,
            db,
            policy: config.policy.clone(),
            billing: config.billing.clone(),
            omacp: config.omacp.clone(),
            security,
            config,
            running: Some(running),
            start_error: None,
            control: Arc::new(Mutex::new(Control::default())),
            crashed: false,
            verdicts: Vec::new(),
            verdict_of: HashMap::new(),
            epoch_ms: epoch_unix_s.saturating_mul(1000),
            clock: None,
            _dir: dir,
        })
    }

    /// Sets `clock` to the world's time before every message (for in-process key
    /// servers that stamp keys with it, [`manufacturer::start`]).
    pub fn with_manufacturer_clock(mut self, clock: VirtualClock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// The crash controls (see [`Control`]).
    pub fn control(&self) -> Arc<Mutex<Control>> {
        self.control.clone()
    }

    /// The stub's tokio runtime.
    pub fn runtime(&self) -> &tokio::runtime::Runtime {
        &self.rt
    }

    /// The store, while the stub runs.
    pub fn store(&self) -> Option<&AnyStore> {
        self.running.as_ref().map(|r| &r.store)
    }

    /// The SQLite database file.
    pub fn database(&self) -> &Path {
        &self.db
    }

    fn wait<F: Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    fn at(&self, now_ms: u64) -> Timestamp {
        Timestamp(
            self.epoch_ms
                .saturating_add(i64::try_from(now_ms).unwrap_or(i64::MAX)),
        )
    }

    /// Fires an armed trigger selected by `which`: the stub is crashed from now on.
    fn crash_if(&mut self, which: impl Fn(&Trigger) -> bool) -> bool {
        let Ok(mut c) = self.control.lock() else {
            return false;
        };
        if which(&c.armed) {
            c.armed = Trigger::default();
            c.fired = true;
            self.crashed = true;
            true
        } else {
            false
        }
    }

    fn failure(
        &self,
        store: &AnyStore,
        id: RegistrationId,
        stage: FailureStage,
        reason: &str,
        at: Timestamp,
    ) {
        // The stub's own failure log; a store error here changes nothing for the world.
        let f = ProvisioningFailure {
            registration_id: id,
            stage: stage.as_str().to_owned(),
            reason: reason.to_owned(),
            at,
        };
        let _ = self.wait(store.record_failure(&f));
    }

    fn on_registration(&mut self, sm: &ShortMessage, now_ms: u64) -> ServerReply {
        let mut reply = ServerReply::ack();
        let Some(store) = self.running.as_ref().map(|r| r.store.clone()) else {
            return ServerReply::default();
        };
        let at = self.at(now_ms);
        let card = sm
            .user_data
            .get(8..18)
            .and_then(|b| Iccid::parse(&iccid_digits(b)).ok())
            .and_then(|iccid| self.wait(store.card(&iccid)).ok().flatten())
            .map(|r| r.card);
        let checked = check_registration(&sm.user_data, card.as_ref());
        let claimed = sm
            .user_data
            .get(8..18)
            .map(iccid_digits)
            .filter(|d| !d.is_empty());
        let recorded = self.wait(store.record_registration(&NewRegistration {
            received_at: at,
            source_addr: sm.source.clone(),
            raw: sm.user_data.clone(),
            imei: checked.imei.clone(),
            verification: checked.verification.clone(),
        }));
        let outcome = match recorded {
            Ok(o) => o,
            Err(e) => {
                // Not durable → temporary error, the SMSC redelivers.
                reply.accepted = false;
                reply.arrows.push(
                    ArrowSpec::new(Lane::Stub, Lane::Stub, "store error").line(e.to_string()),
                );
                return reply;
            }
        };
        let verdict = |this: &mut Self, outcome: Result<Treatment, String>| {
            this.verdicts.push(ServerVerdict {
                t_ms: now_ms,
                iccid: claimed.clone(),
                imei: checked.imei.clone(),
                outcome,
            });
            this.verdicts.len() - 1
        };
        let imei_line = checked.imei.as_deref().map(|i| format!("IMEI {i}"));
        let id = match outcome {
            RegistrationOutcome::Rejected(_) => {
                let label = match (&checked.verification, checked.rejection) {
                    (Verification::Rejected { .. }, Some(l)) => l,
                    // Verified but no inventory row (the card vanished between lookups).
                    _ => "unknown_card",
                };
                let mut a = ArrowSpec::new(
                    Lane::Stub,
                    Lane::Stub,
                    format!("registration rejected: {label}"),
                );
                if let Verification::Rejected { reason, .. } = &checked.verification {
                    a = a.line(reason.clone());
                }
                reply
                    .arrows
                    .push(a.line("nothing is sent back (no oracle)"));
                verdict(self, Err(label.to_owned()));
                return reply;
            }
            RegistrationOutcome::Replay { last_counter, .. } => {
                reply.arrows.push(
                    ArrowSpec::new(Lane::Stub, Lane::Stub, "registration rejected: replay")
                        .line(format!(
                            "counter not above the last accepted {last_counter}"
                        ))
                        .line("nothing is sent back (no oracle)"),
                );
                verdict(self, Err("replay".to_owned()));
                return reply;
            }
            RegistrationOutcome::Duplicate { original, .. } => {
                let handled = self
                    .wait(async {
                        Ok::<_, provisioning_stub::store::StoreError>(
                            store.delivered(original).await?
                                || !store.failures(original).await?.is_empty(),
                        )
                    })
                    .unwrap_or(true);
                if handled {
                    reply.arrows.push(
                        ArrowSpec::new(
                            Lane::Stub,
                            Lane::Stub,
                            format!("duplicate of registration {}: already handled", original.0),
                        )
                        .line("acknowledged, nothing sent"),
                    );
                    verdict(self, Err("duplicate".to_owned()));
                    return reply;
                }
                reply.arrows.push(ArrowSpec::new(
                    Lane::Stub,
                    Lane::Stub,
                    format!(
                        "redelivered registration {} found in the store, never provisioned: resuming",
                        original.0
                    ),
                ));
                original
            }
            RegistrationOutcome::Accepted(id) => {
                let mut a =
                    ArrowSpec::new(Lane::Stub, Lane::Stub, "registration accepted").line(format!(
                        "ICCID {} counter {}",
                        claimed.as_deref().unwrap_or("-"),
                        match &checked.verification {
                            Verification::Verified { counter, .. } => counter.to_string(),
                            Verification::Rejected { .. } => "-".into(),
                        }
                    ));
                if let Some(l) = &imei_line {
                    a = a.line(l.clone());
                }
                reply
                    .arrows
                    .push(a.line("stored (durable) before the acknowledgement"));
                // Accepted now; the treatment is filled in when it is provisioned.
                let n = verdict(
                    self,
                    Ok(Treatment {
                        depreciated: false,
                        key_source: None,
                        device_key: None,
                    }),
                );
                self.verdict_of.insert(id.0, n);
                id
            }
        };
        let (Some(card), Some(imei)) = (card, checked.imei.clone()) else {
            return reply;
        };
        if self.crash_if(|t| t.after_registration_stored) {
            reply.accepted = false;
            reply.arrows.push(ArrowSpec::new(
                Lane::Stub,
                Lane::Stub,
                "stub crashes before the acknowledgement",
            ));
            return reply;
        }
        let treatment = self.provision(&store, id, &card, &imei, &sm.source, now_ms, &mut reply);
        match self.verdict_of.get(&id.0).copied() {
            Some(n) if n < self.verdicts.len() => self.verdicts[n].outcome = treatment,
            _ => {
                verdict(self, treatment);
            }
        }
        if self.crash_if(|t| t.after_reply_sent) {
            reply.arrows.push(ArrowSpec::new(
                Lane::Stub,
                Lane::Stub,
                "stub crashes after handing the reply to the SMSC",
            ));
        }
        reply
    }

    /// Policy, key, payload for an accepted registration (the pipeline's `provision`).
    /// `Err` (the verdict's reason) when the policy rejects; a key or payload failure
    /// is recorded and leaves the registration accepted with no key and nothing sent.
    #[allow(clippy::too_many_arguments)]
    fn provision(
        &mut self,
        store: &AnyStore,
        id: RegistrationId,
        card: &Card,
        imei: &str,
        destination: &str,
        now_ms: u64,
        reply: &mut ServerReply,
    ) -> Result<Treatment, String> {
        let now = self.at(now_ms);
        let stopped = |this: &Self,
                       reply: &mut ServerReply,
                       stage: FailureStage,
                       why: String,
                       outcome: Result<Treatment, String>| {
            reply.arrows.push(
                ArrowSpec::new(
                    Lane::Stub,
                    Lane::Stub,
                    format!("provisioning stopped ({})", stage.as_str()),
                )
                .line(why.clone())
                .line("recorded as a provisioning failure; nothing sent, nothing billed"),
            );
            let f = ProvisioningFailure {
                registration_id: id,
                stage: stage.as_str().to_owned(),
                reason: why,
                at: now,
            };
            let _ = this.wait(store.record_failure(&f));
            outcome
        };
        let no_key = |depreciated| {
            Ok(Treatment {
                depreciated,
                key_source: None,
                device_key: None,
            })
        };
        let Ok(db_imei) = DbImei::parse(imei) else {
            return stopped(
                self,
                reply,
                FailureStage::Policy,
                format!("IMEI {imei} unusable"),
                Err("invalid_imei".into()),
            );
        };
        let tac = db_imei.tac();
        let device = self.wait(store.device(&tac)).ok().flatten();
        if device.is_none() {
            let _ = self.wait(store.record_unknown_tac(&db_imei, now));
        }
        let decision = policy::decide(
            &self.policy,
            &tac,
            device.as_ref(),
            &card.imsi,
            Date::of(now),
        );
        let manufacturer = device.as_ref().map(|d| d.manufacturer.clone());
        let mut arrow = ArrowSpec::new(
            Lane::Stub,
            Lane::Stub,
            format!("policy: {:?}", decision.treatment),
        )
        .line(format!(
            "TAC {} → {}",
            tac.as_str(),
            device.as_ref().map_or_else(
                || "not in the device database".to_owned(),
                |d| format!("{} {}", d.manufacturer, d.model)
            )
        ))
        .line(format!(
            "operator {}",
            decision.operator.as_deref().unwrap_or("-")
        ));
        for r in &decision.reasons {
            arrow = arrow.line(r.to_string());
        }
        if decision.reasons.is_empty() {
            arrow = arrow.line("no rule fired");
        }
        reply.arrows.push(arrow);
        if decision.treatment == PolicyTreatment::Reject {
            let why: Vec<String> = decision.reasons.iter().map(|r| r.to_string()).collect();
            let label = if device.is_none() {
                "unknown_tac"
            } else {
                "policy"
            };
            return stopped(
                self,
                reply,
                FailureStage::Policy,
                format!("policy rejects: {}", why.join("; ")),
                Err(label.into()),
            );
        }
        let apn = self.omacp.apn_for(decision.operator.as_deref());
        let mms = self.omacp.mms_for(manufacturer.as_deref());
        let settings = CpSettings {
            name: self.omacp.name.clone(),
            apn: ApnSettings {
                apn: apn.apn,
                username: apn.username,
                password: apn.password,
                mmsc: Some(mms.mmsc),
                proxy: mms.proxy,
                proxy_port: mms.proxy_port,
            },
        };
        let mut treatment = Treatment {
            depreciated: decision.treatment == PolicyTreatment::Depreciated,
            key_source: None,
            device_key: None,
        };
        let mut issuance = None;
        if treatment.depreciated {
            // The device key names the Luhn-valid IMEI (docs/device-key.md).
            let canonical = imei.get(..14).map(|body| {
                format!(
                    "{body}{}",
                    char::from(provisioning_stub::keys::luhn_check_digit(body.as_bytes()))
                )
            });
            let Some(key_imei) = canonical.as_deref().and_then(|c| KeyImei::parse(c).ok()) else {
                return stopped(
                    self,
                    reply,
                    FailureStage::Key,
                    format!("IMEI {imei} unusable"),
                    no_key(true),
                );
            };
            let canonical = canonical.unwrap_or_default();
            let provider = manufacturer
                .as_deref()
                .and_then(|m| self.running.as_ref().and_then(|r| r.keys.get(m)).cloned());
            let (key, source) = match provider {
                None => {
                    return stopped(
                        self,
                        reply,
                        FailureStage::Key,
                        format!(
                            "no key source for manufacturer {}",
                            manufacturer.as_deref().unwrap_or("(unknown TAC)")
                        ),
                        no_key(true),
                    );
                }
                Some(KeyProvider::Local(signer)) => {
                    let secs = u64::try_from(now.0 / 1000).unwrap_or(0);
                    let key_id = u64::try_from(id.0).unwrap_or(0);
                    match signer.issue(key_id, &key_imei, &settings.apn, secs, None) {
                        Ok(k) => {
                            reply.arrows.push(
                                ArrowSpec::new(Lane::Stub, Lane::Stub, "device key signed locally")
                                    .line(format!("key id {key_id}, delegated signing key")),
                            );
                            (k, KeySource::Local)
                        }
                        Err(e) => {
                            return stopped(
                                self,
                                reply,
                                FailureStage::Key,
                                format!("local key: {e}"),
                                no_key(true),
                            );
                        }
                    }
                }
                Some(KeyProvider::Manufacturer(client)) => {
                    reply.arrows.push(
                        ArrowSpec::new(Lane::Stub, Lane::Manufacturer, "POST /v1/keys (mTLS)")
                            .line(format!("IMEI {canonical}, APN {}", settings.apn.apn)),
                    );
                    match self.wait(client.request_key(&key_imei, &settings.apn)) {
                        Ok(k) => {
                            let bytes = k.device_key.encode();
                            reply.arrows.push(
                                ArrowSpec::new(Lane::Manufacturer, Lane::Stub, "device key")
                                    .line(format!(
                                        "key id {}, signature verified",
                                        k.device_key.key_id
                                    ))
                                    .raw(&bytes),
                            );
                            (k.device_key, KeySource::Manufacturer)
                        }
                        Err(e) => {
                            reply.arrows.push(
                                ArrowSpec::new(
                                    Lane::Manufacturer,
                                    Lane::Stub,
                                    "key request failed",
                                )
                                .line(e.to_string()),
                            );
                            return stopped(
                                self,
                                reply,
                                FailureStage::Key,
                                e.to_string(),
                                no_key(true),
                            );
                        }
                    }
                }
            };
            let recorded = self.wait(store.record_issuance(&NewIssuance {
                registration_id: Some(id),
                iccid: card.iccid.as_str().to_owned(),
                imei: canonical,
                operator: decision.operator.clone(),
                manufacturer: manufacturer.clone(),
                source,
                issued_at: now,
            }));
            match recorded {
                Ok(i) => {
                    reply.arrows.push(
                        ArrowSpec::new(
                            Lane::Stub,
                            Lane::Stub,
                            format!("key issuance {} recorded", i.id.0),
                        )
                        .line(format!("source {}, before the key leaves", source.as_str())),
                    );
                    issuance = Some(i.id);
                }
                Err(e) => {
                    return stopped(
                        self,
                        reply,
                        FailureStage::Key,
                        format!("recording the issuance: {e}"),
                        no_key(true),
                    );
                }
            }
            treatment.key_source = Some(source.as_str().to_owned());
            treatment.device_key = Some(key.encode().to_vec());
        }
        let reference = match self.running.as_mut() {
            Some(r) => {
                r.reference = r.reference.wrapping_add(1);
                r.reference.wrapping_sub(1)
            }
            None => 0,
        };
        let segments = cp::document(&settings, treatment.device_key.as_deref())
            .and_then(|doc| cp::push(&doc, &self.security, card.imsi.as_str()))
            .and_then(|push| cp::segments(&push, reference));
        let segments = match segments {
            Ok(s) => s,
            Err(e) => {
                let outcome = Ok(Treatment {
                    device_key: None,
                    key_source: None,
                    ..treatment
                });
                return stopped(self, reply, FailureStage::Payload, e.to_string(), outcome);
            }
        };
        let mut mt = Vec::with_capacity(segments.len());
        for seg in &segments {
            // Each segment is UDHL ‖ UDH ‖ data, 8-bit (`cp::segments`).
            let Ok(sm) = ShortMessage::from_smpp("", destination, 0x40, 0, 0x04, seg) else {
                return stopped(
                    self,
                    reply,
                    FailureStage::Payload,
                    "segment without UDH".into(),
                    Ok(Treatment {
                        device_key: None,
                        key_source: None,
                        ..treatment
                    }),
                );
            };
            mt.push(sm);
        }
        reply.arrows.push(
            ArrowSpec::new(
                Lane::Stub,
                Lane::Stub,
                format!("OMA CP push in {} segment(s)", segments.len()),
            )
            .line(format!(
                "APN {} MMSC {}",
                settings.apn.apn,
                settings.apn.mmsc.as_deref().unwrap_or("-")
            ))
            .line(if treatment.depreciated {
                "with device key"
            } else {
                "standard settings"
            }),
        );
        reply.mt.extend(mt);
        let _ = self.wait(store.record_delivery(&NewDelivery {
            registration_id: id,
            issuance_id: issuance,
            destination: destination.to_owned(),
            sent_at: now,
            message_ids: Vec::new(),
        }));
        Ok(treatment)
    }

    fn on_report(&mut self, sm: &ShortMessage, now_ms: u64) -> ServerReply {
        let mut reply = ServerReply::ack();
        let Some(store) = self.running.as_ref().map(|r| r.store.clone()) else {
            return ServerReply::default();
        };
        let now = self.at(now_ms);
        let mut note = |label: String| {
            reply
                .arrows
                .push(ArrowSpec::new(Lane::Stub, Lane::Stub, label));
        };
        let Ok(parsed) = ReportRepr::parse(&sm.user_data) else {
            note("report ignored: malformed".into());
            return reply;
        };
        let Ok(iccid) = Iccid::parse(&iccid_digits(&parsed.iccid)) else {
            note("report ignored: ICCID invalid".into());
            return reply;
        };
        let Ok(Some(card)) = self.wait(store.card(&iccid)) else {
            note("report ignored: unknown card".into());
            return reply;
        };
        let Ok(report) = ReportRepr::verify(&sm.user_data, &card.card.key.0) else {
            note("report ignored: bad MAC".into());
            return reply;
        };
        let Ok(Some((reg, issuance))) =
            self.wait(store.accepted_registration(&iccid, report.registration_counter))
        else {
            note("report ignored: no such registration".into());
            return reply;
        };
        if !report.result.is_configured() {
            note(format!("handset refused: {}", report.result.label()));
            self.failure(
                &store,
                reg,
                FailureStage::Handset,
                &format!(
                    "handset refused: {} ({:#04x})",
                    report.result.label(),
                    report.result.0
                ),
                now,
            );
            return reply;
        }
        let Some(issuance) = issuance else {
            note("configured (standard settings, nothing to bill)".into());
            return reply;
        };
        let entries =
            billing::on_download_confirmed(&self.billing, &issuance, now).unwrap_or_default();
        match self.wait(store.confirm_download(issuance.id, now, &entries)) {
            Ok(c) => {
                let mut a = ArrowSpec::new(
                    Lane::Stub,
                    Lane::Stub,
                    format!("download confirmed: {} ledger entries", c.inserted.len()),
                );
                for e in &c.inserted {
                    a = a.line(format!(
                        "{} {} {} {}",
                        e.kind.as_str(),
                        e.party.name(),
                        e.amount_minor,
                        e.currency
                    ));
                }
                reply.arrows.push(a);
                let client = issuance.manufacturer.as_deref().and_then(|m| {
                    match self.running.as_ref().and_then(|r| r.keys.get(m)) {
                        Some(KeyProvider::Manufacturer(c)) => Some(c.clone()),
                        _ => None,
                    }
                });
                if c.first
                    && issuance.source == KeySource::Manufacturer
                    && report.device_key_id != 0
                    && let Some(client) = client
                {
                    reply.arrows.push(
                        ArrowSpec::new(
                            Lane::Stub,
                            Lane::Manufacturer,
                            "POST /v1/confirmations (mTLS)",
                        )
                        .line(format!("key id {}", report.device_key_id)),
                    );
                    let answer = match self.wait(client.confirm(report.device_key_id)) {
                        Ok(_) => {
                            ArrowSpec::new(Lane::Manufacturer, Lane::Stub, "confirmation recorded")
                        }
                        Err(e) => {
                            ArrowSpec::new(Lane::Manufacturer, Lane::Stub, "confirmation failed")
                                .line(e.to_string())
                        }
                    };
                    reply.arrows.push(answer);
                }
            }
            Err(e) => {
                reply.accepted = false;
                reply.arrows.push(
                    ArrowSpec::new(Lane::Stub, Lane::Stub, "store error").line(e.to_string()),
                );
            }
        }
        reply
    }
}

impl Running {
    /// A running stub on the database file `db`: a new connection, key providers from
    /// the configuration (their files are read again, as a restarted process would).
    fn open(db: &Path, config: &StubConfig) -> Result<Running, StubSetupError> {
        let store = SqliteStore::open_inline(db, STORE)
            .map_err(|e| StubSetupError::Store(e.to_string()))?;
        let mut keys = BTreeMap::new();
        for k in &config.key_sources {
            keys.insert(
                k.manufacturer().to_owned(),
                KeyProvider::from_config(k).map_err(|e| StubSetupError::Config(e.to_string()))?,
            );
        }
        Ok(Running {
            store: AnyStore::Sqlite(store),
            keys,
            reference: 0,
        })
    }
}

impl ProvisioningServer for EmbeddedStub {
    fn on_mo(&mut self, sm: &ShortMessage, now_ms: u64) -> ServerReply {
        if self.crashed || self.running.is_none() {
            // A crashed or stopped process answers nothing: the SMSC retries later.
            let mut r = ServerReply::default();
            if let Some(e) = &self.start_error {
                r.arrows.push(
                    ArrowSpec::new(Lane::Stub, Lane::Stub, "stub failed to start").line(e.clone()),
                );
            }
            return r;
        }
        if let Some(c) = &self.clock {
            c.set(u64::try_from(self.at(now_ms).0 / 1000).unwrap_or(0));
        }
        if sm.user_data.starts_with(&applet::wire::registration::MAGIC) {
            self.on_registration(sm, now_ms)
        } else if sm
            .user_data
            .starts_with(&provisioning_stub::confirmation::MAGIC)
        {
            self.on_report(sm, now_ms)
        } else {
            let mut r = ServerReply::ack();
            r.arrows.push(ArrowSpec::new(
                Lane::Stub,
                Lane::Stub,
                "not for us: acknowledged, ignored",
            ));
            r
        }
    }

    fn on_running(&mut self, running: bool, _now_ms: u64) {
        // Stop: the process is gone (connections closed). Start: a new process on the
        // same database file.
        self.running = None;
        self.crashed = false;
        self.start_error = None;
        if running {
            match Running::open(&self.db, &self.config) {
                Ok(r) => self.running = Some(r),
                Err(e) => self.start_error = Some(e.to_string()),
            }
        }
    }

    fn verdicts(&self) -> Vec<ServerVerdict> {
        self.verdicts.clone()
    }

    fn ledger(&self) -> Vec<LedgerLine> {
        // Read from the database (also while stopped: an operator can still query it).
        let reader;
        let store = match &self.running {
            Some(r) => &r.store,
            None => match SqliteStore::open_inline(&self.db, STORE) {
                Ok(s) => {
                    reader = AnyStore::Sqlite(s);
                    &reader
                }
                Err(_) => return Vec::new(),
            },
        };
        self.wait(store.ledger_between(Timestamp(i64::MIN), Timestamp(i64::MAX)))
            .unwrap_or_default()
            .into_iter()
            .map(|e| LedgerLine {
                kind: e.kind.as_str().to_owned(),
                party: e.party.name().to_owned(),
                amount_minor: e.amount_minor,
                currency: e.currency,
            })
            .collect()
    }
}
