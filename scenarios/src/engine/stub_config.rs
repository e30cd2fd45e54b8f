//! `imeitrack stub-config FILE --out DIR`: the files a real `provisioning-stub serve`
//! needs to stand in for a scenario's stub (`docs/scenarios.md`, "External stub").
//!
//! Everything comes from the scenario and its seed exactly as [`super::WorldEngine::new`]
//! derives it for the embedded stub: the card inventory (named cards and fleet
//! members, registration keys from the seed unless the file gives one), the device
//! database (models `in_database`), the depreciation policy, fees and shares, the
//! internet APN per operator, and each manufacturer's Ed25519 signing key (seeded, so
//! the world's handsets verify the keys the real stub issues). A unit test builds the
//! engine's world and compares every card.
//!
//! Written into DIR:
//!
//! | file | what |
//! | --- | --- |
//! | `stub.toml` | `serve`'s configuration (`docs/stub.md`): `[smsc]` bound to the world's SMPP side, `policy_date` = the scenario's date |
//! | `cards.csv`, `devices.csv` | the inventory and device database in the `import-cards` / `import-tac` formats |
//! | `stub.db` | a fresh SQLite store with both imported (unless `--no-import`) |
//! | `keys/ID.signing.key` | the manufacturer's signing seed (64 hex digits), for `keys = "local"` and for `manufacturer-sim serve --signing-key` |
//! | `keys/ID.signing.pub` | its verifying key (the stub checks manufacturer keys with it) |
//! | `pki/ID/` | for `keys = "manufacturer"`: a development CA, the key server's certificate and the operator's client certificate (random, as certificates do not reach the world) |
//! | `README.txt` | the commands to start everything |

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use provisioning_stub::keys::DeviceKeySigner;
use provisioning_stub::manufacturer::pki::Ca;
use toml::{Table, Value};

use super::STUB_NUMBER;
use crate::scenario::format::{self, KeySource, Share, UnknownTac};
use crate::scenario::{Scenario, values};
use crate::world::{self, smpp_bridge};

