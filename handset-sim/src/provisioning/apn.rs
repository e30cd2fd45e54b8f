//! The handset's APN list and the mapping from an OMA CP document to APN settings
//! (OMA ProvCont 1.1 §5.3 NAPDEF / PXLOGICAL / APPLICATION; `06-oma-cp.md` §4;
//! `provisioning-stub/docs/device-key.md` "APN settings digest").
//!
//! An [`ApnEntry`] has no field that could hold a device key: what a provisioning session
//! leaves behind is the settings and the issuance id (`key_id`, public, needed for billing
//! disputes), nothing else.

use applet::wire::omacp::{AttrValue, Characteristic, ProvisioningDoc};
use provisioning_stub::keys::ApnSettings;

use super::reassembly::contains;

/// Default number of APNs a handset keeps.
pub const DEFAULT_CAPACITY: usize = 16;

/// Where an APN came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApnSource {
    /// Built into the handset profile or entered by the user.
    Local,
    /// A standard (keyless) OMA CP push.
    StandardPush,
    /// A provisioning session authorised by the device key with this issuance id.
    DeviceKey {
        /// `key_id` of the device key (docs/device-key.md).
        key_id: u64,
    },
}

/// One APN: NAPDEF identity plus the settings the device key is bound to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApnEntry {
    /// NAPID (OMA ProvCont §5.3.5), the key the document's references use.
    pub napid: String,
    /// NAME (user-visible), if given.
    pub name: Option<String>,
    /// APN, credentials, MMSC, proxy (the fields the device key's digest covers).
    pub settings: ApnSettings,
    /// Origin.
    pub source: ApnSource,
}

/// Why the store refused an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ApnStoreError {
    /// No room for another APN.
    #[error("APN store full ({0} entries)")]
    Full(usize),
}

/// The handset's APN list. An entry with the same NAPID and APN replaces the old one.
#[derive(Debug, Clone)]
pub struct ApnStore {
    entries: Vec<ApnEntry>,
    capacity: usize,
}

impl Default for ApnStore {
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY)
    }
}

impl ApnStore {
    /// An empty store for `capacity` APNs.
    pub fn new(capacity: usize) -> Self {
        ApnStore {
            entries: Vec::new(),
            capacity,
        }
    }

