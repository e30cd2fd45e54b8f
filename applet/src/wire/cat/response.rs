//! TERMINAL RESPONSE data field (ETSI TS 102 223 §6.8, 3GPP TS 31.111 §6.8).
//!
//! A bare COMPREHENSION-TLV list, no template: command details (echoed byte for byte),
//! device identities (terminal → UICC), result, then the data the command asked for.
//!
//! Per-command data, and where each layout was checked:
//!
//! | command | objects after the result | checked against |
//! | --- | --- | --- |
//! | PROVIDE LOCAL INFORMATION | IMEI `14` (qualifier 01), IMEISV `62` (08), location information `13` (00), date-time `26` (03), language `2D` (04) | 02-cat.md §9 (tshark) for IMEI/IMEISV; AOSP `ResponseData` for date-time |
//! | POLL INTERVAL | duration `84` = the interval the terminal will actually use | oFono `unit/test-stkutil.c` `poll_interval_response_111a` (TS 31.124 vector): `… 83 01 00 84 02 00 01` |
//! | TIMER MANAGEMENT | timer identifier `A4`; plus timer value `A5` for deactivate / get current value | oFono `unit/test-stkutil.c` `timer_mgmt_response_111/112/114` (TS 102 384 vectors): start `… A4 01 01`, get value `… A4 01 01 A5 03 00 30 95` |
//! | SEND SHORT MESSAGE | none; on failure result `35` with the RP-cause as additional information | see [`TerminalResponse::sms_rp_error`] |
//!
//! [`ResponseData`] is keyed by the object found, not by the command: the applet checks
//! that the object matches what it asked for.

use super::codes::{DeviceId, GeneralResult};
use super::ies::{
    CommandDetails, CommandResult, Cursor, DataObject, DateTimeTimeZone, DeviceIdentities,
    Duration, ImeiIe, ImeisvIe, Language, LocationInformation, TimerIdentifier, TimerValue,
    opt_len, write_opt,
};
use crate::wire::tlv::{ComprehensionTlvIter, Writer};
use crate::wire::{Error, Result};

/// All byte values, so a one-byte additional-information field can be borrowed as
/// `&'static [u8]`.
static BYTE_VALUES: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = i as u8;
        i += 1;
    }
    t
};

impl CommandResult<'static> {
    /// Result with one additional-information byte (e.g. `20` + [`super::TerminalProblem`],
    /// `35` + RP-cause), CR set.
    pub fn with_cause(general: GeneralResult, cause: u8) -> Self {
        let i = usize::from(cause);
        CommandResult::with_additional(general, BYTE_VALUES.get(i..i + 1).unwrap_or(&[]))
    }
}

/// The command-specific objects after the result of a TERMINAL RESPONSE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseData<'a> {
    /// Nothing after the result.
    None,
    /// IMEI (PROVIDE LOCAL INFORMATION, qualifier `01`).
    Imei(ImeiIe),
    /// IMEISV (PROVIDE LOCAL INFORMATION, qualifier `08`).
    Imeisv(ImeisvIe),
    /// Location information (PROVIDE LOCAL INFORMATION, qualifier `00`).
    LocationInformation(LocationInformation),
    /// Date, time and time zone (PROVIDE LOCAL INFORMATION, qualifier `03`).
    DateTime(DateTimeTimeZone),
    /// Language (PROVIDE LOCAL INFORMATION, qualifier `04`).
    Language(Language),
    /// Duration (POLL INTERVAL: the interval the terminal will use).
    Duration(Duration),
    /// Timer identifier and, for deactivate / get current value, the timer value
    /// (TIMER MANAGEMENT).
    Timer {
        /// Timer identifier.
        id: TimerIdentifier,
        /// Remaining time.
        value: Option<TimerValue>,
    },
    /// Anything else, raw (a well-formed TLV list when parsed). Never empty when parsed.
    Raw(&'a [u8]),
}

impl<'a> ResponseData<'a> {
    /// Types the objects after the result; falls back to [`ResponseData::Raw`].
    fn parse(rest: &'a [u8]) -> Self {
        if rest.is_empty() {
            return ResponseData::None;
        }
        Self::parse_typed(rest).unwrap_or(ResponseData::Raw(rest))
    }

