//! Meaning checks after the TOML parse: every name refers to something, IMSIs belong
//! to their operator, IMEIs fit their model, each step's card moves are possible given
//! where the cards are at that point, and each expectation knows its card and handset.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;

use toml::Spanned;

use super::format::{self, CutPower, Expect, Fault, ScenarioFile, StepFile, StubVerb, World};
use super::values::Imei;
use super::{Action, CutAt, DEFAULT_DATE, Diagnostic, Expectation, Scenario, Step, seed_for};

struct Ctx<'a> {
    text: &'a str,
    diags: Vec<Diagnostic>,
}

impl Ctx<'_> {
    fn err(&mut self, span: Range<usize>, msg: impl Into<String>) {
        self.diags.push(Diagnostic::at(self.text, span, msg));
    }

    /// Checks that `name` is a key of `map`; `kind` is e.g. "card", `table` e.g.
    /// "[world.cards]".
    fn known<V>(
        &mut self,
        name: &Spanned<String>,
        map: &BTreeMap<String, V>,
        kind: &str,
        table: &str,
    ) -> bool {
        if map.contains_key(name.get_ref()) {
            return true;
        }
        let msg = if map.is_empty() {
            format!(
                "unknown {kind} `{}`: no {kind} is declared in {table}",
                name.get_ref()
            )
        } else {
            let names: Vec<&str> = map.keys().map(String::as_str).collect();
            format!(
                "unknown {kind} `{}`; expected one of: {}",
                name.get_ref(),
                names.join(", ")
            )
        };
        self.err(name.span(), msg);
        false
    }
}

pub(super) fn validate(
    path: &Path,
    text: &str,
    file: ScenarioFile,
) -> Result<Scenario, Vec<Diagnostic>> {
    let mut cx = Ctx {
        text,
        diags: Vec::new(),
    };
    let ScenarioFile {
        title,
        description,
        tags,
        seed,
        mut world,
        steps,
    } = file;

    // The handset catalogue's models with their business facts, the file's own
    // entries over them (`models` module). References of the built-in business facts
    // are checked by a unit test, so only the file's own entries are checked here.
    let model_diags = super::models::resolve(text, &mut world);
    cx.diags.extend(model_diags);

    check_world(&mut cx, &world);
    let handset_imeis = handset_imeis(&mut cx, &world);

    let mut out_steps = Vec::new();
    let mut places = Places::default();
    for (i, step) in steps.iter().enumerate() {
        if let Some(s) = check_step(&mut cx, &world, &mut places, i + 1, step) {
            out_steps.push(s);
        }
    }

    if !cx.diags.is_empty() {
        cx.diags.sort_by_key(|d| (d.line, d.column));
        return Err(cx.diags);
    }
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = path
        .file_stem()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(Scenario {
        path: path.to_owned(),
        name,
        title,
        description,
        tags,
        seed: seed_for(&file_name, seed),
        date: world.date.unwrap_or(DEFAULT_DATE),
        world,
        handset_imeis,
        steps: out_steps,
    })
}

fn check_world(cx: &mut Ctx<'_>, w: &World) {
    for op in w.operators.values() {
        cx.known(&op.network, &w.networks, "network", "[world.networks]");
        for m in &op.relationships {
            cx.known(m, &w.manufacturers, "manufacturer", "[world.manufacturers]");
        }
    }
    let mut iccids: BTreeMap<&str, &str> = BTreeMap::new();
    for (name, card) in &w.cards {
        if cx.known(
            &card.operator,
            &w.operators,
            "operator",
            "[world.operators]",
        ) {
            let plmn = w.operators[card.operator.get_ref()].plmn.get_ref();
            if !card.imsi.get_ref().0.starts_with(&plmn.digits()) {
                cx.err(
                    card.imsi.span(),
                    format!(
                        "IMSI {} does not belong to operator `{}`: expected it to start with its PLMN {} (digits {})",
                        card.imsi.get_ref(),
                        card.operator.get_ref(),
                        plmn,
                        plmn.digits()
                    ),
                );
            }
        }
        if let Some(other) = iccids.insert(&card.iccid.get_ref().0, name) {
            cx.err(
                card.iccid.span(),
                format!(
                    "ICCID {} is also card `{other}`'s: expected a unique ICCID",
                    card.iccid.get_ref()
                ),
            );
        }
        for n in card
            .retry
            .iter()
            .flat_map(|r| [&r.per_power_cycle, &r.per_period])
            .flatten()
        {
            if *n.get_ref() == 0 {
                cx.err(n.span(), "expected a limit from 1 to 255");
            }
        }
    }
    for f in w.fleets.values() {
        if !(1..=1_000_000).contains(f.count.get_ref()) {
            cx.err(f.count.span(), "expected a fleet size from 1 to 1000000");
        }
        cx.known(&f.operator, &w.operators, "operator", "[world.operators]");
        cx.known(&f.model, &w.models, "model", MODELS);
    }
    for m in &w.policy.depreciated {
        cx.known(m, &w.models, "model", MODELS);
    }
}

