//! A tiny test "handset" for the card tests: speaks T=0 with a [`Card`] (GET RESPONSE on
//! `61xx`/`9Fxx`, FETCH on `91xx`) and answers the proactive commands with the wire
//! codecs — PROVIDE LOCAL INFORMATION with its IMEI/IMEISV, SEND SHORT MESSAGE with a
//! scripted result, SET UP EVENT LIST and TIMER MANAGEMENT with success.
#![allow(dead_code)]

use applet::card::{Card, CardNvm, MAX_RESPONSE, Personalisation, test_personalisation};
use applet::wire::apdu::StatusWord;
use applet::wire::cat::{
    CommandResult, GeneralResult, ImeiIe, ImeisvIe, ProactiveCommand, ResponseData,
    TerminalResponse, TimerIdentifier,
};
use applet::wire::registration::RegistrationRepr;
use applet::wire::sms::SmsSubmit;
use std::collections::VecDeque;

/// IMEI 490154203237518 (03-imei.md §3).
pub const IMEI_A: [u8; 8] = [0x4A, 0x09, 0x51, 0x24, 0x30, 0x32, 0x57, 0x81];
/// IMEI 352099001761481 (03-imei.md §2).
pub const IMEI_B: [u8; 8] = [0x3A, 0x25, 0x90, 0x09, 0x10, 0x67, 0x41, 0x18];
/// IMEISV 4901542032375101 (03-imei.md §3).
pub const IMEISV_A: [u8; 9] = [0x43, 0x09, 0x51, 0x24, 0x30, 0x32, 0x57, 0x01, 0xF1];
/// TERMINAL PROFILE of 02-cat.md §7: PLI, SEND SM, event list + location status,
/// timer management + timer expiration.
pub const TP_FULL: [u8; 8] = [0x23, 0x01, 0x29, 0x42, 0x11, 0x00, 0x00, 0x07];
/// Only PLI + SEND SM (no way to wake the card up for a retry).
pub const TP_MIN: [u8; 4] = [0x00, 0x00, 0x00, 0x42];
/// The registration key of [`test_personalisation`].
pub const KEY: [u8; 16] = [
    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF,
];

/// Hex helper.
pub fn h(s: &str) -> Vec<u8> {
    hex::decode(s.replace(' ', "")).unwrap()
}

pub fn new_card(p: &Personalisation) -> Card {
    let mut c = Card::new(p, CardNvm::new()).unwrap();
    c.power_on(true);
    c
}

pub fn default_card() -> Card {
    new_card(&test_personalisation())
}

/// One raw exchange.
pub fn xchg(card: &mut Card, apdu: &[u8], now: u64) -> Vec<u8> {
    let mut out = [0u8; MAX_RESPONSE];
    let n = card.process(apdu, now, &mut out);
    out[..n].to_vec()
}

pub fn sw(resp: &[u8]) -> StatusWord {
    StatusWord::from_bytes(resp[resp.len() - 2], resp[resp.len() - 1])
}

