//! The `imeitrack` command line.
//!
//! One clap [`Cli`] with a [`Command`] per top-level subcommand; each lives in its own
//! module with an `Args` type and a `run(args) -> anyhow::Result<ExitCode>` function.
//! `run`, `list` and `check` (scenario files) live in [`run`]; `serve-vpcd` (a scenario
//! card for `run --reader`) in [`serve`].

pub mod run;
pub mod serve;
pub mod stub_config;
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
    /// Play scenario files (default: the whole library) and report what happened.
    Run(run::RunArgs),
    /// List the scenarios found, with their titles.
    List(run::ListArgs),
    /// Validate scenario files without running them.
    Check(run::CheckArgs),
    /// Serve a scenario's card to pcscd through vpcd (for `run --reader pcsc:NAME`).
    ServeVpcd(serve::ServeArgs),
    /// Write a `provisioning-stub serve` configuration (inventory, device database,
    /// keys) for a scenario, to play it with `run --stub`.
    StubConfig(stub_config::StubConfigArgs),
}

/// Exit status when the command could not do its job (bad file, reader error, …).
pub const EXIT_ERROR: u8 = 2;

/// Parses the command line and runs it; errors are printed as `error: …`.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Trace(cmd) => trace::run(cmd),
        Command::Run(args) => run::run(args),
        Command::List(args) => run::list(args),
        Command::Check(args) => run::check(args),
        Command::ServeVpcd(args) => serve::run(args),
        Command::StubConfig(args) => stub_config::run(args),
    };
    match outcome {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}
