//! `provisioning-stub serve --config stub.toml`: the configuration file (TOML).
//!
//! Every section and field is described in `docs/stub.md` ("serve: configuration").
//! Relative file names are resolved against the configuration file's directory.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::billing::BillingConfig;
use crate::cp::Security;
use crate::policy::PolicyConfig;
use crate::smpp::EsmeConfig;

/// Errors loading the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// File.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// TOML syntax or a field of the wrong type.
    #[error("{path}: {message}")]
    Parse {
        /// File.
        path: String,
        /// What toml said (with line and column).
        message: String,
    },
    /// A value that parses but cannot be used.
    #[error("{0}")]
    Invalid(String),
}

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StubConfig {
    /// Database URL (as `--database`); the command-line option wins when given.
    #[serde(default)]
    pub database: Option<String>,
    /// Admin HTTP listener (`/metrics`, `/healthz`), e.g. `127.0.0.1:9464`.
    #[serde(default = "default_admin")]
    pub admin_listen: SocketAddr,
    /// How long a graceful shutdown may wait for work in progress, in milliseconds.
    #[serde(default = "default_drain_ms")]
    pub shutdown_drain_ms: u64,
    /// The SMSC link.
    pub smsc: SmscConfig,
    /// Depreciation policy (`docs/stub.md`, "Depreciation policy").
    #[serde(default)]
    pub policy: PolicyConfig,
    /// Fees and shares (`docs/stub.md`, "Money").
    #[serde(default)]
    pub billing: BillingConfig,
    /// OMA CP settings.
    pub omacp: OmaCpConfig,
    /// Key sources per manufacturer.
    #[serde(default)]
    pub key_sources: Vec<KeySourceConfig>,
    /// Key source for depreciated devices whose manufacturer has none (e.g. unknown TAC
    /// under `unknown_tac = "depreciated"`): a local signing key file.
    #[serde(default)]
    pub default_local_key_file: Option<PathBuf>,
    /// Retries of download confirmations owed to manufacturers (`POST /v1/confirmations`).
    #[serde(default)]
    pub manufacturer_confirmations: ConfirmationRetry,
    /// Judge the policy's age rule as of this date (`YYYY-MM-DD`) instead of today
    /// (UTC): for replaying a story written for another day against the real daemon
    /// (`imeitrack stub-config`). Absent in production.
    #[serde(default)]
    pub policy_date: Option<String>,
}

/// `[manufacturer_confirmations]`: how an owed download confirmation is retried. Each
/// run (when the handset confirms, and once at `serve` start for every confirmation still
/// owed) makes at most `max_attempts` attempts, waiting `retry_min_ms`, then twice as long
/// each time, at most `retry_max_ms`; what is still owed afterwards stays in the store for
/// the next start.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfirmationRetry {
    /// Attempts per run (≥ 1).
    #[serde(default = "default_attempts")]
    pub max_attempts: u32,
    /// First back-off, milliseconds.
    #[serde(default = "default_retry_min_ms")]
    pub retry_min_ms: u64,
    /// Longest back-off, milliseconds.
    #[serde(default = "default_retry_max_ms")]
    pub retry_max_ms: u64,
}

impl Default for ConfirmationRetry {
    fn default() -> Self {
        ConfirmationRetry {
            max_attempts: default_attempts(),
            retry_min_ms: default_retry_min_ms(),
            retry_max_ms: default_retry_max_ms(),
        }
    }
}

fn default_attempts() -> u32 {
    8
}

fn default_retry_min_ms() -> u64 {
    1_000
}

fn default_retry_max_ms() -> u64 {
    60_000
}

fn default_admin() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 9464))
}

fn default_drain_ms() -> u64 {
    5_000
}

/// `[smsc]`: SMPP 3.4 bind parameters.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmscConfig {
    /// `host:port`.
    pub address: String,
    /// `system_id`.
    pub system_id: String,
    /// `password`.
    pub password: String,
    /// `system_type`.
    #[serde(default)]
    pub system_type: String,
    /// Our number: `source_addr` of the pushes and where handsets send registrations.
    pub source_addr: String,
    /// Outstanding `submit_sm` window.
    #[serde(default = "default_window")]
    pub window: usize,
    /// `enquire_link` interval, seconds.
    #[serde(default = "default_enquire")]
    pub enquire_link_secs: u64,
    /// Response timeout, milliseconds.
    #[serde(default = "default_response_ms")]
    pub response_timeout_ms: u64,
    /// First reconnect delay, milliseconds (doubles up to `reconnect_max_ms`).
    #[serde(default = "default_reconnect_min")]
    pub reconnect_min_ms: u64,
    /// Reconnect delay cap, milliseconds.
    #[serde(default = "default_reconnect_max")]
    pub reconnect_max_ms: u64,
}

