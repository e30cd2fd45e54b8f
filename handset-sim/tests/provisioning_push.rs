//! The handset's OMA CP client end to end at the SMS level: spec vectors (06-oma-cp.md §4),
//! value tokenisation of real encoders (libwbxml's xml2wbxml), SEC/MAC methods, the
//! device-key provisioning session and every rejection the issue lists.

mod provisioning_support;

use applet::wire::wsp::{Credentials, Mac, SecMethod};
use handset_sim::network::ShortMessage;
use handset_sim::provisioning::*;
use provisioning_support::*;

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s.split_whitespace().collect::<String>()).unwrap()
}

/// The two SMS-DELIVER TPDUs of 06-oma-cp.md §4 (ref 0x42; tshark reassembled them and
/// decoded the NETWPIN push, IMSI 001010123456789).
const TPDU1: &str =
    "44 0C 91 44 77 00 09 10 32 00 04 52 11 72 02 00 00 00 8C 0B 05 04 0B 84 23 F0 00 03 42 02 01
01 06 2F 1F 2D B6 91 80 92 38 33 43 35 32 45 41 46 46 31 36 38 33 37 31 31 41 36 38 31 32 44 43
31 44 36 43 42 42 35 43 33 41 44 37 42 45 36 39 38 00 03 0B 6A 00 C5 45 03 31 2E 31 00 01 C6 55
01 87 11 06 03 4E 41 50 31 00 01 87 10 06 AB 01 87 07 06 03 4D 4D 53 00 01 87 08 06 03 6D 6D 73
2E 65 78 61 6D 70 6C 65 00 01 87 09 06 89 01 C6 5A 01 87 0C 06 9A 01 87 0D 06 03 75 73 65 72 00";
const TPDU2: &str =
    "44 0C 91 44 77 00 09 10 32 00 04 52 11 72 02 00 00 00 55 0B 05 04 0B 84 23 F0 00 03 42 02 02
01 87 0E 06 03 70 61 73 73 00 01 01 01 C6 00 01 55 01 87 36 00 00 06 03 77 34 00 01 87 22 06 03
4E 41 50 31 00 01 87 00 01 34 00 00 06 03 68 74 74 70 3A 2F 2F 6D 6D 73 63 2E 65 78 61 6D 70 6C
65 2F 6D 6D 73 00 01 01 01";

/// The 151-byte document of 06-oma-cp.md §4 (`xml2wbxml -n`, libwbxml 0.11.8).
const DOC151: &str = "03 0B 6A 00 C5 45 03 31 2E 31 00 01 C6 55 01
    87 11 06 03 4E 41 50 31 00 01 87 10 06 AB 01 87 07 06 03 4D 4D 53 00 01
    87 08 06 03 6D 6D 73 2E 65 78 61 6D 70 6C 65 00 01 87 09 06 89 01
    C6 5A 01 87 0C 06 9A 01 87 0D 06 03 75 73 65 72 00 01 87 0E 06 03 70 61 73 73 00 01 01 01
    C6 00 01 55 01 87 36 00 00 06 03 77 34 00 01 87 22 06 03 4E 41 50 31 00 01
    87 00 01 34 00 00 06 03 68 74 74 70 3A 2F 2F 6D 6D 73 63 2E 65 78 61 6D 70 6C 65 2F 6D 6D 73 00 01
    01 01";

fn client() -> ProvisioningClient {
    ProvisioningClient::new(config())
}

/// Delivers every message; returns the reports that came out.
fn deliver(
    c: &mut ProvisioningClient,
    msgs: &[ShortMessage],
    now: u64,
    rep: &mut RecordingReporter,
) -> Vec<ProvisioningReport> {
    msgs.iter()
        .filter_map(|m| c.on_short_message(m, now, rep))
        .collect()
}

fn rejected(r: &[ProvisioningReport]) -> &RejectReason {
    assert_eq!(r.len(), 1, "{r:?}");
    r[0].reason()
        .unwrap_or_else(|| panic!("not rejected: {r:?}"))
}

