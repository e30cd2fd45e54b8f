//! Semi-octet ("swapped nibble") digit strings and the files and identities built on them.
//!
//! Semi-octet representation (3GPP TS 23.040 §9.1.2.3): two digits per octet, the
//! earlier digit in the low nibble (bits 4..1), the later one in the high nibble
//! (bits 8..5); an odd count leaves the last high nibble as the filler `F`. Address
//! digits may also use the TBCD extension `* # a b c` (nibbles `A`..`E`, TS 24.008
//! §10.5.4.7 "called party BCD number").
//!
//! Also here:
//! - [`MobileIdentity`]: the TS 24.008 §10.5.1.4 mobile identity (type nibble + odd/even
//!   flag) shared by IMSI, IMEI and IMEISV;
//! - [`EfIccid`]: EF.ICCID, 10 bytes of swapped BCD padded with `F` (ETSI TS 102 221 §13.2,
//!   `/work/shared/spec/01-apdu.md` §3/§5);
//! - [`EfImsi`]: EF.IMSI, a length byte then the IMSI as a mobile identity of type `001`
//!   (3GPP TS 31.102 §4.2.2, TS 51.011 §10.3.2; `01-apdu.md` §5).

use core::fmt;

use super::{Error, Result};

/// The filler nibble that pads an odd digit count (TS 23.040 §9.1.2.3).
pub const FILLER: u8 = 0x0F;

/// Which nibble values a digit string may contain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DigitSet {
    /// Only `0`..`9` (IMSI, IMEI, ICCID, TS 23.003).
    Decimal,
    /// `0`..`9` plus `*` (`A`), `#` (`B`), `a` (`C`), `b` (`D`), `c` (`E`) — TBCD as used
    /// for address digits (TS 24.008 §10.5.4.7, TS 29.002 TBCD-STRING).
    Tbcd,
}

impl DigitSet {
    /// Whether `nibble` is a digit of this set (the filler `F` never is).
    pub const fn accepts(self, nibble: u8) -> bool {
        match self {
            DigitSet::Decimal => nibble <= 9,
            DigitSet::Tbcd => nibble <= 0x0E,
        }
    }
}

/// The printable character of a digit nibble (`0`-`9`, `*`, `#`, `a`, `b`, `c`);
/// `None` for the filler and anything above `0x0F`.
pub const fn nibble_to_char(nibble: u8) -> Option<char> {
    match nibble {
        0..=9 => Some((b'0' + nibble) as char),
        0x0A => Some('*'),
        0x0B => Some('#'),
        0x0C => Some('a'),
        0x0D => Some('b'),
        0x0E => Some('c'),
        _ => None,
    }
}

/// The nibble of a printable digit character (inverse of [`nibble_to_char`]; `A`/`B`/`C`
/// are accepted as well as `a`/`b`/`c`).
pub const fn char_to_nibble(c: char) -> Option<u8> {
    match c {
        '0'..='9' => Some(c as u8 - b'0'),
        '*' => Some(0x0A),
        '#' => Some(0x0B),
        'a' | 'A' => Some(0x0C),
        'b' | 'B' => Some(0x0D),
        'c' | 'C' => Some(0x0E),
        _ => None,
    }
}

/// A digit string of at most `N` digits, stored one nibble value per element.
///
/// Fixed capacity, no allocation. Elements past [`len`](Self::len) are always zero, so the
/// derived equality and hashing compare only the digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Digits<const N: usize> {
    nibbles: [u8; N],
    len: usize,
}

impl<const N: usize> Default for Digits<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Digits<N> {
    /// The maximum number of digits.
    pub const CAPACITY: usize = N;

    /// An empty digit string.
    pub const fn new() -> Self {
        Digits {
            nibbles: [0; N],
            len: 0,
        }
    }

    /// Append one digit nibble. `BadValue` for the filler or anything above `0x0F`;
    /// `BufferTooSmall` when full.
    pub fn push(&mut self, nibble: u8) -> Result<()> {
        if !DigitSet::Tbcd.accepts(nibble) {
            return Err(Error::BadValue);
        }
        let slot = self
            .nibbles
            .get_mut(self.len)
            .ok_or(Error::BufferTooSmall)?;
        *slot = nibble;
        self.len += 1;
        Ok(())
    }

