//! # applet — the card side of imeitrack
//!
//! `#![no_std]`, no `alloc`, no `unsafe`. Three layers, bottom up:
//!
//! | layer | module | job |
//! | --- | --- | --- |
//! | wire | [`wire`] | bytes ⇄ typed `Repr`s for every format the card and handset speak: APDU (ISO 7816-4 / TS 102 221), BER-TLV and COMPREHENSION-TLV (TS 101 220), Card Application Toolkit (TS 102 223 / TS 31.111), IMEI (TS 23.003 / TS 24.008), SMS TPDU (TS 23.040 / 23.038), the registration message, GSMTAP-SIM pcap framing |
//! | card OS | [`card`] | [`card::Card`]: ATR, T=0 APDU dispatch for CLA `A0` and `00`/`80`, GET RESPONSE, toolkit plumbing; file system, PIN, NVM with atomic transactions |
//! | tracker | [`tracker`] | the IMEI-tracking applet: a pure state machine over `Repr`s and the persistent record |
//!
//! Entry point: [`card::Card::process`] — one command TPDU in, response data + SW out,
//! `now_ms` passed in. No transport, no clock, no randomness inside.
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
