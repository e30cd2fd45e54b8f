//! Decoding of the messages the world moves, for arrow details and observations.

use applet::wire::bcd::EfIccid;
use applet::wire::imei::Imei;
use applet::wire::registration::{EventKind, Registration};
use handset_sim::network::ShortMessage;

/// One-line description of an SMS-SUBMIT TPDU (the terminal's own decoder).
pub fn sms_submit(tpdu: &[u8]) -> String {
    handset_sim::terminal::describe::sms_submit(tpdu)
}

/// What a registration message (`docs/registration.md`) says, decoded with
/// `applet::wire::registration::Registration` (structure only; the MAC is the stub's
/// business).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationInfo {
    /// Event kind (01 first use, 02 handset changed, 03 retry).
    pub event: EventKind,
    /// Counter.
    pub counter: u64,
    /// ICCID digits.
    pub iccid: String,
    /// IMEI digits (as carried; may have a wrong check digit).
    pub imei: String,
    /// Previous IMEI, if carried.
    pub previous_imei: Option<String>,
}

/// Decodes a registration payload, if `user_data` is one.
pub fn registration(user_data: &[u8]) -> Option<RegistrationInfo> {
    let r = Registration::new_checked(user_data).ok()?;
    let imei = Imei::parse(r.imei()).map(|i| i.to_string()).ok()?;
    Some(RegistrationInfo {
        event: r.event(),
        counter: r.counter(),
        iccid: EfIccid::parse(r.iccid())
            .map(|i| i.iccid.to_string())
            .unwrap_or_default(),
        imei,
        previous_imei: r
            .previous_imei()
            .and_then(|p| Imei::parse(p).ok())
            .map(|i| i.to_string()),
    })
}

/// Name of a registration event kind.
pub fn event_name(e: EventKind) -> &'static str {
    match e {
        EventKind::FIRST_USE => "first use",
        EventKind::HANDSET_CHANGED => "handset changed",
        EventKind::RETRY => "retry",
        _ => "unknown event",
    }
}

/// Detail lines for a message's payload: registration fields, provisioning report,
/// user-data header elements (ports, concatenation).
pub fn payload(sm: &ShortMessage) -> Vec<String> {
    let mut out = vec![format!(
        "{} -> {} PID {:02X} DCS {:02X}, {} octets of user data",
        if sm.source.is_empty() {
            "(handset)"
        } else {
            &sm.source
        },
        sm.destination,
        sm.pid,
        sm.dcs,
        sm.user_data.len()
    )];
    if let Some(p) = sm.udh_ie(0x05)
        && let [d0, d1, o0, o1] = *p
    {
        out.push(format!(
            "UDH ports: destination {} originator {}",
            u16::from_be_bytes([d0, d1]),
            u16::from_be_bytes([o0, o1])
        ));
    }
    if let Some(&[r, n, i]) = sm.udh_ie(0x00) {
        out.push(format!("UDH concatenation: reference {r}, part {i} of {n}"));
    }
    if let Some(r) = registration(&sm.user_data) {
        out.push(format!(
            "registration: {} (event {:02X}), counter {}",
            event_name(r.event),
            r.event.0,
            r.counter
        ));
        out.push(format!("ICCID {} IMEI {}", r.iccid, r.imei));
        if let Some(p) = r.previous_imei {
            out.push(format!("previous IMEI {p}"));
        }
    } else if sm.user_data.starts_with(b"IMTC") {
        out.push("provisioning report (IMTC)".into());
    } else if sm.user_data.starts_with(b"IMEITRACK CP1") {
        out.push(format!(
            "provisioning report: {}",
            String::from_utf8_lossy(&sm.user_data)
        ));
    }
    out
}
