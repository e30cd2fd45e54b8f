//! The T=0 transport layer: one logical command APDU in, response data and final
//! status word out, whatever reader is underneath.
//!
//! Rules (ISO 7816-3 §12.2; `/work/shared/spec/01-apdu.md` §1–§2, following the order
//! osmocom pySim's transport uses):
//!
//! - The command goes out as a TPDU `CLA INS P1 P2 P3 [data]`: case 1 gets `P3 = 00`,
//!   case 2 `P3 = Le`, case 3 `P3 = Lc`, case 4 is sent **as case 3** (Le dropped).
//!   Under T=1 the APDU goes out unchanged.
//! - `61 xx` (UICC) or `9F xx` (GSM SIM): send GET RESPONSE with `P3 = xx` and append
//!   what it returns; repeat while the card keeps answering so.
//! - `6C xx` to a TPDU without command data: re-send the same header with `P3 = xx`.
//! - `62 xx` / `63 xx` as the first answer to a case-4 command under T=0: send GET
//!   RESPONSE with `P3 = 00` (then `6C`/`61` as above). The warning is the final status
//!   word when that GET RESPONSE ends in `90 00`; if it fails, the warning is returned
//!   without data.
//! - Anything else (`90 00`, `91 xx`, errors) ends the exchange.
//!
//! GET RESPONSE is `A0 C0 00 00 xx` after a CLA `A0` (GSM) command and otherwise
//! `0c C0 00 00 xx` where `0c` is the inter-industry class carrying the command's
//! logical channel (so `80 C2` ENVELOPE is followed by `00 C0`).
//! Every loop is bounded: after [`DEFAULT_MAX_ROUNDS`] (or the configured number of)
//! TPDUs for one command, [`T0Error::TooManyRounds`] — never a hang.

use tracing::debug;

use crate::reader::{CardReader, Protocol, ReaderError};

/// Default bound on TPDUs exchanged for one command APDU (32 × 256 bytes of GET
/// RESPONSE data is far more than any UICC answer).
pub const DEFAULT_MAX_ROUNDS: usize = 32;

/// INS of GET RESPONSE (ISO 7816-4 §7.6.1; `/work/shared/spec/01-apdu.md` §1).
pub const INS_GET_RESPONSE: u8 = 0xC0;

/// CLA of the GSM SIM command set (3GPP TS 51.011 §9.2).
pub const CLA_GSM: u8 = 0xA0;

/// Errors of the T=0 layer.
#[derive(Debug, thiserror::Error)]
pub enum T0Error {
    /// The reader below failed.
    #[error(transparent)]
    Reader(#[from] ReaderError),
    /// The command APDU is not a well-formed short APDU (ISO 7816-3 §12.1).
    #[error("malformed command APDU: {0}")]
    BadCommand(String),
    /// The card kept requesting GET RESPONSE / re-sends beyond the bound.
    #[error("card still asked for more exchanges after {0} TPDUs")]
    TooManyRounds(usize),
}

/// ISO 7816-3 §12.1 command case, with the expected response length where there is one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Case {
    /// No command data, no response data: `CLA INS P1 P2`.
    Case1,
    /// No command data; `le` (1..=256) bytes expected: `CLA INS P1 P2 Le`.
    Case2 {
        /// Expected response length; a coded `00` means 256.
        le: u16,
    },
    /// Command data, no response data: `CLA INS P1 P2 Lc data`.
    Case3,
    /// Command data and response data: `CLA INS P1 P2 Lc data Le`.
    Case4 {
        /// Expected response length; a coded `00` means 256.
        le: u16,
    },
}

/// A short command APDU, split into header, data and case (ISO 7816-3 §12.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Command<'a> {
    /// `CLA INS P1 P2`.
    pub header: [u8; 4],
    /// Command data (empty for cases 1 and 2).
    pub data: &'a [u8],
    /// The case.
    pub case: Case,
}

