//! `imeitrack run | list | check`: play, list and validate scenario files
//! (`docs/scenarios.md`).
//!
//! Exit status of `run`: 0 when every expectation held, 1 when one failed, 2 when a
//! file is invalid or a scenario could not be played (including "engine not built
//! yet"). `check`: 0 when every file is valid, 1 when one is not, 2 on I/O errors.

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Mutex;

use anyhow::{Context as _, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use crate::report::{self, html, junit};
use crate::runner::{
    EXIT_ERROR, EXIT_FAILED, EngineError, EngineFactory, EngineOptions, Runner, ScenarioResult,
    exit_status,
};
use crate::scenario::{self, Scenario, ScenarioError};

/// `imeitrack run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Scenario files or directories (default: the shipped library).
    pub paths: Vec<PathBuf>,
    /// Scenarios played at once (default: the number of CPUs).
    #[arg(long, short)]
    pub jobs: Option<usize>,
    /// Write a JUnit XML report here.
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// Write the HTML report (DIR/index.html, one self-contained file) here.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Use an external provisioning stub at HOST:PORT (through the network
    /// simulator's SMPP side) instead of the embedded one.
    /// The world's SMSC listens for SMPP there and the stub binds to it as ESME; one
    /// scenario per run (`docs/scenarios.md`, "External stub").
    #[arg(long, value_name = "HOST:PORT")]
    pub stub: Option<String>,
    /// The external stub's configuration as `imeitrack stub-config` wrote it: the
    /// world reads the stub's verdicts and ledger from its SQLite store.
    #[arg(long, value_name = "FILE", requires = "stub")]
    pub stub_config: Option<PathBuf>,
    /// Use a real (or vpcd) card in this PC/SC reader for the scenario's card; one
    /// scenario per run (docs/scenarios.md, "A card in a PC/SC reader").
    #[arg(long, value_name = "pcsc:NAME")]
    pub reader: Option<String>,
    /// Write one APDU trace per card and scenario into this directory
    /// (`<scenario>.<card>.apdu`, docs/traces.md); created if missing.
    #[arg(long, value_name = "DIR")]
    pub trace_dir: Option<PathBuf>,
    /// With --reader: the scenario card that is in the reader (default: the only one).
    #[arg(long, value_name = "NAME", requires = "reader")]
    pub card: Option<String>,
}

/// `imeitrack list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Scenario files or directories (default: the shipped library).
    pub paths: Vec<PathBuf>,
}

/// `imeitrack check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Scenario files or directories to validate.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}

/// The engine `imeitrack run` plays scenarios with: the in-process world
/// ([`crate::engine::WorldFactory`]). `None` would make `run` validate only.
pub fn default_factory() -> Option<&'static dyn EngineFactory> {
    Some(&crate::engine::WorldFactory)
}

fn paths_or_library(paths: &[PathBuf]) -> Vec<PathBuf> {
    if paths.is_empty() {
        vec![scenario::library_dir()]
    } else {
        paths.to_vec()
    }
}

/// Loads every file; returns the valid scenarios and the errors.
fn load_all(paths: &[PathBuf]) -> Result<(Vec<Scenario>, Vec<ScenarioError>)> {
    let files = scenario::discover(&paths_or_library(paths))?;
    let mut ok = Vec::new();
    let mut bad = Vec::new();
    for f in files {
        match scenario::load(&f) {
            Ok(s) => ok.push(s),
            Err(e) => bad.push(e),
        }
    }
    Ok((ok, bad))
}

/// `imeitrack check FILE…`.
pub fn check(args: CheckArgs) -> Result<ExitCode> {
    let files = scenario::discover(&args.paths)?;
    let mut invalid = 0;
    for f in &files {
        match scenario::load(f) {
            Ok(s) => println!("ok  {} ({} steps): {}", f.display(), s.steps.len(), s.title),
            Err(e @ ScenarioError::Io { .. }) => return Err(e.into()),
            Err(e) => {
                invalid += 1;
                eprintln!("{e}\n");
            }
        }
    }
    if invalid > 0 {
        eprintln!("{invalid} of {} files invalid", files.len());
        return Ok(ExitCode::from(EXIT_FAILED));
    }
    Ok(ExitCode::SUCCESS)
}