/// Why the files could not be written.
#[derive(Debug, thiserror::Error)]
pub enum StubConfigError {
    /// A file or directory.
    #[error("{path}: {source}")]
    Io {
        /// Path.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// The scenario asks for something the stub cannot be configured with.
    #[error("{0}")]
    Invalid(String),
    /// The store import.
    #[error("importing into {path}: {message}")]
    Import {
        /// Database.
        path: String,
        /// What failed.
        message: String,
    },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> StubConfigError + '_ {
    move |source| StubConfigError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Options of [`write`].
#[derive(Debug, Clone)]
pub struct StubConfigOptions {
    /// `[smsc] address`: where the world listens (`imeitrack run --stub HOST:PORT`).
    pub smsc: String,
    /// Manufacturer key servers (`keys = "manufacturer"`) listen on 127.0.0.1 from this
    /// port up, in manufacturer-id order …
    pub manufacturer_base_port: u16,
    /// … unless given here (manufacturer id → address).
    pub manufacturer_addrs: BTreeMap<String, SocketAddr>,
    /// Create `stub.db` with the inventory and device database imported.
    pub import: bool,
}

impl Default for StubConfigOptions {
    fn default() -> Self {
        StubConfigOptions {
            smsc: "127.0.0.1:2775".into(),
            manufacturer_base_port: 8443,
            manufacturer_addrs: BTreeMap::new(),
            import: true,
        }
    }
}

/// One manufacturer key server to run next to the stub (`keys = "manufacturer"`).
#[derive(Debug, Clone)]
pub struct ManufacturerServer {
    /// Manufacturer id (as in the scenario).
    pub id: String,
    /// Where the stub expects it.
    pub listen: SocketAddr,
    /// Signing seed file (64 hex digits).
    pub signing_key: PathBuf,
    /// Server certificate (PEM).
    pub cert: PathBuf,
    /// Server key (PEM).
    pub key: PathBuf,
    /// CA of the operator's client certificates (PEM).
    pub client_ca: PathBuf,
}

impl ManufacturerServer {
    /// The `manufacturer-sim serve` command line for it.
    pub fn command(&self) -> String {
        format!(
            "manufacturer-sim serve --listen {} --cert {} --key {} --client-ca {} --signing-key {}",
            self.listen,
            self.cert.display(),
            self.key.display(),
            self.client_ca.display(),
            self.signing_key.display()
        )
    }
}

/// What [`write`] wrote.
#[derive(Debug, Clone)]
pub struct StubFiles {
    /// `stub.toml`.
    pub config: PathBuf,
    /// `stub.db` (created only with [`StubConfigOptions::import`]).
    pub database: PathBuf,
    /// `cards.csv`.
    pub cards_csv: PathBuf,
    /// `devices.csv`.
    pub devices_csv: PathBuf,
    /// Cards in the inventory.
    pub cards: usize,
    /// Models in the device database.
    pub devices: usize,
    /// Key servers to start.
    pub manufacturers: Vec<ManufacturerServer>,
}

/// A manufacturer's Ed25519 signing seed as the engine derives it from the seed.
pub fn manufacturer_seed(seed: u64, id: &str) -> zeroize::Zeroizing<[u8; 32]> {
    let mut rng = world::clock::rng_for(seed, &format!("manufacturer {id}"));
    let mut s = zeroize::Zeroizing::new([0u8; 32]);
    for c in s.chunks_mut(8) {
        c.copy_from_slice(&rng.next_u64().to_le_bytes());
    }
    s
}

/// A manufacturer's signing key as the engine derives it from the seed.
pub fn manufacturer_signer(seed: u64, id: &str) -> DeviceKeySigner {
    DeviceKeySigner::from_seed(&manufacturer_seed(seed, id))
}

/// A card's registration key as the engine derives it from the seed.
pub fn card_key(seed: u64, iccid: &str) -> [u8; 16] {
    let mut rng = world::clock::rng_for(seed, &format!("card key {iccid}"));
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&rng.next_u64().to_le_bytes());
    k[8..].copy_from_slice(&rng.next_u64().to_le_bytes());
    k
}

fn luhn(body: &str) -> char {
    char::from(provisioning_stub::keys::luhn_check_digit(body.as_bytes()))
}

/// One inventory row: ICCID, IMSI, key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventoryCard {
    /// ICCID digits.
    pub iccid: String,
    /// IMSI digits.
    pub imsi: String,
    /// Registration key.
    pub key: [u8; 16],
}

/// Every card of the scenario's world, named cards first, then fleet members, as the
/// engine personalises them.
pub fn inventory(scenario: &Scenario) -> Result<Vec<InventoryCard>, StubConfigError> {
    let w = &scenario.world;
    let mut out = Vec::new();
    for c in w.cards.values() {
        let iccid = c.iccid.get_ref().as_str().to_owned();
        let key = c
            .registration_key
            .as_ref()
            .map_or_else(|| card_key(scenario.seed, &iccid), |k| k.0);
        out.push(InventoryCard {
            imsi: c.imsi.get_ref().as_str().to_owned(),
            iccid,
            key,
        });
    }
    for (fi, (fname, f)) in w.fleets.iter().enumerate() {
        let op = w.operators.get(f.operator.get_ref()).ok_or_else(|| {
            StubConfigError::Invalid(format!(
                "fleet {fname}: no operator {}",
                f.operator.get_ref()
            ))
        })?;
        let prefix = op.plmn.get_ref().digits();
        for i in 0..*f.count.get_ref() {
            let body = format!("8999{fi:02}{i:012}");
            let iccid = format!("{body}{}", luhn(&body));
            let imsi = format!("{prefix}{:0width$}", i, width = 15 - prefix.len());
            out.push(InventoryCard {
                key: card_key(scenario.seed, &iccid),
                iccid,
                imsi,
            });
        }
    }
    Ok(out)
}

