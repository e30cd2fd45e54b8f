//! What `serve` does with each `deliver_sm` (DESIGN.md "The flow of one SIM swap"):
//!
//! 1. **Registration** (`IMTR`, `docs/registration.md` §5): structure → card by ICCID →
//!    key version → MAC (constant time) → IMEISV consistency, then the store records it
//!    and applies the replay check in one transaction. The `deliver_sm_resp` goes out
//!    only after that write is durable (the [`DeliverHandler`] future resolves then).
//! 2. **Provisioning** of an accepted registration, after the ack, in a tracked task:
//!    TAC → device, policy, key (local signer or manufacturer over mTLS), issuance
//!    recorded *before* the key leaves, OMA CP document → WSP push → SMS segments →
//!    `submit_sm`s → delivery recorded. Each stop is recorded as a provisioning failure
//!    with its stage and reason; a failed registration gets no key and costs nothing.
//! 3. **Provisioning report** (`IMTC`, [`crate::confirmation`]): MAC under the card's
//!    key; "configured" for a registration with a key issuance records the confirmation
//!    and its ledger entries (fee request, download confirmation) in one transaction
//!    before the ack; a refusal is recorded as a `handset` failure.
//!
//! Anything else is acknowledged and counted (MO traffic that is not ours must not be
//! redelivered for ever). Nothing is ever sent back for a rejected message (no oracle).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, OnceLock};

use applet::wire::imei::{CheckDigitStatus, Imei as WireImei, Imeisv};
use applet::wire::registration::{self, Registration, VerifyError};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::billing::{self, BillingConfig};
use crate::config::{ConfirmationRetry, KeySourceConfig, OmaCpConfig, StubConfig};
use crate::confirmation::{self, ReportRepr};
use crate::cp::{self, CpSettings, Security};
use crate::devices::{Date, Imei as DbImei};
use crate::inventory::{Card, Iccid};
use crate::keys::{ApnSettings, DeviceKeySigner, Imei as KeyImei};
use crate::manufacturer::{ManufacturerClient, tls};
use crate::metrics::Metrics;
use crate::policy::{self, PolicyConfig, Treatment};
use crate::smpp::{DeliverHandler, DeliveredSm, EsmeHandle, HandlerError, SubmitRequest};
use crate::store::{
    AnyStore, FailureStage, KeySource, NewDelivery, NewIssuance, NewRegistration, OwedConfirmation,
    ProvisioningFailure, RegistrationId, RegistrationOutcome, Store, Timestamp, Verification,
};

/// A source of device keys for one manufacturer.
#[derive(Debug, Clone)]
pub enum KeyProvider {
    /// Local key store: the manufacturer's delegated signing key (FIG. 2/5A).
    Local(Arc<DeviceKeySigner>),
    /// The manufacturer's key server (FIG. 4/5B).
    Manufacturer(Box<ManufacturerClient>),
}

/// Errors setting the pipeline up.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// A key file could not be read or parsed.
    #[error("{path}: {message}")]
    KeyFile {
        /// File.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// Other configuration problem.
    #[error("{0}")]
    Config(String),
}

fn read(path: &std::path::Path) -> Result<String, SetupError> {
    std::fs::read_to_string(path).map_err(|e| SetupError::KeyFile {
        path: path.display().to_string(),
        message: e.to_string(),
    })
}

fn local_signer(path: &std::path::Path) -> Result<Arc<DeviceKeySigner>, SetupError> {
    DeviceKeySigner::from_hex(&read(path)?)
        .map(Arc::new)
        .ok_or_else(|| SetupError::KeyFile {
            path: path.display().to_string(),
            message: "expected 64 hex digits (Ed25519 seed)".into(),
        })
}

