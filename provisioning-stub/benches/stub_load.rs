//! Load benchmark: registrations per second through SMPP on loopback into the real
//! `provisioning-stub serve` process (SQLite store, WAL + `synchronous=FULL`, group
//! commit), with latency percentiles and the stub's peak memory.
//!
//! ```text
//! cargo bench -p provisioning-stub --bench stub_load -- \
//!     [--registrations 20000] [--cards 5000] [--window 256] [--kind depreciated|standard]
//! ```
//!
//! The SMSC is the `smpp34` crate's server in this process (independent of the stub's
//! SMPP code). `window` deliver_sm are kept outstanding. Latencies: deliver_sm sent →
//! deliver_sm_resp received (the registration is durably stored), and deliver_sm sent →
//! last submit_sm of its OMA CP push received by the SMSC. Peak memory: VmHWM of the
//! stub process from /proc.

#[path = "../tests/serve_support/mod.rs"]
mod serve_support;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use applet::wire::sms::udh::UserDataHeader;
use serve_support::*;

fn arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.to_owned())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn vm(pid: u32, key: &str) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(key))
        .map(|l| l[key.len()..].trim().to_owned())
        .unwrap_or_default()
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    // `cargo bench` passes `--bench`; without it (`cargo test --all-targets`) this is a
    // small smoke run.
    let bench = std::env::args().any(|a| a == "--bench");
    let n: usize = arg("--registrations", if bench { "20000" } else { "200" })
        .parse()
        .unwrap();
    let cards: u32 = arg("--cards", if bench { "5000" } else { "100" })
        .parse()
        .unwrap();
    // Keep window < cards: two registrations of one card in flight at once would race
    // (the later counter stored first turns the earlier one into a replay).
    let window: usize = arg("--window", if bench { "64" } else { "32" })
        .parse()
        .unwrap();
    assert!(window <= cards as usize, "--window must not exceed --cards");
    let kind = arg("--kind", "depreciated");
    let imei = match kind.as_str() {
        "standard" => IMEI_CURRENT,
        _ => IMEI_ACME_A1,
    };
    eprintln!("setting up {cards} cards …");
    let (smsc, _server, port) = start_smsc_with(30_000).await;
    let world = World::new(cards, port, None).await;
    // Pre-build every message so the generator does no crypto while measuring.
    let messages: Arc<Vec<(String, Vec<u8>)>> = Arc::new(
        (0..n)
            .map(|i| {
                let c = (i as u32 % cards) + 1;
                let counter = (i as u32 / cards) as u64 + 1;
                (msisdn(c), registration(&card(c), counter, imei))
            })
            .collect(),
    );
    let log = world.dir.path().join("stub.log");
    let stub = StubProcess::start(&world, &log);
    let pid = stub.child.id();
    smsc.bound(Duration::from_secs(30)).await;
    eprintln!("bound; driving {n} registrations ({kind}), window {window}");

    let next = Arc::new(AtomicUsize::new(0));
    let sent_at: Arc<Vec<std::sync::Mutex<Option<Instant>>>> =
        Arc::new((0..n).map(|_| std::sync::Mutex::new(None)).collect());
    let start = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..window {
        let smsc = smsc.clone();
        let next = next.clone();
        let messages = messages.clone();
        let sent_at = sent_at.clone();
        workers.push(tokio::spawn(async move {
            let mut acks = Vec::new();
            let esme = smsc.esme.lock().await.clone().unwrap();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= messages.len() {
                    return acks;
                }
                let (from, payload) = &messages[i];
                let t0 = Instant::now();
                *sent_at[i].lock().unwrap() = Some(t0);
                let r = esme
                    .deliver_sm()
                    .source_addr_ton(1)
                    .source_addr_npi(1)
                    .source_addr(from.as_str())
                    .destination_addr(SHORT_CODE)
                    .data_coding(0x04)
                    .short_message(payload.clone())
                    .send()
                    .await;
                assert!(
                    matches!(&r, Ok(resp) if resp.command_status() == 0),
                    "deliver_sm {i}: {r:?}"
                );
                acks.push((i, t0.elapsed()));
            }
        }));
    }
    let mut ack_lat = Vec::with_capacity(n);
    for w in workers {
        for (_, d) in w.await.unwrap() {
            ack_lat.push(d);
        }
    }
    let acked_in = start.elapsed();
    // Wait for the pushes.
    let complete = |s: &[Submitted]| {
        s.iter()
            .filter(|x| {
                UserDataHeader::parse(&x.short_message)
                    .ok()
                    .and_then(|u| u.concatenation())
                    .is_none_or(|c| c.sequence == c.total)
            })
            .count()
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    while complete(&smsc.submits.lock().unwrap()) < n && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let pushed_in = start.elapsed();
    let hwm = vm(pid, "VmHWM:");
    let rss = vm(pid, "VmRSS:");
    // Push latency: the k-th completed push to a number answers its k-th registration.
    let submits = smsc.submits.lock().unwrap().clone();
    let mut done: HashMap<String, Vec<Instant>> = HashMap::new();
    for s in &submits {
        let udh = UserDataHeader::parse(&s.short_message).unwrap();
        let last = udh.concatenation().is_none_or(|c| c.sequence == c.total);
        if last {
            done.entry(s.destination.clone()).or_default().push(s.at);
        }
    }
    let mut push_lat = Vec::with_capacity(n);
    for i in 0..n {
        let c = (i as u32 % cards) + 1;
        let k = i / cards as usize;
        if let (Some(t0), Some(t1)) = (
            *sent_at[i].lock().unwrap(),
            done.get(&msisdn(c)).and_then(|v| v.get(k)),
        ) {
            push_lat.push(t1.saturating_duration_since(t0));
        }
    }
    ack_lat.sort();
    push_lat.sort();
    let accepted = world.count("SELECT COUNT(*) FROM registrations WHERE outcome = 'accepted'");
    let deliveries = world.count("SELECT COUNT(*) FROM deliveries");
    drop(stub);
    println!(
        "stub_load: {n} registrations ({kind}), {cards} cards, window {window}, SQLite WAL synchronous=FULL, group commit"
    );
    println!(
        "  acked:  {:.0} registrations/s ({n} in {:.2?}); latency deliver_sm → deliver_sm_resp p50 {:.2?} p99 {:.2?} max {:.2?}",
        n as f64 / acked_in.as_secs_f64(),
        acked_in,
        percentile(&ack_lat, 0.50),
        percentile(&ack_lat, 0.99),
        ack_lat.last().copied().unwrap_or_default()
    );
    println!(
        "  pushed: {:.0} pushes/s ({} pushes, {} submit_sm, in {:.2?}); latency deliver_sm → last submit_sm p50 {:.2?} p99 {:.2?}",
        push_lat.len() as f64 / pushed_in.as_secs_f64(),
        push_lat.len(),
        submits.len(),
        pushed_in,
        percentile(&push_lat, 0.50),
        percentile(&push_lat, 0.99)
    );
    println!(
        "  stub peak RSS (VmHWM) {hwm}, RSS at end {rss}; DB: {accepted} accepted, {deliveries} deliveries"
    );
}
