//! A real third-party ESME against the SMSC simulator: Kannel 1.4.5's bearerbox binds
//! over SMPP (transceiver) and its smsbox `sendota` turns an OMA Client Provisioning
//! document into WAP-push `submit_sm`s (UDH ports 2948 ← 2948, 8-bit data; segmented
//! with a concatenation IE when long). The handset side drains its MT queue,
//! reassembles the segments, strips the WSP push header and hands the WBXML body to
//! `wbxml2xml` (libwbxml2) as an independent decoder.
//!
//! Configuration follows research/tools-on-these-machines.md §6; every port is on
//! 127.0.0.1 and chosen at run time; configs and logs live in a temp dir. Missing
//! Kannel: skip outside CI, fail in CI.

mod kannel_support;
mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use handset_sim::network::*;
use kannel_support::*;
use tokio::net::{TcpListener, TcpStream};
use tokio::process::Child;

const HANDSET: &str = "447700900123";
const BEARERBOX: &str = "/usr/sbin/bearerbox";
const SMSBOX: &str = "/usr/sbin/smsbox";

const CP_XML: &str = r#"<?xml version="1.0"?>
<!DOCTYPE wap-provisioningdoc PUBLIC "-//WAPFORUM//DTD PROV 1.0//EN" "http://www.wapforum.org/DTD/prov.dtd">
<wap-provisioningdoc version="1.1">
  <characteristic type="NAPDEF">
    <parm name="NAPID" value="MMSNAP"/>
    <parm name="BEARER" value="GSM-GPRS"/>
    <parm name="NAME" value="imeitrack"/>
    <parm name="NAP-ADDRESS" value="mms.imeitrack"/>
    <parm name="NAP-ADDRTYPE" value="APN"/>
  </characteristic>
</wap-provisioningdoc>
"#;

/// The same NAPDEF plus MMS and browser APPLICATIONs with long values, so that the push
/// needs more than one SMS and Kannel segments it (concatenation IE).
fn long_cp_xml() -> String {
    let extra = r#"  <characteristic type="APPLICATION">
    <parm name="APPID" value="w4"/>
    <parm name="TO-NAPID" value="MMSNAP"/>
    <parm name="ADDR" value="http://mmsc.imeitrack.invalid/servlets/mms/provisioned-by-the-simulator"/>
  </characteristic>
  <characteristic type="APPLICATION">
    <parm name="APPID" value="w2"/>
    <parm name="TO-NAPID" value="MMSNAP"/>
    <parm name="NAME" value="a-browser-profile-with-a-deliberately-long-name-for-segmentation"/>
    <parm name="ADDR" value="http://portal.imeitrack.invalid/a/long/path/so/that/the/push/needs/three/short/messages/at/least"/>
  </characteristic>
</wap-provisioningdoc>"#;
    CP_XML.replace("</wap-provisioningdoc>", extra)
}

/// WSP push PDU (WAP-230 §8.2.4.1): TID, type 0x06, uintvar headers length,
/// content type + headers, body. Returns (content-type octet, body).
fn wsp_push_body(pdu: &[u8]) -> (u8, &[u8]) {
    assert_eq!(pdu[1], 0x06, "WSP PDU type Push");
    let mut i = 2;
    let mut len = 0usize;
    loop {
        let b = pdu[i];
        i += 1;
        len = (len << 7) | usize::from(b & 0x7F);
        if b & 0x80 == 0 {
            break;
        }
    }
    let headers = &pdu[i..i + len];
    // Content type: a short integer (0x80 | n), or the general form Value-length
    // (Short-length 0..=30, or Length-quote 0x1F + uintvar) then the media type.
    let ct = match headers[0] {
        b if b & 0x80 != 0 => b,
        0x1F => {
            let mut j = 1;
            while headers[j] & 0x80 != 0 {
                j += 1;
            }
            headers[j + 1]
        }
        _ => headers[1],
    };
    (ct, &pdu[i + len..])
}

