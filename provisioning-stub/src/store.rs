//! The store: every record the stub keeps, behind one async [`Store`] trait with two
//! implementations — [`SqliteStore`] (default, a file, nothing to install) and
//! [`PostgresStore`] (cargo feature `postgres`, several stub instances on one database).
//! [`AnyStore`] picks one from a `--database` URL.
//!
//! Guarantees are enforced by the database, so they hold across instances:
//! - replay protection: a registration is accepted only if its counter is strictly
//!   greater than the card's last accepted one; the check and the update are one SQL
//!   statement (compare-and-set) in the same transaction as the registration record;
//! - one key issuance per accepted registration (`UNIQUE (registration_id)`);
//! - exactly one ledger entry per (key issuance, kind) (`UNIQUE (issuance_id, kind)`,
//!   inserts with `ON CONFLICT DO NOTHING`; the caller learns which entries were new).
//!
//! Schema and design notes: `docs/stub.md` ("Store").

use std::future::Future;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::billing::{LedgerKind, NewLedgerEntry, Party};
use crate::devices::{DeviceModel, Imei, Tac};
use crate::inventory::{Card, Iccid};

mod schema;
pub mod sqlite;
pub mod testing;

#[cfg(feature = "postgres")]
pub mod postgres;

#[cfg(feature = "postgres")]
pub use postgres::PostgresStore;
pub use sqlite::{InlineOptions, SqliteStore, Synchronous};

/// Milliseconds since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// The current time from the system clock.
    pub fn now() -> Timestamp {
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        Timestamp(ms)
    }
}

/// Id of a stored registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RegistrationId(pub i64);

/// Id of a key issuance (the unit of billing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IssuanceId(pub i64);

/// Id of a recorded delivery (OMA CP push sent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DeliveryId(pub i64);

/// Id of a ledger entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LedgerEntryId(pub i64);

/// Result of an import.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ImportSummary {
    /// Rows that were new.
    pub inserted: u64,
    /// Rows that replaced an existing one with the same key (ICCID or TAC).
    pub updated: u64,
}

/// A card with its replay-protection state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardRecord {
    /// The inventory data.
    pub card: Card,
    /// The highest accepted registration counter, `None` before the first.
    pub last_counter: Option<u64>,
}

/// A TAC seen in a registration but absent from the device database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownTac {
    /// The TAC.
    pub tac: Tac,
    /// First sighting.
    pub first_seen: Timestamp,
    /// Latest sighting.
    pub last_seen: Timestamp,
    /// Number of sightings.
    pub count: u64,
    /// The IMEI of the latest sighting.
    pub last_imei: String,
}

/// What verification concluded about a received registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    /// MAC verified under the card's key; the counter still has to pass replay check.
    Verified {
        /// The card.
        iccid: Iccid,
        /// The registration counter carried by the message.
        counter: u64,
    },
    /// Refused before the counter check (bad MAC, unknown card, bad IMEI, parse error…).
    Rejected {
        /// The card, if the message named one.
        iccid: Option<Iccid>,
        /// The counter, if it could be read.
        counter: Option<u64>,
        /// Why.
        reason: String,
    },
}

/// A received registration, to be recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRegistration {
    /// When it arrived.
    pub received_at: Timestamp,
    /// Originating address (the SMPP `source_addr`).
    pub source_addr: String,
    /// The registration message bytes as received.
    pub raw: Vec<u8>,
    /// The IMEI it carried, if readable (digits).
    pub imei: Option<String>,
    /// Verification result.
    pub verification: Verification,
}

/// What the store decided about a registration (the row is stored in every case).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistrationOutcome {
    /// Counter accepted; the card's counter now equals it.
    Accepted(RegistrationId),
    /// The same message (same card, counter and bytes) was already accepted as
    /// `original` (e.g. an SMSC redelivery): acknowledge, don't process again.
    Duplicate {
        /// This receipt's row.
        id: RegistrationId,
        /// The accepted row.
        original: RegistrationId,
    },
    /// Counter not greater than the last accepted one: a replay.
    Replay {
        /// This receipt's row.
        id: RegistrationId,
        /// The card's last accepted counter.
        last_counter: u64,
    },
    /// Refused (verification failed, or a verified card is not in the inventory).
    Rejected(RegistrationId),
}

