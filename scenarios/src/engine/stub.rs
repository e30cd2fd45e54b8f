//! The scenario world's provisioning stub: the real embedded stub
//! ([`crate::world::stub::EmbeddedStub`]: SQLite store in a temporary directory, the
//! manufacturers' key servers over mutual TLS on loopback) with its configuration
//! generated from the scenario's world:
//!
//! * `[policy]` — every operator with its PLMN, relationships, the depreciated list (by
//!   manufacturer id and model name), `max_age_months`, `unknown_tac`;
//! * `[billing]` — operator fees, manufacturer shares;
//! * `[omacp]` — NETWPIN, each operator's APN, an MMSC per manufacturer
//!   (`http://mms.<id>.example/`);
//! * `[[key_sources]]` — per manufacturer: `local` → the delegated signing key in a key
//!   file, `manufacturer` → a key server started in-process
//!   ([`crate::world::stub::manufacturer::start`]) with the process's test PKI, `none`
//!   → no entry (depreciated devices of that make get nothing);
//! * the inventory (every card with its registration key) and the device database (the
//!   world's models with `in_database`), imported into the store.
//!
//! The generated file is kept next to the database as `stub.toml` (the same format as
//! `provisioning-stub serve --config`).

use std::collections::BTreeMap;
use std::sync::Arc;

use provisioning_stub::devices::{Date, DeviceModel, Tac};
use provisioning_stub::inventory::Card;
use provisioning_stub::keys::DeviceKeySigner;
use toml::{Table, Value};
use zeroize::Zeroizing;

use crate::runner::EngineError;
use crate::scenario::format::{self, KeySource};
use crate::world::{self, stub::EmbeddedStub, stub::manufacturer};

/// A manufacturer's signing key: the seed (for a delegated key file) and the signer.
#[derive(Clone)]
pub struct SigningKey {
    /// Ed25519 seed.
    pub seed: Zeroizing<[u8; 32]>,
    /// The signer built from it.
    pub signer: Arc<DeviceKeySigner>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey").finish_non_exhaustive()
    }
}

impl SigningKey {
    /// The manufacturer's key for `seed` (the world's seed): the same every run.
    pub fn seeded(world_seed: u64, manufacturer: &str) -> Self {
        let mut rng = world::clock::rng_for(world_seed, &format!("manufacturer {manufacturer}"));
        let mut seed = Zeroizing::new([0u8; 32]);
        for c in seed.chunks_mut(8) {
            c.copy_from_slice(&rng.next_u64().to_le_bytes());
        }
        let signer = Arc::new(DeviceKeySigner::from_seed(&seed));
        SigningKey { seed, signer }
    }
}

/// The stub's device database for a world: every model with `in_database`, by its TAC,
/// manufacturer id (as the policy and key sources name it), make and model name.
pub fn device_database(w: &format::World) -> Result<Vec<DeviceModel>, EngineError> {
    let mut devices = Vec::new();
    for m in w.models.values().filter(|m| m.in_database) {
        let maker = w
            .manufacturers
            .get(m.manufacturer.get_ref())
            .map_or_else(|| m.manufacturer.get_ref().clone(), |x| x.name.clone());
        devices.push(DeviceModel {
            tac: Tac::parse(m.tac.as_str()).map_err(failed)?,
            manufacturer: m.manufacturer.get_ref().clone(),
            make: maker,
            model: m.name.clone(),
            release_date: Date::new(i32::from(m.released.year), m.released.month, m.released.day),
            camera: Some(true),
            screen: String::new(),
            bands: Vec::new(),
        });
    }
    Ok(devices)
}

fn failed(e: impl std::fmt::Display) -> EngineError {
    EngineError::Failed(format!("embedded stub: {e}"))
}

