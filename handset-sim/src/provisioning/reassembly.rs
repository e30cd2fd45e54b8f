//! Reassembly of concatenated short messages into one WAP push (3GPP TS 23.040
//! §9.2.3.24.1 / .8; `/work/shared/spec/04-sms.md` §2, `06-oma-cp.md` §1).
//!
//! Pure and deterministic: time is passed in (`now_ms`, virtual milliseconds), nothing
//! is read from a clock. Segments are grouped by (originator, reference, total); inside a
//! group they may arrive in any order, a duplicate of a part already held is ignored, and
//! a group that is not complete `timeout_ms` after its first segment is dropped by
//! [`Reassembler::expire`] with the list of missing parts. Every buffer that held
//! segment data is a [`Zeroizing`] vector, so a push carrying a device key leaves no copy
//! behind when a group completes, expires or is discarded.

use std::collections::BTreeMap;

use applet::wire::sms::udh::{Concatenation, Ports, UserDataHeader};
use zeroize::Zeroizing;

use crate::network::ShortMessage;

/// Default time a partial message is kept after its first segment (2 minutes; TS 23.040
/// sets no value, handsets use tens of seconds to minutes).
pub const DEFAULT_TIMEOUT_MS: u64 = 120_000;
/// Default limit on concurrently open partial messages.
pub const DEFAULT_MAX_PARTIALS: usize = 16;
/// Default limit on the parts of one message (16 × 128 octets ≈ 2 KiB of WSP push).
pub const DEFAULT_MAX_PARTS: u8 = 16;

/// Why a segment (or a partial message) was discarded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReassemblyError {
    /// The user-data header does not parse (TS 23.040 §9.2.3.24).
    #[error("malformed user-data header")]
    BadHeader,
    /// Concatenation IE with total 0, sequence 0 or sequence > total (§9.2.3.24.1).
    #[error("concatenation part {sequence} of {total} is invalid")]
    BadSequence {
        /// Sequence number found.
        sequence: u8,
        /// Total found.
        total: u8,
    },
    /// More parts than this handset accepts.
    #[error("message of {total} parts exceeds the limit of {limit}")]
    TooManyParts {
        /// Total announced.
        total: u8,
        /// Configured limit.
        limit: u8,
    },
    /// A segment's total disagrees with the partial message of the same reference from the
    /// same originator; both are discarded.
    #[error("reference {reference}: segment says {got} parts, partial message has {expected}")]
    InconsistentTotal {
        /// Concatenation reference.
        reference: u16,
        /// Total of the partial message.
        expected: u8,
        /// Total of the new segment.
        got: u8,
    },
    /// Too many partial messages are open; the segment is refused.
    #[error("too many partial messages open ({limit})")]
    TooManyPartials {
        /// Configured limit.
        limit: usize,
    },
}

/// A partial message dropped by [`Reassembler::expire`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expired {
    /// TP-OA of the segments.
    pub originator: String,
    /// Concatenation reference.
    pub reference: u16,
    /// Total parts announced.
    pub total: u8,
    /// Parts that never arrived (1-based, ascending).
    pub missing: Vec<u8>,
    /// Virtual time of the first segment.
    pub first_ms: u64,
}

/// A complete message: the concatenated user data (after the UDH) of all parts.
#[derive(Debug)]
pub struct CompletePush {
    /// TP-OA of the segments.
    pub originator: String,
    /// Application ports of the first part (WAP push: destination 2948).
    pub ports: Option<Ports>,
    /// TP-DCS of the first part.
    pub dcs: u8,
    /// Number of parts (1 for an unsegmented message).
    pub parts: u8,
    /// Virtual time of the first segment.
    pub first_ms: u64,
    /// The reassembled user data; zeroized when dropped.
    pub data: Zeroizing<Vec<u8>>,
}

#[derive(Debug)]
struct Partial {
    total: u8,
    first_ms: u64,
    ports: Option<Ports>,
    dcs: u8,
    /// Index = sequence − 1.
    parts: Vec<Option<Zeroizing<Vec<u8>>>>,
}

