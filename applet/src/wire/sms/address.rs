//! TP addresses: TP-DA, TP-OA, TP-RA (3GPP TS 23.040 §9.1.2.5; `/work/shared/spec/04-sms.md`
//! §2).
//!
//! ```text
//! octet 1   address length = number of useful semi-octets (not octets)
//! octet 2   type of address: 1 | TON (3 bits) | NPI (4 bits)   e.g. 91 = international/E.164
//! 3..       semi-octet digits, F filler;  TON 5: GSM 7-bit packed text
//! ```
//!
//! Also the "length-less" form used by CAT address objects (TS 102 223 §8.1) and EF.SMSP,
//! where the container gives the octet count and the digits are `F` padded:
//! [`Address::parse_padded`] / [`Address::emit_padded`].

use core::fmt;

use super::super::bcd::{DigitSet, Digits};
use super::super::{Error, Result};
use super::gsm7;

/// Type of number, 3 bits (TS 23.040 §9.1.2.5). Open newtype.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TypeOfNumber(pub u8);

impl TypeOfNumber {
    /// `000` unknown.
    pub const UNKNOWN: TypeOfNumber = TypeOfNumber(0);
    /// `001` international number.
    pub const INTERNATIONAL: TypeOfNumber = TypeOfNumber(1);
    /// `010` national number.
    pub const NATIONAL: TypeOfNumber = TypeOfNumber(2);
    /// `011` network specific number.
    pub const NETWORK_SPECIFIC: TypeOfNumber = TypeOfNumber(3);
    /// `100` subscriber number.
    pub const SUBSCRIBER: TypeOfNumber = TypeOfNumber(4);
    /// `101` alphanumeric (GSM 7-bit default alphabet).
    pub const ALPHANUMERIC: TypeOfNumber = TypeOfNumber(5);
    /// `110` abbreviated number.
    pub const ABBREVIATED: TypeOfNumber = TypeOfNumber(6);
}

/// Numbering-plan identification, 4 bits (TS 23.040 §9.1.2.5). Open newtype.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NumberingPlan(pub u8);

impl NumberingPlan {
    /// `0000` unknown.
    pub const UNKNOWN: NumberingPlan = NumberingPlan(0);
    /// `0001` ISDN/telephone (E.164/E.163).
    pub const ISDN: NumberingPlan = NumberingPlan(1);
    /// `0011` data (X.121).
    pub const DATA: NumberingPlan = NumberingPlan(3);
    /// `0100` telex.
    pub const TELEX: NumberingPlan = NumberingPlan(4);
    /// `1000` national.
    pub const NATIONAL: NumberingPlan = NumberingPlan(8);
    /// `1001` private.
    pub const PRIVATE: NumberingPlan = NumberingPlan(9);
    /// `1010` ERMES.
    pub const ERMES: NumberingPlan = NumberingPlan(10);
}

/// The type-of-address octet (TS 23.040 §9.1.2.5): bit 8 (normally 1), TON, NPI.
/// Kept whole so that every octet round-trips.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TypeOfAddress(pub u8);

impl TypeOfAddress {
    /// `91`: international, ISDN/E.164.
    pub const INTERNATIONAL: TypeOfAddress = TypeOfAddress(0x91);
    /// `81`: unknown, ISDN/E.164.
    pub const UNKNOWN: TypeOfAddress = TypeOfAddress(0x81);
    /// `D0`: alphanumeric, unknown plan.
    pub const ALPHANUMERIC: TypeOfAddress = TypeOfAddress(0xD0);

    /// `0x80 | TON << 4 | NPI` (TON and NPI masked to 3 and 4 bits).
    pub const fn new(ton: TypeOfNumber, npi: NumberingPlan) -> Self {
        TypeOfAddress(0x80 | (ton.0 & 7) << 4 | (npi.0 & 0x0F))
    }

    /// Type of number.
    pub const fn ton(self) -> TypeOfNumber {
        TypeOfNumber((self.0 >> 4) & 7)
    }

    /// Numbering plan.
    pub const fn npi(self) -> NumberingPlan {
        NumberingPlan(self.0 & 0x0F)
    }
}

/// Maximum digits in a TP address (10 octets of digits).
pub const MAX_DIGITS: usize = 20;
/// Maximum octets of address value (after length and TOA).
const MAX_VALUE: usize = 10;

