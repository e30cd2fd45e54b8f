//! Named power-cut points (`cut_power = { card, at = "counter_update" | "retry_state" |
//! "imei_commit" }`): the fixtures `tests/fixtures/cut-counter-update.toml` and
//! `cut-retry-state.toml` pass through the engine, and, played step by step, the cut
//! lands on the first NVM write of the transaction its name says (read back from the
//! card's NVM transaction log), no counter is ever sent twice, and no power cycle sends
//! more than the retry policy allows.

use std::path::{Path, PathBuf};

use applet::tracker::record::RecordTx;
use applet::wire::registration::EventKind;
use scenarios::engine::{WorldEngine, WorldFactory};
use scenarios::runner::{Engine, EngineOptions, Outcome, run_scenario};
use scenarios::scenario::{self, Scenario};

fn fixture(name: &str) -> Scenario {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/{name}.toml"));
    scenario::load(&p).unwrap_or_else(|e| panic!("{e}"))
}

/// Plays `s` step by step; after step `cut_step` (1-based) returns what the card's NVM
/// says about the cut: whether it is unpowered, and the transaction its last logged
/// start is, with whether that start was the write the power was lost at.
struct Played {
    engine: WorldEngine,
    cut: Option<(bool, Option<RecordTx>, bool)>,
}

fn play(s: &Scenario, card: &str, cut_step: usize) -> Played {
    let mut engine = WorldEngine::new(s).unwrap();
    let mut cut = None;
    for st in &s.steps {
        engine
            .step(st)
            .unwrap_or_else(|e| panic!("step {}: {e}", st.index));
        if st.index == cut_step {
            let sim = engine.world().sim_card(card).unwrap();
            let uicc = sim.lock();
            let nvm = uicc.card().store().nvm();
            let last = nvm.tx_start(nvm.tx_count() - 1).unwrap();
            cut = Some((
                !nvm.is_powered(),
                RecordTx::of(&last),
                last.write + 1 == nvm.writes(),
            ));
        }
    }
    Played { engine, cut }
}

/// Counters of the registrations `card` sent, in order.
fn counters(e: &WorldEngine, card: &str) -> Vec<(u64, EventKind)> {
    e.world()
        .card_view(card)
        .unwrap()
        .sent
        .iter()
        .filter_map(|s| s.registration.as_ref().map(|r| (r.counter, r.event)))
        .collect()
}

fn strictly_increasing(c: &[(u64, EventKind)]) -> bool {
    c.windows(2).all(|w| w[0].0 < w[1].0)
}

#[test]
fn the_fixtures_pass_through_the_engine() {
    for name in ["cut-counter-update", "cut-retry-state"] {
        let r = run_scenario(&fixture(name), &WorldFactory, &EngineOptions::default());
        assert_eq!(r.outcome, Outcome::Passed, "{name}");
    }
}

#[test]
fn a_cut_at_counter_update_loses_the_attempt_and_no_counter_is_reused() {
    let s = fixture("cut-counter-update");
    // Step 6: power-up in phone-b, cut armed at step 5.
    let p = play(&s, "alice", 6);
    let (unpowered, tx, at_first_write) = p.cut.unwrap();
    assert!(unpowered, "the card lost power");
    assert!(
        matches!(
            tx,
            Some(RecordTx::Attempt {
                kind: Some(EventKind::HANDSET_CHANGED)
            })
        ),
        "{tx:?}"
    );
    assert!(
        at_first_write,
        "power was lost at the transaction's first write"
    );
    let sent = counters(&p.engine, "alice");
    assert_eq!(
        sent,
        [(0, EventKind::FIRST_USE), (1, EventKind::HANDSET_CHANGED)]
    );
    assert!(strictly_increasing(&sent));
}

#[test]
fn a_cut_at_retry_state_loses_the_retry_and_the_card_retries_within_its_limits() {
    let s = fixture("cut-retry-state");
    // Step 5: the retry timer fires, cut armed at step 4.
    let p = play(&s, "alice", 5);
    let (unpowered, tx, at_first_write) = p.cut.unwrap();
    assert!(unpowered);
    assert_eq!(
        tx,
        Some(RecordTx::Attempt {
            kind: Some(EventKind::RETRY)
        })
    );
    assert!(at_first_write);
    let sent = counters(&p.engine, "alice");
    assert_eq!(sent.len(), 5);
    assert!(strictly_increasing(&sent), "{sent:?}");
    assert_eq!(sent[0], (0, EventKind::FIRST_USE));
    assert!(sent[1..].iter().all(|(_, k)| *k == EventKind::RETRY));
    // Never more than 3 per power cycle: power-ups at t = 0, after the cut, and the
    // last one; the sends between them are 1 (then the cut), 3, 1.
    let view = p.engine.world().card_view("alice").unwrap();
    let t: Vec<u64> = view.sent.iter().map(|x| x.t_ms).collect();
    let day = 86_400_000;
    assert_eq!(t.iter().filter(|x| **x < 61_000).count(), 1);
    assert_eq!(t.iter().filter(|x| (day..2 * day).contains(*x)).count(), 3);
    assert_eq!(view.stored_imei.as_deref(), Some("358765030000018"));
}

