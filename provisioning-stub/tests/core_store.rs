//! Store behaviour, the same cases on SQLite (always) and PostgreSQL (when available;
//! required with `CI=true`, see `provisioning_stub::store::testing`). Every case gets a
//! fresh database and two handles on it, standing for two stub instances.

use std::collections::HashSet;
use std::sync::Arc;

use provisioning_stub::billing::{
    self, BillingConfig, LedgerKind, ManufacturerTerms, OperatorTerms, Party, Share,
};
use provisioning_stub::devices::{Date, DeviceModel, Imei, Tac};
use provisioning_stub::inventory::{Card, Iccid, Imsi, Msisdn, RegistrationKey};
use provisioning_stub::report::{self, Period};
use provisioning_stub::store::{
    AnyStore, IssuanceId, KeySource, NewDelivery, NewIssuance, NewRegistration,
    ProvisioningFailure, RegistrationOutcome, Store, Timestamp, Verification,
};

const ICCID: &str = "8944500100000000012";

fn iccid() -> Iccid {
    Iccid::parse(ICCID).unwrap()
}

fn card() -> Card {
    Card {
        iccid: iccid(),
        imsi: Imsi::parse("208011000000001").unwrap(),
        msisdn: Some(Msisdn::parse("+33600000001").unwrap()),
        key: RegistrationKey([7; 16]),
    }
}

fn registration(counter: u64, raw: &[u8]) -> NewRegistration {
    NewRegistration {
        received_at: Timestamp(1_000),
        source_addr: "33600000001".into(),
        raw: raw.to_vec(),
        imei: Some("490154203237518".into()),
        verification: Verification::Verified {
            iccid: iccid(),
            counter,
        },
    }
}

fn billing_config() -> BillingConfig {
    BillingConfig {
        operators: vec![OperatorTerms {
            operator: "mvno-fr".into(),
            fee_minor: 199,
            currency: "EUR".into(),
        }],
        manufacturers: vec![ManufacturerTerms {
            manufacturer: "Acme".into(),
            share: Share::BasisPoints(3_000),
        }],
    }
}

fn ms(date: &str, hour: i64) -> Timestamp {
    Timestamp(Date::parse(date).unwrap().start().0 + hour * 3_600_000)
}

// ------------------------------------------------------------------ the cases

async fn cards_and_devices(a: AnyStore, b: AnyStore) {
    let s = a.import_cards(&[card()]).await.unwrap();
    assert_eq!((s.inserted, s.updated), (1, 0));
    let rec = b.card(&iccid()).await.unwrap().unwrap();
    assert_eq!(rec.card, card());
    assert_eq!(rec.last_counter, None);
    // Accept a counter, re-import with a new key: the counter survives.
    assert!(matches!(
        a.record_registration(&registration(5, b"r5"))
            .await
            .unwrap(),
        RegistrationOutcome::Accepted(_)
    ));
    let mut changed = card();
    changed.key = RegistrationKey([9; 16]);
    changed.msisdn = None;
    let s = b.import_cards(&[changed.clone()]).await.unwrap();
    assert_eq!((s.inserted, s.updated), (0, 1));
    let rec = a.card(&iccid()).await.unwrap().unwrap();
    assert_eq!(rec.card, changed);
    assert_eq!(rec.last_counter, Some(5));
    assert!(
        a.card(&Iccid::parse("8944500100000000020").unwrap())
            .await
            .unwrap()
            .is_none()
    );

    // A second card with the same IMSI: the whole import fails, nothing changes.
    let clash = Card {
        iccid: Iccid::parse("8944500100000000020").unwrap(),
        ..card()
    };
    let other = Card {
        iccid: Iccid::parse("8944500100000000038").unwrap(),
        imsi: Imsi::parse("208011000000009").unwrap(),
        ..card()
    };
    assert!(a.import_cards(&[other.clone(), clash]).await.is_err());
    assert!(
        a.card(&other.iccid).await.unwrap().is_none(),
        "import not atomic"
    );

    let dev = DeviceModel {
        tac: Tac::parse("49015420").unwrap(),
        manufacturer: "Acme".into(),
        make: "Acme".into(),
        model: "A1".into(),
        release_date: Some(Date::parse("2019-05-01").unwrap()),
        camera: Some(true),
        screen: "6.1in".into(),
        bands: vec!["GSM900".into(), "LTE-B20".into()],
    };
    let undated = DeviceModel {
        tac: Tac::parse("35693803").unwrap(),
        release_date: None,
        camera: None,
        bands: vec![],
        screen: String::new(),
        ..dev.clone()
    };
    let s = a
        .import_devices(&[dev.clone(), undated.clone()])
        .await
        .unwrap();
    assert_eq!((s.inserted, s.updated), (2, 0));
    assert_eq!(b.device(&dev.tac).await.unwrap(), Some(dev.clone()));
    assert_eq!(b.device(&undated.tac).await.unwrap(), Some(undated));
    let s = b.import_devices(&[dev]).await.unwrap();
    assert_eq!((s.inserted, s.updated), (0, 1));
    assert_eq!(
        a.device(&Tac::parse("11111111").unwrap()).await.unwrap(),
        None
    );

    let imei = Imei::parse("111111110000000").unwrap();
    a.record_unknown_tac(&imei, Timestamp(10)).await.unwrap();
    b.record_unknown_tac(&Imei::parse("11111111000001").unwrap(), Timestamp(5))
        .await
        .unwrap();
    let seen = a.unknown_tacs().await.unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].count, 2);
    assert_eq!(
        (seen[0].first_seen, seen[0].last_seen),
        (Timestamp(5), Timestamp(10))
    );
    assert_eq!(seen[0].last_imei, "11111111000001");
}