impl KeyProvider {
    /// Builds the provider a `[[key_sources]]` entry describes (reads its files).
    pub fn from_config(c: &KeySourceConfig) -> Result<KeyProvider, SetupError> {
        match c {
            KeySourceConfig::Local {
                signing_key_file, ..
            } => Ok(KeyProvider::Local(local_signer(signing_key_file)?)),
            KeySourceConfig::Manufacturer {
                address,
                server_name,
                ca_file,
                client_cert_file,
                client_key_file,
                verifying_key_file,
                timeout_ms,
                ..
            } => {
                let tls = tls::client_config(
                    &read(ca_file)?,
                    &read(client_cert_file)?,
                    &read(client_key_file)?,
                )
                .map_err(|e| SetupError::Config(format!("manufacturer TLS: {e}")))?;
                let mut client = ManufacturerClient::new(
                    address.clone(),
                    server_name,
                    tls,
                    std::time::Duration::from_millis(*timeout_ms),
                )
                .map_err(|e| SetupError::Config(e.to_string()))?;
                if let Some(v) = verifying_key_file {
                    let key = crate::keys::verifying_key_from_hex(&read(v)?).ok_or_else(|| {
                        SetupError::KeyFile {
                            path: v.display().to_string(),
                            message: "expected 64 hex digits (Ed25519 public key)".into(),
                        }
                    })?;
                    client = client.with_verifying_key(key);
                }
                Ok(KeyProvider::Manufacturer(Box::new(client)))
            }
        }
    }
}

/// Decodes EF.ICCID (swapped BCD, `F` padding) to digits.
pub fn iccid_digits(raw: &[u8]) -> String {
    let mut s = String::with_capacity(20);
    for b in raw {
        for nibble in [b & 0x0F, b >> 4] {
            if nibble > 9 {
                return s;
            }
            s.push(char::from(b'0' + nibble));
        }
    }
    s
}

/// The result of checking a registration before the store's replay check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// What to record.
    pub verification: Verification,
    /// The IMEI (15 digits as received), if readable.
    pub imei: Option<String>,
    /// Metric label of a rejection.
    pub rejection: Option<&'static str>,
}

fn rejected(
    iccid: Option<Iccid>,
    counter: Option<u64>,
    imei: Option<String>,
    label: &'static str,
    reason: String,
) -> Checked {
    Checked {
        verification: Verification::Rejected {
            iccid,
            counter,
            reason,
        },
        imei,
        rejection: Some(label),
    }
}

/// Checks a registration message against the card it names (`card` = the inventory
/// row for its ICCID, looked up by the caller). Pure: no I/O.
pub fn check_registration(raw: &[u8], card: Option<&Card>) -> Checked {
    let iccid = raw
        .get(8..18)
        .and_then(|b| Iccid::parse(&iccid_digits(b)).ok());
    let imei_text = raw
        .get(32..40)
        .and_then(|b| WireImei::parse(b).ok())
        .map(|i| i.to_string());
    let view = match Registration::new_checked(raw) {
        Ok(v) => v,
        Err(e) => {
            // Name the most useful reason: a wrong IMEI check digit is a handset fault
            // worth telling apart from garbage.
            if raw.starts_with(&registration::MAGIC)
                && let Some(i) = raw.get(32..40).and_then(|b| WireImei::parse(b).ok())
                && let CheckDigitStatus::Wrong { expected } = i.check_digit_status()
            {
                return rejected(
                    iccid,
                    None,
                    imei_text,
                    "imei_check_digit",
                    format!("IMEI {i}: check digit wrong (Luhn digit is {expected})"),
                );
            }
            return rejected(
                iccid,
                None,
                imei_text,
                "malformed",
                format!("malformed registration: {e:?}"),
            );
        }
    };
    let counter = Some(view.counter());
    let Some(iccid) = iccid else {
        return rejected(
            None,
            counter,
            imei_text,
            "iccid_invalid",
            format!("ICCID {:?} invalid", iccid_digits(view.iccid())),
        );
    };
    let Some(card) = card else {
        return rejected(
            Some(iccid),
            counter,
            imei_text,
            "unknown_card",
            "unknown card".into(),
        );
    };
    if view.key_id().0 >> 4 != 1 {
        return rejected(
            Some(iccid),
            counter,
            imei_text,
            "unknown_key_version",
            format!("key version {} unknown", view.key_id().0 >> 4),
        );
    }
    match view.verify_mac(&card.key.0) {
        Ok(()) => {}
        Err(VerifyError::BadMac) => {
            return rejected(Some(iccid), counter, imei_text, "bad_mac", "bad MAC".into());
        }
        Err(VerifyError::Malformed(e)) => {
            return rejected(
                Some(iccid),
                counter,
                imei_text,
                "malformed",
                format!("malformed registration: {e:?}"),
            );
        }
    }
    if let (Some(sv), Ok(imei)) = (view.imeisv(), WireImei::parse(view.imei()))
        && let Ok(sv) = Imeisv::parse(sv)
        && sv.tac_snr() != imei.tac_snr()
    {
        return rejected(
            Some(iccid),
            counter,
            imei_text,
            "imeisv_mismatch",
            format!("IMEISV {sv} does not match IMEI {imei}"),
        );
    }
    Checked {
        verification: Verification::Verified {
            iccid,
            counter: view.counter(),
        },
        imei: imei_text,
        rejection: None,
    }
}

