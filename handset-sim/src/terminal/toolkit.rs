//! Proactive-command handling: one fetched `D0` in, one TERMINAL RESPONSE out.
//!
//! Dispatch is on (type of command, qualifier) (`/work/shared/spec/02-cat.md` §8). The
//! response echoes the command-details object byte for byte (number, type, qualifier
//! and its CR bit), carries device identities terminal → UICC (`82 02 82 81`) and a
//! result. Result decisions (TS 102 223 §6.10, §8.12; digest `02-cat.md` §5):
//!
//! | situation | result |
//! | --- | --- |
//! | command done | `00` (`01` if it also carried objects without CR that the terminal ignored; `06` PLI location in limited service) |
//! | known command the handset profile does not announce, or a qualifier it does not implement | `30` beyond terminal's capabilities |
//! | a defined command type this terminal does not implement (REFRESH, SET UP CALL, …) | `30` |
//! | a type value TS 102 223 does not define (e.g. `7E`) | `31` command type not understood |
//! | malformed object, unknown object with CR set, bad TPDU, bad timer id | `32` command data not understood |
//! | mandatory object missing (no TPDU, no timer value for start, …) | `36` required values missing |
//! | PLI location / SEND SHORT MESSAGE without network service | `20` + `04` no service |
//! | timer not running for deactivate / get value | `24` contradiction with timer state |
//! | MO SMS: network unable / RP-ERROR | `21` (+ cause) / `35` + RP-cause |
//!
//! A `D0` that cannot be parsed at all but whose command-details object can still be
//! read gets `32`; without readable command details there is nothing to echo, and the
//! terminal ends the proactive session with an error instead.

use applet::wire::cat::{
    Capability, CommandDetails, CommandResult, CommandType, DateTimeTimeZone, Duration, Event,
    GeneralResult, ImeiIe, ImeisvIe, Language, LocationInformation, PliQualifier, ProactiveCommand,
    ResponseData, ServiceState, TerminalProblem, TerminalResponse, TimerAction, TimerIdentifier,
    TimerValue,
};
use applet::wire::sms::dcs::{Alphabet, DataCodingScheme};
use applet::wire::sms::tpdu::{SmsSubmit, UserData, UserDataBody};
use applet::wire::tlv::{BerTag, ComprehensionTlv, ComprehensionTlvIter, Tag, parse_length};

use super::log::SessionEvent;
use super::network::{MoOutcome, NetworkLink, ServiceCentre};
use super::{Terminal, TimerState};
use crate::reader::CardReader;

/// Type-of-command values defined by TS 102 223 §9.4 that this terminal knows about
/// but does not implement: answered `30`. Values outside this list and outside the
/// implemented set get `31`. (List from `02-cat.md` §3 plus PLAY TONE `20` and
/// LANGUAGE NOTIFICATION `35`; the further TS 102 223 values for card readers,
/// service search, frames, MMS and contactless were not checked — UNVERIFIED.)
const DEFINED_UNSUPPORTED: &[u8] = &[
    0x01, 0x04, 0x10, 0x11, 0x12, 0x14, 0x15, 0x20, 0x22, 0x23, 0x24, 0x25, 0x28, 0x35, 0x40, 0x41,
    0x42, 0x43, 0x44, 0x81,
];

/// The outcome of handling one fetched command.
pub(crate) enum Handled {
    /// Send this TERMINAL RESPONSE data field.
    Respond(Vec<u8>),
    /// Nothing can be echoed; end the session with this message.
    Unanswerable(String),
}

struct Answer<'a> {
    result: CommandResult<'a>,
    data: ResponseData<'a>,
}

impl<'a> Answer<'a> {
    fn ok(data: ResponseData<'a>) -> Self {
        Answer {
            result: CommandResult::new(GeneralResult::SUCCESS),
            data,
        }
    }
    fn result(general: GeneralResult) -> Self {
        Answer {
            result: CommandResult::new(general),
            data: ResponseData::None,
        }
    }
    fn with_cause(general: GeneralResult, cause: u8) -> Self {
        Answer {
            result: CommandResult::with_cause(general, cause),
            data: ResponseData::None,
        }
    }
    fn no_service() -> Self {
        Self::with_cause(
            GeneralResult::TERMINAL_UNABLE,
            TerminalProblem::NO_SERVICE.0,
        )
    }
}

