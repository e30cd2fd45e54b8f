//! Tearing tests: for every NVM write of a registration flow, cut power there (with the
//! write torn after 0, 1 or 5 bytes), restart the card, check the persistent state is
//! one of the consistent states, then replay the handset until it settles; the
//! registration must eventually be sent, counters never reused, and the new IMEI
//! committed exactly once.

mod common;

use applet::card::Card;
use applet::tracker::{Outcome, State};
use applet::wire::apdu::StatusWord;
use common::*;

/// Torn-byte counts tried at each cut point.
const TORN: [usize; 3] = [0, 1, 5];

/// One TERMINAL PROFILE (or ENVELOPE) plus the proactive loop, tolerant of errors:
/// `false` as soon as the card answers something other than 9000/91xx.
fn try_command(hs: &mut Handset, apdu: &[u8]) -> bool {
    let mut s = sw(&hs.tx(apdu));
    loop {
        if s == StatusWord::OK {
            return true;
        }
        let Some(len) = s.is_proactive_pending() else {
            return false;
        };
        let cla = if hs.gsm { 0xA0 } else { 0x80 };
        let r = hs.tx(&[cla, 0x12, 0, 0, len]);
        if sw(&r) != StatusWord::OK {
            return false;
        }
        let tr = hs.answer(&r[..r.len() - 2]);
        let mut a = vec![cla, 0x14, 0, 0, tr.len() as u8];
        a.extend_from_slice(&tr);
        s = sw(&hs.tx(&a));
    }
}

fn try_boot(hs: &mut Handset, power_on: bool) -> bool {
    if power_on {
        hs.power_on(true);
    }
    let cla = if hs.gsm { 0xA0 } else { 0x80 };
    let mut tp = vec![cla, 0x10, 0, 0, TP_FULL.len() as u8];
    tp.extend_from_slice(&TP_FULL);
    try_command(hs, &tp)
}

fn try_timer(hs: &mut Handset) -> bool {
    let cla = if hs.gsm { 0xA0 } else { 0x80 };
    let mut a = vec![cla, 0xC2, 0, 0, 0x0E];
    a.extend_from_slice(&h("D7 0C 82 02 82 81 A4 01 01 A5 03 00 03 00"));
    try_command(hs, &a)
}

/// A flow to tear: the starting card, the handset's IMEI, and the scripted SMS results.
struct Flow {
    name: &'static str,
    start: Card,
    imei: [u8; 8],
    sms_results: Vec<(u8, Vec<u8>)>,
    /// Also fire the retry timer after the boot.
    timer: bool,
}

/// Runs the flow on `hs` (tolerant); returns whether it ran to the end.
/// The card must already be powered (so a scheduled cut survives).
fn run(hs: &mut Handset, flow: &Flow, power_on: bool) -> bool {
    try_boot(hs, power_on) && (!flow.timer || try_timer(hs))
}

fn handset(flow: &Flow, card: Card) -> Handset {
    let mut hs = Handset::new(card, false);
    hs.imei = Some(flow.imei);
    hs.sms_results = flow.sms_results.clone().into();
    hs
}

