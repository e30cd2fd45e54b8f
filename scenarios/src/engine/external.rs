//! `imeitrack run FILE --stub HOST:PORT [--stub-config DIR/stub.toml]`: the scenario's
//! world with an external provisioning stub (`docs/scenarios.md`, "External stub").
//!
//! The world listens for SMPP at HOST:PORT ([`SmppBridge`]); the external stub —
//! `provisioning-stub serve` with the configuration `imeitrack stub-config` wrote for
//! this scenario — binds to it as ESME. Before anything is played, [`start`] refuses
//! what the world cannot do or see with a stub it does not host:
//!
//! * `stub = { … }` steps (stop, start, restart, crash triggers): the world cannot stop
//!   or restart another process;
//! * without `--stub-config`, expectations on what only the stub knows: `registration`,
//!   `reject_reason`, `depreciated`, `key_source`, `key_erased` (which key bytes to look
//!   for), `ledger`, `ledger_entries`, `fleet.accepted`; and always `stub_running`;
//! * a configuration that is not this scenario's: other credentials or number, another
//!   `policy_date`, a store that is not SQLite, already holds registrations (replay
//!   counters would reject this run's), or whose inventory differs from the scenario's
//!   cards.

use std::net::{TcpListener, ToSocketAddrs as _};
use std::path::{Path, PathBuf};

use crate::runner::{Engine, EngineError, EngineOptions};
use crate::scenario::{Action, Scenario};
use crate::world::smpp_bridge::{self, BridgeConfig, SmppBridge};

use super::stub_config::{self, StubConfigError};
use super::{STUB_NUMBER, WorldEngine};

fn unsupported(m: impl Into<String>) -> EngineError {
    EngineError::Unsupported(m.into())
}

/// Expectation fields only the stub's store can answer, with the step they are on.
fn needs_store(scenario: &Scenario, store: bool) -> Vec<String> {
    let mut out = Vec::new();
    for st in &scenario.steps {
        let Some(e) = &st.expect else { continue };
        let x = &e.checks;
        let mut fields = Vec::new();
        if !store {
            for (set, name) in [
                (x.registration.is_some(), "registration"),
                (x.reject_reason.is_some(), "reject_reason"),
                (x.depreciated.is_some(), "depreciated"),
                (x.key_source.is_some(), "key_source"),
                (x.key_erased.is_some(), "key_erased"),
                (x.ledger.is_some(), "ledger"),
                (x.ledger_entries.is_some(), "ledger_entries"),
                (
                    x.fleet.as_ref().is_some_and(|f| f.accepted.is_some()),
                    "fleet.accepted",
                ),
            ] {
                if set {
                    fields.push(name);
                }
            }
        }
        if x.stub_running.is_some() {
            fields.push("stub_running");
        }
        if !fields.is_empty() {
            out.push(format!(
                "step {} (line {}): {}",
                st.index,
                st.line,
                fields.join(", ")
            ));
        }
    }
    out
}

/// What the world cannot do with an external stub (see the module docs).
pub fn refusals(scenario: &Scenario, store: bool) -> Vec<String> {
    let mut out: Vec<String> = scenario
        .steps
        .iter()
        .filter(|s| matches!(s.action, Action::Stub(_)))
        .map(|s| {
            format!(
                "step {} (line {}): stub stop/start/restart — the world cannot drive a stub it does not host",
                s.index, s.line
            )
        })
        .collect();
    let fields = needs_store(scenario, store);
    if !fields.is_empty() {
        let why = if store {
            "not observable with --stub (whether the external stub runs is not the world's to see)"
        } else {
            "not observable with --stub without --stub-config (the verdicts, keys and ledger are in the stub's store)"
        };
        out.extend(fields.into_iter().map(|f| format!("{f}: {why}")));
    }
    out
}

/// The SQLite file of a `database` setting, or why it is not one.
fn sqlite_path(db: &str) -> Result<PathBuf, String> {
    if db.starts_with("postgres://") || db.starts_with("postgresql://") {
        return Err(format!(
            "database {db:?} is PostgreSQL: the world reads verdicts and the ledger from a SQLite store only"
        ));
    }
    let p = db
        .strip_prefix("sqlite://")
        .or_else(|| db.strip_prefix("sqlite:"))
        .unwrap_or(db);
    Ok(PathBuf::from(p))
}

