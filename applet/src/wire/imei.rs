//! IMEI, IMEISV, TAC and SNR; the Luhn check digit; the TS 24.008 mobile identity
//! encoding used in CAT tags `14` (IMEI) and `62` (IMEISV).
//!
//! Structure (3GPP TS 23.003 §6.2, Annex B; `/work/shared/spec/03-imei.md` §1):
//!
//! | identity | digits | layout |
//! | --- | --- | --- |
//! | IMEI | 15 | TAC (8) · SNR (6) · CD (1, Luhn) |
//! | IMEISV | 16 | TAC (8) · SNR (6) · SVN (2), no check digit |
//!
//! Handsets put either the real check digit or a spare `0` in digit 15 (TS 22.016 §3,
//! `03-imei.md` §2), so IMEIs are compared on their first 14 digits, [`TacSnr`].

use core::fmt;
use core::str::FromStr;

use super::bcd::{DigitSet, Digits, IdentityType, MobileIdentity};
use super::{Error, Result};

/// The Luhn check digit over `digits` (values `0..=9`, most significant first): from the
/// rightmost digit going left, every first, third, … digit is doubled (minus 9 when above 9),
/// CD = (10 − sum mod 10) mod 10 (TS 23.003 Annex B.2, ISO/IEC 7812-1 Annex B).
/// `None` if a value is above 9.
pub fn luhn_check_digit(digits: &[u8]) -> Option<u8> {
    let mut sum: u32 = 0;
    for (i, &d) in digits.iter().rev().enumerate() {
        if d > 9 {
            return None;
        }
        let v = if i % 2 == 0 {
            let x = 2 * d;
            if x > 9 { x - 9 } else { x }
        } else {
            d
        };
        sum += u32::from(v);
    }
    Some(((10 - sum % 10) % 10) as u8)
}

/// Whether the last element of `digits` is the Luhn check digit of the others. `false`
/// for an empty slice or any value above 9.
pub fn luhn_verify(digits: &[u8]) -> bool {
    match digits.split_last() {
        Some((&cd, body)) => luhn_check_digit(body) == Some(cd),
        None => false,
    }
}

/// Write `digits` (values `0..=9`) as ASCII into a formatter.
fn write_digits(f: &mut fmt::Formatter<'_>, digits: &[u8]) -> fmt::Result {
    for &d in digits {
        fmt::Write::write_char(f, char::from(b'0' + (d % 10)))?;
    }
    Ok(())
}

/// Parse exactly `N` ASCII decimal digits. `BadLength` for the wrong count, `BadValue` for
/// a non-digit.
fn parse_ascii<const N: usize>(s: &str) -> Result<[u8; N]> {
    let b = s.as_bytes();
    if b.len() != N {
        return Err(Error::BadLength);
    }
    let mut out = [0u8; N];
    for (o, &c) in out.iter_mut().zip(b) {
        if !c.is_ascii_digit() {
            return Err(Error::BadValue);
        }
        *o = c - b'0';
    }
    Ok(out)
}

/// Check that every value is a decimal digit.
fn check_decimal(d: &[u8]) -> Result<()> {
    if d.iter().all(|&x| x <= 9) {
        Ok(())
    } else {
        Err(Error::BadValue)
    }
}

/// Decimal value of a digit slice.
fn value_of(d: &[u8]) -> u64 {
    d.iter().fold(0u64, |acc, &x| acc * 10 + u64::from(x))
}

/// Digits of `v` as exactly `N` decimal digits; `BadValue` if it has more.
fn digits_of<const N: usize>(mut v: u64) -> Result<[u8; N]> {
    let mut out = [0u8; N];
    for o in out.iter_mut().rev() {
        *o = (v % 10) as u8;
        v /= 10;
    }
    if v != 0 {
        return Err(Error::BadValue);
    }
    Ok(out)
}

macro_rules! digit_newtype {
    ($(#[$m:meta])* $name:ident, $n:expr, $int:ty) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name([u8; $n]);

        impl $name {
            /// Number of digits.
            pub const LEN: usize = $n;

            /// From digit values (`BadValue` if one is above 9).
            pub fn from_digits(digits: [u8; $n]) -> Result<Self> {
                check_decimal(&digits)?;
                Ok($name(digits))
            }

            /// The digit values, most significant first.
            pub const fn digits(&self) -> &[u8; $n] {
                &self.0
            }

            /// The digits as a decimal number (leading zeros are significant in the
            /// string form, not here).
            pub fn value(&self) -> $int {
                value_of(&self.0) as $int
            }

            /// From a decimal number; `BadValue` if it needs more digits.
            pub fn from_value(v: $int) -> Result<Self> {
                Ok($name(digits_of::<$n>(v as u64)?))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write_digits(f, &self.0)
            }
        }

        impl FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self> {
                Ok($name(parse_ascii::<$n>(s)?))
            }
        }
    };
}

