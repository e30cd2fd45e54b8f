//! What the terminal needs from the network it is attached to, as a trait.
//!
//! The terminal never reads a wall clock and never talks to a socket: it asks a
//! [`NetworkLink`] where it is camped, what time the network says it is, and hands it
//! every MO short message. [`SimNetwork`] is the small in-memory implementation used by
//! the tests and by `handset-sim probe`; the SMSC simulator (`network` module) will
//! implement the same trait.

use std::collections::VecDeque;
use std::fmt;

use applet::wire::cat::ServiceState;

/// A PLMN identity: MCC (3 digits) and MNC (2 or 3 digits), 3GPP TS 23.003 §2.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Plmn {
    mcc: [u8; 3],
    mnc: [u8; 3],
    mnc_len: u8,
}

impl Plmn {
    /// From decimal strings, e.g. `Plmn::new("001", "01")`. `None` unless the MCC has 3
    /// digits and the MNC 2 or 3.
    pub fn new(mcc: &str, mnc: &str) -> Option<Self> {
        let digits = |s: &str| -> Option<Vec<u8>> {
            s.bytes()
                .map(|b| b.is_ascii_digit().then(|| b - b'0'))
                .collect()
        };
        let c = digits(mcc)?;
        let n = digits(mnc)?;
        if c.len() != 3 || !(2..=3).contains(&n.len()) {
            return None;
        }
        let mut mnc3 = [0u8; 3];
        mnc3[..n.len()].copy_from_slice(&n);
        Some(Plmn {
            mcc: [c[0], c[1], c[2]],
            mnc: mnc3,
            mnc_len: n.len() as u8,
        })
    }

    /// The three-byte TS 24.008 §10.5.1.3 layout used by the CAT location information
    /// object (`/work/shared/spec/02-cat.md` §9: MCC 001 MNC 01 → `00 F1 10`).
    pub fn to_bytes(&self) -> [u8; 3] {
        let [c1, c2, c3] = self.mcc;
        let [n1, n2, n3] = self.mnc;
        let n3 = if self.mnc_len == 2 { 0x0F } else { n3 };
        [(c2 << 4) | c1, (n3 << 4) | c3, (n2 << 4) | n1]
    }

    /// MCC as a string.
    pub fn mcc(&self) -> String {
        self.mcc.iter().map(|d| char::from(b'0' + d)).collect()
    }

    /// MNC as a string (2 or 3 digits).
    pub fn mnc(&self) -> String {
        self.mnc[..usize::from(self.mnc_len)]
            .iter()
            .map(|d| char::from(b'0' + d))
            .collect()
    }
}

impl fmt::Display for Plmn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.mcc(), self.mnc())
    }
}

/// Where the handset is camped (3GPP TS 31.111 §8.19 location information, §8.27
/// location status).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LocationInfo {
    /// Serving PLMN.
    pub plmn: Plmn,
    /// Location area code.
    pub lac: u16,
    /// Cell identity.
    pub cell_id: u16,
    /// Normal or limited service (never "no service": that is `None` location).
    pub service: ServiceState,
}

impl LocationInfo {
    /// Normal service in `plmn`, LAC `lac`, cell `cell_id`.
    pub fn normal(plmn: Plmn, lac: u16, cell_id: u16) -> Self {
        LocationInfo {
            plmn,
            lac,
            cell_id,
            service: ServiceState::NORMAL_SERVICE,
        }
    }
}

/// A network date and time in the form CAT carries it (TS 102 223 §8.39): civil date,
/// time and the time zone in quarter hours (`None` = unknown, encoded `FF`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NetworkTime {
    /// Full year (e.g. 2026); CAT carries it modulo 100.
    pub year: u16,
    /// 1..=12.
    pub month: u8,
    /// 1..=31.
    pub day: u8,
    /// 0..=23.
    pub hour: u8,
    /// 0..=59.
    pub minute: u8,
    /// 0..=59.
    pub second: u8,
    /// Offset from UTC in quarter hours, −48..=56; `None` = unknown.
    pub tz_quarters: Option<i8>,
}

impl NetworkTime {
    /// Local civil time `epoch_secs` seconds after 1970-01-01 00:00 UTC plus the zone.
    pub fn from_unix(epoch_secs: i64, tz_quarters: Option<i8>) -> Self {
        let local = epoch_secs + i64::from(tz_quarters.unwrap_or(0)) * 15 * 60;
        let days = local.div_euclid(86_400);
        let secs = local.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        NetworkTime {
            year: year.clamp(0, 9999) as u16,
            month,
            day,
            hour: (secs / 3600) as u8,
            minute: (secs % 3600 / 60) as u8,
            second: (secs % 60) as u8,
            tz_quarters,
        }
    }

