//! SMSC core, pure: MO/MT paths, store-and-forward, faults, receipts, windows,
//! throttling, determinism. No sockets, no tokio; virtual time only.

use handset_sim::network::receipt::MessageState;
use handset_sim::network::smsc::ReceiptInfo;
use handset_sim::network::*;

const HANDSET: &str = "447700900123";
const IMSI: &str = "001010123456789";
const SHORT_CODE: &str = "4321";

fn world() -> Networks {
    let mut w = Networks::new();
    w.add_network(Network {
        name: "primary".into(),
        plmn: Plmn::new(1, 1),
        lac: 0x1234,
        cell_id: 0x42,
        smsc_address: "447700900000".into(),
    })
    .unwrap();
    w.add_network(Network {
        name: "roaming".into(),
        plmn: Plmn::new(262, 1),
        lac: 7,
        cell_id: 9,
        smsc_address: "491710760000".into(),
    })
    .unwrap();
    w.add_operator(Operator {
        name: "primary".into(),
        home_plmn: Plmn::new(1, 1),
        host_network: "primary".into(),
        mvno: false,
    })
    .unwrap();
    w.add_operator(Operator {
        name: "virt".into(),
        home_plmn: Plmn::new_three_digit(1, 777),
        host_network: "primary".into(),
        mvno: true,
    })
    .unwrap();
    w
}

fn smsc_with(config: SmscConfig, seed: u64) -> Smsc {
    let mut s = Smsc::new(config, world(), seed);
    s.networks.attach(HANDSET, IMSI, "primary").unwrap();
    s
}

fn config() -> SmscConfig {
    SmscConfig {
        accounts: vec![
            EsmeAccount::new("stub", "secret"),
            EsmeAccount::new("other", "pw"),
        ],
        ..SmscConfig::default()
    }
}

fn smsc() -> Smsc {
    smsc_with(config(), 1)
}

fn registration() -> ShortMessage {
    // Illustrative registration payload of spec/04-sms.md §4 (8-bit, no UDH).
    ShortMessage::new(
        "ignored",
        SHORT_CODE,
        0x00,
        0x04,
        vec![0x49, 0x54, 0x01, 0x4A],
    )
}

#[test]
fn mo_reaches_bound_esme_with_network_stamped_source() {
    let mut s = smsc();
    s.faults.latency_ms = 500;
    let sid = s
        .bind("stub", "secret", BindKind::Transceiver, SHORT_CODE, 0)
        .unwrap();
    assert_eq!(
        s.submit_mo(HANDSET, 0x2A, registration(), 1000),
        MoOutcome::RpAck { message_ref: 0x2A }
    );
    assert_eq!(s.poll_esme(sid, 1499), None, "latency not yet elapsed");
    let d = s.poll_esme(sid, 1500).unwrap();
    assert_eq!(d.sm.source, HANDSET);
    assert_eq!(d.sm.destination, SHORT_CODE);
    assert_eq!(d.sm.user_data, [0x49, 0x54, 0x01, 0x4A]);
    assert_eq!(d.esm_class, 0);
    assert_eq!(d.receipt, None);
    s.esme_ack(sid, d.id, true, 1501);
    assert_eq!(s.esme_queue_len("stub"), 0);
}

#[test]
fn longest_prefix_routing_and_transmitter_gets_nothing() {
    let mut s = smsc();
    let all = s.bind("other", "pw", BindKind::Receiver, "", 0).unwrap();
    let tx = s
        .bind("stub", "secret", BindKind::Transmitter, SHORT_CODE, 0)
        .unwrap();
    let stub = s
        .bind("stub", "secret", BindKind::Receiver, "43", 0)
        .unwrap();
    s.submit_mo(HANDSET, 1, registration(), 0);
    let mut other = registration();
    other.destination = "999".into();
    s.submit_mo(HANDSET, 2, other, 0);
    assert_eq!(s.poll_esme(tx, 0), None);
    assert_eq!(s.poll_esme(stub, 0).unwrap().sm.destination, SHORT_CODE);
    assert_eq!(s.poll_esme(all, 0).unwrap().sm.destination, "999");
}

