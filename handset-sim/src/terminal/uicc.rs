//! The project's simulated card (`applet::card::Card`: file system, PIN, toolkit
//! plumbing and the IMEI-tracking applet) as a [`VirtualCard`], so it can sit in the
//! simulated reader or be served to `pcscd` through vpcd.
//!
//! `Card::process` takes the time (`now_ms`); [`VirtualCard::process`] does not, so the
//! adapter reads a [`CardClock`] that the owner moves (tests and scenarios set it from the
//! terminal's virtual clock; `serve-vpcd` can let it follow the wall clock).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use applet::card::{Card, CardNvm, Fault, MAX_RESPONSE, NVM_LEN, Personalisation};

use crate::card::VirtualCard;

/// A shared millisecond clock for a simulated card.
#[derive(Debug, Clone)]
pub struct CardClock {
    ms: Arc<AtomicU64>,
    wall: Option<Instant>,
}

impl CardClock {
    /// A clock that only moves when [`CardClock::set`] is called (starts at 0).
    pub fn manual() -> Self {
        CardClock {
            ms: Arc::new(AtomicU64::new(0)),
            wall: None,
        }
    }

    /// A clock that follows the wall clock from now on, starting at 0.
    pub fn wall() -> Self {
        CardClock {
            ms: Arc::new(AtomicU64::new(0)),
            wall: Some(Instant::now()),
        }
    }

    /// A manual clock standing at `now_ms` (deterministic: recorded traces replay
    /// identically against another card with the same fixed clock).
    pub fn fixed(now_ms: u64) -> Self {
        let c = Self::manual();
        c.set(now_ms);
        c
    }

    /// A clock that follows the wall clock and reads Unix time in ms, so a card whose
    /// NVM outlives the process (`serve-vpcd --nvm`) sees time go on across restarts
    /// (its registration rate-limit periods are stored as card times).
    pub fn unix() -> Self {
        let since_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        CardClock {
            ms: Arc::new(AtomicU64::new(since_epoch)),
            wall: Some(Instant::now()),
        }
    }

    /// Sets a manual clock (ignored by a wall clock).
    pub fn set(&self, now_ms: u64) {
        self.ms.store(now_ms, Ordering::Relaxed);
    }

    /// Current time, ms.
    pub fn now_ms(&self) -> u64 {
        match self.wall {
            Some(start) => self
                .ms
                .load(Ordering::Relaxed)
                .saturating_add(start.elapsed().as_millis() as u64),
            None => self.ms.load(Ordering::Relaxed),
        }
    }
}

/// [`applet::card::Card`] behind the [`VirtualCard`] interface.
#[derive(Debug, Clone)]
pub struct SimulatedUicc {
    card: Card,
    clock: CardClock,
}

impl SimulatedUicc {
    /// A card personalised from `p` on a blank NVM, with a manual clock.
    pub fn new(p: &Personalisation) -> Result<Self, Fault> {
        Self::with_nvm(p, CardNvm::new(), CardClock::manual())
    }

    /// A card on an existing NVM (kept contents) with the given clock.
    pub fn with_nvm(p: &Personalisation, nvm: CardNvm, clock: CardClock) -> Result<Self, Fault> {
        Ok(SimulatedUicc {
            card: Card::new(p, nvm)?,
            clock,
        })
    }

    /// The card's clock (a handle; clones share the time).
    pub fn clock(&self) -> CardClock {
        self.clock.clone()
    }

    /// The card.
    pub fn card(&self) -> &Card {
        &self.card
    }

    /// The card, mutably (e.g. to schedule a power cut).
    pub fn card_mut(&mut self) -> &mut Card {
        &mut self.card
    }

    /// The card's NVM image as it is now (what [`NvmFile::save`] writes).
    pub fn nvm_image(&self) -> &[u8; NVM_LEN] {
        self.card.store().nvm().image()
    }

    /// NVM write operations so far (changes whenever the card wrote its NVM).
    pub fn nvm_writes(&self) -> u32 {
        self.card.store().nvm().writes()
    }

    /// Whether an NVM transaction is open (the image is between two consistent states).
    pub fn in_transaction(&self) -> bool {
        self.card.store().in_transaction()
    }
}

/// A file holding a card's NVM image, so a served card keeps its state (stored IMEI,
/// registration counter, PIN tries) across runs: `handset-sim serve-vpcd --nvm FILE`.
///
/// The file is the raw image, exactly [`NVM_LEN`] bytes (the card's own layout: file
/// system, then the applet's record, journalled — `applet::card::nvm`). It is replaced
/// atomically (write to `FILE.tmp`, then rename), so a crash leaves the previous image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NvmFile {
    path: std::path::PathBuf,
}

impl NvmFile {
    /// The image file at `path` (it need not exist yet).
    pub fn new(path: impl Into<std::path::PathBuf>) -> Self {
        NvmFile { path: path.into() }
    }

