//! # handset-sim — the phone side of imeitrack
//!
//! Layers, bottom up (see `/work/shared/DESIGN.md`):
//!
//! - [`reader`]: the minimal raw card surface, [`reader::CardReader`] (power on → ATR,
//!   transmit raw TPDU bytes, power off), and its backends: [`reader::sim`] (an
//!   in-process [`card::VirtualCard`]) and [`reader::pcsc`] (a real PC/SC reader via
//!   `pcscd`).
//! - [`vpcd`]: the other direction — serve a [`card::VirtualCard`] to a real `pcscd`
//!   through the vsmartcard `vpcd` driver, so PC/SC tools see it as a reader;
//!   [`serve`] is the `serve-vpcd` command around it (NVM file, card clock, trace).
//! - [`t0`]: the ISO 7816-3 T=0 transport rules (case 1–4 → TPDU, `61xx`/`9Fxx` GET
//!   RESPONSE, `6Cxx` re-issue), written once above every reader.
//!
//! - [`network`]: the network simulator — operators and networks (MCC/MNC, cells), a
//!   deterministic SMS centre (virtual time, seeded faults) and its SMPP 3.4 server side.
//!
//! - [`terminal`]: the ME — power-up, toolkit, bounded proactive loop, virtual-clock
//!   timers, envelopes — and [`profile`]: handset profiles and the model catalogue.
//!
//! - [`provisioning`]: the handset's OMA CP client — WAP push reassembly, WSP/WBXML
//!   decoding, SEC/MAC checks, the one-session device key, the APN store, the MMS app.
//! - [`trace`]: APDU traces — recorder, `.apdu` text format, GSMTAP pcap, scriptor
//!   import, decoder, replay.

pub mod card;
pub mod network;
pub mod profile;
pub mod provisioning;
pub mod reader;
pub mod serve;
pub mod t0;
pub mod terminal;
pub mod trace;
pub mod vpcd;

pub use card::VirtualCard;
pub use reader::{CardReader, Protocol, ReaderError};
