//! Bad input: a table of malformed or out-of-place APDUs, each answered with the right
//! status word and leaving the card's state (NVM image, applet state, proactive
//! session) untouched; plus property tests feeding random APDU sequences (with resets
//! and power cuts) through `card::fuzz_sequence`, which checks the invariants.

mod common;

use applet::card::{Card, fuzz_sequence};
use common::*;
use proptest::prelude::*;

#[derive(Debug, Clone, Copy)]
enum Setup {
    /// Powered, nothing sent.
    Fresh,
    /// TERMINAL PROFILE sent: PROVIDE LOCAL INFORMATION pending (91 0B).
    Pending,
    /// PROVIDE LOCAL INFORMATION fetched, TERMINAL RESPONSE due.
    Outstanding,
    /// EF.TRACK_CONFIG selected, PIN not verified.
    ConfigSelected,
}

fn setup(s: Setup) -> Card {
    let mut c = default_card();
    let tp = h("80 10 00 00 08 23 01 29 42 11 00 00 07");
    match s {
        Setup::Fresh => {}
        Setup::Pending => assert_eq!(xchg(&mut c, &tp, 0), h("91 0B")),
        Setup::Outstanding => {
            assert_eq!(xchg(&mut c, &tp, 0), h("91 0B"));
            assert_eq!(sw(&xchg(&mut c, &h("80 12 00 00 0B"), 0)).0, 0x9000);
        }
        Setup::ConfigSelected => {
            assert_eq!(
                xchg(&mut c, &h("00 A4 08 0C 04 7F 4A 6F 01"), 0),
                h("90 00")
            );
        }
    }
    c
}

const TR_PLI_OK: &str =
    "80 14 00 00 16 81 03 01 26 01 82 02 82 81 83 01 00 14 08 4A 09 51 24 30 32 57 81";

