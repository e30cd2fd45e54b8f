//! `imeitrack stub-config FILE --out DIR [--smsc HOST:PORT] [--manufacturer-port PORT]
//! [--no-import]`: writes what `provisioning-stub serve` needs to stand in for the
//! scenario's stub ([`crate::engine::stub_config`]), then prints the commands to start it.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use crate::engine::stub_config::{self, StubConfigOptions};
use crate::scenario;

/// `imeitrack stub-config`.
#[derive(Debug, Args)]
pub struct StubConfigArgs {
    /// The scenario file.
    pub file: PathBuf,
    /// Directory to write into (created if missing; files in it are replaced).
    #[arg(long)]
    pub out: PathBuf,
    /// Where the world will listen for the stub (`run --stub HOST:PORT`).
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:2775")]
    pub smsc: String,
    /// First port of the manufacturers' key servers on 127.0.0.1.
    #[arg(long, value_name = "PORT", default_value_t = 8443)]
    pub manufacturer_port: u16,
    /// Only write the CSV files; do not create `stub.db`.
    #[arg(long)]
    pub no_import: bool,
}

/// Runs `stub-config`.
pub fn run(args: StubConfigArgs) -> Result<ExitCode> {
    let s = scenario::load(&args.file)?;
    let options = StubConfigOptions {
        smsc: args.smsc,
        manufacturer_base_port: args.manufacturer_port,
        import: !args.no_import,
        ..StubConfigOptions::default()
    };
    let files = stub_config::write(&s, &args.out, &options)?;
    println!(
        "wrote {} ({} cards, {} device models{})",
        files.config.display(),
        files.cards,
        files.devices,
        if options.import {
            format!(", imported into {}", files.database.display())
        } else {
            String::new()
        }
    );
    match std::fs::read_to_string(args.out.join("README.txt")) {
        Ok(t) => print!("\n{t}"),
        Err(e) => eprintln!("README.txt: {e}"),
    }
    Ok(ExitCode::SUCCESS)
}
