//! Handset profiles and the model catalogue.
//!
//! A [`HandsetProfile`] is one phone: make, model, manufacturer, TAC, IMEI (Luhn-checked,
//! `/work/shared/spec/03-imei.md` §2), IMEISV, release year, the toolkit capabilities it
//! announces in TERMINAL PROFILE (named bits, `02-cat.md` §7), its language and whether
//! its manufacturer still configures it. Profiles are TOML files:
//!
//! ```toml
//! make = "Nordvik"
//! model = "N100"
//! manufacturer = "Nordvik Telefon AB"
//! tac = "00124500"
//! imei = "001245000000174"
//! imeisv = "0012450000001701"
//! release_year = 2009
//! depreciated = true
//! language = "sv"
//! capabilities = ["profile_download", "sms_pp_data_download", "command_result",
//!                 "provide_local_information", "send_short_message"]
//! ```
//!
//! The [`Catalogue`] is a set of such files (one per model, the IMEI in each is a sample
//! unit), each model named by its file stem ([`Catalogue::by_id`]: `nordvik-n100`);
//! `handset-sim/catalogue/` ships with the project and is compiled into the binary
//! ([`Catalogue::builtin`]). It is the project's one list of handset models: scenario
//! files (`scenarios` crate) name these ids too. [`Catalogue::handset_for_imei`] turns any
//! IMEI into a handset of the model its TAC names.
//!
//! Makes and models are fictional. The handset-sim models' TACs start with reporting body
//! `00`, the range this project assumes unallocated to real manufacturers (test IMEIs);
//! the scenario library's models (Acme, Globex, Initech) keep the TACs the library and its
//! committed traces were written with (`35…`, `86…`).

use std::path::Path;
use std::str::FromStr;

use applet::wire::cat::{Capability, TerminalProfile};
use applet::wire::imei::{CheckDigitStatus, Imei, Imeisv, Tac};
use serde::{Deserialize, Serialize};

/// Named TERMINAL PROFILE capabilities accepted in profile files (TS 102 223 §5.2;
/// bit positions from `applet::wire::cat::Capability`, checked against tshark's
/// `gsm_sim.tp.*` fields in `02-cat.md` §7).
pub const CAPABILITIES: &[(&str, Capability)] = &[
    ("profile_download", Capability::PROFILE_DOWNLOAD),
    ("sms_pp_data_download", Capability::SMS_PP_DATA_DOWNLOAD),
    (
        "cell_broadcast_data_download",
        Capability::CELL_BROADCAST_DATA_DOWNLOAD,
    ),
    ("menu_selection", Capability::MENU_SELECTION),
    (
        "sms_pp_data_download_9exx",
        Capability::SMS_PP_DATA_DOWNLOAD_9EXX,
    ),
    ("timer_expiration", Capability::TIMER_EXPIRATION),
    ("command_result", Capability::COMMAND_RESULT),
    ("display_text", Capability::DISPLAY_TEXT),
    ("more_time", Capability::MORE_TIME),
    ("poll_interval", Capability::POLL_INTERVAL),
    ("polling_off", Capability::POLLING_OFF),
    ("refresh", Capability::REFRESH),
    ("send_short_message", Capability::SEND_SHORT_MESSAGE),
    (
        "provide_local_information",
        Capability::PROVIDE_LOCAL_INFORMATION,
    ),
    ("pli_nmr", Capability::PLI_NMR),
    ("set_up_event_list", Capability::SET_UP_EVENT_LIST),
    ("event_location_status", Capability::EVENT_LOCATION_STATUS),
    (
        "timer_management_start_stop",
        Capability::TIMER_MANAGEMENT_START_STOP,
    ),
    (
        "timer_management_get_current_value",
        Capability::TIMER_MANAGEMENT_GET_CURRENT_VALUE,
    ),
    (
        "pli_date_time_time_zone",
        Capability::PLI_DATE_TIME_TIME_ZONE,
    ),
    ("pli_language", Capability::PLI_LANGUAGE),
    ("open_channel", Capability::OPEN_CHANNEL),
    ("pli_imeisv", Capability::PLI_IMEISV),
];

/// Every named capability: a fully toolkit-capable handset (used for IMEIs whose TAC
/// is not in the catalogue).
pub fn all_capabilities() -> Vec<String> {
    CAPABILITIES
        .iter()
        .filter(|(n, _)| *n != "open_channel" && *n != "pli_nmr")
        .map(|(n, _)| (*n).to_string())
        .collect()
}

