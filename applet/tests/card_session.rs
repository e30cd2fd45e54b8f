//! Byte-level session tests: every step of the applet's flows as APDU in / APDU out,
//! for a UICC handset (CLA 00/80) and a GSM SIM handset (CLA A0).
//!
//! Vectors: 02-cat.md §9 (worked exchange, TERMINAL PROFILE, PLI, TR with IMEI, TR
//! success, ENVELOPEs), 01-apdu.md §3 (SELECT / GET RESPONSE / READ BINARY, VERIFY).

mod common;

use applet::card::{ATR, test_personalisation};
use applet::tracker::{Outcome, State};
use applet::wire::apdu::StatusWord;
use applet::wire::atr::Atr;
use applet::wire::registration::{EventKind, KeyId, RegistrationRepr};
use common::*;

/// The SEND SHORT MESSAGE the card must send for `reg`: built here from the codecs and
/// literal headers (02-cat.md §9 step 4, with the null alpha identifier of §8).
fn expected_send_sm(cmd_no: u8, reg: &RegistrationRepr) -> Vec<u8> {
    let mut payload = [0u8; 80];
    let n = reg.emit_signed(&KEY, &mut payload).unwrap();
    // SMS-SUBMIT: MTI 01, MR 00, TP-DA +447700900123, PID 00, DCS 04, UDL.
    let mut tpdu = h("01 00 0C 91 44 77 00 09 10 32 00 04");
    tpdu.push(n as u8);
    tpdu.extend_from_slice(&payload[..n]);
    let mut body = vec![0x81, 0x03, cmd_no, 0x13, 0x00, 0x82, 0x02, 0x81, 0x83];
    body.extend_from_slice(&[0x05, 0x00]);
    body.extend_from_slice(&[0x8B, tpdu.len() as u8]);
    body.extend_from_slice(&tpdu);
    let mut cmd = vec![0xD0, body.len() as u8];
    cmd.extend_from_slice(&body);
    cmd
}

fn first_use(counter: u64, imei: [u8; 8]) -> RegistrationRepr {
    let p = test_personalisation();
    RegistrationRepr {
        key_id: KeyId(0x12),
        event: EventKind::FIRST_USE,
        iccid: p.files.iccid,
        imsi: p.files.imsi,
        counter,
        imei,
        imeisv: None,
        previous_imei: None,
    }
}

/// The whole first registration, byte for byte, in class `cla` (80 or A0).
fn first_registration_bytes(cla: u8) {
    let mut card = default_card();
    assert_eq!(card.power_on(true), &ATR);
    let t = 5_000;
    let x = |card: &mut applet::card::Card, hexs: &str| xchg(card, &with_cla(cla, hexs), t);
    // 02-cat.md §9 step 1.
    assert_eq!(
        x(&mut card, "80 10 00 00 08 23 01 29 42 11 00 00 07"),
        h("91 0B")
    );
    // Step 2.
    assert_eq!(
        x(&mut card, "80 12 00 00 0B"),
        h("D0 09 81 03 01 26 01 82 02 81 82 90 00")
    );
    // Step 3 (IMEI 490154203237518).
    let sm = expected_send_sm(2, &first_use(0, IMEI_A));
    assert_eq!(
        x(
            &mut card,
            "80 14 00 00 16 81 03 01 26 01 82 02 82 81 83 01 00 14 08 4A 09 51 24 30 32 57 81"
        ),
        vec![0x91, sm.len() as u8]
    );
    // Counter committed before the SMS leaves the card.
    assert_eq!(card.record().unwrap().next_counter(), 1);
    assert_eq!(card.record().unwrap().stored_imei(), None);
    // Step 4: SEND SHORT MESSAGE.
    let mut resp = x(&mut card, &format!("80 12 00 00 {:02X}", sm.len()));
    let sw = resp.split_off(resp.len() - 2);
    assert_eq!(sw, h("90 00"));
    assert_eq!(resp, sm);
    // Step 5 (command number 2).
    assert_eq!(
        x(
            &mut card,
            "80 14 00 00 0C 81 03 02 13 00 82 02 82 81 83 01 00"
        ),
        h("90 00")
    );
    assert_eq!(*card.applet_state(), State::Done(Outcome::Registered));
    let rec = card.record().unwrap();
    assert_eq!(rec.stored_imei(), Some(IMEI_A));
    assert_eq!(rec.pending(), None);
    // Nothing more to fetch.
    assert_eq!(
        sw_of(&x(&mut card, "80 12 00 00 0B")),
        if cla == 0xA0 { 0x6F00 } else { 0x6985 }
    );
}