async fn registrations(a: AnyStore, b: AnyStore) {
    a.import_cards(&[card()]).await.unwrap();
    let RegistrationOutcome::Accepted(first) = a
        .record_registration(&registration(10, b"ten"))
        .await
        .unwrap()
    else {
        panic!("first registration not accepted")
    };
    // Same bytes again (SMSC redelivery) on the other instance: duplicate.
    let out = b
        .record_registration(&registration(10, b"ten"))
        .await
        .unwrap();
    assert!(matches!(out, RegistrationOutcome::Duplicate { original, .. } if original == first));
    // Same counter, other bytes: replay. Lower counter: replay.
    for (c, raw) in [(10, &b"forged"[..]), (9, b"nine")] {
        let out = b.record_registration(&registration(c, raw)).await.unwrap();
        assert!(
            matches!(
                out,
                RegistrationOutcome::Replay {
                    last_counter: 10,
                    ..
                }
            ),
            "{out:?}"
        );
    }
    // Higher counter: accepted.
    let out = b
        .record_registration(&registration(11, b"eleven"))
        .await
        .unwrap();
    assert!(matches!(out, RegistrationOutcome::Accepted(_)));
    assert_eq!(
        a.card(&iccid()).await.unwrap().unwrap().last_counter,
        Some(11)
    );
    // Rejected by verification; unknown card.
    let rejected = NewRegistration {
        verification: Verification::Rejected {
            iccid: Some(iccid()),
            counter: Some(99),
            reason: "bad MAC".into(),
        },
        ..registration(99, b"bad")
    };
    let out = a.record_registration(&rejected).await.unwrap();
    let RegistrationOutcome::Rejected(id) = out else {
        panic!("{out:?}")
    };
    assert_eq!(
        a.card(&iccid()).await.unwrap().unwrap().last_counter,
        Some(11)
    );
    let rec = b.registration(id).await.unwrap().unwrap();
    assert_eq!(
        (
            rec.outcome.as_str(),
            rec.reason.as_deref(),
            rec.counter,
            rec.raw.as_slice()
        ),
        ("rejected", Some("bad MAC"), Some(99), &b"bad"[..])
    );
    assert_eq!(rec.source_addr, "33600000001");
    let unknown = NewRegistration {
        verification: Verification::Verified {
            iccid: Iccid::parse("8944500100000000020").unwrap(),
            counter: 1,
        },
        ..registration(1, b"x")
    };
    assert!(matches!(
        a.record_registration(&unknown).await.unwrap(),
        RegistrationOutcome::Rejected(_)
    ));
    let rec = a.registration(first).await.unwrap().unwrap();
    assert_eq!((rec.outcome.as_str(), rec.reason), ("accepted", None));
    assert_eq!(rec.iccid.as_deref(), Some(ICCID));
    // Largest 5-byte counter of the registration format fits.
    assert!(matches!(
        a.record_registration(&registration((1 << 40) - 1, b"max"))
            .await
            .unwrap(),
        RegistrationOutcome::Accepted(_)
    ));
    assert!(
        a.record_registration(&registration(u64::MAX, b"huge"))
            .await
            .is_err()
    );
}