fn emit_response(details: CommandDetails, answer: &Answer<'_>) -> Vec<u8> {
    let tr = TerminalResponse::new(details, answer.result, answer.data);
    let mut buf = vec![0u8; tr.buffer_len()];
    match tr.emit(&mut buf) {
        Ok(n) => buf.truncate(n),
        // Cannot happen with a buffer of buffer_len(); fall back to the bare result.
        Err(_) => buf.clear(),
    }
    buf
}

/// Reads the command-details object of a `D0` that failed to parse as a whole.
fn recover_details(raw: &[u8]) -> Option<CommandDetails> {
    let (&tag, rest) = raw.split_first()?;
    if BerTag(tag) != BerTag::PROACTIVE_COMMAND {
        return None;
    }
    let (_, hdr) = parse_length(rest).ok()?;
    let value = rest.get(hdr..)?;
    let (tlv, _) = ComprehensionTlv::parse_prefix(value).ok()?;
    if tlv.tag.tag != Tag::COMMAND_DETAILS {
        return None;
    }
    let [number, kind, qualifier] = <[u8; 3]>::try_from(tlv.value).ok()?;
    Some(CommandDetails {
        cr: tlv.tag.cr,
        number,
        kind: CommandType(kind),
        qualifier,
    })
}

/// Objects a typed command did not consume: `Err(())` if one of them has CR set (the
/// terminal must not perform the command), `Ok(true)` if some were ignored.
fn check_extra(extra: &[u8]) -> Result<bool, ()> {
    let mut any = false;
    for tlv in ComprehensionTlvIter::new(extra) {
        match tlv {
            Ok(t) if t.tag.cr => return Err(()),
            Ok(_) => any = true,
            Err(_) => return Err(()),
        }
    }
    Ok(any)
}

/// Mandatory objects (after command details) per implemented type, TS 102 223 §6.6.
fn mandatory_tags(kind: CommandType) -> &'static [Tag] {
    match kind {
        CommandType::SEND_SHORT_MESSAGE => &[Tag::DEVICE_IDENTITIES, Tag::SMS_TPDU],
        CommandType::SET_UP_EVENT_LIST => &[Tag::DEVICE_IDENTITIES, Tag::EVENT_LIST],
        CommandType::TIMER_MANAGEMENT => &[Tag::DEVICE_IDENTITIES, Tag::TIMER_IDENTIFIER],
        CommandType::DISPLAY_TEXT => &[Tag::DEVICE_IDENTITIES, Tag::TEXT_STRING],
        CommandType::POLL_INTERVAL => &[Tag::DEVICE_IDENTITIES, Tag::DURATION],
        _ => &[Tag::DEVICE_IDENTITIES],
    }
}

fn implemented(kind: CommandType) -> bool {
    matches!(
        kind,
        CommandType::PROVIDE_LOCAL_INFORMATION
            | CommandType::SEND_SHORT_MESSAGE
            | CommandType::SET_UP_EVENT_LIST
            | CommandType::TIMER_MANAGEMENT
            | CommandType::DISPLAY_TEXT
            | CommandType::MORE_TIME
            | CommandType::POLL_INTERVAL
    )
}

/// Packs the 8-bit user data of an SMS-SUBMIT into GSM 7-bit (SEND SHORT MESSAGE with
/// qualifier bit 1, TS 102 223 §6.4.10). `None` if the TPDU cannot be packed (header
/// present, a byte above `7F`, not 8-bit data).
fn pack_submit(sub: &SmsSubmit<'_>) -> Option<Vec<u8>> {
    if sub.dcs.alphabet() != Alphabet::Eight || sub.user_data.header.is_some() {
        return None;
    }
    let data = sub.user_data.data()?;
    if data.iter().any(|&b| b > 0x7F) {
        return None;
    }
    let mut packed = vec![0u8; applet::wire::sms::gsm7::packed_len(data.len(), 0)];
    let n = applet::wire::sms::gsm7::pack_septets(data, 0, &mut packed).ok()?;
    packed.truncate(n);
    // Same coding group, alphabet bits cleared: 00xx/01xx bits 3..2, 1111 bit 2.
    let dcs = if sub.dcs.0 & 0x80 == 0 {
        DataCodingScheme(sub.dcs.0 & !0x0C)
    } else {
        DataCodingScheme(sub.dcs.0 & !0x04)
    };
    let packed_sub = SmsSubmit {
        dcs,
        user_data: UserData {
            header: None,
            body: UserDataBody::Septets {
                count: u8::try_from(data.len()).ok()?,
                packed: &packed,
            },
        },
        ..*sub
    };
    let mut out = vec![0u8; packed_sub.buffer_len()];
    let n = packed_sub.emit(&mut out).ok()?;
    out.truncate(n);
    Some(out)
}