/// Looks up a capability by its file name.
pub fn capability(name: &str) -> Option<Capability> {
    CAPABILITIES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, c)| *c)
}

/// Why a profile was rejected.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// File.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// TOML syntax or schema error.
    #[error("{path}: {message}")]
    Toml {
        /// File (or `<string>`).
        path: String,
        /// Parser message.
        message: String,
    },
    /// A field holds a bad value.
    #[error("{model}: {message}")]
    Invalid {
        /// Make and model of the profile.
        model: String,
        /// What is wrong.
        message: String,
    },
}

/// A handset as written in a profile file (see the module docs for the format).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandsetProfile {
    /// Brand shown to users, e.g. "Nordvik".
    pub make: String,
    /// Model name, e.g. "N100".
    pub model: String,
    /// Legal manufacturer (who issues device keys).
    pub manufacturer: String,
    /// Type Allocation Code, 8 digits (TS 23.003 §6.2.1).
    pub tac: String,
    /// IMEI, 15 digits; digit 15 must be the Luhn check digit.
    pub imei: String,
    /// IMEISV, 16 digits; TAC and SNR must match the IMEI.
    pub imeisv: String,
    /// Year the model was released.
    pub release_year: u16,
    /// The manufacturer no longer configures this model (no manufacturer APN).
    #[serde(default)]
    pub depreciated: bool,
    /// ISO 639 two-letter language code reported by PROVIDE LOCAL INFORMATION (04).
    #[serde(default = "default_language")]
    pub language: String,
    /// Named TERMINAL PROFILE bits (see [`CAPABILITIES`]).
    pub capabilities: Vec<String>,
}

fn default_language() -> String {
    "en".into()
}

/// A profile whose fields were checked and converted to wire types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handset {
    /// The profile as written.
    pub profile: HandsetProfile,
    /// The IMEI.
    pub imei: Imei,
    /// The IMEISV.
    pub imeisv: Imeisv,
    /// The TERMINAL PROFILE built from the capabilities.
    pub terminal_profile: TerminalProfile,
    /// Language code bytes.
    pub language: [u8; 2],
}

impl HandsetProfile {
    /// Parses a profile from TOML text (not yet validated).
    pub fn from_toml(text: &str) -> Result<Self, ProfileError> {
        toml::from_str(text).map_err(|e| ProfileError::Toml {
            path: "<string>".into(),
            message: e.to_string(),
        })
    }