/// Issues a key for a fresh accepted registration with the given counter.
async fn issue(s: &AnyStore, counter: u64, at: Timestamp) -> IssuanceId {
    let RegistrationOutcome::Accepted(reg) = s
        .record_registration(&registration(counter, &counter.to_be_bytes()))
        .await
        .unwrap()
    else {
        panic!("not accepted")
    };
    let iss = NewIssuance {
        registration_id: Some(reg),
        iccid: ICCID.into(),
        imei: "490154203237518".into(),
        operator: Some("mvno-fr".into()),
        manufacturer: Some("Acme".into()),
        source: KeySource::Manufacturer,
        issued_at: at,
    };
    let first = s.record_issuance(&iss).await.unwrap();
    // Idempotent per registration.
    let again = s
        .record_issuance(&NewIssuance {
            source: KeySource::Local,
            ..iss
        })
        .await
        .unwrap();
    assert_eq!(first, again);
    s.record_delivery(&NewDelivery {
        registration_id: reg,
        issuance_id: Some(first.id),
        destination: "33600000001".into(),
        sent_at: at,
        message_ids: vec!["m1".into(), "m2".into()],
    })
    .await
    .unwrap();
    first.id
}

async fn confirm_and_pay(
    s: &AnyStore,
    id: IssuanceId,
    confirmed: Timestamp,
    paid: Option<Timestamp>,
) {
    let cfg = billing_config();
    let iss = s.issuance(id).await.unwrap().unwrap();
    let entries = billing::on_download_confirmed(&cfg, &iss, confirmed).unwrap();
    s.confirm_download(id, confirmed, &entries).await.unwrap();
    if let Some(paid) = paid {
        let ledger = s.ledger_for_issuance(id).await.unwrap();
        let fee = ledger
            .iter()
            .find(|e| e.kind == LedgerKind::FeeRequest)
            .unwrap();
        let entries = billing::on_payment(&cfg, &iss, fee, paid).unwrap();
        s.record_ledger(&entries).await.unwrap();
    }
}

