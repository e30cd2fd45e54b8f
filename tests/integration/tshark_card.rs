//! Issues 2 and 3: the card's *own* answers, read back by an independent decoder.
//!
//! `tshark_gsmtap` checks messages built with the codecs. Here a real
//! [`applet::card::Card`] (personalised with `card::test_personalisation()`) runs whole
//! sessions — file system, PIN, TERMINAL PROFILE, the registration flow, a handset change
//! whose SMS fails and is retried via SET UP EVENT LIST / TIMER MANAGEMENT / TIMER
//! EXPIRATION, a busy ENVELOPE, and a GSM SIM (`A0`) session — driven by a scripted
//! handset. Every exchange (command TPDU ‖ the card's response data ‖ SW) goes into one
//! GSMTAP-SIM pcap (`/work/shared/spec/08-gsmtap-pcap.md`), and tshark must report:
//!
//! - per frame: the instruction and status word; the status words the card must give
//!   are fixed here from the specs (`91 0B` after TERMINAL PROFILE, 02-cat.md §9; `63 C2`
//!   after one wrong PIN, 01-apdu.md §4; `93 00` for an ENVELOPE in a proactive session),
//!   not read from the card;
//! - per FETCH: command number, type, qualifier, device identities, BER tag `D0`;
//! - per SEND SHORT MESSAGE: TP-MTI, TP-DA (the provisioning server of the test
//!   personalisation), TP-PID, TP-DCS (8-bit), no UDH, a *present and empty* alpha
//!   identifier (silent SMS, 02-cat.md §8 — checked in tshark's packet details, since an
//!   empty alpha identifier has no `alpha_id.string` field), and the user data
//!   (`gsm_sms.sms_body`) as tshark extracted it must verify as a registration message
//!   (docs/registration.md) under the test key with the expected event, counter, ICCID,
//!   IMSI, IMEI digits and previous IMEI;
//! - TIMER MANAGEMENT's timer value and SET UP EVENT LIST's event;
//! - no frame malformed or with an expert warning.
//!
//! What tshark does not decode: FCP templates and GSM SELECT responses (GET RESPONSE data
//! is shown raw; their bytes are checked in `applet/src/card/fs.rs`). Frames tshark flags
//! wrongly (a case-2 command answered with an error SW and no data, 01-apdu.md §6) are
//! avoided: every READ BINARY / FETCH / GET RESPONSE here succeeds.

use std::fmt::Write as _;

use applet::card::fs::USIM_AID;
use applet::card::{Card, CardNvm, MAX_RESPONSE, test_personalisation};
use applet::wire::apdu::StatusWord;
use applet::wire::cat::{
    GeneralResult, ImeiIe, ProactiveCommand, ResponseData, TerminalResponse, TimerIdentifier,
};
use applet::wire::gsmtap::ApduExchange;
use applet::wire::imei::Imei;
use applet::wire::registration::{EventKind, RegistrationRepr};
use imeitrack_tests::{require_tool, tshark};

use super::tshark_gsmtap::{
    Want, Wants, check_cell, emitted, hex_of, num, pcap_of, semi_octet, text, write_capture,
};

fn h(s: &str) -> Vec<u8> {
    hex::decode(s.replace(' ', "")).expect("hex")
}

/// Registration key of `card::test_personalisation` (docs/registration.md §6).
const KEY: [u8; 16] = [
    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF,
];
/// EF.ICCID of the test personalisation: ICCID 8949001012345678901 (swapped BCD, `F` pad).
const ICCID: &str = "98 94 00 01 21 43 65 87 09 F1";
/// EF.IMSI of the test personalisation: IMSI 001010123456789 (01-apdu.md §5 layout).
const IMSI: &str = "08 09 10 10 10 32 54 76 98";
/// TP-DA of the registration SMS: the test personalisation's server +447700900123.
const SERVER_DIGITS: &str = "447700900123";
/// TERMINAL PROFILE of 02-cat.md §7: PLI, SEND SM, SET UP EVENT LIST + location status,
/// TIMER MANAGEMENT + timer expiration.
const TP_FULL: &str = "23 01 29 42 11 00 00 07";
/// IMEI 490154203237518 (03-imei.md §3) and 352099001761481 (03-imei.md §2).
const IMEI_A: &str = "490154203237518";
const IMEI_B: &str = "352099001761481";
/// The PROVIDE LOCAL INFORMATION (IMEI) of 02-cat.md §9 step 2, command number 1.
const FETCH_PLI_IMEI: &str = "D0 09 81 03 01 26 01 82 02 81 82";