#[test]
fn spec_tpdus_netwpin_out_of_order() {
    let mut c = client();
    let mut rep = RecordingReporter::default();
    // Part 2 first: nothing yet.
    assert!(
        c.on_deliver_tpdu(&unhex(TPDU2), 0, &mut rep)
            .unwrap()
            .is_none()
    );
    let r = c
        .on_deliver_tpdu(&unhex(TPDU1), 5, &mut rep)
        .unwrap()
        .unwrap();
    assert_eq!(r.to, "447700900123");
    assert_eq!(
        r.outcome,
        Outcome::Configured {
            apns: vec!["mms.example".into()]
        }
    );
    assert_eq!(r.key_id, None);
    let e = c.store().find_apn("MMS.EXAMPLE").unwrap();
    assert_eq!(e.napid, "NAP1");
    assert_eq!(e.name.as_deref(), Some("MMS"));
    assert_eq!(e.settings.username.as_deref(), Some("user"));
    assert_eq!(e.settings.password.as_deref(), Some("pass"));
    assert_eq!(e.settings.mmsc.as_deref(), Some("http://mmsc.example/mms"));
    assert_eq!(e.source, ApnSource::StandardPush);
    assert_eq!(rep.reports, vec![r]);

    // A card with another IMSI computes another NETWPIN key: MAC fails, nothing applied.
    let mut cfg = config();
    cfg.imsi = Some("001010123456780".into());
    let mut other = ProvisioningClient::new(cfg);
    other.on_deliver_tpdu(&unhex(TPDU1), 0, &mut rep).unwrap();
    let r = other
        .on_deliver_tpdu(&unhex(TPDU2), 0, &mut rep)
        .unwrap()
        .unwrap();
    assert_eq!(r.reason(), Some(&RejectReason::BadMac));
    assert!(other.store().is_empty());
    // No IMSI at all: missing credentials.
    let mut cfg = config();
    cfg.imsi = None;
    let mut none = ProvisioningClient::new(cfg);
    none.on_deliver_tpdu(&unhex(TPDU1), 0, &mut rep).unwrap();
    let r = none
        .on_deliver_tpdu(&unhex(TPDU2), 0, &mut rep)
        .unwrap()
        .unwrap();
    assert_eq!(r.reason(), Some(&RejectReason::MissingCredentials));
}

/// USERPIN and USERNETWPIN MACs of 06-oma-cp.md §2 "Worked keys and MACs" over the 151-byte
/// document, and a USERPINMAC PIN.
#[test]
fn worked_macs_for_every_sec_method() {
    let doc = unhex(DOC151);
    for (sec, mac, pin) in [
        (
            SecMethod::USERPIN,
            "667F2D53AEFBAF5647560FE28C609136A96FA24E",
            "1234",
        ),
        (
            SecMethod::USERNETWPIN,
            "C8FF20F61AC6095C864B0AD07499BDA6D2640E18",
            "1234",
        ),
        (
            SecMethod::NETWPIN,
            "83C52EAFF1683711A6812DC1D6CBB5C3AD7BE698",
            "",
        ),
    ] {
        let p = push_with_mac(
            &doc,
            Some(sec),
            Some(Mac::from_hex(mac.as_bytes()).unwrap()),
        );
        let mut cfg = config();
        cfg.user_pin = Some(zeroize::Zeroizing::new(pin.to_owned()));
        let mut c = ProvisioningClient::new(cfg);
        let mut rep = RecordingReporter::default();
        let r = deliver(&mut c, &segments(&p, 1), 0, &mut rep);
        assert!(r[0].is_configured(), "{sec:?}: {r:?}");
        // Kannel's NETWPIN (ASCII IMSI key) MAC is not accepted (06-oma-cp.md §2).
        let kannel = push_with_mac(
            &doc,
            Some(SecMethod::NETWPIN),
            Some(Mac::from_hex(b"495F0FA7129A57C09238178E370D54D3235B5311").unwrap()),
        );
        let r = deliver(&mut client(), &segments(&kannel, 2), 0, &mut rep);
        assert_eq!(rejected(&r), &RejectReason::BadMac);
    }
    // USERPINMAC: the PIN to type is user part "12345" + check digits "13630".
    let p = push_with_mac(&doc, Some(SecMethod::USERPINMAC), None);
    let mut rep = RecordingReporter::default();
    for (pin, ok) in [("1234513630", true), ("1234513631", false)] {
        let mut cfg = config();
        cfg.user_pin = Some(zeroize::Zeroizing::new(pin.to_owned()));
        let r = deliver(
            &mut ProvisioningClient::new(cfg),
            &segments(&p, 3),
            0,
            &mut rep,
        );
        assert_eq!(r[0].is_configured(), ok, "{pin}: {r:?}");
    }
    // No SEC at all: refused unless the handset accepts unauthenticated pushes.
    let p = push_with_mac(&doc, None, None);
    let r = deliver(&mut client(), &segments(&p, 4), 0, &mut rep);
    assert_eq!(rejected(&r), &RejectReason::Unauthenticated);
    let mut cfg = config();
    cfg.accept_unauthenticated = true;
    let r = deliver(
        &mut ProvisioningClient::new(cfg),
        &segments(&p, 4),
        0,
        &mut rep,
    );
    assert!(r[0].is_configured());
}