fn handset_imeis(cx: &mut Ctx<'_>, w: &World) -> BTreeMap<String, Imei> {
    let mut out = BTreeMap::new();
    for (name, h) in &w.handsets {
        if !cx.known(&h.model, &w.models, "model", MODELS) {
            continue;
        }
        let tac = &w.models[h.model.get_ref()].tac;
        match (&h.serial, &h.imei) {
            (Some(s), None) => {
                out.insert(name.clone(), Imei::from_parts(tac, s.get_ref()));
            }
            (None, Some(i)) => {
                if i.get_ref().tac() != tac.as_str() {
                    cx.err(
                        i.span(),
                        format!(
                            "IMEI {} does not start with the TAC of model `{}`: expected {}…",
                            i.get_ref(),
                            h.model.get_ref(),
                            tac
                        ),
                    );
                }
                out.insert(name.clone(), i.get_ref().clone());
            }
            (Some(_), Some(i)) => cx.err(
                i.span(),
                format!("handset `{name}` has both `serial` and `imei`: expected one of them"),
            ),
            (None, None) => cx.err(
                h.model.span(),
                format!("handset `{name}` needs `serial = \"NNNNNN\"` or `imei = \"…\"`"),
            ),
        }
    }
    out
}

/// Where every card is, step by step (static: the moves are deterministic).
#[derive(Default)]
struct Places {
    card_in: BTreeMap<String, String>,
    holds: BTreeMap<String, String>,
}

/// Where models come from, for "unknown model" errors.
const MODELS: &str = "[world.models] or handset-sim/catalogue/";

const ACTIONS: &str = "insert, remove, move, power_on, power_off, attach, advance, fault, cut_power, stub, enter_pin, replay, forge, fleet_swap";

