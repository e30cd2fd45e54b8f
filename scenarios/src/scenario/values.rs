//! Checked scalar values of scenario files: durations, digit strings, PLMNs, keys.
//!
//! Each type validates itself while it is deserialized, so a bad value is reported by
//! the TOML parser at the value's own line and column.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer};

/// A span of virtual time, written `250ms`, `30s`, `10m`, `1h`, `2d` or sums such as
/// `1h30m`. Stored in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration {
    /// Milliseconds.
    pub ms: u64,
}

impl Duration {
    /// Parses `1h30m`-style text.
    pub fn parse(s: &str) -> Result<Duration, String> {
        const EXPECTED: &str =
            "expected a duration such as \"250ms\", \"30s\", \"10m\", \"1h30m\" or \"2d\"";
        let mut rest = s.trim();
        if rest.is_empty() {
            return Err(format!("empty duration; {EXPECTED}"));
        }
        let mut total: u64 = 0;
        while !rest.is_empty() {
            let n_len = rest.bytes().take_while(u8::is_ascii_digit).count();
            if n_len == 0 {
                return Err(format!("{s:?}: {EXPECTED}"));
            }
            let n: u64 = rest[..n_len]
                .parse()
                .map_err(|_| format!("{s:?}: number too large"))?;
            rest = &rest[n_len..];
            let u_len = rest.bytes().take_while(|b| b.is_ascii_alphabetic()).count();
            let unit = match &rest[..u_len] {
                "ms" => 1,
                "s" => 1_000,
                "m" | "min" => 60_000,
                "h" => 3_600_000,
                "d" => 86_400_000,
                "" => return Err(format!("{s:?}: missing unit after {n}; {EXPECTED}")),
                u => return Err(format!("{s:?}: unknown unit {u:?}; {EXPECTED}")),
            };
            rest = &rest[u_len..];
            total = n
                .checked_mul(unit)
                .and_then(|v| total.checked_add(v))
                .ok_or_else(|| format!("{s:?}: duration too large"))?;
        }
        Ok(Duration { ms: total })
    }

    /// From milliseconds.
    pub const fn from_ms(ms: u64) -> Duration {
        Duration { ms }
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ms = self.ms;
        if ms == 0 {
            return f.write_str("0s");
        }
        for (unit, len) in [
            ("d", 86_400_000),
            ("h", 3_600_000),
            ("m", 60_000),
            ("s", 1_000),
            ("ms", 1),
        ] {
            if ms >= len {
                write!(f, "{}{unit}", ms / len)?;
                ms %= len;
            }
        }
        Ok(())
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Duration::parse(&s).map_err(de::Error::custom)
    }
}

/// Checks that `s` is `min..=max` decimal digits.
fn digits(s: &str, what: &str, min: usize, max: usize) -> Result<(), String> {
    let ok_len = (min..=max).contains(&s.len());
    if ok_len && s.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(());
    }
    let len = if min == max {
        format!("{min}")
    } else {
        format!("{min} to {max}")
    };
    Err(format!(
        "{what} {s:?}: expected a string of {len} decimal digits"
    ))
}

macro_rules! digit_string {
    ($(#[$doc:meta])* $name:ident, $what:literal, $min:literal, $max:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub String);

        impl $name {
            /// Checks and wraps the digits.
            pub fn parse(s: &str) -> Result<Self, String> {
                digits(s, $what, $min, $max).map(|()| $name(s.to_owned()))
            }

            /// The digits.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                $name::parse(&s).map_err(de::Error::custom)
            }
        }
    };
}

digit_string!(
    /// An IMSI: 6 to 15 digits (3GPP TS 23.003 §2.2).
    Imsi, "IMSI", 6, 15
);
digit_string!(
    /// An ICCID: 18 to 20 digits (ITU-T E.118; EF.ICCID, TS 102 221 §13.2).
    Iccid, "ICCID", 18, 20
);
digit_string!(
    /// An IMEI as a handset reports it: 15 digits (3GPP TS 23.003 §6.2.1). The check
    /// digit is *not* verified here, so a handset can report an invalid IMEI on purpose.
    Imei, "IMEI", 15, 15
);
digit_string!(
    /// A Type Allocation Code: the first 8 digits of an IMEI (3GPP TS 23.003 §6.2.1).
    Tac, "TAC", 8, 8
);
digit_string!(
    /// The 6-digit serial number (SNR) of an IMEI (3GPP TS 23.003 §6.2.1).
    Serial, "serial number", 6, 6
);
digit_string!(
    /// An E.164 number (MSISDN, SMSC address): 1 to 15 digits (ITU-T E.164).
    E164, "number", 1, 15
);
digit_string!(
    /// A card PIN: 4 to 8 digits (ETSI TS 102 221 §9.5.1).
    Pin, "PIN", 4, 8
);