    /// The TS 102 223 §8.39 time-zone byte: swapped BCD of the quarter-hour count with
    /// bit 4 (`0x08`) for negative offsets (`02-cat.md` §2), `FF` when unknown.
    pub fn time_zone_byte(&self) -> u8 {
        match self.tz_quarters {
            None => 0xFF,
            Some(q) => {
                let a = q.unsigned_abs().min(79);
                let b = ((a % 10) << 4) | (a / 10);
                if q < 0 { b | 0x08 } else { b }
            }
        }
    }
}

/// Days since 1970-01-01 → (year, month, day); Howard Hinnant's `civil_from_days`.
fn civil_from_days(z: i64) -> (i64, u8, u8) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// A service-centre address as the card gave it in SEND SHORT MESSAGE (TS 102 223 §8.1,
/// `02-cat.md` §8: the address object is the RP destination, not TP-DA).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ServiceCentre {
    /// TON/NPI byte (`91` = international, E.164).
    pub ton_npi: u8,
    /// Dialling digits (`0`-`9`, `*`, `#`, `a`-`c`).
    pub digits: String,
}

impl ServiceCentre {
    /// From the raw address object value parts: TON/NPI and swapped-BCD digits, `F` fill.
    pub fn from_bcd(ton_npi: u8, bcd: &[u8]) -> Self {
        let mut digits = String::new();
        for b in bcd {
            for n in [b & 0x0F, b >> 4] {
                match n {
                    0..=9 => digits.push(char::from(b'0' + n)),
                    0xA => digits.push('*'),
                    0xB => digits.push('#'),
                    0xC => digits.push('a'),
                    0xD => digits.push('b'),
                    0xE => digits.push('c'),
                    _ => {}
                }
            }
        }
        ServiceCentre { ton_npi, digits }
    }
}

impl fmt::Display for ServiceCentre {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plus = if self.ton_npi & 0x70 == 0x10 { "+" } else { "" };
        write!(f, "{plus}{}", self.digits)
    }
}

/// What the network did with an MO short message (3GPP TS 24.011 §7.3: RP-ACK or
/// RP-ERROR; or the message never left the handset).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MoOutcome {
    /// RP-ACK: the SMSC accepted the message. `mr` is the TP-MR it was sent with.
    Sent {
        /// TP-Message-Reference.
        mr: u8,
    },
    /// The network could not take the message now (no radio resource, congestion):
    /// TERMINAL RESPONSE result `21`, with the network's cause when it gave one.
    NetworkUnable {
        /// Cause value from the network, if any (TS 102 223 §8.12.2).
        cause: Option<u8>,
    },
    /// RP-ERROR with this RP-cause value (TS 24.011 §8.2.5.4): result `35` + cause.
    RpError {
        /// RP-Cause value (e.g. 41 temporary failure).
        cause: u8,
    },
}

impl fmt::Display for MoOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MoOutcome::Sent { mr } => write!(f, "RP-ACK (TP-MR {mr})"),
            MoOutcome::NetworkUnable { cause: None } => f.write_str("network unable"),
            MoOutcome::NetworkUnable { cause: Some(c) } => {
                write!(f, "network unable (cause {c})")
            }
            MoOutcome::RpError { cause } => write!(f, "RP-ERROR cause {cause}"),
        }
    }
}

/// The network as the terminal sees it. All time is the terminal's virtual clock
/// (`now_ms`, milliseconds since the terminal was created); implementations must not
/// read a wall clock either if they want deterministic runs.
pub trait NetworkLink {
    /// Where the handset is camped; `None` = no service (not attached).
    fn location(&self) -> Option<LocationInfo>;
    /// Submit one MO SMS (raw TS 23.040 SMS-SUBMIT TPDU) via `smsc` (`None` = the
    /// handset's default service centre) and report the outcome.
    fn send_mo_sms(&mut self, smsc: Option<&ServiceCentre>, tpdu: &[u8], now_ms: u64) -> MoOutcome;
    /// The network's date, time and time zone at `now_ms` (NITZ-like).
    fn date_time(&self, now_ms: u64) -> NetworkTime;
}

impl<N: NetworkLink + ?Sized> NetworkLink for &mut N {
    fn location(&self) -> Option<LocationInfo> {
        (**self).location()
    }
    fn send_mo_sms(&mut self, smsc: Option<&ServiceCentre>, tpdu: &[u8], now_ms: u64) -> MoOutcome {
        (**self).send_mo_sms(smsc, tpdu, now_ms)
    }
    fn date_time(&self, now_ms: u64) -> NetworkTime {
        (**self).date_time(now_ms)
    }
}

/// One MO SMS as [`SimNetwork`] recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoRecord {
    /// Virtual time of submission.
    pub at_ms: u64,
    /// Service centre the card named, if any.
    pub smsc: Option<ServiceCentre>,
    /// The SMS-SUBMIT TPDU as handed over.
    pub tpdu: Vec<u8>,
    /// What the network answered.
    pub outcome: MoOutcome,
}