fn check_step(
    cx: &mut Ctx<'_>,
    w: &World,
    places: &mut Places,
    index: usize,
    step: &Spanned<StepFile>,
) -> Option<Step> {
    let span = step.span();
    let s = step.get_ref();
    let line = Diagnostic::at(cx.text, span.clone(), "").line;

    let mut present: Vec<(&str, Range<usize>)> = Vec::new();
    macro_rules! key {
        ($field:ident, $name:literal) => {
            if let Some(v) = &s.$field {
                present.push(($name, v.span()));
            }
        };
    }
    key!(insert, "insert");
    key!(remove, "remove");
    key!(move_card, "move");
    key!(power_on, "power_on");
    key!(power_off, "power_off");
    key!(attach, "attach");
    key!(advance, "advance");
    key!(fault, "fault");
    key!(cut_power, "cut_power");
    key!(stub, "stub");
    key!(enter_pin, "enter_pin");
    key!(replay, "replay");
    key!(forge, "forge");
    key!(fleet_swap, "fleet_swap");
    if present.len() > 1 {
        present.sort_by_key(|(_, sp)| sp.start);
        let (first, _) = present[0];
        for (other, sp) in &present[1..] {
            cx.err(
                sp.clone(),
                format!("step {index} already has the action `{first}`: expected one action per [[step]] (put `{other}` in a step of its own)"),
            );
        }
        return None;
    }
    if present.is_empty() && s.expect.is_none() {
        cx.err(
            span,
            format!("empty step {index}: expected one action ({ACTIONS}) and/or an `expect` table"),
        );
        return None;
    }

    let errors_before = cx.diags.len();
    let action = if let Some(v) = &s.insert {
        let v = v.get_ref();
        let ok = cx.known(&v.card, &w.cards, "card", "[world.cards]")
            & cx.known(&v.handset, &w.handsets, "handset", "[world.handsets]");
        if ok {
            let (c, h) = (v.card.get_ref(), v.handset.get_ref());
            if let Some(at) = places.card_in.get(c) {
                cx.err(v.card.span(), format!("card `{c}` is already in handset `{at}` at this step: expected `remove` or `move` first"));
            } else if let Some(other) = places.holds.get(h) {
                cx.err(v.handset.span(), format!("handset `{h}` already holds card `{other}` at this step: expected an empty handset"));
            } else {
                places.card_in.insert(c.clone(), h.clone());
                places.holds.insert(h.clone(), c.clone());
            }
        }
        Action::Insert {
            card: v.card.get_ref().clone(),
            handset: v.handset.get_ref().clone(),
        }
    } else if let Some(v) = &s.remove {
        if cx.known(v, &w.cards, "card", "[world.cards]") {
            match places.card_in.remove(v.get_ref()) {
                Some(h) => {
                    places.holds.remove(&h);
                }
                None => cx.err(
                    v.span(),
                    format!(
                        "card `{}` is in no handset at this step: expected `insert` first",
                        v.get_ref()
                    ),
                ),
            }
        }
        Action::Remove {
            card: v.get_ref().clone(),
        }
    } else if let Some(v) = &s.move_card {
        let v = v.get_ref();
        let ok = cx.known(&v.card, &w.cards, "card", "[world.cards]")
            & cx.known(&v.to, &w.handsets, "handset", "[world.handsets]");
        if ok {
            let (c, h) = (v.card.get_ref(), v.to.get_ref());
            match places.card_in.get(c).cloned() {
                None => cx.err(v.card.span(), format!("card `{c}` is in no handset at this step: expected `insert` instead of `move`")),
                Some(from) if &from == h => cx.err(v.to.span(), format!("card `{c}` is already in `{h}`: expected another handset")),
                Some(from) => {
                    if let Some(other) = places.holds.get(h) {
                        cx.err(v.to.span(), format!("handset `{h}` already holds card `{other}` at this step: expected an empty handset"));
                    } else {
                        places.holds.remove(&from);
                        places.card_in.insert(c.clone(), h.clone());
                        places.holds.insert(h.clone(), c.clone());
                    }
                }
            }
        }
        Action::Move {
            card: v.card.get_ref().clone(),
            to: v.to.get_ref().clone(),
        }
    } else if let Some(v) = &s.power_on {
        cx.known(v, &w.handsets, "handset", "[world.handsets]");
        Action::PowerOn {
            handset: v.get_ref().clone(),
        }
    } else if let Some(v) = &s.power_off {
        cx.known(v, &w.handsets, "handset", "[world.handsets]");
        Action::PowerOff {
            handset: v.get_ref().clone(),
        }
    } else if let Some(v) = &s.attach {
        let v = v.get_ref();
        cx.known(&v.handset, &w.handsets, "handset", "[world.handsets]");
        cx.known(&v.network, &w.networks, "network", "[world.networks]");
        Action::Attach {
            handset: v.handset.get_ref().clone(),
            network: v.network.get_ref().clone(),
        }
    } else if let Some(v) = &s.advance {
        if v.get_ref().ms == 0 {
            cx.err(v.span(), "expected a positive duration");
        }
        Action::Advance { by: *v.get_ref() }
    } else if let Some(v) = &s.fault {
        check_fault(cx, w, v);
        Action::Fault(v.get_ref().clone())
    } else if let Some(v) = &s.cut_power {
        let at = check_cut(cx, w, v);
        Action::CutPower {
            card: v.get_ref().card.get_ref().clone(),
            at,
        }
    } else if let Some(v) = &s.stub {
        if v.get_ref().down_for.is_some() && v.get_ref().action != StubVerb::Restart {
            cx.err(
                v.span(),
                "`down_for` only applies to `action = \"restart\"`",
            );
        }
        Action::Stub(v.get_ref().clone())
    } else if let Some(v) = &s.enter_pin {
        let v = v.get_ref();
        cx.known(&v.handset, &w.handsets, "handset", "[world.handsets]");
        Action::EnterPin {
            handset: v.handset.get_ref().clone(),
            pin: v.pin.clone(),
        }
    } else if let Some(v) = &s.replay {
        let v = v.get_ref();
        cx.known(&v.card, &w.cards, "card", "[world.cards]");
        if *v.nth.get_ref() == 0 {
            cx.err(
                v.nth.span(),
                "expected nth ≥ 1 (1 = the first registration the card sent)",
            );
        }
        Action::Replay {
            card: v.card.get_ref().clone(),
            nth: *v.nth.get_ref(),
        }
    } else if let Some(v) = &s.forge {
        let v = v.get_ref();
        cx.known(&v.card, &w.cards, "card", "[world.cards]");
        if let Some(k) = &v.key_of {
            cx.known(k, &w.cards, "card", "[world.cards]");
        }
        Action::Forge {
            card: v.card.get_ref().clone(),
            imei: v.imei.clone(),
            key_of: v.key_of.as_ref().map(|k| k.get_ref().clone()),
            counter: v.counter,
        }
    } else if let Some(v) = &s.fleet_swap {
        let v = v.get_ref();
        cx.known(&v.fleet, &w.fleets, "fleet", "[world.fleets]");
        cx.known(&v.to_model, &w.models, "model", MODELS);
        Action::FleetSwap {
            fleet: v.fleet.get_ref().clone(),
            to_model: v.to_model.get_ref().clone(),
            spread: v.spread,
        }
    } else {
        Action::Check
    };

    let expect = s
        .expect
        .as_ref()
        .map(|e| check_expect(cx, w, places, index, e));
    if cx.diags.len() > errors_before {
        return None;
    }
    let label = s.name.clone().unwrap_or_else(|| label_of(&action));
    Some(Step {
        index,
        line,
        label,
        action,
        expect: expect.flatten(),
    })
}