    fn parse_typed(rest: &'a [u8]) -> Result<Self> {
        let mut c = Cursor::new(rest);
        let data = if let Some(x) = c.take()? {
            ResponseData::Imei(x)
        } else if let Some(x) = c.take()? {
            ResponseData::Imeisv(x)
        } else if let Some(x) = c.take()? {
            ResponseData::LocationInformation(x)
        } else if let Some(x) = c.take()? {
            ResponseData::DateTime(x)
        } else if let Some(x) = c.take()? {
            ResponseData::Language(x)
        } else if let Some(x) = c.take()? {
            ResponseData::Duration(x)
        } else if let Some(id) = c.take()? {
            ResponseData::Timer {
                id,
                value: c.take()?,
            }
        } else {
            return Err(Error::Unsupported);
        };
        if !c.rest().is_empty() {
            return Err(Error::TrailingData);
        }
        Ok(data)
    }

    fn buffer_len(&self) -> usize {
        match self {
            ResponseData::None => 0,
            ResponseData::Imei(x) => x.buffer_len(),
            ResponseData::Imeisv(x) => x.buffer_len(),
            ResponseData::LocationInformation(x) => x.buffer_len(),
            ResponseData::DateTime(x) => x.buffer_len(),
            ResponseData::Language(x) => x.buffer_len(),
            ResponseData::Duration(x) => x.buffer_len(),
            ResponseData::Timer { id, value } => id.buffer_len() + opt_len(value),
            ResponseData::Raw(b) => b.len(),
        }
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<()> {
        match self {
            ResponseData::None => Ok(()),
            ResponseData::Imei(x) => x.write(w),
            ResponseData::Imeisv(x) => x.write(w),
            ResponseData::LocationInformation(x) => x.write(w),
            ResponseData::DateTime(x) => x.write(w),
            ResponseData::Language(x) => x.write(w),
            ResponseData::Duration(x) => x.write(w),
            ResponseData::Timer { id, value } => {
                id.write(w)?;
                write_opt(w, value)
            }
            ResponseData::Raw(b) => w.put_slice(b),
        }
    }
}

/// A TERMINAL RESPONSE data field (TS 102 223 §6.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TerminalResponse<'a> {
    /// Command details, echoed from the command (number, type, qualifier, CR).
    pub details: CommandDetails,
    /// Device identities (terminal → UICC). TS 102 223 §6.8 lists them; a response
    /// without them is still accepted (`None`).
    pub devices: Option<DeviceIdentities>,
    /// Result.
    pub result: CommandResult<'a>,
    /// Command-specific objects.
    pub data: ResponseData<'a>,
}

impl<'a> TerminalResponse<'a> {
    /// Response to the command with `details`, device identities `82 02 82 81`
    /// (02-cat.md §4/§9).
    pub const fn new(
        details: CommandDetails,
        result: CommandResult<'a>,
        data: ResponseData<'a>,
    ) -> Self {
        TerminalResponse {
            details,
            devices: Some(DeviceIdentities::new(DeviceId::TERMINAL, DeviceId::UICC)),
            result,
            data,
        }
    }

    /// "Command performed successfully" (`83 01 00`) with `data`.
    pub const fn success(details: CommandDetails, data: ResponseData<'a>) -> Self {
        Self::new(details, CommandResult::new(GeneralResult::SUCCESS), data)
    }

