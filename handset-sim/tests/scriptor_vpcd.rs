//! pcsc-tools' `scriptor` talks to the project's REAL card (`applet::card::Card` with
//! the IMEI-tracking applet, personalised from `handset-sim/cards/example.toml`) served
//! by the `handset-sim serve-vpcd` binary through vpcd and `pcscd` — an independent
//! PC/SC client, not our own `PcscReader`.
//!
//! The script: SELECT MF → `61 xx`, GET RESPONSE → FCP `62 …`, SELECT EF.ICCID + GET
//! RESPONSE, READ BINARY → the personalised EF.ICCID bytes, TERMINAL PROFILE → `91 xx`,
//! FETCH → `D0 … 81 03 01 26 01 …` (PROVIDE LOCAL INFORMATION, IMEI). scriptor's output
//! is checked line by line, and as a whole against the same commands sent to an
//! in-process card personalised from the same file.
//!
//! Prerequisites: `pcscd`, `vsmartcard-vpcd`, `pcsc-tools`; missing → skipped with a
//! message, or a failure with `CI=true`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::pcscd::{
    ServedProcess, connect_when_ready, have_program, lock_slot, missing, pcscd_ready, reader_name,
};
use handset_sim::CardReader;
use handset_sim::reader::sim::SimulatedReader;
use handset_sim::terminal::uicc::CardFile;
use handset_sim::trace::card::fresh_card;
use handset_sim::trace::{Event, scriptor};

const BIN: &str = env!("CARGO_BIN_EXE_handset-sim");

fn example_card() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("cards/example.toml")
}

fn h(s: &str) -> Vec<u8> {
    hex::decode(s.replace(' ', "")).unwrap()
}

fn spaced(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02X}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// TERMINAL PROFILE the terminal sends for the Nordvik N100 (8 bytes; see
/// `tests/traces/registration-first-use.apdu`): PROVIDE LOCAL INFORMATION supported.
const TERMINAL_PROFILE: &str = "80 10 00 00 08 23 01 29 42 11 00 00 01";

/// The script, with Le values taken from an in-process card personalised from the same
/// file; returns the commands and the answers that card gave.
fn script_and_expected() -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let file = CardFile::load(&example_card()).unwrap();
    let mut r = SimulatedReader::new(fresh_card(&file, 0).unwrap());
    r.power_on().unwrap();
    let mut cmds = Vec::new();
    let mut rsps = Vec::new();
    let mut send = |cmd: Vec<u8>, cmds: &mut Vec<Vec<u8>>| {
        let rsp = r.transmit(&cmd).unwrap();
        cmds.push(cmd);
        rsps.push(rsp.clone());
        rsp
    };
    let sel = send(h("00 A4 00 04 02 3F 00"), &mut cmds);
    send(vec![0x00, 0xC0, 0x00, 0x00, sel[1]], &mut cmds);
    let sel = send(h("00 A4 00 04 02 2F E2"), &mut cmds);
    send(vec![0x00, 0xC0, 0x00, 0x00, sel[1]], &mut cmds);
    send(h("00 B0 00 00 0A"), &mut cmds);
    let tp = send(h(TERMINAL_PROFILE), &mut cmds);
    send(vec![0x80, 0x12, 0x00, 0x00, tp[1]], &mut cmds);
    (cmds, rsps)
}

#[test]
fn scriptor_gets_the_real_cards_answers_through_pcscd() {
    if !pcscd_ready() {
        return;
    }
    if !have_program("scriptor") {
        missing("scriptor is not installed", "pcsc-tools");
        return;
    }
    let (cmds, expected) = script_and_expected();

    // The answers the in-process card gave are the ones the spec asks for.
    let iccid = CardFile::load(&example_card())
        .unwrap()
        .personalisation()
        .unwrap()
        .files
        .iccid;
    assert_eq!(expected[0][0], 0x61, "SELECT MF → 61 xx");
    assert_eq!(expected[1][0], 0x62, "GET RESPONSE → FCP template 62");
    assert_eq!(expected[1].len(), usize::from(expected[0][1]) + 2);
    assert_eq!(expected[2][0], 0x61, "SELECT EF.ICCID → 61 xx");
    assert_eq!(expected[4], [&iccid[..], &[0x90, 0x00]].concat());
    assert_eq!(expected[5][0], 0x91, "TERMINAL PROFILE → 91 xx");
    assert_eq!(
        expected[6][..],
        [h("D0 09 81 03 01 26 01 82 02 81 82"), h("90 00")].concat()[..],
        "FETCH → PROVIDE LOCAL INFORMATION (IMEI)"
    );

    let _slot = lock_slot(1);
    let card = example_card();
    let mut server = ServedProcess::start(BIN, 1, &["--card", card.to_str().unwrap()]);
    // Wait until pcscd shows the card, then let scriptor open the reader itself.
    let mut r = connect_when_ready(1, &applet::card::ATR);
    r.release();
    drop(r);

    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("session.script");
    let text: String = cmds.iter().map(|c| spaced(c) + "\n").collect();
    std::fs::write(&script, &text).unwrap();
    let out = Command::new("scriptor")
        .args(["-r", &reader_name(1)])
        .arg(&script)
        .output()
        .expect("run scriptor");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "scriptor failed:\n{stdout}\n{stderr}");
    eprintln!("{stdout}");

    // Line checks on scriptor's own output.
    assert!(stdout.contains("Using T=0 protocol"), "{stdout}");
    for c in &cmds {
        assert!(stdout.contains(&format!("> {}", spaced(c))), "{stdout}");
    }
    assert!(
        stdout.contains(&format!("< 61 {:02X} : ", expected[0][1])),
        "{stdout}"
    );
    assert!(stdout.contains("< 62 "), "FCP: {stdout}");
    assert!(
        stdout.contains(&format!("< {} 90 00 : Normal processing.", spaced(&iccid))),
        "ICCID: {stdout}"
    );
    assert!(
        stdout.contains(&format!("< 91 {:02X} : ", expected[5][1])),
        "{stdout}"
    );
    assert!(
        stdout.contains("< D0 09 81 03 01 26 01 82 02 81 82 90 00 : Normal processing."),
        "FETCH: {stdout}"
    );

    // The whole log, read back with the project's scriptor importer, equals what the
    // in-process card answered, exchange by exchange.
    let log = scriptor::import(&stdout, "scriptor.log").unwrap();
    let got: Vec<(Vec<u8>, Vec<u8>)> = log
        .entries()
        .filter_map(|e| match e.event {
            Event::Exchange(x) => Some((x.command.to_vec(), x.response.unwrap().to_vec())),
            _ => None,
        })
        .collect();
    let want: Vec<(Vec<u8>, Vec<u8>)> = cmds.into_iter().zip(expected).collect();
    assert_eq!(got, want);
    let status = server.stop().expect("server exit status");
    assert!(status.success(), "serve-vpcd exit: {status}");
}