fn check_fault(cx: &mut Ctx<'_>, w: &World, v: &Spanned<Fault>) {
    let f = v.get_ref();
    if let Some(n) = &f.network {
        cx.known(n, &w.networks, "network", "[world.networks]");
    }
    for h in [&f.out_of_coverage, &f.in_coverage].into_iter().flatten() {
        cx.known(h, &w.handsets, "handset", "[world.handsets]");
    }
    let effects = f.smsc_down.is_some()
        || f.mo_rp_error.is_some()
        || f.mt_rp_error.is_some()
        || f.mo_loss.is_some()
        || f.mt_loss.is_some()
        || f.latency.is_some()
        || f.out_of_coverage.is_some()
        || f.in_coverage.is_some()
        || f.clear;
    if !effects {
        cx.err(v.span(), "empty fault: expected at least one of smsc_down, mo_rp_error, mt_rp_error, mo_loss, mt_loss, latency, out_of_coverage, in_coverage, clear");
    }
    for p in [f.mo_loss, f.mt_loss].into_iter().flatten() {
        if !(0.0..=1.0).contains(&p) {
            cx.err(
                v.span(),
                format!("loss probability {p}: expected a number from 0.0 to 1.0"),
            );
        }
    }
    if f.count.is_some() && f.mo_rp_error.is_none() && f.mt_rp_error.is_none() {
        cx.err(
            v.span(),
            "`count` applies to mo_rp_error / mt_rp_error: expected one of them",
        );
    }
}

fn check_cut(cx: &mut Ctx<'_>, w: &World, v: &Spanned<CutPower>) -> CutAt {
    let c = v.get_ref();
    cx.known(&c.card, &w.cards, "card", "[world.cards]");
    match (c.at, &c.at_write) {
        (Some(p), None) => CutAt::Point(p),
        (None, Some(n)) => {
            if *n.get_ref() == 0 {
                cx.err(n.span(), "expected at_write ≥ 1 (1 = the next NVM write)");
            }
            CutAt::Write(*n.get_ref())
        }
        _ => {
            cx.err(v.span(), "expected exactly one of `at = \"imei_commit\" | \"counter_update\" | \"retry_state\"` and `at_write = N`");
            CutAt::Write(1)
        }
    }
}