/// The `deliver_sm` handler of `serve` (see the module docs).
pub struct Pipeline {
    store: AnyStore,
    policy: PolicyConfig,
    /// `policy_date` of the configuration: the age rule's "today" when set.
    policy_date: Option<Date>,
    billing: BillingConfig,
    omacp: OmaCpConfig,
    security: Security,
    keys: HashMap<String, KeyProvider>,
    default_local: Option<Arc<DeviceKeySigner>>,
    source_addr: String,
    esme: OnceLock<EsmeHandle>,
    metrics: Arc<Metrics>,
    tracker: TaskTracker,
    draining: AtomicBool,
    reference: AtomicU8,
    retry: ConfirmationRetry,
    /// Cancelled by [`Pipeline::drain`]: stops the retries of owed confirmations (they
    /// stay owed in the store).
    cancel: CancellationToken,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("source_addr", &self.source_addr)
            .finish_non_exhaustive()
    }
}

impl Pipeline {
    /// Builds the pipeline from the configuration (reads key files and TLS material).
    pub fn new(
        config: &StubConfig,
        store: AnyStore,
        metrics: Arc<Metrics>,
    ) -> Result<Pipeline, SetupError> {
        let security = config
            .omacp
            .security()
            .map_err(|e| SetupError::Config(e.to_string()))?;
        let mut keys = HashMap::new();
        for k in &config.key_sources {
            keys.insert(k.manufacturer().to_owned(), KeyProvider::from_config(k)?);
        }
        let default_local = config
            .default_local_key_file
            .as_deref()
            .map(local_signer)
            .transpose()?;
        let policy_date = config
            .policy_date()
            .map_err(|e| SetupError::Config(e.to_string()))?;
        Ok(Pipeline {
            store,
            policy: config.policy.clone(),
            policy_date,
            billing: config.billing.clone(),
            omacp: config.omacp.clone(),
            security,
            keys,
            default_local,
            source_addr: config.smsc.source_addr.clone(),
            esme: OnceLock::new(),
            metrics,
            tracker: TaskTracker::new(),
            draining: AtomicBool::new(false),
            reference: AtomicU8::new(0),
            retry: config.manufacturer_confirmations.clone(),
            cancel: CancellationToken::new(),
        })
    }

    /// Gives the pipeline the ESME to submit pushes on (set once, right after start).
    pub fn set_esme(&self, esme: EsmeHandle) {
        let _ = self.esme.set(esme);
    }

    /// Stops taking new messages (they get a temporary error, so the SMSC redelivers
    /// them later) and waits up to `bound` for work in progress; `true` if it all ended.
    pub async fn drain(&self, bound: std::time::Duration) -> bool {
        self.draining.store(true, Ordering::SeqCst);
        self.cancel.cancel();
        self.tracker.close();
        tokio::time::timeout(bound, self.tracker.wait())
            .await
            .is_ok()
    }

    fn fail(&self, stage: FailureStage, reason: &'static str) {
        self.metrics.inc(
            "imeitrack_provisioning_failures_total",
            "stage",
            stage.as_str(),
        );
        tracing::debug!(stage = stage.as_str(), reason, "provisioning stopped");
    }

