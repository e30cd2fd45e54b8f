//! ENVELOPE data fields the handset sends to the card (ETSI TS 102 223 §7,
//! 3GPP TS 31.111 §7).
//!
//! Same rules as [`super::command`]: the value must be a well-formed COMPREHENSION-TLV
//! list; typed variants take their objects in the specified order and keep the rest raw
//! in `extra`; any other template, or a typed template whose mandatory objects are missing
//! or malformed, is [`Envelope::Opaque`]. `emit(parse(b)) == b` for every accepted input.

use super::codes::{DeviceId, Event, ServiceState};
use super::ies::{
    Address, Cursor, DataObject, DeviceIdentities, EventList, LocationInformation, LocationStatus,
    SmsTpdu, TimerIdentifier, TimerValue, opt_len, write_opt,
};
use crate::wire::tlv::{BerTag, BerTlv, ComprehensionTlvIter, Writer, length_len};
use crate::wire::{Error, Result};

/// Device identities of an ENVELOPE from the terminal (`82 02 82 81`).
const TERMINAL_TO_UICC: DeviceIdentities =
    DeviceIdentities::new(DeviceId::TERMINAL, DeviceId::UICC);

/// SMS-PP download, template `D1` (TS 31.111 §7.1.1, 04-sms.md §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SmsPpDownload<'a> {
    /// Device identities (network → UICC, `83 81`).
    pub devices: DeviceIdentities,
    /// Address of the SMSC (RP-OA), if the terminal includes it.
    pub address: Option<Address<'a>>,
    /// The SMS-DELIVER TPDU.
    pub tpdu: SmsTpdu<'a>,
    /// Objects after the typed ones, raw.
    pub extra: &'a [u8],
}

impl<'a> SmsPpDownload<'a> {
    /// `D1 L 82 02 83 81 [86 …] 8B L tpdu` (04-sms.md §5).
    pub const fn new(address: Option<Address<'a>>, tpdu: &'a [u8]) -> Self {
        SmsPpDownload {
            devices: DeviceIdentities::new(DeviceId::NETWORK, DeviceId::UICC),
            address,
            tpdu: SmsTpdu::new(tpdu),
            extra: &[],
        }
    }
}

/// Event download, template `D6` (TS 102 223 §7.5, TS 31.111 §7.5).
///
/// For the location status event (TS 31.111 §7.5.4) the terminal adds location status
/// and, with normal service, location information; other events keep their objects in
/// `extra`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventDownload<'a> {
    /// Event list (one event).
    pub events: EventList<'a>,
    /// Device identities (terminal → UICC, `82 81`).
    pub devices: DeviceIdentities,
    /// Location status.
    pub location_status: Option<LocationStatus>,
    /// Location information.
    pub location: Option<LocationInformation>,
    /// Objects after the typed ones, raw.
    pub extra: &'a [u8],
}

impl EventDownload<'_> {
    /// Location status event: `D6 L 99 01 03 82 02 82 81 9B 01 ss [93 …]` (02-cat.md §9).
    pub const fn location_status(
        status: ServiceState,
        location: Option<LocationInformation>,
    ) -> Self {
        EventDownload {
            events: EventList::new(&[Event::LOCATION_STATUS.0]),
            devices: TERMINAL_TO_UICC,
            location_status: Some(LocationStatus::new(status)),
            location,
            extra: &[],
        }
    }

    /// The (first) event reported.
    pub fn event(&self) -> Option<Event> {
        self.events.iter().next()
    }
}

/// Timer expiration, template `D7` (TS 102 223 §7.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerExpiration<'a> {
    /// Device identities (terminal → UICC).
    pub devices: DeviceIdentities,
    /// The timer that expired.
    pub timer_id: TimerIdentifier,
    /// Time elapsed since the timer expired … as the terminal reports it (TS 102 223 §7.4).
    pub value: TimerValue,
    /// Objects after the typed ones, raw.
    pub extra: &'a [u8],
}

impl TimerExpiration<'_> {
    /// `D7 0C 82 02 82 81 A4 01 id A5 03 …` (02-cat.md §9).
    pub const fn new(id: u8, value: TimerValue) -> Self {
        TimerExpiration {
            devices: TERMINAL_TO_UICC,
            timer_id: TimerIdentifier::new(id),
            value,
            extra: &[],
        }
    }
}