fn le_of(b: u8) -> u16 {
    if b == 0 { 256 } else { u16::from(b) }
}

impl<'a> Command<'a> {
    /// Splits a short command APDU. Extended length (`Lc = 00` followed by two bytes)
    /// is not representable in T=0 and is rejected.
    pub fn parse(apdu: &'a [u8]) -> Result<Self, T0Error> {
        let (header, body) = match apdu.split_first_chunk::<4>() {
            Some((h, b)) => (*h, b),
            None => {
                return Err(T0Error::BadCommand(format!(
                    "{} byte(s), a header needs 4",
                    apdu.len()
                )));
            }
        };
        let case = match body {
            [] => {
                return Ok(Self {
                    header,
                    data: &[],
                    case: Case::Case1,
                });
            }
            [le] => {
                return Ok(Self {
                    header,
                    data: &[],
                    case: Case::Case2 { le: le_of(*le) },
                });
            }
            [0, ..] => {
                return Err(T0Error::BadCommand(
                    "extended-length APDU (Lc = 00 + 2 bytes) not supported".into(),
                ));
            }
            [lc, rest @ ..] => {
                let lc = usize::from(*lc);
                match rest.len().checked_sub(lc) {
                    Some(0) => (Case::Case3, lc),
                    Some(1) => (
                        Case::Case4 {
                            le: le_of(rest[lc]),
                        },
                        lc,
                    ),
                    _ => {
                        return Err(T0Error::BadCommand(format!(
                            "Lc = {lc} but {} byte(s) follow",
                            rest.len()
                        )));
                    }
                }
            }
        };
        let (case, lc) = case;
        Ok(Self {
            header,
            data: &body[1..=lc],
            case,
        })
    }

    /// CLA byte.
    pub fn cla(&self) -> u8 {
        self.header[0]
    }

    /// INS byte.
    pub fn ins(&self) -> u8 {
        self.header[1]
    }

    /// The T=0 TPDU for this command (`/work/shared/spec/01-apdu.md` §1 table).
    pub fn tpdu(&self) -> Vec<u8> {
        let mut t = self.header.to_vec();
        match self.case {
            Case::Case1 => t.push(0x00),
            // 256 is coded as 00.
            Case::Case2 { le } => t.push(le as u8),
            Case::Case3 | Case::Case4 { .. } => {
                t.push(self.data.len() as u8);
                t.extend_from_slice(self.data);
            }
        }
        t
    }
}

/// CLA for GET RESPONSE after a command of class `cla`: `A0` for GSM, otherwise the
/// inter-industry class with the same logical channel (ISO 7816-4 §5.4.1; TS 102 221
/// §10.1.1): `0x`/`8x` keep b2..b1, `4x`–`7x`/`Cx`–`Fx` keep b4..b1.
pub fn get_response_cla(cla: u8) -> u8 {
    if cla == CLA_GSM {
        CLA_GSM
    } else if cla & 0x40 == 0 {
        cla & 0x03
    } else {
        0x40 | (cla & 0x0F)
    }
}

/// Final outcome of one command APDU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Response data gathered over all GET RESPONSE rounds.
    pub data: Vec<u8>,
    /// SW1 of the final answer (or the warning, see the module doc).
    pub sw1: u8,
    /// SW2.
    pub sw2: u8,
}

impl Response {
    /// SW1 SW2 as one number, e.g. `0x9000`.
    pub fn sw(&self) -> u16 {
        u16::from_be_bytes([self.sw1, self.sw2])
    }

    /// `90 00`, or `91 xx` (normal ending with a proactive command pending, TS 102 221
    /// §10.2.1.1).
    pub fn is_success(&self) -> bool {
        self.sw() == 0x9000 || self.sw1 == 0x91
    }

    /// data ‖ SW1 SW2, the shape of an R-APDU.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = self.data.clone();
        v.extend_from_slice(&[self.sw1, self.sw2]);
        v
    }
}

