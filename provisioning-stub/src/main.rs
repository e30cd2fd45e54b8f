//! `provisioning-stub`: the provisioning server stub's command line.
//!
//! ```text
//! provisioning-stub [--database URL] import-tac FILE
//! provisioning-stub [--database URL] import-cards FILE
//! provisioning-stub [--database URL] report --from YYYY-MM-DD --to YYYY-MM-DD [--csv]
//! provisioning-stub [--database URL] record-payment --config stub.toml --issuance ID
//!                   [--fee-request ID] [--amount MINOR] [--at TIME]
//! provisioning-stub [--database URL] serve --config stub.toml
//! ```
//!
//! `--database`: a SQLite file path (or `sqlite:PATH`), default `provisioning-stub.db`,
//! or `postgres://user@host/db`. File formats and the schema: `docs/stub.md`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use provisioning_stub::devices::{Date, read_devices_csv};
use provisioning_stub::inventory::read_cards_csv;
use provisioning_stub::payments::{PaymentOutcome, PaymentRequest, record_payment};
use provisioning_stub::report::{Period, report};
use provisioning_stub::store::{AnyStore, Store};

#[derive(Parser)]
#[command(
    name = "provisioning-stub",
    version,
    about = "imeitrack provisioning server stub"
)]
struct Cli {
    /// Database: SQLite file path (or sqlite:PATH), or postgres://… URL
    /// [default: the config file's `database`, else provisioning-stub.db].
    #[arg(long, global = true)]
    database: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Import the device database (TAC → model facts) from CSV; all rows or none.
    ImportTac {
        /// CSV file (format: docs/stub.md).
        file: PathBuf,
    },
    /// Import the card inventory (ICCID, IMSI, MSISDN, key) from CSV; all rows or none.
    ImportCards {
        /// CSV file (format: docs/stub.md).
        file: PathBuf,
    },
    /// Print the settlement per operator and per manufacturer for a period.
    Report {
        /// First day (UTC), YYYY-MM-DD.
        #[arg(long, value_parser = parse_date)]
        from: Date,
        /// Last day (UTC, included), YYYY-MM-DD.
        #[arg(long, value_parser = parse_date)]
        to: Date,
        /// CSV instead of a table.
        #[arg(long)]
        csv: bool,
    },
    /// Record an operator's payment of a key issuance's fee request (payment and the
    /// manufacturer's share, each once; a repeat reports "already recorded").
    RecordPayment {
        /// Configuration file (for the billing terms and the database).
        #[arg(long)]
        config: PathBuf,
        /// The key issuance whose fee request is paid.
        #[arg(long, required_unless_present = "fee_request")]
        issuance: Option<i64>,
        /// The fee request (ledger entry id) paid.
        #[arg(long)]
        fee_request: Option<i64>,
        /// Amount paid in minor units (must equal the fee request; default: its amount).
        #[arg(long)]
        amount: Option<i64>,
        /// When it was paid: YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ or epoch milliseconds
        /// [default: now].
        #[arg(long)]
        at: Option<String>,
    },
    /// Run the provisioning server: SMPP ESME, registrations, OMA CP pushes, metrics.
    Serve {
        /// Configuration file (TOML, format: docs/stub.md).
        #[arg(long)]
        config: PathBuf,
    },
}

const DEFAULT_DATABASE: &str = "provisioning-stub.db";

fn parse_date(s: &str) -> Result<Date, String> {
    Date::parse(s)
}

#[tokio::main]
async fn main() -> ExitCode {
    let result = run(Cli::parse()).await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("provisioning-stub: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    if let Command::Serve { config } = &cli.command {
        tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
            )
            .with_writer(std::io::stderr)
            .init();
        return serve(cli.database.clone(), config).await;
    }
    if let Command::RecordPayment {
        config,
        issuance,
        fee_request,
        amount,
        at,
    } = &cli.command
    {
        let config = provisioning_stub::config::StubConfig::load(config)?;
        let url = cli
            .database
            .clone()
            .or_else(|| config.database.clone())
            .unwrap_or_else(|| DEFAULT_DATABASE.to_owned());
        let store = open(&url).await?;
        let request = PaymentRequest {
            issuance_id: *issuance,
            fee_request_id: *fee_request,
            amount_minor: *amount,
            at: at.clone(),
        };
        let outcome = record_payment(&store, &config.billing, &request).await?;
        let (what, entries) = match &outcome {
            PaymentOutcome::Recorded(e) => ("recorded", e),
            PaymentOutcome::AlreadyRecorded(e) => ("already recorded", e),
        };
        let issuance = entries.first().map_or(0, |e| e.issuance_id.0);
        println!("key issuance {issuance}: payment {what}");
        for e in entries {
            println!(
                "  {} #{}: {} {} {} {}",
                e.kind,
                e.id.0,
                e.party.kind_str(),
                e.party.name(),
                e.amount_minor,
                e.currency
            );
        }
        return Ok(());
    }
    let database = cli.database.unwrap_or_else(|| DEFAULT_DATABASE.to_owned());
    match cli.command {
        Command::ImportTac { file } => {
            let devices = read_devices_csv(&file)?;
            let store = open(&database).await?;
            let s = store.import_devices(&devices).await?;
            println!(
                "{}: {} device models imported ({} new, {} updated)",
                file.display(),
                devices.len(),
                s.inserted,
                s.updated
            );
        }
        Command::ImportCards { file } => {
            let cards = read_cards_csv(&file)?;
            let store = open(&database).await?;
            let s = store.import_cards(&cards).await?;
            println!(
                "{}: {} cards imported ({} new, {} updated)",
                file.display(),
                cards.len(),
                s.inserted,
                s.updated
            );
        }
        Command::Report { from, to, csv } => {
            anyhow::ensure!(from <= to, "--from {from} is after --to {to}");
            let store = open(&database).await?;
            let settlement = report(&store, Period { from, to }).await?;
            if csv {
                print!("{}", settlement.to_csv());
            } else {
                print!("{}", settlement.to_table());
            }
        }
        Command::Serve { config } => serve(Some(database), &config).await?,
        Command::RecordPayment { .. } => {} // handled above (needs the config first)
    }
    Ok(())
}

/// `serve`: loads the configuration, opens the store, binds the admin port and runs
/// until SIGTERM or Ctrl-C.
async fn serve(database: Option<String>, config: &std::path::Path) -> anyhow::Result<()> {
    use provisioning_stub::config::StubConfig;
    use provisioning_stub::metrics::Metrics;
    let config = StubConfig::load(config)?;
    let url = database
        .or_else(|| config.database.clone())
        .unwrap_or_else(|| DEFAULT_DATABASE.to_owned());
    let store = open(&url).await?;
    let admin = tokio::net::TcpListener::bind(config.admin_listen)
        .await
        .with_context(|| format!("admin port {}", config.admin_listen))?;
    // The bound address on stdout, so a supervisor (or a test) using port 0 finds it.
    println!("admin listening on {}", admin.local_addr()?);
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let shutdown = async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM"),
            _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT"),
        }
    };
    provisioning_stub::serve::run(
        &config,
        store,
        admin,
        std::sync::Arc::new(Metrics::default()),
        shutdown,
    )
    .await?;
    Ok(())
}

async fn open(url: &str) -> anyhow::Result<AnyStore> {
    AnyStore::open(url)
        .await
        .with_context(|| format!("opening database {}", redact(url)))
}

/// Hides a password in `scheme://user:password@host…`.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.split_once('@') {
        Some((userinfo, host)) if userinfo.contains(':') => {
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{scheme}://{user}:***@{host}")
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_are_not_printed() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("stub.db"), "stub.db");
    }
}
