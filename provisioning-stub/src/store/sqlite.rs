//! [`Store`] on a SQLite file (rusqlite, SQLite compiled in).
//!
//! Durability: WAL journal with `synchronous=FULL`, so a commit is on disk (WAL fsynced)
//! before the call returns — also across power loss, which `NORMAL` does not promise in
//! WAL mode. Writes take the write lock at `BEGIN IMMEDIATE`, and `busy_timeout` makes
//! a second process (another stub instance on the same file) wait for it rather than
//! fail. Reads run on tokio's blocking pool, writes on the handle's writer thread.
//!
//! [`SqliteStore::open_inline`] is the other mode, for a stub embedded in a synchronous
//! simulation (the scenario world): one connection, every call runs on the caller's
//! thread inside the future's first poll (one transaction per write), and `synchronous`
//! is the caller's choice — see [`Synchronous`].

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::schema::{Migration, SQLITE};
use super::{
    CardRecord, Confirmation, DEVICE_COLUMNS, DeliveryId, ISSUANCE_COLUMNS, ImportSummary,
    Issuance, IssuanceId, LEDGER_COLUMNS, LedgerEntry, NewDelivery, NewIssuance, NewRegistration,
    OWED_COLUMNS, OwedConfirmation, Pending, ProvisioningFailure, RegistrationId,
    RegistrationOutcome, RegistrationRecord, Result, Store, StoreError, Timestamp, UnknownTac,
    Verification, card_from_parts, check_entries, counter_from_sql, counter_to_sql,
    device_from_parts, issuance_from_parts, ledger_from_parts, owed_from_parts, registration_parts,
};
use crate::billing::NewLedgerEntry;
use crate::devices::{DeviceModel, Imei, Tac};
use crate::inventory::{Card, Iccid};

/// How long a writer waits for another connection's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Read connections per handle.
const READERS: usize = 3;

/// Most write jobs committed together in one transaction (group commit).
const MAX_BATCH: usize = 1024;

/// A SQLite store handle. Clones share one read connection and one writer thread. Open
/// the same file twice to get independent connections (as two stub processes would).
///
/// **Group commit.** Every write method becomes a job for the handle's writer thread,
/// which owns its own connection. The writer takes every job queued at that moment (up
/// to [`MAX_BATCH`]), runs each inside its own `SAVEPOINT` of one `BEGIN IMMEDIATE`
/// transaction (a failing job is rolled back alone), commits once — one WAL fsync for
/// the whole batch under `synchronous=FULL` — and only then answers the jobs. So a
/// write's future still resolves `Ok` only once the change is durable, but a thousand
/// concurrent writers cost one fsync instead of a thousand.
#[derive(Clone)]
pub struct SqliteStore {
    backend: Backend,
}

#[derive(Clone)]
enum Backend {
    /// Reader connections on the blocking pool, one writer thread (group commit).
    Pooled {
        readers: Arc<[Mutex<Connection>]>,
        next_reader: Arc<std::sync::atomic::AtomicUsize>,
        writer: std::sync::mpsc::Sender<Job>,
    },
    /// One connection used on the caller's thread ([`SqliteStore::open_inline`]).
    Inline(Arc<Mutex<Connection>>),
}

/// `PRAGMA synchronous` in WAL mode: how far a commit goes before the call returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Synchronous {
    /// The WAL is fsynced at every commit: durable across power loss (the daemon's
    /// setting, [`SqliteStore::open`]).
    Full,
    /// The WAL is fsynced at checkpoints only: a commit survives the process stopping
    /// (it is in the operating system's cache) but may be lost with the machine.
    Normal,
    /// Never fsynced: like `Normal` for a process stop, and the database may be
    /// corrupted by a power loss. For throwaway files (a simulation's temporary store).
    Off,
}

impl Synchronous {
    fn pragma(self) -> &'static str {
        match self {
            Synchronous::Full => "FULL",
            Synchronous::Normal => "NORMAL",
            Synchronous::Off => "OFF",
        }
    }
}