/// RFC 4180 field.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) || s.trim() != s {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

fn date(d: &values::Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year, d.month, d.day)
}

/// A file-name-safe form of an id.
fn safe(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn s(v: &str) -> Value {
    Value::String(v.to_owned())
}

fn table(pairs: &[(&str, Value)]) -> Value {
    let mut t = Table::new();
    for (k, v) in pairs {
        t.insert((*k).to_owned(), v.clone());
    }
    Value::Table(t)
}

/// `serve`'s configuration for the scenario (see the module docs); key file paths are
/// relative to DIR.
pub fn config_toml(
    scenario: &Scenario,
    options: &StubConfigOptions,
) -> Result<(String, Vec<ManufacturerServer>), StubConfigError> {
    // Key sources only for the manufacturers whose handsets can appear.
    let w = &scenario.stub_world();
    let mut root = Table::new();
    root.insert("database".into(), s("stub.db"));
    // Port 0: `serve` prints the address it got; two scenarios never collide.
    root.insert("admin_listen".into(), s("127.0.0.1:0"));
    root.insert("shutdown_drain_ms".into(), Value::Integer(2000));
    root.insert("policy_date".into(), s(&date(&scenario.date)));
    root.insert(
        "smsc".into(),
        table(&[
            ("address", s(&options.smsc)),
            ("system_id", s(smpp_bridge::BRIDGE_SYSTEM_ID)),
            ("password", s(smpp_bridge::BRIDGE_PASSWORD)),
            ("source_addr", s(STUB_NUMBER)),
            ("window", Value::Integer(64)),
            ("enquire_link_secs", Value::Integer(30)),
            ("response_timeout_ms", Value::Integer(10_000)),
            // The world listens only while a scenario plays: find it quickly.
            ("reconnect_min_ms", Value::Integer(100)),
            ("reconnect_max_ms", Value::Integer(1000)),
        ]),
    );
    // Policy.
    let mut policy = Table::new();
    if let Some(m) = w.policy.max_age_months {
        policy.insert("max_age_months".into(), Value::Integer(i64::from(m)));
    }
    policy.insert(
        "unknown_tac".into(),
        s(match w.policy.unknown_tac {
            UnknownTac::Standard => "standard",
            UnknownTac::Reject => "reject",
            UnknownTac::Depreciated => "depreciated",
        }),
    );
    let mut operators = Vec::new();
    let mut relationships = Vec::new();
    let mut fees = Vec::new();
    let mut apns = Vec::new();
    for (name, o) in &w.operators {
        let p = o.plmn.get_ref();
        operators.push(table(&[
            ("id", s(name)),
            (
                "plmns",
                Value::Array(vec![s(&format!("{}-{}", p.mcc, p.mnc))]),
            ),
        ]));
        for r in &o.relationships {
            relationships.push(table(&[
                ("operator", s(name)),
                ("manufacturer", s(r.get_ref())),
            ]));
        }
        if let Some(f) = &o.fee {
            fees.push(table(&[
                ("operator", s(name)),
                ("fee_minor", Value::Integer(f.amount_minor)),
                ("currency", s(&f.currency)),
            ]));
        }
        apns.push(table(&[("operator", s(name)), ("apn", s(&o.apn))]));
    }
    let mut depreciated = Vec::new();
    for d in &w.policy.depreciated {
        if let Some(m) = w.models.get(d.get_ref()) {
            depreciated.push(table(&[
                ("manufacturer", s(m.manufacturer.get_ref())),
                ("model", s(&m.name)),
            ]));
        }
    }
    policy.insert("operators".into(), Value::Array(operators));
    policy.insert("relationships".into(), Value::Array(relationships));
    policy.insert("depreciated_models".into(), Value::Array(depreciated));
    root.insert("policy".into(), Value::Table(policy));
    // Billing.
    let mut shares = Vec::new();
    for (id, m) in &w.manufacturers {
        if let Some(sh) = m.share {
            let share = match sh {
                Share::BasisPoints(b) => table(&[("basis_points", Value::Integer(i64::from(b)))]),
                Share::FixedMinor(f) => table(&[("fixed_minor", Value::Integer(f))]),
            };
            shares.push(table(&[("manufacturer", s(id)), ("share", share)]));
        }
    }
    root.insert(
        "billing".into(),
        table(&[
            ("operators", Value::Array(fees)),
            ("manufacturers", Value::Array(shares)),
        ]),
    );
    // OMA CP: the embedded stub's values (engine/stub.rs `provision`).
    let mms: Vec<Value> = w
        .manufacturers
        .keys()
        .map(|id| {
            table(&[
                ("manufacturer", s(id)),
                ("mmsc", s(&format!("http://mms.{id}.example/"))),
            ])
        })
        .collect();
    root.insert(
        "omacp".into(),
        table(&[
            ("security", s("NETWPIN")),
            ("name", s("imeitrack")),
            ("default_apn", table(&[("apn", s("internet"))])),
            (
                "default_mms",
                table(&[("mmsc", s("http://mms.operator.example/"))]),
            ),
            ("apns", Value::Array(apns)),
            ("mms", Value::Array(mms)),
        ]),
    );
    // Key sources.
    let mut sources = Vec::new();
    let mut servers = Vec::new();
    let mut port = options.manufacturer_base_port;
    for (id, m) in &w.manufacturers {
        let f = safe(id);
        match m.keys {
            KeySource::None => {}
            KeySource::Local => sources.push(table(&[
                ("kind", s("local")),
                ("manufacturer", s(id)),
                ("signing_key_file", s(&format!("keys/{f}.signing.key"))),
            ])),
            KeySource::Manufacturer => {
                let listen = match options.manufacturer_addrs.get(id) {
                    Some(a) => *a,
                    None => {
                        let a = SocketAddr::from(([127, 0, 0, 1], port));
                        port = port.checked_add(1).ok_or_else(|| {
                            StubConfigError::Invalid("manufacturer ports run past 65535".into())
                        })?;
                        a
                    }
                };
                sources.push(table(&[
                    ("kind", s("manufacturer")),
                    ("manufacturer", s(id)),
                    ("address", s(&listen.to_string())),
                    ("server_name", s("localhost")),
                    ("ca_file", s(&format!("pki/{f}/ca.pem"))),
                    ("client_cert_file", s(&format!("pki/{f}/operator.pem"))),
                    ("client_key_file", s(&format!("pki/{f}/operator.key"))),
                    ("verifying_key_file", s(&format!("keys/{f}.signing.pub"))),
                    ("timeout_ms", Value::Integer(5000)),
                ]));
                servers.push(ManufacturerServer {
                    id: id.clone(),
                    listen,
                    signing_key: PathBuf::from(format!("keys/{f}.signing.key")),
                    cert: PathBuf::from(format!("pki/{f}/server.pem")),
                    key: PathBuf::from(format!("pki/{f}/server.key")),
                    client_ca: PathBuf::from(format!("pki/{f}/ca.pem")),
                });
            }
        }
    }
    root.insert("key_sources".into(), Value::Array(sources));
    let text = toml::to_string(&root)
        .map_err(|e| StubConfigError::Invalid(format!("rendering stub.toml: {e}")))?;
    let header = format!(
        "# provisioning-stub serve configuration for scenario {} (seed {}),\n# written by `imeitrack stub-config`. Start: provisioning-stub serve --config stub.toml\n\n",
        scenario.name, scenario.seed
    );
    Ok((header + &text, servers))
}

/// `cards.csv` (`import-cards` format).
pub fn cards_csv(cards: &[InventoryCard]) -> String {
    let mut out = String::from("iccid,imsi,msisdn,key\n");
    for c in cards {
        let _ = writeln!(out, "{},{},,{}", c.iccid, c.imsi, hex::encode(c.key));
    }
    out
}

/// `devices.csv` (`import-tac` format): the models in the device database.
pub fn devices_csv(w: &format::World) -> (String, usize) {
    let mut out = String::from("tac,manufacturer,make,model,release_date,camera\n");
    let mut n = 0;
    for m in w.models.values().filter(|m| m.in_database) {
        let id = m.manufacturer.get_ref();
        let make = w.manufacturers.get(id).map_or(id.as_str(), |x| &x.name);
        let _ = writeln!(
            out,
            "{},{},{},{},{},yes",
            m.tac.as_str(),
            csv_field(id),
            csv_field(make),
            csv_field(&m.name),
            date(&m.released)
        );
        n += 1;
    }
    (out, n)
}

fn write_file(path: &Path, text: &str) -> Result<(), StubConfigError> {
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p).map_err(io_err(p))?;
    }
    std::fs::write(path, text).map_err(io_err(path))
}