/// Returns the number of cut points (NVM writes) covered.
fn tear(flow: Flow) -> usize {
    // Reference run: which writes does the flow make?
    let mut reference = handset(&flow, flow.start.clone());
    reference.power_on(true);
    let w0 = reference.card.store().nvm().writes();
    assert!(
        run(&mut reference, &flow, false),
        "{}: reference run",
        flow.name
    );
    let w1 = reference.card.store().nvm().writes();
    assert_eq!(
        reference.card.record().unwrap().stored_imei(),
        Some(flow.imei)
    );
    let old_imei = flow.start.record().unwrap().stored_imei();
    let old_counter = flow.start.record().unwrap().next_counter();
    assert!(w1 > w0);

    for k in w0..w1 {
        for torn in TORN {
            let ctx = format!("{} cut at write {k} torn {torn}", flow.name);
            let mut card = flow.start.clone();
            card.power_on(true);
            card.store_mut().nvm_mut().cut_power_at(k, torn);
            let mut hs = handset(&flow, card);
            assert!(!run(&mut hs, &flow, false), "{ctx}: the cut must hit");
            // Restart: recovery leaves an old-or-new state.
            hs.power_on(true);
            let rec = hs.card.record().unwrap();
            let stored = rec.stored_imei();
            assert!(
                stored == old_imei || stored == Some(flow.imei),
                "{ctx}: IMEI {stored:?}"
            );
            let c = rec.next_counter();
            assert!(
                c >= old_counter && c <= old_counter + 2,
                "{ctx}: counter {c}"
            );
            // Every SMS that left the card carried a counter below the stored next value.
            for r in &hs.sent {
                assert!(
                    r.counter < c,
                    "{ctx}: sent counter {} not reserved ({c})",
                    r.counter
                );
            }
            if stored == Some(flow.imei) {
                assert!(rec.pending().is_none(), "{ctx}: pending after commit");
                assert!(!hs.sent.is_empty(), "{ctx}: committed without sending");
            }
            // Replay the handset (no more cuts, SMS succeeds) until it settles.
            hs.sms_results.clear();
            let mut committed_at = (stored == Some(flow.imei)).then_some(0);
            for boot in 1..=3 {
                let before = hs.card.record().unwrap().stored_imei();
                assert!(try_boot(&mut hs, true), "{ctx}: replay boot {boot}");
                let after = hs.card.record().unwrap().stored_imei();
                if before != after {
                    assert_eq!(after, Some(flow.imei), "{ctx}");
                    assert!(committed_at.is_none(), "{ctx}: IMEI committed twice");
                    committed_at = Some(boot);
                    assert_eq!(*hs.card.applet_state(), State::Done(Outcome::Registered));
                } else if after == Some(flow.imei) {
                    assert_eq!(
                        *hs.card.applet_state(),
                        State::Done(Outcome::Unchanged),
                        "{ctx}"
                    );
                }
            }
            assert!(committed_at.is_some(), "{ctx}: never committed");
            assert!(!hs.sent.is_empty(), "{ctx}: registration never sent");
            // Counters strictly increase: no value is ever reused.
            for w in hs.sent.windows(2) {
                assert!(
                    w[0].counter < w[1].counter,
                    "{ctx}: counter reuse {:?}",
                    hs.sent
                );
            }
            let rec = hs.card.record().unwrap();
            assert_eq!(rec.stored_imei(), Some(flow.imei));
            assert!(rec.pending().is_none());
            assert_eq!(
                rec.next_counter(),
                hs.sent.last().unwrap().counter + 1,
                "{ctx}"
            );
        }
    }
    (w1 - w0) as usize
}

fn registered_card(imei: [u8; 8]) -> Card {
    let mut hs = Handset::new(default_card(), false);
    hs.imei = Some(imei);
    assert_eq!(hs.boot(&TP_FULL), StatusWord::OK);
    assert_eq!(hs.card.record().unwrap().stored_imei(), Some(imei));
    hs.card
}

#[test]
fn tearing_first_use_handset_change_and_retry() {
    let a = tear(Flow {
        name: "first use",
        start: default_card(),
        imei: IMEI_A,
        sms_results: vec![],
        timer: false,
    });
    let b = tear(Flow {
        name: "handset change",
        start: registered_card(IMEI_A),
        imei: IMEI_B,
        sms_results: vec![],
        timer: false,
    });
    let c = tear(Flow {
        name: "failure then timer retry",
        start: default_card(),
        imei: IMEI_A,
        sms_results: vec![(0x21, vec![])],
        timer: true,
    });
    let total = a + b + c;
    println!(
        "cut points: first use {a}, handset change {b}, retry {c}; total {total} writes x {} torn variants = {} power cuts",
        TORN.len(),
        total * TORN.len()
    );
    // Two transactions per registration (attempt, registered), three with one retry.
    assert_eq!((a, b, c), (13, 13, 19));
}
