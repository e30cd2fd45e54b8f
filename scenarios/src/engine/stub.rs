//! The provisioning stub as the world hosts it: a synchronous [`ProvisioningServer`]
//! built from the stub crate's own pure parts — `pipeline::check_registration` (structure,
//! card, key version, AES-CMAC, IMEISV), `policy::decide`, `keys::DeviceKeySigner`,
//! `cp::document` / `cp::push` / `cp::segments` (OMA CP over WAP push, NETWPIN) and
//! `billing::on_download_confirmed` — with its state (registrations, replay counters,
//! issuances, ledger) in memory instead of SQLite and on virtual time.
//!
//! Known differences from `provisioning-stub serve` (reported, not hidden):
//! * the store is in memory (the daemon's async `Store` needs a tokio runtime and wall
//!   clock timestamps); a "restart" keeps everything recorded before the ack, as the
//!   daemon's durable store would;
//! * the manufacturer's key server is a local Ed25519 signer per manufacturer reached
//!   with no mTLS (arrows stub → manufacturer show the request and answer);
//! * the handset confirms with handset-sim's provisional text report
//!   (`IMEITRACK CP1 OK <key_id>`), not the stub's MAC'd `IMTC` report.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use handset_sim::network::{Rng, ShortMessage};
use provisioning_stub::billing::{self, BillingConfig};
use provisioning_stub::cp::{self, CpSettings, Security};
use provisioning_stub::devices::{Date as DbDate, DeviceModel, Imei as DbImei};
use provisioning_stub::inventory::{Card, Iccid};
use provisioning_stub::keys::{ApnSettings, DeviceKeySigner, Imei as KeyImei};
use provisioning_stub::pipeline::{check_registration, iccid_digits};
use provisioning_stub::policy::{self, PolicyConfig, Treatment as PolicyTreatment};
use provisioning_stub::store::{Issuance, IssuanceId, KeySource, Timestamp, Verification};

use crate::world::{
    ArrowSpec, Lane, LedgerLine, ProvisioningServer, ServerReply, ServerVerdict, Treatment,
};

/// Where one manufacturer's device keys come from.
#[derive(Debug, Clone)]
pub enum Keys {
    /// The stub's local store holds the manufacturer's delegated signing key (FIG. 5A).
    Local(Arc<DeviceKeySigner>),
    /// The manufacturer's key server signs (FIG. 4 / 5B).
    Manufacturer(Arc<DeviceKeySigner>),
    /// No key can be had.
    None,
}

/// Static configuration of the hosted stub.
#[derive(Debug, Clone)]
pub struct StubSetup {
    /// Inventory: cards by ICCID.
    pub cards: BTreeMap<String, Card>,
    /// Device database by TAC.
    pub devices: BTreeMap<String, DeviceModel>,
    /// Depreciation policy.
    pub policy: PolicyConfig,
    /// Fees and shares.
    pub billing: BillingConfig,
    /// Internet APN per operator id.
    pub apns: BTreeMap<String, String>,
    /// Key source per manufacturer id.
    pub keys: BTreeMap<String, Keys>,
    /// "Today" for the age rule.
    pub today: DbDate,
    /// Unix time of virtual time 0 (for key issuance times).
    pub epoch_unix_s: i64,
    /// Seed of key nonces.
    pub seed: u64,
}

/// One-shot stub controls the engine arms (`stub = { when = … }`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Trigger {
    /// Crash right after the next registration is stored (before it is acknowledged).
    pub after_registration_stored: bool,
    /// Crash right after the next reply is handed to the SMSC.
    pub after_reply_sent: bool,
}

/// Shared between the stub and the engine: armed triggers and whether one fired.
#[derive(Debug, Default)]
pub struct Control {
    /// Armed triggers.
    pub armed: Trigger,
    /// A trigger fired: the engine must stop the server now.
    pub fired: bool,
}

#[derive(Debug, Clone)]
struct Stored {
    raw: Vec<u8>,
    counter: u64,
    provisioned: bool,
    imei: String,
}

