//! TP-SCTS / TP-DT / absolute TP-VP: 7 octets of swapped BCD `YY MM DD hh mm ss TZ`
//! (3GPP TS 23.040 §9.2.3.11; `/work/shared/spec/04-sms.md` §2).
//!
//! Each octet holds two digits, units in the high nibble and tens in the low nibble.
//! The time-zone octet counts quarter hours; bit 4 of the octet (the top bit of the tens
//! nibble) is the sign, 1 = negative. Verified with tshark: `40` = GMT+1 h, `0A` = GMT−5 h,
//! `23` = GMT+8 h.

use core::fmt;

use super::super::{Error, Result};

/// Offset from GMT in quarter hours (TS 23.040 §9.2.3.11). Sign and magnitude are kept
/// separately so that a received "−0" round-trips.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TimeZone {
    /// Sign bit: the offset is west of GMT.
    pub negative: bool,
    /// Magnitude in quarter hours, 0..=79.
    pub quarter_hours: u8,
}

impl TimeZone {
    /// GMT+0.
    pub const UTC: TimeZone = TimeZone {
        negative: false,
        quarter_hours: 0,
    };

    /// From a signed quarter-hour count; `BadValue` outside −79..=79.
    pub fn from_quarter_hours(q: i8) -> Result<Self> {
        let m = q.unsigned_abs();
        if m > 79 {
            return Err(Error::BadValue);
        }
        Ok(TimeZone {
            negative: q < 0,
            quarter_hours: m,
        })
    }

    /// Signed offset in minutes.
    pub fn offset_minutes(&self) -> i16 {
        let m = i16::from(self.quarter_hours) * 15;
        if self.negative { -m } else { m }
    }

    fn parse(b: u8) -> Result<Self> {
        let tens = b & 0x07;
        let units = b >> 4;
        if units > 9 {
            return Err(Error::BadValue);
        }
        Ok(TimeZone {
            negative: b & 0x08 != 0,
            quarter_hours: tens * 10 + units,
        })
    }

    fn emit(&self) -> Result<u8> {
        if self.quarter_hours > 79 {
            return Err(Error::BadValue);
        }
        let sign = if self.negative { 0x08 } else { 0 };
        Ok(((self.quarter_hours % 10) << 4) | sign | (self.quarter_hours / 10))
    }
}

/// A service-centre time stamp (TS 23.040 §9.2.3.11). Fields are 0..=99 each; no
/// calendar validation is done, so any BCD value round-trips.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Timestamp {
    /// Year within the century (`25` = 2025).
    pub year: u8,
    /// Month.
    pub month: u8,
    /// Day of month.
    pub day: u8,
    /// Hour.
    pub hour: u8,
    /// Minute.
    pub minute: u8,
    /// Second.
    pub second: u8,
    /// Time zone.
    pub time_zone: TimeZone,
}

fn bcd_in(b: u8) -> Result<u8> {
    let tens = b & 0x0F;
    let units = b >> 4;
    if tens > 9 || units > 9 {
        return Err(Error::BadValue);
    }
    Ok(tens * 10 + units)
}

fn bcd_out(v: u8) -> Result<u8> {
    if v > 99 {
        return Err(Error::BadValue);
    }
    Ok(((v % 10) << 4) | (v / 10))
}

impl Timestamp {
    /// Encoded length.
    pub const LEN: usize = 7;

