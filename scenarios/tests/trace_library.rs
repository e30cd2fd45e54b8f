//! APDU traces of the library scenarios (issue 8, "Replay as a regression test").
//!
//! `tests/traces/library/<scenario>.<card>.apdu` holds one trace per card of every
//! library scenario 01–17, as `imeitrack run --trace-dir` writes them. This file:
//! - re-records them (through the runner with `--trace-dir`'s engine) and fails when a
//!   committed trace differs from what the scenario produces today, or is missing or
//!   stale;
//! - replays every committed trace against a fresh card personalised from the
//!   scenario file and card name the header names (as the engine does), the card
//!   clock following the trace times and the recorded NVM cuts armed, and fails on the
//!   first divergence with the side-by-side report;
//! - checks that a second run gives byte-identical traces, and that a card whose
//!   behaviour was changed on purpose (it asks for the IMEISV; its clock does not
//!   move; a power cut is not armed) fails with the expected report.
//!
//! Updating is explicit: `IMEITRACK_UPDATE_TRACES=1 cargo test -p scenarios --test
//! trace_library` rewrites `tests/traces/library/` from the scenarios; review
//! `git diff tests/traces/` before committing (docs/traces.md §6).
//!
//! Story 18 (ten thousand swaps) is left out: 10,000 card traces.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use handset_sim::trace::card::{CARD_CLOCK_MODE_KEY, CardTimeline, NVM_CUT_KEY, replay_card};
use handset_sim::trace::{Event, ReplayOptions, Trace, read_trace_file};
use scenarios::engine::WorldFactory;
use scenarios::engine::traces::{SCENARIO_FILE_KEY, card_personalisation, fresh_scenario_card};
use scenarios::runner::{EngineOptions, Outcome, run_scenario};
use scenarios::scenario::{self, Scenario};

/// The switch that rewrites the committed traces.
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

fn library_traces() -> PathBuf {
    workspace().join("tests/traces/library")
}

/// Library scenarios 01–17.
fn library() -> Vec<Scenario> {
    let files = scenario::discover(&[scenario::library_dir()]).unwrap();
    let mut out: Vec<Scenario> = files
        .iter()
        .filter(|f| {
            let stem = f.file_stem().unwrap().to_string_lossy();
            let n: u32 = stem.split('-').next().unwrap().parse().unwrap_or(0);
            (1..=17).contains(&n)
        })
        .map(|f| scenario::load(f).unwrap())
        .collect();
    out.sort_by(|a, b| a.path.cmp(&b.path));
    assert_eq!(out.len(), 17, "library scenarios 01-17");
    out
}

/// Plays `s` as `imeitrack run --trace-dir DIR` does; returns file name → bytes.
fn record(s: &Scenario, dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let options = EngineOptions {
        trace_dir: Some(dir.to_path_buf()),
        ..EngineOptions::default()
    };
    let before: Vec<PathBuf> = files_in(dir);
    let r = run_scenario(s, &WorldFactory, &options);
    assert!(
        matches!(r.outcome, Outcome::Passed),
        "{}: {:?}",
        s.name,
        r.outcome
    );
    files_in(dir)
        .into_iter()
        .filter(|p| !before.contains(p))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect()
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|e| e == "apdu"))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn record_library() -> BTreeMap<String, Vec<u8>> {
    let tmp = tempfile::tempdir().unwrap();
    let mut all = BTreeMap::new();
    for s in library() {
        let got = record(&s, tmp.path());
        assert!(!got.is_empty(), "{}: no trace written", s.name);
        all.extend(got);
    }
    all
}

/// Where two texts first differ, as `line N: committed / recorded`.
fn first_difference(a: &[u8], b: &[u8]) -> String {
    let a = String::from_utf8_lossy(a);
    let b = String::from_utf8_lossy(b);
    let mut la = a.lines();
    let mut lb = b.lines();
    for n in 1.. {
        match (la.next(), lb.next()) {
            (Some(x), Some(y)) if x == y => {}
            (x, y) => {
                return format!(
                    "line {n}:\n  committed: {}\n  recorded:  {}",
                    x.unwrap_or("(end of file)"),
                    y.unwrap_or("(end of file)")
                );
            }
        }
    }
    String::new()
}