#[test]
fn mo_store_and_forward_until_esme_binds_then_expiry() {
    let mut s = smsc_with(
        SmscConfig {
            validity_ms: 60_000,
            ..config()
        },
        1,
    );
    assert_eq!(
        s.submit_mo(HANDSET, 1, registration(), 0),
        MoOutcome::RpAck { message_ref: 1 }
    );
    assert_eq!(s.unrouted_len(), 1);
    let sid = s
        .bind("stub", "secret", BindKind::Receiver, SHORT_CODE, 10_000)
        .unwrap();
    assert_eq!(s.unrouted_len(), 0);
    assert_eq!(s.poll_esme(sid, 10_000).unwrap().sm.source, HANDSET);
    // Second message: nobody bound any more, and it expires.
    s.unbind(sid, 11_000);
    s.submit_mo(HANDSET, 2, registration(), 20_000);
    s.expire(80_000);
    assert_eq!(s.unrouted_len(), 0);
    let ev = s.take_events();
    assert!(
        ev.iter()
            .any(|(t, e)| *t == 80_000 && matches!(e, Event::Expired { .. }))
    );
}

#[test]
fn static_route_queues_for_an_unbound_esme() {
    let mut cfg = config();
    cfg.accounts[0].routes = vec![SHORT_CODE.into()];
    let mut s = smsc_with(cfg, 1);
    s.submit_mo(HANDSET, 1, registration(), 0);
    assert_eq!(s.esme_queue_len("stub"), 1);
    let sid = s
        .bind("stub", "secret", BindKind::Transceiver, "", 5)
        .unwrap();
    assert!(s.poll_esme(sid, 5).is_some());
}

#[test]
fn mo_outcomes_unreachable_down_forced_cause() {
    let mut s = smsc();
    s.networks.set_coverage(HANDSET, false).unwrap();
    assert_eq!(
        s.submit_mo(HANDSET, 1, registration(), 0),
        MoOutcome::NetworkUnable
    );
    s.networks.set_coverage(HANDSET, true).unwrap();
    s.faults.down = vec![DownWindow {
        from_ms: 100,
        until_ms: 200,
    }];
    assert_eq!(
        s.submit_mo(HANDSET, 2, registration(), 150),
        MoOutcome::RpError {
            cause: RpCause::NETWORK_OUT_OF_ORDER
        }
    );
    assert_eq!(
        s.submit_mo(HANDSET, 3, registration(), 200),
        MoOutcome::RpAck { message_ref: 3 }
    );
    s.faults.mo_rp_error = Some(RpCause::CONGESTION);
    assert_eq!(
        s.submit_mo(HANDSET, 4, registration(), 300),
        MoOutcome::RpError { cause: RpCause(42) }
    );
    assert_eq!(
        s.submit_mo("440000000000", 5, registration(), 300),
        MoOutcome::NetworkUnable
    );
}

#[test]
fn mt_waits_for_attach_and_coverage_then_receipt() {
    let mut s = smsc();
    s.networks.detach(HANDSET);
    let sid = s
        .bind("stub", "secret", BindKind::Transceiver, SHORT_CODE, 0)
        .unwrap();
    let push = ShortMessage::new(SHORT_CODE, HANDSET, 0, 0x04, b"hello".to_vec())
        .with_udh([0x05, 0x04, 0x0B, 0x84, 0x23, 0xF0]);
    let id = s.submit_sm(sid, push.clone(), 1, 60_000).unwrap();
    assert_eq!(s.poll_mt(HANDSET, 60_000), None, "detached");
    s.networks.attach(HANDSET, IMSI, "roaming").unwrap();
    s.networks.set_coverage(HANDSET, false).unwrap();
    assert_eq!(s.poll_mt(HANDSET, 61_000), None, "no coverage");
    s.networks.set_coverage(HANDSET, true).unwrap();
    let mt = s.poll_mt(HANDSET, 120_000).unwrap();
    assert_eq!(mt.message_id, id);
    assert_eq!(mt.sm, push);
    assert_eq!(
        mt.smsc_address, "491710760000",
        "SMSC address of the serving network"
    );
    assert_eq!(
        s.networks.location(HANDSET).unwrap().to_bytes(),
        [0x62, 0xF2, 0x10, 0, 7, 0, 9]
    );
    let r = s.poll_esme(sid, 120_000).unwrap();
    assert_eq!(r.esm_class, 0x04);
    assert_eq!(r.sm.source, HANDSET);
    assert_eq!(r.sm.destination, SHORT_CODE);
    assert_eq!(
        r.receipt,
        Some(ReceiptInfo {
            message_id: id.clone(),
            state: MessageState::Delivered
        })
    );
    // Epoch 2025-11-27 20:00 UTC; submitted at +60 s, done at +120 s.
    assert_eq!(
        String::from_utf8(r.sm.user_data).unwrap(),
        format!(
            "id:{id} sub:001 dlvrd:001 submit date:2511272001 done date:2511272002 \
             stat:DELIVRD err:000 text:hello"
        )
    );
}

