//! `handset-sim`: debugging aids for the handset emulator's card readers.
//!
//! - `handset-sim readers` lists the PC/SC readers `pcscd` knows.
//! - `handset-sim send --reader NAME APDU...` sends command APDUs through the T=0 layer
//!   (GET RESPONSE / re-issue handled) and prints each final response.

use anyhow::{Context as _, Result};
use clap::{Parser, Subcommand};
use handset_sim::reader::pcsc::{PcscReader, ReaderSelector, list_readers};
use handset_sim::t0::{DEFAULT_MAX_ROUNDS, transceive};
use handset_sim::{CardReader, Protocol};

#[derive(Parser)]
#[command(
    name = "handset-sim",
    version,
    about = "Handset emulator card-reader tools"
)]
struct Cli {
    /// More log output on stderr (-v: T=0 exchanges, -vv: everything).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List the PC/SC readers known to pcscd.
    Readers,
    /// Send command APDUs (hex) to the card in a PC/SC reader and print the responses.
    Send {
        /// Reader: exact name, index from `readers`, or a unique part of the name.
        #[arg(short, long)]
        reader: String,
        /// Skip the T=0 layer: transmit each APDU as is and print the raw answer.
        #[arg(long)]
        raw: bool,
        /// Power-cycle the card before the first APDU (default: keep its state).
        #[arg(long)]
        reset: bool,
        /// Command APDUs in hex; spaces and colons inside an argument are ignored.
        #[arg(required = true, value_name = "APDU_HEX")]
        apdus: Vec<String>,
    },
}

fn spaced(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn parse_hex(text: &str) -> Result<Vec<u8>> {
    let clean: String = text
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ':')
        .collect();
    hex::decode(&clean).with_context(|| format!("not hex: {text:?}"))
}

fn readers() -> Result<()> {
    let names = list_readers()?;
    if names.is_empty() {
        println!("no PC/SC readers found (for a virtual one: Debian package vsmartcard-vpcd)");
    }
    for (i, name) in names.iter().enumerate() {
        println!("{i}: {name}");
    }
    Ok(())
}

fn send(reader: &str, raw: bool, reset: bool, apdus: &[String]) -> Result<()> {
    let commands = apdus
        .iter()
        .map(|a| parse_hex(a))
        .collect::<Result<Vec<_>>>()?;
    let mut r = PcscReader::open(&ReaderSelector::Auto(reader.to_owned()))?;
    let atr = if reset {
        r.power_on()?
    } else {
        r.connect_keep()?
    };
    let proto = match r.protocol() {
        Protocol::T0 => "T=0",
        Protocol::T1 => "T=1",
    };
    println!(
        "reader: {}\nATR: {}\nprotocol: {proto}",
        r.name(),
        spaced(&atr)
    );
    for cmd in &commands {
        println!("> {}", spaced(cmd));
        let rsp = if raw {
            r.transmit(cmd)?
        } else {
            transceive(&mut r, cmd, DEFAULT_MAX_ROUNDS)?.to_bytes()
        };
        println!("< {}", spaced(&rsp));
    }
    // Leave the card powered with its state, so a next invocation can continue.
    r.release();
    Ok(())
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let default = match cli.verbose {
        0 => "warn",
        1 => "warn,handset_sim=debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let outcome = match &cli.command {
        Command::Readers => readers(),
        Command::Send {
            reader,
            raw,
            reset,
            apdus,
        } => send(reader, *raw, *reset, apdus),
    };
    // A plain message, not anyhow's Debug form (which adds a backtrace when
    // RUST_BACKTRACE is set).
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