/// Sends one logical command APDU through `reader` following the T=0 rules in the
/// module doc, with at most `max_rounds` TPDUs.
pub fn transceive<R: CardReader + ?Sized>(
    reader: &mut R,
    apdu: &[u8],
    max_rounds: usize,
) -> Result<Response, T0Error> {
    let cmd = Command::parse(apdu)?;
    let t0 = reader.protocol() == Protocol::T0;
    let gr_cla = get_response_cla(cmd.cla());
    let get_response = |p3: u8| vec![gr_cla, INS_GET_RESPONSE, 0x00, 0x00, p3];

    let mut tpdu = if t0 { cmd.tpdu() } else { apdu.to_vec() };
    let mut data = Vec::new();
    let mut first = true;
    let mut warning: Option<(u8, u8)> = None;
    for _ in 0..max_rounds {
        let rsp = reader.transmit(&tpdu)?;
        let Some((&[sw1, sw2], body)) = rsp.split_last_chunk::<2>().map(|(b, sw)| (sw, b)) else {
            return Err(ReaderError::Protocol("response without status word".into()).into());
        };
        debug!(tpdu = %hex::encode_upper(&tpdu), rsp = %hex::encode_upper(&rsp), "T=0 exchange");
        let answered_first = std::mem::replace(&mut first, false);
        match sw1 {
            0x6C if tpdu.len() == 5 => {
                tpdu[4] = sw2;
            }
            0x61 | 0x9F => {
                data.extend_from_slice(body);
                tpdu = get_response(sw2);
            }
            0x62 | 0x63
                if t0
                    && answered_first
                    && body.is_empty()
                    && matches!(cmd.case, Case::Case4 { .. }) =>
            {
                warning = Some((sw1, sw2));
                tpdu = get_response(0x00);
            }
            _ => {
                data.extend_from_slice(body);
                return Ok(match warning {
                    None => Response { data, sw1, sw2 },
                    Some((w1, w2)) if (sw1, sw2) == (0x90, 0x00) => Response {
                        data,
                        sw1: w1,
                        sw2: w2,
                    },
                    Some((w1, w2)) => Response {
                        data: Vec::new(),
                        sw1: w1,
                        sw2: w2,
                    },
                });
            }
        }
    }
    Err(T0Error::TooManyRounds(max_rounds))
}

/// A reader with the T=0 rules on top: [`T0::transceive`] takes logical APDUs.
#[derive(Debug)]
pub struct T0<R> {
    reader: R,
    max_rounds: usize,
}

impl<R: CardReader> T0<R> {
    /// Wraps `reader` with the [`DEFAULT_MAX_ROUNDS`] bound.
    pub fn new(reader: R) -> Self {
        Self {
            reader,
            max_rounds: DEFAULT_MAX_ROUNDS,
        }
    }

    /// Sets the bound on TPDUs per command (at least 1).
    pub fn with_max_rounds(mut self, max_rounds: usize) -> Self {
        self.max_rounds = max_rounds.max(1);
        self
    }

    /// Sends one logical command APDU; see [`transceive`].
    pub fn transceive(&mut self, apdu: &[u8]) -> Result<Response, T0Error> {
        transceive(&mut self.reader, apdu, self.max_rounds)
    }

    /// The reader underneath.
    pub fn reader(&self) -> &R {
        &self.reader
    }

    /// The reader underneath, mutably (power on/off, raw transmit).
    pub fn reader_mut(&mut self) -> &mut R {
        &mut self.reader
    }

    /// Unwraps the reader.
    pub fn into_inner(self) -> R {
        self.reader
    }
}

#[cfg(test)]
mod tests {
    //! Exact wire bytes per path, against a scripted card over the simulated reader.
    //! Exchanges come from `/work/shared/spec/01-apdu.md` §3 unless noted.

