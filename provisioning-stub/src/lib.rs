//! # provisioning-stub — the server side of imeitrack
//!
//! SMPP ESME ingress, registration verification, device database, depreciation
//! policy, key sources, OMA CP encoder, billing ledger and store. Not built yet (issue 5).

pub mod keys;
pub mod manufacturer;
pub mod smpp;