fn table(entries: impl IntoIterator<Item = (&'static str, Value)>) -> Value {
    Value::Table(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
    )
}

fn s(v: impl Into<String>) -> Value {
    Value::String(v.into())
}

/// The embedded stub for a scenario world (see the module docs): `cards` is the
/// inventory, `devices` the device database, `keys` each manufacturer's signing key,
/// `number` the stub's address, `epoch_unix_s` the civil time of virtual time 0.
pub fn embedded(
    w: &format::World,
    seed: u64,
    cards: &[Card],
    devices: &[DeviceModel],
    keys: &BTreeMap<String, SigningKey>,
    number: &str,
    epoch_unix_s: i64,
) -> Result<EmbeddedStub, EngineError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(failed)?;
    let dir = tempfile::tempdir().map_err(failed)?;
    let clock = manufacturer::VirtualClock::at(u64::try_from(epoch_unix_s).unwrap_or(0));
    let mut config = Table::new();
    config.insert(
        "smsc".into(),
        table([
            // In-process: the world binds the stub to its SMSC without a socket.
            ("address", s("127.0.0.1:1")),
            ("system_id", s("world")),
            ("password", s("world")),
            ("source_addr", s(number)),
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
            format::UnknownTac::Standard => "standard",
            format::UnknownTac::Reject => "reject",
            format::UnknownTac::Depreciated => "depreciated",
        }),
    );
    let mut operators = Vec::new();
    let mut relationships = Vec::new();
    let mut fees = Vec::new();
    let mut apns = Vec::new();
    for (id, o) in &w.operators {
        let p = o.plmn.get_ref();
        operators.push(table([
            ("id", s(id)),
            (
                "plmns",
                Value::Array(vec![s(format!("{}-{}", p.mcc, p.mnc))]),
            ),
        ]));
        for r in &o.relationships {
            relationships.push(table([
                ("operator", s(id)),
                ("manufacturer", s(r.get_ref())),
            ]));
        }
        if let Some(f) = &o.fee {
            fees.push(table([
                ("operator", s(id)),
                ("fee_minor", Value::Integer(f.amount_minor)),
                ("currency", s(&f.currency)),
            ]));
        }
        apns.push(table([("operator", s(id)), ("apn", s(&o.apn))]));
    }
    let depreciated: Vec<Value> = w
        .policy
        .depreciated
        .iter()
        .filter_map(|d| w.models.get(d.get_ref()))
        .map(|m| {
            table([
                ("manufacturer", s(m.manufacturer.get_ref())),
                ("model", s(&m.name)),
            ])
        })
        .collect();
    policy.insert("operators".into(), Value::Array(operators));
    policy.insert("relationships".into(), Value::Array(relationships));
    policy.insert("depreciated_models".into(), Value::Array(depreciated));
    config.insert("policy".into(), Value::Table(policy));
    // Billing, MMSCs, key sources.
    let mut shares = Vec::new();
    let mut mmscs = Vec::new();
    let mut sources = Vec::new();
    let mut pki_written = false;
    for (id, m) in &w.manufacturers {
        if let Some(share) = m.share {
            let share = match share {
                format::Share::BasisPoints(b) => {
                    table([("basis_points", Value::Integer(b.into()))])
                }
                format::Share::FixedMinor(f) => table([("fixed_minor", Value::Integer(f))]),
            };
            shares.push(table([("manufacturer", s(id)), ("share", share)]));
        }
        mmscs.push(table([
            ("manufacturer", s(id)),
            ("mmsc", s(format!("http://mms.{id}.example/"))),
        ]));
        let key = keys
            .get(id)
            .ok_or_else(|| failed(format!("no signing key for manufacturer {id}")))?;
        // File names from the manufacturer's position, not its id (any text).
        let n = sources.len();
        match m.keys {
            KeySource::None => {}
            KeySource::Local => {
                let file = format!("delegated-{n}.key");
                std::fs::write(
                    dir.path().join(&file),
                    Zeroizing::new(hex::encode(&key.seed[..])).as_bytes(),
                )
                .map_err(failed)?;
                sources.push(table([
                    ("kind", s("local")),
                    ("manufacturer", s(id)),
                    ("signing_key_file", s(file)),
                ]));
            }
            KeySource::Manufacturer => {
                if !pki_written {
                    manufacturer::test_pki()
                        .map_err(failed)?
                        .write_client_files(dir.path())
                        .map_err(failed)?;
                    pki_written = true;
                }
                let nonce_seed =
                    world::clock::rng_for(seed, &format!("key server {id}")).next_u64();
                let address = manufacturer::start(&rt, key.signer.clone(), &clock, nonce_seed)
                    .map_err(failed)?;
                let public = format!("manufacturer-{n}.pub");
                std::fs::write(
                    dir.path().join(&public),
                    hex::encode(key.signer.verifying_key().as_bytes()),
                )
                .map_err(failed)?;
                sources.push(table([
                    ("kind", s("manufacturer")),
                    ("manufacturer", s(id)),
                    ("address", s(address)),
                    ("server_name", s("localhost")),
                    ("ca_file", s("ca.pem")),
                    ("client_cert_file", s("client.pem")),
                    ("client_key_file", s("client.key")),
                    ("verifying_key_file", s(public)),
                    ("timeout_ms", Value::Integer(30_000)),
                ]));
            }
        }
    }
    config.insert(
        "billing".into(),
        table([
            ("operators", Value::Array(fees)),
            ("manufacturers", Value::Array(shares)),
        ]),
    );
    config.insert(
        "omacp".into(),
        table([
            ("security", s("NETWPIN")),
            ("name", s("imeitrack")),
            ("default_apn", table([("apn", s("internet"))])),
            (
                "default_mms",
                table([("mmsc", s("http://mms.operator.example/"))]),
            ),
            ("apns", Value::Array(apns)),
            ("mms", Value::Array(mmscs)),
        ]),
    );
    config.insert("key_sources".into(), Value::Array(sources));
    let text = toml::to_string(&config).map_err(failed)?;
    std::fs::write(dir.path().join("stub.toml"), &text).map_err(failed)?;
    let base = dir.path().to_path_buf();
    let stub = EmbeddedStub::with_runtime(rt, dir, &text, &base, cards, devices, epoch_unix_s)
        .map_err(failed)?;
    Ok(stub.with_manufacturer_clock(clock))
}