/// The status word the card must answer.
#[derive(Clone, Copy)]
enum Sw {
    Exact(u16),
    /// Only SW1 is fixed (`61`/`9F`/`91` with a length).
    Sw1(u8),
}

/// A registration message the card must have put into a SEND SHORT MESSAGE.
struct Expected {
    event: EventKind,
    counter: u64,
    imei: &'static str,
    previous: Option<&'static str>,
}

struct Frame {
    what: String,
    payload: Vec<u8>,
    want: Wants,
    registration: Option<Expected>,
}

/// A card and the handset side of the session, recording every exchange.
struct Session {
    card: Card,
    cla_fs: u8,
    cla_cat: u8,
    now: u64,
    frames: Vec<Frame>,
}

impl Session {
    /// A freshly personalised card after a cold reset; `gsm` = a CLA `A0` handset.
    fn new(gsm: bool) -> Self {
        let mut card = Card::new(&test_personalisation(), CardNvm::new()).expect("card");
        card.power_on(true);
        let (cla_fs, cla_cat) = if gsm { (0xA0, 0xA0) } else { (0x00, 0x80) };
        Session {
            card,
            cla_fs,
            cla_cat,
            now: 10_000,
            frames: Vec::new(),
        }
    }

    /// One exchange: checks the status word, records the frame with `want` plus the
    /// instruction and status word, returns (response data, SW).
    fn x(&mut self, what: &str, apdu: &[u8], sw: Sw, mut want: Wants) -> (Vec<u8>, StatusWord) {
        self.now += 1_000;
        let mut out = [0u8; MAX_RESPONSE];
        let n = self.card.process(apdu, self.now, &mut out);
        assert!(n >= 2, "{what}: no status word");
        let (data, swb) = out[..n].split_at(n - 2);
        let got = StatusWord::from_bytes(swb[0], swb[1]);
        let sw_want = match sw {
            Sw::Exact(w) => {
                assert_eq!(got, StatusWord(w), "{what}: status word");
                w
            }
            Sw::Sw1(s1) => {
                assert_eq!(got.sw1(), s1, "{what}: SW1 of {got}");
                got.0
            }
        };
        let mut body = apdu[5..].to_vec();
        body.extend_from_slice(data);
        let x = ApduExchange {
            header: apdu[..5].try_into().expect("5-byte header"),
            data: &body,
            sw: [swb[0], swb[1]],
        };
        want.insert(0, ("gsm_sim.apdu.ins", num(apdu[1])));
        want.push(("gsm_sim.apdu.sw", num(sw_want)));
        self.frames.push(Frame {
            what: what.to_owned(),
            payload: emitted(x.buffer_len(), |b| x.emit(b)),
            want,
            registration: None,
        });
        (data.to_vec(), got)
    }

    fn apdu(cla: u8, ins: u8, p1: u8, p2: u8, data: &[u8]) -> Vec<u8> {
        let mut a = vec![cla, ins, p1, p2, u8::try_from(data.len()).expect("short")];
        a.extend_from_slice(data);
        a
    }

