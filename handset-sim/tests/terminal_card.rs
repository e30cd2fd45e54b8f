//! The terminal drives the project's simulated card (`applet::card::Card` with the
//! IMEI-tracking applet) through each reader backend, and one card is swapped between
//! two handsets with different IMEIs: exactly one registration SMS per change, none when
//! the same handset powers up again. Every registration is checked with the codec and
//! the card's key (`docs/registration.md`).
//!
//! Backends: the in-process simulated reader, and pcscd + vpcd (skipped outside CI when
//! missing, failing in CI).

mod common;

use std::str::FromStr;

use applet::card::test_personalisation;
use applet::wire::imei::Imei;
use applet::wire::registration::{EventKind, RegistrationRepr};
use applet::wire::sms::tpdu::SmsSubmit;
use common::pcscd::{Served, connect_when_ready, lock_slot, pcscd_ready};
use handset_sim::CardReader;
use handset_sim::profile::{Catalogue, Handset};
use handset_sim::reader::sim::SimulatedReader;
use handset_sim::terminal::uicc::{SharedCard, SimulatedUicc};
use handset_sim::terminal::{SessionEvent, SimNetwork, Terminal, TerminalConfig};

fn handsets() -> (Handset, Handset) {
    let cat = Catalogue::builtin().unwrap();
    let a = cat.by_name("Nordvik N100").unwrap().clone();
    let b = cat.by_name("Solstice S22").unwrap().clone();
    (a, b)
}

fn config() -> TerminalConfig {
    TerminalConfig {
        pin: Some("1234".into()),
        default_poll_interval_ms: None,
        ..TerminalConfig::default()
    }
}

/// One power-up as `handset`; returns the registrations the card sent.
fn session<R: CardReader>(reader: R, handset: &Handset) -> (R, Vec<RegistrationRepr>) {
    let mut t = Terminal::with_config(reader, handset.clone(), SimNetwork::new(), config());
    if let Err(e) = t.power_up().and_then(|_| t.attach()) {
        let log: Vec<String> = t.log().iter().map(|e| e.event.to_string()).collect();
        panic!("session failed: {e}\n{}", log.join("\n"));
    }
    let key = test_personalisation().applet.key;
    let regs = t
        .network()
        .sent
        .iter()
        .map(|m| {
            let sub = SmsSubmit::parse(&m.tpdu).expect("card sent an SMS-SUBMIT");
            let ud = sub.user_data.data().expect("8-bit registration");
            RegistrationRepr::verify(ud, &key).expect("registration verifies with the card key")
        })
        .collect();
    // Every command got a performed TERMINAL RESPONSE.
    for e in t.log() {
        if let SessionEvent::TerminalResponse { .. } = e.event {
            let r = e.event.terminal_response().unwrap();
            assert!(r.result.general.is_performed(), "{}", e.event);
        }
    }
    t.power_off();
    let (reader, _) = t.into_parts();
    (reader, regs)
}

fn imei_of(r: &RegistrationRepr) -> Imei {
    Imei::parse(&r.imei).unwrap()
}

/// Runs the swap sequence A, A, B, B, A over `reader_for` and checks the SMS count.
fn swap_sequence<R: CardReader>(mut reader: R) {
    let (a, b) = handsets();
    let steps = [
        (&a, Some(EventKind::FIRST_USE)),
        (&a, None),
        (&b, Some(EventKind::HANDSET_CHANGED)),
        (&b, None),
        (&a, Some(EventKind::HANDSET_CHANGED)),
    ];
    let mut last_counter = None;
    for (i, (h, expect)) in steps.iter().enumerate() {
        let (r, regs) = session(reader, h);
        reader = r;
        match expect {
            None => assert!(
                regs.is_empty(),
                "step {i}: unexpected registration {regs:?}"
            ),
            Some(kind) => {
                assert_eq!(regs.len(), 1, "step {i}: exactly one registration");
                let reg = &regs[0];
                assert_eq!(reg.event, *kind, "step {i}");
                assert_eq!(imei_of(reg), h.imei, "step {i}");
                if *kind == EventKind::HANDSET_CHANGED {
                    let prev = Imei::parse(&reg.previous_imei.unwrap()).unwrap();
                    assert_ne!(prev, h.imei, "step {i}");
                }
                if let Some(c) = last_counter {
                    assert!(reg.counter > c, "step {i}: counter must grow");
                }
                last_counter = Some(reg.counter);
            }
        }
    }
}

#[test]
fn card_registers_once_per_handset_change_sim_reader() {
    let card = SimulatedUicc::new(&test_personalisation()).unwrap();
    swap_sequence(SimulatedReader::new(card));
}

#[test]
fn card_registers_once_per_handset_change_through_pcscd() {
    if !pcscd_ready() {
        return;
    }
    let _slot = lock_slot(1);
    let card = SharedCard::new(SimulatedUicc::new(&test_personalisation()).unwrap());
    let atr = applet::card::ATR.to_vec();
    let _served = Served::start(card.clone(), 1);
    let reader = connect_when_ready(1, &atr);
    swap_sequence(reader);
}

#[test]
fn registration_sms_is_well_formed() {
    let card = SimulatedUicc::new(&test_personalisation()).unwrap();
    let (a, _) = handsets();
    let mut t = Terminal::with_config(
        SimulatedReader::new(card),
        a.clone(),
        SimNetwork::new(),
        config(),
    );
    t.power_up().unwrap();
    t.attach().unwrap();
    let sent = &t.network().sent;
    assert_eq!(sent.len(), 1);
    let sub = SmsSubmit::parse(&sent[0].tpdu).unwrap();
    assert_eq!(sub.destination.to_string(), "+447700900123");
    let info = t.card().unwrap();
    assert_eq!(info.iccid, "8949001012345678901");
    assert_eq!(info.imsi, "001010123456789");
    let reg = RegistrationRepr::verify(
        sub.user_data.data().unwrap(),
        &test_personalisation().applet.key,
    )
    .unwrap();
    assert_eq!(reg.iccid.to_vec(), info.ef_iccid);
    assert_eq!(
        Imei::parse(&reg.imei).unwrap(),
        Imei::from_str("001245000000174").unwrap()
    );
}