/// An alphanumeric address value: GSM 7-bit packed text (TS 23.040 §9.1.2.5, TON 5).
/// Kept as the packed octets plus the semi-octet count so it round-trips exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Alphanumeric {
    semi_octets: u8,
    packed: [u8; MAX_VALUE],
}

impl Alphanumeric {
    /// Maximum characters (septets): 10 octets.
    pub const MAX_SEPTETS: usize = 11;

    /// Pack `text` (GSM 7-bit default alphabet, escapes count as 2 septets). The length is
    /// the number of semi-octets the septets occupy, `ceil(7·n / 4)`.
    /// `Unsupported` for characters outside the alphabet, `BadLength` beyond 11 septets.
    pub fn new(text: &str) -> Result<Self> {
        let mut packed = [0u8; MAX_VALUE];
        let (n, _) = gsm7::pack_str(text, 0, &mut packed).map_err(|e| match e {
            Error::BufferTooSmall => Error::BadLength,
            e => e,
        })?;
        if n > Self::MAX_SEPTETS {
            return Err(Error::BadLength);
        }
        Ok(Alphanumeric {
            semi_octets: (7 * n).div_ceil(4) as u8,
            packed,
        })
    }

    /// From the wire: `semi_octets` (the address length octet) and the packed octets.
    fn from_wire(semi_octets: u8, bytes: &[u8]) -> Result<Self> {
        let mut packed = [0u8; MAX_VALUE];
        packed
            .get_mut(..bytes.len())
            .ok_or(Error::BadLength)?
            .copy_from_slice(bytes);
        Ok(Alphanumeric {
            semi_octets,
            packed,
        })
    }

    /// The address-length octet: semi-octets used.
    pub const fn semi_octets(&self) -> u8 {
        self.semi_octets
    }

    /// The packed octets (`ceil(semi_octets / 2)`).
    pub fn packed(&self) -> &[u8] {
        self.packed
            .get(..usize::from(self.semi_octets).div_ceil(2))
            .unwrap_or(&[])
    }

    /// Number of septets: `floor(4 · semi_octets / 7)`.
    pub fn septet_count(&self) -> usize {
        usize::from(self.semi_octets) * 4 / 7
    }

    /// The septets.
    pub fn septets(&self) -> gsm7::Unpack<'_> {
        let count = self.septet_count();
        // count ≤ 4·L/7 septets always fit in ceil(L/2) octets
        gsm7::unpack(self.packed(), 0, count).unwrap_or(gsm7::Unpack::EMPTY)
    }

    /// The text.
    pub fn chars(&self) -> gsm7::Chars<gsm7::Unpack<'_>> {
        gsm7::decode(self.septets())
    }
}

/// The value part of an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddressValue {
    /// Semi-octet digits (`0`-`9`, `*#abc`).
    Digits(Digits<MAX_DIGITS>),
    /// GSM 7-bit text (TON 5).
    Alphanumeric(Alphanumeric),
}

/// A TP address (TS 23.040 §9.1.2.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Address {
    /// Type of address octet.
    pub toa: TypeOfAddress,
    /// Digits or alphanumeric text; must be `Alphanumeric` exactly when TON is 5.
    pub value: AddressValue,
}

impl Address {
    /// A number: a leading `+` selects TON international (`91`), otherwise TON unknown
    /// (`81`); digits `0`-`9*#abc`, at most 20.
    pub fn number(s: &str) -> Result<Self> {
        let (toa, digits) = match s.strip_prefix('+') {
            Some(d) => (TypeOfAddress::INTERNATIONAL, d),
            None => (TypeOfAddress::UNKNOWN, s),
        };
        Self::digits(toa, digits)
    }

    /// Digits with an explicit type of address.
    pub fn digits(toa: TypeOfAddress, digits: &str) -> Result<Self> {
        if toa.ton() == TypeOfNumber::ALPHANUMERIC {
            return Err(Error::BadValue);
        }
        Ok(Address {
            toa,
            value: AddressValue::Digits(Digits::parse_str(digits, DigitSet::Tbcd).map_err(
                |e| match e {
                    Error::BufferTooSmall => Error::BadLength,
                    e => e,
                },
            )?),
        })
    }

    /// An alphanumeric address (TOA `D0`).
    pub fn alphanumeric(text: &str) -> Result<Self> {
        Ok(Address {
            toa: TypeOfAddress::ALPHANUMERIC,
            value: AddressValue::Alphanumeric(Alphanumeric::new(text)?),
        })
    }