/// Story 08's broken handset: the card records the unusable IMEI (`commit_failure`),
/// which `retry_state` names too; cut there, the failure is not recorded, and the next
/// power-up records it.
#[test]
fn a_cut_at_retry_state_can_be_the_imei_failure_record() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("08-invalid-imei.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let text = text.replacen(
        "[[step]]\npower_on = \"broken\"",
        "[[step]]\ncut_power = { card = \"alice\", at = \"retry_state\" }\n\n[[step]]\npower_on = \"broken\"",
        1,
    );
    // Cut mid-session: the first power-up's session does not end `imei_unusable`.
    let text = text.replacen(
        "card_state = { session = \"imei_unusable\", stored_imei = \"none\", counter = 0 }",
        "card_state = { stored_imei = \"none\", counter = 0 }",
        1,
    );
    let text = text.replacen(
        "[[step]]\npower_off = \"broken\"",
        "[[step]]\npower_on = \"broken\"\nexpect = { sms_sent = \"none\", card_state = { session = \"imei_unusable\", counter = 0 } }\n\n[[step]]\npower_off = \"broken\"",
        1,
    );
    let s = scenario::parse(Path::new("08-cut.toml"), &text).unwrap();
    let cut_at = s
        .steps
        .iter()
        .find(|st| st.label.starts_with("cut_power"))
        .unwrap()
        .index;
    let mut e = WorldEngine::new(&s).unwrap();
    for st in &s.steps {
        e.step(st).unwrap();
        let sim = e.world().sim_card("alice").unwrap();
        let uicc = sim.lock();
        let card = uicc.card();
        let failure = card.record().unwrap().last_failure();
        let nvm = card.store().nvm();
        if st.index == cut_at + 1 {
            let last = nvm.tx_start(nvm.tx_count() - 1).unwrap();
            assert_eq!(RecordTx::of(&last), Some(RecordTx::Failure));
            assert!(!nvm.is_powered() && last.write + 1 == nvm.writes());
            assert_eq!(failure, None, "the cut transaction is lost");
        }
        if st.index == cut_at + 2 {
            assert!(failure.is_some(), "recorded at the next power-up");
        }
    }
    let r = run_scenario(&s, &WorldFactory, &EngineOptions::default());
    assert_eq!(r.outcome, Outcome::Passed);
}

fn error_of(text: &str) -> String {
    let s = scenario::parse(Path::new("e.toml"), text).unwrap();
    match run_scenario(&s, &WorldFactory, &EngineOptions::default()).outcome {
        Outcome::Error(e) => e,
        o => panic!("expected an error, got {o:?}"),
    }
}

#[test]
fn a_point_that_never_comes_is_an_error_naming_it() {
    let s =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("07-no-toolkit.toml"))
            .unwrap();
    // In the feature phone the card never reserves a counter.
    let text = s.replacen(
        "[[step]]\npower_on = \"basic\"",
        "[[step]]\ncut_power = { card = \"alice\", at = \"counter_update\" }\n\n[[step]]\npower_on = \"basic\"",
        1,
    );
    let text = text.replacen(
        "[[step]]\nmove = { card = \"alice\", to = \"phone-a\" }",
        "[[step]]\ncut_power = { card = \"alice\", at_write = 1 }\n\n[[step]]\nmove = { card = \"alice\", to = \"phone-a\" }",
        1,
    );
    let e = error_of(&text);
    assert!(
        e.contains("alice makes no counter_update transaction in the steps that follow"),
        "{e}"
    );
}

#[test]
fn a_cut_cleared_by_a_power_up_before_the_point_is_an_error() {
    let text = std::fs::read_to_string(fixture("cut-counter-update").path).unwrap();
    // Armed while alice is powered in phone-a, after its registration there; the next
    // IMEI commit happens in phone-b, after a power-up that clears the cut.
    let text = text
        .replacen(
            "[[step]]\npower_off = \"phone-a\"",
            "[[step]]\ncut_power = { card = \"alice\", at = \"imei_commit\" }\n\n[[step]]\npower_off = \"phone-a\"",
            1,
        )
        .replacen(
            "cut_power = { card = \"alice\", at = \"counter_update\" }",
            "advance = \"1s\"",
            1,
        );
    let e = error_of(&text);
    assert!(
        e.contains("alice powers up again before its imei_commit transaction")
            && e.contains("power-up in phone-b"),
        "{e}"
    );
}