    async fn record_failure(&self, id: RegistrationId, stage: FailureStage, reason: String) {
        let f = ProvisioningFailure {
            registration_id: id,
            stage: stage.as_str().to_owned(),
            reason,
            at: Timestamp::now(),
        };
        if let Err(e) = self.store.record_failure(&f).await {
            tracing::error!(error = %e, "recording a provisioning failure");
        }
    }

    async fn on_registration(self: &Arc<Self>, sm: DeliveredSm) -> Result<(), HandlerError> {
        let store_err = |e: crate::store::StoreError| HandlerError(e.to_string());
        let card = match sm
            .payload
            .get(8..18)
            .and_then(|b| Iccid::parse(&iccid_digits(b)).ok())
        {
            Some(iccid) => self
                .store
                .card(&iccid)
                .await
                .map_err(store_err)?
                .map(|r| r.card),
            None => None,
        };
        let checked = check_registration(&sm.payload, card.as_ref());
        if let Some(label) = checked.rejection {
            self.metrics
                .inc("imeitrack_rejections_total", "reason", label);
        }
        let outcome = self
            .store
            .record_registration(&NewRegistration {
                received_at: Timestamp::now(),
                source_addr: sm.source_addr.clone(),
                raw: sm.payload.clone(),
                imei: checked.imei.clone(),
                verification: checked.verification,
            })
            .await
            .map_err(store_err)?;
        let label = match outcome {
            RegistrationOutcome::Accepted(_) => "accepted",
            RegistrationOutcome::Duplicate { .. } => "duplicate",
            RegistrationOutcome::Replay { .. } => "replay",
            RegistrationOutcome::Rejected(_) => "rejected",
        };
        self.metrics
            .inc("imeitrack_registrations_total", "outcome", label);
        if let (RegistrationOutcome::Accepted(id), Some(card), Some(imei)) =
            (outcome, card, checked.imei)
        {
            let this = self.clone();
            let destination = sm.source_addr;
            self.tracker.spawn(async move {
                this.provision(id, card, imei, destination).await;
            });
        }
        Ok(())
    }