/// Writes the files of the module docs into `dir` (created if missing).
pub fn write(
    scenario: &Scenario,
    dir: &Path,
    options: &StubConfigOptions,
) -> Result<StubFiles, StubConfigError> {
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    let (config, servers) = config_toml(scenario, options)?;
    let cards = inventory(scenario)?;
    let (devices, n_devices) = devices_csv(&scenario.world);
    let files = StubFiles {
        config: dir.join("stub.toml"),
        database: dir.join("stub.db"),
        cards_csv: dir.join("cards.csv"),
        devices_csv: dir.join("devices.csv"),
        cards: cards.len(),
        devices: n_devices,
        manufacturers: servers
            .into_iter()
            .map(|m| ManufacturerServer {
                signing_key: dir.join(&m.signing_key),
                cert: dir.join(&m.cert),
                key: dir.join(&m.key),
                client_ca: dir.join(&m.client_ca),
                ..m
            })
            .collect(),
    };
    write_file(&files.config, &config)?;
    write_file(&files.cards_csv, &cards_csv(&cards))?;
    write_file(&files.devices_csv, &devices)?;
    for (id, m) in &scenario.world.manufacturers {
        if m.keys == KeySource::None {
            continue;
        }
        let seed = manufacturer_seed(scenario.seed, id);
        let signer = DeviceKeySigner::from_seed(&seed);
        let f = safe(id);
        write_file(
            &dir.join(format!("keys/{f}.signing.key")),
            &zeroize::Zeroizing::new(hex::encode(*seed)),
        )?;
        write_file(
            &dir.join(format!("keys/{f}.signing.pub")),
            &hex::encode(signer.verifying_key().as_bytes()),
        )?;
        if m.keys == KeySource::Manufacturer {
            let pki_err = |e: provisioning_stub::manufacturer::pki::PkiError| {
                StubConfigError::Invalid(format!("PKI for {id}: {e}"))
            };
            let ca =
                Ca::new(&format!("{} key server CA (imeitrack dev)", m.name)).map_err(pki_err)?;
            let server = ca
                .issue_server(&["localhost", "127.0.0.1"])
                .map_err(pki_err)?;
            let operator = ca.issue_client("imeitrack-world").map_err(pki_err)?;
            let p = dir.join(format!("pki/{f}"));
            write_file(&p.join("ca.pem"), ca.cert_pem())?;
            write_file(&p.join("server.pem"), &server.cert_pem)?;
            write_file(&p.join("server.key"), server.key_pem.as_str())?;
            write_file(&p.join("operator.pem"), &operator.cert_pem)?;
            write_file(&p.join("operator.key"), operator.key_pem.as_str())?;
        }
    }
    if options.import {
        import(&files)?;
    }
    write_file(&dir.join("README.txt"), &readme(scenario, &files, options))?;
    Ok(files)
}

