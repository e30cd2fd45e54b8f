//! The radio path between a handset and the SMSC simulator: [`SmscLink`] is the
//! terminal's [`NetworkLink`], and [`submit_to_message`] / [`deliver_tpdu`] convert
//! between TS 23.040 TPDUs and the SMSC's [`ShortMessage`].
//!
//! MO: the SEND SHORT MESSAGE TPDU (SMS-SUBMIT, TS 23.040 §9.2.2.2) is decoded with
//! `applet::wire::sms` into a [`ShortMessage`] (TP-DA digits, TP-PID, TP-DCS, UDH without
//! UDHL, user data as octets — or unpacked septets for GSM 7-bit, SMPP-style) and
//! submitted with [`Smsc::submit_mo`](handset_sim::network::Smsc::submit_mo) under the
//! MSISDN of the card in the handset, with TP-MR as the RP message reference. The
//! SMSC's RP-ACK / RP-ERROR / silence becomes the terminal's [`MoOutcome`] (TS 24.011
//! §7.3; TS 102 223 §6.4.10 result `21` / `35`).
//!
//! MT: [`deliver_tpdu`] builds the SMS-DELIVER (TS 23.040 §9.2.2.1) a handset receives:
//! TP-OA from the message source, TP-PID, TP-DCS, TP-SCTS from the virtual clock,
//! TP-UDHI + UDH + user data.
//!
//! Location comes from the handset's attachment in [`Networks`](handset_sim::network::Networks)
//! (serving network's PLMN, LAC, cell); the date-time from the world clock.

use applet::wire::sms::gsm7;
use applet::wire::sms::{
    Address, AddressValue, DataCodingScheme, SmsDeliver, SmsSubmit, TimeZone, Timestamp,
    TypeOfAddress, UserData, UserDataBody, UserDataHeader,
};
use handset_sim::network::{self, ShortMessage, SmscHandle};
use handset_sim::terminal::{
    LocationInfo, MoOutcome, NetworkLink, NetworkTime, Plmn as TerminalPlmn, ServiceCentre,
};

use super::clock::civil;
use super::describe;
use super::event::{Arrow, Lane, Sink};

/// Why a TPDU could not be turned into a [`ShortMessage`] or back.
pub type ConvertError = applet::wire::Error;

/// SMS-SUBMIT TPDU → the SMSC's message (`source` left empty: the network stamps it).
/// Returns the message and TP-MR.
pub fn submit_to_message(tpdu: &[u8]) -> Result<(ShortMessage, u8), ConvertError> {
    let s = SmsSubmit::parse(tpdu)?;
    let destination = match s.destination.value {
        AddressValue::Digits(d) => d.to_string(),
        AddressValue::Alphanumeric(a) => a.chars().collect(),
    };
    let udh = match s.user_data.header {
        Some(h) => {
            let mut buf = vec![0u8; h.buffer_len()];
            h.emit(&mut buf)?;
            buf.remove(0);
            Some(buf)
        }
        None => None,
    };
    let user_data = match s.user_data.body {
        UserDataBody::Octets(d) => d.to_vec(),
        UserDataBody::Septets { .. } => s
            .user_data
            .septets()
            .ok_or(ConvertError::BadLength)?
            .collect(),
    };
    Ok((
        ShortMessage {
            source: String::new(),
            destination,
            pid: s.pid.0,
            dcs: s.dcs.0,
            udh,
            user_data,
        },
        s.message_reference,
    ))
}

/// The SMS-DELIVER TPDU for `sm` received at `scts`: TP-OA = `sm.source` (international
/// when all digits), no more messages waiting, no reply path.
pub fn deliver_tpdu(sm: &ShortMessage, scts: Timestamp) -> Result<Vec<u8>, ConvertError> {
    let digits = sm.source.strip_prefix('+').unwrap_or(&sm.source);
    let originator = if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        Address::digits(TypeOfAddress::INTERNATIONAL, digits)?
    } else {
        Address::alphanumeric(&sm.source)?
    };
    let udh_bytes = sm.udh.as_ref().map(|h| {
        let mut v = Vec::with_capacity(h.len() + 1);
        v.push(u8::try_from(h.len()).unwrap_or(u8::MAX));
        v.extend_from_slice(h);
        v
    });
    let header = match &udh_bytes {
        Some(b) => Some(UserDataHeader::parse(b)?),
        None => None,
    };
    let dcs = DataCodingScheme(sm.dcs);
    let mut packed = [0u8; 160];
    let user_data = if dcs.udl_in_septets() {
        let fill = applet::wire::sms::tpdu::fill_bits_after(header.map_or(0, |h| h.buffer_len()));
        let n = gsm7::pack_septets(&sm.user_data, fill, &mut packed)?;
        UserData {
            header,
            body: UserDataBody::Septets {
                count: u8::try_from(sm.user_data.len()).map_err(|_| ConvertError::BadLength)?,
                packed: packed.get(..n).ok_or(ConvertError::BadLength)?,
            },
        }
    } else {
        UserData::octets(header, &sm.user_data)
    };
    let mut d = SmsDeliver::new(originator, dcs, scts, user_data);
    d.pid = applet::wire::sms::ProtocolIdentifier(sm.pid);
    let mut buf = vec![0u8; d.buffer_len()];
    let n = d.emit(&mut buf)?;
    buf.truncate(n);
    Ok(buf)
}

