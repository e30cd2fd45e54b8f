//! `manufacturer-sim`: the manufacturer key-server stub as a program.
//!
//! ```text
//! manufacturer-sim pki --out dev-pki
//! manufacturer-sim serve --listen 127.0.0.1:8443 --cert dev-pki/server.pem \
//!     --key dev-pki/server.key --client-ca dev-pki/ca.pem --signing-key dev-pki/signing.key \
//!     --mmsc-listen 127.0.0.1:8080
//! ```
//!
//! With `--mmsc-listen` the manufacturer's MMSC stub (plain HTTP/1.1, `POST /mms`)
//! runs next to the key server; Ctrl-C stops both.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use provisioning_stub::keys::DeviceKeySigner;
use provisioning_stub::manufacturer::mmsc::{self, MmscConfig};
use provisioning_stub::manufacturer::pki::DevPki;
use provisioning_stub::manufacturer::{ManufacturerConfig, run, tls};

/// Manufacturer key-server stub (mutual TLS, Ed25519 device keys).
#[derive(Parser, Debug)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once at start; boxing the big variant would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
enum Command {
    /// Serve the key server over HTTPS with mutual TLS.
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8443")]
        listen: SocketAddr,
        /// Server certificate chain, PEM.
        #[arg(long)]
        cert: PathBuf,
        /// Server private key, PEM (PKCS#8, SEC1 or PKCS#1).
        #[arg(long)]
        key: PathBuf,
        /// CA that issues operators' client certificates, PEM.
        #[arg(long)]
        client_ca: PathBuf,
        /// Ed25519 signing seed, 64 hex digits.
        #[arg(long)]
        signing_key: PathBuf,
        /// Fee per confirmed key, minor units.
        #[arg(long, default_value_t = 50)]
        fee_minor: u64,
        /// ISO 4217 currency of the fee.
        #[arg(long, default_value = "EUR")]
        currency: String,
        /// Keep the ledger in this JSON file.
        #[arg(long)]
        state: Option<PathBuf>,
        /// Validity of issued keys in seconds (default: no expiry).
        #[arg(long)]
        key_validity_secs: Option<u64>,
        /// Also serve the manufacturer's MMSC (plain HTTP/1.1) on this address.
        #[arg(long)]
        mmsc_listen: Option<SocketAddr>,
        /// Path of the MMSC endpoint (statistics at PATH/stats).
        #[arg(long, default_value = "/mms")]
        mmsc_path: String,
    },
    /// Write a fresh development PKI (CA, server and operator certificates, signing key).
    Pki {
        /// Output directory (created if missing).
        #[arg(long)]
        out: PathBuf,
        /// Operator id (client certificate common name).
        #[arg(long, default_value = "mvno-dev")]
        operator: String,
    },
}

fn read(path: &PathBuf) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Pki { out, operator } => {
            let pki = DevPki::generate(&operator)?;
            pki.write_to(&out)?;
            println!(
                "wrote dev PKI to {} (operator {operator}, signing public key {})",
                out.display(),
                hex::encode(pki.signer.verifying_key().as_bytes())
            );
        }
        Command::Serve {
            listen,
            cert,
            key,
            client_ca,
            signing_key,
            fee_minor,
            currency,
            state,
            key_validity_secs,
            mmsc_listen,
            mmsc_path,
        } => {
            let tls = tls::server_config(&read(&cert)?, &read(&key)?, &read(&client_ca)?)?;
            let seed = zeroize::Zeroizing::new(read(&signing_key)?);
            let signer = DeviceKeySigner::from_hex(&seed)
                .context("signing key: expected 64 hex digits (Ed25519 seed)")?;
            let mut config = ManufacturerConfig::new(tls, Arc::new(signer));
            config.fee_per_key_minor = fee_minor;
            config.currency = currency;
            config.state_file = state;
            config.key_validity = key_validity_secs.map(Duration::from_secs);
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .with_context(|| format!("binding {listen}"))?;
            tracing::info!(address = %listener.local_addr()?, "manufacturer key server listening");
            let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
            let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
                let _ = rx.wait_for(|s| *s).await;
            };
            let mmsc_task = match mmsc_listen {
                Some(addr) => {
                    if !mmsc_path.starts_with('/') {
                        anyhow::bail!("--mmsc-path must start with '/'");
                    }
                    let l = tokio::net::TcpListener::bind(addr)
                        .await
                        .with_context(|| format!("binding {addr}"))?;
                    let local = l.local_addr()?;
                    tracing::info!(address = %local, path = %mmsc_path, "manufacturer MMSC listening");
                    let config = MmscConfig {
                        path: mmsc_path,
                        ..MmscConfig::default()
                    };
                    Some(tokio::spawn(mmsc::run(l, config, stopped(stop_rx.clone()))))
                }
                None => None,
            };
            tokio::spawn(async move {
                let _ = tokio::signal::ctrl_c().await;
                tracing::info!("shutting down");
                let _ = stop_tx.send(true);
            });
            run(listener, config, stopped(stop_rx)).await?;
            if let Some(task) = mmsc_task {
                task.await.context("MMSC task")?;
            }
        }
    }
    Ok(())
}
