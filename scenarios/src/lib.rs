//! # scenarios — SIM-swap scenario files, the runner and the `imeitrack` command
//!
//! - [`cli`]: the `imeitrack` command line. Today it has the `trace` subcommands
//!   (decode, replay, export, import — issue 8); `run`, `list` and `check` for the
//!   scenario library are to be added as siblings (issue 7).

pub mod cli;