/// How an inline handle ([`SqliteStore::open_inline`]) uses its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InlineOptions {
    /// `PRAGMA synchronous`.
    pub synchronous: Synchronous,
    /// `PRAGMA locking_mode = EXCLUSIVE`: the connection takes the file lock once and
    /// keeps it until it is closed — no lock system calls per transaction and no
    /// shared-memory WAL index — and no other connection (or process) can use the file
    /// meanwhile.
    pub exclusive: bool,
}

/// Prepared statements kept per connection: every statement of the registration,
/// provisioning and report paths fits, so none is parsed twice.
const STATEMENT_CACHE: usize = 64;

/// Runs after the batch commit with the commit's result.
type Finish = Box<dyn FnOnce(std::result::Result<(), String>) + Send>;
/// A write job: runs inside the batch transaction; `true` if it succeeded (its savepoint
/// is kept), `false` to roll its savepoint back.
type Job = Box<dyn FnOnce(&Connection) -> (bool, Finish) + Send>;

fn configure(conn: &Connection, path: &Path, synchronous: Synchronous) -> Result<()> {
    configure_with(conn, path, synchronous, false)
}

fn configure_with(
    conn: &Connection,
    path: &Path,
    synchronous: Synchronous,
    exclusive: bool,
) -> Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    // First, so that switching a new file to WAL already syncs as asked.
    conn.pragma_update(None, "synchronous", synchronous.pragma())?;
    if exclusive {
        // Before WAL is entered, so that no shared-memory index is ever created.
        conn.pragma_update(None, "locking_mode", "EXCLUSIVE")?;
    }
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Invalid(format!(
            "{}: SQLite refused WAL mode (got {mode})",
            path.display()
        )));
    }
    // Again: entering WAL mode may reset it.
    conn.pragma_update(None, "synchronous", synchronous.pragma())?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}

impl SqliteStore {
    /// Opens or creates the database file, sets WAL + `synchronous=FULL`, and applies
    /// pending migrations.
    pub async fn open(path: impl AsRef<Path>) -> Result<SqliteStore> {
        let path = path.as_ref().to_path_buf();
        tokio::task::spawn_blocking(move || SqliteStore::open_blocking(&path))
            .await
            .map_err(|e| StoreError::Task(e.to_string()))?
    }

