//! # scenarios — SIM-swap scenario files, the runner and the `imeitrack` command
//!
//! - [`cli`]: the `imeitrack` command line. Today it has the `trace` subcommands
//!   (decode, replay, export, import — issue 8); `run`, `list` and `check` for the
//!   scenario library are to be added as siblings (issue 7).
//! - [`world`]: the deterministic in-process world (cards, handsets, networks and SMSC,
//!   provisioning server, manufacturer on one virtual clock) the scenario engine plays.

pub mod cli;
pub mod world;