    /// Build from nibble values, each of which must be in `set`.
    pub fn from_nibbles(nibbles: &[u8], set: DigitSet) -> Result<Self> {
        let mut out = Self::new();
        for &n in nibbles {
            if !set.accepts(n) {
                return Err(Error::BadValue);
            }
            out.push(n)?;
        }
        Ok(out)
    }

    /// Parse printable digits (`"+"` is not a digit: strip it and set the TON instead).
    /// `BadValue` for a character outside `set`, `BufferTooSmall` for more than `N`.
    pub fn parse_str(s: &str, set: DigitSet) -> Result<Self> {
        let mut out = Self::new();
        for c in s.chars() {
            let n = char_to_nibble(c).ok_or(Error::BadValue)?;
            if !set.accepts(n) {
                return Err(Error::BadValue);
            }
            out.push(n)?;
        }
        Ok(out)
    }

    /// Number of digits.
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no digits.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The digits as nibble values (`0..=0x0E`).
    pub fn as_nibbles(&self) -> &[u8] {
        self.nibbles.get(..self.len).unwrap_or(&[])
    }

    /// Whether every digit is `0`..`9`.
    pub fn is_decimal(&self) -> bool {
        self.as_nibbles().iter().all(|&n| n <= 9)
    }

    /// Number of octets the semi-octet encoding takes: `ceil(len / 2)`.
    pub const fn encoded_len(&self) -> usize {
        self.len.div_ceil(2)
    }

    /// Decode exactly `count` digits from `bytes`, which must be exactly `ceil(count/2)`
    /// octets long; an odd count requires the filler `F` in the last high nibble
    /// (TS 23.040 §9.1.2.3).
    pub fn decode(bytes: &[u8], count: usize, set: DigitSet) -> Result<Self> {
        if bytes.len() != count.div_ceil(2) {
            return Err(Error::BadLength);
        }
        if count > N {
            return Err(Error::BadLength);
        }
        let mut out = Self::new();
        for (i, &b) in bytes.iter().enumerate() {
            let lo = b & 0x0F;
            let hi = b >> 4;
            if !set.accepts(lo) {
                return Err(Error::BadValue);
            }
            out.push(lo)?;
            if 2 * i + 1 < count {
                if !set.accepts(hi) {
                    return Err(Error::BadValue);
                }
                out.push(hi)?;
            } else if hi != FILLER {
                return Err(Error::BadValue);
            }
        }
        Ok(out)
    }

    /// Decode an `F`-padded field: digits up to the first filler nibble; every nibble after
    /// it must be `F` too (EF.ICCID, CAT address values).
    pub fn decode_padded(bytes: &[u8], set: DigitSet) -> Result<Self> {
        let mut out = Self::new();
        let mut ended = false;
        for &b in bytes {
            for n in [b & 0x0F, b >> 4] {
                if ended || n == FILLER {
                    if n != FILLER {
                        return Err(Error::BadValue);
                    }
                    ended = true;
                } else if set.accepts(n) {
                    out.push(n).map_err(|_| Error::BadLength)?;
                } else {
                    return Err(Error::BadValue);
                }
            }
        }
        Ok(out)
    }

    /// Write the semi-octet encoding (`ceil(len/2)` octets, `F` filler for an odd count);
    /// returns the number of octets written.
    pub fn encode(&self, buf: &mut [u8]) -> Result<usize> {
        let n = self.encoded_len();
        let out = buf.get_mut(..n).ok_or(Error::BufferTooSmall)?;
        for (i, o) in out.iter_mut().enumerate() {
            let lo = self.as_nibbles().get(2 * i).copied().unwrap_or(FILLER);
            let hi = self.as_nibbles().get(2 * i + 1).copied().unwrap_or(FILLER);
            *o = (hi << 4) | lo;
        }
        Ok(n)
    }
}

impl<const N: usize> fmt::Display for Digits<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for &n in self.as_nibbles() {
            fmt::Write::write_char(f, nibble_to_char(n).unwrap_or('?'))?;
        }
        Ok(())
    }
}

impl<const N: usize> fmt::Debug for Digits<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digits(\"{self}\")")
    }
}