fn default_window() -> usize {
    64
}
fn default_enquire() -> u64 {
    30
}
fn default_response_ms() -> u64 {
    10_000
}
fn default_reconnect_min() -> u64 {
    1_000
}
fn default_reconnect_max() -> u64 {
    60_000
}

impl SmscConfig {
    /// The ESME configuration.
    pub fn esme(&self) -> EsmeConfig {
        let mut c = EsmeConfig::new(&self.address, &self.system_id, &self.password);
        c.system_type = self.system_type.clone();
        c.window = self.window.max(1);
        c.enquire_link_interval = Duration::from_secs(self.enquire_link_secs.max(1));
        c.response_timeout = Duration::from_millis(self.response_timeout_ms.max(1));
        c.reconnect_min = Duration::from_millis(self.reconnect_min_ms.max(1));
        c.reconnect_max = Duration::from_millis(self.reconnect_max_ms.max(self.reconnect_min_ms));
        c
    }
}

/// `[omacp]`: what goes into the provisioning document.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OmaCpConfig {
    /// SEC method: `NETWPIN` (default), `USERPIN` or `USERNETWPIN`.
    #[serde(default = "default_sec")]
    pub security: String,
    /// The PIN for `USERPIN` / `USERNETWPIN` (the user types it on the handset).
    #[serde(default)]
    pub user_pin: Option<String>,
    /// NAME of the access point.
    #[serde(default = "default_name")]
    pub name: String,
    /// APN for IMSIs of operators without an entry in `apns`.
    pub default_apn: ApnEntry,
    /// APN per operator (policy operator id).
    #[serde(default)]
    pub apns: Vec<OperatorApn>,
    /// MMS settings for manufacturers without an entry in `mms`.
    pub default_mms: MmsEntry,
    /// MMS settings (MMSC, proxy) per manufacturer.
    #[serde(default)]
    pub mms: Vec<ManufacturerMms>,
}

fn default_sec() -> String {
    "NETWPIN".into()
}
fn default_name() -> String {
    "MMS".into()
}

/// An APN and its credentials.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ApnEntry {
    /// NAP-ADDRESS.
    pub apn: String,
    /// AUTHNAME.
    #[serde(default)]
    pub username: Option<String>,
    /// AUTHSECRET.
    #[serde(default)]
    pub password: Option<String>,
}

/// `[[omacp.apns]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorApn {
    /// Operator id (as in `[policy]`).
    pub operator: String,
    /// NAP-ADDRESS.
    pub apn: String,
    /// AUTHNAME.
    #[serde(default)]
    pub username: Option<String>,
    /// AUTHSECRET.
    #[serde(default)]
    pub password: Option<String>,
}

/// MMSC and proxy.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MmsEntry {
    /// MMSC URL (APPLICATION w4 ADDR).
    pub mmsc: String,
    /// WAP proxy address (IPv4).
    #[serde(default)]
    pub proxy: Option<String>,
    /// WAP proxy port.
    #[serde(default)]
    pub proxy_port: Option<u16>,
}

/// `[[omacp.mms]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManufacturerMms {
    /// Manufacturer (as in the device database).
    pub manufacturer: String,
    /// MMSC URL.
    pub mmsc: String,
    /// WAP proxy address.
    #[serde(default)]
    pub proxy: Option<String>,
    /// WAP proxy port.
    #[serde(default)]
    pub proxy_port: Option<u16>,
}

impl OmaCpConfig {
    /// The SEC method.
    pub fn security(&self) -> Result<Security, ConfigError> {
        let pin = || {
            self.user_pin.clone().ok_or_else(|| {
                ConfigError::Invalid(format!(
                    "omacp.security = {:?} needs omacp.user_pin",
                    self.security
                ))
            })
        };
        match self.security.to_ascii_uppercase().as_str() {
            "NETWPIN" => Ok(Security::NetwPin),
            "USERPIN" => Ok(Security::UserPin(pin()?)),
            "USERNETWPIN" => Ok(Security::UserNetwPin(pin()?)),
            other => Err(ConfigError::Invalid(format!(
                "omacp.security {other:?}: expected NETWPIN, USERPIN or USERNETWPIN"
            ))),
        }
    }