    /// The address-length octet (semi-octets).
    pub fn length_field(&self) -> u8 {
        match &self.value {
            AddressValue::Digits(d) => d.len() as u8,
            AddressValue::Alphanumeric(a) => a.semi_octets(),
        }
    }

    /// Parse the address at the start of `bytes`; it takes
    /// [`buffer_len`](Self::buffer_len) octets. `Truncated` if short, `BadLength` for a
    /// length above 20, `BadValue` for a bad digit or filler.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let (&len, rest) = bytes.split_first().ok_or(Error::Truncated)?;
        let (&toa, rest) = rest.split_first().ok_or(Error::Truncated)?;
        let toa = TypeOfAddress(toa);
        if usize::from(len) > MAX_DIGITS {
            return Err(Error::BadLength);
        }
        let value = rest
            .get(..usize::from(len).div_ceil(2))
            .ok_or(Error::Truncated)?;
        let value = if toa.ton() == TypeOfNumber::ALPHANUMERIC {
            AddressValue::Alphanumeric(Alphanumeric::from_wire(len, value)?)
        } else {
            AddressValue::Digits(Digits::decode(value, usize::from(len), DigitSet::Tbcd)?)
        };
        Ok(Address { toa, value })
    }

    /// Octets: length, TOA, `ceil(length / 2)` value octets.
    pub fn buffer_len(&self) -> usize {
        2 + usize::from(self.length_field()).div_ceil(2)
    }

    fn check(&self) -> Result<()> {
        let alpha = matches!(self.value, AddressValue::Alphanumeric(_));
        if alpha != (self.toa.ton() == TypeOfNumber::ALPHANUMERIC) {
            return Err(Error::BadValue);
        }
        Ok(())
    }

    fn emit_value(&self, buf: &mut [u8]) -> Result<usize> {
        match &self.value {
            AddressValue::Digits(d) => d.encode(buf),
            AddressValue::Alphanumeric(a) => {
                let p = a.packed();
                buf.get_mut(..p.len())
                    .ok_or(Error::BufferTooSmall)?
                    .copy_from_slice(p);
                Ok(p.len())
            }
        }
    }

    /// Write length, TOA and value. `BadValue` if the TOA and the value kind disagree.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        self.check()?;
        let n = self.buffer_len();
        let out = buf.get_mut(..n).ok_or(Error::BufferTooSmall)?;
        let (head, value) = out.split_at_mut(2);
        head.copy_from_slice(&[self.length_field(), self.toa.0]);
        self.emit_value(value)?;
        Ok(n)
    }

    /// Parse the length-less form (TOA then `F`-padded digits filling `bytes`), as in CAT
    /// address objects (TS 102 223 §8.1) and EF.SMSP. Alphanumeric is `Unsupported` here.
    pub fn parse_padded(bytes: &[u8]) -> Result<Self> {
        let (&toa, rest) = bytes.split_first().ok_or(Error::Truncated)?;
        let toa = TypeOfAddress(toa);
        if toa.ton() == TypeOfNumber::ALPHANUMERIC {
            return Err(Error::Unsupported);
        }
        Ok(Address {
            toa,
            value: AddressValue::Digits(Digits::decode_padded(rest, DigitSet::Tbcd)?),
        })
    }

    /// Octets of the length-less form: TOA + `ceil(digits / 2)`.
    pub fn padded_len(&self) -> usize {
        self.buffer_len() - 1
    }

    /// Write the length-less form (see [`parse_padded`](Self::parse_padded)).
    pub fn emit_padded(&self, buf: &mut [u8]) -> Result<usize> {
        self.check()?;
        if matches!(self.value, AddressValue::Alphanumeric(_)) {
            return Err(Error::Unsupported);
        }
        let n = self.padded_len();
        let out = buf.get_mut(..n).ok_or(Error::BufferTooSmall)?;
        let (head, value) = out.split_first_mut().ok_or(Error::BufferTooSmall)?;
        *head = self.toa.0;
        self.emit_value(value)?;
        Ok(n)
    }
}

