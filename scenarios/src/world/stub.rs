//! The provisioning stub embedded in the world: `provisioning_stub`'s own pieces
//! (registration check, SQLite store, policy, key providers, OMA CP reply, IMTC report,
//! billing) composed in the order of its `serve` pipeline (`provisioning_stub::pipeline`),
//! but called synchronously at virtual time instead of through an SMPP session.
//!
//! Differences from `serve`, all deliberate: times stored are the world's virtual time
//! (`epoch + now_ms`), not the wall clock; provisioning runs inline right after the
//! registration is recorded (`serve` spawns it after the ack); submitted segments go back
//! to the world as MT messages. The store is a real SQLite file in a temporary directory;
//! a manufacturer key source is the real [`ManufacturerClient`] over mutual TLS on
//! loopback (driven on this stub's own tokio runtime).
//!
//! [`ManufacturerClient`]: provisioning_stub::manufacturer::ManufacturerClient

use std::collections::BTreeMap;
use std::path::Path;

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
    AnyStore, FailureStage, KeySource, NewDelivery, NewIssuance, NewRegistration,
    ProvisioningFailure, RegistrationId, RegistrationOutcome, Store, Timestamp, Verification,
};

use super::event::{ArrowSpec, Lane};
use super::server::{LedgerLine, ProvisioningServer, ServerReply, ServerVerdict, Treatment};

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

/// The embedded stub (see the module docs).
pub struct EmbeddedStub {
    rt: tokio::runtime::Runtime,
    store: AnyStore,
    policy: PolicyConfig,
    billing: BillingConfig,
    omacp: OmaCpConfig,
    security: Security,
    keys: BTreeMap<String, KeyProvider>,
    epoch_ms: i64,
    reference: u8,
    verdicts: Vec<ServerVerdict>,
    _dir: tempfile::TempDir,
}

impl std::fmt::Debug for EmbeddedStub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedStub").finish_non_exhaustive()
    }
}

impl EmbeddedStub {
    /// A stub from `serve`'s configuration text (`docs/stub.md`; the `[smsc]` table is
    /// required by the format but unused here; relative key paths resolve against
    /// `base`), a fresh SQLite store in a temporary directory with `cards` and
    /// `devices` imported, and virtual time 0 at `epoch_unix_s`.
    pub fn new(
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
        let mut keys = BTreeMap::new();
        for k in &config.key_sources {
            keys.insert(
                k.manufacturer().to_owned(),
                KeyProvider::from_config(k).map_err(|e| StubSetupError::Config(e.to_string()))?,
            );
        }
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()?;
        let dir = tempfile::tempdir()?;
        let db = dir.path().join("stub.db");
        let store = rt
            .block_on(async {
                let store = AnyStore::open(&db.to_string_lossy()).await?;
                store.import_cards(cards).await?;
                store.import_devices(devices).await?;
                Ok::<_, provisioning_stub::store::StoreError>(store)
            })
            .map_err(|e| StubSetupError::Store(e.to_string()))?;
        Ok(EmbeddedStub {
            rt,
            store,
            policy: config.policy,
            billing: config.billing,
            omacp: config.omacp,
            security,
            keys,
            epoch_ms: epoch_unix_s.saturating_mul(1000),
            reference: 0,
            verdicts: Vec::new(),
            _dir: dir,
        })
    }

    /// The stub's tokio runtime (e.g. to run the manufacturer's key server on it).
    pub fn runtime(&self) -> &tokio::runtime::Runtime {
        &self.rt
    }

    /// The store.
    pub fn store(&self) -> &AnyStore {
        &self.store
    }

    fn at(&self, now_ms: u64) -> Timestamp {
        Timestamp(
            self.epoch_ms
                .saturating_add(i64::try_from(now_ms).unwrap_or(i64::MAX)),
        )
    }

    fn failure(&self, id: RegistrationId, stage: FailureStage, reason: String, now_ms: u64) {
        let f = ProvisioningFailure {
            registration_id: id,
            stage: stage.as_str().to_owned(),
            reason,
            at: self.at(now_ms),
        };
        let _ = self.rt.block_on(self.store.record_failure(&f));
    }

