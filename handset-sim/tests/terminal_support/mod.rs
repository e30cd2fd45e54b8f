//! A scripted UICC (or GSM SIM) for the terminal tests: a tiny file system answering the
//! power-up sequence with strict T=0 behaviour, and a script of proactive commands and
//! ENVELOPE answers. It records every command TPDU it receives.
//!
//! File contents are the vectors of `/work/shared/spec/01-apdu.md` §3/§5 (pySim):
//! EF.ICCID `98 88 12 01 00 00 40 03 10 F0` = 8988211000000430010, EF.IMSI
//! `08 09 10 10 10 32 54 76 98` = 001010123456789, the EF.DIR record with the USIM AID
//! `A0000000871002FFFFFFFF8907090000` "USim1".
#![allow(dead_code)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use handset_sim::VirtualCard;

/// sysmoUSIM-SJS1 ATR (01-apdu.md §4).
pub const ATR: [u8; 22] = [
    0x3B, 0x9F, 0x96, 0x80, 0x1F, 0xC7, 0x80, 0x31, 0xA0, 0x73, 0xBE, 0x21, 0x13, 0x67, 0x43, 0x20,
    0x07, 0x18, 0x00, 0x00, 0x01, 0xA5,
];
/// EF.ICCID (01-apdu.md §3).
pub const EF_ICCID: [u8; 10] = [0x98, 0x88, 0x12, 0x01, 0x00, 0x00, 0x40, 0x03, 0x10, 0xF0];
/// EF.IMSI (01-apdu.md §5).
pub const EF_IMSI: [u8; 9] = [0x08, 0x09, 0x10, 0x10, 0x10, 0x32, 0x54, 0x76, 0x98];
/// USIM AID (01-apdu.md §5).
pub const USIM_AID: [u8; 16] = [
    0xA0, 0x00, 0x00, 0x00, 0x87, 0x10, 0x02, 0xFF, 0xFF, 0xFF, 0xFF, 0x89, 0x07, 0x09, 0x00, 0x00,
];

/// Hex with spaces ignored, for readable vectors.
pub fn h(s: &str) -> Vec<u8> {
    hex::decode(s.replace(' ', "")).expect("test vector is hex")
}

/// One FETCH answer.
#[derive(Debug, Clone)]
pub struct Fetch {
    /// Length announced in `91 xx` (defaults to `data.len()`).
    pub announce: u8,
    /// What FETCH returns before `90 00`.
    pub data: Vec<u8>,
}

impl Fetch {
    /// A command announced with its true length.
    pub fn cmd(data: Vec<u8>) -> Self {
        Fetch {
            announce: data.len().min(255) as u8,
            data,
        }
    }
}

/// What the card saw and holds; shared so tests can look while the card is in a reader.
#[derive(Debug, Default)]
pub struct State {
    /// Every command TPDU, in order.
    pub apdus: Vec<Vec<u8>>,
    /// Data fields of every TERMINAL RESPONSE.
    pub responses: Vec<Vec<u8>>,
    /// Data fields of every ENVELOPE.
    pub envelopes: Vec<Vec<u8>>,
    /// TERMINAL PROFILE data fields.
    pub profiles: Vec<Vec<u8>>,
    /// Pending proactive commands.
    pub script: VecDeque<Fetch>,
    /// When set, every answer that could carry `91 xx` announces this command again:
    /// a card that never ends its proactive session.
    pub endless: Option<Vec<u8>>,
    /// Status words for the next ENVELOPEs (then `90 00` / `91 xx`).
    pub envelope_sw: VecDeque<u16>,
    /// Commands to queue after each ENVELOPE (e.g. a timer restarts).
    pub after_envelope: VecDeque<Vec<Fetch>>,
    /// Commands to queue after each TERMINAL RESPONSE, in order.
    pub after_response: VecDeque<Vec<Fetch>>,
    /// When non-empty, every power-on restarts the script with these commands (a card
    /// that plays the same session on every power-up).
    pub replay: Vec<Fetch>,
}

/// The scripted card.
#[derive(Debug, Clone)]
pub struct ScriptedCard {
    /// Shared state.
    pub state: Arc<Mutex<State>>,
    /// Behave as a GSM SIM (class `A0` only, `9F xx`).
    pub gsm: bool,
    /// PIN1 (ASCII).
    pub pin: &'static [u8],
    /// Omit the USIM from EF.DIR.
    pub no_usim: bool,
    /// The ATR (default [`ATR`]; tests on a shared pcscd tag it).
    pub atr: Vec<u8>,
    selected: u16,
    pending_response: Vec<u8>,
    pin_tries: u8,
}

impl ScriptedCard {
    /// A UICC with a USIM and the given proactive script.
    pub fn new(script: impl IntoIterator<Item = Fetch>) -> Self {
        let state = State {
            script: script.into_iter().collect(),
            ..State::default()
        };
        ScriptedCard {
            state: Arc::new(Mutex::new(state)),
            gsm: false,
            pin: b"1234",
            no_usim: false,
            atr: ATR.to_vec(),
            selected: 0x3F00,
            pending_response: Vec::new(),
            pin_tries: 3,
        }
    }

    /// Convenience: a script of well-formed commands.
    pub fn with_commands(cmds: impl IntoIterator<Item = Vec<u8>>) -> Self {
        Self::new(cmds.into_iter().map(Fetch::cmd))
    }