    /// SELECT (data = FID, path or AID) answered `61xx` / `9Fxx`, then GET RESPONSE.
    fn select(&mut self, what: &str, p1: u8, p2: u8, data: &[u8], want: Wants) -> Vec<u8> {
        let gsm = self.cla_fs == 0xA0;
        let apdu = Self::apdu(self.cla_fs, 0xA4, p1, p2, data);
        let sw1 = if gsm { 0x9F } else { 0x61 };
        let (_, sw) = self.x(&format!("SELECT {what}"), &apdu, Sw::Sw1(sw1), want);
        let len = sw.sw2();
        let (rsp, _) = self.x(
            &format!("GET RESPONSE {what}"),
            &[self.cla_fs, 0xC0, 0, 0, len],
            Sw::Exact(0x9000),
            vec![("gsm_sim.le", num(len))],
        );
        assert_eq!(rsp.len(), usize::from(len));
        rsp
    }

    /// READ BINARY of `len` bytes at offset 0, which must succeed.
    fn read_binary(&mut self, what: &str, len: u8) -> Vec<u8> {
        self.x(
            &format!("READ BINARY {what}"),
            &[self.cla_fs, 0xB0, 0, 0, len],
            Sw::Exact(0x9000),
            vec![("gsm_sim.bin_offset", num(0u8)), ("gsm_sim.le", num(len))],
        )
        .0
    }

    fn verify_pin(&mut self, pin: &[u8; 4], sw: u16) {
        let mut data = pin.to_vec();
        data.extend_from_slice(&[0xFF; 4]);
        let apdu = Self::apdu(self.cla_fs, 0x20, 0x00, 0x01, &data);
        self.x("VERIFY PIN1", &apdu, Sw::Exact(sw), vec![]);
    }

    fn terminal_profile(&mut self, sw: u16) {
        let apdu = Self::apdu(self.cla_cat, 0x10, 0, 0, &h(TP_FULL));
        self.x(
            "TERMINAL PROFILE",
            &apdu,
            Sw::Exact(sw),
            vec![
                ("gsm_sim.tp.pa.prov_loci", num(1u8)),
                ("gsm_sim.tp.pa.send_sms", num(1u8)),
                ("gsm_sim.tp.pa.set_up_evt_list", num(1u8)),
                ("gsm_sim.tp.pa.timer_start_stop", num(1u8)),
            ],
        );
    }

    /// FETCH of `len` bytes; `want` adds to the command details and device checks.
    fn fetch(
        &mut self,
        what: &str,
        len: u8,
        (number, kind, qualifier): (u8, u8, u8),
        destination: u8,
        extra: Wants,
    ) -> Vec<u8> {
        let mut want = vec![
            ("gsm_sim.le", num(len)),
            ("gsm_sim.cat.ber_tlv_tag", num(0xD0u8)),
            ("etsi_cat.comp_tlv.cmd_nr", num(number)),
            ("etsi_cat.comp_tlv.cmd_type", num(kind)),
            ("etsi_cat.comp_tlv.src_dev", num(0x81u8)),
            ("etsi_cat.comp_tlv.dst_dev", num(destination)),
        ];
        match kind {
            0x26 => want.push(("etsi_cat.comp_tlv.cmd_qual.loci", num(qualifier))),
            0x13 => want.push(("etsi_cat.comp_tlv.cmd_qual.send_short_msg", num(qualifier))),
            0x27 => want.push(("etsi_cat.comp_tlv.cmd_qual.timer_mgmt", num(qualifier))),
            _ => want.push(("etsi_cat.comp_tlv.cmd_qual", num(qualifier))),
        }
        want.extend(extra);
        let (cmd, _) = self.x(
            &format!("FETCH {what}"),
            &[self.cla_cat, 0x12, 0, 0, len],
            Sw::Exact(0x9000),
            want,
        );
        assert_eq!(cmd.len(), usize::from(len), "{what}: FETCH length");
        cmd
    }

    /// FETCH of the SEND SHORT MESSAGE carrying `reg`.
    fn fetch_send_sm(&mut self, len: u8, number: u8, reg: Expected) -> Vec<u8> {
        let cmd = self.fetch(
            "SEND SHORT MESSAGE",
            len,
            (number, 0x13, 0x00),
            0x83,
            vec![
                ("gsm_sms.tp-mti", num(1u8)),
                ("gsm_sms.tp-da", text(SERVER_DIGITS)),
                ("gsm_sms.tp-pid", num(0u8)),
                ("gsm_sms.tp-dcs", num(4u8)),
                ("gsm_sms.tp-udhi", num(0u8)),
            ],
        );
        self.frames.last_mut().expect("frame").registration = Some(reg);
        cmd
    }