impl fmt::Display for Address {
    /// `+digits` for TON international, plain digits otherwise, the text for alphanumeric.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            AddressValue::Digits(d) => {
                if self.toa.ton() == TypeOfNumber::INTERNATIONAL {
                    f.write_str("+")?;
                }
                write!(f, "{d}")
            }
            AddressValue::Alphanumeric(a) => {
                for c in a.chars() {
                    fmt::Write::write_char(f, c)?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use proptest::prelude::*;
    use std::string::ToString;
    use std::vec::Vec;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s.replace(' ', "")).unwrap()
    }

    fn round(a: &Address, raw: &[u8]) {
        let mut buf = [0u8; 12];
        let n = a.emit(&mut buf).unwrap();
        assert_eq!(&buf[..n], raw);
        assert_eq!(&Address::parse(raw).unwrap(), a);
    }

    #[test]
    fn numeric_vectors() {
        // /work/shared/spec/04-sms.md §2 (libosmocore gsm340_gen_oa, tshark)
        let a = Address::number("+447700900123").unwrap();
        round(&a, &h("0C 91 44 77 00 09 10 32"));
        assert_eq!(a.to_string(), "+447700900123");
        let a = Address::number("12345678").unwrap();
        round(&a, &h("08 81 21 43 65 87"));
        assert_eq!(a.toa.ton(), TypeOfNumber::UNKNOWN);
        assert_eq!(a.toa.npi(), NumberingPlan::ISDN);
        // odd count, F filler
        round(&Address::number("+12345").unwrap(), &h("05 91 21 43 F5"));
        // TBCD extension
        round(&Address::number("*100#").unwrap(), &h("05 81 1A 00 FB"));
        // length-less form (CAT address, 04-sms.md §5: 86 07 91 44 77 00 09 00 00)
        let smsc = Address::parse_padded(&h("91 44 77 00 09 00 00")).unwrap();
        assert_eq!(smsc.to_string(), "+447700900000");
        let mut buf = [0u8; 12];
        let n = smsc.emit_padded(&mut buf).unwrap();
        assert_eq!(&buf[..n], &h("91 44 77 00 09 00 00")[..]);
        assert_eq!(Address::parse(&h("0C 91 44 77")), Err(Error::Truncated));
        assert_eq!(
            Address::parse(&h("15 91 00 00 00 00 00 00 00 00 00 00 00")),
            Err(Error::BadLength)
        );
        assert_eq!(Address::parse(&h("05 91 21 43 05")), Err(Error::BadValue));
    }

    #[test]
    fn alphanumeric_vectors() {
        // TS 23.040 §9.1.2.5: "Vodafone" (8 septets, 56 bits) → 14 semi-octets, D0
        let a = Address::alphanumeric("Vodafone").unwrap();
        assert_eq!(a.length_field(), 14);
        let mut buf = [0u8; 12];
        let n = a.emit(&mut buf).unwrap();
        assert_eq!(&buf[..n], &h("0E D0 D6 37 39 6C 7E BB CB")[..]);
        assert_eq!(Address::parse(&buf[..n]).unwrap().to_string(), "Vodafone");
        // 7 septets = 49 bits → 13 semi-octets, so it does not grow an '@'
        let a = Address::alphanumeric("Example").unwrap();
        assert_eq!(a.length_field(), 13);
        let n = a.emit(&mut buf).unwrap();
        assert_eq!(Address::parse(&buf[..n]).unwrap().to_string(), "Example");
        assert_eq!(Address::alphanumeric("TwelveLetter"), Err(Error::BadLength));
        assert_eq!(Address::alphanumeric("Ж"), Err(Error::Unsupported));
    }

    fn address() -> impl Strategy<Value = Address> {
        prop_oneof![
            ("[0-9*#abc]{0,20}", 0u8..=4, 0u8..16).prop_map(|(d, ton, npi)| {
                Address::digits(
                    TypeOfAddress::new(TypeOfNumber(ton), NumberingPlan(npi)),
                    &d,
                )
                .unwrap()
            }),
            "[A-Za-z0-9 @£$]{0,11}".prop_map(|t| Address::alphanumeric(&t).unwrap()),
        ]
    }

    proptest! {
        #[test]
        fn repr_round_trip(a in address()) {
            let mut buf = [0u8; 12];
            let n = a.emit(&mut buf).unwrap();
            prop_assert_eq!(n, a.buffer_len());
            prop_assert_eq!(Address::parse(&buf[..n]).unwrap(), a);
        }

        #[test]
        fn bytes_round_trip(b in proptest::collection::vec(any::<u8>(), 0..14)) {
            if let Ok(a) = Address::parse(&b) {
                let mut buf = [0u8; 12];
                let n = a.emit(&mut buf).unwrap();
                prop_assert_eq!(&buf[..n], &b[..n]);
                let _ = a.to_string();
            }
            if let Ok(a) = Address::parse_padded(&b) {
                let mut buf = [0u8; 40];
                let _ = a.emit_padded(&mut buf);
            }
        }
    }
}