/// libwbxml's value tokenisation: xml2wbxml splits values on value-token substrings
/// (`"Example APN"` → `03 "Example " 00 89`, research `tools-on-these-machines.md` §5),
/// moves repeated strings into the string table when run without `-n`
/// (06-oma-cp.md §4: `03 0B 6A 05 4E 41 50 31 00 … 83 00`), and a start token may carry a
/// value prefix. The settings must come out as plain text, and the MAC is over the bytes
/// as sent.
#[test]
fn libwbxml_tokenised_values() {
    // Hand-assembled per the rules above: string table "NAP1\0"; NAPID = STR_T 0;
    // NAME = STR_I "Example " + token APN (89); NAP-ADDRESS = STR_I "mms." + token
    // GSM-GPRS (AB) + STR_I ".example"; APPLICATION TO-NAPID = STR_T 0, ADDR = STR_I.
    let doc = unhex(
        "03 0B 6A 05 4E 41 50 31 00
         C5 45 03 31 2E 31 00 01
         C6 55 01
           87 11 06 83 00 01
           87 07 06 03 45 78 61 6D 70 6C 65 20 00 89 01
           87 08 06 03 6D 6D 73 2E 00 AB 03 2E 65 78 61 6D 70 6C 65 00 01
           87 09 06 89 01
         01
         C6 00 01 55 01
           87 36 00 00 06 03 77 34 00 01
           87 22 06 83 00 01
           87 00 01 34 00 00 06 03 68 74 74 70 3A 2F 2F 6D 6D 73 63 2E 65 78 61 6D 70 6C 65 2F 6D 6D 73 00 01
         01
         01",
    );
    check_wbxml2xml(&doc, &["Example APN", "mms.GSM-GPRS.example", "NAP1"]);
    let p = netwpin_push(&doc);
    let mut rep = RecordingReporter::default();
    let mut c = client();
    let r = deliver(&mut c, &segments(&p, 9), 0, &mut rep);
    assert!(r[0].is_configured(), "{r:?}");
    let e = c.store().find_apn("mms.GSM-GPRS.example").unwrap();
    assert_eq!(e.napid, "NAP1");
    assert_eq!(e.name.as_deref(), Some("Example APN"));
    assert_eq!(e.settings.mmsc.as_deref(), Some("http://mmsc.example/mms"));
}

