//! Wire layer: zero-copy views and `Repr` types with `parse` / `emit` / `buffer_len`.
//!
//! Every parser takes `&[u8]` and returns [`Result`]; every emitter writes into a
//! caller-supplied `&mut [u8]` and returns the number of bytes written. Nothing here
//! allocates, and nothing panics on any input.
//!
//! | module | format | spec |
//! | --- | --- | --- |
//! | [`apdu`] | command / response APDUs, status words | ISO 7816-4, ETSI TS 102 221, 3GPP TS 51.011 |
//! | [`atr`] | answer to reset | ISO 7816-3 |
//! | [`tlv`] | BER-TLV and COMPREHENSION-TLV | ETSI TS 101 220 §7, TS 102 223 Annex C |
//! | [`cat`] | Card Application Toolkit | ETSI TS 102 223, 3GPP TS 31.111 |
//! | [`bcd`] | semi-octet digit strings | 3GPP TS 23.040 §9.1.2.3, TS 24.008 §10.5.1.4 |
//! | [`imei`] | IMEI / IMEISV / TAC, Luhn, mobile identity | 3GPP TS 23.003 §6, TS 24.008 §10.5.1.4 |
//! | [`sms`] | SMS TPDUs, GSM 7-bit, UDH | 3GPP TS 23.040, TS 23.038 |
//! | [`registration`] | the applet's registration message | `docs/registration.md` (project format) |
//! | [`gsmtap`] | GSMTAP-SIM framing and classic pcap records | libosmocore `gsmtap.h`, pcap file format |

pub mod apdu;
pub mod atr;
pub mod bcd;
pub mod cat;
pub mod gsmtap;
pub mod imei;
pub mod omacp;
pub mod registration;
pub mod sms;
pub mod tlv;
pub mod wsp;

/// What went wrong while parsing or emitting a wire format.
///
/// Small and `Copy` so it can travel through the card without allocation. The card OS
/// maps it to a status word in exactly one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Error {
    /// The input ended before the structure did.
    Truncated,
    /// A length field disagrees with the data (too long, too short, non-minimal).
    BadLength,
    /// A tag or type byte is not valid here.
    BadTag,
    /// Bytes remain after a structure that must fill its container.
    TrailingData,
    /// A field holds a value the format forbids (e.g. a non-BCD nibble).
    BadValue,
    /// A valid construct this implementation does not handle.
    Unsupported,
    /// The output buffer (or a fixed-capacity container) is too small.
    BufferTooSmall,
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let text = match self {
            Error::Truncated => "input truncated",
            Error::BadLength => "length field inconsistent with data",
            Error::BadTag => "invalid tag or type",
            Error::TrailingData => "unexpected trailing data",
            Error::BadValue => "invalid field value",
            Error::Unsupported => "unsupported construct",
            Error::BufferTooSmall => "buffer too small",
        };
        f.write_str(text)
    }
}

impl core::error::Error for Error {}

/// Result of a wire operation.
pub type Result<T> = core::result::Result<T, Error>;