    use super::*;
    use crate::card::VirtualCard;
    use crate::reader::sim::SimulatedReader;
    use std::collections::VecDeque;

    /// Answers with a fixed script; records every TPDU it receives.
    #[derive(Debug, Default)]
    struct Scripted {
        answers: VecDeque<Vec<u8>>,
        seen: Vec<String>,
        repeat_last: bool,
    }

    impl VirtualCard for Scripted {
        fn atr(&self) -> Vec<u8> {
            vec![0x3B, 0x02, 0x14, 0x50]
        }
        fn power_on(&mut self) {}
        fn reset(&mut self) {}
        fn power_off(&mut self) {}
        fn process(&mut self, apdu: &[u8]) -> Vec<u8> {
            self.seen.push(hex::encode_upper(apdu));
            if self.repeat_last && self.answers.len() == 1 {
                return self.answers[0].clone();
            }
            self.answers.pop_front().unwrap_or_else(|| vec![0x6F, 0x00])
        }
    }

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s.replace(' ', "")).unwrap()
    }

    /// Runs `apdu` against a card answering `answers` in order; returns the outcome and
    /// the TPDUs the card saw.
    fn run(apdu: &str, answers: &[&str]) -> (Result<Response, T0Error>, Vec<String>) {
        let card = Scripted {
            answers: answers.iter().map(|a| h(a)).collect(),
            ..Default::default()
        };
        let mut r = T0::new(SimulatedReader::new(card));
        r.reader_mut().power_on().unwrap();
        let out = r.transceive(&h(apdu));
        (out, r.into_inner().into_card().seen)
    }

    #[test]
    fn parse_cases() {
        let c1_bytes = h("80AA0000");
        let c1 = Command::parse(&c1_bytes).unwrap();
        assert_eq!((c1.case, c1.tpdu()), (Case::Case1, h("80AA000000")));
        let c2_bytes = h("00B000000A");
        let c2 = Command::parse(&c2_bytes).unwrap();
        assert_eq!(c2.case, Case::Case2 { le: 10 });
        assert_eq!(
            Command::parse(&h("00C0000000")).unwrap().case,
            Case::Case2 { le: 256 }
        );
        let c3_bytes = h("80140000 03 010203");
        let c3 = Command::parse(&c3_bytes).unwrap();
        assert_eq!((c3.case, c3.data), (Case::Case3, &[1u8, 2, 3][..]));
        let c4_bytes = h("00A40004 02 3F00 00");
        let c4 = Command::parse(&c4_bytes).unwrap();
        assert_eq!(c4.case, Case::Case4 { le: 256 });
        assert_eq!(c4.tpdu(), h("00A40004023F00"));
        for bad in [
            "",
            "00A400",
            "00A40004 03 3F00",
            "00A40004 02 3F00 0000",
            "00B00000 00 0100",
        ] {
            assert!(
                matches!(Command::parse(&h(bad)), Err(T0Error::BadCommand(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn get_response_class_keeps_the_channel() {
        assert_eq!(get_response_cla(0xA0), 0xA0);
        assert_eq!(get_response_cla(0x00), 0x00);
        assert_eq!(get_response_cla(0x80), 0x00);
        assert_eq!(get_response_cla(0x83), 0x03);
        assert_eq!(get_response_cla(0x01), 0x01);
        assert_eq!(get_response_cla(0x45), 0x45);
        assert_eq!(get_response_cla(0xC5), 0x45);
        assert_eq!(get_response_cla(0x6F), 0x4F);
    }

    #[test]
    fn case1_gets_p3_zero() {
        let (out, seen) = run("80AA0000", &["9000"]);
        assert_eq!(out.unwrap().to_bytes(), h("9000"));
        assert_eq!(seen, ["80AA000000"]);
    }

    #[test]
    fn case2_goes_unchanged() {
        // READ BINARY of EF.ICCID.
        let (out, seen) = run("00B000000A", &["98881201000040031 0F0 9000"]);
        let r = out.unwrap();
        assert_eq!(r.data, h("98 88 12 01 00 00 40 03 10 F0"));
        assert_eq!(r.sw(), 0x9000);
        assert_eq!(seen, ["00B000000A"]);
    }

    #[test]
    fn uicc_case4_follows_61xx_with_00_c0() {
        // SELECT MF → 61 2C → GET RESPONSE 00 C0 00 00 2C.
        let fcp = "62 2A".to_owned() + &"00".repeat(42);
        let (out, seen) = run("00A40004023F0000", &["612C", &(fcp.clone() + "9000")]);
        let r = out.unwrap();
        assert_eq!(r.data, h(&fcp));
        assert_eq!(r.sw(), 0x9000);
        assert_eq!(seen, ["00A40004023F00", "00C000002C"]);
    }

    #[test]
    fn gsm_case4_follows_9fxx_with_a0_c0() {
        // SELECT DF.GSM → 9F 17 → GET RESPONSE A0 C0 00 00 17 (trace from swsim #6).
        let rsp = "0000FFFF7F2002000000000000 0A82011304008 38A838A00";
        let (out, seen) = run("A0A40000027F20", &["9F17", &(rsp.to_owned() + "9000")]);
        assert_eq!(out.unwrap().data, h(rsp));
        assert_eq!(seen, ["A0A40000027F20", "A0C0000017"]);
    }

    #[test]
    fn proprietary_class_gets_iso_get_response() {
        // ENVELOPE (80 C2, case 4) answered 61 02: GET RESPONSE is 00 C0, not 80 C0.
        let (out, seen) = run("80C2000002D10000", &["6102", "AB CD 9000"]);
        assert_eq!(out.unwrap().to_bytes(), h("ABCD9000"));
        assert_eq!(seen, ["80C2000002D100", "00C0000002"]);
    }

    #[test]
    fn chained_61xx_accumulates() {
        let (out, seen) = run("00CA00FF00", &["6102", "0102 6101", "03 9000"]);
        assert_eq!(out.unwrap().to_bytes(), h("010203 9000"));
        assert_eq!(seen, ["00CA00FF00", "00C0000002", "00C0000001"]);
    }

    #[test]
    fn wrong_le_is_reissued_with_6cxx() {
        // READ BINARY with Le 09 → 6C 0A → same header with P3 0A.
        let (out, seen) = run("00B0000009", &["6C0A", "98881201000040031 0F0 9000"]);
        assert_eq!(out.unwrap().data.len(), 10);
        assert_eq!(seen, ["00B0000009", "00B000000A"]);
    }

    #[test]
    fn get_response_with_6cxx_is_reissued() {
        let (out, seen) = run("00A40004023F0000", &["6100", "6C03", "010203 9000"]);
        assert_eq!(out.unwrap().to_bytes(), h("010203 9000"));
        assert_eq!(seen, ["00A40004023F00", "00C0000000", "00C0000003"]);
    }

    #[test]
    fn sixc_after_command_data_is_final() {
        // A case-3 TPDU cannot be re-sent with another P3; the SW is returned.
        let (out, seen) = run("00D6000002AABB", &["6C05"]);
        assert_eq!(out.unwrap().sw(), 0x6C05);
        assert_eq!(seen.len(), 1);
    }

    #[test]
    fn warning_on_case4_fetches_data_and_keeps_the_warning() {
        // 62 xx on a case-4 command → GET RESPONSE 00 → 6C 03 → re-issue → data.
        let (out, seen) = run("00A40004023F0000", &["62F3", "6C03", "010203 9000"]);
        let r = out.unwrap();
        assert_eq!((r.sw(), r.data), (0x62F3, h("010203")));
        assert_eq!(seen, ["00A40004023F00", "00C0000000", "00C0000003"]);
    }

    #[test]
    fn warning_without_data_is_returned_alone() {
        let (out, seen) = run("00880080 02 AABB 00", &["63C2", "6A88"]);
        let r = out.unwrap();
        assert_eq!((r.data.len(), r.sw()), (0, 0x63C2));
        assert_eq!(seen, ["0088008002AABB", "00C0000000"]);
    }

    #[test]
    fn warning_on_case3_is_final() {
        // VERIFY PIN wrong, 2 tries left: case 3, no GET RESPONSE.
        let (out, seen) = run("0020000108 31323334FFFFFFFF", &["63C2"]);
        assert_eq!(out.unwrap().sw(), 0x63C2);
        assert_eq!(seen.len(), 1);
    }

    #[test]
    fn proactive_and_errors_end_the_exchange() {
        for sw in ["910B", "9300", "6A82", "9404", "6D00"] {
            let (out, seen) = run("80100000 02 FFFF", &[sw]);
            assert_eq!(out.unwrap().to_bytes(), h(sw));
            assert_eq!(seen.len(), 1);
        }
    }

    #[test]
    fn endless_61xx_is_an_error_not_a_hang() {
        let card = Scripted {
            answers: VecDeque::from([h("6110")]),
            repeat_last: true,
            ..Default::default()
        };
        let mut r = T0::new(SimulatedReader::new(card)).with_max_rounds(5);
        r.reader_mut().power_on().unwrap();
        let err = r.transceive(&h("00A40004023F0000")).unwrap_err();
        assert!(matches!(err, T0Error::TooManyRounds(5)), "{err}");
        assert_eq!(r.reader().card().seen.len(), 5);
    }

    #[test]
    fn endless_6cxx_is_an_error_not_a_hang() {
        let card = Scripted {
            answers: VecDeque::from([h("6C0A")]),
            repeat_last: true,
            ..Default::default()
        };
        let mut r = T0::new(SimulatedReader::new(card));
        r.reader_mut().power_on().unwrap();
        let err = r.transceive(&h("00B0000009")).unwrap_err();
        assert!(matches!(err, T0Error::TooManyRounds(DEFAULT_MAX_ROUNDS)));
    }

    #[test]
    fn reader_errors_pass_through() {
        let mut r = T0::new(SimulatedReader::new(Scripted::default()));
        let err = r.transceive(&h("80AA0000")).unwrap_err();
        assert!(matches!(err, T0Error::Reader(ReaderError::NotPowered)));
    }

    /// A reader reporting T=1: the APDU must go out unchanged (Le kept, no P3 added).
    struct T1<R>(R);
    impl<R: CardReader> CardReader for T1<R> {
        fn name(&self) -> &str {
            self.0.name()
        }
        fn power_on(&mut self) -> crate::reader::Result<Vec<u8>> {
            self.0.power_on()
        }
        fn reset(&mut self) -> crate::reader::Result<Vec<u8>> {
            self.0.reset()
        }
        fn transmit(&mut self, apdu: &[u8]) -> crate::reader::Result<Vec<u8>> {
            self.0.transmit(apdu)
        }
        fn power_off(&mut self) {
            self.0.power_off()
        }
        fn protocol(&self) -> Protocol {
            Protocol::T1
        }
    }

    #[test]
    fn t1_sends_the_apdu_unchanged() {
        let card = Scripted {
            answers: VecDeque::from([h("62F3"), h("80AA 9000")]),
            ..Default::default()
        };
        let mut r = T1(SimulatedReader::new(card));
        r.power_on().unwrap();
        // Under T=1 a warning is final (no GET RESPONSE).
        assert_eq!(
            transceive(&mut r, &h("00A40004023F0000"), 4).unwrap().sw(),
            0x62F3
        );
        assert_eq!(transceive(&mut r, &h("80AA0000"), 4).unwrap().sw(), 0x9000);
        assert_eq!(r.0.card().seen, ["00A40004023F0000", "80AA0000"]);
    }
}