/// If xml2wbxml is installed, compile XML with token substrings without `-n` (string
/// table) and consume the real encoder's output.
#[test]
fn xml2wbxml_output_when_available() {
    let Some(dir) = tool_dir("xml2wbxml") else {
        return;
    };
    let xml = r#"<?xml version="1.0"?>
<wap-provisioningdoc version="1.1">
  <characteristic type="NAPDEF">
    <parm name="NAPID" value="NAP1"/>
    <parm name="NAME" value="Example APN"/>
    <parm name="NAP-ADDRESS" value="internet.APN.GSM-GPRS.example"/>
    <parm name="NAP-ADDRTYPE" value="APN"/>
    <characteristic type="NAPAUTHINFO">
      <parm name="AUTHTYPE" value="PAP"/>
      <parm name="AUTHNAME" value="PAPuser"/>
      <parm name="AUTHSECRET" value="CHAPsecret"/>
    </characteristic>
  </characteristic>
  <characteristic type="APPLICATION">
    <parm name="APPID" value="w4"/>
    <parm name="TO-NAPID" value="NAP1"/>
    <parm name="ADDR" value="http://mmsc.example/IPV4/mms"/>
  </characteristic>
</wap-provisioningdoc>
"#;
    let input = dir.path().join("cp.xml");
    let output = dir.path().join("cp.wbxml");
    std::fs::write(&input, xml).unwrap();
    let st = std::process::Command::new("xml2wbxml")
        .arg("-o")
        .arg(&output)
        .arg(&input)
        .status()
        .unwrap();
    assert!(st.success());
    let doc = std::fs::read(&output).unwrap();
    eprintln!("xml2wbxml: {}", hex::encode_upper(&doc));
    // The string table is used (no -n) and at least one value is split around a token.
    assert_ne!(doc[3], 0x00, "string table expected");
    let mut rep = RecordingReporter::default();
    let mut c = client();
    let r = deliver(&mut c, &segments(&netwpin_push(&doc), 5), 0, &mut rep);
    assert!(r[0].is_configured(), "{r:?}");
    let e = c.store().find_apn("internet.APN.GSM-GPRS.example").unwrap();
    assert_eq!(e.name.as_deref(), Some("Example APN"));
    assert_eq!(e.settings.username.as_deref(), Some("PAPuser"));
    assert_eq!(e.settings.password.as_deref(), Some("CHAPsecret"));
    assert_eq!(
        e.settings.mmsc.as_deref(),
        Some("http://mmsc.example/IPV4/mms")
    );
}

fn tool_dir(tool: &str) -> Option<tempfile::TempDir> {
    let found = std::process::Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!("SKIP: {tool} not installed");
        return None;
    }
    Some(tempfile::tempdir().unwrap())
}

/// wbxml2xml (libwbxml) decodes `doc` and its XML contains every `needle`.
fn check_wbxml2xml(doc: &[u8], needles: &[&str]) {
    let Some(dir) = tool_dir("wbxml2xml") else {
        return;
    };
    let input = dir.path().join("in.wbxml");
    std::fs::write(&input, doc).unwrap();
    let out = std::process::Command::new("wbxml2xml")
        .args(["-m", "0", "-o", "-"])
        .arg(&input)
        .output()
        .unwrap();
    let xml = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for n in needles {
        assert!(xml.contains(n), "{n} not in {xml}");
    }
}

// ---- device key ---------------------------------------------------------------------

fn keyed_doc(apn: &str, mmsc: &str, key_imei: &str, key_id: u64) -> (Doc, Vec<u8>) {
    let doc = Doc::new(apn, Some(mmsc));
    let key = issue(key_imei, &doc.settings, key_id, None);
    let bytes = key.encode().to_vec();
    (doc.with_key(&key), bytes)
}

/// Asserts the key is gone from every live structure of the client, raw and as hex text.
fn assert_key_gone(c: &ProvisioningClient, key: &[u8]) {
    assert!(!c.holds_bytes(key), "raw key bytes still held");
    assert!(
        !c.holds_bytes(upper_hex(key).as_bytes()),
        "key hex text still held"
    );
    // The signature alone (64 bytes) is not held either.
    assert!(!c.holds_bytes(&key[key.len() - 64..]));
}

#[test]
fn device_key_session_applies_and_erases() {
    let (doc, key) = keyed_doc(
        "mms.vendor.example",
        "http://mmsc.vendor.example/mms",
        IMEI,
        77,
    );
    let wbxml = doc.wbxml();
    check_wbxml2xml(&wbxml, &["VENDORCONFIG", "DEVKEY", "mms.vendor.example"]);
    let segs = segments(&netwpin_push(&wbxml), 0x42);
    assert!(segs.len() >= 3, "{} segments", segs.len());
    let mut c = client();
    let mut rep = RecordingReporter::default();
    // Reverse order with a duplicate of the last part in the middle.
    let mut order: Vec<ShortMessage> = segs.iter().rev().cloned().collect();
    order.insert(1, segs[segs.len() - 1].clone());
    let mut out = Vec::new();
    for (i, m) in order.iter().enumerate() {
        if i + 1 < order.len() {
            // While parts are pending the key's hex text sits in the (zeroizing) buffers.
            assert!(c.on_short_message(m, i as u64, &mut rep).is_none());
            // The inspection hook does see pending data (so its "gone" below means something).
            assert!(c.holds_bytes(&m.user_data));
        } else {
            out.extend(c.on_short_message(m, i as u64, &mut rep));
        }
    }
    assert!(c.reassembler().stats().duplicates == 1);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].key_id, Some(77));
    assert!(out[0].is_configured(), "{out:?}");
    assert_eq!(c.keyed_apns(), vec![(77, "mms.vendor.example")]);
    let e = c.store().find_apn("mms.vendor.example").unwrap();
    assert_eq!(e.source, ApnSource::DeviceKey { key_id: 77 });
    assert_eq!(
        e.settings.mmsc.as_deref(),
        Some("http://mmsc.vendor.example/mms")
    );
    assert_key_gone(&c, &key);
    assert_eq!(ProvisionalSmsReporter::text(&out[0]), "IMEITRACK CP1 OK 77");
}