/// Type of identity, bits 3..1 of the first octet of a mobile identity
/// (3GPP TS 24.008 §10.5.1.4, table 10.5.4). Open newtype: unknown values survive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IdentityType(pub u8);

impl IdentityType {
    /// `000` no identity.
    pub const NO_IDENTITY: IdentityType = IdentityType(0);
    /// `001` IMSI.
    pub const IMSI: IdentityType = IdentityType(1);
    /// `010` IMEI.
    pub const IMEI: IdentityType = IdentityType(2);
    /// `011` IMEISV.
    pub const IMEISV: IdentityType = IdentityType(3);
    /// `100` TMSI/P-TMSI/M-TMSI (not a digit string; not handled here).
    pub const TMSI: IdentityType = IdentityType(4);
}

/// A digit-string mobile identity (IMSI, IMEI, IMEISV): the value part of the TS 24.008
/// §10.5.1.4 mobile identity IE, as carried in EF.IMSI bytes 2.. and in CAT tags `14`/`62`.
///
/// ```text
/// octet 1: bits 8..5 digit 1, bit 4 odd/even (1 = odd count), bits 3..1 type
/// octet 2..: two digits each, low nibble first; an even count ends with high nibble F
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MobileIdentity {
    /// Type of identity (only IMSI, IMEI and IMEISV are digit strings).
    pub identity_type: IdentityType,
    /// The identity digits, `0`..`9`, at least one.
    pub digits: Digits<16>,
}

impl MobileIdentity {
    /// Parse the value part (no IEI, no length). `Unsupported` for types other than
    /// IMSI/IMEI/IMEISV, `BadValue` for a bad nibble or filler, `BadLength` for more than
    /// 16 digits.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let (&first, rest) = bytes.split_first().ok_or(Error::Truncated)?;
        let identity_type = IdentityType(first & 0x07);
        if !matches!(
            identity_type,
            IdentityType::IMSI | IdentityType::IMEI | IdentityType::IMEISV
        ) {
            return Err(Error::Unsupported);
        }
        let odd = first & 0x08 != 0;
        let count = 1 + 2 * rest.len() - usize::from(!odd);
        if count == 0 {
            return Err(Error::BadValue);
        }
        if count > 16 {
            return Err(Error::BadLength);
        }
        let mut digits = Digits::new();
        let d1 = first >> 4;
        if d1 > 9 {
            return Err(Error::BadValue);
        }
        digits.push(d1)?;
        let tail = Digits::<16>::decode(rest, count - 1, DigitSet::Decimal)?;
        for &n in tail.as_nibbles() {
            digits.push(n)?;
        }
        Ok(MobileIdentity {
            identity_type,
            digits,
        })
    }

    /// Encoded length: `1 + floor(digits / 2)` octets.
    pub fn buffer_len(&self) -> usize {
        1 + self.digits.len() / 2
    }

    /// Write the value part. `BadValue` if there are no digits, a non-decimal digit, or a
    /// type that does not fit in 3 bits.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let nibbles = self.digits.as_nibbles();
        let (&d1, rest) = nibbles.split_first().ok_or(Error::BadValue)?;
        if !self.digits.is_decimal() || self.identity_type.0 > 7 {
            return Err(Error::BadValue);
        }
        let n = self.buffer_len();
        let out = buf.get_mut(..n).ok_or(Error::BufferTooSmall)?;
        let odd = if nibbles.len() % 2 == 1 { 0x08 } else { 0 };
        let (head, tail) = out.split_first_mut().ok_or(Error::BufferTooSmall)?;
        *head = (d1 << 4) | odd | self.identity_type.0;
        let tail_digits = Digits::<16>::from_nibbles(rest, DigitSet::Decimal)?;
        tail_digits.encode(tail)?;
        Ok(n)
    }
}

/// EF.ICCID (FID `2FE2`): the ICCID as 10 octets of swapped BCD, `F` padded
/// (ETSI TS 102 221 §13.2; vector in `/work/shared/spec/01-apdu.md` §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EfIccid {
    /// ICCID digits (19 or 20 in practice; the last is a Luhn check digit).
    pub iccid: Digits<20>,
}

impl EfIccid {
    /// Size of the file in octets.
    pub const LEN: usize = 10;