/// The committed traces are exactly what the scenarios record today (or, with the
/// switch, become it).
#[test]
fn committed_library_traces_are_what_the_scenarios_record() {
    let fresh = record_library();
    let dir = library_traces();
    if updating() {
        std::fs::create_dir_all(&dir).unwrap();
        for old in files_in(&dir) {
            let name = old.file_name().unwrap().to_string_lossy().into_owned();
            if !fresh.contains_key(&name) {
                std::fs::remove_file(&old).unwrap();
                eprintln!("removed stale {}", old.display());
            }
        }
        for (name, bytes) in &fresh {
            let path = dir.join(name);
            if std::fs::read(&path).ok().as_ref() != Some(bytes) {
                // Atomic, so a replay test running meanwhile reads old or new.
                let tmp = dir.join(format!(".{name}.tmp"));
                std::fs::write(&tmp, bytes).unwrap();
                std::fs::rename(&tmp, &path).unwrap();
                eprintln!("wrote {}", path.display());
            }
        }
        eprintln!("{UPDATE}=1: review `git diff tests/traces/` before committing");
        return;
    }
    let mut problems = Vec::new();
    let committed: BTreeMap<String, Vec<u8>> = files_in(&dir)
        .into_iter()
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    for (name, bytes) in &fresh {
        match committed.get(name) {
            None => problems.push(format!("{name}: not committed")),
            Some(c) if c != bytes => problems.push(format!(
                "{name}: differs from a fresh recording, first at {}",
                first_difference(c, bytes)
            )),
            Some(_) => {}
        }
    }
    for name in committed.keys() {
        if !fresh.contains_key(name) {
            problems.push(format!("{name}: stale (no scenario card records it)"));
        }
    }
    assert!(
        problems.is_empty(),
        "tests/traces/library/ is not what the library scenarios record now \
         (set {UPDATE}=1 to rewrite, then review `git diff tests/traces/`):\n{}",
        problems.join("\n")
    );
}

/// The scenario a committed trace names, loaded.
fn scenario_of(trace: &Trace, path: &Path) -> Scenario {
    let file = trace
        .header
        .get(SCENARIO_FILE_KEY)
        .unwrap_or_else(|| panic!("{}: no {SCENARIO_FILE_KEY} header", path.display()));
    scenario::load(&workspace().join(file)).unwrap()
}

fn replay_committed(path: &Path) -> (Trace, handset_sim::trace::ReplayOutcome) {
    let trace = read_trace_file(path).unwrap();
    let s = scenario_of(&trace, path);
    let card = trace.header.get("card").unwrap().to_owned();
    let timeline = CardTimeline::from_header(&trace.header).unwrap();
    let outcome = replay_card(
        &trace,
        fresh_scenario_card(&s, &card).unwrap(),
        &timeline,
        ReplayOptions::default(),
    );
    (trace, outcome)
}

/// Every committed library trace replays against a fresh card without a divergence.
#[test]
fn every_library_trace_replays_against_a_fresh_card() {
    let files = files_in(&library_traces());
    assert!(
        files.len() >= 17,
        "expected a trace per card of scenarios 01-17 in {}, found {}",
        library_traces().display(),
        files.len()
    );
    let mut exchanges = 0;
    for path in &files {
        let name = path
            .strip_prefix(workspace())
            .unwrap()
            .display()
            .to_string();
        let (trace, outcome) = replay_committed(path);
        if let Some(d) = &outcome.divergence {
            panic!(
                "{}(set {UPDATE}=1 to accept new behaviour, then review the diff)",
                d.report(&name)
            );
        }
        assert_eq!(outcome.exchanges, trace.exchange_count(), "{name}");
        assert!(outcome.exchanges > 0, "{name}: no exchanges");
        exchanges += outcome.exchanges;
    }
    eprintln!(
        "{} library trace(s), {exchanges} exchange(s), all identical",
        files.len()
    );
}

/// Playing the library twice gives byte-identical traces.
#[test]
fn rerunning_the_library_gives_byte_identical_traces() {
    let a = record_library();
    let b = record_library();
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "same files"
    );
    for (name, bytes) in &a {
        assert!(
            b[name] == *bytes,
            "{name}: second run differs at {}",
            first_difference(bytes, &b[name])
        );
    }
}