impl RegistrationOutcome {
    /// The id of the row recorded for this receipt.
    pub fn id(self) -> RegistrationId {
        match self {
            RegistrationOutcome::Accepted(id)
            | RegistrationOutcome::Rejected(id)
            | RegistrationOutcome::Duplicate { id, .. }
            | RegistrationOutcome::Replay { id, .. } => id,
        }
    }
}

/// A stored registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationRecord {
    /// Id.
    pub id: RegistrationId,
    /// Arrival time.
    pub received_at: Timestamp,
    /// Originating address.
    pub source_addr: String,
    /// Raw bytes.
    pub raw: Vec<u8>,
    /// The card, if known.
    pub iccid: Option<String>,
    /// The IMEI, if readable.
    pub imei: Option<String>,
    /// The counter, if readable.
    pub counter: Option<u64>,
    /// `accepted`, `duplicate`, `replay` or `rejected`.
    pub outcome: String,
    /// Why it was not accepted.
    pub reason: Option<String>,
}

/// Where a device key came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeySource {
    /// The operator's local key store (FIG. 2/5A).
    Local,
    /// Fetched from the manufacturer's key server (FIG. 4/5B).
    Manufacturer,
}

impl KeySource {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            KeySource::Local => "local",
            KeySource::Manufacturer => "manufacturer",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<KeySource> {
        match s {
            "local" => Some(KeySource::Local),
            "manufacturer" => Some(KeySource::Manufacturer),
            _ => None,
        }
    }
}

/// A device key issued for a registration, to be recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewIssuance {
    /// The accepted registration it answers (at most one issuance per registration).
    pub registration_id: Option<RegistrationId>,
    /// The card.
    pub iccid: String,
    /// The device.
    pub imei: String,
    /// The operator to bill (policy's operator for the IMSI).
    pub operator: Option<String>,
    /// The device's manufacturer, if the TAC is known.
    pub manufacturer: Option<String>,
    /// Where the key came from.
    pub source: KeySource,
    /// When.
    pub issued_at: Timestamp,
}

/// A recorded key issuance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issuance {
    /// Id.
    pub id: IssuanceId,
    /// See [`NewIssuance`].
    pub registration_id: Option<RegistrationId>,
    /// The card.
    pub iccid: String,
    /// The device.
    pub imei: String,
    /// Operator to bill.
    pub operator: Option<String>,
    /// Manufacturer.
    pub manufacturer: Option<String>,
    /// Key source.
    pub source: KeySource,
    /// When.
    pub issued_at: Timestamp,
}

/// A provisioning message sent towards a handset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDelivery {
    /// The registration it answers.
    pub registration_id: RegistrationId,
    /// The key issuance it carries (none for standard settings).
    pub issuance_id: Option<IssuanceId>,
    /// Destination address (MSISDN).
    pub destination: String,
    /// When it was handed to the SMSC.
    pub sent_at: Timestamp,
    /// SMSC message ids of the parts (`submit_sm_resp`).
    pub message_ids: Vec<String>,
}

/// Where provisioning of an accepted registration stopped (table
/// `provisioning_failures`; the registration itself stays `accepted`, its counter used).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureStage {
    /// The policy refused the device (`unknown_tac = "reject"`) or its inputs were bad.
    Policy,
    /// No device key could be obtained (no source configured, manufacturer unreachable,
    /// certificate wrong, answer invalid…).
    Key,
    /// The OMA CP document or push could not be built.
    Payload,
    /// The SMSC did not take the push.
    Submit,
    /// The handset reported that it refused the settings (IMTC report).
    Handset,
}

impl FailureStage {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureStage::Policy => "policy",
            FailureStage::Key => "key",
            FailureStage::Payload => "payload",
            FailureStage::Submit => "submit",
            FailureStage::Handset => "handset",
        }
    }
}

/// A recorded provisioning failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisioningFailure {
    /// The accepted registration whose provisioning failed.
    pub registration_id: RegistrationId,
    /// Where.
    pub stage: String,
    /// Why.
    pub reason: String,
    /// When.
    pub at: Timestamp,
}