    /// Parse the 10-octet file content.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        if bytes.len() != Self::LEN {
            return Err(Error::BadLength);
        }
        Ok(EfIccid {
            iccid: Digits::decode_padded(bytes, DigitSet::Decimal)?,
        })
    }

    /// Always [`EfIccid::LEN`].
    pub fn buffer_len(&self) -> usize {
        Self::LEN
    }

    /// Write the 10-octet file content, `F` padded.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        if !self.iccid.is_decimal() {
            return Err(Error::BadValue);
        }
        let out = buf.get_mut(..Self::LEN).ok_or(Error::BufferTooSmall)?;
        out.fill(0xFF);
        self.iccid.encode(out)?;
        Ok(Self::LEN)
    }

    /// Whether the last digit is the Luhn check digit of the others (ITU-T E.118).
    pub fn luhn_valid(&self) -> bool {
        super::imei::luhn_verify(self.iccid.as_nibbles())
    }
}

/// EF.IMSI (FID `6F07`): length octet, then the IMSI as a TS 24.008 mobile identity of type
/// `001`, unused octets `FF` (3GPP TS 31.102 §4.2.2; vectors in `01-apdu.md` §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EfImsi {
    /// IMSI digits (at most 15, TS 23.003 §2.2).
    pub imsi: Digits<15>,
}

impl EfImsi {
    /// Size of the file in octets.
    pub const LEN: usize = 9;

