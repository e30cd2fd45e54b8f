//! Scenarios use the handset models of `handset-sim/catalogue/` by id, with their real
//! capability lists (fixture `tests/fixtures/catalogue-models.toml`).

use std::path::PathBuf;

use applet::wire::cat::Capability;
use scenarios::engine::{WorldEngine, WorldFactory};
use scenarios::runner::{Engine, EngineOptions, Outcome, run_scenario};
use scenarios::scenario;

fn fixture() -> scenario::Scenario {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/catalogue-models.toml");
    scenario::load(&p).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn a_story_with_catalogue_models_passes() {
    let r = run_scenario(&fixture(), &WorldFactory, &EngineOptions::default());
    assert_eq!(r.outcome, Outcome::Passed);
}

#[test]
fn the_handsets_are_the_catalogue_profiles() {
    let s = fixture();
    let mut e = WorldEngine::new(&s).unwrap();
    for st in &s.steps {
        e.step(st).unwrap();
    }
    let cat = handset_sim::profile::Catalogue::builtin().unwrap();
    for (handset, id) in [
        ("old-nordvik", "nordvik-n100"),
        ("kestrel", "kestrel-k2"),
        ("solstice", "solstice-s22"),
    ] {
        let h = e.world().terminal(handset).unwrap().handset();
        let m = cat.by_id(id).unwrap();
        assert_eq!(h.terminal_profile, m.terminal_profile, "{handset}");
        assert_eq!(h.profile.make, m.profile.make, "{handset}");
        assert_eq!(h.language, m.language, "{handset}");
        assert_eq!(h.imeisv.svn(), m.imeisv.svn(), "{handset}");
    }
    let k2 = e.world().terminal("kestrel").unwrap().handset();
    assert!(!k2.supports(Capability::PROVIDE_LOCAL_INFORMATION));
    assert!(!k2.supports(Capability::SEND_SHORT_MESSAGE));
}
