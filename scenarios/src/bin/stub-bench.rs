//! Per-registration cost of the embedded provisioning stub, without the rest of the
//! world: `stub-bench [N]` (default 2000) builds the stub the engine builds for story
//! 18's world (`engine::stub::embedded`: SQLite in a temporary directory, Acme's key
//! server over mutual TLS on loopback), feeds it N registrations and N provisioning
//! reports per phase directly (`ProvisioningServer::on_mo`), checks every answer, and
//! prints the wall time per message:
//!
//! 1. standard: first-use registrations from a supported handset (policy, OMA CP push
//!    of 2 segments, delivery recorded), then their "configured" reports;
//! 2. device key from the manufacturer: handset-changed registrations into a
//!    depreciated handset (key request over kept-alive mTLS, Ed25519 sign on the server
//!    and verify on the stub, issuance recorded, push of 4 segments), then their reports
//!    (download confirmation, two ledger entries, confirmation posted to the server);
//! 3. device key from the local store: as 2 with Acme's key source set to `local`.
//!
//! Run it in release: `cargo run --release -p scenarios --bin stub-bench -- 2000`.

use std::collections::BTreeMap;
use std::time::Instant;

use applet::wire::bcd::{DigitSet, Digits, EfIccid, EfImsi};
use applet::wire::registration::{EventKind, KeyId, RegistrationRepr};
use handset_sim::network::ShortMessage;
use provisioning_stub::confirmation::{ReportRepr, ReportResult};
use provisioning_stub::inventory::{Card, Iccid, Imsi, RegistrationKey};
use provisioning_stub::keys::{DeviceKey, luhn_check_digit};
use scenarios::engine::STUB_NUMBER;
use scenarios::engine::stub::{SigningKey, device_database, embedded};
use scenarios::scenario::{self, format::KeySource};
use scenarios::world::ProvisioningServer;
use scenarios::world::stub::EmbeddedStub;

const KEY_ID: u8 = 0x12;

struct Sim {
    card: Card,
    ef_iccid: [u8; 10],
    ef_imsi: [u8; 9],
    msisdn: String,
}

fn luhn(body: &str) -> String {
    format!("{body}{}", char::from(luhn_check_digit(body.as_bytes())))
}

fn sims(n: u32) -> Result<Vec<Sim>, String> {
    let mut out = Vec::new();
    for i in 0..n {
        let iccid = luhn(&format!("89997{i:013}"));
        let imsi = format!("20826{i:010}");
        let mut key = [0u8; 16];
        key[..4].copy_from_slice(&i.to_be_bytes());
        key[4..].copy_from_slice(b"bench-key-12");
        let mut ef_iccid = [0xFFu8; 10];
        EfIccid {
            iccid: Digits::<20>::parse_str(&iccid, DigitSet::Decimal)
                .map_err(|e| format!("{e:?}"))?,
        }
        .emit(&mut ef_iccid)
        .map_err(|e| format!("{e:?}"))?;
        let mut ef_imsi = [0xFFu8; 9];
        EfImsi {
            imsi: Digits::<15>::parse_str(&imsi, DigitSet::Decimal)
                .map_err(|e| format!("{e:?}"))?,
        }
        .emit(&mut ef_imsi)
        .map_err(|e| format!("{e:?}"))?;
        out.push(Sim {
            card: Card {
                iccid: Iccid::parse(&iccid)?,
                imsi: Imsi::parse(&imsi)?,
                msisdn: None,
                key: RegistrationKey(key),
            },
            ef_iccid,
            ef_imsi,
            msisdn: format!("3375{i:07}"),
        });
    }
    Ok(out)
}

fn mobile_identity(imei: &str) -> Result<[u8; 8], String> {
    let mut d = [0u8; 15];
    for (slot, b) in d.iter_mut().zip(imei.bytes()) {
        *slot = b - b'0';
    }
    let imei = applet::wire::imei::Imei::from_digits(d).map_err(|e| format!("{e:?}"))?;
    let mut out = [0u8; 8];
    imei.emit(&mut out).map_err(|e| format!("{e:?}"))?;
    Ok(out)
}

fn registration(sim: &Sim, counter: u64, tac: &str, i: usize) -> Result<ShortMessage, String> {
    let imei = luhn(&format!("{tac}{i:06}"));
    let repr = RegistrationRepr {
        key_id: KeyId(KEY_ID),
        event: if counter == 1 {
            EventKind::FIRST_USE
        } else {
            EventKind::HANDSET_CHANGED
        },
        iccid: sim.ef_iccid,
        imsi: sim.ef_imsi,
        counter,
        imei: mobile_identity(&imei)?,
        imeisv: None,
        previous_imei: None,
    };
    let mut buf = [0u8; 80];
    let n = repr
        .emit_signed(&sim.card.key.0, &mut buf)
        .map_err(|e| format!("{e:?}"))?;
    Ok(ShortMessage::new(
        &sim.msisdn,
        STUB_NUMBER,
        0,
        0x04,
        buf[..n].to_vec(),
    ))
}

