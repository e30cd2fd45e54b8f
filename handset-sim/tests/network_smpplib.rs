//! The SMPP server against an independent ESME: Python `smpplib` 2.2.4 (PyPI).
//!
//! One script binds with a wrong password (refused: ESME_RINVPASWD), binds as a
//! transceiver for `4321`, receives a stored MO SMS as `deliver_sm`, submits a single
//! message asking for a receipt and a two-part concatenated message with a UDH,
//! sends enquire_link, receives the delivery receipt, and unbinds. Meanwhile the test
//! plays the handset: it drains its MT queue.

mod support;

use std::process::Stdio;
use std::time::Duration;

use handset_sim::network::*;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

const HANDSET: &str = "447700900123";

const SCRIPT: &str = r#"
import json, sys, time, binascii, socket
import smpplib.client, smpplib.smpp, smpplib.exceptions, smpplib.consts

port = int(sys.argv[1])
out = {"delivered": [], "receipts": [], "submit_resp": [], "enquire_link_resp": False}
c = smpplib.client.Client("127.0.0.1", port, timeout=1, allow_unknown_opt_params=True)
c.connect()
try:
    c.bind_transceiver(system_id="stub", password="wrong")
    out["wrong_password"] = "accepted"
except smpplib.exceptions.PDUError as e:
    out["wrong_password"] = e.args[1]
resp = c.bind_transceiver(system_id="stub", password="secret", address_range="4321")
out["bind_system_id"] = resp.system_id.decode()

def received(pdu):
    rec = {"source": pdu.source_addr.decode(), "dest": pdu.destination_addr.decode(),
           "esm_class": pdu.esm_class, "data_coding": pdu.data_coding,
           "sm": binascii.hexlify(pdu.short_message).decode()}
    (out["receipts"] if pdu.esm_class & 0x3C == 0x04 else out["delivered"]).append(rec)
def sent(pdu):
    out["submit_resp"].append({"status": pdu.status, "id": pdu.message_id.decode()})
c.set_message_received_handler(received)
c.set_message_sent_handler(sent)

c.send_message(source_addr_ton=0, source_addr="4321", dest_addr_ton=1, dest_addr_npi=1,
               destination_addr="447700900123", short_message=b"hello",
               data_coding=0, esm_class=0, registered_delivery=1)
for part in (1, 2):
    udh = bytes([5, 0, 3, 0x42, 2, part])
    c.send_message(source_addr_ton=0, source_addr="4321", dest_addr_ton=1, dest_addr_npi=1,
                   destination_addr="447700900123", short_message=udh + bytes([part] * 10),
                   data_coding=4, esm_class=0x40)
c.send_pdu(smpplib.smpp.make_pdu("enquire_link", client=c))
deadline = time.time() + 15
while time.time() < deadline:
    if (len(out["submit_resp"]) == 3 and out["delivered"] and out["receipts"]
            and out["enquire_link_resp"]):
        break
    try:
        pdu = c.read_pdu()
    except socket.timeout:
        continue
    if pdu.command == "enquire_link_resp":
        out["enquire_link_resp"] = True
    elif pdu.command == "submit_sm_resp":
        sent(pdu)
    elif pdu.command == "deliver_sm":
        c._message_received(pdu)
out["unbind"] = c.unbind().command
c.disconnect()
print("RESULT " + json.dumps(out))
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smpplib_esme_end_to_end() {
    let Some(python) = support::smpplib_python() else {
        support::missing("python3 with smpplib (pip install smpplib)");
        return;
    };
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
        accounts: vec![EsmeAccount::new("stub", "secret")],
        ..SmscConfig::default()
    };
    let mut smsc = Smsc::new(config, w, 1);
    smsc.networks
        .attach(HANDSET, "001010123456789", "primary")
        .unwrap();
    // An MO registration SMS sent before any ESME is bound: stored, then forwarded.
    let mo = ShortMessage::new("x", "4321", 0, 4, vec![0x49, 0x54, 0x01]);
    assert_eq!(
        smsc.submit_mo(HANDSET, 1, mo, 0),
        MoOutcome::RpAck { message_ref: 1 }
    );
    let handle = SmscHandle::new(smsc, Clock::wall());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(smpp::run(listener, handle.clone(), async {
        let _ = stop_rx.await;
    }));

    let mut child = tokio::process::Command::new(&python)
        .arg("-")
        .arg(port.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(SCRIPT.as_bytes())
        .await
        .unwrap();

    // Play the handset while the ESME runs.
    let h = handle.clone();
    let handset = tokio::spawn(async move {
        let mut got = Vec::new();
        for _ in 0..400 {
            while let Some(mt) = h.with(|s, now| s.poll_mt(HANDSET, now)) {
                got.push(mt);
            }
            if got.len() == 3 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        got
    });

    let output = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("smpplib script did not finish in 30 s")
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "script failed:\n{stdout}\n{stderr}"
    );
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .expect("no RESULT line");
    let mts = handset.await.unwrap();
    let _ = stop_tx.send(());
    server.await.unwrap().unwrap();

    // Checked on the JSON text to keep the test free of a JSON dependency.
    let expect = |needle: &str| assert!(line.contains(needle), "missing {needle} in {line}");
    expect(r#""wrong_password": 14"#); // ESME_RINVPASWD
    expect(r#""bind_system_id": "imeitrack-smsc""#);
    expect(r#""enquire_link_resp": true"#);
    expect(r#""unbind": "unbind_resp""#);
    expect(
        r#""delivered": [{"source": "447700900123", "dest": "4321", "esm_class": 0, "data_coding": 4, "sm": "495401"}]"#,
    );
    assert_eq!(
        line.matches(r#""status": 0"#).count(),
        3,
        "three submit_sm_resp OK: {line}"
    );
    // Receipt for message id 2 (the MO took id 1), from the handset back to 4321.
    expect(r#""receipts": [{"source": "447700900123", "dest": "4321", "esm_class": 4"#);
    let receipt_hex = line
        .split(r#""esm_class": 4, "data_coding": 0, "sm": ""#)
        .nth(1)
        .unwrap();
    let receipt_hex = &receipt_hex[..receipt_hex.find('"').unwrap()];
    let receipt = String::from_utf8(hex::decode(receipt_hex).unwrap()).unwrap();
    assert!(
        receipt.starts_with("id:2 sub:001 dlvrd:001 submit date:"),
        "{receipt}"
    );
    assert!(
        receipt.ends_with(" stat:DELIVRD err:000 text:hello"),
        "{receipt}"
    );

    // The handset got all three: the single message and both concatenated parts.
    assert_eq!(mts.len(), 3, "{mts:?}");
    assert_eq!(mts[0].sm.user_data, b"hello");
    assert_eq!(mts[0].sm.udh, None);
    for (i, mt) in mts[1..].iter().enumerate() {
        let part = i as u8 + 1;
        assert_eq!(mt.sm.udh_ie(0x00), Some(&[0x42, 2, part][..]));
        assert_eq!(mt.sm.user_data, vec![part; 10]);
        assert_eq!(mt.sm.dcs, 4);
        assert_eq!(mt.sm.source, "4321");
    }
}