fn with_cla(cla: u8, hexs: &str) -> Vec<u8> {
    let mut v = h(hexs);
    if cla == 0xA0 {
        v[0] = 0xA0;
    }
    v
}

fn sw_of(r: &[u8]) -> u16 {
    sw(r).0
}

#[test]
fn atr_offers_t0_only() {
    let atr = Atr::parse(&ATR).unwrap();
    assert!(atr.offers(0) && !atr.offers(1));
}

#[test]
fn uicc_first_registration_byte_for_byte() {
    first_registration_bytes(0x80);
}

#[test]
fn gsm_first_registration_byte_for_byte() {
    first_registration_bytes(0xA0);
}

#[test]
fn unchanged_handset_sends_nothing_both_classes() {
    for gsm in [false, true] {
        let mut hs = Handset::new(default_card(), gsm);
        assert_eq!(hs.boot(&TP_FULL), StatusWord::OK);
        assert_eq!(hs.sent.len(), 1);
        // Power cycle, same handset but digit 15 sent as spare 0.
        hs.imei = Some([0x4A, 0x09, 0x51, 0x24, 0x30, 0x32, 0x57, 0x01]);
        hs.log.clear();
        assert_eq!(hs.boot(&TP_FULL), StatusWord::OK);
        assert_eq!(hs.sent.len(), 1, "no second SMS");
        assert_eq!(*hs.card.applet_state(), State::Done(Outcome::Unchanged));
        // TP → 91 0B, FETCH PLI, TR → 90 00: three exchanges.
        let cla = if gsm { 0xA0 } else { 0x80 };
        assert_eq!(hs.log.len(), 3);
        assert_eq!(hs.log[0].1, h("91 0B"));
        assert_eq!(hs.log[1].0, vec![cla, 0x12, 0, 0, 0x0B]);
        assert_eq!(hs.log[2].1, h("90 00"));
    }
}

#[test]
fn handset_change_registers_with_previous_imei() {
    for gsm in [false, true] {
        let mut hs = Handset::new(default_card(), gsm);
        hs.boot(&TP_FULL);
        hs.imei = Some(IMEI_B);
        hs.boot(&TP_FULL);
        assert_eq!(hs.sent.len(), 2);
        let reg = &hs.sent[1];
        assert_eq!(reg.event, EventKind::HANDSET_CHANGED);
        assert_eq!(reg.imei, IMEI_B);
        assert_eq!(reg.previous_imei, Some(IMEI_A));
        assert_eq!(reg.counter, 1);
        assert_eq!(hs.card.record().unwrap().stored_imei(), Some(IMEI_B));
    }
}

#[test]
fn terminal_without_pli_or_send_sm_gets_no_proactive_command() {
    for (gsm, tp) in [
        (false, "80 10 00 00 04 FF FF FF 3F"),
        (true, "A0 10 00 00 02 FF FF"),
    ] {
        let mut card = default_card();
        assert_eq!(xchg(&mut card, &h(tp), 0), h("90 00"), "gsm={gsm}");
        assert_eq!(
            *card.applet_state(),
            State::Done(Outcome::TerminalUnsupported)
        );
    }
}

