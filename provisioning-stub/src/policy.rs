//! Depreciation policy: pure functions, no I/O, no clock (today is passed in).
//!
//! A device is *depreciated* (it needs the APN with a manufacturer device key, FIG. 4/5)
//! when any of these holds:
//! 1. its model is on its manufacturer's depreciated list;
//! 2. it was released more than `max_age_months` months before today;
//! 3. the operator the card belongs to (found from the IMSI's MCC/MNC) has no
//!    relationship with the device's manufacturer (or the IMSI belongs to no configured
//!    operator).
//!
//! Otherwise it gets the standard settings only (internet APN, MMS; FIG. 1). A TAC that
//! is not in the device database is handled as configured ([`UnknownTacHandling`]).
//! Every rule that fired is returned as a [`Reason`], so logs and tests can see why.

use std::fmt;

use serde::Deserialize;

use crate::devices::{Date, DeviceModel, Tac};
use crate::inventory::Imsi;

/// A PLMN identity: MCC (3 digits) and MNC (2 or 3 digits), 3GPP TS 23.003 §2.2/§12.1.
/// Written `MCC-MNC` (`208-01`, `310-410`) so that a 2-digit and a 3-digit MNC cannot
/// be confused.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct Plmn {
    mcc: String,
    mnc: String,
}

impl Plmn {
    /// Parses `MCC-MNC`.
    pub fn parse(s: &str) -> Result<Plmn, String> {
        let bad = || format!("expected MCC-MNC such as 208-01 or 310-410, got {s:?}");
        let (mcc, mnc) = s.split_once('-').ok_or_else(bad)?;
        let digits = |x: &str| x.bytes().all(|b| b.is_ascii_digit());
        if mcc.len() != 3 || !(2..=3).contains(&mnc.len()) || !digits(mcc) || !digits(mnc) {
            return Err(bad());
        }
        Ok(Plmn {
            mcc: mcc.to_owned(),
            mnc: mnc.to_owned(),
        })
    }

    /// Whether an IMSI starts with this MCC and MNC.
    pub fn matches(&self, imsi: &Imsi) -> bool {
        let s = imsi.as_str();
        s.starts_with(&self.mcc) && s[3..].starts_with(&self.mnc)
    }

    /// Number of IMSI digits this PLMN covers (5 or 6).
    pub fn len(&self) -> usize {
        self.mcc.len() + self.mnc.len()
    }

    /// Never true; present because `len` is.
    pub fn is_empty(&self) -> bool {
        false
    }
}

impl TryFrom<String> for Plmn {
    type Error = String;
    fn try_from(s: String) -> Result<Plmn, String> {
        Plmn::parse(&s)
    }
}

impl fmt::Display for Plmn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.mcc, self.mnc)
    }
}

/// An operator whose subscribers the stub serves, with the PLMNs of its IMSIs.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Operator {
    /// The operator's name in configuration, ledgers and reports.
    pub id: String,
    /// The MCC/MNC pairs its IMSIs start with.
    pub plmns: Vec<Plmn>,
}

/// A commercial relationship: the manufacturer configures its devices for this operator.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Relationship {
    /// Operator id ([`Operator::id`]).
    pub operator: String,
    /// Manufacturer name as in the device database.
    pub manufacturer: String,
}

/// A model on a manufacturer's depreciated list.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DepreciatedModel {
    /// Manufacturer name as in the device database.
    pub manufacturer: String,
    /// Model name as in the device database.
    pub model: String,
}

/// What to do with a TAC the device database does not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UnknownTacHandling {
    /// Send the standard settings (internet APN, MMS) as for a supported device.
    #[default]
    Standard,
    /// Send nothing.
    Reject,
    /// Treat as depreciated (the key can then only come from the local store: the
    /// manufacturer is unknown).
    Depreciated,
}

/// The policy's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
pub struct PolicyConfig {
    /// Operators and their PLMNs.
    #[serde(default)]
    pub operators: Vec<Operator>,
    /// Operator–manufacturer relationships.
    #[serde(default)]
    pub relationships: Vec<Relationship>,
    /// The manufacturers' depreciated lists.
    #[serde(default)]
    pub depreciated_models: Vec<DepreciatedModel>,
    /// Age cutoff in months after the release date; `None` disables the age rule.
    #[serde(default)]
    pub max_age_months: Option<u32>,
    /// Handling of unknown TACs.
    #[serde(default)]
    pub unknown_tac: UnknownTacHandling,
}