    /// The handset's TERMINAL RESPONSE to `cmd` with `result` and `data`.
    fn terminal_response(
        &mut self,
        what: &str,
        cmd: &[u8],
        result: TerminalResponse<'_>,
        sw: Sw,
        extra: Wants,
    ) -> StatusWord {
        let pc = ProactiveCommand::parse(cmd).expect("the card's command parses");
        assert_eq!(
            result.details,
            pc.details(),
            "{what}: answer to the fetched command"
        );
        let tr = emitted(result.buffer_len(), |b| result.emit(b));
        let mut want = vec![
            ("etsi_cat.comp_tlv.cmd_nr", num(result.details.number)),
            ("etsi_cat.comp_tlv.cmd_type", num(result.details.kind.0)),
            ("etsi_cat.comp_tlv.result", num(result.result.general.0)),
        ];
        want.extend(extra);
        let apdu = Self::apdu(self.cla_cat, 0x14, 0, 0, &tr);
        self.x(&format!("TERMINAL RESPONSE {what}"), &apdu, sw, want)
            .1
    }

    fn envelope(&mut self, what: &str, env: &str, sw: Sw, want: Wants) -> StatusWord {
        let apdu = Self::apdu(self.cla_cat, 0xC2, 0, 0, &h(env));
        self.x(&format!("ENVELOPE {what}"), &apdu, sw, want).1
    }
}

fn imei_ie(digits: &str) -> ImeiIe {
    let imei: Imei = digits.parse().expect("IMEI");
    let mut id = [0u8; 8];
    assert_eq!(imei.emit(&mut id).expect("emit"), 8);
    ImeiIe::new(id)
}

fn pending(sw: StatusWord) -> u8 {
    sw.is_proactive_pending().expect("91xx")
}