/// A fresh `stub.db` with `cards.csv` and `devices.csv` imported through the stub's own
/// CSV readers and store (what `import-cards` / `import-tac` do).
fn import(files: &StubFiles) -> Result<(), StubConfigError> {
    let db = &files.database;
    for ext in ["", "-wal", "-shm"] {
        let p = PathBuf::from(format!("{}{ext}", db.display()));
        if p.exists() {
            std::fs::remove_file(&p).map_err(io_err(&p))?;
        }
    }
    let err = |message: String| StubConfigError::Import {
        path: db.display().to_string(),
        message,
    };
    let cards = provisioning_stub::inventory::read_cards_csv(&files.cards_csv)
        .map_err(|e| err(e.to_string()))?;
    let devices = provisioning_stub::devices::read_devices_csv(&files.devices_csv)
        .map_err(|e| err(e.to_string()))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| err(e.to_string()))?;
    rt.block_on(async {
        use provisioning_stub::store::Store as _;
        let store = provisioning_stub::store::AnyStore::open(&db.display().to_string())
            .await
            .map_err(|e| e.to_string())?;
        store
            .import_cards(&cards)
            .await
            .map_err(|e| e.to_string())?;
        store
            .import_devices(&devices)
            .await
            .map_err(|e| e.to_string())?;
        Ok::<_, String>(())
    })
    .map_err(err)
}

