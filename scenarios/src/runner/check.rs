//! Expectations against observations: each field of `expect` becomes one comparison,
//! and each failed one says what was expected (as written in the file) and what was
//! seen instead.

use crate::scenario::Expectation;
use crate::scenario::format::{RegistrationExpect, SmsSentExpect};

use super::engine::{CardObservation, HandsetObservation, Observation, VerdictOutcome};

/// One expectation that did not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// The expectation as written (`sms_sent = "handset_changed"`).
    pub expectation: String,
    /// What was seen instead.
    pub seen: String,
}

fn q(s: &str) -> String {
    format!("{s:?}")
}

/// Checks `exp` given the observations before and after the step.
pub fn check(exp: &Expectation, before: &Observation, after: &Observation) -> Vec<Mismatch> {
    let mut out = Vec::new();
    let mut miss = |expectation: String, seen: String| {
        out.push(Mismatch { expectation, seen });
    };
    let x = &exp.checks;
    let empty_card = CardObservation::default();
    let card_name = exp.card.as_deref().unwrap_or("");
    let card_now = exp.card.as_ref().and_then(|c| after.cards.get(c));
    let card_before = exp
        .card
        .as_ref()
        .and_then(|c| before.cards.get(c))
        .unwrap_or(&empty_card);

    if exp.card.is_some() && card_now.is_none() && card_relevant(exp) {
        miss(
            format!("card {card_name:?} observable"),
            "the engine reports no such card".into(),
        );
        return out;
    }
    let card = card_now.unwrap_or(&empty_card);
    let sent_now = card.sent.get(card_before.sent.len()..).unwrap_or(&[]);
    let verdicts_now = card
        .verdicts
        .get(card_before.verdicts.len()..)
        .unwrap_or(&[]);

    if let Some(want) = x.sms_sent {
        let last = sent_now.last();
        let want_s = match want {
            SmsSentExpect::None => "none",
            SmsSentExpect::FirstUse => "first_use",
            SmsSentExpect::HandsetChanged => "handset_changed",
            SmsSentExpect::Retry => "retry",
        };
        let ok = match (want, last) {
            (SmsSentExpect::None, None) => true,
            (SmsSentExpect::None, Some(_)) | (_, None) => false,
            (w, Some(s)) => want_s == s.event.as_str() && w != SmsSentExpect::None,
        };
        if !ok {
            let seen = if sent_now.is_empty() {
                format!("card {card_name:?} sent no registration SMS during this step")
            } else {
                let evs: Vec<String> = sent_now
                    .iter()
                    .map(|s| format!("{} (IMEI {}, t={} ms)", s.event.as_str(), s.imei, s.t_ms))
                    .collect();
                format!(
                    "card {card_name:?} sent {} registration SMS during this step: {}",
                    sent_now.len(),
                    evs.join(", ")
                )
            };
            miss(format!("sms_sent = {}", q(want_s)), seen);
        }
    }
    if let Some(n) = x.sms_total
        && card.sent.len() != n as usize
    {
        miss(
            format!("sms_total = {n}"),
            format!(
                "card {card_name:?} has sent {} registration SMS in total",
                card.sent.len()
            ),
        );
    }
    if let Some(want) = x.registration {
        let last = verdicts_now.last().map(|v| &v.outcome);
        let seen = match last {
            None => "the stub judged no registration for this card during this step".to_owned(),
            Some(VerdictOutcome::Accepted { .. }) => "the stub accepted the registration".into(),
            Some(VerdictOutcome::Rejected(r)) => {
                format!("the stub rejected the registration ({})", r.as_str())
            }
        };
        let (ok, want_s) = match (want, last) {
            (RegistrationExpect::None, l) => (l.is_none(), "none"),
            (RegistrationExpect::Accepted, l) => (
                matches!(l, Some(VerdictOutcome::Accepted { .. })),
                "accepted",
            ),
            (RegistrationExpect::Rejected, l) => (
                match (l, x.reject_reason) {
                    (Some(VerdictOutcome::Rejected(r)), Some(w)) => *r == w,
                    (Some(VerdictOutcome::Rejected(_)), None) => true,
                    _ => false,
                },
                "rejected",
            ),
        };
        if !ok {
            let mut e = format!("registration = {}", q(want_s));
            if let Some(r) = x.reject_reason {
                e.push_str(&format!(", reject_reason = {}", q(r.as_str())));
            }
            miss(e, seen);
        }
    }
    let last_accepted = card.verdicts.iter().rev().find_map(|v| match &v.outcome {
        VerdictOutcome::Accepted {
            depreciated,
            key_source,
        } => Some((*depreciated, *key_source)),
        VerdictOutcome::Rejected(_) => None,
    });
    if let Some(want) = x.depreciated {
        match last_accepted {
            Some((d, _)) if d == want => {}
            Some((d, _)) => miss(
                format!("depreciated = {want}"),
                format!(
                    "the stub judged the device {}",
                    if d {
                        "depreciated"
                    } else {
                        "supported (standard settings)"
                    }
                ),
            ),
            None => miss(
                format!("depreciated = {want}"),
                format!("the stub has accepted no registration for card {card_name:?}"),
            ),
        }
    }
    if let Some(want) = x.key_source {
        let seen = last_accepted.and_then(|(_, k)| k);
        if seen != Some(want) {
            miss(
                format!("key_source = {:?}", format!("{want:?}").to_lowercase()),
                match seen {
                    Some(k) => format!("the key came from {:?}", format!("{k:?}").to_lowercase()),
                    None => "no device key was issued".into(),
                },
            );
        }
    }
    if let Some(cs) = &x.card_state {
        if let Some(want) = cs.session
            && card.session != Some(want)
        {
            miss(
                format!("card_state.session = {}", q(want.as_str())),
                format!(
                    "the last session ended {}",
                    card.session
                        .map_or("never (no session yet)".to_owned(), |s| q(s.as_str()))
                ),
            );
        }
        if let Some(want) = &cs.stored_imei {
            let want = want.get_ref();
            let seen = card.stored_imei.as_deref().unwrap_or("none");
            if want != seen {
                miss(
                    format!("card_state.stored_imei = {}", q(want)),
                    format!("stored IMEI is {}", q(seen)),
                );
            }
        }
        if let Some(want) = cs.pending
            && want != card.pending
        {
            miss(
                format!("card_state.pending = {want}"),
                format!("pending = {}", card.pending),
            );
        }
        if let Some(want) = cs.attempts
            && want != card.attempts
        {
            miss(
                format!("card_state.attempts = {want}"),
                format!("attempts = {}", card.attempts),
            );
        }
        if let Some(want) = cs.counter
            && want != card.counter
        {
            miss(
                format!("card_state.counter = {want}"),
                format!("counter = {}", card.counter),
            );
        }
    }

    let empty_handset = HandsetObservation::default();
    let hs_name = exp.handset.as_deref().unwrap_or("");
    let hs = exp
        .handset
        .as_ref()
        .and_then(|h| after.handsets.get(h))
        .unwrap_or(&empty_handset);
    if let Some(want) = &x.apn
        && !hs.apns.iter().any(|a| a == want)
    {
        miss(
            format!("apn = {}", q(want)),
            format!("handset {hs_name:?} has APNs {:?}", hs.apns),
        );
    }
    if let Some(want) = x.apn_present
        && want == hs.apns.is_empty()
    {
        miss(
            format!("apn_present = {want}"),
            format!("handset {hs_name:?} has APNs {:?}", hs.apns),
        );
    }
    if let Some(want) = x.key_erased {
        let erased = hs.device_key_used && !hs.device_key_present;
        if want != erased {
            miss(
                format!("key_erased = {want}"),
                format!(
                    "handset {hs_name:?}: device key {}, {}",
                    if hs.device_key_used {
                        "used"
                    } else {
                        "never used"
                    },
                    if hs.device_key_present {
                        "still stored"
                    } else {
                        "not stored"
                    }
                ),
            );
        }
    }
    if let Some(want) = x.mms_working
        && want != hs.mms_working
    {
        miss(
            format!("mms_working = {want}"),
            format!("handset {hs_name:?}: mms_working = {}", hs.mms_working),
        );
    }

    if let Some(want) = &x.ledger {
        let mut seen: Vec<String> = after
            .ledger
            .iter()
            .map(|l| {
                format!(
                    "{} {} {} {}",
                    l.kind.as_str(),
                    l.party,
                    l.amount_minor,
                    l.currency
                )
            })
            .collect();
        seen.sort();
        let mut unmatched: Vec<usize> = (0..after.ledger.len()).collect();
        let mut ok = want.len() == after.ledger.len();
        for w in want {
            let pos = unmatched.iter().position(|&i| {
                let l = &after.ledger[i];
                l.kind == w.kind
                    && &l.party == w.party.get_ref()
                    && l.amount_minor == w.amount_minor
                    && w.currency.as_ref().is_none_or(|c| c == &l.currency)
            });
            match pos {
                Some(p) => {
                    unmatched.remove(p);
                }
                None => ok = false,
            }
        }
        if !ok {
            let mut wanted: Vec<String> = want
                .iter()
                .map(|w| {
                    format!(
                        "{} {} {}{}",
                        w.kind.as_str(),
                        w.party.get_ref(),
                        w.amount_minor,
                        w.currency
                            .as_ref()
                            .map(|c| format!(" {c}"))
                            .unwrap_or_default()
                    )
                })
                .collect();
            wanted.sort();
            miss(
                format!("ledger = [{}]", wanted.join("; ")),
                format!("ledger has [{}]", seen.join("; ")),
            );
        }
    }
    if let Some(n) = x.ledger_entries
        && after.ledger.len() != n as usize
    {
        miss(
            format!("ledger_entries = {n}"),
            format!("{} ledger entries", after.ledger.len()),
        );
    }
    if let Some(want) = x.stub_running
        && want != after.stub_running
    {
        miss(
            format!("stub_running = {want}"),
            format!("stub_running = {}", after.stub_running),
        );
    }
    if let Some(f) = &x.fleet {
        let name = f.name.get_ref();
        let empty = Default::default();
        let seen = after.fleets.get(name).unwrap_or(&empty);
        let mut cmp = |field: &str, want: Option<u64>, got: u64| {
            if let Some(w) = want
                && w != got
            {
                miss(
                    format!("fleet {name:?} {field} = {w}"),
                    format!("{field} = {got}"),
                );
            }
        };
        cmp("registrations", f.registrations, seen.registrations);
        cmp("accepted", f.accepted, seen.accepted);
        cmp("configured", f.configured, seen.configured);
        if let Some(max) = f.max_sms_per_card
            && seen.max_sms_per_card > max
        {
            miss(
                format!("fleet {name:?} max_sms_per_card = {max}"),
                format!("a card sent {} registration SMS", seen.max_sms_per_card),
            );
        }
    }
    out
}

fn card_relevant(exp: &Expectation) -> bool {
    let x = &exp.checks;
    x.sms_sent.is_some()
        || x.sms_total.is_some()
        || x.registration.is_some()
        || x.depreciated.is_some()
        || x.key_source.is_some()
        || x.card_state.is_some()
}
