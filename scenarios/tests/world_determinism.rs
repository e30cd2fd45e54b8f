//! The same world script on the same seed gives identical ladder arrows and identical
//! APDU traces; a different seed changes what seeded faults decide.

mod world_support;

use handset_sim::network::{DownWindow, Faults};
use scenarios::world::{ApduRecord, Arrow};
use world_support::*;

/// A script with swaps, reboots, an outage, lossy radio and time passing.
fn script(seed: u64) -> (Vec<Arrow>, Vec<ApduRecord>, usize) {
    let (mut w, seen) = world(seed);
    w.set_faults(Faults {
        mo_loss: 0.3,
        mt_loss: 0.3,
        latency_ms: 1500,
        down: vec![DownWindow {
            from_ms: 200_000,
            until_ms: 260_000,
        }],
        ..Faults::none()
    });
    w.insert("sim", "s22").unwrap();
    w.power_on("s22").unwrap();
    w.advance(150_000);
    w.power_off("s22").unwrap();
    w.move_card("sim", "n310").unwrap();
    w.power_on("n310").unwrap();
    w.advance(30 * 60_000);
    w.power_off("n310").unwrap();
    w.move_card("sim", "s22").unwrap();
    w.power_on("s22").unwrap();
    w.advance(30 * 60_000);
    let mo = seen.lock().unwrap().mo.len();
    (w.arrows(), w.apdu_trace(), mo)
}

#[test]
fn same_seed_same_arrows_and_apdu_trace() {
    let (a1, t1, m1) = script(42);
    let (a2, t2, m2) = script(42);
    assert!(a1.len() > 50, "a real run: {} arrows", a1.len());
    assert!(t1.len() > 50, "{} APDU records", t1.len());
    assert_eq!(m1, m2);
    assert_eq!(t1, t2, "APDU traces differ");
    assert_eq!(a1, a2, "arrows differ");
    // Times never go backwards.
    assert!(a1.windows(2).all(|w| w[0].t_ms <= w[1].t_ms));
}

#[test]
fn seeds_drive_the_faults() {
    let runs: Vec<_> = (0..6).map(script).collect();
    let distinct = runs
        .iter()
        .map(|(a, _, _)| {
            a.iter()
                .map(|x| format!("{x}"))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .collect::<std::collections::BTreeSet<_>>();
    assert!(
        distinct.len() > 1,
        "loss decisions should depend on the seed"
    );
}
