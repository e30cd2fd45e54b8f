//! Scenario files: the TOML format ([`format`]), checked values ([`values`]),
//! positioned errors ([`error`]) and the validated [`Scenario`] the runner plays.
//!
//! Loading is two passes over the same text: the TOML parser with serde
//! (`deny_unknown_fields` everywhere, so a misspelt key is an error at that key), then
//! [`validate`](self::validate) for meaning (references, IMSI prefixes, where each card
//! is at every step, who an expectation is about). Both report `file:line:column` via
//! the spans TOML keeps ([`toml::Spanned`], [`toml::de::Error::span`]).

pub mod error;
pub mod format;
mod models;
mod validate;
pub mod values;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use error::{Diagnostic, ScenarioError};
use format::{BusinessFile, Expect, Fault, NvmPoint, StubControl, World};
use values::{Date, Duration, Imei, Pin};

/// The built-in business facts about the handset models (`src/scenario/business.toml`):
/// manufacturers with their key source and share, and per model its release date and
/// whether the stub's device database knows it. The models themselves are the
/// `handset-sim/catalogue/` profiles ([`handset_sim::profile::Catalogue::builtin`]).
pub const BUSINESS_TOML: &str = include_str!("business.toml");

/// The built-in business facts, parsed.
pub fn business() -> BusinessFile {
    // A compile-time constant covered by a unit test.
    toml::from_str(BUSINESS_TOML).unwrap_or_default()
}

/// "Today" when a scenario does not say (`world.date`).
pub const DEFAULT_DATE: Date = Date {
    year: 2026,
    month: 6,
    day: 1,
};

/// A validated scenario, ready to run.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// File it came from.
    pub path: PathBuf,
    /// File stem (`swap-supported`), used as the scenario's name in reports.
    pub name: String,
    /// One-line title.
    pub title: String,
    /// Longer description.
    pub description: String,
    /// Tags.
    pub tags: Vec<String>,
    /// Seed of every random choice in the run: FNV-1a of the file name, mixed with the
    /// file's `seed` when given ([`seed_for`]).
    pub seed: u64,
    /// "Today" for the policy.
    pub date: Date,
    /// The world as written, with the built-in business facts merged into
    /// `manufacturers` and every usable model resolved into `models` (the handset-sim
    /// catalogue's and the scenario's own).
    pub world: World,
    /// The IMEI each handset reports.
    pub handset_imeis: BTreeMap<String, Imei>,
    /// The story.
    pub steps: Vec<Step>,
}

impl Scenario {
    /// The manufacturers whose handsets this scenario can bring to the stub: those of the
    /// models its handsets, fleets and fleet swaps use. The built-in business facts list
    /// every catalogue manufacturer; the stub needs key sources only for these.
    pub fn manufacturers_in_use(&self) -> std::collections::BTreeSet<String> {
        let w = &self.world;
        let mut models: Vec<&str> = w
            .handsets
            .values()
            .map(|h| h.model.get_ref().as_str())
            .collect();
        models.extend(w.fleets.values().map(|f| f.model.get_ref().as_str()));
        for s in &self.steps {
            if let Action::FleetSwap { to_model, .. } = &s.action {
                models.push(to_model);
            }
        }
        let used: std::collections::BTreeSet<String> = models
            .into_iter()
            .filter_map(|m| w.models.get(m))
            .map(|m| m.manufacturer.get_ref().clone())
            .collect();
        used
    }

    /// This scenario's world with only [`Scenario::manufacturers_in_use`] left in
    /// `manufacturers` (what the stub is configured with).
    pub fn stub_world(&self) -> World {
        let used = self.manufacturers_in_use();
        let mut w = self.world.clone();
        w.manufacturers.retain(|id, _| used.contains(id));
        w
    }
}

/// One step of the story.
#[derive(Debug, Clone)]
pub struct Step {
    /// 1-based position in the story.
    pub index: usize,
    /// Line of the `[[step]]` header (or inline table) in the file.
    pub line: usize,
    /// The `name` given, or the action written out (`power_on phone-b`).
    pub label: String,
    /// What happens.
    pub action: Action,
    /// What must hold afterwards.
    pub expect: Option<Expectation>,
}

