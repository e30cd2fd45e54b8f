//! The world's routing, end to end with the real card, terminal and SMSC, and a
//! **test-only** recording server in place of the stub: registration SMS out through
//! SEND SHORT MESSAGE → SMSC → in-process ESME → server; server reply → SMSC → SMS-DELIVER
//! → handset inbox; reboot without SMS; swap with HANDSET_CHANGED; SMSC outage and the
//! applet's retry.

mod world_support;

use applet::wire::registration::EventKind;
use handset_sim::network::{DownWindow, Faults};
use handset_sim::terminal::MoOutcome;
use scenarios::world::Lane;
use world_support::*;

#[test]
fn first_use_registration_reaches_the_server_and_the_reply_reaches_the_inbox() {
    let (mut w, seen) = world(1);
    w.insert("sim", "s22").unwrap();
    w.power_on("s22").unwrap();

    let card = w.card_view("sim").unwrap();
    assert_eq!(card.sent.len(), 1, "{:#?}", card.sent);
    let sms = &card.sent[0];
    assert_eq!(sms.outcome, MoOutcome::Sent { mr: sms.tpdu[1] });
    let reg = sms.registration.as_ref().unwrap();
    assert_eq!(reg.event, EventKind::FIRST_USE);
    let imei = w.handset_view("s22").unwrap().imei;
    assert_eq!(reg.imei, imei);
    assert_eq!(card.stored_imei.as_deref(), Some(imei.as_str()));

    // The server got it at the same instant (no latency), MAC verified, from the MSISDN.
    {
        let s = seen.lock().unwrap();
        assert_eq!(s.mo.len(), 1);
        assert_eq!(s.mo[0].1.source, MSISDN);
        assert_eq!(s.mo[0].1.destination, STUB);
        assert!(s.verdicts[0].outcome.is_ok());
    }
    // Its text reply reached the handset's inbox as an SMS-DELIVER.
    let h = w.handset_view("s22").unwrap();
    assert_eq!(h.inbox.len(), 1);
    assert_eq!(h.inbox[0].1.user_data, b"welcome");
    assert_eq!(h.inbox[0].1.source, STUB);

    // Every lane pair of the path shows up on the ladder, in order.
    let arrows = w.arrows();
    let pos = |f: Lane, t: Lane, l: &str| {
        arrows
            .iter()
            .position(|a| a.from == f && a.to == t && a.label.contains(l))
            .unwrap_or_else(|| panic!("no {f}->{t} {l}: {arrows:#?}"))
    };
    let atr = pos(Lane::Card, Lane::Handset, "ATR");
    let fetch_sms = pos(Lane::Card, Lane::Handset, "SEND SHORT MESSAGE");
    let submit = pos(Lane::Handset, Lane::Network, "SMS-SUBMIT");
    let ack = pos(Lane::Network, Lane::Handset, "RP-ACK");
    let deliver_sm = pos(Lane::Network, Lane::Stub, "deliver_sm");
    let submit_sm = pos(Lane::Stub, Lane::Network, "submit_sm");
    let deliver = pos(Lane::Network, Lane::Handset, "SMS-DELIVER");
    assert!(atr < fetch_sms && fetch_sms < submit && submit < ack);
    assert!(ack < deliver_sm && deliver_sm < submit_sm && submit_sm < deliver);
    let submit_arrow = &arrows[submit];
    assert_eq!(submit_arrow.raw_hex, hex::encode_upper(&sms.tpdu));
    assert!(
        submit_arrow
            .detail
            .iter()
            .any(|l| l.contains("first use") && l.contains("counter")),
        "{submit_arrow:#?}"
    );
}