/// File system and PIN, first registration, handset change with a failed SMS and its
/// retry — all in CLA `00`/`80`.
fn uicc_session() -> Vec<Frame> {
    let mut s = Session::new(false);

    // --- File system (01-apdu.md §3/§5): FCP answers, ICCID, USIM by AID, path, PIN.
    let fcp = s.select(
        "MF",
        0x00,
        0x04,
        &[0x3F, 0x00],
        vec![("gsm_sim.file_id", num(0x3F00u16))],
    );
    assert_eq!(
        (fcp[0], usize::from(fcp[1]) + 2),
        (0x62, fcp.len()),
        "FCP template"
    );
    s.select(
        "EF.ICCID",
        0x00,
        0x04,
        &[0x2F, 0xE2],
        vec![("gsm_sim.file_id", num(0x2FE2u16))],
    );
    assert_eq!(s.read_binary("EF.ICCID", 10), h(ICCID));
    let fcp = s.select(
        "ADF.USIM",
        0x04,
        0x04,
        &USIM_AID,
        vec![("gsm_sim.aid", text(hex_of(&USIM_AID)))],
    );
    assert_eq!(fcp[0], 0x62, "FCP template");
    s.select(
        "DF.GSM/EF.IMSI by path",
        0x08,
        0x04,
        &[0x7F, 0x20, 0x6F, 0x07],
        vec![("gsm_sim.file_id", Want::Str("0x7f20,0x6f07".into()))],
    );
    s.verify_pin(b"9999", 0x63C2);
    s.verify_pin(b"1234", 0x9000);
    assert_eq!(s.read_binary("EF.IMSI", 9), h(IMSI));

    // --- First use: TERMINAL PROFILE → PLI (IMEI) → SEND SHORT MESSAGE → success.
    s.terminal_profile(0x910B);
    let cmd = s.fetch("PLI IMEI", 0x0B, (1, 0x26, 0x01), 0x82, vec![]);
    assert_eq!(cmd, h(FETCH_PLI_IMEI));
    let pc = ProactiveCommand::parse(&cmd).expect("parse");
    let tr = TerminalResponse::success(pc.details(), ResponseData::Imei(imei_ie(IMEI_A)));
    let sw = s.terminal_response(
        "IMEI",
        &cmd,
        tr,
        Sw::Sw1(0x91),
        vec![("gsm_a.imei", text(IMEI_A))],
    );
    let reg = Expected {
        event: EventKind::FIRST_USE,
        counter: 0,
        imei: IMEI_A,
        previous: None,
    };
    let cmd = s.fetch_send_sm(pending(sw), 2, reg);
    let details = ProactiveCommand::parse(&cmd).expect("parse").details();
    let tr = TerminalResponse::success(details, ResponseData::None);
    s.terminal_response("SEND SM success", &cmd, tr, Sw::Exact(0x9000), vec![]);

    // --- Next power-up in another handset; the SMS fails (RP-ERROR, cause 41), the card
    // registers the location event, starts timer 1 and retries when it expires.
    s.card.power_on(true);
    s.terminal_profile(0x910B);
    let cmd = s.fetch("PLI IMEI", 0x0B, (1, 0x26, 0x01), 0x82, vec![]);
    let details = ProactiveCommand::parse(&cmd).expect("parse").details();
    let tr = TerminalResponse::success(details, ResponseData::Imei(imei_ie(IMEI_B)));
    let sw = s.terminal_response(
        "IMEI",
        &cmd,
        tr,
        Sw::Sw1(0x91),
        vec![("gsm_a.imei", text(IMEI_B))],
    );
    let reg = Expected {
        event: EventKind::HANDSET_CHANGED,
        counter: 1,
        imei: IMEI_B,
        previous: Some(IMEI_A),
    };
    let cmd = s.fetch_send_sm(pending(sw), 2, reg);
    let details = ProactiveCommand::parse(&cmd).expect("parse").details();
    let tr = TerminalResponse::sms_rp_error(details, 41);
    let sw = s.terminal_response("SEND SM RP-ERROR", &cmd, tr, Sw::Sw1(0x91), vec![]);
    let cmd = s.fetch(
        "SET UP EVENT LIST",
        pending(sw),
        (3, 0x05, 0x00),
        0x82,
        vec![("etsi_cat.comp_tlv.event", num(0x03u8))],
    );
    let details = ProactiveCommand::parse(&cmd).expect("parse").details();
    let tr = TerminalResponse::success(details, ResponseData::None);
    let sw = s.terminal_response("SET UP EVENT LIST", &cmd, tr, Sw::Sw1(0x91), vec![]);
    // RetryPolicy::DEFAULT: back-off 60 s for the first retry = 00:01:00.
    let cmd = s.fetch(
        "TIMER MANAGEMENT start",
        pending(sw),
        (4, 0x27, 0x00),
        0x82,
        vec![
            ("etsi_cat.comp_tlv.timer_val.hr", num(semi_octet(0))),
            ("etsi_cat.comp_tlv.timer_val.min", num(semi_octet(1))),
            ("etsi_cat.comp_tlv.timer_val.sec", num(semi_octet(0))),
        ],
    );
    let details = ProactiveCommand::parse(&cmd).expect("parse").details();
    let tr = TerminalResponse::success(
        details,
        ResponseData::Timer {
            id: TimerIdentifier::new(1),
            value: None,
        },
    );
    s.terminal_response("TIMER MANAGEMENT", &cmd, tr, Sw::Exact(0x9000), vec![]);
    // 02-cat.md §9 ENVELOPE D7: timer 1 expired.
    let sw = s.envelope(
        "TIMER EXPIRATION",
        "D7 0C 82 02 82 81 A4 01 01 A5 03 00 01 00",
        Sw::Sw1(0x91),
        vec![("gsm_sim.cat.ber_tlv_tag", num(0xD7u8))],
    );
    // A location-status ENVELOPE while the retry waits for FETCH: toolkit busy.
    s.envelope(
        "EVENT DOWNLOAD (busy)",
        "D6 13 99 01 03 82 02 82 81 9B 01 00 93 07 00 F1 10 00 01 00 02",
        Sw::Exact(0x9300),
        vec![("gsm_sim.cat.ber_tlv_tag", num(0xD6u8))],
    );
    let reg = Expected {
        event: EventKind::RETRY,
        counter: 2,
        imei: IMEI_B,
        previous: Some(IMEI_A),
    };
    let cmd = s.fetch_send_sm(pending(sw), 5, reg);
    let details = ProactiveCommand::parse(&cmd).expect("parse").details();
    let tr = TerminalResponse::success(details, ResponseData::None);
    s.terminal_response("SEND SM retry success", &cmd, tr, Sw::Exact(0x9000), vec![]);
    s.frames
}