/// The hosted stub (see the module docs).
pub struct HostedStub {
    setup: StubSetup,
    control: Arc<Mutex<Control>>,
    crashed: bool,
    /// Last accepted registration per ICCID.
    last: BTreeMap<String, Stored>,
    issuances: Vec<Issuance>,
    confirmed: BTreeMap<i64, bool>,
    verdicts: Vec<ServerVerdict>,
    ledger: Vec<LedgerLine>,
    reference: u8,
    rng: Rng,
}

impl HostedStub {
    /// A stub with this configuration and control handle.
    pub fn new(setup: StubSetup, control: Arc<Mutex<Control>>) -> Self {
        let rng = crate::world::clock::rng_for(setup.seed, "stub-keys");
        HostedStub {
            setup,
            control,
            crashed: false,
            last: BTreeMap::new(),
            issuances: Vec::new(),
            confirmed: BTreeMap::new(),
            verdicts: Vec::new(),
            ledger: Vec::new(),
            reference: 0,
            rng,
        }
    }

    fn now_ts(&self, now_ms: u64) -> Timestamp {
        Timestamp(self.setup.epoch_unix_s * 1000 + i64::try_from(now_ms).unwrap_or(0))
    }

    fn crash_if(&mut self, f: impl Fn(&Trigger) -> bool) -> bool {
        let Ok(mut c) = self.control.lock() else {
            return false;
        };
        if f(&c.armed) {
            c.armed = Trigger::default();
            c.fired = true;
            self.crashed = true;
            true
        } else {
            false
        }
    }

    fn on_registration(&mut self, sm: &ShortMessage, now_ms: u64) -> ServerReply {
        let raw = &sm.user_data;
        let iccid = raw
            .get(8..18)
            .map(iccid_digits)
            .and_then(|d| Iccid::parse(&d).ok());
        let card = iccid
            .as_ref()
            .and_then(|i| self.setup.cards.get(i.as_str()))
            .cloned();
        let checked = check_registration(raw, card.as_ref());
        let mut reply = ServerReply::ack();
        let iccid_s = iccid.as_ref().map(|i| i.as_str().to_owned());
        let verdict = |outcome| ServerVerdict {
            t_ms: now_ms,
            iccid: iccid_s.clone(),
            imei: checked.imei.clone(),
            outcome,
        };
        let counter = match &checked.verification {
            Verification::Rejected { .. } => {
                let reason = match checked.rejection.unwrap_or("malformed") {
                    "imei_check_digit" => "invalid_imei",
                    "bad_mac" => "bad_mac",
                    "unknown_card" => "unknown_card",
                    _ => "malformed",
                };
                reply.arrows.push(
                    ArrowSpec::new(
                        Lane::Stub,
                        Lane::Stub,
                        format!("registration rejected: {reason}"),
                    )
                    .line(format!("{:?}", checked.verification))
                    .line("nothing is sent back (no oracle)"),
                );
                let _ = reason;
                self.verdicts.push(verdict(Err(reason.to_owned())));
                return reply;
            }
            Verification::Verified { counter, .. } => *counter,
        };
        let (Some(card), Some(imei)) = (card, checked.imei.clone()) else {
            return reply;
        };
        let key = card.iccid.as_str().to_owned();
        // Replay check against the last accepted counter; an exact redelivery of a
        // stored registration that was never provisioned resumes it (crash recovery).
        let resume = match self.last.get(&key) {
            Some(s) if s.raw == *raw && !s.provisioned => true,
            Some(s) if counter <= s.counter => {
                reply.arrows.push(
                    ArrowSpec::new(Lane::Stub, Lane::Stub, "registration rejected: replayed")
                        .line(format!("counter {counter} ≤ last accepted {}", s.counter)),
                );
                self.verdicts.push(verdict(Err("replayed".into())));
                return reply;
            }
            _ => false,
        };
        if !resume {
            self.last.insert(
                key.clone(),
                Stored {
                    raw: raw.clone(),
                    counter,
                    provisioned: false,
                    imei: imei.clone(),
                },
            );
            reply.arrows.push(
                ArrowSpec::new(Lane::Stub, Lane::Stub, "registration verified and stored")
                    .line(format!("ICCID {key} IMEI {imei} counter {counter}")),
            );
        } else {
            reply.arrows.push(ArrowSpec::new(
                Lane::Stub,
                Lane::Stub,
                "redelivered registration found in store: resuming provisioning",
            ));
        }
        if self.crash_if(|t| t.after_registration_stored) {
            if !resume {
                self.verdicts.push(verdict(Ok(Treatment {
                    depreciated: false,
                    key_source: None,
                    device_key: None,
                })));
            }
            reply.accepted = false;
            reply.arrows.push(ArrowSpec::new(
                Lane::Stub,
                Lane::Stub,
                "stub crashes before the ack",
            ));
            return reply;
        }
        let treatment = self.provision(&card, &imei, &sm.source, now_ms, &mut reply);
        if let Some(s) = self.last.get_mut(&key) {
            s.provisioned = true;
            let _ = &s.imei;
        }
        match treatment {
            Some(t) => {
                if resume {
                    // Verdict recorded when stored; complete it with the treatment.
                    if let Some(v) = self
                        .verdicts
                        .iter_mut()
                        .rev()
                        .find(|v| v.iccid.as_deref() == Some(key.as_str()))
                    {
                        v.outcome = Ok(t);
                    }
                } else {
                    self.verdicts.push(verdict(Ok(t)));
                }
            }
            None if !resume => self.verdicts.push(verdict(Err("unknown_tac".into()))),
            None => {}
        }
        if self.crash_if(|t| t.after_reply_sent) {
            reply.arrows.push(ArrowSpec::new(
                Lane::Stub,
                Lane::Stub,
                "stub crashes after the reply",
            ));
        }
        reply
    }

