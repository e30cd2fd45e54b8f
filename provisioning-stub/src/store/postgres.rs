//! [`Store`] on PostgreSQL (tokio-postgres), for several stub instances on one database.
//!
//! Every method is one transaction at READ COMMITTED. The guarantees do not depend on
//! the isolation level: the counter check is a conditional `UPDATE` (a second writer
//! waits for the first one's row lock, then re-evaluates the condition against the
//! committed row and updates nothing), and ledger/issuance/confirmation inserts use
//! `ON CONFLICT DO NOTHING` on unique constraints. Migrations run under a transaction-
//! scoped advisory lock so two instances starting together do not both apply them.
//!
//! A handle holds one connection behind an async mutex (calls from one handle are
//! serialised); open several handles for parallelism.

use std::sync::Arc;

use tokio::sync::Mutex;
use tokio_postgres::{Client, GenericClient, NoTls, Row};

use super::schema::{Migration, POSTGRES};
use super::{
    CardRecord, Confirmation, DEVICE_COLUMNS, DeliveryId, ISSUANCE_COLUMNS, ImportSummary,
    Issuance, IssuanceId, LEDGER_COLUMNS, LedgerEntry, LedgerEntryId, NewDelivery, NewIssuance,
    NewRegistration, RegistrationId, RegistrationRecord, Result, Store, StoreError, Timestamp,
    UnknownTac, Verification, card_from_parts, counter_from_sql, counter_to_sql, device_from_parts,
    issuance_from_parts, ledger_from_parts, registration_parts,
};
use super::{
    OWED_COLUMNS, OwedConfirmation, Pending, ProvisioningFailure, RegistrationOutcome,
    check_entries, owed_from_parts,
};
use crate::billing::NewLedgerEntry;
use crate::devices::{DeviceModel, Imei, Tac};
use crate::inventory::{Card, Iccid};

/// Advisory lock key taken while migrating (ASCII "imeitrk" as an integer).
const MIGRATION_LOCK: i64 = 0x0069_6d65_6974_726b;

/// A PostgreSQL store handle; clones share one connection.
#[derive(Clone)]
pub struct PostgresStore {
    client: Arc<Mutex<Client>>,
}

/// Formats a tokio-postgres error with the server's SQLSTATE and message when present.
pub(crate) fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => match std::error::Error::source(e) {
            Some(src) => format!("{e}: {src}"),
            None => e.to_string(),
        },
    }
}

impl PostgresStore {
    /// Connects (no TLS; use a local socket or loopback, or put TLS in front) and applies
    /// pending migrations.
    pub async fn connect(url: &str) -> Result<PostgresStore> {
        let (mut client, connection) = tokio_postgres::connect(url, NoTls).await?;
        tokio::spawn(async move {
            // The error, if any, surfaces on the next call through the client.
            let _ = connection.await;
        });
        migrate(&mut client, POSTGRES).await?;
        Ok(PostgresStore {
            client: Arc::new(Mutex::new(client)),
        })
    }

    /// The schema version of the connected database.
    pub async fn schema_version(&self) -> Result<i64> {
        let c = self.client.lock().await;
        let row = c
            .query_one(
                "SELECT COALESCE(MAX(version), 0)::BIGINT FROM schema_migrations",
                &[],
            )
            .await?;
        Ok(row.try_get(0)?)
    }
}