/// A stored ledger entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    /// Id.
    pub id: LedgerEntryId,
    /// The key issuance.
    pub issuance_id: IssuanceId,
    /// Kind.
    pub kind: LedgerKind,
    /// Counterparty.
    pub party: Party,
    /// Minor units.
    pub amount_minor: i64,
    /// ISO 4217.
    pub currency: String,
    /// When.
    pub at: Timestamp,
}

/// Result of [`Store::confirm_download`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirmation {
    /// True for the first confirmation of this issuance (false for a repeat).
    pub first: bool,
    /// The ledger entries this call inserted (entries already present are left alone).
    pub inserted: Vec<LedgerEntry>,
}

/// A download confirmation owed to a manufacturer's key server (claim 8): recorded when
/// the handset confirms a manufacturer key, marked sent once the server took it, so a
/// crash between the two is healed by resending (table `manufacturer_confirmations`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwedConfirmation {
    /// The key issuance confirmed (one owed confirmation per issuance).
    pub issuance_id: IssuanceId,
    /// The manufacturer whose key server is told.
    pub manufacturer: String,
    /// The manufacturer's key id (from the handset's report).
    pub device_key_id: u64,
    /// When it became owed.
    pub owed_at: Timestamp,
    /// Failed sending attempts so far.
    pub attempts: u32,
    /// The last error, if an attempt failed.
    pub last_error: Option<String>,
    /// When the manufacturer took it (`None`: still owed).
    pub sent_at: Option<Timestamp>,
}

/// Store errors.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed.
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL failed.
    #[cfg(feature = "postgres")]
    #[error("PostgreSQL: {}", postgres::describe(.0))]
    Postgres(#[from] tokio_postgres::Error),
    /// The `--database` value is not usable.
    #[error("database {url:?}: {message}")]
    Url {
        /// The value given.
        url: String,
        /// Why.
        message: String,
    },
    /// A row holds a value this code cannot read.
    #[error("corrupt value in table {table}: {message}")]
    Corrupt {
        /// Table.
        table: &'static str,
        /// What.
        message: String,
    },
    /// A referenced record does not exist.
    #[error("{0}")]
    NotFound(String),
    /// A value does not fit the schema (e.g. a counter above 2^63−1).
    #[error("{0}")]
    Invalid(String),
    /// The blocking task running a SQLite call failed.
    #[error("store task: {0}")]
    Task(String),
}

/// Store result.
pub type Result<T> = std::result::Result<T, StoreError>;

/// Everything the stub persists. Every method is one transaction: when its future
/// resolves `Ok`, the change is durable (SQLite `synchronous=FULL` in WAL mode;
/// PostgreSQL commit).
///
/// Futures are `Send`, so a tokio server can use any implementation from spawned tasks.
/// The trait is used generically (`S: Store`) or through [`AnyStore`].
pub trait Store: Send + Sync {
    /// Inserts or replaces cards by ICCID, all or nothing. A replaced card keeps its last
    /// accepted counter.
    fn import_cards(&self, cards: &[Card]) -> impl Future<Output = Result<ImportSummary>> + Send;

    /// A card and its counter state.
    fn card(&self, iccid: &Iccid) -> impl Future<Output = Result<Option<CardRecord>>> + Send;

    /// Inserts or replaces device models by TAC, all or nothing.
    fn import_devices(
        &self,
        devices: &[DeviceModel],
    ) -> impl Future<Output = Result<ImportSummary>> + Send;

    /// The device database row for a TAC.
    fn device(&self, tac: &Tac) -> impl Future<Output = Result<Option<DeviceModel>>> + Send;

    /// Notes a sighting of a TAC that the device database lacks.
    fn record_unknown_tac(
        &self,
        imei: &Imei,
        at: Timestamp,
    ) -> impl Future<Output = Result<()>> + Send;

    /// All unknown TACs seen, by TAC.
    fn unknown_tacs(&self) -> impl Future<Output = Result<Vec<UnknownTac>>> + Send;

    /// Records a received registration and, for a verified one, applies the replay check
    /// as a compare-and-set on the card's counter in the same transaction.
    fn record_registration(
        &self,
        registration: &NewRegistration,
    ) -> impl Future<Output = Result<RegistrationOutcome>> + Send;