    /// Policy → key → OMA CP push segments into `reply.mt`. `None` when the policy
    /// rejects (unknown TAC with `reject`).
    fn provision(
        &mut self,
        card: &Card,
        imei: &str,
        destination: &str,
        now_ms: u64,
        reply: &mut ServerReply,
    ) -> Option<Treatment> {
        let db_imei = DbImei::parse(imei).ok()?;
        let tac = db_imei.tac();
        let device = self.setup.devices.get(tac.as_str()).cloned();
        let decision = policy::decide(
            &self.setup.policy,
            &tac,
            device.as_ref(),
            &card.imsi,
            self.setup.today,
        );
        let reasons: Vec<String> = decision.reasons.iter().map(|r| r.to_string()).collect();
        reply.arrows.push(
            ArrowSpec::new(
                Lane::Stub,
                Lane::Stub,
                format!("policy: {:?}", decision.treatment),
            )
            .line(format!(
                "TAC {} operator {:?}",
                tac.as_str(),
                decision.operator
            ))
            .line(if reasons.is_empty() {
                "no rule fired".to_owned()
            } else {
                reasons.join("; ")
            }),
        );
        if decision.treatment == PolicyTreatment::Reject {
            return None;
        }
        let manufacturer = device.as_ref().map(|d| d.manufacturer.clone());
        let apn = decision
            .operator
            .as_deref()
            .and_then(|o| self.setup.apns.get(o))
            .cloned()
            .unwrap_or_else(|| "internet".into());
        let mmsc = format!(
            "http://mms.{}.example/",
            manufacturer.as_deref().unwrap_or("operator")
        );
        let settings = CpSettings {
            name: "imeitrack".into(),
            apn: ApnSettings {
                apn: apn.clone(),
                username: None,
                password: None,
                mmsc: Some(mmsc),
                proxy: None,
                proxy_port: None,
            },
        };
        let mut treatment = Treatment {
            depreciated: false,
            key_source: None,
            device_key: None,
        };
        let mut key_bytes = None;
        if decision.treatment == PolicyTreatment::Depreciated {
            treatment.depreciated = true;
            let canonical = format!(
                "{}{}",
                &imei[..14],
                char::from(provisioning_stub::keys::luhn_check_digit(
                    &imei.as_bytes()[..14]
                ))
            );
            let key_imei = KeyImei::parse(&canonical).ok()?;
            let keys = manufacturer
                .as_deref()
                .and_then(|m| self.setup.keys.get(m))
                .cloned()
                .unwrap_or(Keys::None);
            let id = i64::try_from(self.issuances.len()).unwrap_or(0) + 1;
            let secs = u64::try_from(self.setup.epoch_unix_s).unwrap_or(0) + now_ms / 1000;
            let mut rng = SeededRng(&mut self.rng);
            let (signed, source) = match &keys {
                Keys::Local(s) => (
                    s.issue_with_rng(id as u64, &key_imei, &settings.apn, secs, None, &mut rng),
                    KeySource::Local,
                ),
                Keys::Manufacturer(s) => {
                    reply.arrows.push(
                        ArrowSpec::new(Lane::Stub, Lane::Manufacturer, "key request")
                            .line(format!("IMEI {canonical} APN {apn}"))
                            .line("in-process: no mTLS"),
                    );
                    let k =
                        s.issue_with_rng(id as u64, &key_imei, &settings.apn, secs, None, &mut rng);
                    reply
                        .arrows
                        .push(ArrowSpec::new(Lane::Manufacturer, Lane::Stub, "device key"));
                    (k, KeySource::Manufacturer)
                }
                Keys::None => {
                    reply.arrows.push(ArrowSpec::new(
                        Lane::Stub,
                        Lane::Stub,
                        "no key source: standard settings only",
                    ));
                    treatment.depreciated = true;
                    return Some(treatment);
                }
            };
            let Ok(signed) = signed else {
                return Some(treatment);
            };
            let bytes = signed.encode().to_vec();
            self.issuances.push(Issuance {
                id: IssuanceId(id),
                registration_id: None,
                iccid: card.iccid.as_str().to_owned(),
                imei: canonical,
                operator: decision.operator.clone(),
                manufacturer: manufacturer.clone(),
                source,
                issued_at: self.now_ts(now_ms),
            });
            treatment.key_source = Some(source.as_str().to_owned());
            treatment.device_key = Some(bytes.clone());
            reply.arrows.push(
                ArrowSpec::new(
                    Lane::Stub,
                    Lane::Stub,
                    format!("key issuance {id} recorded"),
                )
                .line(format!("source {}", source.as_str())),
            );
            key_bytes = Some(bytes);
        }
        let segments = cp::document(&settings, key_bytes.as_deref())
            .and_then(|doc| cp::push(&doc, &Security::NetwPin, card.imsi.as_str()))
            .and_then(|push| cp::segments(&push, self.reference));
        self.reference = self.reference.wrapping_add(1);
        match segments {
            Ok(segs) => {
                for s in segs {
                    if let Ok(m) = ShortMessage::from_smpp("", destination, 0x40, 0, 0x04, &s) {
                        reply.mt.push(m);
                    }
                }
            }
            Err(e) => reply.arrows.push(ArrowSpec::new(
                Lane::Stub,
                Lane::Stub,
                format!("payload: {e}"),
            )),
        }
        Some(treatment)
    }

