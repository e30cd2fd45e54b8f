//! Proactive commands: the `D0` BER-TLV a card returns to FETCH (ETSI TS 102 223 §6.6,
//! 3GPP TS 31.111 §6.6).
//!
//! [`ProactiveCommand`] is a closed enum over the commands this project uses plus
//! [`ProactiveCommand::Opaque`]. Parsing rules:
//!
//! * the outer tag must be `D0` and the value a well-formed COMPREHENSION-TLV list whose
//!   first object is command details (one-byte tag) — otherwise an error;
//! * typed variants take their objects in the order of TS 102 223 §6.6; the first object
//!   that does not fit that order, and everything after it, is kept raw in `extra`
//!   (e.g. a frame identifier, or an object of a newer release);
//! * a command of any other type — or of a typed type whose mandatory objects are missing
//!   or malformed — parses as [`OpaqueCommand`] (command details + remaining bytes raw);
//!   check `details().kind` to tell the two apart and answer `32`/`36` where needed.
//!
//! With these rules `emit(parse(b)) == b` for every accepted input.

use super::codes::{CommandType, DeviceId, PliQualifier, TimerAction};
use super::ies::{
    Address, AlphaIdentifier, CommandDetails, Cursor, DataObject, DeviceIdentities, Duration,
    EventList, IconIdentifier, ImmediateResponse, SmsTpdu, TextString, TimerIdentifier, TimerValue,
    opt_len, write_opt,
};
use crate::wire::tlv::{BerTag, BerTlv, ComprehensionTlvIter, Writer, length_len};
use crate::wire::{Error, Result};

/// Device identities of a command from the UICC to the terminal (`82 02 81 82`).
const UICC_TO_TERMINAL: DeviceIdentities =
    DeviceIdentities::new(DeviceId::UICC, DeviceId::TERMINAL);

/// PROVIDE LOCAL INFORMATION (TS 102 223 §6.6.15, TS 31.111 §6.6.15).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProvideLocalInformation<'a> {
    /// Command details (type `26`; qualifier = [`PliQualifier`]).
    pub details: CommandDetails,
    /// Device identities (UICC → terminal).
    pub devices: DeviceIdentities,
    /// Objects after the typed ones, raw.
    pub extra: &'a [u8],
}

impl ProvideLocalInformation<'_> {
    /// `D0 09 81 03 nn 26 qq 82 02 81 82` (02-cat.md §9).
    pub const fn new(number: u8, qualifier: PliQualifier) -> Self {
        ProvideLocalInformation {
            details: CommandDetails::new(
                number,
                CommandType::PROVIDE_LOCAL_INFORMATION,
                qualifier.0,
            ),
            devices: UICC_TO_TERMINAL,
            extra: &[],
        }
    }

    /// What the terminal is asked to provide.
    pub const fn qualifier(&self) -> PliQualifier {
        PliQualifier(self.details.qualifier)
    }
}

/// SEND SHORT MESSAGE (TS 102 223 §6.6.9, TS 31.111 §6.6.9).
///
/// The address, if present, is the **service-centre** address; the destination is TP-DA
/// inside the TPDU (02-cat.md §8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendShortMessage<'a> {
    /// Command details (type `13`; qualifier bit 1 = terminal must pack 8-bit data).
    pub details: CommandDetails,
    /// Device identities (UICC → network).
    pub devices: DeviceIdentities,
    /// Alpha identifier: `None` absent, `Some(null)` = silent (02-cat.md §8).
    pub alpha: Option<AlphaIdentifier<'a>>,
    /// Service-centre address.
    pub address: Option<Address<'a>>,
    /// The SMS-SUBMIT TPDU.
    pub tpdu: SmsTpdu<'a>,
    /// Objects after the typed ones (icon identifier, …), raw.
    pub extra: &'a [u8],
}