async fn ledger_exactly_once(a: AnyStore, b: AnyStore) {
    a.import_cards(&[card()]).await.unwrap();
    let id = issue(&a, 1, ms("2026-11-02", 9)).await;
    let cfg = billing_config();
    let iss = b.issuance(id).await.unwrap().unwrap();
    assert_eq!(iss.source, KeySource::Manufacturer);
    let entries = billing::on_download_confirmed(&cfg, &iss, ms("2026-11-02", 10)).unwrap();
    let c1 = a
        .confirm_download(id, ms("2026-11-02", 10), &entries)
        .await
        .unwrap();
    assert!(c1.first);
    assert_eq!(c1.inserted.len(), 2);
    let c2 = b
        .confirm_download(id, ms("2026-11-02", 11), &entries)
        .await
        .unwrap();
    assert!(!c2.first);
    assert!(c2.inserted.is_empty());
    let fee = c1
        .inserted
        .iter()
        .find(|e| e.kind == LedgerKind::FeeRequest)
        .unwrap();
    let pay = billing::on_payment(&cfg, &iss, fee, ms("2026-11-03", 9)).unwrap();
    assert_eq!(b.record_ledger(&pay).await.unwrap().len(), 2);
    assert!(a.record_ledger(&pay).await.unwrap().is_empty());
    let all = a.ledger_for_issuance(id).await.unwrap();
    let kinds: Vec<_> = all.iter().map(|e| e.kind).collect();
    assert_eq!(kinds, LedgerKind::ALL.to_vec());
    let share = all
        .iter()
        .find(|e| e.kind == LedgerKind::ManufacturerShare)
        .unwrap();
    assert_eq!(
        (share.amount_minor, &share.party),
        (59, &Party::Manufacturer("Acme".into()))
    );
    // Confirming an issuance that does not exist fails; entries of another issuance too.
    assert!(
        a.confirm_download(IssuanceId(9_999), Timestamp(1), &[])
            .await
            .is_err()
    );
    assert!(
        a.confirm_download(IssuanceId(9_999), Timestamp(1), &entries)
            .await
            .is_err()
    );
    // ledger_between: from inclusive, to exclusive.
    let t = ms("2026-11-02", 10);
    assert_eq!(
        a.ledger_between(t, Timestamp(t.0 + 1)).await.unwrap().len(),
        2
    );
    assert_eq!(
        a.ledger_between(Timestamp(t.0 + 1), ms("2026-11-03", 9))
            .await
            .unwrap()
            .len(),
        0
    );
}

async fn report_known_amounts(a: AnyStore, b: AnyStore) {
    a.import_cards(&[card()]).await.unwrap();
    // Three issuances in November: two paid (one in December), one unpaid; one in October.
    let i1 = issue(&a, 1, ms("2026-10-30", 9)).await;
    confirm_and_pay(&a, i1, ms("2026-10-31", 23), Some(ms("2026-11-01", 0))).await;
    let i2 = issue(&b, 2, ms("2026-11-05", 9)).await;
    confirm_and_pay(&b, i2, ms("2026-11-05", 10), Some(ms("2026-11-06", 10))).await;
    let i3 = issue(&a, 3, ms("2026-11-30", 9)).await;
    confirm_and_pay(&a, i3, ms("2026-11-30", 23), Some(ms("2026-12-01", 0))).await;
    let i4 = issue(&b, 4, ms("2026-11-12", 9)).await;
    confirm_and_pay(&b, i4, ms("2026-11-12", 10), None).await;
    let period = Period {
        from: Date::parse("2026-11-01").unwrap(),
        to: Date::parse("2026-11-30").unwrap(),
    };
    let s = report::report(&a, period).await.unwrap();
    let csv = s.to_csv();
    // Requested in November: i2, i3, i4 = 3 × 199; paid in November: i1, i2 = 2 × 199;
    // shares (30 %, rounded down: 59) for those two payments; downloads: i2, i3, i4.
    assert_eq!(
        csv,
        "party_kind,party,currency,fee_requests,requested_minor,payments,paid_minor,outstanding_minor,download_confirmations,shares,share_minor\n\
         operator,mvno-fr,EUR,3,597,2,398,199,,,\n\
         manufacturer,Acme,EUR,,,,,,3,2,118\n"
    );
}