    /// A stored registration.
    fn registration(
        &self,
        id: RegistrationId,
    ) -> impl Future<Output = Result<Option<RegistrationRecord>>> + Send;

    /// Records a key issuance. Idempotent per registration: a second call for the same
    /// registration returns the first issuance unchanged.
    fn record_issuance(
        &self,
        issuance: &NewIssuance,
    ) -> impl Future<Output = Result<Issuance>> + Send;

    /// A key issuance.
    fn issuance(&self, id: IssuanceId) -> impl Future<Output = Result<Option<Issuance>>> + Send;

    /// Records a provisioning message handed to the SMSC.
    fn record_delivery(
        &self,
        delivery: &NewDelivery,
    ) -> impl Future<Output = Result<DeliveryId>> + Send;

    /// Whether a provisioning message was recorded as handed to the SMSC for this
    /// registration ([`Store::record_delivery`]).
    fn delivered(
        &self,
        registration_id: RegistrationId,
    ) -> impl Future<Output = Result<bool>> + Send;

    /// Records the handset's confirmation of a key issuance together with the ledger
    /// entries it triggers (from [`crate::billing::on_download_confirmed`]), in one
    /// transaction. Repeats are harmless: only missing entries are inserted.
    fn confirm_download(
        &self,
        issuance_id: IssuanceId,
        at: Timestamp,
        entries: &[NewLedgerEntry],
    ) -> impl Future<Output = Result<Confirmation>> + Send;

    /// Inserts ledger entries, each at most once per (issuance, kind); returns the ones
    /// this call inserted. All in one transaction.
    fn record_ledger(
        &self,
        entries: &[NewLedgerEntry],
    ) -> impl Future<Output = Result<Vec<LedgerEntry>>> + Send;

    /// The ledger entries of one issuance, by kind.
    fn ledger_for_issuance(
        &self,
        issuance_id: IssuanceId,
    ) -> impl Future<Output = Result<Vec<LedgerEntry>>> + Send;

    /// Ledger entries with `from <= at < to`, by time then id.
    fn ledger_between(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> impl Future<Output = Result<Vec<LedgerEntry>>> + Send;

    /// Records why provisioning of an accepted registration stopped.
    fn record_failure(
        &self,
        failure: &ProvisioningFailure,
    ) -> impl Future<Output = Result<()>> + Send;

    /// The failures recorded for a registration, oldest first.
    fn failures(
        &self,
        registration_id: RegistrationId,
    ) -> impl Future<Output = Result<Vec<ProvisioningFailure>>> + Send;

    /// The accepted registration of a card with this counter, and its key issuance if
    /// one was recorded (a handset's confirmation names the registration this way).
    fn accepted_registration(
        &self,
        iccid: &Iccid,
        counter: u64,
    ) -> impl Future<Output = Result<Option<(RegistrationId, Option<Issuance>)>>> + Send;

    /// One ledger entry by id (an operator's payment may name the fee request it settles).
    fn ledger_entry(
        &self,
        id: LedgerEntryId,
    ) -> impl Future<Output = Result<Option<LedgerEntry>>> + Send;

    /// Records that the manufacturer is owed a download confirmation for this issuance
    /// (`attempts`, `last_error`, `sent_at` of the argument are ignored). Idempotent: `true`
    /// only when this call created the record; a repeat (also after it was sent) changes
    /// nothing.
    fn owe_manufacturer_confirmation(
        &self,
        owed: &OwedConfirmation,
    ) -> impl Future<Output = Result<bool>> + Send;

    /// Owed confirmations not sent yet, oldest first.
    fn pending_manufacturer_confirmations(
        &self,
    ) -> impl Future<Output = Result<Vec<OwedConfirmation>>> + Send;

    /// The owed confirmation of an issuance, sent or not.
    fn manufacturer_confirmation(
        &self,
        issuance_id: IssuanceId,
    ) -> impl Future<Output = Result<Option<OwedConfirmation>>> + Send;

    /// Records a sending attempt: `error = None` marks it sent (first success wins),
    /// otherwise counts a failed attempt with its error.
    fn manufacturer_confirmation_attempt(
        &self,
        issuance_id: IssuanceId,
        at: Timestamp,
        error: Option<String>,
    ) -> impl Future<Output = Result<()>> + Send;
}

/// A store chosen at run time from a `--database` value.
#[derive(Clone)]
pub enum AnyStore {
    /// SQLite file.
    Sqlite(SqliteStore),
    /// PostgreSQL.
    #[cfg(feature = "postgres")]
    Postgres(PostgresStore),
}

impl AnyStore {
    /// Opens (and migrates) the store named by `url`: `postgres://…` or
    /// `postgresql://…` for PostgreSQL; `sqlite:PATH`, `sqlite://PATH` or a plain path
    /// for a SQLite file (created if missing).
    pub async fn open(url: &str) -> Result<AnyStore> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            #[cfg(feature = "postgres")]
            {
                return Ok(AnyStore::Postgres(PostgresStore::connect(url).await?));
            }
            #[cfg(not(feature = "postgres"))]
            {
                return Err(StoreError::Url {
                    url: url.to_owned(),
                    message: "built without the `postgres` feature".to_owned(),
                });
            }
        }
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .unwrap_or(url);
        if path.is_empty() || path.contains("://") {
            return Err(StoreError::Url {
                url: url.to_owned(),
                message: "expected postgres://…, sqlite:PATH or a file path".to_owned(),
            });
        }
        Ok(AnyStore::Sqlite(SqliteStore::open(path).await?))
    }
}