/// The stub's base64url text form (`DeviceKey::to_text`) is accepted in DEVKEY as well.
#[test]
fn device_key_base64url_text() {
    use applet::wire::omacp::Encoder;
    let doc = Doc::new("mms.b64.example", Some("http://mmsc.b64.example/"));
    let key = issue(IMEI, &doc.settings, 5, None);
    let base = doc.wbxml();
    // Rebuild with a DEVKEY parm written as text.
    let mut buf = vec![0u8; 1024];
    let mut e = Encoder::new(&mut buf);
    e.start_document(Some("1.1")).unwrap();
    e.start_characteristic("NAPDEF").unwrap();
    e.parm("NAPID", Some("MMS1")).unwrap();
    e.parm("NAP-ADDRESS", Some("mms.b64.example")).unwrap();
    e.end_characteristic().unwrap();
    e.start_characteristic("APPLICATION").unwrap();
    e.parm("APPID", Some("w4")).unwrap();
    e.parm("TO-NAPID", Some("MMS1")).unwrap();
    e.parm("ADDR", Some("http://mmsc.b64.example/")).unwrap();
    e.end_characteristic().unwrap();
    e.start_characteristic("VENDORCONFIG").unwrap();
    e.parm("NAME", Some("imeitrack")).unwrap();
    e.parm("DEVKEY", Some(&key.to_text())).unwrap();
    e.end_characteristic().unwrap();
    let n = e.finish().unwrap();
    assert_ne!(&buf[..n], &base[..]);
    let mut c = client();
    let mut rep = RecordingReporter::default();
    let r = deliver(&mut c, &segments(&netwpin_push(&buf[..n]), 1), 0, &mut rep);
    assert!(r[0].is_configured(), "{r:?}");
    assert_eq!(r[0].key_id, Some(5));
    assert!(!c.holds_bytes(key.to_text().as_bytes()));
}