#[test]
fn failed_sms_retries_via_event_list_and_timer() {
    for gsm in [false, true] {
        let mut hs = Handset::new(default_card(), gsm);
        // Network currently unable (21), then SMS RP-ERROR (35 29).
        hs.sms_results.push_back((0x21, vec![]));
        hs.sms_results.push_back((0x35, vec![0x29]));
        hs.boot(&TP_FULL);
        assert_eq!(hs.sent.len(), 1);
        assert_eq!(hs.timers, vec![(1, 60)]);
        assert!(matches!(hs.card.applet_state(), State::RetryWaiting { .. }));
        assert_eq!(
            hs.card.record().unwrap().stored_imei(),
            None,
            "old IMEI kept"
        );
        // Timer 2 is not ours.
        assert_eq!(hs.timer_expired(2), StatusWord::OK);
        assert_eq!(hs.sent.len(), 1);
        hs.now += 60_000;
        assert_eq!(hs.timer_expired(1), StatusWord::OK);
        assert_eq!(hs.sent.len(), 2);
        assert_eq!(hs.sent[1].event, EventKind::RETRY);
        assert_eq!(hs.sent[1].counter, 1);
        assert_eq!(hs.timers, vec![(1, 60), (1, 120)], "back-off doubles");
        // Location status "normal service" also triggers the retry; this one succeeds.
        assert_eq!(hs.location_normal(), StatusWord::OK);
        assert_eq!(hs.sent.len(), 3);
        assert_eq!(*hs.card.applet_state(), State::Done(Outcome::Registered));
        let rec = hs.card.record().unwrap();
        assert_eq!(rec.stored_imei(), Some(IMEI_A));
        assert_eq!(rec.next_counter(), 3);
    }
}

#[test]
fn attempts_per_power_cycle_are_bounded() {
    let mut hs = Handset::new(default_card(), false);
    for _ in 0..10 {
        hs.sms_results.push_back((0x20, vec![0x02]));
    }
    hs.boot(&TP_FULL);
    for _ in 0..5 {
        hs.now += 3_600_000;
        hs.timer_expired(1);
    }
    assert_eq!(hs.sent.len(), 3, "RetryPolicy::DEFAULT: 3 per power cycle");
    assert_eq!(*hs.card.applet_state(), State::Done(Outcome::GaveUp));
    // Warm reset: same power cycle, no new attempt.
    hs.power_on(false);
    hs.terminal_profile(&TP_FULL);
    assert_eq!(hs.sent.len(), 3);
    assert_eq!(*hs.card.applet_state(), State::Done(Outcome::RateLimited));
    // Next power cycle: retry of the pending registration.
    hs.boot(&TP_FULL);
    assert_eq!(hs.sent.len(), 4);
    assert_eq!(hs.sent[3].event, EventKind::RETRY);
}

#[test]
fn terminal_without_wakeup_gives_up_until_next_power_up() {
    let mut hs = Handset::new(default_card(), true);
    hs.sms_results.push_back((0x22, vec![]));
    hs.boot(&TP_MIN);
    assert_eq!(hs.sent.len(), 1);
    assert_eq!(*hs.card.applet_state(), State::Done(Outcome::GaveUp));
    hs.boot(&TP_MIN);
    assert_eq!(hs.sent.len(), 2);
    assert_eq!(hs.card.record().unwrap().stored_imei(), Some(IMEI_A));
}

#[test]
fn envelope_during_proactive_session_is_busy() {
    for cla in [0x80u8, 0xA0] {
        let mut card = default_card();
        let tp = with_cla(cla, "80 10 00 00 08 23 01 29 42 11 00 00 07");
        assert_eq!(xchg(&mut card, &tp, 0), h("91 0B"));
        let env = with_cla(
            cla,
            "80 C2 00 00 0E D7 0C 82 02 82 81 A4 01 01 A5 03 00 03 00",
        );
        // Pending (not fetched) and outstanding (fetched, no TR yet): both busy.
        assert_eq!(xchg(&mut card, &env, 0), h("93 00"));
        let f = xchg(&mut card, &with_cla(cla, "80 12 00 00 0B"), 0);
        assert_eq!(sw_of(&f), 0x9000);
        assert_eq!(xchg(&mut card, &env, 0), h("93 00"));
    }
}

