//! Issue 6's proof, in the world: a card moved into a depreciated handset on an MVNO →
//! registration → stub (the real `provisioning_stub` pieces, SQLite) → manufacturer key
//! (the manufacturer's key server over mutual TLS on loopback) → OMA CP push over the
//! SMSC → provisioning session → APN inserted, key erased, MMS works (the manufacturer's
//! MMSC stub, `provisioning_stub::manufacturer::mmsc`, on loopback),
//! IMTC report → ledger entries. Then the FIG. 1 path: the same card into a supported
//! handset gets standard settings and costs nothing.

mod world_support;

use std::sync::Arc;

use applet::wire::bcd::{DigitSet, Digits, EfIccid, EfImsi};
use applet::wire::registration::EventKind;
use handset_sim::profile::Catalogue;
use handset_sim::provisioning::mms::{MmsError, m_send_req};
use handset_sim::provisioning::{ApnSource, MmsStatus, Outcome};
use handset_sim::terminal::MoOutcome;
use provisioning_stub::devices::{Date, DeviceModel, Tac};
use provisioning_stub::inventory::{Card, Iccid, Imsi, Msisdn, RegistrationKey};
use provisioning_stub::keys::DeviceKeySigner;
use provisioning_stub::manufacturer::mmsc::{self, MmscConfig, SendConf};
use provisioning_stub::manufacturer::pki::Ca;
use provisioning_stub::manufacturer::{ManufacturerConfig, tls};
use scenarios::world::stub::EmbeddedStub;
use scenarios::world::{CardSpec, HandsetSpec, Lane, WorldBuilder};
use world_support::{MSISDN, STUB, networks};

const NORDVIK: &str = "Nordvik Telefon AB";
const SOLSTICE: &str = "Solstice Devices Oy";

