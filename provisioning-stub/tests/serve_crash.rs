//! Crash test: the real `provisioning-stub serve` is killed with SIGKILL at random
//! moments while an SMSC (smpp34, in this process) pushes registrations and
//! provisioning reports at it, and restarted each time. The SMSC behaves like a real
//! one: a message without `deliver_sm_resp` is delivered again (same bytes) until it
//! is acknowledged. Afterwards: every acknowledged registration is in the database,
//! every acknowledged report of a provisioned key has its confirmation, and no ledger
//! entry is duplicated.
//!
//! `quick_crash_5_kills` runs by default; `full_crash_25_kills` is `#[ignore]`d
//! (`cargo test -p provisioning-stub --test serve_crash -- --ignored --nocapture`).

mod serve_support;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use provisioning_stub::confirmation::ReportResult;
use serve_support::*;

const CARDS: u32 = 60;

#[derive(Default)]
struct Tally {
    /// (card, counter) of acknowledged registrations.
    acked_registrations: Mutex<HashSet<(u32, u64)>>,
    /// (card, counter) of acknowledged "configured" reports sent after the push arrived.
    acked_reports: Mutex<HashSet<(u32, u64)>>,
    redeliveries: AtomicU64,
}

/// Delivers `payload` until the stub acknowledges it (SMSC store-and-forward).
async fn deliver_until_acked(
    smsc: &Smsc,
    n: u32,
    payload: &[u8],
    tally: &Tally,
    stop: &AtomicBool,
) -> bool {
    loop {
        if stop.load(Ordering::SeqCst) {
            return false;
        }
        match smsc.deliver(&msisdn(n), payload).await {
            Ok(0) => return true,
            _ => {
                tally.redeliveries.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// One handset: registers with increasing counters, waits for its push, reports.
async fn handset(smsc: Arc<Smsc>, n: u32, tally: Arc<Tally>, stop: Arc<AtomicBool>) {
    let mut counter = 0;
    while !stop.load(Ordering::SeqCst) {
        counter += 1;
        let before = smsc.submits_to(&msisdn(n)).len();
        let reg = registration(&card(n), counter, IMEI_ACME_A1);
        if !deliver_until_acked(&smsc, n, &reg, &tally, &stop).await {
            return;
        }
        tally
            .acked_registrations
            .lock()
            .unwrap()
            .insert((n, counter));
        // The push may never come (killed after the ack): the handset then retries
        // with a new counter, as the applet does.
        let deadline = Instant::now() + Duration::from_secs(2);
        let mut pushed = false;
        while Instant::now() < deadline && !stop.load(Ordering::SeqCst) {
            let s = smsc.submits_to(&msisdn(n));
            if s.len() > before && reassemble(&s[before..]).is_some() {
                pushed = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if !pushed {
            continue;
        }
        let rep = report(&card(n), counter, 0, ReportResult::CONFIGURED);
        if deliver_until_acked(&smsc, n, &rep, &tally, &stop).await {
            tally.acked_reports.lock().unwrap().insert((n, counter));
        }
    }
}

async fn crash_run(kills: u32) {
    let (smsc, _server, port) = start_smsc_with(3_000).await;
    let world = World::new(CARDS, port, None).await;
    let log = world.dir.path().join("stub.log");
    let tally = Arc::new(Tally::default());
    let stop = Arc::new(AtomicBool::new(false));
    let mut stub = Some(StubProcess::start(&world, &log));
    smsc.bound(Duration::from_secs(20)).await;
    let handsets: Vec<_> = (1..=CARDS)
        .map(|n| tokio::spawn(handset(smsc.clone(), n, tally.clone(), stop.clone())))
        .collect();
    let mut rng = 0x2545_F491_4F6C_DD1Du64;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let started = Instant::now();
    for _ in 0..kills {
        // Run for 300–1100 ms under load, then SIGKILL and restart.
        tokio::time::sleep(Duration::from_millis(300 + next() % 800)).await;
        stub.take().unwrap().kill9();
        *smsc.esme.lock().await = None;
        stub = Some(StubProcess::start(&world, &log));
        smsc.bound(Duration::from_secs(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::SeqCst);
    for h in handsets {
        let _ = tokio::time::timeout(Duration::from_secs(10), h).await;
    }
    let mut last = stub.take().unwrap();
    last.term();
    assert!(
        last.wait_exit(Duration::from_secs(10))
            .is_some_and(|s| s.success())
    );

    // ---- the checks
    let acked = tally.acked_registrations.lock().unwrap().clone();
    let c = world.sql();
    let mut missing = 0;
    for (n, counter) in &acked {
        let found: i64 = c
            .query_row(
                "SELECT COUNT(*) FROM registrations WHERE iccid = ?1 AND counter = ?2 AND outcome = 'accepted'",
                rusqlite::params![card(*n).iccid.as_str(), *counter as i64],
                |r| r.get(0),
            )
            .unwrap();
        if found != 1 {
            missing += 1;
        }
    }
    let reports = tally.acked_reports.lock().unwrap().clone();
    let mut unconfirmed = 0;
    for (n, counter) in &reports {
        let found: i64 = c
            .query_row(
                "SELECT COUNT(*) FROM confirmations f
                 JOIN key_issuances k ON k.id = f.issuance_id
                 JOIN registrations r ON r.id = k.registration_id
                 WHERE r.iccid = ?1 AND r.counter = ?2",
                rusqlite::params![card(*n).iccid.as_str(), *counter as i64],
                |r| r.get(0),
            )
            .unwrap();
        if found != 1 {
            unconfirmed += 1;
        }
    }
    let duplicated_ledger = world.count(
        "SELECT COUNT(*) FROM (SELECT issuance_id, kind FROM ledger GROUP BY 1, 2 HAVING COUNT(*) > 1)",
    );
    let ledger = world.count("SELECT COUNT(*) FROM ledger");
    let confirmations = world.count("SELECT COUNT(*) FROM confirmations");
    let duplicates = world.count("SELECT COUNT(*) FROM registrations WHERE outcome = 'duplicate'");
    let accepted = world.count("SELECT COUNT(*) FROM registrations WHERE outcome = 'accepted'");
    let issuances = world.count("SELECT COUNT(*) FROM key_issuances");
    println!(
        "CRASH kills={kills} elapsed={:?} acked_registrations={} accepted_in_db={accepted} missing={missing} \
         redeliveries={} duplicates_recognised={duplicates} issuances={issuances} acked_reports={} \
         confirmations={confirmations} unconfirmed={unconfirmed} ledger_entries={ledger} duplicated_ledger={duplicated_ledger}",
        started.elapsed(),
        acked.len(),
        tally.redeliveries.load(Ordering::Relaxed),
        reports.len(),
    );
    assert!(
        !acked.is_empty() && !reports.is_empty(),
        "no load went through"
    );
    assert_eq!(missing, 0, "acknowledged registrations missing");
    assert_eq!(unconfirmed, 0, "acknowledged reports without confirmation");
    assert_eq!(duplicated_ledger, 0, "duplicated ledger entries");
    assert_eq!(
        ledger,
        2 * confirmations,
        "fee request + download confirmation each"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quick_crash_5_kills() {
    crash_run(5).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "slow (about a minute); run with --ignored"]
async fn full_crash_25_kills() {
    crash_run(25).await;
}