/// `imeitrack list`.
pub fn list(args: ListArgs) -> Result<ExitCode> {
    let (ok, bad) = load_all(&args.paths)?;
    let width = ok.iter().map(|s| s.name.len()).max().unwrap_or(0);
    for s in &ok {
        println!(
            "{:<width$}  {:>3} steps  {}",
            s.name,
            s.steps.len(),
            s.title
        );
    }
    for e in &bad {
        eprintln!("{e}\n");
    }
    Ok(if bad.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_ERROR)
    })
}

/// `imeitrack run` with the engine linked into this build.
pub fn run(args: RunArgs) -> Result<ExitCode> {
    match default_factory() {
        Some(f) => run_with(args, f),
        None => {
            // Validate first, so the files are known good, then say why nothing ran.
            let (ok, bad) = load_all(&args.paths)?;
            for e in &bad {
                eprintln!("{e}\n");
            }
            eprintln!("{} scenario files valid, {} invalid", ok.len(), bad.len());
            Err(EngineError::NotBuilt.into())
        }
    }
}

/// `imeitrack run` with a given engine: play, show progress, print the summary, write
/// `--junit` and `--report`.
pub fn run_with(args: RunArgs, factory: &dyn EngineFactory) -> Result<ExitCode> {
    let (scenarios, bad) = load_all(&args.paths)?;
    if !bad.is_empty() {
        for e in &bad {
            eprintln!("{e}\n");
        }
        anyhow::bail!("{} invalid scenario files; nothing was run", bad.len());
    }
    if args.reader.is_some() && scenarios.len() != 1 {
        anyhow::bail!(
            "--reader plays one scenario per run ({} given): each starts from a freshly personalised card (docs/scenarios.md, \"A card in a PC/SC reader\")",
            scenarios.len()
        );
    }
    if let Some(addr) = &args.stub
        && scenarios.len() != 1
    {
        anyhow::bail!(
            "--stub {addr}: plays exactly one scenario per run (each needs its own fresh stub configuration from `imeitrack stub-config`), but {} were given",
            scenarios.len()
        );
    }
    let jobs = args.jobs.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    if let Some(dir) = &args.trace_dir {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let runner = Runner {
        jobs,
        options: EngineOptions {
            stub: args.stub.clone(),
            reader: args.reader.clone(),
            trace_dir: args.trace_dir.clone(),
            card: args.card.clone(),
            stub_config: args.stub_config.clone(),
        },
    };
    let bar = std::io::stderr().is_terminal().then(|| {
        let b = ProgressBar::new(scenarios.len() as u64);
        b.set_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} {elapsed} {wide_msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        b
    });
    let out = Mutex::new(());
    let on_done = |r: &ScenarioResult| match &bar {
        Some(b) => {
            b.inc(1);
            b.set_message(format!("{} {}", r.outcome.word(), r.name));
        }
        None => {
            let _g = out.lock().unwrap_or_else(|p| p.into_inner());
            println!("{}", report::plain_line(r));
        }
    };
    let results = runner.run(&scenarios, factory, &on_done);
    if let Some(b) = &bar {
        b.finish_and_clear();
    } else {
        println!();
    }
    print!("{}", report::summary_table(&results));
    if let Some(path) = &args.junit {
        std::fs::write(path, junit::junit_xml("imeitrack", &results))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(dir) = &args.report {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let path = dir.join(html::INDEX);
        std::fs::write(&path, html::html_report("imeitrack run", &results))
            .with_context(|| format!("writing {}", path.display()))?;
        println!("report: {}", path.display());
    }
    if let Some(dir) = &args.trace_dir {
        println!("APDU traces (one per card and scenario): {}", dir.display());
    }
    Ok(ExitCode::from(exit_status(&results)))
}
