//! One virtual clock for the whole world, and the world's seeded randomness.
//!
//! Every component reads the same millisecond count: the cards through a shared
//! [`CardClock`] (what `Card::process` is given), the terminals through
//! [`handset_sim::terminal::Terminal::advance`], the SMSC through its manual
//! [`handset_sim::network::Clock`] and every `now` argument, the provisioning server
//! through its `now_ms` arguments. Nothing in the world reads a wall clock, so a run is
//! a function of its script and seed.

use handset_sim::network::{Clock, Rng};
use handset_sim::terminal::NetworkTime;
use handset_sim::terminal::uicc::CardClock;

/// Unix time (s) of virtual time 0 by default: 2026-01-01 00:00:00 UTC.
pub const DEFAULT_EPOCH_UNIX_S: i64 = 1_767_225_600;

/// The world's clock: virtual milliseconds since the world was built.
#[derive(Debug, Clone)]
pub struct WorldClock {
    now_ms: u64,
    epoch_unix_s: i64,
    tz_quarters: Option<i8>,
    card: CardClock,
    smsc: Clock,
}

impl WorldClock {
    /// A clock at 0 whose civil time starts at `epoch_unix_s` in zone `tz_quarters`
    /// (quarter hours, as NITZ and CAT carry it).
    pub fn new(epoch_unix_s: i64, tz_quarters: Option<i8>) -> Self {
        WorldClock {
            now_ms: 0,
            epoch_unix_s,
            tz_quarters,
            card: CardClock::manual(),
            smsc: Clock::manual(0),
        }
    }

    /// Virtual time, ms.
    pub fn now_ms(&self) -> u64 {
        self.now_ms
    }

    /// Moves the clock to `t` (never backwards) and every shared handle with it.
    pub fn set(&mut self, t: u64) {
        self.now_ms = self.now_ms.max(t);
        self.card.set(self.now_ms);
        self.smsc.set_ms(self.now_ms);
    }

    /// The handle the simulated cards read.
    pub fn card_clock(&self) -> CardClock {
        self.card.clone()
    }

    /// The handle the SMSC reads.
    pub fn smsc_clock(&self) -> Clock {
        self.smsc.clone()
    }

    /// Unix seconds at virtual time 0.
    pub fn epoch_unix_s(&self) -> i64 {
        self.epoch_unix_s
    }

    /// Time zone in quarter hours.
    pub fn tz_quarters(&self) -> Option<i8> {
        self.tz_quarters
    }

    /// Civil date and time at `t_ms` (what the network gives the handset).
    pub fn civil(&self, t_ms: u64) -> NetworkTime {
        civil(self.epoch_unix_s, self.tz_quarters, t_ms)
    }
}

/// Civil time at `t_ms` of a clock starting at `epoch_unix_s`.
pub fn civil(epoch_unix_s: i64, tz_quarters: Option<i8>, t_ms: u64) -> NetworkTime {
    let secs = epoch_unix_s.saturating_add(i64::try_from(t_ms / 1000).unwrap_or(i64::MAX));
    NetworkTime::from_unix(secs, tz_quarters)
}

/// Derives an independent seeded generator for one purpose (`salt`) from the world
/// seed, so adding a consumer of randomness does not shift another's stream.
pub fn rng_for(seed: u64, salt: &str) -> Rng {
    // FNV-1a over the salt, mixed into the seed; Rng::seeded runs splitmix64 on it.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in salt.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    Rng::seeded(seed ^ h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_follow_the_clock() {
        let mut c = WorldClock::new(DEFAULT_EPOCH_UNIX_S, Some(4));
        let card = c.card_clock();
        let smsc = c.smsc_clock();
        c.set(61_500);
        assert_eq!(card.now_ms(), 61_500);
        assert_eq!(smsc.now_ms(), 61_500);
        c.set(10);
        assert_eq!(c.now_ms(), 61_500, "never backwards");
        let t = c.civil(61_500);
        assert_eq!(
            (t.year, t.month, t.day, t.minute, t.second),
            (2026, 1, 1, 1, 1)
        );
    }

    #[test]
    fn salted_streams_are_stable_and_distinct() {
        let a = rng_for(7, "keys").next_u64();
        assert_eq!(a, rng_for(7, "keys").next_u64());
        assert_ne!(a, rng_for(7, "smsc").next_u64());
        assert_ne!(a, rng_for(8, "keys").next_u64());
    }
}