/// The 1-based exchange number, 1-based event number and source line of the first
/// exchange `pick` accepts, found by scanning the bytes.
fn find_exchange(t: &Trace, pick: impl Fn(&[u8], &[u8]) -> bool) -> (usize, usize, u32) {
    let mut exchange = 0;
    for (i, e) in t.entries().enumerate() {
        if let Event::Exchange(x) = e.event {
            exchange += 1;
            if pick(x.command, x.response.unwrap_or(&[])) {
                return (exchange, i + 1, e.line.unwrap());
            }
        }
    }
    panic!("no such exchange in the trace")
}

/// Whether `rsp` is a FETCH answer holding proactive command `kind` (tag D0, command
/// details 81 03 nn KIND qq).
fn proactive(cmd: &[u8], rsp: &[u8], kind: u8) -> bool {
    cmd.get(1) == Some(&0x12)
        && rsp.first() == Some(&0xD0)
        && rsp
            .windows(5)
            .any(|w| w[0] == 0x81 && w[1] == 0x03 && w[3] == kind)
}

/// A fresh card of story 01 with its personalisation changed by `change`.
fn changed_card(
    s: &Scenario,
    change: impl FnOnce(&mut applet::card::Personalisation),
) -> handset_sim::terminal::uicc::SimulatedUicc {
    let mut p = card_personalisation(s, "alice").unwrap();
    change(&mut p);
    handset_sim::terminal::uicc::SimulatedUicc::with_nvm(
        &p,
        applet::card::CardNvm::new(),
        handset_sim::terminal::uicc::CardClock::manual(),
    )
    .unwrap()
}

/// A card changed on purpose — its applet also asks for the IMEISV — diverges right
/// after the IMEI: the recorded card then had its registration SMS waiting (`91 4C`, a
/// 76-byte SEND SHORT MESSAGE), the changed one has an 11-byte command waiting (`91 0B`,
/// PROVIDE LOCAL INFORMATION for the IMEISV).
#[test]
fn a_card_asking_for_the_imeisv_diverges_with_the_expected_report() {
    let path = library_traces().join("01-first-use.alice.apdu");
    let trace = read_trace_file(&path).unwrap();
    let s = scenario_of(&trace, &path);
    let card = changed_card(&s, |p| {
        assert!(!p.applet.request_imeisv);
        p.applet.request_imeisv = true;
    });
    let timeline = CardTimeline::from_header(&trace.header).unwrap();
    let outcome = replay_card(&trace, card, &timeline, ReplayOptions::default());
    let d = outcome
        .divergence
        .expect("a card asking for the IMEISV must diverge");
    // The TERMINAL RESPONSE to the first PROVIDE LOCAL INFORMATION (type 26).
    let (pli, _, _) = find_exchange(&trace, |c, r| proactive(c, r, 0x26));
    let (exchange, event, line) = find_exchange(&trace, |c, _| c.get(1) == Some(&0x14));
    assert_eq!(exchange, pli + 1);
    let report = d.report("01-first-use.alice.apdu");
    let mut lines = report.lines();
    assert_eq!(
        lines.next(),
        Some(format!("replay diverged at exchange {exchange} (event {event}, 01-first-use.alice.apdu:{line})").as_str()),
        "{report}"
    );
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("command: 80 14 00 00 16 81 03 01 26 01"),
        "{report}"
    );
    assert!(
        lines
            .next()
            .unwrap()
            .contains("TERMINAL RESPONSE: PROVIDE LOCAL INFORMATION (IMEI) #1 type=26 qual=01 result=00 (performed successfully) IMEI=358765030000018"),
        "{report}"
    );
    assert!(
        report.contains("expected (trace)") && report.contains("| actual (card)"),
        "{report}"
    );
    let row = report
        .lines()
        .find(|l| l.starts_with("91 "))
        .unwrap_or_else(|| panic!("{report}"));
    let (left, right) = row.split_once('|').unwrap();
    assert_eq!((left.trim(), right.trim()), ("91 4C", "91 0B"), "{report}");
}

