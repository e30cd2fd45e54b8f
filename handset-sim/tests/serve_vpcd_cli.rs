//! `handset-sim serve-vpcd`: the card's NVM kept in a file across runs (`--nvm`), and
//! card-side traces (`--trace`, `--trace-dir`).
//!
//! The pcscd tests run the real binary on vpcd slot 1 and drive it with the terminal
//! over `PcscReader`; they need `pcscd` and `vsmartcard-vpcd` (skipped with a message
//! outside CI, failing with `CI=true`).

mod common;

use std::path::{Path, PathBuf};

use applet::wire::registration::{EventKind, RegistrationRepr};
use applet::wire::sms::tpdu::SmsSubmit;
use common::pcscd::{ServedProcess, connect_when_ready, lock_slot, pcscd_ready};
use handset_sim::CardReader;
use handset_sim::profile::{Catalogue, Handset};
use handset_sim::reader::sim::SimulatedReader;
use handset_sim::terminal::uicc::{CardClock, CardFile, NvmFile, PersistentUicc};
use handset_sim::terminal::{SimNetwork, Terminal, TerminalConfig};

const BIN: &str = env!("CARGO_BIN_EXE_handset-sim");

fn example_card() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("cards/example.toml")
}

fn handset(name: &str) -> Handset {
    Catalogue::builtin().unwrap().by_name(name).unwrap().clone()
}

fn config() -> TerminalConfig {
    TerminalConfig {
        pin: Some("1234".into()),
        default_poll_interval_ms: None,
        ..TerminalConfig::default()
    }
}

/// One power-up + attach as `h`; the registration events the card sent.
fn session<R: CardReader>(reader: R, h: &Handset) -> (R, Vec<EventKind>) {
    let mut t = Terminal::with_config(reader, h.clone(), SimNetwork::new(), config());
    t.power_up().unwrap();
    t.attach().unwrap();
    let key = CardFile::load(&example_card())
        .unwrap()
        .personalisation()
        .unwrap()
        .applet
        .key;
    let events = t
        .network()
        .sent
        .iter()
        .map(|m| {
            let sub = SmsSubmit::parse(&m.tpdu).unwrap();
            RegistrationRepr::verify(sub.user_data.data().unwrap(), &key)
                .unwrap()
                .event
        })
        .collect();
    t.power_off();
    (t.into_parts().0, events)
}

/// In process: the image file follows every committed change; a card reopened from it
/// remembers the IMEI it stored.
#[test]
fn persistent_card_remembers_the_imei_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("card.nvm");
    let p = CardFile::load(&example_card())
        .unwrap()
        .personalisation()
        .unwrap();
    let a = handset("Nordvik N100");
    let b = handset("Solstice S22");

    let card = PersistentUicc::open(&p, NvmFile::new(&path), CardClock::fixed(0)).unwrap();
    assert_eq!(
        std::fs::read(&path).unwrap().len(),
        applet::card::NVM_LEN,
        "a new card is saved at once"
    );
    let blank = std::fs::read(&path).unwrap();
    let (reader, ev) = session(SimulatedReader::new(card), &a);
    assert_eq!(ev, [EventKind::FIRST_USE]);
    // Saved after the committing command, before any shutdown.
    let after = std::fs::read(&path).unwrap();
    assert_ne!(after, blank, "the committed IMEI reached the file");
    assert_eq!(&after[..], &reader.card().uicc().nvm_image()[..]);
    drop(reader);

    // "Next run": same handset → nothing to report; another handset → one change.
    let card = PersistentUicc::open(&p, NvmFile::new(&path), CardClock::fixed(0)).unwrap();
    let (reader, ev) = session(SimulatedReader::new(card), &a);
    assert_eq!(ev, [], "the stored IMEI survived the restart");
    let (reader, ev) = session(reader, &b);
    assert_eq!(ev, [EventKind::HANDSET_CHANGED]);
    drop(reader);
    let card = PersistentUicc::open(&p, NvmFile::new(&path), CardClock::fixed(0)).unwrap();
    let (_, ev) = session(SimulatedReader::new(card), &b);
    assert_eq!(ev, []);

    // A file of the wrong size is refused with its name.
    std::fs::write(&path, b"short").unwrap();
    let err = PersistentUicc::open(&p, NvmFile::new(&path), CardClock::fixed(0)).unwrap_err();
    assert!(err.contains("card.nvm") && err.contains("1024"), "{err}");
}

/// Through pcscd: `serve-vpcd --nvm FILE` twice (SIGTERM between the runs); the second
/// run's card knows the handset of the first and sends no registration.
#[test]
fn serve_vpcd_nvm_file_survives_a_restart() {
    if !pcscd_ready() {
        return;
    }
    let _slot = lock_slot(1);
    let dir = tempfile::tempdir().unwrap();
    let nvm = dir.path().join("served.nvm");
    let card = example_card();
    let args = [
        "--card",
        card.to_str().unwrap(),
        "--nvm",
        nvm.to_str().unwrap(),
    ];
    let a = handset("Nordvik N100");
    let b = handset("Solstice S22");

    let mut server = ServedProcess::start(BIN, 1, &args);
    let reader = connect_when_ready(1, &applet::card::ATR);
    let (mut reader, ev) = session(reader, &a);
    assert_eq!(ev, [EventKind::FIRST_USE]);
    reader.power_off();
    drop(reader);
    assert!(server.stop().unwrap().success());
    assert_eq!(std::fs::read(&nvm).unwrap().len(), applet::card::NVM_LEN);

    let mut server = ServedProcess::start(BIN, 1, &args);
    let reader = connect_when_ready(1, &applet::card::ATR);
    let (reader, ev) = session(reader, &a);
    assert_eq!(ev, [], "second run: same handset, IMEI remembered");
    let (mut reader, ev) = session(reader, &b);
    assert_eq!(ev, [EventKind::HANDSET_CHANGED]);
    reader.power_off();
    drop(reader);
    assert!(server.stop().unwrap().success());
}