    /// The world's handset report: `provisioning_stub::confirmation` ("IMTC"), MAC'd
    /// under the card's registration key (looked up by the EF.ICCID it carries).
    fn on_imtc_report(&mut self, raw: &[u8], now_ms: u64, reply: &mut ServerReply) {
        use provisioning_stub::confirmation::ReportRepr;
        let Ok(unchecked) = ReportRepr::parse(raw) else {
            reply.arrows.push(ArrowSpec::new(
                Lane::Stub,
                Lane::Stub,
                "provisioning report: does not parse",
            ));
            return;
        };
        let card = Iccid::parse(&iccid_digits(&unchecked.iccid))
            .ok()
            .and_then(|i| self.setup.cards.get(i.as_str()).cloned());
        let Some(card) = card else {
            return;
        };
        let Ok(report) = ReportRepr::verify(raw, &card.key.0) else {
            reply.arrows.push(ArrowSpec::new(
                Lane::Stub,
                Lane::Stub,
                "provisioning report: MAC does not verify",
            ));
            return;
        };
        let Ok(key_id) = i64::try_from(report.device_key_id) else {
            return;
        };
        if key_id == 0 {
            return;
        }
        self.confirm(report.result.is_configured(), key_id, now_ms, reply);
    }

    fn on_text_report(&mut self, text: &str, now_ms: u64, reply: &mut ServerReply) {
        // IMEITRACK CP1 OK <key_id|->
        let mut parts = text.split_whitespace().skip(2);
        let ok = parts.next() == Some("OK");
        let Some(key_id) = parts.next().and_then(|k| k.parse::<i64>().ok()) else {
            return;
        };
        self.confirm(ok, key_id, now_ms, reply);
    }