async fn race(a: AnyStore, b: AnyStore) {
    a.import_cards(&[card()]).await.unwrap();
    let a = Arc::new(a);
    let b = Arc::new(b);
    // 1. Both instances receive the same message with the same counter at once, for
    //    counters 1..=15: exactly one accepts each, the other sees a duplicate.
    for counter in 1..=15u64 {
        let raw = counter.to_be_bytes();
        let (x, y) = tokio::join!(
            {
                let a = a.clone();
                tokio::spawn(async move {
                    a.record_registration(&registration(counter, &raw))
                        .await
                        .unwrap()
                })
            },
            {
                let b = b.clone();
                tokio::spawn(async move {
                    b.record_registration(&registration(counter, &raw))
                        .await
                        .unwrap()
                })
            },
        );
        let outcomes = [x.unwrap(), y.unwrap()];
        let accepted = outcomes
            .iter()
            .filter(|o| matches!(o, RegistrationOutcome::Accepted(_)))
            .count();
        let dup = outcomes
            .iter()
            .filter(|o| matches!(o, RegistrationOutcome::Duplicate { .. }))
            .count();
        assert_eq!((accepted, dup), (1, 1), "counter {counter}: {outcomes:?}");
    }
    // 2. A free-for-all: 2 instances × 20 tasks with counters 16..=35 in different
    //    orders and different bytes. Accepted counters must be unique, and the card's
    //    counter must equal the largest accepted one.
    let mut tasks = Vec::new();
    for (n, store) in [a.clone(), b.clone()].into_iter().enumerate() {
        for k in 0..20u64 {
            let counter = if n == 0 { 16 + k } else { 35 - k };
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let raw = [n as u8, counter as u8];
                (
                    counter,
                    store
                        .record_registration(&registration(counter, &raw))
                        .await
                        .unwrap(),
                )
            }));
        }
    }
    let mut accepted = Vec::new();
    for t in tasks {
        let (counter, out) = t.await.unwrap();
        if let RegistrationOutcome::Accepted(id) = out {
            accepted.push((id, counter));
        } else {
            assert!(matches!(out, RegistrationOutcome::Replay { .. }), "{out:?}");
        }
    }
    let unique: HashSet<_> = accepted.iter().map(|(_, c)| *c).collect();
    assert_eq!(
        unique.len(),
        accepted.len(),
        "a counter was accepted twice: {accepted:?}"
    );
    accepted.sort();
    assert!(
        accepted.windows(2).all(|w| w[0].1 < w[1].1),
        "accepted counters not increasing in commit order: {accepted:?}"
    );
    let max = accepted.iter().map(|(_, c)| *c).max().unwrap();
    assert_eq!(
        a.card(&iccid()).await.unwrap().unwrap().last_counter,
        Some(max)
    );

    // 3. Both instances confirm the same 10 issuances and record the same payments at
    //    once: each ledger entry exists exactly once and exactly one call inserted it.
    let cfg = billing_config();
    let mut ids = Vec::new();
    for counter in 100..110u64 {
        ids.push(issue(&a, counter, Timestamp(50)).await);
    }
    let mut tasks = Vec::new();
    for &id in &ids {
        let iss = a.issuance(id).await.unwrap().unwrap();
        let entries = billing::on_download_confirmed(&cfg, &iss, Timestamp(60)).unwrap();
        for store in [a.clone(), b.clone()] {
            let entries = entries.clone();
            tasks.push(tokio::spawn(async move {
                store
                    .confirm_download(id, Timestamp(60), &entries)
                    .await
                    .unwrap()
            }));
        }
    }
    let mut firsts = 0;
    let mut inserted = 0;
    for t in tasks {
        let c = t.await.unwrap();
        firsts += usize::from(c.first);
        inserted += c.inserted.len();
    }
    assert_eq!((firsts, inserted), (10, 20));
    let mut tasks = Vec::new();
    for &id in &ids {
        let iss = a.issuance(id).await.unwrap().unwrap();
        let ledger = a.ledger_for_issuance(id).await.unwrap();
        let fee = ledger
            .iter()
            .find(|e| e.kind == LedgerKind::FeeRequest)
            .unwrap()
            .clone();
        let entries = billing::on_payment(&cfg, &iss, &fee, Timestamp(70)).unwrap();
        for store in [a.clone(), b.clone()] {
            let entries = entries.clone();
            tasks.push(tokio::spawn(async move {
                store.record_ledger(&entries).await.unwrap().len()
            }));
        }
    }
    let mut inserted = 0;
    for t in tasks {
        inserted += t.await.unwrap();
    }
    assert_eq!(inserted, 20);
    let all = b
        .ledger_between(Timestamp(0), Timestamp(1_000))
        .await
        .unwrap();
    assert_eq!(all.len(), 40);
    let keys: HashSet<_> = all.iter().map(|e| (e.issuance_id, e.kind)).collect();
    assert_eq!(keys.len(), 40);
}

// ------------------------------------------------------------------ backends

