//! The manufacturer's MMSC stub over loopback (port 0), driven by a raw HTTP/1.1 client
//! so that malformed HTTP can be sent too. The m-send-req vectors are hand-built here
//! (provisioning-stub must not depend on handset-sim); the handset's own MMS app is run
//! against this MMSC in `scenarios/tests/world_e2e.rs`.

use std::time::Duration;

use provisioning_stub::manufacturer::mmsc::{
    self, MMS_CONTENT_TYPE, MmsVersion, MmscConfig, MmscStats, ResponseStatus, SendConf,
};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// m-send-req, OMA-TS-MMS_ENC-V1_3 §6.1.1, byte for byte what handset-sim's
/// `m_send_req("T1", "+447700900999", "hello")` emits: 8C 80 (m-send-req) | 98 "T1" 00 |
/// 8D 90 (1.0) | 97 "+447700900999/TYPE=PLMN" 00 | 84 83 (text/plain) | "hello".
/// tshark 4.0.17's MMSE dissector decodes it as m-send-req, TID T1, To +447700900999/TYPE=PLMN.
const SEND_REQ: &[u8] = b"\x8C\x80\x98T1\x00\x8D\x90\x97+447700900999/TYPE=PLMN\x00\x84\x83hello";

/// The stub's answer to [`SEND_REQ`] (§6.1.2): 8C 81 (m-send-conf) | 98 "T1" 00 | 8D 90 |
/// 92 80 (Response-Status Ok) | 8B "imtc-mms-1" 00. tshark: "Response-Status: Ok (0x80)".
const SEND_CONF_OK: &[u8] = b"\x8C\x81\x98T1\x00\x8D\x90\x92\x80\x8Bimtc-mms-1\x00";

/// Malformed m-send-req: no To/Cc/Bcc (§6.1.1 requires a recipient), version 1.0.
const SEND_REQ_NO_RECIPIENT: &[u8] = b"\x8C\x80\x98T2\x00\x8D\x90\x84\x83hello";

/// Malformed m-send-req, version 1.3, truncated inside the To value (no NUL).
const SEND_REQ_TRUNCATED_13: &[u8] = b"\x8C\x80\x98T3\x00\x8D\x93\x97+4477";

struct Running {
    addr: String,
    stats: MmscStats,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Running {
    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(Duration::from_secs(5), &mut self.task)
            .await
            .expect("MMSC stops within 5 s after shutdown")
            .unwrap();
    }
}

async fn start(config: MmscConfig) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let stats = config.stats.clone();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(mmsc::run(listener, config, async {
        let _ = stopped.await;
    }));
    Running {
        addr,
        stats,
        stop: Some(stop),
        task,
    }
}

struct Answer {
    status: u16,
    content_type: Option<String>,
    body: Vec<u8>,
}

/// Sends `raw` on a fresh connection, reads to EOF (the requests say `Connection: close`).
async fn exchange(addr: &str, raw: &[u8]) -> Answer {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(raw).await.unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut buf))
        .await
        .expect("answer within 5 s")
        .unwrap();
    let end = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("HTTP head");
    let head = String::from_utf8(buf[..end].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap().split(' ').nth(1).unwrap();
    let mut content_type = None;
    let mut len = None;
    for l in lines {
        let (k, v) = l.split_once(':').unwrap();
        match k.to_ascii_lowercase().as_str() {
            "content-type" => content_type = Some(v.trim().to_owned()),
            "content-length" => len = Some(v.trim().parse::<usize>().unwrap()),
            _ => {}
        }
    }
    let body = buf[end + 4..].to_vec();
    if let Some(n) = len {
        assert_eq!(body.len(), n, "Content-Length matches the body");
    }
    Answer {
        status: status.parse().unwrap(),
        content_type,
        body,
    }
}

fn post(path: &str, content_type: &str, body: &[u8]) -> Vec<u8> {
    let mut v = format!(
        "POST {path} HTTP/1.1\r\nHost: mmsc\r\nContent-Type: {content_type}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    v.extend_from_slice(body);
    v
}

fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: mmsc\r\nConnection: close\r\n\r\n").into_bytes()
}

#[tokio::test]
async fn links_mmsc_send_req_gets_send_conf_ok_and_is_counted() {
    let server = start(MmscConfig::default()).await;
    let a = exchange(&server.addr, &post("/mms", MMS_CONTENT_TYPE, SEND_REQ)).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.content_type.as_deref(), Some(MMS_CONTENT_TYPE));
    assert_eq!(a.body, SEND_CONF_OK);
    let conf = SendConf::parse(&a.body).unwrap();
    assert_eq!(conf.transaction_id, b"T1");
    assert_eq!(conf.version, MmsVersion::V1_0);
    assert!(conf.status.is_ok());
    assert_eq!(server.stats.accepted(), 1);
    assert_eq!(server.stats.rejected(), 0);

    // Content-Type parameters are tolerated; the second message gets the next id.
    let a = exchange(
        &server.addr,
        &post(
            "/mms",
            "Application/Vnd.Wap.Mms-Message; charset=x",
            SEND_REQ,
        ),
    )
    .await;
    assert_eq!(
        SendConf::parse(&a.body).unwrap().message_id,
        Some(&b"imtc-mms-2"[..])
    );

    // Absolute-form request target, as a handset sends it through the APN's WAP proxy.
    let a = exchange(
        &server.addr,
        &post("http://mmsc.example:8080/mms", MMS_CONTENT_TYPE, SEND_REQ),
    )
    .await;
    assert_eq!(
        SendConf::parse(&a.body).unwrap().message_id,
        Some(&b"imtc-mms-3"[..])
    );

    let a = exchange(&server.addr, &get("/mms/stats")).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.content_type.as_deref(), Some("application/json"));
    assert_eq!(a.body, br#"{"accepted":3,"rejected":0}"#);
    server.stop().await;
}

