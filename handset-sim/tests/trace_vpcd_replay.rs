//! Proof: a trace recorded through vpcd + pcscd replays identically against the
//! in-process card.
//!
//! The terminal (`Terminal` over `Recorder<PcscReader>`) runs a first-use registration
//! against the project's real card (`SimulatedUicc` personalised from
//! `handset-sim/cards/example.toml`, clock fixed at 0 ms) served through `serve_vpcd` to
//! `pcscd`. The trace is written to a file, read back, and replayed with
//! `trace::replay` against a fresh in-process card personalised from the same file with
//! the same fixed clock: no divergence, ATRs included.
//!
//! Nondeterminism handled: the card clock (`now_ms` enters the rate-limit record) is
//! fixed on both sides; pcscd's own power cycling is visible in the card-side trace
//! (`CardRecorder` under the served card) — it sends no APDUs of its own, and its
//! extra POWER_OFF/POWER_ON events replay too.
//!
//! Needs `pcscd` + `vsmartcard-vpcd` (skipped outside CI, failing with `CI=true`).

mod common;

use std::path::{Path, PathBuf};

use common::pcscd::{Served, connect_when_ready, lock_slot, pcscd_ready};
use handset_sim::CardReader;
use handset_sim::profile::Catalogue;
use handset_sim::reader::sim::SimulatedReader;
use handset_sim::terminal::uicc::{CardFile, SharedCard};
use handset_sim::terminal::{SimNetwork, Terminal, TerminalConfig};
use handset_sim::trace::card::{CARD_CLOCK_KEY, card_clock_ms, find_card_file, fresh_card};
use handset_sim::trace::{
    CardRecorder, Event, Recorder, ReplayOptions, Trace, WriteOptions, read_trace_file, replay,
    write_trace,
};

const EXAMPLE_CARD: &str = "handset-sim/cards/example.toml";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn exchanges(t: &Trace) -> Vec<(Vec<u8>, Vec<u8>)> {
    t.entries()
        .filter_map(|e| match e.event {
            Event::Exchange(x) => Some((x.command.to_vec(), x.response.unwrap().to_vec())),
            _ => None,
        })
        .collect()
}

fn power_events(t: &Trace) -> Vec<&'static str> {
    t.entries()
        .filter_map(|e| match e.event {
            Event::PowerOn { .. } => Some("POWER_ON"),
            Event::Reset { .. } => Some("RESET"),
            Event::PowerOff => Some("POWER_OFF"),
            Event::Exchange(_) => None,
        })
        .collect()
}

fn replay_fresh(trace: &Trace, file: &Path) -> handset_sim::trace::ReplayOutcome {
    let card_file = find_card_file(&trace.header, Some(file)).expect("header names the card");
    let card = fresh_card(
        &CardFile::load(&card_file).unwrap(),
        card_clock_ms(&trace.header).unwrap(),
    )
    .unwrap();
    let mut r = SimulatedReader::new(card);
    let outcome = replay(trace, &mut r, ReplayOptions::default());
    r.power_off();
    outcome
}

#[test]
fn trace_recorded_through_pcscd_replays_identically_in_process() {
    if !pcscd_ready() {
        return;
    }
    let _slot = lock_slot(0);
    let card_file = CardFile::load(&workspace().join(EXAMPLE_CARD)).unwrap();
    // Served card: fixed clock 0, recorded at the card side as well.
    let served = SharedCard::new(CardRecorder::new(
        fresh_card(&card_file, 0).unwrap(),
        "vpcd slot 0 (card side)",
    ));
    served
        .lock()
        .set_header("card", EXAMPLE_CARD)
        .set_header(CARD_CLOCK_KEY, "0");
    let server = Served::start(served.clone(), 0);
    let reader = connect_when_ready(0, &applet::card::ATR);

    let mut rec = Recorder::new(reader);
    let handset = Catalogue::builtin()
        .unwrap()
        .by_name("Nordvik N100")
        .unwrap()
        .clone();
    rec.set_header("card", EXAMPLE_CARD)
        .set_header(CARD_CLOCK_KEY, "0")
        .set_header(
            "handset",
            format!("{} IMEI {}", handset.profile.name(), handset.imei),
        );
    let config = TerminalConfig {
        pin: Some("1234".into()),
        default_poll_interval_ms: None,
        ..TerminalConfig::default()
    };
    let mut t = Terminal::with_config(rec, handset, SimNetwork::new(), config);
    t.power_up().unwrap();
    t.attach().unwrap();
    assert_eq!(t.network().sent.len(), 1, "first use: one registration SMS");
    t.power_off();
    let (_reader, recorded) = t.into_parts().0.into_parts();
    drop(server);
    let card_side = served.lock().trace().clone();

    // Through a file, as a user would keep it (inside the workspace so the header's
    // relative card path resolves from the trace's directory).
    let dir = tempfile::tempdir_in(workspace().join("target")).unwrap();
    let file = dir.path().join("vpcd-session.apdu");
    let mut text = Vec::new();
    write_trace(&mut text, &recorded, WriteOptions::default()).unwrap();
    std::fs::write(&file, &text).unwrap();
    eprintln!("{}", String::from_utf8_lossy(&text));
    let from_file = read_trace_file(&file).unwrap();
    assert_eq!(from_file, recorded);

    let n = recorded.exchange_count();
    assert!(n >= 19, "a full power-up + registration: {n} exchanges");
    assert!(matches!(
        recorded.get(0).unwrap().event,
        Event::PowerOn { atr } if atr == applet::card::ATR
    ));

    let outcome = replay_fresh(&from_file, &file);
    if let Some(d) = &outcome.divergence {
        panic!("{}", d.report(&file.display().to_string()));
    }
    assert_eq!(outcome.exchanges, n);

    // Same bytes as the golden trace recorded over the in-process reader.
    let golden =
        read_trace_file(&workspace().join("tests/traces/registration-first-use.apdu")).unwrap();
    assert_eq!(exchanges(&recorded), exchanges(&golden));

    // The card side saw exactly the terminal's exchanges (pcscd adds no APDUs), plus
    // pcscd's own power handling around them; that trace replays identically too.
    eprintln!(
        "terminal side: {:?}\ncard side:     {:?}",
        power_events(&recorded),
        power_events(&card_side)
    );
    assert_eq!(exchanges(&card_side), exchanges(&recorded));
    let card_side_file = dir.path().join("card-side.apdu");
    let mut text = Vec::new();
    write_trace(&mut text, &card_side, WriteOptions::default()).unwrap();
    std::fs::write(&card_side_file, &text).unwrap();
    let outcome = replay_fresh(&card_side, &card_side_file);
    if let Some(d) = &outcome.divergence {
        panic!("card side: {}", d.report("card-side.apdu"));
    }
}