/// A card with another registration key diverges at the registration SMS, and the
/// report shows both messages decoded, with their different MACs.
#[test]
fn a_card_with_another_key_diverges_at_the_registration_sms() {
    let path = library_traces().join("01-first-use.alice.apdu");
    let trace = read_trace_file(&path).unwrap();
    let s = scenario_of(&trace, &path);
    let card = changed_card(&s, |p| p.applet.key[0] ^= 0x01);
    let timeline = CardTimeline::from_header(&trace.header).unwrap();
    let d = replay_card(&trace, card, &timeline, ReplayOptions::default())
        .divergence
        .expect("another key must diverge");
    let (exchange, event, line) = find_exchange(&trace, |c, r| proactive(c, r, 0x13));
    let report = d.report("01.apdu");
    assert!(
        report.starts_with(&format!(
            "replay diverged at exchange {exchange} (event {event}, 01.apdu:{line})\ncommand: 80 12 00 00 4C\n"
        )),
        "{report}"
    );
    let flat = report.replace('\n', " ");
    let macs: Vec<&str> = flat
        .split_whitespace()
        .filter_map(|w| w.strip_prefix("MAC="))
        .collect();
    assert_eq!(macs.len(), 2, "{report}");
    assert_ne!(macs[0], macs[1], "{report}");
    assert_eq!(
        flat.matches("SEND SHORT MESSAGE").count(),
        2,
        "both sides decoded: {report}"
    );
}

/// The recorded NVM cut matters: story 12's trace replayed without arming it diverges
/// where the torn commit answered `65 81`.
#[test]
fn story_12_without_its_power_cut_diverges() {
    let path = library_traces().join("12-power-cut-during-imei-commit.alice.apdu");
    let mut trace = read_trace_file(&path).unwrap();
    assert!(
        trace.header.get(NVM_CUT_KEY).is_some(),
        "the cut is recorded"
    );
    let (_, with_cut) = replay_committed(&path);
    assert!(with_cut.passed());
    trace.header.fields.retain(|(k, _)| k != NVM_CUT_KEY);
    let s = scenario_of(&trace, &path);
    let timeline = CardTimeline::from_header(&trace.header).unwrap();
    assert!(timeline.cuts.is_empty());
    let outcome = replay_card(
        &trace,
        fresh_scenario_card(&s, "alice").unwrap(),
        &timeline,
        ReplayOptions::default(),
    );
    let d = outcome
        .divergence
        .expect("without the cut the card answers otherwise");
    let report = d.report("12.apdu");
    assert!(
        report.contains("65 81 Execution error: Memory problem"),
        "{report}"
    );
    assert!(
        report.contains("| 90 00 Normal ending of the command"),
        "{report}"
    );
}

/// The card clock matters: in the fixture `period-limit` (one registration attempt per
/// hour), the third power-up two hours on registers again only because the card's
/// clock moved. Replayed with the clock following the trace: identical; with the clock
/// fixed at 0: the card refuses the attempt and the replay diverges there.
#[test]
fn the_card_clock_must_follow_the_trace() {
    let s = scenario::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/period-limit.toml"),
    )
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let files = record(&s, tmp.path());
    let (name, bytes) = files.iter().next().unwrap();
    assert_eq!(name, "period-limit.alice.apdu");
    let mut trace =
        handset_sim::trace::read_trace(std::str::from_utf8(bytes).unwrap(), name).unwrap();
    let follows = CardTimeline::from_header(&trace.header).unwrap();
    assert!(follows.follows_time);
    let ok = replay_card(
        &trace,
        fresh_scenario_card(&s, "alice").unwrap(),
        &follows,
        ReplayOptions::default(),
    );
    assert!(ok.passed(), "{:?}", ok.divergence);
    trace
        .header
        .fields
        .retain(|(k, _)| k != CARD_CLOCK_MODE_KEY);
    let fixed = CardTimeline::from_header(&trace.header).unwrap();
    assert!(!fixed.follows_time);
    let out = replay_card(
        &trace,
        fresh_scenario_card(&s, "alice").unwrap(),
        &fixed,
        ReplayOptions::default(),
    );
    let d = out
        .divergence
        .expect("a card clock stuck at 0 must diverge");
    let report = d.report(name);
    // The third power-up's TERMINAL RESPONSE to PROVIDE LOCAL INFORMATION: the moving
    // clock lets the card send its SMS (91 xx: a proactive command waits), the stuck one
    // does not (90 00).
    assert!(
        report.contains("TERMINAL RESPONSE: PROVIDE LOCAL INFORMATION"),
        "{report}"
    );
    assert!(
        report.contains("| 90 00 Normal ending of the command"),
        "{report}"
    );
    match &d.mismatch {
        handset_sim::trace::replay::Mismatch::Response { expected, .. } => {
            assert_eq!(expected.first(), Some(&0x91), "{report}");
        }
        other => panic!("{other:?}\n{report}"),
    }
}

