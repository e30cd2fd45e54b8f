//! # applet — the card side of imeitrack
//!
//! `#![no_std]`, no `alloc`, no `unsafe`. Three layers, bottom up:
//!
//! | layer | module | job |
//! | --- | --- | --- |
//! | wire | [`wire`] | bytes ⇄ typed `Repr`s for every format the card and handset speak: APDU (ISO 7816-4 / TS 102 221), BER-TLV and COMPREHENSION-TLV (TS 101 220), Card Application Toolkit (TS 102 223 / TS 31.111), IMEI (TS 23.003 / TS 24.008), SMS TPDU (TS 23.040 / 23.038), the registration message, GSMTAP-SIM pcap framing |
//! | card OS | [`card`] | file system, NVM with atomic transactions, APDU dispatch (not yet built: issue 3) |
//! | tracker | [`tracker`] | the IMEI-tracking applet state machine (not yet built: issue 3) |
//!
//! Codecs live here once and are used by both sides: the card encodes proactive
//! commands and decodes terminal responses, the handset emulator does the reverse.
#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod card;
pub mod tracker;
pub mod wire;
