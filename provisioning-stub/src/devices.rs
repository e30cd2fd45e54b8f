//! The device database (the patent's database 250): TAC → make, model, manufacturer,
//! release date and hardware facts, imported from CSV; IMEI validation; calendar dates.
//!
//! IMEI structure: 3GPP TS 23.003 §6.2.1 (TAC 8 digits, SNR 6 digits, check digit CD or
//! spare digit). The check digit is the Luhn digit over the 14 digits TAC+SNR (TS 23.003
//! Annex B); a mobile station sends the spare digit `0` in its place (TS 23.003 §6.2.1),
//! so a 15th digit of `0` is accepted even where it is not the Luhn digit.
//!
//! The CSV format is described in `docs/stub.md` ("Device database CSV").

use std::fmt;
use std::path::Path;

use crate::inventory::{ImportError, read_csv};

/// Why an IMEI string was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ImeiError {
    /// Not 14 or 15 characters.
    #[error("an IMEI has 14 digits (TAC+SNR) or 15 (with check or spare digit), got {0}")]
    BadLength(usize),
    /// A character other than `0`–`9`.
    #[error("an IMEI has decimal digits only")]
    NotDigits,
    /// The 15th digit is neither the Luhn check digit nor the spare `0`.
    #[error("check digit {found} is wrong (expected {expected}, or the spare digit 0)")]
    BadCheckDigit {
        /// The 15th digit as received.
        found: u8,
        /// The Luhn digit over the first 14 digits.
        expected: u8,
    },
}

/// What the 15th digit of an IMEI was (TS 23.003 §6.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckDigit {
    /// Only TAC+SNR were given (14 digits).
    Absent,
    /// The 15th digit is the correct Luhn check digit.
    Valid,
    /// The 15th digit is the spare digit `0` sent by a mobile station instead of the
    /// check digit (and `0` is not the Luhn digit of this IMEI).
    Spare,
}

/// Type Allocation Code: the first 8 digits of an IMEI (TS 23.003 §6.2.1), kept as text.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tac(String);

impl Tac {
    /// Parses exactly 8 decimal digits.
    pub fn parse(s: &str) -> Result<Tac, String> {
        if s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Tac(s.to_owned()))
        } else {
            Err(format!("a TAC is 8 decimal digits, got {s:?}"))
        }
    }

    /// The 8 digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Tac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A validated IMEI (TS 23.003 §6.2.1), kept as 14 or 15 decimal digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Imei {
    digits: String,
}

impl Imei {
    /// Parses 14 digits (TAC+SNR) or 15 digits whose last is the Luhn check digit or the
    /// spare digit `0`.
    pub fn parse(s: &str) -> Result<Imei, ImeiError> {
        if s.len() != 14 && s.len() != 15 {
            return Err(ImeiError::BadLength(s.len()));
        }
        if !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ImeiError::NotDigits);
        }
        if let Some(&last) = s.as_bytes().get(14) {
            let found = last - b'0';
            let expected = luhn_check_digit(&s.as_bytes()[..14]);
            if found != expected && found != 0 {
                return Err(ImeiError::BadCheckDigit { found, expected });
            }
        }
        Ok(Imei {
            digits: s.to_owned(),
        })
    }

    /// The digits as given (14 or 15).
    pub fn as_str(&self) -> &str {
        &self.digits
    }

    /// The Type Allocation Code (first 8 digits).
    pub fn tac(&self) -> Tac {
        Tac(self.digits[..8].to_owned())
    }

    /// What the 15th digit was.
    pub fn check_digit(&self) -> CheckDigit {
        match self.digits.as_bytes().get(14) {
            None => CheckDigit::Absent,
            Some(&d) if d - b'0' == luhn_check_digit(&self.digits.as_bytes()[..14]) => {
                CheckDigit::Valid
            }
            Some(_) => CheckDigit::Spare,
        }
    }
}

impl fmt::Display for Imei {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.digits)
    }
}

/// Luhn check digit (value 0–9) over ASCII decimal digits (TS 23.003 Annex B for the
/// IMEI; ITU-T E.118 for the ICCID), computed by [`applet::wire::imei::luhn_check_digit`]
/// so the stub, the applet and the handset share one implementation. The caller
/// guarantees ASCII digits; anything else yields 10, which never equals a digit.
pub(crate) fn luhn_check_digit(digits: &[u8]) -> u8 {
    let values: Vec<u8> = digits.iter().map(|c| c.wrapping_sub(b'0')).collect();
    applet::wire::imei::luhn_check_digit(&values).unwrap_or(10)
}

