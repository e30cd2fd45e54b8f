//! MT OMA CP pushes per second through the handset's provisioning client: reassembly of
//! the concatenated SMS (delivered in reverse order), WSP parse, NETWPIN HMAC-SHA1 check,
//! replay digest (SHA-256), WBXML decode and APN store update; for device-key pushes also
//! the key decode and strict Ed25519 verification. Pushes are built (and keys signed)
//! before the clock starts; every push is distinct so the replay record does not reject it.
//!
//! `cargo bench -p handset-sim --bench push` (environment: `PUSH_BENCH_N`, default 2000).

#[path = "../tests/provisioning_support/mod.rs"]
mod support;

use std::time::Instant;

use handset_sim::network::ShortMessage;
use handset_sim::provisioning::{ProvisioningClient, RecordingReporter};
use support::*;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn run(label: &str, pushes: &[Vec<ShortMessage>]) {
    let mut c = ProvisioningClient::new(config());
    let mut rep = RecordingReporter::default();
    let sms: usize = pushes.iter().map(Vec::len).sum();
    let start = Instant::now();
    let mut configured = 0usize;
    for (i, p) in pushes.iter().enumerate() {
        for m in p.iter().rev() {
            if let Some(r) = c.on_short_message(m, i as u64, &mut rep) {
                configured += usize::from(r.is_configured());
            }
        }
        rep.reports.clear();
    }
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(configured, pushes.len(), "{label}: every push applied");
    println!(
        "{label}: {} pushes ({} SMS) in {:.3} s = {:.0} pushes/s, {:.0} SMS/s, {:.1} µs/push",
        pushes.len(),
        sms,
        secs,
        pushes.len() as f64 / secs,
        sms as f64 / secs,
        secs * 1e6 / pushes.len() as f64
    );
}

fn main() {
    let n = env_or("PUSH_BENCH_N", 2000);
    let mmsc = "http://mmsc.vendor.example/servlets/mms";
    let standard: Vec<Vec<ShortMessage>> = (0..n)
        .map(|i| {
            let mut d = Doc::new("mms.vendor.example", Some(mmsc));
            d.name = format!("Manufacturer MMS {i}");
            d.settings.username = Some("user".into());
            d.settings.password = Some("pass".into());
            segments(&netwpin_push(&d.wbxml()), (i % 256) as u8)
        })
        .collect();
    let keyed: Vec<Vec<ShortMessage>> = (0..n)
        .map(|i| {
            let d = Doc::new("mms.vendor.example", Some(mmsc));
            let key = issue(IMEI, &d.settings, i as u64, None);
            segments(&netwpin_push(&d.with_key(&key).wbxml()), (i % 256) as u8)
        })
        .collect();
    println!(
        "segments per push: standard {}, device key {}",
        standard[0].len(),
        keyed[0].len()
    );
    run("standard NETWPIN push", &standard);
    run("device-key push (Ed25519)", &keyed);
}