/// A GSM SIM handset (CLA `A0`): `9Fxx` + GET RESPONSE, CHV1, first registration.
fn gsm_session() -> Vec<Frame> {
    let mut s = Session::new(true);
    let rsp = s.select(
        "DF.GSM",
        0x00,
        0x00,
        &[0x7F, 0x20],
        vec![("gsm_sim.file_id", num(0x7F20u16))],
    );
    // TS 51.011 §9.2.1: bytes 5–6 of a DF response are the file id.
    assert_eq!(rsp[4..6], [0x7F, 0x20]);
    let rsp = s.select(
        "EF.IMSI",
        0x00,
        0x00,
        &[0x6F, 0x07],
        vec![("gsm_sim.file_id", num(0x6F07u16))],
    );
    assert_eq!(rsp[4..6], [0x6F, 0x07]);
    s.verify_pin(b"1234", 0x9000);
    assert_eq!(s.read_binary("EF.IMSI", 9), h(IMSI));
    s.terminal_profile(0x910B);
    let cmd = s.fetch("PLI IMEI", 0x0B, (1, 0x26, 0x01), 0x82, vec![]);
    assert_eq!(cmd, h(FETCH_PLI_IMEI));
    let details = ProactiveCommand::parse(&cmd).expect("parse").details();
    let tr = TerminalResponse::success(details, ResponseData::Imei(imei_ie(IMEI_A)));
    let sw = s.terminal_response(
        "IMEI",
        &cmd,
        tr,
        Sw::Sw1(0x91),
        vec![("gsm_a.imei", text(IMEI_A))],
    );
    let reg = Expected {
        event: EventKind::FIRST_USE,
        counter: 0,
        imei: IMEI_A,
        previous: None,
    };
    let cmd = s.fetch_send_sm(pending(sw), 2, reg);
    let details = ProactiveCommand::parse(&cmd).expect("parse").details();
    let tr = TerminalResponse::new(
        details,
        applet::wire::cat::CommandResult::new(GeneralResult::SUCCESS),
        ResponseData::None,
    );
    s.terminal_response("SEND SM success", &cmd, tr, Sw::Exact(0x9000), vec![]);
    s.frames
}

/// Checks the registration message tshark extracted from a SEND SHORT MESSAGE frame.
fn check_registration(body_hex: &str, e: &Expected) -> Result<(), String> {
    let bytes = hex::decode(body_hex).map_err(|err| format!("sms_body {body_hex:?}: {err}"))?;
    let r = RegistrationRepr::verify(&bytes, &KEY).map_err(|err| format!("verify: {err:?}"))?;
    let digits = |id: &[u8; 8]| {
        Imei::parse(id)
            .map(|i| i.to_string())
            .map_err(|e| format!("{e:?}"))
    };
    let mut bad = Vec::new();
    if r.event != e.event {
        bad.push(format!("event {:?}, wanted {:?}", r.event, e.event));
    }
    if r.counter != e.counter {
        bad.push(format!("counter {}, wanted {}", r.counter, e.counter));
    }
    if r.iccid[..] != h(ICCID)[..] || r.imsi[..] != h(IMSI)[..] {
        bad.push(format!("ICCID {:02X?} / IMSI {:02X?}", r.iccid, r.imsi));
    }
    if digits(&r.imei)? != e.imei {
        bad.push(format!("IMEI {:?}, wanted {}", digits(&r.imei), e.imei));
    }
    let previous = r.previous_imei.as_ref().map(digits).transpose()?;
    if previous.as_deref() != e.previous {
        bad.push(format!(
            "previous IMEI {previous:?}, wanted {:?}",
            e.previous
        ));
    }
    if r.imeisv.is_some() {
        bad.push("IMEISV present although the configuration does not ask for it".into());
    }
    if bad.is_empty() {
        Ok(())
    } else {
        Err(bad.join("; "))
    }
}