fn imeitrack(args: &[&str], cwd: &Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_imeitrack"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run imeitrack");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// `imeitrack run --trace-dir` writes the committed bytes, and `imeitrack trace replay`
/// finds the scenario from the header (from the workspace root and from elsewhere).
#[test]
fn command_line_records_and_replays_library_traces() {
    let ws = workspace();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("traces");
    let (rc, out, err) = imeitrack(
        &[
            "run",
            "--trace-dir",
            dir.to_str().unwrap(),
            "scenarios/14-forged-and-replayed-registrations.toml",
        ],
        &ws,
    );
    assert_eq!(rc, 0, "{out}{err}");
    let written = files_in(&dir);
    let names: Vec<String> = written
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "14-forged-and-replayed-registrations.alice.apdu",
            "14-forged-and-replayed-registrations.bob.apdu"
        ]
    );
    if !updating() {
        for p in &written {
            let committed = library_traces().join(p.file_name().unwrap());
            assert!(
                std::fs::read(p).unwrap() == std::fs::read(&committed).unwrap(),
                "{} differs from {}",
                p.display(),
                committed.display()
            );
        }
    }
    let rel = "tests/traces/library/01-first-use.alice.apdu";
    let (rc, out, err) = imeitrack(&["trace", "replay", rel], &ws);
    assert_eq!(rc, 0, "{out}{err}");
    assert!(
        out.contains("replayed against card alice of ")
            && out.contains("scenarios/01-first-use.toml as the engine personalises it")
            && out.contains("following the trace times), all responses identical"),
        "{out}"
    );
    // From another directory: the scenario file is found above the trace.
    let abs = ws.join(rel);
    let (rc, out, err) = imeitrack(&["trace", "replay", abs.to_str().unwrap()], tmp.path());
    assert_eq!(rc, 0, "{out}{err}");
    // A trace outside the workspace needs --scenario.
    let moved = tmp.path().join("moved.apdu");
    std::fs::copy(&abs, &moved).unwrap();
    let (rc, _, err) = imeitrack(&["trace", "replay", moved.to_str().unwrap()], tmp.path());
    assert_eq!(rc, 2, "{err}");
    assert!(
        err.contains("header scenario-file: scenarios/01-first-use.toml not found"),
        "{err}"
    );
    assert!(err.contains("--scenario FILE"), "{err}");
    let scen = ws.join("scenarios/01-first-use.toml");
    let (rc, out, err) = imeitrack(
        &[
            "trace",
            "replay",
            moved.to_str().unwrap(),
            "--scenario",
            scen.to_str().unwrap(),
        ],
        tmp.path(),
    );
    assert_eq!(rc, 0, "{out}{err}");
    // Another scenario's card of the same name is another card (its registration key
    // is drawn from that scenario's seed).
    let other = ws.join("scenarios/14-forged-and-replayed-registrations.toml");
    let (rc, _, err) = imeitrack(
        &[
            "trace",
            "replay",
            moved.to_str().unwrap(),
            "--scenario",
            other.to_str().unwrap(),
        ],
        tmp.path(),
    );
    assert_eq!(rc, 1, "{err}");
    assert!(err.starts_with("replay diverged at exchange "), "{err}");
}

/// A card's trace follows it across handsets: story 17's card, used in five handsets in
/// a day, has one trace naming all five, with a cold reset in each.
#[test]
fn one_trace_follows_the_card_across_handsets() {
    let t =
        read_trace_file(&library_traces().join("17-five-handsets-in-a-day.alice.apdu")).unwrap();
    let handsets = t.header.get("handset").unwrap();
    for h in [
        "h1 (IMEI ",
        "h2 (IMEI ",
        "h3 (IMEI ",
        "h4 (IMEI ",
        "h5 (IMEI ",
    ] {
        assert!(handsets.contains(h), "{handsets}");
    }
    let power_ons = t
        .entries()
        .filter(|e| matches!(e.event, Event::PowerOn { .. }))
        .count();
    assert_eq!(power_ons, 5);
    // Times only grow, from 0, and the card clock starts where the card was first used.
    let times: Vec<_> = t.entries().map(|e| e.time.unwrap()).collect();
    assert_eq!(times[0], std::time::Duration::ZERO);
    assert!(times.windows(2).all(|w| w[0] <= w[1]));
    assert!(*times.last().unwrap() >= std::time::Duration::from_secs(3600));
}