/// A calendar date in the proleptic Gregorian calendar (UTC), as used for release dates
/// and report periods. Text form `YYYY-MM-DD` (ISO 8601 calendar date).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    year: i32,
    month: u8,
    day: u8,
}

impl Date {
    /// A date from year, month (1–12) and day; `None` if it does not exist.
    pub fn new(year: i32, month: u8, day: u8) -> Option<Date> {
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return None;
        }
        if !(0..=9999).contains(&year) {
            return None;
        }
        Some(Date { year, month, day })
    }

    /// Parses `YYYY-MM-DD`.
    pub fn parse(s: &str) -> Result<Date, String> {
        let b = s.as_bytes();
        let ok = b.len() == 10
            && b[4] == b'-'
            && b[7] == b'-'
            && b.iter()
                .enumerate()
                .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
        let bad = || format!("expected a date YYYY-MM-DD, got {s:?}");
        if !ok {
            return Err(bad());
        }
        let year: i32 = s[0..4].parse().map_err(|_| bad())?;
        let month: u8 = s[5..7].parse().map_err(|_| bad())?;
        let day: u8 = s[8..10].parse().map_err(|_| bad())?;
        Date::new(year, month, day).ok_or_else(bad)
    }

    /// Year.
    pub fn year(self) -> i32 {
        self.year
    }

    /// Month, 1–12.
    pub fn month(self) -> u8 {
        self.month
    }

    /// Day of month, 1–31.
    pub fn day(self) -> u8 {
        self.day
    }

    /// Days since 1970-01-01 (negative before).
    pub fn days_since_epoch(self) -> i64 {
        // Civil-to-days over 400-year eras (H. Hinnant's algorithm, re-derived here).
        let y = i64::from(self.year) - i64::from(self.month <= 2);
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = i64::from(self.month);
        let mp = (m + 9) % 12; // March = 0
        let doy = (153 * mp + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// The date `days` days after 1970-01-01 (clamped to years 0–9999).
    pub fn from_days_since_epoch(days: i64) -> Date {
        let z = days.clamp(-719_528, 2_932_896) + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
        let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
        Date { year, month, day }
    }

    /// The UTC date of a [`Timestamp`](crate::store::Timestamp).
    pub fn of(t: crate::store::Timestamp) -> Date {
        Date::from_days_since_epoch(t.0.div_euclid(MILLIS_PER_DAY))
    }

    /// Midnight UTC at the start of this date.
    pub fn start(self) -> crate::store::Timestamp {
        crate::store::Timestamp(self.days_since_epoch() * MILLIS_PER_DAY)
    }

    /// The next day.
    pub fn succ(self) -> Date {
        Date::from_days_since_epoch(self.days_since_epoch() + 1)
    }

    /// The same day `months` months later; a day that does not exist in the target month
    /// becomes that month's last day (2024-02-29 + 12 months = 2025-02-28).
    pub fn add_months(self, months: u32) -> Date {
        let total = i64::from(self.year) * 12 + i64::from(self.month - 1) + i64::from(months);
        let year = (total.div_euclid(12)).min(9999) as i32;
        let month = (total.rem_euclid(12) + 1) as u8;
        let day = self.day.min(days_in_month(year, month));
        Date { year, month, day }
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

const MILLIS_PER_DAY: i64 = 86_400_000;

fn days_in_month(year: i32, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 0,
    }
}

/// One row of the device database: what a TAC says about the handset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceModel {
    /// Type Allocation Code.
    pub tac: Tac,
    /// Manufacturer (the company that issues device keys and has operator relationships).
    pub manufacturer: String,
    /// Make (brand) as marketed; equals the manufacturer when the CSV leaves it empty.
    pub make: String,
    /// Model name (matched against the manufacturer's depreciated list).
    pub model: String,
    /// First release date, if known.
    pub release_date: Option<Date>,
    /// Whether the handset has a camera (MMS relevance), if known.
    pub camera: Option<bool>,
    /// Screen description, free text (e.g. `6.1in 1170x2532`); empty if unknown.
    pub screen: String,
    /// Radio bands, e.g. `GSM900`, `LTE-B20`; empty if unknown.
    pub bands: Vec<String>,
}

/// Reads a device database CSV (format in `docs/stub.md`). Every bad row is reported
/// (file, line, column and field name); nothing is returned unless all rows are good.
pub fn read_devices_csv(path: &Path) -> Result<Vec<DeviceModel>, ImportError> {
    let mut seen = std::collections::HashSet::new();
    read_csv(
        path,
        &["tac", "manufacturer", "model"],
        &["make", "release_date", "camera", "screen", "bands"],
        |row| {
            let tac = Tac::parse(row.get("tac")).map_err(|m| row.error("tac", m))?;
            if !seen.insert(tac.clone()) {
                return Err(row.error("tac", format!("TAC {tac} appears twice in the file")));
            }
            let manufacturer = row.required("manufacturer")?.to_owned();
            let model = row.required("model")?.to_owned();
            let make = match row.get("make") {
                "" => manufacturer.clone(),
                m => m.to_owned(),
            };
            let release_date = match row.get("release_date") {
                "" => None,
                d => Some(Date::parse(d).map_err(|m| row.error("release_date", m))?),
            };
            let camera = match row.get("camera").to_ascii_lowercase().as_str() {
                "" => None,
                "yes" | "true" | "1" => Some(true),
                "no" | "false" | "0" => Some(false),
                other => {
                    return Err(row.error(
                        "camera",
                        format!("expected yes/no (or true/false, 1/0), got {other:?}"),
                    ));
                }
            };
            let bands = row
                .get("bands")
                .split(';')
                .map(str::trim)
                .filter(|b| !b.is_empty())
                .map(str::to_owned)
                .collect();
            Ok(DeviceModel {
                tac,
                manufacturer,
                make,
                model,
                release_date,
                camera,
                screen: row.get("screen").to_owned(),
                bands,
            })
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn luhn_known_imeis() {
        // Widely quoted IMEI examples: 49-015420-323751-8 (check digit 8) and
        // 35-693803-564380-9 (check digit 9).
        assert_eq!(luhn_check_digit(b"49015420323751"), 8);
        assert_eq!(luhn_check_digit(b"35693803564380"), 9);
        // Other lengths (ICCID-like), checked against the textbook validity rule below.
        for body in [&b"8931440000000000000"[..], b"0", b"7992739871"] {
            let d = luhn_check_digit(body);
            let mut full = body.to_vec();
            full.push(b'0' + d);
            assert!(
                luhn_valid_reference(&full),
                "{}",
                String::from_utf8_lossy(&full)
            );
        }
        // The classic Luhn example 79927398713.
        assert_eq!(luhn_check_digit(b"7992739871"), 3);
    }

    /// Plain textbook Luhn validity (sum of all digits with every second from the right
    /// doubled is 0 mod 10), written differently from the code under test.
    fn luhn_valid_reference(full: &[u8]) -> bool {
        let n = full.len();
        let mut s = 0;
        for (i, c) in full.iter().enumerate() {
            let d = u32::from(c - b'0');
            let from_right = n - 1 - i;
            s += if from_right % 2 == 1 {
                (d * 2) / 10 + (d * 2) % 10
            } else {
                d
            };
        }
        s % 10 == 0
    }

    #[test]
    fn luhn_matches_reference_for_many_bodies() {
        for k in 0u64..2000 {
            let body = format!("{:014}", k * 7_919_191_919 % 100_000_000_000_000);
            let d = luhn_check_digit(body.as_bytes());
            let full = format!("{body}{d}");
            assert!(luhn_valid_reference(full.as_bytes()));
            for wrong in (0..10).filter(|&w| w != d) {
                assert!(!luhn_valid_reference(format!("{body}{wrong}").as_bytes()));
            }
        }
    }

    #[test]
    fn imei_validation() {
        let ok = Imei::parse("490154203237518").unwrap();
        assert_eq!(ok.check_digit(), CheckDigit::Valid);
        assert_eq!(ok.tac().as_str(), "49015420");
        // Spare digit 0 instead of the check digit (TS 23.003 §6.2.1).
        let spare = Imei::parse("490154203237510").unwrap();
        assert_eq!(spare.check_digit(), CheckDigit::Spare);
        assert_eq!(
            Imei::parse("49015420323751").unwrap().check_digit(),
            CheckDigit::Absent
        );
        assert_eq!(
            Imei::parse("490154203237517"),
            Err(ImeiError::BadCheckDigit {
                found: 7,
                expected: 8
            })
        );
        assert_eq!(Imei::parse("4901542032375"), Err(ImeiError::BadLength(13)));
        assert_eq!(
            Imei::parse("4901542032375188"),
            Err(ImeiError::BadLength(16))
        );
        assert_eq!(Imei::parse("49015420323751x"), Err(ImeiError::NotDigits));
        // An IMEI whose Luhn digit is itself 0 reads as Valid.
        let body = (0..)
            .map(|k| format!("{:014}", 35_000_000_000_000u64 + k))
            .find(|b| luhn_check_digit(b.as_bytes()) == 0)
            .unwrap();
        assert_eq!(
            Imei::parse(&format!("{body}0")).unwrap().check_digit(),
            CheckDigit::Valid
        );
    }

    #[test]
    fn tac_parse() {
        assert!(Tac::parse("35693803").is_ok());
        assert!(Tac::parse("3569380").is_err());
        assert!(Tac::parse("3569380a").is_err());
    }

    #[test]
    fn dates() {
        let d = Date::parse("1970-01-01").unwrap();
        assert_eq!(d.days_since_epoch(), 0);
        assert_eq!(
            Date::parse("2000-03-01").unwrap().days_since_epoch(),
            11_017
        );
        assert_eq!(Date::parse("1969-12-31").unwrap().days_since_epoch(), -1);
        for days in (-700_000..2_900_000).step_by(997) {
            let d = Date::from_days_since_epoch(days);
            assert_eq!(d.days_since_epoch(), days, "{d}");
            assert_eq!(Date::parse(&d.to_string()).unwrap(), d);
        }
        assert!(Date::parse("2023-02-29").is_err());
        assert!(Date::parse("2024-02-29").is_ok());
        assert!(Date::parse("2024-13-01").is_err());
        assert!(Date::parse("2024-1-01").is_err());
        assert!(Date::parse("2024/01/01").is_err());
        let leap = Date::parse("2024-02-29").unwrap();
        assert_eq!(leap.add_months(12).to_string(), "2025-02-28");
        assert_eq!(leap.add_months(48).to_string(), "2028-02-29");
        assert_eq!(
            Date::parse("2023-01-31").unwrap().add_months(1).to_string(),
            "2023-02-28"
        );
        assert_eq!(
            Date::parse("2023-11-15").unwrap().add_months(2).to_string(),
            "2024-01-15"
        );
        assert_eq!(
            Date::of(crate::store::Timestamp(86_400_000 * 365 - 1)).to_string(),
            "1970-12-31"
        );
        assert_eq!(
            Date::parse("2024-12-31").unwrap().succ().to_string(),
            "2025-01-01"
        );
    }

    fn write_tmp(content: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(content.as_bytes()).unwrap();
        f
    }

    #[test]
    fn device_csv_good() {
        let f = write_tmp(
            "# device database\n\
             tac,manufacturer,make,model,release_date,camera,screen,bands\n\
             35693803,Acme Mobile,Acme,A1,2019-05-01,yes,6.1in,GSM900;LTE-B20\n\
             49015420,Bolt Devices,,B2,,no,,\n",
        );
        let rows = read_devices_csv(f.path()).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].bands, vec!["GSM900", "LTE-B20"]);
        assert_eq!(rows[0].camera, Some(true));
        assert_eq!(rows[0].release_date, Some(Date::new(2019, 5, 1).unwrap()));
        assert_eq!(rows[1].make, "Bolt Devices");
        assert_eq!(rows[1].release_date, None);
        assert!(rows[1].bands.is_empty());
    }

    #[test]
    fn device_csv_bad_rows_name_line_and_field() {
        let f = write_tmp(
            "tac,manufacturer,make,model,release_date,camera\n\
             35693803,Acme,Acme,A1,2019-05-01,yes\n\
             3569380,Acme,Acme,A2,2019-05-01,yes\n\
             35693804,Acme,Acme,A3,2019-02-30,yes\n\
             35693805,,Acme,A4,,maybe\n\
             35693803,Acme,Acme,A1,,\n",
        );
        let err = read_devices_csv(f.path()).unwrap_err();
        let text = err.to_string();
        let ImportError::Rows { errors, .. } = &err else {
            panic!("{err}")
        };
        assert_eq!(errors.len(), 4, "{text}");
        assert_eq!((errors[0].line, errors[0].field.as_str()), (3, "tac"));
        assert_eq!(errors[0].column, Some(1));
        assert_eq!(
            (errors[1].line, errors[1].field.as_str()),
            (4, "release_date")
        );
        assert_eq!(errors[1].column, Some(5));
        assert_eq!(
            (errors[2].line, errors[2].field.as_str()),
            (5, "manufacturer")
        );
        assert_eq!((errors[3].line, errors[3].field.as_str()), (6, "tac"));
        assert!(
            text.contains(&format!("{}:3: column 1 (tac)", f.path().display())),
            "{text}"
        );
    }

    #[test]
    fn device_csv_missing_column() {
        let f = write_tmp("tac,make,model\n35693803,Acme,A1\n");
        let err = read_devices_csv(f.path()).unwrap_err();
        assert!(
            matches!(&err, ImportError::MissingColumn { column, .. } if column == "manufacturer"),
            "{err}"
        );
    }
}