#[test]
fn tshark_decodes_the_cards_own_answers() {
    if !require_tool("tshark", "tshark") {
        return;
    }
    let mut frames = uicc_session();
    frames.extend(gsm_session());
    let payloads: Vec<&[u8]> = frames.iter().map(|f| f.payload.as_slice()).collect();
    let dir = tempfile::tempdir().expect("tempdir");
    let pcap = write_capture(dir.path(), "card-session.pcap", &pcap_of(&payloads));

    let mut fields: Vec<&str> = vec!["frame.number", "frame.protocols", "gsm_sms.sms_body"];
    for f in &frames {
        for (name, _) in &f.want {
            if !fields.contains(name) {
                fields.push(name);
            }
        }
    }
    let rows = tshark::fields(&pcap, &fields);
    assert_eq!(
        rows.len(),
        frames.len(),
        "tshark saw a different number of frames"
    );

    let details = tshark::details(&pcap);
    assert_eq!(details.len(), frames.len(), "tshark -V frame count");
    let mut failures = String::new();
    let mut registrations = 0;
    for (i, (f, row)) in frames.iter().zip(&rows).enumerate() {
        let frame_no = u32::try_from(i + 1).expect("few frames");
        assert_eq!(row[0], frame_no.to_string());
        if !row[1].contains("gsmtap:gsm_sim") {
            let _ = writeln!(
                failures,
                "frame {frame_no} ({}): protocols {}",
                f.what, row[1]
            );
        }
        for (field, w) in &f.want {
            let col = fields.iter().position(|x| x == field).expect("column");
            if let Err(e) = check_cell(&row[col], w) {
                let _ = writeln!(failures, "frame {frame_no} ({}) {field}: {e}", f.what);
            }
        }
        match &f.registration {
            Some(e) => {
                registrations += 1;
                if let Err(err) = check_registration(&row[2], e) {
                    let _ = writeln!(
                        failures,
                        "frame {frame_no} ({}): registration: {err}",
                        f.what
                    );
                }
                // Silent: the alpha identifier object is there and empty (TS 102 223
                // §6.4.10 / 02-cat.md §8); tshark prints it as an empty item.
                let alpha: Vec<&str> = details[i]
                    .lines()
                    .map(str::trim)
                    .filter(|l| l.starts_with("Alpha identifier"))
                    .collect();
                if alpha != ["Alpha identifier:"] {
                    let _ = writeln!(
                        failures,
                        "frame {frame_no} ({}): alpha identifier {alpha:?}",
                        f.what
                    );
                }
            }
            None if !row[2].is_empty() => {
                let _ = writeln!(
                    failures,
                    "frame {frame_no} ({}): unexpected SMS body",
                    f.what
                );
            }
            None => {}
        }
    }
    assert_eq!(registrations, 4, "SEND SHORT MESSAGE frames checked");
    assert!(
        failures.is_empty(),
        "tshark disagrees:\n{failures}\ncapture: {}",
        pcap.display()
    );
    let flagged = tshark::malformed_or_warning_frames(&pcap);
    assert!(
        flagged.is_empty(),
        "malformed or warning frames: {flagged:?}"
    );
}
