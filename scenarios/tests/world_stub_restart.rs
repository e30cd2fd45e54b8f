//! The embedded stub on its own (the one every scenario runs, built from story 13's
//! world by `engine::stub::embedded`): a restart is a new stub on the same SQLite file,
//! so what the store made durable survives and nothing else does; the crash triggers
//! fire where they are armed; a redelivered registration that was stored but never
//! provisioned is provisioned once.

use std::collections::BTreeMap;
use std::path::PathBuf;

use applet::wire::bcd::{DigitSet, Digits, EfIccid, EfImsi};
use applet::wire::registration::{EventKind, KeyId, RegistrationRepr};
use handset_sim::network::ShortMessage;
use provisioning_stub::confirmation::{ReportRepr, ReportResult};
use provisioning_stub::inventory::{Card, Iccid, Imsi, RegistrationKey};
use provisioning_stub::keys::{DeviceKey, luhn_check_digit};
use scenarios::engine::STUB_NUMBER;
use scenarios::engine::stub::{SigningKey, device_database, embedded};
use scenarios::world::ProvisioningServer;
use scenarios::world::stub::EmbeddedStub;

const ICCID: &str = "8933260000000000017";
const IMSI: &str = "208260000000011";
const MSISDN: &str = "33750000011";
const KEY: [u8; 16] = *b"restart-test-key";
/// A Globex G3 (supported) and an Acme A7 (depreciated for the MVNO, keys from Acme's
/// server over mutual TLS).
const G3: &str = "35876503";
const A7: &str = "35209907";

fn stub() -> EmbeddedStub {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let s = scenarios::scenario::load(&dir.join("13-stub-restarted-mid-flow.toml")).unwrap();
    let keys: BTreeMap<String, SigningKey> = s
        .world
        .manufacturers
        .keys()
        .map(|id| (id.clone(), SigningKey::seeded(s.seed, id)))
        .collect();
    let cards = [Card {
        iccid: Iccid::parse(ICCID).unwrap(),
        imsi: Imsi::parse(IMSI).unwrap(),
        msisdn: None,
        key: RegistrationKey(KEY),
    }];
    let devices = device_database(&s.world).unwrap();
    embedded(
        &s.world,
        s.seed,
        &cards,
        &devices,
        &keys,
        STUB_NUMBER,
        1_780_272_000,
    )
    .unwrap()
}

fn ef_iccid() -> [u8; 10] {
    let mut out = [0xFF; 10];
    EfIccid {
        iccid: Digits::<20>::parse_str(ICCID, DigitSet::Decimal).unwrap(),
    }
    .emit(&mut out)
    .unwrap();
    out
}

fn registration(counter: u64, tac: &str) -> ShortMessage {
    let body = format!("{tac}000002");
    let imei = format!("{body}{}", char::from(luhn_check_digit(body.as_bytes())));
    let mut digits = [0u8; 15];
    for (d, b) in digits.iter_mut().zip(imei.bytes()) {
        *d = b - b'0';
    }
    let mut identity = [0u8; 8];
    applet::wire::imei::Imei::from_digits(digits)
        .unwrap()
        .emit(&mut identity)
        .unwrap();
    let mut ef_imsi = [0xFF; 9];
    EfImsi {
        imsi: Digits::<15>::parse_str(IMSI, DigitSet::Decimal).unwrap(),
    }
    .emit(&mut ef_imsi)
    .unwrap();
    let repr = RegistrationRepr {
        key_id: KeyId(0x12),
        event: EventKind::HANDSET_CHANGED,
        iccid: ef_iccid(),
        imsi: ef_imsi,
        counter,
        imei: identity,
        imeisv: None,
        previous_imei: None,
    };
    let mut buf = [0u8; 80];
    let n = repr.emit_signed(&KEY, &mut buf).unwrap();
    ShortMessage::new(MSISDN, STUB_NUMBER, 0, 0x04, buf[..n].to_vec())
}

fn report(counter: u64, device_key_id: u64) -> ShortMessage {
    let payload = ReportRepr {
        key_id: 0x12,
        result: ReportResult::CONFIGURED,
        iccid: ef_iccid(),
        registration_counter: counter,
        device_key_id,
    }
    .to_signed_vec(&KEY)
    .unwrap();
    ShortMessage::new(MSISDN, STUB_NUMBER, 0, 0x04, payload)
}

fn restart(stub: &mut EmbeddedStub, t: u64) {
    stub.on_running(false, t);
    stub.on_running(true, t);
}

fn last_outcome(stub: &EmbeddedStub) -> Result<scenarios::world::Treatment, String> {
    stub.verdicts().last().unwrap().outcome.clone()
}