/// The scripted phone.
pub struct Handset {
    pub card: Card,
    pub gsm: bool,
    pub now: u64,
    pub imei: Option<[u8; 8]>,
    pub imeisv: Option<[u8; 9]>,
    /// Results for successive SEND SHORT MESSAGEs (general result, additional info);
    /// empty = success.
    pub sms_results: VecDeque<(u8, Vec<u8>)>,
    /// Every registration message sent (verified with [`KEY`]).
    pub sent: Vec<RegistrationRepr>,
    /// Timers started by the card (id, seconds).
    pub timers: Vec<(u8, u32)>,
    /// Every exchange: command, response.
    pub log: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Handset {
    pub fn new(card: Card, gsm: bool) -> Self {
        Handset {
            card,
            gsm,
            now: 1_000,
            imei: Some(IMEI_A),
            imeisv: None,
            sms_results: VecDeque::new(),
            sent: Vec::new(),
            timers: Vec::new(),
            log: Vec::new(),
        }
    }

    fn cla(&self, toolkit: bool) -> u8 {
        match (self.gsm, toolkit) {
            (true, _) => 0xA0,
            (false, true) => 0x80,
            (false, false) => 0x00,
        }
    }

    /// Sends one TPDU, logs it, returns the response.
    pub fn tx(&mut self, apdu: &[u8]) -> Vec<u8> {
        let r = xchg(&mut self.card, apdu, self.now);
        self.log.push((apdu.to_vec(), r.clone()));
        r
    }

    /// Sends a command and completes it at T=0 level (GET RESPONSE on 61xx/9Fxx);
    /// returns (data, final SW); then runs the proactive loop on 91xx.
    pub fn send(&mut self, apdu: &[u8]) -> (Vec<u8>, StatusWord) {
        let mut r = self.tx(apdu);
        let mut data = Vec::new();
        loop {
            let s = sw(&r);
            data.extend_from_slice(&r[..r.len() - 2]);
            if let Some(n) = s.response_available() {
                r = self.tx(&[self.cla(false), 0xC0, 0, 0, n]);
                continue;
            }
            if s.is_proactive_pending().is_some() {
                return (data, self.proactive_loop(s));
            }
            return (data, s);
        }
    }

    pub fn power_on(&mut self, cold: bool) -> Vec<u8> {
        self.card.power_on(cold).to_vec()
    }

    pub fn terminal_profile(&mut self, tp: &[u8]) -> StatusWord {
        let mut apdu = vec![self.cla(true), 0x10, 0, 0, tp.len() as u8];
        apdu.extend_from_slice(tp);
        self.send(&apdu).1
    }

    pub fn envelope(&mut self, env: &[u8]) -> StatusWord {
        let mut apdu = vec![self.cla(true), 0xC2, 0, 0, env.len() as u8];
        apdu.extend_from_slice(env);
        self.send(&apdu).1
    }

    /// Timer 1 expired (02-cat.md §9 ENVELOPE D7).
    pub fn timer_expired(&mut self, id: u8) -> StatusWord {
        self.envelope(&[
            0xD7, 0x0C, 0x82, 0x02, 0x82, 0x81, 0xA4, 0x01, id, 0xA5, 0x03, 0x00, 0x03, 0x00,
        ])
    }

    /// Location status normal service (02-cat.md §9 ENVELOPE D6).
    pub fn location_normal(&mut self) -> StatusWord {
        self.envelope(&h(
            "D6 13 99 01 03 82 02 82 81 9B 01 00 93 07 00 F1 10 00 01 00 02",
        ))
    }

    /// Power-up session: cold reset, TERMINAL PROFILE, proactive loop.
    pub fn boot(&mut self, tp: &[u8]) -> StatusWord {
        self.power_on(true);
        self.terminal_profile(tp)
    }

    /// FETCH → TERMINAL RESPONSE until the card stops answering 91xx; returns the
    /// last TERMINAL RESPONSE's status word.
    pub fn proactive_loop(&mut self, mut s: StatusWord) -> StatusWord {
        while let Some(len) = s.is_proactive_pending() {
            let r = self.tx(&[self.cla(true), 0x12, 0, 0, len]);
            assert_eq!(sw(&r), StatusWord::OK, "FETCH");
            let cmd = r[..r.len() - 2].to_vec();
            let tr = self.answer(&cmd);
            let mut apdu = vec![self.cla(true), 0x14, 0, 0, tr.len() as u8];
            apdu.extend_from_slice(&tr);
            let r = self.tx(&apdu);
            s = sw(&r);
        }
        s
    }

    /// The TERMINAL RESPONSE to a fetched command.
    pub fn answer(&mut self, cmd: &[u8]) -> Vec<u8> {
        let pc = ProactiveCommand::parse(cmd).expect("proactive command parses");
        let details = pc.details();
        let mut buf = [0u8; 64];
        let tr = match pc {
            ProactiveCommand::ProvideLocalInformation(p) => match p.qualifier().0 {
                0x01 => match self.imei {
                    Some(i) => {
                        TerminalResponse::success(details, ResponseData::Imei(ImeiIe::new(i)))
                    }
                    None => TerminalResponse::success(details, ResponseData::None),
                },
                0x08 => match self.imeisv {
                    Some(i) => {
                        TerminalResponse::success(details, ResponseData::Imeisv(ImeisvIe::new(i)))
                    }
                    None => TerminalResponse::new(
                        details,
                        CommandResult::new(GeneralResult::BEYOND_TERMINAL_CAPABILITIES),
                        ResponseData::None,
                    ),
                },
                q => panic!("unexpected PLI qualifier {q:02X}"),
            },
            ProactiveCommand::SendShortMessage(sm) => {
                assert!(
                    sm.alpha.expect("alpha identifier present").is_null(),
                    "silent"
                );
                let submit = SmsSubmit::parse(sm.tpdu.tpdu).expect("SMS-SUBMIT");
                let ud = submit.user_data.data().expect("8-bit data");
                self.sent
                    .push(RegistrationRepr::verify(ud, &KEY).expect("MAC verifies"));
                let (g, add) = self.sms_results.pop_front().unwrap_or((0, vec![]));
                let n = TerminalResponse::new(
                    details,
                    CommandResult::with_additional(GeneralResult(g), &add),
                    ResponseData::None,
                )
                .emit(&mut buf)
                .unwrap();
                return buf[..n].to_vec();
            }
            ProactiveCommand::TimerManagement(t) => {
                self.timers
                    .push((t.timer_id.id, t.value.map_or(0, |v| v.as_secs())));
                TerminalResponse::success(
                    details,
                    ResponseData::Timer {
                        id: TimerIdentifier::new(t.timer_id.id),
                        value: None,
                    },
                )
            }
            ProactiveCommand::SetUpEventList(_) => {
                TerminalResponse::success(details, ResponseData::None)
            }
            other => panic!("unexpected proactive command {other:?}"),
        };
        let n = tr.emit(&mut buf).unwrap();
        buf[..n].to_vec()
    }
}