#[test]
fn warm_reset_ends_the_proactive_session() {
    let mut card = default_card();
    assert_eq!(
        xchg(&mut card, &h("80 10 00 00 08 23 01 29 42 11 00 00 07"), 0),
        h("91 0B")
    );
    card.power_on(false);
    assert_eq!(xchg(&mut card, &h("80 12 00 00 0B"), 0), h("69 85"));
    assert_eq!(
        xchg(
            &mut card,
            &h("80 14 00 00 0C 81 03 01 26 01 82 02 82 81 83 01 00"),
            0
        ),
        h("69 85")
    );
    // A new profile starts a new session.
    assert_eq!(
        xchg(&mut card, &h("80 10 00 00 08 23 01 29 42 11 00 00 07"), 0),
        h("91 0B")
    );
}

#[test]
fn imeisv_flow_when_profile_and_config_allow() {
    let mut p = test_personalisation();
    p.applet.request_imeisv = true;
    let mut hs = Handset::new(new_card(&p), false);
    hs.imeisv = Some(IMEISV_A);
    let mut tp = vec![0u8; 18];
    tp[..8].copy_from_slice(&TP_FULL);
    tp[17] = 0x40;
    hs.boot(&tp);
    // 02-cat.md §9: PROVIDE LOCAL INFORMATION (IMEISV) D0 09 81 03 .. 26 08 82 02 81 82.
    let fetched: Vec<&Vec<u8>> = hs
        .log
        .iter()
        .filter(|(c, _)| c[1] == 0x12)
        .map(|x| &x.1)
        .collect();
    assert_eq!(fetched[1], &h("D0 09 81 03 02 26 08 82 02 81 82 90 00"));
    assert_eq!(hs.sent[0].imeisv, Some(IMEISV_A));
    assert_eq!(hs.card.record().unwrap().stored_imeisv(), Some(IMEISV_A));
}

#[test]
fn missing_and_malformed_imei_are_recorded_not_registered() {
    for imei in [None, Some([0x4A, 0x09, 0x51, 0x24, 0x30, 0x32, 0x57, 0x71])] {
        let mut hs = Handset::new(default_card(), false);
        hs.imei = imei;
        assert_eq!(hs.boot(&TP_FULL), StatusWord::OK);
        assert!(hs.sent.is_empty());
        assert_eq!(*hs.card.applet_state(), State::Done(Outcome::ImeiUnusable));
        assert!(hs.card.record().unwrap().last_failure().is_some());
    }
}

#[test]
fn select_and_read_files_uicc() {
    let mut card = default_card();
    // 01-apdu.md §3: SELECT MF with FCP → 61xx, GET RESPONSE → FCP (tag 62) + 9000.
    let r = xchg(&mut card, &h("00 A4 00 04 02 3F 00"), 0);
    let n = sw(&r).response_available().expect("61xx");
    let r = xchg(&mut card, &[0x00, 0xC0, 0x00, 0x00, n], 0);
    assert_eq!(r[0], 0x62);
    assert_eq!(r.len(), usize::from(n) + 2);
    assert_eq!(sw_of(&r), 0x9000);
    // EF.ICCID (no PIN needed): 98 94 00 01 21 43 65 87 09 F1.
    let r = xchg(&mut card, &h("00 A4 00 0C 02 2F E2"), 0);
    assert_eq!(r, h("90 00"));
    assert_eq!(
        xchg(&mut card, &h("00 B0 00 00 0A"), 0),
        h("98 94 00 01 21 43 65 87 09 F1 90 00")
    );
    // Le too large → 6C0A, then the right Le.
    assert_eq!(xchg(&mut card, &h("00 B0 00 00 0B"), 0), h("6C 0A"));
    // EF.IMSI needs PIN1: 6982, VERIFY "1234", then read.
    assert_eq!(
        sw_of(&xchg(&mut card, &h("00 A4 08 0C 04 7F 20 6F 07"), 0)),
        0x9000
    );
    assert_eq!(xchg(&mut card, &h("00 B0 00 00 09"), 0), h("69 82"));
    assert_eq!(
        xchg(&mut card, &h("00 20 00 01 08 31 32 33 35 FF FF FF FF"), 0),
        h("63 C2")
    );
    assert_eq!(
        xchg(&mut card, &h("00 20 00 01 08 31 32 33 34 FF FF FF FF"), 0),
        h("90 00")
    );
    assert_eq!(
        xchg(&mut card, &h("00 B0 00 00 09"), 0),
        h("08 09 10 10 10 32 54 76 98 90 00")
    );
}