    /// APN for an operator.
    pub fn apn_for(&self, operator: Option<&str>) -> ApnEntry {
        operator
            .and_then(|op| self.apns.iter().find(|a| a.operator == op))
            .map(|a| ApnEntry {
                apn: a.apn.clone(),
                username: a.username.clone(),
                password: a.password.clone(),
            })
            .unwrap_or_else(|| self.default_apn.clone())
    }

    /// MMS settings for a manufacturer.
    pub fn mms_for(&self, manufacturer: Option<&str>) -> MmsEntry {
        manufacturer
            .and_then(|m| self.mms.iter().find(|x| x.manufacturer == m))
            .map(|m| MmsEntry {
                mmsc: m.mmsc.clone(),
                proxy: m.proxy.clone(),
                proxy_port: m.proxy_port,
            })
            .unwrap_or_else(|| self.default_mms.clone())
    }
}

/// `[[key_sources]]`: where a manufacturer's device keys come from.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum KeySourceConfig {
    /// The operator's local key store (FIG. 2/5A): the manufacturer's delegated
    /// Ed25519 signing key, 64 hex digits in a file.
    Local {
        /// Manufacturer.
        manufacturer: String,
        /// Seed file (as written by `manufacturer-sim pki`, `signing.key`).
        signing_key_file: PathBuf,
    },
    /// The manufacturer's key server over mutual TLS (FIG. 4/5B).
    Manufacturer {
        /// Manufacturer.
        manufacturer: String,
        /// `host:port`.
        address: String,
        /// Name its certificate must carry.
        server_name: String,
        /// The manufacturer CA (PEM).
        ca_file: PathBuf,
        /// Our client certificate chain (PEM).
        client_cert_file: PathBuf,
        /// Our client key (PEM).
        client_key_file: PathBuf,
        /// The manufacturer's device-key verifying key (64 hex digits), to check keys.
        #[serde(default)]
        verifying_key_file: Option<PathBuf>,
        /// Timeout per call, milliseconds.
        #[serde(default = "default_key_timeout")]
        timeout_ms: u64,
    },
}

fn default_key_timeout() -> u64 {
    5_000
}

impl KeySourceConfig {
    /// The manufacturer it serves.
    pub fn manufacturer(&self) -> &str {
        match self {
            KeySourceConfig::Local { manufacturer, .. }
            | KeySourceConfig::Manufacturer { manufacturer, .. } => manufacturer,
        }
    }

    fn resolve(&mut self, base: &Path) {
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        match self {
            KeySourceConfig::Local {
                signing_key_file, ..
            } => fix(signing_key_file),
            KeySourceConfig::Manufacturer {
                ca_file,
                client_cert_file,
                client_key_file,
                verifying_key_file,
                ..
            } => {
                fix(ca_file);
                fix(client_cert_file);
                fix(client_key_file);
                if let Some(v) = verifying_key_file {
                    fix(v);
                }
            }
        }
    }
}

impl StubConfig {
    /// Parses TOML text; relative paths are resolved against `base`.
    pub fn parse(text: &str, path: &str, base: &Path) -> Result<StubConfig, ConfigError> {
        let mut c: StubConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        for k in &mut c.key_sources {
            k.resolve(base);
        }
        if let Some(p) = &mut c.default_local_key_file
            && p.is_relative()
        {
            *p = base.join(&*p);
        }
        if let Some(db) = &c.database {
            // A relative SQLite path is relative to the file too.
            let plain = !db.contains("://") && !db.starts_with("sqlite:");
            if plain && Path::new(db).is_relative() {
                c.database = Some(base.join(db).display().to_string());
            }
        }
        c.omacp.security()?;
        c.policy_date()?;
        let mut seen = std::collections::HashSet::new();
        for k in &c.key_sources {
            if !seen.insert(k.manufacturer().to_owned()) {
                return Err(ConfigError::Invalid(format!(
                    "two key sources for manufacturer {:?}",
                    k.manufacturer()
                )));
            }
        }
        Ok(c)
    }

    /// `policy_date`, parsed: `None` = judge ages as of today.
    pub fn policy_date(&self) -> Result<Option<crate::devices::Date>, ConfigError> {
        self.policy_date
            .as_deref()
            .map(|d| {
                crate::devices::Date::parse(d)
                    .map_err(|e| ConfigError::Invalid(format!("policy_date: {e}")))
            })
            .transpose()
    }