fn wbxml2xml(wbxml: &[u8], dir: &Path) -> Option<String> {
    let path = PathBuf::from("/usr/bin/wbxml2xml");
    if !path.exists() {
        support::missing("wbxml2xml (libwbxml2-utils)");
        return None;
    }
    let input = dir.join("push.wbxml");
    std::fs::write(&input, wbxml).unwrap();
    let out = std::process::Command::new(path)
        .args(["-o", "-"])
        .arg(&input)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "wbxml2xml: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kannel_sendota_reaches_handset() {
    if !Path::new(BEARERBOX).exists() || !Path::new(SMSBOX).exists() {
        support::missing("Kannel (apt-get install kannel)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path().to_path_buf();

    // The SMSC, with an account for Kannel and one attached handset.
    let mut w = Networks::new();
    w.add_network(Network {
        name: "primary".into(),
        plmn: Plmn::new(1, 1),
        lac: 1,
        cell_id: 1,
        smsc_address: "447700900000".into(),
    })
    .unwrap();
    let config = SmscConfig {
        accounts: vec![EsmeAccount::new("kannel", "kpass")],
        ..SmscConfig::default()
    };
    let mut smsc = Smsc::new(config, w, 1);
    smsc.networks
        .attach(HANDSET, "001010123456789", "primary")
        .unwrap();
    let handle = SmscHandle::new(smsc, Clock::wall());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let ports = Ports {
        admin: free_port(),
        smsbox: free_port(),
        sendsms: free_port(),
        smsc: listener.local_addr().unwrap().port(),
    };
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(smpp::run(listener, handle.clone(), async {
        let _ = stop_rx.await;
    }));

    let conf = dir.join("kannel.conf");
    std::fs::write(&conf, kannel_conf(&dir, &ports)).unwrap();
    let mut bearerbox = spawn_box(BEARERBOX, &conf, &dir, "bearerbox");
    let mut smsbox: Option<Child> = None;

    let result = async {
        // 1. bearerbox binds to us as an ESME.
        let h = handle.clone();
        wait_for("bearerbox to bind", Duration::from_secs(20), async || {
            h.with_quiet(|s, _| s.take_events())
                .into_iter()
                .any(|(_, e)| matches!(e, Event::Bound { ref system_id, .. } if system_id == "kannel"))
                .then_some(())
        })
        .await;

        // 2. smsbox up and its sendsms port listening.
        smsbox = Some(spawn_box(SMSBOX, &conf, &dir, "smsbox"));
        let sendsms = ports.sendsms;
        wait_for("smsbox sendsms port", Duration::from_secs(20), async || {
            TcpStream::connect(("127.0.0.1", sendsms)).await.ok().map(|_| ())
        })
        .await;

        // 3. POST each CP document to sendota; 4. the handset drains its MT queue
        // until every segment of that push is there.
        let mut pushes = Vec::new();
        for doc in [CP_XML.to_owned(), long_cp_xml()] {
            let body = doc.as_bytes();
            let mut req = format!(
                "POST /cgi-bin/sendota HTTP/1.0\r\nHost: 127.0.0.1\r\n\
                 Content-Type: text/vnd.wap.connectivity-xml\r\n\
                 X-Kannel-Username: tester\r\nX-Kannel-Password: foobar\r\n\
                 X-Kannel-To: {HANDSET}\r\nX-Kannel-From: 12345\r\n\
                 X-Kannel-SEC: USERPIN\r\nX-Kannel-PIN: 1234\r\n\
                 Content-Length: {}\r\n\r\n",
                body.len()
            )
            .into_bytes();
            req.extend_from_slice(body);
            let resp = http(sendsms, &req).await.unwrap();
            assert!(resp.contains("Accepted for delivery") || resp.contains("Sent"), "sendota: {resp}");

            let h = handle.clone();
            let mut parts: Vec<MtDelivery> = Vec::new();
            wait_for("WAP push segments at the handset", Duration::from_secs(20), async || {
                while let Some(mt) = h.with(|s, now| s.poll_mt(HANDSET, now)) {
                    parts.push(mt);
                }
                let first = parts.first()?;
                let total = first.sm.udh_ie(0x00).map_or(1, |c| usize::from(c[1]));
                (parts.len() >= total).then_some(())
            })
            .await;
            pushes.push(parts);
        }
        pushes
    }
    .await;

    // Shut Kannel down through its admin interface, bounded.
    let _ = http(ports.admin, b"GET /shutdown?password=bar HTTP/1.0\r\n\r\n").await;
    let stopped = tokio::time::timeout(Duration::from_secs(15), bearerbox.wait()).await;
    if stopped.is_err() {
        let _ = bearerbox.kill().await;
    }
    if let Some(mut sb) = smsbox.take()
        && tokio::time::timeout(Duration::from_secs(10), sb.wait())
            .await
            .is_err()
    {
        let _ = sb.kill().await;
    }
    let _ = stop_tx.send(());
    server.await.unwrap().unwrap();

    let kannel_logs = logs(&dir);
    let [short, long] = <[Vec<MtDelivery>; 2]>::try_from(result).unwrap();
    assert_eq!(short.len(), 1, "short document: one SMS\n{kannel_logs}");
    // The short_message Kannel submitted starts with the WAP push UDH (16-bit ports).
    let raw = short[0].sm.smpp_short_message();
    assert_eq!(
        &raw[..7],
        &[0x06, 0x05, 0x04, 0x0B, 0x84, 0x0B, 0x84],
        "{raw:02X?}"
    );
    let xml = check_push(&short, &dir);
    assert!(xml.is_none_or(|x| !x.contains("APPLICATION")));
    assert!(
        long.len() >= 2,
        "long document: segmented, got {}\n{kannel_logs}",
        long.len()
    );
    let xml = check_push(&long, &dir);
    assert!(xml.is_none_or(|x| {
        x.contains("provisioned-by-the-simulator") && x.contains("three/short/messages")
    }));
}

/// Checks every segment (8-bit, ports 2948 ← 2948), reassembles by the concatenation
/// IE, checks the WSP push and returns the wbxml2xml decoding (None if unavailable).
fn check_push(parts: &[MtDelivery], dir: &Path) -> Option<String> {
    let mut segments: Vec<(u8, Vec<u8>)> = Vec::new();
    for mt in parts {
        assert_eq!(mt.sm.dcs & 0x0C, 0x04, "8-bit data coding");
        assert_eq!(mt.sm.source, "12345");
        assert_eq!(
            mt.sm.udh_ie(0x05),
            Some(&[0x0B, 0x84, 0x0B, 0x84][..]),
            "{:02X?}",
            mt.sm.udh
        );
        assert!(mt.sm.fits_one_tpdu());
        let seq = mt.sm.udh_ie(0x00).map_or(1, |c| c[2]);
        segments.push((seq, mt.sm.user_data.clone()));
    }
    segments.sort();
    let push: Vec<u8> = segments.into_iter().flat_map(|(_, d)| d).collect();
    eprintln!(
        "Kannel sendota: {} segment(s), WSP push {} octets, first UDH {:02X?}",
        parts.len(),
        push.len(),
        parts[0].sm.udh
    );
    // WSP push, content type 0xB6 = application/vnd.wap.connectivity-wbxml.
    let (ct, wbxml) = wsp_push_body(&push);
    assert_eq!(ct, 0xB6, "content type");
    assert_eq!(
        &wbxml[..4],
        &[0x03, 0x0B, 0x6A, 0x00],
        "WBXML 1.3, PROV 1.0 public id, UTF-8"
    );
    let xml = wbxml2xml(wbxml, dir)?;
    assert!(
        xml.contains("NAPDEF") && xml.contains("mms.imeitrack"),
        "{xml}"
    );
    Some(xml)
}
