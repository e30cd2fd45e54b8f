//! Graceful shutdown of the real `provisioning-stub serve` process: SIGTERM → it stops
//! taking messages, finishes what it acknowledged, unbinds and exits 0 within a bound.

mod serve_support;

use std::time::{Duration, Instant};

use serve_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_unbinds_flushes_and_exits_zero() {
    let (smsc, _server, port) = start_smsc().await;
    let world = World::new(20, port, None).await;
    let log = world.dir.path().join("stub.log");
    let mut stub = StubProcess::start(&world, &log);
    smsc.bound(Duration::from_secs(20)).await;

    // Twenty registrations in flight at once, then SIGTERM while pushes go out.
    let mut tasks = Vec::new();
    for n in 1..=20u32 {
        let smsc = smsc.clone();
        tasks.push(tokio::spawn(async move {
            let imei = if n % 2 == 0 {
                IMEI_ACME_A1
            } else {
                IMEI_CURRENT
            };
            smsc.deliver(&msisdn(n), &registration(&card(n), 1, imei))
                .await
        }));
    }
    let mut acked = 0;
    for t in tasks {
        if t.await.unwrap() == Ok(0) {
            acked += 1;
        }
    }
    assert_eq!(acked, 20);
    let sent = Instant::now();
    stub.term();
    let status = stub
        .wait_exit(Duration::from_secs(10))
        .expect("serve did not exit within 10 s of SIGTERM");
    assert!(
        status.success(),
        "exit status {status:?}; log: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    eprintln!("exited {:?} after SIGTERM", sent.elapsed());
    assert_eq!(*smsc.unbinds.lock().unwrap(), 1, "unbind sent");
    // Everything acknowledged is stored; every accepted registration was provisioned
    // (the drain let the pushes finish) and its delivery recorded.
    assert_eq!(
        world.count("SELECT COUNT(*) FROM registrations WHERE outcome = 'accepted'"),
        20
    );
    assert_eq!(world.count("SELECT COUNT(*) FROM deliveries"), 20);
    for n in 1..=20 {
        assert!(
            reassemble(&smsc.submits_to(&msisdn(n))).is_some(),
            "push {n}"
        );
    }
}
