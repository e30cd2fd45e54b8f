//! The terminal over the real PC/SC stack: a card served through vpcd to `pcscd`, the
//! handset on the other side through `PcscReader` — and the `handset-sim probe` binary.
//!
//! Prerequisites (`pcscd`, `vsmartcard-vpcd`): missing → skip, or failure with `CI=true`
//! (harness in `tests/common/`). Slot locks keep parallel tests apart.

mod common;
mod terminal_support;

use common::card::tagged_atr;
use common::pcscd::{Served, atr_tag, connect_when_ready, lock_slot, pcscd_ready, reader_name};
use handset_sim::profile::Catalogue;
use handset_sim::terminal::{SimNetwork, Terminal};
use terminal_support::{ScriptedCard, h};

const PLI_IMEI: &str = "D0 09 81 03 01 26 01 82 02 81 82";
const SEND_SM: &str = "D0 30 81 03 01 13 00 82 02 81 83 8B 25 01 00 0C 91 44 77 00 09 10 32 00 04 18 \
                       49 54 01 4A 09 51 24 30 32 57 81 00 00 00 00 01 11 22 33 44 55 66 77 88";

#[test]
fn scripted_session_through_pcscd() {
    if !pcscd_ready() {
        return;
    }
    let _slot = lock_slot(0);
    let mut card = ScriptedCard::with_commands([h(PLI_IMEI), h(SEND_SM)]);
    card.atr = tagged_atr(atr_tag(0));
    let _served = Served::start(card.clone(), 0);
    let reader = connect_when_ready(0, &card.atr);
    let handset = Catalogue::builtin().unwrap().models()[0].clone();
    let mut t = Terminal::new(reader, handset, SimNetwork::new());
    let info = t.power_up().unwrap();
    assert_eq!(info.iccid, "8988211000000430010");
    assert_eq!(info.imsi, "001010123456789");
    // Nordvik N100 sample IMEI 001245000000174 → 14 08 0A 10 42 05 00 00 10 47 in the TR.
    let st = card.state();
    assert_eq!(
        st.responses[0],
        h("81 03 01 26 01 82 02 82 81 83 01 00 14 08 0A 10 42 05 00 00 10 47")
    );
    assert_eq!(st.responses[1], h("81 03 01 13 00 82 02 82 81 83 01 00"));
    drop(st);
    assert_eq!(t.network().sent.len(), 1);
    t.power_off();
}

#[test]
fn probe_binary_prints_the_decoded_session() {
    if !pcscd_ready() {
        return;
    }
    let _slot = lock_slot(1);
    let mut card = ScriptedCard::with_commands([h(PLI_IMEI), h(SEND_SM)]);
    card.atr = tagged_atr(atr_tag(1));
    let _served = Served::start(card.clone(), 1);
    // Wait until pcscd shows our card, then let the binary open the reader itself.
    let mut r = connect_when_ready(1, &card.atr);
    r.release();
    drop(r);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_handset-sim"))
        .args([
            "probe",
            "--reader",
            &reader_name(1),
            "--imei",
            "001245000000174",
            "--sms-result",
            "rp-error:41",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    for needle in [
        "handset: Nordvik N100",
        "ICCID 8988211000000430010",
        "IMSI 001010123456789",
        "PROVIDE LOCAL INFORMATION (qualifier 01): IMEI",
        "IMEI 001245000000174",
        "SMS-SUBMIT to +447700900123",
        "RP-ERROR cause 41",
        "35 SMS RP-ERROR (+29)",
        "MO SMS sent by the card: 1",
    ] {
        assert!(stdout.contains(needle), "missing {needle:?} in:\n{stdout}");
    }
    assert!(
        card.state()
            .responses
            .contains(&h("81 03 01 13 00 82 02 82 81 83 02 35 29"))
    );
}