fn readme(scenario: &Scenario, files: &StubFiles, options: &StubConfigOptions) -> String {
    let mut t = format!(
        "External stub for scenario {} ({}), written by `imeitrack stub-config`.\n\n",
        scenario.name, scenario.title
    );
    if !options.import {
        let _ = writeln!(
            t,
            "0. Import the inventory and the device database:\n   provisioning-stub --database {db} import-cards {c}\n   provisioning-stub --database {db} import-tac {d}\n",
            db = files.database.display(),
            c = files.cards_csv.display(),
            d = files.devices_csv.display()
        );
    }
    if !files.manufacturers.is_empty() {
        t.push_str("1. Start the manufacturers' key servers:\n");
        for m in &files.manufacturers {
            let _ = writeln!(t, "   {}", m.command());
        }
        t.push('\n');
    }
    let _ = writeln!(
        t,
        "2. Start the stub (it connects to the world's SMSC at {smsc} and retries until the world listens):\n   provisioning-stub serve --config {cfg}\n\n3. Play the scenario through it:\n   imeitrack run {file} --stub {smsc} --stub-config {cfg}\n\nThe store must be fresh for every run (replay counters): run stub-config again before playing the scenario a second time.",
        smsc = options.smsc,
        cfg = files.config.display(),
        file = scenario.path.display()
    );
    t
}

