//! Bad input from the card: malformed BER-TLV, unknown commands, truncated FETCH data,
//! a card that never stops sending `91 xx`, random bytes. The terminal answers with the
//! right TERMINAL RESPONSE (`02-cat.md` §5 result codes; decisions in
//! `handset_sim::terminal` toolkit docs) or stops with a clear error — bounded, never a
//! panic or a hang.

mod terminal_support;

use handset_sim::profile::Catalogue;
use handset_sim::reader::sim::SimulatedReader;
use handset_sim::terminal::{SessionEvent, SimNetwork, Terminal, TerminalConfig, TerminalError};
use proptest::prelude::*;
use terminal_support::{Fetch, ScriptedCard, h};

fn run(script: Vec<Fetch>) -> (ScriptedCard, Result<(), TerminalError>, Vec<SessionEvent>) {
    let card = ScriptedCard::new(script);
    let handset = Catalogue::builtin()
        .unwrap()
        .by_name("Solstice S22")
        .unwrap()
        .clone();
    let mut t = Terminal::with_config(
        SimulatedReader::new(card.clone()),
        handset,
        SimNetwork::new(),
        TerminalConfig {
            default_poll_interval_ms: None,
            ..TerminalConfig::default()
        },
    );
    let r = t.power_up().map(|_| ());
    let log = t.log().iter().map(|e| e.event.clone()).collect();
    (card, r, log)
}

fn answers(script: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    let (card, r, _) = run(script.into_iter().map(Fetch::cmd).collect());
    r.unwrap();
    card.state().responses.clone()
}

#[test]
fn unknown_and_unsupported_command_types() {
    let r = answers(vec![
        // 7E: not a TS 102 223 command type → 31.
        h("D0 09 81 03 01 7E 00 82 02 81 82"),
        // SET UP CALL (10): defined, not implemented → 30.
        h("D0 09 81 03 02 10 00 82 02 81 83"),
        // REFRESH (01) → 30.
        h("D0 09 81 03 03 01 00 82 02 81 82"),
        // OPEN CHANNEL (40) → 30.
        h("D0 09 81 03 04 40 01 82 02 81 82"),
    ]);
    assert_eq!(r[0], h("81 03 01 7E 00 82 02 82 81 83 01 31"));
    assert_eq!(r[1], h("81 03 02 10 00 82 02 82 81 83 01 30"));
    assert_eq!(r[2], h("81 03 03 01 00 82 02 82 81 83 01 30"));
    assert_eq!(r[3], h("81 03 04 40 01 82 02 82 81 83 01 30"));
}

#[test]
fn command_details_echo_keeps_the_cr_bit() {
    // Command details sent with CR clear (01 03 …): echoed with CR clear.
    let r = answers(vec![h("D0 09 01 03 05 26 01 82 02 81 82")]);
    assert_eq!(r[0][..5], h("01 03 05 26 01")[..]);
}

#[test]
fn malformed_known_commands() {
    let r = answers(vec![
        // SEND SHORT MESSAGE without a TPDU → 36 required values missing.
        h("D0 09 81 03 01 13 00 82 02 81 83"),
        // SEND SHORT MESSAGE whose TPDU is an SMS-DELIVER, not a SUBMIT → 32.
        h("D0 11 81 03 02 13 00 82 02 81 83 8B 06 00 01 81 00 00 00"),
        // PLI with an unknown object with CR set (FE 01 00) → 32.
        h("D0 0C 81 03 03 26 01 82 02 81 82 FE 01 00"),
        // Timer value with a non-BCD nibble → 32.
        h("D0 11 81 03 04 27 00 82 02 81 82 A4 01 01 A5 03 00 0A 00"),
        // SET UP EVENT LIST without event list → 36.
        h("D0 09 81 03 05 05 00 82 02 81 82"),
    ]);
    assert_eq!(r[0], h("81 03 01 13 00 82 02 82 81 83 01 36"));
    assert_eq!(r[1], h("81 03 02 13 00 82 02 82 81 83 01 32"));
    assert_eq!(r[2], h("81 03 03 26 01 82 02 82 81 83 01 32"));
    assert_eq!(r[3], h("81 03 04 27 00 82 02 82 81 83 01 32"));
    assert_eq!(r[4], h("81 03 05 05 00 82 02 82 81 83 01 36"));
}

#[test]
fn unknown_object_without_cr_is_partial_comprehension() {
    // PLI IMEI with an extra object 7E 01 00 (CR clear): performed, result 01, with the
    // Solstice S22 sample IMEI 006888002215004 (first byte 0·16 | 0x0A).
    let r = answers(vec![h("D0 0C 81 03 01 26 01 82 02 81 82 7E 01 00")]);
    assert_eq!(
        r[0],
        h("81 03 01 26 01 82 02 82 81 83 01 01 14 08 0A 60 88 08 20 12 05 40")
    );
}