impl Partial {
    fn received(&self) -> usize {
        self.parts.iter().filter(|p| p.is_some()).count()
    }
}

/// Counters, for logs and the benchmark.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReassemblyStats {
    /// Messages completed.
    pub completed: u64,
    /// Duplicate segments ignored.
    pub duplicates: u64,
    /// Partial messages dropped by [`Reassembler::expire`].
    pub expired: u64,
    /// Segments or partials discarded with an error.
    pub discarded: u64,
}

/// Reassembles concatenated SMS (8- or 16-bit reference) per (originator, reference).
#[derive(Debug)]
pub struct Reassembler {
    timeout_ms: u64,
    max_partials: usize,
    max_parts: u8,
    partials: BTreeMap<(String, u16), Partial>,
    stats: ReassemblyStats,
}

impl Default for Reassembler {
    fn default() -> Self {
        Self::new(DEFAULT_TIMEOUT_MS)
    }
}

impl Reassembler {
    /// A reassembler that drops partial messages `timeout_ms` after their first segment.
    pub fn new(timeout_ms: u64) -> Self {
        Reassembler {
            timeout_ms,
            max_partials: DEFAULT_MAX_PARTIALS,
            max_parts: DEFAULT_MAX_PARTS,
            partials: BTreeMap::new(),
            stats: ReassemblyStats::default(),
        }
    }

    /// Builder-style: limits on open partials and on parts per message.
    pub fn with_limits(mut self, max_partials: usize, max_parts: u8) -> Self {
        self.max_partials = max_partials;
        self.max_parts = max_parts;
        self
    }

    /// Counters so far.
    pub fn stats(&self) -> ReassemblyStats {
        self.stats
    }

    /// Number of partial messages held.
    pub fn pending(&self) -> usize {
        self.partials.len()
    }

    /// The virtual time at which [`Reassembler::expire`] drops the oldest partial
    /// message held (its first segment's time plus the timeout), if any; a driver on
    /// virtual time wakes the handset then instead of polling.
    pub fn next_expiry(&self) -> Option<u64> {
        self.partials
            .values()
            .map(|p| p.first_ms.saturating_add(self.timeout_ms))
            .min()
    }

    /// Adds one segment at virtual time `now_ms`. Returns the complete message when this
    /// segment completes it (immediately for a message without a concatenation IE),
    /// `Ok(None)` while parts are missing or for a duplicate, and an error when the segment
    /// (and, for [`ReassemblyError::InconsistentTotal`], its partial message) is discarded.
    /// Expired partials are dropped first (see [`Reassembler::expire`]).
    pub fn push(
        &mut self,
        sm: &ShortMessage,
        now_ms: u64,
    ) -> Result<Option<CompletePush>, ReassemblyError> {
        // Expired partials must not absorb a fresh segment with a recycled reference.
        self.expire(now_ms);
        let (concat, ports) = match header_info(sm) {
            Ok(v) => v,
            Err(e) => {
                self.stats.discarded += 1;
                return Err(e);
            }
        };
        let Some(c) = concat else {
            self.stats.completed += 1;
            return Ok(Some(CompletePush {
                originator: sm.source.clone(),
                ports,
                dcs: sm.dcs,
                parts: 1,
                first_ms: now_ms,
                data: Zeroizing::new(sm.user_data.clone()),
            }));
        };
        if c.total == 0 || c.sequence == 0 || c.sequence > c.total {
            self.stats.discarded += 1;
            return Err(ReassemblyError::BadSequence {
                sequence: c.sequence,
                total: c.total,
            });
        }
        if c.total > self.max_parts {
            self.stats.discarded += 1;
            return Err(ReassemblyError::TooManyParts {
                total: c.total,
                limit: self.max_parts,
            });
        }
        let key = (sm.source.clone(), c.reference);
        if let Some(p) = self.partials.get(&key)
            && p.total != c.total
        {
            let expected = p.total;
            self.partials.remove(&key);
            self.stats.discarded += 1;
            return Err(ReassemblyError::InconsistentTotal {
                reference: c.reference,
                expected,
                got: c.total,
            });
        }
        if !self.partials.contains_key(&key) && self.partials.len() >= self.max_partials {
            self.stats.discarded += 1;
            return Err(ReassemblyError::TooManyPartials {
                limit: self.max_partials,
            });
        }
        let partial = self.partials.entry(key.clone()).or_insert_with(|| Partial {
            total: c.total,
            first_ms: now_ms,
            ports: None,
            dcs: sm.dcs,
            parts: (0..c.total).map(|_| None).collect(),
        });
        let Some(slot) = partial.parts.get_mut(usize::from(c.sequence - 1)) else {
            return Ok(None);
        };
        if slot.is_some() {
            self.stats.duplicates += 1;
            return Ok(None);
        }
        *slot = Some(Zeroizing::new(sm.user_data.clone()));
        if c.sequence == 1 || partial.ports.is_none() {
            partial.ports = partial.ports.or(ports);
        }
        if c.sequence == 1 {
            partial.dcs = sm.dcs;
        }
        if partial.received() < usize::from(partial.total) {
            return Ok(None);
        }
        let Some(done) = self.partials.remove(&key) else {
            return Ok(None);
        };
        let len = done.parts.iter().flatten().map(|p| p.len()).sum();
        let mut data = Zeroizing::new(Vec::with_capacity(len));
        for part in done.parts.iter().flatten() {
            data.extend_from_slice(part);
        }
        self.stats.completed += 1;
        Ok(Some(CompletePush {
            originator: key.0,
            ports: done.ports,
            dcs: done.dcs,
            parts: done.total,
            first_ms: done.first_ms,
            data,
        }))
    }