#[test]
fn depreciated_handset_on_an_mvno_then_fig1_supported_handset() {
    let dir = tempfile::tempdir().unwrap();
    let catalogue = Catalogue::builtin().unwrap();
    let n310 = catalogue.by_name("N310").unwrap().clone();
    let s22 = catalogue.by_name("S22").unwrap().clone();

    // The manufacturer's key server (mTLS) on loopback, with a fixed signing key.
    let mrt = tokio::runtime::Runtime::new().unwrap();
    let ca = Ca::new("Nordvik test CA").unwrap();
    let server = ca.issue_server(&["localhost", "127.0.0.1"]).unwrap();
    let operator = ca.issue_client("mvno").unwrap();
    let signer = Arc::new(DeviceKeySigner::from_seed(&zeroize_seed([7u8; 32])));
    let mtls = tls::server_config(&server.cert_pem, &server.key_pem, ca.cert_pem()).unwrap();
    let mconfig = ManufacturerConfig::new(mtls, signer.clone());
    let listener = mrt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let maddr = listener.local_addr().unwrap().to_string();
    mrt.spawn(async move {
        let _ =
            provisioning_stub::manufacturer::run(listener, mconfig, std::future::pending()).await;
    });
    std::fs::write(dir.path().join("ca.pem"), ca.cert_pem()).unwrap();
    std::fs::write(dir.path().join("op.pem"), &operator.cert_pem).unwrap();
    std::fs::write(dir.path().join("op.key"), operator.key_pem.as_str()).unwrap();
    std::fs::write(
        dir.path().join("nordvik.pub"),
        hex::encode(signer.verifying_key().as_bytes()),
    )
    .unwrap();

    // The manufacturer's MMSC stub (plain HTTP/1.1) on loopback, in the same runtime.
    let mms_listener = mrt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let mms_port = mms_listener.local_addr().unwrap().port();
    let mms_config = MmscConfig::default();
    let mms_stats = mms_config.stats.clone();
    mrt.spawn(mmsc::run(mms_listener, mms_config, std::future::pending()));
    let config = format!(
        r#"
[smsc]
address = "127.0.0.1:1"
system_id = "unused"
password = "unused"
source_addr = "{STUB}"

[policy]
[[policy.operators]]
id = "mvno"
plmns = ["001-02"]
[[policy.relationships]]
operator = "mvno"
manufacturer = "{SOLSTICE}"
[[policy.depreciated_models]]
manufacturer = "{NORDVIK}"
model = "N310"

[billing]
[[billing.operators]]
operator = "mvno"
fee_minor = 199
currency = "EUR"
[[billing.manufacturers]]
manufacturer = "{NORDVIK}"
share = {{ basis_points = 3000 }}

[omacp]
security = "NETWPIN"
name = "MVNO MMS"
default_apn = {{ apn = "internet" }}
default_mms = {{ mmsc = "http://mms.mvno.example/" }}
[[omacp.apns]]
operator = "mvno"
apn = "mms.mvno.example"
[[omacp.mms]]
manufacturer = "{NORDVIK}"
mmsc = "http://127.0.0.1:{mms_port}/mms"

[[key_sources]]
kind = "manufacturer"
manufacturer = "{NORDVIK}"
address = "{maddr}"
server_name = "localhost"
ca_file = "ca.pem"
client_cert_file = "op.pem"
client_key_file = "op.key"
verifying_key_file = "nordvik.pub"
timeout_ms = 5000
"#
    );

    // The card: the project's test card with an MVNO IMSI (001-02), PIN off.
    let mut p = world_support::card();
    let imsi = "001020123456789";
    EfImsi {
        imsi: Digits::<15>::parse_str(imsi, DigitSet::Decimal).unwrap(),
    }
    .emit(&mut p.files.imsi)
    .unwrap();
    // test_personalisation's ICCID 8949001012345678901 fails the stub's Luhn check
    // (the Luhn digit is 2), so this card gets ...902.
    let iccid = "8949001012345678902";
    EfIccid {
        iccid: Digits::<20>::parse_str(iccid, DigitSet::Decimal).unwrap(),
    }
    .emit(&mut p.files.iccid)
    .unwrap();
    let inventory = vec![Card {
        iccid: Iccid::parse(iccid).unwrap(),
        imsi: Imsi::parse(imsi).unwrap(),
        msisdn: Some(Msisdn::parse(MSISDN).unwrap()),
        key: RegistrationKey(p.applet.key),
    }];
    let device = |h: &handset_sim::profile::Handset, m: &str, year: &str| DeviceModel {
        tac: Tac::parse(&h.imei.tac().to_string()).unwrap(),
        manufacturer: m.into(),
        make: h.profile.make.clone(),
        model: h.profile.model.clone(),
        release_date: Some(Date::parse(year).unwrap()),
        camera: Some(true),
        screen: String::new(),
        bands: vec![],
    };
    let devices = vec![
        device(&n310, NORDVIK, "2015-03-01"),
        device(&s22, SOLSTICE, "2024-02-01"),
    ];
    let epoch = 1_767_225_600;
    let stub = EmbeddedStub::new(&config, dir.path(), &inventory, &devices, epoch).unwrap();

    let mut dep = HandsetSpec::new(n310);
    dep.manufacturer_key = Some(signer.verifying_key());
    dep.mms_host = Some(format!("127.0.0.1:{mms_port}"));
    let mut w = WorldBuilder::new(11)
        .epoch(epoch, Some(4))
        .networks(networks())
        .card(
            "sim",
            CardSpec {
                personalisation: p,
                msisdn: MSISDN.into(),
            },
        )
        .handset("n310", dep)
        .handset("s22", HandsetSpec::new(s22))
        .server(STUB, Box::new(stub))
        .build()
        .unwrap();

    // MMS is off before provisioning: no APN routes to the manufacturer's MMSC.
    assert_eq!(w.handset_view("n310").unwrap().mms, MmsStatus::Disabled);
    let refused = w
        .send_mms("n310", &m_send_req("T0", "+447700900999", "too early"))
        .unwrap();
    assert!(matches!(refused, Err(MmsError::Disabled)), "{refused:?}");
    assert_eq!(mms_stats.accepted() + mms_stats.rejected(), 0);

    // ---- The swap into the depreciated handset on the MVNO.
    w.insert("sim", "n310").unwrap();
    w.power_on("n310").unwrap();
    w.advance(60_000);

    let card = w.card_view("sim").unwrap();
    assert_eq!(card.sent.len(), 1, "{:#?}", card.sent);
    assert!(matches!(card.sent[0].outcome, MoOutcome::Sent { .. }));
    assert_eq!(
        card.sent[0].registration.as_ref().unwrap().event,
        EventKind::FIRST_USE
    );

    let verdicts = w.verdicts();
    assert_eq!(verdicts.len(), 1, "{verdicts:#?}");
    let treatment = verdicts[0].outcome.clone().expect("accepted");
    assert!(treatment.depreciated);
    assert_eq!(treatment.key_source.as_deref(), Some("manufacturer"));
    let key = treatment.device_key.clone().unwrap();

    let h = w.handset_view("n310").unwrap();
    assert_eq!(h.reports.len(), 1, "{:#?}", h.reports);
    assert!(matches!(h.reports[0].1.outcome, Outcome::Configured { .. }));
    assert_eq!(h.keyed_apns.len(), 1, "APN from the device key");
    assert_eq!(h.keyed_apns[0].1, "mms.mvno.example");
    assert!(
        h.apns
            .iter()
            .any(|e| matches!(e.source, ApnSource::DeviceKey { .. }))
    );
    assert!(!h.holds_device_key, "key erased after the session");
    assert!(!w.provisioning_client("n310").unwrap().holds_bytes(&key));
    assert!(matches!(h.mms, MmsStatus::Enabled { .. }), "{:?}", h.mms);

    // MMS works through the provisioned MMSC.
    let resp = w
        .send_mms("n310", &m_send_req("T1", "+447700900999", "hello"))
        .unwrap()
        .unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.response_status(), Some(0x80));
    let conf = SendConf::parse(&resp.body).unwrap();
    assert_eq!(
        conf.transaction_id, b"T1",
        "m-send-conf echoes the transaction id"
    );
    assert!(conf.message_id.is_some());
    assert_eq!(
        mms_stats.accepted(),
        1,
        "the manufacturer's MMSC took the message"
    );
    assert_eq!(mms_stats.rejected(), 0);

    // The IMTC report reached the stub: ledger entries for the key.
    let ledger = w.ledger();
    assert!(!ledger.is_empty(), "ledger entries present");
    assert!(
        ledger
            .iter()
            .any(|l| l.party == "mvno" && l.amount_minor == 199),
        "{ledger:#?}"
    );
    assert!(ledger.iter().any(|l| l.party == NORDVIK), "{ledger:#?}");

    // Every lane took part, manufacturer included.
    let arrows = w.arrows();
    for (f, t) in [
        (Lane::Card, Lane::Handset),
        (Lane::Handset, Lane::Card),
        (Lane::Handset, Lane::Network),
        (Lane::Network, Lane::Stub),
        (Lane::Stub, Lane::Manufacturer),
        (Lane::Manufacturer, Lane::Stub),
        (Lane::Stub, Lane::Network),
        (Lane::Network, Lane::Handset),
    ] {
        assert!(
            arrows.iter().any(|a| a.from == f && a.to == t),
            "no {f} -> {t}"
        );
    }
    let deliveries = arrows
        .iter()
        .filter(|a| a.label == "SMS-DELIVER" && a.actor == "sim")
        .count();
    assert!(
        deliveries >= 2,
        "a keyed push is concatenated: {deliveries}"
    );

    // ---- FIG. 1: the same card into a supported handset: standard settings, no key.
    let ledger_before = w.ledger().len();
    w.power_off("n310").unwrap();
    w.move_card("sim", "s22").unwrap();
    w.power_on("s22").unwrap();
    w.advance(60_000);
    let card = w.card_view("sim").unwrap();
    assert_eq!(card.sent.len(), 2);
    let reg = card.sent[1].registration.as_ref().unwrap();
    assert_eq!(reg.event, EventKind::HANDSET_CHANGED);
    let verdicts = w.verdicts();
    let t = verdicts[1].outcome.clone().expect("accepted");
    assert!(!t.depreciated);
    assert!(t.device_key.is_none());
    let h = w.handset_view("s22").unwrap();
    assert!(h.keyed_apns.is_empty());
    assert!(
        h.apns
            .iter()
            .any(|e| e.source == ApnSource::StandardPush && e.settings.apn == "mms.mvno.example"),
        "{:#?}",
        h.apns
    );
    assert_eq!(
        w.ledger().len(),
        ledger_before,
        "standard settings cost nothing"
    );
    if std::env::var_os("WORLD_LADDER").is_some() {
        for a in w.arrows() {
            println!("{a}");
            for l in &a.detail {
                println!("{:>40}{l}", "");
            }
        }
    }
}

fn zeroize_seed(b: [u8; 32]) -> zeroize::Zeroizing<[u8; 32]> {
    zeroize::Zeroizing::new(b)
}
