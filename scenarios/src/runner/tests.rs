//! Runner tests over a toy engine: a card registers the handset's IMEI on power-up
//! when it differs from the stored one, the stub accepts and configures the APN.

use std::path::Path;

use super::*;
use crate::scenario::format::{KeySourceExpect, LedgerKind, RegistrationEvent};
use crate::scenario::{Action, Scenario, Step, parse};

struct Toy {
    imeis: std::collections::BTreeMap<String, String>,
    obs: Observation,
    seed: u64,
}

impl Engine for Toy {
    fn step(&mut self, step: &Step) -> Result<Vec<Event>, EngineError> {
        let mut ev = Vec::new();
        let t = self.obs.now_ms;
        match &step.action {
            Action::Insert { card, handset } => {
                self.obs.cards.get_mut(card).unwrap().in_handset = Some(handset.clone());
                self.obs.handsets.get_mut(handset).unwrap().card = Some(card.clone());
            }
            Action::Move { card, to } => {
                let c = self.obs.cards.get_mut(card).unwrap();
                let from = c.in_handset.replace(to.clone()).unwrap();
                self.obs.handsets.get_mut(&from).unwrap().card = None;
                self.obs.handsets.get_mut(to).unwrap().card = Some(card.clone());
            }
            Action::PowerOn { handset } => {
                let imei = self.imeis[handset].clone();
                let h = self.obs.handsets.get_mut(handset).unwrap();
                h.powered = true;
                let card = h.card.clone().unwrap();
                let c = self.obs.cards.get_mut(&card).unwrap();
                if c.stored_imei.as_deref() != Some(&imei) {
                    let event = if c.stored_imei.is_none() {
                        RegistrationEvent::FirstUse
                    } else {
                        RegistrationEvent::HandsetChanged
                    };
                    c.counter += 1;
                    c.sent.push(SentRegistration {
                        t_ms: t,
                        event,
                        imei: imei.clone(),
                    });
                    c.verdicts.push(Verdict {
                        t_ms: t + 500,
                        outcome: VerdictOutcome::Accepted {
                            depreciated: imei.starts_with("35209910"),
                            key_source: imei
                                .starts_with("35209910")
                                .then_some(KeySourceExpect::Manufacturer),
                        },
                    });
                    c.stored_imei = Some(imei.clone());
                    self.obs.handsets.get_mut(handset).unwrap().apns = vec!["internet.blue".into()];
                    self.obs.ledger.push(LedgerEntry {
                        kind: LedgerKind::FeeRequest,
                        party: "blue".into(),
                        amount_minor: 150,
                        currency: "EUR".into(),
                    });
                    ev.push(Event {
                        t_ms: t,
                        from: Lane::Card,
                        to: Lane::Handset,
                        label: "SEND SHORT MESSAGE".into(),
                        detail_lines: vec![format!("IMEI {imei}"), format!("seed {}", self.seed)],
                        raw_hex: "D0".into(),
                    });
                }
            }
            Action::Advance { by } => self.obs.now_ms += by.ms,
            Action::Forge { .. } => return Err(EngineError::Unsupported("forge".into())),
            _ => {}
        }
        Ok(ev)
    }

    fn observe(&self) -> Observation {
        self.obs.clone()
    }
}

struct ToyFactory;

impl EngineFactory for ToyFactory {
    fn start(&self, s: &Scenario, _: &EngineOptions) -> Result<Box<dyn Engine>, EngineError> {
        let mut obs = Observation {
            stub_running: true,
            ..Default::default()
        };
        for c in s.world.cards.keys() {
            obs.cards.insert(c.clone(), Default::default());
        }
        for h in s.world.handsets.keys() {
            obs.handsets.insert(h.clone(), Default::default());
        }
        Ok(Box::new(Toy {
            imeis: s
                .handset_imeis
                .iter()
                .map(|(k, v)| (k.clone(), v.0.clone()))
                .collect(),
            obs,
            seed: s.seed,
        }))
    }
}

const STORY: &str = r#"
title = "toy swap"

[world.networks.home]
plmn = "208-01"
smsc = "33609001390"

[world.operators.blue]
plmn = "208-01"
network = "home"
apn = "internet.blue"

[world.cards.alice]
operator = "blue"
iccid = "8933010000000000018"
imsi = "208010000000001"
msisdn = "33600000001"

[world.handsets.phone-a]
model = "acme-a1"
serial = "000001"

[world.handsets.phone-b]
model = "acme-classic"
serial = "000002"

[[step]]
insert = { card = "alice", handset = "phone-a" }

[[step]]
power_on = "phone-a"
expect = { sms_sent = "first_use", registration = "accepted", depreciated = false, apn = "internet.blue", sms_total = 1 }

[[step]]
move = { card = "alice", to = "phone-b" }

[[step]]
name = "power on in the old phone"
power_on = "phone-b"
expect = { sms_sent = "handset_changed", depreciated = true, key_source = "manufacturer", card_state = { counter = 2 }, ledger = [
  { kind = "fee_request", party = "blue", amount_minor = 150, currency = "EUR" },
  { kind = "fee_request", party = "blue", amount_minor = 150 },
] }

[[step]]
advance = "1h"
expect = { sms_sent = "none", registration = "none", ledger_entries = 2 }
"#;

fn story(name: &str, text: &str) -> Scenario {
    parse(Path::new(name), text).unwrap()
}

