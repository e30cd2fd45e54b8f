//! One-line human descriptions of toolkit messages for logs and `probe` output.
//!
//! Everything here is decoding for people: it never fails, it says "malformed" instead.

use applet::wire::bcd::EfIccid;
use applet::wire::cat::{
    CommandType, DeviceId, Envelope, GeneralResult, PliQualifier, ProactiveCommand, ResponseData,
    TerminalProfile, TerminalResponse, TextString, TimerAction,
};
use applet::wire::imei::{Imei, Imeisv};
use applet::wire::registration::Registration;
use applet::wire::sms::tpdu::SmsSubmit;

use crate::profile::CAPABILITIES;

use super::log::spaced;

/// Names of the TERMINAL PROFILE bits set in `p` (the names `profile.rs` accepts).
pub fn capability_names(p: &TerminalProfile) -> Vec<&'static str> {
    CAPABILITIES
        .iter()
        .filter(|(_, c)| p.supports(*c))
        .map(|(n, _)| *n)
        .collect()
}

/// Name of a type of command (TS 102 223 §9.4; `02-cat.md` §3).
pub fn command_name(t: CommandType) -> &'static str {
    match t.0 {
        0x01 => "REFRESH",
        0x02 => "MORE TIME",
        0x03 => "POLL INTERVAL",
        0x04 => "POLLING OFF",
        0x05 => "SET UP EVENT LIST",
        0x10 => "SET UP CALL",
        0x11 => "SEND SS",
        0x12 => "SEND USSD",
        0x13 => "SEND SHORT MESSAGE",
        0x14 => "SEND DTMF",
        0x15 => "LAUNCH BROWSER",
        0x20 => "PLAY TONE",
        0x21 => "DISPLAY TEXT",
        0x22 => "GET INKEY",
        0x23 => "GET INPUT",
        0x24 => "SELECT ITEM",
        0x25 => "SET UP MENU",
        0x26 => "PROVIDE LOCAL INFORMATION",
        0x27 => "TIMER MANAGEMENT",
        0x28 => "SET UP IDLE MODE TEXT",
        0x35 => "LANGUAGE NOTIFICATION",
        0x40 => "OPEN CHANNEL",
        0x41 => "CLOSE CHANNEL",
        0x42 => "RECEIVE DATA",
        0x43 => "SEND DATA",
        0x44 => "GET CHANNEL STATUS",
        0x81 => "END OF PROACTIVE SESSION",
        _ => "unknown command",
    }
}

fn pli_name(q: PliQualifier) -> &'static str {
    match q.0 {
        0x00 => "location information",
        0x01 => "IMEI",
        0x02 => "NMR",
        0x03 => "date, time and time zone",
        0x04 => "language",
        0x05 => "timing advance",
        0x06 => "access technology",
        0x07 => "ESN",
        0x08 => "IMEISV",
        0x09 => "search mode",
        0x0A => "battery state",
        0x0B => "MEID",
        _ => "other",
    }
}

/// Name of a general result (TS 102 223 §8.12; `02-cat.md` §5).
pub fn result_name(r: GeneralResult) -> &'static str {
    match r.0 {
        0x00 => "performed successfully",
        0x01 => "performed with partial comprehension",
        0x02 => "performed with missing information",
        0x06 => "performed, limited service",
        0x20 => "terminal currently unable",
        0x21 => "network currently unable",
        0x24 => "contradiction with timer state",
        0x30 => "beyond terminal's capabilities",
        0x31 => "command type not understood",
        0x32 => "command data not understood",
        0x33 => "command number not known",
        0x35 => "SMS RP-ERROR",
        0x36 => "required values missing",
        _ => "other result",
    }
}

