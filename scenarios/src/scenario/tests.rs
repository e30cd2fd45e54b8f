//! Format and validation tests: positions of syntax, type and meaning errors.

use std::path::Path;

use super::*;

const MINIMAL: &str = r#"
title = "minimal"

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

[[step]]
insert = { card = "alice", handset = "phone-a" }

[[step]]
power_on = "phone-a"
expect = { sms_sent = "first_use", apn = "internet.blue" }
"#;

fn err_of(text: &str) -> ScenarioError {
    parse(Path::new("t.toml"), text).expect_err("must fail")
}

fn first(text: &str) -> Diagnostic {
    err_of(text).diagnostics()[0].clone()
}

fn pos_of(text: &str, needle: &str) -> (usize, usize) {
    let off = text.find(needle).expect("needle");
    let d = Diagnostic::at(text, off..off, "");
    (d.line, d.column)
}

#[test]
fn business_facts_parse_and_name_catalogue_models_only() {
    let b: BusinessFile = toml::from_str(BUSINESS_TOML).expect("business facts parse");
    let cat = handset_sim::profile::Catalogue::builtin().unwrap();
    assert!(b.models.len() >= 7);
    for (id, m) in &b.models {
        assert!(
            cat.by_id(id).is_some(),
            "{id} is not in handset-sim/catalogue/"
        );
        assert!(
            m.tac.is_none() && m.name.is_none() && m.toolkit.is_none(),
            "{id}"
        );
        if let Some(maker) = &m.manufacturer {
            assert!(b.manufacturers.contains_key(maker.get_ref()), "{id}");
        }
    }
    // Every catalogue model's maker has business facts (by its legal name).
    for (id, h) in cat.entries() {
        assert!(
            b.manufacturers
                .values()
                .any(|m| m.name == h.profile.manufacturer),
            "{id}: no manufacturer named {:?} in business.toml",
            h.profile.manufacturer
        );
    }
}

#[test]
fn every_catalogue_model_is_a_scenario_model_with_its_profile() {
    let s = parse(Path::new("m.toml"), MINIMAL).unwrap();
    let cat = handset_sim::profile::Catalogue::builtin().unwrap();
    assert_eq!(s.world.models.len(), cat.models().len());
    for (id, h) in cat.entries() {
        let m = &s.world.models[id];
        assert_eq!(m.tac.as_str(), h.profile.tac, "{id}");
        assert_eq!(m.name, h.profile.model, "{id}");
        assert_eq!(m.profile.as_ref(), Some(&h.profile), "{id}");
        assert_eq!(
            s.world.manufacturers[m.manufacturer.get_ref()].name,
            h.profile.manufacturer,
            "{id}"
        );
    }
    let k2 = &s.world.models["kestrel-k2"];
    assert!(!k2.toolkit && k2.in_database);
    assert_eq!(k2.manufacturer.get_ref(), "kestrel");
    assert_eq!(k2.released.to_string(), "2011-01-01");
    let g3 = &s.world.models["globex-g3"];
    assert!(g3.toolkit);
    assert_eq!(g3.released.to_string(), "2025-09-15");
    assert!(!s.world.models["grey-import"].in_database);
    assert!(!s.world.models["initech-basic"].toolkit);
}

#[test]
fn a_scenario_sets_business_facts_of_a_catalogue_model() {
    let text = format!(
        "{MINIMAL}\n[world.models.nordvik-n100]\nreleased = 2009-10-01\nin_database = false\nmanufacturer = \"acme\"\n"
    );
    let s = parse(Path::new("m.toml"), &text).unwrap();
    let m = &s.world.models["nordvik-n100"];
    assert_eq!(m.released.to_string(), "2009-10-01");
    assert!(!m.in_database);
    assert_eq!(m.manufacturer.get_ref(), "acme");
    assert_eq!(m.tac.as_str(), "00124500");
}

#[test]
fn a_catalogue_models_tac_cannot_be_changed_in_a_scenario() {
    let text = format!("{MINIMAL}\n[world.models.kestrel-k2]\ntac = \"35209999\"\n");
    let d = first(&text);
    assert_eq!((d.line, d.column), pos_of(&text, "\"35209999\""));
    assert!(
        d.message
            .contains("handset-sim/catalogue/kestrel-k2.toml, which gives its `tac`"),
        "{}",
        d.message
    );
}