macro_rules! dispatch {
    ($self:ident, $s:ident => $call:expr) => {
        match $self {
            AnyStore::Sqlite($s) => $call.await,
            #[cfg(feature = "postgres")]
            AnyStore::Postgres($s) => $call.await,
        }
    };
}

impl Store for AnyStore {
    async fn import_cards(&self, cards: &[Card]) -> Result<ImportSummary> {
        dispatch!(self, s => s.import_cards(cards))
    }
    async fn card(&self, iccid: &Iccid) -> Result<Option<CardRecord>> {
        dispatch!(self, s => s.card(iccid))
    }
    async fn import_devices(&self, devices: &[DeviceModel]) -> Result<ImportSummary> {
        dispatch!(self, s => s.import_devices(devices))
    }
    async fn device(&self, tac: &Tac) -> Result<Option<DeviceModel>> {
        dispatch!(self, s => s.device(tac))
    }
    async fn record_unknown_tac(&self, imei: &Imei, at: Timestamp) -> Result<()> {
        dispatch!(self, s => s.record_unknown_tac(imei, at))
    }
    async fn unknown_tacs(&self) -> Result<Vec<UnknownTac>> {
        dispatch!(self, s => s.unknown_tacs())
    }
    async fn record_registration(&self, r: &NewRegistration) -> Result<RegistrationOutcome> {
        dispatch!(self, s => s.record_registration(r))
    }
    async fn registration(&self, id: RegistrationId) -> Result<Option<RegistrationRecord>> {
        dispatch!(self, s => s.registration(id))
    }
    async fn record_issuance(&self, i: &NewIssuance) -> Result<Issuance> {
        dispatch!(self, s => s.record_issuance(i))
    }
    async fn issuance(&self, id: IssuanceId) -> Result<Option<Issuance>> {
        dispatch!(self, s => s.issuance(id))
    }
    async fn record_delivery(&self, d: &NewDelivery) -> Result<DeliveryId> {
        dispatch!(self, s => s.record_delivery(d))
    }
    async fn delivered(&self, id: RegistrationId) -> Result<bool> {
        dispatch!(self, s => s.delivered(id))
    }
    async fn confirm_download(
        &self,
        issuance_id: IssuanceId,
        at: Timestamp,
        entries: &[NewLedgerEntry],
    ) -> Result<Confirmation> {
        dispatch!(self, s => s.confirm_download(issuance_id, at, entries))
    }
    async fn record_ledger(&self, entries: &[NewLedgerEntry]) -> Result<Vec<LedgerEntry>> {
        dispatch!(self, s => s.record_ledger(entries))
    }
    async fn ledger_for_issuance(&self, id: IssuanceId) -> Result<Vec<LedgerEntry>> {
        dispatch!(self, s => s.ledger_for_issuance(id))
    }
    async fn ledger_between(&self, from: Timestamp, to: Timestamp) -> Result<Vec<LedgerEntry>> {
        dispatch!(self, s => s.ledger_between(from, to))
    }
    async fn record_failure(&self, f: &ProvisioningFailure) -> Result<()> {
        dispatch!(self, s => s.record_failure(f))
    }
    async fn failures(&self, id: RegistrationId) -> Result<Vec<ProvisioningFailure>> {
        dispatch!(self, s => s.failures(id))
    }
    async fn accepted_registration(
        &self,
        iccid: &Iccid,
        counter: u64,
    ) -> Result<Option<(RegistrationId, Option<Issuance>)>> {
        dispatch!(self, s => s.accepted_registration(iccid, counter))
    }
    async fn ledger_entry(&self, id: LedgerEntryId) -> Result<Option<LedgerEntry>> {
        dispatch!(self, s => s.ledger_entry(id))
    }
    async fn owe_manufacturer_confirmation(&self, owed: &OwedConfirmation) -> Result<bool> {
        dispatch!(self, s => s.owe_manufacturer_confirmation(owed))
    }
    async fn pending_manufacturer_confirmations(&self) -> Result<Vec<OwedConfirmation>> {
        dispatch!(self, s => s.pending_manufacturer_confirmations())
    }
    async fn manufacturer_confirmation(
        &self,
        issuance_id: IssuanceId,
    ) -> Result<Option<OwedConfirmation>> {
        dispatch!(self, s => s.manufacturer_confirmation(issuance_id))
    }
    async fn manufacturer_confirmation_attempt(
        &self,
        issuance_id: IssuanceId,
        at: Timestamp,
        error: Option<String>,
    ) -> Result<()> {
        dispatch!(self, s => s.manufacturer_confirmation_attempt(issuance_id, at, error))
    }
}