    /// Where the image lives.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// The stored image, or `None` when the file does not exist (a blank card).
    pub fn load(&self) -> Result<Option<CardNvm>, String> {
        let bytes = match std::fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("{}: {e}", self.path.display())),
        };
        let image: [u8; NVM_LEN] = bytes.as_slice().try_into().map_err(|_| {
            format!(
                "{}: {} bytes; an NVM image is exactly {NVM_LEN} bytes",
                self.path.display(),
                bytes.len()
            )
        })?;
        Ok(Some(CardNvm::from_image(image)))
    }

    /// Writes `image` atomically (temporary file, then rename).
    pub fn save(&self, image: &[u8; NVM_LEN]) -> std::io::Result<()> {
        let mut tmp = self.path.clone().into_os_string();
        tmp.push(".tmp");
        let tmp = std::path::PathBuf::from(tmp);
        {
            use std::io::Write as _;
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(image)?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, &self.path)
    }
}

/// A [`SimulatedUicc`] whose NVM is saved to an [`NvmFile`] after every command that
/// wrote it (once the card's transaction is closed, so the file always holds a state
/// the card itself could restart from) and on [`PersistentUicc::save`].
#[derive(Debug)]
pub struct PersistentUicc {
    uicc: SimulatedUicc,
    file: NvmFile,
    saved_writes: Option<u32>,
    error: Option<String>,
}

impl PersistentUicc {
    /// Opens the card: the NVM image from `file` when it exists (its contents win over
    /// `p`, as on a real card), else a blank NVM personalised from `p` (saved at once).
    pub fn open(p: &Personalisation, file: NvmFile, clock: CardClock) -> Result<Self, String> {
        let nvm = file.load()?;
        let fresh = nvm.is_none();
        let uicc = SimulatedUicc::with_nvm(p, nvm.unwrap_or_default(), clock)
            .map_err(|f| format!("{}: card does not start: {f:?}", file.path().display()))?;
        let mut card = PersistentUicc {
            uicc,
            file,
            saved_writes: None,
            error: None,
        };
        if fresh {
            card.save()
                .map_err(|e| format!("{}: {e}", card.file.path().display()))?;
        } else {
            card.saved_writes = Some(card.uicc.nvm_writes());
        }
        Ok(card)
    }

    /// Saves the image now (when it changed since the last save).
    pub fn save(&mut self) -> std::io::Result<()> {
        let writes = self.uicc.nvm_writes();
        if self.saved_writes == Some(writes) {
            return Ok(());
        }
        self.file.save(self.uicc.nvm_image())?;
        self.saved_writes = Some(writes);
        Ok(())
    }

    fn save_if_settled(&mut self) {
        if self.uicc.in_transaction() {
            return;
        }
        if let Err(e) = self.save() {
            let msg = format!("{}: {e}", self.file.path().display());
            tracing::warn!(error = %msg, "saving the card NVM failed");
            self.error.get_or_insert(msg);
        }
    }

    /// The first save error, if any (the card goes on working in memory).
    pub fn save_error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// The card.
    pub fn uicc(&self) -> &SimulatedUicc {
        &self.uicc
    }

    /// The image file.
    pub fn file(&self) -> &NvmFile {
        &self.file
    }
}

impl Drop for PersistentUicc {
    /// Saves the image one last time (a clean shutdown of `serve-vpcd`).
    fn drop(&mut self) {
        if let Err(e) = self.save() {
            tracing::warn!(file = %self.file.path().display(), error = %e, "saving the card NVM failed");
        }
    }
}

impl VirtualCard for PersistentUicc {
    fn atr(&self) -> Vec<u8> {
        self.uicc.atr()
    }
    fn power_on(&mut self) {
        self.uicc.power_on();
        // Power-on recovery may roll a torn transaction back.
        self.save_if_settled();
    }
    fn reset(&mut self) {
        self.uicc.reset();
        self.save_if_settled();
    }
    fn power_off(&mut self) {
        self.uicc.power_off();
        self.save_if_settled();
    }
    fn process(&mut self, apdu: &[u8]) -> Vec<u8> {
        let r = self.uicc.process(apdu);
        self.save_if_settled();
        r
    }
}

impl VirtualCard for SimulatedUicc {
    fn atr(&self) -> Vec<u8> {
        applet::card::ATR.to_vec()
    }
    fn power_on(&mut self) {
        self.card.power_on(true);
    }
    fn reset(&mut self) {
        self.card.power_on(false);
    }
    fn power_off(&mut self) {
        self.card.power_off();
    }
    fn process(&mut self, apdu: &[u8]) -> Vec<u8> {
        let mut out = [0u8; MAX_RESPONSE];
        let n = self.card.process(apdu, self.clock.now_ms(), &mut out);
        match out.get(..n) {
            Some(r) if n >= 2 => r.to_vec(),
            // Card::process writes at least SW1 SW2 into a MAX_RESPONSE buffer; if it
            // ever did not, report a technical problem rather than a short frame.
            _ => vec![0x6F, 0x00],
        }
    }
}