#[test]
fn malformed_and_out_of_place_apdus() {
    use Setup::*;
    let long_tp = format!("80 10 00 00 41 {}", "FF ".repeat(65));
    let cases: Vec<(&str, Setup, String, u16)> = vec![
        (
            "unknown class B0",
            Fresh,
            "B0 A4 00 00 02 3F 00".into(),
            0x6E00,
        ),
        (
            "unknown class FF",
            Fresh,
            "FF 10 00 00 01 00".into(),
            0x6E00,
        ),
        (
            "TERMINAL PROFILE in class 00",
            Fresh,
            "00 10 00 00 01 FF".into(),
            0x6E00,
        ),
        (
            "SELECT in class 80",
            Fresh,
            "80 A4 00 04 02 3F 00".into(),
            0x6E00,
        ),
        (
            "secure messaging class 04",
            Fresh,
            "04 A4 00 04 02 3F 00".into(),
            0x6E00,
        ),
        (
            "unknown INS, class 00",
            Fresh,
            "00 FF 00 00 00".into(),
            0x6D00,
        ),
        (
            "unknown INS, class 80",
            Fresh,
            "80 50 00 00 00".into(),
            0x6D00,
        ),
        (
            "unknown INS, class A0",
            Fresh,
            "A0 FE 00 00 00".into(),
            0x6D00,
        ),
        (
            "AUTHENTICATE not implemented",
            Fresh,
            "00 88 00 81 22 ".to_string() + &"00 ".repeat(34),
            0x6D00,
        ),
        (
            "logical channel 1",
            Fresh,
            "01 A4 00 04 02 3F 00".into(),
            0x6881,
        ),
        ("header only 2 bytes", Fresh, "00 A4".into(), 0x6700),
        (
            "Lc larger than data",
            Fresh,
            "00 A4 00 04 03 3F 00".into(),
            0x6700,
        ),
        (
            "Lc smaller than data",
            Fresh,
            "00 A4 00 04 01 3F 00".into(),
            0x6700,
        ),
        (
            "case 2 with data",
            Fresh,
            "00 B0 00 00 01 00".into(),
            0x6700,
        ),
        (
            "TERMINAL PROFILE Lc 0",
            Fresh,
            "80 10 00 00 00".into(),
            0x6700,
        ),
        (
            "TERMINAL PROFILE P1 01",
            Fresh,
            "80 10 01 00 01 FF".into(),
            0x6B00,
        ),
        ("TERMINAL PROFILE longer than 64", Fresh, long_tp, 0x6700),
        (
            "FETCH with nothing pending",
            Fresh,
            "80 12 00 00 0B".into(),
            0x6985,
        ),
        (
            "FETCH with nothing pending, GSM",
            Fresh,
            "A0 12 00 00 0B".into(),
            0x6F00,
        ),
        ("FETCH wrong Le", Pending, "80 12 00 00 0A".into(), 0x6C0B),
        (
            "FETCH wrong Le, GSM",
            Pending,
            "A0 12 00 00 0C".into(),
            0x670B,
        ),
        ("FETCH P1 01", Pending, "80 12 01 00 0B".into(), 0x6B00),
        (
            "TERMINAL RESPONSE without command",
            Fresh,
            TR_PLI_OK.into(),
            0x6985,
        ),
        (
            "TERMINAL RESPONSE before FETCH",
            Pending,
            TR_PLI_OK.into(),
            0x6985,
        ),
        (
            "TERMINAL RESPONSE wrong number",
            Outstanding,
            "80 14 00 00 0C 81 03 02 26 01 82 02 82 81 83 01 00".into(),
            0x6A80,
        ),
        (
            "TERMINAL RESPONSE wrong type",
            Outstanding,
            "80 14 00 00 0C 81 03 01 13 00 82 02 82 81 83 01 00".into(),
            0x6A80,
        ),
        (
            "TERMINAL RESPONSE wrong qualifier",
            Outstanding,
            "80 14 00 00 0C 81 03 01 26 08 82 02 82 81 83 01 00".into(),
            0x6A80,
        ),
        (
            "TERMINAL RESPONSE truncated TLV",
            Outstanding,
            "80 14 00 00 04 81 03 01 26".into(),
            0x6A80,
        ),
        (
            "TERMINAL RESPONSE TLV length beyond data",
            Outstanding,
            "80 14 00 00 07 81 03 01 26 01 83 05".into(),
            0x6A80,
        ),
        (
            "TERMINAL RESPONSE without command details",
            Outstanding,
            "80 14 00 00 03 83 01 00".into(),
            0x6A80,
        ),
        (
            "TERMINAL RESPONSE without result",
            Outstanding,
            "80 14 00 00 09 81 03 01 26 01 82 02 82 81".into(),
            0x6A80,
        ),
        (
            "TERMINAL RESPONSE truncated, GSM",
            Outstanding,
            "A0 14 00 00 05 81 05 01 26 01".into(),
            0x6F00,
        ),
        (
            "TERMINAL RESPONSE P2 01",
            Outstanding,
            "80 14 00 01 0C 81 03 01 26 01 82 02 82 81 83 01 00".into(),
            0x6B00,
        ),
        (
            "ENVELOPE truncated",
            Fresh,
            "80 C2 00 00 03 D7 05 82".into(),
            0x6A80,
        ),
        (
            "ENVELOPE not BER-TLV",
            Fresh,
            "80 C2 00 00 02 00 00".into(),
            0x6A80,
        ),
        (
            "ENVELOPE while proactive command pending",
            Pending,
            "80 C2 00 00 0E D7 0C 82 02 82 81 A4 01 01 A5 03 00 03 00".into(),
            0x9300,
        ),
        (
            "ENVELOPE while TERMINAL RESPONSE due",
            Outstanding,
            "80 C2 00 00 0E D7 0C 82 02 82 81 A4 01 01 A5 03 00 03 00".into(),
            0x9300,
        ),
        (
            "UPDATE BINARY without PIN",
            ConfigSelected,
            "00 D6 00 00 01 00".into(),
            0x6982,
        ),
        (
            "UPDATE BINARY without PIN, GSM",
            ConfigSelected,
            "A0 D6 00 00 01 00".into(),
            0x9804,
        ),
        (
            "UPDATE BINARY no EF selected",
            Fresh,
            "00 D6 00 00 01 00".into(),
            0x6986,
        ),
        (
            "READ BINARY no EF selected",
            Fresh,
            "00 B0 00 00 0A".into(),
            0x6986,
        ),
        (
            "UPDATE BINARY of ICCID (never)",
            Fresh,
            "00 D6 82 00 01 00".into(),
            0x6982,
        ),
        (
            "SELECT unknown FID",
            Fresh,
            "00 A4 00 04 02 6F 99".into(),
            0x6A82,
        ),
        (
            "SELECT unknown FID, GSM",
            Fresh,
            "A0 A4 00 00 02 6F 99".into(),
            0x9404,
        ),
        (
            "SELECT bad P1, GSM",
            Fresh,
            "A0 A4 04 00 02 3F 00".into(),
            0x6B00,
        ),
        (
            "SELECT bad P1, UICC",
            Fresh,
            "00 A4 02 04 02 3F 00".into(),
            0x6A86,
        ),
        (
            "GET RESPONSE with nothing",
            Fresh,
            "00 C0 00 00 10".into(),
            0x6985,
        ),
        ("GET RESPONSE P1 01", Fresh, "00 C0 01 00 10".into(), 0x6B00),
        (
            "VERIFY unknown key reference",
            Fresh,
            "00 20 00 02 08 31 32 33 34 FF FF FF FF".into(),
            0x6A88,
        ),
        (
            "VERIFY PIN of 4 bytes",
            Fresh,
            "00 20 00 01 04 31 32 33 34".into(),
            0x6700,
        ),
        ("STATUS bad P2", Fresh, "80 F2 00 05 00".into(), 0x6A86),
    ];
    assert!(cases.len() >= 30);
    for (name, s, apdu, want) in &cases {
        let mut card = setup(*s);
        let image = *card.store().nvm().image();
        let state = *card.applet_state();
        let session = card.proactive_session();
        let r = xchg(&mut card, &h(apdu), 0);
        assert_eq!(r.len(), 2, "{name}: no data on an error");
        assert_eq!(sw(&r).0, *want, "{name}: got {:04X}", sw(&r).0);
        assert_eq!(card.store().nvm().image(), &image, "{name}: NVM changed");
        assert_eq!(*card.applet_state(), state, "{name}: applet state changed");
        assert_eq!(card.proactive_session(), session, "{name}: session changed");
        // The interrupted flow still completes.
        match s {
            Setup::Pending => {
                assert_eq!(
                    sw(&xchg(&mut card, &h("80 12 00 00 0B"), 0)).0,
                    0x9000,
                    "{name}"
                )
            }
            Setup::Outstanding => {
                assert_eq!(
                    sw(&xchg(&mut card, &h(TR_PLI_OK), 0)).0 >> 8,
                    0x91,
                    "{name}"
                )
            }
            _ => {}
        }
    }
    println!("{} bad-input cases", cases.len());
}