/// TP-SCTS for a civil time (TS 23.040 §9.2.3.11).
pub fn scts(t: &NetworkTime) -> Timestamp {
    Timestamp {
        year: (t.year % 100) as u8,
        month: t.month,
        day: t.day,
        hour: t.hour,
        minute: t.minute,
        second: t.second,
        time_zone: t
            .tz_quarters
            .and_then(|q| TimeZone::from_quarter_hours(q).ok())
            .unwrap_or(TimeZone::UTC),
    }
}

/// The CAT PLMN of a network-simulator PLMN.
pub fn terminal_plmn(p: network::Plmn) -> Option<TerminalPlmn> {
    let mnc = if p.three_digit_mnc {
        format!("{:03}", p.mnc)
    } else {
        format!("{:02}", p.mnc)
    };
    TerminalPlmn::new(&format!("{:03}", p.mcc), &mnc)
}

/// One MO SMS as the link handled it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoRecord {
    /// Virtual time.
    pub t_ms: u64,
    /// Position among every MO SMS of the world (all handsets share one counter), so
    /// messages sent at the same virtual instant keep the order they were sent in.
    pub seq: u64,
    /// The card that was in the handset.
    pub card: Option<String>,
    /// The SMS-SUBMIT TPDU.
    pub tpdu: Vec<u8>,
    /// What the network answered.
    pub outcome: MoOutcome,
}

/// A handset's link to the SMSC simulator (see the module docs).
#[derive(Debug, Clone)]
pub struct SmscLink {
    smsc: SmscHandle,
    handset: String,
    card: Option<String>,
    msisdn: Option<String>,
    epoch_unix_s: i64,
    tz_quarters: Option<i8>,
    sink: Sink,
    /// The world's MO counter, shared by every handset's link.
    seq: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// Every MO SMS, in order.
    pub sent: Vec<MoRecord>,
}

impl SmscLink {
    /// A link for `handset` on the shared SMSC; `seq` is the world's MO counter, shared
    /// by every handset's link ([`MoRecord::seq`]).
    pub fn new(
        handset: &str,
        smsc: SmscHandle,
        epoch_unix_s: i64,
        tz_quarters: Option<i8>,
        sink: Sink,
        seq: std::sync::Arc<std::sync::atomic::AtomicU64>,
    ) -> Self {
        SmscLink {
            smsc,
            handset: handset.to_owned(),
            card: None,
            msisdn: None,
            epoch_unix_s,
            tz_quarters,
            sink,
            seq,
            sent: Vec::new(),
        }
    }

    /// The subscription in use: the card's name and MSISDN (digits), or none.
    pub fn set_subscriber(&mut self, card: Option<(&str, &str)>) {
        self.card = card.map(|(c, _)| c.to_owned());
        self.msisdn = card.map(|(_, m)| m.to_owned());
    }

    /// MSISDN of the subscription in use.
    pub fn msisdn(&self) -> Option<&str> {
        self.msisdn.as_deref()
    }

    fn actor(&self) -> String {
        self.card.clone().unwrap_or_else(|| self.handset.clone())
    }
}

impl NetworkLink for SmscLink {
    fn location(&self) -> Option<LocationInfo> {
        let msisdn = self.msisdn.as_deref()?;
        self.smsc.with_quiet(|s, _| {
            if !s.networks.is_reachable(msisdn) {
                return None;
            }
            let l = s.networks.location(msisdn)?;
            Some(LocationInfo::normal(
                terminal_plmn(l.plmn)?,
                l.lac,
                l.cell_id,
            ))
        })
    }