/// Best-effort text of a text string object (DCS `04` 8-bit, `08` UCS2, `00` packed).
pub fn text(t: &TextString<'_>) -> String {
    match t.dcs.map(|d| d.0) {
        None => String::new(),
        Some(0x08) => {
            let units: Vec<u16> = t
                .text
                .chunks(2)
                .map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))
                .collect();
            String::from_utf16_lossy(&units)
        }
        Some(0x00) => {
            // Unpack septets; show the GSM default alphabet's ASCII subset.
            let mut out = String::new();
            let (mut acc, mut bits) = (0u16, 0u8);
            for &b in t.text {
                acc |= u16::from(b) << bits;
                bits += 8;
                while bits >= 7 {
                    out.push(gsm_char((acc & 0x7F) as u8));
                    acc >>= 7;
                    bits -= 7;
                }
            }
            out
        }
        Some(_) => t.text.iter().map(|&b| gsm_char(b & 0x7F)).collect(),
    }
}

fn gsm_char(s: u8) -> char {
    applet::wire::sms::gsm7::default_char(s).unwrap_or('?')
}

/// One-line description of a proactive command.
pub fn command(c: &ProactiveCommand<'_>) -> String {
    let d = c.details();
    let head = format!(
        "#{} {} (qualifier {:02X})",
        d.number,
        command_name(d.kind),
        d.qualifier
    );
    let body = match c {
        ProactiveCommand::ProvideLocalInformation(p) => pli_name(p.qualifier()).to_string(),
        ProactiveCommand::SendShortMessage(s) => {
            let mut v = Vec::new();
            if let Some(a) = &s.alpha {
                if a.is_null() {
                    v.push("null alpha (silent)".to_string());
                } else {
                    v.push(format!("alpha {:?}", String::from_utf8_lossy(a.text)));
                }
            }
            if let Some(a) = &s.address {
                v.push(format!(
                    "SMSC {}",
                    super::network::ServiceCentre::from_bcd(a.ton_npi, a.digits)
                ));
            }
            if s.packing_required() {
                v.push("packing required".into());
            }
            v.push(sms_submit(s.tpdu.tpdu));
            v.join("; ")
        }
        ProactiveCommand::SetUpEventList(e) => {
            let ev: Vec<String> = e.events.iter().map(|e| format!("{:02X}", e.0)).collect();
            format!("events [{}]", ev.join(" "))
        }
        ProactiveCommand::TimerManagement(t) => {
            let a = match t.action() {
                TimerAction::START => "start",
                TimerAction::DEACTIVATE => "deactivate",
                TimerAction::GET_CURRENT_VALUE => "get current value",
                _ => "unknown action",
            };
            match t.value {
                Some(v) => format!(
                    "{a} timer {} value {:02}:{:02}:{:02}",
                    t.timer_id.id, v.hours, v.minutes, v.seconds
                ),
                None => format!("{a} timer {}", t.timer_id.id),
            }
        }
        ProactiveCommand::DisplayText(t) => format!("\"{}\"", text(&t.text)),
        ProactiveCommand::MoreTime(_) => String::new(),
        ProactiveCommand::PollInterval(p) => match p.interval.as_tenths() {
            Some(t) => format!("{}.{} s", t / 10, t % 10),
            None => "bad duration".into(),
        },
        ProactiveCommand::Opaque(o) => format!("raw {}", spaced(o.rest)),
    };
    if body.is_empty() {
        head
    } else {
        format!("{head}: {body}")
    }
}