#[test]
fn a_scenario_model_of_its_own_needs_its_facts() {
    let text = format!("{MINIMAL}\n[world.models.my-phone]\ntac = \"35209999\"\n");
    let d = first(&text);
    assert!(
        d.message
            .contains("model `my-phone` is not in the handset catalogue")
            && d.message
                .contains("missing `manufacturer`, `name`, `released`"),
        "{}",
        d.message
    );
    let ok = format!(
        "{MINIMAL}\n[world.models.my-phone]\ntac = \"35209999\"\nmanufacturer = \"acme\"\nname = \"Mine\"\nreleased = 2024-01-15\ntoolkit = false\n"
    );
    let s = parse(Path::new("m.toml"), &ok).unwrap();
    let m = &s.world.models["my-phone"];
    assert!(m.profile.is_none() && !m.toolkit);
    let bad_maker = ok.replace("manufacturer = \"acme\"", "manufacturer = \"acne\"");
    let d = first(&bad_maker);
    assert!(
        d.message.starts_with("unknown manufacturer `acne`"),
        "{}",
        d.message
    );
}

#[test]
fn minimal_scenario_loads() {
    let s = parse(Path::new("dir/minimal.toml"), MINIMAL).unwrap();
    assert_eq!(s.name, "minimal");
    assert_eq!(s.steps.len(), 2);
    assert_eq!(
        s.steps[0].action,
        Action::Insert {
            card: "alice".into(),
            handset: "phone-a".into()
        }
    );
    assert_eq!(s.steps[1].label, "power_on phone-a");
    let e = s.steps[1].expect.as_ref().unwrap();
    assert_eq!(e.card.as_deref(), Some("alice"));
    assert_eq!(e.handset.as_deref(), Some("phone-a"));
    // IMEI from TAC 35209901 + serial 000001 + Luhn.
    let imei = &s.handset_imeis["phone-a"];
    assert!(imei.as_str().starts_with("35209901000001") && imei.luhn_ok());
    // The line of the step's `[[step]]` header.
    assert_eq!(s.steps[1].line, pos_of(MINIMAL, "power_on").0 - 1);
    assert_eq!(s.date, DEFAULT_DATE);
}

#[test]
fn seed_depends_on_file_name_and_seed_only() {
    let a = parse(Path::new("x/minimal.toml"), MINIMAL).unwrap();
    let b = parse(Path::new("y/minimal.toml"), MINIMAL).unwrap();
    assert_eq!(a.seed, b.seed);
    let c = parse(Path::new("y/other.toml"), MINIMAL).unwrap();
    assert_ne!(a.seed, c.seed);
    let d = parse(Path::new("x/minimal.toml"), &format!("seed = 7\n{MINIMAL}")).unwrap();
    assert_ne!(a.seed, d.seed);
    assert_eq!(seed_for("minimal.toml", None), a.seed);
}

#[test]
fn toml_syntax_error_has_position() {
    let text = MINIMAL.replace("power_on = \"phone-a\"", "power_on = phone-a");
    let d = first(&text);
    assert_eq!(d.line, pos_of(&text, "power_on = phone-a").0);
    assert!(d.column >= 12, "{d:?}");
}

#[test]
fn unknown_field_names_expected_fields() {
    let text = MINIMAL.replace("power_on = \"phone-a\"", "power_onn = \"phone-a\"");
    let d = first(&text);
    assert_eq!((d.line, d.column), pos_of(&text, "power_onn"));
    assert!(
        d.message.contains("unknown field `power_onn`"),
        "{}",
        d.message
    );
    assert!(d.message.contains("power_on"), "{}", d.message);
}

