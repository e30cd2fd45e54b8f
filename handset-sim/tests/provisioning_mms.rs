//! The MMS application before and after provisioning: disabled while no APN routes to the
//! manufacturer's MMSC; after a device-key push whose MMSC URL points at a stand-in for the
//! manufacturer's MMS endpoint on 127.0.0.1, it posts an `m-send-req` there and gets an
//! `m-send-conf` back. (The manufacturer stub has no MMS endpoint yet; this test's small
//! HTTP server plays it.)

mod provisioning_support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::thread;

use handset_sim::provisioning::mms::{m_send_conf, m_send_req};
use handset_sim::provisioning::*;
use provisioning_support::*;

/// One-shot HTTP server: answers one request with an `m-send-conf` and hands the raw
/// request to the test.
fn mmsc() -> (u16, mpsc::Receiver<Vec<u8>>, thread::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    let h = thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let mut req = Vec::new();
        let mut buf = [0u8; 1024];
        // Read headers, then Content-Length bytes of body.
        loop {
            let n = s.read(&mut buf).unwrap();
            req.extend_from_slice(&buf[..n]);
            if let Some(end) = req.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&req[..end]).to_lowercase();
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .map_or(0, |v| v.trim().parse().unwrap());
                if req.len() >= end + 4 + len {
                    break;
                }
            }
            if n == 0 {
                break;
            }
        }
        let body = m_send_conf("T1", "MID-1");
        let mut resp = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.wap.mms-message\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .into_bytes();
        resp.extend_from_slice(&body);
        s.write_all(&resp).unwrap();
        tx.send(req).unwrap();
    });
    (port, rx, h)
}

#[test]
fn mms_disabled_until_provisioned_then_reaches_mmsc() {
    let (port, rx, server) = mmsc();
    let host = format!("127.0.0.1:{port}");
    let url = format!("http://{host}/mms");
    let app = MmsApp::for_manufacturer(host.clone());

    // A handset with an operator APN but no MMSC, and one whose MMSC is someone else's.
    let mut c = ProvisioningClient::new(config());
    let mut rep = RecordingReporter::default();
    let internet = Doc::new("internet", None);
    c.on_short_message(
        &segments(&netwpin_push(&internet.wbxml()), 1)[0],
        0,
        &mut rep,
    );
    let other = Doc::new("mms.other", Some("http://mmsc.other.example/"));
    for m in segments(&netwpin_push(&other.wbxml()), 2) {
        c.on_short_message(&m, 0, &mut rep);
    }
    assert_eq!(c.store().len(), 2);
    assert_eq!(app.status(c.store()), MmsStatus::Disabled);
    let pdu = m_send_req("T1", "+447700900123", "hello");
    assert!(matches!(app.send(c.store(), &pdu), Err(MmsError::Disabled)));

    // Provisioning session with the manufacturer's MMSC on loopback.
    let doc = Doc::new("mms.manufacturer", Some(&url));
    let key = issue(IMEI, &doc.settings, 100, None);
    let mut r = Vec::new();
    for m in segments(&netwpin_push(&doc.with_key(&key).wbxml()), 3) {
        r.extend(c.on_short_message(&m, 0, &mut rep));
    }
    assert!(r[0].is_configured(), "{r:?}");
    assert_eq!(
        app.status(c.store()),
        MmsStatus::Enabled {
            apn: "mms.manufacturer".into(),
            mmsc: url.clone()
        }
    );
    let resp = app.send(c.store(), &pdu).unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.response_status(), Some(0x80), "m-send-conf Ok");
    let req = rx.recv().unwrap();
    server.join().unwrap();
    let text = String::from_utf8_lossy(&req);
    assert!(text.starts_with("POST /mms HTTP/1.1\r\n"), "{text}");
    assert!(text.contains(&format!("Host: {host}\r\n")));
    assert!(text.contains("Content-Type: application/vnd.wap.mms-message\r\n"));
    assert!(req.ends_with(&pdu), "body is the m-send-req");
}