/// One-line description of a TERMINAL RESPONSE.
pub fn response(r: &TerminalResponse<'_>) -> String {
    let mut s = format!(
        "#{} {}: {:02X} {}",
        r.details.number,
        command_name(r.details.kind),
        r.result.general.0,
        result_name(r.result.general)
    );
    if !r.result.additional.is_empty() {
        s.push_str(&format!(" (+{})", spaced(r.result.additional)));
    }
    let data = match &r.data {
        ResponseData::None => String::new(),
        ResponseData::Imei(i) => match Imei::parse(&i.identity) {
            Ok(imei) => format!("IMEI {imei}"),
            Err(_) => format!("IMEI malformed {}", spaced(&i.identity)),
        },
        ResponseData::Imeisv(i) => match Imeisv::parse(&i.identity) {
            Ok(v) => format!("IMEISV {v}"),
            Err(_) => format!("IMEISV malformed {}", spaced(&i.identity)),
        },
        ResponseData::LocationInformation(l) => format!(
            "location PLMN {} LAC {:04X} cell {:04X}",
            spaced(&l.plmn),
            l.lac,
            l.cell_id
        ),
        ResponseData::DateTime(d) => format!(
            "date-time 20{:02}-{:02}-{:02} {:02}:{:02}:{:02} TZ {:02X}",
            d.year, d.month, d.day, d.hour, d.minute, d.second, d.time_zone
        ),
        ResponseData::Language(l) => {
            format!("language {}", String::from_utf8_lossy(&l.code))
        }
        ResponseData::Duration(d) => match d.as_tenths() {
            Some(t) => format!("interval {}.{} s", t / 10, t % 10),
            None => "bad duration".into(),
        },
        ResponseData::Timer { id, value } => match value {
            Some(v) => format!(
                "timer {} {:02}:{:02}:{:02}",
                id.id, v.hours, v.minutes, v.seconds
            ),
            None => format!("timer {}", id.id),
        },
        ResponseData::Raw(b) => format!("raw {}", spaced(b)),
    };
    if !data.is_empty() {
        s.push_str("; ");
        s.push_str(&data);
    }
    s
}

/// One-line description of an ENVELOPE.
pub fn envelope(e: &Envelope<'_>) -> String {
    match e {
        Envelope::SmsPpDownload(d) => format!("SMS-PP DOWNLOAD, TPDU {}", spaced(d.tpdu.tpdu)),
        Envelope::EventDownload(d) => {
            let ev = d
                .event()
                .map(|e| format!("{:02X}", e.0))
                .unwrap_or_default();
            let status = d
                .location_status
                .map(|s| format!(", status {:02X}", s.status.0))
                .unwrap_or_default();
            let loc = d
                .location
                .map(|l| {
                    format!(
                        ", PLMN {} LAC {:04X} cell {:04X}",
                        spaced(&l.plmn),
                        l.lac,
                        l.cell_id
                    )
                })
                .unwrap_or_default();
            let src = if d.devices.source == DeviceId::TERMINAL {
                ""
            } else {
                " (odd source)"
            };
            format!("EVENT DOWNLOAD event {ev}{status}{loc}{src}")
        }
        Envelope::TimerExpiration(t) => format!(
            "TIMER EXPIRATION timer {} after {:02}:{:02}:{:02}",
            t.timer_id.id, t.value.hours, t.value.minutes, t.value.seconds
        ),
        _ => "ENVELOPE (other)".into(),
    }
}

/// One-line description of an SMS-SUBMIT TPDU, with the project's registration message
/// decoded when the user data carries one.
pub fn sms_submit(tpdu: &[u8]) -> String {
    let s = match SmsSubmit::parse(tpdu) {
        Ok(s) => s,
        Err(e) => return format!("not an SMS-SUBMIT ({e})"),
    };
    let mut out = format!(
        "SMS-SUBMIT to {} TP-MR {} PID {:02X} DCS {:02X}",
        s.destination, s.message_reference, s.pid.0, s.dcs.0
    );
    if let Some(ud) = s.user_data.data() {
        out.push_str(&format!(", {} octets", ud.len()));
        if let Ok(r) = Registration::new_checked(ud) {
            let imei = Imei::parse(r.imei())
                .map(|i| i.to_string())
                .unwrap_or_else(|_| "?".into());
            let iccid = EfIccid::parse(r.iccid())
                .map(|i| i.iccid.to_string())
                .unwrap_or_else(|_| "?".into());
            let prev = r
                .previous_imei()
                .and_then(|p| Imei::parse(p).ok())
                .map(|i| format!(", previous IMEI {i}"))
                .unwrap_or_default();
            out.push_str(&format!(
                "; registration v{} event {:02X} counter {} ICCID {iccid} IMEI {imei}{prev}",
                r.version(),
                r.event().0,
                r.counter()
            ));
        }
    }
    out
}
