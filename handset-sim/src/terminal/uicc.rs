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

use applet::card::{Card, CardNvm, Fault, MAX_RESPONSE, Personalisation};

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

    /// A clock that follows the wall clock from now on (for `serve-vpcd`).
    pub fn wall() -> Self {
        CardClock {
            ms: Arc::new(AtomicU64::new(0)),
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
            Some(start) => start.elapsed().as_millis() as u64,
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
#[derive(Debug, Clone)]
pub struct SharedCard<C>(pub Arc<std::sync::Mutex<C>>);

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
