//! Issue 2: an independent decoder (Wireshark's `tshark`) reads back every kind of
//! exchange the project emits.
//!
//! Every message is built with the project's typed constructors, wrapped in the T=0
//! exchange form `CLA INS P1 P2 P3 ‖ data ‖ SW1 SW2` ([`Tpdu`] + [`ApduExchange`]) and
//! written as GSMTAP-SIM records of one pcap file (`/work/shared/spec/08-gsmtap-pcap.md`).
//! tshark then has to report, frame by frame, the values we put in — every expected value
//! below is derived from the Rust value that was emitted, never copied from tshark output —
//! and no frame may be malformed or carry an expert warning.
//!
//! A negative control proves the malformed check can fail: a FETCH whose `D0` length
//! claims more bytes than follow must be flagged.
//!
//! tshark missing: skip on a developer machine, failure under `CI=true`
//! ([`imeitrack_tests::require_tool`]). The capture is also copied to
//! `target/tshark-gsmtap/` for debugging.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use applet::wire::Result as WireResult;
use applet::wire::apdu::{Cla, Command, Ins, StatusWord, Tpdu};
use applet::wire::bcd::{DigitSet, Digits, EfIccid, EfImsi};
use applet::wire::cat::{
    self, AlphaIdentifier, Capability, CommandResult, DateTimeTimeZone, DisplayText, Duration,
    Envelope, Event, EventDownload, GeneralResult, ImeiIe, ImeisvIe, Language, LocationInformation,
    MoreTime, PliQualifier, PollInterval, ProactiveCommand, ProvideLocalInformation, ResponseData,
    SendShortMessage, ServiceState, SetUpEventList, SmsPpDownload, TerminalProblem,
    TerminalProfile, TerminalResponse, TextString, TimeUnit, TimerExpiration, TimerIdentifier,
    TimerManagement, TimerValue,
};
use applet::wire::gsmtap::{
    ApduExchange, GsmtapHeader, GsmtapRecord, PcapFormat, PcapHeader, SimSubType,
};
use applet::wire::imei::{Imei, Imeisv, TacSnr};
use applet::wire::registration::{EventKind, KeyId, RegistrationRepr};
use applet::wire::sms::{
    self, AddressValue, DataCodingScheme, InformationElement, ProtocolIdentifier, SmsDeliver,
    SmsSubmit, TimeZone, Timestamp, UserData, UserDataHeader,
};
use applet::wire::tlv::BerTag;
use imeitrack_tests::{require_tool, tshark};

/// What tshark must print for one field of one frame.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Want {
    /// Exactly one occurrence, with this numeric value (hex, decimal or boolean output).
    Num(u64),
    /// The whole cell (string fields).
    Str(String),
    /// The field does not occur.
    Absent,
    /// One of the `,`-separated occurrences equals this string (raw-bytes fields).
    Has(String),
}

pub(crate) fn num(v: impl Into<u64>) -> Want {
    Want::Num(v.into())
}

pub(crate) fn text(s: impl Into<String>) -> Want {
    Want::Str(s.into())
}

