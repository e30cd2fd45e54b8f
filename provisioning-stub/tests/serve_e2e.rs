//! `serve` end to end against an independent SMSC (the `smpp34` crate's server): bind,
//! registrations in as `deliver_sm`, OMA CP pushes out as `submit_sm` segments, keys
//! from the local store and from the manufacturer stub over mutual TLS, provisioning
//! reports in, ledger entries. The pushes are reassembled here and decoded with
//! `applet::wire`, `wbxml2xml` and `tshark`.

mod serve_support;

use std::time::Duration;

use applet::wire::omacp::ProvisioningDoc;
use applet::wire::wsp::{Credentials, PushPdu};
use provisioning_stub::confirmation::ReportResult;
use provisioning_stub::keys::{ApnSettings, DeviceKey, Imei};
use serve_support::*;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

fn acme_settings() -> ApnSettings {
    ApnSettings {
        apn: "mms.mvno.example".into(),
        username: Some("mms".into()),
        password: Some("mms".into()),
        mmsc: Some("http://mmsc.acme.example/mms".into()),
        proxy: Some("10.1.2.3".into()),
        proxy_port: Some(8080),
    }
}

fn bolt_settings() -> ApnSettings {
    ApnSettings {
        apn: "mms.mvno.example".into(),
        username: Some("mms".into()),
        password: Some("mms".into()),
        mmsc: Some("http://mms.example/".into()),
        proxy: None,
        proxy_port: None,
    }
}

/// Decodes a push: MAC (NETWPIN, the card's IMSI), document; returns the device key.
fn open_push(push: &[u8], imsi: &str, apn: &ApnSettings) -> (Vec<u8>, Option<DeviceKey>) {
    let pdu = PushPdu::parse(push).unwrap();
    let creds = Credentials {
        imsi: Some(imsi.as_bytes()),
        user_pin: None,
    };
    assert!(pdu.verify(&creds).unwrap(), "NETWPIN MAC");
    let wrong = Credentials {
        imsi: Some(b"208010000000999"),
        user_pin: None,
    };
    assert!(!pdu.verify(&wrong).unwrap(), "MAC is bound to the IMSI");
    let doc = ProvisioningDoc::parse(pdu.body).unwrap();
    let nap = doc.napdef("NAP1").unwrap();
    assert!(nap.apn().unwrap().eq_bytes(apn.apn.as_bytes()));
    let auth = nap.auth.unwrap();
    assert!(auth.authname.unwrap().eq_bytes(b"mms"));
    let mms = doc.mms_application().unwrap();
    assert!(
        mms.addr
            .unwrap()
            .eq_bytes(apn.mmsc.as_ref().unwrap().as_bytes())
    );
    let key = doc.device_key().map(|k| {
        let mut buf = [0u8; 200];
        let n = k.write_key(&mut buf).unwrap();
        DeviceKey::decode(&buf[..n]).unwrap()
    });
    (pdu.body.to_vec(), key)
}