#[tokio::test]
async fn links_mmsc_malformed_mms_gets_an_error_send_conf() {
    let server = start(MmscConfig::default()).await;

    // 1.0 request without a recipient: Error-message-format-corrupt (0x83), same TID.
    let a = exchange(
        &server.addr,
        &post("/mms", MMS_CONTENT_TYPE, SEND_REQ_NO_RECIPIENT),
    )
    .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body, b"\x8C\x81\x98T2\x00\x8D\x90\x92\x83");
    let conf = SendConf::parse(&a.body).unwrap();
    assert_eq!(conf.status, ResponseStatus::ERROR_MESSAGE_FORMAT_CORRUPT);
    assert_eq!(conf.message_id, None);

    // 1.3 request truncated: Error-permanent-message-format-corrupt (0xE2), answered in 1.3.
    let a = exchange(
        &server.addr,
        &post("/mms", MMS_CONTENT_TYPE, SEND_REQ_TRUNCATED_13),
    )
    .await;
    let conf = SendConf::parse(&a.body).unwrap();
    assert_eq!(
        (conf.transaction_id, conf.version, conf.status),
        (
            &b"T3"[..],
            MmsVersion::V1_3,
            ResponseStatus::ERROR_PERMANENT_MESSAGE_FORMAT_CORRUPT
        )
    );

    // Not an MMS PDU at all (no X-Mms-Message-Type first): HTTP 400.
    let a = exchange(&server.addr, &post("/mms", MMS_CONTENT_TYPE, b"hello")).await;
    assert_eq!(a.status, 400);
    let a = exchange(&server.addr, &post("/mms", MMS_CONTENT_TYPE, b"")).await;
    assert_eq!(a.status, 400);

    assert_eq!(server.stats.accepted(), 0);
    assert_eq!(server.stats.rejected(), 4);
    // The server still works.
    let a = exchange(&server.addr, &post("/mms", MMS_CONTENT_TYPE, SEND_REQ)).await;
    assert!(SendConf::parse(&a.body).unwrap().status.is_ok());
    assert_eq!(server.stats.accepted(), 1);
    server.stop().await;
}

#[tokio::test]
async fn links_mmsc_http_level_refusals() {
    let config = MmscConfig {
        max_body: 64,
        ..MmscConfig::default()
    };
    let server = start(config).await;
    // Wrong media type: 415.
    let a = exchange(&server.addr, &post("/mms", "text/plain", SEND_REQ)).await;
    assert_eq!(a.status, 415);
    // Body over max_body: 413.
    let big = [SEND_REQ, &[b'x'; 100][..]].concat();
    let a = exchange(&server.addr, &post("/mms", MMS_CONTENT_TYPE, &big)).await;
    assert_eq!(a.status, 413);
    // Wrong method, wrong path.
    assert_eq!(exchange(&server.addr, &get("/mms")).await.status, 405);
    assert_eq!(
        exchange(&server.addr, &post("/other", MMS_CONTENT_TYPE, SEND_REQ))
            .await
            .status,
        404
    );
    // Malformed HTTP: hyper answers 400 and closes.
    assert_eq!(
        exchange(&server.addr, b"\x8C\x80 garbage\r\n\r\n")
            .await
            .status,
        400
    );
    assert_eq!(server.stats.accepted(), 0);
    assert_eq!(server.stats.rejected(), 2);
    server.stop().await;
}

#[tokio::test]
async fn links_mmsc_configurable_path_and_concurrent_senders() {
    let config = MmscConfig {
        path: "/mmsc/send".into(),
        ..MmscConfig::default()
    };
    let server = start(config).await;
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let addr = server.addr.clone();
        tasks.push(tokio::spawn(async move {
            let a = exchange(&addr, &post("/mmsc/send", MMS_CONTENT_TYPE, SEND_REQ)).await;
            let conf = SendConf::parse(&a.body).unwrap();
            assert!(conf.status.is_ok());
            conf.message_id.unwrap().to_vec()
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.unwrap());
    }
    assert_eq!(server.stats.accepted(), 16);
    let a = exchange(&server.addr, &get("/mmsc/send/stats")).await;
    assert_eq!(a.body, br#"{"accepted":16,"rejected":0}"#);
    // The default path is not served.
    assert_eq!(
        exchange(&server.addr, &post("/mms", MMS_CONTENT_TYPE, SEND_REQ))
            .await
            .status,
        404
    );
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 16, "message ids are unique");
    server.stop().await;
}

#[tokio::test]
async fn links_mmsc_shutdown_stops_accepting() {
    let server = start(MmscConfig::default()).await;
    let addr = server.addr.clone();
    // An idle keep-alive connection must not hold shutdown up.
    let _idle = TcpStream::connect(&addr).await.unwrap();
    server.stop().await;
    assert!(TcpStream::connect(&addr).await.is_err());
}
