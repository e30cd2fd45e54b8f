//! SMS transfer-layer PDUs and their text encodings (3GPP TS 23.040, TS 23.038).
//!
//! | module | content | spec |
//! | --- | --- | --- |
//! | [`gsm7`] | GSM 7-bit default alphabet, extension table, septet packing | TS 23.038 §6.1.2, §6.2.1 |
//! | [`ucs2`] | UCS2 text | TS 23.038 §6.2.3 |
//! | [`udh`] | user-data header and its information elements | TS 23.040 §9.2.3.24 |
//!
//! Byte-level facts and tshark-verified vectors: `/work/shared/spec/04-sms.md`.

pub mod gsm7;
pub mod ucs2;
pub mod udh;
