//! Card benchmark: prints the size of the card and applet state and measures complete
//! in-process registration sessions (power-on → TERMINAL PROFILE → FETCH →
//! TERMINAL RESPONSE (IMEI) → FETCH → TERMINAL RESPONSE (SMS sent)), alternating two
//! IMEIs so every session registers (AES-CMAC, two NVM transactions).
//!
//! `cargo bench -p applet --bench card -- --warm-up-time 1 --measurement-time 3`

use applet::card::{Card, CardNvm, DATA_LEN, MAX_RESPONSE, test_personalisation};
use applet::tracker::record::{BLOCK_LEN, SECRET_LEN};
use applet::tracker::{Record, Tracker};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

const TP: [u8; 13] = [
    0x80, 0x10, 0, 0, 8, 0x23, 0x01, 0x29, 0x42, 0x11, 0, 0, 0x07,
];
const FETCH_PLI: [u8; 5] = [0x80, 0x12, 0, 0, 0x0B];
const TR_SMS_OK: [u8; 17] = [
    0x80, 0x14, 0, 0, 0x0C, 0x81, 0x03, 0x02, 0x13, 0x00, 0x82, 0x02, 0x82, 0x81, 0x83, 0x01, 0x00,
];

fn tr_imei(imei: &[u8; 8]) -> [u8; 27] {
    let mut a = [0u8; 27];
    a[..19].copy_from_slice(&[
        0x80, 0x14, 0, 0, 0x16, 0x81, 0x03, 0x01, 0x26, 0x01, 0x82, 0x02, 0x82, 0x81, 0x83, 0x01,
        0x00, 0x14, 0x08,
    ]);
    a[19..].copy_from_slice(imei);
    a
}

/// One registration session; returns the final SW1.
fn session(card: &mut Card, tr: &[u8], now: u64, out: &mut [u8; MAX_RESPONSE]) -> u8 {
    card.power_on(true);
    let n = card.process(&TP, now, out);
    debug_assert_eq!(&out[..n], &[0x91, 0x0B]);
    card.process(&FETCH_PLI, now, out);
    let n = card.process(tr, now, out);
    let len = out[n - 1];
    debug_assert_eq!(out[0], 0x91);
    card.process(&[0x80, 0x12, 0, 0, len], now, out);
    let n = card.process(&TR_SMS_OK, now, out);
    out[n - 2]
}

fn bench(c: &mut Criterion) {
    let card_size = std::mem::size_of::<Card>();
    let nvm_size = std::mem::size_of::<CardNvm>();
    println!(
        "size_of::<Card>() = {card_size} bytes, of which the simulated NVM image = {nvm_size}; \
         RAM state = {} bytes (tracker {} + record mirror {})",
        card_size - nvm_size,
        std::mem::size_of::<Tracker>(),
        std::mem::size_of::<Record>(),
    );
    println!(
        "persistent: applet {} bytes (config EF + state EF {BLOCK_LEN}, secret {SECRET_LEN}); \
         card data area {DATA_LEN} bytes (file system + applet)",
        BLOCK_LEN + SECRET_LEN
    );

    // No per-period limit (period 0 s): every session must really register.
    let mut p = test_personalisation();
    p.applet.retry.period_s = 0;
    let mut card = Card::new(&p, CardNvm::new()).unwrap();
    let mut out = [0u8; MAX_RESPONSE];
    let trs = [
        tr_imei(&[0x4A, 0x09, 0x51, 0x24, 0x30, 0x32, 0x57, 0x81]),
        tr_imei(&[0x3A, 0x25, 0x90, 0x09, 0x10, 0x67, 0x41, 0x18]),
    ];
    // Sanity: a session registers.
    assert_eq!(session(&mut card, &trs[0], 0, &mut out), 0x90);
    let mut i = 0usize;
    let mut now = 0u64;
    let mut sessions = 1u64;
    let mut g = c.benchmark_group("card");
    g.throughput(Throughput::Elements(1));
    g.bench_function("registration_session", |b| {
        b.iter(|| {
            i ^= 1;
            now += 1;
            sessions += 1;
            black_box(session(&mut card, black_box(&trs[i]), now, &mut out))
        })
    });
    g.finish();
    let rec = card.record().unwrap();
    // Every session sent one registration: the counter counts them.
    assert_eq!(rec.next_counter(), sessions);
    assert!(rec.pending().is_none());
    println!(
        "{sessions} registration sessions run, counter = {}",
        rec.next_counter()
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