#[test]
fn select_and_read_files_gsm() {
    let mut card = default_card();
    // 01-apdu.md §3: A0 A4 00 00 02 7F 20 → 9Fxx; A0 C0 → response; then EF.IMSI.
    let r = xchg(&mut card, &h("A0 A4 00 00 02 7F 20"), 0);
    assert_eq!(r[0], 0x9F);
    let r = xchg(&mut card, &[0xA0, 0xC0, 0x00, 0x00, r[1]], 0);
    assert_eq!(&r[4..6], &[0x7F, 0x20]);
    assert_eq!(sw_of(&r), 0x9000);
    assert_eq!(xchg(&mut card, &h("A0 A4 00 00 02 6F 07"), 0)[0], 0x9F);
    assert_eq!(xchg(&mut card, &h("A0 B0 00 00 09"), 0), h("98 04"));
    assert_eq!(
        xchg(&mut card, &h("A0 20 00 01 08 31 32 33 34 FF FF FF FF"), 0),
        h("90 00")
    );
    assert_eq!(
        xchg(&mut card, &h("A0 B0 00 00 09"), 0),
        h("08 09 10 10 10 32 54 76 98 90 00")
    );
    // GSM wrong length: 67xx.
    assert_eq!(xchg(&mut card, &h("A0 B0 00 00 0A"), 0), h("67 09"));
}

#[test]
fn response_data_and_pending_command_both_signalled() {
    let mut card = default_card();
    assert_eq!(
        xchg(&mut card, &h("80 10 00 00 08 23 01 29 42 11 00 00 07"), 0),
        h("91 0B")
    );
    // SELECT while a proactive command waits: 61xx first, then 91 0B after GET RESPONSE.
    let r = xchg(&mut card, &h("00 A4 00 04 02 3F 00"), 0);
    let n = sw(&r).response_available().unwrap();
    let r = xchg(&mut card, &[0x00, 0xC0, 0x00, 0x00, n], 0);
    assert_eq!(&r[r.len() - 2..], &[0x91, 0x0B]);
    // A case-1/3 command that succeeds also says 91 0B (STATUS no data).
    assert_eq!(xchg(&mut card, &h("80 F2 00 0C 00"), 0), h("91 0B"));
    // FETCH with the wrong Le: 6C0B; GSM: 670B.
    assert_eq!(xchg(&mut card, &h("80 12 00 00 0A"), 0), h("6C 0B"));
    assert_eq!(xchg(&mut card, &h("A0 12 00 00 20"), 0), h("67 0B"));
    assert_eq!(sw_of(&xchg(&mut card, &h("80 12 00 00 0B"), 0)), 0x9000);
}

#[test]
fn get_response_in_parts() {
    let mut card = default_card();
    let r = xchg(&mut card, &h("00 A4 00 04 02 3F 00"), 0);
    let n = sw(&r).response_available().unwrap();
    let a = xchg(&mut card, &[0x00, 0xC0, 0x00, 0x00, 4], 0);
    assert_eq!(sw(&a), StatusWord::bytes_available(n - 4));
    let b = xchg(&mut card, &[0x00, 0xC0, 0x00, 0x00, n - 4], 0);
    assert_eq!(sw_of(&b), 0x9000);
    assert_eq!(a[0], 0x62);
    // Another command discards what is left.
    let _ = xchg(&mut card, &h("00 A4 00 04 02 3F 00"), 0);
    let _ = xchg(&mut card, &h("80 F2 00 0C 00"), 0);
    assert_eq!(xchg(&mut card, &h("00 C0 00 00 04"), 0), h("69 85"));
}
