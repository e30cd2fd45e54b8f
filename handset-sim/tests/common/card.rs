//! A small UICC-like test card: strict T=0 behaviour for a handful of commands.
//!
//! Exchanges follow `/work/shared/spec/01-apdu.md` §3 (SELECT MF → `61 2C`, GSM SELECT
//! DF.GSM → `9F 17`, READ BINARY with wrong Le → `6C 0A`) and `07-vpcd.md` §3
//! (TERMINAL PROFILE → `91 0B`, FETCH → `D0 09 …`).

use std::sync::{Arc, Mutex};

use handset_sim::VirtualCard;

/// sysmoUSIM-SJS1 ATR (`/work/shared/spec/01-apdu.md` §4): T=0.
pub const USIM_ATR: [u8; 22] = [
    0x3B, 0x9F, 0x96, 0x80, 0x1F, 0xC7, 0x80, 0x31, 0xA0, 0x73, 0xBE, 0x21, 0x13, 0x67, 0x43, 0x20,
    0x07, 0x18, 0x00, 0x00, 0x01, 0xA5,
];

/// [`USIM_ATR`] with its last three historical bytes replaced by `tag` and TCK
/// recomputed (XOR of T0..TCK = 0, ISO 7816-3 §8.2.5): lets a test recognise its own
/// card behind a shared `pcscd`.
pub fn tagged_atr(tag: [u8; 3]) -> Vec<u8> {
    let mut atr = USIM_ATR.to_vec();
    atr[18..21].copy_from_slice(&tag);
    let tck = atr[1..21].iter().fold(0u8, |x, b| x ^ b);
    atr[21] = tck;
    atr
}

/// FCP of the MF, 44 bytes, tag 62 (length matches the `61 2C` of 01-apdu.md §3).
pub fn mf_fcp() -> Vec<u8> {
    let mut v = vec![0x62, 0x2A, 0x82, 0x02, 0x78, 0x21, 0x83, 0x02, 0x3F, 0x00];
    v.resize(44, 0x00);
    v
}

/// DF.GSM response of a GSM SIM (23 bytes; swsim issue #6 trace, 01-apdu.md §3).
pub const DF_GSM_RSP: [u8; 23] = [
    0x00, 0x00, 0xFF, 0xFF, 0x7F, 0x20, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0A, 0x82, 0x01, 0x13,
    0x04, 0x00, 0x83, 0x8A, 0x83, 0x8A, 0x00,
];

/// EF.ICCID content (pySim test vector, 01-apdu.md §3).
pub const ICCID: [u8; 10] = [0x98, 0x88, 0x12, 0x01, 0x00, 0x00, 0x40, 0x03, 0x10, 0xF0];

/// FETCH answer: a proactive command of 11 bytes (07-vpcd.md §3).
pub const PROACTIVE: [u8; 11] = [
    0xD0, 0x09, 0x81, 0x03, 0x01, 0x26, 0x01, 0x82, 0x02, 0x81, 0x82,
];

/// What happened to the card, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Cold reset (vpcd `01`).
    PowerOn,
    /// Warm reset (vpcd `02`).
    Reset,
    /// Power off (vpcd `00`).
    PowerOff,
    /// A command TPDU as received.
    Apdu(Vec<u8>),
}

/// Shared view of a card's event log (the card itself moves into a server thread).
#[derive(Debug, Clone, Default)]
pub struct EventLog(Arc<Mutex<Vec<Event>>>);

impl EventLog {
    /// Copy of all events so far.
    pub fn snapshot(&self) -> Vec<Event> {
        self.0.lock().unwrap().clone()
    }
    fn push(&self, e: Event) {
        self.0.lock().unwrap().push(e);
    }
}

/// The test card.
#[derive(Debug)]
pub struct TestCard {
    atr: Vec<u8>,
    log: EventLog,
    /// Response data waiting for GET RESPONSE.
    pending: Vec<u8>,
    /// Proactive command waiting for FETCH.
    proactive: bool,
    /// INS E0 makes every later GET RESPONSE answer `61 10` (misbehaving card).
    endless: bool,
}

impl TestCard {
    /// A card with this ATR and a fresh event log.
    pub fn new(atr: Vec<u8>) -> (Self, EventLog) {
        let log = EventLog::default();
        let card = Self {
            atr,
            log: log.clone(),
            pending: Vec::new(),
            proactive: false,
            endless: false,
        };
        (card, log)
    }

    fn clear(&mut self) {
        self.pending.clear();
        self.proactive = false;
        self.endless = false;
    }

    fn ok(mut data: Vec<u8>) -> Vec<u8> {
        data.extend_from_slice(&[0x90, 0x00]);
        data
    }

