//! The `provisioning-stub` binary's `import-tac`, `import-cards` and `report` commands on
//! a SQLite file, run as a user would.

use std::path::Path;
use std::process::{Command, Output};

use provisioning_stub::billing::{
    self, BillingConfig, LedgerKind, ManufacturerTerms, OperatorTerms, Share,
};
use provisioning_stub::devices::Date;
use provisioning_stub::inventory::Iccid;
use provisioning_stub::store::{
    KeySource, NewIssuance, NewRegistration, RegistrationOutcome, SqliteStore, Store, Timestamp,
    Verification,
};

fn stub(db: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_provisioning-stub"))
        .arg("--database")
        .arg(db)
        .args(args)
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn imports_and_report() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("stub.db");
    let tac = dir.path().join("tac.csv");
    std::fs::write(
        &tac,
        "tac,manufacturer,make,model,release_date,camera,screen,bands\n\
         49015420,Acme,Acme,A1,2019-05-01,yes,6.1in,GSM900;LTE-B20\n\
         35693803,Bolt,,B2,,,,\n",
    )
    .unwrap();
    let out = stub(&db, &["import-tac", tac.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("2 device models imported (2 new, 0 updated)"));

    let cards = dir.path().join("cards.csv");
    std::fs::write(
        &cards,
        "iccid,imsi,msisdn,key\n\
         8944500100000000012,208011000000001,+33600000001,000102030405060708090a0b0c0d0e0f\n",
    )
    .unwrap();
    let out = stub(&db, &["import-cards", cards.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("1 cards imported (1 new, 0 updated)"));

    // A bad file: exit status 1, the error names file, line, column and field, and
    // nothing is imported.
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "iccid,imsi,msisdn,key\n\
         8944500100000000020,208011000000002,,00\n",
    )
    .unwrap();
    let out = stub(&db, &["import-cards", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!("{}:2: column 4 (key)", bad.display())),
        "{err}"
    );

    // Seed one paid key issuance through the library, then report.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let s = SqliteStore::open(&db).await.unwrap();
        assert!(
            s.card(&Iccid::parse("8944500100000000020").unwrap())
                .await
                .unwrap()
                .is_none()
        );
        let RegistrationOutcome::Accepted(reg) = s
            .record_registration(&NewRegistration {
                received_at: Timestamp(0),
                source_addr: "33600000001".into(),
                raw: vec![1, 2, 3],
                imei: Some("490154203237518".into()),
                verification: Verification::Verified {
                    iccid: Iccid::parse("8944500100000000012").unwrap(),
                    counter: 1,
                },
            })
            .await
            .unwrap()
        else {
            panic!()
        };
        let at = Timestamp(Date::parse("2026-11-15").unwrap().start().0);
        let iss = s
            .record_issuance(&NewIssuance {
                registration_id: Some(reg),
                iccid: "8944500100000000012".into(),
                imei: "490154203237518".into(),
                operator: Some("mvno-fr".into()),
                manufacturer: Some("Acme".into()),
                source: KeySource::Local,
                issued_at: at,
            })
            .await
            .unwrap();
        let cfg = BillingConfig {
            operators: vec![OperatorTerms {
                operator: "mvno-fr".into(),
                fee_minor: 250,
                currency: "EUR".into(),
            }],
            manufacturers: vec![ManufacturerTerms {
                manufacturer: "Acme".into(),
                share: Share::BasisPoints(2_000),
            }],
        };
        let e = billing::on_download_confirmed(&cfg, &iss, at).unwrap();
        let c = s.confirm_download(iss.id, at, &e).await.unwrap();
        let fee = c
            .inserted
            .iter()
            .find(|e| e.kind == LedgerKind::FeeRequest)
            .unwrap();
        let p = billing::on_payment(&cfg, &iss, fee, at).unwrap();
        s.record_ledger(&p).await.unwrap();
    });

    let out = stub(
        &db,
        &[
            "report",
            "--from",
            "2026-11-01",
            "--to",
            "2026-11-30",
            "--csv",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "party_kind,party,currency,fee_requests,requested_minor,payments,paid_minor,outstanding_minor,download_confirmations,shares,share_minor\n\
         operator,mvno-fr,EUR,1,250,1,250,0,,,\n\
         manufacturer,Acme,EUR,,,,,,1,1,50\n"
    );
    let out = stub(
        &db,
        &["report", "--from", "2026-11-01", "--to", "2026-11-30"],
    );
    let table = text(&out.stdout);
    assert!(
        table.contains("mvno-fr   EUR                  1        250         1   250            0"),
        "{table}"
    );
    // Outside the period: nothing.
    let out = stub(
        &db,
        &["report", "--from", "2026-12-01", "--to", "2026-12-31"],
    );
    assert_eq!(text(&out.stdout).matches("(none)").count(), 2);
    // Bad arguments.
    let out = stub(
        &db,
        &["report", "--from", "2026-11-31", "--to", "2026-12-01"],
    );
    assert!(!out.status.success());
    let out = stub(
        &db,
        &["report", "--from", "2026-12-02", "--to", "2026-12-01"],
    );
    assert!(text(&out.stderr).contains("is after"));
}