impl PolicyConfig {
    /// The operator owning an IMSI: the configured PLMN that is the longest prefix of the
    /// IMSI wins (so `310-410` beats `310-41`).
    pub fn operator_for(&self, imsi: &Imsi) -> Option<&Operator> {
        self.operators
            .iter()
            .flat_map(|op| op.plmns.iter().map(move |p| (op, p)))
            .filter(|(_, p)| p.matches(imsi))
            .max_by_key(|(_, p)| p.len())
            .map(|(op, _)| op)
    }

    /// Whether the operator and manufacturer have a relationship.
    pub fn has_relationship(&self, operator: &str, manufacturer: &str) -> bool {
        self.relationships
            .iter()
            .any(|r| r.operator == operator && r.manufacturer == manufacturer)
    }

    /// Whether the model is on its manufacturer's depreciated list.
    pub fn is_depreciated_model(&self, manufacturer: &str, model: &str) -> bool {
        self.depreciated_models
            .iter()
            .any(|d| d.manufacturer == manufacturer && d.model == model)
    }
}

/// Which provisioning the device gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Treatment {
    /// Standard settings only: internet APN and MMS (FIG. 1), no device key.
    Standard,
    /// Depreciated: APN with a device-unique manufacturer key (FIG. 4/5).
    Depreciated,
    /// Nothing is sent.
    Reject,
}

/// Why a decision was taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// The TAC is not in the device database.
    UnknownTac(Tac),
    /// The model is on the manufacturer's depreciated list.
    DepreciatedModel {
        /// Manufacturer.
        manufacturer: String,
        /// Model.
        model: String,
    },
    /// Released more than the cutoff before today.
    TooOld {
        /// Release date.
        released: Date,
        /// The last day on which it still counted as current (release + cutoff months).
        current_until: Date,
    },
    /// The card's operator has no relationship with the manufacturer.
    NoRelationship {
        /// The operator, or `None` when the IMSI belongs to no configured operator.
        operator: Option<String>,
        /// The device's manufacturer.
        manufacturer: String,
    },
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::UnknownTac(t) => write!(f, "TAC {t} is not in the device database"),
            Reason::DepreciatedModel {
                manufacturer,
                model,
            } => write!(f, "{manufacturer} lists model {model} as depreciated"),
            Reason::TooOld {
                released,
                current_until,
            } => write!(
                f,
                "released {released}, past the age cutoff (current until {current_until})"
            ),
            Reason::NoRelationship {
                operator: Some(op),
                manufacturer,
            } => write!(f, "operator {op} has no relationship with {manufacturer}"),
            Reason::NoRelationship {
                operator: None,
                manufacturer,
            } => write!(
                f,
                "the IMSI belongs to no configured operator, so none has a relationship with {manufacturer}"
            ),
        }
    }
}

/// The policy's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// What to send.
    pub treatment: Treatment,
    /// Every rule that fired (empty for a plain standard device).
    pub reasons: Vec<Reason>,
    /// The operator owning the IMSI, if configured.
    pub operator: Option<String>,
}

