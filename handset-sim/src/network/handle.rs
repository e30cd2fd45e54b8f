//! A cheap, cloneable handle on one [`Smsc`] shared by the SMPP server and the
//! handset side, plus the clock that feeds it `now`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::Notify;

use super::smsc::Smsc;

/// Milliseconds for the SMSC core: wall-clock time since the clock was made (servers,
/// interoperability tests) or a manually advanced virtual time (scenarios).
#[derive(Debug, Clone)]
pub enum Clock {
    /// Real elapsed time since `start`, plus an offset in ms.
    Wall {
        /// Reference instant.
        start: Instant,
        /// Virtual time at `start`.
        offset_ms: u64,
    },
    /// Virtual time set by the owner.
    Manual(Arc<AtomicU64>),
}

impl Clock {
    /// A wall clock starting at virtual time 0 now.
    pub fn wall() -> Self {
        Clock::Wall {
            start: Instant::now(),
            offset_ms: 0,
        }
    }

    /// A manual clock at `start_ms`.
    pub fn manual(start_ms: u64) -> Self {
        Clock::Manual(Arc::new(AtomicU64::new(start_ms)))
    }

    /// Current time in ms.
    pub fn now_ms(&self) -> u64 {
        match self {
            Clock::Wall { start, offset_ms } => offset_ms
                .saturating_add(u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX)),
            Clock::Manual(t) => t.load(Ordering::SeqCst),
        }
    }

    /// Sets a manual clock; returns `false` (and does nothing) for a wall clock.
    pub fn set_ms(&self, ms: u64) -> bool {
        match self {
            Clock::Manual(t) => {
                t.store(ms, Ordering::SeqCst);
                true
            }
            Clock::Wall { .. } => false,
        }
    }

    /// Advances a manual clock; returns `false` for a wall clock.
    pub fn advance_ms(&self, ms: u64) -> bool {
        match self {
            Clock::Manual(t) => {
                t.fetch_add(ms, Ordering::SeqCst);
                true
            }
            Clock::Wall { .. } => false,
        }
    }
}

#[derive(Debug)]
struct Shared {
    smsc: Mutex<Smsc>,
    clock: Clock,
    changed: Notify,
}

/// Shared access to an [`Smsc`]: lock, call with the clock's `now`, wake the SMPP
/// sessions so they look for new `deliver_sm` work. The lock is never held across an
/// `.await`.
#[derive(Debug, Clone)]
pub struct SmscHandle {
    shared: Arc<Shared>,
}

impl SmscHandle {
    /// Wraps an SMSC with a clock.
    pub fn new(smsc: Smsc, clock: Clock) -> Self {
        SmscHandle {
            shared: Arc::new(Shared {
                smsc: Mutex::new(smsc),
                clock,
                changed: Notify::new(),
            }),
        }
    }

    /// The clock.
    pub fn clock(&self) -> &Clock {
        &self.shared.clock
    }

    /// Current SMSC time in ms.
    pub fn now(&self) -> u64 {
        self.shared.clock.now_ms()
    }

    /// Runs `f` on the SMSC with the current time, then wakes waiting sessions.
    pub fn with<R>(&self, f: impl FnOnce(&mut Smsc, u64) -> R) -> R {
        let now = self.now();
        let r = {
            // A panic while holding the lock cannot leave the SMSC half-updated in a way
            // that matters more than losing it; keep serving.
            let mut smsc = self.shared.smsc.lock().unwrap_or_else(|e| e.into_inner());
            f(&mut smsc, now)
        };
        self.shared.changed.notify_waiters();
        r
    }

    /// Like [`SmscHandle::with`] without waking sessions (read-mostly calls on hot paths).
    pub fn with_quiet<R>(&self, f: impl FnOnce(&mut Smsc, u64) -> R) -> R {
        let now = self.now();
        let mut smsc = self.shared.smsc.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut smsc, now)
    }

    /// Resolves at the next [`SmscHandle::with`].
    pub async fn changed(&self) {
        self.shared.changed.notified().await;
    }
}