    /// Parse the 7 octets at the start of `bytes`. `Truncated` if fewer; `BadValue` for a
    /// non-BCD nibble.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let b: &[u8; 7] = bytes
            .get(..7)
            .and_then(|s| s.try_into().ok())
            .ok_or(Error::Truncated)?;
        Ok(Timestamp {
            year: bcd_in(b[0])?,
            month: bcd_in(b[1])?,
            day: bcd_in(b[2])?,
            hour: bcd_in(b[3])?,
            minute: bcd_in(b[4])?,
            second: bcd_in(b[5])?,
            time_zone: TimeZone::parse(b[6])?,
        })
    }

    /// Always [`Timestamp::LEN`].
    pub fn buffer_len(&self) -> usize {
        Self::LEN
    }

    /// Write 7 octets. `BadValue` for a field above 99 or a zone above 79 quarter hours.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let v = [
            bcd_out(self.year)?,
            bcd_out(self.month)?,
            bcd_out(self.day)?,
            bcd_out(self.hour)?,
            bcd_out(self.minute)?,
            bcd_out(self.second)?,
            self.time_zone.emit()?,
        ];
        buf.get_mut(..7)
            .ok_or(Error::BufferTooSmall)?
            .copy_from_slice(&v);
        Ok(7)
    }
}

impl fmt::Display for Timestamp {
    /// `YY-MM-DD hh:mm:ss ±hh:mm`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.time_zone.offset_minutes();
        let sign = if self.time_zone.negative { '-' } else { '+' };
        write!(
            f,
            "{:02}-{:02}-{:02} {:02}:{:02}:{:02} {}{:02}:{:02}",
            self.year,
            self.month,
            self.day,
            self.hour,
            self.minute,
            self.second,
            sign,
            m.unsigned_abs() / 60,
            m.unsigned_abs() % 60
        )
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use proptest::prelude::*;
    use std::string::ToString;

    #[test]
    fn vectors() {
        // /work/shared/spec/04-sms.md §2 (tshark): 52 11 72 02 00 00 00 = 25-11-27 20:00:00 GMT+0
        let raw = [0x52, 0x11, 0x72, 0x02, 0x00, 0x00, 0x00];
        let t = Timestamp::parse(&raw).unwrap();
        assert_eq!(
            (t.year, t.month, t.day, t.hour, t.minute, t.second),
            (25, 11, 27, 20, 0, 0)
        );
        assert_eq!(t.time_zone, TimeZone::UTC);
        assert_eq!(t.to_string(), "25-11-27 20:00:00 +00:00");
        let mut buf = [0u8; 7];
        t.emit(&mut buf).unwrap();
        assert_eq!(buf, raw);
        // 04-sms.md §2 TZ vectors: 40 = +1 h, 0A = −5 h, 23 = +8 h
        for (b, minutes) in [(0x40u8, 60i16), (0x0A, -300), (0x23, 480)] {
            let tz = TimeZone::parse(b).unwrap();
            assert_eq!(tz.offset_minutes(), minutes, "{b:02X}");
            assert_eq!(tz.emit().unwrap(), b);
        }
        assert_eq!(
            TimeZone::from_quarter_hours(-20).unwrap().emit().unwrap(),
            0x0A
        );
        assert_eq!(Timestamp::parse(&raw[..6]), Err(Error::Truncated));
        assert_eq!(
            Timestamp::parse(&[0x5A, 0x11, 0x72, 0x02, 0x00, 0x00, 0x00]),
            Err(Error::BadValue)
        );
    }

    fn ts() -> impl Strategy<Value = Timestamp> {
        (proptest::array::uniform6(0u8..=99), any::<bool>(), 0u8..=79).prop_map(
            |(f, negative, quarter_hours)| Timestamp {
                year: f[0],
                month: f[1],
                day: f[2],
                hour: f[3],
                minute: f[4],
                second: f[5],
                time_zone: TimeZone {
                    negative,
                    quarter_hours,
                },
            },
        )
    }

    proptest! {
        #[test]
        fn repr_round_trip(t in ts()) {
            let mut buf = [0u8; 7];
            t.emit(&mut buf).unwrap();
            prop_assert_eq!(Timestamp::parse(&buf).unwrap(), t);
        }

        #[test]
        fn bytes_round_trip_or_error(b in proptest::array::uniform7(any::<u8>())) {
            if let Ok(t) = Timestamp::parse(&b) {
                let mut buf = [0u8; 7];
                t.emit(&mut buf).unwrap();
                prop_assert_eq!(buf, b);
            }
        }
    }
}