#[test]
fn passing_story_passes_with_events() {
    let r = run_scenario(&story("toy.toml", STORY), &ToyFactory, &Default::default());
    assert_eq!(r.outcome, Outcome::Passed, "{:?}", r.outcome);
    assert_eq!((r.steps_run, r.steps_total), (5, 5));
    assert_eq!(r.virtual_ms, 3_600_000);
    assert_eq!(r.steps[1].events.len(), 1);
    assert_eq!(r.steps[3].label, "power on in the old phone");
}

#[test]
fn wrong_expectation_names_step_expectation_and_seen() {
    let text = STORY.replace(
        "sms_sent = \"handset_changed\", depreciated = true",
        "sms_sent = \"first_use\", depreciated = false",
    );
    let r = run_scenario(&story("toy.toml", &text), &ToyFactory, &Default::default());
    let Outcome::Failed(f) = &r.outcome else {
        panic!("{:?}", r.outcome)
    };
    assert_eq!(f.step, 4);
    assert_eq!(r.steps_run, 4);
    let shown = f.to_string();
    assert!(
        shown.starts_with("step 4 \"power on in the old phone\" (line "),
        "{shown}"
    );
    assert!(
        shown.contains("expected sms_sent = \"first_use\""),
        "{shown}"
    );
    assert!(
        shown.contains("card \"alice\" sent 1 registration SMS during this step: handset_changed (IMEI 352099100000021, t=0 ms)"),
        "{shown}"
    );
    assert!(shown.contains("expected depreciated = false"), "{shown}");
    assert!(
        shown.contains("seen     the stub judged the device depreciated"),
        "{shown}"
    );
    assert_eq!(exit_status(&[r]), EXIT_FAILED);
}

#[test]
fn ledger_mismatch_lists_both_sides() {
    let text = STORY.replace("amount_minor = 150 },\n]", "amount_minor = 200 },\n]");
    let r = run_scenario(&story("toy.toml", &text), &ToyFactory, &Default::default());
    let Outcome::Failed(f) = &r.outcome else {
        panic!()
    };
    let m = &f.mismatches[0];
    assert_eq!(
        m.expectation,
        "ledger = [fee_request blue 150 EUR; fee_request blue 200]"
    );
    assert_eq!(
        m.seen,
        "ledger has [fee_request blue 150 EUR; fee_request blue 150 EUR]"
    );
}

#[test]
fn none_expectations_fail_when_something_happened() {
    let text = STORY.replace(
        "sms_sent = \"first_use\", registration = \"accepted\"",
        "sms_sent = \"none\", registration = \"none\"",
    );
    let r = run_scenario(&story("toy.toml", &text), &ToyFactory, &Default::default());
    let Outcome::Failed(f) = &r.outcome else {
        panic!()
    };
    assert_eq!(f.step, 2);
    assert_eq!(f.mismatches.len(), 2);
    assert_eq!(f.mismatches[1].seen, "the stub accepted the registration");
}

#[test]
fn engine_errors_and_missing_engine_are_errors() {
    let text =
        format!("{STORY}\n[[step]]\nforge = {{ card = \"alice\", imei = \"352099010000011\" }}\n");
    let r = run_scenario(&story("toy.toml", &text), &ToyFactory, &Default::default());
    assert_eq!(
        r.outcome,
        Outcome::Error(format!(
            "step 6 \"forge registration as alice with IMEI 352099010000011\" (line {}): unsupported: forge",
            text.lines().count() - 1
        ))
    );
    let r = run_scenario(&story("toy.toml", STORY), &NoEngine, &Default::default());
    let Outcome::Error(e) = &r.outcome else {
        panic!()
    };
    assert!(e.starts_with("engine not built yet"), "{e}");
    assert_eq!(exit_status(&[r]), EXIT_ERROR);
}

#[test]
fn parallel_runs_are_deterministic_and_in_order() {
    let scenarios: Vec<Scenario> = (0..12)
        .map(|i| story(&format!("toy-{i:02}.toml"), STORY))
        .collect();
    let digest = |rs: &[ScenarioResult]| -> Vec<(String, Outcome, u64, Vec<StepEvents>)> {
        rs.iter()
            .map(|r| (r.name.clone(), r.outcome.clone(), r.seed, r.steps.clone()))
            .collect()
    };
    let count = AtomicUsize::new(0);
    let one = Runner {
        jobs: 1,
        options: Default::default(),
    }
    .run(&scenarios, &ToyFactory, &|_| {
        count.fetch_add(1, Ordering::Relaxed);
    });
    let four = Runner {
        jobs: 4,
        options: Default::default(),
    }
    .run(&scenarios, &ToyFactory, &|_| {});
    assert_eq!(count.load(Ordering::Relaxed), 12);
    assert_eq!(digest(&one), digest(&four));
    assert_eq!(one[3].name, "toy-03");
    // Different file names → different seeds (and the seed reached the engine).
    assert_ne!(one[0].seed, one[1].seed);
    assert!(one[0].steps[1].events[0].detail_lines[1].ends_with(&one[0].seed.to_string()));
    assert_eq!(exit_status(&one), EXIT_PASSED);
}

#[test]
fn deliberately_wrong_fixture_fails_naming_step_expectation_and_seen() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/deliberately-wrong.toml");
    let s = crate::scenario::load(&path).unwrap();
    let r = run_scenario(&s, &ToyFactory, &Default::default());
    let Outcome::Failed(f) = &r.outcome else {
        panic!("{:?}", r.outcome)
    };
    assert_eq!(
        f.to_string(),
        "step 2 \"power_on phone-a\" (line 29)\n    expected sms_sent = \"handset_changed\"\n    seen     card \"alice\" sent 1 registration SMS during this step: first_use (IMEI 358765030000018, t=0 ms)"
    );
}