digit_newtype!(
    /// Type Allocation Code: the first 8 digits of an IMEI/IMEISV, identifying make and
    /// model (TS 23.003 §6.2.1). The first two digits are the reporting body (GSMA TS.06).
    Tac,
    8,
    u32
);

digit_newtype!(
    /// Serial number: digits 9..14 of an IMEI/IMEISV (TS 23.003 §6.2.1).
    Snr,
    6,
    u32
);

digit_newtype!(
    /// TAC + SNR, the 14 digits that identify a handset; the key to compare IMEIs on
    /// (digit 15 varies between the Luhn digit and a spare `0`, `03-imei.md` §2).
    TacSnr,
    14,
    u64
);

impl Tac {
    /// Reporting body identifier: the first two digits (GSMA TS.06).
    pub fn reporting_body(&self) -> u8 {
        self.0[0] * 10 + self.0[1]
    }
}

impl TacSnr {
    /// Join a TAC and an SNR.
    pub fn new(tac: Tac, snr: Snr) -> Self {
        let mut d = [0u8; 14];
        d[..8].copy_from_slice(&tac.0);
        d[8..].copy_from_slice(&snr.0);
        TacSnr(d)
    }

    /// The TAC (digits 1..8).
    pub fn tac(&self) -> Tac {
        let mut d = [0u8; 8];
        d.copy_from_slice(&self.0[..8]);
        Tac(d)
    }

    /// The SNR (digits 9..14).
    pub fn snr(&self) -> Snr {
        let mut d = [0u8; 6];
        d.copy_from_slice(&self.0[8..]);
        Snr(d)
    }

    /// The Luhn check digit over these 14 digits (TS 23.003 Annex B).
    pub fn luhn_digit(&self) -> u8 {
        luhn_check_digit(&self.0).unwrap_or(0)
    }
}

/// What digit 15 of an [`Imei`] holds (TS 23.003 Annex B; TS 22.016 §3 allows a spare `0`
/// on the air interface, `03-imei.md` §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CheckDigitStatus {
    /// Digit 15 is the Luhn check digit of digits 1..14 (this wins when the Luhn digit is 0).
    Valid,
    /// Digit 15 is `0` but the Luhn digit is not: the spare value sent by some handsets.
    Spare,
    /// Digit 15 is neither.
    Wrong {
        /// The Luhn digit digits 1..14 call for.
        expected: u8,
    },
}

/// An IMEI: 15 decimal digits TAC · SNR · CD (TS 23.003 §6.2.1).
///
/// As a wire `Repr` it is the 8-octet TS 24.008 §10.5.1.4 mobile identity value carried in
/// the CAT IMEI object (tag `14`, TS 102 223 §8.20): first octet `d1<<4 | 0x0A`.
/// Digit 15 is kept as received; see [`Imei::check_digit_status`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Imei([u8; 15]);

impl Imei {
    /// Number of digits.
    pub const LEN: usize = 15;
    /// Length of the mobile-identity encoding in octets.
    pub const MOBILE_IDENTITY_LEN: usize = 8;

    /// From 15 digit values (any digit 15 accepted; `BadValue` if a value is above 9).
    pub fn from_digits(digits: [u8; 15]) -> Result<Self> {
        check_decimal(&digits)?;
        Ok(Imei(digits))
    }

    /// TAC + SNR with the computed Luhn check digit.
    pub fn with_check_digit(tac_snr: TacSnr) -> Self {
        Self::with_digit15(tac_snr, tac_snr.luhn_digit())
    }

    /// TAC + SNR with the spare `0` in digit 15.
    pub fn with_spare(tac_snr: TacSnr) -> Self {
        Self::with_digit15(tac_snr, 0)
    }

    fn with_digit15(tac_snr: TacSnr, d15: u8) -> Self {
        let mut d = [0u8; 15];
        d[..14].copy_from_slice(&tac_snr.0);
        d[14] = d15;
        Imei(d)
    }

    /// The 15 digit values.
    pub const fn digits(&self) -> &[u8; 15] {
        &self.0
    }

    /// The first 14 digits: the comparison key.
    pub fn tac_snr(&self) -> TacSnr {
        let mut d = [0u8; 14];
        d.copy_from_slice(&self.0[..14]);
        TacSnr(d)
    }