/// A [`VirtualCard`] shared between threads (one card served to vpcd while a test looks
/// at its state, or moved between handsets).
#[derive(Debug)]
pub struct SharedCard<C>(pub Arc<std::sync::Mutex<C>>);

impl<C> Clone for SharedCard<C> {
    /// Another handle on the same card (the card itself need not be `Clone`).
    fn clone(&self) -> Self {
        SharedCard(Arc::clone(&self.0))
    }
}

impl<C> SharedCard<C> {
    /// Wraps `card`.
    pub fn new(card: C) -> Self {
        SharedCard(Arc::new(std::sync::Mutex::new(card)))
    }

    /// Locks the card (a poisoned lock is recovered: the card has no invariants that a
    /// panicking reader thread could break half-way).
    pub fn lock(&self) -> std::sync::MutexGuard<'_, C> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl<C: VirtualCard> VirtualCard for SharedCard<C> {
    fn atr(&self) -> Vec<u8> {
        self.lock().atr()
    }
    fn power_on(&mut self) {
        self.lock().power_on()
    }
    fn reset(&mut self) {
        self.lock().reset()
    }
    fn power_off(&mut self) {
        self.lock().power_off()
    }
    fn process(&mut self, apdu: &[u8]) -> Vec<u8> {
        self.lock().process(apdu)
    }
}

/// A card description file for `handset-sim serve-vpcd --card CARD.toml`: the subscriber
/// identities and the applet's registration settings. Fields not given keep the values
/// of `applet::card::test_personalisation` (PIN1 "1234" enabled, server +447700900123).
///
/// ```toml
/// iccid = "8949001012345678901"
/// imsi = "001010123456789"
/// pin = "1234"                 # omit to keep the default; "" disables PIN1
/// server = "+447700900123"     # TP-DA of the registration SMS
/// key = "00112233445566778899AABBCCDDEEFF"
/// key_version = 1
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CardFile {
    /// ICCID digits (19 or 20).
    pub iccid: Option<String>,
    /// IMSI digits (up to 15).
    pub imsi: Option<String>,
    /// PIN1 (4..=8 digits); empty string = PIN1 disabled.
    pub pin: Option<String>,
    /// Registration server number (international with `+`).
    pub server: Option<String>,
    /// AES-128 registration key, 32 hex digits.
    pub key: Option<String>,
    /// Key version (1..=15) for the key identifier byte.
    pub key_version: Option<u8>,
}

impl CardFile {
    /// Reads a card file.
    pub fn load(path: &std::path::Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The card personalisation this file describes.
    pub fn personalisation(&self) -> Result<Personalisation, String> {
        use applet::wire::bcd::{DigitSet, Digits, EfIccid, EfImsi};
        let mut p = applet::card::test_personalisation();
        if let Some(s) = &self.iccid {
            let iccid = Digits::<20>::parse_str(s, DigitSet::Decimal)
                .map_err(|e| format!("iccid {s:?}: {e}"))?;
            EfIccid { iccid }
                .emit(&mut p.files.iccid)
                .map_err(|e| format!("iccid {s:?}: {e}"))?;
        }
        if let Some(s) = &self.imsi {
            let imsi = Digits::<15>::parse_str(s, DigitSet::Decimal)
                .map_err(|e| format!("imsi {s:?}: {e}"))?;
            EfImsi { imsi }
                .emit(&mut p.files.imsi)
                .map_err(|e| format!("imsi {s:?}: {e}"))?;
        }
        if let Some(pin) = &self.pin {
            if pin.is_empty() {
                p.files.pin1_enabled = false;
            } else {
                let b = pin.as_bytes();
                if !(4..=8).contains(&b.len()) || !b.iter().all(u8::is_ascii_digit) {
                    return Err(format!("pin {pin:?}: 4 to 8 digits"));
                }
                p.files.pin1 = [0xFF; 8];
                p.files.pin1[..b.len()].copy_from_slice(b);
                p.files.pin1_enabled = true;
            }
        }
        if let Some(s) = &self.server {
            p.applet.server =
                applet::wire::sms::Address::number(s).map_err(|e| format!("server {s:?}: {e}"))?;
        }
        if let Some(k) = &self.key {
            let bytes = hex::decode(k).map_err(|e| format!("key: {e}"))?;
            p.applet.key = bytes
                .try_into()
                .map_err(|_| "key: 16 bytes (32 hex digits) expected".to_string())?;
        }
        if let Some(v) = self.key_version {
            p.applet.key_id = applet::wire::registration::KeyId::aes_cmac(v)
                .ok_or_else(|| format!("key_version {v}: 1..=15"))?;
        }
        Ok(p)
    }
}
