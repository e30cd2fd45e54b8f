//! Plays scenarios: steps in order against an [`Engine`], expectations checked after
//! each step ([`check`]), many scenarios in parallel on worker threads.
//!
//! Determinism: a scenario's randomness comes only from [`Scenario::seed`] and its time
//! only from the engine's virtual clock, so results do not depend on `--jobs` or on
//! the order in which workers pick scenarios; results are returned in input order.
//! A scenario stops at the first step whose expectations fail (later steps would
//! mostly report the same cause again).

pub mod check;
pub mod engine;

use std::fmt;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub use check::{Mismatch, check};
pub use engine::{
    CardObservation, Engine, EngineError, EngineFactory, EngineOptions, Event, FleetObservation,
    HandsetObservation, Lane, LedgerEntry, NoEngine, Observation, SentRegistration, Verdict,
    VerdictOutcome,
};

use crate::scenario::Scenario;

/// Exit status: every expectation held.
pub const EXIT_PASSED: u8 = 0;
/// Exit status: at least one expectation failed.
pub const EXIT_FAILED: u8 = 1;
/// Exit status: something could not be run (bad file, engine error, missing engine).
pub const EXIT_ERROR: u8 = 2;

/// The messages one step produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepEvents {
    /// 1-based step index.
    pub index: usize,
    /// Step label.
    pub label: String,
    /// Virtual time when the step started.
    pub t_ms: u64,
    /// Messages, in time order.
    pub events: Vec<Event>,
}

/// A failed step: which step, and every expectation of it that did not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// 1-based step index.
    pub step: usize,
    /// Step label.
    pub label: String,
    /// Line of the step in the file.
    pub line: usize,
    /// What did not hold.
    pub mismatches: Vec<Mismatch>,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "step {} \"{}\" (line {})",
            self.step, self.label, self.line
        )?;
        for m in &self.mismatches {
            write!(
                f,
                "\n    expected {}\n    seen     {}",
                m.expectation, m.seen
            )?;
        }
        Ok(())
    }
}

/// How a scenario ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every expectation held.
    Passed,
    /// An expectation failed.
    Failed(Failure),
    /// The scenario could not be played (the message says why).
    Error(String),
}

impl Outcome {
    /// `passed`, `FAILED` or `ERROR`.
    pub fn word(&self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::Failed(_) => "FAILED",
            Outcome::Error(_) => "ERROR",
        }
    }
}

/// The result of one scenario.
#[derive(Debug, Clone)]
pub struct ScenarioResult {
    /// Scenario name (file stem).
    pub name: String,
    /// Title.
    pub title: String,
    /// File.
    pub path: PathBuf,
    /// Steps in the file.
    pub steps_total: usize,
    /// Steps played (up to and including a failing one).
    pub steps_run: usize,
    /// Outcome.
    pub outcome: Outcome,
    /// Wall-clock time.
    pub elapsed: Duration,
    /// Virtual time at the end.
    pub virtual_ms: u64,
    /// Seed used.
    pub seed: u64,
    /// Messages, per step played.
    pub steps: Vec<StepEvents>,
}

/// Plays one scenario.
pub fn run_scenario(
    scenario: &Scenario,
    factory: &dyn EngineFactory,
    options: &EngineOptions,
) -> ScenarioResult {
    let started = Instant::now();
    let mut result = ScenarioResult {
        name: scenario.name.clone(),
        title: scenario.title.clone(),
        path: scenario.path.clone(),
        steps_total: scenario.steps.len(),
        steps_run: 0,
        outcome: Outcome::Passed,
        elapsed: Duration::ZERO,
        virtual_ms: 0,
        seed: scenario.seed,
        steps: Vec::new(),
    };
    let mut engine = match factory.start(scenario, options) {
        Ok(e) => e,
        Err(e) => {
            result.outcome = Outcome::Error(e.to_string());
            result.elapsed = started.elapsed();
            return result;
        }
    };
    let mut before = engine.observe();
    for step in &scenario.steps {
        result.steps_run += 1;
        let t_ms = before.now_ms;
        match engine.step(step) {
            Ok(events) => result.steps.push(StepEvents {
                index: step.index,
                label: step.label.clone(),
                t_ms,
                events,
            }),
            Err(e) => {
                result.outcome = Outcome::Error(format!(
                    "step {} \"{}\" (line {}): {e}",
                    step.index, step.label, step.line
                ));
                break;
            }
        }
        let after = engine.observe();
        if let Some(exp) = &step.expect {
            let mismatches = check(exp, &before, &after);
            if !mismatches.is_empty() {
                result.outcome = Outcome::Failed(Failure {
                    step: step.index,
                    label: step.label.clone(),
                    line: step.line,
                    mismatches,
                });
                before = after;
                break;
            }
        }
        before = after;
    }
    if let Err(e) = engine.finish() {
        let e = format!("when the scenario ended: {e}");
        result.outcome = match std::mem::replace(&mut result.outcome, Outcome::Passed) {
            Outcome::Passed => Outcome::Error(e),
            Outcome::Error(m) => Outcome::Error(format!("{m}; {e}")),
            Outcome::Failed(f) => Outcome::Error(format!("{f}\n{e}")),
        };
    }
    result.virtual_ms = before.now_ms;
    result.elapsed = started.elapsed();
    result
}

/// Runs scenarios on `jobs` worker threads.
#[derive(Debug, Clone)]
pub struct Runner {
    /// Worker threads (at least 1).
    pub jobs: usize,
    /// Options passed to every engine.
    pub options: EngineOptions,
}

impl Runner {
    /// Plays every scenario; `on_done` is called (from the worker threads, one at a
    /// time) as each finishes. Results come back in input order.
    pub fn run(
        &self,
        scenarios: &[Scenario],
        factory: &dyn EngineFactory,
        on_done: &(dyn Fn(&ScenarioResult) + Sync),
    ) -> Vec<ScenarioResult> {
        let next = AtomicUsize::new(0);
        let slots: Mutex<Vec<Option<ScenarioResult>>> = Mutex::new(vec![None; scenarios.len()]);
        let report = Mutex::new(());
        let jobs = self.jobs.clamp(1, scenarios.len().max(1));
        std::thread::scope(|s| {
            for _ in 0..jobs {
                s.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(sc) = scenarios.get(i) else { break };
                        let r = run_scenario(sc, factory, &self.options);
                        {
                            let _g = report.lock().unwrap_or_else(|p| p.into_inner());
                            on_done(&r);
                        }
                        slots.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(r);
                    }
                });
            }
        });
        slots
            .into_inner()
            .unwrap_or_else(|p| p.into_inner())
            .into_iter()
            .flatten()
            .collect()
    }
}

/// The exit status for a set of results: [`EXIT_ERROR`] if any could not run, else
/// [`EXIT_FAILED`] if any failed, else [`EXIT_PASSED`].
pub fn exit_status(results: &[ScenarioResult]) -> u8 {
    if results
        .iter()
        .any(|r| matches!(r.outcome, Outcome::Error(_)))
    {
        EXIT_ERROR
    } else if results
        .iter()
        .any(|r| matches!(r.outcome, Outcome::Failed(_)))
    {
        EXIT_FAILED
    } else {
        EXIT_PASSED
    }
}

#[cfg(test)]
mod tests;