#[test]
fn malformed_ber_tlv_with_readable_details_gets_32() {
    // Inner device-identities length runs past the end: the list is malformed, but the
    // command details are readable, so the terminal answers 32.
    let r = answers(vec![h("D0 09 81 03 01 26 01 82 05 81 82")]);
    assert_eq!(r[0], h("81 03 01 26 01 82 02 82 81 83 01 32"));
}

#[test]
fn truncated_fetch_response_gets_32() {
    // The card announces 0x32 bytes of SEND SHORT MESSAGE but FETCH delivers only 20.
    let full = h(
        "D0 30 81 03 01 13 00 82 02 81 83 8B 25 01 00 0C 91 44 77 00 09 10 32 00 04 18 \
                  49 54 01 4A 09 51 24 30 32 57 81 00 00 00 00 01 11 22 33 44 55 66 77 88",
    );
    let (card, r, log) = run(vec![Fetch {
        announce: 0x32,
        data: full[..20].to_vec(),
    }]);
    r.unwrap();
    assert_eq!(
        card.state().responses,
        vec![h("81 03 01 13 00 82 02 82 81 83 01 32")]
    );
    assert!(
        log.iter()
            .any(|e| matches!(e, SessionEvent::Error { message } if message.contains("malformed")))
    );
}

#[test]
fn garbage_without_command_details_ends_the_session() {
    for data in [
        h("6F"),
        h("D0"),
        h("D0 03 82 02 81"),
        h("12 34 56"),
        h("D0 02 83 00"),
    ] {
        let (card, r, log) = run(vec![Fetch::cmd(data.clone())]);
        let e = r.unwrap_err();
        assert!(
            matches!(e, TerminalError::Unanswerable(_)),
            "{data:02X?}: {e}"
        );
        assert!(card.state().responses.is_empty());
        assert!(matches!(log.last(), Some(SessionEvent::Error { .. })));
    }
}

#[test]
fn fetch_with_error_status_is_a_clear_error() {
    // The card announces a command, but FETCH returns no data (scripted card: empty
    // answer + 90 00 → treated like an error status).
    let (card, r, _) = run(vec![Fetch {
        announce: 0x0B,
        data: vec![],
    }]);
    let e = r.unwrap_err();
    assert!(
        matches!(e, TerminalError::Card { step: "FETCH", .. }),
        "{e}"
    );
    assert!(card.state().responses.is_empty());
}

#[test]
fn endless_91xx_is_bounded() {
    let card = ScriptedCard::new(vec![]);
    card.state().endless = Some(h("D0 09 81 03 01 02 00 82 02 81 82"));
    let handset = Catalogue::builtin().unwrap().models()[0].clone();
    let mut t = Terminal::new(
        SimulatedReader::new(card.clone()),
        handset,
        SimNetwork::new(),
    );
    let e = t.power_up().unwrap_err();
    assert!(matches!(e, TerminalError::ProactiveLimit(64)), "{e}");
    let st = card.state();
    assert_eq!(st.responses.len(), 64);
    assert_eq!(
        st.apdus.iter().filter(|a| a[1] == 0x12).count(),
        64,
        "exactly 64 FETCHes"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Whatever FETCH returns, the terminal answers or stops with an error; at most one
    /// TERMINAL RESPONSE per FETCH; never a panic.
    #[test]
    fn random_fetch_data_never_panics(cmds in proptest::collection::vec(
        proptest::collection::vec(any::<u8>(), 0..80), 1..6))
    {
        let n = cmds.len();
        let (card, _r, _log) = run(cmds.into_iter().map(|d| Fetch { announce: d.len().clamp(1, 255) as u8, data: d }).collect());
        let st = card.state();
        let fetches = st.apdus.iter().filter(|a| a[1] == 0x12).count();
        prop_assert!(fetches <= n);
        prop_assert!(st.responses.len() <= fetches);
    }

    /// Random command bodies behind valid command details always get exactly one
    /// TERMINAL RESPONSE echoing those details.
    #[test]
    fn random_bodies_get_an_echo(kind in any::<u8>(), q in any::<u8>(), body in proptest::collection::vec(any::<u8>(), 0..60)) {
        let mut value = vec![0x81, 0x03, 0x01, kind, q];
        value.extend_from_slice(&body);
        prop_assume!(value.len() < 0x80);
        let mut d0 = vec![0xD0, value.len() as u8];
        d0.extend_from_slice(&value);
        let (card, _r, _log) = run(vec![Fetch::cmd(d0)]);
        let st = card.state();
        prop_assert_eq!(st.responses.len(), 1);
        prop_assert_eq!(&st.responses[0][..5], &[0x81, 0x03, 0x01, kind, q][..]);
        prop_assert_eq!(&st.responses[0][5..9], &[0x82, 0x02, 0x82, 0x81][..]);
    }
}
