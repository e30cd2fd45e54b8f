//! SMSC delivery receipts (SMPP 3.4 Appendix B; `esm_class` 0x04, §5.2.12).
//!
//! Text form: `id:<id> sub:001 dlvrd:001 submit date:YYMMDDhhmm done date:YYMMDDhhmm
//! stat:DELIVRD err:000 text:<first 20 characters>`. Appendix B writes the last key as
//! `Text:`; most SMSCs and ESMEs (Kannel parses case-insensitively) use `text:`, and so
//! does this simulator.

use std::fmt::Write as _;

/// Final message state (SMPP 3.4 §5.2.28 `message_state`), with the 7-letter receipt
/// abbreviations of Appendix B.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageState {
    /// 1 `ENROUTE`.
    Enroute,
    /// 2 `DELIVRD`.
    Delivered,
    /// 3 `EXPIRED`.
    Expired,
    /// 4 `DELETED`.
    Deleted,
    /// 5 `UNDELIV`.
    Undeliverable,
    /// 6 `ACCEPTD`.
    Accepted,
    /// 7 `UNKNOWN`.
    Unknown,
    /// 8 `REJECTD`.
    Rejected,
}

impl MessageState {
    /// The `message_state` TLV value.
    pub fn code(self) -> u8 {
        match self {
            MessageState::Enroute => 1,
            MessageState::Delivered => 2,
            MessageState::Expired => 3,
            MessageState::Deleted => 4,
            MessageState::Undeliverable => 5,
            MessageState::Accepted => 6,
            MessageState::Unknown => 7,
            MessageState::Rejected => 8,
        }
    }

    /// The `stat:` abbreviation.
    pub fn stat(self) -> &'static str {
        match self {
            MessageState::Enroute => "ENROUTE",
            MessageState::Delivered => "DELIVRD",
            MessageState::Expired => "EXPIRED",
            MessageState::Deleted => "DELETED",
            MessageState::Undeliverable => "UNDELIV",
            MessageState::Accepted => "ACCEPTD",
            MessageState::Unknown => "UNKNOWN",
            MessageState::Rejected => "REJECTD",
        }
    }
}

/// One delivery receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryReceipt {
    /// The message_id returned in `submit_sm_resp`.
    pub message_id: String,
    /// Messages submitted (always 1 here).
    pub submitted: u16,
    /// Messages delivered (1 or 0).
    pub delivered: u16,
    /// Submission time, Unix seconds.
    pub submit_unix_s: u64,
    /// Final-state time, Unix seconds.
    pub done_unix_s: u64,
    /// Final state.
    pub state: MessageState,
    /// Error code (RP-Cause for an RP-ERROR, else 0).
    pub err: u16,
    /// First characters of the original message.
    pub text: String,
}

impl DeliveryReceipt {
    /// The receipt's short_message text.
    pub fn to_text(&self) -> String {
        let mut s = String::with_capacity(120);
        // Writing into a String cannot fail.
        let _ = write!(
            s,
            "id:{} sub:{:03} dlvrd:{:03} submit date:{} done date:{} stat:{} err:{:03} text:{}",
            self.message_id,
            self.submitted,
            self.delivered,
            yymmddhhmm(self.submit_unix_s),
            yymmddhhmm(self.done_unix_s),
            self.state.stat(),
            self.err,
            self.text
        );
        s
    }

    /// The `text:` field for user data: the first 20 octets, printable ASCII kept and
    /// anything else shown as `.` (binary payloads such as WAP push have no text).
    pub fn text_excerpt(user_data: &[u8]) -> String {
        user_data
            .iter()
            .take(20)
            .map(|&b| {
                if (0x20..0x7F).contains(&b) {
                    b as char
                } else {
                    '.'
                }
            })
            .collect()
    }
}

/// `YYMMDDhhmm` in UTC for Unix seconds (proleptic Gregorian, civil-from-days).
pub fn yymmddhhmm(unix_s: u64) -> String {
    let days = unix_s / 86_400;
    let secs = unix_s % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{:02}{:02}{:02}{:02}{:02}",
        y % 100,
        m,
        d,
        secs / 3600,
        (secs % 3600) / 60
    )
}

/// Days since 1970-01-01 → (year, month, day) (H. Hinnant's algorithm).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(yymmddhhmm(0), "7001010000");
        // 2025-11-27 20:00:00 UTC (the SCTS example of 04-sms.md §2) = 1764273600.
        assert_eq!(yymmddhhmm(1_764_273_600), "2511272000");
        // 2024-02-29 23:59 (leap day).
        assert_eq!(yymmddhhmm(1_709_251_140), "2402292359");
    }

    #[test]
    fn receipt_text() {
        let r = DeliveryReceipt {
            message_id: "17".into(),
            submitted: 1,
            delivered: 1,
            submit_unix_s: 1_764_273_600,
            done_unix_s: 1_764_273_660,
            state: MessageState::Delivered,
            err: 0,
            text: DeliveryReceipt::text_excerpt(b"hello\x01world, this is long"),
        };
        assert_eq!(
            r.to_text(),
            "id:17 sub:001 dlvrd:001 submit date:2511272000 done date:2511272001 \
             stat:DELIVRD err:000 text:hello.world, this is"
        );
    }
}
