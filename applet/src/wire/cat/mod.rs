//! Card Application Toolkit (ETSI TS 102 223, 3GPP TS 31.111).
//!
//! | module | content | spec |
//! | --- | --- | --- |
//! | [`codes`] | open newtypes: type of command, qualifiers, device ids, results, events | TS 102 223 §8.6–§8.25, §9.4 |
//! | [`ies`] | data objects (COMPREHENSION-TLVs) as `Repr` structs | TS 102 223 §8, TS 31.111 §8 |
//!
//! | [`command`] | proactive commands (`D0`) | TS 102 223 §6.6 |
//! | [`response`] | TERMINAL RESPONSE | TS 102 223 §6.8 |
//! | [`envelope`] | ENVELOPEs `D1`, `D6`, `D7` (+ opaque) | TS 102 223 §7, TS 31.111 §7 |
//! | [`profile`] | TERMINAL PROFILE bitmap | TS 102 223 §5.2 |
//!
//! Byte-level facts: `/work/shared/spec/02-cat.md`.
//!
//! ## Independent checks (done by hand, recorded here)
//!
//! * Every hex exchange of 02-cat.md §9 and the SMS-PP download of 04-sms.md §5 parses,
//!   re-emits byte for byte, and equals what the typed constructors emit (unit tests).
//! * TERMINAL RESPONSE layouts for POLL INTERVAL and TIMER MANAGEMENT match the
//!   TS 31.124 / TS 102 384 derived vectors in oFono `unit/test-stkutil.c`
//!   (`poll_interval_response_111a`, `timer_mgmt_response_111/112/114/122`), reproduced
//!   in [`response`]'s tests. pycrate 0.8.1 (`pycrate_mobile.TS31111_SAT`) only models
//!   tags and lengths, so it could not check these.
//! * tshark 4.0.17 decodes every proactive command, TERMINAL RESPONSE and ENVELOPE of
//!   this module (GSMTAP-SIM, 08-gsmtap-pcap.md) with the values put in and no malformed
//!   or warning frame: `tests/integration/tshark_gsmtap.rs` (built with the codecs,
//!   including a `D0 81 xx` SEND SHORT MESSAGE with 140 octets, result `35 29`, timer
//!   values, date-time with TZ `40` = "GMT + 1 hr") and `tests/integration/tshark_card.rs`
//!   (what the card itself answers). tshark shows result `35`'s additional byte only raw
//!   (see [`TerminalResponse::sms_rp_error`]).

pub mod codes;
pub mod ies;

pub use codes::*;
pub use ies::*;
pub mod command;

pub use command::*;
pub mod envelope;
pub mod profile;
pub mod response;

pub use envelope::*;
pub use profile::*;
pub use response::*;
