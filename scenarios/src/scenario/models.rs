//! A scenario's handset models: the `handset-sim/catalogue/` profiles (the project's one
//! list of models, [`Catalogue::builtin`]) with their business facts, plus the models a
//! scenario declares for itself.
//!
//! For each catalogue model, by id (file stem), the facts come from, first to last:
//! the scenario's `[world.models.ID]`, the built-in business facts
//! (`src/scenario/business.toml`), the profile. The profile gives TAC, name, sample
//! IMEISV software version, language and capabilities (so `toolkit` is whether it
//! announces PROVIDE LOCAL INFORMATION and SEND SHORT MESSAGE); the business facts give
//! the manufacturer id (default: the manufacturer whose `name` is the profile's
//! `manufacturer`), the release date (default: 1 January of the profile's
//! `release_year`) and `in_database` (default true). Any other `[world.models.ID]` is a
//! model only that scenario uses and must say `tac`, `manufacturer`, `name` and
//! `released`.

use std::collections::BTreeMap;
use std::ops::Range;

use applet::wire::cat::Capability;
use handset_sim::profile::{Catalogue, Handset};
use toml::Spanned;

use super::Diagnostic;
use super::format::{KeySource, Manufacturer, Model, World};
use super::values::{Date, Tac};

/// Fields a scenario may set on a catalogue model.
const BUSINESS_FIELDS: &str = "`manufacturer`, `released` and `in_database`";

/// Merges the built-in business facts into `world.manufacturers` and fills
/// `world.models`; returns what is wrong with the scenario's own `[world.models]`.
pub(super) fn resolve(text: &str, world: &mut World) -> Vec<Diagnostic> {
    let mut diags = Vec::new();
    let mut err = |span: Range<usize>, msg: String| diags.push(Diagnostic::at(text, span, msg));
    let business = super::business();

    // Manufacturer ids by name: the scenario's own first, then the built-in ones.
    let mut maker_by_name: BTreeMap<String, String> = BTreeMap::new();
    for (id, m) in business
        .manufacturers
        .iter()
        .chain(world.manufacturers.iter())
    {
        maker_by_name.insert(m.name.clone(), id.clone());
    }
    for (k, v) in business.manufacturers {
        world.manufacturers.entry(k).or_insert(v);
    }

    let catalogue = Catalogue::builtin().unwrap_or_else(|e| {
        err(
            0..0,
            format!("the built-in handset catalogue is invalid: {e}"),
        );
        Catalogue::default()
    });
    let mut models = BTreeMap::new();
    for (id, handset) in catalogue.entries() {
        let own = world.model_entries.get(id).map(Spanned::get_ref);
        if let Some(e) = own {
            let fixed = [
                ("tac", e.tac.as_ref().map(Spanned::span)),
                ("name", e.name.as_ref().map(Spanned::span)),
                ("toolkit", e.toolkit.as_ref().map(Spanned::span)),
            ];
            for (field, span) in fixed {
                if let Some(span) = span {
                    err(
                        span,
                        format!(
                            "model `{id}` is handset-sim/catalogue/{id}.toml, which gives its `{field}`: expected only {BUSINESS_FIELDS} here (or another id for a model of this scenario's own)"
                        ),
                    );
                }
            }
        }
        let built = business.models.get(id);
        let manufacturer = match own.and_then(|e| e.manufacturer.clone()) {
            Some(m) => m,
            None => {
                let id = built
                    .and_then(|e| e.manufacturer.as_ref())
                    .map(|m| m.get_ref().clone())
                    .or_else(|| maker_by_name.get(&handset.profile.manufacturer).cloned())
                    .unwrap_or_else(|| unlisted_maker(&mut world.manufacturers, handset));
                Spanned::new(0..0, id)
            }
        };
        let tac = match Tac::parse(&handset.profile.tac) {
            Ok(t) => t,
            Err(e) => {
                err(0..0, format!("handset-sim/catalogue/{id}.toml: {e}"));
                continue;
            }
        };
        let released = own
            .and_then(|e| e.released)
            .or_else(|| built.and_then(|e| e.released))
            .unwrap_or(Date {
                year: handset.profile.release_year,
                month: 1,
                day: 1,
            });
        let in_database = own
            .and_then(|e| e.in_database)
            .or_else(|| built.and_then(|e| e.in_database))
            .unwrap_or(true);
        models.insert(
            id.to_owned(),
            Model {
                tac,
                manufacturer,
                name: handset.profile.model.clone(),
                released,
                toolkit: handset.supports(Capability::PROVIDE_LOCAL_INFORMATION)
                    && handset.supports(Capability::SEND_SHORT_MESSAGE),
                in_database,
                profile: Some(handset.profile.clone()),
            },
        );
    }

    for (id, entry) in &world.model_entries {
        if let Some(m) = &entry.get_ref().manufacturer
            && !world.manufacturers.contains_key(m.get_ref())
        {
            let names: Vec<&str> = world.manufacturers.keys().map(String::as_str).collect();
            err(
                m.span(),
                format!(
                    "unknown manufacturer `{}`; expected one of: {}",
                    m.get_ref(),
                    names.join(", ")
                ),
            );
        }
        if models.contains_key(id) {
            continue;
        }
        let e = entry.get_ref();
        match (&e.tac, &e.manufacturer, &e.name, e.released) {
            (Some(tac), Some(manufacturer), Some(name), Some(released)) => {
                models.insert(
                    id.clone(),
                    Model {
                        tac: tac.get_ref().clone(),
                        manufacturer: manufacturer.clone(),
                        name: name.get_ref().clone(),
                        released,
                        toolkit: e.toolkit.as_ref().is_none_or(|t| *t.get_ref()),
                        in_database: e.in_database.unwrap_or(true),
                        profile: None,
                    },
                );
            }
            _ => {
                let missing: Vec<&str> = [
                    ("`tac`", e.tac.is_none()),
                    ("`manufacturer`", e.manufacturer.is_none()),
                    ("`name`", e.name.is_none()),
                    ("`released`", e.released.is_none()),
                ]
                .into_iter()
                .filter_map(|(f, gone)| gone.then_some(f))
                .collect();
                err(
                    entry.span(),
                    format!(
                        "model `{id}` is not in the handset catalogue (handset-sim/catalogue/): a model of this scenario's own needs `tac`, `manufacturer`, `name` and `released` (missing {})",
                        missing.join(", ")
                    ),
                );
            }
        }
    }
    world.models = models;
    diags
}

/// A catalogue model whose maker has no business facts (none in `business.toml` nor in
/// the scenario): the maker joins with the defaults (keys from its own server, no share),
/// its legal name as id. The unit tests keep every shipped model off this path.
fn unlisted_maker(makers: &mut BTreeMap<String, Manufacturer>, handset: &Handset) -> String {
    let name = handset.profile.manufacturer.clone();
    makers.entry(name.clone()).or_insert_with(|| Manufacturer {
        name: name.clone(),
        keys: KeySource::Manufacturer,
        share: None,
    });
    name
}