    /// Policy, key, payload, submit for an accepted registration.
    async fn provision(&self, id: RegistrationId, card: Card, imei: String, destination: String) {
        let now = Timestamp::now();
        let Ok(db_imei) = DbImei::parse(&imei) else {
            self.fail(FailureStage::Policy, "imei");
            return self
                .record_failure(id, FailureStage::Policy, format!("IMEI {imei} unusable"))
                .await;
        };
        let tac = db_imei.tac();
        let device = match self.store.device(&tac).await {
            Ok(d) => d,
            Err(e) => {
                self.fail(FailureStage::Policy, "store");
                return self
                    .record_failure(id, FailureStage::Policy, format!("device database: {e}"))
                    .await;
            }
        };
        if device.is_none()
            && let Err(e) = self.store.record_unknown_tac(&db_imei, now).await
        {
            tracing::warn!(error = %e, "recording an unknown TAC");
        }
        let decision = policy::decide(
            &self.policy,
            &tac,
            device.as_ref(),
            &card.imsi,
            self.policy_date.unwrap_or_else(|| Date::of(now)),
        );
        let manufacturer = device.as_ref().map(|d| d.manufacturer.clone());
        if decision.treatment == Treatment::Reject {
            self.fail(FailureStage::Policy, "rejected");
            let why: Vec<String> = decision.reasons.iter().map(|r| r.to_string()).collect();
            return self
                .record_failure(
                    id,
                    FailureStage::Policy,
                    format!("policy rejects: {}", why.join("; ")),
                )
                .await;
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
        // Key (depreciated devices only), recorded before it leaves.
        let mut issuance = None;
        let mut key_bytes = None;
        if decision.treatment == Treatment::Depreciated {
            // The device key names the Luhn-valid IMEI (docs/device-key.md), also when
            // the handset sent the spare digit 0.
            let canonical = format!(
                "{}{}",
                &imei[..14],
                char::from(crate::keys::luhn_check_digit(&imei.as_bytes()[..14]))
            );
            let Ok(key_imei) = KeyImei::parse(&canonical) else {
                self.fail(FailureStage::Key, "imei");
                return self
                    .record_failure(id, FailureStage::Key, format!("IMEI {imei} unusable"))
                    .await;
            };
            let provider = manufacturer
                .as_deref()
                .and_then(|m| self.keys.get(m).cloned())
                .or_else(|| self.default_local.clone().map(KeyProvider::Local));
            let (key, source) = match provider {
                None => {
                    self.fail(FailureStage::Key, "no key source");
                    return self
                        .record_failure(
                            id,
                            FailureStage::Key,
                            format!(
                                "no key source for manufacturer {}",
                                manufacturer.as_deref().unwrap_or("(unknown TAC)")
                            ),
                        )
                        .await;
                }
                Some(KeyProvider::Local(signer)) => {
                    let secs = u64::try_from(now.0 / 1000).unwrap_or(0);
                    let key_id = u64::try_from(id.0).unwrap_or(0);
                    match signer.issue(key_id, &key_imei, &settings.apn, secs, None) {
                        Ok(k) => (k, KeySource::Local),
                        Err(e) => {
                            self.fail(FailureStage::Key, "local");
                            return self
                                .record_failure(id, FailureStage::Key, format!("local key: {e}"))
                                .await;
                        }
                    }
                }
                Some(KeyProvider::Manufacturer(client)) => {
                    match client.request_key(&key_imei, &settings.apn).await {
                        Ok(k) => (k.device_key, KeySource::Manufacturer),
                        Err(e) => {
                            self.fail(FailureStage::Key, e.reason());
                            self.metrics.inc(
                                "imeitrack_provisioning_failures_total",
                                "reason",
                                e.reason(),
                            );
                            return self
                                .record_failure(id, FailureStage::Key, e.to_string())
                                .await;
                        }
                    }
                }
            };
            let recorded = self
                .store
                .record_issuance(&NewIssuance {
                    registration_id: Some(id),
                    iccid: card.iccid.as_str().to_owned(),
                    imei: canonical,
                    operator: decision.operator.clone(),
                    manufacturer: manufacturer.clone(),
                    source,
                    issued_at: now,
                })
                .await;
            match recorded {
                Ok(i) => issuance = Some(i.id),
                Err(e) => {
                    // Not recorded → the key does not leave.
                    tracing::error!(error = %e, "recording a key issuance");
                    return;
                }
            }
            self.metrics
                .inc("imeitrack_keys_issued_total", "source", source.as_str());
            key_bytes = Some(key.encode());
        }
        let segments = cp::document(&settings, key_bytes.as_deref().map(|k| &k[..]))
            .and_then(|doc| cp::push(&doc, &self.security, card.imsi.as_str()))
            .and_then(|push| cp::segments(&push, self.reference.fetch_add(1, Ordering::Relaxed)));
        let segments = match segments {
            Ok(s) => s,
            Err(e) => {
                self.fail(FailureStage::Payload, "encode");
                return self
                    .record_failure(id, FailureStage::Payload, e.to_string())
                    .await;
            }
        };
        let Some(esme) = self.esme.get() else {
            self.fail(FailureStage::Submit, "no esme");
            return self
                .record_failure(id, FailureStage::Submit, "SMSC link not started".into())
                .await;
        };
        let mut message_ids = Vec::with_capacity(segments.len());
        for seg in segments {
            let req =
                SubmitRequest::binary_with_udh(self.source_addr.clone(), destination.clone(), seg);
            match esme.submit(&req).await {
                Ok(r) => {
                    self.metrics.inc_plain("imeitrack_push_segments_total");
                    message_ids.push(r.message_id);
                }
                Err(e) => {
                    self.fail(FailureStage::Submit, "smsc");
                    return self
                        .record_failure(id, FailureStage::Submit, format!("submit_sm: {e}"))
                        .await;
                }
            }
        }
        self.metrics.inc_plain("imeitrack_pushes_sent_total");
        if let Err(e) = self
            .store
            .record_delivery(&NewDelivery {
                registration_id: id,
                issuance_id: issuance,
                destination,
                sent_at: Timestamp::now(),
                message_ids,
            })
            .await
        {
            tracing::error!(error = %e, "recording a delivery");
        }
    }

    /// Sends every download confirmation still owed to a manufacturer (after a crash or
    /// a manufacturer outage), in the background with the configured retries. `serve`
    /// calls it once at start.
    pub fn resend_owed_confirmations(self: &Arc<Self>) {
        let this = self.clone();
        tokio::spawn(async move {
            match this.store.pending_manufacturer_confirmations().await {
                Ok(owed) if owed.is_empty() => {}
                Ok(owed) => {
                    tracing::info!(count = owed.len(), "resending owed download confirmations");
                    this.deliver_owed(owed).await;
                }
                Err(e) => tracing::error!(error = %e, "reading owed download confirmations"),
            }
        });
    }

    /// Sends owed confirmations: up to `max_attempts` rounds, exponential back-off between
    /// rounds; each attempt and success is recorded. Stops early on shutdown. A
    /// manufacturer without a key server (configuration changed) or answering 4xx is not
    /// retried in this run.
    async fn deliver_owed(&self, mut owed: Vec<OwedConfirmation>) {
        let mut delay = self.retry.retry_min_ms;
        let attempts = self.retry.max_attempts.max(1);
        for attempt in 1..=attempts {
            let mut failed = Vec::new();
            for o in owed {
                let client = match self.keys.get(&o.manufacturer) {
                    Some(KeyProvider::Manufacturer(c)) => c,
                    _ => {
                        tracing::warn!(
                            manufacturer = %o.manufacturer,
                            issuance = o.issuance_id.0,
                            "download confirmation owed to a manufacturer without key server"
                        );
                        continue;
                    }
                };
                let result = client.confirm(o.device_key_id).await;
                let error = result.as_ref().err().map(ToString::to_string);
                let label = if error.is_none() { "sent" } else { "failed" };
                self.metrics.inc(
                    "imeitrack_manufacturer_confirmations_total",
                    "result",
                    label,
                );
                if let Err(e) = self
                    .store
                    .manufacturer_confirmation_attempt(o.issuance_id, Timestamp::now(), error)
                    .await
                {
                    tracing::error!(error = %e, "recording a confirmation attempt");
                }
                match result {
                    Ok(_) => {}
                    Err(crate::manufacturer::ManufacturerError::Rejected { status, message })
                        if (400..500).contains(&status) && status != 408 && status != 429 =>
                    {
                        tracing::warn!(
                            key_id = o.device_key_id,
                            status,
                            message,
                            "manufacturer refused the download confirmation; left owed"
                        );
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, key_id = o.device_key_id, attempt, "download confirmation to the manufacturer");
                        failed.push(o);
                    }
                }
            }
            if failed.is_empty() {
                return;
            }
            owed = failed;
            if attempt == attempts {
                break;
            }
            tokio::select! {
                _ = self.cancel.cancelled() => return,
                _ = tokio::time::sleep(std::time::Duration::from_millis(delay)) => {}
            }
            delay = delay.saturating_mul(2).min(self.retry.retry_max_ms.max(1));
        }
        for o in &owed {
            self.metrics.inc(
                "imeitrack_manufacturer_confirmations_total",
                "result",
                "gave_up",
            );
            tracing::warn!(
                key_id = o.device_key_id,
                issuance = o.issuance_id.0,
                "download confirmation still owed after {attempts} attempts; resent at next start"
            );
        }
    }