/// An ENVELOPE data field (one BER-TLV), TS 102 223 §7.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Envelope<'a> {
    /// `D1` SMS-PP download.
    SmsPpDownload(SmsPpDownload<'a>),
    /// `D6` event download.
    EventDownload(EventDownload<'a>),
    /// `D7` timer expiration.
    TimerExpiration(TimerExpiration<'a>),
    /// Any other template (or a typed one that did not fit), raw.
    Opaque(BerTlv<'a>),
}

impl<'a> Envelope<'a> {
    /// Parses an ENVELOPE data field (exactly one BER-TLV whose value is a well-formed
    /// COMPREHENSION-TLV list).
    pub fn parse(buf: &'a [u8]) -> Result<Self> {
        let outer = BerTlv::parse(buf)?;
        ComprehensionTlvIter::validate(outer.value)?;
        Ok(Self::parse_typed(outer).unwrap_or(Envelope::Opaque(outer)))
    }

    fn parse_typed(outer: BerTlv<'a>) -> Result<Self> {
        let mut c = Cursor::new(outer.value);
        let env = match outer.tag {
            BerTag::SMS_PP_DOWNLOAD => {
                let devices = c.require()?;
                let address = c.take()?;
                let tpdu = c.require()?;
                Envelope::SmsPpDownload(SmsPpDownload {
                    devices,
                    address,
                    tpdu,
                    extra: c.rest(),
                })
            }
            BerTag::EVENT_DOWNLOAD => {
                let events = c.require()?;
                let devices = c.require()?;
                let location_status = c.take()?;
                let location = c.take()?;
                Envelope::EventDownload(EventDownload {
                    events,
                    devices,
                    location_status,
                    location,
                    extra: c.rest(),
                })
            }
            BerTag::TIMER_EXPIRATION => {
                let devices = c.require()?;
                let timer_id = c.require()?;
                let value = c.require()?;
                Envelope::TimerExpiration(TimerExpiration {
                    devices,
                    timer_id,
                    value,
                    extra: c.rest(),
                })
            }
            _ => return Err(Error::Unsupported),
        };
        Ok(env)
    }

    /// The template tag.
    pub const fn tag(&self) -> BerTag {
        match self {
            Envelope::SmsPpDownload(_) => BerTag::SMS_PP_DOWNLOAD,
            Envelope::EventDownload(_) => BerTag::EVENT_DOWNLOAD,
            Envelope::TimerExpiration(_) => BerTag::TIMER_EXPIRATION,
            Envelope::Opaque(t) => t.tag,
        }
    }

    fn value_len(&self) -> usize {
        match self {
            Envelope::SmsPpDownload(e) => {
                e.devices.buffer_len() + opt_len(&e.address) + e.tpdu.buffer_len() + e.extra.len()
            }
            Envelope::EventDownload(e) => {
                e.events.buffer_len()
                    + e.devices.buffer_len()
                    + opt_len(&e.location_status)
                    + opt_len(&e.location)
                    + e.extra.len()
            }
            Envelope::TimerExpiration(e) => {
                e.devices.buffer_len()
                    + e.timer_id.buffer_len()
                    + e.value.buffer_len()
                    + e.extra.len()
            }
            Envelope::Opaque(t) => t.value.len(),
        }
    }

    /// Encoded size of the whole BER-TLV.
    pub fn buffer_len(&self) -> usize {
        let v = self.value_len();
        1 + length_len(v) + v
    }

    /// Writes the ENVELOPE data field into `buf`; returns the number of bytes written.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let mut w = Writer::new(buf);
        w.put_ber_header(self.tag(), self.value_len())?;
        match self {
            Envelope::SmsPpDownload(e) => {
                e.devices.write(&mut w)?;
                write_opt(&mut w, &e.address)?;
                e.tpdu.write(&mut w)?;
                w.put_slice(e.extra)?;
            }
            Envelope::EventDownload(e) => {
                e.events.write(&mut w)?;
                e.devices.write(&mut w)?;
                write_opt(&mut w, &e.location_status)?;
                write_opt(&mut w, &e.location)?;
                w.put_slice(e.extra)?;
            }
            Envelope::TimerExpiration(e) => {
                e.devices.write(&mut w)?;
                e.timer_id.write(&mut w)?;
                e.value.write(&mut w)?;
                w.put_slice(e.extra)?;
            }
            Envelope::Opaque(t) => w.put_slice(t.value)?,
        }
        Ok(w.finish())
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use proptest::prelude::*;
    use std::vec::Vec;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s.replace([' ', '\n'], "")).unwrap()
    }

    fn emit(e: &Envelope<'_>) -> Vec<u8> {
        let mut out = [0u8; 400];
        let n = e.emit(&mut out).unwrap();
        assert_eq!(n, e.buffer_len());
        out[..n].to_vec()
    }

    fn check(bytes: &[u8], built: Envelope<'_>) {
        let parsed = Envelope::parse(bytes).unwrap();
        assert_eq!(emit(&parsed), bytes);
        assert_eq!(parsed, built);
        assert_eq!(emit(&built), bytes);
    }

    #[test]
    fn vectors_02_cat_section_9() {
        // Event download, location status normal, MCC 001 MNC 01 LAC 0001 CI 0002.
        check(
            &h("D6 13 99 01 03 82 02 82 81 9B 01 00 93 07 00 F1 10 00 01 00 02"),
            Envelope::EventDownload(EventDownload::location_status(
                ServiceState::NORMAL_SERVICE,
                Some(LocationInformation::new([0x00, 0xF1, 0x10], 1, 2)),
            )),
        );
        // Timer expiration, timer 1, 00:30:00.
        check(
            &h("D7 0C 82 02 82 81 A4 01 01 A5 03 00 03 00"),
            Envelope::TimerExpiration(TimerExpiration::new(1, TimerValue::new(0, 30, 0))),
        );
    }

    #[test]
    fn sms_pp_download_04_sms_section_5() {
        // 04-sms.md §5 (pySim OTA vector, UDL corrected; tshark decoded it).
        let b = h("D1 45 82 02 83 81
            86 07 91 44 77 00 09 00 00
            8B 36 40 08 81 21 43 65 87 7F F6 22 70 52 00 00 00 00 25
            02 70 00
            00 20 15 06 19 35 35 B0 00 11 AE 73 32 56 91 8D 05 0B 87 C9 4F BF E1 2E 4D C4 02 F2 62 C4 1C F6 7F 2F");
        let smsc = h("44 77 00 09 00 00");
        let tpdu = b[17..].to_vec();
        assert_eq!(tpdu.len(), 0x36);
        check(
            &b,
            Envelope::SmsPpDownload(SmsPpDownload::new(
                Some(Address::new(Address::INTERNATIONAL_E164, &smsc)),
                &tpdu,
            )),
        );
        // Without the optional address.
        let mut b2 = h("D1 3C 82 02 83 81 8B 36");
        b2.extend_from_slice(&tpdu);
        check(
            &b2,
            Envelope::SmsPpDownload(SmsPpDownload::new(None, &tpdu)),
        );
    }

    #[test]
    fn opaque_and_errors() {
        // Menu selection D3 (TS 102 223 §7.2): device ids 01 81, item identifier 90 01 02.
        let b = h("D3 07 82 02 01 81 90 01 02");
        let e = Envelope::parse(&b).unwrap();
        assert!(matches!(e, Envelope::Opaque(t) if t.tag == BerTag::MENU_SELECTION));
        assert_eq!(emit(&e), b);
        // Timer expiration without timer value -> opaque.
        let b = h("D7 07 82 02 82 81 A4 01 01");
        assert!(matches!(Envelope::parse(&b).unwrap(), Envelope::Opaque(_)));
        // Event download for user activity (no location objects), extra object kept.
        let b = h("D6 0B 99 01 04 82 02 82 81 7F 00 70 00");
        let e = Envelope::parse(&b).unwrap();
        let Envelope::EventDownload(ev) = e else {
            panic!("{e:?}")
        };
        assert_eq!(ev.event(), Some(Event::USER_ACTIVITY));
        assert_eq!(ev.extra, &h("7F 00 70 00")[..]);
        assert_eq!(emit(&e), b);
        // Malformed inner list.
        assert_eq!(Envelope::parse(&h("D6 03 99 05 03")), Err(Error::Truncated));
        assert_eq!(Envelope::parse(&h("D6 02 99 01")), Err(Error::Truncated));
        assert_eq!(
            Envelope::parse(&h("D6 02 99 01 03")),
            Err(Error::TrailingData)
        );
        assert_eq!(Envelope::parse(&h("D7 00 00")), Err(Error::TrailingData));
    }

    fn build<'a>(sel: u8, a: u8, p: &'a [u8], flag: bool) -> Envelope<'a> {
        match sel {
            0 => Envelope::SmsPpDownload(SmsPpDownload::new(
                flag.then(|| Address::new(a, &p[..p.len().min(12)])),
                p,
            )),
            1 => Envelope::EventDownload(EventDownload::location_status(
                ServiceState(a),
                flag.then(|| LocationInformation::new([a, a, a], u16::from(a), 7)),
            )),
            2 => Envelope::TimerExpiration(TimerExpiration::new(a, TimerValue::new(a % 100, 0, 1))),
            // D2..D5: untyped templates with an empty or single-object list.
            _ => Envelope::Opaque(BerTlv {
                tag: BerTag(0xD2 + (a % 4)),
                value: if flag { &[0x82, 0x02, 0x83, 0x81] } else { &[] },
            }),
        }
    }

    proptest! {
        #[test]
        fn repr_round_trip(sel in 0u8..4, a in any::<u8>(), p in proptest::collection::vec(any::<u8>(), 0..200), flag in any::<bool>()) {
            let e = build(sel, a, &p, flag);
            let b = emit(&e);
            prop_assert_eq!(Envelope::parse(&b).unwrap(), e);
        }

        #[test]
        fn random_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Ok(e) = Envelope::parse(&b) {
                prop_assert_eq!(emit(&e), b);
            }
        }

        #[test]
        fn templated_random_tail_re_emits(tag in 0xD1u8..0xD8, tail in proptest::collection::vec(any::<u8>(), 0..60)) {
            let mut b = std::vec![tag, tail.len() as u8];
            b.extend_from_slice(&tail);
            if let Ok(e) = Envelope::parse(&b) {
                prop_assert_eq!(emit(&e), b);
            }
        }
    }
}
