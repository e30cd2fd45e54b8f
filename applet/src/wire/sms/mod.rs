//! SMS transfer-layer PDUs and their text encodings (3GPP TS 23.040, TS 23.038).
//!
//! | module | content | spec |
//! | --- | --- | --- |
//! | [`tpdu`] | SMS-SUBMIT, SMS-DELIVER, SMS-STATUS-REPORT, TP-UD, TP-PID, TP-VP, TP-ST | TS 23.040 §9.2 |
//! | [`address`] | TP-DA / TP-OA / TP-RA, TON/NPI, alphanumeric addresses | TS 23.040 §9.1.2.5 |
//! | [`dcs`] | TP-DCS coding groups, alphabet, message class | TS 23.038 §4 |
//! | [`scts`] | TP-SCTS / TP-DT / absolute TP-VP time stamps | TS 23.040 §9.2.3.11 |
//! | [`udh`] | user-data header and its information elements | TS 23.040 §9.2.3.24 |
//! | [`gsm7`] | GSM 7-bit default alphabet, extension table, septet packing | TS 23.038 §6.1.2, §6.2.1 |
//! | [`ucs2`] | UCS2 text | TS 23.038 §6.2.3 |
//!
//! Byte-level facts and tshark-verified vectors: `/work/shared/spec/04-sms.md`.
//! Independent check against pycrate: `applet/tests/oracle/sms_pycrate_check.py`.

pub mod address;
pub mod dcs;
pub mod gsm7;
pub mod scts;
pub mod tpdu;
pub mod ucs2;
pub mod udh;

pub use address::{
    Address, AddressValue, Alphanumeric, NumberingPlan, TypeOfAddress, TypeOfNumber,
};
pub use dcs::{Alphabet, DataCodingScheme, MessageClass};
pub use scts::{TimeZone, Timestamp};
pub use tpdu::{
    Direction, ProtocolIdentifier, SmsDeliver, SmsStatusReport, SmsSubmit, Status,
    StatusReportParameters, Tpdu, UserData, UserDataBody, ValidityPeriod,
};
pub use udh::{Concatenation, Iei, InformationElement, Ports, UserDataHeader};
