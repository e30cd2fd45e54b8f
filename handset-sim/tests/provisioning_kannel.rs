//! Kannel as a real third-party SMPP client, feeding THIS handset's provisioning client:
//! bearerbox binds to the SMSC simulator as an ESME (transceiver), smsbox's `sendota`
//! compiles an OMA CP document (Kannel's own WBXML tokeniser), computes the SEC/MAC and
//! submits it as WAP push `submit_sm`s (UDH ports 2948, concatenation IE when long). The
//! handset polls its MT queue and hands each message, in reverse order, to
//! `ProvisioningClient`: our `Reassembler`, WSP parser, MAC check and WBXML decoder consume
//! Kannel's push and the APN lands in the store.
//!
//! SEC is USERPIN: Kannel 1.4.5 keys NETWPIN with the IMSI as ASCII text, which disagrees
//! with cpclient and this handset (06-oma-cp.md §2). A wrong PIN must fail the MAC.
//! Kannel set-up follows `network_kannel.rs` (research/tools-on-these-machines.md §6).
//! Missing Kannel: skip outside CI, fail in CI.

mod kannel_support;
mod provisioning_support;
mod support;

use std::path::Path;
use std::time::Duration;

use handset_sim::network::*;
use handset_sim::provisioning::*;
use kannel_support::*;
use tokio::net::{TcpListener, TcpStream};
use tokio::process::Child;

const HANDSET: &str = "447700900123";
const BEARERBOX: &str = "/usr/sbin/bearerbox";
const SMSBOX: &str = "/usr/sbin/smsbox";
const MMSC: &str = "http://mmsc.imeitrack.invalid/servlets/mms/provisioned-through-kannel-sendota";

fn cp_xml() -> String {
    format!(
        r#"<?xml version="1.0"?>
<!DOCTYPE wap-provisioningdoc PUBLIC "-//WAPFORUM//DTD PROV 1.0//EN" "http://www.wapforum.org/DTD/prov.dtd">
<wap-provisioningdoc version="1.1">
  <characteristic type="NAPDEF">
    <parm name="NAPID" value="MMSNAP"/>
    <parm name="BEARER" value="GSM-GPRS"/>
    <parm name="NAME" value="Example APN for MMS"/>
    <parm name="NAP-ADDRESS" value="mms.imeitrack"/>
    <parm name="NAP-ADDRTYPE" value="APN"/>
    <characteristic type="NAPAUTHINFO">
      <parm name="AUTHTYPE" value="PAP"/>
      <parm name="AUTHNAME" value="PAPuser"/>
      <parm name="AUTHSECRET" value="secret"/>
    </characteristic>
  </characteristic>
  <characteristic type="APPLICATION">
    <parm name="APPID" value="w4"/>
    <parm name="TO-NAPID" value="MMSNAP"/>
    <parm name="ADDR" value="{MMSC}"/>
  </characteristic>
</wap-provisioningdoc>
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kannel_sendota_push_is_reassembled_verified_and_applied() {
    if !Path::new(BEARERBOX).exists() || !Path::new(SMSBOX).exists() {
        support::missing("Kannel (apt-get install kannel)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path().to_path_buf();

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
        .attach(HANDSET, provisioning_support::IMSI, "primary")
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

    let parts = async {
        let h = handle.clone();
        wait_for("bearerbox to bind", Duration::from_secs(20), async || {
            h.with_quiet(|s, _| s.take_events())
                .into_iter()
                .any(|(_, e)| matches!(e, Event::Bound { ref system_id, .. } if system_id == "kannel"))
                .then_some(())
        })
        .await;
        smsbox = Some(spawn_box(SMSBOX, &conf, &dir, "smsbox"));
        let sendsms = ports.sendsms;
        wait_for("smsbox sendsms port", Duration::from_secs(20), async || {
            TcpStream::connect(("127.0.0.1", sendsms)).await.ok().map(|_| ())
        })
        .await;
        let doc = cp_xml();
        let mut req = format!(
            "POST /cgi-bin/sendota HTTP/1.0\r\nHost: 127.0.0.1\r\n\
             Content-Type: text/vnd.wap.connectivity-xml\r\n\
             X-Kannel-Username: tester\r\nX-Kannel-Password: foobar\r\n\
             X-Kannel-To: {HANDSET}\r\nX-Kannel-From: 12345\r\n\
             X-Kannel-SEC: USERPIN\r\nX-Kannel-PIN: 1234\r\n\
             Content-Length: {}\r\n\r\n",
            doc.len()
        )
        .into_bytes();
        req.extend_from_slice(doc.as_bytes());
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
        parts
    }
    .await;

    let _ = http(ports.admin, b"GET /shutdown?password=bar HTTP/1.0\r\n\r\n").await;
    if tokio::time::timeout(Duration::from_secs(15), bearerbox.wait())
        .await
        .is_err()
    {
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

    assert!(
        parts.len() >= 2,
        "Kannel segmented the push: {} part(s)\n{}",
        parts.len(),
        logs(&dir)
    );
    eprintln!(
        "Kannel sendota: {} segments, first UDH {:02X?}",
        parts.len(),
        parts[0].sm.udh
    );

    // The right PIN: reassembled from reverse order, MAC verified, settings applied.
    let mut cfg = provisioning_support::config();
    cfg.user_pin = Some(zeroize::Zeroizing::new("1234".to_owned()));
    let mut c = ProvisioningClient::new(cfg);
    let mut rep = RecordingReporter::default();
    let mut out = Vec::new();
    for (i, mt) in parts.iter().rev().enumerate() {
        out.extend(c.on_short_message(&mt.sm, i as u64, &mut rep));
    }
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(
        out[0].outcome,
        Outcome::Configured {
            apns: vec!["mms.imeitrack".into()]
        }
    );
    assert_eq!(out[0].to, "12345");
    let e = c.store().find_apn("mms.imeitrack").unwrap();
    assert_eq!(e.napid, "MMSNAP");
    assert_eq!(e.name.as_deref(), Some("Example APN for MMS"));
    assert_eq!(e.settings.username.as_deref(), Some("PAPuser"));
    assert_eq!(e.settings.password.as_deref(), Some("secret"));
    assert_eq!(e.settings.mmsc.as_deref(), Some(MMSC));

    // A wrong PIN fails Kannel's MAC; nothing is applied.
    let mut cfg = provisioning_support::config();
    cfg.user_pin = Some(zeroize::Zeroizing::new("9999".to_owned()));
    let mut c = ProvisioningClient::new(cfg);
    let mut out = Vec::new();
    for mt in &parts {
        out.extend(c.on_short_message(&mt.sm, 0, &mut rep));
    }
    assert_eq!(out[0].reason(), Some(&RejectReason::BadMac));
    assert!(c.store().is_empty());
}