    /// [`SqliteStore::open`] for synchronous callers (not on an async runtime thread).
    pub fn open_blocking(path: &Path) -> Result<SqliteStore> {
        let mut conn = Connection::open(path)?;
        configure(&conn, path, Synchronous::Full)?;
        migrate(&mut conn, SQLITE)?;
        let wconn = Connection::open(path)?;
        configure(&wconn, path, Synchronous::Full)?;
        let (writer, jobs) = std::sync::mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || writer_loop(wconn, jobs))
            .map_err(|e| StoreError::Task(format!("writer thread: {e}")))?;
        // Readers: a few connections, so a lookup on the acknowledgement path (the card)
        // does not queue behind another task's read (WAL readers run concurrently).
        let mut readers = vec![Mutex::new(conn)];
        for _ in 1..READERS {
            let r = Connection::open(path)?;
            configure(&r, path, Synchronous::Full)?;
            readers.push(Mutex::new(r));
        }
        Ok(SqliteStore {
            backend: Backend::Pooled {
                readers: readers.into(),
                next_reader: Arc::new(std::sync::atomic::AtomicUsize::new(0)),
                writer,
            },
        })
    }

    /// Opens or creates the database file (WAL, `synchronous` and locking as `options`
    /// say), applies pending migrations, and returns a handle whose calls all run **on
    /// the caller's thread**
    /// on one connection: each read is a plain query, each write one `BEGIN IMMEDIATE`
    /// transaction committed before the call's future resolves (on its first poll). No
    /// thread is started, and no tokio runtime is needed for the store itself.
    ///
    /// For synchronous callers that drive the futures with `block_on` — the scenario
    /// world's embedded stub. Clones share the connection. A tokio server should use
    /// [`SqliteStore::open`] instead: this mode blocks the polling thread for the
    /// duration of each statement (microseconds, or up to the busy timeout when another
    /// process holds the write lock).
    pub fn open_inline(path: &Path, options: InlineOptions) -> Result<SqliteStore> {
        let mut conn = Connection::open(path)?;
        configure_with(&conn, path, options.synchronous, options.exclusive)?;
        migrate(&mut conn, SQLITE)?;
        Ok(SqliteStore {
            backend: Backend::Inline(Arc::new(Mutex::new(conn))),
        })
    }

    /// The schema version of the open database.
    pub async fn schema_version(&self) -> Result<i64> {
        self.run(|c| {
            Ok(c.query_row(
                "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                [],
                |r| r.get(0),
            )?)
        })
        .await
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let (readers, next_reader) = match &self.backend {
            Backend::Pooled {
                readers,
                next_reader,
                ..
            } => (readers.clone(), next_reader),
            Backend::Inline(conn) => {
                let mut guard = conn
                    .lock()
                    .map_err(|_| StoreError::Task("connection mutex poisoned".into()))?;
                return f(&mut guard);
            }
        };
        let start = next_reader.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tokio::task::spawn_blocking(move || {
            let n = readers.len();
            // A free reader if there is one, else wait for the round-robin pick.
            let free = (0..n).find_map(|i| readers.get((start + i) % n)?.try_lock().ok());
            let mut guard = match free {
                Some(g) => g,
                None => readers
                    .get(start % n.max(1))
                    .ok_or_else(|| StoreError::Task("no reader connection".into()))?
                    .lock()
                    .map_err(|_| StoreError::Task("connection mutex poisoned".into()))?,
            };
            f(&mut guard)
        })
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?
    }

    /// Queues `f` for the writer thread; resolves once the batch holding it committed.
    async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let writer = match &self.backend {
            Backend::Pooled { writer, .. } => writer,
            Backend::Inline(conn) => {
                let mut guard = conn
                    .lock()
                    .map_err(|_| StoreError::Task("connection mutex poisoned".into()))?;
                let tx = guard.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let value = f(&tx)?;
                tx.commit()?;
                return Ok(value);
            }
        };
        let (reply, answer) = tokio::sync::oneshot::channel::<Result<T>>();
        let job: Job = Box::new(move |conn| {
            let result = f(conn);
            let ok = result.is_ok();
            let finish: Finish = Box::new(move |commit| {
                let _ = reply.send(match commit {
                    Ok(()) => result,
                    Err(e) => Err(StoreError::Task(format!("commit failed: {e}"))),
                });
            });
            (ok, finish)
        });
        writer
            .send(job)
            .map_err(|_| StoreError::Task("writer thread gone".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Task("writer thread dropped the job".into()))?
    }
}

/// The writer thread: batches queued jobs into one transaction each; ends when every
/// handle is dropped (after finishing what was queued).
fn writer_loop(mut conn: Connection, jobs: std::sync::mpsc::Receiver<Job>) {
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(j) => batch.push(j),
                Err(_) => break,
            }
        }
        let finishes = run_batch(&mut conn, batch);
        match finishes {
            Ok(finishes) => finishes.into_iter().for_each(|f| f(Ok(()))),
            Err((e, finishes)) => finishes.into_iter().for_each(|f| f(Err(e.clone()))),
        }
    }
}

type BatchResult = std::result::Result<Vec<Finish>, (String, Vec<Finish>)>;

fn run_batch(conn: &mut Connection, batch: Vec<Job>) -> BatchResult {
    let mut finishes: Vec<Finish> = Vec::with_capacity(batch.len());
    let mut tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => {
            // Nothing ran: every job learns the error.
            let msg = e.to_string();
            for job in batch {
                let (_, f) = fail_job(job, &msg);
                finishes.push(f);
            }
            return Err((msg, finishes));
        }
    };
    for job in batch {
        match tx.savepoint() {
            Ok(mut sp) => {
                let (ok, f) = job(&sp);
                finishes.push(f);
                if !ok {
                    sp.set_drop_behavior(rusqlite::DropBehavior::Rollback);
                } else {
                    sp.set_drop_behavior(rusqlite::DropBehavior::Commit);
                }
                if let Err(e) = sp.finish() {
                    let msg = e.to_string();
                    return Err((msg, finishes));
                }
            }
            Err(e) => {
                let msg = e.to_string();
                let (_, f) = fail_job(job, &msg);
                finishes.push(f);
                return Err((msg, finishes));
            }
        }
    }
    match tx.commit() {
        Ok(()) => Ok(finishes),
        Err(e) => Err((e.to_string(), finishes)),
    }
}