fn check_expect(
    cx: &mut Ctx<'_>,
    w: &World,
    places: &Places,
    index: usize,
    e: &Spanned<Expect>,
) -> Option<Expectation> {
    let x = e.get_ref();
    let about_handset = x.apn.is_some()
        || x.apn_present.is_some()
        || x.key_erased.is_some()
        || x.mms_working.is_some();
    let about_card = x.sms_sent.is_some()
        || x.sms_total.is_some()
        || x.registration.is_some()
        || x.reject_reason.is_some()
        || x.depreciated.is_some()
        || x.key_source.is_some()
        || x.card_state.is_some()
        || (about_handset && x.handset.is_none());

    let card = match &x.card {
        Some(c) => cx
            .known(c, &w.cards, "card", "[world.cards]")
            .then(|| c.get_ref().clone()),
        None if about_card => {
            if w.cards.len() == 1 {
                w.cards.keys().next().cloned()
            } else {
                let names: Vec<&str> = w.cards.keys().map(String::as_str).collect();
                cx.err(
                    e.span(),
                    format!(
                        "step {index}: this expectation is about a card: expected `card = \"…\"` (the world has {} cards: {})",
                        names.len(),
                        names.join(", ")
                    ),
                );
                None
            }
        }
        None => None,
    };
    let handset = match &x.handset {
        Some(h) => cx
            .known(h, &w.handsets, "handset", "[world.handsets]")
            .then(|| h.get_ref().clone()),
        None if about_handset => match card.as_ref().and_then(|c| places.card_in.get(c)) {
            Some(h) => Some(h.clone()),
            None => {
                if let Some(c) = &card {
                    cx.err(e.span(), format!("step {index}: card `{c}` is in no handset at this step, so apn / key_erased / mms_working need `handset = \"…\"`"));
                }
                None
            }
        },
        None => None,
    };
    if x.reject_reason.is_some() && x.registration != Some(format::RegistrationExpect::Rejected) {
        cx.err(
            e.span(),
            "`reject_reason` needs `registration = \"rejected\"` in the same expectation",
        );
    }
    if let Some(i) = x.card_state.as_ref().and_then(|cs| cs.stored_imei.as_ref()) {
        let v = i.get_ref();
        if v != "none" && Imei::parse(v).is_err() {
            cx.err(
                i.span(),
                format!("stored_imei {v:?}: expected 15 digits or \"none\""),
            );
        }
    }
    for l in x.ledger.iter().flatten() {
        if !w.operators.contains_key(l.party.get_ref())
            && !w.manufacturers.contains_key(l.party.get_ref())
        {
            cx.err(
                l.party.span(),
                format!(
                    "unknown ledger party `{}`: expected an operator or manufacturer id",
                    l.party.get_ref()
                ),
            );
        }
    }
    if let Some(f) = &x.fleet {
        cx.known(&f.name, &w.fleets, "fleet", "[world.fleets]");
    }
    Some(Expectation {
        card,
        handset,
        checks: x.clone(),
    })
}

/// The action written out, for reports.
pub(super) fn label_of(a: &Action) -> String {
    match a {
        Action::Check => "check".into(),
        Action::Insert { card, handset } => format!("insert {card} into {handset}"),
        Action::Remove { card } => format!("remove {card}"),
        Action::Move { card, to } => format!("move {card} to {to}"),
        Action::PowerOn { handset } => format!("power_on {handset}"),
        Action::PowerOff { handset } => format!("power_off {handset}"),
        Action::Attach { handset, network } => format!("attach {handset} to {network}"),
        Action::Advance { by } => format!("advance {by}"),
        Action::Fault(f) => {
            let mut parts = Vec::new();
            if f.clear {
                parts.push("clear".to_owned());
            }
            if let Some(d) = f.smsc_down {
                parts.push(format!("smsc_down {d}"));
            }
            if let Some(c) = f.mo_rp_error {
                parts.push(format!("mo_rp_error {c}"));
            }
            if let Some(c) = f.mt_rp_error {
                parts.push(format!("mt_rp_error {c}"));
            }
            if let Some(p) = f.mo_loss {
                parts.push(format!("mo_loss {p}"));
            }
            if let Some(p) = f.mt_loss {
                parts.push(format!("mt_loss {p}"));
            }
            if let Some(d) = f.latency {
                parts.push(format!("latency {d}"));
            }
            if let Some(h) = &f.out_of_coverage {
                parts.push(format!("{} out of coverage", h.get_ref()));
            }
            if let Some(h) = &f.in_coverage {
                parts.push(format!("{} in coverage", h.get_ref()));
            }
            format!("fault {}", parts.join(", "))
        }
        Action::CutPower { card, at } => match at {
            CutAt::Point(p) => format!("cut_power {card} at {p:?}"),
            CutAt::Write(n) => format!("cut_power {card} at NVM write {n}"),
        },
        Action::Stub(s) => format!("stub {:?} {:?}", s.action, s.when).to_lowercase(),
        Action::EnterPin { handset, .. } => format!("enter_pin on {handset}"),
        Action::Replay { card, nth } => format!("replay {card}'s registration #{nth}"),
        Action::Forge { card, imei, .. } => {
            format!("forge registration as {card} with IMEI {imei}")
        }
        Action::FleetSwap {
            fleet, to_model, ..
        } => format!("fleet_swap {fleet} to {to_model}"),
    }
}
