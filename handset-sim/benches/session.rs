//! Complete handset sessions per second: power-up (ATR, SELECTs, ICCID, EF.DIR, USIM,
//! IMSI, TERMINAL PROFILE) + the registration exchange (PROVIDE LOCAL INFORMATION IMEI →
//! TERMINAL RESPONSE, SEND SHORT MESSAGE → MO SMS → TERMINAL RESPONSE), over
//!
//! - `sim`: the in-process simulated reader;
//! - `vpcd`: the real path — PcscReader → pcscd → vpcd driver → TCP → `serve_vpcd`
//!   (skipped when pcscd / vsmartcard-vpcd are missing).
//!
//! Cards: the scripted test card of `tests/terminal_support` playing the 02-cat.md §9
//! exchange on every power-up (`sim`, `vpcd`, `vpcd-no-cold-reset`), and the project's
//! real card, `applet::card::Card` in `SimulatedUicc`, swapped between two handsets so
//! every session registers (`sim-card-registration` over the simulated reader,
//! `vpcd-real-card-registration` through pcscd + vpcd).
//!
//! Run: `cargo bench -p handset-sim --bench session`.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/terminal_support/mod.rs"]
mod terminal_support;

use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use handset_sim::profile::{Catalogue, Handset};
use handset_sim::reader::sim::SimulatedReader;
use handset_sim::terminal::{SimNetwork, Terminal, TerminalConfig};
use terminal_support::{Fetch, ScriptedCard, h};

const PLI_IMEI: &str = "D0 09 81 03 01 26 01 82 02 81 82";
const SEND_SM: &str = "D0 30 81 03 01 13 00 82 02 81 83 8B 25 01 00 0C 91 44 77 00 09 10 32 00 04 18 \
                       49 54 01 4A 09 51 24 30 32 57 81 00 00 00 00 01 11 22 33 44 55 66 77 88";

fn card() -> ScriptedCard {
    let c = ScriptedCard::new([]);
    c.state().replay = vec![Fetch::cmd(h(PLI_IMEI)), Fetch::cmd(h(SEND_SM))];
    c
}

fn handset() -> Handset {
    Catalogue::builtin().unwrap().models()[0].clone()
}

fn config() -> TerminalConfig {
    TerminalConfig {
        default_poll_interval_ms: None,
        ..TerminalConfig::default()
    }
}

fn sessions(c: &mut Criterion) {
    let mut g = c.benchmark_group("session");
    g.throughput(Throughput::Elements(1));
    g.measurement_time(Duration::from_secs(5));

    let card = card();
    let mut t = Terminal::with_config(
        SimulatedReader::new(card.clone()),
        handset(),
        SimNetwork::new(),
        config(),
    );
    // The project's card (applet::card::Card): each iteration swaps handsets, so every
    // power-up ends in one verified-format registration SMS.
    {
        use handset_sim::terminal::uicc::SimulatedUicc;
        let cat = Catalogue::builtin().unwrap();
        let a = cat.by_name("Nordvik N100").unwrap().clone();
        let bb = cat.by_name("Solstice S22").unwrap().clone();
        let card = SimulatedUicc::new(&applet::card::test_personalisation()).unwrap();
        // The applet allows 10 registrations a day: move its clock a day per session.
        let clock = card.clock();
        let mut day = 0u64;
        let mut reader = Some(SimulatedReader::new(card));
        let cfg = TerminalConfig {
            pin: Some("1234".into()),
            ..config()
        };
        let mut flip = false;
        g.bench_function("sim-card-registration", |b| {
            b.iter(|| {
                flip = !flip;
                day += 1;
                clock.set(day * 86_400_000);
                let h = if flip { a.clone() } else { bb.clone() };
                let mut t = Terminal::with_config(
                    reader.take().unwrap(),
                    h,
                    SimNetwork::new(),
                    cfg.clone(),
                );
                t.power_up().unwrap();
                assert_eq!(t.network().sent.len(), 1);
                reader = Some(t.into_parts().0);
            })
        });
    }

    g.bench_function("sim", |b| {
        b.iter(|| {
            t.power_up().unwrap();
            t.take_log();
            t.network_mut().sent.clear();
        })
    });

    if common::pcscd::pcscd_ready() {
        let _slot = common::pcscd::lock_slot(0);
        let mut vcard = self::card();
        vcard.atr = common::card::tagged_atr(common::pcscd::atr_tag(0));
        let served = common::pcscd::Served::start(vcard.clone(), 0);
        let reader = common::pcscd::connect_when_ready(0, &vcard.atr);
        let mut t = Terminal::with_config(
            reader,
            handset(),
            SimNetwork::new(),
            TerminalConfig::default(),
        );
        g.sample_size(20);
        g.bench_function("vpcd", |b| {
            b.iter(|| {
                t.power_up().unwrap();
                t.take_log();
                t.network_mut().sent.clear();
            })
        });
        // Where the time goes: the same exchange without the cold reset (the card is
        // power-cycled once, then each iteration replays the session after a STATUS).
        g.bench_function("vpcd-no-cold-reset", |b| {
            b.iter(|| {
                let mut st = vcard.state();
                st.script = st.replay.iter().cloned().collect();
                drop(st);
                t.advance(t.now_ms() + 30_000).unwrap();
                t.take_log();
                t.network_mut().sent.clear();
            })
        });
        t.power_off();
        drop(served);

        // The REAL card (applet::card::Card) through pcscd + vpcd: like
        // `sim-card-registration`, every session swaps handsets, so every power-up ends
        // in one registration SMS. Same ATR for every run (no tag), so the slot must be
        // free of other virtual cards.
        use handset_sim::terminal::uicc::{SharedCard, SimulatedUicc};
        let cat = Catalogue::builtin().unwrap();
        let a = cat.by_name("Nordvik N100").unwrap().clone();
        let bb = cat.by_name("Solstice S22").unwrap().clone();
        let uicc = SimulatedUicc::new(&applet::card::test_personalisation()).unwrap();
        let clock = uicc.clock();
        let card = SharedCard::new(uicc);
        let _served = common::pcscd::Served::start(card.clone(), 0);
        let mut reader = Some(common::pcscd::connect_when_ready(0, &applet::card::ATR));
        let cfg = TerminalConfig {
            pin: Some("1234".into()),
            ..config()
        };
        let (mut flip, mut day) = (false, 0u64);
        g.bench_function("vpcd-real-card-registration", |b| {
            b.iter(|| {
                flip = !flip;
                day += 1;
                clock.set(day * 86_400_000);
                let h = if flip { a.clone() } else { bb.clone() };
                let mut t = Terminal::with_config(
                    reader.take().unwrap(),
                    h,
                    SimNetwork::new(),
                    cfg.clone(),
                );
                t.power_up().unwrap();
                assert_eq!(t.network().sent.len(), 1);
                reader = Some(t.into_parts().0);
            })
        });
        if let Some(mut r) = reader {
            handset_sim::CardReader::power_off(&mut r);
        }
    }
    g.finish();
}

criterion_group!(benches, sessions);
criterion_main!(benches);