    /// Reads and parses a file.
    pub fn load(path: &Path) -> Result<StubConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.display().to_string(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::parse(&text, &path.display().to_string(), base)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of docs/stub.md ("serve: configuration").
    pub(crate) const EXAMPLE: &str = r#"
database = "stub.db"
admin_listen = "127.0.0.1:9464"

[smsc]
address = "127.0.0.1:2775"
system_id = "imeitrack"
password = "secret"
source_addr = "4242"
window = 64

[policy]
max_age_months = 36
unknown_tac = "standard"
[[policy.operators]]
id = "mvno-fr"
plmns = ["208-01"]
[[policy.relationships]]
operator = "mvno-fr"
manufacturer = "Acme Mobile"
[[policy.depreciated_models]]
manufacturer = "Acme Mobile"
model = "A1"

[billing]
[[billing.operators]]
operator = "mvno-fr"
fee_minor = 199
currency = "EUR"
[[billing.manufacturers]]
manufacturer = "Acme Mobile"
share = { basis_points = 3000 }

[omacp]
security = "NETWPIN"
name = "MVNO MMS"
default_apn = { apn = "internet" }
default_mms = { mmsc = "http://mms.example/" }
[[omacp.apns]]
operator = "mvno-fr"
apn = "mms.mvno.example"
username = "mms"
password = "mms"
[[omacp.mms]]
manufacturer = "Acme Mobile"
mmsc = "http://mmsc.acme.example/"
proxy = "10.1.2.3"
proxy_port = 8080

[[key_sources]]
kind = "local"
manufacturer = "Acme Mobile"
signing_key_file = "keys/acme-signing.key"

[[key_sources]]
kind = "manufacturer"
manufacturer = "Bolt Devices"
address = "keys.bolt.example:8443"
server_name = "keys.bolt.example"
ca_file = "pki/ca.pem"
client_cert_file = "pki/operator.pem"
client_key_file = "pki/operator.key"
verifying_key_file = "pki/signing.pub"
"#;

    #[test]
    fn example_parses() {
        let c = StubConfig::parse(EXAMPLE, "stub.toml", Path::new("/etc/stub")).unwrap();
        assert_eq!(c.database.as_deref(), Some("/etc/stub/stub.db"));
        assert_eq!(c.smsc.esme().window, 64);
        assert_eq!(c.policy.operators[0].id, "mvno-fr");
        assert_eq!(c.billing.operators[0].fee_minor, 199);
        assert_eq!(c.omacp.security().unwrap(), Security::NetwPin);
        assert_eq!(c.omacp.apn_for(Some("mvno-fr")).apn, "mms.mvno.example");
        assert_eq!(c.omacp.apn_for(Some("other")).apn, "internet");
        assert_eq!(c.omacp.mms_for(Some("Acme Mobile")).proxy_port, Some(8080));
        assert_eq!(c.omacp.mms_for(None).mmsc, "http://mms.example/");
        match &c.key_sources[0] {
            KeySourceConfig::Local {
                signing_key_file, ..
            } => assert_eq!(
                signing_key_file,
                Path::new("/etc/stub/keys/acme-signing.key")
            ),
            other => panic!("{other:?}"),
        }
        assert_eq!(c.key_sources[1].manufacturer(), "Bolt Devices");
    }

    #[test]
    fn errors_name_the_problem() {
        let e = StubConfig::parse("[smsc]\naddress = 1\n", "x.toml", Path::new(".")).unwrap_err();
        assert!(e.to_string().starts_with("x.toml: "), "{e}");
        let bad_sec = EXAMPLE.replace("security = \"NETWPIN\"", "security = \"USERPIN\"");
        let e = StubConfig::parse(&bad_sec, "x.toml", Path::new(".")).unwrap_err();
        assert!(e.to_string().contains("user_pin"), "{e}");
        let typo = EXAMPLE.replace("window = 64", "windw = 64");
        assert!(StubConfig::parse(&typo, "x.toml", Path::new(".")).is_err());
        let date = format!("policy_date = \"2026-02-30\"\n{EXAMPLE}");
        let e = StubConfig::parse(&date, "x.toml", Path::new(".")).unwrap_err();
        assert!(e.to_string().contains("policy_date"), "{e}");
    }

    #[test]
    fn policy_date_is_optional() {
        let c = StubConfig::parse(EXAMPLE, "stub.toml", Path::new(".")).unwrap();
        assert_eq!(c.policy_date().unwrap(), None);
        let dated = format!("policy_date = \"2026-06-01\"\n{EXAMPLE}");
        let c = StubConfig::parse(&dated, "stub.toml", Path::new(".")).unwrap();
        assert_eq!(
            c.policy_date().unwrap(),
            crate::devices::Date::new(2026, 6, 1)
        );
    }
}