    /// The TAC (digits 1..8).
    pub fn tac(&self) -> Tac {
        self.tac_snr().tac()
    }

    /// The SNR (digits 9..14).
    pub fn snr(&self) -> Snr {
        self.tac_snr().snr()
    }

    /// Digit 15 as received.
    pub const fn check_digit(&self) -> u8 {
        self.0[14]
    }

    /// Whether digit 15 is the Luhn digit, the spare `0`, or wrong.
    pub fn check_digit_status(&self) -> CheckDigitStatus {
        let expected = self.tac_snr().luhn_digit();
        if self.0[14] == expected {
            CheckDigitStatus::Valid
        } else if self.0[14] == 0 {
            CheckDigitStatus::Spare
        } else {
            CheckDigitStatus::Wrong { expected }
        }
    }

    /// Parse the 8-octet mobile identity value (CAT tag `14` contents). `BadLength` unless
    /// 8 octets; `BadTag` unless type IMEI (`010`); `BadValue` if the odd flag is clear or a
    /// nibble is not a digit.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        if bytes.len() != Self::MOBILE_IDENTITY_LEN {
            return Err(Error::BadLength);
        }
        let id = parse_identity(bytes, IdentityType::IMEI)?;
        let mut d = [0u8; 15];
        if id.digits.len() != 15 {
            return Err(Error::BadValue);
        }
        d.copy_from_slice(id.digits.as_nibbles());
        Ok(Imei(d))
    }

    /// Always [`Imei::MOBILE_IDENTITY_LEN`].
    pub fn buffer_len(&self) -> usize {
        Self::MOBILE_IDENTITY_LEN
    }

    /// Write the 8-octet mobile identity value.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        emit_identity(&self.0, IdentityType::IMEI, buf)
    }
}

/// An IMEISV: 16 decimal digits TAC · SNR · SVN, no check digit (TS 23.003 §6.2.2).
///
/// As a wire `Repr` it is the 9-octet mobile identity value of CAT tag `62`
/// (TS 102 223 §8.88): first octet `d1<<4 | 0x03`, last octet `F<d16>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Imeisv([u8; 16]);

impl Imeisv {
    /// Number of digits.
    pub const LEN: usize = 16;
    /// Length of the mobile-identity encoding in octets.
    pub const MOBILE_IDENTITY_LEN: usize = 9;

    /// From 16 digit values (`BadValue` if one is above 9).
    pub fn from_digits(digits: [u8; 16]) -> Result<Self> {
        check_decimal(&digits)?;
        Ok(Imeisv(digits))
    }

    /// TAC + SNR + software version number (`BadValue` if `svn > 99`).
    pub fn new(tac_snr: TacSnr, svn: u8) -> Result<Self> {
        if svn > 99 {
            return Err(Error::BadValue);
        }
        let mut d = [0u8; 16];
        d[..14].copy_from_slice(&tac_snr.0);
        d[14] = svn / 10;
        d[15] = svn % 10;
        Ok(Imeisv(d))
    }

    /// The 16 digit values.
    pub const fn digits(&self) -> &[u8; 16] {
        &self.0
    }

    /// The first 14 digits: the key shared with the IMEI of the same handset.
    pub fn tac_snr(&self) -> TacSnr {
        let mut d = [0u8; 14];
        d.copy_from_slice(&self.0[..14]);
        TacSnr(d)
    }

    /// The TAC (digits 1..8).
    pub fn tac(&self) -> Tac {
        self.tac_snr().tac()
    }

    /// The SNR (digits 9..14).
    pub fn snr(&self) -> Snr {
        self.tac_snr().snr()
    }

    /// Software version number, digits 15..16 (0..=99).
    pub const fn svn(&self) -> u8 {
        self.0[14] * 10 + self.0[15]
    }

    /// The IMEI of the same handset, with the computed check digit.
    pub fn imei(&self) -> Imei {
        Imei::with_check_digit(self.tac_snr())
    }

    /// Parse the 9-octet mobile identity value (CAT tag `62` contents). `BadLength` unless
    /// 9 octets; `BadTag` unless type IMEISV (`011`); `BadValue` if the odd flag is set, the
    /// filler is not `F`, or a nibble is not a digit.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        if bytes.len() != Self::MOBILE_IDENTITY_LEN {
            return Err(Error::BadLength);
        }
        let id = parse_identity(bytes, IdentityType::IMEISV)?;
        let mut d = [0u8; 16];
        if id.digits.len() != 16 {
            return Err(Error::BadValue);
        }
        d.copy_from_slice(id.digits.as_nibbles());
        Ok(Imeisv(d))
    }

    /// Always [`Imeisv::MOBILE_IDENTITY_LEN`].
    pub fn buffer_len(&self) -> usize {
        Self::MOBILE_IDENTITY_LEN
    }

    /// Write the 9-octet mobile identity value.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        emit_identity(&self.0, IdentityType::IMEISV, buf)
    }
}