fn events(t: &handset_sim::trace::Trace) -> Vec<String> {
    t.entries().map(|e| format!("{:?}", e.event)).collect()
}

/// In process: a `CardRecorder` under the reader sees exactly what a `Recorder` above
/// the reader sees (same events, same bytes) — the card-side view used by
/// `serve-vpcd --trace`.
#[test]
fn card_side_recording_equals_reader_side_recording() {
    use handset_sim::trace::{CardRecorder, ManualClock, Recorder};
    let file = CardFile::load(&example_card()).unwrap();
    let card = handset_sim::trace::card::fresh_card(&file, 0).unwrap();
    let card = CardRecorder::with_clock(card, "in process", ManualClock::default());
    let reader = Recorder::with_clock(SimulatedReader::new(card), ManualClock::default());
    let (reader, ev) = session(reader, &handset("Nordvik N100"));
    assert_eq!(ev, [EventKind::FIRST_USE]);
    let (sim, reader_side) = reader.into_parts();
    let (_, card_side) = sim.into_card().into_parts();
    assert!(reader_side.exchange_count() > 15);
    assert_eq!(events(&card_side), events(&reader_side));
}

/// `serve-vpcd --trace FILE --clock fixed:0`: the card-side trace of a session run
/// through pcscd, and `probe --trace-dir DIR` on the terminal side of the same kind of
/// session; both are valid `.apdu` files that replay identically against a fresh
/// in-process card personalised from the same card file.
#[test]
fn serve_vpcd_and_probe_record_traces() {
    use handset_sim::trace::card::{card_clock_ms, find_card_file, fresh_card};
    use handset_sim::trace::{Event, ReplayOptions, read_trace_file, replay};
    if !pcscd_ready() {
        return;
    }
    let _slot = lock_slot(1);
    let dir = tempfile::tempdir().unwrap();
    let card_trace = dir.path().join("card-side.apdu");
    let probe_dir = dir.path().join("probe-traces");
    let card = example_card();
    let mut server = ServedProcess::start(
        BIN,
        1,
        &[
            "--card",
            card.to_str().unwrap(),
            "--clock",
            "fixed:0",
            "--trace",
            card_trace.to_str().unwrap(),
        ],
    );
    let mut r = connect_when_ready(1, &applet::card::ATR);
    r.release();
    drop(r);
    let out = std::process::Command::new(BIN)
        .args([
            "probe",
            "--reader",
            &common::pcscd::reader_name(1),
            "--imei",
            "001245000000174",
            "--pin",
            "1234",
            "--trace-dir",
            probe_dir.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("MO SMS sent by the card: 1"), "{stdout}");
    assert!(server.stop().unwrap().success());

    let probe_files: Vec<PathBuf> = std::fs::read_dir(&probe_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(probe_files.len(), 1, "{probe_files:?}");
    let name = probe_files[0].file_name().unwrap().to_string_lossy();
    assert!(
        name.starts_with("probe-") && name.ends_with(".apdu"),
        "{name}"
    );
    let terminal_side = read_trace_file(&probe_files[0]).unwrap();
    let card_side = read_trace_file(&card_trace).unwrap();
    assert_eq!(
        terminal_side.header.get("handset"),
        Some("Nordvik N100 IMEI 001245000000174")
    );
    assert_eq!(card_side.header.get("card"), card.to_str());
    assert_eq!(card_side.header.get("card-clock-ms"), Some("0"));
    assert!(
        card_side
            .header
            .get("producer")
            .unwrap()
            .contains("card side")
    );
    let mut decoded = Vec::new();
    handset_sim::trace::decode::decode_trace(&card_side, &mut decoded).unwrap();
    let text = String::from_utf8(decoded).unwrap();
    assert!(text.contains("PROVIDE LOCAL INFORMATION (IMEI)"), "{text}");
    assert!(text.contains("IMEI=001245000000174"), "{text}");
    assert!(text.contains("event=01 (first use)"), "{text}");

    // The terminal's exchanges all reached the card, in order (pcscd adds none).
    let exchanges = |t: &handset_sim::trace::Trace| -> Vec<(Vec<u8>, Vec<u8>)> {
        t.entries()
            .filter_map(|e| match e.event {
                Event::Exchange(x) => Some((x.command.to_vec(), x.response.unwrap().to_vec())),
                _ => None,
            })
            .collect()
    };
    assert_eq!(exchanges(&card_side), exchanges(&terminal_side));

    // Both replay identically against a fresh in-process card (fixed clock 0).
    for (what, t, path) in [
        ("card side", &card_side, &card_trace),
        ("terminal side", &terminal_side, &probe_files[0]),
    ] {
        let card_file = find_card_file(&card_side.header, Some(path)).unwrap();
        let fresh = fresh_card(
            &CardFile::load(&card_file).unwrap(),
            card_clock_ms(&t.header).unwrap(),
        )
        .unwrap();
        let outcome = replay(
            t,
            &mut SimulatedReader::new(fresh),
            ReplayOptions::default(),
        );
        if let Some(d) = &outcome.divergence {
            panic!("{what}:\n{}", d.report(&path.display().to_string()));
        }
        assert!(outcome.exchanges > 15, "{what}");
    }
}