    /// Drops every partial message whose first segment is `timeout_ms` or more old; their
    /// buffers are zeroized. Returns what was dropped, oldest first.
    pub fn expire(&mut self, now_ms: u64) -> Vec<Expired> {
        let timeout = self.timeout_ms;
        let stale: Vec<(String, u16)> = self
            .partials
            .iter()
            .filter(|(_, p)| now_ms.saturating_sub(p.first_ms) >= timeout)
            .map(|(k, _)| k.clone())
            .collect();
        let mut out = Vec::with_capacity(stale.len());
        for key in stale {
            if let Some(p) = self.partials.remove(&key) {
                self.stats.expired += 1;
                out.push(Expired {
                    missing: (1..=p.total)
                        .zip(&p.parts)
                        .filter(|(_, s)| s.is_none())
                        .map(|(i, _)| i)
                        .collect(),
                    originator: key.0,
                    reference: key.1,
                    total: p.total,
                    first_ms: p.first_ms,
                });
            }
        }
        out.sort_by_key(|e| e.first_ms);
        out
    }

    /// True if any held segment contains `needle` (an inspection hook for erasure tests).
    pub fn holds_bytes(&self, needle: &[u8]) -> bool {
        self.partials
            .values()
            .flat_map(|p| p.parts.iter().flatten())
            .any(|d| contains(d, needle))
    }
}

/// True if `needle` occurs in `hay` (an empty needle never does).
pub(crate) fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