    /// GET RESPONSE with P3 = `le` (0 = 256): exact length or `6C`/`67` with the
    /// available length; a shorter request gets the head and `61` with the rest.
    fn get_response(&mut self, gsm: bool, le: u8) -> Vec<u8> {
        if self.endless {
            return vec![0x61, 0x10];
        }
        if self.pending.is_empty() {
            return if gsm {
                vec![0x94, 0x00]
            } else {
                vec![0x69, 0x85]
            };
        }
        let avail = self.pending.len();
        let want = if le == 0 { 256 } else { usize::from(le) };
        if want > avail {
            return vec![if gsm { 0x67 } else { 0x6C }, avail as u8];
        }
        let data: Vec<u8> = self.pending.drain(..want).collect();
        if self.pending.is_empty() {
            Self::ok(data)
        } else {
            let mut d = data;
            d.extend_from_slice(&[0x61, self.pending.len() as u8]);
            d
        }
    }
}

impl VirtualCard for TestCard {
    fn atr(&self) -> Vec<u8> {
        self.atr.clone()
    }
    fn power_on(&mut self) {
        self.clear();
        self.log.push(Event::PowerOn);
    }
    fn reset(&mut self) {
        self.clear();
        self.log.push(Event::Reset);
    }
    fn power_off(&mut self) {
        self.clear();
        self.log.push(Event::PowerOff);
    }

    fn process(&mut self, apdu: &[u8]) -> Vec<u8> {
        self.log.push(Event::Apdu(apdu.to_vec()));
        // Strict T=0: always a 5-byte header, P3 = length of what follows (or Le).
        let Some(([cla, ins, p1, p2, p3], body)) =
            apdu.split_first_chunk::<5>().map(|(h, b)| (*h, b))
        else {
            return vec![0x67, 0x00];
        };
        let case3ish = matches!(ins, 0xA4 | 0x10 | 0x88);
        if case3ish && body.len() != usize::from(p3) {
            // e.g. a case-4 APDU sent with its Le: not a valid T=0 TPDU.
            return vec![0x67, 0x00];
        }
        if !case3ish && !body.is_empty() {
            return vec![0x67, 0x00];
        }
        match (cla, ins, p1, p2, body) {
            // SELECT MF by FID, return FCP (UICC).
            (0x00, 0xA4, 0x00, 0x04, [0x3F, 0x00]) => {
                self.pending = mf_fcp();
                vec![0x61, 0x2C]
            }
            // SELECT DF.GSM (GSM SIM).
            (0xA0, 0xA4, 0x00, 0x00, [0x7F, 0x20]) => {
                self.pending = DF_GSM_RSP.to_vec();
                vec![0x9F, 0x17]
            }
            (0x00 | 0xA0, 0xA4, ..) => vec![0x6A, 0x82],
            // GET RESPONSE.
            (0x00, 0xC0, 0x00, 0x00, []) => self.get_response(false, p3),
            (0xA0, 0xC0, 0x00, 0x00, []) => self.get_response(true, p3),
            // READ BINARY of EF.ICCID: only Le 0A is right.
            (0x00, 0xB0, 0x00, 0x00, []) if p3 == ICCID.len() as u8 => Self::ok(ICCID.to_vec()),
            (0x00, 0xB0, 0x00, 0x00, []) => vec![0x6C, ICCID.len() as u8],
            // A case-1 command (TERMINAL CAPABILITY shaped): P3 must be 00.
            (0x80, 0xAA, 0x00, 0x00, []) if p3 == 0 => vec![0x90, 0x00],
            // TERMINAL PROFILE → a proactive command is pending.
            (0x80, 0x10, 0x00, 0x00, _) => {
                self.proactive = true;
                vec![0x91, PROACTIVE.len() as u8]
            }
            // FETCH.
            (0x80, 0x12, 0x00, 0x00, []) if self.proactive && p3 == PROACTIVE.len() as u8 => {
                self.proactive = false;
                Self::ok(PROACTIVE.to_vec())
            }
            // AUTHENTICATE-shaped case 4 that ends with a warning and 4 bytes of data.
            (0x00, 0x88, 0x00, 0x81, _) => {
                self.pending = vec![0xDE, 0xAD, 0xBE, 0xEF];
                vec![0x62, 0xF3]
            }
            // Misbehaving: endless "more data".
            (0x00, 0xE0, ..) => {
                self.endless = true;
                vec![0x61, 0x10]
            }
            (0x00 | 0x80 | 0xA0, ..) => vec![0x6D, 0x00],
            _ => vec![0x6E, 0x00],
        }
    }
}
