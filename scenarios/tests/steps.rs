//! The `remove` and `attach` steps played through the real engine
//! ([`scenarios::engine::WorldFactory`] / [`WorldEngine`]): fixtures
//! `tests/fixtures/steps-remove.toml` and `tests/fixtures/steps-attach.toml`.

use std::path::PathBuf;

use scenarios::engine::{WorldEngine, WorldFactory};
use scenarios::runner::{Engine, EngineOptions, Outcome, ScenarioResult, run_scenario};
use scenarios::scenario::{self, Scenario};

/// The IMEIs of the fixtures' two Globex G3 handsets (TAC 35876503, serials 1 and 2).
const PHONE_A_IMEI: &str = "358765030000018";
const PHONE_B_IMEI: &str = "358765030000026";
/// SMSC addresses of the attach fixture's networks.
const HOME_SMSC: &str = "33689004000";
const ROAM_SMSC: &str = "491722270333";

fn path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(format!("{name}.toml"))
}

fn load(name: &str) -> Scenario {
    scenario::load(&path(name)).unwrap()
}

/// The fixture with `from` replaced by `to` (exactly once).
fn edited(name: &str, from: &str, to: &str) -> Scenario {
    let p = path(name);
    let text = std::fs::read_to_string(&p).unwrap();
    assert_eq!(text.matches(from).count(), 1, "{name}: {from:?} once");
    scenario::parse(&p, &text.replace(from, to)).unwrap()
}

fn play(s: &Scenario) -> ScenarioResult {
    run_scenario(s, &WorldFactory, &EngineOptions::default())
}

/// Index (1-based) of the step named `label`.
fn step_no(s: &Scenario, label: &str) -> usize {
    s.steps
        .iter()
        .position(|st| st.label == label)
        .unwrap_or_else(|| panic!("no step {label:?}"))
        + 1
}

/// Every event label of step `n` of a played scenario.
fn labels(r: &ScenarioResult, n: usize) -> Vec<String> {
    r.steps
        .iter()
        .find(|st| st.index == n)
        .map(|st| st.events.iter().map(|e| e.label.clone()).collect())
        .unwrap_or_default()
}