    fn on_registration(&mut self, sm: &ShortMessage, now_ms: u64) -> ServerReply {
        let mut reply = ServerReply::ack();
        let at = self.at(now_ms);
        let card = sm
            .user_data
            .get(8..18)
            .and_then(|b| Iccid::parse(&iccid_digits(b)).ok())
            .and_then(|iccid| self.rt.block_on(self.store.card(&iccid)).ok().flatten())
            .map(|r| r.card);
        let checked = check_registration(&sm.user_data, card.as_ref());
        let iccid = card.as_ref().map(|c| c.iccid.as_str().to_owned());
        let outcome = match self
            .rt
            .block_on(self.store.record_registration(&NewRegistration {
                received_at: at,
                source_addr: sm.source.clone(),
                raw: sm.user_data.clone(),
                imei: checked.imei.clone(),
                verification: checked.verification.clone(),
            })) {
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
        let (label, reason) = match (&outcome, &checked.verification) {
            (RegistrationOutcome::Accepted(_), _) => ("registration accepted".to_owned(), None),
            (RegistrationOutcome::Duplicate { .. }, _) => (
                "duplicate (already handled)".to_owned(),
                Some("duplicate".to_owned()),
            ),
            (RegistrationOutcome::Replay { .. }, _) => (
                "registration rejected: replay".to_owned(),
                Some("replay".to_owned()),
            ),
            (RegistrationOutcome::Rejected(_), Verification::Rejected { reason, .. }) => (
                format!("registration rejected: {reason}"),
                Some(reason.clone()),
            ),
            (RegistrationOutcome::Rejected(_), _) => (
                "registration rejected".to_owned(),
                Some("rejected".to_owned()),
            ),
        };
        let mut arrow = ArrowSpec::new(Lane::Stub, Lane::Stub, label);
        if let Some(i) = &checked.imei {
            arrow = arrow.line(format!("IMEI {i}"));
        }
        reply.arrows.push(arrow);
        let (RegistrationOutcome::Accepted(id), Some(card), Some(imei)) =
            (outcome, card, checked.imei.clone())
        else {
            if let Some(r) = reason {
                self.verdicts.push(ServerVerdict {
                    t_ms: now_ms,
                    iccid,
                    imei: checked.imei,
                    outcome: Err(r),
                });
            }
            return reply;
        };
        let treatment = self.provision(id, &card, &imei, &sm.source, now_ms, &mut reply);
        self.verdicts.push(ServerVerdict {
            t_ms: now_ms,
            iccid,
            imei: Some(imei),
            outcome: treatment,
        });
        reply
    }

    /// Policy, key, payload for an accepted registration (the pipeline's `provision`).
    fn provision(
        &mut self,
        id: RegistrationId,
        card: &Card,
        imei: &str,
        destination: &str,
        now_ms: u64,
        reply: &mut ServerReply,
    ) -> Result<Treatment, String> {
        let now = self.at(now_ms);
        let stop = |this: &Self, reply: &mut ServerReply, stage: FailureStage, why: String| {
            reply.arrows.push(
                ArrowSpec::new(
                    Lane::Stub,
                    Lane::Stub,
                    format!("provisioning stopped ({})", stage.as_str()),
                )
                .line(why.clone()),
            );
            this.failure(id, stage, why.clone(), now_ms);
            Err(format!("{}: {why}", stage.as_str()))
        };
        let Ok(db_imei) = DbImei::parse(imei) else {
            return stop(
                self,
                reply,
                FailureStage::Policy,
                format!("IMEI {imei} unusable"),
            );
        };
        let tac = db_imei.tac();
        let device = self.rt.block_on(self.store.device(&tac)).ok().flatten();
        if device.is_none() {
            let _ = self
                .rt
                .block_on(self.store.record_unknown_tac(&db_imei, now));
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
                || "unknown".to_owned(),
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
        reply.arrows.push(arrow);
        if decision.treatment == PolicyTreatment::Reject {
            let why: Vec<String> = decision.reasons.iter().map(|r| r.to_string()).collect();
            return stop(
                self,
                reply,
                FailureStage::Policy,
                format!("policy rejects: {}", why.join("; ")),
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
            let Some(body) = imei.get(..14) else {
                return stop(
                    self,
                    reply,
                    FailureStage::Key,
                    format!("IMEI {imei} unusable"),
                );
            };
            let canonical = format!(
                "{body}{}",
                char::from(provisioning_stub::keys::luhn_check_digit(body.as_bytes()))
            );
            let Ok(key_imei) = KeyImei::parse(&canonical) else {
                return stop(
                    self,
                    reply,
                    FailureStage::Key,
                    format!("IMEI {imei} unusable"),
                );
            };
            let provider = manufacturer
                .as_deref()
                .and_then(|m| self.keys.get(m).cloned());
            let (key, source) = match provider {
                None => {
                    return stop(
                        self,
                        reply,
                        FailureStage::Key,
                        format!(
                            "no key source for manufacturer {}",
                            manufacturer.as_deref().unwrap_or("(unknown TAC)")
                        ),
                    );
                }
                Some(KeyProvider::Local(signer)) => {
                    let secs = u64::try_from(now.0 / 1000).unwrap_or(0);
                    let key_id = u64::try_from(id.0).unwrap_or(0);
                    match signer.issue(key_id, &key_imei, &settings.apn, secs, None) {
                        Ok(k) => (k, KeySource::Local),
                        Err(e) => {
                            return stop(self, reply, FailureStage::Key, format!("local key: {e}"));
                        }
                    }
                }
                Some(KeyProvider::Manufacturer(client)) => {
                    reply.arrows.push(
                        ArrowSpec::new(Lane::Stub, Lane::Manufacturer, "POST key request (mTLS)")
                            .line(format!("IMEI {canonical}, APN {}", settings.apn.apn)),
                    );
                    match self
                        .rt
                        .block_on(client.request_key(&key_imei, &settings.apn))
                    {
                        Ok(k) => {
                            let bytes = k.device_key.encode();
                            reply.arrows.push(
                                ArrowSpec::new(Lane::Manufacturer, Lane::Stub, "device key")
                                    .line(format!("key id {}", k.device_key.key_id))
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
                            return stop(self, reply, FailureStage::Key, e.to_string());
                        }
                    }
                }
            };
            let recorded = self.rt.block_on(self.store.record_issuance(&NewIssuance {
                registration_id: Some(id),
                iccid: card.iccid.as_str().to_owned(),
                imei: canonical,
                operator: decision.operator.clone(),
                manufacturer: manufacturer.clone(),
                source,
                issued_at: now,
            }));
            match recorded {
                Ok(i) => issuance = Some(i.id),
                Err(e) => {
                    return stop(
                        self,
                        reply,
                        FailureStage::Key,
                        format!("recording the issuance: {e}"),
                    );
                }
            }
            treatment.key_source = Some(source.as_str().to_owned());
            treatment.device_key = Some(key.encode().to_vec());
        }
        let reference = self.reference;
        self.reference = self.reference.wrapping_add(1);
        let segments = cp::document(&settings, treatment.device_key.as_deref())
            .and_then(|doc| cp::push(&doc, &self.security, card.imsi.as_str()))
            .and_then(|push| cp::segments(&push, reference));
        let segments = match segments {
            Ok(s) => s,
            Err(e) => return stop(self, reply, FailureStage::Payload, e.to_string()),
        };
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
        for seg in &segments {
            // Each segment is UDHL ‖ UDH ‖ data, 8-bit (`cp::segments`).
            let Ok(sm) = ShortMessage::from_smpp("", destination, 0x40, 0, 0x04, seg) else {
                return stop(
                    self,
                    reply,
                    FailureStage::Payload,
                    "segment without UDH".into(),
                );
            };
            reply.mt.push(sm);
        }
        let _ = self.rt.block_on(self.store.record_delivery(&NewDelivery {
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
        let Ok(Some(card)) = self.rt.block_on(self.store.card(&iccid)) else {
            note("report ignored: unknown card".into());
            return reply;
        };
        let Ok(report) = ReportRepr::verify(&sm.user_data, &card.card.key.0) else {
            note("report ignored: bad MAC".into());
            return reply;
        };
        let Ok(Some((reg, issuance))) = self.rt.block_on(
            self.store
                .accepted_registration(&iccid, report.registration_counter),
        ) else {
            note("report ignored: no such registration".into());
            return reply;
        };
        if !report.result.is_configured() {
            note(format!("handset refused: {}", report.result.label()));
            self.failure(
                reg,
                FailureStage::Handset,
                format!(
                    "handset refused: {} ({:#04x})",
                    report.result.label(),
                    report.result.0
                ),
                now_ms,
            );
            return reply;
        }
        let Some(issuance) = issuance else {
            note("configured (standard settings, nothing to bill)".into());
            return reply;
        };
        let entries =
            billing::on_download_confirmed(&self.billing, &issuance, now).unwrap_or_default();
        match self
            .rt
            .block_on(self.store.confirm_download(issuance.id, now, &entries))
        {
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
                if c.first
                    && issuance.source == KeySource::Manufacturer
                    && report.device_key_id != 0
                    && let Some(KeyProvider::Manufacturer(client)) = issuance
                        .manufacturer
                        .as_deref()
                        .and_then(|m| self.keys.get(m))
                {
                    reply.arrows.push(
                        ArrowSpec::new(
                            Lane::Stub,
                            Lane::Manufacturer,
                            "POST download confirmation",
                        )
                        .line(format!("key id {}", report.device_key_id)),
                    );
                    let ok = self
                        .rt
                        .block_on(client.confirm(report.device_key_id))
                        .is_ok();
                    reply.arrows.push(ArrowSpec::new(
                        Lane::Manufacturer,
                        Lane::Stub,
                        if ok {
                            "confirmation recorded"
                        } else {
                            "confirmation failed"
                        },
                    ));
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

impl ProvisioningServer for EmbeddedStub {
    fn on_mo(&mut self, sm: &ShortMessage, now_ms: u64) -> ServerReply {
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

    fn verdicts(&self) -> Vec<ServerVerdict> {
        self.verdicts.clone()
    }

    fn ledger(&self) -> Vec<LedgerLine> {
        self.rt
            .block_on(
                self.store
                    .ledger_between(Timestamp(i64::MIN), Timestamp(i64::MAX)),
            )
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
