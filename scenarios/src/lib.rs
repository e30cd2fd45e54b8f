//! # scenarios — SIM-swap scenario files, the runner and the `imeitrack` command
//!
//! Not built yet (issue 7).
