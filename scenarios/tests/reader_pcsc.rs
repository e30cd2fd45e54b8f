//! `imeitrack run FILE --reader pcsc:NAME` through a real `pcscd`: the scenario's card
//! served by `imeitrack serve-vpcd --scenario FILE --card alice` on vpcd slot 1
//! ("Virtual PCD 00 01"), played by the `imeitrack` binary.
//!
//! Needs `pcscd` and `vsmartcard-vpcd` (Debian packages `pcscd`, `vsmartcard-vpcd`):
//! skipped with a message outside CI, failing with `CI=true`. The pcscd harness is
//! handset-sim's (`handset-sim/tests/common/pcscd.rs`: starts `pcscd -f` when none
//! runs and leaves it running). Each APDU through vpcd takes ~30 ms and each cold
//! reset ~0.8 s, so only stories 01 and 03 are played here; the rest of the reader
//! mode is covered in process by `scenarios::engine::reader`'s tests.

#[allow(dead_code)]
#[path = "../../handset-sim/tests/common/pcscd.rs"]
mod pcscd;

use std::path::PathBuf;
use std::process::Command;

use handset_sim::trace::read_trace_file;

const IMEITRACK: &str = env!("CARGO_BIN_EXE_imeitrack");
const SLOT: u16 = 1;

fn story(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("{name}.toml"))
}

fn imeitrack(args: &[&str]) -> (i32, String) {
    let out = Command::new(IMEITRACK).args(args).output().unwrap();
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

/// Stories 01 (first use) and 03 (swap to a supported handset) with the card in
/// pcscd's vpcd reader: every expectation passes, and the card-side trace shows the
/// card itself ran the registrations and answered the engine's EF.TRACK_STATE reads.
#[test]
fn first_use_and_swap_play_through_pcscd() {
    if !pcscd::pcscd_ready() {
        return;
    }
    let _slot = pcscd::lock_slot(SLOT);
    let reader = format!("pcsc:{}", pcscd::reader_name(SLOT));
    for (name, events) in [
        ("01-first-use", &["event=01 (first use)"][..]),
        (
            "03-swap-supported",
            &["event=01 (first use)", "event=02 (handset changed)"][..],
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let card_trace = dir.path().join("card.apdu");
        let file = story(name);
        let mut server = pcscd::ServedProcess::start(
            IMEITRACK,
            SLOT,
            &[
                "--scenario",
                file.to_str().unwrap(),
                "--card",
                "alice",
                "--trace",
                card_trace.to_str().unwrap(),
            ],
        );
        let mut r = pcscd::connect_when_ready(SLOT, &applet::card::ATR);
        r.release();
        drop(r);

        let (code, out) = imeitrack(&["run", file.to_str().unwrap(), "--reader", &reader]);
        assert_eq!(code, 0, "{name}: {out}");
        assert!(out.contains("passed"), "{name}: {out}");
        assert!(server.stop().unwrap().success(), "{name}");

        let trace = read_trace_file(&card_trace).unwrap();
        let mut decoded = Vec::new();
        handset_sim::trace::decode::decode_trace(&trace, &mut decoded).unwrap();
        let text = String::from_utf8(decoded).unwrap();
        for e in events {
            assert!(text.contains(e), "{name}: card never sent {e}:\n{text}");
        }
        // Before the story: the identity read (EF.ICCID); after the card_state step:
        // SELECT 7F4A/6F02 and READ BINARY 64, both answered by the card.
        let select_state = "00A4080C047F4A6F02";
        let commands: Vec<String> = trace
            .entries()
            .filter_map(|e| match e.event {
                handset_sim::trace::Event::Exchange(x) => Some(hex::encode_upper(x.command)),
                _ => None,
            })
            .collect();
        assert_eq!(
            commands.iter().filter(|c| *c == select_state).count(),
            2,
            "{name}: one freshness read before the story, one card_state read"
        );
        assert!(commands.iter().any(|c| c == "00A4080C022FE2"), "{name}");
    }
}

/// A story that cuts the card's power at an NVM write is refused before any reader is
/// opened (so this needs no pcscd), naming the step; exit status 2.
#[test]
fn cut_power_is_refused_with_the_step() {
    let file = story("12-power-cut-during-imei-commit");
    let (code, out) = imeitrack(&[
        "run",
        file.to_str().unwrap(),
        "--reader",
        "pcsc:Virtual PCD 00 01",
    ]);
    assert_eq!(code, 2, "{out}");
    let s = scenarios::scenario::load(&file).unwrap();
    let step = s
        .steps
        .iter()
        .find(|st| matches!(st.action, scenarios::scenario::Action::CutPower { .. }))
        .unwrap();
    assert!(
        out.contains(&format!(
            "step {} \"{}\" (line {})",
            step.index, step.label, step.line
        )),
        "{out}"
    );
    assert!(
        out.contains("cut_power on card \"alice\"")
            && out.contains("cannot lose power at a chosen NVM write"),
        "{out}"
    );
}

/// `--reader` plays one story per run, and `--card` needs `--reader`.
#[test]
fn reader_options_are_checked_by_the_command_line() {
    let a = story("01-first-use");
    let b = story("03-swap-supported");
    let (code, out) = imeitrack(&[
        "run",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--reader",
        "pcsc:0",
    ]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("one scenario per run (2 given)"), "{out}");
    let (code, out) = imeitrack(&["run", a.to_str().unwrap(), "--card", "alice"]);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("--reader"), "{out}");
    let (code, out) = imeitrack(&[
        "serve-vpcd",
        "--scenario",
        a.to_str().unwrap(),
        "--card",
        "bob",
    ]);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("no card \"bob\""), "{out}");
}
