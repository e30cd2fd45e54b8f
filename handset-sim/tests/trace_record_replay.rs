//! Recording through the T=0 layer, the text round trip, replay against a fresh card,
//! and the divergence report when the card's behaviour was changed on purpose.

mod common;

use std::time::Duration;

use common::card::{PROACTIVE, TestCard, USIM_ATR};
use handset_sim::reader::sim::SimulatedReader;
use handset_sim::t0::T0;
use handset_sim::trace::replay::Mismatch;
use handset_sim::trace::{
    Event, ManualClock, Recorder, ReplayOptions, WriteOptions, read_trace, replay, write_trace,
};
use handset_sim::{CardReader, VirtualCard};

fn h(s: &str) -> Vec<u8> {
    hex::decode(s.replace(' ', "")).unwrap()
}

/// Runs a short session through the T=0 layer on top of a recorder: SELECT MF (case 4:
/// `61 2C` then GET RESPONSE), READ BINARY with wrong Le (`6C 0A`, re-issued),
/// TERMINAL PROFILE (`91 0B`) and FETCH.
fn record_session() -> handset_sim::trace::Trace {
    let (card, _log) = TestCard::new(USIM_ATR.to_vec());
    let mut rec = Recorder::with_clock(
        SimulatedReader::new(card),
        ManualClock::stepping(Duration::from_micros(10)),
    );
    rec.set_header("card", "handset-sim test card");
    rec.set_header("handset", "none (test)");
    assert_eq!(rec.power_on().unwrap(), USIM_ATR);
    let mut t0 = T0::new(rec);
    let r = t0.transceive(&h("00 A4 00 04 02 3F 00 00")).unwrap();
    assert_eq!(r.sw(), 0x9000);
    let r = t0.transceive(&h("00 B0 00 00 09")).unwrap();
    assert_eq!(r.data.len(), 10);
    let r = t0.transceive(&h("80 10 00 00 03 FF FF FF")).unwrap();
    assert_eq!(r.sw(), 0x910B);
    let r = t0.transceive(&h("80 12 00 00 0B")).unwrap();
    assert_eq!(r.data, PROACTIVE);
    let mut rec = t0.into_inner();
    rec.power_off();
    rec.into_parts().1
}