#[test]
fn receipts_only_when_asked() {
    let mut s = smsc();
    let sid = s
        .bind("stub", "secret", BindKind::Transceiver, "", 0)
        .unwrap();
    let sm = ShortMessage::new(SHORT_CODE, HANDSET, 0, 0, b"x".to_vec());
    s.submit_sm(sid, sm.clone(), 0, 0).unwrap();
    s.submit_sm(sid, sm.clone(), 2, 0).unwrap(); // failure only
    assert!(s.poll_mt(HANDSET, 0).is_some());
    assert!(s.poll_mt(HANDSET, 0).is_some());
    assert_eq!(s.poll_esme(sid, 0), None);
    s.faults.mt_rp_error = Some(RpCause::MEMORY_CAPACITY_EXCEEDED);
    s.submit_sm(sid, sm, 2, 0).unwrap();
    assert_eq!(s.poll_mt(HANDSET, 0), None);
    let r = s.poll_esme(sid, 0).unwrap();
    let text = String::from_utf8(r.sm.user_data).unwrap();
    assert!(
        text.contains("dlvrd:000") && text.contains("stat:UNDELIV err:022"),
        "{text}"
    );
}

#[test]
fn mt_expiry_and_loss_retry() {
    let mut s = smsc_with(
        SmscConfig {
            validity_ms: 10_000,
            retry_interval_ms: 1_000,
            ..config()
        },
        3,
    );
    let sid = s
        .bind("stub", "secret", BindKind::Transceiver, "", 0)
        .unwrap();
    s.networks.detach(HANDSET);
    s.submit_sm(
        sid,
        ShortMessage::new(SHORT_CODE, HANDSET, 0, 0, b"a".to_vec()),
        1,
        0,
    )
    .unwrap();
    s.expire(10_000);
    assert_eq!(s.mt_queue_len(HANDSET), 0);
    let r = s.poll_esme(sid, 10_000).unwrap();
    assert!(
        String::from_utf8(r.sm.user_data)
            .unwrap()
            .contains("stat:EXPIRED")
    );
    assert_eq!(r.receipt.unwrap().state, MessageState::Expired);

    s.networks.attach(HANDSET, IMSI, "primary").unwrap();
    s.faults.mt_loss = 1.0;
    s.submit_sm(
        sid,
        ShortMessage::new(SHORT_CODE, HANDSET, 0, 0, b"b".to_vec()),
        0,
        20_000,
    )
    .unwrap();
    assert_eq!(s.poll_mt(HANDSET, 20_000), None);
    s.faults.mt_loss = 0.0;
    assert_eq!(s.poll_mt(HANDSET, 20_500), None, "retry not due yet");
    assert_eq!(s.poll_mt(HANDSET, 21_000).unwrap().sm.user_data, b"b");
}