fn parse_identity(bytes: &[u8], want: IdentityType) -> Result<MobileIdentity> {
    let id = MobileIdentity::parse(bytes).map_err(|e| match e {
        Error::Unsupported => Error::BadTag,
        e => e,
    })?;
    if id.identity_type != want {
        return Err(Error::BadTag);
    }
    Ok(id)
}

fn emit_identity(digits: &[u8], t: IdentityType, buf: &mut [u8]) -> Result<usize> {
    MobileIdentity {
        identity_type: t,
        digits: Digits::from_nibbles(digits, DigitSet::Decimal)?,
    }
    .emit(buf)
}

impl fmt::Display for Imei {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_digits(f, &self.0)
    }
}

impl fmt::Display for Imeisv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_digits(f, &self.0)
    }
}

impl FromStr for Imei {
    type Err = Error;
    /// Exactly 15 ASCII digits (no check-digit validation; see
    /// [`Imei::check_digit_status`]).
    fn from_str(s: &str) -> Result<Self> {
        Ok(Imei(parse_ascii::<15>(s)?))
    }
}

impl FromStr for Imeisv {
    type Err = Error;
    /// Exactly 16 ASCII digits.
    fn from_str(s: &str) -> Result<Self> {
        Ok(Imeisv(parse_ascii::<16>(s)?))
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use proptest::prelude::*;
    use std::string::ToString;

    fn h(s: &str) -> std::vec::Vec<u8> {
        hex::decode(s.replace(' ', "")).unwrap()
    }

    #[test]
    fn luhn_worked_vectors() {
        // /work/shared/spec/03-imei.md §2 worked example: 49015420323751 → 8
        assert_eq!(
            luhn_check_digit(&[4, 9, 0, 1, 5, 4, 2, 0, 3, 2, 3, 7, 5, 1]),
            Some(8)
        );
        // 03-imei.md §2 second vector: 35209900176148 → 1
        let ts: TacSnr = "35209900176148".parse().unwrap();
        assert_eq!(ts.luhn_digit(), 1);
        assert!(luhn_verify(&[3, 5, 2, 0, 9, 9, 0, 0, 1, 7, 6, 1, 4, 8, 1]));
        assert!(!luhn_verify(&[]));
        assert_eq!(luhn_check_digit(&[10]), None);
        // ICCID 8988211000000430010 (01-apdu.md §3) ends in its Luhn digit 0
        let iccid = [8, 9, 8, 8, 2, 1, 1, 0, 0, 0, 0, 0, 0, 4, 3, 0, 0, 1, 0];
        assert!(luhn_verify(&iccid));
    }

    #[test]
    fn imei_structure_and_status() {
        let imei: Imei = "490154203237518".parse().unwrap();
        assert_eq!(imei.tac().to_string(), "49015420");
        assert_eq!(imei.tac().value(), 49015420);
        assert_eq!(imei.tac().reporting_body(), 49);
        assert_eq!(imei.snr().to_string(), "323751");
        assert_eq!(imei.tac_snr().to_string(), "49015420323751");
        assert_eq!(imei.check_digit_status(), CheckDigitStatus::Valid);
        let spare: Imei = "490154203237510".parse().unwrap();
        assert_eq!(spare.check_digit_status(), CheckDigitStatus::Spare);
        assert_eq!(spare.tac_snr(), imei.tac_snr());
        let wrong: Imei = "490154203237517".parse().unwrap();
        assert_eq!(
            wrong.check_digit_status(),
            CheckDigitStatus::Wrong { expected: 8 }
        );
        assert_eq!(Imei::with_check_digit(imei.tac_snr()), imei);
        assert_eq!(Imei::with_spare(imei.tac_snr()), spare);
        assert_eq!("49015420323751".parse::<Imei>(), Err(Error::BadLength));
        assert_eq!("49015420323751x".parse::<Imei>(), Err(Error::BadValue));
        assert_eq!(Tac::from_value(1234).unwrap().to_string(), "00001234");
        assert_eq!(Tac::from_value(123_456_789), Err(Error::BadValue));
    }

    #[test]
    fn imei_mobile_identity_vector() {
        // /work/shared/spec/03-imei.md §3: CAT TLV 14 08 4A 09 51 24 30 32 57 81 (tshark)
        let raw = h("4A 09 51 24 30 32 57 81");
        let imei = Imei::parse(&raw).unwrap();
        assert_eq!(imei.to_string(), "490154203237518");
        let mut buf = [0u8; 8];
        assert_eq!(imei.emit(&mut buf).unwrap(), 8);
        assert_eq!(&buf[..], &raw[..]);
        // IMSI type in an IMEI slot
        assert_eq!(
            Imei::parse(&h("49 09 51 24 30 32 57 81")),
            Err(Error::BadTag)
        );
        // odd flag cleared → 14 digits + filler expected
        assert_eq!(
            Imei::parse(&h("42 09 51 24 30 32 57 81")),
            Err(Error::BadValue)
        );
        assert_eq!(Imei::parse(&raw[..7]), Err(Error::BadLength));
        assert_eq!(
            Imei::parse(&h("4A 09 51 24 30 32 57 8A")),
            Err(Error::BadValue)
        );
    }

    #[test]
    fn imeisv_mobile_identity_vector() {
        // /work/shared/spec/03-imei.md §3: CAT TLV 62 09 43 09 51 24 30 32 57 01 F1 (tshark)
        let raw = h("43 09 51 24 30 32 57 01 F1");
        let sv = Imeisv::parse(&raw).unwrap();
        assert_eq!(sv.to_string(), "4901542032375101");
        assert_eq!(sv.svn(), 1);
        assert_eq!(sv.imei().to_string(), "490154203237518");
        let mut buf = [0u8; 9];
        assert_eq!(sv.emit(&mut buf).unwrap(), 9);
        assert_eq!(&buf[..], &raw[..]);
        assert_eq!(
            Imeisv::new("49015420323751".parse().unwrap(), 1).unwrap(),
            sv
        );
        assert_eq!(
            Imeisv::parse(&h("42 09 51 24 30 32 57 01 F1")),
            Err(Error::BadTag)
        );
        assert_eq!(
            Imeisv::parse(&h("43 09 51 24 30 32 57 01 01")),
            Err(Error::BadValue)
        );
    }

    proptest! {
        #[test]
        fn luhn_check_digit_verifies(d in proptest::collection::vec(0u8..=9, 0..20)) {
            let cd = luhn_check_digit(&d).unwrap();
            let mut full = d.clone();
            full.push(cd);
            prop_assert!(luhn_verify(&full));
            // a single-digit change is always detected
            if let Some(x) = full.first_mut() {
                *x = (*x + 1) % 10;
                prop_assert!(!luhn_verify(&full));
            }
        }

        #[test]
        fn imei_round_trip(d in proptest::array::uniform15(0u8..=9)) {
            let imei = Imei::from_digits(d).unwrap();
            let mut buf = [0u8; 8];
            imei.emit(&mut buf).unwrap();
            prop_assert_eq!(Imei::parse(&buf).unwrap(), imei);
            prop_assert_eq!(imei.to_string().parse::<Imei>().unwrap(), imei);
        }

        #[test]
        fn imeisv_round_trip(d in proptest::array::uniform16(0u8..=9)) {
            let sv = Imeisv::from_digits(d).unwrap();
            let mut buf = [0u8; 9];
            sv.emit(&mut buf).unwrap();
            prop_assert_eq!(Imeisv::parse(&buf).unwrap(), sv);
            prop_assert_eq!(sv.to_string().parse::<Imeisv>().unwrap(), sv);
        }

        #[test]
        fn canonical_bytes_round_trip(b in proptest::collection::vec(any::<u8>(), 8..=9)) {
            if let Ok(imei) = Imei::parse(&b) {
                let mut buf = [0u8; 8];
                imei.emit(&mut buf).unwrap();
                prop_assert_eq!(&buf[..], &b[..]);
            }
            if let Ok(sv) = Imeisv::parse(&b) {
                let mut buf = [0u8; 9];
                sv.emit(&mut buf).unwrap();
                prop_assert_eq!(&buf[..], &b[..]);
            }
        }

        #[test]
        fn random_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..=12), s in "\\PC{0,20}") {
            let _ = Imei::parse(&b);
            let _ = Imeisv::parse(&b);
            let _ = s.parse::<Imei>();
            let _ = s.parse::<Imeisv>();
            let _ = s.parse::<Tac>();
        }
    }
}