/// Decides the treatment of a device. `device` is the device database row for `tac`
/// (`None` if unknown); `imsi` identifies the operator; `today` is the UTC date.
pub fn decide(
    config: &PolicyConfig,
    tac: &Tac,
    device: Option<&DeviceModel>,
    imsi: &Imsi,
    today: Date,
) -> Decision {
    let operator = config.operator_for(imsi).map(|o| o.id.clone());
    let Some(device) = device else {
        let treatment = match config.unknown_tac {
            UnknownTacHandling::Standard => Treatment::Standard,
            UnknownTacHandling::Reject => Treatment::Reject,
            UnknownTacHandling::Depreciated => Treatment::Depreciated,
        };
        return Decision {
            treatment,
            reasons: vec![Reason::UnknownTac(tac.clone())],
            operator,
        };
    };
    let mut reasons = Vec::new();
    if config.is_depreciated_model(&device.manufacturer, &device.model) {
        reasons.push(Reason::DepreciatedModel {
            manufacturer: device.manufacturer.clone(),
            model: device.model.clone(),
        });
    }
    if let (Some(months), Some(released)) = (config.max_age_months, device.release_date) {
        let current_until = released.add_months(months);
        if today > current_until {
            reasons.push(Reason::TooOld {
                released,
                current_until,
            });
        }
    }
    let related = operator
        .as_deref()
        .is_some_and(|op| config.has_relationship(op, &device.manufacturer));
    if !related {
        reasons.push(Reason::NoRelationship {
            operator: operator.clone(),
            manufacturer: device.manufacturer.clone(),
        });
    }
    let treatment = if reasons.is_empty() {
        Treatment::Standard
    } else {
        Treatment::Depreciated
    };
    Decision {
        treatment,
        reasons,
        operator,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> Date {
        Date::parse(s).unwrap()
    }

    fn config() -> PolicyConfig {
        PolicyConfig {
            operators: vec![
                Operator {
                    id: "mvno-fr".into(),
                    plmns: vec![Plmn::parse("208-01").unwrap()],
                },
                Operator {
                    id: "us-3digit".into(),
                    plmns: vec![Plmn::parse("310-410").unwrap()],
                },
                Operator {
                    id: "us-2digit".into(),
                    plmns: vec![Plmn::parse("310-41").unwrap()],
                },
            ],
            relationships: vec![
                Relationship {
                    operator: "mvno-fr".into(),
                    manufacturer: "Acme".into(),
                },
                Relationship {
                    operator: "us-3digit".into(),
                    manufacturer: "Acme".into(),
                },
            ],
            depreciated_models: vec![DepreciatedModel {
                manufacturer: "Acme".into(),
                model: "A1".into(),
            }],
            max_age_months: Some(36),
            unknown_tac: UnknownTacHandling::Standard,
        }
    }

    fn device(model: &str, manufacturer: &str, released: Option<&str>) -> DeviceModel {
        DeviceModel {
            tac: Tac::parse("35693803").unwrap(),
            manufacturer: manufacturer.into(),
            make: manufacturer.into(),
            model: model.into(),
            release_date: released.map(date),
            camera: Some(true),
            screen: String::new(),
            bands: vec![],
        }
    }

    const FR: &str = "208011234567890";
    const TODAY: &str = "2026-11-27";

    fn run(cfg: &PolicyConfig, dev: Option<&DeviceModel>, imsi: &str, today: &str) -> Decision {
        let tac = Tac::parse("35693803").unwrap();
        decide(cfg, &tac, dev, &Imsi::parse(imsi).unwrap(), date(today))
    }

    #[test]
    fn standard_when_no_rule_fires() {
        let d = run(
            &config(),
            Some(&device("A9", "Acme", Some("2025-01-01"))),
            FR,
            TODAY,
        );
        assert_eq!(d.treatment, Treatment::Standard);
        assert!(d.reasons.is_empty());
        assert_eq!(d.operator.as_deref(), Some("mvno-fr"));
    }

    #[test]
    fn depreciated_list() {
        let d = run(
            &config(),
            Some(&device("A1", "Acme", Some("2025-01-01"))),
            FR,
            TODAY,
        );
        assert_eq!(d.treatment, Treatment::Depreciated);
        assert_eq!(
            d.reasons,
            vec![Reason::DepreciatedModel {
                manufacturer: "Acme".into(),
                model: "A1".into()
            }]
        );
        // Same model name from another manufacturer is not on Acme's list (but that
        // manufacturer has no relationship, so only that rule fires).
        let d = run(
            &config(),
            Some(&device("A1", "Bolt", Some("2025-01-01"))),
            FR,
            TODAY,
        );
        assert!(matches!(
            d.reasons.as_slice(),
            [Reason::NoRelationship { .. }]
        ));
    }

    #[test]
    fn age_cutoff_boundaries() {
        let cfg = config(); // 36 months
        let released = "2023-11-27";
        let dev = device("A9", "Acme", Some(released));
        // Exactly 36 months after release: still current.
        assert_eq!(
            run(&cfg, Some(&dev), FR, "2026-11-27").treatment,
            Treatment::Standard
        );
        assert_eq!(
            run(&cfg, Some(&dev), FR, "2026-11-26").treatment,
            Treatment::Standard
        );
        // One day later: too old.
        let d = run(&cfg, Some(&dev), FR, "2026-11-28");
        assert_eq!(d.treatment, Treatment::Depreciated);
        assert_eq!(
            d.reasons,
            vec![Reason::TooOld {
                released: date(released),
                current_until: date("2026-11-27")
            }]
        );
        // Month-end clamping: released on 29 Feb, 12-month cutoff ends 28 Feb.
        let cfg12 = PolicyConfig {
            max_age_months: Some(12),
            ..config()
        };
        let leap = device("A9", "Acme", Some("2024-02-29"));
        assert_eq!(
            run(&cfg12, Some(&leap), FR, "2025-02-28").treatment,
            Treatment::Standard
        );
        assert_eq!(
            run(&cfg12, Some(&leap), FR, "2025-03-01").treatment,
            Treatment::Depreciated
        );
        // Cutoff 0: current on the release day only.
        let cfg0 = PolicyConfig {
            max_age_months: Some(0),
            ..config()
        };
        assert_eq!(
            run(&cfg0, Some(&dev), FR, released).treatment,
            Treatment::Standard
        );
        assert_eq!(
            run(&cfg0, Some(&dev), FR, "2023-11-28").treatment,
            Treatment::Depreciated
        );
        // Released in the future (bad data or pre-release): not old.
        assert_eq!(
            run(&cfg, Some(&dev), FR, "2020-01-01").treatment,
            Treatment::Standard
        );
        // No cutoff configured, or no release date known: the rule does not apply.
        let off = PolicyConfig {
            max_age_months: None,
            ..config()
        };
        let ancient = device("A9", "Acme", Some("2001-01-01"));
        assert_eq!(
            run(&off, Some(&ancient), FR, TODAY).treatment,
            Treatment::Standard
        );
        let undated = device("A9", "Acme", None);
        assert_eq!(
            run(&cfg, Some(&undated), FR, TODAY).treatment,
            Treatment::Standard
        );
    }

    #[test]
    fn relationships_by_mcc_mnc() {
        let dev = device("A9", "Acme", Some("2025-01-01"));
        // 310-410 (3-digit MNC) wins over 310-41 for IMSI 310410…; only it has Acme.
        let d = run(&config(), Some(&dev), "310410123456789", TODAY);
        assert_eq!(d.operator.as_deref(), Some("us-3digit"));
        assert_eq!(d.treatment, Treatment::Standard);
        // 310-41 then 9…: only the 2-digit PLMN matches; no relationship with Acme.
        let d = run(&config(), Some(&dev), "310419123456789", TODAY);
        assert_eq!(d.operator.as_deref(), Some("us-2digit"));
        assert_eq!(
            d.reasons,
            vec![Reason::NoRelationship {
                operator: Some("us-2digit".into()),
                manufacturer: "Acme".into()
            }]
        );
        // An IMSI of no configured operator.
        let d = run(&config(), Some(&dev), "262011234567890", TODAY);
        assert_eq!(d.operator, None);
        assert_eq!(d.treatment, Treatment::Depreciated);
        assert!(d.reasons[0].to_string().contains("no configured operator"));
    }

    #[test]
    fn all_rules_combined() {
        let dev = device("A1", "Acme", Some("2019-01-01"));
        let d = run(&config(), Some(&dev), "310419123456789", TODAY);
        assert_eq!(d.treatment, Treatment::Depreciated);
        assert_eq!(d.reasons.len(), 3, "{:?}", d.reasons);
        assert!(matches!(d.reasons[0], Reason::DepreciatedModel { .. }));
        assert!(matches!(d.reasons[1], Reason::TooOld { .. }));
        assert!(matches!(d.reasons[2], Reason::NoRelationship { .. }));
        // Two of three.
        let d = run(&config(), Some(&dev), FR, TODAY);
        assert_eq!(d.reasons.len(), 2);
    }

    #[test]
    fn unknown_tac_handling() {
        for (handling, treatment) in [
            (UnknownTacHandling::Standard, Treatment::Standard),
            (UnknownTacHandling::Reject, Treatment::Reject),
            (UnknownTacHandling::Depreciated, Treatment::Depreciated),
        ] {
            let cfg = PolicyConfig {
                unknown_tac: handling,
                ..config()
            };
            let d = run(&cfg, None, FR, TODAY);
            assert_eq!(d.treatment, treatment);
            assert_eq!(
                d.reasons,
                vec![Reason::UnknownTac(Tac::parse("35693803").unwrap())]
            );
            assert_eq!(d.operator.as_deref(), Some("mvno-fr"));
        }
    }

    #[test]
    fn plmn_parse() {
        assert_eq!(Plmn::parse("208-01").unwrap().to_string(), "208-01");
        assert_eq!(Plmn::parse("310-410").unwrap().len(), 6);
        for bad in ["20801", "208-1", "208-0100", "2a8-01", "-01"] {
            assert!(Plmn::parse(bad).is_err(), "{bad}");
        }
    }
}