/// What a step does. Names refer to the world's entries (checked by validation).
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Nothing happens; the step only checks expectations.
    Check,
    /// Insert a card into an empty handset.
    Insert {
        /// Card.
        card: String,
        /// Handset.
        handset: String,
    },
    /// Remove a card from its handset.
    Remove {
        /// Card.
        card: String,
    },
    /// Remove a card from its handset and insert it into another.
    Move {
        /// Card.
        card: String,
        /// Target handset.
        to: String,
    },
    /// Switch a handset on (the card runs its toolkit flow).
    PowerOn {
        /// Handset.
        handset: String,
    },
    /// Switch a handset off.
    PowerOff {
        /// Handset.
        handset: String,
    },
    /// Attach a handset to a network.
    Attach {
        /// Handset.
        handset: String,
        /// Network.
        network: String,
    },
    /// Let virtual time pass (everything due in that time happens).
    Advance {
        /// How long.
        by: Duration,
    },
    /// Change network faults.
    Fault(Fault),
    /// Arm a power cut at an NVM write of a card.
    CutPower {
        /// Card.
        card: String,
        /// Where.
        at: CutAt,
    },
    /// Stop / start / restart the provisioning stub.
    Stub(StubControl),
    /// The user enters a PIN.
    EnterPin {
        /// Handset.
        handset: String,
        /// Digits.
        pin: Pin,
    },
    /// The network re-submits the `nth` registration SMS a card sent.
    Replay {
        /// Card.
        card: String,
        /// 1-based.
        nth: u32,
    },
    /// An attacker submits a registration claiming `card`'s identity.
    Forge {
        /// Claimed card.
        card: String,
        /// Claimed IMEI.
        imei: Imei,
        /// MAC under this other card's key; `None` = a random key.
        key_of: Option<String>,
        /// Claimed counter; `None` = the card's counter + 1.
        counter: Option<u64>,
    },
    /// Every subscriber of a fleet moves to a new handset of `to_model`.
    FleetSwap {
        /// Fleet.
        fleet: String,
        /// Model id.
        to_model: String,
        /// Spread of the swaps in virtual time.
        spread: Duration,
    },
}

/// Where a power cut happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CutAt {
    /// At a named commit point, mid-transaction.
    Point(NvmPoint),
    /// At the n-th NVM write from now (1 = next).
    Write(u32),
}

/// A step's expectations with their subjects resolved.
#[derive(Debug, Clone)]
pub struct Expectation {
    /// Card the card-scoped checks are about.
    pub card: Option<String>,
    /// Handset the handset-scoped checks are about.
    pub handset: Option<String>,
    /// The checks as written.
    pub checks: Expect,
}

/// Seed of a scenario: FNV-1a (64-bit) over the file name, then, when the file gives
/// a `seed`, one SplitMix64 round over the hash XOR that seed. The directory is left
/// out so the same file gives the same run wherever it lies.
pub fn seed_for(file_name: &str, seed: Option<u64>) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in file_name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    match seed {
        None => h,
        Some(s) => {
            let mut z = (h ^ s).wrapping_add(0x9e37_79b9_7f4a_7c15);
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }
    }
}

/// Reads and validates a scenario file.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Io {
        path: path.to_owned(),
        source,
    })?;
    parse(path, &text)
}

/// Validates scenario text; `path` names it in errors and gives the scenario's name.
pub fn parse(path: &Path, text: &str) -> Result<Scenario, ScenarioError> {
    let file: format::ScenarioFile = toml::from_str(text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        ScenarioError::Invalid {
            path: path.to_owned(),
            diagnostics: vec![Diagnostic::at(text, span, e.message().trim_end())],
        }
    })?;
    validate::validate(path, text, file).map_err(|diagnostics| ScenarioError::Invalid {
        path: path.to_owned(),
        diagnostics,
    })
}

/// The scenario files (`*.toml`, except `Cargo.toml`) under each path, sorted: a file
/// is taken as is, a directory is listed (not recursively).
pub fn discover(paths: &[PathBuf]) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(p)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| {
                    f.is_file()
                        && f.extension().is_some_and(|x| x == "toml")
                        && f.file_name().is_some_and(|n| n != "Cargo.toml")
                })
                .collect();
            files.sort();
            out.extend(files);
        } else if p.exists() {
            out.push(p.clone());
        } else {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("{}: no such file or directory", p.display()),
            ));
        }
    }
    Ok(out)
}

/// The shipped scenario library: `./scenarios` when run from the repository root,
/// else the `scenarios/` directory of the source tree this binary was built from.
pub fn library_dir() -> PathBuf {
    let here = PathBuf::from("scenarios");
    if here.join("Cargo.toml").is_file() && here.join("src/scenario").is_dir() {
        here
    } else {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
    }
}

#[cfg(test)]
mod tests;
