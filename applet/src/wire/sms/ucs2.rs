//! UCS2 user data: 16-bit big-endian code units (3GPP TS 23.038 §6.2.3, ISO/IEC 10646).
//!
//! Encoding is strict UCS2: characters outside the Basic Multilingual Plane are
//! `Unsupported`. Decoding is lenient: surrogate pairs (UTF-16, as many handsets send)
//! are combined, anything unpaired or an odd trailing octet becomes U+FFFD.

use super::super::{Error, Result};

/// Octets `s` takes in UCS2; `Unsupported` for a character outside the BMP.
pub fn encoded_len(s: &str) -> Result<usize> {
    s.chars().try_fold(0usize, |n, c| {
        if c.len_utf16() == 1 {
            Ok(n + 2)
        } else {
            Err(Error::Unsupported)
        }
    })
}

/// Write `s` as UCS2 big-endian into `out`; returns octets written.
pub fn encode_str(s: &str, out: &mut [u8]) -> Result<usize> {
    let mut n = 0;
    for c in s.chars() {
        let mut unit = [0u16; 2];
        let units = c.encode_utf16(&mut unit);
        let [u] = units else {
            return Err(Error::Unsupported);
        };
        let slot = out.get_mut(n..n + 2).ok_or(Error::BufferTooSmall)?;
        slot.copy_from_slice(&u.to_be_bytes());
        n += 2;
    }
    Ok(n)
}

/// Iterator over the 16-bit units of a big-endian octet string; an odd trailing octet
/// yields `0xFFFD`.
#[derive(Debug, Clone)]
pub struct Units<'a> {
    bytes: core::slice::Chunks<'a, u8>,
}

impl Iterator for Units<'_> {
    type Item = u16;
    fn next(&mut self) -> Option<u16> {
        match *self.bytes.next()? {
            [a, b] => Some(u16::from_be_bytes([a, b])),
            _ => Some(0xFFFD),
        }
    }
}

/// Characters of UCS2/UTF-16BE octets (see module doc for leniency).
pub type Chars<'a> = core::iter::Map<
    core::char::DecodeUtf16<Units<'a>>,
    fn(core::result::Result<char, core::char::DecodeUtf16Error>) -> char,
>;

fn replace(r: core::result::Result<char, core::char::DecodeUtf16Error>) -> char {
    r.unwrap_or(char::REPLACEMENT_CHARACTER)
}

/// Decode UCS2 octets into characters.
pub fn decode(bytes: &[u8]) -> Chars<'_> {
    char::decode_utf16(Units {
        bytes: bytes.chunks(2),
    })
    .map(replace as fn(_) -> char)
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use proptest::prelude::*;
    use std::string::String;

    #[test]
    fn vectors() {
        // TS 23.038 §6.2.3: "Hé€" = 0048 00E9 20AC
        let mut buf = [0u8; 8];
        let n = encode_str("Hé€", &mut buf).unwrap();
        assert_eq!(&buf[..n], &[0x00, 0x48, 0x00, 0xE9, 0x20, 0xAC]);
        assert_eq!(decode(&buf[..n]).collect::<String>(), "Hé€");
        assert_eq!(encode_str("😀", &mut buf), Err(Error::Unsupported));
        assert_eq!(encoded_len("a😀"), Err(Error::Unsupported));
        // UTF-16 surrogate pair is accepted on decode
        assert_eq!(decode(&[0xD8, 0x3D, 0xDE, 0x00]).collect::<String>(), "😀");
        assert_eq!(decode(&[0x00]).collect::<String>(), "\u{FFFD}");
    }

    proptest! {
        #[test]
        fn round_trip(s in "[\\u{0}-\\u{D7FF}\\u{E000}-\\u{FFFF}]{0,70}") {
            let mut buf = [0u8; 140];
            let n = encode_str(&s, &mut buf).unwrap();
            prop_assert_eq!(n, encoded_len(&s).unwrap());
            prop_assert_eq!(decode(&buf[..n]).collect::<String>(), s);
        }

        #[test]
        fn random_never_panics(b in proptest::collection::vec(any::<u8>(), 0..40)) {
            let _ = decode(&b).count();
        }
    }
}