fn report(sim: &Sim, counter: u64, device_key_id: u64) -> Result<ShortMessage, String> {
    let payload = ReportRepr {
        key_id: KEY_ID,
        result: ReportResult::CONFIGURED,
        iccid: sim.ef_iccid,
        registration_counter: counter,
        device_key_id,
    }
    .to_signed_vec(&sim.card.key.0)
    .ok_or("report does not encode")?;
    Ok(ShortMessage::new(
        &sim.msisdn,
        STUB_NUMBER,
        0,
        0x04,
        payload,
    ))
}

/// Plays `messages` at 1 s intervals from `t0`; every one must be acknowledged and
/// (for registrations) answered with `segments` MT segments. Returns µs per message.
fn play(
    stub: &mut EmbeddedStub,
    t0: u64,
    messages: &[ShortMessage],
    segments: Option<usize>,
) -> Result<f64, String> {
    let start = Instant::now();
    for (i, sm) in messages.iter().enumerate() {
        let reply = stub.on_mo(sm, t0 + i as u64 * 1000);
        if !reply.accepted {
            return Err(format!("message {i} not acknowledged: {:?}", reply.arrows));
        }
        if let Some(n) = segments
            && reply.mt.len() != n
        {
            let labels: Vec<_> = reply.arrows.iter().map(|a| a.label.clone()).collect();
            return Err(format!(
                "message {i}: {} segments, expected {n}: {labels:?}",
                reply.mt.len()
            ));
        }
    }
    Ok(start.elapsed().as_secs_f64() * 1e6 / messages.len().max(1) as f64)
}

/// The device key ids the stub issued, in order of its verdicts from `from`.
fn key_ids(stub: &EmbeddedStub, from: usize) -> Result<Vec<u64>, String> {
    stub.verdicts()[from..]
        .iter()
        .map(|v| {
            let t = v.outcome.as_ref().map_err(|e| format!("rejected: {e}"))?;
            let bytes = t.device_key.as_ref().ok_or("no device key")?;
            Ok(DeviceKey::decode(bytes).map_err(|e| e.to_string())?.key_id)
        })
        .collect()
}

fn line(what: &str, us: f64) {
    println!(
        "{what:<58} {us:>8.1} µs  {:>9.0}/s",
        if us > 0.0 { 1e6 / us } else { 0.0 }
    );
}

fn run(n: u32, keys_from: KeySource) -> Result<(), String> {
    let path = scenario::library_dir().join("18-ten-thousand-swaps-in-an-hour.toml");
    let mut s = scenario::load(&path).map_err(|e| e.to_string())?;
    let w = &mut s.world;
    if let Some(acme) = w.manufacturers.get_mut("acme") {
        acme.keys = keys_from;
    }
    let signers: BTreeMap<String, SigningKey> = w
        .manufacturers
        .keys()
        .map(|id| (id.clone(), SigningKey::seeded(s.seed, id)))
        .collect();
    let devices = device_database(w).map_err(|e| e.to_string())?;
    let sims = sims(n)?;
    let cards: Vec<Card> = sims.iter().map(|s| s.card.clone()).collect();
    let built = Instant::now();
    let mut stub = embedded(
        w,
        s.seed,
        &cards,
        &devices,
        &signers,
        STUB_NUMBER,
        1_780_272_000,
    )
    .map_err(|e| e.to_string())?;
    let source = match keys_from {
        KeySource::Local => "local",
        _ => "manufacturer",
    };
    println!(
        "stub with {n} cards, Acme keys from {source}: built in {:.1} ms",
        built.elapsed().as_secs_f64() * 1e3
    );
    let globex_g3 = "35876503";
    let acme_a7 = "35209907";
    let first: Vec<_> = sims
        .iter()
        .enumerate()
        .map(|(i, s)| registration(s, 1, globex_g3, i))
        .collect::<Result<_, _>>()?;
    let us = play(&mut stub, 0, &first, Some(2))?;
    if keys_from == KeySource::Manufacturer {
        line("standard registration (policy, 2-segment push)", us);
        let reports: Vec<_> = sims
            .iter()
            .map(|s| report(s, 1, 0))
            .collect::<Result<_, _>>()?;
        let us = play(&mut stub, 10_000_000, &reports, Some(0))?;
        line("report for standard settings (nothing to bill)", us);
    }
    let before = stub.verdicts().len();
    let swaps: Vec<_> = sims
        .iter()
        .enumerate()
        .map(|(i, s)| registration(s, 2, acme_a7, i))
        .collect::<Result<_, _>>()?;
    let us = play(&mut stub, 20_000_000, &swaps, Some(4))?;
    line(
        &format!("device-key registration, key from {source} (4-segment push)"),
        us,
    );
    let ids = key_ids(&stub, before)?;
    let reports: Vec<_> = sims
        .iter()
        .zip(&ids)
        .map(|(s, id)| report(s, 2, *id))
        .collect::<Result<_, _>>()?;
    let us = play(&mut stub, 30_000_000, &reports, Some(0))?;
    line(
        &format!("report for a {source} key (confirmation, 2 ledger entries)"),
        us,
    );
    let ledger = stub.ledger().len();
    if ledger != 2 * n as usize {
        return Err(format!("{ledger} ledger entries, expected {}", 2 * n));
    }
    Ok(())
}

fn main() {
    let n: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2000);
    for keys in [KeySource::Manufacturer, KeySource::Local] {
        if let Err(e) = run(n, keys) {
            eprintln!("stub-bench: {e}");
            std::process::exit(1);
        }
    }
}
