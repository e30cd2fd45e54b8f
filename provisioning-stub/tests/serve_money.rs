//! The money after the download confirmation (claims 4, 5, 7): `serve` flow → report →
//! fee request → the operator's payment recorded through the admin port
//! (`POST /payments`), through the CLI (`record-payment`) and by two store handles at
//! once → exactly one `payment` and one `manufacturer_share` per issuance → `report`
//! (table and CSV) shows them.

mod serve_support;

use std::time::Duration;

use provisioning_stub::billing::LedgerKind;
use provisioning_stub::config::StubConfig;
use provisioning_stub::confirmation::ReportResult;
use provisioning_stub::payments::{PaymentOutcome, PaymentRequest, record_payment};
use provisioning_stub::store::AnyStore;
use serve_support::*;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

async fn http_post(addr: &str, path: &str, body: &str) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(
        format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    let status = out[9..12].parse().unwrap();
    let body = out.split("\r\n\r\n").nth(1).unwrap_or("").to_owned();
    (status, body)
}

fn cli(world: &World, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_provisioning-stub"))
        .arg("--database")
        .arg(&world.db)
        .args(args)
        .output()
        .unwrap()
}

fn ledger_count(world: &World, issuance: i64, kind: &str) -> i64 {
    world.count(&format!(
        "SELECT COUNT(*) FROM ledger WHERE issuance_id = {issuance} AND kind = '{kind}'"
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payments_are_recorded_once_and_reported() {
    let (smsc, _server, port) = start_smsc().await;
    let world = World::new(4, port, None).await;
    let (metrics, admin, stop, task) = start_serve(&world).await;
    smsc.bound(Duration::from_secs(10)).await;

    // Four Acme A1 handsets (depreciated, local key): register, push, report configured.
    for n in 1..=4 {
        let reg = registration(&card(n), 1, IMEI_ACME_A1);
        assert_eq!(smsc.deliver(&msisdn(n), &reg).await, Ok(0));
        smsc.push_for(&msisdn(n), Duration::from_secs(10)).await;
    }
    wait_for(|| world.count("SELECT COUNT(*) FROM deliveries") == 4).await;
    for n in 1..=4 {
        let r = report(&card(n), 1, 0, ReportResult::CONFIGURED);
        assert_eq!(smsc.deliver(&msisdn(n), &r).await, Ok(0));
    }
    assert_eq!(
        world.count("SELECT COUNT(*) FROM ledger WHERE kind = 'fee_request'"),
        4
    );
    assert_eq!(
        world.count("SELECT COUNT(*) FROM ledger WHERE kind = 'payment'"),
        0
    );
    let ids: Vec<i64> = {
        let c = world.sql();
        let mut st = c
            .prepare(
                "SELECT issuance_id FROM ledger WHERE kind = 'fee_request' ORDER BY issuance_id",
            )
            .unwrap();
        st.query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    assert_eq!(ids.len(), 4);

    // 1. Admin port: POST /payments → 201 with payment 199 and share 59 (30 % rounded
    //    down); again → 200 already_recorded; nothing new in the ledger.
    let body = format!(r#"{{"issuance_id": {}, "amount_minor": 199}}"#, ids[0]);
    let (status, answer) = http_post(&admin, "/payments", &body).await;
    assert_eq!(status, 201, "{answer}");
    let json: serde_json::Value = serde_json::from_str(answer.trim()).unwrap();
    assert_eq!(json["status"], "recorded");
    let entries = json["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["kind"], "payment");
    assert_eq!(entries[0]["amount_minor"], 199);
    assert_eq!(entries[1]["kind"], "manufacturer_share");
    assert_eq!(entries[1]["party"], "Acme Mobile");
    assert_eq!(entries[1]["amount_minor"], 59);
    let (status, answer) = http_post(&admin, "/payments", &body).await;
    assert_eq!(status, 200, "{answer}");
    assert!(
        answer.contains(r#""status":"already_recorded""#),
        "{answer}"
    );
    assert_eq!(ledger_count(&world, ids[0], "payment"), 1);
    assert_eq!(ledger_count(&world, ids[0], "manufacturer_share"), 1);
    // Errors: wrong amount, unknown issuance, bad JSON — nothing written.
    let (status, _) = http_post(
        &admin,
        "/payments",
        &format!(r#"{{"issuance_id": {}, "amount_minor": 100}}"#, ids[1]),
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = http_post(&admin, "/payments", r#"{"issuance_id": 999999}"#).await;
    assert_eq!(status, 404);
    let (status, _) = http_post(&admin, "/payments", "{nope").await;
    assert_eq!(status, 400);
    assert_eq!(ledger_count(&world, ids[1], "payment"), 0);
    // By fee request id, with a payment time.
    let fee_request_id: i64 = world.count(&format!(
        "SELECT id FROM ledger WHERE issuance_id = {} AND kind = 'fee_request'",
        ids[1]
    ));
    let (status, answer) = http_post(
        &admin,
        "/payments",
        &format!(r#"{{"fee_request_id": {fee_request_id}}}"#),
    )
    .await;
    assert_eq!(status, 201, "{answer}");

    // 2. Two independent store handles (as two stub instances) record the same payment
    //    at the same moment: one records, the other finds it recorded.
    let config = StubConfig::load(&world.config).unwrap();
    let a = AnyStore::open(world.db.to_str().unwrap()).await.unwrap();
    let b = AnyStore::open(world.db.to_str().unwrap()).await.unwrap();
    let req = PaymentRequest {
        issuance_id: Some(ids[2]),
        ..PaymentRequest::default()
    };
    let (ra, rb) = tokio::join!(
        record_payment(&a, &config.billing, &req),
        record_payment(&b, &config.billing, &req)
    );
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    let recorded = [&ra, &rb]
        .iter()
        .filter(|o| matches!(o, PaymentOutcome::Recorded(_)))
        .count();
    assert_eq!(recorded, 1, "{ra:?} / {rb:?}");
    for o in [&ra, &rb] {
        let kinds: Vec<LedgerKind> = o.entries().iter().map(|e| e.kind).collect();
        assert_eq!(kinds, [LedgerKind::Payment, LedgerKind::ManufacturerShare]);
    }
    assert_eq!(ledger_count(&world, ids[2], "payment"), 1);
    assert_eq!(ledger_count(&world, ids[2], "manufacturer_share"), 1);

    // 3. The command line, twice.
    let config_path = world.config.to_str().unwrap().to_owned();
    let issuance = ids[3].to_string();
    let out = cli(
        &world,
        &[
            "record-payment",
            "--config",
            &config_path,
            "--issuance",
            &issuance,
            "--at",
            "2026-01-02T03:04:05Z",
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("payment recorded"), "{text}");
    assert!(text.contains("manufacturer_share"), "{text}");
    let out = cli(
        &world,
        &[
            "record-payment",
            "--config",
            &config_path,
            "--issuance",
            &issuance,
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(text.contains("payment already recorded"), "{text}");
    let out = cli(
        &world,
        &[
            "record-payment",
            "--config",
            &config_path,
            "--issuance",
            &issuance,
            "--amount",
            "5",
        ],
    );
    assert!(!out.status.success(), "wrong amount refused");
    assert_eq!(ledger_count(&world, ids[3], "payment"), 1);

    // Exactly once everywhere: 4 payments, 4 shares, no (issuance, kind) twice.
    assert_eq!(
        world.count("SELECT COUNT(*) FROM ledger WHERE kind = 'payment'"),
        4
    );
    assert_eq!(
        world.count("SELECT COUNT(*) FROM ledger WHERE kind = 'manufacturer_share'"),
        4
    );
    assert_eq!(
        world.count(
            "SELECT COUNT(*) FROM (SELECT issuance_id, kind FROM ledger
             GROUP BY issuance_id, kind HAVING COUNT(*) > 1)"
        ),
        0
    );
    assert_eq!(metrics.get("imeitrack_payments_total", "recorded"), 2);
    assert_eq!(metrics.get("imeitrack_ledger_entries_total", "payment"), 2);

    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("serve stops")
        .unwrap();

    // 4. The report: three payments today, one on 2026-01-02 (paid before it was
    //    requested, as an operator's back-dated bank value date may be).
    let today = provisioning_stub::devices::Date::of(provisioning_stub::store::Timestamp::now())
        .to_string();
    let out = cli(
        &world,
        &["report", "--from", &today, "--to", &today, "--csv"],
    );
    let csv = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{csv}");
    assert!(
        csv.contains("operator,mvno-fr,EUR,4,796,3,597,199,,,"),
        "operator row:\n{csv}"
    );
    assert!(
        csv.contains("manufacturer,Acme Mobile,EUR,,,,,,4,3,177"),
        "manufacturer row:\n{csv}"
    );
    let out = cli(
        &world,
        &[
            "report",
            "--from",
            "2026-01-02",
            "--to",
            "2026-01-02",
            "--csv",
        ],
    );
    let csv = String::from_utf8_lossy(&out.stdout);
    assert!(
        csv.contains("operator,mvno-fr,EUR,0,0,1,199,-199,,,"),
        "back-dated payment:\n{csv}"
    );
    let out = cli(&world, &["report", "--from", &today, "--to", &today]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(
        table.contains("mvno-fr") && table.contains("597"),
        "{table}"
    );
    assert!(
        table.contains("Acme Mobile") && table.contains("177"),
        "{table}"
    );
}