/// A job that cannot run: dropping it drops its reply sender, so its caller gets an
/// error ("writer thread dropped the job") rather than waiting forever.
fn fail_job(job: Job, _why: &str) -> (bool, Finish) {
    drop(job);
    (false, Box::new(|_| {}))
}

fn migrate(conn: &mut Connection, migrations: &[Migration]) -> Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)",
    )?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let current: i64 = tx.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
        [],
        |r| r.get(0),
    )?;
    let latest = migrations.last().map_or(0, |m| m.0);
    if current > latest {
        return Err(StoreError::Invalid(format!(
            "database schema version {current} is newer than this program's ({latest})"
        )));
    }
    for (version, name, sql) in migrations.iter().filter(|m| m.0 > current) {
        tx.execute_batch(sql)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
            params![version, name, Timestamp::now().0],
        )?;
    }
    tx.commit()?;
    Ok(())
}

/// `query_row` through the connection's prepared-statement cache: the hot statements
/// (card lookup, registration, issuance, delivery, ledger) are parsed once per
/// connection instead of once per call.
fn cached_row<T, P: rusqlite::Params, F: FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>>(
    c: &Connection,
    sql: &str,
    params: P,
    f: F,
) -> rusqlite::Result<T> {
    c.prepare_cached(sql)?.query_row(params, f)
}

/// `execute` through the prepared-statement cache (see [`cached_row`]).
fn cached_exec<P: rusqlite::Params>(
    c: &Connection,
    sql: &str,
    params: P,
) -> rusqlite::Result<usize> {
    c.prepare_cached(sql)?.execute(params)
}

fn read_ledger(row: &rusqlite::Row<'_>) -> rusqlite::Result<LedgerRaw> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
        row.get(7)?,
    ))
}

type LedgerRaw = (i64, i64, String, String, String, i64, String, i64);

