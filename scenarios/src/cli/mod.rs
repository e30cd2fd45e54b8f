//! The `imeitrack` command line.
//!
//! One clap [`Cli`] with a [`Command`] per top-level subcommand; each lives in its own
//! module with an `Args` type and a `run(args) -> anyhow::Result<ExitCode>` function.
//! New subcommands (`run`, `list`, `check`) are added as further [`Command`] variants.

pub mod trace;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// `imeitrack`: SIM-swap scenarios, card probing and APDU traces.
#[derive(Debug, Parser)]
#[command(name = "imeitrack", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Decode, replay, export and import APDU traces.
    #[command(subcommand)]
    Trace(trace::TraceCommand),
}

/// Exit status when the command could not do its job (bad file, reader error, …).
pub const EXIT_ERROR: u8 = 2;

/// Parses the command line and runs it; errors are printed as `error: …`.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Trace(cmd) => trace::run(cmd),
    };
    match outcome {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}
