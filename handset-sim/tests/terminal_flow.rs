//! Terminal against a scripted card over the simulated reader: power-up, every
//! implemented proactive command, envelopes and timers, byte for byte.
//!
//! Vectors: `/work/shared/spec/02-cat.md` §7 (terminal profile) and §9 (worked exchange,
//! checked with tshark), `03-imei.md` §3 (IMEI / IMEISV), `04-sms.md` §5 (SMS-PP
//! download), `01-apdu.md` §3/§5 (ICCID, IMSI, EF.DIR).

mod terminal_support;

use applet::wire::cat::GeneralResult;
use handset_sim::profile::{Catalogue, Handset, HandsetProfile};
use handset_sim::reader::sim::SimulatedReader;
use handset_sim::terminal::log::response_result;
use handset_sim::terminal::{
    MoOutcome, MtOutcome, Selected, ServiceCentre, SessionEvent, SimNetwork, Terminal,
    TerminalConfig, TerminalError,
};
use terminal_support::{Fetch, ScriptedCard, h};

/// 02-cat.md §7 capabilities plus IMEISV and language: TP `23 01 29 42 11 00 00 07 08 …`.
fn handset(extra: &[&str]) -> Handset {
    let mut caps: Vec<String> = [
        "profile_download",
        "sms_pp_data_download",
        "timer_expiration",
        "command_result",
        "display_text",
        "more_time",
        "poll_interval",
        "send_short_message",
        "provide_local_information",
        "set_up_event_list",
        "event_location_status",
        "timer_management_start_stop",
        "timer_management_get_current_value",
        "pli_date_time_time_zone",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    caps.extend(extra.iter().map(|s| s.to_string()));
    HandsetProfile {
        make: "Test".into(),
        model: "T1".into(),
        manufacturer: "Test".into(),
        tac: "49015420".into(),
        imei: "490154203237518".into(),
        imeisv: "4901542032375101".into(),
        release_year: 2020,
        depreciated: false,
        language: "en".into(),
        capabilities: caps,
    }
    .validate()
    .unwrap()
}

type Term = Terminal<SimulatedReader<ScriptedCard>, SimNetwork>;

fn terminal(card: &ScriptedCard, h: Handset, net: SimNetwork) -> Term {
    Terminal::with_config(
        SimulatedReader::new(card.clone()),
        h,
        net,
        TerminalConfig {
            default_poll_interval_ms: None,
            ..TerminalConfig::default()
        },
    )
}

const PLI_IMEI: &str = "D0 09 81 03 01 26 01 82 02 81 82";
const SEND_SM: &str = "D0 30 81 03 01 13 00 82 02 81 83 8B 25 01 00 0C 91 44 77 00 09 10 32 00 04 18 \
                       49 54 01 4A 09 51 24 30 32 57 81 00 00 00 00 01 11 22 33 44 55 66 77 88";
const SM_TPDU: &str = "01 00 0C 91 44 77 00 09 10 32 00 04 18 49 54 01 4A 09 51 24 30 32 57 81 \
                       00 00 00 00 01 11 22 33 44 55 66 77 88";

#[test]
fn worked_exchange_is_byte_exact() {
    // 02-cat.md §9 steps 1–5.
    let card = ScriptedCard::with_commands([h(PLI_IMEI), h(SEND_SM)]);
    let mut t = terminal(&card, handset(&[]), SimNetwork::new());
    let info = t.power_up().unwrap();
    assert_eq!(info.iccid, "8988211000000430010");
    assert_eq!(info.imsi, "001010123456789");
    assert!(
        matches!(info.selected, Selected::Usim { ref label, .. } if label.as_deref() == Some("USim1"))
    );
    let st = card.state();
    let apdus = &st.apdus;
    assert!(apdus.contains(&h("80 10 00 00 08 23 01 29 42 11 00 00 07")));
    assert!(apdus.contains(&h("80 12 00 00 0B")));
    assert!(apdus.contains(&h(
        "80 14 00 00 16 81 03 01 26 01 82 02 82 81 83 01 00 14 08 4A 09 51 24 30 32 57 81"
    )));
    assert!(apdus.contains(&h("80 12 00 00 32")));
    assert!(apdus.contains(&h("80 14 00 00 0C 81 03 01 13 00 82 02 82 81 83 01 00")));
    drop(st);
    let net = t.network();
    assert_eq!(net.sent.len(), 1);
    assert_eq!(net.sent[0].tpdu, h(SM_TPDU));
    assert_eq!(net.sent[0].smsc, None);
    // The log tells the same story.
    let kinds: Vec<&str> = t
        .log()
        .iter()
        .map(|e| match e.event {
            SessionEvent::Atr { .. } => "atr",
            SessionEvent::IccidRead { .. } => "iccid",
            SessionEvent::Selected(_) => "selected",
            SessionEvent::ImsiRead { .. } => "imsi",
            SessionEvent::TerminalProfileSent { .. } => "tp",
            SessionEvent::ProactiveCommand { .. } => "cmd",
            SessionEvent::TerminalResponse { .. } => "tr",
            SessionEvent::MoSms { .. } => "sms",
            _ => "other",
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "atr", "iccid", "selected", "imsi", "tp", "cmd", "tr", "cmd", "sms", "tr"
        ]
    );
}

#[test]
fn sms_failures_map_to_results() {
    // 02-cat.md §9 failure variant: 83 02 35 29 for RP-cause 41.
    for (outcome, tr) in [
        (
            MoOutcome::RpError { cause: 41 },
            "81 03 01 13 00 82 02 82 81 83 02 35 29",
        ),
        (
            MoOutcome::NetworkUnable { cause: None },
            "81 03 01 13 00 82 02 82 81 83 01 21",
        ),
        (
            MoOutcome::NetworkUnable { cause: Some(0x11) },
            "81 03 01 13 00 82 02 82 81 83 02 21 11",
        ),
    ] {
        let card = ScriptedCard::with_commands([h(SEND_SM)]);
        let mut t = terminal(
            &card,
            handset(&[]),
            SimNetwork::new().with_outcomes([outcome]),
        );
        t.power_up().unwrap();
        assert_eq!(card.state().responses, vec![h(tr)], "{outcome:?}");
        assert!(t.log().iter().any(|e| matches!(
            e.event,
            SessionEvent::MoSms { outcome: o, .. } if o == outcome
        )));
    }
}

#[test]
fn no_service_answers_20_04() {
    let card = ScriptedCard::with_commands([h("D0 09 81 03 01 26 00 82 02 81 82"), h(SEND_SM)]);
    let mut t = terminal(&card, handset(&[]), SimNetwork::detached());
    t.power_up().unwrap();
    let st = card.state();
    assert_eq!(st.responses[0], h("81 03 01 26 00 82 02 82 81 83 02 20 04"));
    assert_eq!(st.responses[1], h("81 03 01 13 00 82 02 82 81 83 02 20 04"));
    assert!(t.network().sent.is_empty());
}

#[test]
fn provide_local_information_encodings() {
    let card = ScriptedCard::with_commands([
        h("D0 09 81 03 01 26 08 82 02 81 82"),
        h("D0 09 81 03 02 26 00 82 02 81 82"),
        h("D0 09 81 03 03 26 03 82 02 81 82"),
        h("D0 09 81 03 04 26 04 82 02 81 82"),
        h("D0 09 81 03 05 26 02 82 02 81 82"),
    ]);
    let mut t = terminal(
        &card,
        handset(&["pli_imeisv", "pli_language"]),
        SimNetwork::new(),
    );
    t.power_up().unwrap();
    let st = card.state();
    // 02-cat.md §9 / 03-imei.md §3: IMEISV 4901542032375101.
    assert_eq!(
        st.responses[0],
        h("81 03 01 26 08 82 02 82 81 83 01 00 62 09 43 09 51 24 30 32 57 01 F1")
    );
    // MCC 001 MNC 01 LAC 0001 cell 0002 (the values of the 02-cat.md §9 event download).
    assert_eq!(
        st.responses[1],
        h("81 03 02 26 00 82 02 82 81 83 01 00 93 07 00 F1 10 00 01 00 02")
    );
    // 2026-01-01 00:00:00 UTC at +1 h: local 01:00:00, TZ 4 quarters = 40.
    assert_eq!(
        st.responses[2],
        h("81 03 03 26 03 82 02 82 81 83 01 00 A6 07 62 10 10 10 00 00 40")
    );
    assert_eq!(
        st.responses[3],
        h("81 03 04 26 04 82 02 82 81 83 01 00 AD 02 65 6E")
    );
    // NMR is not implemented: beyond capabilities.
    assert_eq!(st.responses[4], h("81 03 05 26 02 82 02 82 81 83 01 30"));
}

#[test]
fn capabilities_gate_commands() {
    // Without pli_imeisv in the profile, IMEISV is beyond the terminal's capabilities.
    let card = ScriptedCard::with_commands([h("D0 09 81 03 01 26 08 82 02 81 82")]);
    let mut t = terminal(&card, handset(&[]), SimNetwork::new());
    t.power_up().unwrap();
    assert_eq!(
        card.state().responses[0],
        h("81 03 01 26 08 82 02 82 81 83 01 30")
    );
    // A catalogue model without toolkit PLI / SEND SM (Kestrel K2).
    let cat = Catalogue::builtin().unwrap();
    let k2 = cat.by_name("Kestrel Mobile K2").unwrap().clone();
    let card = ScriptedCard::with_commands([h(PLI_IMEI), h(SEND_SM)]);
    let mut t = terminal(&card, k2, SimNetwork::new());
    t.power_up().unwrap();
    let st = card.state();
    assert_eq!(st.responses[0], h("81 03 01 26 01 82 02 82 81 83 01 30"));
    assert_eq!(st.responses[1], h("81 03 01 13 00 82 02 82 81 83 01 30"));
    assert!(t.network().sent.is_empty());
}

#[test]
fn event_list_and_attach_send_location_status() {
    // 02-cat.md §9: SET UP EVENT LIST (location status), then the event download.
    let card = ScriptedCard::with_commands([h("D0 0C 81 03 01 05 00 82 02 81 82 99 01 03")]);
    let mut t = terminal(&card, handset(&[]), SimNetwork::new());
    t.power_up().unwrap();
    assert_eq!(
        card.state().responses[0],
        h("81 03 01 05 00 82 02 82 81 83 01 00")
    );
    t.attach().unwrap();
    assert_eq!(
        card.state().apdus.last().unwrap(),
        &h("80 C2 00 00 15 D6 13 99 01 03 82 02 82 81 9B 01 00 93 07 00 F1 10 00 01 00 02")
    );
    // Same location again: nothing new.
    t.attach().unwrap();
    assert_eq!(card.state().envelopes.len(), 1);
    // Loss of service is reported.
    t.network_mut().location = None;
    t.attach().unwrap();
    assert_eq!(
        card.state().envelopes[1],
        h("D6 0A 99 01 03 82 02 82 81 9B 01 02")
    );
}

#[test]
fn unsupported_event_is_beyond_capabilities() {
    // MT call event (00) is not supported by this terminal.
    let card = ScriptedCard::with_commands([h("D0 0D 81 03 01 05 00 82 02 81 82 99 02 03 00")]);
    let mut t = terminal(&card, handset(&[]), SimNetwork::new());
    t.power_up().unwrap();
    assert_eq!(
        card.state().responses[0],
        h("81 03 01 05 00 82 02 82 81 83 01 30")
    );
    assert!(t.registered_events().is_empty());
}

#[test]
fn timers_run_on_the_virtual_clock() {
    // 02-cat.md §9: TIMER MANAGEMENT start #1 00:30:00.
    let card = ScriptedCard::with_commands([h(
        "D0 11 81 03 01 27 00 82 02 81 82 A4 01 01 A5 03 00 03 00",
    )]);
    let mut t = terminal(&card, handset(&[]), SimNetwork::new());
    t.power_up().unwrap();
    // oFono timer_mgmt_response_111 layout: … A4 01 01.
    assert_eq!(
        card.state().responses[0],
        h("81 03 01 27 00 82 02 82 81 83 01 00 A4 01 01")
    );
    // Get current value after 10 minutes: 20 minutes left (swapped BCD 00 02 00).
    card.state()
        .script
        .push_back(Fetch::cmd(h("D0 0C 81 03 02 27 02 82 02 81 82 A4 01 01")));
    card.state().envelope_sw.push_back(0x9300); // first expiry attempt: busy
    t.advance(600_000).unwrap(); // nothing due; a STATUS-less terminal needs a prompt:
    let sw = 0x9100 | card.state().script.front().unwrap().announce as u16;
    t.proactive_session(sw).unwrap();
    assert_eq!(
        card.state().responses[1],
        h("81 03 02 27 02 82 02 82 81 83 01 00 A4 01 01 A5 03 00 02 00")
    );
    assert_eq!(t.next_deadline(), Some(1_800_000));
    t.run_until(1_800_000).unwrap();
    // Expired at 30:00; the card was busy, so the envelope is retried.
    assert_eq!(card.state().envelopes.len(), 1);
    t.run_until(1_802_000).unwrap();
    let st = card.state();
    assert_eq!(st.envelopes.len(), 2);
    // 02-cat.md §9: D7 0C 82 02 82 81 A4 01 01 A5 03 00 03 00.
    assert_eq!(
        st.envelopes[0],
        h("D7 0C 82 02 82 81 A4 01 01 A5 03 00 03 00")
    );
    assert_eq!(st.envelopes[1], st.envelopes[0]);
}

#[test]
fn timer_state_contradiction() {
    let card = ScriptedCard::with_commands([
        h("D0 0C 81 03 01 27 01 82 02 81 82 A4 01 03"),
        h("D0 0C 81 03 02 27 00 82 02 81 82 A4 01 01"),
        h("D0 0C 81 03 03 27 00 82 02 81 82 A4 01 09"),
    ]);
    let mut t = terminal(&card, handset(&[]), SimNetwork::new());
    t.power_up().unwrap();
    let st = card.state();
    // Deactivate a timer that does not run.
    assert_eq!(st.responses[0], h("81 03 01 27 01 82 02 82 81 83 01 24"));
    // Start without a timer value: required values missing.
    assert_eq!(st.responses[1], h("81 03 02 27 00 82 02 82 81 83 01 36"));
    // Timer 9 does not exist.
    assert_eq!(st.responses[2], h("81 03 03 27 00 82 02 82 81 83 01 32"));
}

#[test]
fn more_time_poll_interval_display_text() {
    let card = ScriptedCard::with_commands([
        h("D0 09 81 03 01 02 00 82 02 81 82"),
        h("D0 0D 81 03 02 03 00 82 02 81 82 84 02 01 1E"),
        h("D0 11 81 03 03 21 81 82 02 81 02 8D 06 04 48 65 6C 6C 6F"),
    ]);
    let mut t = terminal(&card, handset(&[]), SimNetwork::new());
    t.power_up().unwrap();
    let st = card.state();
    assert_eq!(st.responses[0], h("81 03 01 02 00 82 02 82 81 83 01 00"));
    // oFono poll_interval_response_111a layout: the interval in use, 84 02 01 1E.
    assert_eq!(
        st.responses[1],
        h("81 03 02 03 00 82 02 82 81 83 01 00 84 02 01 1E")
    );
    assert_eq!(st.responses[2], h("81 03 03 21 81 82 02 82 81 83 01 00"));
    drop(st);
    assert!(t.log().iter().any(|e| e.event
        == SessionEvent::DisplayText {
            text: "Hello".into()
        }));
    // The poll interval now drives STATUS.
    assert_eq!(t.next_deadline(), Some(30_000));
    // Moving the clock alone does nothing that is due (a driver's visit does).
    let sent = card.state().apdus.len();
    t.set_now(45_000);
    assert_eq!(t.now_ms(), 45_000);
    assert_eq!(card.state().apdus.len(), sent, "set_now sends nothing");
    assert_eq!(t.next_deadline(), Some(30_000), "the poll is still owed");
    t.set_now(10_000);
    assert_eq!(t.now_ms(), 45_000, "never backwards");
    t.advance(45_000).unwrap();
    assert_eq!(card.state().apdus.last().unwrap(), &h("80 F2 00 0C 00"));
    assert_eq!(t.next_deadline(), Some(75_000));
}

#[test]
fn sms_pp_download_envelope_is_byte_exact() {
    // 04-sms.md §5: OTA SMS-DELIVER from SMSC +447700900000.
    let tpdu = h(
        "40 08 81 21 43 65 87 7F F6 22 70 52 00 00 00 00 25 02 70 00 \
                  00 20 15 06 19 35 35 B0 00 11 AE 73 32 56 91 8D 05 0B 87 C9 4F BF E1 2E 4D C4 02 F2 62 C4 1C F6 7F 2F",
    );
    let card = ScriptedCard::with_commands([]);
    let mut t = terminal(&card, handset(&[]), SimNetwork::new());
    t.power_up().unwrap();
    let smsc = ServiceCentre {
        ton_npi: 0x91,
        digits: "447700900000".into(),
    };
    let out = t.deliver_sms(Some(&smsc), &tpdu).unwrap();
    assert!(matches!(out, MtOutcome::Downloaded(ref a) if a.sw == 0x9000));
    let mut expect = h("80 C2 00 00 47 D1 45 82 02 83 81 86 07 91 44 77 00 09 00 00 8B 36");
    expect.extend_from_slice(&tpdu);
    assert_eq!(card.state().apdus.last().unwrap(), &expect);
    // An ordinary text message stays with the user.
    let text = h("04 0B 91 44 77 00 09 10 32 F0 00 00 22 70 52 00 00 00 00 02 C8 34");
    assert_eq!(t.deliver_sms(None, &text).unwrap(), MtOutcome::ForUser);
    assert_eq!(card.state().envelopes.len(), 1);
}

#[test]
fn gsm_sim_power_up_uses_class_a0() {
    let mut card = ScriptedCard::with_commands([h(PLI_IMEI)]);
    card.gsm = true;
    let mut t = terminal(&card, handset(&[]), SimNetwork::new());
    let info = t.power_up().unwrap();
    assert_eq!(info.selected, Selected::DfGsmSim);
    assert_eq!(info.imsi, "001010123456789");
    let st = card.state();
    assert!(st.apdus.contains(&h("A0 A4 00 00 02 7F 20")));
    assert!(
        st.apdus
            .contains(&h("A0 10 00 00 08 23 01 29 42 11 00 00 07"))
    );
    assert!(st.apdus.contains(&h(
        "A0 14 00 00 16 81 03 01 26 01 82 02 82 81 83 01 00 14 08 4A 09 51 24 30 32 57 81"
    )));
}

#[test]
fn uicc_without_usim_falls_back_to_df_gsm() {
    let mut card = ScriptedCard::with_commands([]);
    card.no_usim = true;
    let mut t = terminal(&card, handset(&[]), SimNetwork::new());
    assert_eq!(t.power_up().unwrap().selected, Selected::DfGsmUicc);
}

#[test]
fn pin_is_verified_or_reported() {
    let card = ScriptedCard::with_commands([]);
    let mut t = Terminal::with_config(
        SimulatedReader::new(card.clone()),
        handset(&[]),
        SimNetwork::new(),
        TerminalConfig {
            pin: Some("1234".into()),
            ..TerminalConfig::default()
        },
    );
    t.power_up().unwrap();
    assert!(
        card.state()
            .apdus
            .contains(&h("00 20 00 01 08 31 32 33 34 FF FF FF FF"))
    );
    assert!(t.log().iter().any(|e| e.event == SessionEvent::PinVerified));

    let card = ScriptedCard::with_commands([]);
    let mut t = Terminal::with_config(
        SimulatedReader::new(card.clone()),
        handset(&[]),
        SimNetwork::new(),
        TerminalConfig {
            pin: Some("0000".into()),
            ..TerminalConfig::default()
        },
    );
    let e = t.power_up().unwrap_err();
    assert!(matches!(e, TerminalError::WrongPin { retries: 2 }), "{e}");
}

#[test]
fn log_lines_decode_everything() {
    let card = ScriptedCard::with_commands([h(PLI_IMEI), h(SEND_SM)]);
    let mut t = terminal(&card, handset(&[]), SimNetwork::new());
    t.power_up().unwrap();
    let text: Vec<String> = t.log().iter().map(|e| e.event.to_string()).collect();
    let all = text.join("\n");
    assert!(all.contains("ICCID 8988211000000430010"), "{all}");
    assert!(all.contains("IMSI 001010123456789"), "{all}");
    assert!(
        all.contains("PROVIDE LOCAL INFORMATION (qualifier 01): IMEI"),
        "{all}"
    );
    assert!(all.contains("IMEI 490154203237518"), "{all}");
    assert!(all.contains("SMS-SUBMIT to +447700900123"), "{all}");
    assert!(all.contains("RP-ACK"), "{all}");
    assert_eq!(
        t.log()
            .iter()
            .filter_map(|e| response_result(&e.event))
            .collect::<Vec<_>>(),
        vec![GeneralResult::SUCCESS, GeneralResult::SUCCESS]
    );
}
