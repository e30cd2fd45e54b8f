//! The T=0 layer over the in-process simulated reader with the test card: every path
//! a UICC or GSM SIM exercises (`/work/shared/spec/01-apdu.md` §1–§3).

mod common;

use common::card::{DF_GSM_RSP, Event, ICCID, PROACTIVE, TestCard, USIM_ATR, mf_fcp};
use handset_sim::reader::sim::SimulatedReader;
use handset_sim::t0::{T0, T0Error};
use handset_sim::{CardReader, ReaderError};

fn h(s: &str) -> Vec<u8> {
    hex::decode(s.replace(' ', "")).unwrap()
}

fn powered() -> (T0<SimulatedReader<TestCard>>, common::card::EventLog) {
    let (card, log) = TestCard::new(USIM_ATR.to_vec());
    let mut t0 = T0::new(SimulatedReader::new(card));
    assert_eq!(t0.reader_mut().power_on().unwrap(), USIM_ATR);
    (t0, log)
}

fn tpdus(log: &common::card::EventLog) -> Vec<String> {
    log.snapshot()
        .into_iter()
        .filter_map(|e| match e {
            Event::Apdu(a) => Some(hex::encode_upper(a)),
            _ => None,
        })
        .collect()
}

#[test]
fn uicc_select_mf_gets_fcp_via_61xx() {
    let (mut t0, log) = powered();
    let r = t0.transceive(&h("00A4 0004 02 3F00 00")).unwrap();
    assert_eq!((r.sw(), r.data), (0x9000, mf_fcp()));
    assert_eq!(tpdus(&log), ["00A40004023F00", "00C000002C"]);
}

#[test]
fn gsm_select_gets_response_via_9fxx() {
    let (mut t0, log) = powered();
    let r = t0.transceive(&h("A0A4 0000 02 7F20")).unwrap();
    assert_eq!((r.sw(), r.data), (0x9000, DF_GSM_RSP.to_vec()));
    assert_eq!(tpdus(&log), ["A0A40000027F20", "A0C0000017"]);
}

#[test]
fn wrong_le_is_corrected_via_6cxx() {
    let (mut t0, log) = powered();
    let r = t0.transceive(&h("00B0 0000 09")).unwrap();
    assert_eq!((r.sw(), r.data), (0x9000, ICCID.to_vec()));
    assert_eq!(tpdus(&log), ["00B0000009", "00B000000A"]);
}

#[test]
fn case1_and_proactive_loop() {
    let (mut t0, log) = powered();
    assert_eq!(t0.transceive(&h("80AA0000")).unwrap().sw(), 0x9000);
    let tp = t0.transceive(&h("8010 0000 02 FFFF")).unwrap();
    assert_eq!(tp.to_bytes(), h("910B"));
    assert!(tp.is_success());
    let fetch = t0.transceive(&h("8012 0000 0B")).unwrap();
    assert_eq!((fetch.sw(), fetch.data), (0x9000, PROACTIVE.to_vec()));
    assert_eq!(tpdus(&log), ["80AA000000", "8010000002FFFF", "801200000B"]);
}

#[test]
fn case4_warning_gets_data_and_keeps_warning() {
    let (mut t0, log) = powered();
    let r = t0.transceive(&h("0088 0081 02 AABB 00")).unwrap();
    assert_eq!((r.sw(), r.data), (0x62F3, h("DEADBEEF")));
    assert_eq!(tpdus(&log), ["0088008102AABB", "00C0000000", "00C0000004"]);
}

#[test]
fn raw_transmit_shows_what_the_t0_layer_hides() {
    // Without the layer a case-4 APDU with Le is not a valid T=0 TPDU for this card.
    let (mut t0, _log) = powered();
    assert_eq!(
        t0.reader_mut().transmit(&h("00A40004023F0000")).unwrap(),
        h("6700")
    );
    assert_eq!(
        t0.reader_mut().transmit(&h("00A40004023F00")).unwrap(),
        h("612C")
    );
}

#[test]
fn endless_card_hits_the_bound() {
    let (t0, log) = powered();
    let mut t0 = t0.with_max_rounds(8);
    let err = t0.transceive(&h("00E0 0000 00")).unwrap_err();
    assert!(matches!(err, T0Error::TooManyRounds(8)), "{err}");
    assert_eq!(tpdus(&log).len(), 8);
}

#[test]
fn unpowered_card_is_a_reader_error() {
    let (card, _log) = TestCard::new(USIM_ATR.to_vec());
    let mut t0 = T0::new(SimulatedReader::new(card));
    let err = t0.transceive(&h("80AA0000")).unwrap_err();
    assert!(matches!(err, T0Error::Reader(ReaderError::NotPowered)));
}