async fn migrate(client: &mut Client, migrations: &[Migration]) -> Result<()> {
    let tx = client.transaction().await?;
    tx.batch_execute(&format!("SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"))
        .await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
    )
    .await?;
    let current: i64 = tx
        .query_one(
            "SELECT COALESCE(MAX(version), 0)::BIGINT FROM schema_migrations",
            &[],
        )
        .await?
        .try_get(0)?;
    let latest = migrations.last().map_or(0, |m| m.0);
    if current > latest {
        return Err(StoreError::Invalid(format!(
            "database schema version {current} is newer than this program's ({latest})"
        )));
    }
    for (version, name, sql) in migrations.iter().filter(|m| m.0 > current) {
        tx.batch_execute(sql).await?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
            &[version, name, &Timestamp::now().0],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

fn owed_row(r: &Row) -> Result<OwedConfirmation> {
    Ok(owed_from_parts(
        r.try_get(0)?,
        r.try_get(1)?,
        r.try_get(2)?,
        r.try_get(3)?,
        r.try_get(4)?,
        r.try_get(5)?,
        r.try_get(6)?,
    ))
}

fn ledger_row(r: &Row) -> Result<LedgerEntry> {
    ledger_from_parts(
        r.try_get(0)?,
        r.try_get(1)?,
        r.try_get(2)?,
        r.try_get(3)?,
        r.try_get(4)?,
        r.try_get(5)?,
        r.try_get(6)?,
        r.try_get(7)?,
    )
}

async fn issuance_row(c: &impl GenericClient, filter: &str, key: i64) -> Result<Option<Issuance>> {
    let row = c
        .query_opt(
            &format!("SELECT {ISSUANCE_COLUMNS} FROM key_issuances WHERE {filter}"),
            &[&key],
        )
        .await?;
    row.map(|r| {
        issuance_from_parts(
            r.try_get(0)?,
            r.try_get(1)?,
            r.try_get(2)?,
            r.try_get(3)?,
            r.try_get(4)?,
            r.try_get(5)?,
            r.try_get(6)?,
            r.try_get(7)?,
        )
    })
    .transpose()
}

async fn insert_ledger(
    tx: &impl GenericClient,
    entries: &[NewLedgerEntry],
) -> Result<Vec<LedgerEntry>> {
    let mut inserted = Vec::new();
    for e in entries {
        let row = tx
            .query_opt(
                "INSERT INTO ledger
                     (issuance_id, kind, party_kind, party, amount_minor, currency, recorded_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (issuance_id, kind) DO NOTHING
                 RETURNING id",
                &[
                    &e.issuance_id.0,
                    &e.kind.as_str(),
                    &e.party.kind_str(),
                    &e.party.name(),
                    &e.amount_minor,
                    &e.currency,
                    &e.at.0,
                ],
            )
            .await?;
        if let Some(row) = row {
            inserted.push(LedgerEntry {
                id: LedgerEntryId(row.try_get(0)?),
                issuance_id: e.issuance_id,
                kind: e.kind,
                party: e.party.clone(),
                amount_minor: e.amount_minor,
                currency: e.currency.clone(),
                at: e.at,
            });
        }
    }
    Ok(inserted)
}

impl Store for PostgresStore {
    async fn import_cards(&self, cards: &[Card]) -> Result<ImportSummary> {
        let now = Timestamp::now().0;
        let mut c = self.client.lock().await;
        let tx = c.transaction().await?;
        let mut summary = ImportSummary::default();
        for card in cards {
            let row = tx
                .query_one(
                    "INSERT INTO cards (iccid, imsi, msisdn, reg_key, last_counter, imported_at)
                     VALUES ($1, $2, $3, $4, NULL, $5)
                     ON CONFLICT (iccid) DO UPDATE SET imsi = excluded.imsi,
                         msisdn = excluded.msisdn, reg_key = excluded.reg_key,
                         imported_at = excluded.imported_at
                     RETURNING (xmax = 0)",
                    &[
                        &card.iccid.as_str(),
                        &card.imsi.as_str(),
                        &card.msisdn.as_ref().map(|m| m.as_str()),
                        &&card.key.0[..],
                        &now,
                    ],
                )
                .await?;
            if row.try_get::<_, bool>(0)? {
                summary.inserted += 1;
            } else {
                summary.updated += 1;
            }
        }
        tx.commit().await?;
        Ok(summary)
    }

    async fn card(&self, iccid: &Iccid) -> Result<Option<CardRecord>> {
        let c = self.client.lock().await;
        let row = c
            .query_opt(
                "SELECT iccid, imsi, msisdn, reg_key, last_counter FROM cards WHERE iccid = $1",
                &[&iccid.as_str()],
            )
            .await?;
        row.map(|r| {
            card_from_parts(
                r.try_get(0)?,
                r.try_get(1)?,
                r.try_get(2)?,
                r.try_get(3)?,
                r.try_get(4)?,
            )
        })
        .transpose()
    }

    async fn import_devices(&self, devices: &[DeviceModel]) -> Result<ImportSummary> {
        let now = Timestamp::now().0;
        let mut c = self.client.lock().await;
        let tx = c.transaction().await?;
        let mut summary = ImportSummary::default();
        for d in devices {
            let row = tx
                .query_one(
                    "INSERT INTO devices (tac, manufacturer, make, model, release_date, camera,
                                          screen, bands, imported_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                     ON CONFLICT (tac) DO UPDATE SET manufacturer = excluded.manufacturer,
                         make = excluded.make, model = excluded.model,
                         release_date = excluded.release_date, camera = excluded.camera,
                         screen = excluded.screen, bands = excluded.bands,
                         imported_at = excluded.imported_at
                     RETURNING (xmax = 0)",
                    &[
                        &d.tac.as_str(),
                        &d.manufacturer,
                        &d.make,
                        &d.model,
                        &d.release_date.map(|r| r.to_string()),
                        &d.camera,
                        &d.screen,
                        &d.bands.join(";"),
                        &now,
                    ],
                )
                .await?;
            if row.try_get::<_, bool>(0)? {
                summary.inserted += 1;
            } else {
                summary.updated += 1;
            }
        }
        tx.commit().await?;
        Ok(summary)
    }

    async fn device(&self, tac: &Tac) -> Result<Option<DeviceModel>> {
        let c = self.client.lock().await;
        let row = c
            .query_opt(
                &format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE tac = $1"),
                &[&tac.as_str()],
            )
            .await?;
        row.map(|r| {
            device_from_parts(
                r.try_get(0)?,
                r.try_get(1)?,
                r.try_get(2)?,
                r.try_get(3)?,
                r.try_get(4)?,
                r.try_get(5)?,
                r.try_get(6)?,
                r.try_get(7)?,
            )
        })
        .transpose()
    }

    async fn record_unknown_tac(&self, imei: &Imei, at: Timestamp) -> Result<()> {
        let c = self.client.lock().await;
        c.execute(
            "INSERT INTO unknown_tacs (tac, first_seen, last_seen, seen_count, last_imei)
             VALUES ($1, $2, $2, 1, $3)
             ON CONFLICT (tac) DO UPDATE SET
                 first_seen = LEAST(unknown_tacs.first_seen, excluded.first_seen),
                 last_seen = GREATEST(unknown_tacs.last_seen, excluded.last_seen),
                 seen_count = unknown_tacs.seen_count + 1,
                 last_imei = excluded.last_imei",
            &[&imei.tac().as_str(), &at.0, &imei.as_str()],
        )
        .await?;
        Ok(())
    }

    async fn unknown_tacs(&self) -> Result<Vec<UnknownTac>> {
        let c = self.client.lock().await;
        let rows = c
            .query(
                "SELECT tac, first_seen, last_seen, seen_count, last_imei
                 FROM unknown_tacs ORDER BY tac",
                &[],
            )
            .await?;
        rows.iter()
            .map(|r| {
                let tac: String = r.try_get(0)?;
                Ok(UnknownTac {
                    tac: Tac::parse(&tac).map_err(|m| StoreError::Corrupt {
                        table: "unknown_tacs",
                        message: m,
                    })?,
                    first_seen: Timestamp(r.try_get(1)?),
                    last_seen: Timestamp(r.try_get(2)?),
                    count: u64::try_from(r.try_get::<_, i64>(3)?).unwrap_or(0),
                    last_imei: r.try_get(4)?,
                })
            })
            .collect()
    }

    async fn record_registration(&self, reg: &NewRegistration) -> Result<RegistrationOutcome> {
        let (iccid, counter) = registration_parts(&reg.verification);
        let counter_sql = counter.map(counter_to_sql).transpose()?;
        let iccid = iccid.map(|i| i.as_str().to_owned());
        let mut c = self.client.lock().await;
        let tx = c.transaction().await?;
        let (outcome, reason, kind) = match &reg.verification {
            Verification::Verified { iccid, .. } => {
                // Compare-and-set: the only way a counter is accepted.
                let n = tx
                    .execute(
                        "UPDATE cards SET last_counter = $1
                         WHERE iccid = $2 AND (last_counter IS NULL OR last_counter < $1)",
                        &[&counter_sql, &iccid.as_str()],
                    )
                    .await?;
                if n == 1 {
                    ("accepted", None, Pending::Accepted)
                } else {
                    let last = tx
                        .query_opt(
                            "SELECT last_counter FROM cards WHERE iccid = $1",
                            &[&iccid.as_str()],
                        )
                        .await?;
                    match last {
                        None => (
                            "rejected",
                            Some("card not in the inventory".to_owned()),
                            Pending::Rejected,
                        ),
                        Some(row) => {
                            let last: Option<i64> = row.try_get(0)?;
                            let last = counter_from_sql("cards", last.unwrap_or(0))?;
                            let original = tx
                                .query_opt(
                                    "SELECT id, raw FROM registrations
                                     WHERE iccid = $1 AND counter = $2 AND outcome = 'accepted'",
                                    &[&iccid.as_str(), &counter_sql],
                                )
                                .await?;
                            let original = original
                                .map(|r| -> Result<(i64, Vec<u8>)> {
                                    Ok((r.try_get(0)?, r.try_get(1)?))
                                })
                                .transpose()?;
                            match original {
                                Some((id, raw)) if raw == reg.raw => (
                                    "duplicate",
                                    Some(format!("same message as registration {id}")),
                                    Pending::Duplicate(RegistrationId(id)),
                                ),
                                _ => (
                                    "replay",
                                    Some(format!(
                                        "counter {} is not above the last accepted {last}",
                                        counter.unwrap_or(0)
                                    )),
                                    Pending::Replay(last),
                                ),
                            }
                        }
                    }
                }
            }
            Verification::Rejected { reason, .. } => {
                ("rejected", Some(reason.clone()), Pending::Rejected)
            }
        };
        let id: i64 = tx
            .query_one(
                "INSERT INTO registrations
                     (received_at, source_addr, raw, iccid, imei, counter, outcome, reason)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
                &[
                    &reg.received_at.0,
                    &reg.source_addr,
                    &reg.raw,
                    &iccid,
                    &reg.imei,
                    &counter_sql,
                    &outcome,
                    &reason,
                ],
            )
            .await?
            .try_get(0)?;
        tx.commit().await?;
        Ok(kind.finish(RegistrationId(id)))
    }

    async fn registration(&self, id: RegistrationId) -> Result<Option<RegistrationRecord>> {
        let c = self.client.lock().await;
        let row = c
            .query_opt(
                "SELECT id, received_at, source_addr, raw, iccid, imei, counter, outcome, reason
                 FROM registrations WHERE id = $1",
                &[&id.0],
            )
            .await?;
        row.map(|r| {
            Ok(RegistrationRecord {
                id: RegistrationId(r.try_get(0)?),
                received_at: Timestamp(r.try_get(1)?),
                source_addr: r.try_get(2)?,
                raw: r.try_get(3)?,
                iccid: r.try_get(4)?,
                imei: r.try_get(5)?,
                counter: r
                    .try_get::<_, Option<i64>>(6)?
                    .map(|c| counter_from_sql("registrations", c))
                    .transpose()?,
                outcome: r.try_get(7)?,
                reason: r.try_get(8)?,
            })
        })
        .transpose()
    }

    async fn record_issuance(&self, iss: &NewIssuance) -> Result<Issuance> {
        let mut c = self.client.lock().await;
        let tx = c.transaction().await?;
        let id = tx
            .query_opt(
                "INSERT INTO key_issuances
                     (registration_id, iccid, imei, operator, manufacturer, source, issued_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (registration_id) DO NOTHING
                 RETURNING id",
                &[
                    &iss.registration_id.map(|r| r.0),
                    &iss.iccid,
                    &iss.imei,
                    &iss.operator,
                    &iss.manufacturer,
                    &iss.source.as_str(),
                    &iss.issued_at.0,
                ],
            )
            .await?
            .map(|r| r.try_get::<_, i64>(0))
            .transpose()?;
        let (column, key) = match (id, iss.registration_id) {
            (Some(id), _) => ("id", id),
            (None, Some(reg)) => ("registration_id", reg.0),
            (None, None) => {
                return Err(StoreError::Invalid("issuance insert returned no id".into()));
            }
        };
        let out = issuance_row(&tx, &format!("{column} = $1"), key)
            .await?
            .ok_or_else(|| StoreError::NotFound("issuance vanished".into()))?;
        tx.commit().await?;
        Ok(out)
    }

    async fn issuance(&self, id: IssuanceId) -> Result<Option<Issuance>> {
        let c = self.client.lock().await;
        issuance_row(&*c, "id = $1", id.0).await
    }

    async fn record_delivery(&self, d: &NewDelivery) -> Result<DeliveryId> {
        let c = self.client.lock().await;
        let id: i64 = c
            .query_one(
                "INSERT INTO deliveries
                     (registration_id, issuance_id, destination, sent_at, message_ids)
                 VALUES ($1, $2, $3, $4, $5) RETURNING id",
                &[
                    &d.registration_id.0,
                    &d.issuance_id.map(|i| i.0),
                    &d.destination,
                    &d.sent_at.0,
                    &d.message_ids.join(","),
                ],
            )
            .await?
            .try_get(0)?;
        Ok(DeliveryId(id))
    }

    async fn delivered(&self, id: RegistrationId) -> Result<bool> {
        let c = self.client.lock().await;
        let row = c
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM deliveries WHERE registration_id = $1)",
                &[&id.0],
            )
            .await?;
        Ok(row.try_get(0)?)
    }

    async fn confirm_download(
        &self,
        issuance_id: IssuanceId,
        at: Timestamp,
        entries: &[NewLedgerEntry],
    ) -> Result<Confirmation> {
        check_entries(issuance_id, entries)?;
        let mut c = self.client.lock().await;
        let tx = c.transaction().await?;
        if issuance_row(&tx, "id = $1", issuance_id.0).await?.is_none() {
            return Err(StoreError::NotFound(format!(
                "key issuance {}",
                issuance_id.0
            )));
        }
        let first = tx
            .execute(
                "INSERT INTO confirmations (issuance_id, confirmed_at) VALUES ($1, $2)
                 ON CONFLICT (issuance_id) DO NOTHING",
                &[&issuance_id.0, &at.0],
            )
            .await?
            == 1;
        let inserted = insert_ledger(&tx, entries).await?;
        tx.commit().await?;
        Ok(Confirmation { first, inserted })
    }

    async fn record_ledger(&self, entries: &[NewLedgerEntry]) -> Result<Vec<LedgerEntry>> {
        let mut c = self.client.lock().await;
        let tx = c.transaction().await?;
        let inserted = insert_ledger(&tx, entries).await?;
        tx.commit().await?;
        Ok(inserted)
    }

    async fn ledger_for_issuance(&self, issuance_id: IssuanceId) -> Result<Vec<LedgerEntry>> {
        let c = self.client.lock().await;
        let rows = c
            .query(
                &format!("SELECT {LEDGER_COLUMNS} FROM ledger WHERE issuance_id = $1"),
                &[&issuance_id.0],
            )
            .await?;
        let mut v = rows.iter().map(ledger_row).collect::<Result<Vec<_>>>()?;
        v.sort_by_key(|e| e.kind);
        Ok(v)
    }

    async fn ledger_between(&self, from: Timestamp, to: Timestamp) -> Result<Vec<LedgerEntry>> {
        let c = self.client.lock().await;
        let rows = c
            .query(
                &format!(
                    "SELECT {LEDGER_COLUMNS} FROM ledger
                     WHERE recorded_at >= $1 AND recorded_at < $2 ORDER BY recorded_at, id"
                ),
                &[&from.0, &to.0],
            )
            .await?;
        rows.iter().map(ledger_row).collect()
    }

    async fn record_failure(&self, f: &ProvisioningFailure) -> Result<()> {
        let c = self.client.lock().await;
        c.execute(
            "INSERT INTO provisioning_failures (registration_id, stage, reason, failed_at)
             VALUES ($1, $2, $3, $4)",
            &[&f.registration_id.0, &f.stage, &f.reason, &f.at.0],
        )
        .await?;
        Ok(())
    }

    async fn failures(&self, id: RegistrationId) -> Result<Vec<ProvisioningFailure>> {
        let c = self.client.lock().await;
        let rows = c
            .query(
                "SELECT stage, reason, failed_at FROM provisioning_failures
                 WHERE registration_id = $1 ORDER BY id",
                &[&id.0],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(ProvisioningFailure {
                    registration_id: id,
                    stage: r.try_get(0)?,
                    reason: r.try_get(1)?,
                    at: Timestamp(r.try_get(2)?),
                })
            })
            .collect()
    }

    async fn accepted_registration(
        &self,
        iccid: &Iccid,
        counter: u64,
    ) -> Result<Option<(RegistrationId, Option<Issuance>)>> {
        let counter = counter_to_sql(counter)?;
        let c = self.client.lock().await;
        let row = c
            .query_opt(
                "SELECT id FROM registrations
                 WHERE iccid = $1 AND counter = $2 AND outcome = 'accepted'",
                &[&iccid.as_str(), &counter],
            )
            .await?;
        match row {
            None => Ok(None),
            Some(r) => {
                let id: i64 = r.try_get(0)?;
                let issuance = issuance_row(&*c, "registration_id = $1", id).await?;
                Ok(Some((RegistrationId(id), issuance)))
            }
        }
    }

    async fn ledger_entry(&self, id: LedgerEntryId) -> Result<Option<LedgerEntry>> {
        let c = self.client.lock().await;
        let row = c
            .query_opt(
                &format!("SELECT {LEDGER_COLUMNS} FROM ledger WHERE id = $1"),
                &[&id.0],
            )
            .await?;
        row.as_ref().map(ledger_row).transpose()
    }

    async fn owe_manufacturer_confirmation(&self, owed: &OwedConfirmation) -> Result<bool> {
        let c = self.client.lock().await;
        let n = c
            .execute(
                "INSERT INTO manufacturer_confirmations
                     (issuance_id, manufacturer, device_key_id, owed_at)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (issuance_id) DO NOTHING",
                &[
                    &owed.issuance_id.0,
                    &owed.manufacturer,
                    &(owed.device_key_id as i64),
                    &owed.owed_at.0,
                ],
            )
            .await?;
        Ok(n == 1)
    }

    async fn pending_manufacturer_confirmations(&self) -> Result<Vec<OwedConfirmation>> {
        let c = self.client.lock().await;
        let rows = c
            .query(
                &format!(
                    "SELECT {OWED_COLUMNS} FROM manufacturer_confirmations
                     WHERE sent_at IS NULL ORDER BY owed_at, issuance_id"
                ),
                &[],
            )
            .await?;
        rows.iter().map(owed_row).collect()
    }

    async fn manufacturer_confirmation(
        &self,
        issuance_id: IssuanceId,
    ) -> Result<Option<OwedConfirmation>> {
        let c = self.client.lock().await;
        let row = c
            .query_opt(
                &format!(
                    "SELECT {OWED_COLUMNS} FROM manufacturer_confirmations WHERE issuance_id = $1"
                ),
                &[&issuance_id.0],
            )
            .await?;
        row.as_ref().map(owed_row).transpose()
    }

    async fn manufacturer_confirmation_attempt(
        &self,
        issuance_id: IssuanceId,
        at: Timestamp,
        error: Option<String>,
    ) -> Result<()> {
        let c = self.client.lock().await;
        match error {
            None => {
                c.execute(
                    "UPDATE manufacturer_confirmations
                     SET sent_at = $2, last_attempt_at = $2
                     WHERE issuance_id = $1 AND sent_at IS NULL",
                    &[&issuance_id.0, &at.0],
                )
                .await?
            }
            Some(e) => {
                c.execute(
                    "UPDATE manufacturer_confirmations
                     SET attempts = attempts + 1, last_attempt_at = $2, last_error = $3
                     WHERE issuance_id = $1 AND sent_at IS NULL",
                    &[&issuance_id.0, &at.0, &e],
                )
                .await?
            }
        };
        Ok(())
    }
}