fn header_info(
    sm: &ShortMessage,
) -> Result<(Option<Concatenation>, Option<Ports>), ReassemblyError> {
    let Some(udh) = &sm.udh else {
        return Ok((None, None));
    };
    // `ShortMessage::udh` has no UDHL octet; the codec wants it.
    let udhl = u8::try_from(udh.len()).map_err(|_| ReassemblyError::BadHeader)?;
    let mut with_len = Vec::with_capacity(udh.len() + 1);
    with_len.push(udhl);
    with_len.extend_from_slice(udh);
    let h = UserDataHeader::parse(&with_len).map_err(|_| ReassemblyError::BadHeader)?;
    Ok((h.concatenation(), h.ports()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 8-bit concat + 16-bit ports UDH of 06-oma-cp.md §1 (`0B 05 04 0B 84 23 F0 00 03 rr nn ii`
    /// without the UDHL octet).
    fn seg(from: &str, reference: u8, total: u8, seq: u8, data: &[u8]) -> ShortMessage {
        ShortMessage::new(from, "447700900123", 0, 4, data.to_vec()).with_udh([
            0x05, 0x04, 0x0B, 0x84, 0x23, 0xF0, 0x00, 0x03, reference, total, seq,
        ])
    }

    #[test]
    fn out_of_order_and_duplicates() {
        let mut r = Reassembler::new(1000);
        assert!(r.push(&seg("1", 7, 3, 3, b"cc"), 0).unwrap().is_none());
        assert!(r.push(&seg("1", 7, 3, 1, b"aa"), 1).unwrap().is_none());
        assert!(r.push(&seg("1", 7, 3, 1, b"XX"), 2).unwrap().is_none());
        let done = r.push(&seg("1", 7, 3, 2, b"bb"), 3).unwrap().unwrap();
        assert_eq!(&done.data[..], b"aabbcc");
        assert_eq!(done.parts, 3);
        assert_eq!(done.first_ms, 0);
        assert_eq!(done.ports.map(|p| p.destination), Some(2948));
        assert_eq!(r.stats().duplicates, 1);
        assert_eq!(r.pending(), 0);
    }

    #[test]
    fn same_reference_other_originator_is_separate() {
        let mut r = Reassembler::new(1000);
        assert!(r.push(&seg("1", 7, 2, 1, b"a"), 0).unwrap().is_none());
        assert!(r.push(&seg("2", 7, 2, 2, b"z"), 0).unwrap().is_none());
        assert_eq!(r.pending(), 2);
    }

    #[test]
    fn timeout_reports_missing_parts() {
        let mut r = Reassembler::new(1000);
        assert_eq!(r.next_expiry(), None);
        r.push(&seg("1", 7, 3, 2, b"bb"), 10).unwrap();
        r.push(&seg("2", 9, 2, 1, b"cc"), 500).unwrap();
        assert_eq!(r.next_expiry(), Some(1010), "the oldest partial's deadline");
        assert!(r.expire(1009).is_empty());
        let e = r.expire(1010);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].missing, vec![1, 3]);
        assert_eq!(r.next_expiry(), Some(1500));
        assert_eq!(r.expire(1500).len(), 1);
        assert_eq!(r.pending(), 0);
        assert_eq!(r.next_expiry(), None);
        // A late part starts a new partial rather than completing the old one.
        assert!(r.push(&seg("1", 7, 3, 1, b"aa"), 1100).unwrap().is_none());
    }

    #[test]
    fn bad_segments() {
        let mut r = Reassembler::new(1000).with_limits(1, 4);
        assert_eq!(
            r.push(&seg("1", 7, 2, 3, b""), 0).unwrap_err(),
            ReassemblyError::BadSequence {
                sequence: 3,
                total: 2
            }
        );
        assert!(matches!(
            r.push(&seg("1", 7, 5, 1, b""), 0),
            Err(ReassemblyError::TooManyParts { .. })
        ));
        r.push(&seg("1", 7, 2, 1, b"a"), 0).unwrap();
        assert!(matches!(
            r.push(&seg("2", 8, 2, 1, b"a"), 0),
            Err(ReassemblyError::TooManyPartials { limit: 1 })
        ));
        assert!(matches!(
            r.push(&seg("1", 7, 3, 2, b"b"), 0),
            Err(ReassemblyError::InconsistentTotal {
                expected: 2,
                got: 3,
                ..
            })
        ));
        assert_eq!(r.pending(), 0);
        let bad = ShortMessage::new("1", "2", 0, 4, vec![1]).with_udh([0x00, 0x05]);
        assert_eq!(r.push(&bad, 0).unwrap_err(), ReassemblyError::BadHeader);
    }

    #[test]
    fn unsegmented_completes_at_once() {
        let sm = ShortMessage::new("1", "2", 0, 4, b"push".to_vec())
            .with_udh([0x05, 0x04, 0x0B, 0x84, 0x0B, 0x84]);
        let done = Reassembler::default().push(&sm, 5).unwrap().unwrap();
        assert_eq!(&done.data[..], b"push");
        assert_eq!(done.parts, 1);
    }
}