/// Building blocks for structured sequences: valid handset commands (so the card
/// gets deep into its flows) and some near misses.
const POOL: &[&str] = &[
    "80 10 00 00 08 23 01 29 42 11 00 00 07",
    "A0 10 00 00 08 23 01 29 42 11 00 00 07",
    "80 12 00 00 0B",
    "A0 12 00 00 0B",
    "80 12 00 00 4A",
    "80 12 00 00 4C",
    "80 12 00 00 0E",
    "80 12 00 00 13",
    TR_PLI_OK,
    "80 14 00 00 16 81 03 01 26 01 82 02 82 81 83 01 00 14 08 3A 25 90 09 10 67 41 18",
    "80 14 00 00 0C 81 03 02 13 00 82 02 82 81 83 01 00",
    "80 14 00 00 0C 81 03 02 13 00 82 02 82 81 83 01 21",
    "80 14 00 00 0C 81 03 03 05 00 82 02 82 81 83 01 00",
    "80 14 00 00 0F 81 03 04 27 00 82 02 82 81 83 01 00 A4 01 01",
    "80 14 00 00 0C 81 03 04 27 00 82 02 82 81 83 01 00",
    "80 C2 00 00 0E D7 0C 82 02 82 81 A4 01 01 A5 03 00 03 00",
    "80 C2 00 00 15 D6 13 99 01 03 82 02 82 81 9B 01 00 93 07 00 F1 10 00 01 00 02",
    "00 A4 00 04 02 3F 00",
    "00 C0 00 00 10",
    "00 20 00 01 08 31 32 33 34 FF FF FF FF",
    "00 A4 08 0C 04 7F 4A 6F 01",
    "00 D6 00 00 02 49 00",
];

