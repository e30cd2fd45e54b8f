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
