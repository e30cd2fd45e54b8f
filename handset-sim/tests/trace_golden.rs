//! Golden APDU traces: every `tests/traces/*.apdu` of the workspace is replayed against
//! the project's card, freshly personalised from the card file its header names
//! (`# card: handset-sim/cards/example.toml`), with the card clock fixed at the header's
//! `card-clock-ms` (default 0). Any divergence fails with the side-by-side report.
//!
//! Updating is explicit: `IMEITRACK_UPDATE_TRACES=1 cargo test -p handset-sim --test
//! trace_golden` rewrites each trace with what the card answered now (and re-records
//! the traces this file knows how to produce); review `git diff tests/traces/` before
//! committing. The scenario runner adds its traces to the same directory.

use std::path::{Path, PathBuf};
use std::time::Duration;

use handset_sim::CardReader;
use handset_sim::profile::Catalogue;
use handset_sim::reader::sim::SimulatedReader;
use handset_sim::terminal::uicc::CardFile;
use handset_sim::terminal::{SimNetwork, Terminal, TerminalConfig};
use handset_sim::trace::card::{CARD_CLOCK_KEY, card_clock_ms, find_card_file, fresh_card};
use handset_sim::trace::{
    ManualClock, Recorder, ReplayOptions, Trace, WriteOptions, read_trace_file, replay, write_trace,
};

/// The switch that rewrites golden traces.
const UPDATE: &str = "IMEITRACK_UPDATE_TRACES";

fn updating() -> bool {
    std::env::var(UPDATE).is_ok_and(|v| v == "1")
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn traces_dir() -> PathBuf {
    workspace().join("tests/traces")
}

/// Card file of the example card, as written in trace headers (workspace-relative).
const EXAMPLE_CARD: &str = "handset-sim/cards/example.toml";

fn write(path: &Path, trace: &Trace) {
    let mut out = Vec::new();
    write_trace(&mut out, trace, WriteOptions::default()).unwrap();
    std::fs::write(path, out).unwrap();
}

/// The first-use registration: a Nordvik N100 (sample IMEI 001245000000174) powers up
/// the example card (PIN 1234) over the in-process reader and attaches; the card asks
/// for the IMEI, finds none stored and sends its registration SMS. Recorder with a
/// stepping manual clock, card clock fixed at 0: the trace is byte-for-byte repeatable.
fn record_registration_first_use() -> Trace {
    let file = CardFile::load(&workspace().join(EXAMPLE_CARD)).unwrap();
    let card = fresh_card(&file, 0).unwrap();
    let mut rec = Recorder::with_clock(
        SimulatedReader::new(card),
        ManualClock::stepping(Duration::from_micros(100)),
    );
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
        )
        .set_header(
            "scenario",
            "first use: the card has no IMEI stored, registers the handset (one SMS)",
        );
    let config = TerminalConfig {
        pin: Some("1234".into()),
        default_poll_interval_ms: None,
        ..TerminalConfig::default()
    };
    let mut t = Terminal::with_config(rec, handset, SimNetwork::new(), config);
    t.power_up().unwrap();
    t.attach().unwrap();
    assert_eq!(t.network().sent.len(), 1, "one registration SMS");
    t.power_off();
    t.into_parts().0.into_parts().1
}

/// The committed first-use trace is exactly what the terminal and card produce today.
#[test]
fn registration_first_use_is_what_the_terminal_records() {
    let path = traces_dir().join("registration-first-use.apdu");
    let fresh = record_registration_first_use();
    if updating() || !path.exists() {
        write(&path, &fresh);
        eprintln!(
            "wrote {}; review the diff before committing",
            path.display()
        );
        return;
    }
    let committed = read_trace_file(&path).unwrap();
    if committed != fresh {
        let mut a = Vec::new();
        write_trace(&mut a, &fresh, WriteOptions::default()).unwrap();
        panic!(
            "{} differs from a fresh recording (set {UPDATE}=1 to rewrite, then review \
             the diff). Fresh recording:\n{}",
            path.display(),
            String::from_utf8_lossy(&a)
        );
    }
}

/// Every golden trace replays against a fresh card without a divergence.
#[test]
fn golden_traces_replay_identically() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(traces_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "apdu"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no traces in {}", traces_dir().display());
    let mut failures = Vec::new();
    for path in &files {
        let name = path
            .strip_prefix(workspace())
            .unwrap_or(path)
            .display()
            .to_string();
        let trace = read_trace_file(path).unwrap();
        let card_path = find_card_file(&trace.header, Some(path)).unwrap_or_else(|| {
            panic!(
                "{name}: header `card:` must name a card file (e.g. {EXAMPLE_CARD}); got {:?}",
                trace.header.get("card")
            )
        });
        let card = fresh_card(
            &CardFile::load(&card_path).unwrap(),
            card_clock_ms(&trace.header).unwrap(),
        )
        .unwrap();
        let mut reader = SimulatedReader::new(card);
        let update = updating();
        let outcome = replay(
            &trace,
            &mut reader,
            ReplayOptions {
                keep_going: update,
                record: update,
                ..ReplayOptions::default()
            },
        );
        reader.power_off();
        assert!(outcome.exchanges > 0, "{name}: no exchanges");
        if update {
            if !outcome.passed() {
                write(path, outcome.actual.as_ref().unwrap());
                eprintln!("{name}: rewritten with the card's answers; review the diff");
            }
            continue;
        }
        if let Some(d) = &outcome.divergence {
            failures.push(format!(
                "{}(set {UPDATE}=1 to accept the new behaviour, then review the diff)",
                d.report(&name)
            ));
        } else {
            eprintln!("{name}: {} exchange(s) identical", outcome.exchanges);
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// The check has teeth: the same trace against a card with another ICCID fails, and the
/// report names the first differing exchange (READ BINARY of EF.ICCID).
#[test]
fn a_changed_card_diverges_with_a_report() {
    let path = traces_dir().join("registration-first-use.apdu");
    let trace = read_trace_file(&path).unwrap();
    let mut file = CardFile::load(&workspace().join(EXAMPLE_CARD)).unwrap();
    file.iccid = Some("8949001012345678902".into());
    let mut reader = SimulatedReader::new(fresh_card(&file, 0).unwrap());
    let outcome = replay(&trace, &mut reader, ReplayOptions::default());
    let d = outcome.divergence.expect("a different ICCID must diverge");
    let report = d.report("registration-first-use.apdu");
    assert!(report.contains("READ BINARY"), "{report}");
    assert!(
        report.contains("98 94 00 01 21 43 65 87 09 F1 90 00"),
        "{report}"
    );
    assert!(
        report.contains("98 94 00 01 21 43 65 87 09 F2 90 00"),
        "{report}"
    );
}