    fn confirm(&mut self, ok: bool, key_id: i64, now_ms: u64, reply: &mut ServerReply) {
        if !ok || self.confirmed.contains_key(&key_id) {
            return;
        }
        let Some(issuance) = self.issuances.iter().find(|i| i.id.0 == key_id).cloned() else {
            return;
        };
        self.confirmed.insert(key_id, true);
        match billing::on_download_confirmed(&self.setup.billing, &issuance, self.now_ts(now_ms)) {
            Ok(entries) => {
                for e in entries {
                    reply.arrows.push(ArrowSpec::new(
                        Lane::Stub,
                        if e.kind.as_str() == "download_confirmation" {
                            Lane::Manufacturer
                        } else {
                            Lane::Stub
                        },
                        format!(
                            "ledger: {} {} {} {}",
                            e.kind.as_str(),
                            e.party.name(),
                            e.amount_minor,
                            e.currency
                        ),
                    ));
                    self.ledger.push(LedgerLine {
                        kind: e.kind.as_str().to_owned(),
                        party: e.party.name().to_owned(),
                        amount_minor: e.amount_minor,
                        currency: e.currency,
                    });
                }
            }
            Err(e) => reply.arrows.push(ArrowSpec::new(
                Lane::Stub,
                Lane::Stub,
                format!("billing: {e}"),
            )),
        }
    }
}

impl ProvisioningServer for HostedStub {
    fn on_mo(&mut self, sm: &ShortMessage, now_ms: u64) -> ServerReply {
        if self.crashed {
            return ServerReply::default();
        }
        if sm.user_data.starts_with(b"IMTR") {
            self.on_registration(sm, now_ms)
        } else if sm
            .user_data
            .starts_with(&provisioning_stub::confirmation::MAGIC)
        {
            let mut reply = ServerReply::ack();
            self.on_imtc_report(&sm.user_data, now_ms, &mut reply);
            reply
        } else if sm.user_data.starts_with(b"IMEITRACK CP1 ") {
            let mut reply = ServerReply::ack();
            let text = String::from_utf8_lossy(&sm.user_data).into_owned();
            self.on_text_report(&text, now_ms, &mut reply);
            reply
        } else {
            ServerReply::ack()
        }
    }

    fn on_running(&mut self, running: bool, _now_ms: u64) {
        if running {
            self.crashed = false;
        }
    }

    fn verdicts(&self) -> Vec<ServerVerdict> {
        self.verdicts.clone()
    }

    fn ledger(&self) -> Vec<LedgerLine> {
        self.ledger.clone()
    }
}

/// A seeded generator for key nonces (the world's splitmix-seeded xorshift; not
/// cryptographic, which is the point: the same seed gives the same keys).
struct SeededRng<'a>(&'a mut Rng);

impl rand_core::RngCore for SeededRng<'_> {
    fn next_u32(&mut self) -> u32 {
        (self.0.next_u64() >> 32) as u32
    }
    fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for chunk in dest.chunks_mut(8) {
            let v = self.0.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl rand_core::CryptoRng for SeededRng<'_> {}