    /// The entries, in insertion order.
    pub fn entries(&self) -> &[ApnEntry] {
        &self.entries
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Checks that `entry` could be inserted (replacement or free slot).
    pub fn can_insert(&self, entry: &ApnEntry) -> Result<(), ApnStoreError> {
        if self.position(entry).is_some() || self.entries.len() < self.capacity {
            Ok(())
        } else {
            Err(ApnStoreError::Full(self.capacity))
        }
    }

    fn position(&self, entry: &ApnEntry) -> Option<usize> {
        self.entries
            .iter()
            .position(|e| e.napid == entry.napid && e.settings.apn == entry.settings.apn)
    }

    /// Inserts or replaces (same NAPID and APN).
    pub fn insert(&mut self, entry: ApnEntry) -> Result<(), ApnStoreError> {
        match self.position(&entry) {
            Some(i) => {
                if let Some(slot) = self.entries.get_mut(i) {
                    *slot = entry;
                }
                Ok(())
            }
            None if self.entries.len() < self.capacity => {
                self.entries.push(entry);
                Ok(())
            }
            None => Err(ApnStoreError::Full(self.capacity)),
        }
    }

    /// The first entry with this APN (compared case-insensitively, TS 23.003 §9.1).
    pub fn find_apn(&self, apn: &str) -> Option<&ApnEntry> {
        self.entries
            .iter()
            .find(|e| e.settings.apn.eq_ignore_ascii_case(apn))
    }

    /// Entries that carry an MMSC URL.
    pub fn mms_routes(&self) -> impl Iterator<Item = &ApnEntry> {
        self.entries.iter().filter(|e| e.settings.mmsc.is_some())
    }

    /// True if any entry's text fields contain `needle` (an inspection hook for erasure
    /// tests; the entry type has no key field to check).
    pub fn holds_bytes(&self, needle: &[u8]) -> bool {
        self.entries.iter().any(|e| {
            let s = &e.settings;
            [
                Some(e.napid.as_str()),
                e.name.as_deref(),
                Some(s.apn.as_str()),
                s.username.as_deref(),
                s.password.as_deref(),
                s.mmsc.as_deref(),
                s.proxy.as_deref(),
            ]
            .into_iter()
            .flatten()
            .any(|t| contains(t.as_bytes(), needle))
        })
    }
}

/// Why a document's settings could not be extracted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    /// The document has no NAPDEF with an APN.
    #[error("no NAPDEF with an APN")]
    NoNapdef,
    /// A document carrying a device key must name exactly one NAPDEF: the one the MMS
    /// APPLICATION points at, or the only one.
    #[error("device key with several NAPDEFs and no MMS application to choose one")]
    AmbiguousNapdef,
    /// A value is not UTF-8 text, uses a WBXML extension, or a port is not a number.
    #[error("parm {0} has no usable text value")]
    BadValue(&'static str),
}

/// Text of an attribute value (any tokenisation), or an error naming the parm.
fn text(v: AttrValue<'_>, parm: &'static str) -> Result<String, SettingsError> {
    if v.has_extension() {
        return Err(SettingsError::BadValue(parm));
    }
    String::from_utf8(v.bytes().collect()).map_err(|_| SettingsError::BadValue(parm))
}

fn opt_text(v: Option<AttrValue<'_>>, parm: &'static str) -> Result<Option<String>, SettingsError> {
    v.map(|v| text(v, parm)).transpose()
}

/// The APN entries of a document: one per NAPDEF with an APN (NAP-ADDRTYPE `APN` or
/// absent), with the settings that belong to it:
///
/// | field | taken from |
/// | --- | --- |
/// | `apn` | NAPDEF `NAP-ADDRESS` |
/// | `username` / `password` | NAPDEF / NAPAUTHINFO `AUTHNAME` / `AUTHSECRET` |
/// | `mmsc` | APPLICATION `APPID=w4` `ADDR` (or APPADDR/`ADDR`) whose `TO-NAPID` is this NAPID, or whose `TO-PROXY` names a PXLOGICAL routed to it |
/// | `proxy` | PXLOGICAL / PXPHYSICAL `PXADDR` whose `TO-NAPID` is this NAPID |
/// | `proxy_port` | `PORTNBR` of that PXPHYSICAL's PORT, else of the PXLOGICAL's PORT |
///
/// Values are taken as text exactly as written (however the encoder tokenised them), as
/// docs/device-key.md requires for the digest.
pub fn entries_from_doc(doc: &ProvisioningDoc<'_>) -> Result<Vec<ApnEntry>, SettingsError> {
    let mut out = Vec::new();
    for nap in doc.napdefs() {
        let (Some(napid), Some(apn)) = (nap.napid, nap.apn()) else {
            continue;
        };
        let napid = text(napid, "NAPID")?;
        let mut s = ApnSettings::new(text(apn, "NAP-ADDRESS")?);
        if let Some(auth) = nap.auth {
            s.username = opt_text(auth.authname, "AUTHNAME")?;
            s.password = opt_text(auth.authsecret, "AUTHSECRET")?;
        }
        let proxy = proxy_for(doc, &napid)?;
        if let Some((_, addr, port)) = &proxy {
            s.proxy = Some(addr.clone());
            s.proxy_port = *port;
        }
        s.mmsc = mmsc_for(doc, &napid, proxy.as_ref().and_then(|p| p.0.as_deref()))?;
        out.push(ApnEntry {
            napid,
            name: opt_text(nap.name, "NAME")?,
            settings: s,
            source: ApnSource::StandardPush,
        });
    }
    if out.is_empty() {
        return Err(SettingsError::NoNapdef);
    }
    Ok(out)
}

/// The one entry a device key is bound to (see [`SettingsError::AmbiguousNapdef`]).
pub fn keyed_entry(doc: &ProvisioningDoc<'_>) -> Result<ApnEntry, SettingsError> {
    let mut entries = entries_from_doc(doc)?;
    if entries.len() == 1 {
        return entries.pop().ok_or(SettingsError::NoNapdef);
    }
    let target = doc
        .mms_application()
        .and_then(|a| a.to_napid)
        .map(|v| text(v, "TO-NAPID"))
        .transpose()?
        .ok_or(SettingsError::AmbiguousNapdef)?;
    let mut matching = entries.into_iter().filter(|e| e.napid == target);
    match (matching.next(), matching.next()) {
        (Some(e), None) => Ok(e),
        _ => Err(SettingsError::AmbiguousNapdef),
    }
}

fn port_of(c: &Characteristic<'_>) -> Result<Option<u16>, SettingsError> {
    let Some(port) = c.child("PORT").and_then(|p| p.value("PORTNBR")) else {
        return Ok(None);
    };
    text(port, "PORTNBR")?
        .parse()
        .map(Some)
        .map_err(|_| SettingsError::BadValue("PORTNBR"))
}

/// (PROXY-ID, PXADDR, port) of the first PXLOGICAL/PXPHYSICAL routed to `napid`.
type Proxy = (Option<String>, String, Option<u16>);

fn proxy_for(doc: &ProvisioningDoc<'_>, napid: &str) -> Result<Option<Proxy>, SettingsError> {
    for pxl in doc.characteristics().filter(|c| c.is("PXLOGICAL")) {
        for pxp in pxl.children().filter(|c| c.is("PXPHYSICAL")) {
            let routed = pxp
                .parms()
                .filter(|p| p.name.eq_bytes(b"TO-NAPID"))
                .any(|p| p.value.is_some_and(|v| v.eq_bytes(napid.as_bytes())));
            if !routed {
                continue;
            }
            let Some(addr) = pxp.value("PXADDR") else {
                continue;
            };
            let port = match port_of(&pxp)? {
                Some(p) => Some(p),
                None => port_of(&pxl)?,
            };
            return Ok(Some((
                opt_text(pxl.value("PROXY-ID"), "PROXY-ID")?,
                text(addr, "PXADDR")?,
                port,
            )));
        }
    }
    Ok(None)
}

fn mmsc_for(
    doc: &ProvisioningDoc<'_>,
    napid: &str,
    proxy_id: Option<&str>,
) -> Result<Option<String>, SettingsError> {
    for app in doc.applications() {
        if !app.appid.is_some_and(|v| v.eq_bytes(b"w4")) {
            continue;
        }
        let c = app.characteristic;
        let to_nap = c
            .parms()
            .filter(|p| p.name.eq_bytes(b"TO-NAPID"))
            .any(|p| p.value.is_some_and(|v| v.eq_bytes(napid.as_bytes())));
        let to_proxy = proxy_id.is_some_and(|id| {
            c.parms()
                .filter(|p| p.name.eq_bytes(b"TO-PROXY"))
                .any(|p| p.value.is_some_and(|v| v.eq_bytes(id.as_bytes())))
        });
        if to_nap || to_proxy {
            return opt_text(app.addr, "ADDR");
        }
    }
    Ok(None)
}