#[derive(Debug, Clone)]
enum Op {
    Cold,
    Warm,
    Cut(u8, u8),
    Pool(usize),
    Mutated(usize, usize, u8),
    Random(Vec<u8>),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => Just(Op::Cold),
        1 => Just(Op::Warm),
        1 => (0u8..40, 0u8..8).prop_map(|(k, t)| Op::Cut(k, t)),
        8 => (0..POOL.len()).prop_map(Op::Pool),
        2 => (0..POOL.len(), 0usize..40, any::<u8>()).prop_map(|(i, p, b)| Op::Mutated(i, p, b)),
        2 => proptest::collection::vec(any::<u8>(), 0..24).prop_map(Op::Random),
    ]
}

/// Encodes ops in `fuzz_sequence`'s input format.
fn encode(ops: &[Op]) -> Vec<u8> {
    let mut v = Vec::new();
    let apdu = |v: &mut Vec<u8>, a: &[u8]| {
        v.push(3);
        v.push(a.len() as u8);
        v.extend_from_slice(a);
    };
    for o in ops {
        match o {
            Op::Cold => v.push(8),
            Op::Warm => v.push(9),
            Op::Cut(k, t) => v.extend_from_slice(&[10, *k, *t]),
            Op::Pool(i) => apdu(&mut v, &h(POOL[*i])),
            Op::Mutated(i, p, b) => {
                let mut a = h(POOL[*i]);
                let n = a.len();
                a[p % n] = *b;
                apdu(&mut v, &a);
            }
            Op::Random(r) => apdu(&mut v, r),
        }
    }
    v
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Random bytes as an operation stream: never a panic, invariants hold.
    #[test]
    fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..600)) {
        prop_assert!(fuzz_sequence(&data).is_ok());
    }

    /// Structured random sequences (valid handset commands, mutations, garbage, resets,
    /// power cuts): never a panic, counters monotonic, stored IMEI always valid.
    #[test]
    fn random_apdu_sequences_keep_the_card_consistent(ops in proptest::collection::vec(op(), 0..60)) {
        let ran = fuzz_sequence(&encode(&ops));
        prop_assert_eq!(ran, Ok(ops.len()));
    }
}

#[test]
fn structured_sequence_reaches_registration() {
    // The pool's happy path in order registers IMEI A: the harness sees it.
    let ops: Vec<Op> = [0usize, 2, 8, 5, 10].iter().map(|&i| Op::Pool(i)).collect();
    assert_eq!(fuzz_sequence(&encode(&ops)), Ok(5));
    let mut card = default_card();
    for i in [0usize, 2, 8, 5, 10] {
        xchg(&mut card, &h(POOL[i]), 0);
    }
    assert_eq!(card.record().unwrap().stored_imei(), Some(IMEI_A));
}