#[test]
fn a_restart_keeps_what_the_store_made_durable() {
    let mut stub = stub();
    let first = registration(1, G3);
    let r = stub.on_mo(&first, 0);
    assert!(r.accepted);
    assert_eq!(r.mt.len(), 2, "standard settings: two segments");
    assert!(!last_outcome(&stub).unwrap().depreciated);

    // Stopped: it answers nothing, and the database can still be read.
    stub.on_running(false, 1_000);
    assert!(!stub.on_mo(&registration(2, G3), 1_000).accepted);
    assert!(stub.ledger().is_empty());
    stub.on_running(true, 2_000);

    // The accepted counter and the delivery were durable: the same message again is a
    // handled duplicate (nothing sent), another message with that counter a replay.
    let r = stub.on_mo(&first, 3_000);
    assert!(r.accepted && r.mt.is_empty(), "{:?}", r.arrows);
    assert_eq!(last_outcome(&stub), Err("duplicate".into()));
    let r = stub.on_mo(&registration(1, A7), 4_000);
    assert!(r.mt.is_empty());
    assert_eq!(last_outcome(&stub), Err("replay".into()));

    // A depreciated handset: a key from Acme's server, then the report bills it.
    let r = stub.on_mo(&registration(2, A7), 5_000);
    assert_eq!(r.mt.len(), 4, "{:?}", r.arrows);
    let t = last_outcome(&stub).unwrap();
    assert!(t.depreciated);
    assert_eq!(t.key_source.as_deref(), Some("manufacturer"));
    let key = DeviceKey::decode(&t.device_key.unwrap()).unwrap();
    assert!(stub.on_mo(&report(2, key.key_id), 6_000).accepted);
    assert_eq!(stub.ledger().len(), 2);

    // Across a restart, and while stopped, the ledger is what the database holds; the
    // report repeated after the restart bills nothing twice.
    stub.on_running(false, 7_000);
    assert_eq!(stub.ledger().len(), 2);
    stub.on_running(true, 7_000);
    assert!(stub.on_mo(&report(2, key.key_id), 8_000).accepted);
    assert_eq!(stub.ledger().len(), 2);
    assert_eq!(
        stub.verdicts().len(),
        4,
        "the verdict log survives restarts"
    );
}

#[test]
fn crash_after_the_registration_is_stored_then_the_redelivery_is_provisioned_once() {
    let mut stub = stub();
    let control = stub.control();
    control.lock().unwrap().armed.after_registration_stored = true;
    let reg = registration(1, A7);
    let r = stub.on_mo(&reg, 0);
    assert!(!r.accepted, "crashed before the acknowledgement");
    assert!(r.mt.is_empty());
    {
        let c = control.lock().unwrap();
        assert!(c.fired && !c.armed.after_registration_stored);
    }
    // Accepted by the store (durable) but not yet provisioned.
    let v = stub.verdicts();
    assert_eq!(v.len(), 1);
    assert!(v[0].outcome.as_ref().is_ok_and(|t| t.device_key.is_none()));
    // A crashed process answers nothing until it is restarted.
    assert!(!stub.on_mo(&reg, 500).accepted);

    restart(&mut stub, 120_000);
    let r = stub.on_mo(&reg, 120_000);
    assert!(r.accepted);
    assert_eq!(r.mt.len(), 4, "{:?}", r.arrows);
    let v = stub.verdicts();
    assert_eq!(v.len(), 1, "the stored registration's verdict is completed");
    let t = v[0].outcome.clone().unwrap();
    assert!(t.depreciated && t.device_key.is_some());
    assert_eq!(t.key_source.as_deref(), Some("manufacturer"));

    // Once provisioned, a further redelivery sends nothing.
    let r = stub.on_mo(&reg, 121_000);
    assert!(r.accepted && r.mt.is_empty());
    assert_eq!(last_outcome(&stub), Err("duplicate".into()));
}

#[test]
fn crash_after_the_reply_is_sent() {
    let mut stub = stub();
    let control = stub.control();
    control.lock().unwrap().armed.after_reply_sent = true;
    let r = stub.on_mo(&registration(1, G3), 0);
    assert!(r.accepted);
    assert_eq!(r.mt.len(), 2, "the reply went out before the crash");
    assert!(control.lock().unwrap().fired);
    assert!(!stub.on_mo(&registration(2, G3), 1_000).accepted);
    restart(&mut stub, 2_000);
    let r = stub.on_mo(&registration(2, G3), 2_000);
    assert!(r.accepted);
    assert_eq!(r.mt.len(), 2);
}

#[test]
fn a_restart_reads_the_key_files_again_and_a_failed_start_is_visible() {
    let mut stub = stub();
    let dir = stub.database().parent().unwrap().to_path_buf();
    let client_key = dir.join("client.key");
    let saved = std::fs::read(&client_key).unwrap();
    std::fs::remove_file(&client_key).unwrap();
    restart(&mut stub, 1_000);
    let r = stub.on_mo(&registration(1, G3), 1_000);
    assert!(!r.accepted, "a stub that failed to start answers nothing");
    assert!(
        r.arrows.iter().any(|a| a.label == "stub failed to start"
            && a.detail.iter().any(|l| l.contains("client.key"))),
        "{:?}",
        r.arrows
    );
    std::fs::write(&client_key, saved).unwrap();
    restart(&mut stub, 2_000);
    let r = stub.on_mo(&registration(1, A7), 2_000);
    assert!(r.accepted);
    assert_eq!(r.mt.len(), 4, "{:?}", r.arrows);
}