    fn send_mo_sms(&mut self, smsc: Option<&ServiceCentre>, tpdu: &[u8], now_ms: u64) -> MoOutcome {
        let actor = self.actor();
        let converted = submit_to_message(tpdu);
        if self.sink.wants(&actor) {
            let mut detail = vec![describe::sms_submit(tpdu)];
            if let Some(sc) = smsc {
                detail.push(format!("RP destination (SMSC) {sc}"));
            }
            if let Ok((sm, _)) = &converted {
                detail.extend(describe::payload(sm));
            }
            self.sink.arrow(Arrow {
                t_ms: now_ms,
                from: Lane::Handset,
                to: Lane::Network,
                actor: actor.clone(),
                label: "RP-DATA (SMS-SUBMIT)".into(),
                detail,
                raw_hex: hex::encode_upper(tpdu),
            });
        }
        let outcome = match (converted, self.msisdn.as_deref()) {
            (Ok((sm, mr)), Some(msisdn)) => {
                let o = self.smsc.with(|s, _| s.submit_mo(msisdn, mr, sm, now_ms));
                match o {
                    network::MoOutcome::RpAck { message_ref } => {
                        MoOutcome::Sent { mr: message_ref }
                    }
                    network::MoOutcome::RpError { cause } => MoOutcome::RpError { cause: cause.0 },
                    network::MoOutcome::NetworkUnable => MoOutcome::NetworkUnable { cause: None },
                }
            }
            // No subscription: nothing leaves the handset.
            (_, None) => MoOutcome::NetworkUnable { cause: None },
            // Not an SMS-SUBMIT: the SMSC answers RP-ERROR 111 (protocol error,
            // unspecified; TS 24.011 §8.2.5.4).
            (Err(_), Some(_)) => MoOutcome::RpError { cause: 111 },
        };
        let label = match outcome {
            MoOutcome::Sent { .. } => "RP-ACK".to_owned(),
            MoOutcome::RpError { cause } => format!("RP-ERROR cause {cause}"),
            MoOutcome::NetworkUnable { .. } => "no answer (TR1M expired)".to_owned(),
        };
        if !matches!(outcome, MoOutcome::NetworkUnable { .. }) {
            self.sink.arrow(Arrow {
                t_ms: now_ms,
                from: Lane::Network,
                to: Lane::Handset,
                actor,
                label,
                detail: vec![outcome.to_string()],
                raw_hex: String::new(),
            });
        } else {
            self.sink.arrow(Arrow {
                t_ms: now_ms,
                from: Lane::Network,
                to: Lane::Network,
                actor,
                label,
                detail: vec![outcome.to_string()],
                raw_hex: String::new(),
            });
        }
        self.sent.push(MoRecord {
            t_ms: now_ms,
            seq: self.seq.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            card: self.card.clone(),
            tpdu: tpdu.to_vec(),
            outcome,
        });
        outcome
    }

    fn date_time(&self, now_ms: u64) -> NetworkTime {
        civil(self.epoch_unix_s, self.tz_quarters, now_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn submit_and_deliver_round_trip_8bit_with_udh() {
        // SMS-SUBMIT, TP-UDHI, TP-MR 07, TP-DA +447700900123, PID 00, DCS 04, UDL 9:
        // UDH 05 04 0B84 23F0 (16-bit ports, TS 23.040 §9.2.3.24.4) + "abc".
        let tpdu = hex::decode("41070C9144770009103200040A060504 0B8423F0616263".replace(' ', ""))
            .unwrap();
        let (sm, mr) = submit_to_message(&tpdu).unwrap();
        assert_eq!(mr, 7);
        assert_eq!(sm.destination, "447700900123");
        assert_eq!(
            sm.udh.as_deref(),
            Some(&[0x05, 0x04, 0x0B, 0x84, 0x23, 0xF0][..])
        );
        assert_eq!(sm.user_data, b"abc");
        let mut sm = sm;
        sm.source = "447700900555".into();
        let t = NetworkTime::from_unix(1_767_225_600, Some(4));
        let d = deliver_tpdu(&sm, scts(&t)).unwrap();
        let back = SmsDeliver::parse(&d).unwrap();
        assert_eq!(back.pid.0, 0);
        assert_eq!(back.user_data.data(), Some(&b"abc"[..]));
        let sm2 = handset_sim::provisioning::client::short_message_from_deliver(&d).unwrap();
        assert_eq!(sm2.udh, sm.udh);
        assert_eq!(sm2.source, "447700900555");
    }

    #[test]
    fn seven_bit_round_trip() {
        // "hello" in GSM 7-bit: E8 32 9B FD 06 (TS 23.038 §6.1.2.1 packing).
        let tpdu =
            hex::decode("0100 0B914477009001F2 0000 05 E8329BFD06".replace(' ', "")).unwrap();
        let (sm, _) = submit_to_message(&tpdu).unwrap();
        assert_eq!(sm.user_data, [0x68, 0x65, 0x6C, 0x6C, 0x6F]);
        let d = deliver_tpdu(&sm, Timestamp::default()).unwrap();
        assert!(d.ends_with(&[0x05, 0xE8, 0x32, 0x9B, 0xFD, 0x06]));
    }

    #[test]
    fn plmn_conversion() {
        let p = terminal_plmn(network::Plmn::new(1, 1)).unwrap();
        assert_eq!(p.to_bytes(), [0x00, 0xF1, 0x10]);
        let p = terminal_plmn(network::Plmn::new_three_digit(310, 260)).unwrap();
        assert_eq!(p.to_bytes(), [0x13, 0x00, 0x62]);
    }
}