    /// SEND SHORT MESSAGE failed with an RP-ERROR from the network: result `35` and one
    /// additional-information byte, the RP-Cause value.
    ///
    /// **Decision (02-cat.md UNVERIFIED):** the additional information is the cause value
    /// octet of the RP-Cause element of the RP-ERROR (3GPP TS 24.011 §8.2.5.4, bit 8 = 0),
    /// e.g. `83 02 35 29` for cause 41 "temporary failure" as in 02-cat.md §9. This follows
    /// TS 31.111 §8.12 as recalled by the spec digest; no tool available here decodes it
    /// (tshark 4.0.17 shows the raw byte; pycrate 0.8.1 `TS31111_SAT` has no TERMINAL
    /// RESPONSE model; oFono's TS 31.124-derived test vectors contain no result `35`).
    /// A parser must therefore accept result `35` with zero or more additional bytes,
    /// which [`TerminalResponse::parse`] does.
    pub fn sms_rp_error(details: CommandDetails, rp_cause: u8) -> TerminalResponse<'static> {
        TerminalResponse::new(
            details,
            CommandResult::with_cause(GeneralResult::SMS_RP_ERROR, rp_cause),
            ResponseData::None,
        )
    }

    /// The RP-cause of a result `35` response (first additional-information byte).
    pub fn rp_cause(&self) -> Option<u8> {
        if self.result.general == GeneralResult::SMS_RP_ERROR {
            self.result.additional.first().copied()
        } else {
            None
        }
    }

    /// Parses a TERMINAL RESPONSE data field.
    ///
    /// Command details must come first and the result must follow (after optional device
    /// identities) — otherwise [`Error::BadTag`]; the list must be well formed.
    pub fn parse(buf: &'a [u8]) -> Result<Self> {
        ComprehensionTlvIter::validate(buf)?;
        let mut c = Cursor::new(buf);
        let details = c.require()?;
        let devices = c.take()?;
        let result = c.require()?;
        Ok(TerminalResponse {
            details,
            devices,
            result,
            data: ResponseData::parse(c.rest()),
        })
    }

    /// Encoded size.
    pub fn buffer_len(&self) -> usize {
        self.details.buffer_len()
            + opt_len(&self.devices)
            + self.result.buffer_len()
            + self.data.buffer_len()
    }

    /// Writes the data field into `buf`; returns the number of bytes written.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let mut w = Writer::new(buf);
        self.details.write(&mut w)?;
        write_opt(&mut w, &self.devices)?;
        self.result.write(&mut w)?;
        self.data.write(&mut w)?;
        Ok(w.finish())
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::super::codes::{CommandType, PliQualifier, ServiceState, TerminalProblem, TimeUnit};
    use super::super::command::{
        PollInterval, ProactiveCommand, ProvideLocalInformation, TimerManagement,
    };
    use super::*;
    use proptest::prelude::*;
    use std::vec::Vec;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s.replace(' ', "")).unwrap()
    }

    fn emit(r: &TerminalResponse<'_>) -> Vec<u8> {
        let mut out = [0u8; 300];
        let n = r.emit(&mut out).unwrap();
        assert_eq!(n, r.buffer_len());
        out[..n].to_vec()
    }

    fn check(bytes: &[u8], built: TerminalResponse<'_>) {
        let parsed = TerminalResponse::parse(bytes).unwrap();
        assert_eq!(emit(&parsed), bytes);
        assert_eq!(parsed, built);
        assert_eq!(emit(&built), bytes);
    }

    const PLI_IMEI: CommandDetails =
        CommandDetails::new(1, CommandType::PROVIDE_LOCAL_INFORMATION, 0x01);

    #[test]
    fn vectors_02_cat_section_9() {
        // Step 3: IMEI 490154203237518 (tshark gsm_a.imei).
        check(
            &h("81 03 01 26 01 82 02 82 81 83 01 00 14 08 4A 09 51 24 30 32 57 81"),
            TerminalResponse::success(
                PLI_IMEI,
                ResponseData::Imei(ImeiIe::new([
                    0x4A, 0x09, 0x51, 0x24, 0x30, 0x32, 0x57, 0x81,
                ])),
            ),
        );
        // IMEISV 4901542032375101 (tshark gsm_a.imeisv).
        let cmd = ProvideLocalInformation::new(1, PliQualifier::IMEISV);
        check(
            &h("81 03 01 26 08 82 02 82 81 83 01 00 62 09 43 09 51 24 30 32 57 01 F1"),
            TerminalResponse::success(
                cmd.details,
                ResponseData::Imeisv(ImeisvIe::new([
                    0x43, 0x09, 0x51, 0x24, 0x30, 0x32, 0x57, 0x01, 0xF1,
                ])),
            ),
        );
        // Step 5: SMS sent.
        let sm = CommandDetails::new(1, CommandType::SEND_SHORT_MESSAGE, 0);
        check(
            &h("81 03 01 13 00 82 02 82 81 83 01 00"),
            TerminalResponse::success(sm, ResponseData::None),
        );
        // Failure variant: 35 + RP-cause 41 (0x29).
        let b = h("81 03 01 13 00 82 02 82 81 83 02 35 29");
        check(&b, TerminalResponse::sms_rp_error(sm, 41));
        assert_eq!(TerminalResponse::parse(&b).unwrap().rp_cause(), Some(41));
    }

    #[test]
    fn vectors_ofono_conformance() {
        // oFono unit/test-stkutil.c poll_interval_response_111a (3GPP TS 31.124).
        let pi = ProactiveCommand::PollInterval(PollInterval::new(
            1,
            Duration::new(TimeUnit::SECONDS, 30),
        ));
        check(
            &h("81 03 01 03 00 82 02 82 81 83 01 00 84 02 00 01"),
            TerminalResponse::success(
                pi.details(),
                ResponseData::Duration(Duration::new(TimeUnit::MINUTES, 1)),
            ),
        );
        // timer_mgmt_response_111: start -> timer identifier only.
        let start = TimerManagement::start(1, 1, TimerValue::new(0, 30, 0));
        check(
            &h("81 03 01 27 00 82 02 82 81 83 01 00 A4 01 01"),
            TerminalResponse::success(
                start.details,
                ResponseData::Timer {
                    id: TimerIdentifier::new(1),
                    value: None,
                },
            ),
        );
        // timer_mgmt_response_112: get current value -> 00:03:59.
        let get = TimerManagement::get_current_value(1, 1);
        check(
            &h("81 03 01 27 02 82 02 82 81 83 01 00 A4 01 01 A5 03 00 30 95"),
            TerminalResponse::success(
                get.details,
                ResponseData::Timer {
                    id: TimerIdentifier::new(1),
                    value: Some(TimerValue::new(0, 3, 59)),
                },
            ),
        );
        // timer_mgmt_response_122: 23:58:58.
        let get2 = TimerManagement::get_current_value(1, 2);
        check(
            &h("81 03 01 27 02 82 02 82 81 83 01 00 A4 01 02 A5 03 32 85 85"),
            TerminalResponse::success(
                get2.details,
                ResponseData::Timer {
                    id: TimerIdentifier::new(2),
                    value: Some(TimerValue::new(23, 58, 58)),
                },
            ),
        );
        // timer_mgmt_response_114: deactivate -> 00:00:59.
        let de = TimerManagement::deactivate(1, 1);
        check(
            &h("81 03 01 27 01 82 02 82 81 83 01 00 A4 01 01 A5 03 00 00 95"),
            TerminalResponse::success(
                de.details,
                ResponseData::Timer {
                    id: TimerIdentifier::new(1),
                    value: Some(TimerValue::new(0, 0, 59)),
                },
            ),
        );
    }

    #[test]
    fn other_pli_answers_and_failures() {
        // Terminal unable, no service: 83 02 20 04 (TS 102 223 §8.12.2).
        let r = TerminalResponse::new(
            PLI_IMEI,
            CommandResult::with_cause(
                GeneralResult::TERMINAL_UNABLE,
                TerminalProblem::NO_SERVICE.0,
            ),
            ResponseData::None,
        );
        check(&h("81 03 01 26 01 82 02 82 81 83 02 20 04"), r);
        assert_eq!(r.rp_cause(), None);
        // Location information (qualifier 00), AOSP-style CR-clear device identities.
        let b = h("81 03 01 26 00 02 02 82 81 83 01 00 93 07 00 F1 10 00 01 00 02");
        let r = TerminalResponse::parse(&b).unwrap();
        assert!(!r.devices.unwrap().cr);
        assert_eq!(
            r.data,
            ResponseData::LocationInformation(LocationInformation::new([0, 0xF1, 0x10], 1, 2))
        );
        assert_eq!(emit(&r), b);
        // Language "en".
        let b = h("81 03 01 26 04 82 02 82 81 83 01 00 AD 02 65 6E");
        assert_eq!(
            TerminalResponse::parse(&b).unwrap().data,
            ResponseData::Language(Language::new(*b"en"))
        );
        // Date-time, AOSP writes A6 07 … (02-cat.md §8).
        let b = h("81 03 01 26 03 82 02 82 81 83 01 00 A6 07 62 11 72 31 54 90 40");
        let r = TerminalResponse::parse(&b).unwrap();
        assert!(matches!(r.data, ResponseData::DateTime(d) if d.year == 26 && d.cr));
        assert_eq!(emit(&r), b);
        // No device identities (accepted), and two objects -> Raw.
        let b = h("81 03 01 26 01 83 01 00 14 08 4A 09 51 24 30 32 57 81 9B 01 00");
        let r = TerminalResponse::parse(&b).unwrap();
        assert_eq!(r.devices, None);
        assert!(matches!(r.data, ResponseData::Raw(x) if x.len() == 13));
        assert_eq!(emit(&r), b);
        // Malformed IMEI length -> Raw, result still readable.
        let b = h("81 03 01 26 01 82 02 82 81 83 01 00 14 07 4A 09 51 24 30 32 57");
        let r = TerminalResponse::parse(&b).unwrap();
        assert!(matches!(r.data, ResponseData::Raw(_)));
        assert_eq!(r.result.general, GeneralResult::SUCCESS);
        let _ = ServiceState::NORMAL_SERVICE;
    }

    #[test]
    fn errors() {
        assert_eq!(
            TerminalResponse::parse(&h("82 02 82 81 83 01 00")),
            Err(Error::BadTag)
        );
        assert_eq!(
            TerminalResponse::parse(&h("81 03 01 26 01 82 02 82 81")),
            Err(Error::BadTag)
        );
        assert_eq!(
            TerminalResponse::parse(&h("81 03 01 26 01 82 02 82 81 83 00")),
            Err(Error::BadLength)
        );
        assert_eq!(
            TerminalResponse::parse(&h("81 03 01 26 01 82 02 82 81 83 01")),
            Err(Error::Truncated)
        );
        assert_eq!(TerminalResponse::parse(&[]), Err(Error::BadTag));
    }

    fn arb_data() -> impl Strategy<Value = ResponseData<'static>> {
        prop_oneof![
            Just(ResponseData::None),
            any::<[u8; 8]>().prop_map(|i| ResponseData::Imei(ImeiIe::new(i))),
            any::<[u8; 9]>().prop_map(|i| ResponseData::Imeisv(ImeisvIe::new(i))),
            (any::<[u8; 3]>(), any::<u16>(), any::<u16>()).prop_map(|(p, l, c)| {
                ResponseData::LocationInformation(LocationInformation::new(p, l, c))
            }),
            any::<[u8; 2]>().prop_map(|c| ResponseData::Language(Language::new(c))),
            (any::<u8>(), any::<u8>())
                .prop_map(|(u, i)| ResponseData::Duration(Duration::new(TimeUnit(u), i))),
            (
                any::<u8>(),
                proptest::option::of((0u8..24, 0u8..60, 0u8..60))
            )
                .prop_map(|(id, v)| ResponseData::Timer {
                    id: TimerIdentifier::new(id),
                    value: v.map(|(a, b, c)| TimerValue::new(a, b, c)),
                }),
            // An untyped object (event list 99) stays Raw.
            Just(ResponseData::Raw(&[0x99, 0x01, 0x03])),
        ]
    }

    proptest! {
        #[test]
        fn repr_round_trip(n in any::<u8>(), t in any::<u8>(), q in any::<u8>(), g in any::<u8>(),
                           cause in proptest::option::of(any::<u8>()), devs in any::<bool>(), data in arb_data()) {
            let details = CommandDetails::new(n, CommandType(t), q);
            let result = match cause {
                Some(c) => CommandResult::with_cause(GeneralResult(g), c),
                None => CommandResult::new(GeneralResult(g)),
            };
            let mut r = TerminalResponse::new(details, result, data);
            if !devs { r.devices = None; }
            let b = emit(&r);
            prop_assert_eq!(TerminalResponse::parse(&b).unwrap(), r);
        }

        #[test]
        fn random_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..100)) {
            if let Ok(r) = TerminalResponse::parse(&b) {
                prop_assert_eq!(emit(&r), b);
            }
        }

        #[test]
        fn prefixed_random_tail_re_emits(tail in proptest::collection::vec(any::<u8>(), 0..40)) {
            let mut b = h("81 03 01 26 01 82 02 82 81 83 01 00");
            b.extend_from_slice(&tail);
            if let Ok(r) = TerminalResponse::parse(&b) {
                prop_assert_eq!(emit(&r), b);
            }
        }
    }
}
