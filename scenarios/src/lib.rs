//! # scenarios — SIM-swap scenario files, the runner and the `imeitrack` command
//!
//! - [`scenario`]: the scenario file format (TOML), its parser with `file:line:column`
//!   errors, and validation into a [`scenario::Scenario`] (issue 7; `docs/scenarios.md`).
//! - [`runner`]: plays scenarios against an [`runner::Engine`], checks expectations
//!   against [`runner::Observation`]s, runs many in parallel with deterministic seeds.
//! - [`report`]: summary table, JUnit XML and the HTML report with ladder diagrams.
//! - [`cli`]: the `imeitrack` command line: `trace` (decode, replay, export, import —
//!   issue 8) and `run`, `list`, `check` (issue 7).
//! - [`world`]: the deterministic in-process world (cards, handsets, networks and SMSC,
//!   provisioning server, manufacturer on one virtual clock) the scenario engine plays.
//! - [`engine`]: the scenario [`runner::Engine`] that plays scenario steps on a [`world`].

pub mod cli;
pub mod engine;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod world;