#[test]
fn reboot_in_the_same_handset_sends_nothing_and_a_swap_reports_the_change() {
    let (mut w, seen) = world(2);
    w.insert("sim", "s22").unwrap();
    w.power_on("s22").unwrap();
    w.advance(60_000);
    w.power_off("s22").unwrap();
    w.advance(1000);
    w.power_on("s22").unwrap();
    w.advance(60_000);
    assert_eq!(w.card_view("sim").unwrap().sent.len(), 1, "reboot: no SMS");

    let first_imei = w.handset_view("s22").unwrap().imei;
    w.power_off("s22").unwrap();
    w.move_card("sim", "n310").unwrap();
    w.power_on("n310").unwrap();
    w.advance(60_000);
    let card = w.card_view("sim").unwrap();
    assert_eq!(card.sent.len(), 2);
    let reg = card.sent[1].registration.as_ref().unwrap();
    assert_eq!(reg.event, EventKind::HANDSET_CHANGED);
    assert_eq!(reg.previous_imei.as_deref(), Some(first_imei.as_str()));
    let n310 = w.handset_view("n310").unwrap().imei;
    assert_eq!(reg.imei, n310);
    assert_eq!(card.stored_imei.as_deref(), Some(n310.as_str()));
    assert_eq!(card.in_handset.as_deref(), Some("n310"));
    assert_eq!(seen.lock().unwrap().verdicts.len(), 2);
    // The NVM moved with the card: counter went on from the first registration.
    assert!(card.next_counter >= 2);
}

#[test]
fn smsc_outage_then_the_applet_retries_and_gets_through() {
    let (mut w, seen) = world(3);
    w.set_faults(Faults {
        down: vec![DownWindow {
            from_ms: 0,
            until_ms: 30_000,
        }],
        ..Faults::none()
    });
    w.insert("sim", "s22").unwrap();
    w.power_on("s22").unwrap();
    let card = w.card_view("sim").unwrap();
    // SMSC down: RP-ERROR 38 (network out of order), TS 24.011 §8.2.5.4 — for the first
    // attempt and for the retry the location status event triggers at once.
    assert!(!card.sent.is_empty());
    assert!(
        card.sent
            .iter()
            .all(|s| s.outcome == MoOutcome::RpError { cause: 38 }),
        "{:#?}",
        card.sent
    );
    assert!(seen.lock().unwrap().mo.is_empty());

    w.advance(10 * 60_000);
    let card = w.card_view("sim").unwrap();
    let last = card.sent.last().unwrap();
    assert!(
        matches!(last.outcome, MoOutcome::Sent { .. }),
        "{:#?}",
        card.sent
    );
    assert!(last.t_ms >= 30_000);
    assert!(
        card.sent[..card.sent.len() - 1]
            .iter()
            .all(|s| s.outcome == MoOutcome::RpError { cause: 38 })
    );
    assert_eq!(seen.lock().unwrap().mo.len(), 1, "exactly one got through");
    assert!(card.stored_imei.is_some());
}

#[test]
fn stub_stopped_messages_wait_in_the_smsc_and_arrive_on_restart() {
    let (mut w, seen) = world(4);
    w.stop_server().unwrap();
    w.insert("sim", "s22").unwrap();
    w.power_on("s22").unwrap();
    assert!(matches!(
        w.card_view("sim").unwrap().sent[0].outcome,
        MoOutcome::Sent { .. }
    ));
    w.advance(5 * 60_000);
    assert!(seen.lock().unwrap().mo.is_empty());
    w.start_server().unwrap();
    assert_eq!(seen.lock().unwrap().mo.len(), 1);
    assert_eq!(w.handset_view("s22").unwrap().inbox.len(), 1);
}

#[test]
fn power_cut_during_registration_then_restart_recovers() {
    let (mut w, _) = world(5);
    w.insert("sim", "s22").unwrap();
    w.cut_power_at_write("sim", 1, 3).unwrap();
    w.power_on("s22").unwrap();
    let h = w.handset_view("s22").unwrap();
    assert!(!h.powered, "the cut switched the handset off");
    let arrows = w.arrows();
    let armed = arrows
        .iter()
        .position(|a| a.label.starts_with("power cut armed"))
        .expect("armed at the cold reset");
    let cut = arrows
        .iter()
        .position(|a| a.label == "power cut")
        .expect("the cut fired");
    assert!(armed < cut);
    assert!(
        arrows[armed..cut]
            .iter()
            .any(|a| a.label.contains("ATR") || a.label.contains("FETCH"))
    );
    w.advance(1000);
    w.power_on("s22").unwrap();
    w.advance(10 * 60_000);
    let card = w.card_view("sim").unwrap();
    let imei = w.handset_view("s22").unwrap().imei;
    assert_eq!(card.stored_imei.as_deref(), Some(imei.as_str()));
    assert!(
        card.sent
            .iter()
            .any(|s| matches!(s.outcome, MoOutcome::Sent { .. })),
        "{:#?}",
        card.sent
    );
}
