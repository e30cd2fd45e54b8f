//! `manufacturer-sim`: the manufacturer key-server stub as a program.
//!
//! ```text
//! manufacturer-sim pki --out dev-pki
//! manufacturer-sim serve --listen 127.0.0.1:8443 --cert dev-pki/server.pem \
//!     --key dev-pki/server.key --client-ca dev-pki/ca.pem --signing-key dev-pki/signing.key
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use provisioning_stub::keys::DeviceKeySigner;
use provisioning_stub::manufacturer::pki::DevPki;
use provisioning_stub::manufacturer::{ManufacturerConfig, run, tls};

/// Manufacturer key-server stub (mutual TLS, Ed25519 device keys).
#[derive(Parser, Debug)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

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
            run(listener, config, async {
                let _ = tokio::signal::ctrl_c().await;
                tracing::info!("shutting down");
            })
            .await?;
        }
    }
    Ok(())
}