/// Column list matching [`owed_from_parts`].
pub(crate) const OWED_COLUMNS: &str = "issuance_id, manufacturer, device_key_id, owed_at, \
     attempts, last_error, sent_at";

/// Rebuilds an owed confirmation from its columns (the key id is stored as the i64 with
/// the same bits).
pub(crate) fn owed_from_parts(
    issuance_id: i64,
    manufacturer: String,
    device_key_id: i64,
    owed_at: i64,
    attempts: i64,
    last_error: Option<String>,
    sent_at: Option<i64>,
) -> OwedConfirmation {
    OwedConfirmation {
        issuance_id: IssuanceId(issuance_id),
        manufacturer,
        device_key_id: device_key_id as u64,
        owed_at: Timestamp(owed_at),
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
        last_error,
        sent_at: sent_at.map(Timestamp),
    }
}

/// Converts a counter for storage (BIGINT).
pub(crate) fn counter_to_sql(c: u64) -> Result<i64> {
    i64::try_from(c).map_err(|_| StoreError::Invalid(format!("counter {c} exceeds 2^63-1")))
}

/// Reads a stored counter.
pub(crate) fn counter_from_sql(table: &'static str, c: i64) -> Result<u64> {
    u64::try_from(c).map_err(|_| StoreError::Corrupt {
        table,
        message: format!("negative counter {c}"),
    })
}

/// The columns of a verified/rejected registration: (iccid, counter, outcome hint).
pub(crate) fn registration_parts(v: &Verification) -> (Option<&Iccid>, Option<u64>) {
    match v {
        Verification::Verified { iccid, counter } => (Some(iccid), Some(*counter)),
        Verification::Rejected { iccid, counter, .. } => (iccid.as_ref(), *counter),
    }
}

// ---- row decoding shared by both backends -------------------------------------------

fn corrupt(table: &'static str, message: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        table,
        message: message.into(),
    }
}