#[test]
fn binds_refused_and_outage_drops_sessions() {
    let mut s = smsc();
    assert_eq!(
        s.bind("nobody", "secret", BindKind::Transceiver, "", 0),
        Err(BindError::InvalidSystemId)
    );
    assert_eq!(
        s.bind("stub", "wrong", BindKind::Transceiver, "", 0),
        Err(BindError::InvalidPassword)
    );
    let sid = s
        .bind("stub", "secret", BindKind::Transceiver, "", 0)
        .unwrap();
    s.faults.down = vec![DownWindow {
        from_ms: 1000,
        until_ms: 2000,
    }];
    assert!(s.session_alive(sid, 999));
    assert!(!s.session_alive(sid, 1000));
    assert_eq!(
        s.bind("stub", "secret", BindKind::Transceiver, "", 1500),
        Err(BindError::Unavailable)
    );
    assert_eq!(
        s.submit_sm(sid, ShortMessage::new("1", HANDSET, 0, 0, vec![]), 0, 1500),
        Err(SubmitError::Unavailable)
    );
    assert!(
        s.bind("stub", "secret", BindKind::Transceiver, "", 2000)
            .is_ok()
    );
}

#[test]
fn submit_checks_and_throttling() {
    let mut s = smsc_with(
        SmscConfig {
            max_submits_per_second: Some(2),
            ..config()
        },
        1,
    );
    let rx = s.bind("stub", "secret", BindKind::Receiver, "", 0).unwrap();
    let tx = s
        .bind("stub", "secret", BindKind::Transmitter, "", 0)
        .unwrap();
    let sm = ShortMessage::new(SHORT_CODE, HANDSET, 0, 0x04, vec![0; 140]);
    assert_eq!(
        s.submit_sm(rx, sm.clone(), 0, 0),
        Err(SubmitError::NotBound)
    );
    assert_eq!(
        s.submit_sm(99, sm.clone(), 0, 0),
        Err(SubmitError::NotBound)
    );
    assert!(s.submit_sm(tx, sm.clone(), 0, 10).is_ok());
    assert!(s.submit_sm(tx, sm.clone(), 0, 20).is_ok());
    assert_eq!(
        s.submit_sm(tx, sm.clone(), 0, 999),
        Err(SubmitError::Throttled)
    );
    assert!(s.submit_sm(tx, sm.clone(), 0, 1000).is_ok());
    let mut long = sm.clone();
    long.user_data.push(0);
    assert_eq!(
        s.submit_sm(tx, long, 0, 1001),
        Err(SubmitError::MessageTooLong)
    );
    let mut bad = sm;
    bad.destination = "abc".into();
    assert_eq!(
        s.submit_sm(tx, bad, 0, 2000),
        Err(SubmitError::InvalidDestination)
    );
}

#[test]
fn deliver_window_retry_and_nack() {
    let mut s = smsc_with(
        SmscConfig {
            window: 2,
            response_timeout_ms: 5_000,
            retry_interval_ms: 1_000,
            ..config()
        },
        1,
    );
    let sid = s
        .bind("stub", "secret", BindKind::Transceiver, "", 0)
        .unwrap();
    for r in 0..3 {
        s.submit_mo(HANDSET, r, registration(), 0);
    }
    let a = s.poll_esme(sid, 0).unwrap();
    let b = s.poll_esme(sid, 0).unwrap();
    assert_eq!(s.poll_esme(sid, 0), None, "window full");
    s.esme_ack(sid, a.id, true, 10);
    let c = s.poll_esme(sid, 10).unwrap();
    assert_ne!(c.id, b.id);
    // b unanswered: offered again after the response timeout.
    assert_eq!(s.poll_esme(sid, 4_999), None);
    assert_eq!(s.poll_esme(sid, 5_000).unwrap().id, b.id);
    // c refused by the ESME: retried after retry_interval.
    s.esme_ack(sid, c.id, false, 5_000);
    assert_eq!(s.poll_esme(sid, 5_500), None);
    assert_eq!(s.poll_esme(sid, 6_000).unwrap().id, c.id);
    // Unbinding returns outstanding messages to the queue for the next session.
    s.unbind(sid, 6_001);
    let again = s
        .bind("stub", "secret", BindKind::Transceiver, "", 6_002)
        .unwrap();
    assert!(s.poll_esme(again, 6_002).is_some());
    assert_eq!(s.esme_queue_len("stub"), 2);
}