/// Starts one key server on `rt` with the files [`write`] produced, on an already bound
/// `listener` (the benchmark and tests; users run `manufacturer-sim serve`).
pub fn start_manufacturer(
    rt: &tokio::runtime::Handle,
    m: &ManufacturerServer,
    listener: std::net::TcpListener,
) -> Result<(), StubConfigError> {
    let read = |p: &Path| std::fs::read_to_string(p).map_err(io_err(p));
    let tls = provisioning_stub::manufacturer::tls::server_config(
        &read(&m.cert)?,
        &read(&m.key)?,
        &read(&m.client_ca)?,
    )
    .map_err(|e| StubConfigError::Invalid(format!("{}: {e}", m.id)))?;
    let signer = DeviceKeySigner::from_hex(&read(&m.signing_key)?).ok_or_else(|| {
        StubConfigError::Invalid(format!("{}: bad signing key", m.signing_key.display()))
    })?;
    let config = provisioning_stub::manufacturer::ManufacturerConfig::new(tls, Arc::new(signer));
    listener
        .set_nonblocking(true)
        .map_err(io_err(Path::new("manufacturer listener")))?;
    let _guard = rt.enter();
    let l = tokio::net::TcpListener::from_std(listener)
        .map_err(io_err(Path::new("manufacturer listener")))?;
    rt.spawn(async move {
        let _ = provisioning_stub::manufacturer::run(l, config, std::future::pending()).await;
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::WorldEngine;
    use crate::scenario;

    fn load(name: &str) -> Scenario {
        scenario::load(&scenario::library_dir().join(name)).unwrap()
    }

    /// Story 18 with a fleet of 3, as `scenario-bench` resizes it.
    fn small_fleet() -> Scenario {
        let path = scenario::library_dir().join("18-ten-thousand-swaps-in-an-hour.toml");
        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replace("= 10000", "= 3")
            .replace("= 20000", "= 6");
        scenario::parse(&path, &text).unwrap()
    }

    #[test]
    fn inventory_matches_the_engines_cards() {
        for s in [load("04-swap-depreciated-local-key.toml"), small_fleet()] {
            let engine = WorldEngine::new(&s).unwrap();
            let world = engine.world();
            let inv = inventory(&s).unwrap();
            let names = world.card_names();
            assert_eq!(inv.len(), names.len(), "{}", s.name);
            for name in names {
                let v = world.card_view(&name).unwrap();
                let row = inv.iter().find(|c| c.iccid == v.iccid).unwrap();
                assert_eq!(row.imsi, v.imsi, "{name}");
                assert_eq!(row.key, world.card_key(&name).unwrap(), "{name}");
            }
        }
    }

    #[test]
    fn config_parses_as_the_stubs_own() {
        let dir = tempfile::tempdir().unwrap();
        let s = small_fleet();
        let opts = StubConfigOptions {
            smsc: "127.0.0.1:9".into(),
            ..StubConfigOptions::default()
        };
        let files = write(&s, dir.path(), &opts).unwrap();
        let c = provisioning_stub::config::StubConfig::load(&files.config).unwrap();
        assert_eq!(c.smsc.address, "127.0.0.1:9");
        assert_eq!(c.smsc.source_addr, STUB_NUMBER);
        assert_eq!(
            c.policy_date().unwrap(),
            provisioning_stub::devices::Date::new(2026, 6, 1)
        );
        assert_eq!(c.policy.max_age_months, Some(48));
        assert!(c.policy.operators.iter().any(|o| o.id == "bluesky"));
        // Acme's and Globex's keys come from their key servers (catalogue default);
        // Initech has none.
        let ids: Vec<&str> = files.manufacturers.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids, ["acme", "globex"]);
        let acme = files.manufacturers.iter().find(|m| m.id == "acme").unwrap();
        assert!(acme.cert.exists() && acme.client_ca.exists());
        let seed = std::fs::read_to_string(&acme.signing_key).unwrap();
        let signer = DeviceKeySigner::from_hex(&seed).unwrap();
        assert_eq!(
            signer.verifying_key(),
            manufacturer_signer(s.seed, "acme").verifying_key()
        );
        // Every key source loads the way `serve` loads it.
        for k in &c.key_sources {
            provisioning_stub::pipeline::KeyProvider::from_config(k).unwrap();
        }
        // The store holds the inventory and the device database.
        let conn = rusqlite::Connection::open(&files.database).unwrap();
        let n: i64 = conn
            .query_row("SELECT COUNT(*) FROM cards", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 3);
        let d: i64 = conn
            .query_row("SELECT COUNT(*) FROM devices", [], |r| r.get(0))
            .unwrap();
        assert_eq!(d as usize, files.devices);
        // The grey import is the model the device database does not know.
        let grey: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM devices WHERE tac = '35999999'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        let known = s.world.models.values().filter(|m| m.in_database).count() as i64;
        assert!(known > 6 && known < s.world.models.len() as i64, "{known}");
        assert_eq!((d, grey), (known, 0));
        let readme = std::fs::read_to_string(dir.path().join("README.txt")).unwrap();
        assert!(
            readme.contains("manufacturer-sim serve --listen 127.0.0.1:8443"),
            "{readme}"
        );
    }

    #[test]
    fn csv_fields_are_quoted() {
        assert_eq!(csv_field("A7"), "A7");
        assert_eq!(csv_field("a, b"), "\"a, b\"");
        assert_eq!(csv_field("say \"x\""), "\"say \"\"x\"\"\"");
    }
}