pub(crate) fn card_from_parts(
    iccid: String,
    imsi: String,
    msisdn: Option<String>,
    key: Vec<u8>,
    last_counter: Option<i64>,
) -> Result<CardRecord> {
    use crate::inventory::{Imsi, Msisdn, RegistrationKey};
    let key: [u8; 16] = key
        .try_into()
        .map_err(|_| corrupt("cards", "registration key is not 16 bytes"))?;
    Ok(CardRecord {
        card: Card {
            iccid: Iccid::parse(&iccid).map_err(|m| corrupt("cards", m))?,
            imsi: Imsi::parse(&imsi).map_err(|m| corrupt("cards", m))?,
            msisdn: msisdn
                .map(|m| Msisdn::parse(&m))
                .transpose()
                .map_err(|m| corrupt("cards", m))?,
            key: RegistrationKey(key),
        },
        last_counter: last_counter
            .map(|c| counter_from_sql("cards", c))
            .transpose()?,
    })
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn device_from_parts(
    tac: String,
    manufacturer: String,
    make: String,
    model: String,
    release_date: Option<String>,
    camera: Option<bool>,
    screen: String,
    bands: String,
) -> Result<DeviceModel> {
    use crate::devices::Date;
    Ok(DeviceModel {
        tac: Tac::parse(&tac).map_err(|m| corrupt("devices", m))?,
        manufacturer,
        make,
        model,
        release_date: release_date
            .map(|d| Date::parse(&d))
            .transpose()
            .map_err(|m| corrupt("devices", m))?,
        camera,
        screen,
        bands: bands
            .split(';')
            .filter(|b| !b.is_empty())
            .map(str::to_owned)
            .collect(),
    })
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn issuance_from_parts(
    id: i64,
    registration_id: Option<i64>,
    iccid: String,
    imei: String,
    operator: Option<String>,
    manufacturer: Option<String>,
    source: String,
    issued_at: i64,
) -> Result<Issuance> {
    Ok(Issuance {
        id: IssuanceId(id),
        registration_id: registration_id.map(RegistrationId),
        iccid,
        imei,
        operator,
        manufacturer,
        source: KeySource::parse(&source)
            .ok_or_else(|| corrupt("key_issuances", format!("key source {source:?}")))?,
        issued_at: Timestamp(issued_at),
    })
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn ledger_from_parts(
    id: i64,
    issuance_id: i64,
    kind: String,
    party_kind: String,
    party: String,
    amount_minor: i64,
    currency: String,
    at: i64,
) -> Result<LedgerEntry> {
    Ok(LedgerEntry {
        id: LedgerEntryId(id),
        issuance_id: IssuanceId(issuance_id),
        kind: LedgerKind::parse(&kind)
            .ok_or_else(|| corrupt("ledger", format!("kind {kind:?}")))?,
        party: Party::from_parts(&party_kind, party)
            .ok_or_else(|| corrupt("ledger", format!("party kind {party_kind:?}")))?,
        amount_minor,
        currency,
        at: Timestamp(at),
    })
}

/// Column list matching [`ledger_from_parts`].
pub(crate) const LEDGER_COLUMNS: &str =
    "id, issuance_id, kind, party_kind, party, amount_minor, currency, recorded_at";

/// Column list matching [`issuance_from_parts`].
pub(crate) const ISSUANCE_COLUMNS: &str =
    "id, registration_id, iccid, imei, operator, manufacturer, source, issued_at";

/// Column list matching [`device_from_parts`].
pub(crate) const DEVICE_COLUMNS: &str =
    "tac, manufacturer, make, model, release_date, camera, screen, bands";

/// Entries passed with an issuance must belong to it.
pub(crate) fn check_entries(issuance_id: IssuanceId, entries: &[NewLedgerEntry]) -> Result<()> {
    match entries.iter().find(|e| e.issuance_id != issuance_id) {
        Some(e) => Err(StoreError::Invalid(format!(
            "ledger entry for issuance {} passed with issuance {}",
            e.issuance_id.0, issuance_id.0
        ))),
        None => Ok(()),
    }
}

/// What the replay check decided, before the row id is known.
pub(crate) enum Pending {
    Accepted,
    Duplicate(RegistrationId),
    Replay(u64),
    Rejected,
}

impl Pending {
    pub(crate) fn finish(self, id: RegistrationId) -> RegistrationOutcome {
        match self {
            Pending::Accepted => RegistrationOutcome::Accepted(id),
            Pending::Duplicate(original) => RegistrationOutcome::Duplicate { id, original },
            Pending::Replay(last_counter) => RegistrationOutcome::Replay { id, last_counter },
            Pending::Rejected => RegistrationOutcome::Rejected(id),
        }
    }
}