/// Provisioning failures are kept per registration; a confirmation finds its
/// registration (and issuance) by card and counter.
async fn failures_and_lookup(a: AnyStore, b: AnyStore) {
    a.import_cards(&[card()]).await.unwrap();
    let RegistrationOutcome::Accepted(reg) = a
        .record_registration(&registration(5, b"five"))
        .await
        .unwrap()
    else {
        panic!("not accepted")
    };
    assert_eq!(
        b.accepted_registration(&iccid(), 5).await.unwrap(),
        Some((reg, None))
    );
    assert_eq!(b.accepted_registration(&iccid(), 4).await.unwrap(), None);
    let f = ProvisioningFailure {
        registration_id: reg,
        stage: "key".into(),
        reason: "manufacturer unreachable".into(),
        at: Timestamp(1_000),
    };
    a.record_failure(&f).await.unwrap();
    assert_eq!(b.failures(reg).await.unwrap(), vec![f]);
    let iss = b
        .record_issuance(&NewIssuance {
            registration_id: Some(reg),
            iccid: ICCID.into(),
            imei: "490154203237518".into(),
            operator: Some("op".into()),
            manufacturer: None,
            source: KeySource::Local,
            issued_at: Timestamp(2_000),
        })
        .await
        .unwrap();
    assert_eq!(
        a.accepted_registration(&iccid(), 5).await.unwrap(),
        Some((reg, Some(iss.clone())))
    );
    // Nothing handed to the SMSC yet; then one push, seen from the other handle.
    assert!(!a.delivered(reg).await.unwrap());
    b.record_delivery(&NewDelivery {
        registration_id: reg,
        issuance_id: Some(iss.id),
        destination: "447700900001".into(),
        sent_at: Timestamp(3_000),
        message_ids: vec!["m1".into()],
    })
    .await
    .unwrap();
    assert!(a.delivered(reg).await.unwrap());
}

/// `payments::record_payment` on two handles (two instances): by issuance and by fee
/// request id, concurrently, repeated — one payment and one share per issuance.
async fn payments_once(a: AnyStore, b: AnyStore) {
    use provisioning_stub::payments::{
        PaymentError, PaymentOutcome, PaymentRequest, record_payment,
    };
    a.import_cards(&[card()]).await.unwrap();
    let cfg = billing_config();
    let unconfirmed = issue(&a, 1, ms("2026-11-02", 9)).await;
    let by_issuance = PaymentRequest {
        issuance_id: Some(unconfirmed.0),
        ..PaymentRequest::default()
    };
    assert!(matches!(
        record_payment(&a, &cfg, &by_issuance).await,
        Err(PaymentError::NoFeeRequest(_))
    ));
    confirm_and_pay(&a, unconfirmed, ms("2026-11-02", 10), None).await;
    let (x, y) = tokio::join!(
        record_payment(&a, &cfg, &by_issuance),
        record_payment(&b, &cfg, &by_issuance)
    );
    let (x, y) = (x.unwrap(), y.unwrap());
    let recorded = [&x, &y]
        .into_iter()
        .filter(|o| matches!(o, PaymentOutcome::Recorded(_)))
        .count();
    assert_eq!(recorded, 1, "{x:?} {y:?}");
    assert_eq!(x.entries(), y.entries());
    let fee = b.ledger_for_issuance(unconfirmed).await.unwrap();
    let fee = fee
        .iter()
        .find(|e| e.kind == LedgerKind::FeeRequest)
        .unwrap();
    assert_eq!(b.ledger_entry(fee.id).await.unwrap().as_ref(), Some(fee));
    let by_fee = PaymentRequest {
        fee_request_id: Some(fee.id.0),
        at: Some("2026-11-03".into()),
        ..PaymentRequest::default()
    };
    assert!(matches!(
        record_payment(&b, &cfg, &by_fee).await.unwrap(),
        PaymentOutcome::AlreadyRecorded(_)
    ));
    let kinds: Vec<LedgerKind> = a
        .ledger_for_issuance(unconfirmed)
        .await
        .unwrap()
        .iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        [
            LedgerKind::FeeRequest,
            LedgerKind::Payment,
            LedgerKind::ManufacturerShare,
            LedgerKind::DownloadConfirmation
        ]
    );
    // A payment entry id is not a fee request.
    let pay = x.entries()[0].id.0;
    assert!(matches!(
        record_payment(
            &a,
            &cfg,
            &PaymentRequest {
                fee_request_id: Some(pay),
                ..PaymentRequest::default()
            }
        )
        .await,
        Err(PaymentError::NotFound(_))
    ));
}