    async fn on_report(self: &Arc<Self>, sm: DeliveredSm) -> Result<(), HandlerError> {
        let store_err = |e: crate::store::StoreError| HandlerError(e.to_string());
        let invalid = |why: &str| {
            self.metrics
                .inc("imeitrack_reports_total", "result", "invalid");
            tracing::info!(source = %sm.source_addr, why, "provisioning report ignored");
            Ok(())
        };
        let Ok(parsed) = ReportRepr::parse(&sm.payload) else {
            return invalid("malformed");
        };
        let Ok(iccid) = Iccid::parse(&iccid_digits(&parsed.iccid)) else {
            return invalid("ICCID invalid");
        };
        let Some(card) = self.store.card(&iccid).await.map_err(store_err)? else {
            return invalid("unknown card");
        };
        let Ok(report) = ReportRepr::verify(&sm.payload, &card.card.key.0) else {
            return invalid("bad MAC");
        };
        let Some((reg, issuance)) = self
            .store
            .accepted_registration(&iccid, report.registration_counter)
            .await
            .map_err(store_err)?
        else {
            return invalid("no such registration");
        };
        self.metrics
            .inc("imeitrack_reports_total", "result", report.result.label());
        if !report.result.is_configured() {
            let f = ProvisioningFailure {
                registration_id: reg,
                stage: FailureStage::Handset.as_str().into(),
                reason: format!(
                    "handset refused: {} ({:#04x})",
                    report.result.label(),
                    report.result.0
                ),
                at: Timestamp::now(),
            };
            return self.store.record_failure(&f).await.map_err(store_err);
        }
        let Some(issuance) = issuance else {
            // Standard settings: nothing to bill.
            return Ok(());
        };
        let now = Timestamp::now();
        let entries = match billing::on_download_confirmed(&self.billing, &issuance, now) {
            Ok(e) => e,
            Err(e) => {
                // Configuration problem: record the confirmation without money, loudly.
                tracing::error!(error = %e, issuance = issuance.id.0, "no fee for this issuance");
                Vec::new()
            }
        };
        let confirmation = self
            .store
            .confirm_download(issuance.id, now, &entries)
            .await
            .map_err(store_err)?;
        for e in &confirmation.inserted {
            self.metrics
                .inc("imeitrack_ledger_entries_total", "kind", e.kind.as_str());
        }
        // Claim 8: the manufacturer is owed a download confirmation. Recorded before the
        // ack (idempotent, so a redelivered report after a crash is harmless), then sent
        // in the background with retries; what is not sent stays owed for the next start.
        if issuance.source == KeySource::Manufacturer
            && let Some(manufacturer) = issuance.manufacturer.clone()
        {
            if report.device_key_id == 0 {
                tracing::warn!(
                    issuance = issuance.id.0,
                    "configured report names no key id: manufacturer cannot be told"
                );
            } else {
                let owed = OwedConfirmation {
                    issuance_id: issuance.id,
                    manufacturer,
                    device_key_id: report.device_key_id,
                    owed_at: now,
                    attempts: 0,
                    last_error: None,
                    sent_at: None,
                };
                if self
                    .store
                    .owe_manufacturer_confirmation(&owed)
                    .await
                    .map_err(store_err)?
                {
                    let this = self.clone();
                    tokio::spawn(async move { this.deliver_owed(vec![owed]).await });
                }
            }
        }
        Ok(())
    }
}