impl<R: CardReader, N: NetworkLink> Terminal<R, N> {
    /// Handles one fetched command (already logged).
    pub(crate) fn handle_command(&mut self, raw: &[u8]) -> Handled {
        let cmd = match ProactiveCommand::parse(raw) {
            Ok(c) => c,
            Err(e) => {
                return match recover_details(raw) {
                    Some(d) => {
                        self.record(SessionEvent::Error {
                            message: format!(
                                "malformed proactive command ({e}); answering 32 command data not understood"
                            ),
                        });
                        Handled::Respond(emit_response(
                            d,
                            &Answer::result(GeneralResult::DATA_NOT_UNDERSTOOD),
                        ))
                    }
                    None => Handled::Unanswerable(format!(
                        "proactive command without readable command details ({e})"
                    )),
                };
            }
        };
        let details = cmd.details();
        let answer = self.dispatch(&cmd);
        Handled::Respond(emit_response(details, &answer))
    }

    fn supports(&self, cap: Capability) -> bool {
        self.handset.terminal_profile.supports(cap)
    }

    fn gate(&self, cap: Capability) -> Result<(), Answer<'static>> {
        if self.supports(cap) {
            Ok(())
        } else {
            Err(Answer::result(GeneralResult::BEYOND_TERMINAL_CAPABILITIES))
        }
    }

    fn dispatch(&mut self, cmd: &ProactiveCommand<'_>) -> Answer<'static> {
        let kind = cmd.details().kind;
        let extra = match cmd {
            ProactiveCommand::ProvideLocalInformation(c) => c.extra,
            ProactiveCommand::SendShortMessage(c) => c.extra,
            ProactiveCommand::SetUpEventList(c) => c.extra,
            ProactiveCommand::TimerManagement(c) => c.extra,
            ProactiveCommand::DisplayText(c) => c.extra,
            ProactiveCommand::MoreTime(c) => c.extra,
            ProactiveCommand::PollInterval(c) => c.extra,
            ProactiveCommand::Opaque(o) => {
                return if implemented(kind) {
                    self.malformed_known(kind, o.rest)
                } else if DEFINED_UNSUPPORTED.contains(&kind.0) {
                    Answer::result(GeneralResult::BEYOND_TERMINAL_CAPABILITIES)
                } else {
                    Answer::result(GeneralResult::TYPE_NOT_UNDERSTOOD)
                };
            }
        };
        let ignored = match check_extra(extra) {
            Ok(i) => i,
            Err(()) => return Answer::result(GeneralResult::DATA_NOT_UNDERSTOOD),
        };
        let answer = match cmd {
            ProactiveCommand::ProvideLocalInformation(c) => {
                self.provide_local_information(c.qualifier())
            }
            ProactiveCommand::SendShortMessage(c) => self.send_short_message(c),
            ProactiveCommand::SetUpEventList(c) => self.set_up_event_list(c.events.iter()),
            ProactiveCommand::TimerManagement(c) => {
                self.timer_management(c.action(), c.timer_id, c.value)
            }
            ProactiveCommand::DisplayText(c) => match self.gate(Capability::DISPLAY_TEXT) {
                Err(a) => a,
                Ok(()) => {
                    let text = super::describe::text(&c.text);
                    self.record(SessionEvent::DisplayText { text });
                    Answer::ok(ResponseData::None)
                }
            },
            ProactiveCommand::MoreTime(_) => match self.gate(Capability::MORE_TIME) {
                Err(a) => a,
                Ok(()) => Answer::ok(ResponseData::None),
            },
            ProactiveCommand::PollInterval(c) => self.poll_interval(c.interval),
            ProactiveCommand::Opaque(_) => Answer::result(GeneralResult::TYPE_NOT_UNDERSTOOD),
        };
        if ignored && answer.result.general == GeneralResult::SUCCESS {
            Answer {
                result: CommandResult::new(GeneralResult::PARTIAL_COMPREHENSION),
                data: answer.data,
            }
        } else {
            answer
        }
    }

    /// An implemented command type whose objects did not parse: `36` when a mandatory
    /// object is absent, `32` otherwise.
    fn malformed_known(&self, kind: CommandType, rest: &[u8]) -> Answer<'static> {
        let present: Vec<Tag> = ComprehensionTlvIter::new(rest)
            .filter_map(|t| t.ok().map(|t| t.tag.tag))
            .collect();
        if mandatory_tags(kind).iter().any(|t| !present.contains(t)) {
            Answer::result(GeneralResult::REQUIRED_VALUES_MISSING)
        } else {
            Answer::result(GeneralResult::DATA_NOT_UNDERSTOOD)
        }
    }

    fn provide_local_information(&mut self, q: PliQualifier) -> Answer<'static> {
        let cap = match q {
            PliQualifier::LOCATION_INFORMATION | PliQualifier::IMEI => {
                Capability::PROVIDE_LOCAL_INFORMATION
            }
            PliQualifier::DATE_TIME_TIME_ZONE => Capability::PLI_DATE_TIME_TIME_ZONE,
            PliQualifier::LANGUAGE => Capability::PLI_LANGUAGE,
            PliQualifier::IMEISV => Capability::PLI_IMEISV,
            _ => return Answer::result(GeneralResult::BEYOND_TERMINAL_CAPABILITIES),
        };
        if let Err(a) = self.gate(cap) {
            return a;
        }
        match q {
            PliQualifier::LOCATION_INFORMATION => match self.network.location() {
                None => Answer::no_service(),
                Some(l) => {
                    let info = LocationInformation::new(l.plmn.to_bytes(), l.lac, l.cell_id);
                    let mut a = Answer::ok(ResponseData::LocationInformation(info));
                    if l.service == ServiceState::LIMITED_SERVICE {
                        a.result = CommandResult::new(GeneralResult::SUCCESS_LIMITED_SERVICE);
                    }
                    a
                }
            },
            PliQualifier::IMEI => {
                let mut id = [0u8; 8];
                match self.handset.imei.emit(&mut id) {
                    Ok(_) => Answer::ok(ResponseData::Imei(ImeiIe::new(id))),
                    Err(_) => Answer::with_cause(GeneralResult::TERMINAL_UNABLE, 0),
                }
            }
            PliQualifier::IMEISV => {
                let mut id = [0u8; 9];
                match self.handset.imeisv.emit(&mut id) {
                    Ok(_) => Answer::ok(ResponseData::Imeisv(ImeisvIe::new(id))),
                    Err(_) => Answer::with_cause(GeneralResult::TERMINAL_UNABLE, 0),
                }
            }
            PliQualifier::DATE_TIME_TIME_ZONE => {
                let t = self.network.date_time(self.now_ms);
                // CR set, as AOSP writes it (`A6 07 …`, 02-cat.md §8).
                Answer::ok(ResponseData::DateTime(DateTimeTimeZone {
                    cr: true,
                    year: (t.year % 100) as u8,
                    month: t.month,
                    day: t.day,
                    hour: t.hour,
                    minute: t.minute,
                    second: t.second,
                    time_zone: t.time_zone_byte(),
                }))
            }
            PliQualifier::LANGUAGE => {
                Answer::ok(ResponseData::Language(Language::new(self.handset.language)))
            }
            _ => Answer::result(GeneralResult::BEYOND_TERMINAL_CAPABILITIES),
        }
    }

    fn send_short_message(
        &mut self,
        c: &applet::wire::cat::SendShortMessage<'_>,
    ) -> Answer<'static> {
        if let Err(a) = self.gate(Capability::SEND_SHORT_MESSAGE) {
            return a;
        }
        let sub = match SmsSubmit::parse(c.tpdu.tpdu) {
            Ok(s) => s,
            Err(e) => {
                self.record(SessionEvent::Error {
                    message: format!("SEND SHORT MESSAGE: TPDU is not an SMS-SUBMIT ({e})"),
                });
                return Answer::result(GeneralResult::DATA_NOT_UNDERSTOOD);
            }
        };
        let tpdu = if c.packing_required() {
            match pack_submit(&sub) {
                Some(p) => p,
                None if sub.dcs.alphabet() == Alphabet::Gsm7 => c.tpdu.tpdu.to_vec(),
                None => return Answer::result(GeneralResult::DATA_NOT_UNDERSTOOD),
            }
        } else {
            c.tpdu.tpdu.to_vec()
        };
        if self.network.location().is_none() {
            self.record(SessionEvent::Error {
                message: "SEND SHORT MESSAGE: no network service".into(),
            });
            return Answer::no_service();
        }
        let smsc = c
            .address
            .map(|a| ServiceCentre::from_bcd(a.ton_npi, a.digits));
        let outcome = self.network.send_mo_sms(smsc.as_ref(), &tpdu, self.now_ms);
        self.record(SessionEvent::MoSms {
            smsc,
            tpdu,
            outcome,
        });
        match outcome {
            MoOutcome::Sent { .. } => Answer::ok(ResponseData::None),
            MoOutcome::NetworkUnable { cause: None } => {
                Answer::result(GeneralResult::NETWORK_UNABLE)
            }
            MoOutcome::NetworkUnable { cause: Some(c) } => {
                Answer::with_cause(GeneralResult::NETWORK_UNABLE, c)
            }
            MoOutcome::RpError { cause } => Answer::with_cause(GeneralResult::SMS_RP_ERROR, cause),
        }
    }

    fn set_up_event_list(&mut self, events: impl Iterator<Item = Event>) -> Answer<'static> {
        if let Err(a) = self.gate(Capability::SET_UP_EVENT_LIST) {
            return a;
        }
        let events: Vec<Event> = events.collect();
        let supported = |e: &Event| {
            *e == Event::LOCATION_STATUS && self.supports(Capability::EVENT_LOCATION_STATUS)
        };
        if !events.iter().all(supported) {
            return Answer::result(GeneralResult::BEYOND_TERMINAL_CAPABILITIES);
        }
        self.events = events;
        Answer::ok(ResponseData::None)
    }

    fn timer_management(
        &mut self,
        action: TimerAction,
        id: TimerIdentifier,
        value: Option<TimerValue>,
    ) -> Answer<'static> {
        let cap = match action {
            TimerAction::START | TimerAction::DEACTIVATE => Capability::TIMER_MANAGEMENT_START_STOP,
            TimerAction::GET_CURRENT_VALUE => Capability::TIMER_MANAGEMENT_GET_CURRENT_VALUE,
            _ => return Answer::result(GeneralResult::DATA_NOT_UNDERSTOOD),
        };
        if let Err(a) = self.gate(cap) {
            return a;
        }
        let Some(slot) = usize::from(id.id)
            .checked_sub(1)
            .filter(|&i| i < self.timers.len())
        else {
            return Answer::result(GeneralResult::DATA_NOT_UNDERSTOOD);
        };
        let reply_id = TimerIdentifier::new(id.id);
        if action == TimerAction::START {
            let Some(v) = value else {
                return Answer::result(GeneralResult::REQUIRED_VALUES_MISSING);
            };
            let ms = u64::from(v.as_secs()) * 1000;
            self.timers[slot] = Some(TimerState {
                started_ms: self.now_ms,
                expires_ms: self.now_ms + ms,
            });
            return Answer::ok(ResponseData::Timer {
                id: reply_id,
                value: None,
            });
        }
        let Some(t) = self.timers[slot] else {
            return Answer::result(GeneralResult::TIMER_STATE_CONTRADICTION);
        };
        let remaining_s = t.expires_ms.saturating_sub(self.now_ms) / 1000;
        let remaining = TimerValue::from_secs(remaining_s.min(24 * 3600 - 1) as u32)
            .unwrap_or(TimerValue::new(23, 59, 59));
        if action == TimerAction::DEACTIVATE {
            self.timers[slot] = None;
        }
        Answer::ok(ResponseData::Timer {
            id: reply_id,
            value: Some(remaining),
        })
    }

    fn poll_interval(&mut self, d: Duration) -> Answer<'static> {
        if let Err(a) = self.gate(Capability::POLL_INTERVAL) {
            return a;
        }
        match d.as_tenths() {
            Some(t) if t > 0 => {
                self.poll_interval_ms = Some(u64::from(t) * 100);
                Answer::ok(ResponseData::Duration(Duration::new(d.unit, d.interval)))
            }
            _ => Answer::result(GeneralResult::DATA_NOT_UNDERSTOOD),
        }
    }
}