/// In-memory network: a fixed cell, a clock that starts at `epoch_secs`, and scripted
/// MO-SMS outcomes. Records every MO SMS.
#[derive(Debug, Clone)]
pub struct SimNetwork {
    /// Serving cell; `None` = no service.
    pub location: Option<LocationInfo>,
    /// Unix time (s) at virtual time 0.
    pub epoch_secs: i64,
    /// Time zone reported with the date-time.
    pub tz_quarters: Option<i8>,
    /// Outcomes for the next MO messages, in order; when empty every message is
    /// accepted (`Sent`, TP-MR counting from 0).
    pub script: VecDeque<MoOutcome>,
    /// Every MO SMS, in order.
    pub sent: Vec<MoRecord>,
    next_mr: u8,
}

impl Default for SimNetwork {
    fn default() -> Self {
        Self::new()
    }
}

impl SimNetwork {
    /// Test PLMN 001-01 (3GPP TS 34.121 test network), LAC 1, cell 2, normal service;
    /// clock at 2026-01-01 00:00:00, time zone +1 h.
    pub fn new() -> Self {
        let plmn = Plmn::new("001", "01").expect("constant PLMN is valid");
        SimNetwork {
            location: Some(LocationInfo::normal(plmn, 0x0001, 0x0002)),
            epoch_secs: 1_767_225_600,
            tz_quarters: Some(4),
            script: VecDeque::new(),
            sent: Vec::new(),
            next_mr: 0,
        }
    }

    /// No service anywhere.
    pub fn detached() -> Self {
        SimNetwork {
            location: None,
            ..Self::new()
        }
    }

    /// Queue outcomes for the next MO messages.
    pub fn with_outcomes(mut self, outcomes: impl IntoIterator<Item = MoOutcome>) -> Self {
        self.script.extend(outcomes);
        self
    }
}

impl NetworkLink for SimNetwork {
    fn location(&self) -> Option<LocationInfo> {
        self.location
    }

    fn send_mo_sms(&mut self, smsc: Option<&ServiceCentre>, tpdu: &[u8], now_ms: u64) -> MoOutcome {
        let outcome = match self.script.pop_front() {
            Some(o) => o,
            None => {
                let mr = self.next_mr;
                self.next_mr = self.next_mr.wrapping_add(1);
                MoOutcome::Sent { mr }
            }
        };
        self.sent.push(MoRecord {
            at_ms: now_ms,
            smsc: smsc.cloned(),
            tpdu: tpdu.to_vec(),
            outcome,
        });
        outcome
    }

    fn date_time(&self, now_ms: u64) -> NetworkTime {
        let secs = self.epoch_secs + (now_ms / 1000) as i64;
        NetworkTime::from_unix(secs, self.tz_quarters)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plmn_layout() {
        // 02-cat.md §9: MCC 001 MNC 01 → 00 F1 10.
        assert_eq!(
            Plmn::new("001", "01").unwrap().to_bytes(),
            [0x00, 0xF1, 0x10]
        );
        // 3-digit MNC: MCC 310 MNC 260 → 13 00 62 (TS 24.008 §10.5.1.3 layout).
        assert_eq!(
            Plmn::new("310", "260").unwrap().to_bytes(),
            [0x13, 0x00, 0x62]
        );
        assert!(Plmn::new("01", "01").is_none());
        assert!(Plmn::new("001", "1").is_none());
    }

    #[test]
    fn civil_dates() {
        // 2026-01-01 00:00:00 UTC = 1767225600.
        let t = NetworkTime::from_unix(1_767_225_600, None);
        assert_eq!((t.year, t.month, t.day, t.hour), (2026, 1, 1, 0));
        // 2024-02-29 12:34:56 UTC = 1709210096.
        let t = NetworkTime::from_unix(1_709_210_096, Some(0));
        assert_eq!(
            (t.year, t.month, t.day, t.hour, t.minute, t.second),
            (2024, 2, 29, 12, 34, 56)
        );
    }

    #[test]
    fn time_zone_bytes() {
        let tz = |q| NetworkTime::from_unix(0, q).time_zone_byte();
        // 02-cat.md §2 / response.rs dump: +1 h = 4 quarters → 40.
        assert_eq!(tz(Some(4)), 0x40);
        // −5 h = −20 quarters → swapped BCD 02, sign bit 08 → 0A.
        assert_eq!(tz(Some(-20)), 0x0A);
        assert_eq!(tz(None), 0xFF);
    }

    #[test]
    fn service_centre_digits() {
        let sc = ServiceCentre::from_bcd(0x91, &[0x44, 0x77, 0x00, 0x09, 0x00, 0xF0]);
        assert_eq!(sc.to_string(), "+44770090000");
    }
}