    /// Locks the shared state.
    pub fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("state lock")
    }

    fn ok_or_pending(&self) -> Vec<u8> {
        let st = self.state();
        if let Some(e) = &st.endless {
            return vec![0x91, e.len() as u8];
        }
        match st.script.front() {
            Some(f) => vec![0x91, f.announce],
            None => vec![0x90, 0x00],
        }
    }

    fn respond_with(&mut self, data: Vec<u8>) -> Vec<u8> {
        let n = data.len() as u8;
        self.pending_response = data;
        if self.gsm {
            vec![0x9F, n]
        } else {
            vec![0x61, n]
        }
    }

    fn fcp(&self, fid: u16) -> Vec<u8> {
        let [a, b] = fid.to_be_bytes();
        vec![0x62, 0x04, 0x83, 0x02, a, b]
    }

    fn ef_dir_record(&self) -> Vec<u8> {
        let mut r = vec![0x61, 0x19, 0x4F, 0x10];
        r.extend_from_slice(&USIM_AID);
        r.extend_from_slice(&[0x50, 0x05, b'U', b'S', b'i', b'm', b'1', 0xFF, 0xFF]);
        r
    }

    fn select(&mut self, apdu: &[u8]) -> Vec<u8> {
        let p1 = apdu[2];
        let data = &apdu[5..];
        if p1 == 0x04 {
            if data == USIM_AID && !self.no_usim && !self.gsm {
                self.selected = 0x7FF0;
                return self.respond_with(self.fcp(0x7FF0));
            }
            return vec![0x6A, 0x82];
        }
        let Ok(fid) = <[u8; 2]>::try_from(data) else {
            return vec![0x67, 0x00];
        };
        let fid = u16::from_be_bytes(fid);
        let known = match fid {
            0x3F00 | 0x2FE2 | 0x7F20 | 0x6F07 => true,
            0x2F00 => !self.gsm && !self.no_usim,
            _ => false,
        };
        if !known {
            return if self.gsm {
                vec![0x94, 0x04]
            } else {
                vec![0x6A, 0x82]
            };
        }
        self.selected = fid;
        if self.gsm {
            self.respond_with(vec![0x00; 15])
        } else {
            self.respond_with(self.fcp(fid))
        }
    }

    fn read_binary(&self, le: u8) -> Vec<u8> {
        let content: &[u8] = match self.selected {
            0x2FE2 => &EF_ICCID,
            0x6F07 => &EF_IMSI,
            _ => return vec![0x69, 0x86],
        };
        if usize::from(le) != content.len() {
            return if self.gsm {
                vec![0x67, content.len() as u8]
            } else {
                vec![0x6C, content.len() as u8]
            };
        }
        let mut v = content.to_vec();
        v.extend_from_slice(&[0x90, 0x00]);
        v
    }
}

impl VirtualCard for ScriptedCard {
    fn atr(&self) -> Vec<u8> {
        self.atr.clone()
    }
    fn power_on(&mut self) {
        self.selected = 0x3F00;
        self.pending_response.clear();
        let mut st = self.state();
        if !st.replay.is_empty() {
            st.script = st.replay.iter().cloned().collect();
        }
    }
    fn reset(&mut self) {
        self.power_on();
    }
    fn power_off(&mut self) {}

    fn process(&mut self, apdu: &[u8]) -> Vec<u8> {
        self.state().apdus.push(apdu.to_vec());
        if apdu.len() < 5 {
            return vec![0x67, 0x00];
        }
        let (cla, ins, p1, p3) = (apdu[0], apdu[1], apdu[2], apdu[4]);
        let data = apdu[5..].to_vec();
        if self.gsm && cla != 0xA0 {
            return vec![0x6E, 0x00];
        }
        match ins {
            0xA4 => self.select(apdu),
            0xC0 => {
                let mut v = std::mem::take(&mut self.pending_response);
                v.truncate(usize::from(p3));
                v.extend_from_slice(&[0x90, 0x00]);
                v
            }
            0xB0 => self.read_binary(p3),
            0xB2 => {
                if self.selected != 0x2F00 {
                    return vec![0x69, 0x86];
                }
                if p1 != 1 {
                    return vec![0x6A, 0x83];
                }
                let rec = self.ef_dir_record();
                if usize::from(p3) != rec.len() {
                    return vec![0x6C, rec.len() as u8];
                }
                let mut v = rec;
                v.extend_from_slice(&[0x90, 0x00]);
                v
            }
            0x20 => {
                if self.pin_tries == 0 {
                    return vec![0x69, 0x83];
                }
                let given: Vec<u8> = data.iter().copied().take_while(|&b| b != 0xFF).collect();
                if given == self.pin {
                    self.pin_tries = 3;
                    vec![0x90, 0x00]
                } else {
                    self.pin_tries -= 1;
                    vec![0x63, 0xC0 | self.pin_tries]
                }
            }
            0x10 => {
                self.state().profiles.push(data);
                self.ok_or_pending()
            }
            0x12 => {
                let mut st = self.state();
                let f = if let Some(e) = &st.endless {
                    Fetch::cmd(e.clone())
                } else {
                    match st.script.pop_front() {
                        Some(f) => f,
                        None => return vec![0x6F, 0x00],
                    }
                };
                drop(st);
                let mut v = f.data;
                v.extend_from_slice(&[0x90, 0x00]);
                v
            }
            0x14 => {
                let mut st = self.state();
                st.responses.push(data);
                if let Some(more) = st.after_response.pop_front() {
                    st.script.extend(more);
                }
                drop(st);
                self.ok_or_pending()
            }
            0xC2 => {
                let mut st = self.state();
                st.envelopes.push(data);
                if let Some(sw) = st.envelope_sw.pop_front() {
                    return sw.to_be_bytes().to_vec();
                }
                if let Some(more) = st.after_envelope.pop_front() {
                    st.script.extend(more);
                }
                drop(st);
                self.ok_or_pending()
            }
            0xF2 => self.ok_or_pending(),
            _ => vec![0x6D, 0x00],
        }
    }
}
