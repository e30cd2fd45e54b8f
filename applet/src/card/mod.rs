//! Card OS: NVM with atomic transactions, file system, PIN; APDU dispatch comes later.
//!
//! | module | job | spec |
//! | --- | --- | --- |
//! | [`nvm`] | simulated NVM with power cuts; journaled begin / commit / abort store | project design (Java Card-style transactions) |
//! | [`fs`] | file tree, selection, READ/UPDATE BINARY, READ RECORD, STATUS, FCP / GSM responses | ETSI TS 102 221 §8, §11.1; 3GPP TS 51.011 §9 |
//! | [`pin`] | PIN1 verification with a persistent retry counter | ETSI TS 102 221 §9, §11.1.9 |
//!
//! The APDU dispatcher and the tracking applet are built on top of these (issue 3).

pub mod nvm;