/// Every rejection of the issue: APN unchanged, key erased, reason reported.
#[test]
fn rejected_pushes() {
    let good_apn = "mms.vendor.example";
    let mmsc = "http://mmsc.vendor.example/mms";
    struct Case {
        name: &'static str,
        msgs: Vec<ShortMessage>,
        key: Vec<u8>,
        reason: RejectReason,
        code: &'static str,
    }
    let mut cases = Vec::new();

    // Wrong MAC: computed under another IMSI.
    let (doc, key) = keyed_doc(good_apn, mmsc, IMEI, 1);
    let wrong = push(
        &doc.wbxml(),
        SecMethod::NETWPIN,
        &Credentials {
            imsi: Some(b"001010000000001"),
            user_pin: None,
        },
    );
    cases.push(Case {
        name: "wrong MAC",
        msgs: segments(&wrong, 1),
        key,
        reason: RejectReason::BadMac,
        code: "MAC",
    });

    // Key for another IMEI (correctly signed, correct settings).
    let (doc, key) = keyed_doc(good_apn, mmsc, OTHER_IMEI, 2);
    cases.push(Case {
        name: "key for another IMEI",
        msgs: segments(&netwpin_push(&doc.wbxml()), 2),
        key,
        reason: RejectReason::WrongImei,
        code: "IMEI",
    });

    // Key over other APN settings: issued for good_apn, document carries another APN.
    let doc = Doc::new(good_apn, Some(mmsc));
    let k = issue(IMEI, &doc.settings, 3, None);
    let mut evil = Doc::new("evil.example", Some(mmsc)).with_key(&k);
    evil.napid = doc.napid.clone();
    cases.push(Case {
        name: "key over other APN settings",
        msgs: segments(&netwpin_push(&evil.wbxml()), 3),
        key: k.encode().to_vec(),
        reason: RejectReason::WrongApnSettings,
        code: "APN",
    });
    // … or the same APN with another MMSC (the digest covers every field).
    let evil = Doc::new(good_apn, Some("http://mmsc.evil.example/")).with_key(&k);
    cases.push(Case {
        name: "key over another MMSC",
        msgs: segments(&netwpin_push(&evil.wbxml()), 4),
        key: k.encode().to_vec(),
        reason: RejectReason::WrongApnSettings,
        code: "APN",
    });

    // Corrupted segment: one bit flipped in the middle of part 2.
    let (doc, key) = keyed_doc(good_apn, mmsc, IMEI, 5);
    let mut msgs = segments(&netwpin_push(&doc.wbxml()), 5);
    let mid = msgs[1].user_data.len() / 2;
    msgs[1].user_data[mid] ^= 0x01;
    cases.push(Case {
        name: "corrupted segment",
        msgs,
        key,
        reason: RejectReason::BadMac,
        code: "MAC",
    });

    // Signed by someone else.
    let doc = Doc::new(good_apn, Some(mmsc));
    let forged = provisioning_stub::keys::DeviceKeySigner::generate()
        .issue(
            6,
            &provisioning_stub::keys::Imei::parse(IMEI).unwrap(),
            &doc.settings,
            0,
            None,
        )
        .unwrap();
    let d = doc.with_key(&forged);
    cases.push(Case {
        name: "forged signature",
        msgs: segments(&netwpin_push(&d.wbxml()), 6),
        key: forged.encode().to_vec(),
        reason: RejectReason::BadSignature,
        code: "SIG",
    });

    // Expired (virtual time 0 = Unix 2026-01-01 + 1 day; key expired at +1 h).
    let doc = Doc::new(good_apn, Some(mmsc));
    let k = issue(IMEI, &doc.settings, 7, Some(1_767_225_600 + 3600));
    let d = doc.with_key(&k);
    cases.push(Case {
        name: "expired key",
        msgs: segments(&netwpin_push(&d.wbxml()), 7),
        key: k.encode().to_vec(),
        reason: RejectReason::Expired,
        code: "EXPIRED",
    });

    for case in cases {
        let mut cfg = config();
        cfg.unix_at_zero = 1_767_225_600 + 86_400;
        let mut c = ProvisioningClient::new(cfg);
        let mut rep = ProvisionalSmsReporter::new("447700900123");
        let mut r = Vec::new();
        for m in &case.msgs {
            r.extend(c.on_short_message(m, 0, &mut rep));
        }
        assert_eq!(rejected(&r), &case.reason, "{}", case.name);
        assert!(c.store().is_empty(), "{}: APN store changed", case.name);
        assert_key_gone(&c, &case.key);
        assert_eq!(rep.outbox.len(), 1, "{}", case.name);
        let text = String::from_utf8(rep.outbox[0].user_data.clone()).unwrap();
        assert!(text.ends_with(case.code), "{}: {text}", case.name);
        assert_eq!(rep.outbox[0].destination, STUB);
    }
}

#[test]
fn replay_of_an_old_push() {
    let (doc, key) = keyed_doc(
        "mms.vendor.example",
        "http://mmsc.vendor.example/mms",
        IMEI,
        9,
    );
    let segs = segments(&netwpin_push(&doc.wbxml()), 0x10);
    let mut c = client();
    let mut rep = RecordingReporter::default();
    let r = deliver(&mut c, &segs, 0, &mut rep);
    assert!(r[0].is_configured());
    let before = c.store().entries().to_vec();
    // The very same segments again (later, same reference).
    let r = deliver(&mut c, &segs, 10_000, &mut rep);
    assert_eq!(rejected(&r), &RejectReason::Replay);
    assert_eq!(r[0].key_id, None);
    // A different document (new NAME, another TID/reference) carrying the used key.
    let mut again = doc.clone();
    again.name = "renamed".into();
    let segs2 = segments(&netwpin_push(&again.wbxml()), 0x11);
    let r = deliver(&mut c, &segs2, 20_000, &mut rep);
    assert_eq!(rejected(&r), &RejectReason::Replay);
    assert_eq!(r[0].key_id, Some(9));
    assert_eq!(c.store().entries(), &before[..]);
    assert_key_gone(&c, &key);
    assert_eq!(rep.reports.len(), 3);
}

