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
