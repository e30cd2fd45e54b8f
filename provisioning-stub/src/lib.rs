//! # provisioning-stub — the server side of imeitrack
//!
//! SMPP ESME ingress, registration verification, device database, depreciation
//! policy, key sources, OMA CP encoder, billing ledger and store. Built so far:
//!
//! - [`inventory`]: card inventory (ICCID, IMSI, MSISDN, registration key) from CSV;
//! - [`devices`]: device database (TAC → model facts) from CSV, IMEI validation, dates;
//! - [`policy`]: depreciation policy, pure functions;
//! - [`billing`]: ledger entries per key issuance, pure functions;
//! - [`payments`]: recording an operator's payment (CLI `record-payment`, admin
//!   `POST /payments`);
//! - [`store`]: the [`store::Store`] trait, SQLite and PostgreSQL implementations;
//! - [`report`]: settlement per operator and per manufacturer for a period;
//! - [`keys`]: the manufacturer-signed device key (Ed25519, bound to IMEI + APN settings);
//! - [`manufacturer`]: the manufacturer key server (HTTPS, mutual TLS) and its client;
//! - [`smpp`]: the SMPP 3.4 ESME session (bind, enquire_link, window, reconnect);
//! - [`cp`]: the OMA CP reply (document, WSP push with SEC/MAC, SMS segments);
//! - [`confirmation`]: the handset's provisioning report (`IMTC`);
//! - [`config`], [`pipeline`], [`metrics`], [`serve`]: the `serve` daemon that ties
//!   these together (issue 5).

pub mod billing;
pub mod config;
pub mod confirmation;
pub mod cp;
pub mod devices;
pub mod inventory;
pub mod keys;
pub mod manufacturer;
pub mod metrics;
pub mod payments;
pub mod pipeline;
pub mod policy;
pub mod report;
pub mod serve;
pub mod smpp;
pub mod store;