async fn http_get(addr: &str, path: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

fn wbxml2xml(doc: &[u8], dir: &std::path::Path) -> String {
    let path = dir.join("doc.wbxml");
    std::fs::write(&path, doc).unwrap();
    let out = std::process::Command::new("wbxml2xml")
        .args(["-m", "0", "-o", "-"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "wbxml2xml: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn tshark_push(push: &[u8], dir: &std::path::Path) -> String {
    let txt = dir.join("push.txt");
    let pcap = dir.join("push.pcap");
    let mut hexdump = String::new();
    for (i, chunk) in push.chunks(16).enumerate() {
        hexdump.push_str(&format!("{:06x} ", i * 16));
        for b in chunk {
            hexdump.push_str(&format!("{b:02x} "));
        }
        hexdump.push('\n');
    }
    std::fs::write(&txt, hexdump).unwrap();
    let st = std::process::Command::new("text2pcap")
        .args(["-q", "-u", "9200,2948"])
        .arg(&txt)
        .arg(&pcap)
        .status()
        .unwrap();
    assert!(st.success());
    let out = std::process::Command::new("tshark")
        .arg("-r")
        .arg(&pcap)
        .arg("-V")
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_in_oma_cp_out() {
    let (smsc, _server, port) = start_smsc().await;
    let keys_dir = tempfile::tempdir().unwrap();
    let (bolt, bolt_signer, _stop_bolt) = start_bolt(keys_dir.path(), false).await;
    let world = World::new(3, port, Some(&bolt)).await;
    let (metrics, admin, stop, task) = start_serve(&world).await;
    smsc.bound(Duration::from_secs(10)).await;

    // Card 1: Acme A1 (depreciated model) → local key. Card 2: Bolt B2 (no
    // relationship) → key from Bolt over mTLS. Card 3: Acme A9 → standard settings.
    for (n, imei) in [(1, IMEI_ACME_A1), (2, IMEI_BOLT_B2), (3, IMEI_CURRENT)] {
        let status = smsc
            .deliver(&msisdn(n), &registration(&card(n), 1, imei))
            .await;
        assert_eq!(status, Ok(0), "deliver_sm_resp for card {n}");
        // Acknowledged ⇒ stored.
        assert_eq!(
            world.count(&format!(
                "SELECT COUNT(*) FROM registrations WHERE outcome = 'accepted' AND iccid = '{}'",
                card(n).iccid.as_str()
            )),
            1
        );
    }

    let push1 = smsc.push_for(&msisdn(1), Duration::from_secs(10)).await;
    let (doc1, key1) = open_push(&push1, card(1).imsi.as_str(), &acme_settings());
    let key1 = key1.expect("device key for the depreciated Acme A1");
    key1.verify(
        &world.acme_signer.verifying_key(),
        &Imei::parse(IMEI_ACME_A1).unwrap(),
        &acme_settings(),
    )
    .unwrap();

    let push2 = smsc.push_for(&msisdn(2), Duration::from_secs(10)).await;
    let (_, key2) = open_push(&push2, card(2).imsi.as_str(), &bolt_settings());
    let key2 = key2.expect("device key from Bolt");
    key2.verify(
        &bolt_signer.verifying_key(),
        &Imei::parse(IMEI_BOLT_B2).unwrap(),
        &bolt_settings(),
    )
    .unwrap();

    let push3 = smsc.push_for(&msisdn(3), Duration::from_secs(10)).await;
    let mut standard = acme_settings();
    standard.mmsc = Some("http://mmsc.acme.example/mms".into());
    let (_, key3) = open_push(&push3, card(3).imsi.as_str(), &standard);
    assert!(key3.is_none(), "standard settings carry no key");

    // Segments: every one ≤ 140 octets with the 12-octet UDH, source = our number.
    let segs = smsc.submits_to(&msisdn(1));
    assert!(segs.len() >= 3, "{} segments", segs.len());
    for s in &segs {
        assert_eq!(s.source, SHORT_CODE);
        assert_eq!(
            &s.short_message[..7],
            &[0x0B, 0x05, 0x04, 0x0B, 0x84, 0x23, 0xF0]
        );
    }

    // Independent decoders.
    if tool_available("wbxml2xml") {
        let xml = wbxml2xml(&doc1, keys_dir.path());
        for needle in [
            r#"<parm name="NAP-ADDRESS" value="mms.mvno.example"/>"#,
            r#"<parm name="ADDR" value="http://mmsc.acme.example/mms"/>"#,
            r#"<parm name="PXADDR" value="10.1.2.3"/>"#,
            r#"<parm name="PORTNBR" value="8080"/>"#,
            r#"<parm name="DEVKEY" value=""#,
        ] {
            assert!(
                xml.contains(needle),
                "wbxml2xml output lacks {needle}: {xml}"
            );
        }
    }
    if tool_available("tshark") && tool_available("text2pcap") {
        let out = tshark_push(&push1, keys_dir.path());
        let pdu = PushPdu::parse(&push1).unwrap();
        let mac = String::from_utf8(pdu.content_type.mac.unwrap().to_hex().to_vec()).unwrap();
        for needle in [
            format!("Content-Type: application/vnd.wap.connectivity-wbxml; SEC=NETWPIN; MAC={mac}"),
            "Public Identifier (known): -//WAPFORUM//DTD PROV 1.0//EN".into(),
            "'mms.mvno.example'".into(),
            "DEVKEY".into(),
        ] {
            assert!(out.contains(&needle), "tshark lacks {needle}");
        }
        assert!(
            !out.to_lowercase().contains("malformed"),
            "tshark: malformed"
        );
    }

    // Store: 3 accepted, 2 issuances (local, manufacturer), 3 deliveries.
    assert_eq!(
        world.count("SELECT COUNT(*) FROM key_issuances WHERE source = 'local'"),
        1
    );
    assert_eq!(
        world.count("SELECT COUNT(*) FROM key_issuances WHERE source = 'manufacturer'"),
        1
    );
    wait_for(|| world.count("SELECT COUNT(*) FROM deliveries") == 3).await;

    // Money: the handsets report "configured"; the fee request and the download
    // confirmation are written once, also when the report is repeated.
    assert_eq!(world.count("SELECT COUNT(*) FROM ledger"), 0);
    let r1 = report(&card(1), 1, key1.key_id, ReportResult::CONFIGURED);
    assert_eq!(smsc.deliver(&msisdn(1), &r1).await, Ok(0));
    assert_eq!(
        world.count("SELECT COUNT(*) FROM ledger"),
        2,
        "acked ⇒ stored"
    );
    assert_eq!(smsc.deliver(&msisdn(1), &r1).await, Ok(0));
    let r2 = report(&card(2), 1, key2.key_id, ReportResult::CONFIGURED);
    assert_eq!(smsc.deliver(&msisdn(2), &r2).await, Ok(0));
    let r3 = report(&card(3), 1, 0, ReportResult::CONFIGURED);
    assert_eq!(smsc.deliver(&msisdn(3), &r3).await, Ok(0));
    assert_eq!(
        world.count(
            "SELECT COUNT(*) FROM ledger WHERE kind = 'fee_request' AND party = 'mvno-fr' AND amount_minor = 199"
        ),
        2
    );
    assert_eq!(
        world.count("SELECT COUNT(*) FROM ledger WHERE kind = 'download_confirmation'"),
        2
    );
    assert_eq!(world.count("SELECT COUNT(*) FROM confirmations"), 2);
    // A forged report (other card's key) moves nothing.
    let forged = provisioning_stub::confirmation::ReportRepr {
        key_id: 0x12,
        result: ReportResult::CONFIGURED,
        iccid: ef_iccid(&card(3)),
        registration_counter: 1,
        device_key_id: 0,
    }
    .to_signed_vec(&[0xEE; 16])
    .unwrap();
    assert_eq!(smsc.deliver(&msisdn(3), &forged).await, Ok(0));
    assert_eq!(world.count("SELECT COUNT(*) FROM ledger"), 4);

    // Metrics on the admin port.
    let page = http_get(&admin, "/metrics").await;
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    for needle in [
        "imeitrack_registrations_total{outcome=\"accepted\"} 3",
        "imeitrack_keys_issued_total{source=\"local\"} 1",
        "imeitrack_keys_issued_total{source=\"manufacturer\"} 1",
        "imeitrack_pushes_sent_total 3",
        "imeitrack_ledger_entries_total{kind=\"fee_request\"} 2",
        "imeitrack_reports_total{result=\"invalid\"} 1",
        "imeitrack_smpp_bound 1",
    ] {
        assert!(page.contains(needle), "metrics lack {needle}:\n{page}");
    }
    assert_eq!(metrics.get("imeitrack_smpp_binds_total", ""), 1);

    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("serve stops")
        .unwrap();
    assert_eq!(*smsc.unbinds.lock().unwrap(), 1, "unbind on shutdown");
}