/// Standard settings: the push applied last, again, changes nothing and is applied and
/// confirmed (a card back in a handset that holds its settings); an older push would
/// roll the settings back and is a replay.
#[test]
fn standard_push_again_is_applied_but_an_older_one_is_a_replay() {
    let a = Doc::new("internet.a.example", None);
    let b = Doc::new("internet.b.example", None);
    let segs_a = segments(&netwpin_push(&a.wbxml()), 0x20);
    let segs_b = segments(&netwpin_push(&b.wbxml()), 0x21);
    let mut c = client();
    let mut rep = RecordingReporter::default();
    assert!(deliver(&mut c, &segs_a, 0, &mut rep)[0].is_configured());
    // A again right away: the latest body, applied again.
    let r = deliver(&mut c, &segs_a, 10_000, &mut rep);
    assert!(r[0].is_configured(), "{r:?}");
    assert_eq!(c.store().entries().len(), 1);
    // B, then A: A is no longer the latest, so it would roll back: replay.
    assert!(deliver(&mut c, &segs_b, 20_000, &mut rep)[0].is_configured());
    let before = c.store().entries().to_vec();
    let r = deliver(&mut c, &segs_a, 30_000, &mut rep);
    assert_eq!(rejected(&r), &RejectReason::Replay);
    assert_eq!(c.store().entries(), &before[..]);
    // B again (the latest): applied, nothing changes.
    let r = deliver(&mut c, &segs_b, 40_000, &mut rep);
    assert!(r[0].is_configured(), "{r:?}");
    assert_eq!(c.store().entries(), &before[..]);
}

#[test]
fn missing_part_times_out_cleanly() {
    let (doc, key) = keyed_doc(
        "mms.vendor.example",
        "http://mmsc.vendor.example/mms",
        IMEI,
        11,
    );
    let segs = segments(&netwpin_push(&doc.wbxml()), 0x20);
    let mut c = client();
    let mut rep = RecordingReporter::default();
    // All but part 2.
    for (i, m) in segs.iter().enumerate() {
        if i != 1 {
            assert!(c.on_short_message(m, 1000, &mut rep).is_none());
        }
    }
    assert_eq!(c.reassembler().pending(), 1);
    // Just before the timeout nothing happens; at the timeout the partial is dropped.
    assert!(c.expire(1000 + 119_999, &mut rep).is_empty());
    let r = c.expire(1000 + 120_000, &mut rep);
    assert_eq!(
        r[0].reason(),
        Some(&RejectReason::Timeout { missing: vec![2] })
    );
    assert_eq!(r[0].to, STUB);
    assert_eq!(c.reassembler().pending(), 0);
    assert!(c.store().is_empty());
    assert_key_gone(&c, &key);
    // The late part alone starts a new partial and does not apply anything.
    assert!(c.on_short_message(&segs[1], 200_000, &mut rep).is_none());
    assert!(c.store().is_empty());
    assert_eq!(rep.reports.len(), 1);
}

#[test]
fn no_manufacturer_key_and_bad_key_text() {
    let (doc, key) = keyed_doc(
        "mms.vendor.example",
        "http://mmsc.vendor.example/mms",
        IMEI,
        12,
    );
    let mut cfg = config();
    cfg.identity.manufacturer_key = None;
    let mut c = ProvisioningClient::new(cfg);
    let mut rep = RecordingReporter::default();
    let r = deliver(
        &mut c,
        &segments(&netwpin_push(&doc.wbxml()), 1),
        0,
        &mut rep,
    );
    assert_eq!(rejected(&r), &RejectReason::NoManufacturerKey);
    assert_eq!(r[0].key_id, Some(12));
    assert_key_gone(&c, &key);
    // A truncated key.
    let mut d = Doc::new("x.example", None);
    d.key = Some(zeroize::Zeroizing::new(key[..100].to_vec()));
    let r = deliver(
        &mut client(),
        &segments(&netwpin_push(&d.wbxml()), 2),
        0,
        &mut rep,
    );
    assert!(matches!(rejected(&r), RejectReason::BadDeviceKey(_)));
}