pub(crate) type Wants = Vec<(&'static str, Want)>;

/// One exchange of the trace.
struct Step {
    what: String,
    cla: Cla,
    ins: Ins,
    command_data: Vec<u8>,
    response_data: Vec<u8>,
    want: Wants,
}

/// Emits `value` through `emit` into an exactly sized buffer.
pub(crate) fn emitted(len: usize, emit: impl FnOnce(&mut [u8]) -> WireResult<usize>) -> Vec<u8> {
    let mut buf = vec![0u8; len];
    let n = emit(&mut buf).expect("emit");
    assert_eq!(n, len, "emit wrote a different length than buffer_len");
    buf
}

pub(crate) fn hex_of(b: &[u8]) -> String {
    hex::encode(b)
}

/// Wants shared by every TERMINAL RESPONSE: the echoed command details, devices, result.
fn response_wants(r: &TerminalResponse<'_>) -> Wants {
    let mut w = vec![
        ("gsm_sim.apdu.ins", num(Ins::TERMINAL_RESPONSE.0)),
        ("gsm_sim.cat.ber_tlv_tag", Want::Absent),
        ("etsi_cat.comp_tlv.cmd_nr", num(r.details.number)),
        ("etsi_cat.comp_tlv.cmd_type", num(r.details.kind.0)),
        ("etsi_cat.comp_tlv.result", num(r.result.general.0)),
    ];
    if let Some(d) = r.devices {
        w.push(("etsi_cat.comp_tlv.src_dev", num(d.source.0)));
        w.push(("etsi_cat.comp_tlv.dst_dev", num(d.destination.0)));
    }
    // The raw value of the result object: general result ‖ additional information.
    let mut result = vec![r.result.general.0];
    result.extend_from_slice(r.result.additional);
    w.push(("etsi_cat.comp_tlv", Want::Has(hex_of(&result))));
    w
}

#[derive(Default)]
struct Trace {
    steps: Vec<Step>,
}

impl Trace {
    fn push(&mut self, what: &str, cla: Cla, ins: Ins, cmd: Vec<u8>, rsp: Vec<u8>, want: Wants) {
        self.steps.push(Step {
            what: what.to_owned(),
            cla,
            ins,
            command_data: cmd,
            response_data: rsp,
            want,
        });
    }

    fn terminal_profile(
        &mut self,
        cla: Cla,
        p: &TerminalProfile,
        named: &[(Capability, &'static str)],
    ) {
        let data = emitted(p.buffer_len(), |b| p.emit(b));
        assert_eq!(
            TerminalProfile::parse(&data).expect("parse").as_bytes(),
            p.as_bytes()
        );
        let mut want = vec![("gsm_sim.apdu.ins", num(Ins::TERMINAL_PROFILE.0))];
        for n in 1..=p.len() {
            let field: &'static str = Box::leak(format!("gsm_sim.tp.b{n}").into_boxed_str());
            want.push((field, num(p.byte(n))));
        }
        for &(cap, field) in named {
            let w = if usize::from(cap.byte) <= p.len() {
                num(u8::from(p.supports(cap)))
            } else {
                Want::Absent
            };
            want.push((field, w));
        }
        self.push(
            "TERMINAL PROFILE",
            cla,
            Ins::TERMINAL_PROFILE,
            data,
            vec![],
            want,
        );
    }

    fn fetch(&mut self, what: &str, cla: Cla, cmd: &ProactiveCommand<'_>, extra: Wants) {
        let data = emitted(cmd.buffer_len(), |b| cmd.emit(b));
        assert_eq!(&ProactiveCommand::parse(&data).expect("own parse"), cmd);
        let d = cmd.details();
        let mut want = vec![
            ("gsm_sim.apdu.ins", num(Ins::FETCH.0)),
            ("gsm_sim.cat.ber_tlv_tag", num(BerTag::PROACTIVE_COMMAND.0)),
            ("etsi_cat.comp_tlv.cmd_nr", num(d.number)),
            ("etsi_cat.comp_tlv.cmd_type", num(d.kind.0)),
        ];
        if let Some(dev) = cmd.devices() {
            want.push(("etsi_cat.comp_tlv.src_dev", num(dev.source.0)));
            want.push(("etsi_cat.comp_tlv.dst_dev", num(dev.destination.0)));
        }
        want.extend(extra);
        self.push(
            &format!("FETCH {what}"),
            cla,
            Ins::FETCH,
            vec![],
            data,
            want,
        );
    }

    fn terminal_response(&mut self, what: &str, cla: Cla, r: &TerminalResponse<'_>, extra: Wants) {
        let data = emitted(r.buffer_len(), |b| r.emit(b));
        assert_eq!(&TerminalResponse::parse(&data).expect("own parse"), r);
        let mut want = response_wants(r);
        want.extend(extra);
        self.push(
            &format!("TERMINAL RESPONSE {what}"),
            cla,
            Ins::TERMINAL_RESPONSE,
            data,
            vec![],
            want,
        );
    }

    fn envelope(&mut self, what: &str, cla: Cla, e: &Envelope<'_>, extra: Wants) {
        let data = emitted(e.buffer_len(), |b| e.emit(b));
        assert_eq!(&Envelope::parse(&data).expect("own parse"), e);
        let mut want = vec![
            ("gsm_sim.apdu.ins", num(Ins::ENVELOPE.0)),
            ("gsm_sim.cat.ber_tlv_tag", num(e.tag().0)),
        ];
        want.extend(extra);
        self.push(
            &format!("ENVELOPE {what}"),
            cla,
            Ins::ENVELOPE,
            data,
            vec![],
            want,
        );
    }

    /// The GSMTAP payloads (T=0 exchanges) and the full expectations per frame. The status
    /// word of a TERMINAL PROFILE / TERMINAL RESPONSE / ENVELOPE announces the next FETCH
    /// (`91 xx`) when one follows, else `90 00`; FETCH answers `90 00`.
    fn exchanges(&self) -> Vec<(String, Vec<u8>, Wants)> {
        let mut out = Vec::new();
        for (i, s) in self.steps.iter().enumerate() {
            let sw = match self.steps.get(i + 1) {
                Some(next) if s.ins != Ins::FETCH && next.ins == Ins::FETCH => {
                    let len = u8::try_from(next.response_data.len()).expect("short FETCH");
                    StatusWord::proactive_pending(len)
                }
                _ => StatusWord::OK,
            };
            let command = if s.response_data.is_empty() {
                Command::new(s.cla, s.ins, 0, 0, &s.command_data, None)
            } else {
                let ne = u32::try_from(s.response_data.len()).expect("len");
                Command::new(s.cla, s.ins, 0, 0, &[], Some(ne))
            };
            let tpdu = Tpdu::from_command(&command).expect("T=0 mapping");
            let header_and_data = emitted(tpdu.buffer_len(), |b| tpdu.emit(b));
            let header: [u8; 5] = header_and_data[..5].try_into().expect("5-byte header");
            let body: &[u8] = if s.response_data.is_empty() {
                &header_and_data[5..]
            } else {
                &s.response_data
            };
            let x = ApduExchange {
                header,
                data: body,
                sw: sw.to_bytes(),
            };
            let payload = emitted(x.buffer_len(), |b| x.emit(b));
            let mut want = s.want.clone();
            want.push(("gsm_sim.apdu.sw", num(u16::from(sw))));
            if s.ins == Ins::FETCH {
                want.push(("gsm_sim.le", num(tpdu.p3)));
            }
            out.push((s.what.clone(), payload, want));
        }
        out
    }
}

/// A classic pcap (Ethernet, LE, µs) with one GSMTAP-SIM APDU record per payload.
pub(crate) fn pcap_of(payloads: &[&[u8]]) -> Vec<u8> {
    let header = PcapHeader::ETHERNET_LE_MICROS;
    let mut file = emitted(header.buffer_len(), |b| header.emit(b));
    for (i, p) in payloads.iter().enumerate() {
        let rec = GsmtapRecord {
            ts_sec: 1_764_000_000 + u32::try_from(i).expect("few frames"),
            ts_frac: 0,
            header: GsmtapHeader::sim(SimSubType::APDU),
            payload: p,
        };
        file.extend(emitted(rec.buffer_len(), |b| {
            rec.emit(PcapFormat::LE_MICROS, b)
        }));
    }
    file
}

/// Writes `bytes` into the temp dir (returned path) and a debugging copy under target/.
pub(crate) fn write_capture(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write pcap");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
        .join("tshark-gsmtap");
    if std::fs::create_dir_all(&target).is_ok() {
        let _ = std::fs::write(target.join(name), bytes);
    }
    path
}

/// A two-digit value as the semi-octet byte that carries it — units in the high nibble —
/// which is how tshark 4.0 prints CAT timer values (TS 102 223 §8.38) and date-time
/// fields (§8.39, coded like the TP-SCTS of TS 23.040 §9.2.3.11): the raw byte, in hex.
pub(crate) fn semi_octet(v: u8) -> u8 {
    ((v % 10) << 4) | (v / 10)
}

/// Digits of an SMS address as tshark prints TP-DA / TP-OA (no `+`).
fn address_digits(a: &sms::Address) -> String {
    match &a.value {
        AddressValue::Digits(d) => d.to_string(),
        AddressValue::Alphanumeric(_) => panic!("numeric address expected"),
    }
}

/// tshark field names of the TERMINAL PROFILE bits we set (tshark 4.0 `-G fields`).
const PROFILE_FIELDS: [(Capability, &str); 19] = [
    (Capability::PROFILE_DOWNLOAD, "gsm_sim.tp.prof_dld"),
    (Capability::SMS_PP_DATA_DOWNLOAD, "gsm_sim.tp.sms_data_dld"),
    (Capability::TIMER_EXPIRATION, "gsm_sim.tp.timer_exp"),
    (Capability::COMMAND_RESULT, "gsm_sim.tp.cmd_res"),
    (Capability::DISPLAY_TEXT, "gsm_sim.tp.pa.display_text"),
    (Capability::MORE_TIME, "gsm_sim.tp.pa.more_time"),
    (Capability::POLL_INTERVAL, "gsm_sim.tp.pa.poll_intv"),
    (Capability::POLLING_OFF, "gsm_sim.tp.pa.polling_off"),
    (Capability::REFRESH, "gsm_sim.tp.pa.refresh"),
    (Capability::SEND_SHORT_MESSAGE, "gsm_sim.tp.pa.send_sms"),
    (
        Capability::PROVIDE_LOCAL_INFORMATION,
        "gsm_sim.tp.pa.prov_loci",
    ),
    (
        Capability::SET_UP_EVENT_LIST,
        "gsm_sim.tp.pa.set_up_evt_list",
    ),
    (
        Capability::EVENT_LOCATION_STATUS,
        "gsm_sim.tp.evt.loc_status",
    ),
    (
        Capability::TIMER_MANAGEMENT_START_STOP,
        "gsm_sim.tp.pa.timer_start_stop",
    ),
    (
        Capability::TIMER_MANAGEMENT_GET_CURRENT_VALUE,
        "gsm_sim.tp.pa.timer_get_current",
    ),
    (
        Capability::PLI_DATE_TIME_TIME_ZONE,
        "gsm_sim.tp.pa.prov_loci_date",
    ),
    (Capability::PLI_LANGUAGE, "gsm_sim.tp.pa.prov_loci_lang"),
    (Capability::OPEN_CHANNEL, "gsm_sim.tp.pa.open_chan"),
    (Capability::PLI_IMEISV, "gsm_sim.tp.pa.prov_loci_imeisv"),
];

/// Test identities.
struct Ids {
    imei: Imei,
    imeisv: Imeisv,
    imei_id: [u8; 8],
    imeisv_id: [u8; 9],
    previous_imei_id: [u8; 8],
}

fn ids() -> Ids {
    let tac_snr: TacSnr = "35209900176148".parse().expect("TAC+SNR");
    let imei = Imei::with_check_digit(tac_snr);
    let imeisv = Imeisv::new(tac_snr, 7).expect("IMEISV");
    let previous = Imei::with_spare("49015420323751".parse().expect("TAC+SNR"));
    Ids {
        imei,
        imeisv,
        imei_id: emitted(8, |b| imei.emit(b)).try_into().expect("8"),
        imeisv_id: emitted(9, |b| imeisv.emit(b)).try_into().expect("9"),
        previous_imei_id: emitted(8, |b| previous.emit(b)).try_into().expect("8"),
    }
}

/// The registration message (8-bit SMS user data), signed with a test key.
fn registration_message(ids: &Ids) -> Vec<u8> {
    let iccid = EfIccid {
        iccid: Digits::parse_str("89441000000000000017", DigitSet::Decimal).expect("ICCID"),
    };
    let imsi = EfImsi {
        imsi: Digits::parse_str("001010123456789", DigitSet::Decimal).expect("IMSI"),
    };
    let repr = RegistrationRepr {
        key_id: KeyId::aes_cmac(1).expect("KID"),
        event: EventKind::HANDSET_CHANGED,
        iccid: emitted(EfIccid::LEN, |b| iccid.emit(b))
            .try_into()
            .expect("10"),
        imsi: emitted(EfImsi::LEN, |b| imsi.emit(b))
            .try_into()
            .expect("9"),
        counter: 42,
        imei: ids.imei_id,
        imeisv: Some(ids.imeisv_id),
        previous_imei: Some(ids.previous_imei_id),
    };
    let key = [0x2Bu8; 16];
    let msg = emitted(repr.buffer_len(), |b| repr.emit_signed(&key, b));
    assert_eq!(RegistrationRepr::verify(&msg, &key).expect("verify"), repr);
    msg
}

/// Builds the whole trace: a UICC (`80`) session with every message kind, then a shorter
/// GSM SIM (`A0`) session.
fn build_trace() -> Trace {
    let ids = ids();
    let mut t = Trace::default();
    let uicc = Cla::PROPRIETARY;
    let gsm = Cla::GSM;

    // --- TERMINAL PROFILE from capabilities.
    let caps: Vec<Capability> = PROFILE_FIELDS
        .iter()
        .map(|(c, _)| *c)
        .filter(|c| *c != Capability::OPEN_CHANNEL)
        .collect();
    let profile = TerminalProfile::from_capabilities(&caps).expect("profile");
    t.terminal_profile(uicc, &profile, &PROFILE_FIELDS);

    // --- PROVIDE LOCAL INFORMATION: IMEI, IMEISV, location, date-time, language.
    let mut number = 0u8;
    let mut next = || {
        number += 1;
        number
    };
    let pli = |n: u8, q: PliQualifier| {
        ProactiveCommand::ProvideLocalInformation(ProvideLocalInformation::new(n, q))
    };
    let loci_q = |q: PliQualifier| vec![("etsi_cat.comp_tlv.cmd_qual.loci", num(q.0))];

    let cmd = pli(next(), PliQualifier::IMEI);
    t.fetch("PLI IMEI", uicc, &cmd, loci_q(PliQualifier::IMEI));
    let tr = TerminalResponse::success(cmd.details(), ResponseData::Imei(ImeiIe::new(ids.imei_id)));
    t.terminal_response(
        "IMEI",
        uicc,
        &tr,
        vec![("gsm_a.imei", text(ids.imei.to_string()))],
    );

    let cmd = pli(next(), PliQualifier::IMEISV);
    t.fetch("PLI IMEISV", uicc, &cmd, loci_q(PliQualifier::IMEISV));
    let tr = TerminalResponse::success(
        cmd.details(),
        ResponseData::Imeisv(ImeisvIe::new(ids.imeisv_id)),
    );
    t.terminal_response(
        "IMEISV",
        uicc,
        &tr,
        vec![("gsm_a.imeisv", text(ids.imeisv.to_string()))],
    );

    let cmd = pli(next(), PliQualifier::LOCATION_INFORMATION);
    t.fetch(
        "PLI location",
        uicc,
        &cmd,
        loci_q(PliQualifier::LOCATION_INFORMATION),
    );
    let loc = LocationInformation::new([0x00, 0xF1, 0x10], 0x1234, 0x5678);
    let tr = TerminalResponse::success(cmd.details(), ResponseData::LocationInformation(loc));
    t.terminal_response(
        "location",
        uicc,
        &tr,
        vec![
            ("etsi_cat.comp_tlv.loci.lac", num(loc.lac)),
            ("etsi_cat.comp_tlv.loci.cell_id", num(loc.cell_id)),
        ],
    );

    let cmd = pli(next(), PliQualifier::DATE_TIME_TIME_ZONE);
    t.fetch(
        "PLI date-time",
        uicc,
        &cmd,
        loci_q(PliQualifier::DATE_TIME_TIME_ZONE),
    );
    let dt = DateTimeTimeZone {
        cr: true,
        year: 26,
        month: 11,
        day: 27,
        hour: 13,
        minute: 45,
        second: 9,
        time_zone: 0x40,
    };
    let tr = TerminalResponse::success(cmd.details(), ResponseData::DateTime(dt));
    t.terminal_response(
        "date-time",
        uicc,
        &tr,
        vec![
            ("etsi_cat.comp_tlv.date_time.yr", num(semi_octet(dt.year))),
            ("etsi_cat.comp_tlv.date_time.mo", num(semi_octet(dt.month))),
            ("etsi_cat.comp_tlv.date_time.day", num(semi_octet(dt.day))),
            ("etsi_cat.comp_tlv.date_time.hr", num(semi_octet(dt.hour))),
            (
                "etsi_cat.comp_tlv.date_time.min",
                num(semi_octet(dt.minute)),
            ),
            (
                "etsi_cat.comp_tlv.date_time.sec",
                num(semi_octet(dt.second)),
            ),
            ("etsi_cat.comp_tlv.date_time.tz", num(dt.time_zone)),
        ],
    );

    let cmd = pli(next(), PliQualifier::LANGUAGE);
    t.fetch("PLI language", uicc, &cmd, loci_q(PliQualifier::LANGUAGE));
    let lang = Language::new(*b"en");
    let tr = TerminalResponse::success(cmd.details(), ResponseData::Language(lang));
    let lang_text = String::from_utf8(lang.code.to_vec()).expect("ASCII");
    t.terminal_response(
        "language",
        uicc,
        &tr,
        vec![("etsi_cat.comp_tlv.language", text(lang_text))],
    );

    // --- SEND SHORT MESSAGE, 7-bit SUBMIT with extension characters, null alpha id,
    // SMSC address.
    let destination = sms::Address::number("+447700900123").expect("TP-DA");
    let smsc_digits: Digits<20> = Digits::parse_str("447700900000", DigitSet::Tbcd).expect("SMSC");
    let smsc_bcd = emitted(smsc_digits.encoded_len(), |b| smsc_digits.encode(b));
    let smsc = cat::Address::new(cat::Address::INTERNATIONAL_E164, &smsc_bcd);
    let text7 = "IMEI changed: 100€ [ok] {x} ~^|\\ done";
    let mut scratch7 = [0u8; 140];
    let submit7 = SmsSubmit::new(
        1,
        destination,
        DataCodingScheme::GSM7,
        UserData::gsm7_text(None, text7, &mut scratch7).expect("7-bit text"),
    );
    let tpdu7 = emitted(submit7.buffer_len(), |b| submit7.emit(b));
    let mut sm = SendShortMessage::new(next(), &tpdu7);
    sm.alpha = Some(AlphaIdentifier::null());
    sm.address = Some(smsc);
    let cmd = ProactiveCommand::SendShortMessage(sm);
    let sms_wants = |s: &SmsSubmit<'_>| {
        vec![
            ("gsm_sms.tp-mti", num(1u8)),
            ("gsm_sms.tp-mr", num(s.message_reference)),
            ("gsm_sms.tp-da", text(address_digits(&s.destination))),
            ("gsm_sms.tp-pid", num(s.pid.0)),
            ("gsm_sms.tp-dcs", num(s.dcs.0)),
            (
                "gsm_sms.tp-udhi",
                num(u8::from(s.user_data.header.is_some())),
            ),
        ]
    };
    let mut want = sms_wants(&submit7);
    want.extend([
        (
            "etsi_cat.comp_tlv.cmd_qual.send_short_msg",
            num(u8::from(sm.packing_required())),
        ),
        ("etsi_cat.comp_tlv.alpha_id.string", text("")),
        ("etsi_cat.comp_tlv.address.ton", num(smsc.ton())),
        ("etsi_cat.comp_tlv.address.npi", num(smsc.npi())),
        ("gsm_sms.sms_text", text(text7)),
    ]);
    t.fetch("SEND SM 7-bit", uicc, &cmd, want);
    let tr = TerminalResponse::success(cmd.details(), ResponseData::None);
    t.terminal_response("SEND SM sent", uicc, &tr, vec![]);

    // --- SEND SHORT MESSAGE, 8-bit SUBMIT carrying the signed registration message.
    let reg = registration_message(&ids);
    let submit8 = SmsSubmit::new(
        2,
        destination,
        DataCodingScheme::EIGHT_BIT,
        UserData::octets(None, &reg),
    );
    let tpdu8 = emitted(submit8.buffer_len(), |b| submit8.emit(b));
    let cmd = ProactiveCommand::SendShortMessage(SendShortMessage::new(next(), &tpdu8));
    let mut want = sms_wants(&submit8);
    want.push(("gsm_sms.sms_body", text(hex_of(&reg))));
    t.fetch("SEND SM 8-bit registration", uicc, &cmd, want);
    let rp_cause = 41; // TS 24.011 §8.2.5.4: temporary failure
    let tr = TerminalResponse::sms_rp_error(cmd.details(), rp_cause);
    assert_eq!(tr.rp_cause(), Some(rp_cause));
    t.terminal_response("SEND SM RP-ERROR", uicc, &tr, vec![]);

    // --- SEND SHORT MESSAGE, UDH (concatenation) + 7-bit text after fill bits.
    let concat = [InformationElement::Concat8 {
        reference: 0x42,
        total: 2,
        sequence: 1,
    }];
    let udh = UserDataHeader::from_elements(&concat);
    let text_udh = "Part one of two: fill bits align this text";
    let mut scratch_udh = [0u8; 140];
    let ud = UserData::gsm7_text(Some(udh), text_udh, &mut scratch_udh).expect("UDH text");
    assert_ne!(ud.fill_bits(), 0, "the header must need fill bits");
    let submit_udh = SmsSubmit::new(3, destination, DataCodingScheme::GSM7, ud);
    let tpdu_udh = emitted(submit_udh.buffer_len(), |b| submit_udh.emit(b));
    let cmd = ProactiveCommand::SendShortMessage(SendShortMessage::new(next(), &tpdu_udh));
    let c = udh.concatenation().expect("concatenation IE");
    let mut want = sms_wants(&submit_udh);
    want.extend([
        ("gsm_sms.udh.mm.msg_id", num(c.reference)),
        ("gsm_sms.udh.mm.msg_parts", num(c.total)),
        ("gsm_sms.udh.mm.msg_part", num(c.sequence)),
        ("gsm_sms.sms_text", text(text_udh)),
    ]);
    t.fetch("SEND SM UDH", uicc, &cmd, want);
    let tr = TerminalResponse::new(
        cmd.details(),
        CommandResult::with_cause(GeneralResult::NETWORK_UNABLE, 0x00),
        ResponseData::None,
    );
    t.terminal_response("SEND SM network unable", uicc, &tr, vec![]);

    // --- SEND SHORT MESSAGE, 8-bit SUBMIT with the maximum 140 octets of user data: the
    // proactive command no longer fits a one-byte BER length (`D0 81 xx`, TS 102 223
    // Annex C).
    let long_ud: Vec<u8> = (0..140u8).map(|i| i.wrapping_mul(37)).collect();
    let submit_long = SmsSubmit::new(
        4,
        destination,
        DataCodingScheme::EIGHT_BIT,
        UserData::octets(None, &long_ud),
    );
    let tpdu_long = emitted(submit_long.buffer_len(), |b| submit_long.emit(b));
    let cmd = ProactiveCommand::SendShortMessage(SendShortMessage::new(next(), &tpdu_long));
    let d0 = emitted(cmd.buffer_len(), |b| cmd.emit(b));
    assert_eq!(&d0[..2], &[0xD0, 0x81], "two-byte BER length");
    assert!(d0.len() > 130);
    let mut want = sms_wants(&submit_long);
    want.push(("gsm_sms.sms_body", text(hex_of(&long_ud))));
    t.fetch("SEND SM 8-bit 140 octets", uicc, &cmd, want);
    let tr = TerminalResponse::success(cmd.details(), ResponseData::None);
    t.terminal_response("SEND SM 140 octets", uicc, &tr, vec![]);

    // --- SET UP EVENT LIST (location status).
    let events = [Event::LOCATION_STATUS.0];
    let cmd = ProactiveCommand::SetUpEventList(SetUpEventList::new(next(), &events));
    t.fetch(
        "SET UP EVENT LIST",
        uicc,
        &cmd,
        vec![("etsi_cat.comp_tlv.event", num(Event::LOCATION_STATUS.0))],
    );
    let tr = TerminalResponse::success(cmd.details(), ResponseData::None);
    t.terminal_response("SET UP EVENT LIST", uicc, &tr, vec![]);

    // --- TIMER MANAGEMENT: start, get current value, deactivate.
    let timer_wants = |v: &TimerValue| {
        vec![
            ("etsi_cat.comp_tlv.timer_val.hr", num(semi_octet(v.hours))),
            (
                "etsi_cat.comp_tlv.timer_val.min",
                num(semi_octet(v.minutes)),
            ),
            (
                "etsi_cat.comp_tlv.timer_val.sec",
                num(semi_octet(v.seconds)),
            ),
        ]
    };
    let start_value = TimerValue::new(0, 30, 0);
    let tm = TimerManagement::start(next(), 1, start_value);
    let mut want = vec![("etsi_cat.comp_tlv.cmd_qual.timer_mgmt", num(tm.action().0))];
    want.extend(timer_wants(&start_value));
    let cmd = ProactiveCommand::TimerManagement(tm);
    t.fetch("TIMER MANAGEMENT start", uicc, &cmd, want);
    let tr = TerminalResponse::success(
        cmd.details(),
        ResponseData::Timer {
            id: tm.timer_id,
            value: None,
        },
    );
    t.terminal_response("TIMER MANAGEMENT start", uicc, &tr, vec![]);

    for (tm, remaining) in [
        (
            TimerManagement::get_current_value(next(), 1),
            TimerValue::new(0, 12, 34),
        ),
        (
            TimerManagement::deactivate(next(), 1),
            TimerValue::new(0, 12, 30),
        ),
    ] {
        let cmd = ProactiveCommand::TimerManagement(tm);
        t.fetch(
            "TIMER MANAGEMENT",
            uicc,
            &cmd,
            vec![
                ("etsi_cat.comp_tlv.cmd_qual.timer_mgmt", num(tm.action().0)),
                ("etsi_cat.comp_tlv.timer_val.hr", Want::Absent),
            ],
        );
        let tr = TerminalResponse::success(
            cmd.details(),
            ResponseData::Timer {
                id: TimerIdentifier::new(tm.timer_id.id),
                value: Some(remaining),
            },
        );
        t.terminal_response("TIMER MANAGEMENT value", uicc, &tr, timer_wants(&remaining));
    }

    // --- DISPLAY TEXT (8-bit, high priority, wait for user) answered "screen busy".
    let hello = b"Hello from the card";
    let dt = DisplayText::new(
        next(),
        DisplayText::HIGH_PRIORITY | DisplayText::WAIT_FOR_USER,
        TextString::new(cat::Dcs::EIGHT_BIT, hello),
    );
    let cmd = ProactiveCommand::DisplayText(dt);
    t.fetch(
        "DISPLAY TEXT",
        uicc,
        &cmd,
        vec![
            ("etsi_cat.comp_tlv.cmd_qual", num(dt.details.qualifier)),
            (
                "etsi_cat.comp_tlv.text_encoding",
                num(cat::Dcs::EIGHT_BIT.0),
            ),
            (
                "etsi_cat.comp_tlv.text",
                text(String::from_utf8(hello.to_vec()).expect("ASCII")),
            ),
        ],
    );
    let tr = TerminalResponse::new(
        cmd.details(),
        CommandResult::with_cause(
            GeneralResult::TERMINAL_UNABLE,
            TerminalProblem::SCREEN_BUSY.0,
        ),
        ResponseData::None,
    );
    t.terminal_response(
        "DISPLAY TEXT screen busy",
        uicc,
        &tr,
        vec![(
            "etsi_cat.comp_tlv.result.term",
            num(TerminalProblem::SCREEN_BUSY.0),
        )],
    );

    // --- MORE TIME.
    let cmd = ProactiveCommand::MoreTime(MoreTime::new(next()));
    t.fetch("MORE TIME", uicc, &cmd, vec![]);
    let tr = TerminalResponse::success(cmd.details(), ResponseData::None);
    t.terminal_response("MORE TIME", uicc, &tr, vec![]);

    // --- POLL INTERVAL 30 s, terminal answers 1 minute.
    let asked = Duration::new(TimeUnit::SECONDS, 30);
    let cmd = ProactiveCommand::PollInterval(PollInterval::new(next(), asked));
    let dur_wants = |d: &Duration| {
        vec![
            ("etsi_cat.comp_tlv.time_unit", num(d.unit.0)),
            ("etsi_cat.comp_tlv.time_interval", num(d.interval)),
        ]
    };
    t.fetch("POLL INTERVAL", uicc, &cmd, dur_wants(&asked));
    let granted = Duration::new(TimeUnit::MINUTES, 1);
    let tr = TerminalResponse::success(cmd.details(), ResponseData::Duration(granted));
    t.terminal_response("POLL INTERVAL", uicc, &tr, dur_wants(&granted));

    // --- ENVELOPE SMS-PP download: SMS-DELIVER, PID 7F, DCS F6, UDH IEI 70.
    let packet_ies = [InformationElement::CommandPacket];
    // The TS 102 225 command packet after the header is opaque to tshark; any bytes do.
    let command_packet: Vec<u8> = (0u8..24).collect();
    let mut deliver = SmsDeliver::new(
        sms::Address::number("+12345678").expect("TP-OA"),
        DataCodingScheme::EIGHT_BIT_CLASS2,
        Timestamp {
            year: 26,
            month: 11,
            day: 27,
            hour: 12,
            minute: 0,
            second: 5,
            time_zone: TimeZone::from_quarter_hours(4).expect("TZ"),
        },
        UserData::octets(
            Some(UserDataHeader::from_elements(&packet_ies)),
            &command_packet,
        ),
    );
    deliver.pid = ProtocolIdentifier::SIM_DATA_DOWNLOAD;
    let deliver_tpdu = emitted(deliver.buffer_len(), |b| deliver.emit(b));
    let env = Envelope::SmsPpDownload(SmsPpDownload::new(None, &deliver_tpdu));
    t.envelope(
        "SMS-PP DOWNLOAD",
        uicc,
        &env,
        vec![
            ("gsm_sms.tp-mti", num(0u8)),
            ("gsm_sms.tp-oa", text(address_digits(&deliver.originator))),
            ("gsm_sms.tp-pid", num(deliver.pid.0)),
            ("gsm_sms.tp-dcs", num(deliver.dcs.0)),
            ("gsm_sms.tp-udhi", num(1u8)),
        ],
    );

    // --- ENVELOPE EVENT DOWNLOAD: location status, normal service + location.
    let here = LocationInformation::new([0x00, 0xF1, 0x10], 0x0001, 0x0002);
    let ed = EventDownload::location_status(ServiceState::NORMAL_SERVICE, Some(here));
    let env = Envelope::EventDownload(ed);
    t.envelope(
        "EVENT DOWNLOAD location status",
        uicc,
        &env,
        vec![
            ("etsi_cat.comp_tlv.event", num(Event::LOCATION_STATUS.0)),
            (
                "etsi_cat.comp_tlv.loc_status",
                num(ServiceState::NORMAL_SERVICE.0),
            ),
            ("etsi_cat.comp_tlv.src_dev", num(ed.devices.source.0)),
            ("etsi_cat.comp_tlv.dst_dev", num(ed.devices.destination.0)),
            ("etsi_cat.comp_tlv.loci.lac", num(here.lac)),
            ("etsi_cat.comp_tlv.loci.cell_id", num(here.cell_id)),
        ],
    );

    // --- ENVELOPE TIMER EXPIRATION.
    let elapsed = TimerValue::new(0, 0, 3);
    let te = TimerExpiration::new(1, elapsed);
    t.envelope(
        "TIMER EXPIRATION",
        uicc,
        &Envelope::TimerExpiration(te),
        timer_wants(&elapsed),
    );

    // --- GSM SIM class (A0): profile, PLI IMEI round, timer expiration, event download.
    let gsm_profile = TerminalProfile::from_capabilities(&[
        Capability::PROFILE_DOWNLOAD,
        Capability::SMS_PP_DATA_DOWNLOAD,
        Capability::PROVIDE_LOCAL_INFORMATION,
        Capability::SEND_SHORT_MESSAGE,
    ])
    .expect("profile");
    t.terminal_profile(gsm, &gsm_profile, &PROFILE_FIELDS[..12]);
    let cmd = pli(next(), PliQualifier::IMEI);
    t.fetch("PLI IMEI (GSM)", gsm, &cmd, loci_q(PliQualifier::IMEI));
    let tr = TerminalResponse::success(cmd.details(), ResponseData::Imei(ImeiIe::new(ids.imei_id)));
    t.terminal_response(
        "IMEI (GSM)",
        gsm,
        &tr,
        vec![("gsm_a.imei", text(ids.imei.to_string()))],
    );
    let cmd = ProactiveCommand::SendShortMessage(SendShortMessage::new(next(), &tpdu8));
    let mut want = sms_wants(&submit8);
    want.push(("gsm_sms.sms_body", text(hex_of(&reg))));
    t.fetch("SEND SM 8-bit (GSM)", gsm, &cmd, want);
    let tr = TerminalResponse::success(cmd.details(), ResponseData::None);
    t.terminal_response("SEND SM (GSM)", gsm, &tr, vec![]);
    t.envelope(
        "TIMER EXPIRATION (GSM)",
        gsm,
        &Envelope::TimerExpiration(te),
        timer_wants(&elapsed),
    );
    t
}

/// Compares one tshark cell with what we want; `Err` describes the mismatch.
pub(crate) fn check_cell(cell: &str, want: &Want) -> Result<(), String> {
    let items: Vec<&str> = if cell.is_empty() {
        vec![]
    } else {
        cell.split(',').collect()
    };
    let ok = match want {
        Want::Num(v) => items.len() == 1 && tshark::number(items[0]) == Some(*v),
        Want::Str(s) => cell == s,
        Want::Absent => cell.is_empty(),
        Want::Has(s) => items.iter().any(|i| i == s),
    };
    if ok {
        Ok(())
    } else {
        Err(format!("tshark printed {cell:?}, wanted {want:?}"))
    }
}

#[test]
fn tshark_decodes_every_emitted_exchange() {
    if !require_tool("tshark", "tshark") {
        return;
    }
    let trace = build_trace();
    let frames = trace.exchanges();
    let payloads: Vec<&[u8]> = frames.iter().map(|(_, p, _)| p.as_slice()).collect();
    let dir = tempfile::tempdir().expect("tempdir");
    let pcap = write_capture(dir.path(), "exchanges.pcap", &pcap_of(&payloads));

    // Every field any frame asserts on, plus the frame number and protocol stack.
    let mut fields: Vec<&str> = vec!["frame.number", "frame.protocols"];
    for (_, _, want) in &frames {
        for (f, _) in want {
            if !fields.contains(f) {
                fields.push(f);
            }
        }
    }
    let rows = tshark::fields(&pcap, &fields);
    assert_eq!(
        rows.len(),
        frames.len(),
        "tshark saw a different number of frames"
    );

    let mut failures = String::new();
    for (i, ((what, payload, want), row)) in frames.iter().zip(&rows).enumerate() {
        let frame_no = i + 1;
        assert_eq!(row[0], frame_no.to_string());
        let protocols = &row[1];
        if !protocols.contains("gsmtap:gsm_sim") {
            let _ = writeln!(failures, "frame {frame_no} ({what}): protocols {protocols}");
        }
        let ins = want
            .iter()
            .find(|(f, _)| *f == "gsm_sim.apdu.ins")
            .map(|(_, w)| w);
        let is_cat = ins != Some(&num(Ins::TERMINAL_PROFILE.0));
        if is_cat && !protocols.contains(":etsi_cat") {
            let _ = writeln!(
                failures,
                "frame {frame_no} ({what}): no etsi_cat in {protocols}"
            );
        }
        let has_sms = want.iter().any(|(f, _)| f.starts_with("gsm_sms."));
        if has_sms && !protocols.contains(":gsm_sms") {
            let _ = writeln!(
                failures,
                "frame {frame_no} ({what}): no gsm_sms in {protocols}"
            );
        }
        for (field, w) in want {
            let col = fields
                .iter()
                .position(|f| f == field)
                .expect("field column");
            if let Err(e) = check_cell(&row[col], w) {
                let _ = writeln!(failures, "frame {frame_no} ({what}) {field}: {e}");
            }
        }
        let _ = payload;
    }
    assert!(
        failures.is_empty(),
        "tshark disagrees:\n{failures}\ncapture: {}",
        pcap.display()
    );

    // The null alpha identifier has no `alpha_id.string` field (the `Str("")` above only
    // proves that no text is there): its presence shows in the packet details as an
    // empty "Alpha identifier:" item — in the SEND SHORT MESSAGE that carries one and
    // in no other frame.
    let details = tshark::details(&pcap);
    assert_eq!(details.len(), frames.len(), "tshark -V frame count");
    for (i, ((what, _, _), details)) in frames.iter().zip(&details).enumerate() {
        let frame_no = i + 1;
        let alpha: Vec<&str> = details
            .lines()
            .map(str::trim)
            .filter(|l| l.starts_with("Alpha identifier"))
            .collect();
        let want: &[&str] = if what == "FETCH SEND SM 7-bit" {
            &["Alpha identifier:"]
        } else {
            &[]
        };
        assert_eq!(alpha, want, "frame {frame_no} ({what})");
    }

    let flagged = tshark::malformed_or_warning_frames(&pcap);
    assert!(
        flagged.is_empty(),
        "malformed or warning frames: {flagged:?}"
    );
}

/// The malformed check can fail: a FETCH whose `D0` length is 4 more than the bytes that
/// follow is flagged, and only that frame.
#[test]
fn tshark_flags_a_corrupted_ber_length() {
    if !require_tool("tshark", "tshark") {
        return;
    }
    let mut trace = Trace::default();
    let cmd = ProactiveCommand::ProvideLocalInformation(ProvideLocalInformation::new(
        1,
        PliQualifier::IMEI,
    ));
    trace.fetch("PLI IMEI", Cla::PROPRIETARY, &cmd, vec![]);
    let frames = trace.exchanges();
    let good = frames[0].1.clone();
    // Payload = 5-byte header ‖ D0 L … ‖ SW; bump L (short form, < 0x80).
    let mut bad = good.clone();
    assert_eq!(bad[5], BerTag::PROACTIVE_COMMAND.0);
    assert!(bad[6] < 0x7C);
    bad[6] += 4;
    assert!(
        ProactiveCommand::parse(&bad[5..bad.len() - 2]).is_err(),
        "our parser rejects it too"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let pcap = write_capture(
        dir.path(),
        "negative-control.pcap",
        &pcap_of(&[&good, &bad]),
    );
    assert_eq!(tshark::malformed_or_warning_frames(&pcap), vec![2]);
}