fn ledger_rows(
    tx: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<LedgerEntry>> {
    let mut stmt = tx.prepare(sql)?;
    let rows = stmt.query_map(params, read_ledger)?;
    let mut out = Vec::new();
    for r in rows {
        let (id, iss, kind, pk, party, amount, cur, at) = r?;
        out.push(ledger_from_parts(
            id, iss, kind, pk, party, amount, cur, at,
        )?);
    }
    Ok(out)
}

fn insert_ledger(tx: &Connection, entries: &[NewLedgerEntry]) -> Result<Vec<LedgerEntry>> {
    let mut inserted = Vec::new();
    for e in entries {
        let id: Option<i64> = cached_row(
            tx,
            "INSERT INTO ledger
                     (issuance_id, kind, party_kind, party, amount_minor, currency, recorded_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (issuance_id, kind) DO NOTHING
                 RETURNING id",
            params![
                e.issuance_id.0,
                e.kind.as_str(),
                e.party.kind_str(),
                e.party.name(),
                e.amount_minor,
                e.currency,
                e.at.0
            ],
            |r| r.get(0),
        )
        .optional()?;
        if let Some(id) = id {
            inserted.push(LedgerEntry {
                id: super::LedgerEntryId(id),
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

impl Store for SqliteStore {
    async fn import_cards(&self, cards: &[Card]) -> Result<ImportSummary> {
        let cards = cards.to_vec();
        let now = Timestamp::now().0;
        self.write(move |tx| {
            let mut summary = ImportSummary::default();
            for c in &cards {
                let exists: bool = cached_row(
                    tx,
                    "SELECT EXISTS (SELECT 1 FROM cards WHERE iccid = ?1)",
                    [c.iccid.as_str()],
                    |r| r.get(0),
                )?;
                cached_exec(
                    tx,
                    "INSERT INTO cards (iccid, imsi, msisdn, reg_key, last_counter, imported_at)
                     VALUES (?1, ?2, ?3, ?4, NULL, ?5)
                     ON CONFLICT (iccid) DO UPDATE SET imsi = excluded.imsi,
                         msisdn = excluded.msisdn, reg_key = excluded.reg_key,
                         imported_at = excluded.imported_at",
                    params![
                        c.iccid.as_str(),
                        c.imsi.as_str(),
                        c.msisdn.as_ref().map(|m| m.as_str()),
                        &c.key.0[..],
                        now
                    ],
                )?;
                if exists {
                    summary.updated += 1;
                } else {
                    summary.inserted += 1;
                }
            }
            Ok(summary)
        })
        .await
    }

    async fn card(&self, iccid: &Iccid) -> Result<Option<CardRecord>> {
        let iccid = iccid.as_str().to_owned();
        self.run(move |c| {
            let raw = cached_row(
                c,
                "SELECT iccid, imsi, msisdn, reg_key, last_counter FROM cards WHERE iccid = ?1",
                [&iccid],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .optional()?;
            raw.map(|(i, s, m, k, l)| card_from_parts(i, s, m, k, l))
                .transpose()
        })
        .await
    }

    async fn import_devices(&self, devices: &[DeviceModel]) -> Result<ImportSummary> {
        let devices = devices.to_vec();
        let now = Timestamp::now().0;
        self.write(move |tx| {
            let mut summary = ImportSummary::default();
            for d in &devices {
                let exists: bool = cached_row(
                    tx,
                    "SELECT EXISTS (SELECT 1 FROM devices WHERE tac = ?1)",
                    [d.tac.as_str()],
                    |r| r.get(0),
                )?;
                cached_exec(
                    tx,
                    "INSERT INTO devices (tac, manufacturer, make, model, release_date, camera,
                                          screen, bands, imported_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                     ON CONFLICT (tac) DO UPDATE SET manufacturer = excluded.manufacturer,
                         make = excluded.make, model = excluded.model,
                         release_date = excluded.release_date, camera = excluded.camera,
                         screen = excluded.screen, bands = excluded.bands,
                         imported_at = excluded.imported_at",
                    params![
                        d.tac.as_str(),
                        d.manufacturer,
                        d.make,
                        d.model,
                        d.release_date.map(|r| r.to_string()),
                        d.camera,
                        d.screen,
                        d.bands.join(";"),
                        now
                    ],
                )?;
                if exists {
                    summary.updated += 1;
                } else {
                    summary.inserted += 1;
                }
            }
            Ok(summary)
        })
        .await
    }

    async fn device(&self, tac: &Tac) -> Result<Option<DeviceModel>> {
        let tac = tac.as_str().to_owned();
        self.run(move |c| {
            let raw = cached_row(
                c,
                &format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE tac = ?1"),
                [&tac],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                        r.get(7)?,
                    ))
                },
            )
            .optional()?;
            raw.map(|(t, mf, mk, md, rd, cam, sc, b)| {
                device_from_parts(t, mf, mk, md, rd, cam, sc, b)
            })
            .transpose()
        })
        .await
    }

    async fn record_unknown_tac(&self, imei: &Imei, at: Timestamp) -> Result<()> {
        let tac = imei.tac().as_str().to_owned();
        let imei = imei.as_str().to_owned();
        self.write(move |tx| {
            cached_exec(
                tx,
                "INSERT INTO unknown_tacs (tac, first_seen, last_seen, seen_count, last_imei)
                 VALUES (?1, ?2, ?2, 1, ?3)
                 ON CONFLICT (tac) DO UPDATE SET
                     first_seen = min(unknown_tacs.first_seen, excluded.first_seen),
                     last_seen = max(unknown_tacs.last_seen, excluded.last_seen),
                     seen_count = unknown_tacs.seen_count + 1,
                     last_imei = excluded.last_imei",
                params![tac, at.0, imei],
            )?;
            Ok(())
        })
        .await
    }

    async fn unknown_tacs(&self) -> Result<Vec<UnknownTac>> {
        self.run(|c| {
            let mut stmt = c.prepare(
                "SELECT tac, first_seen, last_seen, seen_count, last_imei
                 FROM unknown_tacs ORDER BY tac",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get::<_, i64>(3)?,
                    r.get(4)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (tac, first, last, count, imei) = row?;
                out.push(UnknownTac {
                    tac: Tac::parse(&tac).map_err(|m| StoreError::Corrupt {
                        table: "unknown_tacs",
                        message: m,
                    })?,
                    first_seen: Timestamp(first),
                    last_seen: Timestamp(last),
                    count: u64::try_from(count).unwrap_or(0),
                    last_imei: imei,
                });
            }
            Ok(out)
        })
        .await
    }

    async fn record_registration(&self, reg: &NewRegistration) -> Result<RegistrationOutcome> {
        let reg = reg.clone();
        self.write(move |tx| {
            let (iccid, counter) = registration_parts(&reg.verification);
            let counter_sql = counter.map(counter_to_sql).transpose()?;
            let iccid = iccid.map(|i| i.as_str().to_owned());
            let (outcome, reason, kind) = match &reg.verification {
                Verification::Verified { iccid, .. } => {
                    // Compare-and-set: the only way a counter is accepted.
                    let n = cached_exec(tx,
                        "UPDATE cards SET last_counter = ?1
                         WHERE iccid = ?2 AND (last_counter IS NULL OR last_counter < ?1)",
                        params![counter_sql, iccid.as_str()],
                    )?;
                    if n == 1 {
                        ("accepted", None, Pending::Accepted)
                    } else {
                        let last: Option<Option<i64>> = cached_row(tx,
                                "SELECT last_counter FROM cards WHERE iccid = ?1",
                                [iccid.as_str()],
                                |r| r.get(0),
                            )
                            .optional()?;
                        match last {
                            None => (
                                "rejected",
                                Some("card not in the inventory".to_owned()),
                                Pending::Rejected,
                            ),
                            Some(last) => {
                                let last = counter_from_sql("cards", last.unwrap_or(0))?;
                                let original: Option<(i64, Vec<u8>)> = cached_row(tx,
                                        "SELECT id, raw FROM registrations
                                         WHERE iccid = ?1 AND counter = ?2 AND outcome = 'accepted'",
                                        params![iccid.as_str(), counter_sql],
                                        |r| Ok((r.get(0)?, r.get(1)?)),
                                    )
                                    .optional()?;
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
            let id: i64 = cached_row(tx,
                "INSERT INTO registrations
                     (received_at, source_addr, raw, iccid, imei, counter, outcome, reason)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING id",
                params![
                    reg.received_at.0,
                    reg.source_addr,
                    reg.raw,
                    iccid,
                    reg.imei,
                    counter_sql,
                    outcome,
                    reason
                ],
                |r| r.get(0),
            )?;
            Ok(kind.finish(RegistrationId(id)))
        })
        .await
    }

    async fn registration(&self, id: RegistrationId) -> Result<Option<RegistrationRecord>> {
        self.run(move |c| {
            let raw = cached_row(
                c,
                "SELECT id, received_at, source_addr, raw, iccid, imei, counter, outcome, reason
                     FROM registrations WHERE id = ?1",
                [id.0],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get::<_, Option<i64>>(6)?,
                        r.get(7)?,
                        r.get(8)?,
                    ))
                },
            )
            .optional()?;
            raw.map(
                |(id, at, src, raw, iccid, imei, counter, outcome, reason)| {
                    Ok(RegistrationRecord {
                        id: RegistrationId(id),
                        received_at: Timestamp(at),
                        source_addr: src,
                        raw,
                        iccid,
                        imei,
                        counter: counter
                            .map(|c| counter_from_sql("registrations", c))
                            .transpose()?,
                        outcome,
                        reason,
                    })
                },
            )
            .transpose()
        })
        .await
    }

    async fn record_issuance(&self, iss: &NewIssuance) -> Result<Issuance> {
        let iss = iss.clone();
        self.write(move |tx| {
            let id: Option<i64> = cached_row(
                tx,
                "INSERT INTO key_issuances
                         (registration_id, iccid, imei, operator, manufacturer, source, issued_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                     ON CONFLICT (registration_id) DO NOTHING
                     RETURNING id",
                params![
                    iss.registration_id.map(|r| r.0),
                    iss.iccid,
                    iss.imei,
                    iss.operator,
                    iss.manufacturer,
                    iss.source.as_str(),
                    iss.issued_at.0
                ],
                |r| r.get(0),
            )
            .optional()?;
            let (sql, key) = match (id, iss.registration_id) {
                (Some(id), _) => ("id", id),
                (None, Some(reg)) => ("registration_id", reg.0),
                (None, None) => {
                    return Err(StoreError::Invalid("issuance insert returned no id".into()));
                }
            };
            issuance_row(tx, &format!("{sql} = ?1"), key)?
                .ok_or_else(|| StoreError::NotFound("issuance vanished".into()))
        })
        .await
    }

    async fn issuance(&self, id: IssuanceId) -> Result<Option<Issuance>> {
        self.run(move |c| issuance_row(c, "id = ?1", id.0)).await
    }

    async fn record_delivery(&self, d: &NewDelivery) -> Result<DeliveryId> {
        let d = d.clone();
        self.write(move |tx| {
            let id: i64 = cached_row(
                tx,
                "INSERT INTO deliveries
                     (registration_id, issuance_id, destination, sent_at, message_ids)
                 VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id",
                params![
                    d.registration_id.0,
                    d.issuance_id.map(|i| i.0),
                    d.destination,
                    d.sent_at.0,
                    d.message_ids.join(",")
                ],
                |r| r.get(0),
            )?;
            Ok(DeliveryId(id))
        })
        .await
    }

    async fn delivered(&self, id: RegistrationId) -> Result<bool> {
        self.run(move |c| {
            Ok(cached_row(
                c,
                "SELECT EXISTS (SELECT 1 FROM deliveries WHERE registration_id = ?1)",
                [id.0],
                |r| r.get(0),
            )?)
        })
        .await
    }

    async fn confirm_download(
        &self,
        issuance_id: IssuanceId,
        at: Timestamp,
        entries: &[NewLedgerEntry],
    ) -> Result<Confirmation> {
        check_entries(issuance_id, entries)?;
        let entries = entries.to_vec();
        self.write(move |tx| {
            if issuance_row(tx, "id = ?1", issuance_id.0)?.is_none() {
                return Err(StoreError::NotFound(format!(
                    "key issuance {}",
                    issuance_id.0
                )));
            }
            let first = cached_exec(
                tx,
                "INSERT INTO confirmations (issuance_id, confirmed_at) VALUES (?1, ?2)
                 ON CONFLICT (issuance_id) DO NOTHING",
                params![issuance_id.0, at.0],
            )? == 1;
            let inserted = insert_ledger(tx, &entries)?;
            Ok(Confirmation { first, inserted })
        })
        .await
    }

    async fn record_ledger(&self, entries: &[NewLedgerEntry]) -> Result<Vec<LedgerEntry>> {
        let entries = entries.to_vec();
        self.write(move |tx| insert_ledger(tx, &entries)).await
    }

    async fn ledger_for_issuance(&self, issuance_id: IssuanceId) -> Result<Vec<LedgerEntry>> {
        self.run(move |c| {
            let mut v = ledger_rows(
                c,
                &format!("SELECT {LEDGER_COLUMNS} FROM ledger WHERE issuance_id = ?1"),
                [issuance_id.0],
            )?;
            v.sort_by_key(|e| e.kind);
            Ok(v)
        })
        .await
    }

    async fn ledger_between(&self, from: Timestamp, to: Timestamp) -> Result<Vec<LedgerEntry>> {
        self.run(move |c| {
            ledger_rows(
                c,
                &format!(
                    "SELECT {LEDGER_COLUMNS} FROM ledger
                     WHERE recorded_at >= ?1 AND recorded_at < ?2 ORDER BY recorded_at, id"
                ),
                [from.0, to.0],
            )
        })
        .await
    }

    async fn record_failure(&self, f: &ProvisioningFailure) -> Result<()> {
        let f = f.clone();
        self.write(move |tx| {
            cached_exec(
                tx,
                "INSERT INTO provisioning_failures (registration_id, stage, reason, failed_at)
                 VALUES (?1, ?2, ?3, ?4)",
                params![f.registration_id.0, f.stage, f.reason, f.at.0],
            )?;
            Ok(())
        })
        .await
    }

    async fn failures(&self, id: RegistrationId) -> Result<Vec<ProvisioningFailure>> {
        self.run(move |c| {
            let mut stmt = c.prepare(
                "SELECT stage, reason, failed_at FROM provisioning_failures
                 WHERE registration_id = ?1 ORDER BY id",
            )?;
            let rows = stmt.query_map([id.0], |r| {
                Ok(ProvisioningFailure {
                    registration_id: id,
                    stage: r.get(0)?,
                    reason: r.get(1)?,
                    at: Timestamp(r.get(2)?),
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    async fn accepted_registration(
        &self,
        iccid: &Iccid,
        counter: u64,
    ) -> Result<Option<(RegistrationId, Option<Issuance>)>> {
        let iccid = iccid.as_str().to_owned();
        let counter = counter_to_sql(counter)?;
        self.run(move |c| {
            let id: Option<i64> = cached_row(
                c,
                "SELECT id FROM registrations
                     WHERE iccid = ?1 AND counter = ?2 AND outcome = 'accepted'",
                params![iccid, counter],
                |r| r.get(0),
            )
            .optional()?;
            match id {
                None => Ok(None),
                Some(id) => Ok(Some((
                    RegistrationId(id),
                    issuance_row(c, "registration_id = ?1", id)?,
                ))),
            }
        })
        .await
    }

    async fn ledger_entry(&self, id: super::LedgerEntryId) -> Result<Option<LedgerEntry>> {
        self.run(move |c| {
            Ok(ledger_rows(
                c,
                &format!("SELECT {LEDGER_COLUMNS} FROM ledger WHERE id = ?1"),
                [id.0],
            )?
            .pop())
        })
        .await
    }

    async fn owe_manufacturer_confirmation(&self, owed: &OwedConfirmation) -> Result<bool> {
        let owed = owed.clone();
        self.write(move |tx| {
            Ok(cached_exec(
                tx,
                "INSERT INTO manufacturer_confirmations
                     (issuance_id, manufacturer, device_key_id, owed_at)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (issuance_id) DO NOTHING",
                params![
                    owed.issuance_id.0,
                    owed.manufacturer,
                    owed.device_key_id as i64,
                    owed.owed_at.0
                ],
            )? == 1)
        })
        .await
    }

    async fn pending_manufacturer_confirmations(&self) -> Result<Vec<OwedConfirmation>> {
        self.run(|c| owed_rows(c, "sent_at IS NULL ORDER BY owed_at, issuance_id", []))
            .await
    }

    async fn manufacturer_confirmation(
        &self,
        issuance_id: IssuanceId,
    ) -> Result<Option<OwedConfirmation>> {
        self.run(move |c| Ok(owed_rows(c, "issuance_id = ?1", [issuance_id.0])?.pop()))
            .await
    }

    async fn manufacturer_confirmation_attempt(
        &self,
        issuance_id: IssuanceId,
        at: Timestamp,
        error: Option<String>,
    ) -> Result<()> {
        self.write(move |tx| {
            match error {
                None => cached_exec(
                    tx,
                    "UPDATE manufacturer_confirmations
                     SET sent_at = ?2, last_attempt_at = ?2
                     WHERE issuance_id = ?1 AND sent_at IS NULL",
                    params![issuance_id.0, at.0],
                )?,
                Some(e) => cached_exec(
                    tx,
                    "UPDATE manufacturer_confirmations
                     SET attempts = attempts + 1, last_attempt_at = ?2, last_error = ?3
                     WHERE issuance_id = ?1 AND sent_at IS NULL",
                    params![issuance_id.0, at.0, e],
                )?,
            };
            Ok(())
        })
        .await
    }
}

fn owed_rows(
    c: &Connection,
    filter: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<OwedConfirmation>> {
    let mut stmt = c.prepare(&format!(
        "SELECT {OWED_COLUMNS} FROM manufacturer_confirmations WHERE {filter}"
    ))?;
    let rows = stmt.query_map(params, |r| {
        Ok(owed_from_parts(
            r.get(0)?,
            r.get(1)?,
            r.get(2)?,
            r.get(3)?,
            r.get(4)?,
            r.get(5)?,
            r.get(6)?,
        ))
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

fn issuance_row(c: &Connection, filter: &str, key: i64) -> Result<Option<Issuance>> {
    let raw = cached_row(
        c,
        &format!("SELECT {ISSUANCE_COLUMNS} FROM key_issuances WHERE {filter}"),
        [key],
        |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
            ))
        },
    )
    .optional()?;
    raw.map(|(id, reg, iccid, imei, op, mf, src, at)| {
        issuance_from_parts(id, reg, iccid, imei, op, mf, src, at)
    })
    .transpose()
}
