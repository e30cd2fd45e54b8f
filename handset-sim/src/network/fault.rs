//! Fault injection and the seeded random source that decides it.
//!
//! Everything random in the simulator draws from one [`Rng`] seeded by the scenario, so
//! a run is reproducible: the same seed, the same inputs and the same virtual times
//! give the same outcomes.

/// RP-Cause value (3GPP TS 24.011 §8.2.5.4, table 8.4). Open newtype: any octet
/// round-trips; the named constants are the values the simulator uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RpCause(pub u8);

impl RpCause {
    /// 1: unassigned (unallocated) number.
    pub const UNASSIGNED_NUMBER: RpCause = RpCause(1);
    /// 8: operator determined barring.
    pub const OPERATOR_DETERMINED_BARRING: RpCause = RpCause(8);
    /// 10: call barred.
    pub const CALL_BARRED: RpCause = RpCause(10);
    /// 21: short message transfer rejected.
    pub const SM_TRANSFER_REJECTED: RpCause = RpCause(21);
    /// 22: memory capacity exceeded (MT: the handset's store is full).
    pub const MEMORY_CAPACITY_EXCEEDED: RpCause = RpCause(22);
    /// 27: destination out of order.
    pub const DESTINATION_OUT_OF_ORDER: RpCause = RpCause(27);
    /// 28: unidentified subscriber.
    pub const UNIDENTIFIED_SUBSCRIBER: RpCause = RpCause(28);
    /// 29: facility rejected.
    pub const FACILITY_REJECTED: RpCause = RpCause(29);
    /// 30: unknown subscriber.
    pub const UNKNOWN_SUBSCRIBER: RpCause = RpCause(30);
    /// 38: network out of order — what the simulator answers while the SMSC is down.
    pub const NETWORK_OUT_OF_ORDER: RpCause = RpCause(38);
    /// 41: temporary failure.
    pub const TEMPORARY_FAILURE: RpCause = RpCause(41);
    /// 42: congestion.
    pub const CONGESTION: RpCause = RpCause(42);
    /// 47: resources unavailable, unspecified.
    pub const RESOURCES_UNAVAILABLE: RpCause = RpCause(47);
    /// 111: protocol error, unspecified.
    pub const PROTOCOL_ERROR: RpCause = RpCause(111);
}

/// A period during which the SMSC is down: `from_ms <= now < until_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DownWindow {
    /// First virtual millisecond of the outage.
    pub from_ms: u64,
    /// First virtual millisecond after the outage.
    pub until_ms: u64,
}

/// Faults applied by the SMSC core.
///
/// * Loss: an MO SMS lost on the radio path gets no RP-ACK (the handset's TR1M
///   expires), reported as [`MoOutcome::NetworkUnable`](super::smsc::MoOutcome); a lost
///   MT attempt leaves the message queued and retried.
/// * Latency: accepted messages become deliverable `latency_ms` after acceptance, in
///   both directions.
/// * Forced RP-ERROR: every MO (or MT) attempt is answered with that cause.
/// * Down windows: MO gets RP-ERROR 38 (network out of order), ESME binds are refused
///   and bound SMPP sessions are dropped; queued messages survive.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Faults {
    /// Probability (0.0..=1.0) that an MO SMS is lost.
    pub mo_loss: f64,
    /// Probability (0.0..=1.0) that an MT delivery attempt is lost.
    pub mt_loss: f64,
    /// Delay between acceptance and onward delivery, in milliseconds.
    pub latency_ms: u64,
    /// Answer every MO SMS with RP-ERROR and this cause.
    pub mo_rp_error: Option<RpCause>,
    /// Fail every MT delivery attempt with RP-ERROR and this cause (final: the message
    /// is dropped and an `UNDELIV` receipt is sent if asked for).
    pub mt_rp_error: Option<RpCause>,
    /// Outage periods of the SMSC.
    pub down: Vec<DownWindow>,
}

impl Faults {
    /// No faults.
    pub fn none() -> Self {
        Self::default()
    }

    /// Whether the SMSC is down at `now`.
    pub fn is_down(&self, now: u64) -> bool {
        self.down
            .iter()
            .any(|w| w.from_ms <= now && now < w.until_ms)
    }
}

/// xorshift64* (Vigna 2016): small, fast, seedable; not cryptographic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// A generator from a seed; the seed is mixed with splitmix64 so that 0 and small
    /// seeds give good, distinct streams.
    pub fn seeded(seed: u64) -> Self {
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        Rng {
            state: if z == 0 { 0x2545_F491_4F6C_DD1D } else { z },
        }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.state = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A uniform value in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// True with probability `p` (no draw when `p <= 0`, so fault-free runs do not
    /// consume randomness).
    pub fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && self.next_f64() < p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rng_is_deterministic_and_spread() {
        let mut a = Rng::seeded(7);
        let mut b = Rng::seeded(7);
        let xs: Vec<u64> = (0..8).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..8).map(|_| b.next_u64()).collect();
        assert_eq!(xs, ys);
        assert_ne!(Rng::seeded(0).next_u64(), Rng::seeded(1).next_u64());
        let mut r = Rng::seeded(42);
        let hits = (0..10_000).filter(|_| r.chance(0.25)).count();
        assert!((2_200..2_800).contains(&hits), "{hits}");
        assert!(!r.chance(0.0));
    }

    #[test]
    fn down_windows() {
        let f = Faults {
            down: vec![DownWindow {
                from_ms: 100,
                until_ms: 200,
            }],
            ..Faults::none()
        };
        assert!(!f.is_down(99));
        assert!(f.is_down(100));
        assert!(f.is_down(199));
        assert!(!f.is_down(200));
    }
}