    /// Reads and validates a profile file.
    pub fn load(path: &Path) -> Result<Handset, ProfileError> {
        let text = std::fs::read_to_string(path).map_err(|source| ProfileError::Io {
            path: path.display().to_string(),
            source,
        })?;
        let p: HandsetProfile = toml::from_str(&text).map_err(|e| ProfileError::Toml {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        p.validate()
    }

    /// "Make Model".
    pub fn name(&self) -> String {
        format!("{} {}", self.make, self.model)
    }

    /// Checks every field: TAC 8 digits; IMEI 15 digits with a valid Luhn check digit
    /// (03-imei.md §2) and that TAC; IMEISV 16 digits with the IMEI's TAC and SNR;
    /// language two ASCII letters; every capability known.
    pub fn validate(self) -> Result<Handset, ProfileError> {
        let bad = |message: String| ProfileError::Invalid {
            model: self.name(),
            message,
        };
        let tac = Tac::from_str(&self.tac)
            .map_err(|e| bad(format!("TAC {:?} is not 8 digits ({e})", self.tac)))?;
        let imei = Imei::from_str(&self.imei)
            .map_err(|e| bad(format!("IMEI {:?} is not 15 digits ({e})", self.imei)))?;
        match imei.check_digit_status() {
            CheckDigitStatus::Valid => {}
            CheckDigitStatus::Spare | CheckDigitStatus::Wrong { .. } => {
                return Err(bad(format!(
                    "IMEI {} has check digit {}, Luhn gives {}",
                    imei,
                    imei.check_digit(),
                    imei.tac_snr().luhn_digit()
                )));
            }
        }
        if imei.tac() != tac {
            return Err(bad(format!("IMEI {imei} does not start with TAC {tac}")));
        }
        let imeisv = Imeisv::from_str(&self.imeisv)
            .map_err(|e| bad(format!("IMEISV {:?} is not 16 digits ({e})", self.imeisv)))?;
        if imeisv.tac_snr() != imei.tac_snr() {
            return Err(bad(format!(
                "IMEISV {imeisv} does not carry the TAC and SNR of IMEI {imei}"
            )));
        }
        let language: [u8; 2] = match self.language.as_bytes() {
            [a, b] if a.is_ascii_alphabetic() && b.is_ascii_alphabetic() => [*a, *b],
            _ => {
                return Err(bad(format!(
                    "language {:?} is not a two-letter code",
                    self.language
                )));
            }
        };
        let mut caps = Vec::new();
        for name in &self.capabilities {
            caps.push(capability(name).ok_or_else(|| {
                bad(format!(
                    "unknown capability {name:?} (known: {})",
                    CAPABILITIES
                        .iter()
                        .map(|(n, _)| *n)
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?);
        }
        let terminal_profile = TerminalProfile::from_capabilities(&caps)
            .map_err(|e| bad(format!("terminal profile: {e}")))?;
        Ok(Handset {
            profile: self,
            imei,
            imeisv,
            terminal_profile,
            language,
        })
    }
}

impl Handset {
    /// The same model with another IMEI: the IMEISV keeps this unit's software version
    /// number (SVN). Errors unless `imei` has a valid check digit and this model's TAC.
    pub fn with_imei(&self, imei: Imei) -> Result<Handset, ProfileError> {
        let mut p = self.profile.clone();
        p.imei = imei.to_string();
        let svn = self.imeisv.svn();
        p.imeisv = format!("{}{:02}", imei.tac_snr(), svn);
        p.validate()
    }

    /// Whether the handset announces `cap` in its TERMINAL PROFILE.
    pub fn supports(&self, cap: Capability) -> bool {
        self.terminal_profile.supports(cap)
    }

    /// A generic, fully capable handset for `imei` whose TAC is in no catalogue.
    pub fn generic(imei: Imei) -> Result<Handset, ProfileError> {
        HandsetProfile {
            make: "Generic".into(),
            model: "toolkit handset".into(),
            manufacturer: "unknown".into(),
            tac: imei.tac().to_string(),
            imei: imei.to_string(),
            imeisv: format!("{}01", imei.tac_snr()),
            release_year: 2024,
            depreciated: false,
            language: default_language(),
            capabilities: all_capabilities(),
        }
        .validate()
    }
}

/// The model catalogue: one validated sample handset per model, each under an id (the
/// file stem: `nordvik-n100` for `nordvik-n100.toml`). Scenarios name models by this id.
#[derive(Debug, Clone, Default)]
pub struct Catalogue {
    models: Vec<Handset>,
    ids: Vec<String>,
}

/// The shipped catalogue files, compiled in (`handset-sim/catalogue/*.toml`).
const BUILTIN: &[(&str, &str)] = &[
    (
        "nordvik-n100.toml",
        include_str!("../catalogue/nordvik-n100.toml"),
    ),
    (
        "nordvik-n310.toml",
        include_str!("../catalogue/nordvik-n310.toml"),
    ),
    (
        "kestrel-k2.toml",
        include_str!("../catalogue/kestrel-k2.toml"),
    ),
    (
        "kestrel-k9-pro.toml",
        include_str!("../catalogue/kestrel-k9-pro.toml"),
    ),
    (
        "aurelia-a5.toml",
        include_str!("../catalogue/aurelia-a5.toml"),
    ),
    (
        "aurelia-a7-lite.toml",
        include_str!("../catalogue/aurelia-a7-lite.toml"),
    ),
    (
        "brenta-b1.toml",
        include_str!("../catalogue/brenta-b1.toml"),
    ),
    (
        "solstice-s22.toml",
        include_str!("../catalogue/solstice-s22.toml"),
    ),
    // The scenario library's models (scenarios/*.toml name them by id).
    ("acme-a1.toml", include_str!("../catalogue/acme-a1.toml")),
    ("acme-a7.toml", include_str!("../catalogue/acme-a7.toml")),
    (
        "acme-classic.toml",
        include_str!("../catalogue/acme-classic.toml"),
    ),
    (
        "globex-g1.toml",
        include_str!("../catalogue/globex-g1.toml"),
    ),
    (
        "globex-g3.toml",
        include_str!("../catalogue/globex-g3.toml"),
    ),
    (
        "initech-basic.toml",
        include_str!("../catalogue/initech-basic.toml"),
    ),
    (
        "grey-import.toml",
        include_str!("../catalogue/grey-import.toml"),
    ),
];

impl Catalogue {
    /// The catalogue shipped with the project (compiled in).
    pub fn builtin() -> Result<Self, ProfileError> {
        let mut entries = Vec::new();
        for (name, text) in BUILTIN {
            let p: HandsetProfile = toml::from_str(text).map_err(|e| ProfileError::Toml {
                path: (*name).to_string(),
                message: e.to_string(),
            })?;
            let id = name.strip_suffix(".toml").unwrap_or(name);
            entries.push((id.to_string(), p.validate()?));
        }
        Self::from_entries(entries)
    }

    /// Every `*.toml` file in `dir`, sorted by file name.
    pub fn load_dir(dir: &Path) -> Result<Self, ProfileError> {
        let io = |source| ProfileError::Io {
            path: dir.display().to_string(),
            source,
        };
        let mut paths: Vec<_> = std::fs::read_dir(dir)
            .map_err(io)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        paths.sort();
        let entries = paths
            .iter()
            .map(|p| {
                let id = p
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                HandsetProfile::load(p).map(|h| (id, h))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Self::from_entries(entries)
    }

    /// From validated handsets; TACs must be unique. Each model's id is its make and
    /// model in lower case, non-alphanumerics as `-` ("Kestrel Mobile K2" →
    /// `kestrel-mobile-k2`); [`Catalogue::from_entries`] names them explicitly.
    pub fn from_models(models: Vec<Handset>) -> Result<Self, ProfileError> {
        let entries = models
            .into_iter()
            .map(|m| {
                let id: String = m
                    .profile
                    .name()
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() {
                            c.to_ascii_lowercase()
                        } else {
                            '-'
                        }
                    })
                    .collect();
                (id, m)
            })
            .collect();
        Self::from_entries(entries)
    }

    /// From `(id, handset)` pairs; ids and TACs must be unique.
    pub fn from_entries(entries: Vec<(String, Handset)>) -> Result<Self, ProfileError> {
        for (i, (id, m)) in entries.iter().enumerate() {
            if let Some((_, o)) = entries[..i]
                .iter()
                .find(|(_, o)| o.imei.tac() == m.imei.tac())
            {
                return Err(ProfileError::Invalid {
                    model: m.profile.name(),
                    message: format!("TAC {} already used by {}", m.imei.tac(), o.profile.name()),
                });
            }
            if let Some((_, o)) = entries[..i].iter().find(|(other, _)| other == id) {
                return Err(ProfileError::Invalid {
                    model: m.profile.name(),
                    message: format!("id {id:?} already used by {}", o.profile.name()),
                });
            }
        }
        let (ids, models) = entries.into_iter().unzip();
        Ok(Catalogue { models, ids })
    }

    /// All models.
    pub fn models(&self) -> &[Handset] {
        &self.models
    }

    /// Every model with its id (the file stem), in catalogue order.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &Handset)> {
        self.ids.iter().map(String::as_str).zip(&self.models)
    }

    /// The model with this id (file stem, e.g. `kestrel-k2`).
    pub fn by_id(&self, id: &str) -> Option<&Handset> {
        self.entries().find(|(i, _)| *i == id).map(|(_, m)| m)
    }

    /// The model with this TAC.
    pub fn by_tac(&self, tac: Tac) -> Option<&Handset> {
        self.models.iter().find(|m| m.imei.tac() == tac)
    }

    /// The model whose "make model" or model name matches `name` (case-insensitive).
    pub fn by_name(&self, name: &str) -> Option<&Handset> {
        let n = name.to_ascii_lowercase();
        self.models.iter().find(|m| {
            m.profile.name().to_ascii_lowercase() == n || m.profile.model.to_ascii_lowercase() == n
        })
    }

    /// A handset with `imei`: the catalogue model of its TAC, or [`Handset::generic`].
    pub fn handset_for_imei(&self, imei: Imei) -> Result<Handset, ProfileError> {
        match self.by_tac(imei.tac()) {
            Some(m) => m.with_imei(imei),
            None => Handset::generic(imei),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_catalogue_is_valid() {
        let c = Catalogue::builtin().unwrap();
        assert_eq!(c.models().len(), 15);
        assert_eq!(
            c.by_id("kestrel-k2").unwrap().profile.name(),
            "Kestrel Mobile K2"
        );
        assert_eq!(c.by_id("globex-g3").unwrap().profile.tac, "35876503");
        assert!(c.by_id("kestrel").is_none());
        // Some old models lack the toolkit commands the tracker needs.
        assert!(
            c.models()
                .iter()
                .any(|m| !m.supports(Capability::SEND_SHORT_MESSAGE))
        );
        assert!(c.models().iter().any(|m| m.profile.depreciated));
    }

    #[test]
    fn scenario_library_models_keep_their_terminal_profiles() {
        // The scenario library's traces were recorded with these handsets announcing
        // every capability of `all_capabilities` (Initech Basic: without PLI and SEND SM).
        let c = Catalogue::builtin().unwrap();
        let full = Handset::generic(Imei::from_str("352099010000012").unwrap()).unwrap();
        for id in [
            "acme-a1",
            "acme-a7",
            "acme-classic",
            "globex-g1",
            "globex-g3",
            "grey-import",
        ] {
            let m = c.by_id(id).unwrap();
            assert_eq!(m.terminal_profile, full.terminal_profile, "{id}");
            assert_eq!(m.imeisv.svn(), 1, "{id}");
        }
        let basic = c.by_id("initech-basic").unwrap();
        assert!(!basic.supports(Capability::PROVIDE_LOCAL_INFORMATION));
        assert!(!basic.supports(Capability::SEND_SHORT_MESSAGE));
        assert!(basic.supports(Capability::TIMER_MANAGEMENT_START_STOP));
    }

    #[test]
    fn builtin_matches_directory() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("catalogue");
        let on_disk = Catalogue::load_dir(&dir).unwrap();
        let built = Catalogue::builtin().unwrap();
        let names = |c: &Catalogue| {
            let mut v: Vec<_> = c
                .entries()
                .map(|(id, m)| (id.to_string(), m.profile.clone()))
                .collect();
            v.sort_by(|a, b| a.0.cmp(&b.0));
            v
        };
        assert_eq!(names(&on_disk), names(&built));
    }

    #[test]
    fn terminal_profile_of_worked_exchange() {
        // 02-cat.md §7: 23 01 29 42 11 00 00 07.
        let caps = [
            "profile_download",
            "sms_pp_data_download",
            "timer_expiration",
            "command_result",
            "display_text",
            "more_time",
            "poll_interval",
            "send_short_message",
            "provide_local_information",
            "set_up_event_list",
            "event_location_status",
            "timer_management_start_stop",
            "timer_management_get_current_value",
            "pli_date_time_time_zone",
        ];
        let p = HandsetProfile {
            make: "T".into(),
            model: "1".into(),
            manufacturer: "T".into(),
            tac: "49015420".into(),
            imei: "490154203237518".into(),
            imeisv: "4901542032375101".into(),
            release_year: 2020,
            depreciated: false,
            language: "en".into(),
            capabilities: caps.iter().map(|s| s.to_string()).collect(),
        }
        .validate()
        .unwrap();
        assert_eq!(
            p.terminal_profile.as_bytes(),
            &[0x23, 0x01, 0x29, 0x42, 0x11, 0x00, 0x00, 0x07]
        );
    }

    #[test]
    fn rejects_bad_check_digit_and_mismatches() {
        let base = || HandsetProfile {
            make: "T".into(),
            model: "1".into(),
            manufacturer: "T".into(),
            tac: "49015420".into(),
            imei: "490154203237518".into(),
            imeisv: "4901542032375101".into(),
            release_year: 2020,
            depreciated: false,
            language: "en".into(),
            capabilities: vec![],
        };
        assert!(base().validate().is_ok());
        let mut p = base();
        p.imei = "490154203237519".into();
        assert!(
            p.validate()
                .unwrap_err()
                .to_string()
                .contains("Luhn gives 8")
        );
        let mut p = base();
        p.imei = "490154203237510".into(); // spare 0 is not acceptable in a profile
        assert!(p.validate().is_err());
        let mut p = base();
        p.tac = "49015421".into();
        assert!(p.validate().is_err());
        let mut p = base();
        p.imeisv = "4901542032375201".into();
        assert!(p.validate().is_err());
        let mut p = base();
        p.capabilities = vec!["teleport".into()];
        assert!(p.validate().unwrap_err().to_string().contains("teleport"));
    }

    #[test]
    fn handset_for_any_imei() {
        let c = Catalogue::builtin().unwrap();
        let m = &c.models()[0];
        let other = Imei::with_check_digit(
            applet::wire::imei::TacSnr::from_str(&format!("{}999999", m.imei.tac())).unwrap(),
        );
        let h = c.handset_for_imei(other).unwrap();
        assert_eq!(h.profile.model, m.profile.model);
        assert_eq!(h.imeisv.svn(), m.imeisv.svn());
        let g = c
            .handset_for_imei(Imei::from_str("490154203237518").unwrap())
            .unwrap();
        assert_eq!(g.profile.make, "Generic");
    }
}