impl<'a> SendShortMessage<'a> {
    /// Packing not required, no alpha identifier, no address: `D0 L 81 03 nn 13 00 82 02 81
    /// 83 8B L tpdu` (02-cat.md §9 step 4). Set `alpha`/`address` afterwards as needed.
    pub const fn new(number: u8, tpdu: &'a [u8]) -> Self {
        SendShortMessage {
            details: CommandDetails::new(number, CommandType::SEND_SHORT_MESSAGE, 0x00),
            devices: DeviceIdentities::new(DeviceId::UICC, DeviceId::NETWORK),
            alpha: None,
            address: None,
            tpdu: SmsTpdu::new(tpdu),
            extra: &[],
        }
    }

    /// Whether the terminal must pack 8-bit user data into 7-bit (qualifier bit 1).
    pub const fn packing_required(&self) -> bool {
        self.details.qualifier & 0x01 != 0
    }
}

/// SET UP EVENT LIST (TS 102 223 §6.6.16).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetUpEventList<'a> {
    /// Command details (type `05`).
    pub details: CommandDetails,
    /// Device identities (UICC → terminal).
    pub devices: DeviceIdentities,
    /// Events to monitor (empty = remove all).
    pub events: EventList<'a>,
    /// Objects after the typed ones, raw.
    pub extra: &'a [u8],
}

impl<'a> SetUpEventList<'a> {
    /// `D0 L 81 03 nn 05 00 82 02 81 82 99 L events` (02-cat.md §9).
    pub const fn new(number: u8, events: &'a [u8]) -> Self {
        SetUpEventList {
            details: CommandDetails::new(number, CommandType::SET_UP_EVENT_LIST, 0x00),
            devices: UICC_TO_TERMINAL,
            events: EventList::new(events),
            extra: &[],
        }
    }
}

/// TIMER MANAGEMENT (TS 102 223 §6.6.21).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerManagement<'a> {
    /// Command details (type `27`; qualifier bits 1–2 = [`TimerAction`]).
    pub details: CommandDetails,
    /// Device identities (UICC → terminal).
    pub devices: DeviceIdentities,
    /// Timer to act on.
    pub timer_id: TimerIdentifier,
    /// Start value (present for START only).
    pub value: Option<TimerValue>,
    /// Objects after the typed ones, raw.
    pub extra: &'a [u8],
}

impl TimerManagement<'_> {
    const fn with(number: u8, action: TimerAction, id: u8, value: Option<TimerValue>) -> Self {
        TimerManagement {
            details: CommandDetails::new(number, CommandType::TIMER_MANAGEMENT, action.0),
            devices: UICC_TO_TERMINAL,
            timer_id: TimerIdentifier::new(id),
            value,
            extra: &[],
        }
    }

    /// Start timer `id` with `value`: `D0 11 81 03 nn 27 00 82 02 81 82 A4 01 id A5 03 …`
    /// (02-cat.md §9).
    pub const fn start(number: u8, id: u8, value: TimerValue) -> Self {
        Self::with(number, TimerAction::START, id, Some(value))
    }

    /// Deactivate timer `id`.
    pub const fn deactivate(number: u8, id: u8) -> Self {
        Self::with(number, TimerAction::DEACTIVATE, id, None)
    }

    /// Ask for the current value of timer `id`.
    pub const fn get_current_value(number: u8, id: u8) -> Self {
        Self::with(number, TimerAction::GET_CURRENT_VALUE, id, None)
    }

    /// The action (qualifier bits 1–2).
    pub const fn action(&self) -> TimerAction {
        TimerAction(self.details.qualifier & 0x03)
    }
}

/// DISPLAY TEXT (TS 102 223 §6.6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DisplayText<'a> {
    /// Command details (type `21`; qualifier bit 1 high priority, bit 8 wait for user).
    pub details: CommandDetails,
    /// Device identities (UICC → display).
    pub devices: DeviceIdentities,
    /// The text.
    pub text: TextString<'a>,
    /// Icon identifier.
    pub icon: Option<IconIdentifier>,
    /// Immediate response requested.
    pub immediate_response: Option<ImmediateResponse>,
    /// How long to show the text.
    pub duration: Option<Duration>,
    /// Objects after the typed ones (text attribute, frame identifier, …), raw.
    pub extra: &'a [u8],
}