/// The manufacturer confirmation outbox: owed once, pending until sent, attempts counted.
async fn manufacturer_outbox(a: AnyStore, b: AnyStore) {
    use provisioning_stub::store::OwedConfirmation;
    a.import_cards(&[card()]).await.unwrap();
    let i1 = issue(&a, 1, ms("2026-11-02", 9)).await;
    let i2 = issue(&a, 2, ms("2026-11-02", 9)).await;
    let owed = |id: IssuanceId, key: u64| OwedConfirmation {
        issuance_id: id,
        manufacturer: "Acme".into(),
        device_key_id: key,
        owed_at: ms("2026-11-02", 11),
        attempts: 0,
        last_error: None,
        sent_at: None,
    };
    assert!(a.owe_manufacturer_confirmation(&owed(i1, 7)).await.unwrap());
    assert!(!b.owe_manufacturer_confirmation(&owed(i1, 7)).await.unwrap());
    assert!(
        b.owe_manufacturer_confirmation(&owed(i2, u64::MAX))
            .await
            .unwrap()
    );
    let pending = b.pending_manufacturer_confirmations().await.unwrap();
    assert_eq!(pending, vec![owed(i1, 7), owed(i2, u64::MAX)]);
    a.manufacturer_confirmation_attempt(i1, ms("2026-11-02", 12), Some("connect refused".into()))
        .await
        .unwrap();
    let r = b.manufacturer_confirmation(i1).await.unwrap().unwrap();
    assert_eq!(
        (r.attempts, r.last_error.as_deref()),
        (1, Some("connect refused"))
    );
    a.manufacturer_confirmation_attempt(i1, ms("2026-11-02", 13), None)
        .await
        .unwrap();
    // A late failure report after success changes nothing; owing again neither.
    b.manufacturer_confirmation_attempt(i1, ms("2026-11-02", 14), Some("late".into()))
        .await
        .unwrap();
    assert!(!a.owe_manufacturer_confirmation(&owed(i1, 7)).await.unwrap());
    let r = a.manufacturer_confirmation(i1).await.unwrap().unwrap();
    assert_eq!(r.sent_at, Some(ms("2026-11-02", 13)));
    assert_eq!(r.attempts, 1);
    assert_eq!(
        a.pending_manufacturer_confirmations().await.unwrap(),
        vec![owed(i2, u64::MAX)]
    );
}

macro_rules! cases {
    ($m:ident) => {
        $m!(cards_and_devices);
        $m!(registrations);
        $m!(ledger_exactly_once);
        $m!(report_known_amounts);
        $m!(race);
        $m!(failures_and_lookup);
        $m!(payments_once);
        $m!(manufacturer_outbox);
    };
}

mod sqlite {
    use super::*;

    async fn pair() -> (tempfile::TempDir, AnyStore, AnyStore) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stub.db");
        let url = format!("sqlite:{}", path.display());
        let a = AnyStore::open(&url).await.unwrap();
        let b = AnyStore::open(path.to_str().unwrap()).await.unwrap();
        (dir, a, b)
    }

    macro_rules! sqlite_case {
        ($name:ident) => {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let (_dir, a, b) = pair().await;
                super::$name(a, b).await;
            }
        };
    }

    cases!(sqlite_case);

    #[tokio::test]
    async fn wal_and_migrations() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.db");
        let s = provisioning_stub::store::SqliteStore::open(&path)
            .await
            .unwrap();
        assert_eq!(s.schema_version().await.unwrap(), 3);
        drop(s);
        // Reopening applies nothing twice.
        let s = provisioning_stub::store::SqliteStore::open(&path)
            .await
            .unwrap();
        assert_eq!(s.schema_version().await.unwrap(), 3);
        // The database header says WAL: bytes 18 and 19 (read/write format versions)
        // are 2 in WAL mode (SQLite database file format, §1.3 "The Database Header").
        let header = std::fs::read(&path).unwrap();
        assert_eq!((header[18], header[19]), (2, 2));
    }

    #[tokio::test]
    async fn bad_urls() {
        assert!(AnyStore::open("").await.is_err());
        assert!(AnyStore::open("mysql://x").await.is_err());
    }
}