#[test]
fn bad_value_points_at_value() {
    let text = MINIMAL.replace("imsi = \"208010000000001\"", "imsi = \"20801x\"");
    let d = first(&text);
    assert_eq!((d.line, d.column), pos_of(&text, "\"20801x\""));
    assert!(d.message.contains("decimal digits"), "{}", d.message);

    let text = MINIMAL.replace(
        "[[step]]\npower_on",
        "[[step]]\nadvance = \"10 years\"\n[[step]]\npower_on",
    );
    let d = first(&text);
    assert_eq!((d.line, d.column), pos_of(&text, "\"10 years\""));
    assert!(d.message.contains("expected a duration"), "{}", d.message);

    let text = MINIMAL.replace("sms_sent = \"first_use\"", "sms_sent = \"first\"");
    let d = first(&text);
    assert_eq!((d.line, d.column), pos_of(&text, "\"first\""));
    assert!(d.message.contains("first_use"), "{}", d.message);
}

#[test]
fn unknown_reference_lists_known_names() {
    let text = MINIMAL.replace("power_on = \"phone-a\"", "power_on = \"phone-b\"");
    let d = first(&text);
    assert_eq!((d.line, d.column), pos_of(&text, "\"phone-b\""));
    assert_eq!(
        d.message,
        "unknown handset `phone-b`; expected one of: phone-a"
    );
    assert_eq!(d.width, 9);
    let shown = err_of(&text).to_string();
    assert!(
        shown.starts_with(&format!("t.toml:{}:{}: unknown handset", d.line, d.column)),
        "{shown}"
    );
    assert!(shown.contains("^^^^^^^^^"), "{shown}");
}

#[test]
fn imsi_must_match_operator() {
    let text = MINIMAL.replace("208010000000001", "208150000000001");
    let d = first(&text);
    assert!(
        d.message.contains("start with its PLMN 208-01"),
        "{}",
        d.message
    );
}

#[test]
fn imei_must_match_model_tac() {
    let text = MINIMAL.replace("serial = \"000001\"", "imei = \"490154203237518\"");
    let d = first(&text);
    assert_eq!((d.line, d.column), pos_of(&text, "\"490154203237518\""));
    assert!(d.message.contains("expected 35209901"), "{}", d.message);
}

#[test]
fn card_moves_are_checked_in_order() {
    let text = MINIMAL.replace(
        "[[step]]\npower_on",
        "[[step]]\ninsert = { card = \"alice\", handset = \"phone-a\" }\n[[step]]\npower_on",
    );
    let e = err_of(&text);
    let d = &e.diagnostics()[0];
    assert!(
        d.message.contains("already in handset `phone-a`"),
        "{}",
        d.message
    );

    let text = MINIMAL.replace(
        "insert = { card = \"alice\", handset = \"phone-a\" }",
        "remove = \"alice\"",
    );
    let d = first(&text);
    assert!(d.message.contains("in no handset"), "{}", d.message);
}

#[test]
fn one_action_per_step() {
    let text = MINIMAL.replace(
        "power_on = \"phone-a\"",
        "power_on = \"phone-a\"\npower_off = \"phone-a\"",
    );
    let d = first(&text);
    // Points at the second action's value.
    let (line, _) = pos_of(&text, "power_off");
    assert_eq!((d.line, d.column), (line, 13));
    assert!(
        d.message.contains("already has the action `power_on`"),
        "{}",
        d.message
    );
}

#[test]
fn expectation_needs_a_card_when_several() {
    let text = MINIMAL.replace(
        "[world.handsets.phone-a]",
        "[world.cards.bob]\noperator = \"blue\"\niccid = \"8933010000000000026\"\nimsi = \"208010000000002\"\nmsisdn = \"33600000002\"\n\n[world.handsets.phone-a]",
    );
    let d = first(&text);
    assert!(
        d.message
            .contains("expected `card = \"…\"` (the world has 2 cards: alice, bob)"),
        "{}",
        d.message
    );
}

#[test]
fn all_errors_are_reported_in_file_order() {
    let text = MINIMAL
        .replace("network = \"home\"", "network = \"away\"")
        .replace("power_on = \"phone-a\"", "power_on = \"phone-z\"");
    let e = err_of(&text);
    let lines: Vec<usize> = e.diagnostics().iter().map(|d| d.line).collect();
    assert_eq!(lines.len(), 2, "{e}");
    assert!(lines[0] < lines[1]);
}