impl<'a> DisplayText<'a> {
    /// Qualifier bit 1: high priority.
    pub const HIGH_PRIORITY: u8 = 0x01;
    /// Qualifier bit 8: wait for the user to clear the message.
    pub const WAIT_FOR_USER: u8 = 0x80;

    /// `D0 L 81 03 nn 21 qq 82 02 81 02 8D …` (02-cat.md §9).
    pub const fn new(number: u8, qualifier: u8, text: TextString<'a>) -> Self {
        DisplayText {
            details: CommandDetails::new(number, CommandType::DISPLAY_TEXT, qualifier),
            devices: DeviceIdentities::new(DeviceId::UICC, DeviceId::DISPLAY),
            text,
            icon: None,
            immediate_response: None,
            duration: None,
            extra: &[],
        }
    }
}

/// MORE TIME (TS 102 223 §6.6.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MoreTime<'a> {
    /// Command details (type `02`).
    pub details: CommandDetails,
    /// Device identities (UICC → terminal).
    pub devices: DeviceIdentities,
    /// Objects after the typed ones, raw.
    pub extra: &'a [u8],
}

impl MoreTime<'_> {
    /// `D0 09 81 03 nn 02 00 82 02 81 82` (02-cat.md §9).
    pub const fn new(number: u8) -> Self {
        MoreTime {
            details: CommandDetails::new(number, CommandType::MORE_TIME, 0x00),
            devices: UICC_TO_TERMINAL,
            extra: &[],
        }
    }
}

/// POLL INTERVAL (TS 102 223 §6.6.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollInterval<'a> {
    /// Command details (type `03`).
    pub details: CommandDetails,
    /// Device identities (UICC → terminal).
    pub devices: DeviceIdentities,
    /// Requested polling interval.
    pub interval: Duration,
    /// Objects after the typed ones, raw.
    pub extra: &'a [u8],
}

impl PollInterval<'_> {
    /// `D0 0D 81 03 nn 03 00 82 02 81 82 84 02 unit interval` (02-cat.md §9).
    pub const fn new(number: u8, interval: Duration) -> Self {
        PollInterval {
            details: CommandDetails::new(number, CommandType::POLL_INTERVAL, 0x00),
            devices: UICC_TO_TERMINAL,
            interval,
            extra: &[],
        }
    }
}

/// Any other proactive command, or a typed one whose objects did not fit: command details
/// plus the remaining COMPREHENSION-TLVs raw (device identities included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpaqueCommand<'a> {
    /// Command details.
    pub details: CommandDetails,
    /// Everything after command details, raw (a well-formed TLV list when parsed).
    pub rest: &'a [u8],
}