    /// Parse the 9-octet file content. `BadLength` for a length octet outside 1..=8,
    /// `BadTag` for an identity type other than IMSI, `BadValue` for non-`FF` padding.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        if bytes.len() != Self::LEN {
            return Err(Error::BadLength);
        }
        let (&len, rest) = bytes.split_first().ok_or(Error::Truncated)?;
        let len = usize::from(len);
        if !(1..=8).contains(&len) {
            return Err(Error::BadLength);
        }
        let (value, pad) = rest.split_at_checked(len).ok_or(Error::BadLength)?;
        if pad.iter().any(|&b| b != 0xFF) {
            return Err(Error::BadValue);
        }
        let id = MobileIdentity::parse(value).map_err(|e| match e {
            Error::Unsupported => Error::BadTag,
            e => e,
        })?;
        if id.identity_type != IdentityType::IMSI {
            return Err(Error::BadTag);
        }
        Ok(EfImsi {
            imsi: Digits::from_nibbles(id.digits.as_nibbles(), DigitSet::Decimal)
                .map_err(|_| Error::BadLength)?,
        })
    }

    /// Always [`EfImsi::LEN`].
    pub fn buffer_len(&self) -> usize {
        Self::LEN
    }

    /// Write the 9-octet file content.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let id = MobileIdentity {
            identity_type: IdentityType::IMSI,
            digits: Digits::from_nibbles(self.imsi.as_nibbles(), DigitSet::Decimal)?,
        };
        let out = buf.get_mut(..Self::LEN).ok_or(Error::BufferTooSmall)?;
        out.fill(0xFF);
        let (len, rest) = out.split_first_mut().ok_or(Error::BufferTooSmall)?;
        let n = id.emit(rest)?;
        *len = n as u8;
        Ok(Self::LEN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn h(s: &str) -> std::vec::Vec<u8> {
        hex::decode(s.replace(' ', "")).unwrap()
    }

    extern crate std;
    use std::string::ToString;

    #[test]
    fn address_digits_odd_and_even() {
        // /work/shared/spec/04-sms.md §2: +447700900123 → 44 77 00 09 10 32 (12 digits)
        let d = Digits::<20>::parse_str("447700900123", DigitSet::Tbcd).unwrap();
        let mut buf = [0u8; 10];
        let n = d.encode(&mut buf).unwrap();
        assert_eq!(&buf[..n], &h("44 77 00 09 10 32")[..]);
        // odd count: 12345 → 21 43 F5
        let d = Digits::<20>::parse_str("12345", DigitSet::Decimal).unwrap();
        let n = d.encode(&mut buf).unwrap();
        assert_eq!(&buf[..n], &h("21 43 F5")[..]);
        assert_eq!(
            Digits::<20>::decode(&h("21 43 F5"), 5, DigitSet::Decimal).unwrap(),
            d
        );
        assert_eq!(d.to_string(), "12345");
    }

    #[test]
    fn tbcd_extension() {
        // TS 24.008 table 10.5.118: * = 1010, # = 1011, a/b/c = 1100..1110
        let d = Digits::<20>::parse_str("*#abc1", DigitSet::Tbcd).unwrap();
        let mut buf = [0u8; 3];
        d.encode(&mut buf).unwrap();
        assert_eq!(buf, [0xBA, 0xDC, 0x1E]);
        assert_eq!(d.to_string(), "*#abc1");
        assert_eq!(
            Digits::<20>::parse_str("*1", DigitSet::Decimal),
            Err(Error::BadValue)
        );
        assert_eq!(
            Digits::<20>::decode(&[0xBA], 2, DigitSet::Decimal),
            Err(Error::BadValue)
        );
    }

    #[test]
    fn filler_rules() {
        assert_eq!(
            Digits::<20>::decode(&[0x21, 0x43, 0x05], 5, DigitSet::Decimal),
            Err(Error::BadValue)
        );
        assert_eq!(
            Digits::<20>::decode(&[0x21, 0x43], 5, DigitSet::Decimal),
            Err(Error::BadLength)
        );
        assert_eq!(
            Digits::<4>::parse_str("12345", DigitSet::Decimal),
            Err(Error::BufferTooSmall)
        );
    }

    #[test]
    fn ef_iccid_vector() {
        // /work/shared/spec/01-apdu.md §3 (osmocom/pysim EF_ICCID test vector)
        let raw = h("98 88 12 01 00 00 40 03 10 F0");
        let f = EfIccid::parse(&raw).unwrap();
        assert_eq!(f.iccid.to_string(), "8988211000000430010");
        let mut buf = [0u8; 10];
        assert_eq!(f.emit(&mut buf).unwrap(), 10);
        assert_eq!(&buf[..], &raw[..]);
        // digits after the filler are rejected
        assert_eq!(
            EfIccid::parse(&h("98 88 12 01 00 00 40 03 F0 01")),
            Err(Error::BadValue)
        );
    }

    #[test]
    fn ef_imsi_vectors() {
        // /work/shared/spec/01-apdu.md §5 (osmocom/pysim enc_imsi unit tests)
        for (imsi, file) in [
            ("001010123456789", "08 09 10 10 10 32 54 76 98"),
            ("001010000123456", "08 09 10 10 00 00 21 43 65"),
            ("00101000012345", "08 01 10 10 00 00 21 43 F5"),
            ("0010100001234", "07 09 10 10 00 00 21 43 FF"),
        ] {
            let raw = h(file);
            let f = EfImsi::parse(&raw).unwrap();
            assert_eq!(f.imsi.to_string(), imsi);
            let g = EfImsi {
                imsi: Digits::parse_str(imsi, DigitSet::Decimal).unwrap(),
            };
            let mut buf = [0u8; 9];
            assert_eq!(g.emit(&mut buf).unwrap(), 9);
            assert_eq!(&buf[..], &raw[..], "{imsi}");
        }
        // erased file
        assert_eq!(EfImsi::parse(&[0xFF; 9]), Err(Error::BadLength));
        // type IMEI instead of IMSI
        assert_eq!(
            EfImsi::parse(&h("08 0A 10 10 10 32 54 76 98")),
            Err(Error::BadTag)
        );
    }

    #[test]
    fn mobile_identity_vectors() {
        // /work/shared/spec/03-imei.md §3 (tshark gsm_a.imei / gsm_a.imeisv)
        let imei = MobileIdentity::parse(&h("4A 09 51 24 30 32 57 81")).unwrap();
        assert_eq!(imei.identity_type, IdentityType::IMEI);
        assert_eq!(imei.digits.to_string(), "490154203237518");
        let sv = MobileIdentity::parse(&h("43 09 51 24 30 32 57 01 F1")).unwrap();
        assert_eq!(sv.identity_type, IdentityType::IMEISV);
        assert_eq!(sv.digits.to_string(), "4901542032375101");
        // /work/shared/spec/03-imei.md §4: OMA CP NETWPIN form of IMSI 001010123456789
        let imsi = MobileIdentity {
            identity_type: IdentityType::IMSI,
            digits: Digits::parse_str("001010123456789", DigitSet::Decimal).unwrap(),
        };
        let mut buf = [0u8; 9];
        let n = imsi.emit(&mut buf).unwrap();
        assert_eq!(&buf[..n], &h("09 10 10 10 32 54 76 98")[..]);
        // TMSI is not a digit string
        assert_eq!(
            MobileIdentity::parse(&h("F4 01 02 03 04")),
            Err(Error::Unsupported)
        );
        // even count without filler
        assert_eq!(
            MobileIdentity::parse(&h("43 09 51 24 30 32 57 01 11")),
            Err(Error::BadValue)
        );
        // even flag with a single octet = zero digits after digit 1 is impossible
        assert_eq!(MobileIdentity::parse(&h("42")), Err(Error::BadValue));
        assert_eq!(MobileIdentity::parse(&[]), Err(Error::Truncated));
    }

    fn digits_strategy(set: DigitSet, max: usize) -> impl Strategy<Value = std::vec::Vec<u8>> {
        let top = if set == DigitSet::Decimal { 9u8 } else { 14u8 };
        proptest::collection::vec(0..=top, 0..=max)
    }

    proptest! {
        #[test]
        fn digits_round_trip(n in digits_strategy(DigitSet::Tbcd, 20)) {
            let d = Digits::<20>::from_nibbles(&n, DigitSet::Tbcd).unwrap();
            let mut buf = [0u8; 10];
            let len = d.encode(&mut buf).unwrap();
            prop_assert_eq!(Digits::<20>::decode(&buf[..len], n.len(), DigitSet::Tbcd).unwrap(), d);
            let s = d.to_string();
            prop_assert_eq!(Digits::<20>::parse_str(&s, DigitSet::Tbcd).unwrap(), d);
        }

        #[test]
        fn mobile_identity_round_trip(n in proptest::collection::vec(0u8..=9, 1..=16), t in 1u8..=3) {
            let id = MobileIdentity { identity_type: IdentityType(t), digits: Digits::from_nibbles(&n, DigitSet::Decimal).unwrap() };
            let mut buf = [0u8; 9];
            let len = id.emit(&mut buf).unwrap();
            prop_assert_eq!(len, id.buffer_len());
            prop_assert_eq!(MobileIdentity::parse(&buf[..len]).unwrap(), id);
        }

        #[test]
        fn imsi_file_round_trip(n in proptest::collection::vec(0u8..=9, 1..=15)) {
            let f = EfImsi { imsi: Digits::from_nibbles(&n, DigitSet::Decimal).unwrap() };
            let mut buf = [0u8; 9];
            f.emit(&mut buf).unwrap();
            prop_assert_eq!(EfImsi::parse(&buf).unwrap(), f);
        }

        #[test]
        fn iccid_file_round_trip(n in proptest::collection::vec(0u8..=9, 0..=20)) {
            let f = EfIccid { iccid: Digits::from_nibbles(&n, DigitSet::Decimal).unwrap() };
            let mut buf = [0u8; 10];
            f.emit(&mut buf).unwrap();
            prop_assert_eq!(EfIccid::parse(&buf).unwrap(), f);
        }

        #[test]
        fn canonical_bytes_round_trip(b in proptest::collection::vec(any::<u8>(), 0..=9)) {
            if let Ok(id) = MobileIdentity::parse(&b) {
                let mut buf = [0u8; 9];
                let len = id.emit(&mut buf).unwrap();
                prop_assert_eq!(&buf[..len], &b[..]);
            }
            if let Ok(f) = EfImsi::parse(&b) {
                let mut buf = [0u8; 9];
                f.emit(&mut buf).unwrap();
                prop_assert_eq!(&buf[..], &b[..]);
            }
        }

        #[test]
        fn random_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..=24), count in 0usize..40) {
            let _ = MobileIdentity::parse(&b);
            let _ = EfImsi::parse(&b);
            let _ = EfIccid::parse(&b);
            let _ = Digits::<20>::decode(&b, count, DigitSet::Tbcd);
            let _ = Digits::<20>::decode_padded(&b, DigitSet::Tbcd);
        }
    }
}