impl Imei {
    /// IMEI from TAC + serial with the Luhn check digit (TS 23.003 Annex B).
    pub fn from_parts(tac: &Tac, serial: &Serial) -> Imei {
        let body: Vec<u8> = tac
            .0
            .bytes()
            .chain(serial.0.bytes())
            .map(|b| b - b'0')
            .collect();
        let cd = applet::wire::imei::luhn_check_digit(&body).unwrap_or(0);
        Imei(format!("{}{}{}", tac.0, serial.0, cd))
    }

    /// The TAC (first 8 digits).
    pub fn tac(&self) -> &str {
        &self.0[..8]
    }

    /// Whether digit 15 is the Luhn check digit of digits 1–14 (TS 23.003 Annex B).
    pub fn luhn_ok(&self) -> bool {
        let d: Vec<u8> = self.0.bytes().map(|b| b - b'0').collect();
        applet::wire::imei::luhn_verify(&d)
    }
}

/// A PLMN identity written `MCC-MNC` (`208-01`, `310-410`): MCC 3 digits, MNC 2 or 3
/// digits (3GPP TS 23.003 §2.2, §12.1). The dash keeps 2- and 3-digit MNCs apart.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Plmn {
    /// Mobile country code, 3 digits.
    pub mcc: String,
    /// Mobile network code, 2 or 3 digits.
    pub mnc: String,
}

impl Plmn {
    /// Parses `MCC-MNC`.
    pub fn parse(s: &str) -> Result<Plmn, String> {
        let bad = || format!("PLMN {s:?}: expected \"MCC-MNC\" such as \"208-01\" or \"310-410\"");
        let (mcc, mnc) = s.split_once('-').ok_or_else(bad)?;
        digits(mcc, "MCC", 3, 3).map_err(|_| bad())?;
        digits(mnc, "MNC", 2, 3).map_err(|_| bad())?;
        Ok(Plmn {
            mcc: mcc.to_owned(),
            mnc: mnc.to_owned(),
        })
    }

    /// MCC followed by MNC, the prefix of the operator's IMSIs.
    pub fn digits(&self) -> String {
        format!("{}{}", self.mcc, self.mnc)
    }
}

impl fmt::Display for Plmn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.mcc, self.mnc)
    }
}

impl<'de> Deserialize<'de> for Plmn {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Plmn::parse(&s).map_err(de::Error::custom)
    }
}

/// A 128-bit key written as 32 hex digits (the card's AES-128 registration key,
/// `docs/registration.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key128(pub [u8; 16]);

impl<'de> Deserialize<'de> for Key128 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let mut k = [0u8; 16];
        hex::decode_to_slice(s.as_bytes(), &mut k)
            .map(|()| Key128(k))
            .map_err(|_| de::Error::custom(format!("key {s:?}: expected 32 hex digits")))
    }
}

/// A calendar date `YYYY-MM-DD` (TOML local date, e.g. `date = 2026-11-27`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    /// Year.
    pub year: u16,
    /// Month 1–12.
    pub month: u8,
    /// Day 1–31.
    pub day: u8,
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = toml::value::Datetime::deserialize(d)?;
        match (v.date, v.time, v.offset) {
            (Some(date), None, None) => Ok(Date {
                year: date.year,
                month: date.month,
                day: date.day,
            }),
            _ => Err(de::Error::custom(format!(
                "{v}: expected a local date such as 2026-11-27 (no time, no offset)"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(Duration::parse("250ms").unwrap().ms, 250);
        assert_eq!(Duration::parse("1h30m").unwrap().ms, 5_400_000);
        assert_eq!(Duration::parse("2d").unwrap().ms, 172_800_000);
        assert!(Duration::parse("10").unwrap_err().contains("missing unit"));
        assert!(Duration::parse("10 years").is_err());
        assert!(Duration::parse("").is_err());
        assert_eq!(Duration::from_ms(5_400_250).to_string(), "1h30m250ms");
    }

    #[test]
    fn imei_from_parts_has_luhn_digit() {
        // TS 23.003 Annex B worked example: 49015420323751 → check digit 8.
        let imei = Imei::from_parts(
            &Tac::parse("49015420").unwrap(),
            &Serial::parse("323751").unwrap(),
        );
        assert_eq!(imei.as_str(), "490154203237518");
        assert!(imei.luhn_ok());
        assert!(!Imei::parse("490154203237519").unwrap().luhn_ok());
    }

    #[test]
    fn plmn() {
        assert_eq!(Plmn::parse("310-410").unwrap().digits(), "310410");
        assert!(Plmn::parse("31041").is_err());
        assert!(Plmn::parse("31-410").is_err());
    }
}