/// Session states directly: open → verify → apply; the closed state holds no key.
#[test]
fn session_states() {
    use handset_sim::provisioning::apn::ApnEntry;
    let settings = Doc::new("s.example", None).settings;
    let key = issue(IMEI, &settings, 40, None);
    let entry = ApnEntry {
        napid: "N".into(),
        name: None,
        settings,
        source: ApnSource::StandardPush,
    };
    let s = ProvisioningSession::open(key.encode(), entry.clone()).unwrap();
    assert_eq!(s.key_id(), 40);
    let v = s.verify(&identity(), 0).unwrap();
    let mut store = ApnStore::new(1);
    let closed = v.apply(&mut store);
    assert_eq!(closed.key_id, Some(40));
    assert_eq!(closed.result, Ok("s.example".into()));
    assert_eq!(
        store.entries()[0].source,
        ApnSource::DeviceKey { key_id: 40 }
    );
    // A full store closes the session with the reason.
    let other = ApnEntry {
        napid: "M".into(),
        ..entry.clone()
    };
    let s = ProvisioningSession::open(key.encode(), other).unwrap();
    let closed = s.verify(&identity(), 0).unwrap().apply(&mut store);
    assert_eq!(
        closed.result,
        Err(RejectReason::Store(ApnStoreError::Full(1)))
    );
    let bad = ProvisioningSession::open(zeroize::Zeroizing::new(vec![1, 0]), entry).unwrap_err();
    assert!(matches!(bad.result, Err(RejectReason::BadDeviceKey(_))));
}

/// Every single-bit flip anywhere in a device-key push (WSP header, MAC text, WBXML, key)
/// is either rejected or — where the flip does not change meaning, e.g. the case of a MAC
/// hex letter or the TID — applies exactly the genuine settings. Never a panic, never
/// other settings in the store, never the key left behind.
#[test]
fn every_bit_flip_is_rejected_or_harmless() {
    let (doc, key) = keyed_doc(
        "mms.vendor.example",
        "http://mmsc.vendor.example/mms",
        IMEI,
        13,
    );
    let genuine = netwpin_push(&doc.wbxml());
    let mut reference = client();
    let mut rep = RecordingReporter::default();
    deliver(&mut reference, &segments(&genuine, 1), 0, &mut rep);
    let expect = reference.store().entries().to_vec();
    assert_eq!(expect.len(), 1);
    let mut applied = 0;
    for bit in 0..genuine.len() * 8 {
        let mut p = genuine.clone();
        p[bit / 8] ^= 1 << (bit % 8);
        let mut c = client();
        let r = deliver(&mut c, &segments(&p, 1), 0, &mut rep);
        assert_eq!(r.len(), 1, "bit {bit}");
        if r[0].is_configured() {
            applied += 1;
            assert_eq!(c.store().entries(), &expect[..], "bit {bit}");
        } else {
            assert!(c.store().is_empty(), "bit {bit}");
        }
        assert_key_gone(&c, &key);
    }
    eprintln!(
        "{applied} of {} flips applied the genuine settings",
        genuine.len() * 8
    );
    // Only the TID byte and MAC-letter case flips may pass.
    assert!(applied <= 8 + 40, "{applied} flips applied");
}

/// Random short messages on the WAP push port never panic the client.
#[test]
fn random_messages_never_panic() {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut c = client();
    let mut rep = RecordingReporter::default();
    for i in 0..20_000u64 {
        let len = (next() % 140) as usize;
        let data: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        let total = (next() % 4) as u8;
        let seq = (next() % 5) as u8;
        let mut udh = vec![0x05, 0x04, 0x0B, 0x84, 0x23, 0xF0];
        if next() % 2 == 0 {
            udh.extend_from_slice(&[0x00, 0x03, (next() % 3) as u8, total, seq]);
        }
        let mut sm = ShortMessage::new(STUB, "1", 0, 0x04, data);
        // Sometimes a valid push header in front of random WBXML.
        if next() % 3 == 0 {
            let mut p = netwpin_push(&sm.user_data);
            p.truncate(140);
            sm.user_data = p;
        }
        sm.udh = Some(udh);
        c.on_short_message(&sm, i, &mut rep);
    }
    assert!(c.store().is_empty());
}