/// The same cases on SQLite handles in inline mode (`SqliteStore::open_inline`, the
/// embedded stub's store): one connection per handle, statements on the polling thread.
mod sqlite_inline {
    use super::*;
    use provisioning_stub::store::{InlineOptions, SqliteStore, Synchronous};

    fn shared(synchronous: Synchronous) -> InlineOptions {
        InlineOptions {
            synchronous,
            exclusive: false,
        }
    }

    const EXCLUSIVE: InlineOptions = InlineOptions {
        synchronous: Synchronous::Off,
        exclusive: true,
    };

    fn pair() -> (tempfile::TempDir, AnyStore, AnyStore) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stub.db");
        let a = SqliteStore::open_inline(&path, shared(Synchronous::Off)).unwrap();
        let b = SqliteStore::open_inline(&path, shared(Synchronous::Normal)).unwrap();
        (dir, AnyStore::Sqlite(a), AnyStore::Sqlite(b))
    }

    macro_rules! inline_case {
        ($name:ident) => {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let (_dir, a, b) = pair();
                super::$name(a, b).await;
            }
        };
    }

    cases!(inline_case);

    /// What an inline handle committed is there for a handle opened after it is dropped
    /// (the embedded stub's restart), with `synchronous = OFF` and exclusive locking.
    #[test]
    fn committed_writes_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stub.db");
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let a = AnyStore::Sqlite(SqliteStore::open_inline(&path, EXCLUSIVE).unwrap());
        rt.block_on(a.import_cards(&[card()])).unwrap();
        let outcome = rt
            .block_on(a.record_registration(&registration(3, b"three")))
            .unwrap();
        assert!(matches!(outcome, RegistrationOutcome::Accepted(_)));
        drop(a);
        let b = AnyStore::Sqlite(SqliteStore::open_inline(&path, EXCLUSIVE).unwrap());
        let card = rt.block_on(b.card(&iccid())).unwrap().unwrap();
        assert_eq!(card.last_counter, Some(3));
        let again = rt
            .block_on(b.record_registration(&registration(3, b"three")))
            .unwrap();
        assert!(
            matches!(again, RegistrationOutcome::Duplicate { .. }),
            "{again:?}"
        );
    }
}

#[cfg(feature = "postgres")]
mod postgres {
    use super::*;
    use provisioning_stub::store::testing::PgTestServer;

    /// One cluster for all PostgreSQL cases of this binary (started and stopped here);
    /// each case gets its own database.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn all_cases() {
        let server = match PgTestServer::start() {
            Ok(Some(s)) => s,
            Ok(None) => return,
            Err(e) => panic!("{e}"),
        };
        macro_rules! pg_case {
            ($name:ident) => {
                let url = server.fresh_database().await.unwrap();
                let a = AnyStore::open(&url).await.unwrap();
                let b = AnyStore::open(&url).await.unwrap();
                eprintln!("postgres: {}", stringify!($name));
                super::$name(a, b).await;
            };
        }
        cases!(pg_case);

        // Two instances migrating the same empty database at once.
        let url = server.fresh_database().await.unwrap();
        let (x, y) = tokio::join!(
            provisioning_stub::store::PostgresStore::connect(&url),
            provisioning_stub::store::PostgresStore::connect(&url)
        );
        assert_eq!(x.unwrap().schema_version().await.unwrap(), 3);
        assert_eq!(y.unwrap().schema_version().await.unwrap(), 3);
    }
}