/// A proactive command (`D0` template), TS 102 223 §6.6 — see the module docs for the
/// parsing rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProactiveCommand<'a> {
    /// PROVIDE LOCAL INFORMATION.
    ProvideLocalInformation(ProvideLocalInformation<'a>),
    /// SEND SHORT MESSAGE.
    SendShortMessage(SendShortMessage<'a>),
    /// SET UP EVENT LIST.
    SetUpEventList(SetUpEventList<'a>),
    /// TIMER MANAGEMENT.
    TimerManagement(TimerManagement<'a>),
    /// DISPLAY TEXT.
    DisplayText(DisplayText<'a>),
    /// MORE TIME.
    MoreTime(MoreTime<'a>),
    /// POLL INTERVAL.
    PollInterval(PollInterval<'a>),
    /// Anything else, kept raw.
    Opaque(OpaqueCommand<'a>),
}

impl<'a> ProactiveCommand<'a> {
    /// Parses a FETCH response data field (exactly one `D0` BER-TLV).
    ///
    /// Errors: [`Error::BadTag`] if the template is not `D0` or command details are not
    /// the first object; TLV errors from [`crate::wire::tlv`]; [`Error::TrailingData`].
    pub fn parse(buf: &'a [u8]) -> Result<Self> {
        let outer = BerTlv::parse(buf)?;
        if outer.tag != BerTag::PROACTIVE_COMMAND {
            return Err(Error::BadTag);
        }
        ComprehensionTlvIter::validate(outer.value)?;
        let mut cur = Cursor::new(outer.value);
        let details: CommandDetails = cur.require()?;
        let rest = cur.rest();
        Ok(Self::parse_typed(details, cur)
            .unwrap_or(ProactiveCommand::Opaque(OpaqueCommand { details, rest })))
    }

    fn parse_typed(details: CommandDetails, mut c: Cursor<'a>) -> Result<Self> {
        let k = details.kind;
        let devices = c.require()?;
        let cmd = if k == CommandType::PROVIDE_LOCAL_INFORMATION {
            Self::ProvideLocalInformation(ProvideLocalInformation {
                details,
                devices,
                extra: c.rest(),
            })
        } else if k == CommandType::SEND_SHORT_MESSAGE {
            let alpha = c.take()?;
            let address = c.take()?;
            let tpdu = c.require()?;
            Self::SendShortMessage(SendShortMessage {
                details,
                devices,
                alpha,
                address,
                tpdu,
                extra: c.rest(),
            })
        } else if k == CommandType::SET_UP_EVENT_LIST {
            let events = c.require()?;
            Self::SetUpEventList(SetUpEventList {
                details,
                devices,
                events,
                extra: c.rest(),
            })
        } else if k == CommandType::TIMER_MANAGEMENT {
            let timer_id = c.require()?;
            let value = c.take()?;
            Self::TimerManagement(TimerManagement {
                details,
                devices,
                timer_id,
                value,
                extra: c.rest(),
            })
        } else if k == CommandType::DISPLAY_TEXT {
            let text = c.require()?;
            let icon = c.take()?;
            let immediate_response = c.take()?;
            let duration = c.take()?;
            Self::DisplayText(DisplayText {
                details,
                devices,
                text,
                icon,
                immediate_response,
                duration,
                extra: c.rest(),
            })
        } else if k == CommandType::MORE_TIME {
            Self::MoreTime(MoreTime {
                details,
                devices,
                extra: c.rest(),
            })
        } else if k == CommandType::POLL_INTERVAL {
            let interval = c.require()?;
            Self::PollInterval(PollInterval {
                details,
                devices,
                interval,
                extra: c.rest(),
            })
        } else {
            return Err(Error::Unsupported);
        };
        Ok(cmd)
    }

    /// The command details (echo them in the TERMINAL RESPONSE).
    pub const fn details(&self) -> CommandDetails {
        match self {
            Self::ProvideLocalInformation(c) => c.details,
            Self::SendShortMessage(c) => c.details,
            Self::SetUpEventList(c) => c.details,
            Self::TimerManagement(c) => c.details,
            Self::DisplayText(c) => c.details,
            Self::MoreTime(c) => c.details,
            Self::PollInterval(c) => c.details,
            Self::Opaque(c) => c.details,
        }
    }

    /// Device identities of a typed command (`None` for [`ProactiveCommand::Opaque`]).
    pub const fn devices(&self) -> Option<DeviceIdentities> {
        match self {
            Self::ProvideLocalInformation(c) => Some(c.devices),
            Self::SendShortMessage(c) => Some(c.devices),
            Self::SetUpEventList(c) => Some(c.devices),
            Self::TimerManagement(c) => Some(c.devices),
            Self::DisplayText(c) => Some(c.devices),
            Self::MoreTime(c) => Some(c.devices),
            Self::PollInterval(c) => Some(c.devices),
            Self::Opaque(_) => None,
        }
    }

    /// Length of the `D0` value (the COMPREHENSION-TLV list).
    fn value_len(&self) -> usize {
        let head = |d: &CommandDetails, dev: &DeviceIdentities, extra: &[u8]| {
            d.buffer_len() + dev.buffer_len() + extra.len()
        };
        match self {
            Self::ProvideLocalInformation(c) => head(&c.details, &c.devices, c.extra),
            Self::SendShortMessage(c) => {
                head(&c.details, &c.devices, c.extra)
                    + opt_len(&c.alpha)
                    + opt_len(&c.address)
                    + c.tpdu.buffer_len()
            }
            Self::SetUpEventList(c) => {
                head(&c.details, &c.devices, c.extra) + c.events.buffer_len()
            }
            Self::TimerManagement(c) => {
                head(&c.details, &c.devices, c.extra) + c.timer_id.buffer_len() + opt_len(&c.value)
            }
            Self::DisplayText(c) => {
                head(&c.details, &c.devices, c.extra)
                    + c.text.buffer_len()
                    + opt_len(&c.icon)
                    + opt_len(&c.immediate_response)
                    + opt_len(&c.duration)
            }
            Self::MoreTime(c) => head(&c.details, &c.devices, c.extra),
            Self::PollInterval(c) => {
                head(&c.details, &c.devices, c.extra) + c.interval.buffer_len()
            }
            Self::Opaque(c) => c.details.buffer_len() + c.rest.len(),
        }
    }

    /// Encoded size of the whole `D0` TLV.
    pub fn buffer_len(&self) -> usize {
        let v = self.value_len();
        1 + length_len(v) + v
    }

    /// Writes the `D0` TLV into `buf`; returns the number of bytes written.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let mut w = Writer::new(buf);
        w.put_ber_header(BerTag::PROACTIVE_COMMAND, self.value_len())?;
        match self {
            Self::ProvideLocalInformation(c) => {
                c.details.write(&mut w)?;
                c.devices.write(&mut w)?;
                w.put_slice(c.extra)?;
            }
            Self::SendShortMessage(c) => {
                c.details.write(&mut w)?;
                c.devices.write(&mut w)?;
                write_opt(&mut w, &c.alpha)?;
                write_opt(&mut w, &c.address)?;
                c.tpdu.write(&mut w)?;
                w.put_slice(c.extra)?;
            }
            Self::SetUpEventList(c) => {
                c.details.write(&mut w)?;
                c.devices.write(&mut w)?;
                c.events.write(&mut w)?;
                w.put_slice(c.extra)?;
            }
            Self::TimerManagement(c) => {
                c.details.write(&mut w)?;
                c.devices.write(&mut w)?;
                c.timer_id.write(&mut w)?;
                write_opt(&mut w, &c.value)?;
                w.put_slice(c.extra)?;
            }
            Self::DisplayText(c) => {
                c.details.write(&mut w)?;
                c.devices.write(&mut w)?;
                c.text.write(&mut w)?;
                write_opt(&mut w, &c.icon)?;
                write_opt(&mut w, &c.immediate_response)?;
                write_opt(&mut w, &c.duration)?;
                w.put_slice(c.extra)?;
            }
            Self::MoreTime(c) => {
                c.details.write(&mut w)?;
                c.devices.write(&mut w)?;
                w.put_slice(c.extra)?;
            }
            Self::PollInterval(c) => {
                c.details.write(&mut w)?;
                c.devices.write(&mut w)?;
                c.interval.write(&mut w)?;
                w.put_slice(c.extra)?;
            }
            Self::Opaque(c) => {
                c.details.write(&mut w)?;
                w.put_slice(c.rest)?;
            }
        }
        Ok(w.finish())
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::super::codes::{Dcs, Event, TimeUnit};
    use super::*;
    use proptest::prelude::*;
    use std::vec::Vec;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s.replace([' ', '\n'], "")).unwrap()
    }

    fn emit(c: &ProactiveCommand<'_>) -> Vec<u8> {
        let mut out = [0u8; 600];
        let n = c.emit(&mut out).unwrap();
        assert_eq!(n, c.buffer_len());
        out[..n].to_vec()
    }

    /// Parse, check byte-exact re-emit, compare with a typed constructor.
    fn check(bytes: &[u8], built: ProactiveCommand<'_>) {
        let parsed = ProactiveCommand::parse(bytes).unwrap();
        assert_eq!(emit(&parsed), bytes);
        assert_eq!(parsed, built);
        assert_eq!(emit(&built), bytes);
    }

    // 02-cat.md §9, step 4: TPDU of SEND SHORT MESSAGE (SMS-SUBMIT to +447700900123).
    const SUBMIT: &str = "01 00 0C 91 44 77 00 09 10 32 00 04 18
        49 54 01 4A 09 51 24 30 32 57 81 00 00 00 00 01 11 22 33 44 55 66 77 88";

    #[test]
    fn vectors_02_cat_section_9() {
        // All from /work/shared/spec/02-cat.md §9 (tshark 4.0.17 decoded them).
        check(
            &h("D0 09 81 03 01 26 01 82 02 81 82"),
            ProactiveCommand::ProvideLocalInformation(ProvideLocalInformation::new(
                1,
                PliQualifier::IMEI,
            )),
        );
        check(
            &h("D0 09 81 03 01 26 08 82 02 81 82"),
            ProactiveCommand::ProvideLocalInformation(ProvideLocalInformation::new(
                1,
                PliQualifier::IMEISV,
            )),
        );
        let tpdu = h(SUBMIT);
        let mut sm = h("D0 30 81 03 01 13 00 82 02 81 83 8B 25");
        sm.extend_from_slice(&tpdu);
        check(
            &sm,
            ProactiveCommand::SendShortMessage(SendShortMessage::new(1, &tpdu)),
        );
        check(
            &h("D0 0C 81 03 01 05 00 82 02 81 82 99 01 03"),
            ProactiveCommand::SetUpEventList(SetUpEventList::new(1, &[Event::LOCATION_STATUS.0])),
        );
        check(
            &h("D0 0D 81 03 01 03 00 82 02 81 82 84 02 01 1E"),
            ProactiveCommand::PollInterval(PollInterval::new(
                1,
                Duration::new(TimeUnit::SECONDS, 30),
            )),
        );
        check(
            &h("D0 11 81 03 01 27 00 82 02 81 82 A4 01 01 A5 03 00 03 00"),
            ProactiveCommand::TimerManagement(TimerManagement::start(
                1,
                1,
                TimerValue::new(0, 30, 0),
            )),
        );
        check(
            &h("D0 09 81 03 01 02 00 82 02 81 82"),
            ProactiveCommand::MoreTime(MoreTime::new(1)),
        );
        check(
            &h("D0 11 81 03 01 21 81 82 02 81 02 8D 06 04 48 65 6C 6C 6F"),
            ProactiveCommand::DisplayText(DisplayText::new(
                1,
                DisplayText::WAIT_FOR_USER | DisplayText::HIGH_PRIORITY,
                TextString::new(Dcs::EIGHT_BIT, b"Hello"),
            )),
        );
    }

    #[test]
    fn silent_send_sm_with_null_alpha_and_smsc() {
        // 02-cat.md §8: null alpha 05 00; address = SMSC (+447700900000 as in 04-sms.md §5).
        let tpdu = h(SUBMIT);
        let smsc = h("44 77 00 09 00 00");
        let mut cmd = SendShortMessage::new(2, &tpdu);
        cmd.alpha = Some(AlphaIdentifier::null());
        cmd.address = Some(Address::new(Address::INTERNATIONAL_E164, &smsc));
        let c = ProactiveCommand::SendShortMessage(cmd);
        let mut want = h("D0 3B 81 03 02 13 00 82 02 81 83 05 00 86 07 91 44 77 00 09 00 00 8B 25");
        want.extend_from_slice(&tpdu);
        assert_eq!(emit(&c), want);
        assert_eq!(ProactiveCommand::parse(&want).unwrap(), c);
    }

    #[test]
    fn display_text_with_optional_objects_and_extra() {
        // TS 102 223 §6.6.1 order: text, icon id, immediate response, duration, then
        // text attribute (50) / frame identifier (68) — the latter kept raw.
        let b = h(
            "D0 1B 81 03 01 21 00 82 02 81 02 8D 03 04 48 69 1E 02 00 01 AB 00 84 02 01 05 68 01 01",
        );
        let c = ProactiveCommand::parse(&b).unwrap();
        let ProactiveCommand::DisplayText(d) = c else {
            panic!("{c:?}")
        };
        assert!(d.icon.is_some() && d.immediate_response.is_some());
        assert_eq!(d.duration, Some(Duration::new(TimeUnit::SECONDS, 5)));
        assert_eq!(d.extra, &h("68 01 01")[..]);
        assert_eq!(emit(&c), b);
    }

    #[test]
    fn opaque_commands_round_trip() {
        // REFRESH (type 01) is not typed: kept raw (TS 102 223 §6.6.13 shape).
        let b = h("D0 09 81 03 01 01 04 82 02 81 82");
        let c = ProactiveCommand::parse(&b).unwrap();
        assert_eq!(
            c,
            ProactiveCommand::Opaque(OpaqueCommand {
                details: CommandDetails::new(1, CommandType::REFRESH, 4),
                rest: &h("82 02 81 82"),
            })
        );
        assert_eq!(c.devices(), None);
        assert_eq!(emit(&c), b);
        // Typed type without its mandatory TPDU -> opaque, still byte-exact.
        let b = h("D0 09 81 03 01 13 00 82 02 81 83");
        let c = ProactiveCommand::parse(&b).unwrap();
        assert!(matches!(c, ProactiveCommand::Opaque(_)));
        assert_eq!(c.details().kind, CommandType::SEND_SHORT_MESSAGE);
        assert_eq!(emit(&c), b);
        // Objects out of order: alpha after address -> alpha goes to `extra`... and the
        // TPDU is then missing from the typed fields -> opaque.
        let b = h("D0 11 81 03 01 13 00 82 02 81 83 86 01 91 05 00 8B 01 00");
        let c = ProactiveCommand::parse(&b).unwrap();
        assert!(matches!(c, ProactiveCommand::Opaque(_)));
        assert_eq!(emit(&c), b);
        // CR-clear objects and a three-byte-tag unknown object survive.
        let b = h("D0 0E 01 03 01 02 00 02 02 81 82 7F 00 70 01 AA");
        let c = ProactiveCommand::parse(&b).unwrap();
        let ProactiveCommand::MoreTime(m) = c else {
            panic!("{c:?}")
        };
        assert!(!m.details.cr && !m.devices.cr);
        assert_eq!(m.extra, &h("7F 00 70 01 AA")[..]);
        assert_eq!(emit(&c), b);
    }

    #[test]
    fn errors() {
        // Wrong template.
        assert_eq!(
            ProactiveCommand::parse(&h("D1 09 81 03 01 26 01 82 02 81 82")),
            Err(Error::BadTag)
        );
        // Command details not first.
        assert_eq!(
            ProactiveCommand::parse(&h("D0 09 82 02 81 82 81 03 01 26 01")),
            Err(Error::BadTag)
        );
        // Malformed inner list (AOSP stops at a 00 tag).
        assert_eq!(
            ProactiveCommand::parse(&h("D0 07 81 03 01 26 01 00 00")),
            Err(Error::BadTag)
        );
        // Non-minimal D0 length (AOSP: 81 only for >= 0x80).
        assert_eq!(
            ProactiveCommand::parse(&h("D0 81 09 81 03 01 26 01 82 02 81 82")),
            Err(Error::BadLength)
        );
        assert_eq!(
            ProactiveCommand::parse(&h("D0 09 81 03 01 26 01 82 02 81")),
            Err(Error::Truncated)
        );
        let c = ProactiveCommand::MoreTime(MoreTime::new(1));
        assert_eq!(c.emit(&mut [0u8; 10]), Err(Error::BufferTooSmall));
    }

    #[test]
    fn long_form_length() {
        // A 0x80+ byte command uses D0 81 xx (02-cat.md §1; 04-sms.md §5 "L > 127 -> 81 xx").
        let tpdu = [0x55u8; 140];
        let c = ProactiveCommand::SendShortMessage(SendShortMessage::new(3, &tpdu));
        let b = emit(&c);
        assert_eq!(&b[..3], &[0xD0, 0x81, 0x98]);
        assert_eq!(&b[12..15], &[0x8B, 0x81, 0x8C]);
        assert_eq!(ProactiveCommand::parse(&b).unwrap(), c);
    }

    fn arb_command() -> impl Strategy<Value = (u8, u8, u8, Vec<u8>, bool)> {
        // (variant selector, number, qualifier, payload, cr)
        (
            0u8..9,
            any::<u8>(),
            any::<u8>(),
            proptest::collection::vec(any::<u8>(), 0..200),
            any::<bool>(),
        )
    }

    fn build<'a>(sel: u8, n: u8, q: u8, p: &'a [u8], cr: bool) -> ProactiveCommand<'a> {
        match sel {
            0 => ProactiveCommand::ProvideLocalInformation(ProvideLocalInformation::new(
                n,
                PliQualifier(q),
            )),
            1 => {
                let mut s = SendShortMessage::new(n, p);
                s.details.qualifier = q & 1;
                s.alpha = cr.then(AlphaIdentifier::null);
                s.address = (!cr).then(|| Address::new(0x81, &p[..p.len().min(10)]));
                ProactiveCommand::SendShortMessage(s)
            }
            2 => ProactiveCommand::SetUpEventList(SetUpEventList::new(n, p)),
            3 => {
                let mut t =
                    TimerManagement::start(n, q % 8 + 1, TimerValue::new(q % 24, q % 60, 59));
                t.timer_id.cr = cr;
                ProactiveCommand::TimerManagement(t)
            }
            4 => ProactiveCommand::TimerManagement(TimerManagement::get_current_value(n, q)),
            5 => {
                let mut d = DisplayText::new(n, q, TextString::new(Dcs(q), p));
                d.duration = cr.then(|| Duration::new(TimeUnit::MINUTES, q));
                d.immediate_response = cr.then(ImmediateResponse::new);
                ProactiveCommand::DisplayText(d)
            }
            6 => ProactiveCommand::MoreTime(MoreTime::new(n)),
            7 => {
                ProactiveCommand::PollInterval(PollInterval::new(n, Duration::new(TimeUnit(q), n)))
            }
            _ => ProactiveCommand::Opaque(OpaqueCommand {
                // 0x60..0x7F: no typed command uses these types.
                details: CommandDetails::new(n, CommandType(0x60 | (q & 0x1F)), q),
                rest: &[],
            }),
        }
    }

    proptest! {
        #[test]
        fn repr_round_trip((sel, n, q, p, cr) in arb_command()) {
            let c = build(sel, n, q, &p, cr);
            let b = emit(&c);
            prop_assert_eq!(ProactiveCommand::parse(&b).unwrap(), c);
        }

        #[test]
        fn parsed_bytes_re_emit_exactly(body in proptest::collection::vec(any::<u8>(), 0..60)) {
            // A D0 wrapper over command details + random bytes: whatever parses re-emits.
            let mut b = std::vec![0xD0, 0];
            b.extend_from_slice(&h("81 03 01 13 00"));
            b.extend_from_slice(&body);
            b[1] = (b.len() - 2) as u8;
            if let Ok(c) = ProactiveCommand::parse(&b) {
                prop_assert_eq!(emit(&c), b);
            }
        }

        #[test]
        fn random_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Ok(c) = ProactiveCommand::parse(&b) {
                prop_assert_eq!(emit(&c), b);
            }
        }
    }
}