/// Checks the stub configuration against the scenario; returns the store's path.
fn check_config(scenario: &Scenario, path: &Path) -> Result<PathBuf, EngineError> {
    let c = provisioning_stub::config::StubConfig::load(path)
        .map_err(|e| unsupported(format!("--stub-config: {e}")))?;
    let bad = |what: String| unsupported(format!("--stub-config {}: {what}", path.display()));
    if c.smsc.system_id != smpp_bridge::BRIDGE_SYSTEM_ID
        || c.smsc.password != smpp_bridge::BRIDGE_PASSWORD
    {
        return Err(bad(format!(
            "[smsc] binds as {:?}; the world accepts {:?} with the password stub-config writes",
            c.smsc.system_id,
            smpp_bridge::BRIDGE_SYSTEM_ID
        )));
    }
    if c.smsc.source_addr != STUB_NUMBER {
        return Err(bad(format!(
            "[smsc] source_addr {:?}: the world's cards send to {STUB_NUMBER}",
            c.smsc.source_addr
        )));
    }
    let want = provisioning_stub::devices::Date::new(
        i32::from(scenario.date.year),
        scenario.date.month,
        scenario.date.day,
    );
    match c.policy_date() {
        Ok(Some(d)) if Some(d) != want => {
            return Err(bad(format!(
                "policy_date {d}, but the scenario is dated {:04}-{:02}-{:02}",
                scenario.date.year, scenario.date.month, scenario.date.day
            )));
        }
        Ok(_) => {}
        Err(e) => return Err(bad(e.to_string())),
    }
    let db = c
        .database
        .as_deref()
        .ok_or_else(|| bad("no `database` (the world must know the stub's store)".into()))?;
    let db = sqlite_path(db).map_err(bad)?;
    let conn =
        rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|e| bad(format!("store {}: {e}", db.display())))?;
    let q = |e: rusqlite::Error| bad(format!("store {}: {e}", db.display()));
    let n: i64 = conn
        .query_row("SELECT COUNT(*) FROM registrations", [], |r| r.get(0))
        .map_err(q)?;
    if n > 0 {
        return Err(bad(format!(
            "store {} already holds {n} registrations: its replay counters would reject this run's; write a fresh one with `imeitrack stub-config`",
            db.display()
        )));
    }
    let cards =
        stub_config::inventory(scenario).map_err(|e: StubConfigError| bad(e.to_string()))?;
    let mut stmt = conn
        .prepare("SELECT reg_key FROM cards WHERE iccid = ?1")
        .map_err(q)?;
    for card in &cards {
        let key: Option<Vec<u8>> = stmt
            .query_row([&card.iccid], |r| r.get(0))
            .map(Some)
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                e => Err(e),
            })
            .map_err(q)?;
        match key {
            Some(k) if k == card.key => {}
            Some(_) => {
                return Err(bad(format!(
                    "card {} has another registration key in the store: it was configured for another scenario or seed",
                    card.iccid
                )));
            }
            None => {
                return Err(bad(format!(
                    "card {} is not in the store's inventory: it was configured for another scenario",
                    card.iccid
                )));
            }
        }
    }
    Ok(db)
}

/// Builds the scenario's world with the external stub at `addr` (see the module docs).
pub fn start(
    scenario: &Scenario,
    addr: &str,
    options: &EngineOptions,
) -> Result<Box<dyn Engine>, EngineError> {
    let refused = refusals(scenario, options.stub_config.is_some());
    if !refused.is_empty() {
        return Err(unsupported(format!(
            "--stub {addr}: {}",
            refused.join("; ")
        )));
    }
    let store = options
        .stub_config
        .as_deref()
        .map(|p| check_config(scenario, p))
        .transpose()?;
    let sock = addr
        .to_socket_addrs()
        .map_err(|e| unsupported(format!("--stub {addr}: {e}")))?
        .next()
        .ok_or_else(|| unsupported(format!("--stub {addr}: no address")))?;
    let listener = TcpListener::bind(sock).map_err(|e| {
        EngineError::Failed(format!("--stub {addr}: cannot listen for the stub: {e}"))
    })?;
    let bridge = SmppBridge::start(
        listener,
        BridgeConfig {
            store,
            ..BridgeConfig::default()
        },
    )
    .map_err(|e| EngineError::Failed(format!("--stub {addr}: {e}")))?;
    Ok(Box::new(WorldEngine::new_with(
        scenario,
        Some(Box::new(bridge)),
    )?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario;

    fn load(name: &str) -> Scenario {
        scenario::load(&scenario::library_dir().join(name)).unwrap()
    }

    #[test]
    fn stub_steps_are_refused() {
        let s = load("13-stub-restarted-mid-flow.toml");
        let r = refusals(&s, true);
        assert!(
            r.iter().any(|m| m.contains("stub stop/start/restart")),
            "{r:?}"
        );
    }

    #[test]
    fn unobservable_expectations_are_named() {
        let s = load("04-swap-depreciated-local-key.toml");
        let r = refusals(&s, false);
        let all = r.join("\n");
        for f in [
            "registration",
            "depreciated",
            "key_source",
            "key_erased",
            "ledger",
        ] {
            assert!(all.contains(f), "{f} missing from {all}");
        }
        assert!(all.contains("without --stub-config"), "{all}");
        // With the store everything of 04 is observable.
        assert!(refusals(&s, true).is_empty(), "{:?}", refusals(&s, true));
    }

    #[test]
    fn postgres_stores_are_refused() {
        assert!(sqlite_path("postgres://u@h/db").is_err());
        assert_eq!(
            sqlite_path("sqlite:///tmp/x.db").unwrap(),
            PathBuf::from("/tmp/x.db")
        );
        assert_eq!(sqlite_path("stub.db").unwrap(), PathBuf::from("stub.db"));
    }

    #[test]
    fn another_scenarios_store_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let s1 = load("01-first-use.toml");
        let files = stub_config::write(&s1, dir.path(), &stub_config::StubConfigOptions::default())
            .unwrap();
        assert_eq!(check_config(&s1, &files.config).unwrap(), files.database);
        // Story 04 has the same card but another seed, hence another key.
        let s4 = load("04-swap-depreciated-local-key.toml");
        let e = check_config(&s4, &files.config).unwrap_err().to_string();
        assert!(e.contains("another registration key"), "{e}");
        // A used store is refused.
        let conn = rusqlite::Connection::open(&files.database).unwrap();
        conn.execute(
            "INSERT INTO registrations (received_at, source_addr, raw, outcome) VALUES (0, '1', x'00', 'rejected')",
            [],
        )
        .unwrap();
        let e = check_config(&s1, &files.config).unwrap_err().to_string();
        assert!(e.contains("already holds 1 registrations"), "{e}");
    }
}
