//! Issue 5 rejections, one test each: bad MAC, replayed counter, IMEI with a wrong
//! (non-zero) check digit, unknown card, manufacturer unreachable, manufacturer
//! certificate wrong. Each is recorded with a reason, no key leaves (no issuance, no
//! `submit_sm` to the handset) and no money moves (no ledger entry, also after a
//! "configured" report for that registration).

mod serve_support;

use std::time::Duration;

use provisioning_stub::confirmation::ReportResult;
use serve_support::*;

struct Case {
    smsc: std::sync::Arc<Smsc>,
    _server: smpp34::SmppServer,
    world: World,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
    _keys: tempfile::TempDir,
    _bolt_stop: Option<tokio::sync::oneshot::Sender<()>>,
}

/// `bolt`: None = no Bolt key source; Some(false) = Bolt configured but its server is
/// not running (unreachable); Some(true) = running, but the stub trusts another CA.
async fn setup(bolt: Option<bool>) -> Case {
    let (smsc, server, port) = start_smsc().await;
    let keys = tempfile::tempdir().unwrap();
    let (m, bolt_stop) = match bolt {
        None => (None, None),
        Some(wrong_ca) => {
            let (m, _signer, stop) = start_bolt(keys.path(), wrong_ca).await;
            if !wrong_ca {
                // Unreachable: stop the server and point at its (now closed) port.
                let _ = stop.send(());
                tokio::time::sleep(Duration::from_millis(100)).await;
                (Some(m), None)
            } else {
                (Some(m), Some(stop))
            }
        }
    };
    let world = World::new(3, port, m.as_ref()).await;
    let (_metrics, _admin, stop, task) = start_serve(&world).await;
    smsc.bound(Duration::from_secs(10)).await;
    Case {
        smsc,
        _server: server,
        world,
        stop,
        task,
        _keys: keys,
        _bolt_stop: bolt_stop,
    }
}

impl Case {
    /// No key, no push, no money for card `n` — also after it claims "configured".
    async fn nothing_leaves(&self, n: u32, counter: u64) {
        let r = report(&card(n), counter, 1, ReportResult::CONFIGURED);
        assert_eq!(self.smsc.deliver(&msisdn(n), &r).await, Ok(0));
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(
            self.world.count(&format!(
                "SELECT COUNT(*) FROM key_issuances WHERE iccid = '{}'",
                card(n).iccid.as_str()
            )),
            0,
            "no key issued"
        );
        assert!(self.smsc.submits_to(&msisdn(n)).is_empty(), "nothing sent");
        assert_eq!(
            self.world.count("SELECT COUNT(*) FROM ledger"),
            0,
            "no money"
        );
        assert_eq!(self.world.count("SELECT COUNT(*) FROM confirmations"), 0);
    }

    fn reasons(&self) -> Vec<(String, Option<String>)> {
        let c = self.world.sql();
        let mut st = c
            .prepare("SELECT outcome, reason FROM registrations ORDER BY id")
            .unwrap();
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    fn failures(&self) -> Vec<(String, String)> {
        let c = self.world.sql();
        let mut st = c
            .prepare("SELECT stage, reason FROM provisioning_failures ORDER BY id")
            .unwrap();
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .unwrap()
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_mac() {
    let c = setup(None).await;
    let forged = signed_with(&card(1), &[0xEE; 16], 1, IMEI_ACME_A1);
    // Acknowledged (stored, no error oracle), rejected.
    assert_eq!(c.smsc.deliver(&msisdn(1), &forged).await, Ok(0));
    assert_eq!(
        c.reasons(),
        vec![("rejected".into(), Some("bad MAC".into()))]
    );
    c.nothing_leaves(1, 1).await;
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replayed_counter() {
    let c = setup(None).await;
    // Standard device so the first one is served; then the same counter with another
    // IMEI (someone replaying the card's counter) and an older counter.
    let first = registration(&card(3), 7, IMEI_CURRENT);
    assert_eq!(c.smsc.deliver(&msisdn(3), &first).await, Ok(0));
    c.smsc.push_for(&msisdn(3), Duration::from_secs(10)).await;
    let pushes = c.smsc.submits_to(&msisdn(3)).len();
    for counter in [7, 6] {
        let replay = registration(&card(3), counter, IMEI_ACME_A1);
        assert_eq!(c.smsc.deliver(&msisdn(3), &replay).await, Ok(0));
    }
    let reasons = c.reasons();
    assert_eq!(reasons[0].0, "accepted");
    for r in &reasons[1..] {
        assert_eq!(r.0, "replay");
        assert_eq!(
            r.1.as_deref(),
            Some(
                format!(
                    "counter {} is not above the last accepted 7",
                    if r == &reasons[1] { 7 } else { 6 }
                )
                .as_str()
            )
        );
    }
    // The SMSC redelivering the very same message is a duplicate, not a replay.
    assert_eq!(c.smsc.deliver(&msisdn(3), &first).await, Ok(0));
    assert_eq!(c.reasons().last().unwrap().0, "duplicate");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        c.smsc.submits_to(&msisdn(3)).len(),
        pushes,
        "no second push"
    );
    assert_eq!(c.world.count("SELECT COUNT(*) FROM key_issuances"), 0);
    assert_eq!(c.world.count("SELECT COUNT(*) FROM ledger"), 0);
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imei_with_wrong_check_digit() {
    let c = setup(None).await;
    // 490154203237518 with check digit 9: signed by the card, refused by the check.
    let mut msg = registration(&card(1), 1, IMEI_ACME_A1);
    msg[39] = (msg[39] & 0x0F) | 0x90;
    assert_eq!(c.smsc.deliver(&msisdn(1), &msg).await, Ok(0));
    assert_eq!(
        c.reasons(),
        vec![(
            "rejected".into(),
            Some("IMEI 490154203237519: check digit wrong (Luhn digit is 8)".into())
        )]
    );
    c.nothing_leaves(1, 1).await;
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_card() {
    let c = setup(None).await;
    let stranger = card(99); // not imported
    let msg = registration(&stranger, 1, IMEI_ACME_A1);
    assert_eq!(c.smsc.deliver(&msisdn(99), &msg).await, Ok(0));
    assert_eq!(
        c.reasons(),
        vec![("rejected".into(), Some("unknown card".into()))]
    );
    assert!(c.smsc.submits_to(&msisdn(99)).is_empty());
    c.nothing_leaves(1, 1).await;
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manufacturer_unreachable() {
    let c = setup(Some(false)).await;
    let msg = registration(&card(2), 1, IMEI_BOLT_B2);
    assert_eq!(c.smsc.deliver(&msisdn(2), &msg).await, Ok(0));
    wait_for(|| !c.failures().is_empty()).await;
    let f = c.failures();
    assert_eq!(f[0].0, "key");
    assert!(f[0].1.starts_with("manufacturer unreachable"), "{f:?}");
    // The registration itself was valid: accepted, its counter used.
    assert_eq!(c.reasons(), vec![("accepted".into(), None)]);
    c.nothing_leaves(2, 1).await;
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manufacturer_certificate_wrong() {
    let c = setup(Some(true)).await;
    let msg = registration(&card(2), 1, IMEI_BOLT_B2);
    assert_eq!(c.smsc.deliver(&msisdn(2), &msg).await, Ok(0));
    wait_for(|| !c.failures().is_empty()).await;
    let f = c.failures();
    assert_eq!(f[0].0, "key");
    assert!(
        f[0].1.starts_with("manufacturer certificate wrong"),
        "{f:?}"
    );
    c.nothing_leaves(2, 1).await;
    c.stop().await;
}