fn lossy_run(seed: u64) -> (Vec<MoOutcome>, Vec<(u64, Event)>) {
    let mut s = smsc_with(config(), seed);
    s.faults.mo_loss = 0.3;
    s.faults.mt_loss = 0.3;
    let sid = s
        .bind("stub", "secret", BindKind::Transceiver, "", 0)
        .unwrap();
    let mut outcomes = Vec::new();
    for i in 0..50u64 {
        outcomes.push(s.submit_mo(HANDSET, i as u8, registration(), i * 100));
        s.submit_sm(
            sid,
            ShortMessage::new(SHORT_CODE, HANDSET, 0, 0, vec![i as u8]),
            1,
            i * 100,
        )
        .unwrap();
        while s.poll_mt(HANDSET, i * 100 + 50).is_some() {}
    }
    (outcomes, s.take_events())
}

#[test]
fn deterministic_for_a_seed() {
    let (a, ea) = lossy_run(7);
    let (b, eb) = lossy_run(7);
    assert_eq!(a, b);
    assert_eq!(ea, eb);
    let lost = a.iter().filter(|o| **o == MoOutcome::NetworkUnable).count();
    assert!((5..=25).contains(&lost), "30 % of 50, got {lost}");
    let (c, _) = lossy_run(8);
    assert_ne!(a, c, "another seed gives another run");
}

#[test]
fn handset_to_handset_mo_becomes_mt() {
    let mut s = smsc();
    s.networks
        .attach("447700900999", "001777000000001", "primary")
        .unwrap();
    assert_eq!(
        s.networks
            .operator_for_imsi("001777000000001")
            .unwrap()
            .name,
        "virt"
    );
    let sm = ShortMessage::new("x", "447700900999", 0, 0, b"hi".to_vec());
    assert!(matches!(
        s.submit_mo(HANDSET, 9, sm, 0),
        MoOutcome::RpAck { .. }
    ));
    let mt = s.poll_mt("447700900999", 0).unwrap();
    assert_eq!(mt.sm.source, HANDSET);
    assert_eq!(mt.sm.user_data, b"hi");
}

/// A driver on virtual time asks who has MT waiting and when the SMSC next acts by
/// itself, instead of polling every number every tick.
#[test]
fn mt_waiting_and_next_due_let_a_driver_jump() {
    let mut s = smsc();
    let validity = s.config().validity_ms;
    // Nothing stored: nothing is due.
    assert_eq!(s.mt_waiting().count(), 0);
    assert_eq!(s.next_due(0), None);
    s.faults.latency_ms = 1500;
    let sid = s
        .bind("stub", "secret", BindKind::Transceiver, SHORT_CODE, 0)
        .unwrap();
    let other = "447700900999";
    s.networks
        .attach(other, "001010000000999", "primary")
        .unwrap();
    s.submit_sm(sid, ShortMessage::new("1", other, 0, 0, vec![1]), 0, 100)
        .unwrap();
    s.submit_sm(sid, ShortMessage::new("1", HANDSET, 0, 0, vec![2]), 0, 200)
        .unwrap();
    // Both numbers listed, in order; the earliest delivery is next.
    assert_eq!(s.mt_waiting().collect::<Vec<_>>(), [HANDSET, other]);
    assert_eq!(s.next_due(200), Some(1600));
    assert!(s.poll_mt(other, 1599).is_none(), "not due yet");
    assert!(s.poll_mt(other, 1600).is_some());
    // A delivered number leaves the list; the other is due at 1700.
    assert_eq!(s.mt_waiting().collect::<Vec<_>>(), [HANDSET]);
    assert_eq!(s.next_due(1600), Some(1700));
    // Due but unreachable: only expiry is left to wake up for (the SMSC's earliest
    // expiry is a lower bound, refreshed when it passes).
    s.networks.set_coverage(HANDSET, false).unwrap();
    assert!(s.poll_mt(HANDSET, 1700).is_none());
    let wake = s.next_due(1700).unwrap();
    assert!(wake > 100_000 && wake <= 200 + validity, "{wake}");
    // An outage's edges are due times too.
    s.faults.down.push(DownWindow {
        from_ms: 5_000,
        until_ms: 9_000,
    });
    assert_eq!(s.next_due(1700), Some(5_000));
    assert_eq!(s.next_due(5_000), Some(9_000));
    // After expiry nothing is left.
    s.expire(200 + validity);
    assert_eq!(s.mt_waiting().count(), 0);
    assert_eq!(s.next_due(200 + validity), None);
}