/// The SMSC addresses named by the SMS-DELIVER arrows of step `n`.
fn mt_smscs(r: &ScenarioResult, n: usize) -> Vec<String> {
    r.steps
        .iter()
        .filter(|st| st.index == n)
        .flat_map(|st| &st.events)
        .filter(|e| e.label.ends_with("SMS-DELIVER"))
        .filter_map(|e| e.detail_lines.first())
        .filter_map(|l| l.strip_prefix("SMSC "))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn remove_fixture_passes() {
    let s = load("steps-remove");
    let r = play(&s);
    assert_eq!(r.outcome, Outcome::Passed, "{:?}", r.outcome);
    assert_eq!(r.steps_run, r.steps_total);
}

/// Step by step on the engine itself: after `remove`, phone-a is still on, holds no
/// card and sends nothing, through an hour of virtual time; the card keeps its record.
#[test]
fn removed_card_leaves_a_running_handset_that_sends_nothing() {
    let s = load("steps-remove");
    let mut e = WorldEngine::new(&s).unwrap();
    let sent_by = |e: &WorldEngine, h: &str| e.world().terminal(h).unwrap().network().sent.len();
    let removed = step_no(&s, "card pulled out of the running phone-a");
    let idle = step_no(&s, "phone-a runs on without a card for an hour");
    let mut after_remove = None;
    for (i, st) in s.steps.iter().enumerate() {
        let events = e.step(st).unwrap();
        let o = e.observe();
        let n = i + 1;
        if n == removed - 1 {
            // Registered in phone-a: one SMS out of phone-a (the report follows it).
            assert_eq!(o.cards["alice"].in_handset.as_deref(), Some("phone-a"));
            assert!(sent_by(&e, "phone-a") >= 1);
        }
        if n == removed {
            assert!(o.handsets["phone-a"].powered, "phone-a keeps running");
            assert_eq!(o.handsets["phone-a"].card, None);
            assert_eq!(o.cards["alice"].in_handset, None);
            assert_eq!(o.cards["alice"].stored_imei.as_deref(), Some(PHONE_A_IMEI));
            assert_eq!(o.cards["alice"].counter, 1);
            after_remove = Some(sent_by(&e, "phone-a"));
        }
        if n == idle {
            assert_eq!(o.now_ms, 3_600_000);
            assert!(o.handsets["phone-a"].powered);
            // Nothing at all happened in that hour: no SMS, no poll of a card.
            assert!(events.is_empty(), "{:?}", events);
        }
        if n > removed {
            assert_eq!(
                Some(sent_by(&e, "phone-a")),
                after_remove,
                "phone-a sent something after the card left it (step {n})"
            );
            assert!(
                events.iter().all(|ev| !ev.label.starts_with("[phone-a]")),
                "step {n}: {:?}",
                events
            );
        }
    }
    let o = e.observe();
    let alice = &o.cards["alice"];
    assert_eq!(alice.in_handset.as_deref(), Some("phone-b"));
    assert_eq!(alice.stored_imei.as_deref(), Some(PHONE_B_IMEI));
    let imeis: Vec<&str> = alice.sent.iter().map(|x| x.imei.as_str()).collect();
    assert_eq!(imeis, [PHONE_A_IMEI, PHONE_B_IMEI]);
}

#[test]
fn attach_fixture_passes() {
    let s = load("steps-attach");
    let r = play(&s);
    assert_eq!(r.outcome, Outcome::Passed, "{:?}", r.outcome);
    assert_eq!(r.steps_run, r.steps_total);

    // Roaming does not by itself make a registered card register again: the step is
    // just the handset's attach (no ENVELOPE either: the card registered the location
    // event only after a failed SEND SHORT MESSAGE).
    let roam = step_no(&s, "phone-a roams onto the partner network");
    let l = labels(&r, roam);
    assert_eq!(l, ["[phone-a] attach to roam"], "{l:?}");

    // While roaming, the registration reaches the stub and the stub's reply reaches the
    // handset through the visited network's SMSC; at home through the home SMSC.
    let roaming = step_no(&s, "handset change registered while roaming");
    let l = labels(&r, roaming);
    assert!(l.iter().any(|x| x == "[phone-b] attach to roam"), "{l:?}");
    assert!(l.iter().any(|x| x == "[alice] deliver_sm"), "{l:?}");
    assert!(
        l.iter().any(|x| x == "[alice] registration accepted"),
        "{l:?}"
    );
    let smscs = mt_smscs(&r, roaming);
    assert!(
        !smscs.is_empty() && smscs.iter().all(|a| a == ROAM_SMSC),
        "{smscs:?}"
    );
    let first = mt_smscs(&r, 2);
    assert!(
        !first.is_empty() && first.iter().all(|a| a == HOME_SMSC),
        "{first:?}"
    );

    // The retry is woken by the location status event of the attach, not by its timer
    // (no virtual time passes in that step).
    let back = step_no(
        &s,
        "back on the home network: location status wakes the retry at once",
    );
    let st = r.steps.iter().find(|st| st.index == back).unwrap();
    assert!(st.events.iter().all(|e| e.t_ms == st.t_ms));
    let l = labels(&r, back);
    let envelope = l
        .iter()
        .position(|x| x.contains("EVENT DOWNLOAD location status status=normal service"));
    let retry = l.iter().position(|x| x.ends_with("RP-DATA (SMS-SUBMIT)"));
    assert!(
        matches!((envelope, retry), (Some(a), Some(b)) if a < b),
        "{l:?}"
    );
    assert_eq!(
        mt_smscs(&r, back).first().map(String::as_str),
        Some(HOME_SMSC)
    );
}

/// One expectation flipped in each fixture: the run fails at that step and names it.
#[test]
fn a_flipped_expectation_fails_naming_the_step() {
    let cases = [
        (
            "steps-remove",
            "card pulled out of the running phone-a",
            r#"remove = "alice"
expect = { sms_sent = "none","#,
            r#"remove = "alice"
expect = { sms_sent = "first_use","#,
            r#"sms_sent = "first_use""#,
        ),
        (
            "steps-remove",
            "power_on phone-b",
            r#"stored_imei = "358765030000026", pending = false, counter = 2"#,
            r#"stored_imei = "358765030000018", pending = false, counter = 2"#,
            r#"card_state.stored_imei = "358765030000018""#,
        ),
        (
            "steps-attach",
            "phone-a roams onto the partner network",
            r#"expect = { sms_sent = "none", registration = "none", sms_total = 1,"#,
            r#"expect = { sms_sent = "handset_changed", registration = "none", sms_total = 1,"#,
            r#"sms_sent = "handset_changed""#,
        ),
        (
            "steps-attach",
            "back on the home network: location status wakes the retry at once",
            r#"expect = { sms_sent = "retry", registration = "accepted", sms_total = 4,"#,
            r#"expect = { sms_sent = "retry", registration = "rejected", sms_total = 4,"#,
            r#"registration = "rejected""#,
        ),
    ];
    for (name, label, from, to, expectation) in cases {
        let s = edited(name, from, to);
        let want = step_no(&s, label);
        let r = play(&s);
        let Outcome::Failed(f) = &r.outcome else {
            panic!("{name}: {to}: expected a failure, got {:?}", r.outcome)
        };
        assert_eq!(f.step, want, "{name}: {f}");
        assert_eq!(r.steps_run, want, "{name}: stops at the failing step");
        let text = f.to_string();
        assert!(
            text.starts_with(&format!("step {want} \"{label}\"")),
            "{text}"
        );
        assert!(text.contains(&format!("expected {expectation}")), "{text}");
        assert!(text.contains("seen "), "{text}");
    }
}

/// SMS sent from two handsets at the same virtual instant keep the order they were sent
/// in (the world's MO counter, `MoRecord::seq`): the attach fixture without its two
/// `advance` steps plays everything at t = 0 and still passes — the retry is what
/// `sms_sent` sees in its step, not phone-b's earlier handset change. (An earlier
/// engine gathered SMS handset by handset and sorted by time only, and failed here.)
#[test]
fn same_instant_registrations_from_two_handsets_keep_their_order() {
    let p = path("steps-attach");
    let text = std::fs::read_to_string(&p).unwrap();
    let pause = "[[step]]\nname = \"ten minutes pass\"\nadvance = \"10m\"\n\n";
    assert_eq!(text.matches(pause).count(), 2);
    let text = text.replace(pause, "");
    let s = scenario::parse(&p, &text).unwrap();
    let r = play(&s);
    let back = step_no(
        &s,
        "back on the home network: location status wakes the retry at once",
    );
    assert_eq!(r.outcome, Outcome::Passed, "{}", r.outcome.word());
    // The retry did go out, with event kind 03, in that step.
    let st = r.steps.iter().find(|st| st.index == back).unwrap();
    assert!(
        st.events
            .iter()
            .any(|e| e.label.ends_with("RP-DATA (SMS-SUBMIT)")
                && e.detail_lines.iter().any(|d| d.contains("event 03"))),
        "the retry is on the ladder"
    );
}

/// A fault limited to one network cannot be played (the SMSC simulator has one fault
/// set for every network): the engine refuses it instead of faulting every network.
#[test]
fn a_fault_limited_to_one_network_is_refused_not_widened() {
    let p = path("steps-attach");
    let text = std::fs::read_to_string(&p).unwrap();
    let old = "fault = { mo_rp_error = 41, count = 1 }";
    assert!(text.contains(old));
    let text = text.replace(
        old,
        "fault = { mo_rp_error = 41, count = 1, network = \"roam\" }",
    );
    let s = scenario::parse(&p, &text).unwrap();
    let r = play(&s);
    let Outcome::Error(e) = &r.outcome else {
        panic!("expected an error, got {}", r.outcome.word());
    };
    assert!(e.contains("fault limited to network \"roam\""), "{e}");
}
