//! A synthetic run (one passing FIG. 5B swap, one failing scenario, one error) for
//! testing and previewing the reports without an engine.

use std::path::PathBuf;
use std::time::Duration;

use crate::runner::{Event, Failure, Lane, Mismatch, Outcome, ScenarioResult, StepEvents};

fn ev(t_ms: u64, from: Lane, to: Lane, label: &str, detail: &[&str], hex: &str) -> Event {
    Event {
        t_ms,
        from,
        to,
        label: label.into(),
        detail_lines: detail.iter().map(|s| s.to_string()).collect(),
        raw_hex: hex.into(),
    }
}

/// Three results: a passing swap to a depreciated handset with the manufacturer's key,
/// a failed expectation, and a scenario the engine could not play.
pub fn synthetic_results() -> Vec<ScenarioResult> {
    use Lane::*;
    let swap = vec![
        StepEvents {
            index: 1,
            label: "move alice to old-phone".into(),
            t_ms: 0,
            events: vec![],
        },
        StepEvents {
            index: 2,
            label: "power_on old-phone".into(),
            t_ms: 0,
            events: vec![
                ev(
                    0,
                    Handset,
                    Card,
                    "ATR",
                    &["T=0, direct convention"],
                    "3B9F96801FC78031E073FE211B63F100E6830F9000",
                ),
                ev(
                    12,
                    Handset,
                    Card,
                    "TERMINAL PROFILE",
                    &[
                        "CLA 80 INS 10",
                        "PROVIDE LOCAL INFORMATION (IMEI): yes",
                        "SEND SHORT MESSAGE: yes",
                    ],
                    "801000001BFFFFFFFF7F",
                ),
                ev(
                    14,
                    Card,
                    Handset,
                    "91 13 → FETCH: PROVIDE LOCAL INFORMATION",
                    &[
                        "command details: 01 26 00 (IMEI)",
                        "device identities: UICC → ME",
                    ],
                    "D009810301260082028182",
                ),
                ev(
                    20,
                    Handset,
                    Card,
                    "TERMINAL RESPONSE (IMEI)",
                    &[
                        "result: 00 performed successfully",
                        "IMEI 352099100000021 (TS 24.008 BCD)",
                    ],
                    "801400001681030126008202828183010014083A25900100000012",
                ),
                ev(
                    21,
                    Card,
                    Card,
                    "IMEI differs → counter 2 (NVM)",
                    &["stored 352099010000011", "new 352099100000021"],
                    "",
                ),
                ev(
                    24,
                    Card,
                    Handset,
                    "FETCH: SEND SHORT MESSAGE",
                    &[
                        "event handset_changed (02)",
                        "counter 2",
                        "MAC 8 bytes AES-CMAC",
                    ],
                    "D04C8103011300820281838B41",
                ),
                ev(
                    30,
                    Handset,
                    Network,
                    "MO SMS (SMS-SUBMIT)",
                    &["TP-DA 33700900000", "TP-DCS 04 (8-bit)", "TP-UDL 56"],
                    "0100098133079000F00004384D4D5452",
                ),
                ev(
                    230,
                    Network,
                    Stub,
                    "deliver_sm",
                    &["SMPP 3.4 seq 7", "source 33600000001", "data_coding 4"],
                    "0000006F00000005000000000000000749",
                ),
                ev(
                    232,
                    Stub,
                    Network,
                    "deliver_sm_resp",
                    &["status 0 (ESME_ROK)"],
                    "00000011800000050000000000000007",
                ),
                ev(
                    240,
                    Stub,
                    Manufacturer,
                    "POST /v1/device-keys (mTLS)",
                    &["IMEI 352099100000021", "APN internet.blue"],
                    "",
                ),
                ev(
                    380,
                    Manufacturer,
                    Stub,
                    "200 device key",
                    &[
                        "Ed25519 signature over IMEI + APN",
                        "valid until 2026-12-31",
                    ],
                    "",
                ),
                ev(
                    400,
                    Stub,
                    Network,
                    "submit_sm ×2 (WAP push, OMA CP)",
                    &[
                        "UDH port 2948, 2-part concatenated",
                        "NAPDEF internet.blue + APPLICATION MMS",
                        "NETWPIN HMAC-SHA1 (IMSI)",
                    ],
                    "0605040B8423F0",
                ),
                ev(
                    620,
                    Network,
                    Handset,
                    "MT SMS ×2",
                    &["reassembled 221 octets WBXML"],
                    "",
                ),
                ev(
                    640,
                    Handset,
                    Handset,
                    "provisioning session: key OK for own IMEI, APN inserted, key erased",
                    &[],
                    "",
                ),
                ev(
                    700,
                    Handset,
                    Stub,
                    "download confirmation",
                    &["issuance 1"],
                    "",
                ),
                ev(
                    705,
                    Stub,
                    Stub,
                    "ledger: fee_request blue 150 EUR, download_confirmation acme 0",
                    &[],
                    "",
                ),
                ev(
                    900,
                    Handset,
                    Manufacturer,
                    "MMS over internet.blue",
                    &["HTTP 200"],
                    "",
                ),
            ],
        },
        StepEvents {
            index: 3,
            label: "check".into(),
            t_ms: 900,
            events: vec![],
        },
    ];
    vec![
        ScenarioResult {
            name: "swap-depreciated-manufacturer-key".into(),
            title: "Swap to a depreciated handset, key from the manufacturer (FIG. 5B)".into(),
            path: PathBuf::from("scenarios/swap-depreciated-manufacturer-key.toml"),
            steps_total: 3,
            steps_run: 3,
            outcome: Outcome::Passed,
            elapsed: Duration::from_millis(14),
            virtual_ms: 900,
            seed: 0x1234_5678_9abc_def0,
            steps: swap,
        },
        ScenarioResult {
            name: "deliberately-wrong".into(),
            title: "A scenario whose expectation is wrong <on purpose>".into(),
            path: PathBuf::from("tests/deliberately-wrong.toml"),
            steps_total: 4,
            steps_run: 2,
            outcome: Outcome::Failed(Failure {
                step: 2,
                label: "power_on phone-a".into(),
                line: 31,
                mismatches: vec![Mismatch {
                    expectation: "sms_sent = \"handset_changed\"".into(),
                    seen: "card \"alice\" sent 1 registration SMS during this step: first_use (IMEI 352099010000011, t=0 ms)".into(),
                }],
            }),
            elapsed: Duration::from_millis(3),
            virtual_ms: 250,
            seed: 42,
            steps: vec![StepEvents {
                index: 2,
                label: "power_on phone-a".into(),
                t_ms: 0,
                events: vec![ev(0, Card, Handset, "FETCH: SEND SHORT MESSAGE", &["event first_use (01)"], "D04C")],
            }],
        },
        ScenarioResult {
            name: "not-playable".into(),
            title: "Engine error".into(),
            path: PathBuf::from("x.toml"),
            steps_total: 2,
            steps_run: 0,
            outcome: Outcome::Error("engine not built yet".into()),
            elapsed: Duration::ZERO,
            virtual_ms: 0,
            seed: 1,
            steps: vec![],
        },
    ]
}