/// [`DeliverHandler`] on a shared pipeline.
#[derive(Debug, Clone)]
pub struct Handler(pub Arc<Pipeline>);

impl DeliverHandler for Handler {
    async fn on_deliver_sm(&self, sm: DeliveredSm) -> Result<(), HandlerError> {
        let p = &self.0;
        if p.draining.load(Ordering::SeqCst) {
            p.metrics
                .inc("imeitrack_deliver_sm_total", "status", "temporary_error");
            return Err(HandlerError("shutting down".into()));
        }
        let work = async {
            if sm.payload.starts_with(&registration::MAGIC) {
                p.on_registration(sm).await
            } else if sm.payload.starts_with(&confirmation::MAGIC) {
                p.on_report(sm).await
            } else {
                tracing::info!(source = %sm.source_addr, len = sm.payload.len(), "not a registration or report");
                p.metrics
                    .inc("imeitrack_deliver_sm_total", "status", "unknown_message");
                Ok(())
            }
        };
        let r = p.tracker.track_future(work).await;
        p.metrics.inc(
            "imeitrack_deliver_sm_total",
            "status",
            if r.is_ok() { "ok" } else { "temporary_error" },
        );
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::{Imsi, RegistrationKey};
    use applet::wire::registration::{EventKind, KeyId, RegistrationRepr};

    const KEY: [u8; 16] = [
        0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE,
        0xFF,
    ];

    /// The worked example of docs/registration.md §6 (ICCID 8949001012345678902).
    const WORKED: &str = "494D545201120203989400012143658709F2080910101032547698000000002A4A095124303257814309512430325701F13A25900910674118DA0A7FDBDB6380A7";

    /// EF.ICCID of 8944500100000000012 (Luhn-valid, docs/stub.md's CSV example).
    const EF_ICCID: [u8; 10] = [0x98, 0x44, 0x05, 0x10, 0x00, 0x00, 0x00, 0x00, 0x10, 0xF2];

    fn card() -> Card {
        Card {
            iccid: Iccid::parse("8944500100000000012").unwrap(),
            imsi: Imsi::parse("001010123456789").unwrap(),
            msisdn: None,
            key: RegistrationKey(KEY),
        }
    }

    /// The worked example with a Luhn-valid ICCID, signed by the codec.
    fn message(key_id: u8, counter: u64) -> Vec<u8> {
        let worked = hex::decode(WORKED).unwrap();
        let repr = RegistrationRepr {
            key_id: KeyId(key_id),
            event: EventKind(2),
            iccid: EF_ICCID,
            imsi: worked[18..27].try_into().unwrap(),
            counter,
            imei: worked[32..40].try_into().unwrap(),
            imeisv: Some(worked[40..49].try_into().unwrap()),
            previous_imei: Some(worked[49..57].try_into().unwrap()),
        };
        let mut buf = [0u8; 65];
        let n = repr.emit_signed(&KEY, &mut buf).unwrap();
        buf[..n].to_vec()
    }

    #[test]
    fn iccid_from_ef_iccid() {
        assert_eq!(
            iccid_digits(&[0x98, 0x94, 0x00, 0x01, 0x21, 0x43, 0x65, 0x87, 0x09, 0xF2]),
            "8949001012345678902"
        );
        assert_eq!(iccid_digits(&EF_ICCID), "8944500100000000012");
    }

    /// docs/registration.md §6's worked example, byte for byte, passes every check of
    /// the stub for a card 8949001012345678902 with the example's key.
    #[test]
    fn worked_example_verifies() {
        let raw = hex::decode(WORKED).unwrap();
        let card = Card {
            iccid: Iccid::parse("8949001012345678902").unwrap(),
            ..card()
        };
        let c = check_registration(&raw, Some(&card));
        assert_eq!(c.rejection, None, "{c:?}");
        assert!(matches!(
            c.verification,
            Verification::Verified { counter: 42, .. }
        ));
        // The old example's ICCID (…901) fails the E.118 Luhn check: refused as such.
        let mut old = raw.clone();
        old[17] = 0xF1;
        assert_eq!(
            check_registration(&old, Some(&card)).rejection,
            Some("iccid_invalid")
        );
    }

    #[test]
    fn signed_message_verifies() {
        let raw = message(0x12, 42);
        let c = check_registration(&raw, Some(&card()));
        assert_eq!(c.rejection, None);
        assert_eq!(c.imei.as_deref(), Some("490154203237518"));
        assert!(matches!(
            c.verification,
            Verification::Verified { counter: 42, .. }
        ));
    }

    #[test]
    fn rejections_have_reasons() {
        let raw = message(0x12, 42);
        // Unknown card.
        assert_eq!(
            check_registration(&raw, None).rejection,
            Some("unknown_card")
        );
        // Wrong key → bad MAC.
        let mut other = card();
        other.key = RegistrationKey([0; 16]);
        assert_eq!(
            check_registration(&raw, Some(&other)).rejection,
            Some("bad_mac")
        );
        // Flipped MAC bit.
        let mut bad = raw.clone();
        bad[64] ^= 1;
        assert_eq!(
            check_registration(&bad, Some(&card())).rejection,
            Some("bad_mac")
        );
        // IMEI check digit 8 → 9 (the structure check refuses it before the MAC).
        let mut wrong = raw.clone();
        wrong[39] = (wrong[39] & 0x0F) | 0x90;
        let c = check_registration(&wrong, Some(&card()));
        assert_eq!(c.rejection, Some("imei_check_digit"), "{c:?}");
        // Garbage.
        assert_eq!(
            check_registration(b"IMTR\x01", Some(&card())).rejection,
            Some("malformed")
        );
        // Key version 2.
        assert_eq!(
            check_registration(&message(0x22, 1), Some(&card())).rejection,
            Some("unknown_key_version")
        );
    }
}