#[test]
fn recorder_sees_the_wire() {
    let t = record_session();
    let lines: Vec<String> = t
        .entries()
        .map(|e| {
            let mut v = Vec::new();
            let mut one = handset_sim::trace::Trace::new();
            one.push_event(e.time, e.event);
            write_trace(&mut v, &one, WriteOptions { annotate: false }).unwrap();
            String::from_utf8(v)
                .unwrap()
                .lines()
                .last()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        lines,
        [
            "+0.000000 POWER_ON 3B 9F 96 80 1F C7 80 31 A0 73 BE 21 13 67 43 20 07 18 00 00 01 A5",
            "+0.000010 00 A4 00 04 02 3F00 : 61 2C",
            &format!(
                "+0.000020 00 C0 00 00 2C : {} : 90 00",
                hex::encode_upper(common::card::mf_fcp())
            ),
            "+0.000030 00 B0 00 00 09 : 6C 0A",
            "+0.000040 00 B0 00 00 0A : 98881201000040031 0F0 : 90 00"
                .replace("1 0", "10")
                .as_str(),
            "+0.000050 80 10 00 00 03 FFFFFF : 91 0B",
            "+0.000060 80 12 00 00 0B : D009810301260182028182 : 90 00",
            "+0.000070 POWER_OFF",
        ]
    );
    assert_eq!(t.header.get("card"), Some("handset-sim test card"));
    assert_eq!(t.header.get("reader"), Some("Simulated reader 00"));
}

#[test]
fn streamed_file_equals_the_trace_and_replays() {
    #[derive(Clone, Default)]
    struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Shared {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let (card, _log) = TestCard::new(USIM_ATR.to_vec());
    let sink = Shared::default();
    let mut rec = Recorder::with_clock(SimulatedReader::new(card), ManualClock::default());
    rec.stream_to(sink.clone());
    rec.power_on().unwrap();
    rec.transmit(&h("80 10 00 00 03 FF FF FF")).unwrap();
    // A failed transmit is a comment in the stream, not an event.
    rec.power_off();
    assert!(rec.transmit(&h("80 12 00 00 0B")).is_err());
    let (_, trace) = rec.into_parts();
    let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains("# transmit 80 12 00 00 0B failed"), "{text}");
    let back = read_trace(&text, "stream.apdu").unwrap();
    assert_eq!(back, trace);
}

#[test]
fn text_round_trip_and_replay_passes_on_a_fresh_card() {
    let t = record_session();
    let mut text = Vec::new();
    write_trace(&mut text, &t, WriteOptions::default()).unwrap();
    let text = String::from_utf8(text).unwrap();
    let back = read_trace(&text, "session.apdu").unwrap();
    assert_eq!(back, t);
    let (card, _) = TestCard::new(USIM_ATR.to_vec());
    let mut reader = SimulatedReader::new(card);
    let out = replay(&back, &mut reader, ReplayOptions::default());
    assert!(out.passed(), "{:?}", out.divergence);
    assert_eq!(out.exchanges, 6);
    assert_eq!(out.events, 8);
}

/// The test card with one deliberate change: its proactive command asks for the IMEISV
/// (qualifier `08`) instead of the IMEI (`01`).
struct Tampered(TestCard);

impl VirtualCard for Tampered {
    fn atr(&self) -> Vec<u8> {
        self.0.atr()
    }
    fn power_on(&mut self) {
        self.0.power_on()
    }
    fn reset(&mut self) {
        self.0.reset()
    }
    fn power_off(&mut self) {
        self.0.power_off()
    }
    fn process(&mut self, apdu: &[u8]) -> Vec<u8> {
        let mut r = self.0.process(apdu);
        if apdu.get(1) == Some(&0x12) && r.len() > 6 {
            r[6] = 0x08;
        }
        r
    }
}

#[test]
fn changed_card_fails_with_the_expected_report() {
    let t = record_session();
    let mut text = Vec::new();
    write_trace(&mut text, &t, WriteOptions::default()).unwrap();
    let t = read_trace(std::str::from_utf8(&text).unwrap(), "session.apdu").unwrap();
    let (card, _) = TestCard::new(USIM_ATR.to_vec());
    let mut reader = SimulatedReader::new(Tampered(card));
    let out = replay(&t, &mut reader, ReplayOptions::default());
    let d = out.divergence.expect("the changed card must diverge");
    assert_eq!((d.exchange, d.event, d.line), (6, 7, Some(12)));
    assert_eq!(out.exchanges, 6);
    assert_eq!(
        d.mismatch,
        Mismatch::Response {
            expected: h("D009810301260182028182 9000"),
            actual: h("D009810301260882028182 9000"),
        }
    );
    let report = d.report("session.apdu");
    println!("{report}");
    let lines: Vec<&str> = report.lines().collect();
    assert_eq!(
        lines[0],
        "replay diverged at exchange 6 (event 7, session.apdu:12)"
    );
    assert_eq!(lines[1], "command: 80 12 00 00 0B");
    assert_eq!(lines[2], "         FETCH Le=11");
    assert!(lines[3].starts_with("expected (trace)") && lines[3].ends_with("| actual (card)"));
    assert!(
        lines[5].starts_with("D0 09 81 03 01 26 01 82 02 81 82 90 00"),
        "{}",
        lines[5]
    );
    assert!(
        lines[5].ends_with("| D0 09 81 03 01 26 08 82 02 81 82 90 00"),
        "{}",
        lines[5]
    );
    assert!(
        report.contains("INFORMATION (IMEI) #1 type=26 qual=01"),
        "{report}"
    );
    assert!(
        report.contains("INFORMATION (IMEISV) #1 type=26 qual=08"),
        "{report}"
    );

    // keep_going + record: the explicit switch that rewrites a golden trace.
    let (card, _) = TestCard::new(USIM_ATR.to_vec());
    let mut reader = SimulatedReader::new(Tampered(card));
    let opts = ReplayOptions {
        keep_going: true,
        record: true,
        ..ReplayOptions::default()
    };
    let out = replay(&t, &mut reader, opts);
    assert_eq!(out.divergence.unwrap().exchange, 6);
    let updated = out.actual.unwrap();
    let (card, _) = TestCard::new(USIM_ATR.to_vec());
    let again = replay(
        &updated,
        &mut SimulatedReader::new(Tampered(card)),
        ReplayOptions::default(),
    );
    assert!(again.passed());
}

#[test]
fn atr_and_unknown_responses() {
    let (card, _) = TestCard::new(USIM_ATR.to_vec());
    let mut reader = SimulatedReader::new(card);
    let t = read_trace(
        "#!imeitrack-trace v1\nPOWER_ON 3B 02 14 50\n80 10 00 00 03 FFFFFF : *\n",
        "x.apdu",
    )
    .unwrap();
    let out = replay(&t, &mut reader, ReplayOptions::default());
    let d = out.divergence.unwrap();
    assert!(matches!(d.mismatch, Mismatch::Atr { .. }));
    assert!(
        d.report("x.apdu")
            .starts_with("replay diverged at event 1 (x.apdu:2): reset answered differently")
    );
    let out = replay(
        &t,
        &mut reader,
        ReplayOptions {
            check_atr: false,
            ..Default::default()
        },
    );
    assert!(out.passed());
    assert_eq!(out.unchecked, 1);
    // No reset in the trace: the card is powered on first.
    let t = read_trace("#!imeitrack-trace v1\n80 10 00 00 03 FFFFFF : 91 0B\n", "y").unwrap();
    let (card, _) = TestCard::new(USIM_ATR.to_vec());
    assert!(
        replay(
            &t,
            &mut SimulatedReader::new(card),
            ReplayOptions::default()
        )
        .passed()
    );
    let _ = Event::PowerOff;
}
