//! `imeitrack run --trace-dir DIR`: one `.apdu` trace per card and scenario, and the
//! card a trace replays against, personalised from the scenario file exactly as the
//! engine does (`docs/traces.md` §6, "Scenario traces").
//!
//! A trace file is `DIR/<scenario file stem>.<card>.apdu` (characters of the card
//! name other than letters, digits, `-`, `_` and `.` are written `%XX`, so fleet
//! member `fleet#3` becomes `fleet%233`). Its header:
//!
//! ```text
//! #!imeitrack-trace v1
//! # producer: imeitrack 0.1.0 run (scenario engine, world card log)
//! # scenario-file: scenarios/01-first-use.toml
//! # scenario: 01-first-use: First use: a new card registers its handset
//! # seed: 1234
//! # card: alice
//! # iccid: …
//! # imsi: …
//! # handset: phone (IMEI 490154203237518)
//! # card-clock-ms: 0
//! # card-clock: follows-time
//! ```
//!
//! `scenario-file` is relative to the workspace the scenario file is in (the nearest
//! directory above it whose `Cargo.toml` has `[workspace]`), else to the current
//! directory, else absolute; `imeitrack trace replay` looks it up relative to the
//! current directory and to every directory above the trace file. The card is
//! personalised again from that file and the `card` name ([`card_personalisation`]):
//! nothing secret (the registration key) is written into the trace.

use std::path::{Path, PathBuf};

use applet::card::{CardNvm, Personalisation};
use handset_sim::terminal::uicc::{CardClock, SimulatedUicc};
use handset_sim::trace::{Trace, WriteOptions, write_trace};

use super::WorldEngine;
use crate::runner::{Engine, EngineError, Event, Observation};
use crate::scenario::{Scenario, Step};

/// Header key naming the scenario file a trace was recorded from.
pub const SCENARIO_FILE_KEY: &str = "scenario-file";

/// `producer` of scenario traces.
pub fn producer() -> String {
    format!(
        "imeitrack {} run (scenario engine, world card log)",
        env!("CARGO_PKG_VERSION")
    )
}

/// The personalisation the engine gives `card` in `scenario` (blank NVM): the world
/// is built as for a run and asked what it personalised the card with.
pub fn card_personalisation(
    scenario: &Scenario,
    card: &str,
) -> Result<Personalisation, EngineError> {
    let engine = WorldEngine::new(scenario)?;
    engine
        .world()
        .card_personalisation(card)
        .cloned()
        .map_err(|e| EngineError::Failed(format!("{}: {e}", scenario.path.display())))
}

/// A fresh simulated card for `card` of `scenario`, as the engine builds it, with a
/// manual clock (a replay moves it: [`handset_sim::trace::card::replay_card`]).
pub fn fresh_scenario_card(scenario: &Scenario, card: &str) -> Result<SimulatedUicc, EngineError> {
    let p = card_personalisation(scenario, card)?;
    SimulatedUicc::with_nvm(&p, CardNvm::new(), CardClock::manual())
        .map_err(|f| EngineError::Failed(format!("card {card}: personalisation failed: {f:?}")))
}

/// The file name of `card`'s trace in `scenario` (see the module docs).
pub fn trace_file_name(scenario: &Scenario, card: &str) -> String {
    let stem = scenario.path.file_stem().map_or_else(
        || scenario.name.clone(),
        |s| s.to_string_lossy().into_owned(),
    );
    let mut name = escape(&stem);
    name.push('.');
    name.push_str(&escape(card));
    name.push_str(".apdu");
    name
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// How a scenario file is named in trace headers (see the module docs).
pub fn scenario_label(path: &Path) -> String {
    let abs = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let workspace = abs.ancestors().skip(1).find(|d| {
        std::fs::read_to_string(d.join("Cargo.toml")).is_ok_and(|t| t.contains("[workspace]"))
    });
    let base = workspace
        .map(Path::to_path_buf)
        .or_else(|| std::env::current_dir().ok());
    let rel = base
        .and_then(|b| abs.strip_prefix(b).ok().map(Path::to_path_buf))
        .unwrap_or(abs);
    rel.to_string_lossy().replace('\\', "/")
}

/// Every card's trace so far, with its file name, in card-name order.
pub fn card_traces(
    engine: &WorldEngine,
    scenario: &Scenario,
) -> Result<Vec<(String, Trace)>, EngineError> {
    let mut out = Vec::new();
    for (card, mut trace) in engine.world().card_traces() {
        let from_world = std::mem::take(&mut trace.header.fields);
        let h = &mut trace.header;
        h.set("producer", producer());
        h.set(SCENARIO_FILE_KEY, scenario_label(&scenario.path));
        h.set(
            "scenario",
            format!("{}: {}", scenario.name, scenario.title.trim()),
        );
        h.set("seed", scenario.seed.to_string());
        h.fields.extend(from_world);
        out.push((trace_file_name(scenario, &card), trace));
    }
    Ok(out)
}

/// Writes [`card_traces`] into `dir` (which must exist); returns the files written.
pub fn write_card_traces(
    engine: &WorldEngine,
    scenario: &Scenario,
    dir: &Path,
) -> Result<Vec<PathBuf>, EngineError> {
    let mut written = Vec::new();
    for (name, trace) in card_traces(engine, scenario)? {
        let path = dir.join(&name);
        let mut bytes = Vec::new();
        write_trace(&mut bytes, &trace, WriteOptions::default())
            .and_then(|()| std::fs::write(&path, &bytes))
            .map_err(|e| EngineError::Failed(format!("writing {}: {e}", path.display())))?;
        written.push(path);
    }
    Ok(written)
}

/// A [`WorldEngine`] that writes its cards' traces into a directory when the scenario
/// ends ([`Engine::finish`]): what `--trace-dir` plugs into the runner.
pub struct TracingEngine {
    inner: WorldEngine,
    scenario: Scenario,
    dir: PathBuf,
}

impl TracingEngine {
    /// Wraps `inner`, which plays `scenario`; traces go to `dir`.
    pub fn new(inner: WorldEngine, scenario: &Scenario, dir: &Path) -> Self {
        TracingEngine {
            inner,
            scenario: scenario.clone(),
            dir: dir.to_path_buf(),
        }
    }
}

impl Engine for TracingEngine {
    fn step(&mut self, step: &Step) -> Result<Vec<Event>, EngineError> {
        self.inner.step(step)
    }

    fn observe(&self) -> Observation {
        self.inner.observe()
    }

    fn finish(&mut self) -> Result<(), EngineError> {
        write_card_traces(&self.inner, &self.scenario, &self.dir).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_card_names_are_escaped() {
        assert_eq!(escape("alice"), "alice");
        assert_eq!(escape("fleet#3"), "fleet%233");
        assert_eq!(escape("a/b c"), "a%2Fb%20c");
        assert_eq!(escape("é"), "%C3%A9");
    }

    #[test]
    fn library_files_are_named_from_the_workspace() {
        let p = crate::scenario::library_dir().join("01-first-use.toml");
        assert_eq!(scenario_label(&p), "scenarios/01-first-use.toml");
    }
}
